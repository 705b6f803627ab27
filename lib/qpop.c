/* qpop: pqueue's pop and run on a local queue, and their waits (see
 * qpop.h). */
#define _GNU_SOURCE		/* F_GETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "io.h"
#include "qpop.h"
#include "spawn.h"

#define POLL_EVERY	(10 * NS_PER_MS)	/* without a watch */
#define POP_BATCH	(64 * 1024)	/* bytes written at once, at most */
#define POP_BATCH_MAX	1024		/* messages written at once */

static const int stop_sigs[] = { SIGTERM, SIGINT, SIGHUP };

static void say(struct qpop *q, int level, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One line through q->report. */
static void
say(struct qpop *q, int level, int errnum, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (q->report != NULL)
		q->report(q->arg, level, errnum, text);
}

/* A wait could not go on: said once; the caller stops. */
static void
wait_failed(struct qpop *q)
{
	if (!q->failed)
		say(q, STORE_WARN, errno, "loop");
	q->failed = q->stop = 1;
}

int
qpop_stop_pending(struct qpop *q)
{
	sigset_t set;
	int sig;

	if (q->stop || q->loop == NULL || sigpending(&set) < 0)
		return q->stop;
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&q->stops, sig) == 1 &&
		    sigismember(&set, sig) == 1)
			return q->stop = 1;
	return 0;
}

/* ---- the loop: stop signals, the watch, timers ---- */

static void
on_stop(struct loop *l, int sig, void *arg)
{
	struct qpop *q = arg;

	(void)l;
	(void)sig;
	q->stop = 1;
}

static void
on_watch(struct loop *l, int fd, int events, void *arg)
{
	struct qpop *q = arg;

	(void)l;
	(void)fd;
	(void)events;
	q->woke = 1;
}

/* stdout, watched for errors while pop waits for a message: a reader
 * that has gone shows as POLLERR (pipe) or POLLHUP (socket). Anything
 * else (a socket's peer half-closed) ends the watch. */
static void
on_out_error(struct loop *l, int fd, int events, void *arg)
{
	struct qpop *q = arg;

	(void)events;
	if (out_gone(q->out))
		q->gone = 1;
	else
		loop_fd(l, fd, 0, NULL, NULL);
}

static int
out_watch_errors(struct qpop *q)
{
	if (q->loop != NULL && out_pollable(q->out) &&
	    loop_fd(q->loop, STDOUT_FILENO, LOOP_IN, on_out_error, q) < 0) {
		q->why = "loop";
		return -1;
	}
	return 0;
}

static void
on_timer(struct loop *l, void *arg)
{
	(void)l;
	*(int *)arg = 1;
}

int
qpop_init(struct qpop *q)
{
	size_t i;

	if ((q->loop = loop_new()) == NULL) {
		q->why = "loop";
		return -1;
	}
	for (i = 0; i < sizeof(stop_sigs) / sizeof(stop_sigs[0]); i++) {
		if (loop_signal(q->loop, stop_sigs[i], on_stop, q) < 0) {
			q->why = "signals";
			return -1;
		}
		sigaddset(&q->stops, stop_sigs[i]);
	}
	return 0;
}

int
qpop_watch(struct qpop *q, struct store *s, int nowait, int pop)
{
	q->why = "loop";
	if (!nowait && store_watch(s) >= 0 && loop_fd(q->loop,
	    store_watch(s), LOOP_IN, on_watch, q) < 0)
		return -1;
	return pop ? out_watch_errors(q) : 0;
}

void
qpop_free(struct qpop *q)
{
	if (q->loop != NULL)
		loop_free(q->loop);
	q->loop = NULL;
}

/* Wait until the store may have changed, a stop, or deadline (monotonic
 * ns, -1 none). Returns 0 to look again, -1 to give up. */
static int
wait_store(struct qpop *q, struct store *s, int64_t deadline)
{
	long tid = 0, pid = 0, did = 0;
	int64_t due = store_next_due(s), now = clock_wall();

	q->woke = q->timedout = 0;
	/* The first delayed message, once due, is a message to look for. */
	if ((due >= 0 && (did = loop_timer(q->loop, clock_mono() +
	    (due > now ? due - now : 0), on_timer, &q->woke)) < 0) ||
	    (deadline >= 0 && (tid = loop_timer(q->loop, deadline, on_timer,
	    &q->timedout)) < 0) ||
	    (store_watch(s) < 0 && (pid = loop_timer(q->loop, clock_mono() +
	    POLL_EVERY, on_timer, &q->woke)) < 0))
		wait_failed(q);
	while (!q->woke && !q->stop && !q->timedout && !q->gone)
		if (loop_once(q->loop) < 0)
			wait_failed(q);
	if (tid > 0)
		loop_timer_cancel(q->loop, tid);
	if (pid > 0)
		loop_timer_cancel(q->loop, pid);
	if (did > 0)
		loop_timer_cancel(q->loop, did);
	store_watch_drain(s);
	return q->woke && !q->stop && !q->gone ? 0 : -1;
}

