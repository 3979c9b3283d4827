/*
 * The meetup domain: polls, votes, closing, confirmation, RSVPs and their
 * waiting list, cancellation and moves.  See meetup.h for the contract.
 */
#include "bot/meetup.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/dates.h"
#include "bot/i18n.h"
#include "bot/remind.h"
#include "bot/sched.h"
#include "bot/series.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "meetup"

static const char *meetup__lang(const struct meetup_ctx *ctx)
{
	return ctx->chat->lang;
}

static int meetup__push(struct meetup_ctx *ctx, enum action_kind kind, const char *html, struct action **out)
{
	bool reply = kind == ACTION_REPLY;
	if(reply && !ctx->reply_to)
		kind = ACTION_SEND_TEXT;
	struct action *a = outbox_push(ctx->out, kind, ctx->chat->platform, ctx->chat->ext_id, html);
	if(!a)
		return -1;
	if(kind == ACTION_REPLY && action_set(&a->reply_to, ctx->reply_to))
		return -1;
	if(ctx->key_base) {
		char key[96];
		snprintf(key, sizeof(key), "%s.%zu", ctx->key_base, ctx->out->n);
		if(action_set(&a->key, key))
			return -1;
	}
	if(out)
		*out = a;
	return 0;
}

int meetup_say(struct meetup_ctx *ctx, const char *html, bool reply)
{
	return meetup__push(ctx, reply ? ACTION_REPLY : ACTION_SEND_TEXT, html, NULL);
}

int meetup_post(struct meetup_ctx *ctx, const char *html, struct action **out)
{
	return meetup__push(ctx, ACTION_SEND_TEXT, html, out);
}

int meetup_sayf(struct meetup_ctx *ctx, bool reply, const char *key, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, key);
	i18n_vfmt(&sb, meetup__lang(ctx), key, 0, ap);
	va_end(ap);
	int rc = sb.oom ? -1 : meetup_say(ctx, sb.buf, reply);
	strbuf_release(&sb);
	return rc;
}

static void meetup__num(char *buf, size_t n, long v)
{
	text_int(buf, n, v);
}

void meetup_mention(struct strbuf *sb, const struct db_person *p)
{
	strbuf_adds(sb, "<a href=\"mention:");
	strbuf_add_html(sb, p->ext_id);
	strbuf_adds(sb, "\">");
	strbuf_add_html(sb, p->name);
	strbuf_adds(sb, "</a>");
}

void meetup_chat_name(struct bot *b, const struct db_chat *chat, struct strbuf *out)
{
	char title[256];
	int named = db_chat_title(b->db, chat->id, title, sizeof(title));
	strbuf_add_html(out, named == 1 && title[0] ? title : chat->ext_id);
}

#define MEETUP_MAX_NAMED 20 /* a longer list of non-voters ends "and N more" */

/* The non-voters, the first MEETUP_MAX_NAMED of them unless ctx asks for
 * all; a cut list ends with how many more there are and the command that
 * names them all. */

int meetup_non_voters(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *out, bool mention)
{
	struct db_people named = { 0 };
	int missing = -1;
	int limit = ctx->all_non_voters ? INT_MAX : MEETUP_MAX_NAMED;
	if(db_non_voters(ctx->bot->db, m->id, m->chat_id, m->group_id, limit, &named, &missing)) {
		missing = -1;
		goto out;
	}
	for(size_t i = 0; i < named.n; i++) {
		if(i)
			strbuf_adds(out, ", ");
		if(mention)
			meetup_mention(out, &named.v[i]);
		else
			strbuf_add_html(out, named.v[i].name);
	}
	if(missing > limit) {
		char more[24], num[24];
		text_int(more, sizeof(more), missing - limit);
		meetup__num(num, sizeof(num), m->num);
		strbuf_addc(out, ' ');
		i18n_fmt(out, meetup__lang(ctx), "meetup.info.and_more", more, num, NULL);
	}
out:
	db_people_release(&named);
	return missing;
}

/* Appends the names of people (escaped), comma-separated. */
static void meetup__names(struct strbuf *sb, const struct db_person *const *v, size_t n, bool mention)
{
	for(size_t i = 0; i < n; i++) {
		if(i)
			strbuf_adds(sb, ", ");
		if(mention)
			meetup_mention(sb, v[i]);
		else
			strbuf_add_html(sb, v[i]->name);
	}
}

static void meetup__slot_text(struct meetup_ctx *ctx, struct strbuf *sb, time_t start, int duration)
{
	date_format_slot(sb, meetup__lang(ctx), ctx->chat->tz, clock_now(), start, duration);
}

static void meetup__line(struct meetup_ctx *ctx, struct strbuf *sb, const char *key, const char *arg, bool raw)
{
	strbuf_addc(sb, '\n');
	i18n_fmt_raw(sb, meetup__lang(ctx), key, raw ? 1 : 0, arg, NULL);
}

/* Whether slot i of m has started: a date that has begun can no longer be
 * chosen, so closing leaves it out and tallies mark it. */
static bool meetup__passed(const struct db_meetup *m, int i)
{
	return m->slots[i].start <= clock_now();
}

/* Appends slot i of a poll as its tallies show it: the date, and "(passed)"
 * once it has started. */
static void meetup__slot_label(struct meetup_ctx *ctx, struct strbuf *sb, const struct db_meetup *m, int i)
{
	meetup__slot_text(ctx, sb, m->slots[i].start, m->slots[i].duration_min);
	if(meetup__passed(m, i)) {
		strbuf_addc(sb, ' ');
		i18n_fmt(sb, meetup__lang(ctx), "meetup.slot.passed", NULL);
	}
}

/* Appends "\nGroup: NAME" for a group's meetup, so that its announcement
 * says whom it is for. */
static int meetup__group_line(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb)
{
	struct db_group g;
	if(!m->group_id)
		return 0;
	int found = db_group_get(ctx->bot->db, m->group_id, &g);
	if(found < 0)
		return -1;
	if(found)
		meetup__line(ctx, sb, "meetup.group", g.name, false);
	return 0;
}

/* The "#3 · Title" head of many messages, escaped, with a line key. */
static void meetup__head(struct meetup_ctx *ctx, struct strbuf *sb, const char *key, const struct db_meetup *m)
{
	char num[24];
	meetup__num(num, sizeof(num), m->num);
	i18n_fmt(sb, meetup__lang(ctx), key, num, m->title, NULL);
}

/* Appends "\nRepeats every week." for a meetup of an active series. */
static int meetup__series_line(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb)
{
	struct db_series s;
	if(!m->series_id)
		return 0;
	int found = db_series_get(ctx->bot->db, m->series_id, &s);
	if(found < 0)
		return -1;
	if(!found || !s.active)
		return 0;
	struct strbuf rule = STRBUF_INIT;
	series_format(&rule, meetup__lang(ctx), s.rule);
	strbuf_addc(sb, '\n');
	i18n_fmt(sb, meetup__lang(ctx), s.poll ? "series.repeats_poll" : "series.repeats", rule.buf, NULL);
	strbuf_release(&rule);
	return 0;
}

