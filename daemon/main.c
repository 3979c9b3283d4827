/*
 * ensemble: the daemon's entry point.  Reads flags and configuration, opens
 * the database, starts the adapters on one libuv loop and runs it until a
 * signal or the end of the console's input.
 */
#include <getopt.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "bot/bot.h"
#include "bot/i18n.h"
#include "bot/remind.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/tz.h"
#include "storage/db.h"
#include "storage/db_copy.h"

#define LOG_MODULE "main"

static const char main__usage[] =
	"Usage: ensemble [OPTIONS]\n"
	"\n"
	"  -c, --config FILE        read the configuration from FILE and run every adapter it configures\n"
	"      --console            chat with the bot in the terminal (the console adapter)\n"
	"      --db PATH            the database: an SQLite file (default: ensemble.db, or general.db) or a\n"
	"                           PostgreSQL URL or key/value string\n"
	"      --clock=real|sim     real time (default) or simulated time, moved by '~' lines\n"
	"      --now=YYYY-MM-DDTHH:MM[:SS]  start simulated time there (local time of\n"
	"                           general.timezone; a trailing Z means UTC); implies\n"
	"                           --clock=sim, unless --clock=real: then real time runs from there\n"
	"  -n, --check-config FILE  check FILE, print each problem with its line and key, and exit\n"
	"      --backup FILE        copy the database (of a running bot or not) to FILE, a new file, and exit\n"
	"      --check-db FILE      check the database FILE without writing it, print each problem, and exit\n"
	"      --copy-db FROM TO    copy every table of the database FROM into TO, an empty one (SQLite to\n"
	"                           PostgreSQL or back), check the row counts, and exit\n"
	"  -s, --set KEY=VALUE      set a configuration key (section.key, or key of [general])\n"
	"  -v, --verbose            log debug messages\n"
	"  -q, --quiet              log errors only\n"
	"  -V, --version            print the version and exit\n"
	"  -h, --help               print this help and exit\n";

struct main_opts {
	const char *config;
	const char *check;
	const char *backup;              /* --backup FILE */
	const char *check_db;            /* --check-db FILE */
	const char *copy_from, *copy_to; /* --copy-db FROM TO */
	const char *db;
	const char *now;
	bool console;
	bool sim;
	bool real;     /* --clock=real given */
	int verbosity; /* -1 quiet, 0 default, 1 verbose */
	char **sets;
	int nsets;
};

/* The arguments after the options, from optind on: --copy-db's TO, the one
 * there may be.  0, or -1 after saying what is wrong. */
static int main__operands(int argc, char **argv, struct main_opts *o)
{
	if(o->copy_from && optind < argc)
		o->copy_to = argv[optind++];
	if(o->copy_from && !o->copy_to) {
		fprintf(stderr, "ensemble: --copy-db takes two arguments, FROM and TO\n%s", main__usage);
		return -1;
	}
	if(optind < argc) {
		fprintf(stderr, "ensemble: unexpected argument '%s'\n%s", argv[optind], main__usage);
		return -1;
	}
	return 0;
}

static int main__parse(int argc, char **argv, struct main_opts *o)
{
	enum { OPT_CONSOLE = 256, OPT_DB, OPT_CLOCK, OPT_NOW, OPT_BACKUP, OPT_CHECK_DB, OPT_COPY_DB };
	/* clang-format off: a table reads best one row to a line */
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "console", no_argument, NULL, OPT_CONSOLE },
		{ "db", required_argument, NULL, OPT_DB },
		{ "clock", required_argument, NULL, OPT_CLOCK },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "check-config", required_argument, NULL, 'n' },
		{ "backup", required_argument, NULL, OPT_BACKUP },
		{ "check-db", required_argument, NULL, OPT_CHECK_DB },
		{ "copy-db", required_argument, NULL, OPT_COPY_DB },
		{ "set", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* clang-format on */
	int ch;
	while((ch = getopt_long(argc, argv, "c:n:s:vqVh", longopts, NULL)) != -1) {
		switch(ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'n':
			o->check = optarg;
			break;
		case OPT_CONSOLE:
			o->console = true;
			break;
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_NOW:
			o->now = optarg;
			break;
		case OPT_BACKUP:
		case OPT_CHECK_DB:
			*(ch == OPT_BACKUP ? &o->backup : &o->check_db) = optarg;
			break;
		case OPT_COPY_DB:
			o->copy_from = optarg;
			break;
		case OPT_CLOCK:
			if(!strcmp(optarg, "sim"))
				o->sim = true;
			else if(!strcmp(optarg, "real"))
				o->real = true;
			else {
				fprintf(stderr, "ensemble: --clock takes 'real' or 'sim', not '%s'\n", optarg);
				return -1;
			}
			break;
		case 's':
			o->sets[o->nsets++] = optarg;
			break;
		case 'v':
			o->verbosity = 1;
			break;
		case 'q':
			o->verbosity = -1;
			break;
		case 'V':
			printf("ensemble %s\nsystemd notification (sd_notify): %s\n", ENSEMBLE_VERSION,
			       notify_built_in() ? "built in" : "not built in");
			exit(0);
		case 'h':
			fputs(main__usage, stdout);
			exit(0);
		default:
			fputs(main__usage, stderr);
			return -1;
		}
	}
	return main__operands(argc, argv, o);
}

