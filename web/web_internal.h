/*
 * web_internal: what the files of web/ share.  Nothing outside web/
 * includes this.
 */
#ifndef ENSEMBLE_WEB_INTERNAL_H
#define ENSEMBLE_WEB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/strbuf.h"
#include "storage/db.h"
#include "web/web.h"

#define WEB_KEY_LEN 32    /* the HMAC key, bytes */
#define WEB_TOKEN_LEN 16  /* a link's token: 128 bits */
#define WEB_TOKEN_TEXT 22 /* its base64url form, without padding */

struct web {
	struct bot *bot; /* borrowed */
	struct db *db;   /* the bot's */
	unsigned char key[WEB_KEY_LEN];
	char base[256]; /* public_url without a trailing '/' */
	char host[256]; /* its host, for the events' UIDs */
};

/* web_links.c: the links. */

/* Reads the key from path, making the file (0600) with a new random key
 * when there is none.  0 or -1 (logged). */
int web_key_load(struct web *w, const char *path);
/* Appends the address of l's feed to out ("BASE/cal/TOKEN"), making the
 * link first when l has none (in the open transaction).  0 or -1. */
int web_link_url(struct web *w, struct db_web_link *l, struct strbuf *out);
/* The link whose token is the base64url text (len bytes): 1 with *out
 * filled (its rev and changed too), 0 when there is none, -1.  Costs the
 * same for a bad text as for a good one. */
int web_link_find(struct web *w, const char *text, size_t len, struct db_web_link *out);

/* web_feed.c: the calendars. */

/* Appends to out the iCalendar text of l's feed, whose address is self:
 * the meetups ending at or after since, or only the one whose #num in
 * the chat (whose id, in a person's feed) is only when it is not 0; its
 * DTSTAMPs are stamp (the feed's last change).  *n is the number of
 * events.  0 or -1. */
int web_feed(struct web *w, const struct db_web_link *l, const char *self, int64_t only, time_t since, time_t stamp,
             struct strbuf *out, int *n);

#endif
