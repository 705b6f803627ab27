/* recorder: write one line per signal received, for forwarding tests.
 *
 *   recorder [-o FILE] [-i] [-T] [-e SIG] [-f N] [TITLE-ARGS...]
 *
 * Every catchable signal is blocked and taken with sigwaitinfo, so none
 * is lost to a handler race and none ends the process. Each is written
 * as "NAME" (e.g. "TERM", "USR1", "RTMIN+3") on stdout, or appended to
 * FILE with -o (one write per line). "ready" is written once all signals
 * are set up. Operands are ignored (they let a test give the process a
 * unique title).
 * -i      ignore TERM (not recorded: it never arrives)
 * -T      prefix each line with monotonic milliseconds
 * -e SIG  exit 128+SIG after recording SIG
 * -f N    fork N children that record too, as "cK NAME" (K = 0..N-1);
 *         they die with the parent (PR_SET_PDEATHSIG). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "msg.h"
#include "parse.h"

static int out = STDOUT_FILENO;
static int stamp;

static void
put(const char *prefix, const char *text)
{
	char line[128];
	int n;

	if (stamp)
		n = snprintf(line, sizeof(line), "%lld %s%s\n",
		    (long long)(clock_mono() / NS_PER_MS), prefix, text);
	else
		n = snprintf(line, sizeof(line), "%s%s\n", prefix, text);
	if (write(out, line, (size_t)n) < 0 && errno == EPIPE)
		_exit(0);
}

static void
record_loop(const char *prefix, int exit_sig)
{
	char name[32];
	sigset_t all;
	int sig;

	sigfillset(&all);
	put(prefix, "ready");
	for (;;) {
		sig = sigwaitinfo(&all, NULL);
		if (sig < 0)
			continue;
		put(prefix, signal_name(sig, name, sizeof(name)));
		if (sig == exit_sig)
			_exit(128 + sig);
	}
}

int
main(int argc, char **argv)
{
	long long nkids = 0, k;
	int c, exit_sig = 0, ignore_term = 0;
	char prefix[32];
	sigset_t all;
	pid_t parent;

	msg_init(argv[0]);
	while ((c = getopt(argc, argv, "+e:f:io:T")) != -1) {
		switch (c) {
		case 'e':
			if (signal_parse(optarg, &exit_sig) < 0)
				die(2, "bad signal '%s'", optarg);
			break;
		case 'f':
			if (int_parse(optarg, 0, 100, &nkids) < 0)
				die(2, "bad -f");
			break;
		case 'i':
			ignore_term = 1;
			break;
		case 'o':
			out = open(optarg, O_WRONLY | O_CREAT | O_APPEND |
			    O_CLOEXEC, 0644);
			if (out < 0)
				die(1, "%s:", optarg);
			break;
		case 'T':
			stamp = 1;
			break;
		default:
			die(2, "usage: recorder [-o FILE] [-i] [-T] [-e SIG] [-f N]");
		}
	}
	sigfillset(&all);
	if (ignore_term) {
		signal(SIGTERM, SIG_IGN);
		sigdelset(&all, SIGTERM);
	}
	/* Faults must stay deliverable; everything else is recorded. */
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	sigprocmask(SIG_SETMASK, &all, NULL);
	parent = getpid();
	for (k = 0; k < nkids; k++) {
		pid_t pid = fork();

		if (pid < 0)
			die(1, "fork:");
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			snprintf(prefix, sizeof(prefix), "c%lld ", k);
			record_loop(prefix, exit_sig);
		}
	}
	record_loop("", exit_sig);
}
