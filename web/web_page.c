/*
 * web_page: a chat's web page, in the chat's language: its upcoming
 * meetups (when, where, who comes, places left, the waiting list), its
 * open polls as grids (dates as columns, people as rows, totals, the
 * leading date marked, dates past greyed) and its groups with their next
 * meetups.  Opened with a personal link to vote, the grids show the
 * person's own row as a form.
 *
 * The templates are the small functions below.  Every text that is not
 * the page's own (a name, a title, a place, a catalogue's text, a date)
 * goes through web_html, the one escaping path; the page has no script
 * and no asset but its inline style, which the Content-Security-Policy
 * names by its hash (web.c).
 */
#include "web/web_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/dates.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/text.h"

/* The most meetups, polls and groups a page lists. */
#define WEB_PAGE_MAX 50

const char web_page_css[] =
	"body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}"
	"main{max-width:1200px;margin:0 auto;padding:12px}"
	"h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin:1.2em 0 .4em;border-bottom:2px solid #ccc}"
	"h3{font-size:1.05em;margin:.8em 0 .3em}"
	"article,.grid{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 10px;margin:8px 0}"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{font-weight:600}dd{margin:0}"
	".scroll{overflow-x:auto}table{border-collapse:collapse;min-width:100%}"
	"caption{text-align:left;padding:4px 0;font-weight:600}"
	"th,td{border:1px solid #ccc;padding:4px 6px;text-align:center;vertical-align:middle}"
	"th[scope=row]{text-align:left;white-space:nowrap;position:sticky;left:0;background:#fff}"
	"thead th{font-weight:600;min-width:6em}"
	"td.y{background:#d4f4d4}td.m{background:#fdf1c7}td.n{background:#f6dada}"
	".past{color:#595959;background:#ececec}.lead{outline:3px solid #1d6b2a;outline-offset:-3px}"
	".tag{display:block;font-size:.8em;font-weight:600}"
	".note{background:#d4f4d4;border:1px solid #1d6b2a;padding:8px;border-radius:6px}"
	"select,button{font:inherit;padding:4px}button{margin:8px 0;padding:6px 14px}"
	"footer{color:#595959;font-size:.85em;margin:2em 0 1em}";

void web_html(struct strbuf *out, const char *text)
{
	strbuf_add_html_all(out, text);
}

/* Appends catalogue key with its arguments a1 and a2 (NULL: none) escaped
 * by web_html. */
static void web__t(struct strbuf *out, const char *lang, const char *key, const char *a1, const char *a2)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	web_html(&a, a1 ? a1 : "");
	web_html(&b, a2 ? a2 : "");
	/* The catalogue's text is the bot's own light HTML; the arguments
	 * are escaped here, once. */
	i18n_fmt_raw(out, lang, key, 0x3, a.buf ? a.buf : "", b.buf ? b.buf : "", NULL);
	strbuf_release(&a);
	strbuf_release(&b);
}

/* Appends a person as the page shows them: their display name, or with
 * [web] show_names = no their initials (the first letter of each of
 * their first three words). */
static void web__name(const struct web_page *pg, struct strbuf *out, const char *name)
{
	if(pg->names) {
		web_html(out, name);
		return;
	}
	struct strbuf in = STRBUF_INIT;
	int words = 0;
	for(const char *p = name; *p && words < 3; p++) {
		if(*p == ' ' || (p > name && p[-1] != ' '))
			continue;
		size_t len = 1;
		while(p[len] && ((unsigned char)p[len] & 0xC0) == 0x80)
			len++;
		strbuf_add(&in, p, len);
		strbuf_addc(&in, '.');
		words++;
	}
	web_html(out, in.buf ? in.buf : "?");
	strbuf_release(&in);
}

/* ---- the upcoming meetups ---- */

/* Appends the names of people whose answer is yes and who wait (or not). */
static int web__people(const struct web_page *pg, struct strbuf *out, const struct db_people *p, bool waiting)
{
	int n = 0;
	for(size_t i = 0; i < p->n; i++) {
		if(p->v[i].answer != 2 || p->v[i].waiting != waiting)
			continue;
		if(n++)
			strbuf_adds(out, ", ");
		web__name(pg, out, p->v[i].name);
	}
	return n;
}

