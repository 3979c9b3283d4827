/*
 * telegram: the Telegram adapter, over the Bot API with long polling.
 *
 * Receiving: getUpdates long-polls (poll_timeout seconds, an explicit
 * allowed_updates); each batch runs through bot_handle_batch() with the next
 * offset stored in the same transaction, so a crash replays at most one
 * batch, and already-handled update ids are skipped.  Sending: one queue,
 * one request in flight, at most one message per chat per chat_interval_ms
 * and global_per_second overall; 429 waits retry_after, 5xx and network
 * errors back off exponentially with jitter, 403 marks the chat inactive.
 * Native polls are mapped to the core's refs in the kv table.
 *
 * Admin rights come from getChatAdministrators, cached five minutes (one
 * minute for a command from someone not on the list, which may be refused):
 * a batch waits for the lists of its groups before it runs.
 *
 * Webhook mode (mode = webhook): the bot's HTTP listener takes Telegram's
 * POSTs at webhook_path; setWebhook is called at start with a secret_token
 * generated for this run, and a request whose X-Telegram-Bot-Api-Secret-Token
 * differs (compared in constant time) gets 401 and is not read.  An
 * accepted update is stored in the kv table (telegram.inbox.<update_id>)
 * before the 200 answer, then runs as a batch like a polled one, whose
 * transaction deletes it: Telegram resends what was not answered, and what
 * was answered survives a crash.
 */
#include "adapters/adapter.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "adapters/http_client.h"
#include "adapters/http_server.h"
#include "adapters/telegram_parse.h"
#include "bot/action.h"
#include "bot/bot.h"
#include "bot/clock.h"
#include "bot/dispatch.h"
#include "bot/i18n.h"
#include "bot/log.h"
#include "bot/text.h"
#include "config/config.h"
#include "storage/db.h"

#define LOG_MODULE "telegram"
#define TG_MAX_ATTEMPTS 8
#define TG_CHATS 256
#define TG_ADMIN_TTL_MS (5 * 60 * 1000)
#define TG_ADMIN_RECHECK_MS (60 * 1000)
/* One send out at a time: Telegram has no idempotent send, so a crash may
 * repeat what was out, and one message is the most that may be.  (Its
 * limits, 30 messages a second, leave nothing for parallel sends to gain.) */
#define TG_MAX_INFLIGHT 1
#define TG_QUEUE_HIGH 1000     /* more queued: stop taking updates ... */
#define TG_QUEUE_LOW 200       /* ... until the queue is down to this */

/* A group's administrators, as getChatAdministrators last said. */
struct tg_admins {
	char chat[24];
	int64_t fetched_ms;    /* 0: never */
	char (*ids)[24];
	size_t n;
};

struct tg;

struct tg_send {
	struct tg_send *next;
	struct tg *owner;
	bool inflight;         /* its request is out */
	char method[24];
	char *body;            /* JSON, owned */
	char chat[24];
	int64_t stored_id;     /* outbox row to acknowledge, 0 for none */
	char *poll_ref;        /* sendPoll: the core's ref to map */
	char *msg_ref;         /* sendMessage: the core's ref of what it shows,
	                          remembered for later edits */
	int attempts;
	int64_t not_before_ms;
};

#define TG_GROUP_WINDOW 64   /* sends remembered per chat, for the per-minute limit */

struct tg_chat_clock {
	char chat[24];
	int64_t last_ms;
	int64_t recent[TG_GROUP_WINDOW]; /* the last sends, a ring */
	unsigned nrecent;
};

struct tg {
	struct adapter *a;
	struct bot *b;
	char *base;            /* api_url/bot<TOKEN>/ : never logged as is */
	char username[64];
	bool ready;            /* getMe answered */
	bool stopping;
	long poll_req;         /* the getUpdates in flight, or 0 */
	int64_t offset;
	int poll_backoff_ms;
	long retry_poll_ms;        /* > 0: wait this long before the next poll */
	struct tg_send *queue, *queue_tail;
	int sending;               /* requests out (each for a different chat) */
	size_t nqueue;             /* messages in the queue */
	bool throttled;            /* polling paused: the queue is long */
	int64_t last_send_ms;
	struct tg_chat_clock chats[TG_CHATS];
	struct tg_admins admins[TG_CHATS];
	struct tg_update *held;    /* a batch waiting for admin lists */
	size_t nheld;
	int admin_fetches;         /* getChatAdministrators in flight */
	uv_timer_t poll_timer, send_timer;
	int open_timers;
	bool webhook;              /* mode = webhook */
	bool webhook_set;          /* setWebhook answered: updates may come */
	char secret[48];           /* this run's secret_token */
	struct tg_update *inbox;   /* webhook updates waiting for a batch */
	size_t ninbox;
};

static void tg__poll(struct tg *t);
static void tg__webhook_next(struct tg *t);
static void tg__pump(struct tg *t);
static void tg__fetch_admins(struct tg *t);

static bool tg__configured(const struct config *cfg)
{
	return cfg->telegram_token && *cfg->telegram_token;
}

static char *tg__url(struct tg *t, const char *method)
{
	size_t n = strlen(t->base) + strlen(method) + 1;
	char *u = malloc(n);
	if(u)
		snprintf(u, n, "%s%s", t->base, method);
	return u;
}

/* Starts a Bot API call with a JSON body. */
static long tg__call(struct tg *t, const char *method, const char *body, long timeout_ms, http_done_fn done,
                     void *user)
{
	char *url = tg__url(t, method);
	if(!url)
		return -1;
	struct http_call call = { .method = "POST", .url = url, .body = body, .body_len = strlen(body),
	                          .timeout_ms = timeout_ms };
	long id = http_client_start(t->b->client, &call, done, user);
	free(url);
	return id;
}

/* ---- the send queue ---- */

