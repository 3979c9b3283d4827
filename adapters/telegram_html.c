#include "adapters/telegram_html.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading Telegram's HTML ---- */

enum tg__atom_kind { TG__TEXT, TG__OPEN, TG__CLOSE };

/* One step through the HTML: a tag, or one character of its text (written
 * as is, or as an entity). */
struct tg__atom {
	enum tg__atom_kind kind;
	size_t len;       /* its bytes in the HTML */
	unsigned units;   /* the UTF-16 code units it shows as (0: a tag) */
	uint32_t cp;      /* TG__TEXT: the character shown */
	const char *name; /* a tag: its name, name_len bytes */
	size_t name_len;
};

/* A tag is looked for this far at most: the core's longest is a link. */
#define TG__TAG_MAX 2048

/* The length of the UTF-8 character at p and its code point; a byte that
 * starts no character is one U+FFFD (the core sends valid UTF-8). */
static size_t tg__char(const char *p, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t n;
	uint32_t c;
	if(s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if((s[0] & 0xE0) == 0xC0) {
		n = 2;
		c = s[0] & 0x1F;
	} else if((s[0] & 0xF0) == 0xE0) {
		n = 3;
		c = s[0] & 0x0F;
	} else if((s[0] & 0xF8) == 0xF0) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	for(size_t i = 1; i < n; i++) {
		if((s[i] & 0xC0) != 0x80) { /* also stops at the terminating NUL */
			*cp = 0xFFFD;
			return 1;
		}
		c = c << 6 | (s[i] & 0x3F);
	}
	*cp = c;
	return n;
}

static int tg__digit(char c, bool hex)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(hex && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if(hex && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The entity at p, as Telegram knows them (&lt; &gt; &amp; &quot; and
 * numeric ones): its length, with the character in *cp; 0 when p starts
 * none. */
static size_t tg__entity(const char *p, uint32_t *cp)
{
	static const struct {
		const char *text;
		uint32_t cp;
	} named[] = { { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' } };
	for(size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].text);
		if(!strncmp(p, named[i].text, n)) {
			*cp = named[i].cp;
			return n;
		}
	}
	if(p[1] != '#')
		return 0;
	bool hex = p[2] == 'x' || p[2] == 'X';
	const char *d = p + 2 + hex;
	uint32_t v = 0;
	size_t nd = 0;
	for(int k; nd < 7 && (k = tg__digit(d[nd], hex)) >= 0; nd++)
		v = v * (hex ? 16 : 10) + (uint32_t)k;
	if(!nd || d[nd] != ';' || v > 0x10FFFF)
		return 0;
	*cp = v;
	return (size_t)(d + nd + 1 - p);
}

/* Reads the atom at p (not at the end of the string); returns its length. */
static size_t tg__atom(const char *p, struct tg__atom *a)
{
	a->name = NULL;
	a->name_len = 0;
	if(*p == '<') {
		const char *end = memchr(p, '>', strnlen(p, TG__TAG_MAX));
		bool close = p[1] == '/';
		const char *name = p + 1 + close;
		size_t n = 0;
		while(end && name + n < end &&
		      ((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= 'A' && name[n] <= 'Z') ||
		       (name[n] >= '0' && name[n] <= '9') || name[n] == '-'))
			n++;
		if(end && n) {
			a->kind = close ? TG__CLOSE : TG__OPEN;
			a->name = name;
			a->name_len = n;
			a->units = 0;
			a->cp = 0;
			return a->len = (size_t)(end + 1 - p);
		}
		/* Not a tag: a '<' of the text (which the core escapes). */
	} else if(*p == '&') {
		size_t n = tg__entity(p, &a->cp);
		if(n) {
			a->kind = TG__TEXT;
			a->units = a->cp > 0xFFFF ? 2 : 1;
			return a->len = n;
		}
	}
	a->kind = TG__TEXT;
	a->len = tg__char(p, &a->cp);
	a->units = a->cp > 0xFFFF ? 2 : 1;
	return a->len;
}

static bool tg__space(uint32_t cp)
{
	return cp == ' ' || cp == '\n' || cp == '\t' || cp == '\r';
}

/* The tags open at a point of the HTML, outermost first: each start tag as
 * written (pointing into the HTML) and its name.  Deeper nesting than
 * TG__DEPTH (which the core never writes) is counted but not kept. */
#define TG__DEPTH 16
struct tg__open {
	size_t n;
	struct {
		const char *tag, *name;
		size_t len, name_len;
	} v[TG__DEPTH];
};

static void tg__open_apply(struct tg__open *o, const char *p, const struct tg__atom *a)
{
	if(a->kind == TG__OPEN) {
		if(o->n < TG__DEPTH) {
			o->v[o->n].tag = p;
			o->v[o->n].len = a->len;
			o->v[o->n].name = a->name;
			o->v[o->n].name_len = a->name_len;
		}
		o->n++;
	} else if(a->kind == TG__CLOSE && o->n) {
		o->n--;
	}
}

/* The tags of [p, end) applied to o. */
static void tg__open_walk(struct tg__open *o, const char *p, const char *end)
{
	struct tg__atom a;
	while(p < end) {
		if(*p != '<') {
			p++;
			continue;
		}
		tg__atom(p, &a);
		tg__open_apply(o, p, &a);
		p += a.len;
	}
}

/* Appends the start tags of o: a part begins with them ... */
static void tg__open_start(struct strbuf *out, const struct tg__open *o)
{
	for(size_t i = 0; i < o->n && i < TG__DEPTH; i++)
		strbuf_add(out, o->v[i].tag, o->v[i].len);
}

/* ... and their end tags, innermost first (a part ends with them). */
static void tg__open_end(struct strbuf *out, const struct tg__open *o)
{
	for(size_t i = o->n < TG__DEPTH ? o->n : TG__DEPTH; i-- > 0;) {
		strbuf_adds(out, "</");
		strbuf_add(out, o->v[i].name, o->v[i].name_len);
		strbuf_addc(out, '>');
	}
}

/* Where a part that starts at p, inside depth open tags, ends when it may
 * show max units: at the last line break that fits, else the last space
 * outside any tag, else the last space, else after the last character that
 * fits; the end of the string when the rest fits.  *next is where the next
 * part starts (past the line break or space cut at); *shows says whether
 * the part shows anything but white space.  A first character wider than
 * max (a UTF-16 pair, max 1) is taken whole, so that the cut moves on. */
static const char *tg__cut(const char *p, size_t depth, size_t max, const char **next, bool *shows)
{
	const char *q = p, *nl = NULL, *sp_out = NULL, *sp = NULL;
	size_t units = 0;
	bool seen = false;
	struct tg__atom a;
	while(*q) {
		size_t len = tg__atom(q, &a);
		if(a.kind == TG__OPEN) {
			depth++;
		} else if(a.kind == TG__CLOSE) {
			depth -= depth > 0;
		} else {
			if(units + a.units > max)
				break;
			if(seen && *q == '\n') {
				nl = q;
			} else if(seen && *q == ' ') {
				sp = q;
				if(!depth)
					sp_out = q;
			}
			units += a.units;
			seen |= !tg__space(a.cp);
		}
		q += len;
	}
	const char *cut = nl ? nl : sp_out ? sp_out : sp;
	*shows = seen;
	if(!*q || (!cut && seen)) {
		*next = q;
		return q; /* the end, or between two characters */
	}
	if(cut) {
		*next = cut + 1;
		return cut;
	}
	if(!units) {
		*shows = true;
		*next = q + a.len;
		return *next;
	}
	*next = q; /* nothing but white space: left out */
	return q;
}

/* ---- writing ---- */

int tg_render_html(struct strbuf *out, const char *light)
{
	static const char mention[] = "<a href=\"mention:";
	const char *p = light;
	const char *m;
	while((m = strstr(p, mention)) != NULL) {
		strbuf_add(out, p, (size_t)(m - p));
		strbuf_adds(out, "<a href=\"tg://user?id=");
		p = m + sizeof(mention) - 1;
	}
	strbuf_adds(out, p);
	return out->oom ? -1 : 0;
}

size_t tg_html_units(const char *html)
{
	size_t units = 0;
	struct tg__atom a;
	for(const char *p = html; *p;) {
		p += tg__atom(p, &a);
		units += a.units;
	}
	return units;
}

/* Appends code point cp as UTF-8 (U+FFFD for one that is no character). */
static void tg__add_cp(struct strbuf *out, uint32_t cp)
{
	char b[4];
	if(!cp || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		cp = 0xFFFD;
	if(cp < 0x80) {
		strbuf_addc(out, (char)cp);
	} else if(cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		strbuf_add(out, b, 2);
	} else if(cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		strbuf_add(out, b, 3);
	} else {
		b[0] = (char)(0xF0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		strbuf_add(out, b, 4);
	}
}

int tg_html_plain(struct strbuf *out, const char *html)
{
	struct tg__atom a;
	for(const char *p = html; *p; p += a.len) {
		tg__atom(p, &a);
		if(a.kind != TG__TEXT)
			continue;
		if(*p == '&' && a.len > 1)
			tg__add_cp(out, a.cp);
		else
			strbuf_add(out, p, a.len);
	}
	return out->oom ? -1 : 0;
}

long tg_split(const char *html, size_t max, char ***parts)
{
	char **v = NULL;
	long n = 0;
	struct tg__open open = { 0 };
	struct strbuf part = STRBUF_INIT;
	*parts = NULL;
	if(!max)
		return -1;
	for(const char *p = html; *p;) {
		const char *next;
		bool shows;
		const char *cut = tg__cut(p, open.n, max, &next, &shows);
		strbuf_reset(&part);
		tg__open_start(&part, &open);
		strbuf_add(&part, p, (size_t)(cut - p));
		tg__open_walk(&open, p, cut);
		tg__open_end(&part, &open);
		p = next;
		if(!shows)
			continue;
		char **nv = realloc(v, (size_t)(n + 1) * sizeof(*nv));
		if(!nv || part.oom)
			goto fail;
		v = nv;
		if(!(v[n] = strdup(part.buf)))
			goto fail;
		n++;
	}
	strbuf_release(&part);
	*parts = v;
	return n;
fail:
	strbuf_release(&part);
	for(long i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -1;
}

/* ---- shortening ---- */

/* A line of the text, and the list separators in it (", " outside any
 * tag, in a line that ends outside any tag). */
struct tg__line {
	const char *start, *end;
	size_t units;
	size_t first, nsep; /* its separators in the shortening's arrays */
	size_t keep;        /* items kept: nsep + 1 for all */
	size_t shown;       /* its units as shortened */
};

struct tg__short {
	struct tg__line *lines;
	size_t nlines;
	const char **sep;  /* each separator's ',' */
	size_t *sep_units; /* the units of its line before it */
	size_t nsep;
	tg_more_fn more;
	void *user;
	struct strbuf scratch;
};

/* The units of more(n). */
static size_t tg__more_units(struct tg__short *s, long n)
{
	strbuf_reset(&s->scratch);
	if(s->more(&s->scratch, n, s->user))
		return 0;
	return tg_html_units(s->scratch.buf);
}

static void tg__line_measure(struct tg__short *s, struct tg__line *l)
{
	size_t items = l->nsep + 1;
	if(l->keep == items)
		l->shown = l->units;
	else
		l->shown = s->sep_units[l->first + l->keep - 1] + 1 + tg__more_units(s, (long)(items - l->keep));
}

/* Reads html's lines and their separators into s.  0 or -1. */
static int tg__short_read(struct tg__short *s, const char *html)
{
	size_t lines = 1, commas = 0;
	for(const char *p = html; *p; p++) {
		lines += *p == '\n';
		commas += *p == ',';
	}
	s->lines = calloc(lines, sizeof(*s->lines));
	s->sep = calloc(commas + 1, sizeof(*s->sep));
	s->sep_units = calloc(commas + 1, sizeof(*s->sep_units));
	if(!s->lines || !s->sep || !s->sep_units)
		return -1;
	size_t depth = 0;
	struct tg__line *l = &s->lines[0];
	l->start = html;
	struct tg__atom a;
	for(const char *p = html;; p += a.len) {
		if(!*p || *p == '\n') {
			l->end = p;
			/* A list whose items hold tags open past the line is left whole. */
			if(depth)
				s->nsep = l->first;
			l->nsep = s->nsep - l->first;
			l->keep = l->nsep + 1;
			l->shown = l->units;
			s->nlines++;
			if(!*p)
				break;
			l = &s->lines[s->nlines];
			l->start = p + 1;
			l->first = s->nsep;
			a.len = 1;
			continue;
		}
		tg__atom(p, &a);
		if(a.kind == TG__OPEN)
			depth++;
		else if(a.kind == TG__CLOSE)
			depth -= depth > 0;
		if(a.kind != TG__TEXT)
			continue;
		if(!depth && *p == ',' && p[1] == ' ') {
			s->sep[s->nsep] = p;
			s->sep_units[s->nsep] = l->units;
			s->nsep++;
		}
		l->units += a.units;
	}
	return 0;
}

int tg_shorten(struct strbuf *out, const char *html, size_t max, tg_more_fn more, void *user)
{
	if(tg_html_units(html) <= max)
		return strbuf_adds(out, html);
	struct tg__short s = { .more = more, .user = user, .scratch = STRBUF_INIT };
	struct strbuf built = STRBUF_INIT;
	int rc = -1;
	if(tg__short_read(&s, html))
		goto out;
	/* Items leave the longest list first, one at a time, until it fits. */
	size_t total = s.nlines - 1;
	for(size_t i = 0; i < s.nlines; i++)
		total += s.lines[i].units;
	while(total > max) {
		struct tg__line *longest = NULL;
		for(size_t i = 0; i < s.nlines; i++)
			if(s.lines[i].keep > 1 && (!longest || s.lines[i].shown > longest->shown))
				longest = &s.lines[i];
		if(!longest)
			break;
		total -= longest->shown;
		longest->keep--;
		tg__line_measure(&s, longest);
		total += longest->shown;
	}
	for(size_t i = 0; i < s.nlines; i++) {
		const struct tg__line *l = &s.lines[i];
		if(i)
			strbuf_addc(&built, '\n');
		if(l->keep == l->nsep + 1) {
			strbuf_add(&built, l->start, (size_t)(l->end - l->start));
			continue;
		}
		strbuf_add(&built, l->start, (size_t)(s.sep[l->first + l->keep - 1] - l->start));
		strbuf_addc(&built, ' ');
		if(more(&built, (long)(l->nsep + 1 - l->keep), user))
			goto out;
	}
	if(built.oom)
		goto out;
	if(total <= max) {
		rc = strbuf_adds(out, built.buf);
		goto out;
	}
	/* No list left to shorten: the text is cut where a first part would
	 * end, leaving room for the mark on a line of its own (the number of
	 * its line breaks bounds the lines it can leave out). */
	long breaks = 1;
	for(const char *p = built.buf; *p; p++)
		breaks += *p == '\n';
	size_t reserve = 1 + tg__more_units(&s, breaks);
	const char *next;
	bool shows;
	const char *cut = tg__cut(built.buf, 0, max > reserve ? max - reserve : 1, &next, &shows);
	long left = 1;
	for(const char *p = next; *p; p++)
		left += *p == '\n';
	struct tg__open open = { 0 };
	strbuf_add(out, built.buf, (size_t)(cut - built.buf));
	tg__open_walk(&open, built.buf, cut);
	tg__open_end(out, &open);
	strbuf_addc(out, '\n');
	rc = more(out, left, user) || out->oom ? -1 : 0;
out:
	free(s.lines);
	free(s.sep);
	free(s.sep_units);
	strbuf_release(&s.scratch);
	strbuf_release(&built);
	return rc;
}
