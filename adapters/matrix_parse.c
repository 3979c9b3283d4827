#include "adapters/matrix_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

/* Every event of a room passes through here; n grows by one per event
 * kept. */
struct mx_builder {
	struct mx_sync *s;
	size_t alloc;
	const char *me;
};

static char *mx__dup(json_t *v)
{
	const char *s = json_string_value(v);
	return s ? strdup(s) : NULL;
}

static void mx__event_release(struct mx_event *e)
{
	free(e->event_id);
	free(e->sender);
	free(e->type);
	free(e->msgtype);
	free(e->body);
	free(e->reply_to);
	free(e->relates_to);
	free(e->key);
	for(size_t i = 0; i < e->n_answers; i++)
		free(e->answers[i]);
	free(e->redacts);
	free(e->state_key);
	free(e->membership);
	free(e->displayname);
	free(e->content_json);
}

void mx_event_release(struct mx_event *e)
{
	mx__event_release(e);
	memset(e, 0, sizeof(*e));
}

void mx_sync_release(struct mx_sync *s)
{
	for(size_t i = 0; i < s->n; i++)
		mx__event_release(&s->ev[i]);
	for(size_t i = 0; i < s->nrooms; i++) {
		free(s->rooms[i].id);
		free(s->rooms[i].prev_batch);
	}
	free(s->ev);
	free(s->rooms);
	free(s->next_batch);
	memset(s, 0, sizeof(*s));
}

/* Drops a reply fallback: the leading "> " lines and the empty line after
 * them (clients stopped sending them in v1.13; older ones still do). */
static char *mx__strip_fallback(const char *body)
{
	const char *p = body;
	if(*p != '>')
		return strdup(body);
	while(*p == '>') {
		const char *nl = strchr(p, '\n');
		if(!nl)
			return strdup("");
		p = nl + 1;
	}
	if(*p == '\n')
		p++;
	return strdup(p);
}

static bool mx__type_is(const char *type, const char *unstable, const char *stable)
{
	return !strcmp(type, unstable) || !strcmp(type, stable);
}

/* The answer ids of a poll response, in either form.  An answers value that
 * is not an array of strings spoils the response: n_answers stays 0 and
 * spoiled is set through key = "spoiled". */
static void mx__read_answers(struct mx_event *e, json_t *content)
{
	json_t *arr = json_object_get(json_object_get(content, "org.matrix.msc3381.poll.response"), "answers");
	if(!arr)
		arr = json_object_get(json_object_get(content, "m.poll.response"), "answers");
	if(!arr)
		arr = json_object_get(content, "m.selections");
	if(!json_is_array(arr)) {
		e->key = strdup("spoiled");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if(!json_is_string(v)) {
			e->key = strdup("spoiled");
			return;
		}
		if(e->n_answers < MX_MAX_ANSWERS && (e->answers[e->n_answers] = mx__dup(v)))
			e->n_answers++;
	}
}

static void mx__read_poll_start(struct mx_event *e, json_t *content)
{
	json_t *p = json_object_get(content, "org.matrix.msc3381.poll.start");
	if(!p)
		p = json_object_get(content, "m.poll");
	json_t *ms = json_object_get(p, "max_selections");
	e->max_selections = json_is_integer(ms) ? (int)json_integer_value(ms) : 1;
	json_t *arr = json_object_get(p, "answers");
	size_t i;
	json_t *a;
	json_array_foreach(arr, i, a)
	{
		json_t *id = json_object_get(a, "id");
		if(!id)
			id = json_object_get(a, "m.id");
		if(json_is_string(id) && e->n_answers < MX_MAX_ANSWERS && (e->answers[e->n_answers] = mx__dup(id)))
			e->n_answers++;
	}
}

/* Reads the text message o's content into e.  False when it is none the
 * bot reads (an edit: ignored, as on Telegram) or out of memory. */
