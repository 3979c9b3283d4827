/*
 * matrix_internal: what the two files of the Matrix adapter share
 * (matrix.c: session, sync, rooms, receiving; matrix_send.c: the send
 * queue and rendering).  Nothing else includes it.
 */
#ifndef ENSEMBLE_MATRIX_INTERNAL_H
#define ENSEMBLE_MATRIX_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "adapters/adapter.h"
#include "adapters/http_client.h"
#include "adapters/matrix_config.h"
#include "adapters/matrix_parse.h"
#include "adapters/send_queue.h"
#include "lib/strbuf.h"

struct action;
struct config;
struct db;

#define MX_MAX_ATTEMPTS 8
#define MX_ROOMS 256
#define MX_ROOM_SLOTS (2 * MX_ROOMS) /* the index of the rooms by id */
#define MX_FILTER_VERSION "2"
#define MX_SEEN_DAYS 7
#define MX_MAX_INFLIGHT 4                       /* sends out at once, never two for one room */
#define MX_QUEUE_HIGH 1000                      /* more queued: stop syncing ... */
#define MX_QUEUE_LOW 200                        /* ... until the queue is down to this */
#define MX_FILL_PAGES 10                        /* a gap is read back at most this many pages */
#define MX_FILL_PAGE 100                        /* ... of this many events */
#define MX_FILL_MAX_AGE_MS (24LL * 3600 * 1000) /* ... and no further back */
#define MX_MEMO 4096                            /* slots of what sends became (matrix_memo.c) */

/* What the bot knows of a room between syncs; also kept in kv
 * matrix.room.<id> so that it survives restarts. */
struct mx_room_state {
	char id[256];
	json_t *pl; /* m.room.power_levels content, or NULL */
	bool encrypted, warned, dirty;
	long joined;     /* joined members, -1 unknown */
	json_t *members; /* user id -> "join" or "invite", from the
	                    member events (the summary comes only with
	                    lazily loaded members); NULL: not known */
	bool asking;     /* /joined_members is out for it */
	bool unreadable; /* ... and failed: not asked again while cached */
	char title[256]; /* m.room.name, to store as the chat's title */
	bool titled;     /* ... in the next batch's transaction */
	int64_t used_ms;
	int64_t last_send_ms;
};

enum mx_after {
	MX_AFTER_NONE,
	MX_AFTER_POLL, /* a poll start: map its event to the ref */
	MX_AFTER_RSVP, /* a message with RSVP buttons: react under it */
};

struct mx;

struct mx_kv {
	char *key, *value; /* value NULL: delete */
	char *room, *user; /* whom it names, where (db_kv_set_about) */
};

/* One slot of the memory of what sends became (matrix_memo.c): value
 * NULL with a key says the key is absent. */
struct mx_memo {
	char *key, *value;
};

/* The gap before a limited timeline, read back from /messages. */
struct mx_fill {
	struct mx_fill *next;
	struct mx *m;
	size_t room;         /* its index in the held sync's rooms */
	struct mx_event *ev; /* newest first, owned; room set at the merge */
	size_t n;
	int pages;
};

struct mx_send {
	struct sq_entry entry; /* first: the queue's link (send_queue.h) */
	struct mx *owner;
	char *room;    /* NULL while a direct chat is being made */
	char *dm_user; /* ACTION_SEND_PRIVATE: the person */
	char type[48];
	char *txn;
	char *content; /* JSON */
	enum mx_after after;
	char *ref;     /* MX_AFTER_POLL: the core's ref; RSVP: meetup id */
	char *msg_ref; /* the core's ref of what a message shows, kept
	                  (matrix.msg.<ref>) for later edits */
	int n_answers;
	char *held_eid;       /* answered: its event id, to store (mx__store) */
	char *edit_ref;       /* an edit asked while the message of this ref was
	                         still on its way: the event it replaces is filled
	                         in when the edit leaves (mx__start) */
	struct mx_kv *writes; /* answered: the kv writes that store what it
	                         became, made on the loop when the answer
	                         came (mx__store writes them, on a thread
	                         on PostgreSQL) */
	size_t nwrites;
	bool failed; /* ... which could not be made (out of memory) */
};

