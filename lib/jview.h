/*
 * jview: JSON read where it lies, without building a tree.  A reader that
 * needs a few members of a large answer (a Matrix /sync) checks the text
 * once with jview_check, then walks it: a value is a pointer to its first
 * byte in the text, NULL standing for a value that is absent, and the
 * accessors answer as jansson's json_object_get, json_string_value,
 * json_is_integer and json_is_true answer on the tree json_loadb would
 * build from the same text (a repeated key: its last value).
 *
 * jview_check accepts exactly the texts json_loadb (flags 0) accepts: an
 * object or an array, strings of UTF-8 with no \u0000 and no lone
 * surrogate, integers within 64 bits, reals that do not overflow, at most
 * 2048 levels.  The accessors are only for values of text it accepted;
 * they read no further than the value they are given.
 */
#ifndef ENSEMBLE_JVIEW_H
#define ENSEMBLE_JVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"

/* 0 when text[0..len) is one JSON object or array as json_loadb accepts
 * it, else -1. */
int jview_check(const char *text, size_t len);

/* The value of member key of obj (the last one, when the key repeats), or
 * NULL when obj is no object or has no such member. */
const char *jview_get(const char *obj, const char *key);

/* The values of the members of obj named keys[0..n), in one pass over
 * obj: out[i] as jview_get(obj, keys[i]) gives it. */
void jview_pick(const char *obj, const char *const *keys, size_t n, const char **out);

/* The first item of arr, or NULL when arr is no array or is empty. */
const char *jview_first(const char *arr);
/* The item after item in its array, or NULL after the last. */
const char *jview_next(const char *item);

/* The first member of obj, as the pointer to its key, or NULL when obj is
 * no object or is empty. */
const char *jview_first_member(const char *obj);
/* The member after member, or NULL after the last. */
const char *jview_next_member(const char *member);
/* The value of member. */
const char *jview_member_value(const char *member);
/* True when the keys of members a and b are the same string. */
bool jview_same_key(const char *a, const char *b);

/* A member of an object: the pointer to its key, and its value; the
 * length of the key's text between its quotes, and whether it has an
 * escape. */
struct jview_member {
	const char *key, *value;
	size_t key_len;
	bool escaped;
};

/* The members of obj as json_object_foreach gives them on jansson's tree:
 * each key once, where it came first, with the value it had last.  *out is
 * a new array of *n members (NULL, 0 for no object or an empty one) that
 * the caller frees.  0, or -1 when memory ran out. */
int jview_members(const char *obj, struct jview_member **out, size_t *n);

/* Appends the string v (a member's key too) to out, decoded.  0, or -1
 * when v is no string or memory ran out. */
int jview_string(const char *v, struct strbuf *out);
/* The string v, decoded, in a new allocation the caller frees; NULL when v
 * is no string or memory ran out. */
char *jview_strdup(const char *v);
/* True when v is a string equal to s. */
bool jview_streq(const char *v, const char *s);
/* True when v is an integer (a number written without fraction or
 * exponent), then stored in *out. */
bool jview_integer(const char *v, long long *out);
/* True when v is true. */
bool jview_is_true(const char *v);
/* True when v is an object, an array. */
bool jview_is_object(const char *v);
bool jview_is_array(const char *v);
/* The byte just after the value v: [v, jview_end(v)) is its text. */
const char *jview_end(const char *v);

#endif
