/*
 * /agenda (/calendrier): the links of the calendar feeds.  The chat's
 * feed, a group's, the sender's own (every meetup they come to, sent
 * privately), and, for the admins, new links that revoke the old ones.
 * The links are the web side's (struct bot_web): without it, the web is
 * off and /agenda says what the bot's administrator has not set.
 */
#include "bot/commands.h"

#include <string.h>

#include "bot/bot.h"
#include "bot/i18n.h"
#include "lib/text.h"

/* clang-format off: a table reads best one row to a line */
#define NAMES(...) \
	(const char *const[]) \
	{ \
		__VA_ARGS__, NULL \
	}
/* clang-format on */

/* Appends the webcal:// form of an http(s) link, which some calendar
 * apps open as a subscription. */
static void ca__webcal(struct strbuf *out, const char *url)
{
	const char *rest = strstr(url, "://");
	strbuf_adds(out, "webcal");
	strbuf_adds(out, rest ? rest : url);
}

/* Replies with catalogue key, its arguments the link of kind (and its
 * webcal:// form) after name when name is not NULL; the chat's feed comes
 * with the chat's web page. */
static int ca__reply_link(struct cmd_ctx *ctx, const char *key, enum bot_link kind, int64_t id, const char *name)
{
	struct bot *b = ctx->bot;
	struct strbuf url = STRBUF_INIT, webcal = STRBUF_INIT, page = STRBUF_INIT;
	int rc = CMD_ERROR;
	if(b->web->link(b->web_user, kind, ctx->chat->id, id, &url) ||
	   (kind == BOT_LINK_CHAT && b->web->link(b->web_user, BOT_LINK_PAGE, ctx->chat->id, 0, &page)))
		goto out;
	ca__webcal(&webcal, url.buf);
	if(url.oom || webcal.oom || page.oom)
		goto out;
	if(name)
		rc = cmd_reply(ctx, key, name, url.buf, webcal.buf, NULL);
	else if(kind == BOT_LINK_CHAT)
		rc = cmd_reply(ctx, key, url.buf, webcal.buf, page.buf, NULL);
	else
		rc = cmd_reply(ctx, key, url.buf, webcal.buf, NULL);
out:
	strbuf_release(&url);
	strbuf_release(&webcal);
	strbuf_release(&page);
	return rc;
}

/* "/agenda me": the sender's own feed, which is theirs alone: in a private
 * chat it is the reply; elsewhere it goes privately and the chat hears
 * that it went. */
static int ca__me(struct cmd_ctx *ctx, char *args)
{
	if(*args)
		return CMD_USAGE;
	if(ctx->ev->is_private)
		return ca__reply_link(ctx, "agenda.me", BOT_LINK_PERSON, ctx->user_id, NULL);
	struct bot *b = ctx->bot;
	struct strbuf url = STRBUF_INIT, webcal = STRBUF_INIT, body = STRBUF_INIT;
	int rc = CMD_ERROR;
	if(b->web->link(b->web_user, BOT_LINK_PERSON, ctx->chat->id, ctx->user_id, &url))
		goto out;
	ca__webcal(&webcal, url.buf);
	i18n_fmt(&body, cmd_lang(ctx), "agenda.me", url.buf, webcal.buf, NULL);
	if(url.oom || webcal.oom || body.oom ||
	   !outbox_push(ctx->out, ACTION_SEND_PRIVATE, ctx->ev->platform, ctx->ev->sender_id, body.buf))
		goto out;
	rc = cmd_reply(ctx, "agenda.me_sent", NULL);
out:
	strbuf_release(&url);
	strbuf_release(&webcal);
	strbuf_release(&body);
	return rc;
}

/* "/agenda new link" (admins): the chat's links and its groups' stop
 * working; the reply gives the chat's new one. */
static int ca__renew(struct cmd_ctx *ctx, char *args)
{
	struct strbuf w = STRBUF_INIT;
	text_fold(&w, args);
	bool usage = w.buf && *w.buf && strcmp(w.buf, "link") && strcmp(w.buf, "lien") && strcmp(w.buf, "links") &&
	             strcmp(w.buf, "liens");
	strbuf_release(&w);
	if(usage)
		return CMD_USAGE;
	struct bot *b = ctx->bot;
	if(b->web->revoke(b->web_user, ctx->chat->id))
		return CMD_ERROR;
	return ca__reply_link(ctx, "agenda.renewed", BOT_LINK_CHAT, 0, NULL);
}

/* "/agenda GROUP": the feed of the chat's open group called so. */
static int ca__group(struct cmd_ctx *ctx, char *args)
{
	struct strbuf key = STRBUF_INIT;
	struct db_group g;
	text_fold(&key, args);
	int found = key.oom ? -1 : db_group_find(ctx->bot->db, ctx->chat->id, key.buf, &g);
	strbuf_release(&key);
	if(found < 0)
		return CMD_ERROR;
	if(!found)
		return cmd_reply(ctx, "agenda.no_group", args, NULL);
	return ca__reply_link(ctx, "agenda.group", BOT_LINK_GROUP, g.id, g.name);
}

/* clang-format off: a table reads best one row to a line */
static const struct subcommand ca__subs[] = {
	{ .name = "me", .aliases = NAMES("moi"), .perm = PERM_ANYONE, .handler = ca__me },
	{ .name = "new", .aliases = NAMES("nouveau"), .perm = PERM_ADMIN, .handler = ca__renew },
	{ .name = NULL },
};
static const struct subcommand ca__group_row = {
	.name = "group", .min_words = 1, .perm = PERM_ANYONE, .handler = ca__group
};
/* clang-format on */

int cmd_agenda(struct cmd_ctx *ctx)
{
	if(!ctx->bot->web)
		return cmd_reply(ctx, "agenda.off", NULL);
	char *args = ctx->args;
	char *first = cmd_next_word(&args);
	if(!first)
		return ca__reply_link(ctx, "agenda.chat", BOT_LINK_CHAT, 0, NULL);
	const struct subcommand *row = dispatch_find_sub(ca__subs, first);
	if(row)
		return dispatch_run_sub(ctx, row, args);
	/* A group's name, which may hold spaces: the words read whole again. */
	size_t len = strlen(first);
	if(args > first + len)
		first[len] = ' ';
	return dispatch_run_sub(ctx, &ca__group_row, ctx->args);
}
