/*
 * Lists of people read ahead (db_read_ahead, storage/db.h).
 *
 * At the end of a batch the core renders the card or the poll of every
 * meetup the batch changed, each from the meetup's RSVPs or votes.  On
 * PostgreSQL each such read is a round trip that the loop waits for, one
 * after the other: a batch of a thousand commands in two hundred chats
 * waited for some three hundred of them.  Here the lists of all those
 * meetups are read by one statement, and db_rsvps and db_votes take a
 * meetup's list from what is held, once, instead of reading it.
 *
 * What is held is what the statement read: any write that would change a
 * list (an RSVP, a vote, a person renamed or forgotten) drops it all, as
 * does a rollback.  On SQLite, where a read is a call into the library,
 * nothing is read ahead and each list is read when asked for.
 */
#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strbuf.h"

#define LOG_MODULE "db"

/* One list read ahead: the meetup's people, until taken. */
struct db_ahead_list {
	int64_t meetup_id;
	bool taken;
	struct db_people people;
};

struct db_ahead {
	struct db_ahead_list *v; /* in the order of their meetup ids */
	size_t n;
};

/* The statements: the columns db_rsvps and db_votes read, then the
 * meetup's id; the users looked up per row as there (DB_PG_USER_OF). */
/* clang-format off */
static const char *const db_ahead__sql[DB_LIST_COUNT] = {
	[DB_LIST_RSVPS] = "SELECT u.id, u.ext_id, u.name, r.answer, r.waiting, r.reconfirm, r.meetup_id FROM rsvps r "
	                  DB_PG_USER_OF("r.user_id")
	                  "WHERE r.meetup_id = ANY (CAST(?1 AS bigint[])) ORDER BY r.meetup_id, r.seq",
	[DB_LIST_VOTES] = "SELECT u.id, u.ext_id, u.name, v.answers, v.meetup_id FROM votes v "
	                  DB_PG_USER_OF("v.user_id")
	                  "WHERE v.meetup_id = ANY (CAST(?1 AS bigint[])) ORDER BY v.meetup_id, v.seq",
};
/* clang-format on */
static const int db_ahead__id_column[DB_LIST_COUNT] = { [DB_LIST_RSVPS] = 6, [DB_LIST_VOTES] = 4 };

static int db_ahead__cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The list of meetup_id held in a, or NULL. */
static struct db_ahead_list *db_ahead__find(struct db_ahead *a, int64_t meetup_id)
{
	size_t lo = 0, hi = a ? a->n : 0;
	while(lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if(a->v[mid].meetup_id == meetup_id)
			return &a->v[mid];
		if(a->v[mid].meetup_id < meetup_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void db_ahead__free(struct db_ahead *a)
{
	if(!a)
		return;
	for(size_t i = 0; i < a->n; i++)
		db_people_release(&a->v[i].people);
	free(a->v);
	free(a);
}

void db_read_ahead_drop(struct db *db)
{
	for(int k = 0; k < DB_LIST_COUNT; k++) {
		db_ahead__free(db->ahead[k]);
		db->ahead[k] = NULL;
	}
}

int db_read_ahead(struct db *db, enum db_list list, const int64_t *ids, size_t n)
{
	struct db_ahead *a = NULL;
	struct strbuf arr = STRBUF_INIT;
	int rc = -1;
	db_ahead__free(db->ahead[list]);
	db->ahead[list] = NULL;
	if(!db__on_pg(db) || n < 2) /* one list: as cheap to read when asked */
		return 0;
	if(!(a = calloc(1, sizeof(*a))) || !(a->v = calloc(n, sizeof(*a->v))))
		goto out;
	for(size_t i = 0; i < n; i++)
		a->v[i].meetup_id = ids[i];
	qsort(a->v, n, sizeof(*a->v), db_ahead__cmp); /* meetup_id comes first */
	/* The ids once each, as an array literal: "{4,9,12}". */
	strbuf_addc(&arr, '{');
	for(size_t i = 0; i < n; i++) {
		if(a->n && a->v[a->n - 1].meetup_id == a->v[i].meetup_id)
			continue;
		if(list == DB_LIST_RSVPS && db__rsvps_held(db, a->v[i].meetup_id))
			continue; /* kept already (db_rsvp_cache.c) */
		a->v[a->n] = a->v[i];
		strbuf_addf(&arr, "%s%lld", a->n ? "," : "", (long long)a->v[a->n].meetup_id);
		a->n++;
	}
	strbuf_addc(&arr, '}');
	if(arr.oom)
		goto out;
	if(!a->n) {
		rc = 0;
		goto out;
	}
	struct sql_stmt *st = db__stmt(db, db_ahead__sql[list]);
	if(!st)
		goto out;
	sql_bind_text(st, 1, arr.buf, -1);
	/* The rows come in the order of their meetups. */
	void (*fill)(struct sql_stmt *, struct db_person *) = list == DB_LIST_RSVPS ? db__fill_rsvp : db__fill_vote;
	struct db_ahead_list *l = NULL;
	int step;
	while((step = sql_step(st)) == SQL_ROW) {
		int64_t id = sql_column_int64(st, db_ahead__id_column[list]);
		if(!l || l->meetup_id != id)
			l = db_ahead__find(a, id);
		struct db_person *p = l ? db__people_add(&l->people) : NULL;
		if(!p) { /* no memory, or a meetup not asked for (cannot be) */
			sql_reset(st);
			goto out;
		}
		db__person_read(st, p, fill);
	}
	sql_reset(st);
	if(step != SQL_DONE) {
		db__log_error(db, "lists read ahead");
		goto out;
	}
	db->ahead[list] = a;
	a = NULL;
	rc = 0;
out:
	if(rc)
		log_warn("could not read %zu lists ahead: each is read when asked for", n);
	db_ahead__free(a);
	strbuf_release(&arr);
	return rc;
}

int db__ahead_take(struct db *db, enum db_list list, int64_t meetup_id, struct db_people *out)
{
	struct db_ahead_list *l = db_ahead__find(db->ahead[list], meetup_id);
	if(!l || l->taken)
		return 0;
	l->taken = true;
	if(!out->n) {
		db_people_release(out);
		*out = l->people;
		l->people = (struct db_people){ 0 };
		return 1;
	}
	/* Appended, as a read appends its rows. */
	for(size_t i = 0; i < l->people.n; i++) {
		struct db_person *p = db__people_add(out);
		if(!p)
			return -1;
		*p = l->people.v[i];
	}
	return 1;
}
