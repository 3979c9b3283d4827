/* Storage: creation, migrations, refusal of newer or broken files, chats,
 * users and the adapters' key-value state. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/clock.h"
#include "storage/db.h"
#include "tests/unit/check.h"
#include "tests/unit/pg.h"

static char dir[] = "/tmp/ensemble-test-db-XXXXXX";

/* A new database's target: a file of dir, or on PostgreSQL (label pg) a
 * database of its own. */
static void path_of(char *out, size_t n, const char *name)
{
	if(pg_test_target(out, n, dir, name))
		exit(1);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	fwrite(data, 1, len, f);
	fclose(f);
}

/* How many times needle is in the file at path (0 when there is no file):
 * what anyone who copies the file could read, whatever SQLite says. */
static int file_holds(const char *path, const char *needle)
{
	int found = 0;
	size_t n = strlen(needle), len = 0;
	struct stat st;
	FILE *f = fopen(path, "rb");
	if(!f)
		return 0;
	char *data = fstat(fileno(f), &st) == 0 ? malloc((size_t)st.st_size + 1) : NULL;
	CHECK(data != NULL);
	if(data)
		len = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	for(size_t i = 0; i + n <= len; i++)
		found += !memcmp(data + i, needle, n);
	free(data);
	return found;
}

/* What a file faked as older than schema 12 must lose: the triggers on
 * rsvps name meetups, which the step 8 -> 9 makes anew (SQLite refuses
 * to rename a table over triggers that name a table gone). */
#define NOT_YET_12 "DROP TRIGGER web_rsvp_insert; DROP TRIGGER web_rsvp_update; DROP TRIGGER web_rsvp_delete;"

/* A connection of the test's own to the database at target, on its
 * engine, for what the storage API does not say. */
static struct sql *raw_open(const char *target)
{
	struct sql *c = NULL;
	struct strbuf err = STRBUF_INIT;
	int rc = pg_test_on() ? sql_pg_connect(&c, target, &err)
	                      : sql_sqlite_open(&c, target, SQLITE_OPEN_READWRITE, &err);
	if(rc)
		fprintf(stderr, "%s: %s\n", target, err.buf);
	strbuf_release(&err);
	return c;
}

/* The first column of each row q gives, into out (at most 32).  How many. */
static int raw_names(struct sql *raw, const char *q, char out[][64])
{
	struct sql_stmt *st = NULL;
	int n = 0;
	if(sql_prepare(raw, q, &st))
		return 0;
	while(n < 32 && sql_step(st) == SQL_ROW)
		snprintf(out[n++], 64, "%s", sql_column_text(st, 0));
	sql_finalize(st);
	return n;
}

/* Rows naming a person anywhere in the database: every table is read
 * (enumerated from the engine's catalogue, so a table added later is
 * covered too), each column that refers to users (by foreign key, or
 * named like a user column) compared with uid, the users table by its id,
 * and every column searched for the person's platform id and name.  With
 * report, each column that names them is printed. */
static long rows_naming(struct sql *raw, int64_t uid, const char *ext_id, const char *name, bool report)
{
	bool pg = pg_test_on();
	long found = 0;
	char tables[32][64], refs[32][64], cols[32][64], q[800];
	int ntables = raw_names(raw,
	                        pg ? "SELECT table_name FROM information_schema.tables WHERE table_schema = "
	                             "current_schema() AND table_type = 'BASE TABLE'"
	                           : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
	                        tables);
	for(int t = 0; t < ntables; t++) {
		const char *table = tables[t];
		/* The columns that refer to users. */
		if(pg)
			snprintf(
				q, sizeof(q),
				"SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
				"AND a.attnum = ANY (c.conkey) WHERE c.contype = 'f' AND c.conrelid = CAST('%.63s' AS regclass) "
				"AND c.confrelid = CAST('users' AS regclass)",
				table);
		else
			snprintf(q, sizeof(q),
			         "SELECT \"from\" FROM pragma_foreign_key_list('%.63s') WHERE \"table\" = 'users'",
			         table);
		int nrefs = raw_names(raw, q, refs);
		if(pg)
			snprintf(
				q, sizeof(q),
				"SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
				"AND table_name = '%.63s'",
				table);
		else
			snprintf(q, sizeof(q), "SELECT name FROM pragma_table_info('%.63s')", table);
		int ncols = raw_names(raw, q, cols);
		for(int k = 0; k < ncols; k++) {
			const char *col = cols[k], *find = pg ? "strpos" : "instr";
			bool is_ref = (!strcmp(table, "users") && !strcmp(col, "id")) || strstr(col, "user") ||
			              !strcmp(col, "creator");
			for(int i = 0; i < nrefs; i++)
				is_ref |= !strcmp(refs[i], col);
			snprintf(
				q, sizeof(q),
				"SELECT count(*) FROM \"%.63s\" WHERE (?1 = 1 AND CAST(\"%.63s\" AS TEXT) = CAST(?2 AS TEXT)) "
				"OR %s(CAST(\"%.63s\" AS TEXT), ?3) > 0 OR %s(CAST(\"%.63s\" AS TEXT), ?4) > 0",
				table, col, find, col, find, col);
			struct sql_stmt *c = NULL;
			if(sql_prepare(raw, q, &c)) {
				fprintf(stderr, "%s: %s\n", q, sql_errmsg(raw));
				found++;
				continue;
			}
			sql_bind_int(c, 1, is_ref);
			sql_bind_int64(c, 2, uid);
			sql_bind_text(c, 3, ext_id, -1);
			sql_bind_text(c, 4, name, -1);
			if(sql_step(c) == SQL_ROW && sql_column_int(c, 0)) {
				if(report)
					fprintf(stderr, "  %s.%s names %s: %d row(s)\n", table, col, ext_id,
					        sql_column_int(c, 0));
				found += sql_column_int(c, 0);
			}
			sql_finalize(c);
		}
	}
	return found;
}

/* A count from raw SQL with one integer parameter, ?1 (when it has one). */
static long count_of(struct sql *raw, const char *q, int64_t arg)
{
	struct sql_stmt *st = NULL;
	long n = -1;
	if(sql_prepare(raw, q, &st))
		return -1;
	sql_bind_int64(st, 1, arg);
	if(sql_step(st) == SQL_ROW)
		n = sql_column_int64(st, 0);
	else
		fprintf(stderr, "%s: %s\n", q, sql_errmsg(raw));
	sql_finalize(st);
	return n;
}

