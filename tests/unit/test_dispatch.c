/* The dispatcher and argument parsing, through the real bot on a real
 * database, with an adapter that records what it is asked to send. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot/dispatch.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "lib/clock.h"
#include "storage/db.h"
#include "tests/unit/check.h"
#include "tests/unit/pg.h"

static struct outbox sent;
/* When set, every delivery checks, from a connection of its own (as another
 * process would), that the batch's state is committed. */
static const char *watch_path;
static int sent_uncommitted;

static bool batch_committed(const char *path)
{
	struct sql *raw = NULL;
	struct sql_stmt *st = NULL;
	struct strbuf err = STRBUF_INIT;
	bool found = false;
	int rc = pg_test_on() ? sql_pg_connect(&raw, path, &err)
	                      : sql_sqlite_open(&raw, path, SQLITE_OPEN_READONLY, &err);
	if(rc == 0 && sql_prepare(raw, "SELECT 1 FROM kv WHERE key = 'test.batch'", &st) == 0)
		found = sql_step(st) == SQL_ROW;
	sql_finalize(st);
	sql_close(raw);
	strbuf_release(&err);
	return found;
}

static bool unreachable; /* what the recording adapter says of its server */

/* The recording port: the platform "test", whose deliveries are kept in
 * sent; an action for another platform waits in the outbox. */
static bool rec_reachable(void *user, const char *platform)
{
	(void)user;
	(void)platform;
	return !unreachable;
}
static int rec_deliver(void *user, const struct action *act)
{
	(void)user;
	if(strcmp(act->platform, "test"))
		return 1;
	if(watch_path && !batch_committed(watch_path))
		sent_uncommitted++;
	struct action *c = outbox_push(&sent, act->kind, act->platform, act->chat_id, act->text);
	if(c) {
		action_set(&c->reply_to, act->reply_to);
		action_set(&c->key, act->key);
		action_set(&c->ref, act->ref);
		for(size_t i = 0; i < act->n_options; i++)
			action_add_option(c, act->options[i]);
		for(size_t i = 0; i < act->n_buttons; i++)
			action_add_button(c, act->buttons[i].label, act->buttons[i].data);
	}
	return 0;
}

static const struct bot_port rec_port = {
	.deliver = rec_deliver,
	.reachable = rec_reachable,
};

static struct bot bot;
static int msg_seq;

static void say(const char *user, const char *text)
{
	char id[16];
	snprintf(id, sizeof(id), "m%d", ++msg_seq);
	struct event ev = {
		.kind = EVENT_MESSAGE,
		.platform = "test",
		.chat_id = "room",
		.sender_id = user,
		.sender_name = user,
		.message_id = id,
		.text = text,
		.time = clock_now(),
	};
	outbox_release(&sent);
	bot_handle_event(&bot, &ev);
}

/* A message from the group's anonymous administrators, who share one
 * identity (Telegram's sender_chat). */
static void say_as_group(const char *text)
{
	char id[16];
	snprintf(id, sizeof(id), "m%d", ++msg_seq);
	struct event ev = {
		.kind = EVENT_MESSAGE,
		.platform = "test",
		.chat_id = "room",
		.sender_id = "room",
		.sender_name = "The group",
		.message_id = id,
		.text = text,
		.time = clock_now(),
		.anonymous = true,
	};
	outbox_release(&sent);
	bot_handle_event(&bot, &ev);
}

/* The plain text of the only message sent, or "" when none or several. */
static const char *only(void)
{
	return sent.n == 1 ? sent.v[0].text : "";
}

/* ---- batches spread over turns of the loop ---- */

static int done_calls, done_rc;
static int state_writes;
static bool state_fails;

static void on_done(void *user, int rc)
{
	(void)user;
	done_calls++;
	done_rc = rc;
}

static int batch_state(void *user, struct db *db)
{
	(void)user;
	if(state_fails)
		return -1;
	state_writes++;
	return db_kv_set(db, "test.batch", "stored");
}

/* n (at most 20) /start messages from three people, as one batch: 3 is
 * committed at once, 20 on a thread. */
