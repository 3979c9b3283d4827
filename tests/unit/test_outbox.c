/* Actions survive a trip through the durable outbox: serialised, stored,
 * read back after a "crash" and delivered again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bot/action.h"
#include "storage/db.h"
#include "tests/unit/check.h"
#include "tests/unit/pg.h"

struct seen {
	int n;
	int64_t ids[8];
	char *json[8];
};

static int collect(void *user, int64_t id, const char *json)
{
	struct seen *s = user;
	if(s->n < 8) {
		s->ids[s->n] = id;
		s->json[s->n] = strdup(json);
		s->n++;
	}
	return 0;
}

/* The size of a file in bytes, -1 when it cannot be read. */
static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long size = -1;
	if(f && !fseek(f, 0, SEEK_END))
		size = ftell(f);
	if(f)
		fclose(f);
	return size;
}

/* What another connection reads of kv key in the SQLite file at path:
 * its value (static), or NULL when it has no such row. */
static const char *stored_kv(const char *path, const char *key)
{
	static char value[128];
	sqlite3 *raw = NULL;
	sqlite3_stmt *st = NULL;
	const char *found = NULL;
	if(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	   sqlite3_prepare_v2(raw, "SELECT value FROM kv WHERE key = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if(sqlite3_step(st) == SQLITE_ROW) {
			snprintf(value, sizeof(value), "%s", (const char *)sqlite3_column_text(st, 0));
			found = value;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(raw);
	return found;
}

/* db_journal_run's function in these tests: what an answered send left. */
static int set_sent(struct db *db, void *user)
{
	const char *mid = user;
	return db_kv_set_about(db, "telegram.msg.m9", mid, "-100", "u1") || db_kv_set(db, "telegram.ref.m9", mid) ? -1
	                                                                                                          : 0;
}

static int calls;
static int count_call(struct db *db, void *user)
{
	(void)db;
	(void)user;
	calls++;
	return 0;
}

/* The kv rows of db_journal_run (what a Telegram message or poll became)
 * are safe from the moment they are set, without a commit: in the
 * journal, read back at once, written by the next transaction, and by the
 * next open after a crash. */
static void test_kv_journal(const char *path)
{
	struct strbuf err = STRBUF_INIT, v = STRBUF_INIT;
	struct db *db;
	char journal[320];
	snprintf(journal, sizeof(journal), "%s-acks", path);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(file_size(journal), 0);

	/* Set without a transaction: read back at once, not yet in the table,
	 * in the journal. */
	CHECK_INT(db_journal_run(db, set_sent, "-100\t41"), 0);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 1);
	CHECK_STR(v.buf, "-100\t41");
	CHECK(stored_kv(path, "telegram.msg.m9") == NULL);
	CHECK(file_size(journal) > 0);
	/* Set again: the second value is the one read. */
	CHECK_INT(db_journal_run(db, set_sent, "-100\t42"), 0);
	strbuf_reset(&v);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 1);
	CHECK_STR(v.buf, "-100\t42");

	/* A crash (closing with no transaction): the next open writes them,
	 * the latest value last, and empties the journal. */
	db_close(db);
	CHECK_STR(stored_kv(path, "telegram.msg.m9") ? stored_kv(path, "telegram.msg.m9") : "(none)", "(none)");
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_STR(stored_kv(path, "telegram.msg.m9") ? stored_kv(path, "telegram.msg.m9") : "(none)", "-100\t42");
	CHECK_STR(stored_kv(path, "telegram.ref.m9") ? stored_kv(path, "telegram.ref.m9") : "(none)", "-100\t42");
	CHECK_INT(file_size(journal), 0);

	/* The next transaction writes them; a rollback keeps them for the
	 * one after; a commit empties the journal. */
	CHECK_INT(db_journal_run(db, set_sent, "-100\t43"), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_rollback(db), 0);
	strbuf_reset(&v);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 1);
	CHECK_STR(v.buf, "-100\t43");
	CHECK_STR(stored_kv(path, "telegram.msg.m9"), "-100\t42");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_STR(stored_kv(path, "telegram.msg.m9"), "-100\t43");
	CHECK_INT(file_size(journal), 0);

	/* Inside a transaction the function does not run: the caller writes
	 * in one. */
	CHECK_INT(db_begin(db), 0);
	calls = 0;
	CHECK_INT(db_journal_run(db, count_call, NULL), 1);
	CHECK_INT(calls, 0);
	CHECK_INT(db_commit(db), 0);

	/* A row deleted by a transaction (/forget me deletes a person's
	 * rows) stays deleted: it was in the table before the delete ran. */
	CHECK_INT(db_journal_run(db, set_sent, "-100\t44"), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_delete(db, "telegram.msg.m9"), 0);
	CHECK_INT(db_commit(db), 0);
	strbuf_reset(&v);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 0);
	CHECK(stored_kv(path, "telegram.msg.m9") == NULL);

	/* The row comes before its send's delivery, which a crash then
	 * keeps too; a torn record at the end (a write cut short) is left
	 * out, and the rest applied. */
	int64_t id;
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"telegram\",\"chat\":\"-100\",\"text\":\"x\"}", 1, &id),
	          0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_journal_run(db, set_sent, "-100\t45"), 0);
	db_outbox_done(db, id, 1);
	db_close(db);
	FILE *f = fopen(journal, "ab");
	int64_t torn = -64;
	CHECK(f && fwrite(&torn, sizeof(torn), 1, f) == 1 && fwrite("\3telegram.msg.", 14, 1, f) == 1);
	if(f)
		fclose(f);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_STR(stored_kv(path, "telegram.msg.m9") ? stored_kv(path, "telegram.msg.m9") : "(none)", "-100\t45");
	struct seen s = { 0 };
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	for(int i = 0; i < s.n; i++) {
		CHECK(s.ids[i] != id); /* delivered: not sent again */
		free(s.json[i]);
	}
	CHECK_INT(file_size(journal), 0);
	db_close(db);
	strbuf_release(&v);
	strbuf_release(&err);
}

