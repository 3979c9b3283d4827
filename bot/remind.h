/*
 * remind: reminders before a confirmed meetup and the nudge before a poll's
 * deadline, planned as jobs of the durable scheduler.
 *
 * Offsets are minutes before the start, kept as text "1440,60" (largest
 * first) on the chat, or on a meetup that has its own.  Every change of a
 * meetup's date or offsets re-plans its pending reminders; a reminder that
 * fell due while the bot was down is sent late (and says so) if the meetup
 * has not started, and dropped (logged) if it has.
 */
#ifndef ENSEMBLE_REMIND_H
#define ENSEMBLE_REMIND_H

#include <stddef.h>

#include "bot/meetup.h"
#include "storage/db.h"

#define REMIND_DEFAULT "1440,60"
#define REMIND_MAX_OFFSETS 5

/* Parses offsets like "2d 3h 30m" (or "1j 2h") into "2880,180,30".
 * Returns 0, or -1 when a word is not a duration of 1 minute to 30 days or
 * there are more than REMIND_MAX_OFFSETS. */
int remind_parse_offsets(const char *text, char *out, size_t outlen);
/* The configuration's check of general.remind (config_check_fn): 0 when
 * text is "off" or reads as remind_parse_offsets() takes it, else -1 with
 * msg saying what it must be. */
int remind_check_config(const char *text, char *msg, size_t msglen);
/* Appends the offsets in words: "1 day before and 1 hour before". */
int remind_format_offsets(struct strbuf *sb, const char *lang, const char *offsets);

/* (Re)plans the reminders of m (confirmed) from its or its chat's offsets. */
int remind_plan(struct meetup_ctx *ctx, const struct db_meetup *m);
/* Plans the nudge of a poll with a deadline, if the chat wants nudges. */
int remind_plan_nudge(struct meetup_ctx *ctx, const struct db_meetup *m);

/* What reminder jobs did, for the metrics: remind_job counts into
 * ctx->tally, when set; the scheduler adds it to the metrics once the
 * jobs' transaction has committed, so a batch rolled back counts nothing. */
struct remind_tally {
	unsigned sent;    /* reminders posted (in the chat; private copies apart) */
	unsigned late;    /* of those, posted over a minute after their time */
	unsigned dropped; /* not posted: the meetup had started (the bot was down) */
};

/* The scheduler's handlers. */
int remind_job(struct meetup_ctx *ctx, const struct db_job *job);
int remind_job_nudge(struct meetup_ctx *ctx, const struct db_job *job);

#endif
