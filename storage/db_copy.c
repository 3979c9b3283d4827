#include "storage/db_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/text.h"
#include "storage/db_internal.h"

/* Every table of schema 14, parents before the tables that refer to them,
 * so that each row inserted finds the rows its foreign keys name.  A
 * migration that adds a table adds it here too: a table this list does not
 * name is refused (db_copy__unknown), never left behind. */
_Static_assert(DB_SCHEMA_VERSION == 14, "a new schema version: check db_copy__tables");
static const char *const db_copy__tables[] = {
	"chats",
	"users",
	"members",
	"kv",
	"series",
	"groups",
	"group_members",
	"meetups",
	"slots",
	"votes",
	"rsvps",
	"jobs",
	"dialogs",
	"outbox",
	"private_reminders",
	"interests",
	"interest_alerts",
	"seen_events",
	"chat_titles",
	"web_links",
	"meetup_seqs",
	"web_changes",
};
#define DB_COPY_NTABLES (sizeof(db_copy__tables) / sizeof(db_copy__tables[0]))
#define DB_COPY_MAXCOLS 24

/* How a column's values are read and bound. */
enum db_copy_kind { DB_COPY_INT, DB_COPY_TEXT, DB_COPY_BLOB };

/* A table's columns as the destination declares them. */
struct db_copy_cols {
	int n;
	char name[DB_COPY_MAXCOLS][64];
	enum db_copy_kind kind[DB_COPY_MAXCOLS];
};

static bool db_copy__pg(const struct db *db)
{
	return db->sql->ops->engine == SQL_POSTGRES;
}

/* Prepares text on db's connection, saying what failed in err. */
static struct sql_stmt *db_copy__prepare(struct db *db, const char *text, const char *what, struct strbuf *err)
{
	struct sql_stmt *st;
	if(sql_prepare(db->sql, text, &st)) {
		strbuf_addf(err, "%s: %s", what, sql_errmsg(db->sql));
		return NULL;
	}
	return st;
}

/* The one integer the query text answers (its parameter ?1 bound to arg
 * when arg is set), into *out.  0 or -1 (err says why). */
static int db_copy__int(struct db *db, const char *text, const char *arg, int64_t *out, struct strbuf *err)
{
	struct sql_stmt *st = db_copy__prepare(db, text, "a count", err);
	if(!st)
		return -1;
	if(arg)
		sql_bind_text(st, 1, arg, -1);
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		*out = sql_column_int64(st, 0);
	else
		strbuf_addf(err, "%s", rc == SQL_DONE ? "a count gave no row" : sql_errmsg(db->sql));
	sql_finalize(st);
	return rc == SQL_ROW ? 0 : -1;
}

/* What is not copied of table on db: on PostgreSQL, the outbox rows
 * whose delivery a running leader recorded in outbox_acks but has not yet
 * deleted (the journal SQLite's db_open folds in), which a copy must not
 * send again.  A WHERE clause, or "". */
static const char *db_copy__filter(const struct db *db, const char *table)
{
	return db_copy__pg(db) && !strcmp(table, "outbox") ? " WHERE id NOT IN (SELECT id FROM outbox_acks)" : "";
}

static int db_copy__count(struct db *db, const char *table, int64_t *out, struct strbuf *err)
{
	char text[160];
	snprintf(text, sizeof(text), "SELECT count(*) FROM \"%s\"%s", table, db_copy__filter(db, table));
	return db_copy__int(db, text, NULL, out, err);
}

/* Reads table's columns on db (the destination) into cols.  0 or -1. */
static int db_copy__columns(struct db *db, const char *table, struct db_copy_cols *cols, struct strbuf *err)
{
	const char *text = db_copy__pg(db) ? "SELECT column_name, data_type FROM information_schema.columns "
	                                     "WHERE table_schema = current_schema() AND table_name = ?1 "
	                                     "ORDER BY ordinal_position"
	                                   : "SELECT name, type FROM pragma_table_info(?1)";
	struct sql_stmt *st = db_copy__prepare(db, text, "reading the columns", err);
	int rc;
	if(!st)
		return -1;
	sql_bind_text(st, 1, table, -1);
	cols->n = 0;
	while((rc = sql_step(st)) == SQL_ROW && cols->n < DB_COPY_MAXCOLS) {
		const char *type = sql_column_text(st, 1);
		text_copy(cols->name[cols->n], sizeof(cols->name[0]), sql_column_text(st, 0));
		cols->kind[cols->n++] = strstr(type, "int") || strstr(type, "INT")        ? DB_COPY_INT
		                        : !strcmp(type, "bytea") || !strcmp(type, "BLOB") ? DB_COPY_BLOB
		                                                                          : DB_COPY_TEXT;
	}
	if(rc != SQL_DONE || !cols->n)
		strbuf_addf(err, "the destination's table %s: %s", table,
		            rc == SQL_ROW    ? "too many columns"
		            : rc == SQL_DONE ? "missing"
		                             : sql_errmsg(db->sql));
	sql_finalize(st);
	return rc == SQL_DONE && cols->n ? 0 : -1;
}

