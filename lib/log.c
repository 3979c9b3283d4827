#include "lib/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_SECRETS 16

static enum log_level log__level = LOG_INFO;
static char *log__secrets[LOG_MAX_SECRETS];
static int log__nsecrets;

static const char *const log__names[] = { "error", "warn ", "info ", "debug" };
/* sd-daemon(3)'s prefixes, SD_ERR, SD_WARNING, SD_INFO and SD_DEBUG: the
 * journal takes a line's priority from them. */
static const char *const log__priorities[] = { "<3>", "<4>", "<6>", "<7>" };

void log_set_level(enum log_level level)
{
	log__level = level;
}
enum log_level log_get_level(void)
{
	return log__level;
}

void log_add_secret(const char *secret)
{
	if(!secret || strlen(secret) < 4 || log__nsecrets == LOG_MAX_SECRETS)
		return;
	for(int i = 0; i < log__nsecrets; i++)
		if(!strcmp(log__secrets[i], secret))
			return;
	char *copy = strdup(secret);
	if(copy)
		log__secrets[log__nsecrets++] = copy;
}

void log_forget_secrets(void)
{
	for(int i = 0; i < log__nsecrets; i++)
		free(log__secrets[i]);
	log__nsecrets = 0;
}

/* Replaces each secret in line, in place; "***" is never longer than a
 * registered secret, so the line only shrinks. */
static void log__redact(char *line)
{
	for(int i = 0; i < log__nsecrets; i++) {
		size_t slen = strlen(log__secrets[i]);
		char *p;
		while((p = strstr(line, log__secrets[i])) != NULL) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + slen, strlen(p + slen) + 1);
		}
	}
}

/* True when standard error is systemd's journal: JOURNAL_STREAM, which
 * systemd sets for a service whose output goes there, names its device and
 * inode ("DEV:INODE", systemd.exec(5)).  A process started from such a
 * service with its standard error elsewhere keeps the variable, hence the
 * comparison.  Looked at once. */
static bool log__journal(void)
{
	static int journal = -1;
	if(journal >= 0)
		return journal;
	const char *stream = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;
	journal = stream && sscanf(stream, "%llu:%llu%n", &dev, &ino, &n) == 2 && !stream[n] &&
	          !fstat(STDERR_FILENO, &st) && st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
	return journal;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	if(level > log__level)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log__redact(line);

	/* The journal has its own time for each line, and shows the priority. */
	if(log__journal()) {
		fprintf(stderr, "%s%s [%s] %s\n", log__priorities[level], log__names[level], module, line);
		return;
	}
	/* Wall-clock time even under a simulated clock: logs are for operators. */
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s [%s] %s\n", stamp, log__names[level], module, line);
}
