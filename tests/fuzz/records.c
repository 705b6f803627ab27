/* fuzz the record reader (lib/io) against a plain split of the input.
 * Byte 0 picks the delimiter ('\n' or NUL) and the longest record (0 to
 * 127 bytes), byte 1 the size of the chunks written into a pipe between
 * fills (1 to 64), the rest is the stream. Every record comes out whole
 * and in order, and a record longer than max as IO_TOOLONG with its
 * full length. */
#include <errno.h>
#include <unistd.h>

#include "fuzz.h"
#include "io.h"

struct model {
	const uint8_t *p, *end;
	int delim;
	size_t max;
};

/* The next record the model expects: IO_REC with *rec and *len, IO_TOOLONG
 * with *len, or 0 at the end. */
static int
model_next(struct model *m, const uint8_t **rec, size_t *len)
{
	const uint8_t *d;

	if (m->p == m->end)
		return 0;
	d = memchr(m->p, m->delim, (size_t)(m->end - m->p));
	*rec = m->p;
	*len = d ? (size_t)(d - m->p) : (size_t)(m->end - m->p);
	m->p = d ? d + 1 : m->end;
	return *len <= m->max ? IO_REC : IO_TOOLONG;
}

static void
take_all(struct io_records *r, struct model *m)
{
	const uint8_t *want;
	size_t len, wlen;
	char *rec;
	int t;

	while ((t = io_records_take(r, &rec, &len)) != IO_MORE) {
		if (t == IO_EOF) {
			FUZZ_CHECK(model_next(m, &want, &wlen) == 0);
			return;
		}
		FUZZ_CHECK(model_next(m, &want, &wlen) == t);
		FUZZ_CHECK(len == wlen);
		if (t == IO_REC) {
			FUZZ_CHECK(memcmp(rec, want, len) == 0);
			FUZZ_CHECK(rec[len] == '\0');
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct io_records r;
	struct model m;
	const uint8_t *p;
	size_t chunk, n;
	int fds[2];
	ssize_t got;

	if (size < 2)
		return 0;
	m.delim = data[0] & 0x80 ? '\n' : '\0';
	m.max = data[0] & 0x7f;
	chunk = 1 + data[1] % 64;
	p = data + 2;
	m.p = p;
	m.end = data + size;
	FUZZ_CHECK(pipe(fds) == 0);
	io_records_init(&r, fds[0], m.delim, m.max);
	while (p < m.end) {
		n = (size_t)(m.end - p) < chunk ? (size_t)(m.end - p) : chunk;
		FUZZ_CHECK(write(fds[1], p, n) == (ssize_t)n);
		p += n;
		got = io_records_fill(&r);
		FUZZ_CHECK(got == (ssize_t)n);
		take_all(&r, &m);
	}
	close(fds[1]);
	FUZZ_CHECK(io_records_fill(&r) == 0);
	take_all(&r, &m);
	FUZZ_CHECK(m.p == m.end);
	/* After the end, the end again. */
	FUZZ_CHECK(io_records_take(&r, (char **)&p, &n) == IO_EOF);
	io_records_free(&r);
	close(fds[0]);
	return 0;
}
