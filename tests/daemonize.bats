#!/usr/bin/env bats
# daemonize: start, stop, query and signal daemons by pidfile (DESIGN §3.1).
# Every daemon runs with argv[0] = $A ($T-$BATS_TEST_NUMBER-d...), so the
# harness teardown finds it by title; local_teardown also KILLs whatever a
# pidfile of this test still names, through daemonize itself (PID-reuse
# safe), and the tests track the pids they read.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	A=$T-$BATS_TEST_NUMBER-d
}

local_teardown() {
	local f
	for f in "$BATS_TEST_TMPDIR"/*.pid; do
		[ -f "$f" ] && [ ! -L "$f" ] &&
		    daemonize -q -p "$f" --signal KILL 2>/dev/null
	done
	[ -z "${PUB:-}" ] || rm -rf "$PUB"
	return 0
}

# field PID N: field N of /proc/PID/stat counted after "(comm)", so
# 1 = state, 2 = ppid, 3 = pgrp, 4 = session, 5 = tty_nr.
field() {
	local s
	s=$(cat "/proc/$1/stat") || return 1
	s=${s##*) }
	set -- $s
	shift "$(($2 - 1))" 2>/dev/null || true
	eval "echo \${$2}"
}

field() {
	local s
	s=$(cat "/proc/$1/stat") || return 1
	s=${s##*) }
	local -a f=($s)
	echo "${f[$(($2 - 1))]}"
}

# start ARGS...: daemonize -p d.pid ARGS, must succeed; pid in $DPID.
start() {
	run --separate-stderr daemonize -p "$BATS_TEST_TMPDIR/d.pid" "$@"
	[ "$status" -eq 0 ]
	DPID=$(cat "$BATS_TEST_TMPDIR/d.pid")
	track "$DPID"
	alive "$DPID"
}

# ancestors PID: PID and every ancestor up to 1.
ancestors() {
	local p=$1
	while [ "$p" -gt 0 ]; do
		echo "$p"
		p=$(field "$p" 2) || break
	done
}

# tpids PREFIX: pids whose title starts with PREFIX, like title_pids but
# one grep over /proc instead of a shell loop (PREFIX is [a-z0-9-]; the
# bracket keeps grep's own command line from matching).
tpids() {
	local f
	for f in $(grep -lsa -- "^[${1:0:1}]${1:1}" /proc/[0-9]*/cmdline); do
		f=${f#/proc/}
		echo "${f%/cmdline}"
	done
}

has_line() { grep -qx -- "$2" "$1" 2>/dev/null; }

# usage_error ARGS...: exit 2, one "daemonize: " line, nothing started.
usage_error() {
	run --separate-stderr daemonize "$@"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == daemonize:\ * ]]
	sleep 0.1
	[ -z "$(tpids "$A")" ]
	[ ! -e d.pid ]
}

@test "daemonize: the daemon is in a new session it does not lead, with no tty" {
	start -A "$A" -- sleep 1000
	local sid mysid
	sid=$(field "$DPID" 4)
	mysid=$(field "$BASHPID" 4)
	[ "$sid" != "$DPID" ]
	[ "$sid" != "$mysid" ]
	[ "$(field "$DPID" 5)" -eq 0 ]
	[ "$(field "$DPID" 3)" != "$DPID" ]
}

@test "daemonize: the daemon is adopted by init or the nearest subreaper" {
	start -A "$A" -- sleep 1000
	local ppid
	ppid=$(field "$DPID" 2)
	ancestors "$BASHPID" | grep -qx -- "$ppid"
	[ "$ppid" != "$BASHPID" ]
}

@test "daemonize: cwd is / and umask 022 by default" {
	start -A "$A" -- sleep 1000
	[ "$(readlink "/proc/$DPID/cwd")" = / ]
	grep -qx 'Umask:[[:space:]]*0022' "/proc/$DPID/status"
}

@test "daemonize: -c DIR, relative to the caller, and -m UMASK are applied" {
	mkdir sub
	start -c sub -m 0077 -A "$A" -- sleep 1000
	[ "$(readlink "/proc/$DPID/cwd")" = "$BATS_TEST_TMPDIR/sub" ]
	grep -qx 'Umask:[[:space:]]*0077' "/proc/$DPID/status"
}