/* A short fingerprint of a message the bot may edit (its text and its
 * buttons' data), kept in kv "meetup.shown.REF" (the action's ref): an
 * edit that would show the same is not sent (Telegram refuses it, Matrix
 * would post an event for nothing). */
static void meetup__fingerprint(const struct action *a, char *out, size_t n)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	for(const unsigned char *p = (const unsigned char *)a->text; p && *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	for(size_t i = 0; i < a->n_buttons; i++)
		for(const unsigned char *p = (const unsigned char *)a->buttons[i].data; p && *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
	snprintf(out, n, "%016llx", (unsigned long long)h);
}

/* Remembers what a, the last action of ctx's outbox, shows in the message
 * named by its ref; when a is an edit that would show exactly that, it is
 * taken back out.  0 or -1. */
static int meetup__shown(struct meetup_ctx *ctx, const struct action *a)
{
	struct strbuf key = STRBUF_INIT, last = STRBUF_INIT;
	char hash[24];
	int rc = -1;
	meetup__fingerprint(a, hash, sizeof(hash));
	strbuf_addf(&key, "meetup.shown.%s", a->ref ? a->ref : "");
	if(key.oom)
		goto out;
	/* A new message shows what it shows: only an edit reads what was
	 * shown before (a new meetup's message has nothing before it). */
	if(a->kind != ACTION_EDIT) {
		rc = db_kv_set(ctx->bot->db, key.buf, hash);
		goto out;
	}
	int found = db_kv_get(ctx->bot->db, key.buf, &last);
	if(found < 0)
		goto out;
	if(found && !strcmp(last.buf, hash)) {
		/* Nothing the message shows has changed: no edit. */
		outbox_pop(ctx->out);
		rc = 0;
		goto out;
	}
	rc = db_kv_set(ctx->bot->db, key.buf, hash);
out:
	strbuf_release(&key);
	strbuf_release(&last);
	return rc;
}

/* ---- creating ---- */

static int meetup__poll_text(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb)
{
	const char *lang = meetup__lang(ctx);
	char num[24], buf[24];
	meetup__num(num, sizeof(num), m->num);
	meetup__head(ctx, sb, "meetup.poll.title", m);
	if(meetup__group_line(ctx, m, sb))
		return -1;
	if(m->place[0])
		meetup__line(ctx, sb, "meetup.place", m->place, false);
	strbuf_addc(sb, '\n');
	i18n_fmt(sb, lang, "meetup.poll.ask", NULL);
	for(int i = 0; i < m->nslots; i++) {
		strbuf_addf(sb, "\n%d. ", m->slots[i].idx);
		meetup__slot_label(ctx, sb, m, i);
	}
	strbuf_addc(sb, '\n');
	i18n_fmt(sb, lang, "meetup.poll.how", num, NULL);
	if(ctx->bot->web) {
		strbuf_addc(sb, '\n');
		i18n_fmt(sb, lang, "meetup.poll.web", NULL);
	}
	if(m->deadline) {
		struct strbuf when = STRBUF_INIT;
		date_format_when(&when, lang, ctx->chat->tz, clock_now(), m->deadline);
		meetup__line(ctx, sb, "meetup.poll.deadline", when.buf, false);
		strbuf_release(&when);
	}
	if(m->quorum) {
		meetup__num(buf, sizeof(buf), m->quorum);
		meetup__line(ctx, sb, "meetup.quorum", buf, false);
	}
	if(m->max_people) {
		meetup__num(buf, sizeof(buf), m->max_people);
		meetup__line(ctx, sb, "meetup.max", buf, false);
	}
	if(meetup__series_line(ctx, m, sb))
		return -1;
	return sb->oom ? -1 : 0;
}

static int meetup__post_poll(struct meetup_ctx *ctx, const struct db_meetup *m, const char *note)
{
	struct strbuf sb = STRBUF_INIT, opt = STRBUF_INIT;
	struct action *a;
	int rc = -1;
	if(meetup__poll_text(ctx, m, &sb))
		goto out;
	if(note) {
		strbuf_addc(&sb, '\n');
		strbuf_adds(&sb, note);
	}
	if(meetup__push(ctx, ACTION_SEND_POLL, sb.buf, &a) || action_set(&a->question, m->title))
		goto out;
	for(int i = 0; i < m->nslots; i++) {
		strbuf_reset(&opt);
		meetup__slot_label(ctx, &opt, m, i);
		if(action_add_option(a, opt.buf))
			goto out;
	}
	char ref[48];
	snprintf(ref, sizeof(ref), "meetup:%lld:poll", (long long)m->id);
	rc = action_set(&a->ref, ref) || meetup__shown(ctx, a) ? -1 : 0;
out:
	strbuf_release(&sb);
	strbuf_release(&opt);
	return rc;
}

static int meetup__defer(struct meetup_ctx *ctx, const struct db_meetup *m, bool poll);

/* Edits the poll's message now (see meetup_poll_edit). */
static int meetup__poll_edit(struct meetup_ctx *ctx, struct db_meetup *m)
{
	struct strbuf sb = STRBUF_INIT;
	struct action *a;
	char ref[48];
	int rc = -1;
	snprintf(ref, sizeof(ref), "meetup:%lld:poll", (long long)m->id);
	if(meetup__poll_text(ctx, m, &sb) || meetup__push(ctx, ACTION_EDIT, sb.buf, &a) || action_set(&a->ref, ref))
		goto out;
	rc = meetup__shown(ctx, a);
out:
	strbuf_release(&sb);
	return rc;
}

int meetup_poll_edit(struct meetup_ctx *ctx, struct db_meetup *m)
{
	int rc = meetup__defer(ctx, m, true);
	return rc ? (rc < 0 ? -1 : 0) : meetup__poll_edit(ctx, m);
}

int meetup_create(struct meetup_ctx *ctx, struct db_meetup *m, const char *merged_note)
{
	struct db *db = ctx->bot->db;
	m->chat_id = ctx->chat->id;
	m->created = clock_now();
	m->state = m->nslots == 1 ? MEETUP_CONFIRMED : MEETUP_POLL;
	if(m->nslots == 1) {
		m->chosen = 1;
		m->start = m->slots[0].start;
		m->duration_min = m->slots[0].duration_min;
		m->deadline = 0;
	}
	if(db_meetup_insert(db, m))
		return -1;
	if(m->state == MEETUP_CONFIRMED) {
		/* One date, or several that were all the same: fixed at once,
		 * and in the latter case the proposer is told why. */
		if(meetup_confirm(ctx, m, 1))
			return -1;
		return merged_note ? meetup_sayf(ctx, true, "meetup.merged_single", NULL) : 0;
	}
	if(m->deadline && db_job_add(db, (int64_t)m->deadline * 1000, JOB_DEADLINE, m->id, 0))
		return -1;
	if(remind_plan_nudge(ctx, m))
		return -1;
	return meetup__post_poll(ctx, m, merged_note);
}

/* ---- voting ---- */

static void meetup__answer_list(struct strbuf *sb, const char *answers, char which)
{
	bool first = true;
	for(int i = 0; answers[i]; i++) {
		if(answers[i] != which)
			continue;
		strbuf_addf(sb, first ? "%d" : ", %d", i + 1);
		first = false;
	}
}

int meetup_vote(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id, const char *answers, bool quiet)
{
	char num[24];
	meetup__num(num, sizeof(num), m->num);
	if(m->state != MEETUP_POLL)
		return quiet ? 0 : meetup_sayf(ctx, true, "meetup.vote.closed", num, m->title, NULL);
	if(db_vote_set(ctx->bot->db, m->id, user_id, answers, clock_now()))
		return -1;
	if(quiet)
		return 0;
	if(!answers)
		return meetup_sayf(ctx, true, "meetup.vote.withdrawn", num, NULL);
	struct strbuf yes = STRBUF_INIT, maybe = STRBUF_INIT, sb = STRBUF_INIT;
	const char *lang = meetup__lang(ctx);
	meetup__answer_list(&yes, answers, 'y');
	meetup__answer_list(&maybe, answers, 'm');
	if(!yes.len && !maybe.len)
		i18n_fmt(&sb, lang, "meetup.vote.none", num, NULL);
	else if(!maybe.len)
		i18n_fmt(&sb, lang, "meetup.vote.yes", num, yes.buf, NULL);
	else if(!yes.len)
		i18n_fmt(&sb, lang, "meetup.vote.maybe", num, maybe.buf, NULL);
	else
		i18n_fmt(&sb, lang, "meetup.vote.both", num, yes.buf, maybe.buf, NULL);
	int rc = sb.oom ? -1 : meetup_say(ctx, sb.buf, true);
	strbuf_release(&yes);
	strbuf_release(&maybe);
	strbuf_release(&sb);
	return rc;
}

int meetup_vote_options(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id, const int *options, size_t n)
{
	if(!n)
		return meetup_vote(ctx, m, user_id, NULL, true);
	char answers[MEETUP_MAX_SLOTS + 1];
	memset(answers, 'n', (size_t)m->nslots);
	answers[m->nslots] = '\0';
	for(size_t i = 0; i < n; i++)
		if(options[i] >= 0 && options[i] < m->nslots)
			answers[options[i]] = 'y';
	return meetup_vote(ctx, m, user_id, answers, true);
}

/* ---- tallies ---- */

struct meetup_tally {
	int yes[MEETUP_MAX_SLOTS];
	int maybe[MEETUP_MAX_SLOTS];
};

static void meetup__count(const struct db_meetup *m, const struct db_people *votes, struct meetup_tally *t)
{
	memset(t, 0, sizeof(*t));
	for(size_t v = 0; v < votes->n; v++)
		for(int i = 0; i < m->nslots && votes->v[v].answers[i]; i++) {
			t->yes[i] += votes->v[v].answers[i] == 'y';
			t->maybe[i] += votes->v[v].answers[i] == 'm';
		}
}

/* Ranks the slots: those still to come before those that have started,
 * then most yes, then most if-need-be, then earliest.  Fills order with slot
 * indexes (0-based), best first, and returns how many are still to come:
 * only those may be chosen. */
static int meetup__rank(const struct db_meetup *m, const struct meetup_tally *t, int *order)
{
	int open = 0;
	for(int i = 0; i < m->nslots; i++) {
		order[i] = i;
		open += !meetup__passed(m, i);
	}
	for(int i = 1; i < m->nslots; i++) {
		for(int j = i; j > 0; j--) {
			int a = order[j - 1], b = order[j];
			bool pa = meetup__passed(m, a), pb = meetup__passed(m, b);
			bool better = (pa && !pb) ||
			              (pa == pb &&
			               (t->yes[b] > t->yes[a] ||
			                (t->yes[b] == t->yes[a] &&
			                 (t->maybe[b] > t->maybe[a] ||
			                  (t->maybe[b] == t->maybe[a] && m->slots[b].start < m->slots[a].start)))));
			if(!better)
				break;
			order[j - 1] = b;
			order[j] = a;
		}
	}
	return open;
}

/* Appends the people of votes whose answer to slot i is which. */
static size_t meetup__voters(struct strbuf *sb, const struct db_people *votes, int i, char which)
{
	size_t n = 0;
	for(size_t v = 0; v < votes->n; v++) {
		if(votes->v[v].answers[i] != which)
			continue;
		if(n++)
			strbuf_adds(sb, ", ");
		strbuf_add_html(sb, votes->v[v].name);
	}
	return n;
}

static int meetup__info_poll(struct meetup_ctx *ctx, struct db_meetup *m, struct strbuf *sb)
{
	const char *lang = meetup__lang(ctx);
	struct db_people votes = { 0 };
	struct strbuf names = STRBUF_INIT;
	int rc = -1;
	if(db_votes(ctx->bot->db, m->id, &votes))
		goto out;
	struct meetup_tally t;
	meetup__count(m, &votes, &t);
	for(int i = 0; i < m->nslots; i++) {
		char y[24], mb[24];
		meetup__num(y, sizeof(y), t.yes[i]);
		meetup__num(mb, sizeof(mb), t.maybe[i]);
		strbuf_addf(sb, "\n%d. ", m->slots[i].idx);
		meetup__slot_label(ctx, sb, m, i);
		strbuf_adds(sb, "\n   ");
		if(!t.yes[i] && !t.maybe[i])
			i18n_fmt(sb, lang, "meetup.info.nobody", NULL);
		if(t.yes[i]) {
			strbuf_reset(&names);
			meetup__voters(&names, &votes, i, 'y');
			i18n_fmt_raw(sb, lang, "meetup.info.yes", 0x2, y, names.buf, NULL);
		}
		if(t.maybe[i]) {
			strbuf_reset(&names);
			meetup__voters(&names, &votes, i, 'm');
			if(t.yes[i])
				strbuf_adds(sb, " · ");
			i18n_fmt_raw(sb, lang, "meetup.info.maybe", 0x2, mb, names.buf, NULL);
		}
	}
	/* Who has not voted, among the members the platform lets us know. */
	strbuf_reset(&names);
	int missing = meetup_non_voters(ctx, m, &names, false);
	if(missing < 0)
		goto out;
	strbuf_addc(sb, '\n');
	char nv[24];
	meetup__num(nv, sizeof(nv), (long)votes.n);
	i18n_fmt(sb, lang, "meetup.info.voters", nv, NULL);
	if(missing)
		meetup__line(ctx, sb, "meetup.info.not_voted", names.buf, true);
	if(m->deadline) {
		struct strbuf when = STRBUF_INIT;
		date_format_when(&when, lang, ctx->chat->tz, clock_now(), m->deadline);
		meetup__line(ctx, sb, "meetup.poll.deadline", when.buf, false);
		strbuf_release(&when);
	}
	rc = sb->oom ? -1 : 0;
out:
	db_people_release(&votes);
	strbuf_release(&names);
	return rc;
}

/* RSVPs split: yes (in), yes waiting, maybe, no, every one of them. */
struct meetup_rsvps {
	const struct db_person **in, **waiting, **maybe, **no;
	size_t nin, nwaiting, nmaybe, nno;
	const struct db_person *slot[]; /* each RSVP once: the four lists */
};

/* Splits r (which must outlive the result); free() the result.  NULL when
 * out of memory. */
static struct meetup_rsvps *meetup__split(const struct db_people *r)
{
	struct meetup_rsvps *s = calloc(1, sizeof(*s) + r->n * sizeof(s->slot[0]));
	if(!s)
		return NULL;
	for(size_t i = 0; i < r->n; i++) {
		const struct db_person *p = &r->v[i];
		s->nin += p->answer == 2 && !p->waiting;
		s->nwaiting += p->answer == 2 && p->waiting;
		s->nmaybe += p->answer == 1;
	}
	s->in = s->slot;
	s->waiting = s->in + s->nin;
	s->maybe = s->waiting + s->nwaiting;
	s->no = s->maybe + s->nmaybe;
	s->nin = s->nwaiting = s->nmaybe = 0;
	for(size_t i = 0; i < r->n; i++) {
		const struct db_person *p = &r->v[i];
		if(p->answer == 2 && !p->waiting)
			s->in[s->nin++] = p;
		else if(p->answer == 2)
			s->waiting[s->nwaiting++] = p;
		else if(p->answer == 1)
			s->maybe[s->nmaybe++] = p;
		else if(p->answer == 0)
			s->no[s->nno++] = p;
	}
	return s;
}

static void meetup__coming_line(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb,
                                const struct meetup_rsvps *s)
{
	const char *lang = meetup__lang(ctx);
	struct strbuf names = STRBUF_INIT;
	char n[24], max[24];
	meetup__num(n, sizeof(n), (long)s->nin);
	meetup__num(max, sizeof(max), m->max_people);
	if(!s->nin)
		i18n_fmt(&names, lang, "meetup.info.nobody", NULL);
	for(size_t i = 0; i < s->nin; i++) {
		if(i)
			strbuf_adds(&names, ", ");
		strbuf_add_html(&names, s->in[i]->name);
		if(s->in[i]->reconfirm)
			i18n_fmt(&names, lang, "meetup.info.to_reconfirm", NULL);
	}
	strbuf_addc(sb, '\n');
	if(m->max_people)
		i18n_fmt_raw(sb, lang, "meetup.info.coming_max", 0x4, n, max, names.buf, NULL);
	else
		i18n_fmt_raw(sb, lang, "meetup.info.coming", 0x2, n, names.buf, NULL);
	if(s->nmaybe) {
		strbuf_reset(&names);
		meetup__names(&names, s->maybe, s->nmaybe, false);
		meetup__line(ctx, sb, "meetup.info.maybe_rsvp", names.buf, true);
	}
	if(s->nwaiting) {
		strbuf_reset(&names);
		meetup__names(&names, s->waiting, s->nwaiting, false);
		meetup__line(ctx, sb, "meetup.info.waiting", names.buf, true);
	}
	if(s->nno) {
		strbuf_reset(&names);
		meetup__names(&names, s->no, s->nno, false);
		meetup__line(ctx, sb, "meetup.info.no_rsvp", names.buf, true);
	}
	strbuf_release(&names);
}

/* Appends "Add to my calendar: LINK", the meetup's own .ics, when the web
 * side runs (without it, nothing: the cards read as they always have). */
static int meetup__calendar_line(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb)
{
	struct bot *b = ctx->bot;
	if(!b->web)
		return 0;
	struct strbuf url = STRBUF_INIT;
	int rc = b->web->link(b->web_user, BOT_LINK_EVENT, m->chat_id, m->num, &url);
	if(!rc) {
		strbuf_addc(sb, '\n');
		i18n_fmt(sb, meetup__lang(ctx), "meetup.calendar", url.buf, NULL);
	}
	strbuf_release(&url);
	return rc || url.oom ? -1 : 0;
}

int meetup_format_info(struct meetup_ctx *ctx, struct db_meetup *m, struct strbuf *sb)
{
	static const char *const state_keys[] = {
		"meetup.state.poll",
		"meetup.state.confirmed",
		"meetup.state.cancelled",
		"meetup.state.no_quorum",
	};
	const char *lang = meetup__lang(ctx);
	meetup__head(ctx, sb, "meetup.info.title", m);
	strbuf_adds(sb, " — ");
	i18n_fmt(sb, lang, state_keys[m->state], NULL);
	if(meetup__group_line(ctx, m, sb))
		return -1;
	if(m->state == MEETUP_CONFIRMED || (m->state == MEETUP_CANCELLED && m->start)) {
		struct strbuf when = STRBUF_INIT;
		meetup__slot_text(ctx, &when, m->start, m->duration_min);
		meetup__line(ctx, sb, "meetup.when", when.buf, false);
		strbuf_release(&when);
	}
	if(m->place[0])
		meetup__line(ctx, sb, "meetup.place", m->place, false);
	if(meetup__series_line(ctx, m, sb))
		return -1;
	if(m->creator) /* 0: they asked to be forgotten */
		meetup__line(ctx, sb, "meetup.info.by", m->creator_name, false);
	if(m->state == MEETUP_POLL)
		return meetup__info_poll(ctx, m, sb);
	if(m->state == MEETUP_CONFIRMED) {
		struct db_people r = { 0 };
		if(db_rsvps(ctx->bot->db, m->id, &r))
			return -1;
		struct meetup_rsvps *s = meetup__split(&r);
		if(!s) {
			db_people_release(&r);
			return -1;
		}
		meetup__coming_line(ctx, m, sb, s);
		char num[24];
		meetup__num(num, sizeof(num), m->num);
		strbuf_addc(sb, '\n');
		i18n_fmt(sb, lang, "meetup.rsvp.how", num, NULL);
		free(s);
		db_people_release(&r);
		if(meetup__calendar_line(ctx, m, sb))
			return -1;
	}
	return sb->oom ? -1 : 0;
}

int meetup_format_slots(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb)
{
	for(int i = 0; i < m->nslots; i++) {
		strbuf_addf(sb, "\n%d. ", m->slots[i].idx);
		meetup__slot_label(ctx, sb, m, i);
	}
	return sb->oom ? -1 : 0;
}

int meetup_format_line(struct meetup_ctx *ctx, const struct db_meetup_line *m, struct strbuf *sb)
{
	const char *lang = meetup__lang(ctx);
	char num[24], n[24];
	meetup__num(num, sizeof(num), m->num);
	meetup__num(n, sizeof(n), m->count);
	strbuf_adds(sb, "\n• ");
	if(m->state == MEETUP_POLL) {
		i18n_fmt(sb, lang, "meetup.list.poll", num, m->title, n, NULL);
	} else {
		struct strbuf when = STRBUF_INIT;
		meetup__slot_text(ctx, &when, m->start, m->duration_min);
		i18n_fmt(sb, lang, "meetup.list.confirmed", num, m->title, when.buf, n, NULL);
		strbuf_release(&when);
	}
	struct db_series s;
	int found = m->series_id ? db_series_get(ctx->bot->db, m->series_id, &s) : 0;
	if(found < 0)
		return -1;
	if(found && s.active) {
		struct strbuf rule = STRBUF_INIT;
		series_format(&rule, lang, s.rule);
		strbuf_adds(sb, " (");
		strbuf_add_html(sb, rule.buf);
		strbuf_addc(sb, ')');
		strbuf_release(&rule);
	}
	return sb->oom ? -1 : 0;
}

/* ---- closing and confirming ---- */

/* Closes the meetup's native poll, where a platform sent one, with text
 * saying how it ended (Matrix shows it to clients without polls; Telegram's
 * stopPoll takes none).  The text is built from the i18n key and its
 * arguments, escaped like every message. */
static int meetup__close_poll_action(struct meetup_ctx *ctx, const struct db_meetup *m, const char *key, ...)
{
	struct strbuf sb = STRBUF_INIT;
	struct action *a;
	char ref[48];
	int rc = -1;
	va_list ap;
	va_start(ap, key);
	i18n_vfmt(&sb, meetup__lang(ctx), key, 0, ap);
	va_end(ap);
	snprintf(ref, sizeof(ref), "meetup:%lld:poll", (long long)m->id);
	if(sb.oom || meetup__push(ctx, ACTION_CLOSE_POLL, sb.buf, &a))
		goto out;
	rc = action_set(&a->ref, ref);
out:
	strbuf_release(&sb);
	return rc;
}

int meetup_close(struct meetup_ctx *ctx, struct db_meetup *m, bool by_deadline)
{
	struct db_people votes = { 0 };
	struct strbuf sb = STRBUF_INIT;
	const char *lang = meetup__lang(ctx);
	int rc = -1;
	if(db_votes(ctx->bot->db, m->id, &votes))
		goto out;
	if(db_jobs_cancel(ctx->bot->db, m->id, JOB_DEADLINE) || db_jobs_cancel(ctx->bot->db, m->id, JOB_NUDGE))
		goto out;
	struct meetup_tally t;
	int order[MEETUP_MAX_SLOTS] = { 0 }; /* a poll has at least one date; this quiets -Wmaybe-uninitialized */
	meetup__count(m, &votes, &t);
	int open = meetup__rank(m, &t, order);
	int best = order[0];
	int need = m->quorum ? m->quorum : 1;
	char num[24], q[24], y[24];
	meetup__num(num, sizeof(num), m->num);
	if(!open) {
		/* Every date has started: none can be fixed, whatever the votes. */
		if(meetup__close_poll_action(ctx, m, "poll.end.all_passed", NULL))
			goto out;
		m->state = MEETUP_NO_QUORUM;
		if(db_meetup_update(ctx->bot->db, m) || series_plan(ctx, m))
			goto out;
		i18n_fmt(&sb, lang, "meetup.all_passed", num, m->title, NULL);
		rc = sb.oom ? -1 : meetup_say(ctx, sb.buf, !by_deadline);
		goto out;
	}
	if(t.yes[best] >= need) {
		if(by_deadline) {
			i18n_fmt(&sb, lang, "meetup.closed.deadline", num, m->title, NULL);
			if(meetup_say(ctx, sb.buf, false))
				goto out;
		}
		rc = meetup_confirm(ctx, m, m->slots[best].idx); /* closes the native poll */
		goto out;
	}
	/* Short of the quorum: no date is fixed; offer the best slots still
	 * to come. */
	meetup__num(q, sizeof(q), need);
	if(meetup__close_poll_action(ctx, m, "poll.end.no_date", q, NULL))
		goto out;
	m->state = MEETUP_NO_QUORUM;
	if(db_meetup_update(ctx->bot->db, m) || series_plan(ctx, m))
		goto out;
	meetup__num(y, sizeof(y), t.yes[best]);
	if(!votes.n)
		i18n_fmt(&sb, lang, "meetup.no_votes", num, m->title, NULL);
	else
		i18n_fmt(&sb, lang, "meetup.no_quorum", num, m->title, q, y, NULL);
	if(votes.n) {
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, lang, "meetup.no_quorum.best", NULL);
		for(int k = 0; k < open && k < 3; k++) {
			int i = order[k];
			char yy[24], mm[24];
			meetup__num(yy, sizeof(yy), t.yes[i]);
			meetup__num(mm, sizeof(mm), t.maybe[i]);
			strbuf_addf(&sb, "\n%d. ", m->slots[i].idx);
			meetup__slot_label(ctx, &sb, m, i);
			strbuf_adds(&sb, " — ");
			i18n_fmt(&sb, lang, "meetup.no_quorum.count", yy, mm, NULL);
		}
	}
	strbuf_addc(&sb, '\n');
	i18n_fmt(&sb, lang, "meetup.no_quorum.offer", num, NULL);
	rc = sb.oom ? -1 : meetup_say(ctx, sb.buf, !by_deadline);
out:
	db_people_release(&votes);
	strbuf_release(&sb);
	return rc;
}

