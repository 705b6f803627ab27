/* pidfile: single-instance pidfiles that a local user cannot turn
 * against the user who owns them.
 *
 * Two files. PATH, the pidfile, mode 0644, holds one line "PID" (what
 * every other tool reads), and in an extended attribute only root
 * (trusted.pkit.ident) or, for a user's own file, its owner
 * (user.pkit.ident) can set, the identity "PID START BOOT": the start
 * time in clock ticks since boot (/proc/PID/stat field 22) and the
 * kernel's boot id, so that a pid is only ever taken for the very
 * process that was recorded. PATH is written whole (temporary file +
 * rename) and never kept open. PATH.lock, mode 0600, empty and never
 * read, carries the fcntl write lock that keeps a second instance out;
 * only its owner can open it, so nobody else can take (and hold) a lock
 * on it. Record locks are not inherited by fork and vanish when the
 * holder dies, so a stale pidfile never blocks a restart.
 *
 * Every file is opened without following a symbolic link and checked
 * with fstat before use. Errors beyond the usual errno values:
 *   ELOOP   a symbolic link
 *   EISDIR  a directory
 *   ENODEV  a FIFO, socket or device
 *   EMLINK  a hard link (st_nlink > 1)
 *   EPERM   owned by a user other than the caller and root, or writable
 *           by group or others (PATH), or readable by them (PATH.lock)
 *   EINVAL  content that is not a pidfile
 *   EDOM    the pidfile names pid 1 or the caller itself
 * A pidfile without the identity (written by another tool or an older
 * pkit, or on a file system without extended attributes) is still read:
 * it counts as running when that process is alive and started before
 * the file was last written (a recycled pid started later). */
#ifndef PKIT_PIDFILE_H
#define PKIT_PIDFILE_H

#include <stdint.h>
#include <sys/types.h>

/* Open (creating) and write-lock PATH.lock, then check PATH. Returns the
 * locked fd of PATH.lock (close-on-exec unless keep_on_exec), or -1 with
 * errno: EWOULDBLOCK when another process holds the lock or PATH names a
 * running process (its pid in *holder, when holder is not NULL, 0 when
 * unknown), or one of the errors above. The lock lives as long as the
 * process keeps EVERY fd of PATH.lock open: never dup and close it. */
int pidfile_acquire(const char *path, int keep_on_exec, pid_t *holder);

/* Open (creating 0600) and write-lock a plain lock file, checked as
 * above (never written, never read). Returns the locked fd or -1 with
 * errno (EWOULDBLOCK: held, by *holder when visible). */
int pidfile_lock(const char *path, int keep_on_exec, pid_t *holder);

/* Write "PID" and its identity to the pidfile whose lock fd pidfile_acquire
 * returned, atomically (rename). 0 or -1 with errno (EBADF: fd is not a
 * lock of ours; ESRCH: pid is gone). */
int pidfile_write(int fd, pid_t pid);

/* The same, recording sid (> 0) as the session made for the process:
 * the identity becomes "PID START BOOT SID". */
int pidfile_write_session(int fd, pid_t pid, pid_t sid);

/* Read the pid stored in path (checked as above). 0 or -1 with errno. */
int pidfile_read(const char *path, pid_t *pid);

/* Is the process named by path running?
 *   PIDFILE_RUNNING: the recorded process is alive (same pid, start time
 *     and boot; without the identity, alive and started before the file
 *     was last written);
 *   PIDFILE_STALE: the file exists but its process is gone (or it is
 *     empty);
 *   PIDFILE_ABSENT: no such file.
 * Returns one of those (the recorded pid in *pid, 0 if none) or -1 with
 * errno (see above; EACCES, ...). */
enum { PIDFILE_RUNNING = 0, PIDFILE_STALE = 1, PIDFILE_ABSENT = 3 };
int pidfile_check(const char *path, pid_t *pid);

/* Start time of a running pidfile's process, in clock ticks since boot
 * (0 without the identity). Same returns as pidfile_check. */
int pidfile_check_start(const char *path, pid_t *pid, uint64_t *start);

/* The same, and the session recorded by pidfile_write_session (0 when
 * none was, or without the identity). */
int pidfile_identity(const char *path, pid_t *pid, uint64_t *start,
    pid_t *sid);

/* Remove path and path.lock, only if path is a pidfile (checked as
 * above) naming the calling process. ENOENT is not an error; a file that
 * is not ours is left alone: -1 with errno. */
int pidfile_remove(const char *path);

/* Remove path and path.lock only if no process runs under them: the lock
 * is taken first, so the pidfile of an instance that just started is
 * left alone, and a file that is not a pidfile is never removed.
 * 0 (removed or absent) or -1 with errno (EWOULDBLOCK: somebody holds
 * the lock or the process runs; or the errors above). */
int pidfile_discard(const char *path);

#endif
