/* pidfile: single-instance pidfiles guarded by an fcntl record lock held
 * by the process the pidfile names. Record locks are not inherited by
 * fork and vanish when the holder dies, so a stale pidfile (kill -9)
 * never blocks a restart. Files are opened O_NOFOLLOW: a symlink is
 * refused (ELOOP). */
#ifndef PKIT_PIDFILE_H
#define PKIT_PIDFILE_H

#include <sys/types.h>

/* Open (creating 0644) and write-lock path without truncating it first.
 * Returns the locked fd (close-on-exec unless keep_on_exec), or -1 with
 * errno: EWOULDBLOCK when another process holds the lock, or nobody does
 * but the stored pid is still running as pidfile_check defines it (its
 * pid in *holder, when holder is not NULL), ELOOP for a symlink. The
 * lock lives as long as the process keeps EVERY fd of this file open:
 * never dup and close the returned fd (fcntl locks drop on any close). */
int pidfile_acquire(const char *path, int keep_on_exec, pid_t *holder);

/* Truncate and write "PID\n" to the locked fd. 0 or -1 with errno. */
int pidfile_write(int fd, pid_t pid);

/* Read the pid stored in path. 0 or -1 with errno (ENOENT; EINVAL for
 * content that is not a pid). */
int pidfile_read(const char *path, pid_t *pid);

/* Is the process named by path running?
 *   PIDFILE_RUNNING: the lock is held (by *pid), or when nobody holds it,
 *     the stored pid is alive and started before the pidfile was last
 *     written (a recycled PID started later and does not count);
 *   PIDFILE_STALE: the file exists but its process is gone;
 *   PIDFILE_ABSENT: no such file.
 * Returns one of those or -1 with errno (ELOOP, EACCES, ...). */
enum { PIDFILE_RUNNING = 0, PIDFILE_STALE = 1, PIDFILE_ABSENT = 3 };
int pidfile_check(const char *path, pid_t *pid);

/* Remove path (ENOENT is not an error). 0 or -1. */
int pidfile_remove(const char *path);

/* Remove path only if no process runs under it: the lock is taken first,
 * so a pidfile a new instance just locked is left alone. 0 (removed or
 * absent) or -1 with errno (EWOULDBLOCK: somebody holds it). */
int pidfile_discard(const char *path);

#endif
