/* looptest: unit checks of lib/spawn and lib/loop, driven by
 * tests/spawn-loop.bats. Each subcommand prints what it observed.
 *
 *   looptest exec-fail CMD...        spawn CMD; print "errno STATUS"
 *   looptest argv0 ARGV0 CMD...      spawn CMD with argv[0] = ARGV0; wait;
 *                                    exit with its status
 *   looptest fds                     spawn "looptest listfds" with two
 *                                    passed fds swapped and stdout set
 *   looptest listfds                 print "FD TARGET" for each open fd
 *   looptest sigstate                spawn "looptest showsig" after
 *                                    ignoring PIPE, HUP, 32 and 33 and
 *                                    blocking USR2
 *   looptest showsig                 print SigBlk and SigIgn lines
 *   looptest timers                  print the timer firing order
 *   looptest signal                  route USR1 and CHLD (inherited
 *                                    SIG_IGN), print what arrives */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "msg.h"
#include "spawn.h"

static char self[4096];

static int
wait_child(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 125;
	return spawn_wait_status(st);
}

static int
cmd_exec_fail(char **argv)
{
	pid_t pid = spawn_start(argv, NULL);
	int e, st, unreaped;

	if (pid > 0) {
		printf("started %d\n", wait_child(pid));
		return 0;
	}
	e = errno;
	/* The failed child must already be reaped: no child is left. */
	unreaped = !(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD);
	printf("%s %d%s\n", strerror(e), spawn_exec_status(e),
	    unreaped ? " unreaped" : "");
	return 0;
}

static int
cmd_argv0(char **argv)
{
	struct spawn_opts o = { .in = -1, .out = -1, .err = -1 };
	pid_t pid;

	o.argv0 = argv[0];
	pid = spawn_start(argv + 1, &o);
	if (pid < 0)
		die(spawn_exec_status(errno), "cannot run '%s':", argv[1]);
	return wait_child(pid);
}

static int
cmd_listfds(void)
{
	char path[300], target[4096];
	struct dirent *e;
	DIR *d;
	ssize_t n;

	d = opendir("/proc/self/fd");
	if (d == NULL)
		die(1, "/proc/self/fd:");
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		fprintf(stderr, "%s %s\n", e->d_name, target);
	}
	closedir(d);
	return 0;
}

static int
cmd_fds(void)
{
	struct spawn_opts o = { .in = -1, .out = -1, .err = -1 };
	char *argv[] = { self, (char *)"listfds", NULL };
	int a, b, junk, pass[2];
	pid_t pid;

	/* a and b land on 3 and 4 (the test starts us with only 0-2);
	 * passing {b, a} makes each source sit on the other's target. */
	a = open("a", O_RDONLY | O_CREAT, 0644);
	b = open("b", O_RDONLY | O_CREAT, 0644);
	junk = open("junk", O_RDONLY | O_CREAT, 0644);	/* not CLOEXEC */
	if (a < 0 || b < 0 || junk < 0)
		die(1, "open:");
	pass[0] = b;
	pass[1] = a;
	o.pass = pass;
	o.npass = 2;
	o.err = open("out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	pid = spawn_start(argv, &o);
	if (pid < 0)
		die(1, "spawn:");
	return wait_child(pid);
}

static int
cmd_sigstate(void)
{
	char *argv[] = { self, (char *)"showsig", NULL };
	sigset_t s;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
#ifdef SYS_rt_sigaction
	{
		/* glibc's own signals (32, 33): only the raw call can ignore
		 * them, as some callers (make, here) pass them on ignored. */
		static unsigned long ign[16];
		int sig;

		ign[0] = (unsigned long)SIG_IGN;
		for (sig = 32; sig < SIGRTMIN; sig++)
			(void)syscall(SYS_rt_sigaction, sig, ign, NULL,
			    (NSIG - 1) / 8);
	}
#endif
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	pid = spawn_start(argv, NULL);
	if (pid < 0)
		die(1, "spawn:");
	return wait_child(pid);
}

static int
cmd_showsig(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		die(1, "status:");
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "SigBlk:", 7) == 0 ||
		    strncmp(line, "SigIgn:", 7) == 0)
			fputs(line, stdout);
	fclose(f);
	return 0;
}

