/*
 * floor: the storage work of a benchmark run alone.  Ensemble run with
 * ENSEMBLE_SQL_TRACE=FILE records every statement it runs (storage/db.c):
 * its SQL text as prepared, and the same text with its parameters' values
 * written in.  This program replays exactly those statements, in the same
 * order and so in the same transactions, into a new database: each distinct
 * text prepared once, on first use, as the bot prepares its statements; its
 * values bound; stepped to its end; reset.  Nothing is parsed, rendered or
 * sent, so its time is the floor under the bot's.
 *
 * Usage: floor TRACE_FILE DATABASE
 *   DATABASE must not exist.  Prints one line: the statements replayed, the
 *   distinct texts, the CPU seconds (user and system) and the wall seconds
 *   of the replay alone (reading and parsing the trace are not counted).
 *
 * A statement the bot stopped stepping early is stepped to its end here,
 * and columns are not read: both are small, and the first makes the floor
 * higher, not lower.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define FLOOR_MAX_PARAMS 32
#define FLOOR_SLOTS 4096 /* a power of two above the number of distinct texts */

struct floor_value {
	int index; /* the parameter's index, from 1 */
	int type;  /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT or SQLITE_BLOB */
	sqlite3_int64 i;
	double d;
	char *text; /* owned; text or blob bytes */
	int len;
};

/* One statement as it ran: which text, and its parameters' values. */
struct floor_run {
	int text; /* index into floor_texts */
	int nvalues;
	struct floor_value *values;
};

static char *floor_texts[FLOOR_SLOTS];
static sqlite3_stmt *floor_stmts[FLOOR_SLOTS];
static int floor_ntexts;
static int floor_slot_text[FLOOR_SLOTS]; /* hash slot -> text index + 1 */

static int floor__text_index(const char *sql, size_t len)
{
	uint32_t h = 2166136261u;
	for(size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)sql[i]) * 16777619u;
	for(uint32_t s = h & (FLOOR_SLOTS - 1);; s = (s + 1) & (FLOOR_SLOTS - 1)) {
		int t = floor_slot_text[s] - 1;
		if(t < 0) {
			if(floor_ntexts >= FLOOR_SLOTS / 2)
				return -1;
			floor_texts[floor_ntexts] = strndup(sql, len);
			floor_slot_text[s] = floor_ntexts + 1;
			return floor_ntexts++;
		}
		if(strlen(floor_texts[t]) == len && !memcmp(floor_texts[t], sql, len))
			return t;
	}
}

/* Skips a quoted token (string, identifier) starting at *p, the same in
 * both texts; returns its length. */
static size_t floor__quoted(const char *p)
{
	char close = *p == '[' ? ']' : *p;
	size_t n = 1;
	for(;;) {
		if(!p[n])
			return n;
		if(p[n] == close) {
			if(close != ']' && p[n + 1] == close) {
				n += 2;
				continue;
			}
			return n + 1;
		}
		n++;
	}
}

/* Reads the literal SQLite wrote for a value at *e into v; returns its
 * length, 0 when not understood. */
static size_t floor__literal(const char *e, struct floor_value *v)
{
	char *end;
	if(!strncmp(e, "NULL", 4)) {
		v->type = SQLITE_NULL;
		return 4;
	}
	if(*e == '\'' || ((*e == 'x' || *e == 'X') && e[1] == '\'')) {
		int blob = *e != '\'';
		size_t n = floor__quoted(e + blob);
		v->text = malloc(n);
		v->len = 0;
		for(size_t k = 1 + blob; k < n + blob - 1; k++) {
			if(blob) {
				unsigned byte;
				sscanf(e + k, "%2x", &byte);
				v->text[v->len++] = (char)byte;
				k++;
			} else {
				v->text[v->len++] = e[k];
				k += e[k] == '\'';
			}
		}
		v->type = blob ? SQLITE_BLOB : SQLITE_TEXT;
		return n + blob;
	}
	size_t n = strspn(e, "+-0123456789.eE");
	if(!n)
		return 0;
	if(memchr(e, '.', n) || memchr(e, 'e', n) || memchr(e, 'E', n)) {
		v->type = SQLITE_FLOAT;
		v->d = strtod(e, &end);
	} else {
		v->type = SQLITE_INTEGER;
		v->i = strtoll(e, &end, 10);
	}
	return (size_t)(end - e);
}

/* Walks the prepared text and the expanded one together: where the first
 * has a parameter, the second has its value.  Fills run's values. */
