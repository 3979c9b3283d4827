/*
 * telegram_send: the Telegram adapter's sending side.  One queue, one
 * request out at a time (Telegram has no idempotent send: a crash repeats
 * at most that one); a chat's messages keep their order and a message
 * waiting for a retry holds back only its own chat; at most one message
 * per chat per chat_interval_ms, group_per_minute in a group and
 * global_per_second overall; 429 waits retry_after, 5xx and network errors
 * back off exponentially with jitter, 403 marks the chat inactive, a 400
 * with migrate_to_chat_id moves the chat, and a 400 "can't parse entities"
 * sends the message again as plain text.  Also the rendering of the core's
 * actions: HTML text cut into valid parts under Telegram's limit (or, for
 * a message that is edited later, shortened), native polls, inline
 * keyboards, edits.
 */
#include "adapters/adapter.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "adapters/http_client.h"
#include "adapters/http_server.h"
#include "adapters/json_text.h"
#include "adapters/telegram_html.h"
#include "adapters/telegram_parse.h"
#include "bot/action.h"
#include "bot/bot.h"
#include "bot/dispatch.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/jview.h"
#include "lib/log.h"
#include "lib/text.h"
#include "storage/db.h"

#include "adapters/telegram_internal.h"

#define LOG_MODULE "telegram"

/* ---- the send queue ---- */

static void tg__send_free(struct tg_send *s)
{
	free(s->body);
	free(s->poll_ref);
	free(s->msg_ref);
	free(s->edit_ref);
	free(s);
}

/* Queues a call of method with body (taken) to chat, acknowledging the
 * outbox row stored_id (0: none) once answered; poll_ref, msg_ref and
 * edit_ref (each NULL when none) are copied, as struct tg_send says. */
static int tg__enqueue_ref(struct tg *t, const char *method, json_t *body, const char *chat, int64_t stored_id,
                           const char *poll_ref, const char *msg_ref, const char *edit_ref)
{
	struct tg_send *s = calloc(1, sizeof(*s));
	char *text = json_text(body);
	json_decref(body);
	if(!s || !text || (poll_ref && !(s->poll_ref = strdup(poll_ref))) ||
	   (msg_ref && !(s->msg_ref = strdup(msg_ref))) || (edit_ref && !(s->edit_ref = strdup(edit_ref)))) {
		free(text);
		if(s)
			tg__send_free(s);
		return -1;
	}
	text_copy(s->method, sizeof(s->method), method);
	text_copy(s->chat, sizeof(s->chat), chat ? chat : "");
	s->body = text;
	s->entry.stored_id = stored_id;
	sq_append(&t->queue, &s->entry);
	tg__pump(t);
	return 0;
}

int tg__enqueue(struct tg *t, const char *method, json_t *body, const char *chat, int64_t stored_id,
                const char *poll_ref)
{
	return tg__enqueue_ref(t, method, body, chat, stored_id, poll_ref, NULL, NULL);
}

/* A chat's clock, for Telegram's limits: a forum's topics share their
 * group's. */
static struct tg_chat_clock *tg__chat_clock(struct tg *t, const char *topic_chat)
{
	char chat[TG_CHAT_MAX];
	tg_chat_split(topic_chat, chat, sizeof(chat));
	struct tg_chat_clock *oldest = &t->chats[0];
	for(int i = 0; i < TG_CHATS; i++) {
		if(!strcmp(t->chats[i].chat, chat))
			return &t->chats[i];
		if(t->chats[i].last_ms < oldest->last_ms)
			oldest = &t->chats[i];
	}
	memset(oldest, 0, sizeof(*oldest));
	text_copy(oldest->chat, sizeof(oldest->chat), chat);
	return oldest;
}

static void tg__on_send_timer(uv_timer_t *h)
{
	tg__pump(h->data);
}

/* A sent poll: its id, for its answers; its message, for its closing. */
struct tg_poll_map {
	const struct tg_send *s;
	const char *poll_id;
	long long message_id;
};

/* Stores the poll map p in the open transaction.  0 or -1. */
static int tg__poll_store(struct db *db, const struct tg_poll_map *p)
{
	char key[160], value[160];
	snprintf(key, sizeof(key), "telegram.poll.%s", p->poll_id);
	snprintf(value, sizeof(value), "%s\t%lld\t%s", p->s->chat, p->message_id, p->s->poll_ref);
	int rc = db_kv_set(db, key, value);
	snprintf(key, sizeof(key), "telegram.ref.%s", p->s->poll_ref);
	snprintf(value, sizeof(value), "%s\t%lld", p->s->chat, p->message_id);
	return rc || db_kv_set(db, key, value) ? -1 : 0;
}

