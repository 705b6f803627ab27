/* leaky: a careless parent for preap's tests. It forks N children and
 * never waits for any of them.
 *
 *   leaky [-o FILE] [-l MS] [-t] [-d] N
 *
 * By default each child is orphaned at once: an intermediate process
 * forks it and exits, so the child is reparented (to a subreaper such as
 * preap) and dies after a staggered delay of i % 100 ms. Child i ends as:
 *   i % 4 == 3: killed by a signal (TERM when i % 8 == 3, else KILL),
 *   otherwise:  exit status i % 100.
 * -o FILE  write "PID CODE SIGNAL" for every child (the expected preap
 *          -r line without the name), written before the child ends
 * -l MS    children live MS milliseconds instead (orphans that linger)
 * -t       children ignore TERM
 * -d       direct: no intermediate; children are leaky's own and become
 *          its zombies
 * -x       exit at once after forking (default: stay until every orphan
 *          is gone, i.e. reaped by someone else, at most 20 s)
 * leaky exits 0 (1 if orphans were still there after 20 s). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "parse.h"

static long linger = -1;
static pid_t *orphans;
static long norphans;
static int ignore_term;

static void
child_end(long i)
{
	struct timespec ts;
	long ms = linger >= 0 ? linger : i % 100;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	if (i % 4 == 3) {
		signal(SIGTERM, SIG_DFL);
		kill(getpid(), i % 8 == 3 ? SIGTERM : SIGKILL);
	}
	_exit((int)(i % 100));
}

/* Poll until every orphan is gone (someone else reaped it); never wait. */
static int
wait_gone(void)
{
	long i = 0, tries;

	for (tries = 0; tries < 20000; tries++) {
		while (i < norphans && kill(orphans[i], 0) < 0 && errno == ESRCH)
			i++;
		if (i == norphans)
			return 0;
		usleep(1000);
	}
	return 1;
}

static void
record(int fd, pid_t pid, long i)
{
	char line[64];
	int n, code = 0, sig = 0;

	orphans[norphans++] = pid;
	if (fd < 0)
		return;
	if (i % 4 == 3)
		sig = i % 8 == 3 ? SIGTERM : SIGKILL;
	else
		code = (int)(i % 100);
	n = snprintf(line, sizeof(line), "%ld %d %d\n", (long)pid, code, sig);
	if (write(fd, line, (size_t)n) != n)
		die(1, "write:");
}

int
main(int argc, char **argv)
{
	long long n, v;
	int c, fd = -1, direct = 0, quick = 0, p[2];
	long i;
	pid_t pid, grand;

	msg_init(argv[0]);
	while ((c = getopt(argc, argv, "+dl:o:tx")) != -1) {
		switch (c) {
		case 'd':
			direct = 1;
			break;
		case 'l':
			if (int_parse(optarg, 0, 1000000, &v) < 0)
				die(2, "bad -l");
			linger = (long)v;
			break;
		case 'o':
			fd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
			    O_CLOEXEC, 0644);
			if (fd < 0)
				die(1, "%s:", optarg);
			break;
		case 't':
			ignore_term = 1;
			break;
		case 'x':
			quick = 1;
			break;
		default:
			die(2, "usage: leaky [-o FILE] [-l MS] [-t] [-d] N");
		}
	}
	if (optind != argc - 1 || int_parse(argv[optind], 0, 100000, &n) < 0)
		die(2, "usage: leaky [-o FILE] [-l MS] [-t] [-d] N");
	signal(SIGCHLD, SIG_DFL);
	orphans = calloc((size_t)n + 1, sizeof(*orphans));
	if (orphans == NULL)
		die(1, "calloc:");
	if (ignore_term)
		signal(SIGTERM, SIG_IGN);
	for (i = 0; i < n; i++) {
		if (direct) {
			pid = fork();
			if (pid < 0)
				die(1, "fork:");
			if (pid == 0)
				child_end(i);
			record(fd, pid, i);
			continue;
		}
		/* The intermediate tells us the grandchild's pid, then
		 * exits; the grandchild waits for that exit before it ends,
		 * so it surely dies as an orphan. */
		if (pipe(p) < 0)
			die(1, "pipe:");
		pid = fork();
		if (pid < 0)
			die(1, "fork:");
		if (pid == 0) {
			pid_t mid = getpid();

			close(p[0]);
			grand = fork();
			if (grand == 0) {
				close(p[1]);
				while (getppid() == mid)
					usleep(200);
				child_end(i);
			}
			if (write(p[1], &grand, sizeof(grand)) < 0)
				_exit(1);
			_exit(0);
		}
		close(p[1]);
		if (read(p[0], &grand, sizeof(grand)) != sizeof(grand))
			die(1, "read:");
		close(p[0]);
		record(fd, grand, i);
	}
	return quick || direct ? 0 : wait_gone();
}
