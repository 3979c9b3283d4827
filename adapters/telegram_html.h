/*
 * telegram_html: the HTML the Telegram adapter sends, measured and cut the
 * way Telegram reads it, without any I/O (unit-tested and fuzzed on its own).
 *
 * Telegram parses a message's HTML into plain text and entities, and refuses
 * the whole message (400 "can't parse entities") when a tag is not closed,
 * is closed out of order or is unknown, or when a '<' or '&' is neither a
 * tag nor an entity.  Its limit, 4,096, counts the text once parsed (tags
 * dropped, each entity one character) in UTF-16 code units.  So a long
 * message is cut between characters of that text, never inside a tag or an
 * entity, and each part closes the tags open at its end and opens them
 * again at the start of the next: every part is valid on its own.
 */
#ifndef ENSEMBLE_TELEGRAM_HTML_H
#define ENSEMBLE_TELEGRAM_HTML_H

#include <stddef.h>

#include "lib/strbuf.h"

#define TG_MAX_TEXT 4096 /* UTF-16 code units of parsed text in one message */

/* Appends light HTML as Telegram HTML: the same tags, and mentions
 * (href="mention:ID") as tg://user?id=ID links. */
int tg_render_html(struct strbuf *out, const char *light);

/* The length of html as Telegram counts it: UTF-16 code units of its text,
 * tags dropped and entities decoded. */
size_t tg_html_units(const char *html);

/* Appends html's text as plain text: tags dropped, entities decoded (what
 * a message refused as HTML is sent as instead).  0 or -1. */
int tg_html_plain(struct strbuf *out, const char *html);

/* Cuts html into parts of at most max units (tg_html_units): at the last
 * line break that fits, else at the last space (preferably outside any
 * tag), else between two characters; never inside a tag or an entity.
 * Each part is valid HTML on its own (the tags open at a cut are closed
 * there and opened again in the next part); the line break or space at a
 * cut is dropped, and a part that would show nothing but white space is
 * left out.  Fills *parts (caller frees each and the array) and returns
 * their number, or -1 when out of memory (or max is 0). */
long tg_split(const char *html, size_t max, char ***parts);

/* Writes "… and N more" (in the chat's language) to out: the mark that
 * N items, or lines, were left out.  0 or -1. */
typedef int (*tg_more_fn)(struct strbuf *out, long n, void *user);

/* Appends html shortened to at most max units, for a message that must stay
 * one (it is edited later): the last items of its longest lists (a line of
 * items separated by ", " outside any tag) are left out, each such line
 * ending with more(N).  When that is not enough, the text is cut as
 * tg_split cuts its first part, followed by more(N) on a line of its own,
 * N counting the lines left out (whole or in part).  html that fits is
 * appended as it is.  0 or -1. */
int tg_shorten(struct strbuf *out, const char *html, size_t max, tg_more_fn more, void *user);

#endif
