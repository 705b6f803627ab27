/* pidfile: single-instance pidfiles guarded by an fcntl record lock.
 *
 * Protocol. A starter opens the file (O_NOFOLLOW, never truncating), takes
 * a non-blocking write lock on the whole file, checks that the path still
 * names the inode it locked (someone may have removed the file between
 * open and lock), and only then truncates and writes its pid. The lock
 * belongs to the process that took it: it is not inherited by fork,
 * survives exec while the fd stays open, and vanishes when the holder
 * dies, so a stale file left by kill -9 never blocks a restart.
 *
 * A holder that closes its fds loses the lock while it runs on. So when
 * nobody holds the lock, the stored pid still counts as running if that
 * process is alive and started no later than the file was last written:
 * a recycled pid belongs to a process started afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidfile.h"
#include "proc.h"

static int
lock_whole(int fd, int cmd, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = F_WRLCK;
	fl->l_whence = SEEK_SET;
	fl->l_start = 0;
	fl->l_len = 0;
	return fcntl(fd, cmd, fl);
}

/* Parse "PID\n" (trailing blanks tolerated). 0 or -1/EINVAL. */
static int
pid_parse(const char *s, size_t n, pid_t *pid)
{
	long long v = 0;
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (s[i] - '0');
		if (v > INT32_MAX) {
			errno = EINVAL;
			return -1;
		}
		i++;
	}
	if (i == 0 || v <= 0) {
		errno = EINVAL;
		return -1;
	}
	for (; i < n; i++)
		if (s[i] != '\n' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
			errno = EINVAL;
			return -1;
		}
	*pid = (pid_t)v;
	return 0;
}

static int
read_pid_fd(int fd, pid_t *pid)
{
	char buf[32];
	ssize_t n;

	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n == sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	return pid_parse(buf, (size_t)n, pid);
}

/* The stored pid names a live process that started before the file was
 * last written (mtime): 1 yes, 0 no. */
static int
stored_pid_alive(int fd, pid_t *pid)
{
	struct stat st;
	int64_t start, written;
	pid_t p;

	if (read_pid_fd(fd, &p) < 0 || fstat(fd, &st) < 0)
		return 0;
	if (proc_gone(p) || proc_start_wall(p, &start) < 0)
		return 0;
	written = (int64_t)st.st_mtim.tv_sec * 1000000000LL +
	    st.st_mtim.tv_nsec;
	if (start > written)
		return 0;
	*pid = p;
	return 1;
}

int
pidfile_acquire(const char *path, int keep_on_exec, pid_t *holder)
{
	struct flock fl;
	struct stat fst, pst;
	pid_t p;
	int fd, tries;

	for (tries = 0; tries < 100; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY |
		    (keep_on_exec ? 0 : O_CLOEXEC), 0644);
		if (fd < 0)
			return -1;
		if (lock_whole(fd, F_SETLK, &fl) < 0) {
			int e = errno;

			if (e != EACCES && e != EAGAIN) {
				close(fd);
				errno = e;
				return -1;
			}
			if (holder != NULL) {
				*holder = 0;
				if (lock_whole(fd, F_GETLK, &fl) == 0 &&
				    fl.l_type != F_UNLCK)
					*holder = fl.l_pid;
				else if (read_pid_fd(fd, &p) == 0)
					*holder = p;
			}
			close(fd);
			errno = EWOULDBLOCK;
			return -1;
		}
		/* Removed or replaced between open and lock: start over, or
		 * two starters could each lock a different inode. */
		if (fstat(fd, &fst) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		if (lstat(path, &pst) < 0 || pst.st_dev != fst.st_dev ||
		    pst.st_ino != fst.st_ino) {
			close(fd);
			continue;
		}
		/* Lock free, but the previous holder may have closed its fds
		 * and still run. Our own pid (a foreground restart in place)
		 * does not count. */
		if (stored_pid_alive(fd, &p) && p != getpid()) {
			close(fd);
			if (holder != NULL)
				*holder = p;
			errno = EWOULDBLOCK;
			return -1;
		}
		return fd;
	}
	errno = EAGAIN;
	return -1;
}

int
pidfile_write(int fd, pid_t pid)
{
	char buf[32];
	ssize_t n;
	int len;

	len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
	if (ftruncate(fd, 0) < 0)
		return -1;
	do
		n = pwrite(fd, buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int
pidfile_read(const char *path, pid_t *pid)
{
	int fd, r, e;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read_pid_fd(fd, pid);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

int
pidfile_check(const char *path, pid_t *pid)
{
	struct flock fl;
	pid_t p = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return PIDFILE_ABSENT;
		return -1;
	}
	/* F_GETLK needs no write access, so a reader can ask. */
	if (lock_whole(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
		/* The holder's pid, unless it lives in a pid namespace we
		 * cannot see (0): then trust the file. */
		p = fl.l_pid;
		if (p <= 0 && read_pid_fd(fd, &p) < 0)
			p = 0;
		close(fd);
		if (pid != NULL)
			*pid = p;
		return PIDFILE_RUNNING;
	}
	if (stored_pid_alive(fd, &p)) {
		close(fd);
		if (pid != NULL)
			*pid = p;
		return PIDFILE_RUNNING;
	}
	if (pid != NULL && read_pid_fd(fd, &p) == 0)
		*pid = p;
	close(fd);
	return PIDFILE_STALE;
}

int
pidfile_remove(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int
pidfile_discard(const char *path)
{
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if ((fd = pidfile_acquire(path, 0, NULL)) < 0)
		return errno == ENOENT ? 0 : -1;
	r = pidfile_remove(path);
	e = errno;
	close(fd);
	errno = e;
	return r;
}
