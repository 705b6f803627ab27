/* notify: sd_notify without libsystemd. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "notify.h"
#include "parse.h"

static void
watchdog_init(struct notify *n)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long long v, p;

	n->watchdog = 0;
	if (us == NULL || int_parse(us, 1, INT64_MAX / 1000, &v) < 0)
		return;
	if (pid != NULL && (int_parse(pid, 1, 0x7fffffff, &p) < 0 ||
	    p != (long long)getpid()))
		return;
	n->watchdog = (int64_t)v * 1000;
}

int
notify_init(struct notify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	int r = 0;

	n->fd = -1;
	n->path[0] = '\0';
	n->watchdog = 0;
	n->err = 0;
	if (path != NULL && *path != '\0') {
		if ((path[0] != '/' && path[0] != '@') ||
		    strlen(path) >= sizeof(n->path)) {
			errno = EINVAL;
			r = -1;
		} else if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
		    0)) < 0)
			r = -1;
		else {
			strcpy(n->path, path);
			watchdog_init(n);
			r = 1;
		}
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return r;
}

int
notify_send(const struct notify *n, const char *msg)
{
	struct sockaddr_un sa;
	size_t len = strlen(n->path);
	ssize_t r;

	if (n->fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, n->path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	while ((r = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un,
	    sun_path) + len))) < 0 && errno == EINTR)
		;
	return r < 0 ? -1 : 0;
}

int
notify_sendf(const struct notify *n, const char *fmt, ...)
{
	char m[1024];
	va_list ap;

	if (n->fd < 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	return notify_send(n, m);
}

static void
on_watchdog(struct loop *l, void *arg)
{
	struct notify *n = arg;

	if (notify_send(n, "WATCHDOG=1") < 0)
		n->err = errno;
	if (notify_watchdog(n, l) < 0)
		n->err = errno;
}

int
notify_watchdog(struct notify *n, struct loop *l)
{
	if (n->fd < 0 || n->watchdog <= 0)
		return 0;
	return loop_timer(l, clock_mono() + n->watchdog / 2, on_watchdog, n) <
	    0 ? -1 : 0;
}

void
notify_close(struct notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

int
notify_listen(char *name, size_t size)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	size_t n;
	int fd, e;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	/* An address of the family alone: Linux binds a unique abstract
	 * name (autobind). */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		goto fail;
	n = len - offsetof(struct sockaddr_un, sun_path);
	if (n < 2 || sa.sun_path[0] != '\0' || n + 1 > size) {
		errno = n + 1 > size ? ENAMETOOLONG : EINVAL;
		goto fail;
	}
	name[0] = '@';
	memcpy(name + 1, sa.sun_path + 1, n - 1);
	name[n] = '\0';
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
notify_recv_ready(int fd)
{
	char buf[4096], *line, *save;
	ssize_t r;
	int ready = 0;

	for (;;) {
		r = recv(fd, buf, sizeof(buf) - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? ready :
			    -1;
		buf[r] = '\0';
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			if (strcmp(line, "READY=1") == 0)
				ready = 1;
	}
}
