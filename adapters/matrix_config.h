/*
 * matrix_config: the [matrix] section of the configuration, declared by
 * the Matrix adapter itself (config/ reads it through the table this module
 * registers: adapter_ops.config).
 */
#ifndef ENSEMBLE_MATRIX_CONFIG_H
#define ENSEMBLE_MATRIX_CONFIG_H

struct config;

/* The values of [matrix], owned by the configuration (config_values). */
struct matrix_config {
	char *homeserver;     /* base URL; "" = no Matrix */
	char *user;           /* the bot's full id, @name:server */
	char *password;       /* secret; also ENSEMBLE_MATRIX_PASSWORD */
	char *access_token;   /* secret; also ENSEMBLE_MATRIX_ACCESS_TOKEN */
	int admin_level;      /* power level that makes an admin; 50 (live) */
	char *invite_from;    /* comma-separated @user:server or :server
	                         whose invites are accepted; "" = all (live) */
	int sync_timeout;     /* /sync's long-poll wait, seconds; 30 */
	int room_interval_ms; /* at least this between sends to a room (live) */
};

/* The table of [matrix]'s keys. */
extern const struct config_section matrix_config_section;

/* cfg's [matrix] values, borrowed from cfg; NULL when the section was not
 * registered before config_init(cfg). */
const struct matrix_config *matrix_config(const struct config *cfg);

#endif
