/*
 * dates: parsing what people type for a date and a time, in French and
 * English, and writing instants back in full.  See dates.h.
 *
 * The text is folded (lower case, no accents), cut into tokens (numbers,
 * words, single punctuation marks), and read left to right by small
 * recognisers that fill in a day (absolute, relative or a weekday) and a
 * time or a time range.  Anything left unread makes the text "not a date":
 * the parser never guesses.
 */
#include "bot/dates.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/i18n.h"
#include "lib/text.h"
#include "lib/tz.h"

enum tok_kind { TOK_NUM, TOK_WORD, TOK_PUNCT, TOK_END };

struct tok {
	enum tok_kind kind;
	int num;       /* TOK_NUM: its value (capped) */
	int ndigits;   /* TOK_NUM: how many digits */
	char text[24]; /* TOK_WORD: the word; TOK_PUNCT: the mark */
};

#define DATES_MAX_TOKS 48

struct parse {
	struct tok t[DATES_MAX_TOKS];
	int n, pos;
	/* The day. */
	int year, month, day; /* absolute; 0 when not given */
	bool numeric;         /* day and month came as "x/y" */
	bool month_day;       /* a day of the month alone: "le 15" */
	bool weekday_day;     /* ... known as one by a weekday alone */
	bool no_month_day;    /* read "jeudi 19" as no day of the month */
	int weekday;          /* 0 = Sunday .. 6; -1 when not given */
	bool next;            /* "prochain", "next" */
	int weeks_on;         /* "vendredi en huit": 1; "en quinze": 2 */
	bool rel;             /* a day counted from today: */
	int rel_days;         /* "demain" 1, "hier" -1, "dans 3 jours" 3 */
	bool rel_time;        /* an instant counted from now: */
	int rel_min;          /* "dans 2h" 120 */
	/* The time. */
	int hour, minute;         /* -1 when not given */
	int end_hour, end_minute; /* a range's end; -1 when none */
	bool bad_time;
	bool meridiem;     /* am or pm was given */
	bool bare_hour;    /* "at 7": no h, no am or pm */
	bool later_half;   /* "soir", "apres-midi", "evening": a
	                      bare 8h is 20h */
	bool earlier_half; /* "matin", "morning" */
};

