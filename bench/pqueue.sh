#!/bin/sh
# bench/pqueue.sh: pqueue against the queues people use today, every row
# paired run by run (bench/lib.sh: median of the pair ratios, min-max).
#
# Why each comparison is fair:
# - streamed push || pop, 64-byte messages: both sides run a producer and
#   a consumer process at once and end in the same real sink, a file on
#   the disk's fs and then a pipe into wc. The SysV peer is at its best: a
#   tight C loop (pqueue-bench sysv-stream) sending from one reused
#   buffer and writing what it receives through a 64 KiB output buffer;
#   pqueue reads its messages from a file and keeps them in a store that
#   survives kill -9 of either side, which msgsnd's queue does too (it is
#   the kernel's) but SysV's is capped in size and lost on reboot.
# - one-message push as a process: the same fork+exec+wait loop
#   (pqueue-bench spawn) runs /bin/true and `pqueue push`.
# - push -> blocked pop wake-up: both sides go through the same path,
#   measured by the same driver (pqueue-bench path) with the same 2 ms
#   gap: the driver writes a line into a running producer process's
#   stdin pipe and times its arrival on a running consumer process's
#   stdout pipe. SysV: pqueue-bench sysv-push ID / sysv-pop ID (one
#   msgsnd per line / one write per message); pkit: pqueue push Q /
#   pqueue pop -f Q.
# - push --sync, one acknowledged message at a time: the same driver
#   with no gap sends a line and waits for its acknowledgement before the
#   next. pqueue's acknowledgement is the message arriving from a
#   `pqueue pop -f` (a message is visible only after push committed it,
#   and with --sync only after fdatasync): the slowest of the three
#   paths, since it adds a second process. Peers: a C process that
#   write(2)s each line to a file, fdatasyncs and echoes it
#   (pqueue-bench fsync-echo), and SQLite through Python's sqlite3 module
#   (bench/sqlite-echo.py: autocommit INSERT per line, journal_mode=WAL,
#   synchronous=FULL, echo). A third row compares with the disk's own
#   limit, a write+fdatasync loop inside one process (no pipes at all).
#   Everything on the disk's fs ($BENCH_DISK, default /var/tmp).
# - backlog: BACKLOG messages (default 5,000,000) pushed, then popped to
#   a file, alternating with Redis (a fresh redis-server per round, no
#   persistence, on 127.0.0.1 and a free port): RPUSH with 1,000 values
#   per command through `redis-cli --pipe`, then `redis-cli --raw LPOP q
#   1000000` until empty into a file. Peak RSS: pqueue's push and pop
#   processes (wait4) against redis-server's VmHWM. Redis at its best
#   keeps nothing on disk, pqueue keeps every message on disk.
#
#   BENCH_QUICK=1 sh bench/pqueue.sh     (a few seconds a row)
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
PQ=$B/pqueue
PB=$B/bench/pqueue-bench
BT=$B/bench/btool
for f in "$PQ" "$PB" "$BT"; do
	[ -x "$f" ] || { echo "bench: $f missing: make progs helpers" >&2; exit 1; }
done
N=${N:-$(size 1000000 100000)}
ONE=$(size 300 50)
WAKES=$(size 300 50)
SYNCN=$(size 500 50)
BACKLOG=${BACKLOG:-$(size 5000000 200000)}
DISK=${BENCH_DISK:-/var/tmp}

W=$(mktemp -d "$DISK/pqbench.$$.XXXXXX")
SHM=$(mktemp -d /dev/shm/pqbench.$$.XXXXXX 2>/dev/null || mktemp -d)
REDIS_PID=
cleanup() {
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
	rm -rf "$W" "$SHM"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "messages of 64 bytes; stream N=$N, backlog $BACKLOG; queues on tmpfs"
echo "($SHM) unless said; sinks and --sync on $(df -T "$DISK" | awk 'NR == 2 { print $2 }') ($DISK)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%064d\n", i }' > "$W/msgs"

