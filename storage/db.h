/*
 * db: everything Ensemble stores, in one SQLite file.
 *
 * The file is opened in WAL mode with foreign keys on; its schema version is
 * PRAGMA user_version and is migrated forward on open.  A file written by a
 * newer Ensemble is refused.  All SQL lives in storage/ and runs through
 * statements prepared once and reset after each use.
 *
 * Transactions: the bot wraps the effects of one incoming event (or batch)
 * in db_begin()/db_commit(); functions here never commit on their own.
 */
#ifndef ENSEMBLE_DB_H
#define ENSEMBLE_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bot/strbuf.h"

#define DB_SCHEMA_VERSION 1

struct db;

/* Opens (creating if needed) and migrates the database at path.  On
 * failure returns -1 and appends a sentence for the operator to err. */
int db_open(struct db **out, const char *path, struct strbuf *err);
void db_close(struct db *db);
const char *db_path(const struct db *db);
int db_schema_version(struct db *db);

int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);
bool db_in_transaction(const struct db *db);

/* A chat as the core knows it. */
struct db_chat {
	int64_t id;
	char platform[16];
	char ext_id[256];      /* the platform's chat id */
	char lang[8];
	char tz[64];
	char admin[256];       /* ext id of the user who is its admin when the
	                          platform has no roles (the first user) */
	bool active;
};

/* Finds the chat (platform, ext_id), creating it with lang and tz when it
 * does not exist.  Returns 1 when found, 0 when created, -1 on error. */
int db_chat_get(struct db *db, const char *platform, const char *ext_id,
                const char *lang, const char *tz, struct db_chat *out);
int db_chat_set_lang(struct db *db, int64_t chat_id, const char *lang);
int db_chat_set_tz(struct db *db, int64_t chat_id, const char *tz);
int db_chat_set_admin(struct db *db, int64_t chat_id, const char *user_ext_id);
int db_chat_set_active(struct db *db, int64_t chat_id, bool active);

/* Records that user (platform, ext_id) called name was seen in chat at
 * time t; creates the user.  Stores the user's row id in *user_id. */
int db_user_seen(struct db *db, int64_t chat_id, const char *platform, const char *ext_id,
                 const char *name, time_t t, int64_t *user_id);

/* A small key-value store for adapters' state (offsets, sync tokens).
 * db_kv_get returns 1 and appends the value to out, 0 when absent, -1. */
int db_kv_get(struct db *db, const char *key, struct strbuf *out);
int db_kv_set(struct db *db, const char *key, const char *value);

#endif
