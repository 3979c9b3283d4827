/*
 * db_internal: what the files of storage/ share.  Nothing outside
 * storage/ includes this.
 */
#ifndef ENSEMBLE_DB_INTERNAL_H
#define ENSEMBLE_DB_INTERNAL_H

#include <stdio.h>

#include "storage/db.h"
#include "storage/sql.h"

#define DB_STMT_SLOTS 256       /* a power of two above the number of statements */
#define DB_IDS 64               /* ids taken at a time from a sequence on PostgreSQL */
#define DB_BUSY_TIMEOUT_MS 5000 /* how long SQLite waits for a lock another connection holds */
#define DB__TEXT(x) #x
#define DB__NUMBER(x) DB__TEXT(x) /* a macro's value as a literal */
/* The statement that takes them from the sequence of table's id (a
 * literal): named once, not at each row, as the name's lookup
 * (pg_get_serial_sequence and the cast) costs more than nextval. */
#define DB_IDS_SQL(table) \
	"SELECT nextval(s.id) FROM (SELECT CAST(pg_get_serial_sequence('" table "', 'id') AS regclass) AS id " \
	"OFFSET 0) s CROSS JOIN generate_series(1, " DB__NUMBER(DB_IDS) ") ORDER BY 1"

/* On PostgreSQL, ids taken ahead from a table's sequence (db__next_id):
 * ids[next ... n) are still to use. */
struct db_ids {
	int64_t ids[DB_IDS];
	int next, n;
};

