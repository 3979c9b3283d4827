/*
 * matrix: the Matrix adapter, over the client-server API (v3).
 *
 * Session: an access token from the configuration, or a password with which
 * the bot logs in once and keeps the token and device id in its database
 * (kv matrix.token, matrix.device); a 401 M_UNKNOWN_TOKEN logs in again with
 * the same device, or stops the bot when there is no password.
 *
 * Receiving: /sync long-polls with a filter created once.  Each answer runs
 * through bot_handle_batch() with next_batch, the ids of the events seen and
 * the rooms' state written in the same transaction, so a crash replays at
 * most one batch and the replay does nothing twice (seen_events).  On the
 * very first start the backlog is skipped, but invites and room state are
 * read.  Invites are accepted (optionally only from invite_from) before the
 * batch runs, and the room is greeted with /start's text.  Commands start
 * with '!' (or '/'), or address the bot by name; m.notice and the bot's own
 * events are never answered.  Admins are the members whose power level
 * reaches admin_level.  A gap (a limited timeline) is read back from
 * /messages before the sync runs, and the open polls of the room are
 * recounted from /relations.  Each room's member list follows its member
 * events: a room where the bot is alone is left.
 *
 * Sending and rendering live in matrix_send.c; matrix_internal.h is what
 * the two files share.
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

static void mx__retry_sync(struct mx *m, long ms);
static int mx__process(struct mx *m);

static bool mx__configured(const struct config *cfg)
{
	const struct matrix_config *mc = matrix_config(cfg);
	return mc && *mc->homeserver;
}

/* ---- HTTP ---- */

/* A client-server API call in flight: its caller's callback, and the
 * adapter whose homeserver answers it. */
struct mx_call {
	struct adapter *a;
	http_done_fn done;
	void *user;
};

/* Every answer of the homeserver passes here: a 2xx is the platform heard
 * (struct adapter's heard_ms, which GET /healthz reads), whatever the
 * call; then the caller's callback has it. */
static void mx__answered(void *user, const struct http_result *res)
{
	struct mx_call call = *(struct mx_call *)user;
	free(user);
	if(res->status >= 200 && res->status < 300)
		call.a->heard_ms = clock_mono_ms();
	call.done(call.user, res);
}

/* Starts a client-server API call: path is what follows /_matrix/client/
 * and is already encoded. */
long mx__call(struct mx *m, const char *method, const char *path, const char *body, long timeout_ms, http_done_fn done,
              void *user)
{
	struct strbuf url = STRBUF_INIT;
	struct mx_call *c = malloc(sizeof(*c));
	long id = -1;
	strbuf_adds(&url, m->hs);
	strbuf_adds(&url, "/_matrix/client/");
	strbuf_adds(&url, path);
	if(url.oom || !c)
		goto out;
	*c = (struct mx_call){ .a = m->a, .done = done, .user = user };
	struct http_call call = { .method = method,
		                  .url = url.buf,
		                  .body = body,
		                  .body_len = body ? strlen(body) : 0,
		                  .timeout_ms = timeout_ms,
		                  .auth_bearer = m->token };
	struct http_client *client = adapter_http(m->a);
	if(client && (id = http_client_start(client, &call, mx__answered, c)) > 0)
		c = NULL; /* mx__answered frees it */
out:
	free(c);
	strbuf_release(&url);
	return id;
}

enum mx_verdict mx__verdict(const struct http_result *res, long *wait_ms, int attempts, char *errcode, size_t errlen)
{
	errcode[0] = 0;
	*wait_ms = 0;
	if(res->status == 200)
		return MX_OK;
	long retry_ms = res->status ? mx_parse_error(res->body, res->body_len, errcode, errlen) : -1;
	if(res->status == 429) {
		/* Retry-After first, then retry_after_ms, then back off. */
		*wait_ms = res->retry_after >= 0 ? res->retry_after * 1000 : retry_ms >= 0 ? retry_ms : 0;
		if(*wait_ms <= 0)
			*wait_ms = 1000L << (attempts < 6 ? attempts : 6);
		return MX_RETRY;
	}
	if(res->status == 401 && !strcmp(errcode, "M_UNKNOWN_TOKEN"))
		return MX_RELOGIN;
	if(res->status == 401 && !errcode[0])
		return MX_RELOGIN;
	if(res->status == 403)
		return MX_FORBIDDEN;
	if(res->status == 0 || res->status >= 500 || (res->status != 200 && !errcode[0])) {
		*wait_ms = (long)sq_backoff_ms(attempts, 8);
		return MX_RETRY;
	}
	return MX_FAILED;
}

/* ---- rooms ---- */

static uint32_t mx__room_hash(const char *id)
{
	uint32_t h = 2166136261u;
	for(const char *c = id; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return h;
}

/* Puts room i in the index of the rooms by id. */
static void mx__room_index(struct mx *m, int i)
{
	size_t k = mx__room_hash(m->rooms[i].id) % MX_ROOM_SLOTS;
	while(m->room_slot[k])
		k = (k + 1) % MX_ROOM_SLOTS;
	m->room_slot[k] = (unsigned short)(i + 1);
}

/* The room of the index whose id is id, or NULL. */
static struct mx_room_state *mx__room_find(struct mx *m, const char *id)
{
	for(size_t k = mx__room_hash(id) % MX_ROOM_SLOTS; m->room_slot[k]; k = (k + 1) % MX_ROOM_SLOTS)
		if(!strcmp(m->rooms[m->room_slot[k] - 1].id, id))
			return &m->rooms[m->room_slot[k] - 1];
	return NULL;
}

/* A room's kv row read ahead (mx__seen_start). */
struct mx_room_ahead {
	char *id;
	int found; /* 1: text holds the row; 0: there is none; -1: not read */
	struct strbuf text;
};

static void mx__room_ahead_free(struct mx *m)
{
	for(size_t i = 0; i < m->nroom_ahead; i++) {
		free(m->room_ahead[i].id);
		strbuf_release(&m->room_ahead[i].text);
	}
	free(m->room_ahead);
	m->room_ahead = NULL;
	m->nroom_ahead = 0;
}

/* Takes the row of room id read ahead into v: 1, 0 when it has none, -1
 * when it was not read ahead (then read it). */
static int mx__room_ahead_take(struct mx *m, const char *id, struct strbuf *v)
{
	for(size_t i = 0; i < m->nroom_ahead; i++) {
		struct mx_room_ahead *a = &m->room_ahead[i];
		if(!a->id || strcmp(a->id, id) || a->found < 0)
			continue;
		int found = a->found;
		strbuf_release(v);
		*v = a->text;
		strbuf_init(&a->text);
		a->found = -1; /* taken: a later first sight reads it again */
		return found;
	}
	return -1;
}

/* Every event and send looks its room up, so the rooms are indexed by id;
 * a room not among them takes the place of the one unused longest (its
 * state saved already: not dirty), and the index is made again when that
 * one had an id. */
struct mx_room_state *mx__room(struct mx *m, const char *id)
{
	struct mx_room_state *r = mx__room_find(m, id);
	if(r) {
		r->used_ms = clock_now_ms();
		return r;
	}
	struct mx_room_state *oldest = &m->rooms[0];
	for(int i = 0; i < MX_ROOMS; i++)
		if(!m->rooms[i].dirty && m->rooms[i].used_ms < oldest->used_ms)
			oldest = &m->rooms[i];
	bool evicted = oldest->id[0] != 0;
	json_decref(oldest->pl);
	json_decref(oldest->members);
	memset(oldest, 0, sizeof(*oldest));
	text_copy(oldest->id, sizeof(oldest->id), id);
	oldest->joined = -1;
	oldest->used_ms = clock_now_ms();
	if(evicted) {
		memset(m->room_slot, 0, sizeof(m->room_slot));
		for(int i = 0; i < MX_ROOMS; i++)
			if(m->rooms[i].id[0])
				mx__room_index(m, i);
	} else {
		mx__room_index(m, (int)(oldest - m->rooms));
	}
	/* What the last run knew of it: read ahead on a thread with the sync's
	 * events seen (mx__seen_start), or here. */
	struct strbuf key = STRBUF_INIT, v = STRBUF_INIT;
	strbuf_addf(&key, "matrix.room.%s", id);
	int known = mx__room_ahead_take(m, id, &v);
	if(known < 0 && !key.oom)
		known = db_kv_get(m->b->db, key.buf, &v);
	if(known == 1) {
		json_error_t jerr;
		json_t *o = json_loads(v.buf, 0, &jerr);
		json_t *pl = json_object_get(o, "pl");
		if(json_is_object(pl))
			oldest->pl = json_incref(pl);
		oldest->encrypted = json_is_true(json_object_get(o, "enc"));
		oldest->warned = json_is_true(json_object_get(o, "warned"));
		json_t *j = json_object_get(o, "joined");
		if(json_is_integer(j))
			oldest->joined = (long)json_integer_value(j);
		json_t *mem = json_object_get(o, "members");
		if(json_is_object(mem))
			oldest->members = json_incref(mem);
		json_decref(o);
	}
	strbuf_release(&key);
	strbuf_release(&v);
	return oldest;
}

static int mx__room_save(struct db *db, const struct mx_room_state *r);

/* db_transact's step that saves one room, user. */
static int mx__room_save_one(struct db *db, void *user)
{
	return mx__room_save(db, user);
}

/* r's state as stored, a new string (NULL when out of memory). */
static char *mx__room_text(const struct mx_room_state *r)
{
	json_t *o =
		json_pack("{s:b,s:b,s:I}", "enc", r->encrypted, "warned", r->warned, "joined", (json_int_t)r->joined);
	if(o && r->pl)
		json_object_set(o, "pl", r->pl);
	if(o && r->members)
		json_object_set(o, "members", r->members);
	char *text = o ? json_text(o) : NULL;
	json_decref(o);
	return text;
}

static int mx__room_save(struct db *db, const struct mx_room_state *r)
{
	char *text = mx__room_text(r);
	struct strbuf key = STRBUF_INIT;
	strbuf_addf(&key, "matrix.room.%s", r->id);
	int rc = text && !key.oom ? db_kv_set(db, key.buf, text) : -1;
	free(text);
	strbuf_release(&key);
	return rc;
}

/* Counts the members of r that are in (joined), and invited, into
 * r->joined and *invited. */
static void mx__count(struct mx_room_state *r, long *invited)
{
	const char *user;
	json_t *v;
	long j = 0, inv = 0;
	json_object_foreach(r->members, user, v)
	{
		const char *ms = json_string_value(v);
		j += ms && !strcmp(ms, "join");
		inv += ms && !strcmp(ms, "invite");
	}
	r->joined = j;
	if(invited)
		*invited = inv;
}

/* One member event on r's member list: who is in or invited; those who
 * left, were kicked or banned go. */
static void mx__member(struct mx_room_state *r, const struct mx_event *e)
{
	if(!r->members)
		return;
	bool in = !strcmp(e->membership, "join") || !strcmp(e->membership, "invite");
	if(in)
		json_object_set_new(r->members, e->state_key, json_string(e->membership));
	else
		json_object_del(r->members, e->state_key);
	mx__count(r, NULL);
	r->dirty = true;
}

/* True when the bot is the only one left in r: in it, nobody else in, and
 * nobody invited (a direct chat just made waits for its guest). */
static bool mx__alone(const struct mx *m, struct mx_room_state *r)
{
	long invited;
	if(!r->members)
		return false;
	mx__count(r, &invited);
	const char *me = json_string_value(json_object_get(r->members, m->user));
	return me && !strcmp(me, "join") && r->joined == 1 && invited == 0;
}

/* The sender's power level against admin_level; a room whose power levels
 * are not known leaves the decision to the core. */
static enum event_role mx__role(struct mx *m, struct mx_room_state *r, const char *sender)
{
	if(!r->pl)
		return ROLE_UNKNOWN;
	json_t *lvl = json_object_get(json_object_get(r->pl, "users"), sender);
	if(!json_is_integer(lvl))
		lvl = json_object_get(r->pl, "users_default");
	long level = json_is_integer(lvl) ? (long)json_integer_value(lvl) : 0;
	return level >= m->mcfg->admin_level ? ROLE_ADMIN : ROLE_MEMBER;
}

/* Queues a kv write for the next batch's transaction; value NULL deletes.
 * A value that names user in room says so, for /forget me. */
static void mx__kv_later_about(struct mx *m, const char *key, const char *value, const char *room, const char *user)
{
	struct mx_kv *nv = realloc(m->kv, (m->nkv + 1) * sizeof(*nv));
	if(!nv)
		return;
	m->kv = nv;
	struct mx_kv *w = &nv[m->nkv];
	w->key = strdup(key);
	w->value = value ? strdup(value) : NULL;
	w->room = room ? strdup(room) : NULL;
	w->user = user ? strdup(user) : NULL;
	if(w->key && (!value || w->value) && (!room || w->room) && (!user || w->user)) {
		m->nkv++;
		mx__memo_put(m, key, value);
		return;
	}
	free(w->key);
	free(w->value);
	free(w->room);
	free(w->user);
}

static void mx__kv_later(struct mx *m, const char *key, const char *value)
{
	mx__kv_later_about(m, key, value, NULL, NULL);
}

void mx__kv_free(struct mx_kv *kv, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
		free(kv[i].room);
		free(kv[i].user);
	}
	free(kv);
}

