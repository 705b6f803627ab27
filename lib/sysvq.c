/* sysvq: the System V side of pqueue. Everything that names or moves a
 * SysV message lives here; what goes wrong is said through the caller's
 * callback, never printed here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "qshow.h"
#include "sysvq.h"

#define TICK_NS (5 * NS_PER_MS)	/* the repeat of the deadline timer */

static int
num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;
	int neg = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0' || *s == '+' || *s == '-' || *s == ' ')
		return -1;
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		v = strtoll(s + 2, &end, 16);
	else
		v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || end == s)
		return -1;
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
sysvq_parse(const char *spec, int for_push, struct sysvq *q,
    const char *why[2])
{
	char buf[PATH_MAX];
	char *p, *at, *colon;
	long long v;

	why[0] = NULL;
	why[1] = "";
	q->id = -1;
	snprintf(buf, sizeof(buf), "%s", spec + 5);
	q->type = for_push ? 1 : 0;
	at = strrchr(buf, '@');
	colon = strrchr(at ? at : buf, ':');
	if (colon != NULL) {
		*colon = '\0';
		if (num(colon + 1, for_push ? 1 : -LONG_MAX, LONG_MAX,
		    &v) < 0) {
			why[0] = "bad TYPE";
			why[1] = for_push ? " (a number > 0)" : " (a number)";
			return -1;
		}
		q->type = (long)v;
	}
	if (at != NULL) {
		*at = '\0';
		p = at + 1;
		if (p[0] != '\0' && p[1] == '\0')
			v = (unsigned char)p[0];
		else if (num(p, 1, 255, &v) < 0) {
			why[0] = "bad PROJ";
			why[1] = " (one character or 1-255)";
			return -1;
		}
		if (buf[0] == '\0') {
			why[0] = "no PATH before @";
			return -1;
		}
		if ((q->key = ftok(buf, (int)v)) == (key_t)-1)
			return -1;
		return 0;
	}
	if (num(buf, INT_MIN, UINT_MAX, &v) < 0) {
		why[0] = "bad KEY";
		why[1] = " (decimal, 0x hex, or PATH@PROJ)";
		return -1;
	}
	q->key = (key_t)(int)(unsigned)v;
	if (q->key == IPC_PRIVATE) {
		why[0] = "bad KEY";
		why[1] = " (0 is IPC_PRIVATE, a queue nobody else can reach)";
		return -1;
	}
	return 0;
}

int
sysvq_get(struct sysvq *q, int create)
{
	q->id = msgget(q->key, create ? IPC_CREAT | 0600 : 0);
	return q->id < 0 ? -1 : 0;
}

long
sysvq_msgmax(void)
{
	char *s;
	long v = 8192;

	if (io_read_file(AT_FDCWD, "/proc/sys/kernel/msgmax", &s, NULL) == 0) {
		v = atol(s);
		free(s);
	}
	return v > 0 ? v : 8192;
}

static int
grow(char **buf, size_t *cap, size_t len)
{
	char *p;

	if (*buf != NULL && *cap >= len)
		return 0;
	if ((p = realloc(*buf, sizeof(long) + len)) == NULL)
		return -1;
	*buf = p;
	*cap = len;
	return 0;
}

