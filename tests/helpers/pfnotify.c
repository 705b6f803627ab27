/* pfnotify: a NOTIFY_SOCKET listener for prefork's readiness tests.
 *
 *   pfnotify PATH FILE
 *
 * Binds a unix datagram socket at PATH and appends each datagram it
 * receives to FILE as one line, its newlines turned into spaces, and
 * "MONO_MS " in front (the receiver's monotonic clock). Runs until
 * killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sa;
	struct timespec ts;
	char buf[4096];
	ssize_t n, i;
	FILE *f;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: pfnotify PATH FILE\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("pfnotify");
		return 1;
	}
	if ((f = fopen(argv[2], "a")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		for (i = 0; i < n; i++)
			if (buf[i] == '\n')
				buf[i] = ' ';
		while (n > 0 && buf[n - 1] == ' ')
			n--;
		buf[n] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &ts);
		fprintf(f, "%lld %s\n", (long long)ts.tv_sec * 1000 +
		    ts.tv_nsec / 1000000, buf);
		fflush(f);
	}
}
