/* preap: run COMMAND as a child subreaper and reap everything that dies
 * beneath it (DESIGN §3.5).
 *
 *   preap [-r FILE] [-g] [-w | -k GRACE] [-p SIG] [-q|-v] -- COMMAND [ARG]...
 *   preap -z
 *
 * Invariants:
 * - PR_SET_CHILD_SUBREAPER is set before COMMAND starts, so every orphan
 *   of COMMAND's tree is reparented to preap (or to preap as PID 1).
 * - Every catchable signal except CHLD (and the synchronous fault signals
 *   and PIPE) is blocked and read through lib/loop; each is forwarded to
 *   COMMAND, or with -g to its process group. Blocked signals are queued
 *   even for PID 1, which is what makes TERM work in a container.
 * - On SIGCHLD everything dead is reaped at once. With -r the name is
 *   read from /proc while the child is still a zombie: waitid(WNOWAIT)
 *   names it, then waitpid reaps exactly that pid.
 * - When COMMAND exits preap exits with its status (128+N if killed by
 *   signal N), at once by default, after the last descendant with -w,
 *   after TERM and, GRACE later, KILL to the descendants with -k. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "stamp.h"

enum { AFTER_LEAVE, AFTER_WAIT, AFTER_KILL };

struct preap {
	struct loop *loop;
	int logfd;		/* -r: -1 when not logging */
	const char *logname;	/* -r FILE, for messages */
	int logerr;		/* a write to -r failed and was reported */
	int group;		/* -g */
	int after;		/* AFTER_* */
	int64_t grace;		/* -k */
	int pdeathsig;		/* -p */
	pid_t child;		/* COMMAND; 0 once reaped */
	int status;		/* COMMAND's exit status, once reaped */
	int killing;		/* -k: TERM sent, KILL pending */
	int done;
	int use_cg;		/* --cgroup[=PARENT] */
	const char *cg_parent;	/* NULL: under our own cgroup */
	struct cgroup cg;	/* COMMAND's tree */
	int cg_watch;		/* inotify fd on cg's cgroup.events */
	int cg_empty;		/* cg reported populated 0 */
};

enum { OPT_CGROUP = 256, OPT_TIMESTAMPS };

static const char usage_text[] =
    "usage: preap [-r FILE] [-g] [-w | -k GRACE] [--cgroup[=PARENT]] [-p SIG] [-q|-v]\n"
    "             [--timestamps] -- COMMAND [ARG]...\n"
    "       preap -z\n";

static const char help_text[] =
    "\nRun COMMAND as a child subreaper; reap (and report) every process\n"
    "that dies beneath it; exit with COMMAND's status.\n\n"
    "  -r, --record FILE        one line PID CODE SIGNAL NAME per reap (- stdout)\n"
    "  -g, --group              COMMAND in its own group; signals to the group\n"
    "  -w, --wait               after COMMAND, wait for every descendant\n"
    "  -k, --kill-after GRACE   after COMMAND, TERM the rest, KILL after GRACE\n"
    "      --cgroup[=PARENT]    contain the tree in a cgroup v2 (needs -w or -k)\n"
    "  -p, --pdeath-signal SIG  COMMAND gets SIG if preap dies\n"
    "  -z, --zombies            list the system's zombies: PID PPID NAME\n"
    "  -q, --quiet              no notices\n"
    "  -v, --verbose            a line per reaped process\n"
    "      --timestamps         RFC 3339 time on every notice\n"
    "  -h, --help               print this help\n"
    "  -V, --version            print the version\n\n"
    "See preap(1).\n";

/* Signals that must keep their default action: faults are synchronous
 * and forwarding them makes no sense; CHLD is ours; PIPE from our own
 * writes to a closed -r pipe must not reach COMMAND. */
static int
forwardable(int sig)
{
	switch (sig) {
	case SIGCHLD: case SIGPIPE: case SIGKILL: case SIGSTOP:
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE:
	case SIGTRAP: case SIGSYS: case SIGABRT:
		return 0;
	}
	return 1;
}

static void
log_reap(struct preap *p, pid_t pid, const siginfo_t *si, const char *name)
{
	char line[128], how[64];
	int code = 0, sig = 0, n;

	if (si->si_code == CLD_EXITED)
		code = si->si_status;
	else
		sig = si->si_status;
	if (p->logfd >= 0) {
		n = snprintf(line, sizeof(line), "%ld %d %d %s\n", (long)pid,
		    code, sig, name);
		if (n > 0 && io_write_all(p->logfd, line, (size_t)n) < 0) {
			if (errno == EPIPE)
				p->logfd = -1;	/* reader gone: stop logging */
			else if (!p->logerr) {
				/* Once: a full disk must not flood stderr,
				 * and reaping goes on regardless. */
				p->logerr = 1;
				warn("cannot write to '%s':", p->logname);
			}
		}
	}
	if (msg_level >= MSG_VERBOSE)
		verbose("reaped %ld (%s): %s", (long)pid, name,
		    spawn_status_text(spawn_siginfo_status(si), how,
		    sizeof(how)));
}

