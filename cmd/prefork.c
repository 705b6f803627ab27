/*
 * prefork: keep NUM titled workers running COMMAND, replace them when they
 * die, roll them over on HUP, share listening sockets with them, and
 * optionally deal records from stdin to them (DESIGN.md §3.2).
 *
 * Processes. The master is titled TITLE-master. Slot i (0..NUM-1) holds at
 * most one current worker, exec'd with argv[0] = TITLE-i. A worker that
 * leaves its slot (reload, -M, -m, TTOU) is "retiring" and lives on until
 * reaped, so a slot may briefly hold two processes. A current worker that
 * dies on its own is replaced in the same slot, at once if it had been up
 * STABLE_NS, else after a delay that doubles with each quick death (100ms
 * up to -b). Each death is logged once, with the delay chosen.
 *
 * Reload. HUP bumps the generation; -M marks a worker expired. One roll
 * replaces such workers one slot at a time, oldest generation first, and
 * moves to the next slot only once the retiring worker is reaped. With -l
 * the new worker starts before the old one is stopped (the sockets keep
 * queueing connections meanwhile); without, after. A HUP during a roll
 * bumps the generation and the same roll carries on, so there is never
 * more than one replacement at a time and generations never stack.
 *
 * Dispatch (-L/-0). Each worker has a stdin and a stdout pipe whose master
 * ends are non-blocking and buffered here, so the master never waits on a
 * worker; only our own stdout is written blocking. A record goes whole into
 * one worker's buffer. Output is relayed up to the last delimiter read, so
 * lines reach stdout whole; a line longer than LINE_HELD makes its worker
 * own stdout until the line ends. With -R each record stays queued on its
 * worker until the reply line arrives; the records of a worker that dies
 * are handed again (--retry) to another one.
 */
#define _GNU_SOURCE		/* memrchr, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "loop.h"
#include "msg.h"
#include "parse.h"
#include "pidfile.h"
#include "spawn.h"
#include "title.h"

#define BACKOFF_MIN	(100 * NS_PER_MS)
#define STABLE_NS	(5 * NS_PER_SEC)
#define FEED_MAX	(64 * 1024)	/* bytes queued here per worker (-L) */
#define LINE_HELD	(1024 * 1024)	/* longest output line kept whole */
#define REC_MAX		(1024 * 1024)	/* longest input record */
#define OUT_FLUSH	(64 * 1024)
#define READ_CHUNK	(64 * 1024)
#define CHUNK_MAX	(32 * 1024)	/* a run of records to one worker */
#define MAX_WORKERS	4096

struct buf {
	char *p;
	size_t off, len, cap;	/* pending bytes are p[off..len) */
};

struct rec {
	struct rec *next;
	uint64_t seq;
	int tries;		/* times handed to a worker */
	size_t len;		/* without the delimiter */
	char data[];		/* len bytes, then the delimiter */
};

struct recq {
	struct rec *head, *tail;
	size_t n;
};

struct worker {
	struct worker *next;	/* in the live list, then the graveyard */
	pid_t pid;
	int slot;
	long gen;
	int64_t started;
	int dead;		/* reaped: queued callbacks must ignore it */
	int retiring;		/* left its slot */
	int stopping;		/* asked to stop; the grace timer runs */
	int closing;		/* close its stdin once the buffer is out */
	int signalled;		/* we sent it the stop signal or KILL */
	int expired;		/* -M: due for replacement */
	int skip_line;		/* -k: dropping the rest of an overlong reply */
	long grace_timer, life_timer;
	int in, out;		/* master ends of its stdin, stdout; or -1 */
	int in_events;
	struct buf ib, ob;
	struct recq sent;	/* -R: handed out, not answered, oldest first */
	unsigned long given, maxreq;
};

struct slot {
	struct worker *w;	/* current worker or NULL */
	int quick;		/* deaths in a row that came too soon */
	long timer;		/* restart timer, 0 when none */
};

struct listener {
	const char *spec;
	char name[64];
	int family;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;
	int made;		/* unix: we created the socket file */
};

struct kent {			/* -k: a reply waiting for its turn */
	char *p;
	size_t len;
	int done;
};

static struct {
	int n;
	char *title;
	char *pidfile;
	int stopsig;
	int64_t grace, maxdelay, lifetime;
	struct listener *ls;
	int nls;
	int dispatch, delim, reply, keep, window, retry;
	unsigned long maxreq;
	char **cmd;
} opt = {
	.stopsig = SIGTERM,
	.grace = 10 * NS_PER_SEC,
	.maxdelay = 30 * NS_PER_SEC,
	.delim = '\n',
	.window = 1,
	.retry = 1,
};

static struct {
	struct loop *loop;
	enum { RUNNING, STOPPING } state;
	int done;
	pid_t master;
	long gen;
	int rolling;
	struct worker *roll_old;
	struct slot *slots;
	int nslots;		/* allocated; opt.n are wanted */
	struct worker *live, *grave;
	int devnull, pidfd, started_any, failed, quit;
	char *fdnames;
	uint64_t rnd;
	/* dispatch */
	struct io_records rd;
	int need_fill, input_done, stdin_events;
	struct buf spill;	/* -L: unsent records of dead workers */
	struct buf inb;		/* -L: read from stdin, not handed out */
	int in_eof;
	size_t skip;		/* -L: in an overlong record: 1 + bytes */
	struct recq pending;	/* -R: records waiting for a worker */
	size_t outstanding;
	uint64_t seq_next, seq_emit;
	struct kent *ring;
	size_t ring_size;
	int rr;
	struct worker *owner;	/* holds stdout in the middle of a long line */
	struct buf out;
	int out_dead;
} pool;

static void usage(void) __attribute__((noreturn));
static void opts_parse(int, char **);
static void pool_init(void);
static void pool_start(void);
static void pool_run(void);
static void pool_end(void);
static void cleanup(void);
static int slot_start(int);
static void worker_stop(struct worker *);
static void worker_read(struct worker *, int);
static void roll_next(void);
static void out_flush(void);

/* ---- small utilities ---- */

static uint64_t
rnd_next(void)
{
	pool.rnd ^= pool.rnd << 13;
	pool.rnd ^= pool.rnd >> 7;
	pool.rnd ^= pool.rnd << 17;
	return pool.rnd;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		die(125, "out of memory");
	return p;
}

/* Make room for `more` bytes after len, sliding pending data to the front. */
static void
buf_room(struct buf *b, size_t more)
{
	size_t ncap;

	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len >= more)
		return;
	if (b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= more)
			return;
	}
	ncap = b->cap ? b->cap : 4096;
	while (ncap - b->len < more)
		ncap *= 2;
	if ((b->p = realloc(b->p, ncap)) == NULL)
		die(125, "out of memory");
	b->cap = ncap;
}

