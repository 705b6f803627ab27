/* redis: RESP2 client. See redis.h.
 *
 * Replies are parsed from the input buffer only once they are complete:
 * a partial reply is parsed again after the next read, so the parser
 * holds no state between calls. Any I/O or protocol failure closes the
 * connection, because after it nobody knows which reply comes next. */
#include "redis.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "clock.h"

#define BULK_MAX (1LL << 30)
#define ARGS_MAX 64

static int
addr_fail(const char **why, const char *reason)
{
	*why = reason;
	errno = EINVAL;
	return -1;
}

static int
copy_part(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int
redis_addr_parse(const char *s, struct redis_addr *a, const char **why)
{
	const char *p, *at, *slash, *hend, *colon = NULL, *rest;
	char *end;
	long v;

	memset(a, 0, sizeof(*a));
	strcpy(a->port, "6379");
	if (strncmp(s, "redis://", 8) != 0)
		return addr_fail(why, "not a redis:// address");
	p = s + 8;
	slash = strchr(p, '/');
	if (slash == NULL)
		return addr_fail(why, "no key (redis://HOST[:PORT][/DB]/KEY)");
	at = memchr(p, '@', (size_t)(slash - p));
	if (at != NULL) {
		const char *c = memchr(p, ':', (size_t)(at - p));

		if (c == NULL)
			return addr_fail(why, "USER:PASS@ needs a colon");
		if (copy_part(a->user, sizeof(a->user), p, (size_t)(c - p)) ||
		    copy_part(a->pass, sizeof(a->pass), c + 1,
		    (size_t)(at - c - 1)))
			return addr_fail(why, "user or password too long");
		p = at + 1;
	}
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(slash - p));
		if (hend == NULL)
			return addr_fail(why, "unclosed [ in host");
		if (copy_part(a->host, sizeof(a->host), p + 1,
		    (size_t)(hend - p - 1)))
			return addr_fail(why, "host too long");
		hend++;
		if (hend < slash && *hend != ':')
			return addr_fail(why, "bad host");
		if (hend < slash)
			colon = hend;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		hend = colon != NULL ? colon : slash;
		if (copy_part(a->host, sizeof(a->host), p, (size_t)(hend - p)))
			return addr_fail(why, "host too long");
	}
	if (a->host[0] == '\0')
		return addr_fail(why, "no host");
	if (colon != NULL) {
		errno = 0;
		if (colon + 1 == slash || colon[1] < '0' || colon[1] > '9')
			return addr_fail(why, "bad port");
		v = strtol(colon + 1, &end, 10);
		if (errno != 0 || end != slash || v < 1 || v > 65535)
			return addr_fail(why, "bad port");
		snprintf(a->port, sizeof(a->port), "%ld", v);
	}
	rest = slash + 1;
	/* A numeric segment followed by another '/' is the database. */
	if (*rest >= '0' && *rest <= '9' && strchr(rest, '/') != NULL) {
		errno = 0;
		v = strtol(rest, &end, 10);
		if (*end == '/') {
			if (errno != 0 || v < 0 || v > 65535)
				return addr_fail(why, "bad database number");
			a->db = (int)v;
			rest = end + 1;
		}
	}
	if (*rest == '\0')
		return addr_fail(why, "no key (redis://HOST[:PORT][/DB]/KEY)");
	if (copy_part(a->key, sizeof(a->key), rest, strlen(rest)))
		return addr_fail(why, "key too long");
	for (p = rest; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return addr_fail(why, "control character in key");
	if (a->db != 0)
		snprintf(a->text, sizeof(a->text), "redis://%s%s%s:%s/%d/%s",
		    a->user, a->user[0] ? "@" : "", a->host, a->port, a->db,
		    a->key);
	else
		snprintf(a->text, sizeof(a->text), "redis://%s%s%s:%s/%s",
		    a->user, a->user[0] ? "@" : "", a->host, a->port, a->key);
	return 0;
}

void
redis_init(struct redis *r, const struct redis_addr *a)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->addr = *a;
	r->connect_timeout = 5 * NS_PER_SEC;
	r->io_timeout = 30 * NS_PER_SEC;
}

