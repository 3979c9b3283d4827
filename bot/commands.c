/*
 * The command table.  Order is the order of /help.  Names and aliases are
 * compared folded (case and accents ignored), so "/aide" and "/Aide" are one.
 */
#include "bot/commands.h"

/* clang-format off: a table reads best one row to a line */
#define ALIASES(...) (const char *const[]){ __VA_ARGS__, NULL }

const struct command commands[] = {
	{ .name = "help", .aliases = ALIASES("aide"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_help },
	{ .name = "start", .aliases = ALIASES("bienvenue", "demarrer"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_start },
	{ .name = "meetup", .aliases = ALIASES("rencontre", "rdv", "sortie"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_meetup },
	{ .name = "vote", .aliases = ALIASES("voter"), .min_words = 1,
	  .perm = PERM_ANYONE, .handler = cmd_vote, .flags = CMD_PERSONAL },
	{ .name = "poll", .aliases = ALIASES("sondage"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_poll },
	{ .name = "rsvp", .aliases = ALIASES("participe", "jeviens"), .min_words = 1,
	  .perm = PERM_ANYONE, .handler = cmd_rsvp, .flags = CMD_PERSONAL },
	{ .name = "interest", .aliases = ALIASES("envie", "interet"), .min_words = 1,
	  .perm = PERM_ANYONE, .handler = cmd_interest },
	{ .name = "interests", .aliases = ALIASES("envies", "interets"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_interests },
	{ .name = "group", .aliases = ALIASES("groupe"), .min_words = 1,
	  .perm = PERM_ANYONE, .handler = cmd_group },
	{ .name = "mygroups", .aliases = ALIASES("mesgroupes"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_mygroups },
	{ .name = "remind", .aliases = ALIASES("rappel", "rappels"), .min_words = 0,
	  .perm = PERM_ADMIN_TO_SET, .handler = cmd_remind },
	{ .name = "nudge", .aliases = ALIASES("relance"), .min_words = 0,
	  .perm = PERM_ADMIN_TO_SET, .handler = cmd_nudge },
	{ .name = "cancel", .aliases = ALIASES("annuler", "stop"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_cancel_dialog, .flags = CMD_HIDDEN },
	{ .name = "config", .aliases = ALIASES("reglage"), .min_words = 1,
	  .perm = PERM_ADMIN_TO_SET, .handler = cmd_config },
	{ .name = "forget", .aliases = ALIASES("oublie-moi", "oublier"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_forget },
	{ .name = "export", .aliases = ALIASES("exporter"), .min_words = 1,
	  .perm = PERM_ANYONE, .handler = cmd_export },
	{ .name = "lang", .aliases = ALIASES("langue", "language"), .min_words = 0,
	  .perm = PERM_ADMIN_TO_SET, .handler = cmd_lang_handler },
	{ .name = "tz", .aliases = ALIASES("fuseau", "timezone"), .min_words = 0,
	  .perm = PERM_ADMIN_TO_SET, .handler = cmd_tz },
	{ .name = "about", .aliases = ALIASES("apropos", "version"), .min_words = 0,
	  .perm = PERM_ANYONE, .handler = cmd_about },
};
/* clang-format on */

const int ncommands = (int)(sizeof(commands) / sizeof(commands[0]));
