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
 * The journal also holds the kv rows of db_journal_run: what an answered
 * send became (a Telegram message's or poll's id), which edits and votes
 * need from the moment it is known.  A commit of its own for each answer
 * was some 9 % of the Telegram bot's CPU; a record here is one write(),
 * made before the delivery's own record, so that a crash in between costs
 * at most that message a second sending, as before.  The rows are written
 * to kv by the next transaction (db_begin), and dropped from the journal
 * with the deliveries when it commits.
 *
 * The records: a delivery is its outbox id, a positive int64.  A kv row is
 * a negative int64, minus the length of what follows (a multiple of 8):
 * a byte of flags (1: chat is set, 2: person is set, 4: the row is
 * deleted, its value empty), then the key, the
 * value, the chat and the person, each NUL-terminated (an unset one
 * empty), then zeros to the length.  Journals of earlier versions hold
 * deliveries only.
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
	strbuf_release(&db->journal_gathered);
}

/* Writes the len bytes at p at the journal's end, as one write(): 0, or
 * -1 when that breaks the journal (logged). */
static int db_outbox__journal_put(struct db *db, const void *p, size_t len)
{
	ssize_t n;
	do
		n = write(db->ack_fd, p, len);
	while(n < 0 && errno == EINTR);
	if(n != (ssize_t)len) {
		db_outbox__journal_broken(db, "write");
		return -1;
	}
	return 0;
}

/* Appends the len bytes at p to the journal, as one write(), or gathers
 * them while a hold lasts (db_journal_hold): 0, or -1 when the journal is
 * broken, or breaks now (logged).  Out of memory while gathering, what was
 * gathered is written at once, and p after it. */
static int db_outbox__journal_append(struct db *db, const void *p, size_t len)
{
	struct strbuf *g = &db->journal_gathered;
	if(db->ack_fd < 0)
		return -1;
	if(db->journal_held) {
		size_t before = g->len;
		if(!strbuf_add(g, p, len))
			return 0;
		strbuf_setlen(g, before);
		g->oom = false;
		if(g->len && db_outbox__journal_put(db, g->buf, g->len))
			return -1;
		strbuf_reset(g);
	}
	return db_outbox__journal_put(db, p, len);
}

/* Appends id to the journal beside an SQLite database; a failed write
 * leaves the journal broken (the deliveries are then in memory only). */