static const char *const dates__wd_fr[] = { "dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi" };
static const char *const dates__wd_en[] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"
};
static const char *const dates__wd_abbr[] = { "dim", "lun", "mar", "mer", "jeu", "ven", "sam" };
static const char *const dates__wd_abbr_en[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
static const char *const dates__mon_fr[] = { "janvier", "fevrier", "mars",      "avril",   "mai",      "juin",
	                                     "juillet", "aout",    "septembre", "octobre", "novembre", "decembre" };
static const char *const dates__mon_en[] = { "january", "february", "march",     "april",   "may",      "june",
	                                     "july",    "august",   "september", "october", "november", "december" };

/* ---- tokens ---- */

static int dates__tokenize(struct parse *p, const char *folded)
{
	const char *s = folded;
	p->n = 0;
	while(*s) {
		unsigned char c = (unsigned char)*s;
		if(c == ' ' || c == '\t' || c == '\n') {
			s++;
			continue;
		}
		if(p->n == DATES_MAX_TOKS - 1)
			return -1;
		struct tok *t = &p->t[p->n++];
		memset(t, 0, sizeof(*t));
		if(isdigit(c)) {
			t->kind = TOK_NUM;
			while(isdigit((unsigned char)*s)) {
				if(t->num < 100000)
					t->num = t->num * 10 + (*s - '0');
				t->ndigits++;
				s++;
			}
		} else if(isalpha(c)) {
			t->kind = TOK_WORD;
			size_t k = 0;
			while(isalpha((unsigned char)*s)) {
				if(k < sizeof(t->text) - 1)
					t->text[k++] = *s;
				s++;
			}
			/* "le premier", "the first" are read as "1er": a number
			 * and its ordinal mark. */
			if((!strcmp(t->text, "premier") || !strcmp(t->text, "first")) && p->n < DATES_MAX_TOKS - 1) {
				t->kind = TOK_NUM;
				t->num = t->ndigits = 1;
				t = &p->t[p->n++];
				memset(t, 0, sizeof(*t));
				t->kind = TOK_WORD;
				memcpy(t->text, "er", 3);
			}
		} else if(c == 0xE2 && (unsigned char)s[1] == 0x80 &&
		          ((unsigned char)s[2] == 0x93 || (unsigned char)s[2] == 0x94)) {
			/* En and em dashes are dashes. */
			t->kind = TOK_PUNCT;
			t->text[0] = '-';
			s += 3;
		} else if(c < 0x80 && strchr("-/.:,'", c)) {
			t->kind = TOK_PUNCT;
			t->text[0] = (char)c;
			s++;
		} else {
			return -1;
		}
	}
	p->t[p->n].kind = TOK_END;
	return 0;
}

static const struct tok *dates__at(const struct parse *p, int off)
{
	int i = p->pos + off;
	return i < p->n ? &p->t[i] : &p->t[p->n];
}

static bool dates__word(const struct parse *p, int off, const char *w)
{
	const struct tok *t = dates__at(p, off);
	return t->kind == TOK_WORD && !strcmp(t->text, w);
}

static bool dates__punct(const struct parse *p, int off, char c)
{
	const struct tok *t = dates__at(p, off);
	return t->kind == TOK_PUNCT && t->text[0] == c;
}

static bool dates__num(const struct parse *p, int off)
{
	return dates__at(p, off)->kind == TOK_NUM;
}

/* ---- words ---- */

static int dates__month_word(const char *w)
{
	size_t len = strlen(w);
	for(int i = 0; i < 12; i++) {
		if(!strcmp(w, dates__mon_fr[i]) || !strcmp(w, dates__mon_en[i]))
			return i + 1;
		/* Abbreviations: at least three letters of the name ("dec",
		 * "sept", "janv", "fevr", "juil").  "mar" is March; "ma" no. */
		if(len >= 3 && (!strncmp(w, dates__mon_fr[i], len) || !strncmp(w, dates__mon_en[i], len))) {
			/* "jui" could be juin or juillet: refuse the ambiguous. */
			if(!strcmp(w, "jui") || !strcmp(w, "ju"))
				return 0;
			return i + 1;
		}
	}
	return 0;
}

static int dates__weekday_word(const char *w)
{
	for(int i = 0; i < 7; i++) {
		if(!strcmp(w, dates__wd_fr[i]) || !strcmp(w, dates__wd_en[i]) || !strcmp(w, dates__wd_abbr[i]) ||
		   !strcmp(w, dates__wd_abbr_en[i]))
			return i;
	}
	if(!strcmp(w, "tues"))
		return 2;
	if(!strcmp(w, "wednes") || !strcmp(w, "weds"))
		return 3;
	if(!strcmp(w, "thur") || !strcmp(w, "thurs"))
		return 4;
	return -1;
}

static bool dates__is_pm(const char *w)
{
	return !strcmp(w, "pm");
}
static bool dates__is_am(const char *w)
{
	return !strcmp(w, "am");
}

/* True when t is an ordinal's ending: 1er, 3rd, 15th. */
static bool dates__ordinal(const struct tok *t)
{
	return t->kind == TOK_WORD && (!strcmp(t->text, "er") || !strcmp(t->text, "st") || !strcmp(t->text, "nd") ||
	                               !strcmp(t->text, "rd") || !strcmp(t->text, "th"));
}

/* Skips an optional "." after an abbreviation. */
static void dates__skip_dot(struct parse *p)
{
	if(dates__punct(p, 0, '.'))
		p->pos++;
}

/* ---- times ---- */

/* Reads a time at pos: 19h, 19h30, 19 h 30, 19:30, 7pm, 7 pm, 7:30pm,
 * 7.30pm, midi, minuit, noon, midnight.  meridiem is set to 'a' or 'p'
 * when given.  A bare number is read only when bare_ok.  Returns true and
 * advances when a time was read. */
static bool dates__time(struct parse *p, int *h, int *m, char *meridiem, bool bare_ok)
{
	int save = p->pos;
	*meridiem = 0;
	*m = 0;
	if(dates__word(p, 0, "midi") || dates__word(p, 0, "noon")) {
		p->pos++;
		*h = 12;
		return true;
	}
	if(dates__word(p, 0, "minuit") || dates__word(p, 0, "midnight")) {
		p->pos++;
		*h = 0;
		return true;
	}
	if(!dates__num(p, 0) || dates__at(p, 0)->ndigits > 2)
		return false;
	*h = dates__at(p, 0)->num;
	p->pos++;
	bool explicit = false;
	if(dates__word(p, 0, "h") || dates__word(p, 0, "heures") || dates__word(p, 0, "heure")) {
		p->pos++;
		explicit = true;
		if(dates__num(p, 0) && dates__at(p, 0)->ndigits == 2) {
			*m = dates__at(p, 0)->num;
			p->pos++;
		}
	} else if((dates__punct(p, 0, ':') ||
	           (dates__punct(p, 0, '.') && dates__num(p, 1) && dates__at(p, 1)->ndigits == 2 &&
	            dates__at(p, 2)->kind == TOK_WORD &&
	            (dates__is_pm(dates__at(p, 2)->text) || dates__is_am(dates__at(p, 2)->text)))) &&
	          dates__num(p, 1) && dates__at(p, 1)->ndigits == 2) {
		*m = dates__at(p, 1)->num;
		p->pos += 2;
		explicit = true;
	}
	if(dates__at(p, 0)->kind == TOK_WORD &&
	   (dates__is_pm(dates__at(p, 0)->text) || dates__is_am(dates__at(p, 0)->text))) {
		*meridiem = dates__is_pm(dates__at(p, 0)->text) ? 'p' : 'a';
		p->pos++;
		if(dates__punct(p, 0, '.')) /* "p.m." is rare; "pm." happens */
			p->pos++;
		explicit = true;
	}
	if(!explicit && !bare_ok) {
		p->pos = save;
		return false;
	}
	return true;
}

/* Applies am/pm to an hour of the 12-hour clock. */
static int dates__h24(int h, char meridiem, bool *bad)
{
	if(!meridiem)
		return h;
	if(h < 1 || h > 12) {
		*bad = true;
		return h;
	}
	if(meridiem == 'a')
		return h == 12 ? 0 : h;
	return h == 12 ? 12 : h + 12;
}

/* Reads a time or a range: "19h-21h", "19h a 21h", "de 19h a 21h",
 * "7-9pm", "from 7 to 9pm". */
static bool dates__time_or_range(struct parse *p)
{
	int save = p->pos;
	bool from = false;
	if(dates__word(p, 0, "de") || dates__word(p, 0, "from") || dates__word(p, 0, "entre") ||
	   dates__word(p, 0, "between")) {
		p->pos++;
		from = true;
	}
	int h1, m1, h2 = -1, m2 = 0;
	char mer1, mer2 = 0;
	/* A bare number starts a time only when a range follows ("7-9pm"). */
	if(!dates__time(p, &h1, &m1, &mer1, false)) {
		if(!dates__time(p, &h1, &m1, &mer1, true)) {
			p->pos = save;
			return false;
		}
		bool sep = dates__punct(p, 0, '-') || dates__word(p, 0, "a") || dates__word(p, 0, "to") ||
		           dates__word(p, 0, "et") || dates__word(p, 0, "and");
		if(!sep) {
			p->pos = save;
			return false;
		}
	}
	int after_first = p->pos;
	if(dates__punct(p, 0, '-') || dates__word(p, 0, "a") || dates__word(p, 0, "to") || dates__word(p, 0, "au") ||
	   (from && (dates__word(p, 0, "et") || dates__word(p, 0, "and")))) {
		p->pos++;
		if(!dates__time(p, &h2, &m2, &mer2, true)) {
			p->pos = after_first;
			h2 = -1;
		}
	}
	/* "7-9pm": the first time takes the second's meridiem when that keeps
	 * it before the end. */
	if(h2 >= 0 && !mer1 && mer2 && h1 >= 1 && h1 <= 12) {
		bool bad = false;
		int end = dates__h24(h2, mer2, &bad);
		int as_same = dates__h24(h1, mer2, &bad);
		mer1 = as_same < end ? mer2 : (mer2 == 'p' ? 'a' : 'p');
	}
	p->meridiem = mer1 || mer2;
	p->hour = dates__h24(h1, mer1, &p->bad_time);
	p->minute = m1;
	if(h2 >= 0) {
		p->end_hour = dates__h24(h2, mer2, &p->bad_time);
		p->end_minute = m2;
	}
	return true;
}

/* ---- days ---- */

/* Reads an ISO date at pos, "2026-12-03" (and "2026-12-03T19:00", the T
 * being a word of its own); the caller has seen its five tokens. */
static bool dates__iso_date(struct parse *p)
{
	p->year = dates__at(p, 0)->num;
	p->month = dates__at(p, 2)->num;
	p->day = dates__at(p, 4)->num;
	p->pos += 5;
	if(dates__word(p, 0, "t"))
		p->pos++;
	return true;
}

/* Reads "03/12", "3/12/2026", "3.12.", "3.12.26" at pos, where the caller
 * has seen two numbers of at most two digits around '/' or '.'.  Returns
 * false, reading nothing, for a time ("7.30pm"). */
static bool dates__numeric_date(struct parse *p)
{
	const struct tok *a = dates__at(p, 0);
	char sep = dates__at(p, 1)->text[0];
	/* "7.30pm" is a time, not a date. */
	if(sep == '.' && dates__at(p, 3)->kind == TOK_WORD &&
	   (dates__is_pm(dates__at(p, 3)->text) || dates__is_am(dates__at(p, 3)->text)))
		return false;
	int x = a->num, y = dates__at(p, 2)->num;
	p->pos += 3;
	/* A year follows the same separator, unless the number is the
	 * hour of a time ("3.12. 19h"). */
	const struct tok *after = dates__at(p, 2);
	bool is_hour = (after->kind == TOK_WORD &&
	                (!strcmp(after->text, "h") || dates__is_pm(after->text) || dates__is_am(after->text))) ||
	               (after->kind == TOK_PUNCT && after->text[0] == ':');
	if(dates__punct(p, 0, sep) && dates__num(p, 1) && !is_hour &&
	   (dates__at(p, 1)->ndigits == 2 || dates__at(p, 1)->ndigits == 4)) {
		int yy = dates__at(p, 1)->num;
		p->year = dates__at(p, 1)->ndigits == 2 ? 2000 + yy : yy;
		p->pos += 2;
	} else if(sep == '.' && dates__punct(p, 0, '.')) {
		p->pos++;
	}
	/* Day first unless told otherwise; a first number above 12 can
	 * only be a day. */
	p->day = x;
	p->month = y;
	p->numeric = true;
	return true;
}

/* Reads "3 dec", "3 decembre 2026", "3rd december", "1er mai" at pos, whose
 * number of at most two digits the caller has seen.  Returns false, reading
 * nothing, when no month follows. */
static bool dates__day_then_month(struct parse *p)
{
	int off = 1;
	if(dates__ordinal(dates__at(p, 1)))
		off = 2;
	if(dates__word(p, off, "of"))
		off++;
	const struct tok *mw = dates__at(p, off);
	int mon = mw->kind == TOK_WORD ? dates__month_word(mw->text) : 0;
	if(!mon)
		return false;
	p->day = dates__at(p, 0)->num;
	p->month = mon;
	p->pos += off + 1;
	dates__skip_dot(p);
	if(dates__num(p, 0) && dates__at(p, 0)->ndigits == 4) {
		p->year = dates__at(p, 0)->num;
		p->pos++;
	}
	return true;
}

/* Reads "dec 3", "december 3rd", "december 3, 2026" at pos, whose word the
 * caller has seen.  Returns false, reading nothing, when the word is no
 * month or no day follows it. */
static bool dates__month_then_day(struct parse *p)
{
	int mon = dates__month_word(dates__at(p, 0)->text);
	if(!mon)
		return false;
	int save = p->pos;
	p->pos++;
	dates__skip_dot(p);
	if(!dates__num(p, 0) || dates__at(p, 0)->ndigits > 2) {
		p->pos = save;
		return false;
	}
	/* "dec 3 7pm" vs "dec 7pm": a number followed by am/pm or h is
	 * a time. */
	const struct tok *after = dates__at(p, 1);
	if(after->kind == TOK_WORD &&
	   (dates__is_pm(after->text) || dates__is_am(after->text) || !strcmp(after->text, "h"))) {
		p->pos = save;
		return false;
	}
	p->month = mon;
	p->day = dates__at(p, 0)->num;
	p->pos++;
	const struct tok *sfx = dates__at(p, 0);
	if(sfx->kind == TOK_WORD && (!strcmp(sfx->text, "st") || !strcmp(sfx->text, "nd") || !strcmp(sfx->text, "rd") ||
	                             !strcmp(sfx->text, "th")))
		p->pos++;
	if(dates__punct(p, 0, ',') && dates__num(p, 1) && dates__at(p, 1)->ndigits == 4) {
		p->year = dates__at(p, 1)->num;
		p->pos += 2;
	} else if(dates__num(p, 0) && dates__at(p, 0)->ndigits == 4) {
		p->year = dates__at(p, 0)->num;
		p->pos++;
	}
	return true;
}

/* Reads a numeric or written date at pos into p: the first of the forms
 * above whose start is there decides. */
static bool dates__date(struct parse *p)
{
	const struct tok *a = dates__at(p, 0);
	if(a->kind == TOK_NUM && a->ndigits == 4 && dates__punct(p, 1, '-') && dates__num(p, 2) &&
	   dates__punct(p, 3, '-') && dates__num(p, 4))
		return dates__iso_date(p);
	if(a->kind == TOK_NUM && a->ndigits <= 2 && (dates__punct(p, 1, '/') || dates__punct(p, 1, '.')) &&
	   dates__num(p, 2) && dates__at(p, 2)->ndigits <= 2)
		return dates__numeric_date(p);
	if(a->kind == TOK_NUM && a->ndigits <= 2)
		return dates__day_then_month(p);
	if(a->kind == TOK_WORD)
		return dates__month_then_day(p);
	return false;
}

/* True when the tokens at pos are "a" or "at" and then a number or a
 * word for an hour: "a 18h30", "at 7pm", "a midi". */
static bool dates__at_time(const struct parse *p)
{
	return (dates__word(p, 0, "a") || dates__word(p, 0, "at")) &&
	       (dates__num(p, 1) || dates__word(p, 1, "midi") || dates__word(p, 1, "noon") ||
	        dates__word(p, 1, "minuit") || dates__word(p, 1, "midnight"));
}

/* A day of the month alone, at pos: "le 15", "jeudi 3", "the 3rd", "15th",
 * "1er", "15 a 18h30".  A number is read as a day only when an ordinal mark
 * follows it, or "le", "the" or a weekday comes just before it, or it
 * starts the text and "a" ("at") and a time follow it; and never when a
 * time mark follows it: "de 19 a 21h" stays a range and "jeudi 19h" a
 * time. */
static bool dates__month_day(struct parse *p)
{
	const struct tok *a = dates__at(p, 0);
	if(a->kind != TOK_NUM || a->ndigits > 2)
		return false;
	bool ordinal = dates__ordinal(dates__at(p, 1));
	int off = ordinal ? 2 : 1;
	int back = p->pos - 1;
	if(back >= 0 && p->t[back].kind == TOK_PUNCT && p->t[back].text[0] == '.')
		back--; /* "jeu. 3" */
	const struct tok *prev = back >= 0 ? &p->t[back] : NULL;
	bool marked = prev && prev->kind == TOK_WORD &&
	              (!strcmp(prev->text, "le") || !strcmp(prev->text, "the") || dates__weekday_word(prev->text) >= 0);
	bool by_weekday = marked && dates__weekday_word(prev->text) >= 0;
	/* "15 a 18h30": "a" is "at" there, as in "le 15 a 18h30"; a range
	 * says "de 15 a 18h30" or "15h a 18h30". */
	if(!prev && !ordinal) {
		p->pos++;
		marked = dates__at_time(p);
		p->pos--;
	}
	if((!ordinal && !marked) || (p->no_month_day && !ordinal && by_weekday))
		return false;
	const struct tok *next = dates__at(p, off);
	if((next->kind == TOK_WORD &&
	    (!strcmp(next->text, "h") || !strcmp(next->text, "heure") || !strcmp(next->text, "heures") ||
	     dates__is_pm(next->text) || dates__is_am(next->text))) ||
	   (next->kind == TOK_PUNCT && (next->text[0] == ':' || next->text[0] == '-')))
		return false;
	p->day = a->num;
	p->month_day = true;
	p->weekday_day = !ordinal && by_weekday;
	p->pos += off;
	return true;
}

/* One of the NULL-terminated words. */
static bool dates__one_of(const struct tok *t, const char *const *words)
{
	if(t->kind != TOK_WORD)
		return false;
	for(; *words; words++)
		if(!strcmp(t->text, *words))
			return true;
	return false;
}

#define DATES_WORDS(...) \
	(const char *const[]) \
	{ \
		__VA_ARGS__, NULL \
	}
#define DATES_HOURS DATES_WORDS("h", "heure", "heures", "hour", "hours", "hr", "hrs")
#define DATES_MINUTES DATES_WORDS("min", "mins", "minute", "minutes", "mn")

/* The farthest "dans ..." reaches: ten years. */
#define DATES_REL_MAX_DAYS 3660

/* "dans 3 jours", "in 2 days", "dans une semaine", "in a week": a day;
 * "dans 2h", "dans 1 heure", "dans 1h30", "dans 30 minutes", "in 2 hours",
 * "dans une demi-heure", "in half an hour": an instant from now. */
static bool dates__in(struct parse *p)
{
	if(!dates__word(p, 0, "dans") && !dates__word(p, 0, "in"))
		return false;
	if((dates__word(p, 1, "une") && dates__word(p, 2, "demi") && dates__punct(p, 3, '-') &&
	    dates__word(p, 4, "heure")) ||
	   (dates__word(p, 1, "half") && dates__word(p, 2, "an") && dates__word(p, 3, "hour"))) {
		p->rel_time = true;
		p->rel_min = 30;
		p->pos += dates__word(p, 1, "half") ? 4 : 5;
		return true;
	}
	int n;
	const struct tok *c = dates__at(p, 1);
	if(c->kind == TOK_NUM)
		n = c->num;
	else if(dates__one_of(c, DATES_WORDS("un", "une", "a", "an", "one")))
		n = 1;
	else
		return false;
	const struct tok *u = dates__at(p, 2);
	if(dates__one_of(u, DATES_WORDS("jours", "jour", "j", "days", "day", "d"))) {
		p->rel = true;
		p->rel_days = n;
	} else if(dates__one_of(u, DATES_WORDS("semaines", "semaine", "weeks", "week"))) {
		p->rel = true;
		p->rel_days = n * 7;
	} else if(dates__one_of(u, DATES_HOURS)) {
		p->rel_time = true;
		p->rel_min = n * 60;
		/* "dans 1h30", "dans 1 h 30 min"; but "dans 2h 19h" is no date. */
		const struct tok *m = dates__at(p, 3), *after = dates__at(p, 4);
		if(m->kind == TOK_NUM && m->ndigits == 2 && m->num < 60 && !dates__one_of(after, DATES_HOURS) &&
		   !(after->kind == TOK_PUNCT && after->text[0] == ':') &&
		   !(after->kind == TOK_WORD && (dates__is_am(after->text) || dates__is_pm(after->text)))) {
			p->rel_min += m->num;
			p->pos++;
			if(dates__one_of(after, DATES_MINUTES))
				p->pos++;
		}
	} else if(dates__one_of(u, DATES_MINUTES)) {
		p->rel_time = true;
		p->rel_min = n;
	} else {
		return false;
	}
	if(p->rel_days > DATES_REL_MAX_DAYS || p->rel_min > DATES_REL_MAX_DAYS * 1440)
		return false;
	p->pos += 3;
	return true;
}

/* A part of the day: "soir", "soiree", "matin", "apres-midi" (or "apres
 * midi"), "evening", "morning", "afternoon", "du soir", "au soir", "in the
 * evening".  It gives no time by itself; after noon, it makes a bare 8h
 * mean 20h; either part settles "at 7". */
static bool dates__part_of_day(struct parse *p)
{
	int off = 0;
	if(dates__word(p, 0, "du") || dates__word(p, 0, "au") || (dates__word(p, 0, "in") && dates__word(p, 1, "the")))
		off = dates__word(p, 0, "in") ? 2 : 1;
	static const char *const later[] = { "soir", "soiree", "evening", "afternoon", "night" };
	static const char *const earlier[] = { "matin", "matinee", "morning" };
	for(size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
		if(dates__word(p, off, later[i])) {
			p->later_half = true;
			p->pos += off + 1;
			return true;
		}
	for(size_t i = 0; i < sizeof(earlier) / sizeof(earlier[0]); i++)
		if(dates__word(p, off, earlier[i])) {
			p->earlier_half = true;
			p->pos += off + 1;
			return true;
		}
	if(off == 0 && dates__word(p, 0, "apres") &&
	   (dates__word(p, 1, "midi") || (dates__punct(p, 1, '-') && dates__word(p, 2, "midi")))) {
		p->later_half = true;
		p->pos += dates__word(p, 1, "midi") ? 2 : 3;
		return true;
	}
	return false;
}

/* A day counted from today: "aujourd'hui", "today", "demain", "tomorrow",
 * "apres-demain", "hier", "yesterday", "avant-hier", "ce soir", "tonight".
 * Days before today are read, to be refused as past rather than as no
 * date. */
static bool dates__rel_day(struct parse *p)
{
	static const struct {
		const char *w1, *w2;
		int days, ntok;
		bool evening;
	} rel[] = {
		{ "aujourdhui", NULL, 0, 1, false }, { "today", NULL, 0, 1, false },
		{ "demain", NULL, 1, 1, false },     { "tomorrow", NULL, 1, 1, false },
		{ "apres", "demain", 2, 2, false },  { "hier", NULL, -1, 1, false },
		{ "yesterday", NULL, -1, 1, false }, { "avant", "hier", -2, 2, false },
		{ "ce", "soir", 0, 2, true },        { "tonight", NULL, 0, 1, true },
	};
	if(dates__word(p, 0, "aujourd") && dates__punct(p, 1, '\'') && dates__word(p, 2, "hui")) {
		p->rel = true;
		p->rel_days = 0;
		p->pos += 3;
		return true;
	}
	for(size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if(!dates__word(p, 0, rel[i].w1))
			continue;
		int ntok = rel[i].ntok;
		if(rel[i].w2) {
			/* "apres-demain" and "apres demain", "avant-hier". */
			if(dates__punct(p, 1, '-') && dates__word(p, 2, rel[i].w2))
				ntok = 3;
			else if(!dates__word(p, 1, rel[i].w2))
				continue;
		}
		p->rel = true;
		p->rel_days = rel[i].days;
		p->later_half |= rel[i].evening;
		p->pos += ntok;
		return true;
	}
	return false;
}

/* Reads what follows "a" or "at" at pos (dates__at_time() said it is a
 * time): an hour or a range, or a number alone, read as a bare hour.  A
 * number alone from 1 to 11 could be morning or evening: the text is
 * refused with the question unless a part of the day or am/pm settles it
 * ("Thursday at 7 in the evening").  Returns whether a time was read; pos
 * is past "at" either way. */
static bool dates__after_at(struct parse *p)
{
	bool english = dates__word(p, 0, "at");
	int at = ++p->pos;
	if(dates__time_or_range(p)) {
		/* "at 7:30" is no clearer than "at 7" in English; "07:30" is
		 * the 24-hour clock and "7h30" French usage, both the morning. */
		if(english && !p->meridiem && p->end_hour < 0 && (p->t[at].ndigits == 1 || p->t[at].num >= 10) &&
		   at + 1 < p->n && p->t[at + 1].kind == TOK_PUNCT && p->t[at + 1].text[0] == ':')
			p->bare_hour = true;
		return true;
	}
	if(dates__num(p, 0) && dates__at(p, 0)->ndigits <= 2) {
		p->hour = dates__at(p, 0)->num;
		p->minute = 0;
		p->bare_hour = true;
		p->pos++;
		return true;
	}
	return false;
}

/* True for a word that says nothing of the day or the time. */
static bool dates__filler(const char *w)
{
	return !strcmp(w, "le") || !strcmp(w, "the") || !strcmp(w, "on") || !strcmp(w, "at") || !strcmp(w, "a") ||
	       !strcmp(w, "vers") || !strcmp(w, "around");
}

/* Reads a weekday at pos, when none was read yet, with what may surround
 * it: "next" or "ce", "this" before it (read alone, the weekday coming
 * next), "prochain", "next", "en huit" or "en quinze" after it.  Returns
 * false, reading nothing, when pos holds none of these. */
static bool dates__weekday(struct parse *p)
{
	const char *w = dates__at(p, 0)->text;
	bool weekday_next = dates__at(p, 1)->kind == TOK_WORD && dates__weekday_word(dates__at(p, 1)->text) >= 0;
	int wd;
	if(!strcmp(w, "next") && weekday_next) {
		p->next = true;
		p->pos++;
		return true;
	}
	/* "ce vendredi", "this Friday": the coming one. */
	if((!strcmp(w, "ce") || !strcmp(w, "this")) && weekday_next) {
		p->pos++;
		return true;
	}
	if((wd = dates__weekday_word(w)) < 0)
		return false;
	p->weekday = wd;
	p->pos++;
	dates__skip_dot(p);
	if(dates__word(p, 0, "prochain") || dates__word(p, 0, "next")) {
		p->next = true;
		p->pos++;
	}
	/* "vendredi en huit": a week after the coming Friday; "en quinze",
	 * two. */
	if(dates__word(p, 0, "en") && (dates__word(p, 1, "huit") || dates__word(p, 1, "quinze"))) {
		p->weeks_on = dates__word(p, 1, "huit") ? 1 : 2;
		p->pos += 2;
	}
	return true;
}

/* Reads the whole text.  Returns DATE_OK or DATE_SYNTAX (other errors are
 * found when the fields are checked). */
static enum date_err dates__read(struct parse *p)
{
	bool have_day = false, have_time = false;
	while(p->pos < p->n) {
		const struct tok *t = dates__at(p, 0);
		if(t->kind == TOK_PUNCT && (t->text[0] == ',' || t->text[0] == '-')) {
			p->pos++; /* "Thursday, December 3", "jeudi - 19h" */
			continue;
		}
		if(t->kind == TOK_WORD) {
			const char *w = t->text;
			/* "at 7", "a 19": a number alone after "at" is an hour;
			 * "jeudi 7h" is 7:00, as French has it. */
			if(!have_time && dates__at_time(p)) {
				if(dates__after_at(p))
					have_time = true;
				continue;
			}
			if(dates__filler(w)) {
				p->pos++;
				continue;
			}
			if(!have_day && dates__rel_day(p)) {
				have_day = true;
				continue;
			}
			if(!have_day && !have_time && dates__in(p)) {
				have_day = true;
				have_time = p->rel_time;
				continue;
			}
			if(dates__part_of_day(p))
				continue;
			if(p->weekday < 0 && dates__weekday(p))
				continue;
			if(!have_day && dates__date(p)) {
				have_day = true;
				continue;
			}
			if(!have_time && dates__time_or_range(p)) {
				have_time = true;
				continue;
			}
			return DATE_SYNTAX;
		}
		if(t->kind == TOK_NUM) {
			if(!have_day && (dates__date(p) || dates__month_day(p))) {
				have_day = true;
				continue;
			}
			if(!have_time && dates__time_or_range(p)) {
				have_time = true;
				continue;
			}
			return DATE_SYNTAX;
		}
		return DATE_SYNTAX;
	}
	if(!have_day && p->weekday < 0 && !have_time)
		return DATE_SYNTAX;
	return DATE_OK;
}

/* ---- the calendar ---- */

static bool dates__leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int dates__mdays(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && dates__leap(y) ? 29 : d[m - 1];
}

/* Adds n days to a calendar date. */
static void dates__add_days(int *y, int *m, int *d, int n)
{
	struct tm tm = { .tm_year = *y - 1900, .tm_mon = *m - 1, .tm_mday = *d + n, .tm_hour = 12 };
	time_t t = timegm(&tm);
	gmtime_r(&t, &tm);
	*y = tm.tm_year + 1900;
	*m = tm.tm_mon + 1;
	*d = tm.tm_mday;
}

static int dates__weekday_of(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12 };
	time_t t = timegm(&tm);
	gmtime_r(&t, &tm);
	return tm.tm_wday;
}

/* The instant of y-m-d h:mi in tz, or an error. */
static enum date_err dates__instant(const char *tz, int y, int m, int d, int h, int mi, time_t *out)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi };
	enum tz_result r = tz_mktime(tz, &tm, out);
	if(r == TZ_GAP)
		return DATE_GAP;
	if(r == TZ_BADZONE)
		return DATE_SYNTAX;
	return DATE_OK;
}

