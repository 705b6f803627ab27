/* clock: monotonic and wall time in int64 nanoseconds, absolute sleeps. */
#ifndef PKIT_CLOCK_H
#define PKIT_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NS_PER_SEC  1000000000LL
#define NS_PER_MS   1000000LL
#define NS_PER_US   1000LL

int64_t clock_mono(void);		/* CLOCK_MONOTONIC */
int64_t clock_wall(void);		/* CLOCK_REALTIME, since the epoch */
struct timespec clock_ts(int64_t ns);	/* ns (>= 0) as a timespec */

/* Deadline arithmetic that cannot overflow: a + b and a * b, clamped to
 * [INT64_MIN, INT64_MAX]. A duration near the 64-bit limit added to the
 * clock gives INT64_MAX, "never", instead of a time in the past. */
int64_t clock_add_sat(int64_t a, int64_t b);
int64_t clock_mul_sat(int64_t a, int64_t b);

/* Wall time ns (>= 0) as RFC 3339 UTC with milliseconds,
 * "2026-12-04T15:55:20.123Z", into buf (at least 25 bytes). Returns buf;
 * "" when the time cannot be broken down. */
char *clock_rfc3339(int64_t ns, char *buf, size_t size);

/* Ask for timer wake-ups as close to due as the kernel can (the default
 * slack is 50 us; PR_SET_TIMERSLACK on Linux). Best effort. */
void clock_fine_slack(void);

/* Sleep until the monotonic time `when` (ns), restarting after signals.
 * Returns 0, or -1 with errno EINTR if `interruptible` and a handled
 * signal arrived first. */
int clock_sleep_until(int64_t when, int interruptible);

#endif
