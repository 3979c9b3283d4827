/* The date parser, French and English, and the formatting of dates and
 * durations.  Every case names the expected local wall time (or the error),
 * computed in the case's zone, so DST is checked for real. */
#include <stdio.h>
#include <string.h>

#include "bot/dates.h"
#include "bot/i18n.h"
#include "lib/tz.h"
#include "tests/unit/check.h"

/* A "now": Tuesday 1 December 2026, 10:00 in Paris, unless a case says. */
static time_t at(const char *tz, int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
	time_t t = 0;
	tz_mktime(tz, &tm, &t);
	return t;
}

struct dcase {
	const char *text;
	int y, mo, d, h, mi; /* expected local start (y = 0: expect err) */
	int duration;        /* expected duration in minutes */
	enum date_err err;
};

static void run(const char *tz, time_t now, bool month_first, const struct dcase *cases, size_t n)
{
	struct date_ctx ctx = { .tz = tz, .now = now, .month_first = month_first, .default_time = -1 };
	for(size_t i = 0; i < n; i++) {
		const struct dcase *c = &cases[i];
		struct date_slot s = { 0 };
		enum date_err e = date_parse(&ctx, c->text, &s);
		if(!c->y) {
			if(e == c->err) {
				check__passed++;
			} else {
				check__failed++;
				fprintf(stderr, "[%s] \"%s\": error %d, want %d\n", tz, c->text, e, c->err);
			}
			continue;
		}
		time_t want = at(tz, c->y, c->mo, c->d, c->h, c->mi);
		if(e == DATE_OK && s.start == want && s.duration_min == c->duration) {
			check__passed++;
		} else {
			struct tm got;
			tz_localtime(tz, s.start, &got);
			check__failed++;
			fprintf(stderr,
			        "[%s] \"%s\": err %d, got %04d-%02d-%02d %02d:%02d (%d min), want %04d-%02d-%02d %02d:%02d (%d min)\n",
			        tz, c->text, e, got.tm_year + 1900, got.tm_mon + 1, got.tm_mday, got.tm_hour,
			        got.tm_min, s.duration_min, c->y, c->mo, c->d, c->h, c->mi, c->duration);
		}
	}
}

#define N(a) (sizeof(a) / sizeof(a[0]))
#define ERR(text, e) \
	{ \
		text, 0, 0, 0, 0, 0, 0, e \
	}

