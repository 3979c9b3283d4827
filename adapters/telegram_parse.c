#include "adapters/telegram_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/text.h"

/* Copies a JSON integer id (64-bit) as text; "" when absent. */
static void tg__id(json_t *v, char *out, size_t outlen)
{
	if(json_is_integer(v))
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
	else
		out[0] = '\0';
}

static char *tg__dup(json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
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
	if(json_is_object(msg)) {
		json_t *chat = json_object_get(msg, "chat");
		tg__id(json_object_get(chat, "id"), u->chat_id, sizeof(u->chat_id));
		tg__topic(msg, u);
		const char *type = json_string_value(json_object_get(chat, "type"));
		u->is_private = type && !strcmp(type, "private");
		tg__id(json_object_get(msg, "message_id"), u->message_id, sizeof(u->message_id));
		tg__id(json_object_get(json_object_get(msg, "reply_to_message"), "message_id"), u->reply_to,
		       sizeof(u->reply_to));
		json_t *date = json_object_get(msg, "date");
		u->date = json_is_integer(date) ? (long long)json_integer_value(date) : 0;
		tg__sender(json_object_get(msg, "from"), u);
		json_t *migrate = json_object_get(msg, "migrate_to_chat_id");
		if(json_is_integer(migrate)) {
			u->kind = TG_MIGRATE;
			tg__id(migrate, u->migrate_to, sizeof(u->migrate_to));
		} else if(json_is_string(json_object_get(msg, "text")) && u->chat_id[0] && u->sender_id[0]) {
			u->kind = TG_MESSAGE;
			u->text = tg__dup(json_object_get(msg, "text"));
		}
	} else if(json_is_object(cb)) {
		json_t *m = json_object_get(cb, "message");
		tg__id(json_object_get(json_object_get(m, "chat"), "id"), u->chat_id, sizeof(u->chat_id));
		tg__topic(m, u);
		tg__id(json_object_get(m, "message_id"), u->message_id, sizeof(u->message_id));
		tg__sender(json_object_get(cb, "from"), u);
		const char *cid = json_string_value(json_object_get(cb, "id"));
		snprintf(u->callback_id, sizeof(u->callback_id), "%s", cid ? cid : "");
		u->callback_data = tg__dup(json_object_get(cb, "data"));
		if(u->callback_id[0] && u->chat_id[0] && u->sender_id[0])
			u->kind = TG_CALLBACK;
	} else if(json_is_object(pa)) {
		const char *pid = json_string_value(json_object_get(pa, "poll_id"));
		snprintf(u->poll_id, sizeof(u->poll_id), "%s", pid ? pid : "");
		tg__sender(json_object_get(pa, "user"), u);
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(pa, "option_ids"), i, v) {
			if(json_is_integer(v) && u->n_options < TG_MAX_OPTIONS && json_integer_value(v) >= 0 &&
			   json_integer_value(v) < TG_MAX_OPTIONS)
				u->options[u->n_options++] = (int)json_integer_value(v);
		}
		if(u->poll_id[0] && u->sender_id[0])
			u->kind = TG_POLL_ANSWER;
	}
	/* Text the core will read must be valid UTF-8 (jansson checks). */
	if(u->text && !utf8_valid(u->text, strlen(u->text)))
		u->kind = TG_OTHER;
	return 0;
}

int tg_parse_updates(const char *json, size_t len, bool single, struct tg_update **out, size_t *n,
                     int *error_code, long *retry_after, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	int rc = -1;
	*out = NULL;
	*n = 0;
	if(error_code)
		*error_code = -1;
	if(retry_after)
		*retry_after = -1;
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

int tg_render_html(struct strbuf *out, const char *light)
{
	static const char mention[] = "<a href=\"mention:";
	const char *p = light;
	const char *m;
	while((m = strstr(p, mention)) != NULL) {
		strbuf_add(out, p, (size_t)(m - p));
		strbuf_adds(out, "<a href=\"tg://user?id=");
		p = m + sizeof(mention) - 1;
	}
	strbuf_adds(out, p);
	return out->oom ? -1 : 0;
}

long tg_split(const char *html, size_t max, char ***parts)
{
	char **v = NULL;
	long n = 0;
	const char *p = html;
	*parts = NULL;
	if(!max)
		return -1;
	while(*p) {
		/* Take whole lines while they fit. */
		size_t chars = 0;
		const char *end = p, *last_nl = NULL;
		while(*end && chars < max) {
			if(((unsigned char)*end & 0xC0) != 0x80)
				chars++;
			if(chars > max)
				break;
			if(*end == '\n')
				last_nl = end;
			end++;
			while(((unsigned char)*end & 0xC0) == 0x80)
				end++;
		}
		const char *cut = *end && last_nl ? last_nl + 1 : end;
		char **nv = realloc(v, (size_t)(n + 1) * sizeof(*nv));
		if(!nv)
			goto fail;
		v = nv;
		size_t len = (size_t)(cut - p);
		/* A trailing new line of a part is dropped. */
		size_t keep = len && p[len - 1] == '\n' && *cut ? len - 1 : len;
		if(!(v[n] = strndup(p, keep)))
			goto fail;
		n++;
		p = cut;
	}
	*parts = v;
	return n;
fail:
	for(long i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}
