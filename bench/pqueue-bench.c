/*
 * pqueue-bench: the measuring half of bench/pqueue.sh.
 *
 *   pqueue-bench sysv N SIZE          msgsnd producer || msgrcv consumer of
 *                                     N messages of SIZE bytes; msgs/s
 *   pqueue-bench sysv-wake N          msgsnd -> blocked msgrcv latency
 *   pqueue-bench spawn N CMD [ARG]... mean wall time of running CMD N times
 *   pqueue-bench wake N PQUEUE QUEUE  latency from a line written to a
 *                                     running `pqueue push QUEUE` to its
 *                                     arrival from a blocked `pqueue pop -f`
 *
 * Latencies print as "median p99" in microseconds.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"

struct sysv_msg {
	long type;
	char text[8192];
};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
print_lat(int64_t *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	printf("%.1f %.1f\n", (double)v[n / 2] / 1e3,
	    (double)v[n * 99 / 100] / 1e3);
}

static int
bench_sysv(long n, size_t size)
{
	struct sysv_msg m;
	int64_t t0, t1;
	pid_t pid;
	long i;
	int id, st;

	if (size > sizeof(m.text))
		size = sizeof(m.text);
	if ((id = msgget(IPC_PRIVATE, 0600)) < 0) {
		perror("msgget");
		return 1;
	}
	memset(m.text, 'x', size);
	t0 = clock_mono();
	if ((pid = fork()) == 0) {
		for (i = 0; i < n; i++)
			if (msgrcv(id, &m, sizeof(m.text), 0, 0) < 0 &&
			    errno != EINTR)
				_exit(1);
		_exit(0);
	}
	m.type = 1;
	for (i = 0; i < n; i++)
		while (msgsnd(id, &m, size, 0) < 0)
			if (errno != EINTR) {
				perror("msgsnd");
				return 1;
			}
	waitpid(pid, &st, 0);
	t1 = clock_mono();
	msgctl(id, IPC_RMID, NULL);
	printf("%.0f\n", (double)n * 1e9 / (double)(t1 - t0));
	return 0;
}

static int
bench_sysv_wake(long n)
{
	struct sysv_msg m;
	int64_t *lat, sent;
	int id, back;
	pid_t pid;
	long i;

	id = msgget(IPC_PRIVATE, 0600);
	back = msgget(IPC_PRIVATE, 0600);
	if (id < 0 || back < 0)
		return 1;
	lat = calloc((size_t)n, sizeof(*lat));
	if ((pid = fork()) == 0) {
		/* Stamp the arrival time and send it back. */
		for (i = 0; i < n; i++) {
			if (msgrcv(id, &m, sizeof(m.text), 0, 0) < 0)
				_exit(1);
			sent = clock_mono();
			memcpy(m.text + 8, &sent, 8);
			msgsnd(back, &m, 16, 0);
		}
		_exit(0);
	}
	m.type = 1;
	for (i = 0; i < n; i++) {
		usleep(2000);	/* let the consumer block first */
		sent = clock_mono();
		memcpy(m.text, &sent, 8);
		msgsnd(id, &m, 16, 0);
		msgrcv(back, &m, sizeof(m.text), 0, 0);
		memcpy(&lat[i], m.text + 8, 8);
		lat[i] -= sent;
	}
	waitpid(pid, NULL, 0);
	msgctl(id, IPC_RMID, NULL);
	msgctl(back, IPC_RMID, NULL);
	print_lat(lat, n);
	free(lat);
	return 0;
}

static int
bench_spawn(long n, char **argv)
{
	int64_t t0;
	pid_t pid;
	long i;
	int st;

	t0 = clock_mono();
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
	printf("%.1f\n", (double)(clock_mono() - t0) / (double)n / 1e3);
	return 0;
}

/* Start argv with stdin and/or stdout on pipes. */
static pid_t
start(char **argv, int *to, int *from)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe(in) < 0 || pipe(out) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
	return pid;
}

static int
bench_wake(long n, char *pq, char *queue)
{
	char s_push[] = "push", s_pop[] = "pop", s_f[] = "-f";
	char *push[] = { pq, s_push, queue, NULL };
	char *pop[] = { pq, s_pop, s_f, queue, NULL };
	int push_in, push_out, pop_in, pop_out;
	pid_t a, b;
	int64_t *lat, t;
	char line[64];
	long i;

	lat = calloc((size_t)n, sizeof(*lat));
	b = start(pop, &pop_in, &pop_out);
	a = start(push, &push_in, &push_out);
	if (a < 0 || b < 0)
		return 1;
	usleep(200000);
	for (i = 0; i < n; i++) {
		usleep(2000);	/* the popper is blocked again by now */
		snprintf(line, sizeof(line), "%ld\n", i);
		t = clock_mono();
		io_write_all(push_in, line, strlen(line));
		if (read(pop_out, line, sizeof(line)) <= 0)
			return 1;
		lat[i] = clock_mono() - t;
	}
	close(push_in);
	kill(b, SIGTERM);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	print_lat(lat, n);
	free(lat);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "sysv") == 0)
		return bench_sysv(atol(argv[2]), (size_t)atol(argv[3]));
	if (argc >= 3 && strcmp(argv[1], "sysv-wake") == 0)
		return bench_sysv_wake(atol(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "spawn") == 0)
		return bench_spawn(atol(argv[2]), argv + 3);
	if (argc >= 5 && strcmp(argv[1], "wake") == 0)
		return bench_wake(atol(argv[2]), argv[3], argv[4]);
	fprintf(stderr, "usage: pqueue-bench sysv N SIZE | sysv-wake N | "
	    "spawn N CMD... | wake N PQUEUE QUEUE\n");
	return 2;
}
