/* cgroup: containment of a process tree in a fresh cgroup v2 directory,
 * so that a stop reaches every descendant, including those that called
 * setsid() or double-forked. Linux-only; every cgroup v2 detail of pkit
 * lives here.
 *
 * Life of a contained command:
 *   cgroup_create   mkdir a fresh cgroup under the caller's own cgroup
 *                   (or a given one) and check that it can take a pid;
 *   cgroup_enter    in the forked child, before exec: move itself in
 *                   (so nothing it starts is ever outside);
 *   cgroup_signal / cgroup_kill
 *                   reach every process in it (cgroup.kill, or freeze and
 *                   signal each pid of cgroup.procs where that is missing);
 *   cgroup_watch + cgroup_populated
 *                   an fd for the caller's poll loop that wakes whenever
 *                   cgroup.events changes; populated 0 means empty;
 *   cgroup_remove   rmdir once empty, and free.
 *
 * Errors: every function returns 0 (or a count, or a boolean where said)
 * or -1 with errno; none prints or exits. */
#ifndef PKIT_CGROUP_H
#define PKIT_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cgroup {
	char *path;		/* the cgroup's directory */
	char *procs_path;	/* its cgroup.procs */
	int procs;		/* cgroup.procs, open for writing, or -1 */
};

/* Where the cgroup v2 hierarchy is mounted (found in
 * /proc/self/mountinfo), into buf. 0, or -1 with errno ENOENT when no
 * cgroup2 filesystem is mounted, ENAMETOOLONG when buf is too small. */
int cgroup_mount(char *buf, size_t size);

/* Directory of the caller's own cgroup v2 (the "0::" line of
 * /proc/self/cgroup, under the mount), into buf. 0 or -1 with errno. */
int cgroup_self(char *buf, size_t size);

/* Resolve spec into a cgroup directory in buf: an existing directory
 * that holds cgroup.procs is taken as it is; otherwise a spec beginning
 * with '/' is a cgroup name as /proc/PID/cgroup shows it (relative to
 * the mount). 0, or -1 with errno (ENOENT: no such cgroup). */
int cgroup_resolve(const char *spec, char *buf, size_t size);

/* Create a fresh cgroup named NAME.PID (PID the caller's; .PID.N if that
 * exists) in the directory parent (NULL: the caller's own cgroup), and
 * open its cgroup.procs for writing, which proves a pid can be moved in.
 * 0, or -1 with errno (ENOENT no cgroup v2, EROFS/EACCES/EPERM not
 * writable); on failure nothing is left behind. */
int cgroup_create(const char *parent, const char *name, struct cgroup *cg);

/* Move pid (0: the caller) into cg. Safe to call in a forked child
 * (no allocation): a child that enters before exec keeps all it starts
 * inside. 0 or -1 with errno. */
int cgroup_attach(const struct cgroup *cg, pid_t pid);
int cgroup_enter(const struct cgroup *cg);	/* cgroup_attach(cg, 0) */

/* Send sig to every process in cg. Processes forked during the sweep
 * are caught by further sweeps (until one finds no new pid). Returns the
 * number of processes signalled, or -1 with errno. */
int cgroup_signal(const struct cgroup *cg, int sig);

/* KILL every process in cg and its descendant cgroups: cgroup.kill where
 * the kernel has it (5.14+), else freeze (so nothing forks), KILL each
 * pid of cgroup.procs, thaw. 0 or -1 with errno. */
int cgroup_kill(const struct cgroup *cg);

/* cgroup_kill's fallback, callable alone: freeze cg (where
 * cgroup.freeze exists), KILL each pid of cgroup.procs until a sweep
 * finds none new, thaw. 0 or -1 with errno. */
int cgroup_kill_frozen(const struct cgroup *cg);

/* 1 if cg (or a descendant cgroup) holds a process, 0 if empty, -1 with
 * errno: the "populated" key of cgroup.events. */
int cgroup_populated(const struct cgroup *cg);

/* An fd (inotify, non-blocking, close-on-exec) that becomes readable
 * whenever cgroup.events changes. Create it BEFORE reading
 * cgroup_populated, so no change is lost; after each wake-up call
 * cgroup_watch_drain, then read cgroup_populated again. -1 with errno. */
int cgroup_watch(const struct cgroup *cg);
void cgroup_watch_drain(int fd);

/* Wait until cg is empty or until the monotonic time `until` (ns; -1:
 * no bound), for callers without an event loop. 0 once empty, -1 with
 * errno (ETIMEDOUT at the bound). */
int cgroup_wait_empty(const struct cgroup *cg, int64_t until);

/* Read the pids in cg's cgroup.procs into a malloc'ed, sorted array
 * (*pids, free it). Returns the count, or -1 with errno. */
int cgroup_pids(const char *dir, pid_t **pids);

/* Remove the (empty) cgroup directory and free cg. 0, or -1 with errno
 * (EBUSY: still populated); cg is freed either way. */
int cgroup_remove(struct cgroup *cg);

/* Free cg without removing the directory. */
void cgroup_free(struct cgroup *cg);

/* Where cgroup_setup failed, for the caller's message. */
enum { CGROUP_AT_RESOLVE = 1, CGROUP_AT_CREATE, CGROUP_AT_WATCH };

/* A contained command's start in one call: resolve spec as
 * cgroup_resolve does (NULL: the caller's own cgroup), create NAME.PID
 * in it (cgroup_create) and, when watch is not NULL, open a cgroup_watch
 * fd into *watch. 0, or -1 with errno and *step set to the CGROUP_AT_*
 * step that failed; on failure nothing is left behind. */
int cgroup_setup(const char *spec, const char *name, struct cgroup *cg,
    int *watch, int *step);

/* The cgroup v2 directory pid is in (its "0::" line under the mount),
 * into buf. 0, or -1 with errno (ESRCH/ENOENT: gone or no cgroup v2). */
int cgroup_of(pid_t pid, char *buf, size_t size);

/* Take an existing cgroup directory for cgroup_signal, cgroup_kill,
 * cgroup_populated and cgroup_remove, after checking that path is
 * strictly below the cgroup v2 mount, is its own real path (no symbolic
 * link, no "." or ".." component) and holds cgroup.procs; its owner in
 * *uid when uid is not NULL. cg->procs stays -1. 0, or -1 with errno
 * (EINVAL: outside the mount or not a cgroup; ENOENT: gone). */
int cgroup_open(const char *path, struct cgroup *cg, uid_t *uid);

/* Move the caller back to the parent of cg and remove cg, for a caller
 * that entered cg and must give up before it started anything. 0, or
 * -1 with errno (EBUSY: something else is still inside); cg is freed
 * either way. */
int cgroup_leave(struct cgroup *cg);

/* 1 if the kernel offers cg's cgroup.kill (5.14+), so cgroup_kill is
 * one atomic write, 0 if cgroup_kill falls back to freeze and sweep. */
int cgroup_has_kill(const struct cgroup *cg);

/* Record "PID PATH" (cg's directory, for process pid) on the open file
 * fd, in an extended attribute only its writer can set:
 * trusted.pkit.cgroup as root, user.pkit.cgroup for others (a user
 * writes only files of their own). 0, or -1 with errno (ENOTSUP: the
 * file system keeps no such attribute). */
int cgroup_record(int fd, pid_t pid, const struct cgroup *cg);

/* The path cgroup_record put on fd for pid, into buf (unchecked: pass
 * it to cgroup_open). 0, or -1 with errno (ENODATA: none, or recorded
 * for another pid; EINVAL: malformed). */
int cgroup_recorded(int fd, pid_t pid, char *buf, size_t size);

#endif
