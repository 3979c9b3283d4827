/*
 * Peer groups: /interest, /interests, /group (new, join, leave, list, info,
 * split, contact, close), /mygroups, /config, and the privacy commands
 * /forget me and /export me.
 */
#include "bot/commands.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot/bot.h"
#include "bot/dates.h"
#include "bot/i18n.h"
#include "bot/meetup.h"
#include "bot/page.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "group"

#define TOPIC_MAX 100 /* characters */
#define GROUP_NAME_MAX 60
#define GROUP_MAX_MEMBERS 1000
#define FORGET_TTL_MS (5LL * 60 * 1000)

static bool cg__is(const char *w, const char *a, const char *b)
{
	struct strbuf f = STRBUF_INIT;
	text_fold(&f, w);
	bool yes = !strcmp(f.buf, a) || (b && !strcmp(f.buf, b));
	strbuf_release(&f);
	return yes;
}

static char *cg__trim(char *s)
{
	while(*s == ' ')
		s++;
	size_t n = strlen(s);
	while(n && s[n - 1] == ' ')
		s[--n] = '\0';
	return s;
}

/* ---- interests ---- */

/* The closest other topic (at most 3 edits, or one containing the other),
 * or -1. */
static int cg__near_topic(const struct db_topic *t, int n, const char *key)
{
	int best = -1;
	size_t best_d = 4;
	for(int i = 0; i < n; i++) {
		if(!strcmp(t[i].key, key))
			continue;
		size_t d = text_distance(t[i].key, key, 3);
		if(d > 3 && strlen(key) >= 4 && (strstr(t[i].key, key) || strstr(key, t[i].key)))
			d = 3;
		if(d < best_d) {
			best_d = d;
			best = i;
		}
	}
	return best;
}

/* The threshold, once per topic: mentions everyone interested in the
 * topic mine (counted in count) and offers the one command that makes
 * the group.  0 or -1. */
static int cg__interest_alert(struct cmd_ctx *ctx, const struct db_topic *mine, const char *count)
{
	struct db *db = ctx->bot->db;
	struct db_people people = { 0 };
	struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT;
	int rc = -1;
	int first = db_interest_alert(db, ctx->chat->id, mine->key);
	if(first <= 0) {
		rc = first;
		goto out;
	}
	if(db_interest_people(db, ctx->chat->id, mine->key, &people))
		goto out;
	for(size_t i = 0; i < people.n; i++) {
		if(i)
			strbuf_adds(&who, ", ");
		meetup_mention(&who, &people.v[i]);
	}
	i18n_fmt_raw(&sb, cmd_lang(ctx), "interest.threshold", 0x4, mine->topic, count, who.buf, NULL);
	rc = sb.oom || cmd_send_text(ctx, sb.buf) ? -1 : 0;
out:
	db_people_release(&people);
	strbuf_release(&sb);
	strbuf_release(&who);
	return rc;
}

/* Every topic of the chat, in *topics (malloc'd, the caller frees it),
 * *n of them.  0 or -1. */
static int cg__all_topics(struct cmd_ctx *ctx, struct db_topic **topics, int *n)
{
	struct db *db = ctx->bot->db;
	int total;
	*topics = NULL;
	if(db_interest_topics(db, ctx->chat->id, 0, NULL, 0, n, &total) ||
	   !(*topics = malloc((size_t)(total ? total : 1) * sizeof(**topics))) ||
	   db_interest_topics(db, ctx->chat->id, 0, *topics, total, n, &total))
		return -1;
	return 0;
}

int cmd_interest(struct cmd_ctx *ctx)
{
	const char *lang = cmd_lang(ctx);
	char *args = ctx->args;
	bool withdraw = false;
	if(args[0] == '-' && (args[1] == ' ' || args[1] == '\0')) {
		withdraw = true;
		args = cg__trim(args + 1);
	}
	if(!*args)
		return CMD_USAGE;
	if(utf8_length(args) > TOPIC_MAX) {
		char max[16];
		text_int(max, sizeof(max), TOPIC_MAX);
		return cmd_reply(ctx, "interest.too_long", max, NULL);
	}
	struct strbuf key = STRBUF_INIT;
	text_fold(&key, args);
	struct db_topic *topics = NULL;
	struct strbuf sb = STRBUF_INIT;
	int n, rc = CMD_ERROR;
	int changed = db_interest_set(ctx->bot->db, ctx->chat->id, key.buf, args, ctx->user_id, !withdraw);
	/* Every topic: the user's own count, and the near ones to suggest. */
	if(changed < 0 || cg__all_topics(ctx, &topics, &n))
		goto out;
	const struct db_topic *mine = NULL;
	for(int i = 0; i < n; i++)
		if(!strcmp(topics[i].key, key.buf))
			mine = &topics[i];
	char count[16];
	text_int(count, sizeof(count), mine ? mine->count : 0);
	const char *shown = mine ? mine->topic : args;
	if(withdraw) {
		rc = cmd_reply(ctx, changed ? "interest.withdrawn" : "interest.not_in", shown, NULL);
		goto out;
	}
	i18n_fmt(&sb, lang, changed ? "interest.noted" : "interest.already", shown, count, NULL);
	/* A near topic someone else typed: say so, the user may prefer it. */
	int near = mine && mine->count == 1 ? cg__near_topic(topics, n, key.buf) : -1;
	if(near >= 0) {
		char c2[16];
		text_int(c2, sizeof(c2), topics[near].count);
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, lang, "interest.near", topics[near].topic, c2, shown, NULL);
	}
	if(sb.oom || cmd_reply_text(ctx, sb.buf))
		goto out;
	if(changed && mine && mine->count >= ctx->chat->interest_threshold && cg__interest_alert(ctx, mine, count))
		goto out;
	rc = CMD_OK;
