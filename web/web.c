/*
 * web: the web side's start, the links it lends the core, and the feeds'
 * route on the listener, with its conditional requests: a calendar app
 * polls its feeds every few minutes, and a feed that has not changed
 * costs one lookup (the link and its chat's change counter, in one
 * statement: db_web_link_find) and a 304.
 */
/* strptime(), for If-Modified-Since. */
#define _XOPEN_SOURCE 700
#include "web/web_internal.h"

#include <libical/ical.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http_server.h"
#include "bot/bot.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "web"

/* How long a past or cancelled meetup stays in the feeds. */
#define WEB_KEEP_S (30 * 86400)
/* How long a personal link to vote opens the page. */
#define WEB_VOTE_MS (7 * 86400 * INT64_C(1000))

/* ---- the links the core asks for ---- */

static int web__link(void *user, enum bot_link kind, int64_t chat_id, int64_t id, struct strbuf *out)
{
	struct web *w = user;
	struct db_web_link l = { .kind = DB_WEB_CHAT, .chat_id = chat_id };
	if(kind == BOT_LINK_GROUP) {
		l.kind = DB_WEB_GROUP;
		l.group_id = id;
	} else if(kind == BOT_LINK_PERSON) {
		l = (struct db_web_link){ .kind = DB_WEB_PERSON, .user_id = id };
	} else if(kind == BOT_LINK_VOTE) {
		/* A new link at each ask, for a week: the old one stops. */
		l = (struct db_web_link){ .kind = DB_WEB_VOTE, .chat_id = chat_id, .user_id = id };
		l.expires_ms = clock_now_ms() + WEB_VOTE_MS;
		return web_link_url(w, &l, "/vote/", true, out);
	}
	/* The chat's page opens with its feed's token. */
	if(web_link_url(w, &l, kind == BOT_LINK_PAGE ? "/agenda/" : "/cal/", false, out))
		return -1;
	if(kind == BOT_LINK_PAGE)
		return out->oom ? -1 : 0;
	if(kind == BOT_LINK_EVENT)
		strbuf_addf(out, "/%lld", (long long)id);
	strbuf_adds(out, ".ics");
	return out->oom ? -1 : 0;
}

static int web__revoke(void *user, int64_t chat_id)
{
	struct web *w = user;
	return db_web_links_drop(w->db, chat_id);
}

static const struct bot_web web__ops = {
	.link = web__link,
	.revoke = web__revoke,
};

/* ---- the feeds' route ---- */

/* A request's path, read: "/cal/TOKEN.ics" (the feed) or
 * "/cal/TOKEN/N.ics" (one meetup).  0, or -1 when it is neither. */
struct web_path {
	const char *token;
	size_t len;
	long long only; /* N, or 0 */
};

static int web__parse(const char *path, struct web_path *p)
{
	const char *t = path + strlen("/cal/");
	size_t len = strlen(t);
	if(len < 5 || strcmp(t + len - 4, ".ics"))
		return -1;
	len -= 4;
	const char *slash = memchr(t, '/', len);
	p->token = t;
	p->len = slash ? (size_t)(slash - t) : len;
	p->only = 0;
	if(!slash)
		return 0;
	char *end;
	p->only = strtoll(slash + 1, &end, 10);
	return slash[1] >= '1' && slash[1] <= '9' && end == t + len && p->only > 0 && p->only < 1000000000 ? 0 : -1;
}

/* The feed's validators: a weak ETag, from its change counter, the day
 * (the feed's window moves with it) and the meetup asked for; and its
 * Last-Modified, as a time and as an HTTP date. */
