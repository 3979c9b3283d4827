/*
 * pg: the unit tests' PostgreSQL databases, and the target of a fresh
 * database on either engine (pg_test_target).  ENSEMBLE_TEST_PG names the
 * throwaway cluster that ctest's fixture "pg" started for the run
 * (tests/pg/cluster.sh, in the build directory); each call of
 * pg_test_fresh makes a new, empty database on it, so that no test sees
 * another's rows.  The cluster goes with the build directory's next run.
 */
#ifndef ENSEMBLE_TEST_PG_H
#define ENSEMBLE_TEST_PG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/strbuf.h"
#include "storage/sql.h"

/* The cluster's target, or NULL when this run has none. */
static inline const char *pg_test_cluster(void)
{
	const char *t = getenv("ENSEMBLE_TEST_PG");
	return t && *t ? t : NULL;
}

/* Creates a new database on the cluster and writes its target (a libpq
 * key/value string) to out; its name to name when given.  0, or -1 with
 * the reason printed. */
static inline int pg_test_fresh(char *out, size_t outlen, char *name, size_t namelen)
{
	static int count;
	const char *admin = pg_test_cluster();
	struct strbuf err = STRBUF_INIT;
	struct sql *c = NULL;
	char db[64], sql[160];
	int rc = -1;
	if(!admin) {
		fprintf(stderr, "ENSEMBLE_TEST_PG is not set: run this test through ctest (label pg)\n");
		return -1;
	}
	snprintf(db, sizeof(db), "t%ld_%d", (long)getpid(), count++);
	/* Two statements, each its own: CREATE DATABASE runs in none. */
	if(sql_pg_connect(&c, admin, &err) < 0)
		goto out;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	if(sql_exec(c, sql, &err) < 0)
		goto out;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	if(sql_exec(c, sql, &err) < 0)
		goto out;
	snprintf(out, outlen, "%s dbname=%s", admin, db);
	if(name)
		snprintf(name, namelen, "%s", db);
	rc = 0;
out:
	if(rc < 0)
		fprintf(stderr, "cannot make a test database: %s\n", err.buf);
	sql_close(c);
	strbuf_release(&err);
	return rc;
}

/* Whether this run's databases are on the cluster. */
static inline bool pg_test_on(void)
{
	return pg_test_cluster() != NULL;
}

/* The target of a fresh database for a test that runs on both engines:
 * with ENSEMBLE_TEST_PG set, a new database on that cluster; otherwise
 * the file name in dir (which the test made and removes).  0 or -1. */
static inline int pg_test_target(char *out, size_t outlen, const char *dir, const char *name)
{
	if(pg_test_on())
		return pg_test_fresh(out, outlen, NULL, 0);
	snprintf(out, outlen, "%s/%s", dir, name);
	return 0;
}

#endif
