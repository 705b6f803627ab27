/* proc: read the process table from /proc, and pin processes with pidfds.
 * A process that vanishes while being read (ENOENT, ESRCH) is "gone",
 * never an error. Linux-only. */
#ifndef PKIT_PROC_H
#define PKIT_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What proc_scan/proc_read should fill in; pid is always set. */
enum {
	PROC_UID   = 1 << 0,	/* uid: one fstatat of /proc/PID */
	PROC_STAT  = 1 << 1,	/* ppid, state, start, comm: /proc/PID/stat */
	PROC_TITLE = 1 << 2,	/* title: /proc/PID/cmdline read to EOF */
	PROC_IDS   = 1 << 3,	/* ruid, euid: the Uid line of
				 * /proc/PID/status */
};

struct proc_info {
	pid_t pid;
	pid_t ppid;
	uid_t uid;		/* owner of /proc/PID: the effective uid,
				 * or root for a non-dumpable process */
	uid_t ruid, euid;	/* real and effective uid (PROC_IDS) */
	char state;		/* 'R', 'S', 'Z', ... */
	uint64_t start;		/* start time, clock ticks since boot */
	char comm[16];		/* kernel command name (15 bytes + NUL) */
	char *title;		/* cmdline, NULs as spaces, trailing NULs and
				 * spaces removed; "" for kernel threads and
				 * zombies. Owned by the scanner. */
	size_t title_len;
	char *argv0;		/* first cmdline string (points into a
				 * private copy); "" when there is none */
};

/* Call fn for every process, in /proc order. fn returns 0 to go on, or
 * nonzero to stop the scan (that value is returned). Returns 0, the stop
 * value, or -1 with errno if /proc cannot be read. The info and its
 * strings are valid only during the call. */
typedef int (*proc_visit_fn)(const struct proc_info *p, void *arg);
int proc_scan(unsigned what, proc_visit_fn fn, void *arg);

/* Read one process. Returns 0, or -1 with errno (ESRCH when gone). The
 * caller frees with proc_info_free. */
int proc_read(pid_t pid, unsigned what, struct proc_info *p);
void proc_info_free(struct proc_info *p);

/* Wall-clock start time of a process in ns since the epoch (boot time +
 * start ticks), for PID-reuse checks. Returns 0 or -1 with errno. */
int proc_start_wall(pid_t pid, int64_t *ns);

/* 1 if /proc shows the caller's own pid namespace (/proc/self names
 * getpid()), 0 if it belongs to another one (a pid namespace entered
 * without mounting its /proc: every pid read there is a stranger's), -1
 * with errno if /proc/self cannot be read. */
int proc_same_ns(void);

/* pidfd helpers. proc_pidfd_open returns a close-on-exec pidfd, or -1
 * with errno (ESRCH gone; ENOSYS on kernels without pidfd_open, in which
 * case callers use the pid alone). */
int proc_pidfd_open(pid_t pid);

/* Send sig through pidfd when pidfd >= 0, else kill(pid). 0 or -1/errno;
 * ESRCH means the process is gone. */
int proc_pidfd_signal(int pidfd, pid_t pid, int sig);

/* Wait until every process in fds[0..n) (pidfds; -1 entries are
 * skipped) has exited, or until the monotonic deadline `until` (ns, -1 =
 * none). Entries that exited are set to -1 and closed. Without pidfd
 * support pids[] are polled with kill(pid, 0) every few ms; zombies count
 * as exited. Returns the number still alive (0 = all gone), or -1.
 * Precisely: when pids is not NULL, an entry with fds[i] == -1 and
 * pids[i] > 0 is polled by pid (use proc_gone afterwards to see which);
 * pass pids NULL when every entry has a pidfd. */
int proc_wait_gone(int *fds, const pid_t *pids, size_t n, int64_t until);

/* Make the caller a child subreaper (PR_SET_CHILD_SUBREAPER): orphaned
 * descendants are reparented to it instead of to init. 0 or -1/errno. */
int proc_set_subreaper(void);

/* True (1) if pid is gone or a zombie, 0 if alive. */
int proc_gone(pid_t pid);

#endif