static void tg__send_free(struct tg_send *s)
{
	free(s->body);
	free(s->poll_ref);
	free(s->msg_ref);
	free(s);
}

static int tg__enqueue_ref(struct tg *t, const char *method, json_t *body, const char *chat, int64_t stored_id,
                           const char *poll_ref, const char *msg_ref)
{
	struct tg_send *s = calloc(1, sizeof(*s));
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if(!s || !text || (poll_ref && !(s->poll_ref = strdup(poll_ref))) ||
	   (msg_ref && !(s->msg_ref = strdup(msg_ref)))) {
		free(text);
		if(s)
			tg__send_free(s);
		return -1;
	}
	snprintf(s->method, sizeof(s->method), "%s", method);
	snprintf(s->chat, sizeof(s->chat), "%s", chat ? chat : "");
	s->body = text;
	s->stored_id = stored_id;
	if(t->queue_tail)
		t->queue_tail->next = s;
	else
		t->queue = s;
	t->queue_tail = s;
	t->nqueue++;
	tg__pump(t);
	return 0;
}

static int tg__enqueue(struct tg *t, const char *method, json_t *body, const char *chat, int64_t stored_id,
                       const char *poll_ref)
{
	return tg__enqueue_ref(t, method, body, chat, stored_id, poll_ref, NULL);
}

static struct tg_chat_clock *tg__chat_clock(struct tg *t, const char *chat)
{
	struct tg_chat_clock *oldest = &t->chats[0];
	for(int i = 0; i < TG_CHATS; i++) {
		if(!strcmp(t->chats[i].chat, chat))
			return &t->chats[i];
		if(t->chats[i].last_ms < oldest->last_ms)
			oldest = &t->chats[i];
	}
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->chat, sizeof(oldest->chat), "%s", chat);
	return oldest;
}

static void tg__on_send_timer(uv_timer_t *h)
{
	tg__pump(h->data);
}

/* Stores what a sent poll is, for its answers and its closing. */
static void tg__map_poll(struct tg *t, const struct tg_send *s, json_t *result)
{
	json_t *poll = json_object_get(result, "poll");
	const char *poll_id = json_string_value(json_object_get(poll, "id"));
	json_t *mid = json_object_get(result, "message_id");
	if(!poll_id || !json_is_integer(mid))
		return;
	char key[160], value[160];
	if(db_begin(t->b->db))
		return;
	snprintf(key, sizeof(key), "telegram.poll.%s", poll_id);
	snprintf(value, sizeof(value), "%s\t%lld\t%s", s->chat, (long long)json_integer_value(mid), s->poll_ref);
	int rc = db_kv_set(t->b->db, key, value);
	snprintf(key, sizeof(key), "telegram.ref.%s", s->poll_ref);
	snprintf(value, sizeof(value), "%s\t%lld", s->chat, (long long)json_integer_value(mid));
	if(rc || db_kv_set(t->b->db, key, value) || db_commit(t->b->db))
		db_rollback(t->b->db);
}

/* Moves a chat: its rows in the database, and every queued message. */
static void tg__migrate(struct tg *t, const char *from, const char *to)
{
	if(!db_begin(t->b->db)) {
		if(db_chat_migrate(t->b->db, "telegram", from, to) || db_commit(t->b->db))
			db_rollback(t->b->db);
	}
	char old[24];
	snprintf(old, sizeof(old), "%s", from);
	for(struct tg_send *q = t->queue; q; q = q->next) {
		if(strcmp(q->chat, old))
			continue;
		json_error_t jerr;
		json_t *body = json_loads(q->body, 0, &jerr);
		char *text = NULL;
		if(body && !json_object_set_new(body, "chat_id", json_string(to)))
			text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if(text) {
			free(q->body);
			q->body = text;
			snprintf(q->chat, sizeof(q->chat), "%s", to);
		}
	}
}

/* Takes s out of the queue (it may sit anywhere in it). */
static void tg__unlink(struct tg *t, struct tg_send *s)
{
	struct tg_send **pp = &t->queue, *prev = NULL;
	while(*pp && *pp != s) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if(!*pp)
		return;
	*pp = s->next;
	if(t->queue_tail == s)
		t->queue_tail = prev;
	t->nqueue--;
	/* Updates are taken again once the replies have caught up. */
	if(t->throttled && t->nqueue <= TG_QUEUE_LOW && !t->stopping) {
		t->throttled = false;
		if(!t->webhook)
			tg__poll(t);
	}
}

