/* rstream: pqueue's queue operations over a Redis stream and a consumer
 * group (at-least-once across hosts).
 *
 * Layout: stream KEY holds one entry per message with the field "d" (the
 * bytes); consumer group GROUP (default "pqueue") hands each entry to one
 * consumer (default "HOST:PID"). A taken entry stays in the group's
 * pending list (PEL) until it is acknowledged; acknowledging also deletes
 * it, so XLEN KEY is the count of messages not yet done. The PEL's
 * delivery count is the attempt number. A lease is the PEL's idle time:
 * a holder refreshes it (XCLAIM JUSTID) while its command runs, and
 * entries idle longer than the lease time are claimed by others
 * (XAUTOCLAIM), which counts one more delivery. Dead letters go to the
 * stream KEY:dead with fields d, id, attempts, reason, time.
 *
 * Every function reconnects (with backoff, for at most `patience`) when
 * the connection is lost and retries what is safe to retry; all return
 * 0 (or a count) on success, -1 with errno and a one-line reason in
 * s->r.err on failure (EIO: the server refused a command). */
#ifndef PKIT_RSTREAM_H
#define PKIT_RSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "out.h"
#include "redis.h"

struct rstream {
	struct redis r;
	char key[512];
	char dead[520];		/* KEY:dead */
	char group[128];
	char consumer[300];
	int64_t lease;		/* ns; default 60 s */
	int64_t patience;	/* ns to keep reconnecting; -1 forever;
				 * default 30 s */
	int64_t next_claim;	/* monotonic ns of the next XAUTOCLAIM */
	char cursor[48];	/* XAUTOCLAIM's scan position */
	int group_ready;
	char mark[848];		/* KEY:push:CONSUMER:NONCE: push receipts */
	unsigned long long pushes;	/* batches pushed so far */
};

struct rstream_msg {
	char id[48];
	char *data;		/* malloc'd, len bytes + NUL */
	size_t len;
	long long attempt;	/* delivery count, 1 for a fresh message */
};

/* Set up s for address a; group and consumer NULL take the defaults (or
 * $PQUEUE_REDIS_GROUP, $PQUEUE_REDIS_CONSUMER). No I/O. */
void rstream_init(struct rstream *s, const struct redis_addr *a,
    const char *group, const char *consumer);

/* Connect now (once, no retries): the caller's check that the server is
 * there. 0 or -1 (s->r.err: "connection refused", ...). */
int rstream_connect(struct rstream *s);

void rstream_close(struct rstream *s);

/* XADD the n records (pipelined, in order), a batch at a time, each
 * batch in one MULTI with a receipt (SET KEY:push:CONSUMER:NONCE to the
 * batch's number, expiring after a day). Returns n, or -1: then *done
 * (if not NULL) is the count known to be stored. When the connection is
 * lost before EXEC's reply, the receipt says after reconnecting whether
 * the batch was stored: it is sent again only if it was not, so a
 * record is stored exactly once. */
ssize_t rstream_push(struct rstream *s, size_t n, char *const recs[],
    const size_t lens[], size_t *done);

/* Take one message for this consumer: first, when a claim is due (when
 * idle, and every lease/4), an entry whose lease ran out (XAUTOCLAIM);
 * else a new one (XREADGROUP), waiting at most `wait` ns (0: do not
 * wait; -1: forever). Returns 1 with *m filled (free with
 * rstream_msg_free), 0 when nothing came in time, -1 on failure. */
int rstream_take(struct rstream *s, struct rstream_msg *m, int64_t wait);

/* Done: XACK and XDEL. 0 or -1. */
int rstream_ack(struct rstream *s, const struct rstream_msg *m);

/* Keep the lease: reset the entry's idle time if this consumer still
 * holds it (atomic check and XCLAIM ... JUSTID, no delivery counted).
 * Returns 0, or -1 with ESTALE when another consumer holds it now. */
int rstream_refresh(struct rstream *s, const struct rstream_msg *m);

/* Give the message back for another attempt at once: its idle time is
 * set past the lease, so the next claim (by anyone) takes it. 0 or -1. */
int rstream_release(struct rstream *s, const struct rstream_msg *m);

/* Move to KEY:dead with `reason`, acknowledging it, atomically (MULTI).
 * 0 or -1. */
int rstream_bury(struct rstream *s, const struct rstream_msg *m,
    const char *reason);

