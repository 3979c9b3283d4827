/*
 * db_outbox: the durable outbox, and the journal of deliveries.
 *
 * Every action is stored in the transaction that made it and its row goes
 * once the platform has taken it.  Deleting that row in a transaction of
 * its own costs a commit per message (a WAL frame and two file locks),
 * which was a third of the time of an end-to-end run.  So a delivery is
 * first appended, as one 8-byte record, to a journal beside the database
 * (DB-acks): a write() that a SIGKILL cannot undo, since the kernel holds
 * the data.  The rows are deleted later, many at a time, inside a
 * transaction that runs anyway; when it commits, the journal is emptied.
 * At open, the journal left by a crash is applied before anything is read
 * from the outbox, so nothing delivered is sent again.
 *
 * Like synchronous = NORMAL, the journal is not synced: a power cut may
 * cost a few repeated messages, never a lost one.
 *
 * On PostgreSQL the journal is a table, outbox_acks, and a delivery one of
 * its rows, inserted on a connection of its own in a transaction of its
 * own, by a thread that writes many at a time (db_acks.c): the bot's
 * connection may be in the middle of a batch, whose commit is not the
 * delivery's.  The table has no reference to the outbox,
 * so that the insert never waits for a lock the batch holds (the loop
 * would wait for itself).  Its commit is asynchronous (synchronous_commit
 * off, that connection only), the journal's write(): once the server has
 * it, a crash of the bot cannot undo it, and a crash of the server may
 * cost a few repeated messages, never a lost one.  The rows of the outbox
 * and of outbox_acks go together, many at a time, as on SQLite; an
 * instance that starts leading deletes what a crashed leader recorded
 * (db__outbox_apply_rows) before it reads the outbox.
 */
#include "storage/db_internal.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

#define LOG_MODULE "db"

/* Deliveries recorded before db_outbox_should_forget says it is time. */
#define DB_ACK_BATCH 256
/* ... or this old. */
#define DB_ACK_MAX_AGE_MS 1000
/* Outbox rows deleted by one statement on PostgreSQL, at most (their ids'
 * text, some 5 KB). */
#define DB_OUTBOX_DELETE_MAX 256

int db_outbox_add(struct db *db, const char *action_json, int64_t now_ms, int64_t *id)
{
	if(db__on_pg(db)) {
		int64_t next;
		if(db__next_id(db, &db->outbox_ids, DB_IDS_SQL("outbox"), &next))
			return -1;
		if(db->in_tx) { /* sent with the others (db_rows.c) */
			if(db__rows_outbox(db, next, action_json, now_ms))
				return -1;
			*id = next;
			return 0;
		}
		struct sql_stmt *st = db__stmt(db, "INSERT INTO outbox (id, action, created_ms) VALUES (?1, ?2, ?3)");
		if(!st)
			return -1;
		sql_bind_int64(st, 1, next);
		sql_bind_text(st, 2, action_json, -1);
		sql_bind_int64(st, 3, now_ms);
		if(db__exec_stmt(db, st, "outbox add"))
			return -1;
		*id = next;
		return 0;
	}
	struct sql_stmt *st = db__stmt(db, "INSERT INTO outbox (action, created_ms) VALUES (?1, ?2) RETURNING id");
	if(!st)
		return -1;
	sql_bind_text(st, 1, action_json, -1);
	sql_bind_int64(st, 2, now_ms);
	return db__insert_id(db, st, "outbox add", id);
}

static const char db_outbox__delete_sql[] = "DELETE FROM outbox WHERE id = ?1";
static const char db_outbox__delete_pg_sql[] =
	"WITH acked AS (DELETE FROM outbox_acks WHERE id = ?1) DELETE FROM outbox WHERE id = ?1";

const char *db__outbox_delete_sql(const struct db *db)
{
	return db__on_pg(db) ? db_outbox__delete_pg_sql : db_outbox__delete_sql;
}

int db_outbox_remove(struct db *db, int64_t id)
{
	struct sql_stmt *st = db__stmt(db, db__outbox_delete_sql(db));
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	return db__exec_stmt(db, st, "outbox remove");
}

