/* Commits run by a thread of the loop's pool (storage/db_async.c): what
 * they commit is there for every reader once done is called, the loop's
 * thread waits for them before it uses the database, a failed one rolls
 * back and leaves the database usable, and the outbox rows of recorded
 * deliveries are deleted the same way.  White-box where it must be: the
 * test reaches the connection (db_internal.h) only to make a COMMIT fail. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "lib/thread.h"
#include "storage/db.h"
#include "storage/db_internal.h"
#include "tests/unit/check.h"
#include "tests/unit/pg.h"

static int done_calls, done_rc, free_calls, done_before_free;

static void on_free(void *user)
{
	(void)user;
	free_calls++;
	done_before_free = done_calls;
}

static void on_done(void *user, int rc)
{
	(void)user;
	done_calls++;
	done_rc = rc;
}

/* A connection of the test's own, as another process would open: read
 * only on SQLite. */
static struct sql *other(const char *path)
{
	struct sql *c = NULL;
	struct strbuf err = STRBUF_INIT;
	if(pg_test_on() ? sql_pg_connect(&c, path, &err) : sql_sqlite_open(&c, path, SQLITE_OPEN_READONLY, &err))
		fprintf(stderr, "%s\n", err.buf);
	strbuf_release(&err);
	return c;
}

/* What another connection reads of key: 1 with value, 0 when absent, -1. */
static int peek(const char *path, const char *key, char *value, size_t len)
{
	struct sql *raw = other(path);
	struct sql_stmt *st = NULL;
	int found = -1;
	if(raw && sql_prepare(raw, "SELECT value FROM kv WHERE key = ?1", &st) == 0) {
		sql_bind_text(st, 1, key, -1);
		int rc = sql_step(st);
		found = rc == SQL_ROW ? 1 : rc == SQL_DONE ? 0 : -1;
		if(found == 1)
			snprintf(value, len, "%s", sql_column_text(st, 0));
	}
	sql_finalize(st);
	sql_close(raw);
	return found;
}

static int count_outbox(const char *path)
{
	struct sql *raw = other(path);
	struct sql_stmt *st = NULL;
	int n = -1;
	if(raw && sql_prepare(raw, "SELECT count(*) FROM outbox", &st) == 0 && sql_step(st) == SQL_ROW)
		n = sql_column_int(st, 0);
	sql_finalize(st);
	sql_close(raw);
	return n;
}

