/* qflip: flip every byte of a queue directory in turn and judge what a
 * command makes of each damaged copy.
 *
 *   qflip [-t MS] [-s STEP] [-r FILE:FROM:TO]... SRC WORK PUSHED
 *         REMAINING -- COMMAND [ARG]...
 *
 * For each regular file of SRC (sorted) and each offset in it (with -r:
 * only offsets FROM to TO inclusive of the files named; with -s: only
 * multiples of STEP): WORK is
 * made a fresh copy of SRC (its files, and an empty lease/), the byte at
 * that offset is XORed with 0xff, and COMMAND runs with stdin /dev/null,
 * stdout WORK.out and stderr WORK.err, KILLed after MS ms (default 5000).
 * PUSHED holds every message ever pushed to SRC and REMAINING what an
 * intact SRC pops, one per line. A run is a violation when COMMAND
 *   - is killed by a signal (crash) or by the timeout (hang),
 *   - exits other than 0, 1 or 3 (pqueue's documented statuses),
 *   - prints a line that is not in PUSHED (wrong or torn data) or prints
 *     one twice,
 *   - writes a stderr line that does not start with "pqueue: ",
 *   - fails, or prints other than REMAINING, with nothing on stderr
 *     (silently wrong).
 * Each violation is one line on stdout: "FILE OFFSET: what"; then one
 * line "runs N: intact A, warned B, refused C, redelivered D,
 * violations V" (warned: exit 0 with a message; refused: exit 1 or 3;
 * redelivered: runs that printed a message of PUSHED that is not in
 * REMAINING). Exit 0 when there was no violation, 1 otherwise, 2 for a
 * usage or setup error. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct lines {
	char *buf;
	char **v;
	size_t n;
};

static void
fail(const char *what)
{
	fprintf(stderr, "qflip: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char *
slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t r;
	int fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fail(path);
	do {
		if (cap - *len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap + 1)) == NULL)
				fail("realloc");
		}
		r = read(fd, buf + *len, cap - *len);
		if (r < 0)
			fail(path);
		*len += (size_t)r;
	} while (r > 0);
	close(fd);
	buf[*len] = '\0';
	return buf;
}

/* The lines of path (a last line without its newline counts too). */
static void
read_lines(const char *path, struct lines *l)
{
	size_t len, cap = 0;
	char *buf, *p, *nl;

	buf = l->buf = slurp(path, &len);
	l->v = NULL;
	l->n = 0;
	for (p = buf; p < buf + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			nl = buf + len;
		*nl = '\0';
		if (l->n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((l->v = realloc(l->v, cap * sizeof(*l->v))) == NULL)
				fail("realloc");
		}
		l->v[l->n++] = p;
	}
}

static int
has(const struct lines *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static void
clean(const char *d)
{
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *dp;

	if ((dp = opendir(d)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, de->d_name);
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			clean(path);
			if (rmdir(path) < 0)
				fail(path);
		} else if (unlink(path) < 0) {
			fail(path);
		}
	}
	closedir(dp);
}

static void
put(const char *path, const char *data, size_t len)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0)
		fail(path);
}

struct range {
	char name[256];
	size_t from, to;
};
static struct range ranges[16];
static size_t nranges, step = 1;

static int
chosen(const char *name, size_t off)
{
	size_t i;

	if (off % step != 0)
		return 0;
	if (nranges == 0)
		return 1;
	for (i = 0; i < nranges; i++)
		if (strcmp(ranges[i].name, name) == 0 &&
		    off >= ranges[i].from && off <= ranges[i].to)
			return 1;
	return 0;
}

static int
range_parse(const char *arg)
{
	struct range *r = &ranges[nranges];
	const char *c = strchr(arg, ':');
	unsigned long long from, to;

	if (nranges == 16 || c == NULL || (size_t)(c - arg) >= sizeof(r->name) ||
	    sscanf(c + 1, "%llu:%llu", &from, &to) != 2 || from > to)
		return -1;
	memcpy(r->name, arg, (size_t)(c - arg));
	r->name[c - arg] = '\0';
	r->from = (size_t)from;
	r->to = (size_t)to;
	nranges++;
	return 0;
}

struct file {
	char name[256];
	char *data;
	size_t len;
};

