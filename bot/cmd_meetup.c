/*
 * The meetup commands: /meetup (propose, list, info, close, confirm,
 * cancel, move, edit, and the guided dialogue), /vote, /rsvp, /poll and
 * /cancel.  Parsing lives here; what the commands do lives in meetup.c.
 */
#include "bot/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot/bot.h"
#include "bot/dates.h"
#include "bot/i18n.h"
#include "bot/meetup.h"
#include "bot/page.h"
#include "bot/sched.h"
#include "bot/series.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "meetup"

#define MEETUP_TITLE_MAX 200 /* characters */
#define MEETUP_PLACE_MAX 300
#define MEETUP_PEOPLE_MAX 1000
#define MEETUP_DEFAULT_DURATION 120
#define DIALOG_TTL_MS (30LL * 60 * 1000)

enum { DIALOG_TITLE = 1, DIALOG_DATES = 2, DIALOG_PLACE = 3 };

static struct meetup_ctx cm__mctx(struct cmd_ctx *ctx)
{
	struct meetup_ctx m = {
		.bot = ctx->bot,
		.chat = ctx->chat,
		.out = ctx->out,
		.reply_to = ctx->ev->message_id,
		.key_base = ctx->ev->message_id,
	};
	return m;
}

static struct date_ctx cm__dctx(struct cmd_ctx *ctx)
{
	struct date_ctx d = {
		.tz = ctx->chat->tz,
		.now = clock_now(),
		.month_first = false,
		.default_time = -1,
		.allow_past = false,
	};
	return d;
}

