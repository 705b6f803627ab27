/* opt: one table per program for its options: each row gives the long
 * name, the argument kind, the short letter and the --help line, and
 * getopt_long's table, its short option string and the option lines of
 * --help are all made from it, so they cannot disagree. */
#ifndef PKIT_OPT_H
#define PKIT_OPT_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

struct opt {
	const char *name;	/* long name; NULL ends the table */
	int has_arg;		/* no_argument, required_argument or
				 * optional_argument ("--name[=ARG]") */
	int val;		/* getopt's value: the short letter, or a
				 * value above 255 for a long-only option */
	const char *arg;	/* the value's name in --help; NULL: none */
	const char *help;	/* the rest of its --help line */
};

/* Fill lo (room for n entries, the ending zero one included) and shorts
 * (size bytes: "+:" and the letters, ':' after those that take a value;
 * long-only options left out) from t. 0, or -1 with errno ERANGE when
 * either does not fit. */
int opt_getopt(const struct opt *t, struct option *lo, size_t n,
    char *shorts, size_t size);

/* The option lines of --help, one per row of t, on f:
 * "  -n, --workers NUM" (six spaces instead of "-n, " for a long-only
 * option), padded to column `col` (at least one space), then the help
 * text. Returns 0, or -1 when f has an error. */
int opt_help(FILE *f, const struct opt *t, int col);

#endif
