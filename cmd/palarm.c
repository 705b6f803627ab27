/* palarm: interval timer for scripts: ticks, a COMMAND per tick, a signal
 * per tick, a deadline, a dead man's switch (DESIGN §3.4).
 *
 *   palarm [-c COUNT] [-i] [-a] [-j JITTER] [-T] INTERVAL
 *   palarm [-c COUNT] [-i] [-a] [-j JITTER] INTERVAL -- COMMAND...
 *   palarm [-c COUNT] -s SIG -p PID INTERVAL
 *   palarm -d TIMEOUT [-s SIG] [-k KILLAFTER] -- COMMAND...
 *   palarm -W TIMEOUT [-s SIG -p PID | -- COMMAND...]
 *
 * Schedule: tick n is due at base + n * INTERVAL on the monotonic clock,
 * so a late wake-up never shifts later ticks (no drift). When a wake-up
 * comes after one or more further ticks were due (a blocked stdout, a
 * suspended machine), those ticks are coalesced into one: the tick
 * printed carries the number of the latest due tick, and -v says how
 * many were missed. Timer slack is set to 1 ns for precise wake-ups.
 *
 * Everything runs in one lib/loop: timers, SIGCHLD, stdin (-W), the
 * target's pidfd (-p) and stdout's error state (a closed pipe ends the
 * program quietly with status 0 even between ticks). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "io.h"
#include "loop.h"
#include "msg.h"
#include "parse.h"
#include "proc.h"
#include "spawn.h"

enum mode { TICKS, RUN, SIGNAL, DEADLINE, WATCH };
enum { OPT_FOREGROUND = 256, OPT_CGROUP };

struct palarm {
	enum mode mode;
	struct loop *loop;
	/* options */
	long long count;	/* -c; 0: forever */
	int at_zero;		/* -i */
	int align;		/* -a */
	int64_t jitter;		/* -j */
	int stamp;		/* -T */
	int sig;		/* -s; 0: not given */
	pid_t pid;		/* -p; 0: not given */
	int64_t interval;	/* INTERVAL, or TIMEOUT of -d / -W */
	int64_t killafter;	/* -k; -1: not given */
	int foreground;		/* --foreground: no process group of its own */
	int use_cg;		/* --cgroup[=PARENT] */
	const char *cg_parent;	/* NULL: under our own cgroup */
	struct cgroup cg;	/* -d --cgroup: COMMAND's tree */
	int cg_watch;		/* inotify fd on cg's cgroup.events */
	int cg_empty;		/* cg reported populated 0 */
	int cmd_status;		/* -d: COMMAND's status, once it ended */
	char **cmd;		/* COMMAND, or NULL */
	/* schedule */
	int64_t base;		/* monotonic time of tick 0 */
	long long next;		/* number of the next tick */
	int64_t jit;		/* jitter applied to the pending tick */
	long timer;		/* pending timer id, 0: none */
	uint64_t rng;
	/* state */
	int pidfd;
	pid_t child;		/* running COMMAND, 0: none */
	long long skipped;	/* run mode: ticks skipped, overlap */
	long long skip_unsaid;	/* skipped since the last notice */
	int64_t skip_said;	/* monotonic time of that notice; 0: none */
	int failed;		/* run mode: some run failed */
	int fired;		/* -d, -W: the alarm went off */
	int killed;		/* -d -k: KILL was sent */
	pid_t pgid;		/* -d: COMMAND's process group, 0: none */
	int eof;		/* -W: stdin ended */
	int status;		/* exit status when the loop stops */
	int term_sig;		/* a signal asked us to stop */
};

static const char usage_text[] =
    "usage: palarm [-c COUNT] [-i] [-a] [-j JITTER] [-T] INTERVAL\n"
    "       palarm [-c COUNT] [-i] [-a] [-j JITTER] INTERVAL -- COMMAND...\n"
    "       palarm [-c COUNT] -s SIG -p PID INTERVAL\n"
    "       palarm -d TIMEOUT [-s SIG] [-k KILLAFTER] [--foreground]\n"
    "                 [--cgroup[=PARENT]] -- COMMAND...\n"
    "       palarm -W TIMEOUT [-s SIG -p PID | -- COMMAND...]\n";

