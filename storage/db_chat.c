#include "storage/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "db"

/* Every event looks up its chat and its sender: two index lookups that
 * found the same rows again and again (a tenth of the time of a vote).
 * Each is kept in a cache of DB_WAYS slots a set (db_internal.h), filled
 * by lookups and writes here, the only code that writes these tables, and
 * emptied by a rollback, which may undo rows the cache has seen.  Sized
 * for a bot in a few hundred chats with a few thousand people (the slots
 * are touched, and so resident, only once used: at most 350 kB and
 * 640 kB). */
#define DB_CHAT_SLOTS 512
#define DB_USER_SLOTS 4096
#define DB_MEMBER_SLOTS 4096

struct db_chat_cache {
	struct db_chat e[DB_CHAT_SLOTS];
	uint32_t used[DB_CHAT_SLOTS]; /* 0: empty */
};

/* A member row this process wrote: when, by the events' clock. */
struct db_member_slot {
	int64_t chat_id, user_id; /* 0: empty */
	int64_t written;
};

/* Users whose ids and names fit; longer ones are simply not cached. */
struct db_user_slot {
	int64_t id;
	char platform[16];
	char ext_id[64];
	char name[64];
};

struct db_user_cache {
	struct db_user_slot e[DB_USER_SLOTS];
	uint32_t used[DB_USER_SLOTS]; /* 0: empty */
	/* By id, direct-mapped (db__user_cached): 1 + the index in e, 0 for
	 * none.  Twice the slots, so that two ids seldom meet. */
	uint16_t by_id[2 * DB_USER_SLOTS];
};

uint32_t db__cache_use(struct db *db)
{
	if(++db->cache_tick == 0)
		db->cache_tick = 1;
	return db->cache_tick;
}

unsigned db__cache_victim(const uint32_t *used)
{
	unsigned way = 0;
	for(unsigned i = 1; i < DB_WAYS; i++)
		if(used[i] < used[way])
			way = i;
	return way;
}

