/* cgroup: cgroup v2 containment (see cgroup.h for the life cycle).
 *
 * Kernel facts this module leans on:
 * - The cgroup2 mount is found in /proc/self/mountinfo (hybrid layouts
 *   put it at /sys/fs/cgroup/unified, pure v2 at /sys/fs/cgroup); the
 *   caller's cgroup is the "0::" line of /proc/self/cgroup.
 * - Writing "0" to cgroup.procs moves the writer itself; done between
 *   fork and exec, every later descendant is born inside.
 * - cgroup.events is a kernfs file: poll() reports it readable at all
 *   times, so it cannot sit in a POLLIN loop. A change of its values
 *   also raises an inotify IN_MODIFY, which can: that is the wake-up.
 * - Writing "1" to cgroup.kill (5.14+) KILLs the whole subtree at once,
 *   racing no fork. Without it, freezing the cgroup stops forks; KILL
 *   reaches frozen tasks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"

/* Read a small file whole into buf (NUL-terminated). Returns the length
 * or -1 with errno. */
static ssize_t
slurp(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;
	int fd, err;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (n < size - 1) {
		r = read(fd, buf + n, size - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Write a short string to dir/file. 0 or -1 with errno. */
static int
put(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	ssize_t r;
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path))
		return errno = ENAMETOOLONG, -1;
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((r = write(fd, val, strlen(val))) < 0 && errno == EINTR)
		;
	err = errno;
	close(fd);
	errno = err;
	return r < 0 ? -1 : 0;
}

static int
copy(char *buf, size_t size, const char *a, const char *b)
{
	if ((size_t)snprintf(buf, size, "%s%s", a, b) >= size)
		return errno = ENAMETOOLONG, -1;
	return 0;
}

int
cgroup_mount(char *buf, size_t size)
{
	char line[4096], *f[10], *s, *dash;
	FILE *fp;
	int i, found = 0;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	/* id parent major:minor root mountpoint options... - fstype ... */
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		if ((dash = strstr(line, " - ")) == NULL ||
		    strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		*dash = '\0';
		s = line;
		for (i = 0; i < 5 && (f[i] = strsep(&s, " ")) != NULL; i++)
			;
		if (i < 5)
			continue;
		found = 1;
		if (strlen(f[4]) >= size) {
			fclose(fp);
			return errno = ENAMETOOLONG, -1;
		}
		/* Mount points escape blanks as \040; pkit needs none. */
		strcpy(buf, f[4]);
	}
	fclose(fp);
	return found ? 0 : (errno = ENOENT, -1);
}

/* The "0::" line of a /proc/.../cgroup file, under the mount. */
static int
cgroup_in(const char *file, char *buf, size_t size)
{
	char mnt[PATH_MAX], text[8192], *line, *s;

	if (cgroup_mount(mnt, sizeof(mnt)) < 0)
		return -1;
	if (slurp(file, text, sizeof(text)) < 0)
		return -1;
	for (s = text; (line = strsep(&s, "\n")) != NULL; )
		if (strncmp(line, "0::", 3) == 0)
			return copy(buf, size, mnt, strcmp(line + 3, "/") == 0 ?
			    "" : line + 3);
	return errno = ENOENT, -1;
}

int
cgroup_self(char *buf, size_t size)
{
	return cgroup_in("/proc/self/cgroup", buf, size);
}

int
cgroup_of(pid_t pid, char *buf, size_t size)
{
	char file[64];

	snprintf(file, sizeof(file), "/proc/%ld/cgroup", (long)pid);
	return cgroup_in(file, buf, size);
}

static int
is_cgroup_dir(const char *dir)
{
	char path[PATH_MAX];

	return snprintf(path, sizeof(path), "%s/cgroup.procs", dir) <
	    (int)sizeof(path) && access(path, F_OK) == 0;
}

int
cgroup_resolve(const char *spec, char *buf, size_t size)
{
	char mnt[PATH_MAX];

	if (is_cgroup_dir(spec))
		return copy(buf, size, spec, "");
	if (spec[0] == '/' && cgroup_mount(mnt, sizeof(mnt)) == 0 &&
	    copy(buf, size, mnt, strcmp(spec, "/") == 0 ? "" : spec) == 0 &&
	    is_cgroup_dir(buf))
		return 0;
	return errno = ENOENT, -1;
}

void
cgroup_free(struct cgroup *cg)
{
	if (cg->procs >= 0)
		close(cg->procs);
	free(cg->path);
	free(cg->procs_path);
	cg->path = cg->procs_path = NULL;
	cg->procs = -1;
}

int
cgroup_create(const char *parent, const char *name, struct cgroup *cg)
{
	char own[PATH_MAX], dir[PATH_MAX], procs[PATH_MAX + 16];
	int n, err;

	cg->path = cg->procs_path = NULL;
	cg->procs = -1;
	if (parent == NULL) {
		if (cgroup_self(own, sizeof(own)) < 0)
			return -1;
		parent = own;
	} else if (!is_cgroup_dir(parent)) {
		/* Say why: missing, or a directory of another kind. */
		return errno = access(parent, F_OK) == 0 ? ENOTDIR : ENOENT,
		    -1;
	}
	for (n = 0; ; n++) {
		if ((n == 0 ? snprintf(dir, sizeof(dir), "%s/%s.%ld", parent,
		    name, (long)getpid()) : snprintf(dir, sizeof(dir),
		    "%s/%s.%ld.%d", parent, name, (long)getpid(), n)) >=
		    (int)sizeof(dir))
			return errno = ENAMETOOLONG, -1;
		if (mkdir(dir, 0755) == 0)
			break;
		if (errno != EEXIST || n == 100)
			return -1;
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	if ((cg->procs = open(procs, O_WRONLY | O_CLOEXEC)) < 0 ||
	    (cg->path = strdup(dir)) == NULL ||
	    (cg->procs_path = strdup(procs)) == NULL) {
		err = errno;
		cgroup_free(cg);
		rmdir(dir);
		errno = err;
		return -1;
	}
	return 0;
}

int
cgroup_attach(const struct cgroup *cg, pid_t pid)
{
	char num[24];
	ssize_t r;
	int fd, err, n;

	n = snprintf(num, sizeof(num), "%ld", (long)pid);
	/* Opened afresh: in a forked child the parent's fd may be gone. */
	if ((fd = open(cg->procs_path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((r = write(fd, num, (size_t)n)) < 0 && errno == EINTR)
		;
	err = errno;
	close(fd);
	errno = err;
	return r < 0 ? -1 : 0;
}

int
cgroup_enter(const struct cgroup *cg)
{
	return cgroup_attach(cg, 0);
}

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int
cgroup_pids(const char *dir, pid_t **pids)
{
	char path[PATH_MAX], *buf = NULL, *nb, *s, *e;
	size_t n = 0, cap = 0, len = 0, vcap = 0;
	pid_t *v = NULL, *nv;
	ssize_t r;
	long pid;
	int fd, err;

	*pids = NULL;
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >=
	    (int)sizeof(path))
		return errno = ENAMETOOLONG, -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* The whole file first: a number may straddle two reads. */
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	for (s = buf; *s != '\0'; s = e) {
		pid = strtol(s, &e, 10);
		if (e == s) {
			e = s + 1;
			continue;
		}
		if (n == vcap) {
			vcap = vcap ? vcap * 2 : 64;
			if ((nv = realloc(v, vcap * sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		v[n++] = (pid_t)pid;
	}
	close(fd);
	free(buf);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_pid);
	*pids = v;
	return (int)n;
fail:
	err = errno;
	close(fd);
	free(buf);
	free(v);
	errno = err;
	return -1;
}

static int
has_pid(const pid_t *v, int n, pid_t pid)
{
	return n > 0 && bsearch(&pid, v, (size_t)n, sizeof(pid), cmp_pid) !=
	    NULL;
}

int
cgroup_signal(const struct cgroup *cg, int sig)
{
	pid_t *done = NULL, *now, *nd;
	int ndone = 0, n, i, fresh, hit = 0, pass, err;

	/* Sweep until a pass finds no pid not already signalled: a child
	 * forked during one sweep is caught by the next. */
	for (pass = 0; pass < 100; pass++) {
		if ((n = cgroup_pids(cg->path, &now)) < 0) {
			err = errno;
			free(done);
			errno = err;
			return -1;
		}
		fresh = 0;
		for (i = 0; i < n; i++) {
			if (has_pid(done, ndone, now[i]))
				continue;
			if (kill(now[i], sig) == 0)
				hit++;
			fresh = 1;
		}
		if (!fresh) {
			free(now);
			break;
		}
		/* Everything seen so far counts as done from now on. */
		if ((nd = realloc(done, (size_t)(ndone + n) *
		    sizeof(*nd))) == NULL) {
			free(now);
			free(done);
			return -1;
		}
		done = nd;
		memcpy(done + ndone, now, (size_t)n * sizeof(*now));
		ndone += n;
		qsort(done, (size_t)ndone, sizeof(*done), cmp_pid);
		free(now);
	}
	free(done);
	return hit;
}

int
cgroup_kill(const struct cgroup *cg)
{
	if (put(cg->path, "cgroup.kill", "1") == 0)
		return 0;
	if (errno != ENOENT && errno != EINVAL)
		return -1;
	return cgroup_kill_frozen(cg);
}

int
cgroup_kill_frozen(const struct cgroup *cg)
{
	int r, err;

	/* Before 5.14: freeze (no fork can slip past), KILL, thaw. KILL
	 * reaches frozen tasks. Without cgroup.freeze (before 5.2) the
	 * repeated sweeps of cgroup_signal are what is left. */
	(void)put(cg->path, "cgroup.freeze", "1");
	r = cgroup_signal(cg, SIGKILL);
	err = errno;
	(void)put(cg->path, "cgroup.freeze", "0");
	errno = err;
	return r < 0 ? -1 : 0;
}

int
cgroup_populated(const struct cgroup *cg)
{
	char path[PATH_MAX], buf[512], *s;

	if (snprintf(path, sizeof(path), "%s/cgroup.events", cg->path) >=
	    (int)sizeof(path))
		return errno = ENAMETOOLONG, -1;
	if (slurp(path, buf, sizeof(buf)) < 0)
		return -1;
	if ((s = strstr(buf, "populated ")) == NULL)
		return errno = EINVAL, -1;
	return s[10] == '1';
}

int
cgroup_watch(const struct cgroup *cg)
{
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/cgroup.events", cg->path) >=
	    (int)sizeof(path))
		return errno = ENAMETOOLONG, -1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return -1;
	if (inotify_add_watch(fd, path, IN_MODIFY) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

void
cgroup_watch_drain(int fd)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int
cgroup_wait_empty(const struct cgroup *cg, int64_t until)
{
	struct pollfd pf;
	int64_t left;
	int fd, r, t, err;

	if ((fd = cgroup_watch(cg)) < 0)
		return -1;
	pf.fd = fd;
	pf.events = POLLIN;
	for (;;) {
		if ((r = cgroup_populated(cg)) <= 0)
			break;
		t = -1;
		if (until >= 0) {
			left = until - clock_mono();
			if (left <= 0) {
				r = -1;
				errno = ETIMEDOUT;
				break;
			}
			left = (left + NS_PER_MS - 1) / NS_PER_MS;
			t = left > INT_MAX ? INT_MAX : (int)left;
		}
		if (poll(&pf, 1, t) < 0 && errno != EINTR) {
			r = -1;
			break;
		}
		cgroup_watch_drain(fd);
	}
	err = errno;
	close(fd);
	errno = err;
	return r < 0 ? -1 : 0;
}

int
cgroup_remove(struct cgroup *cg)
{
	int r = 0, err = 0;

	if (cg->path != NULL && rmdir(cg->path) < 0) {
		r = -1;
		err = errno;
	}
	cgroup_free(cg);
	errno = err;
	return r;
}

int
cgroup_setup(const char *spec, const char *name, struct cgroup *cg,
    int *watch, int *step)
{
	char dir[PATH_MAX];
	int err;

	cg->path = cg->procs_path = NULL;
	cg->procs = -1;
	if (watch != NULL)
		*watch = -1;
	*step = CGROUP_AT_RESOLVE;
	if (spec != NULL && cgroup_resolve(spec, dir, sizeof(dir)) < 0)
		return -1;
	*step = CGROUP_AT_CREATE;
	if (cgroup_create(spec != NULL ? dir : NULL, name, cg) < 0)
		return -1;
	*step = CGROUP_AT_WATCH;
	if (watch != NULL && (*watch = cgroup_watch(cg)) < 0) {
		err = errno;
		(void)cgroup_remove(cg);
		errno = err;
		return -1;
	}
	*step = 0;
	return 0;
}

int
cgroup_open(const char *path, struct cgroup *cg, uid_t *uid)
{
	char mnt[PATH_MAX], real[PATH_MAX], procs[PATH_MAX + 16];
	struct stat st;
	size_t n;

	cg->path = cg->procs_path = NULL;
	cg->procs = -1;
	if (cgroup_mount(mnt, sizeof(mnt)) < 0)
		return -1;
	n = strlen(mnt);
	/* Strictly below the mount, and named by its real path: a link
	 * or a ".." could lead a recorded name anywhere. */
	if (strncmp(path, mnt, n) != 0 || path[n] != '/' || path[n + 1] ==
	    '\0')
		return errno = EINVAL, -1;
	if (realpath(path, real) == NULL)
		return -1;
	if (strcmp(real, path) != 0 || !is_cgroup_dir(path) ||
	    lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return errno = EINVAL, -1;
	if (uid != NULL)
		*uid = st.st_uid;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	if ((cg->path = strdup(path)) == NULL ||
	    (cg->procs_path = strdup(procs)) == NULL) {
		cgroup_free(cg);
		return errno = ENOMEM, -1;
	}
	return 0;
}

int
cgroup_leave(struct cgroup *cg)
{
	char parent[PATH_MAX], *slash;
	int err;

	if (cg->path == NULL || strlen(cg->path) >= sizeof(parent)) {
		cgroup_free(cg);
		return errno = EINVAL, -1;
	}
	strcpy(parent, cg->path);
	if ((slash = strrchr(parent, '/')) == NULL || slash == parent) {
		cgroup_free(cg);
		return errno = EINVAL, -1;
	}
	*slash = '\0';
	if (put(parent, "cgroup.procs", "0") < 0) {
		err = errno;
		cgroup_free(cg);
		errno = err;
		return -1;
	}
	return cgroup_remove(cg);
}

int
cgroup_has_kill(const struct cgroup *cg)
{
	char path[PATH_MAX];

	return snprintf(path, sizeof(path), "%s/cgroup.kill", cg->path) <
	    (int)sizeof(path) && access(path, F_OK) == 0;
}

/* Only root can set trusted.*; user.* only on a file one may write. */
static const char *
record_name(void)
{
	return geteuid() == 0 ? "trusted.pkit.cgroup" : "user.pkit.cgroup";
}

int
cgroup_record(int fd, pid_t pid, const struct cgroup *cg)
{
	char val[PATH_MAX + 32];
	int n;

	n = snprintf(val, sizeof(val), "%ld %s", (long)pid, cg->path);
	if (n < 0 || n >= (int)sizeof(val))
		return errno = ENAMETOOLONG, -1;
	return fsetxattr(fd, record_name(), val, (size_t)n, 0);
}

int
cgroup_recorded(int fd, pid_t pid, char *buf, size_t size)
{
	char val[PATH_MAX + 32], *end;
	ssize_t n;
	long v;

	if ((n = fgetxattr(fd, record_name(), val, sizeof(val) - 1)) < 0)
		return -1;
	val[n] = '\0';
	errno = 0;
	v = strtol(val, &end, 10);
	if (errno != 0 || end == val || *end != ' ' || end[1] != '/' ||
	    memchr(val, '\0', (size_t)n) != NULL)
		return errno = EINVAL, -1;
	if (v != (long)pid)
		return errno = ENODATA, -1;
	return copy(buf, size, end + 1, "");
}