/* Read a zombie's comm; "?" if it cannot be read. */
static void
read_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	snprintf(buf, size, "?");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = io_read_full(fd, buf, size - 1);
	close(fd);
	if (n <= 0) {
		snprintf(buf, size, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	/* NAME is one field: blanks inside comm would break `read`. */
	for (char *c = buf; *c != '\0'; c++)
		if (*c == ' ' || *c == '\t')
			*c = '_';
}

/* Reap everything that is dead. Returns 1 once no child is left. */
static int
reap_all(struct preap *p)
{
	char name[64] = "";
	siginfo_t si;
	pid_t pid, r;
	int st;

	if (p->logfd < 0 && msg_level < MSG_VERBOSE) {
		/* No name wanted: one system call per child, as fast as
		 * reaping gets. */
		while ((pid = waitpid(-1, &st, WNOHANG)) != 0) {
			if (pid < 0) {
				if (errno == EINTR)
					continue;
				return errno == ECHILD;
			}
			if (pid == p->child) {
				p->child = 0;
				p->status = spawn_wait_status(st);
			}
		}
		return 0;
	}
	for (;;) {
		memset(&si, 0, sizeof(si));
		/* Peek first, so the zombie's name can still be read. */
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD;
		}
		pid = si.si_pid;
		if (pid == 0)
			return 0;
		if (p->logfd >= 0 || msg_level >= MSG_VERBOSE)
			read_comm(pid, name, sizeof(name));
		while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
			;
		if (r < 0 && errno == ECHILD)
			continue;	/* reaped elsewhere: not ours to report */
		if (r != pid) {
			/* waitid just named it dead: a failure here would
			 * name it again forever. Say so, try at the next
			 * SIGCHLD. */
			warn("waitpid %ld:", (long)pid);
			return 0;
		}
		log_reap(p, pid, &si, name);
		if (pid == p->child) {
			p->child = 0;
			p->status = spawn_wait_status(st);
		}
	}
}

static void
forward(struct preap *p, int sig)
{
	if (p->child <= 0)
		return;
	if (kill(p->group ? -p->child : p->child, sig) < 0 && errno != ESRCH)
		warn("cannot forward signal %d:", sig);
}

struct kill_ctx {
	pid_t self;
	int sig;
	pid_t *pids, *ppids;
	size_t n, cap;
};

static int
collect(const struct proc_info *pi, void *arg)
{
	struct kill_ctx *k = arg;
	pid_t *a, *b;

	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 256;
		a = realloc(k->pids, k->cap * sizeof(*a));
		if (a == NULL)
			return -1;
		k->pids = a;
		b = realloc(k->ppids, k->cap * sizeof(*b));
		if (b == NULL)
			return -1;
		k->ppids = b;
	}
	k->pids[k->n] = pi->pid;
	k->ppids[k->n] = pi->ppid;
	k->n++;
	return 0;
}

/* Send sig to every descendant of preap. Returns how many were hit. */
static int
signal_descendants(int sig)
{
	struct kill_ctx k = { .self = getpid(), .sig = sig };
	char *mark;
	size_t i;
	int changed, hit = 0;

	if (k.self == 1) {
		/* PID 1 of a namespace: everyone else is a descendant. */
		return kill(-1, sig) == 0;
	}
	if (proc_scan(PROC_STAT, collect, &k) != 0 || k.n == 0)
		goto out;
	mark = calloc(k.n, 1);
	if (mark == NULL)
		goto out;
	/* Mark descendants until nothing changes: the table is small and
	 * this needs no sort. */
	do {
		changed = 0;
		for (i = 0; i < k.n; i++) {
			size_t j;

			if (mark[i])
				continue;
			if (k.ppids[i] == k.self) {
				mark[i] = changed = 1;
				continue;
			}
			for (j = 0; j < k.n; j++)
				if (mark[j] && k.pids[j] == k.ppids[i]) {
					mark[i] = changed = 1;
					break;
				}
		}
	} while (changed);
	for (i = 0; i < k.n; i++)
		if (mark[i] && kill(k.pids[i], sig) == 0)
			hit++;
	free(mark);
out:
	free(k.pids);
	free(k.ppids);
	return hit;
}

