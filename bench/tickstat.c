/* tickstat: timing statistics of a tick stream, for bench/palarm.sh.
 *
 *   producer | tickstat INTERVAL
 *
 * Stamps each line with CLOCK_MONOTONIC on arrival. A line that starts
 * with a number is that tick's index (palarm's coalesced numbering);
 * otherwise lines are counted. The lateness of tick i is its arrival
 * minus its ideal time first + (i - i_first) * INTERVAL, shifted so the
 * most punctual tick is 0. Prints one line:
 *   lines N span_ms S drift_ms D drift_pct P p50_us A p99_us B max_us C
 *   gap_p50_us E gap_p99_us F
 * where drift is how far the last tick is from where a perfect
 * schedule would put it after as many ticks, and gap_* the deviation of
 * each interval between two lines from its ideal length (jitter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "msg.h"
#include "parse.h"

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int64_t interval, *t = NULL, *late, *gap, min;
	long long *idx = NULL, n = 0, cap = 0, i;
	char line[256], *end;
	double span, drift;

	msg_init(argv[0]);
	if (argc != 2 || duration_parse(argv[1], &interval) < 0 ||
	    interval <= 0)
		die(2, "usage: tickstat INTERVAL");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		int64_t now = clock_mono();

		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			t = realloc(t, (size_t)cap * sizeof(*t));
			idx = realloc(idx, (size_t)cap * sizeof(*idx));
			if (t == NULL || idx == NULL)
				die(1, "realloc:");
		}
		t[n] = now;
		idx[n] = strtoll(line, &end, 10);
		if (end == line)
			idx[n] = n;
		n++;
	}
	if (n < 2)
		die(1, "too few lines");
	late = malloc((size_t)n * sizeof(*late));
	gap = malloc((size_t)n * sizeof(*gap));
	if (late == NULL || gap == NULL)
		die(1, "malloc:");
	min = 0;
	for (i = 0; i < n; i++) {
		late[i] = t[i] - t[0] - (idx[i] - idx[0]) * interval;
		if (i == 0 || late[i] < min)
			min = late[i];
	}
	for (i = 0; i < n; i++)
		late[i] -= min;
	for (i = 1; i < n; i++) {
		gap[i - 1] = t[i] - t[i - 1] - (idx[i] - idx[i - 1]) * interval;
		if (gap[i - 1] < 0)
			gap[i - 1] = -gap[i - 1];
	}
	qsort(gap, (size_t)(n - 1), sizeof(*gap), cmp64);
	span = (double)(t[n - 1] - t[0]);
	drift = (double)(t[n - 1] - t[0] - (idx[n - 1] - idx[0]) * interval);
	qsort(late, (size_t)n, sizeof(*late), cmp64);
	printf("lines %lld span_ms %.1f drift_ms %.2f drift_pct %.2f "
	    "p50_us %.1f p99_us %.1f max_us %.1f gap_p50_us %.1f "
	    "gap_p99_us %.1f\n", n, span / 1e6,
	    drift / 1e6, 100.0 * drift / span, (double)late[n / 2] / 1e3,
	    (double)late[(n * 99) / 100] / 1e3, (double)late[n - 1] / 1e3,
	    (double)gap[(n - 1) / 2] / 1e3,
	    (double)gap[((n - 1) * 99) / 100] / 1e3);
	free(gap);
	free(t);
	free(idx);
	free(late);
	return 0;
}
