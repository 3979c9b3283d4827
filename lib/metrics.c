/*
 * metrics: the registry and the text exposition format 0.0.4 (see
 * metrics.h).  The format, as Prometheus documents it: each family is
 * "# HELP name text" (backslash and line feed escaped as \\ and \n), then
 * "# TYPE name counter|gauge|histogram", then one line per sample,
 * "name{label="value",...} number", a label value escaping backslash,
 * double quote and line feed.  A histogram's samples are name_bucket with
 * an "le" label, cumulative, the last le="+Inf", then name_sum and
 * name_count.  Numbers are Go's ParseFloat's: +Inf, -Inf, NaN or a
 * decimal, written here in the fewest digits that read back exactly.
 */
#include "lib/metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/log.h"

#define LOG_MODULE "metrics"

/* The registry: families in the order of registration, under the lock.
 * Series lists are read without it (acquire loads), appended under it
 * (release stores), so an update never waits. */
static pthread_mutex_t metrics__lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_family *metrics__head, *metrics__tail;

/* [a-zA-Z_:][a-zA-Z0-9_:]*, or without ':' for a label name. */
static bool metrics__valid_name(const char *s, bool label)
{
	if(!s || !*s || isdigit((unsigned char)*s))
		return false;
	for(; *s; s++)
		if(!isalnum((unsigned char)*s) && *s != '_' && (label || *s != ':'))
			return false;
	return true;
}

static bool metrics__ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* NULL when f may be registered, else what is wrong with it. */
static const char *metrics__malformed(const struct metrics_family *f)
{
	if(!metrics__valid_name(f->name, false) || !f->help)
		return "a name or help text the format refuses";
	if(f->type == METRICS_COUNTER && !metrics__ends_with(f->name, "_total"))
		return "a counter whose name does not end in _total";
	if(f->label[1] && !f->label[0])
		return "a second label without a first";
	for(int i = 0; i < 2; i++) {
		const char *l = f->label[i];
		if(l && (!metrics__valid_name(l, true) || !strncmp(l, "__", 2) ||
		         (f->type == METRICS_HISTOGRAM && !strcmp(l, "le"))))
			return "a label name the format refuses";
	}
	if(f->label[0] && f->label[1] && !strcmp(f->label[0], f->label[1]))
		return "the same label twice";
	if(f->read && (f->label[0] || f->type == METRICS_HISTOGRAM))
		return "a value read when rendered that has labels or buckets";
	for(size_t i = 0; i < f->nbounds; i++)
		if(isnan(f->bounds[i]) || isinf(f->bounds[i]) || (i && f->bounds[i] <= f->bounds[i - 1]))
			return "histogram bounds that are not finite and increasing";
	return NULL;
}

/* Adds f to the registry; the lock is held.  0 or -1 (logged). */
static int metrics__register_locked(struct metrics_family *f)
{
	if(atomic_load_explicit(&f->registered, memory_order_relaxed))
		return 0;
	const char *why = metrics__malformed(f);
	for(const struct metrics_family *g = metrics__head; g && !why; g = g->next)
		if(!strcmp(g->name, f->name))
			why = "a name another family has";
	if(why) {
		log_error("metric %s not registered: %s", f->name ? f->name : "(null)", why);
		return -1;
	}
	f->next = NULL;
	if(metrics__tail)
		metrics__tail->next = f;
	else
		metrics__head = f;
	metrics__tail = f;
	atomic_store_explicit(&f->registered, true, memory_order_release);
	return 0;
}

int metrics_register(struct metrics_family *f)
{
	pthread_mutex_lock(&metrics__lock);
	int rc = metrics__register_locked(f);
	pthread_mutex_unlock(&metrics__lock);
	return rc;
}

static bool metrics__same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The series of f for (l1, l2) among those made, or NULL. */
static struct metric *metrics__find(const struct metrics_family *f, const char *l1, const char *l2)
{
	struct metric *m = atomic_load_explicit(&f->series, memory_order_acquire);
	for(; m; m = atomic_load_explicit(&m->next, memory_order_acquire))
		if(metrics__same(m->labels[0], l1) && metrics__same(m->labels[1], l2))
			return m;
	return NULL;
}

