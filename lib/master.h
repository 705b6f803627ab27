/* master: prefork's master at work: one lib/loop with its signals, the
 * worker pool (lib/pool) wired to record dispatch (lib/dispatch) when
 * there is one, the --status-file, and the service manager's
 * NOTIFY_SOCKET (lib/notify). The caller parses options, opens the
 * sockets, pid file and cgroup, and says everything master reports.
 *
 * Signals: CHLD reaps; TERM and INT stop gracefully, QUIT at once; HUP
 * rolls the workers over; TTIN and TTOU add and remove one; USR1, USR2
 * and WINCH are passed on to the workers.
 *
 * Nothing here prints or exits: each event and failure goes to
 * m->report as one line of text. */
#ifndef PKIT_MASTER_H
#define PKIT_MASTER_H

#include <sys/types.h>

#include "dispatch.h"
#include "listen.h"
#include "loop.h"
#include "notify.h"
#include "out.h"
#include "pool.h"

struct master {
	/* Set by the caller before master_init. */
	const char *status_file;	/* --status-file; NULL none */
	const struct listen_set *socks;	/* passed to each worker (fds 3..) */
	/* One line for the user at level POOL_LOG_*: errnum -1 for an
	 * event; else a failure, errnum its errno to append. */
	void (*report)(void *arg, int level, int errnum, const char *text);
	void *arg;
	/* Kept by master; read by the caller. */
	struct loop *loop;
	struct pool *pool;
	struct dispatch *disp;	/* NULL without dispatch */
	struct out out;		/* stdout: dispatch's replies */
	pid_t pid;		/* the master's */
	int devnull;		/* the workers' stdin without dispatch */
	struct notify nt;	/* NOTIFY_SOCKET, or inactive */
	int ready;		/* READY=1 sent for the current state */
	int rolling;		/* a reload runs: READY=1 when it is done */
	int failed;		/* a record, a worker or stdout failed */
	int gave_up;		/* --max-restarts was hit */
	int cannot_run;		/* errno: COMMAND could not be exec'd */
	int status_failed;	/* --status-file: said once */
	const char *why;	/* -1: "loop", "/dev/null", "out of memory" */
};

/* The loop with the signals above routed to it, /dev/null, and
 * NOTIFY_SOCKET (its failure is reported; m goes on without it).
 * 0, or -1 with errno and m->why. */
int master_init(struct master *m);

/* The pool as pc says and, when dc is not NULL, dispatch as dc says
 * (its out is m->out), wired together; no worker starts yet (pool_start
 * on m->pool does that). 0, or -1 with errno ENOMEM. */
int master_start(struct master *m, const struct pool_conf *pc,
    const struct dispatch_conf *dc);

/* Run until every worker is gone after a stop, or after the end of the
 * work with dispatch. 0, or -1 with errno and m->why ("loop", "out of
 * memory"). */
int master_run(struct master *m);

/* Flush stdout (a failure is reported and sets m->failed) and free what
 * master_init and master_start made. */
void master_free(struct master *m);

#endif
