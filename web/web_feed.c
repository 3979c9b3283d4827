/*
 * web_feed: the calendars (RFC 5545), made with libical, which does the
 * text's escaping and folding and the time zones' VTIMEZONE: this file
 * never writes iCalendar text itself.  Each confirmed or cancelled meetup
 * is one VEVENT, a series' sessions each their own; open polls are none.
 */
#include "web/web_internal.h"

#include <libical/ical.h>
#include <stdio.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "web"

/* The most time zones one calendar carries (a person's chats may each
 * have theirs); an event in yet another is written in UTC. */
#define WEB_MAX_ZONES 8
/* How long before a meetup the personal feed's alarm rings. */
#define WEB_ALARM_S 3600

/* A calendar being made. */
struct web_cal {
	struct web *w;
	const struct db_web_link *l;
	const char *self; /* the feed's address, for each event's own */
	int64_t only;     /* the one meetup wanted, or 0 */
	time_t since;     /* the first day the feed shows */
	time_t stamp;
	icalcomponent *cal;
	char zones[WEB_MAX_ZONES][64];
	int nzones;
	struct db_chat chat; /* the last chat read */
	int n;
	bool failed;
};

/* Adds p to c; a property libical could not make (out of memory) fails
 * the calendar. */
static void web__add(struct web_cal *wc, icalcomponent *c, icalproperty *p)
{
	if(!p || !c) {
		wc->failed = true;
		return;
	}
	icalcomponent_add_property(c, p);
}

static icalproperty *web__x(const char *name, const char *value)
{
	icalproperty *p = icalproperty_new_x(value);
	if(p)
		icalproperty_set_x_name(p, name);
	return p;
}

/* The chat's name as its platform shows it, else its id. */
static int web__chat_name(struct web *w, const struct db_chat *chat, struct strbuf *out)
{
	char title[256];
	int named = db_chat_title(w->db, chat->id, title, sizeof(title));
	if(named < 0)
		return -1;
	strbuf_adds(out, named && title[0] ? title : chat->ext_id);
	return 0;
}

/* The zone of the chat read last, its VTIMEZONE added to the calendar
 * once, under the IANA name as its TZID.  NULL: write the time in UTC. */
static icaltimezone *web__zone(struct web_cal *wc)
{
	const char *name = wc->chat.tz;
	icaltimezone *z = icaltimezone_get_builtin_timezone(name);
	if(!z || !strcmp(name, "UTC"))
		return NULL;
	for(int i = 0; i < wc->nzones; i++)
		if(!strcmp(wc->zones[i], name))
			return z;
	if(wc->nzones == WEB_MAX_ZONES)
		return NULL;
	icalcomponent *vtz = icaltimezone_get_component(z);
	icalcomponent *copy = vtz ? icalcomponent_new_clone(vtz) : NULL;
	icalproperty *tzid = copy ? icalcomponent_get_first_property(copy, ICAL_TZID_PROPERTY) : NULL;
	if(!tzid) {
		if(copy)
			icalcomponent_free(copy);
		return NULL;
	}
	icalproperty_set_tzid(tzid, name);
	/* The zone's whole history (Paris since 1891) is no calendar's
	 * business: its rules from the feed's first day on are enough. */
	icaltimezone_truncate_vtimezone(copy,
	                                icaltime_from_timet_with_zone(wc->since, 0, icaltimezone_get_utc_timezone()),
	                                icaltime_null_time(), 0);
	icalcomponent_add_component(wc->cal, copy);
	text_copy(wc->zones[wc->nzones++], sizeof(wc->zones[0]), name);
	return z;
}

/* A DTSTART or DTEND at t: the local time in z with z's TZID, or UTC
 * when z is NULL.  The local time is made floating before it is written,
 * since the TZID parameter, not the value, names its zone. */
static icalproperty *web__time(icalproperty *(*make)(struct icaltimetype), time_t t, icaltimezone *z, const char *tzid)
{
	struct icaltimetype local = icaltime_from_timet_with_zone(t, 0, z ? z : icaltimezone_get_utc_timezone());
	if(z)
		local.zone = NULL;
	icalproperty *p = make(local);
	if(p && z)
		icalproperty_add_parameter(p, icalparameter_new_tzid(tzid));
	return p;
}

