/*
 * pqueue-bench: the C peers and drivers of bench/pqueue.sh (libc only, so
 * the day's lib/ refactors cannot change what it measures).
 *
 *   pqueue-bench sysv-stream N SIZE
 *       The SysV peer of a streamed push || pop: a producer process
 *       msgsnd()s N messages of SIZE bytes from one reused buffer while a
 *       consumer process msgrcv()s them into one reused buffer and writes
 *       each, plus a newline, to stdout through a 64 KiB buffer (a tight
 *       loop at its best). Prints nothing else.
 *   pqueue-bench sysv-push ID      lines of stdin -> msgsnd to queue ID,
 *                                  one message per line
 *   pqueue-bench sysv-pop ID       msgrcv from queue ID -> one write(2) of
 *                                  message + newline to stdout per message
 *   pqueue-bench sysv-new | sysv-rm ID
 *                                  make a private queue (prints its id) /
 *                                  remove it
 *   pqueue-bench path N GAP_US IN_CMD... -- [OUT_CMD...]
 *       Starts IN_CMD with stdin on a pipe and, if given, OUT_CMD with
 *       stdout on a pipe (else IN_CMD's stdout is read). Sends one warm-up
 *       line and waits for it, then N times: sleeps GAP_US, writes one
 *       line "i\n" to IN_CMD and waits until a line comes back on the
 *       output. Prints "median_us p99_us rate_per_s" of those round trips
 *       (the rate counts the gaps too: use GAP_US 0 for rates). Then
 *       closes IN_CMD's stdin, TERMs OUT_CMD by pid and waits for both
 *       (KILLs, and says so, a process still there 2 s after TERM). A
 *       reply missing for 10 s ends the run with an error.
 *   pqueue-bench fsync-echo FILE   each stdin line: write(2) it to FILE,
 *                                  fdatasync(FILE), then echo it to stdout
 *   pqueue-bench fsync-loop N FILE N times write 65 bytes + fdatasync;
 *                                  prints the rate per second
 *   pqueue-bench spawn N CMD [ARG]...
 *                                  mean wall time of running CMD N times
 *                                  one after the other, in microseconds
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sysv_msg {
	long type;
	char text[8192];
};

static long long
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int
sysv_stream(long n, size_t size)
{
	static struct sysv_msg m;
	static char out[65536];
	size_t fill = 0;
	ssize_t r;
	pid_t pid;
	long i;
	int id, st;

	if (size > sizeof(m.text))
		size = sizeof(m.text);
	if ((id = msgget(IPC_PRIVATE, 0600)) < 0) {
		perror("msgget");
		return 1;
	}
	if ((pid = fork()) == 0) {
		memset(m.text, 'x', size);
		m.type = 1;
		for (i = 0; i < n; i++)
			while (msgsnd(id, &m, size, 0) < 0)
				if (errno != EINTR)
					_exit(1);
		_exit(0);
	}
	for (i = 0; i < n; i++) {
		while ((r = msgrcv(id, &m, sizeof(m.text), 0, 0)) < 0)
			if (errno != EINTR)
				goto fail;
		if (fill + (size_t)r + 1 > sizeof(out)) {
			if (write_all(1, out, fill) < 0)
				goto fail;
			fill = 0;
		}
		memcpy(out + fill, m.text, (size_t)r);
		fill += (size_t)r;
		out[fill++] = '\n';
	}
	if (write_all(1, out, fill) < 0)
		goto fail;
	waitpid(pid, &st, 0);
	msgctl(id, IPC_RMID, NULL);
	return 0;
fail:
	perror("pqueue-bench sysv-stream");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	msgctl(id, IPC_RMID, NULL);
	return 1;
}

static int
sysv_push(int id)
{
	static struct sysv_msg m;
	static char buf[65536];
	size_t fill = 0, len;
	char *nl, *p;
	ssize_t r;

	m.type = 1;
	for (;;) {
		r = read(0, buf + fill, sizeof(buf) - fill);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0;
		fill += (size_t)r;
		p = buf;
		while ((nl = memchr(p, '\n', fill - (size_t)(p - buf)))) {
			len = (size_t)(nl - p);
			if (len > sizeof(m.text))
				len = sizeof(m.text);
			memcpy(m.text, p, len);
			while (msgsnd(id, &m, len, 0) < 0)
				if (errno != EINTR)
					return 1;
			p = nl + 1;
		}
		fill -= (size_t)(p - buf);
		memmove(buf, p, fill);
		if (fill == sizeof(buf))
			fill = 0;	/* an over-long line: dropped */
	}
}

