/* libtest: a driver for unit tests of lib/ (tests/lib.bats).
 *
 *   libtest duration STR...      one line each: nanoseconds, or the errno
 *                                name (EINVAL, ERANGE)
 *   libtest signal STR...        one line each: number, or errno name
 *   libtest signame NUM...       one line each: signal_name()
 *   libtest title [-x N] TITLE... [-- CMD [ARG]...]
 *                                title_set each TITLE (repeated N times,
 *                                so it can be longer than the argv area
 *                                that holds it) in turn, then print
 *                                what the process now looks like:
 *                                  cmdline <bytes of /proc/self/cmdline,
 *                                          NUL shown as \0>
 *                                  comm <of /proc/self/comm>
 *                                  env ok | env lost NAME
 *                                  procenv same | procenv changed
 *                                  name <program_invocation_name>
 *                                and exec CMD (which inherits environ).
 *   libtest waitstatus SCRIPT... one line each: sh -c SCRIPT run and
 *                                waited for, as spawn_status_text says
 *                                it ended, then " same" if
 *                                spawn_siginfo_status of its waitid
 *                                siginfo gave the waitpid status, else
 *                                " differs".
 *   libtest nomem STATUS alloc|realloc
 *                                ask msg_alloc/msg_realloc for more than
 *                                the address space: must die with
 *                                STATUS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "msg.h"
#include "parse.h"
#include "spawn.h"
#include "title.h"

extern char **environ;

static const char *
errname(int e)
{
	return e == EINVAL ? "EINVAL" : e == ERANGE ? "ERANGE" : "other";
}

static int
cmd_duration(int argc, char **argv)
{
	int64_t ns;
	int i;

	for (i = 0; i < argc; i++) {
		if (duration_parse(argv[i], &ns) == 0)
			printf("%lld\n", (long long)ns);
		else
			printf("%s\n", errname(errno));
	}
	return 0;
}

static int
cmd_signal(int argc, char **argv)
{
	int i, sig;

	for (i = 0; i < argc; i++) {
		if (signal_parse(argv[i], &sig) == 0)
			printf("%d\n", sig);
		else
			printf("%s\n", errname(errno));
	}
	return 0;
}

static int
cmd_signame(int argc, char **argv)
{
	char buf[32];
	int i;

	for (i = 0; i < argc; i++)
		printf("%s\n", signal_name(atoi(argv[i]), buf, sizeof(buf)));
	return 0;
}

static char *
slurp(const char *path, size_t *len)
{
	char *buf;

	if (io_read_file(AT_FDCWD, path, &buf, len) < 0)
		die(1, "%s:", path);
	return buf;
}

static char **
copy_env(void)
{
	char **copy;
	size_t n, i;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((copy = calloc(n + 1, sizeof(*copy))) == NULL)
		die(1, "calloc:");
	for (i = 0; i < n; i++)
		if ((copy[i] = strdup(environ[i])) == NULL)
			die(1, "strdup:");
	return copy;
}

/* Is every NAME=VALUE of env still what getenv and environ say? */
static void
check_env(char **env)
{
	char *eq, *v;
	size_t i;

	for (i = 0; env[i] != NULL; i++) {
		eq = strchr(env[i], '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		v = getenv(env[i]);
		if (v == NULL || strcmp(v, eq + 1) != 0 || environ[i] == NULL ||
		    strncmp(environ[i], env[i], strlen(env[i])) != 0) {
			printf("env lost %s\n", env[i]);
			return;
		}
		*eq = '=';
	}
	printf("env ok\n");
}

static void
set_title(const char *s, size_t repeat)
{
	size_t len = strlen(s), i;
	char *t;

	if ((t = malloc(len * repeat + 1)) == NULL)
		die(1, "malloc:");
	for (i = 0; i < repeat; i++)
		memcpy(t + i * len, s, len);
	t[len * repeat] = '\0';
	if (title_set("%s", t) < 0)
		die(1, "title_set:");
	free(t);
}

static int
cmd_title(int argc, char **argv)
{
	char **env, *procenv, *after, *cmd, *comm;
	size_t plen, alen, clen, i, repeat = 1;
	int n;

	if (argc >= 2 && strcmp(argv[0], "-x") == 0) {
		repeat = (size_t)atol(argv[1]);
		argc -= 2;
		argv += 2;
	}
	env = copy_env();
	procenv = slurp("/proc/self/environ", &plen);
	for (n = 0; n < argc && strcmp(argv[n], "--") != 0; n++)
		;
	for (i = 0; i < (size_t)n; i++)
		set_title(argv[i], repeat);
	cmd = slurp("/proc/self/cmdline", &clen);
	printf("cmdline ");
	for (i = 0; i < clen; i++)
		if (cmd[i] == '\0')
			printf("\\0");
		else
			putchar(cmd[i]);
	putchar('\n');
	comm = slurp("/proc/self/comm", &clen);
	printf("comm %s", comm);
	check_env(env);
	after = slurp("/proc/self/environ", &alen);
	printf("procenv %s\n", alen == plen && memcmp(after, procenv, plen) == 0 ?
	    "same" : "changed");
	printf("name %s\n", program_invocation_name);
	fflush(stdout);
	free(cmd);
	free(comm);
	free(after);
	free(procenv);
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
	if (n < argc && n + 1 < argc) {
		execvp(argv[n + 1], argv + n + 1);
		die(127, "exec %s:", argv[n + 1]);
	}
	return 0;
}

static int
cmd_waitstatus(int argc, char **argv)
{
	char shell[] = "sh", dash_c[] = "-c", how[64];
	char *sh[] = { shell, dash_c, NULL, NULL };
	siginfo_t si;
	pid_t pid;
	int i, st;

	for (i = 0; i < argc; i++) {
		sh[2] = argv[i];
		if ((pid = spawn_start(sh, NULL)) < 0)
			die(1, "sh:");
		memset(&si, 0, sizeof(si));
		/* WNOWAIT: the siginfo first, the zombie stays for waitpid. */
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 ||
		    waitpid(pid, &st, 0) != pid)
			die(1, "wait:");
		printf("%s %s\n", spawn_status_text(st, how, sizeof(how)),
		    spawn_siginfo_status(&si) == st ? "same" : "differs");
	}
	return 0;
}

