/* UTF-8 checks, cleaning, folding, distance and the strbuf/action helpers. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/action.h"
#include "lib/text.h"
#include "tests/unit/check.h"

static char *fold(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	text_fold(&sb, s);
	return strbuf_detach(&sb);
}

static void check_fold(const char *in, const char *want)
{
	char *got = fold(in);
	CHECK_STR(got, want);
	free(got);
}

int main(void)
{
	CHECK(utf8_valid("héllo", strlen("héllo")));
	CHECK(utf8_valid("", 0));
	CHECK(!utf8_valid("\xff", 1));
	CHECK(!utf8_valid("\xc3", 1));             /* truncated */
	CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
	CHECK(utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
	CHECK_INT(utf8_length("été"), 3);
	CHECK_INT(utf8_prefix("été", 2), 3);

	struct strbuf sb = STRBUF_INIT;
	text_clean(&sb, "a\x01"
	                "b\r\nc\x7f"
	                "d\xc2\x85"
	                "e\tf");
	CHECK_STR(sb.buf, "a b\nc d e\tf");
	strbuf_release(&sb);

	check_fold("Écriture", "ecriture");
	check_fold("  ÉCRITURE   créative ", "ecriture creative");
	check_fold("Œuvre Straße", "oeuvre strasse");
	check_fold("l’été", "l'ete");
	check_fold("ÇA", "ca");

	CHECK_INT(text_distance("help", "hlep", 3), 2);
	CHECK_INT(text_distance("meetup", "meetpu", 3), 2);
	CHECK_INT(text_distance("abc", "abc", 3), 0);
	CHECK_INT(text_distance("a", "abcdefgh", 2), 3);
	CHECK(text_ieq("EnSemble", "ensemble"));
	CHECK(!text_ieq("ensemble", "ensembl"));

	struct strbuf h = STRBUF_INIT;
	strbuf_add_html(&h, "<a href=\"x\">&</a>");
	CHECK_STR(h.buf, "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
	strbuf_reset(&h);
	/* Telegram's HTML keeps the apostrophe; the web pages escape it. */
	strbuf_add_html(&h, "l'<b>");
	CHECK_STR(h.buf, "l'&lt;b&gt;");
	strbuf_reset(&h);
	strbuf_add_html_all(&h, "l'<b> & \"x\"");
	CHECK_STR(h.buf, "l&#39;&lt;b&gt; &amp; &quot;x&quot;");
	strbuf_reset(&h);

	/* JSON strings as jansson writes them (the Matrix sends were jansson's
	 * before they were written by hand). */
	static const char *const js[] = { "plain", "a \"q\" \\ b", "l\n2\tt\r\b\f", "c\x01\x1f\x7f", "été ✅ /x", "" };
	for(size_t i = 0; i < sizeof(js) / sizeof(js[0]); i++) {
		json_t *v = json_string(js[i]);
		char *want = json_dumps(v, JSON_ENCODE_ANY);
		CHECK_INT(strbuf_add_json(&h, js[i]), 0);
		CHECK_STR(h.buf, want);
		strbuf_reset(&h);
		free(want);
		json_decref(v);
	}
	/* Each character that needs escaping, and a multibyte one, at each
	 * place of a longer text (read eight bytes at a time). */
	static const char *const odd[] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "é", "✅", " " };
	for(size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
		for(size_t at = 0; at < 20; at++) {
			char text[64];
			snprintf(text, sizeof(text), "%.*s%s%.*s", (int)at, "abcdefghijklmnopqrstuvwxyz", odd[k],
			         (int)(19 - at), "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			json_t *v = json_string(text);
			char *want = json_dumps(v, JSON_ENCODE_ANY);
			CHECK_INT(strbuf_add_json(&h, text), 0);
			CHECK_STR(h.buf, want);
			strbuf_reset(&h);
			free(want);
			json_decref(v);
			/* Not UTF-8 there: refused. */
			snprintf(text, sizeof(text), "%.*s\xff%.*s", (int)at, "abcdefghijklmnopqrstuvwxyz",
			         (int)(19 - at), "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			CHECK_INT(strbuf_add_json(&h, text), -1);
			CHECK_STR(h.buf, "");
		}
	}
	CHECK_INT(strbuf_add_json(&h, NULL), 0);
	CHECK_STR(h.buf, "null");
	strbuf_reset(&h);
	CHECK_INT(strbuf_add_json(&h, "a\xff"), -1); /* not UTF-8: refused, nothing appended */
	CHECK_STR(h.buf, "");
	strbuf_release(&h);

	char *plain = action_plain_text("<b>Hi</b> &lt;you&gt; &amp; <a href=\"https://x.org/?a=1&amp;b=2\">site</a>");
	CHECK_STR(plain, "Hi <you> & site (https://x.org/?a=1&b=2)");
	free(plain);
	plain = action_plain_text("<a href=\"https://x.org\">https://x.org</a>");
	CHECK_STR(plain, "https://x.org");
	free(plain);

	/* text_copy and text_int cut and end their text as snprintf does. */
	char small[6], want[6];
	const char *copies[] = { "", "abc", "abcde", "abcdef", "abcdefghij", "été" };
	for(size_t i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
		for(size_t size = 1; size <= sizeof(small); size++) {
			memset(small, 'x', sizeof(small));
			memset(want, 'x', sizeof(want));
			CHECK_INT((int)text_copy(small, size, copies[i]), snprintf(want, size, "%s", copies[i]));
			CHECK(!memcmp(small, want, sizeof(small)));
		}
	}
	for(size_t size = 1; size <= sizeof(small); size++) { /* the first 4 bytes of "abcdefghij" */
		memset(small, 'x', sizeof(small));
		memset(want, 'x', sizeof(want));
		CHECK_INT((int)text_copyn(small, size, "abcdefghij", 4), snprintf(want, size, "%.*s", 4, "abcdefghij"));
		CHECK(!memcmp(small, want, sizeof(small)));
	}
	CHECK_INT((int)text_copy(small, sizeof(small), NULL), 0);
	CHECK_STR(small, "");
	char overlap[] = "xxabc";
	text_copy(overlap, sizeof(overlap), overlap + 2);
	CHECK_STR(overlap, "abc");
	const long long ints[] = { 0, 7, -7, 42, 99999, -12345, 1234567, LLONG_MAX, LLONG_MIN };
	char num[32], num_want[32];
	for(size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		for(size_t size = 1; size <= sizeof(num); size += 3) {
			memset(num, 'x', sizeof(num));
			memset(num_want, 'x', sizeof(num_want));
			CHECK_INT((int)text_int(num, size, ints[i]), snprintf(num_want, size, "%lld", ints[i]));
			CHECK(!memcmp(num, num_want, sizeof(num)));
		}
	}

	struct outbox ob;
	outbox_init(&ob);
	struct action *a = outbox_push(&ob, ACTION_SEND_POLL, "console", "c", "text");
	CHECK(a != NULL);
	CHECK_INT(action_add_option(a, "one"), 0);
	CHECK_INT(action_add_button(a, "Yes", "rsvp:1:y"), 0);
	CHECK_INT(ob.n, 1);
	outbox_release(&ob);
	return check_done();
}
