/*
 * web: what Ensemble serves to browsers and calendar apps on the HTTP
 * listener, once [web] public_url and [http] listen are both set: the
 * calendar feeds (RFC 5545, made with libical) of a chat, a group or a
 * person, and each meetup's own .ics.
 *
 * Its links are capabilities.  A link's token is 128 bits derived from a
 * random salt with HMAC-SHA256 under a key of 256 random bits kept in a
 * file of its own beside an SQLite database (DB.webkey, 0600), so that the
 * same link can be shown again (in every card of a meetup) while the
 * database keeps only the token's SHA-256: a copy of the database opens no
 * feed.  On PostgreSQL the key is a row of the database (web_key), which
 * every instance of a standby pair shares, so that they all derive the
 * same links; a dump of that database (pg_dump) then holds the key, and
 * is to be kept as secret as the bot's tokens.  A
 * request is looked up by that hash, compared in constant time, and a
 * wrong link is a plain 404 at the same cost.
 *
 * The web side reads the domain through storage/ as the dispatcher does,
 * from the loop's thread, and lends the core its links (struct bot_web).
 */
#ifndef ENSEMBLE_WEB_H
#define ENSEMBLE_WEB_H

struct bot;
struct http_server;
struct web;

/* Starts the web side for bot when its configuration asks for it: adds
 * its routes to listener and lends bot its links (bot_set_web).  *out is
 * the web side, owned by the caller (web_free), or NULL when it is off
 * (public_url or listener missing: logged when only one is set).  bot and
 * listener are borrowed and must outlive it.  0, or -1 (logged: the key
 * file cannot be read or made, a route cannot be added). */
int web_start(struct web **out, struct bot *bot, struct http_server *listener);
/* Takes the links back from the core and frees w (NULL: nothing). */
void web_free(struct web *w);

#endif
