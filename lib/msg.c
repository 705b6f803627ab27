/* msg: "prog: text[: strerror]" diagnostics on stderr. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
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

size_t
msg_escape(char *dst, size_t size, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	char esc[4];
	size_t i, o = 0, k;

	if (size == 0)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c != 0x7f) {
			esc[0] = (char)c;
			k = 1;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			esc[0] = '\\';
			esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			k = 2;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			k = 4;
		}
		/* Whole escapes only: a cut one would read as another byte. */
		if (o + k > size - 1)
			break;
		memcpy(dst + o, esc, k);
		o += k;
	}
	dst[o] = '\0';
	return o;
}

/* Format the whole line first and write it once, so lines from several
 * processes sharing stderr do not interleave. Control characters (from
 * an argument echoed in the text, say) are escaped so the message stays
 * one line. */
static void vmsg(int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void
vmsg(int err, const char *fmt, va_list ap)
{
	char text[1024], line[1024];
	size_t n, flen;
	int r;

	r = vsnprintf(text, sizeof(text), fmt, ap);
	n = r < 0 ? 0 : (size_t)r < sizeof(text) ? (size_t)r : sizeof(text) - 1;
	text[n] = '\0';
	n = msg_escape(line, sizeof(line) - 3, prog, strlen(prog));
	line[n++] = ':';
	line[n++] = ' ';
	/* text is cut at its first NUL anyway: vsnprintf put none inside. */
	n += msg_escape(line + n, sizeof(line) - 1 - n, text, strlen(text));
	flen = strlen(fmt);
	if (flen > 0 && fmt[flen - 1] == ':') {
		r = snprintf(line + n, sizeof(line) - 1 - n, " %s", strerror(err));
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

void *
msg_alloc(int status, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		die(status, "out of memory");
	return p;
}

void *
msg_realloc(int status, void *p, size_t n, size_t size)
{
	size_t total;
	void *q;

	if (size != 0 && n > SIZE_MAX / size)
		die(status, "out of memory");
	total = n * size;
	if ((q = realloc(p, total > 0 ? total : 1)) == NULL)
		die(status, "out of memory");
	return q;
}

char *
msg_strdup(int status, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		die(status, "out of memory");
	return d;
}
