/*
 * db_rsvp_cache: the RSVP lists last read, kept up to date by this
 * process's own writes.  An RSVP reads its meetup's counts and the
 * person's answer and place in line (db_rsvp_summary), and the
 * announcement edited at the batch's end reads the whole list again to
 * show who comes: with a hundred answers to a meetup, that is a hundred
 * rows read for each answer given, and on PostgreSQL a round trip that the
 * batch waits for.  A list is written far less than it is read, and only
 * by this process (the leading instance writes alone; see db_lead.c), so
 * a write updates the list kept rather than dropping it: an answer
 * changed goes to the end of the order, as its new seq puts it in the
 * table; the same answer keeps its place; a new person is appended with
 * their id and name as the user cache holds them (the sender of the
 * command, seen a moment before), and a person it does not hold drops the
 * list, which the next read fills again.
 *
 * The lists are kept by meetup id in sets of DB_WAYS slots
 * (db_internal.h).  Each keeps its rows compactly (ids, answers, and the
 * ext ids and names in one block of text), and a list longer than
 * DB_RSVP_ROWS_MAX or DB_RSVP_TEXT_MAX is not kept, which bounds the
 * memory: DB_RSVP_LISTS lists of a few kilobytes each in practice (the
 * benchmark's 200 lists of about 100 answers: 0.9 MB more peak RSS in its
 * Telegram run).
 *
 * Everything else that changes what a list reads empties them all: a
 * rollback and a failed commit, /forget me, a chat moved
 * (db__cache_clear), and a user renamed (db_chat.c).
 */
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

#define DB_RSVP_LISTS 256 /* a multiple of DB_WAYS, the sets a power of two */
#define DB_RSVP_ROWS_MAX 1024
#define DB_RSVP_TEXT_MAX 65536

struct db_rsvp_row {
	int64_t user_id;
	uint32_t text; /* offset of "ext_id\0name\0" in the list's text */
	uint8_t answer;
	bool waiting, reconfirm;
};

struct db_rsvp_list {
	int64_t meetup_id; /* 0: empty */
	struct db_rsvp_row *v;
	size_t n, alloc;
	char *text;
	size_t text_len, text_alloc;
};

struct db_rsvp_cache {
	struct db_rsvp_list e[DB_RSVP_LISTS];
	uint32_t used[DB_RSVP_LISTS]; /* use stamps (db__cache_use) */
};

static uint32_t db_rsvp_cache__set(int64_t meetup_id)
{
	uint64_t h = (uint64_t)meetup_id * 0x9e3779b97f4a7c15u;
	return (uint32_t)((h >> 32) & (DB_RSVP_LISTS / DB_WAYS - 1)) * DB_WAYS;
}

static void db_rsvp_list__empty(struct db_rsvp_list *l)
{
	free(l->v);
	free(l->text);
	*l = (struct db_rsvp_list){ 0 };
}

/* The list kept for meetup_id, marked used, or NULL. */
static struct db_rsvp_list *db_rsvp_cache__find(struct db *db, int64_t meetup_id)
{
	/* As db__stmt: from the loop, a run on a thread that owns db (and so
	 * this cache) ends first. */
	if(db->async)
		db__async_settle(db);
	struct db_rsvp_cache *c = db->rsvp_cache;
	if(!c || !meetup_id)
		return NULL;
	uint32_t set = db_rsvp_cache__set(meetup_id);
	for(uint32_t i = set; i < set + DB_WAYS; i++)
		if(c->e[i].meetup_id == meetup_id) {
			c->used[i] = db__cache_use(db);
			return &c->e[i];
		}
	return NULL;
}

static void db_rsvp_cache__drop(struct db *db, struct db_rsvp_list *l)
{
	db->rsvp_cache->used[l - db->rsvp_cache->e] = 0;
	db_rsvp_list__empty(l);
}

/* Appends a row for user_id to l, its ext id and name copied: 0, or -1
 * when it would make the list too long, or without memory. */
