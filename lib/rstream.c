/* rstream: queue operations over a Redis stream and consumer group. See
 * rstream.h for the layout. Invariants:
 * - an entry is deleted only together with its XACK (ack) or inside the
 *   MULTI that copies it to KEY:dead (bury), so a message leaves KEY
 *   only once it is done or buried;
 * - a runner's lease refresh is a Lua script that checks the holder and
 *   resets the idle time in one step, so a refresh never steals back an
 *   entry that another consumer claimed after this one's lease ran out. */
#define _GNU_SOURCE
#include "rstream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "proc.h"
#include "spawn.h"

#define PUSH_BATCH 512
#define PUSH_BYTES (1 << 20)

static const char refresh_lua[] =
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)"
    " if p[1] and p[1][2] == ARGV[2] then"
    " return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3],"
    " 'JUSTID') end return {}";

/* Drop the entries after the group's last delivered id (paged), and the
 * dead letters; returns the count dropped. */
static const char purge_lua[] =
    "local last = '0-0'"
    " local ok, gs = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])"
    " if not ok then return 0 end"
    " for _, g in ipairs(gs) do"
    "  for i = 1, #g, 2 do"
    "   if g[i] == 'name' and g[i + 1] ~= ARGV[1] then break end"
    "   if g[i] == 'last-delivered-id' then last = g[i + 1] end"
    "  end"
    " end"
    " local n = 0"
    " while true do"
    "  local es = redis.call('XRANGE', KEYS[1], '(' .. last, '+',"
    "   'COUNT', 1000)"
    "  if #es == 0 then break end"
    "  for _, e in ipairs(es) do redis.call('XDEL', KEYS[1], e[1]);"
    "   n = n + 1 end"
    "  last = es[#es][1]"
    " end"
    " redis.call('DEL', KEYS[2])"
    " return n";

void
rstream_init(struct rstream *s, const struct redis_addr *a,
    const char *group, const char *consumer)
{
	char host[256];

	memset(s, 0, sizeof(*s));
	redis_init(&s->r, a);
	snprintf(s->key, sizeof(s->key), "%s", a->key);
	snprintf(s->dead, sizeof(s->dead), "%s:dead", a->key);
	if (group == NULL)
		group = getenv("PQUEUE_REDIS_GROUP");
	snprintf(s->group, sizeof(s->group), "%s",
	    group != NULL && *group ? group : "pqueue");
	if (consumer == NULL)
		consumer = getenv("PQUEUE_REDIS_CONSUMER");
	if (consumer != NULL && *consumer) {
		snprintf(s->consumer, sizeof(s->consumer), "%s", consumer);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(s->consumer, sizeof(s->consumer), "%s:%ld", host,
		    (long)getpid());
	}
	s->lease = 60 * NS_PER_SEC;
	s->patience = 30 * NS_PER_SEC;
	strcpy(s->cursor, "0-0");
}

int
rstream_connect(struct rstream *s)
{
	return redis_connect(&s->r);
}

void
rstream_close(struct rstream *s)
{
	redis_free(&s->r);
}

void
rstream_msg_free(struct rstream_msg *m)
{
	free(m->data);
	m->data = NULL;
}

/* Make sure there is a connection, reconnecting with backoff. */
static int
ready(struct rstream *s)
{
	if (s->r.fd >= 0)
		return 0;
	return redis_reconnect(&s->r, s->patience);
}

static int
lost(const struct rstream *s, int e)
{
	return e != EIO && e != ENOMEM && e != EINTR && s->r.fd < 0;
}

/* A server still loading its data set after a restart answers LOADING:
 * wait a little and try again, like a lost connection. */
static int
loading(struct rstream *s)
{
	if (errno != EIO || strncmp(s->r.err, "LOADING", 7) != 0)
		return 0;
	redis_close(&s->r);
	clock_sleep_until(clock_mono() + 200 * NS_PER_MS, 0);
	return 1;
}

static int
ensure_group(struct rstream *s)
{
	struct redis_reply *rep;

	if (s->group_ready)
		return 0;
	if (redis_commandv(&s->r, &rep, "XGROUP", "CREATE", s->key, s->group,
	    "0", "MKSTREAM", (char *)NULL) < 0) {
		if (errno != EIO || strncmp(s->r.err, "BUSYGROUP", 9) != 0)
			return -1;
	}
	redis_reply_free(rep);
	s->group_ready = 1;
	return 0;
}

/* One command, retried after reconnecting when the connection was lost
 * (only for commands that may safely run twice), and after re-creating
 * the group when it is gone (NOGROUP: the stream was deleted). */
