#include "adapters/http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"

#define LOG_MODULE "http"
#define HTTP_DEFAULT_MAX (16u * 1024 * 1024)
#define HTTP_SPARE 8 /* easy handles kept for the next requests */

struct http_req {
	struct http_client *c;
	CURL *easy;
	struct curl_slist *headers;
	long id;
	char *body; /* the request body, owned */
	struct strbuf resp;
	size_t max_response;
	long retry_after;
	http_done_fn done;
	void *user;
	struct http_req *next;
};

struct http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct http_req *reqs;
	long next_id;
	size_t pending;
	bool closing;
	int open_handles;       /* the timer and the socket polls */
	struct http_sock *idle; /* polls of open sockets curl does not watch */
	/* Easy handles of finished transfers, their constant options set
	 * (http__easy_new): making one and cleaning it up cost more than the
	 * rest of a request's setting up. */
	CURL *spare[HTTP_SPARE];
	int nspare;
};

/* One per socket curl watches.  Between two transfers on a kept-alive
 * connection, curl stops watching its socket; the poll handle is then kept
 * on the idle list rather than closed, and taken again for the next
 * transfer: creating one costs an ioctl and three epoll_ctl calls.  It is
 * closed when curl closes the socket (http__close_socket), before the fd
 * is, since closing a poll handle unregisters its fd number from epoll
 * whoever owns it by then.
 *
 * libuv's uv_poll_start() and uv_poll_stop() each take the fd out of epoll
 * (and the next turn puts it back), two system calls at least.  So the
 * handle is started again only when curl asks for other events, and an
 * idle one stays registered for reading, unreferenced: a kept-alive
 * connection asks for reading again at its next transfer, which then costs
 * no system call.  An idle socket becomes readable only when the server
 * closes it (or says something out of turn); its handle is stopped then,
 * once, so that a level-triggered readable socket does not spin the loop. */
struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	int events; /* what the handle polls for; 0 when stopped */
	struct http_client *c;
	struct http_sock *next; /* on the idle list */
};

static void http__check_done(struct http_client *c);

static void http__handle_closed(uv_handle_t *h)
{
	if(h->type == UV_POLL) {
		struct http_sock *s = h->data;
		struct http_client *c = s->c;
		free(s);
		if(--c->open_handles == 0 && c->closing)
			free(c);
	} else {
		struct http_client *c = h->data;
		if(--c->open_handles == 0 && c->closing)
			free(c);
	}
}