static void db_outbox__journal_write(struct db *db, int64_t id)
{
	db_outbox__journal_append(db, &id, sizeof(id));
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

/* ---- kv rows in the journal (db_journal_run) ---- */

#define DB_KV_CHAT 1
#define DB_KV_PERSON 2
#define DB_KV_DELETED 4 /* the row is deleted (db_kv_delete); its value "" */

struct db_kv_later {
	char *key, *value, *chat, *person; /* one allocation, from key; chat and person may be NULL */
	size_t len;                        /* of the record, header included */
	bool deleted;
};

/* The record of row r, appended to out. */
static void db_outbox__kv_record(struct strbuf *out, const struct db_kv_later *r)
{
	size_t body = r->len - sizeof(int64_t);
	int64_t head = -(int64_t)body;
	size_t start = out->len;
	strbuf_add(out, &head, sizeof(head));
	strbuf_addc(out, (char)((r->chat ? DB_KV_CHAT : 0) | (r->person ? DB_KV_PERSON : 0) |
	                        (r->deleted ? DB_KV_DELETED : 0)));
	strbuf_add(out, r->key, strlen(r->key) + 1);
	strbuf_add(out, r->value, strlen(r->value) + 1);
	strbuf_add(out, r->chat ? r->chat : "", r->chat ? strlen(r->chat) + 1 : 1);
	strbuf_add(out, r->person ? r->person : "", r->person ? strlen(r->person) + 1 : 1);
	while(out->len - start < r->len)
		strbuf_addc(out, '\0');
}

/* Keeps the row in db->kv_later (copied); a NULL value keeps its
 * deletion.  0, or -1 out of memory. */
static int db_outbox__kv_keep(struct db *db, const char *key, const char *value, const char *chat, const char *person)
{
	bool deleted = !value;
	if(deleted)
		value = "";
	if(db->nkv_later == db->kv_later_alloc) {
		size_t na = db->kv_later_alloc ? db->kv_later_alloc * 2 : 16;
		struct db_kv_later *nv = realloc(db->kv_later, na * sizeof(*nv));
		if(!nv)
			return -1;
		db->kv_later = nv;
		db->kv_later_alloc = na;
	}
	size_t lk = strlen(key) + 1, lv = strlen(value) + 1;
	size_t lc = chat ? strlen(chat) + 1 : 0, lp = person ? strlen(person) + 1 : 0;
	char *m = malloc(lk + lv + lc + lp);
	if(!m)
		return -1;
	struct db_kv_later *r = &db->kv_later[db->nkv_later];
	r->key = memcpy(m, key, lk);
	r->value = memcpy(m + lk, value, lv);
	r->chat = chat ? memcpy(m + lk + lv, chat, lc) : NULL;
	r->person = person ? memcpy(m + lk + lv + lc, person, lp) : NULL;
	size_t body = 1 + lk + lv + (lc ? lc : 1) + (lp ? lp : 1);
	r->len = sizeof(int64_t) + (body + 7) / 8 * 8;
	r->deleted = deleted;
	db->nkv_later++;
	return 0;
}

/* Frees the first n rows of db->kv_later, keeping the others in order. */
static void db_outbox__kv_drop(struct db *db, size_t n)
{
	if(!n)
		return;
	for(size_t i = 0; i < n; i++)
		free(db->kv_later[i].key);
	memmove(db->kv_later, db->kv_later + n, (db->nkv_later - n) * sizeof(*db->kv_later));
	db->nkv_later -= n;
}

int db__kv_journal(struct db *db, const char *key, const char *value, const char *chat, const char *person)
{
	if(db_outbox__kv_keep(db, key, value, chat, person)) {
		log_error("kv %s: out of memory", key);
		return -1;
	}
	/* Kept in memory only when the journal is broken (logged). */
	struct strbuf rec = STRBUF_INIT;
	db_outbox__kv_record(&rec, &db->kv_later[db->nkv_later - 1]);
	int rc = rec.oom ? -1 : db_outbox__journal_append(db, rec.buf, rec.len);
	strbuf_release(&rec);
	return rc;
}

int db__kv_later_get(const struct db *db, const char *key, struct strbuf *out)
{
	/* The latest first: a key set twice has its second value, one set
	 * then deleted none. */
	for(size_t i = db->nkv_later; i > db->kv_applied; i--)
		if(!strcmp(db->kv_later[i - 1].key, key)) {
			if(db->kv_later[i - 1].deleted)
				return 0;
			strbuf_adds(out, db->kv_later[i - 1].value);
			return 1;
		}
	return 2;
}

int db__kv_later_apply(struct db *db)
{
	for(size_t i = db->kv_applied; i < db->nkv_later; i++) {
		const struct db_kv_later *r = &db->kv_later[i];
		if(r->deleted ? db_kv_delete(db, r->key) : db_kv_set_about(db, r->key, r->value, r->chat, r->person))
			return -1;
	}
	db->kv_applied = db->nkv_later;
	return 0;
}

void db_journal_hold(struct db *db)
{
	if(!db__on_pg(db))
		db->journal_held = true;
}

void db_journal_flush(struct db *db)
{
	db->journal_held = false;
	struct strbuf *g = &db->journal_gathered;
	if(g->len && db->ack_fd >= 0)
		db_outbox__journal_put(db, g->buf, g->len);
	strbuf_reset(g);
}

int db_journal_run(struct db *db, int (*fn)(struct db *db, void *user), void *user)
{
	if(db__on_pg(db) || db->ack_fd < 0 || db->in_tx || db__async_running(db) || db->journaling)
		return 1;
	db->journaling = true;
	int rc = fn(db, user);
	db->journaling = false;
	return rc ? -1 : 0;
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
	if(!db->acks_applied && !db->kv_applied)
		return;
	size_t rest = db->nacks - db->acks_applied;
	if(rest)
		memmove(db->acks, db->acks + db->acks_applied, rest * sizeof(*db->acks));
	db->nacks = rest;
	db->acks_applied = 0;
	db_outbox__kv_drop(db, db->kv_applied);
	db->kv_applied = 0;
	/* Gathered records are in acks and kv_later: the rewrite below has
	 * those still needed. */
	strbuf_reset(&db->journal_gathered);
	if(db->ack_fd < 0)
		return;
	/* What the journal still has to say is rewritten; in practice nothing
	 * is, since no delivery happens inside a transaction, and every
	 * transaction writes the kv rows kept. */
	struct strbuf left = STRBUF_INIT;
	if(rest)
		strbuf_add(&left, db->acks, rest * sizeof(*db->acks));
	for(size_t i = 0; i < db->nkv_later; i++)
		db_outbox__kv_record(&left, &db->kv_later[i]);
	if(left.oom)
		errno = ENOMEM;
	if(left.oom || ftruncate(db->ack_fd, 0))
		db_outbox__journal_broken(db, "rewrite");
	else if(left.len)
		db_outbox__journal_append(db, left.buf, left.len);
	strbuf_release(&left);
}

void db__outbox_rolled_back(struct db *db)
{
	db->acks_applied = 0;
	db->kv_applied = 0;
}

/* Takes the kv record of len bytes at p (after its header) into
 * db->kv_later.  1 when taken, 0 when it is no record (the journal's
 * torn end), -1 out of memory. */
static int db_outbox__kv_read(struct db *db, const char *p, size_t len)
{
	const char *f[4], *end = p + len;
	const char *at = p + 1;
	if(!len)
		return 0;
	for(int i = 0; i < 4; i++) {
		const char *nul = memchr(at, '\0', (size_t)(end - at));
		if(!nul)
			return 0;
		f[i] = at;
		at = nul + 1;
	}
	if(db_outbox__kv_keep(db, f[0], (p[0] & DB_KV_DELETED) ? NULL : f[1], (p[0] & DB_KV_CHAT) ? f[2] : NULL,
	                      (p[0] & DB_KV_PERSON) ? f[3] : NULL))
		return -1;
	return 1;
}

int db__outbox_read_journal(struct db *db, int fd, size_t *found)
{
	/* Read whole: it holds what happened since the last commit, a few
	 * kilobytes.  A torn last record (not possible with one write() to a
	 * file, but cheap to handle) is ignored: at worst that message is
	 * sent once more. */
	struct strbuf all = STRBUF_INIT;
	char buf[4096];
	ssize_t n;
	while((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_add(&all, buf, (size_t)n);
	int rc = n < 0 ? -1 : 0;
	if(!rc && all.oom) {
		errno = ENOMEM;
		rc = -1;
	}
	size_t at = 0;
	while(!rc && at + sizeof(int64_t) <= all.len) {
		int64_t v;
		memcpy(&v, all.buf + at, sizeof(v));
		at += sizeof(v);
		int took = 1;
		if(v > 0)
			took = db_outbox__remember(db, v, 0) ? -1 : 1;
		else if(v < 0) {
			if(v < -(int64_t)(all.len - at))
				break; /* torn */
			if(!(took = db_outbox__kv_read(db, all.buf + at, (size_t)-v)))
				break;
			at += (size_t)-v;
		}
		if(took < 0) {
			errno = ENOMEM;
			rc = -1;
		} else {
			(*found)++;
		}
	}
	strbuf_release(&all);
	return rc;
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
		log_info("applying %zu journal record(s) left by the last run", found);
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
	db_journal_flush(db);
	strbuf_release(&db->journal_gathered);
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
	db_outbox__kv_drop(db, db->nkv_later);
	free(db->kv_later);
	db->kv_later = NULL;
	db->kv_later_alloc = db->kv_applied = 0;
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
