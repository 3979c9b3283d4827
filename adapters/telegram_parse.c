#include "adapters/telegram_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/text.h"

/* Copies a JSON integer id (64-bit) as text; "" when absent. */
static void tg__id(json_t *v, char *out, size_t outlen)
{
	if(json_is_integer(v))
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
	else
		out[0] = '\0';
}

/* A copy of a JSON string; a NUL in it (JSON_ALLOW_NUL reads \u0000)
 * becomes U+FFFD, so that nothing after it is lost. */
static char *tg__dup(json_t *v)
{
	if(!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if(strlen(s) == len)
		return strdup(s);
	struct strbuf sb = STRBUF_INIT;
	for(size_t i = 0; i < len; i++) {
		if(s[i])
			strbuf_addc(&sb, s[i]);
		else
			strbuf_adds(&sb, "\xEF\xBF\xBD");
	}
	return strbuf_detach(&sb);
}

static void tg__sender(json_t *from, struct tg_update *u)
{
	tg__id(json_object_get(from, "id"), u->sender_id, sizeof(u->sender_id));
	const char *first = json_string_value(json_object_get(from, "first_name"));
	const char *last = json_string_value(json_object_get(from, "last_name"));
	struct strbuf name = STRBUF_INIT;
	strbuf_adds(&name, first ? first : "");
	if(last && *last) {
		strbuf_addc(&name, ' ');
		strbuf_adds(&name, last);
	}
	u->sender_name = strbuf_detach(&name);
	const char *lang = json_string_value(json_object_get(from, "language_code"));
	snprintf(u->lang, sizeof(u->lang), "%.2s", lang ? lang : "");
}

long long tg_chat_split(const char *chat, char *base, size_t n)
{
	const char *colon = strchr(chat, ':');
	size_t len = colon ? (size_t)(colon - chat) : strlen(chat);
	snprintf(base, n, "%.*s", (int)len, chat);
	return colon ? atoll(colon + 1) : 0;
}

/* A message in a forum topic belongs to the chat "CHAT:THREAD". */
static void tg__topic(json_t *msg, struct tg_update *u)
{
	json_t *thread = json_object_get(msg, "message_thread_id");
	if(u->chat_id[0] && json_is_true(json_object_get(msg, "is_topic_message")) && json_is_integer(thread)) {
		memcpy(u->parent_chat, u->chat_id, sizeof(u->parent_chat));
		size_t len = strlen(u->chat_id);
		snprintf(u->chat_id + len, sizeof(u->chat_id) - len, ":%lld", (long long)json_integer_value(thread));
	}
}

/* Fills u from the message msg: its chat, its sender, and its kind when
 * it is a text or a chat's move. */
static void tg__read_message(json_t *msg, struct tg_update *u)
{
	json_t *chat = json_object_get(msg, "chat");
	tg__id(json_object_get(chat, "id"), u->chat_id, sizeof(u->chat_id));
	tg__topic(msg, u);
	const char *type = json_string_value(json_object_get(chat, "type"));
	u->is_private = type && !strcmp(type, "private");
	const char *chat_title = json_string_value(json_object_get(chat, "title"));
	if(chat_title)
		snprintf(u->chat_title, sizeof(u->chat_title), "%.*s", (int)utf8_prefix(chat_title, 128), chat_title);
	tg__id(json_object_get(msg, "message_id"), u->message_id, sizeof(u->message_id));
	tg__id(json_object_get(json_object_get(msg, "reply_to_message"), "message_id"), u->reply_to,
	       sizeof(u->reply_to));
	json_t *date = json_object_get(msg, "date");
	u->date = json_is_integer(date) ? (long long)json_integer_value(date) : 0;
	tg__sender(json_object_get(msg, "from"), u);
	/* Telegram's rule: a message whose sender_chat is the group itself
	 * comes from one of its anonymous administrators (one posted for a
	 * linked channel names that channel).  It goes by the group's
	 * name. */
	json_t *as = json_object_get(msg, "sender_chat");
	json_t *as_id = json_object_get(as, "id");
	json_t *cid = json_object_get(chat, "id");
	if(json_is_integer(as_id) && json_is_integer(cid) && json_integer_value(as_id) == json_integer_value(cid)) {
		const char *title = json_string_value(json_object_get(as, "title"));
		u->anonymous = true;
		if(title && *title) {
			free(u->sender_name);
			u->sender_name = strdup(title);
		}
	}
	json_t *migrate = json_object_get(msg, "migrate_to_chat_id");
	if(json_is_integer(migrate)) {
		u->kind = TG_MIGRATE;
		tg__id(migrate, u->migrate_to, sizeof(u->migrate_to));
	} else if(json_is_string(json_object_get(msg, "text")) && u->chat_id[0] && u->sender_id[0]) {
		u->kind = TG_MESSAGE;
		u->text = tg__dup(json_object_get(msg, "text"));
	}
}

/* Fills u from the callback query cb (a button pressed under a message). */
static void tg__read_callback(json_t *cb, struct tg_update *u)
{
	json_t *m = json_object_get(cb, "message");
	tg__id(json_object_get(json_object_get(m, "chat"), "id"), u->chat_id, sizeof(u->chat_id));
	tg__topic(m, u);
	/* A press in a private chat may answer a meetup of a group (the
	 * buttons of a private reminder). */
	const char *type = json_string_value(json_object_get(json_object_get(m, "chat"), "type"));
	u->is_private = type && !strcmp(type, "private");
	tg__id(json_object_get(m, "message_id"), u->message_id, sizeof(u->message_id));
	tg__sender(json_object_get(cb, "from"), u);
	const char *cid = json_string_value(json_object_get(cb, "id"));
	snprintf(u->callback_id, sizeof(u->callback_id), "%s", cid ? cid : "");
	u->callback_data = tg__dup(json_object_get(cb, "data"));
	if(u->callback_id[0] && u->chat_id[0] && u->sender_id[0])
		u->kind = TG_CALLBACK;
}

/* Fills u from the poll answer pa: the poll, who answered and the options
 * chosen. */
static void tg__read_poll_answer(json_t *pa, struct tg_update *u)
{
	const char *pid = json_string_value(json_object_get(pa, "poll_id"));
	snprintf(u->poll_id, sizeof(u->poll_id), "%s", pid ? pid : "");
	tg__sender(json_object_get(pa, "user"), u);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(pa, "option_ids"), i, v)
	{
		if(json_is_integer(v) && u->n_options < TG_MAX_OPTIONS && json_integer_value(v) >= 0 &&
		   json_integer_value(v) < TG_MAX_OPTIONS)
			u->options[u->n_options++] = (int)json_integer_value(v);
	}
	if(u->poll_id[0] && u->sender_id[0])
		u->kind = TG_POLL_ANSWER;
}

