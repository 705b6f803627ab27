/* daemonize: start a command as a daemon; stop, signal or query it by
 * its pidfile.
 *
 * Start. The caller forks; the child calls setsid and forks again, so
 * the daemon (the grandchild) is in a session of its own that it does not
 * lead and can never acquire a terminal. The daemon reports to the caller
 * through a close-on-exec pipe: first its pid, then either nothing (exec
 * succeeded, the pipe closes), "busy" with the pid of the instance that
 * holds the pidfile lock, or a failure with its exit status and the
 * message to print. Before exec the daemon, in this order:
 *   1. keeps only the report pipe and the readiness fd, 0/1/2 on /dev/null;
 *   2. locks PIDFILE.lock and writes the pidfile (lib/pidfile) as the
 *      caller's user, so both stay root's; only the lock fd stays open
 *      across exec, so the daemon holds the lock but no fd of the
 *      pidfile it could rewrite;
 *   3. drops privileges (groups, gid, uid), takes the -l lock, chdir,
 *      umask;
 *   4. opens -o / -e as the daemon's user (a daemon-writable directory
 *      must not let it point root's open at another file), and as root
 *      without -u opens files only (no symlink, FIFO, device, hard link);
 *   5. sets the environment, resets signal mask and dispositions, execs.
 * An fcntl lock is released when ANY fd of the file is closed by its
 * holder, so the lock fd is taken where it stays, never dup'd and closed.
 *
 * Readiness (-N, --ready-fd): the caller becomes a child subreaper before
 * forking, so the daemon is reparented to it when the middle child exits;
 * it then waits for READY=1 on a datagram socket in a private directory,
 * or a line on the pipe, for the daemon's exit (SIGCHLD: its status is
 * reported at once), or for the -w deadline. Once the caller exits the
 * daemon is adopted by init or the nearest subreaper.
 *
 * Control forms use the pidfile: the recorded pid counts only while the
 * process with that pid has the recorded start time (lib/pidfile), so a
 * recycled pid is never signalled. --stop and --signal pin the process
 * with a pidfd and check the pidfile again before signalling.
 *
 * --cgroup: the caller makes a fresh cgroup v2 (lib/cgroup) before it
 * forks, so a missing or read-only one starts nothing; the daemon
 * records it on the pidfile (an attribute only the pidfile's writer can
 * set, naming its pid) and moves in before it changes user or starts
 * anything. --stop takes the recorded cgroup only after checking it
 * (cgroup_find), reaches every process in it at each step of the
 * schedule, KILL through cgroup.kill, waits for populated 0 and removes
 * it. A start that fails takes its cgroup along. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "io.h"
#include "loop.h"
#include "msg.h"
#include "parse.h"
#include "pidfile.h"
#include "proc.h"
#include "spawn.h"
#include "stamp.h"

extern char **environ;

enum { MODE_START, MODE_STATUS, MODE_STOP, MODE_SIGNAL };
enum { SCOPE_SESSION, SCOPE_GROUP, SCOPE_PID };	/* --scope */
enum { OPT_STATUS = 256, OPT_STOP, OPT_SIGNAL, OPT_READY_FD, OPT_RETRY,
    OPT_CHECK, OPT_SCOPE, OPT_JSON, OPT_SYSLOG, OPT_CGROUP, OPT_TIMESTAMPS };

#define READY_FD_MAX	1023
#define LISTEN_MAX	512		/* inherited activation sockets */
#define KILL_WAIT	(5 * NS_PER_SEC)	/* after -K's KILL */
#define STOP_WAIT	(20 * NS_PER_SEC)	/* outlasts prefork's 10s grace */
#define CHECK_WAIT	(300 * NS_PER_MS)	/* --check default */
#define CG_WAIT		(5 * NS_PER_SEC)	/* a failed start's cgroup */
#define SCHED_MAX	16
#define TAIL_LINES	5

/* One step of a --stop schedule: send sig, wait up to `wait`. */
struct step {
	int sig;
	int64_t wait;
};
#define EOF_GRACE	(200 * NS_PER_MS)	/* ready fd closed, alive? */

struct opts {
	int mode;
	int append, foreground, notify, kill;
	int ready_fd;			/* -1: none */
	char *dir, *out, *err, *pidfile, *lockfile;	/* absolute */
	int has_user;
	struct user_spec user;
	mode_t umask;
	char **env;
	int nenv;
	const char *argv0;
	int64_t wait;			/* readiness bound, 0: none */
	int64_t stop_timeout;
	int stop_sig, sig;
	struct step sched[SCHED_MAX];	/* --stop: -s/-t/-K or --retry */
	int nsched;
	int64_t check;			/* --check window, 0: off */
	int listen_n;			/* inherited LISTEN_FDS meant for us */
	int scope, has_scope;		/* --stop reaches: SCOPE_* */
	int json;			/* --status --json */
	const char *syslog_tag;		/* --syslog TAG */
	int cgroup;			/* --cgroup */
	const char *cg_parent;		/* --cgroup=PATH, NULL: our own */
	struct cgroup cg;		/* made for the daemon by start */
	char **cmd;			/* as given, for messages */
	char **exec;			/* cmd with a relative path made absolute */
	const char *exec_argv0;
};

/* What the daemon tells the caller; one write, below PIPE_BUF. */
enum { REPORT_PID = 1, REPORT_BUSY, REPORT_FAIL };
struct report {
	int type;
	int status;
	pid_t pid;
	char text[512];
};

/* Readiness channel, on the caller's side. */
struct ready {
	int fd;			/* pipe read end or notify socket */
	int child_fd;		/* pipe write end for the daemon, or -1 */
	char *dir, *path;	/* -N: private directory and socket */
	pid_t pid;		/* the daemon */
	char line[256];		/* --ready-fd: bytes so far */
	size_t len;
	int result;		/* -1 waiting, else exit status */
	int64_t wait;		/* -w, for the message */
	long eof_timer;
	struct loop *loop;
	const struct opts *o;
	int checking;		/* --check window, no readiness */
	off_t err_off;		/* -e: where this start's stderr begins */
	int died;		/* the daemon was reaped */
};

static struct ready *cleanup_ready;

/* Daemon side: where failures go (-1 with -f: printed in place), and the
 * pidfile to remove when exec fails after the lock was taken. */
static int report_fd = -1;
static const char *held_pidfile;
/* -f --cgroup: the cgroup to leave and remove when exec is not reached. */
static struct cgroup *held_cgroup;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: daemonize [-a] [-c DIR] [-o FILE] [-e FILE] [-p PIDFILE] "
	    "[-l LOCKFILE]\n"
	    "                 [-u USER[:GROUP]] [-m UMASK] [-E NAME=VALUE]... "
	    "[-A ARGV0]\n"
	    "                 [-N | --ready-fd N] [-w TIMEOUT] [--check D] "
	    "[--syslog TAG]\n"
	    "                 [--cgroup[=PATH]] [--timestamps] [-f] [-q|-v]"
	    " -- COMMAND [ARG]...\n"
	    "       daemonize -p PIDFILE --status [--json] | --signal SIG\n"
	    "       daemonize -p PIDFILE --stop [-s SIG] [-t TIMEOUT] [-K] | "
	    "--retry SCHEDULE\n"
	    "                 [--scope session|group|pid]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Start COMMAND as a daemon; stop, signal or query it by pidfile.\n"
	    "\n"
	    "  -a, --append            append to the -o/-e files\n"
	    "  -c, --chdir DIR         run in DIR (default /)\n"
	    "  -o, --stdout FILE       standard output to FILE\n"
	    "  -e, --stderr FILE       standard error to FILE\n"
	    "      --syslog TAG        the rest of stdout/stderr to syslog, "
	    "tagged TAG\n"
	    "  -p, --pidfile PIDFILE   pidfile (and PIDFILE.lock) for a single "
	    "instance\n"
	    "  -l, --lockfile FILE     also hold a lock on FILE\n"
	    "  -u, --user USER[:GROUP] run as USER (root only)\n"
	    "  -m, --umask UMASK       octal umask (default 022)\n"
	    "  -E, --env NAME=VALUE    set a variable for COMMAND\n"
	    "  -A, --argv0 ARGV0       run COMMAND with this argv[0] (title)\n"
	    "  -N, --notify            wait for READY=1 on NOTIFY_SOCKET\n"
	    "      --ready-fd N        wait for a line on fd N\n"
	    "  -w, --wait TIMEOUT      bound the readiness wait (default 30s)\n"
	    "      --check D           report COMMAND exiting within D "
	    "(default 300ms)\n"
	    "      --cgroup[=PATH]     run in a fresh cgroup v2 (under PATH, "
	    "default our own)\n"
	    "                          that --stop empties and removes\n"
	    "  -f, --foreground        no fork: exec COMMAND in place\n"
	    "  -q, --quiet             no notices, no --status output\n"
	    "  -v, --verbose           report pids, readiness, signals\n"
	    "      --timestamps        RFC 3339 time on every notice\n"
	    "      --status            0 running, 1 dead, 3 no pidfile, 4 "
	    "unknown\n"
	    "      --json              --status as one JSON object\n"
	    "      --stop              stop the daemon (schedule below)\n"
	    "      --signal SIG        send SIG to the daemon\n"
	    "  -s, --stop-signal SIG   --stop's signal (default TERM)\n"
	    "  -t, --timeout TIMEOUT   --stop's wait (default 20s)\n"
	    "  -K, --kill              --stop: then KILL, wait 5s more\n"
	    "      --retry SCHEDULE    --stop: SIG/TIMEOUT/... or TIMEOUT\n"
	    "      --scope SCOPE       --stop reaches: session (default), "
	    "group, pid\n"
	    "  -h, --help              this help\n"
	    "  -V, --version           the version\n"
	    "\n"
	    "See daemonize(1).\n");
}

