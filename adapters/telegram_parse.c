#include "adapters/telegram_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jview.h"
#include "lib/strbuf.h"
#include "lib/text.h"

/*
 * The updates are read with jview (lib/jview.h), where they lie in the
 * answer's text: a tree of each (jansson) was a sixth of the bot's
 * instructions an update.  An answer jview_check refuses (a user's text
 * with \u0000 or a lone surrogate, which Telegram does send) is decoded by
 * tg_json_load and written again as text jview accepts (tg__viewable).
 */

/* Copies a JSON integer id (64-bit) as text; "" when absent. */
static void tg__id(const char *v, char *out, size_t outlen)
{
	long long x;
	if(jview_integer(v, &x))
		text_int(out, outlen, x);
	else
		out[0] = '\0';
}

/* Copies the string v, decoded, into out (cut to fit); "" when v is no
 * string.  True when it is one. */
static bool tg__str(const char *v, char *out, size_t outlen)
{
	struct strbuf sb = STRBUF_INIT;
	bool ok = !jview_string(v, &sb);
	text_copy(out, outlen, ok ? sb.buf : "");
	strbuf_release(&sb);
	return ok;
}

/* Each object is read in one pass over its members (jview_pick): a
 * jview_get per member would walk it again each time. */
static void tg__sender(const char *from, struct tg_update *u)
{
	enum { ID, FIRST, LAST, LANG, N };
	static const char *const keys[N] = { "id", "first_name", "last_name", "language_code" };
	const char *f[N];
	jview_pick(from, keys, N, f);
	tg__id(f[ID], u->sender_id, sizeof(u->sender_id));
	struct strbuf name = STRBUF_INIT, last = STRBUF_INIT;
	jview_string(f[FIRST], &name);
	if(!jview_string(f[LAST], &last) && last.len) {
		strbuf_addc(&name, ' ');
		strbuf_add(&name, last.buf, last.len);
	}
	strbuf_release(&last);
	u->sender_name = strbuf_detach(&name);
	char lang[sizeof(u->lang)];
	tg__str(f[LANG], lang, sizeof(lang));
	snprintf(u->lang, sizeof(u->lang), "%.2s", lang);
}

/* The members of a chat the bot reads. */
enum { TG_CHAT_ID, TG_CHAT_TYPE, TG_CHAT_TITLE, TG_CHAT_N };
static const char *const tg__chat_keys[TG_CHAT_N] = { "id", "type", "title" };

long long tg_chat_split(const char *chat, char *base, size_t n)
{
	const char *colon = strchr(chat, ':');
	size_t len = colon ? (size_t)(colon - chat) : strlen(chat);
	text_copyn(base, n, chat, len);
	return colon ? atoll(colon + 1) : 0;
}

/* A message in a forum topic belongs to the chat "CHAT:THREAD": its
 * is_topic_message and message_thread_id. */
static void tg__topic(const char *is_topic, const char *thread_id, struct tg_update *u)
{
	long long thread;
	if(u->chat_id[0] && jview_is_true(is_topic) && jview_integer(thread_id, &thread)) {
		memcpy(u->parent_chat, u->chat_id, sizeof(u->parent_chat));
		size_t len = strlen(u->chat_id);
		snprintf(u->chat_id + len, sizeof(u->chat_id) - len, ":%lld", thread);
	}
}

/* Fills u from the message msg: its chat, its sender, and its kind when
 * it is a text or a chat's move. */
