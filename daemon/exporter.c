#include "daemon/exporter.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "lib/cidr.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/thread.h"
#include "storage/db.h"

#define LOG_MODULE "metrics"

struct exporter {
	uv_loop_t *loop;
	struct db *db;
	struct cidr_list allow;
	uv_timer_t timer;
	bool closed;
	/* The read under way, or NULL: begun and ended on the loop's thread,
	 * run on the pool's; stats and rc are written there, and read back
	 * in exporter__read_done, after the pool's thread is done with them. */
	struct db_stats_read *read;
	uv_work_t work;
	struct db_stats stats;
	int rc;
};

/* The database's figures, as last read (the loop's thread alone reads
 * and writes them). */
static int64_t exporter__oldest_ms;

static double exporter__oldest_age(void *user)
{
	(void)user;
	return exporter__oldest_ms ? (double)(clock_now_ms() - exporter__oldest_ms) / 1000 : 0;
}

/* clang-format off: a table reads best one row to a line */
static struct metrics_family exporter__outbox =
	METRICS_GAUGE("ensemble_outbox_messages", "Messages stored in the outbox and not delivered yet.", NULL, NULL);
static struct metrics_family exporter__oldest =
	METRICS_READ("ensemble_outbox_oldest_age_seconds",
                     "How long the oldest message of the outbox has waited, in seconds (0: none waits).", METRICS_GAUGE,
                     exporter__oldest_age, NULL);
static struct metrics_family exporter__jobs = METRICS_GAUGE(
	"ensemble_jobs_pending", "Scheduled jobs (reminders, deadlines, nudges, series) not run yet.", NULL, NULL);
static struct metrics_family exporter__size =
	METRICS_GAUGE("ensemble_database_size_bytes", "The database's size (its pages), in bytes.", NULL, NULL);
/* clang-format on */

static void exporter__read_work(uv_work_t *w)
{
	struct exporter *e = w->data;
	thread_background();
	e->rc = db_stats_read(e->read, &e->stats);
}

static void exporter__read_done(uv_work_t *w, int status)
{
	struct exporter *e = w->data;
	(void)status;
	db_stats_end(e->read);
	e->read = NULL;
	if(e->rc)
		return;
	metrics_set(metrics_at(&exporter__outbox, NULL, NULL), (double)e->stats.outbox);
	metrics_set(metrics_at(&exporter__jobs, NULL, NULL), (double)e->stats.jobs);
	metrics_set(metrics_at(&exporter__size, NULL, NULL), (double)e->stats.size_bytes);
	exporter__oldest_ms = e->stats.outbox_oldest_ms;
}

/* Starts a read of the database's figures, unless one is under way. */
static void exporter__on_timer(uv_timer_t *t)
{
	struct exporter *e = t->data;
	if(e->read || e->closed || !(e->read = db_stats_begin(e->db)))
		return;
	e->work.data = e;
	if(uv_queue_work(e->loop, &e->work, exporter__read_work, exporter__read_done)) {
		db_stats_end(e->read);
		e->read = NULL;
	}
}

/* GET /metrics: the registry, to an allowed peer. */
static int exporter__serve(void *user, const struct http_request *req, struct http_response *res)
{
	struct exporter *e = user;
	struct sockaddr_storage peer;
	if(http_request_peer(req, &peer) || !cidr_match(&e->allow, (struct sockaddr *)&peer)) {
		log_info("GET /metrics refused: the peer is not in http.metrics_allow");
		res->status = 403;
		res->body = strdup("forbidden\n");
		res->body_len = res->body ? strlen(res->body) : 0;
		return 0;
	}
	struct strbuf sb = STRBUF_INIT;
	if(metrics_render(&sb)) {
		strbuf_release(&sb);
		return -1;
	}
	res->content_type = METRICS_CONTENT_TYPE;
	res->body_len = sb.len;
	res->body = strbuf_detach(&sb);
	return res->body ? 0 : -1;
}

int exporter_start(struct exporter **out, uv_loop_t *loop, struct http_server *srv, const struct config *cfg,
                   struct db *db)
{
	char why[160];
	struct exporter *e = calloc(1, sizeof(*e));
	*out = NULL;
	if(!e) {
		log_error("cannot serve /metrics: out of memory");
		return -1;
	}
	e->loop = loop;
	e->db = db;
	/* The configuration checked the list when it was read. */
	if(cidr_parse(&e->allow, cfg->http_metrics_allow, why, sizeof(why)) || metrics_register_process() ||
	   metrics_register(&exporter__outbox) || metrics_register(&exporter__oldest) ||
	   metrics_register(&exporter__jobs) || metrics_register(&exporter__size) ||
	   http_server_route(srv, "GET", "/metrics", exporter__serve, e)) {
		log_error("cannot serve /metrics");
		free(e);
		return -1;
	}
	uv_timer_init(loop, &e->timer);
	e->timer.data = e;
	uv_timer_start(&e->timer, exporter__on_timer, 0, EXPORTER_REFRESH_MS);
	/* The reads alone must not keep the loop alive. */
	uv_unref((uv_handle_t *)&e->timer);
	*out = e;
	log_info("GET /metrics served to %s", cfg->http_metrics_allow);
	return 0;
}

void exporter_close(struct exporter *e)
{
	if(!e || e->closed)
		return;
	e->closed = true;
	uv_close((uv_handle_t *)&e->timer, NULL);
}

void exporter_free(struct exporter *e)
{
	free(e);
}
