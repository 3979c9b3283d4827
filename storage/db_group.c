#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"

#define LOG_MODULE "db"

/* Group members: column 3 is the contact flag (as .answer), 4 waiting. */
static void db_group__fill(struct sql_stmt *st, struct db_person *p)
{
	p->answer = sql_column_int(st, 3);
	p->waiting = sql_column_int(st, 4) != 0;
}

int db_interest_set(struct db *db, int64_t chat_id, const char *key, const char *topic, int64_t user_id, bool on)
{
	int64_t seq = 0;
	if(on && db__next_seq(db, &seq))
		return -1;
	struct sql_stmt *st = db__stmt(
		db,
		on ? "INSERT OR IGNORE INTO interests (chat_id, topic_key, user_id, topic, seq) VALUES (?1, ?2, ?3, "
		     "coalesce((SELECT topic FROM interests WHERE chat_id = ?1 AND topic_key = ?2 LIMIT 1), ?4), "
		     "?5)"
		   : "DELETE FROM interests WHERE chat_id = ?1 AND topic_key = ?2 AND user_id = ?3");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_text(st, 2, key, -1);
	sql_bind_int64(st, 3, user_id);
	if(on) {
		sql_bind_text(st, 4, topic, -1);
		sql_bind_int64(st, 5, seq);
	}
	if(db__exec_stmt(db, st, "interest set"))
		return -1;
	return sql_changes(db->sql) > 0;
}

int db_interest_topics(struct db *db, int64_t chat_id, int offset, struct db_topic *out, int max, int *n, int *total)
{
	struct sql_stmt *st = db__stmt(db, "SELECT count(DISTINCT topic_key) FROM interests WHERE chat_id = ?1");
	*n = 0;
	if(!st || db__count(db, st, chat_id, total))
		return -1;
	if(max <= 0 || offset >= *total)
		return 0;
	st = db__stmt(db, "SELECT topic_key, min(topic), count(*) FROM interests WHERE chat_id = ?1 "
	                  "GROUP BY topic_key ORDER BY count(*) DESC, min(seq) LIMIT ?2 OFFSET ?3");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int(st, 2, max);
	sql_bind_int(st, 3, offset);
	int rc;
	while((rc = sql_step(st)) == SQL_ROW && *n < max) {
		db__copy_text(st, 0, out[*n].key, sizeof(out[*n].key));
		db__copy_text(st, 1, out[*n].topic, sizeof(out[*n].topic));
		out[*n].count = sql_column_int(st, 2);
		(*n)++;
	}
	sql_reset(st);
	if(rc != SQL_DONE && rc != SQL_ROW) {
		db__log_error(db, "topics");
		return -1;
	}
	return 0;
}

int db_interest_people(struct db *db, int64_t chat_id, const char *key, struct db_people *out)
{
	struct sql_stmt *st =
		db__stmt(db, "SELECT u.id, u.ext_id, u.name FROM interests i JOIN users u ON u.id = i.user_id "
	                     "WHERE i.chat_id = ?1 AND i.topic_key = ?2 ORDER BY i.seq");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_text(st, 2, key, -1);
	return db__read_people(db, st, out, NULL);
}

int db_interest_alert(struct db *db, int64_t chat_id, const char *key)
{
	struct sql_stmt *st =
		db__stmt(db, "INSERT OR IGNORE INTO interest_alerts (chat_id, topic_key) VALUES (?1, ?2)");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_text(st, 2, key, -1);
	if(db__exec_stmt(db, st, "interest alert"))
		return -1;
	return sql_changes(db->sql) > 0;
}

static void db_group__read(struct sql_stmt *st, struct db_group *g)
{
	g->id = sql_column_int64(st, 0);
	g->chat_id = sql_column_int64(st, 1);
	db__copy_text(st, 2, g->name, sizeof(g->name));
	db__copy_text(st, 3, g->topic, sizeof(g->topic));
	g->max_members = sql_column_int(st, 4);
	g->closed = sql_column_int(st, 5) != 0;
}

static int db_group__one(struct db *db, struct sql_stmt *st, struct db_group *out)
{
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		db_group__read(st, out);
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "group");
		return -1;
	}
	return rc == SQL_ROW;
}

int db_group_insert(struct db *db, struct db_group *g, const char *name_key)
{
	struct sql_stmt *st =
		db__stmt(db, "INSERT INTO groups (chat_id, name, name_key, topic, max_members, created_at) "
	                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, g->chat_id);
	sql_bind_text(st, 2, g->name, -1);
	sql_bind_text(st, 3, name_key, -1);
	sql_bind_text(st, 4, g->topic, -1);
	sql_bind_int64(st, 6, clock_now());
	sql_bind_int(st, 5, g->max_members);
	return db__insert_id(db, st, "group insert", &g->id);
}

int db_group_find(struct db *db, int64_t chat_id, const char *name_key, struct db_group *out)
{
	struct sql_stmt *st = db__stmt(db, "SELECT id, chat_id, name, topic, max_members, closed FROM groups "
	                                   "WHERE chat_id = ?1 AND name_key = ?2 AND closed = 0");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_text(st, 2, name_key, -1);
	return db_group__one(db, st, out);
}

