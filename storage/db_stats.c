/*
 * db_stats: the database's figures for /metrics, read with a connection
 * of their own on whichever thread calls db_stats_read (see storage/db.h).
 */
#include "storage/db_internal.h"

#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define LOG_MODULE "db"

struct db_stats_read {
	char *path;
	int64_t *delivered; /* sorted: the outbox rows that wait no more */
	size_t ndelivered;
};

static int db_stats__cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct db_stats_read *db_stats_begin(const struct db *db)
{
	struct db_stats_read *r = calloc(1, sizeof(*r));
	if(!r || !(r->path = strdup(db->path)))
		goto fail;
	if(!db->nacks)
		return r;
	if(!(r->delivered = malloc(db->nacks * sizeof(*r->delivered))))
		goto fail;
	memcpy(r->delivered, db->acks, db->nacks * sizeof(*r->delivered));
	r->ndelivered = db->nacks;
	qsort(r->delivered, r->ndelivered, sizeof(*r->delivered), db_stats__cmp);
	return r;
fail:
	db_stats_end(r);
	return NULL;
}

void db_stats_end(struct db_stats_read *r)
{
	if(!r)
		return;
	free(r->path);
	free(r->delivered);
	free(r);
}

/* Counts the outbox rows not delivered, and finds the oldest.  The outbox
 * is short (what is in flight or waits for its adapter): a scan.  On
 * PostgreSQL the deliveries recorded are rows of outbox_acks. */
static int db_stats__outbox(const struct db_stats_read *r, struct sql *c, struct db_stats *out)
{
	struct sql_stmt *st = NULL;
	int rc = -1;
	const char *q = c->ops->engine == SQL_POSTGRES
	                        ? "SELECT id, created_ms FROM outbox WHERE id NOT IN (SELECT id FROM outbox_acks)"
	                        : "SELECT id, created_ms FROM outbox";
	if(sql_prepare(c, q, &st))
		return -1;
	while((rc = sql_step(st)) == SQL_ROW) {
		int64_t id = sql_column_int64(st, 0), at = sql_column_int64(st, 1);
		if(r->ndelivered && bsearch(&id, r->delivered, r->ndelivered, sizeof(id), db_stats__cmp))
			continue;
		out->outbox++;
		if(!out->outbox_oldest_ms || at < out->outbox_oldest_ms)
			out->outbox_oldest_ms = at;
	}
	sql_finalize(st);
	return rc == SQL_DONE ? 0 : -1;
}

/* The database's size: its pages on SQLite, pg_database_size on
 * PostgreSQL.  0 or -1. */
static int db_stats__size(struct sql *c, int64_t *out)
{
	int64_t pages = 0, page_size = 0;
	if(c->ops->engine == SQL_POSTGRES)
		return db__sql_int(c, "SELECT pg_database_size(current_database())", out);
	if(db__sql_int(c, "PRAGMA page_count", &pages) || db__sql_int(c, "PRAGMA page_size", &page_size))
		return -1;
	*out = pages * page_size;
	return 0;
}

/* A connection of the read's own: read-only on SQLite. */
static int db_stats__connect(const char *path, struct sql **c, struct strbuf *err)
{
	if(sql_is_postgres(path))
		return sql_pg_connect(c, path, err);
	if(sql_sqlite_open(c, path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, err))
		return -1;
	sqlite3_busy_timeout(sql_sqlite_handle(*c), 1000);
	return 0;
}

int db_stats_read(struct db_stats_read *r, struct db_stats *out)
{
	struct sql *c = NULL;
	struct strbuf err = STRBUF_INIT;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	if(db_stats__connect(r->path, &c, &err))
		goto out;
	/* One read transaction: every figure from the same moment. */
	if(sql_exec(c, c->ops->engine == SQL_POSTGRES ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" : "BEGIN",
	            &err) ||
	   db_stats__outbox(r, c, out) || db__sql_int(c, "SELECT count(*) FROM jobs WHERE state = 0", &out->jobs) ||
	   db_stats__size(c, &out->size_bytes))
		goto out;
	rc = 0;
out:
	if(rc)
		log_warn("cannot read the figures of %s: %s", sql_is_postgres(r->path) ? "the database" : r->path,
		         err.len ? err.buf
		         : c     ? sql_errmsg(c)
		                 : "out of memory");
	sql_close(c);
	strbuf_release(&err);
	return rc;
}
