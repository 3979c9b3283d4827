/*
 * event: what an adapter hands the core.  Every platform's input becomes
 * one of these; the core never sees a platform's own format.
 *
 * All strings are borrowed from the adapter for the duration of the
 * bot_handle_event() call; the core copies what it keeps.
 */
#ifndef ENSEMBLE_EVENT_H
#define ENSEMBLE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum event_kind {
	EVENT_MESSAGE,       /* a text message */
	EVENT_POLL_VOTE,     /* a native poll answer: the voter's yes-list */
	EVENT_BUTTON,        /* an inline button pressed, or a reaction */
	EVENT_MEMBER_JOINED, /* someone joined the chat */
	EVENT_MEMBER_LEFT,   /* someone left the chat */
	EVENT_VOTE,          /* a vote given outside the chat (the web page's
	                        form): vote_num's answers */
};

/* What the platform says of the sender's rights in this chat. */
enum event_role {
	ROLE_UNKNOWN = 0, /* the platform has no roles: the core decides */
	ROLE_MEMBER,
	ROLE_ADMIN,
};

struct event {
	enum event_kind kind;
	const char *platform;    /* the adapter's name: "console", "telegram" */
	const char *chat_id;     /* the platform's chat id, as text */
	const char *sender_id;   /* the platform's user id, as text */
	const char *sender_name; /* display name, may be NULL */
	bool sender_name_guess;  /* sender_name is only made from the id (a
	                            Matrix localpart): a name stored for the
	                            sender is kept */
	const char *sender_lang; /* the sender client's language, or NULL */
	const char *message_id;  /* the platform's reference to this message, or
	                            NULL: the answers' reply_to, and the base of
	                            their keys; opaque to the core (Matrix adds
	                            the root of a thread) */
	const char *reply_to;    /* id of the message this one answers, or NULL */
	const char *text;        /* EVENT_MESSAGE: the text as received */
	time_t time;             /* when it was sent */
	enum event_role role;
	bool is_private;          /* a one-to-one chat with the bot */
	bool anonymous;           /* the sender stands for several people the
	                             platform does not tell apart (a Telegram
	                             group's anonymous administrators): what
	                             records one person's choice is refused */
	const char *bot_username; /* the bot's name on this platform, for
	                             "/cmd@Name"; NULL: general.bot_name */
	const char *parent_chat;  /* the chat this one is part of (a forum
	                             topic's group), whose settings a new chat
	                             starts from; NULL for none */

	/* EVENT_POLL_VOTE: the poll's platform reference and the chosen
	 * options (0-based); n_options == 0 withdraws the vote. */
	const char *poll_ref;
	const int *options;
	size_t n_options;

	/* EVENT_BUTTON: the button's data ("rsvp:ID:y|m|n", or "rsvp:ID:-"
	 * for no answer any more: a reaction taken back), and the message it
	 * sits under.
	 * button_answer is the platform's handle to answer this press
	 * privately (ACTION_ANSWER: Telegram's callback query id); NULL where
	 * a press cannot be answered so (a Matrix reaction), and then what
	 * needs saying is said in the chat. */
	const char *button_data;
	const char *button_message;
	const char *button_answer;

	/* EVENT_VOTE: the poll's #num in the chat and the sender's answers,
	 * one of 'y', 'm', 'n' per date as /vote records them; NULL withdraws
	 * the vote.  It is recorded as /vote records it, and the chat hears
	 * no confirmation. */
	int vote_num;
	const char *vote_answers;

	/* The chat's name as the platform shows it (a group's title), or
	 * NULL when the event does not carry it. */
	const char *chat_title;
};

#endif
