#include "storage/db_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/text.h"

#define LOG_MODULE "db"

void db_people_release(struct db_people *p)
{
	free(p->v);
	p->v = NULL;
	p->n = p->alloc = 0;
}

struct db_person *db__people_add(struct db_people *p)
{
	if(p->n == p->alloc) {
		size_t na = p->alloc ? p->alloc * 2 : 8;
		struct db_person *nv = realloc(p->v, na * sizeof(*nv));
		if(!nv)
			return NULL;
		p->v = nv;
		p->alloc = na;
	}
	struct db_person *r = &p->v[p->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

void db__person_read(struct sql_stmt *st, struct db_person *p, void (*fill)(struct sql_stmt *, struct db_person *))
{
	p->user_id = sql_column_int64(st, 0);
	db__copy_text(st, 1, p->ext_id, sizeof(p->ext_id));
	db__copy_text(st, 2, p->name, sizeof(p->name));
	if(fill)
		fill(st, p);
}

int db__read_people(struct db *db, struct sql_stmt *st, struct db_people *out,
                    void (*fill)(struct sql_stmt *, struct db_person *))
{
	int rc;
	while((rc = sql_step(st)) == SQL_ROW) {
		struct db_person *p = db__people_add(out);
		if(!p) {
			sql_reset(st);
			return -1;
		}
		db__person_read(st, p, fill);
	}
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "list people");
		return -1;
	}
	return 0;
}

int db_chat_members(struct db *db, int64_t chat_id, struct db_people *out)
{
	struct sql_stmt *st =
		db__stmt(db, "SELECT u.id, u.ext_id, u.name FROM members m JOIN users u ON u.id = m.user_id "
	                     "WHERE m.chat_id = ?1 ORDER BY lower(u.name), u.id");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	return db__read_people(db, st, out, NULL);
}

/* A meetup is read with its slots.  On SQLite these are two statements,
 * which cost less there than one that joins them; on PostgreSQL, where
 * each is a round trip, one: the meetup's columns then the slot's, a row
 * a slot (one row with NULL slot columns when the meetup has none), in no
 * particular order: the slots are put in order here, as the statement's
 * sort (a node set up at every run, for a few rows) cost the server 14 %
 * of the lookup. */
#define DB_MEETUP_COLUMNS \
	"SELECT m.id, m.chat_id, m.num, m.title, m.place, coalesce(m.creator, 0), u.ext_id, u.name, m.state, " \
	"m.duration_min, m.deadline, m.quorum, m.max_people, m.chosen, m.start_at, m.created_at, m.remind, " \
	"coalesce(m.series_id, 0), coalesce(m.group_id, 0) "
#define DB_MEETUP_FROM "FROM meetups m LEFT JOIN users u ON u.id = m.creator "
#define DB_MEETUP_WITH_SLOTS \
	", s.idx, s.start_at, s.duration_min " DB_MEETUP_FROM "LEFT JOIN slots s ON s.meetup_id = m.id "

static void db__meetup_columns(struct sql_stmt *st, struct db_meetup *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sql_column_int64(st, 0);
	m->chat_id = sql_column_int64(st, 1);
	m->num = sql_column_int(st, 2);
	db__copy_text(st, 3, m->title, sizeof(m->title));
	db__copy_text(st, 4, m->place, sizeof(m->place));
	m->creator = sql_column_int64(st, 5);
	db__copy_text(st, 6, m->creator_ext, sizeof(m->creator_ext));
	db__copy_text(st, 7, m->creator_name, sizeof(m->creator_name));
	m->state = (enum meetup_state)sql_column_int(st, 8);
	m->duration_min = sql_column_int(st, 9);
	m->deadline = (time_t)sql_column_int64(st, 10);
	m->quorum = sql_column_int(st, 11);
	m->max_people = sql_column_int(st, 12);
	m->chosen = sql_column_int(st, 13);
	m->start = (time_t)sql_column_int64(st, 14);
	m->created = (time_t)sql_column_int64(st, 15);
	m->has_remind = !sql_column_null(st, 16);
	db__copy_text(st, 16, m->remind, sizeof(m->remind));
	m->series_id = sql_column_int64(st, 17);
	m->group_id = sql_column_int64(st, 18);
}

/* Puts s among the slots of m, which are in the order of their index,
 * keeping the first MEETUP_MAX_SLOTS (as SQLite's ORDER BY and its
 * reader's limit do). */
static void db__meetup_add_slot(struct db_meetup *m, const struct db_slot *s)
{
	int i = m->nslots;
	if(i == MEETUP_MAX_SLOTS) {
		if(s->idx >= m->slots[i - 1].idx)
			return;
		i--;
	} else {
		m->nslots++;
	}
	for(; i > 0 && m->slots[i - 1].idx > s->idx; i--)
		m->slots[i] = m->slots[i - 1];
	m->slots[i] = *s;
}

