/*
 * check: the unit tests' tiny harness.  Each CHECK prints one line on
 * failure with file and line; main() returns check_done(), which prints
 * "N passed, N failed" and is non-zero when anything failed.
 */
#ifndef ENSEMBLE_CHECK_H
#define ENSEMBLE_CHECK_H

#include <stdio.h>
#include <string.h>

static int check__passed, check__failed;

#define CHECK(cond) \
	do { \
		if(cond) \
			check__passed++; \
		else { \
			check__failed++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while(0)

#define CHECK_STR(got, want) \
	do { \
		const char *check__g = (got), *check__w = (want); \
		if(check__g && check__w && !strcmp(check__g, check__w)) \
			check__passed++; \
		else { \
			check__failed++; \
			fprintf(stderr, "%s:%d: %s\n  got:  \"%s\"\n  want: \"%s\"\n", __FILE__, __LINE__, #got, \
			        check__g ? check__g : "(null)", check__w ? check__w : "(null)"); \
		} \
	} while(0)

#define CHECK_INT(got, want) \
	do { \
		long long check__g = (long long)(got), check__w = (long long)(want); \
		if(check__g == check__w) \
			check__passed++; \
		else { \
			check__failed++; \
			fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, check__g, \
			        check__w); \
		} \
	} while(0)

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check__passed, check__failed);
	return check__failed ? 1 : 0;
}

#endif
