/* stamp: --timestamps for a program's diagnostics. A cmd/ file that
 * includes this header after msg.h gets warn(), notice() and verbose()
 * that begin with an RFC 3339 UTC time with milliseconds
 * ("2026-12-04T15:55:20.123Z ", the format of prefork --timestamps)
 * while stamp_on is set, and print the same lines as before while it is
 * not. die() is left alone: its errors are not notices. A format
 * ending in ':' still gets ": strerror(errno)". Neither function
 * prints, allocates or changes errno. */
#ifndef PKIT_STAMP_H
#define PKIT_STAMP_H

extern int stamp_on;

/* The time now and a blank, or "" when stamp_on is 0 (or the time
 * cannot be broken down). A static buffer, rewritten by each call. */
const char *stamp_now(void);

/* The formatted text (cut at 1023 bytes), strerror appended after a
 * trailing ':' as lib/msg does. A static buffer, rewritten by each
 * call. */
const char *stamp_text(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#define warn(...)	(warn)("%s%s", stamp_now(), stamp_text(__VA_ARGS__))
#define notice(...)	(notice)("%s%s", stamp_now(), stamp_text(__VA_ARGS__))
#define verbose(...)	(verbose)("%s%s", stamp_now(), stamp_text(__VA_ARGS__))

#endif