/* Relative paths are the caller's, even though the daemon changes
 * directory. */
static char *
path_abs(const char *p)
{
	char cwd[PATH_MAX], *r;
	size_t n;

	if (*p == '\0')
		die(2, "empty path");
	if (*p == '/') {
		return msg_strdup(1, p);
	}
	while (p[0] == '.' && p[1] == '/')
		for (p += 2; *p == '/'; p++)
			;
	if (*p == '\0')
		p = ".";
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		die(1, "getcwd:");
	n = strlen(cwd) + strlen(p) + 2;
	r = msg_alloc(1, n, 1);
	snprintf(r, n, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, p);
	return r;
}

/* A repeated option: the last one counts, and the earlier copy is freed. */
static void
path_opt(char **dst, const char *p)
{
	free(*dst);
	*dst = path_abs(p);
}

static int64_t
duration_opt(const char *s, int c)
{
	int64_t ns;

	if (duration_parse(s, &ns) < 0)
		die(2, "-%c: bad duration '%s'", c, s);
	return ns;
}

static int
signal_opt(const char *s, const char *opt)
{
	int sig;

	if (signal_parse(s, &sig) < 0)
		die(2, "%s: bad signal '%s'", opt, s);
	return sig;
}

static mode_t
umask_opt(const char *s)
{
	const char *p;
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 4)
		die(2, "-m: bad umask '%s'", s);
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			die(2, "-m: bad umask '%s'", s);
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > 0777)
		die(2, "-m: bad umask '%s'", s);
	return (mode_t)v;
}

/* Socket activation handed to daemonize (LISTEN_PID is ours): its fds
 * 3.. go to COMMAND on the same numbers, with LISTEN_PID set to the
 * final process. Meant for another process: left alone (and the fds
 * closed, as any other). */
static void
listen_inherit(struct opts *o)
{
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	long long p, v;
	int fd;

	if (pid == NULL || n == NULL || int_parse(pid, 1, INT_MAX, &p) < 0 ||
	    p != (long long)getpid())
		return;
	if (int_parse(n, 0, LISTEN_MAX, &v) < 0)
		die(1, "LISTEN_FDS: expected a number from 0 to %d, got '%s'",
		    LISTEN_MAX, n);
	for (fd = 3; fd < 3 + (int)v; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			die(1, "LISTEN_FDS=%lld, but fd %d is not open", v, fd);
	o->listen_n = (int)v;
}

static void
opts_check(struct opts *o, int stop_opts)
{
	if (o->mode != MODE_START) {
		if (o->pidfile == NULL)
			die(2, "--status, --stop and --signal need -p PIDFILE");
		if (o->cmd[0] != NULL)
			die(2, "no COMMAND with --status, --stop or --signal");
		if (o->cgroup)
			die(2, "--cgroup goes with starting COMMAND; --stop "
			    "finds the cgroup on its own");
		if (stop_opts && o->mode != MODE_STOP)
			die(2, "-s, -t, -K and --retry go with --stop");
		return;
	}
	if (stop_opts)
		die(2, "-s, -t, -K and --retry go with --stop");
	if (o->cgroup && o->pidfile == NULL)
		die(2, "--cgroup needs -p PIDFILE: --stop finds the cgroup "
		    "through it");
	if (o->cmd[0] == NULL)
		die(2, "missing COMMAND");
	if (o->notify && o->ready_fd >= 0)
		die(2, "-N and --ready-fd exclude each other");
	if (o->foreground && (o->notify || o->ready_fd >= 0))
		die(2, "-f runs COMMAND in place: nobody waits for readiness");
	if (o->syslog_tag != NULL && o->foreground)
		die(2, "--syslog does not go with -f: its output is the "
		    "supervisor's");
	if (o->syslog_tag != NULL && o->out != NULL && o->err != NULL)
		die(2, "--syslog with both -o and -e would send nothing");
	if (o->has_user && geteuid() != 0)
		die(1, "-u: must be run as root to change user");
	listen_inherit(o);
	if (o->ready_fd >= 0 && o->ready_fd < 3 + o->listen_n)
		die(2, "--ready-fd %d is one of the %d inherited LISTEN_FDS",
		    o->ready_fd, o->listen_n);
}

/* --retry SCHEDULE, start-stop-daemon's form: SIG/TIMEOUT/SIG/TIMEOUT...
 * (signal names or numbers, durations), or a lone TIMEOUT meaning
 * TERM/TIMEOUT/KILL/TIMEOUT. */
static void
retry_parse(struct opts *o, const char *arg)
{
	char buf[512], *tok, *save;
	int64_t ns;
	int n = 0, sig;

	if (strlen(arg) >= sizeof(buf))
		die(2, "--retry: schedule too long");
	if (duration_parse(arg, &ns) == 0) {
		o->sched[0].sig = SIGTERM;
		o->sched[1].sig = SIGKILL;
		o->sched[0].wait = o->sched[1].wait = ns;
		o->nsched = 2;
		return;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, "/", &save); tok != NULL;
	    tok = strtok_r(NULL, "/", &save), n++) {
		if (n / 2 >= SCHED_MAX)
			die(2, "--retry: more than %d steps in '%s'",
			    SCHED_MAX, arg);
		if (n % 2 == 0) {
			if (signal_parse(tok, &sig) < 0)
				die(2, "--retry: bad signal '%s' in '%s' "
				    "(expected SIG/TIMEOUT/...)", tok, arg);
			o->sched[n / 2].sig = sig;
		} else if (duration_parse(tok, &o->sched[n / 2].wait) < 0) {
			die(2, "--retry: bad timeout '%s' in '%s' "
			    "(expected SIG/TIMEOUT/...)", tok, arg);
		}
	}
	if (n == 0 || n % 2 != 0 || arg[strlen(arg) - 1] == '/' ||
	    strstr(arg, "//") != NULL || arg[0] == '/')
		die(2, "--retry: bad schedule '%s' (expected SIG/TIMEOUT/...)",
		    arg);
	o->nsched = n / 2;
}

