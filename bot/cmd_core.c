/*
 * The commands of the bot itself: /help, /start, /lang, /tz, /about.
 */
#include "bot/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/dates.h"
#include "bot/i18n.h"
#include "lib/clock.h"
#include "lib/text.h"
#include "lib/tz.h"
#include "storage/db.h"

static const char *cmd__msg(const struct cmd_ctx *ctx, const struct command *c, const char *part)
{
	char key[64];
	snprintf(key, sizeof(key), "cmd.%s.%s", c->name, part);
	return i18n_lookup(cmd_lang(ctx), key);
}

/* Appends "/name (/other, /other)": the display name, then every other
 * name the command answers to. */
static void cmd__names(struct strbuf *sb, const char *lang, const struct command *c)
{
	const char *primary = dispatch_display_name(lang, c);
	strbuf_addc(sb, '/');
	strbuf_add_html(sb, primary);
	bool first = true;
	const char *others[16];
	int n = 0;
	others[n++] = c->name;
	for(const char *const *a = c->aliases; a && *a && n < 16; a++)
		others[n++] = *a;
	for(int i = 0; i < n; i++) {
		if(!strcmp(others[i], primary))
			continue;
		strbuf_adds(sb, first ? " (/" : ", /");
		strbuf_add_html(sb, others[i]);
		first = false;
	}
	if(!first)
		strbuf_addc(sb, ')');
}

static int cmd__help_one(struct cmd_ctx *ctx, const struct command *c)
{
	const char *lang = cmd_lang(ctx);
	struct strbuf sb = STRBUF_INIT, names = STRBUF_INIT;
	cmd__names(&names, lang, c);
	char key[64];
	snprintf(key, sizeof(key), "cmd.%s.details", c->name);
	const char *details = i18n_lookup(lang, key);
	i18n_fmt_raw(&sb, lang, "help.one", 0x1 | 0x2 | 0x4 | 0x8, names.buf, cmd__msg(ctx, c, "summary"),
	             cmd__msg(ctx, c, "usage"), cmd__msg(ctx, c, "example"), NULL);
	if(details) {
		strbuf_addc(&sb, '\n');
		strbuf_adds(&sb, details);
	}
	if(c->perm == PERM_ADMIN) {
		strbuf_addc(&sb, '\n');
		i18n_fmt(&sb, lang, "help.admin_only", NULL);
	}
	int rc = sb.oom ? -1 : cmd_reply_text(ctx, sb.buf);
	strbuf_release(&sb);
	strbuf_release(&names);
	return rc;
}

int cmd_help(struct cmd_ctx *ctx)
{
	const char *lang = cmd_lang(ctx);
	char *rest = ctx->args;
	char *word = cmd_next_word(&rest);
	if(word) {
		if(*word == '/' || *word == '!')
			word++;
		const struct command *c = dispatch_find(word);
		if(!c)
			return cmd_reply(ctx, "help.unknown", word, NULL);
		return cmd__help_one(ctx, c);
	}
	struct strbuf sb = STRBUF_INIT;
	i18n_fmt(&sb, lang, "help.header", NULL);
	for(int i = 0; i < ncommands; i++) {
		const struct command *c = &commands[i];
		if(c->flags & CMD_HIDDEN)
			continue;
		strbuf_adds(&sb, "\n• <b>/");
		strbuf_add_html(&sb, dispatch_display_name(lang, c));
		strbuf_adds(&sb, "</b> — ");
		strbuf_adds(&sb, cmd__msg(ctx, c, "summary"));
	}
	strbuf_addc(&sb, '\n');
	i18n_fmt(&sb, lang, "help.footer", NULL);
	int rc = sb.oom ? -1 : cmd_reply_text(ctx, sb.buf);
	strbuf_release(&sb);
	return rc;
}

int cmd_start(struct cmd_ctx *ctx)
{
	return cmd_reply(ctx, "start.text", NULL);
}

int cmd_lang_handler(struct cmd_ctx *ctx)
{
	struct strbuf langs = STRBUF_INIT;
	int rc;
	/* "English (en), français (fr)": each language in its own words. */
	for(size_t i = 0; i < i18n_lang_count(); i++) {
		const char *code = i18n_lang_code(i);
		strbuf_addf(&langs, "%s%s (%s)", i ? ", " : "", i18n_lookup_exact(code, "lang.name"), code);
	}
	char *rest = ctx->args;
	char *word = cmd_next_word(&rest);
	if(!word) {
		rc = cmd_reply(ctx, "lang.current", i18n_lookup(ctx->chat->lang, "lang.name"), langs.buf, NULL);
		goto out;
	}
	struct strbuf code = STRBUF_INIT;
	text_fold(&code, word);
	if(rest && *rest) {
		strbuf_release(&code);
		rc = CMD_USAGE;
		goto out;
	}
	if(!i18n_has_lang(code.buf)) {
		rc = cmd_reply(ctx, "lang.unknown", word, langs.buf, NULL);
		strbuf_release(&code);
		goto out;
	}
	rc = db_chat_set_lang(ctx->bot->db, ctx->chat->id, code.buf);
	if(!rc) {
		text_copy(ctx->chat->lang, sizeof(ctx->chat->lang), code.buf);
		rc = cmd_reply(ctx, "lang.set", NULL);
	}
	strbuf_release(&code);
out:
	strbuf_release(&langs);
	return rc;
}

int cmd_tz(struct cmd_ctx *ctx)
{
	const char *lang = cmd_lang(ctx);
	char *rest = ctx->args;
	char *zone = cmd_next_word(&rest);
	if(zone && rest && *rest)
		return CMD_USAGE;
	if(zone && !tz_valid(zone))
		return cmd_reply(ctx, "tz.unknown", zone, NULL);
	if(zone) {
		if(db_chat_set_tz(ctx->bot->db, ctx->chat->id, zone))
			return CMD_ERROR;
		text_copy(ctx->chat->tz, sizeof(ctx->chat->tz), zone);
	}
	struct strbuf when = STRBUF_INIT;
	time_t now = clock_now();
	date_format_when(&when, lang, ctx->chat->tz, now, now);
	int rc = cmd_reply(ctx, zone ? "tz.set" : "tz.current", ctx->chat->tz, when.buf, NULL);
	strbuf_release(&when);
	return rc;
}

int cmd_about(struct cmd_ctx *ctx)
{
	int64_t up_ms = clock_now_ms() - ctx->bot->started_ms;
	struct strbuf up = STRBUF_INIT;
	int minutes = (int)(up_ms / 60000);
	if(minutes < 1)
		i18n_fmt(&up, cmd_lang(ctx), "about.under_a_minute", NULL);
	else
		date_format_duration(&up, cmd_lang(ctx), minutes);
	/* Any member may ask: the version and the uptime, nothing about the
	 * server's files (the log names the database for the operator). */
	int rc = cmd_reply(ctx, "about.text", ENSEMBLE_VERSION, up.buf, NULL);
	strbuf_release(&up);
	return rc;
}
