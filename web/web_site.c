/*
 * web_site: the pages' routes.  GET /agenda/TOKEN is a chat's page (the
 * token of the chat's calendar link opens it); GET /vote/TOKEN is the same
 * page with the person's own rows as forms, and POST /vote/TOKEN records
 * their vote.
 *
 * No cookie is set or read: the capability is the link, and the form
 * carries the token in a hidden field as well as in its address.  So a
 * cross-site request can forge no vote: a page elsewhere would need the
 * token, which is the very thing that grants the vote (CSRF needs an
 * ambient credential, and there is none).  A vote is handed to the core
 * as an event (EVENT_VOTE), the way a platform's vote arrives: it is the
 * same vote as /vote's, through the same function, in the core's own
 * transaction, and the chat hears nothing of it but what a vote changes.
 */
#include "web/web_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapters/http_server.h"
#include "bot/bot.h"
#include "bot/event.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "web"

/* The largest form a vote sends: ten dates, a token, a number. */
#define WEB_FORM_MAX 4096

/* The headers of every page: no referrer, no index, no frame, nothing but
 * the page's own style. */
static int web_site__headers(const struct web *w, struct http_response *res)
{
	return http_response_header(res, "Content-Security-Policy", w->csp) ||
	       http_response_header(res, "Referrer-Policy", "no-referrer") ||
	       http_response_header(res, "X-Robots-Tag", "noindex, nofollow") ||
	       http_response_header(res, "X-Content-Type-Options", "nosniff") ||
	       http_response_header(res, "Cache-Control", "private, no-store");
}

static int web_site__status(struct http_response *res, int status, const char *text)
{
	res->status = status;
	res->body = strdup(text);
	res->body_len = res->body ? strlen(res->body) : 0;
	return res->body ? 0 : -1;
}

/* The link of the request's path (PREFIX TOKEN), if it is one of kind: 1
 * (*l filled, *token and *len the token's text), 0, -1.  A path that is
 * no link's is looked up all the same: every 404 costs one lookup. */
static int web_site__link(struct web *w, const struct http_request *req, const char *prefix, enum db_web_kind kind,
                          struct db_web_link *l, const char **token, size_t *len)
{
	const char *t = http_request_path(req) + strlen(prefix);
	*token = t;
	*len = strlen(t);
	int found = web_link_find(w, t, *len, l);
	return found < 0 ? -1 : found && l->kind == kind;
}

/* Appends the page of l's chat to res, with voter's rows as forms when
 * not 0, and note said at the top when not NULL.  Its reads are bracketed
 * as web.c's feeds' are. */
static int web_site__page(struct web *w, const struct db_web_link *l, const char *token, size_t len, const char *note,
                          struct http_response *res)
{
	struct strbuf out = STRBUF_INIT;
	char tok[WEB_TOKEN_TEXT + 1];
	snprintf(tok, sizeof(tok), "%.*s", (int)len, token);
	struct web_page pg = { .w = w,
		               .out = &out,
		               .now = (time_t)(clock_now_ms() / 1000),
		               .voter = l->kind == DB_WEB_VOTE ? l->user_id : 0,
		               .token = tok,
		               .note = note };
	strbuf_init(&pg.tmp);
	bool read = !db_begin_read(w->db);
	int found = db_chat_by_id(w->db, l->chat_id, &pg.chat);
	int rc = found < 0 ? -1 : found ? web_page(&pg) : 0;
	if(read)
		db_end_read(w->db);
	strbuf_release(&pg.tmp);
	if(rc || !found) {
		strbuf_release(&out);
		return rc ? -1 : web_site__status(res, 404, "not found\n");
	}
	res->content_type = "text/html; charset=utf-8";
	res->body_len = out.len;
	res->body = strbuf_detach(&out);
	return 0;
}

static int web_site__get(void *user, const struct http_request *req, struct http_response *res, const char *prefix,
                         enum db_web_kind kind)
{
	struct web *w = user;
	struct db_web_link l;
	const char *token;
	size_t len;
	if(web_site__headers(w, res))
		return -1;
	int found = web_site__link(w, req, prefix, kind, &l, &token, &len);
	if(found <= 0)
		return found < 0 ? -1 : web_site__status(res, 404, "not found\n");
	return web_site__page(w, &l, token, len, NULL, res);
}

static int web_site__agenda_page(void *user, const struct http_request *req, struct http_response *res)
{
	return web_site__get(user, req, res, "/agenda/", DB_WEB_CHAT);
}

