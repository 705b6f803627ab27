/* dispatch: records to workers, their lines to one output (see
 * dispatch.h). */
#define _GNU_SOURCE		/* memrchr, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "dispatch.h"
#include "io.h"

#define FEED_MAX	(64 * 1024)	/* bytes queued here per worker */
#define READ_CHUNK	(64 * 1024)
#define CHUNK_MAX	(32 * 1024)	/* a run of records to one worker */
#define BUF_KEEP	(16 * 1024)	/* idle buffers shrink to this */

struct rec {
	struct rec *next;
	uint64_t seq;
	int tries;		/* times handed to a worker */
	size_t len;		/* without the delimiter */
	char data[];		/* len bytes, then the delimiter */
};

struct recq {
	struct rec *head, *tail;
	size_t n;
};

struct dispatch_worker {
	struct dispatch_worker *next;	/* live list, then the graveyard */
	struct dispatch *d;
	int slot;
	pid_t pid;
	void *token;
	int attached;		/* started: may take records */
	int dead;		/* ended: queued callbacks must ignore it */
	int closing;		/* close its stdin once the buffer is out */
	int skip_line;		/* keep: dropping the rest of a long reply */
	int in, out;		/* our ends of its stdin, stdout; or -1 */
	int cin, cout;		/* its ends, until started */
	int in_events;
	struct buf ib, ob;
	struct recq sent;	/* reply: handed out, not answered */
	unsigned long given, maxreq;
};

struct kent {			/* keep: a reply waiting for its turn */
	char *p;
	size_t len;
	int done;
};

struct dispatch {
	struct loop *loop;
	struct dispatch_conf c;
	struct dispatch_ops ops;
	struct dispatch_worker *live, *grave;
	struct dispatch_worker **cur;	/* by slot: the one taking records */
	int ncur;
	int rr;
	int stopping, nomem;
	struct io_records rd;	/* reply: the input's records */
	int need_fill, input_done, in_events;
	struct buf spill;	/* stream: unsent records of dead workers */
	struct buf inb;		/* stream: read, not handed out */
	int in_eof;
	size_t skip;		/* stream: see io_skip */
	struct recq pending;	/* reply: records waiting for a worker */
	size_t outstanding;
	uint64_t seq_next, seq_emit;
	struct kent *ring;
	size_t ring_size;
	struct dispatch_worker *owner;	/* holds the output mid-line */
	struct dispatch_worker *owner_was;
	uint64_t rnd;
};

static void worker_read(struct dispatch *, struct dispatch_worker *, int);

static void
event(struct dispatch *d, enum dispatch_event_type type,
    const struct dispatch_worker *w, int fail)
{
	struct dispatch_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.slot = w ? w->slot : -1;
	e.pid = w ? w->pid : 0;
	e.fail = fail;
	if (d->ops.event)
		d->ops.event(d->ops.arg, &e);
}

static void
event_rec(struct dispatch *d, enum dispatch_event_type type,
    const struct dispatch_worker *w, const struct rec *r, int fail)
{
	struct dispatch_event e;
	char t[80];
	size_t i, n = r->len < 60 ? r->len : 60;

	/* At most 60 bytes of the record, control bytes as '?'. */
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)r->data[i];
		t[i] = ch < 32 || ch == 127 ? '?' : (char)ch;
	}
	t[n] = '\0';
	if (n < r->len)
		strcpy(t + n, "...");
	memset(&e, 0, sizeof(e));
	e.type = type;
	e.slot = w->slot;
	e.pid = w->pid;
	e.text = t;
	e.tries = r->tries;
	e.fail = fail;
	if (d->ops.event)
		d->ops.event(d->ops.arg, &e);
}

static void
event_len(struct dispatch *d, enum dispatch_event_type type,
    const struct dispatch_worker *w, size_t len, size_t max, int fail)
{
	struct dispatch_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.slot = w ? w->slot : -1;
	e.pid = w ? w->pid : 0;
	e.len = len;
	e.max = max;
	e.fail = fail;
	if (d->ops.event)
		d->ops.event(d->ops.arg, &e);
}

