/*
 * dates: what people type for a date and a time, in French and English,
 * turned into instants in a chat's time zone; and instants written back in
 * full in the chat's language.
 *
 * Parsing never guesses silently: a text that is not a date, a date that
 * does not exist (31/02), a weekday that the day contradicts, a wall time
 * that the zone skips (the spring DST gap), an hour that could be morning
 * or evening, a day and month far enough ahead that the year should be
 * said, and a moment in the past each give their own error, with what is
 * needed to say it in words (date_err_write).
 */
#ifndef ENSEMBLE_DATES_H
#define ENSEMBLE_DATES_H

#include <stdbool.h>
#include <time.h>

#include "lib/strbuf.h"

struct date_ctx {
	const char *tz;   /* IANA zone of the chat */
	time_t now;       /* the reference "now" (tests fix it) */
	bool month_first; /* numeric dates read 12/03 as 3 December (the
	                     bot reads day/month in every language) */
	int default_time; /* minutes after midnight used when a text gives a
	                     day but no time; -1: a time is required */
	bool allow_past;  /* accept instants before now */
};

struct date_slot {
	time_t start;
	int duration_min; /* from a range like 19h-21h; 0 when none given */
};

enum date_err {
	DATE_OK = 0,
	DATE_EMPTY,      /* nothing typed */
	DATE_SYNTAX,     /* not a date */
	DATE_NO_TIME,    /* a day without a time where one is required */
	DATE_IMPOSSIBLE, /* no such day (31/02, 29/02/2027) */
	DATE_BAD_TIME,   /* 25h, 19:75 */
	DATE_GAP,        /* the wall time does not exist in the zone (DST) */
	DATE_PAST,       /* before ctx->now */
	DATE_BAD_RANGE,  /* range end not after its start */
	DATE_WEEKDAY,    /* a weekday the day contradicts ("lundi 12",
	                    the 12th being a Saturday) */
	DATE_NO_DAY,     /* a day number no month has ("le 40", 0/12) */
	DATE_NO_MONTH,   /* a month number above 12 ("2026-13-01") */
	DATE_AMPM,       /* "Thursday at 7": morning or evening unsaid */
	DATE_NEED_YEAR,  /* a day and month without a year, six months
	                    ahead or more ("12/10" typed in December) */
};

/* What a refused text was found to mean, for a reply that gives the real
 * reason.  Only the fields of the error returned are set. */
struct date_why {
	int year, month, day; /* DATE_WEEKDAY: the day meant; DATE_IMPOSSIBLE:
	                         its year and month; DATE_NO_DAY: day;
	                         DATE_NO_MONTH: month */
	int weekday;          /* DATE_WEEKDAY: the day's own (0 = Sunday) */
	int hour, minute;     /* DATE_AMPM: the hour and minutes written */
	time_t when;          /* DATE_PAST, DATE_NEED_YEAR: the instant read */
};

/* Parses text (UTF-8, any case, accents optional) into out.  Returns
 * DATE_OK or the reason it was refused; out is set only on DATE_OK. */
enum date_err date_parse(const struct date_ctx *ctx, const char *text, struct date_slot *out);

/* date_parse, and on an error what the text was found to mean, in why,
 * for date_err_write. */
enum date_err date_parse_why(const struct date_ctx *ctx, const char *text, struct date_slot *out, struct date_why *why);

/* Parses a duration: "2h", "1h30", "1 h 30", "90m", "90 min", "45mn",
 * "2 heures", "1 hour 30 minutes", "3d", "2 jours", "1 week".  Stores minutes
 * and returns 0, or -1 when text is not a positive duration. */
int date_parse_duration(const char *text, int *minutes);

/* Message-key of an error, for the catalogues: "date.err.past", ... */
const char *date_err_key(enum date_err err);

/* Writes why a text was refused, in lang, from the catalogues: "le 12
 * décembre est un samedi", "12 December is a Saturday", "ce moment est déjà
 * passé (samedi 5 décembre à 19 h 00)".  ctx is the one the text was
 * parsed with (its zone and now write the dates); why is what
 * date_parse_why filled in, or NULL for the bare reason (the text of
 * date_err_key).  The text is light HTML.  Returns 0 or -1. */
int date_err_write(struct strbuf *out, const char *lang, const struct date_ctx *ctx, enum date_err err,
                   const struct date_why *why);

/* Writes a slot in full, in lang ("fr" or "en") and zone tz:
 *   fr: "jeudi 3 décembre, 19 h 00 – 21 h 00"
 *   en: "Thursday 3 December, 7:00 PM – 9:00 PM"
 * The year is added when it is not the year of now ("jeudi 3 décembre
 * 2027, ..."); duration_min 0 writes the start only.  An end on another day
 * is written in full after the dash. */
int date_format_slot(struct strbuf *out, const char *lang, const char *tz, time_t now, time_t start, int duration_min);

/* Writes an instant: fr "jeudi 3 décembre à 19 h 00",
 * en "Thursday 3 December at 7:00 PM" (year added as above). */
int date_format_when(struct strbuf *out, const char *lang, const char *tz, time_t now, time_t t);

/* Writes a duration in words: fr "2 h", "1 h 30", "45 min", "2 jours";
 * en "2 h", "1 h 30 min", "45 min", "2 days". */
int date_format_duration(struct strbuf *out, const char *lang, int minutes);

/* Writes a reminder offset in words: fr "2 jours, 3 heures et 30 minutes",
 * en "2 days, 3 hours and 30 minutes"; "1 heure" / "1 hour". */
int date_format_offset(struct strbuf *out, const char *lang, int minutes);

#endif
