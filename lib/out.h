/* out: one buffered writer for a streaming program's stdout, with the
 * rule of DESIGN §2: EPIPE (the reader is gone) ends the output quietly,
 * any other write error is reported once; after either, output is
 * dropped. SIGPIPE must be ignored by the caller. */
#ifndef PKIT_OUT_H
#define PKIT_OUT_H

#include <stddef.h>

#include "buf.h"

struct out {
	int fd;
	size_t flush_at;	/* write once this much is buffered */
	struct buf b;
	int dead;		/* no more output: reader gone or error */
};

/* A writer on fd (blocking), flushing once flush_at bytes wait. */
void out_init(struct out *o, int fd, size_t flush_at);

/* Queue n bytes (large ones go straight out). 0; 0 and the data dropped
 * once the output is dead; -1 with errno on the write error (not EPIPE)
 * or ENOMEM that killed it, reported once. */
int out_add(struct out *o, const void *s, size_t n);

/* Write what is queued. Returns as out_add. */
int out_flush(struct out *o);

/* Is the output gone (reader closed, or a write failed)? 1 or 0. */
int out_dead(const struct out *o);

/* Free the buffer (does not flush, does not close fd). */
void out_free(struct out *o);

#endif
