/*
 * prefork: keep NUM titled workers running COMMAND, replace them when they
 * die, roll them over on HUP, share listening sockets with them, and
 * optionally deal records from stdin to them (DESIGN.md §3.2).
 *
 * The engines are library modules: lib/pool supervises the workers
 * (slots, generations, backoff, the rolling reload, grace and KILL),
 * lib/dispatch deals records and relays output (-L, -0, -R), lib/listen
 * opens the -l sockets, and lib/master wires pool and dispatch together
 * in one loop with the signals, --status-file and NOTIFY_SOCKET. This
 * file holds the options, sets up and winds down (pid file, sockets,
 * cgroup), and says what happens: the modules report events, the
 * messages are written here.
 *
 * The master is titled TITLE-master; the worker in slot i runs with
 * argv[0] = TITLE-i. Each worker leads its own process group (unless
 * --no-group), so stopping a worker reaches what it started.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "dispatch.h"
#include "listen.h"
#include "master.h"
#include "msg.h"
#include "opt.h"
#include "parse.h"
#include "pidfile.h"
#include "pool.h"
#include "title.h"

#define LIFETIME_MIN	(100 * NS_PER_MS)	/* -M floor: no spawn storm */

struct opts {
	int n;
	char *title;
	char *pidfile;
	int stopsig;
	int64_t grace, maxdelay, lifetime;
	struct listener *ls;
	int nls;
	int dispatch, delim, reply, keep, window, retry;
	unsigned long maxreq;
	int pgroup;
	int max_restarts;
	int64_t restart_window;
	int ready;
	int64_t ready_timeout;
	int timestamps;
	char *status_file;
	int use_cg;		/* --cgroup[=PARENT] */
	char *cg_parent;	/* NULL: under our own cgroup */
	char **cmd;
};

/* Everything main sets up and winds down. */
struct prefork {
	struct opts *o;
	struct master m;	/* the loop, the pool, dispatch, signals */
	pid_t master;		/* cleanup: the master's own */
	int pidfd;
	struct listen_set socks;	/* for the workers (fds 3..) */
	struct cgroup cg;	/* --cgroup: the pool's, path NULL if none */
};

#define STR_(x)	#x
#define STR(x)	STR_(x)

enum { OPT_WINDOW = 256, OPT_RETRY, OPT_NO_GROUP, OPT_MAX_RESTARTS,
	OPT_READY, OPT_READY_TIMEOUT, OPT_TIMESTAMPS, OPT_STATUS_FILE,
	OPT_CGROUP };

/* getopt_long's table and the option lines of --help. */
static const struct opt options[] = {
	{ "workers", required_argument, 'n', "NUM",
	    "workers to keep (default: CPUs)" },
	{ "title", required_argument, 't', "TITLE",
	    "titles TITLE-master, TITLE-0.. (default: COMMAND's name)" },
	{ "pidfile", required_argument, 'p', "FILE",
	    "single instance, pid in FILE" },
	{ "stop-signal", required_argument, 'S', "SIG",
	    "signal that stops a worker (default TERM)" },
	{ "grace", required_argument, 'g', "D",
	    "wait D before KILL (default 10s)" },
	{ "max-delay", required_argument, 'b', "D",
	    "longest restart backoff (default 30s, least 50ms)" },
	{ "lifetime", required_argument, 'M', "D",
	    "recycle each worker after D (least 100ms)" },
	{ "listen", required_argument, 'l', "ADDR",
	    "listen and pass the socket (up to " STR(LISTEN_MAX) ")" },
	{ "lines", no_argument, 'L', NULL, "deal stdin lines to the workers" },
	{ "null", no_argument, '0', NULL, "deal NUL-terminated records" },
	{ "reply", no_argument, 'R', NULL, "one reply line per record" },
	{ "keep-order", no_argument, 'k', NULL,
	    "replies in input order (-R)" },
	{ "max-requests", required_argument, 'm', "N",
	    "recycle a worker after N records" },
	{ "window", required_argument, OPT_WINDOW, "W",
	    "unanswered records per worker (-R)" },
	{ "retry", required_argument, OPT_RETRY, "N",
	    "re-sends of an unanswered record (-R)" },
	{ "no-group", no_argument, OPT_NO_GROUP, NULL,
	    "do not give workers their own process group" },
	{ "max-restarts", required_argument, OPT_MAX_RESTARTS, "N/D",
	    "give up when a worker crashes more than N times in D" },
	{ "ready", no_argument, OPT_READY, NULL,
	    "workers report READY=1 to their NOTIFY_SOCKET; HUP waits for it" },
	{ "ready-timeout", required_argument, OPT_READY_TIMEOUT, "D",
	    "time a worker has to be ready (default 60s)" },
	{ "timestamps", no_argument, OPT_TIMESTAMPS, NULL,
	    "RFC 3339 time on worker and reload notices" },
	{ "status-file", required_argument, OPT_STATUS_FILE, "FILE",
	    "the pool's state as JSON, rewritten on every change" },
	{ "cgroup", optional_argument, OPT_CGROUP, "PARENT",
	    "each worker in its own cgroup v2; a stop reaches its whole tree" },
	{ "quiet", no_argument, 'q', NULL, "no notices" },
	{ "verbose", no_argument, 'v', NULL, "event lines" },
	{ "help", no_argument, 'h', NULL, "this help" },
	{ "version", no_argument, 'V', NULL, "the version" },
	{ NULL, 0, 0, NULL, NULL },
};

