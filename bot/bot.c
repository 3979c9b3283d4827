#include "bot/bot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot/dispatch.h"
#include "bot/i18n.h"
#include "bot/meetup.h"
#include "bot/remind.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "storage/db.h"

#define LOG_MODULE "bot"

const struct config_checks bot_config_checks = {
	.lang = i18n_check_lang,
	.remind = remind_check_config,
};

static void bot__flush_delivered(struct bot *b, bool all);
static void bot__yield(void *user);
static void bot__db_free(void *user);

/* The events the platforms hand to the core, by platform. */
static struct metrics_family bot__updates =
	METRICS_COUNTER("ensemble_updates_received_total",
                        "Events the platforms handed to the core (messages, poll answers, button presses, members "
                        "joining or leaving), by platform.",
                        "platform", NULL);

/* Counts the n events of a batch, which all come from one adapter. */
static void bot__count_updates(const struct event *evs, size_t n)
{
	if(n)
		metrics_add(metrics_at(&bot__updates, evs[0].platform, NULL), n);
}

bool bot_on_loop(const struct bot *b)
{
	uv_thread_t me = uv_thread_self();
	return uv_thread_equal(&me, &b->loop_thread);
}

static void bot__on_prepare(uv_prepare_t *h)
{
	bot__flush_delivered(h->data, false);
}

void bot_set_web(struct bot *b, const struct bot_web *web, void *user)
{
	b->web = web;
	b->web_user = user;
}

int bot_init(struct bot *b, uv_loop_t *loop, struct config *cfg, struct db *db, const struct bot_port *port,
             void *port_user)
{
	memset(b, 0, sizeof(*b));
	b->loop = loop;
	b->cfg = cfg;
	b->db = db;
	b->port = port;
	b->port_user = port_user;
	b->started_ms = clock_now_ms();
	b->loop_thread = uv_thread_self();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	b->key_epoch = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	uv_prepare_init(loop, &b->flush);
	uv_timer_init(loop, &b->drain);
	b->drain.data = b;
	uv_idle_init(loop, &b->step);
	b->step.data = b;
	db_set_yield(db, bot__yield, b);
	db_set_free_fn(db, bot__db_free, b);
	metrics_register(&bot__updates);
	dispatch_metrics_init();
	b->flush.data = b;
	uv_prepare_start(&b->flush, bot__on_prepare);
	uv_unref((uv_handle_t *)&b->flush);
	if(sched_init(&b->sched, b))
		return -1;
	return 0;
}

bool bot_reachable(struct bot *b, const char *platform)
{
	return !b->port->reachable || b->port->reachable(b->port_user, platform);
}

/* The number of requests to the platforms still unanswered. */
static size_t bot__in_flight(struct bot *b)
{
	return b->port->in_flight ? b->port->in_flight(b->port_user) : 0;
}

void bot_action_done(struct bot *b, int64_t stored_id)
{
	db_outbox_done(b->db, stored_id, clock_mono_ms());
}

/* Stores the actions of ob from index from up to to, excluded (see
 * bot_store_actions). */
static int bot__store_from(struct bot *b, struct outbox *ob, size_t from, size_t to)
{
	for(size_t i = from; i < to; i++) {
		/* Every stored action has a key, so that a platform that makes
		 * sends idempotent (Matrix's transaction ids) never posts it
		 * twice: one not derived from an event gets the start time and a
		 * counter, unique across restarts. */
		if(!ob->v[i].key) {
			char key[48];
			snprintf(key, sizeof(key), "o%lld.%llu", (long long)b->key_epoch,
			         (unsigned long long)++b->key_seq);
			if(action_set(&ob->v[i].key, key))
				return -1;
		}
		char *json = action_to_json(&ob->v[i]);
		int rc = json ? db_outbox_add(b->db, json, clock_now_ms(), &ob->v[i].stored_id) : -1;
		free(json);
		if(rc)
			return -1;
	}
	return 0;
}

int bot_store_actions(struct bot *b, struct outbox *ob)
{
	if(db_outbox_forget(b->db))
		return -1;
	return bot__store_from(b, ob, 0, ob->n);
}

