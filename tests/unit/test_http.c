/* The HTTP client (curl multi on libuv) against the HTTP listener
 * (libwebsockets on the same loop) and two raw TCP peers: one that never
 * answers and one that answers 429 with Retry-After.  A route served only
 * when ready waits without holding the loop, its request (headers, body)
 * intact when it is served, and a client gone meanwhile is forgotten; so
 * does a request whose handler promised its answer (http_request_later),
 * answered when the handler gives it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "adapters/http_client.h"
#include "adapters/http_server.h"
#include "tests/unit/check.h"

static uv_loop_t loop;
static struct http_client *client;
static struct http_server *server;
static int outstanding, echo_calls;
static char base[64];

struct expect {
	const char *name;
	long status;      /* -1: expect a transport error */
	const char *body; /* NULL: do not check */
	long retry_after; /* -2: do not check */
};

static void done(void *user, const struct http_result *res)
{
	const struct expect *e = user;
	if(e->status < 0) {
		if(res->status == 0 && res->error)
			check__passed++;
		else {
			check__failed++;
			fprintf(stderr, "%s: status %ld, wanted a transport error\n", e->name, res->status);
		}
	} else if(res->status != e->status) {
		check__failed++;
		fprintf(stderr, "%s: status %ld (%s), want %ld\n", e->name, res->status, res->error ? res->error : "",
		        e->status);
	} else if(e->body && strcmp(res->body, e->body)) {
		check__failed++;
		fprintf(stderr, "%s: body \"%s\", want \"%s\"\n", e->name, res->body, e->body);
	} else if(e->retry_after != -2 && res->retry_after != e->retry_after) {
		check__failed++;
		fprintf(stderr, "%s: retry-after %ld, want %ld\n", e->name, res->retry_after, e->retry_after);
	} else {
		check__passed++;
	}
	outstanding--;
}

static int echo(void *user, const struct http_request *req, struct http_response *res)
{
	(void)user;
	echo_calls++;
	size_t len;
	const char *body = http_request_body(req, &len);
	char tag[64] = "";
	if(http_request_header(req, "X-Telegram-Bot-Api-Secret-Token", tag, sizeof(tag)) < 0)
		strcpy(tag, "-");
	res->body = malloc(len + 80);
	res->body_len = (size_t)sprintf(res->body, "%s %s %s %.*s", http_request_method(req), http_request_path(req),
	                                tag, (int)len, body);
	res->content_type = "text/plain";
	return 0;
}

/* The User-Agent the client sent, as the body. */
static int agent(void *user, const struct http_request *req, struct http_response *res)
{
	(void)user;
	char ua[128] = "";
	http_request_header(req, "User-Agent", ua, sizeof(ua));
	res->body = strdup(ua);
	res->body_len = strlen(ua);
	return 0;
}

static int pong(void *user, const struct http_request *req, struct http_response *res)
{
	(void)user;
	(void)req;
	res->body = strdup("pong\n");
	res->body_len = 5;
	return 0;
}

static void start(const char *method, const char *path, const char *body, long timeout, size_t max,
                  const struct expect *e)
{
	char url[128];
	snprintf(url, sizeof(url), "%s%s", base, path);
	struct http_call call = { .method = method,
		                  .url = url,
		                  .body = body,
		                  .body_len = body ? strlen(body) : 0,
		                  .timeout_ms = timeout,
		                  .max_response = max };
	outstanding++;
	if(http_client_start(client, &call, done, (void *)e) < 0) {
		outstanding--;
		check__failed++;
	}
}

/* Raw TCP peers. */
static uv_tcp_t silent, canned;
static uv_tcp_t conns[4];
static int nconns;
static const char canned_reply[] =
	"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow";

