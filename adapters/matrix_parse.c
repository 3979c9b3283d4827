#include "adapters/matrix_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jview.h"
#include "lib/text.h"

/* Every event of a room passes through here; n grows by one per event
 * kept. */
struct mx_builder {
	struct mx_sync *s;
	size_t alloc;
	const char *me;
};

/* The string v, decoded, newly allocated; NULL when v is no string. */
static char *mx__dup(const char *v)
{
	return jview_strdup(v);
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
static void mx__read_answers(struct mx_event *e, const char *content)
{
	const char *arr = jview_get(jview_get(content, "org.matrix.msc3381.poll.response"), "answers");
	if(!arr)
		arr = jview_get(jview_get(content, "m.poll.response"), "answers");
	if(!arr)
		arr = jview_get(content, "m.selections");
	if(!jview_is_array(arr)) {
		e->key = strdup("spoiled");
		return;
	}
	for(const char *v = jview_first(arr); v; v = jview_next(v)) {
		if(*v != '"') {
			e->key = strdup("spoiled");
			return;
		}
		if(e->n_answers < MX_MAX_ANSWERS && (e->answers[e->n_answers] = mx__dup(v)))
			e->n_answers++;
	}
}

static void mx__read_poll_start(struct mx_event *e, const char *content)
{
	const char *p = jview_get(content, "org.matrix.msc3381.poll.start");
	if(!p)
		p = jview_get(content, "m.poll");
	long long ms;
	e->max_selections = jview_integer(jview_get(p, "max_selections"), &ms) ? (int)ms : 1;
	for(const char *a = jview_first(jview_get(p, "answers")); a; a = jview_next(a)) {
		const char *id = jview_get(a, "id");
		if(!id)
			id = jview_get(a, "m.id");
		if(id && *id == '"' && e->n_answers < MX_MAX_ANSWERS && (e->answers[e->n_answers] = mx__dup(id)))
			e->n_answers++;
	}
}

/* The members of an event that its reading looks at, found in one pass
 * over the event and one over its content (each a value, or NULL). */
struct mx_fields {
	const char *o, *content, *type, *sender, *event_id, *ts, *state_key, *redacts, *unsigned_;
	const char *body, *msgtype, *rel, *mentions, *membership, *displayname, *name, *content_redacts;
	const char *rel_type, *rel_event, *rel_key, *in_reply_to;
};

static void mx__fields(struct mx_fields *f, const char *o)
{
	static const char *const top[] = { "content",          "type",      "sender",  "event_id",
		                           "origin_server_ts", "state_key", "redacts", "unsigned" };
	static const char *const inner[] = { "body",       "msgtype",     "m.relates_to", "m.mentions",
		                             "membership", "displayname", "name",         "redacts" };
	static const char *const rel[] = { "rel_type", "event_id", "key", "m.in_reply_to" };
	const char *v[8];
	f->o = o;
	jview_pick(o, top, 8, v);
	f->content = v[0], f->type = v[1], f->sender = v[2], f->event_id = v[3];
	f->ts = v[4], f->state_key = v[5], f->redacts = v[6], f->unsigned_ = v[7];
	jview_pick(f->content, inner, 8, v);
	f->body = v[0], f->msgtype = v[1], f->rel = v[2], f->mentions = v[3];
	f->membership = v[4], f->displayname = v[5], f->name = v[6], f->content_redacts = v[7];
	jview_pick(f->rel, rel, 4, v);
	f->rel_type = v[0], f->rel_event = v[1], f->rel_key = v[2], f->in_reply_to = v[3];
}

/* Reads the text message f into e.  False when it is none the bot reads
 * (an edit: ignored, as on Telegram) or out of memory. */
static bool mx__read_message(struct mx_builder *bld, struct mx_event *e, const struct mx_fields *f)
{
	char *body = mx__dup(f->body);
	if(!body || jview_streq(f->rel_type, "m.replace")) {
		free(body);
		return false;
	}
	e->kind = MX_MESSAGE;
	e->msgtype = mx__dup(f->msgtype);
	e->reply_to = mx__dup(jview_get(f->in_reply_to, "event_id"));
	e->in_thread = jview_streq(f->rel_type, "m.thread") && e->relates_to;
	if(e->reply_to) {
		e->body = mx__strip_fallback(body);
		free(body);
	} else {
		e->body = body;
	}
	if(!e->body || !e->msgtype)
		return false;
	for(const char *v = jview_first(jview_get(f->mentions, "user_ids")); v; v = jview_next(v))
		if(bld->me && jview_streq(v, bld->me))
			e->mentions_me = true;
	return true;
}

/* Reads the member event f into e: whose, the membership, and whether
 * they were joined before.  False when it lacks one of them or out of
 * memory. */
static bool mx__read_member(struct mx_event *e, const struct mx_fields *f)
{
	e->state_key = mx__dup(f->state_key);
	e->membership = mx__dup(f->membership);
	e->displayname = mx__dup(f->displayname);
	if(!e->state_key || !e->membership)
		return false;
	const char *prev = jview_get(f->unsigned_, "prev_content");
	e->was_joined = jview_streq(jview_get(prev, "membership"), "join");
	e->kind = MX_MEMBER;
	return true;
}

/* Reads the events of a room's state that the bot keeps: false to skip
 * it. */
static bool mx__read_state(struct mx_event *e, const struct mx_fields *f)
{
	const char *type = e->type;
	if(!strcmp(type, "m.room.member")) {
		return mx__read_member(e, f);
	} else if(!strcmp(type, "m.room.power_levels")) {
		/* The content's own text: JSON that reads back as the content. */
		if(!(e->content_json = strndup(f->content, (size_t)(jview_end(f->content) - f->content))))
			return false;
		e->kind = MX_POWER_LEVELS;
	} else if(!strcmp(type, "m.room.name")) {
		if(!(e->body = f->name && *f->name == '"' ? mx__dup(f->name) : strdup("")))
			return false;
		e->kind = MX_ROOM_NAME;
	} else if(!strcmp(type, "m.room.encryption")) {
		e->kind = MX_ENCRYPTION;
	} else if(!strcmp(type, "m.room.encrypted")) {
		e->kind = MX_ENCRYPTED;
	} else {
		return false;
	}
	return true;
}

/* Reads what e's type tells of its content: false to skip it. */
static bool mx__read_kind(struct mx_builder *bld, struct mx_event *e, const struct mx_fields *f)
{
	const char *type = e->type;
	if(!strcmp(type, "m.room.message"))
		return mx__read_message(bld, e, f);
	if(mx__type_is(type, "org.matrix.msc3381.poll.start", "m.poll.start")) {
		e->kind = MX_POLL_START;
		mx__read_poll_start(e, f->content);
	} else if(mx__type_is(type, "org.matrix.msc3381.poll.response", "m.poll.response")) {
		if(!e->relates_to)
			return false;
		e->kind = MX_POLL_RESPONSE;
		mx__read_answers(e, f->content);
	} else if(mx__type_is(type, "org.matrix.msc3381.poll.end", "m.poll.end")) {
		if(!e->relates_to)
			return false;
		e->kind = MX_POLL_END;
	} else if(!strcmp(type, "m.reaction")) {
		e->key = mx__dup(f->rel_key);
		if(!e->relates_to || !e->key || !jview_streq(f->rel_type, "m.annotation"))
			return false;
		e->kind = MX_REACTION;
	} else if(!strcmp(type, "m.room.redaction")) {
		/* Rooms v11 carry it in the content, older rooms at the top. */
		e->redacts = mx__dup(f->content_redacts);
		if(!e->redacts)
			e->redacts = mx__dup(f->redacts);
		if(!e->redacts)
			return false;
		e->kind = MX_REDACTION;
	} else {
		return mx__read_state(e, f);
	}
	return true;
}

/* Fills e from one client event; returns false to skip it. */
static bool mx__read_event(struct mx_builder *bld, struct mx_event *e, const char *o, const char *room, bool state)
{
	struct mx_fields f;
	mx__fields(&f, o);
	if(!f.type || *f.type != '"' || !f.sender || *f.sender != '"' || !jview_is_object(f.content))
		return false;
	memset(e, 0, sizeof(*e));
	e->room = room;
	e->is_state = state;
	e->event_id = mx__dup(f.event_id);
	e->sender = mx__dup(f.sender);
	e->type = mx__dup(f.type);
	long long ts;
	e->ts = jview_integer(f.ts, &ts) ? (int64_t)ts : 0;
	e->relates_to = mx__dup(f.rel_event);
	if(e->sender && e->type && mx__read_kind(bld, e, &f))
		return true;
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

static int mx__read_list(struct mx_builder *bld, const char *events, const char *room, bool state)
{
	for(const char *o = jview_first(events); o; o = jview_next(o)) {
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

/* The invite meant for the bot, in a room's stripped invite state. */
static int mx__read_invite(struct mx_builder *bld, struct mx_room *r, const char *room)
{
	const char *events = jview_get(jview_get(room, "invite_state"), "events");
	bool found = false;
	for(const char *o = jview_first(events); o; o = jview_next(o)) {
		const char *type = jview_get(o, "type"), *sender = jview_get(o, "sender");
		if(jview_streq(type, "m.room.encryption"))
			r->encrypted = true;
		if(found || !jview_streq(type, "m.room.member") || !bld->me ||
		   !jview_streq(jview_get(o, "state_key"), bld->me) ||
		   !jview_streq(jview_get(jview_get(o, "content"), "membership"), "invite") || !sender ||
		   *sender != '"')
			continue;
		struct mx_event *e = mx__slot(bld);
		if(!e)
			return -1;
		memset(e, 0, sizeof(*e));
		e->kind = MX_INVITE;
		e->room = r->id;
		e->is_state = true;
		e->sender = mx__dup(sender);
		e->type = strdup("m.room.member");
		if(!e->sender || !e->type) {
			mx__event_release(e);
			return -1;
		}
		bld->s->n++;
		found = true;
	}
	return 0;
}

/* A joined room's timeline and state (its value, room) into the sync.  0,
 * or -1 when out of memory. */
static int mx__read_joined(struct mx_builder *bld, const char *id, const char *room)
{
	struct mx_room *r = mx__add_room(bld->s, id);
	if(!r)
		return -1;
	static const char *const parts[] = { "timeline", "summary", "state" };
	static const char *const timeline[] = { "limited", "prev_batch", "events" };
	static const char *const counts[] = { "m.joined_member_count", "m.invited_member_count" };
	const char *p[3], *tl[3], *c[2];
	jview_pick(room, parts, 3, p);
	jview_pick(p[0], timeline, 3, tl);
	jview_pick(p[1], counts, 2, c);
	r->limited = jview_is_true(tl[0]);
	if(tl[1] && *tl[1] == '"' && !(r->prev_batch = mx__dup(tl[1])))
		return -1;
	long long count;
	if(jview_integer(c[0], &count))
		r->joined_members = (long)count;
	if(jview_integer(c[1], &count))
		r->invited_members = (long)count;
	return mx__read_list(bld, jview_get(p[2], "events"), r->id, true) || mx__read_list(bld, tl[2], r->id, false)
	               ? -1
	               : 0;
}

/* The rooms of one block of a sync (rooms.join or rooms.invite), in
 * jansson's order (jview_members).  0, or -1 when out of memory. */
static int mx__read_rooms(struct mx_builder *bld, const char *block, bool invited)
{
	struct jview_member *rooms;
	size_t n;
	struct strbuf id = STRBUF_INIT;
	int rc = jview_members(block, &rooms, &n);
	for(size_t i = 0; !rc && i < n; i++) {
		if(!jview_is_object(rooms[i].value))
			continue;
		strbuf_reset(&id);
		if(jview_string(rooms[i].key, &id)) {
			rc = -1;
		} else if(!invited) {
			rc = mx__read_joined(bld, id.buf, rooms[i].value);
		} else {
			struct mx_room *r = mx__add_room(bld->s, id.buf);
			if(r)
				r->invited = true;
			rc = !r || mx__read_invite(bld, r, rooms[i].value) ? -1 : 0;
		}
	}
	free(rooms);
	strbuf_release(&id);
	return rc;
}

/* The answer's top value when the text is JSON as jansson reads it, else
 * NULL; then jansson's reading of the text says why, in err (prefix: what
 * the caller expected). */
static const char *mx__top(const char *json, size_t len, const char *prefix, char *err, size_t errlen)
{
	if(!jview_check(json, len))
		return mx__space(json, json + len);
	json_error_t jerr;
	json_t *o = json_loadb(json, len, 0, &jerr);
	snprintf(err, errlen, "%s (%s)", prefix, o ? "another value" : jerr.text);
	json_decref(o);
	return NULL;
}

/* Read in place (lib/jview) rather than through a jansson tree: the tree
 * of a sync, made then freed, cost more than the rest of its reading. */
int mx_parse_sync(const char *json, size_t len, const char *me, struct mx_sync *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct mx_builder bld = { .s = out, .me = me };
	const char *o = mx__top(json, len, "not a JSON object", err, errlen);
	if(!o)
		goto fail;
	if(!jview_is_object(o)) {
		snprintf(err, errlen, "not a JSON object (another value)");
		goto fail;
	}
	static const char *const top[] = { "next_batch", "rooms" }, *const blocks[] = { "join", "invite" };
	const char *v[2], *b[2];
	jview_pick(o, top, 2, v);
	if(!v[0] || *v[0] != '"') {
		snprintf(err, errlen, "no next_batch");
		goto fail;
	}
	jview_pick(v[1], blocks, 2, b);
	if(!(out->next_batch = mx__dup(v[0])) || mx__read_rooms(&bld, b[0], false) ||
	   mx__read_rooms(&bld, b[1], true)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
	mx_sync_release(out);
	return -1;
}

/* A page of events (/relations, /messages): its chunk, and the token of
 * the next page from the member called next. */
static int mx__parse_page(const char *json, size_t len, const char *room, const char *next, struct mx_sync *out,
                          char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct mx_builder bld = { .s = out };
	const char *o = jview_check(json, len) ? NULL : mx__space(json, json + len);
	const char *chunk = jview_get(o, "chunk");
	if(!jview_is_array(chunk)) {
		snprintf(err, errlen, "no chunk in the answer");
		goto fail;
	}
	struct mx_room *r = mx__add_room(out, room);
	const char *nb = jview_get(o, next);
	if(!r || (nb && *nb == '"' && !(out->next_batch = mx__dup(nb))) || mx__read_list(&bld, chunk, r->id, false)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
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

long mx_parse_error(const char *json, size_t len, char *errcode, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(json, len, 0, &jerr);
	const char *code = json_string_value(json_object_get(o, "errcode"));
	text_copy(errcode, errlen, code ? code : "");
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
