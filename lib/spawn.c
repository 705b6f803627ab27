/* spawn: fork + exec with the exec errno reported to the parent.
 *
 * Protocol: the parent makes a close-on-exec pipe before fork. The child
 * sets up fds, session, parent-death signal and signal state, then execs;
 * a successful exec closes the write end, so the parent reads 0 bytes. On
 * any failure the child writes its errno (an int) and _exits; the parent
 * reads it, reaps that child and returns -1 with that errno. All signals
 * are blocked across fork so no handler of the parent ever runs in the
 * child before the dispositions are reset. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parse.h"
#include "spawn.h"

extern char **environ;

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

void
spawn_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* KILL and STOP fail with EINVAL, as do the two real-time signals
	 * glibc reserves for itself; both are harmless. */
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
#ifdef SYS_rt_sigaction
	/* glibc refuses sigaction on the signals it keeps for itself (32
	 * and 33), yet an inherited SIG_IGN on them survives exec. The raw
	 * call takes them: an all-zero kernel sigaction is SIG_DFL, no
	 * flags, empty mask, whatever the architecture's field order. */
	{
		static const unsigned long zero[16];

		for (sig = 32; sig < SIGRTMIN; sig++)
			(void)syscall(SYS_rt_sigaction, sig, zero, NULL,
			    (NSIG - 1) / 8);
	}
#endif
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Close every fd in [lo, hi] (hi inclusive; lo > hi is a no-op). */
static void
close_between(unsigned lo, unsigned hi)
{
	DIR *d;
	struct dirent *e;
	struct rlimit rl;
	long fd, dfd, max, n, i, *v;

	if (lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
#endif
	/* No close_range: close what /proc says is open. Collect first, as
	 * closing while reading the directory would skip entries. */
	d = opendir("/proc/self/fd");
	if (d != NULL) {
		dfd = dirfd(d);
		n = 0;
		v = NULL;
		while ((e = readdir(d)) != NULL) {
			char *end;
			long *nv;

			fd = strtol(e->d_name, &end, 10);
			if (*end != '\0' || end == e->d_name || fd == dfd ||
			    fd < (long)lo || fd > (long)hi)
				continue;
			nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
			v[n++] = fd;
		}
		closedir(d);
		for (i = 0; i < n; i++)
			close((int)v[i]);
		free(v);
		if (e == NULL)
			return;
	}
	/* Last resort: every possible number up to the limit. */
	max = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)max)
		max = (long)rl.rlim_cur;
	for (fd = lo; fd < max && fd <= (long)hi; fd++)
		close((int)fd);
}

void
spawn_close_from(int lowfd)
{
	if (lowfd < 0)
		lowfd = 0;
	close_between((unsigned)lowfd, ~0U);
}

int
spawn_exec_status(int err)
{
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

int
spawn_wait_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 125;
}

char *
spawn_status_text(int wstatus, char *buf, size_t size)
{
	char name[32];
	int code;

	if (WIFEXITED(wstatus)) {
		code = WEXITSTATUS(wstatus);
		snprintf(buf, size, "exited with status %d%s", code,
		    code == 127 ? " (a command was not found)" :
		    code == 126 ? " (a command could not run)" : "");
	} else if (WIFSIGNALED(wstatus)) {
		snprintf(buf, size, "killed by signal %s%s",
		    signal_name(WTERMSIG(wstatus), name, sizeof(name)),
		    WCOREDUMP(wstatus) ? " (core dumped)" : "");
	} else {
		snprintf(buf, size, "ended with status 0x%x", wstatus);
	}
	return buf;
}

int
spawn_siginfo_status(const siginfo_t *si)
{
	/* Linux's encoding (glibc's W_EXITCODE, and 0x80 for a core). */
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_KILLED:
		return si->si_status & 0x7f;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	}
	return -1;
}

/* If path is a #! script, split its first line into interpreter and
 * optional argument (the rest of the line, as Linux does). Returns 1 with
 * *interp and *arg (NULL when none) malloc'd in one block, 0 when it is
 * not a script, -1 with errno when the file cannot be exec'd at all. */
