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

#include "lib/cidr.h"
#include "lib/tz.h"

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

int config_check_word(const char *v, char *msg, size_t msglen)
{
	if(*v && !strpbrk(v, ": \t@"))
		return 0;
	snprintf(msg, msglen, "must be one word without ':', '@' or spaces, not '%s'", v);
	return -1;
}

int config_check_nonempty(const char *v, char *msg, size_t msglen)
{
	if(*v)
		return 0;
	snprintf(msg, msglen, "must not be empty");
	return -1;
}

int config_check_url(const char *v, char *msg, size_t msglen)
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
	snprintf(msg, msglen,
	         "must be ADDRESS:PORT, the address an IPv4 one or an IPv6 one in brackets "
	         "(127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080, [::]:8080), not '%s'",
	         v);
	return -1;
}

static int config__check_on_off(const char *v, char *msg, size_t msglen)
{
	if(!strcmp(v, "on") || !strcmp(v, "off"))
		return 0;
	snprintf(msg, msglen, "must be on or off, not '%s'", v);
	return -1;
}

static int config__check_yes_no(const char *v, char *msg, size_t msglen)
{
	if(!strcmp(v, "yes") || !strcmp(v, "no"))
		return 0;
	snprintf(msg, msglen, "must be yes or no, not '%s'", v);
	return -1;
}

/* Addresses and prefixes, as lib/cidr.h reads them. */
static int config__check_allow(const char *v, char *msg, size_t msglen)
{
	struct cidr_list list;
	char why[160];
	if(!cidr_parse(&list, v, why, sizeof(why)))
		return 0;
	snprintf(msg, msglen,
	         "must be IPv4 or IPv6 addresses and prefixes separated by spaces (127.0.0.0/8 ::1 "
	         "192.168.1.0/24), not %s",
	         why);
	return -1;
}

/* The web side's public address: "" (off), or an http(s) URL with a host
 * and no query, fragment or credentials, since links are built on it. */
static int config__check_public_url(const char *v, char *msg, size_t msglen)
{
	if(!*v)
		return 0;
	const char *host = !strncmp(v, "https://", 8) ? v + 8 : !strncmp(v, "http://", 7) ? v + 7 : NULL;
	if(host && *host && *host != '/' && !strpbrk(v, "?#@ \t\"<>") && strlen(v) < 200)
		return 0;
	snprintf(msg, msglen,
	         "must be an http:// or https:// URL with a host and no query, such as "
	         "https://bot.example.org, not '%s'",
	         v);
	return -1;
}

int config_check_url_opt(const char *v, char *msg, size_t msglen)
{
	return *v ? config_check_url(v, msg, msglen) : 0;
}

/* The keys config/ knows itself, [general] and [http]: their values are
 * struct config's own fields. */
/* clang-format off: a table reads best one row to a line */
#define CONFIG_STR_KEY(key, field, d, chk, is_live) \
	{ \
		.name = key, .type = CONFIG_STR, .offset = offsetof(struct config, field), .def = d, .check = chk, \
		.live = is_live \
	}

static const struct config_key config__general_keys[] = {
	CONFIG_STR_KEY("db", db_path, "ensemble.db", config_check_nonempty, false),
	CONFIG_STR_KEY("lang", lang, "fr", config__check_lang, false),
	CONFIG_STR_KEY("timezone", timezone, "Europe/Paris", config__check_tz, false),
	CONFIG_STR_KEY("log_level", log_level, "info", config__check_level, true),
	CONFIG_STR_KEY("remind", remind, "1d 1h", config__check_remind, true),
	CONFIG_STR_KEY("bot_name", bot_name, "Ensemble", config_check_word, false),
};
/* clang-format on */

/* clang-format off: a table reads best one row to a line */
static const struct config_key config__http_keys[] = {
	CONFIG_STR_KEY("listen", http_listen, "", config__check_listen, false),
	{ .name = "max_body",
	  .type = CONFIG_INT,
	  .offset = offsetof(struct config, http_max_body),
	  .def = "1048576",
	  .min = 1024,
	  .max = 64L * 1024 * 1024 },
	CONFIG_STR_KEY("tls_cert", http_tls_cert, "", NULL, false),
	CONFIG_STR_KEY("tls_key", http_tls_key, "", NULL, false),
	CONFIG_STR_KEY("metrics", http_metrics, "off", config__check_on_off, false),
	CONFIG_STR_KEY("metrics_allow", http_metrics_allow, "127.0.0.0/8 ::1", config__check_allow, false),
};
/* clang-format on */

