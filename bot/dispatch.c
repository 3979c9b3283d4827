#include "bot/dispatch.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/commands.h"
#include "bot/i18n.h"
#include "bot/meetup.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/text.h"

#define LOG_MODULE "dispatch"

const char *cmd_lang(const struct cmd_ctx *ctx)
{
	return ctx->chat->lang;
}

/* Gives a, the last action pushed for the event, its key, which makes a
 * retried send idempotent: the answered message and the action's rank
 * among the actions of this event.  Nothing when the event has no message
 * id.  0 or -1. */
static int dispatch__key(struct cmd_ctx *ctx, struct action *a)
{
	if(!ctx->ev->message_id)
		return 0;
	struct strbuf key = STRBUF_INIT;
	strbuf_addf(&key, "%s.%zu", ctx->ev->message_id, ctx->out->n);
	int rc = key.oom ? -1 : action_set(&a->key, key.buf);
	strbuf_release(&key);
	return rc;
}

static int dispatch__push(struct cmd_ctx *ctx, const char *html, bool reply)
{
	const struct event *ev = ctx->ev;
	bool as_reply = reply && ev->message_id;
	struct action *a =
		outbox_push(ctx->out, as_reply ? ACTION_REPLY : ACTION_SEND_TEXT, ev->platform, ev->chat_id, html);
	if(!a || (as_reply && action_set(&a->reply_to, ev->message_id)))
		return -1;
	return dispatch__key(ctx, a);
}

int cmd_reply_text(struct cmd_ctx *ctx, const char *html)
{
	return dispatch__push(ctx, html, true);
}
int cmd_send_text(struct cmd_ctx *ctx, const char *html)
{
	return dispatch__push(ctx, html, false);
}

int cmd_reply_raw(struct cmd_ctx *ctx, const char *key, unsigned raw, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, raw);
	i18n_vfmt(&sb, cmd_lang(ctx), key, raw, ap);
	va_end(ap);
	int rc = sb.oom ? -1 : cmd_reply_text(ctx, sb.buf);
	strbuf_release(&sb);
	return rc;
}

int cmd_reply(struct cmd_ctx *ctx, const char *key, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, key);
	i18n_vfmt(&sb, cmd_lang(ctx), key, 0, ap);
	va_end(ap);
	int rc = sb.oom ? -1 : cmd_reply_text(ctx, sb.buf);
	strbuf_release(&sb);
	return rc;
}

int cmd_usage(struct cmd_ctx *ctx, const struct command *cmd)
{
	char k_usage[64], k_example[64];
	snprintf(k_usage, sizeof(k_usage), "cmd.%s.usage", cmd->name);
	snprintf(k_example, sizeof(k_example), "cmd.%s.example", cmd->name);
	const char *lang = cmd_lang(ctx);
	return cmd_reply(ctx, "dispatch.usage", i18n_lookup(lang, k_usage), i18n_lookup(lang, k_example), NULL);
}

