/*
 * sql: the one interface through which storage/ runs SQL, over two
 * engines: SQLite (sql_sqlite.c, the default and the embedded choice) and
 * PostgreSQL (sql_pg.c, through libpq).  Nothing outside storage/ includes
 * this.
 *
 * The statements are written once, in the dialect both engines accept
 * (ON CONFLICT ... DO UPDATE, RETURNING, coalesce, CAST), with SQLite's
 * parameters ?1, ?2 ... or ?.  The PostgreSQL engine translates a
 * statement's text when it prepares it (parameters become $1, $2 ...;
 * "BEGIN IMMEDIATE" becomes "BEGIN"; see sql_pg.c for the full list) and
 * prepares it once per connection.  Each engine is a table of functions
 * (struct sql_ops) in the manner of Redis's connection types; the calls
 * below are its thin inline front.
 *
 * The calls mirror SQLite's own, whose semantics they keep on both
 * engines: a statement is bound, stepped (SQL_ROW for each row, then
 * SQL_DONE), and reset, which keeps its bindings; text and blobs bound are
 * not copied and must outlive the next step; a column's text or blob is
 * valid until the next step or reset of its statement.  A connection and
 * its statements are used by one thread at a time.
 */
#ifndef ENSEMBLE_SQL_H
#define ENSEMBLE_SQL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/strbuf.h"

/* What sql_step returns: SQLite's own codes, so that the SQLite engine
 * passes them through.  Any other value is an error, whose message
 * sql_errmsg gives. */
#define SQL_OK 0
#define SQL_ROW 100
#define SQL_DONE 101

enum sql_engine {
	SQL_SQLITE,
	SQL_POSTGRES,
};

struct sql;
struct sql_stmt;

/* An engine.  Every pointer is set. */
struct sql_ops {
	const char *name; /* "sqlite", "postgresql": for logs */
	enum sql_engine engine;
	/* Prepares text (a string in SQLite's dialect) on c: 0, or -1 with the
	 * reason in sql_errmsg(c).  The statement is the caller's, freed with
	 * finalize, before c is closed. */
	int (*prepare)(struct sql *c, const char *text, struct sql_stmt **out);
	void (*finalize)(struct sql_stmt *st);
	/* Parameters are numbered from 1.  0, or -1 when out of range or out
	 * of memory. */
	int (*bind_int64)(struct sql_stmt *st, int i, int64_t v);
	int (*bind_text)(struct sql_stmt *st, int i, const char *s, int n);
	int (*bind_blob)(struct sql_stmt *st, int i, const void *p, int n);
	int (*bind_null)(struct sql_stmt *st, int i);
	int (*step)(struct sql_stmt *st);
	/* Ends the statement's run, keeping its bindings. */
	void (*reset)(struct sql_stmt *st);
	/* Sets every parameter to NULL. */
	void (*clear)(struct sql_stmt *st);
	/* The columns of the current row, numbered from 0.  A NULL reads as
	 * 0, "" (text) or NULL with 0 bytes (blob). */
	int64_t (*column_int64)(struct sql_stmt *st, int col);
	const char *(*column_text)(struct sql_stmt *st, int col);
	const void *(*column_blob)(struct sql_stmt *st, int col);
	int (*column_bytes)(struct sql_stmt *st, int col);
	bool (*column_null)(struct sql_stmt *st, int col);
	/* Rows the last INSERT, UPDATE or DELETE stepped on c changed. */
	int (*changes)(struct sql *c);
	/* The last error on c, in the engine's words; valid until the next
	 * call on c. */
	const char *(*errmsg)(struct sql *c);
	/* Runs text, one or more statements with no parameters and no rows
	 * to read (schema, settings).  0, or -1 with the engine's reason
	 * appended to err. */
	int (*exec)(struct sql *c, const char *text, struct strbuf *err);
	/* Whether a transaction is open on c (SQLite's autocommit is off). */
	bool (*in_transaction)(struct sql *c);
	void (*close)(struct sql *c);
};

/* Every engine's connection and statement start with these. */
struct sql {
	const struct sql_ops *ops;
};
struct sql_stmt {
	struct sql *conn;
};

extern const struct sql_ops sql_sqlite_ops;
extern const struct sql_ops sql_pg_ops;

struct sqlite3;
/* Opens the SQLite file at path with SQLite's open flags (sql_sqlite.c).
 * 0, or -1 with a sentence appended to err (*out is then NULL). */
