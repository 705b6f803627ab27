/*
 * pqueue: a durable message queue in a directory, for shell scripts; and
 * System V message queues (sysv:KEY[:TYPE]) for programs that use them.
 *
 * The store (format, commit protocol, lock order, leases) is lib/store;
 * the SysV side is lib/sysvq and the Redis side lib/rstream (each runs a
 * whole command: sysvq_command, rstream_command); a run's COMMAND is
 * lib/qrun; stat, ls and dead -l print through lib/qshow; pop and run on
 * a local queue, and their race-free waits, are lib/qpop. This file
 * holds the command line: options, naming and opening a queue, and
 * which module runs a command.
 *
 * Signals. TERM, INT and HUP make pop and run stop between messages (a
 * running COMMAND is waited for); push keeps the default actions, since
 * dying anywhere is safe.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "msg.h"
#include "out.h"
#include "parse.h"
#include "qlook.h"
#include "qpop.h"
#include "qshow.h"
#include "relay.h"
#include "rstream.h"
#include "spawn.h"
#include "store.h"
#include "sysvq.h"

/* What one run of pqueue needs besides its options. */
struct pq {
	const char *dir;	/* -d */
	int delim;
	struct out out;		/* stdout, unbuffered */
	struct store_hooks hooks;
	struct qpop q;		/* pop and run: their loop and waits */
};

struct opts {
	int nowait, forever, sync;
	int64_t timeout;	/* -1 none */
	long long count;	/* -1 forever */
	long long max_attempts;
	uint64_t max;		/* --max-size */
	int requeue;
	int64_t lease;		/* redis: --lease, -1 default */
	const char *group, *consumer;	/* redis: NULL default */
	int json;		/* stat, ls --json */
	int why;		/* dead -l */
	int64_t delay;		/* push --delay, 0 none */
	int64_t retry_delay;	/* run --retry-delay, 0 none */
	int64_t retry_max;	/* run --retry-max */
	int stream;		/* run --stream */
	long long window;	/* run --window */
	const char *to;		/* run --to QUEUE */
	int64_t grace;		/* run --grace */
};

/* ---- hooks for the store ---- */

static void
on_report(void *arg, int level, int errnum, const char *text)
{
	(void)arg;
	errno = errnum;
	if (level == STORE_VERBOSE)
		verbose("%s", text);
	else if (level == STORE_NOTICE)
		notice("%s", text);
	else if (errnum != 0)
		warn("%s:", text);
	else
		warn("%s", text);
}

static void
say_warn(void *arg, int errnum, const char *text)
{
	on_report(arg, STORE_WARN, errnum, text);
}

static void
say_notice(void *arg, const char *text)
{
	on_report(arg, STORE_NOTICE, 0, text);
}

/* ---- output ---- */

static void
out_setup(struct pq *p)
{
	signal(SIGPIPE, SIG_IGN);
	out_init(&p->out, STDOUT_FILENO, 0);
}

/* ---- naming and opening ---- */

/* The path of the queue named spec, in path; flags as store_path. */
static void
q_path(struct pq *p, const char *spec, int *flags, char *path, size_t size)
{
	char dbuf[PATH_MAX];
	int is_tmp;

	p->hooks.name = spec;
	if (store_path(p->dir, spec, path, size, flags) == 0)
		return;
	if (errno == EINVAL)
		die(2, "invalid queue name '%s' (letters, digits, '.', '_', "
		    "'-'; not starting with '.')", spec);
	if (errno == ENAMETOOLONG)
		die(2, "queue path too long: %s", spec);
	die(1, "%s is not a private directory of this user (set PQUEUE_DIR "
	    "or XDG_RUNTIME_DIR)", store_dir(p->dir, dbuf, sizeof(dbuf),
	    &is_tmp));
}

/* Open the queue named spec. Returns NULL when it does not exist and
 * STORE_CREATE is not in flags; dies on errors (damage: status 3). */