/* A <dt>/<dd> pair: the term from the catalogue, the value as given
 * (escaped already). */
static void web__pair(struct web_page *pg, const char *key, const char *html)
{
	strbuf_adds(pg->out, "<dt>");
	web__t(pg->out, pg->chat.lang, key, NULL, NULL);
	strbuf_adds(pg->out, "</dt><dd>");
	strbuf_adds(pg->out, html);
	strbuf_adds(pg->out, "</dd>");
}

static int web__meetup(struct web_page *pg, const struct db_meetup *m)
{
	struct db_people rs = { 0 };
	struct strbuf v = STRBUF_INIT;
	char n[16];
	if(db_rsvps(pg->w->db, m->id, &rs))
		return -1;
	strbuf_addf(pg->out, "<article><h3>#%d · ", m->num);
	web_html(pg->out, m->title);
	strbuf_adds(pg->out, "</h3><dl>");
	date_format_slot(&v, pg->chat.lang, pg->chat.tz, pg->now, m->start, m->duration_min);
	strbuf_reset(&pg->tmp);
	web_html(&pg->tmp, v.buf ? v.buf : "");
	web__pair(pg, "web.when", pg->tmp.buf);
	if(m->place[0]) {
		strbuf_reset(&pg->tmp);
		web_html(&pg->tmp, m->place);
		web__pair(pg, "web.where", pg->tmp.buf);
	}
	strbuf_reset(&pg->tmp);
	int coming = web__people(pg, &pg->tmp, &rs, false);
	snprintf(n, sizeof(n), " (%d)", coming);
	strbuf_adds(&pg->tmp, coming ? n : "—");
	web__pair(pg, "web.coming", pg->tmp.buf);
	if(m->max_people) {
		text_int(n, sizeof(n), m->max_people > coming ? m->max_people - coming : 0);
		web__pair(pg, "web.left", n);
	}
	strbuf_reset(&pg->tmp);
	if(web__people(pg, &pg->tmp, &rs, true))
		web__pair(pg, "web.waiting", pg->tmp.buf);
	strbuf_adds(pg->out, "</dl></article>\n");
	strbuf_release(&v);
	db_people_release(&rs);
	return 0;
}

/* Calls fn for each meetup of the page's chat in a state of mask. */
static int web__each(struct web_page *pg, unsigned mask, const char *none,
                     int (*fn)(struct web_page *pg, const struct db_meetup *m))
{
	int nums[WEB_PAGE_MAX], count = 0, rc = 0;
	struct db_meetup *m = malloc(sizeof(*m));
	if(!m || db_meetup_list(pg->w->db, pg->chat.id, mask, pg->now, nums, WEB_PAGE_MAX, &count)) {
		free(m);
		return -1;
	}
	if(!count) {
		strbuf_adds(pg->out, "<p>");
		web__t(pg->out, pg->chat.lang, none, NULL, NULL);
		strbuf_adds(pg->out, "</p>\n");
	}
	for(int i = 0; i < count && i < WEB_PAGE_MAX && !rc; i++) {
		int found = db_meetup_get(pg->w->db, pg->chat.id, nums[i], m);
		rc = found < 0 ? -1 : found ? fn(pg, m) : 0;
	}
	free(m);
	return rc;
}

/* ---- the polls ---- */

/* A poll's counts, and its leading date: the most yes, then the most if
 * need be, then the earliest, among the dates still to come (as the
 * poll's close picks its winner); -1 when none is to come. */
struct web_tally {
	int yes[MEETUP_MAX_SLOTS], maybe[MEETUP_MAX_SLOTS];
	int lead;
};

static void web__tally(const struct web_page *pg, const struct db_meetup *m, const struct db_people *votes,
                       struct web_tally *t)
{
	memset(t, 0, sizeof(*t));
	t->lead = -1;
	for(size_t v = 0; v < votes->n; v++)
		for(int i = 0; i < m->nslots && votes->v[v].answers[i]; i++) {
			t->yes[i] += votes->v[v].answers[i] == 'y';
			t->maybe[i] += votes->v[v].answers[i] == 'm';
		}
	for(int i = 0; i < m->nslots; i++) {
		if(m->slots[i].start <= pg->now)
			continue;
		int l = t->lead;
		if(l < 0 || t->yes[i] > t->yes[l] || (t->yes[i] == t->yes[l] && t->maybe[i] > t->maybe[l]))
			t->lead = i;
	}
	if(t->lead >= 0 && !t->yes[t->lead] && !t->maybe[t->lead])
		t->lead = -1; /* nobody said yes to anything: nothing leads */
}

