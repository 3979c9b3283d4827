/*
 * The PostgreSQL engine (storage/sql_pg.c) against a throwaway cluster:
 * SQLite's dialect translated, every type bound and read back, rows and
 * their end, writes sent ahead in a transaction (the pipeline) and their
 * failures, a lost session and the statements prepared again on the new
 * one, a transaction lost with it, the reconnect hook, and the sentences
 * for a bad target.  Registered under label pg (ENSEMBLE_TEST_PG set by
 * the fixture).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lib/strbuf.h"
#include "pg.h"
#include "storage/sql.h"

static char target[512], dbname[64];

static struct sql *connect_or_die(const char *t)
{
	struct sql *c = NULL;
	struct strbuf err = STRBUF_INIT;
	if(sql_pg_connect(&c, t, &err) < 0) {
		fprintf(stderr, "cannot connect: %s\n", err.buf);
		exit(1);
	}
	strbuf_release(&err);
	return c;
}

static void run(struct sql *c, const char *text)
{
	struct strbuf err = STRBUF_INIT;
	if(sql_exec(c, text, &err) < 0)
		fprintf(stderr, "%s: %s\n", text, err.buf);
	CHECK_STR(err.buf, "");
	strbuf_release(&err);
}

static int64_t one_int(struct sql *c, const char *text)
{
	struct sql_stmt *st = NULL;
	int64_t v = -1;
	if(sql_prepare(c, text, &st) == 0 && sql_step(st) == SQL_ROW)
		v = sql_column_int64(st, 0);
	sql_finalize(st);
	return v;
}

/* Ends the session whose server process is pid, from another one. */
static void terminate(int64_t pid)
{
	struct sql *admin = connect_or_die(pg_test_cluster());
	struct sql_stmt *st = NULL;
	CHECK_INT(sql_prepare(admin, "SELECT pg_terminate_backend(CAST(?1 AS integer))", &st), 0);
	sql_bind_int64(st, 1, pid);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 1);
	sql_finalize(st);
	sql_close(admin);
}

static void test_translation(struct sql *c)
{
	struct sql_stmt *st = NULL;
	/* Numbered parameters out of order, and question marks in a
	 * literal, a quoted name and a comment, which stay. */
	CHECK_INT(sql_prepare(c, "SELECT ?2 AS \"a?\", ?1 AS b, '?''?' AS c -- ?3\n", &st), 0);
	CHECK_INT(sql_bind_int64(st, 1, 5), 0);
	CHECK_INT(sql_bind_text(st, 2, "two", -1), 0);
	CHECK_INT(sql_bind_int64(st, 3, 1), -1);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_STR(sql_column_text(st, 0), "two");
	CHECK_INT(sql_column_int64(st, 1), 5);
	CHECK_STR(sql_column_text(st, 2), "?'?");
	CHECK_INT(sql_step(st), SQL_DONE);
	sql_finalize(st);
	/* A bare ? takes the number after the highest so far. */
	CHECK_INT(sql_prepare(c, "SELECT ? + 0, ?5 + 0, ? + 0", &st), 0);
	for(int i = 1; i <= 6; i++)
		CHECK_INT(sql_bind_int64(st, i, i * 10), 0);
	CHECK_INT(sql_bind_int64(st, 7, 1), -1);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 10);
	CHECK_INT(sql_column_int64(st, 1), 50);
	CHECK_INT(sql_column_int64(st, 2), 60);
	sql_finalize(st);
	/* SQLite's transaction modes. */
	run(c, "BEGIN IMMEDIATE");
	CHECK(sql_in_transaction(c));
	run(c, "COMMIT");
	CHECK(!sql_in_transaction(c));
	CHECK_INT(sql_prepare(c, "begin deferred", &st), 0);
	CHECK_INT(sql_step(st), SQL_DONE);
	CHECK(sql_in_transaction(c));
	sql_finalize(st);
	run(c, "ROLLBACK");
	CHECK(!sql_in_transaction(c));
	/* INSERT OR IGNORE, with and without RETURNING. */
	run(c, "CREATE TABLE t (id bigint PRIMARY KEY, v text)");
	CHECK_INT(sql_prepare(c, "INSERT OR IGNORE INTO t (id, v) VALUES (?1, ?2);", &st), 0);
	sql_bind_int64(st, 1, 1);
	sql_bind_text(st, 2, "one", -1);
	CHECK_INT(sql_step(st), SQL_DONE);
	CHECK_INT(sql_changes(c), 1);
	sql_reset(st);
	CHECK_INT(sql_step(st), SQL_DONE);
	CHECK_INT(sql_changes(c), 0);
	sql_finalize(st);
	CHECK_INT(sql_prepare(c, "INSERT OR IGNORE INTO t (id, v) VALUES (?1, 'x') RETURNING id", &st), 0);
	sql_bind_int64(st, 1, 2);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 2);
	CHECK_INT(sql_step(st), SQL_DONE);
	CHECK_INT(sql_step(st), SQL_DONE); /* a second run: the row is there */
	sql_finalize(st);
	CHECK_INT(one_int(c, "SELECT count(*) FROM t"), 2);
}