/* A new series of f at 0, appended to f's list; the lock is held. */
static struct metric *metrics__add_locked(struct metrics_family *f, const char *l1, const char *l2)
{
	size_t nb = f->type == METRICS_HISTOGRAM ? f->nbounds + 1 : 0;
	struct metric *m = calloc(1, sizeof(*m) + nb * sizeof(m->buckets[0]));
	if(!m)
		return NULL;
	m->family = f;
	if((l1 && !(m->labels[0] = strdup(l1))) || (l2 && !(m->labels[1] = strdup(l2)))) {
		free(m->labels[0]);
		free(m);
		return NULL;
	}
	_Atomic(struct metric *) *tail = &f->series;
	struct metric *t;
	while((t = atomic_load_explicit(tail, memory_order_relaxed)))
		tail = &t->next;
	atomic_store_explicit(tail, m, memory_order_release);
	return m;
}

struct metric *metrics_at(struct metrics_family *f, const char *l1, const char *l2)
{
	if(f->read || !l1 != !f->label[0] || !l2 != !f->label[1])
		return NULL;
	struct metric *m;
	if(atomic_load_explicit(&f->registered, memory_order_acquire) && (m = metrics__find(f, l1, l2)))
		return m;
	pthread_mutex_lock(&metrics__lock);
	m = NULL;
	if(!metrics__register_locked(f) && !(m = metrics__find(f, l1, l2)))
		m = metrics__add_locked(f, l1, l2);
	pthread_mutex_unlock(&metrics__lock);
	return m;
}

static uint64_t metrics__bits(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	return u;
}

static double metrics__double(uint64_t u)
{
	double v;
	memcpy(&v, &u, sizeof(v));
	return v;
}

void metrics_set(struct metric *m, double v)
{
	if(m)
		atomic_store_explicit(&m->value, metrics__bits(v), memory_order_relaxed);
}

void metrics_observe(struct metric *m, double v)
{
	if(!m || m->family->type != METRICS_HISTOGRAM)
		return;
	const struct metrics_family *f = m->family;
	size_t i = 0;
	while(i < f->nbounds && v > f->bounds[i])
		i++;
	atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
	/* A double has no atomic addition: compare and swap its bits. */
	uint64_t old = atomic_load_explicit(&m->sum, memory_order_relaxed);
	while(!atomic_compare_exchange_weak_explicit(&m->sum, &old, metrics__bits(metrics__double(old) + v),
	                                             memory_order_relaxed, memory_order_relaxed))
		;
}

double metrics_value(const struct metric *m)
{
	if(!m)
		return NAN;
	uint64_t u = atomic_load_explicit(&m->value, memory_order_relaxed);
	return m->family->type == METRICS_COUNTER ? (double)u : metrics__double(u);
}

/* ---- rendering ---- */

/* Appends v in the format's spelling, in the fewest digits that read
 * back as v (as Go's strconv.FormatFloat(v, 'g', -1, 64) does), a whole
 * number below 10^15 in full. */