static int drop_sent(struct db *db, void *user)
{
	(void)user;
	return db_kv_delete(db, "telegram.msg.m9");
}

/* A deletion journaled (Matrix's answers remove a poll from a room's open
 * ones): read at once as none, kept over a crash, and written by the next
 * transaction; a set after it wins again. */
static void test_kv_journal_delete(const char *path)
{
	struct strbuf err = STRBUF_INIT, v = STRBUF_INIT;
	struct db *db;
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_kv_set(db, "telegram.msg.m9", "-100\t50"), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(db_journal_run(db, drop_sent, NULL), 0);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 0);
	CHECK_STR(stored_kv(path, "telegram.msg.m9") ? stored_kv(path, "telegram.msg.m9") : "(none)", "-100\t50");
	/* A crash: the next open deletes it. */
	db_close(db);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK(stored_kv(path, "telegram.msg.m9") == NULL);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 0);
	/* Set, deleted, set again, all journaled: the last one stands, read
	 * at once and written by the next transaction. */
	CHECK_INT(db_journal_run(db, set_sent, "-100\t51"), 0);
	CHECK_INT(db_journal_run(db, drop_sent, NULL), 0);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 0);
	CHECK_INT(db_journal_run(db, set_sent, "-100\t52"), 0);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 1);
	CHECK_STR(v.buf, "-100\t52");
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK_STR(stored_kv(path, "telegram.msg.m9") ? stored_kv(path, "telegram.msg.m9") : "(none)", "-100\t52");
	/* Deleted and then a transaction: gone from the table. */
	CHECK_INT(db_journal_run(db, drop_sent, NULL), 0);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK(stored_kv(path, "telegram.msg.m9") == NULL);
	db_close(db);
	strbuf_release(&v);
	strbuf_release(&err);
}

/* Adds an action to the outbox in a transaction of its own: its id. */
static int64_t add_action(struct db *db, const char *text)
{
	char json[160];
	int64_t id = 0;
	snprintf(json, sizeof(json), "{\"kind\":0,\"platform\":\"telegram\",\"chat\":\"-100\",\"text\":\"%s\"}", text);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_outbox_add(db, json, 1, &id), 0);
	CHECK_INT(db_commit(db), 0);
	return id;
}

