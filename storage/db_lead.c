/*
 * db_lead: which of the instances sharing a PostgreSQL database leads
 * (storage/db.h, "engines and leadership").
 *
 * Leadership is PostgreSQL's session-level advisory lock DB_LEAD_KEY,
 * taken with pg_try_advisory_lock on the very connection that writes.
 * The server holds it for as long as that session lives, and releases it
 * when the session ends, an instance killed with SIGKILL included.  So a
 * write can only commit while the lock is held: the session that commits
 * is the session that holds it.  When the session ends under a running
 * instance (a restarted server, a cut network, pg_terminate_backend), the
 * engine connects again (sql_pg.c) and, before anything else runs on the
 * new session, db_lead__hook takes the lock again.  When another instance
 * took it meanwhile, the hook refuses the session: every statement on it
 * fails from then on, so that nothing is written, and the owner's lost
 * function is called at the next way in from the loop (db_begin,
 * db_lead_try), which is where db__lead_check runs.
 *
 * A standby holds a connection of its own and asks for the lock about
 * every second (db_lead_try); it migrates nothing and writes nothing until
 * it leads.  On SQLite an instance always leads.
 */
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

#define LOG_MODULE "db"

/* The advisory lock's key: "ensemble" read as a big-endian 64-bit number,
 * so that another program's locks in the same database are unlikely to
 * collide with it. */
#define DB_LEAD_KEY INT64_C(0x656e73656d626c65)

int db_engine(const struct db *db)
{
	return db->sql->ops->engine;
}

bool db_round_trips(const struct db *db)
{
	return db__on_pg(db);
}

bool db_leads(const struct db *db)
{
	return db->leads;
}

void db_set_lost_fn(struct db *db, void (*fn)(void *user), void *user)
{
	db->lost_fn = fn;
	db->lost_user = user;
}

/* Asks for the lock on c: *taken is 1 when this session holds it now, 0
 * when another does.  0, or -1 with sql_errmsg(c) set. */
static int db_lead__take(struct sql *c, int *taken)
{
	struct sql_stmt *st = NULL;
	int rc = -1;
	if(sql_prepare(c, "SELECT pg_try_advisory_lock(?1)", &st) == 0) {
		sql_bind_int64(st, 1, DB_LEAD_KEY);
		if(sql_step(st) == SQL_ROW) {
			*taken = (int)sql_column_int64(st, 0);
			rc = 0;
		}
	}
	sql_finalize(st);
	return rc;
}

/* Runs on each new session of the connection, before anything else: a
 * leader takes the lock again, or refuses the session (-1) when another
 * instance holds it, or when it cannot tell. */
static int db_lead__hook(struct sql *c, void *user)
{
	struct db *db = user;
	int taken = 0;
	if(!db->leads)
		return 0;
	if(db_lead__take(c, &taken) == 0 && taken) {
		log_info("took the leadership again on the new session (%s)", db->name);
		return 0;
	}
	log_error("lost the leadership with the connection to %s: %s", db->name,
	          taken ? "" : "another instance leads now");
	db->leads = false;
	db->lead_lost = true;
	return -1;
}

void db__lead_report(struct db *db)
{
	/* A run's thread leaves it to the loop's: its settle reports. */
	if(db->lead_lost && !db->lost_reported && !db__async_here(db)) {
		db->lost_reported = true;
		if(db->lost_fn)
			db->lost_fn(db->lost_user);
	}
}

int db__lead_check(struct db *db)
{
	if(db->leads)
		return 0;
	db__lead_report(db);
	log_error("cannot write to %s: this instance does not lead", db->name);
	return -1;
}

/* Gives the lock back (when the migration that follows taking it failed). */
static void db_lead__release(struct db *db)
{
	struct sql_stmt *st = NULL;
	if(sql_prepare(db->sql, "SELECT pg_advisory_unlock(?1)", &st) == 0) {
		sql_bind_int64(st, 1, DB_LEAD_KEY);
		sql_step(st);
	}
	sql_finalize(st);
}

/* Tries the lock and, when taken, migrates: 1 leading, 0 standing by, -1
 * (with a sentence appended to err) when the database cannot be reached
 * or migrated. */
static int db_lead__try(struct db *db, struct strbuf *err)
{
	int taken;
	if(db_lead__take(db->sql, &taken)) {
		strbuf_addf(err, "cannot ask %s for the leadership: %s", db->name, sql_errmsg(db->sql));
		return -1;
	}
	if(!taken)
		return 0;
	if(db__pg_migrate(db->sql, db->name, err) || db__outbox_apply_rows(db, err)) {
		db_lead__release(db);
		return -1;
	}
	db->leads = true;
	return 1;
}

int db_lead_try(struct db *db)
{
	if(db->leads)
		return 1;
	if(db->lead_lost) {
		db__lead_check(db);
		return 0;
	}
	struct strbuf err = STRBUF_INIT;
	int rc = db_lead__try(db, &err);
	if(rc < 0)
		log_warn("%s", err.buf);
	else if(rc > 0)
		log_info("this instance leads now (%s)", db->name);
	strbuf_release(&err);
	return rc;
}

int db__lead_open(struct db *db, const char *target, struct strbuf *err)
{
	int version;
	if(sql_pg_connect(&db->sql, target, err))
		return -1;
	if(!(db->name = strdup(sql_pg_where(db->sql)))) {
		strbuf_adds(err, "out of memory");
		return -1;
	}
	/* A newer schema is refused before the lock is asked for, so that an
	 * old build never stands by behind a newer leader. */
	if(db__pg_version(db->sql, &version, err))
		return -1;
	if(version > DB_SCHEMA_VERSION) {
		strbuf_addf(err,
		            "%s was written by a newer Ensemble (schema version %d; this build knows "
		            "up to %d): upgrade Ensemble or use another --db file",
		            db->name, version, DB_SCHEMA_VERSION);
		return -1;
	}
	sql_pg_set_reconnect_hook(db->sql, db_lead__hook, db);
	int rc = db_lead__try(db, err);
	if(rc < 0)
		return -1;
	log_info("%s (%s)", rc ? "this instance leads" : "another instance leads: standing by", db->name);
	return 0;
}
