/*
 * matrix_send: the Matrix adapter's sending side.  One queue; each event
 * is a PUT with a transaction id made from the action's key, so a send
 * repeated after a crash returns the first event instead of posting twice.
 * Up to MX_MAX_INFLIGHT requests are out at once, never two for one room
 * (a room's messages keep their order); at least room_interval_ms between
 * two to one room; 429 waits Retry-After (or retry_after_ms), 5xx and
 * network errors back off with jitter, 403 marks the room inactive.  Also
 * the rendering of the core's actions: notices in HTML, MSC3381 polls,
 * edits, direct chats.
 */
#include "adapters/adapter.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "adapters/http_client.h"
#include "adapters/json_text.h"
#include "adapters/matrix_parse.h"
#include "bot/action.h"
#include "bot/bot.h"
#include "bot/dispatch.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "storage/db.h"

#include "adapters/matrix_internal.h"

#define LOG_MODULE "matrix"

static const char *const mx__rsvp_keys[3] = { "\xe2\x9c\x85", "\xe2\x9d\x94", "\xe2\x9d\x8c" }; /* ✅ ❔ ❌ */

/* ---- the send queue ---- */

static void mx__send_free(struct mx_send *s)
{
	free(s->room);
	free(s->dm_user);
	free(s->txn);
	free(s->content);
	free(s->ref);
	free(s->msg_ref);
	free(s->held_eid);
	free(s->edit_ref);
	mx__kv_free(s->writes, s->nwrites);
	free(s);
}

/* A send as mx__enqueue describes it, not queued yet (the caller's, freed
 * with mx__send_free), or NULL out of memory (content's buffer is taken
 * either way). */
static struct mx_send *mx__send_new(const char *room, const char *dm_user, const char *type, const char *txn,
                                    struct strbuf *content, int64_t stored_id, enum mx_after after, const char *ref,
                                    int n_answers)
{
	struct mx_send *s = calloc(1, sizeof(*s));
	char *text = strbuf_detach(content);
	if(!s || !text || !(s->txn = strdup(txn)) || (room && !(s->room = strdup(room))) ||
	   (dm_user && !(s->dm_user = strdup(dm_user))) || (ref && !(s->ref = strdup(ref)))) {
		free(text);
		if(s)
			mx__send_free(s);
		return NULL;
	}
	text_copy(s->type, sizeof(s->type), type);
	s->content = text;
	s->entry.stored_id = stored_id;
	s->after = after;
	s->n_answers = n_answers;
	return s;
}

/* Queues s (taken) and sends what may leave. */
static void mx__send_push(struct mx *m, struct mx_send *s)
{
	sq_append(&m->queue, &s->entry);
	mx__pump(m);
}

/* As mx__send_new, then kept: what a message shows (msg_ref, for later
 * edits) and, for an edit of a message still on its way, that message's
 * ref (edit_ref); each NULL when none.  0 or -1, nothing queued. */
static int mx__enqueue_kept(struct mx *m, const char *room, const char *dm_user, const char *txn,
                            struct strbuf *content, int64_t stored_id, enum mx_after after, const char *ref,
                            const char *msg_ref, const char *edit_ref)
{
	struct mx_send *s = mx__send_new(room, dm_user, "m.room.message", txn, content, stored_id, after, ref, 0);
	if(!s || (msg_ref && !(s->msg_ref = strdup(msg_ref))) || (edit_ref && !(s->edit_ref = strdup(edit_ref)))) {
		if(s)
			mx__send_free(s);
		return -1;
	}
	mx__send_push(m, s);
	return 0;
}

int mx__enqueue(struct mx *m, const char *room, const char *dm_user, const char *type, const char *txn,
                struct strbuf *content, int64_t stored_id, enum mx_after after, const char *ref, int n_answers)
{
	struct mx_send *s = mx__send_new(room, dm_user, type, txn, content, stored_id, after, ref, n_answers);
	if(!s)
		return -1;
	mx__send_push(m, s);
	return 0;
}

static void mx__on_send_timer(uv_timer_t *h)
{
	mx__pump(h->data);
}

/* One kv write of what an answered send became: remembered at once, and
 * kept in s->writes for mx__store (NULL s: written now, mx__kv_now).  -1
 * when out of memory. */
static int mx__learn(struct mx *m, struct mx_send *s, const char *key, const char *value)
{
	if(!s) {
		mx__kv_now(m, key, value);
		return 0;
	}
	struct mx_kv *nv = realloc(s->writes, (s->nwrites + 1) * sizeof(*nv));
	if(!nv)
		return -1;
	s->writes = nv;
	struct mx_kv *w = &nv[s->nwrites];
	*w = (struct mx_kv){ .key = strdup(key), .value = value ? strdup(value) : NULL };
	if(!w->key || (value && !w->value)) {
		free(w->key);
		free(w->value);
		return -1;
	}
	s->nwrites++;
	mx__memo_put(m, key, value);
	return 0;
}

