/* dnotify: a daemon for daemonize's readiness tests.
 *
 *   dnotify [-d MS] [-x CODE] [-n] [-s TEXT] [-f FD]
 *
 * Waits MS milliseconds, then: with -x exits with CODE (dies before being
 * ready); with -n stays silent; with -f writes "ready\n" to fd FD; else
 * sends "STATUS=TEXT" (if -s) and "READY=1" to $NOTIFY_SOCKET, the
 * sd_notify protocol. Then sleeps until killed. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void
notify(const char *msg)
{
	struct sockaddr_un sa;
	const char *path = getenv("NOTIFY_SOCKET");
	socklen_t len;
	int fd;

	if (path == NULL || *path == '\0') {
		fprintf(stderr, "dnotify: NOTIFY_SOCKET not set\n");
		exit(99);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, strlen(msg), 0,
	    (struct sockaddr *)&sa, len) < 0) {
		fprintf(stderr, "dnotify: send: %s\n", strerror(errno));
		exit(99);
	}
	close(fd);
}

int
main(int argc, char *argv[])
{
	struct timespec ts;
	const char *status = NULL;
	char msg[512];
	long ms = 0;
	int c, code = -1, silent = 0, fd = -1;

	while ((c = getopt(argc, argv, "d:x:ns:f:")) != -1) {
		switch (c) {
		case 'd': ms = atol(optarg); break;
		case 'x': code = atoi(optarg); break;
		case 'n': silent = 1; break;
		case 's': status = optarg; break;
		case 'f': fd = atoi(optarg); break;
		default: return 2;
		}
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	if (code >= 0)
		return code;
	if (!silent && fd >= 0) {
		if (write(fd, "ready\n", 6) != 6)
			return 98;
		close(fd);
	} else if (!silent) {
		if (status != NULL) {
			snprintf(msg, sizeof(msg), "STATUS=%s", status);
			notify(msg);
		}
		notify("READY=1");
	}
	for (;;)
		pause();
}
