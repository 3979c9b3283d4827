#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/tz.h"

enum config_type { CONFIG_STR, CONFIG_INT };

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	const char *def;
	const char *env;      /* environment variable that may set it */
	bool secret;
	long min, max;        /* CONFIG_INT bounds */
	/* Checks a string value; returns 0, or -1 with a message. */
	int (*check)(const char *value, char *msg, size_t msglen);
	/* Read where it is used, each time: a new value may take effect while
	 * the bot runs (config_update). */
	bool live;
};

static int config__check_level(const char *v, char *msg, size_t msglen)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	for(size_t i = 0; i < 4; i++)
		if(!strcmp(v, levels[i]))
			return 0;
	snprintf(msg, msglen, "must be error, warn, info or debug, not '%s'", v);
	return -1;
}

/* The core's checks (config_set_checks); borrowed, NULL until set. */
static const struct config_checks *config__checks;

void config_set_checks(const struct config_checks *checks)
{
	config__checks = checks;
}

static int config__check_lang(const char *v, char *msg, size_t msglen)
{
	return config__checks && config__checks->lang ? config__checks->lang(v, msg, msglen) : 0;
}

static int config__check_tz(const char *v, char *msg, size_t msglen)
{
	if(tz_valid(v))
		return 0;
	snprintf(msg, msglen, "must be a zone of the system's zoneinfo (e.g. Europe/Paris), not '%s'", v);
	return -1;
}

static int config__check_remind(const char *v, char *msg, size_t msglen)
{
	return config__checks && config__checks->remind ? config__checks->remind(v, msg, msglen) : 0;
}

static int config__check_word(const char *v, char *msg, size_t msglen)
{
	if(*v && !strpbrk(v, ": \t@"))
		return 0;
	snprintf(msg, msglen, "must be one word without ':', '@' or spaces, not '%s'", v);
	return -1;
}

static int config__check_nonempty(const char *v, char *msg, size_t msglen)
{
	if(*v)
		return 0;
	snprintf(msg, msglen, "must not be empty");
	return -1;
}

static int config__check_url(const char *v, char *msg, size_t msglen)
{
	if(!strncmp(v, "https://", 8) || !strncmp(v, "http://", 7))
		return 0;
	snprintf(msg, msglen, "must start with https:// or http://, not '%s'", v);
	return -1;
}

/* ADDRESS:PORT, the address numeric: an IPv4 address, or an IPv6 one in
 * brackets ("[::1]:8080"), which the listener binds exactly. */
static int config__check_listen(const char *v, char *msg, size_t msglen)
{
	if(!*v)
		return 0;
	const char *colon = strrchr(v, ':');
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	if(!colon || !end || end == colon + 1 || *end || port < 0 || port > 65535)
		goto bad;
	char host[64];
	unsigned char addr[sizeof(struct in6_addr)];
	size_t n = (size_t)(colon - v);
	if(n >= 2 && v[0] == '[' && v[n - 1] == ']' && n - 2 < sizeof(host)) {
		snprintf(host, sizeof(host), "%.*s", (int)(n - 2), v + 1);
		if(inet_pton(AF_INET6, host, addr) == 1)
			return 0;
	} else if(n < sizeof(host)) {
		snprintf(host, sizeof(host), "%.*s", (int)n, v);
		if(inet_pton(AF_INET, host, addr) == 1)
			return 0;
	}
bad:
	snprintf(msg, msglen, "must be ADDRESS:PORT, the address an IPv4 one or an IPv6 one in brackets "
	         "(127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080, [::]:8080), not '%s'", v);
	return -1;
}

static int config__check_url_opt(const char *v, char *msg, size_t msglen)
{
	return *v ? config__check_url(v, msg, msglen) : 0;
}

static int config__check_https_opt(const char *v, char *msg, size_t msglen)
{
	if(!*v || !strncmp(v, "https://", 8))
		return 0;
	snprintf(msg, msglen, "must start with https:// (Telegram posts only there), not '%s'", v);
	return -1;
}

static int config__check_mxid(const char *v, char *msg, size_t msglen)
{
	const char *colon = strchr(v, ':');
	if(!*v || (v[0] == '@' && colon && colon > v + 1 && colon[1] && !strpbrk(v, " \t")))
		return 0;
	snprintf(msg, msglen, "must be a full Matrix id like @ensemble:example.org, not '%s'", v);
	return -1;
}

static int config__check_mode(const char *v, char *msg, size_t msglen)
{
	if(!strcmp(v, "polling") || !strcmp(v, "webhook"))
		return 0;
	snprintf(msg, msglen, "must be polling or webhook, not '%s'", v);
	return -1;
}

