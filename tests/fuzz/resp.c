/* fuzz lib/redis's RESP2 reply parser (parse, static in lib/redis.c, so
 * this target includes the file whole). The input is a byte stream from
 * a server; replies are parsed from it one after another, as the client
 * does. Checks: the parser only ever says "complete", "need more",
 * "protocol error" or "out of memory"; a complete reply lies inside the
 * input; strings are NUL-terminated at their length; and a reply written
 * back out in canonical RESP parses again to the same tree, consuming
 * exactly what was written. */
#include "fuzz.h"
#include "../../lib/redis.c"

struct out {
	char *p;
	size_t n, cap;
};

static void
put(struct out *o, const void *s, size_t n)
{
	if (o->n + n > o->cap) {
		o->cap = (o->n + n) * 2 + 64;
		o->p = realloc(o->p, o->cap);
		FUZZ_CHECK(o->p != NULL);
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void
putf(struct out *o, char c, long long v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%c%lld\r\n", c, v);

	put(o, b, (size_t)n);
}

static void
emit(struct out *o, const struct redis_reply *r)
{
	size_t i;

	switch (r->type) {
	case REDIS_STATUS:
	case REDIS_ERR:
		put(o, r->type == REDIS_STATUS ? "+" : "-", 1);
		put(o, r->str, r->len);
		put(o, "\r\n", 2);
		break;
	case REDIS_INT:
		putf(o, ':', r->integer);
		break;
	case REDIS_NIL:
		put(o, "$-1\r\n", 5);
		break;
	case REDIS_STR:
		putf(o, '$', (long long)r->len);
		put(o, r->str, r->len);
		put(o, "\r\n", 2);
		break;
	case REDIS_ARR:
		putf(o, '*', (long long)r->n);
		for (i = 0; i < r->n; i++)
			emit(o, &r->elem[i]);
		break;
	default:
		FUZZ_CHECK(!"unknown reply type");
	}
}

static void
check(const struct redis_reply *r)
{
	size_t i;

	switch (r->type) {
	case REDIS_STATUS:
	case REDIS_ERR:
	case REDIS_STR:
		FUZZ_CHECK(r->str != NULL && r->str[r->len] == '\0');
		break;
	case REDIS_ARR:
		FUZZ_CHECK(r->n == 0 || r->elem != NULL);
		for (i = 0; i < r->n; i++)
			check(&r->elem[i]);
		break;
	}
}

static int
same(const struct redis_reply *a, const struct redis_reply *b)
{
	size_t i;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case REDIS_INT:
		return a->integer == b->integer;
	case REDIS_ARR:
		if (a->n != b->n)
			return 0;
		for (i = 0; i < a->n; i++)
			if (!same(&a->elem[i], &b->elem[i]))
				return 0;
		return 1;
	case REDIS_NIL:
		return 1;
	default:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *q, *was;
	struct redis_reply rep, again;
	struct out o = { 0 };
	int st;

	for (;;) {
		was = p;
		st = parse(&p, end, &rep, 0);
		FUZZ_CHECK(st == 1 || st == 0 || st == -1 || st == -2);
		if (st != 1) {
			FUZZ_CHECK(p == was);
			break;
		}
		FUZZ_CHECK(p > was && p <= end);
		check(&rep);
		/* Statuses and errors cannot carry CR or LF when written
		 * back; the parser takes the line up to the first CRLF. */
		o.n = 0;
		emit(&o, &rep);
		q = o.p;
		FUZZ_CHECK(parse(&q, o.p + o.n, &again, 0) == 1);
		FUZZ_CHECK(q == o.p + o.n);
		FUZZ_CHECK(same(&rep, &again));
		reply_clear(&again);
		reply_clear(&rep);
	}
	free(o.p);
	return 0;
}
