#!/bin/sh
# bench/pqueue.sh: pqueue against System V message queues (and redis-cli
# pipelines when redis is installed), measured in one run:
#   - streamed push || pop of N (default 1,000,000) 64-byte messages, on
#     tmpfs (where $XDG_RUNTIME_DIR queues live) and on the disk's fs,
#     vs a msgsnd || msgrcv C loop (bench/pqueue-bench.c)
#   - one-message `pqueue push` as a process vs /bin/true
#   - push -> blocked pop wake-up latency vs SysV
#   - --sync throughput
#   - peak RSS of push and pop over the whole stream
set -u
cd "$(dirname "$0")/.."
B=${PKIT_BUILD:-build}
PQ=$B/pqueue
PB=$B/bench/pqueue-bench
N=${N:-1000000}
[ -x "$PQ" ] && [ -x "$PB" ] || { echo "build first: make progs helpers" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pqbench.$$.XXXXXX")
shm=/dev/shm/pqbench.$$
[ -d /dev/shm ] || shm=$tmp/shm
trap 'rm -rf "$tmp" "$shm"' EXIT INT TERM
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%064d\n", i }' > "$tmp/msgs"

now() { date +%s%N; }
rate() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.0f", n * 1e9 / ns }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# stream DIR: push || pop of N messages; prints msgs/s
stream() {
	t0=$(now)
	PQUEUE_DIR=$1 "$PQ" push s < "$tmp/msgs" &
	PQUEUE_DIR=$1 "$PQ" pop -c "$N" s > /dev/null
	wait
	t1=$(now)
	rate "$N" $((t1 - t0))
}

echo "messages: $N x 64 bytes; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
sysv=$("$PB" sysv "$N" 64)
tm=$(stream "$shm")
dk=$(stream "$tmp/q")
echo "streamed push || pop (msgs/s):"
echo "  sysv msgsnd || msgrcv      $sysv"
echo "  pqueue, tmpfs              $tm   ($(ratio "$tm" "$sysv")x sysv)"
echo "  pqueue, $(df -T "$tmp" | awk 'NR == 2 { print $2 }') (${TMPDIR:-/tmp})$(printf '%*s' 8 '')$dk   ($(ratio "$dk" "$sysv")x sysv)"

t0=$(now); PQUEUE_DIR=$shm "$PQ" push a < "$tmp/msgs"; t1=$(now)
t2=$(now); PQUEUE_DIR=$shm "$PQ" pop -c "$N" a > /dev/null; t3=$(now)
echo "  push alone (tmpfs)         $(rate "$N" $((t1 - t0)))"
echo "  pop alone (tmpfs)          $(rate "$N" $((t3 - t2)))"

if command -v redis-cli >/dev/null && redis-cli ping >/dev/null 2>&1; then
	key=pqbench.$$
	t0=$(now)
	awk -v k="$key" '{ print "LPUSH " k " " $0 }' "$tmp/msgs" |
	    redis-cli --pipe >/dev/null
	t1=$(now)
	awk -v k="$key" -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
	    print "RPOP " k }' | redis-cli --pipe >/dev/null
	t2=$(now)
	redis-cli del "$key" >/dev/null
	echo "  redis LPUSH pipeline       $(rate "$N" $((t1 - t0)))"
	echo "  redis RPOP pipeline        $(rate "$N" $((t2 - t1)))"
else
	echo "  redis: not installed, skipped"
fi
echo

if [ -x /usr/bin/time ]; then
	PQUEUE_DIR=$shm /usr/bin/time -f %M -o "$tmp/rss1" "$PQ" push m < "$tmp/msgs"
	PQUEUE_DIR=$shm /usr/bin/time -f %M -o "$tmp/rss2" "$PQ" pop -c "$N" m > /dev/null
	echo "peak RSS over $N messages: push $(cat "$tmp/rss1") KiB, pop $(cat "$tmp/rss2") KiB"
	echo
fi

R=${RUNS:-1000}
tr=$("$PB" spawn "$R" /bin/true)
tp=$(PQUEUE_DIR=$shm "$PB" spawn "$R" "$PQ" push one x)
echo "one-message push as a process (us, mean of $R):"
echo "  /bin/true                  $tr"
echo "  pqueue push one x          $tp   ($(ratio "$tp" "$tr")x /bin/true)"
echo

W=${WAKES:-500}
ws=$("$PB" sysv-wake "$W")
wp=$(PQUEUE_DIR=$shm "$PB" wake "$W" "$PQ" w)
echo "push -> blocked pop wake-up (us, median p99 of $W):"
echo "  sysv msgsnd -> msgrcv      $ws"
echo "  pqueue (tmpfs)             $wp"
wd=$(PQUEUE_DIR=$tmp/q "$PB" wake "$W" "$PQ" w)
echo "  pqueue (disk fs)           $wd"
echo

S=${SYNCN:-100000}
head -n "$S" "$tmp/msgs" > "$tmp/smsgs"
t0=$(now); PQUEUE_DIR=$tmp/q "$PQ" push --sync y < "$tmp/smsgs"; t1=$(now)
ts=$(PQUEUE_DIR=$tmp/q "$PB" spawn 200 "$PQ" push --sync z x)
tn=$(PQUEUE_DIR=$tmp/q "$PB" spawn 200 "$PQ" push z x)
echo "--sync on the disk fs:"
echo "  streamed push --sync       $(rate "$S" $((t1 - t0))) msgs/s (one fdatasync per 64 KiB read)"
echo "  one-message push --sync    $ts us per process (without --sync: $tn us)"