/* Reads the slots of the join on PostgreSQL (columns 19 to 21) from the
 * current row of st on, into m, and resets st.  1, or -1 (logged). */
static int db__meetup_joined_slots(struct db *db, struct sql_stmt *st, struct db_meetup *m)
{
	int rc = SQL_ROW;
	/* A row with NULL slot columns: a meetup without slots. */
	while(rc == SQL_ROW && !sql_column_null(st, 19)) {
		struct db_slot s = {
			.idx = sql_column_int(st, 19),
			.start = (time_t)sql_column_int64(st, 20),
			.duration_min = sql_column_int(st, 21),
		};
		db__meetup_add_slot(m, &s);
		rc = sql_step(st);
	}
	sql_reset(st);
	if(rc != SQL_DONE && rc != SQL_ROW) {
		db__log_error(db, "slots lookup");
		return -1;
	}
	return 1;
}

/* Reads a meetup from st, its statement for this engine with its
 * parameters bound (see above).  1 when found, 0 when not, -1 on error
 * (logged). */
static int db__meetup_read(struct db *db, struct sql_stmt *st, struct db_meetup *m)
{
	int rc = sql_step(st);
	if(rc != SQL_ROW) {
		sql_reset(st);
		if(rc == SQL_DONE)
			return 0;
		db__log_error(db, "meetup lookup");
		return -1;
	}
	db__meetup_columns(st, m);
	if(db__on_pg(db))
		return db__meetup_joined_slots(db, st, m);
	sql_reset(st);
	st = db__stmt(db, "SELECT idx, start_at, duration_min FROM slots WHERE meetup_id = ?1 ORDER BY idx");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, m->id);
	while((rc = sql_step(st)) == SQL_ROW && m->nslots < MEETUP_MAX_SLOTS) {
		struct db_slot *s = &m->slots[m->nslots++];
		s->idx = sql_column_int(st, 0);
		s->start = (time_t)sql_column_int64(st, 1);
		s->duration_min = sql_column_int(st, 2);
	}
	sql_reset(st);
	if(rc != SQL_DONE && rc != SQL_ROW) {
		db__log_error(db, "slots lookup");
		return -1;
	}
	return 1;
}

int db_meetup_get(struct db *db, int64_t chat_id, int num, struct db_meetup *out)
{
	static const char lite[] = DB_MEETUP_COLUMNS DB_MEETUP_FROM "WHERE m.chat_id = ?1 AND m.num = ?2";
	static const char pg[] = DB_MEETUP_COLUMNS DB_MEETUP_WITH_SLOTS "WHERE m.chat_id = ?1 AND m.num = ?2";
	if(db__meetup_cached(db, 0, chat_id, num, out))
		return 1;
	struct sql_stmt *st = db__stmt(db, db__on_pg(db) ? pg : lite);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int(st, 2, num);
	int rc = db__meetup_read(db, st, out);
	if(rc == 1)
		db__meetup_keep(db, out);
	return rc;
}

int db_meetup_get_by_id(struct db *db, int64_t id, struct db_meetup *out)
{
	static const char lite[] = DB_MEETUP_COLUMNS DB_MEETUP_FROM "WHERE m.id = ?1";
	static const char pg[] = DB_MEETUP_COLUMNS DB_MEETUP_WITH_SLOTS "WHERE m.id = ?1";
	if(db__meetup_cached(db, id, 0, 0, out))
		return 1;
	struct sql_stmt *st = db__stmt(db, db__on_pg(db) ? pg : lite);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	int rc = db__meetup_read(db, st, out);
	if(rc == 1)
		db__meetup_keep(db, out);
	return rc;
}

/* Writes the slots of m, a meetup just inserted, and forgets whatever the
 * cache kept under its id: there are no slots to replace (a meetup's id
 * names no slot before it, as the slots of a deleted meetup go with it,
 * ON DELETE CASCADE). */
static int db__slots_insert(struct db *db, const struct db_meetup *m)
{
	db__meetup_forget(db, m->id);
	for(int i = 0; i < m->nslots; i++) {
		struct sql_stmt *st = db__stmt(
			db, "INSERT INTO slots (meetup_id, idx, start_at, duration_min) VALUES (?1, ?2, ?3, ?4)");
		if(!st)
			return -1;
		sql_bind_int64(st, 1, m->id);
		sql_bind_int(st, 2, m->slots[i].idx);
		sql_bind_int64(st, 3, (int64_t)m->slots[i].start);
		sql_bind_int(st, 4, m->slots[i].duration_min);
		if(db__exec_stmt(db, st, "slot insert"))
			return -1;
	}
	return 0;
}

