/* loop: signals (via signalfd), fds and timers, waited for with one ppoll.
 *
 * Routed signals stay blocked for the life of the route, so they are only
 * ever seen as records on the signalfd: no handler, no EINTR, no race
 * between checking a flag and going to sleep. Timers are kept in a small
 * unsorted array (programs hold a handful); the earliest is found by a
 * scan. Callbacks may change the loop while it dispatches: fd entries are
 * matched by a serial number, not by position, and a timer is taken out
 * of the array before its callback runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

struct route {
	loop_signal_fn fn;
	void *arg;
	int ignored;		/* was SIG_IGN before routing */
};

struct watch {
	int fd;
	int events;
	unsigned long serial;
	loop_fd_fn fn;
	void *arg;
};

struct timer {
	long id;
	int64_t when;
	loop_timer_fn fn;
	void *arg;
};

struct loop {
	int sfd;
	sigset_t routed;
	struct route routes[NSIG];
	struct watch *w;
	size_t nw, capw;
	unsigned long serial;
	struct timer *t;
	size_t nt, capt;
	long next_id;
	struct pollfd *pfd;
	unsigned long *pser;
	size_t cappfd;
	int stop;
};

struct loop *
loop_new(void)
{
	struct loop *l;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->sfd = -1;
	sigemptyset(&l->routed);
	l->next_id = 1;
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	/* Routed signals stay blocked: unblocking them here would let one
	 * that just arrived kill a program that is about to report its
	 * status. */
	if (l->sfd >= 0)
		close(l->sfd);
	free(l->w);
	free(l->t);
	free(l->pfd);
	free(l->pser);
	free(l);
}

