/*
 * db_async: a commit written by a thread of the loop's pool.
 *
 * The commit of a batch of a hundred updates writes a few hundred WAL
 * frames, a block during which the loop could start no send: on Telegram,
 * where one send is out at a time, that stalled every batch.  So the bot
 * hands the COMMIT to a thread (db_commit_start) and the loop goes on with
 * what needs no database: sends, their answers, the delivery journal.  The
 * rows of delivered messages are deleted the same way, a few hundred at a
 * time (db_outbox_forget_start).  The thread runs below the loop's priority
 * (thread_background).
 *
 * The connection is opened without SQLite's mutex, so it must never be
 * used by two threads at once.  The rule that guarantees it: between
 * db_commit_start and the end of the commit, the thread runs only the
 * statements prepared for it (outbox deletes, the seq write, COMMIT and,
 * when one fails, ROLLBACK), and every way in from the loop's thread (db__stmt,
 * db_begin, db_commit, db_rollback, db_close) first waits for the thread
 * to be done (db__async_settle).  The mutex and condition of the job order
 * the thread's writes before the loop's reads.
 *
 * The result is applied to the struct db (transaction flag, delivery
 * journal, caches) on the loop's thread, by whichever comes first: a wait,
 * or the end of the work (db__async_after), which then calls done.
 *
 * A run (db_run_start) goes further: the thread runs a function of the
 * owner's, which begins, writes and commits as the loop's thread would, so
 * that on PostgreSQL the loop waits for none of its round trips.  The rule
 * is the same, widened: while it runs the thread owns the struct db and
 * its connection, every way in from the loop's thread waits for it (a
 * thread-local mark lets the run's own calls through), and the one call
 * the loop makes meanwhile without waiting, db_outbox_done for a send
 * answered, keeps its delivery aside (db->acks_later), applied once the
 * run has been settled.
 */
#include "storage/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lib/log.h"
#include "lib/text.h"
#include "lib/thread.h"

#define LOG_MODULE "db"

struct db_async {
	uv_work_t work;
	struct db *db;   /* NULL once the database is closed */
	int64_t *forget; /* outbox rows to delete first (their ids) */
	size_t nforget;
	struct sql_stmt *del; /* the outbox row delete, when nforget */
	struct sql_stmt *seq; /* the seq write, bound; NULL when not needed */
	struct sql_stmt *commit;
	struct sql_stmt *rollback;
	uv_mutex_t lock;
	uv_cond_t cond;
	bool finished; /* under lock: the thread is done with db */
	bool settled;  /* the loop's thread applied the result */
	bool detached; /* done is not to be called */
	int rc;
	char err[256]; /* SQLite's message when the commit failed */
	void (*done)(void *user, int rc);
	void *user;
	/* A run's function (db_run_start), NULL for a commit; and its end. */
	void (*run)(struct db *db, void *user);
	void (*run_done)(void *user);
};

/* The database whose run this thread executes, if any: its calls do not
 * wait for themselves. */
static _Thread_local const struct db *db__running;

static void db__async_free(struct db_async *a);

/* On the pool's thread: the only statements it runs. */
static void db__async_work(uv_work_t *w)
{
	struct db_async *a = w->data;
	thread_background();
	if(a->run) {
		db__running = a->db;
		a->run(a->db, a->user);
		db__running = NULL;
		uv_mutex_lock(&a->lock);
		a->finished = true;
		uv_cond_signal(&a->cond);
		uv_mutex_unlock(&a->lock);
		return;
	}
	int rc = SQL_DONE;
	for(size_t i = 0; i < a->nforget && rc == SQL_DONE; i++) {
		sql_bind_int64(a->del, 1, a->forget[i]);
		rc = sql_step(a->del);
		if(rc != SQL_DONE)
			text_copy(a->err, sizeof(a->err), sql_errmsg(a->db->sql));
		sql_reset(a->del);
	}
	if(a->seq && rc == SQL_DONE) {
		rc = sql_step(a->seq);
		if(rc != SQL_DONE)
			text_copy(a->err, sizeof(a->err), sql_errmsg(a->db->sql));
		sql_reset(a->seq);
	}
	if(rc == SQL_DONE) {
		rc = sql_step(a->commit);
		if(rc != SQL_DONE)
			text_copy(a->err, sizeof(a->err), sql_errmsg(a->db->sql));
		sql_reset(a->commit);
	}
	/* A failed COMMIT may leave the transaction open: it is rolled back
	 * here, so that nothing the loop runs afterwards joins it. */
	if(rc != SQL_DONE && !!sql_in_transaction(a->db->sql)) {
		sql_step(a->rollback);
		sql_reset(a->rollback);
	}
	uv_mutex_lock(&a->lock);
	a->rc = rc == SQL_DONE ? 0 : -1;
	a->finished = true;
	uv_cond_signal(&a->cond);
	uv_mutex_unlock(&a->lock);
}

