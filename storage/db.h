/*
 * db: everything Ensemble stores, in one SQLite file or one PostgreSQL
 * database (storage/sql.h runs the same statements on either engine).
 *
 * An SQLite file is opened in WAL mode with foreign keys on; its schema
 * version is PRAGMA user_version.  A PostgreSQL database keeps its version
 * in the table ensemble_schema (storage/db_schema_pg.c).  Either is
 * migrated forward on open (on PostgreSQL by the leading instance only),
 * and one written by a newer Ensemble is refused.  All SQL lives in
 * storage/ and runs through statements prepared once per connection and
 * reset after each use.
 *
 * Round trips and the loop.  On SQLite a statement is a function call on
 * the loop's thread: microseconds, no wait.  On PostgreSQL each statement
 * is a round trip to the server, which the loop must not wait for: it has
 * sends to start and answers to read meanwhile.  Of the two ways libpq
 * offers, Ensemble takes a worker thread rather than the asynchronous API
 * polled by the loop, because storage's functions answer synchronously and
 * the handlers are written against them: continuations would mean
 * rewriting every handler, while a thread runs them unchanged.  So on
 * PostgreSQL (db_round_trips true) the core runs each batch of events, and
 * each run of due jobs, on a thread of the loop's pool from its BEGIN to
 * its COMMIT (db_run_start; bot/bot.c, bot/sched.c); that thread owns the
 * connection and the core's state meanwhile, and the loop sends, receives,
 * holds what needs the database (db_busy, bot_batch_open) and delivers the
 * replies once the run has ended.  The other writes go to threads too:
 * both platforms' answered sends are stored by db_transact_run (what they
 * became is learnt on the loop when the answer comes, and remembered by
 * the adapter), the delivered rows deleted by db_outbox_forget_start, and
 * the delivery records written by a thread of their own (db_acks.c); a
 * Matrix sync's events seen are read by db_run_start before its batch,
 * an update Telegram posts to the webhook is stored by db_transact_run,
 * its post answered once that has committed (http_request_later), the
 * web side's calendars and pages are made by db_run_start (web_offload),
 * and a vote sent from the web page has its reads and its page made
 * there, the vote itself a batch of the core (web/web_site.c).
 * What still runs on the loop's thread, each a round trip it waits for
 * (tens of microseconds on a local socket): the adapters' reads of what
 * they do not remember yet (what a poll or a kept message became, read
 * once and then remembered, except a Telegram batch's polls voted on,
 * which are read on a thread before the batch is made; a Matrix room's
 * state at its first sight by
 * a send rather than a sync, whose rooms are read ahead with its events
 * seen; a reaction's target), the console's batches, and what runs once at start: on the end-to-end
 * benchmarks 0.085 reads of the server's answers on the loop an update
 * on Telegram and 0.059 on Matrix, against 5.35 and 0.46 before.  None
 * of these waits for a thread that holds the database: a Matrix sync is
 * turned into a batch, a page or a webhook post served
 * (http_server_route_when), and an ended
 * batch's replies handed to the adapters, only once db_busy is false;
 * until then they wait, the loop going on (a calendar fetched during a
 * batch blocked on a lock would otherwise hold the loop, /healthz and every
 * send with it, until the lock is gone).  Inside a transaction the writes
 * are sent ahead without waiting, their answers read with the next read's
 * or the COMMIT's (the pipeline of storage/sql_pg.c).  A use of db from the
 * loop while a thread holds it waits for the thread (db__async_settle);
 * the platforms' adapters and the scheduler ask db_busy first and come back
 * when it is free.
 *
 * Transactions, the one rule:
 *
 * - The core (bot/) owns the batch transaction.  It begins it with
 *   db_begin(), runs the handlers of one event or batch inside it, and
 *   ends it with db_commit(), db_commit_start() or db_rollback().  Storage
 *   functions never begin or commit on their own, except those whose
 *   contract says "in a transaction of its own" (db_kv_put,
 *   db_chat_deactivate, db_transact, db_transact_start,
 *   db_outbox_forget_start, ...).
 * - An adapter never calls db_begin, db_commit or db_rollback.  It calls
 *   narrow storage functions: either one that is its own transaction, or,
 *   from inside a handler the core runs, one that writes in the core's open
 *   batch.  An adapter that must group several writes passes them to
 *   db_transact() (db_transact_start() when their commit is better done on
 *   a thread), and one that reads much at once brackets the reads with
 *   db_begin_read() and db_end_read().
 * - Beginning while the core's batch is open finishes that batch first:
 *   db_begin (and so db_transact, db_transact_start and every "transaction
 *   of its own") calls the yield function the core set with db_set_yield
 *   (bot__yield), which dispatches the batch's remaining events and commits
 *   it there and then; its replies still wait for a later turn of the loop.
 *   This is the only way a batch ends inside someone else's call.  An
 *   adapter that would rather not finish a batch early asks
 *   bot_batch_open() first and waits (tg__resume does).
 * - Threads: everything here runs on the loop's thread, except the COMMIT
 *   of db_commit_start (and of db_transact_start, db_outbox_forget_start),
 *   and the whole function given to db_run_start, which run on a thread of
 *   the loop's pool (storage/db_async.c).  Any use of db from the loop
 *   meanwhile first waits for that thread; db_busy tells whether it
 *   would.
 */
#ifndef ENSEMBLE_DB_H
#define ENSEMBLE_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/strbuf.h"

#define DB_SCHEMA_VERSION 14

struct db;

/* Opens (creating if needed) and migrates the database at path.  On
 * failure returns -1 and appends a sentence for the operator to err. */
