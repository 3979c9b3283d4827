/*
 * json_text: a jansson value written as compact JSON text, as
 * json_dumps(v, JSON_COMPACT) writes it, at a fraction of its cost.
 *
 * json_dumps keeps a table of the containers it is inside, to refuse a
 * value that contains itself, and writes each string through a callback a
 * few bytes at a time: for the body of a Telegram send, some 26,000
 * instructions, some 7 % of the bot's work an update.  The bodies the
 * adapters build are trees they just made, with no cycle, so this writes
 * them straight into one buffer, strings through strbuf_add_json (the
 * same escapes as jansson's writer).
 */
#ifndef ENSEMBLE_JSON_TEXT_H
#define ENSEMBLE_JSON_TEXT_H

#include <jansson.h>

/* The text of v, an object or an array, in a new allocation the caller
 * frees: the same bytes json_dumps(v, JSON_COMPACT) would give.  A value
 * this writer leaves to jansson (a real number, a string holding a NUL)
 * has the whole of v written by json_dumps.  NULL when v is
 * NULL, no object or array, or memory ran out, as json_dumps. */
char *json_text(const json_t *v);

#endif
