/*
 * db_forget: /forget me, everything a chat keeps that names one person.
 *
 * A user row is per platform and shared by every chat of it, so forgetting
 * someone in a chat removes what hangs on that chat, and the user row only
 * when nothing anywhere refers to it any more.
 */
#include "storage/db_internal.h"

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/text.h"

#include <stdio.h>

#define LOG_MODULE "db"

/* What is deleted (or unnamed) in chat ?1 for user ?2, in this order; the
 * first DB_FORGET_COUNTS are counted for the reply.  The meetups they
 * proposed stay the chat's, without a creator; a chat whose admin they
 * were (platforms without roles) has none until someone speaks. */
static const char *const db_forget__sql[] = {
	"DELETE FROM interests WHERE chat_id = ?1 AND user_id = ?2",
	"DELETE FROM group_members WHERE user_id = ?2 AND group_id IN (SELECT id FROM groups WHERE chat_id = ?1)",
	"DELETE FROM votes WHERE user_id = ?2 AND meetup_id IN (SELECT id FROM meetups WHERE chat_id = ?1)",
	"DELETE FROM rsvps WHERE user_id = ?2 AND meetup_id IN (SELECT id FROM meetups WHERE chat_id = ?1)",
	"DELETE FROM private_reminders WHERE chat_id = ?1 AND user_id = ?2",
	"DELETE FROM dialogs WHERE chat_id = ?1 AND user_id = ?2",
	/* Their personal calendar link, which spans their chats: revoked. */
	"DELETE FROM web_links WHERE coalesce(chat_id, 0) = 0 AND coalesce(user_id, 0) = ?2",
	/* And their link to vote on this chat's web page. */
	"DELETE FROM web_links WHERE coalesce(chat_id, 0) = ?1 AND coalesce(user_id, 0) = ?2",
	"DELETE FROM members WHERE chat_id = ?1 AND user_id = ?2",
	"UPDATE meetups SET creator = NULL WHERE chat_id = ?1 AND creator = ?2",
	"UPDATE chats SET admin = NULL WHERE id = ?1 AND admin = "
	"(SELECT ext_id FROM users WHERE id = ?2 AND platform = chats.platform)",
	/* The adapter's state about them in this chat (db_kv_set_about). */
	"DELETE FROM kv WHERE EXISTS (SELECT 1 FROM chats c JOIN users u ON u.platform = c.platform "
	"WHERE c.id = ?1 AND u.id = ?2 AND kv.chat = c.ext_id AND kv.person = u.ext_id "
	"AND substr(kv.key, 1, length(c.platform) + 1) = c.platform || '.')",
	/* Last: the row itself, unless another chat still has something of
	 * theirs (every table that refers to users is asked). */
	"DELETE FROM users WHERE id = ?2 "
	"AND NOT EXISTS (SELECT 1 FROM members WHERE user_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM interests WHERE user_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM group_members WHERE user_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM votes WHERE user_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM rsvps WHERE user_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM private_reminders WHERE user_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM dialogs WHERE user_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM meetups WHERE creator = ?2)",
};

_Static_assert(sizeof(db_forget__sql) / sizeof(db_forget__sql[0]) > DB_FORGET_COUNTS, "counted steps exist");

/* The adapter's state about someone that belongs to no chat (their
 * private room) goes with their user row, when nothing else of theirs is
 * kept on that platform.  ?1 platform, ?2 their id there. */
static const char db_forget__unchatted[] = "DELETE FROM kv WHERE chat IS NULL AND person = ?2 "
					   "AND substr(key, 1, length(?1) + 1) = ?1 || '.' "
					   "AND NOT EXISTS (SELECT 1 FROM users WHERE platform = ?1 AND ext_id = ?2)";

int db_forget_user(struct db *db, int64_t chat_id, int64_t user_id, int counts[DB_FORGET_COUNTS])
{
	db_read_ahead_drop(db); /* their votes and answers go */
	/* Who they are on their platform, read before their row may go. */
	char platform[32] = "", ext_id[256] = "";
	struct sql_stmt *st = db__stmt(db, "SELECT platform, ext_id FROM users WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, user_id);
	int step = sql_step(st);
	if(step == SQL_ROW) {
		text_copy(platform, sizeof(platform), db__text(st, 0));
		text_copy(ext_id, sizeof(ext_id), db__text(st, 1));
	}
	sql_reset(st);
	if(step != SQL_ROW && step != SQL_DONE) {
		db__log_error(db, "forget");
		return -1;
	}
	for(size_t i = 0; i < sizeof(db_forget__sql) / sizeof(db_forget__sql[0]); i++) {
		st = db__stmt(db, db_forget__sql[i]);
		if(!st)
			return -1;
		sql_bind_int64(st, 1, chat_id);
		sql_bind_int64(st, 2, user_id);
		if(db__exec_stmt(db, st, "forget"))
			return -1;
		if(i < DB_FORGET_COUNTS)
			counts[i] = sql_changes(db->sql);
	}
	if(platform[0]) {
		st = db__stmt(db, db_forget__unchatted);
		if(!st)
			return -1;
		sql_bind_text(st, 1, platform, -1);
		sql_bind_text(st, 2, ext_id, -1);
		if(db__exec_stmt(db, st, "forget"))
			return -1;
	}
	/* The caches may hold the chat's admin, the user's row id and the
	 * meetups they proposed. */
	db__cache_clear(db);
	db->erase_due = !db__on_pg(db);
	return 0;
}

/*
 * A forget is not done when its rows are deleted.  On SQLite the pages
 * that held them are overwritten with zeros as they are freed (PRAGMA
 * secure_delete, set at open: Debian's SQLite has it on, others off), but
 * the write-ahead log still holds those pages as they were before, in the
 * frames of earlier transactions, until SQLite happens to write over them:
 * a copy of DB-wal taken then gives the person back.  So the first commit
 * after a forget copies the whole log into the database and truncates it
 * to nothing (a TRUNCATE checkpoint).  It must not keep the loop waiting:
 * a reader that holds an older snapshot (a backup being copied, a health
 * check) makes it fail at once instead, and the next commit tries again.
 * On PostgreSQL the deleted rows stay in the server's files until its
 * vacuum reuses their space, which Ensemble does not control (README).
 */
void db__erase_committed(struct db *db)
{
	if(!db->erase_due) /* never set on PostgreSQL */
		return;
	sqlite3 *lite = sql_sqlite_handle(db->sql);
	sqlite3_busy_timeout(lite, 0);
	int rc = sqlite3_wal_checkpoint_v2(lite, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(lite, DB_BUSY_TIMEOUT_MS);
	if(rc == SQLITE_OK) {
		db->erase_due = false;
		log_debug("the write-ahead log was emptied after a forget (%s)", db->name);
	} else {
		log_info("the write-ahead log could not be emptied after a forget yet (%s: %s); the next commit tries "
		         "again",
		         db->name, sqlite3_errstr(rc));
	}
}
