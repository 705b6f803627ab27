/* ruid: run a program with a chosen real uid and the caller's effective
 * uid, as a setuid program started by another user runs.
 *
 *   ruid UID FILE ARGV0 [ARG]...
 *
 * As root, `ruid 65534 sleep TITLE 300` gives a process whose real uid
 * is nobody's and whose effective (and saved) uid is 0, titled TITLE. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	uid_t e = geteuid();

	if (argc < 4) {
		fputs("usage: ruid UID FILE ARGV0 [ARG]...\n", stderr);
		return 2;
	}
	if (setresuid((uid_t)strtoul(argv[1], NULL, 10), e, e) < 0) {
		perror("ruid: setresuid");
		return 1;
	}
	execvp(argv[2], argv + 3);
	perror("ruid: exec");
	return 127;
}
