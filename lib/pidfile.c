/* pidfile: single-instance pidfiles a local user cannot spoof.
 *
 * Protocol. A starter opens PATH.lock (O_NOFOLLOW, creating it 0600),
 * takes a non-blocking fcntl write lock on the whole file, checks that
 * the path still names the inode it locked (a stopper may have removed
 * it between open and lock), then checks PATH: a recorded process that
 * still runs means "busy". Only then does it write PATH, whole, through
 * a temporary file and rename(2). The lock belongs to the process that
 * took it: not inherited by fork, kept across exec while the fd stays
 * open, gone when the holder dies.
 *
 * Liveness is read from PATH alone: its one line "PID", and the identity
 * "PID START BOOT" in an extended attribute that only root (trusted.*)
 * or the file's owner (user.*) can set, which names one process for the
 * life of the machine (a recycled pid starts later; start times restart
 * at boot). The lock only orders starters and stoppers, so nobody gains
 * anything by holding it (the lock file is 0600: nobody else can even
 * open it), and a process that keeps the lock fd (the daemon, after
 * dropping privileges) holds no descriptor of PATH: nothing it writes
 * to its fd is ever read. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "pidfile.h"
#include "proc.h"

#define BOOT_LEN	36
#define LOCK_SUFFIX	".lock"
#define BUSY_TRIES	100		/* x 10 ms: a starter writing PATH */

enum { KIND_PID, KIND_LOCK };

struct rec {
	pid_t pid;		/* 0: empty file */
	uint64_t start;
	char boot[BOOT_LEN + 1];
	int legacy;		/* no identity attribute: "PID" alone */
	pid_t sid;		/* session made for it, 0: none recorded */
};

/* Lock fds handed out by pidfile_acquire, with the pidfile they guard. */
static struct {
	int fd;
	char *path;
} held[8] = { { -1, NULL }, { -1, NULL }, { -1, NULL }, { -1, NULL },
	      { -1, NULL }, { -1, NULL }, { -1, NULL }, { -1, NULL } };

static char *
lock_path(const char *path)
{
	size_t n = strlen(path) + sizeof(LOCK_SUFFIX);
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s%s", path, LOCK_SUFFIX);
	return p;
}

static int
lock_whole(int fd, int cmd, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = F_WRLCK;
	fl->l_whence = SEEK_SET;
	return fcntl(fd, cmd, fl);
}

static void
close_keep_errno(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
}

/* A file fit to be a pidfile (or its lock) of ours: 0 or -1/errno. */
static int
stat_ok(const struct stat *st, int kind)
{
	if (S_ISLNK(st->st_mode))
		errno = ELOOP;
	else if (S_ISDIR(st->st_mode))
		errno = EISDIR;
	else if (!S_ISREG(st->st_mode))
		errno = ENODEV;
	else if (st->st_nlink > 1)
		errno = EMLINK;
	else if ((st->st_uid != 0 && st->st_uid != geteuid()) ||
	    (st->st_mode & (kind == KIND_LOCK ? 077 : 022)) != 0)
		errno = EPERM;
	else
		return 0;
	return -1;
}

/* Open path as a file: never a symbolic link, never blocking on a FIFO,
 * and a device is refused before it is opened. */
static int
safe_open(const char *path, int flags, mode_t mode, int kind)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == 0) {
		if (stat_ok(&st, kind) < 0)
			return -1;
	} else if (errno != ENOENT || (flags & O_CREAT) == 0) {
		return -1;
	}
	fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || stat_ok(&st, kind) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

static int
boot_id(char out[BOOT_LEN + 1])
{
	ssize_t n;
	int fd;

	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, out, BOOT_LEN);
	close(fd);
	if (n != BOOT_LEN) {
		errno = EIO;
		return -1;
	}
	out[BOOT_LEN] = '\0';
	return 0;
}

/* Start time in ticks of a live (not zombie) process: 0 or -1. */
static int
start_ticks(pid_t pid, uint64_t *start)
{
	struct proc_info p;

	if (proc_read(pid, PROC_STAT, &p) < 0)
		return -1;
	proc_info_free(&p);
	if (p.state == 'Z' || p.state == 'X') {
		errno = ESRCH;
		return -1;
	}
	*start = p.start;
	return 0;
}

