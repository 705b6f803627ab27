/* io: whole reads and writes; a record reader for lines or NUL records. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

ssize_t
io_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	size_t done = 0;
	ssize_t w;

	while (done < n) {
		w = write(fd, p + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

ssize_t
io_write_some(int fd, const void *buf, size_t n)
{
	ssize_t w;

	while ((w = write(fd, buf, n)) < 0 && errno == EINTR)
		;
	return w;
}

ssize_t
io_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = read(fd, p + done, n - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int
io_read_file(int dirfd, const char *path, char **bufp, size_t *lenp)
{
	size_t cap = 512, len = 0;
	char *buf, *nbuf;
	ssize_t r;
	int fd, err;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if ((buf = malloc(cap)) == NULL)
		goto fail;
	for (;;) {
		if (len + 1 >= cap) {
			if ((nbuf = realloc(buf, cap * 2)) == NULL)
				goto fail;
			buf = nbuf;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	if (lenp)
		*lenp = len;
	return 0;
fail:
	err = errno;
	free(buf);
	close(fd);
	errno = err;
	return -1;
}

void
io_records_init(struct io_records *r, int fd, int delim, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->delim = delim;
	r->max = max;
}

void
io_records_free(struct io_records *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = r->scan = 0;
}

int
io_records_take(struct io_records *r, char **rec, size_t *len)
{
	char *p, *d;
	size_t avail, used;

	if (r->buf == NULL)
		return r->eof ? IO_EOF : IO_MORE;
	for (;;) {
		p = r->buf + r->start;
		avail = r->end - r->start;
		d = avail > r->scan ? memchr(p + r->scan, r->delim,
		    avail - r->scan) : NULL;
		if (r->skipping) {
			/* Inside an oversized record: drop bytes up to its end. */
			used = io_skip(&r->skipping, p, avail, r->delim, len);
			if (r->skipping == 0) {
				r->start += used;
				r->scan = 0;
				*rec = NULL;
				return IO_TOOLONG;
			}
			r->start = r->end = r->scan = 0;
			if (!r->eof)
				return IO_MORE;
			*len = r->skipping - 1;
			r->skipping = 0;
			return IO_TOOLONG;
		}
		if (d != NULL && (size_t)(d - p) <= r->max) {
			*d = '\0';
			*rec = p;
			*len = (size_t)(d - p);
			r->start += *len + 1;
			r->scan = 0;
			return IO_REC;
		}
		if (d != NULL || avail > r->max) {
			/* Longer than max: count it and skip the rest of it.
			 * skipping holds the byte count + 1 so 0 means "not". */
			r->skipping = 1;
			continue;
		}
		r->scan = avail;
		if (r->eof) {
			if (avail == 0)
				return IO_EOF;
			/* A last record without a delimiter; fill() keeps
			 * a spare byte for its NUL. */
			r->buf[r->end] = '\0';
			*rec = p;
			*len = avail;
			r->start = r->end = r->scan = 0;
			return IO_REC;
		}
		return IO_MORE;
	}
}

size_t
io_skip(size_t *skipping, const char *p, size_t n, int delim, size_t *len)
{
	const char *d = n > 0 ? memchr(p, delim, n) : NULL;

	if (d == NULL) {
		*skipping += n;
		return n;
	}
	*len = *skipping - 1 + (size_t)(d - p);
	*skipping = 0;
	return (size_t)(d - p) + 1;
}

ssize_t
io_records_fill(struct io_records *r)
{
	size_t want, ncap;
	char *nbuf;
	ssize_t n;

	if (r->start > 0 && r->start == r->end)
		r->start = r->end = 0;
	if (r->start > 0 && r->cap - r->end < 4096) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	/* Keep one spare byte so a record can always be NUL-terminated.
	 * take() discards anything longer than max, so as long as callers
	 * take() until IO_MORE between fills the buffer stays near max. */
	if (r->cap - r->end < 4096 + 1) {
		ncap = r->cap ? r->cap * 2 : 65536;
		if ((nbuf = realloc(r->buf, ncap)) == NULL)
			return -1;
		r->buf = nbuf;
		r->cap = ncap;
	}
	want = r->cap - r->end - 1;
	while ((n = read(r->fd, r->buf + r->end, want)) < 0 && errno == EINTR)
		;
	if (n == 0)
		r->eof = 1;
	if (n > 0)
		r->end += (size_t)n;
	return n;
}

int
io_records_next(struct io_records *r, char **rec, size_t *len)
{
	int t;

	while ((t = io_records_take(r, rec, len)) == IO_MORE)
		if (io_records_fill(r) < 0)
			return -1;
	return t;
}