static void
buf_add(struct buf *b, const void *d, size_t n)
{
	buf_room(b, n);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static size_t
buf_pending(const struct buf *b)
{
	return b->len - b->off;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
recq_push(struct recq *q, struct rec *r)
{
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->n++;
}

static struct rec *
recq_pop(struct recq *q)
{
	struct rec *r = q->head;

	if (r == NULL)
		return NULL;
	q->head = r->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	return r;
}

static void
recq_free(struct recq *q)
{
	struct rec *r;

	while ((r = recq_pop(q)) != NULL)
		free(r);
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die(125, "fcntl:");
}

/* "exited with status 3", "killed by signal KILL". */
static const char *
status_text(int st, char *buf, size_t size)
{
	char name[32];

	if (WIFEXITED(st))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, size, "killed by signal %s%s",
		    signal_name(WTERMSIG(st), name, sizeof(name)),
		    WCOREDUMP(st) ? " (core dumped)" : "");
	else
		snprintf(buf, size, "ended with status 0x%x", st);
	return buf;
}

/* A record's text for a message: at most 60 bytes, control bytes as '?'. */
static const char *
rec_text(const struct rec *r, char *buf, size_t size)
{
	size_t i, n = r->len < 60 ? r->len : 60;

	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r->data[i];
		buf[i] = c < 32 || c == 127 ? '?' : (char)c;
	}
	buf[n] = '\0';
	if (n < r->len && size > n + 4)
		strcpy(buf + n, "...");
	return buf;
}

/* ---- listening sockets ---- */

static int
listen_parse(const char *arg, struct listener *l)
{
	const char *eq = strchr(arg, '='), *colon = strchr(arg, ':');
	const char *kind, *host = NULL, *port = NULL, *e;
	char hbuf[256];
	struct addrinfo hints, *res;
	struct sockaddr_un *sun;
	long long pn;
	size_t i, hl = 0;

	memset(l, 0, sizeof(*l));
	l->spec = arg;
	l->fd = -1;
	if (eq != NULL && colon != NULL && eq < colon) {
		if (eq == arg || (size_t)(eq - arg) >= sizeof(l->name))
			return -1;
		for (i = 0; arg + i < eq; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
			    "QRSTUVWXYZ0123456789._-", arg[i]))
				return -1;
		memcpy(l->name, arg, (size_t)(eq - arg));
		arg = eq + 1;
	}
	if (strncmp(arg, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)&l->sa;
		if (arg[5] == '\0' || strlen(arg + 5) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, arg + 5);
		l->family = AF_UNIX;
		l->salen = sizeof(*sun);
		kind = "unix";
	} else if (strncmp(arg, "tcp:", 4) == 0) {
		host = arg + 4;
		if ((port = strrchr(host, ':')) == NULL)
			return -1;
		hl = (size_t)(port - host);
		if (memchr(host, '[', hl) || memchr(host, ']', hl))
			return -1;
		port++;
		l->family = AF_INET;
		kind = "tcp";
	} else if (strncmp(arg, "tcp6:[", 6) == 0) {
		host = arg + 6;
		if ((e = strchr(host, ']')) == NULL || e[1] != ':')
			return -1;
		hl = (size_t)(e - host);
		port = e + 2;
		l->family = AF_INET6;
		kind = "tcp6";
	} else
		return -1;
	if (l->name[0] == '\0')
		snprintf(l->name, sizeof(l->name), "%s", kind);
	if (l->family == AF_UNIX)
		return 0;
	if (int_parse(port, 0, 65535, &pn) < 0 || hl >= sizeof(hbuf))
		return -1;
	memcpy(hbuf, host, hl);
	hbuf[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = l->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(hl == 0 || strcmp(hbuf, "*") == 0 ? NULL : hbuf,
	    port, &hints, &res) != 0)
		return -1;
	memcpy(&l->sa, res->ai_addr, res->ai_addrlen);
	l->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A unix socket file nobody listens on is stale: remove it. A live one,
 * or another kind of file, is "in use". */
static int
unix_clear(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EADDRINUSE;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	close(fd);
	if (r == 0 || e != ECONNREFUSED) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(path);
}

static void
listen_open(struct listener *l)
{
	const char *path = ((struct sockaddr_un *)&l->sa)->sun_path;
	int one = 1;

	if ((l->fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die(1, "cannot listen on %s:", l->spec);
	if (l->family != AF_UNIX)
		(void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	if (l->family == AF_INET6)
		(void)setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (l->family == AF_UNIX && unix_clear(path) < 0)
		die(1, "cannot listen on %s:", l->spec);
	if (bind(l->fd, (struct sockaddr *)&l->sa, l->salen) < 0)
		die(1, "cannot listen on %s:", l->spec);
	l->made = l->family == AF_UNIX;
	if (listen(l->fd, SOMAXCONN) < 0)
		die(1, "cannot listen on %s:", l->spec);
}

/* ---- options ---- */

static void
usage(void)
{
	printf("usage: prefork [-n NUM] [-t TITLE] [-p PIDFILE] [-S SIG] "
	    "[-g GRACE] [-b MAXDELAY]\n"
	    "               [-M LIFETIME] [-l ADDR]... [-L | -0] "
	    "[-R [-k] [--window W] [--retry N]]\n"
	    "               [-m MAXREQ] [-q | -v] -- COMMAND [ARG]...\n"
	    "ADDR: tcp:HOST:PORT, tcp6:[ADDR]:PORT, unix:PATH, "
	    "optionally NAME=ADDR\n"
	    "signals: TERM/INT stop, QUIT stop now, HUP reload, "
	    "TTIN/TTOU one worker more/fewer,\n"
	    "         USR1/USR2/WINCH forwarded to every worker\n");
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

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		die(125, "out of memory");
	return d;
}

enum { OPT_WINDOW = 256, OPT_RETRY };

static void
opts_parse(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "workers", required_argument, NULL, 'n' },
		{ "title", required_argument, NULL, 't' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "stop-signal", required_argument, NULL, 'S' },
		{ "grace", required_argument, NULL, 'g' },
		{ "max-delay", required_argument, NULL, 'b' },
		{ "lifetime", required_argument, NULL, 'M' },
		{ "listen", required_argument, NULL, 'l' },
		{ "lines", no_argument, NULL, 'L' },
		{ "null", no_argument, NULL, '0' },
		{ "reply", no_argument, NULL, 'R' },
		{ "keep-order", no_argument, NULL, 'k' },
		{ "max-requests", required_argument, NULL, 'm' },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "retry", required_argument, NULL, OPT_RETRY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i, window_set = 0, retry_set = 0, nonly = 0;
	long cpus;
	const char *base;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:n:t:p:S:g:b:M:l:L0Rkm:qvhV",
	    longs, NULL)) != -1) {
		switch (c) {
		case '0':
			opt.dispatch = 1;
			opt.delim = '\0';
			break;
		case 'L':
			opt.dispatch = 1;
			opt.delim = '\n';
			break;
		case 'M':
			opt.lifetime = dur_arg("lifetime", optarg, 1);
			break;
		case 'R':
			opt.reply = 1;
			break;
		case 'S':
			if (signal_parse(optarg, &opt.stopsig) < 0 ||
			    opt.stopsig == 0)
				die(2, "invalid signal '%s'", optarg);
			break;
		case 'V':
			msg_version();
		case 'b':
			opt.maxdelay = dur_arg("delay", optarg, 0);
			break;
		case 'g':
			opt.grace = dur_arg("grace time", optarg, 0);
			break;
		case 'h':
			usage();
		case 'k':
			opt.keep = 1;
			break;
		case 'l':
			opt.ls = realloc(opt.ls, (size_t)(opt.nls + 1) *
			    sizeof(*opt.ls));
			if (opt.ls == NULL)
				die(125, "out of memory");
			if (listen_parse(xstrdup(optarg), &opt.ls[opt.nls]) < 0)
				die(2, "invalid listen address '%s'", optarg);
			opt.nls++;
			break;
		case 'm':
			opt.maxreq = (unsigned long)num_arg("request count",
			    optarg, 1, 1000000000);
			break;
		case 'n':
			opt.n = (int)num_arg("worker count", optarg, 1,
			    MAX_WORKERS);
			nonly = 1;
			break;
		case 'p':
			opt.pidfile = xstrdup(optarg);
			break;
		case 'q':
			msg_level = MSG_QUIET;
			break;
		case 't':
			if (*optarg == '\0')
				die(2, "empty title");
			opt.title = xstrdup(optarg);
			break;
		case 'v':
			msg_level = MSG_VERBOSE;
			break;
		case OPT_WINDOW:
			opt.window = (int)num_arg("window", optarg, 1, 65536);
			window_set = 1;
			break;
		case OPT_RETRY:
			opt.retry = (int)num_arg("retry count", optarg, 0, 1000);
			retry_set = 1;
			break;
		default:
			die_badopt(c, argv);
		}
	}
	if (optind >= argc)
		die(2, "missing COMMAND (try 'prefork -h')");
	if (opt.reply)
		opt.dispatch = 1;
	if (opt.keep && !opt.reply)
		die(2, "-k needs -R");
	if (window_set && !opt.reply)
		die(2, "--window needs -R");
	if (retry_set && !opt.reply)
		die(2, "--retry needs -R");
	if (opt.maxreq && !opt.dispatch)
		die(2, "-m needs -L, -0 or -R");
	if (!nonly) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		opt.n = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS :
		    (int)cpus;
	}
	/* title_set will overwrite argv: keep our own copies. */
	opt.cmd = xmalloc((size_t)(argc - optind + 1) * sizeof(char *));
	for (i = 0; optind + i < argc; i++)
		opt.cmd[i] = xstrdup(argv[optind + i]);
	opt.cmd[i] = NULL;
	if (opt.title == NULL) {
		base = strrchr(opt.cmd[0], '/');
		opt.title = xstrdup(base && base[1] ? base + 1 : opt.cmd[0]);
	}
}