static int
read_shebang(const char *path, char **interp, char **arg)
{
	char buf[256], *p, *end, *copy;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* let execve give the real reason */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
		;
	close(fd);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	/* The kernel would refuse a script without exec permission. */
	if (access(path, X_OK) < 0)
		return -1;
	buf[n] = '\0';
	end = strchr(buf, '\n');
	if (end == NULL) {
		errno = ENOEXEC;	/* first line too long */
		return -1;
	}
	*end = '\0';
	p = buf + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (*p == '\0') {
		errno = ENOEXEC;
		return -1;
	}
	copy = strdup(p);
	if (copy == NULL)
		return -1;
	*interp = copy;
	*arg = NULL;
	for (p = copy; *p != '\0' && *p != ' ' && *p != '\t'; p++)
		;
	if (*p != '\0') {
		*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0')
			*arg = p;
	}
	return 1;
}

static size_t
count_args(char *const argv[])
{
	size_t n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

/* The most words a "#!/usr/bin/env -S ..." line is split into. */
#define ENV_WORDS 16

/* For "#!/usr/bin/env NAME" or "#!/usr/bin/env -S NAME ARG...": split
 * arg (the rest of the #! line, modified in place) into w[], NAME first.
 * Returns the number of words, or 0 when interp is not env or the line
 * uses what env does beyond a PATH search (options other than -S,
 * NAME=VALUE assignments, quotes, escapes, ${VAR}): then env itself is
 * run, as the kernel would. */
static size_t
env_words(const char *interp, char *arg, char *w[ENV_WORDS])
{
	const char *base = strrchr(interp, '/');
	size_t n = 0;
	char *p;

	base = base != NULL ? base + 1 : interp;
	if (strcmp(base, "env") != 0 || arg == NULL)
		return 0;
	if (strncmp(arg, "-S", 2) != 0) {
		/* Linux passes the rest of the line as one argument. */
		if (strpbrk(arg, " \t=") != NULL || arg[0] == '-')
			return 0;
		w[0] = arg;
		return 1;
	}
	if (strpbrk(arg + 2, "\"'\\$") != NULL)
		return 0;
	for (p = arg + 2;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (n == ENV_WORDS)
			return 0;
		w[n++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
	}
	if (n == 0 || w[0][0] == '-' || strchr(w[0], '=') != NULL)
		return 0;
	return n;
}

/* Find name as execvp would under the PATH of envp. Returns a malloc'd
 * path of an executable regular file, or NULL. */
static char *
env_find(const char *name, char *const envp[])
{
	const char *path = DEFAULT_PATH, *p, *colon;
	struct stat st;
	size_t dlen, len = strlen(name);
	char *buf;
	int i;

	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	for (i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0) {
			path = envp[i] + 5;
			break;
		}
	buf = malloc(strlen(path) + len + 3);
	if (buf == NULL)
		return NULL;
	for (p = path;; p = colon + 1) {
		colon = strchr(p, ':');
		if (colon == NULL)
			colon = p + strlen(p);
		dlen = (size_t)(colon - p);
		if (dlen == 0) {
			buf[0] = '.';
			dlen = 1;
		} else {
			memcpy(buf, p, dlen);
		}
		buf[dlen] = '/';
		memcpy(buf + dlen + 1, name, len + 1);
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0)
			return buf;
		if (*colon == '\0')
			break;
	}
	free(buf);
	return NULL;
}

/* Run a "#!/usr/bin/env NAME" script at path through NAME directly, with
 * argv {argv0, [words after NAME], path, args...}, so that argv[0] stays
 * the title (env would exec NAME with argv[0] = NAME). Returns only when
 * that is not possible (not an env line, NAME not found, exec failed):
 * the caller then runs interp as the kernel would. */
static void
exec_env_script(const char *path, const char *interp, char *arg,
    char *const args[], char *const envp[])
{
	char *w[ENV_WORDS], *found, **v;
	size_t nw, n, i, k;
	int e = errno;

	nw = env_words(interp, arg, w);
	if (nw == 0)
		return;
	found = env_find(w[0], envp);
	if (found == NULL) {
		errno = e;
		return;
	}
	n = count_args(args);
	v = malloc((n + nw + 2) * sizeof(*v));
	if (v != NULL) {
		k = 0;
		v[k++] = args[0];
		for (i = 1; i < nw; i++)
			v[k++] = w[i];
		v[k++] = (char *)path;
		for (i = 1; i < n; i++)
			v[k++] = args[i];
		v[k] = NULL;
		execve(found, v, envp);
		free(v);
	}
	free(found);
	errno = e;
}

/* One exec attempt of a full path. argv[0] of `args` is already the
 * caller's argv0 when override is set. */
static void
exec_path(const char *path, char *const args[], int override,
    char *const envp[])
{
	char *interp, *arg, **v;
	size_t n, i, k;
	int r;

	if (override) {
		r = read_shebang(path, &interp, &arg);
		if (r < 0)
			return;
		if (r > 0) {
			/* "#!/usr/bin/env NAME": run NAME itself. Else argv
			 * {argv0, [arg], script, args...} for the interpreter,
			 * so argv[0] stays the chosen title. env_words splits
			 * arg in place only when it succeeds, and then a
			 * failed NAME exec falls back to env with the split
			 * arg: restore it from the line first. */
			if (arg != NULL) {
				char *saved = strdup(arg);

				if (saved != NULL) {
					exec_env_script(path, interp, arg,
					    args, envp);
					strcpy(arg, saved);
					free(saved);
				}
			}
			n = count_args(args);
			v = malloc((n + 3) * sizeof(*v));
			if (v == NULL) {
				free(interp);
				return;
			}
			k = 0;
			v[k++] = args[0];
			if (arg != NULL)
				v[k++] = arg;
			v[k++] = (char *)path;
			for (i = 1; i < n; i++)
				v[k++] = args[i];
			v[k] = NULL;
			execve(interp, v, envp);
			r = errno;
			free(v);
			free(interp);
			errno = r;
			return;
		}
	}
	execve(path, args, envp);
}

int
spawn_exec(char *const argv[], const char *argv0, char *const envp[])
{
	char **args, *buf;
	const char *path, *p, *colon;
	size_t n, len, dlen;
	int saw_eacces = 0, err;

	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (envp == NULL)
		envp = environ;
	n = count_args(argv);
	args = malloc((n + 1) * sizeof(*args));
	if (args == NULL)
		return -1;
	memcpy(args, argv, (n + 1) * sizeof(*args));
	if (argv0 != NULL)
		args[0] = (char *)argv0;

	if (strchr(argv[0], '/') != NULL) {
		exec_path(argv[0], args, argv0 != NULL, envp);
		err = errno;
		free(args);
		errno = err;
		return -1;
	}

	path = getenv("PATH");
	if (path == NULL)
		path = DEFAULT_PATH;
	len = strlen(argv[0]);
	buf = malloc(strlen(path) + len + 2);
	if (buf == NULL) {
		free(args);
		return -1;
	}
	err = ENOENT;
	for (p = path;; p = colon + 1) {
		colon = strchr(p, ':');
		if (colon == NULL)
			colon = p + strlen(p);
		dlen = (size_t)(colon - p);
		if (dlen == 0) {	/* empty entry: current directory */
			memcpy(buf, argv[0], len + 1);
		} else {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, argv[0], len + 1);
		}
		exec_path(buf, args, argv0 != NULL, envp);
		switch (errno) {
		case EACCES:
			saw_eacces = 1;
			/* FALLTHROUGH */
		case ENOENT:
		case ENOTDIR:
		case ELOOP:
		case ENAMETOOLONG:
		case ENODEV:
		case ETIMEDOUT:
		case ESTALE:
			break;
		default:
			/* Found but not runnable (ENOEXEC, ETXTBSY, ...). */
			err = errno;
			goto out;
		}
		if (*colon == '\0')
			break;
	}
	err = saw_eacces ? EACCES : ENOENT;
out:
	free(buf);
	free(args);
	errno = err;
	return -1;
}