static bool mx__read_message(struct mx_builder *bld, struct mx_event *e, json_t *content, json_t *rel,
                             const char *rel_type)
{
	const char *body = json_string_value(json_object_get(content, "body"));
	if(!body || (rel_type && !strcmp(rel_type, "m.replace")))
		return false;
	e->kind = MX_MESSAGE;
	e->msgtype = mx__dup(json_object_get(content, "msgtype"));
	e->reply_to = mx__dup(json_object_get(json_object_get(rel, "m.in_reply_to"), "event_id"));
	e->in_thread = rel_type && !strcmp(rel_type, "m.thread") && e->relates_to;
	e->body = e->reply_to ? mx__strip_fallback(body) : strdup(body);
	if(!e->body || !e->msgtype)
		return false;
	json_t *ids = json_object_get(json_object_get(content, "m.mentions"), "user_ids");
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) if(bld->me && json_is_string(v) && !strcmp(json_string_value(v), bld->me))
		e->mentions_me = true;
	return true;
}

/* Reads the member event o (its content, content) into e: whose, the
 * membership, and whether they were joined before.  False when it lacks
 * one of them or out of memory. */
static bool mx__read_member(struct mx_event *e, json_t *o, json_t *content)
{
	e->state_key = mx__dup(json_object_get(o, "state_key"));
	e->membership = mx__dup(json_object_get(content, "membership"));
	e->displayname = mx__dup(json_object_get(content, "displayname"));
	if(!e->state_key || !e->membership)
		return false;
	json_t *prev = json_object_get(json_object_get(o, "unsigned"), "prev_content");
	const char *was = json_string_value(json_object_get(prev, "membership"));
	e->was_joined = was && !strcmp(was, "join");
	e->kind = MX_MEMBER;
	return true;
}

/* Fills e from one client event; returns false to skip it. */
static bool mx__read_event(struct mx_builder *bld, struct mx_event *e, json_t *o, const char *room, bool state)
{
	json_t *content = json_object_get(o, "content");
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *sender = json_string_value(json_object_get(o, "sender"));
	if(!type || !sender || !json_is_object(content))
		return false;
	memset(e, 0, sizeof(*e));
	e->room = room;
	e->is_state = state;
	e->event_id = mx__dup(json_object_get(o, "event_id"));
	e->sender = strdup(sender);
	e->type = strdup(type);
	json_t *ts = json_object_get(o, "origin_server_ts");
	e->ts = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : 0;
	if(!e->sender || !e->type)
		goto skip;
	json_t *rel = json_object_get(content, "m.relates_to");
	const char *rel_type = json_string_value(json_object_get(rel, "rel_type"));
	e->relates_to = mx__dup(json_object_get(rel, "event_id"));

	if(!strcmp(type, "m.room.message")) {
		if(!mx__read_message(bld, e, content, rel, rel_type))
			goto skip;
	} else if(mx__type_is(type, "org.matrix.msc3381.poll.start", "m.poll.start")) {
		e->kind = MX_POLL_START;
		mx__read_poll_start(e, content);
	} else if(mx__type_is(type, "org.matrix.msc3381.poll.response", "m.poll.response")) {
		if(!e->relates_to)
			goto skip;
		e->kind = MX_POLL_RESPONSE;
		mx__read_answers(e, content);
	} else if(mx__type_is(type, "org.matrix.msc3381.poll.end", "m.poll.end")) {
		if(!e->relates_to)
			goto skip;
		e->kind = MX_POLL_END;
	} else if(!strcmp(type, "m.reaction")) {
		e->key = mx__dup(json_object_get(rel, "key"));
		if(!e->relates_to || !e->key || !rel_type || strcmp(rel_type, "m.annotation"))
			goto skip;
		e->kind = MX_REACTION;
	} else if(!strcmp(type, "m.room.redaction")) {
		/* Rooms v11 carry it in the content, older rooms at the top. */
		e->redacts = mx__dup(json_object_get(content, "redacts"));
		if(!e->redacts)
			e->redacts = mx__dup(json_object_get(o, "redacts"));
		if(!e->redacts)
			goto skip;
		e->kind = MX_REDACTION;
	} else if(!strcmp(type, "m.room.member")) {
		if(!mx__read_member(e, o, content))
			goto skip;
	} else if(!strcmp(type, "m.room.power_levels")) {
		e->content_json = json_dumps(content, JSON_COMPACT);
		if(!e->content_json)
			goto skip;
		e->kind = MX_POWER_LEVELS;
	} else if(!strcmp(type, "m.room.name")) {
		const char *name = json_string_value(json_object_get(content, "name"));
		if(!(e->body = strdup(name ? name : "")))
			goto skip;
		e->kind = MX_ROOM_NAME;
	} else if(!strcmp(type, "m.room.encryption")) {
		e->kind = MX_ENCRYPTION;
	} else if(!strcmp(type, "m.room.encrypted")) {
		e->kind = MX_ENCRYPTED;
	} else {
		goto skip;
	}
	return true;
skip:
	mx__event_release(e);
	return false;
}