static int config__check_path(const char *v, char *msg, size_t msglen)
{
	if(v[0] == '/' && !strpbrk(v, " \t?#"))
		return 0;
	snprintf(msg, msglen, "must start with '/' and hold no space, '?' or '#', not '%s'", v);
	return -1;
}

#define STR(sec, key, field, d, chk) { sec, key, CONFIG_STR, offsetof(struct config, field), d, NULL, false, 0, 0, chk, false }
#define INT(sec, key, field, d, lo, hi) { sec, key, CONFIG_INT, offsetof(struct config, field), d, NULL, false, lo, hi, NULL, false }
#define SECRET(sec, key, field, envname) { sec, key, CONFIG_STR, offsetof(struct config, field), "", envname, true, 0, 0, NULL, false }
#define LIVE_STR(sec, key, field, d, chk) { sec, key, CONFIG_STR, offsetof(struct config, field), d, NULL, false, 0, 0, chk, true }
#define LIVE_INT(sec, key, field, d, lo, hi) { sec, key, CONFIG_INT, offsetof(struct config, field), d, NULL, false, lo, hi, NULL, true }

static const struct config_key config__keys[] = {
	STR("general", "db", db_path, "ensemble.db", config__check_nonempty),
	STR("general", "lang", lang, "fr", config__check_lang),
	STR("general", "timezone", timezone, "Europe/Paris", config__check_tz),
	LIVE_STR("general", "log_level", log_level, "info", config__check_level),
	LIVE_STR("general", "remind", remind, "1d 1h", config__check_remind),
	STR("general", "bot_name", bot_name, "Ensemble", config__check_word),
	STR("console", "chat", console_chat, "console", config__check_word),
	INT("console", "marks", console_marks, "0", 0, 1),
	STR("http", "listen", http_listen, "", config__check_listen),
	INT("http", "max_body", http_max_body, "1048576", 1024, 64L * 1024 * 1024),
	STR("http", "tls_cert", http_tls_cert, "", NULL),
	STR("http", "tls_key", http_tls_key, "", NULL),
	SECRET("telegram", "token", telegram_token, "ENSEMBLE_TELEGRAM_TOKEN"),
	STR("telegram", "api_url", telegram_api_url, "https://api.telegram.org", config__check_url),
	INT("telegram", "poll_timeout", telegram_poll_timeout, "50", 0, 50),
	LIVE_INT("telegram", "chat_interval_ms", telegram_chat_interval_ms, "1000", 0, 60000),
	LIVE_INT("telegram", "global_per_second", telegram_global_per_second, "30", 0, 1000),
	LIVE_INT("telegram", "group_per_minute", telegram_group_per_minute, "20", 0, 1000),
	INT("telegram", "native_polls", telegram_native_polls, "1", 0, 1),
	LIVE_INT("telegram", "admin_cache_s", telegram_admin_cache_s, "300", 0, 86400),
	LIVE_INT("telegram", "admin_recheck_s", telegram_admin_recheck_s, "60", 0, 86400),
	STR("telegram", "mode", telegram_mode, "polling", config__check_mode),
	STR("telegram", "webhook_url", telegram_webhook_url, "", config__check_https_opt),
	STR("telegram", "webhook_path", telegram_webhook_path, "/telegram", config__check_path),
	STR("matrix", "homeserver", matrix_homeserver, "", config__check_url_opt),
	STR("matrix", "user", matrix_user, "", config__check_mxid),
	SECRET("matrix", "password", matrix_password, "ENSEMBLE_MATRIX_PASSWORD"),
	SECRET("matrix", "access_token", matrix_access_token, "ENSEMBLE_MATRIX_ACCESS_TOKEN"),
	LIVE_INT("matrix", "admin_level", matrix_admin_level, "50", 0, 100),
	LIVE_STR("matrix", "invite_from", matrix_invite_from, "", NULL),
	INT("matrix", "sync_timeout", matrix_sync_timeout, "30", 0, 60),
	LIVE_INT("matrix", "room_interval_ms", matrix_room_interval_ms, "200", 0, 60000),
};
#define CONFIG_NKEYS (sizeof(config__keys) / sizeof(config__keys[0]))

const char *config_key_name(int i, const char **section)
{
	if(i < 0 || (size_t)i >= CONFIG_NKEYS)
		return NULL;
	*section = config__keys[i].section;
	return config__keys[i].name;
}

static char **config__str(struct config *cfg, const struct config_key *k)
{
	return (char **)((char *)cfg + k->offset);
}

static int *config__int(struct config *cfg, const struct config_key *k)
{
	return (int *)((char *)cfg + k->offset);
}

/* The same two, to read a configuration that is not to change. */
static const char *config__get_str(const struct config *cfg, const struct config_key *k)
{
	return *(char *const *)((const char *)cfg + k->offset);
}