static void
opts_parse(struct opts *o, int argc, char *argv[])
{
	static const struct option longs[] = {
		{ "append", no_argument, NULL, 'a' },
		{ "chdir", required_argument, NULL, 'c' },
		{ "stdout", required_argument, NULL, 'o' },
		{ "stderr", required_argument, NULL, 'e' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "lockfile", required_argument, NULL, 'l' },
		{ "user", required_argument, NULL, 'u' },
		{ "umask", required_argument, NULL, 'm' },
		{ "env", required_argument, NULL, 'E' },
		{ "argv0", required_argument, NULL, 'A' },
		{ "notify", no_argument, NULL, 'N' },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "wait", required_argument, NULL, 'w' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "status", no_argument, NULL, OPT_STATUS },
		{ "stop", no_argument, NULL, OPT_STOP },
		{ "signal", required_argument, NULL, OPT_SIGNAL },
		{ "stop-signal", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "kill", no_argument, NULL, 'K' },
		{ "retry", required_argument, NULL, OPT_RETRY },
		{ "check", required_argument, NULL, OPT_CHECK },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "syslog", required_argument, NULL, OPT_SYSLOG },
		{ "cgroup", optional_argument, NULL, OPT_CGROUP },
		{ "timestamps", no_argument, NULL, OPT_TIMESTAMPS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long long n;
	int c, stop_opts = 0, modes = 0, retry = 0;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	o->cg.procs = -1;
	o->umask = 022;
	o->wait = 30 * NS_PER_SEC;
	o->stop_timeout = STOP_WAIT;
	o->check = CHECK_WAIT;
	o->stop_sig = SIGTERM;
	o->env = msg_alloc(1, (size_t)argc + 1, sizeof(*o->env));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:aA:c:e:E:fhKl:m:No:p:qs:t:u:vVw:",
	    longs, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->append = 1;
			break;
		case 'A':
			if (*optarg == '\0')
				die(2, "-A: empty ARGV0");
			o->argv0 = optarg;
			break;
		case 'c':
			path_opt(&o->dir, optarg);
			break;
		case 'e':
			path_opt(&o->err, optarg);
			break;
		case 'E':
			if (optarg[0] == '=' || strchr(optarg, '=') == NULL)
				die(2, "-E: expected NAME=VALUE, got '%s'",
				    optarg);
			o->env[o->nenv++] = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'h':
			help();
			exit(0);
		case 'K':
			o->kill = 1;
			stop_opts = 1;
			break;
		case 'l':
			path_opt(&o->lockfile, optarg);
			break;
		case 'm':
			o->umask = umask_opt(optarg);
			break;
		case 'N':
			o->notify = 1;
			break;
		case 'o':
			path_opt(&o->out, optarg);
			break;
		case 'p':
			path_opt(&o->pidfile, optarg);
			break;
		case 'q':
			msg_level = MSG_QUIET;
			break;
		case 's':
			o->stop_sig = signal_opt(optarg, "-s");
			stop_opts = 1;
			break;
		case 't':
			o->stop_timeout = duration_opt(optarg, 't');
			stop_opts = 1;
			break;
		case 'u':
			if (user_parse(optarg, &o->user) < 0)
				die(2, "-u: unknown or bad user '%s'", optarg);
			o->has_user = 1;
			break;
		case 'v':
			msg_level = MSG_VERBOSE;
			break;
		case 'V':
			msg_version();
		case 'w':
			o->wait = duration_opt(optarg, 'w');
			break;
		case OPT_READY_FD:
			if (int_parse(optarg, 3, READY_FD_MAX, &n) < 0)
				die(2, "--ready-fd: expected a number from 3 "
				    "to %d, got '%s'", READY_FD_MAX, optarg);
			o->ready_fd = (int)n;
			break;
		case OPT_RETRY:
			retry_parse(o, optarg);
			retry = 1;
			break;
		case OPT_SYSLOG:
			if (*optarg == '\0' || strlen(optarg) > 64 ||
			    strpbrk(optarg, " :[]\n\t") != NULL)
				die(2, "--syslog: expected a tag of up to 64 "
				    "characters without blanks, ':' or brackets");
			o->syslog_tag = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_CGROUP:
			if (optarg != NULL && *optarg == '\0')
				die(2, "--cgroup: empty PATH");
			o->cgroup = 1;
			o->cg_parent = optarg;
			break;
		case OPT_TIMESTAMPS:
			stamp_on = 1;
			break;
		case OPT_SCOPE:
			if (strcmp(optarg, "session") == 0)
				o->scope = SCOPE_SESSION;
			else if (strcmp(optarg, "group") == 0)
				o->scope = SCOPE_GROUP;
			else if (strcmp(optarg, "pid") == 0)
				o->scope = SCOPE_PID;
			else
				die(2, "--scope: expected session, group or "
				    "pid, got '%s'", optarg);
			o->has_scope = 1;
			break;
		case OPT_CHECK:
			if (duration_parse(optarg, &o->check) < 0)
				die(2, "--check: bad duration '%s'", optarg);
			break;
		case OPT_STATUS:
			o->mode = MODE_STATUS;
			modes++;
			break;
		case OPT_STOP:
			o->mode = MODE_STOP;
			modes++;
			break;
		case OPT_SIGNAL:
			o->sig = signal_opt(optarg, "--signal");
			o->mode = MODE_SIGNAL;
			modes++;
			break;
		default:
			die_badopt(c, argv);
		}
	}
	if (modes > 1)
		die(2, "--status, --stop and --signal exclude each other");
	if (retry && stop_opts)
		die(2, "--retry excludes -s, -t and -K");
	if (o->has_scope && o->mode != MODE_STOP)
		die(2, "--scope goes with --stop");
	if (o->json && o->mode != MODE_STATUS)
		die(2, "--json goes with --status");
	if (!retry) {
		o->sched[0].sig = o->stop_sig;
		o->sched[0].wait = o->stop_timeout;
		o->sched[1].sig = SIGKILL;
		o->sched[1].wait = KILL_WAIT;
		o->nsched = o->kill ? 2 : 1;
	}
	o->cmd = argv + optind;
	opts_check(o, stop_opts || retry);
	o->exec_argv0 = o->argv0;
	if (o->cmd[0] != NULL && o->cmd[0][0] != '/' &&
	    strchr(o->cmd[0], '/') != NULL) {
		/* ./prog is the caller's, not relative to -c or /; its
		 * argv[0] stays as typed unless -A says otherwise. */
		if (o->exec_argv0 == NULL)
			o->exec_argv0 = o->cmd[0];
		o->exec = msg_alloc(1, (size_t)(argc - optind) + 1,
		    sizeof(*o->exec));
		memcpy(o->exec, o->cmd, (size_t)(argc - optind) *
		    sizeof(*o->exec));
		o->exec[0] = path_abs(o->cmd[0]);
	} else {
		o->exec = o->cmd;
	}
}

/* ---- control forms ---- */

/* Why a pidfile or lockfile is refused (lib/pidfile's errno), or NULL
 * for an ordinary error. */
static const char *
file_problem(int e)
{
	switch (e) {
	case ELOOP:
		return "refusing a symbolic link as";
	case EISDIR:
		return "refusing a directory as";
	case ENODEV:
		return "refusing a FIFO, socket or device as";
	case EMLINK:
		return "refusing a hard link as";
	case EPERM:
		return "refusing a file owned by another user, or writable "
		    "by others, as";
	case EINVAL:
		return "not a pkit pidfile; left alone; refusing it as";
	case EDOM:
		return "names pid 1 or this process; refusing it as";
	}
	return NULL;
}

static void
file_die(int status, const char *path, const char *what)
{
	const char *why = file_problem(errno);

	if (why != NULL)
		die(status, "%s: %s %s", path, why, what);
	die(status, "%s:", path);
}

static int
check_or_die(const struct opts *o, pid_t *pid, uint64_t *start, int status)
{
	int st;

	st = pidfile_check_start(o->pidfile, pid, start);
	if (st < 0)
		file_die(status, o->pidfile, "pidfile");
	return st;
}

/* LSB: 0 running, 1 dead but pidfile exists, 3 not running, 4 unknown. */
/* A JSON string: quotes, backslashes and control characters escaped. */
static void
json_str(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static int cgroup_find(const struct opts *o, pid_t pid, int alive,
    struct cgroup *cg, int quiet);

/* The daemon's cgroup (--cgroup), as --stop would take it: ",\"cgroup\":"
 * and the path or null. */
static void
status_cgroup_json(const struct opts *o, int st, pid_t pid)
{
	struct cgroup cg;

	printf(",\"cgroup\":");
	if (st != PIDFILE_ABSENT && cgroup_find(o, pid, st == PIDFILE_RUNNING,
	    &cg, 1)) {
		json_str(cg.path);
		cgroup_free(&cg);
	} else {
		printf("null");
	}
}

/* --status --json: one object on one line. */
static void
status_json(const struct opts *o, int st, pid_t pid)
{
	static const char *const names[] = {
		[PIDFILE_RUNNING] = "running", [PIDFILE_STALE] = "dead",
		[PIDFILE_ABSENT] = "absent",
	};
	struct proc_info pi;
	char exe[PATH_MAX], when[64];
	int64_t start, now;
	ssize_t n;
	time_t sec;
	struct tm tm;

	printf("{\"status\":\"%s\",\"pidfile\":", names[st]);
	json_str(o->pidfile);
	if (st != PIDFILE_RUNNING || proc_start_wall(pid, &start) < 0 ||
	    proc_read(pid, PROC_TITLE, &pi) < 0) {
		if (pid > 0)
			printf(",\"pid\":%ld", (long)pid);
		else
			printf(",\"pid\":null");
		printf(",\"started_at\":null,\"uptime\":null,"
		    "\"command\":null,\"title\":null");
		status_cgroup_json(o, st, pid);
		printf("}\n");
		return;
	}
	now = clock_wall();
	sec = (time_t)(start / NS_PER_SEC);
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(exe, sizeof(exe), "/proc/%ld/exe", (long)pid);
	printf(",\"pid\":%ld,\"started_at\":\"%s.%03dZ\",\"uptime\":%.3f,"
	    "\"command\":", (long)pid, when,
	    (int)(start % NS_PER_SEC / NS_PER_MS),
	    (double)(now - start) / NS_PER_SEC);
	{
		char buf[PATH_MAX];

		n = readlink(exe, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			json_str(buf);
		} else {
			printf("null");
		}
	}
	printf(",\"title\":");
	json_str(pi.title != NULL ? pi.title : "");
	status_cgroup_json(o, st, pid);
	printf("}\n");
	proc_info_free(&pi);
}

static int
ctl_status(const struct opts *o)
{
	struct cgroup cg;
	pid_t pid = 0;
	int st;

	st = check_or_die(o, &pid, NULL, 4);
	if (o->json) {
		status_json(o, st, pid);
		return st;
	}
	if (msg_level > MSG_QUIET) {
		if (st == PIDFILE_RUNNING)
			printf("running (pid %ld)\n", (long)pid);
		else
			printf("not running\n");
		if (msg_level == MSG_VERBOSE && st != PIDFILE_ABSENT &&
		    cgroup_find(o, pid, st == PIDFILE_RUNNING, &cg, 1)) {
			printf("cgroup %s\n", cg.path);
			cgroup_free(&cg);
		}
	}
	return st;
}

static int stop_pin(const struct opts *o, pid_t pid, uint64_t start);

static int
ctl_signal(const struct opts *o)
{
	char name[16];
	uint64_t start = 0;
	pid_t pid = 0;
	int fd, r;

	if (check_or_die(o, &pid, &start, 1) != PIDFILE_RUNNING ||
	    (fd = stop_pin(o, pid, start)) == -2) {
		notice("not running");
		return 1;
	}
	r = proc_pidfd_signal(fd, pid, o->sig);
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		if (errno == ESRCH) {
			notice("not running");
			return 1;
		}
		die(1, "cannot send %s to pid %ld:",
		    signal_name(o->sig, name, sizeof(name)), (long)pid);
	}
	verbose("sent %s to pid %ld", signal_name(o->sig, name, sizeof(name)),
	    (long)pid);
	return 0;
}

