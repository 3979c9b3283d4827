/*
 * telegram_internal: what the two files of the Telegram adapter share
 * (telegram.c: start-up, receiving, webhook, admins; telegram_send.c: the
 * send queue and rendering).  Nothing else includes it.
 */
#ifndef ENSEMBLE_TELEGRAM_INTERNAL_H
#define ENSEMBLE_TELEGRAM_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "adapters/http_client.h"
#include "adapters/send_queue.h"
#include "adapters/telegram_config.h"
#include "adapters/telegram_parse.h"

struct action;

#define TG_MAX_ATTEMPTS 8
#define TG_CHATS 256
/* One send out at a time: Telegram has no idempotent send, so a crash may
 * repeat what was out, and one message is the most that may be.  (Its
 * limits, 30 messages a second, leave nothing for parallel sends to gain.) */
#define TG_MAX_INFLIGHT 1
#define TG_QUEUE_HIGH 1000 /* more queued: stop taking updates ... */
#define TG_QUEUE_LOW 200   /* ... until the queue is down to this */

/* A group's administrators, as getChatAdministrators last said. */
struct tg_admins {
	char chat[TG_CHAT_MAX];
	uint32_t hash;      /* of chat (tg__admins): compared before it */
	int64_t fetched_ms; /* 0: never */
	char (*ids)[24];
	size_t n;
};

struct tg;

struct tg_send {
	struct sq_entry entry; /* first: the queue's link (send_queue.h) */
	struct tg *owner;
	char method[24];
	char *body; /* JSON, owned */
	char chat[TG_CHAT_MAX];
	char *poll_ref; /* sendPoll: the core's ref to map */
	char *msg_ref;  /* sendMessage: the core's ref of what it shows,
	                   remembered for later edits */
	char *edit_ref; /* editMessageText asked while the message of this
	                   ref was still on its way: its message_id is
	                   filled in when the edit leaves (tg__start) */
	/* Answered, what is to be stored (tg__store): the message's id, and
	 * a poll's id ("" for none). */
	long long sent_id;
	bool has_sent_id;
	char sent_poll[72];
};

#define TG_GROUP_WINDOW 64 /* sends remembered per chat, for the per-minute limit */

struct tg_chat_clock {
	char chat[TG_CHAT_MAX];
	int64_t last_ms;
	int64_t recent[TG_GROUP_WINDOW]; /* the last sends, a ring */
	unsigned nrecent;
};

/* What the sends of this run became, remembered by the adapter: the
 * newest over the oldest.  A few hundred cover the weeks in which people
 * vote on a poll and answer a meetup's card. */
#define TG_SENT 512

/* A sent poll or kept message, as Telegram's answer told: what the keys
 * telegram.poll.ID, telegram.ref.REF and telegram.msg.REF hold in the
 * database, kept so that a vote, a poll's closing or a card's edit needs
 * no read on the loop (on PostgreSQL a round trip). */
struct tg_sent {
	char key[80]; /* "p" and the poll's id, "r" or "m" and the ref */
	char chat[TG_CHAT_MAX];
	char ref[64]; /* "p": the poll's ref */
	long long message_id;
};

struct tg {
	struct adapter *a;
	struct bot *b;
	const struct telegram_config *cfg; /* [telegram], borrowed from b->cfg */
	char *base;                        /* api_url/bot<TOKEN>/ : never logged as is */
	char username[64];
	bool ready; /* getMe answered */
	bool stopping;
	long poll_req;                  /* the getUpdates in flight, or 0 */
	struct tg_parse_job *parse_job; /* its answer, being parsed */
	/* The polls the held batch's answers name, read on a thread
	 * (tg__polls_start): reading while running, then kept for the
	 * batch's events. */
	struct tg_poll_read *poll_read;
	bool polls_reading;
	int64_t offset;
	int poll_backoff_ms;
	long retry_poll_ms; /* > 0: wait this long before the next poll */
	struct send_queue queue;
	bool throttled; /* polling paused: the queue is long */
	int64_t last_send_ms;
	struct tg_chat_clock chats[TG_CHATS];
	struct tg_admins admins[TG_CHATS];
	struct tg_update *held; /* a batch waiting for admin lists */
	size_t nheld;
	bool in_batch;     /* a batch is with the core (until
	                      tg__batch_done) */
	int admin_fetches; /* getChatAdministrators in flight */
	uv_timer_t poll_timer, send_timer;
	int open_timers;
	bool webhook;            /* mode = webhook */
	bool webhook_set;        /* setWebhook answered: updates may come */
	char secret[48];         /* this run's secret_token */
	struct tg_update *inbox; /* webhook updates waiting for a batch */
	size_t ninbox;
	struct tg_hook *hooks;        /* posted updates being stored on a thread */
	struct tg_sent sent[TG_SENT]; /* what this run's sends became */
	unsigned nsent;               /* how many so far (a ring) */
};

/* telegram.c */
/* Starts a Bot API call with a JSON body.  A request id, or -1. */
long tg__call(struct tg *t, const char *method, const char *body, long timeout_ms, http_done_fn done, void *user);
/* Starts the next getUpdates unless one is out or polling is paused. */
void tg__poll(struct tg *t);

/* What kind and key became, from the memory of this run's sends (struct
 * tg_sent, on the loop's thread): kind 'p' (a poll's id), 'r' (a poll's
 * ref) or 'm' (a kept message's ref).  What the memory does not hold is
 * read from the database, and remembered when found.  True when sent,
 * with chat (TG_CHAT_MAX bytes), ref (64 bytes, when not NULL) and
 * *message_id filled. */
bool tg__sent_find(struct tg *t, char kind, const char *key, char *chat, char *ref, long long *message_id);
/* As tg__sent_find, from the memory alone (no read). */
bool tg__sent_recall(const struct tg *t, char kind, const char *key, char *chat, char *ref, long long *message_id);
/* As tg__sent_find, from value, what the database holds for kind and key
 * (read elsewhere, on a thread): parsed into chat, ref and *message_id and
 * remembered.  False when it does not parse. */
bool tg__sent_stored(struct tg *t, char kind, const char *key, const char *value, char *chat, char *ref,
                     long long *message_id);
/* The database's key of kind and key, into out; out. */
const char *tg__sent_key(char kind, const char *key, char *out, size_t outlen);

/* telegram_send.c */
/* Queues a call for chat (NULL: none), taking body; stored_id is the outbox
 * row to acknowledge (0: none); poll_ref maps a sent poll.  0 or -1. */
int tg__enqueue(struct tg *t, const char *method, json_t *body, const char *chat, int64_t stored_id,
                const char *poll_ref);
/* Sends what may leave now. */
void tg__pump(struct tg *t);
/* After a batch of the core, or a commit on a thread: the answers held
 * meanwhile are stored, then the sends held back go (adapter_ops.resume). */
void tg__resume(struct tg *t);
/* Frees every queued message without acknowledging it (at release): they
 * are sent again at the next start. */
void tg__queue_release(struct tg *t);
/* The adapter's deliver(). */
int tg__deliver(struct adapter *a, const struct action *act);

#endif
