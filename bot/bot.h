/*
 * bot: the core at work.  It runs each incoming event (or batch of them)
 * through the dispatcher inside one transaction, stores the replies in the
 * durable outbox, then hands them to the platforms through its port; it
 * runs the scheduler's jobs the same way.
 *
 * The core knows no adapter.  Whoever runs it (the daemon, a test) lends it
 * a port, struct bot_port: a table of functions over the platforms it
 * serves, filled with designated initialisers as an adapter's ops are.  The
 * adapters, above the core, feed it events (bot_handle_batch and the rest)
 * and tell it what they delivered (bot_action_done).
 */
#ifndef ENSEMBLE_BOT_H
#define ENSEMBLE_BOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bot/action.h"
#include "bot/event.h"
#include "bot/sched.h"
#include "lib/strbuf.h"

struct config;
struct config_checks;
struct db;
struct bot_batch;
struct meetup_edits;

/* The core's way out to the platforms.  Each function gets the port's user
 * pointer (bot_init); all are called from the loop, but reachable. */
struct bot_port {
	/* Hands act to the platform act->platform, which copies what it
	 * keeps.  Returns 0 when the action needs nothing more (delivered, or
	 * refused for good: logged), or 1 when it waits in the outbox: queued
	 * (bot_action_done comes once the platform answered), or no platform
	 * of that name runs (it is sent at a later start). */
	int (*deliver)(void *user, const struct action *act);
	/* Optional: false while platform's server cannot be reached; the
	 * scheduler then holds the jobs of its chats.  Absent: reachable.
	 * The one function called from another thread: on PostgreSQL the
	 * scheduler's jobs run on a thread of the loop's pool (sched.c), so it
	 * reads only what may be read from there (an atomic flag). */
	bool (*reachable)(void *user, const char *platform);
	/* Optional: a batch of bot_submit_batch() has ended and its replies
	 * were handed over, or a commit that ran on a thread has ended: what
	 * a platform held back while the database was busy may go on. */
	void (*resume)(void *user);
	/* Optional: how many requests to the platforms are unanswered.  While
	 * some are, delivered outbox rows are forgotten on a thread, and a stop
	 * waits a few seconds for their answers.  Absent: none. */
	size_t (*in_flight)(void *user);
	/* Optional: the core is stopping (bot_stop): the platforms stop
	 * receiving and send nothing new; what is in flight may be answered. */
	void (*stop)(void *user);
	/* Optional: the end of a stop, once what was in flight was answered
	 * or the wait ran out: close what the port keeps on the loop. */
	void (*close)(void *user);
};

struct bot {
	uv_loop_t *loop;
	struct config *cfg;          /* borrowed */
	struct db *db;               /* borrowed */
	const struct bot_port *port; /* borrowed */
	void *port_user;
	uv_timer_t drain; /* at a clean stop: waits (a few seconds at
	                     most) for the sends in flight */
	int64_t drain_deadline;
	uv_prepare_t flush; /* before the loop sleeps: deletes the
	                       outbox rows of deliveries when enough
	                       wait in the journal */
	struct sched sched;
	struct bot_batch *batches; /* owned: bot_submit_batch's, in order */
	struct bot_batch *batches_tail;
	uv_idle_t step;             /* runs while batches wait: one event of
	                               the first per turn of the loop */
	struct meetup_edits *edits; /* while an event of a batch of several
	                               runs, the batch's: its announcements
	                               are edited once, at its end (meetup.h);
	                               NULL otherwise */
	int64_t started_ms;         /* clock_now_ms() at start, for /about */
	int64_t key_epoch;          /* real time at start, ms: with key_seq,
	                               the keys of actions that have none */
	uint64_t key_seq;
	/* On PostgreSQL, the batch running on a thread of the loop's pool
	 * (bot.c, "batches"), set and cleared by the loop's thread only;
	 * NULL when none.  While it runs the thread owns the core's state. */
	struct bot_batch *running;
	uv_thread_t loop_thread; /* the loop's, to tell the run's thread from it */
	bool rearm;              /* the run committed: the scheduler is armed */
	int due_found;           /* for the next job: db_job_next_due's result */
	int64_t due_ms;          /* and its time */
	bool stopping;
	int exit_code;
	const struct bot_web *web; /* borrowed; NULL: the web side is off */
	void *web_user;
};

/* The calendar links, which the web side (web/) makes and serves: the
 * core asks for them (/agenda, the meetups' cards) and never builds one.
 * Lent by whoever runs the web side (the daemon, when [web] public_url
 * and [http] listen are both set) with bot_set_web; without it the web is
 * off.  Called from the loop, inside the core's open transaction. */
