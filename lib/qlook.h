/* qlook: pqueue's one-shot commands on local queues: ls and stat over
 * the queue directory, and len, stat, peek, purge and dead on one open
 * queue. Listings and counts go to stdout through stdio (lib/qshow);
 * messages (peek, dead) through the caller's unbuffered writer. Nothing
 * here exits or prints a diagnostic: failures go to hooks->report (the
 * store's own ones included). */
#ifndef PKIT_QLOOK_H
#define PKIT_QLOOK_H

#include "out.h"
#include "store.h"

/* One command on an open queue. */
struct qlook {
	const char *cmd;	/* "len", "stat", "peek", "purge" or "dead" */
	const char *name;	/* the queue's name in stat's line */
	int json;		/* stat --json */
	int requeue;		/* dead --requeue */
	int why;		/* dead -l */
	int delim;		/* peek, dead: after each message */
	struct out *out;	/* peek, dead: stdout, unbuffered */
	const struct store_hooks *hooks;	/* report */
};

/* Run c on s. Returns pqueue's exit status: 0; 1 when peek finds no
 * message or on a failure (said; a reader of stdout that has gone is
 * not one). */
int qlook_command(struct store *s, const struct qlook *c);

/* ls (with_stat 0: the names, one a line; with json, stat's JSON
 * lines) and stat without QUEUE (stat's table, the header first) over
 * the queues of store_dir(dir). hooks->name is set to each queue's
 * name in turn. Returns the exit status: 0; 1 when the directory cannot
 * be read or a queue's stat fails; 3 when a queue is damaged (said; the
 * others are still listed). */
int qlook_list(const char *dir, int with_stat, int json,
    struct store_hooks *hooks);

#endif
