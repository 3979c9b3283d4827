/*
 * db_files: the database's files on disk are readable by their owner alone.
 *
 * The database holds the Matrix access token and device, and every chat's
 * members, votes and messages waiting to be sent.  A new database file is
 * created here with mode 0600 before SQLite opens it: SQLite gives the
 * files it adds beside it (-wal, -shm, -journal) the database's own mode,
 * whatever the umask, and the delivery journal (-acks, db_outbox.c) is
 * created 0600 too.  Files that already exist are left as they are, but
 * any that group or others may read is reported with the chmod to run.
 */
#include "storage/db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

#define LOG_MODULE "db"

/* The files that may sit beside the database, and hold what it holds. */
static const char *const db_files__suffixes[] = { "", "-wal", "-shm", "-journal", "-acks" };

/* Appends path to sb as one word of a shell command: as it is when it is
 * made of harmless characters only, in single quotes otherwise. */
static void db_files__add_word(struct strbuf *sb, const char *path)
{
	if(*path &&
	   strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+-:@,%=") == strlen(path)) {
		strbuf_addf(sb, " %s", path);
		return;
	}
	strbuf_adds(sb, " '");
	for(const char *p = path; *p; p++)
		if(*p == '\'')
			strbuf_adds(sb, "'\\''");
		else
			strbuf_add(sb, p, 1);
	strbuf_adds(sb, "'");
}

/* Logs one warning naming every file of the database at path that group or
 * others may read, with the one chmod command that closes them all. */
static void db_files__warn_readable(const char *path)
{
	struct strbuf files = STRBUF_INIT;
	char name[4096];
	struct stat st;

	for(size_t i = 0; i < sizeof(db_files__suffixes) / sizeof(db_files__suffixes[0]); i++) {
		if(snprintf(name, sizeof(name), "%s%s", path, db_files__suffixes[i]) >= (int)sizeof(name))
			continue;
		if(stat(name, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
			db_files__add_word(&files, name);
	}
	if(files.len && !files.oom)
		log_warn("%s: holds the Matrix access token and the chats' data but group or others may read it; "
		         "run: chmod 600%s",
		         path, files.buf);
	strbuf_release(&files);
}

int db__files_prepare(const char *path, struct strbuf *err)
{
	/* SQLite's in-memory database, and its private temporary one. */
	if(!*path || !strcmp(path, ":memory:"))
		return 0;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if(fd < 0 && errno != EEXIST) {
		strbuf_addf(err, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if(fd >= 0) {
		/* The umask may only have taken bits away: 0600 exactly, so
		 * that the side files SQLite creates get it too.  An empty file
		 * is an empty database to SQLite. */
		int rc = fchmod(fd, 0600);
		close(fd);
		if(rc) {
			strbuf_addf(err, "cannot make %s private: %s", path, strerror(errno));
			unlink(path);
			return -1;
		}
	}
	db_files__warn_readable(path);
	return 0;
}
