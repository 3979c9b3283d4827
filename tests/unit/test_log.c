/* Logging: levels, secrets never reaching a log line, and the journal's
 * format when standard error is the journal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "tests/unit/check.h"

#define LOG_MODULE "test"

/* Reads the whole file at path into text (size bytes), NUL-terminated. */
static void slurp(const char *path, char *text, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, size - 1, f) : 0;
	text[n] = '\0';
	if(f)
		fclose(f);
}

/* Logs a line of each level in a child whose standard error is a file and
 * whose JOURNAL_STREAM is stream: the file's own "DEV:INODE" when stream
 * is NULL, nothing when it is "".  The child decides how to log at its
 * first line, as the daemon does.  Leaves what it wrote in text. */
static void log_in_child(const char *stream, char *text, size_t size)
{
	char path[] = "/tmp/ensemble-test-journal-XXXXXX";
	int fd = mkstemp(path);
	pid_t pid = fork();
	if(pid == 0) {
		struct stat st;
		char own[64];
		if(dup2(fd, STDERR_FILENO) < 0 || fstat(STDERR_FILENO, &st))
			_exit(1);
		snprintf(own, sizeof(own), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		if(stream && !*stream)
			unsetenv("JOURNAL_STREAM");
		else
			setenv("JOURNAL_STREAM", stream ? stream : own, 1);
		log_set_level(LOG_DEBUG);
		log_add_secret("hunter22");
		log_error("an error, hunter22");
		log_warn("a warning");
		log_info("some news");
		log_debug("a detail");
		fflush(stderr);
		_exit(0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	slurp(path, text, size);
	unlink(path);
	close(fd);
}

/* Standard error is the journal: a priority prefix, no time of its own. */
static void test_journal(void)
{
	char text[2048];
	log_in_child(NULL, text, sizeof(text));
	CHECK_STR(text, "<3>error [test] an error, ***\n"
	                "<4>warn  [test] a warning\n"
	                "<6>info  [test] some news\n"
	                "<7>debug [test] a detail\n");
}

/* JOURNAL_STREAM names another file (a process started from a service,
 * its standard error elsewhere), is malformed, or is absent: the time and
 * the level, as ever. */
static void test_not_journal(void)
{
	static const char *const streams[] = { "8:123456789", "garbage", "", "1:2:3" };
	for(size_t i = 0; i < sizeof(streams) / sizeof(*streams); i++) {
		char text[2048];
		log_in_child(streams[i], text, sizeof(text));
		CHECK(strchr(text, '<') == NULL);
		/* 2026-11-28T18:22:28Z error [test] an error, *** */
		int y, mo, d, h, mi, sec, n = 0;
		CHECK(sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ %n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && n == 21);
		CHECK(strncmp(text + n, "error [test] an error, ***\n", 27) == 0);
		CHECK(strstr(text, "Z warn  [test] a warning\n") != NULL);
		CHECK(strstr(text, "Z info  [test] some news\n") != NULL);
		CHECK(strstr(text, "Z debug [test] a detail\n") != NULL);
	}
}

int main(void)
{
	/* In children, before this process logs (and so decides) anything. */
	test_journal();
	test_not_journal();

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
