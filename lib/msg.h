/* msg: one-line diagnostics, "prog: text[: strerror]" on stderr. */
#ifndef PKIT_MSG_H
#define PKIT_MSG_H

#include <stddef.h>

/* Verbosity: MSG_QUIET (-q) silences notice(); MSG_VERBOSE (-v) enables
 * verbose(). warn() and die() always print. */
enum { MSG_QUIET = 0, MSG_NORMAL = 1, MSG_VERBOSE = 2 };
extern int msg_level;

/* Copy the basename of argv0 as the program name. Call first thing in
 * main: title_set() later overwrites the argv area. */
void msg_init(const char *argv0);
const char *msg_prog(void);

/* Copy src[0..n) into dst (size bytes, NUL-terminated) with control
 * characters escaped: "\n", "\t", "\r", other bytes below 0x20 and 0x7f as
 * "\xNN"; other bytes (UTF-8 included, and the backslash: the escaping is
 * for reading, not for reversing) are copied as they are. An escape
 * that does not fit whole is left out with everything after it. Returns
 * the length written (without the NUL); 0 when size is 0. Cannot fail. */
size_t msg_escape(char *dst, size_t size, const char *src, size_t n);

/* All take a printf format. A format ending in ':' gets ": strerror(errno)"
 * appended (errno as it was on entry). Each prints exactly one line, cut
 * at 1023 bytes: the program name and the formatted text go through
 * msg_escape, so an argument with a newline in it still makes one line. */
void die(int status, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation for programs, which cannot go on without the memory: like
 * calloc (n elements of size bytes, zeroed, the product checked),
 * reallocarray and strdup, but on failure they print "out of memory" and
 * exit with status, the program's own failure status (1 for daemonize,
 * 3 for pkillall-title, 125 where the exit status is COMMAND's). They
 * never return NULL. Like die(), for cmd/ only: lib/ returns ENOMEM. */
void *msg_alloc(int status, size_t n, size_t size);
void *msg_realloc(int status, void *p, size_t n, size_t size);
char *msg_strdup(int status, const char *s);

/* For getopt_long's '?' and ':' returns (set opterr = 0 and put ':'
 * after the '+' of the optstring): print "unknown option '-x'" or
 * "option '-x' needs a value" as one line and exit 2. */
void die_badopt(int c, char *const argv[]) __attribute__((noreturn));

/* Print "NAME (pkit) VERSION" on stdout and exit 0. */
void msg_version(void) __attribute__((noreturn));

#endif