/* The longest range that a number after a weekday may start when it
 * cannot be that day of the month: an evening's few hours ("vendredi 19 a
 * 21h", the 19th being a Saturday).  Longer, the number was the day
 * misnamed ("lundi 12 a 19h" is not 12:00-19:00), and the reply says which
 * weekday that day is. */
#define DATES_RANGE_GUESS_MIN (4 * 60)

/* A day and month without a year are the next such day only when it is
 * less than this many months ahead; further, the year is asked for
 * ("12/10" typed on 6 December would be next October). */
#define DATES_AHEAD_MONTHS 6

/* Fills why for a weekday that y-m-d is not. */
static enum date_err dates__not_weekday(struct date_why *why, int y, int m, int d)
{
	why->year = y;
	why->month = m;
	why->day = d;
	why->weekday = dates__weekday_of(y, m, d);
	return DATE_WEEKDAY;
}

/* Fills why for a day that month m of year y does not have. */
static enum date_err dates__no_such_day(struct date_why *why, int y, int m)
{
	why->year = y;
	why->month = m;
	return DATE_IMPOSSIBLE;
}

/* The day that p names, given today (now): a date, a day of the month, a
 * day counted from today, a weekday, or today.  Stores it in y-m-d, and
 * in *far whether it is a day and month without a year that lies
 * DATES_AHEAD_MONTHS or more ahead.  Returns DATE_OK, or the reason with
 * why filled in. */