/* Appends the columns' names, quoted and separated by commas, to sb; with
 * params, the parameters ?1, ?2 ... instead. */
static void db_copy__list(struct strbuf *sb, const struct db_copy_cols *cols, bool params)
{
	for(int i = 0; i < cols->n; i++) {
		if(params)
			strbuf_addf(sb, "%s?%d", i ? ", " : "", i + 1);
		else
			strbuf_addf(sb, "%s\"%s\"", i ? ", " : "", cols->name[i]);
	}
}

/* Binds column i of the row src stands on to parameter i + 1 of dst. */
static void db_copy__bind(struct sql_stmt *dst, struct sql_stmt *src, const struct db_copy_cols *cols, int i)
{
	if(sql_column_null(src, i))
		sql_bind_null(dst, i + 1);
	else if(cols->kind[i] == DB_COPY_INT)
		sql_bind_int64(dst, i + 1, sql_column_int64(src, i));
	else if(cols->kind[i] == DB_COPY_BLOB)
		sql_bind_blob(dst, i + 1, sql_column_blob(src, i), sql_column_bytes(src, i));
	else
		sql_bind_text(dst, i + 1, sql_column_text(src, i), sql_column_bytes(src, i));
}

/* Copies table's rows from from to to, in to's open transaction; what the
 * destination's triggers wrote in it meanwhile goes first (it is empty
 * otherwise).  The rows copied in *rows.  0 or -1. */
static int db_copy__table(struct db *from, struct db *to, const char *table, int64_t *rows, struct strbuf *err)
{
	struct db_copy_cols cols;
	struct strbuf sel = STRBUF_INIT, ins = STRBUF_INIT;
	struct sql_stmt *src = NULL, *dst = NULL;
	int rc = -1, step;
	*rows = 0;
	if(db_copy__columns(to, table, &cols, err))
		goto out;
	strbuf_adds(&sel, "SELECT ");
	db_copy__list(&sel, &cols, false);
	strbuf_addf(&sel, " FROM \"%s\"%s", table, db_copy__filter(from, table));
	strbuf_addf(&ins, "INSERT INTO \"%s\" (", table);
	db_copy__list(&ins, &cols, false);
	strbuf_adds(&ins, ") VALUES (");
	db_copy__list(&ins, &cols, true);
	strbuf_adds(&ins, ")");
	if(sel.oom || ins.oom) {
		strbuf_adds(err, "out of memory");
		goto out;
	}
	char clear[128];
	snprintf(clear, sizeof(clear), "DELETE FROM \"%s\"", table);
	if(sql_exec(to->sql, clear, err) || !(src = db_copy__prepare(from, sel.buf, "reading the source", err)) ||
	   !(dst = db_copy__prepare(to, ins.buf, "writing the destination", err)))
		goto out;
	while((step = sql_step(src)) == SQL_ROW) {
		for(int i = 0; i < cols.n; i++)
			db_copy__bind(dst, src, &cols, i);
		if(sql_step(dst) != SQL_DONE) {
			strbuf_addf(err, "writing a row of %s: %s", table, sql_errmsg(to->sql));
			goto out;
		}
		sql_reset(dst);
		(*rows)++;
	}
	if(step != SQL_DONE) {
		strbuf_addf(err, "reading %s: %s", table, sql_errmsg(from->sql));
		goto out;
	}
	rc = 0;
out:
	if(rc && !err->len)
		strbuf_addf(err, "copying %s failed", table);
	sql_finalize(dst);
	sql_finalize(src);
	strbuf_release(&ins);
	strbuf_release(&sel);
	return rc;
}

/* Sets each identity sequence of table on to (PostgreSQL) past the
 * greatest id copied.  0 or -1. */
