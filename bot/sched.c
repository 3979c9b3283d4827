#include "bot/sched.h"

#include <stdio.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/meetup.h"
#include "bot/remind.h"
#include "bot/series.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"

#define LOG_MODULE "sched"

/* Jobs due together run in transactions of this many: one commit for many
 * reminders, yet a failing one only costs its batch a second pass. */
#define SCHED_BATCH 64

/* libuv timers take a 64-bit millisecond delay, but a very long one only
 * needs to wake us to look again. */
#define SCHED_MAX_DELAY_MS (24LL * 3600 * 1000)

/* The scheduler's metrics: reminders, and how late jobs run. */
static struct metrics_family sched__sent =
	METRICS_COUNTER("ensemble_reminders_sent_total", "Reminders posted in their chats.", NULL, NULL);
static struct metrics_family sched__late = METRICS_COUNTER(
	"ensemble_reminders_late_total",
	"Reminders posted over a minute after their time, marked late (the bot or the platform was down).", NULL, NULL);
static struct metrics_family sched__dropped =
	METRICS_COUNTER("ensemble_reminders_dropped_total",
                        "Reminders not posted because their meetup had started when they could run.", NULL, NULL);
static const double sched__lag_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600
};
static struct metrics_family sched__lag =
	METRICS_HISTOGRAM("ensemble_scheduler_lag_seconds",
                          "From a job's due time (a reminder, a deadline, a nudge) to its run, in seconds.",
                          sched__lag_bounds, sizeof(sched__lag_bounds) / sizeof(sched__lag_bounds[0]));

/* Adds what a committed batch did to the metrics: its reminders, and the
 * lag of each of its n jobs (lag_ms). */
static void sched__count(struct sched *s, const int64_t *lag_ms, int n)
{
	metrics_add(metrics_at(&sched__sent, NULL, NULL), s->tally.sent);
	metrics_add(metrics_at(&sched__late, NULL, NULL), s->tally.late);
	metrics_add(metrics_at(&sched__dropped, NULL, NULL), s->tally.dropped);
	struct metric *lag = metrics_at(&sched__lag, NULL, NULL);
	for(int i = 0; i < n; i++)
		metrics_observe(lag, (double)lag_ms[i] / 1000);
}

static void sched__on_timer(uv_timer_t *t)
{
	struct sched *s = t->data;
	sched_run_due(s);
}

int sched_init(struct sched *s, struct bot *b)
{
	memset(s, 0, sizeof(*s));
	s->bot = b;
	if(uv_timer_init(b->loop, &s->timer))
		return -1;
	s->timer.data = s;
	s->started = true;
	sched__count(s, NULL, 0); /* the series appear at 0 */
	return 0;
}

void sched_rearm(struct sched *s)
{
	if(!s->started || s->bot->stopping || clock_is_sim())
		return;
	int64_t due;
	int found = db_job_next_due(s->bot->db, &due);
	sched_arm(s, found, due);
}

void sched_arm(struct sched *s, int found, int64_t due)
{
	if(!s->started || s->bot->stopping || clock_is_sim())
		return;
	if(found <= 0) {
		uv_timer_stop(&s->timer);
		return;
	}
	int64_t delay = due - clock_now_ms();
	if(delay < 0)
		delay = 0;
	if(delay > SCHED_MAX_DELAY_MS)
		delay = SCHED_MAX_DELAY_MS;
	uv_timer_start(&s->timer, sched__on_timer, (uint64_t)delay, 0);
}

static int sched__dispatch(struct meetup_ctx *mctx, const struct db_job *job);

/* A job whose chat's platform cannot be reached waits this long, again and
 * again, rather than write a message that would leave only later, saying
 * what was true when it was written. */
#define SCHED_HELD_MS 10000

/* Runs one job's handler inside the open transaction, appending its
 * messages to ob.  0 when done, 1 when it must wait (its chat's platform
 * cannot be reached: nothing ran), or -1. */
