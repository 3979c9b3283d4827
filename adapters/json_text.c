#include "adapters/json_text.h"

#include <string.h>

#include "lib/strbuf.h"

/* Appends v to out.  0, or -1 when v holds something left to jansson (or
 * memory ran out). */
static int json_text__add(struct strbuf *out, const json_t *v)
{
	const char *key;
	const json_t *item;
	size_t i;
	switch(json_typeof(v)) {
	case JSON_OBJECT:
		strbuf_addc(out, '{');
		i = 0;
		json_object_foreach((json_t *)v, key, item)
		{
			if(i++)
				strbuf_addc(out, ',');
			if(strbuf_add_json(out, key) || strbuf_addc(out, ':') || json_text__add(out, item))
				return -1;
		}
		return strbuf_addc(out, '}');
	case JSON_ARRAY:
		strbuf_addc(out, '[');
		json_array_foreach(v, i, item)
		{
			if(i)
				strbuf_addc(out, ',');
			if(json_text__add(out, item))
				return -1;
		}
		return strbuf_addc(out, ']');
	case JSON_STRING:
		/* A string holding a NUL (json_stringn) is jansson's to write. */
		if(strlen(json_string_value(v)) != json_string_length(v))
			return -1;
		return strbuf_add_json(out, json_string_value(v));
	case JSON_INTEGER:
		return strbuf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_TRUE:
		return strbuf_adds(out, "true");
	case JSON_FALSE:
		return strbuf_adds(out, "false");
	case JSON_NULL:
		return strbuf_adds(out, "null");
	default: /* JSON_REAL: jansson's own format */
		return -1;
	}
}

char *json_text(const json_t *v)
{
	if(!json_is_object(v) && !json_is_array(v))
		return NULL;
	struct strbuf out = STRBUF_INIT;
	if(json_text__add(&out, v) || out.oom) {
		strbuf_release(&out);
		return json_dumps(v, JSON_COMPACT);
	}
	return strbuf_detach(&out);
}
