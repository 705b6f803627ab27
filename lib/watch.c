/* watch: inotify behind three small functions, so pqueue itself holds
 * no Linux-only call. */
#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "watch.h"

int
watch_open(void)
{
	return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

int
watch_add(int wfd, const char *dir, int what)
{
	uint32_t mask = IN_ONLYDIR;

	if (what & WATCH_DATA)
		mask |= IN_MODIFY | IN_CREATE | IN_MOVED_TO;
	if (what & WATCH_CLOSE)
		mask |= IN_CLOSE_WRITE;
	return inotify_add_watch(wfd, dir, mask) < 0 ? -1 : 0;
}

int
watch_drain(int wfd)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int any = 0;

	for (;;) {
		n = read(wfd, buf, sizeof(buf));
		if (n > 0) {
			any = 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -1;
		return any;
	}
}
