/* qlook: pqueue's one-shot commands on local queues (see qlook.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "qlook.h"
#include "qshow.h"

/* One line of stat for s. 0, or -1 (said by the store). */
static int
stat_line(struct store *s, const char *name, int json)
{
	struct store_stat st;

	if (store_stat(s, &st) < 0)
		return -1;
	qshow_stat(name, &st, clock_wall(), json);
	return 0;
}

/* One message to c->out. 0 once written, else -1: errno EPIPE when the
 * reader has gone (quietly), else said. */
static int
out_message(const struct qlook *c, const char *data, size_t len)
{
	if (out_record(c->out, data, len, c->delim) < 0) {
		c->hooks->report(c->hooks->arg, STORE_WARN, errno, "write");
		return -1;
	}
	if (out_dead(c->out)) {
		errno = EPIPE;
		return -1;
	}
	return 0;
}

static int
print_dead(void *arg, const char *data, size_t len)
{
	return out_message(arg, data, len);
}

int
qlook_command(struct store *s, const struct qlook *c)
{
	struct store_msg m;

	if (strcmp(c->cmd, "len") == 0) {
		printf("%llu\n", (unsigned long long)store_len(s));
		return 0;
	}
	if (strcmp(c->cmd, "stat") == 0)
		return stat_line(s, c->name, c->json) < 0;
	if (strcmp(c->cmd, "purge") == 0)
		return store_purge(s) < 0;
	if (strcmp(c->cmd, "peek") == 0)
		return store_peek(s, &m) == 1 ? out_message(c, m.data, m.len) <
		    0 && errno != EPIPE : 1;
	if (c->requeue)
		return store_dead_requeue(s) < 0;
	if (c->why)
		return store_dead_list(s, qshow_dead, NULL) < 0;
	return store_dead_walk(s, print_dead, (void *)c) < 0;
}

int
qlook_list(const char *dir, int with_stat, int json,
    struct store_hooks *hooks)
{
	char path[PATH_MAX * 2], dbuf[PATH_MAX], **v;
	struct store *s;
	const char *d;
	size_t i, n;
	int is_tmp, st = 0;

	if (with_stat)
		qshow_stat_head(json);
	d = store_dir(dir, dbuf, sizeof(dbuf), &is_tmp);
	if (store_list(d, &v, &n) < 0) {
		hooks->report(hooks->arg, STORE_WARN, errno, d);
		return 1;
	}
	for (i = 0; i < n; i++) {
		hooks->name = v[i];
		snprintf(path, sizeof(path), "%s/%s", d, v[i]);
		if (!with_stat && !json)
			puts(v[i]);
		else if (store_open(&s, path, STORE_READ, hooks) == 0) {
			if (stat_line(s, v[i], json) < 0)
				st = -1;	/* said; stop here */
			store_close(s);
		} else if (errno != ENOENT)
			st = errno == EUCLEAN ? 3 : 1;	/* said; go on */
		if (st < 0)
			break;
	}
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return st < 0 ? 1 : st;
}