/* Reads --now: local time of zone, or UTC with a trailing Z. */
static int main__parse_now(const char *s, const char *zone, int64_t *ms)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec = 0, n = 0;
	if(sscanf(s, "%d-%d-%dT%d:%d%n", &y, &mo, &d, &h, &mi, &n) != 5)
		return -1;
	if(s[n] == ':' && sscanf(s + n, ":%d%n", &sec, &(int){ 0 }) == 1)
		while(s[++n] >= '0' && s[n] <= '9')
			;
	bool utc = s[n] == 'Z';
	if(s[n + utc] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t;
	struct tm back;
	enum tz_result r;
	if(utc) {
		t = timegm(&tm);
		gmtime_r(&t, &back);
	} else if((r = tz_mktime(zone, &tm, &t)) != TZ_OK && r != TZ_AMBIGUOUS) {
		return -1;
	} else {
		tz_localtime(zone, t, &back);
	}
	/* 31 February does not silently become 3 March. */
	if(back.tm_mday != d || back.tm_mon != mo - 1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

/* Writes each line of text, followed by suffix, as a log line at level:
 * the lists of problems and changes the configuration module gives. */
static void main__log_lines(enum log_level level, const char *text, const char *suffix)
{
	while(*text) {
		int n = (int)strcspn(text, "\n");
		log_msg(level, LOG_MODULE, "%.*s%s", n, text, suffix);
		text += n + (text[n] == '\n');
	}
}

static int main__check_config(const char *path)
{
	struct config cfg;
	struct strbuf errors = STRBUF_INIT;
	struct strbuf warnings = STRBUF_INIT;
	if(config_init(&cfg))
		return 1;
	int rc = config_load(&cfg, path, &errors, &warnings);
	if(!rc)
		rc = config_validate(&cfg, &errors);
	/* Problems go to standard error, the verdict alone to standard output. */
	fputs(warnings.buf, stderr);
	fputs(errors.buf, stderr);
	if(!rc)
		printf("configuration OK\n");
	strbuf_release(&warnings);
	strbuf_release(&errors);
	config_release(&cfg);
	return rc ? 1 : 0;
}

/* --check-db: each problem on standard error, the verdict on standard
 * output, as --check-config. */
static void main__db_problem(void *user, const char *problem)
{
	(*(int *)user)++;
	fprintf(stderr, "%s\n", problem);
}

static int main__check_db(const char *path)
{
	struct strbuf err = STRBUF_INIT;
	int problems = 0, version;
	int rc = db_check(path, main__db_problem, &problems, &version, &err);
	if(rc)
		fprintf(stderr, "ensemble: %s\n", err.oom ? "out of memory" : err.buf);
	else if(!problems && version < DB_SCHEMA_VERSION)
		printf("ok (schema version %d, which this build migrates to %d when it opens it; the bot's own checks "
		       "need %d)\n",
		       version, DB_SCHEMA_VERSION, DB_SCHEMA_VERSION);
	else if(!problems)
		printf("ok\n");
	else
		printf("%d problem%s found in %s\n", problems, problems == 1 ? "" : "s", path);
	strbuf_release(&err);
	return rc || problems ? 1 : 0;
}

/* --copy-db: what was copied on standard output, a table to a line, then
 * the total; the reason it was not on standard error. */
static void main__copied(void *user, const char *table, int64_t rows)
{
	*(int64_t *)user += rows;
	printf("%-18s %10lld row%s\n", table, (long long)rows, rows == 1 ? "" : "s");
}

static int main__copy_db(const struct main_opts *o)
{
	struct strbuf err = STRBUF_INIT;
	int64_t total = 0;
	int rc = db_copy(o->copy_from, o->copy_to, main__copied, &total, &err);
	if(rc)
		fprintf(stderr, "ensemble: --copy-db: %s\n", err.oom ? "out of memory" : err.buf);
	else
		printf("copied %lld row%s; every table's count checked\n", (long long)total, total == 1 ? "" : "s");
	strbuf_release(&err);
	return rc ? 1 : 0;
}

/* Builds cfg, fresh from config_init(), as the command line asks: the file
 * (or the environment alone), then --db and each --set, then the checks
 * across keys.  The same at start and at each SIGHUP, so that flags keep
 * overriding the file.  Problems are appended to errors, a key given twice
 * to warnings.  Returns 0 or -1. */
static int main__config(const struct main_opts *o, struct config *cfg, struct strbuf *errors, struct strbuf *warnings)
{
	if(o->config ? config_load(cfg, o->config, errors, warnings) : config_load_env(cfg))
		return -1;
	if(o->db && config_set(cfg, "db", o->db, errors))
		return -1;
	for(int i = 0; i < o->nsets; i++) {
		const char *eq = strchr(o->sets[i], '=');
		char key[64];
		if(!eq || eq - o->sets[i] >= (ptrdiff_t)sizeof(key)) {
			strbuf_addf(errors, "--set takes KEY=VALUE, not '%s'\n", o->sets[i]);
			return -1;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - o->sets[i]), o->sets[i]);
		if(config_set(cfg, key, eq + 1, errors))
			return -1;
	}
	return config_validate(cfg, errors);
}

/* Sets the log level from the configuration, unless -v or -q did. */
static void main__log_level(const struct main_opts *o, const struct config *cfg)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	if(o->verbosity != 0)
		return;
	for(int i = 0; i < 4; i++)
		if(!strcmp(cfg->log_level, levels[i]))
			log_set_level((enum log_level)i);
}