/* Pin the running instance with a pidfd: checked again after opening, so
 * the pid cannot have been recycled in between. Returns the pidfd, -1
 * without pidfd support, or -2 when it is gone. */
static int
stop_pin(const struct opts *o, pid_t pid, uint64_t start)
{
	uint64_t start2 = 0;
	pid_t again = 0;
	int fd;

	fd = proc_pidfd_open(pid);
	if (fd < 0)
		return errno == ESRCH ? -2 : -1;
	if (check_or_die(o, &again, &start2, 1) != PIDFILE_RUNNING ||
	    again != pid || start2 != start) {
		close(fd);
		return -2;
	}
	return fd;
}

/* The processes --stop reaches: [0] is the daemon (pinned and checked
 * against the pidfile), then the other members of its session or
 * process group, each pinned with a pidfd and checked again after
 * pinning, so a recycled pid is never hit. */
struct reach {
	int scope;
	pid_t id;		/* session or process group id */
	int *fd;
	pid_t *pid;
	size_t n, cap;
};

static pid_t
scope_id(pid_t pid, int scope)
{
	return scope == SCOPE_SESSION ? getsid(pid) : getpgid(pid);
}

static int
reach_visit(const struct proc_info *p, void *arg)
{
	struct reach *r = arg;
	size_t i;
	int fd;

	if (p->state == 'Z' || p->pid == getpid() ||
	    scope_id(p->pid, r->scope) != r->id)
		return 0;
	for (i = 0; i < r->n; i++)
		if (r->pid[i] == p->pid && r->fd[i] >= 0)
			return 0;
	if ((fd = proc_pidfd_open(p->pid)) < 0)
		return 0;
	if (scope_id(p->pid, r->scope) != r->id) {
		close(fd);
		return 0;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->fd = msg_realloc(1, r->fd, r->cap, sizeof(*r->fd));
		r->pid = msg_realloc(1, r->pid, r->cap, sizeof(*r->pid));
	}
	r->fd[r->n] = fd;
	r->pid[r->n++] = p->pid;
	return 0;
}

/* Is the session or group the daemon's own? Not when its leader is
 * another live process: a daemon run with -f shares its caller's. */
/* The session (or the group that setsid made with it) is reached only
 * when daemonize made it for this daemon, as the pidfile's identity
 * records: a daemon run with -f, by prefork or by another tool shares
 * its caller's, which is none of our business. */
static int
scope_pick(const struct opts *o, pid_t pid, pid_t sid, struct reach *r)
{
	const char *what = o->scope == SCOPE_SESSION ? "session" : "group";

	r->scope = o->scope;
	if (o->scope == SCOPE_PID)
		return SCOPE_PID;
	r->id = scope_id(pid, o->scope);
	if (sid <= 0 || r->id != sid) {
		if (o->has_scope)
			warn("pid %ld is not in a %s daemonize made for it; "
			    "signalling it alone", (long)pid, what);
		else
			verbose("pid %ld is not in a %s daemonize made for it; "
			    "signalling it alone", (long)pid, what);
		r->scope = SCOPE_PID;
	}
	return r->scope;
}

/* The cgroup --cgroup recorded for the daemon, if --stop may empty it:
 * the record is an attribute only the pidfile's writer could set and
 * names this pid; the directory lies below the cgroup v2 mount under its
 * real name, is called daemonize.*, is ours (a user's record never
 * sends root's cgroup.kill elsewhere), and a live daemon is still in it
 * or below. 1 (cg taken), or 0: none, or refused (said unless quiet). */
