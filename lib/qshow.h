/* qshow: pqueue's listings on stdout (stdio): the stat table and its
 * JSON Lines form, shared by store and System V queues, and dead -l's
 * account of each dead letter. Output only: nothing here reads a queue
 * or prints a diagnostic. */
#ifndef PKIT_QSHOW_H
#define PKIT_QSHOW_H

#include <stdint.h>

#include "store.h"

/* The header line of stat's table (not printed with --json). */
void qshow_stat_head(int json);

/* One queue as a line of stat's table, or (json) as a JSON object on a
 * line of its own with the keys documented in pqueue(1). st->oldest -1:
 * the age is "-" (null in JSON); else the age at wall time now (ns). */
void qshow_stat(const char *name, const struct store_stat *st, int64_t now,
    int json);

/* dead -l: one dead letter (store_dead_list's fn; arg unused): a line
 * with its id, attempts, how and when it died, then its stderr lines
 * and the message, each indented and labelled. 0, or -1 when stdout
 * has an error. */
int qshow_dead(void *arg, const struct store_dead *d);

#endif
