/* out: stdout writer with the EPIPE rule; see out.h. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io.h"
#include "out.h"

void
out_init(struct out *o, int fd, size_t flush_at)
{
	struct stat sb;

	o->fd = fd;
	o->flush_at = flush_at;
	o->b = (struct buf){ 0 };
	o->dead = 0;
	o->room = 0;
	if (fstat(fd, &sb) == 0) {
		if (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))
			o->room = 4096;
		else if (isatty(fd))
			o->room = 256;
	}
	o->since = o->room;	/* ask before the first write */
}

/* A write failed: the output is dead, quietly for EPIPE. */
static int
out_kill(struct out *o)
{
	o->dead = 1;
	buf_free(&o->b);
	return errno == EPIPE ? 0 : -1;
}

static int
out_write(struct out *o, const char *s, size_t n)
{
	if (io_write_all(o->fd, s, n) < 0)
		return out_kill(o);
	o->since += n;
	return 0;
}

int
out_flush(struct out *o)
{
	size_t n = buf_pending(&o->b);
	int r = 0;

	if (o->dead || n == 0)
		return 0;
	r = out_write(o, o->b.p + o->b.off, n);
	if (!o->dead) {
		buf_clear(&o->b);
		/* A burst of output must not pin its buffer. */
		buf_shrink(&o->b, o->flush_at * 2);
	}
	return r;
}

int
out_add(struct out *o, const void *s, size_t n)
{
	if (o->dead)
		return 0;
	if (n >= o->flush_at) {
		if (out_flush(o) < 0)
			return -1;
		return o->dead ? 0 : out_write(o, s, n);
	}
	if (buf_add(&o->b, s, n) < 0) {
		o->dead = 1;
		return -1;
	}
	if (buf_pending(&o->b) >= o->flush_at)
		return out_flush(o);
	return 0;
}

int
out_record(struct out *o, const void *s, size_t n, int delim)
{
	const char *data = s;
	char d = (char)delim;
	struct iovec iov[2];
	size_t skip = 0;
	ssize_t w;

	if (o->dead)
		return 0;
	if (n + 1 < o->flush_at)
		return out_add(o, s, n) < 0 ? -1 : out_add(o, &d, 1);
	if (out_flush(o) < 0)
		return -1;
	if (o->dead)
		return 0;
	iov[1].iov_base = &d;
	iov[1].iov_len = 1;
	while (skip < n + 1) {
		iov[0].iov_base = (void *)(uintptr_t)(data + skip);
		iov[0].iov_len = skip < n ? n - skip : 0;
		w = skip < n ? writev(o->fd, iov, 2) : write(o->fd, &d, 1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return out_kill(o);
		skip += (size_t)w;
	}
	o->since += n + 1;
	return 0;
}

int
out_dead(const struct out *o)
{
	return o->dead;
}

int
out_blocked(struct out *o, size_t n)
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
out_ready(struct out *o)
{
	o->since = 0;
}

int
out_pollable(const struct out *o)
{
	return o->room > 256;
}

int
out_gone(struct out *o)
{
	struct pollfd p = { .fd = o->fd, .events = 0 };

	while (poll(&p, 1, 0) < 0)
		if (errno != EINTR)
			return 0;
	if (!(p.revents & (POLLERR | POLLHUP)))
		return 0;
	o->dead = 1;
	buf_free(&o->b);
	return 1;
}

void
out_free(struct out *o)
{
	buf_free(&o->b);
}