/* The nice value of a thread of the pool after thread_background(). */
static int pool_nice = -100;
static void nice_work(uv_work_t *w)
{
	(void)w;
	thread_background();
	pool_nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

/* Runs the loop until done was called (or a generous bound). */
static void until_done(uv_loop_t *loop)
{
	for(int i = 0; i < 1000 && !done_calls; i++)
		uv_run(loop, UV_RUN_ONCE);
}

int main(void)
{
	char dir[] = "/tmp/ensemble-test-dbasync-XXXXXX";
	char path[300];
	char value[64];
	if(!mkdtemp(dir))
		return 1;
	if(pg_test_target(path, sizeof(path), dir, "t.db"))
		return 1;
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	uv_loop_t loop;
	uv_loop_init(&loop);
	CHECK_INT(db_open(&db, path, &err), 0);

	/* No transaction, nothing to commit: refused, nothing started. */
	CHECK_INT(db_commit_start(db, &loop, on_done, NULL), -1);

	/* A commit on the thread: done comes from the loop, afterwards every
	 * reader sees what it committed.  Until then the database is busy;
	 * then the free function says it is not, after done. */
	db_set_free_fn(db, on_free, NULL);
	CHECK(!db_busy(db));
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "a", "1"), 0);
	CHECK_INT(db_commit_start(db, &loop, on_done, NULL), 0);
	CHECK(db_busy(db));
	CHECK(db_in_transaction(db));
	CHECK_INT(done_calls, 0);
	CHECK_INT(db_commit_start(db, &loop, on_done, NULL), -1); /* one at a time */
	until_done(&loop);
	CHECK_INT(done_calls, 1);
	CHECK_INT(done_rc, 0);
	CHECK(!db_busy(db));
	CHECK_INT(free_calls, 1);
	CHECK_INT(done_before_free, 1);
	CHECK(!db_in_transaction(db));
	CHECK_INT(peek(path, "a", value, sizeof(value)), 1);
	CHECK_STR(value, "1");

	/* The loop's thread uses the database while the commit may still
	 * run: it waits for it, and then finds the commit done. */
	done_calls = 0;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "b", "2"), 0);
	CHECK_INT(db_commit_start(db, &loop, on_done, NULL), 0);
	{
		struct strbuf v = STRBUF_INIT;
		CHECK_INT(db_kv_get(db, "b", &v), 1);
		CHECK_STR(v.buf, "2");
		strbuf_release(&v);
	}
	CHECK(!db_in_transaction(db));
	CHECK_INT(peek(path, "b", value, sizeof(value)), 1);
	CHECK_INT(done_calls, 0); /* still reported by the loop */
	/* A transaction of its own meanwhile is not disturbed. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "c", "3"), 0);
	CHECK_INT(db_commit(db), 0);
	until_done(&loop);
	CHECK_INT(done_calls, 1);
	CHECK_INT(done_rc, 0);
	CHECK_INT(peek(path, "c", value, sizeof(value)), 1);

	/* A COMMIT that fails (a foreign key checked only at the commit): done
	 * says so, nothing of it is stored, and the database goes on. */
	done_calls = 0;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "d", "4"), 0);
	if(pg_test_on())
		CHECK_INT(sql_exec(db->sql,
		                   "CREATE TEMP TABLE boom (x int); CREATE FUNCTION pg_temp.boom() RETURNS trigger "
		                   "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$; "
		                   "CREATE CONSTRAINT TRIGGER boom AFTER INSERT ON boom DEFERRABLE INITIALLY DEFERRED "
		                   "FOR EACH ROW EXECUTE FUNCTION pg_temp.boom(); INSERT INTO boom VALUES (1)",
		                   &err),
		          0);
	else
		CHECK_INT(sqlite3_exec(sql_sqlite_handle(db->sql),
		                       "PRAGMA defer_foreign_keys = ON; "
		                       "INSERT INTO members (chat_id, user_id, last_seen) VALUES (999, 999, 0)",
		                       NULL, NULL, NULL),
		          SQLITE_OK);
	CHECK_INT(db_commit_start(db, &loop, on_done, NULL), 0);
	until_done(&loop);
	CHECK_INT(done_calls, 1);
	CHECK_INT(done_rc, -1);
	CHECK(!db_in_transaction(db));
	CHECK_INT(peek(path, "d", value, sizeof(value)), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "e", "5"), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(peek(path, "e", value, sizeof(value)), 1);

	/* db_commit_wait takes the result: done is never called. */
	done_calls = 0;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "f", "6"), 0);
	CHECK_INT(db_commit_start(db, &loop, on_done, NULL), 0);
	CHECK_INT(db_commit_wait(db), 0);
	CHECK_INT(peek(path, "f", value, sizeof(value)), 1);
	CHECK_INT(db_commit_wait(db), 0); /* none left */
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(done_calls, 0);

	/* Delivered outbox rows are deleted by the thread, in a transaction of
	 * their own; deliveries recorded meanwhile stay for the next time. */
	int64_t ids[3];
	CHECK_INT(db_begin(db), 0);
	for(int i = 0; i < 3; i++)
		CHECK_INT(db_outbox_add(db, "{}", 0, &ids[i]), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_outbox_forget_start(db, &loop), -1); /* nothing delivered yet */
	db_outbox_done(db, ids[0], 1);
	db_outbox_done(db, ids[1], 1);
	CHECK_INT(db_outbox_forget_start(db, &loop), 0);
	CHECK_INT(db_outbox_forget_start(db, &loop), -1); /* one at a time */
	db_outbox_done(db, ids[2], 2);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(count_outbox(path), 1);
	CHECK(db_outbox_should_forget(db, INT64_MAX)); /* ids[2] still waits */
	CHECK_INT(db_outbox_forget_start(db, &loop), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(count_outbox(path), 0);
	CHECK(!db_outbox_should_forget(db, INT64_MAX));

	/* Closing the database with a commit not yet reported: it is waited
	 * for, and its end no longer touches the closed database. */
	done_calls = 0;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "g", "7"), 0);
	CHECK_INT(db_commit_start(db, &loop, on_done, NULL), 0);
	db_close(db);
	CHECK_INT(peek(path, "g", value, sizeof(value)), 1);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(done_calls, 0);

	/* Work on the pool runs below the loop's thread, which keeps its
	 * own priority. */
	int before = getpriority(PRIO_PROCESS, 0);
	uv_work_t w;
	CHECK_INT(uv_queue_work(&loop, &w, nice_work, NULL), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(pool_nice, before + THREAD_NICE > 19 ? 19 : before + THREAD_NICE);
	CHECK_INT(getpriority(PRIO_PROCESS, 0), before);

	CHECK_INT(uv_loop_close(&loop), 0);
	strbuf_release(&err);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if(system(path))
		return 1;
	return check_done();
}
