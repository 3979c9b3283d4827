#include "bot/page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bot/i18n.h"
#include "lib/text.h"

/* Far more pages than any list has, small enough that the offset fits. */
#define PAGE_MAX 100000

int page_parse(const char *word, struct page *p)
{
	long n = 1;
	if(word) {
		char *end;
		errno = 0;
		n = strtol(word, &end, 10);
		if(end == word || *end || errno || n < 1 || n > PAGE_MAX)
			return -1;
	}
	p->number = (int)n;
	p->size = PAGE_SIZE;
	p->offset = (p->number - 1) * p->size;
	return 0;
}

int page_count(const struct page *p, int total)
{
	return total > 0 ? (total + p->size - 1) / p->size : 1;
}

bool page_past_end(const struct page *p, int total)
{
	return total > 0 && p->offset >= total;
}

void page_no_page(struct strbuf *sb, const char *lang, const struct page *p, int total)
{
	char n[16], pages[16];
	text_int(n, sizeof(n), p->number);
	text_int(pages, sizeof(pages), page_count(p, total));
	i18n_fmt(sb, lang, "page.no_page", n, pages, NULL);
}

void page_footer(struct strbuf *sb, const char *lang, const char *more, const struct page *p, int shown, int total)
{
	int pages = page_count(p, total);
	if(pages <= 1)
		return;
	char n[16], of[16], rest[16], next[16];
	int after = total - p->offset - shown;
	text_int(n, sizeof(n), p->number);
	text_int(of, sizeof(of), pages);
	text_int(rest, sizeof(rest), after);
	text_int(next, sizeof(next), p->number + 1);
	strbuf_addc(sb, '\n');
	if(after > 0)
		i18n_fmt(sb, lang, more, n, of, rest, next, NULL);
	else
		i18n_fmt(sb, lang, "page.last", n, of, NULL);
}