static enum date_err dates__which_day(const struct parse *p, const struct tm *now, int *y, int *m, int *d, bool *far,
                                      struct date_why *why)
{
	int ty = now->tm_year + 1900, tm_ = now->tm_mon + 1, td = now->tm_mday;
	*far = false;
	if(p->month) {
		*y = p->year ? p->year : ty;
		/* Without a year, a day earlier in the year than today is next
		 * year's ("3/01" typed in December). */
		if(!p->year && (p->month < tm_ || (p->month == tm_ && p->day < td)))
			(*y)++;
		*m = p->month;
		*d = p->day;
		if(*d > dates__mdays(*y, *m))
			return dates__no_such_day(why, *y, *m);
		if(p->weekday >= 0 && dates__weekday_of(*y, *m, *d) != p->weekday)
			return dates__not_weekday(why, *y, *m, *d);
		/* A weekday that agrees settles the year as well as a year
		 * would ("mardi 12 octobre" in December is next October's). */
		int ly = ty, lm = tm_ + DATES_AHEAD_MONTHS;
		if(lm > 12) {
			lm -= 12;
			ly++;
		}
		*far = !p->year && p->weekday < 0 && *y * 10000 + *m * 100 + *d >= ly * 10000 + lm * 100 + td;
	} else if(p->month_day) {
		/* A day of the month alone: this month's, or the next month's
		 * when it is behind us ("le 3" typed on the 20th). */
		*y = ty, *m = tm_, *d = p->day;
		if(*d < td && ++*m > 12) {
			*m = 1;
			(*y)++;
		}
		if(*d > dates__mdays(*y, *m))
			return dates__no_such_day(why, *y, *m);
		if(p->weekday >= 0 && dates__weekday_of(*y, *m, *d) != p->weekday)
			return dates__not_weekday(why, *y, *m, *d);
	} else if(p->rel) {
		*y = ty, *m = tm_, *d = td;
		dates__add_days(y, m, d, p->rel_days);
		if(p->weekday >= 0 && dates__weekday_of(*y, *m, *d) != p->weekday)
			return dates__not_weekday(why, *y, *m, *d);
	} else if(p->weekday >= 0) {
		int delta = (p->weekday - now->tm_wday + 7) % 7;
		*y = ty, *m = tm_, *d = td;
		if(delta == 0) {
			/* Today, if the time is still ahead and "next" was not said. */
			bool ahead = p->hour * 60 + p->minute > now->tm_hour * 60 + now->tm_min;
			if(p->next || !ahead)
				delta = 7;
		}
		dates__add_days(y, m, d, delta + 7 * p->weeks_on);
	} else {
		*y = ty, *m = tm_, *d = td; /* a time alone: today */
	}
	return DATE_OK;
}

