#!/bin/sh
# bench/daemonize.sh: time from invocation to return when starting
# `sleep 1000` as a daemon with a pidfile, for pkit's daemonize, Debian's
# daemonize(1) and start-stop-daemon --start --background --make-pidfile,
# in one run, interleaved round by round. Each started daemon is killed by
# the pid in its own pidfile (never by name) before the next round.
#
# Note: pkit's daemonize returns only once the command has been exec'd
# (and reports exec failures); daemonize(1) and start-stop-daemon return
# as soon as they have forked.
#
#   sh bench/daemonize.sh [ROUNDS]      (default 200)
set -u
# bash gives $EPOCHREALTIME: no fork of date(1) around each start.
if [ -z "${BASH_VERSION:-}" ] && command -v bash >/dev/null 2>&1; then
	exec bash "$0" "$@"
fi
PKIT_BUILD=${PKIT_BUILD:-build}
ROUNDS=${1:-200}
PKIT=$PKIT_BUILD/daemonize
[ -x "$PKIT" ] || { echo "bench: $PKIT missing: run make" >&2; exit 1; }

# Debian's daemonize(1) shares pkit's name: call it by its path.
DEB=
for p in /usr/sbin/daemonize /usr/bin/daemonize; do
	[ -x "$p" ] && [ "$(readlink -f "$p")" != "$(readlink -f "$PKIT")" ] &&
	    DEB=$p && break
done
SSD=$(command -v start-stop-daemon || echo /sbin/start-stop-daemon)
if [ -z "$DEB" ] || [ ! -x "$SSD" ]; then
	apt-get install -y daemonize dpkg >/dev/null 2>&1
	[ -x /usr/sbin/daemonize ] && DEB=/usr/sbin/daemonize
	[ -x /usr/bin/daemonize ] && DEB=/usr/bin/daemonize
	SSD=$(command -v start-stop-daemon || echo /sbin/start-stop-daemon)
fi
SLEEP=$(command -v sleep)

DIR=$(mktemp -d "/tmp/daemonize-bench.$$.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
trap 'exit 1' INT TERM

if [ -n "${EPOCHREALTIME:-}" ]; then
	now() { T=${EPOCHREALTIME/[.,]/}000; }
else
	now() { T=$(date +%s%N); }
fi

# reap PIDFILE: wait for the pidfile (the others write it after returning),
# kill exactly that pid, remove the file. (Init reaps the zombie later.)
reap() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
	pid=$(cat "$1" 2>/dev/null)
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -f "$1"
}

run_pkit() { "$PKIT" -p "$DIR/p.pid" -- sleep 1000; }
run_deb() { "$DEB" -p "$DIR/d.pid" "$SLEEP" 1000; }
run_ssd() {
	"$SSD" --start --quiet --background --make-pidfile \
	    --pidfile "$DIR/s.pid" --exec "$SLEEP" -- 1000
}

: > "$DIR/pkit.t"; : > "$DIR/deb.t"; : > "$DIR/ssd.t"
r=0
while [ $r -lt "$ROUNDS" ]; do
	now; t0=$T; run_pkit; now
	echo $(( T - t0 )) >> "$DIR/pkit.t"; reap "$DIR/p.pid"
	if [ -n "$DEB" ]; then
		now; t0=$T; run_deb; now
		echo $(( T - t0 )) >> "$DIR/deb.t"; reap "$DIR/d.pid"
	fi
	if [ -x "$SSD" ]; then
		now; t0=$T; run_ssd; now
		echo $(( T - t0 )) >> "$DIR/ssd.t"; reap "$DIR/s.pid"
	fi
	r=$((r + 1))
done

# The clock reads around each start cost the same for every tool; they
# are measured too and subtracted.
: > "$DIR/base.t"
r=0
while [ $r -lt "$ROUNDS" ]; do
	now; t0=$T; now; echo $(( T - t0 )) >> "$DIR/base.t"
	r=$((r + 1))
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print 0; exit }
	print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base=$(median "$DIR/base.t")
ms() { awk -v n="$1" -v b="$base" 'BEGIN { printf "%.2f", (n - b) / 1e6 }'; }

p=$(median "$DIR/pkit.t")
printf '%-44s %s\n' "tool (median of $ROUNDS starts)" "ms to return"
printf '%-44s %s\n' "pkit daemonize -p F -- sleep 1000" "$(ms "$p")"
if [ -s "$DIR/deb.t" ]; then
	d=$(median "$DIR/deb.t")
	printf '%-44s %s\n' "daemonize(1) -p F $SLEEP 1000" "$(ms "$d")"
fi
if [ -s "$DIR/ssd.t" ]; then
	s=$(median "$DIR/ssd.t")
	printf '%-44s %s\n' "start-stop-daemon --start --background -m" "$(ms "$s")"
fi
echo
[ -s "$DIR/deb.t" ] && awk -v p="$p" -v o="$d" -v b="$base" 'BEGIN {
	printf "pkit / daemonize(1):        %.2fx\n", (p - b) / (o - b) }'
[ -s "$DIR/ssd.t" ] && awk -v p="$p" -v o="$s" -v b="$base" 'BEGIN {
	printf "pkit / start-stop-daemon:   %.2fx\n", (p - b) / (o - b) }'
exit 0
