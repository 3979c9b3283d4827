#include "adapters/http_server.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot/log.h"
#include "bot/strbuf.h"

#define LOG_MODULE "http"
#define HTTP_MAX_ROUTES 16

struct http_route {
	char method[8];
	char path[128];
	http_handler_fn fn;
	void *user;
};

struct http_server {
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct lws_protocols protocols[2];
	struct http_route routes[HTTP_MAX_ROUTES];
	int nroutes;
	size_t max_body;
	bool healthz;
	int port;
	bool stopped;
};

struct http_request {
	struct lws *wsi;
	char method[8];
	char path[256];
	struct strbuf body;
	bool too_big;
	bool started;     /* the request line was read */
};

const char *http_request_method(const struct http_request *req) { return req->method; }
const char *http_request_path(const struct http_request *req) { return req->path; }

const char *http_request_body(const struct http_request *req, size_t *len)
{
	if(len)
		*len = req->body.len;
	return req->body.buf;
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
	int len = lws_hdr_custom_length(req->wsi, key, (int)n + 1);
	if(len < 0)
		return -1;
	if((size_t)len >= buflen)
		return -1;
	return lws_hdr_custom_copy(req->wsi, buf, (int)buflen, key, (int)n + 1);
}

/* Writes a whole response: status line, headers, body.  Returns what the
 * lws callback must return. */
static int http__respond(struct lws *wsi, int status, const char *type, const char *body, size_t len)
{
	unsigned char head[LWS_PRE + 512];
	unsigned char *start = head + LWS_PRE, *p = start, *end = head + sizeof(head) - 1;
	if(lws_add_http_common_headers(wsi, (unsigned int)status, type ? type : "text/plain; charset=utf-8",
	                               (lws_filepos_t)len, &p, end) ||
	   lws_finalize_write_http_header(wsi, start, &p, end))
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

static int http__dispatch(struct http_server *srv, struct http_request *req)
{
	if(req->too_big)
		return http__respond(req->wsi, 413, NULL, "request body too large\n", 23);
	if(srv->healthz && !strcmp(req->path, "/healthz")) {
		if(strcmp(req->method, "GET"))
			return http__respond(req->wsi, 405, NULL, "method not allowed\n", 19);
		return http__respond(req->wsi, 200, NULL, "ok\n", 3);
	}
	bool path_known = false;
	for(int i = 0; i < srv->nroutes; i++) {
		struct http_route *r = &srv->routes[i];
		if(strcmp(r->path, req->path))
			continue;
		path_known = true;
		if(strcmp(r->method, req->method))
			continue;
		struct http_response res = { .status = 200 };
		int rc = r->fn(r->user, req, &res);
		int out = rc ? http__respond(req->wsi, 500, NULL, "internal error\n", 15)
		             : http__respond(req->wsi, res.status, res.content_type, res.body ? res.body : "",
		                             res.body ? res.body_len : 0);
		free(res.body);
		return out;
	}
	if(path_known)
		return http__respond(req->wsi, 405, NULL, "method not allowed\n", 19);
	return http__respond(req->wsi, 404, NULL, "not found\n", 10);
}

static void http__release(struct http_request *req)
{
	if(req && req->started) {
		strbuf_release(&req->body);
		req->started = false;
	}
}

static int http__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct http_request *req = user;
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct http_server *srv = vh ? lws_get_vhost_user(vh) : NULL;
	char num[32];

	switch(reason) {
	case LWS_CALLBACK_HTTP: {
		memset(req, 0, sizeof(*req));
		req->wsi = wsi;
		req->started = true;
		strbuf_init(&req->body);
		snprintf(req->path, sizeof(req->path), "%s", (const char *)in);
		bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
		bool put = lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0;
		snprintf(req->method, sizeof(req->method), "%s", post ? "POST" : put ? "PUT" :
		         lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 ? "GET" : "OTHER");
		if(!post && !put)
			return http__dispatch(srv, req);
		if(lws_hdr_copy(wsi, num, sizeof(num), WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
			return http__respond(wsi, 411, NULL, "length required\n", 16);
		if(lws_hdr_copy(wsi, num, sizeof(num), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
			return http__dispatch(srv, req);  /* no body callbacks will come */
		if(strtoull(num, NULL, 10) > srv->max_body)
			return http__respond(wsi, 413, NULL, "request body too large\n", 23);
		return 0;  /* the body follows */
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
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		http__release(req);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static void http__lws_log(int level, const char *line)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", line);
	copy[strcspn(copy, "\n")] = '\0';
	if(level & LLL_ERR)
		log_error("libwebsockets: %s", copy);
	else
		log_warn("libwebsockets: %s", copy);
}

int http_server_new(struct http_server **out, uv_loop_t *loop, const struct http_server_options *opt)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	if(!srv)
		return -1;
	srv->max_body = opt->max_body ? opt->max_body : 1024 * 1024;
	srv->healthz = opt->healthz;
	srv->protocols[0] = (struct lws_protocols){
		.name = "http", .callback = http__callback,
		.per_session_data_size = sizeof(struct http_request), .rx_buffer_size = 0,
	};
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
		free(srv);
		return -1;
	}
	struct lws_context_creation_info vi;
	memset(&vi, 0, sizeof(vi));
	vi.port = opt->port;
	vi.iface = opt->address;
	vi.protocols = srv->protocols;
	vi.vhost_name = "ensemble";
	vi.user = srv;
	vi.ssl_cert_filepath = opt->cert_file;
	vi.ssl_private_key_filepath = opt->key_file;
	/* lws reads this option from the vhost's info too: without it the
	 * vhost would listen in plain HTTP despite the certificate. */
	if(opt->cert_file)
		vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	srv->vhost = lws_create_vhost(srv->ctx, &vi);
	if(!srv->vhost) {
		log_error("cannot listen on %s:%d", opt->address ? opt->address : "*", opt->port);
		/* The context has handles on the loop: the caller drains it and
		 * calls http_server_free. */
		*out = srv;
		return -1;
	}
	srv->port = lws_get_vhost_listen_port(srv->vhost);
	log_info("HTTP listener on %s:%d%s", opt->address ? opt->address : "*", srv->port,
	         opt->cert_file ? " (TLS)" : "");
	*out = srv;
	return 0;
}

int http_server_port(const struct http_server *srv) { return srv->port; }

int http_server_route(struct http_server *srv, const char *method, const char *path,
                      http_handler_fn fn, void *user)
{
	if(srv->nroutes == HTTP_MAX_ROUTES)
		return -1;
	struct http_route *r = &srv->routes[srv->nroutes++];
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->fn = fn;
	r->user = user;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	if(!srv || srv->stopped)
		return;
	srv->stopped = true;
	lws_context_destroy(srv->ctx);  /* first call: starts closing handles */
}

void http_server_free(struct http_server *srv)
{
	if(!srv)
		return;
	if(!srv->stopped)
		lws_context_destroy(srv->ctx);
	lws_context_destroy(srv->ctx);  /* second call: frees, handles closed */
	free(srv);
}
