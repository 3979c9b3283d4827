/*
 * send_queue: one FIFO of sends, served lane by lane in order, the answers
 * acted on and settled after their commit (see send_queue.h for the
 * contract).
 */
#include "adapters/send_queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http_client.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "storage/db.h"

void sq_append(struct send_queue *q, struct sq_entry *e)
{
	e->next = NULL;
	e->queued = true;
	if(q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->n++;
}

int sq_unlink(struct send_queue *q, struct sq_entry *e)
{
	struct sq_entry **pp = &q->head, *prev = NULL;
	while(*pp && *pp != e) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if(!*pp)
		return -1;
	*pp = e->next;
	if(q->tail == e)
		q->tail = prev;
	q->n--;
	e->queued = false;
	return 0;
}

/* The lanes met so far in one scan: an open-addressing set of strings
 * borrowed from the queue's entries, at least twice as many slots as the
 * lanes it may hold, a power of two (mask is their number less one). */
struct sq__seen {
	const char *slot[2 * SEND_QUEUE_LANES_MAX];
	size_t mask, n;
};

_Static_assert((SEND_QUEUE_LANES_MAX & (SEND_QUEUE_LANES_MAX - 1)) == 0, "a power of two");

/* 1 when lane was met before, 0 when it is added now, -1 when the set
 * holds limit lanes already (lane not added). */
static int sq__meet(struct sq__seen *seen, const char *lane, size_t limit)
{
	uint32_t h = 2166136261u;
	for(const char *c = lane; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	size_t k = h & seen->mask;
	while(seen->slot[k]) {
		if(!strcmp(seen->slot[k], lane))
			return 1;
		k = (k + 1) & seen->mask;
	}
	/* Half full at most, so that a probe always ends on an empty slot
	 * whatever the queue's count says. */
	if(seen->n == limit || 2 * (seen->n + 1) > seen->mask + 1)
		return -1;
	seen->slot[k] = lane;
	seen->n++;
	return 0;
}

/* True when e may be considered at all: not out and not held. */
static bool sq__candidate(const struct send_policy *p, void *owner, const struct sq_entry *e)
{
	return !e->inflight && !(p->held && p->held(owner, e));
}

struct sq_entry *sq_pick(const struct send_queue *q, const struct send_policy *p, void *owner, int64_t now,
                         int64_t floor, int64_t *soonest)
{
	size_t lanes = p->lanes < SEND_QUEUE_LANES_MAX ? p->lanes : SEND_QUEUE_LANES_MAX;
	*soonest = INT64_MAX;
	/* Most often the head (the first of its lane) may go: no scan then. */
	struct sq_entry *head = q->head;
	if(head && sq__candidate(p, owner, head)) {
		int64_t at = p->ready_at(owner, head);
		if(at <= now && floor <= now)
			return head;
	}
	/* A scan meets no more lanes than the queue holds entries: the set is
	 * sized (and cleared) for that, not for every lane allowed.  Cleared
	 * whole at every pick, it cost more than the scan while a batch held
	 * the cards' sends back. */
	size_t most = lanes && lanes < q->n ? lanes : q->n, nslots = 16;
	while(nslots < 2 * most)
		nslots *= 2;
	struct sq__seen seen;
	seen.mask = nslots - 1;
	seen.n = 0;
	memset(seen.slot, 0, nslots * sizeof(seen.slot[0]));
	for(struct sq_entry *e = q->head; e; e = e->next) {
		const char *lane = p->lane(e);
		if(lane) {
			int met = sq__meet(&seen, lane, lanes);
			if(met > 0)
				continue;
			if(met < 0)
				break; /* enough choice for one pump */
		}
		if(!sq__candidate(p, owner, e))
			continue;
		int64_t at = p->ready_at(owner, e);
		if(at < floor)
			at = floor;
		if(at <= now)
			return e;
		if(at < *soonest)
			*soonest = at;
	}
	return NULL;
}

int64_t sq_backoff_ms(int attempts, int max_doublings)
{
	int64_t wait = 500LL << (attempts < max_doublings ? attempts : max_doublings);
	return wait + rand() % (wait / 2 + 1);
}

/* The send side's metrics, by platform. */
static struct metrics_family sq__accepted =
	METRICS_COUNTER("ensemble_replies_sent_total", "Messages (replies, posts, edits, polls) the platform accepted.",
                        "platform", NULL);
static struct metrics_family sq__failed =
	METRICS_COUNTER("ensemble_send_failures_total",
                        "Failed attempts to send a message, by class of the answer (4xx, 5xx, network: none, "
                        "other), 429s included.",
                        "platform", "class");
static struct metrics_family sq__limited = METRICS_COUNTER(
	"ensemble_rate_limited_total", "Sends the platform refused with 429 (too many requests).", "platform", NULL);
static struct metrics_family sq__retries =
	METRICS_COUNTER("ensemble_send_retries_total",
                        "Sends tried again after a rate limit, a server error or a network error.", "platform", NULL);

/* Counts the answer to one attempt of a send of p's platform (p->module
 * names it): accepted (ok), or failed with HTTP status status (0: no
 * answer, a network error), by class (4xx, 5xx, network, other).  A 429
 * is also counted as a rate limit, and as a retry: every platform waits
 * and sends it again. */
static void sq__count(const struct send_policy *p, long status, bool ok)
{
	if(ok) {
		metrics_inc(metrics_at(&sq__accepted, p->module, NULL));
		return;
	}
	const char *class = status == 0                     ? "network"
	                    : status >= 400 && status < 500 ? "4xx"
	                    : status >= 500 && status < 600 ? "5xx"
	                                                    : "other";
	metrics_inc(metrics_at(&sq__failed, p->module, class));
	if(status == 429) {
		metrics_inc(metrics_at(&sq__limited, p->module, NULL));
		metrics_inc(metrics_at(&sq__retries, p->module, NULL));
	}
}

bool sq_gave_up(const struct send_policy *p, int *attempts, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	if(++*attempts < p->max_attempts) {
		metrics_inc(metrics_at(&sq__retries, p->module, NULL));
		return false;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERROR, p->module, "%s failed %d times: given up", what, *attempts);
	return true;
}

static void sq__drop(struct send_queue *q, const struct send_policy *p, void *owner, struct sq_entry *e);

int64_t sq_pump(struct send_queue *q, const struct send_policy *p, void *owner)
{
	while(p->open(owner) && q->head && q->out < p->max_inflight) {
		int64_t now = clock_now_ms(), soonest;
		struct sq_entry *e = sq_pick(q, p, owner, now, p->floor ? p->floor(owner) : 0, &soonest);
		if(!e)
			return soonest != INT64_MAX ? soonest - now : -1;
		e->inflight = true;
		q->out++;
		int rc = p->start(owner, e, now);
		if(!rc)
			continue;
		q->out--;
		e->inflight = false;
		if(rc > 0) {
			sq__drop(q, p, owner, e); /* nothing left to send */
			continue;
		}
		e->not_before_ms = now + 1000;
		return 1000;
	}
	return -1;
}

/* ---- answers ---- */

/* Takes e out of the queue, if it is in it, and tells the platform. */
static void sq__leave(struct send_queue *q, const struct send_policy *p, void *owner, struct sq_entry *e)
{
	if(e->queued && !sq_unlink(q, e) && p->left)
		p->left(owner);
}

/* e is done with (sent, refused for good, given up): off the queue,
 * acknowledged, released. */
static void sq__drop(struct send_queue *q, const struct send_policy *p, void *owner, struct sq_entry *e)
{
	sq__leave(q, p, owner, e);
	if(e->stored_id)
		p->ack(owner, e->stored_id);
	p->release(e);
}

/* True when the held answers are to be stored now (see sq_answered). */
static bool sq__settle_due(const struct send_queue *q, const struct send_policy *p, void *owner)
{
	if(!q->held)
		return false;
	if(p->stopping(owner) || q->nheld >= SQ_HELD_MAX)
		return true;
	/* A platform whose answered sends keep their lanes stores as soon as
	 * it may; one whose sends have left waits for the queue to empty,
	 * storing more answers in one transaction. */
	return p->db_free(owner) && (!p->idempotent || !q->head);
}

/* e was delivered: released, or held when its answer must be stored. */
static void sq__sent(struct send_queue *q, const struct send_policy *p, void *owner, struct sq_entry *e, bool store)
{
	/* A non-idempotent send keeps its lane until its answer is stored: a
	 * crash meanwhile repeats it, as it would any send in flight, and
	 * nothing after it in its chat. */
	bool keep_lane = store && !p->idempotent;
	if(!keep_lane) {
		e->inflight = false;
		sq__leave(q, p, owner, e); /* first: what follows may queue more */
	}
	if(p->sent)
		p->sent(owner, e);
	if(!store) {
		sq__drop(q, p, owner, e);
		return;
	}
	e->next_held = NULL;
	if(!q->held)
		q->held_tail = &q->held;
	*q->held_tail = e;
	q->held_tail = &e->next_held;
	q->nheld++;
	if(sq__settle_due(q, p, owner)) {
		sq_settle(q, p, owner);
	} else if(keep_lane) {
		char what[256];
		p->describe(e, what, sizeof(what));
		log_msg(LOG_DEBUG, p->module, "%s answered while the database is busy: settled after", what);
	}
}

/* The log's words for a failure: the HTTP status, or the network's. */
static const char *sq__why(const struct http_result *res, char *buf, size_t len)
{
	if(!res->status)
		return res->error ? res->error : "no answer";
	snprintf(buf, len, "HTTP %ld", res->status);
	return buf;
}

void sq_answered(struct send_queue *q, const struct send_policy *p, void *owner, struct sq_entry *e,
                 const struct http_result *res)
{
	struct sq_answer a = { .code = (int)res->status };
	char what[256], why[32];
	int64_t wait;
	q->out--;
	if(p->stopping(owner) && res->status != 200) {
		sq__count(p, res->status, false);
		e->inflight = false;
		return; /* left in the outbox: sent again at the next start */
	}
	enum sq_verdict v = p->classify(owner, e, res, &a);
	if(v != SQ_AGAIN || res->status != 200) /* not a step of a send, such as a direct chat made */
		sq__count(p, res->status, v == SQ_SENT);
	if(v == SQ_SENT) {
		sq__sent(q, p, owner, e, a.store);
		return;
	}
	e->inflight = false;
	p->describe(e, what, sizeof(what));
	switch(v) {
	case SQ_SENT:
		break;
	case SQ_RETRY_AT:
		wait = a.wait_ms > 0 ? a.wait_ms : 1000;
		e->not_before_ms = clock_now_ms() + wait;
		log_msg(LOG_WARN, p->module, "%s: rate limited, retrying in %lld ms", what, (long long)wait);
		break;
	case SQ_BACK_OFF:
		if(sq_gave_up(p, &e->attempts, "%s", what)) {
			sq__drop(q, p, owner, e);
			break;
		}
		wait = sq_backoff_ms(e->attempts, SQ_MAX_DOUBLINGS);
		e->not_before_ms = clock_now_ms() + wait;
		log_msg(LOG_WARN, p->module, "%s failed (%s); retrying in %lld ms (attempt %d)", what,
		        sq__why(res, why, sizeof(why)), (long long)wait, e->attempts);
		break;
	case SQ_REFUSED:
		log_msg(a.quiet ? LOG_DEBUG : LOG_ERROR, p->module, "%s refused (%d): %s", what, a.code,
		        a.detail[0] ? a.detail : "?");
		sq__drop(q, p, owner, e);
		break;
	case SQ_GONE:
		log_msg(LOG_WARN, p->module, "%s refused (%d%s%s): the chat refuses the bot, marked inactive", what,
		        a.code, a.detail[0] ? " " : "", a.detail);
		p->inactive(owner, p->lane(e));
		sq__drop(q, p, owner, e);
		break;
	case SQ_AGAIN:
		break;
	}
}

/* ---- settling ---- */

/* The held answers sq_settle stores: the sends, then the outbox rows to
 * acknowledge once committed. */
struct sq__settling {
	struct send_queue *q; /* NULL once the step has run */
	struct db *db;
	const struct send_policy *p;
	void *owner;
	struct sq_entry *list;
	size_t n, nids;
	bool thread;
	bool whole_on_thread; /* the transaction runs on a thread
	                         (db_transact_run): released after it */
	int64_t ids[];
};

/* Releases the settled sends, keeping their outbox rows in st->ids. */
static void sq__settled(struct sq__settling *st)
{
	while(st->list) {
		struct sq_entry *e = st->list;
		st->list = e->next_held;
		sq__leave(st->q, st->p, st->owner, e);
		if(e->stored_id)
			st->ids[st->nids++] = e->stored_id;
		st->p->release(e);
	}
	st->q = NULL;
}

/* db_transact_start's step: stores every held answer, then releases their
 * sends (their lanes go on while the commit runs).  1 to commit on a
 * thread, 0 here, -1 to roll back when a write failed. */
static int sq__store_step(struct db *db, void *user)
{
	struct sq__settling *st = user;
	int rc = 0;
	(void)db;
	for(struct sq_entry *e = st->list; e; e = e->next_held)
		if(st->p->store(st->owner, e))
			rc = -1;
	if(!st->whole_on_thread)
		sq__settled(st);
	return rc ? -1 : st->thread ? 1 : 0;
}

/* After the commit (rc 0) or the rollback: acknowledges the sends, unless
 * they are better sent again (see send_policy.idempotent). */
static void sq__store_done(void *user, int rc)
{
	struct sq__settling *st = user;
	const struct send_policy *p = st->p;
	if(st->q)
		sq__settled(st);
	if(rc)
		log_msg(LOG_WARN, p->module, "%zu answer(s) could not be recorded (polls, messages kept for edits): %s",
		        st->n,
		        p->idempotent ? "they are sent again at the next start"
		                      : "acknowledged all the same, as sending them again would post them twice");
	/* The deliveries' records in one write(): nothing is sent between
	 * them. */
	db_journal_hold(st->db);
	for(size_t i = 0; i < st->nids; i++)
		if(!rc || !p->idempotent)
			p->ack(st->owner, st->ids[i]);
	db_journal_flush(st->db);
	free(st);
}

void sq_settle(struct send_queue *q, const struct send_policy *p, void *owner)
{
	if(!q->held)
		return;
	struct sq__settling *st = malloc(sizeof(*st) + q->nheld * sizeof(st->ids[0]));
	if(!st)
		return; /* they wait for the next settle */
	*st = (struct sq__settling){ .q = q, .db = q->db, .p = p, .owner = owner, .list = q->held, .n = q->nheld };
	q->held = NULL;
	q->nheld = 0;
	/* Where the database journals them, their records go with the
	 * deliveries' in sq__store_done's one write() (st->thread still
	 * false: nothing to commit); else a transaction. */
	if(p->store_journaled) {
		db_journal_hold(st->db);
		int journaled = db_journal_run(st->db, sq__store_step, st);
		if(journaled != 1) {
			sq__store_done(st, journaled);
			return;
		}
		db_journal_flush(st->db);
	}
	st->thread = p->commit_on_thread && st->n >= SQ_THREAD_MIN && !p->stopping(owner);
	st->whole_on_thread = p->store_on_thread && db_round_trips(q->db) && !p->stopping(owner);
	if(st->whole_on_thread && !db_transact_run(q->db, q->loop, sq__store_step, sq__store_done, st))
		return;
	st->whole_on_thread = false;
	if(db_transact_start(q->db, q->loop, sq__store_step, sq__store_done, st)) {
		/* No transaction: nothing was stored. */
		sq__settled(st);
		sq__store_done(st, -1);
	}
}

void sq_resume(struct send_queue *q, const struct send_policy *p, void *owner)
{
	/* An idempotent platform's answers wait for nothing but the queue to
	 * empty here: a batch has just ended, and storing them may end the
	 * next one, already open, early. */
	if(sq__settle_due(q, p, owner) || (p->idempotent && q->held && !q->head))
		sq_settle(q, p, owner);
}

void sq_release(struct send_queue *q, const struct send_policy *p)
{
	/* The held sends that left the queue first (an idempotent platform's);
	 * the others are in it. */
	while(q->held) {
		struct sq_entry *e = q->held;
		q->held = e->next_held;
		if(!e->queued)
			p->release(e);
	}
	q->nheld = 0;
	while(q->head) {
		struct sq_entry *e = q->head;
		q->head = e->next;
		p->release(e);
	}
	q->tail = NULL;
	q->n = 0;
}
