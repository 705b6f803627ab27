#!/bin/sh
# bench/pkillall-title.sh: one look-up over a large process table, paired
# run by run (bench/lib.sh: median of the pair ratios, min-max).
#
# Starts NPROC (default 10,000) tests/helpers/titled processes titled
# kPID-wI (unique to this run; every one is ended by pid at exit), then
# times REPS calls a run of each tool looking up the last one:
#   pkillall-title -0 kPID-wLAST
#   pgrep -f '^kPID-wLAST$'
#   killall -0 kPID-wLAST        (the title fits comm's 15 bytes)
#   btool scan kPID-wLAST        (a bare /proc scan in C: readdir, then
#                                 open+read+close of each cmdline)
# Why it is fair: all four read the whole table and find the same single
# process, the same number of times, from the same fork+exec (a sh loop
# timed by bench/btool); the bare scan is the floor any of them could
# reach. Peak RSS of each over that table is measured once (ru_maxrss).
#
#   BENCH_QUICK=1 sh bench/pkillall-title.sh     (1,000 processes)
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
PKT=$B/pkillall-title
TITLED=$B/helpers/titled
BT=$B/bench/btool
for f in "$PKT" "$TITLED" "$BT"; do
	[ -x "$f" ] || { echo "bench: $f missing: make progs helpers" >&2; exit 1; }
done
need_pkg pgrep procps
need_pkg killall psmisc
NPROC=${NPROC:-$(size 10000 1000)}
REPS=$(size 3 3)

P=k$$
W=$(mktemp -d "${TMPDIR:-/tmp}/pkillall-title-bench.$$.XXXXXX")
cleanup() {
	[ -s "$W/pids" ] && xargs kill -KILL < "$W/pids" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

i=0
while [ "$i" -lt "$NPROC" ]; do
	"$TITLED" "$P-w$i" </dev/null >/dev/null 2>&1 &
	echo $! >> "$W/pids"
	i=$((i + 1))
done
target=$P-w$((NPROC - 1))
tries=0
until [ "$("$PKT" -l "$P-w*" 2>/dev/null | wc -l)" -ge "$NPROC" ]; do
	tries=$((tries + 1))
	[ "$tries" -lt 600 ] || { echo "bench: titles never appeared" >&2; exit 1; }
	sleep 0.1
done
total=$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)
for c in "$PKT -0 $target" "pgrep -f ^$target\$" "killall -0 $target" "$BT scan $target"; do
	$c >/dev/null 2>&1 || { echo "bench: '$c' found nothing" >&2; exit 1; }
done
echo "table: $NPROC titled processes ($total in /proc); $REPS calls a run"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# per_call CMD...: µs per call of CMD over REPS calls.
per_call() {
	"$BT" time sh -c 'i=0; while [ $i -lt "$0" ]; do "$@" >/dev/null 2>&1; i=$((i + 1)); done' \
	    "$REPS" "$@" | awk -v r="$REPS" '{ printf "%.0f\n", $1 / r * 1e6 }'
}

bench_row "look-up over $NPROC processes vs pgrep" us/call "<= 0.3" \
    "pgrep -f '^$P-wLAST\$'" "per_call pgrep -f '^$target\$'" \
    "pkillall-title -0 $P-wLAST" "per_call '$PKT' -0 '$target'"
bench_row "look-up over $NPROC processes vs killall" us/call "<= 1" \
    "killall -0 $P-wLAST" "per_call killall -0 '$target'" \
    "pkillall-title -0 $P-wLAST" "per_call '$PKT' -0 '$target'"
bench_row "look-up over $NPROC processes vs a bare /proc scan" us/call "-" \
    "btool scan $P-wLAST (readdir, open+read+close each cmdline)" \
    "per_call '$BT' scan '$target'" \
    "pkillall-title -0 $P-wLAST" "per_call '$PKT' -0 '$target'"

bench_info "peak RSS over $NPROC processes (KiB): pkillall-title -0" \
    "$("$BT" rss "$PKT" -0 "$target" 2>/dev/null)"
bench_info "peak RSS over $NPROC processes (KiB): pkillall-title -l '$P-w*'" \
    "$("$BT" rss "$PKT" -l "$P-w*" 2>/dev/null)"
bench_info "peak RSS over $NPROC processes (KiB): pgrep -f" \
    "$("$BT" rss pgrep -f "^$target\$" 2>/dev/null)"
bench_info "peak RSS over $NPROC processes (KiB): killall -0" \
    "$("$BT" rss killall -0 "$target" 2>/dev/null)"
