#include "daemon/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http_client.h"
#include "adapters/http_server.h"
#include "bot/action.h"
#include "config/config.h"
#include "daemon/exporter.h"
#include "daemon/notify.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "storage/db.h"
#include "web/web.h"

/* The daemon speaks as the bot in the log. */
#define LOG_MODULE "bot"

/* ---- the core's port: each platform is the adapter of that name ---- */

static struct adapter *daemon__adapter(struct daemon *d, const char *platform)
{
	for(int i = 0; i < d->nadapters; i++)
		if(!strcmp(d->adapters[i].ops->name, platform))
			return &d->adapters[i];
	return NULL;
}

static int daemon__deliver(void *user, const struct action *act)
{
	struct daemon *d = user;
	struct adapter *a = daemon__adapter(d, act->platform);
	if(d->halted)
		return 1; /* the instance that leads now sends it */
	if(!a) {
		/* Kept in the outbox for when that adapter runs again. */
		log_warn("no %s adapter running: a message for chat %s waits in the outbox", act->platform,
		         act->chat_id);
		return 1;
	}
	/* Delivered, or failed for good (logged): nothing more to do. */
	return a->ops->deliver(a, act) <= 0 ? 0 : 1;
}

static bool daemon__reachable(void *user, const char *platform)
{
	struct adapter *a = daemon__adapter(user, platform);
	return !a || !a->ops->reachable || a->ops->reachable(a);
}

static void daemon__resume(void *user)
{
	struct daemon *d = user;
	for(int i = 0; i < d->nadapters; i++)
		if(d->adapters[i].ops->resume)
			d->adapters[i].ops->resume(&d->adapters[i]);
}

static size_t daemon__in_flight(void *user)
{
	struct daemon *d = user;
	return d->host.client ? http_client_pending(d->host.client) : 0;
}

/* The adapters stop receiving and sending anything new; so does the
 * listener (what it promised may still be answered).  The client stays:
 * its requests in flight may be answered. */
static void daemon__stop(void *user)
{
	struct daemon *d = user;
	notify_send("STOPPING=1\nSTATUS=stopping");
	for(int i = 0; i < d->nadapters; i++)
		if(d->adapters[i].ops->stop)
			d->adapters[i].ops->stop(&d->adapters[i]);
	http_server_stop(d->host.listener);
}

static void daemon__close(void *user)
{
	struct daemon *d = user;
	if(d->host.client) {
		http_client_close(d->host.client);
		d->host.client = NULL;
	}
	exporter_close(d->exporter);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	uv_close((uv_handle_t *)&d->halt, NULL);
	if(d->watchdog_on)
		uv_close((uv_handle_t *)&d->watchdog, NULL);
	d->watchdog_on = false;
	health_stop(&d->health);
	standby_stop(&d->standby);
	/* Last: nothing on the loop opens a descriptor from here on (see
	 * http_server_close). */
	http_server_close(d->host.listener);
}

static const struct bot_port daemon__port = {
	.deliver = daemon__deliver,
	.reachable = daemon__reachable,
	.resume = daemon__resume,
	.in_flight = daemon__in_flight,
	.stop = daemon__stop,
	.close = daemon__close,
};

/* ---- systemd ---- */

/* Sends state (READY=1 after a start or a reload) with a STATUS= line
 * that names the adapters running, or says that the instance stands by. */
static void daemon__status(struct daemon *d, const char *state)
{
	if(d->standing_by) {
		notify_send("%sSTATUS=standing by: another instance leads", state);
		return;
	}
	struct strbuf names = STRBUF_INIT;
	for(int i = 0; i < d->nadapters; i++)
		strbuf_addf(&names, "%s%s", i ? ", " : "", d->adapters[i].ops->name);
	notify_send("%sSTATUS=running: %s", state, names.oom ? "?" : names.buf);
	strbuf_release(&names);
}

/* Says in the log when systemd waits for READY=1 and this build cannot
 * give it. */
static void daemon__notify_check(void)
{
	if(notify_wanted() && !notify_built_in())
		log_warn("NOTIFY_SOCKET is set, but this build has no systemd support (built without libsystemd): "
		         "systemd will not hear that the bot is ready");
}

static void daemon__on_watchdog(uv_timer_t *t)
{
	(void)t;
	notify_send("WATCHDOG=1");
}

/* Pings at half the interval systemd gives, as sd_watchdog_enabled(3)
 * advises; none when it gives none. */
