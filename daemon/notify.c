#include "daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ENSEMBLE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "lib/log.h"

#define LOG_MODULE "systemd"

/* The longest state the daemon sends: a few assignments and a status line. */
#define NOTIFY_MAX 512

bool notify_built_in(void)
{
#ifdef ENSEMBLE_SYSTEMD
	return true;
#else
	return false;
#endif
}

bool notify_wanted(void)
{
	const char *socket = getenv("NOTIFY_SOCKET");
	return socket && *socket;
}

int notify_send(const char *fmt, ...)
{
	static bool failed_once;
	if(!notify_built_in() || !notify_wanted())
		return 0;
	char state[NOTIFY_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	int rc = 0;
#ifdef ENSEMBLE_SYSTEMD
	/* 0 keeps NOTIFY_SOCKET for the next message (a reload, the stop). */
	rc = sd_notify(0, state);
#endif
	if(rc >= 0)
		return 0;
	if(!failed_once)
		log_warn("cannot notify systemd through NOTIFY_SOCKET: %s", strerror(-rc));
	failed_once = true;
	return -1;
}

uint64_t notify_watchdog_usec(void)
{
	uint64_t usec = 0;
#ifdef ENSEMBLE_SYSTEMD
	/* Checks WATCHDOG_PID too: a watchdog meant for another process (a
	 * parent that exec'd the bot) is not this one's. */
	if(sd_watchdog_enabled(0, &usec) <= 0)
		usec = 0;
#endif
	return usec;
}
