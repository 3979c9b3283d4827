/* The shared send queue's answers and settling (adapters/send_queue.c),
 * driven by a fake platform: an answer to store is held while the
 * database is busy and acknowledged only once its transaction committed
 * (on a thread too), a 429 is sent again at the time it asked, a server
 * failure backs off then is given up, a 403 marks the lane inactive, and a
 * failure while stopping leaves the send in the outbox; a send that finds
 * at its start it has nothing left to send is dropped and acknowledged,
 * one that cannot start is tried again a second later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "adapters/http_client.h"
#include "adapters/send_queue.h"
#include "lib/clock.h"
#include "storage/db.h"
#include "tests/unit/check.h"
#include "tests/unit/pg.h"

/* A fake platform's send: the verdict its answer gets. */
struct fake_send {
	struct sq_entry entry; /* first, as send_queue.h requires */
	char lane[16];
	enum sq_verdict verdict;
	int64_t wait_ms;
	bool store;
	int start_rc; /* what its start returns */
	int starts;
	bool held; /* held back (test_pick_lanes) */
};

/* The fake platform: what the queue told it. */
struct fake {
	struct db *db;
	bool stopping, db_free, store_fails;
	int64_t acked[16];
	int nacked, nstored;
	char inactive[16];
};

static const char *fake_lane(const struct sq_entry *e)
{
	return ((const struct fake_send *)e)->lane;
}

static int64_t fake_ready_at(void *owner, struct sq_entry *e)
{
	(void)owner;
	return e->not_before_ms;
}

static bool fake_open(void *owner)
{
	return !((struct fake *)owner)->stopping;
}

static int fake_start(void *owner, struct sq_entry *e, int64_t now)
{
	struct fake_send *s = (struct fake_send *)e;
	(void)owner;
	(void)now;
	s->starts++;
	return s->start_rc;
}

static bool fake_stopping(void *owner)
{
	return ((struct fake *)owner)->stopping;
}

static void fake_describe(const struct sq_entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "send to %s", ((const struct fake_send *)e)->lane);
}

static enum sq_verdict fake_classify(void *owner, struct sq_entry *e, const struct http_result *res,
                                     struct sq_answer *a)
{
	const struct fake_send *s = (const struct fake_send *)e;
	(void)owner;
	(void)res;
	a->wait_ms = s->wait_ms;
	a->store = s->store;
	return s->verdict;
}

/* Stores the send's lane under its outbox row's number. */
static int fake_store(void *owner, struct sq_entry *e)
{
	struct fake *f = owner;
	char key[32];
	snprintf(key, sizeof(key), "sent.%lld", (long long)e->stored_id);
	f->nstored++;
	return f->store_fails || db_kv_set(f->db, key, ((struct fake_send *)e)->lane) ? -1 : 0;
}

static void fake_inactive(void *owner, const char *lane)
{
	struct fake *f = owner;
	snprintf(f->inactive, sizeof(f->inactive), "%s", lane);
}

static bool fake_db_free(void *owner)
{
	return ((struct fake *)owner)->db_free;
}

static void fake_ack(void *owner, int64_t stored_id)
{
	struct fake *f = owner;
	f->acked[f->nacked++] = stored_id;
}

static void fake_release(struct sq_entry *e)
{
	free(e);
}

static struct send_policy policy = {
	.lanes = 16,
	.lane = fake_lane,
	.ready_at = fake_ready_at,
	.max_inflight = 16,
	.open = fake_open,
	.start = fake_start,
	.max_attempts = 3,
	.module = "fake",
	.commit_on_thread = true,
	.stopping = fake_stopping,
	.describe = fake_describe,
	.classify = fake_classify,
	.store = fake_store,
	.inactive = fake_inactive,
	.db_free = fake_db_free,
	.ack = fake_ack,
	.release = fake_release,
};

static struct fake_send *queue(struct send_queue *q, const char *lane, int64_t stored_id)
{
	struct fake_send *s = calloc(1, sizeof(*s));
	snprintf(s->lane, sizeof(s->lane), "%s", lane);
	s->entry.stored_id = stored_id;
	sq_append(q, &s->entry);
	return s;
}

