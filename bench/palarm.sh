#!/bin/sh
# bench/palarm.sh [SECONDS]: 10 ms ticks for SECONDS (default 10) from
# palarm and from a `while sleep 0.01` shell loop, each piped into
# tickstat (bench/tickstat.c), which stamps every line on arrival and
# reports the count, the cumulative drift against a perfect schedule and
# the p50/p99 lateness. Run one after the other, never at once.
set -eu
B=${PKIT_BUILD:-build}
secs=${1:-10}
n=$((secs * 100))
[ -x "$B/palarm" ] && [ -x "$B/bench/tickstat" ] ||
	{ echo "bench/palarm.sh: build first: make progs helpers" >&2; exit 1; }

echo "10 ms ticks for ${secs} s; lateness = arrival - ideal schedule"
printf '%-12s ' palarm
"$B/palarm" -c "$n" 10ms | "$B/bench/tickstat" 10ms
# The loop that palarm replaces: sleep's own run time and the fork of
# each iteration accumulate, so it runs slow.
printf '%-12s ' sleep-loop
timeout "$secs" sh -c 'while sleep 0.01; do echo; done' |
	"$B/bench/tickstat" 10ms || true