static void on_write(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void on_conn(uv_stream_t *srv, int status)
{
	if(status < 0 || nconns == 4)
		return;
	uv_tcp_t *c = &conns[nconns++];
	uv_tcp_init(&loop, c);
	if(uv_accept(srv, (uv_stream_t *)c))
		return;
	if(srv == (uv_stream_t *)&canned) {
		uv_write_t *w = malloc(sizeof(*w));
		uv_buf_t b = uv_buf_init((char *)canned_reply, sizeof(canned_reply) - 1);
		uv_write(w, (uv_stream_t *)c, &b, 1, on_write);
	}
}

static int listen_tcp(uv_tcp_t *t)
{
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_init(&loop, t);
	uv_tcp_bind(t, (struct sockaddr *)&a, 0);
	uv_listen((uv_stream_t *)t, 8, on_conn);
	struct sockaddr_in got;
	int len = sizeof(got);
	uv_tcp_getsockname(t, (struct sockaddr *)&got, &len);
	return ntohs(got.sin_port);
}

static void run_until_done(void)
{
	while(outstanding > 0 && uv_run(&loop, UV_RUN_ONCE))
		;
}

static void on_elapsed(uv_timer_t *t)
{
	uv_timer_stop(t);
}

/* Runs the loop for ms milliseconds. */
static void run_for(uint64_t ms)
{
	uv_timer_t t;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_elapsed, ms, 0);
	while(uv_is_active((uv_handle_t *)&t) && uv_run(&loop, UV_RUN_ONCE))
		;
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* The readiness of the gated route (a database a thread holds, in the
 * bot). */
static bool gate_open;
static bool gate(void *user)
{
	(void)user;
	return gate_open;
}

/* A request to a route that is not ready waits, the loop serving others
 * meanwhile; once ready, it is served with its headers and body. */
static void test_gated(void)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/gated", base);
	static const struct expect later = { "gated, served once ready", 200, "POST /gated later {\"b\":2}", -2 };
	static const struct expect ponged = { "GET route, while one waits", 200, "pong\n", -1 };
	static const struct expect gone = { "gated, its client gone", -1, NULL, -2 };
	static const char *const hdrs[] = { "X-Telegram-Bot-Api-Secret-Token: later", NULL };
	struct http_call call = {
		.method = "POST", .url = url, .body = "{\"b\":2}", .body_len = 7, .timeout_ms = 5000, .headers = hdrs
	};
	gate_open = false;
	int calls = echo_calls;
	outstanding++;
	CHECK(http_client_start(client, &call, done, (void *)&later) > 0);
	start("GET", "/ping", NULL, 5000, 0, &ponged);
	run_for(150);
	CHECK_INT(outstanding, 1); /* the ping answered, the gated one waits */
	CHECK_INT(echo_calls, calls);
	gate_open = true;
	run_until_done();
	CHECK_INT(echo_calls, calls + 1);

	/* Its client gives up while it waits: forgotten, nothing answered. */
	gate_open = false;
	call.timeout_ms = 100;
	outstanding++;
	CHECK(http_client_start(client, &call, done, (void *)&gone) > 0);
	run_until_done();
	run_for(50);
	gate_open = true;
	run_for(50);
	CHECK_INT(echo_calls, calls + 1);
	call.timeout_ms = 5000;
	outstanding++;
	CHECK(http_client_start(client, &call, done, (void *)&later) > 0);
	run_until_done();
	CHECK_INT(echo_calls, calls + 2);

	/* A route that stays unready: after wait_max_ms, 503 with Retry-After,
	 * the handler never called. */
	static const struct expect busy = { "gated, never ready", 503, "busy, try again\n", 5 };
	gate_open = false;
	uint64_t t0 = uv_now(&loop);
	outstanding++;
	CHECK(http_client_start(client, &call, done, (void *)&busy) > 0);
	run_until_done();
	uint64_t waited = uv_now(&loop) - t0;
	CHECK(waited >= 950 && waited < 3000);
	CHECK_INT(echo_calls, calls + 2);
}

/* A handler that promises its answer and gives it from a timer, as the
 * Telegram webhook does once its update is committed on a thread. */
