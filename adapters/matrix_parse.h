/*
 * matrix_parse: the Matrix client-server API's JSON, read and written
 * without any I/O, so that it is unit-tested and fuzzed on its own.  The
 * adapter (matrix.c), which does the HTTP, builds on it.
 *
 * Reading: a /sync answer (or a /relations page) becomes a flat array of
 * struct mx_event in the order the bot must see them: per room, the state
 * block first, then the timeline.  Writing: the core's light HTML becomes
 * org.matrix.custom.html with matrix.to mention links, plus the list of
 * mentioned user ids for m.mentions.
 */
#ifndef ENSEMBLE_MATRIX_PARSE_H
#define ENSEMBLE_MATRIX_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

#define MX_MAX_ANSWERS 20 /* a poll has at most 20 answers */

enum mx_kind {
	MX_OTHER = 0,     /* an event the bot does not use */
	MX_MESSAGE,       /* m.room.message with a text body */
	MX_POLL_START,    /* a poll start (unstable or stable) */
	MX_POLL_RESPONSE, /* a poll response: answers[] */
	MX_POLL_END,      /* a poll end */
	MX_REACTION,      /* m.reaction: relates_to + key */
	MX_REDACTION,     /* m.room.redaction: redacts */
	MX_MEMBER,        /* m.room.member: state_key + membership */
	MX_POWER_LEVELS,  /* m.room.power_levels: content kept as JSON */
	MX_ENCRYPTION,    /* m.room.encryption state: the room is encrypted */
	MX_ENCRYPTED,     /* m.room.encrypted: a message the bot cannot read */
	MX_INVITE,        /* the bot is invited (from rooms.invite) */
	MX_ROOM_NAME,     /* m.room.name: body is the name ("" for none) */
};

/* One event; every string is owned by the mx_sync it belongs to. */
struct mx_event {
	enum mx_kind kind;
	const char *room; /* borrowed from the room it sits in */
	char *event_id;   /* NULL for stripped invite state */
	char *sender;
	char *type;
	int64_t ts;    /* origin_server_ts, ms */
	bool is_state; /* from the state block, not the timeline */
	/* MX_MESSAGE */
	char *msgtype;    /* m.text, m.notice, m.emote, ... */
	char *body;       /* with any reply fallback stripped */
	bool mentions_me; /* m.mentions.user_ids names the bot */
	char *reply_to;   /* m.in_reply_to's event id, or NULL */
	bool in_thread;   /* rel_type m.thread: relates_to is the root */
	/* MX_POLL_*, MX_REACTION: the related event; MX_REACTION: its key */
	char *relates_to;
	char *key;
	/* MX_POLL_RESPONSE: the chosen answer ids; MX_POLL_START: its ids */
	char *answers[MX_MAX_ANSWERS];
	size_t n_answers;
	int max_selections; /* MX_POLL_START */
	/* MX_REDACTION */
	char *redacts;
	/* MX_MEMBER */
	char *state_key;
	char *membership;
	char *displayname;
	bool was_joined; /* unsigned.prev_content: already joined before
	                    (a name change, not an arrival) */
	/* MX_POWER_LEVELS: the content, as compact JSON */
	char *content_json;
};

struct mx_room {
	char *id;
	bool invited;         /* from rooms.invite */
	bool encrypted;       /* its invite state has m.room.encryption */
	bool limited;         /* the timeline has a gap before it */
	char *prev_batch;     /* where /messages reads the gap from, or NULL */
	long joined_members;  /* summary's m.joined_member_count, or -1 */
	long invited_members; /* summary's m.invited_member_count, or -1 */
};

struct mx_sync {
	char *next_batch; /* /sync: next_batch; /relations: next_batch,
	                     /messages: end (the next page), NULL at
	                     the end */
	struct mx_room *rooms;
	size_t nrooms;
	struct mx_event *ev;
	size_t n;
};

/* Reads a /sync answer.  me is the bot's user id (for m.mentions and the
 * invites meant for it).  Malformed events are skipped; a body that is not
 * a JSON object or lacks next_batch is refused.  0 with *out filled (release
 * with mx_sync_release), or -1 with a reason in err. */
int mx_parse_sync(const char *json, size_t len, const char *me, struct mx_sync *out, char *err, size_t errlen);

/* Reads a /relations page (its "chunk" of events) for room.  0 or -1. */
int mx_parse_relations(const char *json, size_t len, const char *room, struct mx_sync *out, char *err, size_t errlen);

/* Reads a /messages page for room: its "chunk" of events in the order
 * given (newest first when read backwards) and its "end" as next_batch.
 * 0 or -1. */
int mx_parse_messages(const char *json, size_t len, const char *room, struct mx_sync *out, char *err, size_t errlen);

void mx_sync_release(struct mx_sync *s);
/* Frees the strings of one event taken out of an mx_sync. */
void mx_event_release(struct mx_event *e);

/* Reads the answer to a send, {"event_id": "..."}: appends the event id to
 * out and returns 1, or 0 when the answer has none, -1 when out of
 * memory. */
int mx_parse_event_id(const char *json, size_t len, struct strbuf *out);

/* Reads an error answer {"errcode":...,"error":...,"retry_after_ms":...}:
 * copies errcode (or "") and returns retry_after_ms, or -1. */
long mx_parse_error(const char *json, size_t len, char *errcode, size_t errlen);

/* Appends light HTML as Matrix's HTML: mentions as matrix.to links (their
 * ids appended to mentions, one per line, when it is not NULL), new lines as
 * <br>.  0 or -1. */
int mx_render_html(struct strbuf *out, const char *light, struct strbuf *mentions);

/* The command in a message body, as the core reads it: "!cmd ..." and
 * "/cmd ..." as they are, and a message that addresses the bot at its start
 * as "!cmd ...": "@name:server cmd", or "Name: cmd" when its m.mentions
 * names the bot (that is how a mention pill reads).  Appends it to out and
 * returns 1, or 0 when the body is conversation.  localpart and displayname
 * name the bot (displayname may be NULL). */
int mx_command_text(struct strbuf *out, const char *body, bool mentions_me, const char *localpart,
                    const char *displayname);

/* Appends s with every byte outside [A-Za-z0-9-._~] percent-encoded, for a
 * path segment.  0 or -1. */
int mx_urlencode(struct strbuf *out, const char *s);

#endif
