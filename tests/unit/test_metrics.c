/* Metrics: the text exposition format 0.0.4 exactly (help and label
 * escaping, histogram buckets cumulative up to +Inf, numbers), the
 * registry's refusals, and the address lists of /metrics' allow list. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cidr.h"
#include "lib/metrics.h"
#include "tests/unit/check.h"

/* What metrics_render writes now, as a string the caller frees. */
static char *render(void)
{
	struct strbuf sb = STRBUF_INIT;
	if(metrics_render(&sb))
		return NULL;
	return strbuf_detach(&sb);
}

static void test_counter_and_labels(void)
{
	static struct metrics_family sent = METRICS_COUNTER(
		"t_sent_total", "Messages sent.\nBy platform, with a \\ in the help.", "platform", NULL);
	static struct metrics_family fail = METRICS_COUNTER("t_fail_total", "Failures.", "platform", "class");
	struct metric *tg = metrics_at(&sent, "telegram", NULL);
	CHECK(tg != NULL);
	CHECK(metrics_at(&sent, "telegram", NULL) == tg); /* one series per value */
	metrics_inc(tg);
	metrics_add(tg, 41);
	metrics_inc(metrics_at(&sent, "a \"quoted\\\" \nvalue", NULL));
	metrics_inc(metrics_at(&fail, "matrix", "5xx"));
	CHECK(metrics_value(tg) == 42);
	/* Wrong label values give no series, and updating none is harmless. */
	CHECK(metrics_at(&sent, NULL, NULL) == NULL);
	CHECK(metrics_at(&sent, "x", "y") == NULL);
	CHECK(metrics_at(&fail, "matrix", NULL) == NULL);
	metrics_inc(NULL);
	char *out = render();
	CHECK_STR(out, "# HELP t_sent_total Messages sent.\\nBy platform, with a \\\\ in the help.\n"
	               "# TYPE t_sent_total counter\n"
	               "t_sent_total{platform=\"telegram\"} 42\n"
	               "t_sent_total{platform=\"a \\\"quoted\\\\\\\" \\nvalue\"} 1\n"
	               "# HELP t_fail_total Failures.\n"
	               "# TYPE t_fail_total counter\n"
	               "t_fail_total{platform=\"matrix\",class=\"5xx\"} 1\n");
	free(out);
	metrics_release();
}

static void test_gauges_and_numbers(void)
{
	static struct metrics_family g = METRICS_GAUGE("t_value", "A gauge.", NULL, NULL);
	struct metric *m = metrics_at(&g, NULL, NULL);
	CHECK(metrics_register(&g) == 0); /* again: nothing more */
	static const double values[] = { 0.1, 1e21, -2.5, 1234567, 0 };
	static const char *const want[] = { "0.1", "1e+21", "-2.5", "1234567", "0" };
	for(size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		metrics_set(m, values[i]);
		char *out = render();
		char line[64];
		snprintf(line, sizeof(line), "\nt_value %s\n", want[i]);
		CHECK(out && strstr(out, line));
		free(out);
	}
	metrics_set(m, INFINITY);
	char *out = render();
	CHECK(out && strstr(out, "\nt_value +Inf\n"));
	free(out);
	metrics_set(m, NAN);
	out = render();
	CHECK(out && strstr(out, "\nt_value NaN\n"));
	free(out);
	metrics_release();
}

static double forty_two(void *user)
{
	return *(double *)user;
}

static void test_read(void)
{
	static double v = 42.5;
	static struct metrics_family r =
		METRICS_READ("t_age_seconds", "Read when rendered.", METRICS_GAUGE, forty_two, &v);
	CHECK(metrics_register(&r) == 0);
	CHECK(metrics_at(&r, NULL, NULL) == NULL); /* no series to update */
	char *out = render();
	CHECK_STR(out, "# HELP t_age_seconds Read when rendered.\n# TYPE t_age_seconds gauge\nt_age_seconds 42.5\n");
	free(out);
	metrics_release();
}

static void test_histogram(void)
{
	static const double bounds[] = { 0.5, 1, 10 };
	static struct metrics_family h = METRICS_HISTOGRAM("t_lag_seconds", "Lag.", bounds, 3);
	struct metric *m = metrics_at(&h, NULL, NULL);
	/* A value on a bound is in that bucket (le: less or equal). */
	metrics_observe(m, 0.25);
	metrics_observe(m, 0.5);
	metrics_observe(m, 3);
	metrics_observe(m, 100);
	metrics_observe(m, 100);
	char *out = render();
	CHECK_STR(out, "# HELP t_lag_seconds Lag.\n"
	               "# TYPE t_lag_seconds histogram\n"
	               "t_lag_seconds_bucket{le=\"0.5\"} 2\n"
	               "t_lag_seconds_bucket{le=\"1\"} 2\n"
	               "t_lag_seconds_bucket{le=\"10\"} 3\n"
	               "t_lag_seconds_bucket{le=\"+Inf\"} 5\n"
	               "t_lag_seconds_sum 203.75\n"
	               "t_lag_seconds_count 5\n");
	free(out);
	metrics_release();
	/* With a label, le comes last in each bucket's braces. */
	static struct metrics_family hl = { .name = "t_l_seconds",
		                            .help = "L.",
		                            .type = METRICS_HISTOGRAM,
		                            .label = { "kind", NULL },
		                            .bounds = bounds,
		                            .nbounds = 1 };
	metrics_observe(metrics_at(&hl, "a", NULL), 2);
	out = render();
	CHECK(out && strstr(out, "\nt_l_seconds_bucket{kind=\"a\",le=\"0.5\"} 0\n"
	                         "t_l_seconds_bucket{kind=\"a\",le=\"+Inf\"} 1\n"
	                         "t_l_seconds_sum{kind=\"a\"} 2\n"
	                         "t_l_seconds_count{kind=\"a\"} 1\n"));
	free(out);
	metrics_release();
}