static void metrics__number(struct strbuf *out, double v)
{
	if(isnan(v)) {
		strbuf_adds(out, "NaN");
		return;
	}
	if(isinf(v)) {
		strbuf_adds(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char buf[40];
	/* A whole number is written whole ("10", not "1e+01"). */
	if(v == floor(v) && fabs(v) < 1e15) {
		strbuf_addf(out, "%.0f", v);
		return;
	}
	for(int digits = 1; digits <= 17; digits++) {
		snprintf(buf, sizeof(buf), "%.*g", digits, v);
		if(strtod(buf, NULL) == v)
			break;
	}
	strbuf_adds(out, buf);
}

/* Appends s escaped: backslash and line feed always, the double quote
 * too in a label value (quoted). */
static void metrics__escaped(struct strbuf *out, const char *s, bool quoted)
{
	for(; *s; s++) {
		if(*s == '\\')
			strbuf_adds(out, "\\\\");
		else if(*s == '\n')
			strbuf_adds(out, "\\n");
		else if(*s == '"' && quoted)
			strbuf_adds(out, "\\\"");
		else
			strbuf_addc(out, *s);
	}
}

/* Appends one sample line: name, suffix, m's labels and le (when not
 * NULL) in braces, the value. */
static void metrics__sample(struct strbuf *out, const struct metrics_family *f, const char *suffix,
                            const struct metric *m, const char *le, const char *value)
{
	strbuf_adds(out, f->name);
	strbuf_adds(out, suffix);
	const char *sep = "{";
	for(int i = 0; m && i < 2 && f->label[i]; i++) {
		strbuf_addf(out, "%s%s=\"", sep, f->label[i]);
		metrics__escaped(out, m->labels[i], true);
		strbuf_addc(out, '"');
		sep = ",";
	}
	if(le)
		strbuf_addf(out, "%sle=\"%s\"", sep, le);
	if(le || (m && f->label[0]))
		strbuf_addc(out, '}');
	strbuf_addc(out, ' ');
	strbuf_adds(out, value);
	strbuf_addc(out, '\n');
}

/* A histogram series' lines: cumulative buckets, the sum, the count. */
static void metrics__histogram(struct strbuf *out, const struct metrics_family *f, const struct metric *m)
{
	uint64_t total = 0;
	char count[24];
	struct strbuf num = STRBUF_INIT;
	for(size_t i = 0; i <= f->nbounds; i++) {
		total += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
		strbuf_reset(&num);
		if(i < f->nbounds)
			metrics__number(&num, f->bounds[i]);
		else
			strbuf_adds(&num, "+Inf");
		snprintf(count, sizeof(count), "%" PRIu64, total);
		metrics__sample(out, f, "_bucket", m, num.buf, count);
	}
	strbuf_reset(&num);
	metrics__number(&num, metrics__double(atomic_load_explicit(&m->sum, memory_order_relaxed)));
	metrics__sample(out, f, "_sum", m, NULL, num.buf);
	metrics__sample(out, f, "_count", m, NULL, count);
	out->oom |= num.oom;
	strbuf_release(&num);
}

static void metrics__family(struct strbuf *out, const struct metrics_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	struct strbuf num = STRBUF_INIT;
	strbuf_addf(out, "# HELP %s ", f->name);
	metrics__escaped(out, f->help, false);
	strbuf_addf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
	if(f->read) {
		metrics__number(&num, f->read(f->user));
		metrics__sample(out, f, "", NULL, NULL, num.buf);
	}
	const struct metric *m = atomic_load_explicit(&f->series, memory_order_acquire);
	for(; m; m = atomic_load_explicit(&m->next, memory_order_acquire)) {
		strbuf_reset(&num);
		if(f->type == METRICS_HISTOGRAM) {
			metrics__histogram(out, f, m);
			continue;
		}
		metrics__number(&num, metrics_value(m));
		metrics__sample(out, f, "", m, NULL, num.buf);
	}
	out->oom |= num.oom;
	strbuf_release(&num);
}

int metrics_render(struct strbuf *out)
{
	pthread_mutex_lock(&metrics__lock);
	for(const struct metrics_family *f = metrics__head; f; f = f->next)
		metrics__family(out, f);
	pthread_mutex_unlock(&metrics__lock);
	return out->oom ? -1 : 0;
}

void metrics_release(void)
{
	pthread_mutex_lock(&metrics__lock);
	struct metrics_family *f = metrics__head, *next;
	for(; f; f = next) {
		next = f->next;
		struct metric *m = atomic_load_explicit(&f->series, memory_order_relaxed), *mn;
		for(; m; m = mn) {
			mn = atomic_load_explicit(&m->next, memory_order_relaxed);
			free(m->labels[0]);
			free(m->labels[1]);
			free(m);
		}
		atomic_store_explicit(&f->series, NULL, memory_order_relaxed);
		atomic_store_explicit(&f->registered, false, memory_order_relaxed);
		f->next = NULL;
	}
	metrics__head = metrics__tail = NULL;
	pthread_mutex_unlock(&metrics__lock);
}

/* ---- the process metrics, from /proc/self ---- */

/* The fields of /proc/self/stat after the command's name (which may hold
 * blanks and parentheses, hence the last ')'): utime, stime (14 and 15,
 * clock ticks), starttime (22, ticks after boot), vsize (23, bytes), rss
 * (24, pages).  0 or -1. */
static int metrics__stat(double *cpu_s, double *start_ticks, double *vsize, double *rss_pages)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if(f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long ut, st, start, vs;
	long long rss;
	/* After ") ": state (3), then fields 4 to 13, utime (14) ... */
	if(!p ||
	   sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
	          &ut, &st, &start, &vs, &rss) != 5)
		return -1;
	double hz = (double)sysconf(_SC_CLK_TCK);
	*cpu_s = (double)(ut + st) / hz;
	*start_ticks = (double)start / hz;
	*vsize = (double)vs;
	*rss_pages = (double)rss;
	return 0;
}

static double metrics__proc_cpu(void *user)
{
	double cpu, start, vsize, rss;
	return metrics__stat(&cpu, &start, &vsize, &rss) ? NAN : cpu;
}

static double metrics__proc_rss(void *user)
{
	double cpu, start, vsize, rss;
	return metrics__stat(&cpu, &start, &vsize, &rss) ? NAN : rss * (double)sysconf(_SC_PAGESIZE);
}

static double metrics__proc_vsize(void *user)
{
	double cpu, start, vsize, rss;
	return metrics__stat(&cpu, &start, &vsize, &rss) ? NAN : vsize;
}

/* The boot time (btime of /proc/stat) plus the process's start after
 * boot: its start in seconds since the epoch. */
static double metrics__proc_start(void *user)
{
	double cpu, start, vsize, rss;
	char line[256];
	long long btime = -1;
	if(metrics__stat(&cpu, &start, &vsize, &rss))
		return NAN;
	FILE *f = fopen("/proc/stat", "r");
	while(f && fgets(line, sizeof(line), f))
		if(sscanf(line, "btime %lld", &btime) == 1)
			break;
	if(f)
		fclose(f);
	return btime < 0 ? NAN : (double)btime + start;
}

/* The entries of /proc/self/fd, less the one this reading opens. */
static double metrics__proc_fds(void *user)
{
	DIR *d = opendir("/proc/self/fd");
	if(!d)
		return NAN;
	long n = 0;
	for(struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return (double)(n - 1);
}

static double metrics__proc_max_fds(void *user)
{
	struct rlimit rl;
	if(getrlimit(RLIMIT_NOFILE, &rl))
		return NAN;
	return rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}

/* clang-format off: a table reads best one row to a line */
static struct metrics_family metrics__process[] = {
	METRICS_READ("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", METRICS_COUNTER,
	             metrics__proc_cpu, NULL),
	METRICS_READ("process_resident_memory_bytes", "Resident memory size in bytes.", METRICS_GAUGE,
	             metrics__proc_rss, NULL),
	METRICS_READ("process_virtual_memory_bytes", "Virtual memory size in bytes.", METRICS_GAUGE,
	             metrics__proc_vsize, NULL),
	METRICS_READ("process_open_fds", "Number of open file descriptors.", METRICS_GAUGE, metrics__proc_fds, NULL),
	METRICS_READ("process_max_fds", "Maximum number of open file descriptors.", METRICS_GAUGE,
	             metrics__proc_max_fds, NULL),
	METRICS_READ("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
	             METRICS_GAUGE, metrics__proc_start, NULL),
};
/* clang-format on */

int metrics_register_process(void)
{
	for(size_t i = 0; i < sizeof(metrics__process) / sizeof(metrics__process[0]); i++)
		if(metrics_register(&metrics__process[i]))
			return -1;
	return 0;
}