static struct mx_event *mx__slot(struct mx_builder *bld)
{
	struct mx_sync *s = bld->s;
	if(s->n == bld->alloc) {
		size_t na = bld->alloc ? bld->alloc * 2 : 16;
		struct mx_event *nv = realloc(s->ev, na * sizeof(*nv));
		if(!nv)
			return NULL;
		s->ev = nv;
		bld->alloc = na;
	}
	return &s->ev[s->n];
}

static int mx__read_list(struct mx_builder *bld, json_t *events, const char *room, bool state)
{
	size_t i;
	json_t *o;
	json_array_foreach(events, i, o)
	{
		struct mx_event *e = mx__slot(bld);
		if(!e)
			return -1;
		if(mx__read_event(bld, e, o, room, state))
			bld->s->n++;
	}
	return 0;
}

static struct mx_room *mx__add_room(struct mx_sync *s, const char *id)
{
	struct mx_room *nv = realloc(s->rooms, (s->nrooms + 1) * sizeof(*nv));
	if(!nv)
		return NULL;
	s->rooms = nv;
	struct mx_room *r = &nv[s->nrooms];
	memset(r, 0, sizeof(*r));
	r->joined_members = -1;
	r->invited_members = -1;
	if(!(r->id = strdup(id)))
		return NULL;
	s->nrooms++;
	return r;
}

/* The invite meant for the bot, in a room's stripped invite state. */
static int mx__read_invite(struct mx_builder *bld, struct mx_room *r, json_t *room)
{
	json_t *events = json_object_get(json_object_get(room, "invite_state"), "events");
	size_t i;
	json_t *o;
	bool found = false;
	json_array_foreach(events, i, o)
	{
		json_t *content = json_object_get(o, "content");
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *sk = json_string_value(json_object_get(o, "state_key"));
		const char *ms = json_string_value(json_object_get(content, "membership"));
		const char *sender = json_string_value(json_object_get(o, "sender"));
		if(type && !strcmp(type, "m.room.encryption"))
			r->encrypted = true;
		if(found || !type || strcmp(type, "m.room.member") || !sk || !bld->me || strcmp(sk, bld->me) || !ms ||
		   strcmp(ms, "invite") || !sender)
			continue;
		struct mx_event *e = mx__slot(bld);
		if(!e)
			return -1;
		memset(e, 0, sizeof(*e));
		e->kind = MX_INVITE;
		e->room = r->id;
		e->is_state = true;
		e->sender = strdup(sender);
		e->type = strdup(type);
		if(!e->sender || !e->type) {
			mx__event_release(e);
			return -1;
		}
		bld->s->n++;
		found = true;
	}
	return 0;
}