int db_open(struct db **out, const char *path, struct strbuf *err);
void db_close(struct db *db);
const char *db_path(const struct db *db);
/* The database as the operator's messages name it: the SQLite file's
 * path, or on PostgreSQL its name, host or socket (never the target
 * string, which may hold a password).  Valid until db_close. */
const char *db_name(const struct db *db);
int db_schema_version(struct db *db);
/* Whether the database file at path answers a query, as a restart would
 * find it: opened anew, read-only, and its schema read.  This fails when
 * the file was removed or moved away, can no longer be read (permissions,
 * a failing disk), is no database, or stays locked for over a second; it
 * writes nothing and creates nothing.  It opens a
 * connection of its own, closed before it returns, so it may run on any
 * thread while the loop uses the database (GET /healthz runs it on the
 * loop's pool).  Returns 0, or -1 with SQLite's reason in why (whylen
 * bytes, NUL-terminated). */
int db_probe(const char *path, char *why, size_t whylen);

/* ---- engines and leadership (db_lead.c) ----
 *
 * db_open's target is an SQLite file's path or a PostgreSQL database
 * (sql_is_postgres in storage/sql.h tells them apart).  Several instances
 * may share one PostgreSQL database; exactly one of them leads: it alone
 * writes, runs the scheduler and talks to the platforms.  Leadership is a
 * session-level advisory lock taken on the very connection that writes,
 * so that a write can only commit while the lock is held (the server
 * releases it when the session ends, a dead instance's included).  On
 * SQLite an instance always leads.
 *
 * db_open on PostgreSQL connects, refuses a database of a newer schema,
 * and tries the lock once: taken, it migrates the schema and the instance
 * leads; held by another instance, it returns 0 with the instance standing
 * by (db_leads false; nothing migrated, nothing written). */

/* Tries to take the leadership, for an instance standing by (call it
 * about every second).  1 when this instance now leads (the schema was
 * migrated as db_open does), 0 when another instance still leads, -1 when
 * the database cannot be reached (logged; try again later).  1 at once on
 * SQLite or when already leading. */
int db_lead_try(struct db *db);
/* Whether this instance leads.  Always true on SQLite. */
bool db_leads(const struct db *db);
/* Sets the function called, from the loop's thread, when this instance
 * loses the leadership: its session ended (a lost connection) and the new
 * one could not take the lock again, another instance having taken it.
 * From then on every write fails; the owner stops talking to the
 * platforms at once (the daemon exits, to come back standing by). */
void db_set_lost_fn(struct db *db, void (*fn)(void *user), void *user);
/* The engine db runs on (an enum sql_engine of storage/sql.h). */
int db_engine(const struct db *db);
/* True when each statement is a round trip to a server (PostgreSQL):
 * then the core's batches run on a thread (db_run_start). */
bool db_round_trips(const struct db *db);

/* ---- backups and checks (db_backup.c) ---- */

/* What db_backup copied. */
struct db_backup_info {
	int64_t bytes; /* the copy's size */
	int version;   /* its schema version: the original's, never migrated */
	int delivered; /* outbox rows the journal said were delivered, taken out */
};
/* Copies the database at path, which a running bot may be using, to dest:
 * a consistent copy made with SQLite's online backup API, which neither
 * writes path nor holds the bot up, and into which the deliveries of
 * path's journal (DB-acks) are folded as db_open applies them, so that the
 * copy alone is complete.  The copy keeps the original's schema version.
 * dest is created 0600 and appears whole or not at all; an existing dest
 * is refused, never overwritten.  Fills *info.  Returns 0, or -1 with a
 * sentence appended to err (dest then does not exist). */
int db_backup(const char *path, const char *dest, struct db_backup_info *info, struct strbuf *err);
/* Checks the database at path without writing it (opened read-only, never
 * migrated): SQLite's integrity and foreign key checks, then the bot's own
 * rules, which the schema does not enforce, when path is at this build's
 * schema version.  Calls report(user, problem) for each problem found, a
 * sentence valid during the call, and stores the schema version in
 * *version.  Returns 0 when the checks ran (whatever they found); -1 with
 * a sentence appended to err when they could not, path being unreadable,
 * not a database or written by a newer Ensemble. */
int db_check(const char *path, void (*report)(void *user, const char *problem), void *user, int *version,
             struct strbuf *err);

/* Opens a transaction (BEGIN IMMEDIATE).  When one is already open and a
 * yield function is set, that function is called first: it is the owner's
 * chance to end the open transaction (the bot commits the batch it spreads
 * over turns of the loop), so that whoever needs the database next gets
 * it. */
int db_begin(struct db *db);
/* Begins a transaction for reads (BEGIN DEFERRED), ended by db_commit or
 * db_rollback: many reads then take SQLite's file locks once rather than
 * each (some 8 fcntl calls a statement).  It never waits for a writer (in
 * WAL mode readers are not blocked).  -1 when a transaction is already open
 * (the reads then run in it) or it cannot begin. */
int db_begin_read(struct db *db);
/* Ends the reads begun with db_begin_read (it commits: nothing was
 * written).  0 or -1. */
int db_end_read(struct db *db);
/* Runs fn(db, user) in a transaction of its own, for an adapter's writes
 * that belong together: begins it (db_begin, so the core's open batch is
 * committed first, see the rule above), commits when fn returns 0 and rolls
 * back when it does not.  0 when committed; -1 when the transaction could
 * not begin, fn failed or the commit failed (then nothing of fn is kept). */