/* The same on an SQLite file, for what only SQLite has. */
static long lite_count(sqlite3 *raw, const char *sql, int64_t arg)
{
	sqlite3_stmt *st;
	long n = -1;
	if(sqlite3_prepare_v2(raw, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, arg);
	if(sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Everything a person leaves in a chat: seen, admin (no roles), a meetup
 * proposed, a vote, an RSVP, an interest, a group (contact) and another
 * group's waiting list, private reminders, a dialogue, a private message
 * waiting in the outbox. */
static void leave_traces(struct db *db, const struct db_chat *chat, int64_t uid, int64_t other_meetup,
                         const char *ext_id, const char *topic)
{
	struct db_meetup m = { .chat_id = chat->id,
		               .creator = uid,
		               .state = MEETUP_POLL,
		               .duration_min = 60,
		               .created = 1000,
		               .nslots = 2 };
	snprintf(m.title, sizeof(m.title), "%s's picnic", topic);
	m.slots[0] = (struct db_slot){ .idx = 1, .start = 2000000000, .duration_min = 60 };
	m.slots[1] = (struct db_slot){ .idx = 2, .start = 2000090000, .duration_min = 60 };
	CHECK_INT(db_meetup_insert(db, &m), 0);
	CHECK_INT(db_vote_set(db, other_meetup, uid, "yn", 1000), 0);
	CHECK_INT(db_rsvp_set(db, other_meetup, uid, 2, false), 0);
	CHECK_INT(db_interest_set(db, chat->id, topic, topic, uid, true), 1);
	struct db_group g = { .chat_id = chat->id, .max_members = 1 }, h = { .chat_id = chat->id, .max_members = 1 };
	snprintf(g.name, sizeof(g.name), "%s circle", topic);
	snprintf(h.name, sizeof(h.name), "%s club", topic);
	CHECK_INT(db_group_insert(db, &g, g.name), 0);
	CHECK_INT(db_group_insert(db, &h, h.name), 0);
	CHECK_INT(db_group_member_set(db, g.id, uid, true, false), 0);
	CHECK_INT(db_group_member_set(db, h.id, uid, false, true), 0);
	CHECK_INT(db_private_reminder_set(db, chat->id, uid, true), 0);
	CHECK_INT(db_dialog_set(db, chat->id, uid, 1, "{}", 1000), 0);
	char json[256];
	snprintf(json, sizeof(json), "{\"kind\":5,\"platform\":\"console\",\"chat\":\"%s\",\"text\":\"your data\"}",
	         ext_id);
	CHECK_INT(db_outbox_add(db, json, 1000, &(int64_t){ 0 }), 0);
	/* The adapter's state about them: a reaction and the list of their
	 * reactions under a message of this chat, and their private room. */
	char key[512], value[512];
	snprintf(key, sizeof(key), "console.react.$%s-%s", chat->ext_id, ext_id);
	snprintf(value, sizeof(value), "rsvp:1:y\t%s\t$msg", ext_id);
	CHECK_INT(db_kv_set_about(db, key, value, chat->ext_id, ext_id), 0);
	snprintf(key, sizeof(key), "console.reacts.$%s-msg %s", chat->ext_id, ext_id);
	CHECK_INT(db_kv_set_about(db, key, "$reaction y\n", chat->ext_id, ext_id), 0);
	snprintf(key, sizeof(key), "console.dm.%s", ext_id);
	CHECK_INT(db_kv_set_about(db, key, "room-dm", NULL, ext_id), 0);
	/* Their personal calendar link (/agenda me). */
	struct db_web_link l = { .kind = DB_WEB_PERSON, .user_id = uid };
	memset(l.salt, (int)uid, sizeof(l.salt));
	memset(l.hash, (int)uid, sizeof(l.hash));
	CHECK_INT(db_web_link_put(db, &l, 1000), 0);
	/* Their link to vote on this chat's page (/vote web), for a week. */
	struct db_web_link v = { .kind = DB_WEB_VOTE, .chat_id = chat->id, .user_id = uid, .expires_ms = 605000 };
	memset(v.salt, 0xEE, sizeof(v.salt));
	memset(v.hash, 0xEE, sizeof(v.hash));
	v.hash[0] = (unsigned char)chat->id;
	v.hash[1] = (unsigned char)uid;
	CHECK_INT(db_web_link_put(db, &v, 5000), 0);
}

/* /forget me in one chat: nothing names the person there afterwards, and
 * the user row goes when no other chat has anything of theirs; what other
 * people and other chats hold is untouched. */
static void test_forget(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "forget.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct db_chat a, b;
	int64_t zoe, yann, bob;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "console", "room-a", "en", "UTC", &a), 0);
	CHECK_INT(db_chat_get(db, "console", "room-b", "en", "UTC", &b), 0);
	CHECK_INT(db_user_seen(db, a.id, "console", "zoe-4471", "Zoé Oubliée", false, 1000, &zoe), 0);
	CHECK_INT(db_user_seen(db, a.id, "console", "bob-1", "Bob", false, 1000, &bob), 0);
	CHECK_INT(db_user_seen(db, a.id, "console", "yann-9", "Yann Twochats", false, 1000, &yann), 0);
	CHECK_INT(db_user_seen(db, b.id, "console", "yann-9", "Yann Twochats", false, 1000, &yann), 0);
	CHECK_INT(db_user_seen(db, b.id, "console", "bob-1", "Bob", false, 1000, &bob), 0);
	CHECK_INT(db_chat_set_admin(db, a.id, "zoe-4471"), 0);
	/* Bob's meetups in each chat, which the others vote on. */
	struct db_meetup ma = { .chat_id = a.id,
		                .creator = bob,
		                .state = MEETUP_CONFIRMED,
		                .duration_min = 60,
		                .created = 1000,
		                .nslots = 1,
		                .chosen = 1,
		                .start = 2000000000 };
	ma.slots[0] = (struct db_slot){ .idx = 1, .start = 2000000000, .duration_min = 60 };
	struct db_meetup mb = ma;
	mb.chat_id = b.id;
	snprintf(ma.title, sizeof(ma.title), "Bob's dinner");
	snprintf(mb.title, sizeof(mb.title), "Bob's lunch");
	CHECK_INT(db_meetup_insert(db, &ma), 0);
	CHECK_INT(db_meetup_insert(db, &mb), 0);
	CHECK_INT(db_vote_set(db, ma.id, bob, "y", 1000), 0);
	CHECK_INT(db_rsvp_set(db, ma.id, bob, 2, false), 0);
	leave_traces(db, &a, zoe, ma.id, "zoe-4471", "chess");
	leave_traces(db, &a, yann, ma.id, "yann-9", "go");
	leave_traces(db, &b, yann, mb.id, "yann-9", "go");
	CHECK_INT(db_interest_set(db, a.id, "chess", "chess", bob, true), 1);
	CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"room-a\",\"text\":\"hello\"}",
	                        1000, &(int64_t){ 0 }),
	          0);
	CHECK_INT(db_commit(db), 0);
	char wal[300];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	/* Her rows are in the write-ahead log's frames (on SQLite). */
	CHECK(pg_test_on() || file_holds(wal, "zoe-4471") > 0);

	struct sql *raw = raw_open(path);
	long bob_before = rows_naming(raw, bob, "bob-1", "Bob", false);
	long yann_in_b = count_of(
		raw,
		"SELECT (SELECT count(*) FROM members WHERE chat_id = ?1) + "
		"(SELECT count(*) FROM interests WHERE chat_id = ?1) + "
		"(SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.chat_id = ?1) + "
		"(SELECT count(*) FROM votes v JOIN meetups m ON m.id = v.meetup_id WHERE m.chat_id = ?1) + "
		"(SELECT count(*) FROM rsvps r JOIN meetups m ON m.id = r.meetup_id WHERE m.chat_id = ?1) + "
		"(SELECT count(*) FROM meetups WHERE chat_id = ?1 AND creator IS NOT NULL) + "
		"(SELECT count(*) FROM private_reminders WHERE chat_id = ?1) + "
		"(SELECT count(*) FROM dialogs WHERE chat_id = ?1)",
		b.id);
	CHECK(rows_naming(raw, zoe, "zoe-4471", "Zoé Oubliée", false) > 10);

	/* Zoé is only in chat A: every trace of her goes, her user row too. */
	int counts[DB_FORGET_COUNTS], dms;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_forget_user(db, a.id, zoe, counts), 0);
	CHECK_INT(db_outbox_remove_to(db, 5, "console", "zoe-4471", &dms), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(counts[0], 1); /* interests */
	CHECK_INT(counts[1], 2); /* group memberships, the waiting list's too */
	CHECK_INT(counts[2], 1); /* votes */
	CHECK_INT(counts[3], 1); /* RSVPs */
	CHECK_INT(counts[4], 1); /* private reminders */
	CHECK_INT(dms, 1);
	CHECK_INT(rows_naming(raw, zoe, "zoe-4471", "Zoé Oubliée", true), 0);
	if(!pg_test_on()) {
		/* Nor in the files: the write-ahead log held her, in the frames
		 * of the transaction that wrote her rows, until the forget's
		 * commit emptied it; the database's freed pages are zeros. */
		CHECK_INT(file_holds(wal, "zoe-4471") + file_holds(path, "zoe-4471"), 0);
		CHECK_INT(file_holds(wal, "Zoé Oubliée") + file_holds(path, "Zoé Oubliée"), 0);
		/* Bob, whom nothing forgot, is still there to be found. */
		CHECK(file_holds(wal, "bob-1") + file_holds(path, "bob-1") > 0);
	}
	/* Her meetup stays the chat's, with its slots, without a creator. */
	CHECK_INT(count_of(raw,
	                   "SELECT count(*) FROM meetups WHERE title = 'chess''s picnic' AND creator IS NULL "
	                   "AND chat_id = ?1",
	                   a.id),
	          1);
	CHECK_INT(count_of(raw,
	                   "SELECT count(*) FROM slots s JOIN meetups m ON m.id = s.meetup_id "
	                   "WHERE m.title = 'chess''s picnic'",
	                   1),
	          2);
	struct db_meetup got;
	CHECK_INT(db_meetup_get(db, a.id, 2, &got), 1);
	CHECK_INT(got.creator, 0);
	CHECK_STR(got.creator_name, "");
	struct db_chat again;
	CHECK_INT(db_chat_get(db, "console", "room-a", "en", "UTC", &again), 1);
	CHECK_STR(again.admin, "");
	/* Nothing of Bob's moved, nor the chat's message. */
	CHECK_INT(rows_naming(raw, bob, "bob-1", "Bob", false), bob_before);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM outbox WHERE action LIKE '%hello%'", 1), 1);

	/* When she speaks again she is someone new. */
	int64_t zoe2;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, a.id, "console", "zoe-4471", "Zoé Oubliée", false, 5000, &zoe2), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK(zoe2 != zoe);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM members WHERE user_id = ?1", zoe2), 1);

	/* Yann is in both chats: forgotten in A, he keeps his row and all of
	 * chat B. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_forget_user(db, a.id, yann, counts), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM users WHERE id = ?1", yann), 1);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM members WHERE user_id = ?1", yann), 1);
	/* His personal calendar link, which spans his chats, is revoked, and
	 * his link to vote on chat A's page; chat B's stays his. */
	CHECK_INT(count_of(raw, "SELECT count(*) FROM web_links WHERE user_id = ?1 AND chat_id IS NULL", yann), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM web_links WHERE user_id = ?1", yann), 1);
	CHECK_INT(count_of(raw, "SELECT expires_ms FROM web_links WHERE user_id = ?1", yann), 605000);
	CHECK_INT(
		count_of(
			raw,
			"SELECT (SELECT count(*) FROM interests WHERE user_id = ?1) + "
			"(SELECT count(*) FROM group_members WHERE user_id = ?1) + "
			"(SELECT count(*) FROM votes WHERE user_id = ?1) + (SELECT count(*) FROM rsvps WHERE user_id = ?1) + "
			"(SELECT count(*) FROM meetups WHERE creator = ?1) + "
			"(SELECT count(*) FROM private_reminders WHERE user_id = ?1) + "
			"(SELECT count(*) FROM dialogs WHERE user_id = ?1)",
			yann),
		8);
	CHECK_INT(
		count_of(
			raw,
			"SELECT (SELECT count(*) FROM members WHERE chat_id = ?1) + "
			"(SELECT count(*) FROM interests WHERE chat_id = ?1) + "
			"(SELECT count(*) FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.chat_id = ?1) + "
			"(SELECT count(*) FROM votes v JOIN meetups m ON m.id = v.meetup_id WHERE m.chat_id = ?1) + "
			"(SELECT count(*) FROM rsvps r JOIN meetups m ON m.id = r.meetup_id WHERE m.chat_id = ?1) + "
			"(SELECT count(*) FROM meetups WHERE chat_id = ?1 AND creator IS NOT NULL) + "
			"(SELECT count(*) FROM private_reminders WHERE chat_id = ?1) + "
			"(SELECT count(*) FROM dialogs WHERE chat_id = ?1)",
			b.id),
		yann_in_b);
	CHECK_INT(count_of(raw,
	                   "SELECT count(*) FROM members WHERE chat_id = ?1 AND user_id = "
	                   "(SELECT id FROM users WHERE ext_id = 'yann-9')",
	                   a.id),
	          0);
	/* The adapter's state: his in chat A goes; chat B's and his private
	 * room, which B's reminders use, stay. */
	CHECK_INT(count_of(raw, "SELECT count(*) FROM kv WHERE key LIKE '%yann-9%' AND chat = 'room-a'", 1), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM kv WHERE key LIKE '%yann-9%' AND chat = 'room-b'", 1), 2);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM kv WHERE key = 'console.dm.yann-9'", 1), 1);
	sql_close(raw);
	db_close(db);
	if(pg_test_on()) {
		strbuf_release(&err);
		return;
	}

	/* A database of schema 8, whose meetups' creator could not be NULL,
	 * keeps every meetup, slot and vote through the migration. */
	sqlite3 *lite;
	sqlite3_open(path, &lite);
	CHECK_INT(
		sqlite3_exec(
			lite,
			"PRAGMA foreign_keys = OFF; BEGIN;"
			"CREATE TABLE old_meetups AS SELECT * FROM meetups WHERE creator IS NOT NULL;"
			"DELETE FROM meetups WHERE creator IS NULL;"
			"DROP TABLE meetups;"
			"CREATE TABLE meetups (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
			" num INTEGER NOT NULL, title TEXT NOT NULL, place TEXT NOT NULL DEFAULT '',"
			" creator INTEGER NOT NULL REFERENCES users(id), state INTEGER NOT NULL, duration_min INTEGER NOT NULL,"
			" deadline INTEGER NOT NULL DEFAULT 0, quorum INTEGER NOT NULL DEFAULT 0, max_people INTEGER NOT NULL DEFAULT 0,"
			" chosen INTEGER NOT NULL DEFAULT 0, start_at INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
			" remind TEXT, series_id INTEGER REFERENCES series(id), group_id INTEGER REFERENCES groups(id),"
			" UNIQUE (chat_id, num));"
			"INSERT INTO meetups SELECT * FROM old_meetups; DROP TABLE old_meetups;"
			"DELETE FROM slots WHERE meetup_id NOT IN (SELECT id FROM meetups);" NOT_YET_12
			"PRAGMA user_version = 8; COMMIT;",
			NULL, NULL, NULL),
		SQLITE_OK);
	long meetups = lite_count(lite, "SELECT count(*) FROM meetups WHERE ?1", 1);
	long slots = lite_count(lite, "SELECT count(*) FROM slots WHERE ?1", 1);
	long votes = lite_count(lite, "SELECT count(*) FROM votes WHERE ?1", 1);
	CHECK(meetups >= 3 && slots >= 4 && votes >= 2);
	sqlite3_close(lite);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_schema_version(db), DB_SCHEMA_VERSION);
	db_close(db);
	sqlite3_open(path, &lite);
	CHECK_INT(lite_count(lite, "SELECT count(*) FROM meetups WHERE creator IS NOT NULL AND ?1", 1), meetups);
	CHECK_INT(lite_count(lite, "SELECT count(*) FROM slots WHERE ?1", 1), slots);
	CHECK_INT(lite_count(lite, "SELECT count(*) FROM votes WHERE ?1", 1), votes);
	CHECK_INT(lite_count(lite, "SELECT \"notnull\" FROM pragma_table_info('meetups') WHERE name = 'creator' AND ?1",
	                     1),
	          0);
	sqlite3_close(lite);
	strbuf_release(&err);
}

