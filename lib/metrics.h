/*
 * metrics: counters, gauges and histograms, rendered in the Prometheus text
 * exposition format 0.0.4 (what GET /metrics answers).
 *
 * A family (a metric's name, help text, type and label names) is a static
 * struct metrics_family of the module that updates it, filled by one of the
 * METRICS_* initialisers below.  It joins the process's one registry when
 * registered (metrics_register), or at the first metrics_at on it.  A
 * family with labels has one series per combination of label values, made
 * the first time metrics_at is asked for it; label values must come from a
 * small known set (a platform's name, a command's canonical name), since
 * each combination lives until metrics_release.  A family without labels
 * has its one series, metrics_at(f, NULL, NULL).
 *
 * Updating is the hot path: metrics_inc costs one relaxed atomic addition
 * (a few nanoseconds), with no lock and no lookup when the caller keeps the
 * struct metric * that metrics_at gave (series are never freed before
 * metrics_release).  Every update is atomic, so a series may be updated
 * from any thread; registering, finding a series and rendering take the
 * registry's lock.  A NULL struct metric * (a failed metrics_at: out of
 * memory, wrong labels) is accepted by every update and ignored, so that
 * metrics never make the bot fail.
 */
#ifndef ENSEMBLE_METRICS_H
#define ENSEMBLE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

/* One series: a family's values for one combination of label values.
 * Its fields are the module's; read them with the functions below. */
struct metric {
	_Atomic uint64_t value; /* a counter's count; a gauge's double, as its bits */
	_Atomic uint64_t sum;   /* a histogram's sum of observations, as a double's bits */
	_Atomic(struct metric *) next;
	const struct metrics_family *family;
	char *labels[2];
	_Atomic uint64_t buckets[]; /* a histogram's observations per bucket (nbounds + 1, the last +Inf) */
};

struct metrics_family {
	const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's ends in _total */
	const char *help;
	enum metrics_type type;
	const char *label[2]; /* label names, the unused ones NULL; a histogram's may not be "le" */
	/* A histogram's buckets: their upper bounds, increasing, without the
	 * +Inf one every histogram has. */
	const double *bounds;
	size_t nbounds;
	/* A family whose one value is read when it is rendered (a counter or
	 * a gauge without labels), or NULL: metrics_at then gives NULL. */
	double (*read)(void *user);
	void *user;
	/* The registry's, zero in the initialisers. */
	struct metrics_family *next;
	_Atomic(struct metric *) series;
	atomic_bool registered;
};

/* The initialisers of the four kinds of family. */
#define METRICS_COUNTER(n, h, l1, l2) \
	{ \
		.name = (n), .help = (h), .type = METRICS_COUNTER, .label = {(l1), (l2) } \
	}
#define METRICS_GAUGE(n, h, l1, l2) \
	{ \
		.name = (n), .help = (h), .type = METRICS_GAUGE, .label = {(l1), (l2) } \
	}
#define METRICS_HISTOGRAM(n, h, b, nb) \
	{ \
		.name = (n), .help = (h), .type = METRICS_HISTOGRAM, .bounds = (b), .nbounds = (nb) \
	}
#define METRICS_READ(n, h, t, fn, u) \
	{ \
		.name = (n), .help = (h), .type = (t), .read = (fn), .user = (u) \
	}

/* Adds f to the registry, where it stays (f is borrowed) until
 * metrics_release; families render in the order they were registered.
 * Registering f again does nothing.  Returns 0, or -1 (logged) when f is
 * malformed (a name, a label name or bounds the format refuses) or its
 * name is another family's. */
int metrics_register(struct metrics_family *f);

/* The series of f for the label values l1 and l2 (NULL for a label f does
 * not have), made (at 0) the first time, f registered if need be.  The
 * values are copied.  Returns NULL when f is malformed, reads its value
 * (f->read), the values do not match its labels, or memory ran out. */
struct metric *metrics_at(struct metrics_family *f, const char *l1, const char *l2);

/* A counter: adds 1, or n. */
static inline void metrics_inc(struct metric *m)
{
	if(m)
		atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
}
static inline void metrics_add(struct metric *m, uint64_t n)
{
	if(m)
		atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

/* A gauge: sets its value. */
void metrics_set(struct metric *m, double v);
/* A histogram: counts one observation of v in its bucket and its sum. */
void metrics_observe(struct metric *m, double v);

/* A counter's count, or a gauge's value (for tests and callers that
 * derive one figure from another). */
double metrics_value(const struct metric *m);

/* Registers the standard process metrics, named as Prometheus' client
 * libraries name them: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds, read from
 * /proc/self when rendered (NaN where there is no /proc).  0 or -1. */
int metrics_register_process(void);

/* Appends every registered family to out in the text format 0.0.4: its
 * # HELP and # TYPE lines, then its series (a histogram's cumulative
 * _bucket lines up to le="+Inf", its _sum and _count).  Returns 0, or -1
 * out of memory (out->oom). */
int metrics_render(struct strbuf *out);

/* The Content-Type of what metrics_render writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Empties the registry: frees every series and forgets every family (at
 * exit, and between unit tests).  No update may run meanwhile, and no
 * struct metric * kept from before may be used after. */
void metrics_release(void);

#endif
