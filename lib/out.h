/* out: the one writer for a streaming program's stdout (prefork's
 * replies, pqueue's messages), with the rule of DESIGN §2: EPIPE (the
 * reader is gone) ends the output quietly, any other write error kills
 * it too and is returned once for the caller to report; after either,
 * output is dropped. SIGPIPE must be ignored by the caller.
 *
 * Output is buffered up to flush_at bytes (0: every call writes at once,
 * as pqueue needs: a message is acknowledged only once it is written).
 * For a consumer that must not hold a lock while its reader is slow,
 * out_blocked says cheaply whether a write could block, and out_gone
 * whether the reader has gone while nothing is being written. */
#ifndef PKIT_OUT_H
#define PKIT_OUT_H

#include <stddef.h>

#include "buf.h"

struct out {
	int fd;
	size_t flush_at;	/* write once this much is buffered */
	struct buf b;
	int dead;		/* no more output: reader gone or error */
	size_t room;		/* bytes fd takes after POLLOUT; 0: never blocks */
	size_t since;		/* bytes written since POLLOUT was seen */
};

/* A writer on fd (blocking), flushing once flush_at bytes wait. A pipe
 * or socket is taken to hold a page after POLLOUT, a tty a few hundred
 * bytes; files never block. */
void out_init(struct out *o, int fd, size_t flush_at);

/* Queue n bytes (large ones go straight out). 0; 0 and the data dropped
 * once the output is dead (EPIPE); -1 with errno on the write error (not
 * EPIPE) or ENOMEM that killed it, returned once. */
int out_add(struct out *o, const void *s, size_t n);

/* A record: n bytes and then the byte delim, in one write when nothing
 * is buffered. Returns as out_add; out_dead tells whether it went out. */
int out_record(struct out *o, const void *s, size_t n, int delim);

/* Write what is queued. Returns as out_add. */
int out_flush(struct out *o);

/* Is the output gone (reader closed, or a write failed)? 1 or 0. */
int out_dead(const struct out *o);

/* Could writing a record of n more bytes block? Polls only when the
 * room promised by the last POLLOUT may be used up. 1 or 0. */
int out_blocked(struct out *o, size_t n);

/* The caller saw POLLOUT on o->fd: the room is whole again. */
void out_ready(struct out *o);

/* Is o->fd a pipe or socket, where a reader that has gone shows in poll
 * (POLLERR, POLLHUP) while nothing is written? 1 or 0. */
int out_pollable(const struct out *o);

/* Has the reader gone (POLLERR or POLLHUP on o->fd now)? 1 (the output
 * is dead from now on) or 0. */
int out_gone(struct out *o);

/* Free the buffer (does not flush, does not close fd). */
void out_free(struct out *o);

#endif
