/*
 * db_web: the calendar links and what their feeds show (web/).
 *
 * A link row keeps the SHA-256 of its token and the salt web/ derives the
 * token from, never the token.  db_web_link_find is the one lookup a feed
 * request costs before it knows whether anything changed: the link and
 * its feed's change counter in one statement.
 */
#include "storage/db_internal.h"

#include <string.h>

#include "lib/log.h"

#define LOG_MODULE "db"

/* Binds ?1 kind, ?2 chat, ?3 group, ?4 person, 0 standing for none. */
static void db_web__bind_of(struct sql_stmt *st, const struct db_web_link *l)
{
	sql_bind_int(st, 1, (int)l->kind);
	sql_bind_int64(st, 2, l->chat_id);
	sql_bind_int64(st, 3, l->group_id);
	sql_bind_int64(st, 4, l->user_id);
}

/* Copies a blob column of exactly len bytes into out; -1 when it is not. */
static int db_web__blob(struct sql_stmt *st, int col, unsigned char *out, int len)
{
	if(sql_column_bytes(st, col) != len)
		return -1;
	memcpy(out, sql_column_blob(st, col), (size_t)len);
	return 0;
}

bool db_keeps_web_key(const struct db *db)
{
	return db_engine(db) == SQL_POSTGRES;
}

int db_web_key_get(struct db *db, unsigned char *key, int len)
{
	if(!db_keeps_web_key(db))
		return 0;
	struct sql_stmt *st = db__stmt(db, "SELECT key FROM web_key WHERE id = 1");
	if(!st)
		return -1;
	int rc = sql_step(st);
	int found = rc == SQL_ROW && db_web__blob(st, 0, key, len) == 0;
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "web key read");
		return -1;
	}
	if(rc == SQL_ROW && !found) {
		log_error("the web key stored in the database is not %d bytes long", len);
		return -1;
	}
	return found;
}

struct db_web_offer {
	const unsigned char *key;
	int len;
};

static int db_web__offer(struct db *db, void *user)
{
	const struct db_web_offer *o = user;
	struct sql_stmt *st = db__stmt(db, "INSERT INTO web_key (id, key) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING");
	if(!st)
		return -1;
	sql_bind_blob(st, 1, o->key, o->len);
	return db__exec_stmt(db, st, "web key write");
}

int db_web_key_offer(struct db *db, const unsigned char *key, int len)
{
	struct db_web_offer o = { .key = key, .len = len };
	return db_transact(db, db_web__offer, &o);
}

int db_web_link_get(struct db *db, struct db_web_link *l)
{
	struct sql_stmt *st =
		db__stmt(db, "SELECT salt, hash FROM web_links WHERE coalesce(chat_id, 0) = ?2 "
	                     "AND coalesce(user_id, 0) = ?4 AND kind = ?1 AND coalesce(group_id, 0) = ?3");
	if(!st)
		return -1;
	db_web__bind_of(st, l);
	int rc = sql_step(st), found = 0;
	if(rc == SQL_ROW)
		found = db_web__blob(st, 0, l->salt, DB_WEB_SALT) || db_web__blob(st, 1, l->hash, DB_WEB_HASH) ? -1 : 1;
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE)
		found = -1;
	if(found < 0)
		db__log_error(db, "web link get");
	return found;
}

int db_web_link_put(struct db *db, const struct db_web_link *l, int64_t now_ms)
{
	struct sql_stmt *st =
		db__stmt(db, "DELETE FROM web_links WHERE coalesce(chat_id, 0) = ?2 "
	                     "AND coalesce(user_id, 0) = ?4 AND kind = ?1 AND coalesce(group_id, 0) = ?3");
	if(!st)
		return -1;
	db_web__bind_of(st, l);
	if(db__exec_stmt(db, st, "web link put"))
		return -1;
	st = db__stmt(db,
	              "INSERT INTO web_links (kind, chat_id, group_id, user_id, salt, hash, created_ms, expires_ms) "
	              "VALUES (?1, nullif(?2, 0), nullif(?3, 0), nullif(?4, 0), ?5, ?6, ?7, ?8)");
	if(!st)
		return -1;
	db_web__bind_of(st, l);
	sql_bind_blob(st, 5, l->salt, DB_WEB_SALT);
	sql_bind_blob(st, 6, l->hash, DB_WEB_HASH);
	sql_bind_int64(st, 7, now_ms);
	sql_bind_int64(st, 8, l->expires_ms);
	return db__exec_stmt(db, st, "web link put");
}

/* A person's feed changes with any of their chats: the sum of those
 * chats' counters, times a thousand plus their number (so that joining a
 * chat whose counter is 0 changes it too), and the latest change. */
static const char db_web__find_sql[] =
	"SELECT l.kind, coalesce(l.chat_id, 0), coalesce(l.group_id, 0), coalesce(l.user_id, 0), l.salt, l.hash, "
	"  CASE WHEN l.kind <> 3 THEN coalesce(c.rev, 0) ELSE "
	"    (SELECT coalesce(sum(x.rev), 0) * 1000 + count(*) FROM members mb "
	"     LEFT JOIN web_changes x ON x.chat_id = mb.chat_id WHERE mb.user_id = l.user_id) END, "
	"  CASE WHEN l.kind <> 3 THEN coalesce(c.changed, 0) ELSE "
	"    (SELECT coalesce(max(x.changed), 0) FROM members mb "
	"     JOIN web_changes x ON x.chat_id = mb.chat_id WHERE mb.user_id = l.user_id) END, l.expires_ms "
	"FROM web_links l LEFT JOIN web_changes c ON c.chat_id = l.chat_id WHERE l.hash = ?1";

