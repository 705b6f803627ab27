/*
 * dispatch: deal records read from an input fd to workers' stdin pipes and
 * relay their stdout, whole lines at a time, to one struct out.
 *
 * Each worker has a stdin and a stdout pipe whose ends here are
 * non-blocking and buffered, so the caller's loop never waits on a
 * worker. A record goes whole into one worker's buffer. Output is relayed
 * up to the last delimiter read, so lines reach the output whole; a line
 * longer than DISPATCH_LINE_HELD makes its worker own the output until
 * the line ends. With reply mode each record stays queued on its worker
 * until the worker's reply line arrives (window: how many may wait at
 * once); the records of a worker that dies unanswered are handed again
 * (retry) to another. With keep, replies leave in input order. Without
 * reply mode, a dead worker's unsent whole records go to the others.
 *
 * The module knows workers by slot only; who starts and stops them is the
 * caller's business (ops). It never prints: events go to ops.event.
 */
#ifndef PKIT_DISPATCH_H
#define PKIT_DISPATCH_H

#include <stddef.h>
#include <sys/types.h>

#include "loop.h"
#include "out.h"

#define DISPATCH_REC_MAX	(1024 * 1024)	/* longest input record */
#define DISPATCH_LINE_HELD	(1024 * 1024)	/* longest line kept whole */

struct dispatch;
struct dispatch_worker;

enum dispatch_event_type {
	DISPATCH_TOO_LONG,	/* a record of len bytes skipped (> max) */
	DISPATCH_READ_ERROR,	/* reading input failed (err); input ends */
	DISPATCH_WRITE_ERROR,	/* writing the output failed (err) */
	DISPATCH_DIED_MID_RECORD, /* a dead worker took part of a record */
	DISPATCH_RESEND,	/* a dead worker's unanswered record (text)
				 * goes to another worker */
	DISPATCH_GAVE_UP,	/* ... or is dropped after tries tries */
	DISPATCH_REPLY_CUT,	/* a reply longer than max was cut */
	DISPATCH_STRANDED,	/* no worker will take the waiting records:
				 * they are dropped */
	DISPATCH_RECYCLE,	/* a worker served maxreq records (count) */
};

struct dispatch_event {
	enum dispatch_event_type type;
	int slot;		/* -1: not about one worker */
	pid_t pid;
	size_t len, max;
	unsigned long count;
	int tries;
	int err;
	const char *text;	/* a record's text, cut and made printable */
	int fail;		/* 1: the run is to end with failure */
	void *token;		/* the worker's token (RECYCLE) */
};

struct dispatch_ops {
	/* A worker served its maxreq records: retire it and start another
	 * in its slot (token as given to dispatch_worker_started). */
	void (*recycle)(void *arg, void *token);
	/* Start empty slots; return how many are starting. */
	int (*fill)(void *arg);
	/* No work is left for new workers: cancel pending restarts. */
	void (*hold)(void *arg);
	void (*event)(void *arg, const struct dispatch_event *e);
	void *arg;
};

struct dispatch_conf {
	int in;			/* input fd (made non-blocking by the caller
				 * or not: reads happen only when ready) */
	int delim;		/* '\n' or '\0' */
	int reply;		/* one reply line per record */
	int keep;		/* replies in input order (reply) */
	int window;		/* unanswered records per worker (reply) */
	int retry;		/* re-sends of an unanswered record */
	unsigned long maxreq;	/* recycle after this many; 0: never */
	int n;			/* workers expected (sizes the keep ring) */
	struct out *out;
};

/* The one-line text for e, without the program name, into buf. Returns
 * its level as pool_event_text does: 2 warning, 1 notice, 0 verbose. */
int dispatch_event_text(const struct dispatch_event *e, char *buf,
    size_t size);

/* NULL with errno. */
struct dispatch *dispatch_new(struct loop *l, const struct dispatch_conf *c,
    const struct dispatch_ops *ops);

/* A worker to be: makes its pipes; *in and *out get the child's ends
 * (its stdin and stdout, close-on-exec). NULL with errno. */
struct dispatch_worker *dispatch_worker_new(struct dispatch *d, int *in,
    int *out);
/* The spawn failed: close and free. */
void dispatch_worker_discard(struct dispatch *d, struct dispatch_worker *w);
/* The worker runs in slot with pid: it now takes records. token is
 * handed back in the recycle callback. 0, or -1 with errno. */
int dispatch_worker_started(struct dispatch *d, struct dispatch_worker *w,
    int slot, pid_t pid, void *token);
/* No more records for w: close its stdin once its queue is written. */
void dispatch_worker_close(struct dispatch *d, struct dispatch_worker *w);
/* w was reaped: relay what it wrote, hand its records to others. Returns
 * 1 if its input had been closed (its end was expected), else 0. */
int dispatch_worker_ended(struct dispatch *d, struct dispatch_worker *w);

/* After every loop round: hand out records, write queued ones, close the
 * workers' stdin at the end of input, watch the input only while a
 * record can be placed. 0, or -1 with errno (ENOMEM, or a loop error). */
int dispatch_tick(struct dispatch *d);

/* Do workers still have work (input not over, or records unanswered)?
 * 1 or 0. */
int dispatch_work_left(const struct dispatch *d);

/* The pool is stopping: no more records, none re-sent. */
void dispatch_stop(struct dispatch *d);

/* Free the memory of ended workers (after each loop round). */
void dispatch_collect(struct dispatch *d);
void dispatch_free(struct dispatch *d);

#endif