/* A reader holding an older snapshot (a backup being copied) keeps the
 * write-ahead log from being emptied after a forget: the commit does not
 * wait for it (SQLite's lock timeout is 5 s), and the next commit after
 * the reader is done empties it. */
static void test_forget_reader(void)
{
	char path[256], wal[300];
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	struct db_chat a;
	int64_t xav, other;
	int counts[DB_FORGET_COUNTS];
	path_of(path, sizeof(path), "forget-reader.db");
	snprintf(wal, sizeof(wal), "%s-wal", path);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "console", "room-x", "en", "UTC", &a), 0);
	CHECK_INT(db_user_seen(db, a.id, "console", "xavier-77", "Xavier Gardé", false, 1000, &xav), 0);
	CHECK_INT(db_interest_set(db, a.id, "go", "go", xav, true), 1);
	CHECK_INT(db_commit(db), 0);

	sqlite3 *reader;
	CHECK_INT(sqlite3_open(path, &reader), SQLITE_OK);
	CHECK_INT(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM users;", NULL, NULL, NULL), SQLITE_OK);
	int64_t start = clock_mono_ms();
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_forget_user(db, a.id, xav, counts), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK(clock_mono_ms() - start < 2000);
	CHECK(file_holds(wal, "xavier-77") > 0);

	CHECK_INT(sqlite3_exec(reader, "COMMIT;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(reader);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, a.id, "console", "someone-else", "Someone", false, 2000, &other), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(file_holds(wal, "xavier-77") + file_holds(path, "xavier-77"), 0);
	CHECK(file_holds(wal, "someone-else") + file_holds(path, "someone-else") > 0);
	db_close(db);
	strbuf_release(&err);
}

/* A name that is only a guess (Matrix's localpart) names a new user but
 * never replaces a stored one; the member row's last_seen is refreshed
 * hourly (at most two hours behind), written again after a drop and
 * after a rollback. */
static void test_user_seen(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "seen.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct sql *raw = raw_open(path);
	struct db_chat c;
	int64_t ana, bo, again;
	char name[64];
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "matrix", "!r:x", "en", "UTC", &c), 0);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@ana:x", "Ana María", false, 1000, &ana), 0);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@ana:x", "ana", true, 1100, &again), 0);
	CHECK_INT(again, ana);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@bo:x", "bo", true, 1100, &bo), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_user_find(db, "matrix", "@ana:x", &again, name, sizeof(name)), 1);
	CHECK_STR(name, "Ana María");
	CHECK_INT(db_user_find(db, "matrix", "@bo:x", &again, name, sizeof(name)), 1);
	CHECK_STR(name, "bo");
	const char *q = "SELECT last_seen FROM members WHERE user_id = ?1";
	CHECK_INT(count_of(raw, q, ana), 1000);
	/* Within the hour nothing is written; past it, the time is. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@ana:x", "ana", true, 4500, &again), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, q, ana), 1000);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@ana:x", "ana", true, 4700, &again), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, q, ana), 4700);
	/* A rolled-back write is written again. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@ana:x", "ana", true, 9000, &again), 0);
	CHECK_INT(db_rollback(db), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@ana:x", "ana", true, 9001, &again), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, q, ana), 9001);
	/* A dropped member is a member again at the next sight. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_member_drop(db, c.id, bo), 0);
	CHECK_INT(db_user_seen(db, c.id, "matrix", "@bo:x", "bo", true, 1200, &again), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, q, bo), 1200);
	sql_close(raw);
	db_close(db);
	strbuf_release(&err);
}

/* The events of a batch marked and looked up in one statement each: the
 * marked ones, any id (quotes, accents), the same id twice, none. */