static int sched__handle(struct sched *s, const struct db_job *job, struct outbox *ob)
{
	struct bot *b = s->bot;
	if(!job->meetup_id)
		return 0;
	struct db_meetup m;
	struct db_chat chat;
	/* The idempotency key of the job's messages (a Matrix transaction id)
	 * must never name two different messages: a homeserver answers a
	 * repeated transaction id with the first event, for a day, across
	 * restarts and logins, and posts nothing.  jobs.id alone is not enough,
	 * since SQLite hands a deleted highest id out again (a moved meetup's
	 * new reminder gets the id of the one just sent).  So the key also
	 * carries the start time and a counter, as the keys of the other
	 * actions do (bot__store_from).  It need not survive a crash: the
	 * messages are stored with their keys in the job's transaction, and
	 * only a stored message is ever sent, and sent again. */
	char key[96];
	snprintf(key, sizeof(key), "job%lld.%lld.%llu", (long long)job->id, (long long)b->key_epoch,
	         (unsigned long long)++b->key_seq);
	int rc = db_meetup_get_by_id(b->db, job->meetup_id, &m);
	if(rc == 1)
		rc = db_chat_by_id(b->db, m.chat_id, &chat);
	if(rc <= 0)
		return rc;
	if(!bot_reachable(b, chat.platform))
		return 1;
	/* A chat that removed the bot (the platform said 403) hears nothing
	 * until it speaks to the bot again: its reminders and nudges are
	 * dropped, a deadline still closes its poll (without a message). */
	struct outbox quiet;
	outbox_init(&quiet);
	struct meetup_ctx mctx = { .bot = b,
		                   .chat = &chat,
		                   .out = chat.active ? ob : &quiet,
		                   .key_base = key,
		                   .tally = chat.active ? &s->tally : NULL };
	if(!chat.active)
		log_info("job %lld: chat %s is inactive, nothing sent", (long long)job->id, chat.ext_id);
	rc = sched__dispatch(&mctx, job);
	outbox_release(&quiet);
	return rc;
}

static int sched__dispatch(struct meetup_ctx *mctx_in, const struct db_job *job)
{
	struct meetup_ctx mctx = *mctx_in;
	switch(job->kind) {
	case JOB_DEADLINE:
		return meetup_job_deadline(&mctx, job->meetup_id);
	case JOB_REMINDER:
		return remind_job(&mctx, job);
	case JOB_NUDGE:
		return remind_job_nudge(&mctx, job);
	case JOB_SERIES:
		return series_job(&mctx, job);
	default:
		log_warn("job %lld has an unknown kind %d: dropped", (long long)job->id, job->kind);
		return 0;
	}
}

/* Runs up to max due jobs in one transaction with their effects, then
 * sends their messages.  Returns how many ran, 0 when none was due, -1
 * when one failed (the whole batch is then rolled back, and when max is 1
 * the failing job is postponed a minute rather than blocking the others),
 * or -2 when the database refused the transaction itself (full, locked,
 * read-only): the jobs stay due, to be tried again later. */
static int sched__run_batch(struct sched *s, int64_t now_ms, int max)
{
	struct bot *b = s->bot;
	struct db_job job;
	struct outbox ob;
	int64_t lag_ms[SCHED_BATCH];
	int n = 0, found = 0;
	outbox_init(&ob);
	memset(&s->tally, 0, sizeof(s->tally));
	if(db_begin(b->db))
		return -2;
	while(n < max && n < SCHED_BATCH && (found = db_job_take(b->db, now_ms, &job)) == 1) {
		int rc = sched__handle(s, &job, &ob);
		if(rc == 1) {
			log_debug("job %lld waits: its platform cannot be reached", (long long)job.id);
			if(!db_job_postpone(b->db, job.id, now_ms + SCHED_HELD_MS))
				continue;
		}
		if(rc || db_job_done(b->db, job.id)) {
			found = -1;
			break;
		}
		lag_ms[n++] = now_ms - job.due_ms;
	}
	if(found < 0 || bot_store_actions(b, &ob) || db_commit(b->db)) {
		db_rollback(b->db);
		outbox_release(&ob);
		if(found >= 0)
			return -2; /* the database refused the commit: try later */
		if(max == 1 && n == 0) {
			log_error("job %lld failed; retrying in a minute", (long long)job.id);
			if(db_begin(b->db))
				return -2;
			if(db_job_postpone(b->db, job.id, now_ms + 60000) || db_commit(b->db)) {
				db_rollback(b->db);
				return -2;
			}
		}
		return -1;
	}
	sched__count(s, lag_ms, n);
	if(!bot_on_loop(b)) {
		/* Delivered by the loop once the run has ended (sched__run_done). */
		if(outbox_move(&s->out, &ob))
			log_error("out of memory: %zu reminder message(s) wait in the outbox for the next start", ob.n);
	} else {
		bot_deliver(b, &ob);
	}
	outbox_release(&ob);
	return n;
}