/* Stores what the sent poll s is, as its answer said.  0, or -1 when it
 * could not be (logged). */
static int tg__map_poll(struct tg *t, const struct tg_send *s)
{
	if(!s->sent_poll[0] || !s->has_sent_id)
		return 0;
	struct tg_poll_map map = { .s = s, .poll_id = s->sent_poll, .message_id = s->sent_id };
	if(!tg__poll_store(t->b->db, &map))
		return 0;
	log_error("the poll of %s in chat %s could not be stored: its votes will be ignored", s->poll_ref, s->chat);
	return -1;
}

/* A chat's move to a new id, as Telegram announced it. */
struct tg_move {
	const char *from, *to;
};

/* db_transact's step that moves the chat's rows.  0 or -1. */
static int tg__move_rows(struct db *db, void *user)
{
	const struct tg_move *mv = user;
	return db_chat_migrate(db, "telegram", mv->from, mv->to);
}

/* Moves a chat: its rows in the database, and every queued message. */
static void tg__migrate(struct tg *t, const char *from, const char *to)
{
	struct tg_move move = { .from = from, .to = to };
	db_transact(t->b->db, tg__move_rows, &move);
	char old[TG_CHAT_MAX];
	text_copy(old, sizeof(old), from);
	for(struct tg_send *q = (struct tg_send *)t->queue.head; q; q = (struct tg_send *)q->entry.next) {
		if(strcmp(q->chat, old))
			continue;
		json_error_t jerr;
		json_t *body = json_loads(q->body, 0, &jerr);
		char *text = NULL;
		if(body && !json_object_set_new(body, "chat_id", json_string(to)))
			text = json_text(body);
		json_decref(body);
		if(text) {
			free(q->body);
			q->body = text;
			text_copy(q->chat, sizeof(q->chat), to);
		}
	}
}

/* True when Telegram refused a message's HTML: 400 "Bad Request: can't
 * parse entities: ..." (a tag or an entity it cannot read, at a byte
 * offset it names). */
static bool tg__unparsable(json_t *answer)
{
	const char *d = json_string_value(json_object_get(answer, "description"));
	return d && strstr(d, "can't parse entities");
}

/* Turns a queued sendMessage or editMessageText from HTML into plain text
 * (tags dropped, entities decoded), to be sent again.  0, or -1 when it
 * was not HTML (or out of memory). */
static int tg__to_plain(struct tg_send *s)
{
	json_error_t jerr;
	json_t *body = json_loads(s->body, 0, &jerr);
	const char *html = json_string_value(json_object_get(body, "text"));
	struct strbuf plain = STRBUF_INIT;
	char *text = NULL;
	int rc = -1;
	if(!html || !json_object_get(body, "parse_mode") || tg_html_plain(&plain, html))
		goto out;
	if(json_object_set_new(body, "text", json_string(plain.buf)) || json_object_del(body, "parse_mode") ||
	   !(text = json_text(body)))
		goto out;
	free(s->body);
	s->body = text;
	rc = 0;
out:
	strbuf_release(&plain);
	json_decref(body);
	return rc;
}

/* From the message m (the result of a send), what s needs stored: its
 * message_id, and its poll's id.  m is a jansson value, or with view set
 * a jview value (lib/jview.h) of text jview_check accepted. */
static void tg__sent_ids(struct tg_send *s, const void *m, bool view)
{
	const char *v;
	s->has_sent_id = false;
	s->sent_poll[0] = '\0';
	if(view) {
		const char *keys[] = { "message_id", "poll" }, *got[2];
		jview_pick(m, keys, 2, got);
		s->has_sent_id = jview_integer(got[0], &s->sent_id);
		struct strbuf id = STRBUF_INIT;
		if(got[1] && !jview_string(jview_get(got[1], "id"), &id) && id.len < sizeof(s->sent_poll))
			memcpy(s->sent_poll, id.buf, id.len + 1);
		strbuf_release(&id);
		return;
	}
	json_t *mid = json_object_get(m, "message_id");
	if(json_is_integer(mid)) {
		s->has_sent_id = true;
		s->sent_id = (long long)json_integer_value(mid);
	}
	v = json_string_value(json_object_get(json_object_get(m, "poll"), "id"));
	if(v && strlen(v) < sizeof(s->sent_poll))
		strcpy(s->sent_poll, v);
}

