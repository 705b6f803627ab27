/* covwrap: linked into `make coverage` builds only (with -Wl,--wrap for
 * _exit and execve). A process that leaves through _exit or replaces
 * itself with exec never runs gcov's exit handler, so the lines a forked
 * child ran before exec (all of lib/spawn's child side) or an _exit path
 * would count as never run. Dumping the counters first keeps them; a
 * process that dumps and then goes on (a failed exec) may count some
 * lines twice, which line and branch coverage do not mind. */
#include <unistd.h>

void __gcov_dump(void);
void __real__exit(int) __attribute__((noreturn));
int __real_execve(const char *, char *const[], char *const[]);
void __wrap__exit(int) __attribute__((noreturn));
int __wrap_execve(const char *, char *const[], char *const[]);

void
__wrap__exit(int status)
{
	__gcov_dump();
	__real__exit(status);
}

int
__wrap_execve(const char *path, char *const argv[], char *const envp[])
{
	__gcov_dump();
	return __real_execve(path, argv, envp);
}
