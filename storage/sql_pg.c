/*
 * sql_pg: the PostgreSQL engine of storage/sql.h, through libpq.
 *
 * A statement's text, in SQLite's dialect, is translated once when it is
 * prepared (sql_pg__translate):
 *
 *   ?NNN and ?              $NNN and $N (outside literals, quoted names
 *                           and comments; a bare ? takes the number after
 *                           the highest so far, as in SQLite)
 *   BEGIN IMMEDIATE         BEGIN (DEFERRED and EXCLUSIVE likewise)
 *   INSERT OR IGNORE INTO   INSERT INTO ... ON CONFLICT DO NOTHING (before
 *                           a RETURNING, if any)
 *
 * Nothing else: whatever else only SQLite accepts is written in storage/
 * in the dialect both engines read, never rewritten here by pattern.
 *
 * The server-side PREPARE waits for the statement's first step, so that
 * the types of its parameters are those of the values bound then (int64
 * as int8, text as text, a blob as bytea, NULL left for the server to
 * infer).  Values travel as text and results come back as text, which
 * the column functions read as SQLite's would: an integer parsed, a
 * boolean 't' or 'f' read as 1 or 0, a bytea unescaped.  Each result is
 * read whole (PQexecPrepared), so that the caller may run other statements
 * on the connection between two rows, as SQLite allows.
 *
 * A connection lost (libpq reports CONNECTION_BAD after a call) fails that
 * call; the next call connects again, and while that fails, calls fail at
 * once until the backoff (250 ms, doubling up to 4 s) has passed: there is
 * never a sleep on the caller's thread.  A new session counts one more
 * generation, and each statement is prepared again on it at its next
 * step.  The reconnect hook runs first on it (sql_pg_set_reconnect_hook),
 * and may refuse the session for good.  A transaction open when the
 * connection was lost is gone with it: every statement then fails until
 * the owner rolls back, so that nothing it believed written is
 * acknowledged.
 *
 * Writes inside a transaction do not wait for their answers.  A
 * statement stepped between BEGIN and COMMIT that returns no rows (an
 * INSERT, UPDATE or DELETE without RETURNING, behind a WITH or not) is sent
 * in libpq's pipeline mode and reported SQL_DONE at once; the answers of
 * the writes so sent are read, and their errors raised, by the next
 * statement that is not such a write (a read, the COMMIT, the ROLLBACK),
 * sent behind them in the same round trip, or by changes(), exec() and
 * finalize(), which need them read first.  A bot's command is a few reads
 * and several writes, each a round trip on its own before: the pipeline
 * takes some 40 % of them away.  A failure thus surfaces one call or more
 * after the write that failed, as the error of a later statement (with the
 * write's code and message), and that changes no outcome: on PostgreSQL a
 * failed statement already dooms its transaction (every later statement
 * fails, the COMMIT commits nothing and is an error, below), so the batch
 * fails and is rolled back either way, and nothing the caller did after
 * the write, believing it done, is kept.  What a caller can no longer do
 * is act on a write's own failure inside the transaction, which
 * PostgreSQL does not allow anyway.  Outside a transaction nothing is
 * deferred: each statement is its own commit, and its caller learns at
 * once whether it was made.
 *
 * Errors are SQLite's codes where the owner may act on them: a constraint
 * violated (SQLSTATE class 23) is 19 (SQLITE_CONSTRAINT), a serialization
 * failure or a deadlock 5 (SQLITE_BUSY); anything else 1 (SQLITE_ERROR).
 * One difference stays: after a failed statement PostgreSQL refuses the
 * rest of the transaction, where SQLite goes on; a COMMIT then commits
 * nothing, and is an error here too (sql_pg__commit_refused).
 */
#include "storage/sql.h"

#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/clock.h"
#include "lib/log.h"

#define LOG_MODULE "db"

#define SQL_PG__ERROR 1
#define SQL_PG__BUSY 5
#define SQL_PG__CONSTRAINT 19

/* The type oids of pg_type the engine names. */
#define SQL_PG__BOOLOID 16
#define SQL_PG__BYTEAOID 17
#define SQL_PG__INT8OID 20
#define SQL_PG__TEXTOID 25

#define SQL_PG__BACKOFF_MIN_MS 250
#define SQL_PG__BACKOFF_MAX_MS 4000
#define SQL_PG__MAX_PARAMS 999 /* SQLite's own default limit */
/* Writes sent ahead before their results are read, at most: their answers
 * (some 40 bytes each) must fit in the socket's buffer, or the server
 * would wait for the engine to read while the engine waits for the server
 * to read. */
#define SQL_PG__MAX_PENDING 256

enum sql_pg_kind {
	SQL_PG__OTHER,
	SQL_PG__BEGIN,
	SQL_PG__COMMIT,
	SQL_PG__ROLLBACK,
};

struct sql_pg {
	struct sql base;
	PGconn *pg;
	/* The parameters PQconnectdbParams connects with, again at each
	 * reconnect: NULL-terminated, the target last. */
	const char *keys[10];
	const char *values[10];
	char *target;
	char *password;      /* from ENSEMBLE_DB_PASSWORD, or NULL */
	char where[256];     /* 'database "D" at H:P', for the operator */
	uint64_t generation; /* sessions so far, the current one included */
	unsigned next_name;
	int changes;
	struct strbuf err;
	/* The writes sent in pipeline mode whose results are still to read
	 * (sql_pg__defer); the connection is in pipeline mode exactly while
	 * there are.  failed: the error the first of them that failed gave,
	 * once read and until reported (its message in failed_err); 0 when
	 * none. */
	int npending;
	int failed;
	struct strbuf failed_err;
	bool lost;    /* the session ended: connect again at retry_ms */
	bool tx_lost; /* a transaction was open when it did */
	bool refused; /* the reconnect hook refused the new session */
	bool in_hook;
	int64_t retry_ms;
	int backoff_ms;
	int (*hook)(struct sql *c, void *user);
	void *hook_user;
};

enum sql_pg_bound {
	SQL_PG__NULL,
	SQL_PG__INT,
	SQL_PG__TEXT,
	SQL_PG__BLOB,
};

