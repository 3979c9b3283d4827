/*
 * Rows inserted together (PostgreSQL).
 *
 * Two inserts come with nearly every command: the member row of whoever
 * wrote (their first sight in a chat) and the outbox row of each reply.
 * On PostgreSQL each statement costs the server some 15 µs of work around
 * its execution (a portal, an executor, a result sent), more than these
 * rows' own execution.  Inside a transaction they are therefore kept here
 * and sent as one INSERT of many rows (unnest over arrays), which goes
 * into the pipeline like any write (storage/sql_pg.c) and is not waited
 * for.
 *
 * What is kept is sent before anything could miss it: before a statement
 * that names the table (db__stmt asks db__rows_flush; a DELETE of people
 * too, for the member rows that name them), before the commit, and when
 * DB_ROWS_MAX rows are kept.  A rollback forgets them with the rest.  A
 * failure of the INSERT is reported by the statement that sent it, or by
 * the commit, and fails the batch as the failure of any write does.
 * SQLite inserts each row when asked: there a statement costs a call.
 */
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define LOG_MODULE "db"

/* Rows kept at most before they are sent (a statement of some 100 KB for
 * the outbox's). */
#define DB_ROWS_MAX 256
/* The slots of the set of member rows kept: twice DB_ROWS_MAX. */
#define DB_ROWS_SLOTS 512

struct db_rows {
	/* Each column's array literal so far, "{" and the values. */
	struct strbuf col[3];
	size_t n;
};

struct db_row_buffers {
	struct db_rows t[DB_ROWS_TABLES];
	/* The (chat, user) pairs of the member rows kept: an upsert may not
	 * change a row twice, so a pair is kept once. */
	struct {
		int64_t chat_id, user_id;
	} members[DB_ROWS_SLOTS];
	bool used[DB_ROWS_SLOTS];
};

/* clang-format off */
static const char *const db_rows__sql[DB_ROWS_TABLES] = {
	[DB_ROWS_MEMBERS] = "INSERT INTO members (chat_id, user_id, last_seen) "
	                    "SELECT * FROM unnest(CAST(?1 AS bigint[]), CAST(?2 AS bigint[]), CAST(?3 AS bigint[])) "
	                    "ON CONFLICT (chat_id, user_id) DO UPDATE SET last_seen = excluded.last_seen "
	                    "WHERE excluded.last_seen > members.last_seen + 3600",
	[DB_ROWS_OUTBOX] = "INSERT INTO outbox (id, action, created_ms) "
	                   "SELECT * FROM unnest(CAST(?1 AS bigint[]), CAST(?2 AS text[]), CAST(?3 AS bigint[]))",
};
/* clang-format on */

unsigned db__rows_touched(const char *sql)
{
	unsigned m = 0;
	if(!strncmp(sql, "SELECT nextval(", 15)) /* ids taken ahead (DB_IDS_SQL) */
		return 0;
	if(strstr(sql, "members") || strstr(sql, "DELETE FROM users"))
		m |= 1u << DB_ROWS_MEMBERS;
	if(strstr(sql, "outbox"))
		m |= 1u << DB_ROWS_OUTBOX;
	return m;
}

static struct db_row_buffers *db_rows__get(struct db *db)
{
	if(!db->rows && (db->rows = calloc(1, sizeof(*db->rows))))
		for(int t = 0; t < DB_ROWS_TABLES; t++)
			for(int c = 0; c < 3; c++)
				strbuf_init(&db->rows->t[t].col[c]);
	return db->rows;
}

static void db_rows__add_int(struct db_rows *r, int c, int64_t v)
{
	strbuf_addf(&r->col[c], "%s%lld", r->n ? "," : "{", (long long)v);
}

/* A text in an array literal: quoted, its quotes and backslashes escaped. */
static void db_rows__add_text(struct db_rows *r, int c, const char *s)
{
	struct strbuf *sb = &r->col[c];
	strbuf_adds(sb, r->n ? ",\"" : "{\"");
	for(const char *p = s; *p;) {
		size_t run = strcspn(p, "\"\\");
		strbuf_add(sb, p, run);
		p += run;
		if(*p) {
			strbuf_addc(sb, '\\');
			strbuf_addc(sb, *p++);
		}
	}
	strbuf_addc(sb, '"');
}