static int db_copy__sequences(struct db *to, const char *table, struct strbuf *err)
{
	struct sql_stmt *st =
		db_copy__prepare(to,
	                         "SELECT column_name FROM information_schema.columns WHERE table_schema = "
	                         "current_schema() AND table_name = ?1 AND is_identity = 'YES'",
	                         "reading the identity columns", err);
	int rc = -1, step;
	if(!st)
		return -1;
	sql_bind_text(st, 1, table, -1);
	while((step = sql_step(st)) == SQL_ROW) {
		char text[256];
		int64_t next;
		const char *col = sql_column_text(st, 0);
		snprintf(text, sizeof(text),
		         "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'), coalesce(max(\"%s\"), 0) + 1, false) "
		         "FROM \"%s\"",
		         table, col, col, table);
		if(db_copy__int(to, text, NULL, &next, err))
			goto out;
	}
	if(step != SQL_DONE)
		strbuf_addf(err, "reading the identity columns of %s: %s", table, sql_errmsg(to->sql));
	else
		rc = 0;
out:
	sql_finalize(st);
	return rc;
}

/* Refuses a database whose tables this build does not all know: on SQLite
 * (the catalogue of PostgreSQL also holds its schema's version, a table
 * of its own).  0 or -1. */
static int db_copy__unknown(struct db *db, const char *which, struct strbuf *err)
{
	struct sql_stmt *st;
	int step, rc = 0;
	if(db_copy__pg(db))
		return 0;
	if(!(st = db_copy__prepare(db,
	                           "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
	                           "reading the tables", err)))
		return -1;
	while(!rc && (step = sql_step(st)) == SQL_ROW) {
		const char *name = sql_column_text(st, 0);
		size_t i = 0;
		while(i < DB_COPY_NTABLES && strcmp(db_copy__tables[i], name))
			i++;
		if(i == DB_COPY_NTABLES) {
			strbuf_addf(err, "the %s has a table this build cannot copy: %s", which, name);
			rc = -1;
		}
	}
	if(!rc && step != SQL_DONE) {
		strbuf_addf(err, "reading the tables of the %s: %s", which, sql_errmsg(db->sql));
		rc = -1;
	}
	sql_finalize(st);
	return rc;
}

/* Refuses a destination that holds rows: a new database holds none but its
 * order counter (kv 'db.seq'), which the copy replaces.  0 or -1. */
static int db_copy__empty(struct db *to, struct strbuf *err)
{
	for(size_t i = 0; i < DB_COPY_NTABLES; i++) {
		const char *t = db_copy__tables[i];
		int64_t n;
		if(!strcmp(t, "kv") ? db_copy__int(to, "SELECT count(*) FROM kv WHERE key <> 'db.seq'", NULL, &n, err)
		                    : db_copy__count(to, t, &n, err))
			return -1;
		if(n) {
			strbuf_addf(err,
			            "the destination is not empty (its table %s has %" PRId64
			            " row%s): --copy-db copies "
			            "into an empty database only",
			            t, n, n == 1 ? "" : "s");
			return -1;
		}
	}
	return 0;
}

/* Opens both ends and checks them.  0 or -1. */
static int db_copy__open(const char *from, const char *to, struct db **src, struct db **dst, struct strbuf *err)
{
	if(!strcmp(from, to)) {
		strbuf_adds(err, "the source and the destination are the same database");
		return -1;
	}
	if(!sql_is_postgres(from) && access(from, F_OK)) {
		strbuf_addf(err, "the source %s does not exist", from);
		return -1;
	}
	if(db_open(src, from, err) || db_open(dst, to, err))
		return -1;
	if(db_schema_version(*src) != DB_SCHEMA_VERSION) {
		strbuf_addf(err,
		            "the source is at schema version %d, not this build's %d: let this build's bot start on it "
		            "once (it migrates it), then copy",
		            db_schema_version(*src), DB_SCHEMA_VERSION);
		return -1;
	}
	if(!db_leads(*dst)) {
		strbuf_adds(err, "an instance of the bot is running on the destination: stop it first");
		return -1;
	}
	return db_copy__unknown(*src, "source", err) || db_copy__unknown(*dst, "destination", err) ||
	                       db_copy__empty(*dst, err)
	               ? -1
	               : 0;
}

/* Copies every table in to's open transaction and checks the counts
 * against from's, read in the same snapshot; rows[i] is table i's.  0 or
 * -1. */