void bot_deliver(struct bot *b, struct outbox *ob)
{
	for(size_t i = 0; i < ob->n; i++)
		if(!b->port->deliver(b->port_user, &ob->v[i]))
			bot_action_done(b, ob->v[i].stored_id);
}

static int bot__resend_one(void *user, int64_t id, const char *json)
{
	struct bot *b = user;
	struct outbox ob;
	outbox_init(&ob);
	if(action_from_json(&ob, json)) {
		log_error("outbox row %lld is not an action: dropped", (long long)id);
		bot_action_done(b, id);
	} else {
		ob.v[0].stored_id = id;
		bot_deliver(b, &ob);
	}
	outbox_release(&ob);
	return 0;
}

/* Sends what was stored but maybe not delivered before the last stop. */
static void bot__resend_outbox(struct bot *b)
{
	if(db_outbox_each(b->db, bot__resend_one, b))
		log_error("could not read the outbox");
}

/* Deletes delivered rows in a transaction of their own, when enough wait
 * (each is already in the journal of deliveries), or all of them at a
 * stop.  A few hundred deletes and their commit take a couple of
 * milliseconds: a thread runs them while requests are out (the sends they
 * would hold back), unless the bot is stopping. */
static void bot__flush_delivered(struct bot *b, bool all)
{
	if((!all && db_busy(b->db)) || db_in_transaction(b->db))
		return;
	if(!db_outbox_should_forget(b->db, all ? INT64_MAX : clock_mono_ms()))
		return;
	/* On PostgreSQL always on the thread: its BEGIN would be a round trip
	 * on the loop. */
	if(!all && (bot__in_flight(b) || db_round_trips(b->db)) && !db_outbox_forget_start(b->db, b->loop))
		return;
	if(db_begin(b->db) || db_outbox_forget(b->db) || db_commit(b->db))
		db_rollback(b->db);
}

/* Tells the sender that nothing changed, after a rollback: the apology is
 * appended to out (it is not stored: the database just failed). */
static void bot__apologise(struct bot *b, const struct event *ev, struct outbox *out)
{
	struct db_chat chat;
	const char *lang = b->cfg->lang;
	if(db_chat_get(b->db, ev->platform, ev->chat_id, b->cfg->lang, b->cfg->timezone, &chat) >= 0)
		lang = chat.lang;
	struct strbuf sb = STRBUF_INIT;
	i18n_fmt(&sb, lang, "dispatch.error", NULL);
	struct action *a =
		outbox_push(out, ev->message_id ? ACTION_REPLY : ACTION_SEND_TEXT, ev->platform, ev->chat_id, sb.buf);
	if(a && ev->message_id)
		action_set(&a->reply_to, ev->message_id);
	strbuf_release(&sb);
}

/* ---- batches ----
 *
 * A batch of a hundred updates takes far longer to dispatch than the
 * platform takes to answer one send.  Run in one go, it holds back every
 * reply that could leave meanwhile, while the platform waits idle for the
 * next one (docs/performance.md has the measurements).  So a
 * batch given to bot_submit_batch() is dispatched one event per turn of the
 * loop, inside one transaction that stays open across the turns: what the
 * loop does between two events (a send answered, the next one started)
 * overlaps with the platform's work on the last.
 *
 * Whoever else needs the database meanwhile calls db_begin(), whose yield
 * function (bot__yield) finishes the open batch at once: the rest of its
 * events are dispatched and it commits.  Its replies and the adapter's
 * done callback still wait for the next turn, so that no callback ever runs
 * inside another one.  Batches run one at a time, in the order given.
 *
 * An announcement that several events of a batch change is edited once,
 * with its final text, where the last of them asked (struct meetup_edits):
 * at 20,000 RSVPs, an edit per RSVP cost twice what the RSVPs did.  The
 * edits are made before the replies are stored, in the batch's
 * transaction, so the outbox holds them with the changes they show.  A
 * batch of one event edits as the event asks, at once.
 *
 * On PostgreSQL every statement is a round trip to the server, which the
 * loop would wait for: there a batch given to bot_submit_batch() runs on a
 * thread of the loop's pool instead, from its BEGIN to its COMMIT, the
 * retries one event at a time included (db_run_start).  The thread then
 * owns the database and the core's state (the dispatcher, the batch, the
 * key counter); the loop meanwhile sends, receives and holds what needs
 * the database (bot_batch_open is true, db_busy too), and delivers the
 * replies over the following turns once the run has ended.  The scheduler
 * is armed from the loop with the next due time the run read. */

