/*
 * meetup: the domain of meetups and their date polls, independent of any
 * platform.  Commands (cmd_meetup.c), the scheduler (deadlines) and the
 * adapters (native poll answers, buttons) all go through these functions,
 * which change the database and append the messages to send.
 *
 * Every function runs inside the caller's transaction and returns 0, or -1
 * on a storage or memory failure (the caller rolls back).
 */
#ifndef ENSEMBLE_MEETUP_H
#define ENSEMBLE_MEETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "bot/action.h"
#include "storage/db.h"

struct bot;
struct remind_tally;

/* Where the messages of one operation go. */
struct meetup_ctx {
	struct bot *bot;
	struct db_chat *chat;
	struct outbox *out;
	const char *reply_to;       /* the command message to answer, or NULL */
	const char *key_base;       /* idempotency base: the event or the job */
	bool all_non_voters;        /* name every non-voter, not the first 20 */
	struct remind_tally *tally; /* the reminders counted (remind.h), or NULL */
};

/* Posts html in the chat (as a reply when ctx has a command message). */
int meetup_say(struct meetup_ctx *ctx, const char *html, bool reply);
/* Posts html in the chat (not as a reply) and hands back the action, for
 * buttons to be added: valid until the next action is pushed. */
int meetup_post(struct meetup_ctx *ctx, const char *html, struct action **out);
/* Formats catalogue key with escaped NULL-terminated args and says it. */
int meetup_sayf(struct meetup_ctx *ctx, bool reply, const char *key, ...);

/* Creates m in ctx's chat: a poll, or confirmed at once with one slot.
 * Posts the poll (or the confirmation) and schedules the deadline. */
int meetup_create(struct meetup_ctx *ctx, struct db_meetup *m, const char *merged_note);

/* The core vote function.  answers holds 'y', 'm' or 'n' per slot, or is
 * NULL to withdraw.  Native polls pass their yes-list through
 * meetup_vote_options().  Replies with a confirmation when quiet is false. */
int meetup_vote(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id, const char *answers, bool quiet);
/* A native poll's answer: the chosen options (0-based) are "yes", the rest
 * "no"; none withdraws. */
int meetup_vote_options(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id, const int *options, size_t n);

/* Closes the poll: picks the winner among the dates still to come (most
 * yes, then most if-need-be, then the earliest), confirms it or, short of
 * the quorum, says so and offers the runner-up slots.  Dates that have
 * started are out of the count; with none left, the meetup closes without
 * a date and says how to propose new ones. */
int meetup_close(struct meetup_ctx *ctx, struct db_meetup *m, bool by_deadline);
/* Fixes slot idx (1-based) and announces it. */
int meetup_confirm(struct meetup_ctx *ctx, struct db_meetup *m, int idx);

/* Edits the announcement of a confirmed (or cancelled) meetup to show what
 * it is now: when, where, who comes (for platforms that edit; the console
 * prints it).  An edit that would show the same text and buttons as the
 * message does is not made, so each change edits it at most once.  Inside
 * a batch of several events the edit waits for the batch's end (struct
 * meetup_edits), so the batch edits it at most once. */
int meetup_card_edit(struct meetup_ctx *ctx, struct db_meetup *m);

/* The edits of announcements and poll messages that the events of one
 * batch (bot.c) ask for.  Each one the batch changes is edited once, with
 * what it shows at the batch's end, where its last change asked: the
 * earlier edits would only be overwritten.  meetup_card_edit and
 * meetup_poll_edit leave a placeholder in out (text "", the key and the
 * place the edit would have had) and meetup_edits_flush, before the
 * batch's replies are stored, fills it or, when the message already shows
 * that, drops it.  While the batch runs, out's actions from
 * meetup_edits_hold() on are not final: none of them may be stored. */
struct meetup_edit;
struct meetup_edits {
	struct outbox *out;    /* borrowed: the batch's replies; NULL: off */
	struct meetup_edit *v; /* owned: in the order of their placeholders */
	size_t n, alloc;
	size_t first; /* the first placeholder, SIZE_MAX: none */
};