struct sql_pg_param {
	enum sql_pg_bound type;
	int64_t i;
	const void *p;
	int n;
};

/* A bytea column of the current row, unescaped on first read. */
struct sql_pg_col {
	unsigned char *p; /* NUL-terminated, for column_text */
	size_t n;
	bool done;
};

struct sql_pg_stmt {
	struct sql_stmt base;
	char *text; /* translated */
	int nparams;
	enum sql_pg_kind kind;
	bool write; /* an INSERT, UPDATE or DELETE that returns no rows */
	char name[16];
	uint64_t generation; /* the session it is prepared on; 0: none */
	struct sql_pg_param *params;
	Oid *types;
	const char **values;
	size_t *offsets;
	struct strbuf args; /* the values rendered as text */
	PGresult *res;      /* the rows still to read; NULL when none */
	int row, nrows, ncols;
	struct sql_pg_col *cols;
};

static struct sql_pg *sql_pg__conn(struct sql *c)
{
	return (struct sql_pg *)c;
}

static struct sql_pg_stmt *sql_pg__stmt(struct sql_stmt *st)
{
	return (struct sql_pg_stmt *)st;
}

/* ---- translation ---- */

static bool sql_pg__ident(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

/* Whether p starts with the keyword word (any case) as a whole word. */
static bool sql_pg__word(const char *p, const char *word)
{
	size_t n = strlen(word);
	return !strncasecmp(p, word, n) && !sql_pg__ident(p[n]);
}

static const char *sql_pg__skip_space(const char *p)
{
	while(isspace((unsigned char)*p))
		p++;
	return p;
}

/* Copies what SQL text p starts with, when it is a literal, a quoted name
 * or a comment, to out: returns what follows it, or p when it starts with
 * none of them. */
static const char *sql_pg__copy_quoted(const char *p, struct strbuf *out)
{
	const char *end = p;
	if(*p == '\'' || *p == '"') {
		end = p + 1;
		while(*end && !(*end == *p && end[1] != *p))
			end += *end == *p ? 2 : 1;
		if(*end)
			end++;
	} else if(p[0] == '-' && p[1] == '-') {
		end = p + strcspn(p, "\n");
	} else if(p[0] == '/' && p[1] == '*') {
		const char *close = strstr(p + 2, "*/");
		end = close ? close + 2 : p + strlen(p);
	}
	strbuf_add(out, p, (size_t)(end - p));
	return end;
}

/* The statement's first words: a BEGIN loses its SQLite mode, an INSERT
 * OR IGNORE its OR IGNORE (*ignore is set).  Returns where the rest of
 * the text starts. */
static const char *sql_pg__head(const char *text, struct strbuf *out, enum sql_pg_kind *kind, bool *ignore)
{
	const char *p = sql_pg__skip_space(text);
	*kind = SQL_PG__OTHER;
	*ignore = false;
	if(sql_pg__word(p, "BEGIN")) {
		*kind = SQL_PG__BEGIN;
		strbuf_adds(out, "BEGIN");
		const char *mode = sql_pg__skip_space(p + 5);
		if(sql_pg__word(mode, "IMMEDIATE") || sql_pg__word(mode, "DEFERRED"))
			return mode + (toupper((unsigned char)*mode) == 'I' ? 9 : 8);
		if(sql_pg__word(mode, "EXCLUSIVE"))
			return mode + 9;
		return p + 5;
	}
	if(sql_pg__word(p, "COMMIT") || sql_pg__word(p, "END"))
		*kind = SQL_PG__COMMIT;
	else if(sql_pg__word(p, "ROLLBACK") && !sql_pg__word(sql_pg__skip_space(p + 8), "TO"))
		*kind = SQL_PG__ROLLBACK;
	else if(sql_pg__word(p, "INSERT")) {
		const char * or = sql_pg__skip_space(p + 6);
		const char *what = sql_pg__skip_space(or +2);
		if(sql_pg__word(or, "OR") && sql_pg__word(what, "IGNORE")) {
			*ignore = true;
			strbuf_adds(out, "INSERT");
			return what + 6;
		}
	}
	return p;
}

/* Whether the word at p, a statement's first word or a word of its top
 * level, names what the statement does: 1 a write (INSERT, UPDATE,
 * DELETE), 0 anything else that does (SELECT, VALUES ...), -1 a word that
 * does not say (WITH, a name, a keyword of a clause). */
static int sql_pg__verb(const char *p)
{
	if(sql_pg__word(p, "INSERT") || sql_pg__word(p, "UPDATE") || sql_pg__word(p, "DELETE"))
		return 1;
	if(sql_pg__word(p, "SELECT") || sql_pg__word(p, "VALUES") || sql_pg__word(p, "TABLE"))
		return 0;
	return -1;
}

/* Translates text, a statement in SQLite's dialect, into out (see the top
 * of this file), with the highest parameter number in *nparams, what kind
 * of statement it is in *kind, and whether it is a write that returns no
 * rows (an INSERT, UPDATE or DELETE, behind a WITH or not, without
 * RETURNING) in *write.  0, or -1 (a parameter number out of range, or
 * out of memory). */
static int sql_pg__translate(const char *text, struct strbuf *out, int *nparams, enum sql_pg_kind *kind, bool *write)
{
	bool ignore, conflict_added = false, returning = false;
	int depth = 0;
	char prev = ' ';
	*nparams = 0;
	const char *start = sql_pg__skip_space(text);
	int verb = sql_pg__word(start, "WITH") ? -1 : sql_pg__verb(start);
	if(verb < 0 && !sql_pg__word(start, "WITH"))
		verb = 0;
	const char *p = sql_pg__head(text, out, kind, &ignore);
	while(*p) {
		const char *next = sql_pg__copy_quoted(p, out);
		if(next != p) {
			p = next;
			continue;
		}
		if(*p == '?') {
			char *end;
			long n = strtol(p + 1, &end, 10);
			if(end == p + 1)
				n = *nparams + 1;
			if(n < 1 || n > SQL_PG__MAX_PARAMS)
				return -1;
			*nparams = n > *nparams ? (int)n : *nparams;
			strbuf_addf(out, "$%ld", n);
			p = end;
			continue;
		}
		depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		if(depth == 0 && !sql_pg__ident(prev) && sql_pg__ident(*p)) {
			if(verb < 0)
				verb = sql_pg__verb(p);
			returning = returning || sql_pg__word(p, "RETURNING");
		}
		if(ignore && !conflict_added && depth == 0 && !sql_pg__ident(prev) && sql_pg__word(p, "RETURNING")) {
			strbuf_adds(out, "ON CONFLICT DO NOTHING ");
			conflict_added = true;
		}
		prev = *p;
		strbuf_addc(out, *p++);
	}
	if(ignore && !conflict_added) {
		while(out->len && (isspace((unsigned char)out->buf[out->len - 1]) || out->buf[out->len - 1] == ';'))
			strbuf_setlen(out, out->len - 1);
		strbuf_adds(out, " ON CONFLICT DO NOTHING");
	}
	*write = verb == 1 && !returning;
	return out->oom ? -1 : 0;
}

/* ---- errors ---- */

static void sql_pg__set_err(struct sql_pg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sql_pg__set_err(struct sql_pg *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	strbuf_reset(&c->err);
	strbuf_adds(&c->err, line);
}

/* Appends libpq's message, its lines joined into one and its end
 * trimmed. */
static void sql_pg__add_flat(struct strbuf *sb, const char *msg)
{
	bool space = false;
	for(const char *p = msg; *p; p++) {
		if(isspace((unsigned char)*p)) {
			space = true;
			continue;
		}
		if(space && sb->len && sb->buf[sb->len - 1] != ' ')
			strbuf_addc(sb, ' ');
		space = false;
		strbuf_addc(sb, *p);
	}
}

/* What a failed result means, in SQLite's codes (top of this file), with
 * the server's message kept for sql_errmsg. */
static int sql_pg__result_error(struct sql_pg *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	strbuf_reset(&c->err);
	sql_pg__add_flat(&c->err, msg ? msg : PQerrorMessage(c->pg));
	if(state && !strncmp(state, "23", 2))
		return SQL_PG__CONSTRAINT;
	if(state && (!strcmp(state, "40001") || !strcmp(state, "40P01")))
		return SQL_PG__BUSY;
	return SQL_PG__ERROR;
}

/* Whether res is the server's answer to a COMMIT of a transaction that
 * had failed: "ROLLBACK", and no error.  Nothing was committed; SQLite,
 * whose failed statement leaves the others to commit, never answers so, and
 * a caller would take it for a commit.  It is an error here. */
static bool sql_pg__commit_refused(struct sql_pg *c, enum sql_pg_kind kind, PGresult *res)
{
	if(kind == SQL_PG__ROLLBACK || PQresultStatus(res) != PGRES_COMMAND_OK || strcmp(PQcmdStatus(res), "ROLLBACK"))
		return false;
	sql_pg__set_err(c, "the transaction had failed: it was rolled back, nothing of it committed");
	return true;
}

/* Names the database c connects to, for the operator: libpq answers what
 * it used (or would have), defaults included, even when it failed. */
static void sql_pg__describe(struct sql_pg *c)
{
	const char *host = PQhost(c->pg), *port = PQport(c->pg), *db = PQdb(c->pg);
	if(!host || !*host)
		host = "/var/run/postgresql";
	if(host[0] == '/')
		snprintf(c->where, sizeof(c->where), "database \"%s\" on the socket in %s", db ? db : "?", host);
	else
		snprintf(c->where, sizeof(c->where), "database \"%s\" at %s:%s", db ? db : "?", host,
		         port && *port ? port : "5432");
}

/* A sentence for a connection that failed, by what libpq said. */
static void sql_pg__connect_error(struct sql_pg *c, struct strbuf *out)
{
	struct strbuf why = STRBUF_INIT;
	sql_pg__add_flat(&why, PQerrorMessage(c->pg));
	const char *user = PQuser(c->pg);
	if(strstr(why.buf, "authentication failed") || strstr(why.buf, "no password supplied") ||
	   (strstr(why.buf, "role \"") && strstr(why.buf, "does not exist")) || strstr(why.buf, "pg_hba.conf"))
		strbuf_addf(out,
		            "PostgreSQL refused user \"%s\" on %s: check the user and its password (in the "
		            "target, ENSEMBLE_DB_PASSWORD or ~/.pgpass): %s",
		            user ? user : "?", c->where, why.buf);
	else if(strstr(why.buf, "database \"") && strstr(why.buf, "does not exist"))
		strbuf_addf(out, "PostgreSQL has no %s: create it (createdb) or correct [general] db: %s", c->where,
		            why.buf);
	else
		strbuf_addf(out, "cannot connect to PostgreSQL for %s (is the server running there?): %s", c->where,
		            why.buf);
	strbuf_release(&why);
}

/* ---- connections ---- */

static void sql_pg__notice(void *user, const char *message)
{
	struct strbuf line = STRBUF_INIT;
	sql_pg__add_flat(&line, message);
	log_debug("postgresql: %s", line.buf);
	strbuf_release(&line);
}

/* Connects c anew, with the parameters it was made with.  0, or -1 (c->pg
 * is then a failed connection, which PQerrorMessage explains). */
static int sql_pg__dial(struct sql_pg *c)
{
	PQfinish(c->pg);
	c->pg = PQconnectdbParams(c->keys, c->values, 1);
	if(!c->pg)
		return -1;
	sql_pg__describe(c);
	if(PQstatus(c->pg) != CONNECTION_OK)
		return -1;
	PQsetNoticeProcessor(c->pg, sql_pg__notice, c);
	c->generation++;
	c->next_name = 0;
	return 0;
}

/* Called on each way in: after a lost session, connects again when the
 * backoff allows and runs the hook on the new session.  0 when c can run
 * a statement; -1 with sql_errmsg set. */
static int sql_pg__ready(struct sql_pg *c)
{
	if(c->refused) {
		sql_pg__set_err(c, "the session on %s is refused: the leadership was lost on reconnecting", c->where);
		return -1;
	}
	if(!c->lost)
		return 0;
	int64_t now = clock_mono_ms();
	if(now < c->retry_ms) {
		sql_pg__set_err(c, "no connection to PostgreSQL (%s): retrying in %" PRId64 " ms", c->where,
		                c->retry_ms - now);
		return -1;
	}
	if(sql_pg__dial(c) < 0) {
		struct strbuf why = STRBUF_INIT;
		sql_pg__connect_error(c, &why);
		sql_pg__set_err(c, "%s", why.buf);
		log_warn("%s (next try in %d ms)", why.buf, c->backoff_ms);
		strbuf_release(&why);
		c->retry_ms = now + c->backoff_ms;
		c->backoff_ms = c->backoff_ms * 2 > SQL_PG__BACKOFF_MAX_MS ? SQL_PG__BACKOFF_MAX_MS : c->backoff_ms * 2;
		return -1;
	}
	log_info("connected again to PostgreSQL (%s)", c->where);
	c->lost = false;
	c->backoff_ms = SQL_PG__BACKOFF_MIN_MS;
	if(c->hook) {
		c->in_hook = true;
		int rc = c->hook(&c->base, c->hook_user);
		c->in_hook = false;
		if(rc < 0) {
			c->refused = true;
			sql_pg__set_err(c, "the session on %s is refused: the leadership was lost on reconnecting",
			                c->where);
			return -1;
		}
	}
	return c->lost ? -1 : 0;
}

/* After a call that went to the server: when it found the session ended,
 * marks c lost (to connect again at the next call) and, when a
 * transaction was open, the transaction too.  Whether it was (or had been
 * found so already during the call). */
static bool sql_pg__check_lost(struct sql_pg *c, bool was_in_tx)
{
	if(c->lost)
		return true;
	if(PQstatus(c->pg) != CONNECTION_BAD)
		return false;
	log_warn("lost the connection to PostgreSQL (%s)%s", c->where,
	         was_in_tx ? ", and the transaction open on it" : "");
	c->lost = true;
	c->tx_lost = c->tx_lost || was_in_tx;
	c->npending = 0;
	c->failed = 0;
	c->retry_ms = clock_mono_ms();
	c->backoff_ms = SQL_PG__BACKOFF_MIN_MS;
	return true;
}

static bool sql_pg__in_server_tx(struct sql_pg *c)
{
	PGTransactionStatusType tx = c->lost ? PQTRANS_UNKNOWN : PQtransactionStatus(c->pg);
	return tx == PQTRANS_ACTIVE || tx == PQTRANS_INTRANS || tx == PQTRANS_INERROR;
}

/* Whether a statement of this kind may run on c: 1 when it has nothing to
 * do (a ROLLBACK of a lost transaction), 0 when it may, -1 when it may not
 * (sql_errmsg set). */
static int sql_pg__admit(struct sql_pg *c, enum sql_pg_kind kind)
{
	if(c->tx_lost && !c->in_hook) {
		if(kind == SQL_PG__ROLLBACK) {
			c->tx_lost = false;
			c->failed = 0;
			return 1;
		}
		sql_pg__set_err(c, "the transaction was lost with the connection to PostgreSQL (%s)", c->where);
		return -1;
	}
	return sql_pg__ready(c);
}

/* ---- the pipeline ----
 *
 * A write inside a transaction is sent and not waited for (sql_pg__defer):
 * the connection enters libpq's pipeline mode, and the results of the
 * writes sent so far are read together by sql_pg__drain, after the next
 * statement that is not such a write has been sent behind them, or alone
 * when changes(), exec() or finalize() need the connection to themselves.
 * One round trip then carries them all. */

/* Marks c lost when the pipeline cannot go on (libpq refused a call on
 * it): the session is dropped at the next call, with the transaction. */
static void sql_pg__pipeline_broken(struct sql_pg *c, bool was_in_tx)
{
	sql_pg__set_err(c, "the pipeline to PostgreSQL (%s) failed: %s", c->where, PQerrorMessage(c->pg));
	log_warn("%s", c->err.buf);
	c->lost = true;
	c->tx_lost = c->tx_lost || was_in_tx;
	c->npending = 0;
	c->retry_ms = clock_mono_ms();
	c->backoff_ms = SQL_PG__BACKOFF_MIN_MS;
}

/* Counts, from res, the rows an INSERT, UPDATE or DELETE changed. */
static void sql_pg__count_changes(struct sql_pg *c, PGresult *res)
{
	const char *cmd = PQcmdStatus(res);
	if(!strncmp(cmd, "INSERT", 6) || !strncmp(cmd, "UPDATE", 6) || !strncmp(cmd, "DELETE", 6) ||
	   !strncmp(cmd, "MERGE", 5))
		c->changes = atoi(PQcmdTuples(res));
}

/* The first result of the next statement of the pipeline, the others it
 * may have read and dropped; NULL when the session ended. */
static PGresult *sql_pg__next_result(struct sql_pg *c)
{
	PGresult *first = PQgetResult(c->pg), *more;
	while(first && (more = PQgetResult(c->pg)))
		PQclear(more);
	return first;
}

/* Syncs the pipeline and reads the results of the writes pending, then,
 * when last is given, the result of the statement sent behind them, into
 * *last (the caller's, to clear).  Leaves pipeline mode.  0 when every
 * write succeeded; otherwise the first failure's code (sql_errmsg set),
 * the statements after it being skipped by the server. */
static int sql_pg__drain(struct sql_pg *c, PGresult **last)
{
	int rc = 0, n = c->npending;
	bool was_in_tx = sql_pg__in_server_tx(c);
	if(last)
		*last = NULL;
	if(!PQpipelineSync(c->pg)) {
		sql_pg__pipeline_broken(c, was_in_tx);
		return SQL_PG__ERROR;
	}
	c->npending = 0;
	for(int i = 0; i < n; i++) {
		PGresult *res = sql_pg__next_result(c);
		if(PQresultStatus(res) == PGRES_COMMAND_OK)
			sql_pg__count_changes(c, res);
		else if(!rc && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
			rc = sql_pg__result_error(c, res);
		PQclear(res);
	}
	if(last)
		*last = sql_pg__next_result(c);
	PGresult *sync = PQgetResult(c->pg); /* PGRES_PIPELINE_SYNC */
	PQclear(sync);
	if(!sync || !PQexitPipelineMode(c->pg)) {
		if(!sql_pg__check_lost(c, was_in_tx))
			sql_pg__pipeline_broken(c, was_in_tx);
		if(!rc)
			rc = sql_pg__result_error(c, NULL);
	}
	return rc;
}

/* Reads what the pipeline holds, when the connection is needed alone:
 * a failure is kept in c->failed, to be reported by the next statement
 * (a lost session is reported as such instead, sql_pg__admit). */
static void sql_pg__flush(struct sql_pg *c)
{
	if(!c->npending)
		return;
	int rc = sql_pg__drain(c, NULL);
	if(rc && !c->failed && !c->lost) {
		c->failed = rc;
		strbuf_reset(&c->failed_err);
		strbuf_add(&c->failed_err, c->err.buf, c->err.len);
	}
}

/* Reports the failure of a write kept by sql_pg__flush: its code, with
 * its message in sql_errmsg, once. */
static int sql_pg__report_failed(struct sql_pg *c)
{
	int rc = c->failed;
	strbuf_reset(&c->err);
	strbuf_add(&c->err, c->failed_err.buf, c->failed_err.len);
	c->failed = 0;
	return rc;
}

/* Whether st, prepared on this session, may be sent without waiting for
 * its result: a write that returns no rows, inside a transaction that has
 * not failed, with room left in the pipeline. */
static bool sql_pg__deferrable(struct sql_pg *c, const struct sql_pg_stmt *st)
{
	if(!st->write || c->in_hook || st->generation != c->generation || c->npending >= SQL_PG__MAX_PENDING)
		return false;
	return c->npending || PQtransactionStatus(c->pg) == PQTRANS_INTRANS;
}

/* Sends st, a deferrable write, into the pipeline: SQL_DONE, or an error
 * code when libpq refused it (then the session is dropped). */
static int sql_pg__defer(struct sql_pg *c, struct sql_pg_stmt *st)
{
	bool was_in_tx = sql_pg__in_server_tx(c);
	if((!c->npending && !PQenterPipelineMode(c->pg)) ||
	   !PQsendQueryPrepared(c->pg, st->name, st->nparams, st->values, NULL, NULL, 0)) {
		sql_pg__pipeline_broken(c, was_in_tx);
		return SQL_PG__ERROR;
	}
	c->npending++;
	return SQL_DONE;
}

/* Runs st, prepared on this session, behind the writes pending: their
 * first failure if any, else st's own result, into *res. */
static int sql_pg__behind(struct sql_pg *c, struct sql_pg_stmt *st, PGresult **res)
{
	*res = NULL;
	if(!PQsendQueryPrepared(c->pg, st->name, st->nparams, st->values, NULL, NULL, 0)) {
		sql_pg__pipeline_broken(c, sql_pg__in_server_tx(c));
		return SQL_PG__ERROR;
	}
	int rc = sql_pg__drain(c, res);
	if(rc) {
		PQclear(*res);
		*res = NULL;
	}
	return rc;
}

static bool sql_pg_in_transaction(struct sql *base)
{
	struct sql_pg *c = sql_pg__conn(base);
	return c->tx_lost || sql_pg__in_server_tx(c);
}

static int sql_pg_changes(struct sql *base)
{
	struct sql_pg *c = sql_pg__conn(base);
	sql_pg__flush(c);
	return c->changes;
}

static const char *sql_pg_errmsg(struct sql *base)
{
	return sql_pg__conn(base)->err.buf;
}

static int sql_pg_exec(struct sql *base, const char *text, struct strbuf *err)
{
	struct sql_pg *c = sql_pg__conn(base);
	struct strbuf sql = STRBUF_INIT;
	enum sql_pg_kind kind;
	int nparams, rc = -1;
	bool write;
	if(sql_pg__translate(text, &sql, &nparams, &kind, &write) < 0 || nparams) {
		strbuf_adds(err, "a statement with parameters cannot be run without them");
		goto out;
	}
	sql_pg__flush(c);
	if(c->failed && kind != SQL_PG__ROLLBACK) {
		strbuf_adds(err, c->failed_err.buf);
		sql_pg__report_failed(c);
		goto out;
	}
	c->failed = 0;
	int admit = sql_pg__admit(c, kind);
	if(admit) {
		rc = admit > 0 ? 0 : -1;
		if(rc < 0)
			strbuf_adds(err, c->err.buf);
		goto out;
	}
	bool was_in_tx = sql_pg__in_server_tx(c);
	PGresult *res = PQexec(c->pg, sql.buf);
	ExecStatusType status = PQresultStatus(res);
	if(status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
		sql_pg__result_error(c, res);
	else if(!sql_pg__commit_refused(c, kind, res))
		rc = 0;
	if(rc)
		strbuf_adds(err, c->err.buf);
	PQclear(res);
	if(sql_pg__check_lost(c, was_in_tx) && kind == SQL_PG__ROLLBACK) {
		c->tx_lost = false;
		rc = 0;
	}
out:
	strbuf_release(&sql);
	return rc;
}

static void sql_pg_close(struct sql *base)
{
	struct sql_pg *c = sql_pg__conn(base);
	PQfinish(c->pg);
	free(c->target);
	free(c->password);
	strbuf_release(&c->err);
	strbuf_release(&c->failed_err);
	free(c);
}

void sql_pg_set_reconnect_hook(struct sql *base, int (*fn)(struct sql *c, void *user), void *user)
{
	struct sql_pg *c = sql_pg__conn(base);
	c->hook = fn;
	c->hook_user = user;
}

const char *sql_pg_where(struct sql *base)
{
	return sql_pg__conn(base)->where;
}

/* ---- statements ---- */

static int sql_pg_prepare(struct sql *base, const char *text, struct sql_stmt **out)
{
	struct sql_pg *c = sql_pg__conn(base);
	struct sql_pg_stmt *st = calloc(1, sizeof(*st));
	struct strbuf sql = STRBUF_INIT;
	*out = NULL;
	if(!st || sql_pg__translate(text, &sql, &st->nparams, &st->kind, &st->write) < 0) {
		sql_pg__set_err(c, "cannot prepare a statement (out of memory, or a parameter number over %d)",
		                SQL_PG__MAX_PARAMS);
		goto fail;
	}
	st->base.conn = base;
	strbuf_init(&st->args);
	size_t n = st->nparams ? (size_t)st->nparams : 1;
	st->params = calloc(n, sizeof(*st->params));
	st->types = calloc(n, sizeof(*st->types));
	st->values = calloc(n, sizeof(*st->values));
	st->offsets = calloc(n, sizeof(*st->offsets));
	st->text = strbuf_detach(&sql);
	if(!st->params || !st->types || !st->values || !st->offsets || !st->text) {
		sql_pg__set_err(c, "cannot prepare a statement: out of memory");
		goto fail;
	}
	*out = &st->base;
	return 0;
fail:
	strbuf_release(&sql);
	if(st) {
		free(st->params);
		free(st->types);
		free(st->values);
		free(st->offsets);
		free(st->text);
		free(st);
	}
	return -1;
}

/* Forgets the current result and the columns read from it. */
static void sql_pg__drop_result(struct sql_pg_stmt *st)
{
	for(int i = 0; st->cols && i < st->ncols; i++) {
		free(st->cols[i].p);
		st->cols[i] = (struct sql_pg_col){ 0 };
	}
	PQclear(st->res);
	st->res = NULL;
	st->row = st->nrows = 0;
}

static void sql_pg_reset(struct sql_stmt *base)
{
	sql_pg__drop_result(sql_pg__stmt(base));
}

static void sql_pg_finalize(struct sql_stmt *base)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	struct sql_pg *c = sql_pg__conn(base->conn);
	sql_pg__drop_result(st);
	sql_pg__flush(c);
	/* The server keeps a prepared statement until its session ends:
	 * one finalized before is forgotten there too, unless the session's
	 * transaction has failed (it would refuse) or ended. */
	if(st->generation == c->generation && !c->lost && PQtransactionStatus(c->pg) != PQTRANS_INERROR) {
		char sql[32];
		snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
		PQclear(PQexec(c->pg, sql));
		sql_pg__check_lost(c, false);
	}
	strbuf_release(&st->args);
	free(st->cols);
	free(st->params);
	free(st->types);
	free(st->values);
	free(st->offsets);
	free(st->text);
	free(st);
}

static struct sql_pg_param *sql_pg__param(struct sql_stmt *base, int i)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	return i >= 1 && i <= st->nparams ? &st->params[i - 1] : NULL;
}

static int sql_pg_bind_int64(struct sql_stmt *base, int i, int64_t v)
{
	struct sql_pg_param *p = sql_pg__param(base, i);
	if(!p)
		return -1;
	*p = (struct sql_pg_param){ .type = SQL_PG__INT, .i = v };
	return 0;
}

static int sql_pg_bind_text(struct sql_stmt *base, int i, const char *s, int n)
{
	struct sql_pg_param *p = sql_pg__param(base, i);
	if(!p)
		return -1;
	if(!s)
		*p = (struct sql_pg_param){ .type = SQL_PG__NULL };
	else
		*p = (struct sql_pg_param){ .type = SQL_PG__TEXT, .p = s, .n = n };
	return 0;
}

static int sql_pg_bind_blob(struct sql_stmt *base, int i, const void *v, int n)
{
	struct sql_pg_param *p = sql_pg__param(base, i);
	if(!p)
		return -1;
	if(!v)
		*p = (struct sql_pg_param){ .type = SQL_PG__NULL };
	else
		*p = (struct sql_pg_param){ .type = SQL_PG__BLOB, .p = v, .n = n < 0 ? 0 : n };
	return 0;
}

static int sql_pg_bind_null(struct sql_stmt *base, int i)
{
	struct sql_pg_param *p = sql_pg__param(base, i);
	if(!p)
		return -1;
	*p = (struct sql_pg_param){ .type = SQL_PG__NULL };
	return 0;
}

static void sql_pg_clear(struct sql_stmt *base)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	for(int i = 0; i < st->nparams; i++)
		st->params[i] = (struct sql_pg_param){ .type = SQL_PG__NULL };
}

/* Renders the values bound as the text PQexecPrepared sends (a blob in
 * bytea's hex form), into st->values.  0 or -1 (out of memory). */
static int sql_pg__render(struct sql_pg_stmt *st)
{
	static const char hex[] = "0123456789abcdef";
	strbuf_reset(&st->args);
	for(int i = 0; i < st->nparams; i++) {
		const struct sql_pg_param *p = &st->params[i];
		st->offsets[i] = st->args.len;
		if(p->type == SQL_PG__INT)
			strbuf_addf(&st->args, "%" PRId64, p->i);
		else if(p->type == SQL_PG__TEXT)
			strbuf_add(&st->args, p->p, p->n < 0 ? strlen(p->p) : (size_t)p->n);
		else if(p->type == SQL_PG__BLOB) {
			strbuf_adds(&st->args, "\\x");
			for(int k = 0; k < p->n; k++) {
				unsigned char b = ((const unsigned char *)p->p)[k];
				strbuf_addc(&st->args, hex[b >> 4]);
				strbuf_addc(&st->args, hex[b & 15]);
			}
		}
		strbuf_add(&st->args, "", 1);
	}
	if(st->args.oom)
		return -1;
	for(int i = 0; i < st->nparams; i++)
		st->values[i] = st->params[i].type == SQL_PG__NULL ? NULL : st->args.buf + st->offsets[i];
	return 0;
}

/* Prepares st on the current session, with the types of the values bound
 * now.  0, or -1 with sql_errmsg set. */
static int sql_pg__server_prepare(struct sql_pg *c, struct sql_pg_stmt *st)
{
	static const Oid oids[] = {
		[SQL_PG__NULL] = 0,
		[SQL_PG__INT] = SQL_PG__INT8OID,
		[SQL_PG__TEXT] = SQL_PG__TEXTOID,
		[SQL_PG__BLOB] = SQL_PG__BYTEAOID,
	};
	for(int i = 0; i < st->nparams; i++)
		st->types[i] = oids[st->params[i].type];
	snprintf(st->name, sizeof(st->name), "e%u", ++c->next_name);
	PGresult *res = PQprepare(c->pg, st->name, st->text, st->nparams, st->types);
	int rc = 0;
	if(PQresultStatus(res) != PGRES_COMMAND_OK) {
		sql_pg__result_error(c, res);
		rc = -1;
	} else
		st->generation = c->generation;
	PQclear(res);
	return rc;
}

/* What a statement's result makes step return, keeping its rows. */
static int sql_pg__take(struct sql_pg *c, struct sql_pg_stmt *st, PGresult *res)
{
	ExecStatusType status = PQresultStatus(res);
	if(status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		int rc = sql_pg__result_error(c, res);
		PQclear(res);
		return rc;
	}
	if(sql_pg__commit_refused(c, st->kind, res)) {
		PQclear(res);
		return SQL_PG__ERROR;
	}
	sql_pg__count_changes(c, res);
	if(status == PGRES_COMMAND_OK || PQntuples(res) == 0) {
		PQclear(res);
		return SQL_DONE;
	}
	int ncols = PQnfields(res);
	if(ncols > st->ncols) {
		struct sql_pg_col *cols = realloc(st->cols, (size_t)ncols * sizeof(*cols));
		if(!cols) {
			PQclear(res);
			sql_pg__set_err(c, "out of memory");
			return SQL_PG__ERROR;
		}
		memset(cols + st->ncols, 0, (size_t)(ncols - st->ncols) * sizeof(*cols));
		st->cols = cols;
		st->ncols = ncols;
	}
	st->res = res;
	st->row = 0;
	st->nrows = PQntuples(res);
	return SQL_ROW;
}

/* Sends st to the server and takes its answer: deferred when it is a
 * write that may be (the pipeline, above), behind the writes pending when
 * there are, or alone. */
static int sql_pg__send(struct sql_pg *c, struct sql_pg_stmt *st)
{
	PGresult *res;
	/* A statement's first run on a session prepares it, which libpq
	 * does not do in pipeline mode; a ROLLBACK that followed a failed
	 * write would be skipped by the server as the statements behind it. */
	if(c->npending && (st->generation != c->generation || st->kind == SQL_PG__ROLLBACK)) {
		sql_pg__flush(c);
		if(c->lost)
			return SQL_PG__ERROR;
	}
	if(c->failed && st->kind != SQL_PG__ROLLBACK)
		return sql_pg__report_failed(c);
	c->failed = 0;
	if(st->generation != c->generation && sql_pg__server_prepare(c, st) < 0)
		return SQL_PG__ERROR;
	if(sql_pg__deferrable(c, st))
		return sql_pg__defer(c, st);
	if(!c->npending)
		return sql_pg__take(c, st, PQexecPrepared(c->pg, st->name, st->nparams, st->values, NULL, NULL, 0));
	int rc = sql_pg__behind(c, st, &res);
	return rc ? rc : sql_pg__take(c, st, res);
}

/* Runs st from the start: its first row, or its end. */
static int sql_pg__run(struct sql_pg *c, struct sql_pg_stmt *st)
{
	int admit = sql_pg__admit(c, st->kind);
	if(admit)
		return admit > 0 ? SQL_DONE : SQL_PG__ERROR;
	if(sql_pg__render(st) < 0) {
		sql_pg__set_err(c, "out of memory");
		return SQL_PG__ERROR;
	}
	bool was_in_tx = sql_pg__in_server_tx(c);
	int rc = sql_pg__send(c, st);
	/* A ROLLBACK has nothing left to do when the session ended: the
	 * server rolled the transaction back. */
	if(sql_pg__check_lost(c, was_in_tx) && st->kind == SQL_PG__ROLLBACK) {
		c->tx_lost = false;
		rc = SQL_DONE;
	}
	return rc;
}

static int sql_pg_step(struct sql_stmt *base)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	if(!st->res)
		return sql_pg__run(sql_pg__conn(base->conn), st);
	for(int i = 0; i < st->ncols; i++) {
		free(st->cols[i].p);
		st->cols[i] = (struct sql_pg_col){ 0 };
	}
	if(++st->row < st->nrows)
		return SQL_ROW;
	sql_pg__drop_result(st);
	return SQL_DONE;
}

