/*
 * pool: supervision of NUM workers running one COMMAND.
 *
 * Slot i (0..NUM-1) holds at most one current worker, exec'd with argv[0]
 * = TITLE-i. A worker that leaves its slot (reload, lifetime, recycle,
 * shrink) is "retiring" and lives on until reaped, so a slot may briefly
 * hold two processes. A current worker that dies on its own is replaced
 * in the same slot, at once if it had been up POOL_STABLE, else after a
 * delay that doubles with each quick death (POOL_BACKOFF_MIN up to
 * maxdelay).
 *
 * Reload: pool_reload bumps the generation; a lifetime marks a worker
 * expired. One roll replaces such workers one slot at a time, oldest
 * generation first, and moves to the next slot only once the retiring
 * worker is reaped. With new_first the new worker starts before the old
 * one is stopped; without, after. A reload during a roll bumps the
 * generation and the same roll carries on.
 *
 * Readiness (conf.ready): each worker gets its own NOTIFY_SOCKET (a
 * datagram socket the pool owns, lib/notify) and counts as up only once
 * it sends READY=1 there (or the caller calls pool_ready); one not ready within ready_timeout is
 * stopped and restarted like a crash. A roll then starts the new worker
 * while the old one keeps its slot, and stops the old one only when the
 * new one is ready; a new worker that is not ready in time, or exits
 * first, stops the roll (POOL_RELOAD_FAILED): it is stopped and the old
 * workers keep serving.
 *
 * Stopping a worker: the caller's stop callback may take it over (closing
 * its stdin); otherwise the stop signal goes to the worker (or to its
 * process group, with pgroup). KILL follows after the grace time.
 *
 * The pool never prints and never exits: what happens is reported through
 * the event callback, and the caller decides what to say.
 */
#ifndef PKIT_POOL_H
#define PKIT_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "loop.h"
#include "spawn.h"

#define POOL_MAX_WORKERS	4096
#define POOL_BACKOFF_MIN	(100 * 1000000LL)	/* 100 ms */
#define POOL_STABLE		(5 * 1000000000LL)	/* 5 s up: not quick */
#define POOL_DELAY_FLOOR	(50 * 1000000LL)	/* least restart delay */
#define POOL_START_BATCH	64	/* pool_start: forks awaiting exec */

struct pool;

struct pool_worker {
	pid_t pid;
	int slot;
	long gen;
	int64_t started;	/* monotonic ns */
	int retiring;		/* left its slot */
	int stopping;		/* asked to stop; the grace timer runs */
	int signalled;		/* we sent it the stop signal or KILL */
	int ready;		/* reported ready (conf.ready) */
	void *data;		/* the caller's (set in prepare) */
};

enum pool_event_type {
	POOL_STARTED,		/* w started */
	POOL_START_FAILED,	/* slot's worker could not start (err); retry
				 * after delay */
	POOL_STOPPING,		/* asking w to stop */
	POOL_KILLING,		/* w outlived the grace time: KILL */
	POOL_EXPIRED,		/* w reached its lifetime */
	POOL_EXITED,		/* w reaped with status; delay: restart delay,
				 * -1 none; quiet: an expected, clean end */
	POOL_RELOAD_FAILED,	/* the roll stopped: slot's new worker could
				 * not start (err, w NULL); or, with
				 * readiness, new worker w was not ready in
				 * time (err ETIMEDOUT) or ended first (err
				 * 0, status) */
	POOL_RELOAD_DONE,	/* every worker is of generation gen */
	POOL_GAVE_UP,		/* slot's worker died more than the restart
				 * limit allows: the pool is stopping */
	POOL_READY,		/* w reported ready */
	POOL_NOT_READY,		/* w was not ready within ready_timeout: it
				 * is being stopped */
	POOL_CANNOT_RUN,	/* the first exec report after pool_start was
				 * slot's failure (err): COMMAND cannot run;
				 * the pool is stopping, its other workers
				 * are killed unseen (no events) */
};

struct pool_event {
	enum pool_event_type type;
	const struct pool_worker *w;	/* NULL for slot-only events */
	int slot;
	int status;		/* waitpid status (POOL_EXITED) */
	int err;		/* errno (START_FAILED, RELOAD_FAILED) */
	int64_t delay;		/* ns, or -1 */
	int quiet;
	long gen;
};

struct pool_ops {
	/* Before a worker is spawned: fill o's in/out/err and pass, set
	 * w->data. 0, or -1 with errno (the start fails). */
	int (*prepare)(void *arg, struct pool_worker *w, struct spawn_opts *o);
	/* The spawn failed after prepare succeeded: undo it. */
	void (*discard)(void *arg, struct pool_worker *w);
	/* In the child, right before exec: set its environment. 0, or -1
	 * with errno. */
	int (*child)(void *arg, const struct pool_worker *w);
	/* Stop w in the caller's way (e.g. close its stdin). Return 0 if
	 * done so, -1 to have the pool send the stop signal. */
	int (*stop)(void *arg, struct pool_worker *w);
	/* w was reaped; ok: ended with 0 or by our stop signal or KILL. Runs
	 * before the pool decides on a successor (it may change what
	 * wanted() says). Returns 1 if the caller expected this end (it
	 * closed the worker's input), else 0. */
	int (*ended)(void *arg, struct pool_worker *w, int status, int ok);
	/* Does a dead worker need a successor? 1 or 0. NULL: always. */
	int (*wanted)(void *arg);
	void (*event)(void *arg, const struct pool_event *e);
	void *arg;
};