static void tg__read_message(const char *msg, struct tg_update *u)
{
	enum { CHAT, TOPIC, THREAD, MID, REPLY, DATE, FROM, AS, MIGRATE, TEXT, N };
	static const char *const keys[N] = { "chat",       "is_topic_message", "message_thread_id",
		                             "message_id", "reply_to_message", "date",
		                             "from",       "sender_chat",      "migrate_to_chat_id",
		                             "text" };
	const char *f[N], *chat[TG_CHAT_N];
	jview_pick(msg, keys, N, f);
	jview_pick(f[CHAT], tg__chat_keys, TG_CHAT_N, chat);
	tg__id(chat[TG_CHAT_ID], u->chat_id, sizeof(u->chat_id));
	tg__topic(f[TOPIC], f[THREAD], u);
	u->is_private = jview_streq(chat[TG_CHAT_TYPE], "private");
	struct strbuf title = STRBUF_INIT;
	if(!jview_string(chat[TG_CHAT_TITLE], &title))
		snprintf(u->chat_title, sizeof(u->chat_title), "%.*s", (int)utf8_prefix(title.buf, 128), title.buf);
	strbuf_release(&title);
	tg__id(f[MID], u->message_id, sizeof(u->message_id));
	tg__id(jview_get(f[REPLY], "message_id"), u->reply_to, sizeof(u->reply_to));
	if(!jview_integer(f[DATE], &u->date))
		u->date = 0;
	tg__sender(f[FROM], u);
	/* Telegram's rule: a message whose sender_chat is the group itself
	 * comes from one of its anonymous administrators (one posted for a
	 * linked channel names that channel).  It goes by the group's
	 * name. */
	const char *as[TG_CHAT_N];
	jview_pick(f[AS], tg__chat_keys, TG_CHAT_N, as);
	long long as_id, cid;
	if(jview_integer(as[TG_CHAT_ID], &as_id) && jview_integer(chat[TG_CHAT_ID], &cid) && as_id == cid) {
		u->anonymous = true;
		char *name = jview_strdup(as[TG_CHAT_TITLE]);
		if(name && *name) {
			free(u->sender_name);
			u->sender_name = name;
		} else {
			free(name);
		}
	}
	long long to;
	char *text;
	if(jview_integer(f[MIGRATE], &to)) {
		u->kind = TG_MIGRATE;
		tg__id(f[MIGRATE], u->migrate_to, sizeof(u->migrate_to));
	} else if((text = jview_strdup(f[TEXT]))) {
		if(u->chat_id[0] && u->sender_id[0]) {
			u->kind = TG_MESSAGE;
			u->text = text;
		} else {
			free(text);
		}
	}
}

/* Fills u from the callback query cb (a button pressed under a message). */
static void tg__read_callback(const char *cb, struct tg_update *u)
{
	enum { MSG, FROM, ID, DATA, N };
	static const char *const keys[N] = { "message", "from", "id", "data" };
	enum { CHAT, TOPIC, THREAD, MID, MN };
	static const char *const mkeys[MN] = { "chat", "is_topic_message", "message_thread_id", "message_id" };
	const char *f[N], *m[MN], *chat[TG_CHAT_N];
	jview_pick(cb, keys, N, f);
	jview_pick(f[MSG], mkeys, MN, m);
	jview_pick(m[CHAT], tg__chat_keys, TG_CHAT_N, chat);
	tg__id(chat[TG_CHAT_ID], u->chat_id, sizeof(u->chat_id));
	tg__topic(m[TOPIC], m[THREAD], u);
	/* A press in a private chat may answer a meetup of a group (the
	 * buttons of a private reminder). */
	u->is_private = jview_streq(chat[TG_CHAT_TYPE], "private");
	tg__id(m[MID], u->message_id, sizeof(u->message_id));
	tg__sender(f[FROM], u);
	tg__str(f[ID], u->callback_id, sizeof(u->callback_id));
	u->callback_data = jview_strdup(f[DATA]);
	if(u->callback_id[0] && u->chat_id[0] && u->sender_id[0])
		u->kind = TG_CALLBACK;
}

/* Fills u from the poll answer pa: the poll, who answered and the options
 * chosen. */
static void tg__read_poll_answer(const char *pa, struct tg_update *u)
{
	enum { POLL, USER, OPTIONS, N };
	static const char *const keys[N] = { "poll_id", "user", "option_ids" };
	const char *f[N];
	jview_pick(pa, keys, N, f);
	tg__str(f[POLL], u->poll_id, sizeof(u->poll_id));
	tg__sender(f[USER], u);
	for(const char *v = jview_first(f[OPTIONS]); v; v = jview_next(v)) {
		long long o;
		if(jview_integer(v, &o) && u->n_options < TG_MAX_OPTIONS && o >= 0 && o < TG_MAX_OPTIONS)
			u->options[u->n_options++] = (int)o;
	}
	if(u->poll_id[0] && u->sender_id[0])
		u->kind = TG_POLL_ANSWER;
}

/* Fills u from one update object o.  Returns 0, or -1 when it has no
 * update_id (it is then skipped whole). */
static int tg__one(const char *o, struct tg_update *u)
{
	enum { ID, MSG, CB, PA, N };
	static const char *const keys[N] = { "update_id", "message", "callback_query", "poll_answer" };
	const char *f[N];
	long long id;
	memset(u, 0, sizeof(*u));
	jview_pick(o, keys, N, f);
	if(!jview_integer(f[ID], &id))
		return -1;
	u->update_id = id;
	if(jview_is_object(f[MSG]))
		tg__read_message(f[MSG], u);
	else if(jview_is_object(f[CB]))
		tg__read_callback(f[CB], u);
	else if(jview_is_object(f[PA]))
		tg__read_poll_answer(f[PA], u);
	/* Text the core will read must be valid UTF-8 (jview_check saw to
	 * it; kept as the core's guard). */
	if(u->text && !utf8_valid(u->text, strlen(u->text)))
		u->kind = TG_OTHER;
	return 0;
}