/* clang-format off: a table reads best one row to a line */
static const struct config_key config__web_keys[] = {
	CONFIG_STR_KEY("public_url", web_public_url, "", config__check_public_url, false),
	CONFIG_STR_KEY("show_names", web_show_names, "yes", config__check_yes_no, false),
};
/* clang-format on */

static int config__validate_http(const void *values, const struct config *cfg, struct strbuf *errors)
{
	(void)values;
	int rc = 0;
	if(!*cfg->http_tls_cert != !*cfg->http_tls_key) {
		strbuf_adds(errors, "http.tls_cert and http.tls_key go together\n");
		rc = -1;
	}
	if(!strcmp(cfg->http_metrics, "on") && !*cfg->http_listen) {
		strbuf_adds(errors, "http.metrics = on needs http.listen (the listener that serves /metrics)\n");
		rc = -1;
	}
	return rc;
}

#define CONFIG_COUNT(keys) (sizeof(keys) / sizeof((keys)[0]))

/* The sections every configuration has, before the registered ones. */
/* clang-format off: a table reads best one row to a line */
static const struct config_section config__builtin[] = {
	{ .name = "general",
	  .size = sizeof(struct config),
	  .keys = config__general_keys,
	  .nkeys = CONFIG_COUNT(config__general_keys) },
	{ .name = "http",
	  .size = sizeof(struct config),
	  .keys = config__http_keys,
	  .nkeys = CONFIG_COUNT(config__http_keys),
	  .validate = config__validate_http },
	{ .name = "web",
	  .size = sizeof(struct config),
	  .keys = config__web_keys,
	  .nkeys = CONFIG_COUNT(config__web_keys) },
};
/* clang-format on */
#define CONFIG_NBUILTIN CONFIG_COUNT(config__builtin)

/* The most keys a section has: the reader notes the line of each. */
#define CONFIG_MAX_KEYS 32

/* The registered sections, in the order of registration; borrowed. */
static const struct config_section *config__registered[CONFIG_MAX_SECTIONS - CONFIG_NBUILTIN];
static size_t config__nregistered;

/* The s-th section known now ([general], [http], then the registered
 * ones), or NULL past the end. */
static const struct config_section *config__known(size_t s)
{
	if(s < CONFIG_NBUILTIN)
		return &config__builtin[s];
	s -= CONFIG_NBUILTIN;
	return s < config__nregistered ? config__registered[s] : NULL;
}

/* How many sections cfg has: those registered before its config_init(). */
static size_t config__count(const struct config *cfg)
{
	return CONFIG_NBUILTIN + cfg->nvalues;
}

/* Where the value of key k of cfg's s-th section is: a field of cfg
 * itself for [general] and [http], else of the section's struct.  It is
 * written only through a cfg that is not const. */
static void *config__field(const struct config *cfg, size_t s, const struct config_key *k)
{
	const char *base = s < CONFIG_NBUILTIN ? (const char *)cfg : cfg->values[s - CONFIG_NBUILTIN];
	return (void *)(base + k->offset);
}

static char **config__str(const struct config *cfg, size_t s, const struct config_key *k)
{
	return config__field(cfg, s, k);
}

static int *config__int(const struct config *cfg, size_t s, const struct config_key *k)
{
	return config__field(cfg, s, k);
}

int config_add_section(const struct config_section *section)
{
	for(size_t s = 0; config__known(s); s++) {
		if(config__known(s) == section)
			return 0;
		if(!strcmp(config__known(s)->name, section->name))
			return -1;
	}
	if(config__nregistered == CONFIG_COUNT(config__registered) || section->nkeys > CONFIG_MAX_KEYS)
		return -1;
	config__registered[config__nregistered++] = section;
	return 0;
}

const void *config_values(const struct config *cfg, const char *name)
{
	for(size_t i = 0; i < cfg->nvalues; i++)
		if(!strcmp(config__registered[i]->name, name))
			return cfg->values[i];
	return NULL;
}

const char *config_key_name(int i, const char **section)
{
	const struct config_section *sec;
	for(size_t s = 0; i >= 0 && (sec = config__known(s)); s++) {
		if((size_t)i < sec->nkeys) {
			*section = sec->name;
			return sec->keys[i].name;
		}
		i -= (int)sec->nkeys;
	}
	return NULL;
}