static int db_rsvp_list__add(struct db_rsvp_list *l, int64_t user_id, const char *ext_id, const char *name, int answer,
                             bool waiting, bool reconfirm)
{
	size_t e = strlen(ext_id) + 1, nm = strlen(name) + 1;
	if(l->n == DB_RSVP_ROWS_MAX || l->text_len + e + nm > DB_RSVP_TEXT_MAX)
		return -1;
	if(l->n == l->alloc) {
		size_t alloc = l->alloc ? 2 * l->alloc : 16;
		struct db_rsvp_row *v = realloc(l->v, alloc * sizeof(*v));
		if(!v)
			return -1;
		l->v = v;
		l->alloc = alloc;
	}
	if(l->text_len + e + nm > l->text_alloc) {
		size_t alloc = l->text_alloc ? l->text_alloc : 512;
		while(alloc < l->text_len + e + nm)
			alloc *= 2;
		char *text = realloc(l->text, alloc);
		if(!text)
			return -1;
		l->text = text;
		l->text_alloc = alloc;
	}
	l->v[l->n++] = (struct db_rsvp_row){ .user_id = user_id,
		                             .text = (uint32_t)l->text_len,
		                             .answer = (uint8_t)answer,
		                             .waiting = waiting,
		                             .reconfirm = reconfirm };
	memcpy(l->text + l->text_len, ext_id, e);
	memcpy(l->text + l->text_len + e, name, nm);
	l->text_len += e + nm;
	return 0;
}

static void db_rsvp_list__person(const struct db_rsvp_list *l, const struct db_rsvp_row *r, struct db_person *p)
{
	const char *ext_id = l->text + r->text;
	memset(p, 0, sizeof(*p));
	p->user_id = r->user_id;
	text_copy(p->ext_id, sizeof(p->ext_id), ext_id);
	text_copy(p->name, sizeof(p->name), ext_id + strlen(ext_id) + 1);
	p->answer = r->answer;
	p->waiting = r->waiting;
	p->reconfirm = r->reconfirm;
}

int db__rsvps_cached(struct db *db, int64_t meetup_id, struct db_people *out)
{
	struct db_rsvp_list *l = db_rsvp_cache__find(db, meetup_id);
	if(!l)
		return 0;
	for(size_t i = 0; i < l->n; i++) {
		struct db_person *p = db__people_add(out);
		if(!p)
			return -1;
		db_rsvp_list__person(l, &l->v[i], p);
	}
	return 1;
}

bool db__rsvps_held(struct db *db, int64_t meetup_id)
{
	return db_rsvp_cache__find(db, meetup_id) != NULL;
}

void db__rsvps_keep(struct db *db, int64_t meetup_id, const struct db_person *v, size_t n)
{
	if(!db->rsvp_cache && !(db->rsvp_cache = calloc(1, sizeof(*db->rsvp_cache))))
		return;
	struct db_rsvp_list *l = db_rsvp_cache__find(db, meetup_id);
	if(l) {
		db_rsvp_cache__drop(db, l);
	} else {
		uint32_t set = db_rsvp_cache__set(meetup_id);
		l = &db->rsvp_cache->e[set + db__cache_victim(&db->rsvp_cache->used[set])];
		db_rsvp_list__empty(l);
	}
	for(size_t i = 0; i < n; i++)
		if(db_rsvp_list__add(l, v[i].user_id, v[i].ext_id, v[i].name, v[i].answer, v[i].waiting,
		                     v[i].reconfirm)) {
			db_rsvp_cache__drop(db, l); /* too long to keep */
			return;
		}
	l->meetup_id = meetup_id;
	db->rsvp_cache->used[l - db->rsvp_cache->e] = db__cache_use(db);
}