/* Folds text and cuts it into p's tokens, p being made empty first.
 * Returns DATE_OK, DATE_EMPTY or DATE_SYNTAX. */
static enum date_err dates__scan(struct parse *p, const char *text)
{
	struct strbuf folded = STRBUF_INIT;
	enum date_err err = DATE_OK;
	memset(p, 0, sizeof(*p));
	p->weekday = -1;
	p->hour = p->minute = p->end_hour = p->end_minute = -1;
	if(!text || text_fold(&folded, text))
		err = DATE_SYNTAX;
	else if(!folded.len)
		err = DATE_EMPTY;
	else if(dates__tokenize(p, folded.buf))
		err = DATE_SYNTAX;
	strbuf_release(&folded);
	return err;
}

/* Checks the numbers of the day and the month, before anything else: "le
 * 40" has no day 40, whether a time was given or not.  "x/y" becomes
 * month/day where the chat says so.  Returns DATE_OK, or the reason with
 * why filled in. */
static enum date_err dates__check_day(const struct date_ctx *ctx, struct parse *p, struct date_why *why)
{
	if(p->month) {
		/* "x/y" is day/month, or month/day where the chat says so; a
		 * number above 12 can only be the day. */
		if(p->numeric && p->day <= 12 && (ctx->month_first || p->month > 12)) {
			int t = p->day;
			p->day = p->month;
			p->month = t;
		}
		if(p->month < 1 || p->month > 12) {
			why->month = p->month;
			return DATE_NO_MONTH;
		}
	}
	if((p->month || p->month_day) && (p->day < 1 || p->day > 31)) {
		why->day = p->day;
		return DATE_NO_DAY;
	}
	return DATE_OK;
}