static struct store *
q_open(struct pq *p, const char *spec, int flags, char *path, size_t size)
{
	struct store *s;

	q_path(p, spec, &flags, path, size);
	if (store_open(&s, path, flags, &p->hooks) == 0)
		return s;
	if (errno == ENOENT && !(flags & STORE_CREATE))
		return NULL;
	exit(errno == EUCLEAN ? 3 : 1);
}

/* run --stream: every message through one FILTER (lib/relay). */
static int
stream_store(struct pq *p, struct store *s, const char *name,
    const struct opts *o, char **argv)
{
	struct relay_conf c = { .argv = argv, .delim = p->delim,
	    .window = o->window ? (size_t)o->window : RELAY_WINDOW,
	    .forever = o->forever, .max_attempts = o->max_attempts,
	    .retry_delay = o->retry_delay, .retry_max = o->retry_max,
	    .grace = o->grace >= 0 ? o->grace : 10 * NS_PER_SEC,
	    .max = o->max, .out = STDOUT_FILENO, .loop = p->q.loop,
	    .stop = &p->q.stop, .report = on_report, .name = name };
	char path[PATH_MAX];
	int st;

	if (o->to != NULL)
		c.to = q_open(p, o->to, STORE_CREATE, path, sizeof(path));
	if ((st = relay_run(s, &c)) < 0 && (errno == ENOENT ||
	    errno == EACCES || errno == ENOEXEC || errno == ENOTDIR)) {
		warn("cannot run '%s':", argv[0]);
		st = spawn_exec_status(errno);
	}
	store_close(c.to);
	return st < 0 ? 125 : st;
}

/* ---- System V queues (lib/sysvq) ---- */

static int
sysv_cmd(struct pq *p, const char *cmd, const char *spec, int argc,
    char **argv, const struct opts *o)
{
	struct sysvq_cmd c = { .name = cmd, .args = argv + optind,
	    .nargs = argc - optind, .delim = p->delim, .max = o->max,
	    .count = o->count, .nowait = o->nowait, .wait = o->timeout,
	    .json = o->json, .out = &p->out, .warn = say_warn, .arg = p };

	if (strcmp(cmd, "pop") == 0)
		out_setup(p);
	return sysvq_command(spec, &c);
}

/* ---- Redis streams (lib/rstream) ---- */

/* push, pop, run, len, stat, purge, dead on redis://...; a bad address
 * is a usage error; a server that cannot be reached at start is one line
 * and status 1 (125 for run, which reserves 1 for COMMAND). */
static int
redis_cmd(struct pq *p, const char *cmd, const char *spec, int argc,
    char **argv, const struct opts *o)
{
	struct rstream_cmd c = { .name = cmd, .args = argv + optind,
	    .nargs = argc - optind, .delim = p->delim, .max = o->max,
	    .count = o->count, .wait = o->nowait ? 0 : o->timeout,
	    .max_attempts = o->max_attempts, .requeue = o->requeue,
	    .out = &p->out, .warn = say_warn, .notice = say_notice };
	struct redis_addr a;
	struct rstream s;
	const char *why;

	if (redis_addr_parse(spec, &a, &why) < 0)
		die(2, "%s: %s", spec, why);
	if (strcmp(cmd, "peek") == 0 || strcmp(cmd, "fsck") == 0)
		die(2, "%s: not available for Redis queues", cmd);
	if (strcmp(cmd, "run") == 0) {
		if (optind < argc && strcmp(argv[optind], "--") == 0)
			optind++;
		if (optind >= argc)
			die(2, "run: COMMAND missing");
		c.args = argv + optind;
	}
	rstream_init(&s, &a, o->group, o->consumer);
	if (o->lease > 0)
		s.lease = o->lease;
	if (o->forever)
		s.patience = -1;	/* a pool rides out broker restarts */
	if (strcmp(cmd, "pop") == 0 || strcmp(cmd, "dead") == 0)
		out_setup(p);
	return rstream_command(&s, &c);
}

/* ---- command line ---- */