static int
num(const char **s, uint64_t max, uint64_t *v)
{
	const char *p = *s;

	*v = 0;
	while (*p >= '0' && *p <= '9') {
		*v = *v * 10 + (uint64_t)(*p - '0');
		if (*v > max)
			return -1;
		p++;
	}
	if (p == *s)
		return -1;
	*s = p;
	return 0;
}

/* The attribute root (or, for a user's own files, the user) can set. */
static const char *
ident_name(void)
{
	return geteuid() == 0 ? "trusted.pkit.ident" : "user.pkit.ident";
}

/* "PID\n": pid; empty is pid 0. 0 or -1/EINVAL. */
static int
pid_parse(const char *buf, size_t n, pid_t *pid)
{
	const char *p = buf;
	uint64_t v;

	*pid = 0;
	if (n == 0)
		return 0;
	if (memchr(buf, '\0', n) != NULL || num(&p, INT32_MAX, &v) < 0 ||
	    v == 0)
		goto bad;
	if (p < buf + n && *p == '\n')
		p++;
	if (p != buf + n)
		goto bad;
	*pid = (pid_t)v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* "PID START BOOT" from the identity attribute: 0, or -1 when it is
 * missing, unreadable or malformed (the old rule applies then). */
static int
ident_read(int fd, struct rec *r)
{
	char buf[96];
	const char *p = buf;
	uint64_t v;
	ssize_t n;
	size_t i;

	n = fgetxattr(fd, ident_name(), buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (num(&p, INT32_MAX, &v) < 0 || (pid_t)v != r->pid || *p++ != ' ' ||
	    num(&p, UINT64_MAX / 10, &r->start) < 0 || *p++ != ' ' ||
	    strlen(p) < BOOT_LEN)
		return -1;
	if (p[BOOT_LEN] != '\0') {
		const char *q = p + BOOT_LEN + 1;

		if (p[BOOT_LEN] != ' ' || num(&q, INT32_MAX, &v) < 0 ||
		    *q != '\0')
			return -1;
		r->sid = (pid_t)v;
	}
	for (i = 0; i < BOOT_LEN; i++) {
		if ((p[i] < '0' || p[i] > '9') && (p[i] < 'a' || p[i] > 'f') &&
		    p[i] != '-')
			return -1;
		r->boot[i] = p[i];
	}
	r->legacy = 0;
	return 0;
}

static int
rec_read(int fd, struct rec *r)
{
	char buf[32];
	ssize_t n;

	memset(r, 0, sizeof(*r));
	r->legacy = 1;
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n == sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	if (pid_parse(buf, (size_t)n, &r->pid) < 0)
		return -1;
	if (r->pid > 0)
		(void)ident_read(fd, r);
	return 0;
}

/* Is the recorded process the one running now? 1 yes, 0 no. */
static int
rec_alive(int fd, const struct rec *r)
{
	char boot[BOOT_LEN + 1];
	struct stat st;
	uint64_t start;
	int64_t wall, written;

	if (r->pid <= 0 || start_ticks(r->pid, &start) < 0)
		return 0;
	if (!r->legacy)
		return start == r->start && boot_id(boot) == 0 &&
		    strcmp(boot, r->boot) == 0;
	if (fstat(fd, &st) < 0 || proc_start_wall(r->pid, &wall) < 0)
		return 0;
	written = (int64_t)st.st_mtim.tv_sec * 1000000000LL +
	    st.st_mtim.tv_nsec;
	return wall <= written;
}

/* Check path: PIDFILE_* with the record in *r, or -1/errno. The caller's
 * own pid is refused (EDOM) unless self_ok. */
static int
check(const char *path, struct rec *r, int self_ok)
{
	int fd, st;

	memset(r, 0, sizeof(*r));
	r->legacy = 1;
	fd = safe_open(path, O_RDONLY, 0, KIND_PID);
	if (fd < 0)
		return errno == ENOENT ? PIDFILE_ABSENT : -1;
	if (rec_read(fd, r) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	if (r->pid == 1 || (r->pid == getpid() && !self_ok)) {
		close(fd);
		errno = EDOM;
		return -1;
	}
	st = rec_alive(fd, r) ? PIDFILE_RUNNING : PIDFILE_STALE;
	close(fd);
	return st;
}

static int
held_slot(int fd)
{
	size_t i;

	for (i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		if (held[i].fd == fd)
			return (int)i;
	return -1;
}

static void
held_drop(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		if (held[i].path != NULL && strcmp(held[i].path, path) == 0) {
			free(held[i].path);
			held[i].path = NULL;
			held[i].fd = -1;
		}
}

static void
pause_10ms(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The lock is busy: who runs? 1 with *holder when a recorded process
 * holds it (or runs and the holder is invisible), 0 when the holder is
 * someone passing through (a starter before it wrote PATH, a stopper). */
static int
busy_holder(int lfd, const char *path, pid_t *holder)
{
	struct flock fl;
	struct rec r;
	pid_t lp = 0;

	if (lock_whole(lfd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		lp = fl.l_pid;
	*holder = lp;
	if (check(path, &r, 1) == PIDFILE_RUNNING &&
	    (lp <= 0 || lp == r.pid)) {
		*holder = r.pid;
		return 1;
	}
	return 0;
}

static int
acquire(const char *path, const char *lpath, int keep_on_exec,
    pid_t *holder)
{
	struct flock fl;
	struct stat fst, pst;
	struct rec r;
	pid_t h = 0;
	int fd, st, tries, busy = 0;

	for (tries = 0; tries < BUSY_TRIES; tries++) {
		fd = safe_open(lpath, O_RDWR | O_CREAT, 0600, KIND_LOCK);
		if (fd < 0)
			return -1;
		if (!keep_on_exec && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			goto fail;
		if (keep_on_exec && fcntl(fd, F_SETFD, 0) < 0)
			goto fail;
		if (lock_whole(fd, F_SETLK, &fl) < 0) {
			if (errno != EACCES && errno != EAGAIN)
				goto fail;
			busy = 1;
			if (busy_holder(fd, path, &h)) {
				close(fd);
				break;
			}
			close(fd);
			pause_10ms();
			continue;
		}
		/* Removed or replaced between open and lock: start over, or
		 * two starters could each lock a different inode. */
		if (fstat(fd, &fst) < 0)
			goto fail;
		if (lstat(lpath, &pst) < 0 || pst.st_dev != fst.st_dev ||
		    pst.st_ino != fst.st_ino) {
			close(fd);
			continue;
		}
		st = check(path, &r, 1);
		if (st < 0)
			goto fail;
		if (st == PIDFILE_RUNNING && r.pid != getpid()) {
			close(fd);
			busy = 1;
			h = r.pid;
			break;
		}
		return fd;
	}
	if (holder != NULL)
		*holder = h;
	errno = busy ? EWOULDBLOCK : EAGAIN;
	return -1;
fail:
	close_keep_errno(fd);
	return -1;
}

int
pidfile_acquire(const char *path, int keep_on_exec, pid_t *holder)
{
	struct rec r;
	char *lpath;
	int fd, slot, e;

	if (holder != NULL)
		*holder = 0;
	/* A file that is not a pidfile is refused before a lock file is
	 * made next to it. */
	if (check(path, &r, 1) < 0)
		return -1;
	if ((slot = held_slot(-1)) < 0) {
		errno = EMFILE;
		return -1;
	}
	if ((lpath = lock_path(path)) == NULL)
		return -1;
	fd = acquire(path, lpath, keep_on_exec, holder);
	e = errno;
	free(lpath);
	if (fd >= 0 && (held[slot].path = strdup(path)) == NULL) {
		e = errno;
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		held[slot].fd = fd;
	errno = e;
	return fd;
}

int
pidfile_lock(const char *path, int keep_on_exec, pid_t *holder)
{
	struct flock fl;
	struct stat fst, pst;
	int fd, tries;

	if (holder != NULL)
		*holder = 0;
	for (tries = 0; tries < BUSY_TRIES; tries++) {
		fd = safe_open(path, O_RDWR | O_CREAT, 0600, KIND_PID);
		if (fd < 0)
			return -1;
		if (keep_on_exec && fcntl(fd, F_SETFD, 0) < 0)
			goto fail;
		if (lock_whole(fd, F_SETLK, &fl) < 0) {
			if (errno != EACCES && errno != EAGAIN)
				goto fail;
			if (holder != NULL && lock_whole(fd, F_GETLK, &fl) == 0 &&
			    fl.l_type != F_UNLCK)
				*holder = fl.l_pid;
			close(fd);
			errno = EWOULDBLOCK;
			return -1;
		}
		if (fstat(fd, &fst) < 0)
			goto fail;
		if (lstat(path, &pst) == 0 && pst.st_dev == fst.st_dev &&
		    pst.st_ino == fst.st_ino)
			return fd;
		close(fd);
	}
	errno = EAGAIN;
	return -1;
fail:
	close_keep_errno(fd);
	return -1;
}

int
pidfile_write(int fd, pid_t pid)
{
	return pidfile_write_session(fd, pid, 0);
}

int
pidfile_write_session(int fd, pid_t pid, pid_t sid)
{
	char boot[BOOT_LEN + 1], line[96], *tmp;
	const char *path;
	uint64_t start;
	size_t n;
	int slot, tfd, len, e = EIO;

	if (fd < 0 || (slot = held_slot(fd)) < 0) {
		errno = EBADF;
		return -1;
	}
	path = held[slot].path;
	if (start_ticks(pid, &start) < 0 || boot_id(boot) < 0)
		return -1;
	len = snprintf(line, sizeof(line), "%ld %llu %s", (long)pid,
	    (unsigned long long)start, boot);
	if (sid > 0)
		len += snprintf(line + len, sizeof(line) - (size_t)len, " %ld",
		    (long)sid);
	n = strlen(path) + sizeof(".XXXXXX");
	if ((tmp = malloc(n)) == NULL)
		return -1;
	snprintf(tmp, n, "%s.XXXXXX", path);
	if ((tfd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		e = errno;
		free(tmp);
		errno = e;
		return -1;
	}
	errno = EIO;
	/* Without attributes (some file systems) the old rule applies. */
	(void)fsetxattr(tfd, ident_name(), line, (size_t)len, 0);
	len = (int)(strchr(line, ' ') - line);
	line[len++] = '\n';
	if (fchmod(tfd, 0644) < 0 ||
	    write(tfd, line, (size_t)len) != (ssize_t)len) {
		e = errno;
		close(tfd);
		tfd = -1;
	}
	if (tfd < 0 || close(tfd) < 0 || rename(tmp, path) < 0) {
		e = tfd < 0 ? e : errno;
		unlink(tmp);
		free(tmp);
		errno = e;
		return -1;
	}
	free(tmp);
	return 0;
}

int
pidfile_read(const char *path, pid_t *pid)
{
	struct rec r;

	if (check(path, &r, 1) < 0)
		return -1;
	if (r.pid <= 0) {
		errno = r.pid == 0 ? EINVAL : ENOENT;
		return -1;
	}
	*pid = r.pid;
	return 0;
}

int
pidfile_check_start(const char *path, pid_t *pid, uint64_t *start)
{
	return pidfile_identity(path, pid, start, NULL);
}

int
pidfile_identity(const char *path, pid_t *pid, uint64_t *start,
    pid_t *sid)
{
	struct rec r;
	int st;

	st = check(path, &r, 0);
	if (st < 0)
		return -1;
	if (pid != NULL)
		*pid = r.pid;
	if (start != NULL)
		*start = r.start;
	if (sid != NULL)
		*sid = r.sid;
	return st;
}

int
pidfile_check(const char *path, pid_t *pid)
{
	return pidfile_check_start(path, pid, NULL);
}

/* Unlink path.lock, but only the regular file of ours it should be. */
static void
unlink_lock(const char *path)
{
	struct stat st;
	char *lpath = lock_path(path);

	if (lpath == NULL)
		return;
	if (lstat(lpath, &st) == 0 && stat_ok(&st, KIND_LOCK) == 0)
		(void)unlink(lpath);
	free(lpath);
}

int
pidfile_remove(const char *path)
{
	struct rec r;
	int st;

	st = check(path, &r, 1);
	if (st == PIDFILE_ABSENT)
		return 0;
	if (st < 0)
		return -1;
	if (r.pid != getpid()) {
		errno = EINVAL;
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	unlink_lock(path);
	held_drop(path);
	return 0;
}

int
pidfile_discard(const char *path)
{
	struct rec r;
	int fd, st;

	st = check(path, &r, 0);
	if (st == PIDFILE_ABSENT)
		return 0;
	if (st < 0)
		return -1;
	if ((fd = pidfile_acquire(path, 0, NULL)) < 0)
		return errno == ENOENT ? 0 : -1;
	/* Under the lock: nobody runs under path, and it is a pidfile. */
	if (unlink(path) < 0 && errno != ENOENT) {
		close_keep_errno(fd);
		held_drop(path);
		return -1;
	}
	unlink_lock(path);
	held_drop(path);
	close(fd);
	return 0;
}
