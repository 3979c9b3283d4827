#include "bot/bot.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/http_client.h"
#include "adapters/http_server.h"
#include "bot/clock.h"
#include "bot/dispatch.h"
#include "bot/i18n.h"
#include "bot/log.h"
#include "config/config.h"
#include "storage/db.h"

#define LOG_MODULE "bot"

static void bot__on_signal(uv_signal_t *h, int signum)
{
	struct bot *b = h->data;
	log_info("received %s, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	bot_stop(b, 0);
}

static void bot__flush_delivered(struct bot *b, bool all);

static void bot__on_prepare(uv_prepare_t *h)
{
	bot__flush_delivered(h->data, false);
}

int bot_init(struct bot *b, uv_loop_t *loop, struct config *cfg, struct db *db)
{
	memset(b, 0, sizeof(*b));
	b->loop = loop;
	b->cfg = cfg;
	b->db = db;
	b->started_ms = clock_now_ms();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	b->key_epoch = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(loop, &b->sig_int);
	uv_signal_init(loop, &b->sig_term);
	b->sig_int.data = b->sig_term.data = b;
	if(uv_signal_start(&b->sig_int, bot__on_signal, SIGINT) ||
	   uv_signal_start(&b->sig_term, bot__on_signal, SIGTERM)) {
		log_error("cannot install signal handlers");
		return -1;
	}
	/* Signal handlers alone must not keep the loop alive. */
	uv_unref((uv_handle_t *)&b->sig_int);
	uv_unref((uv_handle_t *)&b->sig_term);
	uv_prepare_init(loop, &b->flush);
	uv_timer_init(loop, &b->drain);
	b->drain.data = b;
	b->flush.data = b;
	uv_prepare_start(&b->flush, bot__on_prepare);
	uv_unref((uv_handle_t *)&b->flush);
	if(sched_init(&b->sched, b))
		return -1;
	if(http_client_new(&b->client, loop)) {
		log_error("cannot create the HTTP client");
		return -1;
	}
	return 0;
}

int bot_add_adapter(struct bot *b, const struct adapter_ops *ops)
{
	if(b->nadapters == BOT_MAX_ADAPTERS) {
		log_error("too many adapters");
		return -1;
	}
	struct adapter *a = &b->adapters[b->nadapters];
	memset(a, 0, sizeof(*a));
	a->ops = ops;
	a->bot = b;
	if(ops->start(a)) {
		log_error("the %s adapter could not start", ops->name);
		if(ops->release)
			ops->release(a);
		return -1;
	}
	b->nadapters++;
	log_info("%s adapter started", ops->name);
	return 0;
}

static struct adapter *bot__adapter(struct bot *b, const char *platform)
{
	for(int i = 0; i < b->nadapters; i++)
		if(!strcmp(b->adapters[i].ops->name, platform))
			return &b->adapters[i];
	return NULL;
}

void bot_action_done(struct bot *b, int64_t stored_id)
{
	db_outbox_done(b->db, stored_id, clock_mono_ms());
}

int bot_store_actions(struct bot *b, struct outbox *ob)
{
	if(db_outbox_forget(b->db))
		return -1;
	for(size_t i = 0; i < ob->n; i++) {
		/* Every stored action has a key, so that a platform that makes
		 * sends idempotent (Matrix's transaction ids) never posts it
		 * twice: one not derived from an event gets the start time and a
		 * counter, unique across restarts. */
		if(!ob->v[i].key) {
			char key[48];
			snprintf(key, sizeof(key), "o%lld.%llu", (long long)b->key_epoch,
			         (unsigned long long)++b->key_seq);
			if(action_set(&ob->v[i].key, key))
				return -1;
		}
		char *json = action_to_json(&ob->v[i]);
		int rc = json ? db_outbox_add(b->db, json, clock_now_ms(), &ob->v[i].stored_id) : -1;
		free(json);
		if(rc)
			return -1;
	}
	return 0;
}

void bot_deliver(struct bot *b, struct outbox *ob)
{
	for(size_t i = 0; i < ob->n; i++) {
		struct action *act = &ob->v[i];
		struct adapter *a = bot__adapter(b, act->platform);
		if(!a) {
			/* Kept in the outbox for when that adapter runs again. */
			log_warn("no %s adapter running: a message for chat %s waits in the outbox",
			         act->platform, act->chat_id);
			continue;
		}
		int rc = a->ops->deliver(a, act);
		if(rc <= 0)  /* delivered, or failed for good (logged) */
			bot_action_done(b, act->stored_id);
	}
}

static int bot__resend_one(void *user, int64_t id, const char *json)
{
	struct bot *b = user;
	struct outbox ob;
	outbox_init(&ob);
	if(action_from_json(&ob, json)) {
		log_error("outbox row %lld is not an action: dropped", (long long)id);
		bot_action_done(b, id);
	} else {
		ob.v[0].stored_id = id;
		bot_deliver(b, &ob);
	}
	outbox_release(&ob);
	return 0;
}

/* Sends what was stored but maybe not delivered before the last stop. */
static void bot__resend_outbox(struct bot *b)
{
	if(db_outbox_each(b->db, bot__resend_one, b))
		log_error("could not read the outbox");
}

/* Deletes delivered rows in a transaction of their own, when enough wait
 * (each is already in the journal of deliveries), or all of them at a
 * stop. */
static void bot__flush_delivered(struct bot *b, bool all)
{
	if(db_in_transaction(b->db))
		return;
	if(!db_outbox_should_forget(b->db, all ? INT64_MAX : clock_mono_ms()))
		return;
	if(db_begin(b->db) || db_outbox_forget(b->db) || db_commit(b->db))
		db_rollback(b->db);
}

/* Tells the sender that nothing changed, after a rollback. */
static void bot__apologise(struct bot *b, const struct event *ev)
{
	struct db_chat chat;
	const char *lang = b->cfg->lang;
	if(db_chat_get(b->db, ev->platform, ev->chat_id, b->cfg->lang, b->cfg->timezone, &chat) >= 0)
		lang = chat.lang;
	struct strbuf sb = STRBUF_INIT;
	struct outbox ob;
	outbox_init(&ob);
	i18n_fmt(&sb, lang, "dispatch.error", NULL);
	struct action *a = outbox_push(&ob, ev->message_id ? ACTION_REPLY : ACTION_SEND_TEXT,
	                               ev->platform, ev->chat_id, sb.buf);
	if(a && ev->message_id)
		action_set(&a->reply_to, ev->message_id);
	bot_deliver(b, &ob);
	outbox_release(&ob);
	strbuf_release(&sb);
}

int bot_handle_batch(struct bot *b, const struct event *evs, size_t n,
                     int (*state_fn)(void *user, struct db *db), void *user)
{
	struct outbox ob;
	outbox_init(&ob);
	int rc = -1;
	size_t failed = n;
	if(db_begin(b->db)) {
		/* The database refuses a transaction (locked, full, read-only).
		 * An adapter with a state to store fetches the batch again; for
		 * the others this is the end of these events: say so. */
		if(!state_fn) {
			for(size_t i = 0; i < n; i++) {
				log_error("an event from %s in chat %s could not be stored",
				          evs[i].sender_id ? evs[i].sender_id : "?", evs[i].chat_id);
				if(evs[i].kind == EVENT_MESSAGE && evs[i].text &&
				   (evs[i].text[0] == '/' || evs[i].text[0] == '!'))
					bot__apologise(b, &evs[i]);
			}
		}
		goto out;
	}
	for(size_t i = 0; i < n; i++) {
		if(dispatch_event(b, &evs[i], &ob)) {
			failed = i;
			break;
		}
	}
	if(failed < n || (state_fn && state_fn(user, b->db)) || bot_store_actions(b, &ob)) {
		db_rollback(b->db);
		goto fail;
	}
	/* Committed before any reply leaves: a reply never announces what
	 * was not stored. */
	if(db_commit(b->db))
		goto fail;
	bot_deliver(b, &ob);
	sched_rearm(&b->sched);
	rc = 0;
	goto out;
fail:
	outbox_release(&ob);
	if(n > 1) {
		/* One bad event must not cost the others: each alone, then the
		 * adapter's state by itself. */
		rc = 0;
		for(size_t i = 0; i < n; i++)
			rc |= bot_handle_batch(b, &evs[i], 1, NULL, NULL);
		if(state_fn && (db_begin(b->db) || state_fn(user, b->db) || db_commit(b->db))) {
			db_rollback(b->db);
			rc = -1;
		}
		return rc;
	}
	if(n == 1) {
		log_error("an event from %s in chat %s was rolled back",
		          evs[0].sender_id ? evs[0].sender_id : "?", evs[0].chat_id);
		bot__apologise(b, &evs[0]);
	}
out:
	outbox_release(&ob);
	return rc;
}

int bot_handle_event(struct bot *b, const struct event *ev)
{
	return bot_handle_batch(b, ev, 1, NULL, NULL);
}

void bot_run(struct bot *b)
{
	bot__resend_outbox(b);
	sched_run_due(&b->sched);
}

void bot_advance_to(struct bot *b, int64_t target_ms)
{
	sched_advance(&b->sched, target_ms);
}

#define BOT_DRAIN_MS 5000

/* The end of a stop: what was delivered is forgotten, the rest waits in
 * the outbox, every handle closes. */
static void bot__finish_stop(struct bot *b)
{
	bot__flush_delivered(b, true);
	if(b->client) {
		http_client_close(b->client);
		b->client = NULL;
	}
	uv_close((uv_handle_t *)&b->drain, NULL);
	uv_close((uv_handle_t *)&b->sig_int, NULL);
	uv_close((uv_handle_t *)&b->sig_term, NULL);
	uv_close((uv_handle_t *)&b->flush, NULL);
}

static void bot__on_drain(uv_timer_t *h)
{
	struct bot *b = h->data;
	if(b->client && http_client_pending(b->client) && clock_mono_ms() < b->drain_deadline)
		return;
	if(b->client && http_client_pending(b->client))
		log_warn("stopping with %zu request(s) unanswered: their messages wait in the outbox",
		         http_client_pending(b->client));
	uv_timer_stop(h);
	bot__finish_stop(b);
}

void bot_stop(struct bot *b, int exit_code)
{
	if(b->stopping)
		return;
	b->stopping = true;
	b->exit_code = exit_code;
	bot__flush_delivered(b, true);
	/* Adapters stop receiving (their long polls are cancelled) and send
	 * nothing new; what is in flight may still be answered. */
	for(int i = 0; i < b->nadapters; i++)
		if(b->adapters[i].ops->stop)
			b->adapters[i].ops->stop(&b->adapters[i]);
	sched_close(&b->sched);
	http_server_stop(b->http);
	if(b->client && http_client_pending(b->client)) {
		b->drain_deadline = clock_mono_ms() + BOT_DRAIN_MS;
		uv_timer_start(&b->drain, bot__on_drain, 20, 20);
		return;
	}
	bot__finish_stop(b);
}

void bot_release(struct bot *b)
{
	for(int i = 0; i < b->nadapters; i++)
		if(b->adapters[i].ops->release)
			b->adapters[i].ops->release(&b->adapters[i]);
	b->nadapters = 0;
	/* The listener's handles have closed by now: free its context. */
	http_server_free(b->http);
	b->http = NULL;
}

int bot_start_http(struct bot *b)
{
	const char *listen = b->cfg->http_listen;
	if(!*listen)
		return 0;
	/* "ADDRESS:PORT", checked when the configuration was read. */
	const char *colon = strrchr(listen, ':');
	char addr[128];
	snprintf(addr, sizeof(addr), "%.*s", (int)(colon - listen), listen);
	struct http_server_options opt = {
		.address = addr, .port = atoi(colon + 1), .max_body = (size_t)b->cfg->http_max_body,
		.healthz = true,
		.cert_file = *b->cfg->http_tls_cert ? b->cfg->http_tls_cert : NULL,
		.key_file = *b->cfg->http_tls_key ? b->cfg->http_tls_key : NULL,
	};
	if(http_server_new(&b->http, b->loop, &opt))
		return -1;
	return 0;
}