static void web__validators(const struct db_web_link *l, long long only, time_t now, char *etag, size_t elen,
                            time_t *modified, char *date, size_t dlen)
{
	time_t day = now - now % 86400;
	snprintf(etag, elen, "W/\"%d.%lld.%lld.%lld\"", (int)l->kind, (long long)l->rev, (long long)(day / 86400),
	         only);
	*modified = l->changed > day ? (time_t)l->changed : day;
	struct tm tm;
	gmtime_r(modified, &tm);
	strftime(date, dlen, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Whether the client's copy is current: If-None-Match names the ETag (a
 * weak comparison), or, without If-None-Match, If-Modified-Since is not
 * before Last-Modified (RFC 9110, 13.2.2). */
static bool web__fresh(const struct http_request *req, const char *etag, time_t modified)
{
	char have[512];
	if(http_request_header(req, "if-none-match", have, sizeof(have)) >= 0)
		return strstr(have, etag + 2) != NULL || !strcmp(have, "*");
	if(http_request_header(req, "if-modified-since", have, sizeof(have)) < 0)
		return false;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(have, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return end && !*end && timegm(&tm) >= modified;
}

/* The headers of every answer of the route, and a 404's body. */
static int web__headers(struct http_response *res)
{
	return http_response_header(res, "Referrer-Policy", "no-referrer") ||
	       http_response_header(res, "X-Robots-Tag", "noindex, nofollow") ||
	       http_response_header(res, "X-Content-Type-Options", "nosniff") ||
	       http_response_header(res, "Cache-Control", "private, no-cache");
}

static int web__not_found(struct http_response *res)
{
	res->status = 404;
	res->body = strdup("not found\n");
	res->body_len = res->body ? strlen(res->body) : 0;
	return res->body ? 0 : -1;
}

/* The calendar itself, its reads bracketed by db_begin_read and
 * db_end_read as the rule of transactions says (storage/db.h).  While the
 * core's batch is open across turns of the loop, db_begin_read refuses and
 * the reads run in that batch: a feed may then show what the batch has
 * done so far, as its replies will once it commits. */
static int web__body(struct web *w, const struct db_web_link *l, const struct web_path *p, time_t now, time_t modified,
                     struct http_response *res)
{
	struct strbuf self = STRBUF_INIT, out = STRBUF_INIT;
	int n = 0, rc = -1;
	strbuf_addf(&self, "%s/cal/%.*s", w->base, (int)p->len, p->token);
	bool read = !db_begin_read(w->db);
	rc = self.oom || web_feed(w, l, self.buf, p->only, now - WEB_KEEP_S, modified, &out, &n) ? -1 : 0;
	if(read)
		db_end_read(w->db);
	if(rc)
		goto out;
	if(p->only && !n) {
		rc = web__not_found(res);
		goto out;
	}
	res->content_type = "text/calendar; charset=utf-8";
	res->body_len = out.len;
	res->body = strbuf_detach(&out);
out:
	strbuf_release(&self);
	strbuf_release(&out);
	return rc;
}

static int web__serve(void *user, const struct http_request *req, struct http_response *res)
{
	struct web *w = user;
	struct web_path p;
	struct db_web_link l;
	char etag[96], date[64];
	time_t modified, now = (time_t)(clock_now_ms() / 1000);
	if(web__headers(res))
		return -1;
	bool parsed = !web__parse(http_request_path(req), &p);
	/* Looked up even when the path is no link's: a wrong link costs what
	 * a right one does. */
	int found = web_link_find(w, parsed ? p.token : "", parsed ? p.len : 0, &l);
	if(found < 0)
		return -1;
	if(!found || !parsed || l.kind == DB_WEB_VOTE)
		return web__not_found(res);
	web__validators(&l, p.only, now, etag, sizeof(etag), &modified, date, sizeof(date));
	if(http_response_header(res, "ETag", etag) || http_response_header(res, "Last-Modified", date))
		return -1;
	if(web__fresh(req, etag, modified)) {
		res->status = 304;
		return 0;
	}
	return web__body(w, &l, &p, now, modified, res);
}

/* ---- pages off the loop ---- */

/* A page being made on a thread. */
struct web_run {
	struct web *w;
	http_handler_fn fn;
	struct http_request *req; /* a copy */
	struct http_later *promise;
	struct http_response res;
	int rc;
};

static void web__run_work(struct db *db, void *user)
{
	struct web_run *r = user;
	(void)db; /* the thread owns it meanwhile: fn reads w->db */
	r->rc = r->fn(r->w, r->req, &r->res);
}

void web_later_answer(struct http_later *promise, struct http_response *res, bool failed)
{
	if(failed) {
		free(res->body);
		*res = (struct http_response){ .status = 500, .body = strdup("internal error\n") };
		res->body_len = res->body ? strlen(res->body) : 0;
	}
	http_later_answer(promise, res);
}

static void web__run_done(void *user)
{
	struct web_run *r = user;
	web_later_answer(r->promise, &r->res, r->rc != 0);
	http_request_free(r->req);
	free(r);
}

int web_offload(struct web *w, http_handler_fn fn, const struct http_request *req, struct http_response *res)
{
	static const char *const read[] = { "if-none-match", "if-modified-since", NULL };
	if(!db_round_trips(w->db))
		return fn(w, req, res);
	struct web_run *r = calloc(1, sizeof(*r));
	if(!r)
		return fn(w, req, res);
	*r = (struct web_run){ .w = w, .fn = fn, .res = { .status = 200 } };
	if(!(r->req = http_request_copy(req, read)) || !(r->promise = http_request_later(req)))
		goto here;
	if(!db_run_start(w->db, w->bot->loop, web__run_work, web__run_done, r))
		return 0;
	http_later_void(r->promise);
here:
	/* Without memory, or a run in flight (the route's readiness says
	 * there is none): served here, as on SQLite. */
	http_request_free(r->req);
	free(r);
	return fn(w, req, res);
}

/* GET /cal/...: a feed, off the loop on PostgreSQL. */
static int web__serve_route(void *user, const struct http_request *req, struct http_response *res)
{
	return web_offload(user, web__serve, req, res);
}

/* ---- start and end ---- */

bool web_db_free(void *user)
{
	const struct web *w = user;
	return !db_busy(w->db);
}

/* Fills w->base and w->host from the configured public address. */
static void web__base(struct web *w, const char *url)
{
	text_copy(w->base, sizeof(w->base), url);
	size_t n = strlen(w->base);
	while(n && w->base[n - 1] == '/')
		w->base[--n] = '\0';
	const char *host = strstr(w->base, "://");
	host = host ? host + 3 : w->base;
	snprintf(w->host, sizeof(w->host), "%.*s", (int)strcspn(host, "/:"), host);
}

int web_start(struct web **out, struct bot *bot, struct http_server *listener)
{
	const struct config *cfg = bot->cfg;
	char path[4096];
	*out = NULL;
	if(!*cfg->web_public_url || !listener) {
		if(*cfg->web_public_url || *cfg->http_listen)
			log_info("the web side (calendars) is off: it needs both web.public_url and http.listen");
		return 0;
	}
	struct web *w = calloc(1, sizeof(*w));
	if(!w)
		return -1;
	w->bot = bot;
	w->db = bot->db;
	web__base(w, cfg->web_public_url);
	if(snprintf(path, sizeof(path), "%s.webkey", db_path(w->db)) >= (int)sizeof(path) || web_key_load(w, path) ||
	   http_server_route_when(listener, "GET", "/cal/*", web__serve_route, w, web_db_free) ||
	   web_site_start(w, listener)) {
		log_error("cannot start the web side");
		free(w);
		return -1;
	}
	bot_set_web(bot, &web__ops, w);
	log_info("calendars served at %s/cal/, pages at %s/agenda/ and %s/vote/", w->base, w->base, w->base);
	*out = w;
	return 0;
}

void web_free(struct web *w)
{
	if(!w)
		return;
	bot_set_web(w->bot, NULL, NULL);
	OPENSSL_cleanse(w->key, sizeof(w->key));
	free(w);
	icaltimezone_free_builtin_timezones();
}
