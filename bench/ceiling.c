/*
 * ceiling: the same requests as the bot makes in the end-to-end benchmark,
 * from a bare libcurl loop (nothing parsed or stored), against the same fast
 * fake server: each batch of updates fetched, then its replies sent with at
 * most PARALLEL requests out at once, as the bot sends them (Telegram one,
 * Matrix four).  The replies are the bot's own requests, recorded by the
 * fake during the bot's run (same methods, paths and bodies), so that the
 * server does the same work for both.  Its rate is the ceiling the bot's
 * rate is compared with.
 *
 * Usage: ceiling telegram|matrix BASE_URL UPDATES REQUESTS_FILE PARALLEL
 *   UPDATES updates are fetched 100 at a time; the requests of
 *   REQUESTS_FILE (lines "METHOD PATH<TAB>BODY", from the fake's /requests)
 *   are spread evenly over the batches.  Prints the elapsed seconds.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t ceiling__discard(char *p, size_t size, size_t n, void *user)
{
	(void)p;
	(void)user;
	return size * n;
}

static int ceiling__request(CURL *h, const char *method, const char *url, const char *body, struct curl_slist *headers)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	if(body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return rc == CURLE_OK && status == 200 ? 0 : -1;
}

#define CEILING_PARALLEL 4
static int ceiling__parallel = CEILING_PARALLEL;

struct ceiling_req {
	CURL *h;
	char url[512];
};

/* One recorded request: pointers into the file's text (ceiling__load's
 * *text, which the caller frees). */
struct ceiling_send {
	char *method;
	char *path;
	char *body;
};

static struct ceiling_send *ceiling__load(const char *file, char **textp, long *n)
{
	FILE *f = fopen(file, "rb");
	if(!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	char *text = *textp = malloc((size_t)size + 1);
	if(!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	text[size] = '\0';
	long lines = 0;
	for(char *p = text; *p; p++)
		lines += *p == '\n';
	struct ceiling_send *v = calloc((size_t)lines + 1, sizeof(*v));
	*n = 0;
	for(char *line = text; v && *line;) {
		char *end = strchr(line, '\n');
		if(end)
			*end = '\0';
		char *sp = strchr(line, ' '), *tab = sp ? strchr(sp, '\t') : NULL;
		if(sp && tab) {
			*sp = *tab = '\0';
			v[*n].method = line;
			v[*n].path = sp + 1;
			v[*n].body = tab + 1;
			(*n)++;
		}
		if(!end)
			break;
		line = end + 1;
	}
	return v;
}

/* Sends replies from *sent up to want, CEILING_PARALLEL at a time. */
static int ceiling__sends(CURLM *multi, const char *base, const struct ceiling_send *v, long *sent, long want,
                          struct curl_slist *headers)
{
	static struct ceiling_req reqs[CEILING_PARALLEL];
	int running = 0, rc = 0, busy = 0;
	bool used[CEILING_PARALLEL] = { 0 };
	while((*sent < want || busy) && !rc) {
		for(int i = 0; i < ceiling__parallel && *sent < want; i++) {
			if(used[i])
				continue;
			struct ceiling_req *r = &reqs[i];
			if(!r->h) {
				r->h = curl_easy_init();
				curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, ceiling__discard);
				curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
			}
			const struct ceiling_send *q = &v[(*sent)++];
			snprintf(r->url, sizeof(r->url), "%s%s", base, q->path);
			curl_easy_setopt(r->h, CURLOPT_URL, r->url);
			curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, q->body);
			curl_easy_setopt(r->h, CURLOPT_CUSTOMREQUEST, q->method);
			curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, headers);
			curl_easy_setopt(r->h, CURLOPT_PRIVATE, (void *)(intptr_t)i);
			curl_multi_add_handle(multi, r->h);
			used[i] = true;
			busy++;
		}
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		int left;
		while((msg = curl_multi_info_read(multi, &left))) {
			if(msg->msg != CURLMSG_DONE)
				continue;
			void *p;
			long status = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			if(msg->data.result != CURLE_OK || status != 200)
				rc = -1;
			curl_multi_remove_handle(multi, msg->easy_handle);
			used[(intptr_t)p] = false;
			busy--;
		}
		if(busy)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	return rc;
}

int main(int argc, char **argv)
{
	if(argc != 6)
		return 2;
	ceiling__parallel = atoi(argv[5]);
	if(ceiling__parallel < 1 || ceiling__parallel > CEILING_PARALLEL)
		return 2;
	int matrix = !strcmp(argv[1], "matrix");
	const char *base = argv[2];
	long updates = atol(argv[3]), replies = 0;
	char *text = NULL;
	struct ceiling_send *v = ceiling__load(argv[4], &text, &replies);
	if(!v || !replies)
		return 2;
	long batches = (updates + 99) / 100;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ceiling__discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	CURLM *multi = curl_multi_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Authorization: Bearer syt_bench");
	char url[512], body[512];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long sent = 0;
	int rc = 0;
	for(long b = 0; b < batches && !rc; b++) {
		if(matrix) {
			snprintf(url, sizeof(url), "%s/_matrix/client/v3/sync?timeout=0&filter=1&since=s%ld", base,
			         b * 100);
			rc = ceiling__request(h, "GET", url, NULL, headers);
		} else {
			snprintf(url, sizeof(url), "%s/bot123456:BENCH/getUpdates", base);
			snprintf(body, sizeof(body), "{\"offset\":%ld,\"limit\":100,\"timeout\":0}", 1000 + b * 100);
			rc = ceiling__request(h, "POST", url, body, headers);
		}
		if(rc)
			break;
		long want = replies * (b + 1) / batches;
		rc = ceiling__sends(multi, base, v, &sent, want, headers);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(text);
	free(v);
	return rc ? 1 : 0;
}