int db_outbox_remove_to(struct db *db, int kind, const char *platform, const char *chat_id, int *n)
{
	/* The rows are the JSON of action_to_json; the outbox is short (what
	 * is in flight or waits for its adapter), so a scan is cheap.  The
	 * engines read JSON each its own way (PostgreSQL's ensemble_json is
	 * NULL for a row that is no JSON, as json_valid says on SQLite). */
	static const char lite[] =
		"DELETE FROM outbox WHERE CASE WHEN json_valid(action) THEN json_extract(action, '$.kind') = ?1 "
		"AND json_extract(action, '$.platform') = ?2 AND json_extract(action, '$.chat') = ?3 END";
	static const char pg[] =
		"DELETE FROM outbox WHERE ensemble_json(action) ->> 'kind' = CAST(?1 AS text) "
		"AND ensemble_json(action) ->> 'platform' = ?2 AND ensemble_json(action) ->> 'chat' = ?3";
	struct sql_stmt *st = db__stmt(db, db__on_pg(db) ? pg : lite);
	if(!st)
		return -1;
	sql_bind_int(st, 1, kind);
	sql_bind_text(st, 2, platform, -1);
	sql_bind_text(st, 3, chat_id, -1);
	if(db__exec_stmt(db, st, "outbox remove to"))
		return -1;
	*n = sql_changes(db->sql);
	return 0;
}

int db_outbox_each(struct db *db, int (*fn)(void *user, int64_t id, const char *json), void *user)
{
	/* Read every row first: fn may write to the database. */
	struct row {
		int64_t id;
		char *json;
	} *rows = NULL;
	size_t n = 0, alloc = 0;
	int rc = 0;
	struct sql_stmt *st = db__stmt(db, "SELECT id, action FROM outbox ORDER BY id");
	if(!st)
		return -1;
	while((rc = sql_step(st)) == SQL_ROW) {
		if(n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			struct row *nr = realloc(rows, alloc * sizeof(*nr));
			if(!nr)
				break;
			rows = nr;
		}
		rows[n].id = sql_column_int64(st, 0);
		rows[n].json = strdup(db__text(st, 1));
		if(!rows[n].json)
			break;
		n++;
	}
	sql_reset(st);
	int result = rc == SQL_DONE ? 0 : -1;
	if(result)
		db__log_error(db, "outbox read");
	for(size_t i = 0; i < n; i++) {
		if(!result && fn(user, rows[i].id, rows[i].json))
			result = -1;
		free(rows[i].json);
	}
	free(rows);
	return result;
}

/* ---- the journal of deliveries ---- */

static int db_outbox__remember(struct db *db, int64_t id, int64_t now_ms)
{
	if(db->nacks == db->acks_alloc) {
		size_t na = db->acks_alloc ? db->acks_alloc * 2 : 64;
		int64_t *nv = realloc(db->acks, na * sizeof(*nv));
		if(!nv)
			return -1;
		db->acks = nv;
		db->acks_alloc = na;
	}
	if(!db->nacks)
		db->oldest_ack_ms = now_ms;
	db->acks[db->nacks++] = id;
	return 0;
}

/* The journal no longer works (disk full, I/O error): deliveries are kept
 * in memory only, and forgotten at every chance, as before the journal. */
static void db_outbox__journal_broken(struct db *db, const char *what)
{
	log_warn("delivery journal %s: %s; deliveries are now recorded in the database one by one", what,
	         strerror(errno));
	close(db->ack_fd);
	db->ack_fd = -1;
}

/* Appends id to the journal beside an SQLite database; a failed write
 * leaves the journal broken (the deliveries are then in memory only). */
static void db_outbox__journal_write(struct db *db, int64_t id)
{
	if(db->ack_fd < 0)
		return;
	ssize_t n;
	do
		n = write(db->ack_fd, &id, sizeof(id));
	while(n < 0 && errno == EINTR);
	if(n != (ssize_t)sizeof(id))
		db_outbox__journal_broken(db, "write");
}