int meetup_buttons(struct action *a, const char *lang, const struct db_meetup *m)
{
	static const char *const keys[] = { "meetup.button.yes", "meetup.button.maybe", "meetup.button.no" };
	static const char codes[] = { 'y', 'm', 'n' };
	for(int k = 0; k < 3; k++) {
		char data[48];
		snprintf(data, sizeof(data), "rsvp:%lld:%c", (long long)m->id, codes[k]);
		if(action_add_button(a, i18n_lookup(lang, keys[k]), data))
			return -1;
	}
	return 0;
}

/* The card of a confirmed meetup: when, where, who comes, how to answer,
 * with the RSVP buttons and the ref "meetup:ID:confirmed" by which an
 * adapter finds the message again; for a cancelled one, the same message
 * saying so, without buttons.  kind is ACTION_SEND_TEXT for the
 * announcement, or ACTION_EDIT to show what changed in it: an edit that
 * would show exactly what the message shows is not made. */
static int meetup__card(struct meetup_ctx *ctx, struct db_meetup *m, enum action_kind kind)
{
	struct db_people r = { 0 };
	struct strbuf sb = STRBUF_INIT, when = STRBUF_INIT;
	struct meetup_rsvps *s = NULL;
	const char *lang = meetup__lang(ctx);
	bool cancelled = m->state == MEETUP_CANCELLED;
	int rc = -1;
	if(db_rsvps(ctx->bot->db, m->id, &r) || !(s = meetup__split(&r)))
		goto out;
	char num[24];
	meetup__num(num, sizeof(num), m->num);
	meetup__head(ctx, &sb, cancelled ? "meetup.card.cancelled" : "meetup.confirmed.title", m);
	if(meetup__group_line(ctx, m, &sb))
		goto out;
	meetup__slot_text(ctx, &when, m->start, m->duration_min);
	meetup__line(ctx, &sb, "meetup.when", when.buf, false);
	if(m->place[0])
		meetup__line(ctx, &sb, "meetup.place", m->place, false);
	if(!cancelled && (s->nin || s->nmaybe || s->nwaiting))
		meetup__coming_line(ctx, m, &sb, s);
	if(!cancelled && meetup__series_line(ctx, m, &sb))
		goto out;
	if(!cancelled) {
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, lang, "meetup.rsvp.how", num, NULL);
		if(meetup__calendar_line(ctx, m, &sb))
			goto out;
	}
	struct action *a;
	if(sb.oom || meetup__push(ctx, kind, sb.buf, &a))
		goto out;
	if(!cancelled && meetup_buttons(a, lang, m))
		goto out;
	char ref[48];
	snprintf(ref, sizeof(ref), "meetup:%lld:confirmed", (long long)m->id);
	if(action_set(&a->ref, ref))
		goto out;
	rc = meetup__shown(ctx, a);