/* Binds m's columns to ?2 ... ?15 of a meetup's insert. */
static void db_meetup__bind(struct sql_stmt *st, const struct db_meetup *m)
{
	sql_bind_text(st, 2, m->title, -1);
	sql_bind_text(st, 3, m->place, -1);
	if(m->creator)
		sql_bind_int64(st, 4, m->creator);
	else
		sql_bind_null(st, 4);
	sql_bind_int(st, 5, (int)m->state);
	sql_bind_int(st, 6, m->duration_min);
	sql_bind_int64(st, 7, (int64_t)m->deadline);
	sql_bind_int(st, 8, m->quorum);
	sql_bind_int(st, 9, m->max_people);
	sql_bind_int(st, 10, m->chosen);
	sql_bind_int64(st, 11, (int64_t)m->start);
	sql_bind_int64(st, 12, (int64_t)m->created);
	if(m->has_remind)
		sql_bind_text(st, 13, m->remind, -1);
	else
		sql_bind_null(st, 13);
	if(m->series_id)
		sql_bind_int64(st, 14, m->series_id);
	else
		sql_bind_null(st, 14);
	if(m->group_id)
		sql_bind_int64(st, 15, m->group_id);
	else
		sql_bind_null(st, 15);
}

/* On PostgreSQL a meetup's id and #num are known before its insert, which
 * then returns nothing and is not waited for (storage/sql_pg.c's
 * pipeline): a proposal costs no round trip.  The id comes from the
 * table's sequence (db__next_id), the number from the chat's highest,
 * read once and then counted here: only the leading instance writes
 * (storage/db_lead.c), and a rollback empties the count with the caches. */
static int db_meetup__insert_pg(struct db *db, struct db_meetup *m)
{
	int64_t id;
	int num;
	if(db__next_id(db, &db->meetup_ids, DB_IDS_SQL("meetups"), &id))
		return -1;
	if(!db__meetup_num_cached(db, m->chat_id, &num)) {
		struct sql_stmt *st = db__stmt(db, "SELECT coalesce(max(num), 0) FROM meetups WHERE chat_id = ?1");
		if(!st)
			return -1;
		sql_bind_int64(st, 1, m->chat_id);
		int rc = sql_step(st);
		num = rc == SQL_ROW ? sql_column_int(st, 0) : 0;
		sql_reset(st);
		if(rc != SQL_ROW) {
			db__log_error(db, "meetup number");
			return -1;
		}
	}
	struct sql_stmt *st = db__stmt(
		db, "INSERT INTO meetups (id, chat_id, num, title, place, creator, state, duration_min, deadline, "
		    "quorum, max_people, chosen, start_at, created_at, remind, series_id, group_id) "
		    "VALUES (?16, ?1, ?17, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, m->chat_id);
	db_meetup__bind(st, m);
	sql_bind_int64(st, 16, id);
	sql_bind_int(st, 17, num + 1);
	if(db__exec_stmt(db, st, "meetup insert"))
		return -1;
	m->id = id;
	m->num = num + 1;
	db__meetup_num_keep(db, m->chat_id, m->num);
	return db__slots_insert(db, m);
}

int db_meetup_insert(struct db *db, struct db_meetup *m)
{
	if(db__on_pg(db))
		return db_meetup__insert_pg(db, m);
	struct sql_stmt *st =
		db__stmt(db, "INSERT INTO meetups (chat_id, num, title, place, creator, state, duration_min, deadline, "
	                     "quorum, max_people, chosen, start_at, created_at, remind, series_id, group_id) "
	                     "VALUES (?1, (SELECT coalesce(max(num), 0) + 1 FROM meetups WHERE chat_id = ?1), "
	                     "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) RETURNING id, num");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, m->chat_id);
	db_meetup__bind(st, m);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		m->id = sql_column_int64(st, 0);
		m->num = sql_column_int(st, 1);
	}
	sql_reset(st);
	if(rc != SQL_ROW) {
		db__log_error(db, "meetup insert");
		return -1;
	}
	return db__slots_insert(db, m);
}