void config_each_secret(const struct config *cfg, void (*fn)(const char *value))
{
	for(size_t s = 0; s < config__count(cfg); s++) {
		const struct config_section *sec = config__known(s);
		for(size_t i = 0; i < sec->nkeys; i++) {
			const struct config_key *k = &sec->keys[i];
			if(k->secret && **config__str(cfg, s, k))
				fn(*config__str(cfg, s, k));
		}
	}
}

/* Stores value into the field of key k of cfg's s-th section.  Returns 0,
 * or -1 with a message that names the key as section.key (the spelling
 * --set takes), whatever the check. */
static int config__assign(struct config *cfg, size_t s, const struct config_key *k, const char *value, char *msg,
                          size_t msglen)
{
	char why[200];
	if(k->type == CONFIG_INT) {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if(errno || end == value || *end || v < k->min || v > k->max) {
			snprintf(why, sizeof(why), "must be a whole number from %ld to %ld, not '%s'", k->min, k->max,
			         value);
			goto bad;
		}
		*config__int(cfg, s, k) = (int)v;
		return 0;
	}
	if(k->check && k->check(value, why, sizeof(why)))
		goto bad;
	char *copy = strdup(value);
	if(!copy) {
		snprintf(why, sizeof(why), "cannot be stored (out of memory)");
		goto bad;
	}
	char **field = config__str(cfg, s, k);
	free(*field);
	*field = copy;
	return 0;
bad:
	snprintf(msg, msglen, "%s.%s %s", config__known(s)->name, k->name, why);
	return -1;
}

int config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for(size_t i = 0; i < config__nregistered; i++) {
		if(!(cfg->values[i] = calloc(1, config__registered[i]->size)))
			goto fail;
		cfg->nvalues++;
	}
	/* Defaults are valid by construction and are not checked: the checks
	 * need the catalogues, which may not be loaded yet. */
	for(size_t s = 0; s < config__count(cfg); s++) {
		const struct config_section *sec = config__known(s);
		for(size_t i = 0; i < sec->nkeys; i++) {
			const struct config_key *k = &sec->keys[i];
			if(k->type == CONFIG_INT)
				*config__int(cfg, s, k) = atoi(k->def);
			else if(!(*config__str(cfg, s, k) = strdup(k->def)))
				goto fail;
		}
	}
	return 0;
fail:
	config_release(cfg);
	return -1;
}

