/*
 * dispatch: from a text message to a command handler.
 *
 * The command table (commands.c) lists each command with its name, its
 * French and English aliases, the number of words it needs, who may run it,
 * its handler and its flags; /help is generated from it, with the summary,
 * usage and example of each command taken from the catalogues under
 * cmd.NAME.summary, cmd.NAME.usage and cmd.NAME.example.
 *
 * Commands start with '/' or '!'.  "/cmd@Name" is ours when Name is the
 * configured bot name (any case) and ignored otherwise.
 */
#ifndef ENSEMBLE_DISPATCH_H
#define ENSEMBLE_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "bot/action.h"
#include "bot/event.h"
#include "lib/strbuf.h"
#include "storage/db.h"

struct bot;

/* The longest text the core reads, in bytes; longer commands are refused. */
#define DISPATCH_MAX_TEXT 4096

/*
 * Who may run a command or a sub-command.  The table (commands.c, and the
 * sub-command tables of cmd_meetup.c and cmd_group.c) declares it, and
 * cmd_permit() checks it, with every refusal text.  The dispatcher checks
 * a command's PERM_ADMIN before its handler runs, and a sub-command's
 * permission before its handler runs (dispatch_run_sub), once the row's
 * resolver has found the object it is about (the meetup, the group).
 * Where the permission covers only a change and reading is anyone's
 * (PERM_ADMIN_TO_SET: "/tz" shows, "/tz Europe/Paris" sets), the row says
 * how many words only read (read_words); with more, the dispatcher checks
 * the permission before the handler runs.  No handler calls cmd_permit():
 * a command whose forms need different permissions ("/remind me", "/remind
 * #ID OFFSETS", "/remind OFFSETS") gives each form a sub-command row, and
 * its handler only tells the forms apart.
 */
enum cmd_perm {
	PERM_ANYONE,         /* every member of the chat */
	PERM_ADMIN,          /* the chat's admins (platform roles, or the first user) */
	PERM_ADMIN_TO_SET,   /* anyone reads the setting; the admins change it */
	PERM_MEETUP_CREATOR, /* the meetup's creator, or an admin */
	PERM_MEETUP_OWNER,   /* the creator, the meetup's group's contact persons, or an admin */
	PERM_GROUP_CONTACT,  /* the group's contact persons, or an admin */
};

enum cmd_result {
	CMD_OK = 0,
	CMD_USAGE = 1,  /* bad or missing arguments: the dispatcher shows usage */
	CMD_ERROR = -1, /* storage or memory failure: the transaction rolls back */
};

#define CMD_HIDDEN 0x1 /* not listed by /help */
#define CMD_PERSONAL \
	0x2 /* records the sender's own choice (a vote, an \
	       answer): refused to a sender who stands for \
	       several people (event.anonymous) */

struct subcommand;
struct cmd_object;

struct cmd_ctx {
	struct bot *bot;
	const struct event *ev;
	struct db_chat *chat;
	int64_t user_id; /* the sender's row in users */
	bool is_admin;
	const struct command *cmd;
	const struct subcommand *sub; /* the sub-command running, or NULL */
	struct cmd_object *obj;       /* what its resolver found, or NULL */
	char *args;                   /* the text after the command word, trimmed */
	struct outbox *out;
};

struct command {
	const char *name;           /* canonical (English) name */
	const char *const *aliases; /* other names, French and English */
	int min_words;              /* words args must hold at least */
	enum cmd_perm perm;         /* who may run it; a sub-command's row
	                               says it for that sub-command */
	int read_words;             /* PERM_ADMIN_TO_SET: the words that only
	                               read the setting; more ask a change */
	int (*handler)(struct cmd_ctx *ctx);
	unsigned flags;
};

/* What a permission is checked against, and what a sub-command's
 * handler then works on: the meetup (and the verb a refusal names, a
 * catalogue key), or the group and its members.  Only the fields the
 * permission needs are read.  A resolver (below) fills it, found set,
 * and the object owns what it holds then (meetup is malloc'd; text holds
 * what the arguments left to the handler may point into), freed by
 * dispatch_run_sub. */