static void test_seen(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "events.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	const char *marked[] = { "$a:x", NULL, "$q\"uo\\te:x", "$été:x", "$a:x" };
	const char *asked[] = { "$b:x", "$a:x", NULL, "$été:x", "$q\"uo\\te:x", "$a:x", "$c:x" };
	bool seen[7];
	CHECK_INT(db_seen_which(db, "matrix", asked, 7, seen), 0);
	for(int i = 0; i < 7; i++)
		CHECK(!seen[i]);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_seen_mark_all(db, "matrix", marked, 5, 1000), 0);
	CHECK_INT(db_seen_mark_all(db, "matrix", marked, 0, 1000), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_seen_which(db, "matrix", asked, 7, seen), 0);
	CHECK(!seen[0] && seen[1] && !seen[2] && seen[3] && seen[4] && seen[5] && !seen[6]);
	CHECK_INT(db_seen_check(db, "matrix", "$été:x"), 1);
	CHECK_INT(db_seen_check(db, "telegram", "$été:x"), 0);
	CHECK_INT(db_seen_which(db, "telegram", asked, 7, seen), 0);
	CHECK(!seen[1]);
	/* Marked twice: nothing changes, nothing fails. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_seen_mark_all(db, "matrix", asked, 7, 2000), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_seen_which(db, "matrix", asked, 7, seen), 0);
	CHECK(seen[0] && seen[1] && !seen[2] && seen[6]);
	db_close(db);
	strbuf_release(&err);
}

/* A meetup read again after a write shows the write: its title and
 * slots changed, its creator renamed, a change rolled back, its creator
 * forgotten (the reads may be answered from memory). */
static void test_meetup_reads(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "reads.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct db_chat c;
	int64_t ana;
	struct db_meetup m, got;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "console", "room", "en", "UTC", &c), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "ana", "Ana", false, 1000, &ana), 0);
	m = (struct db_meetup){ .chat_id = c.id, .creator = ana, .state = MEETUP_POLL, .created = 1000, .nslots = 1 };
	snprintf(m.title, sizeof(m.title), "Picnic");
	m.slots[0] = (struct db_slot){ .idx = 1, .start = 2000000000, .duration_min = 60 };
	CHECK_INT(db_meetup_insert(db, &m), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_meetup_get(db, c.id, m.num, &got), 1);
	CHECK_STR(got.title, "Picnic");
	CHECK_STR(got.creator_name, "Ana");
	CHECK_INT(db_meetup_get(db, c.id, m.num + 1, &got), 0);
	/* Changed. */
	CHECK_INT(db_begin(db), 0);
	snprintf(m.title, sizeof(m.title), "Picnic by the lake");
	CHECK_INT(db_meetup_update(db, &m), 0);
	CHECK_INT(db_meetup_get_by_id(db, m.id, &got), 1);
	CHECK_STR(got.title, "Picnic by the lake");
	CHECK_INT(db_user_seen(db, c.id, "console", "ana", "Ana María", false, 1000, &ana), 0);
	CHECK_INT(db_meetup_get(db, c.id, m.num, &got), 1);
	CHECK_STR(got.creator_name, "Ana María");
	CHECK_INT(db_commit(db), 0);
	/* Rolled back: the reads in the transaction saw the change, the
	 * next ones do not. */
	CHECK_INT(db_begin(db), 0);
	snprintf(m.title, sizeof(m.title), "Cancelled");
	CHECK_INT(db_meetup_update(db, &m), 0);
	CHECK_INT(db_meetup_get(db, c.id, m.num, &got), 1);
	CHECK_STR(got.title, "Cancelled");
	CHECK_INT(db_rollback(db), 0);
	CHECK_INT(db_meetup_get_by_id(db, m.id, &got), 1);
	CHECK_STR(got.title, "Picnic by the lake");
	/* A meetup inserted and rolled back leaves its number to the next one
	 * (on PostgreSQL the numbers are counted in memory); another chat
	 * counts from 1. */
	struct db_meetup extra = m, other = m;
	struct db_chat c2;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_meetup_insert(db, &extra), 0);
	CHECK_INT(extra.num, m.num + 1);
	CHECK_INT(db_rollback(db), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_meetup_insert(db, &extra), 0);
	CHECK_INT(extra.num, m.num + 1);
	CHECK(extra.id != m.id);
	CHECK_INT(db_chat_get(db, "console", "room 2", "en", "UTC", &c2), 0);
	other.chat_id = c2.id;
	CHECK_INT(db_meetup_insert(db, &other), 0);
	CHECK_INT(other.num, 1);
	CHECK_INT(db_meetup_insert(db, &other), 0);
	CHECK_INT(other.num, 2);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_meetup_get(db, c.id, m.num + 1, &got), 1);
	CHECK_INT(got.id, extra.id);
	CHECK_INT(got.nslots, 1);
	CHECK_INT(db_meetup_get(db, c2.id, 2, &got), 1);
	CHECK_INT(got.id, other.id);
	/* The creator forgotten: the meetup stays, without them. */
	int counts[DB_FORGET_COUNTS];
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_forget_user(db, c.id, ana, counts), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_meetup_get(db, c.id, m.num, &got), 1);
	CHECK_INT(got.creator, 0);
	CHECK_STR(got.creator_name, "");
	db_close(db);
	strbuf_release(&err);
}

/* The RSVPs (votes) of meetup_id as db_rsvps (db_votes) gives them, as
 * "name:answer ..." ("name:answers ..."), in order; "(failed)" when the
 * read failed.  Valid until the next call. */
static const char *listed(struct db *db, bool votes, int64_t meetup_id)
{
	static char out[256];
	struct db_people p = { 0 };
	size_t len = 0;
	out[0] = '\0';
	if(votes ? db_votes(db, meetup_id, &p) : db_rsvps(db, meetup_id, &p))
		snprintf(out, sizeof(out), "(failed)");
	for(size_t i = 0; i < p.n && len < sizeof(out); i++) {
		int w = votes ? snprintf(out + len, sizeof(out) - len, "%s%s:%s", i ? " " : "", p.v[i].name,
		                         p.v[i].answers)
		              : snprintf(out + len, sizeof(out) - len, "%s%s:%d", i ? " " : "", p.v[i].name,
		                         p.v[i].answer);
		len += w > 0 ? (size_t)w : 0;
	}
	db_people_release(&p);
	return out;
}

/* Empties what db keeps of its rows (a rollback does), so that the next
 * reads are the database's. */
static void drop_kept(struct db *db)
{
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_rollback(db), 0);
}

/* A meetup's RSVPs, their counts, a person's place in line and the first
 * who waits, as db gives them now, then as stored (what db keeps
 * dropped): each the same. */
static void check_rsvps_stored(struct db *db, int64_t meetup_id, const int64_t *users, size_t n, const char *want)
{
	char kept[256];
	struct db_rsvp_summary a[8], b[8];
	struct db_person fa, fb;
	int ha, hb;
	snprintf(kept, sizeof(kept), "%s", listed(db, false, meetup_id));
	for(size_t i = 0; i < n; i++)
		CHECK_INT(db_rsvp_summary(db, meetup_id, users[i], &a[i]), 0);
	ha = db_rsvp_first_waiting(db, meetup_id, &fa);
	drop_kept(db);
	CHECK_STR(kept, want);
	CHECK_STR(listed(db, false, meetup_id), want);
	for(size_t i = 0; i < n; i++) {
		CHECK_INT(db_rsvp_summary(db, meetup_id, users[i], &b[i]), 0);
		CHECK_INT(a[i].nin, b[i].nin);
		CHECK_INT(a[i].nwaiting, b[i].nwaiting);
		CHECK_INT(a[i].have_me, b[i].have_me);
		CHECK_STR(a[i].me.name, b[i].me.name);
		CHECK_INT(a[i].my_place, b[i].my_place);
		if(b[i].have_me) {
			CHECK_INT(a[i].me.answer, b[i].me.answer);
			CHECK_INT(a[i].me.waiting, b[i].me.waiting);
			CHECK_INT(a[i].me.reconfirm, b[i].me.reconfirm);
			CHECK_STR(a[i].me.ext_id, b[i].me.ext_id);
		}
	}
	hb = db_rsvp_first_waiting(db, meetup_id, &fb);
	CHECK_INT(ha, hb);
	if(ha == 1 && hb == 1)
		CHECK_STR(fa.name, fb.name);
	/* Read again, so that the next writes update a kept list. */
	CHECK_STR(listed(db, false, meetup_id), want);
}