/* Fills u from one update object.  Returns 0, or -1 when it has no
 * update_id (it is then skipped whole). */
static int tg__one(json_t *o, struct tg_update *u)
{
	memset(u, 0, sizeof(*u));
	json_t *id = json_object_get(o, "update_id");
	if(!json_is_integer(id))
		return -1;
	u->update_id = json_integer_value(id);
	json_t *msg = json_object_get(o, "message");
	json_t *cb = json_object_get(o, "callback_query");
	json_t *pa = json_object_get(o, "poll_answer");
	if(json_is_object(msg))
		tg__read_message(msg, u);
	else if(json_is_object(cb))
		tg__read_callback(cb, u);
	else if(json_is_object(pa))
		tg__read_poll_answer(pa, u);
	/* Text the core will read must be valid UTF-8 (jansson checks). */
	if(u->text && !utf8_valid(u->text, strlen(u->text)))
		u->kind = TG_OTHER;
	return 0;
}

/* Reads the 4 hex digits at p (before end) into *v: true, or false. */
static bool tg__hex4(const char *p, const char *end, unsigned *v)
{
	*v = 0;
	if(end - p < 4)
		return false;
	for(int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if(d < 0)
			return false;
		*v = *v << 4 | (unsigned)d;
	}
	return true;
}

