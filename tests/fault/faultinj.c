/* faultinj: an LD_PRELOAD shim that makes the Nth call of chosen I/O
 * functions fail, for tests/fault.bats.
 *
 * Environment:
 *   FAULT_CALLS  comma-separated names among write, pwrite, writev,
 *                fdatasync, fsync, rename, open, openat, ftruncate,
 *                posix_fallocate (open covers open64, pwrite pwrite64,
 *                and so on). Only these calls are counted.
 *   FAULT_N      the 1-based index, among the counted calls, of the one
 *                that fails; 0 or unset: none fails (count only).
 *   FAULT_ERR    ENOSPC (default), EIO, EINTR, or "short": a write,
 *                pwrite or writev of more than one byte writes half of
 *                it and returns that count (the other calls fail EIO).
 *   FAULT_PROG   only a process whose comm is this counts (so the
 *                COMMAND of pqueue run does not); unset: every process.
 *   FAULT_LOG    at exit, append "calls=N faulted=0|1 comm=NAME" here.
 * Writes to fd 2 are neither counted nor faulted: the diagnostics are
 * what the tests read. A forked child stops counting: its calls are not
 * in the parent's sequence. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { F_WRITE, F_PWRITE, F_WRITEV, F_FDATASYNC, F_FSYNC, F_RENAME,
	F_OPEN, F_OPENAT, F_FTRUNCATE, F_FALLOCATE, F_NFUNCS };
static const char *const names[F_NFUNCS] = { "write", "pwrite", "writev",
	"fdatasync", "fsync", "rename", "open", "openat", "ftruncate",
	"posix_fallocate" };

static int active, selected[F_NFUNCS], err = ENOSPC, shortw;
static long calls, target, faulted;
static pid_t owner;
static char comm[32];

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_ftruncate)(int, off_t);
static int (*real_fallocate)(int, off_t, off_t);

static void
report(void)
{
	const char *log = getenv("FAULT_LOG");
	char line[128];
	int fd, n;

	if (!active || log == NULL || getpid() != owner)
		return;
	n = snprintf(line, sizeof(line), "calls=%ld faulted=%ld comm=%s\n",
	    calls, faulted, comm);
	fd = real_open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (real_write(fd, line, (size_t)n) < 0)
			n = 0;
		close(fd);
	}
}

/* dlsym returns an object pointer; ISO C has no cast to a function
 * pointer, so the bytes are copied (what POSIX's dlsym page suggests). */
static void
lookup(void *fp, const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	memcpy(fp, &p, sizeof(p));
}

__attribute__((constructor)) static void
init(void)
{
	const char *s, *prog;
	char buf[256], *tok, *save;
	int i;

	lookup(&real_write, "write");
	lookup(&real_pwrite, "pwrite64");
	lookup(&real_writev, "writev");
	lookup(&real_fdatasync, "fdatasync");
	lookup(&real_fsync, "fsync");
	lookup(&real_rename, "rename");
	lookup(&real_open, "open64");
	lookup(&real_openat, "openat64");
	lookup(&real_ftruncate, "ftruncate64");
	lookup(&real_fallocate, "posix_fallocate64");

	prctl(PR_GET_NAME, comm, 0, 0, 0);
	prog = getenv("FAULT_PROG");
	if (prog != NULL && strcmp(prog, comm) != 0)
		return;
	if ((s = getenv("FAULT_CALLS")) == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		for (i = 0; i < F_NFUNCS; i++)
			if (strcmp(tok, names[i]) == 0)
				selected[i] = 1;
	target = (s = getenv("FAULT_N")) ? atol(s) : 0;
	if ((s = getenv("FAULT_ERR")) != NULL) {
		if (strcmp(s, "EIO") == 0)
			err = EIO;
		else if (strcmp(s, "EINTR") == 0)
			err = EINTR;
		else if (strcmp(s, "short") == 0)
			shortw = 1;
	}
	owner = getpid();
	active = 1;
	atexit(report);
}

/* Count a call of f; 1 if this one is to fail. */
static int
hit(int f)
{
	if (!active || !selected[f] || getpid() != owner)
		return 0;
	calls++;
	if (calls != target)
		return 0;
	faulted = 1;
	return 1;
}

/* Fail with the chosen error; for non-writes "short" means EIO. */
static int
fail(void)
{
	errno = shortw ? EIO : err;
	return -1;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	if (fd == 2 || !hit(F_WRITE))
		return real_write(fd, buf, n);
	if (shortw)
		return real_write(fd, buf, n > 1 ? n / 2 : n);
	return fail();
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (!hit(F_PWRITE))
		return real_pwrite(fd, buf, n, off);
	if (shortw)
		return real_pwrite(fd, buf, n > 1 ? n / 2 : n, off);
	return fail();
}
ssize_t pwrite64(int, const void *, size_t, off_t) __attribute__((alias("pwrite")));

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	size_t total = 0;
	int i;

	if (fd == 2 || !hit(F_WRITEV))
		return real_writev(fd, iov, cnt);
	if (!shortw)
		return fail();
	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (total <= 1 || cnt < 1 || iov[0].iov_len == 0)
		return real_writev(fd, iov, cnt);
	/* Half of the first buffer: a short count, whatever the layout. */
	return real_write(fd, iov[0].iov_base,
	    iov[0].iov_len > 1 ? iov[0].iov_len / 2 : 1);
}

int
fdatasync(int fd)
{
	return hit(F_FDATASYNC) ? fail() : real_fdatasync(fd);
}

int
fsync(int fd)
{
	return hit(F_FSYNC) ? fail() : real_fsync(fd);
}

int
rename(const char *a, const char *b)
{
	return hit(F_RENAME) ? fail() : real_rename(a, b);
}

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return hit(F_OPEN) ? fail() : real_open(path, flags, mode);
}
int open64(const char *, int, ...) __attribute__((alias("open")));

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return hit(F_OPENAT) ? fail() : real_openat(dirfd, path, flags, mode);
}
int openat64(int, const char *, int, ...) __attribute__((alias("openat")));

int
ftruncate(int fd, off_t len)
{
	return hit(F_FTRUNCATE) ? fail() : real_ftruncate(fd, len);
}
int ftruncate64(int, off_t) __attribute__((alias("ftruncate")));

int
posix_fallocate(int fd, off_t off, off_t len)
{
	/* posix_fallocate returns the error instead of setting errno. */
	if (hit(F_FALLOCATE))
		return shortw ? EIO : err;
	return real_fallocate(fd, off, len);
}
int posix_fallocate64(int, off_t, off_t) __attribute__((alias("posix_fallocate")));
