/* The configuration: defaults, every error with its line, secrets from the
 * environment, refusal of a readable file holding a secret, flags over the
 * file, and the example file documenting every key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapters/adapter.h"
#include "adapters/matrix_config.h"
#include "adapters/telegram_config.h"
#include "bot/bot.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "tests/unit/check.h"

static char dir[] = "/tmp/ensemble-test-config-XXXXXX";

static const char *write_conf(const char *name, const char *text, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

int main(void)
{
	if(!mkdtemp(dir) || i18n_init())
		return 1;
	config_set_checks(&bot_config_checks);
	CHECK_INT(adapter_config_register(), 0);
	/* Registering again does nothing; another section of a taken name is
	 * refused. */
	CHECK_INT(adapter_config_register(), 0);
	static const struct config_section twin = { .name = "telegram" };
	CHECK_INT(config_add_section(&twin), -1);
	struct config cfg;
	struct strbuf err = STRBUF_INIT;

	CHECK_INT(config_init(&cfg), 0);
	CHECK_STR(cfg.db_path, "ensemble.db");
	CHECK_STR(cfg.lang, "fr");
	CHECK_STR(cfg.timezone, "Europe/Paris");
	CHECK_INT(cfg.http_max_body, 1048576);
	config_release(&cfg);

	/* A good file. */
	const char *p = write_conf("good.conf",
	                           "; comment\n[general]\ndb = /var/lib/ensemble/e.db\nlang = en\n"
	                           "timezone = America/Montreal\n\n[http]\nlisten = 127.0.0.1:8080\nmax_body = 2048\n",
	                           0600);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, NULL), 0);
	CHECK_STR(err.buf, "");
	CHECK_STR(cfg.db_path, "/var/lib/ensemble/e.db");
	CHECK_STR(cfg.lang, "en");
	CHECK_STR(cfg.timezone, "America/Montreal");
	CHECK_STR(cfg.http_listen, "127.0.0.1:8080");
	CHECK_INT(cfg.http_max_body, 2048);
	/* A flag overrides the file. */
	CHECK_INT(config_set(&cfg, "db", "other.db", &err), 0);
	CHECK_STR(cfg.db_path, "other.db");
	CHECK_INT(config_set(&cfg, "http.listen", "nonsense", &err), -1);
	CHECK(strstr(err.buf, "ADDRESS:PORT") != NULL);
	/* The listener binds exactly a numeric address: an IPv6 one in brackets. */
	CHECK_INT(config_set(&cfg, "http.listen", "[::1]:8080", &err), 0);
	CHECK_INT(config_set(&cfg, "http.listen", "[::]:8080", &err), 0);
	CHECK_INT(config_set(&cfg, "http.listen", "0.0.0.0:8080", &err), 0);
	CHECK_INT(config_set(&cfg, "http.listen", "::1:8080", &err), -1);
	CHECK_INT(config_set(&cfg, "http.listen", "localhost:8080", &err), -1);
	CHECK_INT(config_set(&cfg, "http.listen", "[127.0.0.1]:8080", &err), -1);
	CHECK_INT(config_set(&cfg, "nope.key", "1", &err), -1);
	config_release(&cfg);

	/* /metrics: off by default, for loopback alone; a bad entry of the
	 * allow list is named, and metrics need the listener. */
	config_init(&cfg);
	CHECK_STR(cfg.http_metrics, "off");
	CHECK_STR(cfg.http_metrics_allow, "127.0.0.0/8 ::1");
	strbuf_reset(&err);
	CHECK_INT(config_set(&cfg, "http.metrics", "yes", &err), -1);
	CHECK_STR(err.buf, "http.metrics must be on or off, not 'yes'\n");
	strbuf_reset(&err);
	CHECK_INT(config_set(&cfg, "http.metrics_allow", "10.0.0.0/8 10.1.2.3/33", &err), -1);
	CHECK_STR(err.buf, "http.metrics_allow must be IPv4 or IPv6 addresses and prefixes separated by spaces "
	                   "(127.0.0.0/8 ::1 192.168.1.0/24), not '10.1.2.3/33': the prefix length must be 0 to 32\n");
	CHECK_INT(config_set(&cfg, "http.metrics_allow", "192.168.1.0/24, fd00::/8", &err), 0);
	CHECK_INT(config_set(&cfg, "http.metrics", "on", &err), 0);
	strbuf_reset(&err);
	CHECK_INT(config_validate(&cfg, &err), -1);
	CHECK_STR(err.buf, "http.metrics = on needs http.listen (the listener that serves /metrics)\n");
	CHECK_INT(config_set(&cfg, "http.listen", "127.0.0.1:0", &err), 0);
	strbuf_reset(&err);
	CHECK_INT(config_validate(&cfg, &err), 0);
	config_release(&cfg);

	/* Every error, each with its line. */
	p = write_conf("bad.conf",
	               "[general]\n"               /* 1 */
	               "lang = de\n"               /* 2 */
	               "timezone = Mars/Olympus\n" /* 3 */
	               "colour = blue\n"           /* 4 */
	               "[nowhere]\n"               /* 5 */
	               "x = 1\n"                   /* 6 */
	               "[http]\n"                  /* 7 */
	               "max_body = lots\n"         /* 8 */
	               "this line is wrong\n",     /* 9 */
	               0600);
	strbuf_reset(&err);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, NULL), -1);
	CHECK(strstr(err.buf, "bad.conf:2: general.lang must name a language with a catalogue (en, fr), not 'de'") !=
	      NULL);
	CHECK(strstr(err.buf, "bad.conf:3: general.timezone must be a zone") != NULL);
	CHECK(strstr(err.buf, "bad.conf:4: unknown key 'colour' in section [general]") != NULL);
	CHECK(strstr(err.buf, "bad.conf:6: unknown section [nowhere]") != NULL);
	CHECK(strstr(err.buf, "bad.conf:8: http.max_body must be a whole number") != NULL);
	CHECK(strstr(err.buf, "bad.conf:9: syntax error") != NULL);
	config_release(&cfg);

	/* Each message names the key that is wrong, as section.key, whatever
	 * check refused it (they once shared "api_url must start with"). */
	p = write_conf("names.conf",
	               "[matrix]\n"                        /* 1 */
	               "homeserver = not a url\n"          /* 2 */
	               "user = ensemble\n"                 /* 3 */
	               "[telegram]\n"                      /* 4 */
	               "api_url = ftp://x\n"               /* 5 */
	               "webhook_url = http://x/telegram\n" /* 6 */
	               "mode = push\n"                     /* 7 */
	               "[general]\n"                       /* 8 */
	               "log_level = loud\n"                /* 9 */
	               "bot_name = two words\n"            /* 10 */
	               "[http]\n"                          /* 11 */
	               "listen = 8080\n",                  /* 12 */
	               0600);
	strbuf_reset(&err);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, NULL), -1);
	CHECK(strstr(err.buf, "names.conf:2: matrix.homeserver must start with https:// or http://, not 'not a url'") !=
	      NULL);
	CHECK(strstr(err.buf, "names.conf:3: matrix.user must be a full Matrix id") != NULL);
	CHECK(strstr(err.buf, "names.conf:5: telegram.api_url must start with https://") != NULL);
	CHECK(strstr(err.buf, "names.conf:6: telegram.webhook_url must start with https://") != NULL);
	CHECK(strstr(err.buf, "names.conf:7: telegram.mode must be polling or webhook, not 'push'") != NULL);
	CHECK(strstr(err.buf, "names.conf:9: general.log_level must be error, warn, info or debug") != NULL);
	CHECK(strstr(err.buf, "names.conf:10: general.bot_name must be one word") != NULL);
	CHECK(strstr(err.buf, "names.conf:12: http.listen must be ADDRESS:PORT") != NULL);
	config_release(&cfg);

	/* A key given twice is a warning with both lines, not an error; the
	 * last one counts.  An indented line continuing a value (inih's
	 * multi-line values) is not a second key. */
	p = write_conf("twice.conf",
	               "[general]\n"            /* 1 */
	               "lang = fr\n"            /* 2 */
	               "timezone = UTC\n"       /* 3 */
	               "[http]\n"               /* 4 */
	               "max_body = 2048\n"      /* 5 */
	               "[general]\n"            /* 6 */
	               "lang = en\n"            /* 7 */
	               "[matrix]\n"             /* 8 */
	               "invite_from = :a.org\n" /* 9 */
	               "  :b.org\n",            /* 10 */
	               0600);
	strbuf_reset(&err);
	struct strbuf warn = STRBUF_INIT;
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, &warn), 0);
	CHECK_STR(err.buf, "");
	CHECK(strstr(warn.buf, "twice.conf:7: warning: general.lang is given twice (lines 2 and 7); line 7 counts\n") !=
	      NULL);
	CHECK(strstr(warn.buf, "timezone") == NULL);
	CHECK(strstr(warn.buf, "invite_from") == NULL);
	CHECK_STR(cfg.lang, "en");
	config_release(&cfg);

	/* SIGHUP's update: the keys that may change live are copied, the
	 * others named for a restart, the running values kept. */
	struct config next;
	struct strbuf applied = STRBUF_INIT, restart = STRBUF_INIT;
	config_init(&cfg);
	config_init(&next);
	strbuf_reset(&err);
	CHECK_INT(config_set(&next, "log_level", "debug", &err), 0);
	CHECK_INT(config_set(&next, "remind", "2d 3h", &err), 0);
	CHECK_INT(config_set(&next, "remind", "3x", &err), -1);
	CHECK(strstr(err.buf, "general.remind must be off or up to 5 times before a meetup like 1d 2h 30m") != NULL);
	CHECK_INT(config_set(&next, "telegram.chat_interval_ms", "250", &err), 0);
	CHECK_INT(config_set(&next, "matrix.invite_from", "@ann:a.org", &err), 0);
	CHECK_INT(config_set(&next, "matrix.admin_level", "100", &err), 0);
	CHECK_INT(config_set(&next, "db", "elsewhere.db", &err), 0);
	CHECK_INT(config_set(&next, "telegram.token", "123:SECRETVALUE", &err), 0);
	CHECK_INT(config_update(&cfg, &next, &applied, &restart), 0);
	CHECK_STR(applied.buf, "general.log_level = debug\ngeneral.remind = 2d 3h\ntelegram.chat_interval_ms = 250\n"
	                       "matrix.admin_level = 100\nmatrix.invite_from = @ann:a.org\n");
	CHECK_STR(restart.buf, "general.db\ntelegram.token\n");
	CHECK_STR(cfg.log_level, "debug");
	CHECK_STR(cfg.remind, "2d 3h");
	CHECK_INT(telegram_config(&cfg)->chat_interval_ms, 250);
	CHECK_INT(matrix_config(&cfg)->admin_level, 100);
	CHECK_STR(matrix_config(&cfg)->invite_from, "@ann:a.org");
	CHECK_STR(cfg.db_path, "ensemble.db");
	CHECK_STR(telegram_config(&cfg)->token, "");
	/* Once equal, nothing more to say. */
	strbuf_reset(&applied);
	strbuf_reset(&restart);
	CHECK_INT(config_set(&next, "db", "ensemble.db", &err), 0);
	CHECK_INT(config_set(&next, "telegram.token", "", &err), 0);
	CHECK_INT(config_update(&cfg, &next, &applied, &restart), 0);
	CHECK_STR(applied.buf, "");
	CHECK_STR(restart.buf, "");
	config_release(&next);
	config_release(&cfg);
	strbuf_release(&applied);
	strbuf_release(&restart);
	strbuf_release(&warn);

	/* A secret in a file others can read is refused, with the chmod. */
	p = write_conf("secret.conf", "[telegram]\ntoken = 123:ABCDEF\n", 0644);
	strbuf_reset(&err);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, NULL), -1);
	CHECK(strstr(err.buf, "chmod 600") != NULL);
	config_release(&cfg);
	chmod(p, 0600);
	strbuf_reset(&err);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, NULL), 0);
	CHECK_STR(telegram_config(&cfg)->token, "123:ABCDEF");
	config_release(&cfg);
	/* ... and so is 0640, the package's root:ensemble file. */
	chmod(p, 0640);
	strbuf_reset(&err);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, NULL), 0);
	config_release(&cfg);
	/* Without a secret, a readable file is fine. */
	p = write_conf("public.conf", "[general]\nlang = en\n", 0644);
	strbuf_reset(&err);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, p, &err, NULL), 0);
	config_release(&cfg);

	/* Secrets come from the environment too. */
	setenv("ENSEMBLE_MATRIX_PASSWORD", "hunter22", 1);
	config_init(&cfg);
	CHECK_INT(config_load_env(&cfg), 0);
	CHECK_STR(matrix_config(&cfg)->password, "hunter22");
	config_release(&cfg);
	unsetenv("ENSEMBLE_MATRIX_PASSWORD");

	/* A missing file is a clear error. */
	strbuf_reset(&err);
	config_init(&cfg);
	CHECK_INT(config_load(&cfg, "/nonexistent/ensemble.conf", &err, NULL), -1);
	CHECK(strstr(err.buf, "cannot read") != NULL);
	config_release(&cfg);

	/* The example file documents every key, and is itself valid. */
	const char *src = getenv("ENSEMBLE_SRC");
	if(src) {
		char ex[512];
		snprintf(ex, sizeof(ex), "%s/config/ensemble.conf.example", src);
		FILE *f = fopen(ex, "r");
		CHECK(f != NULL);
		char text[65536] = "";
		size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
		text[n] = '\0';
		if(f)
			fclose(f);
		const char *section;
		for(int i = 0; config_key_name(i, &section); i++) {
			char sec[64], key[64];
			snprintf(sec, sizeof(sec), "[%s]", section);
			snprintf(key, sizeof(key), "%s =", config_key_name(i, &section));
			const char *at = strstr(text, sec);
			if(!at || !strstr(at, key)) {
				fprintf(stderr, "the example does not document %s %s\n", sec, key);
				check__failed++;
			} else {
				check__passed++;
			}
		}
		strbuf_reset(&err);
		config_init(&cfg);
		CHECK_INT(config_load(&cfg, ex, &err, &err), 0);
		if(err.len)
			fprintf(stderr, "%s", err.buf);
		config_release(&cfg);
	}

	strbuf_release(&err);
	i18n_free();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if(system(cmd))
		return 1;
	return check_done();
}
