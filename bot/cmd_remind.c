/*
 * /remind and /nudge: the chat's and a meetup's reminder offsets, private
 * reminders, and the nudge before a poll's deadline.
 */
#include "bot/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/i18n.h"
#include "bot/meetup.h"
#include "bot/remind.h"
#include "lib/text.h"

static bool cr__is(const char *w, const char *a, const char *b)
{
	struct strbuf f = STRBUF_INIT;
	text_fold(&f, w);
	bool yes = !strcmp(f.buf, a) || (b && !strcmp(f.buf, b));
	strbuf_release(&f);
	return yes;
}

/* Puts back the space cmd_next_word cut after first, when words followed
 * (args is what is left): ctx->args reads whole again. */
static void cr__rejoin(char *first, const char *args)
{
	size_t len = strlen(first);
	if(args > first + len)
		first[len] = ' ';
}

static int cr__show(struct cmd_ctx *ctx, const char *key, const char *num, const char *offsets)
{
	struct strbuf words = STRBUF_INIT;
	remind_format_offsets(&words, cmd_lang(ctx), offsets);
	int rc = *offsets ? cmd_reply(ctx, key, words.buf, num, NULL)
	                  : cmd_reply(ctx, num ? "remind.meetup_off" : "remind.chat_off", num, NULL);
	strbuf_release(&words);
	return rc;
}

/* Re-plans the reminders of every confirmed meetup of the chat that follows
 * the chat's offsets. */
static int cr__replan_chat(struct cmd_ctx *ctx)
{
	int *nums = NULL, max, count;
	struct db_meetup *m = malloc(sizeof(*m));
	struct meetup_ctx mctx = { .bot = ctx->bot, .chat = ctx->chat, .out = ctx->out };
	int rc = -1;
	/* Every one of them: counted first, then read. */
	if(!m || db_meetup_list(ctx->bot->db, ctx->chat->id, 1u << MEETUP_CONFIRMED, ctx->ev->time, NULL, 0, &max) ||
	   !(nums = malloc((size_t)(max ? max : 1) * sizeof(*nums))) ||
	   db_meetup_list(ctx->bot->db, ctx->chat->id, 1u << MEETUP_CONFIRMED, ctx->ev->time, nums, max, &count))
		goto out;
	for(int i = 0; i < count && i < max; i++) {
		if(db_meetup_get(ctx->bot->db, ctx->chat->id, nums[i], m) != 1)
			goto out;
		if(!m->has_remind && remind_plan(&mctx, m))
			goto out;
	}
	rc = 0;
out:
	free(nums);
	free(m);
	return rc;
}

/* "/remind me [off]": the sender's private reminders in this chat. */
static int cr__me(struct cmd_ctx *ctx, char *args)
{
	char *w = cmd_next_word(&args);
	bool off = w && cr__is(w, "off", "non");
	if(w && !off)
		return CMD_USAGE;
	if(db_private_reminder_set(ctx->bot->db, ctx->chat->id, ctx->user_id, !off))
		return CMD_ERROR;
	return cmd_reply(ctx, off ? "remind.me_off" : "remind.me_on", NULL);
}

/* Tells that meetup num is not found, or, for "/rappel 10 ans" (no
 * meetup #10, and no reminder time either), that the time could not be
 * read.  A cmd_result. */
static int cr__no_meetup(struct cmd_ctx *ctx, char *first, char *args, const char *n)
{
	char probe[64];
	if(first[0] != '#' && *args && !cr__is(args, "off", "non") &&
	   remind_parse_offsets(args, probe, sizeof(probe))) {
		cr__rejoin(first, args);
		return cmd_reply(ctx, "remind.bad", ctx->args, NULL);
	}
	return cmd_reply(ctx, "meetup.not_found", n, NULL);
}

/* "/remind #ID": anyone may read a meetup's reminders.  The resolver
 * found the meetup. */
static int cr__meetup_show(struct cmd_ctx *ctx, char *args)
{
	const struct db_meetup *m = ctx->obj->meetup;
	char n[16];
	(void)args;
	text_int(n, sizeof(n), m->num);
	return cr__show(ctx, "remind.meetup", n, m->has_remind ? m->remind : ctx->chat->remind);
}

/* "/remind #ID OFFSETS|off": sets the meetup's reminder offsets (its row
 * says who may) and plans them. */
