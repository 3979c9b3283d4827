/*
 * sched: the durable scheduler.  Timed jobs (a poll's deadline, later
 * reminders, nudges and series) are rows of the jobs table; the next one is
 * found through an index and one libuv timer is armed for it, so the bot
 * sleeps until something is due.  A job that fell due while the bot was
 * down runs when it comes back.
 *
 * Each job runs in its own transaction with its effects; its messages leave
 * after the commit.  Under the simulated clock there is no timer: the
 * console moves time and sched_advance() runs what became due, in order,
 * with the clock set to each job's due time.
 */
#ifndef ENSEMBLE_SCHED_H
#define ENSEMBLE_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bot/action.h"
#include "bot/remind.h"
#include "storage/db.h"

struct bot;

enum job_kind {
	JOB_DEADLINE = 1, /* a poll's deadline: close it */
	JOB_REMINDER = 2, /* a reminder; arg = minutes before the start */
	JOB_NUDGE = 3,    /* remind those who have not voted */
	JOB_SERIES = 4,   /* a session of a series ended: create the next */
};

struct sched {
	struct bot *bot;
	uv_timer_t timer;
	bool started;
	bool running;  /* inside sched_run_due: no re-entry */
	bool deferred; /* due jobs wait for the database (sched_resume) */
	/* On PostgreSQL the due jobs run on a thread (sched.c): what the
	 * run needs and leaves for the loop. */
	int64_t run_now;
	int run_rc;
	int due_found;
	int64_t due_ms;
	struct outbox out; /* the jobs' messages, delivered by the loop */
	/* What the reminders of the batch running did, counted in the
	 * metrics once it commits. */
	struct remind_tally tally;
};

int sched_init(struct sched *s, struct bot *b);
/* Re-arms the timer for the earliest pending job; call after any commit
 * that may have added or removed jobs. */
void sched_rearm(struct sched *s);
/* Arms the timer for a job due at due_ms when found is 1 (the result of
 * db_job_next_due, read by whoever owned the database then); stops it
 * when found is 0 or -1. */
void sched_arm(struct sched *s, int found, int64_t due_ms);
/* Runs every job due at the current time, earliest first.  While the
 * database is busy on a thread (db_busy) nothing runs: sched_resume runs
 * the jobs once it is free. */
void sched_run_due(struct sched *s);
/* The database is free again: runs what sched_run_due put off. */
void sched_resume(struct sched *s);
/* Simulated time: moves the clock to target_ms, running each job that
 * falls due on the way at its own due time. */
void sched_advance(struct sched *s, int64_t target_ms);
/* Closes the timer (the loop then drains). */
void sched_close(struct sched *s);

#endif