char *cmd_next_word(char **s)
{
	char *p = *s;
	while(*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if(!*p) {
		*s = p;
		return NULL;
	}
	char *w = p;
	while(*p && *p != ' ' && *p != '\t' && *p != '\n')
		p++;
	if(*p)
		*p++ = '\0';
	*s = p;
	return w;
}

static int dispatch__count_words(const char *s)
{
	int n = 0;
	bool in = false;
	for(; *s; s++) {
		bool space = *s == ' ' || *s == '\t' || *s == '\n';
		if(!space && !in)
			n++;
		in = !space;
	}
	return n;
}

const char *dispatch_display_name(const char *lang, const struct command *cmd)
{
	char key[64];
	snprintf(key, sizeof(key), "cmd.%s.name", cmd->name);
	const char *n = i18n_lookup_exact(lang, key);
	return n ? n : cmd->name;
}

const struct command *dispatch_find(const char *name)
{
	struct strbuf folded = STRBUF_INIT;
	const struct command *found = NULL;
	text_fold(&folded, name);
	/* The table's names and aliases are written folded (bot/commands.c),
	 * so only the name typed is folded: folding every alias at every
	 * command cost a few percent of the dispatcher's time. */
	for(int i = 0; i < ncommands && !found; i++) {
		if(!strcmp(commands[i].name, folded.buf))
			found = &commands[i];
		for(const char *const *a = commands[i].aliases; a && *a && !found; a++)
			if(!strcmp(*a, folded.buf))
				found = &commands[i];
	}
	strbuf_release(&folded);
	return found;
}

const struct subcommand *dispatch_find_sub(const struct subcommand *subs, const char *word)
{
	struct strbuf folded = STRBUF_INIT;
	const struct subcommand *found = NULL;
	text_fold(&folded, word);
	for(const struct subcommand *s = subs; s->name && !found; s++) {
		if(!strcmp(s->name, folded.buf))
			found = s;
		for(const char *const *a = s->aliases; a && *a && !found; a++)
			if(!strcmp(*a, folded.buf))
				found = s;
	}
	strbuf_release(&folded);
	return found;
}

/* Whether the sender is a contact person among members. */
static bool dispatch__is_contact(const struct cmd_ctx *ctx, const struct db_people *members)
{
	for(size_t i = 0; i < members->n; i++)
		if(members->v[i].user_id == ctx->user_id && members->v[i].answer == 1)
			return true;
	return false;
}

/* Whether the sender is a contact person of the meetup's group (none
 * when it has no group).  1, 0 or -1. */
static int dispatch__meetup_contact(const struct cmd_ctx *ctx, const struct db_meetup *m)
{
	if(!m->group_id)
		return 0;
	struct db_people members = { 0 };
	if(db_group_members(ctx->bot->db, m->group_id, &members))
		return -1;
	bool contact = dispatch__is_contact(ctx, &members);
	db_people_release(&members);
	return contact;
}

/* Whether the sender holds perm over obj, the chat's admins aside.
 * 1, 0 or -1. */
static int dispatch__holds(const struct cmd_ctx *ctx, enum cmd_perm perm, const struct cmd_object *obj)
{
	switch(perm) {
	case PERM_ANYONE:
		return 1;
	case PERM_ADMIN:
	case PERM_ADMIN_TO_SET:
		return 0;
	case PERM_MEETUP_CREATOR:
		return obj->meetup->creator == ctx->user_id;
	case PERM_MEETUP_OWNER:
		return obj->meetup->creator == ctx->user_id ? 1 : dispatch__meetup_contact(ctx, obj->meetup);
	case PERM_GROUP_CONTACT:
		return dispatch__is_contact(ctx, &obj->members);
	}
	return 0;
}

/* The refusal of perm, saying who may: every refusal text is here.
 * 0 or -1. */
static int dispatch__refuse(struct cmd_ctx *ctx, enum cmd_perm perm, const struct cmd_object *obj)
{
	const char *lang = cmd_lang(ctx);
	char n[16];
	switch(perm) {
	case PERM_ANYONE:
		break;
	case PERM_ADMIN:
	case PERM_ADMIN_TO_SET:
		return cmd_reply(ctx, "dispatch.admin_only", dispatch_display_name(lang, ctx->cmd), NULL);
	case PERM_MEETUP_CREATOR:
	case PERM_MEETUP_OWNER:
		/* A meetup whose creator was forgotten is the admins' (and its
		 * group's contact persons') alone. */
		text_int(n, sizeof(n), obj->meetup->num);
		return cmd_reply(ctx, obj->meetup->creator ? "meetup.perm" : "meetup.perm_admins",
		                 obj->meetup->creator_name, i18n_lookup(lang, obj->verb_key), n, NULL);
	case PERM_GROUP_CONTACT:
		return cmd_reply(ctx, "group.perm", obj->group.name, NULL);
	}
	return 0;
}

int dispatch_run_sub(struct cmd_ctx *ctx, const struct subcommand *sub, char *args)
{
	struct cmd_object obj = { .text = STRBUF_INIT };
	int rc = CMD_OK;
	ctx->sub = sub;
	if(dispatch__count_words(args) < sub->min_words)
		return CMD_USAGE;
	if(sub->resolve) {
		rc = sub->resolve(ctx, &args, &obj);
		if(rc != CMD_OK || !obj.found)
			goto out;
	}
	int may = cmd_permit(ctx, &obj);
	if(may <= 0) {
		rc = may < 0 ? CMD_ERROR : CMD_OK;
		goto out;
	}
	ctx->obj = &obj;
	rc = sub->handler(ctx, args);
	ctx->obj = NULL;
out:
	free(obj.meetup);
	db_people_release(&obj.members);
	strbuf_release(&obj.text);
	return rc;
}

int cmd_permit(struct cmd_ctx *ctx, const struct cmd_object *obj)
{
	enum cmd_perm perm = ctx->sub ? ctx->sub->perm : ctx->cmd->perm;
	int holds = ctx->is_admin ? 1 : dispatch__holds(ctx, perm, obj);
	if(holds)
		return holds;
	return dispatch__refuse(ctx, perm, obj) ? -1 : 0;
}

/* The name closest to what was typed, for "did you mean"; NULL when none is
 * close enough (at most 2 edits, or 1 for short names). */
static const char *dispatch__closest(const char *typed)
{
	struct strbuf folded = STRBUF_INIT, cand = STRBUF_INIT;
	text_fold(&folded, typed);
	size_t cap = strlen(folded.buf) <= 3 ? 1 : 2;
	const char *best = NULL;
	size_t best_d = cap + 1;
	for(int i = 0; i < ncommands; i++) {
		if(commands[i].flags & CMD_HIDDEN)
			continue;
		size_t d = text_distance(folded.buf, commands[i].name, cap);
		if(d < best_d) {
			best_d = d;
			best = commands[i].name;
		}
		for(const char *const *a = commands[i].aliases; a && *a; a++) {
			strbuf_reset(&cand);
			text_fold(&cand, *a);
			d = text_distance(folded.buf, cand.buf, cap);
			if(d < best_d) {
				best_d = d;
				best = *a;
			}
		}
	}
	strbuf_release(&folded);
	strbuf_release(&cand);
	return best;
}

/* Reads the command word at text (after the prefix): fills name (folded
 * later) and tells whether it was addressed to another bot.  Returns the
 * rest of the line, or NULL when text holds no command word. */
static const char *dispatch__command_word(const char *text, const char *bot_name, struct strbuf *name, bool *other_bot)
{
	const char *p = text;
	while(*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '@')
		p++;
	strbuf_add(name, text, (size_t)(p - text));
	*other_bot = false;
	if(*p == '@') {
		const char *at = ++p;
		while(*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		struct strbuf target = STRBUF_INIT;
		strbuf_add(&target, at, (size_t)(p - at));
		*other_bot = !text_ieq(target.buf, bot_name);
		strbuf_release(&target);
	}
	return name->len ? p : NULL;
}

/* Checks the raw text: valid UTF-8, not too long.  Returns 1 when usable,
 * 0 when it is dropped or refused (a reply may have been queued). */
static int dispatch__check_text(struct cmd_ctx *ctx, const char *text)
{
	size_t len = strlen(text);
	bool is_cmd = text[0] == '/' || text[0] == '!';
	if(!utf8_valid(text, len)) {
		log_info("dropped a message that is not valid UTF-8 (%zu bytes, chat %s)", len, ctx->ev->chat_id);
		if(is_cmd)
			cmd_reply(ctx, "dispatch.bad_utf8", NULL);
		return 0;
	}
	if(len > DISPATCH_MAX_TEXT) {
		log_info("dropped a message of %zu bytes (chat %s)", len, ctx->ev->chat_id);
		if(is_cmd) {
			char max[16];
			text_int(max, sizeof(max), DISPATCH_MAX_TEXT);
			cmd_reply(ctx, "dispatch.too_long", max, NULL);
		}
		return 0;
	}
	return 1;
}

/* Answers a command word that names no command (typed after prefix):
 * the nearest name, if one is near.  0 or -1. */
static int dispatch__unknown(struct cmd_ctx *ctx, char prefix, const char *name)
{
	const char *near = dispatch__closest(name);
	/* The typed word goes back escaped (it is user text), with the prefix
	 * typed: "!foo" is not called "/foo". */
	struct strbuf typed = STRBUF_INIT;
	int rc;
	strbuf_addf(&typed, "%c%s", prefix, name);
	if(typed.oom)
		rc = -1;
	else if(near)
		rc = cmd_reply(ctx, "dispatch.unknown_near", typed.buf, near, NULL);
	else
		rc = cmd_reply(ctx, "dispatch.unknown", typed.buf, NULL);
	strbuf_release(&typed);
	return rc;
}

/* Commands run, by name: the table's canonical names, a bounded set
 * whatever people type. */
static struct metrics_family dispatch__commands =
	METRICS_COUNTER("ensemble_commands_total",
                        "Commands run, by canonical name (whatever their outcome: done, refused, usage shown; "
                        "a batch rolled back and run again counts them again).",
                        "command", NULL);

/* Each command's series of ensemble_commands_total, found once: a lookup
 * among the series (a string comparison each) would cost more than the
 * increment itself, on the dispatcher's path. */
#define DISPATCH_COUNTED 64
static struct metric *dispatch__counted[DISPATCH_COUNTED];

void dispatch_metrics_init(void)
{
	for(int i = 0; i < ncommands && i < DISPATCH_COUNTED; i++)
		if(!dispatch__counted[i])
			dispatch__counted[i] = metrics_at(&dispatch__commands, commands[i].name, NULL);
}

static void dispatch__count(const struct command *cmd)
{
	size_t i = (size_t)(cmd - commands);
	if(i >= DISPATCH_COUNTED) {
		metrics_inc(metrics_at(&dispatch__commands, cmd->name, NULL));
		return;
	}
	if(!dispatch__counted[i])
		dispatch__counted[i] = metrics_at(&dispatch__commands, cmd->name, NULL);
	metrics_inc(dispatch__counted[i]);
}

static int dispatch__run(struct cmd_ctx *ctx, const char *text)
{
	struct bot *b = ctx->bot;
	struct strbuf clean = STRBUF_INIT, name = STRBUF_INIT;
	int rc = 0;

	if(!dispatch__check_text(ctx, text))
		goto out;
	text_clean(&clean, text);
	strbuf_trim(&clean);
	if(clean.oom) {
		rc = -1;
		goto out;
	}
	if(!clean.len) {
		log_debug("ignored an empty message in chat %s", ctx->ev->chat_id);
		goto out;
	}
	if(clean.buf[0] != '/' && clean.buf[0] != '!') {
		/* Conversation, not a command: it matters only to someone in the
		 * middle of a guided dialogue. */
		rc = cmd_dialog_answer(ctx, clean.buf);
		goto out;
	}

	bool other_bot;
	const char *me = ctx->ev->bot_username ? ctx->ev->bot_username : b->cfg->bot_name;
	const char *rest = dispatch__command_word(clean.buf + 1, me, &name, &other_bot);
	if(!rest || other_bot)
		goto out;
	const struct command *cmd = dispatch_find(name.buf);
	if(!cmd) {
		rc = dispatch__unknown(ctx, clean.buf[0], name.buf);
		goto out;
	}
	ctx->cmd = cmd;
	dispatch__count(cmd);
	if(cmd->perm == PERM_ADMIN && (rc = cmd_permit(ctx, NULL)) <= 0)
		goto out;
	if((cmd->flags & CMD_PERSONAL) && ctx->ev->anonymous) {
		rc = cmd_reply(ctx, "dispatch.anonymous", dispatch_display_name(cmd_lang(ctx), cmd), NULL);
		goto out;
	}
	struct strbuf trimmed = STRBUF_INIT;
	strbuf_adds(&trimmed, rest);
	strbuf_trim(&trimmed);
	ctx->args = strbuf_detach(&trimmed);
	if(!ctx->args) {
		rc = -1;
		goto out;
	}
	int words = dispatch__count_words(ctx->args);
	if(words < cmd->min_words) {
		rc = cmd_usage(ctx, cmd);
		goto out;
	}
	if(cmd->perm == PERM_ADMIN_TO_SET && words > cmd->read_words && (rc = cmd_permit(ctx, NULL)) <= 0)
		goto out;
	log_debug("chat %s: /%s from %s", ctx->ev->chat_id, cmd->name, ctx->ev->sender_id);
	rc = cmd->handler(ctx);
	if(rc == CMD_USAGE)
		rc = cmd_usage(ctx, cmd);
out:
	free(ctx->args);
	ctx->args = NULL;
	strbuf_release(&clean);
	strbuf_release(&name);
	return rc < 0 ? -1 : 0;
}

/* Loads the meetup named by a core reference "meetup:ID:..." when it
 * belongs to the event's chat.  1, 0 (logged), -1. */
static int dispatch__ref_meetup(struct cmd_ctx *ctx, const char *ref, struct db_meetup *m)
{
	long long id;
	if(!ref || sscanf(ref, "meetup:%lld:", &id) != 1) {
		log_info("chat %s: an event names no meetup ('%s')", ctx->ev->chat_id, ref ? ref : "");
		return 0;
	}
	int found = db_meetup_get_by_id(ctx->bot->db, id, m);
	if(found == 1 && m->chat_id != ctx->chat->id) {
		log_warn("chat %s: an event names a meetup of another chat", ctx->ev->chat_id);
		return 0;
	}
	return found;
}

/* A native poll's answer: the chosen options become the voter's yes-list
 * through the core's vote function; none withdraws. */
static int dispatch__poll_vote(struct cmd_ctx *ctx)
{
	struct db_meetup *m = malloc(sizeof(*m));
	int rc = -1;
	if(!m)
		return -1;
	int found = dispatch__ref_meetup(ctx, ctx->ev->poll_ref, m);
	if(found <= 0) {
		rc = found;
		goto out;
	}
	struct meetup_ctx mctx = {
		.bot = ctx->bot, .chat = ctx->chat, .out = ctx->out, .key_base = ctx->ev->message_id
	};
	rc = meetup_vote_options(&mctx, m, ctx->user_id, ctx->ev->options, ctx->ev->n_options);
out:
	free(m);
	return rc < 0 ? -1 : 0;
}

/* A vote given on the web page: the same vote as /vote's, through the
 * core's vote function, with no confirmation in the chat (the page shows
 * it).  A poll that is gone or closed records nothing. */
static int dispatch__vote(struct cmd_ctx *ctx)
{
	struct db_meetup *m = malloc(sizeof(*m));
	int rc = -1;
	if(!m)
		return -1;
	const char *answers = ctx->ev->vote_answers;
	int found = db_meetup_get(ctx->bot->db, ctx->chat->id, ctx->ev->vote_num, m);
	if(found <= 0 || (answers && strlen(answers) != (size_t)m->nslots)) {
		rc = found < 0 ? -1 : 0;
		goto out;
	}
	struct meetup_ctx mctx = {
		.bot = ctx->bot, .chat = ctx->chat, .out = ctx->out, .key_base = ctx->ev->message_id
	};
	rc = meetup_vote(&mctx, m, ctx->user_id, answers, true);
out:
	free(m);
	return rc < 0 ? -1 : 0;
}

/* Where a press can be answered privately (a toast), the answer is the
 * first action of the event, so that it is not held behind the edits: its
 * text is filled in once known.  Returns the answer's index in the
 * outbox in *slot, SIZE_MAX when there is none.  0 or -1. */
static int dispatch__press_slot(struct cmd_ctx *ctx, size_t *slot)
{
	const struct event *ev = ctx->ev;
	*slot = SIZE_MAX;
	if(!ev->button_answer)
		return 0;
	struct action *a = outbox_push(ctx->out, ACTION_ANSWER, ev->platform, ev->chat_id, "");
	if(!a || action_set(&a->reply_to, ev->button_answer) || dispatch__key(ctx, a))
		return -1;
	*slot = ctx->out->n - 1;
	return 0;
}

/* Answers a button press with html: in its toast (slot), or else, when
 * say is set, as a reply to the message the button sits under, in the
 * chat where it was pressed.  0 or -1. */
static int dispatch__answer_press(struct cmd_ctx *ctx, size_t slot, const char *html, bool say)
{
	const struct event *ev = ctx->ev;
	if(slot != SIZE_MAX)
		return action_set(&ctx->out->v[slot].text, html);
	if(!say)
		return 0;
	bool reply = ev->button_message != NULL;
	struct action *a =
		outbox_push(ctx->out, reply ? ACTION_REPLY : ACTION_SEND_TEXT, ev->platform, ev->chat_id, html);
	if(!a || (reply && action_set(&a->reply_to, ev->button_message)))
		return -1;
	return dispatch__key(ctx, a);
}

/* A button pressed, or a reaction: "rsvp:MEETUP_ID:y|m|n" (or "-", no
 * answer any more) under an announcement or a reminder.  The press is
 * answered by its toast and the announcement's edit, and posts nothing;
 * where there are no toasts, what the person must know (the meetup was
 * cancelled, or is over; in a private chat, what was noted) is a short
 * reply.  A reminder received privately carries the buttons of a meetup
 * of another chat: a member of that chat may answer it there.  Data that
 * names nothing (an old or forged button) gets a toast saying so. */
static int dispatch__button(struct cmd_ctx *ctx)
{
	const struct event *ev = ctx->ev;
	const char *data = ev->button_data;
	struct db_meetup *m = malloc(sizeof(*m));
	struct db_chat *home = NULL;
	struct strbuf toast = STRBUF_INIT;
	const char *lang = cmd_lang(ctx);
	bool say = ev->is_private;
	long long id;
	char answer, num[24];
	size_t slot;
	int rc = -1;
	if(!m || dispatch__press_slot(ctx, &slot))
		goto out;
	if(!data || sscanf(data, "rsvp:%lld:%c", &id, &answer) != 2 || !strchr("ymn-", answer)) {
		log_info("chat %s: unknown button data", ev->chat_id);
		goto stale;
	}
	int found = db_meetup_get_by_id(ctx->bot->db, id, m);
	if(found < 0)
		goto out;
	if(!found) {
		log_info("chat %s: a button names no meetup", ev->chat_id);
		goto stale;
	}
	if(m->chat_id != ctx->chat->id) {
		int member = ev->is_private ? db_member_of(ctx->bot->db, m->chat_id, ctx->user_id) : 0;
		if(member < 0 || (member && !(home = malloc(sizeof(*home)))))
			goto out;
		found = member ? db_chat_by_id(ctx->bot->db, m->chat_id, home) : 0;
		if(found < 0)
			goto out;
		if(!found) {
			log_warn("chat %s: a button names a meetup of another chat", ev->chat_id);
			goto stale;
		}
		lang = home->lang;
	}
	struct meetup_ctx mctx = {
		.bot = ctx->bot, .chat = home ? home : ctx->chat, .out = ctx->out, .key_base = ev->message_id
	};
	text_int(num, sizeof(num), m->num);
	if(m->state == MEETUP_CANCELLED) {
		i18n_fmt(&toast, lang, "meetup.press.cancelled", num, m->title, NULL);
		say = true;
	} else if(m->state != MEETUP_CONFIRMED || (time_t)(m->start + m->duration_min * 60) <= clock_now()) {
		i18n_fmt(&toast, lang, m->state == MEETUP_POLL ? "meetup.rsvp.not_confirmed" : "meetup.rsvp.over", num,
		         NULL);
		say = true;
	} else {
		int code = answer == 'y' ? 2 : answer == 'm' ? 1 : answer == 'n' ? 0 : -1;
		if(meetup_rsvp(&mctx, m, ctx->user_id, code, &toast))
			goto out;
		if(home) {
			/* Answered away from the meetup's chat: say which. */
			struct strbuf where = STRBUF_INIT;
			meetup_chat_name(ctx->bot, home, &where);
			struct strbuf done = STRBUF_INIT;
			i18n_fmt_raw(&done, lang, "meetup.rsvp.elsewhere", 0x3, where.buf, toast.buf, NULL);
			strbuf_release(&where);
			strbuf_release(&toast);
			toast = done;
		}
	}
	rc = toast.oom ? -1 : dispatch__answer_press(ctx, slot, toast.buf, say);
	goto out;
stale:
	rc = dispatch__answer_press(ctx, slot, i18n_lookup(lang, "button.stale"), false);
out:
	free(m);
	free(home);
	strbuf_release(&toast);
	return rc < 0 ? -1 : 0;
}

/* A new chat that is part of another (a forum's topic) starts with that
 * chat's settings: language, time zone, reminders, nudges and the interest
 * threshold.  Returns 1 when it took them, 0 when there was nothing to
 * take, -1 on error. */
static int dispatch__inherit(struct bot *b, const struct event *ev, struct db_chat *chat)
{
	struct db_chat parent;
	if(!ev->parent_chat || !strcmp(ev->parent_chat, ev->chat_id))
		return 0;
	int found = db_chat_get(b->db, ev->platform, ev->parent_chat, chat->lang, chat->tz, &parent);
	if(found <= 0)
		return found;
	if(db_chat_set_lang(b->db, chat->id, parent.lang) || db_chat_set_tz(b->db, chat->id, parent.tz) ||
	   db_chat_set_remind(b->db, chat->id, parent.remind) || db_chat_set_nudge(b->db, chat->id, parent.nudge) ||
	   db_chat_set_interest_threshold(b->db, chat->id, parent.interest_threshold))
		return -1;
	memcpy(chat->lang, parent.lang, sizeof(chat->lang));
	memcpy(chat->tz, parent.tz, sizeof(chat->tz));
	memcpy(chat->remind, parent.remind, sizeof(chat->remind));
	chat->nudge = parent.nudge;
	chat->interest_threshold = parent.interest_threshold;
	return 1;
}

int dispatch_event(struct bot *b, const struct event *ev, struct outbox *out)
{
	struct config *cfg = b->cfg;
	struct db_chat chat;
	int found = db_chat_get(b->db, ev->platform, ev->chat_id, cfg->lang, cfg->timezone, &chat);
	if(found < 0)
		return -1;
	int inherited = found ? 0 : dispatch__inherit(b, ev, &chat);
	if(inherited < 0)
		return -1;
	if(!found && !inherited && ev->sender_lang && i18n_has_lang(ev->sender_lang) &&
	   strcmp(ev->sender_lang, chat.lang)) {
		/* A new chat speaks the language of its first user's client. */
		if(db_chat_set_lang(b->db, chat.id, ev->sender_lang))
			return -1;
		text_copy(chat.lang, sizeof(chat.lang), ev->sender_lang);
	}
	if(found && !chat.active) {
		/* A chat that had removed the bot speaks to it again. */
		if(db_chat_set_active(b->db, chat.id, true))
			return -1;
		chat.active = true;
		log_info("chat %s is active again", ev->chat_id);
	}
	/* The chat's name, for what is said of it elsewhere (a private
	 * reminder). */
	if(ev->chat_title && *ev->chat_title && !ev->is_private && db_chat_set_title(b->db, chat.id, ev->chat_title))
		return -1;
	struct cmd_ctx ctx = { .bot = b, .ev = ev, .chat = &chat, .out = out };
	if(ev->sender_id) {
		if(db_user_seen(b->db, chat.id, ev->platform, ev->sender_id, ev->sender_name, ev->sender_name_guess,
		                ev->time, &ctx.user_id))
			return -1;
		/* A sender who stands for several people is nobody to ask for a
		 * vote: it may not give one. */
		if(ev->anonymous && db_member_drop(b->db, chat.id, ctx.user_id))
			return -1;
		/* Where the platform has no roles, the chat's first user is its
		 * admin. */
		if(ev->role == ROLE_UNKNOWN && !chat.admin[0]) {
			if(db_chat_set_admin(b->db, chat.id, ev->sender_id))
				return -1;
			text_copy(chat.admin, sizeof(chat.admin), ev->sender_id);
		}
		ctx.is_admin = ev->is_private || ev->role == ROLE_ADMIN ||
		               (ev->role == ROLE_UNKNOWN && !strcmp(chat.admin, ev->sender_id));
	}
	switch(ev->kind) {
	case EVENT_MESSAGE:
		return ev->text ? dispatch__run(&ctx, ev->text) : 0;
	case EVENT_POLL_VOTE:
		return dispatch__poll_vote(&ctx);
	case EVENT_BUTTON:
		return dispatch__button(&ctx);
	case EVENT_VOTE:
		return dispatch__vote(&ctx);
	case EVENT_MEMBER_JOINED:
	case EVENT_MEMBER_LEFT:
		/* Seeing the member was enough: they are in the members list. */
		return 0;
	}
	return 0;
}