static const char help_text[] =
    "\nInterval timer for scripts: ticks, a COMMAND per tick, a signal per\n"
    "tick, a deadline, a dead man's switch.\n\n"
    "  -c, --count COUNT        stop after tick COUNT\n"
    "  -i, --immediate          also tick at time 0\n"
    "  -a, --align              align ticks to wall-clock multiples\n"
    "  -j, --jitter JITTER      delay each tick randomly up to JITTER\n"
    "  -T, --timestamp          print the wall-clock time with each tick\n"
    "  -s, --signal SIG         the signal to send (default TERM with -d)\n"
    "  -p, --pid PID            the process to signal (needs -s)\n"
    "  -d, --deadline TIMEOUT   run COMMAND; signal it after TIMEOUT (124)\n"
    "  -k, --kill-after TIME    with -d: KILL the group TIME later\n"
    "      --foreground         with -d: keep COMMAND in our process group\n"
    "      --cgroup[=PARENT]    with -d: contain COMMAND's tree in a cgroup v2\n"
    "  -W, --watch TIMEOUT      dead man's switch on stdin lines\n"
    "  -q, --quiet              no notices\n"
    "  -v, --verbose            report missed ticks and deadlines\n"
    "  -h, --help               print this help\n"
    "  -V, --version            print the version\n\n"
    "See palarm(1).\n";

static void
finish(struct palarm *p, int status)
{
	p->status = status;
	loop_stop(p->loop);
}

/* Write a whole line to stdout; a vanished reader ends us with 0. */
static void
out_line(struct palarm *p, const char *buf, size_t n)
{
	if (io_write_all(STDOUT_FILENO, buf, n) < 0) {
		if (errno == EPIPE)
			exit(0);
		die(1, "stdout:");
	}
	(void)p;
}

/* A pipe's write end reports POLLERR once the reader is gone: end at
 * once rather than at the next tick, which may be hours away. */
static void
on_stdout(struct loop *l, int fd, int events, void *arg)
{
	struct pollfd pf = { .fd = fd, .events = 0 };

	(void)events;
	(void)arg;
	if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR))
		exit(0);
	loop_fd(l, fd, 0, NULL, NULL);	/* spurious: stop watching */
}

static uint64_t
rand_next(struct palarm *p)
{
	/* xorshift64*: jitter needs spread, not secrecy. */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 2685821657736338717ULL;
}

static void on_tick(struct loop *l, void *arg);

static void
arm(struct palarm *p)
{
	p->jit = p->jitter > 0 ?
	    (int64_t)(rand_next(p) % ((uint64_t)p->jitter + 1)) : 0;
	/* Saturated: an interval near the 64-bit limit means "never". */
	p->timer = loop_timer(p->loop, clock_add_sat(clock_add_sat(p->base,
	    clock_mul_sat(p->next, p->interval)), p->jit), on_tick, p);
	if (p->timer < 0)
		die(125, "timer:");
}

static int
set_tick_env(void *arg)
{
	return setenv("PALARM_TICK", arg, 1);
}

/* In the child, before exec: everything COMMAND starts is born inside. */
static int
enter_cgroup(void *arg)
{
	return cgroup_enter(arg);
}

static pid_t
start_command(struct palarm *p, int (*hook)(void *), void *hook_arg,
    int group)
{
	struct spawn_opts o = { .in = -1, .out = -1, .err = -1 };
	pid_t pid;
	int err;

	o.hook = hook;
	o.hook_arg = hook_arg;
	o.setpgid = group;
	/* -W: stdin carries the heartbeats, which are ours to read. */
	if (p->mode == WATCH && (o.in = open("/dev/null", O_RDONLY |
	    O_CLOEXEC)) < 0)
		die(125, "/dev/null:");
	pid = spawn_start(p->cmd, &o);
	if (o.in >= 0)
		close(o.in);
	if (pid < 0) {
		err = errno;
		if (p->use_cg)
			(void)cgroup_remove(&p->cg);	/* nothing in it */
		errno = err;
		die(spawn_exec_status(errno), "cannot run '%s':", p->cmd[0]);
	}
	return pid;
}