struct promised {
	uv_timer_t timer;
	struct http_later *promise;
	char body[64];
};
static int promised_open;

static void promised_give(uv_timer_t *t)
{
	struct promised *p = t->data;
	struct http_response res = { .status = 202, .body = strdup(p->body) };
	res.body_len = strlen(res.body);
	CHECK_INT(http_response_header(&res, "X-Promised", "kept"), 0);
	http_later_answer(p->promise, &res);
	CHECK(res.body == NULL); /* taken */
	uv_close((uv_handle_t *)&p->timer, (uv_close_cb)free);
	promised_open--;
}

static int promise(void *user, const struct http_request *req, struct http_response *res)
{
	(void)res;
	struct promised *p = calloc(1, sizeof(*p));
	p->promise = http_request_later(req);
	CHECK(p->promise != NULL);
	CHECK(http_request_later(req) == NULL); /* one promise a request */
	snprintf(p->body, sizeof(p->body), "later %s", http_request_path(req));
	uv_timer_init(&loop, &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, promised_give, (uint64_t)(uintptr_t)user, 0);
	promised_open++;
	return 0;
}

/* A promise broken by its handler's failure: 500 now, and the promise,
 * void, still the handler's to free. */
static struct http_later *broken;
static int promise_fails(void *user, const struct http_request *req, struct http_response *res)
{
	(void)res;
	(void)user;
	broken = http_request_later(req);
	CHECK(broken != NULL);
	return -1;
}

/* A promise withdrawn: the handler answers now, through res; and one kept
 * at once, within the call.  The copy of the request keeps the headers
 * asked for, and only those. */
static int promise_withdrawn(void *user, const struct http_request *req, struct http_response *res)
{
	(void)user;
	struct http_request *copy = http_request_copy(req, (const char *const[]){ "User-Agent", "X-None", NULL });
	char ua[128] = "", host[128];
	CHECK(copy != NULL);
	CHECK(http_request_header(copy, "user-agent", ua, sizeof(ua)) > 0);
	CHECK(http_request_header(copy, "Host", host, sizeof(host)) < 0); /* not asked for */
	CHECK(http_request_header(copy, "X-None", host, sizeof(host)) < 0);
	CHECK(!strcmp(http_request_path(copy), http_request_path(req)));
	struct http_later *l = http_request_later(req);
	CHECK(l != NULL);
	if(!strcmp(http_request_path(req), "/withdrawn")) {
		http_later_void(l);
		res->body = strdup(ua);
		res->body_len = strlen(ua);
	} else {
		struct http_response now = { .status = 201, .body = strdup("at once") };
		now.body_len = strlen(now.body);
		http_later_answer(l, &now);
	}
	http_request_free(copy);
	return 0;
}

/* A promised answer comes when given, the loop serving others meanwhile;
 * one given after its client left goes nowhere. */