int db_transact(struct db *db, int (*fn)(struct db *db, void *user), void *user);
/* Sets or, with fn NULL, clears the yield function of db_begin. */
void db_set_yield(struct db *db, void (*fn)(void *user), void *user);
int db_commit(struct db *db);
int db_rollback(struct db *db);
/* True from db_begin to the end of the commit or rollback (an asynchronous
 * commit included). */
bool db_in_transaction(const struct db *db);

struct uv_loop_s;
/* Commits the open transaction on a thread of loop's pool, so that the
 * loop goes on while the pages are written (a batch of a hundred updates
 * writes a few hundred).  Until the commit ends the transaction
 * counts as open, and any use of db from the loop's thread first waits for
 * the commit to end.  done(user, rc) is then called from the loop, on a
 * later turn: rc 0 when committed; -1 when the commit failed (logged) and
 * the transaction was rolled back.  Returns 0 when the commit started; -1
 * when it could not (the transaction is still open: commit it with
 * db_commit or roll it back). */
int db_commit_start(struct db *db, struct uv_loop_s *loop, void (*done)(void *user, int rc), void *user);
/* As db_transact, for writes many enough that their commit is better
 * done on a thread: begins the transaction (the core's open batch is
 * committed first) and runs fn(db, user), which returns 1 to have the
 * transaction committed as db_commit_start does, 0 to have it committed
 * here, or -1 to have it rolled back.  done(user, rc) is then called with
 * the commit's result (-1 when rolled back): from the loop on a later turn
 * when committed on a thread, before returning otherwise.  Returns 0 when
 * fn ran; -1 when the transaction could not begin (fn and done were not
 * called: the caller goes on without a transaction). */
int db_transact_start(struct db *db, struct uv_loop_s *loop, int (*fn)(struct db *db, void *user),
                      void (*done)(void *user, int rc), void *user);
/* Runs fn(db, user) with no transaction, its kv writes (db_kv_set,
 * db_kv_set_about, db_kv_delete) journaled rather than committed: for the few rows an
 * answered send leaves (what a message or a poll became), which must
 * survive a crash from the moment they are set, without a commit each.
 * On SQLite with a delivery journal (DB-acks, see db_outbox.c) each such
 * write appends the row to the journal, one write() that a SIGKILL cannot
 * undo, and keeps it in memory, where db_kv_get finds it, until the next
 * transaction writes it to kv (db_begin does, before anything else); a
 * crash before that has db_open write it, as it applies the journal's
 * deliveries.  fn must write nothing but kv.  Returns 0 when fn ran and
 * returned 0; -1 when fn failed or a write could not be journaled (logged;
 * the rows are kept in memory, written by the next transaction); 1 when
 * the database cannot journal (PostgreSQL, an in-memory database, a broken
 * journal, a transaction open or committing): fn did not run, and the
 * caller uses a transaction. */
int db_journal_run(struct db *db, int (*fn)(struct db *db, void *user), void *user);
/* Between db_journal_hold and db_journal_flush, the journal's records (a
 * delivery's, from db_outbox_done; a kv row's, from db_journal_run) are
 * gathered in memory and appended by the flush, all in one write(), rather
 * than one write() each.  For records made with nothing sent in between,
 * as the answers one settle stores and acknowledges (adapters/send_queue.c):
 * they become durable together, before anything else goes out, which is
 * all the journal promises (at most the message out at a crash is sent
 * again).  A transaction's commit rewrites the journal from memory, which
 * holds every gathered record, and so drops them.  Nothing on PostgreSQL,
 * where deliveries are rows (db_acks.c).  A hold without its flush is
 * flushed by db_close. */
void db_journal_hold(struct db *db);
void db_journal_flush(struct db *db);
/* Runs fn(db, user) on a thread of the loop's pool, which owns db until
 * fn returns: fn begins, writes, commits and rolls back there as it would
 * on the loop's thread (it must not call anything that needs the loop).
 * Meanwhile db_busy is true, every use of db from the loop's thread first
 * waits for fn to return, except db_outbox_done, which keeps the delivery
 * aside (storage/db_async.c); done(user) is then called from the loop, on
 * a later turn, unless db_commit_wait waited for the run first.  For
 * PostgreSQL, where each statement is a round trip (bot/bot.c).  Returns 0
 * when the run started; -1 when it could not (a transaction is open, or
 * no memory): fn and done are not called. */
int db_run_start(struct db *db, struct uv_loop_s *loop, void (*fn)(struct db *db, void *user), void (*done)(void *user),
                 void *user);
/* As db_transact_start, but the whole transaction on a thread (through
 * db_run_start): begins it, runs fn(db, user), which returns -1 to have it
 * rolled back and anything else to have it committed, and commits.  fn
 * runs on the thread and must touch nothing the loop uses meanwhile.
 * done(user, rc) is then called from the loop on a later turn: 0 when
 * committed, -1 when the transaction could not begin (fn not called) or
 * was rolled back.  Returns 0 when started; -1 when it could not start
 * (neither fn nor done is called).  For PostgreSQL (db_round_trips). */
int db_transact_run(struct db *db, struct uv_loop_s *loop, int (*fn)(struct db *db, void *user),
                    void (*done)(void *user, int rc), void *user);
/* True while a commit started here may still be running: using db now
 * would wait for it.  An owner that would rather not wait tries again when
 * the function set with db_set_free_fn is called: from the loop, each time
 * such a commit's end has been reported (after its done function), and no
 * other runs. */
bool db_busy(const struct db *db);
void db_set_free_fn(struct db *db, void (*fn)(void *user), void *user);
/* Waits for the commit started by db_commit_start (or the run of
 * db_run_start), if its done function has not been called yet, and returns
 * its result (0 or -1; 0 for a run); that function is then never called.
 * Returns 0 when there is none. */
