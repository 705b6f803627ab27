/* proc: one pass over /proc, and pidfd helpers.
 *
 * The scan is built to be cheap per process: the uid comes from one
 * fstatat of /proc/PID (its owner), the title from one open of
 * /proc/PID/cmdline read to EOF (titles may exceed a page), and
 * /proc/PID/stat is read only when asked for. stat is parsed from the
 * LAST ')' since comm may itself hold spaces and parentheses. A process
 * that disappears while being read is skipped: ENOENT and ESRCH mean
 * "gone", never an error. Buffers are reused across the whole scan. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proc.h"

/* Growable buffers reused for every process of one scan. */
struct reader {
	char *raw;		/* cmdline as read, NUL-terminated */
	size_t rawcap;
	char *title;		/* raw with NULs as spaces, trimmed */
	size_t titlecap;
};

static int
grow(char **buf, size_t *cap, size_t need)
{
	size_t ncap;
	char *nbuf;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 256;
	while (ncap < need)
		ncap *= 2;
	if ((nbuf = realloc(*buf, ncap)) == NULL)
		return -1;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

/* A process that vanished mid-read shows up as ENOENT (directory gone)
 * or ESRCH (task exiting); callers treat both as "gone". */
static int
is_gone(int err)
{
	return err == ENOENT || err == ESRCH;
}

/* Read path (relative to dirfd) to EOF into r->raw; *len gets the
 * byte count. 0 or -1 with errno.
 * The kernel fills a cmdline read as far as the arguments go, so a read
 * that leaves room in the buffer has reached the end: stopping there
 * saves the extra read(2) that would return 0 — a fifth of the syscalls
 * of a scan. A full buffer is grown and read on, so a command line of
 * any length is read whole. */
static int
read_cmdline(int dirfd, const char *path, struct reader *r, size_t *len)
{
	size_t n = 0, want;
	ssize_t got;
	int fd, err;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	for (;;) {
		if (grow(&r->raw, &r->rawcap, n + 4096 + 1) < 0)
			goto fail;
		want = r->rawcap - n - 1;
		got = read(fd, r->raw + n, want);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		n += (size_t)got;
		if ((size_t)got < want)
			break;
	}
	close(fd);
	r->raw[n] = '\0';
	*len = n;
	return 0;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* Fill p->title and p->argv0 from r->raw[0..n). */
static int
make_title(struct reader *r, size_t n, struct proc_info *p)
{
	size_t i;

	if (grow(&r->title, &r->titlecap, n + 1) < 0)
		return -1;
	while (n > 0 && (r->raw[n - 1] == '\0' || r->raw[n - 1] == ' '))
		n--;
	for (i = 0; i < n; i++)
		r->title[i] = r->raw[i] == '\0' ? ' ' : r->raw[i];
	r->title[n] = '\0';
	p->title = r->title;
	p->title_len = n;
	p->argv0 = r->raw;
	return 0;
}

/* Parse a /proc/PID/stat line. Fields after the last ')' are numbered
 * from 3 (state) as in proc(5). 0 or -1 with EINVAL. */
/* A decimal number after optional blanks, as the kernel writes them in
 * /proc (no sign): like strtoull, without pulling the libc's strto*
 * family (a 64 KiB fault-around window) into a resting -w. 0, or -1 if
 * there is no digit or it overflows. */
static int
dec_parse(const char *s, char **end, unsigned long long *v)
{
	unsigned long long n = 0;
	const char *d;

	while (*s == ' ' || *s == '\t')
		s++;
	for (d = s; *s >= '0' && *s <= '9'; s++) {
		if (n > (ULLONG_MAX - (unsigned)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (unsigned)(*s - '0');
	}
	if (s == d)
		return -1;
	*end = (char *)s;
	*v = n;
	return 0;
}

static int
parse_stat(char *buf, struct proc_info *p)
{
	char *open, *close, *s, *end;
	unsigned long long v;
	size_t n;
	int field;

	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (open == NULL || close == NULL || close < open || close[1] != ' ')
		goto bad;
	n = (size_t)(close - open - 1);
	if (n > sizeof(p->comm) - 1)
		n = sizeof(p->comm) - 1;
	memcpy(p->comm, open + 1, n);
	p->comm[n] = '\0';
	s = close + 2;
	p->state = *s;
	for (field = 3; field < 22; field++) {
		s = strchr(s, ' ');
		if (s == NULL)
			goto bad;
		s++;
		if (field + 1 == 4 || field + 1 == 22) {
			if (dec_parse(s, &end, &v) < 0)
				goto bad;
			if (field + 1 == 4)
				p->ppid = (pid_t)v;
			else
				p->start = (uint64_t)v;
		}
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* One read of a small /proc file (dirfd/path) into buf, NUL-terminated
 * (a stat or status file is read whole by one read: the kernel builds it
 * at once). Returns the length, or -1 with errno. */
static ssize_t
read_small(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((n = read(fd, buf, size - 1)) < 0 && errno == EINTR)
		;
	err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

static int
read_stat(int dirfd, const char *path, struct proc_info *p)
{
	char buf[1024];
	ssize_t n;

	if ((n = read_small(dirfd, path, buf, sizeof(buf))) < 0)
		return -1;
	if (n == 0) {
		errno = ESRCH;
		return -1;
	}
	return parse_stat(buf, p);
}

/* The real and effective uids from the "Uid:" line of /proc/PID/status
 * (real, effective, saved, fs). 0 or -1 with errno. */
static int
read_ids(int dirfd, const char *path, struct proc_info *p)
{
	char buf[4096], *s, *end;
	unsigned long long v[2];
	ssize_t n;
	int i;

	if ((n = read_small(dirfd, path, buf, sizeof(buf))) < 0)
		return -1;
	if ((s = strstr(buf, "\nUid:")) == NULL) {
		errno = n == 0 ? ESRCH : EINVAL;
		return -1;
	}
	s += 5;
	for (i = 0; i < 2; i++) {
		if (dec_parse(s, &end, &v[i]) < 0) {
			errno = EINVAL;
			return -1;
		}
		s = end;
	}
	p->ruid = (uid_t)v[0];
	p->euid = (uid_t)v[1];
	return 0;
}

/* name + suffix into buf (size >= 32); names are pids, so it fits.
 * Plain copies: this runs for every process of a scan, and keeping
 * printf out of the scan keeps its code off the scanner's pages. */
static void
join(char *buf, const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	memcpy(buf, name, n);
	memcpy(buf + n, suffix, m + 1);
}

/* Decimal pid into buf (size >= 16). */
static void
pid_name(char *buf, pid_t pid)
{
	char tmp[16];
	size_t n = 0, i;
	unsigned long v = (unsigned long)pid;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
}

/* Read what `what` asks for about process `name` (decimal pid) under the
 * /proc descriptor dirfd. The strings point into r. 0 or -1 with errno;
 * a vanished process gives ESRCH. */
static int
read_one(int dirfd, const char *name, pid_t pid, unsigned what,
    struct reader *r, struct proc_info *p)
{
	char path[32];
	struct stat st;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->title = p->argv0 = (char *)"";
	if (what & PROC_UID) {
		if (fstatat(dirfd, name, &st, 0) < 0)
			goto fail;
		p->uid = st.st_uid;
	}
	if (what & PROC_IDS) {
		join(path, name, "/status");
		if (read_ids(dirfd, path, p) < 0)
			goto fail;
	}
	if (what & PROC_STAT) {
		join(path, name, "/stat");
		if (read_stat(dirfd, path, p) < 0)
			goto fail;
	}
	if (what & PROC_TITLE) {
		join(path, name, "/cmdline");
		if (read_cmdline(dirfd, path, r, &n) < 0) {
			/* Unreadable (hidepid, EACCES) is an empty title,
			 * not a vanished process. */
			if (is_gone(errno))
				goto fail;
			n = 0;
			if (grow(&r->raw, &r->rawcap, 1) < 0)
				return -1;
			r->raw[0] = '\0';
		}
		if (make_title(r, n, p) < 0)
			return -1;
	}
	return 0;
fail:
	if (is_gone(errno))
		errno = ESRCH;
	return -1;
}

static int
open_proc(void)
{
	return open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The decimal name of a /proc entry as a pid, or 0 if not a pid. */
static pid_t
name_pid(const char *s)
{
	long v = 0;

	if (*s < '1' || *s > '9')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > INT_MAX / 10)
			return 0;
		v = v * 10 + (*s - '0');
	}
	return v > INT_MAX ? 0 : (pid_t)v;
}

int
proc_scan(unsigned what, proc_visit_fn fn, void *arg)
{
	struct reader r = { 0 };
	struct proc_info p;
	struct dirent *d;
	DIR *dir;
	pid_t pid;
	int fd, ret = 0, err;

	if ((fd = open_proc()) < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((d = readdir(dir)) == NULL) {
			if (errno != 0)
				ret = -1;
			break;
		}
		if ((pid = name_pid(d->d_name)) == 0)
			continue;
		if (read_one(fd, d->d_name, pid, what, &r, &p) < 0) {
			if (errno == ESRCH)
				continue;
			ret = -1;
			break;
		}
		if ((ret = fn(&p, arg)) != 0)
			break;
	}
	err = errno;
	closedir(dir);
	free(r.raw);
	free(r.title);
	errno = err;
	return ret;
}

int
proc_read(pid_t pid, unsigned what, struct proc_info *p)
{
	struct reader r = { 0 };
	struct proc_info q;
	char name[16];
	size_t tlen, rlen;
	char *buf;
	int fd, rc, err;

	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	if ((fd = open_proc()) < 0)
		return -1;
	pid_name(name, pid);
	rc = read_one(fd, name, pid, what, &r, &q);
	err = errno;
	close(fd);
	if (rc == 0) {
		/* One block owns both strings: title, NUL, raw cmdline. */
		tlen = q.title_len;
		rlen = (what & PROC_TITLE) ? strlen(q.argv0) : 0;
		if ((buf = malloc(tlen + rlen + 2)) == NULL) {
			err = errno;
			rc = -1;
		} else {
			memcpy(buf, q.title, tlen);
			buf[tlen] = '\0';
			memcpy(buf + tlen + 1, q.argv0, rlen);
			buf[tlen + 1 + rlen] = '\0';
			q.title = buf;
			q.argv0 = buf + tlen + 1;
			*p = q;
		}
	}
	free(r.raw);
	free(r.title);
	errno = err;
	return rc;
}

void
proc_info_free(struct proc_info *p)
{
	if (p == NULL)
		return;
	free(p->title);
	p->title = p->argv0 = NULL;
	p->title_len = 0;
}

int
proc_start_wall(pid_t pid, int64_t *ns)
{
	struct proc_info p;
	struct timespec real, boot;
	int64_t booted;
	long hz;

	if (proc_read(pid, PROC_STAT, &p) < 0)
		return -1;
	proc_info_free(&p);
	if ((hz = sysconf(_SC_CLK_TCK)) <= 0)
		hz = 100;
	/* Boot time on the wall clock, at nanosecond precision (the btime
	 * line of /proc/stat has only seconds). */
	if (clock_gettime(CLOCK_REALTIME, &real) < 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
		return -1;
	booted = ((int64_t)real.tv_sec - boot.tv_sec) * NS_PER_SEC +
	    (real.tv_nsec - boot.tv_nsec);
	*ns = booted + (int64_t)(p.start / (uint64_t)hz) * NS_PER_SEC +
	    (int64_t)(p.start % (uint64_t)hz) * NS_PER_SEC / hz;
	return 0;
}

int
proc_same_ns(void)
{
	char buf[32];
	ssize_t n;
	long v = 0;
	int i;

	if ((n = readlink("/proc/self", buf, sizeof(buf) - 1)) < 0)
		return -1;
	buf[n] = '\0';
	for (i = 0; buf[i] >= '0' && buf[i] <= '9' && v < INT_MAX / 10; i++)
		v = v * 10 + (buf[i] - '0');
	return buf[i] == '\0' && i > 0 && v == (long)getpid();
}

int
proc_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* A pidfd is always close-on-exec. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

int
proc_pidfd_signal(int pidfd, pid_t pid, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0)
			return 0;
		if (errno != ENOSYS)
			return -1;
	}
#else
	(void)pidfd;
#endif
	return kill(pid, sig);
}

int
proc_gone(pid_t pid)
{
	struct proc_info p;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	if (proc_read(pid, PROC_STAT, &p) < 0)
		return errno == ESRCH;
	proc_info_free(&p);
	return p.state == 'Z' || p.state == 'X';
}

/* Milliseconds until the deadline for poll, -1 for none. */
static int
poll_timeout(int64_t until, int cap)
{
	int64_t left;

	if (until < 0)
		return cap;
	left = until - clock_mono();
	if (left <= 0)
		return 0;
	left = (left + NS_PER_MS - 1) / NS_PER_MS;
	if (cap >= 0 && left > cap)
		return cap;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int
proc_wait_gone(int *fds, const pid_t *pids, size_t n, int64_t until)
{
	struct pollfd *pfd;
	size_t i, np, alive;
	int *idx, polled, t;

	if ((pfd = calloc(n ? n : 1, sizeof(*pfd))) == NULL)
		return -1;
	if ((idx = calloc(n ? n : 1, sizeof(*idx))) == NULL) {
		free(pfd);
		return -1;
	}
	for (;;) {
		/* A pidfd polls readable once the process has exited (a
		 * zombie counts). Entries without a pidfd but with a pid
		 * are polled with kill(pid, 0) every few ms. */
		np = alive = 0;
		polled = 0;
		for (i = 0; i < n; i++) {
			if (fds[i] >= 0) {
				pfd[np].fd = fds[i];
				pfd[np].events = POLLIN;
				pfd[np].revents = 0;
				idx[np++] = (int)i;
				alive++;
			} else if (pids != NULL && pids[i] > 0 &&
			    !proc_gone(pids[i])) {
				polled = 1;
				alive++;
			}
		}
		if (alive == 0)
			break;
		t = poll_timeout(until, polled ? 10 : -1);
		if (poll(pfd, np, t) < 0) {
			if (errno == EINTR)
				continue;
			free(pfd);
			free(idx);
			return -1;
		}
		for (i = 0; i < np; i++)
			if (pfd[i].revents != 0) {
				close(fds[idx[i]]);
				fds[idx[i]] = -1;
				alive--;
			}
		if (alive == 0)
			break;
		if (until >= 0 && clock_mono() >= until)
			break;
	}
	free(pfd);
	free(idx);
	return (int)alive;
}

int
proc_set_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}