static void test_promised(void)
{
	static const struct expect kept = { "promised, given 300 ms later", 202, "later /later", -2 };
	static const struct expect ponged = { "GET route, while one is promised", 200, "pong\n", -1 };
	static const struct expect failed = { "promised, its handler failed", 500, NULL, -2 };
	static const struct expect gone = { "promised, its client gone", -1, NULL, -2 };
	static const struct expect slow = { "promised, given after lws's own 5 s", 202, "later /later-slow", -2 };
	uint64_t t0 = uv_now(&loop);
	/* A promise longer than the few seconds lws gives a request by itself
	 * (a webhook's store waiting on a lock): its client is the judge. */
	start("GET", "/later-slow", NULL, 15000, 0, &slow);
	start("GET", "/later", NULL, 5000, 0, &kept);
	run_for(100);
	start("GET", "/ping", NULL, 5000, 0, &ponged);
	run_for(100);
	CHECK_INT(outstanding, 2); /* the ping answered, the promises not yet */
	while(outstanding > 1)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(uv_now(&loop) - t0 >= 290);
	CHECK_INT(promised_open, 1);
	start("GET", "/fails", NULL, 5000, 0, &failed);
	run_until_done();
	http_later_void(broken);
	static const struct expect withdrawn = { "promised, then withdrawn", 200, "Ensemble/" ENSEMBLE_VERSION, -2 };
	static const struct expect at_once = { "promised and kept at once", 201, "at once", -2 };
	start("GET", "/withdrawn", NULL, 5000, 0, &withdrawn);
	start("GET", "/at-once", NULL, 5000, 0, &at_once);
	run_until_done();
	/* Its client gives up before the answer is given: dropped. */
	start("GET", "/later", NULL, 100, 0, &gone);
	run_until_done();
	CHECK_INT(promised_open, 1);
	run_for(300);
	CHECK_INT(promised_open, 0);
	/* The server goes on. */
	start("GET", "/ping", NULL, 5000, 0, &ponged);
	while(outstanding > 1)
		uv_run(&loop, UV_RUN_ONCE);
	run_until_done(); /* the slow promise */
	CHECK(uv_now(&loop) - t0 >= 6400);
	CHECK_INT(promised_open, 0);
}