#define BATCH_MAX 20
static struct event batch_evs[BATCH_MAX];
static void make_batch_of(int n)
{
	static char ids[BATCH_MAX][16];
	static const char *who[3] = { "bea", "carl", "dora" };
	for(int i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "m%d", ++msg_seq);
		batch_evs[i] = (struct event){
			.kind = EVENT_MESSAGE,
			.platform = "test",
			.chat_id = "room",
			.sender_id = who[i % 3],
			.sender_name = who[i % 3],
			.message_id = ids[i],
			.text = "/start",
			.time = clock_now(),
		};
	}
	done_calls = 0;
	done_rc = 99;
	outbox_release(&sent);
}

static void make_batch(void)
{
	make_batch_of(3);
}

/* Turns the loop until the batch of 20 submitted is done: its replies
 * must leave over several turns (not all in one), in the order of its
 * events, none before its commit, and done must come once, with 0.  Stops
 * watching the commit (watch_path). */
static void check_delivered_over_turns(uv_loop_t *loop)
{
	size_t last = 0;
	bool spread = false, ordered = true;
	for(int turns = 0; !done_calls && turns < 1000; turns++) {
		uv_run(loop, UV_RUN_ONCE);
		if(sent.n > last && sent.n < 20)
			spread = true;
		last = sent.n;
	}
	for(size_t i = 0; i < sent.n; i++)
		if(strcmp(sent.v[i].reply_to, batch_evs[i].message_id))
			ordered = false;
	CHECK_INT(sent.n, 20);
	CHECK(spread);
	CHECK(ordered);
	watch_path = NULL;
	CHECK_INT(done_calls, 1);
	CHECK_INT(done_rc, 0);
	CHECK_INT(sent_uncommitted, 0);
}

/* On SQLite a submitted batch runs one event per turn of the loop. */
static void check_batches_on_loop(uv_loop_t *loop, struct db *db, const char *path)
{
	/* A submitted batch runs one event per turn of the loop, in one
	 * transaction: nothing leaves and done is not called before it
	 * commits (a small batch at once, after its last event), as another
	 * process sees it; then every reply leaves, in order, and done once. */
	make_batch();
	watch_path = path;
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 3, batch_state, on_done, NULL), 0);
	CHECK(!bot_batch_open(&bot));
	CHECK_INT(done_calls, 0);
	for(int i = 0; i < 2; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		CHECK(bot_batch_open(&bot));
		CHECK_INT(sent.n, 0);
	}
	uv_run(loop, UV_RUN_NOWAIT); /* the last event, and the commit */
	CHECK(!bot_batch_open(&bot));
	CHECK(batch_committed(path));
	CHECK_INT(sent.n, 0);
	CHECK_INT(done_calls, 0);
	uv_run(loop, UV_RUN_NOWAIT);
	watch_path = NULL;
	CHECK_INT(done_calls, 1);
	CHECK_INT(done_rc, 0);
	CHECK_INT(sent.n, 3);
	CHECK_INT(sent_uncommitted, 0);
	CHECK(sent.n == 3 && !strcmp(sent.v[0].reply_to, batch_evs[0].message_id) &&
	      !strcmp(sent.v[2].reply_to, batch_evs[2].message_id));
	CHECK_INT(db_kv_delete(db, "test.batch"), 0);

	/* A large batch commits on a thread: while it does, the batch counts
	 * as open and nothing leaves; then its replies leave over several
	 * turns (8 a turn), in order, and done comes after the last. */
	make_batch_of(20);
	watch_path = path;
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 20, batch_state, on_done, NULL), 0);
	for(int i = 0; i < 19; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		CHECK(bot_batch_open(&bot));
	}
	/* The last event starts the commit in the idle phase of this turn; a
	 * thread quick enough to end it before the same turn polls may end the
	 * batch here already, but none of its replies leaves in this turn. */
	uv_run(loop, UV_RUN_NOWAIT);
	CHECK(bot_batch_open(&bot) || batch_committed(path));
	CHECK_INT(sent.n, 0);
	check_delivered_over_turns(loop);
	CHECK_INT(db_kv_delete(db, "test.batch"), 0);

	/* Using the database while the batch commits waits for the commit,
	 * which is then done; the replies still leave from the loop. */
	make_batch_of(20);
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 20, batch_state, on_done, NULL), 0);
	for(int i = 0; i < 19; i++)
		uv_run(loop, UV_RUN_NOWAIT);
	CHECK(bot_batch_open(&bot));
	uv_run(loop, UV_RUN_NOWAIT); /* the commit starts (and may end, see above) */
	{
		struct strbuf v = STRBUF_INIT;
		CHECK_INT(db_kv_get(db, "test.batch", &v), 1);
		strbuf_release(&v);
	}
	CHECK(batch_committed(path));
	CHECK_INT(sent.n, 0);
	for(int turns = 0; !done_calls && turns < 1000; turns++)
		uv_run(loop, UV_RUN_ONCE);
	CHECK_INT(done_calls, 1);
	CHECK_INT(sent.n, 20);
	CHECK_INT(db_kv_delete(db, "test.batch"), 0);

	/* Anyone who needs the database meanwhile ends the open batch first
	 * (db_begin yields): it commits at once, but its replies and done
	 * still wait for the next turn. */
	make_batch();
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 3, batch_state, on_done, NULL), 0);
	uv_run(loop, UV_RUN_NOWAIT);
	CHECK(bot_batch_open(&bot));
	CHECK_INT(db_begin(db), 0);
	CHECK(!bot_batch_open(&bot));
	{
		struct strbuf v = STRBUF_INIT;
		CHECK_INT(db_kv_get(db, "test.batch", &v), 1); /* committed with it */
		strbuf_release(&v);
	}
	CHECK_INT(db_commit(db), 0);
	CHECK_INT(sent.n, 0);
	CHECK_INT(done_calls, 0);
	uv_run(loop, UV_RUN_NOWAIT);
	CHECK_INT(done_calls, 1);
	CHECK_INT(sent.n, 3);
}