static void mx__kv_clear(struct mx *m)
{
	mx__kv_free(m->kv, m->nkv);
	m->kv = NULL;
	m->nkv = 0;
}

/* One kv write (state learnt from a send or a poll's closing), in a
 * transaction of its own, or in the core's open batch. */
void mx__kv_now(struct mx *m, const char *key, const char *value)
{
	mx__kv_now_about(m, key, value, NULL, NULL);
}

void mx__kv_now_about(struct mx *m, const char *key, const char *value, const char *room, const char *user)
{
	mx__memo_put(m, key, value);
	db_kv_put_about(m->b->db, key, value, room, user);
}

int mx__kv_get(struct mx *m, const char *prefix, const char *id, struct strbuf *out)
{
	struct strbuf key = STRBUF_INIT;
	strbuf_addf(&key, "%s%s", prefix, id);
	int rc = key.oom ? -1 : 2;
	/* A write waiting for the sync's batch is the latest word (a reaction
	 * and its redaction may come in one sync). */
	for(size_t i = m->nkv; rc == 2 && i-- > 0;) {
		if(strcmp(m->kv[i].key, key.buf))
			continue;
		rc = m->kv[i].value ? 1 : 0;
		if(rc)
			strbuf_adds(out, m->kv[i].value);
	}
	bool kept = rc == 2 && mx__memo_kept(key.buf);
	if(kept)
		rc = mx__memo_get(m, key.buf, out);
	/* Evicted from the memory, but not stored yet. */
	if(kept && rc == 2)
		rc = mx__held_get(m, key.buf, out);
	if(rc == 2) {
		size_t at = out->len;
		rc = db_kv_get(m->b->db, key.buf, out);
		if(kept && rc >= 0)
			mx__memo_put(m, key.buf, rc ? out->buf + at : NULL);
	}
	strbuf_release(&key);
	return rc;
}

/* ---- receiving ---- */

struct mx_scratch {
	struct strbuf text;
	struct strbuf msg_ref; /* "EVENT ROOT" for a command in a thread */
	char name[128];
	char data[48];
	char ref[128];
	int opts[MX_MAX_ANSWERS];
};

/* A room whose state or name the batch stores, copied when it is
 * submitted. */
struct mx_saved {
	char *key, *text; /* "matrix.room.ID" and its state; NULL: unchanged */
	char id[256];
	char title[256];
	bool titled; /* the name is stored as the chat's title */
};

/* A sync's batch, from its submission to its end (mx__batch_done): its
 * events and their scratch, and what it stores beside the events'
 * effects.  That is copied from the adapter when the batch is submitted:
 * on PostgreSQL the batch runs on a thread (bot/bot.c) while the loop may
 * change the rooms' state (a member list answered), which the next batch
 * stores then. */
struct mx_batch {
	struct mx *m;
	const struct mx_sync *s; /* m->held, kept until the end */
	const char *next_batch;  /* NULL: a recount, no sync state */
	struct event *evs;
	struct mx_scratch *sc;
	size_t cap, ne;
	struct mx_kv *kv; /* the adapter's writes, taken from m->kv */
	size_t nkv;
	struct mx_saved *rooms;
	size_t nrooms;
	bool prune; /* the seen events of long ago are deleted too */
};

/* The event ids of s (NULL for an invite's, when invites is false), in a
 * new array of s->n, or NULL when out of memory. */
static const char **mx__event_ids(const struct mx_sync *s, bool invites)
{
	const char **ids = calloc(s->n + 1, sizeof(*ids));
	for(size_t i = 0; ids && i < s->n; i++)
		ids[i] = invites || s->ev[i].kind != MX_INVITE ? s->ev[i].event_id : NULL;
	return ids;
}

/* In the batch's transaction: next_batch, the events seen, the rooms'
 * state and the adapter's other writes.  On the batch's thread on
 * PostgreSQL: it reads nothing of the adapter's but what bt copied. */
static int mx__batch_state(void *user, struct db *db)
{
	struct mx_batch *bt = user;
	const struct mx *m = bt->m;
	int64_t now = clock_now_ms();
	if(!bt->next_batch)
		return 0;
	const char **ids = mx__event_ids(bt->s, true);
	int marked = ids ? db_seen_mark_all(db, "matrix", ids, bt->s->n, now) : -1;
	free(ids);
	if(marked)
		return -1;
	for(size_t i = 0; i < bt->nrooms; i++) {
		struct mx_saved *r = &bt->rooms[i];
		struct db_chat chat;
		if(r->text && db_kv_set(db, r->key, r->text))
			return -1;
		/* The rooms' names, for the lists that span chats (/mygroups). */
		if(r->titled && (db_chat_get(db, "matrix", r->id, m->cfg->lang, m->cfg->timezone, &chat) < 0 ||
		                 db_chat_set_title(db, chat.id, r->title)))
			return -1;
	}
	for(size_t i = 0; i < bt->nkv; i++)
		if(bt->kv[i].value ? db_kv_set_about(db, bt->kv[i].key, bt->kv[i].value, bt->kv[i].room, bt->kv[i].user)
		                   : db_kv_delete(db, bt->kv[i].key))
			return -1;
	if(bt->prune && db_seen_prune(db, now - MX_SEEN_DAYS * 86400000LL))
		return -1;
	return db_kv_set(db, "matrix.since", bt->next_batch);
}

/* Copies into bt what its transaction stores of the adapter's state: the
 * rooms changed or named since the last batch (then marked clean), and
 * the kv writes (taken).  0, or -1 when out of memory (nothing taken). */
static int mx__batch_copy(struct mx *m, struct mx_batch *bt)
{
	size_t n = 0;
	for(int i = 0; i < MX_ROOMS; i++)
		n += m->rooms[i].dirty || m->rooms[i].titled;
	bt->rooms = calloc(n ? n : 1, sizeof(*bt->rooms));
	if(!bt->rooms)
		return -1;
	for(int i = 0; i < MX_ROOMS; i++) {
		struct mx_room_state *r = &m->rooms[i];
		if(!r->dirty && !r->titled)
			continue;
		struct mx_saved *c = &bt->rooms[bt->nrooms++];
		text_copy(c->id, sizeof(c->id), r->id);
		text_copy(c->title, sizeof(c->title), r->title);
		c->titled = r->titled;
		if(r->dirty) {
			struct strbuf key = STRBUF_INIT;
			strbuf_addf(&key, "matrix.room.%s", r->id);
			c->key = strbuf_detach(&key);
			c->text = mx__room_text(r);
			if(!c->key || !c->text)
				return -1;
		}
	}
	for(int i = 0; i < MX_ROOMS; i++)
		m->rooms[i].dirty = m->rooms[i].titled = false;
	bt->kv = m->kv;
	bt->nkv = m->nkv;
	m->kv = NULL;
	m->nkv = 0;
	bt->prune = m->batches % 1000 == 0;
	return 0;
}

