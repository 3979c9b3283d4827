/*
 * sql_sqlite: the SQLite engine of storage/sql.h.
 *
 * Each call passes through to SQLite's own, whose semantics sql.h adopts:
 * this engine adds a pointer's indirection and nothing else, so that the
 * default engine costs what it cost before there were two.  Statements
 * are prepared with SQLITE_PREPARE_PERSISTENT: storage/ keeps each one
 * for the connection's life.
 *
 * One statement shape is answered differently: an INSERT ending in
 * " RETURNING id" (the id of the row it made, which both engines read
 * that way).  SQLite runs RETURNING through an ephemeral table, whose
 * pages it allocates and zeroes at each run: 16 % more instructions for
 * the dispatcher's benchmark, which inserts an outbox row for each reply.
 * So this engine prepares such an INSERT without that clause and has its
 * step give one row whose column 0 is sqlite3_last_insert_rowid, as
 * RETURNING id would.
 */
#include "storage/sql.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct sql_lite {
	struct sql base;
	sqlite3 *db;
};

struct sql_lite_stmt {
	struct sql_stmt base;
	sqlite3_stmt *st;
	/* An INSERT prepared without its " RETURNING id" (above): 0 before
	 * its step, 1 while its one row is current, 2 after. */
	bool rowid;
	int rowid_state;
	int64_t id;
};

#define SQL_LITE_RETURNING_ID " RETURNING id"

static sqlite3 *sql_lite__db(struct sql *c)
{
	return ((struct sql_lite *)c)->db;
}

static sqlite3_stmt *sql_lite__st(struct sql_stmt *st)
{
	return ((struct sql_lite_stmt *)st)->st;
}

/* Whether text is "INSERT ... RETURNING id". */
static bool sql_lite__returns_rowid(const char *text, size_t len)
{
	size_t n = sizeof(SQL_LITE_RETURNING_ID) - 1;
	return !strncmp(text, "INSERT ", 7) && len > n && !strcmp(text + len - n, SQL_LITE_RETURNING_ID);
}