static int cr__meetup_set(struct cmd_ctx *ctx, char *args)
{
	struct db_meetup *m = ctx->obj->meetup;
	char offsets[64], n[16];
	text_int(n, sizeof(n), m->num);
	if(cr__is(args, "off", "non"))
		offsets[0] = '\0';
	else if(remind_parse_offsets(args, offsets, sizeof(offsets)))
		return cmd_reply(ctx, "remind.bad", args, NULL);
	text_copy(m->remind, sizeof(m->remind), offsets);
	m->has_remind = true;
	struct meetup_ctx mctx = { .bot = ctx->bot, .chat = ctx->chat, .out = ctx->out };
	if(db_meetup_update(ctx->bot->db, m) || remind_plan(&mctx, m))
		return CMD_ERROR;
	return cr__show(ctx, "remind.meetup", n, offsets);
}

/* The resolver of the meetup forms: reads "#ID" (or "ID") off *args and
 * finds that meetup, or replies that there is none (or, for "/rappel 10
 * ans", that the time could not be read).  A cmd_result. */
static int cr__resolve(struct cmd_ctx *ctx, char **args, struct cmd_object *obj)
{
	char *first = cmd_next_word(args);
	int num = atoi(first[0] == '#' ? first + 1 : first);
	char n[16];
	text_int(n, sizeof(n), num);
	if(!(obj->meetup = malloc(sizeof(*obj->meetup))))
		return CMD_ERROR;
	obj->verb_key = "meetup.verb.edit";
	int found = db_meetup_get(ctx->bot->db, ctx->chat->id, num, obj->meetup);
	if(found < 0)
		return CMD_ERROR;
	if(!found)
		return cr__no_meetup(ctx, first, *args, n);
	obj->found = true;
	return CMD_OK;
}

/* "/remind OFFSETS|off" for the whole chat, args whole. */
static int cr__chat(struct cmd_ctx *ctx, char *args)
{
	char offsets[64];
	if(cr__is(args, "off", "non"))
		offsets[0] = '\0';
	else if(remind_parse_offsets(args, offsets, sizeof(offsets)))
		return cmd_reply(ctx, "remind.bad", args, NULL);
	if(db_chat_set_remind(ctx->bot->db, ctx->chat->id, offsets))
		return CMD_ERROR;
	text_copy(ctx->chat->remind, sizeof(ctx->chat->remind), offsets);
	if(cr__replan_chat(ctx))
		return CMD_ERROR;
	return cr__show(ctx, "remind.chat", NULL, offsets);
}

/* /remind's forms, each with who may use it: cmd_remind tells them apart
 * by their words, and dispatch_run_sub checks the permission.  A meetup's
 * reminders are its creator's to change, the chat's the admins'. */
enum { CR_ME, CR_MEETUP_SHOW, CR_MEETUP_SET, CR_CHAT };
/* clang-format off */
static const struct subcommand cr__forms[] = {
	[CR_ME]          = { .name = "me",     .perm = PERM_ANYONE,         .handler = cr__me },
	[CR_MEETUP_SHOW] = { .name = "#",      .perm = PERM_ANYONE,         .resolve = cr__resolve, .handler = cr__meetup_show },
	[CR_MEETUP_SET]  = { .name = "#",      .perm = PERM_MEETUP_CREATOR, .resolve = cr__resolve, .handler = cr__meetup_set },
	[CR_CHAT]        = { .name = "chat",   .perm = PERM_ADMIN,          .handler = cr__chat },
};
/* clang-format on */

int cmd_remind(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	char *first = cmd_next_word(&args);
	if(!first)
		return cr__show(ctx, "remind.chat", NULL, ctx->chat->remind);
	if(cr__is(first, "me", "moi"))
		return dispatch_run_sub(ctx, &cr__forms[CR_ME], args);
	bool meetup = first[0] == '#' || (first[0] >= '0' && first[0] <= '9' && !strpbrk(first, "hmdjwHMDJW"));
	int form = !meetup ? CR_CHAT : *args ? CR_MEETUP_SET : CR_MEETUP_SHOW;
	cr__rejoin(first, args);
	return dispatch_run_sub(ctx, &cr__forms[form], ctx->args);
}

int cmd_nudge(struct cmd_ctx *ctx)
{
	char *args = ctx->args;
	char *w = cmd_next_word(&args);
	if(!w)
		return cmd_reply(ctx, ctx->chat->nudge ? "nudge.is_on" : "nudge.is_off", NULL);
	bool on;
	if(cr__is(w, "on", "oui"))
		on = true;
	else if(cr__is(w, "off", "non"))
		on = false;
	else
		return CMD_USAGE;
	if(db_chat_set_nudge(ctx->bot->db, ctx->chat->id, on))
		return CMD_ERROR;
	ctx->chat->nudge = on;
	return cmd_reply(ctx, on ? "nudge.is_on" : "nudge.is_off", NULL);
}