/* Reads Telegram's answer to s into *o (NULL when not parsed), and for a
 * refusal its error code and retry_after (-1 when absent).  True when the
 * send succeeded, then with what is to be stored of it in s (sent_id,
 * sent_poll).  The Bot API's answer to a send is {"ok":true,"result":
 * <the message>}.  When nothing in the message is needed, that beginning
 * is enough and the message is not parsed; when its ids are, they are
 * read where they lie (jview: a send's answer repeats the whole message,
 * and a tree of it was some 3.5 % of the bot's instructions).  Any other answer, and
 * one jview_check refuses, is parsed. */
static bool tg__answer(struct tg_send *s, const struct http_result *res, json_t **o, int *code, long *retry)
{
	json_error_t jerr;
	bool ok_start = res->status == 200 && res->body_len > 10 && !memcmp(res->body, "{\"ok\":true,", 11);
	bool plain_ok = ok_start && !s->poll_ref && !s->msg_ref;
	if(ok_start && !plain_ok && !jview_check(res->body, res->body_len)) {
		const char *result = jview_get(res->body, "result");
		if(jview_is_true(jview_get(res->body, "ok")) && jview_is_object(result)) {
			tg__sent_ids(s, result, true);
			*o = NULL;
			*code = -1;
			*retry = -1;
			return true;
		}
	}
	*o = res->status && !plain_ok ? tg_json_load(res->body, res->body_len, &jerr) : NULL;
	*code = -1;
	*retry = -1;
	bool ok = plain_ok || json_is_true(json_object_get(*o, "ok"));
	if(!ok && *o) {
		json_t *c = json_object_get(*o, "error_code");
		json_t *ra = json_object_get(json_object_get(*o, "parameters"), "retry_after");
		*code = json_is_integer(c) ? (int)json_integer_value(c) : (int)res->status;
		*retry = json_is_integer(ra) ? (long)json_integer_value(ra) : res->retry_after;
	}
	if(ok && *o)
		tg__sent_ids(s, json_object_get(*o, "result"), false);
	return ok;
}

/* What a refusal o (NULL when unreadable) of s means, with its code and
 * retry_after: a group that became a supergroup (its data and queued
 * messages follow it, and s goes again there), HTML Telegram cannot read
 * (s goes again as plain text rather than being lost), an edit that
 * changes nothing, or one of the common cases. */
static enum sq_verdict tg__refusal(struct tg *t, struct tg_send *s, const struct http_result *res, json_t *o, int code,
                                   long retry, struct sq_answer *a)
{
	json_t *migrate = json_object_get(json_object_get(o, "parameters"), "migrate_to_chat_id");
	const char *d = json_string_value(json_object_get(o, "description"));
	if(o)
		a->code = code;
	text_copy(a->detail, sizeof(a->detail), d ? d : "");
	if(code == 400 && json_is_integer(migrate)) {
		char to[24];
		text_int(to, sizeof(to), (long long)json_integer_value(migrate));
		log_info("chat %s moved to %s", s->chat, to);
		tg__migrate(t, s->chat, to);
		return SQ_AGAIN;
	}
	if(code == 400 && tg__unparsable(o) && !tg__to_plain(s)) {
		const char *at = d ? strstr(d, "offset ") : NULL;
		log_warn(
			"%s to chat %s: Telegram cannot parse its HTML at byte offset %ld (%s): sent again as plain text",
			s->method, s->chat, at ? strtol(at + 7, NULL, 10) : -1L, d);
		return SQ_AGAIN;
	}
	if(code == 400 && !strcmp(s->method, "editMessageText")) {
		a->quiet = true; /* "message is not modified", or gone */
		return SQ_REFUSED;
	}
	if(code == 429 || res->status == 429) {
		a->wait_ms = (retry > 0 ? retry : 1) * 1000LL;
		return SQ_RETRY_AT;
	}
	if(code == 403)
		return SQ_GONE;
	if(res->status == 0 || res->status >= 500 || !o)
		return SQ_BACK_OFF;
	return SQ_REFUSED;
}

/* The queue's view of a message (send_queue.h): its lane is its chat, none
 * for a call to no chat. */
static const char *tg__lane(const struct sq_entry *e)
{
	const struct tg_send *s = (const struct tg_send *)e;
	return s->chat[0] ? s->chat : NULL;
}

/* True when s's answer must be stored (a poll's id, a message kept for
 * edits) and a batch's transaction is open: storing it would end the batch
 * early, so s does not leave until the batch ends (tg__resume). */
static bool tg__held(void *owner, const struct sq_entry *e)
{
	const struct tg *t = owner;
	const struct tg_send *s = (const struct tg_send *)e;
	return (s->poll_ref || s->msg_ref) && bot_batch_open(t->b);
}

