#!/usr/bin/env bats
# preap: subreaper, reap log, signal forwarding, -w/-k, PID 1, -z
# (DESIGN §3.5). Helpers: leaky (orphans), recorder (signals).

bats_require_minimum_version 1.5.0
load helpers

# lines_in FILE: number of lines, 0 if missing.
lines_in() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
has_line() { grep -qx -- "$2" "$1" 2>/dev/null; }
ready() { has_line "$1" ready; }

# all_gone FILE: no pid listed (first field) exists any more.
all_gone() {
	local pid _
	while read -r pid _; do
		kill -0 "$pid" 2>/dev/null && return 1
	done < "$1"
	return 0
}

# track_file FILE: have teardown kill the pids listed in FILE.
track_file() {
	local pid _
	while read -r pid _; do track "$pid"; done < "$1"
}

@test "preap: leaky 200 — bounded zombies, none left, every orphan logged" {
	spawn_bg preap -r log -- leaky -o expected 200
	local pp=$! max=0 z lp
	child_of() { lp=$(ps --ppid "$1" -o pid= | head -1 | tr -d ' '); [ -n "$lp" ]; }
	wait_for 5 child_of "$pp"
	# Sample preap's zombie children while leaky runs: leaky stays
	# until all its orphans are gone, so every orphan dies in this
	# window. (At leaky's exit its own unreaped children pass to preap
	# in one go; they are reaped at once.)
	while alive "$lp"; do
		z=$(ps --ppid "$pp" -o stat= 2>/dev/null | grep -c '^Z' || true)
		# Drop a sample that may include leaky's final hand-over.
		alive "$lp" || break
		[ "$z" -gt "$max" ] && max=$z
		sleep 0.005
	done
	wait "$pp"
	echo "max zombies under preap: $max"
	# Orphans die over 100 ms, 2 per ms; a reaper that lagged behind
	# (or reaped only COMMAND) would pile up to 200.
	[ "$max" -le 50 ]
	[ "$(lines_in expected)" -eq 200 ]
	all_gone expected
	# Each orphan: "PID CODE SIGNAL NAME" with the expected code/signal.
	local pid code sig
	while read -r pid code sig; do
		grep -q "^$pid $code $sig leaky\$" log || {
			echo "missing: $pid $code $sig"; return 1; }
	done < expected
}

@test "preap: exit status is COMMAND's: exit 7 gives 7" {
	run -7 preap -- sh -c 'exit 7'
}

@test "preap: COMMAND killed by TERM gives 143" {
	run -143 preap -- sh -c 'kill -TERM $$'
}

@test "preap: a missing COMMAND gives 127 with a message" {
	run -127 --separate-stderr preap -- ./no-such-command
	[[ "$stderr" == "preap: cannot run './no-such-command': No such file"* ]]
}

@test "preap: a non-executable COMMAND gives 126 with a message" {
	echo 'exit 0' > plain
	run -126 --separate-stderr preap -- ./plain
	[[ "$stderr" == "preap: cannot run './plain': Permission denied" ]]
}

@test "preap: TERM, INT, HUP, USR1 sent to preap reach COMMAND" {
	spawn_bg preap -p KILL -- recorder -o rec
	local pp=$!
	wait_for 5 ready rec
	local s
	for s in TERM INT HUP USR1; do
		kill -"$s" "$pp"
		wait_for 5 has_line rec "$s"
	done
	alive "$pp"
}

@test "preap: with -g the signals also reach COMMAND's children" {
	spawn_bg preap -g -p KILL -- recorder -f 2 -o rec
	local pp=$!
	wait_for 5 ready rec
	wait_for 5 has_line rec "c0 ready"
	wait_for 5 has_line rec "c1 ready"
	local s
	for s in TERM INT HUP USR1; do
		kill -"$s" "$pp"
		wait_for 5 has_line rec "$s"
		wait_for 5 has_line rec "c0 $s"
		wait_for 5 has_line rec "c1 $s"
	done
}

@test "preap: without -g a signal reaches COMMAND only" {
	spawn_bg preap -p KILL -- recorder -f 1 -o rec
	local pp=$!
	wait_for 5 ready rec
	wait_for 5 has_line rec "c0 ready"
	kill -USR1 "$pp"
	wait_for 5 has_line rec USR1
	sleep 0.2
	! has_line rec "c0 USR1"
}

@test "preap: by default orphans are left running and preap returns at once" {
	local t0=$(ms_now)
	# Output to a file: the orphans would keep run's pipe open.
	run -0 bash -c 'preap -- leaky -x -l 3000 -o orphans 3 >out 2>&1 3>&-'
	track_file orphans
	[ $(( $(ms_now) - t0 )) -lt 1500 ]
	local pid _
	while read -r pid _; do alive "$pid"; done < orphans
}

@test "preap: -w returns only after the orphans are gone" {
	local t0=$(ms_now)
	run -0 preap -w -r log -- leaky -x -l 700 -o orphans 3
	track_file orphans
	[ $(( $(ms_now) - t0 )) -ge 600 ]
	all_gone orphans
	[ "$(grep -c ' leaky$' log)" -ge 6 ]
}