struct bot_batch {
	struct bot_batch *next;
	const struct event *evs; /* borrowed until done */
	size_t n, pos;
	int (*state_fn)(void *user, struct db *db);
	void (*done)(void *user, int rc);
	void *user;
	struct outbox ob;          /* the replies, stored once committed */
	struct meetup_edits edits; /* a batch of several events: the edits
	                              made once at its end (meetup.h) */
	enum { BATCH_WAITING, BATCH_OPEN, BATCH_COMMITTING, BATCH_ENDED } state;
	bool spread;      /* run over turns (bot_submit_batch) */
	size_t stored;    /* replies stored in the outbox so far */
	size_t delivered; /* replies handed to the platforms so far */
	bool failed;      /* an event failed: the rest is not run */
	int rc;
};

/* Opens the batch's transaction.  When the database refuses one (locked,
 * full, read-only), an adapter with a state to store fetches the batch
 * again; for the others this is the end of these events: say so. */
static void bot__batch_open(struct bot *b, struct bot_batch *bb)
{
	if(!db_begin(b->db)) {
		bb->state = BATCH_OPEN;
		if(bb->n > 1)
			meetup_edits_init(&bb->edits, &bb->ob);
		return;
	}
	if(!bb->state_fn) {
		for(size_t i = 0; i < bb->n; i++) {
			const struct event *ev = &bb->evs[i];
			log_error("an event from %s in chat %s could not be stored",
			          ev->sender_id ? ev->sender_id : "?", ev->chat_id);
			if(ev->kind == EVENT_MESSAGE && ev->text && (ev->text[0] == '/' || ev->text[0] == '!'))
				bot__apologise(b, ev, &bb->ob);
		}
	}
	bb->rc = -1;
	bb->state = BATCH_ENDED;
}

/* Dispatches the batch's next event in its open transaction.  A batch
 * spread over turns also stores the event's replies there: storing a
 * hundred at its end would be one long block in which no answered send
 * could be followed by the next.  A batch run in one go stores them at its end,
 * which is a little faster.  Replies from the first edit the batch defers
 * on wait for its end (meetup_edits_hold): the edits are made there. */
static void bot__batch_step(struct bot *b, struct bot_batch *bb)
{
	if(bb->pos >= bb->n || bb->failed)
		return;
	b->edits = bb->edits.out ? &bb->edits : NULL;
	int rc = dispatch_event(b, &bb->evs[bb->pos++], &bb->ob);
	b->edits = NULL;
	size_t hold = meetup_edits_hold(&bb->edits, bb->ob.n);
	if(rc || (bb->spread && bot__store_from(b, &bb->ob, bb->stored, hold)))
		bb->failed = true;
	if(bb->spread)
		bb->stored = hold;
}

static void bot__batch_run(struct bot *b, struct bot_batch *bb);

/* Stores what a batch whose events have all run leaves: the adapter's
 * state, the edits it deferred and the replies, in the batch's
 * transaction.  0, or -1 when an event failed or the state, the edits or
 * the replies could not be stored. */
static int bot__batch_store(struct bot *b, struct bot_batch *bb)
{
	if(bb->failed || (bb->state_fn && bb->state_fn(bb->user, b->db)) || db_outbox_forget(b->db) ||
	   meetup_edits_flush(b, &bb->edits) || bot__store_from(b, &bb->ob, bb->stored, bb->ob.n))
		return -1;
	return 0;
}

/* Ends a batch once its transaction committed (rc 0) or did not: replies
 * leave only after a commit, so they never announce what was not stored.
 * If something failed, the batch is rolled back and each event runs
 * alone, then the state alone, so a bad event costs only itself. */