/* Adds start to, or removes it from, the open polls of room (kv
 * matrix.polls.<room>, one start event id per line), read after a gap.
 * The write goes with s's answer (mx__learn).  -1 when out of memory. */
static int mx__polls_edit(struct mx *m, struct mx_send *s, const char *room, const char *start, bool add)
{
	struct strbuf list = STRBUF_INIT, out = STRBUF_INIT, key = STRBUF_INIT;
	int rc = -1;
	mx__kv_get(m, "matrix.polls.", room, &list);
	for(char *line = list.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if(nl)
			*nl = 0;
		if(strcmp(line, start))
			strbuf_addf(&out, "%s\n", line);
	}
	if(add)
		strbuf_addf(&out, "%s\n", start);
	strbuf_addf(&key, "matrix.polls.%s", room);
	if(!out.oom && !key.oom)
		rc = mx__learn(m, s, key.buf, out.len ? out.buf : NULL);
	strbuf_release(&list);
	strbuf_release(&out);
	strbuf_release(&key);
	return rc;
}

/* What the answered send s became, learnt when its answer comes (on the
 * loop): the message kept for edits, the poll and its ref, the RSVP
 * message.  Remembered at once (matrix_memo.c), so that an edit, a vote
 * or a reaction reads it from memory, and kept in s->writes for
 * mx__store.  -1 when out of memory: then nothing is stored, and the
 * send goes again at the next start (the homeserver answers with the same
 * event). */
static int mx__learn_sent(struct mx *m, struct mx_send *s)
{
	const char *event_id = s->held_eid;
	struct strbuf k = STRBUF_INIT, v = STRBUF_INIT;
	int rc = 0;
	if(s->msg_ref) {
		strbuf_addf(&k, "matrix.msg.%s", s->msg_ref);
		strbuf_addf(&v, "%s\t%s", s->room, event_id);
		rc |= k.oom || v.oom ? -1 : mx__learn(m, s, k.buf, v.buf);
		strbuf_reset(&k);
		strbuf_reset(&v);
	}
	if(s->after == MX_AFTER_POLL) {
		strbuf_addf(&k, "matrix.poll.%s", event_id);
		strbuf_addf(&v, "%s\t%d\t0\t%s", s->ref, s->n_answers, s->room);
		rc |= k.oom || v.oom ? -1 : mx__learn(m, s, k.buf, v.buf);
		strbuf_reset(&k);
		strbuf_reset(&v);
		strbuf_addf(&k, "matrix.ref.%s", s->ref);
		strbuf_addf(&v, "%s\t%s", s->room, event_id);
		rc |= k.oom || v.oom ? -1 : mx__learn(m, s, k.buf, v.buf);
		rc |= mx__polls_edit(m, s, s->room, event_id, true);
	} else if(s->after == MX_AFTER_RSVP) {
		strbuf_addf(&k, "matrix.rsvp.%s", event_id);
		rc |= k.oom ? -1 : mx__learn(m, s, k.buf, s->ref);
	}
	strbuf_release(&k);
	strbuf_release(&v);
	return rc ? -1 : 0;
}

/* Under an RSVP message just sent: the three answers, for members to
 * press. */
static void mx__add_rsvp_answers(struct mx *m, const struct mx_send *s, const char *event_id)
{
	struct strbuf v = STRBUF_INIT, c = STRBUF_INIT;
	for(int i = 0; i < 3; i++) {
		strbuf_reset(&v);
		strbuf_addf(&v, "%s.r%d", s->txn, i);
		strbuf_adds(&c, "{\"m.relates_to\":{\"rel_type\":\"m.annotation\",\"event_id\":");
		int bad = strbuf_add_json(&c, event_id);
		strbuf_adds(&c, ",\"key\":\"");
		strbuf_adds(&c, mx__rsvp_keys[i]);
		strbuf_adds(&c, "\"}}");
		if(!v.oom && !bad)
			mx__enqueue(m, s->room, NULL, "m.reaction", v.buf, &c, 0, MX_AFTER_NONE, NULL, 0);
		strbuf_release(&c);
	}
	strbuf_release(&v);
}

/* What the answer to an event's PUT means.  A sent event whose id must be
 * stored (a poll, an RSVP message, a message kept for edits) keeps it in
 * held_eid, for mx__store: a commit each cost more than the send.  Whatever
 * reads it (an edit, a vote on the poll, a reaction, a recount) settles
 * first.  Acknowledged once stored: a crash before sends it again with the
 * same transaction id, and the homeserver answers with the same event. */