static int
cgroup_find(const struct opts *o, pid_t pid, int alive, struct cgroup *cg,
    int quiet)
{
	char path[PATH_MAX], now[PATH_MAX];
	const char *base;
	uid_t uid;
	size_t n;
	int fd, r;

	if (pid <= 0)
		return 0;
	fd = open(o->pidfile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = cgroup_recorded(fd, pid, path, sizeof(path));
	close(fd);
	if (r < 0)
		return 0;
	if (cgroup_open(path, cg, &uid) < 0) {
		if (errno != ENOENT && !quiet)
			warn("%s: refusing the recorded cgroup %s: not a cgroup "
			    "v2 directory under its mount", o->pidfile, path);
		return 0;
	}
	base = strrchr(path, '/') + 1;
	if (strncmp(base, "daemonize.", 10) != 0 || uid != geteuid()) {
		if (!quiet)
			warn("%s: refusing the recorded cgroup %s: not one "
			    "daemonize made as this user", o->pidfile, path);
		cgroup_free(cg);
		return 0;
	}
	n = strlen(path);
	if (alive && cgroup_of(pid, now, sizeof(now)) == 0 &&
	    (strncmp(now, path, n) != 0 || (now[n] != '\0' &&
	    now[n] != '/'))) {
		if (!quiet)
			warn("pid %ld has left its cgroup %s; not emptying it",
			    (long)pid, path);
		cgroup_free(cg);
		return 0;
	}
	return 1;
}

/* --stop of a daemon started with --cgroup: each step of the schedule
 * reaches every process in the cgroup, whatever its session (KILL
 * through cgroup.kill), and waits for cgroup.events to say populated 0;
 * then the cgroup is removed. fd pins the daemon (or is < 0). 0 when
 * empty, 1 when processes are left after the last step. */
static int
stop_contained(const struct opts *o, pid_t pid, int fd, struct cgroup *cg)
{
	char name[16], dur[32];
	pid_t *left;
	int64_t total = 0;
	int i, n, empty;

	for (i = 0; i < o->nsched; i++) {
		if ((empty = cgroup_populated(cg)) < 0)
			die(1, "cgroup %s:", cg->path);
		if (!empty)
			break;
		signal_name(o->sched[i].sig, name, sizeof(name));
		if (i > 0)
			verbose("cgroup %s still populated after %s; sending "
			    "%s", cg->path, duration_fmt(total, dur,
			    sizeof(dur)), name);
		if (o->sched[i].sig == SIGKILL) {
			if (cgroup_kill(cg) < 0)
				die(1, "cannot kill cgroup %s:", cg->path);
			verbose("sent KILL to cgroup %s (%s)", cg->path,
			    cgroup_has_kill(cg) ? "cgroup.kill" :
			    "frozen, then pid by pid");
		} else {
			/* The daemon by its pidfd first: it is the one
			 * the schedule is for. */
			if (fd >= 0 && proc_pidfd_signal(fd, pid,
			    o->sched[i].sig) < 0 && errno != ESRCH)
				die(1, "cannot send %s to pid %ld:", name,
				    (long)pid);
			if ((n = cgroup_signal(cg, o->sched[i].sig)) < 0)
				die(1, "cannot signal cgroup %s:", cg->path);
			verbose("sent %s to %d process%s in cgroup %s", name,
			    n, n == 1 ? "" : "es", cg->path);
		}
		if (cgroup_wait_empty(cg, clock_add_sat(clock_mono(),
		    o->sched[i].wait)) < 0 && errno != ETIMEDOUT)
			die(1, "cgroup %s:", cg->path);
		total = clock_add_sat(total, o->sched[i].wait);
	}
	if (cgroup_populated(cg) != 0) {
		n = cgroup_pids(cg->path, &left);
		free(left);
		warn("%d process%s of cgroup %s still running after %s", n,
		    n == 1 ? "" : "es", cg->path, duration_fmt(total, dur,
		    sizeof(dur)));
		cgroup_free(cg);
		return 1;
	}
	verbose("pid %ld stopped; removing cgroup %s", (long)pid, cg->path);
	if (cgroup_remove(cg) < 0)
		warn("cannot remove the empty cgroup:");
	return 0;
}

/* The pidfile goes once nothing runs under it (under its lock, so never
 * a new instance's). */
static void
stop_discard(const struct opts *o)
{
	if (pidfile_discard(o->pidfile) < 0 && errno != EWOULDBLOCK) {
		if (file_problem(errno) != NULL)
			file_die(1, o->pidfile, "pidfile");
		warn("cannot remove %s:", o->pidfile);
	}
}

static int
ctl_stop(const struct opts *o)
{
	struct cgroup cg;
	struct reach r = { 0 };
	char name[16], dur[32];
	uint64_t start = 0;
	int64_t total = 0;
	pid_t pid = 0;
	size_t j, k;
	int fd = -2, left, i, pinned, daemon_in = 1, st;
	pid_t sid = 0;

	st = check_or_die(o, &pid, &start, 1);
	(void)pidfile_identity(o->pidfile, NULL, NULL, &sid);
	if (st == PIDFILE_RUNNING)
		fd = stop_pin(o, pid, start);
	pinned = fd >= 0;
	if (st != PIDFILE_ABSENT && cgroup_find(o, pid, fd != -2, &cg, 0)) {
		i = stop_contained(o, pid, fd, &cg);
		if (fd >= 0)
			close(fd);
		if (i == 0)
			stop_discard(o);
		return i;
	}
	r.fd = msg_alloc(1, 16, sizeof(*r.fd));
	r.pid = msg_alloc(1, 16, sizeof(*r.pid));
	r.cap = 16;
	if (fd == -2) {
		/* The daemon is gone, maybe not what is left of the session
		 * made for it. A live process whose pid is the session id
		 * means the id was recycled: that session is not ours. */
		if (st == PIDFILE_ABSENT || sid <= 0 || o->scope == SCOPE_PID ||
		    !proc_gone(sid))
			goto gone;
		r.scope = o->scope;
		r.id = sid;
		if (proc_scan(PROC_STAT, reach_visit, &r) < 0)
			die(1, "/proc:");
		if (r.n == 0)
			goto gone;
		verbose("pid %ld is gone; stopping the %zu left of its %s",
		    (long)pid, r.n, o->scope == SCOPE_SESSION ? "session" :
		    "process group");
		daemon_in = 0;
		pinned = 1;
	} else {
		r.fd[0] = fd;
		r.pid[0] = pid;
		r.n = 1;
		if (!pinned || scope_pick(o, pid, sid, &r) == SCOPE_PID)
			r.scope = SCOPE_PID;
	}
	left = 1;
	for (i = 0; i < o->nsched && left > 0; i++) {
		signal_name(o->sched[i].sig, name, sizeof(name));
		if (i > 0)
			verbose("pid %ld still running after %s; sending %s",
			    (long)pid, duration_fmt(total, dur, sizeof(dur)),
			    name);
		/* Members forked since the last step are reached too. */
		if (r.scope != SCOPE_PID && proc_scan(PROC_STAT, reach_visit,
		    &r) < 0)
			die(1, "/proc:");
		for (j = 0; j < r.n; j++) {
			if (proc_pidfd_signal(r.fd[j], r.pid[j],
			    o->sched[i].sig) < 0 && errno != ESRCH)
				die(1, "cannot send %s to pid %ld:", name,
				    (long)r.pid[j]);
		}
		if (r.n > 1)
			verbose("sent %s to pid %ld and %zu more of its %s",
			    name, (long)pid, r.n - 1, r.scope == SCOPE_SESSION ?
			    "session" : "process group");
		else
			verbose("sent %s to pid %ld", name, (long)pid);
		left = proc_wait_gone(r.fd, r.pid, r.n, clock_mono() +
		    o->sched[i].wait);
		total += o->sched[i].wait;
		/* Drop what is gone: a pid polled after its exit could be
		 * a recycled one. Without pidfds only the daemon is
		 * reached, polled by pid. */
		for (j = k = 0; j < r.n; j++) {
			if (r.fd[j] < 0 && (j > 0 || pinned || !daemon_in))
				continue;
			r.fd[k] = r.fd[j];
			r.pid[k++] = r.pid[j];
		}
		if (daemon_in && (k == 0 || r.pid[0] != pid))
			daemon_in = 0;
		r.n = k;
	}
	for (j = 0; j < r.n; j++)
		if (r.fd[j] >= 0)
			close(r.fd[j]);
	if (left < 0)
		die(1, "waiting for pid %ld:", (long)pid);
	if (left > 0) {
		if (daemon_in)
			warn("pid %ld still running after %s", (long)pid,
			    duration_fmt(total, dur, sizeof(dur)));
		else
			warn("%d process%s of pid %ld's %s still running after "
			    "%s", left, left == 1 ? "" : "es", (long)pid,
			    r.scope == SCOPE_SESSION ? "session" : "group",
			    duration_fmt(total, dur, sizeof(dur)));
		free(r.fd);
		free(r.pid);
		return 1;
	}
	verbose("pid %ld stopped", (long)pid);
gone:
	free(r.fd);
	free(r.pid);
	stop_discard(o);
	return 0;
}

/* ---- the daemon's side, between fork and exec ---- */

/* Report a failure to the caller (or print it, with -f) and end. A format
 * ending in ':' gets strerror(errno). */
static void
child_fail(int status, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

static void
child_fail(int status, const char *fmt, ...)
{
	struct report r;
	size_t n;
	va_list ap;
	int e = errno;

	if (held_pidfile != NULL)
		(void)pidfile_remove(held_pidfile);
	memset(&r, 0, sizeof(r));
	r.type = REPORT_FAIL;
	r.status = status;
	va_start(ap, fmt);
	vsnprintf(r.text, sizeof(r.text), fmt, ap);
	va_end(ap);
	n = strlen(r.text);
	if (n > 0 && r.text[n - 1] == ':')
		snprintf(r.text + n, sizeof(r.text) - n, " %s", strerror(e));
	if (report_fd < 0) {
		if (held_cgroup != NULL)
			(void)cgroup_leave(held_cgroup);
		die(status, "%s", r.text);
	}
	(void)io_write_all(report_fd, &r, sizeof(r));
	_exit(status);
}

static void
child_report(int type, pid_t pid)
{
	struct report r;

	if (report_fd < 0)
		return;
	memset(&r, 0, sizeof(r));
	r.type = type;
	r.pid = pid;
	(void)io_write_all(report_fd, &r, sizeof(r));
}

/* Move fd to `to`, or when `to` is -1 to the lowest free fd >= floor;
 * close-on-exec as asked. Returns the new fd. */
static int
fd_move(int fd, int to, int floor, int cloexec)
{
	int nfd;

	if (to >= 0) {
		if (fd == to) {
			if (fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0) < 0)
				child_fail(1, "fcntl:");
			return fd;
		}
		nfd = dup3(fd, to, cloexec ? O_CLOEXEC : 0);
	} else {
		nfd = fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, floor);
	}
	if (nfd < 0)
		child_fail(1, "dup:");
	close(fd);
	return nfd;
}

/* Leave open only 0/1/2 (on /dev/null unless keep_stdio), the report
 * pipe and the readiness fd (on its number), so that the lock fds taken
 * next land on 3 and 4 and are never moved. */
static void
child_fds(const struct opts *o, int *ready, int keep_stdio)
{
	int floor, limit, i, null;

	floor = (o->ready_fd > 8 ? o->ready_fd : 8) + 1;
	if (floor < 3 + o->listen_n)
		floor = 3 + o->listen_n;
	if (report_fd >= 0)
		report_fd = fd_move(report_fd, -1, floor, 1);
	if (*ready >= 0)
		*ready = fd_move(*ready, -1, floor, 1);
	limit = report_fd > *ready ? report_fd + 1 : *ready + 1;
	if (limit < floor)
		limit = floor;
	/* Inherited activation sockets stay where they are, so the lock
	 * fds taken next land right above them. */
	for (i = 3; i < 3 + o->listen_n; i++)
		if (fcntl(i, F_SETFD, 0) < 0)
			child_fail(1, "LISTEN_FDS: fd %d:", i);
	for (i = 3 + o->listen_n; i < limit; i++)
		if (i != report_fd && i != *ready)
			close(i);
	spawn_close_from(limit);
	if (*ready >= 0)
		*ready = fd_move(*ready, o->ready_fd, 0, 0);
	for (i = 0; i < 3; i++) {
		if (keep_stdio && fcntl(i, F_GETFD) >= 0)
			continue;
		null = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) |
		    O_NOCTTY);
		if (null < 0)
			child_fail(1, "/dev/null:");
		if (null != i)
			fd_move(null, i, 0, 0);
	}
}

/* Taken where it stays: closing any other fd of the file would drop the
 * lock. Kept across exec so that COMMAND holds it. */
