/* title: rewrite the argv area so /proc/PID/cmdline (ps -o args, pgrep
 * -f, pkillall-title) shows a chosen title, and set comm to match.
 *
 * The kernel reports cmdline from the argv strings the process was
 * started with, [arg_start, arg_end). Two of its rules matter here:
 *   - if the byte at arg_end - 1 is NUL, cmdline is that whole range,
 *     NULs included;
 *   - if that byte is not NUL (the setproctitle(3) case), cmdline is the
 *     single string starting at arg_start, up to the first NUL, at most
 *     one page, and it may run on into the environment strings, which
 *     the kernel places right after the arguments.
 * So a title that fits is written followed by NULs with a non-NUL byte
 * left at arg_end - 1: readers get exactly "TITLE\0", no padding. A
 * longer title runs on into the environment strings. The first call
 * copies those strings to the heap (environ is repointed), and glibc's
 * program_invocation_name, which points into argv[0]. Once a title has
 * needed that room /proc/PID/environ shows what the title overwrote;
 * getenv, environ and exec'd children always see the environment
 * unchanged. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "title.h"

extern char **environ;

static char *area;		/* argv[0]: start of the argv area */
static size_t argv_len;		/* bytes of the argv strings, NULs included */
static size_t area_len;		/* argv_len + environment strings once moved */
static int moved;		/* environ relocated */
static int spilled;		/* a title ran into the environment area */

/* Kept reachable so leak checkers do not flag them once glibc's setenv
 * copies environ into an array of its own (volatile: the compiler would
 * drop stores to variables that are never read). */
static char **volatile heap_environ;
static char *volatile heap_name;

void
title_init(int argc, char **argv)
{
	char *end;
	int i;

	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	area = argv[0];
	end = argv[0] + strlen(argv[0]) + 1;
	for (i = 1; i < argc && argv[i] == end; i++)
		end += strlen(argv[i]) + 1;
	argv_len = (size_t)(end - area);
	area_len = argv_len;
}

/* Copy the environment strings that follow the argv area to the heap and
 * add their bytes to the area. 0 or -1 with errno (nothing changed). */
static int
move_environ(void)
{
	char *end = area + area_len, **env;
	size_t n, i;

	for (n = 0; environ != NULL && environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((env[i] = strdup(environ[i])) == NULL) {
			while (i > 0)
				free(env[--i]);
			free(env);
			return -1;
		}
	}
	for (i = 0; i < n && environ[i] == end; i++)
		end += strlen(environ[i]) + 1;
	/* glibc's names for the program point into argv[0]. */
	if (program_invocation_name >= area &&
	    program_invocation_name < area + argv_len) {
		if ((heap_name = strdup(program_invocation_name)) != NULL) {
			program_invocation_short_name = heap_name +
			    (program_invocation_short_name -
			    program_invocation_name);
			program_invocation_name = heap_name;
		}
	}
	heap_environ = env;
	environ = env;
	area_len = (size_t)(end - area);
	moved = 1;
	return 0;
}

static void
set_comm(const char *title)
{
	char comm[16];
	size_t n = strlen(title);

	if (n > sizeof(comm) - 1)
		n = sizeof(comm) - 1;
	memcpy(comm, title, n);
	comm[n] = '\0';
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}

int
title_set(const char *fmt, ...)
{
	va_list ap;
	char *title;
	size_t len, max;
	long page;
	int n;

	/* Format first: arguments may point into the area itself. */
	va_start(ap, fmt);
	n = vasprintf(&title, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	len = (size_t)n;
	set_comm(title);
	if (area == NULL || argv_len == 0) {
		free(title);
		return 0;
	}
	if (!moved && move_environ() < 0) {
		free(title);
		return -1;
	}
	if (len < argv_len) {
		max = argv_len - 1;
	} else {
		/* Past arg_end the kernel reads a single string of at most
		 * one page. */
		page = sysconf(_SC_PAGESIZE);
		max = area_len - 1;
		if (page > 0 && max > (size_t)page - 1)
			max = (size_t)page - 1;
		if (max < argv_len - 1)
			max = argv_len - 1;
	}
	if (len > max)
		len = max;
	memcpy(area, title, len);
	/* Leave the environment strings (and /proc/PID/environ) alone
	 * until a title needs their room. */
	if (len >= argv_len)
		spilled = 1;
	memset(area + len, 0, (spilled ? area_len : argv_len) - len);
	/* A non-NUL last argv byte selects the kernel's single-string
	 * rule, so a short title shows without trailing NULs. */
	if (len + 1 < argv_len)
		area[argv_len - 1] = ' ';
	free(title);
	return 0;
}
