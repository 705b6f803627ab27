/* listen: parse and open listening sockets; socket-activation variables. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "parse.h"

static const char NAME_CHARS[] = "abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

/* HOST:PORT of a tcp or tcp6 address into l->sa. */
static int
listen_resolve(struct listener *l, const char *host, size_t hl,
    const char *port)
{
	struct addrinfo hints, *res;
	char hbuf[256];
	long long pn;

	if (int_parse(port, 0, 65535, &pn) < 0 || hl >= sizeof(hbuf))
		return -1;
	memcpy(hbuf, host, hl);
	hbuf[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = l->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(hl == 0 || strcmp(hbuf, "*") == 0 ? NULL : hbuf,
	    port, &hints, &res) != 0)
		return -1;
	memcpy(&l->sa, res->ai_addr, res->ai_addrlen);
	l->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
listen_parse1(const char *arg, struct listener *l)
{
	const char *eq = strchr(arg, '='), *colon = strchr(arg, ':');
	const char *kind, *host = NULL, *port = NULL, *e;
	struct sockaddr_un *sun;
	size_t i, hl = 0;

	memset(l, 0, sizeof(*l));
	l->spec = arg;
	l->fd = -1;
	if (eq != NULL && colon != NULL && eq < colon) {
		if (eq == arg || (size_t)(eq - arg) >= sizeof(l->name))
			return -1;
		for (i = 0; arg + i < eq; i++)
			if (strchr(NAME_CHARS, arg[i]) == NULL)
				return -1;
		memcpy(l->name, arg, (size_t)(eq - arg));
		arg = eq + 1;
	}
	if (strncmp(arg, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)&l->sa;
		if (arg[5] == '\0' || strlen(arg + 5) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, arg + 5);
		l->family = AF_UNIX;
		l->salen = sizeof(*sun);
		kind = "unix";
	} else if (strncmp(arg, "tcp:", 4) == 0) {
		host = arg + 4;
		if ((port = strrchr(host, ':')) == NULL)
			return -1;
		hl = (size_t)(port - host);
		if (memchr(host, '[', hl) || memchr(host, ']', hl))
			return -1;
		port++;
		l->family = AF_INET;
		kind = "tcp";
	} else if (strncmp(arg, "tcp6:[", 6) == 0) {
		host = arg + 6;
		if ((e = strchr(host, ']')) == NULL || e[1] != ':')
			return -1;
		hl = (size_t)(e - host);
		port = e + 2;
		l->family = AF_INET6;
		kind = "tcp6";
	} else
		return -1;
	if (l->name[0] == '\0')
		snprintf(l->name, sizeof(l->name), "%s", kind);
	if (l->family == AF_UNIX)
		return 0;
	return listen_resolve(l, host, hl, port);
}

int
listen_parse(const char *spec, struct listener *l)
{
	if (listen_parse1(spec, l) == 0)
		return 0;
	l->spec = spec;
	l->fd = -1;
	errno = EINVAL;
	return -1;
}

/* A unix socket file nobody listens on is stale: remove it. A live one,
 * or another kind of file, is "in use". */
static int
unix_clear(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, r, e;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EADDRINUSE;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	close(fd);
	if (r == 0 || e != ECONNREFUSED) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(path);
}

int
listen_open(struct listener *l)
{
	const char *path = ((struct sockaddr_un *)&l->sa)->sun_path;
	int one = 1, e;

	if ((l->fd = socket(l->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (l->family != AF_UNIX)
		(void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	if (l->family == AF_INET6)
		(void)setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (l->family == AF_UNIX && unix_clear(path) < 0)
		goto fail;
	if (bind(l->fd, (struct sockaddr *)&l->sa, l->salen) < 0)
		goto fail;
	l->made = l->family == AF_UNIX;
	if (listen(l->fd, SOMAXCONN) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	listen_close(l);
	errno = e;
	return -1;
}

void
listen_close(struct listener *l)
{
	if (l->made)
		(void)unlink(((struct sockaddr_un *)&l->sa)->sun_path);
	l->made = 0;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

char *
listen_fdnames(const struct listener *ls, int n)
{
	size_t len = 1;
	char *s;
	int k;

	for (k = 0; k < n; k++)
		len += strlen(ls[k].name) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (k = 0; k < n; k++) {
		if (k > 0)
			strcat(s, ":");
		strcat(s, ls[k].name);
	}
	return s;
}

int
listen_setenv(int n, const char *names)
{
	char b[32];

	if (n == 0) {
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		return 0;
	}
	snprintf(b, sizeof(b), "%d", n);
	if (setenv("LISTEN_FDS", b, 1) < 0)
		return -1;
	snprintf(b, sizeof(b), "%ld", (long)getpid());
	if (setenv("LISTEN_PID", b, 1) < 0)
		return -1;
	return setenv("LISTEN_FDNAMES", names, 1);
}

/* names for n fds from LISTEN_FDNAMES (may be NULL or short). */
static char *
inherit_names(const char *given, int n)
{
	size_t len = (given ? strlen(given) : 0) + (size_t)n * 8 + 1;
	const char *p = given;
	char *s, *o;
	int k;

	if ((s = malloc(len)) == NULL)
		return NULL;
	o = s;
	for (k = 0; k < n; k++) {
		const char *e = p ? strchr(p, ':') : NULL;
		size_t l = p ? (e ? (size_t)(e - p) : strlen(p)) : 0;

		if (k > 0)
			*o++ = ':';
		if (l == 0) {
			memcpy(o, "unknown", 7);
			o += 7;
		} else {
			memcpy(o, p, l);
			o += l;
		}
		p = p && e ? e + 1 : NULL;
	}
	*o = '\0';
	return s;
}

int
listen_inherit(char **names)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	long long n = 0, lp;
	int k, fl, r = 0;

	*names = NULL;
	if (fds == NULL || pid == NULL)
		goto out;
	if (int_parse(pid, 1, 0x7fffffff, &lp) < 0 || lp != (long long)getpid())
		goto out;	/* meant for another process */
	if (int_parse(fds, 0, LISTEN_MAX, &n) < 0) {
		r = -1;
		errno = EINVAL;
		goto out;
	}
	for (k = 0; k < (int)n; k++)
		if ((fl = fcntl(3 + k, F_GETFD)) < 0 ||
		    fcntl(3 + k, F_SETFD, fl | FD_CLOEXEC) < 0) {
			r = -1;
			errno = EINVAL;
			goto out;
		}
	if (n > 0 && (*names = inherit_names(getenv("LISTEN_FDNAMES"),
	    (int)n)) == NULL) {
		r = -1;
		goto out;
	}
	r = (int)n;
out:
	k = errno;
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	errno = k;
	return r;
}

int
listen_gather(struct listener *ls, int nls, struct listen_set *set,
    int *bad)
{
	char *inames = NULL, *lnames = NULL;
	int i, ni, e;

	memset(set, 0, sizeof(*set));
	*bad = -1;
	if ((ni = listen_inherit(&inames)) < 0) {
		*bad = LISTEN_INHERIT_BAD;
		return -1;
	}
	if (ni + nls > LISTEN_MAX) {
		errno = ERANGE;
		goto fail;
	}
	if ((set->fds = calloc((size_t)(ni + nls) + 1, sizeof(int))) == NULL)
		goto fail;
	for (i = 0; i < ni; i++)
		set->fds[i] = 3 + i;
	for (i = 0; i < nls; i++) {
		if (listen_open(&ls[i]) < 0) {
			*bad = i;
			goto fail;
		}
		set->fds[ni + i] = ls[i].fd;
	}
	if ((lnames = listen_fdnames(ls, nls)) == NULL)
		goto fail;
	if (ni == 0) {
		set->names = lnames;
	} else {
		if ((set->names = malloc(strlen(inames) + strlen(lnames) + 2)) ==
		    NULL)
			goto fail;
		sprintf(set->names, "%s%s%s", inames, nls ? ":" : "", lnames);
		free(lnames);
	}
	free(inames);
	set->n = ni + nls;
	return 0;
fail:
	e = errno;
	free(inames);
	free(lnames);
	listen_set_free(set);
	errno = e;
	return -1;
}

void
listen_set_free(struct listen_set *set)
{
	free(set->fds);
	free(set->names);
	memset(set, 0, sizeof(*set));
}