static void tg__sent(void *user, const struct http_result *res)
{
	struct tg_send *s = user;
	struct tg *t = s->owner;
	t->sending--;
	s->inflight = false;
	int code = -1;
	long retry = -1;
	json_error_t jerr;
	json_t *o = res->status ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
	bool ok = json_is_true(json_object_get(o, "ok"));
	if(!ok && o) {
		json_t *c = json_object_get(o, "error_code");
		json_t *ra = json_object_get(json_object_get(o, "parameters"), "retry_after");
		code = json_is_integer(c) ? (int)json_integer_value(c) : (int)res->status;
		retry = json_is_integer(ra) ? (long)json_integer_value(ra) : res->retry_after;
	}
	json_t *migrate = json_object_get(json_object_get(o, "parameters"), "migrate_to_chat_id");
	bool done = true;
	if(!ok && code == 400 && json_is_integer(migrate) && !t->stopping) {
		/* The group became a supergroup: its data and its queued messages
		 * follow it, and this one is sent again there. */
		char to[24];
		snprintf(to, sizeof(to), "%lld", (long long)json_integer_value(migrate));
		log_info("chat %s moved to %s", s->chat, to);
		tg__migrate(t, s->chat, to);
		done = false;
	} else if(ok) {
		if(s->poll_ref)
			tg__map_poll(t, s, json_object_get(o, "result"));
		json_t *mid = json_object_get(json_object_get(o, "result"), "message_id");
		if(s->msg_ref && json_is_integer(mid)) {
			char key[160], value[64];
			snprintf(key, sizeof(key), "telegram.msg.%s", s->msg_ref);
			snprintf(value, sizeof(value), "%s\t%lld", s->chat, (long long)json_integer_value(mid));
			if(!db_begin(t->b->db)) {
				if(db_kv_set(t->b->db, key, value) || db_commit(t->b->db))
					db_rollback(t->b->db);
			}
		}
	} else if(code == 400 && !strcmp(s->method, "editMessageText")) {
		/* "message is not modified", or gone: nothing to retry. */
		const char *d = json_string_value(json_object_get(o, "description"));
		log_debug("editMessageText in chat %s: %s", s->chat, d ? d : "refused");
	} else if(t->stopping) {
		/* Left in the outbox: sent again at the next start. */
		done = false;
	} else if(code == 429 || res->status == 429) {
		s->not_before_ms = clock_now_ms() + (retry > 0 ? retry : 1) * 1000;
		log_warn("%s to chat %s: rate limited, retrying in %ld s", s->method, s->chat, retry > 0 ? retry : 1);
		done = false;
	} else if(code == 403) {
		log_warn("chat %s refuses the bot (403): marked inactive", s->chat);
		struct db_chat chat;
		if(!db_begin(t->b->db)) {
			if(db_chat_get(t->b->db, "telegram", s->chat, "fr", "UTC", &chat) >= 0 &&
			   !db_chat_set_active(t->b->db, chat.id, false))
				db_commit(t->b->db);
			else
				db_rollback(t->b->db);
		}
	} else if(res->status == 0 || res->status >= 500 || (!o && res->status)) {
		if(++s->attempts < TG_MAX_ATTEMPTS) {
			int64_t wait = 500LL << s->attempts;
			wait += rand() % (wait / 2 + 1);
			s->not_before_ms = clock_now_ms() + wait;
			log_warn("%s to chat %s failed (%s); retry %d in %lld ms", s->method, s->chat,
			         res->status ? "server error" : res->error, s->attempts, (long long)wait);
			done = false;
		} else {
			log_error("%s to chat %s failed %d times: given up", s->method, s->chat, s->attempts);
		}
	} else {
		const char *d = json_string_value(json_object_get(o, "description"));
		log_error("%s to chat %s refused (%d): %s", s->method, s->chat, code, d ? d : "?");
	}
	json_decref(o);
	if(done) {
		/* Also while stopping: a message the platform has is acknowledged,
		 * so that the next start does not send it again. */
		tg__unlink(t, s);
		if(s->stored_id)
			bot_action_done(t->b, s->stored_id);
		tg__send_free(s);
	}
	if(!t->stopping)
		tg__pump(t);
}

/* When s may leave: its own retry time, its chat's interval and, in a
 * group, the per-minute limit. */
static int64_t tg__ready_at(struct tg *t, struct tg_send *s)
{
	const struct config *cfg = t->b->cfg;
	int64_t at = s->not_before_ms;
	if(!s->chat[0])
		return at;
	struct tg_chat_clock *cc = tg__chat_clock(t, s->chat);
	if(cc->last_ms + cfg->telegram_chat_interval_ms > at)
		at = cc->last_ms + cfg->telegram_chat_interval_ms;
	unsigned per_min = (unsigned)cfg->telegram_group_per_minute;
	if(s->chat[0] == '-' && per_min && per_min <= TG_GROUP_WINDOW && cc->nrecent >= per_min) {
		/* The per_min-th send back must be a minute old. */
		int64_t old = cc->recent[(cc->nrecent - per_min) % TG_GROUP_WINDOW];
		if(old + 60000 > at)
			at = old + 60000;
	}
	return at;
}

/* Picks the first message that may leave now: the first of its chat (a
 * chat's messages keep their order, and a chat with a request out waits for
 * it) whose chat and the global rate allow.  A message waiting to be
 * retried holds back its own chat only.  NULL, with *soonest set, when none
 * may go yet. */
static struct tg_send *tg__pick(struct tg *t, int64_t now, int64_t *soonest)
{
	/* The spacing is rounded up, so that no one-second window ever holds
	 * more than global_per_second messages; 0 turns the limit off. */
	int per_s = t->b->cfg->telegram_global_per_second;
	int64_t global = per_s ? t->last_send_ms + (1000 + per_s - 1) / per_s : 0;
	*soonest = INT64_MAX;
	/* The chats met so far in this scan (an open-addressing set of their
	 * queue entries): only a chat's first message may go. */
	enum { SEEN = 1024 };
	const char *seen[SEEN];
	size_t nseen = 0;
	memset(seen, 0, sizeof(seen));
	for(struct tg_send *s = t->queue; s; s = s->next) {
		if(s->chat[0]) {
			uint32_t h = 2166136261u;
			for(const char *c = s->chat; *c; c++)
				h = (h ^ (unsigned char)*c) * 16777619u;
			size_t k = h % SEEN;
			bool met = false;
			while(seen[k] && !(met = !strcmp(seen[k], s->chat)))
				k = (k + 1) % SEEN;
			if(met)
				continue;
			if(nseen == SEEN / 2)
				break;  /* enough choice for one pump */
			seen[k] = s->chat;
			nseen++;
		}
		if(s->inflight)
			continue;
		int64_t at = tg__ready_at(t, s);
		if(at < global)
			at = global;
		if(at <= now)
			return s;
		if(at < *soonest)
			*soonest = at;
	}
	return NULL;
}