int db_meetup_update(struct db *db, const struct db_meetup *m)
{
	struct sql_stmt *st =
		db__stmt(db, "UPDATE meetups SET title = ?2, place = ?3, state = ?4, duration_min = ?5, deadline = ?6, "
	                     "chosen = ?7, start_at = ?8, remind = ?9 WHERE id = ?1");
	if(!st)
		return -1;
	db__meetup_forget(db, m->id);
	sql_bind_int64(st, 1, m->id);
	sql_bind_text(st, 2, m->title, -1);
	sql_bind_text(st, 3, m->place, -1);
	sql_bind_int(st, 4, (int)m->state);
	sql_bind_int(st, 5, m->duration_min);
	sql_bind_int64(st, 6, (int64_t)m->deadline);
	sql_bind_int(st, 7, m->chosen);
	sql_bind_int64(st, 8, (int64_t)m->start);
	if(m->has_remind)
		sql_bind_text(st, 9, m->remind, -1);
	else
		sql_bind_null(st, 9);
	return db__exec_stmt(db, st, "meetup update");
}

int db_meetup_list(struct db *db, int64_t chat_id, unsigned state_mask, time_t now, int *nums, int max, int *count)
{
	/* A poll is listed until it closes; a confirmed meetup until it ends. */
	struct sql_stmt *st = db__stmt(db, "SELECT num, state FROM meetups WHERE chat_id = ?1 AND "
	                                   "(state <> 1 OR start_at + duration_min * 60 > ?2) "
	                                   "ORDER BY state = 1, start_at, num");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, (int64_t)now);
	int rc;
	*count = 0;
	while((rc = sql_step(st)) == SQL_ROW) {
		int state = sql_column_int(st, 1);
		if(!(state_mask & (1u << state)))
			continue;
		if(*count < max)
			nums[*count] = sql_column_int(st, 0);
		(*count)++;
	}
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "meetup list");
		return -1;
	}
	return 0;
}

int db_meetups_of_user(struct db *db, int64_t user_id, int num, time_t now, int64_t *ids, int max, int *count)
{
	struct sql_stmt *st =
		db__stmt(db, "SELECT m.id FROM members b JOIN meetups m ON m.chat_id = b.chat_id "
	                     "WHERE b.user_id = ?1 AND m.state = 1 AND m.start_at + m.duration_min * 60 > ?2 "
	                     "AND (?3 = 0 OR m.num = ?3) ORDER BY m.start_at, m.id");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, user_id);
	sql_bind_int64(st, 2, (int64_t)now);
	sql_bind_int(st, 3, num);
	int rc;
	*count = 0;
	while((rc = sql_step(st)) == SQL_ROW) {
		if(*count < max)
			ids[*count] = sql_column_int64(st, 0);
		(*count)++;
	}
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "meetups of a user");
		return -1;
	}
	return 0;
}

int db_member_of(struct db *db, int64_t chat_id, int64_t user_id)
{
	struct sql_stmt *st = db__stmt(db, "SELECT 1 FROM members WHERE chat_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, user_id);
	return db__exists(db, st, "member check");
}

int db_meetup_lines(struct db *db, int64_t chat_id, int64_t group_id, time_t now, int offset, int max,
                    struct db_meetup_line **out, int *n, int *total)
{
	/* The same order and the same "not over" rule as db_meetup_list. */
#define DB_MEETUP_LINES_WHERE \
	"WHERE m.chat_id = ?1 AND m.state IN (0, 1) AND (m.state <> 1 OR m.start_at + m.duration_min * 60 > ?2) " \
	"AND (?3 = 0 OR m.group_id = ?3) "
	static const char count_sql[] = "SELECT count(*) FROM meetups m " DB_MEETUP_LINES_WHERE;
	static const char lines_sql[] =
		"SELECT m.num, m.state, m.title, m.start_at, m.duration_min, coalesce(m.series_id, 0), "
		"coalesce(m.group_id, 0), CASE m.state WHEN 0 THEN (SELECT count(*) FROM votes v WHERE v.meetup_id = m.id) "
		"ELSE (SELECT count(*) FROM rsvps r WHERE r.meetup_id = m.id AND r.answer = 2 AND r.waiting = 0) END "
		"FROM meetups m " DB_MEETUP_LINES_WHERE "ORDER BY m.state = 1, m.start_at, m.num LIMIT ?4 OFFSET ?5";
#undef DB_MEETUP_LINES_WHERE
	*out = NULL;
	*n = 0;
	struct sql_stmt *st = db__stmt(db, count_sql);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, (int64_t)now);
	sql_bind_int64(st, 3, group_id);
	int rc = sql_step(st);
	*total = rc == SQL_ROW ? sql_column_int(st, 0) : 0;
	sql_reset(st);
	if(rc != SQL_ROW) {
		db__log_error(db, "meetup lines");
		return -1;
	}
	if(max <= 0 || offset >= *total)
		return 0;
	if(max > *total - offset)
		max = *total - offset;
	st = db__stmt(db, lines_sql);
	if(!st)
		return -1;
	struct db_meetup_line *v = calloc((size_t)max, sizeof(*v));
	if(!v)
		return -1;
	sql_bind_int64(st, 1, chat_id);
	sql_bind_int64(st, 2, (int64_t)now);
	sql_bind_int64(st, 3, group_id);
	sql_bind_int(st, 4, max);
	sql_bind_int(st, 5, offset);
	while((rc = sql_step(st)) == SQL_ROW && *n < max) {
		struct db_meetup_line *l = &v[(*n)++];
		l->num = sql_column_int(st, 0);
		l->state = (enum meetup_state)sql_column_int(st, 1);
		db__copy_text(st, 2, l->title, sizeof(l->title));
		l->start = (time_t)sql_column_int64(st, 3);
		l->duration_min = sql_column_int(st, 4);
		l->series_id = sql_column_int64(st, 5);
		l->group_id = sql_column_int64(st, 6);
		l->count = sql_column_int(st, 7);
	}
	if(rc == SQL_ROW) /* a row past max: the list grew meanwhile */
		rc = SQL_DONE;
	sql_reset(st);
	if(rc != SQL_DONE) {
		db__log_error(db, "meetup lines");
		free(v);
		*n = 0;
		return -1;
	}
	*out = v;
	return 0;
}

