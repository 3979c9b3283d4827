#include "lib/strbuf.h"

#include <stdbool.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

char strbuf__empty[1];

void strbuf_init(struct strbuf *sb)
{
	sb->buf = strbuf__empty;
	sb->len = 0;
	sb->alloc = 0;
	sb->oom = false;
}

void strbuf_release(struct strbuf *sb)
{
	if(sb->alloc)
		free(sb->buf);
	strbuf_init(sb);
}

char *strbuf_detach(struct strbuf *sb)
{
	char *out = NULL;
	if(!sb->oom) {
		out = sb->alloc ? sb->buf : strdup("");
		if(sb->alloc)
			sb->alloc = 0;
	}
	strbuf_release(sb);
	return out;
}

void strbuf_reset(struct strbuf *sb)
{
	strbuf_setlen(sb, 0);
	sb->oom = false;
}

int strbuf_grow(struct strbuf *sb, size_t extra)
{
	if(sb->oom)
		return -1;
	if(sb->len + extra + 1 <= sb->alloc)
		return 0;
	if(extra > ((size_t)-1) / 2 - sb->len) {
		sb->oom = true;
		return -1;
	}
	size_t want = sb->alloc ? sb->alloc : 64;
	while(want < sb->len + extra + 1)
		want *= 2;
	char *nb = realloc(sb->alloc ? sb->buf : NULL, want);
	if(!nb) {
		sb->oom = true;
		return -1;
	}
	if(!sb->alloc)
		nb[0] = '\0';
	sb->buf = nb;
	sb->alloc = want;
	return 0;
}

int strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if(strbuf_grow(sb, len))
		return -1;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int strbuf_adds(struct strbuf *sb, const char *s)
{
	return strbuf_add(sb, s, strlen(s));
}

int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	/* Formatted straight into the room left, and once more only when it
	 * did not fit: most calls format once. */
	if(sb->oom || strbuf_grow(sb, 64))
		return -1;
	va_list ap;
	va_start(ap, fmt);
	size_t room = sb->alloc - sb->len;
	int n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
	va_end(ap);
	if(n < 0) {
		sb->buf[sb->len] = '\0';
		return -1;
	}
	if((size_t)n >= room) {
		if(strbuf_grow(sb, (size_t)n)) {
			sb->buf[sb->len] = '\0';
			return -1;
		}
		va_start(ap, fmt);
		vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	sb->len += (size_t)n;
	return 0;
}

/* Appends s with &, <, > and " escaped, and the apostrophe too when
 * apos is set. */
static int strbuf__add_html(struct strbuf *sb, const char *s, bool apos)
{
	const char *run = s;
	for(; *s; s++) {
		const char *rep = NULL;
		switch(*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			if(!apos)
				continue;
			rep = "&#39;";
			break;
		default:
			continue;
		}
		strbuf_add(sb, run, (size_t)(s - run));
		strbuf_adds(sb, rep);
		run = s + 1;
	}
	return strbuf_adds(sb, run);
}

int strbuf_add_html(struct strbuf *sb, const char *s)
{
	return strbuf__add_html(sb, s, false);
}

int strbuf_add_html_all(struct strbuf *sb, const char *s)
{
	return strbuf__add_html(sb, s, true);
}

/* Whether none of the 8 bytes of w needs a look of its own in a JSON
 * string: a control character, a quote, a backslash or a byte of a
 * multibyte character (the classic test for a zero byte, on w and on w
 * with each byte xored with the quote and with the backslash). */
static bool strbuf__json_plain8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
	return !((w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs);
}

int strbuf_add_json(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	if(!s)
		return strbuf_add(sb, "null", 4);
	/* One pass: the UTF-8 checked as it is copied (the text is taken back
	 * when it is not), the plain text skipped eight bytes at a time. */
	size_t mark = sb->len;
	strbuf_addc(sb, '"');
	const char *run = s, *end = s + strlen(s);
	for(const char *p = s; *p;) {
		uint64_t w;
		if(end - p >= 8) {
			memcpy(&w, p, 8);
			if(strbuf__json_plain8(w)) {
				p += 8;
				continue;
			}
		}
		unsigned char c = (unsigned char)*p;
		if(c >= 0x80) {
			size_t n = c >= 0xC2 && c <= 0xDF   ? 2
			           : c >= 0xE0 && c <= 0xEF ? 3
			           : c >= 0xF0 && c <= 0xF4 ? 4
			                                    : 0;
			if(!n || strnlen(p, n) < n || !utf8_valid(p, n)) {
				strbuf_setlen(sb, mark);
				return -1;
			}
			p += n;
			continue;
		}
		if(c >= 0x20 && c != '"' && c != '\\') {
			p++;
			continue;
		}
		strbuf_add(sb, run, (size_t)(p - run));
		run = ++p;
		char esc[7] = { '\\', (char)c, 0 };
		switch(c) {
		case '"':
		case '\\':
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
		}
		strbuf_adds(sb, esc);
	}
	strbuf_adds(sb, run);
	return strbuf_addc(sb, '"');
}

void strbuf_setlen(struct strbuf *sb, size_t len)
{
	if(!sb->alloc)
		return;
	if(len > sb->len)
		len = sb->len;
	sb->len = len;
	sb->buf[len] = '\0';
}

void strbuf_trim(struct strbuf *sb)
{
	size_t start = 0;
	while(start < sb->len &&
	      (sb->buf[start] == ' ' || sb->buf[start] == '\t' || sb->buf[start] == '\n' || sb->buf[start] == '\r'))
		start++;
	size_t end = sb->len;
	while(end > start && (sb->buf[end - 1] == ' ' || sb->buf[end - 1] == '\t' || sb->buf[end - 1] == '\n' ||
	                      sb->buf[end - 1] == '\r'))
		end--;
	if(!sb->alloc)
		return;
	memmove(sb->buf, sb->buf + start, end - start);
	sb->len = end - start;
	sb->buf[sb->len] = '\0';
}