struct pool_conf {
	char *const *cmd;	/* COMMAND and its arguments */
	const char *title;	/* workers are TITLE-i */
	int n;			/* wanted workers */
	int stopsig;
	int64_t grace, maxdelay, lifetime;	/* ns; lifetime 0: none */
	int new_first;		/* reload: start the new before stopping the
				 * old (listening sockets queue meanwhile) */
	int pgroup;		/* each worker leads its own process group;
				 * stop signals and KILL go to the group */
	int max_restarts;	/* give up after more quick deaths than this */
	int64_t restart_window;	/* within this long (ns); 0: no limit */
	int ready;		/* workers report readiness (pool_ready) */
	const struct cgroup *cgroup;	/* NULL, or each worker runs in its
				 * own cgroup (worker-SLOT.PID) made in this
				 * one; its KILL is cgroup.kill, and once it is
				 * reaped what is left of its tree is KILLed
				 * and the cgroup removed when empty */
	int64_t ready_timeout;	/* ns a worker has for it */
};

/* A pool over loop l (it adds SIGCHLD-free timers only; the caller routes
 * SIGCHLD to pool_reap). conf is copied. NULL with errno. */
struct pool *pool_new(struct loop *l, const struct pool_conf *conf,
    const struct pool_ops *ops);

/* Start every slot: fork up to POOL_START_BATCH workers at once and
 * return; the loop collects their exec reports and forks the rest as
 * reports come in. A worker is not STARTED until its exec is reported;
 * until then USR1/USR2/WINCH skip it and a stop sends it the stop signal
 * (it may end before its exec). 0, or -1 with errno when not even the
 * first fork succeeded (nothing was started). A COMMAND that cannot be
 * exec'd comes later, as POOL_CANNOT_RUN. */
int pool_start(struct pool *p);

/* Reap exited children (call on SIGCHLD). 0, or -1 with errno. */
int pool_reap(struct pool *p);

/* Stop every worker (graceful: stop signal, KILL after grace; now: KILL
 * at once). Stopped slots are not restarted. */
void pool_stop(struct pool *p, int now);

/* Roll every worker over to a new generation. Returns the generation. */
long pool_reload(struct pool *p);

/* One worker more / fewer. Returns the new NUM, or -1 with errno (EBUSY
 * while stopping, ERANGE at a limit, ENOMEM). */
int pool_grow(struct pool *p);
int pool_shrink(struct pool *p);

/* Send sig to every live worker. */
void pool_signal(struct pool *p, int sig);

/* Retire w from its slot, stop it and fill the slot again (recycling). */
void pool_recycle(struct pool *p, struct pool_worker *w);

/* w is ready (conf.ready; the pool calls it itself on READY=1): it counts as up, and a roll waiting
 * for it goes on. A repeated report is ignored. */
void pool_ready(struct pool *p, struct pool_worker *w);

/* Start the wanted slots that are empty and not waiting for a restart.
 * Returns how many slots are starting (a worker just started, or a
 * restart pending). */
int pool_fill(struct pool *p);

/* Cancel pending restarts (no more work for new workers). */
void pool_hold(struct pool *p);

/* Wanted workers; current workers (slots filled; with readiness, a
 * slot's old worker stays current until its successor is ready); live workers (current
 * and retiring, plus with conf.cgroup the reaped workers' cgroups not
 * empty yet); 1 once stopping. */
int pool_size(const struct pool *p);
int pool_current(const struct pool *p);
/* Current workers that are up: ready ones with conf.ready, else all. */
int pool_up(const struct pool *p);
int pool_live(const struct pool *p);
int pool_stopping(const struct pool *p);
long pool_generation(const struct pool *p);

/* The pool's state as one JSON object (master_pid, generation, workers,
 * live, and per wanted slot: slot, pid, generation, started (RFC 3339
 * UTC), restarts, last_exit (how the last reaped worker of the slot
 * ended, or null)), ending in a newline, into buf. Returns its length,
 * or -1 with ENOSPC when buf is too small. */
int pool_status_json(const struct pool *p, char *buf, size_t size);

/* Free the memory of reaped workers (after each loop round: callbacks
 * queued for them may still run in the round that reaped them). */
void pool_collect(struct pool *p);

/* Levels for the text of an event. */
enum { POOL_LOG_VERBOSE, POOL_LOG_NOTICE, POOL_LOG_WARN };

/* The one-line text for e ("worker 3 (pid 812) exited with status 1;
 * restarting in 400ms"), without the program name, into buf. Returns its
 * level: POOL_LOG_WARN, POOL_LOG_NOTICE or POOL_LOG_VERBOSE. */
int pool_event_text(const struct pool *p, const struct pool_event *e,
    char *buf, size_t size);

/* Free the pool (workers should be gone). */
void pool_free(struct pool *p);

#endif
