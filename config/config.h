/*
 * config: the INI configuration file (parsed with inih), environment
 * variables for secrets, and command-line overrides, in that order of
 * increasing precedence.
 *
 * A configuration is made of sections, each described by a table of keys
 * (struct config_section): name, type, default, secrecy, whether it may
 * change live, and a check.  config/ describes and stores [general] and
 * [http] itself, in struct config.  Every other section belongs to the one
 * who knows its keys (a platform adapter: [telegram] in
 * adapters/telegram_config.c), who registers it at start-up with
 * config_add_section(); config/ never includes the layers above it.  The
 * values of a registered section live in a struct of its owner's
 * (struct telegram_config), which config_init() allocates and fills
 * through the table's offsets, and which config_values() finds by the
 * section's name.  config/ensemble.conf.example documents every key (a
 * test checks it).
 */
#ifndef ENSEMBLE_CONFIG_H
#define ENSEMBLE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"

/* The most sections a configuration has: [general], [http] and the
 * registered ones. */
#define CONFIG_MAX_SECTIONS 16

struct config {
	/* [general] */
	char *db_path;   /* SQLite file; "ensemble.db" */
	char *lang;      /* default language of new chats; "fr" */
	char *timezone;  /* default IANA zone of new chats; "Europe/Paris" */
	char *log_level; /* error|warn|info|debug; "info" */
	char *remind;    /* reminder times of new chats, as /remind
	                    takes them; "1d 1h"; "off" for none */
	char *bot_name;  /* the name /cmd@NAME must carry; "Ensemble" */
	/* [http] */
	char *http_listen;        /* "ADDR:PORT" or "[IPV6]:PORT" of the HTTP listener; "" = off */
	int http_max_body;        /* bytes; 1048576 */
	char *http_tls_cert;      /* PEM certificate for TLS on the listener; "" */
	char *http_tls_key;       /* its private key */
	char *http_metrics;       /* "on": serve GET /metrics; "off" */
	char *http_metrics_allow; /* who may read /metrics: addresses and
	                             prefixes; "127.0.0.0/8 ::1" */
	/* [web] */
	char *web_public_url; /* the address people reach the listener at, as
	                         http(s)://HOST[/PATH], no query; "" = off */
	char *web_show_names; /* "yes": the web page shows display names;
	                         "no": their initials */

	/* The registered sections' values, in the order of registration, as
	 * config_init() found them: values[i] is the owner's struct for the
	 * i-th section, owned by the configuration (config_release frees it). */
	void *values[CONFIG_MAX_SECTIONS];
	size_t nvalues;

	char *path;           /* the file it was read from, or NULL */
	bool file_has_secret; /* a secret was set in the file itself */
};

/* Checks one string value.  Returns 0, or -1 with msg completing the
 * sentence "section.key " ("must be ..., not 'x'"). */
typedef int config_check_fn(const char *value, char *msg, size_t msglen);

/* The checks any section may name in its table. */
int config_check_nonempty(const char *value, char *msg, size_t msglen); /* not "" */
int config_check_word(const char *value, char *msg, size_t msglen);     /* no ':', '@', blank */
int config_check_url(const char *value, char *msg, size_t msglen);      /* http:// or https:// */
int config_check_url_opt(const char *value, char *msg, size_t msglen);  /* the same, or "" */

enum config_type {
	CONFIG_STR, /* a char * the configuration owns */
	CONFIG_INT, /* an int from min to max (a boolean: 0 to 1) */
};

/* One key of a section, filled with designated initialisers. */
struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;          /* of its field in the section's struct */
	const char *def;        /* the default, valid by construction */
	const char *env;        /* an environment variable that may set it, or NULL */
	bool secret;            /* never logged; a file holding it must be 0600 */
	long min, max;          /* CONFIG_INT: the range */
	config_check_fn *check; /* CONFIG_STR: refuses a bad value; may be NULL */
	bool live;              /* may change while the bot runs (SIGHUP): the
	                           code reads it where it uses it, each time */
};

/* A section of the file: its name, its keys, and the struct their values
 * fill.  A registered section is a static table of its owner's, borrowed
 * for good. */
struct config_section {
	const char *name;
	size_t size; /* of the struct the keys' offsets point into */
	const struct config_key *keys;
	size_t nkeys;
	/* Optional: checks across keys, once every key is read (a mode that
	 * needs another key).  values is the section's struct, cfg the whole
	 * configuration.  Appends each problem to errors as a line naming
	 * section.key; returns 0, or -1 when there was one. */
	int (*validate)(const void *values, const struct config *cfg, struct strbuf *errors);
};

/* Registers a section for every configuration initialised from now on:
 * its keys are read, set, checked, updated and documented as [general]'s
 * are.  Registering the same section again does nothing.  Called at
 * start-up, before the first config_init(), by whoever knows the section
 * (the daemon registers the adapters': adapter_config_register).  Returns
 * 0, or -1 when the name is taken by another section or there are too
 * many. */
int config_add_section(const struct config_section *section);

/* The values of the registered section called name in cfg: the owner's
 * struct, owned by cfg and valid until config_release(cfg); a live key's
 * field changes in place at config_update().  NULL when no such section
 * was registered before config_init(cfg). */
const void *config_values(const struct config *cfg, const char *name);

/* Calls fn with the value of each secret key that is set (not ""), for
 * the log's masking (log_add_secret). */
void config_each_secret(const struct config *cfg, void (*fn)(const char *value));

/* The checks that only the core can make: whether a language has a
 * catalogue, whether reminder times read.  config/ lies below the core and
 * cannot call it, so whoever reads a configuration lends them first (the
 * daemon at start: bot_config_checks).  Until then such a value is taken
 * as it is. */
struct config_checks {
	config_check_fn *lang;   /* general.lang */
	config_check_fn *remind; /* general.remind */
};

/* Sets the core's checks for every configuration read from now on.
 * checks is borrowed for good (a static table); NULL removes them. */
void config_set_checks(const struct config_checks *checks);

/* Sets every key of [general], [http] and each registered section to its
 * default, allocating the sections' structs.  Returns 0, or -1 out of
 * memory.  Release with config_release(). */
int config_init(struct config *cfg);
void config_release(struct config *cfg);

/* Reads path over the current values, then the environment's secrets.
 * Each problem is appended to errors as "FILE:LINE: message\n", the message
 * naming the key as section.key, and the function returns -1 if there was
 * any; 0 otherwise.  A file holding a secret that others (not owner, not
 * group) may read is refused with the chmod to run.  What is worth a look without being
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
int config_update(struct config *cfg, const struct config *next, struct strbuf *applied, struct strbuf *restart);

/* Checks across keys, once every value is set: [http]'s, then each
 * registered section's validate().  Appends each problem to errors;
 * returns 0 or -1. */
int config_validate(const struct config *cfg, struct strbuf *errors);

/* The i-th key of all sections (registered ones included), for the
 * documentation test; its section's name in *section.  NULL past the end. */
const char *config_key_name(int i, const char **section);

#endif