/* True when a chat's sends are limited (the chat clocks are kept). */
static bool tg__chat_limits(const struct tg *t)
{
	return t->cfg->chat_interval_ms > 0 || t->cfg->group_per_minute > 0;
}

/* When a message may leave: its own retry time, its chat's interval and,
 * in a group, the per-minute limit. */
static int64_t tg__ready_at(void *owner, struct sq_entry *e)
{
	struct tg *t = owner;
	struct tg_send *s = (struct tg_send *)e;
	const struct telegram_config *cfg = t->cfg;
	int64_t at = s->entry.not_before_ms;
	if(!s->chat[0] || !tg__chat_limits(t))
		return at;
	struct tg_chat_clock *cc = tg__chat_clock(t, s->chat);
	if(cc->last_ms + cfg->chat_interval_ms > at)
		at = cc->last_ms + cfg->chat_interval_ms;
	unsigned per_min = (unsigned)cfg->group_per_minute;
	if(s->chat[0] == '-' && per_min && per_min <= TG_GROUP_WINDOW && cc->nrecent >= per_min) {
		/* The per_min-th send back must be a minute old. */
		int64_t old = cc->recent[(cc->nrecent - per_min) % TG_GROUP_WINDOW];
		if(old + 60000 > at)
			at = old + 60000;
	}
	return at;
}

static bool tg__open(void *owner)
{
	const struct tg *t = owner;
	return !t->stopping && t->ready;
}

/* The global rate: the spacing is rounded up, so that no one-second window
 * ever holds more than global_per_second messages; 0 turns the limit off. */
static int64_t tg__floor(void *owner)
{
	const struct tg *t = owner;
	int per_s = t->cfg->global_per_second;
	return per_s ? t->last_send_ms + (1000 + per_s - 1) / per_s : 0;
}

static void tg__sent(void *user, const struct http_result *res);

/* Fills in the edit s the chat and id of the message it edits, now that
 * the send of that message has been answered (it went first in its chat,
 * which it kept until its answer was stored).  0; 1 when that send came to
 * nothing (refused or given up): nothing to edit; -1 out of memory. */
static int tg__edit_resolve(struct tg *t, struct tg_send *s)
{
	char chat[TG_CHAT_MAX], base[TG_CHAT_MAX];
	long long mid;
	if(!tg__sent_find(t, 'm', s->edit_ref, chat, NULL, &mid)) {
		log_debug("%s to chat %s: the message it edits was never sent, nothing to edit", s->method, s->chat);
		return 1;
	}
	json_error_t jerr;
	json_t *body = json_loads(s->body, 0, &jerr);
	char *text = NULL;
	tg_chat_split(chat, base, sizeof(base));
	if(body && !json_object_set_new(body, "chat_id", json_string(base)) &&
	   !json_object_set_new(body, "message_id", json_integer(mid)))
		text = json_text(body);
	json_decref(body);
	if(!text)
		return -1;
	free(s->body);
	s->body = text;
	free(s->edit_ref);
	s->edit_ref = NULL;
	return 0;
}

/* Counts a message leaving at now in the global rate and its chat's
 * clock, and posts it; its answer comes to tg__sent. */
static int tg__start(void *owner, struct sq_entry *e, int64_t now)
{
	struct tg *t = owner;
	struct tg_send *s = (struct tg_send *)e;
	/* An edit that waited for its message: 1, nothing left to edit. */
	int unresolved = s->edit_ref ? tg__edit_resolve(t, s) : 0;
	if(unresolved)
		return unresolved;
	t->last_send_ms = now;
	if(s->chat[0] && tg__chat_limits(t)) {
		struct tg_chat_clock *cc = tg__chat_clock(t, s->chat);
		cc->last_ms = now;
		cc->recent[cc->nrecent++ % TG_GROUP_WINDOW] = now;
	}
	s->owner = t;
	return tg__call(t, s->method, s->body, 30000, tg__sent, s) < 0 ? -1 : 0;
}

static bool tg__stopping(void *owner)
{
	const struct tg *t = owner;
	return t->stopping;
}

static void tg__describe(const struct sq_entry *e, char *buf, size_t len)
{
	const struct tg_send *s = (const struct tg_send *)e;
	snprintf(buf, len, "%s to chat %s", s->method, s->chat);
}

/* Remembers what kind ('p', 'r' or 'm') and key became: chat, ref (or
 * NULL) and the message's id, over the oldest memory. */
