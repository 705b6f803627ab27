#!/usr/bin/env bats
# daemonize: --stop schedules (--retry) and the start check window
# (--check), issue 13 items 5 and 6. Daemons and workers carry titles
# $T-$BATS_TEST_NUMBER-..., so the harness teardown finds them.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	A=$T-$BATS_TEST_NUMBER-d
}

local_teardown() {
	[ -f d.pid ] && daemonize -q -p d.pid --signal KILL 2>/dev/null
	return 0
}

has_lines() { [ "$(grep -cx -- "$2" "$1" 2>/dev/null)" -ge "$3" ]; }

# pool: a prefork daemon whose two workers ignore TERM.
pool() {
	run -0 --separate-stderr daemonize -p d.pid -- \
	    prefork -n 2 -t "$A" -- dsigrec -i "$PWD/rec"
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 10 has_lines rec start 2
}

@test "daemonize: --stop's default schedule outlasts prefork's grace" {
	pool
	local t0=$(ms_now)
	run -0 --separate-stderr daemonize -p d.pid --stop
	local dt=$(( $(ms_now) - t0 ))
	[ "$dt" -ge 9000 ]	# prefork waited its 10 s grace
	gone "$DPID"
	[ ! -e d.pid ]
	[ ! -e d.pid.lock ]
	sleep 0.2
	[ -z "$(title_pids "$A")" ]
}

@test "daemonize: --stop --retry TERM/1/KILL/1 takes about a second" {
	pool
	local t0=$(ms_now)
	run -0 --separate-stderr daemonize -p d.pid --stop --retry TERM/1/KILL/1
	local dt=$(( $(ms_now) - t0 ))
	[ "$dt" -ge 900 ]
	[ "$dt" -lt 5000 ]
	gone "$DPID"
	[ ! -e d.pid ]
	wait_for 5 eval '[ -z "$(title_pids "$A")" ]'
}

@test "daemonize: --retry with a lone timeout means TERM/T/KILL/T" {
	run -0 daemonize -p d.pid -A "$A" -- dsigrec -i "$PWD/rec"
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 has_lines rec start 1
	local t0=$(ms_now)
	run -0 --separate-stderr daemonize -v -p d.pid --stop --retry 0.5
	[ $(( $(ms_now) - t0 )) -ge 450 ]
	[[ $stderr == *"sent TERM to pid $DPID"* ]]
	[[ $stderr == *"sending KILL"* ]]
	gone "$DPID"
}

@test "daemonize: a schedule that ends with the daemon alive exits 1 and keeps the pidfile" {
	run -0 daemonize -p d.pid -A "$A" -- dsigrec -i "$PWD/rec"
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 has_lines rec start 1
	run -1 --separate-stderr daemonize -p d.pid --stop --retry TERM/0.3/USR1/0.3
	[ "$stderr" = "daemonize: pid $DPID still running after 600ms" ]
	alive "$DPID"
	[ -e d.pid ]
}

@test "daemonize: bad --retry schedules: one line, exit 2, nothing signalled" {
	run -0 daemonize -p d.pid -A "$A" -- dsigrec "$PWD/rec"
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 has_lines rec start 1
	local s
	for s in TERM TERM/ TERM/x FOO/1 /1 TERM//1 TERM/1/KILL 1/TERM "" \
	    TERM/-1 "TERM/1/KILL/1/"; do
		run --separate-stderr daemonize -p d.pid --stop --retry "$s"
		[ "$status" -eq 2 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "daemonize: --retry: "* ]]
	done
	run -2 --separate-stderr daemonize -p d.pid --stop --retry 1 -t 1
	[ "$stderr" = "daemonize: --retry excludes -s, -t and -K" ]
	run -2 --separate-stderr daemonize -p d.pid --retry 1 -A "$A-2" -- sleep 1000
	alive "$DPID"
	[ "$(cat rec)" = start ]
	[ -z "$(title_pids "$A-2")" ]
}

@test "daemonize: a daemon that exits at once is reported with its status and stderr" {
	run -1 --separate-stderr daemonize -p d.pid -e err -- \
	    sh -c 'echo first >&2; echo "it failed" >&2; exit 3'
	[[ ${stderr_lines[0]} == "daemonize: pid "*" exited with status 3 within 300ms of its start" ]]
	[ "${stderr_lines[1]}" = "daemonize: its last lines on stderr, in $PWD/err" ]
	[ "${stderr_lines[2]}" = "daemonize:   first" ]
	[ "${stderr_lines[3]}" = "daemonize:   it failed" ]
	[ ! -e d.pid ]
	[ ! -e d.pid.lock ]
}

