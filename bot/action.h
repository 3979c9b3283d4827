/*
 * action: what the core asks an adapter to do.  Handlers append actions to
 * an outbox; once the event's transaction has committed, the bot hands each
 * action to the adapter of its platform, which renders it natively.
 *
 * Text is "light HTML": the tags <b>, <i>, <a href="...">, and the entities
 * &amp; &lt; &gt; &quot;; lists are lines starting with "• ".  A mention of
 * a person is <a href="mention:USER_ID">Name</a>, USER_ID being the
 * platform's id: each adapter renders it its own way (the console: @Name).  Telegram and
 * Matrix take it almost as is; the console prints it as plain text.  All
 * user text in it is escaped by whoever builds it (i18n_fmt does).
 */
#ifndef ENSEMBLE_ACTION_H
#define ENSEMBLE_ACTION_H

#include <stddef.h>
#include <stdint.h>

enum action_kind {
	ACTION_SEND_TEXT,    /* post text in a chat */
	ACTION_REPLY,        /* post text as a reply to reply_to */
	ACTION_SEND_POLL,    /* post a native poll (question + options) */
	ACTION_CLOSE_POLL,   /* close the native poll of a meetup */
	ACTION_EDIT,         /* replace the text of a message the bot sent */
	ACTION_SEND_PRIVATE, /* post text to one person privately; chat_id is
	                        the person's platform id */
	ACTION_ANSWER,       /* answer a button press privately (a toast):
	                        reply_to is the press's button_answer, text
	                        the answer; posts nothing in the chat */
};

struct action_button {
	char *label; /* plain text */
	char *data;  /* at most 64 bytes, handed back in EVENT_BUTTON */
};

struct action {
	enum action_kind kind;
	char *platform; /* the adapter that renders it */
	char *chat_id;  /* the platform's chat id */
	char *text;     /* light HTML; the poll's fallback text for polls */
	char *reply_to; /* ACTION_REPLY: the platform message id;
	                   ACTION_ANSWER: the press answered */
	char *key;      /* idempotency key: the same action retried after a
	                   crash has the same key (Matrix txn ids) */
	char *ref;      /* the core's name for what the message shows, e.g.
	                   "meetup:42:poll"; adapters map it to their ids */
	char *question; /* ACTION_SEND_POLL */
	char **options;
	size_t n_options;
	struct action_button *buttons;
	size_t n_buttons;
	int64_t stored_id; /* its row in the durable outbox, 0 when none */
};

struct outbox {
	struct action *v;
	size_t n, alloc;
};

void outbox_init(struct outbox *ob);
/* Frees every action and their strings; ob is empty and reusable. */
void outbox_release(struct outbox *ob);
/* Appends an action.  Copies every string (NULL stays NULL).  Returns a
 * pointer to the stored action (valid until the next push), or NULL when out
 * of memory. */
struct action *outbox_push(struct outbox *ob, enum action_kind kind, const char *platform, const char *chat_id,
                           const char *text);
/* Drops the last action appended (one that turned out not to be needed:
 * an edit that changes nothing). */
void outbox_pop(struct outbox *ob);
/* Drops the n actions whose indices idx lists, in increasing order; the
 * others keep theirs. */
void outbox_remove(struct outbox *ob, const size_t *idx, size_t n);
/* Appends every action of from to to, in order; from is left empty.  On
 * -1 (out of memory) both are unchanged. */
int outbox_move(struct outbox *to, struct outbox *from);
/* Sets a string field of an action to a copy of s.  Returns 0 or -1. */
int action_set(char **field, const char *s);
int action_add_option(struct action *a, const char *option);
int action_add_button(struct action *a, const char *label, const char *data);

/* Serialises a to JSON text (without stored_id).  Caller frees; NULL when
 * out of memory. */
char *action_to_json(const struct action *a);
/* Appends the action that json describes to ob.  0, or -1 when json is not
 * an action. */
int action_from_json(struct outbox *ob, const char *json);

/* Renders light HTML as plain text: tags dropped (a link shows as
 * "text (url)" when they differ), entities decoded.  Caller frees. */
char *action_plain_text(const char *html);

#endif