struct db {
	/* The connection, on either engine (storage/sql.h). */
	struct sql *sql;
	char *path; /* the target db_open was given */
	/* The database for the operator's messages: the path, or on
	 * PostgreSQL what sql_pg_where says (never the password). */
	char *name;
	/* Leadership (db_lead.c): whether this instance leads (always on
	 * SQLite); whether it lost the leadership, and whether lost_fn was
	 * called for it. */
	bool leads, lead_lost, lost_reported;
	void (*lost_fn)(void *user);
	void *lost_user;
	/* Prepared statements, found by the address of their SQL text: each
	 * statement is a string constant in one file of storage/, prepared on
	 * first use and kept until db_close. */
	const char *stmt_sql[DB_STMT_SLOTS];
	struct sql_stmt *stmt[DB_STMT_SLOTS];
	/* For each, the tables of rows kept (db_rows.c) that it names: those
	 * rows are sent before it runs. */
	unsigned char stmt_rows[DB_STMT_SLOTS];
	/* On PostgreSQL, the member and outbox rows of the open transaction
	 * not sent yet (db_rows.c), and a bit a table that has some. */
	struct db_row_buffers *rows;
	unsigned rows_pending;
	bool in_tx;
	/* Called by db_begin when a transaction is open (db_set_yield). */
	void (*yield_fn)(void *user);
	void *yield_user;
	/* Deliveries recorded but whose rows are not deleted yet (see
	 * db_outbox.c): the first acks_applied were deleted in the open
	 * transaction. */
	int ack_fd; /* the journal, DB-acks; -1 when broken */
	/* Records gathered between db_journal_hold and db_journal_flush. */
	bool journal_held;
	struct strbuf journal_gathered;
	/* On PostgreSQL, the thread that records deliveries as rows of
	 * outbox_acks (db_acks.c); NULL until the first delivery. */
	struct db_acks *acker;
	/* On PostgreSQL, the ids of the outbox's rows and of meetups, taken
	 * ahead from their sequences (db__next_id). */
	struct db_ids outbox_ids, meetup_ids;
	int64_t *acks;
	size_t nacks, acks_alloc, acks_applied;
	/* Deliveries answered while a run owned db (db_async.c), with the
	 * time of each: the loop's only, added to acks once it is settled. */
	struct db_ack_later {
		int64_t id, ms;
	} * acks_later;
	size_t nlater, later_alloc;
	int64_t oldest_ack_ms;
	/* kv rows set inside db_journal_run (db_outbox.c): each in the
	 * journal, and kept here until a transaction writes it to kv (every
	 * db_begin does); the first kv_applied were written in the open
	 * transaction.  journaling: db_kv_set_about journals, as db_journal_run
	 * runs its function. */
	struct db_kv_later *kv_later;
	size_t nkv_later, kv_later_alloc, kv_applied;
	bool journaling;
	/* Chats and users by their platform ids, as last read or written in
	 * a committed or open transaction (db_chat.c); emptied by a rollback.
	 * Allocated on first use. */
	struct db_chat_cache *chat_cache;
	/* The reminder offsets new chats start with, once db_set_chat_remind
	 * set them; the column's default until then. */
	char chat_remind[64];
	bool chat_remind_set;
	struct db_user_cache *user_cache;
	/* The member rows (chat, user) this process wrote lately, so that
	 * their last_seen is not written again within the hour (db_chat.c);
	 * emptied with the caches above. */
	struct db_member_slot *member_cache;
	/* The meetups last read, with their slots (db_meetup_cache.c);
	 * allocated on first use. */
	struct db_meetup_cache *meetup_cache;
	/* The RSVP lists last read, kept as this process writes them
	 * (db_rsvp_cache.c); allocated on first use. */
	struct db_rsvp_cache *rsvp_cache;
	/* The kv rows "meetup.shown.REF" (db_kv_shown.c); allocated on first
	 * use, emptied with the caches above. */
	struct db_shown_slot *shown_cache;
	/* The lists of RSVPs and votes read ahead (db_ahead.c), NULL when
	 * none are held. */
	struct db_ahead *ahead[DB_LIST_COUNT];
	/* The last use stamp given to a slot of the caches (db__cache_use). */
	uint32_t cache_tick;
	/* Set by db_forget_user on SQLite, cleared once a commit has emptied
	 * the WAL of what the forget deleted (db__erase_committed). */
	bool erase_due;
	/* The seq counter (db__next_seq), valid while seq_loaded. */
	int64_t seq;
	bool seq_loaded, seq_dirty;
	/* The commit a thread runs (db_async.c), until its end is reported;
	 * NULL when none. */
	struct db_async *async;
	/* Called when such a commit's end has been reported (db_set_free_fn). */
	void (*free_fn)(void *user);
	void *free_user;
	/* Where every statement run is recorded, for bench/floor.c, when
	 * ENSEMBLE_SQL_TRACE named a file at db_open; NULL otherwise. */
	FILE *trace;
};

/* The hash of a member row's key (chat, user), for the tables of them
 * kept in memory (db_chat.c's recent writes, db_rows.c's rows to send):
 * its high bits are the well mixed ones. */
static inline uint64_t db__member_hash(int64_t chat_id, int64_t user_id)
{
	return (uint64_t)chat_id * 0x9e3779b97f4a7c15u ^ (uint64_t)user_id * 0xc2b2ae3d27d4eb4fu;
}

/* Whether db runs on PostgreSQL: db_engine, inline for the paths every
 * command takes. */
static inline bool db__on_pg(const struct db *db)
{
	return db->sql->ops->engine == SQL_POSTGRES;
}

/* On PostgreSQL, the next id for a row of a table, from ids, which takes
 * DB_IDS at a time from the table's sequence with sql (DB_IDS_SQL), so
 * that the row's insert returns nothing and need not be waited for
 * (storage/sql_pg.c's pipeline).  The ids an instance took and did not
 * use are never used: the sequence goes on past them, and the order of
 * the ids stays that of the inserts.  0 or -1 (logged). */
int db__next_id(struct db *db, struct db_ids *ids, const char *sql, int64_t *id);

/* The statement that writes the seq counter before a commit. */
extern const char db__seq_write_sql[];
/* The statement that deletes an outbox row (and on PostgreSQL its
 * delivery record too), with its id as ?1. */