/* Gives the database the reminder times that new chats start with. */
static int main__chat_defaults(struct db *db, const struct config *cfg)
{
	char offsets[64] = "";
	if(strcmp(cfg->remind, "off") && remind_parse_offsets(cfg->remind, offsets, sizeof(offsets)))
		return -1;
	return db_set_chat_remind(db, offsets);
}

/* SIGHUP: reads the file again with the same flags.  A file with errors
 * changes nothing (they are logged); otherwise the keys that may change
 * live take effect at once and each other change is logged as waiting for
 * a restart. */
static void main__reload(struct daemon *d, void *user)
{
	struct bot *b = &d->bot;
	const struct main_opts *o = user;
	struct config next;
	struct strbuf errors = STRBUF_INIT;
	struct strbuf warnings = STRBUF_INIT;
	struct strbuf applied = STRBUF_INIT;
	struct strbuf restart = STRBUF_INIT;
	if(config_init(&next)) {
		log_error("cannot read the configuration again: out of memory");
		return;
	}
	int rc = main__config(o, &next, &errors, &warnings);
	main__log_lines(LOG_WARN, warnings.buf, "");
	if(rc) {
		main__log_lines(LOG_ERROR, errors.buf, "");
		log_error("%s has errors: the running configuration is kept", o->config);
		goto out;
	}
	if(config_update(b->cfg, &next, &applied, &restart) || main__chat_defaults(b->db, b->cfg))
		log_error(
			"the new configuration could not all be applied (out of memory): some changes may be missing");
	main__log_lines(LOG_WARN, restart.buf, " changed: it takes effect at the next restart");
	main__log_lines(LOG_INFO, applied.buf, ": in effect now");
	if(!applied.len && !restart.len)
		log_info("the configuration has not changed");
	/* After the lines above, so that a quieter level still shows them. */
	main__log_level(o, b->cfg);
out:
	strbuf_release(&restart);
	strbuf_release(&applied);
	strbuf_release(&warnings);
	strbuf_release(&errors);
	config_release(&next);
}

/* True when the bot will talk over the network: a platform adapter or the
 * HTTP listener is configured.  The console alone never does. */
static bool main__networked(const struct config *cfg)
{
	if(*cfg->http_listen)
		return true;
	for(int i = 0; adapter_at(i); i++)
		if(adapter_at(i) != &console_adapter_ops && adapter_at(i)->configured(cfg))
			return true;
	return false;
}