/* Sends what may leave now and answers s with verdict (a 200 for
 * SQ_SENT, else a 500): true when s was among those sent. */
static bool answer(struct send_queue *q, struct fake *f, struct fake_send *s, enum sq_verdict verdict)
{
	struct http_result res = { .status = verdict == SQ_SENT ? 200 : 500, .body = "", .retry_after = -1 };
	sq_pump(q, &policy, f);
	if(!s->entry.inflight)
		return false;
	s->verdict = verdict;
	sq_answered(q, &policy, f, &s->entry, &res);
	return true;
}

/* What another connection reads of key: 1 with it present, 0 absent. */
static int stored(struct db *db, const char *key)
{
	struct strbuf v = STRBUF_INIT;
	int rc = db_kv_get(db, key, &v);
	strbuf_release(&v);
	return rc;
}

/* A platform whose sends may be repeated (Telegram): an answer to store
 * keeps its lane until stored, and is acknowledged only after the commit,
 * which runs on a thread for many answers. */
static void test_settle_in_lane(struct send_queue *q, struct fake *f, uv_loop_t *loop)
{
	policy.idempotent = false;
	f->db_free = false;
	struct fake_send *a = queue(q, "A", 1), *a2 = queue(q, "A", 2);
	a->store = true;
	CHECK(answer(q, f, a, SQ_SENT));
	CHECK_INT(f->nacked, 0);
	CHECK_INT(q->nheld, 1);
	CHECK(!answer(q, f, a2, SQ_SENT)); /* its lane waits for the store */
	CHECK_INT(stored(f->db, "sent.1"), 0);
	f->db_free = true;
	sq_resume(q, &policy, f); /* one answer: committed here */
	CHECK_INT(stored(f->db, "sent.1"), 1);
	CHECK_INT(f->nacked, 1);
	CHECK_INT(f->acked[0], 1);
	CHECK(answer(q, f, a2, SQ_SENT)); /* the lane goes on */
	CHECK_INT(f->nacked, 2);

	/* Four answers at once: committed on a thread, acknowledged after. */
	f->db_free = false;
	f->nacked = 0;
	struct fake_send *s[4];
	const char *lanes[4] = { "B", "C", "D", "E" };
	for(int i = 0; i < 4; i++) {
		s[i] = queue(q, lanes[i], 10 + i);
		s[i]->store = true;
		CHECK(answer(q, f, s[i], SQ_SENT));
	}
	f->db_free = true;
	sq_resume(q, &policy, f);
	CHECK(db_busy(f->db));
	CHECK_INT(f->nacked, 0);
	CHECK(q->head == NULL); /* their lanes did not wait for the commit */
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(f->nacked, 4);
	CHECK_INT(stored(f->db, "sent.13"), 1);

	/* A store that fails: acknowledged all the same (sending again
	 * would post twice). */
	f->nacked = 0;
	f->store_fails = true;
	struct fake_send *bad = queue(q, "F", 20);
	bad->store = true;
	CHECK(answer(q, f, bad, SQ_SENT));
	CHECK_INT(f->nacked, 1);
	CHECK_INT(stored(f->db, "sent.20"), 0);
	f->store_fails = false;
}

/* A platform whose repeated sends are recognised (Matrix): an answered
 * send leaves the queue at once; answers are stored when the queue has
 * emptied, and one that could not be is not acknowledged. */
static void test_settle_idempotent(struct send_queue *q, struct fake *f)
{
	policy.idempotent = true;
	policy.commit_on_thread = false;
	f->db_free = true;
	f->nacked = 0;
	struct fake_send *a = queue(q, "A", 30), *b = queue(q, "B", 31);
	a->store = b->store = true;
	CHECK(answer(q, f, a, SQ_SENT));
	CHECK(q->head == &b->entry); /* a left; b still queued: wait */
	CHECK_INT(q->nheld, 1);
	CHECK_INT(f->nacked, 0);
	CHECK(answer(q, f, b, SQ_SENT)); /* the queue is empty: both stored */
	CHECK_INT(q->nheld, 0);
	CHECK_INT(f->nacked, 2);
	CHECK_INT(stored(f->db, "sent.30"), 1);
	CHECK_INT(stored(f->db, "sent.31"), 1);

	/* Answered while the database was busy: stored at the resume that
	 * follows, the queue being empty. */
	f->nacked = 0;
	f->db_free = false;
	struct fake_send *d = queue(q, "D", 33);
	d->store = true;
	CHECK(answer(q, f, d, SQ_SENT));
	CHECK_INT(f->nacked, 0);
	sq_resume(q, &policy, f);
	CHECK_INT(f->nacked, 1);
	CHECK_INT(stored(f->db, "sent.33"), 1);
	f->db_free = true;

	f->nacked = 0;
	f->store_fails = true;
	struct fake_send *c = queue(q, "C", 32);
	c->store = true;
	CHECK(answer(q, f, c, SQ_SENT));
	CHECK_INT(f->nacked, 0); /* sent again at the next start */
	f->store_fails = false;
	policy.commit_on_thread = true;
}

