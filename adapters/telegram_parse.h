/*
 * telegram_parse: the Telegram Bot API's JSON, read and written without any
 * I/O, so that it is unit-tested and fuzzed on its own.  The adapter (which
 * does the HTTP) builds on it.
 *
 * Reading: a getUpdates answer (or one webhook update) becomes an array of
 * struct tg_update.  Writing Telegram's HTML is telegram_html's.
 */
#ifndef ENSEMBLE_TELEGRAM_PARSE_H
#define ENSEMBLE_TELEGRAM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define TG_MAX_OPTIONS 12
/* A chat as the core knows it: Telegram's chat id, followed by ":THREAD"
 * for a topic of a forum group (each topic is a chat of its own, so that
 * what is said in a topic is answered there). */
#define TG_CHAT_MAX 48

enum tg_kind {
	TG_OTHER = 0,   /* an update the bot does not use (kept for its id) */
	TG_MESSAGE,     /* a text message (or a command) */
	TG_CALLBACK,    /* an inline button pressed */
	TG_POLL_ANSWER, /* a vote in a non-anonymous poll */
	TG_MIGRATE,     /* the group became a supergroup: migrate_to */
	TG_UNREADABLE,  /* not JSON even with what cannot be decoded
	                   replaced: skipped, its id still counts; text
	                   says why */
};

/* One update; the strings are owned by the array (tg_updates_free). */
struct tg_update {
	int64_t update_id;
	enum tg_kind kind;
	char chat_id[TG_CHAT_MAX];     /* 64-bit id as text, ":THREAD" in a topic */
	char parent_chat[TG_CHAT_MAX]; /* in a topic: the group's id; else "" */
	bool is_private;
	char chat_title[512]; /* a group's title (128 characters at most), or "" */
	char sender_id[24];
	char *sender_name; /* first and last name */
	char lang[8];      /* the sender client's language_code */
	char message_id[24];
	char reply_to[24]; /* the message answered, or "" */
	bool anonymous;    /* sent as the group itself: one of its
	                      anonymous administrators, who all share
	                      one sender (from is GroupAnonymousBot) */
	char *text;        /* TG_MESSAGE; TG_UNREADABLE: why */
	long long date;
	char callback_id[72]; /* TG_CALLBACK */
	char *callback_data;
	char poll_id[72]; /* TG_POLL_ANSWER */
	int options[TG_MAX_OPTIONS];
	size_t n_options;
	char migrate_to[24]; /* TG_MIGRATE */
};

/* Decodes a Bot API answer as Telegram writes it, which jansson alone
 * refuses when a user's text holds \u0000 or a lone surrogate escape: NUL is
 * read (JSON_ALLOW_NUL; the adapter's strings replace it), and lone
 * surrogates and bytes that are not UTF-8 become U+FFFD.  NULL, with err
 * set, when it is not JSON even so.  The caller owns the result. */
json_t *tg_json_load(const char *json, size_t len, json_error_t *err);

/* Reads a getUpdates answer {"ok":true,"result":[...]} (or, with single
 * set, one update object as a webhook posts it), decoded by tg_json_load.
 * Malformed updates inside a good answer are skipped (their update_id still
 * counts).  When the answer is not JSON as a whole, each update is decoded
 * on its own: one that is still not JSON becomes TG_UNREADABLE (when its
 * update_id can be read), so that one bad update does not hold back the
 * others.  Returns 0 with *out (caller frees with tg_updates_free) and *n,
 * or -1 with a reason in err: not JSON, "ok" false (then *error_code and
 * *retry_after are set when present, -1 otherwise). */
int tg_parse_updates(const char *json, size_t len, bool single, struct tg_update **out, size_t *n, int *error_code,
                     long *retry_after, char *err, size_t errlen);
void tg_updates_free(struct tg_update *u, size_t n);

/* Splits a chat as the core knows it into Telegram's chat id (copied to
 * base) and the topic's message_thread_id, returned (0: no topic). */
long long tg_chat_split(const char *chat, char *base, size_t n);

#endif
