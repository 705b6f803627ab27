/*
 * relay: pqueue run --stream, at-least-once through one long-lived
 * filter. Messages are leased from a store (one lease file each, so the
 * kernel gives them back if we die), written as records to the filter's
 * stdin, and each one is acknowledged (its lease removed) only once the
 * filter's reply to it, the next line (record) on the filter's stdout,
 * is stored: pushed to a result queue, or written to an output fd.
 *
 * The filter must answer every record with exactly one reply, in order
 * (what prefork -R -k does). A filter that dies, or ends its stdout
 * while records wait, loses the records it was given: each comes back
 * with attempt + 1 (after the retry delay), or goes to the dead-letter
 * list past max_attempts with the filter's exit status and the tail of
 * its stderr. Records leased but not yet written go back as they were.
 * The filter is then started again after a backoff (100 ms doubling to
 * 5 s, reset by a reply), first with a window of one record, so a
 * message that kills it is not blamed on the ones beside it.
 *
 * Waits go through the caller's loop (lib/loop: signals blocked, then
 * ppoll). SIGCHLD is routed to it while relay_run runs; SIGPIPE is
 * ignored meanwhile. Nothing here prints or exits.
 */
#ifndef PKIT_RELAY_H
#define PKIT_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct store;

#define RELAY_WINDOW	64		/* default records in flight */
#define RELAY_WINDOW_MAX 65536

struct relay_conf {
	char **argv;		/* the filter command */
	int delim;		/* records and replies end with it */
	size_t window;		/* leased records at most (1..WINDOW_MAX) */
	int forever;		/* follow the queue; else end once empty */
	long long max_attempts;
	int64_t retry_delay;	/* first retry wait, ns (0: at once) */
	int64_t retry_max;	/* longest retry wait, ns */
	int64_t grace;		/* on stop: how long replies are waited for */
	uint64_t max;		/* longest reply kept, bytes */
	struct store *to;	/* result queue, or NULL: write to out */
	int sync;		/* push to `to` with sync */
	int out;		/* replies go here when to is NULL */
	struct loop *loop;
	const int *stop;	/* set by the caller's stop handler */
	/* One line for the user; level as lib/store's STORE_*. */
	void (*report)(void *arg, int level, int errnum, const char *text);
	void *arg;
	const char *name;	/* the queue's name in reports */
};

/* Relay the messages of s through the filter until s is empty (not
 * forever) or *stop is set; on a stop, the filter's stdin is ended and
 * its replies are waited for up to grace, then the filter is sent TERM
 * (KILL 2 s later) and the unanswered messages go back as they were.
 * Returns 0, or -1 with errno (reported): the filter could not be
 * started the first time (its exec errno), a reply could not be stored
 * (the unacknowledged messages go back), the loop failed. */
int relay_run(struct store *s, const struct relay_conf *c);

/* The wait before retrying a message that failed its attempt-th time:
 * delay doubled per attempt up to max, spread by up to 10 % either way
 * (random()). 0 when delay is 0. */
int64_t relay_retry_wait(int64_t delay, int64_t max, uint32_t attempt);

#endif
