/*
 * standby: an instance that waits while another one leads.
 *
 * Several instances may share one PostgreSQL database; one leads (it alone
 * talks to the platforms, runs the scheduler and writes), the others stand
 * by (storage/db.h, "engines and leadership").  An instance standing by
 * serves what tells the world about it (the HTTP listener's /healthz,
 * /readyz and /metrics) and asks for the leadership every STANDBY_TRY_MS
 * on a timer of the loop; the first time it gets it, it calls the owner's
 * function, which starts what an active instance runs.
 *
 * The gauge ensemble_leader says which it is: 1 leading, 0 standing by.
 */
#ifndef ENSEMBLE_STANDBY_H
#define ENSEMBLE_STANDBY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define STANDBY_TRY_MS 1000

struct standby {
	/* Asks for the leadership: 1 taken, 0 another instance has it, -1 the
	 * database cannot be reached (logged by the callee). */
	int (*try_lead)(void *user);
	/* Called once, from the loop, when try_lead has returned 1. */
	void (*on_lead)(void *user);
	void *user;
	uv_timer_t timer;
	int64_t since_ms; /* clock_mono_ms() when standing by began */
	bool running;     /* the timer is initialised and not yet closed */
	bool unreachable; /* the last try could not reach the database */
};

/* Sets the gauge ensemble_leader: leads (1) or stands by (0). */
void standby_set_leader(bool leads);

/* Stands by on loop: asks try_lead(user) every every_ms (STANDBY_TRY_MS;
 * a test's shorter period) until it returns 1, then closes the timer and
 * calls on_lead(user).  The timer keeps the loop alive.  s is the
 * caller's and must live until uv_run has returned.  0, or -1 when the
 * timer cannot start. */
int standby_start(struct standby *s, uv_loop_t *loop, uint64_t every_ms, int (*try_lead)(void *user),
                  void (*on_lead)(void *user), void *user);

/* Stops asking (a stop while standing by): closes the timer if it still
 * runs.  Safe to call more than once, and after the leadership came. */
void standby_stop(struct standby *s);

#endif