static void tg__sent_remember(struct tg *t, char kind, const char *key, const char *chat, const char *ref,
                              long long message_id)
{
	struct tg_sent *m = &t->sent[t->nsent++ % TG_SENT];
	snprintf(m->key, sizeof(m->key), "%c%s", kind, key);
	text_copy(m->chat, sizeof(m->chat), chat);
	text_copy(m->ref, sizeof(m->ref), ref ? ref : "");
	m->message_id = message_id;
}

bool tg__sent_recall(const struct tg *t, char kind, const char *key, char *chat, char *ref, long long *message_id)
{
	unsigned n = t->nsent < TG_SENT ? t->nsent : TG_SENT;
	for(unsigned i = 0; i < n; i++) {
		const struct tg_sent *m = &t->sent[(t->nsent - 1 - i) % TG_SENT];
		if(m->key[0] != kind || strcmp(m->key + 1, key))
			continue;
		memcpy(chat, m->chat, sizeof(m->chat));
		if(ref)
			memcpy(ref, m->ref, sizeof(m->ref));
		*message_id = m->message_id;
		return true;
	}
	return false;
}

/* The database key's prefix of what kind remembers (tg__poll_store's and
 * tg__store's keys). */
static const char *tg__sent_prefix(char kind)
{
	return kind == 'p' ? "telegram.poll." : kind == 'r' ? "telegram.ref." : "telegram.msg.";
}

bool tg__sent_stored(struct tg *t, char kind, const char *key, const char *value, char *chat, char *ref,
                     long long *message_id)
{
	char r[64] = "";
	bool found = kind == 'p' ? sscanf(value, "%47[^\t]\t%lld\t%63s", chat, message_id, r) == 3
	                         : sscanf(value, "%47[^\t]\t%lld", chat, message_id) == 2;
	if(!found)
		return false;
	if(ref)
		memcpy(ref, r, sizeof(r));
	/* Only this run writes these keys from now on, learning them first
	 * (tg__sent_learn): what was found stays true. */
	tg__sent_remember(t, kind, key, chat, r, *message_id);
	return true;
}

const char *tg__sent_key(char kind, const char *key, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", tg__sent_prefix(kind), key);
	return out;
}

bool tg__sent_find(struct tg *t, char kind, const char *key, char *chat, char *ref, long long *message_id)
{
	if(tg__sent_recall(t, kind, key, chat, ref, message_id))
		return true;
	char dbkey[160];
	struct strbuf v = STRBUF_INIT;
	/* What is not found is not remembered: the send that makes it may be
	 * on its way (an edit asked before the message it edits was
	 * answered), and is read again. */
	bool found = db_kv_get(t->b->db, tg__sent_key(kind, key, dbkey, sizeof(dbkey)), &v) == 1 &&
	             tg__sent_stored(t, kind, key, v.buf, chat, ref, message_id);
	strbuf_release(&v);
	return found;
}

/* Remembers what the sent s became, from its answer's result: as tg__store
 * stores it (a poll's id and ref, a kept message's ref). */
static void tg__sent_learn(struct tg *t, const struct tg_send *s)
{
	if(!s->has_sent_id)
		return;
	long long m = s->sent_id;
	if(s->poll_ref && s->sent_poll[0]) {
		tg__sent_remember(t, 'p', s->sent_poll, s->chat, s->poll_ref, m);
		tg__sent_remember(t, 'r', s->poll_ref, s->chat, NULL, m);
	}
	if(s->msg_ref)
		tg__sent_remember(t, 'm', s->msg_ref, s->chat, NULL, m);
}

/* What Telegram's answer to a message means.  A sent poll, or a message
 * kept for edits, keeps the ids its answer gave for tg__store. */
static enum sq_verdict tg__classify(void *owner, struct sq_entry *e, const struct http_result *res, struct sq_answer *a)
{
	struct tg_send *s = (struct tg_send *)e;
	json_t *o;
	int code;
	long retry;
	enum sq_verdict v = SQ_SENT;
	if(tg__answer(s, res, &o, &code, &retry)) {
		a->store = s->poll_ref || s->msg_ref;
		if(a->store)
			tg__sent_learn(owner, s);
	} else {
		v = tg__refusal(owner, s, res, o, code, retry, a);
	}
	json_decref(o);
	return v;
}

/* Records what the sent s is, in sq_settle's transaction: the poll for
 * its votes, the message kept for edits. */
