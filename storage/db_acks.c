/*
 * db_acks: on PostgreSQL, the thread that records deliveries.
 *
 * A delivery's record is a row of outbox_acks (storage/db_outbox.c),
 * inserted on a connection of its own.  Written by the loop, each answered
 * send would be a round trip the loop waits for, the most frequent one of
 * all (one per message sent).  So the loop only queues the outbox row's id
 * (db__acks_push) and a thread of this module's own writes what is queued,
 * every id waiting in one statement: one round trip for all the
 * deliveries answered while the last one ran.  The thread is not one of
 * libuv's pool, which runs the core's batches: it lives as long as the
 * database is open, and sleeps while nothing is queued.
 *
 * The guarantee is the journal's, as before: a delivery is recorded about
 * a round trip after its answer came, and a crash in between costs that
 * message a second sending at the next start, never its loss.  db_close
 * waits for the queue to be written (db__acks_close).
 *
 * The connection, its statement and the reconnections belong to the
 * thread alone; the queue is shared under the lock.  Of the struct db the
 * thread reads only its target and name, which never change once open.
 */
#include "storage/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lib/log.h"
#include "lib/thread.h"

#define LOG_MODULE "db"

/* A statement of many rows: the ids as one array literal, "{1,2,3}". */
static const char db_acks__insert[] =
	"INSERT INTO outbox_acks (id) SELECT unnest(CAST(?1 AS bigint[])) ON CONFLICT DO NOTHING";

struct db_acks {
	uv_thread_t thread;
	uv_mutex_t lock;
	uv_cond_t cond;
	/* Under lock: the ids queued, and whether the thread is to end once
	 * they are written. */
	int64_t *ids;
	size_t n, alloc;
	bool stop;
	/* The thread's own. */
	const char *target, *name; /* the struct db's, unchanging */
	struct sql *sql;
	struct sql_stmt *st;
	bool warned; /* the last write failed, and was logged */
};

/* Sets up a session of the connection (the first, and each one after a
 * reconnection): its commits need not wait for the disk, as the journal's
 * write() does not, and a lock it cannot have soon is not waited for. */
static int db_acks__session(struct sql *c, void *user)
{
	struct strbuf err = STRBUF_INIT;
	(void)user;
	if(sql_exec(c, "SET synchronous_commit = off; SET lock_timeout = '2s'", &err))
		log_warn("delivery records: %s", err.buf);
	strbuf_release(&err);
	return 0;
}

/* Connects, at the first write.  0, or -1 (logged; tried again at the
 * next write). */
static int db_acks__connect(struct db_acks *k)
{
	struct strbuf err = STRBUF_INIT;
	if(sql_pg_connect(&k->sql, k->target, &err) || sql_prepare(k->sql, db_acks__insert, &k->st)) {
		if(!k->warned)
			log_warn("cannot record deliveries in %s: %s", k->name, err.len ? err.buf : sql_errmsg(k->sql));
		k->warned = true;
		strbuf_release(&err);
		sql_close(k->sql);
		k->sql = NULL;
		return -1;
	}
	db_acks__session(k->sql, NULL);
	sql_pg_set_reconnect_hook(k->sql, db_acks__session, NULL);
	return 0;
}

/* Writes the n ids.  When it fails they stay in memory only (logged once
 * until a write succeeds again): delivered, those messages are sent again
 * after a crash, as with a broken journal on SQLite. */
static void db_acks__write(struct db_acks *k, const int64_t *ids, size_t n)
{
	struct strbuf list = STRBUF_INIT;
	db__id_array(&list, ids, n);
	int rc = -1;
	if(!list.oom && (k->sql || !db_acks__connect(k))) {
		sql_bind_text(k->st, 1, list.buf, (int)list.len);
		rc = sql_step(k->st) == SQL_DONE ? 0 : -1;
		if(rc && !k->warned)
			log_warn("cannot record the delivery of %zu outbox row(s): %s", n, sql_errmsg(k->sql));
		sql_reset(k->st);
	}
	k->warned = rc != 0;
	strbuf_release(&list);
}

/* The thread: writes what is queued, until told to stop with nothing
 * left. */
static void db_acks__run(void *arg)
{
	struct db_acks *k = arg;
	int64_t *mine = NULL;
	size_t mine_alloc = 0;
	thread_background();
	uv_mutex_lock(&k->lock);
	for(;;) {
		while(!k->n && !k->stop)
			uv_cond_wait(&k->cond, &k->lock);
		if(!k->n)
			break;
		/* Takes the queue whole, leaving the thread's last buffer in its
		 * place: the loop appends to that one meanwhile. */
		int64_t *ids = k->ids;
		size_t n = k->n, alloc = k->alloc;
		k->ids = mine;
		k->alloc = mine_alloc;
		k->n = 0;
		uv_mutex_unlock(&k->lock);
		db_acks__write(k, ids, n);
		mine = ids;
		mine_alloc = alloc;
		uv_mutex_lock(&k->lock);
	}
	uv_mutex_unlock(&k->lock);
	free(mine);
	sql_finalize(k->st);
	sql_close(k->sql);
}

/* Starts the thread.  NULL when it could not (logged). */
static struct db_acks *db_acks__start(struct db *db)
{
	struct db_acks *k = calloc(1, sizeof(*k));
	if(!k)
		return NULL;
	k->target = db->path;
	k->name = db_name(db);
	if(uv_mutex_init(&k->lock)) {
		free(k);
		return NULL;
	}
	if(uv_cond_init(&k->cond)) {
		uv_mutex_destroy(&k->lock);
		free(k);
		return NULL;
	}
	if(uv_thread_create(&k->thread, db_acks__run, k)) {
		log_warn("cannot start the thread that records deliveries in %s: they are kept in memory only",
		         db->name);
		uv_cond_destroy(&k->cond);
		uv_mutex_destroy(&k->lock);
		free(k);
		return NULL;
	}
	return k;
}

int db__acks_push(struct db *db, int64_t id)
{
	if(!db->acker && !(db->acker = db_acks__start(db)))
		return -1;
	struct db_acks *k = db->acker;
	int rc = 0;
	uv_mutex_lock(&k->lock);
	if(k->n == k->alloc) {
		size_t na = k->alloc ? k->alloc * 2 : 64;
		int64_t *nv = realloc(k->ids, na * sizeof(*nv));
		if(nv) {
			k->ids = nv;
			k->alloc = na;
		}
	}
	if(k->n < k->alloc) {
		k->ids[k->n++] = id;
		uv_cond_signal(&k->cond);
	} else {
		rc = -1;
	}
	uv_mutex_unlock(&k->lock);
	return rc;
}

bool db__acks_on(const struct db *db)
{
	return db->acker != NULL;
}

void db__acks_close(struct db *db)
{
	struct db_acks *k = db->acker;
	if(!k)
		return;
	uv_mutex_lock(&k->lock);
	k->stop = true;
	uv_cond_signal(&k->cond);
	uv_mutex_unlock(&k->lock);
	uv_thread_join(&k->thread);
	uv_cond_destroy(&k->cond);
	uv_mutex_destroy(&k->lock);
	free(k->ids);
	free(k);
	db->acker = NULL;
}