static void bot__batch_ended(struct bot *b, struct bot_batch *bb, int rc)
{
	bb->state = BATCH_ENDED;
	meetup_edits_release(&bb->edits);
	if(!rc) {
		if(!bot_on_loop(b)) {
			b->due_found = db_job_next_due(b->db, &b->due_ms);
			b->rearm = true;
		} else {
			sched_rearm(&b->sched);
		}
		bb->rc = 0;
		return;
	}
	if(db_in_transaction(b->db))
		db_rollback(b->db);
	outbox_release(&bb->ob);
	if(bb->n == 1) {
		log_error("an event from %s in chat %s was rolled back",
		          bb->evs[0].sender_id ? bb->evs[0].sender_id : "?", bb->evs[0].chat_id);
		bot__apologise(b, &bb->evs[0], &bb->ob);
		bb->rc = -1;
		return;
	}
	bb->rc = 0;
	for(size_t i = 0; i < bb->n; i++) {
		struct bot_batch one = { .evs = &bb->evs[i], .n = 1 };
		outbox_init(&one.ob);
		bot__batch_run(b, &one);
		bb->rc |= one.rc;
		if(outbox_move(&bb->ob, &one.ob))
			outbox_release(&one.ob); /* stored: sent at the next start */
	}
	if(bb->state_fn && (db_begin(b->db) || bb->state_fn(bb->user, b->db) || db_commit(b->db))) {
		db_rollback(b->db);
		bb->rc = -1;
	}
}

/* Ends a batch whose events have all run (or one failed), committing here. */
static void bot__batch_close(struct bot *b, struct bot_batch *bb)
{
	bot__batch_ended(b, bb, bot__batch_store(b, bb) || db_commit(b->db) ? -1 : 0);
}

static void bot__run_ended(struct bot *b);

/* Runs what is left of a batch at once, up to its end (not its delivery). */
static void bot__batch_run(struct bot *b, struct bot_batch *bb)
{
	if(b->running == bb && bot_on_loop(b)) {
		db_commit_wait(b->db); /* its done function is not called now */
		bot__run_ended(b);
		return;
	}
	if(bb->state == BATCH_COMMITTING) {
		bot__batch_ended(b, bb, db_commit_wait(b->db));
		return;
	}
	if(bb->state == BATCH_WAITING)
		bot__batch_open(b, bb);
	if(bb->state != BATCH_OPEN)
		return;
	while(bb->pos < bb->n && !bb->failed)
		bot__batch_step(b, bb);
	bot__batch_close(b, bb);
}

/* The database's yield function: someone needs it, so the open batch ends
 * now.  Called from anywhere (inside an adapter's callback): nothing is
 * delivered here. */
static void bot__yield(void *user)
{
	struct bot *b = user;
	if(!b->running && b->batches && b->batches->state == BATCH_OPEN)
		bot__batch_run(b, b->batches);
}

/* Hands at most max more replies of an ended batch to the platforms; true
 * when all have been.  Rendering a reply for its platform takes a few
 * microseconds: a batch's hundred at once would hold back the send that
 * is answered meanwhile, a few per turn overlap with the platform's work. */
static bool bot__batch_deliver(struct bot *b, struct bot_batch *bb, size_t max)
{
	size_t end = bb->ob.n - bb->delivered > max ? bb->delivered + max : bb->ob.n;
	struct outbox part = { .v = bb->ob.v + bb->delivered, .n = end - bb->delivered };
	bot_deliver(b, &part);
	bb->delivered = end;
	return end == bb->ob.n;
}

/* Tells the platforms (the port's resume) that what they held back while
 * a batch was open or a commit ran can go on. */
static void bot__resume(struct bot *b)
{
	if(b->port->resume)
		b->port->resume(b->port_user);
}

/* Delivers what is left of the first batch's replies, takes it off the
 * list and tells its adapter. */
static void bot__batch_finish(struct bot *b)
{
	struct bot_batch *bb = b->batches;
	b->batches = bb->next;
	if(!b->batches)
		b->batches_tail = NULL;
	bot__batch_deliver(b, bb, SIZE_MAX);
	outbox_release(&bb->ob);
	if(bb->done)
		bb->done(bb->user, bb->rc);
	free(bb);
	bot__resume(b);
}