static int
call(struct rstream *s, int group, struct redis_reply **rep, int argc,
    const char *const argv[], const size_t lens[])
{
	int tries = 0;

	for (;;) {
		if (ready(s) < 0)
			return -1;
		if ((!group || ensure_group(s) == 0) &&
		    redis_command(&s->r, rep, argc, argv, lens) == 0)
			return 0;
		if (errno == EIO && strncmp(s->r.err, "NOGROUP", 7) == 0 &&
		    tries++ < 3) {
			s->group_ready = 0;
			continue;
		}
		if (loading(s))
			continue;
		if (!lost(s, errno))
			return -1;
	}
}

/* First error inside a reply (EXEC's array holds one per command). */
static const char *
reply_error(const struct redis_reply *rep)
{
	const char *e;
	size_t i;

	if (rep->type == REDIS_ERR)
		return rep->str;
	for (i = 0; i < rep->n && rep->type == REDIS_ARR; i++)
		if ((e = reply_error(&rep->elem[i])) != NULL)
			return e;
	return NULL;
}

/* Run n commands as one MULTI ... EXEC, sent in one write; retried after
 * a lost connection (so the whole transaction may happen twice: callers
 * use it for steps that are harmless to repeat). 0 or -1. */
static int
multi(struct rstream *s, int n, const int argc[], const char *const *argv[],
    const size_t *lens[])
{
	struct redis_reply *rep;
	const char *e;
	int i, got, st;

	for (;;) {
		if (ready(s) < 0 || ensure_group(s) < 0) {
			if (loading(s))
				continue;
			return -1;
		}
		st = redis_appendv(&s->r, "MULTI", (char *)NULL);
		for (i = 0; i < n && st == 0; i++)
			st = redis_append(&s->r, argc[i], argv[i], lens[i]);
		if (st < 0 || redis_appendv(&s->r, "EXEC", (char *)NULL) < 0) {
			redis_close(&s->r);
			errno = ENOMEM;
			return -1;
		}
		if (redis_flush(&s->r) < 0)
			continue;
		st = 0;
		for (got = 0; got < n + 2; got++) {
			if (redis_read(&s->r, 0, &rep) < 0)
				break;
			if (st == 0 && (e = reply_error(rep)) != NULL) {
				snprintf(s->r.err, sizeof(s->r.err), "%s", e);
				st = -1;
			}
			redis_reply_free(rep);
		}
		if (got < n + 2) {
			if (lost(s, errno))
				continue;
			return -1;
		}
		if (st == 0)
			return 0;
		errno = EIO;
		if (loading(s))
			continue;
		if (strncmp(s->r.err, "NOGROUP", 7) == 0 ||
		    strstr(s->r.err, "NOGROUP") != NULL) {
			s->group_ready = 0;
			continue;
		}
		return -1;
	}
}

/* Was batch number seq stored? 1 yes, 0 no, -1 (cannot tell). */
static int
receipt(struct rstream *s, unsigned long long seq)
{
	struct redis_reply *rep;
	char want[24];
	int st;

	for (;;) {
		if (ready(s) < 0)
			return -1;
		if (redis_commandv(&s->r, &rep, "GET", s->mark,
		    (char *)NULL) == 0)
			break;
		if (loading(s) || lost(s, errno))
			continue;
		return -1;
	}
	snprintf(want, sizeof(want), "%llu", seq);
	st = rep->type == REDIS_STR && strcmp(rep->str, want) == 0;
	redis_reply_free(rep);
	return st;
}

/* Queue MULTI, the XADDs of recs[ok..end), the receipt and EXEC. */
static int
push_batch(struct rstream *s, size_t ok, size_t end, char *const recs[],
    const size_t lens[], const char *seq)
{
	const char *argv[5] = { "XADD", s->key, "*", "d", NULL };
	size_t alens[5] = { 4, strlen(s->key), 1, 1, 0 }, i;

	if (redis_appendv(&s->r, "MULTI", (char *)NULL) < 0)
		return -1;
	for (i = ok; i < end; i++) {
		argv[4] = recs[i];
		alens[4] = lens[i];
		if (redis_append(&s->r, 5, argv, alens) < 0)
			return -1;
	}
	if (redis_appendv(&s->r, "SET", s->mark, seq, "EX", "86400",
	    (char *)NULL) < 0 || redis_appendv(&s->r, "EXEC", (char *)NULL) < 0)
		return -1;
	return 0;
}