/* The grid's head: one column per date, the leading one and those past
 * said so in words as well as by their look. */
static void web__grid_head(struct web_page *pg, const struct db_meetup *m, const struct web_tally *t)
{
	struct strbuf d = STRBUF_INIT;
	strbuf_adds(pg->out, "<thead><tr><th scope=\"col\">");
	web__t(pg->out, pg->chat.lang, "web.person", NULL, NULL);
	strbuf_adds(pg->out, "</th>");
	for(int i = 0; i < m->nslots; i++) {
		bool past = m->slots[i].start <= pg->now;
		strbuf_addf(pg->out, "<th scope=\"col\" id=\"d%d-%d\"%s>", m->num, i + 1,
		            past           ? " class=\"past\""
		            : i == t->lead ? " class=\"lead\""
		                           : "");
		strbuf_reset(&d);
		date_format_slot(&d, pg->chat.lang, pg->chat.tz, pg->now, m->slots[i].start, m->slots[i].duration_min);
		strbuf_addf(pg->out, "%d. ", i + 1);
		web_html(pg->out, d.buf ? d.buf : "");
		if(past || i == t->lead) {
			strbuf_adds(pg->out, "<span class=\"tag\">");
			web__t(pg->out, pg->chat.lang, past ? "web.past" : "web.lead", NULL, NULL);
			strbuf_adds(pg->out, "</span>");
		}
		strbuf_adds(pg->out, "</th>");
	}
	strbuf_adds(pg->out, "</tr></thead>\n");
	strbuf_release(&d);
}

static const char *const web__answer_key[] = { ['y'] = "web.yes", ['m'] = "web.maybe", ['n'] = "web.no" };

/* One person's row, read only. */
static void web__grid_row(struct web_page *pg, const struct db_meetup *m, const struct db_person *p)
{
	strbuf_adds(pg->out, "<tr><th scope=\"row\">");
	web__name(pg, pg->out, p->name);
	strbuf_adds(pg->out, "</th>");
	for(int i = 0; i < m->nslots; i++) {
		char a = p->answers[i] == 'y' || p->answers[i] == 'm' ? p->answers[i] : 'n';
		bool past = m->slots[i].start <= pg->now;
		strbuf_addf(pg->out, "<td class=\"%c%s\" data-a=\"%c\">", a, past ? " past" : "", a);
		web__t(pg->out, pg->chat.lang, web__answer_key[(int)a], NULL, NULL);
		strbuf_adds(pg->out, "</td>");
	}
	strbuf_adds(pg->out, "</tr>\n");
}

/* The voter's own row: a choice per date, their vote's answers chosen
 * (no to each when they have not voted). */
static void web__grid_mine(struct web_page *pg, const struct db_meetup *m, const char *answers)
{
	static const char opts[] = "ymn";
	strbuf_adds(pg->out, "<tr class=\"mine\"><th scope=\"row\">");
	web__t(pg->out, pg->chat.lang, "web.you", NULL, NULL);
	strbuf_adds(pg->out, "</th>");
	for(int i = 0; i < m->nslots; i++) {
		char a = answers && (answers[i] == 'y' || answers[i] == 'm') ? answers[i] : 'n';
		strbuf_addf(pg->out, "<td><select name=\"d%d\" aria-labelledby=\"d%d-%d\">", i + 1, m->num, i + 1);
		for(int o = 0; o < 3; o++) {
			strbuf_addf(pg->out, "<option value=\"%c\"%s>", opts[o], opts[o] == a ? " selected" : "");
			web__t(pg->out, pg->chat.lang, web__answer_key[(int)opts[o]], NULL, NULL);
			strbuf_adds(pg->out, "</option>");
		}
		strbuf_adds(pg->out, "</select></td>");
	}
	strbuf_adds(pg->out, "</tr>\n");
}

