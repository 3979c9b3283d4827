/*
 * strbuf: a growable, always NUL-terminated byte string (after Git's).
 *
 * An allocation failure does not abort: the buffer keeps what it had, sets
 * its sticky `oom` flag and every later append is a no-op returning -1, so a
 * caller may build a whole message and check once at the end.
 */
#ifndef ENSEMBLE_STRBUF_H
#define ENSEMBLE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf; /* never NULL after strbuf_init; "" when empty */
	size_t len;
	size_t alloc;
	bool oom;
};

#define STRBUF_INIT \
	{ \
		.buf = strbuf__empty, .len = 0, .alloc = 0, .oom = false \
	}
extern char strbuf__empty[];

void strbuf_init(struct strbuf *sb);
/* Frees the buffer and leaves sb empty and reusable. */
void strbuf_release(struct strbuf *sb);
/* Hands the buffer to the caller (who frees it) and leaves sb empty.
 * Returns NULL if an allocation failed while building it. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);

int strbuf_grow(struct strbuf *sb, size_t extra);
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_adds(struct strbuf *sb, const char *s);
/* One character; inline, since byte-by-byte builders call it most. */
static inline int strbuf_addc(struct strbuf *sb, char c)
{
	if(sb->len + 1 < sb->alloc && !sb->oom) {
		sb->buf[sb->len++] = c;
		sb->buf[sb->len] = '\0';
		return 0;
	}
	return strbuf_add(sb, &c, 1);
}
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, > and " escaped for HTML text and attributes. */
int strbuf_add_html(struct strbuf *sb, const char *s);
/* The same, and the apostrophe as &#39; too: safe in an attribute quoted
 * either way (the web pages).  Telegram's HTML keeps strbuf_add_html. */
int strbuf_add_html_all(struct strbuf *sb, const char *s);
/* Appends s as a JSON string between quotes ("null" for NULL), escaped as
 * jansson's writer escapes it: quotes, backslashes and control characters
 * (\b \f \n \r \t, the others as \u00XX); other bytes as they are.  Text
 * that is not valid UTF-8 appends nothing and returns -1, as jansson
 * refuses such a string. */
int strbuf_add_json(struct strbuf *sb, const char *s);
void strbuf_setlen(struct strbuf *sb, size_t len);
void strbuf_trim(struct strbuf *sb);

#endif