ssize_t
rstream_push(struct rstream *s, size_t n, char *const recs[],
    const size_t lens[], size_t *done)
{
	struct redis_reply *rep;
	size_t ok = 0, i, end, bytes, replies;
	const char *e;
	char seq[24];
	int st, bad;

	if (s->mark[0] == '\0')
		snprintf(s->mark, sizeof(s->mark), "%s:push:%s:%lld", s->key,
		    s->consumer, (long long)clock_wall());
	while (ok < n) {
		if (ready(s) < 0)
			break;
		for (end = ok, bytes = 0; end < n && end - ok < PUSH_BATCH &&
		    bytes < PUSH_BYTES; end++)
			bytes += lens[end];
		snprintf(seq, sizeof(seq), "%llu", s->pushes + 1);
		if (push_batch(s, ok, end, recs, lens, seq) < 0) {
			redis_close(&s->r);
			errno = ENOMEM;
			goto out;
		}
		/* MULTI's +OK, one +QUEUED each, then EXEC's array. */
		replies = end - ok + 3;
		bad = 0;
		e = NULL;
		st = redis_flush(&s->r);
		for (i = 0; st == 0 && i < replies; i++) {
			if ((st = redis_read(&s->r, 0, &rep)) < 0)
				break;
			if (!bad && (e = reply_error(rep)) != NULL) {
				snprintf(s->r.err, sizeof(s->r.err), "%s", e);
				bad = 1;
			}
			redis_reply_free(rep);
		}
		if (st < 0) {
			/* Lost before EXEC's reply: did the batch land? */
			if (!lost(s, errno))
				goto out;
			if ((st = receipt(s, s->pushes + 1)) < 0)
				goto out;
			if (st == 0)
				continue;	/* not stored: send again */
			bad = 0;
		}
		if (bad) {
			/* EXECABORT, or errors inside EXEC: nothing of the
			 * batch is counted as stored. */
			redis_close(&s->r);
			errno = EIO;
			if (loading(s))
				continue;
			goto out;
		}
		s->pushes++;
		ok = end;
	}
out:
	if (done != NULL)
		*done = ok;
	return ok == n ? (ssize_t)n : -1;
}

static int
fill_msg(struct rstream_msg *m, const struct redis_reply *entry)
{
	const struct redis_reply *id = redis_elem(entry, 0);
	const struct redis_reply *f = redis_elem(entry, 1), *k, *v;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (id == NULL || id->type != REDIS_STR || id->len >= sizeof(m->id))
		return -1;
	memcpy(m->id, id->str, id->len + 1);
	for (i = 0; (k = redis_elem(f, i)) != NULL; i += 2) {
		v = redis_elem(f, i + 1);
		if (v == NULL || v->type != REDIS_STR || k->len != 1 ||
		    k->str[0] != 'd')
			continue;
		if ((m->data = malloc(v->len + 1)) == NULL)
			return -1;
		memcpy(m->data, v->str, v->len + 1);
		m->len = v->len;
		return 0;
	}
	/* An entry without "d" (written by another program): empty. */
	if ((m->data = calloc(1, 1)) == NULL)
		return -1;
	return 0;
}

static long long
delivery_count(struct rstream *s, const char *id)
{
	const char *argv[] = { "XPENDING", s->key, s->group, id, id, "1" };
	const struct redis_reply *e;
	struct redis_reply *rep;
	long long n = 1;

	if (call(s, 1, &rep, 6, argv, NULL) < 0)
		return -1;
	e = redis_elem(redis_elem(rep, 0), 3);
	if (e != NULL && e->type == REDIS_INT)
		n = e->integer;
	redis_reply_free(rep);
	return n;
}

/* XAUTOCLAIM one entry idle longer than the lease. 1, 0 or -1. */
static int
claim_one(struct rstream *s, struct rstream_msg *m)
{
	char idle[32];
	const char *argv[] = { "XAUTOCLAIM", s->key, s->group, s->consumer,
	    idle, s->cursor, "COUNT", "1" };
	const struct redis_reply *c, *e;
	struct redis_reply *rep;
	size_t i;
	int st = 0;

	snprintf(idle, sizeof(idle), "%lld", (long long)(s->lease /
	    NS_PER_MS));
	if (call(s, 1, &rep, 8, argv, NULL) < 0)
		return -1;
	c = redis_elem(rep, 0);
	if (c != NULL && c->type == REDIS_STR && c->len < sizeof(s->cursor))
		memcpy(s->cursor, c->str, c->len + 1);
	for (i = 0; (e = redis_elem(redis_elem(rep, 1), i)) != NULL; i++) {
		if (e->type != REDIS_ARR || st == 1)
			continue;
		if (fill_msg(m, e) < 0) {
			redis_reply_free(rep);
			errno = ENOMEM;
			return -1;
		}
		st = 1;
	}
	redis_reply_free(rep);
	if (st == 1 && (m->attempt = delivery_count(s, m->id)) < 0) {
		rstream_msg_free(m);
		return -1;
	}
	return st;
}

