#!/bin/sh
# bench/rss.sh: resident memory at rest of every pkit program against
# tini (DESIGN §5: <= 1x), paired run by run (bench/lib.sh).
#
# Each run starts one process in its resting state, waits REST seconds,
# reads VmRSS from /proc/PID/status, then ends it and its children by
# pid. The resting states, all blocked in the kernel:
#   tini -s -- sleep 1000                 (the peer: waiting for its child)
#   daemonize -N -w 60 -- sleep 1000      (waiting for readiness)
#   prefork -n 1 -- pfworker -s           (master, one idle worker)
#   pqueue pop -f q                       (blocked on an empty queue)
#   pqueue run -f q -- cat                (the same, with a command to run)
#   palarm 50ms > FILE                    (ticking, after REST of ticks)
#   preap -- sleep 1000                   (waiting for its child)
#   pkillall-title -0 -w -t 60 TITLE      (waiting for a process to exit)
# daemonize leaves no process of its own behind a started daemon: its
# row is the foreground wait for the daemon's readiness (-N -w), the
# longest it stays. Why it is fair: the same dynamic libc, the same wait,
# the same reading; only the program differs. RSS counts the libc pages a
# program has touched (the kernel maps them 64 KiB around each fault, at
# an address that ASLR moves by whole pages), so one run can differ from
# the next by 100 KiB for tini as for pkit: hence pairs and medians.
# dumb-init's figure is printed for reference.
#
#   BENCH_QUICK=1 sh bench/rss.sh
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
for f in daemonize prefork pqueue palarm preap pkillall-title helpers/pfworker \
    helpers/titled; do
	[ -x "$B/$f" ] || { echo "bench: $B/$f missing: make progs helpers" >&2; exit 1; }
done
need_pkg tini tini
need_pkg dumb-init dumb-init
command -v tini >/dev/null || { echo "bench: tini missing, no peer" >&2; exit 0; }
REST=$(size 0.5 0.3)
W=$(mktemp -d "${TMPDIR:-/tmp}/rss-bench.$$.XXXXXX")
T=rss$$
"$B/helpers/titled" "$T-watched" </dev/null >/dev/null 2>&1 &
WATCHED=$!
trap 'kill "$WATCHED" 2>/dev/null; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM

# children PID: the pids of PID's children.
children() { cat /proc/"$1"/task/*/children 2>/dev/null; }

# at_rest CMD...: start CMD, wait REST, print its VmRSS (KiB); then KILL
# it and its children (and a daemon named in $W/d.pid) by pid.
at_rest() {
	"$@" > "$W/out" 2>/dev/null < /dev/null &
	pid=$!
	sleep "$REST"
	kids=$(children "$pid")
	rss_kb "$pid" || echo nan
	kill -KILL "$pid" $kids 2>/dev/null
	[ -s "$W/d.pid" ] && kill -KILL "$(cat "$W/d.pid")" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$W/d.pid" "$W/q"
}

TINI="at_rest tini -s -- sleep 1000"
row() {	# LABEL CMD
	bench_row "RSS at rest: $1" KiB "<= 1" \
	    "tini -s -- sleep 1000" "$TINI" "$1" "at_rest $2"
}
row "daemonize -N -w 60 -- sleep 1000" \
    "'$B/daemonize' -N -w 60 -p '$W/d.pid' -- sleep 1000"
row "prefork -n 1 -- pfworker -s" "'$B/prefork' -n 1 -t '$T-pf' -- '$B/helpers/pfworker' -s"
row "pqueue pop -f q" "'$B/pqueue' -d '$W/q' pop -f q"
row "pqueue run -f q -- cat" "'$B/pqueue' -d '$W/q' run -f q -- cat"
row "palarm 50ms > FILE" "'$B/palarm' 50ms"
row "preap -- sleep 1000" "'$B/preap' -- sleep 1000"
row "pkillall-title -0 -w -t 60 TITLE" "'$B/pkillall-title' -0 -w -t 60 '$T-watched'"
if command -v dumb-init >/dev/null; then
	bench_info "RSS at rest: dumb-init sleep 1000 (KiB)" \
	    "$(at_rest dumb-init sleep 1000)"
fi