int sql_sqlite_open(struct sql **out, const char *path, int flags, struct strbuf *err);
/* The SQLite handle under c, an SQLite connection, for what only SQLite
 * has (pragmas, the backup API, tracing). */
struct sqlite3 *sql_sqlite_handle(struct sql *c);

/* Connects to the PostgreSQL server that target names (a postgresql://
 * URL or a libpq key/value string), sql_pg.c.  The password comes from
 * the target, from $ENSEMBLE_DB_PASSWORD or from ~/.pgpass, as libpq
 * finds it.  0, or -1 with a sentence for the operator appended to err,
 * which never holds the password. */
int sql_pg_connect(struct sql **out, const char *target, struct strbuf *err);
/* Sets the function run on each new session of c, a PostgreSQL connection,
 * right after it reconnected and before any other statement runs on it
 * (the leadership is taken again there, storage/db_lead.c).  It may run
 * statements on c.  When it returns -1, c refuses every statement from
 * then on; 0 lets them run.  fn NULL: none. */
void sql_pg_set_reconnect_hook(struct sql *c, int (*fn)(struct sql *c, void *user), void *user);
/* What c, a PostgreSQL connection, connects to, for the operator:
 * 'database "D" at H:P' or 'database "D" on the socket in DIR', never a
 * password.  Valid while c is open. */
const char *sql_pg_where(struct sql *c);
/* Whether target names a PostgreSQL database rather than an SQLite file:
 * it starts with "postgresql://" or "postgres://", or is a libpq
 * key/value string (its first word is "host=", "dbname=", "service=" ...). */
bool sql_is_postgres(const char *target);

static inline int sql_prepare(struct sql *c, const char *text, struct sql_stmt **out)
{
	return c->ops->prepare(c, text, out);
}
static inline void sql_finalize(struct sql_stmt *st)
{
	if(st)
		st->conn->ops->finalize(st);
}
static inline int sql_bind_int64(struct sql_stmt *st, int i, int64_t v)
{
	return st->conn->ops->bind_int64(st, i, v);
}
static inline int sql_bind_int(struct sql_stmt *st, int i, int v)
{
	return st->conn->ops->bind_int64(st, i, v);
}
static inline int sql_bind_text(struct sql_stmt *st, int i, const char *s, int n)
{
	return st->conn->ops->bind_text(st, i, s, n);
}
static inline int sql_bind_blob(struct sql_stmt *st, int i, const void *p, int n)
{
	return st->conn->ops->bind_blob(st, i, p, n);
}
static inline int sql_bind_null(struct sql_stmt *st, int i)
{
	return st->conn->ops->bind_null(st, i);
}
static inline int sql_step(struct sql_stmt *st)
{
	return st->conn->ops->step(st);
}
static inline void sql_reset(struct sql_stmt *st)
{
	st->conn->ops->reset(st);
}
static inline void sql_clear(struct sql_stmt *st)
{
	st->conn->ops->clear(st);
}
static inline int64_t sql_column_int64(struct sql_stmt *st, int col)
{
	return st->conn->ops->column_int64(st, col);
}
static inline int sql_column_int(struct sql_stmt *st, int col)
{
	return (int)st->conn->ops->column_int64(st, col);
}
static inline const char *sql_column_text(struct sql_stmt *st, int col)
{
	return st->conn->ops->column_text(st, col);
}
static inline const void *sql_column_blob(struct sql_stmt *st, int col)
{
	return st->conn->ops->column_blob(st, col);
}
static inline int sql_column_bytes(struct sql_stmt *st, int col)
{
	return st->conn->ops->column_bytes(st, col);
}
static inline bool sql_column_null(struct sql_stmt *st, int col)
{
	return st->conn->ops->column_null(st, col);
}
static inline int sql_changes(struct sql *c)
{
	return c->ops->changes(c);
}
static inline const char *sql_errmsg(struct sql *c)
{
	return c->ops->errmsg(c);
}
static inline int sql_exec(struct sql *c, const char *text, struct strbuf *err)
{
	return c->ops->exec(c, text, err);
}
static inline bool sql_in_transaction(struct sql *c)
{
	return c->ops->in_transaction(c);
}
static inline void sql_close(struct sql *c)
{
	if(c)
		c->ops->close(c);
}

#endif
