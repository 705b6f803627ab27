/* cgtest: drive lib/cgroup the way daemonize or prefork would.
 *
 *   cgtest PARENT kill|frozen|term TAG
 *
 * Creates a cgroup under PARENT, starts (fork, cgroup_enter, exec)
 *   sh -c '(setsid sleep 300 &); (sleep 300 &); exec sleep 300' TAG
 * waits until its three processes are in it, then ends them with
 * cgroup_kill (kill), its freeze-and-sweep fallback cgroup_kill_frozen
 * (frozen) or cgroup_signal TERM (term), waits with cgroup_wait_empty
 * (5 s bound), removes the cgroup, and prints what it saw:
 *   "in 3" / "empty" / "removed", and on stderr the pids it found, one a
 * line. Exit 0 on success, 1 on failure. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"

static int
fail(const char *what, struct cgroup *cg)
{
	fprintf(stderr, "cgtest: %s: %s\n", what, strerror(errno));
	if (cg != NULL && cg->path != NULL) {
		(void)cgroup_kill(cg);
		(void)cgroup_wait_empty(cg, clock_mono() + 5 * NS_PER_SEC);
		(void)cgroup_remove(cg);
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct cgroup cg;
	pid_t pid, *pids;
	int64_t until;
	int n = 0, r;

	if (argc != 4)
		return 2;
	if (cgroup_create(argv[1], "cgtest", &cg) < 0)
		return fail("create", NULL);
	if ((pid = fork()) < 0)
		return fail("fork", &cg);
	if (pid == 0) {
		if (cgroup_enter(&cg) < 0)
			_exit(126);
		execlp("sh", "sh", "-c", "(setsid sleep 300 &); (sleep 300 &); "
		    "exec sleep 300", argv[3], (char *)NULL);
		_exit(127);
	}
	until = clock_mono() + 5 * NS_PER_SEC;
	for (;;) {
		if ((n = cgroup_pids(cg.path, &pids)) < 0)
			return fail("pids", &cg);
		if (n >= 3 || clock_mono() >= until)
			break;
		free(pids);
		usleep(10000);
	}
	printf("in %d\n", n);
	/* On stderr, for the caller to check that each is gone. */
	for (r = 0; r < n; r++)
		fprintf(stderr, "%ld\n", (long)pids[r]);
	free(pids);
	fflush(stdout);
	if (strcmp(argv[2], "kill") == 0)
		r = cgroup_kill(&cg);
	else if (strcmp(argv[2], "frozen") == 0)
		r = cgroup_kill_frozen(&cg);
	else
		r = cgroup_signal(&cg, SIGTERM) < 0 ? -1 : 0;
	if (r < 0)
		return fail("kill", &cg);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (cgroup_wait_empty(&cg, clock_mono() + 5 * NS_PER_SEC) < 0)
		return fail("wait", &cg);
	printf("empty\n");
	if (cgroup_populated(&cg) != 0)
		return fail("populated", &cg);
	if (cgroup_remove(&cg) < 0)
		return fail("remove", NULL);
	printf("removed\n");
	return 0;
}
