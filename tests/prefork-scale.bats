#!/usr/bin/env bats
# prefork with thousands of workers: the start forks them in batches and
# collects their exec reports in the loop, so a stop is seen at once and
# takes time linear in the worker count (issue 10; issue 18 item 4).

load helpers
bats_require_minimum_version 1.5.0

ntitled() { title_pids "$1" | wc -l; }
ntitled_ge() { [ "$(ntitled "$1")" -ge "$2" ]; }
none_titled() { [ -z "$(title_pids "$1")" ]; }

@test "prefork -n 4096: TERM during the start stops it within 3 s, nothing left" {
	local tt=$T-$BATS_TEST_NUMBER m t0 t1 st
	spawn_bg prefork -q -n 4096 -t "$tt" -- sleep 300
	m=$!
	sleep 0.3
	t0=$(ms_now)
	kill -TERM "$m"
	wait "$m" && st=0 || st=$?
	t1=$(ms_now)
	echo "stop took $((t1 - t0)) ms, status $st"
	[ "$st" -eq 0 ]
	# Before: the master forked and waited for every exec in turn
	# before it looked at the TERM (about 20 s under ASan).
	[ $((t1 - t0)) -lt 3000 ]
	wait_for 5 none_titled "$tt-"
}

@test "prefork -n 2000: all up, then TERM: all reaped within 10 s, nothing left" {
	local tt=$T-$BATS_TEST_NUMBER m t0 t1 st
	spawn_bg prefork -q -n 2000 -t "$tt" -- sleep 300
	m=$!
	wait_for 120 ntitled_ge "$tt-" 2001
	# One master and 2000 workers, each with its own title.
	[ "$(title_pids "$tt-master" | wc -l)" -eq 1 ]
	[ "$(title_pids "$tt-1999" | wc -l)" -eq 1 ]
	t0=$(ms_now)
	kill -TERM "$m"
	wait "$m" && st=0 || st=$?
	t1=$(ms_now)
	echo "stop took $((t1 - t0)) ms, status $st"
	[ "$st" -eq 0 ]
	[ $((t1 - t0)) -lt 10000 ]
	wait_for 5 none_titled "$tt-"
}

@test "prefork -n 64 with a missing COMMAND: one line, exit 127, nothing left" {
	local tt=$T-$BATS_TEST_NUMBER
	run -127 --separate-stderr prefork -n 64 -t "$tt" -- ./no-such-command
	[ "$status" -eq 127 ]
	[ "$stderr" = "prefork: cannot run './no-such-command': No such file or directory" ]
	none_titled "$tt-"
}