static void
child_lock(const char *path, int write_pid)
{
	pid_t holder = 0;
	int fd;

	fd = write_pid ? pidfile_acquire(path, 1, &holder) :
	    pidfile_lock(path, 1, &holder);
	if (fd < 0) {
		if (errno == EWOULDBLOCK) {
			if (report_fd < 0) {
				notice("already running (pid %ld)",
				    (long)holder);
				if (held_cgroup != NULL)
					(void)cgroup_leave(held_cgroup);
				exit(0);
			}
			child_report(REPORT_BUSY, holder);
			_exit(0);
		}
		if (file_problem(errno) != NULL)
			child_fail(1, "%s: %s %s", path, file_problem(errno),
			    write_pid ? "pidfile" : "lockfile");
		child_fail(1, "%s:", path);
	}
	if (write_pid) {
		/* The daemon's session is its own (setsid in the middle
		 * child): recorded, so --stop may reach all of it. */
		if (pidfile_write_session(fd, getpid(), report_fd >= 0 ?
		    getsid(0) : 0) < 0)
			child_fail(1, "%s:", path);
		held_pidfile = path;
	}
}

/* --cgroup: record the cgroup on the pidfile just written, in an
 * attribute only its writer can set, naming this pid; then move in, so
 * that everything the daemon starts is born inside. Done before the
 * change of user: moving a process needs the caller's rights. */
static void
child_cgroup(const struct opts *o)
{
	struct stat st;
	int fd;

	fd = open(o->pidfile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0)
		child_fail(1, "--cgroup: cannot record the cgroup on %s:",
		    o->pidfile);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		errno = EPERM;
		child_fail(1, "--cgroup: cannot record the cgroup on %s:",
		    o->pidfile);
	}
	if (cgroup_record(fd, getpid(), &o->cg) < 0)
		child_fail(1, "--cgroup: cannot record the cgroup on %s:",
		    o->pidfile);
	close(fd);
	if (cgroup_enter(&o->cg) < 0)
		child_fail(1, "--cgroup: cannot enter %s:", o->cg.path);
}

/* Supplementary groups, gid, uid, in that order; then prove that root
 * cannot be regained. */
static void
child_user(const struct opts *o)
{
	const struct user_spec *u = &o->user;
	struct passwd *pw;

	if (u->name[0] != '\0') {
		if (initgroups(u->name, u->gid) < 0)
			child_fail(1, "initgroups %s:", u->name);
	} else if (setgroups(1, &u->gid) < 0) {
		child_fail(1, "setgroups:");
	}
	if (setgid(u->gid) < 0)
		child_fail(1, "setgid %ld:", (long)u->gid);
	if (setuid(u->uid) < 0)
		child_fail(1, "setuid %ld:", (long)u->uid);
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		child_fail(1, "could still regain root after setuid");
	if (u->gid != 0 && u->uid != 0 && (setgid(0) == 0 || setegid(0) == 0))
		child_fail(1, "could still regain gid 0 after setgid");
	if (u->name[0] != '\0' && (pw = getpwnam(u->name)) != NULL) {
		if (setenv("HOME", pw->pw_dir, 1) < 0 ||
		    setenv("USER", pw->pw_name, 1) < 0 ||
		    setenv("LOGNAME", pw->pw_name, 1) < 0)
			child_fail(1, "setenv:");
	}
}

/* O_APPEND even when truncating, so copytruncate rotation and a shared
 * file for stdout and stderr both stay sane. O_NONBLOCK so that a FIFO
 * with no reader fails instead of hanging the start. Root without -u
 * (strict) opens files only: no symbolic link, no hard link, no FIFO or
 * device but /dev/null, so a file planted in a shared directory cannot
 * point root's writes (or truncation) elsewhere. */
static int
open_output(const char *path, int append, int strict)
{
	struct stat st, null;
	int fd, fl;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY |
	    O_CLOEXEC | O_NONBLOCK | (strict ? O_NOFOLLOW : 0), 0640);
	if (fd < 0) {
		if (errno == ELOOP && strict)
			child_fail(1, "%s: refusing a symbolic link as output",
			    path);
		if (errno == ENXIO && strict)	/* a FIFO with no reader */
			child_fail(1, "%s: refusing a FIFO, socket or device "
			    "as output", path);
		child_fail(1, "%s:", path);
	}
	if (fstat(fd, &st) < 0)
		child_fail(1, "%s:", path);
	if (strict && !S_ISREG(st.st_mode) && !(S_ISCHR(st.st_mode) &&
	    stat("/dev/null", &null) == 0 && null.st_rdev == st.st_rdev))
		child_fail(1, "%s: refusing a FIFO, socket or device as output",
		    path);
	if (strict && S_ISREG(st.st_mode) && st.st_nlink > 1)
		child_fail(1, "%s: refusing a hard link as output", path);
	if (!append && S_ISREG(st.st_mode) && ftruncate(fd, 0) < 0)
		child_fail(1, "%s:", path);
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		child_fail(1, "%s:", path);
	return fd;
}

static void
child_stdio(const struct opts *o)
{
	int out = -1, err = -1, strict = geteuid() == 0 && !o->has_user;

	if (o->out != NULL)
		out = open_output(o->out, o->append, strict);
	if (o->err != NULL) {
		if (out >= 0 && strcmp(o->out, o->err) == 0)
			err = fcntl(out, F_DUPFD_CLOEXEC, 3);
		else
			err = open_output(o->err, o->append, strict);
		if (err < 0)
			child_fail(1, "dup:");
	}
	if (out >= 0)
		fd_move(out, 1, 0, 0);
	if (err >= 0)
		fd_move(err, 2, 0, 0);
}

/* The relay: one line of the daemon's output, one syslog message
 * (stdout at LOG_INFO, stderr at LOG_ERR; longer lines are cut into
 * pieces). TERM, INT and HUP are ignored: it ends at end of input, once
 * the daemon and every child holding its output are gone, so --stop
 * loses no last words. */
static void
relay_run(const char *tag, int out, int err)
{
	struct pollfd pf[2] = { { out, POLLIN, 0 }, { err, POLLIN, 0 } };
	static const int prio[2] = { LOG_INFO, LOG_ERR };
	char buf[2][1024];
	size_t len[2] = { 0, 0 };
	ssize_t n;
	char *nl;
	int i;

	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	openlog(tag, 0, LOG_DAEMON);
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			n = read(pf[i].fd, buf[i] + len[i],
			    sizeof(buf[i]) - 1 - len[i]);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				if (len[i] > 0) {
					buf[i][len[i]] = '\0';
					syslog(prio[i], "%s", buf[i]);
				}
				close(pf[i].fd);
				pf[i].fd = -1;
				continue;
			}
			len[i] += (size_t)n;
			buf[i][len[i]] = '\0';
			while ((nl = strchr(buf[i], '\n')) != NULL) {
				*nl = '\0';
				syslog(prio[i], "%s", buf[i]);
				len[i] -= (size_t)(nl + 1 - buf[i]);
				memmove(buf[i], nl + 1, len[i] + 1);
			}
			if (len[i] == sizeof(buf[i]) - 1) {
				syslog(prio[i], "%s", buf[i]);
				len[i] = 0;
			}
		}
	}
	closelog();
	_exit(0);
}

/* --syslog: stdout and stderr (those without -o/-e) into pipes read by
 * a relay. The relay is forked twice so that it is not the daemon's
 * child (no zombie for a daemon that never waits), and stays in the
 * daemon's session, so --stop reaches it. */
