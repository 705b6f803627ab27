/* dlockhold: hold a read lock on a file, as a local attacker would, for
 * daemonize's security tests.
 *
 *   dlockhold [-o] FILE
 *
 * Opens FILE read-only, takes a read lock on the whole file (a classic
 * fcntl record lock, or with -o an open file description lock), prints
 * "locked" on stdout and sleeps until killed. Exits 1 with the reason
 * when FILE cannot be opened or locked. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct flock fl;
	int ofd = 0, fd;

	if (argc == 3 && strcmp(argv[1], "-o") == 0) {
		ofd = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: dlockhold [-o] FILE\n");
		return 2;
	}
	if ((fd = open(argv[1], O_RDONLY | O_NONBLOCK)) < 0) {
		fprintf(stderr, "dlockhold: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, ofd ? F_OFD_SETLK : F_SETLK, &fl) < 0) {
		fprintf(stderr, "dlockhold: lock %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	printf("locked\n");
	fflush(stdout);
	for (;;)
		pause();
}