static void
send_target(struct palarm *p)
{
	if (proc_pidfd_signal(p->pidfd, p->pid, p->sig) == 0)
		return;
	if (errno == ESRCH)
		finish(p, 0);	/* target gone: our job is done */
	else
		die(1, "cannot signal %ld:", (long)p->pid);
}

/* Decimal digits of v at buf; returns the length. Ticks are formatted
 * by hand: the resident path stays clear of stdio, whose printf
 * machinery alone adds a hundred KiB of libc pages to the RSS. */
static size_t
put_dec(char *buf, unsigned long long v, int width)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || (int)n < width);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* Run mode: tick n found the previous run still going. The notice is
 * rate-limited to one a second, so a tiny interval cannot flood stderr:
 * the first skip is told at once, later ones at most a second apart,
 * with the count of those skipped in between. */
static void
skip_notice(struct palarm *p, long long n)
{
	int64_t now = clock_mono();

	p->skipped++;
	p->skip_unsaid++;
	if (p->skip_said != 0 && now - p->skip_said < NS_PER_SEC)
		return;
	if (p->skip_unsaid == 1)
		notice("tick %lld skipped: previous run still going", n);
	else
		notice("%lld ticks skipped up to tick %lld: previous run "
		    "still going", p->skip_unsaid, n);
	p->skip_unsaid = 0;
	p->skip_said = now;
}

/* One tick, numbered n, in ticks, run or signal mode. */
static void
do_tick(struct palarm *p, long long n)
{
	char buf[64];
	size_t len;
	int64_t w;

	switch (p->mode) {
	case TICKS:
		len = put_dec(buf, (unsigned long long)n, 1);
		if (p->stamp) {
			w = clock_wall();
			buf[len++] = ' ';
			len += put_dec(buf + len,
			    (unsigned long long)(w / NS_PER_SEC), 1);
			buf[len++] = '.';
			len += put_dec(buf + len,
			    (unsigned long long)(w % NS_PER_SEC / NS_PER_MS), 3);
		}
		buf[len++] = '\n';
		out_line(p, buf, len);
		break;
	case RUN:
		if (p->child > 0) {
			skip_notice(p, n);
			break;
		}
		buf[put_dec(buf, (unsigned long long)n, 1)] = '\0';
		p->child = start_command(p, set_tick_env, buf, 0);
		break;
	case SIGNAL:
		send_target(p);
		break;
	default:
		break;
	}
}

static void
on_tick(struct loop *l, void *arg)
{
	struct palarm *p = arg;
	long long due;
	int64_t now;

	(void)l;
	p->timer = 0;
	if (p->term_sig)
		return;		/* stopping: no new run */
	now = clock_mono() - p->jit;
	/* The latest tick already due; the ones before it were missed. */
	due = (now - p->base) / p->interval;
	if (due < p->next)
		due = p->next;
	if (p->count > 0 && due > p->count)
		due = p->count;
	if (due > p->next)
		verbose("missed %lld tick%s", due - p->next,
		    due - p->next == 1 ? "" : "s");
	do_tick(p, due);
	p->next = due + 1;
	if (p->count > 0 && due >= p->count) {
		/* Run mode: the last run still ends before we do. */
		if (p->mode != RUN || p->child == 0)
			finish(p, p->failed);
		return;
	}
	arm(p);
}

/* Tick 0 is at start (or the next wall-clock multiple with -a). */
static void
start_ticks(struct palarm *p)
{
	int64_t now = clock_mono(), wall, off;

	p->base = now;
	if (p->align) {
		wall = clock_wall();
		off = wall % p->interval;
		/* base is the monotonic time of a wall-clock multiple. */
		p->base = now - off;
	}
	p->next = 1;
	if (p->at_zero)
		do_tick(p, 0);
	arm(p);
}

/* -d: send sig to what the deadline covers: COMMAND's process group,
 * which outlives COMMAND while a member is left (the kernel does not
 * reuse a pid that still names a group). Then CONT, so a stopped member
 * (kill -STOP, SIGTTIN from the terminal) acts on it at once. Returns 0,
 * or -1 with errno ESRCH when nothing is left. */