bool db__async_busy(const struct db *db)
{
	return db->async && !db->async->settled;
}

bool db__async_here(const struct db *db)
{
	return db__running == db;
}

bool db__async_running(const struct db *db)
{
	return db->async && db->async->run && !db->async->settled;
}

bool db_busy(const struct db *db)
{
	return db__async_busy(db);
}

void db_set_free_fn(struct db *db, void (*fn)(void *user), void *user)
{
	db->free_fn = fn;
	db->free_user = user;
}

void db__async_settle(struct db *db)
{
	struct db_async *a = db->async;
	if(!a || a->settled || db__running == db)
		return;
	uv_mutex_lock(&a->lock);
	while(!a->finished)
		uv_cond_wait(&a->cond, &a->lock);
	uv_mutex_unlock(&a->lock);
	a->settled = true;
	if(a->run) {
		/* The run committed or rolled back as it went. */
		db__outbox_take_later(db);
		db__lead_report(db);
		return;
	}
	db->in_tx = false;
	if(!a->rc) {
		db->seq_dirty = false;
		db__outbox_committed(db);
		db__erase_committed(db);
	} else {
		log_error("commit: %s (%s)", a->err, db->name);
		db__outbox_rolled_back(db);
		db->seq_loaded = db->seq_dirty = false;
		db__cache_clear(db);
	}
}

/* On the loop's thread, a turn after the work ended. */
static void db__async_after(uv_work_t *w, int status)
{
	struct db_async *a = w->data;
	(void)status; /* never cancelled */
	struct db *db = a->db;
	if(db) {
		db__async_settle(db);
		db->async = NULL;
	}
	if(!a->detached && a->done)
		a->done(a->user, a->rc);
	if(!a->detached && a->run_done)
		a->run_done(a->user);
	db__async_free(a);
	if(db && !db->async && db->free_fn)
		db->free_fn(db->free_user);
}

/* A job with its lock and condition, or NULL. */
static struct db_async *db__async_new(void)
{
	struct db_async *a = calloc(1, sizeof(*a));
	if(!a)
		return NULL;
	if(uv_mutex_init(&a->lock)) {
		free(a);
		return NULL;
	}
	if(uv_cond_init(&a->cond)) {
		uv_mutex_destroy(&a->lock);
		free(a);
		return NULL;
	}
	a->work.data = a;
	return a;
}

static void db__async_free(struct db_async *a)
{
	uv_cond_destroy(&a->cond);
	uv_mutex_destroy(&a->lock);
	free(a->forget);
	free(a);
}

/* Starts a job for the open transaction: the deletes of forget (which it
 * takes), then the commit.  0, or -1 when nothing started (forget freed,
 * the transaction still open). */
static int db__async_start(struct db *db, uv_loop_t *loop, int64_t *forget, size_t nforget,
                           void (*done)(void *user, int rc), void *user)
{
	struct db_async *a = NULL;
	if(!db->in_tx || (db->async && !db->async->settled))
		goto fail;
	/* The rows kept are sent from here: the thread must not touch them. */
	if(db->rows_pending && db__rows_flush(db, DB_ROWS_ALL))
		goto fail;
	if(!(a = db__async_new()))
		goto fail;
	a->forget = forget;
	a->nforget = nforget;
	forget = NULL;
	a->db = db;
	a->done = done;
	a->user = user;
	/* Prepared (and bound) here: preparing touches the statement cache,
	 * which the thread must not. */
	if(nforget && !(a->del = db__stmt(db, db__outbox_delete_sql(db))))
		goto fail;
	if(db->seq_dirty) {
		a->seq = db__stmt(db, db__seq_write_sql);
		if(!a->seq)
			goto fail;
		sql_bind_int64(a->seq, 1, db->seq);
	}
	a->commit = db__stmt(db, "COMMIT");
	a->rollback = db__stmt(db, "ROLLBACK");
	if(!a->commit || !a->rollback)
		goto fail;
	/* A job settled but not yet reported forgets the database: its end
	 * only calls its done function. */
	if(db->async)
		db->async->db = NULL;
	db->async = a;
	if(uv_queue_work(loop, &a->work, db__async_work, db__async_after)) {
		db->async = NULL;
		goto fail;
	}
	return 0;
fail:
	if(a)
		db__async_free(a);
	free(forget);
	return -1;
}

