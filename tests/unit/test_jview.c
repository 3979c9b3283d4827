/* jview against jansson: the texts it accepts are those json_loadb accepts,
 * and what it reads of them is what jansson's tree holds, on hand-written
 * edge cases and on thousands of mutations of Matrix answers. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jview.h"
#include "tests/unit/check.h"

/* True when jview reads v as jansson's tree t. */
static bool same(json_t *t, const char *v, int depth)
{
	long long i;
	if(depth > 64)
		return true; /* deep enough: the checks above compared the rest */
	if(json_is_object(t)) {
		struct jview_member *m;
		size_t n;
		const char *key;
		json_t *val;
		size_t k = 0;
		bool ok = jview_is_object(v) && !jview_members(v, &m, &n) && n == json_object_size(t);
		json_object_foreach(t, key, val)
		{
			struct strbuf kb = STRBUF_INIT;
			ok = ok && k < n && !jview_string(m[k].key, &kb) && !strcmp(kb.buf, key) &&
			     same(val, m[k].value, depth + 1) && same(val, jview_get(v, key), depth + 1);
			strbuf_release(&kb);
			k++;
		}
		if(jview_is_object(v))
			free(m);
		return ok && !jview_get(v, "no such key \x01");
	}
	if(json_is_array(t)) {
		size_t k;
		json_t *val;
		const char *item = jview_first(v);
		bool ok = jview_is_array(v);
		json_array_foreach(t, k, val)
		{
			ok = ok && item && same(val, item, depth + 1);
			item = item ? jview_next(item) : NULL;
		}
		return ok && !item;
	}
	if(json_is_string(t)) {
		struct strbuf sb = STRBUF_INIT;
		bool ok = !jview_string(v, &sb) && sb.len == json_string_length(t) &&
		          !memcmp(sb.buf, json_string_value(t), sb.len) && jview_streq(v, json_string_value(t));
		strbuf_release(&sb);
		return ok && !jview_integer(v, &i);
	}
	if(json_is_integer(t))
		return jview_integer(v, &i) && i == json_integer_value(t) && !jview_is_true(v);
	if(json_is_real(t))
		return !jview_integer(v, &i) && (*v == '-' || (*v >= '0' && *v <= '9'));
	if(json_is_true(t))
		return jview_is_true(v);
	return v && (json_is_false(t) ? *v == 'f' : *v == 'n') && !jview_is_true(v);
}

static int checked, accepted;

