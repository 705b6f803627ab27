/*
 * pfworker: a prefork test worker. Echoes each stdin line back (one write
 * per batch of lines read) and records what happens to it.
 *
 *   -s        serve: do not read stdin, just wait for signals
 *   -e DIR    at start write DIR/PID: "PID SLOT WORKERS MASTER GEN LISTEN_PID"
 *   -r FILE   append "MONO_NS PID EVENT" lines: start, a signal name, exit
 *   -i        ignore TERM and INT (still recorded)
 *   -D MS     on TERM/INT wait MS milliseconds before exiting
 *   -x N      exit with status N right after starting
 *   -p        reply "PID LINE" instead of "LINE"
 *   -d US     sleep a random 0..US microseconds before each reply
 *   -a N      write N copies of each line (a worker with a lot of output)
 *   -b        write each reply a byte at a time (torn writes)
 *   -H REC    hang (sleep forever) on the record REC
 * A record "?env" is answered with the -e line.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got[65];
static const char *recfile;
static int ignore_term, delay_ms, prefix, amplify = 1, bytewise;
static long jitter_us;
static const char *hang;

static long long
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
record(const char *ev)
{
	char line[128];
	int fd, n;

	if (recfile == NULL)
		return;
	n = snprintf(line, sizeof(line), "%lld %ld %s\n", mono(),
	    (long)getpid(), ev);
	fd = open(recfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0)
			perror("pfworker: record");
		close(fd);
	}
}

static void
on_sig(int sig)
{
	got[sig] = 1;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : "-";
}

static int
env_line(char *buf, size_t size)
{
	return snprintf(buf, size, "%ld %s %s %s %s %s\n", (long)getpid(),
	    env("PREFORK_WORKER"), env("PREFORK_WORKERS"),
	    env("PREFORK_MASTER_PID"), env("PREFORK_GENERATION"),
	    env("LISTEN_PID"));
}

static void
write_all(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(1, p, bytewise ? 1 : n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			exit(1);
		p += w;
		n -= (size_t)w;
	}
}

static void
check_signals(void)
{
	static const struct { int sig; const char *name; } names[] = {
		{ SIGTERM, "TERM" }, { SIGINT, "INT" }, { SIGUSR1, "USR1" },
		{ SIGUSR2, "USR2" }, { SIGWINCH, "WINCH" }, { SIGHUP, "HUP" },
	};
	size_t i;
	int stop = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!got[names[i].sig])
			continue;
		got[names[i].sig] = 0;
		record(names[i].name);
		if ((names[i].sig == SIGTERM || names[i].sig == SIGINT) &&
		    !ignore_term)
			stop = 1;
	}
	if (stop) {
		if (delay_ms > 0)
			usleep((useconds_t)delay_ms * 1000);
		record("exit");
		exit(0);
	}
}

/* Output for one line (len bytes, no newline) appended to out. */
static void
answer(char *line, size_t len, char **out, size_t *olen, size_t *ocap)
{
	char head[160];
	size_t need, k;
	int i, h = 0;

	if (hang && strlen(hang) == len && memcmp(hang, line, len) == 0)
		for (;;)
			pause();
	if (len == 4 && memcmp(line, "?env", 4) == 0) {
		h = env_line(head, sizeof(head));
		len = 0;
	} else if (prefix)
		h = snprintf(head, sizeof(head), "%ld ", (long)getpid());
	need = (size_t)amplify * ((size_t)h + len + 1);
	if (*olen + need > *ocap) {
		for (k = *ocap ? *ocap : 65536; k < *olen + need; k *= 2)
			;
		if ((*out = realloc(*out, k)) == NULL)
			exit(1);
		*ocap = k;
	}
	for (i = 0; i < amplify; i++) {
		memcpy(*out + *olen, head, (size_t)h);
		*olen += (size_t)h;
		if (len > 0 || h == 0 || prefix) {
			memcpy(*out + *olen, line, len);
			*olen += len;
			if (h == 0 || prefix)
				(*out)[(*olen)++] = '\n';
		}
	}
}

static void
echo_loop(void)
{
	char *buf = malloc(65536), *out = NULL, *p, *nl;
	size_t have = 0, cap = 65536, olen, ocap = 0;
	ssize_t n;

	if (buf == NULL)
		exit(1);
	for (;;) {
		check_signals();
		if (have == cap && (buf = realloc(buf, cap *= 2)) == NULL)
			exit(1);
		n = read(0, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		olen = 0;
		for (p = buf; (nl = memchr(p, '\n', have - (size_t)(p - buf)));
		    p = nl + 1) {
			if (jitter_us > 0)
				usleep((useconds_t)(random() % (jitter_us + 1)));
			answer(p, (size_t)(nl - p), &out, &olen, &ocap);
			if (jitter_us > 0 || bytewise) {
				write_all(out, olen);
				olen = 0;
			}
		}
		write_all(out, olen);
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
	}
	if (have > 0) {
		olen = 0;
		answer(buf, have, &out, &olen, &ocap);
		write_all(out, olen);
	}
	record("exit");
	exit(0);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	struct sigaction sa;
	sigset_t block, none;
	int c, serve = 0, xstatus = -1, fd, n;
	char path[4096], line[160];

	while ((c = getopt(argc, argv, "se:r:iD:x:pd:a:bH:")) != -1) {
		switch (c) {
		case 's': serve = 1; break;
		case 'e': dir = optarg; break;
		case 'r': recfile = optarg; break;
		case 'i': ignore_term = 1; break;
		case 'D': delay_ms = atoi(optarg); break;
		case 'x': xstatus = atoi(optarg); break;
		case 'p': prefix = 1; break;
		case 'd': jitter_us = atol(optarg); break;
		case 'a': amplify = atoi(optarg); break;
		case 'b': bytewise = 1; break;
		case 'H': hang = optarg; break;
		default:
			fprintf(stderr, "usage: pfworker [-s] [-e DIR] [-r FILE]"
			    " [-i] [-D MS] [-x N] [-p] [-d US] [-a N] [-b]"
			    " [-H REC]\n");
			return 2;
		}
	}
	srandom((unsigned)getpid());
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;	/* no SA_RESTART: read returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (dir != NULL) {
		snprintf(path, sizeof(path), "%s/%ld", dir, (long)getpid());
		n = env_line(line, sizeof(line));
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, line, (size_t)n) != n)
			perror("pfworker: -e");
		if (fd >= 0)
			close(fd);
	}
	record("start");
	if (xstatus >= 0) {
		record("exit");
		return xstatus;
	}
	if (!serve)
		echo_loop();
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&none);
	for (;;) {
		check_signals();
		sigsuspend(&none);
	}
}
