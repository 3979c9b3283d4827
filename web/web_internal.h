/*
 * web_internal: what the files of web/ share.  Nothing outside web/
 * includes this.
 */
#ifndef ENSEMBLE_WEB_INTERNAL_H
#define ENSEMBLE_WEB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "adapters/http_server.h"
#include "lib/strbuf.h"
#include "storage/db.h"
#include "web/web.h"

#define WEB_KEY_LEN DB_WEB_KEY /* the HMAC key, bytes */
#define WEB_TOKEN_LEN 16       /* a link's token: 128 bits */
#define WEB_TOKEN_TEXT 22      /* its base64url form, without padding */

struct web {
	struct bot *bot; /* borrowed */
	struct db *db;   /* the bot's */
	unsigned char key[WEB_KEY_LEN];
	char base[256]; /* public_url without a trailing '/' */
	char host[256]; /* its host, for the events' UIDs */
	char csp[256];  /* the pages' Content-Security-Policy */
};

/* True when the database can be used at once: no thread holds it (a
 * batch or a commit running there on PostgreSQL, a commit on SQLite).  The
 * routes that read it are served only then (http_server_route_when), so
 * that a page never holds the loop while it waits for that thread. */
bool web_db_free(void *user);

/* Serves req with fn(w, req, res), a handler that only reads the
 * database: at once on SQLite; on PostgreSQL, where each read is a round
 * trip, on a thread of the loop's pool (db_run_start) on a copy of req,
 * the answer promised (http_request_later) and given once fn has run, so
 * that a page whose reads wait (a table locked by someone else) holds
 * neither the loop nor /healthz.  fn reads no header but If-None-Match and
 * If-Modified-Since.  Returns what a handler returns. */
int web_offload(struct web *w, http_handler_fn fn, const struct http_request *req, struct http_response *res);
/* Gives a promised answer: res (its body taken), or, when the work
 * failed, 500 as a handler's -1 gives. */
void web_later_answer(struct http_later *promise, struct http_response *res, bool failed);

/* web_links.c: the links. */

/* Reads the key: from the database when it keeps it (PostgreSQL: the
 * first instance to need one stores it there), else from path, making the
 * file (0600) with a new random key when there is none.  0 or -1
 * (logged). */
int web_key_load(struct web *w, const char *path);
/* Appends the address of l's feed to out ("BASE" path "TOKEN", path
 * "/cal/" for instance), making the link first when l has none or fresh
 * is set (in the open transaction).  0 or -1. */
int web_link_url(struct web *w, struct db_web_link *l, const char *path, bool fresh, struct strbuf *out);
/* The link whose token is the base64url text (len bytes): 1 with *out
 * filled (its rev and changed too), 0 when there is none, -1.  Costs the
 * same for a bad text as for a good one. */
int web_link_find(struct web *w, const char *text, size_t len, struct db_web_link *out);

/* web_feed.c: the calendars. */

/* Appends to out the iCalendar text of l's feed, whose address is self:
 * the meetups ending at or after since, or only the one whose #num in
 * the chat (whose id, in a person's feed) is only when it is not 0; its
 * DTSTAMPs are stamp (the feed's last change).  *n is the number of
 * events.  0 or -1. */
int web_feed(struct web *w, const struct db_web_link *l, const char *self, int64_t only, time_t since, time_t stamp,
             struct strbuf *out, int *n);

/* web_site.c: the pages' routes. */

/* Adds the routes of the chat's page (GET /agenda/TOKEN), of the page to
 * vote (GET and POST /vote/TOKEN) and GET /robots.txt to listener.  0 or
 * -1. */
int web_site_start(struct web *w, struct http_server *listener);

/* web_page.c: the chat's web page. */

/* The page's inline style, which the Content-Security-Policy names by its
 * hash. */
extern const char web_page_css[];

/* A page being made. */
struct web_page {
	struct web *w;
	struct strbuf *out;  /* the page, appended to */
	struct db_chat chat; /* whose page it is */
	time_t now;
	int64_t voter;     /* whose row is a form (a link to vote), or 0 */
	const char *token; /* the link's token, for the forms */
	const char *note;  /* a catalogue key said at the top, or NULL */
	bool names;        /* display names, not initials */
	struct strbuf tmp; /* scratch */
};

/* Appends text to out with &, <, >, " and ' escaped: the one path by
 * which a text that is not the page's own enters it. */
void web_html(struct strbuf *out, const char *text);
/* Appends pg's page, reading the domain in the caller's transaction (or
 * read).  0 or -1. */
int web_page(struct web_page *pg);

#endif