int
sysvq_send(const struct sysvq *q, char **buf, size_t *cap,
    const void *data, size_t len)
{
	if (grow(buf, cap, len) < 0)
		return -1;
	memcpy(*buf, &q->type, sizeof(long));
	memcpy(*buf + sizeof(long), data, len);
	while (msgsnd(q->id, *buf, len, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static void
on_tick(int sig)
{
	(void)sig;
}

static void
timer_set(int64_t first, int64_t every)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = first / NS_PER_SEC;
	it.it_value.tv_usec = (first % NS_PER_SEC) / NS_PER_US;
	if (first > 0 && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1;
	it.it_interval.tv_sec = every / NS_PER_SEC;
	it.it_interval.tv_usec = (every % NS_PER_SEC) / NS_PER_US;
	setitimer(ITIMER_REAL, &it, NULL);
}

ssize_t
sysvq_recv(const struct sysvq *q, char **buf, size_t *cap,
    int64_t deadline)
{
	struct sigaction sa, old;
	sigset_t alrm, oldmask;
	int64_t left;
	ssize_t n;
	int e, flags, timed = deadline > 0;

	if (*buf == NULL && grow(buf, cap, (size_t)sysvq_msgmax()) < 0)
		return -1;
	if (timed) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_tick;  /* no SA_RESTART: msgrcv gets EINTR */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, &old);
		sigemptyset(&alrm);
		sigaddset(&alrm, SIGALRM);
		sigprocmask(SIG_UNBLOCK, &alrm, &oldmask);
	}
	for (;;) {
		flags = deadline == 0 ? IPC_NOWAIT : 0;
		if (timed && (left = deadline - clock_mono()) <= 0)
			flags = IPC_NOWAIT;	/* one last look */
		else if (timed)
			timer_set(left, TICK_NS);
		n = msgrcv(q->id, *buf, *cap, q->type, flags);
		if (n >= 0)
			break;
		if (errno == E2BIG) {
			if (grow(buf, cap, *cap * 2) < 0)
				break;
			continue;
		}
		if (errno != EINTR || flags == IPC_NOWAIT)
			break;
	}
	if (timed) {
		e = errno;
		timer_set(0, 0);
		sigaction(SIGALRM, &old, NULL);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		errno = e;
	}
	return n;
}

int
sysvq_stat(const struct sysvq *q, unsigned long *n, unsigned long *bytes,
    unsigned long *cap)
{
	struct msqid_ds ds;

	if (msgctl(q->id, IPC_STAT, &ds) < 0)
		return -1;
	*n = (unsigned long)ds.msg_qnum;
	*bytes = (unsigned long)ds.__msg_cbytes;
	*cap = (unsigned long)ds.msg_qbytes;
	return 0;
}

struct say {
	void (*fn)(void *, int, const char *);
	void *arg;
};

static void
say(const struct say *s, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report_v(void (*fn)(void *, int, const char *), void *arg, int errnum,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
report_v(void (*fn)(void *, int, const char *), void *arg, int errnum,
    const char *fmt, va_list ap)
{
	char text[PATH_MAX + 256];

	if (fn == NULL)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	fn(arg, errnum, text);
}

static void
say(const struct say *s, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(s->fn, s->arg, errnum, fmt, ap);
	va_end(ap);
}

int
sysvq_push_input(struct sysvq *q, const char *name, char **msgs, int n,
    int fd, int delim, uint64_t max,
    void (*report)(void *arg, int errnum, const char *text), void *arg)
{
	struct say sy = { report, arg };
	struct io_records in;
	unsigned long qn, used, qbytes = ULONG_MAX;
	long msgmax = sysvq_msgmax();
	char *buf = NULL, *rec;
	size_t cap = 0, len;
	int t, i, r = 0;

	sysvq_stat(q, &qn, &used, &qbytes);
	if (n == 0)
		io_records_init(&in, fd, delim, (size_t)max);
	for (i = 0; n == 0 || i < n; i++) {
		if (n > 0) {
			rec = msgs[i];
			len = strlen(rec);
			t = IO_REC;
		} else if ((t = io_records_next(&in, &rec, &len)) == IO_EOF)
			break;
		if (t < 0) {
			say(&sy, errno, "reading stdin");
			r = -1;
			break;
		}
		if (t == IO_TOOLONG)
			say(&sy, 0, "%s: message of %zu bytes is over the limit "
			    "of %llu bytes; not pushed", name, len,
			    (unsigned long long)max);
		else if ((long long)len > msgmax)
			say(&sy, 0, "%s: message of %zu bytes exceeds msgmax, "
			    "the kernel's limit of %ld bytes per message "
			    "(kernel.msgmax)", name, len, msgmax);
		else if (len > qbytes)
			say(&sy, 0, "%s: message of %zu bytes exceeds the "
			    "queue's capacity of %lu bytes (msg_qbytes, "
			    "kernel.msgmnb)", name, len, qbytes);
		else if (sysvq_send(q, &buf, &cap, rec, len) == 0)
			continue;
		else if (errno == EIDRM) {
			say(&sy, 0, "%s: the queue was removed", name);
			r = -1;
			break;
		} else if (errno == EINVAL)
			say(&sy, 0, "%s: message of %zu bytes refused by the "
			    "kernel (kernel.msgmax is %ld)", name, len, msgmax);
		else
			say(&sy, errno, "%s: msgsnd", name);
		r = -1;
	}
	if (n == 0)
		io_records_free(&in);
	free(buf);
	return r;
}

/* c->warn the text (errnum 0: no strerror); returns status. */
static int
fail(const struct sysvq_cmd *c, int status, int errnum, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
fail(const struct sysvq_cmd *c, int status, int errnum, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(c->warn, c->arg, errnum, fmt, ap);
	va_end(ap);
	return status;
}

/* Parse spec and look the queue up (create: make it). 0 (q->id -1: it
 * does not exist), or the status to exit with, said. */
static int
open_spec(struct sysvq *q, const char *spec, const struct sysvq_cmd *c,
    int for_push, int create)
{
	const char *why[2];

	if (sysvq_parse(spec, for_push, q, why) < 0)
		return why[0] == NULL ? fail(c, 2, errno, "ftok %s", spec + 5) :
		    fail(c, 2, 0, "%s in '%s'%s", why[0], spec, why[1]);
	if (sysvq_get(q, create) < 0 && !(errno == ENOENT && !create))
		return errno == ENOSPC ? fail(c, 1, 0, "%s: no more System V "
		    "queues (kernel.msgmni)", spec) :
		    fail(c, 1, errno, "%s: msgget", spec);
	return 0;
}

static int
pop_out(struct sysvq *q, const char *spec, const struct sysvq_cmd *c)
{
	long long done = 0;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int st = 0;

	for (;;) {
		n = sysvq_recv(q, &buf, &cap, c->nowait ? 0 : c->wait >= 0 ?
		    clock_mono() + c->wait : -1);
		if (n < 0 && errno == ENOMSG)
			break;
		if (n < 0) {
			st = errno == EIDRM ? fail(c, 1, 0, "%s: the queue was "
			    "removed", spec) : fail(c, 1, errno, "%s: msgrcv",
			    spec);
			break;
		}
		if (out_record(c->out, buf + sizeof(long), (size_t)n,
		    c->delim) < 0) {
			st = fail(c, 1, errno, "write");
			break;
		}
		if (out_dead(c->out) || ++done == c->count)
			break;
	}
	free(buf);
	return st != 0 || done > 0 || out_dead(c->out) ? st : 1;
}

static int
stat_print(struct sysvq *q, const char *spec, const struct sysvq_cmd *c)
{
	unsigned long n, bytes, cap;
	struct store_stat st = { .oldest = -1 };
	int len_only = c->name[0] == 'l';

	if (!len_only)
		qshow_stat_head(c->json);
	if (q->id < 0) {
		if (len_only) {
			puts("0");
			return 0;
		}
		fflush(stdout);
		return fail(c, 1, 0, "%s: no such queue", spec);
	}
	if (sysvq_stat(q, &n, &bytes, &cap) < 0)
		return fail(c, 1, errno, "%s: msgctl", spec);
	st.length = n;
	st.bytes = bytes;
	if (len_only)
		printf("%lu\n", n);
	else
		qshow_stat(spec, &st, 0, c->json);
	return 0;
}

int
sysvq_command(const char *spec, const struct sysvq_cmd *c)
{
	int push = strcmp(c->name, "push") == 0, st;
	struct sysvq q;

	if ((st = open_spec(&q, spec, c, push, push || (c->name[1] == 'o' &&
	    !c->nowait))) != 0)
		return st;
	if (push)
		return sysvq_push_input(&q, spec, c->args, c->nargs,
		    STDIN_FILENO, c->delim, c->max, c->warn, c->arg) < 0;
	if (c->name[1] == 'o')
		return q.id < 0 ? 1 : pop_out(&q, spec, c);
	return stat_print(&q, spec, c);
}
