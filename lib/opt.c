/* opt: getopt_long's table, the short option string and --help's option
 * lines from one table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "opt.h"

int
opt_getopt(const struct opt *t, struct option *lo, size_t n, char *shorts,
    size_t size)
{
	size_t i, k = 2;

	if (size < 3)
		goto full;
	memcpy(shorts, "+:", 2);
	for (i = 0; t[i].name != NULL; i++) {
		if (i + 1 >= n)
			goto full;
		lo[i] = (struct option){ t[i].name, t[i].has_arg, NULL,
		    t[i].val };
		if (t[i].val > 255)
			continue;
		if (k + 3 > size)
			goto full;
		shorts[k++] = (char)t[i].val;
		if (t[i].has_arg != no_argument)
			shorts[k++] = ':';
		if (t[i].has_arg == optional_argument) {
			if (k + 2 > size)
				goto full;
			shorts[k++] = ':';
		}
	}
	lo[i] = (struct option){ NULL, 0, NULL, 0 };
	shorts[k] = '\0';
	return 0;
full:
	errno = ERANGE;
	return -1;
}

int
opt_help(FILE *f, const struct opt *t, int col)
{
	int w;

	for (; t->name != NULL; t++) {
		if (t->val <= 255)
			w = fprintf(f, "  -%c, --%s", t->val, t->name);
		else
			w = fprintf(f, "      --%s", t->name);
		if (t->arg != NULL)
			w += fprintf(f, t->has_arg == optional_argument ?
			    "[=%s]" : " %s", t->arg);
		fprintf(f, "%*s%s\n", w < col ? col - w : 1, "", t->help);
	}
	return ferror(f) ? -1 : 0;
}
