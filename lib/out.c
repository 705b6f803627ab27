/* out: stdout writer with the EPIPE rule. */
#include <errno.h>

#include "io.h"
#include "out.h"

void
out_init(struct out *o, int fd, size_t flush_at)
{
	o->fd = fd;
	o->flush_at = flush_at;
	o->b = (struct buf){ 0 };
	o->dead = 0;
}

/* Write n bytes; a failure kills the output: quietly for EPIPE. */
static int
out_write(struct out *o, const char *s, size_t n)
{
	if (io_write_all(o->fd, s, n) >= 0)
		return 0;
	o->dead = 1;
	buf_free(&o->b);
	return errno == EPIPE ? 0 : -1;
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
out_dead(const struct out *o)
{
	return o->dead;
}

void
out_free(struct out *o)
{
	buf_free(&o->b);
}