/* The RSVP lists kept as this process writes them (db_rsvp_cache.c) are
 * what the database holds after each kind of write: a new person, the
 * same answer again (their place kept), a changed answer (to the end),
 * the waiting list and its order, a confirmation asked and given, an
 * answer withdrawn, and someone this process has not seen.  They are kept
 * (another session's change is not seen), dropped when a name changes
 * here and by a rollback; a list too long to keep is read each time. */
static void test_rsvps_kept(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT, e2 = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "kept.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct sql *raw = raw_open(path);
	struct db_chat c;
	int64_t u[5];
	const char *names[] = { "ana", "bo", "cy", "dee" };
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "console", "room", "en", "UTC", &c), 0);
	for(int i = 0; i < 4; i++)
		CHECK_INT(db_user_seen(db, c.id, "console", names[i], names[i], false, 1000, &u[i]), 0);
	struct db_meetup m = {
		.chat_id = c.id, .creator = u[0], .state = MEETUP_CONFIRMED, .nslots = 1, .max_people = 1
	};
	snprintf(m.title, sizeof(m.title), "Kept");
	m.slots[0] = (struct db_slot){ .idx = 1, .start = 2000000000, .duration_min = 60 };
	CHECK_INT(db_meetup_insert(db, &m), 0);
	CHECK_INT(db_rsvp_set(db, m.id, u[0], 2, false), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_STR(listed(db, false, m.id), "ana:2");

	struct {
		int who, answer; /* answer -1: withdrawn; -2: confirmation asked; -3: given */
		bool waiting;
		const char *want;
	} steps[] = {
		{ 1, 2, true, "ana:2 bo:2" },              /* someone new, waiting */
		{ 2, 1, false, "ana:2 bo:2 cy:1" },        /* a maybe */
		{ 3, 2, true, "ana:2 bo:2 cy:1 dee:2" },   /* second in line */
		{ 1, 2, true, "ana:2 bo:2 cy:1 dee:2" },   /* the same answer: same place */
		{ 0, 0, false, "bo:2 cy:1 dee:2 ana:0" },  /* changed: to the end */
		{ 1, 2, false, "bo:2 cy:1 dee:2 ana:0" },  /* off the waiting list */
		{ 0, -2, false, "bo:2 cy:1 dee:2 ana:0" }, /* the meetup moved */
		{ 1, -3, false, "bo:2 cy:1 dee:2 ana:0" }, /* bo confirms */
		{ 2, -1, false, "bo:2 dee:2 ana:0" },      /* cy withdraws */
		{ 2, 2, true, "bo:2 dee:2 ana:0 cy:2" },   /* and comes back, waiting */
	};
	for(size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int64_t who = u[steps[i].who];
		CHECK_INT(db_begin(db), 0);
		if(steps[i].answer == -1)
			CHECK_INT(db_rsvp_delete(db, m.id, who), 0);
		else if(steps[i].answer == -2)
			CHECK_INT(db_rsvp_mark_reconfirm(db, m.id), 0);
		else if(steps[i].answer == -3)
			CHECK_INT(db_rsvp_clear_reconfirm(db, m.id, who), 0);
		else
			CHECK_INT(db_rsvp_set(db, m.id, who, steps[i].answer, steps[i].waiting), 0);
		CHECK_INT(db_commit(db), 0);
		check_rsvps_stored(db, m.id, u, 4, steps[i].want);
	}

	/* Someone this process has not seen (another session added them):
	 * the list is read again, with their name. */
	CHECK_INT(sql_exec(raw, "INSERT INTO users (platform, ext_id, name) VALUES ('console', 'eve', 'Eve')", &e2), 0);
	CHECK_INT(count_of(raw, "SELECT max(id) FROM users WHERE id <> ?1", 0) > 0, 1);
	u[4] = count_of(raw, "SELECT max(id) FROM users WHERE id <> ?1", 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_rsvp_set(db, m.id, u[4], 1, false), 0);
	CHECK_INT(db_commit(db), 0);
	check_rsvps_stored(db, m.id, u, 5, "bo:2 dee:2 ana:0 cy:2 Eve:1");

	/* Kept: a name another session changes is not read. */
	CHECK_INT(sql_exec(raw, "UPDATE users SET name = 'Bob' WHERE ext_id = 'bo'", &e2), 0);
	CHECK_STR(listed(db, false, m.id), "bo:2 dee:2 ana:0 cy:2 Eve:1");
	/* A name changed here drops the lists. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "cy", "Cyril", false, 1000, &u[2]), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_STR(listed(db, false, m.id), "Bob:2 dee:2 ana:0 Cyril:2 Eve:1");
	/* So does a rollback: what it undid is not shown. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_rsvp_delete(db, m.id, u[3]), 0);
	CHECK_STR(listed(db, false, m.id), "Bob:2 ana:0 Cyril:2 Eve:1");
	CHECK_INT(db_rollback(db), 0);
	CHECK_STR(listed(db, false, m.id), "Bob:2 dee:2 ana:0 Cyril:2 Eve:1");

	/* A list too long to keep (over 1,024 answers) is read whole each
	 * time: another session's rename shows at once. */
	struct db_meetup big = m;
	big.id = 0;
	snprintf(big.title, sizeof(big.title), "Big");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_meetup_insert(db, &big), 0);
	for(int i = 0; i < 1030; i++) {
		char ext[16];
		int64_t id;
		snprintf(ext, sizeof(ext), "p%d", i);
		CHECK_INT(db_user_seen(db, c.id, "console", ext, ext, false, 1000, &id), 0);
		CHECK_INT(db_rsvp_set(db, big.id, id, 2, i >= 20), 0);
	}
	CHECK_INT(db_commit(db), 0);
	struct db_people p = { 0 };
	CHECK_INT(db_rsvps(db, big.id, &p), 0);
	CHECK_INT(p.n, 1030);
	CHECK_STR(p.n == 1030 ? p.v[1029].name : "", "p1029");
	db_people_release(&p);
	CHECK_INT(sql_exec(raw, "UPDATE users SET name = 'Last' WHERE ext_id = 'p1029'", &e2), 0);
	CHECK_INT(db_rsvps(db, big.id, &p), 0);
	CHECK_STR(p.n == 1030 ? p.v[1029].name : "", "Last");
	db_people_release(&p);
	struct db_rsvp_summary sum;
	CHECK_INT(db_rsvp_summary(db, big.id, 0, &sum), 0);
	CHECK_INT(sum.nin, 20);
	CHECK_INT(sum.nwaiting, 1010);

	db_close(db);
	sql_close(raw);
	strbuf_release(&e2);
	strbuf_release(&err);
}

/* The lists of RSVPs and votes read ahead for a batch's cards and polls
 * (one statement for them all on PostgreSQL) are the lists read one by
 * one: the same people in the same order, an empty list for a meetup
 * without any.  Each is taken once; a write of an RSVP, a vote or a name,
 * or a rollback, drops what is held, so no read shows a list older than
 * what is stored.  On PostgreSQL, where the lists are held, a change made
 * by another session meanwhile is not seen until then (which shows that
 * they came from memory); on SQLite, which reads each list when asked, it
 * is.  And someone the table holds whom this instance has not seen yet (a
 * standby that took over) keeps their id and name: on PostgreSQL the
 * first sight inserts in the same statement as the lookup. */
