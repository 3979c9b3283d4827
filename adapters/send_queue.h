/*
 * send_queue: the part of a platform's send queue that does not depend on
 * the platform.  One FIFO of sends; a lane (a chat, a room) is served in
 * the order its sends were queued, and only a lane's first send may leave;
 * a send waiting for a retry holds back its own lane only.  The platform
 * says, through a const struct send_policy, what a send's lane is and when
 * a send may leave (its rate windows); the queue chooses the next send.
 *
 * A platform's send struct holds a struct sq_entry as its FIRST member, so
 * that a struct sq_entry * and the platform's pointer convert both ways.
 * The queue owns nothing: entries are allocated and freed by the platform.
 * Single-threaded (the bot's loop).
 */
#ifndef ENSEMBLE_SEND_QUEUE_H
#define ENSEMBLE_SEND_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One send's place in the queue. */
struct sq_entry {
	struct sq_entry *next;
	bool inflight;         /* its request is out */
	int64_t not_before_ms; /* a retry's time: not before this */
};

struct send_queue {
	struct sq_entry *head, *tail;
	size_t n; /* entries queued, out or not */
	int out;  /* requests out: counted up by sq_pump, down by
	             the platform when their answers come */
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
	 * 0, or -1 when the request could not start (nothing was sent). */
	int (*start)(void *owner, struct sq_entry *e, int64_t now);
	/* For sq_gave_up: the failed attempts after which a send is given up,
	 * and the platform's log module, which its log line names. */
	int max_attempts;
	const char *module;
};

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

/* Counts the answer to one attempt of a send of p's platform (p->module
 * names it) in the metrics: accepted (ok), or failed with HTTP status
 * status (0: no answer, a network error), by class (4xx, 5xx, network,
 * other).  A 429 is also counted as a rate limit, and as a retry: every
 * platform waits and sends it again.  Called once per answer. */
void sq_answered(const struct send_policy *p, long status, bool ok);

/* Starts the requests of the sends that may leave now, while fewer than
 * p->max_inflight are out.  Returns the milliseconds after which to call it
 * again (a send waits for a time, or a request could not start: that send
 * is retried in a second), or -1 when nothing waits for a time. */
int64_t sq_pump(struct send_queue *q, const struct send_policy *p, void *owner);

#endif
