/* dsigrec: record the signals a daemon receives, for daemonize's tests.
 *
 *   dsigrec [-i] FILE
 *
 * Appends "start" to FILE once its signal handling is in place, then one
 * line per HUP, INT, USR1, USR2 or TERM received (signal name). TERM ends
 * it; with -i TERM is ignored, as a daemon that will not stop. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
record(const char *file, const char *what)
{
	FILE *f = fopen(file, "a");

	if (f == NULL)
		return;
	fprintf(f, "%s\n", what);
	fclose(f);
}

int
main(int argc, char *argv[])
{
	sigset_t set;
	int ignore = 0, sig;
	const char *file;

	if (argc > 1 && strcmp(argv[1], "-i") == 0) {
		ignore = 1;
		argv++;
		argc--;
	}
	if (argc != 2)
		return 2;
	file = argv[1];
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (ignore)
		signal(SIGTERM, SIG_IGN);
	else
		sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	record(file, "start");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		switch (sig) {
		case SIGHUP: record(file, "HUP"); break;
		case SIGINT: record(file, "INT"); break;
		case SIGUSR1: record(file, "USR1"); break;
		case SIGUSR2: record(file, "USR2"); break;
		case SIGTERM: record(file, "TERM"); return 0;
		}
	}
}