out:
	free(topics);
	strbuf_release(&key);
	strbuf_release(&sb);
	return rc;
}

/* "/interests [PAGE]". */
int cmd_interests(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	char *word = cmd_next_word(&args);
	struct page pg;
	if(page_parse(word, &pg) || cmd_next_word(&args))
		return CMD_USAGE;
	struct db_topic *topics = malloc(PAGE_SIZE * sizeof(*topics));
	struct strbuf sb = STRBUF_INIT;
	struct db_people people = { 0 };
	int n, total, rc = CMD_ERROR;
	if(!topics || db_interest_topics(ctx->bot->db, ctx->chat->id, pg.offset, topics, pg.size, &n, &total))
		goto out;
	if(!total) {
		rc = cmd_reply(ctx, "interest.none", NULL);
		goto out;
	}
	if(page_past_end(&pg, total)) {
		page_no_page(&sb, cmd_lang(ctx), &pg, total);
		rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
		goto out;
	}
	i18n_fmt(&sb, cmd_lang(ctx), "interest.header", NULL);
	for(int i = 0; i < n; i++) {
		people.n = 0;
		if(db_interest_people(ctx->bot->db, ctx->chat->id, topics[i].key, &people))
			goto out;
		struct strbuf names = STRBUF_INIT;
		char count[16];
		text_int(count, sizeof(count), topics[i].count);
		for(size_t k = 0; k < people.n; k++) {
			if(k)
				strbuf_adds(&names, ", ");
			strbuf_add_html(&names, people.v[k].name);
		}
		strbuf_adds(&sb, "\n• ");
		i18n_fmt_raw(&sb, cmd_lang(ctx), "interest.line", 0x4, topics[i].topic, count, names.buf, NULL);
		strbuf_release(&names);
	}
	page_footer(&sb, cmd_lang(ctx), "interest.more", &pg, n, total);
	rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
out:
	free(topics);
	db_people_release(&people);
	strbuf_release(&sb);
	return rc;
}

int cmd_config(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	char *key = cmd_next_word(&args);
	char *value = cmd_next_word(&args);
	if(!key || !cg__is(key, "interest-threshold", "seuil-envie"))
		return CMD_USAGE;
	char cur[16];
	if(!value) {
		text_int(cur, sizeof(cur), ctx->chat->interest_threshold);
		return cmd_reply(ctx, "config.threshold", cur, NULL);
	}
	char *end;
	long n = strtol(value, &end, 10);
	if(*end || n < 2 || n > 100 || cmd_next_word(&args))
		return cmd_reply(ctx, "config.bad_threshold", value, NULL);
	if(db_chat_set_interest_threshold(ctx->bot->db, ctx->chat->id, (int)n))
		return CMD_ERROR;
	ctx->chat->interest_threshold = (int)n;
	text_int(cur, sizeof(cur), n);
	return cmd_reply(ctx, "config.threshold", cur, NULL);
}

/* ---- groups ---- */

/* Finds the open group called name; replies when there is none. */
static int cg__group(struct cmd_ctx *ctx, const char *name, struct db_group *g)
{
	struct strbuf key = STRBUF_INIT;
	text_fold(&key, name);
	int found = db_group_find(ctx->bot->db, ctx->chat->id, key.buf, g);
	strbuf_release(&key);
	if(found == 0 && cmd_reply(ctx, "group.not_found", name, NULL))
		return -1;
	return found;
}

/* Loads the open group called name and its members: 1, 0 when the user was
 * told there is none, -1. */
static int cg__load(struct cmd_ctx *ctx, const char *name, struct db_group *g, struct db_people *m)
{
	int found = cg__group(ctx, name, g);
	if(found <= 0)
		return found;
	return db_group_members(ctx->bot->db, g->id, m) ? -1 : 1;
}

static const struct db_person *cg__find_person(const struct db_people *p, int64_t user_id)
{
	for(size_t i = 0; i < p->n; i++)
		if(p->v[i].user_id == user_id)
			return &p->v[i];
	return NULL;
}

static size_t cg__count(const struct db_people *p, bool waiting)
{
	size_t n = 0;
	for(size_t i = 0; i < p->n; i++)
		n += p->v[i].waiting == waiting;
	return n;
}

/* The options of "/group new NAME --topic TEXT --max N --interest TOPIC". */
struct cg_new_opts {
	char *topic, *interest;
	long max; /* 0: no cap */
};

/* Reads the options starting at opts (" --...", cut off the name).
 * Returns true when read; false when not, with the cmd_result in *rc
 * (CMD_USAGE, or the refusal of a bad --max sent). */
static bool cg__new_options(struct cmd_ctx *ctx, char *opts, struct cg_new_opts *o, int *rc)
{
	*opts = '\0';
	char *p = opts + 1;
	while(p && *p) {
		char *next = strstr(p + 2, " --");
		if(next)
			*next = '\0';
		if(!strncmp(p, "--topic ", 8) || !strncmp(p, "--sujet ", 8)) {
			o->topic = cg__trim(p + 8);
		} else if(!strncmp(p, "--max ", 6)) {
			char *end;
			o->max = strtol(p + 6, &end, 10);
			if(*cg__trim(end) || o->max < 1 || o->max > GROUP_MAX_MEMBERS) {
				*rc = cmd_reply(ctx, "group.bad_max", cg__trim(p + 6), "1000", NULL);
				return false;
			}
		} else if(!strncmp(p, "--interest ", 11) || !strncmp(p, "--envie ", 8)) {
			o->interest = cg__trim(p + (p[2] == 'i' ? 11 : 8));
		} else {
			*rc = CMD_USAGE;
			return false;
		}
		p = next ? next + 1 : NULL;
	}
	return true;
}

