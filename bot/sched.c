#include "bot/sched.h"

#include <stdio.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/clock.h"
#include "bot/log.h"
#include "bot/meetup.h"
#include "bot/remind.h"
#include "bot/series.h"
#include "config/config.h"

#define LOG_MODULE "sched"

/* libuv timers take a 64-bit millisecond delay, but a very long one only
 * needs to wake us to look again. */
#define SCHED_MAX_DELAY_MS (24LL * 3600 * 1000)

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
	return 0;
}

void sched_rearm(struct sched *s)
{
	if(!s->started || s->bot->stopping || clock_is_sim())
		return;
	int64_t due;
	int found = db_job_next_due(s->bot->db, &due);
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

/* Runs one job in its own transaction.  A job whose handler fails is rolled
 * back and retried a minute later rather than blocking the ones behind it. */
static int sched__run_one(struct sched *s, int64_t now_ms)
{
	struct bot *b = s->bot;
	struct db_job job;
	struct outbox ob;
	outbox_init(&ob);
	if(db_begin(b->db))
		return -1;
	int found = db_job_take(b->db, now_ms, &job);
	if(found <= 0) {
		db_rollback(b->db);
		return found;
	}
	int rc = 0;
	if(job.meetup_id) {
		struct db_meetup m;
		struct db_chat chat;
		char key[48];
		snprintf(key, sizeof(key), "job%lld", (long long)job.id);
		rc = db_meetup_get_by_id(b->db, job.meetup_id, &m);
		if(rc == 1) {
			rc = db_chat_by_id(b->db, m.chat_id, &chat);
			if(rc == 1) {
				struct meetup_ctx mctx = { .bot = b, .chat = &chat, .out = &ob, .key_base = key };
				switch(job.kind) {
				case JOB_DEADLINE:
					rc = meetup_job_deadline(&mctx, job.meetup_id);
					break;
				case JOB_REMINDER:
					rc = remind_job(&mctx, &job);
					break;
				case JOB_NUDGE:
					rc = remind_job_nudge(&mctx, &job);
					break;
				case JOB_SERIES:
					rc = series_job(&mctx, &job);
					break;
				default:
					log_warn("job %lld has an unknown kind %d: dropped", (long long)job.id, job.kind);
					rc = 0;
				}
			}
		}
		if(rc > 0)
			rc = 0;
	}
	if(rc || bot_store_actions(b, &ob) || db_job_done(b->db, job.id) || db_commit(b->db)) {
		db_rollback(b->db);
		log_error("job %lld failed; retrying in a minute", (long long)job.id);
		if(!db_begin(b->db)) {
			db_job_postpone(b->db, job.id, now_ms + 60000);
			db_commit(b->db);
		}
		outbox_release(&ob);
		return -1;
	}
	bot_deliver(b, &ob);
	outbox_release(&ob);
	return 1;
}

void sched_run_due(struct sched *s)
{
	if(s->running)
		return;
	s->running = true;
	int64_t now = clock_now_ms();
	int guard = 0;
	while(!s->bot->stopping && sched__run_one(s, now) == 1 && ++guard < 1000000)
		;
	s->running = false;
	sched_rearm(s);
}

void sched_advance(struct sched *s, int64_t target_ms)
{
	int64_t due;
	while(!s->bot->stopping && db_job_next_due(s->bot->db, &due) == 1 && due <= target_ms) {
		if(due > clock_now_ms())
			clock_set_ms(due);
		s->running = true;
		int r = sched__run_one(s, clock_now_ms());
		s->running = false;
		if(r < 0)
			break;
	}
	clock_set_ms(target_ms);
}

void sched_close(struct sched *s)
{
	if(!s->started)
		return;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, NULL);
	s->started = false;
}
