#include "storage/db_internal.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

#define LOG_MODULE "db"

/* A trigger of schema 12: what it fires on changes the feeds of chat
 * (an SQL expression), whose counter grows and takes the time. */
#define DB_WEB_CHANGED(name, on, chat) \
	"CREATE TRIGGER IF NOT EXISTS " name " " on " BEGIN " \
	"  INSERT INTO web_changes (chat_id, rev, changed) " \
	"    SELECT " chat ", 1, CAST(strftime('%s', 'now') AS INTEGER) WHERE " chat " IS NOT NULL " \
	"    ON CONFLICT (chat_id) DO UPDATE SET rev = rev + 1, changed = excluded.changed; END;"

/* migrations[i] brings a database from version i to version i + 1.  Never
 * edit a migration that has shipped: add the next one. */
static const char *const db__migrations[] = {
	/* 0 -> 1: chats, users, members, adapter state. */
	"CREATE TABLE chats ("
	"  id INTEGER PRIMARY KEY,"
	"  platform TEXT NOT NULL,"
	"  ext_id TEXT NOT NULL,"
	"  lang TEXT NOT NULL,"
	"  tz TEXT NOT NULL,"
	"  admin TEXT,"
	"  active INTEGER NOT NULL DEFAULT 1,"
	"  UNIQUE (platform, ext_id));"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  platform TEXT NOT NULL,"
	"  ext_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  UNIQUE (platform, ext_id));"
	"CREATE TABLE members ("
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  last_seen INTEGER NOT NULL,"
	"  PRIMARY KEY (chat_id, user_id)) WITHOUT ROWID;"
	"CREATE TABLE kv ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL) WITHOUT ROWID;",

	/* 1 -> 2: meetups with their candidate slots, votes and RSVPs; the
	 * durable scheduler's jobs; the guided dialogues in progress. */
	"CREATE TABLE meetups ("
	"  id INTEGER PRIMARY KEY,"
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  num INTEGER NOT NULL,"
	"  title TEXT NOT NULL,"
	"  place TEXT NOT NULL DEFAULT '',"
	"  creator INTEGER NOT NULL REFERENCES users(id),"
	"  state INTEGER NOT NULL,"
	"  duration_min INTEGER NOT NULL,"
	"  deadline INTEGER NOT NULL DEFAULT 0,"
	"  quorum INTEGER NOT NULL DEFAULT 0,"
	"  max_people INTEGER NOT NULL DEFAULT 0,"
	"  chosen INTEGER NOT NULL DEFAULT 0,"
	"  start_at INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (chat_id, num));"
	"CREATE TABLE slots ("
	"  meetup_id INTEGER NOT NULL REFERENCES meetups(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  start_at INTEGER NOT NULL,"
	"  duration_min INTEGER NOT NULL,"
	"  PRIMARY KEY (meetup_id, idx)) WITHOUT ROWID;"
	"CREATE TABLE votes ("
	"  meetup_id INTEGER NOT NULL REFERENCES meetups(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  answers TEXT NOT NULL,"
	"  voted_at INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  PRIMARY KEY (meetup_id, user_id)) WITHOUT ROWID;"
	"CREATE TABLE rsvps ("
	"  meetup_id INTEGER NOT NULL REFERENCES meetups(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  answer INTEGER NOT NULL,"
	"  waiting INTEGER NOT NULL DEFAULT 0,"
	"  reconfirm INTEGER NOT NULL DEFAULT 0,"
	"  seq INTEGER NOT NULL,"
	"  PRIMARY KEY (meetup_id, user_id)) WITHOUT ROWID;"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  due_ms INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  meetup_id INTEGER REFERENCES meetups(id) ON DELETE CASCADE,"
	"  arg INTEGER NOT NULL DEFAULT 0,"
	"  state INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX jobs_pending ON jobs (due_ms, id) WHERE state = 0;"
	"CREATE INDEX jobs_meetup ON jobs (meetup_id);"
	"CREATE TABLE dialogs ("
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  step INTEGER NOT NULL,"
	"  data TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (chat_id, user_id)) WITHOUT ROWID;",

	/* 2 -> 3: the durable outbox; reminders and nudges. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  action TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"ALTER TABLE chats ADD COLUMN remind TEXT NOT NULL DEFAULT '1440,60';"
	"ALTER TABLE chats ADD COLUMN nudge INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE meetups ADD COLUMN remind TEXT;"
	"CREATE TABLE private_reminders ("
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (chat_id, user_id)) WITHOUT ROWID;",

	/* 3 -> 4: recurring series of meetups. */
	"CREATE TABLE series ("
	"  id INTEGER PRIMARY KEY,"
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  rule TEXT NOT NULL,"
	"  poll INTEGER NOT NULL DEFAULT 0,"
	"  active INTEGER NOT NULL DEFAULT 1);"
	"ALTER TABLE meetups ADD COLUMN series_id INTEGER REFERENCES series(id);"
	/* A meetup's pending jobs by kind and time, without touching the
	 * table: the reminders' "is a later one due too" and every re-plan. */
	"DROP INDEX jobs_meetup;"
	"CREATE INDEX jobs_meetup ON jobs (meetup_id, kind, due_ms) WHERE state = 0;",

	/* 4 -> 5: interests and peer groups. */
	"CREATE TABLE interests ("
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  topic_key TEXT NOT NULL,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  topic TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  PRIMARY KEY (chat_id, topic_key, user_id)) WITHOUT ROWID;"
	"CREATE TABLE interest_alerts ("
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  topic_key TEXT NOT NULL,"
	"  PRIMARY KEY (chat_id, topic_key)) WITHOUT ROWID;"
	"ALTER TABLE chats ADD COLUMN interest_threshold INTEGER NOT NULL DEFAULT 3;"
	"CREATE TABLE groups ("
	"  id INTEGER PRIMARY KEY,"
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  name_key TEXT NOT NULL,"
	"  topic TEXT NOT NULL DEFAULT '',"
	"  max_members INTEGER NOT NULL DEFAULT 0,"
	"  closed INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX groups_name ON groups (chat_id, name_key) WHERE closed = 0;"
	"CREATE TABLE group_members ("
	"  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  contact INTEGER NOT NULL DEFAULT 0,"
	"  waiting INTEGER NOT NULL DEFAULT 0,"
	"  seq INTEGER NOT NULL,"
	"  PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;"
	"ALTER TABLE meetups ADD COLUMN group_id INTEGER REFERENCES groups(id);",

	/* 5 -> 6: platform events already handled (Matrix event ids), so a
	 * replayed sync does nothing twice; pruned by age. */
	"CREATE TABLE seen_events ("
	"  platform TEXT NOT NULL,"
	"  ext_id TEXT NOT NULL,"
	"  at_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (platform, ext_id)) WITHOUT ROWID;"
	"CREATE INDEX seen_events_age ON seen_events (at_ms);",

	/* 6 -> 7: the seq columns take their numbers from one counter (see
	 * db__next_seq), which starts above every number used so far. */
	"INSERT INTO kv (key, value) SELECT 'db.seq', max("
	"  coalesce((SELECT max(seq) FROM votes), 0), coalesce((SELECT max(seq) FROM rsvps), 0),"
	"  coalesce((SELECT max(seq) FROM group_members), 0), coalesce((SELECT max(seq) FROM interests), 0));",

	/* 7 -> 8: outbox ids are never used twice.  The journal of deliveries
	 * names rows by id, and a record may outlive its row: a crash between
	 * a commit that deleted the row and the journal's truncation leaves it
	 * there, to be applied at the next open.  With ids reused (a rowid is
	 * max + 1), it could delete a newer action that shares the id, a reply
	 * that was never sent. */
	"CREATE TABLE outbox_v8 ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  action TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL);"
	"INSERT INTO outbox_v8 (id, action, created_ms) SELECT id, action, created_ms FROM outbox;"
	"DROP TABLE outbox;"
	"ALTER TABLE outbox_v8 RENAME TO outbox;",

	/* 8 -> 9: a meetup may outlive the user row of its creator.  /forget me
	 * leaves the meetups someone proposed to the chat (the others' votes
	 * and RSVPs hang on them) but takes their name off: creator becomes
	 * NULL.  SQLite cannot drop a NOT NULL constraint, so the table is
	 * made anew, with the same columns in the same order; the tables that
	 * refer to meetups by name refer to the new one once it is renamed
	 * (foreign keys are off while migrating, see db__migrate). */
	"CREATE TABLE meetups_v9 ("
	"  id INTEGER PRIMARY KEY,"
	"  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
	"  num INTEGER NOT NULL,"
	"  title TEXT NOT NULL,"
	"  place TEXT NOT NULL DEFAULT '',"
	"  creator INTEGER REFERENCES users(id),"
	"  state INTEGER NOT NULL,"
	"  duration_min INTEGER NOT NULL,"
	"  deadline INTEGER NOT NULL DEFAULT 0,"
	"  quorum INTEGER NOT NULL DEFAULT 0,"
	"  max_people INTEGER NOT NULL DEFAULT 0,"
	"  chosen INTEGER NOT NULL DEFAULT 0,"
	"  start_at INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  remind TEXT,"
	"  series_id INTEGER REFERENCES series(id),"
	"  group_id INTEGER REFERENCES groups(id),"
	"  UNIQUE (chat_id, num));"
	"INSERT INTO meetups_v9 SELECT id, chat_id, num, title, place, creator, state, duration_min, deadline, "
	"  quorum, max_people, chosen, start_at, created_at, remind, series_id, group_id FROM meetups;"
	"DROP TABLE meetups;"
	"ALTER TABLE meetups_v9 RENAME TO meetups;",

	/* 9 -> 10: a chat's name as its platform shows it, for /mygroups (a
	 * Matrix room id means nothing to its members). */
	"CREATE TABLE IF NOT EXISTS chat_titles ("
	"  chat_id INTEGER PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,"
	"  title TEXT NOT NULL);",

	/* 10 -> 11: adapters' state that names a person (who reacted under
	 * which message, the private room opened for someone) says whom and in
	 * which chat, by the platform's ids, so that /forget me can take it out
	 * without storage knowing any adapter's keys.  The table is made anew
	 * (its rows carry over, naming no one) rather than altered, so that
	 * the step also runs on a table that has the columns already. */
	"CREATE TABLE kv_v11 ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL,"
	"  chat TEXT,"
	"  person TEXT) WITHOUT ROWID;"
	"INSERT INTO kv_v11 (key, value) SELECT key, value FROM kv;"
	"DROP TABLE kv;"
	"ALTER TABLE kv_v11 RENAME TO kv;",

	/* 11 -> 12: the calendar feeds (web/).  A link is a capability: its
	 * token is never stored, only its SHA-256 (hash) and the random salt
	 * web/ derives it from; a chat, a group and a person have one link
	 * each at most.  meetup_seqs holds each meetup's SEQUENCE, which grows
	 * at each change of what a calendar shows of it; web_changes a chat's
	 * change counter (rev), which grows, and the time of the change, at
	 * each change its feeds show, so that a feed's ETag and Last-Modified
	 * cost one lookup.  Triggers keep both, so that no writer can forget
	 * to.  Tables of their own rather than columns, and IF NOT EXISTS
	 * throughout, so that the step also runs where they exist already. */
	"CREATE TABLE IF NOT EXISTS web_links ("
	"  hash BLOB PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  chat_id INTEGER REFERENCES chats(id) ON DELETE CASCADE,"
	"  group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,"
	"  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
	"  salt BLOB NOT NULL,"
	"  created_ms INTEGER NOT NULL) WITHOUT ROWID;"
	/* One index finds a link by what it opens, the links of a chat (its
	 * first column) and a person's (the first two, chat 0). */
	"CREATE UNIQUE INDEX IF NOT EXISTS web_links_of ON web_links "
	"  (coalesce(chat_id, 0), coalesce(user_id, 0), kind, coalesce(group_id, 0));"
	"CREATE TABLE IF NOT EXISTS meetup_seqs ("
	"  meetup_id INTEGER PRIMARY KEY REFERENCES meetups(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS web_changes ("
	"  chat_id INTEGER PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,"
	"  rev INTEGER NOT NULL,"
	"  changed INTEGER NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS meetups_seq AFTER UPDATE OF title, place, start_at, duration_min, state "
	"  ON meetups WHEN old.title IS NOT new.title OR old.place IS NOT new.place "
	"    OR old.start_at IS NOT new.start_at OR old.duration_min IS NOT new.duration_min "
	"    OR old.state IS NOT new.state BEGIN "
	"  INSERT INTO meetup_seqs (meetup_id, seq) VALUES (new.id, 1) "
	"    ON CONFLICT (meetup_id) DO UPDATE SET seq = seq + 1; END;"
	/* One trigger to a line: */
	/* clang-format off */
	DB_WEB_CHANGED("web_meetup_insert", "AFTER INSERT ON meetups", "new.chat_id")
	DB_WEB_CHANGED("web_meetup_update", "AFTER UPDATE ON meetups", "new.chat_id")
	DB_WEB_CHANGED("web_meetup_delete", "AFTER DELETE ON meetups", "old.chat_id")
	DB_WEB_CHANGED("web_rsvp_insert", "AFTER INSERT ON rsvps", "(SELECT chat_id FROM meetups WHERE id = new.meetup_id)")
	DB_WEB_CHANGED("web_rsvp_update", "AFTER UPDATE ON rsvps", "(SELECT chat_id FROM meetups WHERE id = new.meetup_id)")
	DB_WEB_CHANGED("web_rsvp_delete", "AFTER DELETE ON rsvps", "(SELECT chat_id FROM meetups WHERE id = old.meetup_id)")
	DB_WEB_CHANGED("web_chat_update", "AFTER UPDATE OF lang, tz ON chats", "new.id")
	DB_WEB_CHANGED("web_title_insert", "AFTER INSERT ON chat_titles", "new.chat_id")
	DB_WEB_CHANGED("web_title_update", "AFTER UPDATE ON chat_titles", "new.chat_id"),
	/* clang-format on */

	/* 12 -> 13: the personal links to vote on the web page (web/), which
	 * end: a link's expiry, Unix ms (0: it does not end).  The table is
	 * made anew (its rows carry over) rather than altered, so that the
	 * step also runs on a table that has the column already. */
	"CREATE TABLE web_links_v13 ("
	"  hash BLOB PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  chat_id INTEGER REFERENCES chats(id) ON DELETE CASCADE,"
	"  group_id INTEGER REFERENCES groups(id) ON DELETE CASCADE,"
	"  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
	"  salt BLOB NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"INSERT INTO web_links_v13 (hash, kind, chat_id, group_id, user_id, salt, created_ms) "
	"  SELECT hash, kind, chat_id, group_id, user_id, salt, created_ms FROM web_links;"
	"DROP TABLE web_links;"
	"ALTER TABLE web_links_v13 RENAME TO web_links;"
	"CREATE UNIQUE INDEX web_links_of ON web_links "
	"  (coalesce(chat_id, 0), coalesce(user_id, 0), kind, coalesce(group_id, 0));",

	/* 13 -> 14: job ids are never used twice.  The scheduler runs a job,
	 * then deletes it by id; a deadline's job that confirms its meetup
	 * cancels the meetup's jobs (its own row among them) and plans the
	 * reminders, and with ids reused (a rowid is max + 1) the first
	 * reminder took the id just freed, so that deleting the finished job
	 * deleted the reminder: a meetup confirmed by its deadline lost its
	 * first reminder.  (PostgreSQL's identity columns never reuse an id;
	 * its run of the transcripts showed it.)  The table is made anew, as
	 * the outbox's was (7 -> 8). */
	"CREATE TABLE jobs_v14 ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  due_ms INTEGER NOT NULL,"
	"  kind INTEGER NOT NULL,"
	"  meetup_id INTEGER REFERENCES meetups(id) ON DELETE CASCADE,"
	"  arg INTEGER NOT NULL DEFAULT 0,"
	"  state INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO jobs_v14 (id, due_ms, kind, meetup_id, arg, state) "
	"  SELECT id, due_ms, kind, meetup_id, arg, state FROM jobs;"
	"DROP TABLE jobs;"
	"ALTER TABLE jobs_v14 RENAME TO jobs;"
	"CREATE INDEX jobs_pending ON jobs (due_ms, id) WHERE state = 0;"
	"CREATE INDEX jobs_meetup ON jobs (meetup_id, kind, due_ms) WHERE state = 0;",
};
#define DB_NMIGRATIONS ((int)(sizeof(db__migrations) / sizeof(db__migrations[0])))

