/* The Matrix client-server API's JSON: /sync answers read (state before
 * timeline, invites, polls in both forms, reactions, redactions of both room
 * versions, reply fallbacks, edits), errors read, HTML written, commands
 * found, path segments encoded. */
#include <stdlib.h>
#include <string.h>

#include "adapters/matrix_parse.h"
#include "tests/unit/check.h"

#define ME "@ensemble:example.org"

static const char sync_body[] =
	"{\"next_batch\":\"s72595_4483_1934\",\"rooms\":{\"join\":{\"!room:example.org\":{"
	"\"summary\":{\"m.joined_member_count\":5,\"m.invited_member_count\":2},"
	"\"state\":{\"events\":["
	"{\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"sender\":\"@alice:example.org\","
	"\"event_id\":\"$pl\",\"origin_server_ts\":1,\"content\":{\"users\":{\"@alice:example.org\":100},\"users_default\":0}}]},"
	"\"timeline\":{\"limited\":true,\"prev_batch\":\"t1\",\"events\":["
	/* A command replying to a message, with the old reply fallback. */
	"{\"type\":\"m.room.message\",\"sender\":\"@bob:example.org\",\"event_id\":\"$m1\",\"origin_server_ts\":1796115600000,"
	"\"content\":{\"msgtype\":\"m.text\",\"body\":\"> <@alice:example.org> hi\\n> there\\n\\n!vote 1 2?\","
	"\"m.relates_to\":{\"m.in_reply_to\":{\"event_id\":\"$orig\"}},\"m.mentions\":{\"user_ids\":[\"" ME "\"]}}},"
	/* An edit: ignored. */
	"{\"type\":\"m.room.message\",\"sender\":\"@bob:example.org\",\"event_id\":\"$m2\",\"origin_server_ts\":2,"
	"\"content\":{\"msgtype\":\"m.text\",\"body\":\"* !vote 3\",\"m.relates_to\":{\"rel_type\":\"m.replace\",\"event_id\":\"$m1\"}}},"
	/* Poll responses: unstable, stable, and one that is not a list. */
	"{\"type\":\"org.matrix.msc3381.poll.response\",\"sender\":\"@c:example.org\",\"event_id\":\"$r1\",\"origin_server_ts\":3,"
	"\"content\":{\"m.relates_to\":{\"rel_type\":\"m.reference\",\"event_id\":\"$poll\"},"
	"\"org.matrix.msc3381.poll.response\":{\"answers\":[\"a0\",\"a2\"]}}},"
	"{\"type\":\"m.poll.response\",\"sender\":\"@d:example.org\",\"event_id\":\"$r2\",\"origin_server_ts\":4,"
	"\"content\":{\"m.relates_to\":{\"rel_type\":\"m.reference\",\"event_id\":\"$poll\"},\"m.selections\":[\"a1\"]}},"
	"{\"type\":\"org.matrix.msc3381.poll.response\",\"sender\":\"@e:example.org\",\"event_id\":\"$r3\",\"origin_server_ts\":5,"
	"\"content\":{\"m.relates_to\":{\"rel_type\":\"m.reference\",\"event_id\":\"$poll\"},"
	"\"org.matrix.msc3381.poll.response\":{\"answers\":\"a0\"}}},"
	/* A reaction, and redactions in the v11 and the older form. */
	"{\"type\":\"m.reaction\",\"sender\":\"@c:example.org\",\"event_id\":\"$x1\",\"origin_server_ts\":6,"
	"\"content\":{\"m.relates_to\":{\"rel_type\":\"m.annotation\",\"event_id\":\"$conf\",\"key\":\"\xe2\x9c\x85\"}}},"
	"{\"type\":\"m.room.redaction\",\"sender\":\"@c:example.org\",\"event_id\":\"$y1\",\"origin_server_ts\":7,"
	"\"content\":{\"redacts\":\"$x1\"}},"
	"{\"type\":\"m.room.redaction\",\"sender\":\"@c:example.org\",\"event_id\":\"$y2\",\"origin_server_ts\":8,"
	"\"redacts\":\"$x0\",\"content\":{}},"
	/* A member joins; an encrypted event; garbage that is skipped. */
	"{\"type\":\"m.room.member\",\"state_key\":\"@f:example.org\",\"sender\":\"@f:example.org\",\"event_id\":\"$j\","
	"\"origin_server_ts\":9,\"content\":{\"membership\":\"join\",\"displayname\":\"Fanny\"},"
	"\"unsigned\":{\"prev_content\":{\"membership\":\"invite\"}}},"
	/* Her name changes: a join over a join, not an arrival. */
	"{\"type\":\"m.room.member\",\"state_key\":\"@f:example.org\",\"sender\":\"@f:example.org\",\"event_id\":\"$j2\","
	"\"origin_server_ts\":9,\"content\":{\"membership\":\"join\",\"displayname\":\"Fanny B\"},"
	"\"unsigned\":{\"prev_content\":{\"membership\":\"join\",\"displayname\":\"Fanny\"}}},"
	"{\"type\":\"m.room.encrypted\",\"sender\":\"@g:example.org\",\"event_id\":\"$enc\",\"origin_server_ts\":10,"
	"\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"xx\"}},"
	"{\"type\":42},\"not an event\",{\"type\":\"m.room.message\",\"sender\":\"@h:example.org\",\"content\":[]}"
	"]}}},"
	"\"invite\":{\"!new:example.org\":{\"invite_state\":{\"events\":["
	"{\"type\":\"m.room.name\",\"state_key\":\"\",\"sender\":\"@alice:example.org\",\"content\":{\"name\":\"Club\"}},"
	"{\"type\":\"m.room.encryption\",\"state_key\":\"\",\"sender\":\"@alice:example.org\","
	"\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\"}},"
	"{\"type\":\"m.room.member\",\"state_key\":\"" ME "\",\"sender\":\"@alice:example.org\","
	"\"content\":{\"membership\":\"invite\"}}]}}}}}";

