/*
 * db_seen: the ids of platform events already handled.  Matrix may send an
 * event twice (a replayed sync after a crash, or a server that repeats
 * one); the adapter marks each id in the batch's transaction and skips the
 * ids it finds marked.  Marks older than a few days are pruned: by then no
 * sync can replay them.  The kv table's delete and prefix walk live here
 * too.
 */
#include "storage/db_internal.h"

int db_kv_delete(struct db *db, const char *key)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM kv WHERE key = ?1");
	if(!st)
		return -1;
	sql_bind_text(st, 1, key, -1);
	return db__exec_stmt(db, st, "kv delete");
}

int db_kv_put(struct db *db, const char *key, const char *value)
{
	return db_kv_put_about(db, key, value, NULL, NULL);
}

int db_kv_put_about(struct db *db, const char *key, const char *value, const char *chat, const char *person)
{
	if(db_begin(db))
		return -1;
	if((value ? db_kv_set_about(db, key, value, chat, person) : db_kv_delete(db, key)) || db_commit(db)) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

int db_kv_each(struct db *db, const char *prefix, int (*fn)(void *user, const char *key, const char *value), void *user)
{
	struct sql_stmt *st =
		db__stmt(db, "SELECT key, value FROM kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key");
	if(!st)
		return -1;
	sql_bind_text(st, 1, prefix, -1);
	int rc;
	while((rc = sql_step(st)) == SQL_ROW) {
		if(fn(user, db__text(st, 0), db__text(st, 1))) {
			sql_reset(st);
			return -1;
		}
	}
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "kv each");
		return -1;
	}
	return 0;
}

int db_seen_check(struct db *db, const char *platform, const char *ext_id)
{
	struct sql_stmt *st = db__stmt(db, "SELECT 1 FROM seen_events WHERE platform = ?1 AND ext_id = ?2");
	if(!st)
		return -1;
	sql_bind_text(st, 1, platform, -1);
	sql_bind_text(st, 2, ext_id, -1);
	int rc = sql_step(st);
	sql_reset(st);
	if(rc == SQL_ROW)
		return 1;
	if(rc == SQL_DONE)
		return 0;
	db__log_error(db, "seen check");
	return -1;
}

int db_seen_mark(struct db *db, const char *platform, const char *ext_id, int64_t at_ms)
{
	struct sql_stmt *st = db__stmt(db, "INSERT INTO seen_events (platform, ext_id, at_ms) VALUES (?1, ?2, ?3) "
	                                   "ON CONFLICT DO NOTHING");
	if(!st)
		return -1;
	sql_bind_text(st, 1, platform, -1);
	sql_bind_text(st, 2, ext_id, -1);
	sql_bind_int64(st, 3, at_ms);
	return db__exec_stmt(db, st, "seen mark");
}

int db_seen_prune(struct db *db, int64_t before_ms)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM seen_events WHERE at_ms < ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, before_ms);
	return db__exec_stmt(db, st, "seen prune");
}