static void
child_syslog(const struct opts *o)
{
	int p[2][2] = { { -1, -1 }, { -1, -1 } };
	pid_t pid, relay;
	int i, st;

	for (i = 0; i < 2; i++)
		if ((i == 0 ? o->out : o->err) == NULL &&
		    pipe2(p[i], O_CLOEXEC) < 0)
			child_fail(1, "pipe:");
	if ((pid = fork()) < 0)
		child_fail(1, "fork:");
	if (pid == 0) {
		if ((relay = fork()) != 0)
			_exit(relay < 0);
		for (i = 0; i < 2; i++)
			if (p[i][1] >= 0)
				close(p[i][1]);
		/* 0/1/2 stay (a message about syslog itself has nowhere
		 * better to go), the read ends go to 3 and 4, nothing else
		 * of the daemon's (its lock, the report pipe) is kept. */
		for (i = 0; i < 2; i++)
			if (p[i][0] >= 0 &&
			    ((p[i][0] = fcntl(p[i][0], F_DUPFD, 5)) < 0 ||
			    dup2(p[i][0], 3 + i) < 0))
				_exit(1);
		spawn_close_from(5);
		relay_run(o->syslog_tag, p[0][0] >= 0 ? 3 : -1,
		    p[1][0] >= 0 ? 4 : -1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		child_fail(1, "cannot start the syslog relay");
	for (i = 0; i < 2; i++) {
		if (p[i][0] < 0)
			continue;
		close(p[i][0]);
		fd_move(p[i][1], i + 1, 0, 0);
	}
}

/* Everything between the last fork and exec, for the daemon and for -f.
 * Never returns. */
static void
child_run(const struct opts *o, int ready, const char *notify)
{
	int i;

	child_fds(o, &ready, o->foreground);
	if (o->pidfile != NULL)
		child_lock(o->pidfile, 1);
	if (o->cgroup)
		child_cgroup(o);
	if (o->has_user)
		child_user(o);
	/* As the daemon's user: a lock it can change is its own. */
	if (o->lockfile != NULL)
		child_lock(o->lockfile, 0);
	if (chdir(o->dir != NULL ? o->dir : "/") < 0)
		child_fail(1, "chdir %s:", o->dir != NULL ? o->dir : "/");
	umask(o->umask);
	child_stdio(o);
	if (o->syslog_tag != NULL)
		child_syslog(o);
	for (i = 0; i < o->nenv; i++)
		if (putenv(o->env[i]) < 0)
			child_fail(1, "putenv:");
	if (notify != NULL && setenv("NOTIFY_SOCKET", notify, 1) < 0)
		child_fail(1, "setenv:");
	if (o->listen_n > 0) {
		char pid[24];

		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		if (setenv("LISTEN_PID", pid, 1) < 0)
			child_fail(1, "setenv:");
	}
	spawn_reset_signals();
	spawn_exec(o->exec, o->exec_argv0, environ);
	child_fail(spawn_exec_status(errno), "cannot run '%s':", o->cmd[0]);
}

/* ---- the caller's side ---- */

static void
ready_cleanup(void)
{
	struct ready *r = cleanup_ready;

	if (r == NULL)
		return;
	if (r->path != NULL)
		(void)unlink(r->path);
	if (r->dir != NULL)
		(void)rmdir(r->dir);
	cleanup_ready = NULL;
}

/* -N: a datagram socket in a fresh 0700 directory, so only root and the
 * daemon's user can send to it (the directory goes to the daemon's user
 * with -u). */
static void
ready_open_notify(const struct opts *o, struct ready *r)
{
	struct sockaddr_un sa;
	const char *tmp = getenv("TMPDIR");
	size_t n;

	if (tmp == NULL || *tmp != '/' || strlen(tmp) > 64)
		tmp = "/tmp";
	n = strlen(tmp) + sizeof("/daemonize.XXXXXX/notify");
	r->dir = msg_alloc(1, n, 1);
	r->path = msg_alloc(1, n, 1);
	snprintf(r->dir, n, "%s/daemonize.XXXXXX", tmp);
	if (mkdtemp(r->dir) == NULL)
		die(1, "mkdtemp %s:", r->dir);
	cleanup_ready = r;
	atexit(ready_cleanup);
	snprintf(r->path, n, "%s/notify", r->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(r->path) >= sizeof(sa.sun_path))
		die(1, "%s: path too long for a socket", r->path);
	strcpy(sa.sun_path, r->path);
	r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		die(1, "socket:");
	if (bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(1, "bind %s:", r->path);
	if (o->has_user && (chown(r->dir, o->user.uid, o->user.gid) < 0 ||
	    chown(r->path, o->user.uid, o->user.gid) < 0))
		die(1, "chown %s:", r->dir);
}

static void
ready_open(const struct opts *o, struct ready *r)
{
	int p[2];

	memset(r, 0, sizeof(*r));
	r->fd = r->child_fd = -1;
	r->result = -1;
	if (o->notify) {
		ready_open_notify(o, r);
	} else if (o->ready_fd >= 0) {
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			die(1, "pipe:");
		/* The daemon's end blocks, as a plain fd would. */
		if (fcntl(p[1], F_SETFL, 0) < 0)
			die(1, "fcntl:");
		r->fd = p[0];
		r->child_fd = p[1];
	}
}

static void
ready_done(struct ready *r, int result)
{
	if (r->result < 0)
		r->result = result;
	loop_stop(r->loop);
}

/* The last lines the daemon wrote to its -e file since this start, each
 * as a message; control characters shown as '?'. With -u the file was
 * the daemon's to replace, so only a file of its own is read. */
static void
err_tail(const struct ready *r)
{
	const struct opts *o = r->o;
	char buf[4096], *line[TAIL_LINES], *p, *end;
	struct stat st;
	off_t from;
	ssize_t n;
	int fd, i, k = 0;

	if (o->err == NULL) {
		if (o->syslog_tag != NULL)
			warn("its stderr went to syslog, tagged %s; relative "
			    "paths among its arguments are taken from %s",
			    o->syslog_tag, o->dir != NULL ? o->dir : "/");
		else
			warn("its stderr went to /dev/null (-e FILE keeps it); "
			    "relative paths among its arguments are taken "
			    "from %s", o->dir != NULL ? o->dir : "/");
		return;
	}
	fd = open(o->err, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (o->has_user &&
	    (st.st_uid != o->user.uid || st.st_nlink != 1))) {
		close(fd);
		return;
	}
	from = st.st_size - (off_t)sizeof(buf) + 1;
	if (from < r->err_off)
		from = r->err_off;
	n = from < st.st_size ? pread(fd, buf, sizeof(buf) - 1, from) : 0;
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (p = buf, end = buf + n; p < end; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			*p = '?';
	for (p = strtok(buf, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		if (k == TAIL_LINES)
			memmove(line, line + 1, sizeof(line[0]) * --k);
		line[k++] = p;
	}
	if (k > 0)
		warn("its last lines on stderr, in %s", o->err);
	for (i = 0; i < k; i++)
		warn("  %s", line[i]);
}

static void
ready_reap(struct loop *l, int sig, void *arg)
{
	struct ready *r = arg;
	char how[64], when[64], dur[32];
	pid_t p;
	int st;

	(void)l;
	(void)sig;
	if (r->checking)
		snprintf(when, sizeof(when), "within %s of its start",
		    duration_fmt(r->o->check, dur, sizeof(dur)));
	else
		snprintf(when, sizeof(when), "before it was ready");
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != r->pid)
			continue;
		warn("pid %ld %s %s", (long)p,
		    spawn_status_text(st, how, sizeof(how)), when);
		if (r->checking)
			err_tail(r);
		r->died = 1;
		ready_done(r, 1);
	}
}

/* --check: still running at the end of the window. */
static void
check_passed(struct loop *l, void *arg)
{
	(void)l;
	ready_done(arg, 0);
}

static void
ready_timeout(struct loop *l, void *arg)
{
	struct ready *r = arg;
	char dur[32];

	(void)l;
	warn("pid %ld not ready after %s; left running", (long)r->pid,
	    duration_fmt(r->wait, dur, sizeof(dur)));
	ready_done(r, 1);
}

static void
ready_eof_check(struct loop *l, void *arg)
{
	struct ready *r = arg;

	ready_reap(l, SIGCHLD, r);
	if (r->result < 0) {
		warn("pid %ld closed its readiness fd without a line; left "
		    "running", (long)r->pid);
		ready_done(r, 1);
	}
}

/* --ready-fd: any line means ready. EOF without one: the daemon closed
 * it or died; SIGCHLD, usually already queued, tells which. */
static void
ready_line(struct loop *l, int fd, int events, void *arg)
{
	struct ready *r = arg;
	char buf[256];
	ssize_t n;

	(void)events;
	while ((n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
		;
	if (n < 0) {
		if (errno == EAGAIN)
			return;
		die(1, "read:");
	}
	if (n == 0) {
		loop_fd(l, fd, 0, NULL, NULL);
		r->eof_timer = loop_timer(l, clock_mono() + EOF_GRACE,
		    ready_eof_check, r);
		return;
	}
	if (memchr(buf, '\n', (size_t)n) != NULL) {
		verbose("pid %ld ready", (long)r->pid);
		ready_done(r, 0);
	}
}

/* -N under a supervisor (NOTIFY_SOCKET in our own environment): pass
 * the daemon's readiness on, naming it as the main process, since
 * daemonize exits. Best effort: a supervisor that is gone is no error. */
static void
notify_outer(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, len) < 0)
		verbose("NOTIFY_SOCKET %s:", path);
	close(fd);
}

/* -N: sd_notify datagrams, "KEY=VALUE" lines. */
static void
ready_notify(struct loop *l, int fd, int events, void *arg)
{
	struct ready *r = arg;
	char buf[4097], *line, *save;
	ssize_t n;

	(void)l;
	(void)events;
	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			die(1, "recv:");
		}
		buf[n] = '\0';
		for (line = strtok_r(buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "STATUS=", 7) == 0)
				verbose("pid %ld: %s", (long)r->pid, line + 7);
			else if (strcmp(line, "READY=1") == 0) {
				char msg[64];

				verbose("pid %ld ready", (long)r->pid);
				snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld",
				    (long)r->pid);
				notify_outer(msg);
				ready_done(r, 0);
			}
		}
		if (r->result >= 0)
			return;
	}
}

