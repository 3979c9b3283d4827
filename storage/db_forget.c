/*
 * db_forget: /forget me, everything a chat keeps that names one person.
 *
 * A user row is per platform and shared by every chat of it, so forgetting
 * someone in a chat removes what hangs on that chat, and the user row only
 * when nothing anywhere refers to it any more.
 */
#include "storage/db_internal.h"

#include "lib/log.h"

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
	"DELETE FROM members WHERE chat_id = ?1 AND user_id = ?2",
	"UPDATE meetups SET creator = NULL WHERE chat_id = ?1 AND creator = ?2",
	"UPDATE chats SET admin = NULL WHERE id = ?1 AND admin = "
	"(SELECT ext_id FROM users WHERE id = ?2 AND platform = chats.platform)",
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

int db_forget_user(struct db *db, int64_t chat_id, int64_t user_id, int counts[DB_FORGET_COUNTS])
{
	for(size_t i = 0; i < sizeof(db_forget__sql) / sizeof(db_forget__sql[0]); i++) {
		sqlite3_stmt *st = db__stmt(db, db_forget__sql[i]);
		if(!st)
			return -1;
		sqlite3_bind_int64(st, 1, chat_id);
		sqlite3_bind_int64(st, 2, user_id);
		if(db__exec_stmt(db, st, "forget"))
			return -1;
		if(i < DB_FORGET_COUNTS)
			counts[i] = sqlite3_changes(db->sql);
	}
	/* The caches may hold the chat's admin and the user's row id. */
	db__cache_clear(db);
	return 0;
}