/* Before curl or libwebsockets initialise OpenSSL: its error strings
 * (libcrypto and libssl pages that stay resident) are never shown, since the
 * HTTP client reports curl_easy_strerror(); at worst a libwebsockets TLS
 * warning carries the bare code, which `openssl errstr` decodes.  The
 * configuration file, engines and algorithms load as before.  A bot on the
 * console alone initialises none of it (curl neither: adapter_http). */
static void main__tls_init(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
}

/* True when ops is to run: the console when asked for, the others when
 * the configuration names them. */
static bool main__wanted(const struct main_opts *o, const struct config *cfg, const struct adapter_ops *ops)
{
	return ops == &console_adapter_ops ? o->console : ops->configured(cfg);
}

/* Whether anything is to run: the console, or an adapter the
 * configuration names.  Says so on standard error when nothing is. */
static bool main__anything(const struct main_opts *o, const struct config *cfg)
{
	bool any = false;
	for(int i = 0; adapter_at(i); i++)
		any |= main__wanted(o, cfg, adapter_at(i));
	if(!any)
		fprintf(stderr, "ensemble: nothing to run: use --console, or configure an adapter (see --help)\n");
	return any;
}

/* Sets the clock as --clock and --now ask: simulated, or real time shifted
 * to start at --now, or real time untouched.  Returns 0, or -1 after
 * saying on standard error that --now cannot be read. */
static int main__clock(struct main_opts *o, const struct config *cfg)
{
	if(o->now && !o->real)
		o->sim = true;
	if(!o->sim && !o->now)
		return 0;
	int64_t start = clock_now_ms();
	if(o->now && main__parse_now(o->now, cfg->timezone, &start)) {
		fprintf(stderr, "ensemble: --now takes YYYY-MM-DDTHH:MM (a local time that exists), not '%s'\n",
		        o->now);
		return -1;
	}
	if(o->sim)
		clock_use_sim(start);
	else
		clock_use_shifted(start);
	return 0;
}

/* Opens (creating it if need be) the database cfg names into *db and sets
 * the defaults of new chats in it.  Returns 0, or -1 after saying why on
 * standard error; *db, opened or NULL, is the caller's to close either
 * way. */
static int main__open_db(struct db **db, const struct config *cfg)
{
	struct strbuf errors = STRBUF_INIT;
	int rc = -1;
	if(db_open(db, cfg->db_path, &errors)) {
		fprintf(stderr, "ensemble: %s\n", errors.buf);
		goto out;
	}
	if(main__chat_defaults(*db, cfg)) {
		fprintf(stderr, "ensemble: general.remind cannot be read: '%s'\n", cfg->remind);
		goto out;
	}
	rc = 0;
out:
	strbuf_release(&errors);
	return rc;
}

/* --backup: copies the database cfg names to o->backup. */
static int main__backup(const struct main_opts *o, const struct config *cfg)
{
	struct strbuf err = STRBUF_INIT;
	struct db_backup_info info;
	int rc = db_backup(cfg->db_path, o->backup, &info, &err);
	if(rc)
		fprintf(stderr, "ensemble: %s\n", err.oom ? "out of memory" : err.buf);
	else
		printf("copied %s to %s: %lld bytes, schema version %d%s, %d delivered message%s taken out of its "
		       "outbox\n",
		       cfg->db_path, o->backup, (long long)info.bytes, info.version,
		       info.version < DB_SCHEMA_VERSION ? " (older than this build's: copied as it is)" : "",
		       info.delivered, info.delivered == 1 ? "" : "s");
	strbuf_release(&err);
	return rc ? 1 : 0;
}

/* Starts what the leading instance runs over the listener that
 * daemon_start_http started: the web side, every adapter wanted, the
 * scheduler.  At start when this instance leads, or once it does after
 * standing by (daemon_stand_by).  0 or -1 (logged). */
static int main__lead(struct daemon *d, void *user)
{
	struct main_opts *o = user;
	/* The listener first: an adapter may add routes to it (webhooks). */
	if(daemon_start_web(d))
		return -1;
	for(int i = 0; adapter_at(i); i++) {
		const struct adapter_ops *ops = adapter_at(i);
		if(main__wanted(o, d->bot.cfg, ops) && daemon_add_adapter(d, ops))
			return -1;
	}
	log_info("ensemble %s running on %s", ENSEMBLE_VERSION, db_name(d->bot.db));
	daemon_ready(d);
	bot_run(&d->bot);
	return 0;
}

/* Runs the bot over db on a loop of its own, with the HTTP listener and,
 * once this instance leads, every adapter wanted, until it stops; then
 * releases the loop and what ran on it.  db and cfg stay the caller's.
 * Returns the exit status: the bot's, or 1 when something could not
 * start. */
