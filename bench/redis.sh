#!/bin/sh
# bench/redis.sh: pqueue on a Redis stream against what people wire by
# hand with redis-cli, against one private redis-server, in one run:
#   - push of N (default 20,000) 64-byte messages: pqueue push (pipelined
#     XADD) vs redis-cli --pipe of the same XADDs
#   - pop of the N: pqueue pop -c N (XREADGROUP, write, XACK+XDEL each)
#   - run of M (default 500) messages with COMMAND `true`: pqueue run -c M
#     vs a redis-cli loop: BLMOVE jobs work, run true, LREM work
# Short runs only: the machine is shared.
set -u
cd "$(dirname "$0")/.."
B=${PKIT_BUILD:-build}
N=${N:-20000}
M=${M:-500}
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	{ echo "redis-server and redis-cli needed" >&2; exit 1; }
[ -x "$B/pqueue" ] || { echo "build first: make progs helpers" >&2; exit 1; }
if "$B/pqueue" -h | grep -q 'redis://'; then
	pq() { "$B/pqueue" "$@"; }
	pq_push() { pq push "$1"; }
	pq_pop() { pq pop -c "$2" "$1"; }
	pq_run() { pq run -c "$2" "$1" -- true; }
	tool="pqueue"
else
	pq_push() { "$B/helpers/rsdrv" "$1" push; }
	pq_pop() { "$B/helpers/rsdrv" "$1" pop -c "$2"; }
	pq_run() { "$B/helpers/rsdrv" "$1" run -c "$2" -- true; }
	tool="rsdrv (lib/rstream)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rbench.$$.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# A free port below the ephemeral range: the server exits at once when
# the port is taken, and the next one is tried.
for try in 1 2 3 4 5 6 7 8 9 10; do
	port=$(awk -v s="$$$try" 'BEGIN { srand(s); print 20000 + int(rand() * 12000) }')
	redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp" --save '' \
	    --appendonly no --daemonize no --logfile "$tmp/log" &
	pid=$!
	i=0
	while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null &&
	    [ "$(redis-cli -p "$port" PING 2>/dev/null)" != PONG ]; do
		sleep 0.05; i=$((i + 1))
	done
	kill -0 "$pid" 2>/dev/null && break
	wait "$pid" 2>/dev/null
	pid=
done
[ -n "$pid" ] || { echo "could not start redis-server" >&2; exit 1; }
R=redis://127.0.0.1:$port
rc() { redis-cli -p "$port" "$@"; }

now() { date +%s%N; }
rate() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.0f", n * 1e9 / ns }'; }
row() { printf '  %-34s %8s  %s\n' "$1" "$2" "${3:-}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%064d\n", i }' > "$tmp/msgs"
# The same XADDs (and RPUSHes) as RESP, for redis-cli --pipe.
awk '{ printf "*5\r\n$4\r\nXADD\r\n$2\r\nrp\r\n$1\r\n*\r\n$1\r\nd\r\n$%d\r\n%s\r\n", length($0), $0 }' \
    "$tmp/msgs" > "$tmp/xadd.resp"
awk -v m="$M" 'NR <= m { printf "*3\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n$%d\r\n%s\r\n", length($0), $0 }' \
    "$tmp/msgs" > "$tmp/rpush.resp"

echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'); $N x 64-byte messages; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "queue side: $tool"
echo

t0=$(now); pq_push "$R/q" < "$tmp/msgs"; t1=$(now)
push=$(rate "$N" $((t1 - t0)))
t0=$(now); rc --pipe < "$tmp/xadd.resp" > /dev/null; t1=$(now)
pipe=$(rate "$N" $((t1 - t0)))
[ "$(rc XLEN q)" = "$N" ] || echo "warning: XLEN q is $(rc XLEN q)"
t0=$(now); pq_pop "$R/q" "$N" > "$tmp/out"; t1=$(now)
pop=$(rate "$N" $((t1 - t0)))
cmp -s "$tmp/msgs" "$tmp/out" || echo "warning: popped messages differ"

echo "push (msgs/s):"
row "redis-cli --pipe (XADD)" "$pipe"
row "$tool push" "$push" "($(ratio "$push" "$pipe")x --pipe)"
echo "pop (msgs/s):"
row "$tool pop -c N" "$pop"
echo

head -n "$M" "$tmp/msgs" | pq_push "$R/r"
t0=$(now); pq_run "$R/r" "$M"; t1=$(now)
run=$(rate "$M" $((t1 - t0)))
rc --pipe < "$tmp/rpush.resp" > /dev/null
t0=$(now)
i=0
while [ $i -lt "$M" ]; do
	m=$(rc BLMOVE list work LEFT RIGHT 1)
	true
	rc LREM work 1 "$m" > /dev/null
	i=$((i + 1))
done
t1=$(now)
loop=$(rate "$M" $((t1 - t0)))
echo "run, COMMAND true, $M messages (msgs/s):"
row "redis-cli BLMOVE + LREM loop" "$loop"
row "$tool run -c M" "$run" "($(ratio "$run" "$loop")x loop)"