/* The totals: yes, and if need be, per date. */
static void web__grid_foot(struct web_page *pg, const struct db_meetup *m, const struct web_tally *t)
{
	strbuf_adds(pg->out, "<tfoot>");
	for(int k = 0; k < 2; k++) {
		strbuf_adds(pg->out, "<tr><th scope=\"row\">");
		web__t(pg->out, pg->chat.lang, k ? "web.total_maybe" : "web.total_yes", NULL, NULL);
		strbuf_adds(pg->out, "</th>");
		for(int i = 0; i < m->nslots; i++)
			strbuf_addf(pg->out, "<td class=\"total%s\">%d</td>", i == t->lead ? " lead" : "",
			            k ? t->maybe[i] : t->yes[i]);
		strbuf_adds(pg->out, "</tr>");
	}
	strbuf_adds(pg->out, "</tfoot>\n");
}

/* The table itself: the head, everyone's rows (the voter's as a form's),
 * the totals. */
static void web__grid_table(struct web_page *pg, const struct db_meetup *m, const struct db_people *votes)
{
	struct web_tally t;
	const char *mine = NULL;
	web__tally(pg, m, votes, &t);
	strbuf_adds(pg->out, "<div class=\"scroll\"><table><caption>");
	web__t(pg->out, pg->chat.lang, "web.grid", NULL, NULL);
	strbuf_addf(pg->out, " #%d</caption>\n", m->num);
	web__grid_head(pg, m, &t);
	strbuf_adds(pg->out, "<tbody>");
	for(size_t v = 0; v < votes->n; v++) {
		if(pg->voter && votes->v[v].user_id == pg->voter)
			mine = votes->v[v].answers;
		else
			web__grid_row(pg, m, &votes->v[v]);
	}
	if(pg->voter)
		web__grid_mine(pg, m, mine);
	strbuf_adds(pg->out, "</tbody>\n");
	web__grid_foot(pg, m, &t);
	strbuf_adds(pg->out, "</table></div>\n");
}

static int web__poll(struct web_page *pg, const struct db_meetup *m)
{
	struct db_people votes = { 0 };
	if(db_votes(pg->w->db, m->id, &votes))
		return -1;
	strbuf_addf(pg->out, "<section class=\"grid\" aria-labelledby=\"p%d\"><h3 id=\"p%d\">#%d · ", m->num, m->num,
	            m->num);
	web_html(pg->out, m->title);
	strbuf_adds(pg->out, "</h3>\n");
	if(m->place[0]) {
		strbuf_adds(pg->out, "<p><strong>");
		web__t(pg->out, pg->chat.lang, "web.where", NULL, NULL);
		strbuf_adds(pg->out, "</strong> ");
		web_html(pg->out, m->place);
		strbuf_adds(pg->out, "</p>\n");
	}
	if(pg->voter)
		strbuf_addf(pg->out,
		            "<form method=\"post\"><input type=\"hidden\" name=\"t\" value=\"%s\">"
		            "<input type=\"hidden\" name=\"p\" value=\"%d\">\n",
		            pg->token, m->num);
	web__grid_table(pg, m, &votes);
	if(pg->voter) {
		strbuf_adds(pg->out, "<button type=\"submit\">");
		web__t(pg->out, pg->chat.lang, "web.save", NULL, NULL);
		strbuf_adds(pg->out, "</button></form>\n");
	}
	strbuf_adds(pg->out, "</section>\n");
	db_people_release(&votes);
	return 0;
}

/* ---- the groups ---- */