_Static_assert(DB_NMIGRATIONS == DB_SCHEMA_VERSION, "one migration per schema version");

void db__log_error(struct db *db, const char *what)
{
	log_error("%s: %s (%s)", what, sql_errmsg(db->sql), db->name);
}

static size_t db__slot(const char *sql)
{
	uintptr_t h = (uintptr_t)sql;
	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15u;
	return (size_t)(h >> 7) & (DB_STMT_SLOTS - 1);
}

struct sql_stmt *db__stmt(struct db *db, const char *sql)
{
	if(db->async) /* spares a call per statement when no thread ever ran */
		db__async_settle(db);
	size_t i = db__slot(sql);
	while(db->stmt_sql[i] && db->stmt_sql[i] != sql)
		i = (i + 1) & (DB_STMT_SLOTS - 1);
	if(!db->stmt_sql[i]) {
		struct sql_stmt *st;
		if(sql_prepare(db->sql, sql, &st)) {
			db__log_error(db, "prepare");
			log_error("statement: %s", sql);
			return NULL;
		}
		db->stmt_sql[i] = sql;
		db->stmt[i] = st;
		db->stmt_rows[i] = (unsigned char)db__rows_touched(sql);
	}
	/* The rows kept for a table go before a statement that names it.  The
	 * slot is taken already: the statements this prepares find others. */
	if((db->rows_pending & db->stmt_rows[i]) && db__rows_flush(db, db->stmt_rows[i]))
		return NULL;
	sql_reset(db->stmt[i]);
	sql_clear(db->stmt[i]);
	return db->stmt[i];
}

