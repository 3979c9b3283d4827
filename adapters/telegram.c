/*
 * telegram: the Telegram adapter, over the Bot API (long polling or a
 * webhook).
 *
 * Receiving: getUpdates long-polls (poll_timeout seconds, an explicit
 * allowed_updates); each batch goes to bot_submit_batch(), which spreads it
 * over the loop's turns (bot_handle_batch() runs it at once when that is
 * refused), with the next offset stored in the same transaction, so a crash replays at most one
 * batch, and already-handled update ids are skipped; a batch whose
 * transaction failed is fetched again.  Sending and rendering live in
 * telegram_send.c; telegram_internal.h is what the two files share.
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
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

#include "adapters/http_client.h"
#include "adapters/http_server.h"
#include "adapters/json_text.h"
#include "adapters/telegram_parse.h"
#include "bot/action.h"
#include "bot/bot.h"
#include "bot/dispatch.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/thread.h"
#include "storage/db.h"

#include "adapters/telegram_internal.h"

#define LOG_MODULE "telegram"

static void tg__webhook_next(struct tg *t);
static void tg__fetch_admins(struct tg *t);

static bool tg__configured(const struct config *cfg)
{
	const struct telegram_config *tc = telegram_config(cfg);
	return tc && *tc->token;
}

static char *tg__url(struct tg *t, const char *method)
{
	size_t n = strlen(t->base) + strlen(method) + 1;
	char *u = malloc(n);
	if(u)
		snprintf(u, n, "%s%s", t->base, method);
	return u;
}

/* A Bot API call in flight: its caller's callback, and the adapter whose
 * platform answers it. */
struct tg_call {
	struct adapter *a;
	http_done_fn done;
	void *user;
};

/* Every answer of the Bot API passes here: a 2xx is the platform heard
 * (struct adapter's heard_ms, which GET /healthz reads), whatever the
 * call; then the caller's callback has it. */
static void tg__answered(void *user, const struct http_result *res)
{
	struct tg_call call = *(struct tg_call *)user;
	free(user);
	if(res->status >= 200 && res->status < 300)
		call.a->heard_ms = clock_mono_ms();
	call.done(call.user, res);
}

/* Starts a Bot API call with a JSON body. */
long tg__call(struct tg *t, const char *method, const char *body, long timeout_ms, http_done_fn done, void *user)
{
	char *url = tg__url(t, method);
	struct tg_call *c = malloc(sizeof(*c));
	long id = -1;
	if(!url || !c)
		goto out;
	*c = (struct tg_call){ .a = t->a, .done = done, .user = user };
	struct http_call call = {
		.method = "POST", .url = url, .body = body, .body_len = strlen(body), .timeout_ms = timeout_ms
	};
	struct http_client *client = adapter_http(t->a);
	if(client && (id = http_client_start(client, &call, tg__answered, c)) > 0)
		c = NULL; /* tg__answered frees it */
out:
	free(c);
	free(url);
	return id;
}

/* ---- receiving ---- */

/* A batch with the core: the updates and the events made of them, kept
 * until tg__batch_done. */
struct tg_batch {
	struct tg *t;
	int64_t next_offset;
	struct tg_update *u;
	size_t n;
	struct event *evs;
	size_t ne;
	char (*chats)[TG_CHAT_MAX];
	char (*refs)[64];
};

static void tg__batch_free(struct tg_batch *bt)
{
	if(!bt)
		return;
	tg_updates_free(bt->u, bt->n);
	free(bt->evs);
	free(bt->chats);
	free(bt->refs);
	free(bt);
}

/* The kv key of an update accepted from the webhook and not yet handled:
 * zero-padded, so that the keys sort as the updates came. */
static void tg__inbox_key(char *key, size_t len, int64_t update_id)
{
	snprintf(key, len, "telegram.inbox.%020lld", (long long)update_id);
}

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
		tg__inbox_key(key, sizeof(key), bt->u[i].update_id);
		if(db_kv_delete(db, key))
			return -1;
	}
	char off[32];
	text_int(off, sizeof(off), (long long)bt->next_offset);
	return db_kv_set(db, "telegram.offset", off);
}