out:
	free(s);
	db_people_release(&r);
	strbuf_release(&sb);
	strbuf_release(&when);
	return rc;
}

int meetup_confirm(struct meetup_ctx *ctx, struct db_meetup *m, int idx)
{
	struct db *db = ctx->bot->db;
	struct db_people votes = { 0 };
	int rc = -1;
	int i = idx - 1;
	if(i < 0 || i >= m->nslots)
		goto out;
	enum meetup_state before = m->state;
	bool was_poll = before != MEETUP_CONFIRMED;
	m->state = MEETUP_CONFIRMED;
	m->chosen = idx;
	m->start = m->slots[i].start;
	m->duration_min = m->slots[i].duration_min;
	if(db_meetup_update(db, m) || db_jobs_cancel(db, m->id, JOB_DEADLINE) || db_jobs_cancel(db, m->id, JOB_NUDGE) ||
	   remind_plan(ctx, m) || series_plan(ctx, m))
		goto out;
	/* Voters carry over: "yes" to the chosen date is coming (up to the
	 * cap, in the order they voted), "if need be" is a maybe. */
	if(was_poll && db_votes(db, m->id, &votes))
		goto out;
	/* A poll still open (closed by its deadline or by hand, or a date
	 * fixed while it runs) closes with the date chosen. */
	if(before == MEETUP_POLL) {
		struct strbuf when = STRBUF_INIT;
		struct meetup_tally t;
		char n[24];
		meetup__count(m, &votes, &t);
		meetup__num(n, sizeof(n), t.yes[i]);
		meetup__slot_text(ctx, &when, m->start, m->duration_min);
		int bad = when.oom || meetup__close_poll_action(ctx, m, "poll.end.chosen", when.buf, n, NULL);
		strbuf_release(&when);
		if(bad)
			goto out;
	}
	int in = 0;
	for(size_t v = 0; v < votes.n; v++) {
		char a = votes.v[v].answers[i];
		if(a == 'y') {
			bool wait = m->max_people && in >= m->max_people;
			in += !wait;
			if(db_rsvp_set(db, m->id, votes.v[v].user_id, 2, wait))
				goto out;
		} else if(a == 'm') {
			if(db_rsvp_set(db, m->id, votes.v[v].user_id, 1, false))
				goto out;
		}
	}
	rc = meetup__card(ctx, m, ACTION_SEND_TEXT);
out:
	db_people_release(&votes);
	return rc;
}

