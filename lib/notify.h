/* notify: the sending side of systemd's readiness protocol (sd_notify):
 * datagrams of "NAME=VALUE" lines to the unix socket named by
 * NOTIFY_SOCKET (a path, or "@name" in the abstract namespace), and the
 * watchdog interval WATCHDOG_USEC. */
#ifndef PKIT_NOTIFY_H
#define PKIT_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct notify {
	int fd;			/* -1: no NOTIFY_SOCKET, sending is a no-op */
	char path[108];
	int64_t watchdog;	/* ns between pings the manager expects, or 0 */
	int err;		/* errno of the last watchdog ping that failed */
};

/* Read NOTIFY_SOCKET (and WATCHDOG_USEC when WATCHDOG_PID is unset or our
 * pid) and remove them from the environment, so children do not talk to
 * the manager in our name. Returns 1 with a socket ready, 0 when none is
 * asked for, -1 with errno (EINVAL for a bad address, or socket's). */
int notify_init(struct notify *n);

/* Send one datagram of "\n"-separated assignments (no trailing newline
 * needed). 0 (also when inactive), or -1 with errno. */
int notify_send(const struct notify *n, const char *msg);

/* notify_send of a printf-formatted message (cut at 1 KiB). */
int notify_sendf(const struct notify *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* With a watchdog interval: send WATCHDOG=1 every half interval from l's
 * timers, for as long as l runs (n must stay put). 0 (also without a
 * watchdog), or -1 with errno (loop_timer's). A later ping that cannot be
 * sent or scheduled sets n->err to its errno; scheduling failures end the
 * pings. */
int notify_watchdog(struct notify *n, struct loop *l);

void notify_close(struct notify *n);

/* The receiving side, for a child's readiness: a nonblocking datagram
 * socket with a fresh name in the abstract namespace (the kernel picks
 * it), its NOTIFY_SOCKET value ("@...") written into name. Returns the fd
 * (close-on-exec), or -1 with errno (socket's or bind's; ENAMETOOLONG if
 * size is too small). */
int notify_listen(char *name, size_t size);

/* Read every datagram waiting on fd (from notify_listen). Returns 1 if
 * one of them holds the line READY=1, else 0; -1 with errno on a read
 * error other than EAGAIN. */
int notify_recv_ready(int fd);

#endif
