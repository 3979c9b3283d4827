/*
 * series: meetups that repeat.  A rule says when the next session comes:
 * "week", "2weeks", "month" (same day of the month) or "nth:N:WD" (the Nth
 * weekday WD of the month, N = -1 for the last).  The next session keeps
 * the local wall time of the last one, so 19:00 stays 19:00 across daylight
 * saving changes.  After each session, the next one is created (confirmed,
 * or as a date poll around the nominal date when the series asks for it)
 * and announced with its reminders.
 */
#ifndef ENSEMBLE_SERIES_H
#define ENSEMBLE_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bot/meetup.h"
#include "storage/db.h"

/* Reads a repetition as people write it: "--every week", "every 2 weeks",
 * "monthly", "chaque semaine", "toutes les deux semaines", "chaque mois",
 * "le premier mardi du mois", "every last Friday of the month"; a trailing
 * "poll"/"sondage" asks for a date poll each time.  Fills rule and poll and
 * returns 1, 0 when text is no repetition, -1 when it looks like one but
 * cannot be read. */
int series_parse(const char *text, char *rule, size_t rulelen, bool *poll);

/* The next start after start (an instant) by rule, at the same wall time in
 * tz.  0, or -1 when the rule is unknown. */
int series_next(const char *rule, const char *tz, time_t start, time_t *next);

/* Appends the rule in words: "every week", "le premier mardi du mois". */
int series_format(struct strbuf *sb, const char *lang, const char *rule);

/* Plans the creation of the next session after m ends. */
int series_plan(struct meetup_ctx *ctx, const struct db_meetup *m);

/* The scheduler's handler: creates and announces the next session. */
int series_job(struct meetup_ctx *ctx, const struct db_job *job);

#endif