static int sql_lite__prepare(struct sql *c, const char *text, struct sql_stmt **out)
{
	struct sql_lite_stmt *s = calloc(1, sizeof(*s));
	size_t len = strlen(text);
	*out = NULL;
	if(!s)
		return -1;
	s->rowid = sql_lite__returns_rowid(text, len);
	if(s->rowid)
		len -= sizeof(SQL_LITE_RETURNING_ID) - 1;
	if(sqlite3_prepare_v3(sql_lite__db(c), text, (int)len, SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
		sqlite3_finalize(s->st);
		free(s);
		return -1;
	}
	s->base.conn = c;
	*out = &s->base;
	return 0;
}

static void sql_lite__finalize(struct sql_stmt *st)
{
	sqlite3_finalize(sql_lite__st(st));
	free(st);
}

static int sql_lite__bind_int64(struct sql_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(sql_lite__st(st), i, v) == SQLITE_OK ? 0 : -1;
}

static int sql_lite__bind_text(struct sql_stmt *st, int i, const char *s, int n)
{
	return sqlite3_bind_text(sql_lite__st(st), i, s, n, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

static int sql_lite__bind_blob(struct sql_stmt *st, int i, const void *p, int n)
{
	return sqlite3_bind_blob(sql_lite__st(st), i, p, n, SQLITE_STATIC) == SQLITE_OK ? 0 : -1;
}

static int sql_lite__bind_null(struct sql_stmt *st, int i)
{
	return sqlite3_bind_null(sql_lite__st(st), i) == SQLITE_OK ? 0 : -1;
}

static int sql_lite__step(struct sql_stmt *st)
{
	struct sql_lite_stmt *s = (struct sql_lite_stmt *)st;
	if(!s->rowid)
		return sqlite3_step(s->st);
	if(s->rowid_state)
		return s->rowid_state++ == 1 ? SQLITE_DONE : SQLITE_MISUSE;
	int rc = sqlite3_step(s->st);
	if(rc != SQLITE_DONE)
		return rc;
	s->id = sqlite3_last_insert_rowid(sqlite3_db_handle(s->st));
	s->rowid_state = 1;
	return SQLITE_ROW;
}

static void sql_lite__reset(struct sql_stmt *st)
{
	struct sql_lite_stmt *s = (struct sql_lite_stmt *)st;
	s->rowid_state = 0;
	sqlite3_reset(s->st);
}

static void sql_lite__clear(struct sql_stmt *st)
{
	sqlite3_clear_bindings(sql_lite__st(st));
}

static int64_t sql_lite__column_int64(struct sql_stmt *st, int col)
{
	struct sql_lite_stmt *s = (struct sql_lite_stmt *)st;
	if(s->rowid)
		return s->rowid_state == 1 && col == 0 ? s->id : 0;
	return sqlite3_column_int64(s->st, col);
}

static const char *sql_lite__column_text(struct sql_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(sql_lite__st(st), col);
	return t ? (const char *)t : "";
}

static const void *sql_lite__column_blob(struct sql_stmt *st, int col)
{
	return sqlite3_column_blob(sql_lite__st(st), col);
}

static int sql_lite__column_bytes(struct sql_stmt *st, int col)
{
	return sqlite3_column_bytes(sql_lite__st(st), col);
}

static bool sql_lite__column_null(struct sql_stmt *st, int col)
{
	return sqlite3_column_type(sql_lite__st(st), col) == SQLITE_NULL;
}

static int sql_lite__changes(struct sql *c)
{
	return sqlite3_changes(sql_lite__db(c));
}

static const char *sql_lite__errmsg(struct sql *c)
{
	return sqlite3_errmsg(sql_lite__db(c));
}

static int sql_lite__exec(struct sql *c, const char *text, struct strbuf *err)
{
	char *msg = NULL;
	if(sqlite3_exec(sql_lite__db(c), text, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	strbuf_addf(err, "%s", msg ? msg : sqlite3_errmsg(sql_lite__db(c)));
	sqlite3_free(msg);
	return -1;
}

static bool sql_lite__in_transaction(struct sql *c)
{
	return !sqlite3_get_autocommit(sql_lite__db(c));
}

static void sql_lite__close(struct sql *c)
{
	sqlite3_close(sql_lite__db(c));
	free(c);
}

const struct sql_ops sql_sqlite_ops = {
	.name = "sqlite",
	.engine = SQL_SQLITE,
	.prepare = sql_lite__prepare,
	.finalize = sql_lite__finalize,
	.bind_int64 = sql_lite__bind_int64,
	.bind_text = sql_lite__bind_text,
	.bind_blob = sql_lite__bind_blob,
	.bind_null = sql_lite__bind_null,
	.step = sql_lite__step,
	.reset = sql_lite__reset,
	.clear = sql_lite__clear,
	.column_int64 = sql_lite__column_int64,
	.column_text = sql_lite__column_text,
	.column_blob = sql_lite__column_blob,
	.column_bytes = sql_lite__column_bytes,
	.column_null = sql_lite__column_null,
	.changes = sql_lite__changes,
	.errmsg = sql_lite__errmsg,
	.exec = sql_lite__exec,
	.in_transaction = sql_lite__in_transaction,
	.close = sql_lite__close,
};

int sql_sqlite_open(struct sql **out, const char *path, int flags, struct strbuf *err)
{
	struct sql_lite *c = calloc(1, sizeof(*c));
	*out = NULL;
	if(!c) {
		strbuf_addf(err, "out of memory");
		return -1;
	}
	c->base.ops = &sql_sqlite_ops;
	if(sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		strbuf_addf(err, "cannot open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	*out = &c->base;
	return 0;
}

struct sqlite3 *sql_sqlite_handle(struct sql *c)
{
	return c && c->ops == &sql_sqlite_ops ? sql_lite__db(c) : NULL;
}
