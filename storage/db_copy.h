/*
 * db_copy: `ensemble --copy-db FROM TO`, every table of one database
 * copied into another, empty one, whatever their engines: an SQLite file
 * into a PostgreSQL database to move to it, and back.
 *
 * Both ends are opened with db_open, as the bot opens them: an SQLite FROM
 * of an older schema is migrated first (with its .pre-vN copy), a TO that
 * does not exist yet is made (an SQLite file) or given its schema (an
 * empty PostgreSQL database).  The rows go through the storage engines
 * (storage/sql.h), table by table in the order of their foreign keys,
 * read from one snapshot of FROM and written in one transaction on TO,
 * which commits only when each table's row count on TO is FROM's.  On
 * PostgreSQL the identity sequences are then set past the ids copied, so
 * that the next row gets a new one.  A message whose delivery was
 * recorded but not yet folded into the outbox (a row of PostgreSQL's
 * outbox_acks, while a bot runs on FROM) is not copied as waiting.  The
 * key of the web links goes too (SQLite's FROM.webkey file into
 * PostgreSQL's web_key row, or back into TO.webkey, 0600), so that every
 * calendar and vote link given out still opens.  FROM is never written to
 * (but for the migration db_open makes).
 */
#ifndef ENSEMBLE_DB_COPY_H
#define ENSEMBLE_DB_COPY_H

#include <stdint.h>

#include "lib/strbuf.h"

/* Copies every table of the database from into the database to (an
 * SQLite file's path or a PostgreSQL target, as db_open takes them).
 * Refuses a to that holds rows, one another instance leads, and a from at
 * another schema version than this build's.  Calls report(user, table,
 * rows) for each table copied, once all are (table a string constant).
 * Returns 0 when to holds the copy, or -1 with a sentence appended to err
 * (then to holds none of it); err never holds a password. */
int db_copy(const char *from, const char *to, void (*report)(void *user, const char *table, int64_t rows), void *user,
            struct strbuf *err);

#endif