static int tg__store(void *owner, struct sq_entry *e)
{
	struct tg *t = owner;
	struct tg_send *s = (struct tg_send *)e;
	int rc = s->poll_ref ? tg__map_poll(t, s) : 0;
	if(s->msg_ref && s->has_sent_id) {
		char key[160], value[64];
		snprintf(key, sizeof(key), "telegram.msg.%s", s->msg_ref);
		snprintf(value, sizeof(value), "%s\t%lld", s->chat, s->sent_id);
		if(db_kv_set(t->b->db, key, value))
			rc = -1;
	}
	return rc;
}

static void tg__inactive(void *owner, const char *chat)
{
	struct tg *t = owner;
	db_chat_deactivate(t->b->db, "telegram", chat, t->b->cfg->lang, t->b->cfg->timezone);
}

/* Nor while a commit runs on a thread: the answers wait for the database
 * to be free again (the bot calls tg__resume then). */
static bool tg__db_free(void *owner)
{
	const struct tg *t = owner;
	return !bot_batch_open(t->b) && !db_busy(t->b->db);
}

static void tg__ack(void *owner, int64_t stored_id)
{
	struct tg *t = owner;
	bot_action_done(t->b, stored_id);
}

/* Updates are taken again once the replies have caught up. */
static void tg__left(void *owner)
{
	struct tg *t = owner;
	if(t->throttled && t->queue.n <= TG_QUEUE_LOW && !t->stopping) {
		t->throttled = false;
		if(!t->webhook)
			tg__poll(t);
	}
}

static void tg__release_send(struct sq_entry *e)
{
	tg__send_free((struct tg_send *)e);
}

/* Answers to store are settled together: on SQLite, their kv rows
 * appended to the delivery journal (db_journal_run), as a commit for each
 * answer cost some 9 % of the bot's CPU; elsewhere, in one transaction
 * that a thread commits, as a commit of its own each cost a wait before
 * the next send could leave.  Their messages are acknowledged once the
 * rows are safe. */
static const struct send_policy tg__policy = {
	.lanes = 512,
	.lane = tg__lane,
	.held = tg__held,
	.ready_at = tg__ready_at,
	.max_inflight = TG_MAX_INFLIGHT,
	.open = tg__open,
	.floor = tg__floor,
	.start = tg__start,
	.max_attempts = TG_MAX_ATTEMPTS,
	.module = LOG_MODULE,
	.idempotent = false,
	.commit_on_thread = true,
	.store_on_thread = true, /* tg__store writes the poll's and message's keys */
	.store_journaled = true, /* ... and nothing else */
	.stopping = tg__stopping,
	.describe = tg__describe,
	.classify = tg__classify,
	.store = tg__store,
	.inactive = tg__inactive,
	.db_free = tg__db_free,
	.ack = tg__ack,
	.left = tg__left,
	.release = tg__release_send,
};

static void tg__sent(void *user, const struct http_result *res)
{
	struct tg_send *s = user;
	struct tg *t = s->owner;
	sq_answered(&t->queue, &tg__policy, t, &s->entry, res);
	if(!t->stopping)
		tg__pump(t);
}

void tg__resume(struct tg *t)
{
	sq_resume(&t->queue, &tg__policy, t);
	if(!t->stopping)
		tg__pump(t);
}

void tg__queue_release(struct tg *t)
{
	sq_release(&t->queue, &tg__policy);
}

/* Sends what may leave now (sq_pump), and wakes up when more may. */
void tg__pump(struct tg *t)
{
	int64_t wait = sq_pump(&t->queue, &tg__policy, t);
	if(wait >= 0)
		uv_timer_start(&t->send_timer, tg__on_send_timer, (uint64_t)wait, 0);
}

/* ---- rendering ---- */

static json_t *tg__keyboard(const struct action *act)
{
	json_t *row = json_array();
	for(size_t i = 0; i < act->n_buttons; i++)
		json_array_append_new(row, json_pack("{s:s,s:s}", "text", act->buttons[i].label, "callback_data",
		                                     act->buttons[i].data));
	return json_pack("{s:[o]}", "inline_keyboard", row);
}

/* A request's body addressed to a chat as the core knows it: Telegram's
 * chat id, and the topic's message_thread_id in a forum.  NULL when out of
 * memory. */
static json_t *tg__to(const char *topic_chat)
{
	char chat[TG_CHAT_MAX];
	long long thread = tg_chat_split(topic_chat, chat, sizeof(chat));
	json_t *body = json_pack("{s:s}", "chat_id", chat);
	if(body && thread > 0 && json_object_set_new(body, "message_thread_id", json_integer(thread))) {
		json_decref(body);
		return NULL;
	}
	return body;
}

/* "… and N more", in the language passed as user. */
static int tg__more(struct strbuf *out, long n, void *user)
{
	char num[24];
	text_int(num, sizeof(num), n);
	return i18n_fmt(out, user, "telegram.more", num, NULL);
}

