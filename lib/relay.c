/*
 * relay: the engine of pqueue run --stream (see relay.h for the
 * contract). The window is a ring of leases in lease order; bytes
 * queued for the filter are counted from its start, so each lease knows
 * where its record begins and ends in the stream: a record of which no
 * byte was written was never attempted, and on a stop the record being
 * written is finished before the filter's stdin is closed (a record cut
 * short would be taken whole by the filter: a wrong reply, stored).
 *
 * The n-th reply belongs to the n-th record written: replies are read
 * in rounds (one read), and a round's replies are stored all at once
 * (one push, or one write) before their leases are removed, so a death
 * anywhere leaves each message either answered or leased.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "io.h"
#include "loop.h"
#include "relay.h"
#include "spawn.h"
#include "store.h"

#define TAIL_MAX	4096		/* filter stderr kept for a note */
#define BACKOFF_MIN	(100 * NS_PER_MS)
#define BACKOFF_MAX	(5 * NS_PER_SEC)
#define KILL_AFTER	(2 * NS_PER_SEC)	/* TERM, then KILL */
#define POLL_EVERY	(10 * NS_PER_MS)	/* without a store watch */

struct slot {
	struct store_lease l;
	uint64_t start, end;	/* its record's bytes in the stream */
};

struct relay {
	const struct relay_conf *c;
	struct store *s;
	struct slot *win;
	size_t cap, head, n, limit;
	struct buf out;		/* bytes for the filter's stdin */
	uint64_t wrote, queued;	/* stream offsets */
	struct io_records in;	/* the filter's replies */
	struct store_batch batch;
	struct buf replies;	/* a round's replies for c->out */
	pid_t pid;		/* the filter, 0 none */
	int fin, fout, ferr;	/* our ends of its pipes, -1 closed */
	int child;		/* SIGCHLD came */
	int woke;		/* watch or timer */
	int empty;		/* the queue had nothing for us */
	int ending;		/* the filter's input is to end */
	int stopping;		/* because a stop came */
	int64_t deadline;	/* stopping: replies waited for until */
	int64_t restart_at;	/* no filter: start one then */
	int64_t backoff;
	int64_t kill_at;	/* TERM sent: KILL then (0 none) */
	int started;		/* a filter has run once */
	const char *why;	/* why we stopped the filter, NULL none */
	int sent;		/* the last signal we sent it, 0 none */
	size_t tail_len;
	char tail[TAIL_MAX];
};

