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

/* Where the messages of one operation go. */
struct meetup_ctx {
	struct bot *bot;
	struct db_chat *chat;
	struct outbox *out;
	const char *reply_to;  /* the command message to answer, or NULL */
	const char *key_base;  /* idempotency base: the event or the job */
	bool all_non_voters;   /* name every non-voter, not the first 20 */
};

/* Posts html in the chat (as a reply when ctx has a command message). */
int meetup_say(struct meetup_ctx *ctx, const char *html, bool reply);
/* Formats catalogue key with escaped NULL-terminated args and says it. */
int meetup_sayf(struct meetup_ctx *ctx, bool reply, const char *key, ...);

/* Creates m in ctx's chat: a poll, or confirmed at once with one slot.
 * Posts the poll (or the confirmation) and schedules the deadline. */
int meetup_create(struct meetup_ctx *ctx, struct db_meetup *m, const char *merged_note);

/* The core vote function.  answers holds 'y', 'm' or 'n' per slot, or is
 * NULL to withdraw.  Native polls pass their yes-list through
 * meetup_vote_options().  Replies with a confirmation when quiet is false. */
int meetup_vote(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id,
                const char *answers, bool quiet);
/* A native poll's answer: the chosen options (0-based) are "yes", the rest
 * "no"; none withdraws. */
int meetup_vote_options(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id,
                        const int *options, size_t n);

/* Closes the poll: picks the winner among the dates still to come (most
 * yes, then most if-need-be, then the earliest), confirms it or, short of
 * the quorum, says so and offers the runner-up slots.  Dates that have
 * started are out of the count; with none left, the meetup closes without
 * a date and says how to propose new ones. */
int meetup_close(struct meetup_ctx *ctx, struct db_meetup *m, bool by_deadline);
/* Fixes slot idx (1-based) and announces it. */
int meetup_confirm(struct meetup_ctx *ctx, struct db_meetup *m, int idx);

/* Edits the announcement of a confirmed meetup to show who comes now (for
 * platforms that edit; the console prints it). */
int meetup_card_edit(struct meetup_ctx *ctx, struct db_meetup *m);

/* answer: 2 yes, 1 maybe, 0 no.  Handles the cap and its waiting list. */
int meetup_rsvp(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id, int answer);
/* Gives the places of m that no answer freed (someone who asked to be
 * forgotten left theirs) to the first ones waiting, each told as by
 * meetup_rsvp; the announcement then shows the new counts. */
int meetup_fill_places(struct meetup_ctx *ctx, struct db_meetup *m);

int meetup_cancel(struct meetup_ctx *ctx, struct db_meetup *m);
/* Moves a confirmed meetup to start (keeping its duration when duration_min
 * is 0). */
int meetup_move(struct meetup_ctx *ctx, struct db_meetup *m, time_t start, int duration_min);

/* Appends the live tally (per slot, who said yes and if need be, and who has
 * not voted), or the participants of a confirmed meetup. */
int meetup_format_info(struct meetup_ctx *ctx, struct db_meetup *m, struct strbuf *sb);
/* Appends the dates of m's poll, one line each: "\n2. DATE", marked
 * "(passed)" once started. */
int meetup_format_slots(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb);
/* Appends one line for /meetup list. */
int meetup_format_line(struct meetup_ctx *ctx, const struct db_meetup_line *m, struct strbuf *sb);

/* Appends a mention of p: adapters render it natively. */
void meetup_mention(struct strbuf *sb, const struct db_person *p);

/* Appends who has not voted on m among its audience (its group's members
 * but those waiting, or the chat's known members), comma-separated, as
 * mentions or as names.  Returns how many, or -1. */
int meetup_non_voters(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *out, bool mention);

/* The scheduler's handler for JOB_DEADLINE. */
int meetup_job_deadline(struct meetup_ctx *ctx, int64_t meetup_id);

#endif