static enum sq_verdict mx__event_verdict(struct mx *m, struct mx_send *s, const struct http_result *res,
                                         struct sq_answer *a)
{
	char errcode[64];
	long wait;
	m->unreachable = res->status == 0 || res->status >= 500;
	switch(mx__verdict(res, &wait, 0, errcode, sizeof(errcode))) {
	case MX_OK: {
		struct strbuf eid = STRBUF_INIT;
		int found = mx_parse_event_id(res->body, res->body_len, &eid);
		if(found == 0)
			log_warn("a send to %s was accepted without an event id", s->room);
		else if(found > 0 && (s->msg_ref || s->after != MX_AFTER_NONE))
			a->store = (s->held_eid = strbuf_detach(&eid)) != NULL;
		strbuf_release(&eid);
		return SQ_SENT;
	}
	case MX_RETRY:
		a->wait_ms = wait;
		return res->status == 429 ? SQ_RETRY_AT : SQ_BACK_OFF;
	case MX_RELOGIN:
		mx__login(m);
		return SQ_AGAIN;
	case MX_FORBIDDEN:
		text_copy(a->detail, sizeof(a->detail), errcode);
		return SQ_GONE;
	case MX_FAILED:
		break;
	}
	text_copy(a->detail, sizeof(a->detail), errcode);
	return SQ_REFUSED;
}

/* What the answer to a direct chat's creation means: the room made is
 * remembered and given to every send waiting for it, this one going again
 * at once. */
static enum sq_verdict mx__dm_verdict(struct mx *m, struct mx_send *s, const struct http_result *res,
                                      struct sq_answer *a)
{
	json_error_t jerr;
	json_t *o = res->status == 200 ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
	const char *room = json_string_value(json_object_get(o, "room_id"));
	enum sq_verdict v = SQ_AGAIN;
	if(room) {
		struct strbuf k = STRBUF_INIT;
		strbuf_addf(&k, "matrix.dm.%s", s->dm_user);
		if(!k.oom)
			mx__kv_now_about(m, k.buf, room, NULL, s->dm_user);
		strbuf_release(&k);
		for(struct mx_send *q = s; q; q = (struct mx_send *)q->entry.next)
			if(!q->room && q->dm_user && !strcmp(q->dm_user, s->dm_user))
				q->room = strdup(room);
	} else if(res->status == 429) {
		a->wait_ms = res->retry_after > 0 ? res->retry_after * 1000LL : 0;
		v = SQ_RETRY_AT;
	} else if(res->status == 0 || res->status >= 500) {
		v = SQ_BACK_OFF;
	} else {
		snprintf(a->detail, sizeof(a->detail), "the direct chat cannot be opened: message dropped");
		v = SQ_REFUSED;
	}
	json_decref(o);
	return v;
}

static enum sq_verdict mx__classify(void *owner, struct sq_entry *e, const struct http_result *res, struct sq_answer *a)
{
	struct mx_send *s = (struct mx_send *)e;
	return s->room ? mx__event_verdict(owner, s, res, a) : mx__dm_verdict(owner, s, res, a);
}

/* An answered send: what it became is learnt (mx__learn_sent), and an
 * RSVP message gets its three answers at once. */
static void mx__sent_hook(void *owner, struct sq_entry *e)
{
	struct mx *m = owner;
	struct mx_send *s = (struct mx_send *)e;
	if(!s->held_eid)
		return;
	if(mx__learn_sent(m, s)) {
		log_warn("out of memory: what a send to %s became is not stored (it goes again at the next start)",
		         s->room);
		mx__kv_free(s->writes, s->nwrites);
		s->writes = NULL;
		s->nwrites = 0;
		s->failed = true;
	}
	if(s->after == MX_AFTER_RSVP)
		mx__add_rsvp_answers(m, s, s->held_eid);
}

/* sq_settle's step for one event: writes what mx__learn_sent made of its
 * answer, and nothing of the adapter's (on PostgreSQL it runs on a thread,
 * store_on_thread).  -1 when a write failed. */
static int mx__store(void *owner, struct sq_entry *e)
{
	struct mx *m = owner;
	struct mx_send *s = (struct mx_send *)e;
	int rc = s->failed ? -1 : 0;
	for(size_t i = 0; i < s->nwrites && !rc; i++)
		rc = s->writes[i].value ? db_kv_set(m->b->db, s->writes[i].key, s->writes[i].value)
		                        : db_kv_delete(m->b->db, s->writes[i].key);
	return rc;
}

static void mx__room_inactive(void *owner, const char *room)
{
	struct mx *m = owner;
	db_chat_deactivate(m->b->db, "matrix", room, m->cfg->lang, m->cfg->timezone);
}