/* Everyone interested in interest joins the new group g (up to its cap;
 * the rest wait), its creator aside; counted in *added and *waiting.
 * 0 or -1. */
static int cg__add_interested(struct cmd_ctx *ctx, const struct db_group *g, const char *interest, size_t *added,
                              size_t *waiting)
{
	struct db *db = ctx->bot->db;
	struct strbuf ikey = STRBUF_INIT;
	struct db_people people = { 0 };
	int rc = -1;
	text_fold(&ikey, interest);
	if(db_interest_people(db, ctx->chat->id, ikey.buf, &people))
		goto out;
	size_t in = 1;
	for(size_t i = 0; i < people.n; i++) {
		if(people.v[i].user_id == ctx->user_id)
			continue;
		bool wait = g->max_members && in >= (size_t)g->max_members;
		in += !wait;
		if(db_group_member_set(db, g->id, people.v[i].user_id, false, wait))
			goto out;
		*added += !wait;
		*waiting += wait;
	}
	rc = 0;
out:
	strbuf_release(&ikey);
	db_people_release(&people);
	return rc;
}

/* Reads "NAME [--topic TEXT] [--max N] [--interest TOPIC]". */
static int cg__new(struct cmd_ctx *ctx, char *args)
{
	struct db *db = ctx->bot->db;
	char *opts = strstr(args, " --");
	struct cg_new_opts o = { 0 };
	int rc = CMD_ERROR;
	if(!strncmp(args, "--", 2))
		return CMD_USAGE;
	if(opts && !cg__new_options(ctx, opts, &o, &rc))
		return rc;
	char *name = cg__trim(args);
	if(!*name)
		return CMD_USAGE;
	if(utf8_length(name) > GROUP_NAME_MAX) {
		char m[16];
		text_int(m, sizeof(m), GROUP_NAME_MAX);
		return cmd_reply(ctx, "group.name_long", m, NULL);
	}
	struct strbuf key = STRBUF_INIT;
	struct db_group g = { .chat_id = ctx->chat->id, .max_members = (int)o.max };
	text_fold(&key, name);
	struct db_group other;
	int taken = db_group_find(db, ctx->chat->id, key.buf, &other);
	if(taken < 0)
		goto out;
	if(taken) {
		rc = cmd_reply(ctx, "group.taken", other.name, NULL);
		goto out;
	}
	text_copy(g.name, sizeof(g.name), name);
	text_copy(g.topic, sizeof(g.topic), o.topic ? o.topic : o.interest ? o.interest : "");
	if(db_group_insert(db, &g, key.buf) || db_group_member_set(db, g.id, ctx->user_id, true, false))
		goto out;
	size_t added = 0, waiting = 0;
	if(o.interest && cg__add_interested(ctx, &g, o.interest, &added, &waiting))
		goto out;
	char n[24], w[24];
	snprintf(n, sizeof(n), "%zu", added + 1);
	snprintf(w, sizeof(w), "%zu", waiting);
	rc = waiting ? cmd_reply(ctx, "group.created_waiting", g.name, n, w, NULL)
	             : cmd_reply(ctx, "group.created", g.name, n, NULL);
out:
	strbuf_release(&key);
	return rc;
}