int db__exec_stmt(struct db *db, struct sql_stmt *st, const char *what)
{
	return db__exists(db, st, what) < 0 ? -1 : 0;
}

int db__next_id(struct db *db, struct db_ids *ids, const char *sql, int64_t *id)
{
	if(ids->next == ids->n) {
		struct sql_stmt *st = db__stmt(db, sql);
		if(!st)
			return -1;
		int rc, n = 0;
		while((rc = sql_step(st)) == SQL_ROW && n < DB_IDS)
			ids->ids[n++] = sql_column_int64(st, 0);
		sql_reset(st);
		if((rc != SQL_DONE && rc != SQL_ROW) || !n) {
			db__log_error(db, "ids ahead");
			return -1;
		}
		ids->next = 0;
		ids->n = n;
	}
	*id = ids->ids[ids->next++];
	return 0;
}

int db__insert_id(struct db *db, struct sql_stmt *st, const char *what, int64_t *id)
{
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		*id = sql_column_int64(st, 0);
	sql_reset(st);
	if(rc != SQL_ROW) {
		db__log_error(db, what);
		return -1;
	}
	return 0;
}

int db__exists(struct db *db, struct sql_stmt *st, const char *what)
{
	int rc = sql_step(st);
	sql_reset(st);
	if(rc != SQL_DONE && rc != SQL_ROW) {
		db__log_error(db, what);
		return -1;
	}
	return rc == SQL_ROW;
}