/* Keeps the delivery of id aside while a run owns db (db_async.c); on
 * PostgreSQL its record is queued at once for the thread that writes them
 * (db_acks.c).  The run may have lost the leadership meanwhile: the record
 * is true all the same (the message was delivered), and only a leader
 * acts on it. */
static void db_outbox__later(struct db *db, int64_t id, int64_t now_ms)
{
	if(db->nlater == db->later_alloc) {
		size_t na = db->later_alloc ? db->later_alloc * 2 : 16;
		struct db_ack_later *nv = realloc(db->acks_later, na * sizeof(*nv));
		if(!nv)
			return; /* the row stays: it is sent again after a restart */
		db->acks_later = nv;
		db->later_alloc = na;
	}
	db->acks_later[db->nlater++] = (struct db_ack_later){ .id = id, .ms = now_ms };
	if(db__on_pg(db))
		db__acks_push(db, id);
}

void db__outbox_take_later(struct db *db)
{
	size_t n = db->nlater;
	db->nlater = 0;
	for(size_t i = 0; i < n; i++)
		if(!db_outbox__remember(db, db->acks_later[i].id, db->acks_later[i].ms) && !db__on_pg(db))
			db_outbox__journal_write(db, db->acks_later[i].id);
}

void db_outbox_done(struct db *db, int64_t id, int64_t now_ms)
{
	if(!id)
		return;
	if(db__async_running(db)) {
		db_outbox__later(db, id, now_ms);
		return;
	}
	if(db_outbox__remember(db, id, now_ms))
		return; /* the row stays: it is sent again after a restart */
	if(!db__on_pg(db))
		db_outbox__journal_write(db, id);
	else if(db->leads)
		db__acks_push(db, id);
}

bool db_outbox_should_forget(const struct db *db, int64_t now_ms)
{
	if(!db->nacks)
		return false;
	bool durable = db->ack_fd >= 0 || db__acks_on(db);
	return !durable || db->nacks >= DB_ACK_BATCH || now_ms - db->oldest_ack_ms >= DB_ACK_MAX_AGE_MS;
}

void db__id_array(struct strbuf *out, const int64_t *ids, size_t n)
{
	strbuf_addc(out, '{');
	for(size_t i = 0; i < n; i++)
		strbuf_addf(out, i ? ",%lld" : "%lld", (long long)ids[i]);
	strbuf_addc(out, '}');
}

/* On PostgreSQL, the rows of n deliveries (ids) and their records go in one
 * statement, the ids an array bound as its text: a statement costs the
 * server more than the two index lookups and deletes it runs (some 15 us
 * of protocol and executor set-up each), and every reply had one.  On
 * SQLite, where a statement costs little more than its work, one row at a
 * time.  0 or -1 (logged). */
static int db_outbox__delete(struct db *db, const int64_t *ids, size_t n)
{
	if(!db__on_pg(db)) {
		for(size_t i = 0; i < n; i++)
			if(db_outbox_remove(db, ids[i]))
				return -1;
		return 0;
	}
	struct sql_stmt *st =
		db__stmt(db, "WITH acked AS (DELETE FROM outbox_acks WHERE id = ANY (CAST(?1 AS BIGINT[]))) "
	                     "DELETE FROM outbox WHERE id = ANY (CAST(?1 AS BIGINT[]))");
	if(!st)
		return -1;
	struct strbuf list = STRBUF_INIT;
	int rc = 0;
	for(size_t i = 0; i < n && !rc; i += DB_OUTBOX_DELETE_MAX) {
		strbuf_reset(&list);
		db__id_array(&list, ids + i, n - i < DB_OUTBOX_DELETE_MAX ? n - i : DB_OUTBOX_DELETE_MAX);
		if(list.oom) {
			rc = -1;
			break;
		}
		sql_bind_text(st, 1, list.buf, (int)list.len);
		rc = db__exec_stmt(db, st, "outbox remove");
	}
	strbuf_release(&list);
	return rc;
}

int db_outbox_forget(struct db *db)
{
	if(db->acks_applied < db->nacks &&
	   db_outbox__delete(db, db->acks + db->acks_applied, db->nacks - db->acks_applied))
		return -1;
	db->acks_applied = db->nacks;
	return 0;
}