static char *cm__trim(char *s)
{
	while(*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	size_t n = strlen(s);
	while(n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Folds s and compares it with each of the NULL-terminated words. */
static bool cm__is(const char *s, const char *const *words)
{
	struct strbuf f = STRBUF_INIT;
	text_fold(&f, s);
	bool yes = false;
	for(; *words && !yes; words++)
		yes = !strcmp(f.buf, *words);
	strbuf_release(&f);
	return yes;
}

#define WORDS(...) \
	(const char *const[]) \
	{ \
		__VA_ARGS__, NULL \
	}

/* Reads a whole number in [lo, hi] from s; 0 or -1. */
static int cm__int(const char *s, long lo, long hi, long *out)
{
	char *end;
	if(!*s)
		return -1;
	long v = strtol(s, &end, 10);
	if(*cm__trim(end) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Reads "#N" or "N". */
static int cm__meetup_num(const char *s, int *num)
{
	long v;
	if(*s == '#')
		s++;
	if(*s < '0' || *s > '9' || cm__int(s, 1, 1000000, &v))
		return -1;
	*num = (int)v;
	return 0;
}

/* ---- finding the meetup a command is about ---- */

#define MASK_POLL (1u << MEETUP_POLL)
#define MASK_CONFIRMED (1u << MEETUP_CONFIRMED)
#define MASK_NO_QUORUM (1u << MEETUP_NO_QUORUM)

/* Loads meetup num of the chat, or, when num is 0, the only meetup of the
 * chat in one of the states of mask.  Returns 1 when found, 0 when the
 * user was told why not, -1 on failure.  hint_key is the catalogue's
 * example of the command with a meetup named ("/rencontre clore #{1}"), so
 * that the example is written in the chat's language. */
static int cm__find(struct cmd_ctx *ctx, int num, unsigned mask, const char *hint_key, struct db_meetup *m)
{
	char n[16];
	if(num) {
		int found = db_meetup_get(ctx->bot->db, ctx->chat->id, num, m);
		if(found < 0)
			return -1;
		if(!found) {
			text_int(n, sizeof(n), num);
			return cmd_reply(ctx, "meetup.not_found", n, NULL) ? -1 : 0;
		}
		return 1;
	}
	int one, count;
	if(db_meetup_list(ctx->bot->db, ctx->chat->id, mask, clock_now(), &one, 1, &count))
		return -1;
	if(count == 1)
		return db_meetup_get(ctx->bot->db, ctx->chat->id, one, m);
	if(count == 0)
		return cmd_reply(ctx,
		                 mask == MASK_POLL        ? "meetup.none_poll"
		                 : mask == MASK_CONFIRMED ? "meetup.none_confirmed"
		                                          : "meetup.none_open",
		                 NULL)
		               ? -1
		               : 0;
	/* Every one of them is named: a list cut short would hide the one
	 * meant. */
	int *nums = malloc((size_t)count * sizeof(*nums)), max = count;
	if(!nums || db_meetup_list(ctx->bot->db, ctx->chat->id, mask, clock_now(), nums, max, &count)) {
		free(nums);
		return -1;
	}
	struct strbuf list = STRBUF_INIT, hint = STRBUF_INIT;
	for(int i = 0; i < count && i < max; i++)
		strbuf_addf(&list, i ? ", #%d" : "#%d", nums[i]);
	text_int(n, sizeof(n), nums[0]);
	i18n_fmt(&hint, cmd_lang(ctx), hint_key, n, NULL);
	int rc = hint.oom || list.oom
	                 ? -1
	                 : cmd_reply_raw(ctx, mask == MASK_POLL ? "meetup.several_polls" : "meetup.several", 0x2,
	                                 list.buf, hint.buf, NULL);
	strbuf_release(&list);
	strbuf_release(&hint);
	free(nums);
	return rc ? -1 : 0;
}

/* ---- proposing ---- */

struct cm_repeat {
	char rule[32]; /* "" when the meetup does not repeat */
	bool poll;
};

/* A proposal being read: what the parts said, before the dates are read,
 * and where problems go (one line each). */
struct cm_proposal {
	struct cmd_ctx *ctx;
	struct db_meetup *m;
	struct cm_repeat *rep;
	struct strbuf *errors;
	char *slot_text[MEETUP_MAX_SLOTS + 1];
	int nslot_text, too_many;
	char *deadline_text;
	int group_max;  /* the cap of the group named, 0 when none */
	bool poll_part; /* a part said "poll" alone */
};

/* Starts a new line of errors, for the message appended next. */
static struct strbuf *cm__error_line(struct cm_proposal *p)
{
	strbuf_addc(p->errors, '\n');
	return p->errors;
}

/* Tells whether part is "key: value" with a key of ours, or "--group
 * NAME"; then sets *key and *val (inside part, which is cut).  A colon
 * that is no key's ("19:00") is left in place. */
static bool cm__split_key(char *part, char **key, char **val)
{
	char *colon = strchr(part, ':');
	*key = *val = NULL;
	if(colon) {
		*colon = '\0';
		*key = cm__trim(part);
		*val = cm__trim(colon + 1);
		if(!cm__is(*key, WORDS("lieu", "place", "where", "ou", "limite", "deadline", "quorum", "max", "duree",
		                       "duration", "group", "groupe"))) {
			*colon = ':'; /* "19:00" is part of a slot */
			*key = NULL;
		}
	}
	if(!*key && (!strncmp(part, "--group ", 8) || !strncmp(part, "--groupe ", 9))) {
		*key = "group";
		*val = cm__trim(part + (part[7] == ' ' ? 8 : 9));
	}
	return *key != NULL;
}

/* Reads "group: NAME": the open group of the chat it names.  0 or -1. */
static int cm__read_group(struct cm_proposal *p, const char *val)
{
	struct cmd_ctx *ctx = p->ctx;
	struct strbuf gk = STRBUF_INIT;
	struct db_group g;
	text_fold(&gk, val);
	int found = db_group_find(ctx->bot->db, ctx->chat->id, gk.buf, &g);
	strbuf_release(&gk);
	if(found < 0)
		return -1;
	if(!found) {
		i18n_fmt(cm__error_line(p), cmd_lang(ctx), "meetup.err.group", val, NULL);
	} else {
		p->m->group_id = g.id;
		p->group_max = g.max_members;
	}
	return 0;
}

/* Reads a number of people (quorum, max) into *out, or notes the error. */
static void cm__read_people(struct cm_proposal *p, const char *key, const char *val, int *out)
{
	long v;
	if(cm__int(val, 1, MEETUP_PEOPLE_MAX, &v))
		i18n_fmt(cm__error_line(p), cmd_lang(p->ctx), "meetup.err.number", key, val, "1", "1000", NULL);
	else
		*out = (int)v;
}

/* Reads the value of one of our keys (see cm__split_key).  0 or -1. */
static int cm__read_key(struct cm_proposal *p, const char *key, char *val)
{
	const char *lang = cmd_lang(p->ctx);
	struct db_meetup *m = p->m;
	if(cm__is(key, WORDS("lieu", "place", "where", "ou"))) {
		if(utf8_length(val) > MEETUP_PLACE_MAX) {
			char max[16];
			text_int(max, sizeof(max), MEETUP_PLACE_MAX);
			i18n_fmt(cm__error_line(p), lang, "meetup.err.place_long", max, NULL);
		} else {
			text_copy(m->place, sizeof(m->place), val);
		}
	} else if(cm__is(key, WORDS("limite", "deadline"))) {
		p->deadline_text = val;
	} else if(cm__is(key, WORDS("group", "groupe"))) {
		return cm__read_group(p, val);
	} else if(cm__is(key, WORDS("quorum"))) {
		cm__read_people(p, "quorum", val, &m->quorum);
	} else if(cm__is(key, WORDS("max"))) {
		cm__read_people(p, "max", val, &m->max_people);
	} else {
		int minutes;
		if(date_parse_duration(val, &minutes) || minutes > 7 * 24 * 60)
			i18n_fmt(cm__error_line(p), lang, "meetup.err.duration", val, NULL);
		else
			m->duration_min = minutes;
	}
	return 0;
}

/* Reads one part after the title: a key, "poll", a repetition, or else a
 * date, kept to be read once the duration is known.  0 or -1. */
static int cm__read_part(struct cm_proposal *p, char *part)
{
	char *key, *val;
	if(cm__split_key(part, &key, &val))
		return cm__read_key(p, key, val);
	/* "every month; poll": the poll of a repetition, as a part of its
	 * own. */
	if(cm__is(part, WORDS("sondage", "poll"))) {
		p->poll_part = true;
		return 0;
	}
	int every = series_parse(part, p->rep->rule, sizeof(p->rep->rule), &p->rep->poll);
	if(every < 0)
		i18n_fmt(cm__error_line(p), cmd_lang(p->ctx), "meetup.err.every", part, NULL);
	else if(every > 0)
		return 0;
	else if(p->nslot_text < MEETUP_MAX_SLOTS)
		p->slot_text[p->nslot_text++] = part;
	else
		p->too_many++;
	return 0;
}

/* Checks what the parts said as a whole: "poll" needs a repetition, the
 * title, and the number of dates. */
static void cm__check_parts(struct cm_proposal *p, const char *title)
{
	const char *lang = cmd_lang(p->ctx);
	char max[16];
	if(p->poll_part && p->rep->rule[0])
		p->rep->poll = true;
	else if(p->poll_part)
		i18n_fmt(cm__error_line(p), lang, "meetup.err.poll_alone", NULL);
	if(!*title) {
		i18n_fmt(cm__error_line(p), lang, "meetup.err.no_title", NULL);
	} else if(utf8_length(title) > MEETUP_TITLE_MAX) {
		text_int(max, sizeof(max), MEETUP_TITLE_MAX);
		i18n_fmt(cm__error_line(p), lang, "meetup.err.title_long", max, NULL);
	} else {
		text_copy(p->m->title, sizeof(p->m->title), title);
	}
	if(p->too_many) {
		text_int(max, sizeof(max), MEETUP_MAX_SLOTS);
		i18n_fmt(cm__error_line(p), lang, "meetup.err.too_many", max, NULL);
	}
	if(!p->nslot_text && !p->too_many)
		i18n_fmt(cm__error_line(p), lang, "meetup.err.no_slot", NULL);
}

/* Reads the dates kept by cm__read_part into m's slots, duplicates merged
 * (counted in *merged), in time order, numbered from 1. */
static void cm__read_slots(struct cm_proposal *p, struct date_ctx *dctx, int *merged)
{
	const char *lang = cmd_lang(p->ctx);
	struct db_meetup *m = p->m;
	for(int i = 0; i < p->nslot_text; i++) {
		struct date_slot ds;
		struct date_why why;
		enum date_err e = date_parse_why(dctx, p->slot_text[i], &ds, &why);
		if(e != DATE_OK) {
			char n[16];
			struct strbuf reason = STRBUF_INIT;
			text_int(n, sizeof(n), i + 1);
			cm__error_line(p);
			date_err_write(&reason, lang, dctx, e, &why);
			i18n_fmt_raw(p->errors, lang, "meetup.err.slot", 0x4, n, p->slot_text[i], reason.buf, NULL);
			strbuf_release(&reason);
			continue;
		}
		int dur = ds.duration_min ? ds.duration_min : m->duration_min;
		bool dup = false;
		for(int k = 0; k < m->nslots && !dup; k++)
			dup = m->slots[k].start == ds.start && m->slots[k].duration_min == dur;
		if(dup) {
			(*merged)++;
			continue;
		}
		m->slots[m->nslots].start = ds.start;
		m->slots[m->nslots].duration_min = dur;
		m->nslots++;
	}
	for(int i = 1; i < m->nslots; i++)
		for(int k = i; k > 0 && m->slots[k].start < m->slots[k - 1].start; k--) {
			struct db_slot t = m->slots[k];
			m->slots[k] = m->slots[k - 1];
			m->slots[k - 1] = t;
		}
	for(int i = 0; i < m->nslots; i++)
		m->slots[i].idx = i + 1;
}

/* Reads the deadline, if one was given: a date (by default at 23:59)
 * before the first slot. */
static void cm__read_deadline(struct cm_proposal *p, const struct date_ctx *dctx)
{
	const char *lang = cmd_lang(p->ctx);
	struct db_meetup *m = p->m;
	struct date_ctx ddl = *dctx;
	struct date_slot ds;
	struct date_why why;
	if(!p->deadline_text)
		return;
	ddl.default_time = 23 * 60 + 59;
	enum date_err e = date_parse_why(&ddl, p->deadline_text, &ds, &why);
	if(e != DATE_OK) {
		struct strbuf reason = STRBUF_INIT;
		cm__error_line(p);
		date_err_write(&reason, lang, &ddl, e, &why);
		i18n_fmt_raw(p->errors, lang, "meetup.err.deadline", 0x2, p->deadline_text, reason.buf, NULL);
		strbuf_release(&reason);
	} else if(m->nslots && ds.start >= m->slots[0].start) {
		/* Both dates written out: "dans 3 jours" says little by itself. */
		struct strbuf when = STRBUF_INIT, first = STRBUF_INIT;
		date_format_when(&when, lang, ddl.tz, ddl.now, ds.start);
		date_format_when(&first, lang, ddl.tz, ddl.now, m->slots[0].start);
		i18n_fmt(cm__error_line(p), lang, "meetup.err.deadline_late", p->deadline_text, when.buf, first.buf,
		         NULL);
		strbuf_release(&when);
		strbuf_release(&first);
	} else {
		m->deadline = ds.start;
	}
}

/* Parses "TITLE; SLOT; ...; key: value" into m.  Problems are appended
 * to errors (one line each); merged tells how many slots were duplicates.
 * Returns 0 when m is complete, 1 when errors were found, -1 on failure. */
static int cm__parse_proposal(struct cmd_ctx *ctx, char *text, struct db_meetup *m, struct strbuf *errors, int *merged,
                              struct cm_repeat *rep)
{
	struct cm_proposal p = { .ctx = ctx, .m = m, .rep = rep, .errors = errors };
	struct date_ctx dctx = cm__dctx(ctx);
	memset(m, 0, sizeof(*m));
	memset(rep, 0, sizeof(*rep));
	m->duration_min = MEETUP_DEFAULT_DURATION;
	*merged = 0;

	/* Split on ";" keeping empty fields: "; tomorrow 7pm" has no title. */
	char *rest = text;
	char *part = strsep(&rest, ";");
	char *title = cm__trim(part);
	while((part = strsep(&rest, ";")) != NULL) {
		part = cm__trim(part);
		if(*part && cm__read_part(&p, part))
			return -1;
	}
	cm__check_parts(&p, title);
	cm__read_slots(&p, &dctx, merged);
	cm__read_deadline(&p, &dctx);
	/* A group's meetup takes the group's cap unless it has its own. */
	if(m->group_id && !m->max_people)
		m->max_people = p.group_max;
	m->creator = ctx->user_id;
	return errors->oom ? -1 : errors->len ? 1 : 0;
}

/* Runs a one-line proposal.  Returns a cmd_result. */
static int cm__propose(struct cmd_ctx *ctx, char *text)
{
	struct strbuf errors = STRBUF_INIT, sb = STRBUF_INIT;
	struct db_meetup *m = malloc(sizeof(*m));
	int merged, rc = CMD_ERROR;
	struct cm_repeat rep;
	if(!m)
		goto out;
	int p = cm__parse_proposal(ctx, text, m, &errors, &merged, &rep);
	if(p < 0)
		goto out;
	if(p > 0) {
		i18n_fmt_raw(&sb, cmd_lang(ctx), "meetup.err.header", 0x1, errors.buf + 1, NULL);
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, cmd_lang(ctx), "meetup.err.footer", NULL);
		rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
		goto out;
	}
	struct meetup_ctx mctx = cm__mctx(ctx);
	const char *note = NULL;
	if(merged)
		i18n_fmt(&sb, cmd_lang(ctx), "meetup.merged", NULL), note = sb.buf;
	if(rep.rule[0]) {
		struct db_series s = { .chat_id = ctx->chat->id, .poll = rep.poll };
		text_copy(s.rule, sizeof(s.rule), rep.rule);
		if(db_series_insert(ctx->bot->db, &s))
			goto out;
		m->series_id = s.id;
	}
	rc = meetup_create(&mctx, m, note);
out:
	free(m);
	strbuf_release(&errors);
	strbuf_release(&sb);
	return rc;
}

/* ---- the guided dialogue ---- */

static int cm__dialog_ask(struct cmd_ctx *ctx, int step)
{
	static const char *const keys[] = { NULL, "dialog.ask_title", "dialog.ask_dates", "dialog.ask_place" };
	return cmd_reply(ctx, keys[step], NULL);
}

static int cm__dialog_start(struct cmd_ctx *ctx, const char *title)
{
	int step = title ? DIALOG_DATES : DIALOG_TITLE;
	if(db_dialog_set(ctx->bot->db, ctx->chat->id, ctx->user_id, step, title ? title : "", clock_now_ms()))
		return CMD_ERROR;
	return cm__dialog_ask(ctx, step);
}

int cmd_dialog_answer(struct cmd_ctx *ctx, const char *text)
{
	struct strbuf data = STRBUF_INIT, line = STRBUF_INIT, errors = STRBUF_INIT;
	struct db *db = ctx->bot->db;
	int step, rc = CMD_ERROR;
	int64_t updated;
	int found = db_dialog_get(db, ctx->chat->id, ctx->user_id, &step, &data, &updated);
	if(found <= 0) {
		rc = found < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	if(clock_now_ms() - updated > DIALOG_TTL_MS) {
		rc = db_dialog_clear(db, ctx->chat->id, ctx->user_id) ? CMD_ERROR : CMD_OK;
		goto out;
	}
	strbuf_adds(&line, text);
	strbuf_trim(&line);
	if(!line.len) {
		rc = CMD_OK;
		goto out;
	}
	/* What has been answered so far is kept as the beginning of a one-line
	 * proposal; the last answer completes it. */
	if(step == DIALOG_TITLE) {
		if(strchr(line.buf, ';') || utf8_length(line.buf) > MEETUP_TITLE_MAX) {
			rc = cmd_reply(ctx, "dialog.bad_title", NULL);
			goto out;
		}
		rc = db_dialog_set(db, ctx->chat->id, ctx->user_id, DIALOG_DATES, line.buf, clock_now_ms());
		if(!rc)
			rc = cm__dialog_ask(ctx, DIALOG_DATES);
		goto out;
	}
	if(step == DIALOG_DATES) {
		/* Check the dates now, so that a mistake is asked again here. */
		struct strbuf probe = STRBUF_INIT;
		struct db_meetup *m = malloc(sizeof(*m));
		int merged;
		struct cm_repeat rep;
		strbuf_addf(&probe, "%s; %s", data.buf, line.buf);
		int p = m && !probe.oom ? cm__parse_proposal(ctx, probe.buf, m, &errors, &merged, &rep) : -1;
		free(m);
		if(p == 0) {
			strbuf_reset(&probe);
			strbuf_addf(&probe, "%s; %s", data.buf, line.buf);
			rc = db_dialog_set(db, ctx->chat->id, ctx->user_id, DIALOG_PLACE, probe.buf, clock_now_ms());
			if(!rc)
				rc = cm__dialog_ask(ctx, DIALOG_PLACE);
		} else if(p > 0) {
			struct strbuf sb = STRBUF_INIT;
			i18n_fmt_raw(&sb, cmd_lang(ctx), "dialog.bad_dates", 0x1, errors.buf + 1, NULL);
			rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
			strbuf_release(&sb);
		}
		strbuf_release(&probe);
		goto out;
	}
	/* DIALOG_PLACE: "-" means none. */
	if(db_dialog_clear(db, ctx->chat->id, ctx->user_id))
		goto out;
	if(strcmp(line.buf, "-"))
		strbuf_addf(&data, "; lieu: %s", line.buf);
	rc = data.oom ? CMD_ERROR : cm__propose(ctx, data.buf);
out:
	strbuf_release(&data);
	strbuf_release(&line);
	strbuf_release(&errors);
	return rc;
}

int cmd_cancel_dialog(struct cmd_ctx *ctx)
{
	struct strbuf data = STRBUF_INIT;
	int step;
	int64_t updated;
	int found = db_dialog_get(ctx->bot->db, ctx->chat->id, ctx->user_id, &step, &data, &updated);
	strbuf_release(&data);
	if(found < 0)
		return CMD_ERROR;
	if(!found)
		return cmd_reply(ctx, "dialog.nothing", NULL);
	if(db_dialog_clear(ctx->bot->db, ctx->chat->id, ctx->user_id))
		return CMD_ERROR;
	return cmd_reply(ctx, "dialog.cancelled", NULL);
}

/* ---- subcommands ---- */

/* "/meetup list [PAGE]". */
static int cm__list(struct cmd_ctx *ctx, const struct page *pg)
{
	struct db_meetup_line *lines;
	int count, total;
	if(db_meetup_lines(ctx->bot->db, ctx->chat->id, 0, clock_now(), pg->offset, pg->size, &lines, &count, &total))
		return CMD_ERROR;
	if(!total) {
		free(lines);
		return cmd_reply(ctx, "meetup.list.empty", NULL);
	}
	struct strbuf sb = STRBUF_INIT;
	struct meetup_ctx mctx = cm__mctx(ctx);
	int rc = CMD_ERROR;
	if(page_past_end(pg, total))
		page_no_page(&sb, cmd_lang(ctx), pg, total);
	else
		i18n_fmt(&sb, cmd_lang(ctx), "meetup.list.header", NULL);
	for(int i = 0; i < count; i++)
		if(meetup_format_line(&mctx, &lines[i], &sb))
			goto out;
	if(count)
		page_footer(&sb, cmd_lang(ctx), "meetup.list.more", pg, count, total);
	rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
out:
	free(lines);
	strbuf_release(&sb);
	return rc;
}

/* Reads an optional "#N"/"N" first word of *args. */
static int cm__opt_num(char **args)
{
	char *save = *args;
	char *w = cmd_next_word(args);
	int num;
	if(w && !cm__meetup_num(w, &num))
		return num;
	/* Not a number: put the word back. */
	if(w && *args > w + strlen(w))
		w[strlen(w)] = ' ';
	*args = save;
	return 0;
}

/* /meetup info and /poll: hint_key names the command as it was typed. */
static int cm__info(struct cmd_ctx *ctx, char *args, const char *hint_key)
{
	struct db_meetup *m = malloc(sizeof(*m));
	struct strbuf sb = STRBUF_INIT;
	int rc = CMD_ERROR;
	if(!m)
		goto out;
	int num = cm__opt_num(&args);
	/* "all" names every non-voter of a poll rather than the first 20. */
	char *all = cmd_next_word(&args);
	if((all && !cm__is(all, WORDS("all", "tous", "toutes", "tout"))) || *cm__trim(args)) {
		rc = CMD_USAGE;
		goto out;
	}
	int found = cm__find(ctx, num, MASK_POLL | MASK_CONFIRMED, hint_key, m);
	if(found <= 0) {
		rc = found < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	struct meetup_ctx mctx = cm__mctx(ctx);
	mctx.all_non_voters = all != NULL;
	if(meetup_format_info(&mctx, m, &sb))
		goto out;
	rc = cmd_reply_text(ctx, sb.buf);
out:
	free(m);
	strbuf_release(&sb);
	return rc;
}

/* Whether text reads as a date, past or not. */
static bool cm__is_date(struct cmd_ctx *ctx, const char *text)
{
	struct date_ctx dctx = cm__dctx(ctx);
	struct date_slot ds;
	dctx.allow_past = true;
	return date_parse(&dctx, text, &ds) == DATE_OK;
}

/* Tells why m cannot be verb_key'd in its state: it is already confirmed
 * (and how to change its date), cancelled or closed without a date, or it
 * has no date yet.  Returns CMD_OK or CMD_ERROR. */
static int cm__wrong_state(struct cmd_ctx *ctx, const struct db_meetup *m, const char *verb_key)
{
	const char *lang = cmd_lang(ctx);
	char n[16];
	text_int(n, sizeof(n), m->num);
	switch(m->state) {
	case MEETUP_CONFIRMED: {
		struct strbuf when = STRBUF_INIT;
		date_format_slot(&when, lang, ctx->chat->tz, clock_now(), m->start, 0);
		int rc = when.oom ? -1 : cmd_reply(ctx, "meetup.already.confirmed", n, when.buf, NULL);
		strbuf_release(&when);
		return rc ? CMD_ERROR : CMD_OK;
	}
	case MEETUP_CANCELLED:
		return cmd_reply(ctx, "meetup.already.cancelled", n, NULL) ? CMD_ERROR : CMD_OK;
	case MEETUP_NO_QUORUM:
		return cmd_reply(ctx, "meetup.already.no_quorum", n, NULL) ? CMD_ERROR : CMD_OK;
	case MEETUP_POLL:
	default:
		return cmd_reply(ctx, "meetup.not_yet", n, i18n_lookup(lang, verb_key), NULL) ? CMD_ERROR : CMD_OK;
	}
}

/* The slot of m that "/meetup confirm" names: its number ("2") or one of
 * its dates as people write them ("samedi 14h"), matched on the start.  A
 * date that has started cannot be fixed.  Returns the slot's idx, or 0
 * when the user was told why not (with the poll's dates and their
 * numbers), or -1 on failure. */
static int cm__pick_slot(struct cmd_ctx *ctx, const struct db_meetup *m, const char *args)
{
	const char *lang = cmd_lang(ctx);
	struct strbuf sb = STRBUF_INIT;
	char n[16];
	long idx = 0;
	int rc = -1;
	text_int(n, sizeof(n), m->num);
	if(*args >= '0' && *args <= '9' && !cm__int(args, 0, 1000000, &idx)) {
		if(idx < 1 || idx > m->nslots) {
			i18n_fmt(&sb, lang, "meetup.confirm.no_slot", args, n, NULL);
			idx = 0;
		}
	} else {
		struct date_ctx dctx = cm__dctx(ctx);
		struct date_slot ds;
		struct date_why why;
		dctx.allow_past = true;
		enum date_err e = date_parse_why(&dctx, args, &ds, &why);
		for(int i = 0; e == DATE_OK && i < m->nslots && !idx; i++)
			if(m->slots[i].start == ds.start)
				idx = m->slots[i].idx;
		if(e != DATE_OK) {
			struct strbuf reason = STRBUF_INIT;
			date_err_write(&reason, lang, &dctx, e, &why);
			i18n_fmt_raw(&sb, lang, "meetup.confirm.unreadable", 0x4, args, n, reason.buf, NULL);
			strbuf_release(&reason);
		} else if(!idx)
			i18n_fmt(&sb, lang, "meetup.confirm.no_match", args, n, NULL);
	}
	if(idx && m->slots[idx - 1].start <= clock_now()) {
		struct strbuf when = STRBUF_INIT;
		char k[16];
		text_int(k, sizeof(k), idx);
		date_format_slot(&when, lang, ctx->chat->tz, clock_now(), m->slots[idx - 1].start, 0);
		i18n_fmt(&sb, lang, "meetup.confirm.passed", k, n, when.buf, NULL);
		strbuf_release(&when);
		idx = 0;
	}
	if(idx) {
		rc = (int)idx;
		goto out;
	}
	struct meetup_ctx mctx = cm__mctx(ctx);
	if(meetup_format_slots(&mctx, m, &sb) || sb.oom || cmd_reply_text(ctx, sb.buf))
		goto out;
	rc = 0;
out:
	strbuf_release(&sb);
	return rc;
}

/* A new place is told to the chat, and to those who come by a mention:
 * a meetup's place matters to them, wherever the message lands. */
static int cm__place_changed(struct cmd_ctx *ctx, const struct db_meetup *m)
{
	struct meetup_ctx mctx = cm__mctx(ctx);
	struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT;
	char n[16];
	int rc = CMD_ERROR;
	text_int(n, sizeof(n), m->num);
	i18n_fmt(&sb, cmd_lang(ctx), "meetup.edited.place", n, m->place[0] ? m->place : "—", NULL);
	int k = meetup_mention_coming(&mctx, m, &who, ctx->user_id);
	if(k < 0)
		goto out;
	if(k) {
		strbuf_addc(&sb, '\n');
		i18n_fmt_raw(&sb, cmd_lang(ctx), "meetup.edited.place_notify", 0x1, who.buf, NULL);
	}
	rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
out:
	strbuf_release(&sb);
	strbuf_release(&who);
	return rc;
}

/* close, cancel, confirm, move, edit share their beginning. */
enum cm_verb { VERB_CLOSE, VERB_CANCEL, VERB_CONFIRM, VERB_MOVE, VERB_EDIT };

static const struct {
	unsigned mask;
	const char *hint;
	const char *verb_key;
} cm__verbs[] = {
	[VERB_CLOSE] = { MASK_POLL, "meetup.hint.close", "meetup.verb.close" },
	[VERB_CANCEL] = { MASK_POLL | MASK_CONFIRMED, "meetup.hint.cancel", "meetup.verb.cancel" },
	[VERB_CONFIRM] = { MASK_POLL | MASK_NO_QUORUM, "meetup.hint.confirm", "meetup.verb.confirm" },
	[VERB_MOVE] = { MASK_CONFIRMED, "meetup.hint.move", "meetup.verb.move" },
	[VERB_EDIT] = { MASK_POLL | MASK_CONFIRMED, "meetup.hint.edit", "meetup.verb.edit" },
};

/* Reads "[ID] REST" of a change into *num and *args.  A confirmation's
 * number may be no meetup's id: it starts a date ("/rencontre confirmer 5
 * déc. 14h", whole holds the text untouched), or names the slot of the
 * only meetup ("/meetup confirm 3", then written into whole).  *args may
 * point into whole.  Returns CMD_OK, or CMD_ERROR. */
static int cm__change_args(struct cmd_ctx *ctx, enum cm_verb verb, struct strbuf *whole, int *num, char **args)
{
	long slot_num;
	*num = cm__opt_num(args);
	*args = cm__trim(*args);
	if(verb != VERB_CONFIRM || !*num)
		return CMD_OK;
	if(**args && cm__int(*args, 1, 1000000, &slot_num) && !whole->oom && cm__is_date(ctx, whole->buf) &&
	   !cm__is_date(ctx, *args)) {
		*num = 0;
		*args = whole->buf;
	}
	if(*num && !**args) {
		int nums[2], count;
		if(db_meetup_list(ctx->bot->db, ctx->chat->id, cm__verbs[verb].mask, clock_now(), nums, 2, &count))
			return CMD_ERROR;
		if(count == 1) {
			/* *args is not whole's text here: this reuses it. */
			strbuf_reset(whole);
			strbuf_addf(whole, "%d", *num);
			if(whole->oom)
				return CMD_ERROR;
			*args = whole->buf;
			*num = 0;
		}
	}
	return CMD_OK;
}

/* /meetup move: m moves to the date args names.  A cmd_result. */
static int cm__move_to(struct cmd_ctx *ctx, struct db_meetup *m, const char *args)
{
	struct meetup_ctx mctx = cm__mctx(ctx);
	struct date_ctx dctx = cm__dctx(ctx);
	struct date_slot ds;
	struct date_why why;
	enum date_err e = date_parse_why(&dctx, args, &ds, &why);
	if(e == DATE_OK)
		return meetup_move(&mctx, m, ds.start, ds.duration_min, ctx->user_id);
	struct strbuf reason = STRBUF_INIT;
	date_err_write(&reason, cmd_lang(ctx), &dctx, e, &why);
	int rc = reason.oom ? CMD_ERROR : cmd_reply_raw(ctx, "meetup.err.when", 0x2, args, reason.buf, NULL);
	strbuf_release(&reason);
	return rc;
}

/* Sets m's field (place, title, duration) to value, or tells why not.
 * Returns CMD_OK when it was set and told, 1 when the user was told why
 * not, CMD_ERROR. */
static int cm__edit_field(struct cmd_ctx *ctx, struct db_meetup *m, const char *field, const char *value)
{
	char n[16], max[16];
	text_int(n, sizeof(n), m->num);
	if(cm__is(field, WORDS("place", "lieu"))) {
		if(utf8_length(value) > MEETUP_PLACE_MAX) {
			text_int(max, sizeof(max), MEETUP_PLACE_MAX);
			return cmd_reply(ctx, "meetup.err.place_long", max, NULL) ? CMD_ERROR : 1;
		}
		text_copy(m->place, sizeof(m->place), strcmp(value, "-") ? value : "");
		return db_meetup_update(ctx->bot->db, m) ? CMD_ERROR : cm__place_changed(ctx, m);
	}
	if(cm__is(field, WORDS("title", "titre"))) {
		if(utf8_length(value) > MEETUP_TITLE_MAX || strchr(value, ';')) {
			text_int(max, sizeof(max), MEETUP_TITLE_MAX);
			return cmd_reply(ctx, "meetup.err.title_long", max, NULL) ? CMD_ERROR : 1;
		}
		text_copy(m->title, sizeof(m->title), value);
		return db_meetup_update(ctx->bot->db, m) ? CMD_ERROR
		                                         : cmd_reply(ctx, "meetup.edited.title", n, m->title, NULL);
	}
	if(cm__is(field, WORDS("duration", "duree"))) {
		int minutes;
		if(date_parse_duration(value, &minutes) || minutes > 7 * 24 * 60)
			return cmd_reply(ctx, "meetup.err.duration", value, NULL) ? CMD_ERROR : 1;
		m->duration_min = minutes;
		for(int i = 0; i < m->nslots; i++)
			m->slots[i].duration_min = minutes;
		struct strbuf d = STRBUF_INIT;
		date_format_duration(&d, cmd_lang(ctx), minutes);
		int rc = db_meetup_update(ctx->bot->db, m) ? CMD_ERROR
		                                           : cmd_reply(ctx, "meetup.edited.duration", n, d.buf, NULL);
		strbuf_release(&d);
		return rc;
	}
	return cmd_reply(ctx, "meetup.edit.fields", field, NULL) ? CMD_ERROR : 1;
}

/* /meetup edit: "FIELD VALUE" changes m, and its announcement (or its
 * poll's message) shows the change.  A cmd_result. */
static int cm__edit_meetup(struct cmd_ctx *ctx, struct db_meetup *m, char *args)
{
	struct meetup_ctx mctx = cm__mctx(ctx);
	char *field = cmd_next_word(&args);
	char *value = field ? cm__trim(args) : NULL;
	if(!field || !*value)
		return CMD_USAGE;
	int rc = cm__edit_field(ctx, m, field, value);
	if(rc)
		return rc < 0 ? CMD_ERROR : CMD_OK;
	if(m->state == MEETUP_CONFIRMED ? meetup_card_edit(&mctx, m) : meetup_poll_edit(&mctx, m))
		return CMD_ERROR;
	return CMD_OK;
}

/* Does verb to m, found, in a state that allows it, by someone who may.
 * A cmd_result. */
static int cm__apply(struct cmd_ctx *ctx, enum cm_verb verb, struct db_meetup *m, char *args)
{
	struct meetup_ctx mctx = cm__mctx(ctx);
	switch(verb) {
	case VERB_CLOSE:
		return meetup_close(&mctx, m, false);
	case VERB_CANCEL:
		return meetup_cancel(&mctx, m);
	case VERB_CONFIRM: {
		int idx = cm__pick_slot(ctx, m, args);
		return idx < 0 ? CMD_ERROR : idx ? meetup_confirm(&mctx, m, idx) : CMD_OK;
	}
	case VERB_MOVE:
		return cm__move_to(ctx, m, args);
	case VERB_EDIT:
		return cm__edit_meetup(ctx, m, args);
	}
	return CMD_ERROR;
}

/* The resolver of /meetup's changes (the verb is the row's arg): the
 * meetup named (or the only one it can be), in a state that allows the
 * change; usage and refusals replied here.  See struct subcommand. */
static int cm__change_find(struct cmd_ctx *ctx, char **args, struct cmd_object *obj)
{
	enum cm_verb verb = (enum cm_verb)ctx->sub->arg;
	int num;
	obj->verb_key = cm__verbs[verb].verb_key;
	if(!(obj->meetup = malloc(sizeof(*obj->meetup))))
		return CMD_ERROR;
	strbuf_adds(&obj->text, *args);
	strbuf_trim(&obj->text);
	if(cm__change_args(ctx, verb, &obj->text, &num, args))
		return CMD_ERROR;
	if((verb == VERB_CLOSE || verb == VERB_CANCEL) && **args)
		return CMD_USAGE;
	if((verb == VERB_MOVE || verb == VERB_CONFIRM || verb == VERB_EDIT) && !**args)
		return CMD_USAGE;
	int found = cm__find(ctx, num, cm__verbs[verb].mask, cm__verbs[verb].hint, obj->meetup);
	if(found <= 0)
		return found < 0 ? CMD_ERROR : CMD_OK;
	if(!(cm__verbs[verb].mask & (1u << obj->meetup->state)))
		return cm__wrong_state(ctx, obj->meetup, obj->verb_key);
	obj->found = true;
	return CMD_OK;
}

/* /meetup close, cancel, confirm, move, edit, once cm__change_find found
 * the meetup and the sender may. */
static int cm__change(struct cmd_ctx *ctx, char *args)
{
	return cm__apply(ctx, (enum cm_verb)ctx->sub->arg, ctx->obj->meetup, args);
}

/* The resolver of "/meetup series ID stop": the meetup, when it is part of
 * a series. */
static int cm__series_find(struct cmd_ctx *ctx, char **args, struct cmd_object *obj)
{
	obj->verb_key = "meetup.verb.edit";
	if(!(obj->meetup = malloc(sizeof(*obj->meetup))))
		return CMD_ERROR;
	int num = cm__opt_num(args);
	char *verb = cmd_next_word(args);
	if(!verb || !cm__is(verb, WORDS("stop", "arreter", "fin", "end")) || cmd_next_word(args))
		return CMD_USAGE;
	int found = cm__find(ctx, num, MASK_POLL | MASK_CONFIRMED, "meetup.hint.series", obj->meetup);
	if(found <= 0)
		return found < 0 ? CMD_ERROR : CMD_OK;
	if(!obj->meetup->series_id) {
		char n[16];
		text_int(n, sizeof(n), obj->meetup->num);
		return cmd_reply(ctx, "series.none", n, NULL);
	}
	obj->found = true;
	return CMD_OK;
}

/* /meetup series ID stop: the series of meetup ID makes no new session. */
static int cm__series(struct cmd_ctx *ctx, char *args)
{
	const struct db_meetup *m = ctx->obj->meetup;
	char n[16];
	(void)args;
	text_int(n, sizeof(n), m->num);
	if(db_series_stop(ctx->bot->db, m->series_id) || db_jobs_cancel(ctx->bot->db, m->id, JOB_SERIES))
		return CMD_ERROR;
	return cmd_reply(ctx, "series.stopped", n, m->title, NULL);
}

static int cm__list_sub(struct cmd_ctx *ctx, char *args)
{
	struct page pg;
	char *word = cmd_next_word(&args);
	if(page_parse(word, &pg) || cmd_next_word(&args))
		return CMD_USAGE;
	return cm__list(ctx, &pg);
}

static int cm__info_sub(struct cmd_ctx *ctx, char *args)
{
	return cm__info(ctx, args, "meetup.hint.info");
}
/* /meetup's sub-commands.  Those that change a meetup are its creator's,
 * its group's contact persons' and the admins': their resolver finds the
 * meetup before the dispatcher checks who may. */
/* clang-format off: a table reads best one row to a line */
static const struct subcommand cm__subs[] = {
	{ .name = "list", .aliases = WORDS("liste", "ls"), .perm = PERM_ANYONE, .handler = cm__list_sub },
	{ .name = "info", .aliases = WORDS("infos", "show", "voir"), .perm = PERM_ANYONE, .handler = cm__info_sub },
	{ .name = "close",
	  .aliases = WORDS("clore", "fermer", "cloturer"),
	  .perm = PERM_MEETUP_OWNER,
	  .resolve = cm__change_find,
	  .handler = cm__change,
	  .arg = VERB_CLOSE },
	{ .name = "cancel",
	  .aliases = WORDS("annuler"),
	  .perm = PERM_MEETUP_OWNER,
	  .resolve = cm__change_find,
	  .handler = cm__change,
	  .arg = VERB_CANCEL },
	{ .name = "confirm",
	  .aliases = WORDS("confirmer", "fix", "fixer"),
	  .perm = PERM_MEETUP_OWNER,
	  .resolve = cm__change_find,
	  .handler = cm__change,
	  .arg = VERB_CONFIRM },
	{ .name = "move",
	  .aliases = WORDS("deplacer", "reporter"),
	  .perm = PERM_MEETUP_OWNER,
	  .resolve = cm__change_find,
	  .handler = cm__change,
	  .arg = VERB_MOVE },
	{ .name = "edit",
	  .aliases = WORDS("modifier", "changer"),
	  .perm = PERM_MEETUP_OWNER,
	  .resolve = cm__change_find,
	  .handler = cm__change,
	  .arg = VERB_EDIT },
	{ .name = "series",
	  .aliases = WORDS("serie"),
	  .perm = PERM_MEETUP_OWNER,
	  .resolve = cm__series_find,
	  .handler = cm__series },
	{ .name = NULL },
};
/* clang-format on */

int cmd_meetup(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	if(!*args)
		return cm__dialog_start(ctx, NULL);
	if(strchr(args, ';'))
		return cm__propose(ctx, args);
	char *rest = args;
	char *sub = cmd_next_word(&rest);
	const struct subcommand *row = dispatch_find_sub(cm__subs, sub);
	if(row)
		return dispatch_run_sub(ctx, row, rest);
	/* A title alone starts the dialogue at the dates. */
	if(rest > sub + strlen(sub))
		sub[strlen(sub)] = ' ';
	char *title = cm__trim(args);
	if(utf8_length(title) > MEETUP_TITLE_MAX) {
		char max[16];
		text_int(max, sizeof(max), MEETUP_TITLE_MAX);
		return cmd_reply(ctx, "meetup.err.title_long", max, NULL);
	}
	return cm__dialog_start(ctx, title);
}

int cmd_poll(struct cmd_ctx *ctx)
{
	return cm__info(ctx, ctx->args, "meetup.hint.poll");
}

/* ---- /vote ---- */

/* Reads one word of a vote ("2", "1-3", "all", each with "?" or "~" for
 * if-need-be) into answers, one mark per slot of m.  Returns 1 when read,
 * 0 when the user was told it cannot be, -1 on failure. */
static int cm__vote_word(struct cmd_ctx *ctx, const struct db_meetup *m, char *w, char *answers)
{
	size_t len = strlen(w);
	char mark = 'y';
	if(len > 1 && (w[len - 1] == '?' || w[len - 1] == '~')) {
		mark = 'm';
		w[--len] = '\0';
	}
	long lo, hi;
	char *dash = strchr(w, '-');
	if(cm__is(w, WORDS("all", "tout", "toutes", "tous"))) {
		lo = 1; /* "/vote all", "/vote toutes?" */
		hi = m->nslots;
	} else if(dash && dash != w) {
		*dash = '\0';
		if(cm__int(w, 1, 100, &lo) || cm__int(dash + 1, 1, 100, &hi) || hi < lo) {
			*dash = '-';
			return cmd_reply(ctx, "meetup.vote.bad", w, NULL) ? -1 : 0;
		}
	} else if(cm__int(w, 0, 1000000, &lo)) {
		return cmd_reply(ctx, "meetup.vote.bad", w, NULL) ? -1 : 0;
	} else {
		hi = lo;
	}
	if(lo < 1 || hi > m->nslots) {
		char bad[16], n[16], max[16];
		text_int(bad, sizeof(bad), lo < 1 ? lo : hi);
		text_int(n, sizeof(n), m->num);
		text_int(max, sizeof(max), m->nslots);
		return cmd_reply(ctx, "meetup.vote.bad_slot", bad, n, max, NULL) ? -1 : 0;
	}
	for(long i = lo; i <= hi; i++)
		answers[i - 1] = mark;
	return 1;
}

/* Reads "[#ID] FIRST ..." of a vote: the meetup's number into *num (0
 * when none is named) and the first word of the answers into *first.
 * A cmd_result: CMD_USAGE when no answer is given. */
static int cm__vote_args(struct cmd_ctx *ctx, char **args, int *num, char **first)
{
	*num = 0;
	for(char *p = *args; *p; p++)
		if(*p == ',')
			*p = ' ';
	*first = cmd_next_word(args);
	if(!*first)
		return CMD_USAGE;
	if((*first)[0] == '#') {
		if(cm__meetup_num(*first, num)) {
			int rc = cmd_reply(ctx, "meetup.vote.bad", *first, NULL);
			*first = NULL;
			return rc;
		}
		*first = cmd_next_word(args);
		if(!*first)
			return CMD_USAGE;
	}
	return CMD_OK;
}

/* "/vote web": the sender's own link to vote on the chat's web page, for
 * a week, sent privately (it is theirs alone: whoever has it votes as
 * them); the chat hears that it went. */
static int cm__vote_web(struct cmd_ctx *ctx)
{
	struct bot *b = ctx->bot;
	if(!b->web)
		return cmd_reply(ctx, "agenda.off", NULL);
	if(ctx->ev->is_private)
		return cmd_reply(ctx, "meetup.vote.web_private", NULL);
	struct strbuf url = STRBUF_INIT, where = STRBUF_INIT, body = STRBUF_INIT;
	int rc = CMD_ERROR;
	if(b->web->link(b->web_user, BOT_LINK_VOTE, ctx->chat->id, ctx->user_id, &url))
		goto out;
	meetup_chat_name(b, ctx->chat, &where);
	i18n_fmt_raw(&body, cmd_lang(ctx), "meetup.vote.web", 0x2, url.buf, where.buf, NULL);
	if(url.oom || where.oom || body.oom ||
	   !outbox_push(ctx->out, ACTION_SEND_PRIVATE, ctx->ev->platform, ctx->ev->sender_id, body.buf))
		goto out;
	rc = cmd_reply(ctx, "meetup.vote.web_sent", NULL);
out:
	strbuf_release(&url);
	strbuf_release(&where);
	strbuf_release(&body);
	return rc;
}

/* Whether args is the one word "web". */
static bool cm__is_web(const char *args)
{
	args += strspn(args, " \t");
	size_t n = strcspn(args, " \t");
	return n == 3 && !strncasecmp(args, "web", 3) && !args[n + strspn(args + n, " \t")];
}

int cmd_vote(struct cmd_ctx *ctx)
{
	if(cm__is_web(ctx->args))
		return cm__vote_web(ctx);
	struct db_meetup *m = malloc(sizeof(*m));
	char *args = ctx->args, *first;
	char answers[MEETUP_MAX_SLOTS + 1];
	int num, rc = CMD_ERROR;
	if(!m)
		goto out;
	rc = cm__vote_args(ctx, &args, &num, &first);
	if(rc || !first)
		goto out;
	int found = cm__find(ctx, num, MASK_POLL, "meetup.hint.vote", m);
	if(found <= 0) {
		/* A named meetup that is not a poll any more is said so below. */
		rc = found < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	struct meetup_ctx mctx = cm__mctx(ctx);
	if(!strcmp(first, "-")) {
		rc = cmd_next_word(&args) ? CMD_USAGE : meetup_vote(&mctx, m, ctx->user_id, NULL, false);
		goto out;
	}
	memset(answers, 'n', (size_t)m->nslots);
	answers[m->nslots] = '\0';
	for(char *w = first; w; w = cmd_next_word(&args)) {
		int read = cm__vote_word(ctx, m, w, answers);
		if(read <= 0) {
			rc = read < 0 ? CMD_ERROR : CMD_OK;
			goto out;
		}
	}
	rc = meetup_vote(&mctx, m, ctx->user_id, answers, false);
out:
	free(m);
	return rc;
}

/* ---- /rsvp ---- */

/* /rsvp in a private chat with the bot: the meetup num (or the only one)
 * among the upcoming confirmed meetups of the chats the person is a member
 * of.  The answer names the chat and the meetup; several that fit are
 * listed, to be answered in their chat or with their reminder's buttons. */
static int cm__rsvp_elsewhere(struct cmd_ctx *ctx, int num, int answer)
{
	struct db *db = ctx->bot->db;
	struct db_meetup *m = malloc(sizeof(*m));
	struct db_chat *home = malloc(sizeof(*home));
	struct strbuf sb = STRBUF_INIT, where = STRBUF_INIT, when = STRBUF_INIT, done = STRBUF_INIT;
	const char *lang = cmd_lang(ctx);
	int64_t ids[8];
	int count, rc = CMD_ERROR;
	char n[16];
	text_int(n, sizeof(n), num);
	if(!m || !home || db_meetups_of_user(db, ctx->user_id, num, clock_now(), ids, 8, &count))
		goto out;
	if(!count) {
		rc = num ? cmd_reply(ctx, "meetup.rsvp.private_none_num", n, NULL)
		         : cmd_reply(ctx, "meetup.rsvp.private_none", NULL);
		goto out;
	}
	if(count > 1)
		i18n_fmt(&sb, lang, "meetup.rsvp.private_several", NULL);
	for(int i = 0; i < count && i < 8; i++) {
		if(db_meetup_get_by_id(db, ids[i], m) != 1 || db_chat_by_id(db, m->chat_id, home) != 1)
			goto out;
		strbuf_reset(&where);
		meetup_chat_name(ctx->bot, home, &where);
		if(count == 1) {
			struct meetup_ctx mctx = {
				.bot = ctx->bot, .chat = home, .out = ctx->out, .key_base = ctx->ev->message_id
			};
			if(meetup_rsvp(&mctx, m, ctx->user_id, answer, &done))
				goto out;
			i18n_fmt_raw(&sb, lang, "meetup.rsvp.elsewhere", 0x3, where.buf, done.buf, NULL);
			break;
		}
		char k[16];
		text_int(k, sizeof(k), m->num);
		strbuf_reset(&when);
		date_format_slot(&when, lang, home->tz, clock_now(), m->start, m->duration_min);
		strbuf_adds(&sb, "\n• ");
		i18n_fmt_raw(&sb, lang, "meetup.rsvp.private_line", 0x8, k, m->title, when.buf, where.buf, NULL);
	}
	if(count > 1) {
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, lang, "meetup.rsvp.private_how", NULL);
	}
	rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
out:
	free(m);
	free(home);
	strbuf_release(&sb);
	strbuf_release(&where);
	strbuf_release(&when);
	strbuf_release(&done);
	return rc;
}

int cmd_rsvp(struct cmd_ctx *ctx)
{
	struct db_meetup *m = malloc(sizeof(*m));
	char *args = ctx->args;
	int rc = CMD_ERROR;
	if(!m)
		goto out;
	int num = cm__opt_num(&args);
	char *word = cmd_next_word(&args), *more = cmd_next_word(&args);
	/* "peut être", as often typed without its hyphen. */
	bool peut_etre = more && cm__is(word, WORDS("peut")) && cm__is(more, WORDS("etre"));
	if(!word || (more && !peut_etre) || cmd_next_word(&args)) {
		rc = CMD_USAGE;
		goto out;
	}
	int answer;
	if(cm__is(word, WORDS("yes", "oui", "y", "o", "ok")))
		answer = 2;
	else if(peut_etre || cm__is(word, WORDS("maybe", "peut-etre", "peutetre", "pe", "?")))
		answer = 1;
	else if(cm__is(word, WORDS("no", "non", "n")))
		answer = 0;
	else {
		rc = CMD_USAGE;
		goto out;
	}
	/* In a private chat, the meetups of the person's chats: a private
	 * reminder is answered where it is read. */
	if(ctx->ev->is_private) {
		int nums[1], count;
		if(db_meetup_list(ctx->bot->db, ctx->chat->id, MASK_CONFIRMED, clock_now(), nums, 1, &count))
			goto out;
		if(!count) {
			rc = cm__rsvp_elsewhere(ctx, num, answer);
			goto out;
		}
	}
	int found = cm__find(ctx, num, MASK_CONFIRMED, "meetup.hint.rsvp", m);
	if(found <= 0) {
		rc = found < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	char n[16];
	text_int(n, sizeof(n), m->num);
	if(m->state == MEETUP_POLL) {
		rc = cmd_reply(ctx, "meetup.rsvp.not_confirmed", n, NULL);
		goto out;
	}
	if(m->state != MEETUP_CONFIRMED || (time_t)(m->start + m->duration_min * 60) <= clock_now()) {
		rc = cmd_reply(ctx, "meetup.rsvp.over", n, NULL);
		goto out;
	}
	struct meetup_ctx mctx = cm__mctx(ctx);
	rc = meetup_rsvp(&mctx, m, ctx->user_id, answer, NULL);
out:
	free(m);
	return rc;
}
