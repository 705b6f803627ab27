/* qrun: one attempt of pqueue run's COMMAND, and the retry wait. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "qrun.h"
#include "spawn.h"

static int
set_env_num(const char *name, unsigned long long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%llu", v);
	return setenv(name, s, 1);
}

/* Keep the last QRUN_TAIL bytes of COMMAND's stderr. */
static void
tail_add(struct qrun *r, const char *b, size_t n)
{
	buf_tail_add(r->tail, &r->tail_len, QRUN_TAIL, b, n);
}

/* COMMAND's stderr (non-blocking): relay what is there to ours, keep
 * its tail. */
static void
on_stderr(struct loop *l, int fd, int events, void *arg)
{
	struct qrun *r = arg;
	char b[4096];
	ssize_t n;

	(void)events;
	while ((n = read(fd, b, sizeof(b))) > 0) {
		(void)io_write_all(STDERR_FILENO, b, (size_t)n);
		tail_add(r, b, (size_t)n);
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		r->err_eof = 1;
		loop_fd(l, fd, 0, NULL, NULL);
	}
}

static int
fail(struct qrun *r, const char *what, int *ws, int fd)
{
	int e = errno;

	if (fd >= 0) {
		loop_fd(r->loop, fd, 0, NULL, NULL);
		close(fd);
	}
	r->failed = what;
	*ws = -1;
	errno = e;
	return -1;
}

int
qrun_one(struct qrun *r, char *const argv[], const char *queue,
    uint64_t id, uint32_t attempt, int in, int *ws)
{
	struct spawn_opts so;
	int fds[2];
	pid_t pid, w;

	if (set_env_num("PQUEUE_ID", id) < 0 ||
	    set_env_num("PQUEUE_ATTEMPT", attempt) < 0 ||
	    setenv("PQUEUE_QUEUE", queue, 1) < 0)
		return fail(r, "setenv", ws, -1);
	if (pipe(fds) < 0)
		return fail(r, "pipe", ws, -1);
	if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		close(fds[1]);
		return fail(r, "pipe", ws, fds[0]);
	}
	memset(&so, 0, sizeof(so));
	so.in = in;
	so.out = -1;
	so.err = fds[1];
	/* If we die, the lease goes back and another runner takes the
	 * message: this run must not go on beside it. */
	so.pdeathsig = SIGKILL;
	pid = spawn_start(argv, &so);
	close(fds[1]);
	if (pid < 0) {
		*ws = spawn_exec_status(errno);
		close(fds[0]);
		return -1;
	}
	r->tail_len = 0;
	r->err_eof = 0;
	if (loop_fd(r->loop, fds[0], LOOP_IN, on_stderr, r) < 0)
		return fail(r, "loop", ws, fds[0]);
	/* SIGCHLD is routed to the loop: an exit between the waitpid and
	 * the ppoll is seen by the ppoll. */
	while ((w = waitpid(pid, ws, WNOHANG)) != pid) {
		if (w < 0 && errno != EINTR)
			return fail(r, "waitpid", ws, fds[0]);
		if (w <= 0 && loop_once(r->loop) < 0)
			return fail(r, "loop", ws, fds[0]);
	}
	if (!r->err_eof)
		on_stderr(r->loop, fds[0], LOOP_IN, r);	/* what is left */
	loop_fd(r->loop, fds[0], 0, NULL, NULL);
	close(fds[0]);
	return 0;
}

int64_t
qrun_retry_wait(int64_t delay, int64_t max, uint32_t attempt)
{
	int64_t d = delay;
	uint32_t i;

	if (d <= 0)
		return 0;
	for (i = 1; i < attempt && d < max; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	if (d > max)
		d = max;
	return d - d / 10 + (int64_t)((double)(d / 5) *
	    ((double)random() / RAND_MAX));
}