static uint32_t db_chat__hash(const char *platform, const char *ext_id)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for(const char *p = platform; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for(const char *p = ext_id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

/* The first slot of the set of (platform, ext_id) in a cache of n slots. */
static size_t db_chat__set(const char *platform, const char *ext_id, size_t n)
{
	return (db_chat__hash(platform, ext_id) & (n / DB_WAYS - 1)) * DB_WAYS;
}

/* The cached chat (platform, ext_id), marked used; NULL when there is
 * none. */
static const struct db_chat *db_chat__cached(struct db *db, const char *platform, const char *ext_id)
{
	struct db_chat_cache *c = db->chat_cache;
	if(!c)
		return NULL;
	size_t set = db_chat__set(platform, ext_id, DB_CHAT_SLOTS);
	for(size_t i = set; i < set + DB_WAYS; i++)
		if(c->used[i] && !strcmp(c->e[i].ext_id, ext_id) && !strcmp(c->e[i].platform, platform)) {
			c->used[i] = db__cache_use(db);
			return &c->e[i];
		}
	return NULL;
}

/* Keeps a copy of chat, read from the table, in its set. */
static void db_chat__keep(struct db *db, const struct db_chat *chat)
{
	if(!db->chat_cache && !(db->chat_cache = calloc(1, sizeof(*db->chat_cache))))
		return;
	struct db_chat_cache *c = db->chat_cache;
	size_t set = db_chat__set(chat->platform, chat->ext_id, DB_CHAT_SLOTS);
	size_t i = set + db__cache_victim(&c->used[set]);
	c->e[i] = *chat;
	c->used[i] = db__cache_use(db);
}

/* The slot of the user (platform, ext_id): the cached one, marked used, or
 * the one of its set to fill (empty, or the least recently used: its id
 * then tells that it holds someone else).  NULL when the ids do not fit a
 * slot or the cache cannot be made. */
static struct db_user_slot *db_chat__user_slot(struct db *db, const char *platform, const char *ext_id)
{
	if(strlen(platform) >= sizeof(((struct db_user_slot *)0)->platform) ||
	   strlen(ext_id) >= sizeof(((struct db_user_slot *)0)->ext_id))
		return NULL;
	if(!db->user_cache && !(db->user_cache = calloc(1, sizeof(*db->user_cache))))
		return NULL;
	struct db_user_cache *c = db->user_cache;
	size_t set = db_chat__set(platform, ext_id, DB_USER_SLOTS);
	for(size_t i = set; i < set + DB_WAYS; i++)
		if(c->used[i] && !strcmp(c->e[i].ext_id, ext_id) && !strcmp(c->e[i].platform, platform)) {
			c->used[i] = db__cache_use(db);
			return &c->e[i];
		}
	size_t i = set + db__cache_victim(&c->used[set]);
	c->used[i] = 0;
	c->e[i].id = 0;
	return &c->e[i];
}

/* Marks slot, of the user cache, used once it holds a user. */
static void db_chat__user_used(struct db *db, struct db_user_slot *slot)
{
	struct db_user_cache *c = db->user_cache;
	size_t i = (size_t)(slot - c->e);
	c->used[i] = slot->id ? db__cache_use(db) : 0;
}

/* A chat changed: its cached copy goes. */
static void db_chat__forget(struct db *db, int64_t chat_id)
{
	for(size_t i = 0; db->chat_cache && i < DB_CHAT_SLOTS; i++)
		if(db->chat_cache->used[i] && db->chat_cache->e[i].id == chat_id)
			db->chat_cache->used[i] = 0;
}

void db__cache_clear(struct db *db)
{
	if(db->chat_cache)
		memset(db->chat_cache->used, 0, sizeof(db->chat_cache->used));
	if(db->user_cache)
		memset(db->user_cache->used, 0, sizeof(db->user_cache->used));
	if(db->member_cache)
		memset(db->member_cache, 0, DB_MEMBER_SLOTS * sizeof(*db->member_cache));
	db__meetup_cache_clear(db);
	db__rsvps_clear(db);
	db__shown_clear(db);
	db_read_ahead_drop(db);
}

void db__cache_free(struct db *db)
{
	free(db->chat_cache);
	free(db->user_cache);
	free(db->member_cache);
	db__meetup_cache_free(db);
	db__rsvps_free(db);
	db__shown_free(db);
	db_read_ahead_drop(db);
	db->chat_cache = NULL;
	db->user_cache = NULL;
	db->member_cache = NULL;
}

static int db_chat__read(struct sql_stmt *st, struct db_chat *out)
{
	out->id = sql_column_int64(st, 0);
	db__copy_text(st, 1, out->platform, sizeof(out->platform));
	db__copy_text(st, 2, out->ext_id, sizeof(out->ext_id));
	db__copy_text(st, 3, out->lang, sizeof(out->lang));
	db__copy_text(st, 4, out->tz, sizeof(out->tz));
	db__copy_text(st, 5, out->admin, sizeof(out->admin));
	out->active = sql_column_int(st, 6) != 0;
	db__copy_text(st, 7, out->remind, sizeof(out->remind));
	out->nudge = sql_column_int(st, 8) != 0;
	out->interest_threshold = sql_column_int(st, 9);
	return 0;
}

int db_chat_get(struct db *db, const char *platform, const char *ext_id, const char *lang, const char *tz,
                struct db_chat *out)
{
	static const char get_sql[] =
		"SELECT id, platform, ext_id, lang, tz, admin, active, remind, nudge, interest_threshold FROM chats "
		"WHERE platform = ?1 AND ext_id = ?2";
	static const char insert_sql[] =
		"INSERT INTO chats (platform, ext_id, lang, tz, remind) VALUES (?1, ?2, ?3, ?4, ?5)";
	const struct db_chat *cached = db_chat__cached(db, platform, ext_id);
	if(cached) {
		*out = *cached;
		return 1;
	}
	for(int attempt = 0; attempt < 2; attempt++) {
		struct sql_stmt *st = db__stmt(db, get_sql);
		if(!st)
			return -1;
		sql_bind_text(st, 1, platform, -1);
		sql_bind_text(st, 2, ext_id, -1);
		int rc = sql_step(st);
		if(rc == SQL_ROW) {
			db_chat__read(st, out);
			sql_reset(st);
			/* Kept only when the copy is exact (not cut to fit). */
			if(!strcmp(out->platform, platform) && !strcmp(out->ext_id, ext_id))
				db_chat__keep(db, out);
			return attempt == 0 ? 1 : 0;
		}
		sql_reset(st);
		if(rc != SQL_DONE || attempt) {
			db__log_error(db, "chat lookup");
			return -1;
		}
		st = db__stmt(db, insert_sql);
		if(!st)
			return -1;
		sql_bind_text(st, 1, platform, -1);
		sql_bind_text(st, 2, ext_id, -1);
		sql_bind_text(st, 3, lang, -1);
		sql_bind_text(st, 4, tz, -1);
		sql_bind_text(st, 5, db->chat_remind_set ? db->chat_remind : "1440,60", -1);
		if(db__exec_stmt(db, st, "chat insert"))
			return -1;
	}
	return -1;
}

int db_set_chat_remind(struct db *db, const char *offsets)
{
	if(strlen(offsets) >= sizeof(db->chat_remind))
		return -1;
	text_copy(db->chat_remind, sizeof(db->chat_remind), offsets);
	db->chat_remind_set = true;
	return 0;
}

int db_chat_by_id(struct db *db, int64_t chat_id, struct db_chat *out)
{
	struct sql_stmt *st = db__stmt(
		db,
		"SELECT id, platform, ext_id, lang, tz, admin, active, remind, nudge, interest_threshold FROM chats WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		db_chat__read(st, out);
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "chat lookup");
		return -1;
	}
	return rc == SQL_ROW;
}

static int db_chat__set_text(struct db *db, const char *sql, int64_t chat_id, const char *value)
{
	struct sql_stmt *st = db__stmt(db, sql);
	if(!st)
		return -1;
	sql_bind_text(st, 1, value, -1);
	sql_bind_int64(st, 2, chat_id);
	db_chat__forget(db, chat_id);
	return db__exec_stmt(db, st, "chat update");
}

int db_chat_set_lang(struct db *db, int64_t chat_id, const char *lang)
{
	return db_chat__set_text(db, "UPDATE chats SET lang = ?1 WHERE id = ?2", chat_id, lang);
}

int db_chat_set_tz(struct db *db, int64_t chat_id, const char *tz)
{
	return db_chat__set_text(db, "UPDATE chats SET tz = ?1 WHERE id = ?2", chat_id, tz);
}

int db_chat_set_admin(struct db *db, int64_t chat_id, const char *user_ext_id)
{
	return db_chat__set_text(db, "UPDATE chats SET admin = ?1 WHERE id = ?2", chat_id, user_ext_id);
}

int db_chat_set_active(struct db *db, int64_t chat_id, bool active)
{
	struct sql_stmt *st = db__stmt(db, "UPDATE chats SET active = ?1 WHERE id = ?2");
	if(!st)
		return -1;
	sql_bind_int(st, 1, active);
	sql_bind_int64(st, 2, chat_id);
	db_chat__forget(db, chat_id);
	return db__exec_stmt(db, st, "chat update");
}

struct db_chat__where {
	const char *platform, *ext_id, *lang, *tz;
};

/* db_transact's step of db_chat_deactivate. */
static int db_chat__deactivate(struct db *db, void *user)
{
	const struct db_chat__where *w = user;
	struct db_chat chat;
	if(db_chat_get(db, w->platform, w->ext_id, w->lang, w->tz, &chat) < 0)
		return -1;
	return db_chat_set_active(db, chat.id, false);
}

int db_chat_deactivate(struct db *db, const char *platform, const char *ext_id, const char *lang, const char *tz)
{
	struct db_chat__where w = { .platform = platform, .ext_id = ext_id, .lang = lang, .tz = tz };
	return db_transact(db, db_chat__deactivate, &w);
}

int db_chat_set_title(struct db *db, int64_t chat_id, const char *title)
{
	/* A table of its own, read only by db_chat_title: the cache of chats
	 * holds no title.  An unchanged title writes nothing. */
	struct sql_stmt *st = db__stmt(
		db,
		"INSERT INTO chat_titles (chat_id, title) VALUES (?2, ?1) "
		"ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title WHERE chat_titles.title != excluded.title");
	if(!st)
		return -1;
	sql_bind_text(st, 1, title, -1);
	sql_bind_int64(st, 2, chat_id);
	return db__exec_stmt(db, st, "chat title");
}

int db_chat_title(struct db *db, int64_t chat_id, char *out, size_t outlen)
{
	struct sql_stmt *st = db__stmt(db, "SELECT title FROM chat_titles WHERE chat_id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	int rc = sql_step(st);
	out[0] = 0;
	if(rc == SQL_ROW)
		text_copy(out, outlen, db__text(st, 0));
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "chat title");
		return -1;
	}
	return out[0] != 0;
}