static int
sysv_pop(int id)
{
	static struct sysv_msg m;
	ssize_t r;

	for (;;) {
		r = msgrcv(id, &m, sizeof(m.text) - 1, 0, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EIDRM || errno == EINVAL ? 0 : 1;
		m.text[r] = '\n';
		if (write_all(1, m.text, (size_t)r + 1) < 0)
			return 1;
	}
}

/* Start argv; its stdin from *to (if to) and its stdout to *from (if
 * from), both pipes. */
static pid_t
start(char **argv, int *to, int *from)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	pid_t pid;

	if ((to && pipe(in) < 0) || (from && pipe(out) < 0))
		return -1;
	if ((pid = fork()) == 0) {
		if (to) {
			dup2(in[0], 0);
			close(in[0]);
			close(in[1]);
		}
		if (from) {
			dup2(out[1], 1);
			close(out[0]);
			close(out[1]);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "pqueue-bench: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (to) {
		close(in[0]);
		*to = in[1];
	}
	if (from) {
		close(out[1]);
		*from = out[0];
	}
	return pid;
}

/* Read until a newline arrives on fd; 0, or -1 at EOF, error or after
 * 10 s without one. */
static int
read_line(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c[256];
	ssize_t r;

	for (;;) {
		if (poll(&p, 1, 10000) == 0) {
			fprintf(stderr, "pqueue-bench path: no reply in 10 s\n");
			return -1;
		}
		r = read(fd, c, sizeof(c));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (memchr(c, '\n', (size_t)r))
			return 0;
	}
}

/* TERM pid and wait for it; after 2 s say so and KILL it (a consumer
 * that misses a TERM would hang the benchmark). */
static void
stop(pid_t pid, const char *name)
{
	struct timespec tick = { 0, 10000000 };
	int i;

	kill(pid, SIGTERM);
	for (i = 0; i < 200; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "pqueue-bench path: %s (pid %ld) still running 2 s "
	    "after TERM; killed\n", name, (long)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int
path(long n, long gap_us, char **in_cmd, char **out_cmd)
{
	struct timespec gap = { gap_us / 1000000, (gap_us % 1000000) * 1000 };
	long long *lat, t, t0, total;
	int to, from;
	pid_t a, b = -1;
	char line[64];
	long i;
	int rc = 1, st;

	signal(SIGPIPE, SIG_IGN);
	if ((lat = calloc((size_t)n, sizeof(*lat))) == NULL)
		return 1;
	if (out_cmd[0] != NULL) {
		if ((b = start(out_cmd, NULL, &from)) < 0)
			return 1;
		a = start(in_cmd, &to, NULL);
	} else
		a = start(in_cmd, &to, &from);
	if (a < 0)
		return 1;
	/* Warm-up: both sides running and blocked. */
	if (write_all(to, "w\n", 2) < 0 || read_line(from) < 0) {
		fprintf(stderr, "pqueue-bench path: no warm-up reply\n");
		goto out;
	}
	total = 0;
	for (i = 0; i < n; i++) {
		if (gap_us > 0)
			nanosleep(&gap, NULL);
		snprintf(line, sizeof(line), "%ld\n", i);
		t = mono_ns();
		if (write_all(to, line, strlen(line)) < 0 || read_line(from) < 0) {
			fprintf(stderr, "pqueue-bench path: lost at %ld\n", i);
			goto out;
		}
		t0 = mono_ns();
		lat[i] = t0 - t;
		total += lat[i];
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_ll);
	printf("%.1f %.1f %.0f\n", (double)lat[n / 2] / 1e3,
	    (double)lat[n * 99 / 100] / 1e3, (double)n * 1e9 / (double)total);
	rc = 0;
out:
	if (rc != 0 && waitpid(a, &st, WNOHANG) == a) {
		fprintf(stderr, "pqueue-bench path: %s ended early: status %d, "
		    "signal %d\n", in_cmd[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		a = -1;
	}
	close(to);
	if (b > 0)
		stop(b, out_cmd[0]);
	else if (a > 0)
		stop(a, in_cmd[0]);
	if (a > 0)
		waitpid(a, NULL, 0);
	free(lat);
	return rc;
}

static int
fsync_echo(const char *file)
{
	static char buf[65536];
	size_t fill = 0;
	char *nl, *p;
	ssize_t r;
	int fd;

	if ((fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		perror(file);
		return 1;
	}
	for (;;) {
		r = read(0, buf + fill, sizeof(buf) - fill);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0;
		fill += (size_t)r;
		p = buf;
		while ((nl = memchr(p, '\n', fill - (size_t)(p - buf)))) {
			size_t len = (size_t)(nl - p) + 1;

			if (write_all(fd, p, len) < 0 || fdatasync(fd) < 0 ||
			    write_all(1, p, len) < 0)
				return 1;
			p = nl + 1;
		}
		fill -= (size_t)(p - buf);
		memmove(buf, p, fill);
		if (fill == sizeof(buf))
			fill = 0;
	}
}

static int
fsync_loop(long n, const char *file)
{
	char rec[65];
	long long t0;
	long i;
	int fd;

	memset(rec, 'x', sizeof(rec) - 1);
	rec[sizeof(rec) - 1] = '\n';
	if ((fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		perror(file);
		return 1;
	}
	t0 = mono_ns();
	for (i = 0; i < n; i++)
		if (write_all(fd, rec, sizeof(rec)) < 0 || fdatasync(fd) < 0) {
			perror(file);
			return 1;
		}
	printf("%.0f\n", (double)n * 1e9 / (double)(mono_ns() - t0));
	close(fd);
	return 0;
}

static int
spawn(long n, char **argv)
{
	long long t0 = mono_ns();
	pid_t pid;
	long i;
	int st;

	for (i = 0; i < n; i++) {
		if ((pid = fork()) == 0) {
			execvp(argv[0], argv);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			fprintf(stderr, "pqueue-bench: %s failed\n", argv[0]);
			return 1;
		}
	}
	printf("%.1f\n", (double)(mono_ns() - t0) / (double)n / 1e3);
	return 0;
}

int
main(int argc, char **argv)
{
	int i, id;

	if (argc >= 4 && strcmp(argv[1], "sysv-stream") == 0)
		return sysv_stream(atol(argv[2]), (size_t)atol(argv[3]));
	if (argc == 3 && strcmp(argv[1], "sysv-push") == 0)
		return sysv_push(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "sysv-pop") == 0)
		return sysv_pop(atoi(argv[2]));
	if (argc == 2 && strcmp(argv[1], "sysv-new") == 0) {
		if ((id = msgget(IPC_PRIVATE, 0600)) < 0) {
			perror("msgget");
			return 1;
		}
		printf("%d\n", id);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "sysv-rm") == 0)
		return msgctl(atoi(argv[2]), IPC_RMID, NULL) < 0;
	if (argc >= 6 && strcmp(argv[1], "path") == 0) {
		for (i = 4; i < argc && strcmp(argv[i], "--") != 0; i++)
			;
		if (i < argc && i > 4) {
			argv[i] = NULL;
			return path(atol(argv[2]), atol(argv[3]), argv + 4,
			    argv + i + 1);
		}
	}
	if (argc == 3 && strcmp(argv[1], "fsync-echo") == 0)
		return fsync_echo(argv[2]);
	if (argc == 4 && strcmp(argv[1], "fsync-loop") == 0)
		return fsync_loop(atol(argv[2]), argv[3]);
	if (argc >= 4 && strcmp(argv[1], "spawn") == 0)
		return spawn(atol(argv[2]), argv + 3);
	fprintf(stderr, "usage: pqueue-bench sysv-stream N SIZE | sysv-push ID | "
	    "sysv-pop ID | sysv-new | sysv-rm ID |\n"
	    "       path N GAP_US IN_CMD... -- [OUT_CMD...] | fsync-echo FILE | "
	    "fsync-loop N FILE | spawn N CMD...\n");
	return 2;
}
