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

struct config;
struct db;

#define DAEMON_MAX_ADAPTERS 4

struct daemon {
	struct bot bot;
	struct adapter_host host; /* owned: the client and the listener */
	struct adapter adapters[DAEMON_MAX_ADAPTERS];
	int nadapters;
	uv_signal_t sig_int, sig_term, sig_hup;
	/* SIGHUP's work: reads the configuration again and applies what may
	 * change while running.  Set by the owner of the configuration; NULL
	 * when there is no file to read (SIGHUP is then only logged). */
	void (*reload)(struct daemon *d, void *user);
	void *reload_user;
};

/* Prepares d and its core on loop with the configuration and database
 * (both borrowed: they must outlive d).  Installs the SIGINT/SIGTERM
 * handlers (a clean stop) and SIGHUP's (d->reload).  0 or -1. */
int daemon_init(struct daemon *d, uv_loop_t *loop, struct config *cfg, struct db *db);

/* Starts the HTTP listener when the configuration asks for one, before the
 * adapters (they add their routes to it).  0 or -1. */
int daemon_start_http(struct daemon *d);

/* Adds and starts an adapter.  0 or -1 (logged). */
int daemon_add_adapter(struct daemon *d, const struct adapter_ops *ops);

/* Frees what daemon_init, the listener and the adapters allocated, after
 * uv_run returned. */
void daemon_release(struct daemon *d);

#endif
