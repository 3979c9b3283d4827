/* The catalogues: every language has every message, with the same
 * placeholders and only the tags adapters can render. */
#include <stdlib.h>
#include <string.h>

#include "bot/i18n.h"
#include "tests/unit/check.h"

/* Bit i set when {i+1} appears in text. */
static unsigned placeholders(const char *text)
{
	unsigned m = 0;
	for(const char *p = text; *p; p++)
		if(p[0] == '{' && p[1] >= '1' && p[1] <= '9' && p[2] == '}')
			m |= 1u << (p[1] - '1');
	return m;
}

/* True when every {N|one|other} in text is whole and N is one of its
 * arguments ({N} appears too). */
static int plurals_ok(const char *text)
{
	for(const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
		if(p[1] < '1' || p[1] > '9' || p[2] != '|')
			continue;
		const char *bar = strchr(p + 3, '|'), *close = bar ? strchr(bar + 1, '}') : NULL;
		const char *next = strchr(p + 3, '{');
		if(!close || (next && next < close) || !(placeholders(text) & (1u << (p[1] - '1'))))
			return 0;
	}
	return 1;
}

/* True when every tag is <b>, <i>, <a href="..."> or their ends, and they
 * are balanced. */
static int tags_ok(const char *text)
{
	int depth = 0;
	for(const char *p = strchr(text, '<'); p; p = strchr(p + 1, '<')) {
		if(!strncmp(p, "<b>", 3) || !strncmp(p, "<i>", 3) || !strncmp(p, "<a href=\"", 9))
			depth++;
		else if(!strncmp(p, "</b>", 4) || !strncmp(p, "</i>", 4) || !strncmp(p, "</a>", 4))
			depth--;
		else
			return 0;
		if(depth < 0)
			return 0;
	}
	return depth == 0;
}

/* Whether word (length n) is what some command is called in lang: the
 * catalogue's cmd.NAME.name. */
static int command_in(const char *lang, const char *word, size_t n)
{
	for(size_t i = 0; i < i18n_key_count(lang); i++) {
		const char *key = i18n_key_at(lang, i);
		size_t kl = strlen(key);
		if(strncmp(key, "cmd.", 4) || kl < 9 || strcmp(key + kl - 5, ".name"))
			continue;
		const char *name = i18n_lookup_exact(lang, key);
		if(strlen(name) == n && !strncmp(name, word, n))
			return 1;
	}
	return 0;
}

/* Subcommand words of the other language: a text that writes "/rencontre
 * close" names a command a French speaker would not type. */
static const struct {
	const char *lang, *command;
	const char *words[8];
} foreign_sub[] = {
	{ "fr", "/rencontre ", { "list", "close", "confirm", "cancel", "move", "edit", "series", NULL } },
	{ "fr", "/groupe ", { "new", "join", "leave", "list", "split", "close", NULL } },
	{ "fr", "/rappel ", { "me", NULL } },
	{ "fr", "/exporter ", { "me", NULL } },
	{ "en", "/meetup ", { "liste", "clore", "confirmer", "annuler", "déplacer", "modifier", "série", NULL } },
	{ "en", "/group ", { "nouveau", "rejoindre", "quitter", "liste", "diviser", "fermer", NULL } },
	{ "en", "/remind ", { "moi", NULL } },
	{ "en", "/export ", { "moi", NULL } },
	{ "en", "/forget ", { "moi", "confirmer", NULL } },
};

/* Counts the commands text names ("/word" after a space, a new line, a
 * tag or an opening quote, as the Matrix adapter finds them to write
 * "!word") that lang does not call so, and the other language's
 * subcommands after a command of lang. */
static int foreign_commands(const char *lang, const char *key, const char *text)
{
	int bad = 0;
	for(const char *p = strchr(text, '/'); p; p = strchr(p + 1, '/')) {
		if(p > text && !strchr(" \n(>\"'", p[-1]))
			continue;
		size_t n = 1;
		while(p[n] && (strchr("abcdefghijklmnopqrstuvwxyz_-", p[n]) || (unsigned char)p[n] >= 0x80))
			n++;
		if(n > 1 && !command_in(lang, p + 1, n - 1)) {
			fprintf(stderr, "%s: %s names /%.*s, which is not a command in %s\n", lang, key, (int)(n - 1),
			        p + 1, lang);
			bad++;
		}
	}
	for(size_t i = 0; i < sizeof(foreign_sub) / sizeof(foreign_sub[0]); i++) {
		if(strcmp(foreign_sub[i].lang, lang))
			continue;
		size_t cl = strlen(foreign_sub[i].command);
		for(const char *p = strstr(text, foreign_sub[i].command); p;
		    p = strstr(p + 1, foreign_sub[i].command)) {
			for(const char *const *w = foreign_sub[i].words; *w; w++) {
				size_t wl = strlen(*w);
				if(!strncmp(p + cl, *w, wl) && strchr(" .,;)\n", p[cl + wl])) {
					fprintf(stderr, "%s: %s writes %s%s, a subcommand of the other language\n",
					        lang, key, foreign_sub[i].command, *w);
					bad++;
				}
			}
		}
	}
	return bad;
}