/* Whether the outbox still holds id (to be sent again at the next start). */
static bool outbox_has(struct db *db, int64_t id)
{
	struct seen s = { 0 };
	bool found = false;
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	for(int i = 0; i < s.n; i++) {
		found = found || s.ids[i] == id;
		free(s.json[i]);
	}
	return found;
}

/* db_journal_hold: what a settle stores and acknowledges goes to the
 * journal in one piece at the flush, nothing before it; a commit in
 * between rewrites the journal from memory; a close flushes. */
static void test_journal_hold(const char *path)
{
	struct strbuf err = STRBUF_INIT, v = STRBUF_INIT;
	struct db *db;
	char journal[320];
	snprintf(journal, sizeof(journal), "%s-acks", path);
	CHECK_INT(db_open(&db, path, &err), 0);
	int64_t a = add_action(db, "a"), b = add_action(db, "b");
	CHECK_INT(file_size(journal), 0);

	/* Gathered: nothing written until the flush, then all of it. */
	db_journal_hold(db);
	CHECK_INT(db_journal_run(db, set_sent, "-100\t46"), 0);
	db_outbox_done(db, a, 1);
	db_outbox_done(db, b, 1);
	CHECK_INT(file_size(journal), 0);
	CHECK_INT(db_kv_get(db, "telegram.msg.m9", &v), 1); /* read at once all the same */
	CHECK_STR(v.buf, "-100\t46");
	db_journal_flush(db);
	long whole = file_size(journal);
	CHECK(whole > 2 * 8);
	/* A crash now: the next open has the row and both deliveries. */
	db_close(db);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK_STR(stored_kv(path, "telegram.msg.m9") ? stored_kv(path, "telegram.msg.m9") : "(none)", "-100\t46");
	CHECK(!outbox_has(db, a));
	CHECK(!outbox_has(db, b));
	CHECK_INT(file_size(journal), 0);

	/* A commit while a hold lasts deletes the delivered rows and empties
	 * the journal; the flush then writes nothing. */
	int64_t c = add_action(db, "c");
	db_journal_hold(db);
	db_outbox_done(db, c, 1);
	CHECK_INT(db_begin(db), 0);
	CHECK_INT(db_outbox_forget(db), 0);
	CHECK_INT(db_commit(db), 0);
	db_journal_flush(db);
	CHECK_INT(file_size(journal), 0);
	CHECK(!outbox_has(db, c));

	/* A hold never flushed: the close writes what it gathered. */
	int64_t d = add_action(db, "d");
	db_journal_hold(db);
	db_outbox_done(db, d, 1);
	CHECK_INT(file_size(journal), 0);
	db_close(db);
	CHECK_INT(file_size(journal), 8);
	CHECK_INT(db_open(&db, path, &err), 0);
	CHECK(!outbox_has(db, d));
	db_close(db);
	strbuf_release(&v);
	strbuf_release(&err);
}