int db_commit_start(struct db *db, uv_loop_t *loop, void (*done)(void *user, int rc), void *user)
{
	return db__async_start(db, loop, NULL, 0, done, user);
}

int db_run_start(struct db *db, uv_loop_t *loop, void (*fn)(struct db *db, void *user), void (*done)(void *user),
                 void *user)
{
	db__async_settle(db);
	if(db->in_tx)
		return -1;
	struct db_async *a = db__async_new();
	if(!a)
		return -1;
	a->db = db;
	a->run = fn;
	a->run_done = done;
	a->user = user;
	if(db->async)
		db->async->db = NULL;
	db->async = a;
	if(uv_queue_work(loop, &a->work, db__async_work, db__async_after)) {
		db->async = NULL;
		db__async_free(a);
		return -1;
	}
	return 0;
}

int db_transact_start(struct db *db, uv_loop_t *loop, int (*fn)(struct db *db, void *user),
                      void (*done)(void *user, int rc), void *user)
{
	if(db_begin(db))
		return -1;
	int how = fn(db, user);
	if(how < 0) {
		db_rollback(db);
		done(user, -1);
	} else if(how == 0 || db_commit_start(db, loop, done, user)) {
		done(user, db_commit(db));
	}
	return 0;
}

/* A transaction run whole on a thread (db_transact_run). */
struct db__transact {
	int (*fn)(struct db *db, void *user);
	void (*done)(void *user, int rc);
	void *user;
	int rc;
};

static void db__transact_work(struct db *db, void *user)
{
	struct db__transact *t = user;
	if(db_begin(db)) {
		t->rc = -1;
		return;
	}
	if(t->fn(db, t->user) < 0) {
		db_rollback(db);
		t->rc = -1;
		return;
	}
	t->rc = db_commit(db);
}

static void db__transact_done(void *user)
{
	struct db__transact *t = user;
	if(t->done)
		t->done(t->user, t->rc);
	free(t);
}

int db_transact_run(struct db *db, uv_loop_t *loop, int (*fn)(struct db *db, void *user),
                    void (*done)(void *user, int rc), void *user)
{
	struct db__transact *t = malloc(sizeof(*t));
	if(!t)
		return -1;
	*t = (struct db__transact){ .fn = fn, .done = done, .user = user };
	if(db_run_start(db, loop, db__transact_work, db__transact_done, t)) {
		free(t);
		return -1;
	}
	return 0;
}

/* The delivered rows' deletion, whole on a thread (PostgreSQL). */
static void db__forget_work(struct db *db, void *user)
{
	(void)user;
	if(db_begin(db) || db_outbox_forget(db) || db_commit(db))
		db_rollback(db);
}

int db_outbox_forget_start(struct db *db, uv_loop_t *loop)
{
	if(db->in_tx || db__async_busy(db) || db->acks_applied == db->nacks)
		return -1;
	/* On PostgreSQL the BEGIN would be a round trip on the loop. */
	if(db__on_pg(db))
		return db_run_start(db, loop, db__forget_work, NULL, NULL);
	size_t n = db->nacks - db->acks_applied;
	int64_t *ids = malloc(n * sizeof(*ids));
	if(!ids)
		return -1;
	memcpy(ids, db->acks + db->acks_applied, n * sizeof(*ids));
	if(db_begin(db)) {
		free(ids);
		return -1;
	}
	size_t applied = db->acks_applied;
	db->acks_applied = db->nacks; /* as db_outbox_forget: deleted in this transaction */
	if(db__async_start(db, loop, ids, n, NULL, NULL)) {
		db->acks_applied = applied;
		db_rollback(db);
		return -1;
	}
	return 0;
}

int db_commit_wait(struct db *db)
{
	struct db_async *a = db->async;
	if(!a || a->detached)
		return 0;
	db__async_settle(db);
	a->detached = true;
	return a->rc;
}

void db__async_close(struct db *db)
{
	struct db_async *a = db->async;
	if(!a)
		return;
	db__async_settle(db);
	a->detached = true;
	a->db = NULL;
	db->async = NULL;
}
