/*
 * matrix_memo: what the adapter's own sends became, kept in memory.
 *
 * The keys matrix.msg.<ref> (a message kept for edits), matrix.ref.<ref>
 * and matrix.poll.<event> (a native poll), matrix.polls.<room> (a room's
 * open polls) and matrix.rsvp.<event> (an RSVP message) are written by
 * this adapter alone, always through mx__kv_now or a send's stored answer,
 * and never name a person (/forget me has nothing to take out of them).
 * So once a value was read or written here, the memory holds what the
 * database holds, or soon will: a send's answer is learnt when it comes,
 * before the transaction that stores it.  An edit, a vote on a poll or a
 * reaction then reads no row on the loop's thread, which on PostgreSQL
 * would be a round trip to the server.
 *
 * The memory is direct-mapped: a key lives in the slot its hash names, and
 * a newer key over another in the same slot evicts it (it is read from the
 * database again when needed).  An absence read from the database is kept
 * too, as nothing but this adapter would make the key appear.
 */
#include <stdlib.h>
#include <string.h>

#include "adapters/matrix_internal.h"

static const char *const mx__memo_prefixes[] = {
	"matrix.msg.", "matrix.ref.", "matrix.poll.", "matrix.polls.", "matrix.rsvp.",
};

bool mx__memo_kept(const char *key)
{
	for(size_t i = 0; i < sizeof(mx__memo_prefixes) / sizeof(*mx__memo_prefixes); i++)
		if(!strncmp(key, mx__memo_prefixes[i], strlen(mx__memo_prefixes[i])))
			return true;
	return false;
}

/* FNV-1a, folded onto the slots. */
static size_t mx__memo_slot(const char *key)
{
	uint32_t h = 2166136261u;
	for(const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h & (MX_MEMO - 1);
}

int mx__memo_get(const struct mx *m, const char *key, struct strbuf *out)
{
	const struct mx_memo *s = &m->memo[mx__memo_slot(key)];
	if(!s->key || strcmp(s->key, key))
		return 2;
	if(!s->value)
		return 0;
	strbuf_adds(out, s->value);
	return out->oom ? -1 : 1;
}

void mx__memo_put(struct mx *m, const char *key, const char *value)
{
	if(!mx__memo_kept(key))
		return;
	struct mx_memo *s = &m->memo[mx__memo_slot(key)];
	char *k = strdup(key);
	char *v = value ? strdup(value) : NULL;
	free(s->key);
	free(s->value);
	s->key = s->value = NULL;
	/* Out of memory: the slot stays empty, and the key is read again. */
	if(!k || (value && !v)) {
		free(k);
		free(v);
		return;
	}
	s->key = k;
	s->value = v;
}

void mx__memo_release(struct mx *m)
{
	for(size_t i = 0; i < MX_MEMO; i++) {
		free(m->memo[i].key);
		free(m->memo[i].value);
		m->memo[i].key = m->memo[i].value = NULL;
	}
}
