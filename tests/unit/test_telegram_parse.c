/* The Telegram Bot API's JSON: updates read (also those jansson alone
 * refuses), errors read, HTML written, cut into parts that are each valid
 * under Telegram's limit, and shortened. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/telegram_html.h"
#include "adapters/telegram_parse.h"
#include "tests/unit/check.h"

static const char updates[] =
	"{\"ok\":true,\"result\":["
	/* A command in a supergroup, replying to a message, 64-bit chat id. */
	"{\"update_id\":900000001,\"message\":{\"message_id\":11,\"date\":1796115600,"
	"\"chat\":{\"id\":-1001234567890123,\"type\":\"supergroup\",\"title\":\"Café\"},"
	"\"from\":{\"id\":5123456789,\"is_bot\":false,\"first_name\":\"Zoé\",\"last_name\":\"Martin\",\"language_code\":\"fr-FR\"},"
	"\"text\":\"/vote@EnsembleBot 1 3?\",\"entities\":[{\"type\":\"bot_command\",\"offset\":0,\"length\":17}],"
	"\"reply_to_message\":{\"message_id\":7,\"date\":1796115500,\"chat\":{\"id\":-1001234567890123,\"type\":\"supergroup\"}}}},"
	/* A private message. */
	"{\"update_id\":900000002,\"message\":{\"message_id\":3,\"date\":1796115601,"
	"\"chat\":{\"id\":42,\"type\":\"private\",\"first_name\":\"Bob\"},"
	"\"from\":{\"id\":42,\"is_bot\":false,\"first_name\":\"Bob\"},\"text\":\"/mygroups\"}},"
	/* An inline button. */
	"{\"update_id\":900000003,\"callback_query\":{\"id\":\"4382bfdwdsb323b2d9\",\"chat_instance\":\"x\","
	"\"from\":{\"id\":42,\"is_bot\":false,\"first_name\":\"Bob\"},\"data\":\"rsvp:12:y\","
	"\"message\":{\"message_id\":20,\"date\":1796115600,\"chat\":{\"id\":-100555,\"type\":\"supergroup\"}}}},"
	/* A poll answer, then a withdrawn one. */
	"{\"update_id\":900000004,\"poll_answer\":{\"poll_id\":\"5432109876543210\","
	"\"user\":{\"id\":77,\"is_bot\":false,\"first_name\":\"Ana\"},\"option_ids\":[0,2]}},"
	"{\"update_id\":900000005,\"poll_answer\":{\"poll_id\":\"5432109876543210\","
	"\"user\":{\"id\":77,\"is_bot\":false,\"first_name\":\"Ana\"},\"option_ids\":[]}},"
	/* The group became a supergroup. */
	"{\"update_id\":900000006,\"message\":{\"message_id\":30,\"date\":1796115602,"
	"\"chat\":{\"id\":-555,\"type\":\"group\"},\"from\":{\"id\":1,\"is_bot\":false,\"first_name\":\"A\"},"
	"\"migrate_to_chat_id\":-1009999999999}},"
	/* Something the bot does not use, and something with no update_id. */
	"{\"update_id\":900000007,\"my_chat_member\":{}},"
	"{\"message\":{\"text\":\"lost\"}}"
	"]}";

/* ---- Telegram's HTML, read the way Telegram reads it ----
 * Written apart from telegram_html.c, so that it checks it: the tags
 * Telegram knows, closed in order; no '<' or '&' that is neither a tag nor
 * an entity; the text (entities decoded) appended to text, and its length
 * in UTF-16 code units returned, or -1 when Telegram would refuse it. */