/* Appends html shortened to one message for chat, what is left out said
 * in the chat's language.  0 or -1. */
static int tg__shorten(struct tg *t, const char *chat, const char *html, struct strbuf *out)
{
	const struct config *cfg = t->b->cfg;
	struct db_chat c;
	if(tg_html_units(html) <= TG_MAX_TEXT)
		return strbuf_adds(out, html);
	const char *lang =
		db_chat_get(t->b->db, "telegram", chat, cfg->lang, cfg->timezone, &c) >= 0 ? c.lang : cfg->lang;
	return tg_shorten(out, html, TG_MAX_TEXT, tg__more, (void *)lang);
}

/* The parts of an action's text as Telegram HTML: cut under the limit, or,
 * for a message kept for later edits (it has a ref), shortened to one, so
 * that an edit replaces all of it.  Their number (the caller frees each
 * and the array), or -1. */
static long tg__parts(struct tg *t, const struct action *act, char ***parts)
{
	struct strbuf html = STRBUF_INIT, one = STRBUF_INIT;
	long n = -1;
	*parts = NULL;
	if(tg_render_html(&html, act->text ? act->text : ""))
		goto out;
	if(!act->ref || tg_html_units(html.buf) <= TG_MAX_TEXT) {
		n = tg_split(html.buf, TG_MAX_TEXT, parts);
		goto out;
	}
	if(tg__shorten(t, act->chat_id, html.buf, &one) || !(*parts = malloc(sizeof(**parts))))
		goto out;
	if(((*parts)[0] = strbuf_detach(&one)) != NULL)
		n = 1;
	else
		free(*parts);
out:
	strbuf_release(&html);
	strbuf_release(&one);
	return n;
}

/* sendMessage for text, in valid parts under the limit; the last part
 * carries the buttons and the acknowledgement. */
static int tg__send_text(struct tg *t, const struct action *act, int64_t stored_id)
{
	char **parts = NULL;
	long n = tg__parts(t, act, &parts);
	int rc = n > 0 ? 0 : -1;
	for(long i = 0; i < n; i++) {
		json_t *body = tg__to(act->chat_id);
		if(!body || json_object_set_new(body, "text", json_string(parts[i])) ||
		   json_object_set_new(body, "parse_mode", json_string("HTML"))) {
			json_decref(body);
			rc = -1;
			free(parts[i]);
			continue;
		}
		if(act->kind == ACTION_REPLY && act->reply_to && i == 0)
			json_object_set_new(body, "reply_parameters",
			                    json_pack("{s:I,s:b}", "message_id", (json_int_t)atoll(act->reply_to),
			                              "allow_sending_without_reply", 1));
		bool last = i == n - 1;
		if(last && act->n_buttons)
			json_object_set_new(body, "reply_markup", tg__keyboard(act));
		if(tg__enqueue_ref(t, "sendMessage", body, act->chat_id, last ? stored_id : 0, NULL,
		                   last ? act->ref : NULL, NULL))
			rc = -1;
		free(parts[i]);
	}
	free(parts);
	return rc;
}

/* Sends a poll: the details in a message, then the native poll (2 to 10
 * options of at most 100 characters).  As tg__deliver. */
static int tg__deliver_poll(struct tg *t, const struct action *act)
{
	if(!t->cfg->native_polls)
		return tg__send_text(t, act, act->stored_id) ? -1 : 1;
	if(tg__send_text(t, act, 0))
		return -1;
	if(act->n_options < 2)
		return 0;
	json_t *options = json_array();
	for(size_t i = 0; i < act->n_options && i < 10; i++) {
		char opt[101 * 4];
		snprintf(opt, sizeof(opt), "%.*s", (int)utf8_prefix(act->options[i], 100), act->options[i]);
		json_array_append_new(options, json_pack("{s:s}", "text", opt));
	}
	char q[301 * 4];
	const char *question = act->question ? act->question : "?";
	snprintf(q, sizeof(q), "%.*s", (int)utf8_prefix(question, 300), question);
	json_t *body = tg__to(act->chat_id);
	json_t *rest = json_pack("{s:s,s:o,s:b,s:b}", "question", q, "options", options, "is_anonymous", 0,
	                         "allows_multiple_answers", 1);
	int bad = !body || !rest || json_object_update(body, rest);
	json_decref(rest);
	if(bad) {
		json_decref(body);
		return -1;
	}
	return tg__enqueue(t, "sendPoll", body, act->chat_id, act->stored_id, act->ref) ? -1 : 1;
}

