#!/usr/bin/env bats
# palarm: ticks, run mode, signal mode, deadline, dead man's switch
# (DESIGN §3.4). Helpers: recorder (signals), heartbeat (-W).

bats_require_minimum_version 1.5.0
load helpers

no_title() { [ -z "$(title_pids "$1")" ]; }
has_line() { grep -qx -- "$2" "$1" 2>/dev/null; }
ready() { has_line "$1" ready; }
count_lines() { grep -c -x -- "$2" "$1" 2>/dev/null || true; }
# at_least N FILE LINE: FILE holds LINE at least N times.
at_least() { [ "$(count_lines "$2" "$3")" -ge "$1" ]; }

@test "palarm: -c 5 100ms prints 1..5 in about 0.5 s" {
	local t0=$(ms_now)
	run -0 palarm -c 5 100ms
	local el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$output" = "$(seq 5)" ]
	[ "$el" -ge 490 ]
	[ "$el" -lt 1500 ]
}

@test "palarm: -i adds tick 0 at once" {
	run -0 palarm -i -c 2 50ms
	[ "$output" = "$(printf '0\n1\n2')" ]
}

@test "palarm: 10ms | head -3 exits at once with status 0" {
	local t0=$(ms_now)
	run -0 timeout 10 bash -c 'palarm 10ms | head -3; echo "status ${PIPESTATUS[*]}"'
	[ "$output" = "$(printf '1\n2\n3\nstatus 0 0')" ]
	[ $(( $(ms_now) - t0 )) -lt 2000 ]
}

@test "palarm: a closed pipe ends it at once even between long ticks" {
	local t0=$(ms_now)
	run -0 timeout 10 bash -c 'palarm -i 1h | head -1; echo "status ${PIPESTATUS[*]}"'
	[ "$output" = "$(printf '0\nstatus 0 0')" ]
	[ $(( $(ms_now) - t0 )) -lt 3000 ]
}

@test "palarm: -T lines carry the wall-clock time" {
	local before after
	before=$(date +%s)
	run -0 palarm -T -c 3 20ms
	after=$(date +%s)
	[ "${#lines[@]}" -eq 3 ]
	local n line
	for n in 1 2 3; do
		line=${lines[n-1]}
		[[ "$line" =~ ^$n\ ([0-9]+)\.[0-9]{3}$ ]]
		[ "${BASH_REMATCH[1]}" -ge "$before" ]
		[ "${BASH_REMATCH[1]}" -le "$after" ]
	done
}