/* ---- pop ---- */

/* One message to stdout. 0 once written, else -1: errno EPIPE when the
 * reader has gone (quietly), else said. */
static int
out_message(struct qpop *q, const char *data, size_t len)
{
	if (out_record(q->out, data, len, q->delim) < 0) {
		say(q, STORE_WARN, errno, "write");
		return -1;
	}
	if (out_dead(q->out)) {
		errno = EPIPE;
		return -1;
	}
	return 0;
}

/* Wait for room on stdout, or a stop. */
static void
out_wait(struct qpop *q)
{
	int ready;

	q->woke = 0;
	if (loop_fd(q->loop, STDOUT_FILENO, LOOP_OUT, on_watch, q) < 0)
		wait_failed(q);
	while (!q->woke && !q->stop)
		if (loop_once(q->loop) < 0)
			wait_failed(q);
	ready = q->woke;
	loop_fd(q->loop, STDOUT_FILENO, 0, NULL, NULL);
	if (out_watch_errors(q) < 0)
		wait_failed(q);
	out_ready(q->out);
	q->woke = ready;
}

/* How many bytes stdout takes now without blocking, at most POP_BATCH:
 * all of it for a file; for a pipe its free room (its size less what it
 * holds, less two pages that partly used buffers may waste); 0 for
 * anything else (a socket or tty: one message at a time). */
static size_t
pop_room(struct qpop *q)
{
	int size, held;
	size_t room;

	if (q->out->room == 0)
		return POP_BATCH;
	if (!q->batch_pipe || (size = fcntl(STDOUT_FILENO, F_GETPIPE_SZ)) < 0 ||
	    ioctl(STDOUT_FILENO, FIONREAD, &held) < 0 || held < 0) {
		q->batch_pipe = 0;	/* not a pipe: no more asking */
		return 0;
	}
	if (size - held <= 2 * 4096)
		return 0;
	room = (size_t)(size - held - 2 * 4096);
	return room < POP_BATCH ? room : POP_BATCH;
}

/* Write the batch b of n messages m[] (each with its delimiter) and
 * acknowledge every message that went out whole (HEAD held): the head
 * is committed once, past the last of them. Returns how many, or -1
 * (after acknowledging those) when the write failed: errno EPIPE when
 * the reader has gone (quietly), else said. */