static void test_sync(void)
{
	struct mx_sync s;
	char err[128];
	CHECK_INT(mx_parse_sync(sync_body, sizeof(sync_body) - 1, ME, &s, err, sizeof(err)), 0);
	CHECK_STR(s.next_batch, "s72595_4483_1934");
	CHECK_INT(s.nrooms, 2);
	CHECK(s.rooms[0].limited);
	CHECK_STR(s.rooms[0].prev_batch, "t1");
	CHECK(!s.rooms[1].prev_batch);
	CHECK_INT(s.rooms[0].joined_members, 5);
	CHECK_INT(s.rooms[0].invited_members, 2);
	CHECK_INT(s.rooms[1].invited_members, -1);
	CHECK(s.rooms[1].invited);
	CHECK(s.rooms[1].encrypted);
	CHECK(!s.rooms[0].encrypted);
	CHECK_INT(s.n, 12);
	if(s.n != 12) {
		mx_sync_release(&s);
		return;
	}
	const struct mx_event *e = s.ev;
	CHECK_INT(e[0].kind, MX_POWER_LEVELS);
	CHECK(e[0].is_state);
	CHECK(strstr(e[0].content_json, "\"users_default\":0") != NULL);
	CHECK_INT(e[1].kind, MX_MESSAGE);
	CHECK_STR(e[1].body, "!vote 1 2?");
	CHECK_STR(e[1].reply_to, "$orig");
	CHECK(e[1].mentions_me);
	CHECK_INT(e[1].ts, 1796115600000LL);
	CHECK_INT(e[2].kind, MX_POLL_RESPONSE);
	CHECK_INT(e[2].n_answers, 2);
	CHECK_STR(e[2].answers[1], "a2");
	CHECK_STR(e[2].relates_to, "$poll");
	CHECK_INT(e[3].kind, MX_POLL_RESPONSE);
	CHECK_STR(e[3].answers[0], "a1");
	CHECK_INT(e[4].n_answers, 0);
	CHECK_STR(e[4].key, "spoiled");
	CHECK_INT(e[5].kind, MX_REACTION);
	CHECK_STR(e[5].key, "\xe2\x9c\x85");
	CHECK_STR(e[5].relates_to, "$conf");
	CHECK_STR(e[6].redacts, "$x1");
	CHECK_STR(e[7].redacts, "$x0");
	CHECK_INT(e[8].kind, MX_MEMBER);
	CHECK_STR(e[8].membership, "join");
	CHECK_STR(e[8].displayname, "Fanny");
	CHECK(!e[8].was_joined);
	CHECK_INT(e[9].kind, MX_MEMBER);
	CHECK(e[9].was_joined);
	CHECK_INT(e[10].kind, MX_ENCRYPTED);
	CHECK_INT(e[11].kind, MX_INVITE);
	CHECK_STR(e[11].sender, "@alice:example.org");
	CHECK_STR(e[11].room, "!new:example.org");
	mx_sync_release(&s);

	/* Refused: not JSON, no next_batch; an invite for someone else is not
	 * the bot's. */
	CHECK_INT(mx_parse_sync("{\"next_batch\":", 14, ME, &s, err, sizeof(err)), -1);
	CHECK_INT(mx_parse_sync("{\"rooms\":{}}", 12, ME, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "next_batch") != NULL);
	CHECK_INT(mx_parse_sync(sync_body, sizeof(sync_body) - 1, "@other:example.org", &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 11);
	mx_sync_release(&s);
}

static void test_relations_and_errors(void)
{
	static const char page[] =
		"{\"chunk\":[{\"type\":\"org.matrix.msc3381.poll.response\",\"sender\":\"@a:x\","
		"\"event_id\":\"$1\",\"origin_server_ts\":5,\"content\":{\"m.relates_to\":{\"rel_type\":\"m.reference\","
		"\"event_id\":\"$p\"},\"org.matrix.msc3381.poll.response\":{\"answers\":[]}}}],\"next_batch\":\"50\"}";
	struct mx_sync s;
	char err[64], code[32];
	CHECK_INT(mx_parse_relations(page, sizeof(page) - 1, "!r:x", &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.next_batch, "50");
	CHECK_STR(s.ev[0].room, "!r:x");
	CHECK_INT(s.ev[0].n_answers, 0);
	CHECK(!s.ev[0].key); /* an empty list withdraws, it does not spoil */
	mx_sync_release(&s);
	CHECK_INT(mx_parse_relations("{}", 2, "!r:x", &s, err, sizeof(err)), -1);

	/* A /messages page read backwards: newest first, "end" leads on; the
	 * last page has no "end". */
	static const char msgs[] =
		"{\"chunk\":["
		"{\"type\":\"m.room.message\",\"sender\":\"@a:x\",\"event_id\":\"$2\",\"origin_server_ts\":9,"
		"\"content\":{\"msgtype\":\"m.text\",\"body\":\"!about\"}},"
		"{\"type\":\"m.room.message\",\"sender\":\"@b:x\",\"event_id\":\"$1\",\"origin_server_ts\":8,"
		"\"content\":{\"msgtype\":\"m.text\",\"body\":\"!vote 2 1\"}}],"
		"\"start\":\"t9\",\"end\":\"t7\"}";
	CHECK_INT(mx_parse_messages(msgs, sizeof(msgs) - 1, "!r:x", &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 2);
	CHECK_STR(s.next_batch, "t7");
	if(s.n == 2) {
		CHECK_STR(s.ev[0].event_id, "$2");
		CHECK_STR(s.ev[1].body, "!vote 2 1");
		CHECK(!s.ev[1].is_state);
	}
	mx_sync_release(&s);
	CHECK_INT(mx_parse_messages("{\"chunk\":[],\"start\":\"t1\"}", 25, "!r:x", &s, err, sizeof(err)), 0);
	CHECK(!s.next_batch);
	CHECK_INT(s.n, 0);
	mx_sync_release(&s);

	static const char e429[] = "{\"errcode\":\"M_LIMIT_EXCEEDED\",\"error\":\"Too many\",\"retry_after_ms\":2000}";
	CHECK_INT(mx_parse_error(e429, sizeof(e429) - 1, code, sizeof(code)), 2000);
	CHECK_STR(code, "M_LIMIT_EXCEEDED");
	CHECK_INT(mx_parse_error("<html>", 6, code, sizeof(code)), -1);
	CHECK_STR(code, "");

	/* A send's answer: its event id, in the usual form or any other. */
	static const char *const answers[][2] = {
		{ "{\"event_id\":\"$abc:x.org\"}", "$abc:x.org" },
		{ " { \"event_id\" :\n \"$a\" } \n", "$a" },
		{ "{\"event_id\":\"$\\u00e9\\\"q\"}", "$\xc3\xa9\"q" },
		{ "{\"event_id\":\"$a\",\"x\":1}", "$a" },
		{ "{\"x\":1,\"event_id\":\"$b\"}", "$b" },
		{ "{\"event_id\":\"$a\",\"event_id\":\"$c\"}", "$c" },
	};
	struct strbuf id = STRBUF_INIT;
	for(size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		strbuf_reset(&id);
		CHECK_INT(mx_parse_event_id(answers[i][0], strlen(answers[i][0]), &id), 1);
		CHECK_STR(id.buf, answers[i][1]);
	}
	static const char *const none[] = { "{}", "{\"event_id\":3}",        "<html>", "{\"event_id\":\"$a\"",
		                            "",   "{\"event_id\":\"$\xff\"}" };
	for(size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		strbuf_reset(&id);
		CHECK_INT(mx_parse_event_id(none[i], strlen(none[i]), &id), 0);
		CHECK_STR(id.buf, "");
	}
	strbuf_release(&id);
}

static void test_render(void)
{
	struct strbuf out = STRBUF_INIT, ids = STRBUF_INIT;
	CHECK_INT(mx_render_html(&out,
	                         "<b>#1</b> &amp; co\n<a href=\"mention:@bob:x.org\">Bob &lt;3</a>, "
	                         "<a href=\"mention:@c:x.org\">C</a>",
	                         &ids),
	          0);
	CHECK_STR(out.buf, "<b>#1</b> &amp; co<br><a href=\"https://matrix.to/#/@bob:x.org\">Bob &lt;3</a>, "
	                   "<a href=\"https://matrix.to/#/@c:x.org\">C</a>");
	CHECK_STR(ids.buf, "@bob:x.org\n@c:x.org\n");
	strbuf_release(&out);
	strbuf_release(&ids);

	strbuf_init(&out);
	mx_urlencode(&out, "!abc:example.org/$x y");
	CHECK_STR(out.buf, "%21abc%3Aexample.org%2F%24x%20y");
	strbuf_release(&out);
}

/* A message in a thread (as Element sends it: is_falling_back, with the
 * thread's latest event as m.in_reply_to) knows its root. */
static void test_thread(void)
{
	static const char body[] =
		"{\"next_batch\":\"s9\",\"rooms\":{\"join\":{\"!r:example.org\":{\"timeline\":{\"events\":["
		"{\"type\":\"m.room.message\",\"sender\":\"@bob:example.org\",\"event_id\":\"$t1\","
		"\"origin_server_ts\":1,\"content\":{\"msgtype\":\"m.text\",\"body\":\"!poll 1\","
		"\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":\"$root\",\"is_falling_back\":true,"
		"\"m.in_reply_to\":{\"event_id\":\"$last\"}}}},"
		"{\"type\":\"m.room.message\",\"sender\":\"@bob:example.org\",\"event_id\":\"$t2\","
		"\"origin_server_ts\":2,\"content\":{\"msgtype\":\"m.text\",\"body\":\"!poll 2\"}}"
		"]}}}}}";
	struct mx_sync s;
	char err[128];
	CHECK_INT(mx_parse_sync(body, sizeof(body) - 1, ME, &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 2);
	if(s.n == 2) {
		CHECK(s.ev[0].in_thread);
		CHECK_STR(s.ev[0].relates_to, "$root");
		CHECK_STR(s.ev[0].body, "!poll 1");
		CHECK(!s.ev[1].in_thread);
	}
	mx_sync_release(&s);
}

static void test_commands(void)
{
	static const struct {
		const char *body;
		bool mention;
		const char *want;
	} cases[] = {
		{ "!meetup Apéro; demain 19h", false, "!meetup Apéro; demain 19h" },
		{ "  /help", false, "/help" },
		{ "Ensemble: help", true, "!help" },
		{ "ensemble, vote 1", true, "!vote 1" },
		{ "@ensemble:example.org: !about", false, "!about" },
		{ "@ensemble tz", false, "!tz" },
		{ "Ensemble: help", false, NULL }, /* a name without a mention */
		{ "hello everyone", false, NULL },
		{ "Ensemble:", true, NULL },
		{ "Ensembles are nice", true, NULL },
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct strbuf out = STRBUF_INIT;
		int rc = mx_command_text(&out, cases[i].body, cases[i].mention, "ensemble", "Ensemble");
		CHECK_INT(rc, cases[i].want != NULL);
		if(cases[i].want && rc == 1)
			CHECK_STR(out.buf, cases[i].want);
		strbuf_release(&out);
	}
}

int main(void)
{
	test_sync();
	test_relations_and_errors();
	test_render();
	test_thread();
	test_commands();
	return check_done();
}