void rstream_msg_free(struct rstream_msg *m);

struct rstream_stat {
	long long length;	/* XLEN KEY: not yet done */
	long long bytes;	/* MEMORY USAGE KEY (0 when absent) */
	long long oldest_ms;	/* age of the oldest entry; -1 empty */
	long long inflight;	/* entries in the group's PEL */
	long long dead;		/* XLEN KEY:dead */
};

/* Fill st. 0 or -1. */
int rstream_stat(struct rstream *s, struct rstream_stat *st);

/* Drop every waiting message (entries after the group's last delivered
 * one) and every dead letter; leased entries are left. Returns the count
 * of waiting messages dropped, or -1. */
long long rstream_purge(struct rstream *s);

/* Call fn on each dead letter, oldest first (data, len, attempts, reason);
 * fn returns 0 to go on or -1 to stop (its errno is kept). With requeue,
 * each letter is moved back to KEY (attempt 1) after fn returned 0.
 * Returns the count visited, or -1. */
long long rstream_dead(struct rstream *s, int requeue,
    int (*fn)(void *arg, const char *data, size_t len, const char *attempts,
    const char *reason), void *arg);

/* Run argv with the message on stdin (data, then `delim`) and PQUEUE_ID,
 * PQUEUE_ATTEMPT, PQUEUE_QUEUE in its environment, refreshing the lease
 * every lease/3 while it runs. Returns 0 with *wstatus (waitpid status),
 * or -1 with errno (the exec errno when COMMAND could not start). */
int rstream_run(struct rstream *s, const struct rstream_msg *m,
    char *const argv[], int delim, int *wstatus);

/* -- whole commands, shared by pqueue and the tests' driver -- */

/* Push every record read from fd (ending in delim; longer than max: not
 * pushed, counted in *toolong). Returns the count pushed, or -1 (then
 * *pushed, when not NULL, is the count known stored). */
long long rstream_push_fd(struct rstream *s, int fd, int delim, size_t max,
    long long *toolong, long long *pushed);

/* Pop up to count messages (-1: forever) to fd, each followed by delim,
 * waiting at most `wait` ns for each (-1 forever, 0 not at all). A
 * message is acknowledged only after it was written; one that could not
 * be written (EPIPE) is given back. Returns the count written, or -1. */
long long rstream_pop_fd(struct rstream *s, int fd, int delim,
    long long count, int64_t wait);

/* The at-least-once consumer: take up to count messages (-1: forever);
 * run argv on each (rstream_run); acknowledge on exit 0; otherwise
 * release it for another attempt, or bury it once its attempt reached
 * max_attempts (a message delivered more often than that, because its
 * holders died, is buried before it runs). note(arg, line), when not
 * NULL, hears of each failure. Returns the exit status of the last run
 * (0, COMMAND's status, 126/127, 128+N), or -1 (server failure). */
int rstream_run_loop(struct rstream *s, char *const argv[], int delim,
    long long count, long long max_attempts,
    void (*note)(void *arg, const char *line), void *arg);

/* One pqueue command on the queue s was set up for (rstream_init, and
 * lease/patience as wanted), from connecting to closing. */
struct rstream_cmd {
	const char *name;	/* push, pop, run, len, stat, purge, dead */
	char **args;		/* push: the messages (nargs 0: stdin's
				 * records); run: COMMAND [ARG]... */
	int nargs;
	int delim;
	uint64_t max;		/* push: the longest message */
	long long count;	/* pop, run: -1 forever */
	int64_t wait;		/* pop: for each message; -1 forever */
	long long max_attempts;	/* run */
	int requeue;		/* dead */
	struct out *out;	/* pop, dead: records go here */
	/* A diagnostic line (errnum: its errno, 0 none) or, for notice, a
	 * run's failure; each may be NULL. */
	void (*warn)(void *arg, int errnum, const char *text);
	void (*notice)(void *arg, const char *text);
	void *arg;
};

/* Run c on s: len and stat print on stdout (stdio), pop and dead write
 * their records to c->out. Every failure is said through c->warn.
 * Returns pqueue's exit status: 0; 1 for a failure (125 for run, whose
 * 1 is COMMAND's), pop finding nothing or a push leaving messages over
 * the limit out; for run -c 1 COMMAND's own status. */
int rstream_command(struct rstream *s, const struct rstream_cmd *c);

#endif