static int db_copy__all(struct db *from, struct db *to, int64_t *rows, struct strbuf *err)
{
	for(size_t i = 0; i < DB_COPY_NTABLES; i++)
		if(db_copy__table(from, to, db_copy__tables[i], &rows[i], err) ||
		   (db_copy__pg(to) && db_copy__sequences(to, db_copy__tables[i], err)))
			return -1;
	/* After every table: the triggers of a later one could have written
	 * in an earlier one. */
	for(size_t i = 0; i < DB_COPY_NTABLES; i++) {
		int64_t have, had;
		if(db_copy__count(to, db_copy__tables[i], &have, err) ||
		   db_copy__count(from, db_copy__tables[i], &had, err))
			return -1;
		if(have != rows[i] || had != rows[i]) {
			strbuf_addf(err,
			            "table %s: %" PRId64 " rows in the source, %" PRId64 " read, %" PRId64
			            " in the destination: nothing was copied",
			            db_copy__tables[i], had, rows[i], have);
			return -1;
		}
	}
	return 0;
}

/* The links' key (web/) travels with the rows, or every calendar and vote
 * link changes with the copy: SQLite keeps it in a file beside the
 * database (DB.webkey), PostgreSQL in its table web_key
 * (db_keeps_web_key).  Reads db's into key: 1, 0 when it has none (no
 * link was ever made), -1 (err says why). */
static int db_copy__key_read(struct db *db, const char *path, unsigned char key[DB_WEB_KEY], struct strbuf *err)
{
	char file[4096];
	if(db_keeps_web_key(db)) {
		int found = db_web_key_get(db, key, DB_WEB_KEY);
		if(found < 0)
			strbuf_adds(err, "cannot read the web key of the source");
		return found;
	}
	snprintf(file, sizeof(file), "%s.webkey", path);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if(fd < 0 && errno == ENOENT)
		return 0;
	unsigned char extra;
	bool exact = fd >= 0 && read(fd, key, DB_WEB_KEY) == DB_WEB_KEY && read(fd, &extra, 1) == 0;
	if(fd >= 0)
		close(fd);
	if(!exact)
		strbuf_addf(err, "cannot read the web key %s (%s)", file, fd < 0 ? strerror(errno) : "not a key");
	return exact ? 1 : -1;
}

/* Gives db the key read from the source: a row of web_key, or the file
 * DB.webkey, made 0600 and refused when one is there already.  0 or -1. */
static int db_copy__key_write(struct db *db, const char *path, const unsigned char *key, struct strbuf *err)
{
	char file[4096];
	if(db_keeps_web_key(db)) {
		if(db_web_key_offer(db, key, DB_WEB_KEY)) {
			strbuf_adds(err,
			            "the rows were copied, but the web key could not be stored in the destination");
			return -1;
		}
		return 0;
	}
	snprintf(file, sizeof(file), "%s.webkey", path);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, key, DB_WEB_KEY) == DB_WEB_KEY && !fsync(fd);
	if(fd >= 0 && close(fd))
		ok = false;
	if(!ok) {
		strbuf_addf(err, "the rows were copied, but not the web key: cannot make %s (%s)", file,
		            strerror(errno));
		return -1;
	}
	return 0;
}

int db_copy(const char *from, const char *to, void (*report)(void *user, const char *table, int64_t rows), void *user,
            struct strbuf *err)
{
	struct db *src = NULL, *dst = NULL;
	struct strbuf scratch = STRBUF_INIT;
	int64_t rows[DB_COPY_NTABLES];
	unsigned char key[DB_WEB_KEY];
	int rc = -1, has_key = 0;
	if(db_copy__open(from, to, &src, &dst, err) || (has_key = db_copy__key_read(src, from, key, err)) < 0)
		goto out;
	/* One snapshot of the source: a bot running on it may go on writing. */
	if(sql_exec(src->sql, db_copy__pg(src) ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", err))
		goto out;
	if(db_begin(dst)) {
		strbuf_adds(err, "cannot begin a transaction on the destination");
		goto end_read;
	}
	if(db_copy__all(src, dst, rows, err)) {
		db_rollback(dst);
		goto end_read;
	}
	if(db_commit(dst)) {
		strbuf_adds(err, "the destination's transaction could not commit: nothing was copied");
		goto end_read;
	}
	if(has_key && db_copy__key_write(dst, to, key, err))
		goto end_read;
	for(size_t i = 0; i < DB_COPY_NTABLES; i++)
		report(user, db_copy__tables[i], rows[i]);
	rc = 0;
end_read:
	strbuf_release(&scratch);
	sql_exec(src->sql, "COMMIT", &scratch); /* read only: nothing to lose */
out:
	strbuf_release(&scratch);
	explicit_bzero(key, sizeof(key));
	db_close(dst);
	db_close(src);
	return rc;
}
