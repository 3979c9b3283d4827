#include "bot/action.h"
#include "lib/text.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/strbuf.h"

void outbox_init(struct outbox *ob)
{
	ob->v = NULL;
	ob->n = ob->alloc = 0;
}

static void action__release(struct action *a)
{
	free(a->platform);
	free(a->chat_id);
	free(a->text);
	free(a->reply_to);
	free(a->key);
	free(a->ref);
	free(a->question);
	for(size_t i = 0; i < a->n_options; i++)
		free(a->options[i]);
	free(a->options);
	for(size_t i = 0; i < a->n_buttons; i++) {
		free(a->buttons[i].label);
		free(a->buttons[i].data);
	}
	free(a->buttons);
}

void outbox_release(struct outbox *ob)
{
	for(size_t i = 0; i < ob->n; i++)
		action__release(&ob->v[i]);
	free(ob->v);
	outbox_init(ob);
}

void outbox_pop(struct outbox *ob)
{
	if(ob->n)
		action__release(&ob->v[--ob->n]);
}

void outbox_remove(struct outbox *ob, const size_t *idx, size_t n)
{
	size_t to = 0, k = 0;
	for(size_t i = 0; i < ob->n; i++) {
		if(k < n && idx[k] == i) {
			action__release(&ob->v[i]);
			k++;
		} else {
			ob->v[to++] = ob->v[i];
		}
	}
	ob->n = to;
}

int outbox_move(struct outbox *to, struct outbox *from)
{
	if(!from->n)
		return 0;
	if(!to->n) {
		outbox_release(to);
		*to = *from;
		outbox_init(from);
		return 0;
	}
	if(to->n + from->n > to->alloc) {
		size_t na = to->n + from->n;
		struct action *nv = realloc(to->v, na * sizeof(*nv));
		if(!nv)
			return -1;
		to->v = nv;
		to->alloc = na;
	}
	memcpy(to->v + to->n, from->v, from->n * sizeof(*from->v));
	to->n += from->n;
	free(from->v);
	outbox_init(from);
	return 0;
}

int action_set(char **field, const char *s)
{
	char *copy = NULL;
	if(s && !(copy = strdup(s)))
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

struct action *outbox_push(struct outbox *ob, enum action_kind kind, const char *platform, const char *chat_id,
                           const char *text)
{
	if(ob->n == ob->alloc) {
		size_t na = ob->alloc ? ob->alloc * 2 : 4;
		struct action *nv = realloc(ob->v, na * sizeof(*nv));
		if(!nv)
			return NULL;
		ob->v = nv;
		ob->alloc = na;
	}
	struct action *a = &ob->v[ob->n];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	if(action_set(&a->platform, platform) || action_set(&a->chat_id, chat_id) || action_set(&a->text, text)) {
		action__release(a);
		return NULL;
	}
	ob->n++;
	return a;
}

int action_add_option(struct action *a, const char *option)
{
	char **nv = realloc(a->options, (a->n_options + 1) * sizeof(*nv));
	if(!nv)
		return -1;
	a->options = nv;
	if(!(nv[a->n_options] = strdup(option)))
		return -1;
	a->n_options++;
	return 0;
}

int action_add_button(struct action *a, const char *label, const char *data)
{
	struct action_button *nv = realloc(a->buttons, (a->n_buttons + 1) * sizeof(*nv));
	if(!nv)
		return -1;
	a->buttons = nv;
	struct action_button *b = &nv[a->n_buttons];
	b->label = strdup(label);
	b->data = strdup(data);
	if(!b->label || !b->data) {
		free(b->label);
		free(b->data);
		return -1;
	}
	a->n_buttons++;
	return 0;
}

/* Decodes the entity at s (after '&'); returns bytes consumed, 0 if none. */
static size_t action__entity(const char *s, struct strbuf *out)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "#39;", '\'' },
	};
	for(size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		size_t n = strlen(ents[i].name);
		if(!strncmp(s, ents[i].name, n)) {
			strbuf_addc(out, ents[i].c);
			return n;
		}
	}
	return 0;
}