static int64_t t0;
static long cancelled;

static void
on_timer(struct loop *l, void *arg)
{
	const char *name = arg;

	printf("%s\n", name);
	if (strcmp(name, "t20") == 0) {
		/* Add during dispatch, in the past: fires next round. */
		loop_timer(l, t0, on_timer, (void *)"added");
		loop_timer_cancel(l, cancelled);
	}
	if (strcmp(name, "t40") == 0)
		loop_stop(l);
}

static int
cmd_timers(void)
{
	struct loop *l = loop_new();
	int64_t start, el;

	if (l == NULL)
		die(1, "loop:");
	t0 = start = clock_mono();
	loop_timer(l, t0 + 40 * NS_PER_MS, on_timer, (void *)"t40");
	loop_timer(l, t0 + 10 * NS_PER_MS, on_timer, (void *)"t10");
	cancelled = loop_timer(l, t0 + 30 * NS_PER_MS, on_timer,
	    (void *)"t30");
	loop_timer(l, t0 + 20 * NS_PER_MS, on_timer, (void *)"t20");
	loop_timer(l, t0 + 10 * NS_PER_MS, on_timer, (void *)"t10b");
	if (loop_run(l) < 0)
		die(1, "loop_run:");
	el = clock_mono() - start;
	printf("elapsed_ok %d\n", el >= 40 * NS_PER_MS);
	loop_free(l);
	return 0;
}

static int got_usr1, got_chld;

static void
on_signal(struct loop *l, int sig, void *arg)
{
	int st;
	pid_t pid;

	(void)arg;
	if (sig == SIGUSR1) {
		printf("USR1\n");
		got_usr1 = 1;
	} else if (sig == SIGCHLD) {
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			printf("CHLD status %d\n", spawn_wait_status(st));
		got_chld = 1;
	}
	if (got_usr1 && got_chld)
		loop_stop(l);
}

static int
cmd_signal(void)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)"exit 3", NULL };
	struct loop *l = loop_new();

	if (l == NULL)
		die(1, "loop:");
	signal(SIGCHLD, SIG_IGN);	/* as a careless caller leaves it */
	if (loop_signal(l, SIGUSR1, on_signal, NULL) < 0 ||
	    loop_signal(l, SIGCHLD, on_signal, NULL) < 0)
		die(1, "loop_signal:");
	if (spawn_start(argv, NULL) < 0)
		die(1, "spawn:");
	kill(getpid(), SIGUSR1);
	if (loop_run(l) < 0)
		die(1, "loop_run:");
	fflush(stdout);
	loop_free(l);
	return 0;
}

int
main(int argc, char **argv)
{
	ssize_t n;

	msg_init(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die(1, "/proc/self/exe:");
	self[n] = '\0';
	if (argc < 2)
		die(2, "usage: looptest SUBCOMMAND [ARG]...");
	if (strcmp(argv[1], "exec-fail") == 0 && argc > 2)
		return cmd_exec_fail(argv + 2);
	if (strcmp(argv[1], "argv0") == 0 && argc > 3)
		return cmd_argv0(argv + 2);
	if (strcmp(argv[1], "fds") == 0)
		return cmd_fds();
	if (strcmp(argv[1], "listfds") == 0)
		return cmd_listfds();
	if (strcmp(argv[1], "sigstate") == 0)
		return cmd_sigstate();
	if (strcmp(argv[1], "showsig") == 0)
		return cmd_showsig();
	if (strcmp(argv[1], "timers") == 0)
		return cmd_timers();
	if (strcmp(argv[1], "signal") == 0)
		return cmd_signal();
	die(2, "unknown subcommand '%s'", argv[1]);
}
