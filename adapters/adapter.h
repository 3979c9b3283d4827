/*
 * adapter: a platform (console, Telegram, Matrix) as the core sees it.
 *
 * Each platform is one `const struct adapter_ops` value filled with
 * designated initialisers, found by name in the registry (adapter.c).  An
 * adapter turns what arrives into `struct event`s for bot_handle_event() and
 * renders the `struct action`s the core hands back.  It runs on the bot's
 * libuv loop and never blocks it.
 */
#ifndef ENSEMBLE_ADAPTER_H
#define ENSEMBLE_ADAPTER_H

#include <stdbool.h>

struct action;
struct bot;
struct config;

struct adapter {
	const struct adapter_ops *ops;
	struct bot *bot;
	void *priv;          /* the adapter's own state, owned by it */
};

struct adapter_ops {
	const char *name;
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

/* The adapter called name, or NULL. */
const struct adapter_ops *adapter_find(const char *name);
/* The i-th registered adapter, or NULL past the end. */
const struct adapter_ops *adapter_at(int i);

extern const struct adapter_ops console_adapter_ops;
extern const struct adapter_ops telegram_adapter_ops;
extern const struct adapter_ops matrix_adapter_ops;

#endif
