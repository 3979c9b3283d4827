/*
 * text: UTF-8 checks and the text transformations the core needs:
 * cleaning what users type, folding for matching ("Écriture" = "ecriture"),
 * and edit distance for "did you mean".
 */
#ifndef ENSEMBLE_TEXT_H
#define ENSEMBLE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *s, size_t len);

/* Number of code points in a valid UTF-8 string. */
size_t utf8_length(const char *s);

/* Byte length of the longest prefix of s holding at most max_chars code
 * points, never cutting a character in two. */
size_t utf8_prefix(const char *s, size_t max_chars);

/* Appends s to out with control characters (C0 but \n and \t, DEL, C1)
 * replaced by spaces and \r\n folded to \n.  s must be valid UTF-8. */
int text_clean(struct strbuf *out, const char *s);

/* Appends the folded form of s: lower case, accents removed from Latin
 * letters (é -> e, Œ -> oe, ß -> ss), runs of white space folded to one
 * space and leading and trailing space dropped.  Other characters pass
 * through unchanged. */
int text_fold(struct strbuf *out, const char *s);

/* Levenshtein distance between two byte strings, capped at cap+1 (the
 * computation stops early once every path exceeds cap). */
size_t text_distance(const char *a, const char *b, size_t cap);

/* Copies src into dst, a buffer of size bytes, cut to fit (size - 1 bytes
 * at most, cutting a character in two if it falls there) and always ended
 * with a NUL when size > 0: what snprintf(dst, size, "%s", src) does, at a
 * fiftieth of its cost (the copies of ids and names on every update went
 * through vfprintf).  NULL copies as "".  src and dst may overlap.
 * Returns strlen(src), so a result >= size means it was cut. */
size_t text_copy(char *dst, size_t size, const char *src);

/* The same for the first len bytes of src (which holds at least len):
 * snprintf(dst, size, "%.*s", (int)len, src).  Returns len. */
size_t text_copyn(char *dst, size_t size, const char *src, size_t len);

/* Writes v in decimal into dst as text_copy copies: snprintf(dst, size,
 * "%lld", v).  Returns the length of the whole number. */
size_t text_int(char *dst, size_t size, long long v);

/* Case-insensitive ASCII comparison helpers. */
bool text_ieq(const char *a, const char *b);
bool text_istarts(const char *s, const char *prefix);

#endif