/* Copies the JSON text [p, end) to out with each lone surrogate escape
 * (\ud800 not followed by a low one, or a low one alone) written \ufffd and
 * each byte of a string that starts no UTF-8 character written U+FFFD.
 * Returns how many it replaced. */
static size_t tg__fix(struct strbuf *out, const char *p, const char *end)
{
	size_t fixed = 0;
	bool in_string = false;
	while(p < end) {
		unsigned char c = (unsigned char)*p;
		if(!in_string || (c != '\\' && c < 0x80)) {
			if(c == '"')
				in_string = !in_string;
			strbuf_addc(out, *p++);
			continue;
		}
		if(c >= 0x80) {
			size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
			if(n > 1 && (size_t)(end - p) >= n && utf8_valid(p, n)) {
				strbuf_add(out, p, n);
				p += n;
			} else {
				strbuf_adds(out, "\xEF\xBF\xBD");
				fixed++;
				p++;
			}
			continue;
		}
		/* An escape: only \uXXXX may be wrong. */
		unsigned hi;
		if(end - p < 6 || p[1] != 'u' || !tg__hex4(p + 2, end, &hi)) {
			size_t n = end - p < 2 ? 1 : 2;
			strbuf_add(out, p, n);
			p += n;
			continue;
		}
		unsigned lo = 0;
		bool pair = hi >= 0xD800 && hi <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
		            tg__hex4(p + 8, end, &lo) && lo >= 0xDC00 && lo <= 0xDFFF;
		if(pair) {
			strbuf_add(out, p, 12);
			p += 12;
		} else if(hi >= 0xD800 && hi <= 0xDFFF) {
			strbuf_adds(out, "\\ufffd");
			fixed++;
			p += 6;
		} else {
			strbuf_add(out, p, 6);
			p += 6;
		}
	}
	return fixed;
}

json_t *tg_json_load(const char *json, size_t len, json_error_t *err)
{
	json_t *o = json_loadb(json, len, JSON_ALLOW_NUL, err);
	if(o)
		return o;
	struct strbuf fixed = STRBUF_INIT;
	if(tg__fix(&fixed, json, json + len) && !fixed.oom)
		o = json_loadb(fixed.buf, fixed.len, JSON_ALLOW_NUL, err);
	strbuf_release(&fixed);
	return o;
}

/* The first place of needle in [p, end), or NULL. */
static const char *tg__find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	for(; (size_t)(end - p) >= n; p++)
		if(!memcmp(p, needle, n))
			return p;
	return NULL;
}