enum bot_link {
	BOT_LINK_CHAT,   /* the chat's feed */
	BOT_LINK_GROUP,  /* the feed of group id */
	BOT_LINK_PERSON, /* the feed of user id: every meetup they come to */
	BOT_LINK_EVENT,  /* meetup #id of the chat alone, as one .ics */
	BOT_LINK_PAGE,   /* the chat's web page: its meetups, polls, groups */
	BOT_LINK_VOTE,   /* user id's own link to vote on the chat's page: a
	                    new one at each call, for 7 days */
};
struct bot_web {
	/* Appends to out the address (https://...) of the link of kind for
	 * chat_id and id, made first when there is none (written in the open
	 * transaction).  0 or -1. */
	int (*link)(void *user, enum bot_link kind, int64_t chat_id, int64_t id, struct strbuf *out);
	/* Revokes the links of chat_id's feeds (its own and its groups'): the
	 * next ones asked for are new.  0 or -1. */
	int (*revoke)(void *user, int64_t chat_id);
};

/* The core's checks of configuration values, for config_set_checks(): a
 * language must have a catalogue, reminder times must read. */
extern const struct config_checks bot_config_checks;

/* Prepares b on loop with the configuration, the database and the port
 * (all borrowed: they must outlive b), which port_user is handed to. */
int bot_init(struct bot *b, uv_loop_t *loop, struct config *cfg, struct db *db, const struct bot_port *port,
             void *port_user);

/* Lends b the web side's links (web borrowed for good, user handed to
 * its functions); NULL turns it off. */
void bot_set_web(struct bot *b, const struct bot_web *web, void *user);

/* Runs one event: opens a transaction, dispatches, commits, then hands the
 * resulting actions to the platforms.  On a storage error the transaction is
 * rolled back and the sender told that nothing changed.  Returns 0, or -1
 * when the event could not be handled at all (logged). */
int bot_handle_event(struct bot *b, const struct event *ev);

/* Runs n events as one batch: one transaction holds all their effects and,
 * when state_fn is given, the adapter's own state (a long poll's offset),
 * then the replies leave.  If one event fails, the batch is rolled back and
 * each event runs alone, then the state alone, so a bad event costs only
 * itself.  Returns 0, or -1 when some event could not be handled. */
int bot_handle_batch(struct bot *b, const struct event *evs, size_t n, int (*state_fn)(void *user, struct db *db),
                     void *user);

/* Runs n events as bot_handle_batch() does, but spread over turns of the
 * loop, one event per turn, in a transaction left open across them, so
 * that sends go on meanwhile (see bot.c).  Batches run one at a time, in
 * the order given; anyone calling db_begin() meanwhile ends the open one
 * first.  evs and all they point to are borrowed until done(user, rc) is
 * called, always from a later turn of the loop (or from bot_stop), never
 * from inside this call; rc is what bot_handle_batch() would return.
 * Returns 0, or -1 (out of memory, or stopping) when the batch was not
 * taken: then done is never called. */
int bot_submit_batch(struct bot *b, const struct event *evs, size_t n, int (*state_fn)(void *user, struct db *db),
                     void (*done)(void *user, int rc), void *user);

/* True while a submitted batch's transaction is open or committing.  A send
 * whose answer must be stored (a poll's id) waits until it is not: storing
 * it would end the batch early, or wait for the commit. */
bool bot_batch_open(const struct bot *b);

/* Inside the open transaction: removes the outbox rows of actions delivered
 * since, and stores each action of ob (setting its stored_id), so that
 * nothing is lost between the commit and the delivery. 0 or -1. */
int bot_store_actions(struct bot *b, struct outbox *ob);

/* After the commit: hands each action of ob to its platform (the port). */
void bot_deliver(struct bot *b, struct outbox *ob);

/* True on the loop's thread; false on a thread of the pool that runs a
 * batch or the scheduler's jobs for the core (PostgreSQL), where what must
 * happen on the loop (delivering, arming a timer) is left for it. */
bool bot_on_loop(const struct bot *b);

/* False while the port says platform's server cannot be reached; true
 * otherwise, and when no such platform runs. */
bool bot_reachable(struct bot *b, const char *platform);

/* An adapter's word that the action stored as stored_id has been delivered
 * (or failed for good, which it logged).  It is recorded durably at once
 * (db_outbox_done), so a crash from now on does not send it again; its
 * row goes at a later transaction. */
void bot_action_done(struct bot *b, int64_t stored_id);

/* Runs the jobs that fell due while the bot was down, and arms the timer
 * for the next.  Called once the adapters have started. */
void bot_run(struct bot *b);

/* Simulated time (the console's "~" lines): moves the clock to target_ms,
 * running whatever falls due on the way, in order. */
void bot_advance_to(struct bot *b, int64_t target_ms);

/* Begins a clean stop: the events taken are handled, the platforms stop
 * receiving (the port's stop), the sends in flight get a few seconds to be
 * answered (so that a message the platform has is not sent again at the
 * next start), then handles close (the port's close) and uv_run returns.
 * Safe to call more than once. */
void bot_stop(struct bot *b, int exit_code);

/* Frees what bot_init set up; after uv_run returned. */
void bot_release(struct bot *b);

#endif