/* Run argv; its wait status, or -1 when it was killed after ms. */
static int
run(char **argv, const char *out, const char *err, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	sigset_t chld;
	pid_t pid;
	int st, fd, timed_out = 0;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if ((pid = fork()) < 0)
		fail("fork");
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		if ((fd = open("/dev/null", O_RDONLY)) < 0 || dup2(fd, 0) < 0 ||
		    (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    dup2(fd, 1) < 0 ||
		    (fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(124);
		execvp(argv[0], argv);
		_exit(127);
	}
	/* SIGCHLD is blocked (main): it stays pending until taken here. */
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (sigtimedwait(&chld, NULL, &ts) < 0 && errno == EAGAIN) {
			kill(pid, SIGKILL);
			timed_out = 1;
			if (waitpid(pid, &st, 0) < 0)
				fail("waitpid");
			break;
		}
	}
	return timed_out ? -1 : st;
}

int
main(int argc, char **argv)
{
	struct lines pushed, remaining, out, err;
	struct file files[16];
	struct dirent **ents;
	char path[8192], outp[4096], errp[4096];
	unsigned long runs = 0, intact = 0, warned = 0, refused = 0;
	unsigned long redelivered = 0, bad = 0;
	long ms = 5000;
	size_t nf = 0, f, off, i, j;
	sigset_t chld;
	int n, k, st, code, quiet, redeliv;
	const char *what;

	while (argc > 2 && (strcmp(argv[1], "-t") == 0 ||
	    strcmp(argv[1], "-s") == 0 || strcmp(argv[1], "-r") == 0)) {
		if (argv[1][1] == 't')
			ms = atol(argv[2]);
		else if (argv[1][1] == 's')
			step = (size_t)atol(argv[2]);
		else if (range_parse(argv[2]) < 0)
			ms = 0;		/* a usage error below */
		argv += 2;
		argc -= 2;
	}
	if (argc < 7 || strcmp(argv[5], "--") != 0 || ms <= 0 || step == 0) {
		fputs("usage: qflip [-t MS] [-s STEP] [-r FILE:FROM:TO]... SRC WORK "
		    "PUSHED REMAINING -- COMMAND [ARG]...\n", stderr);
		return 2;
	}
	read_lines(argv[3], &pushed);
	read_lines(argv[4], &remaining);
	if ((n = scandir(argv[1], &ents, NULL, alphasort)) < 0)
		fail(argv[1]);
	for (k = 0; k < n; k++) {
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", argv[1], ents[k]->d_name);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && nf < 16) {
			snprintf(files[nf].name, sizeof(files[nf].name), "%s",
			    ents[k]->d_name);
			files[nf].data = slurp(path, &files[nf].len);
			nf++;
		}
		free(ents[k]);
	}
	free(ents);
	snprintf(outp, sizeof(outp), "%s.out", argv[2]);
	snprintf(errp, sizeof(errp), "%s.err", argv[2]);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if (mkdir(argv[2], 0700) < 0 && errno != EEXIST)
		fail(argv[2]);
	for (f = 0; f < nf; f++)
	for (off = 0; off < files[f].len; off++) {
		if (!chosen(files[f].name, off))
			continue;
		clean(argv[2]);
		for (i = 0; i < nf; i++) {
			snprintf(path, sizeof(path), "%s/%s", argv[2],
			    files[i].name);
			files[f].data[off] ^= (char)0xff;
			if (i == f)
				put(path, files[i].data, files[i].len);
			files[f].data[off] ^= (char)0xff;
			if (i != f)
				put(path, files[i].data, files[i].len);
		}
		snprintf(path, sizeof(path), "%s/lease", argv[2]);
		if (mkdir(path, 0700) < 0)
			fail(path);
		st = run(argv + 6, outp, errp, ms);
		runs++;
		read_lines(outp, &out);
		read_lines(errp, &err);
		code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		quiet = err.n == 0;
		what = NULL;
		redeliv = 0;
		if (st < 0)
			what = "hang (killed after the timeout)";
		else if (WIFSIGNALED(st))
			what = "crash (killed by a signal)";
		else if (code != 0 && code != 1 && code != 3)
			what = "undocumented exit status";
		for (i = 0; what == NULL && i < out.n; i++) {
			if (!has(&pushed, out.v[i]))
				what = "printed a line never pushed";
			for (j = 0; j < i; j++)
				if (strcmp(out.v[i], out.v[j]) == 0)
					what = "printed a message twice";
			if (!has(&remaining, out.v[i]))
				redeliv = 1;
		}
		for (i = 0; what == NULL && i < err.n; i++)
			if (strncmp(err.v[i], "pqueue: ", 8) != 0)
				what = "a stderr line not starting with \"pqueue: \"";
		if (what == NULL && quiet && code != 0)
			what = "failed without a message";
		if (what == NULL && quiet) {
			if (out.n != remaining.n)
				what = "silently printed other messages";
			for (i = 0; what == NULL && i < out.n; i++)
				if (strcmp(out.v[i], remaining.v[i]) != 0)
					what = "silently printed other messages";
		}
		if (what != NULL) {
			bad++;
			printf("%s %zu: %s (status %d, %zu lines out; %s)\n",
			    files[f].name, off, what, code, out.n,
			    err.n ? err.v[0] : "no stderr");
		} else if (code != 0) {
			refused++;
		} else if (quiet) {
			intact++;
		} else {
			warned++;
		}
		redelivered += (unsigned long)redeliv;
		free(out.v);
		free(out.buf);
		free(err.v);
		free(err.buf);
	}
	for (f = 0; f < nf; f++)
		free(files[f].data);
	free(pushed.v);
	free(pushed.buf);
	free(remaining.v);
	free(remaining.buf);
	clean(argv[2]);
	rmdir(argv[2]);
	unlink(outp);
	unlink(errp);
	printf("runs %lu: intact %lu, warned %lu, refused %lu, redelivered %lu, "
	    "violations %lu\n", runs, intact, warned, refused, redelivered, bad);
	return bad ? 1 : 0;
}