/* Unless another platform's batch holds the database (recording would end
 * it early) or a commit runs (recording would wait for it): the bot's
 * resume op comes after it. */
static bool mx__db_free(void *owner)
{
	const struct mx *m = owner;
	return !bot_batch_open(m->b) && !db_busy(m->b->db);
}

static void mx__ack(void *owner, int64_t stored_id)
{
	struct mx *m = owner;
	bot_action_done(m->b, stored_id);
}

/* Syncing goes on once the replies have caught up. */
static void mx__left(void *owner)
{
	struct mx *m = owner;
	if(m->throttled && m->queue.n <= MX_QUEUE_LOW && !m->stopping) {
		m->throttled = false;
		mx__sync(m);
	}
}

static void mx__release_send(struct sq_entry *e)
{
	mx__send_free((struct mx_send *)e);
}

static bool mx__stopping(void *owner)
{
	const struct mx *m = owner;
	return m->stopping;
}

static void mx__describe(const struct sq_entry *e, char *buf, size_t len)
{
	const struct mx_send *s = (const struct mx_send *)e;
	if(s->room)
		snprintf(buf, len, "send to %s", s->room);
	else
		snprintf(buf, len, "direct chat with %s", s->dm_user);
}

/* The queue's view of a send (send_queue.h).  Its lane is its room, or the
 * person of a direct chat not made yet; a lane's sends keep their order,
 * one request out at a time. */
static const char *mx__lane(const struct sq_entry *e)
{
	const struct mx_send *s = (const struct mx_send *)e;
	return s->room ? s->room : s->dm_user ? s->dm_user : "";
}

/* When a send may leave: its own retry time and its room's interval.  A
 * direct chat's send learns here the room made for it before, if any. */
static int64_t mx__ready_at(void *owner, struct sq_entry *e)
{
	struct mx *m = owner;
	struct mx_send *s = (struct mx_send *)e;
	if(!s->room && s->dm_user) {
		/* A direct chat: the one made before, or a new one. */
		struct strbuf v = STRBUF_INIT;
		if(mx__kv_get(m, "matrix.dm.", s->dm_user, &v) == 1)
			s->room = strbuf_detach(&v);
		strbuf_release(&v);
	}
	int64_t at = s->entry.not_before_ms;
	struct mx_room_state *r = s->room ? mx__room(m, s->room) : NULL;
	if(r && r->last_send_ms + m->mcfg->room_interval_ms > at)
		at = r->last_send_ms + m->mcfg->room_interval_ms;
	return at;
}

static bool mx__open(void *owner)
{
	const struct mx *m = owner;
	return !m->stopping && m->ready;
}

static void mx__sent(void *user, const struct http_result *res);

/* The room and event (256 bytes each) of the message that shows ref,
 * answered (matrix.msg.<ref>, mx__kv_get).  True when found. */
static bool mx__msg_find(struct mx *m, const char *ref, char *room, char *target)
{
	struct strbuf v = STRBUF_INIT;
	bool found = mx__kv_get(m, "matrix.msg.", ref, &v) == 1 && sscanf(v.buf, "%255[^\t]\t%255s", room, target) == 2;
	strbuf_release(&v);
	return found;
}

int mx__held_get(const struct mx *m, const char *key, struct strbuf *out)
{
	const struct mx_kv *last = NULL;
	for(const struct sq_entry *e = m->queue.held; e; e = e->next_held) {
		const struct mx_send *h = (const struct mx_send *)e;
		for(size_t i = 0; i < h->nwrites; i++)
			if(!strcmp(h->writes[i].key, key))
				last = &h->writes[i];
	}
	if(!last)
		return 2;
	if(!last->value)
		return 0;
	strbuf_adds(out, last->value);
	return out->oom ? -1 : 1;
}

/* Fills in the edit s the event it replaces, now that the send of the
 * message it edits has been answered (it went first in its room): from
 * the answers not stored yet, else from what was stored.  0; 1 when that
 * send came to nothing (refused or given up): nothing to edit; -1 out of
 * memory. */
static int mx__edit_resolve(struct mx *m, struct mx_send *s)
{
	char room[256], target[256];
	if(!mx__msg_find(m, s->edit_ref, room, target)) {
		log_debug("an edit in %s: the message it edits was never sent, nothing to edit", s->room);
		return 1;
	}
	json_error_t jerr;
	json_t *c = json_loads(s->content, 0, &jerr);
	char *text = NULL;
	if(c && !json_object_set_new(json_object_get(c, "m.relates_to"), "event_id", json_string(target)))
		text = json_text(c);
	json_decref(c);
	if(!text)
		return -1;
	free(s->content);
	s->content = text;
	free(s->edit_ref);
	s->edit_ref = NULL;
	return 0;
}