struct cmd_object {
	struct db_meetup *meetup;
	const char *verb_key;
	struct db_group group;
	struct db_people members;
	struct strbuf text;
	bool found;
};

/* A row of a command's sub-command table ("/meetup cancel", "/group
 * close"), Redis-style: its name, its other names (written folded), the
 * words it needs after its name, who may run it, the object its
 * permission is about, its handler, and a number both read (the verb of
 * /meetup's changes).
 *
 * resolve (NULL when the permission needs no object) reads the object
 * from *args, leaving in *args what the handler reads, and replies itself
 * when there is none or it cannot be changed now (not found, wrong
 * state).  It returns a cmd_result; obj->found tells whether the
 * sub-command goes on.  handler receives the words after the sub-command's
 * name (or what the resolver left) and finds the object in ctx->obj. */
struct subcommand {
	const char *name;
	const char *const *aliases;
	int min_words;
	enum cmd_perm perm;
	int (*resolve)(struct cmd_ctx *ctx, char **args, struct cmd_object *obj);
	int (*handler)(struct cmd_ctx *ctx, char *args);
	int arg;
};

extern const struct command commands[];
extern const int ncommands;

/* Finds a command by name or alias, folded (case and accents ignored). */
const struct command *dispatch_find(const char *name);

/* The name cmd goes by in lang: the catalogue's cmd.NAME.name (the French
 * say /aide), or its canonical name. */
const char *dispatch_display_name(const char *lang, const struct command *cmd);

/* Finds the row of subs (ended by a row without a name) that word names,
 * folded (the rows' names and aliases are written folded); NULL when none
 * does. */
const struct subcommand *dispatch_find_sub(const struct subcommand *subs, const char *word);

/* Runs the sub-command sub with args: CMD_USAGE when args holds fewer
 * than its min_words, else its resolver, its permission (refused with the
 * reply of cmd_permit), its handler.  Returns the handler's cmd_result,
 * or the resolver's. */
int dispatch_run_sub(struct cmd_ctx *ctx, const struct subcommand *sub, char *args);

/* Checks the permission the table declares for what runs (ctx->sub's row,
 * else ctx->cmd's) against obj (NULL when the permission needs none).
 * Returns 1 when the sender may, 0 when not (the refusal is queued as a
 * reply), -1 on a storage or memory error. */
int cmd_permit(struct cmd_ctx *ctx, const struct cmd_object *obj);

/* Makes the series of ensemble_commands_total (lib/metrics.h) of every
 * command of the table, at 0, so that each shows before its first use.
 * Called at start-up (bot_init); calling it again does nothing. */
void dispatch_metrics_init(void);

/* Runs the event through the dispatcher, appending replies to out.
 * Returns 0, or -1 on a storage error (the caller rolls back). */
int dispatch_event(struct bot *b, const struct event *ev, struct outbox *out);

/* Replies to the command message with the catalogue message key; the
 * arguments are NULL-terminated strings, HTML-escaped.  0 or -1. */
int cmd_reply(struct cmd_ctx *ctx, const char *key, ...);
/* Same with arguments marked raw by the bits of raw (see i18n_fmt_raw). */
int cmd_reply_raw(struct cmd_ctx *ctx, const char *key, unsigned raw, ...);
/* Replies with text already built (light HTML). */
int cmd_reply_text(struct cmd_ctx *ctx, const char *html);
/* Posts text in the chat without replying to anyone. */
int cmd_send_text(struct cmd_ctx *ctx, const char *html);
/* Replies with the command's usage line and example. */
int cmd_usage(struct cmd_ctx *ctx, const struct command *cmd);
/* The chat's language and zone. */
const char *cmd_lang(const struct cmd_ctx *ctx);

/* Splits the next white-space separated word off *s (modified in place);
 * returns it, or NULL at the end. */
char *cmd_next_word(char **s);

#endif
