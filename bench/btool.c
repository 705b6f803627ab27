/*
 * btool: small measuring tools for the bench scripts (self-contained: libc only,
 * so the lib/ refactors of the day cannot change what it measures).
 *
 *   btool time CMD [ARG]...        run CMD, print its wall time in seconds
 *   btool rss CMD [ARG]...         run CMD with stdout on /dev/null, print
 *                                  its peak RSS in KiB (ru_maxrss from
 *                                  wait4: the largest of CMD and the
 *                                  descendants it waited for)
 *   btool both CMD [ARG]...        print "SECONDS PEAK_RSS_KIB"
 *   btool titled N PREFIX -- CMD [ARG]...
 *                                  start CMD (e.g. prefork -n N -t PREFIX),
 *                                  poll /proc every 200 us until N
 *                                  processes have an argv[0] of PREFIX-<digit>...,
 *                                  print the seconds that took; then TERM
 *                                  CMD by pid and wait for it
 *   btool forkn N PREFIX -- CMD [ARG]...
 *                                  fork N children at once, each execs CMD
 *                                  with argv[0] PREFIX-i; the same poll and
 *                                  figure; then KILL each child by pid
 *   btool scan TITLE               a bare /proc scan: read every
 *                                  /proc/PID/cmdline once, print how many
 *                                  have argv[0] == TITLE
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t
run(char **argv, const char *argv0, int quiet)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *a0 = argv[0];
		int fd;

		if (quiet && (fd = open("/dev/null", O_WRONLY)) >= 0) {
			dup2(fd, 1);
			close(fd);
		}

		if (argv0 != NULL)
			argv[0] = (char *)argv0;
		execvp(a0, argv);
		fprintf(stderr, "btool: exec %s: %s\n", a0, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* argv[0] of /proc/NAME/cmdline into buf; its length, or -1. */
static ssize_t
argv0_of(const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (ssize_t)strlen(buf);
}

/* Processes whose argv[0] is PREFIX-<digit>... */
static long
count_prefixed(const char *prefix)
{
	size_t plen = strlen(prefix);
	struct dirent *e;
	char buf[512];
	long n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (argv0_of(e->d_name, buf, sizeof(buf)) <= (ssize_t)plen + 1)
			continue;
		if (strncmp(buf, prefix, plen) == 0 && buf[plen] == '-' &&
		    buf[plen + 1] >= '0' && buf[plen + 1] <= '9')
			n++;
	}
	closedir(d);
	return n;
}

static int
wait_titled(long n, const char *prefix, double t0, double *took)
{
	struct timespec gap = { 0, 200000 };

	while (count_prefixed(prefix) < n) {
		if (mono() - t0 > 60) {
			fprintf(stderr, "btool: %ld %s-* never appeared\n", n,
			    prefix);
			return -1;
		}
		nanosleep(&gap, NULL);
	}
	*took = mono() - t0;
	return 0;
}

static int
cmd_titled(long n, const char *prefix, char **argv)
{
	double t0 = mono(), took;
	pid_t pid = run(argv, NULL, 0);
	int st, rc;

	if (pid < 0)
		return 1;
	rc = wait_titled(n, prefix, t0, &took);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	if (rc < 0)
		return 1;
	printf("%.6f\n", took);
	return 0;
}

static int
cmd_forkn(long n, const char *prefix, char **argv)
{
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	char argv0[256];
	double t0, took;
	long i;
	int rc;

	if (pids == NULL)
		return 1;
	t0 = mono();
	for (i = 0; i < n; i++) {
		snprintf(argv0, sizeof(argv0), "%s-%ld", prefix, i);
		pids[i] = run(argv, argv0, 0);
	}
	rc = wait_titled(n, prefix, t0, &took);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	free(pids);
	if (rc < 0)
		return 1;
	printf("%.6f\n", took);
	return 0;
}

static int
cmd_scan(const char *title)
{
	struct dirent *e;
	char buf[512];
	long n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (argv0_of(e->d_name, buf, sizeof(buf)) >= 0 &&
		    strcmp(buf, title) == 0)
			n++;
	}
	closedir(d);
	printf("%ld\n", n);
	return n > 0 ? 0 : 1;
}

static int
cmd_run(char **argv, int want_rss)
{
	struct rusage ru;
	double t0 = mono();
	pid_t pid = run(argv, NULL, want_rss == 1);
	int st;

	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0)
		return 1;
	if (want_rss == 2)
		printf("%.6f %ld\n", mono() - t0, ru.ru_maxrss);
	else if (want_rss)
		printf("%ld\n", ru.ru_maxrss);
	else
		printf("%.6f\n", mono() - t0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "btool: %s failed\n", argv[0]);
		return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: btool time|rss|both CMD... | titled N PREFIX -- CMD... | "
	    "forkn N PREFIX -- CMD... | scan TITLE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (strcmp(argv[1], "time") == 0)
		return cmd_run(argv + 2, 0);
	if (strcmp(argv[1], "rss") == 0)
		return cmd_run(argv + 2, 1);
	if (strcmp(argv[1], "both") == 0)
		return cmd_run(argv + 2, 2);
	if (strcmp(argv[1], "scan") == 0)
		return cmd_scan(argv[2]);
	if (argc >= 6 && strcmp(argv[4], "--") == 0) {
		if (strcmp(argv[1], "titled") == 0)
			return cmd_titled(atol(argv[2]), argv[3], argv + 5);
		if (strcmp(argv[1], "forkn") == 0)
			return cmd_forkn(atol(argv[2]), argv[3], argv + 5);
	}
	usage();
	return 2;
}
