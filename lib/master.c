/* master: prefork's master at work (see master.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "file.h"
#include "master.h"
#include "parse.h"
#include "spawn.h"

#define OUT_FLUSH	(64 * 1024)

static void say(struct master *m, int level, int errnum, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* One line through m->report (errnum as there). */
static void
say(struct master *m, int level, int errnum, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (m->report != NULL)
		m->report(m->arg, level, errnum, text);
}

#define fail(m, ...)	say(m, POOL_LOG_WARN, errno, __VA_ARGS__)

/* Tell the service manager (NOTIFY_SOCKET) what we are doing. */
#define tell(m, ...) do { \
	if (notify_sendf(&(m)->nt, __VA_ARGS__) < 0) \
		fail(m, "NOTIFY_SOCKET %s", (m)->nt.path); \
} while (0)

/* ---- the pool's callbacks ---- */

static int
on_prepare(void *arg, struct pool_worker *w, struct spawn_opts *so)
{
	struct master *m = arg;
	struct dispatch_worker *dw;

	so->in = m->devnull;
	so->pass = m->socks->fds;
	so->npass = m->socks->n;
	if (m->disp == NULL)
		return 0;
	if ((dw = dispatch_worker_new(m->disp, &so->in, &so->out)) == NULL)
		return -1;
	w->data = dw;
	return 0;
}

static void
on_discard(void *arg, struct pool_worker *w)
{
	struct master *m = arg;

	if (m->disp != NULL && w->data != NULL)
		dispatch_worker_discard(m->disp, w->data);
	w->data = NULL;
}

/* Runs in the child between fork and exec: LISTEN_PID must be the
 * worker's own pid, which only the child knows. */
static int
on_child(void *arg, const struct pool_worker *w)
{
	struct master *m = arg;
	static const char *const names[] = { "PREFORK_WORKER",
	    "PREFORK_WORKERS", "PREFORK_MASTER_PID", "PREFORK_GENERATION" };
	long v[] = { w->slot, pool_size(m->pool), (long)m->pid, w->gen };
	char b[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(b, sizeof(b), "%ld", v[i]);
		if (setenv(names[i], b, 1) < 0)
			return -1;
	}
	return listen_setenv(m->socks->n, m->socks->names);
}

/* With dispatch a worker is stopped by closing its stdin. */
static int
on_stop(void *arg, struct pool_worker *w)
{
	struct master *m = arg;

	if (m->disp == NULL)
		return -1;
	dispatch_worker_close(m->disp, w->data);
	return 0;
}

static int
on_ended(void *arg, struct pool_worker *w, int status, int ok)
{
	struct master *m = arg;

	(void)status;
	if (m->disp == NULL)
		return 0;
	if (!ok)
		m->failed = 1;
	return dispatch_worker_ended(m->disp, w->data);
}

static int
on_wanted(void *arg)
{
	struct master *m = arg;

	return m->disp == NULL || dispatch_work_left(m->disp);
}

/* --status-file: the pool's state, written whole to FILE.tmp and renamed
 * over FILE, so a reader sees the old state or the new, never a part.
 * A failure is said once; the pool goes on. */
static void
status_write(struct master *m)
{
	char buf[64 * 1024];
	int n;

	if (m->status_file == NULL)
		return;
	if ((n = pool_status_json(m->pool, buf, sizeof(buf))) >= 0 &&
	    file_replace(m->status_file, buf, (size_t)n, 0644) == 0) {
		m->status_failed = 0;
		return;
	}
	if (!m->status_failed)
		fail(m, "cannot write %s", m->status_file);
	m->status_failed = 1;
}

static void
on_pool_event(void *arg, const struct pool_event *e)
{
	struct master *m = arg;
	const struct pool_worker *w = e->w;
	char t[512];

	if (e->type == POOL_STARTED && m->disp != NULL &&
	    dispatch_worker_started(m->disp, w->data, w->slot, w->pid,
	    (void *)w) < 0)
		fail(m, "worker %d (pid %ld): cannot watch its pipes", w->slot,
		    (long)w->pid);
	if (e->type == POOL_RELOAD_FAILED || e->type == POOL_RELOAD_DONE)
		m->rolling = 0;
	if (e->type == POOL_CANNOT_RUN) {
		m->cannot_run = e->err;	/* said by the caller */
		return;
	}
	if (e->type == POOL_GAVE_UP) {
		m->gave_up = 1;
		if (m->disp != NULL)
			dispatch_stop(m->disp);
	}
	say(m, pool_event_text(m->pool, e, t, sizeof(t)), -1, "%s", t);
	status_write(m);
}

/* ---- dispatch's callbacks ---- */

static void
on_recycle(void *arg, void *token)
{
	pool_recycle(((struct master *)arg)->pool, token);
}

static int
on_fill(void *arg)
{
	return pool_fill(((struct master *)arg)->pool);
}

static void
on_hold(void *arg)
{
	pool_hold(((struct master *)arg)->pool);
}

static void
on_dispatch_event(void *arg, const struct dispatch_event *e)
{
	struct master *m = arg;
	char t[512];

	if (e->fail)
		m->failed = 1;
	say(m, dispatch_event_text(e, t, sizeof(t)), -1, "%s", t);
}

