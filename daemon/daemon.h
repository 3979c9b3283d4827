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
#include "daemon/standby.h"

struct config;
struct db;
struct exporter;
struct web;

#define DAEMON_MAX_ADAPTERS 4

/* The exit status of an instance that lost the leadership to another
 * (storage/db.h's db_set_lost_fn): not a clean stop, so that the service
 * manager starts it again (Restart=on-failure), and it then stands by. */
#define DAEMON_EXIT_LOST 3

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
	/* While another instance leads (daemon_stand_by): the wait, and what
	 * to start once this one leads. */
	struct standby standby;
	bool standing_by;
	int (*lead)(struct daemon *d, void *user);
	void *lead_user;
	/* The leadership was lost: nothing more goes to the platforms, and the
	 * bot stops at the next turn of the loop (halt). */
	bool halted;
	uv_timer_t halt;
};

/* Prepares d and its core on loop with the configuration and database
 * (both borrowed: they must outlive d).  Installs the SIGINT/SIGTERM
 * handlers (a clean stop) and SIGHUP's (d->reload), and starts the
 * watchdog's pings when systemd asks for them (WatchdogSec=): WATCHDOG=1
 * from a timer of the loop, at half the interval, so that they prove the
 * loop turns.  Losing the leadership (db_set_lost_fn) stops the bot at
 * once: nothing more is handed to the platforms, the adapters stop, and
 * the exit status is DAEMON_EXIT_LOST.  0 or -1. */
int daemon_init(struct daemon *d, uv_loop_t *loop, struct config *cfg, struct db *db);

/* Starts the HTTP listener when the configuration asks for one, before the
 * adapters (they add their routes to it), with GET /healthz and GET
 * /readyz (daemon/health.h), and GET /metrics when [http] metrics is on
 * (daemon/exporter.h): what an instance standing by serves too.  0 or
 * -1. */
int daemon_start_http(struct daemon *d);

/* Starts the web side (web/web.h) on the listener when [web] public_url
 * is set too: the leading instance's alone, since it writes (its links).
 * After daemon_start_http.  0 or -1. */
int daemon_start_web(struct daemon *d);

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

/* For an instance that does not lead (db_leads false), after
 * daemon_start_http and instead of starting the adapters: says so (the log;
 * READY=1 with STATUS=standing by to systemd, since the instance serves
 * what it should), then asks for the leadership every second
 * (daemon/standby.h).  Once it leads, calls lead(d, user), which starts
 * what a leading instance runs (the web side, the adapters, the
 * scheduler: bot_run) and calls daemon_ready; when lead fails, the bot
 * stops with exit status 1.  0, or -1 when the wait cannot start. */
int daemon_stand_by(struct daemon *d, int (*lead)(struct daemon *d, void *user), void *user);

/* Frees what daemon_init, the listener and the adapters allocated, after
 * uv_run returned. */
void daemon_release(struct daemon *d);

#endif
