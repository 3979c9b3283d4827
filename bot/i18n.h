/*
 * i18n: the message catalogues.  Each language is one file lang/CODE.txt,
 * embedded at build time (scripts/embed_catalogues.cmake), of lines
 *
 *   # comment
 *   key = text with {1}, {2} placeholders and \n for new lines
 *
 * Text is light HTML (see action.h).  Placeholders are replaced by the
 * arguments, HTML-escaped unless the caller marks them raw.  A key missing
 * from a language falls back to the default language, then to English; the
 * test suite checks that every language has every key.
 */
#ifndef ENSEMBLE_I18N_H
#define ENSEMBLE_I18N_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"

struct i18n_source {
	const char *code;
	const char *text;
};
/* Generated: one entry per lang/ file, ended by { NULL, NULL }. */
extern const struct i18n_source i18n_sources[];

/* Parses every embedded catalogue.  Returns 0, or -1 with a log line naming
 * the language and line of the first malformed entry. */
int i18n_init(void);
void i18n_free(void);

/* Sets the language used when a chat's own has no such key. */
void i18n_set_default(const char *code);
const char *i18n_default(void);

bool i18n_has_lang(const char *code);
size_t i18n_lang_count(void);
const char *i18n_lang_code(size_t i);
/* Appends the language codes, comma-separated ("en, fr"). */
int i18n_lang_list(struct strbuf *out);
/* The configuration's check of a language (config_check_fn): 0 when code
 * has a catalogue, else -1 with msg listing those there are. */
int i18n_check_lang(const char *code, char *msg, size_t msglen);

/* The raw text of key in lang (placeholders intact), or NULL. */
const char *i18n_lookup(const char *lang, const char *key);
/* Like i18n_lookup but without fallback to other languages. */
const char *i18n_lookup_exact(const char *lang, const char *key);
size_t i18n_key_count(const char *lang);
const char *i18n_key_at(const char *lang, size_t i);

/* Appends key's text with {1}..{9} replaced by the NULL-terminated string
 * arguments, each HTML-escaped, and each {N|one|other} by the form that
 * argument N's count takes in the text's language ("{2} {2|membre|membres}").  An unknown key appends the key itself
 * (and logs a warning), so a missing message is visible rather than silent. */
int i18n_fmt(struct strbuf *out, const char *lang, const char *key, ...);
/* Same, but argument i (1-based) is copied unescaped when bit i-1 of raw is
 * set: for arguments that are light HTML built by the caller. */
int i18n_fmt_raw(struct strbuf *out, const char *lang, const char *key, unsigned raw, ...);
/* The va_list form of i18n_fmt_raw, for wrappers. */
int i18n_vfmt(struct strbuf *out, const char *lang, const char *key, unsigned raw, va_list ap);

#endif