int db_commit_wait(struct db *db);

/* A chat as the core knows it. */
struct db_chat {
	int64_t id;
	char platform[16];
	char ext_id[256]; /* the platform's chat id */
	char lang[8];
	char tz[64];
	char admin[256]; /* ext id of the user who is its admin when the
	                    platform has no roles (the first user) */
	bool active;
	char remind[64];        /* reminder offsets in minutes, "1440,60"; "" off */
	bool nudge;             /* nudge non-voters before a poll's deadline */
	int interest_threshold; /* people on a topic before a group is offered */
};

/* Finds the chat (platform, ext_id), creating it with lang and tz (and the
 * reminder offsets of db_set_chat_remind) when it does not exist.  Returns
 * 1 when found, 0 when created, -1 on error. */
int db_chat_get(struct db *db, const char *platform, const char *ext_id, const char *lang, const char *tz,
                struct db_chat *out);
/* The reminder offsets ("1440,60", the default; "" for none) of the chats
 * db_chat_get creates from now on; copied.  0, or -1 when too long. */
int db_set_chat_remind(struct db *db, const char *offsets);
/* Loads chat by row id: 1, 0 when there is none, -1. */
int db_chat_by_id(struct db *db, int64_t chat_id, struct db_chat *out);
int db_chat_set_lang(struct db *db, int64_t chat_id, const char *lang);
int db_chat_set_tz(struct db *db, int64_t chat_id, const char *tz);
int db_chat_set_admin(struct db *db, int64_t chat_id, const char *user_ext_id);
int db_chat_set_active(struct db *db, int64_t chat_id, bool active);
/* Marks the chat ext_id of platform inactive (the platform says the bot
 * is no longer in it), creating its row with lang and tz when it has none,
 * in a transaction of its own.  0 or -1. */
int db_chat_deactivate(struct db *db, const char *platform, const char *ext_id, const char *lang, const char *tz);
/* The chat's name as its platform shows it (a Matrix room's name), for
 * lists that span chats: set (""  when it has none: 0 or -1), and read
 * into out (1, 0 when it has none, -1). */
int db_chat_set_title(struct db *db, int64_t chat_id, const char *title);
int db_chat_title(struct db *db, int64_t chat_id, char *out, size_t outlen);
/* The chat (platform, old_id) is now (platform, new_id): a Telegram group
 * that became a supergroup keeps all its data.  0 or -1. */
int db_chat_migrate(struct db *db, const char *platform, const char *old_id, const char *new_id);
int db_chat_set_remind(struct db *db, int64_t chat_id, const char *offsets);
int db_chat_set_nudge(struct db *db, int64_t chat_id, bool on);
int db_chat_set_interest_threshold(struct db *db, int64_t chat_id, int n);

/* Private reminders (/remind me): 1 when user asked for them in chat. */
int db_private_reminder_get(struct db *db, int64_t chat_id, int64_t user_id);
int db_private_reminder_set(struct db *db, int64_t chat_id, int64_t user_id, bool on);

/* The durable outbox: each action is stored in the transaction that made
 * it and removed once delivered, so a crash repeats at most what was in
 * flight and loses nothing. */
int db_outbox_add(struct db *db, const char *action_json, int64_t now_ms, int64_t *id);
int db_outbox_remove(struct db *db, int64_t id);
/* Removes the stored actions of kind (an enum action_kind) addressed to
 * chat_id on platform: what waits for someone who asked to be forgotten.
 * Actions already handed to an adapter are not called back.  Stores how
 * many went in *n.  0 or -1. */
int db_outbox_remove_to(struct db *db, int kind, const char *platform, const char *chat_id, int *n);
/* Calls fn for each stored action, oldest first. */
int db_outbox_each(struct db *db, int (*fn)(void *user, int64_t id, const char *json), void *user);
/* Records that the action stored as id was delivered (or failed for good).
 * The record is durable when this returns (a write to the journal DB-acks,
 * or on PostgreSQL a row of outbox_acks, which survives a crash of the
 * process); the row itself is deleted by a later db_outbox_forget.  Cannot
 * fail: without memory or a working journal, the row is sent again after
 * a restart or deleted sooner. */
void db_outbox_done(struct db *db, int64_t id, int64_t now_ms);
/* Whether enough deliveries (or old enough ones) wait to be worth a
 * transaction of their own; always when the journal does not work. */
bool db_outbox_should_forget(const struct db *db, int64_t now_ms);
/* Inside the open transaction: deletes the rows of the deliveries
 * recorded; the journal is emptied when the transaction commits. 0 or -1. */
int db_outbox_forget(struct db *db);
/* As db_commit_start, for the outbox rows of the deliveries recorded so far
 * (db_outbox_done), in a transaction of their own: begun here, their
 * deletes and the commit run on the thread.  0 when started; -1 when not
 * (a transaction is open or a commit runs, nothing to forget, or it could
 * not start: call db_outbox_forget in a transaction of yours). */
int db_outbox_forget_start(struct db *db, struct uv_loop_s *loop);

/* The database's figures for /metrics.  They are read off the loop's
 * thread, with a read-only connection of their own (in WAL mode it neither
 * waits for the bot's writes nor holds them up), so that counting a
 * million pending jobs never stalls the loop: db_stats_begin, on the
 * loop's thread, copies what the read needs of db (its path, and the
 * deliveries whose rows are not deleted yet, which are not waiting
 * anymore); db_stats_read then runs on any thread, as often as wanted;
 * db_stats_end frees.  begin returns NULL out of memory; read returns 0,
 * or -1 (logged) when the database could not be read. */