static void usage(void) __attribute__((noreturn));

/* ---- options ---- */

static void
usage(void)
{
	fputs("usage: prefork [-n NUM] [-t TITLE] [-p PIDFILE] [-S SIG] "
	    "[-g GRACE] [-b MAXDELAY]\n"
	    "               [-M LIFETIME] [-l ADDR]... [-L | -0] "
	    "[-R [-k] [--window W] [--retry N]]\n"
	    "               [-m MAXREQ] [-q | -v] -- COMMAND [ARG]...\n"
	    "ADDR: tcp:HOST:PORT, tcp6:[ADDR]:PORT, unix:PATH, "
	    "optionally NAME=ADDR\n"
	    "signals: TERM/INT stop, QUIT stop now, HUP reload, "
	    "TTIN/TTOU one worker more/fewer,\n"
	    "         USR1/USR2/WINCH forwarded to every worker\n"
	    "options:\n", stdout);
	opt_help(stdout, options, 25);
	fputs("See prefork(1).\n", stdout);
	exit(0);
}

static long long
num_arg(const char *what, const char *s, long long min, long long max)
{
	long long v;

	if (int_parse(s, min, max, &v) < 0)
		die(2, "invalid %s '%s' (expected %lld..%lld)", what, s, min,
		    max);
	return v;
}

static int64_t
dur_arg(const char *what, const char *s, int positive)
{
	int64_t ns;

	if (duration_parse(s, &ns) < 0 || (positive && ns == 0))
		die(2, "invalid %s '%s'", what, s);
	return ns;
}

/* N/INTERVAL for --max-restarts. */
static void
restarts_arg(struct opts *o, const char *s)
{
	const char *slash = strchr(s, '/');
	char num[32];
	long long n;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(num))
		die(2, "invalid restart limit '%s' (expected N/INTERVAL)", s);
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (int_parse(num, 0, 10000, &n) < 0 ||
	    duration_parse(slash + 1, &o->restart_window) < 0 ||
	    o->restart_window == 0)
		die(2, "invalid restart limit '%s' (expected N/INTERVAL, "
		    "N 0..10000)", s);
	o->max_restarts = (int)n;
}

static void
listen_arg(struct opts *o, const char *arg)
{
	if (o->nls >= LISTEN_MAX)
		die(2, "too many listen addresses (at most %d)", LISTEN_MAX);
	o->ls = msg_realloc(125, o->ls, (size_t)o->nls + 1, sizeof(*o->ls));
	if (listen_parse(msg_strdup(125, arg), &o->ls[o->nls]) < 0) {
		free((char *)o->ls[o->nls].spec);
		die(2, "invalid listen address '%s'", arg);
	}
	o->nls++;
}

