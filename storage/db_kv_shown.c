/*
 * db_kv_shown: the kv rows "meetup.shown.REF" kept in memory.
 *
 * bot/meetup.c keeps there a fingerprint of what each editable message
 * shows, and reads it at nearly every command that touches a meetup (to
 * skip an edit that would show the same).  On PostgreSQL that read is a
 * round trip; on SQLite a statement.  Only db_kv_get, db_kv_set_about and
 * db_kv_delete read and write these rows (their person and chat are NULL,
 * so /forget me never touches them), and each of them keeps this cache as
 * the row is: what the cache holds was read or written in a committed or
 * open transaction, and a rollback empties it with the other caches
 * (db__cache_clear).  Direct-mapped: a key evicts another of its slot,
 * which is read again when asked for.
 */
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

#define DB_SHOWN_SLOTS 1024
#define DB_SHOWN_PREFIX "meetup.shown."

struct db_shown_slot {
	char key[64];   /* after the prefix; "" when the slot is empty */
	char value[24]; /* a fingerprint: 16 hexadecimal digits */
	bool present;   /* false: the row is known to be absent */
};

/* The slot of key (the part after the prefix), or NULL when key is not
 * one the cache keeps, or too long for it. */
static struct db_shown_slot *db_shown__slot(struct db *db, const char *key, bool make)
{
	size_t n = sizeof(DB_SHOWN_PREFIX) - 1;
	if(strncmp(key, DB_SHOWN_PREFIX, n) || strlen(key + n) >= sizeof(((struct db_shown_slot *)0)->key))
		return NULL;
	if(!db->shown_cache && make)
		db->shown_cache = calloc(DB_SHOWN_SLOTS, sizeof(*db->shown_cache));
	if(!db->shown_cache)
		return NULL;
	uint32_t h = 2166136261u; /* FNV-1a */
	for(const unsigned char *p = (const unsigned char *)key + n; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &db->shown_cache[h & (DB_SHOWN_SLOTS - 1)];
}

int db__shown_get(struct db *db, const char *key, struct strbuf *out)
{
	struct db_shown_slot *s = db_shown__slot(db, key, false);
	if(!s || !s->key[0] || strcmp(s->key, key + sizeof(DB_SHOWN_PREFIX) - 1))
		return 2;
	if(!s->present)
		return 0;
	strbuf_adds(out, s->value);
	return out->oom ? -1 : 1;
}

void db__shown_wrote(struct db *db, const char *key, const char *value, int rc)
{
	struct db_shown_slot *s = db_shown__slot(db, key, !rc);
	if(!s)
		return;
	if(rc || (value && strlen(value) >= sizeof(s->value))) {
		s->key[0] = '\0'; /* not known, or not a fingerprint: read again */
		return;
	}
	text_copy(s->key, sizeof(s->key), key + sizeof(DB_SHOWN_PREFIX) - 1);
	text_copy(s->value, sizeof(s->value), value ? value : "");
	s->present = value != NULL;
}

void db__shown_clear(struct db *db)
{
	if(db->shown_cache)
		memset(db->shown_cache, 0, DB_SHOWN_SLOTS * sizeof(*db->shown_cache));
}

void db__shown_free(struct db *db)
{
	free(db->shown_cache);
	db->shown_cache = NULL;
}