static void compare(const char *text, size_t len)
{
	json_error_t err;
	json_t *t = json_loadb(text, len, 0, &err);
	int rc = jview_check(text, len);
	CHECK_INT(rc, t ? 0 : -1);
	if(rc != (t ? 0 : -1))
		fprintf(stderr, "  text: %.*s (jansson: %s)\n", (int)len, text, t ? "accepted" : err.text);
	if(t && !rc) {
		const char *v = text;
		while(*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
			v++;
		bool ok = same(t, v, 0);
		CHECK(ok);
		if(!ok)
			fprintf(stderr, "  read otherwise: %.*s\n", (int)len, text);
		CHECK(jview_end(v) <= text + len);
		accepted++;
	}
	checked++;
	json_decref(t);
}

static const char *const cases[] = {
	"{}",
	"[]",
	" {\"a\" : [1, -0, 2.5e3, -1E-2, true, false, null, \"x\"] } ",
	"{\"a\":1,\"a\":2,\"b\":{\"a\":3}}",
	"{\"\\u0061\":\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\\b\\f\\r\"}",
	"{\"a\":\"\\ud83d\"}",
	"{\"a\":\"\\ude00\"}",
	"{\"a\":\"\\u0000\"}",
	"{\"a\":\"\\x\"}",
	"{\"a\":\"\\u12g4\"}",
	"{\"a\":\"tab\there\"}",
	"{\"a\":01}",
	"{\"a\":-}",
	"{\"a\":1.}",
	"{\"a\":1e}",
	"{\"a\":.5}",
	"{\"a\":9223372036854775807}",
	"{\"a\":9223372036854775808}",
	"{\"a\":-9223372036854775808}",
	"{\"a\":-9223372036854775809}",
	"{\"a\":1e308}",
	"{\"a\":1e309}",
	"{\"a\":-1e400}",
	"{\"a\":1e-400}",
	"{\"a\":truex}",
	"{\"a\":nul}",
	"{\"a\":1,}",
	"[1,]",
	"[,1]",
	"{,}",
	"{\"a\"}",
	"{\"a\":}",
	"{\"a\" 1}",
	"{1:2}",
	"[1 2]",
	"{} {}",
	"{}x",
	"\"s\"",
	"1",
	"true",
	"",
	"  ",
	"[",
	"]",
	"{\"a\":[}",
	"[{]}",
	"{\"\xc3\xa9\":\"\xe2\x9c\x85\"}",
	"{\"a\":\"\xff\"}",
	"{\"a\":\"\xc0\xaf\"}",
	"{\"a\":\"\xed\xa0\x80\"}",
	"{\"a\":\"\xf4\x90\x80\x80\"}",
	"{\"a\":\"\xe2\x9c\"}",
	"[\xe2\x9c\x85]",
	"{\"a\":[[[[[]]]]],\"b\":[{}]}",
	"{\"rooms\":{\"join\":{\"!a\":{\"x\":1},\"!b\":2,\"!a\":{\"y\":[]}}}}",
};

/* A Matrix /sync and a send's answer, the seeds of the mutations. */
static const char sync_seed[] =
	"{\"next_batch\":\"s9\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":{\"limited\":true,\"prev_batch\":\"p1\","
	"\"events\":[{\"type\":\"m.room.message\",\"sender\":\"@u:x\",\"event_id\":\"$1\",\"origin_server_ts\":17961156000"
	"00,\"content\":{\"msgtype\":\"m.text\",\"body\":\"!vote 1 \\u00e9\",\"m.relates_to\":{\"rel_type\":\"m.thread\","
	"\"event_id\":\"$0\"},\"m.mentions\":{\"user_ids\":[\"@e:x\"]}}}]},\"summary\":{\"m.joined_member_count\":3},"
	"\"state\":{\"events\":[]}}},\"invite\":{\"!i:x\":{\"invite_state\":{\"events\":[{\"type\":\"m.room.member\","
	"\"state_key\":\"@e:x\",\"sender\":\"@u:x\",\"content\":{\"membership\":\"invite\"}}]}}}}}";

int main(void)
{
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		compare(cases[i], strlen(cases[i]));
	/* A NUL just after a number or a word: jansson skips one. */
	static const char nul1[] = "[6\0,7,true\0,{\"a\":-1e2\0}]", nul2[] = "[6\0\0]", nul3[] = "[\"a\"\0]";
	compare(nul1, sizeof(nul1) - 1);
	compare(nul2, sizeof(nul2) - 1);
	compare(nul3, sizeof(nul3) - 1);
	/* Depth: jansson's limit is 2048 levels. */
	char deep[2 * 2049 + 1];
	for(int d = 2047; d <= 2049; d++) {
		memset(deep, '[', (size_t)d);
		memset(deep + d, ']', (size_t)d);
		compare(deep, 2 * (size_t)d);
	}
	/* Mutations: a byte changed, dropped or doubled, at random places. */
	static const char alphabet[] = "{}[]\",:\\u0123456789.eE+-tfn \t\n\xc3\xa9\xed\xff\x01";
	size_t len = sizeof(sync_seed) - 1;
	char *buf = malloc(len + 8);
	unsigned seed = 1;
	for(int round = 0; round < 20000; round++) {
		memcpy(buf, sync_seed, len);
		size_t n = len;
		for(int k = 0; k < 1 + round % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % n;
			char c = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
			switch((seed >> 4) % 3) {
			case 0:
				buf[at] = c;
				break;
			case 1:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default:
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = c;
				n++;
			}
		}
		compare(buf, n);
	}
	free(buf);
	CHECK(accepted > 1000 && checked - accepted > 1000); /* both sides were tried */
	return check_done();
}