/* XREADGROUP one new entry, blocking up to ms (< 0: not at all). */
static int
read_new(struct rstream *s, struct rstream_msg *m, long long ms)
{
	char block[32];
	const char *argv[] = { "XREADGROUP", "GROUP", s->group, s->consumer,
	    "COUNT", "1", "BLOCK", block, "STREAMS", s->key, ">" };
	const char *nb[] = { "XREADGROUP", "GROUP", s->group, s->consumer,
	    "COUNT", "1", "STREAMS", s->key, ">" };
	const struct redis_reply *e;
	struct redis_reply *rep;
	int64_t saved = s->r.io_timeout;
	int st;

	snprintf(block, sizeof(block), "%lld", ms);
	/* The server holds the reply for up to ms: wait that much longer. */
	s->r.io_timeout += ms > 0 ? ms * NS_PER_MS : 0;
	st = ms >= 0 ? call(s, 1, &rep, 11, argv, NULL) :
	    call(s, 1, &rep, 9, nb, NULL);
	s->r.io_timeout = saved;
	if (st < 0)
		return -1;
	/* [[key, [[id, [f, v]]]]] or nil */
	e = redis_elem(redis_elem(redis_elem(rep, 0), 1), 0);
	st = 0;
	if (e != NULL) {
		if (fill_msg(m, e) < 0) {
			redis_reply_free(rep);
			errno = ENOMEM;
			return -1;
		}
		m->attempt = 1;
		st = 1;
	}
	redis_reply_free(rep);
	return st;
}

static int64_t
claim_period(const struct rstream *s)
{
	int64_t p = s->lease / 4;

	if (p < 50 * NS_PER_MS)
		p = 50 * NS_PER_MS;
	if (p > 5 * NS_PER_SEC)
		p = 5 * NS_PER_SEC;
	return p;
}

int
rstream_take(struct rstream *s, struct rstream_msg *m, int64_t wait)
{
	int64_t now, until, deadline = wait < 0 ? -1 : clock_mono() + wait;
	long long ms;
	int st;

	for (;;) {
		now = clock_mono();
		if (now >= s->next_claim) {
			if ((st = claim_one(s, m)) != 0)
				return st;
			/* A whole pass over the PEL found nothing: wait a
			 * period; else go on scanning soon. */
			s->next_claim = strcmp(s->cursor, "0-0") == 0 ?
			    now + claim_period(s) : now;
		}
		until = s->next_claim;
		if (deadline >= 0 && deadline < until)
			until = deadline;
		ms = (until - now) / NS_PER_MS;
		if ((st = read_new(s, m, ms >= 1 ? ms : -1)) != 0)
			return st;
		if (deadline >= 0 && clock_mono() >= deadline)
			return 0;
	}
}

int
rstream_ack(struct rstream *s, const struct rstream_msg *m)
{
	const char *ack[] = { "XACK", s->key, s->group, m->id };
	const char *del[] = { "XDEL", s->key, m->id };
	const int argc[] = { 4, 3 };
	const char *const *argv[] = { ack, del };
	const size_t *lens[] = { NULL, NULL };

	/* Together: a holder killed between the two would leave a done
	 * entry in KEY that nobody owns. */
	return multi(s, 2, argc, argv, lens);
}

int
rstream_refresh(struct rstream *s, const struct rstream_msg *m)
{
	const char *argv[] = { "EVAL", refresh_lua, "1", s->key, s->group,
	    s->consumer, m->id };
	struct redis_reply *rep;
	int held;

	if (call(s, 1, &rep, 7, argv, NULL) < 0)
		return -1;
	held = rep->type == REDIS_ARR && rep->n > 0;
	redis_reply_free(rep);
	if (!held) {
		snprintf(s->r.err, sizeof(s->r.err), "lease of %s lost",
		    m->id);
		errno = ESTALE;
		return -1;
	}
	return 0;
}

