/*
 * send_queue: the part of a platform's send queue that does not depend on
 * the platform.  One FIFO of sends; a lane (a chat, a room) is served in
 * the order its sends were queued, and only a lane's first send may leave;
 * a send waiting for a retry holds back its own lane only.  The platform
 * says, through a const struct send_policy, what a send's lane is, when a
 * send may leave (its rate windows), how its request starts and what an
 * answer means (classify); the queue chooses the next send and acts on the
 * answer: retry at a time, back off then give up, drop, mark the lane
 * inactive, or settle.
 *
 * Settling: a send whose answer must be stored (a poll's id, a message
 * kept for later edits) is held until the database is free (no batch of
 * the core open, no commit running), then the held answers are stored
 * together in one transaction, and their sends are acknowledged to the
 * core (their outbox rows) only once it has committed: a crash before that
 * sends them again rather than losing what they are.
 *
 * A platform's send struct holds a struct sq_entry as its FIRST member, so
 * that a struct sq_entry * and the platform's pointer convert both ways.
 * Entries are allocated by the platform; once queued, the queue decides
 * when one is done with and hands it back to p->release.  Single-threaded
 * (the bot's loop), except a commit that p->commit_on_thread lets run on a
 * thread of the loop's pool.
 */
#ifndef ENSEMBLE_SEND_QUEUE_H
#define ENSEMBLE_SEND_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct http_result;
struct uv_loop_s;

/* One send's place in the queue. */
struct sq_entry {
	struct sq_entry *next;
	bool queued;                /* in the FIFO (sq_append to sq_unlink) */
	bool inflight;              /* its request is out, or its answer is held */
	int64_t not_before_ms;      /* a retry's time: not before this */
	int attempts;               /* failed attempts so far (sq_gave_up) */
	int64_t stored_id;          /* the outbox row to acknowledge, 0 for none */
	struct sq_entry *next_held; /* in the held answers, in order */
};

struct send_queue {
	struct sq_entry *head, *tail;
	size_t n; /* entries queued, out or not */
	int out;  /* requests out: counted up by sq_pump, down by
	             sq_answered */
	/* Answered sends whose answers wait to be stored (sq_settle), in the
	 * order they came, nheld of them. */
	struct sq_entry *held, **held_tail;
	size_t nheld;
	/* Where answers are stored, and the loop whose pool may commit them;
	 * borrowed, set by the platform before its first send. */
	struct db *db;
	struct uv_loop_s *loop;
};

/* What an answer means for its send, as the platform's classify says. */
enum sq_verdict {
	SQ_SENT,     /* delivered: stored if it must be (struct sq_answer's
	                store), then acknowledged */
	SQ_RETRY_AT, /* rate limited: sent again after the wait asked for
	                (never given up for that) */
	SQ_BACK_OFF, /* a network or server failure: sent again after
	                sq_backoff_ms, given up after max_attempts */
	SQ_REFUSED,  /* refused for good: logged, dropped, acknowledged */
	SQ_GONE,     /* the chat refuses the bot: its lane is marked
	                inactive, the send dropped and acknowledged */
	SQ_AGAIN,    /* the platform has dealt with it (changed the send,
	                logs in again): it stays queued as it is, and goes
	                again as soon as it may */
};

/* The details of a verdict, filled by classify (zeroed before). */
struct sq_answer {
	int code;         /* the platform's error code, else the HTTP status
	                     (set to it before classify) */
	int64_t wait_ms;  /* SQ_RETRY_AT: the wait asked for; <= 0: a second */
	bool store;       /* SQ_SENT: what it is must be stored (p->store) */
	bool quiet;       /* SQ_REFUSED: expected (an edit that changes
	                     nothing): logged for debugging only */
	char detail[192]; /* SQ_REFUSED, SQ_GONE: the reason, for the log */
};

#define SEND_QUEUE_LANES_MAX 512