/* ---- columns ---- */

static bool sql_pg__has(struct sql_pg_stmt *st, int col)
{
	return st->res && col >= 0 && col < st->ncols && col < PQnfields(st->res) &&
	       !PQgetisnull(st->res, st->row, col);
}

/* The bytes of a bytea column, unescaped once per row. */
static const struct sql_pg_col *sql_pg__bytea(struct sql_pg_stmt *st, int col)
{
	struct sql_pg_col *k = &st->cols[col];
	if(!k->done) {
		size_t n = 0;
		unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, col), &n);
		k->p = raw ? malloc(n + 1) : NULL;
		if(k->p) {
			memcpy(k->p, raw, n);
			k->p[n] = '\0';
			k->n = n;
		}
		PQfreemem(raw);
		k->done = true;
	}
	return k;
}

static bool sql_pg_column_null(struct sql_stmt *base, int col)
{
	return !sql_pg__has(sql_pg__stmt(base), col);
}

static int64_t sql_pg_column_int64(struct sql_stmt *base, int col)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	if(!sql_pg__has(st, col))
		return 0;
	const char *v = PQgetvalue(st->res, st->row, col);
	if(PQftype(st->res, col) == SQL_PG__BOOLOID)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static const char *sql_pg_column_text(struct sql_stmt *base, int col)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	if(!sql_pg__has(st, col))
		return "";
	if(PQftype(st->res, col) == SQL_PG__BYTEAOID) {
		const struct sql_pg_col *k = sql_pg__bytea(st, col);
		return k->p ? (const char *)k->p : "";
	}
	return PQgetvalue(st->res, st->row, col);
}