int db_chat_migrate(struct db *db, const char *platform, const char *old_id, const char *new_id)
{
	struct sql_stmt *st = db__stmt(db, "UPDATE chats SET ext_id = ?3 WHERE platform = ?1 AND ext_id = ?2");
	if(!st)
		return -1;
	sql_bind_text(st, 1, platform, -1);
	sql_bind_text(st, 2, old_id, -1);
	sql_bind_text(st, 3, new_id, -1);
	db__cache_clear(db);
	return db__exec_stmt(db, st, "chat migrate");
}

int db_chat_set_remind(struct db *db, int64_t chat_id, const char *offsets)
{
	return db_chat__set_text(db, "UPDATE chats SET remind = ?1 WHERE id = ?2", chat_id, offsets);
}

int db_chat_set_nudge(struct db *db, int64_t chat_id, bool on)
{
	struct sql_stmt *st = db__stmt(db, "UPDATE chats SET nudge = ?1 WHERE id = ?2");
	if(!st)
		return -1;
	sql_bind_int(st, 1, on);
	sql_bind_int64(st, 2, chat_id);
	db_chat__forget(db, chat_id);
	return db__exec_stmt(db, st, "chat update");
}

int db_chat_set_interest_threshold(struct db *db, int64_t chat_id, int n)
{
	struct sql_stmt *st = db__stmt(db, "UPDATE chats SET interest_threshold = ?1 WHERE id = ?2");
	if(!st)
		return -1;
	sql_bind_int(st, 1, n);
	sql_bind_int64(st, 2, chat_id);
	db_chat__forget(db, chat_id);
	return db__exec_stmt(db, st, "chat update");
}

