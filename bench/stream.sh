#!/bin/sh
# bench/stream.sh: pqueue run --stream (at-least-once through one
# long-lived filter) against the ways it replaces, records per second:
# - the at-most-once pipeline pqueue pop -c N jobs | prefork -L -R -k |
#   pqueue push res (the same filter, nothing held if anything dies);
# - prefork -L -R -k alone from a file into a file (no queue at all: the
#   ceiling);
# - per-message at-least-once: 4 x pqueue run -c N/4 jobs -- cat, a
#   fork+exec per message (M messages, fewer: it is slow).
# The filter is prefork -n 4 -L -R -k over pfworker (echo). Messages of 64
# bytes; queues on tmpfs; each run starts from a freshly pushed queue
# (the push is not timed).
#
#   BENCH_QUICK=1 sh bench/stream.sh     (a few seconds a row)
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
PQ=$B/pqueue
PF=$B/prefork
WK=$B/helpers/pfworker
BT=$B/bench/btool
for f in "$PQ" "$PF" "$WK" "$BT"; do
	[ -x "$f" ] || { echo "bench: $f missing: make progs helpers" >&2; exit 1; }
done
N=${N:-$(size 100000 10000)}
M=${M:-$(size 4000 400)}

W=$(mktemp -d /dev/shm/stbench.$$.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM

echo "records of 64 bytes; N=$N (M=$M per-message); queues on tmpfs ($W)"
echo "filter: prefork -n 4 -L -R -k -- pfworker"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%064d\n", i }' > "$W/msgs"
head -n "$M" "$W/msgs" > "$W/msgs-m"

rate_of() { awk -v n="$1" '{ printf "%.0f\n", n / $1 }'; }
# fresh FILE: a new queue directory with FILE pushed into jobs.
q=0
fresh() {
	q=$((q + 1)); rm -rf "$W"/q*; d=$W/q$q
	"$PQ" -d "$d" push jobs < "$1"
}

pk_stream() {	# COUNT FILE
	fresh "$2"
	"$BT" time sh -c '"$1" -d "$2" run --stream --to res jobs -- \
	    "$3" -n 4 -L -R -k -- "$4"' sh "$PQ" "$d" "$PF" "$WK" | rate_of "$1"
	[ "$("$PQ" -d "$d" len res)" -ge "$1" ] ||
	    echo "bench: stream: $("$PQ" -d "$d" len res) results" >&2
}
pipeline() {
	fresh "$W/msgs"
	"$BT" time sh -c '"$1" -d "$2" pop -c "$5" jobs |
	    "$3" -n 4 -L -R -k -- "$4" | "$1" -d "$2" push res' \
	    sh "$PQ" "$d" "$PF" "$WK" "$N" | rate_of "$N"
}
alone() {
	"$BT" time sh -c '"$1" -n 4 -L -R -k -- "$2" < "$3" > "$4"' \
	    sh "$PF" "$WK" "$W/msgs" "$W/out" | rate_of "$N"
}
per_message() {
	fresh "$W/msgs-m"
	"$BT" time sh -c 'for i in 1 2 3 4; do
	    "$1" -d "$2" run -c "$3" jobs -- cat > /dev/null & done; wait' \
	    sh "$PQ" "$d" "$((M / 4))" | rate_of "$M"
}

bench_row "run --stream vs pop | prefork -L -R -k | push (at-most-once)" records/s "-" \
    "pqueue pop -c N jobs | prefork -n 4 -L -R -k -- pfworker | pqueue push res" "pipeline" \
    "pqueue run --stream --to res jobs -- prefork -n 4 -L -R -k -- pfworker" "pk_stream $N '$W/msgs'"
bench_row "run --stream vs prefork -L -R -k alone (file to file)" records/s "-" \
    "prefork -n 4 -L -R -k -- pfworker < IN > OUT" "alone" \
    "pqueue run --stream --to res jobs -- prefork -n 4 -L -R -k -- pfworker" "pk_stream $N '$W/msgs'"
bench_row "run --stream vs per-message run (fork+exec each)" records/s "-" \
    "4 x pqueue run -c M/4 jobs -- cat" "per_message" \
    "pqueue run --stream --to res jobs -- prefork -n 4 -L -R -k -- pfworker" "pk_stream $M '$W/msgs-m'"