/* The failures: a 429 waits its time, a server failure backs off then is
 * given up, a 403 marks the lane inactive, and while stopping nothing
 * failed leaves the outbox. */
static void test_failures(struct send_queue *q, struct fake *f)
{
	int64_t now = clock_now_ms(), soonest;
	f->nacked = 0;
	struct fake_send *s = queue(q, "R", 40);
	s->wait_ms = 2000;
	CHECK(answer(q, f, s, SQ_RETRY_AT));
	CHECK_INT(s->entry.not_before_ms, now + 2000);
	CHECK(sq_pick(q, &policy, f, now + 1999, 0, &soonest) == NULL);
	CHECK_INT(soonest, now + 2000);
	CHECK(sq_pick(q, &policy, f, now + 2000, 0, &soonest) == &s->entry);
	CHECK_INT(s->entry.attempts, 0);

	s->entry.not_before_ms = 0;
	CHECK(answer(q, f, s, SQ_BACK_OFF));
	CHECK_INT(s->entry.attempts, 1);
	CHECK(s->entry.not_before_ms >= now + 1000 && s->entry.not_before_ms <= now + 1500);
	s->entry.not_before_ms = 0;
	CHECK(answer(q, f, s, SQ_BACK_OFF));
	CHECK(s->entry.not_before_ms >= now + 2000 && s->entry.not_before_ms <= now + 3000);
	s->entry.not_before_ms = 0;
	CHECK(answer(q, f, s, SQ_BACK_OFF)); /* the third: given up */
	CHECK(q->head == NULL);
	CHECK_INT(f->nacked, 1);
	CHECK_INT(f->acked[0], 40);

	struct fake_send *g = queue(q, "G", 41);
	CHECK(answer(q, f, g, SQ_GONE));
	CHECK_STR(f->inactive, "G");
	CHECK(q->head == NULL);
	CHECK_INT(f->nacked, 2);

	struct fake_send *r = queue(q, "H", 42);
	CHECK(answer(q, f, r, SQ_REFUSED));
	CHECK(q->head == NULL);
	CHECK_INT(f->nacked, 3);

	struct fake_send *k = queue(q, "K", 43);
	sq_pump(q, &policy, f);
	f->stopping = true;
	struct http_result res = { .status = 502, .body = "", .retry_after = -1 };
	k->verdict = SQ_REFUSED;
	sq_answered(q, &policy, f, &k->entry, &res);
	CHECK(q->head == &k->entry && !k->entry.inflight);
	CHECK_INT(f->nacked, 3);
	sq_release(q, &policy);
	CHECK(q->head == NULL && q->n == 0);
	CHECK_INT(f->nacked, 3);
	f->stopping = false;
}

/* A send's start may find it has nothing left to send (an edit of a
 * message that was never posted): it is then dropped and acknowledged, and
 * what follows in its lane goes in the same pump.  A start that fails is
 * tried again a second later, nothing acknowledged. */