const char *db__outbox_delete_sql(const struct db *db);

/* A commit on a thread (db_async.c).  busy: the thread may still be using
 * the connection.  settle: waits for it and applies its result; every way
 * in from the loop's thread calls it first.  close: settles and forgets
 * the job (db_close). */
bool db__async_busy(const struct db *db);
/* True while a run (db_run_start) owns db: not yet settled. */
bool db__async_running(const struct db *db);
/* True on the thread that runs db's run, inside it. */
bool db__async_here(const struct db *db);
void db__async_settle(struct db *db);
void db__async_close(struct db *db);

/* The prepared statement of sql (a string constant), reset and with its
 * bindings cleared, or NULL (logged) when it cannot be prepared. */
struct sql_stmt *db__stmt(struct db *db, const char *sql);
/* Logs the database's last error with the context given. */
void db__log_error(struct db *db, const char *what);
/* Steps a statement that returns no row and resets it; 0 or -1 (logged). */
int db__exec_stmt(struct db *db, struct sql_stmt *st, const char *what);
/* The one integer the statement q (no parameters) gives on c, into *out,
 * prepared and finalized here: for statements run once (versions, sizes,
 * counts).  0, or -1 with the engine's reason in sql_errmsg(c). */
int db__sql_int(struct sql *c, const char *q, int64_t *out);
/* Steps st, an INSERT ... RETURNING id with its parameters bound, into
 * *id, and resets it.  0 or -1 (logged). */
int db__insert_id(struct db *db, struct sql_stmt *st, const char *what, int64_t *id);
/* Steps st, a lookup with its parameters bound, and resets it: 1 when it
 * found a row, 0 when none, -1 on error (logged). */
int db__exists(struct db *db, struct sql_stmt *st, const char *what);
/* Steps st, a count with one parameter bound to id, into *out; resets it.
 * 0 or -1 (logged). */
int db__count(struct db *db, struct sql_stmt *st, int64_t id, int *out);
/* Copies a text column into a fixed buffer (truncating), "" for NULL. */
void db__copy_text(struct sql_stmt *st, int col, char *out, size_t outlen);
/* Rows inserted together on PostgreSQL (db_rows.c): inside a transaction
 * a member row or an outbox row is kept, and sent with the others of its
 * table as one INSERT before any statement that names the table (db__stmt
 * sees to it), before the commit, or once there are enough.  Each 0 or -1
 * (logged).  db__rows_touched says which tables' rows a statement must
 * come after (a bit a table); db__rows_flush sends those of the tables in
 * mask; db__rows_discard forgets them all (a rollback); db__rows_free at
 * close. */
enum db_rows_table { DB_ROWS_MEMBERS, DB_ROWS_OUTBOX, DB_ROWS_TABLES };
#define DB_ROWS_ALL ((1u << DB_ROWS_TABLES) - 1)
int db__rows_member(struct db *db, int64_t chat_id, int64_t user_id, int64_t t);
int db__rows_outbox(struct db *db, int64_t id, const char *action, int64_t created_ms);
unsigned db__rows_touched(const char *sql);
int db__rows_flush(struct db *db, unsigned mask);
void db__rows_discard(struct db *db);
void db__rows_free(struct db *db);

/* Reads rows of (user_id, ext_id, name, ...) into out; fill, when given,
 * reads the columns from 3 on.  The statement is reset.  0 or -1. */
int db__read_people(struct db *db, struct sql_stmt *st, struct db_people *out,
                    void (*fill)(struct sql_stmt *, struct db_person *));
/* One row of (user_id, ext_id, name, ...) into p, fill reading the columns
 * from 3 on; a new person at the end of a list, NULL without memory. */
void db__person_read(struct sql_stmt *st, struct db_person *p, void (*fill)(struct sql_stmt *, struct db_person *));
struct db_person *db__people_add(struct db_people *p);
/* The fills of a vote (its answers, column 3) and of an RSVP (answer,
 * waiting, reconfirm: columns 3 to 5). */
