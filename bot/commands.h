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

#endif