int mx_parse_sync(const char *json, size_t len, const char *me, struct mx_sync *out, char *err, size_t errlen)
{
	json_error_t jerr;
	memset(out, 0, sizeof(*out));
	json_t *o = json_loadb(json, len, 0, &jerr);
	struct mx_builder bld = { .s = out, .me = me };
	if(!json_is_object(o)) {
		snprintf(err, errlen, "not a JSON object (%s)", o ? "another value" : jerr.text);
		goto fail;
	}
	const char *nb = json_string_value(json_object_get(o, "next_batch"));
	if(!nb) {
		snprintf(err, errlen, "no next_batch");
		goto fail;
	}
	if(!(out->next_batch = strdup(nb)))
		goto oom;
	json_t *rooms = json_object_get(o, "rooms");
	const char *id;
	json_t *room;
	json_object_foreach(json_object_get(rooms, "join"), id, room)
	{
		if(!json_is_object(room))
			continue;
		struct mx_room *r = mx__add_room(out, id);
		if(!r)
			goto oom;
		json_t *tl = json_object_get(room, "timeline");
		r->limited = json_is_true(json_object_get(tl, "limited"));
		const char *pb = json_string_value(json_object_get(tl, "prev_batch"));
		if(pb && !(r->prev_batch = strdup(pb)))
			goto oom;
		json_t *jm = json_object_get(json_object_get(room, "summary"), "m.joined_member_count");
		if(json_is_integer(jm))
			r->joined_members = (long)json_integer_value(jm);
		json_t *im = json_object_get(json_object_get(room, "summary"), "m.invited_member_count");
		if(json_is_integer(im))
			r->invited_members = (long)json_integer_value(im);
		if(mx__read_list(&bld, json_object_get(json_object_get(room, "state"), "events"), r->id, true) ||
		   mx__read_list(&bld, json_object_get(tl, "events"), r->id, false))
			goto oom;
	}
	json_object_foreach(json_object_get(rooms, "invite"), id, room)
	{
		if(!json_is_object(room))
			continue;
		struct mx_room *r = mx__add_room(out, id);
		if(!r)
			goto oom;
		r->invited = true;
		if(mx__read_invite(&bld, r, room))
			goto oom;
	}
	json_decref(o);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(o);
	mx_sync_release(out);
	return -1;
}

/* A page of events (/relations, /messages): its chunk, and the token of
 * the next page from the member called next. */