int meetup_card_edit(struct meetup_ctx *ctx, struct db_meetup *m)
{
	int rc = meetup__defer(ctx, m, false);
	return rc ? (rc < 0 ? -1 : 0) : meetup__card(ctx, m, ACTION_EDIT);
}

/* ---- the edits a batch defers ---- */

/* One edit waiting in a batch: its placeholder is out's action slot. */
struct meetup_edit {
	int64_t meetup_id;
	bool poll;       /* the poll's message, not the announcement */
	bool superseded; /* a later change of the same message asked */
	size_t slot;
	struct db_chat *chat; /* owned: the chat as the change saw it */
};

void meetup_edits_init(struct meetup_edits *e, struct outbox *out)
{
	*e = (struct meetup_edits){ .out = out, .first = SIZE_MAX };
}

void meetup_edits_release(struct meetup_edits *e)
{
	for(size_t i = 0; i < e->n; i++)
		free(e->v[i].chat);
	free(e->v);
	*e = (struct meetup_edits){ .first = SIZE_MAX };
}

size_t meetup_edits_hold(const struct meetup_edits *e, size_t n)
{
	return e->out && e->first < n ? e->first : n;
}

/* When ctx's actions go to the open batch's edits (bot->edits), leaves a
 * placeholder for the edit of m's message (its poll's when poll) there,
 * superseding the one an earlier change of it left: 1.  0 when the edit is
 * to be made now, -1 on failure. */
