/*
 * commands: the handlers the command table (commands.c) points at.  Each
 * takes the context the dispatcher built and returns an enum cmd_result.
 */
#ifndef ENSEMBLE_COMMANDS_H
#define ENSEMBLE_COMMANDS_H

#include "bot/dispatch.h"

/* cmd_core.c */
int cmd_help(struct cmd_ctx *ctx);
int cmd_start(struct cmd_ctx *ctx);
int cmd_lang_handler(struct cmd_ctx *ctx);
int cmd_tz(struct cmd_ctx *ctx);
int cmd_about(struct cmd_ctx *ctx);

/* cmd_meetup.c */
int cmd_meetup(struct cmd_ctx *ctx);
int cmd_vote(struct cmd_ctx *ctx);
int cmd_rsvp(struct cmd_ctx *ctx);
int cmd_poll(struct cmd_ctx *ctx);
int cmd_cancel_dialog(struct cmd_ctx *ctx);
/* cmd_remind.c */
int cmd_remind(struct cmd_ctx *ctx);
int cmd_nudge(struct cmd_ctx *ctx);
/* cmd_group.c */
int cmd_interest(struct cmd_ctx *ctx);
int cmd_interests(struct cmd_ctx *ctx);
int cmd_group(struct cmd_ctx *ctx);
int cmd_mygroups(struct cmd_ctx *ctx);
int cmd_config(struct cmd_ctx *ctx);
int cmd_forget(struct cmd_ctx *ctx);
int cmd_export(struct cmd_ctx *ctx);
/* cmd_agenda.c */
int cmd_agenda(struct cmd_ctx *ctx);
/* A plain message from someone in a guided dialogue: the next answer. */
int cmd_dialog_answer(struct cmd_ctx *ctx, const char *text);

#endif