struct db_stats {
	int64_t outbox;           /* messages stored and not delivered yet */
	int64_t outbox_oldest_ms; /* when the oldest of them was stored; 0: none */
	int64_t jobs;             /* pending jobs (reminders, deadlines, nudges, series) */
	int64_t size_bytes;       /* the database's pages times their size */
};
struct db_stats_read;
struct db_stats_read *db_stats_begin(const struct db *db);
int db_stats_read(struct db_stats_read *r, struct db_stats *out);
void db_stats_end(struct db_stats_read *r);

/* Records that user (platform, ext_id) called name (the ext_id when NULL
 * or "") was seen in chat at time t; creates the user.  When name_is_guess
 * (the platform did not say the name: Matrix's localpart), a user already
 * stored keeps the stored name and a new one is stored under name.
 * Stores the user's row id in *user_id.  The member row's last_seen is
 * refreshed at most hourly, and up to two hours late (see db_chat.c). */
int db_user_seen(struct db *db, int64_t chat_id, const char *platform, const char *ext_id, const char *name,
                 bool name_is_guess, time_t t, int64_t *user_id);
/* Takes a user out of chat's members (those around, those asked to vote):
 * for a sender who stands for several people.  0 or -1. */
int db_member_drop(struct db *db, int64_t chat_id, int64_t user_id);

/* A small key-value store for adapters' state (offsets, sync tokens).
 * db_kv_get returns 1 and appends the value to out, 0 when absent, -1. */
int db_kv_get(struct db *db, const char *key, struct strbuf *out);
int db_kv_set(struct db *db, const char *key, const char *value);
/* As db_kv_set, for state that names a person: person is their id on the
 * platform and chat the chat's (NULL: state of theirs that belongs to no
 * chat, such as their private room).  The key begins with the platform's
 * name and a dot ("matrix."), which is how db_forget_user knows the
 * platform: it removes the person's rows of the chat, and those of no chat
 * once nothing else of theirs is kept. */
int db_kv_set_about(struct db *db, const char *key, const char *value, const char *chat, const char *person);
/* Calls fn for every key starting with prefix, in key order; fn returns 0
 * to go on.  0, or -1 (an error, or fn's non-zero). */
int db_kv_each(struct db *db, const char *prefix, int (*fn)(void *user, const char *key, const char *value),
               void *user);
/* Sets key to value (NULL: removes it) in a transaction of its own, for
 * state learnt outside a batch (what a send returned).  0 or -1. */
int db_kv_put(struct db *db, const char *key, const char *value);
int db_kv_put_about(struct db *db, const char *key, const char *value, const char *chat, const char *person);
/* Removes key; 0 (also when absent) or -1. */
int db_kv_delete(struct db *db, const char *key);

/* Platform events already handled (a Matrix event id): db_seen_check
 * returns 1 when ext_id was marked, 0 when not, -1 on error;
 * db_seen_prune forgets marks older than before_ms (0 or -1).  A batch's
 * n ids (NULL ones skipped) go in one statement each way: db_seen_which
 * sets seen[i] for each ids[i] marked (0 or -1); db_seen_mark_all marks
 * them all at at_ms (0 or -1). */
int db_seen_check(struct db *db, const char *platform, const char *ext_id);
int db_seen_prune(struct db *db, int64_t before_ms);
int db_seen_which(struct db *db, const char *platform, const char *const *ids, size_t n, bool *seen);
int db_seen_mark_all(struct db *db, const char *platform, const char *const *ids, size_t n, int64_t at_ms);

/* A person as lists show them. */
struct db_person {
	int64_t user_id;
	char ext_id[256];
	char name[128];
	int answer;       /* what the list is about: an RSVP answer, ... */
	bool waiting;     /* RSVPs: on the waiting list */
	bool reconfirm;   /* RSVPs: asked to confirm again after a move */
	char answers[16]; /* votes: one of 'y', 'm', 'n' per slot */
};

struct db_people {
	struct db_person *v;
	size_t n, alloc;
};
void db_people_release(struct db_people *p);

/* The chat's known members (everyone the bot has seen there), by name. */
int db_chat_members(struct db *db, int64_t chat_id, struct db_people *out);

/* ---- meetups ---- */

#define MEETUP_MAX_SLOTS 10

enum meetup_state {
	MEETUP_POLL = 0,      /* the date poll is open */
	MEETUP_CONFIRMED = 1, /* a date is fixed */
	MEETUP_CANCELLED = 2,
	MEETUP_NO_QUORUM = 3, /* the poll closed without enough "yes" */
};

struct db_slot {
	int idx; /* 1-based, as shown */
	time_t start;
	int duration_min;
};

struct db_meetup {
	int64_t id;
	int64_t chat_id;
	int num; /* the short id in its chat: #num */
	char title[1024];
	char place[1024];
	int64_t creator; /* 0 once its creator asked to be forgotten */
	char creator_ext[256];
	char creator_name[128];
	enum meetup_state state;
	int duration_min;
	time_t deadline; /* 0: none */
	int quorum;      /* 0: none */
	int max_people;  /* 0: no cap */
	int chosen;      /* slot idx once confirmed, 0 before */
	time_t start;    /* confirmed start, 0 before */
	time_t created;
	char remind[64]; /* its own reminder offsets, when has_remind */
	bool has_remind;
	int64_t series_id; /* the series it belongs to, 0 when none */
	int64_t group_id;  /* the group it belongs to, 0 when none */
	int nslots;
	struct db_slot slots[MEETUP_MAX_SLOTS];
};