void db__fill_vote(struct sql_stmt *st, struct db_person *p);
void db__fill_rsvp(struct sql_stmt *st, struct db_person *p);
/* Takes the list of meetup_id read ahead (db_read_ahead), appending it to
 * out as a read would: 1, 0 when none is held (then read it), -1 without
 * memory. */
int db__ahead_take(struct db *db, enum db_list list, int64_t meetup_id, struct db_people *out);

/* The lists of who voted or answered join users for the names.  Given
 * that join, PostgreSQL's planner takes a hash join that reads and hashes
 * every user at each call (a sequential scan: 1.9 M instructions for a
 * list of 20 among 2,000 users, and more with every user), where an index
 * lookup per row costs 0.43 M; so on PostgreSQL each row looks its user
 * up in a LATERAL subquery that OFFSET 0 keeps from being flattened back
 * into a join, which leaves the lookup per row as the only plan.  SQLite
 * has no LATERAL, and looks each row up already. */
#define DB_PG_USER_OF(id) \
	"CROSS JOIN LATERAL (SELECT u.id, u.ext_id, u.name FROM users u WHERE u.id = " id " OFFSET 0) u "
/* A text column as a string, "" for NULL; valid until the next step. */
const char *db__text(struct sql_stmt *st, int col);

/* The next number of the seq columns (votes, RSVPs, group members,
 * interests), inside the open transaction.  0 or -1 (logged). */
int db__next_seq(struct db *db, int64_t *out);
/* Empties the caches of chats and users (after a rollback), and frees
 * them (at close). */
void db__cache_clear(struct db *db);
void db__cache_free(struct db *db);

/* The caches of chats, users and meetups are set-associative: a row's hash
 * picks a set of DB_WAYS slots, and a row read into a full set takes the
 * place of the set's least recently used one.  Direct-mapped, two rows in
 * use whose hashes met evicted each other at every use: with as many as
 * the dispatcher benchmark's (200 chats, 2,000 people, 600 meetups voted
 * on), 2,000 commands at random read their chat again 168 times, the
 * person 298 times and the meetup 578 times; in sets of 8, 0, 4 and 28
 * times (test_db's test_caches).  Each cache keeps, beside its slots, a
 * use stamp per slot: 0 for an empty slot, else db__cache_use's value at
 * its last use. */
#define DB_WAYS 8
/* A new use stamp: increasing, never 0.  (After 2^32 uses it wraps, and
 * the choice of a slot to replace is briefly worse, never wrong.) */
uint32_t db__cache_use(struct db *db);
/* Of the DB_WAYS stamps at used (one set), the way to fill: an empty slot,
 * else the least recently used. */
unsigned db__cache_victim(const uint32_t *used);
/* The kv rows "meetup.shown.REF" as last read or written (db_kv_shown.c),
 * for db_kv_get, db_kv_set_about and db_kv_delete, which call these after
 * settling a thread's run (the cache is the owner's).  db__shown_get: 1
 * with the value appended to out, 0 when known absent, 2 when not held,
 * -1 out of memory.  db__shown_wrote: a statement on key's row ended with
 * rc; when 0 the row holds value (NULL: absent), otherwise what is held of
 * key is dropped.  Keys of other prefixes are ignored. */
int db__shown_get(struct db *db, const char *key, struct strbuf *out);
void db__shown_wrote(struct db *db, const char *key, const char *value, int rc);
void db__shown_clear(struct db *db);
void db__shown_free(struct db *db);
/* The meetups last read (db_meetup_cache.c).  db__meetup_cached copies
 * into *out the meetup id (by chat_id and num when id is 0) as it was
 * last kept: 1, or 0 when it is not kept.  db__meetup_keep keeps a copy
 * of m, as read from the database; db__meetup_forget drops the copy of
 * meetup id, which is being written.  The cache is emptied with the
 * others (db__cache_clear), and whenever a write may change what a
 * meetup's read returns. */
