/* GET /healthz and GET /readyz: the answer composed from the database's
 * last probe and the adapters' last word from their platforms, at a time
 * the test gives. */
#include <stdio.h>
#include <string.h>

#include "daemon/health.h"
#include "lib/strbuf.h"
#include "tests/unit/check.h"

static const struct adapter_ops console_ops = { .name = "console" };
static const struct adapter_ops telegram_ops = { .name = "telegram" };
static const struct adapter_ops matrix_ops = { .name = "matrix" };

/* Checks the status and body answered at now_ms, by an instance that
 * leads (expect) or stands by (expect_standby). */
static void expect_as(const struct health_db *db, const struct adapter *a, int n, bool platforms, bool standby,
                      int64_t now_ms, int status, const char *body)
{
	struct strbuf out = STRBUF_INIT;
	CHECK_INT(health_answer(db, a, n, platforms, standby, now_ms, &out), status);
	CHECK_STR(out.buf, body);
	strbuf_release(&out);
}

static void expect(const struct health_db *db, const struct adapter *a, int n, bool platforms, int64_t now_ms,
                   int status, const char *body)
{
	expect_as(db, a, n, platforms, false, now_ms, status, body);
}

/* The platforms: each within its quiet time, counted from its last answer
 * or, before the first, from its start; the console never asked. */
static void test_platforms(void)
{
	struct health_db db = { .ok = true };
	struct adapter a[3] = {
		{ .ops = &console_ops, .started_ms = 1000 },
		{ .ops = &telegram_ops, .started_ms = 1000, .quiet_ms = 65000 },
		{ .ops = &matrix_ops, .started_ms = 1000, .quiet_ms = 45000, .heard_ms = 30000 },
	};
	expect(&db, a, 3, true, 66000, 200,
	       "{\"status\":\"ok\",\"database\":\"ok\",\"adapters\":{\"console\":\"ok\",\"telegram\":\"ok\","
	       "\"matrix\":\"ok\"}}\n");
	/* Telegram never answered since its start, 95 s ago. */
	expect(&db, a, 3, true, 96000, 503,
	       "{\"status\":\"unhealthy\",\"database\":\"ok\",\"adapters\":{\"console\":\"ok\","
	       "\"telegram\":\"no answer from the platform for 95 s\",\"matrix\":\"no answer from the platform for 66 s\"}}\n");
	/* It answers: healthy again; Matrix's quiet time ends to the
	 * millisecond. */
	a[1].heard_ms = 90000;
	a[2].heard_ms = 96000 - 45000;
	expect(&db, a, 3, true, 96000, 200,
	       "{\"status\":\"ok\",\"database\":\"ok\",\"adapters\":{\"console\":\"ok\",\"telegram\":\"ok\","
	       "\"matrix\":\"ok\"}}\n");
	expect(&db, a, 3, true, 96001, 503,
	       "{\"status\":\"unhealthy\",\"database\":\"ok\",\"adapters\":{\"console\":\"ok\",\"telegram\":\"ok\","
	       "\"matrix\":\"no answer from the platform for 45 s\"}}\n");
	/* /readyz does not ask the platforms. */
	expect(&db, a, 3, false, 10000000, 200, "{\"status\":\"ok\",\"database\":\"ok\"}\n");
	/* The console alone, days after its start. */
	expect(&db, a, 1, true, 10000000, 200,
	       "{\"status\":\"ok\",\"database\":\"ok\",\"adapters\":{\"console\":\"ok\"}}\n");
}

/* The database: its last probe's failure, or a probe that does not answer
 * (a hung disk) past HEALTH_PROBE_LATE_MS, for both routes. */
static void test_database(void)
{
	struct adapter a[1] = { { .ops = &console_ops, .started_ms = 1000 } };
	struct health_db db = { .ok = false };
	snprintf(db.why, sizeof(db.why), "unable to open database file");
	expect(&db, a, 1, true, 5000, 503,
	       "{\"status\":\"unhealthy\",\"database\":\"unable to open database file\",\"adapters\":{\"console\":"
	       "\"ok\"}}\n");
	expect(&db, a, 1, false, 5000, 503,
	       "{\"status\":\"not ready\",\"database\":\"unable to open database file\"}\n");

	/* A probe in flight: the last answer stands until it is late. */
	db.ok = true;
	db.why[0] = '\0';
	db.asked_ms = 20000;
	expect(&db, a, 1, false, 20000 + HEALTH_PROBE_LATE_MS - 1, 200, "{\"status\":\"ok\",\"database\":\"ok\"}\n");
	expect(&db, a, 1, false, 20000 + HEALTH_PROBE_LATE_MS, 503,
	       "{\"status\":\"not ready\",\"database\":\"no answer for 10 s\"}\n");
	expect(&db, a, 1, true, 20000 + 42000, 503,
	       "{\"status\":\"unhealthy\",\"database\":\"no answer for 42 s\",\"adapters\":{\"console\":\"ok\"}}\n");
}

/* An instance standing by runs no adapter: healthy while its database
 * answers, never ready, so that a load balancer sends it nothing. */
static void test_standby(void)
{
	struct health_db db = { .ok = true };
	expect_as(&db, NULL, 0, true, true, 5000, 200,
	          "{\"status\":\"standby\",\"database\":\"ok\",\"adapters\":{}}\n");
	expect_as(&db, NULL, 0, false, true, 5000, 503, "{\"status\":\"standby\",\"database\":\"ok\"}\n");
	db.ok = false;
	snprintf(db.why, sizeof(db.why), "connection refused");
	expect_as(&db, NULL, 0, true, true, 5000, 503,
	          "{\"status\":\"unhealthy\",\"database\":\"connection refused\",\"adapters\":{}}\n");
	expect_as(&db, NULL, 0, false, true, 5000, 503,
	          "{\"status\":\"not ready\",\"database\":\"connection refused\"}\n");
}

int main(void)
{
	test_platforms();
	test_database();
	test_standby();
	return check_done();
}