static int
group_signal(struct palarm *p, int sig)
{
	if (p->use_cg) {
		if (sig == SIGKILL)
			return cgroup_kill(&p->cg);
		return cgroup_signal(&p->cg, sig) < 0 ? -1 : 0;
	}
	if (p->pgid > 0)
		return kill(-p->pgid, sig);
	if (p->child > 0)
		return kill(p->child, sig);
	return errno = ESRCH, -1;
}

static int
deadline_signal(struct palarm *p, int sig)
{
	int r = group_signal(p, sig);

	/* After KILL too: harmless, and no stopped process is ever left
	 * waiting for a CONT that never comes. */
	if (r == 0 && sig != SIGCONT)
		(void)group_signal(p, SIGCONT);
	return r;
}

static void deadline_check_done(struct palarm *p);

static void
deadline_kill(struct loop *l, void *arg)
{
	struct palarm *p = arg;

	(void)l;
	p->killed = 1;
	verbose("deadline: sending KILL");
	if (deadline_signal(p, SIGKILL) < 0 && errno != ESRCH)
		warn("cannot send KILL:");
	if (p->child == 0)
		deadline_check_done(p);	/* COMMAND died before */
}

/* -d: the deadline. The KILL timer is set here, unconditionally, so the
 * escalation happens even if COMMAND ignores the first signal. */
static void
on_deadline(struct loop *l, void *arg)
{
	struct palarm *p = arg;

	p->fired = 1;
	if (p->child <= 0 && !p->use_cg)
		return;
	verbose("deadline: sending signal %d", p->sig);
	if (deadline_signal(p, p->sig) < 0 && errno != ESRCH)
		warn("cannot send signal %d:", p->sig);
	if (p->killafter >= 0 && loop_timer(l, clock_add_sat(clock_mono(),
	    p->killafter), deadline_kill, p) < 0)
		die(125, "timer:");
	if (p->child == 0)
		deadline_check_done(p);
}

/* -d: COMMAND has ended (p->child == 0); may palarm end too?
 * Without --cgroup: at once, except that after the deadline with -k the
 * KILL is still due to the rest of its group (a member that ignored
 * TERM): then stay until the KILL timer, unless the group is empty.
 * With --cgroup: once the cgroup is empty. Before the deadline the
 * rest of the tree keeps its time; after it, what is left gets KILL at
 * KILLAFTER, or at once without -k, so nothing outlives palarm. */
static void
deadline_check_done(struct palarm *p)
{
	int status = p->fired ? 124 : p->cmd_status;

	if (p->child != 0)
		return;
	if (p->use_cg) {
		if (p->cg_empty)
			finish(p, status);
		else if (p->fired && !p->killed && p->killafter < 0) {
			p->killed = 1;
			if (group_signal(p, SIGKILL) < 0 && errno != ESRCH)
				warn("cannot send KILL:");
		}
		return;
	}
	if (p->fired && p->killafter >= 0 && !p->killed && p->pgid > 0 &&
	    kill(-p->pgid, 0) == 0) {
		verbose("COMMAND ended; KILL still due to its group");
		return;
	}
	finish(p, status);
}

/* cgroup.events changed: is the tree gone? */
static void
on_cg_events(struct loop *l, int fd, int events, void *arg)
{
	struct palarm *p = arg;
	int r;

	(void)l;
	(void)events;
	cgroup_watch_drain(fd);
	if ((r = cgroup_populated(&p->cg)) < 0)
		die(125, "cannot read %s/cgroup.events:", p->cg.path);
	if (r == 0) {
		p->cg_empty = 1;
		deadline_check_done(p);
	}
}

static void on_silence(struct loop *l, void *arg);

static void
watch_arm(struct palarm *p)
{
	if (p->timer > 0)
		loop_timer_cancel(p->loop, p->timer);
	p->timer = loop_timer(p->loop, clock_add_sat(clock_mono(),
	    p->interval), on_silence, p);
	if (p->timer < 0)
		die(125, "timer:");
}

/* -W: no line for TIMEOUT. Fire, then keep watching (signal and command
 * forms fire again after every further TIMEOUT of silence). */
