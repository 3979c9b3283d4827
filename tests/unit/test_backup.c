/* Backups and checks: --backup's copy of a database in use, with the
 * delivery journal folded in; the copy kept before a migration; --check-db's
 * findings, and its refusal of a newer schema. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/db.h"
#include "tests/unit/check.h"

static char dir[] = "/tmp/ensemble-test-backup-XXXXXX";

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* The one number sql returns from the file at path, or -1. */
static long number_in(const char *path, const char *sql)
{
	sqlite3 *raw;
	sqlite3_stmt *st;
	long n = -1;
	if(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	   sqlite3_prepare_v2(raw, sql, -1, &st, NULL) == SQLITE_OK) {
		if(sqlite3_step(st) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(raw);
	return n;
}

static int exec_in(const char *path, const char *sql)
{
	sqlite3 *raw;
	int rc = sqlite3_open(path, &raw);
	if(rc == SQLITE_OK)
		rc = sqlite3_exec(raw, sql, NULL, NULL, NULL);
	sqlite3_close(raw);
	return rc;
}

static int mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : (int)(st.st_mode & 0777);
}

/* db_journal_run's function: the kv row an answered Telegram send leaves. */
static int set_sent(struct db *db, void *user)
{
	(void)user;
	return db_kv_set(db, "telegram.msg.m1", "-100\t77");
}

/* A database with three replies waiting, two of them delivered since (in
 * the journal, their rows not yet deleted), as a running bot has it.  The
 * ids go in ids. */
static struct db *open_with_deliveries(const char *path, int64_t ids[3])
{
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_begin(db), 0);
	for(int i = 0; i < 3; i++)
		CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"c\",\"text\":\"hi\"}",
		                        1000, &ids[i]),
		          0);
	CHECK_INT(db_commit(db), 0);
	db_outbox_done(db, ids[0], 2000);
	db_outbox_done(db, ids[2], 2000);
	/* And what a Telegram send became, in the journal too. */
	CHECK_INT(db_journal_run(db, set_sent, NULL), 0);
	strbuf_release(&err);
	return db;
}

/* --backup of a database in use: consistent, 0600, the journal's
 * deliveries out of the copy's outbox as reopening would take them out,
 * the original untouched; an existing file is never replaced. */
static void test_backup_folds_journal(void)
{
	char path[256], copy[256];
	int64_t ids[3];
	struct strbuf err = STRBUF_INIT;
	struct db_backup_info info;
	path_of(path, sizeof(path), "live.db");
	path_of(copy, sizeof(copy), "live-copy.db");
	struct db *db = open_with_deliveries(path, ids);

	CHECK_INT(db_backup(path, copy, &info, &err), 0);
	CHECK_INT(info.version, DB_SCHEMA_VERSION);
	CHECK_INT(info.delivered, 2);
	struct stat st;
	CHECK_INT(stat(copy, &st), 0);
	CHECK_INT(info.bytes, st.st_size);
	CHECK_INT(mode_of(copy), 0600);
	CHECK_INT(number_in(copy, "SELECT count(*) FROM outbox"), 1);
	CHECK_INT(number_in(copy, "SELECT id FROM outbox"), ids[1]);
	CHECK_INT(number_in(copy, "PRAGMA user_version"), DB_SCHEMA_VERSION);
	/* The kv row the journal held is in the copy, though not yet in the
	 * original's table, and counts as no delivery. */
	CHECK_INT(number_in(copy, "SELECT count(*) FROM kv WHERE key = 'telegram.msg.m1' AND value = '-100' || "
	                          "char(9) || '77'"),
	          1);
	CHECK_INT(number_in(path, "SELECT count(*) FROM kv WHERE key = 'telegram.msg.m1'"), 0);
	/* The running bot's rows are its own business until it forgets them. */
	CHECK_INT(number_in(path, "SELECT count(*) FROM outbox"), 3);

	/* A second backup to the same name is refused; the first stays. */
	strbuf_reset(&err);
	CHECK_INT(db_backup(path, copy, &info, &err), -1);
	CHECK(strstr(err.buf, "exists") != NULL);
	CHECK_INT(number_in(copy, "SELECT count(*) FROM outbox"), 1);

	/* Reopening the original (a crash, then a restart) applies the same
	 * journal the same way. */
	db_close(db);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(number_in(path, "SELECT count(*) FROM outbox"), 1);
	CHECK_INT(number_in(path, "SELECT id FROM outbox"), ids[1]);
	db_close(db);

	/* No such database: nothing is created. */
	char none[256], none_copy[256];
	path_of(none, sizeof(none), "none.db");
	path_of(none_copy, sizeof(none_copy), "none-copy.db");
	CHECK_INT(db_backup(none, none_copy, &info, &err), -1);
	CHECK(access(none, F_OK) != 0 && access(none_copy, F_OK) != 0);
	strbuf_release(&err);
}

/* Opening a database of an older schema copies it first, as it was (its
 * version, the journal folded in), 0600; a copy an earlier attempt left is
 * kept; a copy that cannot be made stops the migration. */