static const char *tg__skip_space(const char *p, const char *end)
{
	while(p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The value of the first key in [p, end) (a quoted name: it cannot be
 * part of a string, whose quotes are escaped), or NULL. */
static const char *tg__key(const char *p, const char *end, const char *key)
{
	const char *k = tg__find(p, end, key);
	const char *v = k ? tg__skip_space(k + strlen(key), end) : NULL;
	if(!v || v >= end || *v != ':')
		return NULL;
	return tg__skip_space(v + 1, end);
}

/* Where the JSON object or array that starts at p ends (past its closing
 * bracket), or NULL when it does not end before end. */
static const char *tg__value_end(const char *p, const char *end)
{
	int depth = 0;
	bool in_string = false;
	for(; p < end; p++) {
		if(in_string) {
			if(*p == '\\')
				p++;
			else if(*p == '"')
				in_string = false;
		} else if(*p == '"') {
			in_string = true;
		} else if(*p == '{' || *p == '[') {
			depth++;
		} else if((*p == '}' || *p == ']') && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

/* One update's JSON text [p, end) into u: read as usual, or, when it is not
 * JSON, TG_UNREADABLE with the update_id found in it (a user's text cannot
 * hold the key: its quotes are escaped).  0, or -1 when there is no
 * update_id to count. */
static int tg__one_text(const char *p, const char *end, struct tg_update *u)
{
	json_error_t jerr;
	json_t *o = tg_json_load(p, (size_t)(end - p), &jerr);
	int rc = -1;
	if(o) {
		rc = tg__one(o, u);
		json_decref(o);
		return rc;
	}
	memset(u, 0, sizeof(*u));
	const char *v = tg__key(p, end, "\"update_id\"");
	if(!v)
		return -1;
	long long id = 0;
	size_t digits = 0;
	for(; v < end && *v >= '0' && *v <= '9' && digits < 18; v++, digits++)
		id = id * 10 + (*v - '0');
	if(!digits)
		return -1;
	u->update_id = id;
	u->kind = TG_UNREADABLE;
	u->text = strdup(jerr.text);
	return 0;
}

/* A getUpdates answer that is not JSON as a whole, read update by update
 * (or, with single, the one update of a webhook).  0 with *out and *n, or
 * -1 when it is not a list of updates (a cut body among others). */
static int tg__parse_each(const char *json, size_t len, bool single, struct tg_update **out, size_t *n)
{
	const char *end = json + len, *p = tg__skip_space(json, end);
	struct tg_update *u = NULL;
	size_t k = 0, alloc = 0;
	if(!single) {
		const char *ok = tg__key(json, end, "\"ok\"");
		if(!ok || end - ok < 4 || memcmp(ok, "true", 4))
			return -1;
		p = tg__key(json, end, "\"result\"");
		if(!p || p >= end || *p != '[')
			return -1;
		p = tg__skip_space(p + 1, end);
	}
	while(p < end && *p == '{') {
		const char *e = tg__value_end(p, end);
		if(!e)
			goto fail;
		if(k == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			struct tg_update *nu = realloc(u, na * sizeof(*nu));
			if(!nu)
				goto fail;
			u = nu;
			alloc = na;
		}
		if(!tg__one_text(p, e, &u[k]))
			k++;
		p = tg__skip_space(e, end);
		if(single)
			break;
		if(p < end && *p == ',')
			p = tg__skip_space(p + 1, end);
		else
			break;
	}
	if(single ? p != end || !k : p >= end || *p != ']')
		goto fail;
	*out = u;
	*n = k;
	return 0;
fail:
	tg_updates_free(u, k);
	return -1;
}

int tg_parse_updates(const char *json, size_t len, bool single, struct tg_update **out, size_t *n, int *error_code,
                     long *retry_after, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = tg_json_load(json, len, &jerr);
	int rc = -1;
	*out = NULL;
	*n = 0;
	if(error_code)
		*error_code = -1;
	if(retry_after)
		*retry_after = -1;
	if(!root && !tg__parse_each(json, len, single, out, n))
		return 0;
	if(!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object: %s", root ? "wrong type" : jerr.text);
		goto done;
	}
	json_t *list;
	if(single) {
		list = json_array();
		json_array_append(list, root);
	} else {
		if(!json_is_true(json_object_get(root, "ok"))) {
			json_t *code = json_object_get(root, "error_code");
			json_t *ra = json_object_get(json_object_get(root, "parameters"), "retry_after");
			if(error_code && json_is_integer(code))
				*error_code = (int)json_integer_value(code);
			if(retry_after && json_is_integer(ra))
				*retry_after = (long)json_integer_value(ra);
			const char *d = json_string_value(json_object_get(root, "description"));
			snprintf(err, errlen, "refused: %s", d ? d : "no description");
			goto done;
		}
		list = json_incref(json_object_get(root, "result"));
		if(!json_is_array(list)) {
			json_decref(list);
			snprintf(err, errlen, "no result array");
			goto done;
		}
	}
	size_t count = json_array_size(list);
	struct tg_update *u = count ? calloc(count, sizeof(*u)) : NULL;
	if(count && !u) {
		json_decref(list);
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	size_t k = 0;
	for(size_t i = 0; i < count; i++)
		if(!tg__one(json_array_get(list, i), &u[k]))
			k++;
	json_decref(list);
	*out = u;
	*n = k;
	rc = 0;
done:
	json_decref(root);
	return rc;
}

void tg_updates_free(struct tg_update *u, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		free(u[i].sender_name);
		free(u[i].text);
		free(u[i].callback_data);
	}
	free(u);
}
