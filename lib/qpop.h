/* qpop: pqueue's pop and run on a local queue (lib/store), and the waits
 * they share. Both wait through one lib/loop, which blocks TERM, INT and
 * HUP and reads them with the store's watch fd and the -w timer in one
 * ppoll, so a signal that comes between a look at the store and the
 * sleep is seen by that sleep. Between messages a stop is looked for as
 * a pending signal (the loop keeps them blocked); a contended store lock
 * is waited for by store_lockwait_signals with q->stops.
 *
 * Nothing here prints a diagnostic or exits: every failure is said as
 * one line through q->report (levels and errnum as lib/store's report
 * hook), and the functions that run a command return pqueue's exit
 * status. */
#ifndef PKIT_QPOP_H
#define PKIT_QPOP_H

#include <signal.h>
#include <stdint.h>

#include "loop.h"
#include "out.h"
#include "qrun.h"
#include "store.h"

/* What pop and run were asked for. */
struct qpop_opts {
	int nowait;		/* pop -n: never wait */
	int forever;		/* -f */
	int64_t timeout;	/* pop -w, ns; -1 none */
	long long count;	/* -c; -1 with forever */
	long long max_attempts;	/* run: attempts before a dead letter */
	int64_t retry_delay;	/* run: the first retry's wait, 0 none */
	int64_t retry_max;	/* run: the longest wait between retries */
};

struct qpop {
	/* Set by the caller before qpop_init. */
	int delim;		/* the record delimiter */
	struct out *out;	/* pop's stdout writer (out_init'd, unbuffered) */
	void (*report)(void *arg, int level, int errnum, const char *text);
	void *arg;
	/* Kept by qpop. */
	struct loop *loop;	/* signals, the watch, timers */
	sigset_t stops;		/* TERM, INT, HUP: routed to the loop */
	int stop;		/* one of them came */
	int woke;		/* the watch fired, or its poll timer */
	int timedout;		/* the -w timer */
	int gone;		/* pop: stdout's reader has gone */
	int failed;		/* a wait failed (said): the exit is 1 */
	int batch_pipe;		/* pop: stdout may be a pipe (ask its room) */
	const char *why;	/* qpop_init's and qpop_watch's -1: the
				 * call that failed ("loop", "signals") */
	struct qrun run;	/* run: COMMAND's attempts */
};

/* Make q's loop and route TERM, INT and HUP to it (added to q->stops):
 * from here on a stop is seen. 0, or -1 with errno and q->why; nothing
 * said. */
int qpop_init(struct qpop *q);

/* Before the first look at s: watch s's watch fd unless nowait (none
 * when s has no watch: then the waits look every 10 ms), and for pop
 * stdout's errors (a reader that has gone ends the wait). 0, or -1 with
 * errno and q->why "loop"; nothing said. */
int qpop_watch(struct qpop *q, struct store *s, int nowait, int pop);

/* Has a stop signal come? 1 or 0. */
int qpop_stop_pending(struct qpop *q);

/* pop: write messages of s to q->out as o asks, each acknowledged once
 * written whole; the messages available at once go out in batches
 * (what a pipe takes without blocking) and the head is committed once
 * per batch. Returns the exit status: 0 when at least one message went
 * out, the reader went away, or a stop ended -f; 1 when none came (-n,
 * -w) or on a failure (said). */
int qpop_pop(struct qpop *q, struct store *s, const struct qpop_opts *o);

/* run: lease each message of s in turn and run argv on it (lib/qrun);
 * status 0 acknowledges it, any other puts it back (after o's retry
 * wait) or, after max_attempts, moves it to the dead letters with a
 * note; each failure is said as a notice. name is the queue's name in
 * PQUEUE_QUEUE and messages. Returns the exit status: 0; for -c 1
 * COMMAND's own; 126 or 127 when COMMAND cannot run (said; the message
 * goes back as it was); 125 on our own failure; 1 when a wait failed. */
int qpop_run(struct qpop *q, struct store *s, const char *name,
    const struct qpop_opts *o, char **argv);

/* Free q's loop (TERM, INT, HUP stay blocked: the caller ends soon). */
void qpop_free(struct qpop *q);

#endif