/* Replaces, in every string of v, a NUL (JSON_ALLOW_NUL reads \u0000) by
 * U+FFFD, so that nothing after it is lost.  0, or -1 out of memory. */
static int tg__no_nul(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	if(json_is_object(v)) {
		json_object_foreach(v, key, item)
		{
			if(tg__no_nul(item))
				return -1;
		}
	} else if(json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			if(tg__no_nul(item))
				return -1;
		}
	} else if(json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v)) {
		const char *s = json_string_value(v);
		struct strbuf sb = STRBUF_INIT;
		for(i = 0; i < json_string_length(v); i++) {
			if(s[i])
				strbuf_addc(&sb, s[i]);
			else
				strbuf_adds(&sb, "\xEF\xBF\xBD");
		}
		int rc = sb.oom || json_string_setn(v, sb.buf, sb.len) ? -1 : 0;
		strbuf_release(&sb);
		return rc;
	}
	return 0;
}

/* The text [json, json + len) as jview reads it, in *fixed: NULL when
 * jview_check accepts it as it is; else decoded by tg_json_load and
 * written again, in a new allocation the caller frees.  0; -1, with err
 * set, when it is not JSON even so, or memory ran out. */
static int tg__viewable(const char *json, size_t len, char **fixed, json_error_t *err)
{
	*fixed = NULL;
	if(!jview_check(json, len))
		return 0;
	json_t *o = tg_json_load(json, len, err);
	if(!o)
		return -1;
	if(!tg__no_nul(o))
		*fixed = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if(!*fixed || jview_check(*fixed, strlen(*fixed))) {
		text_copy(err->text, sizeof(err->text), *fixed ? "not a JSON object or array" : "out of memory");
		free(*fixed);
		*fixed = NULL;
		return -1;
	}
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
	char *fixed;
	if(!tg__viewable(p, (size_t)(end - p), &fixed, &jerr)) {
		int rc = tg__one(fixed ? fixed : p, u);
		free(fixed);
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
	char *fixed = NULL;
	int rc = -1;
	*out = NULL;
	*n = 0;
	if(error_code)
		*error_code = -1;
	if(retry_after)
		*retry_after = -1;
	if(tg__viewable(json, len, &fixed, &jerr)) {
		if(!tg__parse_each(json, len, single, out, n))
			return 0;
		snprintf(err, errlen, "not a JSON object: %s", jerr.text);
		return -1;
	}
	const char *root = fixed ? fixed : json;
	if(!jview_is_object(root)) {
		snprintf(err, errlen, "not a JSON object: wrong type");
		goto done;
	}
	const char *list = NULL;
	size_t count = 1;
	if(!single) {
		if(!jview_is_true(jview_get(root, "ok"))) {
			long long code, ra;
			if(error_code && jview_integer(jview_get(root, "error_code"), &code))
				*error_code = (int)code;
			if(retry_after && jview_integer(jview_get(jview_get(root, "parameters"), "retry_after"), &ra))
				*retry_after = (long)ra;
			struct strbuf d = STRBUF_INIT;
			bool described = !jview_string(jview_get(root, "description"), &d);
			snprintf(err, errlen, "refused: %s", described ? d.buf : "no description");
			strbuf_release(&d);
			goto done;
		}
		list = jview_get(root, "result");
		if(!jview_is_array(list)) {
			snprintf(err, errlen, "no result array");
			goto done;
		}
		/* Room for a full batch (getUpdates' limit is 100): counting
		 * first would walk the text once more. */
		count = 100;
	}
	struct tg_update *u = calloc(count, sizeof(*u));
	size_t k = 0;
	if(!u)
		goto oom;
	if(single)
		k = !tg__one(root, &u[0]);
	for(const char *v = jview_first(list); v; v = jview_next(v)) {
		if(k == count) {
			struct tg_update *nu = realloc(u, 2 * count * sizeof(*u));
			if(!nu)
				goto oom;
			u = nu;
			count *= 2;
		}
		if(!tg__one(v, &u[k]))
			k++;
	}
	*out = u;
	*n = k;
	rc = 0;
	goto done;
oom:
	tg_updates_free(u, k);
	snprintf(err, errlen, "out of memory");
done:
	free(fixed);
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
