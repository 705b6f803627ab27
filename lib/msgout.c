/* msgout: whole messages to a stream; see msgout.h. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "msgout.h"

void
msgout_init(struct msgout *o, int fd, int delim)
{
	struct stat sb;

	o->fd = fd;
	o->delim = delim;
	o->room = 0;
	if (fstat(fd, &sb) == 0) {
		if (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))
			o->room = 4096;
		else if (isatty(fd))
			o->room = 256;
	}
	o->since = o->room;	/* ask before the first write */
}

int
msgout_write(struct msgout *o, const char *data, size_t len)
{
	char d = (char)o->delim;
	struct iovec iov[2];
	size_t skip = 0;
	ssize_t w;

	iov[1].iov_base = &d;
	iov[1].iov_len = 1;
	while (skip < len + 1) {
		iov[0].iov_base = (void *)(uintptr_t)(data + skip);
		iov[0].iov_len = skip < len ? len - skip : 0;
		w = skip < len ? writev(o->fd, iov, 2) : write(o->fd, &d, 1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		skip += (size_t)w;
	}
	o->since += len + 1;
	return 0;
}

int
msgout_blocked(struct msgout *o, size_t n)
{
	struct pollfd p = { .fd = o->fd, .events = POLLOUT };

	if (o->room == 0 || o->since + n + 1 <= o->room)
		return 0;
	if (poll(&p, 1, 0) == 0)
		return 1;
	o->since = 0;
	return 0;
}

void
msgout_ready(struct msgout *o)
{
	o->since = 0;
}

int
msgout_gone(const struct msgout *o)
{
	struct pollfd p = { .fd = o->fd, .events = 0 };

	while (poll(&p, 1, 0) < 0)
		if (errno != EINTR)
			return 0;
	return (p.revents & (POLLERR | POLLHUP)) != 0;
}

int
msgout_pollable(const struct msgout *o)
{
	return o->room > 256;	/* a pipe or socket, not a tty or file */
}