static const void *sql_pg_column_blob(struct sql_stmt *base, int col)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	if(!sql_pg__has(st, col))
		return NULL;
	if(PQftype(st->res, col) == SQL_PG__BYTEAOID)
		return sql_pg__bytea(st, col)->p;
	return PQgetvalue(st->res, st->row, col);
}

static int sql_pg_column_bytes(struct sql_stmt *base, int col)
{
	struct sql_pg_stmt *st = sql_pg__stmt(base);
	if(!sql_pg__has(st, col))
		return 0;
	if(PQftype(st->res, col) == SQL_PG__BYTEAOID)
		return (int)sql_pg__bytea(st, col)->n;
	return PQgetlength(st->res, st->row, col);
}

const struct sql_ops sql_pg_ops = {
	.name = "postgresql",
	.engine = SQL_POSTGRES,
	.prepare = sql_pg_prepare,
	.finalize = sql_pg_finalize,
	.bind_int64 = sql_pg_bind_int64,
	.bind_text = sql_pg_bind_text,
	.bind_blob = sql_pg_bind_blob,
	.bind_null = sql_pg_bind_null,
	.step = sql_pg_step,
	.reset = sql_pg_reset,
	.clear = sql_pg_clear,
	.column_int64 = sql_pg_column_int64,
	.column_text = sql_pg_column_text,
	.column_blob = sql_pg_column_blob,
	.column_bytes = sql_pg_column_bytes,
	.column_null = sql_pg_column_null,
	.changes = sql_pg_changes,
	.errmsg = sql_pg_errmsg,
	.exec = sql_pg_exec,
	.in_transaction = sql_pg_in_transaction,
	.close = sql_pg_close,
};

