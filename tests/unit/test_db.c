/* Storage: creation, migrations, refusal of newer or broken files, chats,
 * users and the adapters' key-value state. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/clock.h"
#include "storage/db.h"
#include "tests/unit/check.h"

static char dir[] = "/tmp/ensemble-test-db-XXXXXX";

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, len, f);
	fclose(f);
}

int main(void)
{
	if(!mkdtemp(dir))
		return 1;
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct db *db;

	/* A new file is created at the current schema, in WAL mode. */
	path_of(path, sizeof(path), "new.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
	CHECK_STR(db_path(db), path);

	struct db_chat chat;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "console", "room", "fr", "Europe/Paris", &chat), 0);
	CHECK_STR(chat.lang, "fr");
	CHECK_STR(chat.tz, "Europe/Paris");
	CHECK_STR(chat.admin, "");
	CHECK(chat.active);
	CHECK_STR(chat.remind, "1440,60");
	/* New chats take the configured reminder times (general.remind);
	 * existing ones keep theirs. */
	CHECK_INT(db_set_chat_remind(db, "180"), 0);
	struct db_chat fresh;
	CHECK_INT(db_chat_get(db, "console", "other", "fr", "Europe/Paris", &fresh), 0);
	CHECK_STR(fresh.remind, "180");
	CHECK_INT(db_set_chat_remind(db, ""), 0);
	CHECK_INT(db_chat_get(db, "console", "third", "fr", "Europe/Paris", &fresh), 0);
	CHECK_STR(fresh.remind, "");
	CHECK_INT(db_chat_get(db, "console", "room", "fr", "Europe/Paris", &fresh), 1);
	CHECK_STR(fresh.remind, "1440,60");
	CHECK_INT(db_set_chat_remind(db, "1440,60"), 0);
	CHECK_INT(db_chat_set_lang(db, chat.id, "en"), 0);
	CHECK_INT(db_chat_set_tz(db, chat.id, "America/Montreal"), 0);
	CHECK_INT(db_chat_set_admin(db, chat.id, "alice"), 0);
	int64_t uid1, uid2, uid3;
	CHECK_INT(db_user_seen(db, chat.id, "console", "alice", "Alice", 100, &uid1), 0);
	CHECK_INT(db_user_seen(db, chat.id, "console", "alice", "Alice", 200, &uid2), 0);
	CHECK_INT(db_user_seen(db, chat.id, "console", "alice", "Alice B.", 300, &uid3), 0);
	CHECK(uid1 > 0);
	CHECK_INT(uid1, uid2);
	CHECK_INT(uid1, uid3);
	CHECK_INT(db_kv_set(db, "telegram.offset", "42"), 0);
	CHECK_INT(db_kv_set(db, "telegram.offset", "43"), 0);
	CHECK_INT(db_commit(db), 0);

	/* A rolled-back transaction leaves nothing behind. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "telegram.offset", "99"), 0);
	CHECK_INT(db_rollback(db), 0);
	db_close(db);

	/* Reopening continues where it stopped. */
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_chat_get(db, "console", "room", "fr", "UTC", &chat), 1);
	CHECK_STR(chat.lang, "en");
	CHECK_STR(chat.tz, "America/Montreal");
	CHECK_STR(chat.admin, "alice");
	struct strbuf v = STRBUF_INIT;
	CHECK_INT(db_kv_get(db, "telegram.offset", &v), 1);
	CHECK_STR(v.buf, "43");
	strbuf_reset(&v);
	CHECK_INT(db_kv_get(db, "nothing", &v), 0);
	strbuf_release(&v);
	db_close(db);

	/* The journal is WAL and foreign keys are on. */
	sqlite3 *raw;
	sqlite3_open(path, &raw);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* A file from a newer Ensemble is refused, and left untouched. */
	sqlite3_exec(raw, "PRAGMA user_version = 999", NULL, NULL, NULL);
	sqlite3_close(raw);
	strbuf_reset(&err);
	CHECK_INT(db_open(&db, path, &err), -1);
	CHECK(strstr(err.buf, "newer Ensemble") != NULL);
	CHECK(strstr(err.buf, "999") != NULL);
	sqlite3_open(path, &raw);
	sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL);
	sqlite3_step(st);
	CHECK_INT(sqlite3_column_int(st, 0), 999);
	sqlite3_finalize(st);
	sqlite3_close(raw);

	/* A file that is not a database is a clear error. */
	path_of(path, sizeof(path), "garbage.db");
	char junk[4096];
	memset(junk, 'x', sizeof(junk));
	write_file(path, junk, sizeof(junk));
	strbuf_reset(&err);
	CHECK_INT(db_open(&db, path, &err), -1);
	CHECK(strstr(err.buf, "not a database") != NULL);

	/* A directory, or a path in a missing directory, likewise. */
	strbuf_reset(&err);
	CHECK_INT(db_open(&db, dir, &err), -1);
	CHECK(strstr(err.buf, "not a regular file") != NULL);
	path_of(path, sizeof(path), "missing/dir/x.db");
	strbuf_reset(&err);
	CHECK_INT(db_open(&db, path, &err), -1);
	CHECK(strstr(err.buf, "cannot open") != NULL);

	/* Every file of a new database is its owner's alone (it holds the
	 * Matrix access token), whatever the umask: the database, SQLite's
	 * -wal and -shm beside it while it is open, and the delivery journal. */
	static const mode_t masks[] = { 022, 0 };
	for(size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		mode_t old = umask(masks[m]);
		char name[64], side[300];
		snprintf(name, sizeof(name), "private-%03o.db", (unsigned)masks[m]);
		path_of(path, sizeof(path), name);
		strbuf_reset(&err);
		CHECK_INT(db_open(&db, path, &err), 0);
		CHECK_INT(db_begin(db), 0);
		CHECK_INT(db_kv_set(db, "matrix.access_token", "syt_secret"), 0);
		CHECK_INT(db_commit(db), 0);
		static const char *const suffixes[] = { "", "-wal", "-shm", "-acks" };
		for(size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			struct stat fst;
			snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
			CHECK_INT(stat(side, &fst), 0);
			if((fst.st_mode & 0777) != 0600)
				fprintf(stderr, "%s: mode %03o under umask %03o\n", side, (unsigned)(fst.st_mode & 0777),
				        (unsigned)masks[m]);
			CHECK_INT(fst.st_mode & 0777, 0600);
		}
		db_close(db);
		umask(old);
	}

	/* An in-memory database works, and leaves no journal file behind. */
	unlink(":memory:-acks");
	CHECK_INT(db_open(&db, ":memory:", &err), 0);
	CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
	CHECK_INT(db_outbox_add(db, "{}", 1, &(int64_t){ 0 }), 0);
	db_outbox_done(db, 1, 0);
	db_close(db);
	CHECK(access(":memory:-acks", F_OK) != 0);

	/* An older schema (version 0 with no tables) is migrated forward. */
	path_of(path, sizeof(path), "old.db");
	sqlite3_open(path, &raw);
	sqlite3_exec(raw, "CREATE TABLE unrelated (x); PRAGMA user_version = 0", NULL, NULL, NULL);
	sqlite3_close(raw);
	strbuf_reset(&err);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);

	/* Chats and users are cached, and the cache follows the database:
	 * what a rolled-back transaction created is created again, a new
	 * name and a new language show at once. */
	path_of(path, sizeof(path), "cache.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct db_chat c1, c2;
	int64_t u1 = 0, u2 = 0;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Ana", 1000, &u1), 0);
	db_rollback(db);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-200", "en", "UTC", &c2), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 0);  /* created again */
	CHECK_INT(db_user_seen(db, c2.id, "telegram", "7", "Bo", 1000, &u2), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Ana", 1000, &u1), 0);    /* member of a real chat */
	CHECK(u1 != u2);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 1);
	CHECK_INT(db_chat_set_lang(db, c1.id, "en"), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 1);
	CHECK_STR(c1.lang, "en");
	int64_t again = 0;
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Ana María", 2000, &again), 0);
	CHECK_INT(again, u1);
	char uname[64] = "";
	CHECK_INT(db_user_name(db, u1, uname, sizeof(uname)), 1);
	CHECK_STR(uname, "Ana María");
	CHECK_INT(db_commit(db), 0);
	/* A rename rolled back leaves the old name, in the cache too: the
	 * same rename later is stored. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Nobody", 3000, &again), 0);
	db_rollback(db);
	CHECK_INT(db_user_name(db, u1, uname, sizeof(uname)), 1);
	CHECK_STR(uname, "Ana María");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Nobody", 4000, &again), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_user_name(db, u1, uname, sizeof(uname)), 1);
	CHECK_STR(uname, "Nobody");
	db_close(db);

	/* 6 -> 7: votes, RSVPs and members take their order from one counter,
	 * which starts above the numbers already used: a vote cast after the
	 * upgrade comes after the older ones. */
	path_of(path, sizeof(path), "v6.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	db_close(db);
	sqlite3_open(path, &raw);
	CHECK_INT(sqlite3_exec(raw,
		"DELETE FROM kv WHERE key = 'db.seq';"
		"INSERT INTO chats (id, platform, ext_id, lang, tz) VALUES (1, 'console', 'c', 'fr', 'Europe/Paris');"
		"INSERT INTO users (id, platform, ext_id, name) VALUES (1, 'console', 'u', 'u'), (2, 'console', 'v', 'v');"
		"INSERT INTO meetups (id, chat_id, num, title, creator, state, duration_min, created_at) "
		"  VALUES (1, 1, 1, 'm', 1, 0, 120, 0);"
		"INSERT INTO votes (meetup_id, user_id, answers, voted_at, seq) VALUES (1, 1, '1', 0, 41);"
		"PRAGMA user_version = 6", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_vote_set(db, 1, 2, "1", 0), 0);
	CHECK_INT(db_commit(db), 0);
	struct db_people voters = { 0 };
	CHECK_INT(db_votes(db, 1, &voters), 0);
	CHECK_INT(voters.n, 2);
	if(voters.n == 2) {
		CHECK_INT(voters.v[0].user_id, 1);
		CHECK_INT(voters.v[1].user_id, 2);
	}
	db_people_release(&voters);
	/* A rolled-back vote's number is not reused by a later one, nor
	 * needed: the order stays that of the committed votes. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_vote_set(db, 1, 1, "2", 0), 0);
	db_rollback(db);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_vote_set(db, 1, 1, "1", 0), 0);
	CHECK_INT(db_commit(db), 0);
	memset(&voters, 0, sizeof(voters));
	CHECK_INT(db_votes(db, 1, &voters), 0);
	if(voters.n == 2) {
		CHECK_INT(voters.v[0].user_id, 2);
		CHECK_INT(voters.v[1].user_id, 1);
	}
	db_people_release(&voters);

	/* A read transaction does not wait for another process's writer: it
	 * sees what was committed, and it nests in nothing. */
	{
		sqlite3 *other;
		CHECK_INT(db_kv_set(db, "read.k", "v1"), 0);
		sqlite3_open(path, &other);
		CHECK_INT(sqlite3_exec(other, "BEGIN EXCLUSIVE; UPDATE kv SET value = 'v2' WHERE key = 'read.k'",
		                       NULL, NULL, NULL), SQLITE_OK);
		int64_t t0 = clock_mono_ms();
		CHECK_INT(db_begin_read(db), 0);
		CHECK(db_in_transaction(db));
		CHECK_INT(db_begin_read(db), -1);
		struct strbuf rv = STRBUF_INIT;
		CHECK_INT(db_kv_get(db, "read.k", &rv), 1);
		CHECK_STR(rv.buf, "v1");
		CHECK_INT(db_commit(db), 0);
		CHECK(clock_mono_ms() - t0 < 1000);
		CHECK(!db_in_transaction(db));
		sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(other);
		strbuf_reset(&rv);
		CHECK_INT(db_begin_read(db), 0);
		CHECK_INT(db_kv_get(db, "read.k", &rv), 1);
		CHECK_STR(rv.buf, "v2");
		CHECK_INT(db_rollback(db), 0);
		strbuf_release(&rv);
	}
	db_close(db);

	strbuf_release(&err);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if(system(cmd))
		return 1;
	return check_done();
}