static long tg_check(const char *html, struct strbuf *text)
{
	static const char *const known[] = { "b",          "strong",     "i",    "em", "u",    "ins",
		                             "s",          "strike",     "del",  "a",  "code", "pre",
		                             "blockquote", "tg-spoiler", "span", NULL };
	char stack[32][16];
	int depth = 0;
	long units = 0;
	for(const char *p = html; *p;) {
		if(*p == '<') {
			const char *end = strchr(p, '>');
			bool close = p[1] == '/';
			size_t n = strspn(p + 1 + close, "abcdefghijklmnopqrstuvwxyz-");
			if(!end || !n || n >= 16)
				return -1;
			char name[16];
			snprintf(name, sizeof(name), "%.*s", (int)n, p + 1 + close);
			bool ok = false;
			for(int k = 0; known[k]; k++)
				ok |= !strcmp(known[k], name);
			if(!ok)
				return -1;
			if(close) {
				if(!depth || strcmp(stack[depth - 1], name) || end != p + 2 + n)
					return -1;
				depth--;
			} else {
				if(depth == 32)
					return -1;
				snprintf(stack[depth++], sizeof(stack[0]), "%s", name);
			}
			p = end + 1;
		} else if(*p == '&') {
			static const char *const ent[] = { "&lt;", "&gt;", "&amp;", "&quot;" };
			static const char chr[] = "<>&\"";
			int k = 0;
			while(k < 4 && strncmp(p, ent[k], strlen(ent[k])))
				k++;
			if(k == 4)
				return -1;
			strbuf_addc(text, chr[k]);
			units++;
			p += strlen(ent[k]);
		} else {
			unsigned char c = (unsigned char)*p;
			size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
			strbuf_add(text, p, n);
			units += n == 4 ? 2 : 1;
			p += n;
		}
	}
	return depth ? -1 : units;
}

/* text without its white space: what a cut may not change. */
static void squeeze(struct strbuf *out, const char *text)
{
	for(const char *p = text; *p; p++)
		if(*p != ' ' && *p != '\n')
			strbuf_addc(out, *p);
}

/* Splits html at max and checks every part: valid on its own, at most max
 * units, showing something; and, all together, the text of html in its
 * order (only the line breaks and spaces cut at may go).  The number of
 * parts, or -1. */
static long split_checked(const char *html, size_t max)
{
	char **parts;
	long np = tg_split(html, max, &parts);
	struct strbuf whole = STRBUF_INIT, joined = STRBUF_INIT, a = STRBUF_INIT, b = STRBUF_INIT;
	bool all_valid = true, all_fit = true, all_show = true;
	CHECK(tg_check(html, &whole) >= 0);
	for(long i = 0; i < np; i++) {
		struct strbuf text = STRBUF_INIT;
		long units = tg_check(parts[i], &text);
		if(units > (long)max)
			fprintf(stderr, "  part %ld of %ld is %ld units, over %zu: %s\n", i, np, units, max, parts[i]);
		if(units < 0) {
			fprintf(stderr, "  part %ld of %ld (max %zu) is not valid HTML: %s\n", i, np, max, parts[i]);
			all_valid = false;
		}
		all_fit &= units <= (long)max;
		all_show &= strspn(text.buf, " \n") < text.len;
		strbuf_adds(&joined, text.buf);
		strbuf_release(&text);
		free(parts[i]);
	}
	free(np > 0 ? parts : NULL);
	squeeze(&a, whole.buf);
	squeeze(&b, joined.buf);
	CHECK(all_valid);
	CHECK(all_fit);
	CHECK(all_show);
	CHECK_STR(b.buf, a.buf);
	CHECK_INT(tg_html_units(html), tg_check(html, &whole));
	strbuf_release(&whole);
	strbuf_release(&joined);
	strbuf_release(&a);
	strbuf_release(&b);
	return np;
}

/* "Coming (N): NAME, NAME, ..." with n mentions of people, each named
 * "Participant NN" followed by pad letters. */
static void coming_line(struct strbuf *sb, int n, int pad)
{
	strbuf_addf(sb, "Coming (%d): ", n);
	for(int i = 0; i < n; i++) {
		if(i)
			strbuf_adds(sb, ", ");
		strbuf_addf(sb, "<a href=\"tg://user?id=%lld\">Participant %02d", 5100000000LL + i, i);
		for(int k = 0; k < pad; k++)
			strbuf_addc(sb, 'x');
		strbuf_adds(sb, "</a>");
	}
}

