/*
 * notify: what the daemon tells systemd when it runs as a Type=notify
 * service (sd_notify(3)): READY=1 once it serves, RELOADING=1 and READY=1
 * around a reload, STOPPING=1 when it stops, STATUS= lines, and the
 * watchdog's WATCHDOG=1.
 *
 * Through libsystemd's sd_notify when the build found it (ENSEMBLE_SYSTEMD);
 * without it every call does nothing.  Without NOTIFY_SOCKET in the
 * environment (not started by systemd, or not as Type=notify) every call
 * does nothing either: that is the ordinary case, not an error.
 */
#ifndef ENSEMBLE_NOTIFY_H
#define ENSEMBLE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* True when this build can notify systemd (libsystemd was found). */
bool notify_built_in(void);

/* True when systemd listens: NOTIFY_SOCKET is set.  A build without
 * libsystemd looks at the variable all the same, so that the daemon can
 * say why systemd will not hear from it. */
bool notify_wanted(void);

/* Sends state, newline-separated VARIABLE=VALUE assignments
 * ("READY=1\nSTATUS=running"), formatted as printf does.  Returns 0 when
 * it was sent or there is no one to send it to, -1 when sending failed
 * (logged once: systemd then times the service out or restarts it, which
 * the log line explains). */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The interval, in microseconds, at which systemd expects WATCHDOG=1
 * (WatchdogSec=, passed as WATCHDOG_USEC for this process); 0 when it
 * expects none. */
uint64_t notify_watchdog_usec(void);

#endif