static int floor__params(const char *u, size_t ulen, const char *e, struct floor_run *run)
{
	struct floor_value vals[FLOOR_MAX_PARAMS];
	char names[FLOOR_MAX_PARAMS][64] = { { 0 } };
	int n = 0, max = 0;
	for(size_t i = 0; i < ulen;) {
		if(u[i] == '\'' || u[i] == '"' || u[i] == '`' || u[i] == '[') {
			size_t q = floor__quoted(u + i);
			i += q;
			e += q;
			continue;
		}
		int named = (u[i] == ':' || u[i] == '@' || u[i] == '$') && i + 1 < ulen &&
		            (u[i + 1] == '_' || ((u[i + 1] | 32) >= 'a' && (u[i + 1] | 32) <= 'z'));
		if(u[i] != '?' && !named) {
			i++;
			e++;
			continue;
		}
		if(n == FLOOR_MAX_PARAMS)
			return -1;
		size_t t = 1 + strspn(u + i + 1, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		int index = 0;
		if(named) {
			for(int k = 0; k < n && !index; k++)
				if(strlen(names[k]) == t && !strncmp(names[k], u + i, t))
					index = vals[k].index;
			if(!index)
				index = ++max;
			snprintf(names[n], sizeof(names[n]), "%.*s", (int)t, u + i);
		} else {
			index = t > 1 ? atoi(u + i + 1) : max + 1;
			max = index > max ? index : max;
		}
		memset(&vals[n], 0, sizeof(vals[n]));
		vals[n].index = index;
		size_t lit = floor__literal(e, &vals[n]);
		if(!lit)
			return -1;
		e += lit;
		i += t;
		n++;
	}
	run->nvalues = n;
	run->values = n ? malloc(sizeof(vals[0]) * (size_t)n) : NULL;
	if(n)
		memcpy(run->values, vals, sizeof(vals[0]) * (size_t)n);
	return 0;
}

/* Reads the trace: records "ULEN ELEN\n" then the two texts then "\n". */
static struct floor_run *floor__load(const char *file, long *count)
{
	FILE *f = fopen(file, "rb");
	if(!f)
		return NULL;
	struct floor_run *runs = NULL;
	long n = 0, alloc = 0;
	size_t ulen, elen;
	while(fscanf(f, "%zu %zu", &ulen, &elen) == 2 && fgetc(f) == '\n') {
		char *u = malloc(ulen + elen + 2);
		if(!u || fread(u, 1, ulen + elen + 1, f) != ulen + elen + 1)
			break;
		u[ulen + elen] = '\0';
		if(n == alloc) {
			alloc = alloc ? alloc * 2 : 4096;
			runs = realloc(runs, sizeof(*runs) * (size_t)alloc);
		}
		runs[n].text = floor__text_index(u, ulen);
		if(runs[n].text < 0 || floor__params(u, ulen, u + ulen, &runs[n])) {
			fprintf(stderr, "floor: cannot read statement %ld: %.*s\n", n + 1, (int)ulen, u);
			exit(1);
		}
		free(u);
		n++;
	}
	fclose(f);
	*count = n;
	return runs;
}

static int floor__replay(sqlite3 *db, const struct floor_run *r)
{
	sqlite3_stmt **st = &floor_stmts[r->text];
	if(!*st && sqlite3_prepare_v2(db, floor_texts[r->text], -1, st, NULL) != SQLITE_OK)
		return -1;
	for(int k = 0; k < r->nvalues; k++) {
		const struct floor_value *v = &r->values[k];
		if(v->type == SQLITE_INTEGER)
			sqlite3_bind_int64(*st, v->index, v->i);
		else if(v->type == SQLITE_FLOAT)
			sqlite3_bind_double(*st, v->index, v->d);
		else if(v->type == SQLITE_TEXT)
			sqlite3_bind_text(*st, v->index, v->text, v->len, SQLITE_STATIC);
		else if(v->type == SQLITE_BLOB)
			sqlite3_bind_blob(*st, v->index, v->text, v->len, SQLITE_STATIC);
		else
			sqlite3_bind_null(*st, v->index);
	}
	int rc;
	while((rc = sqlite3_step(*st)) == SQLITE_ROW)
		;
	sqlite3_reset(*st);
	sqlite3_clear_bindings(*st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static double floor__cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double floor__wall(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = 0;
	sqlite3 *db = NULL;
	if(argc != 3)
		return 2;
	struct floor_run *runs = floor__load(argv[1], &n);
	if(!runs)
		return 2;
	/* As storage/db.c opens its database. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if(sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL))
		return 2;
	/* A statement that failed for the bot (a constraint it relies on)
	 * fails here too: they are counted, and the first few shown. */
	long failed = 0;
	double cpu = floor__cpu(), wall = floor__wall();
	for(long k = 0; k < n; k++) {
		if(floor__replay(db, &runs[k]) && failed++ < 3)
			fprintf(stderr, "floor: statement %ld failed: %s: %s\n", k + 1, sqlite3_errmsg(db),
			        floor_texts[runs[k].text]);
	}
	cpu = floor__cpu() - cpu;
	wall = floor__wall() - wall;
	for(int t = 0; t < floor_ntexts; t++)
		sqlite3_finalize(floor_stmts[t]);
	sqlite3_close(db);
	printf("%ld statements, %d distinct, %ld failed, cpu %.3f s, wall %.3f s\n", n, floor_ntexts, failed, cpu,
	       wall);
	return 0;
}