static void http__on_poll(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = p->data;
	struct http_client *c = s->c;
	if(!uv_has_ref((uv_handle_t *)p)) {
		/* Idle: curl watches nothing here.  It finds out that the server
		 * closed the connection when it next tries to use it. */
		uv_poll_stop(p);
		s->events = 0;
		return;
	}
	int flags = 0;
	if(status < 0)
		flags = CURL_CSELECT_ERR;
	if(events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if(events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	int running;
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	http__check_done(c);
}

static void http__on_timer(uv_timer_t *t)
{
	struct http_client *c = t->data;
	int running;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http__check_done(c);
}

static int http__socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *s = socketp;
	(void)easy;
	if(what == CURL_POLL_REMOVE) {
		if(s) {
			if(s->events != UV_READABLE) {
				uv_poll_start(&s->poll, UV_READABLE, http__on_poll);
				s->events = UV_READABLE;
			}
			uv_unref((uv_handle_t *)&s->poll);
			curl_multi_assign(c->multi, fd, NULL);
			s->next = c->idle;
			c->idle = s;
		}
		return 0;
	}
	for(struct http_sock **pp = &c->idle; !s && *pp; pp = &(*pp)->next)
		if((*pp)->fd == fd) {
			s = *pp;
			*pp = s->next;
			uv_ref((uv_handle_t *)&s->poll);
			curl_multi_assign(c->multi, fd, s);
			break;
		}
	if(!s) {
		s = calloc(1, sizeof(*s));
		if(!s)
			return -1;
		s->fd = fd;
		s->c = c;
		if(uv_poll_init_socket(c->loop, &s->poll, fd)) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		c->open_handles++;
		curl_multi_assign(c->multi, fd, s);
	}
	int events = 0;
	if(what != CURL_POLL_OUT)
		events |= UV_READABLE;
	if(what != CURL_POLL_IN)
		events |= UV_WRITABLE;
	if(events != s->events) {
		uv_poll_start(&s->poll, events, http__on_poll);
		s->events = events;
	}
	return 0;
}

/* curl closes a socket: its idle poll handle goes first. */
static int http__close_socket(void *clientp, curl_socket_t fd)
{
	struct http_client *c = clientp;
	for(struct http_sock **pp = &c->idle; *pp; pp = &(*pp)->next)
		if((*pp)->fd == fd) {
			struct http_sock *s = *pp;
			*pp = s->next;
			uv_close((uv_handle_t *)&s->poll, http__handle_closed);
			break;
		}
	return close(fd);
}

static int http__timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;
	(void)multi;
	if(timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, http__on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t http__write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct http_req *r = userp;
	size_t len = size * n;
	if(r->resp.len + len > r->max_response || strbuf_add(&r->resp, data, len))
		return 0; /* curl fails the transfer with a write error */
	return len;
}

static size_t http__header_cb(char *data, size_t size, size_t n, void *userp)
{
	struct http_req *r = userp;
	size_t len = size * n;
	if(len > 12 && !strncasecmp(data, "retry-after:", 12))
		r->retry_after = strtol(data + 12, NULL, 10);
	return len;
}

int http_client_new(struct http_client **out, uv_loop_t *loop)
{
	struct http_client *c = calloc(1, sizeof(*c));
	if(!c)
		return -1;
	c->loop = loop;
	c->multi = curl_multi_init();
	if(!c->multi || uv_timer_init(loop, &c->timer)) {
		if(c->multi)
			curl_multi_cleanup(c->multi);
		free(c);
		return -1;
	}
	c->timer.data = c;
	c->open_handles = 1;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http__socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http__timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return 0;
}

static void http__finish(struct http_client *c, struct http_req *r, CURLcode code)
{
	struct http_result res = { .retry_after = r->retry_after };
	long status = 0;
	if(code == CURLE_OK)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	res.status = status;
	res.body = r->resp.buf;
	res.body_len = r->resp.len;
	if(code != CURLE_OK) {
		res.error = code == CURLE_WRITE_ERROR ? "response too large" : curl_easy_strerror(code);
		res.status = 0;
	}
	/* Unlink before the callback: it may start new requests. */
	for(struct http_req **pp = &c->reqs; *pp; pp = &(*pp)->next)
		if(*pp == r) {
			*pp = r->next;
			break;
		}
	c->pending--;
	curl_multi_remove_handle(c->multi, r->easy);
	r->done(r->user, &res);
	if(c->nspare < HTTP_SPARE && !c->closing) {
		/* It points at r's headers and body no more (the next request
		 * sets its own). */
		curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, NULL);
		c->spare[c->nspare++] = r->easy;
	} else {
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	strbuf_release(&r->resp);
	free(r->body);
	free(r);
}

static void http__check_done(struct http_client *c)
{
	CURLMsg *msg;
	int left;
	while((msg = curl_multi_info_read(c->multi, &left))) {
		if(msg->msg != CURLMSG_DONE)
			continue;
		struct http_req *r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		CURLcode code = msg->data.result;
		if(r)
			http__finish(c, r, code);
	}
}

/* A new easy handle with the options every request shares: no signals,
 * the callbacks that fill a request (its data set by
 * http__set_options), the protocols, any encoding.  NULL when out of
 * memory. */
static CURL *http__easy_new(struct http_client *c)
{
	CURL *e = curl_easy_init();
	if(!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* No separate connect timeout: curl arms its timer for it at the start
	 * of every transfer, even on a reused connection, which woke the idle
	 * bot ten seconds into each long poll.  The whole transfer's timeout
	 * bounds a connect that hangs. */
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http__write_cb);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http__header_cb);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, http__close_socket);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	return e;
}

/* Sets the options of r's transfer that are its own, on a new handle or
 * one a finished transfer left: the URL, the timeout, the request that
 * the callbacks fill, the method (a GET set again, as a body set before
 * makes a POST). */
static void http__set_options(struct http_req *r, const struct http_call *call)
{
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, call->url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, call->timeout_ms > 0 ? call->timeout_ms : 30000L);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	bool get = !call->method || !strcmp(call->method, "GET");
	if(get)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, get || !strcmp(call->method, "POST") ? NULL : call->method);
}