static int mx__parse_page(const char *json, size_t len, const char *room, const char *next, struct mx_sync *out,
                          char *err, size_t errlen)
{
	json_error_t jerr;
	memset(out, 0, sizeof(*out));
	json_t *o = json_loadb(json, len, 0, &jerr);
	struct mx_builder bld = { .s = out };
	json_t *chunk = json_object_get(o, "chunk");
	if(!json_is_array(chunk)) {
		snprintf(err, errlen, "no chunk in the answer");
		goto fail;
	}
	struct mx_room *r = mx__add_room(out, room);
	const char *nb = json_string_value(json_object_get(o, next));
	if(!r || (nb && !(out->next_batch = strdup(nb))) || mx__read_list(&bld, chunk, r->id, false)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	json_decref(o);
	return 0;
fail:
	json_decref(o);
	mx_sync_release(out);
	return -1;
}

int mx_parse_relations(const char *json, size_t len, const char *room, struct mx_sync *out, char *err, size_t errlen)
{
	return mx__parse_page(json, len, room, "next_batch", out, err, errlen);
}

int mx_parse_messages(const char *json, size_t len, const char *room, struct mx_sync *out, char *err, size_t errlen)
{
	return mx__parse_page(json, len, room, "end", out, err, errlen);
}

static const char *mx__space(const char *p, const char *end)
{
	while(p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The answer's only member, "event_id", read where it is when it has the
 * form every homeserver gives it (no escape in the id): each send has one,
 * and a jansson tree for it cost more than its request's own handling.
 * Any other form is read by jansson. */
int mx_parse_event_id(const char *json, size_t len, struct strbuf *out)
{
	static const char key[] = "\"event_id\"";
	const char *end = json + len, *p = mx__space(json, end);
	if(p < end && *p == '{' && (p = mx__space(p + 1, end)) + sizeof(key) - 1 <= end &&
	   !memcmp(p, key, sizeof(key) - 1) && (p = mx__space(p + sizeof(key) - 1, end)) < end && *p == ':' &&
	   (p = mx__space(p + 1, end)) < end && *p == '"') {
		const char *id = ++p;
		while(p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			p++;
		const char *q = p < end && *p == '"' ? mx__space(p + 1, end) : end;
		if(q < end && *q == '}' && mx__space(q + 1, end) == end && utf8_valid(id, (size_t)(p - id)))
			return strbuf_add(out, id, (size_t)(p - id)) ? -1 : 1;
	}
	json_error_t jerr;
	json_t *o = json_loadb(json, len, 0, &jerr);
	const char *eid = json_string_value(json_object_get(o, "event_id"));
	int rc = eid ? (strbuf_adds(out, eid) ? -1 : 1) : 0;
	json_decref(o);
	return rc;
}

long mx_parse_error(const char *json, size_t len, char *errcode, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(json, len, 0, &jerr);
	const char *code = json_string_value(json_object_get(o, "errcode"));
	snprintf(errcode, errlen, "%s", code ? code : "");
	json_t *ra = json_object_get(o, "retry_after_ms");
	long retry = json_is_integer(ra) && json_integer_value(ra) >= 0 ? (long)json_integer_value(ra) : -1;
	json_decref(o);
	return retry;
}

int mx_render_html(struct strbuf *out, const char *light, struct strbuf *mentions)
{
	static const char mention[] = "<a href=\"mention:";
	const char *p = light;
	while(*p) {
		if(!strncmp(p, mention, sizeof(mention) - 1)) {
			const char *id = p + sizeof(mention) - 1;
			const char *q = strchr(id, '"');
			if(!q)
				break;
			strbuf_adds(out, "<a href=\"https://matrix.to/#/");
			strbuf_add(out, id, (size_t)(q - id));
			if(mentions) {
				strbuf_add(mentions, id, (size_t)(q - id));
				strbuf_addc(mentions, '\n');
			}
			p = q;
		} else if(*p == '\n') {
			strbuf_adds(out, "<br>");
			p++;
		} else {
			size_t n = strcspn(p, "<\n");
			if(!n) {
				strbuf_addc(out, *p);
				n = 1;
			} else {
				strbuf_add(out, p, n);
			}
			p += n;
		}
	}
	strbuf_adds(out, p);
	return out->oom || (mentions && mentions->oom) ? -1 : 0;
}

/* The length of the bot's name at the start of s ("Name", "@local" or
 * "@local:server"), 0 when s does not start with it. */
static size_t mx__name_at(const char *s, const char *localpart, const char *displayname)
{
	if(displayname && *displayname && text_istarts(s, displayname))
		return strlen(displayname);
	const char *p = s;
	if(*p == '@')
		p++;
	if(!*localpart || !text_istarts(p, localpart))
		return 0;
	p += strlen(localpart);
	if(s[0] == '@' && *p == ':' && p[1] && p[1] != ' ')
		p += strcspn(p + 1, " ,") + 1; /* @local:server */
	if(p > s && p[-1] == ':')
		p--; /* "@local:server:" ends on ':' */
	return (size_t)(p - s);
}

int mx_command_text(struct strbuf *out, const char *body, bool mentions_me, const char *localpart,
                    const char *displayname)
{
	const char *p = body + strspn(body, " \t\n");
	if(*p == '!' || *p == '/') {
		strbuf_adds(out, p);
		return 1;
	}
	if(*p != '@' && !mentions_me)
		return 0; /* "Name, ..." without a mention is conversation */
	size_t n = mx__name_at(p, localpart, displayname);
	if(!n || (p[n] != ':' && p[n] != ',' && p[n] != ' '))
		return 0;
	if(p[n] != ' ')
		n++;
	p += n;
	p += strspn(p, " \t\n");
	if(!*p)
		return 0;
	if(*p != '!' && *p != '/')
		strbuf_addc(out, '!');
	strbuf_adds(out, p);
	return 1;
}

int mx_urlencode(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for(const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		   *p == '.' || *p == '_' || *p == '~') {
			strbuf_addc(out, (char)*p);
		} else {
			strbuf_addc(out, '%');
			strbuf_addc(out, hex[*p >> 4]);
			strbuf_addc(out, hex[*p & 15]);
		}
	}
	return out->oom ? -1 : 0;
}