int main(void)
{
	CHECK_INT(i18n_init(), 0);
	CHECK(i18n_lang_count() >= 2);
	CHECK(i18n_has_lang("fr"));
	CHECK(i18n_has_lang("en"));
	CHECK(!i18n_has_lang("de"));

	for(size_t a = 0; a < i18n_lang_count(); a++) {
		const char *la = i18n_lang_code(a);
		for(size_t i = 0; i < i18n_key_count(la); i++) {
			const char *key = i18n_key_at(la, i);
			const char *ta = i18n_lookup_exact(la, key);
			if(!plurals_ok(ta)) {
				fprintf(stderr, "%s: %s has a broken {N|one|other}\n", la, key);
				check__failed++;
			}
			if(!tags_ok(ta)) {
				fprintf(stderr, "%s: %s has unbalanced or unknown tags\n", la, key);
				check__failed++;
			}
			/* Every command a text names is the one of its language. */
			if(foreign_commands(la, key, ta))
				check__failed++;
			else
				check__passed++;
			for(size_t b = 0; b < i18n_lang_count(); b++) {
				const char *lb = i18n_lang_code(b);
				const char *tb = i18n_lookup_exact(lb, key);
				if(!tb) {
					fprintf(stderr, "message %s exists in %s but not in %s\n", key, la, lb);
					check__failed++;
				} else if(placeholders(ta) != placeholders(tb)) {
					fprintf(stderr, "message %s has other placeholders in %s and %s\n", key, la,
					        lb);
					check__failed++;
				} else {
					check__passed++;
				}
			}
		}
	}

	/* Formatting escapes arguments unless they are marked raw. */
	struct strbuf sb = STRBUF_INIT;
	i18n_fmt(&sb, "en", "dispatch.unknown", "/<b>x&y</b>", NULL);
	CHECK_STR(sb.buf, "Unknown command /&lt;b&gt;x&amp;y&lt;/b&gt;. Type /help to see what I can do.");
	strbuf_reset(&sb);
	i18n_fmt_raw(&sb, "en", "dispatch.unknown", 0x1, "/<b>x</b>", NULL);
	CHECK_STR(sb.buf, "Unknown command /<b>x</b>. Type /help to see what I can do.");
	strbuf_reset(&sb);
	i18n_fmt(&sb, "fr", "dispatch.usage", "/x", "/x 1", NULL);
	CHECK_STR(sb.buf, "Utilisation : /x\nExemple : /x 1");
	/* Plural forms follow the count and the language: 0 and 1 are singular
	 * in French, only 1 in English; what is not a number takes the plural. */
	static const struct {
		const char *lang, *n, *want;
	} plural[] = {
		{ "fr", "0", "Groupe Café créé avec 0 membre. Vous en êtes la personne contact." },
		{ "fr", "1", "Groupe Café créé avec 1 membre. Vous en êtes la personne contact." },
		{ "fr", "2", "Groupe Café créé avec 2 membres. Vous en êtes la personne contact." },
		{ "en", "0", "Group Café created with 0 members. You are its contact person." },
		{ "en", "1", "Group Café created with 1 member. You are its contact person." },
		{ "en", "12", "Group Café created with 12 members. You are its contact person." },
		{ "en", "1x", "Group Café created with 1x members. You are its contact person." },
	};
	for(size_t i = 0; i < sizeof(plural) / sizeof(plural[0]); i++) {
		strbuf_reset(&sb);
		i18n_fmt(&sb, plural[i].lang, "group.created", "Café", plural[i].n, NULL);
		CHECK_STR(sb.buf, plural[i].want);
	}
	strbuf_reset(&sb);
	i18n_fmt(&sb, "fr", "interest.noted", "jardinage", "1", NULL);
	CHECK_STR(sb.buf, "C'est noté : vous aimeriez apprendre jardinage (1 intéressé·e).");
	/* A language without the key falls back to the default, then English. */
	strbuf_reset(&sb);
	i18n_fmt(&sb, "xx", "lang.set", NULL);
	CHECK_STR(sb.buf, "From now on I speak English in this chat.");
	i18n_set_default("fr");
	strbuf_reset(&sb);
	i18n_fmt(&sb, "xx", "lang.set", NULL);
	CHECK_STR(sb.buf, "Désormais, je parle français dans ce salon.");
	/* An unknown key shows itself rather than nothing. */
	strbuf_reset(&sb);
	i18n_fmt(&sb, "en", "no.such.key", NULL);
	CHECK_STR(sb.buf, "no.such.key");
	strbuf_release(&sb);
	i18n_free();
	return check_done();
}
