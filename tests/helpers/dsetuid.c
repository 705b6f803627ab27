/* dsetuid: try to regain root, for daemonize -u tests.
 *
 * Prints "setuid(0): ok" or "setuid(0): failed" (and the same for
 * setgid(0)) on stdout, then sleeps until killed. */
#include <stdio.h>
#include <unistd.h>

int
main(void)
{
	printf("setuid(0): %s\n", setuid(0) == 0 ? "ok" : "failed");
	printf("setgid(0): %s\n", setgid(0) == 0 ? "ok" : "failed");
	fflush(stdout);
	for (;;)
		pause();
}
