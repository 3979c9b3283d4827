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

#define TZ_DIR "/usr/share/zoneinfo"

static char tz__current[128];
static pthread_mutex_t tz__lock = PTHREAD_MUTEX_INITIALIZER;

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
	snprintf(tz__current, sizeof(tz__current), "%s", zone);
	return 0;
}

int tz_localtime(const char *zone, time_t t, struct tm *out)
{
	tz__enter();
	int rc = tz__use(zone) || !localtime_r(&t, out) ? -1 : 0;
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

enum tz_result tz_mktime(const char *zone, const struct tm *local, time_t *out)
{
	tz__enter();
	enum tz_result rc = tz__mktime(zone, local, out);
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
