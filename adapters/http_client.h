/*
 * http_client: asynchronous HTTP requests on the bot's libuv loop, through
 * libcurl's multi-socket interface (the pattern of curl's multi-uv.c): one
 * uv_poll_t per socket, one uv_timer_t for curl's timeouts, no thread and no
 * blocking call.  The long polls of several adapters and their sends run at
 * once.
 */
#ifndef ENSEMBLE_HTTP_CLIENT_H
#define ENSEMBLE_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

struct http_client;

struct http_result {
	long status;      /* HTTP status; 0 when the transfer failed */
	const char *body; /* NUL-terminated; "" when none */
	size_t body_len;
	const char *error; /* curl's reason when status is 0, else NULL */
	long retry_after;  /* the Retry-After header in seconds, or -1 */
};

/* Called once per request, with the result (borrowed for the call). */
typedef void (*http_done_fn)(void *user, const struct http_result *res);

struct http_call {
	const char *method; /* "GET", "POST", "PUT" */
	const char *url;    /* may hold a token: it is never logged as is */
	const char *body;   /* copied; NULL for none */
	size_t body_len;
	const char *content_type;   /* default "application/json" with a body */
	const char *auth_bearer;    /* "Authorization: Bearer ..." when set */
	const char *const *headers; /* more "Name: value" lines, NULL-ended */
	long timeout_ms;            /* the whole transfer; long polls set it above
	                               the server's wait */
	size_t max_response;        /* larger bodies fail; 0: 16 MiB */
};

int http_client_new(struct http_client **out, uv_loop_t *loop);
/* Starts a request.  done is called later, from the loop, exactly once
 * (with status 0 and an error if the client is closed first).  Returns a
 * positive request id, or -1. */
long http_client_start(struct http_client *c, const struct http_call *call, http_done_fn done, void *user);
/* Cancels a pending request: done is called with the error "cancelled". */
void http_client_cancel(struct http_client *c, long id);
/* How many requests are in flight. */
size_t http_client_pending(const struct http_client *c);
/* Cancels everything and closes the client's handles; the loop then
 * drains and frees the rest.  c must not be used after. */
void http_client_close(struct http_client *c);

#endif