int main(void)
{
	uv_loop_init(&loop);
	struct http_server_options opt = { .address = "127.0.0.1", .port = 0, .max_body = 1024, .wait_max_ms = 1000 };
	CHECK_INT(http_server_new(&server, &loop, &opt), 0);
	CHECK(http_server_port(server) > 0);
	CHECK_INT(http_server_route(server, "POST", "/echo", echo, NULL), 0);
	CHECK_INT(http_server_route(server, "GET", "/ping", pong, NULL), 0);
	CHECK_INT(http_server_route(server, "GET", "/ua", agent, NULL), 0);
	CHECK_INT(http_server_route_when(server, "POST", "/gated", echo, NULL, gate), 0);
	CHECK_INT(http_server_route(server, "GET", "/later", promise, (void *)(uintptr_t)300), 0);
	CHECK_INT(http_server_route(server, "GET", "/later-slow", promise, (void *)(uintptr_t)6500), 0);
	CHECK_INT(http_server_route(server, "GET", "/fails", promise_fails, NULL), 0);
	CHECK_INT(http_server_route(server, "GET", "/withdrawn", promise_withdrawn, NULL), 0);
	CHECK_INT(http_server_route(server, "GET", "/at-once", promise_withdrawn, NULL), 0);
	CHECK_INT(http_client_new(&client, &loop), 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", http_server_port(server));

	static const struct expect ponged = { "GET route", 200, "pong\n", -1 };
	static const struct expect echoed = { "echo", 200, "POST /echo - {\"a\":1}", -2 };
	static const struct expect notfound = { "404", 404, NULL, -2 };
	static const struct expect wrongmethod = { "405", 405, NULL, -2 };
	static const struct expect toobig = { "413", 413, NULL, -2 };
	static const struct expect refused = { "closed port", -1, NULL, -2 };
	static const struct expect timeout = { "timeout", -1, NULL, -2 };
	static const struct expect capped = { "response cap", -1, NULL, -2 };
	static const struct expect limited = { "429", 429, "slow", 3 };

	start("GET", "/ping", NULL, 5000, 0, &ponged);
	start("POST", "/echo", "{\"a\":1}", 5000, 0, &echoed);
	start("GET", "/nope", NULL, 5000, 0, &notfound);
	start("GET", "/echo", NULL, 5000, 0, &wrongmethod);
	char big[2048];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	start("POST", "/echo", big, 5000, 0, &toobig);
	start("POST", "/echo", "0123456789abcdefghij", 5000, 10, &capped);
	for(int i = 0; i < 20; i++)
		start("GET", "/ping", NULL, 5000, 0, &ponged);
	run_until_done();
	CHECK_INT(echo_calls, 2); /* not for the 413 */

	/* The client names itself, on a new handle and on one used before. */
	static const struct expect named = { "user agent", 200, "Ensemble/" ENSEMBLE_VERSION, -2 };
	for(int i = 0; i < 2; i++) {
		start("GET", "/ua", NULL, 5000, 0, &named);
		run_until_done();
	}

	/* A header the handler reads (the Telegram webhook's secret). */
	{
		char url[128];
		snprintf(url, sizeof(url), "%s/echo", base);
		static const struct expect with_header = { "header", 200, "POST /echo s3cret {}", -2 };
		static const char *const hdrs[] = { "X-Telegram-Bot-Api-Secret-Token: s3cret", NULL };
		struct http_call call = {
			.method = "POST", .url = url, .body = "{}", .body_len = 2, .timeout_ms = 5000, .headers = hdrs
		};
		outstanding++;
		CHECK(http_client_start(client, &call, done, (void *)&with_header) > 0);
		run_until_done();
	}

	test_gated();
	test_promised();

	/* Transport failures: a closed port, a peer that never answers. */
	int silent_port = listen_tcp(&silent);
	int canned_port = listen_tcp(&canned);
	uv_tcp_t probe;
	int closed_port = listen_tcp(&probe);
	uv_close((uv_handle_t *)&probe, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", closed_port);
	start("GET", "/", NULL, 2000, 0, &refused);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", silent_port);
	uint64_t t0 = uv_now(&loop);
	start("GET", "/", NULL, 300, 0, &timeout);
	run_until_done();
	uint64_t waited = uv_now(&loop) - t0;
	CHECK(waited >= 250 && waited < 3000);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", canned_port);
	start("GET", "/", NULL, 2000, 0, &limited);
	run_until_done();

	/* A stop while a request waits for its route: its connection closes,
	 * the request forgotten (nothing left for a sanitizer to find).  A
	 * promise made before the stop is still kept (a webhook's update
	 * committed while the bot drains). */
	static const struct expect dropped = { "gated, the server stopped", -1, NULL, -2 };
	static const struct expect kept = { "promised, given after the stop", 202, "later /later", -2 };
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", http_server_port(server));
	gate_open = false;
	start("POST", "/gated", "{}", 5000, 0, &dropped);
	start("GET", "/later", NULL, 5000, 0, &kept);
	run_for(50);
	uint64_t stopped = uv_now(&loop);
	http_server_stop(server);
	/* The loop goes on after a stop (the bot drains its replies): the
	 * descriptors opened now stay their owners'.  libwebsockets 4.1 closes
	 * one of its own twice when its context is destroyed, so a context
	 * destroyed at the stop closed one of these under us. */
	int held[16];
	for(int i = 0; i < 16; i++)
		held[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	run_until_done();
	CHECK(uv_now(&loop) - stopped < 2000); /* closed, not left to the client's 5 s */
	for(int i = 0; i < 16; i++) {
		CHECK(held[i] >= 0 && fcntl(held[i], F_GETFD) != -1);
		close(held[i]);
	}
	/* A new connection is refused at once (a load balancer tries another
	 * instance); one kept alive is answered 503. */
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(server)) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof(to)) == -1 && errno == ECONNREFUSED);
	close(fd);
	static const struct expect stopping = { "kept alive, the server stopped", 503, "stopping\n", 5 };
	start("GET", "/ping", NULL, 5000, 0, &stopping);
	run_until_done();

	/* Shutdown in the documented order; the loop must end with nothing
	 * open. */
	http_client_close(client);
	http_server_close(server);
	uv_close((uv_handle_t *)&silent, NULL);
	uv_close((uv_handle_t *)&canned, NULL);
	for(int i = 0; i < nconns; i++)
		uv_close((uv_handle_t *)&conns[i], NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	http_server_free(server);
	CHECK_INT(uv_loop_close(&loop), 0);
	return check_done();
}