/* One option; returns 1 for --window, 2 for --retry, 3 for
 * --ready-timeout (checked later). */
static int
opt_one(struct opts *o, int c, char **argv)
{
	switch (c) {
	case '0':
	case 'L':
		if (o->dispatch && o->delim != (c == '0' ? '\0' : '\n'))
			die(2, "-L and -0 exclude each other");
		o->dispatch = 1;
		o->delim = c == '0' ? '\0' : '\n';
		break;
	case 'M':
		o->lifetime = dur_arg("lifetime", optarg, 1);
		if (o->lifetime < LIFETIME_MIN)
			die(2, "invalid lifetime '%s' (at least 100ms)",
			    optarg);
		break;
	case 'R':
		o->reply = 1;
		break;
	case 'S':
		if (signal_parse(optarg, &o->stopsig) < 0 || o->stopsig == 0)
			die(2, "invalid signal '%s'", optarg);
		break;
	case 'V':
		msg_version();
	case 'b':
		o->maxdelay = dur_arg("delay", optarg, 0);
		break;
	case 'g':
		o->grace = dur_arg("grace time", optarg, 0);
		break;
	case 'h':
		usage();
	case 'k':
		o->keep = 1;
		break;
	case 'l':
		listen_arg(o, optarg);
		break;
	case 'm':
		o->maxreq = (unsigned long)num_arg("request count", optarg, 1,
		    1000000000);
		break;
	case 'n':
		o->n = (int)num_arg("worker count", optarg, 1,
		    POOL_MAX_WORKERS);
		break;
	case 'p':
		free(o->pidfile);
		o->pidfile = msg_strdup(125, optarg);
		break;
	case 'q':
		msg_level = MSG_QUIET;
		break;
	case 't':
		if (*optarg == '\0')
			die(2, "empty title");
		free(o->title);
		o->title = msg_strdup(125, optarg);
		break;
	case 'v':
		msg_level = MSG_VERBOSE;
		break;
	case OPT_WINDOW:
		o->window = (int)num_arg("window", optarg, 1, 65536);
		return 1;
	case OPT_RETRY:
		o->retry = (int)num_arg("retry count", optarg, 0, 1000);
		return 2;
	case OPT_NO_GROUP:
		o->pgroup = 0;
		break;
	case OPT_MAX_RESTARTS:
		restarts_arg(o, optarg);
		break;
	case OPT_READY:
		o->ready = 1;
		break;
	case OPT_TIMESTAMPS:
		o->timestamps = 1;
		break;
	case OPT_STATUS_FILE:
		free(o->status_file);
		o->status_file = msg_strdup(125, optarg);
		break;
	case OPT_CGROUP:
		o->use_cg = 1;
		free(o->cg_parent);
		o->cg_parent = optarg ? msg_strdup(125, optarg) : NULL;
		break;
	case OPT_READY_TIMEOUT:
		o->ready_timeout = dur_arg("ready timeout", optarg, 1);
		return 3;
	default:
		die_badopt(c, argv);
	}
	return 0;
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	struct option longs[sizeof(options) / sizeof(options[0])];
	int c, i, seen = 0;
	char shorts[64];
	long cpus;
	const char *base;

	if (opt_getopt(options, longs, sizeof(longs) / sizeof(longs[0]),
	    shorts, sizeof(shorts)) < 0)
		die(125, "options:");
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1)
		seen |= 1 << opt_one(o, c, argv);
	if (optind >= argc)
		die(2, "missing COMMAND (try 'prefork -h')");
	if (o->reply)
		o->dispatch = 1;
	if (o->keep && !o->reply)
		die(2, "-k needs -R");
	if ((seen & 2) && !o->reply)
		die(2, "--window needs -R");
	if ((seen & 4) && !o->reply)
		die(2, "--retry needs -R");
	if (o->maxreq && !o->dispatch)
		die(2, "-m needs -L, -0 or -R");
	if ((seen & 8) && !o->ready)
		die(2, "--ready-timeout needs --ready");
	if (o->ready && o->dispatch)
		die(2, "--ready cannot be used with -L, -0 or -R");
	if (o->n == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		o->n = cpus < 1 ? 1 : cpus > POOL_MAX_WORKERS ?
		    POOL_MAX_WORKERS : (int)cpus;
	}
	/* title_set will overwrite argv: keep our own copies. */
	if ((o->cmd = calloc((size_t)(argc - optind + 1), sizeof(char *))) ==
	    NULL)
		die(125, "out of memory");
	for (i = 0; optind + i < argc; i++)
		o->cmd[i] = msg_strdup(125, argv[optind + i]);
	if (o->title == NULL) {
		base = strrchr(o->cmd[0], '/');
		o->title = msg_strdup(125, base && base[1] ? base + 1 : o->cmd[0]);
	}
}