static const char usage_text[] =
"usage: pqueue [-d DIR] [-q|-v] COMMAND ...\n"
"  push [-0] [--sync] [--max-size SIZE] [--delay D] QUEUE [MESSAGE]...\n"
"  pop  [-0] [-n | -w TIMEOUT] [-c COUNT | -f] QUEUE\n"
"  run  [-0] [-f] [-c COUNT] [--max-attempts N] [--retry-delay D]\n"
"       [--retry-max D] QUEUE -- COMMAND [ARG]...\n"
"  run  --stream [-0] [-f] [--window N] [--to QUEUE] [--grace D]\n"
"       [--max-attempts N] [--retry-delay D] [--retry-max D]\n"
"       QUEUE -- FILTER [ARG]...\n"
"  peek [-0] QUEUE | len QUEUE | stat [--json] [QUEUE] | ls [--json]\n"
"  purge QUEUE\n"
"  dead [-0] [--requeue | -l] QUEUE\n"
"  fsck QUEUE\n"
"QUEUE: NAME (under DIR), /PATH or ./PATH, or sysv:KEY[:TYPE]\n"
"(KEY decimal but not 0, 0xHEX or PATH@PROJ) for push, pop, len and stat,\n"
"or redis://[USER:PASS@]HOST[:PORT][/DB]/KEY (a Redis stream) for push, pop,\n"
"run, len, stat, purge and dead.\n"
"Long options:\n"
"  --sync              push: sync to disk before exiting 0\n"
"  --max-size SIZE     push: longest message accepted (default 1M)\n"
"  --delay D           push: deliver no sooner than D from now\n"
"  --max-attempts N    run: attempts before a message is dead (default 5)\n"
"  --lease D           run, redis: claim messages idle this long (default 60s)\n"
"  --group NAME        run, redis: consumer group (default pqueue)\n"
"  --consumer NAME     run, redis: consumer name (default HOST:PID)\n"
"  --retry-delay D     run: wait D before the first retry, doubling after\n"
"  --retry-max D       run: the longest wait between retries (default 10m)\n"
"  --stream            run: one FILTER for all messages, one reply line each\n"
"  --window N          run --stream: messages leased at once (default 64)\n"
"  --to QUEUE          run --stream: push the replies there (default stdout)\n"
"  --grace D           run --stream: on TERM, wait D for replies (default 10s)\n"
"  --requeue           dead: move the dead letters back to the queue\n"
"  --json              stat, ls: one JSON object per queue and line\n"
"  --help              this text\n"
"  --version           name and version\n"
"See pqueue(1).\n";

static void
usage(void)
{
	fputs(usage_text, stdout);
	exit(0);
}

/* getopt on a subcommand's own argv; opts starts with '+'. */
static int
sub_getopt(int argc, char **argv, const char *opts,
    const struct option *lo)
{
	char quiet[64];
	int c;

	/* "+:..." makes a missing value ':' rather than '?'. */
	snprintf(quiet, sizeof(quiet), "+:%s", opts + 1);
	opterr = 0;
	c = getopt_long(argc, argv, quiet, lo, NULL);
	if (c == '?' || c == ':')
		die_badopt(c, argv);
	if (c == 'h')
		usage();
	return c;
}

