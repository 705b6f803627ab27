/*
 * pfpingpong: the floor for prefork -R with window 1: N round trips of a
 * short line over a pair of pipes between two processes (write a record,
 * wait for the one-line reply), as bare as it gets.
 *
 *   pfpingpong N
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	long n, i;
	int req[2], rep[2];
	char buf[64];
	ssize_t r;

	if (argc != 2 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: pfpingpong N\n");
		return 2;
	}
	if (pipe(req) < 0 || pipe(rep) < 0)
		return 1;
	switch (fork()) {
	case -1:
		return 1;
	case 0:
		close(req[1]);
		close(rep[0]);
		while ((r = read(req[0], buf, sizeof(buf))) > 0)
			if (write(rep[1], buf, (size_t)r) != r)
				_exit(1);
		_exit(0);
	}
	close(req[0]);
	close(rep[1]);
	for (i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof(buf), "%ld\n", i);

		if (write(req[1], buf, (size_t)len) != len ||
		    read(rep[0], buf, sizeof(buf)) <= 0)
			return 1;
	}
	close(req[1]);
	wait(NULL);
	return 0;
}