static void test_read_ahead(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct db *db, *other;
	bool pg = pg_test_on();
	path_of(path, sizeof(path), "ahead.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct sql *raw = raw_open(path);
	struct db_chat c;
	int64_t ana, bo, id;
	struct db_meetup m[3];
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "console", "room", "en", "UTC", &c), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "ana", "Ana", false, 1000, &ana), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "bo", "Bo", false, 1000, &bo), 0);
	for(int i = 0; i < 3; i++) {
		m[i] = (struct db_meetup){ .chat_id = c.id, .creator = ana, .state = MEETUP_CONFIRMED, .nslots = 1 };
		snprintf(m[i].title, sizeof(m[i].title), "M%d", i);
		m[i].slots[0] = (struct db_slot){ .idx = 1, .start = 2000000000, .duration_min = 60 };
		CHECK_INT(db_meetup_insert(db, &m[i]), 0);
	}
	CHECK_INT(db_rsvp_set(db, m[0].id, bo, 1, false), 0);
	CHECK_INT(db_rsvp_set(db, m[0].id, ana, 2, false), 0);
	CHECK_INT(db_rsvp_set(db, m[1].id, bo, 2, false), 0);
	CHECK_INT(db_vote_set(db, m[0].id, ana, "yn", 1000), 0);
	CHECK_INT(db_vote_set(db, m[2].id, bo, "ny", 1000), 0);
	CHECK_INT(db_commit(db), 0);

	int64_t ids[] = { m[1].id, m[0].id, m[2].id, m[0].id };
	struct strbuf e2 = STRBUF_INIT;
	CHECK_INT(db_read_ahead(db, DB_LIST_RSVPS, ids, 4), 0);
	CHECK_INT(db_read_ahead(db, DB_LIST_VOTES, ids, 3), 0);
	/* Renamed by another session: not in what is held. */
	CHECK_INT(sql_exec(raw, "UPDATE users SET name = 'Bob' WHERE ext_id = 'bo'", &e2), 0);
	CHECK_STR(listed(db, false, m[0].id), pg ? "Bo:1 Ana:2" : "Bob:1 Ana:2");
	CHECK_STR(listed(db, false, m[2].id), "");
	CHECK_STR(listed(db, true, m[2].id), pg ? "Bo:ny" : "Bob:ny");
	CHECK_STR(listed(db, true, m[0].id), "Ana:yn");
	/* Taken once, then kept as this process writes it (db_rsvp_cache.c):
	 * forgotten, it is read again as stored. */
	drop_kept(db);
	CHECK_STR(listed(db, false, m[0].id), "Bob:1 Ana:2");
	/* A write drops what is held: m[1]'s list, not taken yet, is read. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_rsvp_set(db, m[0].id, bo, 2, false), 0);
	CHECK_STR(listed(db, false, m[1].id), "Bob:2");
	CHECK_STR(listed(db, false, m[0].id), "Ana:2 Bob:2");
	/* So does a vote. */
	CHECK_INT(db_read_ahead(db, DB_LIST_VOTES, ids, 3), 0);
	CHECK_INT(db_vote_set(db, m[2].id, ana, "yy", 1001), 0);
	CHECK_STR(listed(db, true, m[2].id), "Bob:ny Ana:yy");
	CHECK_INT(db_commit(db), 0);
	/* And a rollback. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_read_ahead(db, DB_LIST_RSVPS, ids, 4), 0);
	CHECK_INT(db_rollback(db), 0);
	CHECK_INT(sql_exec(raw, "UPDATE users SET name = 'Bo' WHERE ext_id = 'bo'", &e2), 0);
	CHECK_STR(listed(db, false, m[0].id), "Ana:2 Bo:2");
	db_read_ahead_drop(db);
	strbuf_release(&e2);

	/* Another instance on the same database, which has not seen them:
	 * the one that took over from this one. */
	db_close(db);
	CHECK_INT(db_open(&other, path, &err), 0);
	CHECK_INT(db_begin(other), 0);
	CHECK_INT(db_user_seen(other, c.id, "console", "bo", "Bo", true, 2000, &id), 0);
	CHECK_INT(id, bo);
	CHECK_INT(db_user_seen(other, c.id, "console", "cy", "Cy", false, 2000, &id), 0);
	CHECK(id != ana && id != bo && id > 0);
	CHECK_INT(db_commit(other), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM users WHERE id <> ?1", 0), 3);
	char name[64];
	int64_t found;
	CHECK_INT(db_user_find(other, "console", "cy", &found, name, sizeof(name)), 1);
	CHECK_STR(name, "Cy");
	CHECK_INT(found, id);
	CHECK_INT(db_user_find(other, "console", "bo", &found, name, sizeof(name)), 1);
	CHECK_STR(name, "Bo");
	db_close(other);
	sql_close(raw);
	strbuf_release(&err);
}

/* The outbox's rows as read back: their ids and texts. */
struct outbox_seen {
	int n;
	int64_t first, last;
	bool texts_ok;
};

/* The text of the outbox's row i in test_rows_together: JSON holding
 * quotes, backslashes, braces, commas and accents. */
static void rows_action(char *out, size_t n, int i)
{
	snprintf(out, n, "%s%d\"}", "{\"kind\":1,\"text\":\"«\\\"Café\\\"», {a,b} \\\\ \\n", i);
}

static int outbox_seen_row(void *user, int64_t id, const char *json)
{
	struct outbox_seen *o = user;
	char want[512];
	rows_action(want, sizeof(want), o->n);
	if(strcmp(json, want)) {
		fprintf(stderr, "outbox row %d: %s\n  want: %s\n", o->n, json, want);
		o->texts_ok = false;
	}
	if(!o->n)
		o->first = id;
	o->last = id;
	o->n++;
	return 0;
}

/* The member and outbox rows of a transaction (on PostgreSQL kept and
 * sent together, db_rows.c) are there for every statement that reads or
 * deletes them after, in the order written, their texts exact whatever
 * they hold (quotes, backslashes, braces, commas, accents, new lines);
 * more of them than are sent at once; none after a rollback; a person seen
 * again an hour later in the same transaction has the later time; and a
 * person forgotten right after their first sight goes with their member
 * row. */
static void test_rows_together(void)
{
	char path[256];
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "rows.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct sql *raw = raw_open(path);
	struct db_chat c;
	int64_t uid[300], id;
	char ext[32];
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "console", "room", "en", "UTC", &c), 0);
	for(int i = 0; i < 300; i++) {
		snprintf(ext, sizeof(ext), "p%d", i);
		CHECK_INT(db_user_seen(db, c.id, "console", ext, ext, false, 1000, &uid[i]), 0);
	}
	char action[512];
	for(int i = 0; i < 600; i++) {
		rows_action(action, sizeof(action), i);
		CHECK_INT(db_outbox_add(db, action, 5000 + i, &id), 0);
	}
	/* Read in the same transaction: all there. */
	struct db_people p = { 0 };
	CHECK_INT(db_chat_members(db, c.id, &p), 0);
	CHECK_INT((int)p.n, 300);
	db_people_release(&p);
	struct outbox_seen o = { .texts_ok = true };
	CHECK_INT(db_outbox_each(db, outbox_seen_row, &o), 0);
	CHECK_INT(o.n, 600);
	CHECK(o.texts_ok);
	CHECK_INT(o.last, id);
	/* One of them deleted in the same transaction: gone. */
	CHECK_INT(db_outbox_add(db, "{\"kind\":1}", 6000, &id), 0);
	CHECK_INT(db_outbox_remove(db, id), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM members WHERE chat_id = ?1", c.id), 300);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM outbox WHERE id <> ?1", 0), 600);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM outbox WHERE id = ?1", id), 0);

	/* Rolled back: none of them. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "late", "Late", false, 1000, &id), 0);
	CHECK_INT(db_outbox_add(db, "{\"kind\":2}", 7000, &id), 0);
	CHECK_INT(db_rollback(db), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM members WHERE chat_id = ?1", c.id), 300);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM outbox WHERE id <> ?1", 0), 600);

	/* Seen again past the hour, in one transaction: the later time. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "late", "Late", false, 1000, &id), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "late", "Late", false, 4601, &id), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, "SELECT last_seen FROM members WHERE user_id = ?1", id), 4601);

	/* First seen, then forgotten, in one transaction. */
	int counts[DB_FORGET_COUNTS];
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c.id, "console", "brief", "Brief", false, 1000, &id), 0);
	CHECK_INT(db_forget_user(db, c.id, id, counts), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM members WHERE user_id = ?1", id), 0);
	CHECK_INT(count_of(raw, "SELECT count(*) FROM users WHERE id = ?1", id), 0);
	sql_close(raw);
	db_close(db);
	strbuf_release(&err);
}

/* How many statements of the trace at path (ENSEMBLE_SQL_TRACE's format:
 * the lengths of the text and of the expanded text, then both), between
 * the first one whose expanded text holds from and the first after it
 * whose expanded text holds to, have a text holding what. */
static long traced_between(const char *path, const char *from, const char *to, const char *what)
{
	FILE *f = fopen(path, "r");
	long count = 0;
	bool after = false;
	size_t n, m;
	while(f && fscanf(f, "%zu %zu\n", &n, &m) == 2) {
		char *text = calloc(1, n + m + 2);
		if(fread(text, 1, n + m + 1, f) != n + m + 1) {
			free(text);
			break;
		}
		text[n + m] = '\0';
		bool end = after && strstr(text + n, to);
		if(after && !end && strstr(text, what) && strstr(text, what) < text + n)
			count++;
		if(strstr(text + n, from))
			after = true;
		free(text);
		if(end)
			break;
	}
	if(f)
		fclose(f);
	return count;
}

/* The chats, users and meetups that every command looks up are answered
 * from memory, not read again, when they are as many as the benchmark's
 * (200 chats, 2,000 people, 600 meetups voted on): direct-mapped caches
 * read a fifth of them again at each pass, and a vote cost a round trip
 * more on PostgreSQL.  Rows beyond the caches' room are still found right.
 * SQLite only: the count comes from its statement trace. */
