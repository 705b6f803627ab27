/* buf: a growable byte buffer whose pending bytes are p[off..len). Bytes
 * are taken from the front by advancing off and added at len; room is
 * made by sliding the pending bytes to the front before growing. */
#ifndef PKIT_BUF_H
#define PKIT_BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t off, len, cap;
};

/* Make room for `more` bytes after len. 0, or -1 with errno ENOMEM (the
 * buffer is unchanged). */
int buf_room(struct buf *b, size_t more);

/* Append n bytes. 0, or -1 with errno ENOMEM (nothing appended). */
int buf_add(struct buf *b, const void *d, size_t n);

/* Bytes not yet taken. */
size_t buf_pending(const struct buf *b);

/* Forget the pending bytes; the memory stays for reuse. */
void buf_clear(struct buf *b);

/* Give back memory above `keep` bytes once the buffer is empty (a burst
 * must not pin its high-water mark for good). */
void buf_shrink(struct buf *b, size_t keep);

/* Free the memory; the buffer is empty and reusable. */
void buf_free(struct buf *b);

/* Keep the last cap bytes of a stream in tail (*len bytes held): append
 * b (n bytes), dropping the oldest bytes beyond cap. Never fails. */
void buf_tail_add(char *tail, size_t *len, size_t cap, const char *b,
    size_t n);

#endif