static void test_types(struct sql *c)
{
	static const unsigned char blob[] = { 0, 1, 0xff, '\\', 'x', 0 };
	struct sql_stmt *st = NULL;
	run(c, "CREATE TABLE types (i bigint, s text, b bytea, n text)");
	CHECK_INT(sql_prepare(c, "INSERT INTO types VALUES (?1, ?2, ?3, ?4)", &st), 0);
	sql_bind_int64(st, 1, INT64_MIN);
	sql_bind_text(st, 2, "hello world", 5);
	sql_bind_blob(st, 3, blob, sizeof(blob));
	sql_bind_null(st, 4);
	CHECK_INT(sql_step(st), SQL_DONE);
	sql_reset(st);
	/* The bindings stay after a reset; those not bound again too. */
	sql_bind_int64(st, 1, INT64_MAX);
	sql_bind_blob(st, 3, blob, 0);
	sql_bind_text(st, 4, "été", -1);
	CHECK_INT(sql_step(st), SQL_DONE);
	sql_reset(st);
	sql_clear(st);
	CHECK_INT(sql_step(st), SQL_DONE);
	sql_finalize(st);
	CHECK_INT(sql_prepare(c, "SELECT i, s, b, n FROM types ORDER BY i NULLS LAST", &st), 0);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), INT64_MIN);
	CHECK_STR(sql_column_text(st, 1), "hello");
	CHECK_INT(sql_column_bytes(st, 2), sizeof(blob));
	CHECK(sql_column_blob(st, 2) && !memcmp(sql_column_blob(st, 2), blob, sizeof(blob)));
	CHECK(sql_column_null(st, 3));
	CHECK_STR(sql_column_text(st, 3), "");
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), INT64_MAX);
	CHECK_INT(sql_column_bytes(st, 2), 0);
	CHECK(!sql_column_null(st, 2));
	CHECK_STR(sql_column_text(st, 3), "été");
	CHECK_INT(sql_column_bytes(st, 3), strlen("été"));
	CHECK_INT(sql_step(st), SQL_ROW); /* every column NULL */
	CHECK(sql_column_null(st, 0));
	CHECK_INT(sql_column_int64(st, 0), 0);
	CHECK(sql_column_blob(st, 2) == NULL);
	CHECK_INT(sql_column_bytes(st, 2), 0);
	CHECK_INT(sql_step(st), SQL_DONE);
	sql_finalize(st);
	/* Booleans read as SQLite's 1 and 0. */
	CHECK_INT(one_int(c, "SELECT 1 = 1"), 1);
	CHECK_INT(one_int(c, "SELECT 1 = 2"), 0);
}

static void test_rows(struct sql *c)
{
	struct sql_stmt *st = NULL, *other = NULL;
	CHECK_INT(sql_prepare(c, "SELECT n FROM generate_series(1, ?1) AS n", &st), 0);
	CHECK_INT(sql_prepare(c, "SELECT ?1 * 2", &other), 0);
	sql_bind_int64(st, 1, 3);
	for(int i = 1; i <= 3; i++) {
		CHECK_INT(sql_step(st), SQL_ROW);
		CHECK_INT(sql_column_int64(st, 0), i);
		/* Another statement between two rows, as SQLite allows. */
		sql_bind_int64(other, 1, i);
		CHECK_INT(sql_step(other), SQL_ROW);
		CHECK_INT(sql_column_int64(other, 0), 2 * i);
		sql_reset(other);
	}
	CHECK_INT(sql_step(st), SQL_DONE);
	/* A step after the end runs the statement again, as SQLite does. */
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 1);
	sql_reset(st);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 1);
	sql_finalize(st);
	sql_finalize(other);
	/* changes and RETURNING. */
	run(c, "CREATE TABLE r (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v bigint)");
	CHECK_INT(sql_prepare(c, "INSERT INTO r (v) VALUES (?1) RETURNING id", &st), 0);
	for(int i = 1; i <= 3; i++) {
		sql_bind_int64(st, 1, i);
		CHECK_INT(sql_step(st), SQL_ROW);
		CHECK_INT(sql_column_int64(st, 0), i);
		sql_reset(st);
	}
	sql_finalize(st);
	CHECK_INT(sql_prepare(c, "UPDATE r SET v = v + 1 WHERE v >= ?1", &st), 0);
	sql_bind_int64(st, 1, 2);
	CHECK_INT(sql_step(st), SQL_DONE);
	CHECK_INT(sql_changes(c), 2);
	sql_finalize(st);
	CHECK_INT(one_int(c, "SELECT count(*) FROM r"), 3);
	CHECK_INT(sql_changes(c), 2); /* a SELECT changes nothing */
}

