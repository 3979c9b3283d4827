/* Standing by: the leadership asked for on a timer of the loop until it is
 * taken, the owner's function called once then, the gauge ensemble_leader
 * following; a stop while standing by ends the wait. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "daemon/standby.h"
#include "lib/metrics.h"
#include "tests/unit/check.h"

/* A database that answers the tries from a script: -1 (unreachable), 0
 * (another instance leads), then 1. */
struct fake {
	const int *answers;
	int n, tries, leads;
	struct standby *s;
	int leader_at_lead; /* the gauge when on_lead ran */
};

static int leader_gauge(void);

static int fake_try(void *user)
{
	struct fake *f = user;
	return f->tries < f->n ? f->answers[f->tries++] : (f->tries++, 0);
}

static void fake_lead(void *user)
{
	struct fake *f = user;
	f->leads++;
	f->leader_at_lead = leader_gauge();
}

/* The value of ensemble_leader in what /metrics would answer: 0, 1, or -1
 * when it is not there. */
static int leader_gauge(void)
{
	struct strbuf out = STRBUF_INIT;
	int v = -1;
	if(!metrics_render(&out)) {
		const char *p = strstr(out.buf, "\nensemble_leader ");
		if(p)
			v = atoi(p + strlen("\nensemble_leader "));
	}
	strbuf_release(&out);
	return v;
}

static void test_takes_over(void)
{
	static const int answers[] = { 0, -1, -1, 0, 1 };
	struct fake f = { .answers = answers, .n = 5 };
	struct standby s;
	uv_loop_t loop;
	uv_loop_init(&loop);
	CHECK_INT(standby_start(&s, &loop, 5, fake_try, fake_lead, &f), 0);
	CHECK_INT(leader_gauge(), 0);
	CHECK(uv_loop_alive(&loop));   /* the wait keeps the loop alive */
	uv_run(&loop, UV_RUN_DEFAULT); /* returns once the timer closed */
	CHECK_INT(f.tries, 5);
	CHECK_INT(f.leads, 1);
	CHECK_INT(f.leader_at_lead, 1);
	CHECK_INT(leader_gauge(), 1);
	standby_stop(&s); /* after the leadership came: nothing to do */
	CHECK_INT(uv_loop_close(&loop), 0);
}

/* A stop while standing by: no more tries, the owner never called. */
static void on_stop_timer(uv_timer_t *t)
{
	struct fake *f = t->data;
	standby_stop(f->s);
	standby_stop(f->s);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_stop(void)
{
	struct fake f = { .n = 0 };
	struct standby s;
	uv_loop_t loop;
	uv_timer_t stop;
	uv_loop_init(&loop);
	f.s = &s;
	CHECK_INT(standby_start(&s, &loop, 5, fake_try, fake_lead, &f), 0);
	uv_timer_init(&loop, &stop);
	stop.data = &f;
	uv_timer_start(&stop, on_stop_timer, 60, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(f.tries >= 3);
	CHECK_INT(f.leads, 0);
	CHECK_INT(leader_gauge(), 0);
	CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
	test_takes_over();
	test_stop();
	metrics_release();
	return check_done();
}