static int meetup__defer(struct meetup_ctx *ctx, const struct db_meetup *m, bool poll)
{
	struct meetup_edits *e = ctx->bot->edits;
	if(!e || e->out != ctx->out)
		return 0;
	if(e->n == e->alloc) {
		size_t na = e->alloc ? e->alloc * 2 : 16;
		struct meetup_edit *nv = realloc(e->v, na * sizeof(*nv));
		if(!nv)
			return -1;
		e->v = nv;
		e->alloc = na;
	}
	struct db_chat *chat = malloc(sizeof(*chat));
	if(!chat || meetup__push(ctx, ACTION_EDIT, "", NULL)) {
		free(chat);
		return -1;
	}
	*chat = *ctx->chat;
	/* At most one edit of a message is live: the last one. */
	for(size_t i = e->n; i-- > 0;) {
		struct meetup_edit *d = &e->v[i];
		if(d->meetup_id == m->id && d->poll == poll && !d->superseded) {
			d->superseded = true;
			break;
		}
	}
	e->v[e->n++] = (struct meetup_edit){ .meetup_id = m->id, .poll = poll, .slot = ctx->out->n - 1, .chat = chat };
	if(e->first == SIZE_MAX)
		e->first = ctx->out->n - 1;
	return 1;
}

/* Renders edit d into its placeholder, or marks it to be dropped (the
 * meetup is gone, or its message shows that already).  0 or -1. */
