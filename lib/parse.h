/* parse: the shared syntax of durations, signals, integers, sizes, users.
 * Every function returns 0 on success, -1 with errno EINVAL (malformed) or
 * ERANGE (out of range) and leaves *out untouched on failure. Text that is
 * both malformed and too large ("99999999999999999999x") is EINVAL. */
#ifndef PKIT_PARSE_H
#define PKIT_PARSE_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* "250us", "20ms", "1.5s", "2m", "1h", "1d", "10ns"; a bare number is
 * seconds; fractions allowed. Negative, empty, trailing garbage and
 * overflow of int64 nanoseconds are errors. Zero is accepted. */
int duration_parse(const char *s, int64_t *ns);

/* Format ns compactly for messages: "400ms", "1.5s", "30s", "2m". */
const char *duration_fmt(int64_t ns, char *buf, size_t size);

/* "TERM", "SIGTERM", "term", "15", "RTMIN", "RTMIN+3", "RTMAX-1".
 * Signal 0 is accepted only as "0" (for kill -0 style checks). */
int signal_parse(const char *s, int *sig);

/* Name without "SIG": "TERM", "RTMIN+3"; a number if unknown. */
const char *signal_name(int sig, char *buf, size_t size);

/* Decimal integer in [min, max], an optional '-' then digits, no blanks
 * or garbage; the whole long long range, LLONG_MIN included. A negative
 * number below a min >= 0 is ERANGE. */
int int_parse(const char *s, long long min, long long max, long long *out);

/* Byte size: "4096", "64k", "64K", "64KiB", "1M", "1MiB", "2G"
 * (binary multiples); an optional trailing "B" is allowed. */
int size_parse(const char *s, uint64_t *out);

/* "USER" or "USER:GROUP"; names or numeric ids. Without GROUP the gid is
 * the user's primary group (user must then exist, unless numeric, in
 * which case gid = uid). name is the user name for initgroups() or ""
 * when the uid has no passwd entry. EINVAL also for unknown names. */
struct user_spec {
	uid_t uid;
	gid_t gid;
	int has_group;		/* GROUP was given explicitly */
	char name[64];
};
int user_parse(const char *s, struct user_spec *u);

#endif
