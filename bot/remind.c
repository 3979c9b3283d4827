/*
 * Reminders and nudges; see remind.h for the contract.
 */
#include "bot/remind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/dates.h"
#include "bot/i18n.h"
#include "bot/sched.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/tz.h"

/* A reminder this long before or more says "tomorrow" for a meetup on the
 * next calendar day; closer than that, "in 2 hours" says more. */
#define REMIND_TOMORROW_MIN (6 * 60)

/* True when start falls on the day after now's, in zone tz (the next day
 * of the year, or 1 January after 31 December). */
static bool remind__is_tomorrow(const char *tz, time_t now, time_t start)
{
	struct tm a, b;
	if(tz_localtime(tz, now, &a) || tz_localtime(tz, start, &b))
		return false;
	if(b.tm_year == a.tm_year)
		return b.tm_yday == a.tm_yday + 1;
	return b.tm_year == a.tm_year + 1 && b.tm_yday == 0 && a.tm_mon == 11 && a.tm_mday == 31;
}

#define LOG_MODULE "remind"

/* A reminder sent more than this after its due time says it is late. */
#define REMIND_LATE_MS 60000

int remind_parse_offsets(const char *text, char *out, size_t outlen)
{
	int v[REMIND_MAX_OFFSETS], n = 0;
	char buf[256];
	text_copy(buf, sizeof(buf), text);
	char *save = NULL;
	for(char *w = strtok_r(buf, " ,;", &save); w; w = strtok_r(NULL, " ,;", &save)) {
		int minutes;
		if(date_parse_duration(w, &minutes) || minutes < 1 || minutes > 30 * 24 * 60)
			return -1;
		bool dup = false;
		for(int i = 0; i < n; i++)
			dup |= v[i] == minutes;
		if(dup)
			continue;
		if(n == REMIND_MAX_OFFSETS)
			return -1;
		v[n++] = minutes;
	}
	if(!n)
		return -1;
	for(int i = 1; i < n; i++) /* largest first */
		for(int k = i; k > 0 && v[k] > v[k - 1]; k--) {
			int t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	size_t len = 0;
	out[0] = '\0';
	for(int i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, len < outlen ? outlen - len : 0, i ? ",%d" : "%d", v[i]);
	return len < outlen ? 0 : -1;
}

int remind_check_config(const char *text, char *msg, size_t msglen)
{
	char offsets[64];
	if(!strcmp(text, "off") || !remind_parse_offsets(text, offsets, sizeof(offsets)))
		return 0;
	snprintf(msg, msglen,
	         "must be off or up to %d times before a meetup like 1d 2h 30m "
	         "(each from 1 minute to 30 days), not '%s'",
	         REMIND_MAX_OFFSETS, text);
	return -1;
}

/* Reads "1440,60" into v; returns the count. */
static int remind__offsets(const char *s, int *v)
{
	int n = 0;
	while(*s && n < REMIND_MAX_OFFSETS) {
		char *end;
		long x = strtol(s, &end, 10);
		if(end == s)
			break;
		if(x > 0)
			v[n++] = (int)x;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

int remind_format_offsets(struct strbuf *sb, const char *lang, const char *offsets)
{
	int v[REMIND_MAX_OFFSETS];
	int n = remind__offsets(offsets, v);
	struct strbuf one = STRBUF_INIT;
	for(int i = 0; i < n; i++) {
		if(i)
			i18n_fmt(sb, lang, i == n - 1 ? "remind.and" : "remind.comma", NULL);
		strbuf_reset(&one);
		date_format_offset(&one, lang, v[i]);
		i18n_fmt(sb, lang, "remind.before", one.buf, NULL);
	}
	strbuf_release(&one);
	return sb->oom ? -1 : 0;
}

static const char *remind__effective(const struct meetup_ctx *ctx, const struct db_meetup *m)
{
	return m->has_remind ? m->remind : ctx->chat->remind;
}

int remind_plan(struct meetup_ctx *ctx, const struct db_meetup *m)
{
	struct db *db = ctx->bot->db;
	if(db_jobs_cancel(db, m->id, JOB_REMINDER))
		return -1;
	if(m->state != MEETUP_CONFIRMED)
		return 0;
	int v[REMIND_MAX_OFFSETS];
	int n = remind__offsets(remind__effective(ctx, m), v);
	int64_t now = clock_now_ms();
	for(int i = 0; i < n; i++) {
		int64_t due = ((int64_t)m->start - (int64_t)v[i] * 60) * 1000;
		/* A reminder whose time is already past when it is planned
		 * would only repeat the announcement: it is skipped. */
		if(due <= now)
			continue;
		if(db_job_add(db, due, JOB_REMINDER, m->id, v[i]))
			return -1;
	}
	return 0;
}

int remind_plan_nudge(struct meetup_ctx *ctx, const struct db_meetup *m)
{
	if(db_jobs_cancel(ctx->bot->db, m->id, JOB_NUDGE))
		return -1;
	if(m->state != MEETUP_POLL || !m->deadline || !ctx->chat->nudge)
		return 0;
	int64_t now = clock_now_ms(), deadline = (int64_t)m->deadline * 1000;
	int64_t left = deadline - now;
	if(left <= 0)
		return 0;
	/* A day before, or half-way through a poll shorter than two days. */
	int64_t due = left > 48LL * 3600 * 1000 ? deadline - 24LL * 3600 * 1000 : now + left / 2;
	return db_job_add(ctx->bot->db, due, JOB_NUDGE, m->id, 0);
}

/* Whether the reminder job of m is still worth sending at now (ms): m is
 * confirmed, has not started, and no later reminder of it is due too
 * (after a stop, only the last one missed is sent).  1, 0 (logged), -1. */
static int remind__worth_sending(struct meetup_ctx *ctx, const struct db_meetup *m, int64_t now)
{
	struct db *db = ctx->bot->db;
	if(m->state != MEETUP_CONFIRMED)
		return 0;
	if(now >= (int64_t)m->start * 1000) {
		log_info("reminder of meetup %lld dropped: it started while the bot was down", (long long)m->id);
		if(ctx->tally)
			ctx->tally->dropped++;
		return 0;
	}
	int later = db_jobs_due_count(db, m->id, JOB_REMINDER, now);
	if(later < 0)
		return -1;
	if(later > 1) { /* this job is counted too */
		log_info("reminder of meetup %lld skipped: a later one is due too", (long long)m->id);
		return 0;
	}
	return 1;
}

/* Appends the reminder's title (how soon, late or not), its date and its
 * place to sb.  Returns whether it is late. */
static bool remind__head(struct meetup_ctx *ctx, const struct db_meetup *m, const struct db_job *job, int64_t now,
                         struct strbuf *sb)
{
	const char *lang = ctx->chat->lang;
	struct strbuf when = STRBUF_INIT, in = STRBUF_INIT;
	char num[16];
	text_int(num, sizeof(num), m->num);
	int minutes = (int)(((int64_t)m->start * 1000 - now + 59999) / 60000);
	date_format_offset(&in, lang, minutes);
	date_format_slot(&when, lang, ctx->chat->tz, clock_now(), m->start, m->duration_min);
	/* Late against the time it was planned for (the meetup's start less
	 * the job's offset): a job held while the platform could not be
	 * reached has been postponed since. */
	bool late = now - ((int64_t)m->start * 1000 - job->arg * 60000) > REMIND_LATE_MS;
	/* "Tomorrow" reads better than "in 1 day" (or "in 22 hours"). */
	if(minutes >= REMIND_TOMORROW_MIN && remind__is_tomorrow(ctx->chat->tz, (time_t)(now / 1000), m->start))
		i18n_fmt(sb, lang, late ? "remind.title_tomorrow_late" : "remind.title_tomorrow", num, m->title, NULL);
	else
		i18n_fmt(sb, lang, late ? "remind.title_late" : "remind.title", num, m->title, in.buf, NULL);
	strbuf_addc(sb, '\n');
	i18n_fmt(sb, lang, "meetup.when", when.buf, NULL);
	if(m->place[0]) {
		strbuf_addc(sb, '\n');
		i18n_fmt(sb, lang, "meetup.place", m->place, NULL);
	}
	strbuf_release(&when);
	strbuf_release(&in);
	return late;
}

/* Appends those coming (of the answers r) to sb: called by name, or only
 * named for who asked for private reminders, marked in privately (one
 * per answer).  Returns how many come, or -1. */
static long remind__coming(struct meetup_ctx *ctx, const struct db_meetup *m, const struct db_people *r,
                           bool *privately, struct strbuf *sb)
{
	const char *lang = ctx->chat->lang;
	struct strbuf who = STRBUF_INIT;
	size_t coming = 0;
	char n[24];
	for(size_t i = 0; i < r->n; i++) {
		if(r->v[i].answer != 2 || r->v[i].waiting)
			continue;
		int private = db_private_reminder_get(ctx->bot->db, m->chat_id, r->v[i].user_id);
		if(private < 0) {
			strbuf_release(&who);
			return -1;
		}
		privately[i] = private;
		if(coming++)
			strbuf_adds(&who, ", ");
		if(private)
			strbuf_add_html(&who, r->v[i].name);
		else
			meetup_mention(&who, &r->v[i]);
	}
	snprintf(n, sizeof(n), "%zu", coming);
	strbuf_addc(sb, '\n');
	if(!coming)
		i18n_fmt(sb, lang, "remind.nobody", NULL);
	else
		i18n_fmt_raw(sb, lang, "meetup.info.coming", 0x2, n, who.buf, NULL);
	strbuf_release(&who);
	return (long)coming;
}

/* A group's meetup also calls the members who have not answered (r):
 * appended to sb.  0 or -1. */
static int remind__group_silent(struct meetup_ctx *ctx, const struct db_meetup *m, const struct db_people *r,
                                struct strbuf *sb)
{
	struct db_people members = { 0 };
	struct strbuf silent = STRBUF_INIT;
	if(!m->group_id)
		return 0;
	if(db_group_members(ctx->bot->db, m->group_id, &members))
		return -1;
	size_t k = 0;
	for(size_t i = 0; i < members.n; i++) {
		bool answered = members.v[i].waiting;
		for(size_t j = 0; j < r->n && !answered; j++)
			answered = r->v[j].user_id == members.v[i].user_id;
		if(answered)
			continue;
		if(k++)
			strbuf_adds(&silent, ", ");
		meetup_mention(&silent, &members.v[i]);
	}
	if(k) {
		strbuf_addc(sb, '\n');
		i18n_fmt_raw(sb, ctx->chat->lang, "remind.group_silent", 0x1, silent.buf, NULL);
	}
	strbuf_release(&silent);
	db_people_release(&members);
	return 0;
}

/* Posts the reminder sb in the chat, and privately to those of r marked
 * in privately, saying which chat it is from, with buttons and a command
 * that answer it there.  0 or -1. */
static int remind__post(struct meetup_ctx *ctx, const struct db_meetup *m, const struct db_people *r,
                        const bool *privately, struct strbuf *sb)
{
	const char *lang = ctx->chat->lang;
	struct strbuf dm = STRBUF_INIT, where = STRBUF_INIT;
	char num[16];
	text_int(num, sizeof(num), m->num);
	meetup_chat_name(ctx->bot, ctx->chat, &where);
	i18n_fmt_raw(&dm, lang, "remind.private.where", 0x1, where.buf, NULL);
	strbuf_addc(&dm, '\n');
	strbuf_add(&dm, sb->buf, sb->len);
	strbuf_addc(&dm, '\n');
	i18n_fmt(&dm, lang, "remind.private.how", num, NULL);
	strbuf_release(&where);
	strbuf_addc(sb, '\n');
	i18n_fmt(sb, lang, "remind.how", num, NULL);
	struct action *a;
	int bad = sb->oom || dm.oom || meetup_post(ctx, sb->buf, &a) || meetup_buttons(a, lang, m);
	for(size_t i = 0; i < r->n && !bad; i++) {
		if(!privately[i])
			continue;
		a = outbox_push(ctx->out, ACTION_SEND_PRIVATE, ctx->chat->platform, r->v[i].ext_id, dm.buf);
		char key[96];
		snprintf(key, sizeof(key), "%s.p%zu", ctx->key_base ? ctx->key_base : "remind", i);
		bad = !a || action_set(&a->key, key) || meetup_buttons(a, lang, m);
	}
	strbuf_release(&dm);
	return bad ? -1 : 0;
}

int remind_job(struct meetup_ctx *ctx, const struct db_job *job)
{
	struct db *db = ctx->bot->db;
	bool *privately = NULL; /* per RSVP: wants reminders in private */
	struct db_meetup *m = malloc(sizeof(*m));
	struct db_people r = { 0 };
	struct strbuf sb = STRBUF_INIT;
	int64_t now;
	int rc = -1;
	if(!m)
		goto out;
	int found = db_meetup_get_by_id(db, job->meetup_id, m);
	if(found <= 0) {
		rc = found;
		goto out;
	}
	now = clock_now_ms();
	int worth = remind__worth_sending(ctx, m, now);
	if(worth <= 0) {
		rc = worth;
		goto out;
	}
	if(db_rsvps(db, m->id, &r) || (r.n && !(privately = calloc(r.n, sizeof(*privately)))))
		goto out;
	bool late = remind__head(ctx, m, job, now, &sb);
	long coming = remind__coming(ctx, m, &r, privately, &sb);
	if(coming < 0 || remind__group_silent(ctx, m, &r, &sb))
		goto out;
	if(m->max_people) {
		long places = m->max_people - coming;
		char left[24];
		text_int(left, sizeof(left), places > 0 ? places : 0);
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, ctx->chat->lang, places > 0 ? "remind.places" : "remind.full", left, NULL);
	}
	rc = remind__post(ctx, m, &r, privately, &sb);
	if(!rc && ctx->tally) {
		ctx->tally->sent++;
		ctx->tally->late += late;
	}
out:
	free(privately);
	free(m);
	db_people_release(&r);
	strbuf_release(&sb);
	return rc < 0 ? -1 : 0;
}

/* The leader so far of m's poll among the dates still to come (one that
 * has started cannot win): most yes, then most if-need-be, then earliest.
 * Returns its index with its yes count in *yes, or -1 when none has a
 * yes. */
static int remind__leader(const struct db_meetup *m, const struct db_people *votes, int *yes)
{
	int best = -1, by = 0, bm = 0;
	for(int i = 0; i < m->nslots; i++) {
		int y = 0, mb = 0;
		if(m->slots[i].start <= clock_now())
			continue;
		for(size_t v = 0; v < votes->n; v++) {
			y += votes->v[v].answers[i] == 'y';
			mb += votes->v[v].answers[i] == 'm';
		}
		if(best < 0 || y > by || (y == by && mb > bm) ||
		   (y == by && mb == bm && m->slots[i].start < m->slots[best].start)) {
			best = i;
			by = y;
			bm = mb;
		}
	}
	*yes = by;
	return best >= 0 && by > 0 ? best : -1;
}

int remind_job_nudge(struct meetup_ctx *ctx, const struct db_job *job)
{
	struct db *db = ctx->bot->db;
	struct db_meetup *m = malloc(sizeof(*m));
	struct db_people votes = { 0 };
	struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT, when = STRBUF_INIT;
	const char *lang = ctx->chat->lang;
	int rc = -1;
	if(!m)
		goto out;
	int found = db_meetup_get_by_id(db, job->meetup_id, m);
	if(found <= 0 || m->state != MEETUP_POLL) {
		rc = found < 0 ? -1 : 0;
		goto out;
	}
	/* Missed while the bot was down and the poll is about to close: the
	 * closing itself says what there is to say. */
	if(clock_now() >= m->deadline) {
		log_info("nudge of meetup %lld dropped: its deadline has passed", (long long)m->id);
		rc = 0;
		goto out;
	}
	if(db_votes(db, m->id, &votes))
		goto out;
	int missing = meetup_non_voters(ctx, m, &who, true);
	if(missing < 0)
		goto out;
	if(!missing) {
		log_debug("nudge of meetup %lld skipped: everyone voted", (long long)m->id);
		rc = 0;
		goto out;
	}
	char num[16];
	text_int(num, sizeof(num), m->num);
	date_format_when(&when, lang, ctx->chat->tz, clock_now(), m->deadline);
	i18n_fmt(&sb, lang, "nudge.title", num, m->title, when.buf, NULL);
	strbuf_addc(&sb, '\n');
	i18n_fmt_raw(&sb, lang, "nudge.who", 0x1, who.buf, NULL);
	int by, best = remind__leader(m, &votes, &by);
	if(best >= 0) {
		struct strbuf slot = STRBUF_INIT;
		char y[16];
		text_int(y, sizeof(y), by);
		date_format_slot(&slot, lang, ctx->chat->tz, clock_now(), m->slots[best].start,
		                 m->slots[best].duration_min);
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, lang, "nudge.leader", slot.buf, y, NULL);
		strbuf_release(&slot);
	}
	strbuf_addc(&sb, '\n');
	i18n_fmt(&sb, lang, "meetup.poll.how", num, NULL);
	rc = sb.oom ? -1 : meetup_say(ctx, sb.buf, false);
out:
	free(m);
	db_people_release(&votes);
	strbuf_release(&sb);
	strbuf_release(&who);
	strbuf_release(&when);
	return rc < 0 ? -1 : 0;
}