/* ---- what the master says ---- */

/* A failure (errnum, appended) is said as it is; an event at the level
 * lib/master chose, with --timestamps after an RFC 3339 UTC time
 * ("2026-12-04T15:55:20.123Z"). */
static void
on_report(void *arg, int level, int errnum, const char *text)
{
	const struct opts *o = arg;
	char ts[40] = "";

	if (errnum >= 0) {
		errno = errnum;
		warn("%s:", text);
		return;
	}
	if (o->timestamps && *clock_rfc3339(clock_wall(), ts,
	    sizeof(ts) - 1) != '\0')
		strcat(ts, " ");
	if (level == POOL_LOG_WARN)
		warn("%s%s", ts, text);
	else if (level == POOL_LOG_NOTICE)
		notice("%s%s", ts, text);
	else
		verbose("%s%s", ts, text);
}

/* ---- setting up and winding down ---- */

/* Remove what we created; also on die() paths (atexit), master only. */
static struct prefork *cleanup_pf;

static void
cleanup(void)
{
	struct prefork *pf = cleanup_pf;
	int i;

	if (pf == NULL || getpid() != pf->master)
		return;
	cleanup_pf = NULL;
	if (pf->cg.path != NULL && cgroup_remove(&pf->cg) < 0)
		warn("cannot remove cgroup:");
	for (i = 0; i < pf->o->nls; i++)
		listen_close(&pf->o->ls[i]);
	if (pf->pidfd >= 0) {
		(void)pidfile_remove(pf->o->pidfile);
		close(pf->pidfd);
		pf->pidfd = -1;
	}
}

static void
pidfile_take(struct prefork *pf)
{
	const char *path = pf->o->pidfile;
	pid_t holder = 0;

	if (path == NULL)
		return;
	pf->pidfd = pidfile_acquire(path, 0, &holder);
	if (pf->pidfd < 0 && errno == EWOULDBLOCK)
		die(1, "already running (pid %ld)", (long)holder);
	if (pf->pidfd < 0)
		die(1, "%s:", path);
	if (pidfile_write(pf->pidfd, getpid()) < 0)
		die(1, "%s:", path);
}

/* Sockets for the workers: an inherited socket activation first (fds
 * 3.. as they came), then the -l sockets in the order given. */
static void
listen_all(struct prefork *pf)
{
	int bad;

	if (listen_gather(pf->o->ls, pf->o->nls, &pf->socks, &bad) == 0)
		return;
	if (bad == LISTEN_INHERIT_BAD)
		die(125, "inherited LISTEN_FDS:");
	if (bad >= 0)
		die(1, "cannot listen on %s:", pf->o->ls[bad].spec);
	if (errno == ERANGE)
		die(2, "too many listen addresses (at most %d)", LISTEN_MAX);
	die(125, "out of memory");
}

/* --cgroup: the pool's cgroup, made before any worker starts. Without a
 * writable cgroup v2: one line, 125, nothing started. */
static void
cg_open(struct prefork *pf)
{
	char dir[4096];
	const char *parent = NULL;

	if (!pf->o->use_cg)
		return;
	if (pf->o->cg_parent != NULL) {
		if (cgroup_resolve(pf->o->cg_parent, dir, sizeof(dir)) < 0)
			die(125, "--cgroup: no cgroup v2 directory '%s'",
			    pf->o->cg_parent);
		parent = dir;
	}
	if (cgroup_create(parent, "prefork", &pf->cg) < 0)
		die(125, "--cgroup: cannot create a cgroup v2 under %s:",
		    parent ? parent : "our own cgroup");
}