/* ---- opening ---- */

/* Appends libpq's reason for refusing a target, without the words it
 * quotes from it (they may be the password). */
static void sql_pg__parse_error(const char *why, struct strbuf *err)
{
	struct strbuf flat = STRBUF_INIT;
	sql_pg__add_flat(&flat, why ? why : "out of memory");
	strbuf_adds(err, "the database target is neither a postgresql:// URL nor a libpq key/value string (");
	for(const char *p = flat.buf; *p; p++) {
		if(*p != '"') {
			strbuf_addc(err, *p);
			continue;
		}
		const char *close = strchr(p + 1, '"');
		strbuf_adds(err, "\"...\"");
		if(!close)
			break;
		p = close;
	}
	while(err->len && (err->buf[err->len - 1] == ' ' || err->buf[err->len - 1] == ':'))
		strbuf_setlen(err, err->len - 1);
	strbuf_adds(err, ")");
	strbuf_release(&flat);
}

/* Whether the target parsed as opts names a password, which is then
 * registered with the log module as a secret. */
static bool sql_pg__has_password(PQconninfoOption *opts)
{
	for(PQconninfoOption *o = opts; o->keyword; o++)
		if(!strcmp(o->keyword, "password") && o->val && *o->val) {
			log_add_secret(o->val);
			return true;
		}
	return false;
}