/* Closes the native poll of act->ref, when one was sent.  As tg__deliver. */
static int tg__deliver_close(struct tg *t, const struct action *act)
{
	char chat[TG_CHAT_MAX], base[TG_CHAT_MAX];
	long long mid;
	bool ok = tg__sent_find(t, 'r', act->ref ? act->ref : "", chat, NULL, &mid);
	if(!ok)
		return 0; /* no native poll was sent: nothing to close */
	tg_chat_split(chat, base, sizeof(base));
	json_t *body = json_pack("{s:s,s:I}", "chat_id", base, "message_id", (json_int_t)mid);
	return tg__enqueue(t, "stopPoll", body, chat, act->stored_id, NULL) ? -1 : 1;
}

/* Answers a press with a toast: plain text, at most 200 characters.  As
 * tg__deliver. */
static int tg__deliver_answer(struct tg *t, const struct action *act)
{
	char *plain = action_plain_text(act->text ? act->text : "");
	char toast[201 * 4];
	snprintf(toast, sizeof(toast), "%.*s", plain ? (int)utf8_prefix(plain, 200) : 0, plain ? plain : "");
	free(plain);
	json_t *body = json_pack("{s:s,s:s}", "callback_query_id", act->reply_to ? act->reply_to : "", "text", toast);
	return body && !tg__enqueue(t, "answerCallbackQuery", body, NULL, act->stored_id, NULL) ? 1 : -1;
}

/* True when the message that shows ref is in the queue, not yet answered
 * (sent, or about to be): its chat is copied to chat. */
static bool tg__on_its_way(const struct tg *t, const char *ref, char *chat)
{
	for(const struct sq_entry *e = t->queue.head; e; e = e->next) {
		const struct tg_send *s = (const struct tg_send *)e;
		if(s->msg_ref && !strcmp(s->msg_ref, ref)) {
			memcpy(chat, s->chat, sizeof(s->chat));
			return true;
		}
	}
	return false;
}

/* Edits in place, with its buttons, the message that shows act->ref.  An
 * edit asked before Telegram answered the message's own send (a button
 * pressed at once) follows that send in its chat, and learns then which
 * message it edits (tg__edit_resolve): a user's answer must not vanish
 * from the count for that.  As tg__deliver. */
static int tg__deliver_edit(struct tg *t, const struct action *act)
{
	char chat[TG_CHAT_MAX], base[TG_CHAT_MAX];
	long long mid = 0;
	const char *ref = act->ref ? act->ref : "";
	/* The memory, then the queue, and only then the database: a message
	 * on its way is not read there for nothing. */
	bool waits = false;
	bool found = tg__sent_recall(t, 'm', ref, chat, NULL, &mid);
	if(!found && !(waits = tg__on_its_way(t, ref, chat)))
		found = tg__sent_find(t, 'm', ref, chat, NULL, &mid);
	if(!found && !waits)
		return 0; /* never sent here (or before this version): nothing to edit */
	struct strbuf html = STRBUF_INIT, text = STRBUF_INIT;
	/* An edit that would be too long says what it leaves out. */
	if(tg_render_html(&html, act->text ? act->text : "") || tg__shorten(t, chat, html.buf, &text)) {
		strbuf_release(&html);
		strbuf_release(&text);
		return -1;
	}
	tg_chat_split(chat, base, sizeof(base));
	json_t *body = json_pack("{s:s,s:I,s:s,s:s}", "chat_id", base, "message_id", (json_int_t)mid, "text", text.buf,
	                         "parse_mode", "HTML");
	strbuf_release(&html);
	strbuf_release(&text);
	if(body && act->n_buttons)
		json_object_set_new(body, "reply_markup", tg__keyboard(act));
	return body && !tg__enqueue_ref(t, "editMessageText", body, chat, act->stored_id, NULL, NULL,
	                                waits ? ref : NULL)
	               ? 1
	               : -1;
}

int tg__deliver(struct adapter *a, const struct action *act)
{
	struct tg *t = a->priv;
	switch(act->kind) {
	case ACTION_SEND_TEXT:
	case ACTION_REPLY:
	case ACTION_SEND_PRIVATE:
		return tg__send_text(t, act, act->stored_id) ? -1 : 1;
	case ACTION_SEND_POLL:
		return tg__deliver_poll(t, act);
	case ACTION_CLOSE_POLL:
		return tg__deliver_close(t, act);
	case ACTION_ANSWER:
		return tg__deliver_answer(t, act);
	case ACTION_EDIT:
		return tg__deliver_edit(t, act);
	}
	return 0;
}
