/* titled: a test process with an exact title.
 *
 *   titled [-r FILE] [-i SIG]... [-d DELAY] [-p PIDFILE] TITLE
 *
 * Sets its own title to TITLE with lib/title, then waits for signals
 * (all blocked, taken with sigwaitinfo, so nothing runs in a handler):
 *   -r FILE   append each signal's name ("HUP", "TERM") as a line to FILE,
 *             before acting on it;
 *   -i SIG    ignore SIG (it is still reported); repeatable;
 *   -d DELAY  on a terminating signal, exit 0 after DELAY instead of at
 *             once (a slow graceful shutdown);
 *   -p FILE   write the pid to FILE once the title is set.
 * A terminating signal that is neither ignored nor delayed kills it with
 * that signal's default action, as it would an ordinary program. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "msg.h"
#include "parse.h"
#include "title.h"

static const char *report_path;
static sigset_t ignored;
static int64_t delay = -1;

static void
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: %s [-r FILE] [-i SIG]... "
	    "[-d DELAY] [-p PIDFILE] TITLE\n", msg_prog());
	exit(status);
}

static void
report(int sig)
{
	char name[32], line[40];
	int fd, n;

	if (report_path == NULL)
		return;
	n = snprintf(line, sizeof(line), "%s\n",
	    signal_name(sig, name, sizeof(name)));
	fd = open(report_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || io_write_all(fd, line, (size_t)n) < 0)
		warn("%s:", report_path);
	if (fd >= 0)
		close(fd);
}

static void
write_pidfile(const char *path)
{
	char tmp[4096], line[32];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || io_write_all(fd, line, (size_t)n) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0)
		die(1, "%s:", path);
}

/* Signals whose default action does not end the process. */
static int
harmless(int sig)
{
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG ||
	    sig == SIGWINCH || sig == SIGTSTP || sig == SIGTTIN ||
	    sig == SIGTTOU || sig == SIGSTOP;
}

static void
act(int sig)
{
	sigset_t one;

	report(sig);
	if (sigismember(&ignored, sig) || harmless(sig))
		return;
	if (delay >= 0) {
		clock_sleep_until(clock_mono() + delay, 0);
		exit(0);
	}
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	raise(sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	exit(128 + sig);
}

int
main(int argc, char **argv)
{
	const char *pidfile = NULL;
	sigset_t all;
	int c, sig;

	msg_init(argv[0]);
	title_init(argc, argv);
	sigemptyset(&ignored);
	while ((c = getopt(argc, argv, "+d:hi:p:r:")) != -1) {
		switch (c) {
		case 'd':
			if (duration_parse(optarg, &delay) < 0)
				die(2, "bad delay '%s'", optarg);
			break;
		case 'h':
			usage(0);
			break;
		case 'i':
			if (signal_parse(optarg, &sig) < 0 || sig == 0)
				die(2, "bad signal '%s'", optarg);
			sigaddset(&ignored, sig);
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'r':
			report_path = optarg;
			break;
		default:
			usage(2);
		}
	}
	if (argc - optind != 1)
		usage(2);
	/* Copy what we keep: title_set overwrites the argv strings. */
	if ((report_path != NULL && (report_path = strdup(report_path)) ==
	    NULL) || (pidfile != NULL && (pidfile = strdup(pidfile)) == NULL))
		die(1, "strdup:");
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (title_set("%s", argv[optind]) < 0)
		die(1, "title_set:");
	if (pidfile != NULL)
		write_pidfile(pidfile);
	for (;;) {
		if ((sig = sigwaitinfo(&all, NULL)) < 0) {
			if (errno == EINTR)
				continue;
			die(1, "sigwaitinfo:");
		}
		act(sig);
	}
}