void config_release(struct config *cfg)
{
	for(size_t s = 0; s < config__count(cfg); s++) {
		const struct config_section *sec = config__known(s);
		for(size_t i = 0; i < sec->nkeys; i++)
			if(sec->keys[i].type == CONFIG_STR)
				free(*config__str(cfg, s, &sec->keys[i]));
	}
	for(size_t i = 0; i < cfg->nvalues; i++)
		free(cfg->values[i]);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

/* The index of cfg's section called name, or -1. */
static int config__find_section(const struct config *cfg, const char *name)
{
	for(size_t s = 0; s < config__count(cfg); s++)
		if(!strcmp(config__known(s)->name, name))
			return (int)s;
	return -1;
}

/* The key name of cfg's s-th section, or NULL. */
static const struct config_key *config__find(size_t s, const char *name)
{
	const struct config_section *sec = config__known(s);
	for(size_t i = 0; i < sec->nkeys; i++)
		if(!strcmp(sec->keys[i].name, name))
			return &sec->keys[i];
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
	struct strbuf *warnings; /* may be NULL */
	int nerrors;
	int seen[CONFIG_MAX_SECTIONS][CONFIG_MAX_KEYS]; /* the line that set each key, or 0 */
	bool indented;                                  /* the current line starts with a blank */
	const struct config_key *last;                  /* the key of the handler's last call */
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

/* Notes that key k of section s is on the current line, and warns when it
 * was given before: the last one counts, as inih reads them, but a key
 * given twice is most often an edit that forgot the first.  An indented
 * line right after a key is inih's continuation of it, which comes here as
 * the same key again. */
static void config__note_line(struct config__reader *r, size_t s, const struct config_key *k)
{
	int *seen = &r->seen[s][k - config__known(s)->keys];
	bool continued = r->indented && r->last == k;
	r->last = k;
	if(continued)
		return;
	if(*seen && r->warnings)
		strbuf_addf(r->warnings, "%s:%d: warning: %s.%s is given twice (lines %d and %d); line %d counts\n",
		            r->path, r->line, config__known(s)->name, k->name, *seen, r->line, r->line);
	*seen = r->line;
}

static int config__handler(void *user, const char *section, const char *name, const char *value)
{
	struct config__reader *r = user;
	if(!name) { /* a section header alone */
		r->last = NULL;
		return 1;
	}
	int s = config__find_section(r->cfg, section);
	const struct config_key *k = s < 0 ? NULL : config__find((size_t)s, name);
	char msg[320];
	if(!k) {
		r->last = NULL;
		if(s >= 0)
			snprintf(msg, sizeof(msg), "unknown key '%s' in section [%s]", name, section);
		else
			snprintf(msg, sizeof(msg), "unknown section [%s]", section);
		goto bad;
	}
	config__note_line(r, (size_t)s, k);
	if(config__assign(r->cfg, (size_t)s, k, value, msg, sizeof(msg)))
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
	for(size_t s = 0; s < config__count(cfg); s++) {
		const struct config_section *sec = config__known(s);
		for(size_t i = 0; i < sec->nkeys; i++) {
			const char *v = sec->keys[i].env ? getenv(sec->keys[i].env) : NULL;
			if(v && *v && config__assign(cfg, s, &sec->keys[i], v, msg, sizeof(msg)))
				return -1;
		}
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
	/* Group read is the packaged layout (0640 root:ensemble: the bot reads
	 * the file and cannot change it); others' read is the mistake a umask
	 * of 022 or 002 makes. */
	if(cfg->file_has_secret && (st.st_mode & 007)) {
		strbuf_addf(errors, "%s: holds a secret but others may read it; run: chmod 600 %s\n", path, path);
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
	int s = config__find_section(cfg, section);
	const struct config_key *k = s < 0 ? NULL : config__find((size_t)s, name);
	char msg[320];
	if(!k) {
		strbuf_addf(errors, "unknown configuration key '%s'\n", dotted);
		return -1;
	}
	if(config__assign(cfg, (size_t)s, k, value, msg, sizeof(msg))) {
		strbuf_addf(errors, "%s\n", msg);
		return -1;
	}
	return 0;
}

/* Brings key k of section s from next to cfg, as config_update() says.
 * Returns 0, or -1 out of memory. */
static int config__update_key(struct config *cfg, const struct config *next, size_t s, const struct config_key *k,
                              struct strbuf *applied, struct strbuf *restart)
{
	const char *section = config__known(s)->name;
	bool same = k->type == CONFIG_INT ? *config__int(cfg, s, k) == *config__int(next, s, k)
	                                  : !strcmp(*config__str(cfg, s, k), *config__str(next, s, k));
	if(same)
		return 0;
	if(!k->live) {
		strbuf_addf(restart, "%s.%s\n", section, k->name);
		return 0;
	}
	if(k->type == CONFIG_INT) {
		*config__int(cfg, s, k) = *config__int(next, s, k);
		strbuf_addf(applied, "%s.%s = %d\n", section, k->name, *config__int(cfg, s, k));
		return 0;
	}
	char *copy = strdup(*config__str(next, s, k));
	if(!copy)
		return -1;
	char **field = config__str(cfg, s, k);
	free(*field);
	*field = copy;
	strbuf_addf(applied, "%s.%s = %s\n", section, k->name, copy);
	return 0;
}

int config_update(struct config *cfg, const struct config *next, struct strbuf *applied, struct strbuf *restart)
{
	/* Both were initialised after the same registrations (at start-up):
	 * they have the same sections. */
	size_t n = config__count(cfg) < config__count(next) ? config__count(cfg) : config__count(next);
	for(size_t s = 0; s < n; s++) {
		const struct config_section *sec = config__known(s);
		for(size_t i = 0; i < sec->nkeys; i++)
			if(config__update_key(cfg, next, s, &sec->keys[i], applied, restart))
				return -1;
	}
	return applied->oom || restart->oom ? -1 : 0;
}

int config_validate(const struct config *cfg, struct strbuf *errors)
{
	/* Values are checked one by one as they are set; what remains are
	 * checks across keys, each section's own. */
	int rc = 0;
	for(size_t s = 0; s < config__count(cfg); s++) {
		const struct config_section *sec = config__known(s);
		const void *values = s < CONFIG_NBUILTIN ? (const void *)cfg : cfg->values[s - CONFIG_NBUILTIN];
		if(sec->validate && sec->validate(values, cfg, errors))
			rc = -1;
	}
	return rc;
}