int
rstream_release(struct rstream *s, const struct rstream_msg *m)
{
	char idle[32];
	const char *argv[] = { "XCLAIM", s->key, s->group, s->consumer, "0",
	    m->id, "IDLE", idle, "JUSTID" };
	struct redis_reply *rep;

	snprintf(idle, sizeof(idle), "%lld",
	    (long long)(s->lease / NS_PER_MS) + 1);
	if (call(s, 1, &rep, 9, argv, NULL) < 0)
		return -1;
	redis_reply_free(rep);
	s->next_claim = 0;	/* our own next take may retry it */
	strcpy(s->cursor, "0-0");
	return 0;
}

int
rstream_bury(struct rstream *s, const struct rstream_msg *m,
    const char *reason)
{
	char attempts[32], now[32];
	const char *add[] = { "XADD", s->dead, "*", "d", m->data, "id", m->id,
	    "attempts", attempts, "reason", reason, "time", now };
	size_t alens[13];
	const char *ack[] = { "XACK", s->key, s->group, m->id };
	const char *del[] = { "XDEL", s->key, m->id };
	const int argc[] = { 13, 4, 3 };
	const char *const *argv[] = { add, ack, del };
	const size_t *lens[] = { alens, NULL, NULL };
	int i;

	snprintf(attempts, sizeof(attempts), "%lld", m->attempt);
	snprintf(now, sizeof(now), "%lld", (long long)(clock_wall() /
	    NS_PER_SEC));
	for (i = 0; i < 13; i++)
		alens[i] = strlen(add[i]);
	alens[4] = m->len;
	/* The copy and the removal happen together or not at all; a retry
	 * after a lost EXEC reply may copy twice. */
	return multi(s, 3, argc, argv, lens);
}

static long long
int_reply(struct rstream *s, int group, int argc, const char *const argv[])
{
	struct redis_reply *rep;
	long long v = 0;

	if (call(s, group, &rep, argc, argv, NULL) < 0)
		return -1;
	if (rep->type == REDIS_INT)
		v = rep->integer;
	redis_reply_free(rep);
	return v;
}

int
rstream_stat(struct rstream *s, struct rstream_stat *st)
{
	const char *xlen[] = { "XLEN", s->key };
	const char *dlen[] = { "XLEN", s->dead };
	const char *mem[] = { "MEMORY", "USAGE", s->key };
	const char *pend[] = { "XPENDING", s->key, s->group };
	const char *first[] = { "XRANGE", s->key, "-", "+", "COUNT", "1" };
	const char *tm[] = { "TIME" };
	const struct redis_reply *e, *sec, *us;
	struct redis_reply *rep, *t;
	long long idms;

	memset(st, 0, sizeof(*st));
	st->oldest_ms = -1;
	if ((st->length = int_reply(s, 0, 2, xlen)) < 0 ||
	    (st->dead = int_reply(s, 0, 2, dlen)) < 0 ||
	    (st->bytes = int_reply(s, 0, 3, mem)) < 0)
		return -1;
	if (st->length > 0) {
		if (call(s, 1, &rep, 3, pend, NULL) < 0)
			return -1;
		e = redis_elem(rep, 0);
		if (e != NULL && e->type == REDIS_INT)
			st->inflight = e->integer;
		redis_reply_free(rep);
		if (call(s, 0, &rep, 6, first, NULL) < 0)
			return -1;
		if (call(s, 0, &t, 1, tm, NULL) < 0) {
			redis_reply_free(rep);
			return -1;
		}
		e = redis_elem(redis_elem(rep, 0), 0);
		sec = redis_elem(t, 0);
		us = redis_elem(t, 1);
		if (e != NULL && sec != NULL && us != NULL) {
			idms = strtoll(e->str, NULL, 10);
			st->oldest_ms = strtoll(sec->str, NULL, 10) * 1000 +
			    strtoll(us->str, NULL, 10) / 1000 - idms;
			if (st->oldest_ms < 0)
				st->oldest_ms = 0;
		}
		redis_reply_free(rep);
		redis_reply_free(t);
	}
	return 0;
}

long long
rstream_purge(struct rstream *s)
{
	const char *argv[] = { "EVAL", purge_lua, "2", s->key, s->dead,
	    s->group };

	return int_reply(s, 0, 6, argv);
}

static const char *
field(const struct redis_reply *f, const char *name, size_t *len)
{
	const struct redis_reply *k, *v;
	size_t i;

	for (i = 0; (k = redis_elem(f, i)) != NULL; i += 2) {
		v = redis_elem(f, i + 1);
		if (v != NULL && k->type == REDIS_STR &&
		    v->type == REDIS_STR && strcmp(k->str, name) == 0) {
			if (len != NULL)
				*len = v->len;
			return v->str;
		}
	}
	if (len != NULL)
		*len = 0;
	return "";
}