static void test_copy_before_migrating(void)
{
	char path[256], pre[256];
	int64_t ids[3];
	struct strbuf err = STRBUF_INIT;
	path_of(path, sizeof(path), "old.db");
	path_of(pre, sizeof(pre), "old.db.pre-v10");
	struct db *db = open_with_deliveries(path, ids);
	db_close(db);
	/* The last step (10 -> 11) runs as well on a table that has its
	 * columns: a database at version 10. */
	CHECK_INT(exec_in(path, "PRAGMA user_version = 10"), SQLITE_OK);

	/* --backup copies it as it is. */
	char copy[256];
	struct db_backup_info info;
	path_of(copy, sizeof(copy), "old-copy.db");
	CHECK_INT(db_backup(path, copy, &info, &err), 0);
	CHECK_INT(info.version, 10);
	CHECK_INT(number_in(copy, "PRAGMA user_version"), 10);
	CHECK_INT(number_in(path, "PRAGMA user_version"), 10);

	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
	CHECK_INT(mode_of(pre), 0600);
	CHECK_INT(number_in(pre, "PRAGMA user_version"), 10);
	CHECK_INT(number_in(pre, "SELECT count(*) FROM outbox"), 1);
	CHECK_INT(number_in(pre, "SELECT id FROM outbox"), ids[1]);

	/* Interrupted and tried again: the first copy is the one kept. */
	CHECK_INT(exec_in(path, "INSERT INTO kv (key, value) VALUES ('marker', 'x'); PRAGMA user_version = 10"),
	          SQLITE_OK);
	CHECK_INT(db_open(&db, path, &err), 0);
	db_close(db);
	CHECK_INT(number_in(pre, "SELECT count(*) FROM kv WHERE key = 'marker'"), 0);
	CHECK_INT(number_in(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);

	/* No room for the copy's name (a file name of 247 bytes leaves none
	 * for ".pre-v10.XXXXXX"): the database stays at its version. */
	char name[248], longpath[512];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(longpath, sizeof(longpath), "%s/%s", dir, name);
	CHECK_INT(db_open(&db, longpath, &err), 0);
	db_close(db);
	CHECK_INT(exec_in(longpath, "PRAGMA user_version = 10"), SQLITE_OK);
	strbuf_reset(&err);
	CHECK_INT(db_open(&db, longpath, &err), -1);
	CHECK(strstr(err.buf, "could not be copied before migrating") != NULL);
	CHECK_INT(number_in(longpath, "PRAGMA user_version"), 10);
	strbuf_release(&err);
}

struct found {
	int n;
	char all[4096];
};

static void collect(void *user, const char *problem)
{
	struct found *f = user;
	f->n++;
	size_t len = strlen(f->all);
	snprintf(f->all + len, sizeof(f->all) - len, "%s\n", problem);
}

/* --check-db: a sound database passes; planted inconsistencies are each
 * named; a newer schema is refused; nothing is ever written. */
static void test_check(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct found f = { 0 };
	struct db *db;
	int version;
	path_of(path, sizeof(path), "check.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	db_close(db);
	CHECK_INT(db_check(path, collect, &f, &version, &err), 0);
	CHECK_INT(f.n, 0);
	CHECK_INT(version, DB_SCHEMA_VERSION);

	/* A meetup confirmed on a date it does not have, a reminder pending
	 * for a cancelled one, an outbox row that is not JSON, the order
	 * counter behind, and a vote of a person who is gone. */
	CHECK_INT(exec_in(path,
	                  "INSERT INTO chats (id, platform, ext_id, lang, tz) VALUES (1, 'console', 'c', 'en', 'UTC');"
	                  "INSERT INTO users (id, platform, ext_id, name) VALUES (1, 'console', 'ann', 'Ann');"
	                  "INSERT INTO meetups (id, chat_id, num, title, creator, state, duration_min, chosen, "
	                  "start_at, created_at) VALUES (1, 1, 1, 'Lunch', 1, 1, 60, 3, 1000, 0), "
	                  "(2, 1, 2, 'Dinner', 1, 2, 60, 0, 0, 0);"
	                  "INSERT INTO slots (meetup_id, idx, start_at, duration_min) VALUES (1, 1, 1000, 60);"
	                  "INSERT INTO jobs (due_ms, kind, meetup_id) VALUES (5000, 2, 2);"
	                  "INSERT INTO outbox (action, created_ms) VALUES ('{not json', 0);"
	                  "INSERT INTO votes (meetup_id, user_id, answers, voted_at, seq) VALUES (1, 1, 'y', 0, 9);"
	                  "INSERT INTO votes (meetup_id, user_id, answers, voted_at, seq) VALUES (1, 7, 'y', 0, 2);"),
	          SQLITE_OK);
	struct stat before, after;
	stat(path, &before);
	CHECK_INT(db_check(path, collect, &f, &version, &err), 0);
	stat(path, &after);
	CHECK_INT(f.n, 5);
	CHECK(strstr(f.all, "meetup 1 (#1 of chat 1) is confirmed on date 3") != NULL);
	CHECK(strstr(f.all, "is pending for meetup 2 (#2 of chat 1), which is cancelled") != NULL);
	CHECK(strstr(f.all, "is not valid JSON") != NULL);
	CHECK(strstr(f.all, "order counter") != NULL);
	CHECK(strstr(f.all, "of table votes refers to a missing row of users") != NULL);
	CHECK(before.st_mtime == after.st_mtime && before.st_size == after.st_size);

	/* An older schema is checked as it is, never migrated. */
	CHECK_INT(exec_in(path, "PRAGMA user_version = 10"), SQLITE_OK);
	f.n = 0;
	CHECK_INT(db_check(path, collect, &f, &version, &err), 0);
	CHECK_INT(version, 10);
	CHECK_INT(number_in(path, "PRAGMA user_version"), 10);

	/* A newer one is refused. */
	CHECK_INT(exec_in(path, "PRAGMA user_version = 999"), SQLITE_OK);
	strbuf_reset(&err);
	CHECK_INT(db_check(path, collect, &f, &version, &err), -1);
	CHECK(strstr(err.buf, "newer Ensemble") != NULL);
	strbuf_release(&err);
}

int main(void)
{
	if(!mkdtemp(dir))
		return 1;
	test_backup_folds_journal();
	test_copy_before_migrating();
	test_check();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if(system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done();
}
