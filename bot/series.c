/*
 * Recurring series; see series.h.
 */
#include "bot/series.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/i18n.h"
#include "bot/sched.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/tz.h"

#define LOG_MODULE "series"

static const char *const series__wd[][4] = {
	{ "dimanche", "sunday", NULL, NULL }, { "lundi", "monday", NULL, NULL },
	{ "mardi", "tuesday", NULL, NULL },   { "mercredi", "wednesday", NULL, NULL },
	{ "jeudi", "thursday", NULL, NULL },  { "vendredi", "friday", NULL, NULL },
	{ "samedi", "saturday", NULL, NULL },
};

static int series__weekday(const char *w)
{
	for(int i = 0; i < 7; i++)
		if(!strcmp(w, series__wd[i][0]) || !strcmp(w, series__wd[i][1]))
			return i;
	return -1;
}

static int series__ordinal(const char *w)
{
	static const struct {
		const char *w;
		int n;
	} o[] = {
		{ "premier", 1 }, { "1er", 1 },      { "first", 1 },     { "1st", 1 },       { "deuxieme", 2 },
		{ "second", 2 },  { "2e", 2 },       { "2nd", 2 },       { "troisieme", 3 }, { "third", 3 },
		{ "3e", 3 },      { "3rd", 3 },      { "quatrieme", 4 }, { "fourth", 4 },    { "4e", 4 },
		{ "4th", 4 },     { "dernier", -1 }, { "last", -1 },
	};
	for(size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
		if(!strcmp(w, o[i].w))
			return o[i].n;
	return 0;
}

int series_parse(const char *text, char *rule, size_t rulelen, bool *poll)
{
	struct strbuf f = STRBUF_INIT;
	text_fold(&f, text);
	/* Words, without punctuation. */
	char *words[16];
	int n = 0;
	for(char *p = f.buf; *p; p++)
		if(*p == ':' || *p == ',' || *p == '(' || *p == ')')
			*p = ' ';
	char *save = NULL;
	for(char *w = strtok_r(f.buf, " ", &save); w && n < 16; w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	int rc = 0, i = 0;
	*poll = false;
	if(n && (!strcmp(words[n - 1], "poll") || !strcmp(words[n - 1], "sondage"))) {
		*poll = true;
		n--;
	}
	if(i < n && (!strcmp(words[i], "--every") || !strcmp(words[i], "every") || !strcmp(words[i], "repeat") ||
	             !strcmp(words[i], "chaque") || !strcmp(words[i], "--chaque"))) {
		i++;
	} else if(i + 1 < n && (!strcmp(words[i], "toutes") || !strcmp(words[i], "tous")) &&
	          !strcmp(words[i + 1], "les")) {
		i += 2;
	} else if(i < n && (!strcmp(words[i], "weekly") || !strcmp(words[i], "hebdomadaire"))) {
		snprintf(rule, rulelen, "week");
		rc = i + 1 == n ? 1 : -1;
		goto out;
	} else if(i < n &&
	          (!strcmp(words[i], "monthly") || !strcmp(words[i], "mensuel") || !strcmp(words[i], "mensuelle"))) {
		snprintf(rule, rulelen, "month");
		rc = i + 1 == n ? 1 : -1;
		goto out;
	} else if(i + 2 < n && !strcmp(words[i], "le") && series__ordinal(words[i + 1]) &&
	          series__weekday(words[i + 2]) >= 0) {
		i++; /* "le premier mardi du mois"; "le 3 décembre", "le 1er à 19h" are dates */
	} else {
		goto out; /* not a repetition */
	}
	rc = -1;
	if(i < n && !strcmp(words[i], "the"))
		i++;
	int count = 1;
	if(i < n && (!strcmp(words[i], "2") || !strcmp(words[i], "deux") || !strcmp(words[i], "two") ||
	             !strcmp(words[i], "other"))) {
		count = 2;
		i++;
	}
	if(i < n && (!strcmp(words[i], "2weeks") || !strcmp(words[i], "2semaines"))) {
		count = 2;
		words[i] = "week";
	}
	if(i + 1 == n && (!strcmp(words[i], "week") || !strcmp(words[i], "weeks") || !strcmp(words[i], "semaine") ||
	                  !strcmp(words[i], "semaines"))) {
		snprintf(rule, rulelen, count == 2 ? "2weeks" : "week");
		rc = 1;
	} else if(i + 1 == n && count == 1 && (!strcmp(words[i], "month") || !strcmp(words[i], "mois"))) {
		snprintf(rule, rulelen, "month");
		rc = 1;
	} else if(count == 1 && i + 1 < n) {
		/* "premier mardi du mois", "first tuesday of the month" */
		int nth = series__ordinal(words[i]);
		int wd = series__weekday(words[i + 1]);
		int j = i + 2;
		while(j < n && (!strcmp(words[j], "du") || !strcmp(words[j], "of") || !strcmp(words[j], "the")))
			j++;
		if(nth && wd >= 0 && j + 1 == n && (!strcmp(words[j], "mois") || !strcmp(words[j], "month"))) {
			snprintf(rule, rulelen, "nth:%d:%d", nth, wd);
			rc = 1;
		}
	}
out:
	strbuf_release(&f);
	return rc;
}

static int series__mdays(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

static int series__wday(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12 };
	time_t t = timegm(&tm);
	gmtime_r(&t, &tm);
	return tm.tm_wday;
}

int series_next(const char *rule, const char *tz, time_t start, time_t *next)
{
	struct tm lt;
	if(tz_localtime(tz, start, &lt))
		return -1;
	int y = lt.tm_year + 1900, m = lt.tm_mon + 1, d = lt.tm_mday;
	int nth, wd;
	if(!strcmp(rule, "week") || !strcmp(rule, "2weeks")) {
		struct tm c = {
			.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + (rule[0] == '2' ? 14 : 7), .tm_hour = 12
		};
		time_t t = timegm(&c);
		gmtime_r(&t, &c);
		y = c.tm_year + 1900, m = c.tm_mon + 1, d = c.tm_mday;
	} else if(!strcmp(rule, "month")) {
		if(++m > 12)
			m = 1, y++;
		if(d > series__mdays(y, m))
			d = series__mdays(y, m);
	} else if(sscanf(rule, "nth:%d:%d", &nth, &wd) == 2 && wd >= 0 && wd < 7 && nth >= -1 && nth <= 4 && nth) {
		if(++m > 12)
			m = 1, y++;
		if(nth > 0) {
			int first = (wd - series__wday(y, m, 1) + 7) % 7 + 1;
			d = first + (nth - 1) * 7;
			if(d > series__mdays(y, m))
				d -= 7;
		} else {
			int last = series__mdays(y, m);
			d = last - (series__wday(y, m, last) - wd + 7) % 7;
		}
	} else {
		return -1;
	}
	struct tm want = {
		.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = lt.tm_hour, .tm_min = lt.tm_min
	};
	enum tz_result r = tz_mktime(tz, &want, next);
	if(r == TZ_GAP) {
		/* The wall time does not exist that night: an hour later. */
		want.tm_hour++;
		r = tz_mktime(tz, &want, next);
		log_info("the next session falls in a DST gap: moved an hour later");
	}
	return r == TZ_OK || r == TZ_AMBIGUOUS ? 0 : -1;
}

int series_format(struct strbuf *sb, const char *lang, const char *rule)
{
	int nth, wd;
	if(sscanf(rule, "nth:%d:%d", &nth, &wd) == 2 && wd >= 0 && wd < 7) {
		char okey[32], wkey[32];
		snprintf(okey, sizeof(okey), "series.nth.%d", nth < 0 ? 0 : nth);
		snprintf(wkey, sizeof(wkey), "series.wd.%d", wd);
		return i18n_fmt(sb, lang, "series.nth", i18n_lookup(lang, okey), i18n_lookup(lang, wkey), NULL);
	}
	char key[32];
	snprintf(key, sizeof(key), "series.%s", rule);
	return i18n_fmt(sb, lang, key, NULL);
}

int series_plan(struct meetup_ctx *ctx, const struct db_meetup *m)
{
	if(!m->series_id || (m->state != MEETUP_CONFIRMED && m->state != MEETUP_NO_QUORUM) || !m->nslots)
		return 0;
	struct db *db = ctx->bot->db;
	if(db_jobs_cancel(db, m->id, JOB_SERIES))
		return -1;
	/* After the session; a poll that fixed no date goes on from after
	 * its last candidate, so the series does not die with it. */
	time_t start = m->state == MEETUP_CONFIRMED ? m->start : m->slots[m->nslots - 1].start;
	int duration = m->state == MEETUP_CONFIRMED ? m->duration_min : m->slots[m->nslots - 1].duration_min;
	int64_t end = ((int64_t)start + (int64_t)duration * 60) * 1000;
	return db_job_add(db, end, JOB_SERIES, m->id, m->series_id);
}

/* The next session's date after prev, by the series' rule: the first one
 * still ahead (sessions missed while the bot was down are skipped).
 * Returns 0, or -1 when the rule cannot be read (logged). */
static int series__next_date(struct meetup_ctx *ctx, const struct db_series *s, const struct db_meetup *prev,
                             time_t *when)
{
	/* The nominal date of a poll is its middle candidate. */
	time_t base = prev->state == MEETUP_CONFIRMED ? prev->start : prev->slots[prev->nslots / 2].start;
	if(series_next(s->rule, ctx->chat->tz, base, when)) {
		log_error("series %lld has a rule I cannot read: '%s'", (long long)s->id, s->rule);
		return -1;
	}
	for(int guard = 0; *when <= clock_now() && guard < 1000; guard++)
		if(series_next(s->rule, ctx->chat->tz, *when, when))
			break;
	return 0;
}

/* Fills next as the session after prev in series s: the same title,
 * place, creator, duration, numbers, reminders and group, no date yet. */
static void series__copy(struct db_meetup *next, const struct db_meetup *prev, const struct db_series *s)
{
	memset(next, 0, sizeof(*next));
	text_copy(next->title, sizeof(next->title), prev->title);
	text_copy(next->place, sizeof(next->place), prev->place);
	next->creator = prev->creator;
	next->duration_min = prev->duration_min;
	next->quorum = prev->quorum;
	next->max_people = prev->max_people;
	next->has_remind = prev->has_remind;
	text_copy(next->remind, sizeof(next->remind), prev->remind);
	next->series_id = s->id;
	next->group_id = prev->group_id;
}

/* "About every two weeks": next's candidates are the nominal date when
 * and the days around it, at the same wall time, those still ahead;
 * voted on until two days before the earliest.  0 or -1. */
static int series__poll_slots(struct meetup_ctx *ctx, struct db_meetup *next, time_t when)
{
	struct tm nominal;
	if(tz_localtime(ctx->chat->tz, when, &nominal))
		return -1;
	for(int k = -2; k <= 2; k++) {
		/* The calendar day k days away, at the same wall time. */
		struct tm day = { .tm_year = nominal.tm_year,
			          .tm_mon = nominal.tm_mon,
			          .tm_mday = nominal.tm_mday + k,
			          .tm_hour = 12 };
		time_t noon = timegm(&day);
		gmtime_r(&noon, &day);
		day.tm_hour = nominal.tm_hour;
		day.tm_min = nominal.tm_min;
		time_t t;
		enum tz_result r = tz_mktime(ctx->chat->tz, &day, &t);
		if((r != TZ_OK && r != TZ_AMBIGUOUS) || t <= clock_now())
			continue;
		struct db_slot *sl = &next->slots[next->nslots];
		sl->idx = next->nslots + 1;
		sl->start = t;
		sl->duration_min = next->duration_min;
		next->nslots++;
	}
	if(next->nslots > 1) {
		time_t deadline = next->slots[0].start - 2 * 86400;
		if(deadline > clock_now() + 3600)
			next->deadline = deadline;
	}
	return 0;
}

int series_job(struct meetup_ctx *ctx, const struct db_job *job)
{
	struct db *db = ctx->bot->db;
	struct db_meetup *prev = malloc(sizeof(*prev)), *next = malloc(sizeof(*next));
	struct db_series s;
	time_t when;
	int rc = -1;
	if(!prev || !next)
		goto out;
	int found = db_meetup_get_by_id(db, job->meetup_id, prev);
	if(found <= 0) {
		rc = found;
		goto out;
	}
	found = db_series_get(db, prev->series_id, &s);
	if(found <= 0 || !s.active || prev->state == MEETUP_CANCELLED) {
		rc = found < 0 ? -1 : 0;
		goto out;
	}
	if(series__next_date(ctx, &s, prev, &when)) {
		rc = 0;
		goto out;
	}
	series__copy(next, prev, &s);
	if(!s.poll) {
		next->nslots = 1;
		next->slots[0] = (struct db_slot){ .idx = 1, .start = when, .duration_min = prev->duration_min };
	} else if(series__poll_slots(ctx, next, when)) {
		goto out;
	}
	rc = next->nslots ? meetup_create(ctx, next, NULL) : 0;
out:
	free(prev);
	free(next);
	return rc < 0 ? -1 : 0;
}
