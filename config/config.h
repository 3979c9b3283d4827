/*
 * config: the INI configuration file (parsed with inih), environment
 * variables for secrets, and command-line overrides, in that order of
 * increasing precedence.  Every key is one row of a table in config.c, which
 * gives its section, name, type, default and whether it is a secret;
 * config/ensemble.conf.example documents the same keys (a test checks it).
 */
#ifndef ENSEMBLE_CONFIG_H
#define ENSEMBLE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"

struct config {
	/* [general] */
	char *db_path;          /* SQLite file; "ensemble.db" */
	char *lang;             /* default language of new chats; "fr" */
	char *timezone;         /* default IANA zone of new chats; "Europe/Paris" */
	char *log_level;        /* error|warn|info|debug; "info" */
	char *remind;           /* reminder times of new chats, as /remind
	                           takes them; "1d 1h"; "off" for none */
	char *bot_name;         /* the name /cmd@NAME must carry; "Ensemble" */
	/* [console] */
	char *console_chat;     /* the chat of "USER: TEXT" lines; "console" */
	int console_marks;      /* 1: "#done N" after each input line; 0 */
	/* [http] */
	char *http_listen;      /* "ADDR:PORT" or "[IPV6]:PORT" of the HTTP listener; "" = off */
	int http_max_body;      /* bytes; 1048576 */
	char *http_tls_cert;    /* PEM certificate for TLS on the listener; "" */
	char *http_tls_key;     /* its private key */
	/* [telegram] */
	char *telegram_token;   /* secret; also ENSEMBLE_TELEGRAM_TOKEN */
	char *telegram_api_url; /* the Bot API's base URL */
	int telegram_poll_timeout; /* getUpdates' long-poll wait, seconds */
	int telegram_chat_interval_ms; /* at most one message per chat per this */
	int telegram_global_per_second; /* at most this many messages a second */
	int telegram_group_per_minute; /* at most this many messages a minute in a group */
	int telegram_admin_cache_s; /* getChatAdministrators kept this long; 300 */
	int telegram_admin_recheck_s; /* ... or this long for a command from
	                                 someone not on the list; 60 */
	int telegram_native_polls; /* 1: date polls as Telegram polls; 0: text only */
	char *telegram_mode;    /* "polling" or "webhook" */
	char *telegram_webhook_url; /* the public https URL Telegram posts to */
	char *telegram_webhook_path; /* the listener's path for it; "/telegram" */
	/* [matrix] */
	char *matrix_homeserver; /* base URL; "" = no Matrix */
	char *matrix_user;      /* the bot's full id, @name:server */
	char *matrix_password;  /* secret; also ENSEMBLE_MATRIX_PASSWORD */
	char *matrix_access_token; /* secret; also ENSEMBLE_MATRIX_ACCESS_TOKEN */
	int matrix_admin_level; /* power level that makes an admin; 50 */
	char *matrix_invite_from; /* comma-separated @user:server or :server
	                             whose invites are accepted; "" = all */
	int matrix_sync_timeout; /* /sync's long-poll wait, seconds; 30 */
	int matrix_room_interval_ms; /* at least this between sends to a room */

	char *path;             /* the file it was read from, or NULL */
	bool file_has_secret;   /* a secret was set in the file itself */
};

/* Checks one string value.  Returns 0, or -1 with msg completing the
 * sentence "section.key " ("must be ..., not 'x'"). */
typedef int config_check_fn(const char *value, char *msg, size_t msglen);

/* The checks that only the core can make: whether a language has a
 * catalogue, whether reminder times read.  config/ lies below the core and
 * cannot call it, so whoever reads a configuration lends them first (the
 * daemon at start: bot_config_checks).  Until then such a value is taken
 * as it is. */
struct config_checks {
	config_check_fn *lang;      /* general.lang */
	config_check_fn *remind;    /* general.remind */
};

/* Sets the core's checks for every configuration read from now on.
 * checks is borrowed for good (a static table); NULL removes them. */
void config_set_checks(const struct config_checks *checks);

/* Sets every key to its default.  Release with config_release(). */
int config_init(struct config *cfg);
void config_release(struct config *cfg);

/* Reads path over the current values, then the environment's secrets.
 * Each problem is appended to errors as "FILE:LINE: message\n", the message
 * naming the key as section.key, and the function returns -1 if there was
 * any; 0 otherwise.  A file holding a secret that group or others may read
 * is refused with the chmod to run.  What is worth a look without being
 * wrong (a key given twice: the last one counts) is appended to warnings,
 * when not NULL, as "FILE:LINE: warning: message\n". */
int config_load(struct config *cfg, const char *path, struct strbuf *errors, struct strbuf *warnings);

/* Reads the environment's secrets only (when no file is given). */
int config_load_env(struct config *cfg);

/* Sets "section.key" (or "key" of [general]) to value, as a command-line
 * flag does.  Returns 0, or -1 with a message in errors. */
int config_set(struct config *cfg, const char *dotted, const char *value, struct strbuf *errors);

/* Brings the running cfg to next, as far as it can while running (SIGHUP).
 * Each key that may change live (log level, rate limits, administrators)
 * and differs is copied into cfg and appended to applied as
 * "section.key = value\n"; each other key that differs keeps its running
 * value and is appended to restart as "section.key\n" (no secret's value is
 * ever written).  next is only read; the caller keeps it.  Returns 0, or -1
 * out of memory (cfg may then hold some of the new values). */
int config_update(struct config *cfg, const struct config *next, struct strbuf *applied,
                  struct strbuf *restart);

/* Checks values that depend on the running system (zone files, catalogue
 * languages).  Appends each problem to errors; returns 0 or -1. */
int config_validate(const struct config *cfg, struct strbuf *errors);

/* Iteration over the key table, for the documentation test. */
const char *config_key_name(int i, const char **section);

#endif