static void test_errors(struct sql *c)
{
	struct sql_stmt *st = NULL;
	struct strbuf err = STRBUF_INIT;
	CHECK_INT(sql_prepare(c, "INSERT INTO t (id, v) VALUES (?1, 'again')", &st), 0);
	sql_bind_int64(st, 1, 1);
	CHECK_INT(sql_step(st), 19); /* SQLITE_CONSTRAINT */
	CHECK(strstr(sql_errmsg(c), "duplicate key value violates unique constraint \"t_pkey\"") != NULL);
	sql_finalize(st);
	CHECK_INT(sql_prepare(c, "SELEKT 1", &st), 0);
	CHECK_INT(sql_step(st), 1);
	CHECK(strstr(sql_errmsg(c), "syntax error at or near \"SELEKT\"") != NULL);
	sql_finalize(st);
	CHECK_INT(sql_exec(c, "SELECT * FROM nowhere", &err), -1);
	CHECK(strstr(err.buf, "relation \"nowhere\" does not exist") != NULL);
	/* A transaction in which a statement failed commits nothing, and
	 * says so (the server answers its COMMIT "ROLLBACK", no error). */
	struct sql_stmt *commit = NULL;
	CHECK_INT(sql_prepare(c, "COMMIT", &commit), 0);
	for(int way = 0; way < 2; way++) {
		run(c, "BEGIN IMMEDIATE");
		run(c, "INSERT INTO t (id, v) VALUES (100, 'kept?')");
		CHECK(sql_exec(c, "INSERT INTO t (id, v) VALUES (1, 'again')", &err) < 0);
		strbuf_reset(&err);
		if(way == 0)
			CHECK(sql_step(commit) != SQL_DONE);
		else
			CHECK_INT(sql_exec(c, "COMMIT", &err), -1);
		CHECK(strstr(sql_errmsg(c), "rolled back, nothing of it committed") != NULL);
		sql_reset(commit);
		strbuf_reset(&err);
		CHECK(!sql_in_transaction(c));
		CHECK_INT(one_int(c, "SELECT count(*) FROM t WHERE id = 100"), 0);
	}
	sql_finalize(commit);
	strbuf_release(&err);
}

static void step_write(struct sql_stmt *st, int64_t id, const char *v)
{
	sql_bind_int64(st, 1, id);
	sql_bind_text(st, 2, v, -1);
	CHECK_INT(sql_step(st), SQL_DONE);
	sql_reset(st);
}

/* Writes inside a transaction are sent without waiting for their answers
 * (the pipeline of sql_pg.c): what they do, and how they fail, shows as
 * if each had been waited for, at the latest at the COMMIT. */