int db__rsvps_summary(struct db *db, int64_t meetup_id, int64_t user_id, struct db_rsvp_summary *out)
{
	struct db_rsvp_list *l = db_rsvp_cache__find(db, meetup_id);
	if(!l)
		return 0;
	/* The rows are in the table's seq order: a person's place in line is
	 * the count of those waiting up to them. */
	for(size_t i = 0; i < l->n; i++) {
		const struct db_rsvp_row *r = &l->v[i];
		if(r->answer == 2 && r->waiting)
			out->nwaiting++;
		else if(r->answer == 2)
			out->nin++;
		if(user_id && r->user_id == user_id) {
			out->have_me = true;
			db_rsvp_list__person(l, r, &out->me);
			out->my_place = r->answer == 2 && r->waiting ? out->nwaiting : 0;
		}
	}
	return 1;
}

int db__rsvps_first_waiting(struct db *db, int64_t meetup_id, struct db_person *out)
{
	struct db_rsvp_list *l = db_rsvp_cache__find(db, meetup_id);
	if(!l)
		return 0;
	for(size_t i = 0; i < l->n; i++)
		if(l->v[i].answer == 2 && l->v[i].waiting) {
			db_rsvp_list__person(l, &l->v[i], out);
			return 1;
		}
	return 2;
}

/* The row of user_id in l, or NULL. */
static struct db_rsvp_row *db_rsvp_list__row(struct db_rsvp_list *l, int64_t user_id)
{
	for(size_t i = 0; i < l->n; i++)
		if(l->v[i].user_id == user_id)
			return &l->v[i];
	return NULL;
}

void db__rsvps_wrote(struct db *db, int64_t meetup_id, enum db_rsvp_write what, int64_t user_id, int answer)
{
	struct db_rsvp_list *l = db_rsvp_cache__find(db, meetup_id);
	if(!l)
		return;
	struct db_rsvp_row *r = user_id ? db_rsvp_list__row(l, user_id) : NULL;
	switch(what) {
	case DB_RSVP_SET:
	case DB_RSVP_SET_WAITING:
		if(!r) {
			/* Someone new: appended with what the user cache holds of
			 * them, else the list is read again when next needed. */
			const char *ext_id, *name;
			if(!db__user_cached(db, user_id, &ext_id, &name) ||
			   db_rsvp_list__add(l, user_id, ext_id, name, answer, what == DB_RSVP_SET_WAITING, false))
				db_rsvp_cache__drop(db, l);
			return;
		}
		if(r->answer != answer) { /* a new seq: to the end */
			struct db_rsvp_row moved = *r;
			size_t at = (size_t)(r - l->v);
			memmove(&l->v[at], &l->v[at + 1], (l->n - at - 1) * sizeof(*r));
			r = &l->v[l->n - 1];
			*r = moved;
		}
		r->answer = (uint8_t)answer;
		r->waiting = what == DB_RSVP_SET_WAITING;
		r->reconfirm = false;
		return;
	case DB_RSVP_DELETE:
		if(r) {
			/* Its text stays in the block until the list is read again. */
			size_t at = (size_t)(r - l->v);
			memmove(&l->v[at], &l->v[at + 1], (l->n - at - 1) * sizeof(*r));
			l->n--;
		}
		return;
	case DB_RSVP_CONFIRMED:
		if(r)
			r->reconfirm = false;
		return;
	case DB_RSVP_MOVED:
		for(size_t i = 0; i < l->n; i++)
			if(l->v[i].answer == 2)
				l->v[i].reconfirm = true;
		return;
	}
}

void db__rsvps_clear(struct db *db)
{
	if(!db->rsvp_cache)
		return;
	for(size_t i = 0; i < DB_RSVP_LISTS; i++)
		db_rsvp_list__empty(&db->rsvp_cache->e[i]);
	memset(db->rsvp_cache->used, 0, sizeof(db->rsvp_cache->used));
}

void db__rsvps_free(struct db *db)
{
	db__rsvps_clear(db);
	free(db->rsvp_cache);
	db->rsvp_cache = NULL;
}
