/*
 * tz: local time in IANA zones from the system's zoneinfo.  The process's
 * TZ is switched only when the zone changes between calls: glibc caches the
 * zone it loaded.  TZ is the process's, and on PostgreSQL the core's
 * handlers run on a thread of the loop's pool while the loop may render a
 * web page: so each call switches and reads under one lock, and no two
 * threads ever see each other's zone (or setenv and getenv at once).
 */
#include "lib/tz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/text.h"

#define TZ_DIR "/usr/share/zoneinfo"

static char tz__current[128];
static pthread_mutex_t tz__lock = PTHREAD_MUTEX_INITIALIZER;

/* The last answers, by wall time and by instant: the same dates are
 * converted again and again (each slot of a poll shown, the dates of the
 * proposals), and glibc's conversions cost thousands of instructions each
 * (mktime searches with localtime, twice here).  An answer depends on the
 * zone's rules alone, loaded when the zone is switched to: both tables
 * are emptied then.  Read and written under the lock, as the zone is. */
#define TZ_MEMO 64 /* a power of two */

struct tz__wall {
	bool used;
	int year, mon, mday, hour, min, sec;
	enum tz_result rc;
	time_t t; /* for TZ_OK and TZ_AMBIGUOUS */
};

struct tz__instant {
	bool used;
	time_t t;
	struct tm tm;
};

static struct tz__wall tz__walls[TZ_MEMO];
static struct tz__instant tz__instants[TZ_MEMO];

static unsigned tz__hash(unsigned long long x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	return (unsigned)(x >> 58) & (TZ_MEMO - 1);
}

static void tz__enter(void)
{
	pthread_mutex_lock(&tz__lock);
}

static void tz__leave(void)
{
	pthread_mutex_unlock(&tz__lock);
}

bool tz_valid(const char *zone)
{
	if(!zone || !*zone || strlen(zone) >= sizeof(tz__current) - 1 || zone[0] == '/' || strstr(zone, ".."))
		return false;
	for(const char *p = zone; *p; p++) {
		char c = *p;
		if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		     c == '+' || c == '-' || c == '/'))
			return false;
	}
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", TZ_DIR, zone);
	struct stat st;
	if(stat(path, &st) || !S_ISREG(st.st_mode))
		return false;
	FILE *f = fopen(path, "rb");
	if(!f)
		return false;
	char magic[4];
	size_t n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	return n == 4 && !memcmp(magic, "TZif", 4);
}

/* Makes zone the process's zone; 0, or -1 when it is not valid. */
static int tz__use(const char *zone)
{
	if(!strcmp(zone, tz__current))
		return 0;
	if(!tz_valid(zone))
		return -1;
	char env[160];
	snprintf(env, sizeof(env), ":%s", zone);
	if(setenv("TZ", env, 1))
		return -1;
	tzset();
	text_copy(tz__current, sizeof(tz__current), zone);
	memset(tz__walls, 0, sizeof(tz__walls));
	memset(tz__instants, 0, sizeof(tz__instants));
	return 0;
}

/* tz_localtime's work, under the lock. */
static int tz__localtime(const char *zone, time_t t, struct tm *out)
{
	if(tz__use(zone))
		return -1;
	struct tz__instant *m = &tz__instants[tz__hash((unsigned long long)t)];
	if(m->used && m->t == t) {
		*out = m->tm;
		return 0;
	}
	if(!localtime_r(&t, out))
		return -1;
	*m = (struct tz__instant){ .used = true, .t = t, .tm = *out };
	return 0;
}

int tz_localtime(const char *zone, time_t t, struct tm *out)
{
	tz__enter();
	int rc = tz__localtime(zone, t, out);
	tz__leave();
	return rc;
}

/* True when t shows as the wall time of want in the current zone. */
static bool tz__shows(time_t t, const struct tm *want)
{
	struct tm got;
	if(!localtime_r(&t, &got))
		return false;
	return got.tm_year == want->tm_year && got.tm_mon == want->tm_mon && got.tm_mday == want->tm_mday &&
	       got.tm_hour == want->tm_hour && got.tm_min == want->tm_min && got.tm_sec == want->tm_sec;
}

/* tz_mktime's work, under the lock. */
static enum tz_result tz__mktime(const char *zone, const struct tm *local, time_t *out)
{
	if(tz__use(zone))
		return TZ_BADZONE;
	/* Try the wall time as summer time and as standard time: each one that
	 * shows back unchanged is a real instant.  None: the clocks skipped it;
	 * two different ones: it happened twice. */
	time_t found[2];
	int n = 0;
	for(int dst = 1; dst >= 0; dst--) {
		struct tm tm = *local;
		tm.tm_isdst = dst;
		time_t t = mktime(&tm);
		if(t == (time_t)-1 && !tz__shows(t, local))
			continue;
		if(tz__shows(t, local) && (n == 0 || found[0] != t))
			found[n++] = t;
	}
	if(n == 0) {
		struct tm tm = *local;
		tm.tm_isdst = -1;
		time_t t = mktime(&tm);
		if(tz__shows(t, local)) {
			*out = t;
			return TZ_OK;
		}
		return TZ_GAP;
	}
	if(n == 2) {
		*out = found[0] < found[1] ? found[0] : found[1];
		return TZ_AMBIGUOUS;
	}
	*out = found[0];
	return TZ_OK;
}

/* tz__mktime's answer for local in zone, from the table or computed and
 * kept there; under the lock. */
static enum tz_result tz__mktime_kept(const char *zone, const struct tm *local, time_t *out)
{
	if(tz__use(zone))
		return TZ_BADZONE;
	struct tz__wall key = { .used = true,
		                .year = local->tm_year,
		                .mon = local->tm_mon,
		                .mday = local->tm_mday,
		                .hour = local->tm_hour,
		                .min = local->tm_min,
		                .sec = local->tm_sec };
	unsigned long long h = (unsigned long long)(unsigned)key.year << 40 ^
	                       (unsigned long long)(unsigned)key.mon << 32 ^
	                       (unsigned long long)(unsigned)key.mday << 24 ^ (unsigned)key.hour << 16 ^
	                       (unsigned)key.min << 8 ^ (unsigned)key.sec;
	struct tz__wall *m = &tz__walls[tz__hash(h)];
	if(!(m->used && m->year == key.year && m->mon == key.mon && m->mday == key.mday && m->hour == key.hour &&
	     m->min == key.min && m->sec == key.sec)) {
		key.rc = tz__mktime(zone, local, &key.t);
		if(key.rc == TZ_BADZONE)
			return TZ_BADZONE;
		*m = key;
	}
	if(m->rc == TZ_OK || m->rc == TZ_AMBIGUOUS)
		*out = m->t;
	return m->rc;
}

enum tz_result tz_mktime(const char *zone, const struct tm *local, time_t *out)
{
	tz__enter();
	enum tz_result rc = tz__mktime_kept(zone, local, out);
	tz__leave();
	return rc;
}

long tz_offset(const char *zone, time_t t)
{
	struct tm tm;
	if(tz_localtime(zone, t, &tm))
		return 0;
	return tm.tm_gmtoff;
}
