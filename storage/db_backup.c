/*
 * db_backup: consistent copies of the database, and its checks.
 *
 * A copy is made with SQLite's online backup API, from a read transaction
 * held on the original for the whole copy: in WAL mode that fixes one
 * committed state (a snapshot) and never blocks the bot, which goes on
 * writing to the WAL meanwhile.  The copy is written to a temporary file
 * beside its destination, created 0600 before SQLite opens it, and linked
 * to its name once complete: a destination appears whole or not at all,
 * and one that exists is never replaced.
 *
 * The outbox rows of deliveries the bot recorded in its journal (DB-acks,
 * see db_outbox.c) but has not deleted yet are deleted from the copy, by
 * the code that applies the journal at open: restored, the copy sends
 * nothing twice.  The journal is read just after the snapshot is taken,
 * and that read is kept only when no commit came between the two (a
 * second connection's data_version tells): a commit is what lets the bot
 * empty its journal, and records read after one could miss those of rows
 * the snapshot still holds.  It is read once more after the copy, for the
 * records the bot rewrites after a commit that ran while others were
 * added.  A record of a row the snapshot no longer holds deletes nothing:
 * outbox ids are never used twice.
 */
#include "storage/db_internal.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "db"

/* Pages copied at each step: a megabyte with 4 KiB pages. */
#define BACKUP_STEP_PAGES 256
/* A step that finds the copy locked is tried again after a pause, for up
 * to 5 seconds in all. */
#define BACKUP_BUSY_PAUSE_MS 20
#define BACKUP_BUSY_TRIES 250
/* Attempts at a snapshot and a journal read with no commit between. */
#define BACKUP_SNAPSHOT_TRIES 20

/* A copy being made. */
struct backup {
	sqlite3 *src;     /* the original; in a read transaction while in_read */
	sqlite3 *watch;   /* a second connection to it, or NULL when nobody else
	                     may write it (the bot's own, before migrating) */
	const char *path; /* the original's path */
	const char *dest;
	char *tmp;       /* the file being written, "<dest>.XXXXXX" */
	struct db *copy; /* the copy, open on tmp; its deliveries are the
	                    journal's records */
	bool in_read;
};

static void backup__pause(void)
{
	struct timespec ts = { 0, BACKUP_BUSY_PAUSE_MS * 1000000L };
	nanosleep(&ts, NULL);
}

/* "<base><suffix>" in a new string, the caller's to free; NULL without
 * memory. */
static char *backup__name(const char *base, const char *suffix)
{
	size_t len = strlen(base) + strlen(suffix) + 1;
	char *s = malloc(len);
	if(s)
		snprintf(s, len, "%s%s", base, suffix);
	return s;
}

/* Reads the original's journal into the copy's deliveries.  No journal is
 * none to read (a bot that never delivered, or a database from before the
 * journal).  0, or -1 (err). */
static int backup__read_journal(struct backup *b, struct strbuf *err)
{
	char *name = backup__name(b->path, "-acks");
	int rc = -1;
	if(!name) {
		strbuf_addf(err, "out of memory");
		return -1;
	}
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	size_t found = 0;
	if(fd < 0 && errno != ENOENT)
		strbuf_addf(err, "cannot open %s: %s", name, strerror(errno));
	else if(fd >= 0 && db__outbox_read_journal(b->copy, fd, &found))
		strbuf_addf(err, "cannot read %s: %s", name, strerror(errno));
	else
		rc = 0;
	if(fd >= 0)
		close(fd);
	free(name);
	return rc;
}

