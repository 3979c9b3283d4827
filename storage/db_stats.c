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

/* The one integer the statement sql gives, into *v.  0 or -1. */
static int db_stats__int(sqlite3 *sql, const char *q, int64_t *v)
{
	sqlite3_stmt *st;
	if(sqlite3_prepare_v2(sql, q, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if(rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Counts the outbox rows not delivered, and finds the oldest.  The outbox
 * is short (what is in flight or waits for its adapter): a scan. */
static int db_stats__outbox(const struct db_stats_read *r, sqlite3 *sql, struct db_stats *out)
{
	sqlite3_stmt *st;
	int rc;
	if(sqlite3_prepare_v2(sql, "SELECT id, created_ms FROM outbox", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0), at = sqlite3_column_int64(st, 1);
		if(r->ndelivered && bsearch(&id, r->delivered, r->ndelivered, sizeof(id), db_stats__cmp))
			continue;
		out->outbox++;
		if(!out->outbox_oldest_ms || at < out->outbox_oldest_ms)
			out->outbox_oldest_ms = at;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int db_stats_read(struct db_stats_read *r, struct db_stats *out)
{
	sqlite3 *sql = NULL;
	int64_t pages = 0, page_size = 0;
	int rc = -1;
	memset(out, 0, sizeof(*out));
	if(sqlite3_open_v2(r->path, &sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(sql, 1000);
	/* One read transaction: every figure from the same moment. */
	if(sqlite3_exec(sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK || db_stats__outbox(r, sql, out) ||
	   db_stats__int(sql, "SELECT count(*) FROM jobs WHERE state = 0", &out->jobs) ||
	   db_stats__int(sql, "PRAGMA page_count", &pages) || db_stats__int(sql, "PRAGMA page_size", &page_size))
		goto out;
	out->size_bytes = pages * page_size;
	rc = 0;
out:
	if(rc)
		log_warn("cannot read the figures of %s: %s", r->path, sql ? sqlite3_errmsg(sql) : "out of memory");
	sqlite3_close(sql);
	return rc;
}