/* Sends what may leave now, up to TG_MAX_INFLIGHT requests at once. */
static void tg__pump(struct tg *t)
{
	while(!t->stopping && t->ready && t->queue && t->sending < TG_MAX_INFLIGHT) {
		int64_t now = clock_now_ms(), soonest;
		struct tg_send *pick = tg__pick(t, now, &soonest);
		if(!pick) {
			if(soonest != INT64_MAX)
				uv_timer_start(&t->send_timer, tg__on_send_timer, (uint64_t)(soonest - now), 0);
			return;
		}
		t->last_send_ms = now;
		if(pick->chat[0]) {
			struct tg_chat_clock *cc = tg__chat_clock(t, pick->chat);
			cc->last_ms = now;
			cc->recent[cc->nrecent++ % TG_GROUP_WINDOW] = now;
		}
		pick->owner = t;
		pick->inflight = true;
		t->sending++;
		if(tg__call(t, pick->method, pick->body, 30000, tg__sent, pick) < 0) {
			t->sending--;
			pick->inflight = false;
			pick->not_before_ms = now + 1000;
			uv_timer_start(&t->send_timer, tg__on_send_timer, 1000, 0);
			return;
		}
	}
}

/* ---- rendering ---- */

static json_t *tg__keyboard(const struct action *act)
{
	json_t *row = json_array();
	for(size_t i = 0; i < act->n_buttons; i++)
		json_array_append_new(row, json_pack("{s:s,s:s}", "text", act->buttons[i].label,
		                                     "callback_data", act->buttons[i].data));
	return json_pack("{s:[o]}", "inline_keyboard", row);
}

/* sendMessage for text, cut under the limit; the last part carries the
 * buttons and the acknowledgement. */
static int tg__send_text(struct tg *t, const struct action *act, int64_t stored_id)
{
	struct strbuf html = STRBUF_INIT;
	char **parts = NULL;
	tg_render_html(&html, act->text ? act->text : "");
	long n = html.oom ? -1 : tg_split(html.buf, TG_MAX_TEXT, &parts);
	strbuf_release(&html);
	int rc = n > 0 ? 0 : -1;
	for(long i = 0; i < n; i++) {
		json_t *body = json_pack("{s:s,s:s,s:s}", "chat_id", act->chat_id, "text", parts[i], "parse_mode", "HTML");
		if(act->kind == ACTION_REPLY && act->reply_to && i == 0)
			json_object_set_new(body, "reply_parameters",
			                    json_pack("{s:I,s:b}", "message_id", (json_int_t)atoll(act->reply_to),
			                              "allow_sending_without_reply", 1));
		bool last = i == n - 1;
		if(last && act->n_buttons)
			json_object_set_new(body, "reply_markup", tg__keyboard(act));
		if(tg__enqueue_ref(t, "sendMessage", body, act->chat_id, last ? stored_id : 0, NULL,
		                   last ? act->ref : NULL))
			rc = -1;
		free(parts[i]);
	}
	free(parts);
	return rc;
}

static int tg__deliver(struct adapter *a, const struct action *act)
{
	struct tg *t = a->priv;
	switch(act->kind) {
	case ACTION_SEND_TEXT:
	case ACTION_REPLY:
	case ACTION_SEND_PRIVATE:
		return tg__send_text(t, act, act->stored_id) ? -1 : 1;
	case ACTION_SEND_POLL: {
		/* The details in a message, then the native poll (2 to 10 options
		 * of at most 100 characters). */
		if(!t->b->cfg->telegram_native_polls)
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
		json_t *body = json_pack("{s:s,s:s,s:o,s:b,s:b}", "chat_id", act->chat_id, "question", q,
		                         "options", options, "is_anonymous", 0, "allows_multiple_answers", 1);
		return tg__enqueue(t, "sendPoll", body, act->chat_id, act->stored_id, act->ref) ? -1 : 1;
	}
	case ACTION_CLOSE_POLL: {
		struct strbuf v = STRBUF_INIT;
		char key[160], chat[24];
		long long mid;
		snprintf(key, sizeof(key), "telegram.ref.%s", act->ref ? act->ref : "");
		int found = db_kv_get(t->b->db, key, &v);
		int ok = found == 1 && sscanf(v.buf, "%23[^\t]\t%lld", chat, &mid) == 2;
		strbuf_release(&v);
		if(!ok)
			return 0;  /* no native poll was sent: nothing to close */
		json_t *body = json_pack("{s:s,s:I}", "chat_id", chat, "message_id", (json_int_t)mid);
		return tg__enqueue(t, "stopPoll", body, chat, act->stored_id, NULL) ? -1 : 1;
	}
	case ACTION_EDIT: {
		/* The message that shows act->ref, edited in place (its first
		 * 4096 characters), with its buttons. */
		struct strbuf v = STRBUF_INIT, html = STRBUF_INIT;
		char key[160], chat[24];
		long long mid;
		snprintf(key, sizeof(key), "telegram.msg.%s", act->ref ? act->ref : "");
		int found = db_kv_get(t->b->db, key, &v) == 1 && sscanf(v.buf, "%23[^\t]\t%lld", chat, &mid) == 2;
		strbuf_release(&v);
		if(!found)
			return 0;  /* never sent here (or before this version): nothing to edit */
		tg_render_html(&html, act->text ? act->text : "");
		char **parts = NULL;
		long n = html.oom ? -1 : tg_split(html.buf, TG_MAX_TEXT, &parts);
		strbuf_release(&html);
		if(n < 1)
			return -1;
		json_t *body = json_pack("{s:s,s:I,s:s,s:s}", "chat_id", chat, "message_id", (json_int_t)mid, "text",
		                         parts[0], "parse_mode", "HTML");
		for(long i = 0; i < n; i++)
			free(parts[i]);
		free(parts);
		if(body && act->n_buttons)
			json_object_set_new(body, "reply_markup", tg__keyboard(act));
		return body && !tg__enqueue(t, "editMessageText", body, chat, act->stored_id, NULL) ? 1 : -1;
	}
	}
	return 0;
}

/* ---- receiving ---- */

struct tg_batch {
	struct tg *t;
	int64_t next_offset;
	const struct tg_update *u;
	size_t n;
};

