/* title: set the calling process's title, as ps -o args and
 * /proc/PID/cmdline show it, and its comm (first 15 bytes). */
#ifndef PKIT_TITLE_H
#define PKIT_TITLE_H

/* Remember the argv area. Call once early in main, before anything
 * keeps pointers into argv or environ (copy the strings you need:
 * title_set overwrites them). */
void title_init(int argc, char **argv);

/* Set the title to the formatted string. The first call moves environ
 * to the heap so the argv+environ area can hold a long title; a title
 * longer than that area is truncated. Also sets comm with
 * prctl(PR_SET_NAME). Returns 0 or -1 with errno.
 * Details: /proc/PID/cmdline then reads exactly "TITLE\0" (no padding);
 * a title that runs past the argv strings is cut at 4095 bytes (the
 * kernel shows one page). getenv, environ and exec'd children keep the
 * whole environment; /proc/PID/environ is left alone until a title
 * needs its room, and shows what the title overwrote after that. The
 * first call also moves glibc's program_invocation_name (it points into
 * argv[0]). Arguments may point into the old argv area. Not
 * thread-safe. */
int title_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