/* Posts a send leaving at now: the room of a direct chat not made yet
 * first, else the event, whose room's interval starts now; both answers
 * come to mx__sent. */
static int mx__start(void *owner, struct sq_entry *e, int64_t now)
{
	struct mx *m = owner;
	struct mx_send *s = (struct mx_send *)e;
	struct strbuf path = STRBUF_INIT;
	long id;
	/* An edit that waited for its message: 1, nothing left to edit. */
	int unresolved = s->edit_ref ? mx__edit_resolve(m, s) : 0;
	if(unresolved)
		return unresolved;
	s->owner = m;
	if(!s->room) {
		json_t *body = json_pack("{s:b,s:[s],s:s}", "is_direct", 1, "invite", s->dm_user, "preset",
		                         "trusted_private_chat");
		char *text = body ? json_text(body) : NULL;
		json_decref(body);
		id = text ? mx__call(m, "POST", "v3/createRoom", text, 30000, mx__sent, s) : -1;
		free(text);
	} else {
		mx__room(m, s->room)->last_send_ms = now;
		strbuf_adds(&path, "v3/rooms/");
		mx_urlencode(&path, s->room);
		strbuf_adds(&path, "/send/");
		mx_urlencode(&path, s->type);
		strbuf_addc(&path, '/');
		mx_urlencode(&path, s->txn);
		id = path.oom ? -1 : mx__call(m, "PUT", path.buf, s->content, 30000, mx__sent, s);
	}
	strbuf_release(&path);
	return id < 0 ? -1 : 0;
}

/* Up to MX_MAX_INFLIGHT out at once; the events' ids are stored together,
 * synchronously, once the queue has emptied. */
static const struct send_policy mx__policy = {
	.lanes = 64,
	.lane = mx__lane,
	.ready_at = mx__ready_at,
	.max_inflight = MX_MAX_INFLIGHT,
	.open = mx__open,
	.start = mx__start,
	.max_attempts = MX_MAX_ATTEMPTS,
	.module = LOG_MODULE,
	.idempotent = true,
	.commit_on_thread = false,
	.store_on_thread = true, /* mx__store writes what mx__learn_sent made */
	.store_journaled = true, /* and nothing but kv */
	.stopping = mx__stopping,
	.describe = mx__describe,
	.classify = mx__classify,
	.sent = mx__sent_hook,
	.store = mx__store,
	.inactive = mx__room_inactive,
	.db_free = mx__db_free,
	.ack = mx__ack,
	.left = mx__left,
	.release = mx__release_send,
};

static void mx__sent(void *user, const struct http_result *res)
{
	struct mx_send *s = user;
	struct mx *m = s->owner;
	sq_answered(&m->queue, &mx__policy, m, &s->entry, res);
	if(!m->stopping)
		mx__pump(m);
}

void mx__settle(struct mx *m)
{
	sq_settle(&m->queue, &mx__policy, m);
}

void mx__resume_sends(struct mx *m)
{
	sq_resume(&m->queue, &mx__policy, m);
}

void mx__queue_release(struct mx *m)
{
	sq_release(&m->queue, &mx__policy);
}

/* Sends what may leave now (sq_pump), and wakes up when more may. */
void mx__pump(struct mx *m)
{
	int64_t wait = sq_pump(&m->queue, &mx__policy, m);
	if(wait >= 0)
		uv_timer_start(&m->send_timer, mx__on_send_timer, (uint64_t)wait, 0);
}

/* ---- rendering ---- */

/* Appends text with "/command" written "!command": Element keeps a leading
 * '/' for its own commands, so Matrix users type '!'. */
static void mx__bang(struct strbuf *out, const char *text)
{
	/* Only a '/' may change: the text between two is copied whole. */
	const char *run = text;
	for(const char *p = text; (p = strchr(p, '/'));) {
		char prev = p > text ? p[-1] : ' ';
		size_t n = 1;
		if(strchr(" \n(>\"'", prev))
			while(p[n] && (strchr("abcdefghijklmnopqrstuvwxyz_-", p[n]) || (unsigned char)p[n] >= 0x80))
				n++;
		if(n > 1) {
			struct strbuf w = STRBUF_INIT;
			strbuf_add(&w, p + 1, n - 1);
			bool cmd = !w.oom && dispatch_find(w.buf);
			strbuf_release(&w);
			if(cmd) {
				strbuf_add(out, run, (size_t)(p - run));
				strbuf_addc(out, '!');
				run = p + 1;
			}
		}
		p += n;
	}
	strbuf_adds(out, run);
}

/* A message's texts, rendered once: its plain fallback, its HTML, and the
 * ids of those it mentions as a JSON array. */
