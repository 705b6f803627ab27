/* replay: run files (or every file of directories) through a fuzz
 * target's LLVMFuzzerTestOneInput, with the normal compiler and no
 * libFuzzer; make check replays the checked-in corpora with it.
 *   TARGET-replay PATH...   prints "N inputs" and exits 0, or dies (a
 *                           failed check aborts) naming the input first. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static long count;

static void
run_file(const char *path)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, r;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "replay: out of memory\n");
				exit(1);
			}
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
	} while (r > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		exit(1);
	}
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	count++;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
main(int argc, char **argv)
{
	struct dirent **ents;
	struct stat st;
	char path[4096];
	int i, j, n;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			run_file(argv[i]);
			continue;
		}
		if ((n = scandir(argv[i], &ents, NULL, by_name)) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		for (j = 0; j < n; j++) {
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    ents[j]->d_name);
			if (ents[j]->d_name[0] != '.' &&
			    stat(path, &st) == 0 && S_ISREG(st.st_mode))
				run_file(path);
			free(ents[j]);
		}
		free(ents);
	}
	printf("%ld inputs\n", count);
	return 0;
}