static void
modules_new(struct prefork *pf)
{
	const struct opts *o = pf->o;
	struct pool_conf pc = {
		.cmd = o->cmd, .title = o->title, .n = o->n,
		.stopsig = o->stopsig, .grace = o->grace,
		.maxdelay = o->maxdelay, .lifetime = o->lifetime,
		.new_first = pf->socks.n > 0, .pgroup = o->pgroup,
		.max_restarts = o->max_restarts,
		.restart_window = o->restart_window,
		.ready = o->ready, .ready_timeout = o->ready_timeout,
		.cgroup = pf->cg.path != NULL ? &pf->cg : NULL,
	};
	struct dispatch_conf dc = {
		.in = STDIN_FILENO, .delim = o->delim, .reply = o->reply,
		.keep = o->keep, .window = o->window, .retry = o->retry,
		.maxreq = o->maxreq, .n = o->n,
	};

	if (master_start(&pf->m, &pc, o->dispatch ? &dc : NULL) < 0)
		die(125, "out of memory");
}

/* COMMAND could not start at all (errno e): one line, and the exec
 * status (125 for a lack of resources). */
static void __attribute__((noreturn))
cannot_run(struct prefork *pf, int e)
{
	int st = e == EAGAIN || e == ENOMEM || e == EMFILE || e == ENFILE ?
	    125 : spawn_exec_status(e);

	errno = e;
	warn("cannot run '%s':", pf->o->cmd[0]);
	cleanup();
	exit(st);
}

static void
pool_begin(struct prefork *pf)
{
	if (pool_start(pf->m.pool) == 0)
		return;
	cannot_run(pf, errno);
}

static void
finish(struct prefork *pf)
{
	struct opts *o = pf->o;
	int i;

	master_free(&pf->m);
	cleanup();
	listen_set_free(&pf->socks);
	for (i = 0; o->cmd[i]; i++)
		free(o->cmd[i]);
	free(o->cmd);
	for (i = 0; i < o->nls; i++)
		free((char *)o->ls[i].spec);
	free(o->ls);
	free(o->title);
	free(o->pidfile);
	free(o->status_file);
	free(o->cg_parent);
}

int
main(int argc, char **argv)
{
	struct opts o = {
		.stopsig = SIGTERM, .grace = 10 * NS_PER_SEC,
		.maxdelay = 30 * NS_PER_SEC, .delim = '\n', .window = 1,
		.retry = 1, .pgroup = 1, .ready_timeout = 60 * NS_PER_SEC,
	};
	struct prefork pf = { .o = &o, .pidfd = -1, .cg = { .procs = -1 },
	    .m = { .socks = &pf.socks, .report = on_report, .arg = &o } };
	int status;

	msg_init(argv[0]);
	title_init(argc, argv);
	opts_parse(&o, argc, argv);
	pf.master = getpid();
	pf.m.status_file = o.status_file;
	cleanup_pf = &pf;
	atexit(cleanup);
	/* A write to a worker that quit, or to a closed stdout, must come
	 * back as EPIPE, not kill the master. Children get SIG_DFL back. */
	signal(SIGPIPE, SIG_IGN);
	pidfile_take(&pf);
	listen_all(&pf);
	if (master_init(&pf.m) < 0)
		die(125, "%s:", pf.m.why);
	cg_open(&pf);
	modules_new(&pf);
	title_set("%s-master", o.title);
	pool_begin(&pf);
	if (master_run(&pf.m) < 0)
		die(125, *pf.m.why == 'o' ? "%s" : "%s:", pf.m.why);
	if (pf.m.cannot_run)
		cannot_run(&pf, pf.m.cannot_run);
	status = pf.m.gave_up || (o.dispatch && pf.m.failed) ? 1 : 0;
	finish(&pf);
	return status;
}
