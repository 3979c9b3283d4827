/*
 * ics_check: libical's verdict on iCalendar files, for the calendar
 * test (tests/web/feeds.py).  Each FILE is parsed with icalparser and
 * checked with icalrestriction_check (RFC 5545's rules on which property
 * a component must or may have, and how many times); every X-LIC-ERROR
 * the parser or the check left is a problem.  Prints one JSON line per
 * file: the problems, and each VEVENT's UID, start and end as Unix times
 * (resolved against the file's own VTIMEZONEs), SEQUENCE, STATUS and
 * number of VALARMs.  Exits 1 when a file has a problem.
 *
 *     ics_check FILE...
 */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if(!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if(buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if(buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Prints and counts the X-LIC-ERROR properties of c and its children. */
static int errors(icalcomponent *c, int first)
{
	int n = 0;
	for(icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
	    p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY)) {
		printf("%s\"%s: ", first + n ? "," : "", icalcomponent_kind_to_string(icalcomponent_isa(c)));
		for(const char *s = icalproperty_get_xlicerror(p); *s; s++)
			if(*s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
				putchar(*s);
		printf("\"");
		n++;
	}
	for(icalcomponent *k = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); k;
	    k = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
		n += errors(k, first + n);
	return n;
}

static void events(icalcomponent *cal)
{
	int i = 0;
	for(icalcomponent *e = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); e;
	    e = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
		struct icaltimetype s = icalcomponent_get_dtstart(e), d = icalcomponent_get_dtend(e);
		icalproperty *st = icalcomponent_get_first_property(e, ICAL_STATUS_PROPERTY);
		printf("%s{\"uid\":\"%s\",\"start\":%lld,\"end\":%lld,\"tzid\":\"%s\",\"seq\":%d,\"status\":\"%s\","
		       "\"alarms\":%d}",
		       i++ ? "," : "", icalcomponent_get_uid(e), (long long)icaltime_as_timet_with_zone(s, s.zone),
		       (long long)icaltime_as_timet_with_zone(d, d.zone),
		       s.zone ? icaltimezone_get_tzid((icaltimezone *)s.zone) : "", icalcomponent_get_sequence(e),
		       st ? icalproperty_status_to_string(icalproperty_get_status(st)) : "",
		       icalcomponent_count_components(e, ICAL_VALARM_COMPONENT));
	}
}

int main(int argc, char **argv)
{
	int bad = 0;
	for(int a = 1; a < argc; a++) {
		char *text = slurp(argv[a]);
		icalcomponent *cal = text ? icalparser_parse_string(text) : NULL;
		printf("{\"file\":\"%s\",\"parsed\":%s,\"errors\":[", argv[a], cal ? "true" : "false");
		int n = 0, ok = 0;
		if(cal && icalcomponent_isa(cal) == ICAL_VCALENDAR_COMPONENT) {
			ok = icalrestriction_check(cal);
			n = errors(cal, 0);
		}
		printf("],\"restrictions_ok\":%s,\"events\":[", ok ? "true" : "false");
		if(cal)
			events(cal);
		printf("]}\n");
		bad |= !cal || !ok || n;
		if(cal)
			icalcomponent_free(cal);
		free(text);
	}
	icaltimezone_free_builtin_timezones();
	return bad;
}