int db_private_reminder_get(struct db *db, int64_t chat_id, int64_t user_id)
{
	struct sql_stmt *st = db__stmt(db, "SELECT 1 FROM private_reminders WHERE chat_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	return db__exists(db, st, "private reminder");
}

int db_private_reminder_set(struct db *db, int64_t chat_id, int64_t user_id, bool on)
{
	struct sql_stmt *st =
		db__stmt(db, on ? "INSERT OR IGNORE INTO private_reminders (chat_id, user_id) VALUES (?1, ?2)"
	                        : "DELETE FROM private_reminders WHERE chat_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	return db__exec_stmt(db, st, "private reminder");
}

/* Finds the user (platform, ext_id) in the cache, else in the table: 1
 * with *id set, *same telling whether the stored name is shown, and that
 * name copied into stored when it fits (storedlen bytes; else stored is
 * ""), 0 when there is none, -1.  On PostgreSQL one not there is inserted
 * (named shown) by the same statement, a round trip saved at each first
 * sight of someone: 2 then, with *id set. */
static int db_chat__user_find(struct db *db, struct db_user_slot *slot, const char *platform, const char *ext_id,
                              const char *shown, int64_t *id, bool *same, char *stored, size_t storedlen)
{
	stored[0] = '\0';
	if(slot && slot->id && !strcmp(slot->platform, platform) && !strcmp(slot->ext_id, ext_id)) {
		*id = slot->id;
		*same = !strcmp(slot->name, shown);
		if(strlen(slot->name) < storedlen)
			memcpy(stored, slot->name, strlen(slot->name) + 1);
		return 1;
	}
	/* The WITH's SELECT sees the table as it was before the insert: the
	 * row comes from one side or the other, flagged 1 when inserted. */
	static const char lite[] = "SELECT id, name, 0 FROM users WHERE platform = ?1 AND ext_id = ?2";
	static const char pg[] = "WITH ins AS (INSERT INTO users (platform, ext_id, name) VALUES (?1, ?2, ?3) "
				 "ON CONFLICT (platform, ext_id) DO NOTHING RETURNING id, name) "
				 "SELECT id, name, 1 FROM ins UNION ALL "
				 "SELECT id, name, 0 FROM users WHERE platform = ?1 AND ext_id = ?2";
	bool on_pg = db__on_pg(db);
	struct sql_stmt *st = db__stmt(db, on_pg ? pg : lite);
	if(!st)
		return -1;
	sql_bind_text(st, 1, platform, -1);
	sql_bind_text(st, 2, ext_id, -1);
	if(on_pg)
		sql_bind_text(st, 3, shown, -1);
	int rc = sql_step(st), found = 0;
	if(rc == SQL_ROW) {
		const char *name = db__text(st, 1);
		*id = sql_column_int64(st, 0);
		*same = !strcmp(name, shown);
		if(strlen(name) < storedlen)
			memcpy(stored, name, strlen(name) + 1);
		found = sql_column_int(st, 2) ? 2 : 1;
		rc = SQL_DONE;
	}
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "user lookup");
		return -1;
	}
	return found;
}

