/*
 * daemon: the wiring of a running bot.  It owns what lives on the libuv
 * loop beside the core: the adapters' instances, the HTTP client and
 * listener they share (their host), and the signals.  It lends the core its
 * port (struct bot_port) over the adapters, routing each action to the
 * adapter of its platform, and each adapter its host.
 */
#ifndef ENSEMBLE_DAEMON_H
#define ENSEMBLE_DAEMON_H

#include <uv.h>

#include "adapters/adapter.h"
#include "bot/bot.h"
#include "daemon/health.h"

struct config;
struct db;
struct exporter;
struct web;

#define DAEMON_MAX_ADAPTERS 4

struct daemon {
	struct bot bot;
	struct adapter_host host;  /* owned: the client and the listener */
	struct exporter *exporter; /* owned: GET /metrics, or NULL */
	struct web *web;           /* owned: the calendars, or NULL when off */
	struct adapter adapters[DAEMON_MAX_ADAPTERS];
	int nadapters;
	uv_signal_t sig_int, sig_term, sig_hup;
	/* WATCHDOG=1 to systemd from the loop, when it asks for them. */
	uv_timer_t watchdog;
	bool watchdog_on;
	/* GET /healthz and /readyz, with the listener: the database's probe. */
	struct health health;
	/* SIGHUP's work: reads the configuration again and applies what may
	 * change while running.  Set by the owner of the configuration; NULL
	 * when there is no file to read (SIGHUP is then only logged). */
	void (*reload)(struct daemon *d, void *user);
	void *reload_user;
};

/* Prepares d and its core on loop with the configuration and database
 * (both borrowed: they must outlive d).  Installs the SIGINT/SIGTERM
 * handlers (a clean stop) and SIGHUP's (d->reload), and starts the
 * watchdog's pings when systemd asks for them (WatchdogSec=): WATCHDOG=1
 * from a timer of the loop, at half the interval, so that they prove the
 * loop turns.  0 or -1. */
int daemon_init(struct daemon *d, uv_loop_t *loop, struct config *cfg, struct db *db);

/* Starts the HTTP listener when the configuration asks for one, before the
 * adapters (they add their routes to it), with GET /healthz and GET
 * /readyz (daemon/health.h), and GET /metrics when [http] metrics is on
 * (daemon/exporter.h), and the web side on it when [web] public_url is
 * set too (web/web.h).  0 or -1. */
int daemon_start_http(struct daemon *d);

/* Adds and starts an adapter.  0 or -1 (logged). */
int daemon_add_adapter(struct daemon *d, const struct adapter_ops *ops);

/* Tells systemd the bot is ready (READY=1, and a STATUS= line naming the
 * adapters), once the database is open and migrated, the listener listens
 * and every adapter's start has returned: called before the loop runs.
 * Not after a first answer of the platforms: one down at boot would then
 * fail the start and have systemd restart a bot that can do nothing
 * better than wait; /healthz says whether they answer.  Says in the log
 * when systemd waits for the word and this build cannot give it. */
void daemon_ready(struct daemon *d);

/* Frees what daemon_init, the listener and the adapters allocated, after
 * uv_run returned. */
void daemon_release(struct daemon *d);

#endif
