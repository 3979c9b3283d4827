/*
 * db_seen: the ids of platform events already handled.  Matrix may send an
 * event twice (a replayed sync after a crash, or a server that repeats
 * one); the adapter marks each id in the batch's transaction and skips the
 * ids it finds marked.  Marks older than a few days are pruned: by then no
 * sync can replay them.  The kv table's delete and prefix walk live here
 * too.
 */
#include "storage/db_internal.h"

#include <string.h>

int db_kv_delete(struct db *db, const char *key)
{
	if(db->journaling)
		return db__kv_journal(db, key, NULL, NULL, NULL);
	struct sql_stmt *st = db__stmt(db, "DELETE FROM kv WHERE key = ?1");
	if(!st)
		return -1;
	sql_bind_text(st, 1, key, -1);
	int rc = db__exec_stmt(db, st, "kv delete");
	db__shown_wrote(db, key, NULL, rc);
	return rc;
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

/* The ids as one JSON array, into out: the statements below take a sync's
 * ids in one parameter (a statement per id was two SQLite steps, or two
 * PostgreSQL round trips, an event).  NULL ids are left out.  0, or -1
 * when out of memory or an id is not UTF-8. */
static int db_seen__json(struct strbuf *out, const char *const *ids, size_t n)
{
	strbuf_addc(out, '[');
	bool first = true;
	for(size_t i = 0; i < n; i++) {
		if(!ids[i])
			continue;
		if(!first)
			strbuf_addc(out, ',');
		first = false;
		if(strbuf_add_json(out, ids[i]))
			return -1;
	}
	strbuf_addc(out, ']');
	return out->oom ? -1 : 0;
}

int db_seen_which(struct db *db, const char *platform, const char *const *ids, size_t n, bool *seen)
{
	static const char lite[] = "SELECT j.value FROM json_each(?2) AS j WHERE EXISTS "
				   "(SELECT 1 FROM seen_events s WHERE s.platform = ?1 AND s.ext_id = j.value)";
	static const char pg[] = "SELECT j.v FROM json_array_elements_text(CAST(?2 AS json)) AS j(v) WHERE EXISTS "
				 "(SELECT 1 FROM seen_events s WHERE s.platform = ?1 AND s.ext_id = j.v)";
	struct strbuf json = STRBUF_INIT;
	int rc = -1;
	memset(seen, 0, n * sizeof(*seen));
	struct sql_stmt *st = db__stmt(db, db__on_pg(db) ? pg : lite);
	if(!st || db_seen__json(&json, ids, n))
		goto out;
	sql_bind_text(st, 1, platform, -1);
	sql_bind_text(st, 2, json.buf, (int)json.len);
	int step;
	/* The marked ids come back, and each is matched to its events (the
	 * same id twice in a sync is seen twice). */
	while((step = sql_step(st)) == SQL_ROW) {
		const char *id = db__text(st, 0);
		for(size_t i = 0; i < n; i++)
			if(ids[i] && !strcmp(ids[i], id))
				seen[i] = true;
	}
	sql_reset(st);
	if(step != SQL_DONE) {
		db__log_error(db, "seen check");
		goto out;
	}
	rc = 0;
out:
	strbuf_release(&json);
	return rc;
}

int db_seen_mark_all(struct db *db, const char *platform, const char *const *ids, size_t n, int64_t at_ms)
{
	static const char lite[] = "INSERT INTO seen_events (platform, ext_id, at_ms) "
				   "SELECT ?1, value, ?3 FROM json_each(?2) WHERE true ON CONFLICT DO NOTHING";
	static const char pg[] = "INSERT INTO seen_events (platform, ext_id, at_ms) "
				 "SELECT ?1, v, ?3 FROM json_array_elements_text(CAST(?2 AS json)) AS j(v) "
				 "ON CONFLICT DO NOTHING";
	struct strbuf json = STRBUF_INIT;
	int rc = -1;
	struct sql_stmt *st = db__stmt(db, db__on_pg(db) ? pg : lite);
	if(!st || db_seen__json(&json, ids, n))
		goto out;
	sql_bind_text(st, 1, platform, -1);
	sql_bind_text(st, 2, json.buf, (int)json.len);
	sql_bind_int64(st, 3, at_ms);
	rc = db__exec_stmt(db, st, "seen mark");
out:
	strbuf_release(&json);
	return rc;
}

int db_seen_prune(struct db *db, int64_t before_ms)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM seen_events WHERE at_ms < ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, before_ms);
	return db__exec_stmt(db, st, "seen prune");
}
