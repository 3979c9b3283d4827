/*
 * telegram_config: the [telegram] section of the configuration, declared
 * by the Telegram adapter itself (config/ reads it through the table this
 * module registers: adapter_ops.config).
 */
#ifndef ENSEMBLE_TELEGRAM_CONFIG_H
#define ENSEMBLE_TELEGRAM_CONFIG_H

struct config;

/* The values of [telegram], owned by the configuration (config_values). */
struct telegram_config {
	char *token;           /* secret; also ENSEMBLE_TELEGRAM_TOKEN */
	char *api_url;         /* the Bot API's base URL */
	int poll_timeout;      /* getUpdates' long-poll wait, seconds */
	int chat_interval_ms;  /* at most one message per chat per this (live) */
	int global_per_second; /* at most this many messages a second (live) */
	int group_per_minute;  /* at most this many messages a minute in a group (live) */
	int admin_cache_s;     /* getChatAdministrators kept this long; 300 (live) */
	int admin_recheck_s;   /* ... or this long for a command from someone
	                          not on the list; 60 (live) */
	int native_polls;      /* 1: date polls as Telegram polls; 0: text only */
	char *mode;            /* "polling" or "webhook" */
	char *webhook_url;     /* the public https URL Telegram posts to */
	char *webhook_path;    /* the listener's path for it; "/telegram" */
};

/* The table of [telegram]'s keys. */
extern const struct config_section telegram_config_section;

/* cfg's [telegram] values, borrowed from cfg; NULL when the section was
 * not registered before config_init(cfg). */
const struct telegram_config *telegram_config(const struct config *cfg);

#endif
