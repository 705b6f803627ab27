/* msgout: messages written to a stream (pqueue's stdout), each followed
 * by its delimiter, whole, with a cheap "would this block?" check so a
 * consumer never sits on a lock while its reader is slow. */
#ifndef PKIT_MSGOUT_H
#define PKIT_MSGOUT_H

#include <stddef.h>

struct msgout {
	int fd;
	int delim;
	size_t room;		/* bytes fd takes after POLLOUT; 0: never blocks */
	size_t since;		/* bytes written since POLLOUT was seen */
};

/* Set o up for fd: a pipe or socket is taken to hold a page after
 * POLLOUT, a tty a few hundred bytes; files never block. */
void msgout_init(struct msgout *o, int fd, int delim);

/* Write data and the delimiter, retrying partial writes and EINTR. 0,
 * or -1 with errno (EPIPE when the reader is gone). */
int msgout_write(struct msgout *o, const char *data, size_t len);

/* Could writing n more bytes block? Polls only when the room promised
 * by the last POLLOUT may be used up. 1 or 0. */
int msgout_blocked(struct msgout *o, size_t n);

/* The caller saw POLLOUT on o->fd: the room is whole again. */
void msgout_ready(struct msgout *o);

/* Has the reader of o->fd gone (POLLERR or POLLHUP on it, seen without
 * writing)? 1 or 0. */
int msgout_gone(const struct msgout *o);

/* Is o->fd a pipe or socket, where a gone reader shows in poll as an
 * error or hang-up while nothing is written? 1 or 0. */
int msgout_pollable(const struct msgout *o);

#endif