int db__meetup_cached(struct db *db, int64_t id, int64_t chat_id, int num, struct db_meetup *out);
/* The highest #num of chat_id's meetups, as last read or inserted:
 * db__meetup_num_cached gives 1 with it in *num, or 0 when it is not
 * kept; db__meetup_num_keep keeps it.  Emptied with the meetups. */
int db__meetup_num_cached(struct db *db, int64_t chat_id, int *num);
void db__meetup_num_keep(struct db *db, int64_t chat_id, int num);
void db__meetup_keep(struct db *db, const struct db_meetup *m);
void db__meetup_forget(struct db *db, int64_t id);
void db__meetup_cache_clear(struct db *db);
void db__meetup_cache_free(struct db *db);
/* The user id as the user cache holds it (db_chat.c): 1 with *ext_id and
 * *name pointing into the cache (valid until the next call into db), 0
 * when it is not held. */
int db__user_cached(struct db *db, int64_t id, const char **ext_id, const char **name);
/* The RSVP lists last read (db_rsvp_cache.c), each what db_rsvps would
 * read, kept up to date by this process's own writes of RSVPs.
 * db__rsvps_cached appends meetup_id's list to out: 1, 0 when it is not
 * kept, -1 without memory.  db__rsvps_keep keeps the n people of a list
 * just read, in its order; db__rsvps_held says whether one is kept.
 * db__rsvps_summary answers as db_rsvp_summary does (1) from a kept list,
 * except for the name of a user who has not answered, which it leaves
 * empty; 0 when the list is not kept.  db__rsvps_first_waiting: 1 with
 * *out filled, 2 when nobody waits, 0 when the list is not kept.
 * db__rsvps_wrote applies a write that has just been made, an enum
 * db_rsvp_write with its user (0 for all) and answer; a list it cannot
 * update is dropped.  The lists are emptied with the
 * other caches (db__cache_clear) and when a user's name changes. */
enum db_rsvp_write {
	DB_RSVP_SET,         /* db_rsvp_set, not waiting */
	DB_RSVP_SET_WAITING, /* db_rsvp_set, on the waiting list */
	DB_RSVP_DELETE,      /* db_rsvp_delete */
	DB_RSVP_CONFIRMED,   /* db_rsvp_clear_reconfirm */
	DB_RSVP_MOVED        /* db_rsvp_mark_reconfirm (user_id 0) */
};
int db__rsvps_cached(struct db *db, int64_t meetup_id, struct db_people *out);
void db__rsvps_keep(struct db *db, int64_t meetup_id, const struct db_person *v, size_t n);
bool db__rsvps_held(struct db *db, int64_t meetup_id);
int db__rsvps_summary(struct db *db, int64_t meetup_id, int64_t user_id, struct db_rsvp_summary *out);
int db__rsvps_first_waiting(struct db *db, int64_t meetup_id, struct db_person *out);
void db__rsvps_wrote(struct db *db, int64_t meetup_id, enum db_rsvp_write what, int64_t user_id, int answer);
void db__rsvps_clear(struct db *db);
void db__rsvps_free(struct db *db);
/* The journal of deliveries: opened (and what a crash left applied) by
 * db_open; told of each commit and rollback; closed by db_close. */
int db__outbox_open_journal(struct db *db, struct strbuf *err);
void db__outbox_committed(struct db *db);
void db__outbox_rolled_back(struct db *db);
/* The kv rows of db_journal_run (db_outbox.c).  journal: keeps the row
 * (key, value, chat, person; a NULL value: the row deleted) and appends
 * it to the journal; 0, or -1 when
 * it could not be written there (logged; the row is kept in memory all
 * the same, when memory allows).  get: the value of key among the rows no
 * transaction has written yet, as db_kv_get answers (1 found, appended to
 * out; 0 deleted), or 2 when none is key's.  apply: writes those rows to kv, in the
 * open transaction; 0 or -1. */