struct mx_text {
	char *plain;
	struct strbuf html;
	struct strbuf mentions;
	size_t n_mentions;
};

static void mx__text_release(struct mx_text *t)
{
	free(t->plain);
	strbuf_release(&t->html);
	strbuf_release(&t->mentions);
}

/* Renders light ("/command" written "!command") into t.  0, or -1 (out of
 * memory, or text that is not UTF-8); t is to be released either way. */
static int mx__render(struct mx_text *t, const char *light)
{
	struct strbuf bang = STRBUF_INIT, ids = STRBUF_INIT;
	int rc = -1;
	t->plain = NULL;
	strbuf_init(&t->html);
	strbuf_init(&t->mentions);
	t->n_mentions = 0;
	mx__bang(&bang, light ? light : "");
	if(bang.oom || !(t->plain = action_plain_text(bang.buf)) || mx_render_html(&t->html, bang.buf, &ids))
		goto out;
	/* The ids come one a line; one that is not UTF-8 is left out, as
	 * jansson's array left it out. */
	strbuf_addc(&t->mentions, '[');
	for(char *line = ids.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		size_t mark = t->mentions.len;
		nl = strchr(line, '\n');
		if(nl)
			*nl = 0;
		if(t->n_mentions)
			strbuf_addc(&t->mentions, ',');
		if(strbuf_add_json(&t->mentions, line))
			strbuf_setlen(&t->mentions, mark);
		else
			t->n_mentions++;
	}
	strbuf_addc(&t->mentions, ']');
	rc = t->html.oom || t->mentions.oom || ids.oom ? -1 : 0;
out:
	strbuf_release(&bang);
	strbuf_release(&ids);
	return rc;
}

/* Appends the content of a message that shows t, with HTML, its plain
 * fallback and m.mentions, written by hand as the outbox's JSON is (a
 * jansson tree cost more than the rest of the send).  It is an m.notice,
 * which clients never answer and, by the specification's predefined push
 * rules (.m.rule.suppress_notices comes before .m.rule.is_user_mention),
 * never notify; a message that mentions people (a reminder, a nudge, a
 * freed place) is there to reach them, so it is an m.text and their
 * clients notify them.  reply_to is the command's event id, or "EVENT
 * ROOT" for a command in a thread (the answer then goes in the thread, as
 * a reply to it), or NULL.  0, or -1 when a string is not UTF-8. */