static int
requeue_one(struct rstream *s, const char *id, const char *data, size_t len)
{
	const char *add[] = { "XADD", s->key, "*", "d", data };
	size_t alens[] = { 4, strlen(s->key), 1, 1, len };
	const char *del[] = { "XDEL", s->dead, id };
	const int argc[] = { 5, 3 };
	const char *const *argv[] = { add, del };
	const size_t *lens[] = { alens, NULL };

	return multi(s, 2, argc, argv, lens);
}

long long
rstream_dead(struct rstream *s, int requeue,
    int (*fn)(void *arg, const char *data, size_t len, const char *attempts,
    const char *reason), void *arg)
{
	char from[64] = "-";
	const char *argv[] = { "XRANGE", s->dead, from, "+", "COUNT", "100" };
	const struct redis_reply *e, *id, *f;
	struct redis_reply *rep;
	const char *data;
	long long n = 0;
	size_t i, len;
	int more = 1;

	while (more) {
		if (call(s, 0, &rep, 6, argv, NULL) < 0)
			return -1;
		more = rep->type == REDIS_ARR && rep->n == 100;
		for (i = 0; (e = redis_elem(rep, i)) != NULL; i++) {
			id = redis_elem(e, 0);
			f = redis_elem(e, 1);
			if (id == NULL || id->type != REDIS_STR)
				continue;
			data = field(f, "d", &len);
			if (fn(arg, data, len, field(f, "attempts", NULL),
			    field(f, "reason", NULL)) < 0 ||
			    (requeue && requeue_one(s, id->str, data,
			    len) < 0)) {
				redis_reply_free(rep);
				return -1;
			}
			n++;
			snprintf(from, sizeof(from), "(%s", id->str);
		}
		redis_reply_free(rep);
	}
	return n;
}

struct run_env {
	const struct rstream *s;
	const struct rstream_msg *m;
};

static int
run_hook(void *arg)
{
	const struct run_env *e = arg;
	char attempt[32];

	snprintf(attempt, sizeof(attempt), "%lld", e->m->attempt);
	if (setenv("PQUEUE_ID", e->m->id, 1) < 0 ||
	    setenv("PQUEUE_ATTEMPT", attempt, 1) < 0 ||
	    setenv("PQUEUE_QUEUE", e->s->r.addr.text, 1) < 0)
		return -1;
	return 0;
}

/* The message on a memfd: the command reads it at its own pace and no
 * pipe write can block us. */
