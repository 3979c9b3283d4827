/*
 * page: the long lists the bot prints (/group list, /interests, /mygroups,
 * /meetup list) go a page at a time, and a cut list always says so: which
 * page this is, how many more there are, and the command that shows them.
 */
#ifndef ENSEMBLE_PAGE_H
#define ENSEMBLE_PAGE_H

#include "lib/strbuf.h"

#define PAGE_SIZE 20 /* lines of a page: a screen of a phone, give or take */

struct page {
	int number; /* 1-based */
	int offset; /* of its first line in the whole list */
	int size;
};

/* Reads the page named by word ("2"), or the first page when word is NULL.
 * Returns 0, or -1 when word is not a page number (a usage error). */
int page_parse(const char *word, struct page *p);
/* The number of pages of a list of total lines (1 for an empty list). */
int page_count(const struct page *p, int total);
/* True when p is past the end of a list of total lines that is not empty:
 * the caller says so with page_past_end. */
bool page_past_end(const struct page *p, int total);
/* Appends the sentence saying there is no such page (catalogue
 * page.no_page) to sb. */
void page_no_page(struct strbuf *sb, const char *lang, const struct page *p, int total);
/* Appends, on a line of its own, what a cut list says under p's lines
 * (shown of them): on a page with more after it, the catalogue key more
 * with the page, the number of pages, how many lines follow and the next
 * page's number ("Page 1 of 3; 45 more groups: /group list 2"); on the last
 * page of several, page.last ("Page 3 of 3."); nothing when the list fits
 * on one page. */
void page_footer(struct strbuf *sb, const char *lang, const char *more, const struct page *p, int shown, int total);

#endif
