/* msg: "prog: text[: strerror]" diagnostics on stderr. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

int msg_level = MSG_NORMAL;
static char prog[64] = "pkit";

void
msg_init(const char *argv0)
{
	const char *base;
	size_t n;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	n = strlen(base);
	if (n == 0)
		return;
	/* memcpy, not snprintf: start-up should not fault in printf's code
	 * pages, which show up in every program's resident size. */
	if (n >= sizeof(prog))
		n = sizeof(prog) - 1;
	memcpy(prog, base, n);
	prog[n] = '\0';
}

const char *
msg_prog(void)
{
	return prog;
}

/* Format the whole line first and write it once, so lines from several
 * processes sharing stderr do not interleave. */
static void
vmsg(int err, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n, flen;
	int r;

	r = snprintf(line, sizeof(line), "%s: ", prog);
	n = r > 0 ? (size_t)r : 0;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	flen = strlen(fmt);
	if (flen > 0 && fmt[flen - 1] == ':') {
		r = snprintf(line + n, sizeof(line) - n, " %s", strerror(err));
		if (r > 0)
			n += (size_t)r;
		if (n > sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}

void
die(int status, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
	exit(status);
}

void
warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
notice(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	if (msg_level < MSG_NORMAL)
		return;
	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
verbose(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	if (msg_level < MSG_VERBOSE)
		return;
	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
die_badopt(int c, char *const argv[])
{
	const char *word = optind > 0 ? argv[optind - 1] : "";

	if (c == ':')
		die(2, "option '%s' needs a value", word);
	/* A short option in a cluster (-qZ) is named by optopt; a long one
	 * only by the word it came in. */
	if (optopt > 0 && optopt < 128 && (word[0] != '-' || word[1] != '-'))
		die(2, "unknown option '-%c'", optopt);
	die(2, "unknown option '%s'", word);
}

void
msg_version(void)
{
	printf("%s (pkit) %s\n", prog, PKIT_VERSION);
	exit(fflush(stdout) == 0 ? 0 : 1);
}