/* The parameters c connects with: defaults of its own, the password of
 * the environment when the target has none, then the target, whose own
 * words win.  A connection attempt waits 3 s at most (libpq waits for
 * ever by default): it runs on the loop's thread, when the bot starts and
 * when it connects again.  Over TCP, a server that vanished (a host gone,
 * a network cut) is noticed within some 10 to 25 s rather than the
 * system's quarter of an hour of retransmissions: keepalives after 10 s
 * idle, and an unacknowledged send given up after 10 s.  A statement on
 * such a connection blocks the loop for that long, once. */
static void sql_pg__params(struct sql_pg *c, bool has_password)
{
	static const char *const defaults[][2] = {
		{ "connect_timeout", "3" },  { "fallback_application_name", "ensemble" },
		{ "keepalives_idle", "10" }, { "keepalives_interval", "5" },
		{ "keepalives_count", "3" }, { "tcp_user_timeout", "10000" },
	};
	int n = 0;
	for(size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		c->keys[n] = defaults[i][0];
		c->values[n++] = defaults[i][1];
	}
	const char *env = getenv("ENSEMBLE_DB_PASSWORD");
	if(!has_password && env && *env && (c->password = strdup(env))) {
		log_add_secret(env);
		c->keys[n] = "password";
		c->values[n++] = c->password;
	}
	c->keys[n] = "dbname";
	c->values[n++] = c->target;
	c->keys[n] = NULL;
	c->values[n] = NULL;
}