/* Report errno on the error pipe and end the child. */
static void
child_fail(int efd)
{
	int e = errno;
	ssize_t r;

	do
		r = write(efd, &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	_exit(127);
}

/* Put o->in/out/err on 0/1/2 and o->pass on 3.. without clobbering a
 * source that sits on a target number: everything is first duplicated
 * above all sources and targets, then moved down. efd (the error pipe)
 * is kept open above the passed fds. Returns the new efd or -1. */
static int
child_fds(const struct spawn_opts *o, int efd)
{
	int src[3], hi, i, n, *tmp, fd;

	src[0] = o->in;
	src[1] = o->out;
	src[2] = o->err;
	n = o->npass > 0 ? o->npass : 0;
	hi = 3 + n;
	for (i = 0; i < 3; i++)
		if (src[i] > hi)
			hi = src[i];
	for (i = 0; i < n; i++)
		if (o->pass[i] > hi)
			hi = o->pass[i];
	if (efd > hi)
		hi = efd;
	tmp = malloc((size_t)(3 + n) * sizeof(*tmp));
	if (tmp == NULL)
		return -1;
	for (i = 0; i < 3 + n; i++) {
		int s = i < 3 ? src[i] : o->pass[i - 3];

		tmp[i] = -1;
		if (s < 0)
			continue;
		tmp[i] = fcntl(s, F_DUPFD_CLOEXEC, hi + 1);
		if (tmp[i] < 0)
			return -1;
	}
	fd = fcntl(efd, F_DUPFD_CLOEXEC, hi + 1);
	if (fd < 0)
		return -1;
	close(efd);
	efd = fd;
	/* dup2 clears close-on-exec on the target. */
	for (i = 0; i < 3 + n; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
			return -1;
	/* Inherited 0/1/2 must survive exec even if they were marked
	 * close-on-exec by the caller. */
	for (i = 0; i < 3; i++)
		if (tmp[i] < 0 && fcntl(i, F_GETFD) > 0)
			(void)fcntl(i, F_SETFD, 0);
	free(tmp);
	/* Everything else goes, except the error pipe (close-on-exec). */
	close_between((unsigned)(3 + n), (unsigned)efd - 1);
	close_between((unsigned)efd + 1, ~0U);
	return efd;
}

static void
child_run(char *const argv[], const struct spawn_opts *o, int efd,
    pid_t parent)
{
	if (o->setsid) {
		if (setsid() < 0)
			child_fail(efd);
	} else if (o->setpgid) {
		if (setpgid(0, 0) < 0)
			child_fail(efd);
	}
	if (o->pdeathsig > 0) {
		if (prctl(PR_SET_PDEATHSIG, o->pdeathsig) < 0)
			child_fail(efd);
		/* The parent may have died before prctl took effect. */
		if (getppid() != parent) {
			errno = ESRCH;
			child_fail(efd);
		}
	}
	efd = child_fds(o, efd);
	if (efd < 0)
		_exit(127);	/* cannot even report it */
	if (o->dir != NULL && chdir(o->dir) < 0)
		child_fail(efd);
	if (o->hook != NULL && o->hook(o->hook_arg) < 0)
		child_fail(efd);
	spawn_reset_signals();
	spawn_exec(argv, o->argv0, o->envp);
	child_fail(efd);
}

pid_t
spawn_fork(char *const argv[], const struct spawn_opts *opts, int *report)
{
	static const struct spawn_opts defaults = {
		.in = -1, .out = -1, .err = -1,
	};
	const struct spawn_opts *o = opts ? opts : &defaults;
	sigset_t all, old;
	pid_t pid, parent = getpid();
	int pfd[2], e;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child_run(argv, o, pfd[1], parent);
	}
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Closed before any later fork, so only this child holds it. */
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		errno = e;
		return -1;
	}
	*report = pfd[0];
	return pid;
}

int
spawn_report(int fd)
{
	ssize_t n;
	int e;

	do
		n = read(fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(e))
		e = n < 0 ? errno : EIO;
	errno = e;
	return -1;
}

pid_t
spawn_start(char *const argv[], const struct spawn_opts *opts)
{
	pid_t pid;
	int fd, e, st;

	if ((pid = spawn_fork(argv, opts, &fd)) < 0)
		return -1;
	if (spawn_report(fd) == 0) {
		close(fd);
		return pid;
	}
	e = errno;
	close(fd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	errno = e;
	return -1;
}
