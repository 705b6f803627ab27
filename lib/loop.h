/* loop: one event loop over signals, fds and timers. Signals are blocked
 * and read from a signalfd (Linux only: there is no self-pipe fallback;
 * loop_signal fails with signalfd's errno where it is missing), so no
 * work ever happens in a signal handler. Timers are absolute monotonic
 * times in ns; the wait is ppoll with ns precision. Callbacks may add and
 * remove fds, signals and timers freely, including their own. */
#ifndef PKIT_LOOP_H
#define PKIT_LOOP_H

#include <stdint.h>

struct loop;

enum { LOOP_IN = 1, LOOP_OUT = 2 };	/* errors and hang-ups come as LOOP_IN */

typedef void (*loop_fd_fn)(struct loop *l, int fd, int events, void *arg);
typedef void (*loop_signal_fn)(struct loop *l, int sig, void *arg);
typedef void (*loop_timer_fn)(struct loop *l, void *arg);

/* New loop, or NULL with errno. */
struct loop *loop_new(void);
/* Free the loop and close its signalfd. Routed signals stay blocked and
 * their dispositions unchanged (a late TERM must not kill a program that
 * is winding down); unroute them first with loop_signal(l, sig, NULL,
 * NULL) to restore them. */
void loop_free(struct loop *l);

/* Route sig to fn from now on (the signal is blocked in the process
 * mask; spawn's children start with an empty mask). fn NULL: unroute and
 * unblock. Routing SIGCHLD also resets an inherited SIG_IGN to SIG_DFL,
 * so children can be reaped. 0 or -1 with errno. */
int loop_signal(struct loop *l, int sig, loop_signal_fn fn, void *arg);

/* Watch fd for events (LOOP_IN | LOOP_OUT); calling again changes the
 * events or callback; events 0 stops watching. 0 or -1 with errno. */
int loop_fd(struct loop *l, int fd, int events, loop_fd_fn fn, void *arg);

/* One-shot timer at monotonic time `when` (ns). Returns an id > 0, or -1
 * with errno. */
long loop_timer(struct loop *l, int64_t when, loop_timer_fn fn, void *arg);
void loop_timer_cancel(struct loop *l, long id);

/* Wait for the next events and dispatch them all (signals first, then
 * fds, then due timers). Returns 0, or -1 with errno (never EINTR). */
int loop_once(struct loop *l);

/* loop_once until loop_stop is called. Returns 0 or -1 with errno. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
