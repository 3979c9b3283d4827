/*
 * exporter: GET /metrics on the HTTP listener ([http] metrics = on), for
 * Prometheus.  It answers with lib/metrics' registry in the text format,
 * to the peers whose address is in [http] metrics_allow alone (others get
 * 403), and keeps the figures that come from the database up to date (the
 * outbox, pending jobs, its size): a thread of libuv's pool reads them
 * every EXPORTER_REFRESH_MS with a connection of its own (db_stats_read),
 * so a scrape never queries the database on the loop.  They are at most
 * that old; the outbox's oldest age grows between two reads, computed at
 * each scrape.
 *
 * Shutdown: exporter_close(e) with the loop's other handles, then
 * exporter_free(e) once uv_run returned.
 */
#ifndef ENSEMBLE_EXPORTER_H
#define ENSEMBLE_EXPORTER_H

#include <uv.h>

#include "adapters/http_server.h"

struct config;
struct db;
struct exporter;

#define EXPORTER_REFRESH_MS 5000

/* Adds the /metrics route to srv for cfg's allow list and starts reading
 * db's figures on loop.  srv, cfg and db are borrowed: they must outlive
 * e.  Returns 0, or -1 (logged; *out NULL). */
int exporter_start(struct exporter **out, uv_loop_t *loop, struct http_server *srv, const struct config *cfg,
                   struct db *db);
/* Stops the reads (one under way ends by itself) and closes the timer. */
void exporter_close(struct exporter *e);
/* Frees e (NULL: nothing), after the loop has drained. */
void exporter_free(struct exporter *e);

#endif