/* In the batch's transaction: the next offset, and chats that moved. */
static int tg__batch_state(void *user, struct db *db)
{
	struct tg_batch *bt = user;
	for(size_t i = 0; i < bt->n; i++)
		if(bt->u[i].kind == TG_MIGRATE &&
		   db_chat_migrate(db, "telegram", bt->u[i].chat_id, bt->u[i].migrate_to))
			return -1;
	for(size_t i = 0; bt->t->webhook && i < bt->n; i++) {
		char key[48];
		snprintf(key, sizeof(key), "telegram.inbox.%020lld", (long long)bt->u[i].update_id);
		if(db_kv_delete(db, key))
			return -1;
	}
	char off[32];
	snprintf(off, sizeof(off), "%lld", (long long)bt->next_offset);
	return db_kv_set(db, "telegram.offset", off);
}

/* Every button press gets its toast, in the presser's language. */
static void tg__answer_callback(struct tg *t, const char *id, const char *lang)
{
	const char *toast = i18n_lookup(lang && i18n_has_lang(lang) ? lang : i18n_default(), "telegram.toast");
	tg__enqueue(t, "answerCallbackQuery", json_pack("{s:s,s:s}", "callback_query_id", id, "text", toast),
	            NULL, 0, NULL);
}

static struct tg_admins *tg__admins(struct tg *t, const char *chat, bool create)
{
	struct tg_admins *oldest = &t->admins[0];
	for(int i = 0; i < TG_CHATS; i++) {
		if(!strcmp(t->admins[i].chat, chat))
			return &t->admins[i];
		if(t->admins[i].fetched_ms < oldest->fetched_ms)
			oldest = &t->admins[i];
	}
	if(!create)
		return NULL;
	free(oldest->ids);
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->chat, sizeof(oldest->chat), "%s", chat);
	return oldest;
}

/* The platform's word on a sender: admin or member.  A group whose list
 * could not be read has no admins rather than guessed ones. */
static enum event_role tg__role(struct tg *t, const char *chat, const char *user)
{
	struct tg_admins *a = tg__admins(t, chat, false);
	for(size_t i = 0; a && i < a->n; i++)
		if(!strcmp(a->ids[i], user))
			return ROLE_ADMIN;
	return ROLE_MEMBER;
}

static void tg__handle(struct tg *t, struct tg_update *u, size_t n)
{
	struct event *evs = calloc(n ? n : 1, sizeof(*evs));
	char (*chats)[24] = calloc(n ? n : 1, sizeof(*chats));
	char (*refs)[64] = calloc(n ? n : 1, sizeof(*refs));
	size_t ne = 0;
	struct tg_batch bt = { .t = t, .next_offset = t->offset, .u = u, .n = n };
	if(!evs || !chats || !refs)
		goto out;
	for(size_t i = 0; i < n; i++) {
		if(u[i].update_id + 1 > bt.next_offset)
			bt.next_offset = u[i].update_id + 1;
		if(u[i].update_id < t->offset)
			continue;  /* handled before a restart */
		struct event *ev = &evs[ne];
		*ev = (struct event){
			.platform = "telegram", .chat_id = u[i].chat_id, .sender_id = u[i].sender_id,
			.sender_name = u[i].sender_name, .sender_lang = u[i].lang[0] ? u[i].lang : NULL,
			.message_id = u[i].message_id[0] ? u[i].message_id : NULL,
			.reply_to = u[i].reply_to[0] ? u[i].reply_to : NULL, .time = (time_t)u[i].date,
			.role = u[i].is_private ? ROLE_ADMIN : tg__role(t, u[i].chat_id, u[i].sender_id),
			.is_private = u[i].is_private,
			.bot_username = t->username,
		};
		if(!ev->time)
			ev->time = clock_now();
		switch(u[i].kind) {
		case TG_MESSAGE:
			ev->kind = EVENT_MESSAGE;
			ev->text = u[i].text;
			ne++;
			break;
		case TG_CALLBACK:
			ev->kind = EVENT_BUTTON;
			ev->button_data = u[i].callback_data;
			ev->button_message = u[i].message_id;
			tg__answer_callback(t, u[i].callback_id, u[i].lang);
			ne++;
			break;
		case TG_POLL_ANSWER: {
			/* poll_answer names only the poll: find its chat and ref. */
			char key[160];
			struct strbuf v = STRBUF_INIT;
			snprintf(key, sizeof(key), "telegram.poll.%s", u[i].poll_id);
			long long mid;
			if(db_kv_get(t->b->db, key, &v) == 1 &&
			   sscanf(v.buf, "%23[^\t]\t%lld\t%63s", chats[ne], &mid, refs[ne]) == 3) {
				ev->kind = EVENT_POLL_VOTE;
				ev->chat_id = chats[ne];
				ev->poll_ref = refs[ne];
				ev->options = u[i].options;
				ev->n_options = u[i].n_options;
				ne++;
			}
			strbuf_release(&v);
			break;
		}
		default:
			break;
		}
	}
	if(bot_handle_batch(t->b, evs, ne, tg__batch_state, &bt))
		log_warn("a batch of %zu update(s) was not handled whole", ne);
	/* The offset moves on only as far as the database says it did: a
	 * batch whose transaction failed (a locked or full disk) is fetched
	 * again, not confirmed to Telegram and lost. */
	struct strbuf off = STRBUF_INIT;
	int64_t stored = t->offset;
	if(db_kv_get(t->b->db, "telegram.offset", &off) == 1)
		stored = atoll(off.buf);
	strbuf_release(&off);
	if(stored < bt.next_offset) {
		log_warn("updates up to %lld were not stored: they will be fetched again", (long long)bt.next_offset - 1);
		t->poll_backoff_ms = t->poll_backoff_ms ? t->poll_backoff_ms * 2 : 1000;
		if(t->poll_backoff_ms > 60000)
			t->poll_backoff_ms = 60000;
		t->retry_poll_ms = t->poll_backoff_ms;
	}
	t->offset = stored;
out:
	free(evs);
	free(chats);
	free(refs);
}