int main(void)
{
	char dir[] = "/tmp/ensemble-test-outbox-XXXXXX";
	char path[300];
	if(!mkdtemp(dir))
		return 1;
	if(pg_test_target(path, sizeof(path), dir, "t.db"))
		return 1;
	/* On PostgreSQL the journal is rows of outbox_acks, not a file. */
	bool pg = pg_test_on();

	struct outbox ob;
	outbox_init(&ob);
	struct action *a = outbox_push(&ob, ACTION_SEND_POLL, "telegram", "-100123", "<b>Poll</b> &amp; text");
	action_set(&a->key, "m1.1");
	action_set(&a->ref, "meetup:3:poll");
	action_set(&a->question, "Café \"philo\"");
	action_add_option(a, "jeudi 3 décembre, 19 h 00 – 21 h 00");
	action_add_option(a, "vendredi 4 décembre");
	action_add_button(a, "Oui", "rsvp:3:y");
	char *json = action_to_json(a);
	CHECK(json != NULL);

	struct outbox back;
	outbox_init(&back);
	CHECK_INT(action_from_json(&back, json), 0);
	CHECK_INT(back.n, 1);
	if(back.n == 1) {
		struct action *b = &back.v[0];
		CHECK_INT(b->kind, ACTION_SEND_POLL);
		CHECK_STR(b->platform, "telegram");
		CHECK_STR(b->chat_id, "-100123");
		CHECK_STR(b->text, "<b>Poll</b> &amp; text");
		CHECK_STR(b->key, "m1.1");
		CHECK_STR(b->ref, "meetup:3:poll");
		CHECK_STR(b->question, "Café \"philo\"");
		CHECK_INT(b->n_options, 2);
		CHECK_STR(b->options[1], "vendredi 4 décembre");
		CHECK_INT(b->n_buttons, 1);
		CHECK_STR(b->buttons[0].data, "rsvp:3:y");
		CHECK(b->reply_to == NULL);
	}
	/* Every character survives the hand-written writer: quotes,
	 * backslashes, new lines, tabs, other control characters, non-ASCII. */
	{
		static const char tricky[] = "a \"q\" \\ b\nc\td\x01\x1f é€😀 </b>";
		struct outbox ob2, back2;
		outbox_init(&ob2);
		outbox_init(&back2);
		struct action *t = outbox_push(&ob2, ACTION_REPLY, "matrix", "!r:x", tricky);
		action_set(&t->reply_to, "$ev\\1");
		action_add_button(t, tricky, "rsvp:1:y");
		char *j2 = action_to_json(t);
		CHECK(j2 != NULL && action_from_json(&back2, j2) == 0 && back2.n == 1);
		if(back2.n == 1) {
			CHECK_STR(back2.v[0].text, tricky);
			CHECK_STR(back2.v[0].reply_to, "$ev\\1");
			CHECK_STR(back2.v[0].buttons[0].label, tricky);
			CHECK(back2.v[0].question == NULL && back2.v[0].n_options == 0);
		}
		free(j2);
		/* Text that is not UTF-8 is not written at all. */
		struct action *bad = outbox_push(&ob2, ACTION_SEND_TEXT, "matrix", "!r:x", "caf\xe9");
		CHECK(action_to_json(bad) == NULL);
		outbox_release(&ob2);
		outbox_release(&back2);
	}
	/* What is not an action is refused, not half-read. */
	CHECK_INT(action_from_json(&back, "{\"kind\": 99, \"platform\": \"x\", \"chat\": \"y\"}"), -1);
	CHECK_INT(action_from_json(&back, "not json"), -1);
	CHECK_INT(action_from_json(&back, "{\"kind\": 0}"), -1);
	CHECK_INT(back.n, 1);

	/* Stored in a committed transaction, it is there after a reopen until
	 * removed. */
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	CHECK_INT(db_open(&db, path, &err), 0);
	int64_t id1, id2;
	db_begin(db);
	CHECK_INT(db_outbox_add(db, json, 1000, &id1), 0);
	CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"c\",\"text\":\"hi\"}", 1001, &id2),
	          0);
	CHECK_INT(db_commit(db), 0);
	/* A rolled-back one never existed. */
	int64_t id3;
	db_begin(db);
	db_outbox_add(db, "{}", 1002, &id3);
	db_rollback(db);
	db_close(db);

	CHECK_INT(db_open(&db, path, &err), 0);
	struct seen s = { 0 };
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	CHECK_INT(s.n, 2);
	CHECK_INT(s.ids[0], id1);
	CHECK_INT(s.ids[1], id2);
	if(s.n == 2)
		CHECK_STR(s.json[0], json);
	db_begin(db);
	CHECK_INT(db_outbox_remove(db, id1), 0);
	db_commit(db);
	for(int i = 0; i < s.n; i++)
		free(s.json[i]);
	memset(&s, 0, sizeof(s));
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.ids[0], id2);
	for(int i = 0; i < s.n; i++)
		free(s.json[i]);

	/* A delivery is recorded in the journal at once: a crash before any
	 * transaction (here: closing without one) does not send it again. */
	int64_t id4, id5;
	db_begin(db);
	CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"c\",\"text\":\"4\"}", 1003, &id4),
	          0);
	CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"c\",\"text\":\"5\"}", 1004, &id5),
	          0);
	CHECK_INT(db_commit(db), 0);
	/* Stored by the instance that opened it again, they come after those
	 * stored before, in the order they were stored (the order they are
	 * sent again in). */
	CHECK(id2 < id4 && id4 < id5);
	db_outbox_done(db, id2, 0);
	db_outbox_done(db, id4, 0);
	char journal[320];
	snprintf(journal, sizeof(journal), "%s-acks", path);
	if(!pg)
		CHECK_INT(file_size(journal), 16);
	/* One delivery is not worth a transaction yet; a second-old one is. */
	CHECK(!db_outbox_should_forget(db, 500));
	CHECK(db_outbox_should_forget(db, 1000));
	db_close(db);
	CHECK_INT(db_open(&db, path, &err), 0);
	memset(&s, 0, sizeof(s));
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.ids[0], id5);
	for(int i = 0; i < s.n; i++)
		free(s.json[i]);
	if(!pg)
		CHECK_INT(file_size(journal), 0);
	/* Rows forgotten in a transaction that rolls back are forgotten again
	 * by the next one; the journal empties when one commits. */
	db_outbox_done(db, id5, 0);
	db_begin(db);
	CHECK_INT(db_outbox_forget(db), 0);
	db_rollback(db);
	CHECK(db_outbox_should_forget(db, 5000));
	db_begin(db);
	CHECK_INT(db_outbox_forget(db), 0);
	CHECK_INT(db_commit(db), 0);
	CHECK(!db_outbox_should_forget(db, 5000));
	memset(&s, 0, sizeof(s));
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	CHECK_INT(s.n, 0);
	if(!pg)
		CHECK_INT(file_size(journal), 0);
	/* A burst of deliveries, more than one statement deletes on
	 * PostgreSQL, is forgotten whole by the commit (not only at the next
	 * start, which applies the records left): none is sent again. */
	int64_t burst[300];
	db_begin(db);
	for(int i = 0; i < 300; i++)
		CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"c\",\"text\":\"b\"}", 1003,
		                        &burst[i]),
		          0);
	CHECK_INT(db_commit(db), 0);
	for(int i = 0; i < 300; i++)
		db_outbox_done(db, burst[i], 0);
	db_begin(db);
	CHECK_INT(db_outbox_forget(db), 0);
	CHECK_INT(db_commit(db), 0);
	memset(&s, 0, sizeof(s));
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	CHECK_INT(s.n, 0);
	if(pg) {
		/* Rows of outbox_acks: no journal for kv rows either. */
		calls = 0;
		CHECK_INT(db_journal_run(db, count_call, NULL), 1);
		CHECK_INT(calls, 0);
		db_close(db);
		goto out;
	}

	/* A crash between a commit that deleted a delivered row and the
	 * journal's truncation leaves that record behind, applied at the next
	 * open.  It must not take a newer action with it: ids are never used
	 * twice, even once the outbox is empty (here the kept copy of the
	 * journal plays the crash). */
	int64_t id6, id7;
	db_begin(db);
	CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"c\",\"text\":\"6\"}", 1005, &id6),
	          0);
	CHECK_INT(db_commit(db), 0);
	db_outbox_done(db, id6, 0);
	char saved[340], cmd[800];
	snprintf(saved, sizeof(saved), "%s.kept", journal);
	snprintf(cmd, sizeof(cmd), "cp %s %s", journal, saved);
	CHECK_INT(system(cmd), 0);
	db_begin(db);
	CHECK_INT(db_outbox_forget(db), 0); /* the outbox is empty now */
	CHECK_INT(db_outbox_add(db, "{\"kind\":0,\"platform\":\"console\",\"chat\":\"c\",\"text\":\"7\"}", 1006, &id7),
	          0);
	CHECK_INT(db_commit(db), 0);
	CHECK(id7 != id6);
	db_close(db);
	snprintf(cmd, sizeof(cmd), "mv %s %s", saved, journal);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(db_open(&db, path, &err), 0);
	memset(&s, 0, sizeof(s));
	CHECK_INT(db_outbox_each(db, collect, &s), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.ids[0], id7);
	for(int i = 0; i < s.n; i++)
		free(s.json[i]);
	db_close(db);
	test_kv_journal(path);
	test_journal_hold(path);
	test_kv_journal_delete(path);

out:
	free(json);
	outbox_release(&ob);
	outbox_release(&back);
	strbuf_release(&err);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if(system(path))
		return 1;
	return check_done();
}
