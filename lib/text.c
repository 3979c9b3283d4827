#include "lib/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one code point at s (valid UTF-8 assumed); returns its length. */
static size_t text__decode(const unsigned char *s, uint32_t *cp)
{
	if(s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if(s[0] < 0xE0) {
		*cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
		return 2;
	}
	if(s[0] < 0xF0) {
		*cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		return 3;
	}
	*cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
	      (s[3] & 0x3F);
	return 4;
}

bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while(i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t min;
		if(c < 0x80) {
			i++;
			continue;
		} else if(c >= 0xC2 && c <= 0xDF) {
			n = 2;
			min = 0x80;
		} else if(c >= 0xE0 && c <= 0xEF) {
			n = 3;
			min = 0x800;
		} else if(c >= 0xF0 && c <= 0xF4) {
			n = 4;
			min = 0x10000;
		} else
			return false;
		if(len - i < n)
			return false;
		for(size_t k = 1; k < n; k++)
			if((s[i + k] & 0xC0) != 0x80)
				return false;
		uint32_t cp;
		text__decode(s + i, &cp);
		if(cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n;
	}
	return true;
}

size_t utf8_length(const char *s)
{
	size_t n = 0;
	for(; *s; s++)
		if(((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

size_t utf8_prefix(const char *s, size_t max_chars)
{
	size_t i = 0, chars = 0;
	while(s[i]) {
		if(((unsigned char)s[i] & 0xC0) != 0x80) {
			if(chars == max_chars)
				break;
			chars++;
		}
		i++;
	}
	return i;
}

int text_clean(struct strbuf *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while(*s) {
		uint32_t cp;
		size_t n = text__decode(s, &cp);
		if(cp == '\r' && s[1] == '\n') {
			s++;
			continue;
		}
		if((cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
			strbuf_addc(out, ' ');
		else
			strbuf_add(out, s, n);
		s += n;
	}
	return out->oom ? -1 : 0;
}

/* Folded forms of U+00C0..U+017F (Latin-1 Supplement and Latin Extended-A):
 * the base letters, lower case; NULL keeps the character. */
static const char *text__fold_latin(uint32_t cp)
{
	static const char *const l1[64] = {
		"a", "a", "a", "a", "a", "a", "ae", "c",  "e", "e", "e", "e", "i", "i", "i",  "i",
		"d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
		"a", "a", "a", "a", "a", "a", "ae", "c",  "e", "e", "e", "e", "i", "i", "i",  "i",
		"d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "y",
	};
	if(cp >= 0xC0 && cp <= 0xFF)
		return l1[cp - 0xC0];
	if(cp == 0x152 || cp == 0x153)
		return "oe";
	if(cp == 0x178)
		return "y";
	if(cp >= 0x100 && cp <= 0x17F) {
		/* Latin Extended-A pairs upper/lower by parity; map the common
		 * ones by range to their base letter. */
		static const struct {
			uint16_t from, to;
			const char *base;
		} r[] = {
			{ 0x100, 0x105, "a" }, { 0x106, 0x10D, "c" }, { 0x10E, 0x111, "d" }, { 0x112, 0x11B, "e" },
			{ 0x11C, 0x123, "g" }, { 0x124, 0x127, "h" }, { 0x128, 0x131, "i" }, { 0x134, 0x135, "j" },
			{ 0x136, 0x138, "k" }, { 0x139, 0x142, "l" }, { 0x143, 0x14B, "n" }, { 0x14C, 0x151, "o" },
			{ 0x154, 0x159, "r" }, { 0x15A, 0x161, "s" }, { 0x162, 0x167, "t" }, { 0x168, 0x173, "u" },
			{ 0x174, 0x175, "w" }, { 0x176, 0x177, "y" }, { 0x179, 0x17E, "z" },
		};
		for(size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
			if(cp >= r[i].from && cp <= r[i].to)
				return r[i].base;
	}
	return NULL;
}

int text_fold(struct strbuf *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	bool pending_space = false;
	size_t start = out->len;
	while(*s) {
		uint32_t cp;
		size_t n = text__decode(s, &cp);
		if(cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0 || cp == 0x202F) {
			pending_space = out->len > start;
			s += n;
			continue;
		}
		if(pending_space) {
			strbuf_addc(out, ' ');
			pending_space = false;
		}
		const char *f = text__fold_latin(cp);
		if(f)
			strbuf_adds(out, f);
		else if(cp >= 'A' && cp <= 'Z')
			strbuf_addc(out, (char)(cp - 'A' + 'a'));
		else if(cp == 0x2019) /* typographic apostrophe */
			strbuf_addc(out, '\'');
		else
			strbuf_add(out, s, n);
		s += n;
	}
	return out->oom ? -1 : 0;
}

size_t text_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	if((la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	size_t *row = malloc((lb + 1) * sizeof(*row));
	if(!row)
		return cap + 1;
	for(size_t j = 0; j <= lb; j++)
		row[j] = j;
	for(size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best = i;
		row[0] = i;
		for(size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = diag + cost;
			if(row[j] + 1 < v)
				v = row[j] + 1;
			if(row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if(v < best)
				best = v;
		}
		if(best > cap) {
			free(row);
			return cap + 1;
		}
	}
	size_t d = row[lb];
	free(row);
	return d > cap ? cap + 1 : d;
}

static int text__lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

bool text_ieq(const char *a, const char *b)
{
	for(; *a && *b; a++, b++)
		if(text__lower((unsigned char)*a) != text__lower((unsigned char)*b))
			return false;
	return *a == *b;
}

bool text_istarts(const char *s, const char *prefix)
{
	for(; *prefix; s++, prefix++)
		if(text__lower((unsigned char)*s) != text__lower((unsigned char)*prefix))
			return false;
	return true;
}

size_t text_copyn(char *dst, size_t size, const char *src, size_t len)
{
	if(size) {
		size_t n = len < size - 1 ? len : size - 1;
		memmove(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t text_copy(char *dst, size_t size, const char *src)
{
	if(!src)
		src = "";
	return text_copyn(dst, size, src, strlen(src));
}

size_t text_int(char *dst, size_t size, long long v)
{
	char digits[24];
	char *p = digits + sizeof(digits);
	*--p = '\0';
	/* The magnitude as unsigned: -LLONG_MIN does not fit a long long. */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while(u);
	if(v < 0)
		*--p = '-';
	return text_copy(dst, size, p);
}
