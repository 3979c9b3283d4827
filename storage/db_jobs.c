#include "storage/db_internal.h"

#include "lib/log.h"

#define LOG_MODULE "db"

int db_job_add(struct db *db, int64_t due_ms, int kind, int64_t meetup_id, int64_t arg)
{
	struct sql_stmt *st = db__stmt(db, "INSERT INTO jobs (due_ms, kind, meetup_id, arg) VALUES (?1, ?2, ?3, ?4)");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, due_ms);
	sql_bind_int(st, 2, kind);
	if(meetup_id)
		sql_bind_int64(st, 3, meetup_id);
	else
		sql_bind_null(st, 3);
	sql_bind_int64(st, 4, arg);
	return db__exec_stmt(db, st, "job add");
}

int db_job_next_due(struct db *db, int64_t *due_ms)
{
	/* Answered from the partial index jobs_pending: one seek. */
	struct sql_stmt *st = db__stmt(db, "SELECT due_ms FROM jobs WHERE state = 0 ORDER BY due_ms, id LIMIT 1");
	if(!st)
		return -1;
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		*due_ms = sql_column_int64(st, 0);
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "next job");
		return -1;
	}
	return rc == SQL_ROW;
}

int db_job_take(struct db *db, int64_t now_ms, struct db_job *out)
{
	struct sql_stmt *st = db__stmt(db, "SELECT id, due_ms, kind, coalesce(meetup_id, 0), arg FROM jobs "
	                                   "WHERE state = 0 AND due_ms <= ?1 ORDER BY due_ms, id LIMIT 1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, now_ms);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		out->id = sql_column_int64(st, 0);
		out->due_ms = sql_column_int64(st, 1);
		out->kind = sql_column_int(st, 2);
		out->meetup_id = sql_column_int64(st, 3);
		out->arg = sql_column_int64(st, 4);
	}
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "take job");
		return -1;
	}
	return rc == SQL_ROW;
}

int db_job_done(struct db *db, int64_t id)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM jobs WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	return db__exec_stmt(db, st, "job done");
}

int db_job_postpone(struct db *db, int64_t id, int64_t due_ms)
{
	struct sql_stmt *st = db__stmt(db, "UPDATE jobs SET due_ms = ?2 WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	sql_bind_int64(st, 2, due_ms);
	return db__exec_stmt(db, st, "job postpone");
}

int db_jobs_cancel(struct db *db, int64_t meetup_id, int kind)
{
	struct sql_stmt *st =
		db__stmt(db, "DELETE FROM jobs WHERE meetup_id = ?1 AND state = 0 AND (?2 < 0 OR kind = ?2)");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int(st, 2, kind);
	return db__exec_stmt(db, st, "jobs cancel");
}

int db_dialog_get(struct db *db, int64_t chat_id, int64_t user_id, int *step, struct strbuf *data, int64_t *updated_ms)
{
	struct sql_stmt *st =
		db__stmt(db, "SELECT step, data, updated_ms FROM dialogs WHERE chat_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		*step = sql_column_int(st, 0);
		strbuf_adds(data, db__text(st, 1));
		*updated_ms = sql_column_int64(st, 2);
	}
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "dialog get");
		return -1;
	}
	return rc == SQL_ROW;
}

int db_dialog_set(struct db *db, int64_t chat_id, int64_t user_id, int step, const char *data, int64_t now_ms)
{
	struct sql_stmt *st = db__stmt(
		db, "INSERT INTO dialogs (chat_id, user_id, step, data, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
		    "ON CONFLICT (chat_id, user_id) DO UPDATE SET step = excluded.step, data = excluded.data, "
		    "updated_ms = excluded.updated_ms");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	sql_bind_int(st, 3, step);
	sql_bind_text(st, 4, data, -1);
	sql_bind_int64(st, 5, now_ms);
	return db__exec_stmt(db, st, "dialog set");
}

int db_dialog_clear(struct db *db, int64_t chat_id, int64_t user_id)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM dialogs WHERE chat_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	return db__exec_stmt(db, st, "dialog clear");
}

int db_jobs_due_count(struct db *db, int64_t meetup_id, int kind, int64_t now_ms)
{
	struct sql_stmt *st = db__stmt(
		db, "SELECT count(*) FROM jobs WHERE meetup_id = ?1 AND kind = ?2 AND state = 0 AND due_ms <= ?3");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int(st, 2, kind);
	sql_bind_int64(st, 3, now_ms);
	int rc = sql_step(st);
	int n = rc == SQL_ROW ? sql_column_int(st, 0) : -1;
	sql_reset(st);
	if(n < 0)
		db__log_error(db, "jobs count");
	return n;
}