static int mx__add_message(struct strbuf *out, const struct mx_text *t, const char *reply_to)
{
	int bad = 0;
	strbuf_adds(out, t->n_mentions ? "{\"msgtype\":\"m.text\",\"body\":" : "{\"msgtype\":\"m.notice\",\"body\":");
	bad |= strbuf_add_json(out, t->plain);
	strbuf_adds(out, ",\"format\":\"org.matrix.custom.html\",\"formatted_body\":");
	bad |= strbuf_add_json(out, t->html.buf);
	strbuf_adds(out, ",\"m.mentions\":{\"user_ids\":");
	strbuf_add(out, t->mentions.buf, t->mentions.len);
	strbuf_addc(out, '}');
	const char *sp = reply_to ? strchr(reply_to, ' ') : NULL;
	if(sp) {
		char event[256];
		snprintf(event, sizeof(event), "%.*s", (int)(sp - reply_to), reply_to);
		strbuf_adds(out, ",\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":");
		bad |= strbuf_add_json(out, sp + 1);
		strbuf_adds(out, ",\"is_falling_back\":false,\"m.in_reply_to\":{\"event_id\":");
		bad |= strbuf_add_json(out, event);
		strbuf_adds(out, "}}");
	} else if(reply_to) {
		strbuf_adds(out, ",\"m.relates_to\":{\"m.in_reply_to\":{\"event_id\":");
		bad |= strbuf_add_json(out, reply_to);
		strbuf_adds(out, "}}");
	}
	strbuf_addc(out, '}');
	return bad ? -1 : 0;
}

static int mx__send_text(struct mx *m, const struct action *act, const char *txn, int64_t stored_id)
{
	bool dm = act->kind == ACTION_SEND_PRIVATE;
	struct mx_text t;
	struct strbuf c = STRBUF_INIT;
	int rc = -1;
	if(mx__render(&t, act->text) || mx__add_message(&c, &t, act->kind == ACTION_REPLY ? act->reply_to : NULL))
		goto out;
	enum mx_after after = MX_AFTER_NONE;
	char meetup[32] = "";
	long long id;
	char code;
	if(act->n_buttons && act->buttons[0].data && sscanf(act->buttons[0].data, "rsvp:%lld:%c", &id, &code) == 2) {
		after = MX_AFTER_RSVP;
		text_int(meetup, sizeof(meetup), id);
	}
	if(mx__enqueue_kept(m, dm ? NULL : act->chat_id, dm ? act->chat_id : NULL, txn, &c, stored_id, after,
	                    after ? meetup : NULL, dm ? NULL : act->ref, NULL))
		goto out;
	rc = 0;
out:
	mx__text_release(&t);
	strbuf_release(&c);
	return rc;
}

/* Appends s after "* " as a JSON string: an edit's fallback.  0 or -1. */
static int mx__add_starred(struct strbuf *out, const char *s)
{
	struct strbuf star = STRBUF_INIT;
	strbuf_adds(&star, "* ");
	strbuf_adds(&star, s);
	int rc = star.oom ? -1 : strbuf_add_json(out, star.buf);
	strbuf_release(&star);
	return rc;
}

/* True when the message that shows ref is in the queue, not yet answered
 * (sent, or about to be): its room is copied to room (256 bytes). */
static bool mx__on_its_way(const struct mx *m, const char *ref, char *room)
{
	for(const struct sq_entry *e = m->queue.head; e; e = e->next) {
		const struct mx_send *s = (const struct mx_send *)e;
		if(s->msg_ref && s->room && !strcmp(s->msg_ref, ref)) {
			text_copy(room, 256, s->room);
			return true;
		}
	}
	return false;
}

/* An edit (m.replace) of the message that shows act->ref: the new content,
 * and a "* " fallback for clients that do not read edits.  An edit asked
 * before the homeserver answered the message's own send (a !rsvp typed at
 * once) follows that send in its room, and learns then which event it
 * replaces (mx__edit_resolve). */
static int mx__send_edit(struct mx *m, const struct action *act, const char *txn)
{
	char room[256], target[256] = "";
	const char *ref = act->ref ? act->ref : "";
	/* A message on its way is not read from the database for nothing. */
	bool waits = mx__on_its_way(m, ref, room);
	if(!waits && !mx__msg_find(m, ref, room, target))
		return 0; /* never sent here: nothing to edit */
	struct mx_text t;
	struct strbuf c = STRBUF_INIT;
	int rc = -1;
	if(mx__render(&t, act->text))
		goto out;
	/* The edit's own m.mentions name only those it newly mentions (the
	 * specification's rule, so that an edit pings nobody twice): none, as
	 * the bot edits counts, not who is named. */
	strbuf_adds(&c, "{\"msgtype\":\"m.notice\",\"body\":");
	int bad = mx__add_starred(&c, t.plain);
	strbuf_adds(&c, ",\"format\":\"org.matrix.custom.html\",\"formatted_body\":");
	bad |= mx__add_starred(&c, t.html.buf);
	strbuf_adds(&c, ",\"m.mentions\":{},\"m.new_content\":");
	bad |= mx__add_message(&c, &t, NULL);
	strbuf_adds(&c, ",\"m.relates_to\":{\"rel_type\":\"m.replace\",\"event_id\":");
	bad |= strbuf_add_json(&c, target);
	strbuf_adds(&c, "}}");
	if(!bad &&
	   !mx__enqueue_kept(m, room, NULL, txn, &c, act->stored_id, MX_AFTER_NONE, NULL, NULL, waits ? ref : NULL))
		rc = 1;
out:
	mx__text_release(&t);
	strbuf_release(&c);
	return rc;
}

/* Appends a native poll's content (MSC3381) with a text fallback: the
 * question and its n answers.  0, or -1 when a string is not UTF-8. */
static int mx__add_poll(struct strbuf *out, const char *question, const char *const *options, size_t n)
{
	struct strbuf fallback = STRBUF_INIT;
	strbuf_adds(&fallback, question);
	for(size_t i = 0; i < n; i++)
		strbuf_addf(&fallback, "\n%zu. %s", i + 1, options[i]);
	strbuf_adds(out, "{\"org.matrix.msc1767.text\":");
	int bad = fallback.oom ? -1 : strbuf_add_json(out, fallback.buf);
	strbuf_release(&fallback);
	strbuf_addf(out,
	            ",\"org.matrix.msc3381.poll.start\":{\"kind\":\"org.matrix.msc3381.poll.disclosed\","
	            "\"max_selections\":%d,\"question\":{\"org.matrix.msc1767.text\":",
	            (int)n);
	bad |= strbuf_add_json(out, question);
	strbuf_adds(out, ",\"body\":");
	bad |= strbuf_add_json(out, question);
	strbuf_adds(out, ",\"msgtype\":\"m.text\"},\"answers\":[");
	for(size_t i = 0; i < n; i++) {
		strbuf_addf(out, "%s{\"id\":\"a%zu\",\"org.matrix.msc1767.text\":", i ? "," : "", i);
		bad |= strbuf_add_json(out, options[i]);
		strbuf_addc(out, '}');
	}
	strbuf_adds(out, "]}}");
	return bad ? -1 : 0;
}

/* Sends a poll: the details in a message, then the native poll (MSC3381)
 * with a text fallback.  As mx__deliver. */
static int mx__deliver_poll(struct mx *m, const struct action *act, const char *txn)
{
	char ttxn[210];
	snprintf(ttxn, sizeof(ttxn), "%s.t", txn);
	if(mx__send_text(m, act, ttxn, 0))
		return -1;
	if(act->n_options < 2 || !act->ref)
		return 0;
	size_t n = act->n_options < MX_MAX_ANSWERS ? act->n_options : MX_MAX_ANSWERS;
	struct strbuf c = STRBUF_INIT;
	int rc = -1;
	if(!mx__add_poll(&c, act->question ? act->question : "?", (const char *const *)act->options, n) &&
	   !mx__enqueue(m, act->chat_id, NULL, "org.matrix.msc3381.poll.start", txn, &c, act->stored_id, MX_AFTER_POLL,
	                act->ref, (int)n))
		rc = 1;
	strbuf_release(&c);
	return rc;
}

/* Closes the native poll of act->ref, when one was sent: responses after
 * this moment no longer count.  As mx__deliver. */
static int mx__deliver_close(struct mx *m, const struct action *act, const char *txn)
{
	struct strbuf v = STRBUF_INIT, pv = STRBUF_INIT, k = STRBUF_INIT, c = STRBUF_INIT;
	char room[256], start[256];
	int rc = 0;
	if(mx__kv_get(m, "matrix.ref.", act->ref ? act->ref : "", &v) != 1 ||
	   sscanf(v.buf, "%255[^\t]\t%255s", room, start) != 2)
		goto out; /* no native poll was sent: nothing to close */
	if(mx__kv_get(m, "matrix.poll.", start, &pv) == 1) {
		char ref[128];
		int n;
		if(sscanf(pv.buf, "%127[^\t]\t%d", ref, &n) == 2) {
			strbuf_reset(&v);
			strbuf_addf(&v, "%s\t%d\t%lld\t%s", ref, n, (long long)clock_now_ms(), room);
			strbuf_addf(&k, "matrix.poll.%s", start);
			if(!k.oom && !v.oom)
				mx__kv_now(m, k.buf, v.buf);
		}
	}
	mx__polls_edit(m, NULL, room, start, false);
	struct db_chat chat;
	const char *lang = i18n_default();
	if(db_chat_get(m->b->db, "matrix", room, m->cfg->lang, m->cfg->timezone, &chat) == 1)
		lang = chat.lang;
	const char *text = act->text && *act->text ? act->text : i18n_lookup(lang, "matrix.poll_closed");
	char *plain = action_plain_text(text);
	strbuf_adds(&c, "{\"m.relates_to\":{\"rel_type\":\"m.reference\",\"event_id\":");
	int bad = strbuf_add_json(&c, start);
	strbuf_adds(&c, "},\"org.matrix.msc3381.poll.end\":{},\"org.matrix.msc1767.text\":");
	bad |= strbuf_add_json(&c, plain ? plain : "");
	strbuf_addc(&c, '}');
	free(plain);
	rc = !bad && !mx__enqueue(m, room, NULL, "org.matrix.msc3381.poll.end", txn, &c, act->stored_id, MX_AFTER_NONE,
	                          NULL, 0)
	             ? 1
	             : -1;
out:
	strbuf_release(&v);
	strbuf_release(&pv);
	strbuf_release(&k);
	strbuf_release(&c);
	return rc;
}

int mx__deliver(struct adapter *a, const struct action *act)
{
	struct mx *m = a->priv;
	char txn[200];
	/* The action's key is stable across a crash: the txn id too. */
	snprintf(txn, sizeof(txn), "ens.%s", act->key ? act->key : "none");
	if(!act->key)
		snprintf(txn, sizeof(txn), "ens.n%lld.%llu", (long long)clock_now_ms(), (unsigned long long)rand());
	switch(act->kind) {
	case ACTION_SEND_TEXT:
	case ACTION_REPLY:
	case ACTION_SEND_PRIVATE:
		return mx__send_text(m, act, txn, act->stored_id) ? -1 : 1;
	case ACTION_SEND_POLL:
		return mx__deliver_poll(m, act, txn);
	case ACTION_CLOSE_POLL:
		return mx__deliver_close(m, act, txn);
	case ACTION_EDIT:
		return mx__send_edit(m, act, txn);
	case ACTION_ANSWER:
		return 0; /* reactions have no private answer: the core never asks */
	}
	return 0;
}