static void test_pipeline(struct sql *c)
{
	struct sql_stmt *ins = NULL, *upd = NULL, *get = NULL, *commit = NULL;
	CHECK_INT(sql_prepare(c, "INSERT INTO t (id, v) VALUES (?1, ?2)", &ins), 0);
	CHECK_INT(sql_prepare(c, "UPDATE t SET v = ?2 WHERE id >= ?1", &upd), 0);
	CHECK_INT(sql_prepare(c, "SELECT count(*), min(v), max(v) FROM t WHERE id >= 200", &get), 0);
	CHECK_INT(sql_prepare(c, "COMMIT", &commit), 0);

	/* changes() and a read after writes pending see every one of them. */
	run(c, "BEGIN IMMEDIATE");
	for(int i = 0; i < 3; i++)
		step_write(ins, 200 + i, "p");
	step_write(upd, 201, "q");
	CHECK_INT(sql_changes(c), 2);
	step_write(ins, 203, "r");
	step_write(upd, 203, "s");
	CHECK_INT(sql_step(get), SQL_ROW);
	CHECK_INT(sql_column_int64(get, 0), 4);
	CHECK_STR(sql_column_text(get, 1), "p");
	CHECK_STR(sql_column_text(get, 2), "s");
	sql_reset(get);
	CHECK_INT(sql_changes(c), 1);
	step_write(upd, 200, "t");
	CHECK_INT(sql_step(commit), SQL_DONE);
	sql_reset(commit);
	CHECK(!sql_in_transaction(c));
	CHECK_INT(one_int(c, "SELECT count(*) FROM t WHERE id >= 200 AND v = 't'"), 4);

	/* A write that fails among others: the COMMIT fails with its error,
	 * and nothing of the transaction is kept. */
	run(c, "BEGIN IMMEDIATE");
	step_write(ins, 300, "kept?");
	sql_bind_int64(ins, 1, 1); /* t has a row 1 */
	sql_step(ins);
	sql_reset(ins);
	step_write(upd, 300, "after");
	CHECK_INT(sql_step(commit), 19); /* SQLITE_CONSTRAINT */
	CHECK(strstr(sql_errmsg(c), "duplicate key value violates unique constraint \"t_pkey\"") != NULL);
	sql_reset(commit);
	CHECK(sql_in_transaction(c));
	run(c, "ROLLBACK");
	CHECK(!sql_in_transaction(c));
	CHECK_INT(one_int(c, "SELECT count(*) FROM t WHERE id >= 300"), 0);

	/* Found by changes(): the next statement reports it, once; the
	 * COMMIT still commits nothing. */
	run(c, "BEGIN IMMEDIATE");
	step_write(ins, 301, "kept?");
	sql_bind_int64(ins, 1, 1);
	sql_step(ins);
	sql_reset(ins);
	sql_changes(c);
	CHECK_INT(sql_step(get), 19);
	CHECK(strstr(sql_errmsg(c), "duplicate key value") != NULL);
	sql_reset(get);
	CHECK(sql_step(commit) != SQL_DONE);
	sql_reset(commit);
	CHECK(!sql_in_transaction(c));
	CHECK_INT(one_int(c, "SELECT count(*) FROM t WHERE id >= 300"), 0);

	/* Outside a transaction a write is waited for: it fails at once. */
	sql_bind_int64(ins, 1, 1);
	CHECK_INT(sql_step(ins), 19);
	sql_reset(ins);
	run(c, "DELETE FROM t WHERE id >= 200");
	sql_finalize(ins);
	sql_finalize(upd);
	sql_finalize(get);
	sql_finalize(commit);
}

static int hook_calls, hook_answer;
static int64_t hook_pid;

static int hook(struct sql *c, void *user)
{
	CHECK(user == &hook_calls);
	hook_calls++;
	/* The hook may run statements on the new session. */
	hook_pid = one_int(c, "SELECT pg_backend_pid()");
	return hook_answer;
}

