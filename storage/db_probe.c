/*
 * db_probe: the database's health, as GET /healthz asks it.
 *
 * The bot's own connection keeps the file it opened at start, and its page
 * cache, whatever happens at the path since: a file removed or moved away
 * under a running bot goes unnoticed until the restart finds nothing, or
 * an empty database.  So the probe opens the path anew, as that restart
 * would, and reads the schema (page 1 and the schema's pages, through the
 * WAL), which is what every later statement needs.  Read-only, it never
 * creates the file nor writes to it; its connection, opened without
 * SQLite's mutex, belongs to the one thread that runs the probe.
 */
#include "storage/db_internal.h"

#include <sqlite3.h>

#include <stdio.h>

#include "lib/text.h"

/* How long the probe waits for a lock held elsewhere (a recovery of the
 * WAL, another process's exclusive lock) before calling it an answer
 * refused. */
#define DB_PROBE_WAIT_MS 1000

/* On PostgreSQL: a connection anew, as a restart would make, and the
 * schema's version read. */
static int db_probe__pg(const char *target, char *why, size_t whylen)
{
	struct strbuf err = STRBUF_INIT;
	struct sql *c = NULL;
	int version, rc = -1;
	if(sql_pg_connect(&c, target, &err) == 0 && db__pg_version(c, &version, &err) == 0)
		rc = 0;
	if(rc)
		text_copy(why, whylen, err.buf);
	sql_close(c);
	strbuf_release(&err);
	return rc;
}

int db_probe(const char *path, char *why, size_t whylen)
{
	if(sql_is_postgres(path))
		return db_probe__pg(path, why, whylen);
	sqlite3 *sql = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if(rc == SQLITE_OK) {
		sqlite3_busy_timeout(sql, DB_PROBE_WAIT_MS);
		/* Never the checkpoint a last connection makes as it closes:
		 * the bot's own connection is open, and the probe writes nothing. */
		sqlite3_db_config(sql, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		rc = sqlite3_prepare_v2(sql, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
	}
	if(rc == SQLITE_OK && sqlite3_step(st) != SQLITE_ROW)
		rc = sqlite3_errcode(sql);
	if(rc != SQLITE_OK)
		text_copy(why, whylen, sql ? sqlite3_errmsg(sql) : sqlite3_errstr(rc));
	sqlite3_finalize(st);
	sqlite3_close(sql);
	return rc == SQLITE_OK ? 0 : -1;
}
