/*
 * jview: JSON read in place (see jview.h).  jview_check follows jansson's
 * lexer and parser (load.c) rule by rule, without recursion: a bit a level
 * says whether it is an object or an array.  The accessors then trust the
 * text: a value ends where its brackets close.
 */
#include "lib/jview.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

#define JVIEW_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

static const char *jview__space(const char *p, const char *end)
{
	while(p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The four hex digits at p as *out: 0, or -1. */
static int jview__hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if(end - p < 4)
		return -1;
	for(int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if(d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

/* The \u escape at p (at the 'u'): the byte after it, a surrogate pair's
 * second half included, and the code point in *cp; NULL when jansson
 * refuses it (bad digits, NUL, a lone surrogate). */
static const char *jview__unicode(const char *p, const char *end, unsigned *cp)
{
	unsigned u, lo;
	if(jview__hex4(p + 1, end, &u) || u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
		return NULL;
	p += 5;
	if(u >= 0xD800 && u <= 0xDBFF) {
		if(end - p < 6 || p[0] != '\\' || p[1] != 'u' || jview__hex4(p + 2, end, &lo) || lo < 0xDC00 ||
		   lo > 0xDFFF)
			return NULL;
		u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
		p += 6;
	}
	*cp = u;
	return p;
}

/* Checks the string whose opening quote is at p: the byte after its
 * closing quote, or NULL. */
static const char *jview__check_string(const char *p, const char *end)
{
	for(p++; p < end;) {
		unsigned char c = (unsigned char)*p;
		unsigned cp;
		if(c == '"')
			return p + 1;
		if(c < 0x20)
			return NULL;
		if(c == '\\') {
			if(++p == end)
				return NULL;
			if(*p == 'u') {
				if(!(p = jview__unicode(p, end, &cp)))
					return NULL;
			} else if(strchr("\"\\/bfnrt", *p) && *p) {
				p++;
			} else {
				return NULL;
			}
			continue;
		}
		size_t n = c < 0x80                 ? 1
		           : c >= 0xC2 && c <= 0xDF ? 2
		           : c >= 0xE0 && c <= 0xEF ? 3
		           : c >= 0xF0 && c <= 0xF4 ? 4
		                                    : 0;
		if(!n || (size_t)(end - p) < n || (n > 1 && !utf8_valid(p, n)))
			return NULL;
		p += n;
	}
	return NULL;
}

/* Checks the number at p as jansson reads it: the byte after it, or NULL
 * (a malformed number, an integer beyond 64 bits, a real that
 * overflows). */
static const char *jview__check_number(const char *p, const char *end)
{
	const char *start = p;
	bool real = false;
	if(p < end && *p == '-')
		p++;
	if(p < end && *p == '0') {
		if(++p < end && *p >= '0' && *p <= '9')
			return NULL;
	} else if(p < end && *p >= '1' && *p <= '9') {
		while(p < end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if(p < end && *p == '.') {
		real = true;
		if(++p == end || *p < '0' || *p > '9')
			return NULL;
		while(p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if(p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		if(++p < end && (*p == '+' || *p == '-'))
			p++;
		if(p == end || *p < '0' || *p > '9')
			return NULL;
		while(p < end && *p >= '0' && *p <= '9')
			p++;
	}
	/* The conversion, to see whether it overflows as jansson's does. */
	size_t len = (size_t)(p - start);
	char small[64], *copy = len < sizeof(small) ? small : malloc(len + 1);
	if(!copy)
		return NULL;
	memcpy(copy, start, len);
	copy[len] = '\0';
	errno = 0;
	bool bad;
	if(real) {
		double d = strtod(copy, NULL);
		bad = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
	} else {
		(void)strtoll(copy, NULL, 10);
		bad = errno == ERANGE;
	}
	if(copy != small)
		free(copy);
	return bad ? NULL : p;
}

/* Checks one scalar at p (a string, a number, true, false or null): the
 * byte after it, or NULL. */
static const char *jview__check_scalar(const char *p, const char *end)
{
	static const char *const words[] = { "true", "false", "null" };
	const char *after = NULL;
	if(*p == '"')
		return jview__check_string(p, end);
	if(*p == '-' || (*p >= '0' && *p <= '9'))
		after = jview__check_number(p, end);
	for(size_t i = 0; !after && i < 3; i++) {
		size_t n = strlen(words[i]);
		if((size_t)(end - p) >= n && !memcmp(p, words[i], n))
			after = p + n;
	}
	/* jansson reads one byte past a number or a word and puts it back;
	 * a NUL put back so is skipped by its reader.  So is it here. */
	if(after && after < end && *after == '\0')
		after++;
	return after;
}

/* A member's key and its colon at p: the byte after the colon and the
 * spaces after it, or NULL. */
static const char *jview__check_key(const char *p, const char *end)
{
	if(p == end || *p != '"' || !(p = jview__check_string(p, end)))
		return NULL;
	p = jview__space(p, end);
	return p < end && *p == ':' ? jview__space(p + 1, end) : NULL;
}

int jview_check(const char *text, size_t len)
{
	const char *p = jview__space(text, text + len), *end = text + len;
	unsigned char objects[JVIEW_MAX_DEPTH / 8]; /* a bit a level: an object */
	int depth = 0;
	if(p == end || (*p != '{' && *p != '['))
		return -1;
	for(;;) {
		/* A value at p. */
		if(p == end)
			return -1;
		if(*p == '{' || *p == '[') {
			bool obj = *p == '{';
			if(depth == JVIEW_MAX_DEPTH)
				return -1;
			objects[depth / 8] =
				(unsigned char)((objects[depth / 8] & ~(1u << depth % 8)) | (unsigned)obj << depth % 8);
			depth++;
			p = jview__space(p + 1, end);
			if(p < end && *p == (obj ? '}' : ']'))
				p++, depth--;
			else if(!obj || (p = jview__check_key(p, end)))
				continue;
			else
				return -1;
		} else if(!(p = jview__check_scalar(p, end))) {
			return -1;
		}
		/* After a value: a comma and the next, or the ends of levels. */
		for(;;) {
			p = jview__space(p, end);
			if(depth == 0)
				return p == end ? 0 : -1;
			bool obj = objects[(depth - 1) / 8] >> (depth - 1) % 8 & 1;
			if(p < end && *p == ',') {
				p = jview__space(p + 1, end);
				if(obj && !(p = jview__check_key(p, end)))
					return -1;
				break;
			}
			if(p == end || *p != (obj ? '}' : ']'))
				return -1;
			p++;
			depth--;
		}
	}
}

/* ---- walking checked text ---- */

static const char *jview__ws(const char *p)
{
	while(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* The byte after the string whose opening quote is at p. */
static const char *jview__string_end(const char *p)
{
	for(p++; *(p += strcspn(p, "\"\\")) != '"'; p += 2)
		;
	return p + 1;
}

const char *jview_end(const char *v)
{
	if(*v == '"')
		return jview__string_end(v);
	if(*v != '{' && *v != '[') {
		while(!strchr(",}] \t\n\r", *v))
			v++;
		return *v ? v : v + 1; /* the NUL jansson skips (jview_check) */
	}
	/* Checked text: the brackets close before its end, and no NUL comes
	 * first, so strcspn finds them. */
	int depth = 0;
	for(;;) {
		v += strcspn(v, "\"{}[]");
		if(!*v) { /* the NUL after a number or a word */
			v++;
			continue;
		}
		if(*v == '"') {
			v = jview__string_end(v);
			continue;
		}
		depth += *v == '{' || *v == '[' ? 1 : -1;
		v++;
		if(depth == 0)
			return v;
	}
}

/* The next item or member after the value v, or NULL at its container's
 * end. */
static const char *jview__after(const char *v)
{
	const char *p = jview__ws(jview_end(v));
	return *p == ',' ? jview__ws(p + 1) : NULL;
}

const char *jview_first(const char *arr)
{
	if(!jview_is_array(arr))
		return NULL;
	const char *p = jview__ws(arr + 1);
	return *p == ']' ? NULL : p;
}

const char *jview_next(const char *item)
{
	return jview__after(item);
}

const char *jview_first_member(const char *obj)
{
	if(!jview_is_object(obj))
		return NULL;
	const char *p = jview__ws(obj + 1);
	return *p == '}' ? NULL : p;
}

const char *jview_member_value(const char *member)
{
	return jview__ws(jview__ws(jview__string_end(member)) + 1);
}

const char *jview_next_member(const char *member)
{
	return jview__after(jview_member_value(member));
}

/* True when the string at v has no escape: its bytes between the quotes
 * are the string, n of them. */
static bool jview__plain(const char *v, size_t *n)
{
	const char *e = jview__string_end(v) - 1;
	*n = (size_t)(e - v - 1);
	return !memchr(v + 1, '\\', *n);
}

bool jview_streq(const char *v, const char *s)
{
	size_t n;
	if(!v || *v != '"')
		return false;
	if(jview__plain(v, &n))
		return n == strlen(s) && !memcmp(v + 1, s, n);
	struct strbuf sb = STRBUF_INIT;
	bool eq = !jview_string(v, &sb) && !strcmp(sb.buf, s);
	strbuf_release(&sb);
	return eq;
}

bool jview_same_key(const char *a, const char *b)
{
	size_t na, nb;
	if(jview__plain(a, &na) && jview__plain(b, &nb))
		return na == nb && !memcmp(a + 1, b + 1, na);
	struct strbuf sa = STRBUF_INIT, sb = STRBUF_INIT;
	bool eq = !jview_string(a, &sa) && !jview_string(b, &sb) && sa.len == sb.len && !memcmp(sa.buf, sb.buf, sa.len);
	strbuf_release(&sa);
	strbuf_release(&sb);
	return eq;
}

const char *jview_get(const char *obj, const char *key)
{
	const char *found = NULL;
	jview_pick(obj, &key, 1, &found);
	return found;
}

void jview_pick(const char *obj, const char *const *keys, size_t n, const char **out)
{
	size_t lens[16];
	for(size_t i = 0; i < n; i++) {
		out[i] = NULL;
		lens[i] = i < 16 ? strlen(keys[i]) : 0;
	}
	for(const char *m = jview_first_member(obj); m; m = jview_next_member(m)) {
		size_t len;
		bool plain = jview__plain(m, &len);
		for(size_t i = 0; i < n; i++)
			if(plain && i < 16 ? len == lens[i] && !memcmp(m + 1, keys[i], len) : jview_streq(m, keys[i]))
				out[i] = jview_member_value(m);
	}
}

int jview_members(const char *obj, struct jview_member **out, size_t *n)
{
	size_t alloc = 0;
	*out = NULL;
	*n = 0;
	for(const char *m = jview_first_member(obj); m; m = jview_next_member(m)) {
		size_t len, i = 0;
		bool escaped = !jview__plain(m, &len);
		while(i < *n && (escaped || (*out)[i].escaped
		                         ? !jview_same_key((*out)[i].key, m)
		                         : (*out)[i].key_len != len || memcmp((*out)[i].key + 1, m + 1, len)))
			i++;
		if(i < *n) { /* a repeated key: its last value, its first place */
			(*out)[i].value = jview_member_value(m);
			continue;
		}
		if(*n == alloc) {
			size_t na = alloc ? alloc * 2 : 8;
			struct jview_member *nv = realloc(*out, na * sizeof(*nv));
			if(!nv) {
				free(*out);
				*out = NULL;
				*n = 0;
				return -1;
			}
			*out = nv;
			alloc = na;
		}
		(*out)[(*n)++] = (struct jview_member){
			.key = m, .value = jview_member_value(m), .key_len = len, .escaped = escaped
		};
	}
	return 0;
}

/* Appends code point cp as UTF-8. */
static void jview__utf8(struct strbuf *out, unsigned cp)
{
	char b[4];
	size_t n;
	if(cp < 0x80) {
		b[0] = (char)cp, n = 1;
	} else if(cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if(cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | (cp >> 6 & 0x3F)),
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	strbuf_add(out, b, n);
}

int jview_string(const char *v, struct strbuf *out)
{
	if(!v || *v != '"')
		return -1;
	const char *end = jview__string_end(v) - 1, *run = v + 1;
	for(const char *p = run; p < end;) {
		if(*p != '\\') {
			p++;
			continue;
		}
		strbuf_add(out, run, (size_t)(p - run));
		unsigned cp;
		char c = p[1];
		if(c == 'u') {
			p = jview__unicode(p + 1, end, &cp);
			jview__utf8(out, cp);
		} else {
			strbuf_addc(out, c == 'b'   ? '\b'
			                 : c == 'f' ? '\f'
			                 : c == 'n' ? '\n'
			                 : c == 'r' ? '\r'
			                 : c == 't' ? '\t'
			                            : c);
			p += 2;
		}
		run = p;
	}
	strbuf_add(out, run, (size_t)(end - run));
	return out->oom ? -1 : 0;
}

char *jview_strdup(const char *v)
{
	struct strbuf sb = STRBUF_INIT;
	if(jview_string(v, &sb)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

bool jview_integer(const char *v, long long *out)
{
	if(!v || (*v != '-' && (*v < '0' || *v > '9')))
		return false;
	const char *e = jview_end(v);
	for(const char *p = v; p < e; p++)
		if(*p == '.' || *p == 'e' || *p == 'E')
			return false;
	*out = strtoll(v, NULL, 10);
	return true;
}

bool jview_is_true(const char *v)
{
	return v && *v == 't';
}

bool jview_is_object(const char *v)
{
	return v && *v == '{';
}

bool jview_is_array(const char *v)
{
	return v && *v == '[';
}