static void daemon__watchdog_start(struct daemon *d, uv_loop_t *loop)
{
	uint64_t usec = notify_watchdog_usec();
	if(!usec)
		return;
	uint64_t every = usec / 2000 ? usec / 2000 : 1;
	if(uv_timer_init(loop, &d->watchdog)) {
		log_error("cannot start the watchdog's pings: systemd will restart the bot");
		return;
	}
	d->watchdog_on = true;
	uv_timer_start(&d->watchdog, daemon__on_watchdog, every, every);
	uv_unref((uv_handle_t *)&d->watchdog);
	log_info("systemd's watchdog: a ping every %llu ms", (unsigned long long)every);
}

/* ---- signals ---- */

static void daemon__on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	log_info("received %s, stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
	bot_stop(&d->bot, 0);
}

/* SIGHUP asks for the configuration to be read again; the owner of the
 * configuration (main) does it through d->reload.  Once stopping, there is
 * nothing left to reconfigure. */
static void daemon__on_hup(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	(void)signum;
	if(d->bot.stopping)
		return;
	if(!d->reload) {
		log_warn("received SIGHUP: there is no configuration file to read again");
		return;
	}
	log_info("received SIGHUP, reading the configuration again");
	/* MONOTONIC_USEC dates the reload for systemd, to the microsecond of
	 * CLOCK_MONOTONIC (uv_hrtime's clock): Type=notify-reload needs it,
	 * Type=notify takes it as it comes. */
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reading the configuration again",
	            (unsigned long long)(uv_hrtime() / 1000));
	d->reload(d, d->reload_user);
	daemon__status(d, "READY=1\n");
}

/* ---- leadership ---- */

static void daemon__on_halt(uv_timer_t *t)
{
	struct daemon *d = t->data;
	bot_stop(&d->bot, DAEMON_EXIT_LOST);
}

/* The database's word that another instance took the leadership: this one
 * must not send anything more.  Whatever is handed over from now on stays
 * with the new leader (the outbox and the platforms' offsets it reads);
 * the bot stops at the next turn of the loop, not here: the word comes
 * from inside a storage call, in the middle of the core's work. */
static void daemon__on_lost(void *user)
{
	struct daemon *d = user;
	if(d->halted)
		return;
	d->halted = true;
	log_error("lost the leadership: another instance leads now; stopping at once (exit status %d), to start "
	          "again standing by",
	          DAEMON_EXIT_LOST);
	uv_timer_start(&d->halt, daemon__on_halt, 0, 0);
}

static int daemon__try_lead(void *user)
{
	struct daemon *d = user;
	return db_lead_try(d->bot.db);
}

static void daemon__on_lead(void *user)
{
	struct daemon *d = user;
	d->standing_by = false;
	if(d->bot.stopping)
		return;
	if(d->lead(d, d->lead_user)) {
		log_error("this instance leads but could not start: stopping");
		bot_stop(&d->bot, 1);
	}
}

int daemon_stand_by(struct daemon *d, int (*lead)(struct daemon *d, void *user), void *user)
{
	d->lead = lead;
	d->lead_user = user;
	if(standby_start(&d->standby, d->bot.loop, STANDBY_TRY_MS, daemon__try_lead, daemon__on_lead, d))
		return -1;
	d->standing_by = true;
	log_info("standing by: another instance leads; asking for the leadership every %d ms", STANDBY_TRY_MS);
	daemon__notify_check();
	daemon__status(d, "READY=1\n");
	return 0;
}

int daemon_init(struct daemon *d, uv_loop_t *loop, struct config *cfg, struct db *db)
{
	memset(d, 0, sizeof(*d));
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(loop, &d->sig_int);
	uv_signal_init(loop, &d->sig_term);
	uv_signal_init(loop, &d->sig_hup);
	uv_timer_init(loop, &d->halt);
	d->sig_int.data = d->sig_term.data = d->sig_hup.data = d->halt.data = d;
	if(uv_signal_start(&d->sig_int, daemon__on_signal, SIGINT) ||
	   uv_signal_start(&d->sig_term, daemon__on_signal, SIGTERM) ||
	   uv_signal_start(&d->sig_hup, daemon__on_hup, SIGHUP)) {
		log_error("cannot install signal handlers");
		return -1;
	}
	/* Signal handlers alone must not keep the loop alive. */
	uv_unref((uv_handle_t *)&d->sig_int);
	uv_unref((uv_handle_t *)&d->sig_term);
	uv_unref((uv_handle_t *)&d->sig_hup);
	if(bot_init(&d->bot, loop, cfg, db, &daemon__port, d))
		return -1;
	db_set_lost_fn(db, daemon__on_lost, d);
	daemon__watchdog_start(d, loop);
	return 0;
}

