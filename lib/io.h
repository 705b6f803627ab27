/* io: whole reads and writes, and a record (line / NUL) reader. */
#ifndef PKIT_IO_H
#define PKIT_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all n bytes, retrying on EINTR and partial writes. Returns n, or
 * -1 with errno (EAGAIN on a non-blocking fd after a partial write is
 * reported as -1; use io_write_some for non-blocking fds). */
ssize_t io_write_all(int fd, const void *buf, size_t n);

/* One write, retried on EINTR only. Returns bytes written or -1. */
ssize_t io_write_some(int fd, const void *buf, size_t n);

/* Read until n bytes or EOF, retrying on EINTR. Returns the count (< n
 * only at EOF) or -1 with errno. */
ssize_t io_read_full(int fd, void *buf, size_t n);

/* Read a whole (small) file such as /proc/N/cmdline to EOF into a
 * malloc'd, NUL-terminated buffer; *len gets the byte count. Returns 0 or
 * -1 with errno. `dirfd` may be AT_FDCWD. */
int io_read_file(int dirfd, const char *path, char **buf, size_t *len);

/* Record reader over a blocking or non-blocking fd. Records end with
 * `delim` ('\n' or '\0'); a last record without a delimiter at EOF still
 * counts; an empty record (two delimiters) is a record of length 0. */
struct io_records {
	int fd;
	int delim;
	size_t max;		/* longest record accepted, without delim */
	char *buf;
	size_t cap, start, end;	/* unread bytes are buf[start..end) */
	size_t scan;		/* bytes from start known to hold no delim */
	size_t skipping;	/* >0: in an oversized record: 1 + bytes so far */
	int eof;
};

void io_records_init(struct io_records *r, int fd, int delim, size_t max);
void io_records_free(struct io_records *r);

/* Take one record out of what is buffered, without reading.
 * Returns IO_REC (record in *rec and *len, valid until the next call; the
 * delimiter is not included but buf[len] is writable), IO_TOOLONG (a
 * record longer than max was skipped whole; *len is its full length),
 * IO_MORE (need io_records_fill), or IO_EOF (input ended, nothing left).
 * Call take until IO_MORE before each fill: that keeps the buffer near max. */
enum { IO_EOF = 0, IO_REC = 1, IO_TOOLONG = 2, IO_MORE = 3 };
int io_records_take(struct io_records *r, char **rec, size_t *len);

/* One read(2) into the buffer. Returns bytes read, 0 at EOF, -1 with errno
 * (EAGAIN on a non-blocking fd; EINTR is retried). */
ssize_t io_records_fill(struct io_records *r);

/* Dropping an oversized record piece by piece: *skipping is 0 when not
 * inside one, else 1 + the bytes dropped so far (start it at 1 + the
 * bytes already dropped). Drops p[0..n) up to and including the next
 * delim and returns how many bytes that is; when the record ends there,
 * *len gets its whole length (without the delimiter) and *skipping is 0. */
size_t io_skip(size_t *skipping, const char *p, size_t n, int delim,
    size_t *len);

/* Blocking convenience: take, filling as needed. Returns IO_REC,
 * IO_TOOLONG, IO_EOF, or -1 with errno. */
int io_records_next(struct io_records *r, char **rec, size_t *len);

#endif