static int web_site__vote_page(void *user, const struct http_request *req, struct http_response *res)
{
	return web_site__get(user, req, res, "/vote/", DB_WEB_VOTE);
}

/* GET /agenda/TOKEN and /vote/TOKEN, off the loop on PostgreSQL (and so
 * is POST /vote/TOKEN, below). */
static int web_site__agenda(void *user, const struct http_request *req, struct http_response *res)
{
	return web_offload(user, web_site__agenda_page, req, res);
}

static int web_site__vote_get(void *user, const struct http_request *req, struct http_response *res)
{
	return web_offload(user, web_site__vote_page, req, res);
}

/* ---- the form ---- */

static int web_site__hex(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Decodes len bytes of application/x-www-form-urlencoded text (a name or
 * a value: '+' is a space, %XX a byte) into out, NUL-terminated, out
 * holding at least len + 1 bytes.  0, or -1 when a %XX is broken or the
 * bytes are no UTF-8 (or hold a NUL). */
static int web_site__decode(const char *in, size_t len, char *out)
{
	size_t n = 0;
	for(size_t i = 0; i < len; i++) {
		if(in[i] == '+') {
			out[n++] = ' ';
		} else if(in[i] == '%') {
			int hi = i + 2 < len ? web_site__hex(in[i + 1]) : -1;
			int lo = hi >= 0 ? web_site__hex(in[i + 2]) : -1;
			if(lo < 0 || (hi == 0 && lo == 0))
				return -1;
			out[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[n++] = in[i];
		}
	}
	out[n] = '\0';
	return utf8_valid(out, n) ? 0 : -1;
}

/* What a vote's form says: its token, the poll's #num, and an answer per
 * date ('y', 'm', 'n'; 0 for a date not given). */
struct web_form {
	char token[WEB_TOKEN_TEXT + 1];
	int num;
	char answers[MEETUP_MAX_SLOTS];
};

/* Reads one name=value pair of the form into f.  0, or -1 when it is
 * broken or not one of the form's (400). */
static int web_site__field(struct web_form *f, const char *name, const char *value)
{
	char *end;
	if(!strcmp(name, "t")) {
		if(strlen(value) != WEB_TOKEN_TEXT)
			return -1;
		memcpy(f->token, value, WEB_TOKEN_TEXT + 1);
		return 0;
	}
	long v = strtol(value, &end, 10);
	if(!strcmp(name, "p"))
		return *value && !*end && v > 0 && v < 1000000000 ? (f->num = (int)v, 0) : -1;
	if(name[0] != 'd' || !name[1])
		return -1;
	long d = strtol(name + 1, &end, 10);
	if(*end || d < 1 || d > MEETUP_MAX_SLOTS || strlen(value) != 1 || !strchr("ymn", value[0]))
		return -1;
	f->answers[d - 1] = value[0];
	return 0;
}

/* Parses body into f.  0, or -1 (400). */
static int web_site__form(const char *body, size_t len, struct web_form *f)
{
	char name[WEB_FORM_MAX + 1], value[WEB_FORM_MAX + 1];
	memset(f, 0, sizeof(*f));
	for(size_t i = 0; i < len;) {
		size_t end = i;
		while(end < len && body[end] != '&')
			end++;
		const char *eq = memchr(body + i, '=', end - i);
		if(!eq || web_site__decode(body + i, (size_t)(eq - body - i), name) ||
		   web_site__decode(eq + 1, (size_t)(body + end - eq - 1), value) || web_site__field(f, name, value))
			return -1;
		i = end + 1;
	}
	return f->token[0] && f->num ? 0 : -1;
}

/* ---- the vote ---- */

/* A vote sent from the page: what it is, as far as it can be known
 * without the core, and the event that hands it to the core. */
struct web_vote {
	struct web *w;
	struct db_web_link l;
	struct web_form f;
	struct db_chat chat;
	char ext[256], name[128], answers[MEETUP_MAX_SLOTS + 1];
	struct event ev;
	/* On PostgreSQL (web_site__vote_later): the request's copy, the
	 * answer promised and the one being made, and whether it failed. */
	struct http_request *req;
	struct http_later *promise;
	struct http_response res;
	int rc;
	uv_timer_t wait; /* the page waits for the database (wait.data set) */
};

/* Reads what v's vote needs, from the form of req on: its link, its
 * checks, then l's chat, person and poll.  1 with v->ev ready to hand to
 * the core (a vote of l's person on poll num, an answer a date, as an
 * event of their chat); 0 when res holds the answer already (a refusal, or
 * the page saying that the poll is closed); -1.  Only reads. */
static int web_site__vote_read(struct web_vote *v, const struct http_request *req, struct http_response *res)
{
	struct web *w = v->w;
	struct db_meetup *m = NULL;
	const char *token;
	char type[128];
	size_t len, blen = 0;
	int rc = -1;
	const char *body = http_request_body(req, &blen);
	if(web_site__headers(w, res))
		return -1;
	int found = web_site__link(w, req, "/vote/", DB_WEB_VOTE, &v->l, &token, &len);
	if(found <= 0)
		return found < 0 ? -1 : web_site__status(res, 404, "not found\n");
	if(blen > WEB_FORM_MAX)
		return web_site__status(res, 413, "request body too large\n");
	if(http_request_header(req, "content-type", type, sizeof(type)) < 0 ||
	   strncasecmp(type, "application/x-www-form-urlencoded", 33))
		return web_site__status(res, 415, "not a form\n");
	if(web_site__form(body ? body : "", blen, &v->f))
		return web_site__status(res, 400, "bad form\n");
	/* The form's token is the address's: a form copied under another
	 * address is no vote. */
	if(len != WEB_TOKEN_TEXT || CRYPTO_memcmp(v->f.token, token, WEB_TOKEN_TEXT))
		return web_site__status(res, 404, "not found\n");
	if(!(m = malloc(sizeof(*m))))
		return -1;
	found = db_chat_by_id(w->db, v->l.chat_id, &v->chat);
	if(found > 0)
		found = db_web_user(w->db, v->l.user_id, v->ext, sizeof(v->ext), v->name, sizeof(v->name));
	if(found > 0)
		found = db_meetup_get(w->db, v->l.chat_id, v->f.num, m);
	if(found <= 0 || m->state != MEETUP_POLL) {
		rc = found < 0 ? -1 : web_site__page(w, &v->l, token, len, "web.closed", res);
		goto out;
	}
	for(int i = 0; i < m->nslots; i++)
		v->answers[i] = v->f.answers[i] ? v->f.answers[i] : 'n';
	v->answers[m->nslots] = '\0';
	v->ev = (struct event){ .kind = EVENT_VOTE,
		                .platform = v->chat.platform,
		                .chat_id = v->chat.ext_id,
		                .sender_id = v->ext,
		                .sender_name = v->name,
		                .time = (time_t)(clock_now_ms() / 1000),
		                .role = ROLE_MEMBER,
		                .vote_num = v->f.num,
		                .vote_answers = v->answers };
	rc = 1;
out:
	free(m);
	return rc;
}

/* The page once v's vote is recorded. */
static int web_site__vote_saved(struct web_vote *v, struct http_response *res)
{
	return web_site__page(v->w, &v->l, v->f.token, WEB_TOKEN_TEXT, "web.saved", res);
}

/*
 * On PostgreSQL a vote from the page goes the way of a platform's: nothing
 * of it holds the loop while the server answers.  Its reads run on a
 * thread (db_run_start), the vote in a batch of the core (bot_submit_batch:
 * its transaction on a thread too), and the page after it on a thread
 * again; the answer is promised all along (http_request_later).
 */

static void web_site__vote_free(uv_handle_t *h)
{
	free(h->data);
}

/* The end: v's answer given (500 when it failed), v freed. */
static void web_site__vote_answer(struct web_vote *v)
{
	web_later_answer(v->promise, &v->res, v->rc < 0);
	http_request_free(v->req);
	if(v->wait.data)
		uv_close((uv_handle_t *)&v->wait, web_site__vote_free);
	else
		free(v);
}

static void web_site__saved_work(struct db *db, void *user)
{
	struct web_vote *v = user;
	(void)db; /* the thread owns it meanwhile: the page reads v->w->db */
	v->rc = web_site__vote_saved(v, &v->res) ? -1 : 0;
}

static void web_site__saved_done(void *user)
{
	web_site__vote_answer(user);
}

/* Makes the page of v's recorded vote on a thread, once no other holds
 * the database (a batch may run there): asked again every few
 * milliseconds until then, as a route's request waits. */
static void web_site__saved_page(uv_timer_t *t)
{
	struct web_vote *v = t->data;
	struct web *w = v->w;
	if(!web_db_free(w))
		return;
	uv_timer_stop(t);
	if(db_run_start(w->db, w->bot->loop, web_site__saved_work, web_site__saved_done, v)) {
		/* A transaction open on the loop (a batch spread over its turns):
		 * the page is made here, as on SQLite. */
		web_site__saved_work(w->db, v);
		web_site__vote_answer(v);
	}
}

/* The core has run v's vote: rc as bot_handle_event's. */
static void web_site__voted(void *user, int rc)
{
	struct web_vote *v = user;
	if(rc) {
		v->rc = -1;
		web_site__vote_answer(v);
		return;
	}
	uv_timer_init(v->w->bot->loop, &v->wait);
	v->wait.data = v;
	uv_timer_start(&v->wait, web_site__saved_page, 0, 5);
}

static void web_site__read_work(struct db *db, void *user)
{
	struct web_vote *v = user;
	(void)db;
	v->rc = web_site__vote_read(v, v->req, &v->res);
}

/* v's reads are done: the vote goes to the core, or the answer they made
 * goes out. */
static void web_site__read_done(void *user)
{
	struct web_vote *v = user;
	if(v->rc == 1) {
		if(!bot_submit_batch(v->w->bot, &v->ev, 1, NULL, web_site__voted, v))
			return;
		/* The bot is stopping: nothing is recorded, the client may ask
		 * again (another instance). */
		v->rc = 0;
		free(v->res.body);
		v->res = (struct http_response){ .status = 503 };
		if(http_response_header(&v->res, "Retry-After", "5") ||
		   web_site__status(&v->res, 503, "stopping, try again\n"))
			v->rc = -1;
	}
	web_site__vote_answer(v);
}

/* Starts req's vote off the loop: 0 when it did (the answer promised),
 * -1 when it could not (then serve it here). */
static int web_site__vote_later(struct web *w, const struct http_request *req)
{
	static const char *const kept[] = { "content-type", NULL };
	struct web_vote *v = calloc(1, sizeof(*v));
	if(!v)
		return -1;
	v->w = w;
	v->res.status = 200;
	if(!(v->req = http_request_copy(req, kept)) || !(v->promise = http_request_later(req)))
		goto fail;
	if(!db_run_start(w->db, w->bot->loop, web_site__read_work, web_site__read_done, v))
		return 0;
	http_later_void(v->promise);
fail:
	http_request_free(v->req);
	free(v);
	return -1;
}

/* POST /vote/TOKEN: the vote of the link's person, then the page again.
 * On SQLite here, the core's transaction with it; on PostgreSQL off the
 * loop (web_site__vote_later), here only when that could not start. */
static int web_site__vote(void *user, const struct http_request *req, struct http_response *res)
{
	struct web *w = user;
	if(db_round_trips(w->db) && !web_site__vote_later(w, req))
		return 0;
	struct web_vote *v = calloc(1, sizeof(*v));
	if(!v)
		return -1;
	v->w = w;
	int rc = web_site__vote_read(v, req, res);
	if(rc == 1)
		rc = bot_handle_event(w->bot, &v->ev) ? -1 : web_site__vote_saved(v, res);
	free(v);
	return rc < 0 ? -1 : 0;
}

/* GET /robots.txt: no robot has anything to read here (the pages say so
 * too, X-Robots-Tag).  A fixed answer that touches nothing: bench/web.py
 * takes it as the listener's own cost, the baseline of the feeds'. */
static int web_site__robots(void *user, const struct http_request *req, struct http_response *res)
{
	(void)user;
	(void)req;
	return web_site__status(res, 200, "User-agent: *\nDisallow: /\n");
}

/* The policy names the style by its SHA-256, so that no other style, and
 * no script at all, runs on the page. */
static int web_site__csp(struct web *w)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	unsigned char b64[64];
	SHA256((const unsigned char *)web_page_css, strlen(web_page_css), hash);
	if(EVP_EncodeBlock(b64, hash, sizeof(hash)) != 44)
		return -1;
	int n = snprintf(w->csp, sizeof(w->csp),
	                 "default-src 'none'; style-src 'sha256-%s'; form-action 'self'; frame-ancestors 'none'; "
	                 "base-uri 'none'",
	                 (const char *)b64);
	return n > 0 && n < (int)sizeof(w->csp) ? 0 : -1;
}

int web_site_start(struct web *w, struct http_server *listener)
{
	return web_site__csp(w) ||
	       http_server_route_when(listener, "GET", "/agenda/*", web_site__agenda, w, web_db_free) ||
	       http_server_route_when(listener, "GET", "/vote/*", web_site__vote_get, w, web_db_free) ||
	       http_server_route_when(listener, "POST", "/vote/*", web_site__vote, w, web_db_free) ||
	       http_server_route(listener, "GET", "/robots.txt", web_site__robots, w);
}