int db_vote_set(struct db *db, int64_t meetup_id, int64_t user_id, const char *answers, time_t t)
{
	struct sql_stmt *st;
	db_read_ahead_drop(db); /* what it held is not what is stored now */
	if(!answers) {
		st = db__stmt(db, "DELETE FROM votes WHERE meetup_id = ?1 AND user_id = ?2");
		if(!st)
			return -1;
		sql_bind_int64(st, 1, meetup_id);
		sql_bind_int64(st, 2, user_id);
		return db__exec_stmt(db, st, "vote delete");
	}
	/* seq orders voters by their latest vote. */
	int64_t seq;
	if(db__next_seq(db, &seq))
		return -1;
	st = db__stmt(db, "INSERT INTO votes (meetup_id, user_id, answers, voted_at, seq) VALUES (?1, ?2, ?3, ?4, ?5) "
	                  "ON CONFLICT (meetup_id, user_id) DO UPDATE SET answers = excluded.answers, "
	                  "voted_at = excluded.voted_at, seq = excluded.seq");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int64(st, 2, user_id);
	sql_bind_text(st, 3, answers, -1);
	sql_bind_int64(st, 4, (int64_t)t);
	sql_bind_int64(st, 5, seq);
	return db__exec_stmt(db, st, "vote set");
}

void db__fill_vote(struct sql_stmt *st, struct db_person *p)
{
	db__copy_text(st, 3, p->answers, sizeof(p->answers));
}

int db_votes(struct db *db, int64_t meetup_id, struct db_people *out)
{
	static const char lite[] =
		"SELECT u.id, u.ext_id, u.name, v.answers FROM votes v JOIN users u ON u.id = v.user_id "
		"WHERE v.meetup_id = ?1 ORDER BY v.seq";
	/* clang-format off */
	static const char pg[] = "SELECT u.id, u.ext_id, u.name, v.answers FROM votes v "
	                         DB_PG_USER_OF("v.user_id")
	                         "WHERE v.meetup_id = ?1 ORDER BY v.seq";
	/* clang-format on */
	int held = db__ahead_take(db, DB_LIST_VOTES, meetup_id, out);
	if(held)
		return held > 0 ? 0 : -1;
	struct sql_stmt *st = db__stmt(db, db__on_pg(db) ? pg : lite);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	return db__read_people(db, st, out, db__fill_vote);
}