/* Inserts m (its id and num are assigned and stored back). */
int db_meetup_insert(struct db *db, struct db_meetup *m);
/* Loads meetup #num of chat.  Returns 1, 0 when there is none, -1. */
int db_meetup_get(struct db *db, int64_t chat_id, int num, struct db_meetup *out);
int db_meetup_get_by_id(struct db *db, int64_t id, struct db_meetup *out);
/* Stores the mutable fields of m: title, place, state, duration, deadline,
 * chosen, start, remind. */
int db_meetup_update(struct db *db, const struct db_meetup *m);
/* Short ids of the chat's meetups in one of the states of mask (bit per
 * state), not yet over at now, in order.  Fills at most max. */
/* The confirmed meetups not over at now, numbered num (any when 0), of
 * the chats where user_id is a known member, soonest first: their ids in
 * ids (up to max), and how many there are in *count.  0 or -1. */
int db_meetups_of_user(struct db *db, int64_t user_id, int num, time_t now, int64_t *ids, int max, int *count);
/* 1 when user_id is a known member of chat_id, 0 when not, -1. */
int db_member_of(struct db *db, int64_t chat_id, int64_t user_id);
int db_meetup_list(struct db *db, int64_t chat_id, unsigned state_mask, time_t now, int *nums, int max, int *count);
/* What a line of /meetup list shows of a meetup, read for all of them in
 * one query rather than a meetup and a count at a time. */
struct db_meetup_line {
	int num;
	enum meetup_state state;
	char title[1024];
	time_t start; /* confirmed start, 0 before */
	int duration_min;
	int64_t series_id; /* 0 when none */
	int64_t group_id;  /* 0 when none */
	int count;         /* a poll's votes, a meetup's confirmed places */
};
/* Like db_meetup_list, for the open polls and the confirmed meetups not
 * over at now, of group_id only unless it is 0: *out (owned by the
 * caller, free() it) holds *n lines, at most max from the offset-th on,
 * and *total says how many there are in all. */
int db_meetup_lines(struct db *db, int64_t chat_id, int64_t group_id, time_t now, int offset, int max,
                    struct db_meetup_line **out, int *n, int *total);

/* Votes: answers holds one of 'y' (yes), 'm' (if need be), 'n' (no) per
 * slot; NULL withdraws the vote. */
int db_vote_set(struct db *db, int64_t meetup_id, int64_t user_id, const char *answers, time_t t);
int db_votes(struct db *db, int64_t meetup_id, struct db_people *out);
/* Who has not voted on the meetup among its audience: the members of
 * group_id but those waiting (in the group's order) or, when group_id is
 * 0, the known members of chat_id (in the order first seen).  Reads the first limit of
 * them into out and stores how many there are in *total.  0 or -1. */
int db_non_voters(struct db *db, int64_t meetup_id, int64_t chat_id, int64_t group_id, int limit, struct db_people *out,
                  int *total);

/* RSVPs: answer 2 yes, 1 maybe, 0 no.  Listed in the order they came.
 * A meetup's list, once read, is kept in memory and updated by these
 * writes (db_rsvp_cache.c): db_rsvps, db_rsvp_summary and
 * db_rsvp_first_waiting then read no row.  That holds because only this
 * process writes RSVPs (the leading instance, on PostgreSQL); a change
 * made by another program while the bot runs is not seen until a
 * rollback, a rename or /forget me empties the caches. */
int db_rsvp_set(struct db *db, int64_t meetup_id, int64_t user_id, int answer, bool waiting);
int db_rsvp_clear_reconfirm(struct db *db, int64_t meetup_id, int64_t user_id);
/* Removes user_id's answer to meetup_id (no answer at all).  0 or -1. */
int db_rsvp_delete(struct db *db, int64_t meetup_id, int64_t user_id);
int db_rsvp_mark_reconfirm(struct db *db, int64_t meetup_id);
int db_rsvps(struct db *db, int64_t meetup_id, struct db_people *out);

/* Lists read ahead.  At a batch's end the core renders the card or poll of
 * each meetup the batch changed from its RSVPs or votes: on PostgreSQL a
 * round trip each, which the loop waits for.  db_read_ahead reads the
 * lists of the n meetups ids (repeats allowed) in one statement; db_rsvps
 * (db_votes for DB_LIST_VOTES) then takes a meetup's list from what is
 * held, once, instead of reading it.  What is held is dropped by any write
 * that changes such a list (an RSVP, a vote, a person renamed or
 * forgotten), by a rollback, and by db_read_ahead_drop, which the caller
 * calls when done.  On SQLite, where a read costs no round trip, nothing
 * is read ahead.  0, or -1 (logged: each list is then read when asked
 * for, as without it). */
enum db_list { DB_LIST_RSVPS, DB_LIST_VOTES, DB_LIST_COUNT };
int db_read_ahead(struct db *db, enum db_list list, const int64_t *ids, size_t n);
void db_read_ahead_drop(struct db *db);
/* What answering needs, without reading the whole list: how many come and
 * how many wait, and the user's own answer with their place in the
 * waiting list.  An RSVP costs the same with 10 or 500 answers. */
struct db_rsvp_summary {
	int nin, nwaiting;   /* yes with a place; yes on the waiting list */
	bool have_me;        /* the user has answered */
	struct db_person me; /* the user's name (empty when unknown); when
	                        have_me, their answer and place */
	int my_place;        /* when waiting: 1 for the first in line */
};
int db_rsvp_summary(struct db *db, int64_t meetup_id, int64_t user_id, struct db_rsvp_summary *out);
/* The first one on the waiting list: 1 (*out filled), 0 when nobody
 * waits, -1. */