/* Interrupted while waiting: the daemon runs on, its socket goes. */
static void
ready_interrupted(struct loop *l, int sig, void *arg)
{
	struct ready *r = arg;
	char name[16];

	(void)l;
	warn("%s while waiting; pid %ld left running",
	    signal_name(sig, name, sizeof(name)), (long)r->pid);
	ready_done(r, 128 + sig);
}

/* Wait for readiness, the daemon's death or the deadline. */
static int
ready_wait(const struct opts *o, struct ready *r)
{
	if (r->checking) {
		if (loop_timer(r->loop, clock_mono() + o->check, check_passed,
		    r) < 0)
			die(1, "loop:");
	} else if (loop_fd(r->loop, r->fd, LOOP_IN, o->notify ?
	    ready_notify : ready_line, r) < 0) {
		die(1, "loop:");
	}
	if (!r->checking && o->wait > 0 && loop_timer(r->loop, clock_mono() +
	    o->wait, ready_timeout, r) < 0)
		die(1, "loop:");
	ready_reap(r->loop, SIGCHLD, r);
	while (r->result < 0)
		if (loop_once(r->loop) < 0)
			die(1, "loop:");
	return r->result;
}

/* Linux: orphans of our descendants come to us, so the daemon's exit
 * status is ours to read while we wait for its readiness. */
static void
become_subreaper(void)
{
	if (proc_set_subreaper() < 0)
		die(1, "prctl(PR_SET_CHILD_SUBREAPER):");
}

/* The middle child: a new session, then the daemon, which is not its
 * session's leader and can never acquire a terminal. */
static void
middle_run(const struct opts *o, struct ready *r, int rep)
{
	pid_t pid;

	report_fd = rep;
	if (r->fd >= 0)
		close(r->fd);
	if (setsid() < 0)
		child_fail(1, "setsid:");
	pid = fork();
	if (pid < 0)
		child_fail(1, "fork:");
	if (pid > 0)
		_exit(0);
	/* A caller that died must not take the daemon with it. */
	signal(SIGPIPE, SIG_IGN);
	child_report(REPORT_PID, getpid());
	child_run(o, r->child_fd, r->path);
}

/* Read the daemon's reports until the pipe closes. Returns the status
 * to exit with, or -1 when COMMAND runs. */
static int
start_reports(const struct opts *o, int fd, pid_t *pid)
{
	struct report rep;
	ssize_t n;
	int result = -1, got_pid = 0;

	for (;;) {
		n = io_read_full(fd, &rep, sizeof(rep));
		if (n < 0)
			die(1, "read:");
		if (n == 0)
			break;
		if ((size_t)n != sizeof(rep))
			die(1, "short report from the daemon");
		rep.text[sizeof(rep.text) - 1] = '\0';
		switch (rep.type) {
		case REPORT_PID:
			*pid = rep.pid;
			got_pid = 1;
			break;
		case REPORT_BUSY:
			notice("already running (pid %ld)", (long)rep.pid);
			result = 0;
			break;
		case REPORT_FAIL:
			warn("%s", rep.text);
			result = rep.status;
			break;
		}
	}
	close(fd);
	if (result < 0 && !got_pid)
		die(1, "the daemon died before it could start '%s'", o->cmd[0]);
	return result;
}

/* --cgroup: the daemon's fresh cgroup, made before anything starts, so
 * that a missing or read-only cgroup v2 is one line and nothing runs. */
static void
cgroup_start(struct opts *o)
{
	int step;

	if (cgroup_setup(o->cg_parent, "daemonize", &o->cg, NULL, &step) <
	    0) {
		if (step == CGROUP_AT_RESOLVE)
			die(1, "--cgroup: no cgroup v2 directory '%s'",
			    o->cg_parent);
		die(1, "--cgroup: cannot create a cgroup v2 under %s:",
		    o->cg_parent != NULL ? o->cg_parent : "our own cgroup");
	}
	/* The daemon opens cgroup.procs afresh; this fd would only be
	 * closed under our feet by child_fds. */
	close(o->cg.procs);
	o->cg.procs = -1;
}

/* A start that failed, or a daemon that died in the check window: what
 * is left in its cgroup goes, then the cgroup itself. */
static void
cgroup_drop(struct opts *o)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", o->cg.path);
	if (cgroup_populated(&o->cg) > 0 && cgroup_kill(&o->cg) < 0)
		warn("cannot kill cgroup %s:", path);
	if (cgroup_wait_empty(&o->cg, clock_add_sat(clock_mono(), CG_WAIT)) <
	    0)
		warn("cgroup %s:", path);
	if (cgroup_remove(&o->cg) < 0)
		warn("cannot remove cgroup %s:", path);
}

/* The cgroup of a --cgroup daemon that died on its own is removed by
 * the next start, once empty; its record on the pidfile is about to be
 * overwritten. One that still holds processes is left, and said. */
static void
cgroup_stale(const struct opts *o, pid_t pid)
{
	struct cgroup cg;
	pid_t *left;
	int n;

	if (!cgroup_find(o, pid, 0, &cg, 1))
		return;
	if (cgroup_populated(&cg) == 0) {
		verbose("removing the empty cgroup %s of pid %ld", cg.path,
		    (long)pid);
		(void)cgroup_remove(&cg);
		return;
	}
	n = cgroup_pids(cg.path, &left);
	free(left);
	warn("%d process%s of the previous instance still in cgroup %s; "
	    "left alone", n, n == 1 ? "" : "es", cg.path);
	cgroup_free(&cg);
}

static int
start(struct opts *o)
{
	static struct ready r;	/* static: cleaned up at exit */
	struct stat est;
	pid_t pid, daemon = 0;
	int rep[2], st, result;

	signal(SIGCHLD, SIG_DFL);	/* a caller may have left SIG_IGN */
	if (o->pidfile != NULL) {
		if (check_or_die(o, &pid, NULL, 1) == PIDFILE_RUNNING) {
			notice("already running (pid %ld)", (long)pid);
			return 0;
		}
		cgroup_stale(o, pid);
	}
	ready_open(o, &r);
	r.o = o;
	r.checking = r.fd < 0 && o->check > 0;
	if (r.checking && o->err != NULL && o->append &&
	    stat(o->err, &est) == 0)
		r.err_off = est.st_size;
	if (r.fd >= 0 || r.checking) {
		become_subreaper();
		/* SIGCHLD is routed (blocked) before fork: none is lost. */
		if ((r.loop = loop_new()) == NULL ||
		    loop_signal(r.loop, SIGCHLD, ready_reap, &r) < 0 ||
		    loop_signal(r.loop, SIGINT, ready_interrupted, &r) < 0 ||
		    loop_signal(r.loop, SIGTERM, ready_interrupted, &r) < 0 ||
		    loop_signal(r.loop, SIGHUP, ready_interrupted, &r) < 0)
			die(1, "loop:");
	}
	if (o->cgroup)
		cgroup_start(o);
	if (pipe2(rep, O_CLOEXEC) < 0)
		die(1, "pipe:");
	fflush(NULL);
	if ((pid = fork()) < 0)
		die(1, "fork:");
	if (pid == 0) {
		close(rep[0]);
		middle_run(o, &r, rep[1]);
	}
	close(rep[1]);
	if (r.child_fd >= 0)
		close(r.child_fd);
	result = start_reports(o, rep[0], &daemon);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (result >= 0) {
		if (o->cgroup)
			cgroup_drop(o);
		return result;
	}
	if (o->cgroup)
		verbose("started '%s' as pid %ld in cgroup %s", o->cmd[0],
		    (long)daemon, o->cg.path);
	else
		verbose("started '%s' as pid %ld", o->cmd[0], (long)daemon);
	if (r.fd < 0 && !r.checking) {
		cgroup_free(&o->cg);
		return 0;
	}
	r.pid = daemon;
	r.wait = o->wait;
	result = ready_wait(o, &r);
	/* Dead: its pidfile is stale; remove it (under the lock, so never
	 * a new instance's). */
	if (r.died && o->pidfile != NULL)
		(void)pidfile_discard(o->pidfile);
	if (r.died && o->cgroup)
		cgroup_drop(o);
	cgroup_free(&o->cg);
	if (r.fd >= 0)
		close(r.fd);
	loop_free(r.loop);
	ready_cleanup();
	return result;
}

int
main(int argc, char *argv[])
{
	static struct opts o;	/* static: reachable until exit */

	msg_init(argv[0]);
	opts_parse(&o, argc, argv);
	switch (o.mode) {
	case MODE_STATUS:
		return ctl_status(&o);
	case MODE_STOP:
		return ctl_stop(&o);
	case MODE_SIGNAL:
		return ctl_signal(&o);
	}
	if (o.foreground) {
		if (o.cgroup) {
			cgroup_start(&o);
			held_cgroup = &o.cg;
		}
		child_run(&o, -1, NULL);
	}
	return start(&o);
}