static int
cmd_nomem(int argc, char **argv)
{
	int st;

	if (argc != 2)
		die(2, "usage: libtest nomem STATUS alloc|realloc");
	st = atoi(argv[0]);
	if (strcmp(argv[1], "alloc") == 0)
		msg_alloc(st, SIZE_MAX / 2, 4);
	else
		msg_realloc(st, NULL, SIZE_MAX / 2, 4);
	printf("allocated\n");
	return 0;
}

int
main(int argc, char **argv)
{
	char **copy;
	int i, rc;

	msg_init(argv[0]);
	title_init(argc, argv);
	if (argc < 2)
		die(2, "usage: libtest duration|signal|signame|title|waitstatus "
		    "ARG...");
	if (strcmp(argv[1], "duration") == 0)
		return cmd_duration(argc - 2, argv + 2);
	if (strcmp(argv[1], "signal") == 0)
		return cmd_signal(argc - 2, argv + 2);
	if (strcmp(argv[1], "signame") == 0)
		return cmd_signame(argc - 2, argv + 2);
	if (strcmp(argv[1], "nomem") == 0)
		return cmd_nomem(argc - 2, argv + 2);
	if (strcmp(argv[1], "waitstatus") == 0)
		return cmd_waitstatus(argc - 2, argv + 2);
	if (strcmp(argv[1], "title") != 0)
		die(2, "unknown test '%s'", argv[1]);
	/* title_set overwrites the argv strings: work on copies. */
	if ((copy = calloc((size_t)argc + 1, sizeof(*copy))) == NULL)
		die(1, "calloc:");
	for (i = 0; i < argc; i++)
		if ((copy[i] = strdup(argv[i])) == NULL)
			die(1, "strdup:");
	rc = cmd_title(argc - 2, copy + 2);
	for (i = 0; i < argc; i++)
		free(copy[i]);
	free(copy);
	return rc;
}
