#!/bin/sh
# bench/pkillall-title.sh: one look-up over a large process table.
#
# Starts N (default 2000) tests/helpers/titled processes titled
# kPID-wI, then times, interleaved run by run, REPS calls each of
#   pkillall-title -0 kPID-wLAST
#   pgrep -f '^kPID-wLAST$'
#   killall -0 kPID-wLAST        (the title fits comm's 15 bytes)
# which all find the same single process after reading the whole table.
# Prints the median time per call over RUNS runs and the ratios, then the
# peak RSS of pkillall-title over that table next to tini's and
# dumb-init's (when installed). Every started process is killed by pid.
#
#   sh bench/pkillall-title.sh [N [RUNS [REPS]]]     (2000 7 10)
set -u
PKIT_BUILD=${PKIT_BUILD:-build}
N=${1:-2000}
RUNS=${2:-7}
REPS=${3:-10}
PKT=$PKIT_BUILD/pkillall-title
TITLED=$PKIT_BUILD/helpers/titled
for f in "$PKT" "$TITLED"; do
	[ -x "$f" ] || { echo "bench: $f missing: run make progs helpers" >&2
		exit 1; }
done
command -v pgrep >/dev/null || apt-get install -y procps >/dev/null 2>&1
command -v killall >/dev/null || apt-get install -y psmisc >/dev/null 2>&1
command -v tini >/dev/null || apt-get install -y tini >/dev/null 2>&1
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null 2>&1

P=k$$
DIR=$(mktemp -d "/tmp/pkillall-title-bench.$$.XXXXXX")
cleanup() {
	[ -s "$DIR/pids" ] && xargs kill -KILL < "$DIR/pids" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s%N; }

# median FILE: the middle line of the numbers in FILE.
median() {
	sort -n "$1" | sed -n "$(( ($(wc -l < "$1") + 1) / 2 ))p"
}

# per_call OUTFILE CMD...: run CMD REPS times; append µs per call.
per_call() {
	out=$1; shift
	t0=$(now)
	i=0
	while [ "$i" -lt "$REPS" ]; do
		"$@" >/dev/null 2>&1
		i=$((i + 1))
	done
	t1=$(now)
	echo $(( (t1 - t0) / REPS / 1000 )) >> "$out"
}

i=0
while [ "$i" -lt "$N" ]; do
	"$TITLED" "$P-w$i" </dev/null >/dev/null 2>&1 &
	echo $! >> "$DIR/pids"
	i=$((i + 1))
done
target=$P-w$((N - 1))
tries=0
until [ "$(pgrep -c -f "^$P-w")" -eq "$N" ]; do
	tries=$((tries + 1))
	[ "$tries" -lt 500 ] || { echo "bench: titles never appeared" >&2
		exit 1; }
	sleep 0.02
done
total=$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)

for c in "$PKT -0 $target" "pgrep -f ^$target\$" "killall -0 $target"; do
	$c >/dev/null 2>&1 || { echo "bench: '$c' found nothing" >&2; exit 1; }
done

r=0
while [ "$r" -lt "$RUNS" ]; do
	per_call "$DIR/pkt" "$PKT" -0 "$target"
	per_call "$DIR/pgrep" pgrep -f "^$target\$"
	per_call "$DIR/killall" killall -0 "$target"
	r=$((r + 1))
done
pkt=$(median "$DIR/pkt")
pg=$(median "$DIR/pgrep")
ka=$(median "$DIR/killall")

echo "table: $N titled processes ($total in /proc), median of $RUNS runs x $REPS calls"
printf '%-34s %8s us/call\n' "pkillall-title -0 $P-wLAST" "$pkt"
printf '%-34s %8s us/call\n' "pgrep -f '^$P-wLAST\$'" "$pg"
printf '%-34s %8s us/call\n' "killall -0 $P-wLAST" "$ka"
awk -v a="$pkt" -v b="$pg" -v c="$ka" 'BEGIN {
	printf "ratio pkillall-title / pgrep -f:  %.2f  (target <= 0.30)\n", a / b
	printf "ratio pkillall-title / killall:   %.2f  (target <= 1.00)\n", a / c
}'

# peak RSS (KiB) of CMD..., by GNU time.
rss() {
	/usr/bin/time -f %M -o "$DIR/rss" "$@" >/dev/null 2>&1
	cat "$DIR/rss"
}
echo "peak RSS, KiB:"
printf '  %-32s %6s\n' "pkillall-title -0 (this table)" "$(rss "$PKT" -0 "$target")"
printf '  %-32s %6s\n' "pkillall-title -l '$P-w*'" "$(rss "$PKT" -l "$P-w*")"
printf '  %-32s %6s\n' "pgrep -f" "$(rss pgrep -f "^$target\$")"
printf '  %-32s %6s\n' "killall -0" "$(rss killall -0 "$target")"
# For comparison: the same objects linked statically (not what make
# builds), which leaves out the libc pages a dynamic program touches.
if cc -static -o "$DIR/pkt-static" "$PKIT_BUILD/cmd/pkillall-title.o" \
    "$PKIT_BUILD/libpkit.a" >/dev/null 2>&1; then
	printf '  %-32s %6s\n' "same, linked with -static" \
	    "$(rss "$DIR/pkt-static" -0 "$target")"
fi
printf '  %-32s %6s\n' "tini -s -- true" "$(rss tini -s -- true)"
if command -v dumb-init >/dev/null; then
	printf '  %-32s %6s\n' "dumb-init true" "$(rss dumb-init true)"
fi