/* The instant of "dans 2h", from now to the minute, into out.  Returns
 * DATE_OK, or DATE_PAST with why filled in. */
static enum date_err dates__from_now(const struct date_ctx *ctx, const struct parse *p, struct date_slot *out,
                                     struct date_why *why)
{
	time_t start = (ctx->now / 60 + p->rel_min) * 60;
	if(!ctx->allow_past && start < ctx->now) {
		why->when = start;
		return DATE_PAST;
	}
	out->start = start;
	out->duration_min = 0;
	return DATE_OK;
}

/* Settles p's time on the 24-hour clock: the chat's default time when
 * none was given, the evening's hours after "soir".  Returns DATE_OK, or
 * the reason (DATE_AMPM with why filled in). */
static enum date_err dates__settle_time(const struct date_ctx *ctx, struct parse *p, struct date_why *why)
{
	if(p->bad_time)
		return DATE_BAD_TIME;
	if(p->hour < 0) {
		if(ctx->default_time < 0)
			return DATE_NO_TIME;
		p->hour = ctx->default_time / 60;
		p->minute = ctx->default_time % 60;
	}
	if(p->hour > 23 || p->minute > 59 || p->end_hour > 23 || p->end_minute > 59)
		return DATE_BAD_TIME;
	/* "at 7" alone could be 7:00 or 19:00. */
	if(p->bare_hour && p->hour >= 1 && p->hour < 12 && !p->later_half && !p->earlier_half) {
		why->hour = p->hour;
		why->minute = p->minute;
		return DATE_AMPM;
	}
	/* "jeudi soir 8h": 20h; "soir 8h-10h": 20h-22h (an end past midnight,
	 * "soir 10h-1h", stays as it is). */
	if(p->later_half && !p->meridiem && p->hour >= 1 && p->hour < 12) {
		if(p->end_hour > p->hour && p->end_hour < 12)
			p->end_hour += 12;
		p->hour += 12;
	}
	return DATE_OK;
}

/* The length in minutes, into *duration, of p's range starting at start on
 * y-m-d (0 without a range); an end before the start is the next day's.
 * Returns DATE_OK or the reason. */
static enum date_err dates__duration(const struct date_ctx *ctx, const struct parse *p, int y, int m, int d,
                                     time_t start, int *duration)
{
	enum date_err err;
	*duration = 0;
	if(p->end_hour < 0)
		return DATE_OK;
	int s_min = p->hour * 60 + p->minute, e_min = p->end_hour * 60 + p->end_minute;
	if(e_min == s_min)
		return DATE_BAD_RANGE;
	if(e_min < s_min) /* past midnight */
		dates__add_days(&y, &m, &d, 1);
	time_t end;
	if((err = dates__instant(ctx->tz, y, m, d, p->end_hour, p->end_minute, &end)) != DATE_OK)
		return err;
	if(end <= start)
		return DATE_BAD_RANGE;
	*duration = (int)((end - start) / 60);
	return DATE_OK;
}

/* date_parse, with a number after a weekday read as a day of the month
 * ("jeudi 3") or not ("vendredi 19 a 21h": a range) as no_month_day says;
 * *weekday_day (unless NULL) tells whether the first reading was used.
 * why is never NULL. */
