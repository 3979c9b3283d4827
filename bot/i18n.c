#include "bot/i18n.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "i18n"

struct i18n_entry {
	char *key;
	char *text;
};

struct i18n_lang {
	const char *code;
	struct i18n_entry *entries; /* sorted by key */
	size_t n;
};

static struct i18n_lang *i18n__langs;
static size_t i18n__nlangs;
static char i18n__default[16] = "en";

static int i18n__cmp(const void *a, const void *b)
{
	return strcmp(((const struct i18n_entry *)a)->key, ((const struct i18n_entry *)b)->key);
}

/* Copies text with the escapes \n and \\ decoded. */
static char *i18n__unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	if(!out)
		return NULL;
	for(size_t i = 0; i < len; i++) {
		if(s[i] == '\\' && i + 1 < len && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
			*o++ = s[i + 1] == 'n' ? '\n' : '\\';
			i++;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static int i18n__parse(struct i18n_lang *lang, const char *text)
{
	size_t alloc = 0;
	int lineno = 0;
	const char *line = text;
	while(*line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		lineno++;
		const char *p = line, *end = line + len;
		while(p < end && (*p == ' ' || *p == '\t'))
			p++;
		if(p < end && *p != '#' && *p != '\r') {
			const char *eq = memchr(p, '=', (size_t)(end - p));
			if(!eq) {
				log_error("catalogue %s, line %d: expected 'key = text'", lang->code, lineno);
				return -1;
			}
			const char *kend = eq;
			while(kend > p && (kend[-1] == ' ' || kend[-1] == '\t'))
				kend--;
			const char *v = eq + 1;
			if(v < end && *v == ' ')
				v++;
			const char *vend = end;
			if(vend > v && vend[-1] == '\r')
				vend--;
			if(lang->n == alloc) {
				alloc = alloc ? alloc * 2 : 128;
				struct i18n_entry *ne = realloc(lang->entries, alloc * sizeof(*ne));
				if(!ne)
					return -1;
				lang->entries = ne;
			}
			struct i18n_entry *e = &lang->entries[lang->n];
			e->key = strndup(p, (size_t)(kend - p));
			e->text = i18n__unescape(v, (size_t)(vend - v));
			if(!e->key || !e->text) {
				free(e->key);
				free(e->text);
				return -1;
			}
			lang->n++;
		}
		line = eol ? eol + 1 : end;
	}
	qsort(lang->entries, lang->n, sizeof(*lang->entries), i18n__cmp);
	for(size_t i = 1; i < lang->n; i++) {
		if(!strcmp(lang->entries[i - 1].key, lang->entries[i].key)) {
			log_error("catalogue %s: key '%s' defined twice", lang->code, lang->entries[i].key);
			return -1;
		}
	}
	return 0;
}

int i18n_init(void)
{
	size_t n = 0;
	while(i18n_sources[n].code)
		n++;
	i18n__langs = calloc(n ? n : 1, sizeof(*i18n__langs));
	if(!i18n__langs)
		return -1;
	for(size_t i = 0; i < n; i++) {
		i18n__langs[i].code = i18n_sources[i].code;
		i18n__nlangs = i + 1;
		if(i18n__parse(&i18n__langs[i], i18n_sources[i].text)) {
			i18n_free();
			return -1;
		}
	}
	return 0;
}

void i18n_free(void)
{
	for(size_t i = 0; i < i18n__nlangs; i++) {
		for(size_t k = 0; k < i18n__langs[i].n; k++) {
			free(i18n__langs[i].entries[k].key);
			free(i18n__langs[i].entries[k].text);
		}
		free(i18n__langs[i].entries);
	}
	free(i18n__langs);
	i18n__langs = NULL;
	i18n__nlangs = 0;
}

static const struct i18n_lang *i18n__find(const char *code)
{
	for(size_t i = 0; code && i < i18n__nlangs; i++)
		if(!strcmp(i18n__langs[i].code, code))
			return &i18n__langs[i];
	return NULL;
}

void i18n_set_default(const char *code)
{
	if(i18n__find(code))
		text_copy(i18n__default, sizeof(i18n__default), code);
}

const char *i18n_default(void)
{
	return i18n__default;
}
bool i18n_has_lang(const char *code)
{
	return i18n__find(code) != NULL;
}
size_t i18n_lang_count(void)
{
	return i18n__nlangs;
}
const char *i18n_lang_code(size_t i)
{
	return i < i18n__nlangs ? i18n__langs[i].code : NULL;
}

int i18n_lang_list(struct strbuf *out)
{
	for(size_t i = 0; i < i18n__nlangs; i++) {
		if(i)
			strbuf_adds(out, ", ");
		strbuf_adds(out, i18n__langs[i].code);
	}
	return out->oom ? -1 : 0;
}

int i18n_check_lang(const char *code, char *msg, size_t msglen)
{
	if(i18n_has_lang(code))
		return 0;
	struct strbuf langs = STRBUF_INIT;
	i18n_lang_list(&langs);
	snprintf(msg, msglen, "must name a language with a catalogue (%s), not '%s'", langs.buf, code);
	strbuf_release(&langs);
	return -1;
}

const char *i18n_lookup_exact(const char *code, const char *key)
{
	const struct i18n_lang *l = i18n__find(code);
	if(!l)
		return NULL;
	struct i18n_entry probe = { .key = (char *)key };
	const struct i18n_entry *e = bsearch(&probe, l->entries, l->n, sizeof(*e), i18n__cmp);
	return e ? e->text : NULL;
}

/* Finds key's text as i18n_lookup does, and the catalogue it came from
 * (whose plural rule its forms follow). */
static const char *i18n__text(const char *code, const char *key, const char **from)
{
	const char *order[] = { code, i18n__default, "en" };
	for(size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const char *t = i18n_lookup_exact(order[i], key);
		if(t) {
			*from = order[i];
			return t;
		}
	}
	return NULL;
}

const char *i18n_lookup(const char *code, const char *key)
{
	const char *from;
	return i18n__text(code, key, &from);
}

size_t i18n_key_count(const char *code)
{
	const struct i18n_lang *l = i18n__find(code);
	return l ? l->n : 0;
}

const char *i18n_key_at(const char *code, size_t i)
{
	const struct i18n_lang *l = i18n__find(code);
	return l && i < l->n ? l->entries[i].key : NULL;
}

/* Whether count takes a language's singular form: CLDR's "one" category,
 * which is 0 and 1 in French ("0 membre, 1 membre, 2 membres") and 1 alone
 * in English ("0 members, 1 member").  Something not a whole number takes
 * the plural. */
static bool i18n__one(const char *code, const char *count)
{
	char *end;
	long n = count ? strtol(count, &end, 10) : -1;
	if(!count || end == count || *end)
		return false;
	if(!strcmp(code, "fr"))
		return n == 0 || n == 1;
	return n == 1;
}

int i18n_vfmt(struct strbuf *out, const char *lang, const char *key, unsigned raw, va_list ap)
{
	const char *args[9] = { 0 };
	int nargs = 0;
	const char *a;
	while(nargs < 9 && (a = va_arg(ap, const char *)) != NULL)
		args[nargs++] = a;

	const char *from = NULL;
	const char *t = i18n__text(lang, key, &from);
	if(!t) {
		log_warn("no message '%s' in any catalogue", key);
		return strbuf_adds(out, key);
	}
	const char *run = t;
	for(const char *p = t; *p; p++) {
		if(p[0] != '{' || p[1] < '1' || p[1] > '9')
			continue;
		int i = p[1] - '1';
		if(p[2] == '}') {
			/* {N}: argument N, escaped unless marked raw. */
			strbuf_add(out, run, (size_t)(p - run));
			if(i < nargs) {
				if(raw & (1u << i))
					strbuf_adds(out, args[i]);
				else
					strbuf_add_html(out, args[i]);
			}
			p += 2;
			run = p + 1;
		} else if(p[2] == '|') {
			/* {N|one|other}: the form that argument N's count takes. */
			const char *one = p + 3, *bar = strchr(one, '|');
			const char *close = bar ? strchr(bar + 1, '}') : NULL;
			if(!close)
				continue; /* not a plural: copied as it is */
			strbuf_add(out, run, (size_t)(p - run));
			if(i < nargs && i18n__one(from, args[i]))
				strbuf_add(out, one, (size_t)(bar - one));
			else
				strbuf_add(out, bar + 1, (size_t)(close - bar - 1));
			p = close;
			run = p + 1;
		}
	}
	strbuf_adds(out, run);
	return out->oom ? -1 : 0;
}

int i18n_fmt(struct strbuf *out, const char *lang, const char *key, ...)
{
	va_list ap;
	va_start(ap, key);
	int r = i18n_vfmt(out, lang, key, 0, ap);
	va_end(ap);
	return r;
}

int i18n_fmt_raw(struct strbuf *out, const char *lang, const char *key, unsigned raw, ...)
{
	va_list ap;
	va_start(ap, raw);
	int r = i18n_vfmt(out, lang, key, raw, ap);
	va_end(ap);
	return r;
}