static void mx__batch_free(struct mx_batch *bt)
{
	if(!bt)
		return;
	for(size_t i = 0; bt->sc && i < bt->cap; i++) {
		strbuf_release(&bt->sc[i].text);
		strbuf_release(&bt->sc[i].msg_ref);
	}
	for(size_t i = 0; i < bt->nrooms; i++) {
		free(bt->rooms[i].key);
		free(bt->rooms[i].text);
	}
	mx__kv_free(bt->kv, bt->nkv);
	free(bt->rooms);
	free(bt->sc);
	free(bt->evs);
	free(bt);
}

/* The sender's display name if a member event told it, else the localpart. */
static void mx__name(char *out, size_t outlen, const char *user)
{
	const char *p = user[0] == '@' ? user + 1 : user;
	size_t n = strcspn(p, ":");
	snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), p);
}

/* The display name of user from a member event seen lately, else their
 * id's localpart: true when it is only that guess, which the core stores
 * for a new sender and drops for one whose name it has (the name stored
 * from an earlier member event wins, read with the sender's row). */
static bool mx__display_name(struct mx *m, const char *user, char *out, size_t outlen)
{
	for(unsigned i = 0; i < 64 && i < m->nnames; i++) {
		unsigned k = (m->nnames - 1 - i) % 64;
		if(!strcmp(m->names[k].user, user)) {
			text_copy(out, outlen, m->names[k].name);
			return false;
		}
	}
	mx__name(out, outlen, user);
	return true;
}

static void mx__remember_name(struct mx *m, const char *user, const char *name)
{
	unsigned k = m->nnames++ % 64;
	text_copy(m->names[k].user, sizeof(m->names[k].user), user);
	text_copy(m->names[k].name, sizeof(m->names[k].name), name);
}

/* A poll response as the voter's yes-list (by MSC3381's rules), or false
 * when it does not count. */
static bool mx__poll_vote(struct mx *m, const struct mx_event *e, struct event *ev, struct mx_scratch *sc)
{
	struct strbuf v = STRBUF_INIT;
	char ref[128], room[256] = "";
	int n = 0;
	long long ended = 0;
	bool ok = mx__kv_get(m, "matrix.poll.", e->relates_to, &v) == 1 &&
	          sscanf(v.buf, "%127[^\t]\t%d\t%lld\t%255s", ref, &n, &ended, room) >= 3;
	strbuf_release(&v);
	if(!ok || (room[0] && strcmp(room, e->room)))
		return false; /* not one of ours */
	if(ended && e->ts > ended)
		return false; /* after the end: ignored */
	text_copy(sc->ref, sizeof(sc->ref), ref);
	size_t k = 0;
	bool spoiled = e->key && !strcmp(e->key, "spoiled");
	for(size_t i = 0; i < e->n_answers && !spoiled; i++) {
		int idx;
		char end;
		if(sscanf(e->answers[i], "a%d%c", &idx, &end) != 1 || idx < 0 || idx >= n) {
			spoiled = true; /* an unknown answer spoils the response */
			break;
		}
		bool dup = false;
		for(size_t j = 0; j < k; j++)
			dup |= sc->opts[j] == idx;
		if(!dup && k < (size_t)n) /* beyond max_selections: cut */
			sc->opts[k++] = idx;
	}
	ev->kind = EVENT_POLL_VOTE;
	ev->poll_ref = sc->ref;
	ev->options = sc->opts;
	ev->n_options = spoiled ? 0 : k;
	return true;
}

/* Reactions that answer a meetup: kv matrix.react.<reaction> is "DATA
 * SENDER TARGET" (tab-separated), for its redaction; kv matrix.reacts.
 * <target> <sender> lists that person's reactions standing under that
 * message, one "REACTION CODE" a line, oldest first. */
static void mx__react_add(struct mx *m, const struct mx_event *e, int code, const char *data)
{
	struct strbuf k = STRBUF_INIT, v = STRBUF_INIT;
	strbuf_addf(&k, "matrix.react.%s", e->event_id ? e->event_id : "");
	strbuf_addf(&v, "%s\t%s\t%s", data, e->sender, e->relates_to);
	if(!k.oom && !v.oom)
		mx__kv_later_about(m, k.buf, v.buf, e->room, e->sender);
	strbuf_reset(&k);
	strbuf_reset(&v);
	strbuf_addf(&k, "%s %s", e->relates_to, e->sender);
	mx__kv_get(m, "matrix.reacts.", k.buf, &v);
	strbuf_addf(&v, "%s %c\n", e->event_id ? e->event_id : "", code);
	strbuf_reset(&k);
	strbuf_addf(&k, "matrix.reacts.%s %s", e->relates_to, e->sender);
	if(!k.oom && !v.oom)
		mx__kv_later_about(m, k.buf, v.buf, e->room, e->sender);
	strbuf_release(&k);
	strbuf_release(&v);
}

/* Takes reaction out of who's reactions under target, in room.  Returns the code
 * of the latest one still standing, or '-' (no answer) when none. */
static int mx__react_remove(struct mx *m, const char *room, const char *target, const char *who, const char *reaction)
{
	struct strbuf k = STRBUF_INIT, list = STRBUF_INIT, rest = STRBUF_INIT;
	int code = '-';
	if(!*target)
		goto out; /* recorded before the list was kept */
	strbuf_addf(&k, "%s %s", target, who);
	mx__kv_get(m, "matrix.reacts.", k.buf, &list);
	for(char *line = list.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if(nl)
			*nl = '\0';
		char *sp = strchr(line, ' ');
		if(!sp || !sp[1])
			continue;
		*sp = '\0';
		if(!strcmp(line, reaction))
			continue;
		strbuf_addf(&rest, "%s %c\n", line, sp[1]);
		code = sp[1];
	}
	strbuf_reset(&k);
	strbuf_addf(&k, "matrix.reacts.%s %s", target, who);
	if(!k.oom && !rest.oom)
		mx__kv_later_about(m, k.buf, rest.len ? rest.buf : NULL, room, who);
out:
	strbuf_release(&k);
	strbuf_release(&list);
	strbuf_release(&rest);
	return code;
}

