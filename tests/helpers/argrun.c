/* argrun: run a command with a time limit and say how it ended, for the
 * argument fuzzer (tests/argfuzz.bash).
 *
 *   argrun REPORT LIMIT GRACE -- COMMAND [ARG]...
 *
 * Runs COMMAND (stdio inherited). If it is still running after LIMIT
 * seconds it gets SIGTERM, and SIGKILL after GRACE more seconds. Then
 * writes one line to the file REPORT:
 *   exit N | signal N, then "term" if it was sent SIGTERM, "kill" if it
 *   needed SIGKILL, cpu_ms=N (user+system of COMMAND and the children it
 *   waited for) and wall_ms=N.
 * Exits 0 when the report was written, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait for pid until deadline (ms, monotonic). 1 when it ended, 0 when
 * the deadline passed. SIGCHLD is blocked, so no wakeup is lost. */
static int
wait_until(pid_t pid, long long deadline, const sigset_t *chld,
    int *status, struct rusage *ru)
{
	struct timespec ts;
	long long left;
	pid_t r;

	for (;;) {
		r = wait4(pid, status, WNOHANG, ru);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR) {
			perror("argrun: wait4");
			exit(1);
		}
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		sigtimedwait(chld, NULL, &ts);
	}
}

int
main(int argc, char **argv)
{
	sigset_t chld, old;
	struct rusage ru;
	long long start, limit, grace, cpu;
	int status = 0, term = 0, killed = 0;
	pid_t pid;
	FILE *f;

	if (argc < 6 || strcmp(argv[4], "--") != 0) {
		fprintf(stderr, "usage: argrun REPORT LIMIT GRACE -- COMMAND...\n");
		return 1;
	}
	limit = (long long)(atof(argv[2]) * 1000);
	grace = (long long)(atof(argv[3]) * 1000);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	start = now_ms();
	if ((pid = fork()) < 0) {
		perror("argrun: fork");
		return 1;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[5], argv + 5);
		fprintf(stderr, "argrun: %s: %s\n", argv[5], strerror(errno));
		_exit(127);
	}
	memset(&ru, 0, sizeof(ru));
	if (!wait_until(pid, start + limit, &chld, &status, &ru)) {
		term = 1;
		kill(pid, SIGTERM);
		if (!wait_until(pid, now_ms() + grace, &chld, &status, &ru)) {
			killed = 1;
			kill(pid, SIGKILL);
			wait_until(pid, now_ms() + 60000, &chld, &status, &ru);
		}
	}
	cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000LL +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	if ((f = fopen(argv[1], "w")) == NULL) {
		perror("argrun: report");
		return 1;
	}
	if (WIFSIGNALED(status))
		fprintf(f, "signal %d", WTERMSIG(status));
	else
		fprintf(f, "exit %d", WEXITSTATUS(status));
	fprintf(f, "%s%s cpu_ms=%lld wall_ms=%lld\n", term ? " term" : "",
	    killed ? " kill" : "", cpu, now_ms() - start);
	return fclose(f) == 0 ? 0 : 1;
}
