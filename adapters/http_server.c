/* accept4(): the accepted socket is close-on-exec from the start. */
#define _GNU_SOURCE
#include "adapters/http_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/text.h"

#define LOG_MODULE "http"
#define HTTP_MAX_ROUTES 16
/* Connections accepted per wake-up of the listening socket, so that a burst
 * does not hold the loop; the rest wait for the next turn. */
#define HTTP_ACCEPT_BURST 16
/* How long accepting pauses when the process is out of file descriptors:
 * the pending connection stays queued, and polling again at once would spin. */
#define HTTP_ACCEPT_PAUSE_MS 1000
/* How often the requests waiting for their route to be ready ask again,
 * and how long one waits at most by default: then it is answered 503, to
 * be asked again later (a database stuck on a lock must not pile up
 * connections). */
#define HTTP_WAIT_POLL_MS 2
#define HTTP_WAIT_MAX_MS 30000

struct http_route {
	char method[8];
	char path[128];
	http_handler_fn fn;
	void *user;
	bool (*ready)(void *user); /* NULL: always */
};

struct http_server {
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct lws_protocols protocols[2];
	struct http_route routes[HTTP_MAX_ROUTES];
	int nroutes;
	size_t max_body;
	uint64_t wait_max_ms;
	int port;
	bool stopped; /* http_server_stop: no new connection or request */
	bool closed;  /* http_server_close: the context is being destroyed */
	/* The listening socket is ours, not lws's: it is bound to exactly the
	 * configured address, and each connection accepted on it is handed to
	 * the vhost (lws_adopt_socket_vhost). */
	int fd;
	uv_poll_t poll;
	uv_timer_t pause;
	uv_timer_t wait;                  /* asks the waiting requests' routes again */
	struct http_request *waiting;     /* the requests whose route was not ready */
	struct http_later *laters;        /* the answers handlers are to give later */
	bool handles;                     /* poll, pause and wait are initialised */
	char bound[INET6_ADDRSTRLEN + 8]; /* "127.0.0.1:8080", "[::1]:8080" */
};

struct http_request {
	struct lws *wsi;
	char method[8];
	char path[256];
	struct strbuf body;
	bool too_big;
	bool started; /* the request line was read */
	/* In srv->waiting: its route was not ready.  woken: it was asked to
	 * be served (or, given_up, answered 503) at its connection's next
	 * writeable callback. */
	bool waits, woken, given_up;
	const struct http_route *route; /* what it waits for */
	uint64_t waits_since;           /* the loop's time when it began to wait */
	struct http_request *next_waiting;
	/* Its handler answers later (http_request_later): the server it came
	 * to, the promise, and once given the answer, written at its
	 * connection's next writeable callback. */
	struct http_server *srv;
	struct http_later *later;
	struct http_response *answer;
	/* A copy (http_request_copy): no connection, the headers it kept as
	 * "name:value" lines, names in lower case. */
	bool copy;
	struct strbuf headers;
};

/* An answer promised by a handler (http_request_later). */
struct http_later {
	struct http_request *req; /* NULL once its client went or the server closed */
	struct http_server *srv;  /* NULL once the server closed */
	struct http_later *next;  /* in srv->laters */
};

static void http__forget_later(struct http_request *req);

const char *http_request_method(const struct http_request *req)
{
	return req->method;
}
const char *http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
	if(len)
		*len = req->body.len;
	return req->body.buf;
}

/* The value of the header "key" (a lower-case name and its colon) that a
 * copy kept, into buf: as http_request_header. */
static int http__copied_header(const struct http_request *req, const char *key, char *buf, size_t buflen)
{
	size_t klen = strlen(key);
	for(const char *line = req->headers.buf; line && *line;) {
		const char *end = strchr(line, '\n');
		if(!strncmp(line, key, klen)) {
			size_t vlen = (size_t)(end - line) - klen;
			if(vlen >= buflen)
				return -1;
			memcpy(buf, line + klen, vlen);
			buf[vlen] = '\0';
			return (int)vlen;
		}
		line = end + 1;
	}
	return -1;
}