int db_non_voters(struct db *db, int64_t meetup_id, int64_t chat_id, int64_t group_id, int limit, struct db_people *out,
                  int *total)
{
	/* Counted and named in SQL: a poll in a room of 500 reads 20 names,
	 * not 500 people to compare with the voters.  A chat's members are
	 * named in the order the bot first saw them (the user ids), which
	 * needs no sort: sorting every non-voter by name to show 20 was most
	 * of the cost of /poll in a big room. */
	static const char chat_count[] =
		"SELECT (SELECT count(*) FROM members WHERE chat_id = ?1) - (SELECT count(*) FROM votes v "
		"WHERE v.meetup_id = ?2 AND EXISTS (SELECT 1 FROM members m WHERE m.chat_id = ?1 AND m.user_id = v.user_id))";
	static const char chat_names[] =
		"SELECT u.id, u.ext_id, u.name FROM members m JOIN users u ON u.id = m.user_id WHERE m.chat_id = ?1 "
		"AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.meetup_id = ?2 AND v.user_id = m.user_id) "
		"ORDER BY m.user_id LIMIT ?3";
	static const char group_count[] =
		"SELECT count(*) FROM group_members m WHERE m.group_id = ?1 AND m.waiting = 0 "
		"AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.meetup_id = ?2 AND v.user_id = m.user_id)";
	static const char group_names[] =
		"SELECT u.id, u.ext_id, u.name FROM group_members m JOIN users u ON u.id = m.user_id "
		"WHERE m.group_id = ?1 AND m.waiting = 0 "
		"AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.meetup_id = ?2 AND v.user_id = m.user_id) "
		"ORDER BY m.seq LIMIT ?3";
	int64_t audience = group_id ? group_id : chat_id;
	struct sql_stmt *st = db__stmt(db, group_id ? group_count : chat_count);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, audience);
	sql_bind_int64(st, 2, meetup_id);
	int rc = sql_step(st);
	*total = rc == SQL_ROW ? sql_column_int(st, 0) : 0;
	sql_reset(st);
	if(rc != SQL_ROW) {
		db__log_error(db, "non-voters");
		return -1;
	}
	if(!*total || limit <= 0)
		return 0;
	st = db__stmt(db, group_id ? group_names : chat_names);
	if(!st)
		return -1;
	sql_bind_int64(st, 1, audience);
	sql_bind_int64(st, 2, meetup_id);
	sql_bind_int(st, 3, limit);
	return db__read_people(db, st, out, NULL);
}

/* After a write of meetup_id's RSVPs that ended with rc: the list kept is
 * updated (db__rsvps_wrote), or, when the write failed, all are dropped
 * (the transaction will not commit).  Returns rc. */
static int db_rsvp__wrote(struct db *db, int rc, int64_t meetup_id, enum db_rsvp_write what, int64_t user_id,
                          int answer)
{
	if(rc)
		db__rsvps_clear(db);
	else
		db__rsvps_wrote(db, meetup_id, what, user_id, answer);
	return rc;
}

int db_rsvp_set(struct db *db, int64_t meetup_id, int64_t user_id, int answer, bool waiting)
{
	db_read_ahead_drop(db);
	/* A changed answer goes to the end of the order; the same answer keeps
	 * its place (a waiting list must not reorder on a repeated "yes"). */
	int64_t seq;
	if(db__next_seq(db, &seq))
		return -1;
	struct sql_stmt *st = db__stmt(
		db,
		"INSERT INTO rsvps (meetup_id, user_id, answer, waiting, reconfirm, seq) VALUES (?1, ?2, ?3, ?4, 0, ?5) "
		"ON CONFLICT (meetup_id, user_id) DO UPDATE SET "
		"seq = CASE WHEN rsvps.answer = excluded.answer THEN rsvps.seq ELSE excluded.seq END, "
		"answer = excluded.answer, waiting = excluded.waiting, reconfirm = 0");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int64(st, 2, user_id);
	sql_bind_int(st, 3, answer);
	sql_bind_int(st, 4, waiting);
	sql_bind_int64(st, 5, seq);
	return db_rsvp__wrote(db, db__exec_stmt(db, st, "rsvp set"), meetup_id,
	                      waiting ? DB_RSVP_SET_WAITING : DB_RSVP_SET, user_id, answer);
}

