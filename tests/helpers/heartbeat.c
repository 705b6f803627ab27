/* heartbeat: a worker that reports it is alive, for palarm -W tests.
 *
 *   heartbeat [-n COUNT] [-i MS] [-x] [TITLE-ARGS...]
 *
 * Writes "beat N" (N from 1) every MS milliseconds (default 100), COUNT
 * times (default: forever). Then it falls silent but stays alive with
 * stdout open (a hung worker), or exits 0 with -x (a dead one). EPIPE
 * ends it quietly. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "msg.h"
#include "parse.h"

int
main(int argc, char **argv)
{
	long long count = -1, ms = 100, n;
	int c, do_exit = 0;
	char line[64];
	int64_t next;

	msg_init(argv[0]);
	while ((c = getopt(argc, argv, "+i:n:x")) != -1) {
		switch (c) {
		case 'i':
			if (int_parse(optarg, 1, 3600000, &ms) < 0)
				die(2, "bad -i");
			break;
		case 'n':
			if (int_parse(optarg, 0, 1LL << 40, &count) < 0)
				die(2, "bad -n");
			break;
		case 'x':
			do_exit = 1;
			break;
		default:
			die(2, "usage: heartbeat [-n COUNT] [-i MS] [-x]");
		}
	}
	signal(SIGPIPE, SIG_IGN);
	next = clock_mono();
	for (n = 1; count < 0 || n <= count; n++) {
		int len = snprintf(line, sizeof(line), "beat %lld\n", n);

		if (write(STDOUT_FILENO, line, (size_t)len) < 0)
			return errno == EPIPE ? 0 : 1;
		next += ms * NS_PER_MS;
		clock_sleep_until(next, 0);
	}
	if (do_exit)
		return 0;
	for (;;)
		pause();
}