/* The place of user id in the cache's index by id. */
static uint32_t db_chat__user_id_at(int64_t id)
{
	return (uint32_t)((((uint64_t)id * 0x9e3779b97f4a7c15u) >> 32) & (2 * DB_USER_SLOTS - 1));
}

/* Keeps (id, platform, ext_id, name) in slot (of db_chat__user_slot),
 * when the name fits: a cut one would never match. */
static void db_chat__user_keep(struct db *db, struct db_user_slot *slot, int64_t id, const char *platform,
                               const char *ext_id, const char *name)
{
	if(!slot)
		return;
	size_t n = strlen(name);
	if(n >= sizeof(slot->name)) {
		slot->id = 0;
	} else {
		if(slot->id != id) {
			slot->id = id;
			text_copy(slot->platform, sizeof(slot->platform), platform);
			text_copy(slot->ext_id, sizeof(slot->ext_id), ext_id);
		}
		memcpy(slot->name, name, n + 1);
		db->user_cache->by_id[db_chat__user_id_at(id)] = (uint16_t)(slot - db->user_cache->e + 1);
	}
	db_chat__user_used(db, slot);
}

int db__user_cached(struct db *db, int64_t id, const char **ext_id, const char **name)
{
	struct db_user_cache *c = db->user_cache;
	uint16_t k = c ? c->by_id[db_chat__user_id_at(id)] : 0;
	if(!k || !c->used[k - 1] || c->e[k - 1].id != id)
		return 0;
	*ext_id = c->e[k - 1].ext_id;
	*name = c->e[k - 1].name;
	return 1;
}

static struct db_member_slot *db_chat__member_slot(struct db *db, int64_t chat_id, int64_t user_id)
{
	if(!db->member_cache && !(db->member_cache = calloc(DB_MEMBER_SLOTS, sizeof(*db->member_cache))))
		return NULL;
	uint64_t h = db__member_hash(chat_id, user_id);
	return &db->member_cache[(h >> 40) & (DB_MEMBER_SLOTS - 1)];
}

/* Whether this process wrote the member row (chat_id, user_id) less than
 * an hour before t (by the events' clock), and if not, notes that it does
 * now.  last_seen only says who is around and when (/export me shows it):
 * refreshed at most hourly, as the upsert's WHERE says, and skipped
 * without a statement within the hour of the last write this process made
 * (the row is then at most two hours behind).  The cache is emptied by a
 * rollback and by anything that deletes member rows. */
static bool db_chat__member_fresh(struct db *db, int64_t chat_id, int64_t user_id, time_t t)
{
	struct db_member_slot *slot = db_chat__member_slot(db, chat_id, user_id);
	if(!slot)
		return false;
	if(slot->chat_id == chat_id && slot->user_id == user_id && (int64_t)t < slot->written + 3600)
		return true;
	*slot = (struct db_member_slot){ .chat_id = chat_id, .user_id = user_id, .written = (int64_t)t };
	return false;
}

