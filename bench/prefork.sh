#!/bin/sh
# bench/prefork.sh: prefork against the tools people use today, every row
# paired run by run (bench/lib.sh: median of the pair ratios, min-max).
#
# Why each comparison is fair:
# - every run reads its records from the same kind of file and writes
#   them to a real file on the disk's fs, and the record count is checked
#   (a run that loses records fails);
# - -R --window 64 with the C worker (tests/helpers/pfworker) against
#   xargs -P2 -n1 echo and parallel -j2 echo: what a shell user runs today
#   to spread records over two processes; they start a process a record,
#   which is the cost prefork removes, so they get fewer records (the
#   ratio is of rates);
# - -L stream mode against cat | cat, the same bytes through one pipe;
# - -L -R (window 1) with N = 1, 2, 8, 64 workers against the same
#   ping-pong (bench/pfpingpong: two processes passing one record and
#   its reply over a pair of pipes, the floor for one record in flight;
#   prefork adds a master in between, but has N workers), to show how
#   dispatch scales with N; a separate run per N
#   reads the master's own CPU time from /proc/PID/schedstat (its
#   workers' is not in it): the cost per record as N grows;
# - start-up: `prefork -n 64` until all 64 workers have exec'd (argv[0]
#   PREFIX-i in /proc) against 64 fork+execs of the same worker at once,
#   timed by the same /proc poll (bench/btool titled / forkn).
#
#   BENCH_QUICK=1 sh bench/prefork.sh     (a few seconds a row)
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
PF=$B/prefork
PW=$B/helpers/pfworker
PP=$B/bench/pfpingpong
BT=$B/bench/btool
for f in "$PF" "$PW" "$PP" "$BT"; do
	[ -x "$f" ] || { echo "bench: $f missing: make progs helpers" >&2; exit 1; }
done
need_pkg parallel parallel
DISK=${BENCH_DISK:-/var/tmp}
W=$(mktemp -d "$DISK/pkit-bench-prefork.$$.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM

N=$(size 1000000 100000)	# -R --window 64
NW=$(size 200000 20000)	# window 1
NS=$(size 5000000 500000)	# stream
NX=$(size 3000 300)		# xargs
NP=$(size 500 100)		# parallel
seq "$NS" > "$W/ins"
head -n "$N" "$W/ins" > "$W/in"
head -n "$NW" "$W/ins" > "$W/in1"
head -n "$NX" "$W/ins" > "$W/inx"
head -n "$NP" "$W/ins" > "$W/inp"

rate_of() { awk -v n="$1" '{ printf "%.0f\n", n / $1 }'; }
# timed COUNT CMD: run the shell text CMD (stdout to $W/out), check that
# it wrote COUNT lines, print COUNT per second.
timed() {
	t=$("$BT" time sh -c "$2") || { echo nan; return; }
	got=$(wc -l < "$W/out")
	[ "$got" -eq "$1" ] || { echo "bench: '$2' wrote $got of $1 lines" >&2
		echo nan; return; }
	echo "$t" | rate_of "$1"
}
# timed_only COUNT CMD: the same without the check (pfpingpong counts
# its own round trips and fails if one is lost).
timed_only() {
	t=$("$BT" time sh -c "$2") || { echo nan; return; }
	echo "$t" | rate_of "$1"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

bench_row "-R --window 64, 2 workers, vs xargs" records/s ">= 100" \
    "xargs -P2 -n1 echo < IN > OUT ($NX records)" \
    "timed $NX 'xargs -P2 -n1 echo < $W/inx > $W/out'" \
    "prefork -n 2 -R --window 64 -- pfworker < IN > OUT ($N records)" \
    "timed $N '$PF -n 2 -R --window 64 -- $PW < $W/in > $W/out'"
bench_row "-R --window 64, 2 workers, vs GNU parallel" records/s "-" \
    "parallel -j2 echo < IN > OUT ($NP records)" \
    "timed $NP 'parallel -j2 echo < $W/inp > $W/out'" \
    "prefork -n 2 -R --window 64 -- pfworker < IN > OUT ($N records)" \
    "timed $N '$PF -n 2 -R --window 64 -- $PW < $W/in > $W/out'"
bench_row "-L stream mode, 2 workers, vs cat | cat" lines/s ">= 0.3" \
    "cat < IN | cat > OUT ($NS lines)" \
    "timed $NS 'cat < $W/ins | cat > $W/out'" \
    "prefork -n 2 -L -- pfworker < IN > OUT" \
    "timed $NS '$PF -n 2 -L -- $PW < $W/ins > $W/out'"

# master_cpu NWORK: one -L -R run of $NW records through a fifo that
# stays open until every reply is out, then the master's own time on the
# CPU from /proc/PID/schedstat (ns; its workers' time is not in it);
# prints "us_per_record vmhwm_kb".
master_cpu() {
	rm -f "$W/fifo"; mkfifo "$W/fifo"
	"$PF" -n "$1" -L -R -- "$PW" < "$W/fifo" > "$W/out" &
	m=$!
	exec 3> "$W/fifo"
	cat "$W/in1" >&3
	tries=0
	while [ "$(wc -l < "$W/out")" -lt "$NW" ] && [ $tries -lt 1200 ]; do
		sleep 0.05; tries=$((tries + 1))
	done
	cpu_ns=$(awk '{ print $1 }' "/proc/$m/schedstat")
	hwm=$(hwm_kb "$m")
	exec 3>&-
	wait "$m"
	awk -v t="$cpu_ns" -v n="$NW" -v h="$hwm" \
	    'BEGIN { printf "%.3f %d\n", t / 1e3 / n, h }'
}

for n in 1 2 8 64; do
	tg=-; [ "$n" = 2 ] && tg=">= 0.5"
	bench_row "-L -R (window 1), $n worker(s), vs a pipe ping-pong" records/s "$tg" \
	    "pfpingpong $NW" "timed_only $NW '$PP $NW'" \
	    "prefork -n $n -L -R -- pfworker < IN > OUT ($NW records)" \
	    "timed $NW '$PF -n $n -L -R -- $PW < $W/in1 > $W/out'"
	set -- $(master_cpu "$n")
	bench_info "-L -R, $n worker(s): master CPU per record (us, one run)" "$1"
	[ "$n" = 2 ] && bench_info "-L -R, 2 workers: master peak RSS after $NW records (KiB; target < 2048)" "$2"
done

T=pfb$$
bench_row "start 64 workers until all have exec'd" s "<= 1.5" \
    "64 fork+exec of pfworker -s at once (btool forkn)" \
    "'$BT' forkn 64 ${T}a -- '$PW' -s" \
    "prefork -n 64 -t T -- pfworker -s (btool titled)" \
    "'$BT' titled 64 ${T}b -- '$PF' -n 64 -t ${T}b -- '$PW' -s"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
