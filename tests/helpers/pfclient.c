/*
 * pfclient: connect to ADDR in a loop, read one line per connection, and
 * count failures (refused, reset, or no "PID ok" line).
 *
 *   pfclient [-c COUNT] [-s STOPFILE] [-t SECONDS] ADDR
 *   ADDR: tcp:HOST:PORT or unix:PATH
 * Stops after COUNT connections, when STOPFILE exists, or after SECONDS
 * (default 10). Prints "ok N fail M pids P" and exits 0 if M is 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int
one(const struct sockaddr *sa, socklen_t len, long *pid)
{
	char buf[128];
	size_t have = 0;
	ssize_t n;
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, sa, len) < 0) {
		close(fd);
		return -1;
	}
	while (have < sizeof(buf) - 1 &&
	    (n = read(fd, buf + have, sizeof(buf) - 1 - have)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	if (have == 0 || buf[have - 1] != '\n' || !strstr(buf, " ok"))
		return -1;
	*pid = atol(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	socklen_t len;
	const char *stopfile = NULL, *a;
	char host[256], *colon;
	long count = -1, ok = 0, fail = 0, pid, pids[4096];
	int c, npids = 0, i;
	double secs = 10;
	time_t end;

	while ((c = getopt(argc, argv, "c:s:t:")) != -1) {
		if (c == 'c')
			count = atol(optarg);
		else if (c == 's')
			stopfile = optarg;
		else if (c == 't')
			secs = atof(optarg);
		else
			goto usage;
	}
	if (optind + 1 != argc)
		goto usage;
	a = argv[optind];
	memset(&ss, 0, sizeof(ss));
	if (strncmp(a, "unix:", 5) == 0) {
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", a + 5);
		len = sizeof(*sun);
	} else if (strncmp(a, "tcp:", 4) == 0 &&
	    (colon = strrchr(a + 4, ':')) != NULL &&
	    (size_t)(colon - a - 4) < sizeof(host)) {
		memcpy(host, a + 4, (size_t)(colon - a - 4));
		host[colon - a - 4] = '\0';
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto usage;
		len = sizeof(*sin);
	} else
		goto usage;
	end = time(NULL) + (time_t)secs + 1;
	while (count < 0 || ok + fail < count) {
		if (stopfile && access(stopfile, F_OK) == 0)
			break;
		if (time(NULL) >= end)
			break;
		if (one((struct sockaddr *)&ss, len, &pid) < 0) {
			fail++;
			continue;
		}
		ok++;
		for (i = 0; i < npids && pids[i] != pid; i++)
			;
		if (i == npids && npids < 4096)
			pids[npids++] = pid;
	}
	printf("ok %ld fail %ld pids %d\n", ok, fail, npids);
	return fail == 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: pfclient [-c N] [-s STOPFILE] [-t SECS] "
	    "tcp:HOST:PORT|unix:PATH\n");
	return 2;
}
