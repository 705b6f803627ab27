/* listen: listening sockets named on the command line (tcp:HOST:PORT,
 * tcp6:[ADDR]:PORT, unix:PATH, each optionally NAME=ADDR) and handed to
 * children by systemd's socket-activation protocol: fds 3.. with
 * LISTEN_FDS, LISTEN_PID (the child's own pid) and LISTEN_FDNAMES. */
#ifndef PKIT_LISTEN_H
#define PKIT_LISTEN_H

#include <sys/socket.h>

/* Most sockets one child can be handed (fds 3..3+LISTEN_MAX-1). */
#define LISTEN_MAX	256

struct listener {
	const char *spec;	/* as given (not owned) */
	char name[64];		/* LISTEN_FDNAMES entry */
	int family;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;			/* -1 until opened */
	int made;		/* unix: we created the socket file */
};

/* Parse spec into l (spec must outlive l). 0, or -1 with errno EINVAL. */
int listen_parse(const char *spec, struct listener *l);

/* Create, bind and listen (close-on-exec). A unix socket file nobody
 * listens on is removed first; a live one, or another kind of file, is
 * EADDRINUSE. 0, or -1 with errno. */
int listen_open(struct listener *l);

/* Close the socket and remove a unix socket file we made. */
void listen_close(struct listener *l);

/* "name:name:..." for LISTEN_FDNAMES, malloc'd; NULL with errno ENOMEM. */
char *listen_fdnames(const struct listener *ls, int n);

/* Socket activation handed to this process: LISTEN_PID is our pid and
 * LISTEN_FDS counts fds 3... Returns that count (0 when none is meant for
 * us), makes those fds close-on-exec, and sets *names to a malloc'd
 * LISTEN_FDNAMES (each missing name "unknown"; NULL when the count is 0).
 * The three variables are removed from the environment either way. -1
 * with errno: EINVAL (malformed, or an fd that is not open), ENOMEM. */
int listen_inherit(char **names);

/* In a child: announce n sockets (fds 3..) named by names, with
 * LISTEN_PID the caller's pid; n 0 removes the three variables. 0, or -1
 * with errno. */
int listen_setenv(int n, const char *names);

/* The sockets a parent hands every child. */
struct listen_set {
	int *fds;		/* n fds, to become the child's 3.. */
	int n;
	char *names;		/* LISTEN_FDNAMES, malloc'd */
};

/* Gather set: an inherited activation first (listen_inherit, fds 3.. as
 * they came), then ls[0..nls) opened in order. 0, or -1 with errno and
 * *bad: LISTEN_INHERIT_BAD when the inheritance is malformed (errno from
 * listen_inherit), the index of the listener that could not be opened
 * (listen_open's errno), or -1 otherwise (ERANGE: more than LISTEN_MAX
 * together, nothing opened; ENOMEM). On failure set holds nothing and
 * listeners already opened stay open (listen_close them). */
#define LISTEN_INHERIT_BAD	(-2)
int listen_gather(struct listener *ls, int nls, struct listen_set *set,
    int *bad);

/* Free what listen_gather allocated (the fds stay open). */
void listen_set_free(struct listen_set *set);

#endif