static void tg__get_me(struct tg *t);

static void tg__set_webhook(struct tg *t);

static void tg__on_poll_timer(uv_timer_t *h)
{
	struct tg *t = h->data;
	if(!t->ready)
		tg__get_me(t);
	else if(t->webhook)
		tg__set_webhook(t);
	else
		tg__poll(t);
}

static void tg__retry_poll(struct tg *t, long ms)
{
	if(!t->stopping)
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, (uint64_t)ms, 0);
}

static void tg__polled(void *user, const struct http_result *res)
{
	struct tg *t = user;
	t->poll_req = 0;
	if(t->stopping)
		return;
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[256];
	if(res->status == 200 &&
	   !tg_parse_updates(res->body, res->body_len, false, &u, &n, &code, &retry, err, sizeof(err))) {
		t->poll_backoff_ms = 0;
		t->held = u;
		t->nheld = n;
		tg__fetch_admins(t);
		return;
	}
	if(res->status && res->status != 200)
		tg_parse_updates(res->body, res->body_len, false, &u, &n, &code, &retry, err, sizeof(err));
	else if(!res->status)
		snprintf(err, sizeof(err), "%s", res->error ? res->error : "transport error"), retry = -1;
	if(res->status == 429 && retry > 0) {
		log_warn("getUpdates rate limited: waiting %ld s", retry);
		tg__retry_poll(t, retry * 1000);
		return;
	}
	/* 409 (another consumer or a webhook), 5xx, network: back off. */
	t->poll_backoff_ms = t->poll_backoff_ms ? t->poll_backoff_ms * 2 : 500;
	if(t->poll_backoff_ms > 60000)
		t->poll_backoff_ms = 60000;
	long wait = t->poll_backoff_ms + rand() % (t->poll_backoff_ms / 2 + 1);
	log_warn("getUpdates failed (%ld: %s); retrying in %ld ms", res->status, err, wait);
	tg__retry_poll(t, wait);
}

/* Runs the held batch once every admin list it needs has come. */
static void tg__run_held(struct tg *t)
{
	if(t->admin_fetches || t->stopping)
		return;
	struct tg_update *u = t->held;
	size_t n = t->nheld;
	t->held = NULL;
	t->nheld = 0;
	if(n)
		tg__handle(t, u, n);
	tg_updates_free(u, n);
	if(t->nqueue > TG_QUEUE_HIGH && !t->webhook) {
		/* Replies lag behind: memory stays bounded, and Telegram keeps
		 * the updates until the queue is down. */
		t->throttled = true;
		return;
	}
	if(t->webhook) {
		tg__webhook_next(t);
	} else if(t->retry_poll_ms > 0) {
		tg__retry_poll(t, t->retry_poll_ms);
		t->retry_poll_ms = 0;
	} else {
		tg__poll(t);
	}
}

struct tg_admin_req {
	struct tg *t;
	char chat[24];
};

static void tg__admins_done(void *user, const struct http_result *res)
{
	struct tg_admin_req *req = user;
	struct tg *t = req->t;
	t->admin_fetches--;
	if(t->stopping) {
		free(req);
		return;
	}
	struct tg_admins *a = tg__admins(t, req->chat, true);
	json_error_t jerr;
	json_t *o = res->status == 200 ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
	json_t *list = json_object_get(o, "result");
	free(a->ids);
	a->ids = NULL;
	a->n = 0;
	a->fetched_ms = clock_now_ms();
	if(json_is_true(json_object_get(o, "ok")) && json_is_array(list)) {
		a->ids = calloc(json_array_size(list) + 1, sizeof(*a->ids));
		size_t i;
		json_t *m;
		json_array_foreach(list, i, m) {
			json_t *id = json_object_get(json_object_get(m, "user"), "id");
			if(a->ids && json_is_integer(id))
				snprintf(a->ids[a->n++], sizeof(a->ids[0]), "%lld", (long long)json_integer_value(id));
		}
	} else {
		log_warn("cannot read the administrators of chat %s (%ld): nobody is admin there for now",
		         req->chat, res->status);
	}
	json_decref(o);
	free(req);
	tg__run_held(t);
}

/* Asks getChatAdministrators for every group of the held batch whose list
 * is missing or stale, then runs the batch. */
static void tg__fetch_admins(struct tg *t)
{
	int64_t now = clock_now_ms();
	for(size_t i = 0; i < t->nheld; i++) {
		const struct tg_update *u = &t->held[i];
		if(u->is_private || !u->chat_id[0] || (u->kind != TG_MESSAGE && u->kind != TG_CALLBACK))
			continue;
		struct tg_admins *a = tg__admins(t, u->chat_id, true);
		/* A command from someone not on the list may be refused: a list
		 * over a minute old is read again first, so a new admin is one. */
		bool refusable = u->kind == TG_MESSAGE && u->text && u->text[0] == '/' &&
		                 tg__role(t, u->chat_id, u->sender_id) != ROLE_ADMIN;
		if(a->fetched_ms && now - a->fetched_ms < (refusable ? TG_ADMIN_RECHECK_MS : TG_ADMIN_TTL_MS))
			continue;
		a->fetched_ms = now;  /* asked: not again for this batch */
		struct tg_admin_req *req = calloc(1, sizeof(*req));
		if(!req)
			continue;
		req->t = t;
		snprintf(req->chat, sizeof(req->chat), "%s", u->chat_id);
		char body[64];
		snprintf(body, sizeof(body), "{\"chat_id\":%s}", u->chat_id);
		t->admin_fetches++;
		if(tg__call(t, "getChatAdministrators", body, 30000, tg__admins_done, req) < 0) {
			t->admin_fetches--;
			free(req);
		}
	}
	tg__run_held(t);
}