/* ---- GET /healthz and GET /readyz ---- */

static int daemon__health(struct daemon *d, struct http_response *res, bool platforms)
{
	struct strbuf body = STRBUF_INIT;
	int status = health_answer(&d->health.db, d->adapters, d->nadapters, platforms, d->standing_by, clock_mono_ms(),
	                           &body);
	if(status < 0) {
		strbuf_release(&body);
		return -1;
	}
	res->status = status;
	res->content_type = "application/json";
	res->body_len = body.len;
	res->body = strbuf_detach(&body);
	return res->body ? 0 : -1;
}

static int daemon__healthz(void *user, const struct http_request *req, struct http_response *res)
{
	(void)req;
	return daemon__health(user, res, true);
}

static int daemon__readyz(void *user, const struct http_request *req, struct http_response *res)
{
	(void)req;
	return daemon__health(user, res, false);
}

int daemon_start_http(struct daemon *d)
{
	const struct config *cfg = d->bot.cfg;
	const char *listen = cfg->http_listen;
	if(!*listen)
		return 0;
	/* "ADDRESS:PORT" or "[ADDRESS]:PORT", checked when the configuration
	 * was read; the listener takes the address without its brackets. */
	const char *colon = strrchr(listen, ':');
	char addr[128];
	if(*listen == '[')
		snprintf(addr, sizeof(addr), "%.*s", (int)(colon - listen - 2), listen + 1);
	else
		snprintf(addr, sizeof(addr), "%.*s", (int)(colon - listen), listen);
	struct http_server_options opt = {
		.address = addr,
		.port = atoi(colon + 1),
		.max_body = (size_t)cfg->http_max_body,
		.cert_file = *cfg->http_tls_cert ? cfg->http_tls_cert : NULL,
		.key_file = *cfg->http_tls_key ? cfg->http_tls_key : NULL,
	};
	if(http_server_new(&d->host.listener, d->bot.loop, &opt) ||
	   http_server_route(d->host.listener, "GET", "/healthz", daemon__healthz, d) ||
	   http_server_route(d->host.listener, "GET", "/readyz", daemon__readyz, d))
		return -1;
	health_start(&d->health, d->bot.loop, db_path(d->bot.db));
	return !strcmp(cfg->http_metrics, "on")
	               ? exporter_start(&d->exporter, d->bot.loop, d->host.listener, cfg, d->bot.db)
	               : 0;
}

int daemon_start_web(struct daemon *d)
{
	/* Without a listener, web_start says why the web is off when asked for. */
	return web_start(&d->web, &d->bot, d->host.listener);
}

int daemon_add_adapter(struct daemon *d, const struct adapter_ops *ops)
{
	if(d->nadapters == DAEMON_MAX_ADAPTERS) {
		log_error("too many adapters");
		return -1;
	}
	struct adapter *a = &d->adapters[d->nadapters];
	memset(a, 0, sizeof(*a));
	a->ops = ops;
	a->bot = &d->bot;
	a->host = &d->host;
	a->started_ms = clock_mono_ms();
	if(ops->start(a)) {
		log_error("the %s adapter could not start", ops->name);
		if(ops->release)
			ops->release(a);
		return -1;
	}
	d->nadapters++;
	log_info("%s adapter started", ops->name);
	return 0;
}

void daemon_ready(struct daemon *d)
{
	standby_set_leader(true);
	if(!d->lead) /* or it was said when standing by */
		daemon__notify_check();
	daemon__status(d, "READY=1\n");
}

void daemon_release(struct daemon *d)
{
	db_set_lost_fn(d->bot.db, NULL, NULL);
	web_free(d->web);
	d->web = NULL;
	bot_release(&d->bot);
	for(int i = 0; i < d->nadapters; i++)
		if(d->adapters[i].ops->release)
			d->adapters[i].ops->release(&d->adapters[i]);
	d->nadapters = 0;
	/* The listener's handles have closed by now: free its context. */
	http_server_free(d->host.listener);
	d->host.listener = NULL;
	exporter_free(d->exporter);
	d->exporter = NULL;
}