int db_rsvp_first_waiting(struct db *db, int64_t meetup_id, struct db_person *out);

/* ---- interests and peer groups ---- */

/* Interests are kept under a folded key (case, accents and spaces do not
 * matter) with the topic as first typed. */
struct db_topic {
	char key[256];
	char topic[256];
	int count;
};

/* Adds (on) or removes user's interest.  Returns 1 when it changed, 0 when
 * it was already so, -1. */
int db_interest_set(struct db *db, int64_t chat_id, const char *key, const char *topic, int64_t user_id, bool on);
/* The chat's topics, most wanted first: fills out with at most max of
 * them from the offset-th on (*n), and stores how many there are in all
 * in *total.  0 or -1. */
int db_interest_topics(struct db *db, int64_t chat_id, int offset, struct db_topic *out, int max, int *n, int *total);
int db_interest_people(struct db *db, int64_t chat_id, const char *key, struct db_people *out);
/* Marks a topic as announced; 1 when it was not yet, 0 when it was, -1. */
int db_interest_alert(struct db *db, int64_t chat_id, const char *key);

struct db_group {
	int64_t id;
	int64_t chat_id;
	char name[256];
	char topic[512];
	int max_members; /* 0: no cap */
	bool closed;
};

/* Creates g (id set); -1 also when the name is taken (see db_group_find). */
int db_group_insert(struct db *db, struct db_group *g, const char *name_key);
/* The open group of chat called name_key (folded): 1, 0, -1. */
int db_group_find(struct db *db, int64_t chat_id, const char *name_key, struct db_group *out);
int db_group_get(struct db *db, int64_t id, struct db_group *out);
int db_group_close(struct db *db, int64_t id);
/* The chat's open groups by name: at most max from the offset-th on (*n),
 * and how many there are in all (*total).  0 or -1. */
int db_group_list(struct db *db, int64_t chat_id, int offset, struct db_group *out, int max, int *n, int *total);
/* The short id of g's next confirmed meetup not over at now: 1 (*num
 * set), 0 when there is none, -1. */
int db_group_next_meetup(struct db *db, const struct db_group *g, time_t now, int *num);
/* Members in the order they came; db_person.answer is 1 for a contact
 * person, .waiting for the waiting list. */
int db_group_members(struct db *db, int64_t group_id, struct db_people *out);
int db_group_member_set(struct db *db, int64_t group_id, int64_t user_id, bool contact, bool waiting);
int db_group_member_remove(struct db *db, int64_t group_id, int64_t user_id);
/* The display name of user row id into name: 1, 0, -1. */
int db_user_name(struct db *db, int64_t user_id, char *name, size_t namelen);
/* The user's row in users by platform id: 1, 0, -1. */
int db_user_find(struct db *db, const char *platform, const char *ext_id, int64_t *user_id, char *name, size_t namelen);
/* The open groups of user across every chat of platform, a page at a time
 * as db_group_list. */
int db_user_groups(struct db *db, int64_t user_id, int offset, struct db_group *out, int max, int *n, int *total);
/* Forgets user in chat (/forget me): their interests, group memberships
 * and waiting places, votes, RSVPs, private reminder setting, dialogue and
 * membership of the chat (name and last seen) go; the meetups they
 * proposed stay, without a creator; the chat's admin, when it was them,
 * is cleared.  The user row goes too when no other chat has anything of
 * theirs.  Counts what went in counts: interests, group memberships,
 * votes, RSVPs, private reminder settings.  0 or -1. */
#define DB_FORGET_COUNTS 5
int db_forget_user(struct db *db, int64_t chat_id, int64_t user_id, int counts[DB_FORGET_COUNTS]);

/* What a chat keeps of one person (/export me), by kind.  Each row is
 * (num, text, answer, waiting, closed), as the kind says. */
enum db_export_kind {
	DB_EXPORT_MEMBER,            /* one row at most: num last seen, text the name */
	DB_EXPORT_INTERESTS,         /* text the topic */
	DB_EXPORT_GROUPS,            /* text the name; answer 1 contact person; waiting, closed */
	DB_EXPORT_VOTES,             /* num the meetup's #num; text the answers (y, m, n a date) */
	DB_EXPORT_RSVPS,             /* num; answer 2 yes, 1 maybe, 0 no; waiting */
	DB_EXPORT_MEETUPS,           /* the meetups they proposed: num, text the title */
	DB_EXPORT_PRIVATE_REMINDERS, /* one row when they asked for them */
};
struct db_export_row {
	int64_t num;
	const char *text; /* valid during the call only */
	int answer;
	bool waiting, closed;
};
/* Calls fn for each row of kind for user in chat, in a stable order; fn
 * returns 0 to go on.  0, or -1 (an error, or fn's non-zero). */
int db_export_each(struct db *db, enum db_export_kind kind, int64_t chat_id, int64_t user_id,
                   int (*fn)(void *user, const struct db_export_row *row), void *user);

/* ---- recurring series ---- */

struct db_series {
	int64_t id;
	int64_t chat_id;
	char rule[32]; /* "week", "2weeks", "month", "nth:N:WEEKDAY" */
	bool poll;     /* each next session is a date poll */
	bool active;
};

int db_series_insert(struct db *db, struct db_series *s);
/* 1, 0 when there is none, -1. */
int db_series_get(struct db *db, int64_t id, struct db_series *out);
int db_series_stop(struct db *db, int64_t id);

/* ---- the web side: calendar links and feeds (storage/db_web.c) ---- */