static int meetup__edit_fill(struct bot *b, struct meetup_edits *e, struct meetup_edit *d)
{
	struct db_meetup m;
	struct outbox made;
	int rc = -1;
	outbox_init(&made);
	int found = db_meetup_get_by_id(b->db, d->meetup_id, &m);
	if(found <= 0) {
		d->superseded = true;
		rc = found;
		goto out;
	}
	struct meetup_ctx ctx = { .bot = b, .chat = d->chat, .out = &made };
	if(d->poll ? meetup__poll_edit(&ctx, &m) : meetup__card(&ctx, &m, ACTION_EDIT))
		goto out;
	if(!made.n) {
		d->superseded = true; /* nothing the message shows changed */
		rc = 0;
		goto out;
	}
	/* The edit takes the placeholder's place, and its key. */
	struct action *p = &e->out->v[d->slot];
	char *key = p->key;
	p->key = made.v[0].key;
	made.v[0].key = key;
	struct action t = *p;
	*p = made.v[0];
	made.v[0] = t;
	rc = 0;
out:
	outbox_release(&made);
	return rc;
}

/* The lists the edits of e will be rendered from, the RSVPs of the cards
 * and the votes of the polls, each kind read in one go (on PostgreSQL, one
 * round trip instead of one a meetup).  Failing, each is read in turn. */
static void meetup__edits_ahead(struct bot *b, const struct meetup_edits *e)
{
	int64_t *ids = malloc(e->n * sizeof(*ids));
	for(int poll = 0; ids && poll < 2; poll++) {
		size_t n = 0;
		for(size_t i = 0; i < e->n; i++)
			if(!e->v[i].superseded && e->v[i].poll == (poll != 0))
				ids[n++] = e->v[i].meetup_id;
		db_read_ahead(b->db, poll ? DB_LIST_VOTES : DB_LIST_RSVPS, ids, n);
	}
	free(ids);
}

int meetup_edits_flush(struct bot *b, struct meetup_edits *e)
{
	if(!e->out || !e->n)
		return 0;
	size_t *drop = malloc(e->n * sizeof(*drop)), ndrop = 0;
	if(!drop)
		return -1;
	meetup__edits_ahead(b, e);
	for(size_t i = 0; i < e->n; i++) {
		if(!e->v[i].superseded && meetup__edit_fill(b, e, &e->v[i])) {
			db_read_ahead_drop(b->db);
			free(drop);
			return -1;
		}
		/* The placeholders are in the order of their slots. */
		if(e->v[i].superseded)
			drop[ndrop++] = e->v[i].slot;
		free(e->v[i].chat);
		e->v[i].chat = NULL;
	}
	db_read_ahead_drop(b->db);
	outbox_remove(e->out, drop, ndrop);
	free(drop);
	e->n = 0;
	e->first = SIZE_MAX;
	return 0;
}

/* ---- RSVPs ---- */

/* Says the confirmation of an RSVP: as a reply to the command, or, for a
 * press of a button (toast not NULL), appended to toast for the press's
 * answer, posting nothing. */
static int meetup__tell(struct meetup_ctx *ctx, struct strbuf *toast, const char *key, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, key);
	i18n_vfmt(toast ? toast : &sb, meetup__lang(ctx), key, 0, ap);
	va_end(ap);
	int rc = toast ? (toast->oom ? -1 : 0) : sb.oom ? -1 : meetup_say(ctx, sb.buf, true);
	strbuf_release(&sb);
	return rc;
}

/* A place freed up: the first one waiting moves up and is told, with a
 * mention, in the chat (whoever freed the place, and however). */
static int meetup__promote(struct meetup_ctx *ctx, struct db_meetup *m)
{
	struct db_person *first = malloc(sizeof(*first));
	struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT;
	int rc = -1;
	if(!first)
		goto out;
	int found = db_rsvp_first_waiting(ctx->bot->db, m->id, first);
	if(found <= 0) {
		rc = found;
		goto out;
	}
	if(db_rsvp_set(ctx->bot->db, m->id, first->user_id, 2, false))
		goto out;
	char num[24];
	meetup__num(num, sizeof(num), m->num);
	meetup_mention(&who, first);
	i18n_fmt_raw(&sb, meetup__lang(ctx), "meetup.rsvp.promoted", 0x1, who.buf, num, m->title, NULL);
	rc = sb.oom ? -1 : meetup_say(ctx, sb.buf, false);
out:
	free(first);
	strbuf_release(&sb);
	strbuf_release(&who);
	return rc;
}

int meetup_rsvp(struct meetup_ctx *ctx, struct db_meetup *m, int64_t user_id, int answer, struct strbuf *toast)
{
	struct db *db = ctx->bot->db;
	struct db_rsvp_summary *s = malloc(sizeof(*s));
	char num[24], n[24], max[24];
	int rc = -1;
	meetup__num(num, sizeof(num), m->num);
	if(!s || db_rsvp_summary(db, m->id, user_id, s))
		goto out;
	const struct db_person *me = s->have_me ? &s->me : NULL;
	bool was_in = me && me->answer == 2 && !me->waiting;
	const char *name = s->me.name;
	if(answer < 0) {
		/* No answer any more (a reaction taken back). */
		if(!me) {
			rc = meetup__tell(ctx, toast, "meetup.rsvp.none", name, num, NULL);
			goto out;
		}
		if(db_rsvp_delete(db, m->id, user_id) ||
		   meetup__tell(ctx, toast, "meetup.rsvp.withdrawn", name, num, NULL))
			goto out;
	} else if(answer == 2 && was_in) {
		/* A confirmation after a move, or a repeated yes. */
		if(db_rsvp_clear_reconfirm(db, m->id, user_id) ||
		   meetup__tell(ctx, toast, me->reconfirm ? "meetup.rsvp.reconfirmed" : "meetup.rsvp.already", name,
		                num, NULL))
			goto out;
	} else if(answer == 2 && me && me->answer == 2 && me->waiting) {
		meetup__num(n, sizeof(n), (long)s->my_place);
		rc = meetup__tell(ctx, toast, "meetup.rsvp.waiting", name, num, n, NULL);
		goto out; /* nothing changed */
	} else {
		bool full = answer == 2 && m->max_people && s->nin >= m->max_people;
		if(db_rsvp_set(db, m->id, user_id, answer, full))
			goto out;
		long in_now = (long)s->nin + (answer == 2) - (was_in ? 1 : 0);
		meetup__num(n, sizeof(n), full ? (long)s->nwaiting + 1 : in_now);
		meetup__num(max, sizeof(max), m->max_people);
		int bad;
		if(full)
			bad = meetup__tell(ctx, toast, "meetup.rsvp.waiting", name, num, n, NULL);
		else if(answer == 2)
			bad = m->max_people ? meetup__tell(ctx, toast, "meetup.rsvp.yes_max", name, num, n, max, NULL)
			                    : meetup__tell(ctx, toast, "meetup.rsvp.yes", name, num, n, NULL);
		else
			bad = meetup__tell(ctx, toast, answer == 1 ? "meetup.rsvp.maybe" : "meetup.rsvp.no", name, num,
			                   NULL);
		if(bad)
			goto out;
	}
	if(was_in && answer != 2 && s->nwaiting && meetup__promote(ctx, m) < 0)
		goto out;
	/* The announcement shows the new counts (unless they show no change). */
	rc = meetup_card_edit(ctx, m);
out:
	free(s);
	return rc;
}