static int config__get_int(const struct config *cfg, const struct config_key *k)
{
	return *(const int *)((const char *)cfg + k->offset);
}

/* Stores value into k's field.  Returns 0, or -1 with a message that names
 * the key as section.key (the spelling --set takes), whatever the check. */
static int config__assign(struct config *cfg, const struct config_key *k, const char *value,
                          char *msg, size_t msglen)
{
	char why[200];
	if(k->type == CONFIG_INT) {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if(errno || end == value || *end || v < k->min || v > k->max) {
			snprintf(why, sizeof(why), "must be a whole number from %ld to %ld, not '%s'",
			         k->min, k->max, value);
			goto bad;
		}
		*config__int(cfg, k) = (int)v;
		return 0;
	}
	if(k->check && k->check(value, why, sizeof(why)))
		goto bad;
	char *copy = strdup(value);
	if(!copy) {
		snprintf(why, sizeof(why), "cannot be stored (out of memory)");
		goto bad;
	}
	char **field = config__str(cfg, k);
	free(*field);
	*field = copy;
	return 0;
bad:
	snprintf(msg, msglen, "%s.%s %s", k->section, k->name, why);
	return -1;
}

int config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* Defaults are valid by construction and are not checked: the checks
	 * need the catalogues, which may not be loaded yet. */
	for(size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config__keys[i];
		if(k->type == CONFIG_INT) {
			*config__int(cfg, k) = atoi(k->def);
		} else if(!(*config__str(cfg, k) = strdup(k->def))) {
			config_release(cfg);
			return -1;
		}
	}
	return 0;
}