/* ---- signals ---- */

/* READY=1 once every wanted worker is up and no reload is under way. */
static void
tell_ready(struct master *m)
{
	int n = pool_size(m->pool);

	if (m->ready || m->rolling || pool_stopping(m->pool) ||
	    pool_up(m->pool) < n)
		return;
	m->ready = 1;
	tell(m, "READY=1\nSTATUS=%d workers up, generation %ld", n,
	    pool_generation(m->pool));
}

static void
stop(struct master *m, int now)
{
	if (!pool_stopping(m->pool))
		tell(m, "STOPPING=1");
	if (m->disp != NULL)
		dispatch_stop(m->disp);
	pool_stop(m->pool, now);
}

static void
on_signal(struct loop *l, int sig, void *arg)
{
	struct master *m = arg;
	char name[32];
	int n;

	(void)l;
	switch (sig) {
	case SIGCHLD:
		if (pool_reap(m->pool) < 0)
			fail(m, "waitpid");
		break;
	case SIGTERM:
	case SIGINT:
		say(m, POOL_LOG_VERBOSE, -1, "got %s: stopping",
		    signal_name(sig, name, sizeof(name)));
		stop(m, 0);
		break;
	case SIGQUIT:
		say(m, POOL_LOG_VERBOSE, -1, "got QUIT: stopping now");
		stop(m, 1);
		break;
	case SIGHUP:
		if (pool_stopping(m->pool))
			break;
		m->ready = 0;
		m->rolling = 1;
		tell(m, "RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading",
		    (long long)(clock_mono() / 1000));
		say(m, POOL_LOG_VERBOSE, -1, "reloading: generation %ld",
		    pool_reload(m->pool));
		break;
	case SIGTTIN:
	case SIGTTOU:
		n = sig == SIGTTIN ? pool_grow(m->pool) : pool_shrink(m->pool);
		if (n > 0)
			say(m, POOL_LOG_VERBOSE, -1, "now %d workers", n);
		else if (errno == ENOMEM)
			fail(m, "cannot add a worker");
		break;
	default:		/* USR1, USR2, WINCH */
		pool_signal(m->pool, sig);
		break;
	}
}

/* ---- setting up, running, winding down ---- */

int
master_init(struct master *m)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP,
	    SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH };
	size_t i;

	m->pid = getpid();
	m->devnull = -1;
	m->why = "loop";
	if ((m->loop = loop_new()) == NULL)
		return -1;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (loop_signal(m->loop, sigs[i], on_signal, m) < 0)
			return -1;
	if ((m->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		m->why = "/dev/null";
		return -1;
	}
	if (notify_init(&m->nt) < 0)
		fail(m, "NOTIFY_SOCKET");
	return notify_watchdog(&m->nt, m->loop);
}

int
master_start(struct master *m, const struct pool_conf *pc,
    const struct dispatch_conf *dc)
{
	struct pool_ops po = {
		.prepare = on_prepare, .discard = on_discard,
		.child = on_child, .stop = on_stop, .ended = on_ended,
		.wanted = on_wanted, .event = on_pool_event, .arg = m,
	};
	struct dispatch_ops dops = {
		.recycle = on_recycle, .fill = on_fill, .hold = on_hold,
		.event = on_dispatch_event, .arg = m,
	};
	struct dispatch_conf c;

	out_init(&m->out, STDOUT_FILENO, OUT_FLUSH);
	if (dc != NULL) {
		c = *dc;
		c.out = &m->out;
		if ((m->disp = dispatch_new(m->loop, &c, &dops)) == NULL)
			return -1;
	}
	if ((m->pool = pool_new(m->loop, pc, &po)) == NULL)
		return -1;
	return 0;
}

int
master_run(struct master *m)
{
	for (;;) {
		if (m->disp != NULL && dispatch_tick(m->disp) < 0) {
			m->why = errno == ENOMEM ? "out of memory" : "loop";
			return -1;
		}
		if (out_flush(&m->out) < 0) {
			fail(m, "write error on stdout");
			m->failed = 1;
		}
		tell_ready(m);
		if (m->nt.err != 0) {
			errno = m->nt.err;
			m->nt.err = 0;
			fail(m, "watchdog");
		}
		if (out_dead(&m->out) && !pool_stopping(m->pool))
			stop(m, 0);
		if (pool_live(m->pool) == 0 && (pool_stopping(m->pool) ||
		    (m->disp != NULL && !dispatch_work_left(m->disp))))
			return 0;
		if (loop_once(m->loop) < 0) {
			m->why = "loop";
			return -1;
		}
		pool_collect(m->pool);
		if (m->disp != NULL)
			dispatch_collect(m->disp);
	}
}

void
master_free(struct master *m)
{
	if (out_flush(&m->out) < 0) {
		fail(m, "write error on stdout");
		m->failed = 1;
	}
	out_free(&m->out);
	pool_free(m->pool);
	dispatch_free(m->disp);
	if (m->devnull >= 0)
		close(m->devnull);
	notify_close(&m->nt);
	loop_free(m->loop);
}
