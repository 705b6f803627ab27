/* sysvq: System V message queues named sysv:KEY[:TYPE], for pqueue. */
#ifndef PKIT_SYSVQ_H
#define PKIT_SYSVQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "out.h"

struct sysvq {
	key_t key;
	long type;		/* push: > 0 (default 1); pop: msgrcv's type */
	int id;			/* -1 until sysvq_get */
};

/* Parse "sysv:KEY[:TYPE]": KEY decimal, 0xHEX or PATH@PROJ (ftok),
 * never 0 (IPC_PRIVATE: a new unreachable queue on every call). 0, or
 * -1 with why[0] saying what is bad and why[1] a hint (maybe ""), or
 * with why[0] NULL and errno from ftok. */
int sysvq_parse(const char *spec, int for_push, struct sysvq *q,
    const char *why[2]);

/* Look the queue up (create: make it, mode 0600). 0, or -1 with errno
 * (ENOENT: it does not exist and create is 0). */
int sysvq_get(struct sysvq *q, int create);

/* The kernel's largest message (kernel.msgmax), 8192 if unknown. */
long sysvq_msgmax(void);

/* Send one message of type q->type, retried on EINTR. 0 or -1 with
 * errno (EIDRM: queue removed; EINVAL: refused by the kernel). */
int sysvq_send(const struct sysvq *q, char **buf, size_t *cap,
    const void *data, size_t len);

/* Send msgs[0..n), or when n is 0 the records of fd (ended by delim),
 * each checked against max, kernel.msgmax and the queue's capacity
 * first; a message refused is reported (name: the queue as given) and
 * the rest still sent. 0, or -1 when any was refused or the queue went
 * away (reported). */
int sysvq_push_input(struct sysvq *q, const char *name, char **msgs,
    int n, int fd, int delim, uint64_t max,
    void (*report)(void *arg, int errnum, const char *text), void *arg);

/* Receive one message into *buf (grown as needed; the text starts at
 * *buf + sizeof(long)) until the monotonic time deadline (ns; -1: no
 * limit; 0: do not wait). A SIGALRM timer (handler installed for the
 * call, restored after) ends the wait; it repeats, so a tick that comes
 * before msgrcv blocks costs a few ms, never the deadline. Returns the
 * length, or -1 with errno (ENOMSG: nothing by the deadline, EIDRM). */
ssize_t sysvq_recv(const struct sysvq *q, char **buf, size_t *cap,
    int64_t deadline);

/* Messages and bytes in the queue, and its capacity in bytes. 0 or -1
 * with errno. */
int sysvq_stat(const struct sysvq *q, unsigned long *n,
    unsigned long *bytes, unsigned long *cap);

/* One pqueue command on the System V queue spec names, from parsing
 * the name to the last message. */
struct sysvq_cmd {
	const char *name;	/* push, pop, len, stat */
	char **args;		/* push: the messages; nargs 0: the records
				 * of stdin */
	int nargs;
	int delim;
	uint64_t max;		/* push: the longest message */
	long long count;	/* pop: -1 forever */
	int nowait;		/* pop: do not wait (nor make the queue) */
	int64_t wait;		/* pop: for each message, ns; -1 forever */
	int json;		/* stat */
	struct out *out;	/* pop: messages go here */
	/* A diagnostic line (errnum: its errno, 0 none); may be NULL. */
	void (*warn)(void *arg, int errnum, const char *text);
	void *arg;
};

/* Run c on spec ("sysv:KEY[:TYPE]"): len and stat print on stdout
 * (stdio, lib/qshow's table). Every failure is said through c->warn.
 * Returns pqueue's exit status: 0; 2 for a bad name; 1 for a failure,
 * a pop that found nothing or a push that left a message out. */
int sysvq_command(const char *spec, const struct sysvq_cmd *c);

#endif
