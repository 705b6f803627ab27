/* fmt: snprintf for the conversions pkit formats, without glibc's printf
 * engine, so that formatting a path or a title does not fault some 250
 * KiB of printf and stdio code into every program's resident set (DESIGN
 * §5: RSS at rest <= tini). The Makefile links every program with
 * -Wl,--wrap= for snprintf, vsnprintf, sprintf and vasprintf, so code
 * calls them as usual and lands here. */
#ifndef PKIT_FMT_H
#define PKIT_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Like C's vsnprintf: formats into buf (size bytes, NUL-terminated when
 * size > 0) and returns the length the whole output has, or -1 with
 * errno EOVERFLOW if that is above INT_MAX. Handled here: the flags '-'
 * and '0', a width and a precision (digits or '*'), the lengths hh h l
 * ll z j t, and %d %i %u %x %X %o %c %s %%. Any other conversion or flag
 * (%p %f %g %m, '+', ' ', '#', "%1$s"), or a null %s, is handed whole to
 * the libc's vsnprintf, so the output is always the libc's. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* The link-time wrappers (-Wl,--wrap=NAME): same contract as the libc
 * function they stand for. */
int __wrap_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int __wrap_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int __wrap_sprintf(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif
