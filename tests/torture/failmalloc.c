/*
 * failmalloc: an LD_PRELOAD library that makes the FAIL_AT-th allocation
 * (malloc, calloc or realloc) return NULL, as curl's torture tests do, to
 * check that every allocation failure is survived.  With FAIL_REPORT set it
 * prints how many allocations the run made.  For the release build only
 * (the sanitizers bring their own allocator).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long count, fail_at = -1;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
/* dlsym itself allocates: serve it from a static arena. */
static char arena[65536];
static size_t arena_used;

static void *arena_alloc(size_t n)
{
	void *p = arena + arena_used;
	arena_used += (n + 15) & ~(size_t)15;
	return arena_used <= sizeof(arena) ? p : NULL;
}

static void setup(void)
{
	static int busy;
	if(busy)
		return;
	busy = 1;
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_free = dlsym(RTLD_NEXT, "free");
	const char *e = getenv("FAIL_AT");
	fail_at = e ? atol(e) : -1;
}

static int fail_now(void)
{
	count++;
	return fail_at > 0 && count == fail_at;
}

void *malloc(size_t n)
{
	if(!real_malloc)
		setup();
	if(!real_malloc)
		return arena_alloc(n);
	return fail_now() ? NULL : real_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if(!real_calloc) {
		void *p = arena_alloc(a * b);
		if(p)
			memset(p, 0, a * b);
		return p;
	}
	return fail_now() ? NULL : real_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if(!real_realloc)
		setup();
	return fail_now() ? NULL : real_realloc(p, n);
}

void free(void *p)
{
	if((char *)p >= arena && (char *)p < arena + sizeof(arena))
		return;
	if(!real_free)
		setup();
	real_free(p);
}

__attribute__((destructor)) static void report(void)
{
	if(getenv("FAIL_REPORT"))
		fprintf(stderr, "allocations: %ld\n", count);
}
