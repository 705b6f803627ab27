#!/usr/bin/env bats
# prefork: supervision, signals, listening sockets, dispatch (DESIGN §3.2).

load helpers
bats_require_minimum_version 1.5.0

# Live (non-zombie) children of PID, one pid a line.
kids() { ps -o pid=,stat= --ppid "$1" 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }'; }
nkids() { kids "$1" | wc -l; }
nkids_is() { [ "$(nkids "$1")" -eq "$2" ]; }
title_of() { tr '\0' ' ' < "/proc/$1/cmdline" | sed 's/ *$//'; }
# Children of $1 all absent from the word list $2, and $3 of them.
all_new() {
	local k
	[ "$(nkids "$1")" -eq "$3" ] || return 1
	for k in $(kids "$1"); do
		case " $2 " in *" $k "*) return 1 ;; esac
	done
}
# Every live child of $1 has written env/PID with generation $2.
all_gen() {
	local p g
	for p in $(kids "$1"); do
		[ -f "env/$p" ] || return 1
		read -r _ _ _ _ g _ < "env/$p"
		[ "$g" = "$2" ] || return 1
	done
}
lines_of() { [ -f "$1" ] && [ "$(grep -c "${3:-}" "$1")" -ge "$2" ]; }
# env files written by pfworker -e: "PID SLOT WORKERS MASTER GEN LISTEN_PID"
envfile_count() { ls "$1" 2>/dev/null | wc -l; }
envfiles_are() { [ "$(envfile_count "$1")" -ge "$2" ]; }
# Fewest and most workers "serving" (started, not yet told to stop), as
# the master's -v log tells them in the order it acted, once the first N
# have started.
serving_span() {
	awk -v n="$2" '
		/^prefork: got / { exit }
		/ started, generation / { cur++; seen++ }
		/^prefork: stopping worker / { cur-- }
		seen >= n { if (min == "" || cur < min) min = cur; if (cur > max) max = cur }
		END { print min, max }' "$1"
}
slot_pid() {
	local k
	for k in $(kids "$1"); do
		case $(title_of "$k") in "$2"*) echo "$k" ;; esac
	done
}
slot_replaced() { local p; p=$(slot_pid "$1" "$2"); [ -n "$p" ] && [ "$p" != "$3" ]; }

@test "prefork: master and workers carry their titles" {
	local tt=$T-$BATS_TEST_NUMBER m p
	spawn_bg prefork -n 3 -t "$tt" -- pfworker -s
	m=$!
	wait_for 5 nkids_is "$m" 3
	[ "$(title_of "$m")" = "$tt-master" ]
	run pkillall-title -l "$tt-*"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	for i in 0 1 2; do
		p=$(title_pids "$tt-$i ")
		[ "$(echo "$p" | wc -w)" -eq 1 ]
		[ "$(title_of "$p")" = "$tt-$i -s" ]
		[ "$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$p/stat")" = "$m" ]
	done
}