static void test_split(void)
{
	/* Lines while they fit. */
	char **parts;
	long np = tg_split("line one\nline two\nline three", 18, &parts);
	CHECK_INT(np, 2);
	if(np == 2) {
		CHECK_STR(parts[0], "line one\nline two");
		CHECK_STR(parts[1], "line three");
	}
	for(long i = 0; i < np; i++)
		free(parts[i]);
	free(parts);
	/* Never inside a character; a UTF-16 pair counts two. */
	CHECK_INT(split_checked("ééééé", 2), 3);
	CHECK_INT(split_checked("😀😀😀", 4), 2);
	CHECK_INT(tg_html_units("<b>😀</b> &amp;&#128512;"), 6);

	/* A reminder for 80 people: the mentions' tags make 5,000 bytes, but
	 * Telegram counts their text only, under 4,096: one message. */
	struct strbuf sb = STRBUF_INIT;
	strbuf_adds(&sb, "⏰ <b>#3 · Apéro &amp; co</b> starts in 1 hour.\n");
	coming_line(&sb, 80, 0);
	strbuf_adds(&sb, "\n3 places left.");
	CHECK(sb.len > TG_MAX_TEXT + 200);
	CHECK_INT(split_checked(sb.buf, TG_MAX_TEXT), 1);

	/* Long names: the list is cut between two people, each part valid. */
	strbuf_reset(&sb);
	strbuf_adds(&sb, "⏰ <b>#3 · Apéro</b> starts in 1 hour.\n");
	coming_line(&sb, 80, 60);
	strbuf_adds(&sb, "\n<i>3 places left.</i>");
	np = tg_split(sb.buf, TG_MAX_TEXT, &parts);
	CHECK_INT(np, 3);
	for(long i = 0; i + 1 < np; i++) {
		/* The first part ends at the title's line; the next after a
		 * comma between two people, outside any tag. */
		size_t len = strlen(parts[i]);
		bool ok = len >= 6 && (!strcmp(parts[i] + len - 5, "</a>,") || !strcmp(parts[i] + len - 5, "hour."));
		if(!ok)
			fprintf(stderr, "  part %ld ends: %s\n", i, parts[i] + (len > 60 ? len - 60 : 0));
		CHECK(ok);
	}
	for(long i = 0; i < np; i++)
		free(parts[i]);
	free(parts);
	CHECK_INT(split_checked(sb.buf, TG_MAX_TEXT), 3);
	/* At every limit, on a text with tags open across lines and cuts,
	 * entities, and words longer than the limit (from 2: a limit of 1
	 * cannot hold an emoji, which is then a part of its own). */
	strbuf_reset(&sb);
	strbuf_adds(&sb, "<b>Soirée &quot;jeux&quot; &amp; <i>quiz</i>\nchez Zoé &lt;3</b> 😀😀 "
	                 "<a href=\"tg://user?id=42\">Bob Martin</a>, <code>x&lt;y</code>\n\n"
	                 "<blockquote>Un très_long_mot_sans_espace_aucun_qui_dépasse et fin</blockquote>\n");
	for(size_t max = 2; max <= 120; max++)
		split_checked(sb.buf, max);
	/* Nothing but white space makes no part. */
	CHECK_INT(split_checked("   \n  ", 2), 0);
	CHECK_INT(split_checked("<b> </b>\nok", 1), 2);

	/* A line far over the limit with no space at all: cut between
	 * characters, the tag closed and opened again. */
	strbuf_reset(&sb);
	strbuf_adds(&sb, "<b>");
	for(int i = 0; i < 5000; i++)
		strbuf_adds(&sb, i % 7 ? "é" : "&amp;");
	strbuf_adds(&sb, "</b>");
	CHECK_INT(split_checked(sb.buf, TG_MAX_TEXT), 2);
	strbuf_release(&sb);
}

static int more(struct strbuf *out, long n, void *user)
{
	(void)user;
	return strbuf_addf(out, "… and %ld more", n);
}

static void test_shorten(void)
{
	/* An announcement too long for one message, which is edited: the
	 * longest list loses its last people, said so, and every other line
	 * stays. */
	struct strbuf sb = STRBUF_INIT, out = STRBUF_INIT, text = STRBUF_INIT;
	strbuf_adds(&sb, "<b>#3 · Apéro</b> is confirmed.\nWhen: Friday 5 December, 19:00\n");
	coming_line(&sb, 80, 60);
	strbuf_adds(&sb, "\nMaybe: Zoé, Lou\nComing or not? /rsvp 3 yes");
	CHECK_INT(tg_shorten(&out, sb.buf, TG_MAX_TEXT, more, NULL), 0);
	long units = tg_check(out.buf, &text);
	CHECK(units > 3900 && units <= TG_MAX_TEXT);
	const char *mark = strstr(out.buf, " … and ");
	CHECK(mark != NULL);
	if(mark) {
		int kept = 0;
		for(const char *p = out.buf; (p = strstr(p, "Participant ")) != NULL; p++)
			kept++;
		CHECK_INT(atoi(mark + strlen(" … and ")), 80 - kept);
		CHECK(strstr(mark, " more\nMaybe: Zoé, Lou\nComing or not? /rsvp 3 yes") ==
		      mark + strlen(" … and ") + (size_t)snprintf(NULL, 0, "%d", 80 - kept));
	}
	/* What fits is left alone. */
	strbuf_reset(&out);
	CHECK_INT(tg_shorten(&out, "<b>short</b>, fine", 20, more, NULL), 0);
	CHECK_STR(out.buf, "<b>short</b>, fine");
	/* No list to shorten: the first part, and the lines left out. */
	strbuf_reset(&out);
	CHECK_INT(tg_shorten(&out, "<b>one two three</b>\nfour\nfive", 16, more, NULL), 0);
	CHECK_STR(out.buf, "<b>one</b>\n… and 3 more");
	strbuf_release(&sb);
	strbuf_release(&out);
	strbuf_release(&text);
}

