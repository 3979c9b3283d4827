/* Logging: levels, and secrets never reaching a log line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "tests/unit/check.h"

#define LOG_MODULE "test"

int main(void)
{
	char path[] = "/tmp/ensemble-test-log-XXXXXX";
	int fd = mkstemp(path);
	if(fd < 0 || !freopen(path, "w", stderr))
		return 1;
	log_add_secret("123456:ABCDEF-token");
	log_add_secret("hunter22");
	log_add_secret("ab"); /* too short to redact */
	log_set_level(LOG_INFO);
	log_info("GET https://api.telegram.org/bot123456:ABCDEF-token/getUpdates?offset=1");
	log_warn("login with hunter22 and hunter22 again");
	log_debug("a debug line that must not show");
	log_set_level(LOG_DEBUG);
	log_debug("now debug shows");
	log_error("ab stays");
	fflush(stderr);
	log_forget_secrets();

	FILE *f = fopen(path, "r");
	char text[4096] = "";
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	text[n] = '\0';
	if(f)
		fclose(f);
	unlink(path);
	close(fd);

	CHECK(strstr(text, "ABCDEF") == NULL);
	CHECK(strstr(text, "hunter22") == NULL);
	CHECK(strstr(text, "https://api.telegram.org/bot***/getUpdates?offset=1") != NULL);
	CHECK(strstr(text, "login with *** and *** again") != NULL);
	CHECK(strstr(text, "must not show") == NULL);
	CHECK(strstr(text, "debug [test] now debug shows") != NULL);
	CHECK(strstr(text, "warn  [test]") != NULL);
	CHECK(strstr(text, "error [test] ab stays") != NULL);
	return check_done();
}