@test "preap: -k 1s ends TERM-ignoring orphans within the grace + margin" {
	local t0=$(ms_now)
	run -0 preap -k 1s -- leaky -x -t -l 30000 -o orphans 3
	track_file orphans
	local el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -ge 900 ]
	[ "$el" -lt 3500 ]
	all_gone orphans
}

@test "preap: -k sends TERM first, so cooperative orphans end at once" {
	local t0=$(ms_now)
	run -0 preap -k 10s -- leaky -x -l 30000 -o orphans 3
	track_file orphans
	[ $(( $(ms_now) - t0 )) -lt 3000 ]
	all_gone orphans
}

@test "preap: -r - writes the reap log to stdout" {
	run -3 preap -r - -- sh -c 'exit 3'
	[[ "$output" =~ ^[0-9]+\ 3\ 0\ sh$ ]]
}

@test "preap: -r to a full device reports the first write error once and goes on" {
	[ -w /dev/full ] || skip "no /dev/full"
	run -3 --separate-stderr preap -r /dev/full -- \
	    sh -c '(sleep 0.1 &); (sleep 0.1 &); (sleep 0.1 &); sleep 0.5; exit 3'
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "preap: cannot write to '/dev/full': No space left on device" ]]
}

@test "preap: -p SIG reaches COMMAND when preap dies" {
	spawn_bg preap -p USR1 -- recorder -o rec
	local pp=$!
	wait_for 5 ready rec
	local rp
	rp=$(ps --ppid "$pp" -o pid= | tr -d ' ')
	track "$rp"
	kill -KILL "$pp"
	wait_for 5 has_line rec USR1
}

@test "preap: as PID 1, TERM reaches COMMAND and orphans are reaped" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for unshare -p"
	spawn_bg unshare -fp --mount-proc preap -r log -- \
		sh -c 'leaky -o expected 20; exec recorder -e TERM -o rec'
	local up=$!
	wait_for 10 ready rec
	# PID 1 of the namespace is unshare's only child.
	local p1
	p1=$(ps --ppid "$up" -o pid= | tr -d ' ')
	[ -n "$p1" ]
	[ "$(zombies_of "$p1")" -eq 0 ]
	[ "$(lines_in expected)" -eq 20 ]
	# Every orphan is logged (pids are namespace pids, as in the log).
	local pid code sig
	while read -r pid code sig; do
		grep -q "^$pid $code $sig leaky\$" log
	done < expected
	kill -TERM "$p1"
	wait_for 5 has_line rec TERM
	local st=0
	wait "$up" || st=$?
	[ "$st" -eq 143 ]
}

@test "preap: -z lists a zombie as PID PPID NAME, exit 0" {
	# sh execs sleep, which never reaps the 'true' forked before.
	spawn_bg sh -c '/bin/true & exec sleep 30'
	local parent=$!
	has_zombie() { [ "$(zombies_of "$parent")" -eq 1 ]; }
	wait_for 5 has_zombie
	run -0 preap -z
	[[ "$output" =~ (^|$'\n')[0-9]+\ $parent\ true($'\n'|$) ]]
}

@test "preap: -z with no zombie exits 1" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for unshare -p"
	run -1 unshare -fp --mount-proc preap -z
	[ -z "$output" ]
}

@test "preap: usage errors exit 2 with one line" {
	run -2 --separate-stderr preap
	[ "$stderr" = "preap: missing COMMAND" ]
	run -2 --separate-stderr preap -w -k 1s -- true
	[ "${#stderr_lines[@]}" -eq 1 ]
	run -2 --separate-stderr preap -k nonsense -- true
	[ "$stderr" = "preap: invalid grace time 'nonsense'" ]
	run -2 --separate-stderr preap -p NOSUCHSIG -- true
	[ "$stderr" = "preap: invalid signal 'NOSUCHSIG'" ]
	run -2 --separate-stderr preap -z -- true
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "preap: -h prints a synopsis, -V the version" {
	run -0 preap -h
	[[ "$output" == usage:\ preap* ]]
	run -0 preap -V
	[[ "$output" == "preap (pkit) "* ]]
}

@test "preap: --help lists every long option and ends with See preap(1)." {
	run -0 preap --help
	local o n=0
	for o in $(grep -o '{ "[a-z0-9-]*",' "$BATS_TEST_DIRNAME/../cmd/preap.c" | tr -d '{",'); do
		n=$((n + 1))
		[[ "$output" == *"--$o"* ]] || { echo "missing --$o"; return 1; }
	done
	[ "$n" -ge 10 ]
	[ "${lines[${#lines[@]}-1]}" = "See preap(1)." ]
}

# Issue 11 item 6: -v says how each process ended in the words prefork and
# daemonize use (lib/spawn's spawn_status_text), not "exit N".
@test "preap: -v tells how each reaped process ended, as every program does" {
	run -3 --separate-stderr preap -v -w -- bash -c \
	    '(sleep 0.2; exit 5) & (sleep 0.2; kill -KILL $BASHPID) & exit 3'
	echo "$stderr"
	[[ $stderr == *"preap: reaped "[0-9]*" (bash): exited with status 5"* ]]
	[[ $stderr == *"preap: reaped "[0-9]*" (bash): killed by signal KILL"* ]]
	[[ $stderr == *"preap: reaped "[0-9]*" (bash): exited with status 3"* ]]
	[[ $stderr != *": exit "[0-9]* ]]
}