/* What a platform tells the queue.  owner is the pointer given to sq_pick. */
struct send_policy {
	/* Lanes looked at in one sq_pick, at most SEND_QUEUE_LANES_MAX:
	 * enough choice for one pump, a bound on its cost. */
	size_t lanes;
	/* e's lane, borrowed from e; NULL when e has none (then it holds back
	 * nothing and nothing holds it back). */
	const char *(*lane)(const struct sq_entry *e);
	/* Optional: true when e must not leave yet for a reason of the
	 * platform's other than time (it is then passed over, its lane held). */
	bool (*held)(void *owner, const struct sq_entry *e);
	/* The earliest time e may leave: its not_before_ms and the platform's
	 * rate windows for its lane.  Called once per candidate and pick; may
	 * update what e is (a lane found late), not the queue. */
	int64_t (*ready_at)(void *owner, struct sq_entry *e);
	/* For sq_pump.  Requests out at once, at most. */
	int max_inflight;
	/* True while the platform may send at all (started, not stopping). */
	bool (*open)(void *owner);
	/* Optional: the earliest time any send may leave (a limit over all
	 * lanes, such as a global rate); 0 for none. */
	int64_t (*floor)(void *owner);
	/* Records that e leaves at now (the rate windows) and starts its
	 * request, whose answer will count q->out down and clear e->inflight.
	 * 0; 1 when e turned out to have nothing left to send (it is then
	 * dropped: acknowledged and released); -1 when the request could not
	 * start (nothing was sent; e is tried again a second later). */
	int (*start)(void *owner, struct sq_entry *e, int64_t now);
	/* For sq_gave_up: the failed attempts after which a send is given up,
	 * and the platform's log module, which its log lines name. */
	int max_attempts;
	const char *module;

	/* For sq_answered and sq_settle. */
	/* True when a send repeated after a crash is recognised and not
	 * posted twice (Matrix's transaction ids).  Then an answered send
	 * leaves the queue at once, its answer is stored when the queue has
	 * emptied (more answers to a transaction), and a send whose answer
	 * could not be stored is not acknowledged: it goes again at the next
	 * start.  False (Telegram): an answered send keeps its lane until its
	 * answer is stored, which is as soon as the database is free, and it
	 * is acknowledged even when its answer could not be stored, as sending
	 * it again would post it twice. */
	bool idempotent;
	/* True to commit the held answers on a thread of the loop's pool
	 * when they are many enough to be worth it (SQ_THREAD_MIN). */
	bool commit_on_thread;
	/* True when store touches only the database and its entry: then,
	 * where each statement is a round trip (PostgreSQL), the held answers'
	 * whole transaction runs on a thread of the loop's pool, and their
	 * sends are released once it has ended. */
	bool store_on_thread;
	/* True when store writes nothing but kv rows (db_kv_set,
	 * db_kv_delete): then, where the database can journal them
	 * (db_journal_run: SQLite), the held answers' rows and deliveries go
	 * to its journal in one write(), not a transaction, and they are
	 * acknowledged at once. */
	bool store_journaled;
	/* True once the platform is stopping: an answer that is not a 200
	 * then leaves its send queued (in the outbox, sent again at the next
	 * start), and held answers are stored at once. */
	bool (*stopping)(void *owner);
	/* Writes what e is, for the log, such as "sendMessage to chat 42". */
	void (*describe)(const struct sq_entry *e, char *buf, size_t len);
	/* What the answer res to e's request means, its details in *a.  It
	 * may note what the answer says of the platform (reachable or not),
	 * keep in e what p->store will need, and, for SQ_AGAIN, change e or
	 * act (log in again); never touch the queue but through the
	 * platform's own enqueue. */
	enum sq_verdict (*classify)(void *owner, struct sq_entry *e, const struct http_result *res,
	                            struct sq_answer *a);
	/* Optional: e was sent and, when p->idempotent, has left the queue;
	 * called before its answer is stored (an RSVP's reactions go now). */
	void (*sent)(void *owner, struct sq_entry *e);
	/* Writes what the sent e is (kept by classify) in the transaction
	 * sq_settle has open.  0, or -1 when a write failed. */
	int (*store)(void *owner, struct sq_entry *e);
	/* Marks lane inactive: its chat refuses the bot (SQ_GONE). */
	void (*inactive)(void *owner, const char *lane);
	/* True when held answers may be stored now: no batch of the core is
	 * open (storing would end it early) and no commit runs on a thread
	 * (storing would wait for it). */
	bool (*db_free)(void *owner);
	/* Tells the core that the send stored as stored_id is done with
	 * (bot_action_done).  Also called after a commit on a thread, from
	 * the loop: the owner outlives the loop's run. */
	void (*ack)(void *owner, int64_t stored_id);
	/* Optional: a send has left the queue (the platform may take updates
	 * again once its queue is short). */
	void (*left)(void *owner);
	/* Frees e, done with or at sq_release. */
	void (*release)(struct sq_entry *e);
};