# Argument fuzzing: a repeated -p, -o, -e, -c or -l leaked the first
# copy (LeakSanitizer under make SANITIZE=1 check: exit 23 and a report).
@test "daemonize: a repeated -p, -o, -e, -c or -l: the last one counts, nothing leaks" {
	mkdir sub1 sub2
	run --separate-stderr daemonize -p x.pid -p d.pid -o o1 -o o2 \
	    -e e1 -e e2 -c sub1 -c sub2 -l l1 -l l2 -A "$A" -- \
	    bash -c 'echo out; echo err >&2; exec -a "$0" sleep 1000'
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	DPID=$(cat d.pid)
	track "$DPID"
	[ ! -e x.pid ] && [ ! -e o1 ] && [ ! -e e1 ] && [ ! -e l1 ]
	wait_for 5 has_line o2 out
	wait_for 5 has_line e2 err
	[ -e l2 ]
	[ "$(readlink "/proc/$DPID/cwd")" = "$BATS_TEST_TMPDIR/sub2" ]
}

# Issue 10: fd 3 is the 0600 lock file, never the pidfile itself.
@test "daemonize: the daemon holds exactly fds 0, 1, 2 and the pidfile lock" {
	exec 7>extra 8<extra
	start -A "$A" -- sleep 1000
	exec 7>&- 8<&-
	[ "$(ls "/proc/$DPID/fd" | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]
	[ "$(readlink "/proc/$DPID/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$DPID/fd/1")" = /dev/null ]
	[ "$(readlink "/proc/$DPID/fd/3")" = "$BATS_TEST_TMPDIR/d.pid.lock" ]
	[ "$(stat -c %a d.pid.lock)" = 600 ]
	[ "$(stat -c %a d.pid)" = 644 ]
	# the lock on fd 3 is the daemon's own
	grep -q "^[0-9]*: POSIX  ADVISORY  WRITE $DPID " /proc/locks
}

@test "daemonize: -o and -e receive stdout and stderr, truncated" {
	echo old > out
	start -o out -e err -A "$A" -- \
	    bash -c 'echo to-out; echo to-err >&2; exec -a "$0" sleep 1000'
	wait_for 5 has_line out to-out
	wait_for 5 has_line err to-err
	[ "$(cat out)" = to-out ]
	[ "$(cat err)" = to-err ]
	[ "$(stat -c %a err)" = 640 ]
}

@test "daemonize: -a appends to -o and -e" {
	echo old > out
	start -a -o out -e out -A "$A" -- \
	    bash -c 'echo to-out; echo to-err >&2; exec -a "$0" sleep 1000'
	wait_for 5 has_line out to-err
	[ "$(head -n 1 out)" = old ]
	has_line out to-out
}

@test "daemonize: a missing COMMAND exits 127 with the reason" {
	run -127 --separate-stderr daemonize -p d.pid -- nosuch-cmd
	[ "$stderr" = "daemonize: cannot run 'nosuch-cmd': No such file or directory" ]
	[ ! -e d.pid ]
}

@test "daemonize: a relative COMMAND path is the caller's" {
	mkdir bin
	printf '#!/bin/sh\necho "$0" > "$1"\nexec sleep 1000\n' > bin/prog
	chmod 755 bin/prog
	start -c / -- ./bin/prog "$PWD/ran"
	wait_for 5 test -s ran
	[ "$(cat ran)" = "$PWD/bin/prog" ]
}

@test "daemonize: a non-executable COMMAND exits 126" {
	echo 'echo hi' > script
	chmod 644 script
	run -126 --separate-stderr daemonize -- ./script
	[[ $stderr == "daemonize: cannot run './script': Permission denied" ]]
}

@test "daemonize: twenty concurrent starts run exactly one daemon" {
	local i
	for i in $(seq 20); do
		daemonize -p d.pid -A "$A" -- sleep 1000 \
		    >"o$i" 2>"e$i" 3>&- &
		echo $! >> callers
	done
	local n=0 fail=0
	for i in $(cat callers); do
		wait "$i" || fail=$((fail + 1))
	done
	[ "$fail" -eq 0 ]
	DPID=$(cat d.pid)
	track "$DPID"
	[ "$(tpids "$A")" = "$DPID" ]
	n=$(cat e* | grep -cx "daemonize: already running (pid $DPID)")
	[ "$n" -eq 19 ]
}

@test "daemonize: after kill -9 --status says 1 and a new start succeeds" {
	start -A "$A" -- sleep 1000
	local old=$DPID
	kill -KILL "$old"
	wait_for 5 gone "$old"
	run -1 daemonize -p d.pid --status
	[ "$output" = "not running" ]
	start -A "$A" -- sleep 1000
	[ "$DPID" != "$old" ]
	run -0 daemonize -p d.pid --status
	[ "$output" = "running (pid $DPID)" ]
}

@test "daemonize: --status is 3 without a pidfile, quiet with -q" {
	run -3 daemonize -p d.pid --status
	[ "$output" = "not running" ]
	run -3 daemonize -q -p d.pid --status
	[ "$output" = "" ]
}

@test "daemonize: a recycled pid in a stale pidfile is not running" {
	spawn_bg sleep 1000
	local other=$!
	echo "$other" > d.pid
	touch -d '-1 hour' d.pid	# written before that process started
	run -1 daemonize -p d.pid --status
	run -0 daemonize -p d.pid --stop
	alive "$other"
	[ ! -e d.pid ]
}

@test "daemonize: a live pid whose holder dropped the lock still counts" {
	spawn_bg sleep 1000
	local other=$!
	sleep 0.05
	echo "$other" > d.pid	# written after it started, lock gone
	run -0 daemonize -p d.pid --status
	[ "$output" = "running (pid $other)" ]
	run -0 --separate-stderr daemonize -p d.pid -A "$A" -- sleep 1000
	[ "$stderr" = "daemonize: already running (pid $other)" ]
}

@test "daemonize: --stop of a TERM-ignoring daemon fails after -t" {
	start -A "$A" -- dsigrec -i "$PWD/rec"
	wait_for 5 has_line rec start
	local t0=$(ms_now)
	run -1 --separate-stderr daemonize -p d.pid --stop -t 1s
	[ $(( $(ms_now) - t0 )) -ge 900 ]
	[ "$stderr" = "daemonize: pid $DPID still running after 1s" ]
	alive "$DPID"
	[ -e d.pid ]
}

@test "daemonize: --stop -K kills a TERM-ignoring daemon and removes the pidfile" {
	start -A "$A" -- dsigrec -i "$PWD/rec"
	wait_for 5 has_line rec start
	run -0 daemonize -p d.pid --stop -t 500ms -K
	gone "$DPID"
	[ ! -e d.pid ]
}

@test "daemonize: --stop sends TERM, waits and removes the pidfile" {
	start -A "$A" -- dsigrec "$PWD/rec"
	wait_for 5 has_line rec start
	run -0 daemonize -p d.pid --stop
	gone "$DPID"
	has_line rec TERM
	[ ! -e d.pid ]
}

@test "daemonize: --stop -s picks the signal" {
	start -A "$A" -- sleep 1000
	run -0 daemonize -p d.pid --stop -s KILL
	gone "$DPID"
}

@test "daemonize: --stop when not running exits 0" {
	run -0 daemonize -p d.pid --stop
	echo 999999 > d.pid
	run -0 daemonize -p d.pid --stop
	[ ! -e d.pid ]
}

@test "daemonize: --signal HUP reaches the daemon" {
	start -A "$A" -- dsigrec "$PWD/rec"
	wait_for 5 has_line rec start
	run -0 daemonize -p d.pid --signal HUP
	wait_for 5 has_line rec HUP
	alive "$DPID"
}

@test "daemonize: --signal with no daemon exits 1" {
	run -1 --separate-stderr daemonize -p d.pid --signal HUP
	[ "$stderr" = "daemonize: not running" ]
}

@test "daemonize: -N returns once the daemon sends READY=1" {
	local t0=$(ms_now)
	start -N -A "$A" -- dnotify -d 1000
	local dt=$(( $(ms_now) - t0 ))
	[ "$dt" -ge 1000 ]
	[ "$dt" -lt 10000 ]
}

@test "daemonize: -N -v shows the daemon's STATUS= lines" {
	start -v -N -A "$A" -- dnotify -d 100 -s 'warming up'
	[[ $stderr == *"daemonize: pid $DPID: warming up"* ]]
	[[ $stderr == *"daemonize: pid $DPID ready"* ]]
}

@test "daemonize: -N reports at once a daemon that exits before it is ready" {
	local t0=$(ms_now)
	run -1 --separate-stderr daemonize -N -w 20s -A "$A" -- dnotify -d 300 -x 3
	[ $(( $(ms_now) - t0 )) -lt 5000 ]
	[[ $stderr == "daemonize: pid "*" exited with status 3 before it was ready" ]]
}

@test "daemonize: -N -w 1s gives up on a silent daemon after a second" {
	local t0=$(ms_now)
	run -1 --separate-stderr daemonize -N -w 1s -A "$A" -- dnotify -n
	local dt=$(( $(ms_now) - t0 ))
	[ "$dt" -ge 950 ]
	[ "$dt" -lt 5000 ]
	[[ $stderr == "daemonize: pid "*" not ready after 1s; left running" ]]
}

@test "daemonize: -N leaves no socket directory behind" {
	mkdir tmp
	TMPDIR=$PWD/tmp start -N -A "$A" -- dnotify -d 10
	[ -z "$(ls tmp)" ]
	tr '\0' '\n' < "/proc/$DPID/environ" | grep -q "^NOTIFY_SOCKET=$PWD/tmp/"
}

@test "daemonize: --ready-fd returns once the daemon writes a line" {
	local t0=$(ms_now)
	start --ready-fd 5 -A "$A" -- dnotify -d 500 -f 5
	[ $(( $(ms_now) - t0 )) -ge 500 ]
}

@test "daemonize: --ready-fd N is the one extra fd the daemon gets" {
	start --ready-fd 7 -A "$A" -- \
	    bash -c 'echo ready >&7; exec -a "$0" sleep 1000'
	[ "$(ls "/proc/$DPID/fd" | sort -n | tr '\n' ' ')" = "0 1 2 3 7 " ]
	[[ $(readlink "/proc/$DPID/fd/7") == pipe:* ]]
}

@test "daemonize: --ready-fd reports at once a daemon that dies first" {
	local t0=$(ms_now)
	run -1 --separate-stderr daemonize --ready-fd 3 -A "$A" -- dnotify -d 200 -x 4
	[ $(( $(ms_now) - t0 )) -lt 5000 ]
	[[ $stderr == *"exited with status 4 before it was ready" ]]
}

@test "daemonize: -u nobody drops every id and root cannot be regained" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	PUB=$(mktemp -d /tmp/daemonize-bats.XXXXXX)
	chmod 1777 "$PUB"
	start -u nobody -o "$PUB/out" -A "$A" -- dsetuid
	local uid gid
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	grep -Eq "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "/proc/$DPID/status"
	grep -Eq "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "/proc/$DPID/status"
	[ "$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$DPID/status" |
	    tr -s ' ' '\n' | grep . | sort -u | tr '\n' ' ')" = \
	    "$(id -G nobody | tr ' ' '\n' | sort -u | tr '\n' ' ')" ]
	wait_for 5 has_line "$PUB/out" 'setgid(0): failed'
	has_line "$PUB/out" 'setuid(0): failed'
	[ "$(stat -c %U d.pid)" = root ]
}