static int main__serve(struct main_opts *o, struct config *cfg, struct db *db)
{
	uv_loop_t loop;
	struct daemon d;
	int rc = 1;

	if(uv_loop_init(&loop)) {
		fprintf(stderr, "ensemble: cannot create the event loop\n");
		return 1;
	}
	if(daemon_init(&d, &loop, cfg, db))
		goto close;
	if(o->config) {
		d.reload = main__reload;
		d.reload_user = o;
	}
	if(daemon_start_http(&d))
		goto stop;
	if(db_leads(db) ? main__lead(&d, o) : daemon_stand_by(&d, main__lead, o))
		goto stop;
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = d.bot.exit_code;
	goto shutdown;
stop:
	bot_stop(&d.bot, 1);
	rc = 1;
shutdown:
	uv_run(&loop, UV_RUN_DEFAULT); /* let closing handles finish */
	daemon_release(&d);
close:
	if(uv_loop_close(&loop))
		log_warn("the event loop still had open handles at exit");
	return rc;
}

/* Runs the bot as the parsed options o say: the configuration, then what
 * it names, until it stops.  Returns the exit status: 0 after a clean stop,
 * 1 for a configuration or start-up error. */
static int main__run(struct main_opts *o)
{
	struct config cfg;
	struct strbuf errors = STRBUF_INIT;
	struct strbuf warnings = STRBUF_INIT;
	struct db *db = NULL;
	int rc = 1;

	if(config_init(&cfg))
		goto out;
	int bad = main__config(o, &cfg, &errors, &warnings);
	fputs(warnings.buf, stderr);
	if(bad)
		goto bad_config;
	main__log_level(o, &cfg);
	config_each_secret(&cfg, log_add_secret);
	i18n_set_default(cfg.lang);
	if(o->backup) {
		rc = main__backup(o, &cfg);
		goto out;
	}

	/* What runs is decided, and refused, before anything touches the disk:
	 * a mistake on the command line leaves no database behind. */
	if(!main__anything(o, &cfg))
		goto out;
	if(main__networked(&cfg))
		main__tls_init();
	if(main__clock(o, &cfg))
		goto out;
	if(main__open_db(&db, &cfg))
		goto out;
	rc = main__serve(o, &cfg, db);
	goto out;
bad_config:
	fputs(errors.buf, stderr);
	rc = 1;
out:
	db_close(db);
	strbuf_release(&warnings);
	strbuf_release(&errors);
	config_release(&cfg);
	return rc;
}

/* libgnutls comes in as a dependency of libcurl's librtmp and libldap, for
 * protocols this daemon never enables (its transfers are http and https,
 * over OpenSSL).  Its library constructor would initialise it all the same:
 * resident memory (gnutls, p11-kit, libtasn1 trees on the heap) that
 * nothing uses.  This is gnutls's own opt-out (the
 * GNUTLS_SKIP_GLOBAL_INIT macro of <gnutls/gnutls.h>, written out here so
 * as not to need its headers): a library that does use gnutls calls
 * gnutls_global_init() itself. */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void)
{
	return 1;
}

int main(int argc, char **argv)
{
	struct main_opts o = { 0 };
	char *sets[64];
	o.sets = sets;
	/* What the bot creates is its owner's alone: the database holds the
	 * Matrix access token, and whatever else appears beside it (SQLite's
	 * side files, the delivery journal) or in a temporary directory holds
	 * the same.  storage/ creates its files 0600 under any umask; this
	 * covers the rest. */
	umask(077);
	if(argc > 64 || main__parse(argc, argv, &o))
		return 2;
	if(o.verbosity > 0)
		log_set_level(LOG_DEBUG);
	else if(o.verbosity < 0)
		log_set_level(LOG_ERROR);
	if(i18n_init()) {
		fprintf(stderr, "ensemble: the message catalogues are broken\n");
		return 1;
	}
	config_set_checks(&bot_config_checks);
	if(adapter_config_register()) {
		fprintf(stderr, "ensemble: two adapters declare the same configuration section\n");
		i18n_free();
		return 1;
	}
	int rc = o.check       ? main__check_config(o.check)
	         : o.check_db  ? main__check_db(o.check_db)
	         : o.copy_from ? main__copy_db(&o)
	                       : main__run(&o);
	i18n_free();
	metrics_release();
	log_forget_secrets();
	return rc;
}
