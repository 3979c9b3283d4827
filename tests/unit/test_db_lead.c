/*
 * The hot standby's leadership (storage/db_lead.c) on the throwaway
 * cluster: of two instances on one database one leads and the other
 * writes nothing; the leader gone, the other leads within a second; a
 * leader whose session ends while another takes over is told (its lost
 * function) and writes nothing more.  Label pg.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage/db.h"
#include "tests/unit/check.h"
#include "tests/unit/pg.h"

static char target[512], dbname[64];

static int lost_calls;

static void lost(void *user)
{
	CHECK(user == &lost_calls);
	lost_calls++;
}

/* Ends the session that holds an advisory lock in this test's database:
 * the leader's. */
static void terminate_leader(void)
{
	struct sql *admin = NULL;
	struct sql_stmt *st = NULL;
	struct strbuf err = STRBUF_INIT;
	CHECK_INT(sql_pg_connect(&admin, pg_test_cluster(), &err), 0);
	CHECK_INT(sql_prepare(admin,
	                      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
	                      "AND database = (SELECT oid FROM pg_database WHERE datname = ?1)",
	                      &st),
	          0);
	sql_bind_text(st, 1, dbname, -1);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 1);
	CHECK_INT(sql_step(st), SQL_DONE); /* one leader, one lock */
	sql_finalize(st);
	sql_close(admin);
	strbuf_release(&err);
}

/* Asks for the leadership every 100 ms for up to a second: 1 when taken. */
static int lead_within_a_second(struct db *db)
{
	for(int i = 0; i < 10; i++) {
		if(db_lead_try(db) == 1)
			return 1;
		usleep(100 * 1000);
	}
	return 0;
}

static int write_kv(struct db *db, const char *value)
{
	if(db_begin(db))
		return -1;
	if(db_kv_set(db, "lead.test", value) || db_commit(db)) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

int main(void)
{
	struct strbuf err = STRBUF_INIT, value = STRBUF_INIT;
	struct db *a = NULL, *b = NULL, *c = NULL;
	if(pg_test_fresh(target, sizeof(target), dbname, sizeof(dbname)))
		return 1;

	/* One leads (it made the schema), the other stands by. */
	CHECK_INT(db_open(&a, target, &err), 0);
	CHECK_INT(db_open(&b, target, &err), 0);
	CHECK_STR(err.buf, "");
	CHECK(db_leads(a));
	CHECK(!db_leads(b));
	CHECK_INT(db_engine(a), SQL_POSTGRES);
	CHECK_INT(db_schema_version(b), DB_SCHEMA_VERSION);
	CHECK_INT(write_kv(a, "a"), 0);
	CHECK_INT(write_kv(b, "b"), -1);
	CHECK_INT(db_lead_try(b), 0);
	/* A standby reads. */
	CHECK_INT(db_kv_get(b, "lead.test", &value), 1);
	CHECK_STR(value.buf, "a");

	/* The leader gone, the other leads within a second, and writes. */
	db_close(a);
	CHECK_INT(lead_within_a_second(b), 1);
	CHECK(db_leads(b));
	CHECK_INT(write_kv(b, "b"), 0);

	/* The leader's session ends while a third instance takes over: the
	 * first is told, at its next write at the latest, and writes nothing
	 * more, even on a new session. */
	CHECK_INT(db_open(&c, target, &err), 0);
	CHECK(!db_leads(c));
	db_set_lost_fn(b, lost, &lost_calls);
	terminate_leader();
	CHECK_INT(lead_within_a_second(c), 1);
	for(int i = 0; i < 3 && !lost_calls; i++)
		CHECK_INT(write_kv(b, "b again"), -1);
	CHECK_INT(lost_calls, 1);
	CHECK(!db_leads(b));
	CHECK_INT(db_begin(b), -1);
	CHECK_INT(db_lead_try(b), 0);
	CHECK_INT(lost_calls, 1);
	CHECK_INT(write_kv(c, "c"), 0);
	strbuf_reset(&value);
	CHECK_INT(db_kv_get(c, "lead.test", &value), 1);
	CHECK_STR(value.buf, "c");

	db_close(b);
	db_close(c);
	strbuf_release(&err);
	strbuf_release(&value);
	return check_done();
}
