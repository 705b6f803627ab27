/*
 * pfcrash: a prefork -R worker that echoes each line and kills itself
 * (SIGKILL) when it reads RECORD, i.e. dies mid-record.
 *
 *   pfcrash [-m MARKER] RECORD
 *   -m MARKER  crash only when MARKER does not exist yet (it is created
 *              first), so the retried record goes through the second time
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	const char *marker = NULL;
	char line[65536];
	size_t len;
	int c, fd;

	while ((c = getopt(argc, argv, "m:")) != -1) {
		if (c != 'm') {
			fprintf(stderr, "usage: pfcrash [-m MARKER] RECORD\n");
			return 2;
		}
		marker = optarg;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: pfcrash [-m MARKER] RECORD\n");
		return 2;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, "\n");
		line[len] = '\0';
		if (strcmp(line, argv[optind]) == 0) {
			if (marker == NULL)
				raise(SIGKILL);
			fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd >= 0)
				raise(SIGKILL);
		}
		printf("%s\n", line);
		fflush(stdout);
	}
	return 0;
}