static void test_reconnect(struct sql *c)
{
	struct sql_stmt *st = NULL;
	sql_pg_set_reconnect_hook(c, hook, &hook_calls);
	CHECK_INT(sql_prepare(c, "SELECT v FROM t WHERE id = ?1", &st), 0);
	sql_bind_int64(st, 1, 1);
	CHECK_INT(sql_step(st), SQL_ROW);
	sql_reset(st);
	int64_t pid = one_int(c, "SELECT pg_backend_pid()");
	terminate(pid);
	/* The call that finds the session ended fails; the next runs on a
	 * new one, the hook first, the statement prepared again there. */
	CHECK(sql_step(st) != SQL_ROW);
	sql_reset(st);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_STR(sql_column_text(st, 0), "one");
	sql_reset(st);
	CHECK_INT(hook_calls, 1);
	CHECK(hook_pid > 0 && hook_pid != pid);
	CHECK_INT(one_int(c, "SELECT pg_backend_pid()"), hook_pid);

	/* A transaction open when the session ends is lost: its calls fail
	 * until the owner rolls back, and nothing of it was kept.  A write
	 * is sent without waiting for its answer (the pipeline): the end of
	 * the session shows at the latest at the next statement that waits,
	 * here the COMMIT. */
	struct sql_stmt *ins = NULL, *commit = NULL;
	CHECK_INT(sql_prepare(c, "INSERT INTO t (id, v) VALUES (?1, 'lost')", &ins), 0);
	CHECK_INT(sql_prepare(c, "COMMIT", &commit), 0);
	run(c, "BEGIN IMMEDIATE");
	sql_bind_int64(ins, 1, 10);
	CHECK_INT(sql_step(ins), SQL_DONE);
	sql_reset(ins);
	terminate(hook_pid);
	sql_bind_int64(ins, 1, 11);
	sql_step(ins);
	sql_reset(ins);
	CHECK(sql_step(commit) != SQL_DONE);
	sql_reset(commit);
	sql_finalize(commit);
	CHECK(sql_step(ins) != SQL_DONE);
	CHECK(strstr(sql_errmsg(c), "transaction was lost") != NULL);
	sql_reset(ins);
	CHECK(sql_in_transaction(c));
	run(c, "ROLLBACK");
	CHECK(!sql_in_transaction(c));
	CHECK_INT(one_int(c, "SELECT count(*) FROM t WHERE v = 'lost'"), 0);
	CHECK_INT(hook_calls, 2);

	/* A hook that refuses the new session: every statement fails. */
	hook_answer = -1;
	terminate(hook_pid);
	CHECK(sql_step(st) != SQL_ROW);
	sql_reset(st);
	CHECK(sql_step(st) != SQL_ROW);
	sql_reset(st);
	CHECK_INT(hook_calls, 3);
	CHECK(sql_step(st) != SQL_ROW);
	CHECK(strstr(sql_errmsg(c), "refused") != NULL);
	sql_reset(st);
	CHECK_INT(hook_calls, 3);
	sql_finalize(st);
	sql_finalize(ins);
}

/* A database that is gone when the session ends: the reconnection fails,
 * later calls fail at once until the backoff has passed, and the
 * connection comes back when the database does. */
static void test_backoff(void)
{
	char t[512], name[64], sql[128];
	CHECK_INT(pg_test_fresh(t, sizeof(t), name, sizeof(name)), 0);
	struct sql *c = connect_or_die(t), *admin = connect_or_die(pg_test_cluster());
	struct sql_stmt *st = NULL;
	CHECK_INT(sql_prepare(c, "SELECT ?1 + 1", &st), 0);
	sql_bind_int64(st, 1, 41);
	terminate(one_int(c, "SELECT pg_backend_pid()"));
	snprintf(sql, sizeof(sql), "DROP DATABASE %s", name);
	run(admin, sql);
	CHECK(sql_step(st) != SQL_ROW); /* finds the session ended */
	sql_reset(st);
	CHECK(sql_step(st) != SQL_ROW); /* tries, and fails */
	CHECK(strstr(sql_errmsg(c), "PostgreSQL has no database") != NULL);
	sql_reset(st);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	run(admin, sql);
	CHECK(sql_step(st) != SQL_ROW); /* too soon: no try */
	CHECK(strstr(sql_errmsg(c), "retrying in") != NULL);
	sql_reset(st);
	usleep(300 * 1000);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 42);
	sql_finalize(st);
	sql_close(c);
	sql_close(admin);
}

static void bad_target(const char *t, const char *want)
{
	struct sql *c = NULL;
	struct strbuf err = STRBUF_INIT;
	CHECK_INT(sql_pg_connect(&c, t, &err), -1);
	CHECK(c == NULL);
	if(!strstr(err.buf, want))
		fprintf(stderr, "for %s\n  got:  %s\n  want: ...%s...\n", t, err.buf, want);
	CHECK(strstr(err.buf, want) != NULL);
	CHECK(strstr(err.buf, "s3cret") == NULL);
	strbuf_release(&err);
}

static void test_bad_targets(void)
{
	char t[600];
	bad_target("postgresql://ensemble:s3cret@[::1/x", "is neither a postgresql:// URL nor a libpq key/value");
	bad_target("host=/tmp password=s3cret dbname", "is neither a postgresql:// URL nor a libpq key/value");
	bad_target("host=/nonexistent/ensemble password=s3cret dbname=x",
	           "cannot connect to PostgreSQL for database \"x\" on the socket in /nonexistent/ensemble");
	/* Over TCP too (the keepalive options are libpq's: it takes them). */
	bad_target("postgresql://ensemble:s3cret@127.0.0.1:1/x",
	           "cannot connect to PostgreSQL for database \"x\" at 127.0.0.1:1 (is the server running there?)");
	snprintf(t, sizeof(t), "%s user=nobody password=s3cret", pg_test_cluster());
	bad_target(t, "PostgreSQL refused user \"nobody\" on database \"ensemble\" on the socket in");
	snprintf(t, sizeof(t), "%s dbname=nothing_here", pg_test_cluster());
	bad_target(t, "PostgreSQL has no database \"nothing_here\"");

	CHECK(sql_is_postgres("postgresql://ensemble@db.example/ensemble"));
	CHECK(sql_is_postgres("postgres://db.example/ensemble"));
	CHECK(sql_is_postgres("host=/run/postgresql dbname=ensemble"));
	CHECK(sql_is_postgres("dbname = ensemble"));
	CHECK(!sql_is_postgres("ensemble.db"));
	CHECK(!sql_is_postgres("/var/lib/ensemble/ensemble.db"));
	CHECK(!sql_is_postgres("weird=name.db"));
	CHECK(!sql_is_postgres(":memory:"));
}

