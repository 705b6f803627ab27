/* pool: supervision of a set of worker processes (see pool.h). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "notify.h"
#include "parse.h"
#include "pool.h"
#include "spawn.h"

/* Live workers by pid: a stop reaps thousands, each looked up once. */
#define POOL_HASH 4096

struct worker {
	struct pool_worker pub;	/* first: the caller sees this part */
	struct worker *next;	/* in the live list, then the graveyard */
	struct worker *prev;	/* in the live list */
	struct worker *hnext;	/* in its pid's hash chain */
	struct pool *pool;
	int dead;		/* reaped: queued timers must ignore it */
	int expired;		/* lifetime: due for replacement */
	int notready;		/* stopped for not being ready in time */
	long grace_timer, life_timer, ready_timer;
	int rfd;		/* conf.ready: its NOTIFY_SOCKET, or -1 */
	struct cgroup cg;	/* conf.cgroup: its own cgroup (path NULL:
				 * none) */
	int efd;		/* pending: its spawn report pipe, or -1 */
	int pending;		/* forked by pool_start, exec not reported */
	int held;		/* exec reported during pool_start: STARTED
				 * once the whole start is in */
	int ready_early;	/* READY=1 came before STARTED */
	int unseen;		/* its start failed (or was cancelled): out
				 * of its slot, buried without events once
				 * reaped */
	char rname[64];		/* and that socket's name */
};

/* The cgroup of a reaped worker, KILLed, until it is empty. */
struct drain {
	struct cgroup cg;
	struct drain *next;
};

/* How often a draining cgroup is looked at (no inotify instance per
 * cgroup: a stop of thousands would run out of them). */
#define DRAIN_TICK	(10 * 1000000LL)

struct slot {
	struct pool *pool;
	int i;
	struct worker *w;	/* current worker or NULL */
	int quick;		/* deaths in a row that came too soon */
	long timer;		/* restart timer, 0 when none */
	int64_t *deaths;	/* max_restarts: ring of recent crash times */
	int ndeaths;
	int nretiring;		/* retired workers of this slot still alive */
	int deferred;		/* a recycle waits for them to go */
	long starts;		/* workers started in the slot */
	int64_t started_wall;	/* when the current one started */
	int last_status;	/* waitpid status of the last one reaped */
	int exited;		/* one was reaped */
};

struct pool {
	struct loop *loop;
	struct pool_conf c;
	struct pool_ops ops;
	int stopping;
	long gen;
	int rolling;
	struct worker *roll_old;
	struct worker *roll_new;	/* readiness: the successor waited for */
	struct worker *roll_best;	/* and the worker it is to replace */
	struct slot **slots;	/* stable: timers point at them */
	int nslots;		/* allocated; c.n are wanted */
	struct worker *live, *grave;
	struct worker *byp[POOL_HASH];	/* live workers by pid */
	int nlive;
	int started_any;
	int cannot_run;		/* the first start report was a failure */
	int npending;		/* workers forked, exec not reported */
	int next_start;		/* pool_start: the next slot to fork */
	int starting;		/* pool_start's reports are coming in */
	struct drain *drain;	/* conf.cgroup: killed, not empty yet */
	int ndrain;
	long drain_timer;
	uint64_t rnd;
};

static int slot_start(struct pool *, int);
static void roll_next(struct pool *);
static void roll_fail(struct pool *, int, int);
static void worker_stop(struct pool *, struct worker *);
static void worker_bury(struct pool *, struct worker *);
static int start_more(struct pool *);
static void drain_add(struct pool *, struct worker *);
static int64_t slot_backoff(struct pool *, struct slot *, int64_t);
static int slot_schedule(struct pool *, int, int64_t);

/* a + b for deadlines, saturated: durations near the int64 limit must
 * not wrap into the past. */
static int64_t
sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	return a + b;
}

static uint64_t
rnd_next(struct pool *p)
{
	p->rnd ^= p->rnd << 13;
	p->rnd ^= p->rnd >> 7;
	p->rnd ^= p->rnd << 17;
	return p->rnd;
}

static void
emit(struct pool *p, enum pool_event_type type, struct worker *w, int slot)
{
	struct pool_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.w = w ? &w->pub : NULL;
	e.slot = w ? w->pub.slot : slot;
	e.delay = -1;
	e.gen = p->gen;
	if (p->ops.event)
		p->ops.event(p->ops.arg, &e);
}

static void
emit_err(struct pool *p, enum pool_event_type type, int slot, int err,
    int64_t delay)
{
	struct pool_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.slot = slot;
	e.err = err;
	e.delay = delay;
	e.gen = p->gen;
	if (p->ops.event)
		p->ops.event(p->ops.arg, &e);
}

static int
wanted(struct pool *p)
{
	return p->ops.wanted == NULL || p->ops.wanted(p->ops.arg);
}

/* Signal a worker, or its process group when it leads one. */
static void
worker_kill(struct worker *w, int sig)
{
	/* KILL reaches the worker's whole tree through its cgroup. */
	if (sig == SIGKILL && w->cg.path != NULL &&
	    cgroup_kill(&w->cg) == 0)
		return;
	/* A pending worker may not lead its group yet. */
	if (!w->pool->c.pgroup || kill(-w->pub.pid, sig) < 0)
		(void)kill(w->pub.pid, sig);
}

static void
on_grace(struct loop *l, void *arg)
{
	struct worker *w = arg;

	(void)l;
	w->grace_timer = 0;
	if (w->dead)
		return;
	emit(w->pool, POOL_KILLING, w, 0);
	w->pub.signalled = 1;
	worker_kill(w, SIGKILL);
}