int sql_pg_connect(struct sql **out, const char *target, struct strbuf *err)
{
	struct sql_pg *c = NULL;
	char *why = NULL;
	*out = NULL;
	PQconninfoOption *opts = PQconninfoParse(target, &why);
	if(!opts) {
		sql_pg__parse_error(why, err);
		goto fail;
	}
	c = calloc(1, sizeof(*c));
	if(!c || !(c->target = strdup(target))) {
		strbuf_adds(err, "cannot connect to PostgreSQL: out of memory");
		goto fail;
	}
	c->base.ops = &sql_pg_ops;
	strbuf_init(&c->err);
	strbuf_init(&c->failed_err);
	c->backoff_ms = SQL_PG__BACKOFF_MIN_MS;
	sql_pg__params(c, sql_pg__has_password(opts));
	if(sql_pg__dial(c) < 0) {
		if(c->pg)
			sql_pg__connect_error(c, err);
		else
			strbuf_adds(err, "cannot connect to PostgreSQL: out of memory");
		goto fail;
	}
	PQconninfoFree(opts);
	*out = &c->base;
	return 0;
fail:
	PQfreemem(why);
	PQconninfoFree(opts);
	if(c)
		sql_pg_close(&c->base);
	return -1;
}

bool sql_is_postgres(const char *target)
{
	if(!strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11))
		return true;
	/* A key/value string: its first word is one of libpq's keywords,
	 * followed by "=". */
	const char *p = sql_pg__skip_space(target);
	size_t n = 0;
	while(sql_pg__ident(p[n]))
		n++;
	if(!n || *sql_pg__skip_space(p + n) != '=')
		return false;
	bool known = false;
	PQconninfoOption *opts = PQconndefaults();
	for(PQconninfoOption *o = opts; o && o->keyword && !known; o++)
		known = strlen(o->keyword) == n && !strncmp(o->keyword, p, n);
	PQconninfoFree(opts);
	return known;
}
