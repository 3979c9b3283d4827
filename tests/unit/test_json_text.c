/* json_text writes what json_dumps(v, JSON_COMPACT) writes, byte for byte,
 * for every kind of value the adapters put in a body, and leaves to
 * jansson what it does not write itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "adapters/json_text.h"
#include "tests/unit/check.h"

/* Checks that json_text(v) and json_dumps(v, JSON_COMPACT) agree; takes v. */
static void same(json_t *v, const char *what)
{
	char *ours = json_text(v), *theirs = json_dumps(v, JSON_COMPACT);
	if(!ours || !theirs) {
		CHECK(!ours && !theirs);
	} else if(strcmp(ours, theirs)) {
		CHECK_STR(ours, theirs);
		fprintf(stderr, "  (%s)\n", what);
	} else {
		CHECK(1);
	}
	free(ours);
	free(theirs);
	json_decref(v);
}

int main(void)
{
	/* Strings: every escape jansson writes, and UTF-8 left as it is. */
	const char *texts[] = {
		"",
		"plain",
		"quote \" and backslash \\",
		"slash / stays",
		"\b\f\n\r\t",
		"\x01\x02\x1f control",
		"\x7f del",
		"é à ç – “curly” 📅 ✅",
		"<b>#1 · Poll</b>\nWhen: Sunday",
	};
	for(size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *o = json_object();
		json_object_set_new(o, "text", json_string(texts[i]));
		json_object_set_new(o, texts[i], json_true()); /* as a key too */
		same(o, texts[i]);
	}
	/* Numbers, words, nesting, empty containers, insertion order. */
	json_t *o = json_object();
	json_object_set_new(o, "z", json_integer(0));
	json_object_set_new(o, "a", json_integer(-1));
	json_object_set_new(o, "max", json_integer(INT64_MAX));
	json_object_set_new(o, "min", json_integer(INT64_MIN));
	json_object_set_new(o, "t", json_true());
	json_object_set_new(o, "f", json_false());
	json_object_set_new(o, "n", json_null());
	json_object_set_new(o, "empty", json_object());
	json_object_set_new(o, "none", json_array());
	json_t *rows = json_array();
	for(int r = 0; r < 3; r++) {
		json_t *row = json_array();
		for(int c = 0; c < 2; c++)
			json_array_append_new(row,
			                      json_pack("{s:s, s:s}", "text", "✅ Yes", "callback_data", "rsvp:12:y"));
		json_array_append_new(rows, row);
	}
	json_object_set_new(o, "reply_markup", json_pack("{s:o}", "inline_keyboard", rows));
	same(o, "a send's body");
	same(json_pack("[i, [], {}, [[[]]], s]", 7, "x"), "an array");
	/* Left to jansson: a real, a string holding a NUL; and what
	 * json_dumps refuses (no container, nothing) is refused. */
	same(json_pack("{s:f, s:s}", "real", 0.1, "s", "after"), "a real");
	o = json_object();
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	same(o, "a NUL");
	same(json_string("alone"), "a scalar");
	char *none = json_text(NULL);
	CHECK(none == NULL);
	return check_done();
}
