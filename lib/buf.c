/* buf: a growable byte buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
buf_room(struct buf *b, size_t more)
{
	size_t ncap;
	char *np;

	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len >= more)
		return 0;
	if (b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= more)
			return 0;
	}
	if (more > (size_t)-1 / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	ncap = b->cap ? b->cap : 4096;
	while (ncap - b->len < more)
		ncap *= 2;
	if ((np = realloc(b->p, ncap)) == NULL)
		return -1;
	b->p = np;
	b->cap = ncap;
	return 0;
}

int
buf_add(struct buf *b, const void *d, size_t n)
{
	if (buf_room(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

size_t
buf_pending(const struct buf *b)
{
	return b->len - b->off;
}

void
buf_clear(struct buf *b)
{
	b->off = b->len = 0;
}

void
buf_shrink(struct buf *b, size_t keep)
{
	char *np;

	if (b->off != b->len || b->cap <= keep)
		return;
	if (keep == 0) {
		buf_free(b);
		return;
	}
	b->off = b->len = 0;
	if ((np = realloc(b->p, keep)) != NULL) {
		b->p = np;
		b->cap = keep;
	}
}

void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
buf_tail_add(char *tail, size_t *len, size_t cap, const char *b, size_t n)
{
	size_t drop;

	if (n >= cap) {
		memcpy(tail, b + n - cap, cap);
		*len = cap;
		return;
	}
	if (*len + n > cap) {
		drop = *len + n - cap;
		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
	}
	memcpy(tail + *len, b, n);
	*len += n;
}