void db__copy_text(struct sql_stmt *st, int col, char *out, size_t outlen)
{
	const char *t = sql_column_text(st, col);
	if(!outlen)
		return;
	/* Cut as snprintf would, without its format parsing (a profile's
	 * largest share of the dispatcher's own work was here). */
	size_t n = strnlen(t, outlen - 1);
	memcpy(out, t, n);
	out[n] = '\0';
}

const char *db__text(struct sql_stmt *st, int col)
{
	return sql_column_text(st, col);
}

int db__count(struct db *db, struct sql_stmt *st, int64_t id, int *out)
{
	sql_bind_int64(st, 1, id);
	int rc = sql_step(st);
	*out = rc == SQL_ROW ? sql_column_int(st, 0) : 0;
	sql_reset(st);
	if(rc != SQL_ROW) {
		db__log_error(db, "count");
		return -1;
	}
	return 0;
}

/* Records a statement as it starts, for bench/floor.c to replay: its SQL
 * text as prepared and the same with its parameters' values written in,
 * each preceded by its length.  Statements of triggers (text starting
 * with "--") are part of the statement that fired them. */
static int db__trace_stmt(unsigned type, void *user, void *p, void *x)
{
	struct db *db = user;
	(void)type;
	if(!strncmp(x, "--", 2))
		return 0;
	char *expanded = sqlite3_expanded_sql(p);
	const char *sql = sqlite3_sql(p);
	if(expanded && sql)
		fprintf(db->trace, "%zu %zu\n%s%s\n", strlen(sql), strlen(expanded), sql, expanded);
	sqlite3_free(expanded);
	return 0;
}

