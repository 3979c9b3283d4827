/*
 * db_meetup_cache: the meetups last read, with their slots.  A vote or an
 * RSVP reads its meetup (two statements on SQLite, a round trip on
 * PostgreSQL), and the announcement edited at the batch's end reads it
 * again: a meetup is read far more often than it is written.  The copies
 * are kept by (chat, num) in sets of DB_WAYS slots (db_internal.h), with
 * an index by id.
 * Each is what db_meetup.c's reads would return: forgotten when its
 * meetup or its slots are written (db_meetup_insert, db_meetup_update),
 * and all are emptied with the other caches (a rollback, /forget me, a
 * chat moved) and when a user's name changes (a meetup is read with its
 * creator's name).  Beside them, each chat's highest #num, which a new
 * meetup's insert on PostgreSQL counts from.
 */
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#define DB_MEETUP_SLOTS 1024 /* a power of two, under 65,536 */
/* The index by id is direct-mapped, and larger than the table so that two
 * ids seldom meet in it (2 bytes a slot). */
#define DB_MEETUP_IDS (4 * DB_MEETUP_SLOTS)

/* The chats whose highest #num is kept (PostgreSQL's inserts). */
#define DB_MEETUP_NUMS 512

struct db_meetup_cache {
	struct db_meetup e[DB_MEETUP_SLOTS]; /* id 0: empty */
	uint32_t used[DB_MEETUP_SLOTS];      /* use stamps (db__cache_use) */
	uint16_t by_id[DB_MEETUP_IDS];       /* 1 + the index in e; 0: none */
	struct {
		int64_t chat_id;
		int num;
	} nums[DB_MEETUP_NUMS];
	uint32_t nums_used[DB_MEETUP_NUMS]; /* use stamps; 0: empty */
};

static uint64_t db_meetup_cache__mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdu;
	x ^= x >> 33;
	return x;
}

/* The first slot of the set of (chat_id, num). */
static uint32_t db_meetup_cache__set(int64_t chat_id, int num)
{
	uint64_t h = db_meetup_cache__mix((uint64_t)chat_id * 1000003u + (uint64_t)(uint32_t)num);
	return (uint32_t)(h & (DB_MEETUP_SLOTS / DB_WAYS - 1)) * DB_WAYS;
}

static uint32_t db_meetup_cache__id_at(int64_t id)
{
	return (uint32_t)(db_meetup_cache__mix((uint64_t)id) & (DB_MEETUP_IDS - 1));
}

int db__meetup_cached(struct db *db, int64_t id, int64_t chat_id, int num, struct db_meetup *out)
{
	/* As db__stmt: from the loop, a run on a thread that owns db (and so
	 * this cache) ends first. */
	if(db->async)
		db__async_settle(db);
	struct db_meetup_cache *c = db->meetup_cache;
	if(!c)
		return 0;
	uint32_t i;
	if(id) {
		uint16_t k = c->by_id[db_meetup_cache__id_at(id)];
		if(!k || c->e[k - 1].id != id)
			return 0;
		i = k - 1u;
	} else {
		uint32_t set = db_meetup_cache__set(chat_id, num);
		for(i = set; i < set + DB_WAYS; i++)
			if(c->e[i].id && c->e[i].chat_id == chat_id && c->e[i].num == num)
				break;
		if(i == set + DB_WAYS)
			return 0;
	}
	c->used[i] = db__cache_use(db);
	memcpy(out, &c->e[i], sizeof(*out));
	return 1;
}

void db__meetup_keep(struct db *db, const struct db_meetup *m)
{
	if(!db->meetup_cache && !(db->meetup_cache = calloc(1, sizeof(*db->meetup_cache))))
		return;
	struct db_meetup_cache *c = db->meetup_cache;
	uint32_t set = db_meetup_cache__set(m->chat_id, m->num), i;
	/* Its own slot when it is there already (a meetup is never twice in a
	 * set), else an empty one or the least recently used. */
	for(i = set; i < set + DB_WAYS; i++)
		if(c->e[i].id && c->e[i].chat_id == m->chat_id && c->e[i].num == m->num)
			break;
	if(i == set + DB_WAYS)
		i = set + db__cache_victim(&c->used[set]);
	memcpy(&c->e[i], m, sizeof(*m));
	c->used[i] = db__cache_use(db);
	c->by_id[db_meetup_cache__id_at(m->id)] = (uint16_t)(i + 1);
}

/* The first slot of chat_id's set in nums. */
static uint32_t db_meetup_cache__num_set(int64_t chat_id)
{
	return (uint32_t)(db_meetup_cache__mix((uint64_t)chat_id) & (DB_MEETUP_NUMS / DB_WAYS - 1)) * DB_WAYS;
}

int db__meetup_num_cached(struct db *db, int64_t chat_id, int *num)
{
	struct db_meetup_cache *c = db->meetup_cache;
	if(!c)
		return 0;
	uint32_t set = db_meetup_cache__num_set(chat_id);
	for(uint32_t i = set; i < set + DB_WAYS; i++)
		if(c->nums_used[i] && c->nums[i].chat_id == chat_id) {
			c->nums_used[i] = db__cache_use(db);
			*num = c->nums[i].num;
			return 1;
		}
	return 0;
}

void db__meetup_num_keep(struct db *db, int64_t chat_id, int num)
{
	if(!db->meetup_cache && !(db->meetup_cache = calloc(1, sizeof(*db->meetup_cache))))
		return;
	struct db_meetup_cache *c = db->meetup_cache;
	uint32_t set = db_meetup_cache__num_set(chat_id), i;
	for(i = set; i < set + DB_WAYS; i++)
		if(c->nums_used[i] && c->nums[i].chat_id == chat_id)
			break;
	if(i == set + DB_WAYS)
		i = set + db__cache_victim(&c->nums_used[set]);
	c->nums[i].chat_id = chat_id;
	c->nums[i].num = num;
	c->nums_used[i] = db__cache_use(db);
}

void db__meetup_forget(struct db *db, int64_t id)
{
	/* Every entry is looked at: the index by id may have lost it to
	 * another id, while the entry itself still answers by (chat, num).
	 * Meetups are written seldom. */
	struct db_meetup_cache *c = db->meetup_cache;
	for(size_t i = 0; c && i < DB_MEETUP_SLOTS; i++)
		if(c->e[i].id == id) {
			c->e[i].id = 0;
			c->used[i] = 0;
		}
}

void db__meetup_cache_clear(struct db *db)
{
	struct db_meetup_cache *c = db->meetup_cache;
	if(!c)
		return;
	for(size_t i = 0; i < DB_MEETUP_SLOTS; i++)
		c->e[i].id = 0;
	memset(c->used, 0, sizeof(c->used));
	memset(c->nums_used, 0, sizeof(c->nums_used));
}

void db__meetup_cache_free(struct db *db)
{
	free(db->meetup_cache);
	db->meetup_cache = NULL;
}