static void test_caches(void)
{
	char path[256], trace[300];
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "caches.db");
	snprintf(trace, sizeof(trace), "%s/caches.trace", dir);
	setenv("ENSEMBLE_SQL_TRACE", trace, 1);
	CHECK_INT(db_open(&db, path, &err), 0);
	unsetenv("ENSEMBLE_SQL_TRACE");
	enum { CHATS = 200, USERS = 2000, MORE = 6000 };
	static int64_t chat_ids[CHATS], user_ids[MORE], meetup_ids[CHATS][3];
	char ext[32];
	struct db_chat c;
	struct db_meetup m, got;
	CHECK_INT(db_begin(db), 0);
	for(int i = 0; i < CHATS; i++) {
		snprintf(ext, sizeof(ext), "c%d", i);
		CHECK_INT(db_chat_get(db, "console", ext, "en", "UTC", &c), 0);
		chat_ids[i] = c.id;
	}
	for(int i = 0; i < MORE; i++) {
		snprintf(ext, sizeof(ext), "u%d", i);
		CHECK_INT(db_user_seen(db, chat_ids[i % CHATS], "console", ext, ext, false, 1000, &user_ids[i]), 0);
	}
	for(int i = 0; i < CHATS; i++)
		for(int k = 0; k < 3; k++) {
			m = (struct db_meetup){
				.chat_id = chat_ids[i], .state = MEETUP_POLL, .created = 1000, .nslots = 1
			};
			snprintf(m.title, sizeof(m.title), "Meetup %d of c%d", k + 1, i);
			m.slots[0] = (struct db_slot){ .idx = 1, .start = 2000000000, .duration_min = 60 };
			CHECK_INT(db_meetup_insert(db, &m), 0);
			meetup_ids[i][k] = m.id;
		}
	CHECK_INT(db_commit(db), 0);
	/* The first pass fills the caches in order; the second looks up
	 * people, their chats and meetups at random, as commands do. */
	uint32_t seed = 1;
	for(int pass = 0; pass < 2; pass++) {
		if(pass) {
			struct strbuf none = STRBUF_INIT;
			CHECK_INT(db_kv_get(db, "test.caches.second", &none), 0);
			strbuf_release(&none);
		}
		CHECK_INT(db_begin(db), 0);
		for(int step = 0; step < USERS; step++) {
			int i = step, k = step % 3;
			if(pass) {
				seed = seed * 1103515245u + 12345u;
				i = (int)((seed >> 8) % USERS);
				k = (int)((seed >> 4) % 3);
			}
			int64_t id;
			snprintf(ext, sizeof(ext), "c%d", i % CHATS);
			CHECK_INT(db_chat_get(db, "console", ext, "en", "UTC", &c), 1);
			CHECK_INT(c.id, chat_ids[i % CHATS]);
			snprintf(ext, sizeof(ext), "u%d", i);
			CHECK_INT(db_user_seen(db, c.id, "console", ext, ext, false, 1000, &id), 0);
			CHECK_INT(id, user_ids[i]);
			CHECK_INT(db_meetup_get(db, c.id, k + 1, &got), 1);
			CHECK_INT(got.id, meetup_ids[i % CHATS][k]);
		}
		for(int i = 0; !pass && i < CHATS; i++)
			for(int k = 0; k < 3; k++)
				CHECK_INT(db_meetup_get_by_id(db, meetup_ids[i][k], &got), 1);
		CHECK_INT(db_commit(db), 0);
	}
	/* More people than the cache holds: each still has their own id. */
	struct strbuf none = STRBUF_INIT;
	CHECK_INT(db_kv_get(db, "test.caches.third", &none), 0);
	strbuf_release(&none);
	CHECK_INT(db_begin(db), 0);
	for(int i = MORE - 1; i >= 0; i--) {
		int64_t id;
		snprintf(ext, sizeof(ext), "u%d", i);
		CHECK_INT(db_user_seen(db, chat_ids[i % CHATS], "console", ext, ext, false, 1000, &id), 0);
		CHECK_INT(id, user_ids[i]);
	}
	CHECK_INT(db_commit(db), 0);
	db_close(db);
	const char *second = "test.caches.second", *third = "test.caches.third";
	long users = traced_between(trace, second, third, "FROM users WHERE platform");
	long chats = traced_between(trace, second, third, "FROM chats WHERE platform");
	long meetups = traced_between(trace, second, third, "FROM meetups m");
	long more = traced_between(trace, third, "(none)", "FROM users WHERE platform");
	/* Printed, so that a failure says by how much. */
	printf("# read again in %d commands: users %ld, chats %ld, meetups %ld; then %ld of %d people\n", USERS, users,
	       chats, meetups, more, MORE);
	CHECK(users <= USERS / 100);
	CHECK(chats == 0);
	CHECK(meetups <= 3 * USERS / 100);
	CHECK(more > 0);
	strbuf_release(&err);
}

/* db_probe opens the path anew: a database answers while the bot's own
 * connection is open; a file moved away does not, though the open
 * connection still works, and nothing is created where it was. */
static void test_probe(void)
{
	char path[256], away[300], why[160] = "";
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	path_of(path, sizeof(path), "probe.db");
	snprintf(away, sizeof(away), "%s.away", path);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "k", "v"), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_probe(path, why, sizeof(why)), 0);
	/* Inside the bot's open transaction too (WAL: readers do not wait). */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "k", "w"), 0);
	CHECK_INT(db_probe(path, why, sizeof(why)), 0);
	CHECK_INT(db_commit(db), 0);

	CHECK_INT(rename(path, away), 0);
	CHECK_INT(db_probe(path, why, sizeof(why)), -1);
	CHECK_STR(why, "unable to open database file");
	CHECK(access(path, F_OK) != 0);
	struct strbuf v = STRBUF_INIT;
	CHECK_INT(db_kv_get(db, "k", &v), 1);
	strbuf_release(&v);
	CHECK_INT(rename(away, path), 0);
	CHECK_INT(db_probe(path, why, sizeof(why)), 0);
	db_close(db);
	strbuf_release(&err);

	/* A file that is no database does not answer.  (Beside a running
	 * bot, the WAL may still hold the pages a probe reads: the file at
	 * the path is read for what the WAL does not hold.) */
	char junk[1024];
	memset(junk, 'x', sizeof(junk));
	path_of(path, sizeof(path), "junk.db");
	write_file(path, junk, sizeof(junk));
	CHECK_INT(db_probe(path, why, sizeof(why)), -1);
	CHECK_STR(why, "file is not a database");
}

/* On PostgreSQL: a database of a newer schema is refused with the same
 * sentence, and left as it was; the probe answers for a database that
 * exists, and not for one that does not. */
static void test_pg_only(const char *target)
{
	struct strbuf err = STRBUF_INIT;
	struct sql *c = NULL;
	struct db *db = NULL;
	char why[300] = "", missing[600];
	CHECK_INT(db_probe(target, why, sizeof(why)), 0);
	/* The figures for /metrics, from a connection of their own: a
	 * delivery recorded is no longer waiting. */
	int64_t ids[2];
	struct db_stats stats;
	CHECK_INT(db_open(&db, target, &err), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_outbox_add(db, "{}", 1000, &ids[0]), 0);
	CHECK_INT(db_outbox_add(db, "{}", 2000, &ids[1]), 0);
	CHECK_INT(db_commit(db), 0);
	db_outbox_done(db, ids[0], 3000);
	db_close(db); /* the delivery is a row of its own, not in memory */
	CHECK_INT(db_open(&db, target, &err), 0);
	struct db_stats_read *r = db_stats_begin(db);
	CHECK_INT(db_stats_read(r, &stats), 0);
	CHECK_INT(stats.outbox, 1);
	CHECK_INT(stats.outbox_oldest_ms, 2000);
	CHECK(stats.size_bytes > 1000000); /* pg_database_size */
	db_stats_end(r);
	db_close(db);
	db = NULL;
	snprintf(missing, sizeof(missing), "%s dbname=nothing_here", pg_test_cluster());
	CHECK_INT(db_probe(missing, why, sizeof(why)), -1);
	CHECK(strstr(why, "PostgreSQL has no database \"nothing_here\"") != NULL);
	CHECK_INT(sql_pg_connect(&c, target, &err), 0);
	CHECK_INT(sql_exec(c, "UPDATE ensemble_schema SET version = 999", &err), 0);
	CHECK_INT(db_open(&db, target, &err), -1);
	CHECK(strstr(err.buf, "newer Ensemble") != NULL);
	CHECK(strstr(err.buf, "999") != NULL);
	CHECK(strstr(err.buf, "dbname") == NULL); /* named, not quoted */
	struct sql_stmt *st = NULL;
	CHECK_INT(sql_prepare(c, "SELECT version FROM ensemble_schema", &st), 0);
	CHECK_INT(sql_step(st), SQL_ROW);
	CHECK_INT(sql_column_int64(st, 0), 999);
	sql_finalize(st);
	sql_close(c);
	strbuf_release(&err);
}