/* A link is a capability to read a feed: the chat's (and its web page),
 * a group's, or a person's (every meetup they come to, across chats); or
 * to vote on the chat's polls as one of its members, on the web page, for
 * a week.  Its token is never stored: web/ derives it from the salt, and
 * the row keeps its SHA-256. */
enum db_web_kind {
	DB_WEB_CHAT = 1,
	DB_WEB_GROUP = 2,
	DB_WEB_PERSON = 3,
	DB_WEB_VOTE = 4,
};
#define DB_WEB_SALT 16
#define DB_WEB_HASH 32
#define DB_WEB_KEY 32 /* the links' HMAC key, bytes */

struct db_web_link {
	enum db_web_kind kind;
	int64_t chat_id;    /* the chat's (a group's chat too); 0 for a person's */
	int64_t group_id;   /* DB_WEB_GROUP's group, else 0 */
	int64_t user_id;    /* DB_WEB_PERSON's and DB_WEB_VOTE's person, else 0 */
	int64_t expires_ms; /* when it stops opening anything; 0: never */
	unsigned char salt[DB_WEB_SALT];
	unsigned char hash[DB_WEB_HASH];
	/* Read by db_web_link_find: how far the feed's data has changed, a
	 * number that only grows (the chat's counter; for a person, summed over
	 * their chats with their count), and the last change's Unix time. */
	int64_t rev;
	int64_t changed;
};

/* The key web/ derives the links' tokens from, when the database keeps it
 * (db_keeps_web_key): on PostgreSQL, where every instance of a standby pair must derive the
 * same links (on SQLite web/ keeps it in a file of its own, DB.webkey, so
 * that a copy of the database opens no feed).  db_web_key_get copies the
 * stored key (exactly len bytes) into key: 1, 0 when none is stored (or
 * on SQLite), -1.  db_web_key_offer stores key unless one is stored
 * already, in a transaction of its own: 0 or -1; the caller then reads the
 * key that won, its own or another instance's. */
bool db_keeps_web_key(const struct db *db);
int db_web_key_get(struct db *db, unsigned char *key, int len);
int db_web_key_offer(struct db *db, const unsigned char *key, int len);

/* The link of (kind, chat_id, group_id, user_id) as l gives them, into l's
 * salt and hash: 1, 0 when it has none, -1. */
int db_web_link_get(struct db *db, struct db_web_link *l);
/* Stores l (salt and hash set) as the link of its (kind, chat, group,
 * person), replacing the one it had.  0 or -1. */
int db_web_link_put(struct db *db, const struct db_web_link *l, int64_t now_ms);
/* The link whose token hashes to hash, with its rev and changed, in one
 * statement: 1 (*out filled), 0 when there is none, -1. */
int db_web_link_find(struct db *db, const unsigned char hash[DB_WEB_HASH], struct db_web_link *out);
/* Revokes the links of chat_id's feeds (the chat's and its groups') and
 * its members' links to vote.  0 or -1.  A person's links go with /forget
 * me (db_forget_user). */
int db_web_links_drop(struct db *db, int64_t chat_id);
/* The platform's id and the name of user_id, as the chat shows it: 1, 0
 * when there is no such user, -1. */
int db_web_user(struct db *db, int64_t user_id, char *ext_id, size_t extlen, char *name, size_t namelen);

/* A meetup as a calendar shows it. */
struct db_web_event {
	int64_t id;
	int64_t chat_id;
	int num;
	char title[1024];
	char place[1024];
	enum meetup_state state; /* MEETUP_CONFIRMED or MEETUP_CANCELLED */
	time_t start;
	int duration_min;
	int max_people; /* 0: no cap */
	int64_t group_id;
	int seq; /* grows at each change of title, place, time or state */
};
/* Calls fn for each meetup the feed of l shows: confirmed or cancelled
 * with a date, ending at or after since, soonest first; those of l's chat,
 * of its group, or those its person comes to (a place, not waiting).  fn
 * returns 0 to go on.  0, or -1 (an error, or fn's non-zero). */
int db_web_events(struct db *db, const struct db_web_link *l, time_t since,
                  int (*fn)(void *user, const struct db_web_event *e), void *user);

/* ---- the scheduler's jobs ---- */

struct db_job {
	int64_t id;
	int64_t due_ms;
	int kind;
	int64_t meetup_id; /* 0: none */
	int64_t arg;
};

int db_job_add(struct db *db, int64_t due_ms, int kind, int64_t meetup_id, int64_t arg);
/* The earliest pending job's due time.  Returns 1, 0 when none, -1. */
int db_job_next_due(struct db *db, int64_t *due_ms);
/* The earliest pending job due at or before now_ms.  1, 0 when none, -1. */
int db_job_take(struct db *db, int64_t now_ms, struct db_job *out);
int db_job_done(struct db *db, int64_t id);
int db_job_postpone(struct db *db, int64_t id, int64_t due_ms);
/* How many pending jobs of kind for meetup are due at or before now_ms. */
int db_jobs_due_count(struct db *db, int64_t meetup_id, int kind, int64_t now_ms);
/* Drops a meetup's pending jobs of kind (or of every kind when kind < 0). */
int db_jobs_cancel(struct db *db, int64_t meetup_id, int kind);

/* ---- guided dialogues ---- */

/* The dialogue of user in chat, if any: 1 with step and data (JSON text)
 * appended, 0 when none, -1. */
int db_dialog_get(struct db *db, int64_t chat_id, int64_t user_id, int *step, struct strbuf *data, int64_t *updated_ms);
int db_dialog_set(struct db *db, int64_t chat_id, int64_t user_id, int step, const char *data, int64_t now_ms);
int db_dialog_clear(struct db *db, int64_t chat_id, int64_t user_id);

#endif