int db_user_seen(struct db *db, int64_t chat_id, const char *platform, const char *ext_id, const char *name,
                 bool name_is_guess, time_t t, int64_t *user_id)
{
	/* Every event comes through here: the cache, or a read, and a write
	 * only of what changed. */
	const char *shown = name && *name ? name : ext_id;
	int64_t id = 0;
	if(db->async) /* as db__stmt: the caches are the owner's */
		db__async_settle(db);
	char stored[sizeof(((struct db_user_slot *)0)->name)];
	bool same = false;
	struct db_user_slot *slot = db_chat__user_slot(db, platform, ext_id);
	int found = db_chat__user_find(db, slot, platform, ext_id, shown, &id, &same, stored, sizeof(stored));
	if(found < 0)
		return -1;
	struct sql_stmt *st;
	if(found == 2) {
		db_chat__user_keep(db, slot, id, platform, ext_id, shown);
	} else if(!found) {
		st = db__stmt(db, "INSERT INTO users (platform, ext_id, name) VALUES (?1, ?2, ?3) RETURNING id");
		if(!st)
			return -1;
		sql_bind_text(st, 1, platform, -1);
		sql_bind_text(st, 2, ext_id, -1);
		sql_bind_text(st, 3, shown, -1);
		if(db__insert_id(db, st, "user insert", &id))
			return -1;
		db_chat__user_keep(db, slot, id, platform, ext_id, shown);
	} else if(!name_is_guess && !same) {
		st = db__stmt(db, "UPDATE users SET name = ?2 WHERE id = ?1");
		if(!st)
			return -1;
		sql_bind_int64(st, 1, id);
		sql_bind_text(st, 2, shown, -1);
		if(db__exec_stmt(db, st, "user rename"))
			return -1;
		/* A meetup is read with its creator's name, a list with everyone's. */
		db__meetup_cache_clear(db);
		db__rsvps_clear(db);
		db_read_ahead_drop(db);
		db_chat__user_keep(db, slot, id, platform, ext_id, shown);
	} else if(stored[0]) {
		db_chat__user_keep(db, slot, id, platform, ext_id, stored);
	}
	if(user_id)
		*user_id = id;
	if(db_chat__member_fresh(db, chat_id, id, t))
		return 0;
	if(db__on_pg(db) && db->in_tx) /* sent with the others (db_rows.c) */
		return db__rows_member(db, chat_id, id, (int64_t)t);
	st = db__stmt(db, "INSERT INTO members (chat_id, user_id, last_seen) VALUES (?1, ?2, ?3) "
	                  "ON CONFLICT (chat_id, user_id) DO UPDATE SET last_seen = excluded.last_seen "
	                  "WHERE excluded.last_seen > members.last_seen + 3600");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, id);
	sql_bind_int64(st, 3, (int64_t)t);
	return db__exec_stmt(db, st, "member upsert");
}

int db_member_drop(struct db *db, int64_t chat_id, int64_t user_id)
{
	struct sql_stmt *st = db__stmt(db, "DELETE FROM members WHERE chat_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	/* The row goes: the next sight of them writes it again. */
	struct db_member_slot *slot = db_chat__member_slot(db, chat_id, user_id);
	if(slot && slot->chat_id == chat_id && slot->user_id == user_id)
		*slot = (struct db_member_slot){ 0 };
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	return db__exec_stmt(db, st, "member drop");
}

int db_kv_get(struct db *db, const char *key, struct strbuf *out)
{
	if(db->async) /* as db__stmt: the cache is the owner's */
		db__async_settle(db);
	int held = db->nkv_later > db->kv_applied ? db__kv_later_get(db, key, out) : 2;
	if(held == 2)
		held = db__shown_get(db, key, out);
	if(held != 2)
		return held;
	struct sql_stmt *st = db__stmt(db, "SELECT value FROM kv WHERE key = ?1");
	if(!st)
		return -1;
	sql_bind_text(st, 1, key, -1);
	int rc = sql_step(st);
	if(rc == SQL_ROW)
		strbuf_adds(out, db__text(st, 0));
	db__shown_wrote(db, key, rc == SQL_ROW ? db__text(st, 0) : NULL, rc == SQL_ROW || rc == SQL_DONE ? 0 : -1);
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "kv get");
		return -1;
	}
	return rc == SQL_ROW ? 1 : 0;
}

int db_kv_set(struct db *db, const char *key, const char *value)
{
	return db_kv_set_about(db, key, value, NULL, NULL);
}

int db_kv_set_about(struct db *db, const char *key, const char *value, const char *chat, const char *person)
{
	if(db->journaling)
		return db__kv_journal(db, key, value, chat, person);
	struct sql_stmt *st =
		db__stmt(db, "INSERT INTO kv (key, value, chat, person) VALUES (?1, ?2, ?3, ?4) "
	                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value, chat = excluded.chat, "
	                     "person = excluded.person");
	if(!st)
		return -1;
	sql_bind_text(st, 1, key, -1);
	sql_bind_text(st, 2, value, -1);
	sql_bind_text(st, 3, chat, -1);
	sql_bind_text(st, 4, person, -1);
	int rc = db__exec_stmt(db, st, "kv set");
	db__shown_wrote(db, key, value, rc);
	return rc;
}
