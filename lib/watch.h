/* watch: wake-up hints for pqueue's on-disk store. A watch reports that
 * something in a directory changed (inotify on Linux); it is only a hint:
 * events merge and may overflow, so after every wake-up the caller looks
 * at the store again, and it adds its watches before its first look. */
#ifndef PKIT_WATCH_H
#define PKIT_WATCH_H

enum {
	WATCH_DATA = 1,	/* a file was written, created or moved in */
	WATCH_CLOSE = 2,	/* a file open for writing was closed */
};

/* A new watch descriptor (non-blocking, close-on-exec) to poll for
 * POLLIN, or -1 with errno. */
int watch_open(void);

/* Watch directory dir for the events in `what`. 0 or -1 with errno. */
int watch_add(int wfd, const char *dir, int what);

/* Discard every pending event. Returns 1 if there were any, 0 if none,
 * -1 with errno. */
int watch_drain(int wfd);

#endif