/* ---- output ---- */

static void
out_flush(void)
{
	if (buf_pending(&pool.out) == 0)
		return;
	if (!pool.out_dead && io_write_all(STDOUT_FILENO, pool.out.p +
	    pool.out.off, buf_pending(&pool.out)) < 0) {
		/* A gone reader ends us quietly (like yes | head). */
		if (errno != EPIPE) {
			warn("write error on stdout:");
			pool.failed = 1;
		}
		pool.out_dead = 1;
	}
	pool.out.off = pool.out.len = 0;
}

static void
out_add(const char *s, size_t n)
{
	if (pool.out_dead)
		return;
	if (n >= OUT_FLUSH) {
		out_flush();
		if (!pool.out_dead && io_write_all(STDOUT_FILENO, s, n) < 0) {
			if (errno != EPIPE) {
				warn("write error on stdout:");
				pool.failed = 1;
			}
			pool.out_dead = 1;
		}
		return;
	}
	buf_add(&pool.out, s, n);
	if (buf_pending(&pool.out) >= OUT_FLUSH)
		out_flush();
}

/* -k: replies leave in input order. */
static void
ring_emit(void)
{
	struct kent *e;

	while (pool.seq_emit < pool.seq_next) {
		e = &pool.ring[pool.seq_emit % pool.ring_size];
		if (!e->done)
			break;
		if (e->p)
			out_add(e->p, e->len);
		free(e->p);
		memset(e, 0, sizeof(*e));
		pool.seq_emit++;
	}
}

static void
ring_put(uint64_t seq, const char *s, size_t n)
{
	struct kent *e = &pool.ring[seq % pool.ring_size];

	if (s != NULL) {
		e->p = xmalloc(n);
		memcpy(e->p, s, n);
		e->len = n;
	}
	e->done = 1;
	ring_emit();
}

/* ---- workers ---- */

static struct worker *
worker_find(pid_t pid)
{
	struct worker *w;

	for (w = pool.live; w; w = w->next)
		if (w->pid == pid)
			return w;
	return NULL;
}

/* Runs in the child between fork and exec: LISTEN_PID must be the
 * worker's own pid, which only the child knows. */
static int
child_env(void *arg)
{
	const struct worker *w = arg;
	char b[32];

	snprintf(b, sizeof(b), "%d", w->slot);
	if (setenv("PREFORK_WORKER", b, 1) < 0)
		return -1;
	snprintf(b, sizeof(b), "%d", opt.n);
	if (setenv("PREFORK_WORKERS", b, 1) < 0)
		return -1;
	snprintf(b, sizeof(b), "%ld", (long)pool.master);
	if (setenv("PREFORK_MASTER_PID", b, 1) < 0)
		return -1;
	snprintf(b, sizeof(b), "%ld", w->gen);
	if (setenv("PREFORK_GENERATION", b, 1) < 0)
		return -1;
	if (opt.nls == 0) {
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		return 0;
	}
	snprintf(b, sizeof(b), "%d", opt.nls);
	if (setenv("LISTEN_FDS", b, 1) < 0)
		return -1;
	snprintf(b, sizeof(b), "%ld", (long)getpid());
	if (setenv("LISTEN_PID", b, 1) < 0)
		return -1;
	return setenv("LISTEN_FDNAMES", pool.fdnames, 1);
}

static void on_worker_in(struct loop *, int, int, void *);

static void
worker_in_watch(struct worker *w, int events)
{
	if (w->in < 0 || w->in_events == events)
		return;
	(void)loop_fd(pool.loop, w->in, events, on_worker_in, w);
	w->in_events = events;
}

static void
worker_close_in(struct worker *w)
{
	if (w->in < 0)
		return;
	worker_in_watch(w, 0);
	close(w->in);
	w->in = -1;
}