/* ENSEMBLE_SQL_TRACE=FILE records every statement into FILE (created
 * 0600, emptied), the benchmark's floor: read once here, so that a bot
 * without it pays nothing.  A file that cannot be opened is logged and
 * ignored. */
static void db__trace_open(struct db *db)
{
	const char *file = getenv("ENSEMBLE_SQL_TRACE");
	if(!file || !*file)
		return;
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0 || !(db->trace = fdopen(fd, "w"))) {
		log_warn("cannot record the SQL into %s: %s", file, strerror(errno));
		if(fd >= 0)
			close(fd);
		return;
	}
	sqlite3_trace_v2(sql_sqlite_handle(db->sql), SQLITE_TRACE_STMT, db__trace_stmt, db);
}

/* Runs SQL text that returns no rows (schema, pragmas). */
static int db__exec(struct db *db, const char *sql, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT;
	int rc = sql_exec(db->sql, sql, &why);
	if(rc)
		strbuf_addf(err, "%s: %s", db->name, why.buf);
	strbuf_release(&why);
	return rc;
}

int db__sql_int(struct sql *c, const char *q, int64_t *out)
{
	struct sql_stmt *st = NULL;
	int rc = -1;
	if(!sql_prepare(c, q, &st) && sql_step(st) == SQL_ROW) {
		*out = sql_column_int64(st, 0);
		rc = 0;
	}
	sql_finalize(st);
	return rc;
}