static int cg__join(struct cmd_ctx *ctx, char *name)
{
	struct db_group g;
	struct db_people m = { 0 };
	int rc = CMD_ERROR, found = cg__load(ctx, name, &g, &m);
	if(found <= 0) {
		rc = found < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	const struct db_person *me = cg__find_person(&m, ctx->user_id);
	if(me) {
		rc = cmd_reply(ctx, me->waiting ? "group.already_waiting" : "group.already", g.name, NULL);
		goto out;
	}
	size_t in = cg__count(&m, false);
	bool full = g.max_members && in >= (size_t)g.max_members;
	if(db_group_member_set(ctx->bot->db, g.id, ctx->user_id, false, full))
		goto out;
	char n[24], max[16];
	if(full) {
		snprintf(n, sizeof(n), "%zu", cg__count(&m, true) + 1);
		rc = cmd_reply(ctx, "group.waiting", g.name, n, NULL);
	} else {
		snprintf(n, sizeof(n), "%zu", in + 1);
		text_int(max, sizeof(max), g.max_members);
		rc = g.max_members ? cmd_reply(ctx, "group.joined_max", g.name, n, max, NULL)
		                   : cmd_reply(ctx, "group.joined", g.name, n, NULL);
	}
out:
	db_people_release(&m);
	return rc;
}

/* Moves the first one waiting in, and tells them. */
static int cg__promote(struct cmd_ctx *ctx, const struct db_group *g, const struct db_people *m)
{
	for(size_t i = 0; i < m->n; i++) {
		if(!m->v[i].waiting)
			continue;
		if(db_group_member_set(ctx->bot->db, g->id, m->v[i].user_id, false, false))
			return -1;
		struct strbuf sb = STRBUF_INIT, who = STRBUF_INIT;
		meetup_mention(&who, &m->v[i]);
		i18n_fmt_raw(&sb, cmd_lang(ctx), "group.promoted", 0x1, who.buf, g->name, NULL);
		int rc = sb.oom ? -1 : cmd_send_text(ctx, sb.buf);
		strbuf_release(&sb);
		strbuf_release(&who);
		return rc;
	}
	return 0;
}

static int cg__leave(struct cmd_ctx *ctx, char *name)
{
	struct db_group g;
	struct db_people m = { 0 };
	int rc = CMD_ERROR, found = cg__load(ctx, name, &g, &m);
	if(found <= 0) {
		rc = found < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	const struct db_person *me = cg__find_person(&m, ctx->user_id);
	if(!me) {
		rc = cmd_reply(ctx, "group.not_member", g.name, NULL);
		goto out;
	}
	bool was_in = !me->waiting;
	if(db_group_member_remove(ctx->bot->db, g.id, ctx->user_id))
		goto out;
	rc = cmd_reply(ctx, "group.left", g.name, NULL);
	if(!rc && was_in && g.max_members && cg__promote(ctx, &g, &m))
		rc = CMD_ERROR;
out:
	db_people_release(&m);
	return rc;
}

/* Appends " — next: WHEN, TITLE" for the group's next confirmed meetup. */
static int cg__next_meetup(struct cmd_ctx *ctx, const struct db_group *g, struct strbuf *sb)
{
	int num;
	int found = db_group_next_meetup(ctx->bot->db, g, clock_now(), &num);
	if(found <= 0)
		return found;
	struct db_meetup *mt = malloc(sizeof(*mt));
	if(!mt || db_meetup_get(ctx->bot->db, g->chat_id, num, mt) != 1) {
		free(mt);
		return -1;
	}
	struct strbuf when = STRBUF_INIT;
	struct db_chat chat;
	const char *tz = db_chat_by_id(ctx->bot->db, g->chat_id, &chat) == 1 ? chat.tz : ctx->chat->tz;
	date_format_when(&when, cmd_lang(ctx), tz, clock_now(), mt->start);
	strbuf_adds(sb, " — ");
	i18n_fmt(sb, cmd_lang(ctx), "group.list_next", when.buf, mt->title, NULL);
	strbuf_release(&when);
	free(mt);
	return 0;
}

/* "/group list [PAGE]". */
static int cg__list(struct cmd_ctx *ctx, const struct page *pg)
{
	struct db_group *g = malloc(PAGE_SIZE * sizeof(*g));
	struct strbuf sb = STRBUF_INIT;
	struct db_people m = { 0 };
	const char *lang = cmd_lang(ctx);
	int n, total, rc = CMD_ERROR;
	if(!g || db_group_list(ctx->bot->db, ctx->chat->id, pg->offset, g, pg->size, &n, &total))
		goto out;
	if(!total) {
		rc = cmd_reply(ctx, "group.none", NULL);
		goto out;
	}
	if(page_past_end(pg, total)) {
		page_no_page(&sb, lang, pg, total);
		rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
		goto out;
	}
	i18n_fmt(&sb, lang, "group.list_header", NULL);
	for(int i = 0; i < n; i++) {
		m.n = 0;
		if(db_group_members(ctx->bot->db, g[i].id, &m))
			goto out;
		strbuf_adds(&sb, "\n• <b>");
		strbuf_add_html(&sb, g[i].name);
		strbuf_adds(&sb, "</b>");
		if(g[i].topic[0]) {
			strbuf_adds(&sb, " — ");
			strbuf_add_html(&sb, g[i].topic);
		}
		strbuf_addf(&sb, " (%zu", cg__count(&m, false));
		if(g[i].max_members)
			strbuf_addf(&sb, "/%d", g[i].max_members);
		strbuf_addc(&sb, ')');
		size_t w = cg__count(&m, true);
		if(w) {
			char nw[24];
			snprintf(nw, sizeof(nw), "%zu", w);
			strbuf_adds(&sb, " ");
			i18n_fmt(&sb, lang, "group.list_waiting", nw, NULL);
		}
		if(cg__next_meetup(ctx, &g[i], &sb))
			goto out;
	}
	page_footer(&sb, lang, "group.list_more", pg, n, total);
	rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
out:
	free(g);
	db_people_release(&m);
	strbuf_release(&sb);
	return rc;
}

static void cg__names(struct strbuf *sb, const struct db_people *m, int which)
{
	/* which: 0 members, 1 contacts, 2 waiting */
	size_t k = 0;
	for(size_t i = 0; i < m->n; i++) {
		bool take = which == 2 ? m->v[i].waiting : which == 1 ? m->v[i].answer == 1 : !m->v[i].waiting;
		if(!take)
			continue;
		if(k++)
			strbuf_adds(sb, ", ");
		strbuf_add_html(sb, m->v[i].name);
	}
}

static int cg__info(struct cmd_ctx *ctx, char *name)
{
	struct db_group g;
	struct db_people m = { 0 };
	struct strbuf sb = STRBUF_INIT, names = STRBUF_INIT;
	const char *lang = cmd_lang(ctx);
	int rc = CMD_ERROR, found = cg__load(ctx, name, &g, &m);
	if(found <= 0) {
		rc = found < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	strbuf_adds(&sb, "<b>");
	strbuf_add_html(&sb, g.name);
	strbuf_adds(&sb, "</b>");
	if(g.topic[0]) {
		strbuf_adds(&sb, " — ");
		strbuf_add_html(&sb, g.topic);
	}
	char n[24], max[16];
	snprintf(n, sizeof(n), "%zu", cg__count(&m, false));
	text_int(max, sizeof(max), g.max_members);
	cg__names(&names, &m, 0);
	strbuf_addc(&sb, '\n');
	if(g.max_members)
		i18n_fmt_raw(&sb, lang, "group.info_members_max", 0x4, n, max, names.buf, NULL);
	else
		i18n_fmt_raw(&sb, lang, "group.info_members", 0x2, n, names.buf, NULL);
	strbuf_reset(&names);
	cg__names(&names, &m, 1);
	strbuf_addc(&sb, '\n');
	/* The last one left or was forgotten: say so, and how to name one. */
	if(names.len)
		i18n_fmt_raw(&sb, lang, "group.info_contacts", 0x1, names.buf, NULL);
	else
		i18n_fmt(&sb, lang, "group.info_no_contacts", g.name, NULL);
	if(cg__count(&m, true)) {
		strbuf_reset(&names);
		cg__names(&names, &m, 2);
		strbuf_addc(&sb, '\n');
		i18n_fmt_raw(&sb, lang, "group.info_waiting", 0x1, names.buf, NULL);
	}
	/* Its upcoming meetups, all of them: a group has a few at a time. */
	struct db_meetup_line *lines;
	int count, total;
	if(db_meetup_lines(ctx->bot->db, ctx->chat->id, g.id, clock_now(), 0, INT_MAX, &lines, &count, &total))
		goto out;
	struct meetup_ctx mctx = { .bot = ctx->bot, .chat = ctx->chat, .out = ctx->out };
	for(int i = 0; i < count; i++) {
		if(!i) {
			strbuf_addc(&sb, '\n');
			i18n_fmt(&sb, lang, "group.info_meetups", NULL);
		}
		meetup_format_line(&mctx, &lines[i], &sb);
	}
	free(lines);
	rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
out:
	db_people_release(&m);
	strbuf_release(&sb);
	strbuf_release(&names);
	return rc;
}

/* The resolver of "/group contact NAME [-]@user": the group NAME and its
 * members; *args is left at "[-]@user". */
static int cg__contact_find(struct cmd_ctx *ctx, char **args, struct cmd_object *obj)
{
	char *at = strrchr(*args, ' ');
	if(!at)
		return CMD_USAGE;
	*at = '\0';
	char *who = at + 1;
	char *name = cg__trim(*args);
	*args = who;
	if(*who == '-')
		who++;
	if(*who == '@')
		who++;
	if(!*who || !*name)
		return CMD_USAGE;
	int found = cg__load(ctx, name, &obj->group, &obj->members);
	obj->found = found > 0;
	return found < 0 ? CMD_ERROR : CMD_OK;
}

/* "/group contact NAME @user" adds, "-@user" removes, once the group is
 * found and the sender may (args: "[-]@user"). */
static int cg__contact(struct cmd_ctx *ctx, char *args)
{
	const struct db_group *g = &ctx->obj->group;
	const struct db_people *m = &ctx->obj->members;
	bool remove = *args == '-';
	char *who = args + remove;
	if(*who == '@')
		who++;
	int rc = CMD_ERROR;
	int64_t uid;
	char uname[128];
	int known = db_user_find(ctx->bot->db, ctx->ev->platform, who, &uid, uname, sizeof(uname));
	if(known < 0)
		goto out;
	if(!known) {
		rc = cmd_reply(ctx, "group.unknown_user", who, NULL);
		goto out;
	}
	const struct db_person *p = cg__find_person(m, uid);
	if(remove) {
		if(!p || p->answer != 1) {
			rc = cmd_reply(ctx, "group.not_contact", uname, g->name, NULL);
			goto out;
		}
		size_t contacts = 0;
		for(size_t i = 0; i < m->n; i++)
			contacts += m->v[i].answer == 1;
		if(contacts == 1) {
			rc = cmd_reply(ctx, "group.last_contact", uname, g->name, NULL);
			goto out;
		}
		rc = db_group_member_set(ctx->bot->db, g->id, uid, false, p->waiting)
		             ? CMD_ERROR
		             : cmd_reply(ctx, "group.contact_removed", uname, g->name, NULL);
		goto out;
	}
	/* A contact person speaks for the group, so they must be in it: naming
	 * someone never makes them a member (they may have left on purpose),
	 * and someone waiting for a place is not in it yet. */
	if(!p || p->waiting) {
		rc = cmd_reply(ctx, p ? "group.contact_waiting" : "group.contact_not_member", uname, g->name, NULL);
		goto out;
	}
	if(p->answer == 1) {
		rc = cmd_reply(ctx, "group.already_contact", uname, g->name, NULL);
		goto out;
	}
	rc = db_group_member_set(ctx->bot->db, g->id, uid, true, false)
	             ? CMD_ERROR
	             : cmd_reply(ctx, "group.contact_added", uname, g->name, NULL);
out:
	return rc;
}

/* The resolver of the sub-commands that name a group by all their words
 * (close, split): the open group and its members. */
static int cg__named_find(struct cmd_ctx *ctx, char **args, struct cmd_object *obj)
{
	int found = cg__load(ctx, *args, &obj->group, &obj->members);
	obj->found = found > 0;
	return found < 0 ? CMD_ERROR : CMD_OK;
}

static int cg__close(struct cmd_ctx *ctx, char *name)
{
	const struct db_group *g = &ctx->obj->group;
	(void)name;
	return db_group_close(ctx->bot->db, g->id) ? CMD_ERROR : cmd_reply(ctx, "group.closed", g->name, NULL);
}

/* Proposes a second group made of the waiting list. */
static int cg__split(struct cmd_ctx *ctx, char *name)
{
	struct db *db = ctx->bot->db;
	const struct db_group *g = &ctx->obj->group;
	const struct db_people *m = &ctx->obj->members;
	struct strbuf key = STRBUF_INIT, who = STRBUF_INIT, sb = STRBUF_INIT;
	int rc = CMD_ERROR;
	(void)name;
	size_t waiting = 0;
	for(size_t i = 0; i < m->n; i++)
		waiting += m->v[i].waiting;
	if(waiting < 2) {
		rc = cmd_reply(ctx, "group.split_few", g->name, NULL);
		goto out;
	}
	/* The new group: "NAME 2" (or 3, ...), same topic and cap. */
	struct db_group ng = { .chat_id = g->chat_id, .max_members = g->max_members };
	text_copy(ng.topic, sizeof(ng.topic), g->topic);
	for(int k = 2; k < 100; k++) {
		snprintf(ng.name, sizeof(ng.name), "%.200s %d", g->name, k);
		strbuf_reset(&key);
		text_fold(&key, ng.name);
		struct db_group other;
		int taken = db_group_find(db, g->chat_id, key.buf, &other);
		if(taken < 0)
			goto out;
		if(!taken)
			break;
	}
	if(db_group_insert(db, &ng, key.buf))
		goto out;
	bool first = true;
	size_t moved = 0;
	for(size_t i = 0; i < m->n; i++) {
		/* Everyone waiting moves, a contact person too: earlier versions
		 * could put one on the waiting list (/group contact), and
		 * leaving them there would keep them out for good. */
		if(!m->v[i].waiting)
			continue;
		bool wait = ng.max_members && moved >= (size_t)ng.max_members;
		/* The first one moved becomes its contact person. */
		if(db_group_member_remove(db, g->id, m->v[i].user_id) ||
		   db_group_member_set(db, ng.id, m->v[i].user_id, first, wait))
			goto out;
		if(moved++)
			strbuf_adds(&who, ", ");
		meetup_mention(&who, &m->v[i]);
		first = false;
	}
	char n[16];
	snprintf(n, sizeof(n), "%zu", moved);
	i18n_fmt_raw(&sb, cmd_lang(ctx), "group.split", 0x8, g->name, ng.name, n, who.buf, NULL);
	rc = sb.oom ? CMD_ERROR : cmd_send_text(ctx, sb.buf);
out:
	strbuf_release(&key);
	strbuf_release(&who);
	strbuf_release(&sb);
	return rc;
}

static int cg__list_sub(struct cmd_ctx *ctx, char *args)
{
	struct page pg;
	char *word = cmd_next_word(&args);
	if(page_parse(word, &pg) || cmd_next_word(&args))
		return CMD_USAGE;
	return cg__list(ctx, &pg);
}

#define NAMES(...) \
	(const char *const[]) \
	{ \
		__VA_ARGS__, NULL \
	}

/* /group's sub-commands.  Those that manage a group are its contact
 * persons' and the admins': their resolver finds the group and its
 * members before the dispatcher checks who may. */
/* clang-format off: a table reads best one row to a line */
static const struct subcommand cg__subs[] = {
	{ .name = "list", .aliases = NAMES("liste"), .perm = PERM_ANYONE, .handler = cg__list_sub },
	{ .name = "new",
	  .aliases = NAMES("nouveau", "creer", "create"),
	  .min_words = 1,
	  .perm = PERM_ANYONE,
	  .handler = cg__new },
	{ .name = "join", .aliases = NAMES("rejoindre"), .min_words = 1, .perm = PERM_ANYONE, .handler = cg__join },
	{ .name = "leave", .aliases = NAMES("quitter"), .min_words = 1, .perm = PERM_ANYONE, .handler = cg__leave },
	{ .name = "info", .aliases = NAMES("infos"), .min_words = 1, .perm = PERM_ANYONE, .handler = cg__info },
	{ .name = "contact",
	  .min_words = 1,
	  .perm = PERM_GROUP_CONTACT,
	  .resolve = cg__contact_find,
	  .handler = cg__contact },
	{ .name = "close",
	  .aliases = NAMES("fermer"),
	  .min_words = 1,
	  .perm = PERM_GROUP_CONTACT,
	  .resolve = cg__named_find,
	  .handler = cg__close },
	{ .name = "split",
	  .aliases = NAMES("diviser"),
	  .min_words = 1,
	  .perm = PERM_GROUP_CONTACT,
	  .resolve = cg__named_find,
	  .handler = cg__split },
	{ .name = NULL },
};
/* clang-format on */

int cmd_group(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	char *sub = cmd_next_word(&args);
	if(!sub)
		return CMD_USAGE;
	args = cg__trim(args);
	const struct subcommand *row = dispatch_find_sub(cg__subs, sub);
	if(!row)
		return CMD_USAGE;
	return dispatch_run_sub(ctx, row, args);
}

/* "/mygroups [PAGE]". */
int cmd_mygroups(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	char *word = cmd_next_word(&args);
	struct page pg;
	if(page_parse(word, &pg) || cmd_next_word(&args))
		return CMD_USAGE;
	struct db_group *g = malloc(PAGE_SIZE * sizeof(*g));
	struct strbuf sb = STRBUF_INIT;
	const char *lang = cmd_lang(ctx);
	int n, total, rc = CMD_ERROR;
	if(!g || db_user_groups(ctx->bot->db, ctx->user_id, pg.offset, g, pg.size, &n, &total))
		goto out;
	if(!total) {
		rc = cmd_reply(ctx, "mygroups.none", NULL);
		goto out;
	}
	if(page_past_end(&pg, total)) {
		page_no_page(&sb, lang, &pg, total);
		rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
		goto out;
	}
	i18n_fmt(&sb, lang, "mygroups.header", NULL);
	for(int i = 0; i < n; i++) {
		struct db_chat chat;
		if(db_chat_by_id(ctx->bot->db, g[i].chat_id, &chat) != 1)
			continue;
		strbuf_adds(&sb, "\n• <b>");
		strbuf_add_html(&sb, g[i].name);
		strbuf_adds(&sb, "</b> (");
		/* The chat's name where the platform has one (a Matrix room's id
		 * means nothing to its members). */
		char title[256];
		int named = db_chat_title(ctx->bot->db, chat.id, title, sizeof(title));
		if(named < 0)
			goto out;
		strbuf_add_html(&sb, named ? title : chat.ext_id);
		strbuf_addc(&sb, ')');
		if(cg__next_meetup(ctx, &g[i], &sb))
			goto out;
	}
	page_footer(&sb, lang, "mygroups.more", &pg, n, total);
	rc = sb.oom ? CMD_ERROR : cmd_reply_text(ctx, sb.buf);
out:
	free(g);
	strbuf_release(&sb);
	return rc;
}

/* ---- privacy ---- */

/* Gives the places freed in the chat's capped groups to those waiting. */
static int cg__fill_groups(struct cmd_ctx *ctx)
{
	struct db *db = ctx->bot->db;
	struct db_group *g = malloc(PAGE_SIZE * sizeof(*g));
	struct db_people m = { 0 };
	int count, total = 1, rc = -1;
	if(!g)
		goto out;
	for(int offset = 0; offset < total; offset += count) {
		if(db_group_list(db, ctx->chat->id, offset, g, PAGE_SIZE, &count, &total))
			goto out;
		if(!count)
			break;
		for(int i = 0; i < count; i++) {
			if(!g[i].max_members)
				continue;
			m.n = 0;
			if(db_group_members(db, g[i].id, &m))
				goto out;
			size_t in = cg__count(&m, false);
			while(in < (size_t)g[i].max_members && cg__count(&m, true)) {
				if(cg__promote(ctx, &g[i], &m))
					goto out;
				in++;
				m.n = 0;
				if(db_group_members(db, g[i].id, &m))
					goto out;
			}
		}
	}
	rc = 0;
out:
	free(g);
	db_people_release(&m);
	return rc;
}

/* The meetups where someone has a place (a yes not waiting), by #num. */
struct cg_places {
	int *nums;
	size_t n, alloc;
};

static int cg__place_row(void *user, const struct db_export_row *r)
{
	struct cg_places *p = user;
	if(r->answer != 2 || r->waiting)
		return 0;
	if(p->n == p->alloc) {
		size_t alloc = p->alloc ? 2 * p->alloc : 8;
		int *v = realloc(p->nums, alloc * sizeof(*v));
		if(!v)
			return -1;
		p->nums = v;
		p->alloc = alloc;
	}
	p->nums[p->n++] = (int)r->num;
	return 0;
}

/* Forgets the sender in the chat, after their confirmation. */
static int cg__forget(struct cmd_ctx *ctx)
{
	struct db *db = ctx->bot->db;
	struct cg_places places = { 0 };
	struct db_meetup *mt = malloc(sizeof(*mt));
	int rc = CMD_ERROR;
	/* The places they leave in capped meetups, read before they go. */
	if(!mt || db_export_each(db, DB_EXPORT_RSVPS, ctx->chat->id, ctx->user_id, cg__place_row, &places))
		goto out;
	/* Everything of theirs in the chat, their dialogue (this confirmation)
	 * included, and what waits in the outbox for them privately (an
	 * export, a private reminder): nothing names them afterwards, and
	 * when they speak again they are someone new. */
	int c[DB_FORGET_COUNTS], dms;
	if(db_forget_user(db, ctx->chat->id, ctx->user_id, c) ||
	   db_outbox_remove_to(db, ACTION_SEND_PRIVATE, ctx->ev->platform, ctx->ev->sender_id, &dms))
		goto out;
	if(dms)
		log_info("chat %s: %d private message(s) waiting for someone forgotten were dropped", ctx->ev->chat_id,
		         dms);
	char n[DB_FORGET_COUNTS][16];
	for(int i = 0; i < DB_FORGET_COUNTS; i++)
		text_int(n[i], sizeof(n[i]), c[i]);
	if(cmd_reply(ctx, "forget.done", n[0], n[1], n[2], n[3], n[4], NULL) || cg__fill_groups(ctx))
		goto out;
	/* The places they had in meetups still to come go to those waiting. */
	struct meetup_ctx mctx = {
		.bot = ctx->bot, .chat = ctx->chat, .out = ctx->out, .key_base = ctx->ev->message_id
	};
	for(size_t i = 0; i < places.n; i++) {
		int found = db_meetup_get(db, ctx->chat->id, places.nums[i], mt);
		if(found < 0)
			goto out;
		if(found && mt->state == MEETUP_CONFIRMED && mt->max_people &&
		   mt->start + mt->duration_min * 60 > clock_now() && meetup_fill_places(&mctx, mt))
			goto out;
	}
	rc = CMD_OK;
out:
	free(places.nums);
	free(mt);
	return rc;
}

int cmd_forget(struct cmd_ctx *ctx)
{
	/* "/forget me [confirm]", "/oublier [confirmer]" (or "/oublie-moi"). */
	char *args = ctx->args;
	char *confirm = cmd_next_word(&args);
	if(confirm && cg__is(confirm, "me", "moi"))
		confirm = cmd_next_word(&args);
	if(cmd_next_word(&args))
		return CMD_USAGE;
	struct db *db = ctx->bot->db;
	struct strbuf data = STRBUF_INIT;
	int step;
	int64_t when;
	/* The confirmation rides on the dialogue table: step -1 means "asked
	 * to forget". */
	int asked = db_dialog_get(db, ctx->chat->id, ctx->user_id, &step, &data, &when);
	strbuf_release(&data);
	if(asked < 0)
		return CMD_ERROR;
	bool pending = asked && step == -1 && clock_now_ms() - when < FORGET_TTL_MS;
	if(!confirm || !pending || !cg__is(confirm, "confirm", "confirmer")) {
		if(confirm && !pending && cg__is(confirm, "confirm", "confirmer"))
			return cmd_reply(ctx, "forget.expired", NULL);
		if(confirm && !cg__is(confirm, "confirm", "confirmer"))
			return CMD_USAGE;
		if(db_dialog_set(db, ctx->chat->id, ctx->user_id, -1, "", clock_now_ms()))
			return CMD_ERROR;
		return cmd_reply(ctx, "forget.ask", NULL);
	}
	return cg__forget(ctx);
}

/* Appends each row of an export's kind to a JSON array (db_export_each). */
struct cg_export {
	enum db_export_kind kind;
	json_t *array;
};

static int cg__export_row(void *user, const struct db_export_row *r)
{
	struct cg_export *e = user;
	json_t *v = NULL;
	switch(e->kind) {
	case DB_EXPORT_MEMBER:
	case DB_EXPORT_PRIVATE_REMINDERS:
		return -1; /* single values, read by cg__export_one */
	case DB_EXPORT_INTERESTS:
		v = json_string(r->text);
		break;
	case DB_EXPORT_GROUPS:
		v = json_pack("{s:s,s:b,s:b,s:b}", "name", r->text, "contact", r->answer == 1, "waiting", r->waiting,
		              "closed", r->closed);
		break;
	case DB_EXPORT_VOTES:
		v = json_pack("{s:I,s:s}", "meetup", (json_int_t)r->num, "answers", r->text);
		break;
	case DB_EXPORT_RSVPS:
		v = json_pack("{s:I,s:s,s:b}", "meetup", (json_int_t)r->num, "answer",
		              r->answer == 2   ? "yes"
		              : r->answer == 1 ? "maybe"
		                               : "no",
		              "waiting", r->waiting);
		break;
	case DB_EXPORT_MEETUPS:
		v = json_pack("{s:I,s:s}", "meetup", (json_int_t)r->num, "title", r->text);
		break;
	}
	return json_array_append_new(e->array, v);
}

/* Sets o[key] to the array of kind's rows.  0 or -1. */
static int cg__export_list(struct cmd_ctx *ctx, json_t *o, const char *key, enum db_export_kind kind)
{
	struct cg_export e = { .kind = kind, .array = json_array() };
	if(!e.array || db_export_each(ctx->bot->db, kind, ctx->chat->id, ctx->user_id, cg__export_row, &e)) {
		json_decref(e.array);
		return -1;
	}
	return json_object_set_new(o, key, e.array);
}

/* The single values: the name and when they were last seen, and whether
 * they asked for private reminders. */
static int cg__export_one(void *user, const struct db_export_row *r)
{
	json_t *o = user;
	if(r->text[0]) {
		char when[32];
		time_t t = (time_t)r->num;
		struct tm tm;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
		return json_object_set_new(o, "name", json_string(r->text)) ||
		       json_object_set_new(o, "last_seen", json_string(when));
	}
	return json_object_set_new(o, "private_reminders", json_true());
}

/* "/export me": everything the chat keeps of the sender (what /forget me
 * removes), as JSON, in a private message. */
int cmd_export(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	char *me = cmd_next_word(&args);
	if(!me || !cg__is(me, "me", "moi") || cmd_next_word(&args))
		return CMD_USAGE;
	struct db *db = ctx->bot->db;
	json_t *o = json_object();
	struct strbuf body = STRBUF_INIT;
	char *text = NULL;
	int rc = CMD_ERROR;
	if(!o || json_object_set_new(o, "platform", json_string(ctx->ev->platform)) ||
	   json_object_set_new(o, "chat", json_string(ctx->ev->chat_id)) ||
	   json_object_set_new(o, "user", json_string(ctx->ev->sender_id)) ||
	   json_object_set_new(o, "private_reminders", json_false()) ||
	   db_export_each(db, DB_EXPORT_MEMBER, ctx->chat->id, ctx->user_id, cg__export_one, o) ||
	   db_export_each(db, DB_EXPORT_PRIVATE_REMINDERS, ctx->chat->id, ctx->user_id, cg__export_one, o) ||
	   cg__export_list(ctx, o, "interests", DB_EXPORT_INTERESTS) ||
	   cg__export_list(ctx, o, "groups", DB_EXPORT_GROUPS) || cg__export_list(ctx, o, "votes", DB_EXPORT_VOTES) ||
	   cg__export_list(ctx, o, "rsvps", DB_EXPORT_RSVPS) ||
	   cg__export_list(ctx, o, "meetups_proposed", DB_EXPORT_MEETUPS))
		goto out;
	/* Their personal calendar link, which /forget me revokes: said when
	 * there is one (the token itself is kept nowhere to be exported). */
	struct db_web_link cal = { .kind = DB_WEB_PERSON, .user_id = ctx->user_id };
	int has_cal = db_web_link_get(db, &cal);
	if(has_cal < 0 || (has_cal && json_object_set_new(o, "personal_calendar_link", json_true())))
		goto out;
	text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
	if(!text)
		goto out;
	/* Privately; the chat only hears that it was sent. */
	strbuf_add_html(&body, text);
	if(body.oom || !outbox_push(ctx->out, ACTION_SEND_PRIVATE, ctx->ev->platform, ctx->ev->sender_id, body.buf))
		goto out;
	rc = cmd_reply(ctx, "export.sent", NULL);
out:
	free(text);
	strbuf_release(&body);
	json_decref(o);
	return rc;
}