static void bot__on_step(uv_idle_t *h);

/* A commit that ran on a thread has ended (db_set_free_fn): what waited
 * for the database goes on, the next batch and the platforms' held work. */
static void bot__db_free(void *user)
{
	struct bot *b = user;
	if(b->batches && b->batches->state != BATCH_COMMITTING)
		uv_idle_start(&b->step, bot__on_step);
	sched_resume(&b->sched);
	bot__resume(b);
}

/* The run of a batch on a thread is over (its done function, or a wait
 * for it): the loop owns the core again, and arms the scheduler. */
static void bot__run_ended(struct bot *b)
{
	b->running = NULL;
	if(b->rearm) {
		b->rearm = false;
		sched_arm(&b->sched, b->due_found, b->due_ms);
	}
}

/* On the pool's thread: the first batch, up to its end. */
static void bot__run_work(struct db *db, void *user)
{
	struct bot *b = user;
	(void)db;
	bot__batch_run(b, b->running);
}

/* From the loop, once the run ended: its replies go from the next turn. */
static void bot__run_done(void *user)
{
	struct bot *b = user;
	bot__run_ended(b);
	uv_idle_start(&b->step, bot__on_step);
}

/* Starts the first batch on a thread when its statements are round trips
 * (PostgreSQL).  True when it started: the turns stop until it ends. */
static bool bot__run_start(struct bot *b, struct bot_batch *bb)
{
	if(!db_round_trips(b->db) || b->stopping)
		return false;
	b->running = bb;
	if(db_run_start(b->db, b->loop, bot__run_work, bot__run_done, b)) {
		b->running = NULL;
		return false;
	}
	return true;
}

/* Replies delivered per turn of the loop (bot__batch_deliver). */
#define BOT_DELIVER_STEP 8
/* A batch this large commits on a thread; a smaller one commits at once
 * (some 100 us), which spares waking a thread and, at the first, starting
 * libuv's pool: a bot that sees little traffic never starts it. */
#define BOT_THREAD_MIN_EVENTS 16

/* The commit of the first batch ended (db_commit_start): its replies go
 * from the next turn on. */
static void bot__on_committed(void *user, int rc)
{
	struct bot *b = user;
	bot__batch_ended(b, b->batches, rc);
	uv_idle_start(&b->step, bot__on_step);
}

/* One turn of the loop: one event of the first batch, or a few of its
 * replies once it ended.  After the last event, a thread commits
 * (db_commit_start) while the loop goes on; the turns stop until that
 * commit ends, and bot__on_committed resumes them. */
static void bot__on_step(uv_idle_t *h)
{
	struct bot *b = h->data;
	struct bot_batch *bb = b->batches;
	/* A batch does not open while a commit runs on a thread (a batch's, or
	 * an adapter's): it would wait for it.  bot__db_free resumes. */
	if(!bb || b->running || bb->state == BATCH_COMMITTING || (bb->state == BATCH_WAITING && db_busy(b->db))) {
		uv_idle_stop(h);
		return;
	}
	if(bb->state == BATCH_WAITING && bot__run_start(b, bb)) {
		uv_idle_stop(h);
		return;
	}
	if(bb->state == BATCH_WAITING)
		bot__batch_open(b, bb);
	if(bb->state == BATCH_OPEN) {
		bot__batch_step(b, bb);
		if(bb->pos < bb->n && !bb->failed)
			return;
		int rc = bot__batch_store(b, bb);
		if(!rc && bb->n >= BOT_THREAD_MIN_EVENTS && !db_commit_start(b->db, b->loop, bot__on_committed, b)) {
			bb->state = BATCH_COMMITTING;
			uv_idle_stop(h);
			return;
		}
		bot__batch_ended(b, bb, rc || db_commit(b->db) ? -1 : 0);
		return;
	}
	/* An adapter may read the database to deliver (what message an edit
	 * changes): not while a thread holds it, which on PostgreSQL may wait
	 * on the server (a due job's run).  bot__db_free resumes. */
	if(db_round_trips(b->db) && db_busy(b->db)) {
		uv_idle_stop(h);
		return;
	}
	if(bot__batch_deliver(b, bb, BOT_DELIVER_STEP))
		bot__batch_finish(b);
}