char *action_plain_text(const char *html)
{
	struct strbuf out = STRBUF_INIT;
	struct strbuf href = STRBUF_INIT;
	size_t link_start = 0;
	const char *s = html;
	while(*s) {
		if(*s == '&') {
			size_t n = action__entity(s + 1, &out);
			if(n) {
				s += 1 + n;
				continue;
			}
			strbuf_addc(&out, *s++);
		} else if(*s == '<') {
			const char *end = strchr(s, '>');
			if(!end) {
				strbuf_adds(&out, s);
				break;
			}
			if(!strncmp(s, "<a href=\"", 9)) {
				strbuf_reset(&href);
				for(const char *p = s + 9; p < end && *p != '"'; p++) {
					size_t n = *p == '&' ? action__entity(p + 1, &href) : 0;
					if(n)
						p += n;
					else
						strbuf_addc(&href, *p);
				}
				link_start = out.len;
				/* A mention shows as @name. */
				if(!strncmp(href.buf, "mention:", 8)) {
					strbuf_addc(&out, '@');
					strbuf_reset(&href);
				}
			} else if(!strncmp(s, "</a>", 4) && href.len) {
				/* Show the target unless the text already is it. */
				if(out.len - link_start != href.len || memcmp(out.buf + link_start, href.buf, href.len))
					strbuf_addf(&out, " (%s)", href.buf);
				strbuf_reset(&href);
			}
			s = end + 1;
		} else {
			size_t n = strcspn(s, "&<"); /* plain text up to the next markup */
			strbuf_add(&out, s, n);
			s += n;
		}
	}
	strbuf_release(&href);
	return strbuf_detach(&out);
}

/* Appends s as a JSON string ("null" for NULL), escaped as jansson's
 * writer escapes it (strbuf_add_json).  Text that is not valid UTF-8 (the
 * dispatcher refuses such input, so it would be a bug) fails the whole
 * serialisation, as jansson's writer did. */
static int action__json_str(struct strbuf *sb, const char *s)
{
	return strbuf_add_json(sb, s) ? -1 : 0;
}

/* Written by hand rather than through a jansson tree: every stored action
 * passes here (the outbox), and building the tree cost more than the rest
 * of the outbox together.  action_from_json() reads it with jansson. */
char *action_to_json(const struct action *a)
{
	struct strbuf sb = STRBUF_INIT;
	int bad = 0;
	/* The keys are written whole rather than through strbuf_addf, whose
	 * formatting was half of this function's cost. */
	strbuf_addf(&sb, "{\"kind\":%d,\"platform\":", (int)a->kind);
	bad |= action__json_str(&sb, a->platform);
	static const char *const keys[] = { ",\"chat\":", ",\"text\":", ",\"reply_to\":",
		                            ",\"key\":",  ",\"ref\":",  ",\"question\":" };
	const char *values[] = { a->chat_id, a->text, a->reply_to, a->key, a->ref, a->question };
	for(size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		if(!values[i])
			continue; /* absent, as jansson's writer left it */
		strbuf_adds(&sb, keys[i]);
		bad |= action__json_str(&sb, values[i]);
	}
	strbuf_adds(&sb, ",\"options\":[");
	for(size_t i = 0; i < a->n_options; i++) {
		if(i)
			strbuf_addc(&sb, ',');
		bad |= action__json_str(&sb, a->options[i]);
	}
	strbuf_adds(&sb, "],\"buttons\":[");
	for(size_t i = 0; i < a->n_buttons; i++) {
		strbuf_adds(&sb, i ? ",{\"label\":" : "{\"label\":");
		bad |= action__json_str(&sb, a->buttons[i].label);
		strbuf_adds(&sb, ",\"data\":");
		bad |= action__json_str(&sb, a->buttons[i].data);
		strbuf_addc(&sb, '}');
	}
	strbuf_adds(&sb, "]}");
	if(sb.oom || bad) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

static const char *action__get(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int action_from_json(struct outbox *ob, const char *json)
{
	json_error_t err;
	json_t *o = json_loads(json, 0, &err);
	int rc = -1;
	json_t *kind = json_object_get(o, "kind");
	const char *platform = action__get(o, "platform"), *chat = action__get(o, "chat");
	if(!json_is_integer(kind) || json_integer_value(kind) < ACTION_SEND_TEXT ||
	   json_integer_value(kind) > ACTION_ANSWER || !platform || !chat)
		goto out;
	struct action *a =
		outbox_push(ob, (enum action_kind)json_integer_value(kind), platform, chat, action__get(o, "text"));
	if(!a || action_set(&a->reply_to, action__get(o, "reply_to")) || action_set(&a->key, action__get(o, "key")) ||
	   action_set(&a->ref, action__get(o, "ref")) || action_set(&a->question, action__get(o, "question")))
		goto out;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(o, "options"), i,
	                   v) if(json_is_string(v) && action_add_option(a, json_string_value(v))) goto out;
	json_array_foreach(json_object_get(o, "buttons"), i, v)
	{
		const char *label = action__get(v, "label"), *data = action__get(v, "data");
		if(label && data && action_add_button(a, label, data))
			goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}