static enum date_err dates__parse(const struct date_ctx *ctx, const char *text, struct date_slot *out,
                                  bool no_month_day, bool *weekday_day, struct date_why *why)
{
	struct parse p;
	enum date_err err;
	if((err = dates__scan(&p, text)) != DATE_OK)
		return err;
	p.no_month_day = no_month_day;
	err = dates__read(&p);
	if(weekday_day)
		*weekday_day = p.weekday_day;
	if(err != DATE_OK)
		return err;
	/* "dans 2h" is a whole instant: nothing else may be said with it. */
	if(p.rel_time && (p.weekday >= 0 || p.later_half || p.earlier_half))
		return DATE_SYNTAX;

	struct tm now;
	if(tz_localtime(ctx->tz, ctx->now, &now))
		return DATE_SYNTAX;
	if((err = dates__check_day(ctx, &p, why)) != DATE_OK)
		return err;
	if(p.rel_time)
		return dates__from_now(ctx, &p, out, why);
	if((err = dates__settle_time(ctx, &p, why)) != DATE_OK)
		return err;

	int y, m, d;
	bool far;
	if((err = dates__which_day(&p, &now, &y, &m, &d, &far, why)) != DATE_OK)
		return err;
	time_t start;
	if((err = dates__instant(ctx->tz, y, m, d, p.hour, p.minute, &start)) != DATE_OK)
		return err;
	if(far) {
		why->when = start;
		return DATE_NEED_YEAR;
	}
	int duration;
	if((err = dates__duration(ctx, &p, y, m, d, start, &duration)) != DATE_OK)
		return err;
	if(!ctx->allow_past && start < ctx->now) {
		why->when = start;
		return DATE_PAST;
	}
	out->start = start;
	out->duration_min = duration;
	return DATE_OK;
}

enum date_err date_parse(const struct date_ctx *ctx, const char *text, struct date_slot *out)
{
	return date_parse_why(ctx, text, out, NULL);
}

enum date_err date_parse_why(const struct date_ctx *ctx, const char *text, struct date_slot *out, struct date_why *why)
{
	struct date_why first = { 0 }, second = { 0 };
	bool weekday_day = false;
	enum date_err err = dates__parse(ctx, text, out, false, &weekday_day, &first);
	/* A number after a weekday is that day of the month only when the
	 * weekday agrees ("jeudi 3 a 19h", the 3rd being a Thursday).
	 * Otherwise it is read again as the start of a range of a few hours
	 * ("vendredi 19 a 21h", "Friday 7 to 9pm"); a longer one is refused
	 * with the first reading's reason: "lundi 12 a 19h" is the 12th
	 * misnamed, not Monday 12:00-19:00. */
	if(err != DATE_OK && weekday_day) {
		struct date_slot range;
		if(dates__parse(ctx, text, &range, true, NULL, &second) == DATE_OK &&
		   range.duration_min <= DATES_RANGE_GUESS_MIN) {
			*out = range;
			return DATE_OK;
		}
	}
	if(err != DATE_OK && why)
		*why = first;
	return err;
}

/* ---- durations ---- */

int date_parse_duration(const char *text, int *minutes)
{
	struct strbuf folded = STRBUF_INIT;
	struct parse p;
	memset(&p, 0, sizeof(p));
	if(!text || text_fold(&folded, text) || dates__tokenize(&p, folded.buf)) {
		strbuf_release(&folded);
		return -1;
	}
	strbuf_release(&folded);
	long total = 0;
	bool any = false, after_hours = false;
	while(p.pos < p.n) {
		long n;
		if(dates__num(&p, 0))
			n = dates__at(&p, 0)->num;
		else if(dates__word(&p, 0, "un") || dates__word(&p, 0, "une") || dates__word(&p, 0, "a") ||
		        dates__word(&p, 0, "an") || dates__word(&p, 0, "one"))
			n = 1;
		else if(dates__word(&p, 0, "et") || dates__word(&p, 0, "and") || dates__punct(&p, 0, ',')) {
			p.pos++;
			continue;
		} else
			return -1;
		p.pos++;
		const struct tok *u = dates__at(&p, 0);
		long mult;
		if(u->kind != TOK_WORD) {
			/* "1h30": minutes after hours need no unit. */
			if(!after_hours)
				return -1;
			mult = 1;
			after_hours = false;
		} else {
			const char *w = u->text;
			if(!strcmp(w, "h") || !strcmp(w, "hr") || !strcmp(w, "hrs") || !strcmp(w, "heure") ||
			   !strcmp(w, "heures") || !strcmp(w, "hour") || !strcmp(w, "hours"))
				mult = 60;
			else if(!strcmp(w, "m") || !strcmp(w, "min") || !strcmp(w, "mins") || !strcmp(w, "mn") ||
			        !strcmp(w, "minute") || !strcmp(w, "minutes"))
				mult = 1;
			else if(!strcmp(w, "d") || !strcmp(w, "j") || !strcmp(w, "jour") || !strcmp(w, "jours") ||
			        !strcmp(w, "day") || !strcmp(w, "days"))
				mult = 1440;
			else if(!strcmp(w, "w") || !strcmp(w, "sem") || !strcmp(w, "semaine") ||
			        !strcmp(w, "semaines") || !strcmp(w, "week") || !strcmp(w, "weeks"))
				mult = 7 * 1440;
			else
				return -1;
			after_hours = mult == 60;
			p.pos++;
		}
		total += n * mult;
		any = true;
		if(total > 366L * 1440)
			return -1;
	}
	if(!any || total <= 0)
		return -1;
	*minutes = (int)total;
	return 0;
}

const char *date_err_key(enum date_err err)
{
	switch(err) {
	case DATE_OK:
		return "date.err.syntax";
	case DATE_EMPTY:
		return "date.err.empty";
	case DATE_SYNTAX:
		return "date.err.syntax";
	case DATE_NO_TIME:
		return "date.err.no_time";
	case DATE_IMPOSSIBLE:
		return "date.err.impossible";
	case DATE_BAD_TIME:
		return "date.err.bad_time";
	case DATE_GAP:
		return "date.err.gap";
	case DATE_PAST:
		return "date.err.past";
	case DATE_BAD_RANGE:
		return "date.err.bad_range";
	case DATE_WEEKDAY:
		return "date.err.weekday";
	case DATE_NO_DAY:
		return "date.err.no_day";
	case DATE_NO_MONTH:
		return "date.err.no_month";
	case DATE_AMPM:
		return "date.err.ampm";
	case DATE_NEED_YEAR:
		return "date.err.need_year";
	}
	return "date.err.syntax";
}

/* ---- formatting ---- */

static const char *const dates__wd_fr_out[] = {
	"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"
};
static const char *const dates__wd_en_out[] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
	                                        "Thursday", "Friday", "Saturday" };
static const char *const dates__mon_fr_out[] = { "janvier", "février", "mars",      "avril",   "mai",      "juin",
	                                         "juillet", "août",    "septembre", "octobre", "novembre", "décembre" };
static const char *const dates__mon_en_out[] = {
	"January", "February", "March",     "April",   "May",      "June",
	"July",    "August",   "September", "October", "November", "December"
};

static bool dates__fr(const char *lang)
{
	return lang && !strcmp(lang, "fr");
}

/* "jeudi 3 décembre" / "Thursday 3 December", with the year when it is not
 * the current one. */
static void dates__day(struct strbuf *out, const char *lang, const struct tm *tm, int this_year)
{
	if(dates__fr(lang)) {
		strbuf_addf(out, "%s %d%s %s", dates__wd_fr_out[tm->tm_wday], tm->tm_mday, tm->tm_mday == 1 ? "er" : "",
		            dates__mon_fr_out[tm->tm_mon]);
	} else {
		strbuf_addf(out, "%s %d %s", dates__wd_en_out[tm->tm_wday], tm->tm_mday, dates__mon_en_out[tm->tm_mon]);
	}
	if(tm->tm_year + 1900 != this_year)
		strbuf_addf(out, " %d", tm->tm_year + 1900);
}