/* A run that holds the database on a thread until it is let go. */
static uv_sem_t hold_sem;
static int hold_done_calls;
static void hold_work(struct db *db, void *user)
{
	(void)db;
	(void)user;
	uv_sem_wait(&hold_sem);
}
static void hold_done(void *user)
{
	(void)user;
	hold_done_calls++;
}

/* On PostgreSQL, an ended batch's replies are handed to the adapters only
 * while no thread holds the database (an adapter may read it to deliver):
 * a run started between two turns of its deliveries holds them back, and
 * they go on, in order, once it is over. */
static void check_deliveries_wait_for_thread(uv_loop_t *loop)
{
	make_batch_of(20);
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 20, batch_state, on_done, NULL), 0);
	for(int turns = 0; sent.n == 0 && turns < 1000; turns++)
		uv_run(loop, UV_RUN_ONCE);
	CHECK(sent.n > 0 && sent.n < 20);
	size_t before = sent.n;
	CHECK_INT(uv_sem_init(&hold_sem, 0), 0);
	hold_done_calls = 0;
	CHECK_INT(db_run_start(bot.db, loop, hold_work, hold_done, NULL), 0);
	for(int i = 0; i < 5; i++)
		uv_run(loop, UV_RUN_NOWAIT);
	CHECK_INT(sent.n, before);
	CHECK_INT(done_calls, 0);
	uv_sem_post(&hold_sem);
	for(int turns = 0; !done_calls && turns < 1000; turns++)
		uv_run(loop, UV_RUN_ONCE);
	CHECK_INT(hold_done_calls, 1);
	CHECK_INT(done_calls, 1);
	CHECK_INT(sent.n, 20);
	bool ordered = true;
	for(size_t i = 0; i < sent.n; i++)
		if(strcmp(sent.v[i].reply_to, batch_evs[i].message_id))
			ordered = false;
	CHECK(ordered);
	uv_sem_destroy(&hold_sem);
}

/* On PostgreSQL a submitted batch runs on a thread of the loop's pool,
 * from its BEGIN to its COMMIT (bot/bot.c): it counts as open from the turn
 * it starts until its run ended, the database is busy meanwhile, nothing
 * leaves before it committed, then its replies leave over several turns (8
 * a turn), in order, and done comes once, after the last. */
