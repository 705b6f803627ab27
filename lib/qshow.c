/* qshow: pqueue's stat table, its JSON Lines, and dead -l. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "json.h"
#include "qshow.h"

void
qshow_stat_head(int json)
{
	if (!json)
		printf("name length bytes oldest-age inflight dead\n");
}

void
qshow_stat(const char *name, const struct store_stat *st, int64_t now,
    int json)
{
	char age[32];

	snprintf(age, sizeof(age), json ? "null" : "-");
	if (st->oldest >= 0)
		snprintf(age, sizeof(age), "%.3f",
		    (double)(now - st->oldest) / 1e9);
	if (!json) {
		printf("%s %llu %llu %s %llu %llu\n", name,
		    (unsigned long long)st->length,
		    (unsigned long long)st->bytes, age,
		    (unsigned long long)st->inflight,
		    (unsigned long long)st->dead);
		return;
	}
	printf("{\"name\": ");
	json_write_string(stdout, name);
	printf(", \"length\": %llu, \"bytes\": %llu, \"oldest_age\": %s, "
	    "\"leased\": %llu, \"delayed\": %llu, \"dead\": %llu}\n",
	    (unsigned long long)st->length, (unsigned long long)st->bytes,
	    age, (unsigned long long)st->inflight,
	    (unsigned long long)st->delayed, (unsigned long long)st->dead);
}

int
qshow_dead(void *arg, const struct store_dead *d)
{
	const char *t, *e, *end;
	struct store_note n;
	char when[64] = "?";
	struct tm tm;
	time_t sec;

	(void)arg;
	if (store_note_parse(d, &n) < 0) {
		printf("message %llu: attempts %u, no reason recorded\n",
		    (unsigned long long)d->id, d->attempt);
		n.tail = "";
		n.taillen = 0;
	} else {
		sec = (time_t)(n.time / NS_PER_SEC);
		if (gmtime_r(&sec, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
			    &tm);
		printf("message %llu: attempts %u, %s %d, died %s\n",
		    (unsigned long long)d->id, d->attempt, n.signaled ?
		    "killed by signal" : "exit status", n.status, when);
	}
	end = n.tail + n.taillen;
	for (t = n.tail; t < end; t = e + 1) {
		if ((e = memchr(t, '\n', (size_t)(end - t))) == NULL)
			e = end;
		printf("  stderr: %.*s\n", (int)(e - t), t);
	}
	printf("  message: %.*s\n", (int)d->len, d->data);
	return ferror(stdout) ? -1 : 0;
}