static int
set_disposition(int sig, void (*h)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

int
loop_signal(struct loop *l, int sig, loop_signal_fn fn, void *arg)
{
	struct sigaction old;
	sigset_t one;
	int fd;

	if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP) {
		errno = EINVAL;
		return -1;
	}
	sigemptyset(&one);
	sigaddset(&one, sig);
	if (fn == NULL) {
		if (l->routes[sig].fn == NULL)
			return 0;
		sigdelset(&l->routed, sig);
		if (l->sfd >= 0)
			(void)signalfd(l->sfd, &l->routed, 0);
		if (l->routes[sig].ignored)
			(void)set_disposition(sig, SIG_IGN);
		l->routes[sig].fn = NULL;
		l->routes[sig].arg = NULL;
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		return 0;
	}
	if (l->routes[sig].fn == NULL) {
		if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
			return -1;
		/* An ignored signal is discarded at generation and never
		 * reaches the signalfd; for SIGCHLD it also makes children
		 * vanish unreaped. Routing means the program wants it. */
		l->routes[sig].ignored = 0;
		if (sigaction(sig, NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN) {
			l->routes[sig].ignored = 1;
			(void)set_disposition(sig, SIG_DFL);
		}
		sigaddset(&l->routed, sig);
		fd = signalfd(l->sfd, &l->routed, SFD_NONBLOCK | SFD_CLOEXEC);
		if (fd < 0) {
			int e = errno;

			sigdelset(&l->routed, sig);
			if (l->routes[sig].ignored)
				(void)set_disposition(sig, SIG_IGN);
			sigprocmask(SIG_UNBLOCK, &one, NULL);
			errno = e;
			return -1;
		}
		l->sfd = fd;
	}
	l->routes[sig].fn = fn;
	l->routes[sig].arg = arg;
	return 0;
}

static struct watch *
find_watch(struct loop *l, int fd)
{
	size_t i;

	for (i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd)
			return &l->w[i];
	return NULL;
}

int
loop_fd(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg)
{
	struct watch *w, *nw;
	size_t cap;

	if (fd < 0 || (events != 0 && fn == NULL)) {
		errno = EINVAL;
		return -1;
	}
	events &= LOOP_IN | LOOP_OUT;
	w = find_watch(l, fd);
	if (events == 0) {
		if (w != NULL)
			*w = l->w[--l->nw];
		return 0;
	}
	if (w == NULL) {
		if (l->nw == l->capw) {
			cap = l->capw ? l->capw * 2 : 8;
			nw = realloc(l->w, cap * sizeof(*nw));
			if (nw == NULL)
				return -1;
			l->w = nw;
			l->capw = cap;
		}
		w = &l->w[l->nw++];
		w->fd = fd;
		w->serial = ++l->serial;
	}
	w->events = events;
	w->fn = fn;
	w->arg = arg;
	return 0;
}

long
loop_timer(struct loop *l, int64_t when, loop_timer_fn fn, void *arg)
{
	struct timer *nt;
	size_t cap;

	if (fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (l->nt == l->capt) {
		cap = l->capt ? l->capt * 2 : 8;
		nt = realloc(l->t, cap * sizeof(*nt));
		if (nt == NULL)
			return -1;
		l->t = nt;
		l->capt = cap;
	}
	nt = &l->t[l->nt++];
	nt->id = l->next_id++;
	nt->when = when;
	nt->fn = fn;
	nt->arg = arg;
	return nt->id;
}

void
loop_timer_cancel(struct loop *l, long id)
{
	size_t i;

	for (i = 0; i < l->nt; i++)
		if (l->t[i].id == id) {
			l->t[i] = l->t[--l->nt];
			return;
		}
}

/* Index of the earliest timer with id < below, or -1. */
static long
earliest(struct loop *l, long below)
{
	size_t i;
	long best = -1;

	for (i = 0; i < l->nt; i++) {
		if (l->t[i].id >= below)
			continue;
		if (best < 0 || l->t[i].when < l->t[best].when ||
		    (l->t[i].when == l->t[best].when &&
		    l->t[i].id < l->t[best].id))
			best = (long)i;
	}
	return best;
}

static void
dispatch_signals(struct loop *l)
{
	struct signalfd_siginfo si[16];
	ssize_t n, i;
	int sig;

	for (;;) {
		n = read(l->sfd, si, sizeof(si));
		if (n <= 0)
			return;		/* EAGAIN: drained */
		for (i = 0; i < n / (ssize_t)sizeof(si[0]); i++) {
			sig = (int)si[i].ssi_signo;
			if (sig > 0 && sig < NSIG && l->routes[sig].fn != NULL)
				l->routes[sig].fn(l, sig, l->routes[sig].arg);
		}
	}
}

static int
grow_pollfds(struct loop *l, size_t n)
{
	struct pollfd *p;
	unsigned long *s;

	if (n <= l->cappfd)
		return 0;
	p = realloc(l->pfd, n * sizeof(*p));
	if (p == NULL)
		return -1;
	l->pfd = p;
	s = realloc(l->pser, n * sizeof(*s));
	if (s == NULL)
		return -1;
	l->pser = s;
	l->cappfd = n;
	return 0;
}

static void
dispatch_fd(struct loop *l, unsigned long serial, short revents)
{
	struct watch *w = NULL;
	size_t i;
	int ev = 0;

	for (i = 0; i < l->nw; i++)
		if (l->w[i].serial == serial) {
			w = &l->w[i];
			break;
		}
	if (w == NULL)
		return;		/* removed by an earlier callback */
	if ((w->events & LOOP_IN) &&
	    (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
		ev |= LOOP_IN;
	if ((w->events & LOOP_OUT) &&
	    (revents & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)))
		ev |= LOOP_OUT;
	if (ev != 0)
		w->fn(l, w->fd, ev, w->arg);
}

int
loop_once(struct loop *l)
{
	struct timespec ts, *tsp = NULL;
	size_t i, n = 0;
	long below, k;
	int64_t now;
	int r, have_sfd;
	struct timer t;

	if (grow_pollfds(l, l->nw + 1) < 0)
		return -1;
	have_sfd = l->sfd >= 0 && !sigisemptyset(&l->routed);
	if (have_sfd) {
		l->pfd[n].fd = l->sfd;
		l->pfd[n].events = POLLIN;
		l->pser[n++] = 0;
	}
	for (i = 0; i < l->nw; i++) {
		l->pfd[n].fd = l->w[i].fd;
		l->pfd[n].events = (short)(((l->w[i].events & LOOP_IN) ?
		    POLLIN : 0) | ((l->w[i].events & LOOP_OUT) ? POLLOUT : 0));
		l->pser[n++] = l->w[i].serial;
	}
	k = earliest(l, l->next_id);
	if (k >= 0) {
		now = clock_mono();
		ts = clock_ts(l->t[k].when - now);
		tsp = &ts;
	} else if (n == 0) {
		errno = EDEADLK;	/* nothing could ever wake us */
		return -1;
	}
	r = ppoll(l->pfd, n, tsp, NULL);
	if (r < 0 && errno != EINTR)
		return -1;
	if (r > 0) {
		i = 0;
		if (have_sfd) {
			if (l->pfd[0].revents != 0)
				dispatch_signals(l);
			i = 1;
		}
		for (; i < n; i++)
			if (l->pfd[i].revents != 0)
				dispatch_fd(l, l->pser[i], l->pfd[i].revents);
	}
	/* Timers added by callbacks from here on wait for the next round,
	 * so a callback re-arming at a past time cannot starve the loop. */
	below = l->next_id;
	now = clock_mono();
	while ((k = earliest(l, below)) >= 0 && l->t[k].when <= now) {
		t = l->t[k];
		l->t[k] = l->t[--l->nt];
		t.fn(l, t.arg);
	}
	return 0;
}

int
loop_run(struct loop *l)
{
	int r = 0;

	while (!l->stop)
		if ((r = loop_once(l)) < 0)
			break;
	l->stop = 0;
	return r;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}