@test "daemonize: a symlink as pidfile is refused and nothing starts" {
	ln -s target d.pid
	run -1 --separate-stderr daemonize -p d.pid -A "$A" -- sleep 1000
	[[ $stderr == "daemonize: "*"d.pid: refusing a symbolic link as pidfile" ]]
	[ ! -e target ]
	sleep 0.1
	[ -z "$(tpids "$A")" ]
}

@test "daemonize: -E sets the environment and -A the title" {
	start -E FOO=bar -E PKIT_X=1 -A "$A-title" -- sleep 1000
	tr '\0' '\n' < "/proc/$DPID/environ" | grep -qx FOO=bar
	tr '\0' '\n' < "/proc/$DPID/environ" | grep -qx PKIT_X=1
	[ "$(tr '\0' ' ' < "/proc/$DPID/cmdline")" = "$A-title 1000 " ]
}

@test "daemonize: -l LOCKFILE keeps a second instance out" {
	run -0 daemonize -l lock -A "$A" -- sleep 1000
	DPID=$(tpids "$A")
	track "$DPID"
	run -0 --separate-stderr daemonize -l lock -A "$A-2" -- sleep 1000
	[ "$stderr" = "daemonize: already running (pid $DPID)" ]
	sleep 0.1
	[ -z "$(tpids "$A-2")" ]
}

@test "daemonize: -f execs in place with the pidfile naming itself" {
	run -7 daemonize -f -p "$PWD/d.pid" -- \
	    sh -c 'read p < "$1"; [ "$p" = $$ ] && [ "$(pwd)" = / ] && exit 7' \
	    sh "$PWD/d.pid"
}

@test "daemonize: bad input: unknown user" {
	usage_error -p d.pid -u no-such-user-x -A "$A" -- sleep 1000
}

@test "daemonize: bad input: bad umask" {
	usage_error -p d.pid -m 0800 -A "$A" -- sleep 1000
}

@test "daemonize: bad input: bad duration" {
	usage_error -p d.pid -N -w 3x -A "$A" -- sleep 1000
}

@test "daemonize: bad input: missing COMMAND" {
	usage_error -p d.pid -A "$A"
}

@test "daemonize: bad input: --stop without -p" {
	usage_error --stop
}

@test "daemonize: bad input: unknown option" {
	usage_error -p d.pid --frobnicate -A "$A" -- sleep 1000
}