/* Write what is queued for the worker without blocking. */
static void
worker_write(struct worker *w)
{
	ssize_t n;

	while (w->in >= 0 && buf_pending(&w->ib) > 0) {
		n = write(w->in, w->ib.p + w->ib.off, buf_pending(&w->ib));
		if (n > 0) {
			w->ib.off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			worker_in_watch(w, LOOP_OUT);
			return;
		}
		/* EPIPE: it closed its stdin; what is queued goes elsewhere
		 * once it is reaped. */
		worker_close_in(w);
		return;
	}
	if (w->in >= 0) {
		worker_in_watch(w, 0);
		if (w->closing)
			worker_close_in(w);
	}
}

static void
on_worker_in(struct loop *l, int fd, int events, void *arg)
{
	struct worker *w = arg;

	(void)l, (void)fd, (void)events;
	if (!w->dead)
		worker_write(w);
}

static void
on_worker_out(struct loop *l, int fd, int events, void *arg)
{
	struct worker *w = arg;

	(void)l, (void)fd, (void)events;
	if (!w->dead && w->out >= 0)
		worker_read(w, 0);
}

static void
on_grace(struct loop *l, void *arg)
{
	struct worker *w = arg;

	(void)l;
	w->grace_timer = 0;
	if (w->dead)
		return;
	verbose("worker %d (pid %ld) still running after the grace time; "
	    "killing it", w->slot, (long)w->pid);
	w->signalled = 1;
	(void)kill(w->pid, SIGKILL);
}

static void
on_lifetime(struct loop *l, void *arg)
{
	struct worker *w = arg;

	(void)l;
	w->life_timer = 0;
	if (w->dead || w->retiring)
		return;
	verbose("worker %d (pid %ld) reached its lifetime", w->slot,
	    (long)w->pid);
	w->expired = 1;
	roll_next();
}

/* Start a worker in slot i; it becomes the slot's current worker.
 * Returns it, or NULL with errno. */
static struct worker *
worker_start(int i)
{
	struct spawn_opts o;
	struct worker *w;
	char argv0[256];
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, fds[64], k, e;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->slot = i;
	w->gen = pool.gen;
	w->in = w->out = -1;
	memset(&o, 0, sizeof(o));
	snprintf(argv0, sizeof(argv0), "%s-%d", opt.title, i);
	o.argv0 = argv0;
	o.in = pool.devnull;
	o.out = o.err = -1;
	if (opt.dispatch) {
		if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0)
			goto fail;
		o.in = inp[0];
		o.out = outp[1];
	}
	for (k = 0; k < opt.nls && k < 64; k++)
		fds[k] = opt.ls[k].fd;
	o.pass = fds;
	o.npass = k;
	o.pdeathsig = SIGKILL;
	o.hook = child_env;
	o.hook_arg = w;
	if ((w->pid = spawn_start(opt.cmd, &o)) < 0)
		goto fail;
	w->started = clock_mono();
	if (opt.dispatch) {
		close(inp[0]);
		close(outp[1]);
		w->in = inp[1];
		w->out = outp[0];
		set_nonblock(w->in);
		set_nonblock(w->out);
		if (loop_fd(pool.loop, w->out, LOOP_IN, on_worker_out, w) < 0)
			die(125, "loop:");
		if (opt.maxreq)
			/* Up to 10 % more, so workers do not all recycle at
			 * once (gunicorn #862). */
			w->maxreq = opt.maxreq + rnd_next() %
			    (opt.maxreq / 10 + 1);
	}
	if (opt.lifetime > 0)
		w->life_timer = loop_timer(pool.loop, w->started +
		    opt.lifetime + (int64_t)(rnd_next() %
		    (uint64_t)(opt.lifetime / 10 + 1)), on_lifetime, w);
	w->next = pool.live;
	pool.live = w;
	pool.slots[i].w = w;
	pool.started_any = 1;
	verbose("worker %d (pid %ld) started, generation %ld", i,
	    (long)w->pid, w->gen);
	return w;
fail:
	e = errno;
	for (k = 0; k < 2; k++) {
		if (inp[k] >= 0)
			close(inp[k]);
		if (outp[k] >= 0)
			close(outp[k]);
	}
	free(w);
	errno = e;
	return NULL;
}

static void
on_slot_timer(struct loop *l, void *arg)
{
	int i = (int)(intptr_t)arg;

	(void)l;
	pool.slots[i].timer = 0;
	slot_start(i);
}

/* Do dead workers need successors? Not once input is over and every
 * record is answered. */
static int
work_left(void)
{
	if (!opt.dispatch)
		return 1;
	if (!pool.input_done)
		return 1;
	if (opt.reply)
		return pool.pending.n > 0 || pool.outstanding > 0;
	return buf_pending(&pool.spill) > 0;
}

/* The delay before the next start in a slot whose worker just died (or
 * could not start): none after a worker that stayed up, else doubling. */
static int64_t
slot_backoff(struct slot *s, int64_t uptime)
{
	int64_t d;

	if (uptime >= STABLE_NS)
		s->quick = 0;
	if (uptime >= STABLE_NS)
		return 0;
	d = BACKOFF_MIN << (s->quick < 20 ? s->quick : 20);
	if (s->quick < 30)
		s->quick++;
	return d < opt.maxdelay ? d : opt.maxdelay;
}

static void
slot_schedule(int i, int64_t delay)
{
	struct slot *s = &pool.slots[i];

	if (s->timer)
		loop_timer_cancel(pool.loop, s->timer);
	s->timer = loop_timer(pool.loop, clock_mono() + delay, on_slot_timer,
	    (void *)(intptr_t)i);
	if (s->timer < 0)
		die(125, "loop:");
}

/* Fill slot i if it is wanted and empty. A start that fails is retried
 * with backoff, except the very first one: then COMMAND cannot run. */
static int
slot_start(int i)
{
	struct slot *s = &pool.slots[i];
	char d[32];
	int64_t delay;

	if (s->timer) {
		loop_timer_cancel(pool.loop, s->timer);
		s->timer = 0;
	}
	if (pool.state != RUNNING || i >= opt.n || s->w != NULL ||
	    !work_left())
		return 0;
	if (worker_start(i) != NULL)
		return 0;
	if (!pool.started_any) {
		int e = errno;
		int st = e == EAGAIN || e == ENOMEM || e == EMFILE ||
		    e == ENFILE ? 125 : spawn_exec_status(e);

		warn("cannot run '%s':", opt.cmd[0]);
		cleanup();
		exit(st);
	}
	delay = slot_backoff(s, 0);
	warn("worker %d: cannot run '%s': %s; retrying in %s", i,
	    opt.cmd[0], strerror(errno), duration_fmt(delay, d, sizeof(d)));
	slot_schedule(i, delay);
	return -1;
}

/* Ask a worker to end: in dispatch mode by closing its stdin once its
 * queue is written, else with the stop signal; KILL after the grace. */
static void
worker_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	verbose("stopping worker %d (pid %ld)", w->slot, (long)w->pid);
	if (opt.dispatch) {
		w->closing = 1;
		worker_write(w);
	} else {
		w->signalled = 1;
		(void)kill(w->pid, opt.stopsig);
	}
	w->grace_timer = loop_timer(pool.loop, clock_mono() + opt.grace,
	    on_grace, w);
}