@test "prefork: each worker sees its PREFORK_* environment" {
	mkdir env
	spawn_bg prefork -n 3 -- pfworker -s -e env
	m=$!
	wait_for 5 envfiles_are env 3
	run sh -c 'cat env/* | awk "{ print \$2, \$3, \$4, \$5, \$6 }" | sort'
	[ "$output" = "0 3 $m 0 -
1 3 $m 0 -
2 3 $m 0 -" ]
}

@test "prefork: a #!/bin/sh worker carries its title" {
	local tt=$T-$BATS_TEST_NUMBER m p
	printf '#!/bin/sh\nwhile :; do sleep 1; done\n' > w.sh
	chmod +x w.sh
	spawn_bg prefork -n 2 -t "$tt" -- ./w.sh
	m=$!
	wait_for 5 nkids_is "$m" 2
	for i in 0 1; do
		p=$(title_pids "$tt-$i ")
		[ "$(echo "$p" | wc -w)" -eq 1 ]
		[ "$(title_of "$p")" = "$tt-$i ./w.sh" ]
		[ "$(cat "/proc/$p/comm")" = sh ] || [ "$(cat "/proc/$p/comm")" = dash ] ||
		    [ "$(cat "/proc/$p/comm")" = bash ]
	done
}

@test "prefork: kill -9 of a worker is replaced in the same slot within 1 s" {
	local tt=$T-$BATS_TEST_NUMBER m old new t0
	spawn_bg prefork -n 2 -t "$tt" -- pfworker -s
	m=$!
	wait_for 5 nkids_is "$m" 2
	old=$(slot_pid "$m" "$tt-1 ")
	[ -n "$old" ]
	t0=$(ms_now)
	kill -9 "$old"
	wait_for 3 slot_replaced "$m" "$tt-1 " "$old"
	[ $(( $(ms_now) - t0 )) -lt 1500 ]
	new=$(title_pids "$tt-1 ")
	[ "$new" != "$old" ]
	nkids_is "$m" 2
}

@test "prefork: a crash loop backs off and logs each exit once with its status" {
	spawn_bg prefork -n 1 -b 1s -- pfworker -x 3 -r ev 2>err
	m=$!
	sleep 3.2
	cpu=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$m/stat")
	kill -TERM "$m"
	wait "$m" || true
	starts=$(grep -c ' start$' ev)
	# 0, .1, .3, .7, 1.5, 2.5 s: about 6; no backoff would be hundreds.
	[ "$starts" -ge 4 ]
	[ "$starts" -le 9 ]
	logged=$(grep -c '^prefork: worker 0 (pid [0-9]*) exited with status 3; restarting in ' err)
	[ "$logged" -ge $((starts - 1)) ]
	[ "$logged" -le "$starts" ]
	[ "$(grep -c . err)" -eq "$logged" ]
	grep -q 'restarting in 100ms$' err
	grep -q 'restarting in 200ms$' err
	grep -q 'restarting in 400ms$' err
	# master CPU: well under 0.5 s (clock ticks)
	[ "$cpu" -lt 50 ]
}

@test "prefork: TERM sends -S to workers, master exits 0, nothing left" {
	local tt=$T-$BATS_TEST_NUMBER m
	spawn_bg prefork -n 2 -S INT -t "$tt" -- pfworker -s -r ev
	m=$!
	wait_for 5 lines_of ev 2 start
	pids=$(kids "$m")
	kill -TERM "$m"
	st=0; wait "$m" || st=$?
	[ "$st" -eq 0 ]
	[ "$(grep -c ' INT$' ev)" -eq 2 ]
	[ "$(grep -c ' TERM$' ev)" -eq 0 ]
	[ "$(grep -c ' exit$' ev)" -eq 2 ]
	for p in $pids; do gone "$p"; done
	[ -z "$(title_pids "$tt-")" ]
}

@test "prefork: a TERM-ignoring worker is KILLed after -g" {
	spawn_bg prefork -n 1 -g 1s -- pfworker -s -i -r ev
	m=$!
	wait_for 5 lines_of ev 1 start
	p=$(kids "$m")
	t0=$(ms_now)
	kill -TERM "$m"
	st=0; wait "$m" || st=$?
	t=$(( $(ms_now) - t0 ))
	[ "$st" -eq 0 ]
	[ "$t" -ge 900 ]
	[ "$t" -lt 4000 ]
	grep -q ' TERM$' ev
	! grep -q ' exit$' ev
	gone "$p"
}

@test "prefork: QUIT stops everything at once" {
	local tt=$T-$BATS_TEST_NUMBER
	spawn_bg prefork -n 3 -t "$tt" -- pfworker -s -i
	m=$!
	wait_for 5 nkids_is "$m" 3
	pids=$(kids "$m")
	t0=$(ms_now)
	kill -QUIT "$m"
	wait "$m" || true
	[ $(( $(ms_now) - t0 )) -lt 1000 ]
	for p in $pids; do gone "$p"; done
	[ -z "$(title_pids "$tt-")" ]
}

@test "prefork: kill -9 of the master takes every worker with it" {
	local tt=$T-$BATS_TEST_NUMBER
	spawn_bg prefork -n 3 -t "$tt" -- pfworker -s -i
	m=$!
	wait_for 5 nkids_is "$m" 3
	pids=$(kids "$m")
	kill -9 "$m"
	for p in $pids; do wait_for 1 gone "$p"; done
	[ -z "$(title_pids "$tt-")" ]
}

@test "prefork: HUP replaces every worker, never below NUM-1 serving" {
	mkdir env
	spawn_bg prefork -n 3 -v -- pfworker -s -e env -r ev -D 200 2>log
	m=$!
	wait_for 5 nkids_is "$m" 3
	old=$(kids "$m" | tr '\n' ' ')
	kill -HUP "$m"
	wait_for 10 all_new "$m" "$old" 3
	for p in $(kids "$m"); do
		read -r _ _ _ mp gen _ < "env/$p"
		[ "$mp" = "$m" ]
		[ "$gen" = 1 ]
	done
	read -r min max <<<"$(serving_span log 3)"
	[ "$min" -ge 2 ]
	[ "$max" -le 3 ]
}

@test "prefork: a second HUP during a reload does not stack generations" {
	mkdir env
	spawn_bg prefork -n 3 -v -- pfworker -s -e env -r ev -D 300 2>log
	m=$!
	wait_for 5 nkids_is "$m" 3
	kill -HUP "$m"
	sleep 0.1
	kill -HUP "$m"
	wait_for 15 all_gen "$m" 2
	nkids_is "$m" 3
	read -r min max <<<"$(serving_span log 3)"
	[ "$min" -ge 2 ]
	[ "$max" -le 3 ]
	# 3 first + at most 2 rolls of 3; stacked rolls would start more
	[ "$(grep -c ' start$' ev)" -le 9 ]
}

@test "prefork: TTIN and TTOU change the worker count by one" {
	mkdir env
	spawn_bg prefork -n 2 -- pfworker -s -e env
	m=$!
	wait_for 5 nkids_is "$m" 2
	kill -TTIN "$m"
	wait_for 5 nkids_is "$m" 3
	grep -q '^[0-9]* 2 3 ' env/*
	kill -TTOU "$m"
	wait_for 5 nkids_is "$m" 2
	kill -TTOU "$m"
	wait_for 5 nkids_is "$m" 1
	sleep 0.3
	nkids_is "$m" 1
}

@test "prefork: USR1, USR2 and WINCH reach every worker" {
	spawn_bg prefork -n 3 -- pfworker -s -r ev
	m=$!
	wait_for 5 lines_of ev 3 start
	kill -USR1 "$m"
	kill -USR2 "$m"
	kill -WINCH "$m"
	wait_for 5 lines_of ev 3 ' USR1$'
	wait_for 5 lines_of ev 3 ' USR2$'
	wait_for 5 lines_of ev 3 ' WINCH$'
	[ "$(grep ' USR1$' ev | awk '{ print $2 }' | sort -u | wc -l)" -eq 3 ]
	nkids_is "$m" 3
}

@test "prefork: three HUPs under load refuse no connection; LISTEN_PID is each worker's pid" {
	mkdir env
	spawn_bg prefork -n 2 -l tcp:127.0.0.1:0 -- pfserve -e env -D 50
	m=$!
	wait_for 5 envfiles_are env 2
	port=$(awk '{ print $3 }' env/* | sort -u)
	[ "$(echo "$port" | wc -w)" -eq 1 ]
	pfclient -s stop -t 60 "tcp:127.0.0.1:$port" > client.out 3>&- &
	c=$!
	track "$c"
	sleep 0.3
	for _ in 1 2 3; do
		old=$(kids "$m" | tr '\n' ' ')
		kill -HUP "$m"
		wait_for 10 all_new "$m" "$old" 2
	done
	sleep 0.2
	touch stop
	wait "$c" || true
	cat client.out
	read -r _ ok _ fail _ npids < client.out
	[ "$fail" -eq 0 ]
	[ "$ok" -gt 50 ]
	[ "$npids" -ge 3 ]
	[ "$(envfile_count env)" -eq 8 ]
	! grep -v ' ok ' env/*
	grep -q " ok $port tcp$" env/*
}

@test "prefork: workers get exactly 0, 1, 2 and the listening sockets" {
	spawn_bg prefork -n 1 -l "unix:$PWD/s" -l "web=tcp:127.0.0.1:0" -- pfworker -s -e env0
	m=$!
	mkdir -p env0
	wait_for 5 nkids_is "$m" 1
	p=$(kids "$m")
	[ "$(ls "/proc/$p/fd" | sort -n | tr '\n' ' ')" = "0 1 2 3 4 " ]
	[ "$(tr '\0' '\n' < "/proc/$p/environ" | grep '^LISTEN_FDNAMES=')" = "LISTEN_FDNAMES=unix:web" ]
	[ "$(tr '\0' '\n' < "/proc/$p/environ" | grep '^LISTEN_FDS=')" = "LISTEN_FDS=2" ]
	[ -S s ]
	kill -TERM "$m"
	wait "$m"
	[ ! -e s ]
}

@test "prefork: -L deals 100000 lines, none lost, duplicated, split or mixed" {
	seq 100000 > in
	prefork -n 4 -L -- pfworker < in | sort -n > out
	cmp out in
	prefork -n 4 -L -- cat < in | sort -n > out
	cmp out in
}

@test "prefork: -L with 4 KiB records" {
	awk 'BEGIN { s = sprintf("%4090s", ""); gsub(/ /, "x", s);
		for (i = 1; i <= 3000; i++) print i, s }' > in
	prefork -n 4 -L -- cat < in | sort -n > out
	cmp out in
}

@test "prefork: -0 deals NUL-terminated records" {
	seq 100000 | tr '\n' '\0' > in
	prefork -n 4 -0 -- cat < in | tr '\0' '\n' | sort -n > out
	seq 100000 | cmp - out
}

@test "prefork: output written a byte at a time still comes out in whole lines" {
	seq 3000 > in
	prefork -n 3 -L -- pfworker -b < in | sort -n > out
	cmp out in
}

@test "prefork: a worker flooding output while fed does not deadlock the master" {
	seq 3000 > in
	run -0 timeout 60 sh -c 'prefork -n 2 -L -- pfworker -a 100 < in | wc -l'
	[ "$output" -eq 300000 ]
}

@test "prefork: a stuck worker does not stall the others" {
	seq 200000 > in
	spawn_bg sh -c 'exec prefork -n 2 -L -- pfworker -H 5 < in > out'
	m=$!
	wait_for 20 sh -c '[ "$(wc -l < out)" -ge 150000 ]'
	alive "$m"
}

@test "prefork: -R -k returns replies in input order" {
	seq 2000 > in
	prefork -n 4 -R -k -- pfworker -d 300 < in > out
	cmp out in
	prefork -n 3 -R -k --window 8 -- pfworker -d 300 < in > out
	cmp out in
}

@test "prefork: -R -m 10 recycles each worker after about 10 records" {
	seq 200 | prefork -n 2 -R -m 10 -- pfworker -p > out
	[ "$(awk '{ print $2 }' out | sort -n | uniq | wc -l)" -eq 200 ]
	[ "$(wc -l < out)" -eq 200 ]
	npids=$(awk '{ print $1 }' out | sort -u | wc -l)
	[ "$npids" -ge 18 ]
	most=$(awk '{ print $1 }' out | sort | uniq -c | sort -n | tail -1 | awk '{ print $1 }')
	[ "$most" -le 11 ]
}

@test "prefork: -m adds jitter so workers do not recycle in step" {
	seq 2000 | prefork -n 2 -R -m 20 -- pfworker -p > out
	# records served by each worker that reached its limit: 20, 21 or 22
	run sh -c "awk '{ print \$1 }' out | sort | uniq -c | awk '\$1 >= 20 { print \$1 }' | sort -u | wc -l"
	[ "$output" -ge 2 ]
	[ "$(awk '{ print $1 }' out | sort | uniq -c | awk '$1 > 22' | wc -l)" -eq 0 ]
}

@test "prefork: a record whose worker dies is sent again once and reported" {
	seq 50 > in
	run --separate-stderr prefork -n 2 -R -- pfcrash -m marker 25 < in
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$output" | sort -n)" = "$(cat in)" ]
	[ "$(printf '%s\n' "$stderr" | grep -c "died before replying to '25'; sending it again")" -eq 1 ]
	printf '%s\n' "$stderr" | grep -q "^prefork: worker [01] (pid [0-9]*) killed by signal KILL"
}

@test "prefork: --retry bounds the tries of a record that always kills its worker" {
	seq 5 > in
	run --separate-stderr prefork -n 1 -R --retry 2 -- pfcrash 3 < in
	[ "$status" -eq 1 ]
	[ "$output" = "1
2
4
5" ]
	[ "$(printf '%s\n' "$stderr" | grep -c "'3'; sending it again")" -eq 2 ]
	[ "$(printf '%s\n' "$stderr" | grep -c "'3'; giving up after 3 tries")" -eq 1 ]
}

@test "prefork: dispatch exits 0 only if every worker ended 0" {
	seq 10 | prefork -n 2 -L -- cat > out
	[ "$(wc -l < out)" -eq 10 ]
	run sh -c 'seq 10 | prefork -n 2 -L -q -- sh -c "cat; exit 3"'
	[ "$status" -eq 1 ]
	[ "$(echo "$output" | wc -l)" -eq 10 ]
}

@test "prefork: a closed stdout ends it quietly with 0 (SIGPIPE ignored)" {
	run bash -c 'seq 300000 | prefork -n 2 -L -- pfworker 2>err | head -1; echo "${PIPESTATUS[1]}"'
	[ "${lines[1]}" = 0 ]
	[ ! -s err ]
	run bash -c 'seq 100 | prefork -n 1 -L -q -- true; echo $?'
	[ "$output" = 0 ]
}

@test "prefork: every worker killed at once is reaped and replaced" {
	spawn_bg prefork -n 6 -q -- pfworker -s
	m=$!
	wait_for 5 nkids_is "$m" 6
	old=$(kids "$m" | tr '\n' ' ')
	kill -9 $old
	wait_for 5 all_new "$m" "$old" 6
	[ "$(zombies_of "$m")" -eq 0 ]
}

@test "prefork: -M recycles workers one at a time" {
	spawn_bg prefork -n 2 -v -M 0.5s -g 1s -- pfworker -s -r ev -D 100 2>log
	m=$!
	wait_for 10 lines_of ev 6 start
	read -r min max <<<"$(serving_span log 2)"
	[ "$min" -ge 1 ]
	nkids_is "$m" 2 || nkids_is "$m" 3
}

@test "prefork: -p makes a single instance; a second one starts nothing" {
	local tt=$T-$BATS_TEST_NUMBER
	spawn_bg prefork -p pid -n 1 -t "$tt-a" -- pfworker -s
	m=$!
	wait_for 5 nkids_is "$m" 1
	[ "$(cat pid)" = "$m" ]
	run --separate-stderr prefork -p pid -n 1 -t "$tt-b" -- pfworker -s
	[ "$status" -eq 1 ]
	[ "$stderr" = "prefork: already running (pid $m)" ]
	[ -z "$(title_pids "$tt-b")" ]
	kill -TERM "$m"
	wait "$m"
	[ ! -e pid ]
}

@test "prefork: bad usage is one line and exit 2, nothing started" {
	local tt=$T-$BATS_TEST_NUMBER
	for args in "-n 0 -- pfworker -s" "-S BOGUS -- pfworker -s" \
	    "-l tcp:127.0.0.1:x -- pfworker -s" "-l bogus:1 -- pfworker -s" \
	    "-k -- pfworker" "-L --window 4 -- pfworker" "-n 2" "-n" "--bogus pfworker"; do
		run --separate-stderr prefork -t "$tt" $args
		echo "$args: $status $stderr"
		[ "$status" -eq 2 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "prefork: "* ]]
		[ -z "$output" ]
	done
	[ -z "$(title_pids "$tt-")" ]
}

@test "prefork: an address in use is exit 1, nothing started" {
	local tt=$T-$BATS_TEST_NUMBER
	mkdir env
	spawn_bg prefork -n 1 -l tcp:127.0.0.1:0 -l "unix:$PWD/s" -- pfserve -e env
	m=$!
	wait_for 5 envfiles_are env 1
	port=$(awk '{ print $3 }' env/*)
	run --separate-stderr prefork -n 1 -t "$tt" -l "unix:$PWD/s" -- pfworker -s
	[ "$status" -eq 1 ]
	[ "$stderr" = "prefork: cannot listen on unix:$PWD/s: Address already in use" ]
	run --separate-stderr prefork -n 1 -t "$tt" -l "tcp:127.0.0.1:$port" -- pfworker -s
	[ "$status" -eq 1 ]
	[ "$stderr" = "prefork: cannot listen on tcp:127.0.0.1:$port: Address already in use" ]
	[ -z "$(title_pids "$tt-")" ]
	[ -S s ]
}

@test "prefork: a COMMAND that cannot run is 127 with one line" {
	run -127 --separate-stderr prefork -n 2 -- ./no-such-worker
	[ "$status" -eq 127 ]
	[ "$stderr" = "prefork: cannot run './no-such-worker': No such file or directory" ]
	touch noexec
	run --separate-stderr prefork -n 2 -- ./noexec
	[ "$status" -eq 126 ]
}

@test "prefork: -L spreads a short input over the workers; a last line gets its newline" {
	run -0 sh -c 'seq 8 | prefork -n 4 -L -- sh -c "echo \$PREFORK_WORKER \$(wc -l)"'
	[ "$(printf '%s\n' "$output" | awk '$2 > 0' | wc -l)" -ge 3 ]
	[ "$(printf '%s\n' "$output" | awk '{ s += $2 } END { print s }')" -eq 8 ]
	run -0 sh -c "printf 'a\nb\nc' | prefork -n 2 -L -- cat | sort | od -An -c | tr -d ' '"
	[ "$output" = 'a\nb\nc\n' ]
}

@test "prefork: -L skips a record longer than 1 MiB, reports it, exits 1" {
	{ echo first; head -c 1100000 /dev/zero | tr '\0' x; echo; echo last; } > in
	run --separate-stderr prefork -n 2 -L -- cat < in
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$output" | sort | tr '\n' ' ')" = "first last " ]
	[ "$stderr" = "prefork: record of 1100000 bytes skipped: longer than 1048576" ]
}

@test "prefork: in dispatch mode workers get exactly fds 0, 1, 2" {
	mkfifo in
	spawn_bg sh -c 'exec prefork -n 1 -L -- pfworker < in > /dev/null'
	m=$!
	exec 4> in
	wait_for 5 nkids_is "$m" 1
	p=$(kids "$m")
	run ls "/proc/$p/fd"
	exec 4>&-
	[ "$(echo $output | tr -s ' ')" = "0 1 2" ]
	wait "$m"
}