/* Reads back what db_kv_get gives for key: its value, or "(absent)". */
static const char *kv_now(struct db *db, const char *key, char *buf, size_t n)
{
	struct strbuf v = STRBUF_INIT;
	int rc = db_kv_get(db, key, &v);
	snprintf(buf, n, "%s", rc == 1 ? v.buf : rc == 0 ? "(absent)" : "(error)");
	strbuf_release(&v);
	return buf;
}

/* The fingerprints of what editable messages show (kv meetup.shown.REF,
 * bot/meetup.c) are kept in memory (storage/db_kv_shown.c): a write rolled
 * back must not be read back, or the next edit of that message, showing
 * what the rolled-back one would have, would be skipped as unchanged. */
static void test_shown(struct db *db)
{
	char buf[64];
	const char *key = "meetup.shown.m7";
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "(absent)");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, key, "0123456789abcdef"), 0);
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "0123456789abcdef");
	CHECK_INT(db_rollback(db), 0);
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "(absent)");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, key, "0123456789abcdef"), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "0123456789abcdef");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, key, "fedcba9876543210"), 0);
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "fedcba9876543210");
	CHECK_INT(db_rollback(db), 0);
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "0123456789abcdef");
	/* A value longer than a fingerprint is read from the table. */
	CHECK_INT(db_kv_set(db, key, "not a fingerprint but a longer text"), 0);
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "not a fingerprint but a longer text");
	CHECK_INT(db_kv_delete(db, key), 0);
	CHECK_STR(kv_now(db, key, buf, sizeof(buf)), "(absent)");
}

int main(void)
{
	bool pg = pg_test_on();
	if(!mkdtemp(dir))
		return 1;
	if(!pg)
		test_probe();
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
	CHECK_INT(db_user_seen(db, chat.id, "console", "alice", "Alice", false, 100, &uid1), 0);
	CHECK_INT(db_user_seen(db, chat.id, "console", "alice", "Alice", false, 200, &uid2), 0);
	CHECK_INT(db_user_seen(db, chat.id, "console", "alice", "Alice B.", false, 300, &uid3), 0);
	CHECK(uid1 > 0);
	CHECK_INT(uid1, uid2);
	CHECK_INT(uid1, uid3);
	CHECK_INT(db_kv_set(db, "telegram.offset", "42"), 0);
	CHECK_INT(db_kv_set(db, "telegram.offset", "43"), 0);
	/* A meetup's slots come back in the order of their numbers, however
	 * they were stored. */
	struct db_meetup poll = {
		.chat_id = chat.id, .creator = uid1, .duration_min = 60, .created = 100, .nslots = 3
	};
	snprintf(poll.title, sizeof(poll.title), "Order");
	for(int i = 0; i < 3; i++)
		poll.slots[i] = (struct db_slot){ .idx = (i + 2) % 3 + 1, .start = 2000000000 + 3600 * ((i + 2) % 3) };
	CHECK_INT(db_meetup_insert(db, &poll), 0);
	struct db_meetup back;
	CHECK_INT(db_meetup_get_by_id(db, poll.id, &back), 1);
	CHECK_INT(back.nslots, 3);
	for(int i = 0; i < 3; i++) {
		CHECK_INT(back.slots[i].idx, i + 1);
		CHECK_INT(back.slots[i].start, 2000000000 + 3600 * i);
	}
	CHECK_INT(db_commit(db), 0);

	/* A rolled-back transaction leaves nothing behind. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "telegram.offset", "99"), 0);
	CHECK_INT(db_rollback(db), 0);
	test_shown(db);
	db_close(db);

	/* Reopening continues where it stopped. */
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_chat_get(db, "console", "room", "fr", "UTC", &chat), 1);
	CHECK_STR(chat.lang, "en");
	CHECK_STR(chat.tz, "America/Montreal");
	CHECK_STR(chat.admin, "alice");
	/* A chat's title: none, set, changed. */
	char title[64];
	CHECK_INT(db_chat_title(db, chat.id, title, sizeof(title)), 0);
	CHECK_INT(db_chat_set_title(db, chat.id, "Club"), 0);
	CHECK_INT(db_chat_set_title(db, chat.id, "Reading club"), 0);
	CHECK_INT(db_chat_title(db, chat.id, title, sizeof(title)), 1);
	CHECK_STR(title, "Reading club");
	struct strbuf v = STRBUF_INIT;
	CHECK_INT(db_kv_get(db, "telegram.offset", &v), 1);
	CHECK_STR(v.buf, "43");
	strbuf_reset(&v);
	CHECK_INT(db_kv_get(db, "nothing", &v), 0);
	strbuf_release(&v);
	db_close(db);
	/* What follows, to the cache, is about SQLite's files. */
	if(pg) {
		test_pg_only(path);
		goto cache;
	}

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
				fprintf(stderr, "%s: mode %03o under umask %03o\n", side,
				        (unsigned)(fst.st_mode & 0777), (unsigned)masks[m]);
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

cache:
	/* Chats and users are cached, and the cache follows the database:
	 * what a rolled-back transaction created is created again, a new
	 * name and a new language show at once. */
	path_of(path, sizeof(path), "cache.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	struct db_chat c1, c2;
	int64_t u1 = 0, u2 = 0;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Ana", false, 1000, &u1), 0);
	db_rollback(db);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-200", "en", "UTC", &c2), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 0); /* created again */
	CHECK_INT(db_user_seen(db, c2.id, "telegram", "7", "Bo", false, 1000, &u2), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Ana", false, 1000, &u1), 0); /* member of a real chat */
	CHECK(u1 != u2);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 1);
	CHECK_INT(db_chat_set_lang(db, c1.id, "en"), 0);
	CHECK_INT(db_chat_get(db, "telegram", "-100", "fr", "Europe/Paris", &c1), 1);
	CHECK_STR(c1.lang, "en");
	int64_t again = 0;
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Ana María", false, 2000, &again), 0);
	CHECK_INT(again, u1);
	char uname[64] = "";
	CHECK_INT(db_user_name(db, u1, uname, sizeof(uname)), 1);
	CHECK_STR(uname, "Ana María");
	CHECK_INT(db_commit(db), 0);
	/* A rename rolled back leaves the old name, in the cache too: the
	 * same rename later is stored. */
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Nobody", false, 3000, &again), 0);
	db_rollback(db);
	CHECK_INT(db_user_name(db, u1, uname, sizeof(uname)), 1);
	CHECK_STR(uname, "Ana María");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_user_seen(db, c1.id, "telegram", "42", "Nobody", false, 4000, &again), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_user_name(db, u1, uname, sizeof(uname)), 1);
	CHECK_STR(uname, "Nobody");
	db_close(db);

	if(pg)
		goto forget; /* SQLite's migrations, and its locks */
	/* 6 -> 7: votes, RSVPs and members take their order from one counter,
	 * which starts above the numbers already used: a vote cast after the
	 * upgrade comes after the older ones. */
	path_of(path, sizeof(path), "v6.db");
	CHECK_INT(db_open(&db, path, &err), 0);
	db_close(db);
	sqlite3_open(path, &raw);
	CHECK_INT(
		sqlite3_exec(
			raw,
			"DELETE FROM kv WHERE key = 'db.seq';"
			"INSERT INTO chats (id, platform, ext_id, lang, tz) VALUES (1, 'console', 'c', 'fr', 'Europe/Paris');"
			"INSERT INTO users (id, platform, ext_id, name) VALUES (1, 'console', 'u', 'u'), (2, 'console', 'v', 'v');"
			"INSERT INTO meetups (id, chat_id, num, title, creator, state, duration_min, created_at) "
			"  VALUES (1, 1, 1, 'm', 1, 0, 120, 0);"
			"INSERT INTO votes (meetup_id, user_id, answers, voted_at, seq) VALUES (1, 1, '1', 0, 41);"
			/* A version 6 file has none of schema 12's triggers: those
	                 * on rsvps name meetups, which 8 -> 9 makes anew. */
			"DROP TRIGGER web_rsvp_insert; DROP TRIGGER web_rsvp_update; DROP TRIGGER web_rsvp_delete;"
			"PRAGMA user_version = 6",
			NULL, NULL, NULL),
		SQLITE_OK);
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
		CHECK_INT(sqlite3_exec(other, "BEGIN EXCLUSIVE; UPDATE kv SET value = 'v2' WHERE key = 'read.k'", NULL,
		                       NULL, NULL),
		          SQLITE_OK);
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

forget:
	test_forget();
	if(!pg)
		test_forget_reader();
	test_user_seen();
	test_meetup_reads();
	test_read_ahead();
	test_rsvps_kept();
	test_rows_together();
	if(!pg)
		test_caches();
	test_seen();

	strbuf_release(&err);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if(system(cmd))
		return 1;
	return check_done();
}
