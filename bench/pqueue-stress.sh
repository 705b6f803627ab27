#!/usr/bin/env bash
# bench/pqueue-stress.sh [RUNS] [--writes]: TERM sent to a waiting
# `pqueue pop -f` at a random instant within its first 50 ms must end it
# within 1 s, every time. With --writes another process keeps pushing to
# the queue meanwhile, so the signal often lands while pop handles a
# wake-up: another process keeps writing a file in the queue's directory,
# each write a wake-up that finds no message. Prints "runs N late L" and exits 1 if any run was late.
# Uses $PKIT_BUILD/pqueue (default build/).
set -u
runs=${1:-1000}
writes=${2:-}
B=${PKIT_BUILD:-$(dirname "$0")/../build}
PQ=$B/pqueue
tmp=$(mktemp -d)
export PQUEUE_DIR=$tmp/q
late=0 wpid=
trap '[ -n "$wpid" ] && kill $wpid 2>/dev/null; wait
	rm -rf "$tmp" 2>/dev/null || { sleep 0.1; rm -rf "$tmp"; }' EXIT
"$PQ" push stress warm && "$PQ" pop stress >/dev/null
if [ "$writes" = --writes ]; then
	( while :; do echo x >> "$PQUEUE_DIR/stress/junk" || exit
		: > "$PQUEUE_DIR/stress/junk"; done ) 2>/dev/null &
	wpid=$!
fi
for ((i = 0; i < runs; i++)); do
	"$PQ" pop -f stress >/dev/null &
	pid=$!
	sleep "0.0$(printf '%02d' $((RANDOM % 50)))"
	kill -TERM "$pid" 2>/dev/null
	# up to 1 s, in 10 ms steps, for it to be gone
	for ((t = 0; t < 100; t++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	if kill -0 "$pid" 2>/dev/null; then
		late=$((late + 1))
		echo "run $i: pop -f still there 1 s after TERM" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
done
echo "runs $runs late $late"
[ "$late" -eq 0 ]