/* Take a worker out of its slot; it gets no more records. */
static void
worker_retire(struct worker *w)
{
	if (pool.slots[w->slot].w == w)
		pool.slots[w->slot].w = NULL;
	w->retiring = 1;
}

/* -L: a dead worker's unsent whole records go to the others. */
static void
worker_spill(struct worker *w)
{
	char *p = w->ib.p + w->ib.off, *q;
	size_t n = buf_pending(&w->ib);

	if (n == 0 || opt.reply)
		return;
	if (w->ib.off > 0 && w->ib.p[w->ib.off - 1] != opt.delim) {
		/* Part of this record reached the worker: its rest is lost. */
		q = memchr(p, opt.delim, n);
		q = q ? q + 1 : p + n;
		warn("worker %d (pid %ld) died in the middle of a record; "
		    "its rest is dropped", w->slot, (long)w->pid);
		pool.failed = 1;
		n -= (size_t)(q - p);
		p = q;
	}
	if (n > 0)
		buf_add(&pool.spill, p, n);
}

/* -R: records a dead worker never answered are handed out again. */
static void
worker_requeue(struct worker *w)
{
	struct recq again = { NULL, NULL, 0 };
	struct rec *r;
	char t[80];

	while ((r = recq_pop(&w->sent)) != NULL) {
		pool.outstanding--;
		if (pool.state == RUNNING && !pool.out_dead &&
		    r->tries <= opt.retry) {
			warn("worker %d (pid %ld) died before replying to "
			    "'%s'; sending it again", w->slot, (long)w->pid,
			    rec_text(r, t, sizeof(t)));
			recq_push(&again, r);
			continue;
		}
		if (pool.state == RUNNING && !pool.out_dead) {
			warn("worker %d (pid %ld) died before replying to "
			    "'%s'; giving up after %d tries", w->slot,
			    (long)w->pid, rec_text(r, t, sizeof(t)), r->tries);
			pool.failed = 1;
		}
		if (opt.keep)
			ring_put(r->seq, NULL, 0);
		free(r);
	}
	/* Retries go first, in their original order. */
	if (again.head != NULL) {
		again.tail->next = pool.pending.head;
		if (pool.pending.head == NULL)
			pool.pending.tail = again.tail;
		pool.pending.head = again.head;
		pool.pending.n += again.n;
	}
}

