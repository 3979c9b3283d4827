/*
 * adapter: a platform (console, Telegram, Matrix) as the core sees it.
 *
 * Each platform is one `const struct adapter_ops` value filled with
 * designated initialisers, found by name in the registry (adapter.c), the
 * one place that knows every adapter.  An adapter turns what arrives into
 * `struct event`s for the core (bot_handle_batch()) and renders the
 * `struct action`s the core hands back, which the daemon routes to it by
 * platform (the core's port, bot/bot.h).  It runs on the bot's libuv loop
 * and never blocks it.
 */
#ifndef ENSEMBLE_ADAPTER_H
#define ENSEMBLE_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

struct action;
struct bot;
struct config;
struct config_section;
struct http_client;
struct http_server;

/* What the daemon lends its adapters beside the core, owned by it: the
 * HTTP client and the listener they share. */
struct adapter_host {
	struct http_client *client;   /* made at its first use: adapter_http() */
	struct http_server *listener; /* NULL when [http] listen is empty */
};

/* How much longer than its long-poll window a platform may stay silent
 * before GET /healthz says so: a long poll's HTTP timeout sits 15 s above
 * the server's wait, and the answer, the batch it brings and the next
 * request take a moment between two polls. */
#define ADAPTER_QUIET_MARGIN_MS 15000

struct adapter {
	const struct adapter_ops *ops;
	struct bot *bot;           /* the core it feeds: loop, cfg, db; borrowed */
	struct adapter_host *host; /* borrowed */
	void *priv;                /* the adapter's own state, owned by it */
	/* Whether the platform answers, for GET /healthz; clock_mono_ms()
	 * times.  started_ms is set by the daemon before start.  The adapter
	 * sets heard_ms each time its platform answers (a call answered 2xx, a
	 * webhook delivery; 0 until the first), and quiet_ms in start: how
	 * long the platform may stay silent while all is well, its long-poll
	 * window plus ADAPTER_QUIET_MARGIN_MS (0: no platform to hear from,
	 * as on the console). */
	int64_t started_ms;
	int64_t heard_ms;
	int64_t quiet_ms;
};

struct adapter_ops {
	const char *name;
	/* Optional: the adapter's section of the configuration ([telegram]):
	 * its keys, defaults, secrets, live keys and checks, a static table of
	 * the adapter's, named as the adapter is.  adapter_config_register()
	 * hands it to config/, which then reads, checks and reloads it; the
	 * adapter reads its values with config_values(cfg, name). */
	const struct config_section *config;
	/* True when the configuration asks for this adapter. */
	bool (*configured)(const struct config *cfg);
	/* Allocates priv and starts receiving on the bot's loop. 0 or -1. */
	int (*start)(struct adapter *a);
	/* Renders one action, now or through a queue.  The adapter copies what
	 * it keeps.  Returns 0 when it is delivered, 1 when it is queued (the
	 * adapter then calls bot_action_done(bot, act->stored_id) once the
	 * platform has it, or has refused it for good), or -1 when it cannot be
	 * taken at all (the adapter logs why).  Until then the action stays in
	 * the durable outbox and is sent again after a restart. */
	int (*deliver)(struct adapter *a, const struct action *act);
	/* Optional: called after each batch of bot_submit_batch() has ended
	 * and its replies were handed over, from the loop.  An adapter that
	 * held back work needing the database while the batch was open (see
	 * bot_batch_open) does it now. */
	void (*resume)(struct adapter *a);
	/* Optional: false while the platform cannot be reached (its server is
	 * down).  The scheduler then holds the jobs of its chats, so that a
	 * reminder is written when it can be sent: late, it says so and tells
	 * the time really left.  Absent: always reachable. */
	bool (*reachable)(struct adapter *a);
	/* True when nothing is waiting to be sent (used to exit at the end of
	 * a console transcript once replies are out). */
	bool (*idle)(struct adapter *a);
	/* Stops receiving and closes its libuv handles; the loop then drains. */
	void (*stop)(struct adapter *a);
	/* Frees priv, after the loop has drained. */
	void (*release)(struct adapter *a);
};

/* The HTTP client the network adapters share (the host's), made at its
 * first use: a bot that only talks on the console never loads curl's TLS,
 * and its memory.  NULL when it cannot be made (logged) or once
 * the bot is stopping. */
struct http_client *adapter_http(struct adapter *a);

/* Registers every adapter's configuration section with config/
 * (config_add_section), so that configurations initialised from now on
 * read them.  Called once at start-up, before the first config_init();
 * calling it again does nothing.  Returns 0, or -1 when config/ refuses a
 * section (a name taken twice: a bug). */
int adapter_config_register(void);

/* The adapter called name, or NULL. */
const struct adapter_ops *adapter_find(const char *name);
/* The i-th registered adapter, or NULL past the end. */
const struct adapter_ops *adapter_at(int i);

extern const struct adapter_ops console_adapter_ops;
extern const struct adapter_ops telegram_adapter_ops;
extern const struct adapter_ops matrix_adapter_ops;

#endif