static long long
pop_flush(struct qpop *q, struct store *s, const struct buf *b,
    const struct store_msg *m, int n)
{
	size_t off = 0, end = 0;
	ssize_t w = 0;
	int i, e;

	while (off < b->len) {
		w = io_write_some(STDOUT_FILENO, b->p + off, b->len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	e = w == 0 ? EIO : errno;
	for (i = 0; i < n && end + m[i].len + 1 <= off; i++)
		end += m[i].len + 1;
	if (i > 0)
		store_ack(s, &m[i - 1]);
	q->out->since = q->out->room;	/* ask poll before the next record */
	if (off == b->len)
		return i;
	if (e != EPIPE)
		say(q, STORE_WARN, 0, "write: %s", strerror(e));
	errno = e;
	return -1;
}

/* Batched: the messages available now, up to POP_BATCH bytes (what the
 * pipe takes without blocking) and POP_BATCH_MAX messages and no more
 * than the count asks for, go out in one write and the head is then
 * committed once. A message too big for that, or output that could
 * block, goes one at a time. */
int
qpop_pop(struct qpop *q, struct store *s, const struct qpop_opts *o)
{
	struct store_msg m, *bm;
	struct buf b = { 0 };
	long long done = 0, k;
	int64_t deadline = -2;	/* -2: not yet set for this message */
	size_t room;
	char delim = (char)q->delim;
	int r, n, looks = 0;

	if ((bm = malloc(POP_BATCH_MAX * sizeof(*bm))) == NULL) {
		say(q, STORE_WARN, 0, "out of memory");
		return 1;
	}
	q->batch_pipe = 1;
	/* A stop while streaming is looked for every 64 messages or
	 * batches: a syscall per message would cost a tenth of the
	 * throughput. */
	while (!((looks++ & 63) == 0 && qpop_stop_pending(q))) {
		if ((r = store_take(s, &m)) < 0) {
			r = errno == EINTR ? (o->forever ? 0 : 1) : 1;
			goto out;
		}
		if (r == 0) {
			/* -w bounds the wait for each message, however
			 * many wake-ups without one come meanwhile. */
			if (deadline == -2)
				deadline = o->timeout >= 0 ?
				    clock_mono() + o->timeout : -1;
			if (o->nowait || wait_store(q, s, deadline) < 0)
				break;
			continue;
		}
		deadline = -2;
		if ((room = pop_room(q)) > m.len && o->count - done != 1) {
			buf_clear(&b);
			n = 0;
			do {
				if (buf_add(&b, m.data, m.len) < 0 ||
				    buf_add(&b, &delim, 1) < 0) {
					say(q, STORE_WARN, 0, "out of memory");
					r = 1;
					goto out;
				}
				bm[n++] = m;
				if (n == POP_BATCH_MAX || done + n == o->count)
					break;
				r = store_take_next(s, &bm[n - 1], &m);
			} while (r == 1 && b.len + m.len < room);
			if ((k = pop_flush(q, s, &b, bm, n)) < 0) {
				r = errno == EPIPE ? 0 : 1;
				goto out;
			}
			done += k;
			if (r < 0) {
				r = 1;	/* a read error, said */
				goto out;
			}
			looks |= 63;	/* look for a stop after each batch */
			if (done == o->count)
				break;
			continue;
		}
		if (out_blocked(q->out, m.len)) {
			/* Never sit on HEAD while our reader is slow. */
			store_release(s);
			out_wait(q);
			continue;
		}
		if (out_message(q, m.data, m.len) < 0) {
			r = errno == EPIPE ? 0 : 1;
			goto out;
		}
		store_ack(s, &m);
		if (++done == o->count)
			break;
	}
	r = done > 0 || q->gone || (q->stop && o->forever) ? 0 : 1;
out:
	store_release(s);
	buf_free(&b);
	free(bm);
	return q->failed ? 1 : r;
}

/* ---- run ---- */

static void
on_child(struct loop *l, int sig, void *arg)
{
	(void)l;
	(void)sig;
	(void)arg;	/* waitpid, after loop_once, looks */
}

/* One failed attempt of message l: notice it, then put it back, later
 * or at once, or (its last attempt) into the dead letters with a note
 * of how it ended (ws) and its stderr's tail. */
static void
run_failed(struct qpop *q, struct store *s, const char *name,
    const struct qpop_opts *o, char **argv, struct store_lease *l, int ws)
{
	char note[QRUN_TAIL + 64];
	int dead = (long long)l->m.attempt >= o->max_attempts;
	int64_t wait = dead ? 0 : qrun_retry_wait(o->retry_delay,
	    o->retry_max, l->m.attempt);
	unsigned long long id = (unsigned long long)l->m.id;

	say(q, STORE_NOTICE, 0, "%s: message %llu attempt %u: '%s' exited "
	    "with status %d; %s%s", name, id, l->m.attempt, argv[0],
	    spawn_wait_status(ws), dead ? "moved to the dead-letter list" :
	    "will retry", wait > 0 ? " later" : "");
	if (dead) {
		l->note = note;
		l->notelen = store_note_make(note, sizeof(note), clock_wall(),
		    ws, q->run.tail, q->run.tail_len);
	}
	if (wait > 0)
		store_settle_delay(s, l, clock_wall() + wait);
	else if (store_settle(s, l, dead ? STORE_DEAD : STORE_AGAIN) < 0)
		say(q, STORE_WARN, 0, "%s: message %llu stays leased; it comes "
		    "back once the queue can take it", name, id);
}

int
qpop_run(struct qpop *q, struct store *s, const char *name,
    const struct qpop_opts *o, char **argv)
{
	struct store_lease l;
	struct store_msg m;
	long long done = 0;
	int r, ws, last = 0;

	srandom((unsigned)(getpid() ^ clock_mono()));
	if (loop_signal(q->loop, SIGCHLD, on_child, q) < 0) {
		say(q, STORE_WARN, errno, "signals");
		return 1;
	}
	q->run.loop = q->loop;
	while (!qpop_stop_pending(q) && (o->forever || done < o->count)) {
		if ((r = store_take(s, &m)) < 0)
			return errno == EINTR ? 0 : 1;
		if (r == 0) {
			if (wait_store(q, s, -1) < 0)
				break;	/* stopping */
			continue;
		}
		if (store_lease(s, &m, q->delim, &l) < 0)
			return 125;	/* said */
		done++;
		if ((long long)l.m.attempt > o->max_attempts) {
			/* Came back from dead holders once too often. */
			store_settle(s, &l, STORE_DEAD);
			continue;
		}
		/* The lease fd itself becomes COMMAND's stdin: opening and
		 * closing a second fd to the lease would drop our record
		 * lock on it (POSIX locks go with any close). */
		if (qrun_one(&q->run, argv, name, l.m.id, l.m.attempt, l.fd,
		    &ws) < 0) {
			if (ws < 0) {
				say(q, STORE_WARN, errno, "%s", q->run.failed);
				return 125;
			}
			/* COMMAND cannot run at all: not the message's
			 * fault, so it goes back as it was. */
			say(q, STORE_WARN, ws == 127 ? ENOENT : EACCES,
			    "cannot run '%s'", argv[0]);
			store_settle(s, &l, STORE_ASIS);
			return ws;
		}
		if ((last = spawn_wait_status(ws)) == 0)
			store_done(s, &l);
		else
			run_failed(q, s, name, o, argv, &l, ws);
	}
	if (q->failed)
		return 1;
	return done == 1 && !o->forever ? last : 0;
}
