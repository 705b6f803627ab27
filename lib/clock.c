/* clock: nanosecond monotonic and wall time, absolute sleeps. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <time.h>

#include "clock.h"

static int64_t
now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t
clock_mono(void)
{
	return now(CLOCK_MONOTONIC);
}

int64_t
clock_wall(void)
{
	return now(CLOCK_REALTIME);
}

struct timespec
clock_ts(int64_t ns)
{
	struct timespec ts;

	if (ns < 0)
		ns = 0;
	ts.tv_sec = (time_t)(ns / NS_PER_SEC);
	ts.tv_nsec = (long)(ns % NS_PER_SEC);
	return ts;
}

int64_t
clock_add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int64_t
clock_mul_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

int
clock_sleep_until(int64_t when, int interruptible)
{
	struct timespec ts = clock_ts(when);
	int r;

	/* clock_nanosleep returns the error number instead of setting errno. */
	while ((r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
	    NULL)) != 0) {
		if (r != EINTR || interruptible) {
			errno = r;
			return -1;
		}
	}
	return 0;
}

void
clock_fine_slack(void)
{
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
}

char *
clock_rfc3339(int64_t ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ns / NS_PER_SEC);
	struct tm tm;
	size_t n;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (ns < 0 || gmtime_r(&sec, &tm) == NULL ||
	    (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
		return buf;
	snprintf(buf + n, size - n, ".%03dZ",
	    (int)(ns % NS_PER_SEC / NS_PER_MS));
	return buf;
}
