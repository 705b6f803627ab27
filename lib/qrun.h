/* qrun: one attempt of pqueue run's COMMAND on a leased message, and how
 * long a failed message waits before its next attempt. */
#ifndef PKIT_QRUN_H
#define PKIT_QRUN_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define QRUN_TAIL	4096	/* stderr kept for a dead letter's note */

struct qrun {
	struct loop *loop;	/* the caller's; SIGCHLD routed to it */
	const char *failed;	/* qrun_one's -1: the call that failed */
	int err_eof;		/* COMMAND's stderr pipe ended */
	size_t tail_len;	/* the last bytes of COMMAND's stderr */
	char tail[QRUN_TAIL];
};

/* Run argv with fd `in` as its stdin and PQUEUE_ID, PQUEUE_ATTEMPT and
 * PQUEUE_QUEUE set (in our environment, inherited), until it ends: its
 * stderr is relayed to ours as it comes and its last QRUN_TAIL bytes
 * kept in r->tail; a process it leaves behind holding that pipe does not
 * hold us up. COMMAND gets KILL if we die. The caller must route SIGCHLD
 * to r->loop (any handler): waitpid looks after each loop_once.
 * Returns 0 with its wait status in *ws; -1 with *ws its exec status
 * (spawn_exec_status) and errno when it could not run; or -1 with *ws
 * -1, errno and r->failed ("pipe", "loop", "waitpid") on our failure. */
int qrun_one(struct qrun *r, char *const argv[], const char *queue,
    uint64_t id, uint32_t attempt, int in, int *ws);

/* The wait before a message's next attempt after it failed its
 * attempt-th time: delay doubled per attempt up to max, then spread by
 * up to 10 % either way (random()), so runners that failed together do
 * not come back together. 0 (delay 0): at once. */
int64_t qrun_retry_wait(int64_t delay, int64_t max, uint32_t attempt);

#endif