static void
on_silence(struct loop *l, void *arg)
{
	struct palarm *p = arg;

	(void)l;
	p->timer = 0;
	if (p->term_sig)
		return;		/* stopping: no new run */
	p->fired = 1;
	verbose("no line for %lld ms", (long long)(p->interval / NS_PER_MS));
	if (p->sig > 0) {
		send_target(p);
	} else if (p->cmd != NULL) {
		if (p->child > 0)
			notice("still running: alarm skipped");
		else
			p->child = start_command(p, NULL, NULL, 0);
	} else {
		finish(p, 124);
		return;
	}
	if (p->eof) {
		if (p->child == 0)
			finish(p, 124);
		return;
	}
	watch_arm(p);
}

static void
on_stdin(struct loop *l, int fd, int events, void *arg)
{
	struct palarm *p = arg;
	char buf[65536];
	ssize_t n;

	(void)events;
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		die(1, "stdin:");
	}
	if (n == 0) {
		/* The heartbeat source is gone: fire when the time is up
		 * (at once if the alarm already went off). */
		p->eof = 1;
		loop_fd(l, fd, 0, NULL, NULL);
		if (p->fired && p->timer == 0 && p->child == 0)
			finish(p, 124);
		else if (p->fired && p->child == 0) {
			loop_timer_cancel(l, p->timer);
			finish(p, 124);
		}
		return;
	}
	out_line(p, buf, (size_t)n);
	if (memchr(buf, '\n', (size_t)n) != NULL) {
		p->fired = 0;
		watch_arm(p);
	}
}

static void
on_pidfd(struct loop *l, int fd, int events, void *arg)
{
	struct palarm *p = arg;

	(void)events;
	loop_fd(l, fd, 0, NULL, NULL);
	finish(p, 0);
}

static void
on_child(struct palarm *p, int status)
{
	p->child = 0;
	switch (p->mode) {
	case DEADLINE:
		p->cmd_status = status;
		deadline_check_done(p);
		break;
	case RUN:
		if (status != 0) {
			p->failed = 1;
			verbose("COMMAND exited with status %d", status);
		}
		if (p->count > 0 && p->next > p->count)
			finish(p, p->failed);
		break;
	case WATCH:
		if (p->eof && p->fired)
			finish(p, 124);
		break;
	default:
		break;
	}
	if (p->term_sig)
		finish(p, 128 + p->term_sig);
}

static void
on_signal(struct loop *l, int sig, void *arg)
{
	struct palarm *p = arg;
	pid_t pid;
	int st;

	(void)l;
	if (sig != SIGCHLD) {
		/* Pass it on; we end once COMMAND has. */
		if (p->mode == DEADLINE && (p->child > 0 ||
		    (p->use_cg && !p->cg_empty))) {
			(void)group_signal(p, sig);
			return;
		}
		/* No tick or -W alarm may start a COMMAND from here on, not
		 * even one due in this same round of the loop: it would
		 * outlive us. */
		p->term_sig = sig;
		if (p->timer > 0) {
			loop_timer_cancel(l, p->timer);
			p->timer = 0;
		}
		if (p->child > 0)
			kill(p->child, sig);
		else
			finish(p, 128 + sig);
		return;
	}
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == p->child)
			on_child(p, spawn_wait_status(st));
}

static void
need_positive(const char *s, int64_t *ns, const char *what)
{
	if (duration_parse(s, ns) < 0 || *ns <= 0)
		die(2, "invalid %s '%s'", what, s);
}