static void check_batches_on_thread(uv_loop_t *loop, struct db *db, const char *path)
{
	make_batch_of(20);
	watch_path = path;
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 20, batch_state, on_done, NULL), 0);
	CHECK(!bot_batch_open(&bot));
	uv_run(loop, UV_RUN_NOWAIT); /* the run starts */
	CHECK(bot_batch_open(&bot));
	CHECK(db_busy(db) || batch_committed(path));
	CHECK_INT(sent.n, 0);
	check_delivered_over_turns(loop);
	CHECK(!bot_batch_open(&bot));
	CHECK_INT(db_kv_delete(db, "test.batch"), 0);

	/* Using the database from the loop while the batch runs waits for
	 * the run, which has then committed; its replies still leave from the
	 * loop, on later turns, and done comes once. */
	make_batch_of(20);
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 20, batch_state, on_done, NULL), 0);
	uv_run(loop, UV_RUN_NOWAIT);
	CHECK(bot_batch_open(&bot));
	{
		struct strbuf v = STRBUF_INIT;
		CHECK_INT(db_kv_get(db, "test.batch", &v), 1);
		strbuf_release(&v);
	}
	CHECK(batch_committed(path));
	CHECK_INT(sent.n, 0);
	CHECK_INT(done_calls, 0);
	for(int turns = 0; !done_calls && turns < 1000; turns++)
		uv_run(loop, UV_RUN_ONCE);
	CHECK_INT(done_calls, 1);
	CHECK_INT(sent.n, 20);
	CHECK_INT(db_kv_delete(db, "test.batch"), 0);

	check_deliveries_wait_for_thread(loop);
	CHECK_INT(db_kv_delete(db, "test.batch"), 0);
	outbox_release(&sent);
	done_calls = 0;
}

