/* stamp: RFC 3339 times in front of a program's notices (see stamp.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "stamp.h"

int stamp_on;

const char *
stamp_now(void)
{
	static char buf[40];
	int e = errno;

	buf[0] = '\0';
	if (stamp_on && *clock_rfc3339(clock_wall(), buf, sizeof(buf) - 1) !=
	    '\0')
		strcat(buf, " ");
	errno = e;
	return buf;
}

const char *
stamp_text(const char *fmt, ...)
{
	static char buf[1024];
	va_list ap;
	size_t n;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == ':')
		snprintf(buf + n, sizeof(buf) - n, " %s", strerror(e));
	errno = e;
	return buf;
}
