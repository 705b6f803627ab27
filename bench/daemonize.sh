#!/bin/sh
# bench/daemonize.sh: time from invocation to return when starting
# `sleep 1000` as a daemon with a pidfile: pkit's daemonize against
# Debian's daemonize(1) and start-stop-daemon --start --background
# --make-pidfile, paired run by run (bench/lib.sh). A run is the median
# of K starts, each timed by bench/btool (the same fork+exec+wait around
# every tool); each started daemon is killed by the pid in its own
# pidfile (never by name) before the next start.
#
# Why it is fair, and what it does not show: every tool starts the same
# command with a pidfile from the same parent. pkit's daemonize returns
# only once the daemon has locked the pidfile, written its pid and
# exec'd the command, so it can report exec failures and "already
# running"; daemonize(1) and start-stop-daemon return as soon as they
# have forked, and report neither. So pkit does more before it returns.
# pkit runs with --check 0: by default it also watches the command for
# 300 ms (--check) to report one that dies at once, a wait the peers do
# not have and that would only measure the window.
#
#   BENCH_QUICK=1 sh bench/daemonize.sh
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
PKIT=$B/daemonize
BT=$B/bench/btool
[ -x "$PKIT" ] && [ -x "$BT" ] || { echo "bench: build first: make progs helpers" >&2; exit 1; }
K=$(size 40 8)

# Debian's daemonize(1) shares pkit's name: call it by its path.
find_deb() {
	for p in /usr/sbin/daemonize /usr/bin/daemonize; do
		[ -x "$p" ] && [ "$(readlink -f "$p")" != "$(readlink -f "$PKIT")" ] &&
		    echo "$p" && return
	done
}
DEB=$(find_deb)
[ -n "$DEB" ] || { apt-get install -y daemonize >/dev/null 2>&1; DEB=$(find_deb); }
SSD=$(command -v start-stop-daemon || echo /sbin/start-stop-daemon)
SLEEP=$(command -v sleep)

W=$(mktemp -d "${TMPDIR:-/tmp}/daemonize-bench.$$.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM

# reap PIDFILE: wait for the pidfile (the others write it after returning),
# kill exactly that pid, remove the file.
reap() {
	tries=0
	while [ ! -s "$1" ] && [ $tries -lt 500 ]; do
		sleep 0.01; tries=$((tries + 1))
	done
	pid=$(cat "$1" 2>/dev/null)
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -f "$1"
}

# starts PIDFILE CMD...: median ms to return over K starts of CMD.
starts() {
	f=$1; shift
	: > "$W/t"
	n=0
	while [ $n -lt "$K" ]; do
		"$BT" time "$@" >> "$W/t" 2>/dev/null
		reap "$f"
		n=$((n + 1))
	done
	awk '{ print $1 * 1000 }' "$W/t" > "$W/ms"
	median "$W/ms"
}

P="starts '$W/p.pid' '$PKIT' --check 0 -p '$W/p.pid' -- sleep 1000"
if [ -n "$DEB" ]; then
	bench_row "time to return, median of $K starts" ms "-" \
	    "daemonize(1) -p F $SLEEP 1000" \
	    "starts '$W/d.pid' '$DEB' -p '$W/d.pid' '$SLEEP' 1000" \
	    "daemonize --check 0 -p F -- sleep 1000" "$P"
fi
if [ -x "$SSD" ]; then
	bench_row "time to return, median of $K starts" ms "-" \
	    "start-stop-daemon --start --background -m -p F --exec $SLEEP -- 1000" \
	    "starts '$W/s.pid' '$SSD' --start --quiet --background --make-pidfile --pidfile '$W/s.pid' --exec '$SLEEP' -- 1000" \
	    "daemonize --check 0 -p F -- sleep 1000" "$P"
fi