static int backup__exec(sqlite3 *sql, const char *what, const char *path, struct strbuf *err)
{
	if(sqlite3_exec(sql, what, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	strbuf_addf(err, "%s: %s", path, sqlite3_errmsg(sql));
	return -1;
}

/* PRAGMA data_version of the watching connection: it changes when another
 * connection has committed since the last call.  -1 on error. */
static int64_t backup__data_version(sqlite3 *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if(sqlite3_prepare_v2(sql, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if(sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Begins the read transaction that fixes what is copied, and reads the
 * journal as it stands then (see the top of this file).  A bot that
 * commits between the two at every attempt, which takes commits a few
 * microseconds apart, has its last attempt copied: at worst a few
 * messages are sent again after a restore, never one lost.  0 or -1. */
static int backup__snapshot(struct backup *b, struct strbuf *err)
{
	for(int attempt = 1;; attempt++) {
		int64_t before = b->watch ? backup__data_version(b->watch) : 0;
		if(backup__exec(b->src, "BEGIN; SELECT count(*) FROM sqlite_master", b->path, err))
			return -1;
		b->in_read = true;
		b->copy->nacks = 0;
		if(backup__read_journal(b, err))
			return -1;
		if(!b->watch || attempt == BACKUP_SNAPSHOT_TRIES || backup__data_version(b->watch) == before)
			return 0;
		sqlite3_exec(b->src, "COMMIT", NULL, NULL, NULL);
		b->in_read = false;
	}
}

/* Copies the snapshot's pages to the copy, BACKUP_STEP_PAGES at a time,
 * pausing while the copy is locked.  0 or -1. */
static int backup__pages(struct backup *b, struct strbuf *err)
{
	sqlite3_backup *bk = sqlite3_backup_init(sql_sqlite_handle(b->copy->sql), "main", b->src, "main");
	if(!bk) {
		strbuf_addf(err, "cannot copy %s: %s", b->path, sqlite3_errmsg(sql_sqlite_handle(b->copy->sql)));
		return -1;
	}
	int rc, busy = 0;
	for(;;) {
		rc = sqlite3_backup_step(bk, BACKUP_STEP_PAGES);
		if(rc == SQLITE_OK)
			busy = 0;
		else if((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && busy++ < BACKUP_BUSY_TRIES)
			backup__pause();
		else
			break;
	}
	sqlite3_backup_finish(bk);
	if(rc == SQLITE_DONE)
		return 0;
	strbuf_addf(err, "cannot copy %s to %s: %s", b->path, b->dest, sqlite3_errstr(rc));
	return -1;
}

/* Creates the temporary file, 0600, and opens the copy on it.  0 or -1. */
static int backup__create(struct backup *b, struct strbuf *err)
{
	if(!(b->tmp = backup__name(b->dest, ".XXXXXX")) || !(b->copy = calloc(1, sizeof(*b->copy)))) {
		strbuf_addf(err, "out of memory");
		return -1;
	}
	b->copy->ack_fd = -1;
	strbuf_init(&b->copy->journal_gathered);
	int fd = mkstemp(b->tmp);
	if(fd < 0) {
		strbuf_addf(err, "cannot create a file beside %s: %s", b->dest, strerror(errno));
		free(b->tmp);
		b->tmp = NULL;
		return -1;
	}
	/* Exactly 0600, so that the side files SQLite adds get it too. */
	int rc = fchmod(fd, 0600);
	close(fd);
	if(rc) {
		strbuf_addf(err, "cannot make %s private: %s", b->tmp, strerror(errno));
		return -1;
	}
	b->copy->leads = true; /* an SQLite file's only writer */
	if(!(b->copy->path = strdup(b->tmp)) || !(b->copy->name = strdup(b->tmp))) {
		strbuf_addf(err, "out of memory");
		return -1;
	}
	if(sql_sqlite_open(&b->copy->sql, b->tmp, SQLITE_OPEN_READWRITE, err))
		return -1;
	sqlite3_busy_timeout(sql_sqlite_handle(b->copy->sql), 5000);
	return 0;
}

/* Makes the data of the directory holding path durable: the name just
 * linked there.  Best effort: a file system that cannot has the file
 * anyway. */
static void backup__sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if(fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Gives the finished copy tmp its name dest: link(2), which fails rather
 * than replace a file that appeared meanwhile.  A file system without hard
 * links (FAT, on a USB stick) has tmp renamed instead once dest is seen
 * absent, which leaves a moment for another writer to lose its file.  0,
 * or -1 with errno set (EEXIST: dest exists). */
static int backup__link(const char *tmp, const char *dest)
{
	struct stat st;
	if(!link(tmp, dest))
		return 0;
	if(errno == EEXIST || (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP))
		return -1;
	if(!lstat(dest, &st)) {
		errno = EEXIST;
		return -1;
	}
	return rename(tmp, dest);
}

/* Closes the copy, and gives it its name.  Fills *info.  0 or -1. */
static int backup__publish(struct backup *b, struct db_backup_info *info, struct strbuf *err)
{
	struct stat st;
	info->version = db_schema_version(b->copy);
	db_close(b->copy); /* the copy's WAL goes into it */
	b->copy = NULL;
	if(info->version < 0 || stat(b->tmp, &st)) {
		strbuf_addf(err, "cannot read back the copy %s", b->tmp);
		return -1;
	}
	info->bytes = (int64_t)st.st_size;
	if(backup__link(b->tmp, b->dest)) {
		if(errno == EEXIST)
			strbuf_addf(err, "%s exists: a backup never replaces a file", b->dest);
		else
			strbuf_addf(err, "cannot create %s: %s", b->dest, strerror(errno));
		return -1;
	}
	backup__sync_dir(b->dest);
	return 0;
}

/* Removes what is left of the temporary file and its side files. */
static void backup__discard(struct backup *b)
{
	static const char *const sides[] = { "", "-wal", "-shm", "-journal" };
	db_close(b->copy);
	b->copy = NULL;
	for(size_t i = 0; b->tmp && i < sizeof(sides) / sizeof(sides[0]); i++) {
		char *name = backup__name(b->tmp, sides[i]);
		if(name)
			unlink(name);
		free(name);
	}
	free(b->tmp);
	b->tmp = NULL;
}

/* Makes the copy: b's src (and watch) are open, b's dest named.  0 or -1
 * (err); the temporary file is gone either way. */
static int backup__run(struct backup *b, struct db_backup_info *info, struct strbuf *err)
{
	int rc = -1;
	int64_t before, after;
	if(backup__create(b, err) || backup__snapshot(b, err) || backup__pages(b, err))
		goto out;
	sqlite3_exec(b->src, "COMMIT", NULL, NULL, NULL);
	b->in_read = false;
	if(b->watch && backup__read_journal(b, err))
		goto out;
	/* The journal's kv rows (what Telegram sends became) are no
	 * deliveries: the outbox's rows are counted. */
	static const char rows[] = "SELECT count(*) FROM outbox";
	if(db__sql_int(b->copy->sql, rows, &before) ||
	   ((b->copy->nacks || b->copy->nkv_later) && db__outbox_apply(b->copy)) ||
	   db__sql_int(b->copy->sql, rows, &after)) {
		strbuf_addf(err, "cannot apply the delivery journal of %s to its copy: %s", b->path,
		            sqlite3_errmsg(sql_sqlite_handle(b->copy->sql)));
		goto out;
	}
	info->delivered = (int)(before - after);
	rc = backup__publish(b, info, err);
out:
	if(b->in_read)
		sqlite3_exec(b->src, "COMMIT", NULL, NULL, NULL);
	b->in_read = false;
	backup__discard(b);
	return rc;
}

/* Opens path read-only into *sql and reads its schema version: a file
 * that is not a database fails here.  0, or -1 (err; *sql is the caller's
 * to close either way). */
static int backup__open_ro(const char *path, sqlite3 **sql, int *version, struct strbuf *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(path, sql, SQLITE_OPEN_READONLY, NULL);
	if(rc == SQLITE_OK) {
		sqlite3_busy_timeout(*sql, 5000);
		rc = sqlite3_prepare_v2(*sql, "PRAGMA user_version", -1, &st, NULL);
	}
	if(rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if(rc != SQLITE_OK)
		strbuf_addf(err, "cannot read %s: %s", path, *sql ? sqlite3_errmsg(*sql) : "out of memory");
	return rc == SQLITE_OK ? 0 : -1;
}

int db_backup(const char *path, const char *dest, struct db_backup_info *info, struct strbuf *err)
{
	struct backup b = { .path = path, .dest = dest };
	struct stat st;
	int version, rc = -1;

	if(sql_is_postgres(path)) {
		strbuf_adds(err,
		            "--backup copies an SQLite database: back a PostgreSQL database up with pg_dump "
		            "(pg_dump --format=custom --file=ensemble.dump, with the target's connection options)");
		return -1;
	}

	/* Said before anything is read; backup__publish still refuses a file
	 * that appears meanwhile. */
	if(lstat(dest, &st) == 0) {
		strbuf_addf(err, "%s exists: a backup never replaces a file (remove it or name another)", dest);
		return -1;
	}
	if(stat(path, &st)) {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if(!S_ISREG(st.st_mode)) {
		strbuf_addf(err, "%s is not a regular file", path);
		return -1;
	}
	if(backup__open_ro(path, &b.src, &version, err) || backup__open_ro(path, &b.watch, &version, err))
		goto out;
	rc = backup__run(&b, info, err);
out:
	sqlite3_close(b.watch);
	sqlite3_close(b.src);
	return rc;
}

int db__backup_before_migrate(struct db *db, int version, struct strbuf *err)
{
	char suffix[32];
	snprintf(suffix, sizeof(suffix), ".pre-v%d", version);
	char *dest = backup__name(db->path, suffix);
	struct backup b = { .src = sql_sqlite_handle(db->sql), .path = db->path, .dest = dest };
	struct db_backup_info info;
	struct strbuf why = STRBUF_INIT;
	struct stat st;
	int rc = -1;

	if(!dest) {
		strbuf_addf(err, "out of memory");
		return -1;
	}
	if(lstat(dest, &st) == 0) {
		log_info("keeping %s, left by an earlier attempt, as the copy of %s before migrating to schema "
		         "version %d",
		         dest, db->path, DB_SCHEMA_VERSION);
		rc = 0;
	} else if(backup__run(&b, &info, &why)) {
		strbuf_addf(err, "%s is left at schema version %d: it could not be copied before migrating (%s)",
		            db->path, version, why.oom ? "out of memory" : why.buf);
	} else {
		log_info("copied %s to %s before migrating to schema version %d", db->path, dest, DB_SCHEMA_VERSION);
		rc = 0;
	}
	strbuf_release(&why);
	free(dest);
	return rc;
}

/* ---- checks ---- */

/*
 * The bot's own rules, which the schema does not enforce.  Each query
 * returns one sentence per row that breaks its rule; ?1 is
 * MEETUP_CONFIRMED, ?2 MEETUP_CANCELLED.  References to missing rows (an
 * RSVP of a meetup or a person that is gone, a job of a deleted meetup)
 * are PRAGMA foreign_key_check's.
 */
static const char *const check__rules[] = {
	/* A confirmed meetup's date is one of its candidates: the poll's
	 * close, /meetup show and a later move read the chosen slot. */
	"SELECT printf('meetup %d (#%d of chat %d) is confirmed on date %d, which is not one of its candidates', "
	"m.id, m.num, m.chat_id, m.chosen) FROM meetups m WHERE m.state = ?1 "
	"AND NOT EXISTS (SELECT 1 FROM slots s WHERE s.meetup_id = m.id AND s.idx = m.chosen)",
	/* Cancelling drops every pending job of the meetup: one left would
	 * remind people of a meetup that will not take place. */
	"SELECT printf('job %d is pending for meetup %d (#%d of chat %d), which is cancelled', j.id, m.id, m.num, "
	"m.chat_id) FROM jobs j JOIN meetups m ON m.id = j.meetup_id WHERE j.state = 0 AND m.state = ?2",
	/* The outbox is replayed at each start from its JSON: a row that is
	 * not JSON is dropped there, its message lost. */
	"SELECT printf('outbox row %d is not valid JSON: its message cannot be sent', id) FROM outbox "
	"WHERE NOT json_valid(action)",
	/* Votes, RSVPs, group members and interests take their order from
	 * one counter (db__next_seq): behind the numbers in use, it would
	 * list new answers before older ones. */
	"SELECT printf('the order counter (kv db.seq) is %d, behind the number %d in use: new answers would be "
	"listed before older ones', c, top) FROM (SELECT coalesce((SELECT CAST(value AS INTEGER) FROM kv "
	"WHERE key = 'db.seq'), 0) AS c, max(coalesce((SELECT max(seq) FROM votes), 0), "
	"coalesce((SELECT max(seq) FROM rsvps), 0), coalesce((SELECT max(seq) FROM group_members), 0), "
	"coalesce((SELECT max(seq) FROM interests), 0)) AS top) WHERE c < top",
	/* A group's or a series' meetups are in its chat: their messages go
	 * there, and /forget me in one chat must not reach into another. */
	"SELECT printf('meetup %d (#%d of chat %d) belongs to group %d, of chat %d', m.id, m.num, m.chat_id, g.id, "
	"g.chat_id) FROM meetups m JOIN groups g ON g.id = m.group_id WHERE g.chat_id <> m.chat_id "
	"UNION ALL SELECT printf('meetup %d (#%d of chat %d) belongs to series %d, of chat %d', m.id, m.num, "
	"m.chat_id, s.id, s.chat_id) FROM meetups m JOIN series s ON s.id = m.series_id WHERE s.chat_id <> m.chat_id",
};

/* Runs sql on the checked database and reports each row: its first
 * column, or with fk the four of PRAGMA foreign_key_check.  Skips
 * integrity_check's one "ok".  0, or -1 (err). */
/* A text column, "" for NULL. */
static const char *check__text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	return t ? (const char *)t : "";
}

static int check__query(sqlite3 *sql, const char *query, bool fk, void (*report)(void *, const char *), void *user,
                        struct strbuf *err)
{
	sqlite3_stmt *st;
	char line[512];
	int rc = sqlite3_prepare_v2(sql, query, -1, &st, NULL);
	if(rc == SQLITE_OK) {
		sqlite3_bind_int(st, 1, MEETUP_CONFIRMED);
		sqlite3_bind_int(st, 2, MEETUP_CANCELLED);
	}
	while(rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		const char *text = check__text(st, 0);
		if(fk)
			snprintf(line, sizeof(line), "row %lld of table %s refers to a missing row of %s",
			         (long long)sqlite3_column_int64(st, 1), text, check__text(st, 2));
		else if(strcmp(text, "ok"))
			text_copy(line, sizeof(line), text);
		else
			continue;
		report(user, line);
	}
	sqlite3_finalize(st);
	if(rc == SQLITE_DONE)
		return 0;
	strbuf_addf(err, "cannot check the database: %s", sqlite3_errmsg(sql));
	return -1;
}

int db_check(const char *path, void (*report)(void *user, const char *problem), void *user, int *version,
             struct strbuf *err)
{
	sqlite3 *sql = NULL;
	int rc = -1;
	if(sql_is_postgres(path)) {
		strbuf_adds(err, "--check-db checks an SQLite database: on PostgreSQL the server enforces the schema's "
		                 "constraints itself, and pg_dump (to /dev/null) reads every row");
		return -1;
	}
	if(access(path, R_OK)) {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if(backup__open_ro(path, &sql, version, err))
		goto out;
	if(*version > DB_SCHEMA_VERSION) {
		strbuf_addf(err, "%s was written by a newer Ensemble (schema version %d; this build knows up to %d)",
		            path, *version, DB_SCHEMA_VERSION);
		goto out;
	}
	if(check__query(sql, "PRAGMA integrity_check", false, report, user, err) ||
	   check__query(sql, "PRAGMA foreign_key_check", true, report, user, err))
		goto out;
	if(*version == 0)
		report(user, "schema version 0: not an Ensemble database, or an empty one");
	for(size_t i = 0; *version == DB_SCHEMA_VERSION && i < sizeof(check__rules) / sizeof(check__rules[0]); i++)
		if(check__query(sql, check__rules[i], false, report, user, err))
			goto out;
	rc = 0;
out:
	sqlite3_close(sql);
	return rc;
}
