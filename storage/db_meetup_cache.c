/*
 * db_meetup_cache: the meetups last read, with their slots.  A vote or an
 * RSVP reads its meetup (two statements on SQLite, a round trip on
 * PostgreSQL), and the announcement edited at the batch's end reads it
 * again: a meetup is read far more often than it is written.  The copies
 * are kept in a direct-mapped table by (chat, num), with an index by id.
 * Each is what db_meetup.c's reads would return: forgotten when its
 * meetup or its slots are written (db_meetup_insert, db_meetup_update),
 * and all are emptied with the other caches (a rollback, /forget me, a
 * chat moved) and when a user's name changes (a meetup is read with its
 * creator's name).
 */
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#define DB_MEETUP_SLOTS 1024 /* a power of two, under 65,536 */

struct db_meetup_cache {
	struct db_meetup e[DB_MEETUP_SLOTS]; /* id 0: empty */
	uint16_t by_id[DB_MEETUP_SLOTS];     /* 1 + the index in e; 0: none */
};

static uint32_t db_meetup_cache__mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdu;
	x ^= x >> 33;
	return (uint32_t)x & (DB_MEETUP_SLOTS - 1);
}

static uint32_t db_meetup_cache__at(int64_t chat_id, int num)
{
	return db_meetup_cache__mix((uint64_t)chat_id * 1000003u + (uint64_t)(uint32_t)num);
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
	const struct db_meetup *m;
	if(id) {
		uint16_t k = c->by_id[db_meetup_cache__mix((uint64_t)id)];
		if(!k)
			return 0;
		m = &c->e[k - 1];
		if(m->id != id)
			return 0;
	} else {
		m = &c->e[db_meetup_cache__at(chat_id, num)];
		if(!m->id || m->chat_id != chat_id || m->num != num)
			return 0;
	}
	memcpy(out, m, sizeof(*out));
	return 1;
}

void db__meetup_keep(struct db *db, const struct db_meetup *m)
{
	if(!db->meetup_cache && !(db->meetup_cache = calloc(1, sizeof(*db->meetup_cache))))
		return;
	struct db_meetup_cache *c = db->meetup_cache;
	uint32_t i = db_meetup_cache__at(m->chat_id, m->num);
	memcpy(&c->e[i], m, sizeof(*m));
	c->by_id[db_meetup_cache__mix((uint64_t)m->id)] = (uint16_t)(i + 1);
}

void db__meetup_forget(struct db *db, int64_t id)
{
	/* Every entry is looked at: the index by id may have lost it to
	 * another id, while the entry itself still answers by (chat, num).
	 * Meetups are written seldom. */
	struct db_meetup_cache *c = db->meetup_cache;
	for(size_t i = 0; c && i < DB_MEETUP_SLOTS; i++)
		if(c->e[i].id == id)
			c->e[i].id = 0;
}

void db__meetup_cache_clear(struct db *db)
{
	struct db_meetup_cache *c = db->meetup_cache;
	if(!c)
		return;
	for(size_t i = 0; i < DB_MEETUP_SLOTS; i++)
		c->e[i].id = 0;
}

void db__meetup_cache_free(struct db *db)
{
	free(db->meetup_cache);
	db->meetup_cache = NULL;
}