int db_web_link_find(struct db *db, const unsigned char hash[DB_WEB_HASH], struct db_web_link *out)
{
	struct sql_stmt *st = db__stmt(db, db_web__find_sql);
	if(!st)
		return -1;
	sql_bind_blob(st, 1, hash, DB_WEB_HASH);
	int rc = sql_step(st), found = 0;
	if(rc == SQL_ROW) {
		memset(out, 0, sizeof(*out));
		out->kind = (enum db_web_kind)sql_column_int(st, 0);
		out->chat_id = sql_column_int64(st, 1);
		out->group_id = sql_column_int64(st, 2);
		out->user_id = sql_column_int64(st, 3);
		out->rev = sql_column_int64(st, 6);
		out->changed = sql_column_int64(st, 7);
		out->expires_ms = sql_column_int64(st, 8);
		found = db_web__blob(st, 4, out->salt, DB_WEB_SALT) || db_web__blob(st, 5, out->hash, DB_WEB_HASH) ? -1
		                                                                                                   : 1;
	}
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE)
		found = -1;
	if(found < 0)
		db__log_error(db, "web link find");
	return found;
}

int db_web_links_drop(struct db *db, int64_t chat_id)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM web_links WHERE coalesce(chat_id, 0) = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	return db__exec_stmt(db, st, "web links drop");
}

/* The meetups of a feed: ?1 the chat (0: any), ?2 the group (0: any), ?3
 * the person who comes (0: anyone), ?4 the earliest end.  The chat is a
 * range, one chat or all of them, rather than "?1 = 0 OR chat_id = ?1",
 * which no index serves: a chat's feed reads its own meetups through the
 * index of (chat_id, num), not every chat's (3.2 ms a feed among 10,000
 * chats, bench/web.py). */
static const char db_web__events_sql[] =
	"SELECT m.id, m.chat_id, m.num, m.title, m.place, m.state, m.start_at, m.duration_min, m.max_people, "
	"  coalesce(m.group_id, 0), coalesce((SELECT seq FROM meetup_seqs WHERE meetup_id = m.id), 0) FROM meetups m "
	"WHERE m.state IN (1, 2) AND m.start_at > 0 AND m.start_at + m.duration_min * 60 >= ?4 "
	"  AND m.chat_id BETWEEN (CASE WHEN ?1 = 0 THEN -9223372036854775807 ELSE ?1 END) "
	"    AND (CASE WHEN ?1 = 0 THEN 9223372036854775807 ELSE ?1 END) AND (?2 = 0 OR m.group_id = ?2) "
	"  AND (?3 = 0 OR EXISTS (SELECT 1 FROM rsvps r WHERE r.meetup_id = m.id AND r.user_id = ?3 "
	"    AND r.answer = 2 AND r.waiting = 0)) "
	"ORDER BY m.start_at, m.id";

int db_web_events(struct db *db, const struct db_web_link *l, time_t since,
                  int (*fn)(void *user, const struct db_web_event *e), void *user)
{
	struct sql_stmt *st = db__stmt(db, db_web__events_sql);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, l->kind == DB_WEB_PERSON ? 0 : l->chat_id);
	sql_bind_int64(st, 2, l->kind == DB_WEB_GROUP ? l->group_id : 0);
	sql_bind_int64(st, 3, l->kind == DB_WEB_PERSON ? l->user_id : 0);
	sql_bind_int64(st, 4, (int64_t)since);
	struct db_web_event e;
	int rc;
	while((rc = sql_step(st)) == SQL_ROW) {
		memset(&e, 0, sizeof(e));
		e.id = sql_column_int64(st, 0);
		e.chat_id = sql_column_int64(st, 1);
		e.num = sql_column_int(st, 2);
		db__copy_text(st, 3, e.title, sizeof(e.title));
		db__copy_text(st, 4, e.place, sizeof(e.place));
		e.state = (enum meetup_state)sql_column_int(st, 5);
		e.start = (time_t)sql_column_int64(st, 6);
		e.duration_min = sql_column_int(st, 7);
		e.max_people = sql_column_int(st, 8);
		e.group_id = sql_column_int64(st, 9);
		e.seq = sql_column_int(st, 10);
		if(fn(user, &e)) {
			sql_reset(st);
			return -1;
		}
	}
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "web events");
		return -1;
	}
	return 0;
}

int db_web_user(struct db *db, int64_t user_id, char *ext_id, size_t extlen, char *name, size_t namelen)
{
	struct sql_stmt *st = db__stmt(db, "SELECT ext_id, name FROM users WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, user_id);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		db__copy_text(st, 0, ext_id, extlen);
		db__copy_text(st, 1, name, namelen);
	}
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "web user");
		return -1;
	}
	return rc == SQL_ROW;
}