#define SCHED_STORAGE_RETRY_MS 5000

/* Runs batches of the jobs due at now until none is left: 0, or -2 when
 * the database refused to store them (they stay due). */
static int sched__run_all(struct sched *s, int64_t now)
{
	int batch = SCHED_BATCH, r;
	while(!s->bot->stopping && (r = sched__run_batch(s, now, batch)) != 0) {
		if(r == -2)
			return -2;
		/* After a failure, go one by one so the culprit is found and
		 * postponed; back to batches once a single one went through. */
		batch = r < 0 ? 1 : SCHED_BATCH;
	}
	return 0;
}

/* The jobs could not be stored: they are tried again in a few seconds,
 * while the loop goes on serving everything else. */
static void sched__retry_later(struct sched *s)
{
	log_warn("due jobs could not be stored; trying again in %d s", SCHED_STORAGE_RETRY_MS / 1000);
	if(s->started)
		uv_timer_start(&s->timer, sched__on_timer, SCHED_STORAGE_RETRY_MS, 0);
}

/* On the pool's thread (db_run_start): the due jobs, then the next one's
 * time, read for the loop to arm its timer. */
static void sched__run_work(struct db *db, void *user)
{
	struct sched *s = user;
	s->run_rc = sched__run_all(s, s->run_now);
	if(!s->run_rc)
		s->due_found = db_job_next_due(db, &s->due_ms);
}

/* From the loop once the run ended: its messages leave, the timer is armed. */
static void sched__run_done(void *user)
{
	struct sched *s = user;
	s->running = false;
	s->run_now = 0;
	bot_deliver(s->bot, &s->out);
	outbox_release(&s->out);
	if(s->run_rc)
		sched__retry_later(s);
	else
		sched_arm(s, s->due_found, s->due_ms);
}

/* On PostgreSQL, where each statement is a round trip the loop would wait
 * for, the due jobs run on a thread of the loop's pool as the core's
 * batches do (bot/bot.c).  True when the run started. */
static bool sched__run_start(struct sched *s)
{
	struct bot *b = s->bot;
	if(!db_round_trips(b->db) || !s->started || b->stopping || clock_is_sim())
		return false;
	s->running = true;
	s->run_now = clock_now_ms();
	outbox_init(&s->out);
	if(db_run_start(b->db, b->loop, sched__run_work, sched__run_done, s)) {
		s->running = false;
		return false;
	}
	return true;
}

void sched_run_due(struct sched *s)
{
	if(s->running)
		return;
	/* A batch or a commit holds the database on a thread: the jobs run
	 * when it is free (sched_resume) rather than the loop wait for it. */
	if(db_busy(s->bot->db)) {
		s->deferred = true;
		return;
	}
	s->deferred = false;
	if(sched__run_start(s))
		return;
	s->running = true;
	int rc = sched__run_all(s, clock_now_ms());
	s->running = false;
	if(rc)
		sched__retry_later(s);
	else
		sched_rearm(s);
}

void sched_resume(struct sched *s)
{
	if(s->deferred && s->started)
		sched_run_due(s);
}

void sched_advance(struct sched *s, int64_t target_ms)
{
	int64_t due;
	int batch = SCHED_BATCH;
	while(!s->bot->stopping && db_job_next_due(s->bot->db, &due) == 1 && due <= target_ms) {
		/* Each job runs at its own due time, with those due at the same
		 * moment. */
		if(due > clock_now_ms())
			clock_set_ms(due);
		s->running = true;
		int r = sched__run_batch(s, clock_now_ms(), batch);
		s->running = false;
		if(r == -2) {
			log_warn("due jobs could not be stored; they stay due");
			break;
		}
		if(r < 0 && batch == 1)
			continue; /* postponed: the loop moves on */
		batch = r < 0 ? 1 : SCHED_BATCH;
	}
	clock_set_ms(target_ms);
}

void sched_close(struct sched *s)
{
	if(!s->started)
		return;
	if(s->running && s->run_now) {
		/* A run on a thread: waited for; its messages are in the outbox,
		 * sent at the next start. */
		db_commit_wait(s->bot->db);
		outbox_release(&s->out);
		s->running = false;
	}
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, NULL);
	s->started = false;
}