void db__outbox_committed(struct db *db)
{
	if(!db->acks_applied)
		return;
	size_t rest = db->nacks - db->acks_applied;
	memmove(db->acks, db->acks + db->acks_applied, rest * sizeof(*db->acks));
	db->nacks = rest;
	db->acks_applied = 0;
	if(db->ack_fd < 0)
		return;
	/* What the journal still has to say is rewritten; in practice nothing
	 * is, since no delivery happens inside a transaction. */
	if(ftruncate(db->ack_fd, 0)) {
		db_outbox__journal_broken(db, "truncate");
		return;
	}
	if(rest && write(db->ack_fd, db->acks, rest * sizeof(*db->acks)) != (ssize_t)(rest * sizeof(*db->acks)))
		db_outbox__journal_broken(db, "write");
}

void db__outbox_rolled_back(struct db *db)
{
	db->acks_applied = 0;
}

int db__outbox_read_journal(struct db *db, int fd, size_t *found)
{
	/* A torn last record (not possible with 8-byte writes to a file, but
	 * cheap to handle) is ignored: at worst that message is sent once
	 * more. */
	int64_t buf[512];
	ssize_t n;
	while((n = read(fd, buf, sizeof(buf))) > 0) {
		for(size_t i = 0; i < (size_t)n / sizeof(buf[0]); i++) {
			if(buf[i] > 0 && db_outbox__remember(db, buf[i], 0)) {
				errno = ENOMEM;
				return -1;
			}
			(*found)++;
		}
	}
	return n < 0 ? -1 : 0;
}

int db__outbox_apply(struct db *db)
{
	if(db_begin(db) || db_outbox_forget(db) || db_commit(db)) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

int db__outbox_open_journal(struct db *db, struct strbuf *err)
{
	/* An in-memory database (the fuzz targets') survives no crash: it has
	 * no journal, and no "-acks" file appears in the working directory. */
	if(db__on_pg(db))
		return 0; /* rows of outbox_acks instead */
	const char *file = sqlite3_db_filename(sql_sqlite_handle(db->sql), "main");
	if(!file || !*file)
		return 0;
	int rc = -1;
	size_t len = strlen(db->path) + sizeof("-acks");
	char *path = malloc(len);
	if(!path) {
		strbuf_addf(err, "out of memory");
		return -1;
	}
	snprintf(path, len, "%s-acks", db->path);
	db->ack_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if(db->ack_fd < 0) {
		strbuf_addf(err, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	/* Deliveries a crash left unapplied. */
	size_t found = 0;
	if(db__outbox_read_journal(db, db->ack_fd, &found)) {
		strbuf_addf(err, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if(found) {
		log_info("applying %zu delivery record(s) left by the last run", found);
		if(db__outbox_apply(db)) {
			strbuf_addf(err, "cannot apply the delivery journal %s", path);
			goto out;
		}
	} else if(ftruncate(db->ack_fd, 0)) { /* a torn record alone */
		strbuf_addf(err, "cannot truncate %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(path);
	return rc;
}

void db__outbox_close(struct db *db)
{
	if(db->ack_fd >= 0)
		close(db->ack_fd);
	db->ack_fd = -1;
	db__acks_close(db);
	free(db->acks);
	db->acks = NULL;
	db->nacks = db->acks_alloc = db->acks_applied = 0;
	free(db->acks_later);
	db->acks_later = NULL;
	db->nlater = db->later_alloc = 0;
}

int db__outbox_apply_rows(struct db *db, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT;
	int rc = sql_exec(db->sql,
	                  "BEGIN; DELETE FROM outbox WHERE id IN (SELECT id FROM outbox_acks); "
	                  "DELETE FROM outbox_acks; COMMIT",
	                  &why);
	if(rc) {
		strbuf_addf(err, "cannot apply the deliveries recorded in %s: %s", db->name, why.buf);
		struct strbuf ignored = STRBUF_INIT;
		sql_exec(db->sql, "ROLLBACK", &ignored);
		strbuf_release(&ignored);
	}
	strbuf_release(&why);
	return rc;
}
