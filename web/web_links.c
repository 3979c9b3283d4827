/*
 * web_links: the calendar links.  A token is the first 128 bits of
 * HMAC-SHA256(key, salt), the salt 128 random bits stored with the link,
 * the key 256 random bits in a file of its own; the database keeps the
 * token's SHA-256, by which a request finds its link.
 */
#include "web/web_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

#define LOG_MODULE "web"

/* Fills buf with len random bytes from the kernel.  0 or -1. */
static int web__random(unsigned char *buf, size_t len)
{
	size_t got = 0;
	while(got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);
		if(n < 0 && errno == EINTR)
			continue;
		if(n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes of path into buf: 1, 0 when there is no such
 * file, -1 (logged) when it cannot be read or is not len bytes long. */
static int web__read_key(const char *path, unsigned char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0) {
		if(errno == ENOENT)
			return 0;
		log_error("cannot read the web key %s: %s", path, strerror(errno));
		return -1;
	}
	unsigned char extra;
	ssize_t n = read(fd, buf, len);
	bool exact = n == (ssize_t)len && read(fd, &extra, 1) == 0;
	close(fd);
	if(exact)
		return 1;
	log_error("the web key %s is not %zu bytes long: remove it to make a new one (every link changes)", path, len);
	return -1;
}

/* Writes a new key to path, owner only, through a temporary file renamed
 * over it, so that no half-written key is ever read.  0 or -1 (logged). */
static int web__write_key(const char *path, const unsigned char *key, size_t len)
{
	char tmp[4096];
	if(snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0) {
		log_error("cannot make the web key %s: %s", tmp, strerror(errno));
		return -1;
	}
	bool ok = write(fd, key, len) == (ssize_t)len && !fsync(fd);
	ok = !close(fd) && ok;
	if(!ok || rename(tmp, path)) {
		log_error("cannot make the web key %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	log_info("made a new web key, %s", path);
	return 0;
}

/* The key kept in the database (PostgreSQL): the stored one, or a new one
 * offered, then whichever was stored first (another instance may have
 * offered its own meanwhile).  0 or -1 (logged). */
static int web__db_key(struct web *w)
{
	int found = db_web_key_get(w->db, w->key, WEB_KEY_LEN);
	if(found)
		return found < 0 ? -1 : 0;
	if(web__random(w->key, WEB_KEY_LEN)) {
		log_error("cannot draw a web key: %s", strerror(errno));
		return -1;
	}
	if(db_web_key_offer(w->db, w->key, WEB_KEY_LEN) || db_web_key_get(w->db, w->key, WEB_KEY_LEN) != 1) {
		log_error("cannot store the web key in the database");
		return -1;
	}
	log_info("made a new web key, kept in the database");
	return 0;
}

int web_key_load(struct web *w, const char *path)
{
	if(db_keeps_web_key(w->db))
		return web__db_key(w);
	int found = web__read_key(path, w->key, WEB_KEY_LEN);
	if(found)
		return found < 0 ? -1 : 0;
	if(web__random(w->key, WEB_KEY_LEN)) {
		log_error("cannot draw a web key: %s", strerror(errno));
		return -1;
	}
	return web__write_key(path, w->key, WEB_KEY_LEN);
}

/* The token of salt, and its hash as the database keeps it. */
static int web__token(const struct web *w, const unsigned char *salt, unsigned char token[WEB_TOKEN_LEN],
                      unsigned char hash[DB_WEB_HASH])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if(!HMAC(EVP_sha256(), w->key, WEB_KEY_LEN, salt, DB_WEB_SALT, mac, &maclen) || maclen < WEB_TOKEN_LEN)
		return -1;
	memcpy(token, mac, WEB_TOKEN_LEN);
	SHA256(token, WEB_TOKEN_LEN, hash);
	return 0;
}

static const char web__b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Appends the base64url form of a token (22 characters, no padding). */
static void web__encode(struct strbuf *out, const unsigned char *t)
{
	unsigned bits = 0, acc = 0;
	for(int i = 0; i < WEB_TOKEN_LEN; i++) {
		acc = (acc << 8) | t[i];
		bits += 8;
		while(bits >= 6) {
			bits -= 6;
			strbuf_addc(out, web__b64[(acc >> bits) & 63]);
		}
	}
	if(bits)
		strbuf_addc(out, web__b64[(acc << (6 - bits)) & 63]);
}

/* Reads a token's base64url form into t: 0, or -1 when text is not one,
 * or not as web__encode spells it (every character is read either way). */
static int web__decode(const char *text, size_t len, unsigned char *t)
{
	unsigned bits = 0, acc = 0;
	int bad = len != WEB_TOKEN_TEXT, n = 0;
	for(size_t i = 0; i < len && i < WEB_TOKEN_TEXT; i++) {
		const char *c = text[i] ? strchr(web__b64, text[i]) : NULL;
		bad |= !c;
		acc = (acc << 6) | (c ? (unsigned)(c - web__b64) : 0);
		bits += 6;
		if(bits >= 8) {
			bits -= 8;
			t[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* The last character's low bits are padding: only zeros are the
	 * token's one spelling. */
	bad |= (acc & ((1u << bits) - 1)) != 0;
	return bad || n != WEB_TOKEN_LEN ? -1 : 0;
}

int web_link_url(struct web *w, struct db_web_link *l, const char *path, bool fresh, struct strbuf *out)
{
	unsigned char token[WEB_TOKEN_LEN], hash[DB_WEB_HASH];
	int found = fresh ? 0 : db_web_link_get(w->db, l);
	if(found < 0)
		return -1;
	/* A link made under another key (its file was removed) is made anew. */
	if(found && (web__token(w, l->salt, token, hash) || CRYPTO_memcmp(hash, l->hash, DB_WEB_HASH)))
		found = 0;
	if(!found) {
		if(web__random(l->salt, DB_WEB_SALT) || web__token(w, l->salt, token, l->hash) ||
		   db_web_link_put(w->db, l, clock_now_ms()))
			return -1;
	}
	strbuf_adds(out, w->base);
	strbuf_adds(out, path);
	web__encode(out, token);
	OPENSSL_cleanse(token, sizeof(token));
	return out->oom ? -1 : 0;
}

int web_link_find(struct web *w, const char *text, size_t len, struct db_web_link *out)
{
	unsigned char token[WEB_TOKEN_LEN] = { 0 }, hash[DB_WEB_HASH];
	int bad = web__decode(text, len, token);
	/* A text that is no token is looked up all the same (as zeros). */
	SHA256(token, WEB_TOKEN_LEN, hash);
	int found = db_web_link_find(w->db, hash, out);
	if(found == 1 && (CRYPTO_memcmp(hash, out->hash, DB_WEB_HASH) | bad))
		found = 0;
	/* A link past its end is no link, found at the same cost. */
	if(found == 1 && out->expires_ms && out->expires_ms <= clock_now_ms())
		found = 0;
	return found;
}