static int db__pragma_int(struct db *db, const char *sql, int *out, struct strbuf *err)
{
	int64_t v;
	if(db__sql_int(db->sql, sql, &v)) {
		strbuf_addf(err, "%s: %s", db->path, sql_errmsg(db->sql));
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Runs one step of the migrations and checks, before it commits, that
 * every reference still finds its row (foreign keys are off meanwhile). */
static int db__migrate_step(struct db *db, int version, struct strbuf *err)
{
	char pragma[48];
	struct strbuf ignored = STRBUF_INIT; /* a failed ROLLBACK's reason */
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
	if(db__exec(db, "BEGIN IMMEDIATE", err))
		return -1;
	int broken = 0;
	if(db__exec(db, db__migrations[version], err) || db__exec(db, pragma, err))
		goto fail;
	struct sql_stmt *st;
	if(sql_prepare(db->sql, "PRAGMA foreign_key_check", &st)) {
		strbuf_addf(err, "%s: %s", db->path, sql_errmsg(db->sql));
		goto fail;
	}
	broken = sql_step(st) != SQL_DONE;
	sql_finalize(st);
	if(broken) {
		strbuf_addf(err, "%s: migrating to schema version %d would leave references without their row",
		            db->path, version + 1);
		goto fail;
	}
	return db__exec(db, "COMMIT", err);
fail:
	db__exec(db, "ROLLBACK", &ignored);
	strbuf_release(&ignored);
	return -1;
}

/* Brings the schema to DB_SCHEMA_VERSION, one transaction per step, so an
 * interrupted migration leaves the previous version intact.  Foreign keys
 * are off until every step is done: a step may make a table anew, and
 * dropping the old one would otherwise delete, by ON DELETE CASCADE, every
 * row that refers to it (SQLite's own recipe for changing a table). */
static int db__migrate(struct db *db, struct strbuf *err)
{
	int version;
	if(db__pragma_int(db, "PRAGMA user_version", &version, err))
		return -1;
	if(version > DB_SCHEMA_VERSION) {
		strbuf_addf(err,
		            "%s was written by a newer Ensemble (schema version %d; this build knows "
		            "up to %d): upgrade Ensemble or use another --db file",
		            db->path, version, DB_SCHEMA_VERSION);
		return -1;
	}
	int from = version;
	/* A migration cannot be undone: the file as it was is kept first.  A
	 * version 0 file is a new one (or not Ensemble's), with nothing to
	 * keep. */
	if(from > 0 && from < DB_SCHEMA_VERSION && db__backup_before_migrate(db, from, err))
		return -1;
	for(; version < DB_SCHEMA_VERSION; version++) {
		if(db__migrate_step(db, version, err))
			return -1;
		log_debug("database migrated to schema version %d", version + 1);
	}
	if(from == 0)
		log_info("database created at schema version %d (%s)", DB_SCHEMA_VERSION, db->path);
	else if(from < DB_SCHEMA_VERSION)
		log_info("database migrated from schema version %d to %d (%s)", from, DB_SCHEMA_VERSION, db->path);
	return 0;
}

/* db_open on SQLite: the file at db->path. */
static int db__open_sqlite(struct db *db, struct strbuf *err)
{
	const char *path = db->path;
	int mode;
	struct stat st;
	if(stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		strbuf_addf(err, "%s is not a regular file", path);
		return -1;
	}
	if(db__files_prepare(path, err))
		return -1;
	/* Memory statistics take a global mutex on every allocation inside
	 * SQLite, and nothing here reads them.  The call only works before
	 * SQLite initialises itself, so later opens get SQLITE_MISUSE, which
	 * is harmless. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* One connection, used by one thread at a time: no per-call mutex. */
	if(sql_sqlite_open(&db->sql, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, err))
		return -1;
	sqlite3 *lite = sql_sqlite_handle(db->sql);
	if(sqlite3_db_readonly(lite, "main") == 1) {
		strbuf_addf(err,
		            "%s is read-only: Ensemble needs to write its database "
		            "(check the file's and the directory's permissions)",
		            path);
		return -1;
	}
	sqlite3_busy_timeout(lite, DB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(lite, 1);
	db__trace_open(db);
	/* The first read tells a corrupt or foreign file from a database. */
	if(db__pragma_int(db, "PRAGMA user_version", &mode, err)) {
		int code = sqlite3_errcode(lite) & 0xff; /* the primary code */
		if(code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
			strbuf_addf(err, " (is it an SQLite database?)");
		else if(code == SQLITE_FULL || code == SQLITE_IOERR)
			strbuf_addf(err, " (is the disk full or failing?)");
		return -1;
	}
	/* A checkpoint every 4,000 pages rather than SQLite's 1,000: under
	 * load each checkpoint writes and syncs, and fewer of them cost less.
	 * A page cache somewhat larger than SQLite's default, because a busy
	 * bot's votes touch pages all over a file a few megabytes large.
	 * docs/performance.md has the runs behind both numbers.  What a
	 * delete frees is overwritten with zeros, so that /forget me leaves
	 * nothing of the person in the file (db_forget.c): Debian builds
	 * SQLite so, other builds do not. */
	if(db__exec(db,
	            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 4000; "
	            "PRAGMA cache_size = -2800; PRAGMA secure_delete = ON;",
	            err))
		return -1;
	if(db__migrate(db, err) || db__exec(db, "PRAGMA foreign_keys = ON;", err) || db__outbox_open_journal(db, err))
		return -1;
	return 0;
}

int db_open(struct db **out, const char *path, struct strbuf *err)
{
	struct db *db = calloc(1, sizeof(*db));
	bool pg = sql_is_postgres(path);
	if(db) {
		db->ack_fd = -1;
		strbuf_init(&db->journal_gathered);
	}
	if(!db || !(db->path = strdup(path)) || (!pg && !(db->name = strdup(path)))) {
		strbuf_addf(err, "out of memory");
		goto fail;
	}
	db->leads = !pg;
	if(pg ? db__lead_open(db, path, err) : db__open_sqlite(db, err))
		goto fail;
	*out = db;
	return 0;
fail:
	db_close(db);
	*out = NULL;
	return -1;
}

void db_close(struct db *db)
{
	if(!db)
		return;
	db__async_close(db);
	db__outbox_close(db);
	db__cache_free(db);
	db__rows_free(db);
	for(size_t i = 0; i < DB_STMT_SLOTS; i++)
		if(db->stmt[i])
			sql_finalize(db->stmt[i]);
	sql_close(db->sql);
	if(db->trace)
		fclose(db->trace);
	free(db->path);
	free(db->name);
	free(db);
}

const char *db_path(const struct db *db)
{
	return db->path;
}

const char *db_name(const struct db *db)
{
	return db->name ? db->name : db->path;
}

int db_schema_version(struct db *db)
{
	struct strbuf err = STRBUF_INIT;
	int v = -1;
	if(db_engine(db) == SQL_POSTGRES ? db__pg_version(db->sql, &v, &err)
	                                 : db__pragma_int(db, "PRAGMA user_version", &v, &err))
		v = -1;
	strbuf_release(&err);
	return v;
}

static int db__begin_with(struct db *db, const char *sql)
{
	struct sql_stmt *st = db__stmt(db, sql);
	if(!st || db__exec_stmt(db, st, "begin"))
		return -1;
	db->in_tx = true;
	return 0;
}

/* BEGIN IMMEDIATE takes the write lock at once, so a busy database is seen
 * before any work is done rather than at commit.  A commit on a thread is
 * waited for first: it decides whether a transaction is still open.  An
 * instance that does not lead writes nothing (db_lead.c). */
int db_begin(struct db *db)
{
	db__async_settle(db);
	if(!db->leads)
		return db__lead_check(db);
	if(db->in_tx && db->yield_fn)
		db->yield_fn(db->yield_user);
	int rc = db__begin_with(db, "BEGIN IMMEDIATE");
	/* The leadership may have been lost in the attempt (a reconnection
	 * that found another instance leading). */
	if(rc && !db->leads)
		db__lead_check(db);
	/* The kv rows of db_journal_run go to their table first, so that
	 * every statement of the transaction finds them there. */
	if(!rc && db->nkv_later > db->kv_applied && db__kv_later_apply(db)) {
		db_rollback(db);
		rc = -1;
	}
	return rc;
}

int db_begin_read(struct db *db)
{
	db__async_settle(db);
	if(db->in_tx)
		return -1;
	return db__begin_with(db, "BEGIN DEFERRED");
}

int db_end_read(struct db *db)
{
	return db_commit(db);
}

int db_transact(struct db *db, int (*fn)(struct db *db, void *user), void *user)
{
	if(db_begin(db))
		return -1;
	if(fn(db, user) || db_commit(db)) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* The seq columns order votes, RSVPs, group members and interests by when
 * they last changed.  Taking max(seq) + 1 within the meetup (or group)
 * read every row of it on each vote: a meetup with 300 votes cost 4 us a
 * vote.  One counter for all of them orders each set just as well.  It
 * lives in kv 'db.seq', is read at the first use in a transaction, and is
 * written back just before the commit. */
int db__next_seq(struct db *db, int64_t *out)
{
	if(!db->seq_loaded) {
		struct sql_stmt *st = db__stmt(db, "SELECT CAST(value AS BIGINT) FROM kv WHERE key = 'db.seq'");
		if(!st)
			return -1;
		int rc = sql_step(st);
		db->seq = rc == SQL_ROW ? sql_column_int64(st, 0) : 0;
		sql_reset(st);
		if(rc != SQL_ROW && rc != SQL_DONE) {
			db__log_error(db, "seq read");
			return -1;
		}
		db->seq_loaded = true;
	}
	*out = ++db->seq;
	db->seq_dirty = true;
	return 0;
}

const char db__seq_write_sql[] = "INSERT INTO kv (key, value) VALUES ('db.seq', ?1) "
				 "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

int db_commit(struct db *db)
{
	db__async_settle(db);
	if(db->rows_pending && db__rows_flush(db, DB_ROWS_ALL)) {
		db_rollback(db);
		return -1;
	}
	if(db->seq_dirty) {
		struct sql_stmt *up = db__stmt(db, db__seq_write_sql);
		if(up)
			sql_bind_int64(up, 1, db->seq);
		if(!up || db__exec_stmt(db, up, "seq write")) {
			db_rollback(db);
			return -1;
		}
		db->seq_dirty = false;
	}
	struct sql_stmt *st = db__stmt(db, "COMMIT");
	if(!st || db__exec_stmt(db, st, "commit")) {
		db_rollback(db);
		return -1;
	}
	db->in_tx = false;
	db__outbox_committed(db);
	db__erase_committed(db);
	return 0;
}

int db_rollback(struct db *db)
{
	db__async_settle(db);
	db->in_tx = false;
	db__rows_discard(db);
	db__outbox_rolled_back(db);
	/* The counter is read again: the numbers handed out in the rolled-back
	 * transaction went with its rows. */
	db->seq_loaded = db->seq_dirty = false;
	db__cache_clear(db);
	if(!sql_in_transaction(db->sql))
		return 0;
	struct sql_stmt *st = db__stmt(db, "ROLLBACK");
	return st ? db__exec_stmt(db, st, "rollback") : -1;
}

bool db_in_transaction(const struct db *db)
{
	return db->in_tx;
}

void db_set_yield(struct db *db, void (*fn)(void *user), void *user)
{
	db->yield_fn = fn;
	db->yield_user = user;
}