static void tg__poll(struct tg *t)
{
	if(t->stopping || t->poll_req || t->throttled)
		return;
	int timeout = t->b->cfg->telegram_poll_timeout;
	json_t *body = json_pack("{s:I,s:i,s:i,s:[s,s,s,s,s,s]}", "offset", (json_int_t)t->offset,
	                         "timeout", timeout, "limit", 100, "allowed_updates", "message", "edited_message",
	                         "callback_query", "poll", "poll_answer", "my_chat_member");
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if(!text) {
		tg__retry_poll(t, 1000);
		return;
	}
	/* The HTTP timeout sits above the server's own wait. */
	long id = tg__call(t, "getUpdates", text, (long)(timeout + 15) * 1000, tg__polled, t);
	free(text);
	if(id < 0)
		tg__retry_poll(t, 1000);
	else
		t->poll_req = id;
}

/* ---- webhook ---- */

/* Compares the secret in time that does not depend on where they differ. */
static bool tg__secret_eq(const char *got, size_t got_len, const char *want)
{
	size_t want_len = strlen(want);
	unsigned char diff = got_len != want_len;
	for(size_t i = 0; i < want_len; i++)
		diff |= (unsigned char)(want[i] ^ (i < got_len ? got[i] : 0));
	return diff == 0;
}

/* Moves the inbox into a batch, when none is running. */
static void tg__webhook_next(struct tg *t)
{
	if(t->stopping || !t->ready || t->held || t->admin_fetches || !t->ninbox)
		return;
	t->held = t->inbox;
	t->nheld = t->ninbox;
	t->inbox = NULL;
	t->ninbox = 0;
	tg__fetch_admins(t);
}

static int tg__inbox_add(struct tg *t, struct tg_update *u, size_t n)
{
	struct tg_update *nv = realloc(t->inbox, (t->ninbox + n) * sizeof(*nv));
	if(!nv)
		return -1;
	memcpy(nv + t->ninbox, u, n * sizeof(*u));
	t->inbox = nv;
	t->ninbox += n;
	free(u);  /* the array only: its strings moved */
	return 0;
}

/* POST webhook_path: one update, as Telegram posts it. */
static int tg__on_webhook(void *user, const struct http_request *req, struct http_response *res)
{
	struct tg *t = user;
	char got[300];
	int len = http_request_header(req, "x-telegram-bot-api-secret-token", got, sizeof(got));
	if(len < 0 || !t->secret[0] || !tg__secret_eq(got, (size_t)len, t->secret)) {
		log_warn("webhook: a request with %s secret token refused (401)", len < 0 ? "no" : "a wrong");
		res->status = 401;
		return 0;
	}
	size_t blen;
	const char *body = http_request_body(req, &blen);
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[128];
	if(!body || tg_parse_updates(body, blen, true, &u, &n, &code, &retry, err, sizeof(err))) {
		log_warn("webhook: an unreadable update refused (400): %s", body ? err : "no body");
		res->status = 400;
		return 0;
	}
	/* Stored before the answer: once Telegram has its 200, the update is
	 * ours to keep across a crash. */
	char key[48];
	int rc = -1;
	if(n && !db_begin(t->b->db)) {
		snprintf(key, sizeof(key), "telegram.inbox.%020lld", (long long)u[0].update_id);
		char *copy = strndup(body, blen);
		if(copy && !db_kv_set(t->b->db, key, copy) && !db_commit(t->b->db))
			rc = 0;
		else
			db_rollback(t->b->db);
		free(copy);
	} else if(!n) {
		rc = 0;
	}
	if(rc || tg__inbox_add(t, u, n)) {
		if(rc)
			tg_updates_free(u, n);
		log_error("webhook: cannot store an update: Telegram will send it again (500)");
		res->status = 500;
		return 0;
	}
	res->status = 200;
	tg__webhook_next(t);
	return 0;
}

/* Updates accepted before the last stop but not yet handled. */
static int tg__inbox_load_one(void *user, const char *key, const char *value)
{
	struct tg *t = user;
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[128];
	if(tg_parse_updates(value, strlen(value), true, &u, &n, &code, &retry, err, sizeof(err))) {
		log_error("webhook: stored update %s unreadable: skipped", key);
		return 0;
	}
	if(tg__inbox_add(t, u, n))
		tg_updates_free(u, n);
	return 0;
}

static void tg__webhook_set(void *user, const struct http_result *res)
{
	struct tg *t = user;
	if(t->stopping)
		return;
	if(res->status != 200) {
		log_warn("setWebhook failed (%ld); retrying in 5 s", res->status);
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, 5000, 0);
		return;
	}
	t->webhook_set = true;
	log_info("webhook set: Telegram posts to %s", t->b->cfg->telegram_webhook_url);
	tg__webhook_next(t);
}

/* setWebhook with this run's secret (an earlier run's no longer works). */
static void tg__set_webhook(struct tg *t)
{
	json_t *body = json_pack("{s:s,s:s,s:[s,s,s,s,s,s],s:b}", "url", t->b->cfg->telegram_webhook_url,
	                         "secret_token", t->secret, "allowed_updates", "message", "edited_message",
	                         "callback_query", "poll", "poll_answer", "my_chat_member",
	                         "drop_pending_updates", 0);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if(!text || tg__call(t, "setWebhook", text, 30000, tg__webhook_set, t) < 0)
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, 5000, 0);
	free(text);
}

/* ---- start-up ---- */

/* The command menu, in English (the default) and French, from the
 * dispatcher's table; names Telegram refuses (a dash) are left out. */