/* The text of the first column of the first row of q, into out. */
static void first_text(struct sql *c, const char *q, char *out, size_t len)
{
	struct sql_stmt *st = NULL;
	*out = '\0';
	if(sql_prepare(c, q, &st) == 0 && sql_step(st) == SQL_ROW)
		snprintf(out, len, "%s", sql_column_text(st, 0));
	sql_finalize(st);
}

/* A role that must give its password (scram-sha-256, a rule put first in
 * the cluster's pg_hba.conf for it alone): without one, or with a wrong
 * one, a clear refusal that never shows it; ENSEMBLE_DB_PASSWORD gives
 * it when the target has none. */
static void test_password(void)
{
	struct sql *admin = connect_or_die(pg_test_cluster()), *c = NULL;
	struct strbuf err = STRBUF_INIT;
	char hba[512], t[600], *old = NULL;
	size_t n = 0;
	run(admin, "DROP ROLE IF EXISTS pwuser");
	run(admin, "CREATE ROLE pwuser LOGIN PASSWORD 'pw-s3cret'");
	first_text(admin, "SHOW hba_file", hba, sizeof(hba));
	FILE *f = fopen(hba, "r");
	CHECK(f != NULL);
	if(!f)
		return;
	old = calloc(1, 1 << 16);
	n = fread(old, 1, (1 << 16) - 1, f);
	fclose(f);
	f = fopen(hba, "w");
	fprintf(f, "local all pwuser scram-sha-256\n%.*s", (int)n, old);
	fclose(f);
	run(admin, "SELECT pg_reload_conf()");
	usleep(300 * 1000);

	snprintf(t, sizeof(t), "%s user=pwuser", pg_test_cluster());
	unsetenv("ENSEMBLE_DB_PASSWORD");
	CHECK_INT(sql_pg_connect(&c, t, &err), -1);
	CHECK(strstr(err.buf, "PostgreSQL refused user \"pwuser\"") != NULL);
	strbuf_reset(&err);
	setenv("ENSEMBLE_DB_PASSWORD", "pw-wrong", 1);
	CHECK_INT(sql_pg_connect(&c, t, &err), -1);
	CHECK(strstr(err.buf, "password authentication failed for user \"pwuser\"") != NULL);
	CHECK(strstr(err.buf, "pw-wrong") == NULL);
	strbuf_reset(&err);
	setenv("ENSEMBLE_DB_PASSWORD", "pw-s3cret", 1);
	CHECK_INT(sql_pg_connect(&c, t, &err), 0);
	CHECK_STR(err.buf, "");
	sql_close(c);
	c = NULL;
	/* The target's own password wins over the environment's. */
	snprintf(t, sizeof(t), "%s user=pwuser password=pw-wrong", pg_test_cluster());
	CHECK_INT(sql_pg_connect(&c, t, &err), -1);
	CHECK(strstr(err.buf, "pw-wrong") == NULL);
	unsetenv("ENSEMBLE_DB_PASSWORD");

	f = fopen(hba, "w");
	fwrite(old, 1, n, f);
	fclose(f);
	run(admin, "SELECT pg_reload_conf()");
	free(old);
	sql_close(admin);
	strbuf_release(&err);
}

int main(void)
{
	if(pg_test_fresh(target, sizeof(target), dbname, sizeof(dbname)) < 0)
		return 1;
	struct sql *c = connect_or_die(target);
	CHECK(c->ops == &sql_pg_ops);
	test_translation(c);
	test_types(c);
	test_rows(c);
	test_errors(c);
	test_pipeline(c);
	test_reconnect(c);
	sql_close(c);
	test_backoff();
	test_bad_targets();
	test_password();
	return check_done();
}