/* The DESCRIPTION: who comes, the places left, the chat; in the chat's
 * language, plain text (every argument raw: libical escapes it). */
static int web__description(struct web_cal *wc, const struct db_web_event *e, struct strbuf *out)
{
	const char *lang = wc->chat.lang;
	struct db_people r = { 0 };
	struct strbuf names = STRBUF_INIT, name = STRBUF_INIT;
	char n[24];
	int in = 0;
	if(db_rsvps(wc->w->db, e->id, &r))
		return -1;
	for(size_t i = 0; i < r.n; i++) {
		if(r.v[i].answer != 2 || r.v[i].waiting)
			continue;
		strbuf_adds(&names, in++ ? ", " : "");
		strbuf_adds(&names, r.v[i].name);
	}
	text_int(n, sizeof(n), in);
	if(in)
		i18n_fmt_raw(out, lang, "web.ics.coming", 0x3, n, names.buf, NULL);
	else
		i18n_fmt_raw(out, lang, "web.ics.nobody", 0, NULL);
	if(e->max_people) {
		strbuf_addc(out, '\n');
		text_int(n, sizeof(n), e->max_people > in ? e->max_people - in : 0);
		i18n_fmt_raw(out, lang, e->max_people > in ? "web.ics.places" : "web.ics.full", 0x1, n, NULL);
	}
	strbuf_addc(out, '\n');
	int rc = web__chat_name(wc->w, &wc->chat, &name);
	i18n_fmt_raw(out, lang, "web.ics.chat", 0x1, name.buf, NULL);
	db_people_release(&r);
	strbuf_release(&names);
	strbuf_release(&name);
	return rc || out->oom ? -1 : 0;
}

/* The personal feed's alarm, an hour before. */
static void web__alarm(struct web_cal *wc, icalcomponent *ev, const struct db_web_event *e)
{
	struct strbuf text = STRBUF_INIT;
	icalcomponent *al = icalcomponent_new(ICAL_VALARM_COMPONENT);
	i18n_fmt_raw(&text, wc->chat.lang, "web.ics.alarm", 0x1, e->title, NULL);
	if(!al || text.oom) {
		wc->failed = true;
		goto out;
	}
	web__add(wc, al, icalproperty_new_action(ICAL_ACTION_DISPLAY));
	web__add(wc, al, icalproperty_new_trigger(icaltriggertype_from_int(-WEB_ALARM_S)));
	web__add(wc, al, icalproperty_new_description(text.buf));
	icalcomponent_add_component(ev, al);
out:
	strbuf_release(&text);
}

/* The VEVENT of e: its UID stays the same whatever changes, its SEQUENCE
 * grows with each change of what it shows. */
static int web__event(struct web_cal *wc, const struct db_web_event *e)
{
	struct web *w = wc->w;
	struct strbuf desc = STRBUF_INIT, url = STRBUF_INIT;
	char uid[512];
	icaltimezone *z = web__zone(wc);
	icalcomponent *ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
	if(!ev || web__description(wc, e, &desc)) {
		wc->failed = true;
		goto out;
	}
	snprintf(uid, sizeof(uid), "meetup-%lld-%d@%s", (long long)e->chat_id, e->num, w->host);
	strbuf_addf(&url, "%s/%lld.ics", wc->self, wc->l->kind == DB_WEB_PERSON ? (long long)e->id : (long long)e->num);
	web__add(wc, ev, icalproperty_new_uid(uid));
	web__add(
		wc, ev,
		icalproperty_new_dtstamp(icaltime_from_timet_with_zone(wc->stamp, 0, icaltimezone_get_utc_timezone())));
	web__add(wc, ev, web__time(icalproperty_new_dtstart, e->start, z, wc->chat.tz));
	web__add(wc, ev, web__time(icalproperty_new_dtend, e->start + (time_t)e->duration_min * 60, z, wc->chat.tz));
	web__add(wc, ev, icalproperty_new_summary(e->title));
	if(e->place[0])
		web__add(wc, ev, icalproperty_new_location(e->place));
	web__add(wc, ev, icalproperty_new_description(desc.buf));
	web__add(wc, ev, icalproperty_new_url(url.oom ? "" : url.buf));
	web__add(wc, ev, icalproperty_new_sequence(e->seq));
	bool cancelled = e->state == MEETUP_CANCELLED;
	web__add(wc, ev, icalproperty_new_status(cancelled ? ICAL_STATUS_CANCELLED : ICAL_STATUS_CONFIRMED));
	if(wc->l->kind == DB_WEB_PERSON && !cancelled)
		web__alarm(wc, ev, e);
	icalcomponent_add_component(wc->cal, ev);
	ev = NULL;
	wc->n++;
out:
	if(ev)
		icalcomponent_free(ev);
	strbuf_release(&desc);
	strbuf_release(&url);
	return wc->failed ? -1 : 0;
}