int db_rsvp_clear_reconfirm(struct db *db, int64_t meetup_id, int64_t user_id)
{
	db_read_ahead_drop(db);
	struct sql_stmt *st = db__stmt(db, "UPDATE rsvps SET reconfirm = 0 WHERE meetup_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int64(st, 2, user_id);
	return db_rsvp__wrote(db, db__exec_stmt(db, st, "rsvp update"), meetup_id, DB_RSVP_CONFIRMED, user_id, 0);
}

int db_rsvp_delete(struct db *db, int64_t meetup_id, int64_t user_id)
{
	db_read_ahead_drop(db);
	struct sql_stmt *st = db__stmt(db, "DELETE FROM rsvps WHERE meetup_id = ?1 AND user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int64(st, 2, user_id);
	return db_rsvp__wrote(db, db__exec_stmt(db, st, "rsvp delete"), meetup_id, DB_RSVP_DELETE, user_id, 0);
}

int db_rsvp_mark_reconfirm(struct db *db, int64_t meetup_id)
{
	db_read_ahead_drop(db);
	struct sql_stmt *st = db__stmt(db, "UPDATE rsvps SET reconfirm = 1 WHERE meetup_id = ?1 AND answer = 2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	return db_rsvp__wrote(db, db__exec_stmt(db, st, "rsvp update"), meetup_id, DB_RSVP_MOVED, 0, 0);
}

void db__fill_rsvp(struct sql_stmt *st, struct db_person *p)
{
	p->answer = sql_column_int(st, 3);
	p->waiting = sql_column_int(st, 4) != 0;
	p->reconfirm = sql_column_int(st, 5) != 0;
}

int db_rsvps(struct db *db, int64_t meetup_id, struct db_people *out)
{
	static const char lite[] = "SELECT u.id, u.ext_id, u.name, r.answer, r.waiting, r.reconfirm FROM rsvps r "
				   "JOIN users u ON u.id = r.user_id WHERE r.meetup_id = ?1 ORDER BY r.seq";
	/* clang-format off */
	static const char pg[] = "SELECT u.id, u.ext_id, u.name, r.answer, r.waiting, r.reconfirm FROM rsvps r "
	                         DB_PG_USER_OF("r.user_id")
	                         "WHERE r.meetup_id = ?1 ORDER BY r.seq";
	/* clang-format on */
	int held = db__rsvps_cached(db, meetup_id, out);
	if(held)
		return held > 0 ? 0 : -1;
	size_t from = out->n;
	held = db__ahead_take(db, DB_LIST_RSVPS, meetup_id, out);
	if(held < 0)
		return -1;
	if(!held) {
		struct sql_stmt *st = db__stmt(db, db__on_pg(db) ? pg : lite);
		if(!st || (sql_bind_int64(st, 1, meetup_id), db__read_people(db, st, out, db__fill_rsvp)))
			return -1;
	}
	/* (An empty list may have no array at all: no offset from NULL.) */
	db__rsvps_keep(db, meetup_id, out->n > from ? out->v + from : NULL, out->n - from);
	return 0;
}

/* db_rsvp_summary on PostgreSQL: the counts, the user's answer and their
 * place in line in one statement, where SQLite runs up to three (each a
 * round trip here; there, three simple statements cost less than one
 * that joins them).  0, or -1 (logged). */
static int db__rsvp_summary_pg(struct db *db, int64_t meetup_id, int64_t user_id, struct db_rsvp_summary *out)
{
	struct sql_stmt *st = db__stmt(
		db,
		"SELECT s.nin, s.nwaiting, u.id, u.ext_id, u.name, r.answer, r.waiting, r.reconfirm, "
		"CASE WHEN r.answer = 2 AND r.waiting != 0 THEN (SELECT count(*) FROM rsvps w WHERE w.meetup_id = ?1 "
		"AND w.answer = 2 AND w.waiting != 0 AND w.seq <= r.seq) ELSE 0 END "
		"FROM (SELECT coalesce(sum(CASE WHEN waiting = 0 THEN 1 ELSE 0 END), 0) AS nin, "
		"coalesce(sum(CASE WHEN waiting != 0 THEN 1 ELSE 0 END), 0) AS nwaiting "
		"FROM rsvps WHERE meetup_id = ?1 AND answer = 2) s "
		"LEFT JOIN rsvps r ON r.meetup_id = ?1 AND r.user_id = ?2 LEFT JOIN users u ON u.id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int64(st, 2, user_id);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		out->nin = sql_column_int(st, 0);
		out->nwaiting = sql_column_int(st, 1);
		if(!sql_column_null(st, 2)) {
			out->me.user_id = sql_column_int64(st, 2);
			db__copy_text(st, 3, out->me.ext_id, sizeof(out->me.ext_id));
			db__copy_text(st, 4, out->me.name, sizeof(out->me.name));
		}
		if(!sql_column_null(st, 5)) {
			out->have_me = true;
			out->me.answer = sql_column_int(st, 5);
			out->me.waiting = sql_column_int(st, 6) != 0;
			out->me.reconfirm = sql_column_int(st, 7) != 0;
			out->my_place = sql_column_int(st, 8);
		}
	}
	sql_reset(st);
	if(rc != SQL_ROW) {
		db__log_error(db, "rsvp summary");
		return -1;
	}
	return 0;
}

int db_rsvp_summary(struct db *db, int64_t meetup_id, int64_t user_id, struct db_rsvp_summary *out)
{
	memset(out, 0, sizeof(*out));
	if(db__rsvps_summary(db, meetup_id, user_id, out)) {
		/* The name of someone who has not answered yet: the sender,
		 * whom the user cache holds. */
		const char *ext_id, *name;
		if(out->have_me || !user_id)
			return 0;
		if(db__user_cached(db, user_id, &ext_id, &name)) {
			text_copy(out->me.name, sizeof(out->me.name), name);
			return 0;
		}
		return db_user_name(db, user_id, out->me.name, sizeof(out->me.name)) < 0 ? -1 : 0;
	}
	if(db__on_pg(db))
		return db__rsvp_summary_pg(db, meetup_id, user_id, out);
	struct sql_stmt *st = db__stmt(db, "SELECT coalesce(sum(CASE WHEN waiting = 0 THEN 1 ELSE 0 END), 0), "
	                                   "coalesce(sum(CASE WHEN waiting != 0 THEN 1 ELSE 0 END), 0) FROM rsvps "
	                                   "WHERE meetup_id = ?1 AND answer = 2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		out->nin = sql_column_int(st, 0);
		out->nwaiting = sql_column_int(st, 1);
	}
	sql_reset(st);
	if(rc != SQL_ROW)
		goto fail;
	st = db__stmt(db, "SELECT u.id, u.ext_id, u.name, r.answer, r.waiting, r.reconfirm, r.seq FROM rsvps r "
	                  "JOIN users u ON u.id = r.user_id WHERE r.meetup_id = ?1 AND r.user_id = ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int64(st, 2, user_id);
	int64_t seq = 0;
	rc = sql_step(st);
	if(rc == SQL_ROW) {
		out->have_me = true;
		out->me.user_id = sql_column_int64(st, 0);
		db__copy_text(st, 1, out->me.ext_id, sizeof(out->me.ext_id));
		db__copy_text(st, 2, out->me.name, sizeof(out->me.name));
		db__fill_rsvp(st, &out->me);
		seq = sql_column_int64(st, 6);
	}
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE)
		goto fail;
	if(!out->have_me)
		return user_id && db_user_name(db, user_id, out->me.name, sizeof(out->me.name)) < 0 ? -1 : 0;
	if(out->me.answer != 2 || !out->me.waiting)
		return 0;
	st = db__stmt(db,
	              "SELECT count(*) FROM rsvps WHERE meetup_id = ?1 AND answer = 2 AND waiting != 0 AND seq <= ?2");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	sql_bind_int64(st, 2, seq);
	rc = sql_step(st);
	if(rc == SQL_ROW)
		out->my_place = sql_column_int(st, 0);
	sql_reset(st);
	if(rc == SQL_ROW)
		return 0;
fail:
	db__log_error(db, "rsvp summary");
	return -1;
}

int db_rsvp_first_waiting(struct db *db, int64_t meetup_id, struct db_person *out)
{
	int held = db__rsvps_first_waiting(db, meetup_id, out);
	if(held)
		return held == 1;
	struct db_people r = { 0 };
	struct sql_stmt *st = db__stmt(
		db, "SELECT u.id, u.ext_id, u.name, r.answer, r.waiting, r.reconfirm FROM rsvps r "
		    "JOIN users u ON u.id = r.user_id WHERE r.meetup_id = ?1 AND r.answer = 2 AND r.waiting != 0 "
		    "ORDER BY r.seq LIMIT 1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, meetup_id);
	if(db__read_people(db, st, &r, db__fill_rsvp))
		return -1;
	int found = r.n > 0;
	if(found)
		*out = r.v[0];
	db_people_release(&r);
	return found;
}

int db_series_insert(struct db *db, struct db_series *s)
{
	struct sql_stmt *st =
		db__stmt(db, "INSERT INTO series (chat_id, rule, poll, active) VALUES (?1, ?2, ?3, 1) RETURNING id");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, s->chat_id);
	sql_bind_text(st, 2, s->rule, -1);
	sql_bind_int(st, 3, s->poll);
	if(db__insert_id(db, st, "series insert", &s->id))
		return -1;
	s->active = true;
	return 0;
}

int db_series_get(struct db *db, int64_t id, struct db_series *out)
{
	struct sql_stmt *st = db__stmt(db, "SELECT id, chat_id, rule, poll, active FROM series WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	int rc = sql_step(st);
	if(rc == SQL_ROW) {
		out->id = sql_column_int64(st, 0);
		out->chat_id = sql_column_int64(st, 1);
		db__copy_text(st, 2, out->rule, sizeof(out->rule));
		out->poll = sql_column_int(st, 3) != 0;
		out->active = sql_column_int(st, 4) != 0;
	}
	sql_reset(st);
	if(rc != SQL_ROW && rc != SQL_DONE) {
		db__log_error(db, "series get");
		return -1;
	}
	return rc == SQL_ROW;
}

int db_series_stop(struct db *db, int64_t id)
{
	struct sql_stmt *st = db__stmt(db, "UPDATE series SET active = 0 WHERE id = ?1");
	if(!st)
		return -1;
	sql_bind_int64(st, 1, id);
	return db__exec_stmt(db, st, "series stop");
}