static void test_lenient_json(void)
{
	/* Among good updates, a text with NUL, one with a lone surrogate
	 * escape (high, then low), a real pair, a byte that is no UTF-8, and
	 * one that is not JSON at all (a bad escape): each good one is read,
	 * the bad one skipped with its id, and nothing holds back the rest. */
	static const char batch[] =
		"{\"ok\":true,\"result\":["
		"{\"update_id\":10,\"message\":{\"message_id\":1,\"chat\":{\"id\":-5,\"type\":\"group\"},"
		"\"from\":{\"id\":1,\"first_name\":\"A\"},\"text\":\"/vote 1\\u00002\"}},"
		"{\"update_id\":11,\"message\":{\"message_id\":2,\"chat\":{\"id\":-5,\"type\":\"group\"},"
		"\"from\":{\"id\":2,\"first_name\":\"B\"},\"text\":\"/poll \\ud800x\"}},"
		"{\"update_id\":12,\"message\":{\"message_id\":3,\"chat\":{\"id\":-5,\"type\":\"group\"},"
		"\"from\":{\"id\":3,\"first_name\":\"C\\udc00\"},\"text\":\"/poll \\ud83d\\ude00\"}},"
		"{\"update_id\":13,\"message\":{\"message_id\":4,\"chat\":{\"id\":-5,\"type\":\"group\"},"
		"\"from\":{\"id\":4,\"first_name\":\"D\"},\"text\":\"/poll \xff\"}},"
		"{\"update_id\":14,\"message\":{\"message_id\":5,\"chat\":{\"id\":-5,\"type\":\"group\"},"
		"\"from\":{\"id\":5,\"first_name\":\"E\"},\"text\":\"bad \\q escape\"}},"
		"{\"update_id\":15,\"message\":{\"message_id\":6,\"chat\":{\"id\":-5,\"type\":\"group\"},"
		"\"from\":{\"id\":6,\"first_name\":\"F\"},\"text\":\"/poll\"}}"
		"]}";
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[128];
	CHECK_INT(tg_parse_updates(batch, strlen(batch), false, &u, &n, &code, &retry, err, sizeof(err)), 0);
	CHECK_INT(n, 6);
	if(n == 6) {
		CHECK_INT(u[0].kind, TG_MESSAGE);
		CHECK_STR(u[0].text, "/vote 1\xEF\xBF\xBD"
		                     "2");
		CHECK_INT(u[1].kind, TG_MESSAGE);
		CHECK_STR(u[1].text, "/poll \xEF\xBF\xBDx");
		CHECK_INT(u[2].kind, TG_MESSAGE);
		CHECK_STR(u[2].text, "/poll 😀");
		CHECK_STR(u[2].sender_name, "C\xEF\xBF\xBD");
		CHECK_INT(u[3].kind, TG_MESSAGE);
		CHECK_STR(u[3].text, "/poll \xEF\xBF\xBD");
		CHECK_INT(u[4].kind, TG_UNREADABLE);
		CHECK_INT(u[4].update_id, 14);
		CHECK(u[4].text != NULL);
		CHECK_INT(u[5].kind, TG_MESSAGE);
		CHECK_INT(u[5].update_id, 15);
	}
	tg_updates_free(u, n);
	/* A webhook's one update that is not JSON, but has its id: skipped,
	 * not refused (Telegram would send it again and again). */
	static const char one[] = "{\"update_id\":77,\"message\":{\"text\":\"\\q\"}}";
	CHECK_INT(tg_parse_updates(one, strlen(one), true, &u, &n, NULL, NULL, err, sizeof(err)), 0);
	CHECK_INT(n, 1);
	if(n == 1) {
		CHECK_INT(u[0].kind, TG_UNREADABLE);
		CHECK_INT(u[0].update_id, 77);
	}
	tg_updates_free(u, n);
	/* A body cut short is still an error (the batch is fetched again). */
	static const char cut[] =
		"{\"ok\":true,\"result\":[{\"update_id\":5,\"message\":{\"text\":\"\\q\"}},{\"update_id\":";
	CHECK_INT(tg_parse_updates(cut, strlen(cut), false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	json_error_t jerr;
	json_t *o = tg_json_load("{\"a\":\"\\udfff\"}", 14, &jerr);
	CHECK_STR(json_string_value(json_object_get(o, "a")), "\xEF\xBF\xBD");
	json_decref(o);
}

static void test_anonymous(void)
{
	/* sender_chat is the group itself: an anonymous administrator; a
	 * linked channel posting in its discussion group is not one. */
	static const char batch[] =
		"{\"ok\":true,\"result\":["
		"{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{\"id\":-1007,\"type\":\"supergroup\"},"
		"\"sender_chat\":{\"id\":-1007,\"type\":\"supergroup\",\"title\":\"Les Amis\"},"
		"\"from\":{\"id\":1087968824,\"is_bot\":true,\"first_name\":\"Group\",\"username\":\"GroupAnonymousBot\"},"
		"\"text\":\"/vote 1\"}},"
		"{\"update_id\":2,\"message\":{\"message_id\":2,\"chat\":{\"id\":-1007,\"type\":\"supergroup\"},"
		"\"sender_chat\":{\"id\":-1008,\"type\":\"channel\",\"title\":\"Le canal\"},"
		"\"from\":{\"id\":136817688,\"is_bot\":true,\"first_name\":\"Channel\"},\"text\":\"/tz\"}},"
		"{\"update_id\":3,\"message\":{\"message_id\":3,\"chat\":{\"id\":-1007,\"type\":\"supergroup\"},"
		"\"from\":{\"id\":9,\"first_name\":\"Zoé\"},\"text\":\"/tz\"}}]}";
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[128];
	CHECK_INT(tg_parse_updates(batch, strlen(batch), false, &u, &n, &code, &retry, err, sizeof(err)), 0);
	CHECK_INT(n, 3);
	if(n == 3) {
		CHECK(u[0].anonymous);
		CHECK_STR(u[0].sender_name, "Les Amis");
		CHECK(!u[1].anonymous);
		CHECK(!u[2].anonymous);
	}
	tg_updates_free(u, n);
}

int main(void)
{
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[128];
	CHECK_INT(tg_parse_updates(updates, strlen(updates), false, &u, &n, &code, &retry, err, sizeof(err)), 0);
	CHECK_INT(n, 7);
	if(n == 7) {
		CHECK_INT(u[0].kind, TG_MESSAGE);
		CHECK_INT(u[0].update_id, 900000001);
		CHECK_STR(u[0].chat_id, "-1001234567890123");
		CHECK_STR(u[0].sender_id, "5123456789");
		CHECK_STR(u[0].sender_name, "Zoé Martin");
		CHECK_STR(u[0].lang, "fr");
		CHECK_STR(u[0].message_id, "11");
		CHECK_STR(u[0].reply_to, "7");
		CHECK_STR(u[0].text, "/vote@EnsembleBot 1 3?");
		CHECK(!u[0].is_private);
		CHECK_INT(u[1].kind, TG_MESSAGE);
		CHECK(u[1].is_private);
		CHECK_STR(u[1].reply_to, "");
		CHECK_INT(u[2].kind, TG_CALLBACK);
		CHECK_STR(u[2].callback_id, "4382bfdwdsb323b2d9");
		CHECK_STR(u[2].callback_data, "rsvp:12:y");
		CHECK_STR(u[2].chat_id, "-100555");
		CHECK_STR(u[2].message_id, "20");
		CHECK_INT(u[3].kind, TG_POLL_ANSWER);
		CHECK_STR(u[3].poll_id, "5432109876543210");
		CHECK_INT(u[3].n_options, 2);
		CHECK_INT(u[3].options[1], 2);
		CHECK_INT(u[4].kind, TG_POLL_ANSWER);
		CHECK_INT(u[4].n_options, 0);
		CHECK_INT(u[5].kind, TG_MIGRATE);
		CHECK_STR(u[5].migrate_to, "-1009999999999");
		CHECK_STR(u[5].chat_id, "-555");
		CHECK_INT(u[6].kind, TG_OTHER);
		CHECK_INT(u[6].update_id, 900000007);
	}
	tg_updates_free(u, n);

	/* One webhook update. */
	const char one[] = "{\"update_id\":5,\"message\":{\"message_id\":1,\"chat\":{\"id\":1,\"type\":\"private\"},"
			   "\"from\":{\"id\":1,\"first_name\":\"X\"},\"text\":\"/start\"}}";
	CHECK_INT(tg_parse_updates(one, strlen(one), true, &u, &n, NULL, NULL, err, sizeof(err)), 0);
	CHECK_INT(n, 1);
	tg_updates_free(u, n);

	/* A forum: a message in a topic belongs to "CHAT:THREAD"; one in the
	 * General topic (no is_topic_message) and a reply in a plain group do
	 * not, even with a message_thread_id. */
	const char forum[] =
		"{\"ok\":true,\"result\":["
		"{\"update_id\":6,\"message\":{\"message_id\":9,\"message_thread_id\":7,\"is_topic_message\":true,"
		"\"chat\":{\"id\":-1005550007,\"type\":\"supergroup\",\"is_forum\":true},"
		"\"from\":{\"id\":2,\"first_name\":\"Bob\"},\"text\":\"/poll\"}},"
		"{\"update_id\":7,\"message\":{\"message_id\":10,\"message_thread_id\":3,"
		"\"chat\":{\"id\":-1005550008,\"type\":\"supergroup\"},"
		"\"from\":{\"id\":2,\"first_name\":\"Bob\"},\"text\":\"/poll\"}},"
		"{\"update_id\":8,\"callback_query\":{\"id\":\"cb\",\"from\":{\"id\":2,\"first_name\":\"Bob\"},"
		"\"data\":\"rsvp:1:y\",\"message\":{\"message_id\":11,\"message_thread_id\":7,\"is_topic_message\":true,"
		"\"chat\":{\"id\":-1005550007,\"type\":\"supergroup\"}}}}]}";
	CHECK_INT(tg_parse_updates(forum, strlen(forum), false, &u, &n, &code, &retry, err, sizeof(err)), 0);
	CHECK_INT(n, 3);
	if(n == 3) {
		CHECK_STR(u[0].chat_id, "-1005550007:7");
		CHECK_STR(u[0].parent_chat, "-1005550007");
		CHECK_STR(u[1].chat_id, "-1005550008");
		CHECK_STR(u[1].parent_chat, "");
		CHECK_STR(u[2].chat_id, "-1005550007:7");
		CHECK_INT(u[2].kind, TG_CALLBACK);
	}
	tg_updates_free(u, n);
	char base[TG_CHAT_MAX];
	CHECK_INT(tg_chat_split("-1005550007:7", base, sizeof(base)), 7);
	CHECK_STR(base, "-1005550007");
	CHECK_INT(tg_chat_split("42", base, sizeof(base)), 0);
	CHECK_STR(base, "42");
	char small[5];
	CHECK_INT(tg_chat_split("-1005550007:7", small, sizeof(small)), 7); /* cut to fit */
	CHECK_STR(small, "-100");

	/* Errors in the Bot API's shape, and what is not JSON. */
	const char limited[] = "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 7\","
			       "\"parameters\":{\"retry_after\":7}}";
	CHECK_INT(tg_parse_updates(limited, strlen(limited), false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(code, 429);
	CHECK_INT(retry, 7);
	CHECK(strstr(err, "Too Many Requests") != NULL);
	const char conflict[] =
		"{\"ok\":false,\"error_code\":409,\"description\":\"Conflict: terminated by other getUpdates request\"}";
	CHECK_INT(tg_parse_updates(conflict, strlen(conflict), false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(code, 409);
	CHECK_INT(retry, -1);
	CHECK_INT(tg_parse_updates("<html>502</html>", 16, false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(tg_parse_updates("{\"ok\":true,\"res", 15, false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(tg_parse_updates("{\"ok\":true,\"result\":{}}", 23, false, &u, &n, &code, &retry, err, sizeof(err)),
	          -1);

	/* Mentions become tg://user links; the rest is already Telegram HTML. */
	struct strbuf sb = STRBUF_INIT;
	tg_render_html(&sb, "<b>#1</b> &amp; <a href=\"mention:42\">Bob</a>, <a href=\"https://x.org\">x</a>");
	CHECK_STR(sb.buf, "<b>#1</b> &amp; <a href=\"tg://user?id=42\">Bob</a>, <a href=\"https://x.org\">x</a>");
	strbuf_release(&sb);

	test_split();
	test_shorten();
	test_lenient_json();
	test_anonymous();
	return check_done();
}
