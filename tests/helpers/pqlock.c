/* pqlock FILE BYTE: hold a write lock (fcntl) on one byte of FILE, as
 * pqueue's lock holders do, say "locked" on stdout, and wait to be
 * killed. For tests of waits on a busy lock. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct flock fl;
	int fd;

	if (argc != 3) {
		fputs("usage: pqlock FILE BYTE\n", stderr);
		return 2;
	}
	if ((fd = open(argv[1], O_RDWR)) < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = atoi(argv[2]);
	fl.l_len = 1;
	if (fcntl(fd, F_SETLKW, &fl) < 0) {
		perror("fcntl");
		return 1;
	}
	puts("locked");
	fflush(stdout);
	for (;;)
		pause();
}