@test "palarm: -a 1s ticks land within a few ms after whole seconds" {
	run -0 palarm -a -T -c 2 1s
	local line ms
	for line in "${lines[@]}"; do
		ms=${line##*.}
		echo "$line"
		[ $((10#$ms)) -lt 60 ]
	done
}

@test "palarm: -j delays ticks randomly without moving the schedule" {
	run -0 palarm -T -j 40ms -c 10 100ms
	[ "${#lines[@]}" -eq 10 ]
	local i prev=0 t d spread=0
	for i in 0 1 2 3 4 5 6 7 8 9; do
		t=${lines[i]#* }; t=${t/./}
		if [ "$prev" -gt 0 ]; then
			d=$(( t - prev ))
			# Each gap is 100 ms +/- the two jitters (and load).
			[ "$d" -ge 55 ] && [ "$d" -le 160 ] || { echo "gap $d"; return 1; }
			[ $(( d < 97 || d > 103 )) -eq 1 ] && spread=$(( spread + 1 ))
		fi
		prev=$t
	done
	# The last tick is still due near 1 s: no accumulated jitter.
	local first=${lines[0]#* }
	local span=$(( prev - ${first/./} ))
	echo "span ${span}ms, jittered gaps $spread"
	[ "$span" -ge 850 ] && [ "$span" -le 960 ]
	[ "$spread" -ge 3 ]
}

@test "palarm: 300 ticks at 10 ms span 2.99 s: no drift" {
	run -0 --separate-stderr palarm -v -T -c 300 10ms
	local n=${#lines[@]} missed
	missed=$(sed -n 's/^palarm: missed \([0-9]*\) ticks*$/\1/p' \
		<<<"$stderr" | awk '{ s += $1 } END { print s + 0 }')
	echo "printed $n missed $missed"
	# The schedule's count is exact; under load a wake-up more than
	# 10 ms late coalesces a tick (counted by -v), never shifts one.
	[ "$n" -ge 250 ]
	[ $(( n + missed )) -eq 300 ]
	[ "${lines[n-1]%% *}" = 300 ]
	local first=${lines[0]#* } last=${lines[n-1]#* }
	local span=$(( ${last/./} - ${first/./} ))
	echo "span ${span}ms"
	# A sleep loop drifts by tens of ms here; palarm is on schedule.
	[ "$span" -ge 2985 ]
	[ "$span" -le 3015 ]
}

@test "palarm: a stalled consumer coalesces missed ticks, -v counts them" {
	spawn_bg palarm -v -c 300 10ms >ticks 2>err
	local pp=$!
	sleep 0.5
	kill -STOP "$pp"
	sleep 0.6
	kill -CONT "$pp"
	local t0=$(ms_now)
	wait "$pp"
	local printed missed
	printed=$(wc -l < ticks)
	missed=$(sed -n 's/^palarm: missed \([0-9]*\) ticks*$/\1/p' err |
		awk '{ s += $1 } END { print s + 0 }')
	echo "printed $printed missed $missed"
	[ "$(tail -1 ticks)" = 300 ]
	[ "$missed" -ge 40 ]		# about 60 ticks fell in the stop
	[ $(( printed + missed )) -eq 300 ]
	# No burst: after the stop, numbering jumps rather than replaying.
	[ "$printed" -lt 270 ]
}

@test "palarm: a consumer that stops reading makes ticks coalesce, not burst" {
	# The reader shrinks the pipe to one page, then reads nothing for
	# 1.5 s: palarm blocks in write, and on waking counts what it missed.
	run -0 --separate-stderr bash -c 'palarm -v -c 2500 1ms | python3 -c "
import fcntl, sys, time
fcntl.fcntl(0, 1031, 4096)
time.sleep(1.5)
sys.stdout.write(sys.stdin.read())" > ticks'
	local printed missed
	printed=$(wc -l < ticks)
	missed=$(sed -n 's/^palarm: missed \([0-9]*\) ticks*$/\1/p' <<<"$stderr" |
		awk '{ s += $1 } END { print s + 0 }')
	echo "printed $printed missed $missed"
	[ "$(tail -1 ticks)" = 2500 ]
	[ $(( printed + missed )) -eq 2500 ]
	[ "$missed" -ge 300 ]
}

@test "palarm: run mode never overlaps and reports skipped ticks" {
	run -0 --separate-stderr palarm -c 8 100ms -- sh -c \
		'mkdir lock 2>/dev/null || echo OVERLAP; echo "run $PALARM_TICK"; sleep 0.25; rmdir lock'
	echo "$output"
	echo "$stderr"
	[[ "$output" != *OVERLAP* ]]
	[[ "${lines[0]}" == "run 1" ]]
	[ "${#lines[@]}" -ge 2 ]
	[ "${#lines[@]}" -le 4 ]
	[[ "$stderr" == *"palarm: tick 2 skipped: previous run still going"* ]]
}

# Argument fuzzing: "palarm 1us -- sleep 30" wrote one notice per skipped
# tick (about 40 MB/s of stderr).
@test "palarm: skipped-tick notices in run mode come at most once a second, with a count" {
	spawn_bg palarm 1us -- bash -c 'exec -a "$0" sleep 30' "$T-$BATS_TEST_NUMBER-c" 2> err
	local pid=$!
	sleep 2.5
	kill -TERM "$pid"
	wait "$pid" || true
	cat err
	[ "$(wc -l < err)" -ge 2 ]
	[ "$(wc -l < err)" -le 4 ]
	head -n 1 err | grep -Eq '^palarm: tick [0-9]+ skipped: previous run still going$'
	sed -n 2p err | grep -Eq '^palarm: [0-9]+ ticks skipped up to tick [0-9]+: previous run still going$'
}

# Argument fuzzing: a TERM to "palarm 1us -- sleep 30" ended palarm with 143
# and left a COMMAND running: a tick due in the same round of the loop as
# the SIGCHLD of the killed run started a new one.
@test "palarm: TERM in run mode with a tiny interval leaves no COMMAND behind" {
	local i pid st c=$T-$BATS_TEST_NUMBER-c
	for i in 1 2 3 4 5 6 7 8 9 10; do
		spawn_bg palarm -q 1us -- bash -c 'exec -a "$0" sleep 30' "$c"
		pid=$!
		wait_for 5 eval '[ -n "$(title_pids "$c")" ]'
		sleep 0.$((RANDOM % 10))
		kill -TERM "$pid"
		st=0
		wait "$pid" || st=$?
		[ "$st" -eq 143 ]
		sleep 0.1
		echo "round $i: left $(title_pids "$c")"
		[ -z "$(title_pids "$c")" ]
	done
}

@test "palarm: run mode puts the tick number in PALARM_TICK" {
	run -0 palarm -c 3 50ms -- sh -c 'echo "t=$PALARM_TICK"'
	[ "$output" = "$(printf 't=1\nt=2\nt=3')" ]
}

@test "palarm: -d 1s -- sleep 5 exits 124 after about 1 s" {
	local t0=$(ms_now)
	run -124 palarm -d 1s -- sleep 5
	local el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -ge 950 ]
	[ "$el" -lt 2500 ]
}

@test "palarm: -d with -k kills a TERM-ignoring COMMAND and still gives 124" {
	local t0=$(ms_now)
	run -124 palarm -d 500ms -k 1s -- recorder -i -o rec
	local el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -ge 1400 ]
	[ "$el" -lt 3500 ]
	has_line rec ready
}

@test "palarm: -d -k sends KILL to the group after its leader died of TERM" {
	local m="$T-$BATS_TEST_NUMBER-member" t0=$(ms_now) el
	# The member ignores TERM; the leader (sleep) dies of it at once.
	run -124 palarm -d 500ms -k 500ms -- bash -c \
	    'trap "" TERM; (exec -a "$1" sleep 300 >/dev/null 2>&1) & trap - TERM; exec sleep 300' \
	    sh "$m" 3>&-
	el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -ge 900 ]
	[ "$el" -lt 4000 ]
	wait_for 3 no_title "$m"
}

@test "palarm: -d with durations near the 64-bit limit never fires early" {
	local t0=$(ms_now)
	run -0 palarm -d 9223372036.85s -- sleep 1
	[ $(( $(ms_now) - t0 )) -ge 900 ]
	# A saturated -k: the leader dies of TERM and palarm ends at once.
	t0=$(ms_now)
	run -124 palarm -d 200ms -k 9223372036.85s -- sleep 5
	[ $(( $(ms_now) - t0 )) -lt 3000 ]
	# Ticks and -W: nothing within the time we wait.
	run -124 timeout 1 palarm 9223372036.85s
	[ -z "$output" ]
	run -124 timeout 1 palarm -c 2 -j 9223372036.854775807s 9223372036.85s
	[ -z "$output" ]
	run -124 timeout 1 palarm -W 9223372036.85s < <(exec sleep 3 3>&-)
}

# Argument fuzzing reported a UBSan overflow for this vector (the next
# tick's time); saturated by clock_add_sat/clock_mul_sat since. Under make
# SANITIZE=1 check a report would abort palarm (status 134 or 1, not 124).
@test "palarm: run mode with an interval near the 64-bit limit never runs and never overflows" {
	run -124 --separate-stderr timeout 1 palarm 9223372036s -- echo ran
	[ -z "$output" ]
	[ -z "$stderr" ]
	run -124 --separate-stderr timeout 1 palarm -i -a -j 9223372036s 9223372036s -- true
	[ -z "$stderr" ]
}

@test "palarm: -d on a stopped COMMAND sends CONT and exits 124" {
	local t0=$(ms_now) el
	run -124 timeout -k 1 10 palarm -d 1s -- sh -c 'kill -STOP $$'
	el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -lt 2500 ]
}

@test "palarm: under a terminal -d ends a COMMAND stopped reading it; --foreground lets it read" {
	command -v script >/dev/null || skip "script(1) is not installed"
	local pa
	pa=$(command -v palarm)
	run timeout -k 1 10 script -qec "t0=\$(date +%s%N); $pa -d 1s -- sh -c 'read x'; \
	    echo status=\$? ms=\$(( (\$(date +%s%N) - t0) / 1000000 ))" /dev/null \
	    < <(exec sleep 3 3>&-)
	echo "$output"
	[[ "$output" =~ status=124\ ms=([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -lt 2500 ]
	run timeout -k 1 10 script -qec "$pa --foreground -d 3s -- sh -c 'read x; echo got:\$x'; \
	    echo status=\$?" /dev/null < <(sleep 0.3; echo hello; exec sleep 3 3>&-)
	echo "$output"
	[[ "$output" == *got:hello* ]]
	[[ "$output" == *status=0* ]]
}

@test "palarm: -d 5s -- sh -c 'exit 3' exits 3 at once" {
	local t0=$(ms_now)
	run -3 palarm -d 5s -- sh -c 'exit 3'
	[ $(( $(ms_now) - t0 )) -lt 2000 ]
}

@test "palarm: -d -s USR1 sends that signal at the deadline" {
	run -124 palarm -d 300ms -s USR1 -- recorder -e USR1 -o rec
	has_line rec USR1
}

@test "palarm: an inherited interval timer does not fire in palarm" {
	# perl's alarm sets ITIMER_REAL, which survives exec.
	run -0 perl -e 'alarm 1; exec @ARGV or die' palarm -d 5s -- sleep 1.5
}

@test "palarm: -s USR1 -p PID 100ms signals about 10 times a second, ends with PID" {
	spawn_bg recorder -o rec
	local rp=$!
	wait_for 5 ready rec
	spawn_bg palarm -s USR1 -p "$rp" 100ms
	local pp=$!
	sleep 1
	local n
	n=$(count_lines rec USR1)
	echo "signals in 1 s: $n"
	[ "$n" -ge 7 ]
	[ "$n" -le 12 ]
	kill -KILL "$rp"
	wait "$rp" 2>/dev/null || true
	wait_for 3 gone "$pp"
	local st=0
	wait "$pp" || st=$?
	[ "$st" -eq 0 ]
}

@test "palarm: -W 500ms passes lines through and exits 124 after they stop" {
	mkfifo beats
	spawn_bg sh -c "exec heartbeat -n 5 -i 100 > beats"
	local t0=$(ms_now)
	run -124 palarm -W 500ms < beats
	local el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$output" = "$(printf 'beat %s\n' 1 2 3 4 5 | head -c -1)" ]
	# 5 beats take 400 ms, then 500 ms of silence.
	[ "$el" -ge 850 ]
	[ "$el" -lt 2500 ]
}

@test "palarm: -W stays quiet while heartbeats keep coming" {
	mkfifo beats
	spawn_bg sh -c "exec heartbeat -n 15 -i 100 > beats"
	local t0=$(ms_now)
	run -124 palarm -W 400ms < beats
	[ "${#lines[@]}" -eq 15 ]
	[ $(( $(ms_now) - t0 )) -ge 1700 ]
}

@test "palarm: -W with -s USR1 -p PID signals instead of exiting" {
	spawn_bg recorder -o rec
	local rp=$!
	wait_for 5 ready rec
	mkfifo beats
	spawn_bg sh -c "exec heartbeat -n 3 -i 100 > beats"
	spawn_bg sh -c "exec palarm -W 300ms -s USR1 -p $rp < beats"
	local pp=$!
	wait_for 5 has_line rec USR1
	alive "$pp"
	# Silence goes on: it fires again after another 300 ms.
	wait_for 5 at_least 2 rec USR1
	alive "$pp"
}

@test "palarm: -W with a COMMAND runs it on silence, with /dev/null as stdin" {
	run -124 palarm -W 200ms -- sh -c 'echo "fired $(readlink /proc/$$/fd/0)"' \
		< <(echo beat; exec sleep 0.5)
	[ "${lines[0]}" = beat ]
	[ "${lines[1]}" = "fired /dev/null" ]
}

@test "palarm: bad input is one line and exit 2" {
	local args
	for args in "0" "-- -1s" "0ms" "abc" "-s NOSUCH -p 1 1s" "-p 1 1s" \
		"-d 1s" "-d 1s --" "-c 0 1s" "-s USR1 1s"; do
		run -2 --separate-stderr palarm $args
		echo "$args: $stderr"
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == palarm:* ]]
		[ -z "$output" ]
	done
}

@test "palarm: -h prints a synopsis, -V the version" {
	run -0 palarm -h
	[[ "$output" == usage:\ palarm* ]]
	run -0 palarm -V
	[[ "$output" == "palarm (pkit) "* ]]
}

@test "palarm: --help lists every long option and ends with See palarm(1)." {
	run -0 palarm --help
	local o n=0
	for o in $(grep -o '{ "[a-z0-9-]*",' "$BATS_TEST_DIRNAME/../cmd/palarm.c" | tr -d '{",'); do
		n=$((n + 1))
		[[ "$output" == *"--$o"* ]] || { echo "missing --$o"; return 1; }
	done
	[ "$n" -ge 10 ]
	[ "${lines[${#lines[@]}-1]}" = "See palarm(1)." ]
}