struct mx {
	struct adapter *a;
	struct bot *b;
	const struct config *cfg;
	const struct matrix_config *mcfg; /* [matrix], borrowed from cfg */
	char *hs;                         /* homeserver base URL, without a final '/' */
	char *token;                      /* never logged */
	char device[128];
	char user[256];
	char localpart[128];
	char filter_id[128];
	char *since;     /* next_batch of the last handled sync */
	bool first_sync; /* no since yet: skip the backlog */
	bool ready;      /* logged in, filter made */
	bool stopping;
	bool logging_in;
	atomic_bool unreachable; /* the last sync or send met a network
	                            error or a 5xx: the scheduler holds this
	                            platform's jobs until a request goes
	                            through (read from the scheduler's
	                            thread on PostgreSQL: atomic) */
	long sync_req;
	int sync_backoff_ms;
	long retry_sync_ms;  /* > 0: wait this long before the next sync */
	struct mx_sync held; /* a sync waiting for its joins */
	bool holding;
	bool in_batch;         /* the held sync's batch is with the core (mx__batch_done ends it) */
	int joins;             /* joins in flight for the held sync */
	int fills_out;         /* gaps being read for it */
	struct mx_fill *fills; /* ... and read */
	char (*joined)[256];   /* rooms joined for the held sync: greet them */
	size_t njoined;
	struct send_queue queue;
	bool throttled; /* syncing paused: the queue is long */
	struct mx_room_state rooms[MX_ROOMS];
	unsigned short room_slot[MX_ROOM_SLOTS]; /* rooms by id: index + 1, 0 free */
	struct mx_kv *kv;                        /* writes for the next batch's transaction */
	size_t nkv;
	struct mx_memo memo[MX_MEMO]; /* what sends became (matrix_memo.c) */
	/* Which of the held sync's events were handled before, read on a
	 * thread where each read is a round trip (PostgreSQL): */
	bool *seen;        /* ... the answer, one per event, or NULL */
	bool seen_reading; /* ... being read */
	bool seen_failed;  /* ... could not be: read on the loop then */
	/* ... and with them, what the last run knew of its rooms not seen yet
	 * in this one (their kv rows), for mx__room to take. */
	struct mx_room_ahead *room_ahead;
	size_t nroom_ahead;
	/* Display names seen in member events, newest first over. */
	struct {
		char user[256];
		char name[128];
	} names[64];
	unsigned nnames;
	uv_timer_t sync_timer, send_timer;
	int open_timers;
	unsigned batches;
};

/* What an error answer asks for. */
enum mx_verdict { MX_OK, MX_RETRY, MX_RELOGIN, MX_FORBIDDEN, MX_FAILED };

/* matrix.c */
/* Starts a client-server API call: path is what follows /_matrix/client/
 * and is already encoded.  A request id, or -1. */
long mx__call(struct mx *m, const char *method, const char *path, const char *body, long timeout_ms, http_done_fn done,
              void *user);
/* Reads a failed answer: what to do, and how long to wait first. */
enum mx_verdict mx__verdict(const struct http_result *res, long *wait_ms, int attempts, char *errcode, size_t errlen);
/* The state kept of room id (loaded from kv on first use); never NULL. */
struct mx_room_state *mx__room(struct mx *m, const char *id);
/* One kv write, value NULL deleting: in mx__settle's transaction while it
 * is open, else in a transaction of its own. */
void mx__kv_now(struct mx *m, const char *key, const char *value);
/* As mx__kv_now, for state that names user (in room, or NULL: in none),
 * which /forget me takes out. */
void mx__kv_now_about(struct mx *m, const char *key, const char *value, const char *room, const char *user);
/* kv value of prefix+id appended to out: 1, 0 when absent, -1.  From the
 * writes waiting for the next batch, else what sends became (the memory,
 * then the answers not stored yet), else the database: what the adapter
 * wrote is read without waiting for it to be stored. */
int mx__kv_get(struct mx *m, const char *prefix, const char *id, struct strbuf *out);
/* Frees the n writes of kv and the array. */
void mx__kv_free(struct mx_kv *kv, size_t n);
/* Logs in again with the password, or stops the bot without one. */
void mx__login(struct mx *m);
/* Starts the next /sync unless one is out, held, or paused. */
void mx__sync(struct mx *m);

/* matrix_memo.c: what the adapter's own sends became, kept in memory so
 * that reading it needs no round trip on the loop (see the file). */
/* True when key is one the memory keeps. */
bool mx__memo_kept(const char *key);
/* key's value appended to out: 1, 0 when known absent, 2 when the memory
 * does not hold key, -1 when out of memory. */
int mx__memo_get(const struct mx *m, const char *key, struct strbuf *out);
/* Remembers key's value (copied; NULL: absent) over what its slot held;
 * a key the memory does not keep is ignored. */
void mx__memo_put(struct mx *m, const char *key, const char *value);
/* Frees what the memory holds. */
void mx__memo_release(struct mx *m);

/* matrix_send.c */
/* Queues one event for room (or, room NULL, for a direct chat with
 * dm_user).  content is the event's content as JSON: its buffer is taken
 * (content is left empty), or, when it ran out of memory, refused.  0 or
 * -1. */
int mx__enqueue(struct mx *m, const char *room, const char *dm_user, const char *type, const char *txn,
                struct strbuf *content, int64_t stored_id, enum mx_after after, const char *ref, int n_answers);
/* key's value among the writes of the answered sends not stored yet (the
 * latest), appended to out: 1, 0 when one deletes it, 2 when none
 * writes it, -1 when out of memory. */
int mx__held_get(const struct mx *m, const char *key, struct strbuf *out);
/* Sends what may leave now. */
void mx__pump(struct mx *m);
/* Stores what the answered sends held in the queue are (a poll, a message
 * kept for edits, an RSVP message) in one transaction, then acknowledges
 * them (sq_settle): before anything reads what they store, and when the
 * queue has emptied.  When the database refuses, they are sent again at
 * the next start, and the homeserver answers with the same events. */
void mx__settle(struct mx *m);
/* The database may be free again: the held answers are stored if due. */
void mx__resume_sends(struct mx *m);
/* Frees the queued and held sends without acknowledging them (at
 * release): they are sent again at the next start, with the same
 * transaction ids. */
void mx__queue_release(struct mx *m);
/* The adapter's deliver(). */
int mx__deliver(struct adapter *a, const struct action *act);

#endif