/* "19 h 00" / "7:00 PM" */
static void dates__clock(struct strbuf *out, const char *lang, const struct tm *tm)
{
	if(dates__fr(lang)) {
		strbuf_addf(out, "%d h %02d", tm->tm_hour, tm->tm_min);
	} else {
		int h = tm->tm_hour % 12;
		strbuf_addf(out, "%d:%02d %s", h ? h : 12, tm->tm_min, tm->tm_hour < 12 ? "AM" : "PM");
	}
}

static int dates__this_year(const char *tz, time_t now)
{
	struct tm tm;
	if(tz_localtime(tz, now, &tm))
		return 0;
	return tm.tm_year + 1900;
}

int date_format_slot(struct strbuf *out, const char *lang, const char *tz, time_t now, time_t start, int duration_min)
{
	struct tm s, e;
	if(tz_localtime(tz, start, &s))
		return -1;
	int year = dates__this_year(tz, now);
	dates__day(out, lang, &s, year);
	strbuf_adds(out, ", ");
	dates__clock(out, lang, &s);
	if(duration_min > 0) {
		time_t end = start + (time_t)duration_min * 60;
		if(tz_localtime(tz, end, &e))
			return -1;
		strbuf_adds(out, " – ");
		if(e.tm_year != s.tm_year || e.tm_yday != s.tm_yday) {
			dates__day(out, lang, &e, year);
			strbuf_adds(out, ", ");
		}
		dates__clock(out, lang, &e);
	}
	return out->oom ? -1 : 0;
}

int date_format_when(struct strbuf *out, const char *lang, const char *tz, time_t now, time_t t)
{
	struct tm tm;
	if(tz_localtime(tz, t, &tm))
		return -1;
	dates__day(out, lang, &tm, dates__this_year(tz, now));
	strbuf_adds(out, dates__fr(lang) ? " à " : " at ");
	dates__clock(out, lang, &tm);
	return out->oom ? -1 : 0;
}

int date_format_duration(struct strbuf *out, const char *lang, int minutes)
{
	bool fr = dates__fr(lang);
	if(minutes >= 1440 && minutes % 1440 == 0) {
		int d = minutes / 1440;
		strbuf_addf(out, "%d %s", d, fr ? (d > 1 ? "jours" : "jour") : (d > 1 ? "days" : "day"));
	} else if(minutes >= 60) {
		int h = minutes / 60, m = minutes % 60;
		if(!m)
			strbuf_addf(out, "%d h", h);
		else
			strbuf_addf(out, fr ? "%d h %02d" : "%d h %02d min", h, m);
	} else {
		strbuf_addf(out, "%d min", minutes);
	}
	return out->oom ? -1 : 0;
}

int date_format_offset(struct strbuf *out, const char *lang, int minutes)
{
	bool fr = dates__fr(lang);
	int parts[3] = { minutes / 1440, (minutes % 1440) / 60, minutes % 60 };
	const char *one_fr[] = { "jour", "heure", "minute" }, *one_en[] = { "day", "hour", "minute" };
	int n = 0, total = (parts[0] > 0) + (parts[1] > 0) + (parts[2] > 0);
	if(!total) {
		strbuf_adds(out, fr ? "0 minute" : "0 minutes");
		return out->oom ? -1 : 0;
	}
	for(int i = 0; i < 3; i++) {
		if(!parts[i])
			continue;
		if(n)
			strbuf_adds(out, n == total - 1 ? (fr ? " et " : " and ") : ", ");
		strbuf_addf(out, "%d %s%s", parts[i], fr ? one_fr[i] : one_en[i], parts[i] > 1 ? "s" : "");
		n++;
	}
	return out->oom ? -1 : 0;
}

/* "12 décembre", "1er janvier 2028" / "12 December", "1 January 2028":
 * the year when it is not this_year or always is set. */
static void dates__day_month(struct strbuf *out, const char *lang, int y, int m, int d, int this_year, bool always)
{
	if(dates__fr(lang))
		strbuf_addf(out, "%d%s %s", d, d == 1 ? "er" : "", dates__mon_fr_out[m - 1]);
	else
		strbuf_addf(out, "%d %s", d, dates__mon_en_out[m - 1]);
	if(always || y != this_year)
		strbuf_addf(out, " %d", y);
}

int date_err_write(struct strbuf *out, const char *lang, const struct date_ctx *ctx, enum date_err err,
                   const struct date_why *why)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	const char *key = NULL; /* the detailed reason's, with {1} = a, {2} = b */
	bool fr = dates__fr(lang);
	int year = dates__this_year(ctx->tz, ctx->now), rc;
	/* A month or a weekday out of range is never looked up in the tables:
	 * the bare reason is written instead. */
	bool month_ok = why && why->month >= 1 && why->month <= 12;
	struct tm tm;
	switch(why ? err : DATE_OK) {
	case DATE_WEEKDAY:
		if(month_ok && why->weekday >= 0 && why->weekday <= 6) {
			dates__day_month(&a, lang, why->year, why->month, why->day, year, false);
			strbuf_adds(&b, fr ? dates__wd_fr_out[why->weekday] : dates__wd_en_out[why->weekday]);
			key = "date.err.weekday.why";
		}
		break;
	case DATE_IMPOSSIBLE:
		if(month_ok) {
			/* The year matters for February only. */
			strbuf_adds(&a, fr ? dates__mon_fr_out[why->month - 1] : dates__mon_en_out[why->month - 1]);
			if(why->month == 2)
				strbuf_addf(&a, " %d", why->year);
			strbuf_addf(&b, "%d", dates__mdays(why->year, why->month));
			key = "date.err.impossible.why";
		}
		break;
	case DATE_NO_DAY:
		strbuf_addf(&a, "%d", why->day);
		key = "date.err.no_day.why";
		break;
	case DATE_NO_MONTH:
		strbuf_addf(&a, "%d", why->month);
		key = "date.err.no_month.why";
		break;
	case DATE_AMPM:
		if(why->minute > 0) {
			/* "7:30" and "19:30", "7h30" and "19h30". */
			strbuf_addf(&a, fr ? "%dh%02d" : "%d:%02d", why->hour, why->minute);
			strbuf_addf(&b, fr ? "%dh%02d" : "%d:%02d", why->hour + 12, why->minute);
			key = "date.err.ampm.why_minutes";
			break;
		}
		strbuf_addf(&a, "%d", why->hour);
		strbuf_addf(&b, "%d", why->hour + 12);
		key = "date.err.ampm.why";
		break;
	case DATE_NEED_YEAR:
		if(!tz_localtime(ctx->tz, why->when, &tm) &&
		   !date_format_when(&a, lang, ctx->tz, ctx->now, why->when)) {
			dates__day_month(&b, lang, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, year, true);
			key = "date.err.need_year.why";
		}
		break;
	case DATE_PAST:
		if(!date_format_when(&a, lang, ctx->tz, ctx->now, why->when))
			key = "date.err.past.why";
		break;
	default:
		break;
	}
	if(a.oom || b.oom)
		rc = -1;
	else if(key)
		rc = i18n_fmt(out, lang, key, a.buf, b.buf, NULL);
	else
		rc = i18n_fmt(out, lang, date_err_key(err), NULL);
	strbuf_release(&a);
	strbuf_release(&b);
	return rc;
}