static void
on_lifetime(struct loop *l, void *arg)
{
	struct worker *w = arg;

	(void)l;
	w->life_timer = 0;
	if (w->dead || w->pub.retiring)
		return;
	emit(w->pool, POOL_EXPIRED, w, 0);
	w->expired = 1;
	roll_next(w->pool);
}

static void
on_ready_timer(struct loop *l, void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;

	(void)l;
	w->ready_timer = 0;
	if (w->dead || w->pub.ready || w->pub.stopping)
		return;
	if (w == p->roll_new) {
		roll_fail(p, ETIMEDOUT, 0);
		return;
	}
	emit(p, POOL_NOT_READY, w, 0);
	w->notready = 1;
	worker_stop(p, w);
}

struct child_arg {
	struct pool *p;
	struct worker *w;
};

static int
child_hook(void *arg)
{
	struct child_arg *a = arg;

	if (a->w->rfd >= 0 && setenv("NOTIFY_SOCKET", a->w->rname, 1) < 0)
		return -1;
	if (a->w->cg.path != NULL && cgroup_enter(&a->w->cg) < 0)
		return -1;
	return a->p->ops.child ? a->p->ops.child(a->p->ops.arg, &a->w->pub) :
	    0;
}

static void
ready_close(struct worker *w)
{
	if (w->rfd < 0)
		return;
	(void)loop_fd(w->pool->loop, w->rfd, 0, NULL, NULL);
	close(w->rfd);
	w->rfd = -1;
}

static void
on_ready_sock(struct loop *l, int fd, int events, void *arg)
{
	struct worker *w = arg;
	int got = notify_recv_ready(fd);

	(void)l;
	(void)events;
	/* On a read error the worker can no longer report: its ready
	 * timer decides. */
	if (got != 0)
		ready_close(w);
	if (got > 0)
		pool_ready(w->pool, &w->pub);
}

/* The socket w reports READY=1 on, made before the fork so that a report
 * can never come before we listen. 0, or -1 with errno. */