static void
event_err(struct dispatch *d, enum dispatch_event_type type, int err)
{
	struct dispatch_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.slot = -1;
	e.err = err;
	e.fail = 1;
	if (d->ops.event)
		d->ops.event(d->ops.arg, &e);
}

static uint64_t
rnd_next(struct dispatch *d)
{
	d->rnd ^= d->rnd << 13;
	d->rnd ^= d->rnd >> 7;
	d->rnd ^= d->rnd << 17;
	return d->rnd;
}

static void
add(struct dispatch *d, struct buf *b, const void *p, size_t n)
{
	if (buf_add(b, p, n) < 0)
		d->nomem = 1;
}

static void
emit(struct dispatch *d, const char *s, size_t n)
{
	if (out_add(d->c.out, s, n) < 0)
		event_err(d, DISPATCH_WRITE_ERROR, errno);
}

static void
recq_push(struct recq *q, struct rec *r)
{
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->n++;
}

static struct rec *
recq_pop(struct recq *q)
{
	struct rec *r = q->head;

	if (r == NULL)
		return NULL;
	q->head = r->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	return r;
}

static void
recq_free(struct recq *q)
{
	struct rec *r;

	while ((r = recq_pop(q)) != NULL)
		free(r);
}

/* keep: replies leave in input order. */
static void
ring_emit(struct dispatch *d)
{
	struct kent *e;

	while (d->seq_emit < d->seq_next) {
		e = &d->ring[d->seq_emit % d->ring_size];
		if (!e->done)
			break;
		if (e->p)
			emit(d, e->p, e->len);
		free(e->p);
		memset(e, 0, sizeof(*e));
		d->seq_emit++;
	}
}

static void
ring_put(struct dispatch *d, uint64_t seq, const char *s, size_t n)
{
	struct kent *e = &d->ring[seq % d->ring_size];

	if (s != NULL) {
		if ((e->p = malloc(n)) == NULL)
			d->nomem = 1;
		else {
			memcpy(e->p, s, n);
			e->len = n;
		}
	}
	e->done = 1;
	ring_emit(d);
}

/* ---- worker pipes ---- */

static void on_worker_in(struct loop *, int, int, void *);
static void on_worker_out(struct loop *, int, int, void *);

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

static void
worker_in_watch(struct dispatch *d, struct dispatch_worker *w, int events)
{
	if (w->in < 0 || w->in_events == events)
		return;
	if (loop_fd(d->loop, w->in, events, on_worker_in, w) < 0) {
		/* Not watched: dispatch_tick retries the write each round. */
		w->in_events = 0;
		return;
	}
	w->in_events = events;
}

static void
worker_close_in(struct dispatch *d, struct dispatch_worker *w)
{
	if (w->in < 0)
		return;
	worker_in_watch(d, w, 0);
	close(w->in);
	w->in = -1;
}

static void
worker_unslot(struct dispatch *d, struct dispatch_worker *w)
{
	if (w->slot >= 0 && w->slot < d->ncur && d->cur[w->slot] == w)
		d->cur[w->slot] = NULL;
}

/* Write what is queued for the worker without blocking. */
static void
worker_write(struct dispatch *d, struct dispatch_worker *w)
{
	ssize_t n;

	while (w->in >= 0 && buf_pending(&w->ib) > 0) {
		n = write(w->in, w->ib.p + w->ib.off, buf_pending(&w->ib));
		if (n > 0) {
			w->ib.off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			worker_in_watch(d, w, LOOP_OUT);
			return;
		}
		/* EPIPE: it closed its stdin; what is queued goes elsewhere
		 * once it is reaped. */
		worker_close_in(d, w);
		return;
	}
	if (w->in >= 0) {
		worker_in_watch(d, w, 0);
		buf_shrink(&w->ib, BUF_KEEP);
		if (w->closing)
			worker_close_in(d, w);
	}
}