static void
parse_args(int argc, char **argv, struct palarm *p)
{
	static const struct option longopts[] = {
		{ "align", no_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'c' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "immediate", no_argument, NULL, 'i' },
		{ "jitter", required_argument, NULL, 'j' },
		{ "kill-after", required_argument, NULL, 'k' },
		{ "pid", required_argument, NULL, 'p' },
		{ "signal", required_argument, NULL, 's' },
		{ "timestamp", no_argument, NULL, 'T' },
		{ "watch", required_argument, NULL, 'W' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ "cgroup", optional_argument, NULL, OPT_CGROUP },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	int c, ticky = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:ac:d:hij:k:p:qs:TvVW:",
	    longopts, NULL)) != -1) {
		switch (c) {
		case 'a': p->align = ticky = 1; break;
		case 'c':
			if (int_parse(optarg, 1, LLONG_MAX, &p->count) < 0)
				die(2, "invalid count '%s'", optarg);
			ticky = 1;
			break;
		case 'd':
			need_positive(optarg, &p->interval, "timeout");
			p->mode = DEADLINE;
			break;
		case OPT_FOREGROUND: p->foreground = 1; break;
		case OPT_CGROUP:
			p->use_cg = 1;
			p->cg_parent = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			exit(0);
		case 'i': p->at_zero = ticky = 1; break;
		case 'j':
			if (duration_parse(optarg, &p->jitter) < 0)
				die(2, "invalid jitter '%s'", optarg);
			ticky = 1;
			break;
		case 'k':
			need_positive(optarg, &p->killafter, "kill delay");
			break;
		case 'p':
			if (int_parse(optarg, 1, INT_MAX, &v) < 0)
				die(2, "invalid pid '%s'", optarg);
			p->pid = (pid_t)v;
			break;
		case 'q': msg_level = MSG_QUIET; break;
		case 's':
			if (signal_parse(optarg, &p->sig) < 0 || p->sig == 0)
				die(2, "invalid signal '%s'", optarg);
			break;
		case 'T': p->stamp = 1; break;
		case 'v': msg_level = MSG_VERBOSE; break;
		case 'V': msg_version();
		case 'W':
			need_positive(optarg, &p->interval, "timeout");
			p->mode = WATCH;
			break;
		default:
			die_badopt(c, argv);
		}
	}
	argv += optind;
	argc -= optind;
	if (p->mode == TICKS) {
		if (argc == 0)
			die(2, "missing INTERVAL");
		need_positive(argv[0], &p->interval, "interval");
		argv++;
		argc--;
		if (argc > 0 && strcmp(argv[0], "--") == 0) {
			argv++;
			argc--;
		}
		if (argc > 0)
			p->mode = RUN;
		else if (p->sig)
			p->mode = SIGNAL;
	} else if (ticky || p->stamp) {
		die(2, "-c, -i, -a, -j and -T need an INTERVAL, not -d or -W");
	}
	if (argc > 0)
		p->cmd = argv;
	if (p->pid && !p->sig)
		die(2, "-p needs -s SIG");
	if (p->stamp && p->mode != TICKS)
		die(2, "-T only applies to ticks on stdout");
	if (p->killafter >= 0 && p->mode != DEADLINE)
		die(2, "-k only applies to -d");
	if (p->foreground && p->mode != DEADLINE)
		die(2, "--foreground only applies to -d");
	if (p->use_cg && p->mode != DEADLINE)
		die(2, "--cgroup only applies to -d");
	switch (p->mode) {
	case RUN:
		if (p->sig || p->pid)
			die(2, "-s/-p and a COMMAND exclude each other");
		break;
	case SIGNAL:
		if (!p->pid)
			die(2, "-s needs -p PID");
		break;
	case DEADLINE:
		if (p->cmd == NULL)
			die(2, "missing COMMAND after -d");
		if (p->pid)
			die(2, "-p does not apply to -d");
		if (!p->sig)
			p->sig = SIGTERM;
		break;
	case WATCH:
		if (p->sig && !p->pid)
			die(2, "-s needs -p PID");
		if (p->sig && p->cmd)
			die(2, "-s/-p and a COMMAND exclude each other");
		break;
	default:
		break;
	}
}

/* An interval timer set by whoever exec'd us survives exec, and would
 * survive into COMMAND too: clear all three. The system call itself, not
 * setitimer(3): the wrapper sits among glibc's time functions, a 64 KiB
 * fault-around window of its own in the resident set; and an all-zero
 * itimerval means the same whatever the kernel's idea of its layout. */
static void
clear_itimers(void)
{
	struct itimerval zero;

	memset(&zero, 0, sizeof(zero));
	syscall(SYS_setitimer, ITIMER_REAL, &zero, NULL);
	syscall(SYS_setitimer, ITIMER_VIRTUAL, &zero, NULL);
	syscall(SYS_setitimer, ITIMER_PROF, &zero, NULL);
}