static int
ready_open(struct worker *w)
{
	int e;

	if ((w->rfd = notify_listen(w->rname, sizeof(w->rname))) < 0)
		return -1;
	if (loop_fd(w->pool->loop, w->rfd, LOOP_IN, on_ready_sock, w) < 0) {
		e = errno;
		close(w->rfd);
		w->rfd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

/* w's process runs COMMAND: it is up in its slot from now on. */
static void
worker_up(struct pool *p, struct worker *w)
{
	struct slot *s = p->slots[w->pub.slot];
	int64_t life;

	w->pub.started = clock_mono();
	if (p->c.lifetime > 0) {
		/* Up to 10 % later, so workers do not all recycle at once. */
		life = sat_add(p->c.lifetime, (int64_t)(rnd_next(p) %
		    (uint64_t)(p->c.lifetime / 10 + 1)));
		w->life_timer = loop_timer(p->loop, sat_add(w->pub.started,
		    life), on_lifetime, w);
		if (w->life_timer < 0) {
			/* The process runs: keep it, without a lifetime. */
			w->life_timer = 0;
		}
	}
	if (p->c.ready) {
		w->ready_timer = loop_timer(p->loop, sat_add(w->pub.started,
		    p->c.ready_timeout), on_ready_timer, w);
		if (w->ready_timer < 0)
			w->ready_timer = 0;	/* it may still report */
	}
	s->starts++;
	s->started_wall = clock_wall();
	p->started_any = 1;
	emit(p, POOL_STARTED, w, 0);
	if (w->ready_early)
		pool_ready(p, &w->pub);
}

static void
report_close(struct worker *w)
{
	if (w->pending) {
		w->pending = 0;
		w->pool->npending--;
	}
	if (w->efd < 0)
		return;
	(void)loop_fd(w->pool->loop, w->efd, 0, NULL, NULL);
	close(w->efd);
	w->efd = -1;
}

/* Take a pending worker out of sight: out of its slot, no timers; it
 * stays live until reaped, then goes without an event. */
static void
worker_unsee(struct pool *p, struct worker *w)
{
	struct slot *s = p->slots[w->pub.slot];

	report_close(w);
	w->unseen = 1;
	if (s->w == w)
		s->w = NULL;
	if (w->grace_timer)
		loop_timer_cancel(p->loop, w->grace_timer);
	w->grace_timer = 0;
}

/* A pending worker's exec failed with err (its process exits 127; the
 * reaping ignores it once it is buried). The first report of the pool
 * being a failure means COMMAND cannot run: POOL_CANNOT_RUN, and every
 * other pending worker is killed. Else the slot retries as for any
 * failed start. */
static void
worker_start_failed(struct pool *p, struct worker *w, int err)
{
	struct worker *o;
	int64_t delay;
	int i = w->pub.slot;

	worker_unsee(p, w);
	if (p->ops.discard)
		p->ops.discard(p->ops.arg, &w->pub);
	if (p->cannot_run)
		return;
	if (!p->started_any && !p->stopping) {
		p->cannot_run = 1;
		p->stopping = 1;
		for (o = p->live; o; o = o->next)
			if (o->pending) {
				o->pub.signalled = 1;
				(void)kill(o->pub.pid, SIGKILL);
			}
		emit_err(p, POOL_CANNOT_RUN, i, err, -1);
		return;
	}
	if (p->stopping || i >= p->c.n)
		return;
	delay = slot_backoff(p, p->slots[i], 0);
	emit_err(p, POOL_START_FAILED, i, err, delay);
	if (slot_schedule(p, i, delay) < 0)
		emit_err(p, POOL_START_FAILED, i, errno, -1);
}

/* Read a pending worker's report: up, or its start failed (then it is
 * out of sight). Returns 0 if it is up, -1 if not. */
static int
worker_report(struct pool *p, struct worker *w)
{
	int e;

	if (spawn_report(w->efd) < 0) {
		e = errno;
		worker_start_failed(p, w, e);
		return -1;
	}
	if (p->cannot_run) {
		/* Killed with the others: it ends unseen. */
		if (p->ops.discard)
			p->ops.discard(p->ops.arg, &w->pub);
		worker_unsee(p, w);
		return -1;
	}
	report_close(w);
	p->started_any = 1;
	if (p->starting)
		w->held = 1;
	else
		worker_up(p, w);
	return 0;
}

static void
on_report(struct loop *l, int fd, int events, void *arg)
{
	struct worker *w = arg;

	(void)l;
	(void)fd;
	(void)events;
	if (!w->dead && w->pending) {
		(void)worker_report(w->pool, w);
		start_more(w->pool);
	}
}

/* Start a worker in slot i; it becomes the slot's current worker. With
 * async, it is only forked: it is pending until its report comes
 * (on_report), and may yet fail. Returns it, or NULL with errno. */
static struct worker *
worker_start(struct pool *p, int i, int async)
{
	struct spawn_opts o;
	struct child_arg ca;
	struct worker *w;
	char argv0[256];
	int e;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->pool = p;
	w->rfd = -1;
	w->efd = -1;
	w->pub.slot = i;
	w->pub.gen = p->gen;
	memset(&o, 0, sizeof(o));
	snprintf(argv0, sizeof(argv0), "%s-%d", p->c.title, i);
	o.argv0 = argv0;
	o.in = o.out = o.err = -1;
	o.pdeathsig = SIGKILL;
	o.setpgid = p->c.pgroup;
	ca.p = p;
	ca.w = w;
	o.hook = child_hook;
	o.hook_arg = &ca;
	w->cg.procs = -1;
	if (p->c.ready && ready_open(w) < 0)
		goto fail;
	if (p->c.cgroup != NULL) {
		snprintf(argv0, sizeof(argv0), "worker-%d", i);
		if (cgroup_create(p->c.cgroup->path, argv0, &w->cg) < 0)
			goto fail;
		/* The child opens cgroup.procs afresh (cgroup_enter): no
		 * fd a worker held here. */
		close(w->cg.procs);
		w->cg.procs = -1;
		snprintf(argv0, sizeof(argv0), "%s-%d", p->c.title, i);
	}
	if (p->ops.prepare && p->ops.prepare(p->ops.arg, &w->pub, &o) < 0)
		goto fail;
	if (async)
		w->pub.pid = spawn_fork(p->c.cmd, &o, &w->efd);
	else
		w->pub.pid = spawn_start(p->c.cmd, &o);
	if (w->pub.pid > 0 && async && loop_fd(p->loop, w->efd, LOOP_IN,
	    on_report, w) < 0) {
		/* Cannot watch it: wait for its report here. */
		e = spawn_report(w->efd);
		close(w->efd);
		w->efd = -1;
		if (e < 0) {
			e = errno;
			while (waitpid(w->pub.pid, NULL, 0) < 0 &&
			    errno == EINTR)
				;
			errno = e;
			w->pub.pid = -1;
		}
		async = 0;
	}
	if (w->pub.pid < 0) {
		e = errno;
		if (p->ops.discard)
			p->ops.discard(p->ops.arg, &w->pub);
		errno = e;
		goto fail;
	}
	w->prev = NULL;
	w->next = p->live;
	if (p->live != NULL)
		p->live->prev = w;
	p->live = w;
	p->nlive++;
	w->hnext = p->byp[w->pub.pid % POOL_HASH];
	p->byp[w->pub.pid % POOL_HASH] = w;
	p->slots[i]->w = w;
	if (async) {
		w->pending = 1;
		p->npending++;
	} else
		worker_up(p, w);
	return w;
fail:
	e = errno;
	ready_close(w);
	if (w->cg.path != NULL)
		(void)cgroup_remove(&w->cg);
	free(w);
	errno = e;
	return NULL;
}

static void
on_slot_timer(struct loop *l, void *arg)
{
	struct slot *s = arg;

	(void)l;
	s->timer = 0;
	slot_start(s->pool, s->i);
}

/* The delay before the next start in a slot whose worker just died (or
 * could not start): none after a worker that stayed up, else doubling
 * from POOL_BACKOFF_MIN up to maxdelay, never below POOL_DELAY_FLOOR. */
static int64_t
slot_backoff(struct pool *p, struct slot *s, int64_t uptime)
{
	int64_t d;

	if (uptime >= POOL_STABLE) {
		s->quick = 0;
		return 0;
	}
	d = POOL_BACKOFF_MIN << (s->quick < 20 ? s->quick : 20);
	if (s->quick < 30)
		s->quick++;
	if (d > p->c.maxdelay)
		d = p->c.maxdelay;
	return d < POOL_DELAY_FLOOR ? POOL_DELAY_FLOOR : d;
}

static void
slot_cancel(struct pool *p, struct slot *s)
{
	if (s->timer)
		loop_timer_cancel(p->loop, s->timer);
	s->timer = 0;
}

/* Restart slot i after delay. 0, or -1 with errno (no timer: the slot
 * stays empty until pool_fill). */
static int
slot_schedule(struct pool *p, int i, int64_t delay)
{
	struct slot *s = p->slots[i];

	slot_cancel(p, s);
	s->timer = loop_timer(p->loop, sat_add(clock_mono(), delay),
	    on_slot_timer, s);
	if (s->timer > 0)
		return 0;
	s->timer = 0;
	return -1;
}

/* Fill slot i if it is wanted and empty. A start that fails is retried
 * with backoff, except before any worker ever ran: then COMMAND cannot
 * run and the caller hears -1. */
static int
slot_start(struct pool *p, int i)
{
	struct slot *s = p->slots[i];
	int64_t delay;
	int e;

	slot_cancel(p, s);
	if (p->stopping || i >= p->c.n || s->w != NULL || !wanted(p))
		return 0;
	if (worker_start(p, i, 0) != NULL)
		return 0;
	if (!p->started_any)
		return -1;
	e = errno;
	delay = slot_backoff(p, s, 0);
	emit_err(p, POOL_START_FAILED, i, e, delay);
	if (slot_schedule(p, i, delay) < 0)
		emit_err(p, POOL_START_FAILED, i, errno, -1);
	errno = e;
	return -1;
}

/* Ask a worker to end: the caller's way, or the stop signal; KILL after
 * the grace time. */
static void
worker_stop(struct pool *p, struct worker *w)
{
	if (w->pub.stopping || w->unseen)
		return;
	w->pub.stopping = 1;
	emit(p, POOL_STOPPING, w, 0);
	/* A pending worker gets the signal: it ends before its exec if it
	 * comes in time (the child unblocks signals right before exec). */
	if (w->pending || w->held || p->ops.stop == NULL ||
	    p->ops.stop(p->ops.arg, &w->pub) < 0) {
		w->pub.signalled = 1;
		worker_kill(w, p->c.stopsig);
	}
	w->grace_timer = loop_timer(p->loop, sat_add(clock_mono(),
	    p->c.grace), on_grace, w);
	if (w->grace_timer < 0) {
		/* Without a timer there would be no KILL: send it now. */
		w->grace_timer = 0;
		w->pub.signalled = 1;
		worker_kill(w, SIGKILL);
	}
}

/* Take a worker out of its slot. */
static void
worker_retire(struct pool *p, struct worker *w)
{
	struct slot *s = p->slots[w->pub.slot];

	if (s->w == w)
		s->w = NULL;
	if (!w->pub.retiring)
		s->nretiring++;
	w->pub.retiring = 1;
}

/* Remove the cgroups that are empty now; look again later while any is
 * not. */
static void
on_drain(struct loop *l, void *arg)
{
	struct pool *p = arg;
	struct drain **dp, *d;

	(void)l;
	p->drain_timer = 0;
	for (dp = &p->drain; (d = *dp) != NULL;) {
		if (cgroup_populated(&d->cg) > 0) {
			dp = &d->next;
			continue;
		}
		*dp = d->next;
		(void)cgroup_remove(&d->cg);
		free(d);
		p->ndrain--;
	}
	if (p->drain != NULL && (p->drain_timer = loop_timer(p->loop,
	    sat_add(clock_mono(), DRAIN_TICK), on_drain, p)) < 0) {
		/* No timer: wait for each here, briefly (they were KILLed). */
		p->drain_timer = 0;
		while ((d = p->drain) != NULL) {
			(void)cgroup_wait_empty(&d->cg, sat_add(clock_mono(),
			    NS_PER_SEC));
			p->drain = d->next;
			(void)cgroup_remove(&d->cg);
			free(d);
			p->ndrain--;
		}
	}
}

/* A reaped worker's cgroup: KILL what is left of its tree (descendants
 * that outlived it, also ones that called setsid or double-forked) and
 * remove the cgroup once empty. */
static void
drain_add(struct pool *p, struct worker *w)
{
	struct drain *d = NULL;

	if (w->cg.path == NULL)
		return;
	(void)cgroup_kill(&w->cg);
	if (cgroup_populated(&w->cg) != 0 && (d = calloc(1,
	    sizeof(*d))) == NULL)
		/* No memory to wait in the loop: they are KILLed, wait
		 * here. */
		(void)cgroup_wait_empty(&w->cg, sat_add(clock_mono(),
		    NS_PER_SEC));
	if (cgroup_populated(&w->cg) <= 0 || d == NULL) {
		(void)cgroup_remove(&w->cg);
		free(d);
		return;
	}
	d->cg = w->cg;
	w->cg.path = w->cg.procs_path = NULL;
	d->next = p->drain;
	p->drain = d;
	p->ndrain++;
	if (p->drain_timer == 0)
		on_drain(p->loop, p);
}

static void
worker_bury(struct pool *p, struct worker *w)
{
	struct worker **pp;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		p->live = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	p->nlive--;
	for (pp = &p->byp[w->pub.pid % POOL_HASH]; *pp; pp = &(*pp)->hnext)
		if (*pp == w) {
			*pp = w->hnext;
			break;
		}
	w->dead = 1;
	ready_close(w);
	report_close(w);
	drain_add(p, w);
	if (w->pub.retiring)
		p->slots[w->pub.slot]->nretiring--;
	if (p->slots[w->pub.slot]->w == w)
		p->slots[w->pub.slot]->w = NULL;
	if (w->grace_timer)
		loop_timer_cancel(p->loop, w->grace_timer);
	if (w->life_timer)
		loop_timer_cancel(p->loop, w->life_timer);
	if (w->ready_timer)
		loop_timer_cancel(p->loop, w->ready_timer);
	w->grace_timer = w->life_timer = w->ready_timer = 0;
	/* Freed after this loop round: timers for it may be queued. */
	w->next = p->grave;
	p->grave = w;
}

/* A crash in slot s: has it crashed more than max_restarts times within
 * restart_window? 1 or 0. */
static int
slot_crashed(struct pool *p, struct slot *s)
{
	int64_t now = clock_mono();
	int cap = p->c.max_restarts + 1, k;

	if (p->c.restart_window <= 0)
		return 0;
	if (s->deaths == NULL &&
	    (s->deaths = calloc((size_t)cap, sizeof(*s->deaths))) == NULL)
		return 0;
	/* A ring of the last cap crash times, oldest at ndeaths % cap. */
	k = s->ndeaths % cap;
	s->deaths[k] = now;
	s->ndeaths++;
	if (s->ndeaths < cap)
		return 0;
	return now - s->deaths[s->ndeaths % cap] <= p->c.restart_window;
}

/* A worker was reaped. */
static void worker_ended(struct pool *, struct worker *, int);

/* A worker was reaped; one still pending has its report read first (it
 * is there: the child wrote it before it ended). */
static void
worker_exited(struct pool *p, struct worker *w, int st)
{
	if (w->pending) {
		if (worker_report(p, w) < 0)
			w->unseen = 1;
		start_more(p);
	}
	if (w->held) {
		w->held = 0;
		worker_up(p, w);
	}
	if (w->unseen) {
		if (!w->dead)
			worker_bury(p, w);
		return;
	}
	worker_ended(p, w, st);
}

static void
worker_ended(struct pool *p, struct worker *w, int st)
{
	struct slot *s = p->slots[w->pub.slot];
	/* The old worker of a gated roll: its successor takes the slot. */
	int handover = w == p->roll_best;
	int cur = s->w == w && !handover;
	int expected = (w->pub.stopping && !w->notready) || p->stopping;
	int ok = !w->notready && ((WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
	    (w->pub.signalled && WIFSIGNALED(st) &&
	    (WTERMSIG(st) == p->c.stopsig || WTERMSIG(st) == SIGKILL)));
	int64_t uptime = clock_mono() - w->pub.started;
	struct pool_event e;

	if (p->ops.ended && p->ops.ended(p->ops.arg, &w->pub, st, ok))
		expected = 1;
	s->last_status = st;
	s->exited = 1;
	worker_bury(p, w);
	memset(&e, 0, sizeof(e));
	e.type = POOL_EXITED;
	e.w = &w->pub;
	e.slot = w->pub.slot;
	e.status = st;
	e.delay = -1;
	e.gen = p->gen;
	if (cur && !p->stopping && w->pub.slot < p->c.n && wanted(p)) {
		if (!ok && !expected && slot_crashed(p, s)) {
			if (p->ops.event)
				p->ops.event(p->ops.arg, &e);
			emit(p, POOL_GAVE_UP, NULL, w->pub.slot);
			pool_stop(p, 0);
			return;
		}
		e.delay = slot_backoff(p, s, uptime);
	}
	e.quiet = e.delay < 0 && expected && ok;
	if (p->ops.event)
		p->ops.event(p->ops.arg, &e);
	if (w == p->roll_new) {
		roll_fail(p, 0, st);
		return;
	}
	if (handover) {
		s->w = p->roll_new;
		p->roll_new = p->roll_best = NULL;
		roll_next(p);
		return;
	}
	if (e.delay == 0)
		slot_start(p, w->pub.slot);
	else if (e.delay > 0 && slot_schedule(p, w->pub.slot, e.delay) < 0)
		emit_err(p, POOL_START_FAILED, w->pub.slot, errno, -1);
	if (s->deferred && s->nretiring <= 1) {
		s->deferred = 0;
		slot_start(p, w->pub.slot);
	}
	if (w == p->roll_old) {
		p->roll_old = NULL;
		if (!p->c.new_first)
			slot_start(p, w->pub.slot);
		roll_next(p);
	}
}

int
pool_reap(struct pool *p)
{
	struct worker *w;
	pid_t pid;
	int st;

	/* Signals coalesce: one SIGCHLD may stand for many exits. */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (w = p->byp[pid % POOL_HASH]; w; w = w->hnext)
			if (w->pub.pid == pid)
				break;
		if (w != NULL)
			worker_exited(p, w, st);
	}
	if (pid < 0 && errno != ECHILD)
		return -1;
	return 0;
}

/* Replace, one slot at a time, every worker of an older generation or
 * past its lifetime. Called on reload, on expiry and whenever the worker
 * being replaced is reaped. */
static void
roll_next(struct pool *p)
{
	struct worker *w, *best = NULL;
	int i;

	if (p->stopping || p->roll_old != NULL || p->roll_new != NULL)
		return;
	for (i = 0; i < p->c.n; i++) {
		w = p->slots[i]->w;
		if (w == NULL || (w->pub.gen >= p->gen && !w->expired))
			continue;
		if (best == NULL || w->pub.gen < best->pub.gen)
			best = w;
	}
	if (best == NULL) {
		if (p->rolling)
			emit(p, POOL_RELOAD_DONE, NULL, 0);
		p->rolling = 0;
		return;
	}
	i = best->pub.slot;
	if (p->c.ready) {
		/* The old worker keeps its slot until the new one is ready. */
		if ((w = worker_start(p, i, 0)) == NULL) {
			emit_err(p, POOL_RELOAD_FAILED, i, errno, -1);
			best->expired = 0;
			p->rolling = 0;
			return;
		}
		p->slots[i]->w = best;
		p->roll_new = w;
		p->roll_best = best;
		return;
	}
	worker_retire(p, best);
	if (p->c.new_first && worker_start(p, i, 0) == NULL) {
		/* New before old: there is always a worker accepting. */
		emit_err(p, POOL_RELOAD_FAILED, i, errno, -1);
		p->slots[i]->w = best;
		best->pub.retiring = 0;
		p->slots[i]->nretiring--;
		best->expired = 0;
		p->rolling = 0;
		return;
	}
	p->roll_old = best;
	worker_stop(p, best);
}

/* The gated roll's new worker was not ready in time (err ETIMEDOUT) or
 * ended first (status st): stop it, keep the old ones. */
static void
roll_fail(struct pool *p, int err, int st)
{
	struct worker *w = p->roll_new;
	struct pool_event e;

	p->roll_new = NULL;
	if (p->roll_best != NULL)
		p->roll_best->expired = 0;
	p->roll_best = NULL;
	p->rolling = 0;
	memset(&e, 0, sizeof(e));
	e.type = POOL_RELOAD_FAILED;
	e.w = &w->pub;
	e.slot = w->pub.slot;
	e.err = err;
	e.status = st;
	e.delay = -1;
	e.gen = p->gen;
	if (p->ops.event)
		p->ops.event(p->ops.arg, &e);
	if (!w->dead) {
		worker_retire(p, w);
		worker_stop(p, w);
	}
}

void
pool_ready(struct pool *p, struct pool_worker *pw)
{
	struct worker *w = (struct worker *)pw, *old;
	struct slot *s = p->slots[pw->slot];

	if (w->dead || pw->ready)
		return;
	ready_close(w);
	if (w->pending || w->held) {
		w->ready_early = 1;	/* said once it is STARTED */
		return;
	}
	pw->ready = 1;
	if (w->ready_timer)
		loop_timer_cancel(p->loop, w->ready_timer);
	w->ready_timer = 0;
	emit(p, POOL_READY, w, 0);
	if (w != p->roll_new)
		return;
	old = s->w;
	s->w = w;
	p->roll_new = p->roll_best = NULL;
	if (old == NULL || old == w) {
		roll_next(p);
		return;
	}
	worker_retire(p, old);
	p->roll_old = old;
	worker_stop(p, old);
}

long
pool_reload(struct pool *p)
{
	if (p->stopping)
		return p->gen;
	p->gen++;
	p->rolling = 1;
	roll_next(p);
	return p->gen;
}

static int
slots_grow(struct pool *p, int n)
{
	struct slot **ns;
	int i;

	if (n <= p->nslots)
		return 0;
	if ((ns = realloc(p->slots, (size_t)n * sizeof(*ns))) == NULL)
		return -1;
	p->slots = ns;
	for (i = p->nslots; i < n; i++) {
		if ((ns[i] = calloc(1, sizeof(**ns))) == NULL)
			return -1;
		ns[i]->pool = p;
		ns[i]->i = i;
		p->nslots = i + 1;
	}
	return 0;
}

struct pool *
pool_new(struct loop *l, const struct pool_conf *conf,
    const struct pool_ops *ops)
{
	struct pool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->loop = l;
	p->c = *conf;
	p->ops = *ops;
	p->rnd = (uint64_t)clock_wall() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ULL;
	if (p->rnd == 0)
		p->rnd = 1;
	if (slots_grow(p, conf->n) < 0) {
		pool_free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

/* Every report of pool_start is in: the workers that exec'd are
 * STARTED, in slot order (as if started one by one). */
static void
start_done(struct pool *p)
{
	struct worker *w;
	int i;

	p->starting = 0;
	for (i = 0; i < p->c.n && i < p->nslots; i++) {
		w = p->slots[i]->w;
		if (w != NULL && w->held) {
			w->held = 0;
			worker_up(p, w);
		}
	}
	for (w = p->live; w; w = w->next)
		if (w->held) {
			w->held = 0;
			worker_up(p, w);
		}
}

/* pool_start's forks: up to POOL_START_BATCH pending at once, the rest
 * as reports come in (a fork copies the fd table, which holds every
 * pending report pipe; and execs beyond the CPUs' count only queue).
 * Returns how many were forked, or -1 with errno when the first fork
 * failed and nothing is pending. */
static int
start_more(struct pool *p)
{
	int i, e, n = 0;

	while (!p->stopping && p->npending < POOL_START_BATCH &&
	    p->next_start < p->c.n) {
		i = p->next_start++;
		if (p->slots[i]->w != NULL || p->slots[i]->timer != 0 ||
		    !wanted(p))
			continue;
		if (worker_start(p, i, 1) != NULL) {
			n++;
			continue;
		}
		e = errno;
		if (p->npending == 0 && !p->started_any) {
			errno = e;
			return -1;	/* nothing runs */
		}
		emit_err(p, POOL_START_FAILED, i, e, POOL_BACKOFF_MIN);
		if (slot_schedule(p, i, POOL_BACKOFF_MIN) < 0)
			emit_err(p, POOL_START_FAILED, i, errno, -1);
	}
	if (p->starting && p->npending == 0 && (p->stopping ||
	    p->next_start >= p->c.n))
		start_done(p);
	return n;
}

int
pool_start(struct pool *p)
{
	/* Fork the workers and let the loop collect their reports: the
	 * execs run in parallel. */
	p->next_start = 0;
	p->starting = 1;
	if (start_more(p) < 0) {
		p->starting = 0;
		return -1;
	}
	return 0;
}

void
pool_stop(struct pool *p, int now)
{
	struct worker *w;
	int i;

	if (!p->stopping) {
		p->stopping = 1;
		p->roll_new = p->roll_best = NULL;
		for (i = 0; i < p->nslots; i++)
			slot_cancel(p, p->slots[i]);
		for (w = p->live; w; w = w->next)
			worker_stop(p, w);
	}
	if (now)
		for (w = p->live; w; w = w->next) {
			if (w->unseen)
				continue;
			w->pub.signalled = 1;
			worker_kill(w, SIGKILL);
		}
}

int
pool_grow(struct pool *p)
{
	if (p->stopping) {
		errno = EBUSY;
		return -1;
	}
	if (p->c.n >= POOL_MAX_WORKERS) {
		errno = ERANGE;
		return -1;
	}
	if (slots_grow(p, p->c.n + 1) < 0) {
		errno = ENOMEM;
		return -1;
	}
	p->c.n++;
	slot_start(p, p->c.n - 1);
	return p->c.n;
}

int
pool_shrink(struct pool *p)
{
	struct slot *s;

	if (p->stopping) {
		errno = EBUSY;
		return -1;
	}
	if (p->c.n <= 1) {
		errno = ERANGE;
		return -1;
	}
	s = p->slots[--p->c.n];
	slot_cancel(p, s);
	if (p->roll_new != NULL && p->roll_new->pub.slot == p->c.n) {
		struct worker *nw = p->roll_new;

		p->roll_new = p->roll_best = NULL;
		worker_retire(p, nw);
		worker_stop(p, nw);
	}
	s->quick = 0;
	s->ndeaths = 0;
	s->deferred = 0;
	if (s->w != NULL) {
		struct worker *w = s->w;

		worker_retire(p, w);
		worker_stop(p, w);
	}
	return p->c.n;
}

void
pool_signal(struct pool *p, int sig)
{
	struct worker *w;

	for (w = p->live; w; w = w->next)
		if (!w->pending && !w->held && !w->unseen)
			(void)kill(w->pub.pid, sig);
}

void
pool_recycle(struct pool *p, struct pool_worker *pw)
{
	struct worker *w = (struct worker *)pw;

	struct slot *s = p->slots[pw->slot];

	worker_retire(p, w);
	worker_stop(p, w);
	/* Churn (-m 1) must not outrun the reaping: with one retired worker
	 * of this slot still alive, the successor waits for it to go. The
	 * master's memory stays bounded by 2 x NUM workers. */
	if (s->nretiring > 1)
		s->deferred = 1;
	else
		slot_start(p, pw->slot);
}

int
pool_fill(struct pool *p)
{
	struct slot *s;
	int i, n = 0;

	for (i = 0; i < p->c.n; i++) {
		s = p->slots[i];
		if (s->deferred) {
			n++;
			continue;
		}
		if (s->w == NULL && s->timer == 0) {
			slot_start(p, i);
			if (s->w != NULL)
				n++;
		}
		if (s->timer)
			n++;
	}
	return n;
}

void
pool_hold(struct pool *p)
{
	int i;

	for (i = 0; i < p->nslots; i++)
		slot_cancel(p, p->slots[i]);
}

int
pool_size(const struct pool *p)
{
	return p->c.n;
}

int
pool_current(const struct pool *p)
{
	int i, n = 0;

	for (i = 0; i < p->c.n; i++)
		n += p->slots[i]->w != NULL && !p->slots[i]->w->pending &&
		    !p->slots[i]->w->held;
	return n;
}

int
pool_up(const struct pool *p)
{
	int i, n = 0;

	for (i = 0; i < p->c.n; i++)
		n += p->slots[i]->w != NULL && !p->slots[i]->w->pending &&
		    !p->slots[i]->w->held && (!p->c.ready || p->slots[i]->w->pub.ready);
	return n;
}

int
pool_live(const struct pool *p)
{
	return p->nlive + p->ndrain;
}

int
pool_stopping(const struct pool *p)
{
	return p->stopping;
}

long
pool_generation(const struct pool *p)
{
	return p->gen;
}

int
pool_status_json(const struct pool *p, char *buf, size_t size)
{
	char t[40], how[128];
	size_t n = 0;
	int i, r;
	const struct slot *sl;

#define PUT(...) do { \
	r = snprintf(buf + n, size - n, __VA_ARGS__); \
	if (r < 0 || (size_t)r >= size - n) \
		goto full; \
	n += (size_t)r; \
} while (0)
	if (size == 0)
		goto full;
	PUT("{\"master_pid\": %ld, \"generation\": %ld, \"workers\": %d, "
	    "\"live\": %d, \"slots\": [", (long)getpid(), p->gen, p->c.n,
	    p->nlive);
	for (i = 0; i < p->c.n && i < p->nslots; i++) {
		sl = p->slots[i];
		PUT("%s\n  {\"slot\": %d, ", i ? "," : "", i);
		if (sl->w != NULL)
			PUT("\"pid\": %ld, \"generation\": %ld, \"started\": "
			    "\"%s\", ", (long)sl->w->pub.pid, sl->w->pub.gen,
			    clock_rfc3339(sl->started_wall, t, sizeof(t)));
		else
			PUT("\"pid\": null, \"generation\": null, "
			    "\"started\": null, ");
		PUT("\"restarts\": %ld, \"last_exit\": ", sl->starts > 0 ?
		    sl->starts - 1 : 0);
		if (sl->exited)
			PUT("\"%s\"}", spawn_status_text(sl->last_status, how,
			    sizeof(how)));
		else
			PUT("null}");
	}
	PUT("\n]}\n");
#undef PUT
	return (int)n;
full:
	errno = ENOSPC;
	return -1;
}

void
pool_collect(struct pool *p)
{
	struct worker *w;

	while ((w = p->grave) != NULL) {
		p->grave = w->next;
		free(w);
	}
}

void
pool_free(struct pool *p)
{
	struct drain *d;
	struct worker *w;
	int i;

	if (p == NULL)
		return;
	pool_collect(p);
	while ((w = p->live) != NULL) {
		p->live = w->next;
		ready_close(w);
		report_close(w);
		if (w->cg.path != NULL) {
			(void)cgroup_kill(&w->cg);
			drain_add(p, w);
		}
		free(w);
	}
	if (p->drain_timer)
		loop_timer_cancel(p->loop, p->drain_timer);
	while ((d = p->drain) != NULL) {
		p->drain = d->next;
		(void)cgroup_wait_empty(&d->cg, sat_add(clock_mono(),
		    NS_PER_SEC));
		(void)cgroup_remove(&d->cg);
		free(d);
	}
	for (i = 0; i < p->nslots; i++) {
		slot_cancel(p, p->slots[i]);
		free(p->slots[i]->deaths);
		free(p->slots[i]);
	}
	free(p->slots);
	free(p);
}

int
pool_event_text(const struct pool *p, const struct pool_event *e, char *buf,
    size_t size)
{
	const struct pool_worker *w = e->w;
	long pid = w ? (long)w->pid : 0;
	char how[64], d[32];

	if (e->delay >= 0)
		duration_fmt(e->delay, d, sizeof(d));
	switch (e->type) {
	case POOL_STARTED:
		snprintf(buf, size, "worker %d (pid %ld) started, generation "
		    "%ld", e->slot, pid, w->gen);
		return POOL_LOG_VERBOSE;
	case POOL_START_FAILED:
		if (e->delay < 0)
			snprintf(buf, size, "worker %d: cannot schedule a "
			    "restart: %s", e->slot, strerror(e->err));
		else
			snprintf(buf, size, "worker %d: cannot run '%s': %s; "
			    "retrying in %s", e->slot, p->c.cmd[0],
			    strerror(e->err), d);
		return POOL_LOG_WARN;
	case POOL_STOPPING:
		snprintf(buf, size, "stopping worker %d (pid %ld)", e->slot,
		    pid);
		return POOL_LOG_VERBOSE;
	case POOL_KILLING:
		snprintf(buf, size, "worker %d (pid %ld) still running after "
		    "the grace time; killing it", e->slot, pid);
		return POOL_LOG_VERBOSE;
	case POOL_EXPIRED:
		snprintf(buf, size, "worker %d (pid %ld) reached its lifetime",
		    e->slot, pid);
		return POOL_LOG_VERBOSE;
	case POOL_EXITED:
		spawn_status_text(e->status, how, sizeof(how));
		if (e->delay > 0)
			snprintf(buf, size, "worker %d (pid %ld) %s; restarting "
			    "in %s", e->slot, pid, how, d);
		else
			snprintf(buf, size, "worker %d (pid %ld) %s%s", e->slot,
			    pid, how, e->delay == 0 ? "; restarting" : "");
		return e->quiet ? POOL_LOG_VERBOSE : POOL_LOG_NOTICE;
	case POOL_RELOAD_FAILED:
		if (w == NULL)
			snprintf(buf, size, "reload stopped: cannot start "
			    "worker %d: %s", e->slot, strerror(e->err));
		else if (e->err == ETIMEDOUT)
			snprintf(buf, size, "reload stopped: worker %d (pid "
			    "%ld) not ready within %s; the old workers keep "
			    "serving", e->slot, pid, duration_fmt(
			    p->c.ready_timeout, d, sizeof(d)));
		else {
			spawn_status_text(e->status, how, sizeof(how));
			snprintf(buf, size, "reload stopped: worker %d (pid "
			    "%ld) %s before it was ready; the old workers "
			    "keep serving", e->slot, pid, how);
		}
		return POOL_LOG_WARN;
	case POOL_READY:
		snprintf(buf, size, "worker %d (pid %ld) ready", e->slot, pid);
		return POOL_LOG_VERBOSE;
	case POOL_NOT_READY:
		snprintf(buf, size, "worker %d (pid %ld) not ready within %s; "
		    "stopping it", e->slot, pid, duration_fmt(
		    p->c.ready_timeout, d, sizeof(d)));
		return POOL_LOG_WARN;
	case POOL_RELOAD_DONE:
		snprintf(buf, size, "reload to generation %ld done", e->gen);
		return POOL_LOG_VERBOSE;
	case POOL_CANNOT_RUN:
		snprintf(buf, size, "cannot run '%s': %s", p->c.cmd[0],
		    strerror(e->err));
		return POOL_LOG_WARN;
	case POOL_GAVE_UP:
		snprintf(buf, size, "worker %d crashed more than %d times "
		    "within %s; giving up", e->slot, p->c.max_restarts,
		    duration_fmt(p->c.restart_window, d, sizeof(d)));
		return POOL_LOG_WARN;
	}
	snprintf(buf, size, "event %d", (int)e->type);
	return POOL_LOG_VERBOSE;
}
