/*
 * health: what GET /healthz and GET /readyz answer.
 *
 * /healthz answers 200 when the database answers a query and every running
 * adapter has heard from its platform within its quiet time (struct
 * adapter's heard_ms and quiet_ms: its long-poll window plus a margin);
 * otherwise 503.  /readyz is the same without the platforms: the bot can
 * take work (a webhook's posts, a reminder's plan) even while a platform is
 * down.  Both answer JSON naming each part and what is wrong with it:
 *
 *   {"status":"ok","database":"ok","adapters":{"telegram":"ok"}}
 *   {"status":"unhealthy","database":"ok",
 *    "adapters":{"telegram":"no answer from the platform for 95 s"}}
 *
 * An instance standing by while another leads (daemon/standby.h) runs no
 * adapter and takes no work: its /readyz answers 503, so that a load
 * balancer sends a webhook's posts to the active instance alone, and its
 * /healthz 200 while its database answers:
 *
 *   {"status":"standby","database":"ok","adapters":{}}
 *
 * The database is asked by a thread of the loop's pool every
 * HEALTH_PROBE_MS (db_probe: the file at its path opened anew, as a restart
 * would find it), so that a slow or hung disk never holds the loop; a
 * request reads the last answer, and a probe that has not answered for
 * HEALTH_PROBE_LATE_MS is an answer of its own.
 */
#ifndef ENSEMBLE_HEALTH_H
#define ENSEMBLE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "lib/strbuf.h"

#define HEALTH_PROBE_MS 5000
#define HEALTH_PROBE_LATE_MS 10000

/* The database's last answer. */
struct health_db {
	int64_t asked_ms; /* when the probe in flight began (clock_mono_ms); 0: none is */
	bool ok;          /* what the last probe found */
	char why[160];    /* ... and when not ok, SQLite's reason */
};

struct health {
	struct health_db db;
	const char *path; /* the database file; borrowed */
	uv_timer_t timer;
	uv_work_t work;
	bool running; /* the timer is initialised and not yet closed */
	bool work_ok; /* the thread's answer, until the loop copies it */
	char work_why[160];
};

/* Probes the database file at path once, at once (before the loop runs,
 * READY=1 waits for it), then every HEALTH_PROBE_MS on loop's pool, with
 * a timer that does not keep the loop alive.  path must outlive h.
 * Returns 0; -1 when the timer cannot start (then h->db says so). */
int health_start(struct health *h, uv_loop_t *loop, const char *path);

/* Stops the probes: closes the timer.  A probe in flight ends on its own,
 * and the loop waits for it: h must live until uv_run has returned. */
void health_stop(struct health *h);

/* Writes the answer to GET /healthz (platforms true) or GET /readyz
 * (false) into out: a JSON object and a newline, from db's last answer and
 * the n adapters running, at now_ms (clock_mono_ms(); a test's time).  An
 * instance standing by (standby true) is ready for nothing: its /readyz
 * is 503 with the status "standby" ("not ready" when the database does not
 * answer), and its /healthz, when all is well, 200 with the status
 * "standby".  Returns the HTTP status, 200 or 503; -1 when
 * memory ran out. */
int health_answer(const struct health_db *db, const struct adapter *adapters, int n, bool platforms, bool standby,
                  int64_t now_ms, struct strbuf *out);

#endif
