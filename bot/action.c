#include "bot/action.h"

#include <stdlib.h>
#include <string.h>

#include "bot/strbuf.h"

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

int action_set(char **field, const char *s)
{
	char *copy = NULL;
	if(s && !(copy = strdup(s)))
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

struct action *outbox_push(struct outbox *ob, enum action_kind kind, const char *platform,
                           const char *chat_id, const char *text)
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
	if(action_set(&a->platform, platform) || action_set(&a->chat_id, chat_id) ||
	   action_set(&a->text, text)) {
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
	static const struct { const char *name; char c; } ents[] = {
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
				if(out.len - link_start != href.len ||
				   memcmp(out.buf + link_start, href.buf, href.len))
					strbuf_addf(&out, " (%s)", href.buf);
				strbuf_reset(&href);
			}
			s = end + 1;
		} else {
			strbuf_addc(&out, *s++);
		}
	}
	strbuf_release(&href);
	return strbuf_detach(&out);
}
