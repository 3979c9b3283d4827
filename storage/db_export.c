/*
 * db_export: what a chat keeps of one person, read for /export me.  It
 * reads exactly what db_forget_user removes, so the two agree: after
 * /forget me, an export finds nothing.
 */
#include "storage/db_internal.h"

#include "lib/log.h"

#define LOG_MODULE "db"

/* One statement per kind, each returning (num, text, answer, waiting,
 * closed) for chat ?1 and user ?2, in a stable order. */
static const char *const db_export__sql[] = {
	[DB_EXPORT_MEMBER] = "SELECT m.last_seen, u.name, 0, 0, 0 FROM members m JOIN users u ON u.id = m.user_id "
			     "WHERE m.chat_id = ?1 AND m.user_id = ?2",
	[DB_EXPORT_INTERESTS] =
		"SELECT 0, topic, 0, 0, 0 FROM interests WHERE chat_id = ?1 AND user_id = ?2 ORDER BY seq",
	[DB_EXPORT_GROUPS] =
		"SELECT 0, g.name, m.contact, m.waiting, g.closed FROM group_members m JOIN groups g ON g.id = m.group_id "
		"WHERE g.chat_id = ?1 AND m.user_id = ?2 ORDER BY g.closed, g.name_key, g.id",
	[DB_EXPORT_VOTES] = "SELECT m.num, v.answers, 0, 0, 0 FROM votes v JOIN meetups m ON m.id = v.meetup_id "
			    "WHERE m.chat_id = ?1 AND v.user_id = ?2 ORDER BY m.num",
	[DB_EXPORT_RSVPS] =
		"SELECT m.num, '', r.answer, r.waiting, 0 FROM rsvps r JOIN meetups m ON m.id = r.meetup_id "
		"WHERE m.chat_id = ?1 AND r.user_id = ?2 ORDER BY m.num",
	[DB_EXPORT_MEETUPS] =
		"SELECT num, title, 0, 0, 0 FROM meetups WHERE chat_id = ?1 AND creator = ?2 ORDER BY num",
	[DB_EXPORT_PRIVATE_REMINDERS] =
		"SELECT 0, '', 0, 0, 0 FROM private_reminders WHERE chat_id = ?1 AND user_id = ?2",
};

int db_export_each(struct db *db, enum db_export_kind kind, int64_t chat_id, int64_t user_id,
                   int (*fn)(void *user, const struct db_export_row *row), void *user)
{
	if((size_t)kind >= sizeof(db_export__sql) / sizeof(db_export__sql[0]))
		return -1;
	struct sql_stmt *st = db__stmt(db, db_export__sql[kind]);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	int rc, failed = 0;
	while(!failed && (rc = sql_step(st)) == SQL_ROW) {
		struct db_export_row row = {
			.num = sql_column_int64(st, 0),
			.text = db__text(st, 1),
			.answer = sql_column_int(st, 2),
			.waiting = sql_column_int(st, 3) != 0,
			.closed = sql_column_int(st, 4) != 0,
		};
		failed = fn(user, &row) != 0;
	}
	sql_reset(st);
	if(failed)
		return -1;
	if(rc != SQL_DONE) {
		db__log_error(db, "export");
		return -1;
	}
	return 0;
}
