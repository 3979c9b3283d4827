/*
 * http_server: an HTTP listener on the bot's libuv loop, built on
 * libwebsockets (a foreign loop: lws installs no signal handlers and is never
 * serviced by hand).  The listening socket is its own, bound to exactly the
 * configured address; lws serves each connection accepted there (HTTP, or
 * TLS with a certificate).  It serves the routes added to it: the daemon's
 * GET /healthz and /readyz, the adapters' (the Telegram webhook).  Handlers
 * get the whole request and fill the response, or promise it
 * (http_request_later) and give it from the loop once they have it.  A
 * route added with a readiness test (http_server_route_when) is served only
 * when the test says so: until then its requests wait, the loop going on
 * (a page that reads the database while a thread holds it).
 *
 * Shutdown, in this order (see ../shared/eventloop.md):
 *   http_server_stop(srv);      no new connection; a request on one kept
 *                               alive gets 503; promises may still be kept
 *   ... let what is in flight end, close what opens descriptors ...
 *   http_server_close(srv);     promises dropped; starts closing lws's handles
 *   ... close your own handles, let uv_run() return ...
 *   http_server_free(srv);      frees the context once its handles closed
 */
#ifndef ENSEMBLE_HTTP_SERVER_H
#define ENSEMBLE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

struct http_server;
struct http_request;

struct http_server_options {
	const char *address;   /* bound exactly: "127.0.0.1", "0.0.0.0", "::1", "::" (IPv6 only) */
	int port;              /* 0: the kernel picks; see http_server_port */
	const char *cert_file; /* TLS certificate (PEM), or NULL for plain HTTP */
	const char *key_file;
	size_t max_body; /* larger request bodies get 413; 0: 1 MiB */
	int wait_max_ms; /* a request waits this long at most for its route
	                    to be ready (http_server_route_when), then gets
	                    503 with Retry-After; 0: 30 s */
};

#define HTTP_MAX_HEADERS 8

struct http_response {
	int status;
	const char *content_type; /* default "text/plain; charset=utf-8" */
	char *body;               /* owned by the server once set (malloc'd) */
	size_t body_len;
	/* More headers, added with http_response_header. */
	struct {
		char name[32];
		char value[256];
	} headers[HTTP_MAX_HEADERS];
	int nheaders;
};

/* A route handler: fills res (status 200 and no body when untouched).
 * Returns 0; -1 answers 500. */
typedef int (*http_handler_fn)(void *user, const struct http_request *req, struct http_response *res);

/* Starts listening on loop, on exactly opt->address (a numeric address:
 * no other address of the machine answers, and an IPv6 one does not take
 * IPv4 connections).  Returns 0, or -1 (logged: not an address, the port is
 * taken, the certificate cannot be read, ...); *out is then NULL, or a
 * server whose handles the caller drains before http_server_free. */
int http_server_new(struct http_server **out, uv_loop_t *loop, const struct http_server_options *opt);
/* The port it listens on (the chosen one when options asked for 0). */
int http_server_port(const struct http_server *srv);
/* Adds a route; path is matched exactly, or as a prefix when it ends with
 * an asterisk (the rest of the request's path is the handler's to read).
 * 0 or -1. */
int http_server_route(struct http_server *srv, const char *method, const char *path, http_handler_fn fn, void *user);
/* As http_server_route, but a request is handed to fn only when
 * ready(user) is true; until then it waits, and the server asks again
 * every few milliseconds, without holding the loop.  A client that goes
 * away meanwhile is forgotten.  For handlers that would otherwise wait for
 * something the loop must not wait for. */
int http_server_route_when(struct http_server *srv, const char *method, const char *path, http_handler_fn fn,
                           void *user, bool (*ready)(void *user));
/* Stops taking work: the listening socket is closed (a new connection is
 * refused), the requests waiting for their route are dropped, and a request
 * arriving on a connection kept alive is answered 503 with Retry-After.
 * Promised answers may still be given (a webhook's update committed while
 * the bot drains is answered 200, and not posted again).  Idempotent. */
void http_server_stop(struct http_server *srv);
/* Stops (if not yet) and starts closing every connection and lws's handles
 * on the loop; promised answers not given go nowhere.  Call it last, once
 * nothing else on the loop opens descriptors (libwebsockets 4.1 closes one
 * of its own twice: see http_server.c).  Idempotent. */
void http_server_close(struct http_server *srv);
/* Frees the server once the loop has closed its handles (closing it first
 * if not done: then its handles must be drained by the caller). */
void http_server_free(struct http_server *srv);

/* A promised answer.  A handler that cannot answer at once (it waits for
 * a transaction committed on a thread) calls http_request_later(req),
 * leaves res untouched and returns 0: the request then waits, the loop
 * going on, until http_later_answer(promise, res) gives its answer, from
 * the loop's thread.  http_request_later returns NULL when it cannot
 * promise (no memory, the server stopping, a promise made already): the
 * handler then answers now.  A handler that promised and returns -1
 * answers 500 now, the promise void.  http_later_answer must be called
 * once for each promise, whatever happened meanwhile: it takes res's body,
 * and frees the promise; when the client went away or the server stopped
 * (or was freed) meanwhile, the answer is dropped.  The server sets no
 * limit on how long a promise may take (the work promised goes on
 * anyway): the client's own timeout is the limit. */
struct http_later;
struct http_later *http_request_later(const struct http_request *req);
void http_later_answer(struct http_later *promise, struct http_response *res);
/* Withdraws a promise, from within the handler that made it, which then
 * answers through res as if it had never promised; the promise is freed. */
void http_later_void(struct http_later *promise);

/* A copy of req that outlives the handler's call, for work done elsewhere
 * (on a thread) once the handler has promised: its method, path and body,
 * and of its headers those named in names (NULL-terminated; a value over
 * 1 KiB is left out), which http_request_header then reads (any other:
 * -1).  http_request_peer fails on a copy.  NULL without memory.  The
 * caller owns it: http_request_free. */
struct http_request *http_request_copy(const struct http_request *req, const char *const *names);
void http_request_free(struct http_request *copy);

/* What a handler may read of the request (valid during the call only). */
const char *http_request_method(const struct http_request *req);
const char *http_request_path(const struct http_request *req);
const char *http_request_body(const struct http_request *req, size_t *len);
/* Copies the value of header name (case-insensitive, e.g.
 * "x-telegram-bot-api-secret-token", "if-none-match") into buf; returns
 * its length, or -1 when the request has no such header. */
int http_request_header(const struct http_request *req, const char *name, char *buf, size_t buflen);
/* Copies the address of the peer that sent req into ss.  0, or -1 when
 * the socket cannot say. */
int http_request_peer(const struct http_request *req, struct sockaddr_storage *ss);
/* Adds the header "name: value" to res (both copied; a value too long, or
 * one header too many, is refused).  0 or -1. */
int http_response_header(struct http_response *res, const char *name, const char *value);

#endif
