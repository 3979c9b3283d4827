/*
 * send_queue: one FIFO of sends, served lane by lane in order (see
 * send_queue.h for the contract).
 */
#include "adapters/send_queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"

void sq_append(struct send_queue *q, struct sq_entry *e)
{
	e->next = NULL;
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
	return 0;
}

/* The lanes met so far in one scan: an open-addressing set of strings
 * borrowed from the queue's entries, twice as many slots as lanes. */
struct sq__seen {
	const char *slot[2 * SEND_QUEUE_LANES_MAX];
	size_t nslots, n;
};

/* 1 when lane was met before, 0 when it is added now, -1 when the set
 * holds limit lanes already (lane not added). */
static int sq__meet(struct sq__seen *seen, const char *lane, size_t limit)
{
	uint32_t h = 2166136261u;
	for(const char *c = lane; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	size_t k = h % seen->nslots;
	while(seen->slot[k]) {
		if(!strcmp(seen->slot[k], lane))
			return 1;
		k = (k + 1) % seen->nslots;
	}
	if(seen->n == limit)
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
	struct sq__seen seen;
	seen.nslots = 2 * (lanes ? lanes : 1);
	seen.n = 0;
	memset(seen.slot, 0, seen.nslots * sizeof(seen.slot[0]));
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
static struct metrics_family sq__sent =
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

void sq_answered(const struct send_policy *p, long status, bool ok)
{
	if(ok) {
		metrics_inc(metrics_at(&sq__sent, p->module, NULL));
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

int64_t sq_pump(struct send_queue *q, const struct send_policy *p, void *owner)
{
	while(p->open(owner) && q->head && q->out < p->max_inflight) {
		int64_t now = clock_now_ms(), soonest;
		struct sq_entry *e = sq_pick(q, p, owner, now, p->floor ? p->floor(owner) : 0, &soonest);
		if(!e)
			return soonest != INT64_MAX ? soonest - now : -1;
		e->inflight = true;
		q->out++;
		if(p->start(owner, e, now) < 0) {
			q->out--;
			e->inflight = false;
			e->not_before_ms = now + 1000;
			return 1000;
		}
	}
	return -1;
}