static void
worker_bury(struct worker *w)
{
	struct worker **pp;

	for (pp = &pool.live; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->dead = 1;
	if (pool.owner == w)
		pool.owner = NULL;
	if (pool.slots[w->slot].w == w)
		pool.slots[w->slot].w = NULL;
	if (w->grace_timer)
		loop_timer_cancel(pool.loop, w->grace_timer);
	if (w->life_timer)
		loop_timer_cancel(pool.loop, w->life_timer);
	w->grace_timer = w->life_timer = 0;
	worker_close_in(w);
	if (w->out >= 0) {
		(void)loop_fd(pool.loop, w->out, 0, NULL, NULL);
		close(w->out);
		w->out = -1;
	}
	/* Freed after this loop round: callbacks for it may be queued. */
	w->next = pool.grave;
	pool.grave = w;
}

/* A worker was reaped. */
static void
worker_exited(struct worker *w, int st)
{
	int cur = pool.slots[w->slot].w == w;
	int expected = w->stopping || w->closing || pool.state != RUNNING;
	int ok = (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
	    (w->signalled && WIFSIGNALED(st) &&
	    (WTERMSIG(st) == opt.stopsig || WTERMSIG(st) == SIGKILL));
	int64_t uptime = clock_mono() - w->started, delay = -1;
	char how[64], d[32];

	if (w->out >= 0)
		worker_read(w, 1);	/* what it wrote before dying */
	worker_spill(w);
	worker_requeue(w);
	if (!ok && opt.dispatch)
		pool.failed = 1;
	worker_bury(w);
	if (cur && pool.state == RUNNING && w->slot < opt.n && work_left())
		delay = slot_backoff(&pool.slots[w->slot], uptime);
	status_text(st, how, sizeof(how));
	if (delay > 0)
		notice("worker %d (pid %ld) %s; restarting in %s", w->slot,
		    (long)w->pid, how, duration_fmt(delay, d, sizeof(d)));
	else if (delay == 0)
		notice("worker %d (pid %ld) %s; restarting", w->slot,
		    (long)w->pid, how);
	else if (!expected || !ok)
		notice("worker %d (pid %ld) %s", w->slot, (long)w->pid, how);
	else
		verbose("worker %d (pid %ld) %s", w->slot, (long)w->pid, how);
	if (delay == 0)
		slot_start(w->slot);
	else if (delay > 0)
		slot_schedule(w->slot, delay);
	if (w == pool.roll_old) {
		pool.roll_old = NULL;
		if (opt.nls == 0)
			slot_start(w->slot);
		roll_next();
	}
}

static void
on_sigchld(struct loop *l, int sig, void *arg)
{
	struct worker *w;
	pid_t pid;
	int st;

	(void)l, (void)sig, (void)arg;
	/* Signals coalesce: one SIGCHLD may stand for many exits. */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if ((w = worker_find(pid)) != NULL)
			worker_exited(w, st);
}

/* ---- reload ---- */

/* Replace, one slot at a time, every worker of an older generation or
 * past its lifetime. Called on HUP, on -M expiry and whenever the worker
 * being replaced is reaped. */
static void
roll_next(void)
{
	struct worker *w, *best = NULL, *nw;
	int i;

	if (pool.state != RUNNING || pool.roll_old != NULL)
		return;
	for (i = 0; i < opt.n; i++) {
		w = pool.slots[i].w;
		if (w == NULL || (w->gen >= pool.gen && !w->expired))
			continue;
		if (best == NULL || w->gen < best->gen)
			best = w;
	}
	if (best == NULL) {
		if (pool.rolling)
			verbose("reload to generation %ld done", pool.gen);
		pool.rolling = 0;
		return;
	}
	i = best->slot;
	worker_retire(best);
	if (opt.nls > 0) {
		/* New before old: there is always a worker accepting. */
		if ((nw = worker_start(i)) == NULL) {
			warn("reload stopped: cannot start worker %d: %s", i,
			    strerror(errno));
			pool.slots[i].w = best;
			best->retiring = 0;
			best->expired = 0;
			pool.rolling = 0;
			return;
		}
	}
	pool.roll_old = best;
	worker_stop(best);
}

/* ---- dispatch ---- */

/* The worker that should get the next record, or NULL if none can. */
static struct worker *
pick_worker(void)
{
	struct worker *w, *best = NULL;
	int k, i;

	for (k = 0; k < opt.n; k++) {
		i = (pool.rr + k) % opt.n;
		w = pool.slots[i].w;
		if (w == NULL || w->closing || w->in < 0)
			continue;
		if (opt.reply) {
			if (w->sent.n >= (size_t)opt.window)
				continue;
			if (best == NULL || w->sent.n < best->sent.n)
				best = w;
			if (w->sent.n == 0)
				break;
		} else if (buf_pending(&w->ib) < FEED_MAX) {
			best = w;
			break;
		}
	}
	return best;
}

/* Count a record given to w; -m retires it after MAXREQ records. */
static void
worker_count(struct worker *w)
{
	pool.rr = (w->slot + 1) % opt.n;
	if (++w->given < w->maxreq || w->maxreq == 0)
		return;
	verbose("worker %d (pid %ld) served %lu records; recycling it",
	    w->slot, (long)w->pid, w->given);
	worker_retire(w);
	worker_stop(w);
	slot_start(w->slot);
}

/* -R: next input record: IO_REC (the record, without its delimiter,
 * pointed to by p and n), IO_MORE, or IO_EOF. */
static int
next_record(char **p, size_t *n)
{
	int t;

	if (pool.input_done)
		return IO_EOF;
	if (pool.need_fill)
		return IO_MORE;
	for (;;) {
		t = io_records_take(&pool.rd, p, n);
		if (t == IO_TOOLONG) {
			warn("record of %zu bytes skipped: longer than %d", *n,
			    REC_MAX);
			pool.failed = 1;
			continue;
		}
		if (t == IO_MORE)
			pool.need_fill = 1;
		if (t == IO_EOF)
			pool.input_done = 1;
		return t;
	}
}

/* Give w the n bytes at p (whole records): straight into its pipe when
 * nothing is queued before them, the rest into its buffer. */
static void
worker_give(struct worker *w, const char *p, size_t n)
{
	ssize_t k = 0;

	if (buf_pending(&w->ib) == 0 && w->in >= 0) {
		while ((k = write(w->in, p, n)) < 0 && errno == EINTR)
			;
		if (k < 0)
			k = 0;	/* EAGAIN, or EPIPE seen by worker_write */
	}
	if ((size_t)k < n)
		buf_add(&w->ib, p + k, n - (size_t)k);
}

/* -L: hand out runs of whole records. A run is at most 1/NUM of what is
 * buffered (so a short input still spreads over the workers), at most
 * CHUNK_MAX, and fits the worker's room; with -m, one record at a time
 * so it can be counted. A record longer than the room still goes whole. */
static void
feed_stream(void)
{
	struct buf *src;
	struct worker *w;
	char *p, *e;
	size_t avail, lim, room, n;

	for (;;) {
		src = buf_pending(&pool.spill) > 0 ? &pool.spill : &pool.inb;
		avail = buf_pending(src);
		p = avail > 0 ? src->p + src->off : NULL;
		if (src == &pool.inb && pool.skip > 0 && avail > 0) {
			/* The rest of an overlong record. */
			e = memchr(p, opt.delim, avail);
			n = e ? (size_t)(e - p) + 1 : avail;
			pool.skip += n;
			src->off += n;
			if (e != NULL) {
				warn("record of %zu bytes skipped: longer "
				    "than %d", pool.skip - 2, REC_MAX);
				pool.failed = 1;
				pool.skip = 0;
			}
			continue;
		}
		if (avail == 0) {
			if (pool.in_eof)
				pool.input_done = 1;
			else
				pool.need_fill = 1;
			return;
		}
		if ((w = pick_worker()) == NULL)
			return;
		room = FEED_MAX - buf_pending(&w->ib);
		lim = opt.maxreq ? 1 : avail / (size_t)opt.n;
		if (lim > room)
			lim = room;
		if (lim > CHUNK_MAX)
			lim = CHUNK_MAX;
		e = lim > 0 ? memrchr(p, opt.delim, lim) : NULL;
		if (e == NULL && (e = memchr(p, opt.delim, avail)) == NULL) {
			if (!pool.in_eof) {
				if (avail >= REC_MAX) {
					pool.skip = avail + 1;
					src->off += avail;
					continue;
				}
				pool.need_fill = 1;
				return;
			}
			/* A last record without its delimiter. */
			buf_add(src, &(char){ (char)opt.delim }, 1);
			p = src->p + src->off;
			e = p + avail;
		}
		n = (size_t)(e - p) + 1;
		worker_give(w, p, n);
		src->off += n;
		worker_count(w);
	}
}

static void
on_stdin_stream(struct loop *l, int fd, int events, void *arg)
{
	ssize_t n;

	(void)l, (void)fd, (void)events, (void)arg;
	buf_room(&pool.inb, READ_CHUNK);
	n = read(STDIN_FILENO, pool.inb.p + pool.inb.len,
	    pool.inb.cap - pool.inb.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	pool.need_fill = 0;
	if (n > 0)
		pool.inb.len += (size_t)n;
	else if (n == 0)
		pool.in_eof = 1;
	else {
		warn("read error on stdin:");
		pool.failed = 1;
		pool.in_eof = 1;
	}
}

static void
feed_reply(void)
{
	struct worker *w;
	struct rec *r;
	char *p;
	size_t n;

	/* -k: a bounded span between the oldest unanswered record and
	 * the newest read keeps the reorder ring bounded. */
	while ((w = pick_worker()) != NULL) {
		if ((r = recq_pop(&pool.pending)) == NULL) {
			if (opt.keep && pool.seq_next - pool.seq_emit >=
			    pool.ring_size)
				break;
			if (next_record(&p, &n) != IO_REC)
				break;
			r = xmalloc(sizeof(*r) + n + 1);
			r->seq = pool.seq_next++;
			r->tries = 0;
			r->len = n;
			memcpy(r->data, p, n);
			r->data[n] = (char)opt.delim;
		}
		r->tries++;
		buf_add(&w->ib, r->data, r->len + 1);
		recq_push(&w->sent, r);
		pool.outstanding++;
		worker_count(w);
	}
}

static void
on_stdin(struct loop *l, int fd, int events, void *arg)
{
	ssize_t n;

	(void)l, (void)fd, (void)events, (void)arg;
	n = io_records_fill(&pool.rd);
	if (n < 0 && errno == EAGAIN)
		return;
	pool.need_fill = 0;
	if (n < 0) {
		warn("read error on stdin:");
		pool.failed = 1;
		pool.input_done = 1;
	}
}

/* One reply line from w (n bytes with its delimiter). */
static void
reply_line(struct worker *w, const char *s, size_t n)
{
	struct rec *r = recq_pop(&w->sent);

	if (r == NULL) {
		/* Not an answer to anything: pass it on unless order
		 * matters. */
		if (!opt.keep)
			out_add(s, n);
		return;
	}
	pool.outstanding--;
	if (opt.keep)
		ring_put(r->seq, s, n);
	else
		out_add(s, n);
	free(r);
}

static void
worker_line(struct worker *w, const char *s, size_t k)
{
	if (!opt.reply)
		out_add(s, k);
	else if (w->skip_line)
		w->skip_line = 0;
	else
		reply_line(w, s, k);
}

/* Relay w's whole lines. At eof a last unterminated line gets its
 * delimiter. A line longer than LINE_HELD is passed on piecewise while
 * its worker owns stdout (or, with -k, cut). */
static void
worker_relay(struct worker *w, int eof)
{
	char *s, *e;
	size_t n = buf_pending(&w->ob), k;
	int found = 0, cut = 0;

	s = n > 0 ? w->ob.p + w->ob.off : NULL;
	if (opt.reply) {
		while (n > 0 && (e = memchr(s, opt.delim, n)) != NULL) {
			k = (size_t)(e - s) + 1;
			worker_line(w, s, k);
			s += k;
			n -= k;
			found = 1;
		}
	} else if (n > 0 && (e = memrchr(s, opt.delim, n)) != NULL) {
		k = (size_t)(e - s) + 1;
		out_add(s, k);
		s += k;
		n -= k;
		found = 1;
	}
	if (found && pool.owner == w)
		pool.owner = NULL;
	if (n > 0 && (pool.owner == w || w->skip_line)) {
		if (!w->skip_line)
			out_add(s, n);
		n = 0;
	} else if (n > 0 && !eof && n >= LINE_HELD && !opt.keep) {
		pool.owner = w;
		out_add(s, n);
		n = 0;
	} else if (n > 0 && (eof || n >= LINE_HELD)) {
		if (!eof) {
			warn("worker %d (pid %ld): reply longer than %d bytes "
			    "cut", w->slot, (long)w->pid, LINE_HELD);
			cut = 1;
		}
		buf_add(&w->ob, &(char){ (char)opt.delim }, 1);
		worker_line(w, w->ob.p + w->ob.len - n - 1, n + 1);
		w->skip_line = cut;
		n = 0;
	}
	if (n == 0)
		w->ob.off = w->ob.len = 0;
	else
		w->ob.off = w->ob.len - n;
	if (eof && pool.owner == w) {
		worker_line(w, &(char){ (char)opt.delim }, 1);
		pool.owner = NULL;
	}
	if (eof)
		w->skip_line = 0;
}

/* Read what w wrote: one chunk per wake-up, so no worker starves the
 * others; at reap time (final) drain the pipe. */
static void
worker_read(struct worker *w, int final)
{
	ssize_t n;
	int rounds = final ? 64 : 1;

	if (pool.owner != NULL && pool.owner != w && !final)
		return;
	while (rounds > 0) {
		buf_room(&w->ob, READ_CHUNK);
		n = read(w->out, w->ob.p + w->ob.len, w->ob.cap - w->ob.len);
		if (n > 0) {
			w->ob.len += (size_t)n;
			worker_relay(w, 0);
			rounds--;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !final)
			return;
		break;		/* EOF, an error, or nothing left */
	}
	if (rounds == 0 && !final)
		return;
	worker_relay(w, 1);
	(void)loop_fd(pool.loop, w->out, 0, NULL, NULL);
	close(w->out);
	w->out = -1;
}

/* Pause other workers' output while one holds stdout mid-line. */
static void
owner_watch(void)
{
	static struct worker *was;
	struct worker *w;

	if (was == pool.owner)
		return;
	was = pool.owner;
	for (w = pool.live; w; w = w->next)
		if (w->out >= 0)
			(void)loop_fd(pool.loop, w->out, pool.owner == NULL ||
			    pool.owner == w ? LOOP_IN : 0, on_worker_out, w);
}

/* Records wait but no worker takes any, nor will one: every wanted slot
 * is filled by a worker whose stdin is closed, and none is starting.
 * Empty slots are started first. */
static int
stranded(void)
{
	struct slot *s;
	int i;

	for (i = 0; i < opt.n; i++) {
		s = &pool.slots[i];
		if (s->w == NULL && s->timer == 0)
			slot_start(i);
		if (s->timer || (s->w && !s->w->closing && s->w->in >= 0))
			return 0;
	}
	return 1;
}

/* After every loop round: hand out records, close the workers' stdin at
 * the end of input, and watch stdin only while a record can be placed. */
static void
dispatch_tick(void)
{
	struct worker *w;
	int want = 0, i;

	if (pool.state == RUNNING && !pool.out_dead) {
		if (opt.reply)
			feed_reply();
		else
			feed_stream();
		want = !pool.input_done && pool.need_fill &&
		    pick_worker() != NULL;
		if (opt.reply && opt.keep && pool.seq_next - pool.seq_emit >=
		    pool.ring_size)
			want = 0;
	}
	for (w = pool.live; w; w = w->next)
		if (buf_pending(&w->ib) > 0 && w->in_events == 0)
			worker_write(w);
	if (pool.state == RUNNING && !work_left()) {
		for (i = 0; i < opt.n; i++)
			if (pool.slots[i].timer) {
				loop_timer_cancel(pool.loop,
				    pool.slots[i].timer);
				pool.slots[i].timer = 0;
			}
		for (w = pool.live; w; w = w->next)
			if (!w->closing) {
				w->closing = 1;
				worker_write(w);
			}
	} else if (pool.state == RUNNING && (pool.pending.n > 0 ||
	    buf_pending(&pool.spill) > 0) && pick_worker() == NULL &&
	    stranded()) {
		warn("no worker left to take the remaining records; "
		    "dropping them");
		pool.failed = 1;
		while (pool.pending.n > 0) {
			struct rec *r = recq_pop(&pool.pending);

			if (opt.keep)
				ring_put(r->seq, NULL, 0);
			free(r);
		}
		pool.spill.off = pool.spill.len = 0;
	}
	owner_watch();
	if (want != pool.stdin_events) {
		(void)loop_fd(pool.loop, STDIN_FILENO, want ? LOOP_IN : 0,
		    opt.reply ? on_stdin : on_stdin_stream, NULL);
		pool.stdin_events = want;
	}
}

/* ---- signals and stopping ---- */

static void
pool_stop(int now)
{
	struct worker *w;
	int i;

	if (pool.state == RUNNING) {
		pool.state = STOPPING;
		for (i = 0; i < pool.nslots; i++)
			if (pool.slots[i].timer) {
				loop_timer_cancel(pool.loop,
				    pool.slots[i].timer);
				pool.slots[i].timer = 0;
			}
		for (w = pool.live; w; w = w->next)
			worker_stop(w);
	}
	if (now)
		for (w = pool.live; w; w = w->next) {
			w->signalled = 1;
			(void)kill(w->pid, SIGKILL);
		}
}

static void
on_signal(struct loop *l, int sig, void *arg)
{
	struct worker *w;
	char name[32];

	(void)l, (void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		verbose("got %s: stopping", signal_name(sig, name,
		    sizeof(name)));
		pool_stop(0);
		break;
	case SIGQUIT:
		verbose("got QUIT: stopping now");
		pool_stop(1);
		break;
	case SIGHUP:
		if (pool.state != RUNNING)
			break;
		pool.gen++;
		pool.rolling = 1;
		verbose("reloading: generation %ld", pool.gen);
		roll_next();
		break;
	case SIGTTIN:
		if (pool.state != RUNNING || opt.n >= MAX_WORKERS)
			break;
		if (opt.n == pool.nslots) {
			pool.slots = realloc(pool.slots, (size_t)(opt.n * 2) *
			    sizeof(*pool.slots));
			if (pool.slots == NULL)
				die(125, "out of memory");
			memset(pool.slots + opt.n, 0, (size_t)opt.n *
			    sizeof(*pool.slots));
			pool.nslots = opt.n * 2;
		}
		opt.n++;
		verbose("now %d workers", opt.n);
		slot_start(opt.n - 1);
		break;
	case SIGTTOU:
		if (pool.state != RUNNING || opt.n <= 1)
			break;
		opt.n--;
		verbose("now %d workers", opt.n);
		if (pool.slots[opt.n].timer) {
			loop_timer_cancel(pool.loop, pool.slots[opt.n].timer);
			pool.slots[opt.n].timer = 0;
		}
		pool.slots[opt.n].quick = 0;
		if ((w = pool.slots[opt.n].w) != NULL) {
			worker_retire(w);
			worker_stop(w);
		}
		pool.rr = 0;
		break;
	default:		/* USR1, USR2, WINCH */
		for (w = pool.live; w; w = w->next)
			(void)kill(w->pid, sig);
		break;
	}
}

/* ---- the pool ---- */

static void
pool_init(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN,
	    SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH };
	size_t i, len;
	int k;

	pool.master = getpid();
	pool.rnd = (uint64_t)clock_wall() ^ ((uint64_t)pool.master << 32) ^
	    0x9e3779b97f4a7c15ULL;
	if (pool.rnd == 0)
		pool.rnd = 1;
	if ((pool.loop = loop_new()) == NULL)
		die(125, "loop:");
	if (loop_signal(pool.loop, SIGCHLD, on_sigchld, NULL) < 0)
		die(125, "loop:");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (loop_signal(pool.loop, sigs[i], on_signal, NULL) < 0)
			die(125, "loop:");
	if ((pool.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		die(125, "/dev/null:");
	pool.nslots = opt.n;
	pool.slots = calloc((size_t)opt.n, sizeof(*pool.slots));
	if (pool.slots == NULL)
		die(125, "out of memory");
	for (len = 1, k = 0; k < opt.nls; k++)
		len += strlen(opt.ls[k].name) + 1;
	pool.fdnames = xmalloc(len);
	pool.fdnames[0] = '\0';
	for (k = 0; k < opt.nls; k++) {
		if (k > 0)
			strcat(pool.fdnames, ":");
		strcat(pool.fdnames, opt.ls[k].name);
	}
	if (opt.reply)
		io_records_init(&pool.rd, STDIN_FILENO, opt.delim, REC_MAX);
	if (opt.keep) {
		pool.ring_size = 1024;
		while (pool.ring_size < 4 * (size_t)opt.n *
		    (size_t)opt.window && pool.ring_size < 65536)
			pool.ring_size *= 2;
		pool.ring = calloc(pool.ring_size, sizeof(*pool.ring));
		if (pool.ring == NULL)
			die(125, "out of memory");
	}
}

static void
pool_start(void)
{
	int i;

	for (i = 0; i < opt.n; i++)
		slot_start(i);
}

static void
free_graveyard(void)
{
	struct worker *w;

	while ((w = pool.grave) != NULL) {
		pool.grave = w->next;
		buf_free(&w->ib);
		buf_free(&w->ob);
		recq_free(&w->sent);
		free(w);
	}
}

static void
pool_run(void)
{
	for (;;) {
		if (opt.dispatch)
			dispatch_tick();
		out_flush();
		if (pool.out_dead && pool.state == RUNNING)
			pool_stop(0);
		if (pool.live == NULL && (pool.state == STOPPING ||
		    (opt.dispatch && !work_left())))
			break;
		if (loop_once(pool.loop) < 0)
			die(125, "loop:");
		free_graveyard();
	}
}

static void
pool_end(void)
{
	size_t i;

	out_flush();
	free_graveyard();
	if (pool.ring != NULL) {
		for (i = 0; i < pool.ring_size; i++)
			free(pool.ring[i].p);
		free(pool.ring);
	}
	recq_free(&pool.pending);
	buf_free(&pool.spill);
	buf_free(&pool.out);
	if (opt.reply)
		io_records_free(&pool.rd);
	buf_free(&pool.inb);
	free(pool.slots);
	free(pool.fdnames);
	close(pool.devnull);
	loop_free(pool.loop);
}

/* Remove what we created; also on die() paths (atexit), master only. */
static void
cleanup(void)
{
	static int done;
	int i;

	if (done || getpid() != pool.master)
		return;
	done = 1;
	for (i = 0; i < opt.nls; i++) {
		if (opt.ls[i].made)
			(void)unlink(((struct sockaddr_un *)
			    &opt.ls[i].sa)->sun_path);
		if (opt.ls[i].fd >= 0)
			close(opt.ls[i].fd);
	}
	if (pool.pidfd >= 0 && opt.pidfile != NULL) {
		(void)pidfile_remove(opt.pidfile);
		close(pool.pidfd);
	}
}

static void
free_opts(void)
{
	int i;

	for (i = 0; opt.cmd[i]; i++)
		free(opt.cmd[i]);
	free(opt.cmd);
	for (i = 0; i < opt.nls; i++)
		free((char *)opt.ls[i].spec);
	free(opt.ls);
	free(opt.title);
	free(opt.pidfile);
}

static void
pidfile_take(void)
{
	pid_t holder = 0;

	if (opt.pidfile == NULL)
		return;
	pool.pidfd = pidfile_acquire(opt.pidfile, 0, &holder);
	if (pool.pidfd < 0 && errno == EWOULDBLOCK)
		die(1, "already running (pid %ld)", (long)holder);
	if (pool.pidfd < 0)
		die(1, "%s:", opt.pidfile);
	if (pidfile_write(pool.pidfd, getpid()) < 0)
		die(1, "%s:", opt.pidfile);
}

int
main(int argc, char **argv)
{
	int i;

	msg_init(argv[0]);
	title_init(argc, argv);
	opts_parse(argc, argv);
	pool.pidfd = -1;
	pool.master = getpid();
	atexit(cleanup);
	/* A write to a worker that quit, or to a closed stdout, must come
	 * back as EPIPE, not kill the master. Children get SIG_DFL back. */
	signal(SIGPIPE, SIG_IGN);
	pidfile_take();
	for (i = 0; i < opt.nls; i++)
		listen_open(&opt.ls[i]);
	pool_init();
	title_set("%s-master", opt.title);
	pool_start();
	pool_run();
	pool_end();
	cleanup();
	free_opts();
	return opt.dispatch && pool.failed ? 1 : 0;
}
