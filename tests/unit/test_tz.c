/* Time zones from the system's zoneinfo, DST gaps and repeated hours. */
#include "lib/tz.h"
#include "tests/unit/check.h"

static enum tz_result mk(const char *z, int y, int mo, int d, int h, int mi, time_t *t)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
	return tz_mktime(z, &tm, t);
}

int main(void)
{
	CHECK(tz_valid("Europe/Paris"));
	CHECK(tz_valid("America/New_York"));
	CHECK(tz_valid("UTC"));
	CHECK(!tz_valid("Mars/Olympus"));
	CHECK(!tz_valid(""));
	CHECK(!tz_valid(NULL));
	CHECK(!tz_valid("../../etc/passwd"));
	CHECK(!tz_valid("/etc/localtime"));
	CHECK(!tz_valid("Europe"));    /* a directory */
	CHECK(!tz_valid("CET-1CEST")); /* a POSIX string, not a zone file */
	CHECK(!tz_valid("Europe/Paris;rm"));

	time_t t;
	/* 2026-12-03 19:00 CET is 18:00 UTC. */
	CHECK_INT(mk("Europe/Paris", 2026, 12, 3, 19, 0, &t), TZ_OK);
	CHECK_INT(t, 1796320800);
	CHECK_INT(tz_offset("Europe/Paris", t), 3600);
	CHECK_INT(mk("Europe/Paris", 2026, 7, 1, 12, 0, &t), TZ_OK);
	CHECK_INT(tz_offset("Europe/Paris", t), 7200);
	/* Spring forward: 02:30 does not exist. */
	CHECK_INT(mk("Europe/Paris", 2027, 3, 28, 2, 30, &t), TZ_GAP);
	CHECK_INT(mk("America/New_York", 2027, 3, 14, 2, 30, &t), TZ_GAP);
	/* Fall back: 02:30 happens twice; the first (summer time) is given. */
	CHECK_INT(mk("Europe/Paris", 2026, 10, 25, 2, 30, &t), TZ_AMBIGUOUS);
	CHECK_INT(t, 1792888200);
	CHECK_INT(mk("America/New_York", 2026, 11, 1, 1, 30, &t), TZ_AMBIGUOUS);
	CHECK_INT(t, 1793511000);
	CHECK_INT(mk("Nowhere/Zone", 2026, 1, 1, 0, 0, &t), TZ_BADZONE);
	/* Switching zones back and forth gives each its own answer. */
	struct tm a, b;
	CHECK_INT(tz_localtime("Asia/Tokyo", 1796320800, &a), 0);
	CHECK_INT(tz_localtime("Europe/Paris", 1796320800, &b), 0);
	CHECK_INT(a.tm_hour, 3);
	CHECK_INT(b.tm_hour, 19);
	CHECK_INT(tz_localtime("Mars/Olympus", 0, &a), -1);
	/* The same questions asked again, in turn in each zone, get each
	 * zone's answers (they are remembered, per zone). */
	for(int round = 0; round < 3; round++) {
		CHECK_INT(tz_localtime("Asia/Tokyo", 1796320800, &a), 0);
		CHECK_INT(a.tm_hour, 3);
		CHECK_INT(mk("Asia/Tokyo", 2026, 12, 3, 19, 0, &t), TZ_OK);
		CHECK_INT(t, 1796320800 - 9 * 3600 + 3600);
		CHECK_INT(tz_localtime("Europe/Paris", 1796320800, &b), 0);
		CHECK_INT(b.tm_hour, 19);
		CHECK_INT(mk("Europe/Paris", 2026, 12, 3, 19, 0, &t), TZ_OK);
		CHECK_INT(t, 1796320800);
		CHECK_INT(mk("Europe/Paris", 2027, 3, 28, 2, 30, &t), TZ_GAP);
		CHECK_INT(t, 1796320800); /* left as it was */
		CHECK_INT(mk("Europe/Paris", 2026, 10, 25, 2, 30, &t), TZ_AMBIGUOUS);
		CHECK_INT(t, 1792888200);
	}
	return check_done();
}