static int
message_fd(const struct rstream_msg *m, int delim)
{
	char d = (char)delim;
	int fd, e;

	if ((fd = memfd_create("pqueue-message", MFD_CLOEXEC)) < 0)
		return -1;
	if (io_write_all(fd, m->data, m->len) < 0 ||
	    io_write_all(fd, &d, 1) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
rstream_run(struct rstream *s, const struct rstream_msg *m,
    char *const argv[], int delim, int *wstatus)
{
	struct run_env env = { s, m };
	struct spawn_opts o = { .in = -1, .out = -1, .err = -1,
	    .hook = run_hook, .hook_arg = &env, .pdeathsig = SIGKILL };
	int64_t every = s->lease / 3, next;
	struct pollfd p;
	pid_t pid, w;
	int fd, e;

	if ((fd = message_fd(m, delim)) < 0)
		return -1;
	o.in = fd;
	pid = spawn_start(argv, &o);
	e = errno;
	close(fd);
	if (pid < 0) {
		errno = e;
		return -1;
	}
	p.fd = proc_pidfd_open(pid);
	p.events = POLLIN;
	next = clock_mono() + every;
	for (;;) {
		w = waitpid(pid, wstatus, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (clock_mono() >= next) {
			/* A lost lease is not fatal: the command finishes
			 * and its result is acknowledged anyway; the other
			 * holder may run it once more (at-least-once). */
			rstream_refresh(s, m);
			next = clock_mono() + every;
		}
		/* A refresh that waited out a reconnect may be late: never
		 * pass poll a negative (infinite) timeout. */
		if (p.fd >= 0)
			poll(&p, 1, next > clock_mono() ? (int)((next -
			    clock_mono()) / NS_PER_MS + 1) : 0);
		else
			clock_sleep_until(clock_mono() + 20 * NS_PER_MS, 1);
	}
	e = errno;
	if (p.fd >= 0)
		close(p.fd);
	if (w != pid) {
		errno = e;
		return -1;
	}
	return 0;
}

long long
rstream_push_fd(struct rstream *s, int fd, int delim, size_t max,
    long long *toolong, long long *pushed)
{
	struct io_records rd;
	char *recs[PUSH_BATCH], *rec;
	size_t lens[PUSH_BATCH], n = 0, bytes = 0, done, i;
	long long total = 0;
	int st, e = 0;

	*toolong = 0;
	io_records_init(&rd, fd, delim, max);
	for (;;) {
		st = io_records_next(&rd, &rec, &lens[n]);
		if (st == IO_TOOLONG) {
			(*toolong)++;
			continue;
		}
		if (st == IO_REC) {
			if ((recs[n] = malloc(lens[n] + 1)) == NULL) {
				e = ENOMEM;
				break;
			}
			memcpy(recs[n], rec, lens[n]);
			bytes += lens[n++];
		}
		/* Send a batch when full, or when the input has nothing
		 * more buffered: a slow producer's records go out at once. */
		if (n > 0 && (st != IO_REC || n == PUSH_BATCH ||
		    bytes >= PUSH_BYTES || rd.start == rd.end)) {
			if (rstream_push(s, n, recs, lens, &done) < 0)
				e = errno;
			total += (long long)done;
			for (i = 0; i < n; i++)
				free(recs[i]);
			n = bytes = 0;
			if (e != 0)
				break;
		}
		if (st != IO_REC) {
			if (st < 0)
				e = errno;
			break;
		}
	}
	for (i = 0; i < n; i++)
		free(recs[i]);
	io_records_free(&rd);
	if (pushed != NULL)
		*pushed = total;
	if (e != 0) {
		errno = e;
		return -1;
	}
	return total;
}

long long
rstream_pop_fd(struct rstream *s, int fd, int delim, long long count,
    int64_t wait)
{
	struct rstream_msg m;
	long long n = 0;
	char d = (char)delim;
	int st, e;

	while (count < 0 || n < count) {
		if ((st = rstream_take(s, &m, wait)) < 0)
			return -1;
		if (st == 0)
			break;
		if (io_write_all(fd, m.data, m.len) < 0 ||
		    io_write_all(fd, &d, 1) < 0) {
			e = errno;
			rstream_release(s, &m);
			rstream_msg_free(&m);
			errno = e;
			return -1;
		}
		st = rstream_ack(s, &m);
		rstream_msg_free(&m);
		if (st < 0)
			return -1;
		n++;
	}
	return n;
}

static void
describe(int code, int exec_errno, char *buf, size_t size)
{
	if (exec_errno != 0)
		snprintf(buf, size, "cannot run COMMAND: %s",
		    strerror(exec_errno));
	else if (code > 128)
		snprintf(buf, size, "killed by signal %d", code - 128);
	else
		snprintf(buf, size, "exit status %d", code);
}

int
rstream_run_loop(struct rstream *s, char *const argv[], int delim,
    long long count, long long max_attempts,
    void (*note)(void *arg, const char *line), void *arg)
{
	char why[256], line[2048];
	struct rstream_msg m;
	long long n = 0;
	int st, ws, code = 0, ee;

	while (count < 0 || n < count) {
		if ((st = rstream_take(s, &m, -1)) < 0)
			return -1;
		if (st == 0)
			continue;
		if (m.attempt > max_attempts) {
			snprintf(why, sizeof(why), "delivered %lld times, its "
			    "runners died", m.attempt);
			st = rstream_bury(s, &m, why);
			rstream_msg_free(&m);
			if (st < 0)
				return -1;
			n++;
			continue;
		}
		ee = 0;
		if (rstream_run(s, &m, argv, delim, &ws) < 0) {
			ee = errno;
			code = spawn_exec_status(ee);
		} else {
			code = spawn_wait_status(ws);
		}
		if (code == 0) {
			st = rstream_ack(s, &m);
		} else {
			describe(code, ee, why, sizeof(why));
			if (note != NULL) {
				snprintf(line, sizeof(line), "%s: %s: %s "
				    "(attempt %lld of %lld)", s->r.addr.text,
				    m.id, why, m.attempt, max_attempts);
				note(arg, line);
			}
			st = m.attempt >= max_attempts ?
			    rstream_bury(s, &m, why) : rstream_release(s, &m);
		}
		rstream_msg_free(&m);
		if (st < 0)
			return -1;
		n++;
	}
	return code;
}

/* c->warn "ADDR: REASON[ (SUFFIX)]"; returns status. */
static int
fail(struct rstream *s, const struct rstream_cmd *c, int status,
    const char *suffix)
{
	char text[2048];

	snprintf(text, sizeof(text), "%s: %s%s", s->r.addr.text, s->r.err,
	    suffix);
	if (c->warn != NULL)
		c->warn(c->arg, 0, text);
	return status;
}

static int
dead_record(void *arg, const char *data, size_t len, const char *attempts,
    const char *reason)
{
	const struct rstream_cmd *c = arg;

	(void)attempts;
	(void)reason;
	if (c == NULL)
		return 0;
	if (out_record(c->out, data, len, c->delim) < 0) {
		if (c->warn != NULL)
			c->warn(c->arg, errno, "write");
		return -1;
	}
	if (out_dead(c->out)) {
		errno = EPIPE;
		return -1;
	}
	return 0;
}

static int
push_args(struct rstream *s, const struct rstream_cmd *c)
{
	char text[128];
	size_t *lens;
	int i;

	if ((lens = calloc((size_t)c->nargs, sizeof(*lens))) == NULL) {
		if (c->warn != NULL)
			c->warn(c->arg, errno, "calloc");
		return 1;
	}
	for (i = 0; i < c->nargs; i++)
		if ((lens[i] = strlen(c->args[i])) > c->max) {
			snprintf(text, sizeof(text), "message of %zu bytes is "
			    "over the limit of %llu", lens[i],
			    (unsigned long long)c->max);
			if (c->warn != NULL)
				c->warn(c->arg, 0, text);
			free(lens);
			return 1;
		}
	i = rstream_push(s, (size_t)c->nargs, c->args, lens, NULL) < 0;
	free(lens);
	return i ? fail(s, c, 1, "") : 0;
}

static int
push_input(struct rstream *s, const struct rstream_cmd *c)
{
	long long toolong, done;
	char text[128];

	if (rstream_push_fd(s, STDIN_FILENO, c->delim, c->max, &toolong,
	    &done) < 0) {
		snprintf(text, sizeof(text), " (%lld pushed)", done);
		return fail(s, c, 1, text);
	}
	if (toolong > 0 && c->warn != NULL) {
		snprintf(text, sizeof(text), "%lld messages over the limit "
		    "of %llu bytes not pushed", toolong,
		    (unsigned long long)c->max);
		c->warn(c->arg, 0, text);
	}
	return toolong > 0;
}

static int
stat_print(struct rstream *s, const struct rstream_cmd *c)
{
	struct rstream_stat st;

	if (rstream_stat(s, &st) < 0)
		return fail(s, c, 1, "");
	if (strcmp(c->name, "len") == 0) {
		printf("%lld\n", st.length);
		return 0;
	}
	printf("name length bytes oldest-age inflight dead\n%s %lld %lld ",
	    s->r.addr.text, st.length, st.bytes);
	if (st.oldest_ms < 0)
		printf("- ");
	else
		printf("%lld ", st.oldest_ms / 1000);
	printf("%lld %lld\n", st.inflight, st.dead);
	return 0;
}

static void
run_note(void *arg, const char *line)
{
	const struct rstream_cmd *c = arg;

	if (c->notice != NULL)
		c->notice(c->arg, line);
}

int
rstream_command(struct rstream *s, const struct rstream_cmd *c)
{
	int run = strcmp(c->name, "run") == 0, st = 0;
	long long n;

	if (rstream_connect(s) < 0)
		return fail(s, c, run ? 125 : 1, "");
	if (strcmp(c->name, "push") == 0) {
		st = c->nargs > 0 ? push_args(s, c) : push_input(s, c);
	} else if (strcmp(c->name, "pop") == 0) {
		n = rstream_pop_fd(s, c->out->fd, c->delim, c->count, c->wait);
		if (n < 0 && errno != EPIPE)
			st = fail(s, c, 1, "");
		else
			st = n == 0;
	} else if (run) {
		st = rstream_run_loop(s, c->args, c->delim, c->count,
		    c->max_attempts, run_note, (void *)c);
		if (st < 0)
			st = fail(s, c, 125, "");
		else if (c->count != 1)
			st = 0;
	} else if (strcmp(c->name, "stat") == 0 ||
	    strcmp(c->name, "len") == 0) {
		st = stat_print(s, c);
	} else if (strcmp(c->name, "purge") == 0) {
		if (rstream_purge(s) < 0)
			st = fail(s, c, 1, "");
	} else if (rstream_dead(s, c->requeue, dead_record,
	    c->requeue ? NULL : (void *)c) < 0 && errno != EPIPE) {
		st = fail(s, c, 1, "");
	}
	rstream_close(s);
	return st;
}