int db__kv_journal(struct db *db, const char *key, const char *value, const char *chat, const char *person);
int db__kv_later_get(const struct db *db, const char *key, struct strbuf *out);
int db__kv_later_apply(struct db *db);
/* Appends the n ids as PostgreSQL's text of a bigint array, "{1,2,3}",
 * to bind where a statement casts it (CAST(?1 AS BIGINT[])). */
void db__id_array(struct strbuf *out, const int64_t *ids, size_t n);
/* On PostgreSQL, the records of deliveries (db_acks.c).  push: queues
 * the delivery of outbox row id for the thread that writes them (started
 * at the first); 0, or -1 when it cannot be queued (logged; the delivery
 * is then in memory only).  on: whether that thread runs.  close: waits
 * for what is queued to be written, and ends the thread (db_close). */
int db__acks_push(struct db *db, int64_t id);
bool db__acks_on(const struct db *db);
void db__acks_close(struct db *db);
/* Records the deliveries kept aside while a run owned db, once it is
 * settled (db_async.c). */
void db__outbox_take_later(struct db *db);
void db__outbox_close(struct db *db);
/* On PostgreSQL, when this instance starts leading: deletes, in a
 * transaction of its own, the outbox rows whose delivery a leader before
 * it recorded (outbox_acks), so that nothing delivered is sent again.
 * 0, or -1 with a sentence appended to err. */
int db__outbox_apply_rows(struct db *db, struct strbuf *err);
/* Reads the delivery records of the journal open at fd, from its current
 * offset to its end, into db's deliveries (to be applied by
 * db__outbox_apply), adding how many it read to *found.  0, or -1 with
 * errno set. */
int db__outbox_read_journal(struct db *db, int fd, size_t *found);
/* Deletes the outbox rows of db's deliveries in a transaction of its own,
 * as db_open does with what the last run's journal held.  0 or -1. */
int db__outbox_apply(struct db *db);
/* Before db__migrate moves db on from schema version `version` (> 0):
 * copies the database beside itself as "<path>.pre-v<version>"
 * (db_backup.c), or keeps that file when an earlier attempt left it.
 * Returns 0, or -1 with a sentence appended to err: then db must not be
 * migrated. */
int db__backup_before_migrate(struct db *db, int version, struct strbuf *err);
/* PostgreSQL's schema (db_schema_pg.c): the version of the database on
 * c (0 when it has none of Ensemble's tables), and its migration to
 * DB_SCHEMA_VERSION, one transaction per step; where names the database
 * in the messages.  0, or -1 with a sentence appended to err. */
int db__pg_version(struct sql *c, int *out, struct strbuf *err);
int db__pg_migrate(struct sql *c, const char *where, struct strbuf *err);
/* db_open on PostgreSQL (db_lead.c): connects db to target, refuses a
 * newer schema, and tries the leadership once (migrating when it takes
 * it).  0, or -1 with a sentence appended to err. */
int db__lead_open(struct db *db, const char *target, struct strbuf *err);
/* Whether db may write: it leads.  Otherwise -1, and the owner's lost
 * function called once, from the loop's thread, when the leadership was
 * lost rather than never held. */
int db__lead_check(struct db *db);
/* Calls the owner's lost function, once, when the leadership was lost and
 * this is the loop's thread (a run's settle reports what its thread met). */
void db__lead_report(struct db *db);

/* Before SQLite opens path (db_files.c): creates the database file with
 * mode 0600 when there is none, and logs a warning, with the chmod to run,
 * when the database or a file beside it may be read by group or others.
 * Returns 0, or -1 with a sentence appended to err. */
int db__files_prepare(const char *path, struct strbuf *err);

/* After a commit, on the thread that may use db (db_forget.c): when a
 * /forget me is waiting to be erased from the files, checkpoints the WAL
 * into the database and truncates it, without waiting for a reader. */
void db__erase_committed(struct db *db);

#endif