int http_request_header(const struct http_request *req, const char *name, char *buf, size_t buflen)
{
	/* lws keeps custom headers as "name:" in lower case. */
	char key[128];
	size_t n = strlen(name);
	if(n + 2 > sizeof(key) || buflen > 0x7fffffff)
		return -1;
	for(size_t i = 0; i < n; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[n] = ':';
	key[n + 1] = '\0';
	if(req->copy)
		return http__copied_header(req, key, buf, buflen);
	/* The headers lws knows have a token of their own. */
	for(int t = 0; t < WSI_TOKEN_COUNT; t++) {
		const char *known = (const char *)lws_token_to_string((enum lws_token_indexes)t);
		if(!known || strcmp(known, key))
			continue;
		int got = lws_hdr_total_length(req->wsi, (enum lws_token_indexes)t);
		if(got <= 0 || (size_t)got >= buflen)
			return -1;
		return lws_hdr_copy(req->wsi, buf, (int)buflen, (enum lws_token_indexes)t);
	}
	int len = lws_hdr_custom_length(req->wsi, key, (int)n + 1);
	if(len < 0)
		return -1;
	if((size_t)len >= buflen)
		return -1;
	return lws_hdr_custom_copy(req->wsi, buf, (int)buflen, key, (int)n + 1);
}

struct http_request *http_request_copy(const struct http_request *req, const char *const *names)
{
	struct http_request *c = calloc(1, sizeof(*c));
	char value[1024], key[128];
	if(!c)
		return NULL;
	c->copy = true;
	c->started = true;
	memcpy(c->method, req->method, sizeof(c->method));
	memcpy(c->path, req->path, sizeof(c->path));
	strbuf_init(&c->body);
	strbuf_init(&c->headers);
	strbuf_add(&c->body, req->body.buf ? req->body.buf : "", req->body.len);
	for(int i = 0; names && names[i]; i++) {
		int len = http_request_header(req, names[i], value, sizeof(value));
		size_t n = strlen(names[i]);
		if(len < 0 || n + 2 > sizeof(key) || memchr(value, '\n', (size_t)len))
			continue; /* absent, or too long to keep: absent from the copy */
		for(size_t k = 0; k < n; k++)
			key[k] = (char)tolower((unsigned char)names[i][k]);
		strbuf_addf(&c->headers, "%.*s:%.*s\n", (int)n, key, len, value);
	}
	if(c->body.oom || c->headers.oom) {
		http_request_free(c);
		return NULL;
	}
	return c;
}

void http_request_free(struct http_request *copy)
{
	if(!copy || !copy->copy)
		return;
	strbuf_release(&copy->body);
	strbuf_release(&copy->headers);
	free(copy);
}

int http_request_peer(const struct http_request *req, struct sockaddr_storage *ss)
{
	if(req->copy)
		return -1;
	socklen_t len = sizeof(*ss);
	int fd = lws_get_socket_fd(req->wsi);
	return fd >= 0 && !getpeername(fd, (struct sockaddr *)ss, &len) ? 0 : -1;
}

int http_response_header(struct http_response *res, const char *name, const char *value)
{
	if(res->nheaders == HTTP_MAX_HEADERS || strlen(name) + 2 > sizeof(res->headers[0].name) ||
	   strlen(value) >= sizeof(res->headers[0].value))
		return -1;
	snprintf(res->headers[res->nheaders].name, sizeof(res->headers[0].name), "%s:", name);
	text_copy(res->headers[res->nheaders].value, sizeof(res->headers[0].value), value);
	res->nheaders++;
	return 0;
}

/* Writes a whole response: status line, headers (res's more headers when
 * res is not NULL), body.  Returns what the lws callback must return. */
static int http__respond_with(struct lws *wsi, int status, const char *type, const char *body, size_t len,
                              const struct http_response *res)
{
	unsigned char head[LWS_PRE + 4096];
	unsigned char *start = head + LWS_PRE, *p = start, *end = head + sizeof(head) - 1;
	if(lws_add_http_common_headers(wsi, (unsigned int)status, type ? type : "text/plain; charset=utf-8",
	                               (lws_filepos_t)len, &p, end))
		return -1;
	for(int i = 0; res && i < res->nheaders; i++)
		if(lws_add_http_header_by_name(wsi, (const unsigned char *)res->headers[i].name,
		                               (const unsigned char *)res->headers[i].value,
		                               (int)strlen(res->headers[i].value), &p, end))
			return -1;
	if(lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if(len) {
		unsigned char *buf = malloc(LWS_PRE + len);
		if(!buf)
			return -1;
		memcpy(buf + LWS_PRE, body, len);
		int w = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
		free(buf);
		if(w < (int)len)
			return -1;
	}
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Writes res (a handler's answer) and frees its body. */
static int http__respond_res(struct lws *wsi, struct http_response *res)
{
	int out = http__respond_with(wsi, res->status, res->content_type, res->body ? res->body : "",
	                             res->body ? res->body_len : 0, res);
	free(res->body);
	res->body = NULL;
	return out;
}

static int http__respond(struct lws *wsi, int status, const char *type, const char *body, size_t len)
{
	return http__respond_with(wsi, status, type, body, len, NULL);
}

/* Whether route path r serves path p: the same, or r ends with '*' and p
 * starts with what comes before it. */
static bool http__matches(const char *r, const char *p)
{
	size_t n = strlen(r);
	return n && r[n - 1] == '*' ? !strncmp(r, p, n - 1) : !strcmp(r, p);
}

static void http__on_wait(uv_timer_t *h);

/* Takes req out of the waiting requests, when it is there. */
static void http__unwait(struct http_server *srv, struct http_request *req)
{
	for(struct http_request **p = &srv->waiting; *p; p = &(*p)->next_waiting) {
		if(*p == req) {
			*p = req->next_waiting;
			break;
		}
	}
	req->waits = req->woken = false;
	req->next_waiting = NULL;
}

/* Puts req among the waiting requests, its answer left for later, until
 * route r is ready. */
static int http__wait(struct http_server *srv, struct http_request *req, const struct http_route *r)
{
	req->waits = true;
	req->woken = req->given_up = false;
	req->route = r;
	req->waits_since = uv_now(srv->wait.loop);
	req->next_waiting = srv->waiting;
	srv->waiting = req;
	if(!uv_is_active((uv_handle_t *)&srv->wait))
		uv_timer_start(&srv->wait, http__on_wait, HTTP_WAIT_POLL_MS, HTTP_WAIT_POLL_MS);
	return 0;
}

static int http__dispatch(struct http_server *srv, struct http_request *req)
{
	if(req->too_big)
		return http__respond(req->wsi, 413, NULL, "request body too large\n", 23);
	if(srv->stopped) {
		/* A kept-alive connection asks while the bot stops: nothing new
		 * is taken then, and the client may ask again (another instance). */
		struct http_response busy = { .status = 503 };
		return http_response_header(&busy, "Retry-After", "5")
		               ? -1
		               : http__respond_with(req->wsi, 503, NULL, "stopping\n", 9, &busy);
	}
	bool path_known = false;
	for(int i = 0; i < srv->nroutes; i++) {
		struct http_route *r = &srv->routes[i];
		if(!http__matches(r->path, req->path))
			continue;
		path_known = true;
		if(strcmp(r->method, req->method))
			continue;
		if(r->ready && !r->ready(r->user))
			return http__wait(srv, req, r);
		struct http_response res = { .status = 200 };
		req->srv = srv;
		int rc = r->fn(r->user, req, &res);
		if(req->later && !rc) {
			/* Promised: its answer comes with http_later_answer. */
			free(res.body);
			return 0;
		}
		if(req->answer && !rc) {
			/* Promised and given at once. */
			free(res.body);
			res = *req->answer;
			free(req->answer);
			req->answer = NULL;
		}
		/* A handler that failed answers 500, anything it promised void. */
		http__forget_later(req);
		if(!rc)
			return http__respond_res(req->wsi, &res);
		free(res.body);
		return http__respond(req->wsi, 500, NULL, "internal error\n", 15);
	}
	if(path_known)
		return http__respond(req->wsi, 405, NULL, "method not allowed\n", 19);
	return http__respond(req->wsi, 404, NULL, "not found\n", 10);
}

/* The waiting requests' routes asked again: each request whose route is
 * ready now is served from its connection's writeable callback (lws
 * writes only there, outside the callback of its arrival). */
static void http__on_wait(uv_timer_t *h)
{
	struct http_server *srv = h->data;
	bool left = false;
	uint64_t now = uv_now(h->loop);
	for(struct http_request *req = srv->waiting; req; req = req->next_waiting) {
		if(req->woken)
			continue;
		bool ready = req->route->ready(req->route->user);
		if(!ready && now - req->waits_since < srv->wait_max_ms) {
			left = true;
			continue;
		}
		req->given_up = !ready;
		req->woken = true;
		lws_callback_on_writable(req->wsi);
	}
	if(!left)
		uv_timer_stop(&srv->wait);
}

static void http__release(struct http_request *req)
{
	if(req && req->started) {
		strbuf_release(&req->body);
		req->started = false;
	}
}

/* The connection of req is closing: its promised answer, if any, will
 * have no one to go to, and one given but not written yet goes. */
static void http__forget_later(struct http_request *req)
{
	if(!req)
		return;
	if(req->later) {
		req->later->req = NULL;
		req->later = NULL;
	}
	if(req->answer) {
		free(req->answer->body);
		free(req->answer);
		req->answer = NULL;
	}
}

struct http_later *http_request_later(const struct http_request *creq)
{
	struct http_request *req = (struct http_request *)creq; /* the server's own */
	if(req->later || !req->srv || req->srv->stopped)
		return NULL;
	struct http_later *l = calloc(1, sizeof(*l));
	if(!l)
		return NULL;
	l->req = req;
	l->srv = req->srv;
	l->next = req->srv->laters;
	req->srv->laters = l;
	req->later = l;
	/* lws would cut a request left unanswered after its own few seconds
	 * (timeout_secs, 5 by default), while the work promised (a
	 * transaction waiting on a lock) goes on: the client's own timeout is
	 * the limit. */
	lws_set_timeout(req->wsi, NO_PENDING_TIMEOUT, 0);
	return l;
}

void http_later_void(struct http_later *l)
{
	if(l->req)
		l->req->later = NULL;
	for(struct http_later **p = l->srv ? &l->srv->laters : NULL; p && *p; p = &(*p)->next)
		if(*p == l) {
			*p = l->next;
			break;
		}
	free(l);
}

void http_later_answer(struct http_later *l, struct http_response *res)
{
	struct http_request *req = l->req;
	struct http_response *a = req ? malloc(sizeof(*a)) : NULL;
	if(a) {
		*a = *res;
		req->answer = a;
		req->later = NULL;
		lws_callback_on_writable(req->wsi);
	} else {
		free(res->body);
		if(req) { /* no memory: the client gets no answer, as if we had crashed */
			req->later = NULL;
			lws_set_timeout(req->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		}
	}
	res->body = NULL;
	l->req = NULL; /* answered: only its place in the server's list is left */
	http_later_void(l);
}

static int http__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct http_request *req = user;
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct http_server *srv = vh ? lws_get_vhost_user(vh) : NULL;
	char num[32];

	switch(reason) {
	case LWS_CALLBACK_HTTP: {
		if(req->waits && srv)
			http__unwait(srv, req);
		memset(req, 0, sizeof(*req));
		req->wsi = wsi;
		req->started = true;
		strbuf_init(&req->body);
		text_copy(req->path, sizeof(req->path), (const char *)in);
		bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
		bool put = lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0;
		snprintf(req->method, sizeof(req->method), "%s",
		         post                                               ? "POST"
		         : put                                              ? "PUT"
		         : lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 ? "GET"
		                                                            : "OTHER");
		if(!post && !put)
			return http__dispatch(srv, req);
		if(lws_hdr_copy(wsi, num, sizeof(num), WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
			return http__respond(wsi, 411, NULL, "length required\n", 16);
		if(lws_hdr_copy(wsi, num, sizeof(num), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
			return http__dispatch(srv, req); /* no body callbacks will come */
		if(strtoull(num, NULL, 10) > srv->max_body)
			return http__respond(wsi, 413, NULL, "request body too large\n", 23);
		return 0; /* the body follows */
	}
	case LWS_CALLBACK_HTTP_BODY:
		if(req->body.len + len > srv->max_body)
			req->too_big = true;
		else
			strbuf_add(&req->body, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if(req->body.oom)
			return http__respond(wsi, 500, NULL, "out of memory\n", 14);
		return http__dispatch(srv, req);
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if(req && req->answer) {
			struct http_response *a = req->answer;
			req->answer = NULL;
			int out = http__respond_res(wsi, a);
			free(a);
			return out;
		}
		if(!req || !req->waits || !req->woken)
			return 0;
		bool given_up = req->given_up;
		http__unwait(srv, req);
		if(given_up) {
			log_warn("%s %s waited %llu ms for its route: answered 503", req->method, req->path,
			         (unsigned long long)srv->wait_max_ms);
			struct http_response busy = { .status = 503 };
			return http_response_header(&busy, "Retry-After", "5")
			               ? -1
			               : http__respond_with(wsi, 503, NULL, "busy, try again\n", 16, &busy);
		}
		return http__dispatch(srv, req); /* it may wait again */
	}
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if(req && req->waits && srv)
			http__unwait(srv, req);
		http__forget_later(req);
		http__release(req);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static void http__lws_log(int level, const char *line)
{
	char copy[256];
	text_copy(copy, sizeof(copy), line);
	copy[strcspn(copy, "\n")] = '\0';
	if(level & LLL_ERR)
		log_error("libwebsockets: %s", copy);
	else
		log_warn("libwebsockets: %s", copy);
}

/* Formats a socket address as ADDRESS:PORT, an IPv6 address in brackets. */
static void http__format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if(ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%d", host, ntohs(a6->sin6_port));
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%d", host, ntohs(a4->sin_port));
	}
}

/* Opens srv->fd listening on exactly address:port, where address is a
 * numeric IPv4 or IPv6 address (without brackets).  An IPv6 socket is
 * IPv6 only, "::" included: each address names one family, as 0.0.0.0 is
 * every IPv4 address and :: every IPv6 one.  Fills srv->port and
 * srv->bound from the bound socket itself.  Returns 0, or -1 logged. */
static int http__listen(struct http_server *srv, const char *address, int port)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char want[INET6_ADDRSTRLEN + 8];
	int one = 1;

	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	memset(&ss, 0, sizeof(ss));
	if(port >= 0 && port <= 65535 && inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		sslen = sizeof(*a4);
	} else if(port >= 0 && port <= 65535 && inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		sslen = sizeof(*a6);
	} else {
		log_error("cannot listen on %s:%d: not an IPv4 or IPv6 address", address, port);
		return -1;
	}
	http__format(&ss, want, sizeof(want));
	srv->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(srv->fd < 0) {
		log_error("cannot listen on %s: %s", want, strerror(errno));
		return -1;
	}
	/* A restart may bind while the last run's connections linger in
	 * TIME_WAIT; a socket that listens there already still refuses it. */
	if(setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	   (ss.ss_family == AF_INET6 && setsockopt(srv->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	   bind(srv->fd, (struct sockaddr *)&ss, sslen) || listen(srv->fd, SOMAXCONN)) {
		log_error("cannot listen on %s: %s", want, strerror(errno));
		goto fail;
	}
	sslen = sizeof(ss);
	if(getsockname(srv->fd, (struct sockaddr *)&ss, &sslen)) {
		log_error("cannot listen on %s: %s", want, strerror(errno));
		goto fail;
	}
	http__format(&ss, srv->bound, sizeof(srv->bound));
	srv->port = ss.ss_family == AF_INET6 ? ntohs(a6->sin6_port) : ntohs(a4->sin_port);
	return 0;
fail:
	close(srv->fd);
	srv->fd = -1;
	return -1;
}

static void http__on_accept(uv_poll_t *h, int status, int events);

static void http__on_pause(uv_timer_t *h)
{
	struct http_server *srv = h->data;
	uv_poll_start(&srv->poll, UV_READABLE, http__on_accept);
}

/* Accepts what is queued on the listening socket and hands each connection
 * to lws, which owns it from then on (it closes it itself when it cannot
 * take it). */
static void http__on_accept(uv_poll_t *h, int status, int events)
{
	struct http_server *srv = h->data;
	(void)events;
	if(status < 0) {
		log_warn("listening socket: %s", uv_strerror(status));
		return;
	}
	for(int i = 0; i < HTTP_ACCEPT_BURST; i++) {
		int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if(fd < 0) {
			if(errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("cannot accept a connection (%s): pausing for %d ms", strerror(errno),
				         HTTP_ACCEPT_PAUSE_MS);
				uv_poll_stop(&srv->poll);
				uv_timer_start(&srv->pause, http__on_pause, HTTP_ACCEPT_PAUSE_MS, 0);
			}
			/* EAGAIN: nothing more; ECONNABORTED and the like: that peer
			 * is gone, the next wake-up takes the others. */
			return;
		}
		/* A response leaves as two writes (headers, then body): without
		 * this, Nagle's algorithm holds the body until the client acks
		 * the headers, which a client on a kept-alive connection delays
		 * by 40 ms. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if(!lws_adopt_socket_vhost(srv->vhost, fd))
			log_warn("a connection was dropped: the listener could not take it");
	}
}

int http_server_new(struct http_server **out, uv_loop_t *loop, const struct http_server_options *opt)
{
	*out = NULL;
	struct http_server *srv = calloc(1, sizeof(*srv));
	if(!srv)
		return -1;
	srv->fd = -1;
	srv->max_body = opt->max_body ? opt->max_body : 1024 * 1024;
	srv->wait_max_ms = opt->wait_max_ms > 0 ? (uint64_t)opt->wait_max_ms : HTTP_WAIT_MAX_MS;
	srv->protocols[0] = (struct lws_protocols){
		.name = "http",
		.callback = http__callback,
		.per_session_data_size = sizeof(struct http_request),
		.rx_buffer_size = 0,
	};
	/* The socket first: an address that cannot be bound costs nothing
	 * more, and lws never binds anything itself (its own listener binds
	 * an IPv4 address as the IPv6 wildcard, dual-stack, on Debian's 4.1). */
	if(http__listen(srv, opt->address, opt->port)) {
		free(srv);
		return -1;
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, http__lws_log);

	void *loops[1] = { loop };
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if(opt->cert_file)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.foreign_loops = loops;
	info.fd_limit_per_thread = 256;
	srv->ctx = lws_create_context(&info);
	if(!srv->ctx) {
		log_error("cannot start the HTTP listener (is libwebsockets-evlib-uv installed?)");
		close(srv->fd);
		free(srv);
		return -1;
	}
	/* The context has handles on the loop from here on: on failure the
	 * caller drains it and calls http_server_free. */
	*out = srv;
	struct lws_context_creation_info vi;
	memset(&vi, 0, sizeof(vi));
	vi.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* serves the sockets it adopts */
	vi.protocols = srv->protocols;
	vi.vhost_name = "ensemble";
	vi.user = srv;
	vi.ssl_cert_filepath = opt->cert_file;
	vi.ssl_private_key_filepath = opt->key_file;
	/* lws reads this option from the vhost's info too: without it the
	 * vhost would serve plain HTTP despite the certificate. */
	if(opt->cert_file)
		vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	srv->vhost = lws_create_vhost(srv->ctx, &vi);
	if(!srv->vhost) {
		log_error("cannot listen on %s%s", srv->bound, opt->cert_file ? " (TLS)" : "");
		return -1;
	}
	if(uv_poll_init_socket(loop, &srv->poll, srv->fd)) {
		log_error("cannot listen on %s: cannot watch the socket", srv->bound);
		return -1;
	}
	uv_timer_init(loop, &srv->pause);
	uv_timer_init(loop, &srv->wait);
	srv->poll.data = srv;
	srv->pause.data = srv;
	srv->wait.data = srv;
	srv->handles = true;
	uv_poll_start(&srv->poll, UV_READABLE, http__on_accept);
	log_info("HTTP listener on %s%s", srv->bound, opt->cert_file ? " (TLS)" : "");
	return 0;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

int http_server_route_when(struct http_server *srv, const char *method, const char *path, http_handler_fn fn,
                           void *user, bool (*ready)(void *user))
{
	if(srv->nroutes == HTTP_MAX_ROUTES)
		return -1;
	struct http_route *r = &srv->routes[srv->nroutes++];
	text_copy(r->method, sizeof(r->method), method);
	text_copy(r->path, sizeof(r->path), path);
	r->fn = fn;
	r->user = user;
	r->ready = ready;
	return 0;
}

int http_server_route(struct http_server *srv, const char *method, const char *path, http_handler_fn fn, void *user)
{
	return http_server_route_when(srv, method, path, fn, user, NULL);
}

void http_server_stop(struct http_server *srv)
{
	if(!srv || srv->stopped)
		return;
	srv->stopped = true;
	/* The requests still waiting are dropped, their connections closed now:
	 * lws would otherwise keep them, and the loop, until their clients
	 * gave up. */
	while(srv->waiting) {
		struct http_request *req = srv->waiting;
		http__unwait(srv, req);
		lws_set_timeout(req->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	/* No new connection from here: the socket is closed, so a client (a
	 * load balancer) is refused at once and tries another instance.  The
	 * watcher goes first: libuv must not poll a closed descriptor. */
	if(srv->handles) {
		uv_close((uv_handle_t *)&srv->poll, NULL);
		uv_close((uv_handle_t *)&srv->pause, NULL);
		uv_close((uv_handle_t *)&srv->wait, NULL);
	}
	if(srv->fd >= 0)
		close(srv->fd);
	srv->fd = -1;
}

/*
 * Why the context is destroyed here, apart from the stop: libwebsockets 4.1
 * (Debian's) closes the descriptor of its event pipe twice on a foreign
 * loop.  lws_context_destroy closes it at once, and the close callback of
 * the pipe's libuv handle closes the same number again, at the end of the
 * loop's turn.  A descriptor opened in between (a socket of the HTTP client,
 * sending a reply while the bot drains) would get that number and be
 * closed under its owner, and libuv aborts on it.  So the context goes
 * last, once nothing else opens descriptors on the loop.
 */
void http_server_close(struct http_server *srv)
{
	if(!srv || srv->closed)
		return;
	http_server_stop(srv);
	srv->closed = true;
	/* The promised answers go nowhere now: their connections close with
	 * the context. */
	while(srv->laters) {
		struct http_later *l = srv->laters;
		srv->laters = l->next;
		if(l->req)
			l->req->later = NULL;
		l->req = NULL;
		l->srv = NULL;
	}
	lws_context_destroy(srv->ctx); /* first call: starts closing handles */
}

void http_server_free(struct http_server *srv)
{
	if(!srv)
		return;
	http_server_close(srv);        /* closes the socket too */
	lws_context_destroy(srv->ctx); /* second call: frees, handles closed */
	free(srv);
}