# ---- streamed push || pop ----
q=0
newq() { q=$((q + 1)); rm -rf "$SHM"/*; echo "$SHM/q$q"; }
pk_stream() {	# SINK: file or pipe
	d=$(newq)
	if [ "$1" = file ]; then
		"$BT" time sh -c '"$1" -d "$2" push s < "$3" & "$1" -d "$2" pop -c "$4" s > "$5"; wait' \
		    sh "$PQ" "$d" "$W/msgs" "$N" "$W/sink" | rate_of "$N"
	else
		"$BT" time sh -c '"$1" -d "$2" push s < "$3" & "$1" -d "$2" pop -c "$4" s | wc -l > "$5"; wait' \
		    sh "$PQ" "$d" "$W/msgs" "$N" "$W/sink" | rate_of "$N"
	fi
}
sv_stream() {
	if [ "$1" = file ]; then
		"$BT" time sh -c '"$1" sysv-stream "$2" 64 > "$3"' \
		    sh "$PB" "$N" "$W/sink" | rate_of "$N"
	else
		"$BT" time sh -c '"$1" sysv-stream "$2" 64 | wc -l > "$3"' \
		    sh "$PB" "$N" "$W/sink" | rate_of "$N"
	fi
}
# rate_of COUNT: seconds on stdin -> COUNT per second.
rate_of() { awk -v n="$1" '{ printf "%.0f\n", n / $1 }'; }

bench_row "streamed push || pop into a file" msgs/s ">= 1.5" \
    "pqueue-bench sysv-stream $N 64 > FILE" "sv_stream file" \
    "pqueue push s < MSGS & pqueue pop -c $N s > FILE" "pk_stream file"
bench_row "streamed push || pop into a pipe" msgs/s ">= 1.5" \
    "pqueue-bench sysv-stream $N 64 | wc -l" "sv_stream pipe" \
    "pqueue push s < MSGS & pqueue pop -c $N s | wc -l" "pk_stream pipe"

# ---- one-message push as a process ----
pk_one() { "$PB" spawn "$ONE" "$PQ" -d "$(newq)" push one x; }
bench_row "one-message push as a process, mean of $ONE" us "<= 1.5" \
    "/bin/true" "'$PB' spawn $ONE /bin/true" \
    "pqueue push one x" "pk_one"

# ---- wake-up, same path for both ----
sv_wake() {
	id=$("$PB" sysv-new)
	"$PB" path "$WAKES" 2000 "$PB" sysv-push "$id" -- "$PB" sysv-pop "$id" |
	    awk '{ print $1 }'
	"$PB" sysv-rm "$id"
}
pk_wake() {
	d=$(newq)
	"$PB" path "$WAKES" 2000 "$PQ" -d "$d" push w -- "$PQ" -d "$d" pop -f w |
	    awk '{ print $1 }'
}
bench_row "push -> blocked pop wake-up, median of $WAKES, 2 ms apart" us "pkit <= 1000" \
    "pqueue-bench sysv-push ID / sysv-pop ID" "sv_wake" \
    "pqueue push w / pqueue pop -f w" "pk_wake"

# ---- push --sync, one acknowledged message at a time ----
s=0
pk_sync() {
	s=$((s + 1))
	"$PB" path "$SYNCN" 0 "$PQ" -d "$W/sq$s" push --sync y -- \
	    "$PQ" -d "$W/sq$s" pop -f y | awk '{ print $3 }'
	rm -rf "$W/sq$s"
}
fs_echo() {
	s=$((s + 1))
	"$PB" path "$SYNCN" 0 "$PB" fsync-echo "$W/f$s" -- | awk '{ print $3 }'
	rm -f "$W/f$s"
}
fs_loop() {
	s=$((s + 1))
	"$PB" fsync-loop "$SYNCN" "$W/f$s"
	rm -f "$W/f$s"
}
sq_echo() {
	s=$((s + 1))
	"$PB" path "$SYNCN" 0 python3 bench/sqlite-echo.py "$W/db$s" -- |
	    awk '{ print $3 }'
	rm -f "$W/db$s"*
}
bench_row "push --sync, one acknowledged message at a time" msgs/s ">= 0.9" \
    "write+fdatasync loop in one process (pqueue-bench fsync-loop)" "fs_loop" \
    "pqueue push --sync y / pqueue pop -f y (ack = popped)" "pk_sync"
bench_row "push --sync vs the same path with write+fdatasync" msgs/s "-" \
    "pqueue-bench fsync-echo FILE (write, fdatasync, echo)" "fs_echo" \
    "pqueue push --sync y / pqueue pop -f y (ack = popped)" "pk_sync"
if python3 -c 'import sqlite3' 2>/dev/null; then
	bench_row "push --sync vs SQLite autocommit (WAL, synchronous=FULL)" msgs/s ">= 1.3" \
	    "python3 bench/sqlite-echo.py DB (sqlite3 $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)'))" "sq_echo" \
	    "pqueue push --sync y / pqueue pop -f y (ack = popped)" "pk_sync"
else
	echo "* SQLite row skipped: python3's sqlite3 module is missing"
fi

# ---- backlog vs Redis ----
need_pkg redis-server redis-server
need_pkg redis-cli redis-tools
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "* backlog rows skipped: redis-server or redis-cli missing"
	exit 0
fi
rm -f "$W/msgs"
awk -v n="$BACKLOG" 'BEGIN { for (i = 0; i < n; i++) printf "%064d\n", i }' > "$W/big"
# RESP for RPUSH q with 1,000 values per command.
awk -v n="$BACKLOG" 'BEGIN { CR = sprintf("\r")
	for (i = 0; i < n; i += 1000) {
		k = (n - i < 1000) ? n - i : 1000
		printf "*%d%s\n$5%s\nRPUSH%s\n$1%s\nq%s\n", k + 2, CR, CR, CR, CR, CR
		for (j = 0; j < k; j++)
			printf "$64%s\n%064d%s\n", CR, i + j, CR
	} }' > "$W/resp"
PORT=
for p in $(awk -v s=$$ 'BEGIN { for (i = 0; i < 20; i++) print 20000 + (s * 7 + i * 131) % 30000 }'); do
	if ! ss -ltan 2>/dev/null | grep -q "[:.]$p "; then
		PORT=$p
		break
	fi
done
[ -n "$PORT" ] || { echo "* backlog rows skipped: no free port" >&2; exit 0; }
RC="redis-cli -h 127.0.0.1 -p $PORT"

redis_round() {	# appends "push_rate pop_rate hwm_kb mem_kb" to $W/redis
	redis-server --port "$PORT" --bind 127.0.0.1 --save '' \
	    --appendonly no --daemonize no --dir "$W" > "$W/redis.log" 2>&1 &
	REDIS_PID=$!
	tries=0
	until $RC ping > /dev/null 2>&1; do
		tries=$((tries + 1)); [ $tries -lt 200 ] || return 1; sleep 0.05
	done
	tp=$("$BT" time sh -c '$1 --pipe < "$2" > /dev/null' sh "$RC" "$W/resp")
	mem=$($RC info memory | awk -F: '/^used_memory_rss:/ { printf "%d", $2 / 1024 }')
	t0=$(now)
	: > "$W/sink"
	while [ "$($RC llen q)" -gt 0 ]; do
		$RC --raw lpop q 1000000 >> "$W/sink"
	done
	t1=$(now)
	got=$(wc -l < "$W/sink")
	[ "$got" -eq "$BACKLOG" ] || echo "bench: redis popped $got" >&2
	hwm=$(hwm_kb "$REDIS_PID")
	kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=
	echo "$(echo "$tp" | rate_of "$BACKLOG") $(rate "$BACKLOG" $((t1 - t0))) $hwm $mem" >> "$W/redis"
}
pkit_round() {	# appends "push_rate pop_rate peak_kb disk_kb" to $W/pkit
	d=$W/bq
	rm -rf "$d"
	set -- $("$BT" both "$PQ" -d "$d" push q < "$W/big")
	pr=$(echo "$1" | rate_of "$BACKLOG") prss=$2
	disk=$(du -sk "$d" | awk '{ print $1 }')
	set -- $("$BT" both sh -c '"$1" -d "$2" pop -c "$3" q > "$4"' sh \
	    "$PQ" "$d" "$BACKLOG" "$W/sink")
	# btool both over sh: the RSS is the larger of sh's and pop's.
	po=$(echo "$1" | rate_of "$BACKLOG")
	rm -rf "$d"
	echo "$pr $po $(( prss > $2 ? prss : $2 )) $disk" >> "$W/pkit"
}
: > "$W/redis"; : > "$W/pkit"
round=0
while [ $round -lt "$BENCH_PAIRS" ]; do
	redis_round || { echo "bench: redis did not start" >&2; break; }
	pkit_round
	round=$((round + 1))
done
col() { awk -v c="$1" '{ print $c }' "$2" > "$3"; }
col 1 "$W/redis" "$W/r1"; col 1 "$W/pkit" "$W/p1"
col 2 "$W/redis" "$W/r2"; col 2 "$W/pkit" "$W/p2"
col 3 "$W/redis" "$W/r3"; col 3 "$W/pkit" "$W/p3"
bench_report "backlog of $BACKLOG: push" msgs/s ">= 1" \
    "redis-cli --pipe (RPUSH q, 1000 values a command)" "$W/r1" \
    "pqueue push q < FILE" "$W/p1"
bench_report "backlog of $BACKLOG: pop into a file" msgs/s ">= 1" \
    "redis-cli --raw LPOP q 1000000 >> FILE, until empty" "$W/r2" \
    "pqueue pop -c $BACKLOG q > FILE" "$W/p2"
bench_report "backlog of $BACKLOG: peak RSS" KiB "<= 1" \
    "redis-server VmHWM" "$W/r3" \
    "max of pqueue push's and pop's peak RSS" "$W/p3"
bench_info "backlog of $BACKLOG: pqueue disk used (du -sk, KiB; payload $((BACKLOG * 64 / 1024)) KiB)" \
    "$(col 4 "$W/pkit" "$W/p4"; median "$W/p4")"
bench_info "backlog of $BACKLOG: redis used_memory_rss after push (KiB)" \
    "$(col 4 "$W/redis" "$W/r4"; median "$W/r4")"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