static void on_kill_timer(struct loop *l, void *arg);

/* COMMAND is gone: leave, or wait for / kill the rest. */
static void
command_ended(struct preap *p)
{
	if (p->after == AFTER_LEAVE) {
		p->done = 1;
		return;
	}
	if (p->after == AFTER_KILL && !p->killing) {
		p->killing = 1;
		if (p->use_cg) {
			/* CONT too: a stopped process must act on it. */
			if (cgroup_signal(&p->cg, SIGTERM) < 0 ||
			    cgroup_signal(&p->cg, SIGCONT) < 0)
				warn("cannot signal cgroup %s:", p->cg.path);
		} else {
			signal_descendants(SIGTERM);
		}
		if (loop_timer(p->loop, clock_mono() + p->grace, on_kill_timer,
		    p) < 0)
			die(125, "timer:");
	}
}

static void
on_kill_timer(struct loop *l, void *arg)
{
	struct preap *p = arg;

	if (p->use_cg) {
		/* One write reaches the whole tree, forks included. */
		if (cgroup_kill(&p->cg) < 0)
			warn("cannot kill cgroup %s:", p->cg.path);
		return;
	}
	signal_descendants(SIGKILL);
	/* A descendant may fork between scan and kill: sweep again. */
	if (loop_timer(l, clock_mono() + 100 * NS_PER_MS, on_kill_timer, p) < 0)
		die(125, "timer:");
}

static void
on_signal(struct loop *l, int sig, void *arg)
{
	struct preap *p = arg;
	int none_left;

	if (sig != SIGCHLD) {
		forward(p, sig);
		return;
	}
	none_left = reap_all(p);
	/* With --cgroup, the tree is gone once the cgroup is empty too (and
	 * everything in it reaped: preap is their subreaper). */
	if (p->use_cg && !p->cg_empty)
		none_left = 0;
	if (p->child == 0 && !p->done) {
		if (p->after == AFTER_LEAVE || none_left)
			p->done = 1;
		else
			command_ended(p);
	}
	if (p->done)
		loop_stop(l);
}

/* cgroup.events changed: once empty, reap what is left and see. */
static void
on_cg_events(struct loop *l, int fd, int events, void *arg)
{
	struct preap *p = arg;
	int r;

	(void)events;
	cgroup_watch_drain(fd);
	if ((r = cgroup_populated(&p->cg)) < 0)
		die(125, "cannot read %s/cgroup.events:", p->cg.path);
	if (r == 0) {
		p->cg_empty = 1;
		on_signal(l, SIGCHLD, p);
	}
}

/* --cgroup: a fresh cgroup for COMMAND's tree, watched before it can
 * change. Without a writable cgroup v2: one line, 125, nothing run. */