static void test_start_outcomes(struct send_queue *q, struct fake *f)
{
	int64_t now = clock_now_ms(), soonest;
	f->nacked = 0;
	struct fake_send *gone = queue(q, "E", 50);
	struct fake_send *next = queue(q, "E", 51);
	gone->start_rc = 1;
	CHECK_INT(sq_pump(q, &policy, f), -1);
	CHECK_INT(f->nacked, 1);
	CHECK_INT(f->acked[0], 50);
	CHECK(q->head == &next->entry && next->entry.inflight && next->starts == 1);
	CHECK_INT(q->out, 1);
	CHECK(answer(q, f, next, SQ_SENT));
	CHECK(q->head == NULL && q->out == 0);
	CHECK_INT(f->nacked, 2);

	struct fake_send *busy = queue(q, "F", 52);
	busy->start_rc = -1;
	CHECK_INT(sq_pump(q, &policy, f), 1000);
	CHECK(q->head == &busy->entry && !busy->entry.inflight && q->out == 0);
	CHECK_INT(busy->entry.not_before_ms, now + 1000);
	CHECK(sq_pick(q, &policy, f, now + 999, 0, &soonest) == NULL);
	CHECK_INT(f->nacked, 2);
	busy->start_rc = 0;
	busy->entry.not_before_ms = 0;
	CHECK(answer(q, f, busy, SQ_SENT));
	CHECK(q->head == NULL);
	CHECK_INT(f->nacked, 3);
	CHECK_INT(f->acked[2], 52);
}

/* A lane whose first send is held back (a card while a batch is open)
 * holds back its later sends and no other lane; a pick looks at
 * policy.lanes lanes at most, and finds what may go past a queue longer
 * than the set of lanes it clears for each pick. */
static bool fake_held(void *owner, const struct sq_entry *e)
{
	(void)owner;
	return ((const struct fake_send *)e)->held;
}

static void test_pick_lanes(struct fake *f)
{
	struct send_queue q = { 0 };
	struct send_policy held = policy;
	held.held = fake_held;
	int64_t now = clock_now_ms(), soonest;
	struct fake_send *a1 = queue(&q, "A", 0);
	a1->held = true;
	struct fake_send *a2 = queue(&q, "A", 0);
	struct fake_send *b = queue(&q, "B", 0);
	CHECK(sq_pick(&q, &held, f, now, 0, &soonest) == &b->entry);
	CHECK_INT(sq_unlink(&q, &b->entry), 0);
	free(b);
	CHECK(sq_pick(&q, &held, f, now, 0, &soonest) == NULL); /* a2 waits behind A's first */
	a1->held = false;
	CHECK(sq_pick(&q, &held, f, now, 0, &soonest) == &a1->entry);
	a1->held = true;
	(void)a2;

	/* 40 lanes held, then a free one: found when 64 lanes may be looked
	 * at, not when 16 may. */
	char lane[16];
	for(int i = 0; i < 40; i++) {
		snprintf(lane, sizeof(lane), "H%d", i);
		queue(&q, lane, 0)->held = true;
	}
	struct fake_send *free_one = queue(&q, "free", 0);
	held.lanes = 16;
	CHECK(sq_pick(&q, &held, f, now, 0, &soonest) == NULL);
	held.lanes = 64;
	CHECK(sq_pick(&q, &held, f, now, 0, &soonest) == &free_one->entry);
	held.lanes = SEND_QUEUE_LANES_MAX;
	CHECK(sq_pick(&q, &held, f, now, 0, &soonest) == &free_one->entry);
	while(q.head) {
		struct sq_entry *e = q.head;
		sq_unlink(&q, e);
		free(e);
	}
}

int main(void)
{
	char dir[] = "/tmp/ensemble-test-sq-XXXXXX";
	char path[300];
	if(!mkdtemp(dir))
		return 1;
	if(pg_test_target(path, sizeof(path), dir, "t.db"))
		return 1;
	struct strbuf err = STRBUF_INIT;
	uv_loop_t loop;
	struct fake f = { 0 };
	struct send_queue q = { 0 };
	uv_loop_init(&loop);
	clock_use_sim((int64_t)1796115600 * 1000);
	CHECK_INT(db_open(&f.db, path, &err), 0);
	q.db = f.db;
	q.loop = &loop;

	test_settle_in_lane(&q, &f, &loop);
	test_settle_idempotent(&q, &f);
	test_failures(&q, &f);
	test_start_outcomes(&q, &f);
	test_pick_lanes(&f);

	db_close(f.db);
	CHECK_INT(uv_loop_close(&loop), 0);
	strbuf_release(&err);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if(system(path))
		return 1;
	return check_done();
}
