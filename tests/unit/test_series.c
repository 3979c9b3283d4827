/* Recurring series: reading the rules people write, and the next session
 * keeping its local time across daylight-saving changes. */
#include <string.h>

#include "bot/i18n.h"
#include "bot/series.h"
#include "lib/tz.h"
#include "tests/unit/check.h"

static time_t at(const char *tz, int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
	time_t t = 0;
	tz_mktime(tz, &tm, &t);
	return t;
}

static void parse(const char *text, int want_rc, const char *want_rule, bool want_poll)
{
	char rule[32] = "";
	bool poll = false;
	int rc = series_parse(text, rule, sizeof(rule), &poll);
	CHECK_INT(rc, want_rc);
	if(want_rc == 1) {
		CHECK_STR(rule, want_rule);
		CHECK_INT(poll, want_poll);
	}
}

static void next(const char *rule, time_t from, time_t want)
{
	time_t got = 0;
	CHECK_INT(series_next(rule, "Europe/Paris", from, &got), 0);
	CHECK_INT(got, want);
}

int main(void)
{
	if(i18n_init())
		return 1;
	parse("--every week", 1, "week", false);
	parse("every week", 1, "week", false);
	parse("Every: week", 1, "week", false);
	parse("weekly", 1, "week", false);
	parse("chaque semaine", 1, "week", false);
	parse("toutes les semaines", 1, "week", false);
	parse("--every 2weeks", 1, "2weeks", false);
	parse("every 2 weeks", 1, "2weeks", false);
	parse("every two weeks poll", 1, "2weeks", true);
	parse("every other week", 1, "2weeks", false);
	parse("toutes les deux semaines", 1, "2weeks", false);
	parse("toutes les 2 semaines (sondage)", 1, "2weeks", true);
	parse("--every month", 1, "month", false);
	parse("chaque mois", 1, "month", false);
	parse("tous les mois", 1, "month", false);
	parse("monthly", 1, "month", false);
	parse("le premier mardi du mois", 1, "nth:1:2", false);
	parse("chaque premier mardi du mois", 1, "nth:1:2", false);
	parse("le dernier vendredi du mois", 1, "nth:-1:5", false);
	parse("every first Tuesday of the month", 1, "nth:1:2", false);
	parse("every last friday of the month", 1, "nth:-1:5", false);
	parse("le troisième jeudi du mois", 1, "nth:3:4", false);
	parse("every fortnight-ish", -1, NULL, false);
	parse("chaque jour de pluie", -1, NULL, false);
	parse("jeudi 19h", 0, NULL, false);
	parse("Café du Coin", 0, NULL, false);
	parse("le 3 décembre à 19h", 0, NULL, false); /* a date, not a rule */
	parse("le 1er à 19h", 0, NULL, false);
	parse("le 1er janvier à 19h", 0, NULL, false);
	parse("le premier à 19h", 0, NULL, false);

	const char *P = "Europe/Paris";
	/* Weekly across the last Sunday of October: 19:00 stays 19:00. */
	next("week", at(P, 2026, 10, 20, 19, 0), at(P, 2026, 10, 27, 19, 0));
	CHECK_INT(at(P, 2026, 10, 27, 19, 0) - at(P, 2026, 10, 20, 19, 0), 7 * 86400 + 3600);
	/* ... and across the last Sunday of March. */
	next("week", at(P, 2027, 3, 23, 19, 0), at(P, 2027, 3, 30, 19, 0));
	CHECK_INT(at(P, 2027, 3, 30, 19, 0) - at(P, 2027, 3, 23, 19, 0), 7 * 86400 - 3600);
	next("2weeks", at(P, 2026, 12, 1, 19, 0), at(P, 2026, 12, 15, 19, 0));
	next("2weeks", at(P, 2026, 12, 22, 19, 0), at(P, 2027, 1, 5, 19, 0));
	next("month", at(P, 2026, 12, 3, 19, 0), at(P, 2027, 1, 3, 19, 0));
	next("month", at(P, 2027, 1, 31, 19, 0), at(P, 2027, 2, 28, 19, 0));
	/* The first Tuesday of January 2027 is the 5th; the last Friday of
	 * February 2027 is the 26th. */
	next("nth:1:2", at(P, 2026, 12, 1, 19, 0), at(P, 2027, 1, 5, 19, 0));
	next("nth:-1:5", at(P, 2027, 1, 29, 20, 0), at(P, 2027, 2, 26, 20, 0));
	next("nth:1:2", at(P, 2027, 3, 2, 19, 0), at(P, 2027, 4, 6, 19, 0)); /* across March's change */
	/* A session at 2:30 that would fall in the spring gap moves an hour. */
	next("week", at(P, 2027, 3, 21, 2, 30), at(P, 2027, 3, 28, 3, 30));
	time_t t;
	CHECK_INT(series_next("fortnightly", P, 0, &t), -1);

	struct strbuf sb = STRBUF_INIT;
	series_format(&sb, "fr", "nth:1:2");
	CHECK_STR(sb.buf, "le premier mardi du mois");
	strbuf_reset(&sb);
	series_format(&sb, "en", "nth:-1:5");
	CHECK_STR(sb.buf, "every last Friday of the month");
	strbuf_reset(&sb);
	series_format(&sb, "fr", "2weeks");
	CHECK_STR(sb.buf, "toutes les deux semaines");
	strbuf_release(&sb);
	i18n_free();
	return check_done();
}