static void
setup_cgroup(struct preap *p)
{
	int step;

	if (cgroup_setup(p->cg_parent, "preap", &p->cg, &p->cg_watch,
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

/* -z: list zombies as PID PPID NAME. */
static int
show_zombie(const struct proc_info *pi, void *arg)
{
	int *found = arg;

	if (pi->state == 'Z') {
		printf("%ld %ld %s\n", (long)pi->pid, (long)pi->ppid, pi->comm);
		*found = 1;
	}
	return 0;
}

static int
list_zombies(void)
{
	int found = 0;

	if (proc_scan(PROC_STAT, show_zombie, &found) < 0)
		die(1, "cannot read /proc:");
	if (fflush(stdout) == EOF && errno != EPIPE)
		die(1, "stdout:");
	return found ? 0 : 1;
}

static int
parse_args(int argc, char **argv, struct preap *p, int *zombies)
{
	static const struct option longopts[] = {
		{ "record", required_argument, NULL, 'r' },
		{ "group", no_argument, NULL, 'g' },
		{ "wait", no_argument, NULL, 'w' },
		{ "kill-after", required_argument, NULL, 'k' },
		{ "pdeath-signal", required_argument, NULL, 'p' },
		{ "zombies", no_argument, NULL, 'z' },
		{ "cgroup", optional_argument, NULL, OPT_CGROUP },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "timestamps", no_argument, NULL, OPT_TIMESTAMPS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *log = NULL;
	int c, waitflag = 0, killflag = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:ghk:p:qr:vVwz", longopts,
	    NULL)) != -1) {
		switch (c) {
		case OPT_CGROUP:
			p->use_cg = 1;
			p->cg_parent = optarg;
			break;
		case OPT_TIMESTAMPS:
			stamp_on = 1;
			break;
		case 'g':
			p->group = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			exit(0);
		case 'k':
			if (duration_parse(optarg, &p->grace) < 0)
				die(2, "invalid grace time '%s'", optarg);
			killflag = 1;
			break;
		case 'p':
			if (signal_parse(optarg, &p->pdeathsig) < 0 ||
			    p->pdeathsig == 0)
				die(2, "invalid signal '%s'", optarg);
			break;
		case 'q':
			msg_level = MSG_QUIET;
			break;
		case 'r':
			log = optarg;
			break;
		case 'v':
			msg_level = MSG_VERBOSE;
			break;
		case 'V':
			msg_version();
		case 'w':
			waitflag = 1;
			break;
		case 'z':
			*zombies = 1;
			break;
		default:
			die_badopt(c, argv);
		}
	}
	if (waitflag && killflag)
		die(2, "-w and -k exclude each other");
	p->after = waitflag ? AFTER_WAIT : killflag ? AFTER_KILL : AFTER_LEAVE;
	if (p->use_cg && !waitflag && !killflag)
		die(2, "--cgroup needs -w or -k");
	if (*zombies) {
		if (optind < argc || log || waitflag || killflag || p->group ||
		    p->pdeathsig || p->use_cg || stamp_on)
			die(2, "-z takes no other option and no COMMAND");
		return optind;
	}
	if (optind >= argc)
		die(2, "missing COMMAND");
	if (log != NULL) {
		p->logname = strcmp(log, "-") == 0 ? "stdout" : log;
		if (strcmp(log, "-") == 0)
			p->logfd = STDOUT_FILENO;
		else if ((p->logfd = open(log, O_WRONLY | O_CREAT | O_APPEND |
		    O_CLOEXEC, 0644)) < 0)
			die(125, "cannot open '%s':", log);
	}
	return optind;
}

static void
setup_signals(struct preap *p)
{
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (!forwardable(sig))
			continue;
		/* glibc's reserved real-time signals fail here; skip them. */
		(void)loop_signal(p->loop, sig, on_signal, p);
	}
	if (loop_signal(p->loop, SIGCHLD, on_signal, p) < 0)
		die(125, "cannot route SIGCHLD:");
	signal(SIGPIPE, SIG_IGN);
}

/* In the child with -g: take the terminal for the new process group, so
 * an interactive COMMAND is not stopped by SIGTTIN. */
static int
take_terminal(void *arg)
{
	struct preap *p = arg;

	if (p->group && isatty(STDIN_FILENO))
		(void)tcsetpgrp(STDIN_FILENO, getpid());
	/* In the cgroup before exec: all COMMAND starts is born inside. */
	if (p->use_cg && cgroup_enter(&p->cg) < 0)
		return -1;
	return 0;
}

static void
start_command(struct preap *p, char **argv)
{
	struct spawn_opts o = { .in = -1, .out = -1, .err = -1 };

	int err;

	o.pdeathsig = p->pdeathsig;
	o.setpgid = p->group;
	if (p->group || p->use_cg) {
		o.hook = take_terminal;
		o.hook_arg = p;
	}
	p->child = spawn_start(argv, &o);
	if (p->child < 0) {
		err = errno;
		if (p->use_cg)
			(void)cgroup_remove(&p->cg);	/* nothing in it */
		die(spawn_exec_status(err), "cannot run '%s': %s", argv[0],
		    strerror(err));
	}
}

int
main(int argc, char **argv)
{
	struct preap p = { .logfd = -1, .cg_watch = -1 };
	int zombies = 0, first;

	msg_init(argv[0]);
	first = parse_args(argc, argv, &p, &zombies);
	if (zombies)
		return list_zombies();
	if (getpid() != 1 && proc_set_subreaper() < 0)
		die(125, "cannot become a subreaper:");
	if ((p.loop = loop_new()) == NULL)
		die(125, "cannot create event loop:");
	setup_signals(&p);
	if (p.use_cg)
		setup_cgroup(&p);
	start_command(&p, argv + first);
	/* COMMAND may already be dead: check once before sleeping. */
	on_signal(p.loop, SIGCHLD, &p);
	if (!p.done && loop_run(p.loop) < 0)
		die(125, "event loop:");
	loop_free(p.loop);
	if (p.logfd > STDERR_FILENO)
		close(p.logfd);
	if (p.cg_watch >= 0)
		close(p.cg_watch);
	if (p.use_cg && cgroup_remove(&p.cg) < 0)
		warn("cannot remove cgroup:");
	return p.status;
}