static void say(struct relay *r, int level, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
say(struct relay *r, int level, int errnum, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (r->c->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	r->c->report(r->c->arg, level, errnum, text);
}

int64_t
relay_retry_wait(int64_t delay, int64_t max, uint32_t attempt)
{
	int64_t d = delay;
	uint32_t i;

	if (d <= 0)
		return 0;
	for (i = 1; i < attempt && d < max; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	if (d > max)
		d = max;
	return d - d / 10 + (int64_t)((double)(d / 5) *
	    ((double)random() / RAND_MAX));
}

static struct slot *
slot_at(struct relay *r, size_t i)
{
	return &r->win[(r->head + i) % r->cap];
}

static void
slot_drop(struct relay *r)
{
	r->head = (r->head + 1) % r->cap;
	r->n--;
}

/* ---- the filter's stderr, relayed and its tail kept ---- */

static void
tail_add(struct relay *r, const char *b, size_t n)
{
	buf_tail_add(r->tail, &r->tail_len, TAIL_MAX, b, n);
}

static void
err_read(struct relay *r)
{
	char b[4096];
	ssize_t n;

	if (r->ferr < 0)
		return;
	while ((n = read(r->ferr, b, sizeof(b))) > 0) {
		(void)io_write_all(STDERR_FILENO, b, (size_t)n);
		tail_add(r, b, (size_t)n);
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		loop_fd(r->c->loop, r->ferr, 0, NULL, NULL);
		close(r->ferr);
		r->ferr = -1;
	}
}

/* ---- settling a message ---- */

/* The record of slot sl was lost with the filter (wait status ws) or
 * its reply was refused (why): retry it later, or dead-letter it. */
static void
slot_fail(struct relay *r, struct slot *sl, int ws, const char *why)
{
	char note[TAIL_MAX + 128], what[160];
	uint32_t a = sl->l.m.attempt;
	int dead = (long long)a >= r->c->max_attempts;
	int64_t wait = dead ? 0 :
	    relay_retry_wait(r->c->retry_delay, r->c->retry_max, a);

	if (why == NULL)
		why = spawn_status_text(ws, what, sizeof(what));
	say(r, STORE_NOTICE, 0, "%s: message %llu attempt %u: the filter %s; "
	    "%s%s", r->c->name, (unsigned long long)sl->l.m.id, a, why,
	    dead ? "moved to the dead-letter list" : "will retry",
	    wait > 0 ? " later" : "");
	if (dead) {
		sl->l.note = note;
		sl->l.notelen = store_note_make(note, sizeof(note),
		    clock_wall(), ws, r->tail, r->tail_len);
	}
	if (wait > 0)
		store_settle_delay(r->s, &sl->l, clock_wall() + wait);
	else
		store_settle(r->s, &sl->l, dead ? STORE_DEAD : STORE_AGAIN);
}

/* Every leased message goes back: those the filter got (a byte of
 * them written) as failed with ws (or why) when lost is set, the rest
 * as they were. The stream starts over. */
static void
window_release(struct relay *r, int lost, int ws, const char *why)
{
	struct slot *sl;

	while (r->n > 0) {
		sl = slot_at(r, 0);
		if (lost && sl->start < r->wrote)
			slot_fail(r, sl, ws, why);
		else
			store_settle(r->s, &sl->l, STORE_ASIS);
		slot_drop(r);
	}
	buf_clear(&r->out);
	r->wrote = r->queued = 0;
}

/* ---- the filter ---- */

static void on_in(struct loop *, int, int, void *);
static void on_out(struct loop *, int, int, void *);
static void on_err(struct loop *, int, int, void *);

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
fd_close(struct relay *r, int *fd)
{
	if (*fd >= 0) {
		loop_fd(r->c->loop, *fd, 0, NULL, NULL);
		close(*fd);
		*fd = -1;
	}
}

/* Start the filter. 0, or -1 with errno (its exec errno). */
static int
filter_start(struct relay *r)
{
	struct spawn_opts so;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int e;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0 || nonblock(in[1]) < 0 ||
	    nonblock(out[0]) < 0 || nonblock(err[0]) < 0)
		goto fail;
	memset(&so, 0, sizeof(so));
	so.in = in[0];
	so.out = out[1];
	so.err = err[1];
	/* If we die, our leases come back to another runner: this
	 * filter must not go on answering beside it. */
	so.pdeathsig = SIGTERM;
	if ((r->pid = spawn_start(r->c->argv, &so)) < 0) {
		r->pid = 0;
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	r->fin = in[1];
	r->fout = out[0];
	r->ferr = err[0];
	r->tail_len = 0;
	r->kill_at = 0;
	r->why = NULL;
	r->sent = 0;
	r->started = 1;
	io_records_free(&r->in);
	io_records_init(&r->in, r->fout, r->c->delim, r->c->max);
	if (loop_fd(r->c->loop, r->fout, LOOP_IN, on_in, r) < 0 ||
	    loop_fd(r->c->loop, r->ferr, LOOP_IN, on_err, r) < 0)
		return -1;
	return 0;
fail:
	e = errno;
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	errno = e;
	return -1;
}

static void
filter_kill(struct relay *r, int sig)
{
	if (r->pid > 0) {
		kill(r->pid, sig);
		r->sent = sig;
		if (sig != SIGKILL && r->kill_at == 0)
			r->kill_at = clock_mono() + KILL_AFTER;
	}
}

/* ---- replies ---- */

/* Store the replies gathered for the first k slots, then remove their
 * leases. 0, or -1 (reported): they stay leased. */
static int
replies_commit(struct relay *r, size_t k)
{
	size_t i;

	if (k == 0)
		return 0;
	if (r->c->to != NULL) {
		if (store_push(r->c->to, &r->batch, r->c->sync) < 0)
			return -1;
		store_batch_reset(&r->batch);
	} else {
		if (io_write_all(r->c->out, r->replies.p + r->replies.off,
		    buf_pending(&r->replies)) < 0) {
			say(r, STORE_ERROR, errno, "write");
			return -1;
		}
		buf_clear(&r->replies);
	}
	for (i = 0; i < k; i++) {
		store_done(r->s, &slot_at(r, 0)->l);
		slot_drop(r);
	}
	return 0;
}

static int
reply_add(struct relay *r, const char *p, size_t len)
{
	char d = (char)r->c->delim;

	if (r->c->to != NULL)
		return store_batch_add(&r->batch, p, len, clock_wall());
	if (buf_add(&r->replies, p, len) < 0 ||
	    buf_add(&r->replies, &d, 1) < 0)
		return -1;
	return 0;
}

/* Read what the filter answered. Returns 0, or -1 when a reply could
 * not be stored (fatal). At EOF the filter is told to go. */
static int
replies_read(struct relay *r)
{
	char *rec, why[96];
	size_t len, k = 0;
	ssize_t got;
	int t;

	if (r->fout < 0)
		return 0;
	for (;;) {
		t = io_records_take(&r->in, &rec, &len);
		if (t == IO_MORE) {
			if (replies_commit(r, k) < 0)
				return -1;
			k = 0;
			got = io_records_fill(&r->in);
			if (got > 0)
				continue;
			if (got < 0 && errno == EAGAIN)
				return 0;
			/* EOF or an error. A last reply without its
			 * delimiter is cut short: never stored. */
			t = IO_EOF;
		}
		if (t == IO_EOF) {
			if (replies_commit(r, k) < 0)
				return -1;
			fd_close(r, &r->fout);
			/* Nothing more can be answered: it must go. */
			if (r->pid > 0 && r->n > 0 && r->why == NULL)
				r->why = "ended its output";
			filter_kill(r, SIGTERM);
			return 0;
		}
		if (k >= r->n || slot_at(r, k)->start >= r->wrote) {
			/* An answer to nothing: the filter does not
			 * keep the protocol; nothing it says is safe. */
			if (replies_commit(r, k) < 0)
				return -1;
			say(r, STORE_WARN, 0, "%s: the filter replied to a "
			    "record it was not given; stopping it",
			    r->c->name);
			fd_close(r, &r->fout);
			if (r->why == NULL)
				r->why = "replied to a record it was not given";
			filter_kill(r, SIGTERM);
			return 0;
		}
		if (t == IO_TOOLONG) {
			if (replies_commit(r, k) < 0)
				return -1;
			k = 0;
			snprintf(why, sizeof(why), "replied with %zu bytes, "
			    "more than %llu", len,
			    (unsigned long long)r->c->max);
			slot_fail(r, slot_at(r, 0), 0, why);
			slot_drop(r);
			continue;
		}
		if (reply_add(r, rec, len) < 0) {
			say(r, STORE_ERROR, errno, "out of memory");
			return -1;
		}
		k++;
		/* It answers: it may have the whole window again. */
		r->limit = r->c->window;
		r->backoff = BACKOFF_MIN;
	}
}

/* ---- feeding ---- */

static void
feed(struct relay *r)
{
	ssize_t n;

	while (r->fin >= 0 && buf_pending(&r->out) > 0) {
		n = write(r->fin, r->out.p + r->out.off, buf_pending(&r->out));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN) {
				/* Its stdin is gone: it cannot answer. */
				fd_close(r, &r->fin);
				if (r->why == NULL)
					r->why = "ended its input";
				filter_kill(r, SIGTERM);
			}
			return;
		}
		r->out.off += (size_t)n;
		r->wrote += (uint64_t)n;
	}
	if (buf_pending(&r->out) == 0)
		buf_clear(&r->out);
}

/* Lease messages into the window while there is room. 0, or -1
 * (EINTR: a stop came during a lock wait). */
static int
fill(struct relay *r)
{
	char d = (char)r->c->delim;
	struct store_msg m;
	struct slot *sl;
	int t;

	while (r->n < r->limit && !r->empty) {
		if ((t = store_take(r->s, &m)) < 0)
			return -1;
		if (t == 0) {
			r->empty = 1;
			break;
		}
		sl = &r->win[(r->head + r->n) % r->cap];
		if (store_lease(r->s, &m, r->c->delim, &sl->l) < 0)
			return -1;
		if ((long long)sl->l.m.attempt > r->c->max_attempts) {
			/* Came back from dead holders once too often. */
			store_settle(r->s, &sl->l, STORE_DEAD);
			continue;
		}
		if (buf_add(&r->out, sl->l.data, sl->l.m.len) < 0 ||
		    buf_add(&r->out, &d, 1) < 0) {
			store_settle(r->s, &sl->l, STORE_ASIS);
			return -1;
		}
		sl->start = r->queued;
		r->queued += sl->l.m.len + 1;
		sl->end = r->queued;
		r->n++;
	}
	store_release(r->s);
	return 0;
}

/* Stop feeding: keep the record being written (so it reaches the
 * filter whole), drop the rest of the bytes (their messages go back
 * unattempted), and end the filter's stdin once that is out. */
static void
feed_end(struct relay *r)
{
	size_t i;
	uint64_t keep = r->wrote;

	for (i = 0; i < r->n; i++)
		if (slot_at(r, i)->start < r->wrote &&
		    slot_at(r, i)->end > keep)
			keep = slot_at(r, i)->end;
	r->out.len -= (size_t)(r->queued - keep);
	r->queued = keep;
	/* The leases of records never to be written go back now. */
	while (r->n > 0 && slot_at(r, r->n - 1)->start >= keep) {
		store_settle(r->s, &slot_at(r, r->n - 1)->l, STORE_ASIS);
		r->n--;
	}
}

/* ---- the wait ---- */

static void
on_in(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	((struct relay *)arg)->woke |= 1;
}

static void
on_out(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	feed(arg);
}

static void
on_err(struct loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	err_read(arg);
}

static void
on_child(struct loop *l, int sig, void *arg)
{
	(void)l;
	(void)sig;
	((struct relay *)arg)->child = 1;
}

static void
on_wake(struct loop *l, void *arg)
{
	(void)l;
	((struct relay *)arg)->woke |= 2;
}

static void
on_watch(struct loop *l, int fd, int events, void *arg)
{
	struct relay *r = arg;

	(void)l;
	(void)fd;
	(void)events;
	store_watch_drain(r->s);
	r->empty = 0;
}

static int64_t
earliest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* One wait for the filter, the queue, the timers or a stop. */
static int
wait_once(struct relay *r)
{
	int64_t when = -1, now = clock_mono(), due;
	long tid = 0;
	int watch = -1, e;

	if (r->fin >= 0 && loop_fd(r->c->loop, r->fin, buf_pending(&r->out) ?
	    LOOP_OUT : 0, on_out, r) < 0)
		return -1;
	if (r->pid == 0 && !r->ending)
		when = r->restart_at;
	if (r->kill_at > 0)
		when = earliest(when, r->kill_at);
	if (r->stopping)
		when = earliest(when, r->deadline);
	if (r->empty && r->c->forever && !r->ending && r->pid > 0 &&
	    r->n < r->limit) {
		if ((watch = store_watch(r->s)) < 0)
			when = earliest(when, now + POLL_EVERY);
		else if (loop_fd(r->c->loop, watch, LOOP_IN, on_watch, r) < 0)
			return -1;
		if ((due = store_next_due(r->s)) >= 0) {
			due -= clock_wall();
			when = earliest(when, now + (due > 0 ? due : 0));
		}
		if (watch < 0 || due >= 0)
			r->empty = 0;	/* look again when woken */
	}
	if (when >= 0 && (tid = loop_timer(r->c->loop, when, on_wake, r)) < 0)
		return -1;
	r->woke = 0;
	e = loop_once(r->c->loop);
	if (tid > 0)
		loop_timer_cancel(r->c->loop, tid);
	if (watch >= 0)
		loop_fd(r->c->loop, watch, 0, NULL, NULL);
	return e;
}

/* Reap the filter if it ended: its lost records go back. */
static void
reap(struct relay *r)
{
	int ws;
	pid_t p;

	r->child = 0;
	if (r->pid <= 0)
		return;
	while ((p = waitpid(r->pid, &ws, WNOHANG)) < 0 && errno == EINTR)
		;
	if (p != r->pid)
		return;
	r->pid = 0;
	/* What it said before it went: answers first, then its stderr
	 * (a grandchild may hold the pipes: take what is there). */
	(void)replies_read(r);
	err_read(r);
	fd_close(r, &r->fin);
	fd_close(r, &r->fout);
	fd_close(r, &r->ferr);
	if (r->n > 0) {
		char what[160];

		if (!r->stopping)
			r->ending = 0;	/* drained before: not any more */

		/* Our TERM after it misbehaved: say what it did. */
		const char *why = r->why && WIFSIGNALED(ws) &&
		    WTERMSIG(ws) == r->sent ? r->why : NULL;

		say(r, STORE_WARN, 0, "%s: the filter %s with %zu records "
		    "unanswered", r->c->name, why ? why :
		    spawn_status_text(ws, what, sizeof(what)), r->n);
		window_release(r, 1, ws, why);
	} else {
		buf_clear(&r->out);
		r->wrote = r->queued = 0;
	}
	r->restart_at = clock_mono() + r->backoff;
	r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
	    r->backoff * 2;
	r->limit = 1;
	r->empty = 0;
	r->kill_at = 0;
}

/* ---- the run ---- */

/* End the filter's input: on a stop (its replies are waited for until
 * grace is out), or once the queue is drained (for as long as it takes;
 * a death meanwhile starts the stream again). */
static void
input_end(struct relay *r, int stop)
{
	if (stop) {
		r->stopping = 1;
		r->deadline = clock_mono() + r->c->grace;
	}
	if (!r->ending)
		feed_end(r);
	r->ending = 1;
}

/* One round: start the filter, lease, feed, read, reap. 1 to go on, 0
 * done, -1 failed. */
static int
round_once(struct relay *r)
{
	if (*r->c->stop && !r->stopping)
		input_end(r, 1);
	if (r->child)
		reap(r);
	if (r->pid == 0 && !r->ending && clock_mono() >= r->restart_at) {
		if (filter_start(r) < 0) {
			if (!r->started)
				return -1;
			say(r, STORE_WARN, errno, "cannot start the filter");
			r->restart_at = clock_mono() + r->backoff;
			r->backoff = r->backoff * 2 > BACKOFF_MAX ?
			    BACKOFF_MAX : r->backoff * 2;
		}
	}
	if (r->pid > 0 && r->fin >= 0 && !r->ending && fill(r) < 0) {
		if (errno != EINTR)
			return -1;
		input_end(r, 1);
	}
	if (!r->c->forever && !r->ending && r->empty && r->n == 0)
		input_end(r, 0);	/* drained: end its input */
	feed(r);
	if (r->ending && r->fin >= 0 && buf_pending(&r->out) == 0)
		fd_close(r, &r->fin);
	if ((r->woke & 1) && replies_read(r) < 0)
		return -1;
	if (r->ending && r->n == 0 && r->pid == 0)
		return 0;
	if (r->stopping && clock_mono() >= r->deadline && r->pid > 0 &&
	    r->kill_at == 0)
		filter_kill(r, SIGTERM);
	if (r->kill_at > 0 && clock_mono() >= r->kill_at && r->pid > 0)
		filter_kill(r, SIGKILL);
	return 1;
}

int
relay_run(struct store *s, const struct relay_conf *c)
{
	struct relay r;
	struct sigaction ign, old;
	int st, e = 0;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.s = s;
	r.fin = r.fout = r.ferr = -1;
	r.cap = r.limit = c->window;
	r.backoff = BACKOFF_MIN;
	io_records_init(&r.in, -1, c->delim, c->max);
	if ((r.win = calloc(r.cap, sizeof(*r.win))) == NULL) {
		say(&r, STORE_ERROR, errno, "out of memory");
		return -1;
	}
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	srandom((unsigned)(getpid() ^ clock_mono()));
	if (loop_signal(c->loop, SIGCHLD, on_child, &r) < 0) {
		e = errno;
		st = -1;
		goto out;
	}
	r.woke = 1;
	while ((st = round_once(&r)) > 0) {
		if (wait_once(&r) < 0) {
			st = -1;
			break;
		}
	}
	e = errno;
	if (st < 0 && !r.started)
		;	/* the caller says why it could not run */
	else if (st < 0)
		say(&r, STORE_ERROR, e, "%s: stopping", c->name);
	window_release(&r, 0, 0, NULL);
	if (r.pid > 0) {
		/* Going because we failed: it must not outlive us. */
		fd_close(&r, &r.fin);
		kill(r.pid, SIGKILL);
		while (waitpid(r.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	fd_close(&r, &r.fin);
	fd_close(&r, &r.fout);
	fd_close(&r, &r.ferr);
	loop_signal(c->loop, SIGCHLD, NULL, NULL);
out:
	sigaction(SIGPIPE, &old, NULL);
	io_records_free(&r.in);
	store_batch_free(&r.batch);
	buf_free(&r.replies);
	buf_free(&r.out);
	free(r.win);
	errno = e;
	return st < 0 ? -1 : 0;
}