/* Gives r's transfer a copy of call's body (owned by r) and its
 * Content-Type, or an empty body to a POST without one.  0 or -1. */
static int http__set_body(struct http_req *r, const struct http_call *call)
{
	CURL *e = r->easy;
	if(call->body) {
		if(!(r->body = malloc(call->body_len + 1)))
			return -1;
		memcpy(r->body, call->body, call->body_len);
		r->body[call->body_len] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
		struct strbuf h = STRBUF_INIT;
		strbuf_adds(&h, "Content-Type: ");
		strbuf_adds(&h, call->content_type ? call->content_type : "application/json");
		struct curl_slist *nl = curl_slist_append(r->headers, h.buf);
		strbuf_release(&h);
		if(!nl)
			return -1;
		r->headers = nl;
	} else if(call->method && !strcmp(call->method, "POST")) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	return 0;
}

/* Adds call's headers to r's list (owned by r) and hands it to the
 * transfer.  0 or -1. */
static int http__set_headers(struct http_req *r, const struct http_call *call)
{
	if(call->auth_bearer) {
		struct strbuf h = STRBUF_INIT;
		strbuf_adds(&h, "Authorization: Bearer ");
		strbuf_adds(&h, call->auth_bearer);
		struct curl_slist *nl = curl_slist_append(r->headers, h.buf);
		strbuf_release(&h);
		if(!nl)
			return -1;
		r->headers = nl;
	}
	for(const char *const *h = call->headers; h && *h; h++) {
		struct curl_slist *more = curl_slist_append(r->headers, *h);
		if(!more)
			return -1;
		r->headers = more;
	}
	/* No "Expect: 100-continue" round trip for small bodies.  The user
	 * agent is a header of the list too: set as an option, curl printed
	 * its line again at each request. */
	static const char *const fixed[] = { "Expect:", "User-Agent: Ensemble/" ENSEMBLE_VERSION };
	for(size_t i = 0; i < 2; i++) {
		struct curl_slist *nl = curl_slist_append(r->headers, fixed[i]);
		if(!nl)
			return -1;
		r->headers = nl;
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	return 0;
}

long http_client_start(struct http_client *c, const struct http_call *call, http_done_fn done, void *user)
{
	if(c->closing)
		return -1;
	struct http_req *r = calloc(1, sizeof(*r));
	if(!r)
		return -1;
	strbuf_init(&r->resp);
	r->c = c;
	r->done = done;
	r->user = user;
	r->retry_after = -1;
	r->max_response = call->max_response ? call->max_response : HTTP_DEFAULT_MAX;
	r->easy = c->nspare ? c->spare[--c->nspare] : http__easy_new(c);
	if(!r->easy)
		goto fail;
	http__set_options(r, call);
	if(http__set_body(r, call) || http__set_headers(r, call))
		goto fail;
	r->id = ++c->next_id;
	r->next = c->reqs;
	c->reqs = r;
	c->pending++;
	if(curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
		c->reqs = r->next;
		c->pending--;
		goto fail;
	}
	log_debug("%s %s", call->method ? call->method : "GET", call->url);
	return r->id;
fail:
	if(r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	strbuf_release(&r->resp);
	free(r->body);
	free(r);
	return -1;
}

void http_client_cancel(struct http_client *c, long id)
{
	for(struct http_req *r = c->reqs; r; r = r->next)
		if(r->id == id) {
			http__finish(c, r, CURLE_ABORTED_BY_CALLBACK);
			return;
		}
}

size_t http_client_pending(const struct http_client *c)
{
	return c->pending;
}

void http_client_close(struct http_client *c)
{
	if(!c || c->closing)
		return;
	c->closing = true;
	while(c->reqs)
		http__finish(c, c->reqs, CURLE_ABORTED_BY_CALLBACK);
	/* Removing the handles may have closed socket polls through the
	 * socket callback; the multi handle goes last. */
	while(c->nspare)
		curl_easy_cleanup(c->spare[--c->nspare]);
	curl_multi_cleanup(c->multi);
	while(c->idle) { /* curl closed its sockets: none should be left */
		struct http_sock *s = c->idle;
		c->idle = s->next;
		uv_close((uv_handle_t *)&s->poll, http__handle_closed);
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, http__handle_closed);
}
