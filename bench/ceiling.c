/*
 * ceiling: the same requests as the bot makes in the end-to-end benchmark,
 * from a bare libcurl loop (one connection kept alive, one request at a
 * time, nothing parsed or stored), against the same fast fake server.  Its
 * rate is the ceiling the bot's rate is compared with.
 *
 * Usage: ceiling telegram|matrix BASE_URL UPDATES REPLIES
 *   UPDATES updates are fetched 100 at a time; REPLIES sends are spread
 *   evenly over the batches.  Prints the elapsed seconds.
 */
#include <curl/curl.h>
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

static int ceiling__request(CURL *h, const char *method, const char *url, const char *body,
                            struct curl_slist *headers)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPGET, body ? 0L : 1L);
	if(body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return rc == CURLE_OK && status == 200 ? 0 : -1;
}

int main(int argc, char **argv)
{
	if(argc != 5)
		return 2;
	int matrix = !strcmp(argv[1], "matrix");
	const char *base = argv[2];
	long updates = atol(argv[3]), replies = atol(argv[4]);
	long batches = (updates + 99) / 100;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ceiling__discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Authorization: Bearer syt_bench");
	char url[512], body[512];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long sent = 0;
	int rc = 0;
	for(long b = 0; b < batches && !rc; b++) {
		if(matrix) {
			snprintf(url, sizeof(url), "%s/_matrix/client/v3/sync?timeout=0&filter=1&since=s%ld", base, b * 100);
			rc = ceiling__request(h, "GET", url, NULL, headers);
		} else {
			snprintf(url, sizeof(url), "%s/bot123456:BENCH/getUpdates", base);
			snprintf(body, sizeof(body), "{\"offset\":%ld,\"limit\":100,\"timeout\":0}", 1000 + b * 100);
			rc = ceiling__request(h, "POST", url, body, headers);
		}
		long want = replies * (b + 1) / batches;
		for(; sent < want && !rc; sent++) {
			if(matrix) {
				snprintf(url, sizeof(url), "%s/_matrix/client/v3/rooms/%%21bench%%3Atest.local/send/"
				         "m.room.message/c%ld", base, sent);
				rc = ceiling__request(h, "PUT", url,
				                      "{\"msgtype\":\"m.notice\",\"body\":\"Vote recorded on #1: yes for 1.\","
				                      "\"format\":\"org.matrix.custom.html\",\"formatted_body\":\"Vote recorded\","
				                      "\"m.mentions\":{}}", headers);
			} else {
				snprintf(url, sizeof(url), "%s/bot123456:BENCH/sendMessage", base);
				snprintf(body, sizeof(body), "{\"chat_id\":\"-100%ld\",\"text\":\"Vote recorded on #1: yes for 1."
				         "\",\"parse_mode\":\"HTML\",\"reply_parameters\":{\"message_id\":%ld}}", sent % 200, sent);
				rc = ceiling__request(h, "POST", url, body, headers);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	curl_global_cleanup();
	return rc ? 1 : 0;
}