static const struct dcase paris[] = {
	/* Absolute, both languages. */
	{ "2026-12-03 19:00", 2026, 12, 3, 19, 0, 0, 0 },
	{ "2026-12-03T19:00", 2026, 12, 3, 19, 0, 0, 0 },
	{ "03/12 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3/12/2026 19h30", 2026, 12, 3, 19, 30, 0, 0 },
	{ "3/12/26 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3.12. 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3.12.2026 19:00", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3 déc. 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3 dec 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3 décembre à 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "le 3 décembre à 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "jeudi 3 décembre 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "Jeudi 3 Décembre 19H", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3 DECEMBRE 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "Dec 3 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	{ "December 3, 19:00", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3 December 7:30 pm", 2026, 12, 3, 19, 30, 0, 0 },
	{ "Thursday, December 3 at 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	{ "3rd December 19:00", 2026, 12, 3, 19, 0, 0, 0 },
	{ "December 3rd 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	{ "Sunday, December 6, 2026 at 5pm", 2026, 12, 6, 17, 0, 0, 0 },
	{ "1er janvier 10h", 2027, 1, 1, 10, 0, 0, 0 },
	{ "5 sept. 2027 10h", 2027, 9, 5, 10, 0, 0, 0 },
	{ "sept 5 2027 10am", 2027, 9, 5, 10, 0, 0, 0 },
	{ "3 août 2027 10h", 2027, 8, 3, 10, 0, 0, 0 },
	{ "aout 3, 2027 10h", 2027, 8, 3, 10, 0, 0, 0 },
	{ "14 févr. 2027 20h", 2027, 2, 14, 20, 0, 0, 0 },
	{ "10 décembre à 19h", 2026, 12, 10, 19, 0, 0, 0 },
	/* Year wrap: a day before today's in the year is next year's, when
	 * that is less than six months ahead; further, the year is asked. */
	{ "3/01 10h", 2027, 1, 3, 10, 0, 0, 0 },
	{ "01/12 18h", 2026, 12, 1, 18, 0, 0, 0 },
	ERR("30/11 10h", DATE_NEED_YEAR),
	ERR("12/10 1pm", DATE_NEED_YEAR),
	ERR("5 sept. 10h", DATE_NEED_YEAR),
	ERR("Sept 5 10am", DATE_NEED_YEAR),
	{ "31 mai 19h", 2027, 5, 31, 19, 0, 0, 0 },
	{ "May 31 7pm", 2027, 5, 31, 19, 0, 0, 0 },
	ERR("1er juin 19h", DATE_NEED_YEAR),
	ERR("June 1 7pm", DATE_NEED_YEAR),
	{ "1er juin 2027 19h", 2027, 6, 1, 19, 0, 0, 0 },
	{ "12/10/2027 1pm", 2027, 10, 12, 13, 0, 0, 0 },
	/* ... or when a weekday that agrees settles it. */
	{ "mardi 12 octobre 19h", 2027, 10, 12, 19, 0, 0, 0 },
	{ "Tuesday 12 October 7pm", 2027, 10, 12, 19, 0, 0, 0 },
	ERR("lundi 12 octobre 19h", DATE_WEEKDAY),
	/* Leap days. */
	{ "29/02/2028 10h", 2028, 2, 29, 10, 0, 0, 0 },
	ERR("29/02/2027 10h", DATE_IMPOSSIBLE),
	ERR("29/02 10h", DATE_IMPOSSIBLE), /* 2027 is not leap */
	{ "29 février 2032 10h", 2032, 2, 29, 10, 0, 0, 0 },
	/* Relative days. */
	{ "aujourd'hui 18h", 2026, 12, 1, 18, 0, 0, 0 },
	{ "today 6pm", 2026, 12, 1, 18, 0, 0, 0 },
	{ "demain 18h", 2026, 12, 2, 18, 0, 0, 0 },
	{ "Demain 18h", 2026, 12, 2, 18, 0, 0, 0 },
	{ "tomorrow 6pm", 2026, 12, 2, 18, 0, 0, 0 },
	{ "après-demain 10h", 2026, 12, 3, 10, 0, 0, 0 },
	{ "apres demain 10h", 2026, 12, 3, 10, 0, 0, 0 },
	{ "dans 3 jours 20h", 2026, 12, 4, 20, 0, 0, 0 },
	{ "dans une semaine 19h", 2026, 12, 8, 19, 0, 0, 0 },
	{ "dans 2 semaines 19h", 2026, 12, 15, 19, 0, 0, 0 },
	{ "in 2 days 8pm", 2026, 12, 3, 20, 0, 0, 0 },
	{ "in a week 7pm", 2026, 12, 8, 19, 0, 0, 0 },
	{ "in 3 weeks 7pm", 2026, 12, 22, 19, 0, 0, 0 },
	{ "ce soir 20h", 2026, 12, 1, 20, 0, 0, 0 },
	{ "tonight 8pm", 2026, 12, 1, 20, 0, 0, 0 },
	/* Weekdays: the next one; today only when the time is still ahead. */
	{ "jeudi 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "jeu. 18h", 2026, 12, 3, 18, 0, 0, 0 },
	{ "Thu 6pm", 2026, 12, 3, 18, 0, 0, 0 },
	{ "Thursday 18:00", 2026, 12, 3, 18, 0, 0, 0 },
	{ "jeudi prochain 18h30", 2026, 12, 3, 18, 30, 0, 0 },
	{ "next Tuesday 19:00", 2026, 12, 8, 19, 0, 0, 0 },
	{ "mardi prochain 19h", 2026, 12, 8, 19, 0, 0, 0 },
	{ "mardi 19h", 2026, 12, 1, 19, 0, 0, 0 },
	{ "Tuesday 7pm", 2026, 12, 1, 19, 0, 0, 0 },
	{ "mardi 9h", 2026, 12, 8, 9, 0, 0, 0 },
	{ "lundi 10h", 2026, 12, 7, 10, 0, 0, 0 },
	{ "lun. 10h", 2026, 12, 7, 10, 0, 0, 0 },
	{ "dimanche minuit", 2026, 12, 6, 0, 0, 0, 0 },
	{ "samedi midi", 2026, 12, 5, 12, 0, 0, 0 },
	ERR("le 24 décembre au soir", DATE_NO_TIME),
	{ "le 24 décembre au soir 20h", 2026, 12, 24, 20, 0, 0, 0 },
	/* "ce vendredi", "this Friday"; "vendredi en huit" is a week later. */
	{ "ce vendredi 19h", 2026, 12, 4, 19, 0, 0, 0 },
	{ "this Friday 7pm", 2026, 12, 4, 19, 0, 0, 0 },
	{ "vendredi en huit 19h", 2026, 12, 11, 19, 0, 0, 0 },
	{ "mardi en quinze 19h", 2026, 12, 15, 19, 0, 0, 0 }, /* today is Tuesday: the 1st + 14 */
	{ "Saturday noon", 2026, 12, 5, 12, 0, 0, 0 },
	{ "Wednesday 6pm", 2026, 12, 2, 18, 0, 0, 0 },
	{ "vendredi 20h", 2026, 12, 4, 20, 0, 0, 0 },
	ERR("vendredi 3 décembre 19h", DATE_WEEKDAY), /* the 3rd is a Thursday */
	ERR("Friday 3 December 7pm", DATE_WEEKDAY),
	ERR("dimanche 25 octobre 2027 2h30", DATE_WEEKDAY), /* a Monday */
	ERR("Sunday 25 October 2027 2:30", DATE_WEEKDAY),
	/* A day of the month alone: after "le", "the" or a weekday, or with
	 * an ordinal; this month's, or the next month's when it is behind. */
	{ "le 3 à 14h", 2026, 12, 3, 14, 0, 0, 0 },
	{ "le 15 à 19h", 2026, 12, 15, 19, 0, 0, 0 },
	{ "le 15 de 19h à 21h", 2026, 12, 15, 19, 0, 120, 0 },
	{ "le 1er à 11h", 2026, 12, 1, 11, 0, 0, 0 },
	{ "le 1er à 19h", 2026, 12, 1, 19, 0, 0, 0 },
	{ "the 1st at 7pm", 2026, 12, 1, 19, 0, 0, 0 },
	{ "le 1er janvier à 19h", 2027, 1, 1, 19, 0, 0, 0 },
	{ "le premier janvier à 19h", 2027, 1, 1, 19, 0, 0, 0 },
	{ "le premier à 19h", 2026, 12, 1, 19, 0, 0, 0 },
	{ "the first of January at 7pm", 2027, 1, 1, 19, 0, 0, 0 },
	{ "the 1st of January at 7pm", 2027, 1, 1, 19, 0, 0, 0 },
	{ "mardi 1er à 19h", 2026, 12, 1, 19, 0, 0, 0 }, /* today is Tuesday the 1st */
	{ "Tuesday the 1st at 7pm", 2026, 12, 1, 19, 0, 0, 0 },
	/* A number that starts the text, then "à" and a time: that day. */
	{ "15 à 18h30", 2026, 12, 15, 18, 30, 0, 0 },
	{ "15 at 6:30pm", 2026, 12, 15, 18, 30, 0, 0 },
	{ "19 à 21h", 2026, 12, 19, 21, 0, 0, 0 },
	{ "15 à 19", 2026, 12, 15, 19, 0, 0, 0 },
	ERR("le 1er à 9h", DATE_PAST),
	{ "le 31 à 10h", 2026, 12, 31, 10, 0, 0, 0 },
	{ "jeudi 3 à 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "jeudi 3 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "jeu. 3 19h", 2026, 12, 3, 19, 0, 0, 0 },
	{ "the 3rd at 2pm", 2026, 12, 3, 14, 0, 0, 0 },
	{ "on the 15th at 7pm", 2026, 12, 15, 19, 0, 0, 0 },
	{ "15th 7pm", 2026, 12, 15, 19, 0, 0, 0 },
	{ "Thursday the 3rd 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	/* ... but after a weekday that the day contradicts, the number starts
	 * a range, and without a mark it is never a day. */
	{ "vendredi 19 à 21h", 2026, 12, 4, 19, 0, 120, 0 },
	{ "Friday 7 to 9pm", 2026, 12, 4, 19, 0, 120, 0 },
	{ "de 19 à 21h", 2026, 12, 1, 19, 0, 120, 0 },
	{ "19h à 21h", 2026, 12, 1, 19, 0, 120, 0 },
	{ "demain 19 à 21h", 2026, 12, 2, 19, 0, 120, 0 },
	ERR("jeudi 19", DATE_NO_TIME),
	/* ... a longer range is the day misnamed, and said so. */
	ERR("lundi 12 à 19h", DATE_WEEKDAY), /* the 12th is a Saturday */
	ERR("Monday 12 at 7pm", DATE_WEEKDAY),
	ERR("vendredi 9 à 21h", DATE_WEEKDAY),
	/* "at 7": morning or evening is asked, unless something says which;
	 * "jeudi 7h" is 7:00, as French has it. */
	{ "Thursday at 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	{ "jeudi à 19h", 2026, 12, 3, 19, 0, 0, 0 },
	ERR("Thursday at 7", DATE_AMPM),
	ERR("jeudi à 7", DATE_AMPM),
	{ "jeudi 7h", 2026, 12, 3, 7, 0, 0, 0 },
	{ "Thursday at 7 in the evening", 2026, 12, 3, 19, 0, 0, 0 },
	/* "at 7:30" too, in English; "07:30" is the 24-hour clock, and
	 * "7h30" is 7:30 by French usage, in either language. */
	ERR("Thursday at 7:30", DATE_AMPM),
	ERR("Thursday at 11:45", DATE_AMPM),
	{ "Thursday at 7:30pm", 2026, 12, 3, 19, 30, 0, 0 },
	{ "Thursday at 7:30 in the evening", 2026, 12, 3, 19, 30, 0, 0 },
	{ "Thursday morning at 7:30", 2026, 12, 3, 7, 30, 0, 0 },
	{ "Thursday at 07:30", 2026, 12, 3, 7, 30, 0, 0 },
	{ "Thursday at 19:30", 2026, 12, 3, 19, 30, 0, 0 },
	{ "Thursday at 12:30", 2026, 12, 3, 12, 30, 0, 0 },
	{ "Thursday at 7h30", 2026, 12, 3, 7, 30, 0, 0 },
	{ "jeudi à 7h30", 2026, 12, 3, 7, 30, 0, 0 },
	{ "Thursday 7:30", 2026, 12, 3, 7, 30, 0, 0 },
	{ "Thursday at 7:30-9pm", 2026, 12, 3, 19, 30, 90, 0 },
	{ "jeudi soir à 7", 2026, 12, 3, 19, 0, 0, 0 },
	{ "Thursday morning at 7", 2026, 12, 3, 7, 0, 0, 0 },
	{ "jeudi matin à 7", 2026, 12, 3, 7, 0, 0, 0 },
	{ "Thursday at 19", 2026, 12, 3, 19, 0, 0, 0 },
	{ "jeudi à 19", 2026, 12, 3, 19, 0, 0, 0 },
	{ "Thursday at 12", 2026, 12, 3, 12, 0, 0, 0 },
	{ "Thursday at noon", 2026, 12, 3, 12, 0, 0, 0 },
	{ "jeudi à midi", 2026, 12, 3, 12, 0, 0, 0 },
	/* Parts of the day: no time by themselves; after noon, a bare 8h is
	 * 20h. */
	ERR("jeudi soir", DATE_NO_TIME),
	ERR("demain matin", DATE_NO_TIME),
	{ "jeudi soir 20h", 2026, 12, 3, 20, 0, 0, 0 },
	{ "jeudi soir 8h", 2026, 12, 3, 20, 0, 0, 0 },
	{ "jeudi 8h du soir", 2026, 12, 3, 20, 0, 0, 0 },
	{ "ce soir 8h", 2026, 12, 1, 20, 0, 0, 0 },
	{ "demain matin 9h", 2026, 12, 2, 9, 0, 0, 0 },
	{ "jeudi après-midi 3h", 2026, 12, 3, 15, 0, 0, 0 },
	{ "jeudi apres midi 14h-16h", 2026, 12, 3, 14, 0, 120, 0 },
	{ "vendredi soir 8h-10h", 2026, 12, 4, 20, 0, 120, 0 },
	{ "vendredi soir 10h-1h", 2026, 12, 4, 22, 0, 180, 0 },
	{ "Thursday evening 8pm", 2026, 12, 3, 20, 0, 0, 0 },
	{ "tomorrow morning 9am", 2026, 12, 2, 9, 0, 0, 0 },
	{ "Friday 8:00 in the evening", 2026, 12, 4, 20, 0, 0, 0 },
	{ "jeudi soir 9am", 2026, 12, 3, 9, 0, 0, 0 }, /* said outright: kept */
	{ "samedi midi", 2026, 12, 5, 12, 0, 0, 0 },
	ERR("vendredi 3 à 19h", DATE_WEEKDAY), /* the 3rd misnamed, not 3:00-19:00 */
	ERR("le 32 à 10h", DATE_NO_DAY),
	ERR("le 40", DATE_NO_DAY), /* before the missing time */
	ERR("the 40th", DATE_NO_DAY),
	ERR("demain jeudi 19h", DATE_WEEKDAY), /* tomorrow is Wednesday */
	ERR("tomorrow Thursday 7pm", DATE_WEEKDAY),
	/* Relative times: an instant from now. */
	{ "dans 2h", 2026, 12, 1, 12, 0, 0, 0 },
	{ "dans 1 heure", 2026, 12, 1, 11, 0, 0, 0 },
	{ "dans une heure", 2026, 12, 1, 11, 0, 0, 0 },
	{ "dans 30 minutes", 2026, 12, 1, 10, 30, 0, 0 },
	{ "dans 1h30", 2026, 12, 1, 11, 30, 0, 0 },
	{ "dans une demi-heure", 2026, 12, 1, 10, 30, 0, 0 },
	{ "dans 45 min", 2026, 12, 1, 10, 45, 0, 0 },
	{ "in 2 hours", 2026, 12, 1, 12, 0, 0, 0 },
	{ "in an hour", 2026, 12, 1, 11, 0, 0, 0 },
	{ "in 30 minutes", 2026, 12, 1, 10, 30, 0, 0 },
	{ "in half an hour", 2026, 12, 1, 10, 30, 0, 0 },
	{ "in 1 hour 30 minutes", 2026, 12, 1, 11, 30, 0, 0 },
	{ "dans 26 heures", 2026, 12, 2, 12, 0, 0, 0 },
	ERR("dans 2h 19h", DATE_SYNTAX),
	ERR("dans 2h jeudi", DATE_SYNTAX),
	ERR("in 2 hours tonight", DATE_SYNTAX),
	/* Times. */
	{ "19h", 2026, 12, 1, 19, 0, 0, 0 },
	{ "19 h 30", 2026, 12, 1, 19, 30, 0, 0 },
	{ "19:30", 2026, 12, 1, 19, 30, 0, 0 },
	{ "7 pm", 2026, 12, 1, 19, 0, 0, 0 },
	{ "7:30pm", 2026, 12, 1, 19, 30, 0, 0 },
	{ "7.30pm", 2026, 12, 1, 19, 30, 0, 0 },
	{ "12pm", 2026, 12, 1, 12, 0, 0, 0 },
	{ "demain 12am", 2026, 12, 2, 0, 0, 0, 0 },
	{ "midi", 2026, 12, 1, 12, 0, 0, 0 },
	{ "demain midi", 2026, 12, 2, 12, 0, 0, 0 },
	/* Ranges. */
	{ "19h-21h", 2026, 12, 1, 19, 0, 120, 0 },
	{ "jeudi 19h-21h", 2026, 12, 3, 19, 0, 120, 0 },
	{ "jeudi 19h – 21h", 2026, 12, 3, 19, 0, 120, 0 },
	{ "19h à 21h", 2026, 12, 1, 19, 0, 120, 0 },
	{ "jeudi de 19h à 21h30", 2026, 12, 3, 19, 0, 150, 0 },
	{ "19:00-21:00", 2026, 12, 1, 19, 0, 120, 0 },
	{ "Friday 7-9pm", 2026, 12, 4, 19, 0, 120, 0 },
	{ "7-9 pm", 2026, 12, 1, 19, 0, 120, 0 },
	{ "7pm-9pm", 2026, 12, 1, 19, 0, 120, 0 },
	{ "from 7 to 9pm", 2026, 12, 1, 19, 0, 120, 0 },
	{ "11-1pm", 2026, 12, 1, 11, 0, 120, 0 },
	{ "demain 10am-12pm", 2026, 12, 2, 10, 0, 120, 0 },
	{ "22h-1h", 2026, 12, 1, 22, 0, 180, 0 },
	ERR("19h-19h", DATE_BAD_RANGE),
	/* Refused, with the reason. */
	ERR("", DATE_EMPTY),
	ERR("   ", DATE_EMPTY),
	ERR("blabla", DATE_SYNTAX),
	ERR("banana", DATE_SYNTAX),
	ERR("demain 18h blabla", DATE_SYNTAX),
	ERR("hier 12h", DATE_PAST),
	ERR("hier 19h", DATE_PAST),
	ERR("yesterday 7pm", DATE_PAST),
	ERR("avant-hier 19h", DATE_PAST),
	ERR("31/02 19h", DATE_IMPOSSIBLE),
	ERR("31 avril 10h", DATE_IMPOSSIBLE),
	ERR("2026-13-01 10:00", DATE_NO_MONTH),
	ERR("13/13 19h", DATE_NO_MONTH),
	ERR("0/12 10h", DATE_NO_DAY),
	ERR("25h", DATE_BAD_TIME),
	ERR("tomorrow 25h", DATE_BAD_TIME),
	ERR("jeudi 24h", DATE_BAD_TIME),
	ERR("19:75", DATE_BAD_TIME),
	ERR("13pm", DATE_BAD_TIME),
	ERR("Dec 3", DATE_NO_TIME),
	ERR("jeudi", DATE_NO_TIME),
	ERR("2026-11-30 10:00", DATE_PAST),
	ERR("aujourd'hui 9h", DATE_PAST),
	ERR("2026-12-01 09:59", DATE_PAST),
	ERR("jeudi 19h €", DATE_SYNTAX),
};

/* DST in Paris: the night of 28 March 2027 skips 2:00-3:00; the night of
 * 31 October 2027 repeats 2:00-3:00 (the first one is taken). */
static const struct dcase paris_dst[] = {
	ERR("2027-03-28 02:30", DATE_GAP),
	ERR("28/03/2027 2h", DATE_GAP),
	{ "2027-03-28 03:00", 2027, 3, 28, 3, 0, 0, 0 },
	{ "2027-03-28 01:59", 2027, 3, 28, 1, 59, 0, 0 },
	{ "2027-03-27 19:00", 2027, 3, 27, 19, 0, 0, 0 },
	{ "2027-03-28 19:00", 2027, 3, 28, 19, 0, 0, 0 },
	{ "27/03/2027 23h-4h", 2027, 3, 27, 23, 0, 240, 0 }, /* 4 h of wall time, 4 h real? no: see below */
	{ "2027-10-31 02:30", 2027, 10, 31, 2, 30, 0, 0 },
	{ "31/10/2027 1h-3h", 2027, 10, 31, 1, 0, 180, 0 }, /* an hour longer: the clocks go back */
};

/* Days of the month from the 20th: behind us means next month's, and a
 * month without that day refuses it. */
static const struct dcase late_month[] = {
	{ "le 3 à 14h", 2027, 1, 3, 14, 0, 0, 0 },
	{ "le 25 à 14h", 2026, 12, 25, 14, 0, 0, 0 },
	{ "the 20th 6pm", 2026, 12, 20, 18, 0, 0, 0 },
};
static const struct dcase november[] = {
	ERR("le 31 à 10h", DATE_IMPOSSIBLE), /* November has 30 days */
	{ "le 2 à 10h", 2026, 12, 2, 10, 0, 0, 0 },
};

/* 20 May 2027: the next 1st is Tuesday 1 June. */
static const struct dcase may[] = {
	{ "mardi 1er à 19h", 2027, 6, 1, 19, 0, 0, 0 },
	{ "Tuesday the 1st at 7pm", 2027, 6, 1, 19, 0, 0, 0 },
	ERR("mercredi 1er à 19h", DATE_WEEKDAY),
	{ "le 1er à 19h", 2027, 6, 1, 19, 0, 0, 0 },
};

/* Sunday 6 December 2026, the day of the examples. */
static const struct dcase december6[] = {
	ERR("12/10 7pm", DATE_NEED_YEAR),     /* not 12 October 2027 unasked */
	ERR("mardi 1er à 19h", DATE_WEEKDAY), /* 1 January 2027 is a Friday */
	{ "vendredi 1er à 19h", 2027, 1, 1, 19, 0, 0, 0 },
	{ "le 1er à 19h", 2027, 1, 1, 19, 0, 0, 0 },
	{ "15 à 18h30", 2026, 12, 15, 18, 30, 0, 0 },
	ERR("lundi 12 à 19h", DATE_WEEKDAY),
	{ "5/06 19h", 2027, 6, 5, 19, 0, 0, 0 }, /* less than six months ahead */
	ERR("6/06 19h", DATE_NEED_YEAR),
};

static const struct dcase newyork[] = {
	ERR("2027-03-14 02:30", DATE_GAP),
	{ "2027-03-14 03:30", 2027, 3, 14, 3, 30, 0, 0 },
	{ "2027-11-07 01:30", 2027, 11, 7, 1, 30, 0, 0 },
	{ "Dec 3 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	{ "tomorrow 9am", 2026, 12, 2, 9, 0, 0, 0 },
};

/* Month first: 12/03 is 3 December. */
static const struct dcase month_first[] = {
	{ "12/03 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	{ "12/3/2026 7pm", 2026, 12, 3, 19, 0, 0, 0 },
	{ "25/12 10am", 2026, 12, 25, 10, 0, 0, 0 }, /* 25 cannot be a month */
	{ "1/15 10am", 2027, 1, 15, 10, 0, 0, 0 },
};

static void check_duration(const char *text, int want)
{
	int got = -1;
	int rc = date_parse_duration(text, &got);
	if((want < 0 && rc == -1) || (want >= 0 && rc == 0 && got == want)) {
		check__passed++;
	} else {
		check__failed++;
		fprintf(stderr, "duration \"%s\": rc %d, %d minutes, want %d\n", text, rc, got, want);
	}
}

static void check_fmt_slot(const char *lang, time_t now, time_t start, int dur, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	date_format_slot(&sb, lang, "Europe/Paris", now, start, dur);
	CHECK_STR(sb.buf, want);
	strbuf_release(&sb);
}

int main(void)
{
	const char *P = "Europe/Paris";
	if(i18n_init())
		return 1;
	time_t now = at(P, 2026, 12, 1, 10, 0);
	run(P, now, false, paris, N(paris));
	run(P, at(P, 2027, 3, 1, 10, 0), false, paris_dst, N(paris_dst));
	run(P, at(P, 2026, 12, 20, 10, 0), false, late_month, N(late_month));
	run(P, at(P, 2026, 11, 5, 10, 0), false, november, N(november));
	run(P, at(P, 2027, 5, 20, 10, 0), false, may, N(may));
	run(P, at(P, 2026, 12, 6, 10, 0), false, december6, N(december6));
	run("America/New_York", at("America/New_York", 2026, 12, 1, 10, 0), false, newyork, N(newyork));
	run(P, now, true, month_first, N(month_first));

	/* The DST ranges above, checked in real minutes. */
	struct date_ctx ctx = { .tz = P, .now = at(P, 2027, 3, 1, 10, 0), .default_time = -1 };
	struct date_slot s;
	CHECK_INT(date_parse(&ctx, "31/10/2027 1h-3h", &s), DATE_OK);
	CHECK_INT(s.duration_min, 180);
	/* A default time, when allowed, fills a day without one. */
	ctx.now = now;
	ctx.default_time = 23 * 60 + 59;
	CHECK_INT(date_parse(&ctx, "vendredi", &s), DATE_OK);
	CHECK_INT(s.start, at(P, 2026, 12, 4, 23, 59));
	ctx.allow_past = true;
	ctx.default_time = -1;
	CHECK_INT(date_parse(&ctx, "2026-11-30 10:00", &s), DATE_OK);
	/* ... and a deadline "dans 2h" is an instant all the same. */
	ctx.allow_past = false;
	ctx.default_time = 23 * 60 + 59;
	CHECK_INT(date_parse(&ctx, "dans 2h", &s), DATE_OK);
	CHECK_INT(s.start, at(P, 2026, 12, 1, 12, 0));
	CHECK_INT(date_parse(&ctx, "dans 1 heure", &s), DATE_OK);
	CHECK_INT(s.start, at(P, 2026, 12, 1, 11, 0));
	/* From a now between two minutes, to the minute. */
	ctx.now = now + 37;
	CHECK_INT(date_parse(&ctx, "in 2 hours", &s), DATE_OK);
	CHECK_INT(s.start, at(P, 2026, 12, 1, 12, 0));

	/* The reasons, as the replies write them. */
	time_t dec6 = at(P, 2026, 12, 6, 10, 0);
	const struct {
		const char *lang, *text, *want;
	} why[] = {
		{ "fr", "lundi 12 à 19h", "le 12 décembre est un samedi" },
		{ "en", "Monday 12 at 7pm", "12 December is a Saturday" },
		{ "fr", "dimanche 25 octobre 2027 2h30", "le 25 octobre 2027 est un lundi" },
		{ "en", "Sunday 25 October 2027 2:30", "25 October 2027 is a Monday" },
		{ "fr", "mardi 1er à 19h", "le 1er janvier 2027 est un vendredi" },
		{ "en", "Tuesday the 1st at 7pm", "1 January 2027 is a Friday" },
		{ "fr", "hier 19h", "ce moment est déjà passé (samedi 5 décembre à 19 h 00)" },
		{ "en", "yesterday 7pm", "this moment is already past (Saturday 5 December at 7:00 PM)" },
		{ "fr", "le 40", "il n'y a pas de jour 40 dans un mois (ils vont du 1er au 31)" },
		{ "en", "the 40th", "there is no day 40 in a month (they go from 1 to 31)" },
		{ "fr", "2027-13-01 19:00", "il n'y a pas de mois 13" },
		{ "en", "13/13 7pm", "there is no month 13" },
		{ "fr", "31 avril 10h", "avril n'a que 30 jours" },
		{ "en", "31 April 10am", "April has only 30 days" },
		{ "fr", "29/02/2027 10h", "février 2027 n'a que 28 jours" },
		{ "en", "29/02/2027 10am", "February 2027 has only 28 days" },
		{ "fr", "jeudi à 7", "7 h du matin ou du soir ? Écrivez 7h ou 19h" },
		{ "en", "Thursday at 7", "7 in the morning or in the evening? Write 7am or 7pm (or 19:00)" },
		{ "en", "Thursday at 7:30",
		  "7:30 in the morning or in the evening? Write 7:30am or 7:30pm (or 19:30)" },
		{ "fr", "Thursday at 7:30", "7h30 du matin ou du soir ? Écrivez 7h30 ou 19h30" },
		{ "fr", "12/10 19h",
		  "sans année, ce serait le mardi 12 octobre 2027 à 19 h 00, dans plus de six mois ; "
		  "si c'est bien cette date, précisez l'année (12 octobre 2027)" },
		{ "en", "12/10 7pm",
		  "without a year this would be Tuesday 12 October 2027 at 7:00 PM, more than six months "
		  "away; if that is the date you mean, give the year (12 October 2027)" },
		{ "fr", "blabla", "ce n'est pas une date que je sais lire" },
		{ "en", "jeudi", "a time is missing" },
	};
	struct date_ctx wctx = { .tz = P, .now = dec6, .default_time = -1 };
	for(size_t i = 0; i < N(why); i++) {
		struct date_why w;
		struct strbuf sb = STRBUF_INIT;
		enum date_err e = date_parse_why(&wctx, why[i].text, &s, &w);
		CHECK(e != DATE_OK);
		date_err_write(&sb, why[i].lang, &wctx, e, &w);
		CHECK_STR(sb.buf, why[i].want);
		strbuf_release(&sb);
	}
	/* Without what date_parse found, the bare reason. */
	struct strbuf bare = STRBUF_INIT;
	date_err_write(&bare, "en", &wctx, DATE_WEEKDAY, NULL);
	CHECK_STR(bare.buf, "that day of the week does not match the date");
	strbuf_release(&bare);

	/* Durations. */
	check_duration("2h", 120);
	check_duration("1h30", 90);
	check_duration("1 h 30", 90);
	check_duration("1h30m", 90);
	check_duration("90m", 90);
	check_duration("90 min", 90);
	check_duration("45mn", 45);
	check_duration("2 heures", 120);
	check_duration("1 heure 30", 90);
	check_duration("1 hour 30 minutes", 90);
	check_duration("3d", 3 * 1440);
	check_duration("3j", 3 * 1440);
	check_duration("2 jours", 2 * 1440);
	check_duration("1 day", 1440);
	check_duration("1 week", 7 * 1440);
	check_duration("une semaine", 7 * 1440);
	check_duration("2w", 14 * 1440);
	check_duration("2d 3h 30m", 2 * 1440 + 210);
	check_duration("2j et 3h", 2 * 1440 + 180);
	check_duration("0m", -1);
	check_duration("", -1);
	check_duration("forever", -1);
	check_duration("90", -1);
	check_duration("10 years", -1);
	check_duration("400 days", -1);
	check_duration("-2h", -1);

	/* Formatting, both languages, 1er, noon and midnight, year, other day. */
	check_fmt_slot("fr", now, at(P, 2026, 12, 3, 19, 0), 120, "jeudi 3 décembre, 19 h 00 – 21 h 00");
	check_fmt_slot("en", now, at(P, 2026, 12, 3, 19, 0), 120, "Thursday 3 December, 7:00 PM – 9:00 PM");
	check_fmt_slot("fr", now, at(P, 2026, 12, 1, 9, 5), 0, "mardi 1er décembre, 9 h 05");
	check_fmt_slot("en", now, at(P, 2026, 12, 1, 12, 0), 0, "Tuesday 1 December, 12:00 PM");
	check_fmt_slot("en", now, at(P, 2026, 12, 2, 0, 0), 0, "Wednesday 2 December, 12:00 AM");
	check_fmt_slot("fr", now, at(P, 2027, 1, 7, 19, 0), 90, "jeudi 7 janvier 2027, 19 h 00 – 20 h 30");
	check_fmt_slot("en", now, at(P, 2027, 1, 7, 19, 0), 90, "Thursday 7 January 2027, 7:00 PM – 8:30 PM");
	check_fmt_slot("fr", now, at(P, 2026, 12, 5, 22, 0), 180,
	               "samedi 5 décembre, 22 h 00 – dimanche 6 décembre, 1 h 00");
	check_fmt_slot("en", now, at(P, 2026, 12, 5, 22, 0), 180,
	               "Saturday 5 December, 10:00 PM – Sunday 6 December, 1:00 AM");
	check_fmt_slot("de", now, at(P, 2026, 12, 3, 19, 0), 0, "Thursday 3 December, 7:00 PM");
	struct strbuf sb = STRBUF_INIT;
	date_format_when(&sb, "fr", P, now, at(P, 2026, 12, 3, 19, 0));
	CHECK_STR(sb.buf, "jeudi 3 décembre à 19 h 00");
	strbuf_reset(&sb);
	date_format_when(&sb, "en", P, now, at(P, 2026, 12, 3, 19, 0));
	CHECK_STR(sb.buf, "Thursday 3 December at 7:00 PM");
	const struct {
		const char *lang;
		int min;
		const char *want;
	} d[] = {
		{ "fr", 120, "2 h" },       { "fr", 90, "1 h 30" },   { "fr", 45, "45 min" },
		{ "fr", 2880, "2 jours" },  { "fr", 1440, "1 jour" }, { "en", 120, "2 h" },
		{ "en", 90, "1 h 30 min" }, { "en", 45, "45 min" },   { "en", 2880, "2 days" },
		{ "en", 1440, "1 day" },
	};
	for(size_t i = 0; i < N(d); i++) {
		strbuf_reset(&sb);
		date_format_duration(&sb, d[i].lang, d[i].min);
		CHECK_STR(sb.buf, d[i].want);
	}
	const struct {
		const char *lang;
		int min;
		const char *want;
	} o[] = {
		{ "fr", 2 * 1440 + 210, "2 jours, 3 heures et 30 minutes" },
		{ "fr", 60, "1 heure" },
		{ "fr", 30, "30 minutes" },
		{ "fr", 1500, "1 jour et 1 heure" },
		{ "fr", 1, "1 minute" },
		{ "en", 2 * 1440 + 210, "2 days, 3 hours and 30 minutes" },
		{ "en", 60, "1 hour" },
		{ "en", 1500, "1 day and 1 hour" },
		{ "en", 1440, "1 day" },
	};
	for(size_t i = 0; i < N(o); i++) {
		strbuf_reset(&sb);
		date_format_offset(&sb, o[i].lang, o[i].min);
		CHECK_STR(sb.buf, o[i].want);
	}
	strbuf_release(&sb);
	CHECK_STR(date_err_key(DATE_GAP), "date.err.gap");
	CHECK_STR(date_err_key(DATE_PAST), "date.err.past");
	return check_done();
}