/* Held answers at most before they are stored whether the database is
 * free or not, and the fewest whose commit runs on a thread. */
#define SQ_HELD_MAX 64
#define SQ_THREAD_MIN 4
/* A back-off's doublings at most (sq_backoff_ms): some two minutes. */
#define SQ_MAX_DOUBLINGS 8

/* Appends e (not queued, e->next ignored) at the tail. */
void sq_append(struct send_queue *q, struct sq_entry *e);

/* Takes e out of q, wherever it sits.  0, or -1 when e is not in q. */
int sq_unlink(struct send_queue *q, struct sq_entry *e);

/* The first entry that may leave at now: the first of its lane, not out,
 * not held, whose ready_at and floor (a limit over all lanes, 0 for none)
 * are both <= now.  NULL when none may, with *soonest the earliest time one
 * of the candidates may (INT64_MAX when none waits for a time). */
struct sq_entry *sq_pick(const struct send_queue *q, const struct send_policy *p, void *owner, int64_t now,
                         int64_t floor, int64_t *soonest);

/* The wait before a send's retry number attempts after a network or
 * server failure: 500 ms doubled attempts times (at most max_doublings),
 * plus a random part of up to half of that, so that the sends failed
 * together do not come back together. */
int64_t sq_backoff_ms(int attempts, int max_doublings);

/* Counts one more failed attempt of a send in *attempts.  True when that
 * makes p->max_attempts: the send is to be given up (the caller takes it
 * off the queue), which is logged under p->module as "<what> failed N
 * times: given up", what being fmt's text (at most 511 bytes kept).
 * False when the caller is to schedule its retry (counted in the
 * metrics). */
bool sq_gave_up(const struct send_policy *p, int *attempts, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Starts the requests of the sends that may leave now, while fewer than
 * p->max_inflight are out.  Returns the milliseconds after which to call it
 * again (a send waits for a time, or a request could not start: that send
 * is retried in a second), or -1 when nothing waits for a time. */
int64_t sq_pump(struct send_queue *q, const struct send_policy *p, void *owner);

/* The answer res to e's request (started by p->start) has come: counts it
 * down in q->out, asks p->classify what it means and acts on it, logging
 * under p->module.  SQ_SENT: e is acknowledged and released, or, when its
 * answer must be stored, held (sq_settle), stored now if the database is
 * free (p->db_free) or q->nheld reaches SQ_HELD_MAX.  SQ_RETRY_AT and
 * SQ_BACK_OFF: e waits in its lane until its time (or is given up:
 * dropped).  SQ_REFUSED and SQ_GONE: e is dropped (acknowledged and
 * released).  SQ_AGAIN: e stays as it is.  While p->stopping, an answer
 * other than a 200 leaves e queued.  Every answer but a step of a send
 * (a 200 for SQ_AGAIN: a direct chat made) is counted in the metrics:
 * accepted, or failed by class of its status; a 429 also as a rate limit
 * and a retry, and a back-off as a retry.  The caller pumps afterwards. */
void sq_answered(struct send_queue *q, const struct send_policy *p, void *owner, struct sq_entry *e,
                 const struct http_result *res);

/* Stores the held answers now, in one transaction (on a thread when
 * p->commit_on_thread and they are at least SQ_THREAD_MIN, the platform
 * not stopping), even if that ends the core's open batch early: for a
 * reader of what they store.  Their sends are released at once and
 * acknowledged once it has committed (see p->idempotent when it fails).
 * Nothing happens without held answers. */
void sq_settle(struct send_queue *q, const struct send_policy *p, void *owner);

/* A batch of the core, or a commit on a thread, has ended (adapter_ops.
 * resume): stores the held answers when they are due as sq_answered says,
 * and, for an idempotent platform, whenever its queue is empty (even if
 * the core's next batch is open already: that ends it early).  The caller
 * pumps afterwards. */
void sq_resume(struct send_queue *q, const struct send_policy *p, void *owner);

/* Releases every send, queued or held, without acknowledging any: they
 * stay in the outbox and are sent again at the next start (adapter_ops.
 * release). */
void sq_release(struct send_queue *q, const struct send_policy *p);

#endif
