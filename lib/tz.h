/*
 * tz: local time in a named IANA zone, read from the system's zoneinfo
 * (tzdata).  This module switches the process's TZ only when the zone
 * changes between calls, and restores nothing; its calls may come from any
 * thread (each runs under one lock), but nothing else in the process may
 * read or set TZ meanwhile.
 */
#ifndef ENSEMBLE_TZ_H
#define ENSEMBLE_TZ_H

#include <stdbool.h>
#include <time.h>

/* True when zone names a zone of the system's zoneinfo ("Europe/Paris",
 * "UTC").  Refuses relative paths, "..", and POSIX TZ strings. */
bool tz_valid(const char *zone);

/* Breaks t down in zone.  Returns 0, or -1 when zone is not valid. */
int tz_localtime(const char *zone, time_t t, struct tm *out);

enum tz_result {
	TZ_OK = 0,        /* the wall time exists once */
	TZ_AMBIGUOUS = 1, /* it exists twice (clocks went back); *out is the first */
	TZ_GAP = 2,       /* it does not exist (clocks went forward) */
	TZ_BADZONE = -1,
};

/* Converts the wall time local (fields tm_year..tm_sec; tm_isdst and
 * tm_wday are ignored) in zone to an instant.  *out is set for TZ_OK and
 * TZ_AMBIGUOUS only: after TZ_GAP (which a day or month out of range, like
 * 32 December, also gives) or TZ_BADZONE it is left as it was. */
enum tz_result tz_mktime(const char *zone, const struct tm *local, time_t *out);

/* Offset from UTC in seconds at instant t in zone (e.g. 3600 for CET). */
long tz_offset(const char *zone, time_t t);

#endif