static void test_refusals(void)
{
	static const double bad_bounds[] = { 1, 1 };
	static struct metrics_family no_total = METRICS_COUNTER("t_sent", "x", NULL, NULL);
	static struct metrics_family bad_name = METRICS_GAUGE("1t", "x", NULL, NULL);
	static struct metrics_family bad_label = METRICS_GAUGE("t_g", "x", "__x", NULL);
	static struct metrics_family le = { .name = "t_h", .help = "x", .type = METRICS_HISTOGRAM, .label = { "le" } };
	static struct metrics_family bounds = METRICS_HISTOGRAM("t_h2", "x", bad_bounds, 2);
	static struct metrics_family a = METRICS_GAUGE("t_same", "x", NULL, NULL);
	static struct metrics_family b = METRICS_GAUGE("t_same", "y", NULL, NULL);
	if(!freopen("/dev/null", "w", stderr)) /* the refusals are logged */
		return;
	CHECK(metrics_register(&no_total) == -1);
	CHECK(metrics_register(&bad_name) == -1);
	CHECK(metrics_register(&bad_label) == -1);
	CHECK(metrics_register(&le) == -1);
	CHECK(metrics_register(&bounds) == -1);
	CHECK(metrics_at(&no_total, NULL, NULL) == NULL);
	CHECK(metrics_register(&a) == 0);
	CHECK(metrics_register(&b) == -1);
	char *out = render();
	CHECK_STR(out, "# HELP t_same x\n# TYPE t_same gauge\n"); /* a family without series yet */
	free(out);
	metrics_release();
}

static void test_process(void)
{
	CHECK(metrics_register_process() == 0);
	char *out = render();
	double rss = 0, fds = 0, start = 0;
	const char *p;
	CHECK(out && strstr(out, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "));
	CHECK(out && (p = strstr(out, "\nprocess_resident_memory_bytes ")) &&
	      sscanf(p, "\nprocess_resident_memory_bytes %lf", &rss) == 1);
	CHECK(rss > 100000 && rss < 1e10);
	CHECK(out && (p = strstr(out, "\nprocess_open_fds ")) && sscanf(p, "\nprocess_open_fds %lf", &fds) == 1);
	CHECK(fds >= 3 && fds < 1000);
	CHECK(out && (p = strstr(out, "\nprocess_start_time_seconds ")) &&
	      sscanf(p, "\nprocess_start_time_seconds %lf", &start) == 1);
	CHECK(start > 1.6e9 && start < 4e9);
	CHECK(out && strstr(out, "\nprocess_max_fds ") && strstr(out, "\nprocess_virtual_memory_bytes "));
	free(out);
	metrics_release();
}

/* Whether text (an address) is in list. */
static bool in(const struct cidr_list *list, const char *text)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	if(inet_pton(AF_INET, text, &a4.sin_addr) == 1)
		return cidr_match(list, (struct sockaddr *)&a4);
	if(inet_pton(AF_INET6, text, &a6.sin6_addr) == 1)
		return cidr_match(list, (struct sockaddr *)&a6);
	return false;
}

static void test_cidr(void)
{
	struct cidr_list l;
	char msg[200];
	CHECK(cidr_parse(&l, "127.0.0.0/8 ::1", msg, sizeof(msg)) == 0);
	CHECK(in(&l, "127.0.0.1") && in(&l, "127.255.0.9") && in(&l, "::1") && in(&l, "::ffff:127.0.0.2"));
	CHECK(!in(&l, "128.0.0.1") && !in(&l, "::2") && !in(&l, "10.0.0.1"));
	CHECK(cidr_parse(&l, " 10.1.2.3/32,192.168.0.0/20 , fd00::/8", msg, sizeof(msg)) == 0);
	CHECK_INT(l.n, 3);
	CHECK(in(&l, "10.1.2.3") && !in(&l, "10.1.2.4"));
	CHECK(in(&l, "192.168.15.255") && !in(&l, "192.168.16.0"));
	CHECK(in(&l, "fdab::1") && !in(&l, "fe80::1"));
	CHECK(cidr_parse(&l, "0.0.0.0/0", msg, sizeof(msg)) == 0 && in(&l, "8.8.8.8") && !in(&l, "::1"));
	CHECK(cidr_parse(&l, "", msg, sizeof(msg)) == 0 && l.n == 0 && !in(&l, "127.0.0.1"));
	CHECK(cidr_parse(&l, "127.0.0.1 localhost", msg, sizeof(msg)) == -1);
	CHECK_STR(msg, "'localhost': not an IPv4 or IPv6 address");
	CHECK(cidr_parse(&l, "10.0.0.0/33", msg, sizeof(msg)) == -1);
	CHECK_STR(msg, "'10.0.0.0/33': the prefix length must be 0 to 32");
	CHECK(cidr_parse(&l, "10.0.0.1/8", msg, sizeof(msg)) == -1);
	CHECK_STR(msg, "'10.0.0.1/8': bits are set past the prefix length");
	CHECK(cidr_parse(&l, "::1/", msg, sizeof(msg)) == -1);
	CHECK_STR(msg, "'::1/': the prefix length must be 0 to 128");
}

int main(void)
{
	test_counter_and_labels();
	test_gauges_and_numbers();
	test_read();
	test_histogram();
	test_process();
	test_cidr();
	test_refusals();
	return check_done();
}