static int mx__rsvp_code(const char *key)
{
	static const char *const yes[] = { "\xe2\x9c\x85", "\xe2\x9c\x94\xef\xb8\x8f", "\xe2\x9c\x94",
		                           "\xf0\x9f\x91\x8d" };
	static const char *const maybe[] = { "\xe2\x9d\x94", "\xe2\x9d\x93", "\xf0\x9f\xa4\x94" };
	static const char *const no[] = { "\xe2\x9d\x8c", "\xf0\x9f\x91\x8e" };
	for(size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		if(text_istarts(key, yes[i]))
			return 'y';
	for(size_t i = 0; i < sizeof(maybe) / sizeof(*maybe); i++)
		if(text_istarts(key, maybe[i]))
			return 'm';
	for(size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		if(text_istarts(key, no[i]))
			return 'n';
	return 0;
}

static bool mx__invite_allowed(const struct mx *m, const char *inviter)
{
	const char *list = m->mcfg->invite_from;
	if(!list || !*list)
		return true;
	const char *server = strchr(inviter, ':');
	for(const char *p = list; *p;) {
		p += strspn(p, " ,");
		size_t n = strcspn(p, " ,");
		if(n && ((p[0] == ':' && server && strlen(server) == n && !strncmp(server, p, n)) ||
		         (strlen(inviter) == n && !strncmp(inviter, p, n))))
			return true;
		p += n;
	}
	return false;
}

/* Tells an encrypted room, once, that the bot cannot read it. */
static void mx__warn_encrypted(struct mx *m, struct mx_room_state *r)
{
	if(r->warned)
		return;
	r->warned = r->dirty = true;
	struct db_chat chat;
	const char *lang = m->cfg->lang;
	if(db_chat_get(m->b->db, "matrix", r->id, m->cfg->lang, m->cfg->timezone, &chat) == 1)
		lang = chat.lang;
	struct strbuf c = STRBUF_INIT, txn = STRBUF_INIT;
	strbuf_adds(&c, "{\"msgtype\":\"m.notice\",\"body\":");
	int bad = strbuf_add_json(&c, i18n_lookup(lang, "matrix.encrypted"));
	strbuf_adds(&c, ",\"m.mentions\":{}}");
	strbuf_addf(&txn, "ens.enc.%s", r->id);
	if(!bad && !txn.oom)
		mx__enqueue(m, r->id, NULL, "m.room.message", txn.buf, &c, 0, MX_AFTER_NONE, NULL, 0);
	strbuf_release(&c);
	strbuf_release(&txn);
}

/* True when body starts with the name of a command: in a direct chat,
 * where everything is said to the bot, "aide" is "!aide". */
static bool mx__names_command(const char *body)
{
	const char *p = body + strspn(body, " \t\n");
	size_t n = strcspn(p, " \t\n");
	char word[64];
	if(!n || n >= sizeof(word))
		return false;
	memcpy(word, p, n);
	word[n] = 0;
	return dispatch_find(word) != NULL;
}

/* True when e is the bot's own arrival in its room: its join, not over an
 * earlier one (a change of name). */
static bool mx__arrival(const struct mx *m, const struct mx_event *e)
{
	return e->kind == MX_MEMBER && !e->was_joined && !strcmp(e->state_key, m->user) &&
	       !strcmp(e->membership, "join");
}

/* True when the held sync's timeline of room holds the bot's arrival. */
static bool mx__arrived(const struct mx *m, const struct mx_room *room)
{
	for(size_t k = 0; k < m->held.n; k++)
		if(m->held.ev[k].room == room->id && !m->held.ev[k].is_state && mx__arrival(m, &m->held.ev[k]))
			return true;
	return false;
}

static void mx__leave(struct mx *m, const char *room);
static void mx__recount(struct mx *m, const char *room);
static void mx__ask_members(struct mx *m, struct mx_room_state *r);

/* Marks early[i] for each timeline event of a room the bot has just joined
 * that came before its arrival: what was said before is not addressed to
 * it (members and state still count).  Going backwards, since a room's
 * events are contiguous in the sync. */
static void mx__mark_early(const struct mx *m, const struct mx_sync *s, bool *early)
{
	for(size_t i = s->n, cut = 0; i-- > 0;) {
		const struct mx_event *e = &s->ev[i];
		if(cut && strcmp(s->ev[cut - 1].room, e->room))
			cut = 0;
		if(cut && !e->is_state)
			early[i] = true;
		if(!e->is_state && mx__arrival(m, e))
			cut = i + 1;
	}
}

/* Empties the member list of each room the bot arrives in (or of every
 * room at the very first sync): it starts again from the full state that
 * comes with the arrival, its state block, then its timeline. */
static void mx__reset_arrived(struct mx *m, const struct mx_sync *s)
{
	for(size_t i = 0; i < s->nrooms; i++) {
		struct mx_room *room = &s->rooms[i];
		if((m->first_sync && !room->invited) || mx__arrived(m, room)) {
			struct mx_room_state *r = mx__room(m, room->id);
			json_decref(r->members);
			r->members = json_object();
			r->dirty = true;
		}
	}
}

/* Applies a room state event e to r (also from the backlog and from the
 * bot's own events).  True when e was one: it makes no core event. */
static bool mx__apply_state(struct mx *m, struct mx_room_state *r, const struct mx_event *e)
{
	switch(e->kind) {
	case MX_POWER_LEVELS: {
		json_error_t jerr;
		json_t *pl = json_loads(e->content_json, 0, &jerr);
		if(json_is_object(pl)) {
			json_decref(r->pl);
			r->pl = pl;
			r->dirty = true;
		} else {
			json_decref(pl);
		}
		return true;
	}
	case MX_ROOM_NAME:
		text_copy(r->title, sizeof(r->title), e->body);
		r->titled = r->dirty = true;
		return true;
	case MX_ENCRYPTION:
		if(!r->encrypted)
			r->encrypted = r->dirty = true;
		if(!m->first_sync)
			mx__warn_encrypted(m, r);
		return true;
	case MX_ENCRYPTED:
		if(!e->is_state && !m->first_sync && strcmp(e->sender, m->user))
			mx__warn_encrypted(m, r);
		return true;
	default:
		return false;
	}
}

/* Fills ev from a member event e.  1 when it is a join or a departure of
 * someone else than the bot, 0 when it makes no core event. */
static int mx__member_event(struct mx *m, const struct mx_event *e, struct event *ev, struct mx_scratch *x)
{
	if(!strcmp(e->state_key, m->user))
		return 0;
	if(e->displayname && *e->displayname) {
		text_copy(x->name, sizeof(x->name), e->displayname);
		mx__remember_name(m, e->state_key, x->name);
	}
	ev->sender_id = e->state_key;
	if(!strcmp(e->membership, "join"))
		ev->kind = EVENT_MEMBER_JOINED;
	else if(!strcmp(e->membership, "leave") || !strcmp(e->membership, "ban"))
		ev->kind = EVENT_MEMBER_LEFT;
	else
		return 0;
	ev->role = ROLE_MEMBER;
	return 1;
}

/* Fills ev from a text message e.  1 when filled, 0 when it is no text
 * (m.notice from bots, images, emotes), -1 when out of memory. */
static int mx__message_event(struct mx *m, const struct mx_event *e, struct event *ev, struct mx_scratch *x)
{
	if(strcmp(e->msgtype, "m.text"))
		return 0;
	if(mx_command_text(&x->text, e->body, e->mentions_me, m->localpart, m->cfg->bot_name) == 1)
		ev->text = x->text.buf;
	else if(ev->is_private && mx__names_command(e->body)) {
		strbuf_addf(&x->text, "!%s", e->body + strspn(e->body, " \t\n"));
		ev->text = x->text.buf;
	} else
		ev->text = e->body;
	/* A command in a thread is answered in the thread: the reference the
	 * core hands back as the answers' reply_to (opaque to it) carries the
	 * thread's root. */
	if(e->in_thread) {
		strbuf_addf(&x->msg_ref, "%s %s", e->event_id, e->relates_to);
		ev->message_id = x->msg_ref.buf;
	}
	if(x->text.oom || x->msg_ref.oom)
		return -1;
	ev->kind = EVENT_MESSAGE;
	return 1;
}

/* Fills ev from a reaction e under an RSVP message: 1 when it is an
 * answer, 0 when not. */
static int mx__reaction_event(struct mx *m, const struct mx_event *e, struct event *ev, struct mx_scratch *x)
{
	struct strbuf v = STRBUF_INIT;
	int made = 0;
	int code = mx__rsvp_code(e->key);
	if(code && mx__kv_get(m, "matrix.rsvp.", e->relates_to, &v) == 1) {
		snprintf(x->data, sizeof(x->data), "rsvp:%s:%c", v.buf, code);
		ev->kind = EVENT_BUTTON;
		ev->button_data = x->data;
		ev->button_message = e->relates_to;
		made = 1;
		mx__react_add(m, e, code, x->data);
	}
	strbuf_release(&v);
	return made;
}

/* Fills ev from a redaction e of an RSVP reaction: the person's answer is
 * the one of their reactions still under that message, or none.  1 when
 * it is such an answer, 0 when not. */
static int mx__redaction_event(struct mx *m, const struct mx_event *e, struct event *ev, struct mx_scratch *x)
{
	struct strbuf v = STRBUF_INIT;
	char data[48], who[256], target[256] = "";
	int made = 0;
	if(mx__kv_get(m, "matrix.react.", e->redacts, &v) == 1 &&
	   sscanf(v.buf, "%47[^\t]\t%255[^\t]\t%255s", data, who, target) >= 2 && !strcmp(who, e->sender)) {
		size_t dl = strlen(data);
		if(dl) {
			data[dl - 1] = (char)mx__react_remove(m, e->room, target, who, e->redacts);
			text_copy(x->data, sizeof(x->data), data);
			ev->kind = EVENT_BUTTON;
			ev->button_data = x->data;
			/* The message it was under, for a reply there. */
			if(target[0] && strlen(target) < sizeof(x->ref)) {
				memcpy(x->ref, target, strlen(target) + 1);
				ev->button_message = x->ref;
			}
			made = 1;
		}
		struct strbuf k = STRBUF_INIT;
		strbuf_addf(&k, "matrix.react.%s", e->redacts);
		if(!k.oom)
			mx__kv_later(m, k.buf, NULL);
		strbuf_release(&k);
	}
	strbuf_release(&v);
	return made;
}

/* Turns e, a new event of room r and not state, into the core event ev
 * (its strings in x).  1 when ev was made, 0 when e makes none (the bot's
 * own, the backlog, a kind the core does not hear), -1 when out of memory. */
static int mx__to_event(struct mx *m, const struct mx_event *e, bool early, struct mx_room_state *r, struct event *ev,
                        struct mx_scratch *x)
{
	if(!strcmp(e->sender, m->user) && e->kind != MX_MEMBER)
		return 0; /* never the bot's own */
	if((m->first_sync || early) && e->kind != MX_MEMBER)
		return 0; /* the backlog before the first start, or the bot's arrival */
	bool guess = false;
	if(e->kind == MX_MEMBER)
		mx__name(x->name, sizeof(x->name), e->state_key);
	else
		guess = mx__display_name(m, e->sender, x->name, sizeof(x->name));
	*ev = (struct event){
		.platform = "matrix",
		.chat_id = e->room,
		.sender_id = e->sender,
		.sender_name = x->name,
		.sender_name_guess = guess,
		.message_id = e->event_id,
		.reply_to = e->reply_to,
		.time = e->ts ? (time_t)(e->ts / 1000) : clock_now(),
		.role = mx__role(m, r, e->sender),
		.is_private = r->joined == 2,
		.bot_username = m->localpart,
	};
	switch(e->kind) {
	case MX_MEMBER:
		return mx__member_event(m, e, ev, x);
	case MX_MESSAGE:
		return mx__message_event(m, e, ev, x);
	case MX_POLL_RESPONSE:
		return mx__poll_vote(m, e, ev, x) ? 1 : 0;
	case MX_REACTION:
		return mx__reaction_event(m, e, ev, x);
	case MX_REDACTION:
		return mx__redaction_event(m, e, ev, x);
	default:
		return 0;
	}
}

/* Turns the held sync's events into core events, appended to evs (their
 * strings in sc) from *ne on, after the state they carry is applied.
 * 0, or -1 on a database error or out of memory (the sync is retried). */
static int mx__read_events(struct mx *m, const bool *early, struct event *evs, struct mx_scratch *sc, size_t *ne)
{
	const struct mx_sync *s = &m->held;
	/* Which events were handled before: read ahead on a thread
	 * (mx__seen_start), else asked here for the whole sync at once. */
	bool *seen = m->seen;
	const char **ids = NULL;
	int rc = -1;
	m->seen = NULL;
	if(!seen) {
		ids = mx__event_ids(s, false);
		seen = calloc(s->n + 1, sizeof(*seen));
		if(!ids || !seen || db_seen_which(m->b->db, "matrix", ids, s->n, seen))
			goto out;
	}
	for(size_t i = 0; i < s->n; i++) {
		const struct mx_event *e = &s->ev[i];
		if(e->kind == MX_INVITE)
			continue;
		struct mx_room_state *r = mx__room(m, e->room);
		/* Who is in the room, from every member event in order, a replayed
		 * one too (the list is rebuilt on arrival from events the bot may
		 * have seen on an earlier stay). */
		if(e->kind == MX_MEMBER)
			mx__member(r, e);
		if(seen[i])
			continue; /* a replay: done before */
		if(mx__apply_state(m, r, e))
			continue;
		int made = mx__to_event(m, e, early[i], r, &evs[*ne], &sc[*ne]);
		if(made < 0)
			goto out;
		*ne += (size_t)made;
	}
	rc = 0;
out:
	free(seen);
	free(ids);
	return rc;
}

/* Appends to evs a /start from the inviter of each room just joined, so
 * that it is greeted with /start's text (the bot itself must not become a
 * member of its own lists); an encrypted room hears instead that the bot
 * cannot read it. */
static void mx__greet_joined(struct mx *m, struct event *evs, struct mx_scratch *sc, size_t *ne)
{
	const struct mx_sync *s = &m->held;
	for(size_t j = 0; j < m->njoined; j++) {
		struct mx_scratch *x = &sc[*ne];
		const char *inviter = NULL;
		for(size_t i = 0; i < s->n && !inviter; i++)
			if(s->ev[i].kind == MX_INVITE && !strcmp(s->ev[i].room, m->joined[j]))
				inviter = s->ev[i].sender;
		if(!inviter)
			continue;
		struct mx_room_state *r = mx__room(m, m->joined[j]);
		if(r->encrypted) {
			mx__warn_encrypted(m, r);
			continue;
		}
		strbuf_adds(&x->text, "!start");
		bool guess = mx__display_name(m, inviter, x->name, sizeof(x->name));
		evs[*ne] = (struct event){ .kind = EVENT_MESSAGE,
			                   .platform = "matrix",
			                   .chat_id = m->joined[j],
			                   .sender_id = inviter,
			                   .sender_name = x->name,
			                   .sender_name_guess = guess,
			                   .text = x->text.buf,
			                   .time = clock_now(),
			                   .role = ROLE_MEMBER,
			                   .bot_username = m->localpart };
		(*ne)++;
	}
}

/* Takes the joined member counts of the sync's rooms whose member list is
 * not known. */
static void mx__take_counts(struct mx *m, const struct mx_sync *s)
{
	for(size_t i = 0; i < s->nrooms; i++) {
		struct mx_room *room = &s->rooms[i];
		if(room->invited || room->joined_members < 0)
			continue;
		struct mx_room_state *r = mx__room(m, room->id);
		if(!r->members && r->joined != room->joined_members)
			r->joined = room->joined_members, r->dirty = true;
	}
}

/* Moves m->since on to the sync's next_batch when the database has it
 * (0): surely when its batch was handled whole (rc 0), which committed
 * it; otherwise as the database says.  A sync whose transaction
 * failed (a locked or full disk) is fetched again after a growing wait
 * (-1). */
static int mx__take_since(struct mx *m, const struct mx_sync *s, int rc)
{
	struct strbuf since = STRBUF_INIT;
	if(!rc || (db_kv_get(m->b->db, "matrix.since", &since) == 1 && !strcmp(since.buf, s->next_batch))) {
		char *next = strdup(s->next_batch);
		strbuf_release(&since);
		if(next) {
			free(m->since);
			m->since = next;
			return 0;
		}
	}
	log_warn("a sync was not stored: it will be fetched again");
	m->sync_backoff_ms = m->sync_backoff_ms ? m->sync_backoff_ms * 2 : 1000;
	if(m->sync_backoff_ms > 60000)
		m->sync_backoff_ms = 60000;
	m->retry_sync_ms = m->sync_backoff_ms;
	strbuf_release(&since);
	return -1;
}

/* After the batch: a room left alone is left; a gap means a recount; a
 * room whose members are not known asks for them. */
static void mx__after_batch(struct mx *m, const struct mx_sync *s)
{
	for(size_t i = 0; i < s->nrooms; i++) {
		struct mx_room *room = &s->rooms[i];
		if(room->invited)
			continue;
		struct mx_room_state *r = mx__room(m, room->id);
		if(!r->members && !r->asking && !r->unreadable)
			mx__ask_members(m, r);
		if(mx__alone(m, r))
			mx__leave(m, room->id);
		else if(room->limited && !m->first_sync)
			mx__recount(m, room->id);
	}
	m->first_sync = false;
}

static void mx__held_done(struct mx *m);

/* The core is done with a sync's batch (rc as bot_handle_batch returns
 * it): the sync's next_batch is taken when the database has it, and the
 * next sync starts. */
static void mx__batch_done(void *user, int rc)
{
	struct mx_batch *bt = user;
	struct mx *m = bt->m;
	if(rc)
		log_warn("a sync of %zu event(s) was not handled whole", bt->ne);
	if(!mx__take_since(m, bt->s, rc))
		mx__after_batch(m, bt->s);
	mx__batch_free(bt);
	m->in_batch = false;
	mx__held_done(m);
}

/* Turns the held sync into core events and gives them to the core as one
 * batch; mx__batch_done follows.  0, or -1 when nothing was given (out of
 * memory, or the reads failed: the sync is fetched again). */
static int mx__process(struct mx *m)
{
	struct mx_sync *s = &m->held;
	size_t cap = s->n + m->njoined + 1, ne = 0;
	struct mx_batch *bt = calloc(1, sizeof(*bt));
	bool *early = calloc(s->n + 1, 1);
	bool reading = false;
	if(bt) {
		*bt = (struct mx_batch){ .m = m, .s = s, .next_batch = s->next_batch, .cap = cap };
		bt->evs = calloc(cap, sizeof(*bt->evs));
		bt->sc = calloc(cap, sizeof(*bt->sc));
	}
	if(!bt || !bt->evs || !bt->sc || !early) {
		log_error("out of memory for a sync of %zu events: retrying", s->n);
		goto fail;
	}
	mx__mark_early(m, s, early);
	mx__reset_arrived(m, s);
	/* The reads below (an event seen before? a poll, a reaction) share
	 * one transaction (db_begin_read), but where each read is a round
	 * trip: there the events seen were read ahead on a thread, and what
	 * is left (a room's state or a reaction's target never read before)
	 * is rare enough to go alone. */
	reading = !db_round_trips(m->b->db) && !db_begin_read(m->b->db);
	if(mx__read_events(m, early, bt->evs, bt->sc, &ne))
		goto fail;
	mx__greet_joined(m, bt->evs, bt->sc, &ne);
	mx__take_counts(m, s);
	if(reading) {
		reading = false;
		if(db_end_read(m->b->db))
			goto fail;
	}
	m->batches++;
	if(mx__batch_copy(m, bt))
		goto fail;
	free(early);
	bt->ne = ne;
	m->in_batch = true;
	if(bot_submit_batch(m->b, bt->evs, ne, mx__batch_state, mx__batch_done, bt))
		mx__batch_done(bt, bot_handle_batch(m->b, bt->evs, ne, mx__batch_state, bt));
	return 0;
fail:
	if(reading)
		db_end_read(m->b->db);
	free(early);
	mx__batch_free(bt);
	mx__kv_clear(m);
	return -1;
}

/* The timeline's event types the bot reads, as a new JSON array: the sync
 * filter's, and the gap's (/messages). */
static json_t *mx__types(void)
{
	static const char *const types[] = {
		"m.room.message",      "m.room.member",
		"m.room.encrypted",    "m.room.encryption",
		"m.room.power_levels", "m.reaction",
		"m.room.redaction",    "org.matrix.msc3381.poll.response",
		"m.poll.response",     "org.matrix.msc3381.poll.end",
		"m.poll.end",          "m.room.name",
	};
	json_t *a = json_array();
	for(size_t i = 0; a && i < sizeof(types) / sizeof(*types); i++)
		json_array_append_new(a, json_string(types[i]));
	return a;
}

/* ---- rooms: join, leave, recount ---- */

struct mx_room_req {
	struct mx *m;
	char room[256];
	char start[256];       /* recount: the poll's start event */
	struct mx_event *resp; /* recount: the responses so far (owned) */
	size_t nresp;
};

static void mx__left(void *user, const struct http_result *res)
{
	struct mx_room_req *q = user;
	if(res->status == 200)
		log_info("left %s: the bot was its last member", q->room);
	free(q);
}

static void mx__leave(struct mx *m, const char *room)
{
	struct mx_room_req *q = calloc(1, sizeof(*q));
	struct strbuf path = STRBUF_INIT;
	if(!q)
		return;
	q->m = m;
	text_copy(q->room, sizeof(q->room), room);
	strbuf_adds(&path, "v3/rooms/");
	mx_urlencode(&path, room);
	strbuf_adds(&path, "/leave");
	if(path.oom || mx__call(m, "POST", path.buf, "{}", 30000, mx__left, q) < 0)
		free(q);
	strbuf_release(&path);
}

/* ---- gaps: a limited timeline filled back from /messages ----
 *
 * When more happened in a room than the sync's timeline limit (after a
 * restart, typically), the sync's timeline is "limited": the events before
 * it are reachable only through /messages, read backwards from the
 * timeline's prev_batch.  The held sync waits while they are read, newest
 * first, page by page, up to the last event already handled (or the bot's
 * own arrival), at most MX_FILL_PAGES pages and a day back: older commands
 * are skipped with a log line, since an answer that late would only
 * confuse.  The events then go, oldest first, before the room's timeline,
 * so that each command of the gap is handled once and in order. */

static void mx__fill_page(struct mx *m, struct mx_fill *f, const char *from);
static void mx__run_held(struct mx *m);

static void mx__fill_free(struct mx_fill *f)
{
	for(size_t i = 0; i < f->n; i++) {
		f->ev[i].room = NULL;
		mx_event_release(&f->ev[i]);
	}
	free(f->ev);
	free(f);
}

/* Reads one page of a gap: keeps its events up to the first one handled
 * before, and asks for the next page while none was met. */
static void mx__fill_got(void *user, const struct http_result *res)
{
	struct mx_fill *f = user;
	struct mx *m = f->m;
	const char *room = m->held.rooms[f->room].id;
	struct mx_sync page;
	char err[128];
	bool more = false;
	memset(&page, 0, sizeof(page));
	if(m->stopping)
		return;
	if(res->status != 200 || mx_parse_messages(res->body, res->body_len, room, &page, err, sizeof(err))) {
		log_warn("cannot read the gap before the last sync in %s (%ld): commands sent there are missed", room,
		         res->status);
		goto out;
	}
	struct mx_event *nv = realloc(f->ev, (f->n + page.n + 1) * sizeof(*nv));
	if(!nv)
		goto out;
	f->ev = nv;
	int64_t oldest = clock_now_ms() - MX_FILL_MAX_AGE_MS;
	bool met = false;
	size_t i;
	for(i = 0; i < page.n && !met; i++) {
		struct mx_event *e = &page.ev[i];
		int seen = e->event_id ? db_seen_check(m->b->db, "matrix", e->event_id) : 0;
		if(seen < 0)
			goto out;
		/* Up to the last event handled, or the bot's own arrival: what
		 * was said before it was not said to it. */
		met = seen || mx__arrival(m, e);
		if(met)
			break;
		if(e->ts && e->ts < oldest) {
			log_info("the gap in %s reaches back more than a day: %zu event(s) older than that skipped, "
			         "and any before them",
			         room, page.n - i);
			met = true;
			break;
		}
		nv[f->n++] = *e;
		memset(e, 0, sizeof(*e));
	}
	f->pages++;
	if(!met && page.next_batch) {
		if(f->pages < MX_FILL_PAGES) {
			mx__fill_page(m, f, page.next_batch);
			more = true;
		} else {
			log_warn("the gap in %s is longer than %d events: the older ones are skipped", room,
			         MX_FILL_PAGES * MX_FILL_PAGE);
		}
	}
out:
	mx_sync_release(&page);
	if(!more) {
		log_info("read %zu event(s) of the gap in %s", f->n, room);
		m->fills_out--;
		mx__run_held(m);
	}
}

static void mx__fill_page(struct mx *m, struct mx_fill *f, const char *from)
{
	struct strbuf path = STRBUF_INIT;
	json_t *filter = json_pack("{s:o}", "types", mx__types());
	char *text = filter ? json_text(filter) : NULL;
	json_decref(filter);
	strbuf_adds(&path, "v3/rooms/");
	mx_urlencode(&path, m->held.rooms[f->room].id);
	strbuf_addf(&path, "/messages?dir=b&limit=%d&from=", MX_FILL_PAGE);
	mx_urlencode(&path, from);
	strbuf_adds(&path, "&filter=");
	mx_urlencode(&path, text ? text : "{}");
	free(text);
	if(path.oom || mx__call(m, "GET", path.buf, NULL, 60000, mx__fill_got, f) < 0) {
		struct http_result fail = { .status = 0, .body = "", .error = "cannot start" };
		strbuf_release(&path);
		mx__fill_got(f, &fail);
		return;
	}
	strbuf_release(&path);
}

/* Starts reading the gap before the held sync's timeline in each room
 * where it is limited, but not where the bot has just arrived (what came
 * before is not for it) nor at the very first start (the backlog is
 * skipped). */
static void mx__fill_start(struct mx *m)
{
	struct mx_sync *s = &m->held;
	if(m->first_sync)
		return;
	/* One more while they start: a read that fails at once must not run
	 * the held sync before the others are out. */
	m->fills_out++;
	for(size_t i = 0; i < s->nrooms; i++) {
		struct mx_room *room = &s->rooms[i];
		if(room->invited || !room->limited || !room->prev_batch || mx__arrived(m, room))
			continue;
		struct mx_fill *f = calloc(1, sizeof(*f));
		if(!f) {
			log_warn("out of memory: the gap in %s is not read", room->id);
			continue;
		}
		f->m = m;
		f->room = i;
		f->next = m->fills;
		m->fills = f;
		m->fills_out++;
		mx__fill_page(m, f, room->prev_batch);
	}
	m->fills_out--;
}

/* Puts the gaps' events into the held sync, oldest first, before their
 * room's timeline (after its state block). */
static void mx__fill_merge(struct mx *m)
{
	struct mx_sync *s = &m->held;
	while(m->fills) {
		struct mx_fill *f = m->fills;
		m->fills = f->next;
		const char *room = s->rooms[f->room].id;
		size_t at = s->n, last = s->n;
		for(size_t i = 0; i < s->n; i++) {
			if(s->ev[i].room != room)
				continue;
			last = i + 1;
			if(!s->ev[i].is_state) {
				at = i;
				break;
			}
		}
		if(at == s->n)
			at = last;
		struct mx_event *nv = f->n ? realloc(s->ev, (s->n + f->n) * sizeof(*nv)) : NULL;
		if(f->n && !nv) {
			log_warn("out of memory: the gap in %s is dropped", room);
		} else if(f->n) {
			s->ev = nv;
			memmove(nv + at + f->n, nv + at, (s->n - at) * sizeof(*nv));
			for(size_t k = 0; k < f->n; k++) {
				nv[at + k] = f->ev[f->n - 1 - k];
				nv[at + k].room = room;
			}
			s->n += f->n;
			f->n = 0;
		}
		mx__fill_free(f);
	}
}

/* A room whose member list the bot does not know (kept by an older
 * version, which read the room summary) asks the homeserver for it once. */
static void mx__members_got(void *user, const struct http_result *res)
{
	struct mx_room_req *q = user;
	struct mx *m = q->m;
	json_error_t jerr;
	json_t *o = res->status == 200 ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
	json_t *joined = json_object_get(o, "joined");
	if(m->stopping)
		goto out;
	struct mx_room_state *r = mx__room(m, q->room);
	r->asking = false;
	if(!json_is_object(joined) || r->members) {
		if(!r->members) {
			log_warn("cannot read the members of %s (%ld)", q->room, res->status);
			r->unreadable = true;
		}
		goto out;
	}
	r->members = json_object();
	const char *uid;
	json_t *v;
	json_object_foreach(joined, uid, v) json_object_set_new(r->members, uid, json_string("join"));
	mx__count(r, NULL);
	db_transact(m->b->db, mx__room_save_one, r);
	if(mx__alone(m, r))
		mx__leave(m, q->room);
out:
	json_decref(o);
	free(q);
}

static void mx__ask_members(struct mx *m, struct mx_room_state *r)
{
	struct mx_room_req *q = calloc(1, sizeof(*q));
	struct strbuf path = STRBUF_INIT;
	if(!q)
		return;
	q->m = m;
	text_copy(q->room, sizeof(q->room), r->id);
	strbuf_adds(&path, "v3/rooms/");
	mx_urlencode(&path, r->id);
	strbuf_adds(&path, "/joined_members");
	if(path.oom || mx__call(m, "GET", path.buf, NULL, 30000, mx__members_got, q) < 0)
		free(q);
	else
		r->asking = true;
	strbuf_release(&path);
}

/* The read ahead of which events of the held sync were handled before
 * (mx__seen_start): ids point into m->held, which does not change while it
 * runs. */
struct mx_seen_read {
	struct mx *m;
	const char **ids;
	bool *seen;
	size_t n;
	int rc;
	/* The rooms of the sync not in m->rooms, their rows to read. */
	struct mx_room_ahead *rooms;
	size_t nrooms;
};

/* On a thread of the loop's pool: touches nothing but r and the database. */
static void mx__seen_run(struct db *db, void *user)
{
	struct mx_seen_read *r = user;
	r->rc = db_seen_which(db, "matrix", r->ids, r->n, r->seen);
	for(size_t i = 0; !r->rc && i < r->nrooms; i++) {
		struct strbuf key = STRBUF_INIT;
		strbuf_addf(&key, "matrix.room.%s", r->rooms[i].id);
		r->rooms[i].found = key.oom ? -1 : db_kv_get(db, key.buf, &r->rooms[i].text);
		strbuf_release(&key);
	}
}

/* The rooms of s that m->rooms does not hold, once each, for a read
 * ahead: r->rooms.  Without memory, fewer (those are read when seen). */
static void mx__seen_rooms(struct mx *m, const struct mx_sync *s, struct mx_seen_read *r)
{
	if(!(r->rooms = calloc(s->nrooms + 1, sizeof(*r->rooms))))
		return;
	for(size_t i = 0; i < s->nrooms; i++) {
		const char *id = s->rooms[i].id;
		bool again = mx__room_find(m, id) != NULL;
		for(size_t k = 0; k < r->nrooms && !again; k++)
			again = !strcmp(r->rooms[k].id, id);
		if(again || !(r->rooms[r->nrooms].id = strdup(id)))
			continue;
		r->rooms[r->nrooms].found = -1;
		strbuf_init(&r->rooms[r->nrooms].text);
		r->nrooms++;
	}
}

/* Back on the loop: the held sync goes on with what was read, or, when the
 * read failed, reads again itself (and retries the sync if that fails). */
static void mx__seen_done(void *user)
{
	struct mx_seen_read *r = user;
	struct mx *m = r->m;
	m->seen_reading = false;
	if(r->rc)
		m->seen_failed = true;
	else
		m->seen = r->seen, r->seen = NULL;
	mx__room_ahead_free(m);
	m->room_ahead = r->rooms;
	m->nroom_ahead = r->nrooms;
	free(r->seen);
	free(r->ids);
	free(r);
	if(!m->stopping)
		mx__run_held(m);
}

/* Where each read is a round trip (PostgreSQL), starts reading on a
 * thread which events of the held sync were handled before, so that the
 * loop does not wait for the server: 0 when started (mx__seen_done goes
 * on), -1 when the loop is to read them itself. */
static int mx__seen_start(struct mx *m)
{
	if(!db_round_trips(m->b->db) || m->seen || m->seen_failed)
		return -1;
	struct mx_seen_read *r = calloc(1, sizeof(*r));
	if(!r)
		return -1;
	*r = (struct mx_seen_read){ .m = m, .n = m->held.n };
	r->ids = mx__event_ids(&m->held, false);
	r->seen = calloc(m->held.n + 1, sizeof(*r->seen));
	mx__seen_rooms(m, &m->held, r);
	if(r->ids && r->seen && !db_run_start(m->b->db, m->b->loop, mx__seen_run, mx__seen_done, r)) {
		m->seen_reading = true;
		return 0;
	}
	for(size_t i = 0; i < r->nrooms; i++) {
		free(r->rooms[i].id);
		strbuf_release(&r->rooms[i].text);
	}
	free(r->rooms);
	free(r->ids);
	free(r->seen);
	free(r);
	return -1;
}

/* Turns the held sync into a batch, once nothing it waits for is out: its
 * joins, its gaps' fills, the previous batch, the read ahead of its events
 * seen, and a thread that holds the database (reading it now would hold
 * the loop until that thread is done: mx__resume comes back when it is
 * free). */
static void mx__run_held(struct mx *m)
{
	if(m->joins || m->fills_out || m->stopping || !m->holding || m->in_batch || m->seen_reading ||
	   db_busy(m->b->db))
		return;
	mx__fill_merge(m);
	if(!mx__seen_start(m))
		return;
	if(mx__process(m))
		mx__held_done(m);
}

/* The held sync is done with (its batch ended, or it could not be
 * given): the next sync starts, unless replies lag behind. */
static void mx__held_done(struct mx *m)
{
	mx_sync_release(&m->held);
	free(m->seen);
	m->seen = NULL;
	m->seen_failed = false;
	mx__room_ahead_free(m);
	m->holding = false;
	free(m->joined);
	m->joined = NULL;
	m->njoined = 0;
	if(m->queue.n > MX_QUEUE_HIGH) {
		/* Replies lag behind: memory stays bounded, and the server keeps
		 * the events until the queue is down. */
		m->throttled = true;
		return;
	}
	if(m->retry_sync_ms > 0) {
		mx__retry_sync(m, m->retry_sync_ms);
		m->retry_sync_ms = 0;
		return;
	}
	mx__sync(m);
}

static void mx__join_done(void *user, const struct http_result *res)
{
	struct mx_room_req *q = user;
	struct mx *m = q->m;
	m->joins--;
	if(!m->stopping) {
		if(res->status == 200) {
			log_info("joined %s", q->room);
			char(*nv)[256] = realloc(m->joined, (m->njoined + 1) * sizeof(*nv));
			if(nv) {
				m->joined = nv;
				text_copy(nv[m->njoined++], sizeof(nv[0]), q->room);
			}
		} else {
			log_warn("could not join %s (%ld): invite ignored", q->room, res->status);
		}
		mx__run_held(m);
	}
	free(q);
}

static void mx__join(struct mx *m, const char *room, bool accept)
{
	struct mx_room_req *q = calloc(1, sizeof(*q));
	struct strbuf path = STRBUF_INIT;
	if(!q)
		return;
	q->m = m;
	text_copy(q->room, sizeof(q->room), room);
	strbuf_adds(&path, "v3/rooms/");
	mx_urlencode(&path, room);
	strbuf_adds(&path, accept ? "/join" : "/leave");
	long id = path.oom ? -1 : mx__call(m, "POST", path.buf, "{}", 30000, accept ? mx__join_done : mx__left, q);
	strbuf_release(&path);
	if(id < 0)
		free(q);
	else if(accept)
		m->joins++;
}

static void mx__recount_page(struct mx *m, struct mx_room_req *q, const char *from);

/* The responses are in: each sender's latest counting response becomes
 * their yes-list again. */
static void mx__recount_done(struct mx *m, struct mx_room_req *q)
{
	struct event *evs = calloc(q->nresp + 1, sizeof(*evs));
	struct mx_scratch *sc = calloc(q->nresp + 1, sizeof(*sc));
	size_t ne = 0;
	if(!evs || !sc)
		goto out;
	for(size_t i = 0; i < q->nresp; i++) {
		const struct mx_event *e = &q->resp[i];
		if(e->kind != MX_POLL_RESPONSE || !strcmp(e->sender, m->user))
			continue;
		/* Only the sender's latest response counts. */
		bool later = false;
		for(size_t j = 0; j < q->nresp; j++)
			if(j != i && q->resp[j].kind == MX_POLL_RESPONSE && !strcmp(q->resp[j].sender, e->sender) &&
			   (q->resp[j].ts > e->ts || (q->resp[j].ts == e->ts && j > i)))
				later = true;
		if(later)
			continue;
		struct event *ev = &evs[ne];
		bool guess = mx__display_name(m, e->sender, sc[ne].name, sizeof(sc[ne].name));
		*ev = (struct event){ .platform = "matrix",
			              .chat_id = q->room,
			              .sender_id = e->sender,
			              .sender_name = sc[ne].name,
			              .sender_name_guess = guess,
			              .message_id = e->event_id,
			              .time = (time_t)(e->ts / 1000),
			              .role = ROLE_MEMBER,
			              .bot_username = m->localpart };
		if(mx__poll_vote(m, e, ev, &sc[ne]))
			ne++;
	}
	log_info("recounted the poll %s in %s after a gap: %zu voter(s)", q->start, q->room, ne);
	if(ne && bot_handle_batch(m->b, evs, ne, NULL, NULL))
		log_warn("a recount was not handled whole");
out:
	free(evs);
	free(sc);
}

static void mx__recount_got(void *user, const struct http_result *res)
{
	struct mx_room_req *q = user;
	struct mx *m = q->m;
	struct mx_sync page;
	char err[128];
	bool more = false;
	if(m->stopping)
		goto out;
	if(res->status != 200 || mx_parse_relations(res->body, res->body_len, q->room, &page, err, sizeof(err))) {
		log_warn("cannot recount the poll %s (%ld): votes of the gap are missing", q->start, res->status);
		goto out;
	}
	/* Keep the page's events: move them into the request. */
	struct mx_event *nv = realloc(q->resp, (q->nresp + page.n + 1) * sizeof(*nv));
	if(!nv) {
		mx_sync_release(&page);
		goto out;
	}
	q->resp = nv;
	for(size_t i = 0; i < page.n; i++) {
		nv[q->nresp] = page.ev[i];
		nv[q->nresp].room = q->room;
		q->nresp++;
	}
	page.n = 0;
	char *next = page.next_batch;
	page.next_batch = NULL;
	mx_sync_release(&page);
	if(next && q->nresp < 100000) {
		mx__recount_page(m, q, next);
		free(next);
		more = true;
		goto out;
	}
	free(next);
	mx__recount_done(m, q);
out:
	if(!more) {
		for(size_t i = 0; i < q->nresp; i++) {
			q->resp[i].room = NULL;
			mx_event_release(&q->resp[i]);
		}
		free(q->resp);
		free(q);
	}
}

static void mx__recount_page(struct mx *m, struct mx_room_req *q, const char *from)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_adds(&path, "v1/rooms/");
	mx_urlencode(&path, q->room);
	strbuf_adds(&path, "/relations/");
	mx_urlencode(&path, q->start);
	strbuf_adds(&path, "/m.reference?limit=100");
	if(from) {
		strbuf_adds(&path, "&from=");
		mx_urlencode(&path, from);
	}
	if(path.oom || mx__call(m, "GET", path.buf, NULL, 60000, mx__recount_got, q) < 0) {
		struct http_result fail = { .status = 0, .body = "", .error = "cannot start" };
		strbuf_release(&path);
		mx__recount_got(q, &fail);
		return;
	}
	strbuf_release(&path);
}

/* After a gap in room's timeline: every open poll of ours there is
 * recounted from its relations. */
static void mx__recount(struct mx *m, const char *room)
{
	struct strbuf list = STRBUF_INIT;
	if(mx__kv_get(m, "matrix.polls.", room, &list) != 1) {
		strbuf_release(&list);
		return;
	}
	for(char *line = list.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if(nl)
			*nl = 0;
		struct strbuf v = STRBUF_INIT;
		struct mx_room_req *q = NULL;
		char ref[128];
		int n;
		long long ended;
		if(mx__kv_get(m, "matrix.poll.", line, &v) == 1 &&
		   sscanf(v.buf, "%127[^\t]\t%d\t%lld", ref, &n, &ended) == 3 && !ended &&
		   (q = calloc(1, sizeof(*q)))) {
			q->m = m;
			text_copy(q->room, sizeof(q->room), room);
			text_copy(q->start, sizeof(q->start), line);
			mx__recount_page(m, q, NULL);
		}
		strbuf_release(&v);
	}
	strbuf_release(&list);
}

/* ---- sync ---- */

static void mx__on_sync_timer(uv_timer_t *h)
{
	struct mx *m = h->data;
	if(m->ready)
		mx__sync(m);
	else
		mx__login(m);
}

static void mx__retry_sync(struct mx *m, long ms)
{
	if(!m->stopping)
		uv_timer_start(&m->sync_timer, mx__on_sync_timer, (uint64_t)ms, 0);
}

static void mx__synced(void *user, const struct http_result *res)
{
	struct mx *m = user;
	m->sync_req = 0;
	if(m->stopping)
		return;
	char errcode[64], err[128];
	long wait;
	enum mx_verdict verdict = mx__verdict(res, &wait, 0, errcode, sizeof(errcode));
	m->unreachable = res->status == 0 || res->status >= 500;
	switch(verdict) {
	case MX_OK:
		if(mx_parse_sync(res->body, res->body_len, m->user, &m->held, err, sizeof(err))) {
			log_warn("a /sync answer was unreadable (%s); retrying", err);
			break;
		}
		m->sync_backoff_ms = 0;
		m->holding = true;
		/* Invites first: the batch runs once the joins are answered. */
		for(size_t i = 0; i < m->held.n; i++) {
			const struct mx_event *e = &m->held.ev[i];
			if(e->kind != MX_INVITE)
				continue;
			bool ok = mx__invite_allowed(m, e->sender);
			for(size_t k = 0; k < m->held.nrooms; k++) {
				/* Known before the join: the room's first word from the
				 * bot is that it cannot read it. */
				struct mx_room *room = &m->held.rooms[k];
				struct mx_room_state *r;
				if(room->id == e->room && room->encrypted && !(r = mx__room(m, room->id))->encrypted)
					r->encrypted = r->dirty = true;
			}
			log_info("invited to %s by %s: %s", e->room, e->sender,
			         ok ? "joining" : "declined (invite_from)");
			mx__join(m, e->room, ok);
		}
		mx__fill_start(m);
		mx__run_held(m);
		return;
	case MX_RELOGIN:
		mx__login(m);
		return;
	case MX_RETRY:
		if(res->status == 429) {
			log_warn("/sync rate limited: waiting %ld ms", wait);
			mx__retry_sync(m, wait);
			return;
		}
		break;
	case MX_FORBIDDEN:
	case MX_FAILED:
		break;
	}
	m->sync_backoff_ms = m->sync_backoff_ms ? m->sync_backoff_ms * 2 : 500;
	if(m->sync_backoff_ms > 60000)
		m->sync_backoff_ms = 60000;
	wait = m->sync_backoff_ms + rand() % (m->sync_backoff_ms / 2 + 1);
	log_warn("/sync failed (%ld %s%s); retrying in %ld ms", res->status, errcode,
	         res->status  ? ""
	         : res->error ? res->error
	                      : "",
	         wait);
	mx__retry_sync(m, wait);
}

void mx__sync(struct mx *m)
{
	if(m->stopping || m->sync_req || m->holding || !m->ready || m->throttled)
		return;
	struct strbuf path = STRBUF_INIT;
	/* The very first sync waits for nothing: it only learns where now is. */
	long timeout_ms = m->first_sync ? 0 : (long)m->mcfg->sync_timeout * 1000;
	strbuf_addf(&path, "v3/sync?timeout=%ld", timeout_ms);
	if(m->filter_id[0]) {
		strbuf_adds(&path, "&filter=");
		mx_urlencode(&path, m->filter_id);
	}
	if(m->since) {
		strbuf_adds(&path, "&since=");
		mx_urlencode(&path, m->since);
	}
	/* The HTTP timeout sits above the server's own wait. */
	long id = path.oom ? -1 : mx__call(m, "GET", path.buf, NULL, timeout_ms + 15000, mx__synced, m);
	strbuf_release(&path);
	if(id < 0)
		mx__retry_sync(m, 1000);
	else
		m->sync_req = id;
}

/* ---- session ---- */

static void mx__ready(struct mx *m)
{
	m->ready = true;
	m->logging_in = false;
	log_info("connected to %s as %s", m->hs, m->user);
	mx__sync(m);
	mx__pump(m);
}

static void mx__filter_made(void *user, const struct http_result *res)
{
	struct mx *m = user;
	if(m->stopping)
		return;
	char errcode[64];
	long wait;
	enum mx_verdict v = mx__verdict(res, &wait, 0, errcode, sizeof(errcode));
	json_error_t jerr;
	json_t *o = v == MX_OK ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
	const char *id = json_string_value(json_object_get(o, "filter_id"));
	if(id) {
		text_copy(m->filter_id, sizeof(m->filter_id), id);
		char value[160];
		snprintf(value, sizeof(value), "%s\t%s", MX_FILTER_VERSION, id);
		mx__kv_now(m, "matrix.filter", value);
	} else if(v == MX_RELOGIN) {
		json_decref(o);
		m->logging_in = false;
		mx__login(m);
		return;
	} else {
		log_warn("could not create the sync filter (%ld %s): syncing without one", res->status, errcode);
	}
	json_decref(o);
	mx__ready(m);
}

/* The filter: only the events the bot reads (see protocols.md). */
static void mx__make_filter(struct mx *m)
{
	json_t *f = json_pack("{s:{s:{s:o,s:i},s:{s:[s,s,s,s]},s:{s:[]},s:{s:[]}},s:{s:[]},s:{s:[]}}", "room",
	                      "timeline", "types", mx__types(), "limit", 100, "state", "types", "m.room.member",
	                      "m.room.power_levels", "m.room.encryption", "m.room.name", "ephemeral", "types",
	                      "account_data", "types", "presence", "types", "account_data", "types");
	char *text = f ? json_text(f) : NULL;
	json_decref(f);
	struct strbuf path = STRBUF_INIT;
	strbuf_adds(&path, "v3/user/");
	mx_urlencode(&path, m->user);
	strbuf_adds(&path, "/filter");
	if(!text || path.oom || mx__call(m, "POST", path.buf, text, 30000, mx__filter_made, m) < 0) {
		log_warn("could not ask for a sync filter: syncing without one");
		mx__ready(m);
	}
	free(text);
	strbuf_release(&path);
}

static void mx__have_token(struct mx *m)
{
	struct strbuf v = STRBUF_INIT;
	char ver[16], id[128];
	if(!m->filter_id[0] && db_kv_get(m->b->db, "matrix.filter", &v) == 1 &&
	   sscanf(v.buf, "%15[^\t]\t%127s", ver, id) == 2 && !strcmp(ver, MX_FILTER_VERSION))
		text_copy(m->filter_id, sizeof(m->filter_id), id);
	strbuf_release(&v);
	if(m->filter_id[0])
		mx__ready(m);
	else
		mx__make_filter(m);
}

/* A login as the homeserver gave it, to keep for the next start. */
struct mx_login {
	const char *token, *device;
};

/* db_transact's step that stores the login, user. */
static int mx__login_save(struct db *db, void *user)
{
	const struct mx_login *l = user;
	if(db_kv_set(db, "matrix.token", l->token) || db_kv_set(db, "matrix.device", l->device))
		return -1;
	return 0;
}

static void mx__logged_in(void *user, const struct http_result *res)
{
	struct mx *m = user;
	if(m->stopping)
		return;
	json_error_t jerr;
	json_t *o = res->status == 200 ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
	const char *token = json_string_value(json_object_get(o, "access_token"));
	const char *device = json_string_value(json_object_get(o, "device_id"));
	m->unreachable = res->status == 0 || res->status >= 500;
	if(!token || !device) {
		char errcode[64];
		long wait;
		enum mx_verdict v = mx__verdict(res, &wait, 0, errcode, sizeof(errcode));
		json_decref(o);
		m->logging_in = false;
		if(v == MX_RETRY) {
			log_warn("login failed (%ld %s); retrying in %ld ms", res->status, errcode, wait);
			mx__retry_sync(m, wait > 0 ? wait : 5000);
			return;
		}
		log_error("the homeserver refuses the login of %s (%ld %s): check [matrix] user and password", m->user,
		          res->status, errcode);
		bot_stop(m->b, 1);
		return;
	}
	log_add_secret(token);
	free(m->token);
	m->token = strdup(token);
	text_copy(m->device, sizeof(m->device), device);
	struct mx_login login = { .token = token, .device = device };
	db_transact(m->b->db, mx__login_save, &login);
	json_decref(o);
	log_info("logged in as %s (device %s)", m->user, m->device);
	mx__have_token(m);
}

/* Logs in with the password, keeping the device id (transaction ids are
 * scoped to it); without a password a refused token stops the bot. */
void mx__login(struct mx *m)
{
	if(m->logging_in || m->stopping)
		return;
	m->ready = false;
	const char *password = m->mcfg->password;
	if(!password || !*password) {
		log_error("the homeserver refuses the access token of %s: set a new [matrix] access_token", m->user);
		bot_stop(m->b, 1);
		return;
	}
	m->logging_in = true;
	json_t *body =
		json_pack("{s:s,s:{s:s,s:s},s:s,s:s}", "type", "m.login.password", "identifier", "type", "m.id.user",
	                  "user", m->user, "password", password, "initial_device_display_name", "Ensemble");
	if(body && m->device[0])
		json_object_set_new(body, "device_id", json_string(m->device));
	char *text = body ? json_text(body) : NULL;
	json_decref(body);
	free(m->token);
	m->token = NULL;
	if(!text || mx__call(m, "POST", "v3/login", text, 30000, mx__logged_in, m) < 0) {
		m->logging_in = false;
		mx__retry_sync(m, 5000);
	}
	free(text);
}

/* ---- lifecycle ---- */

static int mx__start(struct adapter *a)
{
	struct bot *b = a->bot;
	struct mx *m = calloc(1, sizeof(*m));
	if(!m)
		return -1;
	a->priv = m;
	m->a = a;
	m->b = b;
	m->queue.db = b->db;
	m->queue.loop = b->loop;
	m->cfg = b->cfg;
	m->mcfg = matrix_config(b->cfg);
	a->quiet_ms = (int64_t)m->mcfg->sync_timeout * 1000 + ADAPTER_QUIET_MARGIN_MS;
	const char *hs = m->mcfg->homeserver;
	size_t len = strlen(hs);
	while(len && hs[len - 1] == '/')
		len--;
	m->hs = strndup(hs, len);
	text_copy(m->user, sizeof(m->user), m->mcfg->user);
	mx__name(m->localpart, sizeof(m->localpart), m->user);
	if(!m->hs)
		return -1;
	log_add_secret(m->mcfg->password);
	log_add_secret(m->mcfg->access_token);
	struct strbuf v = STRBUF_INIT;
	if(db_kv_get(b->db, "matrix.device", &v) == 1)
		text_copy(m->device, sizeof(m->device), v.buf);
	strbuf_reset(&v);
	if(db_kv_get(b->db, "matrix.since", &v) == 1 && v.len)
		m->since = strbuf_detach(&v);
	m->first_sync = !m->since;
	strbuf_reset(&v);
	if(*m->mcfg->access_token) {
		m->token = strdup(m->mcfg->access_token);
	} else if(db_kv_get(b->db, "matrix.token", &v) == 1 && v.len) {
		m->token = strbuf_detach(&v);
		log_add_secret(m->token);
	}
	strbuf_release(&v);
	uv_timer_init(b->loop, &m->sync_timer);
	uv_timer_init(b->loop, &m->send_timer);
	m->sync_timer.data = m->send_timer.data = m;
	m->open_timers = 2;
	if(m->token)
		mx__have_token(m);
	else
		mx__login(m);
	return 0;
}

static bool mx__reachable(struct adapter *a)
{
	struct mx *m = a->priv;
	return !m || !m->unreachable;
}

static bool mx__idle(struct adapter *a)
{
	struct mx *m = a->priv;
	return !m->queue.head && !m->queue.out;
}

/* A batch (another platform's) or a commit on a thread has ended: the
 * sent events that waited for it are recorded. */
static void mx__resume(struct adapter *a)
{
	struct mx *m = a->priv;
	if(m && !m->stopping) {
		mx__resume_sends(m);
		mx__run_held(m);
	}
}

static void mx__timer_closed(uv_handle_t *h)
{
	struct mx *m = h->data;
	m->open_timers--;
}

static void mx__stop(struct adapter *a)
{
	struct mx *m = a->priv;
	if(!m || m->stopping)
		return;
	m->stopping = true;
	mx__settle(m);
	if(m->sync_req)
		http_client_cancel(m->a->host->client, m->sync_req);
	if(m->open_timers == 2) {
		uv_close((uv_handle_t *)&m->sync_timer, mx__timer_closed);
		uv_close((uv_handle_t *)&m->send_timer, mx__timer_closed);
	}
}

static void mx__release(struct adapter *a)
{
	struct mx *m = a->priv;
	if(!m)
		return;
	mx__queue_release(m);
	for(int i = 0; i < MX_ROOMS; i++) {
		json_decref(m->rooms[i].pl);
		json_decref(m->rooms[i].members);
	}
	while(m->fills) {
		struct mx_fill *f = m->fills;
		m->fills = f->next;
		mx__fill_free(f);
	}
	mx_sync_release(&m->held);
	mx__kv_clear(m);
	mx__memo_release(m);
	mx__room_ahead_free(m);
	free(m->seen);
	free(m->joined);
	free(m->since);
	free(m->token);
	free(m->hs);
	free(m);
	a->priv = NULL;
}

const struct adapter_ops matrix_adapter_ops = {
	.name = "matrix",
	.config = &matrix_config_section,
	.configured = mx__configured,
	.start = mx__start,
	.deliver = mx__deliver,
	.resume = mx__resume,
	.reachable = mx__reachable,
	.idle = mx__idle,
	.stop = mx__stop,
	.release = mx__release,
};