static int fail(struct redis *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct redis *r, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

/* Fail and close: the byte stream can no longer be trusted. */
static int
broken(struct redis *r, int e, const char *what)
{
	redis_close(r);
	if (what == NULL)
		what = e == ECONNRESET || e == EPIPE ?
		    "connection lost" : strerror(e);
	return fail(r, e, "%s", what);
}

void
redis_close(struct redis *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->olen = 0;
	r->istart = r->iend = 0;
	r->pending = 0;
}

void
redis_free(struct redis *r)
{
	redis_close(r);
	free(r->out);
	free(r->in);
	r->out = r->in = NULL;
	r->ocap = r->icap = 0;
}

/* Wait for events on r->fd until `deadline` (monotonic ns). Returns 0, or
 * -1 with ETIMEDOUT. EINTR is retried: a caller that must react to
 * signals keeps its own deadlines short. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - clock_mono();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, (int)((left + NS_PER_MS - 1) / NS_PER_MS));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
connect_one(const struct addrinfo *ai, int64_t deadline, int *err)
{
	int fd, e, one = 1;
	socklen_t len = sizeof(e);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			*err = errno;
			close(fd);
			return -1;
		}
		if (wait_fd(fd, POLLOUT, deadline) < 0) {
			*err = errno;
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (e != 0) {
			*err = e;
			close(fd);
			return -1;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int
handshake(struct redis *r)
{
	const char *pass = r->addr.pass;
	struct redis_reply *rep;
	char db[16];

	if (pass[0] == '\0' && getenv("PQUEUE_REDIS_PASSWORD") != NULL)
		pass = getenv("PQUEUE_REDIS_PASSWORD");
	if (pass[0] != '\0') {
		if ((r->addr.user[0] != '\0' ? redis_commandv(r, &rep, "AUTH",
		    r->addr.user, pass, (char *)NULL) : redis_commandv(r, &rep,
		    "AUTH", pass, (char *)NULL)) < 0)
			return -1;
		redis_reply_free(rep);
	}
	if (r->addr.db != 0) {
		snprintf(db, sizeof(db), "%d", r->addr.db);
		if (redis_commandv(r, &rep, "SELECT", db, (char *)NULL) < 0)
			return -1;
		redis_reply_free(rep);
	}
	return 0;
}

int
redis_connect(struct redis *r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int64_t deadline = clock_mono() + r->connect_timeout;
	int e, err = ECONNREFUSED;

	redis_close(r);
	e = getaddrinfo(r->addr.host, r->addr.port, &hints, &res);
	if (e != 0)
		return fail(r, e == EAI_SYSTEM ? errno : EHOSTUNREACH,
		    "cannot resolve %s: %s", r->addr.host, gai_strerror(e));
	for (ai = res; ai != NULL && r->fd < 0; ai = ai->ai_next)
		r->fd = connect_one(ai, deadline, &err);
	freeaddrinfo(res);
	if (r->fd < 0) {
		if (err == ETIMEDOUT)
			return fail(r, err, "connect timed out");
		if (err == ECONNREFUSED)
			return fail(r, err, "connection refused");
		return fail(r, err, "connect: %s", strerror(err));
	}
	if (handshake(r) < 0) {
		e = errno;
		redis_close(r);
		errno = e;
		return -1;
	}
	r->backoff = 0;
	return 0;
}

/* Spread the reconnects of many clients (xorshift seeded from the pid and
 * the clock, leaving random()'s state to the program). */
static uint64_t
jitter(void)
{
	static uint64_t x;

	if (x == 0)
		x = ((uint64_t)getpid() << 32) ^ (uint64_t)clock_mono() ^ 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

int
redis_reconnect(struct redis *r, int64_t patience)
{
	int64_t end = clock_mono() + patience, pause;

	for (;;) {
		if (redis_connect(r) == 0)
			return 0;
		if (errno == EIO)	/* AUTH or SELECT refused: final */
			return -1;
		r->backoff = r->backoff == 0 ? 100 * NS_PER_MS :
		    r->backoff * 2;
		if (r->backoff > 5 * NS_PER_SEC)
			r->backoff = 5 * NS_PER_SEC;
		pause = r->backoff / 2 + (int64_t)(jitter() %
		    (uint64_t)(r->backoff / 2 / NS_PER_US + 1)) * NS_PER_US;
		if (patience >= 0 && clock_mono() + pause > end)
			return -1;
		if (clock_sleep_until(clock_mono() + pause, 1) < 0) {
			snprintf(r->err, sizeof(r->err), "interrupted");
			return -1;
		}
	}
}

static int
out_room(struct redis *r, size_t n)
{
	size_t cap;
	char *p;

	if (r->olen + n <= r->ocap)
		return 0;
	cap = r->ocap ? r->ocap : 4096;
	while (cap < r->olen + n)
		cap *= 2;
	if ((p = realloc(r->out, cap)) == NULL)
		return -1;
	r->out = p;
	r->ocap = cap;
	return 0;
}

int
redis_append(struct redis *r, int argc, const char *const argv[],
    const size_t lens[])
{
	char head[32];
	size_t len;
	int i, n;

	n = snprintf(head, sizeof(head), "*%d\r\n", argc);
	if (out_room(r, (size_t)n) < 0)
		return -1;
	memcpy(r->out + r->olen, head, (size_t)n);
	r->olen += (size_t)n;
	for (i = 0; i < argc; i++) {
		len = lens != NULL ? lens[i] : strlen(argv[i]);
		n = snprintf(head, sizeof(head), "$%zu\r\n", len);
		if (out_room(r, (size_t)n + len + 2) < 0)
			return -1;
		memcpy(r->out + r->olen, head, (size_t)n);
		r->olen += (size_t)n;
		memcpy(r->out + r->olen, argv[i], len);
		r->olen += len;
		memcpy(r->out + r->olen, "\r\n", 2);
		r->olen += 2;
	}
	r->pending++;
	return 0;
}

static int
collect(const char *argv[], const char *arg, va_list ap)
{
	int n = 0;

	for (; arg != NULL && n < ARGS_MAX; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	return n;
}

int
redis_appendv(struct redis *r, const char *arg, ...)
{
	const char *argv[ARGS_MAX];
	va_list ap;
	int n;

	va_start(ap, arg);
	n = collect(argv, arg, ap);
	va_end(ap);
	return redis_append(r, n, argv, NULL);
}

int
redis_flush(struct redis *r)
{
	int64_t deadline = clock_mono() + r->io_timeout;
	size_t off = 0;
	ssize_t n;

	if (r->fd < 0) {
		r->olen = 0;
		return fail(r, ENOTCONN, "not connected");
	}
	while (off < r->olen) {
		n = send(r->fd, r->out + off, r->olen - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return broken(r, errno, NULL);
		if (wait_fd(r->fd, POLLOUT, deadline) < 0)
			return broken(r, errno, "write timed out");
	}
	r->olen = 0;
	return 0;
}

/* Free what rep holds, not rep itself (array elements live in their
 * parent's array). */
static void
reply_clear(struct redis_reply *rep)
{
	size_t i;

	if (rep->type == REDIS_ARR) {
		for (i = 0; i < rep->n; i++)
			reply_clear(&rep->elem[i]);
		free(rep->elem);
	} else {
		free(rep->str);
	}
	memset(rep, 0, sizeof(*rep));
}

void
redis_reply_free(struct redis_reply *rep)
{
	if (rep == NULL)
		return;
	reply_clear(rep);
	free(rep);
}

const struct redis_reply *
redis_elem(const struct redis_reply *rep, size_t i)
{
	if (rep == NULL || rep->type != REDIS_ARR || i >= rep->n)
		return NULL;
	return &rep->elem[i];
}

/* Find the end of the line at p (within [p, end)): the position of "\r\n",
 * or NULL when not all there yet. */
static const char *
line_end(const char *p, const char *end)
{
	const char *q;

	for (q = p; q + 1 < end; q++)
		if (q[0] == '\r' && q[1] == '\n')
			return q;
	return NULL;
}

static int
parse_num(const char *p, const char *e, long long *v)
{
	char *end;
	char buf[32];

	if (e - p <= 0 || e - p >= (long)sizeof(buf))
		return -1;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	errno = 0;
	*v = strtoll(buf, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* Parse one reply at *pp. Returns 1 (complete; *pp advanced), 0 (need
 * more bytes), -1 (protocol error) or -2 (out of memory). */
static int
parse(const char **pp, const char *end, struct redis_reply *rep, int depth)
{
	const char *p = *pp, *e;
	long long v;
	size_t i;
	int st;

	memset(rep, 0, sizeof(*rep));
	if (p >= end)
		return 0;
	if ((e = line_end(p + 1, end)) == NULL)
		return end - p > 64 * 1024 ? -1 : 0;	/* no line is that long */
	switch (*p) {
	case '+':
	case '-':
		rep->type = *p == '+' ? REDIS_STATUS : REDIS_ERR;
		rep->len = (size_t)(e - p - 1);
		if ((rep->str = malloc(rep->len + 1)) == NULL)
			return -2;
		memcpy(rep->str, p + 1, rep->len);
		rep->str[rep->len] = '\0';
		*pp = e + 2;
		return 1;
	case ':':
		rep->type = REDIS_INT;
		if (parse_num(p + 1, e, &rep->integer) < 0)
			return -1;
		*pp = e + 2;
		return 1;
	case '$':
		if (parse_num(p + 1, e, &v) < 0 || v < -1 || v > BULK_MAX)
			return -1;
		if (v == -1) {
			rep->type = REDIS_NIL;
			*pp = e + 2;
			return 1;
		}
		if (end - (e + 2) < v + 2)
			return 0;
		if (e[2 + v] != '\r' || e[3 + v] != '\n')
			return -1;
		rep->type = REDIS_STR;
		rep->len = (size_t)v;
		if ((rep->str = malloc(rep->len + 1)) == NULL)
			return -2;
		memcpy(rep->str, e + 2, rep->len);
		rep->str[rep->len] = '\0';
		*pp = e + 4 + v;
		return 1;
	case '*':
		if (parse_num(p + 1, e, &v) < 0 || v < -1 || depth > 16 ||
		    v > end - p)
			return -1;
		if (v == -1) {
			rep->type = REDIS_NIL;
			*pp = e + 2;
			return 1;
		}
		rep->type = REDIS_ARR;
		if (v > 0 && (rep->elem = calloc((size_t)v,
		    sizeof(*rep->elem))) == NULL)
			return -2;
		p = e + 2;
		for (i = 0; i < (size_t)v; i++) {
			st = parse(&p, end, &rep->elem[i], depth + 1);
			if (st != 1) {
				rep->n = i;
				reply_clear(rep);
				return st;
			}
		}
		rep->n = (size_t)v;
		*pp = p;
		return 1;
	}
	return -1;
}

static int
in_fill(struct redis *r, int64_t deadline)
{
	ssize_t n;
	size_t cap;
	char *p;

	if (r->istart > 0 && r->istart == r->iend)
		r->istart = r->iend = 0;
	if (r->iend == r->icap) {
		if (r->istart > 0) {
			memmove(r->in, r->in + r->istart, r->iend - r->istart);
			r->iend -= r->istart;
			r->istart = 0;
		} else {
			cap = r->icap ? r->icap * 2 : 65536;
			if ((p = realloc(r->in, cap)) == NULL)
				return broken(r, ENOMEM, NULL);
			r->in = p;
			r->icap = cap;
		}
	}
	for (;;) {
		n = recv(r->fd, r->in + r->iend, r->icap - r->iend, 0);
		if (n > 0) {
			r->iend += (size_t)n;
			return 0;
		}
		if (n == 0)
			return broken(r, ECONNRESET, "connection closed by "
			    "server");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return broken(r, errno, NULL);
		if (wait_fd(r->fd, POLLIN, deadline) < 0)
			return broken(r, ETIMEDOUT, "no reply (timed out)");
	}
}

int
redis_read(struct redis *r, int64_t extra, struct redis_reply **rep)
{
	int64_t deadline = clock_mono() + r->io_timeout + extra;
	const char *p;
	int st;

	*rep = NULL;
	if (r->fd < 0)
		return fail(r, ENOTCONN, "not connected");
	if ((*rep = malloc(sizeof(**rep))) == NULL)
		return fail(r, ENOMEM, "out of memory");
	for (;;) {
		p = r->in + r->istart;
		st = r->in == NULL ? 0 : parse(&p, r->in + r->iend, *rep, 0);
		if (st == 1) {
			r->istart = (size_t)(p - r->in);
			if (r->pending > 0)
				r->pending--;
			return 0;
		}
		if (st < 0) {
			free(*rep);
			*rep = NULL;
			return broken(r, st == -2 ? ENOMEM : EPROTO,
			    st == -2 ? "out of memory" : "protocol error");
		}
		if (in_fill(r, deadline) < 0) {
			free(*rep);
			*rep = NULL;
			return -1;
		}
	}
}

int
redis_command(struct redis *r, struct redis_reply **rep, int argc,
    const char *const argv[], const size_t lens[])
{
	*rep = NULL;
	if (redis_append(r, argc, argv, lens) < 0)
		return fail(r, ENOMEM, "out of memory");
	if (redis_flush(r) < 0 || redis_read(r, 0, rep) < 0)
		return -1;
	if ((*rep)->type == REDIS_ERR) {
		fail(r, EIO, "%s", (*rep)->str);
		redis_reply_free(*rep);
		*rep = NULL;
		return -1;
	}
	return 0;
}

int
redis_commandv(struct redis *r, struct redis_reply **rep, const char *arg,
    ...)
{
	const char *argv[ARGS_MAX];
	va_list ap;
	int n;

	va_start(ap, arg);
	n = collect(argv, arg, ap);
	va_end(ap);
	return redis_command(r, rep, n, argv, NULL);
}