/* A group's list of administrators (a forum's topics share their group's). */
static struct tg_admins *tg__admins(struct tg *t, const char *topic_chat, bool create)
{
	char chat[TG_CHAT_MAX];
	tg_chat_split(topic_chat, chat, sizeof(chat));
	/* Every update looks its chat up, among TG_CHATS: by a hash of the
	 * id first, as ids differ only in their last digits (a strcmp each
	 * was some 3 % of the bot's instructions). */
	uint32_t h = 2166136261u;
	for(const char *c = chat; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for(int i = 0; i < TG_CHATS; i++)
		if(t->admins[i].hash == h && !strcmp(t->admins[i].chat, chat))
			return &t->admins[i];
	if(!create)
		return NULL;
	struct tg_admins *oldest = &t->admins[0];
	for(int i = 1; i < TG_CHATS; i++)
		if(t->admins[i].fetched_ms < oldest->fetched_ms)
			oldest = &t->admins[i];
	free(oldest->ids);
	memset(oldest, 0, sizeof(*oldest));
	text_copy(oldest->chat, sizeof(oldest->chat), chat);
	oldest->hash = h;
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

static void tg__continue(struct tg *t);

/* The core is done with a batch (rc as bot_handle_batch returns it). */
static void tg__batch_done(void *user, int rc)
{
	struct tg_batch *bt = user;
	struct tg *t = bt->t;
	if(rc)
		log_warn("a batch of %zu update(s) was not handled whole", bt->ne);
	/* The offset moves on only as far as the database says it did: a
	 * batch whose transaction failed (a locked or full disk) is fetched
	 * again, not confirmed to Telegram and lost.  A batch handled whole
	 * committed its state (bot_submit_batch): no need to ask. */
	int64_t stored = t->offset;
	if(!rc) {
		stored = bt->next_offset;
	} else {
		struct strbuf off = STRBUF_INIT;
		if(db_kv_get(t->b->db, "telegram.offset", &off) == 1)
			stored = atoll(off.buf);
		strbuf_release(&off);
	}
	if(stored < bt->next_offset) {
		log_warn("updates up to %lld were not stored: they will be fetched again",
		         (long long)bt->next_offset - 1);
		t->poll_backoff_ms = t->poll_backoff_ms ? t->poll_backoff_ms * 2 : 1000;
		if(t->poll_backoff_ms > 60000)
			t->poll_backoff_ms = 60000;
		t->retry_poll_ms = t->poll_backoff_ms;
	}
	t->offset = stored;
	tg__batch_free(bt);
	t->in_batch = false;
	tg__continue(t);
}

/* The polls that the held batch's answers name and this run does not
 * remember (a poll sent before a restart), read on a thread where each
 * read is a round trip (PostgreSQL), so that the loop does not wait for
 * the server: their kv rows (telegram.poll.ID), found[i] as db_kv_get
 * returns.  Kept in t->poll_read until the batch's events are made. */
struct tg_poll_read {
	struct tg *t; /* NULL once the adapter is released */
	size_t n;
	char (*ids)[sizeof(((struct tg_update *)0)->poll_id)];
	struct strbuf *values;
	int *found;
};

/* The index of poll_id among what r read, r->n when it is not there (or
 * r is NULL: 0). */
static size_t tg__poll_read_at(const struct tg_poll_read *r, const char *poll_id)
{
	size_t k = 0;
	while(r && k < r->n && strcmp(r->ids[k], poll_id))
		k++;
	return k;
}

/* Makes ev the vote of the poll answer u.  poll_answer names only the
 * poll: its chat and ref are read into chat and ref (TG_CHAT_MAX and 64
 * bytes, which ev points to).  True when the poll is one the bot sent.
 * What a poll is comes from the adapter's memory (tg__sent_find), read
 * from the database only until found: on PostgreSQL a read is a round
 * trip the loop would wait for. */
static bool tg__poll_vote(struct tg *t, const struct tg_update *u, struct event *ev, char *chat, char *ref)
{
	long long mid;
	const struct tg_poll_read *r = t->poll_read;
	size_t k;
	bool found;
	if(tg__sent_recall(t, 'p', u->poll_id, chat, ref, &mid))
		found = true;
	else if(r && (k = tg__poll_read_at(r, u->poll_id)) < r->n) /* read ahead: no read here */
		found = r->found[k] == 1 && tg__sent_stored(t, 'p', u->poll_id, r->values[k].buf, chat, ref, &mid);
	else
		found = tg__sent_find(t, 'p', u->poll_id, chat, ref, &mid);
	if(!found)
		return false;
	ev->kind = EVENT_POLL_VOTE;
	ev->chat_id = chat;
	ev->poll_ref = ref;
	ev->options = u->options;
	ev->n_options = u->n_options;
	return true;
}

/* Turns the updates (taken over) into events and gives them to the core as
 * one batch; tg__batch_done follows. */
static void tg__handle(struct tg *t, struct tg_update *u, size_t n)
{
	struct tg_batch *bt = calloc(1, sizeof(*bt));
	if(!bt) {
		tg_updates_free(u, n);
		tg__continue(t);
		return;
	}
	*bt = (struct tg_batch){ .t = t, .next_offset = t->offset, .u = u, .n = n };
	struct event *evs = bt->evs = calloc(n ? n : 1, sizeof(*evs));
	char(*chats)[TG_CHAT_MAX] = bt->chats = calloc(n ? n : 1, sizeof(*chats));
	char(*refs)[64] = bt->refs = calloc(n ? n : 1, sizeof(*refs));
	size_t ne = 0;
	if(!evs || !chats || !refs) {
		/* Not stored: the offset stays, and the batch comes again. */
		tg__batch_free(bt);
		tg__continue(t);
		return;
	}
	for(size_t i = 0; i < n; i++) {
		if(u[i].update_id + 1 > bt->next_offset)
			bt->next_offset = u[i].update_id + 1;
		if(u[i].update_id < t->offset)
			continue; /* handled before a restart */
		struct event *ev = &evs[ne];
		*ev = (struct event){
			.platform = "telegram",
			.chat_id = u[i].chat_id,
			.sender_id = u[i].sender_id,
			.sender_name = u[i].sender_name,
			.sender_lang = u[i].lang[0] ? u[i].lang : NULL,
			.message_id = u[i].message_id[0] ? u[i].message_id : NULL,
			.reply_to = u[i].reply_to[0] ? u[i].reply_to : NULL,
			.time = (time_t)u[i].date,
			/* Only a group's administrators may post as the group. */
			.role = u[i].is_private || u[i].anonymous ? ROLE_ADMIN
			                                          : tg__role(t, u[i].chat_id, u[i].sender_id),
			.is_private = u[i].is_private,
			.anonymous = u[i].anonymous,
			.bot_username = t->username,
			.parent_chat = u[i].parent_chat[0] ? u[i].parent_chat : NULL,
			.chat_title = u[i].chat_title[0] ? u[i].chat_title : NULL,
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
			/* The core answers every press (its toast). */
			ev->button_answer = u[i].callback_id;
			ne++;
			break;
		case TG_POLL_ANSWER:
			if(tg__poll_vote(t, &u[i], ev, chats[ne], refs[ne]))
				ne++;
			break;
		case TG_UNREADABLE:
			log_warn("update %lld cannot be read (%s): skipped", (long long)u[i].update_id,
			         u[i].text ? u[i].text : "out of memory");
			break;
		default:
			break;
		}
	}
	bt->ne = ne;
	t->in_batch = true;
	if(bot_submit_batch(t->b, evs, ne, tg__batch_state, tg__batch_done, bt))
		tg__batch_done(bt, bot_handle_batch(t->b, evs, ne, tg__batch_state, bt));
}

static void tg__get_me(struct tg *t);

static void tg__set_webhook(struct tg *t);

static void tg__check_webhook(struct tg *t);

static void tg__on_poll_timer(uv_timer_t *h)
{
	struct tg *t = h->data;
	if(!t->ready)
		tg__get_me(t);
	else if(t->webhook && !t->webhook_set)
		tg__set_webhook(t);
	else if(t->webhook)
		tg__check_webhook(t);
	else
		tg__poll(t);
}

static void tg__retry_poll(struct tg *t, long ms)
{
	if(!t->stopping)
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, (uint64_t)ms, 0);
}

/* What came of a getUpdates: status 200 and rc 0 when u and n are its
 * updates (the adapter owns them); otherwise the failure, with the
 * server's error code and retry_after when it said so. */
static void tg__poll_result(struct tg *t, long status, int rc, struct tg_update *u, size_t n, long retry,
                            const char *err)
{
	if(t->stopping) {
		tg_updates_free(u, n);
		return;
	}
	if(status == 200 && !rc) {
		t->poll_backoff_ms = 0;
		t->held = u;
		t->nheld = n;
		tg__fetch_admins(t);
		return;
	}
	if(status == 429 && retry > 0) {
		log_warn("getUpdates rate limited: waiting %ld s", retry);
		tg__retry_poll(t, retry * 1000);
		return;
	}
	/* 409 (another consumer or a webhook), 5xx, network, a body that is
	 * not the Bot API's: back off. */
	t->poll_backoff_ms = t->poll_backoff_ms ? t->poll_backoff_ms * 2 : 500;
	if(t->poll_backoff_ms > 60000)
		t->poll_backoff_ms = 60000;
	long wait = t->poll_backoff_ms + rand() % (t->poll_backoff_ms / 2 + 1);
	log_warn("getUpdates failed (%ld: %s); retrying in %ld ms", status, err, wait);
	tg__retry_poll(t, wait);
}

/* A batch of updates parsed by a thread of the loop's pool: jansson takes
 * about 0.5 ms over 100 updates, during which the loop could start no send
 * and an answered one waited.  The thread runs tg_parse_updates only,
 * which touches nothing but the job.  A short answer (an empty long poll,
 * a few updates) is parsed at once: waking a thread would cost more, and
 * a quiet bot never starts libuv's pool. */
#define TG_THREAD_MIN_BODY 16384
struct tg_parse_job {
	uv_work_t work;
	struct tg *t; /* NULL once the adapter is released */
	char *body;
	size_t len;
	struct tg_update *u;
	size_t n;
	int rc, code;
	long retry;
	char err[256];
};

static void tg__parse_work(uv_work_t *w)
{
	struct tg_parse_job *j = w->data;
	thread_background();
	j->rc = tg_parse_updates(j->body, j->len, false, &j->u, &j->n, &j->code, &j->retry, j->err, sizeof(j->err));
}

static void tg__parse_after(uv_work_t *w, int status)
{
	struct tg_parse_job *j = w->data;
	(void)status; /* never cancelled */
	struct tg *t = j->t;
	if(t) {
		t->parse_job = NULL;
		tg__poll_result(t, 200, j->rc, j->u, j->n, j->retry, j->err);
	} else if(!j->rc) {
		tg_updates_free(j->u, j->n);
	}
	free(j->body);
	free(j);
}

static void tg__polled(void *user, const struct http_result *res)
{
	struct tg *t = user;
	t->poll_req = 0;
	if(t->stopping)
		return;
	struct tg_update *u = NULL;
	size_t n = 0;
	int code, rc = -1;
	long retry = -1;
	char err[256];
	if(res->status == 200 && res->body_len >= TG_THREAD_MIN_BODY) {
		struct tg_parse_job *j = calloc(1, sizeof(*j));
		if(j && (j->body = malloc(res->body_len + 1))) {
			memcpy(j->body, res->body, res->body_len);
			j->body[res->body_len] = '\0';
			j->len = res->body_len;
			j->t = t;
			j->work.data = j;
			if(!uv_queue_work(t->b->loop, &j->work, tg__parse_work, tg__parse_after)) {
				t->parse_job = j;
				return;
			}
		}
		if(j)
			free(j->body);
		free(j);
		/* No thread to hand it to: parsed here. */
	}
	if(res->status)
		rc = tg_parse_updates(res->body, res->body_len, false, &u, &n, &code, &retry, err, sizeof(err));
	else
		text_copy(err, sizeof(err), res->error ? res->error : "transport error");
	tg__poll_result(t, res->status, rc, u, n, retry, err);
}

static void tg__poll_read_free(struct tg_poll_read *r)
{
	if(!r)
		return;
	for(size_t i = 0; r->values && i < r->n; i++)
		strbuf_release(&r->values[i]);
	free(r->values);
	free(r->found);
	free(r->ids);
	free(r);
}

/* On a thread of the loop's pool: touches nothing but r and the database. */
static void tg__polls_run(struct db *db, void *user)
{
	struct tg_poll_read *r = user;
	for(size_t i = 0; i < r->n; i++) {
		char key[160];
		r->found[i] = db_kv_get(db, tg__sent_key('p', r->ids[i], key, sizeof(key)), &r->values[i]);
	}
}

static void tg__run_held(struct tg *t);

/* Back on the loop: the held batch goes on with what was read. */
static void tg__polls_done(void *user)
{
	struct tg_poll_read *r = user;
	struct tg *t = r->t;
	if(!t) {
		tg__poll_read_free(r);
		return;
	}
	t->polls_reading = false;
	tg__run_held(t);
}

/* Where each read is a round trip, starts reading on a thread the polls
 * of the held batch's answers that this run does not remember: 0 when
 * started (tg__polls_done runs the batch), -1 when the batch goes on now
 * (nothing to read, SQLite, or the database held by a thread, which the
 * read would wait for: then tg__poll_vote reads on the loop, as before). */
static int tg__polls_start(struct tg *t)
{
	struct tg_poll_read *r = NULL;
	if(!db_round_trips(t->b->db) || db_busy(t->b->db))
		return -1;
	for(size_t i = 0; i < t->nheld; i++) {
		const struct tg_update *u = &t->held[i];
		char chat[TG_CHAT_MAX], ref[64];
		long long mid;
		if(u->kind != TG_POLL_ANSWER || tg__sent_recall(t, 'p', u->poll_id, chat, ref, &mid))
			continue;
		if(!r && (!(r = calloc(1, sizeof(*r))) || !(r->ids = calloc(t->nheld, sizeof(*r->ids)))))
			goto fail;
		if(tg__poll_read_at(r, u->poll_id) == r->n) /* once each */
			memcpy(r->ids[r->n++], u->poll_id, sizeof(r->ids[0]));
	}
	if(!r)
		return -1;
	r->t = t;
	if(!(r->values = calloc(r->n, sizeof(*r->values))) || !(r->found = calloc(r->n, sizeof(*r->found))))
		goto fail;
	for(size_t i = 0; i < r->n; i++)
		strbuf_init(&r->values[i]);
	if(db_run_start(t->b->db, t->b->loop, tg__polls_run, tg__polls_done, r))
		goto fail;
	t->poll_read = r;
	t->polls_reading = true;
	return 0;
fail:
	tg__poll_read_free(r);
	return -1;
}

/* Runs the held batch once every admin list it needs has come, and the
 * polls it names have been read (tg__polls_start). */
static void tg__run_held(struct tg *t)
{
	if(t->admin_fetches || t->stopping || t->polls_reading)
		return;
	if(t->nheld && !t->poll_read && !tg__polls_start(t))
		return;
	struct tg_update *u = t->held;
	size_t n = t->nheld;
	t->held = NULL;
	t->nheld = 0;
	if(n) {
		tg__handle(t, u, n);
		/* Its events are made: what was read for them goes. */
		tg__poll_read_free(t->poll_read);
		t->poll_read = NULL;
		return;
	}
	tg_updates_free(u, n);
	tg__continue(t);
}

/* After a batch: the next one, unless the replies lag behind. */
static void tg__continue(struct tg *t)
{
	if(t->stopping)
		return;
	if(t->queue.n > TG_QUEUE_HIGH && !t->webhook) {
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
	char chat[TG_CHAT_MAX];
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
	json_t *o = res->status == 200 ? tg_json_load(res->body, res->body_len, &jerr) : NULL;
	json_t *list = json_object_get(o, "result");
	free(a->ids);
	a->ids = NULL;
	a->n = 0;
	a->fetched_ms = clock_now_ms();
	if(json_is_true(json_object_get(o, "ok")) && json_is_array(list)) {
		a->ids = calloc(json_array_size(list) + 1, sizeof(*a->ids));
		size_t i;
		json_t *m;
		json_array_foreach(list, i, m)
		{
			json_t *id = json_object_get(json_object_get(m, "user"), "id");
			if(a->ids && json_is_integer(id))
				text_int(a->ids[a->n++], sizeof(a->ids[0]), (long long)json_integer_value(id));
		}
	} else {
		log_warn("cannot read the administrators of chat %s (%ld): nobody is admin there for now", req->chat,
		         res->status);
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
		bool refusable = u->kind == TG_MESSAGE && u->text && u->text[0] == '/' && !u->anonymous &&
		                 tg__role(t, u->chat_id, u->sender_id) != ROLE_ADMIN;
		int64_t ttl = 1000LL * (refusable ? t->cfg->admin_recheck_s : t->cfg->admin_cache_s);
		if(a->fetched_ms && now - a->fetched_ms < ttl)
			continue;
		a->fetched_ms = now; /* asked: not again for this batch */
		struct tg_admin_req *req = calloc(1, sizeof(*req));
		if(!req)
			continue;
		req->t = t;
		tg_chat_split(u->chat_id, req->chat, sizeof(req->chat));
		char body[96];
		snprintf(body, sizeof(body), "{\"chat_id\":%s}", req->chat);
		t->admin_fetches++;
		if(tg__call(t, "getChatAdministrators", body, 30000, tg__admins_done, req) < 0) {
			t->admin_fetches--;
			free(req);
		}
	}
	tg__run_held(t);
}

void tg__poll(struct tg *t)
{
	if(t->stopping || t->poll_req || t->parse_job || t->throttled)
		return;
	int timeout = t->cfg->poll_timeout;
	json_t *body = json_pack("{s:I,s:i,s:i,s:[s,s,s,s,s,s]}", "offset", (json_int_t)t->offset, "timeout", timeout,
	                         "limit", 100, "allowed_updates", "message", "edited_message", "callback_query", "poll",
	                         "poll_answer", "my_chat_member");
	char *text = json_text(body);
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
	if(t->stopping || !t->ready || t->held || t->in_batch || t->admin_fetches || !t->ninbox)
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
	free(u); /* the array only: its strings moved */
	return 0;
}

/* A posted update is stored before it is answered: not while a thread
 * holds the database, which the loop would wait for (the post waits
 * instead, its connection open). */
static bool tg__webhook_ready(void *user)
{
	const struct tg *t = user;
	return !db_busy(t->b->db);
}

/* A posted update whose store is committed on a thread, its post
 * answered once it has: on PostgreSQL, where the loop would otherwise wait
 * for the server's round trips and its flush to disk at every post. */
struct tg_hook {
	struct tg *t; /* NULL once the adapter is released */
	struct http_later *promise;
	struct tg_update *u;
	size_t n;
	char key[48];
	char *body;
	struct tg_hook *next; /* in t->hooks */
};

/* db_transact_run's step, on a thread: the update stored as posted. */
static int tg__hook_store(struct db *db, void *user)
{
	struct tg_hook *h = user;
	return db_kv_set(db, h->key, h->body);
}

/* The update accepted (200) once stored, and on to a batch; refused (500:
 * Telegram posts it again) when it could not be. */
static void tg__hook_stored(void *user, int rc)
{
	struct tg_hook *h = user;
	struct tg *t = h->t;
	struct http_response res = { .status = 200 };
	for(struct tg_hook **p = t ? &t->hooks : NULL; p && *p; p = &(*p)->next)
		if(*p == h) {
			*p = h->next;
			break;
		}
	/* Released meanwhile (a stop), the stored update is handled at the
	 * next start, which loads the inbox. */
	bool kept = !rc && t && !tg__inbox_add(t, h->u, h->n);
	if(!kept) {
		tg_updates_free(h->u, h->n);
		if(rc || t) {
			log_error("webhook: cannot store an update: Telegram will send it again (500)");
			res.status = 500;
		}
	} else {
		t->a->heard_ms = clock_mono_ms();
	}
	http_later_answer(h->promise, &res);
	if(kept)
		tg__webhook_next(t);
	free(h->body);
	free(h);
}

/* Stores the n updates u posted as body (blen bytes) on a thread and
 * answers later: 0 when that started (u is then the hook's), -1 when it
 * could not (nothing changed: the caller stores them itself). */
static int tg__hook_start(struct tg *t, const struct http_request *req, const char *body, size_t blen,
                          struct tg_update *u, size_t n)
{
	struct tg_hook *h = calloc(1, sizeof(*h));
	if(!h || !(h->body = strndup(body, blen)))
		goto fail;
	h->t = t;
	h->u = u;
	h->n = n;
	tg__inbox_key(h->key, sizeof(h->key), u[0].update_id);
	if(!(h->promise = http_request_later(req)))
		goto fail;
	if(db_transact_run(t->b->db, t->b->loop, tg__hook_store, tg__hook_stored, h)) {
		/* Not started: the promise withdrawn, answered now by the caller. */
		http_later_void(h->promise);
		log_warn("webhook: cannot store an update on a thread: stored here");
		goto fail;
	}
	h->next = t->hooks;
	t->hooks = h;
	return 0;
fail:
	if(h)
		free(h->body);
	free(h);
	return -1;
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
	 * ours to keep across a crash.  On PostgreSQL on a thread, the answer
	 * promised until it has committed. */
	if(n && db_round_trips(t->b->db) && !tg__hook_start(t, req, body, blen, u, n))
		return 0;
	char key[48];
	int rc = -1;
	if(n) {
		tg__inbox_key(key, sizeof(key), u[0].update_id);
		char *copy = strndup(body, blen);
		if(copy && !db_kv_put(t->b->db, key, copy))
			rc = 0;
		free(copy);
	} else {
		rc = 0;
	}
	if(rc || tg__inbox_add(t, u, n)) {
		tg_updates_free(u, n);
		log_error("webhook: cannot store an update: Telegram will send it again (500)");
		res->status = 500;
		return 0;
	}
	res->status = 200;
	t->a->heard_ms = clock_mono_ms();
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

/* How often webhook mode asks getWebhookInfo (tg__check_webhook), in
 * milliseconds: poll_timeout, as long as a long poll may stay silent, and
 * at least a second. */
static uint64_t tg__check_every(const struct tg *t)
{
	return t->cfg->poll_timeout > 0 ? (uint64_t)t->cfg->poll_timeout * 1000 : 1000;
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
	log_info("webhook set: Telegram posts to %s", t->cfg->webhook_url);
	uv_timer_start(&t->poll_timer, tg__on_poll_timer, tg__check_every(t), 0);
	tg__webhook_next(t);
}

static void tg__webhook_checked(void *user, const struct http_result *res)
{
	struct tg *t = user;
	if(t->stopping)
		return;
	/* What it answered matters less than that it did (tg__answered). */
	if(res->status != 200)
		log_debug("getWebhookInfo failed (%ld)", res->status);
	uv_timer_start(&t->poll_timer, tg__on_poll_timer, tg__check_every(t), 0);
}

/* In webhook mode Telegram calls only when there is something to post: a
 * quiet group would leave the bot without a word from the platform for
 * hours, which GET /healthz would take for an outage.  getWebhookInfo
 * every tg__check_every is that word. */
static void tg__check_webhook(struct tg *t)
{
	if(tg__call(t, "getWebhookInfo", "{}", 30000, tg__webhook_checked, t) < 0)
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, tg__check_every(t), 0);
}

/* setWebhook with this run's secret (an earlier run's no longer works). */
static void tg__set_webhook(struct tg *t)
{
	json_t *body = json_pack("{s:s,s:s,s:[s,s,s,s,s,s],s:b}", "url", t->cfg->webhook_url, "secret_token", t->secret,
	                         "allowed_updates", "message", "edited_message", "callback_query", "poll",
	                         "poll_answer", "my_chat_member", "drop_pending_updates", 0);
	char *text = body ? json_text(body) : NULL;
	json_decref(body);
	if(!text || tg__call(t, "setWebhook", text, 30000, tg__webhook_set, t) < 0)
		uv_timer_start(&t->poll_timer, tg__on_poll_timer, 5000, 0);
	free(text);
}

/* ---- start-up ---- */

/* The command menu, in English (the default) and French, from the
 * dispatcher's table.  Telegram takes only names of 1 to 32 lowercase
 * letters, digits and underscores: a name it would refuse shows as the
 * English one. */
static void tg__set_commands(struct tg *t)
{
	static const char *const langs[] = { "en", "fr" };
	for(int l = 0; l < 2; l++) {
		json_t *list = json_array();
		for(int i = 0; i < ncommands; i++) {
			if(commands[i].flags & CMD_HIDDEN)
				continue;
			const char *name = dispatch_display_name(langs[l], &commands[i]);
			size_t len = strlen(name);
			if(!len || len > 32 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
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
	json_t *o = res->status == 200 ? tg_json_load(res->body, res->body_len, &jerr) : NULL;
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
	text_copy(t->username, sizeof(t->username), name);
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
	t->queue.db = b->db;
	t->queue.loop = b->loop;
	t->cfg = telegram_config(b->cfg);
	struct strbuf base = STRBUF_INIT;
	const char *url = t->cfg->api_url;
	strbuf_addf(&base, "%s%sbot%s/", url, url[strlen(url) - 1] == '/' ? "" : "/", t->cfg->token);
	t->base = strbuf_detach(&base);
	if(!t->base)
		return -1;
	log_add_secret(t->cfg->token);
	struct strbuf off = STRBUF_INIT;
	if(db_kv_get(b->db, "telegram.offset", &off) == 1)
		t->offset = atoll(off.buf);
	strbuf_release(&off);
	/* The long poll's wait, or in webhook mode the time between two
	 * getWebhookInfo. */
	a->quiet_ms = (int64_t)tg__check_every(t) + ADAPTER_QUIET_MARGIN_MS;
	if(!strcmp(t->cfg->mode, "webhook")) {
		/* A fresh secret each run, of the characters the Bot API allows. */
		static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
		unsigned char rnd[40];
		if(!a->host->listener || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			log_error("webhook mode needs [http] listen and the system's random numbers");
			return -1;
		}
		for(size_t i = 0; i < sizeof(rnd); i++)
			t->secret[i] = abc[rnd[i] & 63];
		t->secret[sizeof(rnd)] = 0;
		log_add_secret(t->secret);
		t->webhook = true;
		if(http_server_route_when(a->host->listener, "POST", t->cfg->webhook_path, tg__on_webhook, t,
		                          tg__webhook_ready))
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
	return !t->queue.head && !t->queue.out;
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
		http_client_cancel(t->a->host->client, t->poll_req);
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
	tg__queue_release(t);
	for(int i = 0; i < TG_CHATS; i++)
		free(t->admins[i].ids);
	tg_updates_free(t->held, t->nheld);
	tg_updates_free(t->inbox, t->ninbox);
	if(t->parse_job) /* its end frees it */
		t->parse_job->t = NULL;
	if(t->polls_reading) /* its end frees it */
		t->poll_read->t = NULL;
	else
		tg__poll_read_free(t->poll_read);
	for(struct tg_hook *h = t->hooks; h; h = h->next) /* their ends free them */
		h->t = NULL;
	free(t->base);
	free(t);
	a->priv = NULL;
}

static void tg__resume_op(struct adapter *a)
{
	tg__resume(a->priv);
}

const struct adapter_ops telegram_adapter_ops = {
	.name = "telegram",
	.config = &telegram_config_section,
	.configured = tg__configured,
	.start = tg__start,
	.deliver = tg__deliver,
	.resume = tg__resume_op,
	.idle = tg__idle,
	.stop = tg__stop,
	.release = tg__release,
};