/* db_web_events's callback: the events wanted, each with its chat. */
static int web__each(void *user, const struct db_web_event *e)
{
	struct web_cal *wc = user;
	if(wc->only && wc->only != (wc->l->kind == DB_WEB_PERSON ? e->id : e->num))
		return 0;
	if(wc->chat.id != e->chat_id && db_chat_by_id(wc->w->db, e->chat_id, &wc->chat) != 1)
		return -1;
	return web__event(wc, e);
}

/* The calendar's name (X-WR-CALNAME): the chat's, the chat's and the
 * group's, or "Ensemble — NAME" for a person's. */
static int web__calname(struct web_cal *wc, struct strbuf *out)
{
	struct web *w = wc->w;
	const struct db_web_link *l = wc->l;
	if(l->kind == DB_WEB_PERSON) {
		char name[128] = "";
		if(db_user_name(w->db, l->user_id, name, sizeof(name)) < 0)
			return -1;
		i18n_fmt_raw(out, w->bot->cfg->lang, "web.ics.person", 0x1, name, NULL);
		return out->oom ? -1 : 0;
	}
	if(db_chat_by_id(w->db, l->chat_id, &wc->chat) != 1)
		return -1;
	if(l->kind == DB_WEB_CHAT)
		return web__chat_name(w, &wc->chat, out);
	struct db_group g;
	struct strbuf chat = STRBUF_INIT;
	int rc = db_group_get(w->db, l->group_id, &g) == 1 && !web__chat_name(w, &wc->chat, &chat) ? 0 : -1;
	if(!rc)
		i18n_fmt_raw(out, wc->chat.lang, "web.ics.group", 0x3, chat.buf, g.name, NULL);
	strbuf_release(&chat);
	return rc || out->oom ? -1 : 0;
}

/* The VCALENDAR and its properties, before any event. */
static int web__head(struct web_cal *wc)
{
	struct strbuf name = STRBUF_INIT;
	int rc = web__calname(wc, &name);
	wc->cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
	if(rc || !wc->cal) {
		strbuf_release(&name);
		return -1;
	}
	web__add(wc, wc->cal, icalproperty_new_version("2.0"));
	web__add(wc, wc->cal, icalproperty_new_prodid("-//Ensemble//Ensemble " ENSEMBLE_VERSION "//EN"));
	web__add(wc, wc->cal, icalproperty_new_calscale("GREGORIAN"));
	web__add(wc, wc->cal, web__x("X-WR-CALNAME", name.buf));
	if(wc->l->kind != DB_WEB_PERSON)
		web__add(wc, wc->cal, web__x("X-WR-TIMEZONE", wc->chat.tz));
	web__add(wc, wc->cal, web__x("X-PUBLISHED-TTL", "PT1H"));
	strbuf_release(&name);
	return wc->failed ? -1 : 0;
}

int web_feed(struct web *w, const struct db_web_link *l, const char *self, int64_t only, time_t since, time_t stamp,
             struct strbuf *out, int *n)
{
	struct web_cal wc = { .w = w, .l = l, .self = self, .only = only, .since = since, .stamp = stamp };
	char *text = NULL;
	int rc = -1;
	*n = 0;
	if(web__head(&wc) || db_web_events(w->db, l, since, web__each, &wc) || wc.failed)
		goto out;
	text = icalcomponent_as_ical_string_r(wc.cal);
	if(!text)
		goto out;
	strbuf_adds(out, text);
	*n = wc.n;
	rc = out->oom ? -1 : 0;
out:
	if(text)
		icalmemory_free_buffer(text);
	if(wc.cal)
		icalcomponent_free(wc.cal);
	return rc;
}