/* --cgroup: a fresh cgroup for COMMAND's tree, watched before it can
 * change. Without a writable cgroup v2: one line, 125, nothing run. */
static void
setup_cgroup(struct palarm *p)
{
	int step;

	if (cgroup_setup(p->cg_parent, "palarm", &p->cg, &p->cg_watch,
	    &step) < 0) {
		if (step == CGROUP_AT_RESOLVE)
			die(125, "--cgroup: no cgroup v2 directory '%s'",
			    p->cg_parent);
		if (step == CGROUP_AT_CREATE)
			die(125, "--cgroup: cannot create a cgroup v2 under "
			    "%s:", p->cg_parent ? p->cg_parent :
			    "our own cgroup");
		die(125, "--cgroup: cannot watch cgroup.events:");
	}
	if (loop_fd(p->loop, p->cg_watch, LOOP_IN, on_cg_events, p) < 0) {
		(void)cgroup_remove(&p->cg);
		die(125, "--cgroup: cannot watch cgroup.events:");
	}
}

static void
setup(struct palarm *p)
{
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT,
	    SIGUSR1, SIGUSR2 };
	struct stat st;
	size_t i;

	clear_itimers();
	/* Default slack is 50 us; ticks want to be on time. */
	clock_fine_slack();
	signal(SIGPIPE, SIG_IGN);
	p->rng = (uint64_t)clock_mono() ^ ((uint64_t)getpid() << 32) ^ 1;
	if ((p->loop = loop_new()) == NULL)
		die(125, "event loop:");
	if (p->cmd != NULL) {
		if (loop_signal(p->loop, SIGCHLD, on_signal, p) < 0)
			die(125, "signals:");
		for (i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
			if (loop_signal(p->loop, fwd[i], on_signal, p) < 0)
				die(125, "signals:");
	}
	if (p->pid) {
		p->pidfd = proc_pidfd_open(p->pid);
		if (p->pidfd < 0 && errno != ENOSYS)
			die(1, "no process %ld:", (long)p->pid);
		if (p->pidfd >= 0 && loop_fd(p->loop, p->pidfd, LOOP_IN,
		    on_pidfd, p) < 0)
			die(125, "loop:");
	}
	if (p->use_cg)
		setup_cgroup(p);
	if ((p->mode == TICKS || p->mode == WATCH) &&
	    fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)loop_fd(p->loop, STDOUT_FILENO, LOOP_IN, on_stdout, p);
}

static void
start(struct palarm *p)
{
	switch (p->mode) {
	case TICKS:
	case RUN:
	case SIGNAL:
		start_ticks(p);
		break;
	case DEADLINE:
		/* Own process group, so the signal reaches COMMAND's
		 * children too, as timeout(1) does; --foreground leaves it
		 * in ours, where it may read the terminal, and only
		 * COMMAND itself is signalled. */
		p->child = p->use_cg ?
		    start_command(p, enter_cgroup, &p->cg, !p->foreground) :
		    start_command(p, NULL, NULL, !p->foreground);
		p->pgid = p->foreground ? 0 : p->child;
		if (loop_timer(p->loop, clock_add_sat(clock_mono(),
		    p->interval), on_deadline, p) < 0)
			die(125, "timer:");
		break;
	case WATCH:
		if (loop_fd(p->loop, STDIN_FILENO, LOOP_IN, on_stdin, p) < 0)
			die(125, "loop:");
		watch_arm(p);
		break;
	}
}

int
main(int argc, char **argv)
{
	struct palarm p = { .killafter = -1, .pidfd = -1, .cg_watch = -1 };

	msg_init(argv[0]);
	parse_args(argc, argv, &p);
	setup(&p);
	start(&p);
	if (loop_run(p.loop) < 0)
		die(125, "event loop:");
	loop_free(p.loop);
	if (p.pidfd >= 0)
		close(p.pidfd);
	if (p.cg_watch >= 0)
		close(p.cg_watch);
	if (p.use_cg && cgroup_remove(&p.cg) < 0)
		warn("cannot remove cgroup:");
	return p.status;
}