@test "daemonize: prefork with a missing worker exits 1 and names the problem" {
	run -1 --separate-stderr daemonize -p d.pid -- \
	    prefork -n 2 -t "$A" -- ./no-such-worker
	[[ ${stderr_lines[0]} == *"exited with status 127 (a command was not found) within 300ms of its start" ]]
	[[ ${stderr_lines[1]} == *"relative paths among its arguments are taken from /" ]]
	[ ! -e d.pid ]
	run -1 --separate-stderr daemonize -p d.pid -e err -- \
	    prefork -n 2 -t "$A" -- ./no-such-worker
	[[ $stderr == *"daemonize:   prefork: cannot run './no-such-worker': No such file or directory"* ]]
	# -c names the directory the worker is in: then it runs.
	printf '#!/bin/sh\nexec sleep 1000\n' > worker
	chmod 755 worker
	run -0 --separate-stderr daemonize -p d.pid -c . -- \
	    prefork -n 2 -t "$A" -- ./worker
	track "$(cat d.pid)"
}

@test "daemonize: --check 0 turns the check off; --check D widens it" {
	local t0=$(ms_now)
	run -0 daemonize --check 0 -- sh -c 'exit 3'
	[ $(( $(ms_now) - t0 )) -lt 2000 ]
	run -1 --separate-stderr daemonize --check 2s -- sh -c 'sleep 1; exit 4'
	[[ ${stderr_lines[0]} == *"exited with status 4 within 2s of its start" ]]
	run -2 --separate-stderr daemonize --check 1x -- true
	[ "$stderr" = "daemonize: --check: bad duration '1x'" ]
}

# A daemon (title $A) that forks a child titled $A-child in its session
# and, with a new process group, a child titled $A-grp.
family() {
	run -0 --separate-stderr daemonize -p d.pid -A "$A" -- bash -c '
	    bash -c "exec -a $0-child sleep 1000" &
	    python3 -c "import os, sys; os.setpgid(0, 0); os.execvp(\"sleep\", [sys.argv[1], \"1000\"])" "$0-grp" &
	    exec -a "$0" sleep 1000'
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 eval '[ -n "$(title_pids "$A-child")" ] && [ -n "$(title_pids "$A-grp")" ]'
	wait_for 5 eval '[ "$(cat /proc/$DPID/comm)" = sleep ]'
}

@test "daemonize: --stop reaches the daemon's whole session by default" {
	family
	run -0 --separate-stderr daemonize -v -p d.pid --stop
	[[ $stderr == *"sent TERM to pid $DPID and 2 more of its session"* ]]
	gone "$DPID"
	[ -z "$(title_pids "$A-child")" ]
	[ -z "$(title_pids "$A-grp")" ]
	[ ! -e d.pid ]
}

@test "daemonize: --stop --scope group spares a child in its own process group" {
	family
	run -0 daemonize -p d.pid --stop --scope group
	gone "$DPID"
	[ -z "$(title_pids "$A-child")" ]
	[ -n "$(title_pids "$A-grp")" ]
}

@test "daemonize: --stop --scope pid signals the daemon alone" {
	family
	run -0 daemonize -p d.pid --stop --scope pid
	gone "$DPID"
	[ -n "$(title_pids "$A-child")" ]
	[ -n "$(title_pids "$A-grp")" ]
}

@test "daemonize: --stop waits for the whole session and KILLs what ignores TERM" {
	run -0 --separate-stderr daemonize -p d.pid -A "$A" -- bash -c '
	    (exec -a "$0-kid" dsigrec -i "$1") &
	    echo $! > "$2"
	    exec -a "$0" sleep 1000' "$A" "$PWD/rec" "$PWD/kid"
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 grep -qx start rec
	local kid
	kid=$(cat kid)
	track "$kid"
	[ "$(tr '\0' ' ' < "/proc/$kid/cmdline")" = "$A-kid -i $PWD/rec " ]
	run -1 --separate-stderr daemonize -p d.pid --stop --retry TERM/0.5
	[ "$stderr" = "daemonize: 1 process of pid $DPID's session still running after 500ms" ]
	alive "$kid"
	run -0 daemonize -p d.pid --stop --retry TERM/0.5/KILL/2
	gone "$kid"
}

@test "daemonize: a -f daemon shares its caller's session: --stop signals it alone" {
	spawn_bg sleep 1000
	local sibling=$!
	spawn_bg daemonize -f -p "$PWD/d.pid" -A "$A" -- sleep 1000
	local p=$!
	wait_for 5 test -s d.pid
	run -0 --separate-stderr daemonize -v -p d.pid --stop
	[[ $stderr == *"not in a session daemonize made for it"* ]]
	gone "$p"
	alive "$sibling"
}
