/* spawn: fork + exec with exec failures reported to the parent through a
 * close-on-exec pipe (the child writes errno; zero bytes mean success),
 * argv[0] override that survives #! scripts, clean signal state and fds
 * in the child. The building blocks are exported for programs that fork
 * in their own way (daemonize's double fork). */
#ifndef PKIT_SPAWN_H
#define PKIT_SPAWN_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn_opts {
	const char *argv0;	/* argv[0] for COMMAND (its title); NULL:
				 * argv[0] unchanged */
	char *const *envp;	/* NULL: the caller's environ */
	int in, out, err;	/* become fds 0, 1, 2; -1: inherit */
	const int *pass;	/* fds handed to the child as 3, 4, ... */
	int npass;
	int pdeathsig;		/* child gets this when the parent dies */
	int setsid;		/* new session */
	int setpgid;		/* new process group (ignored with setsid) */
	const char *dir;	/* chdir before exec; NULL: stay */
	/* Runs in the child after fds are in place, right before exec; may
	 * call setenv (programs are single-threaded). Returns 0, or -1 with
	 * errno to abort the spawn (reported like an exec failure). */
	int (*hook)(void *arg);
	void *hook_arg;
};

/* Start argv[0] (searched on PATH when it has no '/') with the options
 * (NULL: all defaults). Returns the child's pid once it has exec'd, or -1
 * with errno: the child's exec errno (the failed child is reaped before
 * return), or a fork/pipe error. The child has an empty signal mask,
 * every disposition reset to default, and only 0, 1, 2 and `pass` open. */
pid_t spawn_start(char *const argv[], const struct spawn_opts *o);

/* spawn_start in two halves, for starting many children at once: fork
 * the child and return its pid without waiting, with *report the read
 * end of its report pipe (close-on-exec, blocking; the caller closes
 * it). 0 with *report untouched is never returned: -1 with errno on a
 * pipe or fork error. The caller reaps the child in every case. */
pid_t spawn_fork(char *const argv[], const struct spawn_opts *o,
    int *report);

/* Read a report fd of spawn_fork (blocks until the child has got that
 * far; poll it for readability first to never block): 0 once the child
 * has exec'd (or died before exec without a report, e.g. killed), -1
 * with errno: the child's exec errno (it exits 127 right after), or the
 * read's error. */
int spawn_report(int fd);

/* timeout(1)/env(1) status for an exec errno: 127 for ENOENT/ENOTDIR,
 * 126 otherwise. */
int spawn_exec_status(int err);

/* Exit-status convention for a waitpid status: the exit code, or 128+N
 * when killed by signal N. */
int spawn_wait_status(int wstatus);

/* The one text every program uses for how a child ended, from a waitpid
 * status: "exited with status 3", "exited with status 127 (a command was
 * not found)" (126: "could not run"), "killed by signal KILL", with
 * " (core dumped)" when it did. Written into buf (size bytes, cut to
 * fit). Returns buf; cannot fail. */
char *spawn_status_text(int wstatus, char *buf, size_t size);

/* The waitpid status that matches a waitid siginfo (CLD_EXITED,
 * CLD_KILLED or CLD_DUMPED), for spawn_wait_status and
 * spawn_status_text; -1 for any other si_code. */
int spawn_siginfo_status(const siginfo_t *si);

/* -- building blocks, for use in a forked child -- */

/* Empty the signal mask and set every catchable signal to SIG_DFL. */
void spawn_reset_signals(void);

/* Close every fd >= lowfd (close_range, or a loop over /proc/self/fd). */
void spawn_close_from(int lowfd);

/* Exec argv (PATH search when argv[0] has no '/'), with argv0 as the new
 * argv[0] when not NULL; for a #! script and argv0 set, runs the
 * interpreter directly so argv[0] stays argv0. "#!/usr/bin/env NAME" and
 * "#!/usr/bin/env -S NAME ARG..." run NAME (searched on envp's PATH)
 * directly too; a line that needs more of env (other options, NAME=VALUE,
 * quotes, escapes, $) or a NAME not found runs env, and argv0 is lost.
 * Only returns on failure, -1 with errno. */
int spawn_exec(char *const argv[], const char *argv0, char *const envp[]);

#endif
