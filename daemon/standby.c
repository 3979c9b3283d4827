#include "daemon/standby.h"

#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"

#define LOG_MODULE "standby"

static struct metrics_family standby__leader = METRICS_GAUGE(
	"ensemble_leader", "1 when this instance leads (talks to the platforms), 0 while it stands by.", NULL, NULL);

void standby_set_leader(bool leads)
{
	metrics_set(metrics_at(&standby__leader, NULL, NULL), leads ? 1 : 0);
}

static void standby__on_timer(uv_timer_t *t)
{
	struct standby *s = t->data;
	int rc = s->try_lead(s->user);
	if(rc < 0) {
		/* The callee said why; this says what it means, once. */
		if(!s->unreachable)
			log_warn("cannot ask for the leadership: trying again every %llu ms",
			         (unsigned long long)uv_timer_get_repeat(t));
		s->unreachable = true;
		return;
	}
	if(s->unreachable)
		log_info("the database answers again");
	s->unreachable = false;
	if(rc == 0)
		return;
	log_info("took over after %.1f s standing by: starting what a leader runs",
	         (double)(clock_mono_ms() - s->since_ms) / 1000);
	standby_set_leader(true);
	standby_stop(s);
	s->on_lead(s->user);
}

int standby_start(struct standby *s, uv_loop_t *loop, uint64_t every_ms, int (*try_lead)(void *user),
                  void (*on_lead)(void *user), void *user)
{
	memset(s, 0, sizeof(*s));
	s->try_lead = try_lead;
	s->on_lead = on_lead;
	s->user = user;
	s->since_ms = clock_mono_ms();
	standby_set_leader(false);
	if(uv_timer_init(loop, &s->timer)) {
		log_error("cannot start waiting for the leadership");
		return -1;
	}
	s->timer.data = s;
	s->running = true;
	uv_timer_start(&s->timer, standby__on_timer, every_ms, every_ms);
	return 0;
}

void standby_stop(struct standby *s)
{
	if(!s->running)
		return;
	s->running = false;
	uv_close((uv_handle_t *)&s->timer, NULL);
}