int db_group_get(struct db *db, int64_t id, struct db_group *out)
{
	struct sql_stmt *st =
		db__stmt(db, "SELECT id, chat_id, name, topic, max_members, closed FROM groups WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	return db_group__one(db, st, out);
}

int db_group_close(struct db *db, int64_t id)
{
	struct sql_stmt *st = db__stmt(db, "UPDATE groups SET closed = 1 WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	return db__exec_stmt(db, st, "group close");
}

static int db_group__many(struct db *db, struct sql_stmt *st, struct db_group *out, int max, int *n)
{
	int rc;
	*n = 0;
	while((rc = sql_step(st)) == SQL_ROW && *n < max)
		db_group__read(st, &out[(*n)++]);
	if(rc == SQL_ROW) /* a row past max: the list grew meanwhile */
		rc = SQL_DONE;
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "groups");
		return -1;
	}
	return 0;
}

int db_group_list(struct db *db, int64_t chat_id, int offset, struct db_group *out, int max, int *n, int *total)
{
	struct sql_stmt *st = db__stmt(db, "SELECT count(*) FROM groups WHERE chat_id = ?1 AND closed = 0");
	*n = 0;
	if(!st || db__count(db, st, chat_id, total))
		return -1;
	if(max <= 0 || offset >= *total)
		return 0;
	st = db__stmt(db, "SELECT id, chat_id, name, topic, max_members, closed FROM groups "
	                  "WHERE chat_id = ?1 AND closed = 0 ORDER BY name_key LIMIT ?2 OFFSET ?3");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int(st, 2, max);
	sql_bind_int(st, 3, offset);
	return db_group__many(db, st, out, max, n);
}

int db_user_groups(struct db *db, int64_t user_id, int offset, struct db_group *out, int max, int *n, int *total)
{
	struct sql_stmt *st = db__stmt(db, "SELECT count(*) FROM groups g JOIN group_members m ON m.group_id = g.id "
	                                   "WHERE m.user_id = ?1 AND g.closed = 0");
	*n = 0;
	if(!st || db__count(db, st, user_id, total))
		return -1;
	if(max <= 0 || offset >= *total)
		return 0;
	st = db__stmt(db, "SELECT g.id, g.chat_id, g.name, g.topic, g.max_members, g.closed FROM groups g "
	                  "JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ?1 AND g.closed = 0 "
	                  "ORDER BY g.chat_id, g.name_key LIMIT ?2 OFFSET ?3");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, user_id);
	sql_bind_int(st, 2, max);
	sql_bind_int(st, 3, offset);
	return db_group__many(db, st, out, max, n);
}

int db_group_next_meetup(struct db *db, const struct db_group *g, time_t now, int *num)
{
	/* By the chat first: its meetups are found by index. */
	struct sql_stmt *st = db__stmt(db, "SELECT num FROM meetups WHERE chat_id = ?1 AND group_id = ?2 AND state = 1 "
	                                   "AND start_at + duration_min * 60 > ?3 ORDER BY start_at, num LIMIT 1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, g->chat_id);
	sql_bind_int64(st, 2, g->id);
	sql_bind_int64(st, 3, (int64_t)now);
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		*num = sql_column_int(st, 0);
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "group next meetup");
		return -1;
	}
	return rc == SQL_ROW;
}

int db_group_members(struct db *db, int64_t group_id, struct db_people *out)
{
	struct sql_stmt *st = db__stmt(db, "SELECT u.id, u.ext_id, u.name, m.contact, m.waiting FROM group_members m "
	                                   "JOIN users u ON u.id = m.user_id WHERE m.group_id = ?1 ORDER BY m.seq");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, group_id);
	return db__read_people(db, st, out, db_group__fill);
}

int db_group_member_set(struct db *db, int64_t group_id, int64_t user_id, bool contact, bool waiting)
{
	/* A member keeps their place in the order when promoted. */
	int64_t seq;
	if(db__next_seq(db, &seq))
		return -1;
	struct sql_stmt *st = db__stmt(
		db,
		"INSERT INTO group_members (group_id, user_id, contact, waiting, seq) VALUES (?1, ?2, ?3, ?4, ?5) "
		"ON CONFLICT (group_id, user_id) DO UPDATE SET contact = excluded.contact, waiting = excluded.waiting");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, group_id);
	sql_bind_int64(st, 2, user_id);
	sql_bind_int(st, 3, contact);
	sql_bind_int(st, 4, waiting);
	sql_bind_int64(st, 5, seq);
	return db__exec_stmt(db, st, "group member set");
}

int db_group_member_remove(struct db *db, int64_t group_id, int64_t user_id)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, group_id);
	sql_bind_int64(st, 2, user_id);
	return db__exec_stmt(db, st, "group member remove");
}

int db_user_find(struct db *db, const char *platform, const char *ext_id, int64_t *user_id, char *name, size_t namelen)
{
	struct sql_stmt *st = db__stmt(db, "SELECT id, name FROM users WHERE platform = ?1 AND ext_id = ?2");
	if(!st)
		return -1;
	sql_bind_text(st, 1, platform, -1);
	sql_bind_text(st, 2, ext_id, -1);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		*user_id = sql_column_int64(st, 0);
		if(name)
			db__copy_text(st, 1, name, namelen);
	}
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "user find");
		return -1;
	}
	return rc == SQL_ROW;
}

int db_user_name(struct db *db, int64_t user_id, char *name, size_t namelen)
{
	struct sql_stmt *st = db__stmt(db, "SELECT name FROM users WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, user_id);
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		db__copy_text(st, 0, name, namelen);
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "user name");
		return -1;
	}
	return rc == SQL_ROW;
}