int meetup_fill_places(struct meetup_ctx *ctx, struct db_meetup *m)
{
	struct db *db = ctx->bot->db;
	struct db_rsvp_summary *s = malloc(sizeof(*s));
	struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT;
	char num[24];
	int rc = -1, moved = 0;
	meetup__num(num, sizeof(num), m->num);
	if(!s)
		goto out;
	for(;;) {
		/* No user of interest: only the counts are read. */
		if(db_rsvp_summary(db, m->id, 0, s))
			goto out;
		if(!m->max_people || s->nin >= m->max_people || !s->nwaiting)
			break;
		int found = db_rsvp_first_waiting(db, m->id, &s->me);
		if(found < 0)
			goto out;
		if(!found)
			break;
		if(db_rsvp_set(db, m->id, s->me.user_id, 2, false))
			goto out;
		strbuf_reset(&sb);
		strbuf_reset(&who);
		meetup_mention(&who, &s->me);
		i18n_fmt_raw(&sb, meetup__lang(ctx), "meetup.rsvp.promoted", 0x1, who.buf, num, m->title, NULL);
		if(sb.oom || meetup_say(ctx, sb.buf, false))
			goto out;
		moved++;
	}
	rc = moved ? meetup_card_edit(ctx, m) : 0;
out:
	free(s);
	strbuf_release(&sb);
	strbuf_release(&who);
	return rc;
}

/* ---- cancelling and moving ---- */

/* Appends mentions of everyone who said yes or maybe (or only those
 * counted in, yes_only), but the person exclude.  Returns how many, or -1. */
static int meetup__mention_participants(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb,
                                        bool yes_only, int64_t exclude)
{
	struct db_people r = { 0 };
	if(db_rsvps(ctx->bot->db, m->id, &r))
		return -1;
	size_t k = 0;
	for(size_t i = 0; i < r.n; i++) {
		if(r.v[i].answer == 0 || (yes_only && (r.v[i].answer != 2 || r.v[i].waiting)) ||
		   r.v[i].user_id == exclude)
			continue;
		if(k++)
			strbuf_adds(sb, ", ");
		meetup_mention(sb, &r.v[i]);
	}
	db_people_release(&r);
	return (int)k;
}

int meetup_mention_coming(struct meetup_ctx *ctx, const struct db_meetup *m, struct strbuf *sb, int64_t exclude)
{
	return meetup__mention_participants(ctx, m, sb, false, exclude);
}

int meetup_cancel(struct meetup_ctx *ctx, struct db_meetup *m)
{
	struct db *db = ctx->bot->db;
	struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT;
	int rc = -1;
	enum meetup_state before = m->state;
	m->state = MEETUP_CANCELLED;
	if(db_meetup_update(db, m) || db_jobs_cancel(db, m->id, -1))
		goto out;
	if(before == MEETUP_POLL && meetup__close_poll_action(ctx, m, "poll.end.cancelled", NULL))
		goto out;
	char num[24];
	meetup__num(num, sizeof(num), m->num);
	if(before == MEETUP_CONFIRMED) {
		struct strbuf when = STRBUF_INIT;
		meetup__slot_text(ctx, &when, m->start, m->duration_min);
		i18n_fmt(&sb, meetup__lang(ctx), "meetup.cancelled.when", num, m->title, when.buf, NULL);
		strbuf_release(&when);
	} else {
		i18n_fmt(&sb, meetup__lang(ctx), "meetup.cancelled", num, m->title, NULL);
	}
	int n = meetup__mention_participants(ctx, m, &who, false, 0);
	if(n < 0)
		goto out;
	if(n)
		meetup__line(ctx, &sb, "meetup.cancelled.notify", who.buf, true);
	if(sb.oom || meetup_say(ctx, sb.buf, false))
		goto out;
	/* The announcement says so too, and loses its buttons. */
	rc = before == MEETUP_CONFIRMED ? meetup_card_edit(ctx, m) : 0;
out:
	strbuf_release(&sb);
	strbuf_release(&who);
	return rc;
}

int meetup_move(struct meetup_ctx *ctx, struct db_meetup *m, time_t start, int duration_min, int64_t by)
{
	struct db *db = ctx->bot->db;
	struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT, when = STRBUF_INIT;
	int rc = -1;
	m->start = start;
	if(duration_min)
		m->duration_min = duration_min;
	/* The chosen slot follows, so that the poll's history stays true. */
	if(m->chosen >= 1 && m->chosen <= m->nslots) {
		m->slots[m->chosen - 1].start = start;
		m->slots[m->chosen - 1].duration_min = m->duration_min;
	}
	/* Those coming are asked to confirm the new time, but for whoever
	 * moved it: they chose it. */
	if(db_meetup_update(db, m) || db_rsvp_mark_reconfirm(db, m->id) ||
	   (by && db_rsvp_clear_reconfirm(db, m->id, by)) || remind_plan(ctx, m) || series_plan(ctx, m))
		goto out;
	char num[24];
	meetup__num(num, sizeof(num), m->num);
	meetup__slot_text(ctx, &when, m->start, m->duration_min);
	i18n_fmt(&sb, meetup__lang(ctx), "meetup.moved", num, m->title, when.buf, NULL);
	int n = meetup__mention_participants(ctx, m, &who, true, by);
	if(n < 0)
		goto out;
	if(n) {
		strbuf_addc(&sb, '\n');
		i18n_fmt_raw(&sb, meetup__lang(ctx), "meetup.moved.reconfirm", 0x1, who.buf, num, NULL);
	}
	if(sb.oom || meetup_say(ctx, sb.buf, false))
		goto out;
	rc = meetup_card_edit(ctx, m);
out:
	strbuf_release(&sb);
	strbuf_release(&who);
	strbuf_release(&when);
	return rc;
}

int meetup_job_deadline(struct meetup_ctx *ctx, int64_t meetup_id)
{
	struct db_meetup *m = malloc(sizeof(*m));
	if(!m)
		return -1;
	int found = db_meetup_get_by_id(ctx->bot->db, meetup_id, m);
	int rc = found;
	if(found == 1) {
		rc = 0;
		if(m->state == MEETUP_POLL)
			rc = meetup_close(ctx, m, true);
	}
	free(m);
	return rc < 0 ? -1 : 0;
}
