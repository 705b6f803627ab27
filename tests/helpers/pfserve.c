/*
 * pfserve: a socket-activated test server (systemd protocol). Checks that
 * LISTEN_FDS >= 1 and LISTEN_PID is its own pid, then answers every
 * connection on fd 3 with one line "PID ok" (or "PID bad") and closes it.
 * TERM/INT: finish the connection in hand, then exit 0.
 *
 *   pfserve [-e DIR] [-D MS] [-r MS [-u DIR]]
 *   -e DIR   at start write DIR/PID: "PID ok|bad PORT LISTEN_FDNAMES"
 *   -D MS    wait MS milliseconds after TERM before exiting (draining)
 *   -r MS    MS milliseconds after the start, send READY=1 to
 *            NOTIFY_SOCKET ("@name" or a path)
 *   -u DIR   with -r: create DIR/up.PID right before READY=1, remove it
 *            as soon as TERM arrives (a lower bound of serving workers)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void
ready(const char *updir)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	char path[4096];
	size_t len;
	int fd;

	if (updir != NULL) {
		snprintf(path, sizeof(path), "%s/up.%ld", updir,
		    (long)getpid());
		if ((fd = open(path, O_WRONLY | O_CREAT, 0644)) >= 0)
			close(fd);
	}
	if (ns == NULL || (len = strlen(ns)) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pfserve: no usable NOTIFY_SOCKET\n");
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, ns, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		perror("pfserve: READY=1");
	if (fd >= 0)
		close(fd);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL, *updir = NULL, *s;
	char uppath[4096];
	struct timespec ts, *tmo;
	int rdelay = -1;
	long long due = 0, left;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct sigaction sa;
	struct pollfd pfd;
	sigset_t block, none;
	char path[4096], line[256];
	int c, ok, fd, conn, n, port = 0, delay = 0;

	while ((c = getopt(argc, argv, "e:D:r:u:")) != -1) {
		if (c == 'e')
			dir = optarg;
		else if (c == 'D')
			delay = atoi(optarg);
		else if (c == 'r')
			rdelay = atoi(optarg);
		else if (c == 'u')
			updir = optarg;
		else {
			fprintf(stderr, "usage: pfserve [-e DIR] [-D MS] "
			    "[-r MS [-u DIR]]\n");
			return 2;
		}
	}
	s = getenv("LISTEN_PID");
	ok = s && atol(s) == (long)getpid() && getenv("LISTEN_FDS") &&
	    atoi(getenv("LISTEN_FDS")) >= 1;
	if (getsockname(3, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else
		ok = 0;
	if (dir != NULL) {
		snprintf(path, sizeof(path), "%s/%ld", dir, (long)getpid());
		n = snprintf(line, sizeof(line), "%ld %s %d %s\n",
		    (long)getpid(), ok ? "ok" : "bad", port,
		    getenv("LISTEN_FDNAMES") ? getenv("LISTEN_FDNAMES") : "-");
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, line, (size_t)n) != n)
			perror("pfserve: -e");
		if (fd >= 0)
			close(fd);
	}
	if (!ok) {
		fprintf(stderr, "pfserve: not socket-activated for me\n");
		return 3;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&none);
	n = snprintf(line, sizeof(line), "%ld ok\n", (long)getpid());
	/* The listening socket is shared by every worker: another one may
	 * take the connection ppoll announced, and a blocking accept would
	 * then wait, TERM blocked, for the next client. */
	fcntl(3, F_SETFL, fcntl(3, F_GETFL) | O_NONBLOCK);
	pfd.fd = 3;
	pfd.events = POLLIN;
	snprintf(uppath, sizeof(uppath), "%s/up.%ld", updir ? updir : ".",
	    (long)getpid());
	if (rdelay == 0) {
		ready(updir);
		rdelay = -1;
	}
	if (rdelay > 0)
		due = now_ms() + rdelay;
	while (!stop) {
		/* Signals are only let in while waiting: a connection
		 * taken is always answered. */
		tmo = NULL;
		if (rdelay > 0) {
			left = due - now_ms();
			if (left <= 0) {
				ready(updir);
				rdelay = -1;
				continue;
			}
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000;
			tmo = &ts;
		}
		c = ppoll(&pfd, 1, tmo, &none);
		if (c == 0)
			continue;
		if (c < 0)
			continue;
		conn = accept4(3, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (conn < 0)
			continue;
		if (write(conn, line, (size_t)n) < 0)
			perror("pfserve: write");
		close(conn);
	}
	if (updir != NULL)
		unlink(uppath);
	if (delay > 0)
		usleep((useconds_t)delay * 1000);
	return 0;
}