static int web__groups(struct web_page *pg)
{
	struct db_group *g = calloc(WEB_PAGE_MAX, sizeof(*g));
	struct db_meetup *m = malloc(sizeof(*m));
	struct strbuf d = STRBUF_INIT;
	int n = 0, total = 0, rc = -1;
	if(!g || !m || db_group_list(pg->w->db, pg->chat.id, 0, g, WEB_PAGE_MAX, &n, &total))
		goto out;
	strbuf_adds(pg->out, n ? "<ul>\n" : "<p>");
	if(!n)
		web__t(pg->out, pg->chat.lang, "web.no_groups", NULL, NULL);
	for(int i = 0; i < n; i++) {
		int num = 0, found = db_group_next_meetup(pg->w->db, &g[i], pg->now, &num);
		if(found > 0)
			found = db_meetup_get(pg->w->db, pg->chat.id, num, m);
		if(found < 0)
			goto out;
		strbuf_adds(pg->out, "<li><strong>");
		web_html(pg->out, g[i].name);
		strbuf_adds(pg->out, "</strong>");
		if(g[i].topic[0]) {
			strbuf_adds(pg->out, " (");
			web_html(pg->out, g[i].topic);
			strbuf_adds(pg->out, ")");
		}
		strbuf_adds(pg->out, ": ");
		strbuf_reset(&d);
		if(found)
			date_format_slot(&d, pg->chat.lang, pg->chat.tz, pg->now, m->start, m->duration_min);
		web__t(pg->out, pg->chat.lang, found ? "web.group_next" : "web.group_none", found ? m->title : NULL,
		       d.buf);
		strbuf_adds(pg->out, "</li>\n");
	}
	strbuf_adds(pg->out, n ? "</ul>\n" : "</p>\n");
	rc = 0;
out:
	free(g);
	free(m);
	strbuf_release(&d);
	return rc;
}

/* ---- the page ---- */

/* A section's heading. */
static void web__h2(struct web_page *pg, const char *id, const char *key)
{
	strbuf_addf(pg->out, "<section aria-labelledby=\"%s\"><h2 id=\"%s\">", id, id);
	web__t(pg->out, pg->chat.lang, key, NULL, NULL);
	strbuf_adds(pg->out, "</h2>\n");
}

static void web__head(struct web_page *pg, const char *name)
{
	strbuf_adds(pg->out, "<!DOCTYPE html>\n<html lang=\"");
	web_html(pg->out, pg->chat.lang);
	strbuf_adds(pg->out, "\"><head><meta charset=\"utf-8\">"
	                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	                     "<meta name=\"referrer\" content=\"no-referrer\"><title>");
	web_html(pg->out, name);
	strbuf_adds(pg->out, " · ");
	web__t(pg->out, pg->chat.lang, "web.title", NULL, NULL);
	strbuf_adds(pg->out, "</title><style>");
	strbuf_adds(pg->out, web_page_css);
	strbuf_adds(pg->out, "</style></head>\n<body><main>\n<h1>");
	web_html(pg->out, name);
	strbuf_adds(pg->out, "</h1>\n");
}

int web_page(struct web_page *pg)
{
	char name[256];
	int found = db_chat_title(pg->w->db, pg->chat.id, name, sizeof(name));
	if(found < 0)
		return -1;
	if(!found || !name[0])
		text_copy(name, sizeof(name), pg->chat.ext_id);
	pg->names = !!strcmp(pg->w->bot->cfg->web_show_names, "no");
	web__head(pg, name);
	if(pg->note) {
		strbuf_adds(pg->out, "<p class=\"note\" role=\"status\">");
		web__t(pg->out, pg->chat.lang, pg->note, NULL, NULL);
		strbuf_adds(pg->out, "</p>\n");
	}
	if(pg->voter) {
		strbuf_adds(pg->out, "<p>");
		web__t(pg->out, pg->chat.lang, "web.how", NULL, NULL);
		strbuf_adds(pg->out, "</p>\n");
	}
	web__h2(pg, "meetups", "web.meetups");
	if(web__each(pg, 1u << MEETUP_CONFIRMED, "web.no_meetups", web__meetup))
		return -1;
	strbuf_adds(pg->out, "</section>\n");
	web__h2(pg, "polls", "web.polls");
	if(web__each(pg, 1u << MEETUP_POLL, "web.no_polls", web__poll))
		return -1;
	strbuf_adds(pg->out, "</section>\n");
	web__h2(pg, "groups", "web.groups");
	if(web__groups(pg))
		return -1;
	strbuf_adds(pg->out, "</section>\n<footer>");
	web__t(pg->out, pg->chat.lang, "web.footer", NULL, NULL);
	strbuf_adds(pg->out, "</footer></main></body></html>\n");
	return pg->out->oom || pg->tmp.oom ? -1 : 0;
}