/* The row just added to table t is kept: counted, and sent when there are
 * DB_ROWS_MAX of them.  0 or -1. */
static int db_rows__kept(struct db *db, enum db_rows_table t)
{
	struct db_rows *r = &db->rows->t[t];
	for(int c = 0; c < 3; c++)
		if(r->col[c].oom)
			return -1;
	r->n++;
	db->rows_pending |= 1u << t;
	return r->n < DB_ROWS_MAX ? 0 : db__rows_flush(db, 1u << t);
}

int db__rows_member(struct db *db, int64_t chat_id, int64_t user_id, int64_t t)
{
	struct db_row_buffers *b = db_rows__get(db);
	if(!b)
		return -1;
	uint64_t h = db__member_hash(chat_id, user_id);
	size_t i = (size_t)(h >> 40) & (DB_ROWS_SLOTS - 1);
	while(b->used[i]) {
		if(b->members[i].chat_id == chat_id && b->members[i].user_id == user_id) {
			/* Kept already (seen again an hour later, in one batch): the
			 * rows so far go first, then this one. */
			if(db__rows_flush(db, 1u << DB_ROWS_MEMBERS))
				return -1;
			i = (size_t)(h >> 40) & (DB_ROWS_SLOTS - 1);
			break;
		}
		i = (i + 1) & (DB_ROWS_SLOTS - 1);
	}
	b->used[i] = true;
	b->members[i].chat_id = chat_id;
	b->members[i].user_id = user_id;
	struct db_rows *r = &b->t[DB_ROWS_MEMBERS];
	db_rows__add_int(r, 0, chat_id);
	db_rows__add_int(r, 1, user_id);
	db_rows__add_int(r, 2, t);
	return db_rows__kept(db, DB_ROWS_MEMBERS);
}

int db__rows_outbox(struct db *db, int64_t id, const char *action, int64_t created_ms)
{
	struct db_row_buffers *b = db_rows__get(db);
	if(!b)
		return -1;
	struct db_rows *r = &b->t[DB_ROWS_OUTBOX];
	db_rows__add_int(r, 0, id);
	db_rows__add_text(r, 1, action);
	db_rows__add_int(r, 2, created_ms);
	return db_rows__kept(db, DB_ROWS_OUTBOX);
}

/* Forgets what table t keeps. */
static void db_rows__reset(struct db *db, enum db_rows_table t)
{
	struct db_rows *r = &db->rows->t[t];
	for(int c = 0; c < 3; c++)
		strbuf_reset(&r->col[c]);
	r->n = 0;
	if(t == DB_ROWS_MEMBERS)
		memset(db->rows->used, 0, sizeof(db->rows->used));
	db->rows_pending &= ~(1u << t);
}

int db__rows_flush(struct db *db, unsigned mask)
{
	int rc = 0;
	for(int t = 0; t < DB_ROWS_TABLES; t++) {
		if(!(db->rows_pending & mask & (1u << t)))
			continue;
		/* Not pending any more before db__stmt is asked: the statement
		 * names its own table. */
		db->rows_pending &= ~(1u << t);
		struct db_rows *r = &db->rows->t[t];
		struct sql_stmt *st = db__stmt(db, db_rows__sql[t]);
		for(int c = 0; c < 3; c++)
			strbuf_addc(&r->col[c], '}');
		if(st && !r->col[0].oom && !r->col[1].oom && !r->col[2].oom) {
			for(int c = 0; c < 3; c++)
				sql_bind_text(st, c + 1, r->col[c].buf, (int)r->col[c].len);
			if(db__exec_stmt(db, st, t == DB_ROWS_MEMBERS ? "member upserts" : "outbox adds"))
				rc = -1;
		} else {
			rc = -1;
		}
		db_rows__reset(db, (enum db_rows_table)t);
	}
	return rc;
}

void db__rows_discard(struct db *db)
{
	for(int t = 0; db->rows && t < DB_ROWS_TABLES; t++)
		db_rows__reset(db, (enum db_rows_table)t);
}

void db__rows_free(struct db *db)
{
	if(!db->rows)
		return;
	for(int t = 0; t < DB_ROWS_TABLES; t++)
		for(int c = 0; c < 3; c++)
			strbuf_release(&db->rows->t[t].col[c]);
	free(db->rows);
	db->rows = NULL;
	db->rows_pending = 0;
}