int bot_submit_batch(struct bot *b, const struct event *evs, size_t n, int (*state_fn)(void *user, struct db *db),
                     void (*done)(void *user, int rc), void *user)
{
	if(b->stopping)
		return -1;
	struct bot_batch *bb = calloc(1, sizeof(*bb));
	if(!bb)
		return -1;
	bot__count_updates(evs, n);
	bb->evs = evs;
	bb->n = n;
	bb->spread = true;
	bb->state_fn = state_fn;
	bb->done = done;
	bb->user = user;
	outbox_init(&bb->ob);
	if(b->batches_tail)
		b->batches_tail->next = bb;
	else
		b->batches = bb;
	b->batches_tail = bb;
	uv_idle_start(&b->step, bot__on_step);
	return 0;
}

bool bot_batch_open(const struct bot *b)
{
	if(b->running)
		return true;
	return b->batches && (b->batches->state == BATCH_OPEN || b->batches->state == BATCH_COMMITTING);
}

/* Runs every batch given so far to its end and delivers it (at a stop). */
static void bot__batches_drain(struct bot *b)
{
	while(b->batches) {
		bot__batch_run(b, b->batches);
		bot__batch_finish(b);
	}
}

int bot_handle_batch(struct bot *b, const struct event *evs, size_t n, int (*state_fn)(void *user, struct db *db),
                     void *user)
{
	struct bot_batch bb = { .evs = evs, .n = n, .state_fn = state_fn, .user = user };
	bot__count_updates(evs, n);
	outbox_init(&bb.ob);
	bot__batch_run(b, &bb);
	bot_deliver(b, &bb.ob);
	outbox_release(&bb.ob);
	return bb.rc;
}

int bot_handle_event(struct bot *b, const struct event *ev)
{
	return bot_handle_batch(b, ev, 1, NULL, NULL);
}

void bot_run(struct bot *b)
{
	bot__resend_outbox(b);
	sched_run_due(&b->sched);
}

void bot_advance_to(struct bot *b, int64_t target_ms)
{
	sched_advance(&b->sched, target_ms);
}

#define BOT_DRAIN_MS 5000

/* The end of a stop: what was delivered is forgotten, the rest waits in
 * the outbox, every handle closes. */
static void bot__finish_stop(struct bot *b)
{
	bot__flush_delivered(b, true);
	if(b->port->close)
		b->port->close(b->port_user);
	uv_close((uv_handle_t *)&b->drain, NULL);
	uv_close((uv_handle_t *)&b->flush, NULL);
	uv_close((uv_handle_t *)&b->step, NULL);
}

static void bot__on_drain(uv_timer_t *h)
{
	struct bot *b = h->data;
	size_t pending = bot__in_flight(b);
	if(pending && clock_mono_ms() < b->drain_deadline)
		return;
	if(pending)
		log_warn("stopping with %zu request(s) unanswered: their messages wait in the outbox", pending);
	uv_timer_stop(h);
	bot__finish_stop(b);
}

void bot_stop(struct bot *b, int exit_code)
{
	if(b->stopping)
		return;
	/* Events taken are handled and their replies queued before the
	 * platforms stop: the replies then get the drain time below. */
	bot__batches_drain(b);
	b->stopping = true;
	b->exit_code = exit_code;
	bot__flush_delivered(b, true);
	/* The platforms stop receiving (their long polls are cancelled) and
	 * send nothing new; what is in flight may still be answered. */
	if(b->port->stop)
		b->port->stop(b->port_user);
	sched_close(&b->sched);
	if(bot__in_flight(b)) {
		b->drain_deadline = clock_mono_ms() + BOT_DRAIN_MS;
		uv_timer_start(&b->drain, bot__on_drain, 20, 20);
		return;
	}
	bot__finish_stop(b);
}

void bot_release(struct bot *b)
{
	db_set_yield(b->db, NULL, NULL);
	db_set_free_fn(b->db, NULL, NULL);
}