/* Starts collecting the edits whose actions go to out (borrowed). */
void meetup_edits_init(struct meetup_edits *e, struct outbox *out);
/* Inside the batch's transaction: makes each edit waiting in e (rendered
 * with the meetup as it is now, dropped when nothing changed or the meetup
 * is gone) and takes the placeholders out of e->out.  0 or -1. */
int meetup_edits_flush(struct bot *b, struct meetup_edits *e);
/* The index of e->out from which its actions may still change (n, the
 * number of actions, when none). */
size_t meetup_edits_hold(const struct meetup_edits *e, size_t n);
/* Frees what e holds (not out); e is off (out NULL) and reusable. */
void meetup_edits_release(struct meetup_edits *e);

/* Gives the places of m that no answer freed (someone who asked to be
 * forgotten left theirs) to the first ones waiting, each told as by
 * meetup_rsvp; the announcement then shows the new counts. */
int meetup_fill_places(struct meetup_ctx *ctx, struct db_meetup *m);

/* Edits the text of a poll's message (sent beside the native poll, which
 * keeps its question and options) to show its title, place and dates as
 * they are now; not when it would show the same.  Deferred in a batch as
 * meetup_card_edit is. */
int meetup_poll_edit(struct meetup_ctx *ctx, struct db_meetup *m);

/* Adds the RSVP buttons (yes, maybe, no) to a: their data,
 * "rsvp:MEETUP_ID:y|m|n", names m wherever the message is read.  0 or -1. */
int meetup_buttons(struct action *a, const char *lang, const struct db_meetup *m);

/* answer: 2 yes, 1 maybe, 0 no, -1 no answer any more.  Handles the cap and
 * its waiting list (a place freed moves the first one waiting in, who is
 * told in the chat with a mention), and edits the announcement.  The
 * confirmation is a reply to the command, or, when toast is not NULL (a
 * button pressed, a reaction), appended to toast and not posted. */
int meetup_rsvp(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id, int answer, struct strbuf *toast);

/* Cancels m, tells the participants and edits its announcement. */
int meetup_cancel(struct meetup_ctx *ctx, struct db_meetup *m);
/* Moves a confirmed meetup to start (keeping its duration when duration_min
 * is 0), asks those coming to confirm the new time but the user by (0:
 * nobody) who moved it, and edits the announcement. */
int meetup_move(struct meetup_ctx *ctx, struct db_meetup *m, time_t start, int duration_min, int64_t by);

/* Appends mentions of those who said yes or maybe to m, but exclude (a
 * user id, 0 for none), comma-separated.  Returns how many, or -1. */
int meetup_mention_coming(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb, int64_t exclude);

/* Appends the live tally (per slot, who said yes and if need be, and who has
 * not voted), or the participants of a confirmed meetup. */
int meetup_format_info(struct meetup_ctx *ctx, struct db_meetup *m, struct strbuf *sb);
/* Appends the dates of m's poll, one line each: "\n2. DATE", marked
 * "(passed)" once started. */
int meetup_format_slots(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb);
/* Appends one line for /meetup list. */
int meetup_format_line(struct meetup_ctx *ctx, const struct db_meetup_line *m, struct strbuf *sb);

/* Appends the chat's name (escaped): its title as the platform last showed
 * it, or its id where none came. */
void meetup_chat_name(struct bot *b, const struct db_chat *chat, struct strbuf *out);

/* Appends a mention of p: adapters render it natively. */
void meetup_mention(struct strbuf *sb, const struct db_person *p);

/* Appends who has not voted on m among its audience (its group's members
 * but those waiting, or the chat's known members), comma-separated, as
 * mentions or as names.  Returns how many, or -1. */
int meetup_non_voters(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *out, bool mention);

/* The scheduler's handler for JOB_DEADLINE. */
int meetup_job_deadline(struct meetup_ctx *ctx, int64_t meetup_id);

#endif
