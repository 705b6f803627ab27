#!/bin/sh
# bench/redis.sh: pqueue on a Redis stream against what people wire by
# hand with redis-cli, against one private redis-server (127.0.0.1, no
# persistence), every row paired run by run (bench/lib.sh: median of the
# pair ratios, min-max spread).
#
# Why each comparison is fair:
# - push of N 64-byte messages: both sides send the same N XADDs to the
#   same fresh stream key over one connection. The peer is at its best:
#   `redis-cli --pipe` of the XADDs prepared beforehand as RESP (one
#   write of everything, replies read as they come). pqueue push pipelines
#   its XADDs too, and pays for a receipt key per batch (so that a lost
#   reply never stores a batch twice), which --pipe does not do.
# - pop of the N messages into a file: both read through one consumer
#   group and acknowledge and delete what they read. Peer at its best:
#   one `XREADGROUP ... COUNT N` for everything, then one --pipe of
#   XACK+XDEL for every id; pqueue pop -c N takes one message per round
#   trip (its XREADGROUP, write, XACK+XDEL each), so a message is written
#   out before the next is taken; the peer holds all N unacknowledged.
# - run of M messages with COMMAND `true`: both take one message at a
#   time, run `true` for it, then drop it: a redis-cli loop of BLMOVE
#   list work, true, LREM work (three processes per message) against
#   pqueue run -c M (one process, one child per message).
#
#   BENCH_QUICK=1 sh bench/redis.sh     (a few seconds a row)
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
N=${N:-$(size 20000 2000)}
M=${M:-$(size 300 50)}
need_pkg redis-server redis-server
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	{ echo "bench: redis-server and redis-cli needed" >&2; exit 1; }
[ -x "$B/pqueue" ] || { echo "bench: $B/pqueue missing: make progs helpers" >&2; exit 1; }
"$B/pqueue" -h 2>&1 | grep -q 'redis://' ||
	{ echo "bench: this pqueue has no redis:// queues" >&2; exit 1; }

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
[ -n "$pid" ] || { echo "bench: could not start redis-server" >&2; exit 1; }
R=redis://127.0.0.1:$port
RL=redis://127.0.0.1:PORT	# in the labels
rc() { redis-cli -p "$port" "$@"; }

awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "%064d\n", i }' > "$tmp/msgs"
# The same XADDs (and RPUSHes) as RESP, for redis-cli --pipe.
awk '{ printf "*5\r\n$4\r\nXADD\r\n$1\r\nq\r\n$1\r\n*\r\n$1\r\nd\r\n$%d\r\n%s\r\n", length($0), $0 }' \
    "$tmp/msgs" > "$tmp/xadd.resp"
awk -v m="$M" 'NR <= m { printf "*3\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n$%d\r\n%s\r\n", length($0), $0 }' \
    "$tmp/msgs" > "$tmp/rpush.resp"
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'); $N x 64-byte messages; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# Every run starts from an empty server.
fresh() { rc FLUSHALL > /dev/null; }
timed() {	# N CMD...: run CMD, print N per second
	_n=$1; shift
	_t0=$(now); "$@"; _t1=$(now)
	rate "$_n" $((_t1 - _t0))
}

peer_push() { fresh; timed "$N" sh -c 'redis-cli -p "$1" --pipe < "$2" > /dev/null' \
    sh "$port" "$tmp/xadd.resp"; }
pkit_push() { fresh; timed "$N" sh -c '"$1" push "$2" < "$3"' sh "$B/pqueue" \
    "$R/q" "$tmp/msgs"; }
bench_row "push of $N messages" msgs/s "-" \
    "redis-cli --pipe (XADD q * d MSG, prepared RESP)" peer_push \
    "pqueue push $RL/q" pkit_push

# pop: the stream filled by --pipe before each run (a group made at 0).
fill() { fresh; rc --pipe < "$tmp/xadd.resp" > /dev/null
	rc XGROUP CREATE q g 0 > /dev/null; }
peer_pop_run() {
	rc --raw XREADGROUP GROUP g c COUNT "$N" STREAMS q '>' > "$tmp/raw"
	awk '/^[0-9]+-[0-9]+$/ { id = $0; next } id != "" && $0 != "d" {
		print > out; n++
		printf "*4\r\n$4\r\nXACK\r\n$1\r\nq\r\n$1\r\ng\r\n$%d\r\n%s\r\n", length(id), id
		printf "*3\r\n$4\r\nXDEL\r\n$1\r\nq\r\n$%d\r\n%s\r\n", length(id), id
		id = "" }' out="$tmp/out" "$tmp/raw" | rc --pipe > /dev/null
}
peer_pop() { fill; rm -f "$tmp/out"; timed "$N" peer_pop_run
	cmp -s "$tmp/msgs" "$tmp/out" || echo "bench: redis-cli pop: output differs" >&2; }
pkit_pop() { fill; rc XGROUP DESTROY q g > /dev/null
	timed "$N" sh -c '"$1" pop -c "$2" "$3" > "$4"' sh "$B/pqueue" "$N" \
	    "$R/q" "$tmp/out"
	cmp -s "$tmp/msgs" "$tmp/out" || echo "bench: pqueue pop: output differs" >&2; }
bench_row "pop of $N messages into a file" msgs/s "-" \
    "redis-cli XREADGROUP COUNT N > FILE; XACK+XDEL of each id via --pipe" \
    peer_pop "pqueue pop -c N $RL/q > FILE" pkit_pop

peer_run_loop() {
	i=0
	while [ $i -lt "$M" ]; do
		m=$(rc BLMOVE list work LEFT RIGHT 1)
		true
		rc LREM work 1 "$m" > /dev/null
		i=$((i + 1))
	done
}
peer_run() { fresh; rc --pipe < "$tmp/rpush.resp" > /dev/null
	timed "$M" peer_run_loop; }
pkit_run() { fresh; head -n "$M" "$tmp/msgs" | "$B/pqueue" push "$R/r"
	timed "$M" "$B/pqueue" run -c "$M" "$R/r" -- true; }
bench_row "run of $M messages, COMMAND true" msgs/s "-" \
    "redis-cli BLMOVE list work; true; redis-cli LREM work (a loop)" \
    peer_run "pqueue run -c M $RL/r -- true" pkit_run