void config_release(struct config *cfg)
{
	for(size_t i = 0; i < CONFIG_NKEYS; i++)
		if(config__keys[i].type == CONFIG_STR)
			free(*config__str(cfg, &config__keys[i]));
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

static const struct config_key *config__find(const char *section, const char *name)
{
	for(size_t i = 0; i < CONFIG_NKEYS; i++)
		if(!strcmp(config__keys[i].section, section) && !strcmp(config__keys[i].name, name))
			return &config__keys[i];
	return NULL;
}

/* inih reads through this so that the handler knows the current line:
 * inih calls the handler right after reading the line it comes from. */
struct config__reader {
	FILE *f;
	int line;
	const char *path;
	struct config *cfg;
	struct strbuf *errors;
	struct strbuf *warnings;     /* may be NULL */
	int nerrors;
	int seen[CONFIG_NKEYS];      /* the line that set each key, or 0 */
	bool indented;               /* the current line starts with a blank */
	const struct config_key *last; /* the key of the handler's last call */
};

static char *config__read_line(char *str, int num, void *stream)
{
	struct config__reader *r = stream;
	char *s = fgets(str, num, r->f);
	if(s) {
		r->line++;
		r->indented = s[0] == ' ' || s[0] == '\t';
	}
	return s;
}

static int config__handler(void *user, const char *section, const char *name, const char *value)
{
	struct config__reader *r = user;
	if(!name) {  /* a section header alone */
		r->last = NULL;
		return 1;
	}
	const struct config_key *k = config__find(section, name);
	char msg[320];
	if(!k) {
		r->last = NULL;
		bool known_section = false;
		for(size_t i = 0; i < CONFIG_NKEYS; i++)
			known_section |= !strcmp(config__keys[i].section, section);
		if(known_section)
			snprintf(msg, sizeof(msg), "unknown key '%s' in section [%s]", name, section);
		else
			snprintf(msg, sizeof(msg), "unknown section [%s]", section);
		goto bad;
	}
	/* The last one counts, as inih reads them, but a key given twice is
	 * most often an edit that forgot the first: say where both are.  An
	 * indented line right after a key is inih's continuation of it, which
	 * comes here as the same key again. */
	int *seen = &r->seen[k - config__keys];
	bool continued = r->indented && r->last == k;
	r->last = k;
	if(!continued) {
		if(*seen && r->warnings)
			strbuf_addf(r->warnings, "%s:%d: warning: %s.%s is given twice (lines %d and %d); line %d counts\n",
			            r->path, r->line, k->section, k->name, *seen, r->line, r->line);
		*seen = r->line;
	}
	if(config__assign(r->cfg, k, value, msg, sizeof(msg)))
		goto bad;
	if(k->secret && *value)
		r->cfg->file_has_secret = true;
	return 1;
bad:
	strbuf_addf(r->errors, "%s:%d: %s\n", r->path, r->line, msg);
	r->nerrors++;
	return 1; /* keep going: report every error at once */
}

int config_load_env(struct config *cfg)
{
	char msg[320];
	for(size_t i = 0; i < CONFIG_NKEYS; i++) {
		const char *v = config__keys[i].env ? getenv(config__keys[i].env) : NULL;
		if(v && *v && config__assign(cfg, &config__keys[i], v, msg, sizeof(msg)))
			return -1;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, struct strbuf *errors, struct strbuf *warnings)
{
	struct config__reader r = { .path = path, .cfg = cfg, .errors = errors, .warnings = warnings };
	struct stat st;
	r.f = fopen(path, "r");
	if(!r.f || fstat(fileno(r.f), &st)) {
		strbuf_addf(errors, "%s: cannot read: %s\n", path, strerror(errno));
		if(r.f)
			fclose(r.f);
		return -1;
	}
	int rc = ini_parse_stream(config__read_line, &r, config__handler, &r);
	fclose(r.f);
	if(rc > 0) {
		/* A syntax error inih itself found (no '=' or ']'). */
		strbuf_addf(errors, "%s:%d: syntax error (expected [section] or key = value)\n", path, rc);
		r.nerrors++;
	} else if(rc < 0) {
		strbuf_addf(errors, "%s: cannot parse (out of memory)\n", path);
		r.nerrors++;
	}
	if(cfg->file_has_secret && (st.st_mode & 077)) {
		strbuf_addf(errors, "%s: holds a secret but group or others may read it; run: chmod 600 %s\n",
		            path, path);
		r.nerrors++;
	}
	free(cfg->path);
	cfg->path = strdup(path);
	if(config_load_env(cfg))
		r.nerrors++;
	return r.nerrors ? -1 : 0;
}

int config_set(struct config *cfg, const char *dotted, const char *value, struct strbuf *errors)
{
	char section[32] = "general";
	const char *name = dotted;
	const char *dot = strchr(dotted, '.');
	if(dot) {
		snprintf(section, sizeof(section), "%.*s", (int)(dot - dotted), dotted);
		name = dot + 1;
	}
	const struct config_key *k = config__find(section, name);
	char msg[320];
	if(!k) {
		strbuf_addf(errors, "unknown configuration key '%s'\n", dotted);
		return -1;
	}
	if(config__assign(cfg, k, value, msg, sizeof(msg))) {
		strbuf_addf(errors, "%s\n", msg);
		return -1;
	}
	return 0;
}

int config_update(struct config *cfg, const struct config *next, struct strbuf *applied,
                  struct strbuf *restart)
{
	for(size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config__keys[i];
		bool same = k->type == CONFIG_INT ? config__get_int(cfg, k) == config__get_int(next, k)
		                                  : !strcmp(config__get_str(cfg, k), config__get_str(next, k));
		if(same)
			continue;
		if(!k->live) {
			strbuf_addf(restart, "%s.%s\n", k->section, k->name);
			continue;
		}
		if(k->type == CONFIG_INT) {
			*config__int(cfg, k) = config__get_int(next, k);
			strbuf_addf(applied, "%s.%s = %d\n", k->section, k->name, *config__int(cfg, k));
			continue;
		}
		char *copy = strdup(config__get_str(next, k));
		if(!copy)
			return -1;
		char **field = config__str(cfg, k);
		free(*field);
		*field = copy;
		strbuf_addf(applied, "%s.%s = %s\n", k->section, k->name, copy);
	}
	return applied->oom || restart->oom ? -1 : 0;
}

int config_validate(const struct config *cfg, struct strbuf *errors)
{
	/* Values are checked one by one as they are set; what remains are
	 * checks across keys. */
	int rc = 0;
	if(cfg->telegram_token && *cfg->telegram_token && !strcmp(cfg->telegram_mode, "webhook")) {
		if(!*cfg->telegram_webhook_url) {
			strbuf_adds(errors, "telegram.mode = webhook needs telegram.webhook_url (the public https URL)\n");
			rc = -1;
		}
		if(!*cfg->http_listen) {
			strbuf_adds(errors, "telegram.mode = webhook needs http.listen (the listener that receives it)\n");
			rc = -1;
		}
	}
	if(!*cfg->http_tls_cert != !*cfg->http_tls_key) {
		strbuf_adds(errors, "http.tls_cert and http.tls_key go together\n");
		rc = -1;
	}
	if(*cfg->matrix_homeserver) {
		if(!*cfg->matrix_user) {
			strbuf_adds(errors, "matrix.homeserver is set but matrix.user is not\n");
			rc = -1;
		}
		if(!*cfg->matrix_password && !*cfg->matrix_access_token) {
			strbuf_adds(errors, "matrix needs a password or an access_token (or ENSEMBLE_MATRIX_PASSWORD)\n");
			rc = -1;
		}
	}
	return rc;
}