/* The options of cmd, as each subcommand has always taken them. */
static void
parse_sub(struct pq *p, const char *cmd, int argc, char **argv,
    struct opts *o)
{
	static const struct option lo_push[] = {
		{ "delay", required_argument, NULL, 'e' },
		{ "sync", no_argument, NULL, 's' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	}, lo_run[] = {
		{ "max-attempts", required_argument, NULL, 'a' },
		{ "lease", required_argument, NULL, 'L' },
		{ "group", required_argument, NULL, 'G' },
		{ "consumer", required_argument, NULL, 'C' },
		{ "retry-delay", required_argument, NULL, 'D' },
		{ "retry-max", required_argument, NULL, 'M' },
		{ "stream", no_argument, NULL, 'S' },
		{ "window", required_argument, NULL, 'W' },
		{ "to", required_argument, NULL, 'T' },
		{ "grace", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	}, lo_small[] = {
		{ "requeue", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c, counted = 0, big = 1;
	const struct option *lo = lo_push;
	const char *opts = "+0lh";

	if (strcmp(cmd, "pop") == 0) {
		opts = "+0c:fnw:h";
		lo = lo_push + 3;
	} else if (strcmp(cmd, "run") == 0) {
		opts = "+0c:fh";
		lo = lo_run;
	} else if (strcmp(cmd, "push") != 0) {
		lo = lo_small;
		big = 0;
	}
	while ((c = sub_getopt(argc, argv, opts, lo)) != -1) {
		if (!big && !((c == '0' && (!strcmp(cmd, "dead") ||
		    !strcmp(cmd, "peek"))) || ((c == 'r' || c == 'l') &&
		    !strcmp(cmd, "dead")) || (c == 'j' &&
		    (!strcmp(cmd, "stat") || !strcmp(cmd, "ls")))))
			die(2, "%s: unknown option '%s'", cmd,
			    argv[optind - 1]);
		switch (c) {
		case '0':
			p->delim = '\0';
			break;
		case 'C':
			o->consumer = optarg;
			break;
		case 'G':
			o->group = optarg;
			break;
		case 'L':
			if (duration_parse(optarg, &o->lease) < 0 ||
			    o->lease < NS_PER_MS)
				die(2, "run: bad --lease '%s'", optarg);
			break;
		case 'a':
			if (int_parse(optarg, 1, UINT32_MAX - 1,
			    &o->max_attempts) < 0)
				die(2, "run: bad --max-attempts '%s'", optarg);
			break;
		case 'D':
		case 'M':
		case 'e':
			if (duration_parse(optarg, c == 'D' ? &o->retry_delay :
			    c == 'M' ? &o->retry_max : &o->delay) < 0)
				die(2, "%s: bad --%s '%s'", cmd, c == 'e' ?
				    "delay" : c == 'D' ? "retry-delay" :
				    "retry-max", optarg);
			break;
		case 'S':
			o->stream = 1;
			break;
		case 'T':
			o->to = optarg;
			break;
		case 'W':
			if (int_parse(optarg, 1, RELAY_WINDOW_MAX,
			    &o->window) < 0)
				die(2, "run: bad --window '%s' (1 to %d)",
				    optarg, RELAY_WINDOW_MAX);
			break;
		case 'g':
			if (duration_parse(optarg, &o->grace) < 0)
				die(2, "run: bad --grace '%s'", optarg);
			break;
		case 'c':
			if (int_parse(optarg, 1, LLONG_MAX, &o->count) < 0)
				die(2, "%s: bad COUNT '%s'", cmd, optarg);
			counted = 1;
			break;
		case 'f':
			o->forever = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'l':
			o->why = 1;
			break;
		case 'm':
			if (size_parse(optarg, &o->max) < 0 ||
			    o->max > STORE_MSG_LIMIT)
				die(2, "push: bad --max-size '%s' (at most 1G)",
				    optarg);
			break;
		case 'n':
			o->nowait = 1;
			break;
		case 'r':
			o->requeue = 1;
			break;
		case 's':
			o->sync = 1;
			break;
		case 'w':
			if (duration_parse(optarg, &o->timeout) < 0)
				die(2, "pop: bad TIMEOUT '%s'", optarg);
			break;
		}
	}
	if (o->why && (o->requeue || p->delim != '\n'))
		die(2, "dead: -l excludes --requeue and -0");
	if (o->nowait && o->timeout >= 0)
		die(2, "pop: -n and -w exclude each other");
	if (o->forever && counted)
		die(2, "%s: -c and -f exclude each other", cmd);
	if (!o->stream && (o->to || o->window || o->grace >= 0))
		die(2, "run: --to, --window and --grace need --stream");
	if (o->stream && counted)
		die(2, "run: -c excludes --stream");
	if (o->forever)
		o->count = -1;
}

static const char *
one_queue(int argc, char **argv, const char *cmd, int more)
{
	if (optind >= argc)
		die(2, "%s: QUEUE missing", cmd);
	if (!more && optind + 1 < argc)
		die(2, "%s: unexpected argument '%s'", cmd, argv[optind + 1]);
	return argv[optind];
}

/* One subcommand, its options parsed; argv[optind] is its QUEUE. */
static int
dispatch(struct pq *p, const char *cmd, int argc, char **argv,
    struct opts *o)
{
	int sysv, more = !strcmp(cmd, "push") || !strcmp(cmd, "run"), st = 0;
	char path[PATH_MAX];
	const char *spec;
	struct store *s;
	long long n;

	if (strcmp(cmd, "ls") == 0 || (strcmp(cmd, "stat") == 0 &&
	    optind >= argc)) {
		if (optind < argc)
			die(2, "ls: unexpected argument '%s'", argv[optind]);
		return qlook_list(p->dir, cmd[0] == 's', o->json, &p->hooks);
	}
	spec = one_queue(argc, argv, cmd, more);
	optind++;
	if ((sysv = strncmp(spec, "sysv:", 5) == 0)) {
		if (o->delay > 0)
			die(2, "push: --delay is not available for System V "
			    "queues");
		if (!strcmp(cmd, "push") || !strcmp(cmd, "pop") ||
		    !strcmp(cmd, "len") || !strcmp(cmd, "stat"))
			return sysv_cmd(p, cmd, spec, argc, argv, o);
		die(2, "%s: not available for System V queues", cmd);
	}
	if (o->stream && (sysv || strncmp(spec, "redis:", 6) == 0 ||
	    (o->to && strncmp(o->to, "redis:", 6) == 0) ||
	    (o->to && strncmp(o->to, "sysv:", 5) == 0)))
		die(2, "run: --stream and --to take local queues only");
	if (strncmp(spec, "redis:", 6) == 0)
		return redis_cmd(p, cmd, spec, argc, argv, o);
	if (strcmp(cmd, "run") == 0) {
		if (optind < argc && argv[optind][0] == '-' &&
		    strcmp(argv[optind], "--") != 0)
			die(2, "run: option '%s' after QUEUE (options go "
			    "before it)", argv[optind]);
		if (optind < argc && strcmp(argv[optind], "--") == 0)
			optind++;
		if (optind >= argc)
			die(2, "run: COMMAND missing");
	}
	if (strcmp(cmd, "fsck") == 0) {
		q_path(p, spec, &st, path, sizeof(path));
		if (access(path, F_OK) < 0)
			die(1, "%s: no such queue (%s)", spec, path);
		if ((n = store_fsck(path, &p->hooks)) < 0)
			return 1;
		printf("%lld\n", n);
		return 0;
	}
	if (o->to != NULL)	/* a bad name consumes nothing */
		q_path(p, o->to, &st, path, sizeof(path));
	p->q.delim = p->delim;
	if ((!strcmp(cmd, "pop") || !strcmp(cmd, "run")) &&
	    qpop_init(&p->q) < 0)	/* stops are seen from here on */
		die(1, "%s:", p->q.why);
	if (!strcmp(cmd, "stat"))
		qshow_stat_head(o->json);
	s = q_open(p, spec, !strcmp(cmd, "push") || !strcmp(cmd, "run") ||
	    (!strcmp(cmd, "pop") && !o->nowait) ? STORE_CREATE :
	    !strcmp(cmd, "len") || !strcmp(cmd, "stat") ||
	    !strcmp(cmd, "peek") || (!strcmp(cmd, "dead") && !o->requeue) ?
	    STORE_READ : 0, path, sizeof(path));
	if (s == NULL) {
		qpop_free(&p->q);	/* pop -n on no queue (argfuzz) */
		if (!strcmp(cmd, "len"))
			puts("0");
		else if (!strcmp(cmd, "stat") && fflush(stdout) != EOF)
			warn("%s: no such queue", spec);
		else if (strcmp(cmd, "pop") && strcmp(cmd, "peek"))
			die(1, "%s: no such queue (%s)", spec, path);
		return strcmp(cmd, "len") != 0;
	}
	if (!strcmp(cmd, "push")) {
		if (o->delay > 0)
			store_push_delay(s, clock_wall() + o->delay);
		st = store_push_input(s, argv + optind, argc - optind,
		    STDIN_FILENO, p->delim, o->max, o->sync) < 0;
	} else if (!strcmp(cmd, "pop") || !strcmp(cmd, "run")) {
		struct qpop_opts qo = { .nowait = o->nowait,
		    .forever = o->forever, .timeout = o->timeout,
		    .count = o->count, .max_attempts = o->max_attempts,
		    .retry_delay = o->retry_delay, .retry_max = o->retry_max };

		if (cmd[1] == 'o')
			out_setup(p);
		if (qpop_watch(&p->q, s, o->nowait, cmd[1] == 'o') < 0)
			die(1, "%s:", p->q.why);	/* before the first look */
		if (cmd[1] == 'o')
			st = qpop_pop(&p->q, s, &qo);
		else if (o->stream)
			st = stream_store(p, s, spec, o, argv + optind);
		else
			st = qpop_run(&p->q, s, spec, &qo, argv + optind);
	} else {
		struct qlook c = { .cmd = cmd, .name = spec, .json = o->json,
		    .requeue = o->requeue, .why = o->why, .delim = p->delim,
		    .out = &p->out, .hooks = &p->hooks };

		if (!strcmp(cmd, "peek") || !strcmp(cmd, "dead"))
			out_setup(p);
		st = qlook_command(s, &c);
	}
	store_close(s);
	qpop_free(&p->q);	/* stops stay blocked: we end here */
	return st;
}

/* pqueue's own options; returns the COMMAND word, argv[optind]. */
static const char *
parse_main(struct pq *p, int argc, char **argv, const struct option *lo)
{
	static const char cmds[] =
	    " push pop run peek len stat ls purge dead fsck ";
	char word[32];
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:d:hqvV", lo, NULL)) != -1) {
		if (c == 'd')
			p->dir = optarg;
		else if (c == 'h')
			usage();
		else if (c == 'q' || c == 'v')
			msg_level = c == 'q' ? MSG_QUIET : MSG_VERBOSE;
		else if (c == 'V')
			msg_version();
		else
			die_badopt(c, argv);
	}
	if (optind >= argc)
		die(2, "COMMAND missing (push, pop, run, peek, len, stat, ls, "
		    "purge, dead, fsck); see pqueue -h");
	snprintf(word, sizeof(word), " %s ", argv[optind]);
	if (strlen(argv[optind]) > 8 || strstr(cmds, word) == NULL)
		die(2, "unknown command '%s'; see pqueue -h", argv[optind]);
	return argv[optind];
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct pq p = { .delim = '\n' };
	struct opts o = { .timeout = -1, .count = 1, .max_attempts = 5,
	    .max = 1 << 20, .lease = -1, .retry_max = 600 * NS_PER_SEC,
	    .grace = -1 };
	const char *cmd;
	int st;

	msg_init(argv[0]);
	p.q = (struct qpop){ .out = &p.out, .report = on_report };
	sigemptyset(&p.q.stops);
	p.hooks = (struct store_hooks){ .report = on_report,
	    .lockwait = store_lockwait_signals, .arg = &p.q.stops };
	cmd = parse_main(&p, argc, argv, lo);
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: start the subcommand's getopt afresh */
	parse_sub(&p, cmd, argc, argv, &o);
	st = dispatch(&p, cmd, argc, argv, &o);
	if (fflush(stdout) != 0 && errno != EPIPE)
		die(1, "write:");
	return st;
}