static void
on_worker_in(struct loop *l, int fd, int events, void *arg)
{
	struct dispatch_worker *w = arg;

	(void)l, (void)fd, (void)events;
	if (!w->dead)
		worker_write(w->d, w);
}

static void
on_worker_out(struct loop *l, int fd, int events, void *arg)
{
	struct dispatch_worker *w = arg;

	(void)l, (void)fd, (void)events;
	if (!w->dead && w->out >= 0)
		worker_read(w->d, w, 0);
}

struct dispatch_worker *
dispatch_worker_new(struct dispatch *d, int *in, int *out)
{
	struct dispatch_worker *w;
	int inp[2], outp[2];

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if (pipe2(inp, O_CLOEXEC) < 0) {
		free(w);
		return NULL;
	}
	if (pipe2(outp, O_CLOEXEC) < 0) {
		int e = errno;

		close(inp[0]);
		close(inp[1]);
		free(w);
		errno = e;
		return NULL;
	}
	w->d = d;
	w->slot = -1;
	w->cin = *in = inp[0];
	w->in = inp[1];
	w->out = outp[0];
	w->cout = *out = outp[1];
	return w;
}

static void
worker_fds_close(struct dispatch_worker *w)
{
	int *fds[] = { &w->in, &w->out, &w->cin, &w->cout };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

void
dispatch_worker_discard(struct dispatch *d, struct dispatch_worker *w)
{
	(void)d;
	worker_fds_close(w);
	free(w);
}

int
dispatch_worker_started(struct dispatch *d, struct dispatch_worker *w,
    int slot, pid_t pid, void *token)
{
	struct dispatch_worker **nc;
	int i;

	close(w->cin);
	close(w->cout);
	w->cin = w->cout = -1;
	w->slot = slot;
	w->pid = pid;
	w->token = token;
	w->next = d->live;
	d->live = w;
	if (slot >= d->ncur) {
		if ((nc = realloc(d->cur, (size_t)(slot + 1) *
		    sizeof(*nc))) == NULL)
			goto fail;
		for (i = d->ncur; i <= slot; i++)
			nc[i] = NULL;
		d->cur = nc;
		d->ncur = slot + 1;
	}
	if (set_nonblock(w->in) < 0 || set_nonblock(w->out) < 0 ||
	    loop_fd(d->loop, w->out, LOOP_IN, on_worker_out, w) < 0)
		goto fail;
	d->cur[slot] = w;
	w->attached = 1;
	if (d->c.maxreq)
		/* Up to 10 % more, so workers do not all recycle at once
		 * (gunicorn #862). */
		w->maxreq = d->c.maxreq + rnd_next(d) %
		    (d->c.maxreq / 10 + 1);
	return 0;
fail:
	/* It gets no records; its stdin is closed so it ends. */
	w->closing = 1;
	worker_close_in(d, w);
	return -1;
}

void
dispatch_worker_close(struct dispatch *d, struct dispatch_worker *w)
{
	w->closing = 1;
	worker_unslot(d, w);
	worker_write(d, w);
}

/* stream: a dead worker's unsent whole records go to the others. */
static void
worker_spill(struct dispatch *d, struct dispatch_worker *w)
{
	char *p = w->ib.p + w->ib.off, *q;
	size_t n = buf_pending(&w->ib);

	if (n == 0 || d->c.reply)
		return;
	if (w->ib.off > 0 && w->ib.p[w->ib.off - 1] != d->c.delim) {
		/* Part of this record reached the worker: its rest is lost. */
		q = memchr(p, d->c.delim, n);
		q = q ? q + 1 : p + n;
		event(d, DISPATCH_DIED_MID_RECORD, w, 1);
		n -= (size_t)(q - p);
		p = q;
	}
	if (n > 0)
		add(d, &d->spill, p, n);
}

/* reply: records a dead worker never answered are handed out again. */
static void
worker_requeue(struct dispatch *d, struct dispatch_worker *w)
{
	struct recq again = { NULL, NULL, 0 };
	struct rec *r;
	int live = !d->stopping && !out_dead(d->c.out);

	while ((r = recq_pop(&w->sent)) != NULL) {
		d->outstanding--;
		if (live && r->tries <= d->c.retry) {
			event_rec(d, DISPATCH_RESEND, w, r, 0);
			recq_push(&again, r);
			continue;
		}
		if (live)
			event_rec(d, DISPATCH_GAVE_UP, w, r, 1);
		if (d->c.keep)
			ring_put(d, r->seq, NULL, 0);
		free(r);
	}
	/* Retries go first, in their original order. */
	if (again.head != NULL) {
		again.tail->next = d->pending.head;
		if (d->pending.head == NULL)
			d->pending.tail = again.tail;
		d->pending.head = again.head;
		d->pending.n += again.n;
	}
}

int
dispatch_worker_ended(struct dispatch *d, struct dispatch_worker *w)
{
	struct dispatch_worker **pp;

	if (w->out >= 0)
		worker_read(d, w, 1);	/* what it wrote before dying */
	worker_spill(d, w);
	worker_requeue(d, w);
	for (pp = &d->live; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->dead = 1;
	if (d->owner == w)
		d->owner = NULL;
	worker_unslot(d, w);
	worker_close_in(d, w);
	if (w->out >= 0)
		(void)loop_fd(d->loop, w->out, 0, NULL, NULL);
	worker_fds_close(w);
	/* Freed after this loop round: callbacks for it may be queued. */
	w->next = d->grave;
	d->grave = w;
	return w->closing;
}

/* ---- dealing records ---- */

/* The worker that should get the next record, or NULL if none can. */
static struct dispatch_worker *
pick_worker(struct dispatch *d)
{
	struct dispatch_worker *w, *best = NULL;
	int k, i;

	for (k = 0; k < d->ncur; k++) {
		i = (d->rr + k) % d->ncur;
		w = d->cur[i];
		if (w == NULL || w->closing || w->in < 0)
			continue;
		if (d->c.reply) {
			if (w->sent.n >= (size_t)d->c.window)
				continue;
			if (best == NULL || w->sent.n < best->sent.n)
				best = w;
			if (w->sent.n == 0)
				break;
		} else if (buf_pending(&w->ib) < FEED_MAX) {
			best = w;
			break;
		}
	}
	return best;
}

/* Count a record given to w; maxreq recycles it. */
static void
worker_count(struct dispatch *d, struct dispatch_worker *w)
{
	struct dispatch_event e;

	d->rr = (w->slot + 1) % d->ncur;
	if (++w->given < w->maxreq || w->maxreq == 0)
		return;
	memset(&e, 0, sizeof(e));
	e.type = DISPATCH_RECYCLE;
	e.slot = w->slot;
	e.pid = w->pid;
	e.count = w->given;
	e.token = w->token;
	if (d->ops.event)
		d->ops.event(d->ops.arg, &e);
	if (d->ops.recycle)
		d->ops.recycle(d->ops.arg, w->token);
}

/* reply: next input record: IO_REC (p, n, without its delimiter),
 * IO_MORE, or IO_EOF. */
static int
next_record(struct dispatch *d, char **p, size_t *n)
{
	int t;

	if (d->input_done)
		return IO_EOF;
	if (d->need_fill)
		return IO_MORE;
	for (;;) {
		t = io_records_take(&d->rd, p, n);
		if (t == IO_TOOLONG) {
			event_len(d, DISPATCH_TOO_LONG, NULL, *n,
			    DISPATCH_REC_MAX, 1);
			continue;
		}
		if (t == IO_MORE)
			d->need_fill = 1;
		if (t == IO_EOF)
			d->input_done = 1;
		return t;
	}
}

/* Give w the n bytes at p (whole records): straight into its pipe when
 * nothing is queued before them, the rest into its buffer. */
static void
worker_give(struct dispatch *d, struct dispatch_worker *w, const char *p,
    size_t n)
{
	ssize_t k = 0;

	if (buf_pending(&w->ib) == 0 && w->in >= 0) {
		while ((k = write(w->in, p, n)) < 0 && errno == EINTR)
			;
		if (k < 0)
			k = 0;	/* EAGAIN, or EPIPE seen by worker_write */
	}
	if ((size_t)k < n)
		add(d, &w->ib, p + k, n - (size_t)k);
}

/* stream: hand out runs of whole records. A run is at most 1/NUM of what
 * is buffered (so a short input still spreads over the workers), at most
 * CHUNK_MAX, and fits the worker's room; with maxreq, one record at a
 * time so it can be counted. A record longer than the room still goes
 * whole. */
static void
feed_stream(struct dispatch *d)
{
	struct dispatch_worker *w;
	struct buf *src;
	char *p, *e, last;
	size_t avail, lim, room, n, len;
	int nw;

	while (!d->nomem) {
		src = buf_pending(&d->spill) > 0 ? &d->spill : &d->inb;
		avail = buf_pending(src);
		p = avail > 0 ? src->p + src->off : NULL;
		if (src == &d->inb && d->skip > 0 && avail > 0) {
			/* The rest of an overlong record. */
			src->off += io_skip(&d->skip, p, avail, d->c.delim,
			    &len);
			if (d->skip == 0)
				event_len(d, DISPATCH_TOO_LONG, NULL, len,
				    DISPATCH_REC_MAX, 1);
			continue;
		}
		if (avail == 0) {
			if (d->in_eof)
				d->input_done = 1;
			else
				d->need_fill = 1;
			/* A burst must not pin its buffers. */
			buf_shrink(&d->inb, READ_CHUNK);
			buf_shrink(&d->spill, 0);
			return;
		}
		if ((w = pick_worker(d)) == NULL)
			return;
		for (nw = 0, n = 0; n < (size_t)d->ncur; n++)
			nw += d->cur[n] != NULL;
		room = FEED_MAX - buf_pending(&w->ib);
		lim = d->c.maxreq ? 1 : avail / (size_t)(nw > 0 ? nw : 1);
		if (lim > room)
			lim = room;
		if (lim > CHUNK_MAX)
			lim = CHUNK_MAX;
		e = lim > 0 ? memrchr(p, d->c.delim, lim) : NULL;
		if (e == NULL && (e = memchr(p, d->c.delim, avail)) == NULL) {
			if (!d->in_eof) {
				if (avail >= DISPATCH_REC_MAX) {
					d->skip = avail + 1;
					src->off += avail;
					continue;
				}
				d->need_fill = 1;
				return;
			}
			/* A last record without its delimiter. */
			last = (char)d->c.delim;
			add(d, src, &last, 1);
			if (d->nomem)
				return;
			p = src->p + src->off;
			e = p + avail;
		}
		n = (size_t)(e - p) + 1;
		worker_give(d, w, p, n);
		src->off += n;
		worker_count(d, w);
	}
}

static void
on_input_stream(struct loop *l, int fd, int events, void *arg)
{
	struct dispatch *d = arg;
	ssize_t n;

	(void)l, (void)fd, (void)events;
	if (buf_room(&d->inb, READ_CHUNK) < 0) {
		d->nomem = 1;
		return;
	}
	n = read(d->c.in, d->inb.p + d->inb.len, d->inb.cap - d->inb.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	d->need_fill = 0;
	if (n > 0)
		d->inb.len += (size_t)n;
	else if (n == 0)
		d->in_eof = 1;
	else {
		event_err(d, DISPATCH_READ_ERROR, errno);
		d->in_eof = 1;
	}
}

static void
feed_reply(struct dispatch *d)
{
	struct dispatch_worker *w;
	struct rec *r;
	char *p;
	size_t n;

	/* keep: a bounded span between the oldest unanswered record and
	 * the newest read keeps the reorder ring bounded. */
	while (!d->nomem && (w = pick_worker(d)) != NULL) {
		if ((r = recq_pop(&d->pending)) == NULL) {
			if (d->c.keep && d->seq_next - d->seq_emit >=
			    d->ring_size)
				break;
			if (next_record(d, &p, &n) != IO_REC)
				break;
			if ((r = malloc(sizeof(*r) + n + 1)) == NULL) {
				d->nomem = 1;
				break;
			}
			r->seq = d->seq_next++;
			r->tries = 0;
			r->len = n;
			memcpy(r->data, p, n);
			r->data[n] = (char)d->c.delim;
		}
		r->tries++;
		add(d, &w->ib, r->data, r->len + 1);
		recq_push(&w->sent, r);
		d->outstanding++;
		worker_count(d, w);
	}
}

static void
on_input(struct loop *l, int fd, int events, void *arg)
{
	struct dispatch *d = arg;
	ssize_t n;

	(void)l, (void)fd, (void)events;
	n = io_records_fill(&d->rd);
	if (n < 0 && errno == EAGAIN)
		return;
	d->need_fill = 0;
	if (n < 0) {
		event_err(d, DISPATCH_READ_ERROR, errno);
		d->input_done = 1;
	}
}

/* ---- relaying output ---- */

/* One reply line from w (n bytes with its delimiter). */
static void
reply_line(struct dispatch *d, struct dispatch_worker *w, const char *s,
    size_t n)
{
	struct rec *r = recq_pop(&w->sent);

	if (r == NULL) {
		/* Not an answer to anything: pass it on unless order
		 * matters. */
		if (!d->c.keep)
			emit(d, s, n);
		return;
	}
	d->outstanding--;
	if (d->c.keep)
		ring_put(d, r->seq, s, n);
	else
		emit(d, s, n);
	free(r);
}

static void
worker_line(struct dispatch *d, struct dispatch_worker *w, const char *s,
    size_t k)
{
	if (!d->c.reply)
		emit(d, s, k);
	else if (w->skip_line)
		w->skip_line = 0;
	else
		reply_line(d, w, s, k);
}

/* Relay w's whole lines. At eof a last unterminated line gets its
 * delimiter. A line longer than DISPATCH_LINE_HELD is passed on piecewise
 * while its worker owns the output (or, with keep, cut). */
static void
worker_relay(struct dispatch *d, struct dispatch_worker *w, int eof)
{
	char *s, *e;
	size_t n = buf_pending(&w->ob), k;
	int found = 0, cut = 0, delim = d->c.delim;

	s = n > 0 ? w->ob.p + w->ob.off : NULL;
	if (d->c.reply) {
		while (n > 0 && (e = memchr(s, delim, n)) != NULL) {
			k = (size_t)(e - s) + 1;
			worker_line(d, w, s, k);
			s += k;
			n -= k;
			found = 1;
		}
	} else if (n > 0 && (e = memrchr(s, delim, n)) != NULL) {
		k = (size_t)(e - s) + 1;
		emit(d, s, k);
		s += k;
		n -= k;
		found = 1;
	}
	if (found && d->owner == w)
		d->owner = NULL;
	if (n > 0 && (d->owner == w || w->skip_line)) {
		if (!w->skip_line)
			emit(d, s, n);
		n = 0;
	} else if (n > 0 && !eof && n >= DISPATCH_LINE_HELD && !d->c.keep) {
		d->owner = w;
		emit(d, s, n);
		n = 0;
	} else if (n > 0 && (eof || n >= DISPATCH_LINE_HELD)) {
		if (!eof) {
			event_len(d, DISPATCH_REPLY_CUT, w, n,
			    DISPATCH_LINE_HELD, 0);
			cut = 1;
		}
		add(d, &w->ob, &(char){ (char)delim }, 1);
		if (!d->nomem)
			worker_line(d, w, w->ob.p + w->ob.len - n - 1, n + 1);
		w->skip_line = cut;
		n = 0;
	}
	if (n == 0)
		w->ob.off = w->ob.len = 0;
	else
		w->ob.off = w->ob.len - n;
	if (eof && d->owner == w) {
		worker_line(d, w, &(char){ (char)delim }, 1);
		d->owner = NULL;
	}
	if (eof)
		w->skip_line = 0;
}

/* Read what w wrote: one chunk per wake-up, so no worker starves the
 * others; at reap time (final) drain the pipe. */
static void
worker_read(struct dispatch *d, struct dispatch_worker *w, int final)
{
	ssize_t n;
	int rounds = final ? 64 : 1;

	if (d->owner != NULL && d->owner != w && !final)
		return;
	while (rounds > 0) {
		if (buf_room(&w->ob, READ_CHUNK) < 0) {
			d->nomem = 1;
			return;
		}
		n = read(w->out, w->ob.p + w->ob.len, w->ob.cap - w->ob.len);
		if (n > 0) {
			w->ob.len += (size_t)n;
			worker_relay(d, w, 0);
			rounds--;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !final) {
			buf_shrink(&w->ob, BUF_KEEP);
			return;
		}
		break;		/* EOF, an error, or nothing left */
	}
	if (rounds == 0 && !final)
		return;
	worker_relay(d, w, 1);
	(void)loop_fd(d->loop, w->out, 0, NULL, NULL);
	close(w->out);
	w->out = -1;
}

/* Pause other workers' output while one holds the output mid-line. */
static int
owner_watch(struct dispatch *d)
{
	struct dispatch_worker *w;

	if (d->owner_was == d->owner)
		return 0;
	d->owner_was = d->owner;
	for (w = d->live; w; w = w->next)
		if (w->out >= 0 && loop_fd(d->loop, w->out, d->owner == NULL ||
		    d->owner == w ? LOOP_IN : 0, on_worker_out, w) < 0)
			return -1;
	return 0;
}

/* ---- the tick ---- */

int
dispatch_work_left(const struct dispatch *d)
{
	if (!d->input_done)
		return 1;
	if (d->c.reply)
		return d->pending.n > 0 || d->outstanding > 0;
	return buf_pending(&d->spill) > 0;
}

static void
drop_waiting(struct dispatch *d)
{
	struct rec *r;

	event(d, DISPATCH_STRANDED, NULL, 1);
	while ((r = recq_pop(&d->pending)) != NULL) {
		if (d->c.keep)
			ring_put(d, r->seq, NULL, 0);
		free(r);
	}
	buf_clear(&d->spill);
}

int
dispatch_tick(struct dispatch *d)
{
	struct dispatch_worker *w;
	int want = 0;

	if (!d->stopping && !out_dead(d->c.out)) {
		if (d->c.reply)
			feed_reply(d);
		else
			feed_stream(d);
		want = !d->input_done && d->need_fill &&
		    pick_worker(d) != NULL;
		if (d->c.reply && d->c.keep && d->seq_next - d->seq_emit >=
		    d->ring_size)
			want = 0;
	}
	for (w = d->live; w; w = w->next)
		if (buf_pending(&w->ib) > 0 && w->in_events == 0)
			worker_write(d, w);
	if (!d->stopping && !dispatch_work_left(d)) {
		if (d->ops.hold)
			d->ops.hold(d->ops.arg);
		for (w = d->live; w; w = w->next)
			if (!w->closing)
				dispatch_worker_close(d, w);
	} else if (!d->stopping && (d->pending.n > 0 ||
	    buf_pending(&d->spill) > 0) && pick_worker(d) == NULL &&
	    (d->ops.fill == NULL || d->ops.fill(d->ops.arg) == 0) &&
	    pick_worker(d) == NULL)
		drop_waiting(d);
	if (owner_watch(d) < 0)
		return -1;
	if (want != d->in_events) {
		if (loop_fd(d->loop, d->c.in, want ? LOOP_IN : 0,
		    d->c.reply ? on_input : on_input_stream, d) < 0)
			return -1;
		d->in_events = want;
	}
	if (d->nomem) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
dispatch_stop(struct dispatch *d)
{
	d->stopping = 1;
}

struct dispatch *
dispatch_new(struct loop *l, const struct dispatch_conf *c,
    const struct dispatch_ops *ops)
{
	struct dispatch *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->loop = l;
	d->c = *c;
	d->ops = *ops;
	d->rnd = (uint64_t)clock_wall() ^ ((uint64_t)getpid() << 32) ^
	    0x2545f4914f6cdd1dULL;
	if (d->rnd == 0)
		d->rnd = 1;
	if (c->reply)
		io_records_init(&d->rd, c->in, c->delim, DISPATCH_REC_MAX);
	if (c->keep) {
		d->ring_size = 1024;
		while (d->ring_size < 4 * (size_t)(c->n > 0 ? c->n : 1) *
		    (size_t)c->window &&
		    d->ring_size < 65536)
			d->ring_size *= 2;
		if ((d->ring = calloc(d->ring_size, sizeof(*d->ring))) ==
		    NULL) {
			free(d);
			return NULL;
		}
	}
	return d;
}

void
dispatch_collect(struct dispatch *d)
{
	struct dispatch_worker *w;

	while ((w = d->grave) != NULL) {
		d->grave = w->next;
		buf_free(&w->ib);
		buf_free(&w->ob);
		recq_free(&w->sent);
		free(w);
	}
}

void
dispatch_free(struct dispatch *d)
{
	struct dispatch_worker *w;
	size_t i;

	if (d == NULL)
		return;
	dispatch_collect(d);
	while ((w = d->live) != NULL) {
		d->live = w->next;
		worker_fds_close(w);
		buf_free(&w->ib);
		buf_free(&w->ob);
		recq_free(&w->sent);
		free(w);
	}
	if (d->ring != NULL) {
		for (i = 0; i < d->ring_size; i++)
			free(d->ring[i].p);
		free(d->ring);
	}
	recq_free(&d->pending);
	buf_free(&d->spill);
	buf_free(&d->inb);
	if (d->c.reply)
		io_records_free(&d->rd);
	free(d->cur);
	free(d);
}

int
dispatch_event_text(const struct dispatch_event *e, char *buf, size_t size)
{
	long pid = (long)e->pid;

	switch (e->type) {
	case DISPATCH_TOO_LONG:
		snprintf(buf, size, "record of %zu bytes skipped: longer than "
		    "%zu", e->len, e->max);
		return 2;
	case DISPATCH_READ_ERROR:
		snprintf(buf, size, "read error on stdin: %s", strerror(e->err));
		return 2;
	case DISPATCH_WRITE_ERROR:
		snprintf(buf, size, "write error on stdout: %s",
		    strerror(e->err));
		return 2;
	case DISPATCH_DIED_MID_RECORD:
		snprintf(buf, size, "worker %d (pid %ld) died in the middle of "
		    "a record; its rest is dropped", e->slot, pid);
		return 2;
	case DISPATCH_RESEND:
		snprintf(buf, size, "worker %d (pid %ld) died before replying "
		    "to '%s'; sending it again", e->slot, pid, e->text);
		return 2;
	case DISPATCH_GAVE_UP:
		snprintf(buf, size, "worker %d (pid %ld) died before replying "
		    "to '%s'; giving up after %d tries", e->slot, pid, e->text,
		    e->tries);
		return 2;
	case DISPATCH_REPLY_CUT:
		snprintf(buf, size, "worker %d (pid %ld): reply longer than %zu "
		    "bytes cut", e->slot, pid, e->max);
		return 2;
	case DISPATCH_STRANDED:
		snprintf(buf, size, "no worker left to take the remaining "
		    "records; dropping them");
		return 2;
	case DISPATCH_RECYCLE:
		snprintf(buf, size, "worker %d (pid %ld) served %lu records; "
		    "recycling it", e->slot, pid, e->count);
		return 0;
	}
	snprintf(buf, size, "event %d", (int)e->type);
	return 0;
}
