#!/bin/sh
# bench/regress.sh: this tree's pqueue and prefork against an older build
# of pkit itself, every row paired run by run (bench/lib.sh), to check
# that a refactor kept their speed (issue 11: within 10 %).
#
# Why it is fair: both builds run the same commands on the same inputs,
# alternately, with the same helpers (this tree's pfworker and btool),
# the queues on the same tmpfs and the sinks on the same disk. The ratio
# is new / old, so >= 0.9 for a rate (or <= 1.1 for a time) is "within
# 10 %".
#
#   PKIT_OLD=/path/to/old/build sh bench/regress.sh
#   sh bench/regress.sh COMMIT     (builds COMMIT in a temporary worktree)
# make bench runs it against PKIT_OLD if that is set, else it is skipped.
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
OLD=${PKIT_OLD:-}
TREE=
if [ $# -gt 0 ]; then
	TREE=$(mktemp -d /tmp/pkit-old.XXXXXX)
	git worktree add -q --detach "$TREE" "$1" || exit 1
	make -C "$TREE" -j2 progs >/dev/null || exit 1
	OLD=$TREE/build
fi
[ -n "$OLD" ] || { echo "regress: set PKIT_OLD or name a commit; skipped"; exit 0; }
for f in "$B/pqueue" "$B/prefork" "$OLD/pqueue" "$OLD/prefork" \
    "$B/helpers/pfworker" "$B/bench/btool"; do
	[ -x "$f" ] || { echo "bench: $f missing" >&2; exit 1; }
done
PW=$B/helpers/pfworker
BT=$B/bench/btool
DISK=${BENCH_DISK:-/var/tmp}
W=$(mktemp -d "$DISK/pkit-bench-regress.$$.XXXXXX")
SHM=$(mktemp -d /dev/shm/pkit-regress.$$.XXXXXX 2>/dev/null || mktemp -d)
cleanup() {
	rm -rf "$W" "$SHM"
	[ -n "$TREE" ] && git worktree remove --force "$TREE"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

N=$(size 1000000 100000)
NW=$(size 100000 10000)
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%064d\n", i }' > "$W/msgs"
seq "$N" > "$W/in"
head -n "$NW" "$W/in" > "$W/in1"
echo "old build: $OLD"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

rate_of() { awk -v n="$1" '{ printf "%.0f\n", n / $1 }'; }
# timed COUNT CMD: run CMD, check $W/out has COUNT lines, COUNT per second.
timed() {
	t=$("$BT" time sh -c "$2") || { echo nan; return; }
	got=$(wc -l < "$W/out")
	[ "$got" -eq "$1" ] || { echo "bench: '$2' wrote $got of $1 lines" >&2
		echo nan; return; }
	echo "$t" | rate_of "$1"
}
# push_rate PQUEUE: N messages in one push into a fresh queue.
push_rate() {
	rm -rf "$SHM/q"
	t=$("$BT" time sh -c "'$1' -d '$SHM/q' push p < '$W/msgs'") || { echo nan; return; }
	echo "$t" | rate_of "$N"
}
# pop_rate PQUEUE: N messages pushed (untimed), popped into a file.
pop_rate() {
	rm -rf "$SHM/q"
	"$1" -d "$SHM/q" push p < "$W/msgs" || { echo nan; return; }
	timed "$N" "'$1' -d '$SHM/q' pop -c $N p > '$W/out'"
}

bench_row "pqueue push, $N messages in one push" msg/s ">= 0.9" \
    "old pqueue push" "push_rate '$OLD/pqueue'" \
    "pqueue push" "push_rate '$B/pqueue'"
bench_row "pqueue pop -c N into a file" msg/s ">= 0.9" \
    "old pqueue pop -c N" "pop_rate '$OLD/pqueue'" \
    "pqueue pop -c N" "pop_rate '$B/pqueue'"
bench_row "prefork -n 2 -R --window 64" records/s ">= 0.9" \
    "old prefork -n 2 -R --window 64 -- pfworker" \
    "timed $N '$OLD/prefork -n 2 -R --window 64 -- $PW < $W/in > $W/out'" \
    "prefork -n 2 -R --window 64 -- pfworker" \
    "timed $N '$B/prefork -n 2 -R --window 64 -- $PW < $W/in > $W/out'"
bench_row "prefork -n 2 -L" lines/s ">= 0.9" \
    "old prefork -n 2 -L -- pfworker" \
    "timed $N '$OLD/prefork -n 2 -L -- $PW < $W/in > $W/out'" \
    "prefork -n 2 -L -- pfworker" \
    "timed $N '$B/prefork -n 2 -L -- $PW < $W/in > $W/out'"
bench_row "prefork -n 2 -L -R (window 1)" records/s ">= 0.9" \
    "old prefork -n 2 -L -R -- pfworker" \
    "timed $NW '$OLD/prefork -n 2 -L -R -- $PW < $W/in1 > $W/out'" \
    "prefork -n 2 -L -R -- pfworker" \
    "timed $NW '$B/prefork -n 2 -L -R -- $PW < $W/in1 > $W/out'"
T=pfr$$
bench_row "prefork -n 64 until all have exec'd" s "<= 1.1" \
    "old prefork -n 64 (btool titled)" \
    "'$BT' titled 64 ${T}a -- '$OLD/prefork' -n 64 -t ${T}a -- '$PW' -s" \
    "prefork -n 64 (btool titled)" \
    "'$BT' titled 64 ${T}b -- '$B/prefork' -n 64 -t ${T}b -- '$PW' -s"