static void tg__set_commands(struct tg *t)
{
	static const char *const langs[] = { "en", "fr" };
	for(int l = 0; l < 2; l++) {
		json_t *list = json_array();
		for(int i = 0; i < ncommands; i++) {
			if(commands[i].flags & CMD_HIDDEN)
				continue;
			const char *name = dispatch_display_name(langs[l], &commands[i]);
			if(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
				name = commands[i].name;
			char key[64];
			snprintf(key, sizeof(key), "cmd.%s.summary", commands[i].name);
			json_array_append_new(list, json_pack("{s:s,s:s}", "command", name, "description",
			                                      i18n_lookup(langs[l], key)));
		}
		json_t *body = json_pack("{s:o}", "commands", list);
		if(l)
			json_object_set_new(body, "language_code", json_string(langs[l]));
		tg__enqueue(t, "setMyCommands", body, NULL, 0, NULL);
	}
}

static void tg__webhook_deleted(void *user, const struct http_result *res)
{
	struct tg *t = user;
	if(t->stopping)
		return;
	if(res->status != 200)
		log_warn("deleteWebhook failed (%ld); polling anyway", res->status);
	tg__poll(t);
}

static void tg__got_me(void *user, const struct http_result *res)
{
	struct tg *t = user;
	if(t->stopping)
		return;
	json_error_t jerr;
	json_t *o = res->status == 200 ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
	const char *name = json_string_value(json_object_get(json_object_get(o, "result"), "username"));
	if(!json_is_true(json_object_get(o, "ok")) || !name) {
		json_decref(o);
		if(res->status == 401 || res->status == 404) {
			log_error("the Bot API refuses the token (%ld): check [telegram] token", res->status);
			bot_stop(t->b, 1);
			return;
		}
		log_warn("getMe failed (%ld); retrying in 5 s", res->status);
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, 5000, 0);
		return;
	}
	snprintf(t->username, sizeof(t->username), "%s", name);
	json_decref(o);
	t->ready = true;
	log_info("connected as @%s", t->username);
	tg__set_commands(t);
	if(t->webhook) {
		tg__set_webhook(t);
		return;
	}
	/* Polling and a webhook exclude each other (409): the webhook goes
	 * first, keeping the updates it holds. */
	if(tg__call(t, "deleteWebhook", "{\"drop_pending_updates\":false}", 30000, tg__webhook_deleted, t) < 0)
		tg__poll(t);
}

static void tg__get_me(struct tg *t)
{
	if(tg__call(t, "getMe", "{}", 30000, tg__got_me, t) < 0)
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, 5000, 0);
}

static int tg__start(struct adapter *a)
{
	struct bot *b = a->bot;
	struct tg *t = calloc(1, sizeof(*t));
	if(!t)
		return -1;
	a->priv = t;
	t->a = a;
	t->b = b;
	struct strbuf base = STRBUF_INIT;
	const char *url = b->cfg->telegram_api_url;
	strbuf_addf(&base, "%s%sbot%s/", url, url[strlen(url) - 1] == '/' ? "" : "/", b->cfg->telegram_token);
	t->base = strbuf_detach(&base);
	if(!t->base)
		return -1;
	log_add_secret(b->cfg->telegram_token);
	struct strbuf off = STRBUF_INIT;
	if(db_kv_get(b->db, "telegram.offset", &off) == 1)
		t->offset = atoll(off.buf);
	strbuf_release(&off);
	if(!strcmp(b->cfg->telegram_mode, "webhook")) {
		/* A fresh secret each run, of the characters the Bot API allows. */
		static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
		unsigned char rnd[40];
		if(!b->http || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			log_error("webhook mode needs [http] listen and the system's random numbers");
			return -1;
		}
		for(size_t i = 0; i < sizeof(rnd); i++)
			t->secret[i] = abc[rnd[i] & 63];
		t->secret[sizeof(rnd)] = 0;
		log_add_secret(t->secret);
		t->webhook = true;
		if(http_server_route(b->http, "POST", b->cfg->telegram_webhook_path, tg__on_webhook, t))
			return -1;
		if(db_kv_each(b->db, "telegram.inbox.", tg__inbox_load_one, t))
			log_error("webhook: cannot read the stored updates");
		else if(t->ninbox)
			log_info("webhook: %zu update(s) stored at the last stop", t->ninbox);
	}
	uv_timer_init(b->loop, &t->poll_timer);
	uv_timer_init(b->loop, &t->send_timer);
	t->poll_timer.data = t->send_timer.data = t;
	t->open_timers = 2;
	tg__get_me(t);
	return 0;
}

static bool tg__idle(struct adapter *a)
{
	struct tg *t = a->priv;
	return !t->queue && !t->sending;
}

static void tg__timer_closed(uv_handle_t *h)
{
	struct tg *t = h->data;
	t->open_timers--;
}

static void tg__stop(struct adapter *a)
{
	struct tg *t = a->priv;
	if(!t || t->stopping)
		return;
	t->stopping = true;
	if(t->poll_req)
		http_client_cancel(t->b->client, t->poll_req);
	if(t->open_timers == 2) {
		uv_close((uv_handle_t *)&t->poll_timer, tg__timer_closed);
		uv_close((uv_handle_t *)&t->send_timer, tg__timer_closed);
	}
}

static void tg__release(struct adapter *a)
{
	struct tg *t = a->priv;
	if(!t)
		return;
	while(t->queue) {
		struct tg_send *s = t->queue;
		t->queue = s->next;
		tg__send_free(s);
	}
	for(int i = 0; i < TG_CHATS; i++)
		free(t->admins[i].ids);
	tg_updates_free(t->held, t->nheld);
	tg_updates_free(t->inbox, t->ninbox);
	free(t->base);
	free(t);
	a->priv = NULL;
}

const struct adapter_ops telegram_adapter_ops = {
	.name = "telegram",
	.configured = tg__configured,
	.start = tg__start,
	.deliver = tg__deliver,
	.idle = tg__idle,
	.stop = tg__stop,
	.release = tg__release,
};