int main(void)
{
	char dir[] = "/tmp/ensemble-test-dispatch-XXXXXX";
	char path[300];
	if(!mkdtemp(dir) || i18n_init())
		return 1;
	if(pg_test_target(path, sizeof(path), dir, "t.db"))
		return 1;

	/* Table: every command has its help in every language; no alias is
	 * shared by two commands; lookups ignore case and accents. */
	const char *parts[] = { "summary", "usage", "example" };
	for(int i = 0; i < ncommands; i++) {
		for(size_t l = 0; l < i18n_lang_count(); l++) {
			for(int p = 0; p < 3; p++) {
				char key[64];
				snprintf(key, sizeof(key), "cmd.%s.%s", commands[i].name, parts[p]);
				if(!i18n_lookup_exact(i18n_lang_code(l), key)) {
					fprintf(stderr, "missing %s in %s\n", key, i18n_lang_code(l));
					check__failed++;
				} else {
					check__passed++;
				}
			}
		}
		/* The name a language shows is one the dispatcher knows. */
		for(size_t l = 0; l < i18n_lang_count(); l++) {
			char key[64];
			snprintf(key, sizeof(key), "cmd.%s.name", commands[i].name);
			const char *shown = i18n_lookup_exact(i18n_lang_code(l), key);
			CHECK(shown && dispatch_find(shown) == &commands[i]);
		}
		for(const char *const *a = commands[i].aliases; a && *a; a++)
			CHECK(dispatch_find(*a) == &commands[i]);
		CHECK(dispatch_find(commands[i].name) == &commands[i]);
	}
	CHECK(dispatch_find("AIDE") == dispatch_find("help"));
	CHECK(dispatch_find("Rencontre") == dispatch_find("meetup"));
	CHECK(dispatch_find("nosuch") == NULL);

	char words[] = "  one two\tthree  ";
	char *s = words;
	CHECK_STR(cmd_next_word(&s), "one");
	CHECK_STR(cmd_next_word(&s), "two");
	CHECK_STR(cmd_next_word(&s), "three");
	CHECK(cmd_next_word(&s) == NULL);

	struct config cfg;
	struct strbuf err = STRBUF_INIT;
	struct db *db;
	uv_loop_t loop;
	config_init(&cfg);
	config_set(&cfg, "lang", "en", &err);
	clock_use_sim((int64_t)1796115600 * 1000); /* 2026-12-01T09:00Z */
	CHECK_INT(db_open(&db, path, &err), 0);
	uv_loop_init(&loop);
	CHECK_INT(bot_init(&bot, &loop, &cfg, db, &rec_port, NULL), 0);
	outbox_init(&sent);

	/* Prefixes, replies and @BotName. */
	say("alice", "/start");
	CHECK_INT(sent.n, 1);
	CHECK_INT(sent.v[0].kind, ACTION_REPLY);
	CHECK_STR(sent.v[0].reply_to, "m1");
	CHECK_STR(sent.v[0].key, "m1.1");
	CHECK(strstr(only(), "Ensemble") != NULL);
	say("alice", "!start");
	CHECK(strstr(only(), "Ensemble") != NULL);
	say("alice", "/start@ENSEMBLE");
	CHECK(strstr(only(), "Ensemble") != NULL);
	say("alice", "/start@SomeOtherBot");
	CHECK_INT(sent.n, 0);
	say("alice", "just chatting");
	CHECK_INT(sent.n, 0);
	say("alice", "   ");
	CHECK_INT(sent.n, 0);

	/* Unknown commands name the closest one. */
	say("alice", "/hepl");
	CHECK(strstr(only(), "Did you mean /help?") != NULL);
	say("alice", "/zzzzzzzz");
	CHECK(strstr(only(), "Unknown command /zzzzzzzz.") != NULL);
	CHECK(strstr(only(), "Did you mean") == NULL);
	/* ... with the prefix typed (Matrix users type '!'). */
	say("alice", "!zzzzzzzz");
	CHECK(strstr(only(), "Unknown command !zzzzzzzz.") != NULL);
	say("alice", "!hepl");
	CHECK(strstr(only(), "Unknown command !hepl. Did you mean /help?") != NULL);
	/* The typed name goes back escaped. */
	say("alice", "/<b>");
	CHECK(strstr(only(), "/&lt;b&gt;") != NULL);

	/* Missing arguments: usage and example. */
	say("alice", "/vote");
	CHECK(strstr(only(), "Usage: /vote") != NULL);
	CHECK(strstr(only(), "Example: /vote 1 3 4?") != NULL);

	/* The first user is the admin; others are refused politely. */
	say("bob", "/lang fr");
	CHECK(strstr(only(), "Only the chat's admins") != NULL);
	say("alice", "/lang fr");
	CHECK(strstr(only(), "français") != NULL);
	say("alice", "/lang en");

	/* Argument parsing of a proposal and a vote, checked in the database. */
	say("alice", "/meetup Test; 2026-12-04 19:00; 2026-12-05 19:00-21:30; place: Hall; quorum: 2");
	CHECK_INT(sent.n, 1);
	CHECK_INT(sent.v[0].kind, ACTION_SEND_POLL);
	CHECK_INT(sent.v[0].n_options, 2);
	CHECK_STR(sent.v[0].ref, "meetup:1:poll");
	struct db_meetup m;
	CHECK_INT(db_meetup_get(db, 1, 1, &m), 1);
	CHECK_STR(m.title, "Test");
	CHECK_STR(m.place, "Hall");
	CHECK_INT(m.quorum, 2);
	CHECK_INT(m.nslots, 2);
	CHECK_INT(m.slots[0].duration_min, 120);
	CHECK_INT(m.slots[1].duration_min, 150);
	say("bob", "/vote 1 2?");
	say("carol", "/vote 2");
	struct db_people votes = { 0 };
	CHECK_INT(db_votes(db, m.id, &votes), 0);
	CHECK_INT(votes.n, 2);
	if(votes.n == 2) {
		CHECK_STR(votes.v[0].name, "bob");
		CHECK_STR(votes.v[0].answers, "ym");
		CHECK_STR(votes.v[1].answers, "ny");
	}
	db_people_release(&votes);
	say("bob", "/vote -");
	/* The anonymous administrators cannot vote: they are told why, in the
	 * chat's language, and nothing is counted. */
	say_as_group("/vote 1");
	CHECK(strstr(only(), "You are posting as the group (anonymous admin), and I cannot tell anonymous admins "
	                     "apart, so I cannot record a vote or an answer from you: send /vote from your own "
	                     "account.") != NULL);
	say("alice", "/lang fr");
	say_as_group("/vote 1");
	CHECK(strstr(only(), "Vous écrivez au nom du groupe (admin anonyme)") != NULL);
	CHECK(strstr(only(), "Envoyez /vote depuis votre propre compte.") != NULL);
	say("alice", "/lang en");
	CHECK_INT(db_votes(db, m.id, &votes), 0);
	CHECK_INT(votes.n, 1);
	db_people_release(&votes);
	CHECK_INT(db_votes(db, m.id, &votes), 0);
	CHECK_INT(votes.n, 1);
	db_people_release(&votes);

	/* A native poll's answer goes through the same vote function: options
	 * 0 and 1 are yes, the rest no; an empty answer withdraws. */
	{
		int opts[] = { 1 };
		struct event ev = {
			.kind = EVENT_POLL_VOTE,
			.platform = "test",
			.chat_id = "room",
			.sender_id = "dave",
			.sender_name = "dave",
			.message_id = "pv1",
			.time = clock_now(),
			.poll_ref = "meetup:1:poll",
			.options = opts,
			.n_options = 1,
		};
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK_INT(sent.n, 0); /* native votes are silent */
		CHECK_INT(db_votes(db, m.id, &votes), 0);
		CHECK_INT(votes.n, 2);
		if(votes.n == 2) {
			CHECK_STR(votes.v[1].name, "dave");
			CHECK_STR(votes.v[1].answers, "ny");
		}
		db_people_release(&votes);
		/* /vote with if-need-be beside it, and the tally merges both. */
		say("erin", "/vote 1?");
		say("alice", "/poll");
		CHECK(strstr(only(), "yes (2): carol, dave") != NULL);
		CHECK(strstr(only(), "if need be (1): erin") != NULL);
		ev.n_options = 0;
		ev.message_id = "pv2";
		bot_handle_event(&bot, &ev);
		CHECK_INT(db_votes(db, m.id, &votes), 0);
		CHECK_INT(votes.n, 2); /* dave withdrew */
		db_people_release(&votes);
		/* A poll of another chat is ignored. */
		ev.chat_id = "elsewhere";
		ev.n_options = 1;
		ev.message_id = "pv3";
		bot_handle_event(&bot, &ev);
		CHECK_INT(db_votes(db, m.id, &votes), 0);
		CHECK_INT(votes.n, 2);
		db_people_release(&votes);
	}
	/* RSVP buttons on a confirmed meetup. */
	say("bob", "/vote 2");
	say("alice", "/meetup close 1");
	CHECK(sent.n == 2 && sent.v[0].kind == ACTION_CLOSE_POLL && sent.v[1].n_buttons == 3);
	{
		char data[48];
		snprintf(data, sizeof(data), "rsvp:%lld:y", (long long)m.id);
		struct event ev = {
			.kind = EVENT_BUTTON,
			.platform = "test",
			.chat_id = "room",
			.sender_id = "frank",
			.sender_name = "frank",
			.message_id = "b1",
			.time = clock_now(),
			.button_data = data,
		};
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		/* A reaction (no private answer): the announcement edited with
		 * the new count, and nothing posted. */
		CHECK(sent.n == 1 && sent.v[0].kind == ACTION_EDIT && sent.v[0].n_buttons == 3 && sent.v[0].ref &&
		      !strcmp(sent.v[0].ref + strlen(sent.v[0].ref) - 10, ":confirmed") &&
		      strstr(sent.v[0].text, "frank") != NULL);
		/* A button: its toast first, then the edit. */
		ev.button_answer = "cb1";
		ev.sender_id = ev.sender_name = "gina";
		ev.message_id = "b2";
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 2 && sent.v[0].kind == ACTION_ANSWER && !strcmp(sent.v[0].reply_to, "cb1") &&
		      strstr(sent.v[0].text, "gina is coming to #1") != NULL && sent.v[1].kind == ACTION_EDIT);
		/* The same press again changes nothing: its toast, no edit. */
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 1 && sent.v[0].kind == ACTION_ANSWER && strstr(sent.v[0].text, "already") != NULL);
		/* Data that names nothing: a toast says the button is stale. */
		ev.button_data = "rsvp:nonsense";
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 1 && sent.v[0].kind == ACTION_ANSWER &&
		      strstr(sent.v[0].text, "no longer valid") != NULL);
		ev.button_data = "rsvp:999999:y";
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 1 && sent.v[0].kind == ACTION_ANSWER &&
		      strstr(sent.v[0].text, "no longer valid") != NULL);
		/* Without a way to answer privately, nothing at all. */
		ev.button_answer = NULL;
		ev.button_data = "rsvp:nonsense";
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK_INT(sent.n, 0);
	}
	/* A place freed by a press moves the first one waiting in: that is
	 * announced with a mention, beside the toast and the edit. */
	say("alice", "/meetup Small; 2026-12-10 19:00; max: 1");
	{
		struct db_meetup small;
		CHECK_INT(db_meetup_get(db, 1, 2, &small), 1);
		char yes[48], no[48];
		snprintf(yes, sizeof(yes), "rsvp:%lld:y", (long long)small.id);
		snprintf(no, sizeof(no), "rsvp:%lld:n", (long long)small.id);
		struct event ev = {
			.kind = EVENT_BUTTON,
			.platform = "test",
			.chat_id = "room",
			.sender_id = "hugo",
			.sender_name = "hugo",
			.message_id = "b9",
			.time = clock_now(),
			.button_data = yes,
			.button_answer = "cb9",
		};
		bot_handle_event(&bot, &ev);
		ev.sender_id = ev.sender_name = "ines";
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 2 && sent.v[0].kind == ACTION_ANSWER && strstr(sent.v[0].text, "waiting list") != NULL);
		ev.sender_id = ev.sender_name = "hugo";
		ev.button_data = no;
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 3 && sent.v[0].kind == ACTION_ANSWER && sent.v[1].kind == ACTION_SEND_TEXT &&
		      strstr(sent.v[1].text, "mention:ines") != NULL && sent.v[2].kind == ACTION_EDIT);
		/* Cancelled: the announcement says so, without buttons; a press
		 * is told so by its toast, a reaction by a reply under it. */
		say("alice", "/meetup cancel 2");
		CHECK(sent.n == 2 && sent.v[1].kind == ACTION_EDIT && sent.v[1].n_buttons == 0 &&
		      strstr(sent.v[1].text, "cancelled") != NULL);
		ev.button_message = "ann2";
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 1 && sent.v[0].kind == ACTION_ANSWER &&
		      strstr(sent.v[0].text, "was cancelled") != NULL);
		ev.button_answer = NULL;
		outbox_release(&sent);
		bot_handle_event(&bot, &ev);
		CHECK(sent.n == 1 && sent.v[0].kind == ACTION_REPLY && !strcmp(sent.v[0].reply_to, "ann2") &&
		      strstr(sent.v[0].text, "was cancelled") != NULL);
	}

	/* A reminder due while the platform cannot be reached waits for it (a
	 * message written then would leave only later, saying what was true
	 * when it was written), then says it is late and the time really
	 * left. */
	say("alice", "/meetup Late; 2026-12-20 12:00");
	clock_set_ms((int64_t)1797760800 * 1000); /* 2026-12-20T10:00Z: an hour before, in Paris */
	unreachable = true;
	outbox_release(&sent);
	sched_run_due(&bot.sched);
	CHECK_INT(sent.n, 0);
	clock_set_ms(clock_now_ms() + 150000);
	sched_run_due(&bot.sched);
	CHECK_INT(sent.n, 0);
	unreachable = false;
	clock_set_ms(clock_now_ms() + 30000);
	sched_run_due(&bot.sched);
	CHECK(sent.n == 1 && strstr(sent.v[0].text, "Late</b> starts in 57 minutes") != NULL &&
	      strstr(sent.v[0].text, "This reminder is late") != NULL);
	outbox_release(&sent);

	if(!db_round_trips(db))
		check_batches_on_loop(&loop, db, path);
	else
		check_batches_on_thread(&loop, db, path);

	/* When the batch cannot commit (here its state fails), each event
	 * runs alone, then the state alone: the replies still leave and done
	 * says the batch was not handled whole. */
	make_batch();
	state_fails = true;
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 3, batch_state, on_done, NULL), 0);
	for(int i = 0; i < 100 && !done_calls; i++)
		uv_run(&loop, UV_RUN_ONCE);
	state_fails = false;
	CHECK_INT(done_calls, 1);
	CHECK_INT(done_rc, -1);
	CHECK_INT(sent.n, 3);

	/* A stop handles what was taken before the adapters stop. */
	make_batch();
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 3, NULL, on_done, NULL), 0);
	outbox_release(&sent);
	bot_stop(&bot, 0);
	CHECK_INT(done_calls, 1);
	CHECK_INT(sent.n, 3);
	CHECK_INT(bot_submit_batch(&bot, batch_evs, 3, NULL, on_done, NULL), -1); /* stopping */
	outbox_release(&sent);
	uv_run(&loop, UV_RUN_DEFAULT);
	bot_release(&bot);
	CHECK_INT(uv_loop_close(&loop), 0);
	db_close(db);
	config_release(&cfg);
	strbuf_release(&err);
	i18n_free();
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if(system(path))
		return 1;
	return check_done();
}
