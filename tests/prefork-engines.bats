#!/usr/bin/env bats
# prefork: cases found while moving its engines into lib/pool, lib/dispatch
# and lib/listen (issue 11), and the limits of issue 10 items 10 and 12.

load helpers
bats_require_minimum_version 1.5.0

kids() { ps -o pid=,stat= --ppid "$1" 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }'; }
nkids() { kids "$1" | wc -l; }
lines_of() { [ -f "$1" ] && [ "$(grep -c "${3:-}" "$1")" -ge "$2" ]; }
# CPU time (user + system) of PID and its reaped children, in clock ticks.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat"; }

local_teardown() {
	exec 5>&- 2>/dev/null || true
}

@test "prefork: 70 -l sockets all reach the worker, announced as LISTEN_FDS=70" {
	local args=() i
	for i in $(seq 70); do args+=(-l "s$i=unix:s$i"); done
	spawn_bg prefork -n 1 -t "$T-$BATS_TEST_NUMBER-w" "${args[@]}" -- \
	    sh -c 'n=$(ls -l /proc/$$/fd | grep -c "socket:");
	    echo "$LISTEN_FDS $n $LISTEN_PID $$ ${LISTEN_FDNAMES##*:}" > seen.t
	    mv seen.t seen; exec sleep 300'
	wait_for 10 test -f seen
	read -r fds n lpid me last < seen
	[ "$fds" = 70 ]
	[ "$n" = 70 ]
	[ "$lpid" = "$me" ]
	[ "$last" = s70 ]
}

@test "prefork: more than 256 -l is a usage error, nothing is opened" {
	local args=() i
	for i in $(seq 257); do args+=(-l "unix:s$i"); done
	run --separate-stderr prefork -n 1 "${args[@]}" -- pfworker -s
	[ "$status" -eq 2 ]
	[ "$stderr" = "prefork: too many listen addresses (at most 256)" ]
	[ -z "$output" ]
	! ls s1 2>/dev/null
}

@test "prefork: -R -m 1 churn keeps the master small and every worker to one record" {
	case $PKIT_BUILD in */san) skip "ASan's shadow memory swamps RSS" ;; esac
	mkfifo in
	# Opened read-write first: opening a FIFO for reading alone blocks.
	# The redirections are inside: a background command's stdin would
	# be /dev/null.
	exec 5<> in
	spawn_bg bash -c 'exec prefork -n 2 -t "$1" -R -m 1 -- pfworker -p \
	    < in > out 2> err 5>&-' _ "$T-$BATS_TEST_NUMBER-c"
	local master=$! max=0 k hwm
	seq 3000 >&5
	while ! lines_of out 3000; do
		k=$(nkids "$master")
		[ "$k" -le "$max" ] || max=$k
		alive "$master" || break
		sleep 0.05
	done
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$master/status")
	exec 5>&-
	wait_for 10 gone "$master"
	echo "workers at once: $max, master VmHWM: $hwm kB" >&3
	[ "$(wc -l < out)" -eq 3000 ]
	# One record a worker: 3000 pids, less the few a busy machine may
	# hand out twice while the pid counter (pid_max 32768) wraps; a
	# worker that took two records would halve the count.
	[ "$(awk '{ print $1 }' out | sort -u | wc -l)" -ge 2970 ]
	[ "$max" -le 4 ]
	[ "$hwm" -lt 6144 ]
}

@test "prefork: -b 0 with a worker that dies at once does not spin" {
	spawn_bg prefork -n 2 -b 0 -t "$T-$BATS_TEST_NUMBER-b" -- pfworker -x 1 \
	    2> err
	local master=$! t0 t1 n0 n1
	sleep 0.5
	t0=$(cpu_ticks "$master")
	n0=$(grep -c restarting err)
	sleep 2
	t1=$(cpu_ticks "$master")
	n1=$(grep -c restarting err)
	echo "over 2 s: $((n1 - n0)) restarts, CPU $((t1 - t0)) ticks" >&3
	# Without a floor: thousands of restarts and ~90 % CPU. With the
	# 50 ms floor at most 2 x 20 a second.
	[ $((n1 - n0)) -le 200 ]
	# ASan makes each fork and exec dearer.
	local limit=60
	case $PKIT_BUILD in */san) limit=120 ;; esac
	[ $((t1 - t0)) -lt "$limit" ]
}

@test "prefork: -M below 100ms is a usage error" {
	run --separate-stderr prefork -n 1 -M 1us -- pfworker -s
	[ "$status" -eq 2 ]
	[ "$stderr" = "prefork: invalid lifetime '1us' (at least 100ms)" ]
	run --separate-stderr prefork -n 1 -M 50ms -- pfworker -s
	[ "$status" -eq 2 ]
}

@test "prefork: -M and -g near the 64-bit limit neither wrap nor abort" {
	spawn_bg prefork -n 1 -t "$T-$BATS_TEST_NUMBER-x" -M 9223372036.8s \
	    -g 9223372036.8s -b 9223372036.8s -- pfworker -s -i
	local master=$! w
	# A function: wait_for expands its words once, and the worker may
	# not be there yet at the call.
	one_kid() { [ "$(nkids "$master")" -eq 1 ]; }
	wait_for 10 one_kid
	w=$(kids "$master")
	# A wrapped lifetime expired at once and recycled the worker.
	sleep 1
	[ "$(kids "$master")" = "$w" ]
	# A wrapped grace time KILLed the TERM-ignoring worker at once.
	kill -TERM "$master"
	sleep 1
	alive "$w"
	alive "$master"
	kill -QUIT "$master"
	wait_for 10 gone "$master"
	wait "$master"
}

@test "prefork: -R skips a record longer than 1 MiB with the same report as -L" {
	run --separate-stderr bash -c '{ head -c 1100000 /dev/zero | tr "\0" x;
	    echo; echo ok; } | prefork -n 1 -R -- pfworker'
	[ "$status" -eq 1 ]
	[ "$stderr" = "prefork: record of 1100000 bytes skipped: longer than 1048576" ]
	[ "$output" = ok ]
}

# Processes whose command line is exactly "sleep $1".
sleepers() {
	local d
	for d in /proc/[0-9]*; do
		[ "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" = "sleep $1 " ] &&
		    echo "${d#/proc/}"
	done
	return 0
}
no_sleepers() { [ -z "$(sleepers "$1")" ]; }
has_sleeper() { [ -n "$(sleepers "$1")" ]; }
two_sleepers() { [ "$(sleepers "$1" | wc -l)" -eq 2 ]; }

@test "prefork: TERM stops each worker with its process group" {
	local u=300.$$$BATS_TEST_NUMBER
	spawn_bg prefork -n 2 -t "$T-$BATS_TEST_NUMBER-g" -- \
	    sh -c "sleep $u & exec pfworker -s"
	local master=$!
	wait_for 10 two_sleepers "$u"
	track $(sleepers "$u")
	kill -TERM "$master"
	wait_for 10 gone "$master"
	run wait "$master"
	[ "$status" -eq 0 ]
	wait_for 5 no_sleepers "$u"
}

@test "prefork: --no-group leaves a worker's children to themselves" {
	local u=301.$$$BATS_TEST_NUMBER
	spawn_bg prefork -n 1 --no-group -t "$T-$BATS_TEST_NUMBER-g" -- \
	    sh -c "sleep $u & exec pfworker -s"
	local master=$! s
	wait_for 10 has_sleeper "$u"
	s=$(sleepers "$u")
	track $s
	kill -TERM "$master"
	wait_for 10 gone "$master"
	sleep 0.3
	[ -n "$s" ]
	alive "$s"
}

@test "prefork: each worker leads its own process group; QUIT kills the group" {
	local u=302.$$$BATS_TEST_NUMBER
	spawn_bg prefork -n 1 -t "$T-$BATS_TEST_NUMBER-g" -- \
	    sh -c "sleep $u & exec pfworker -s -i"
	local master=$! w pg
	wait_for 10 has_sleeper "$u"
	track $(sleepers "$u")
	w=$(ps -o pid= --ppid "$master" | tr -d ' ')
	pg=$(ps -o pgid= -p "$w" | tr -d ' ')
	[ "$pg" = "$w" ]
	kill -QUIT "$master"
	wait_for 10 gone "$master"
	wait_for 5 no_sleepers "$u"
}

@test "prefork: --max-restarts 5/10s ends a crash loop with status 1 and one line" {
	local t0 t1
	t0=$(ms_now)
	run --separate-stderr prefork -n 1 --max-restarts 5/10s \
	    -t "$T-$BATS_TEST_NUMBER-r" -- pfworker -x 3
	t1=$(ms_now)
	echo "status $status after $((t1 - t0)) ms" >&3
	[ "$status" -eq 1 ]
	[ "$(grep -c 'giving up' <<< "$stderr")" -eq 1 ]
	grep -qx "prefork: worker 0 crashed more than 5 times within 10s; giving up" <<< "$stderr"
	# Backoff 100+200+400+800+1600 ms before the sixth crash.
	[ $((t1 - t0)) -ge 3000 ]
	[ $((t1 - t0)) -lt 9000 ]
}

@test "prefork: --max-restarts does not count a worker's exit 0" {
	spawn_bg prefork -n 1 -q --max-restarts 1/10s -t "$T-$BATS_TEST_NUMBER-r" \
	    -- pfworker -x 0
	local master=$!
	sleep 1.5
	alive "$master"
	kill -TERM "$master"
	wait_for 10 gone "$master"
}

@test "prefork: bad --max-restarts values are usage errors" {
	local v
	for v in 5 x/10s 5/0 5/-1s /10s 5/ 10001/1s; do
		run --separate-stderr prefork -n 1 --max-restarts "$v" -- pfworker -s
		[ "$status" -eq 2 ]
		[ "${#lines[@]}" -eq 0 ]
		[[ $stderr == "prefork: invalid restart limit '$v'"* ]]
	done
}

@test "prefork: --help names every long option and ends with See prefork(1)." {
	run --separate-stderr prefork --help
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "See prefork(1)." ]
	local o
	for o in workers title pidfile stop-signal grace max-delay lifetime \
	    listen lines null reply keep-order max-requests window retry \
	    no-group max-restarts quiet verbose help version; do
		grep -q -- "--$o" <<< "$output" || { echo "missing --$o"; false; }
	done
}

envfiles_are() { [ "$(ls "$1" 2>/dev/null | wc -l)" -ge "$2" ]; }
all_new() {
	local k
	[ "$(nkids "$1")" -eq "$3" ] || return 1
	for k in $(kids "$1"); do
		case " $2 " in *" $k "*) return 1 ;; esac
	done
}

@test "prefork: adopts systemd-socket-activate's socket; three HUPs refuse no connection" {
	command -v systemd-socket-activate >/dev/null ||
	    skip "systemd-socket-activate is not installed"
	mkdir env
	spawn_bg systemd-socket-activate -l "$PWD/sa.sock" --fdname=web \
	    prefork -n 2 -t "$T-$BATS_TEST_NUMBER-a" -- pfserve -e env -D 50
	local m=$! c old
	# The launcher starts prefork at the first connection: the client's.
	wait_for 5 test -S sa.sock
	pfclient -s stop -t 60 "unix:$PWD/sa.sock" > client.out 3>&- &
	c=$!
	track "$c"
	wait_for 10 envfiles_are env 2
	# Each worker saw LISTEN_PID = its own pid ("ok") and the name.
	! grep -v ' ok ' env/*
	grep -q ' web$' env/*
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
	read -r _ ok _ fail _ < client.out
	[ "$fail" -eq 0 ]
	[ "$ok" -gt 20 ]
	[ "$(ls env | wc -l)" -eq 8 ]
	! grep -v ' ok ' env/*
}

@test "prefork: inherited sockets come first, then -l; LISTEN_FDNAMES in that order" {
	command -v systemd-socket-activate >/dev/null ||
	    skip "systemd-socket-activate is not installed"
	spawn_bg systemd-socket-activate -l "$PWD/a.sock" --fdname=outer \
	    prefork -n 1 -t "$T-$BATS_TEST_NUMBER-a" -l "mine=unix:$PWD/b.sock" -- \
	    sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES" > seen.t; mv seen.t seen;
	    exec sleep 300'
	wait_for 5 test -S a.sock
	pfclient -c 1 -t 3 "unix:$PWD/a.sock" > /dev/null 3>&- &
	track $!
	wait_for 10 test -f seen
	[ "$(cat seen)" = "2 outer:mine" ]
}

@test "prefork: LISTEN_FDS meant for another pid is ignored and not passed on" {
	LISTEN_FDS=1 LISTEN_PID=1 LISTEN_FDNAMES=x spawn_bg prefork -n 1 \
	    -t "$T-$BATS_TEST_NUMBER-a" -- sh -c 'echo "${LISTEN_FDS-unset}" > seen.t;
	    mv seen.t seen; exec sleep 300'
	wait_for 10 test -f seen
	[ "$(cat seen)" = unset ]
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

@test "prefork: NOTIFY_SOCKET hears READY=1 when all are up, RELOADING=1 then READY=1 around HUP, STOPPING=1" {
	spawn_bg pfnotify "$PWD/n.sock" msgs
	wait_for 5 test -S n.sock
	mkdir env
	NOTIFY_SOCKET=$PWD/n.sock spawn_bg prefork -n 3 \
	    -t "$T-$BATS_TEST_NUMBER-n" -- pfworker -s -e env
	local m=$!
	wait_for 10 lines_of msgs 1 READY=1
	[ "$(nkids "$m")" -eq 3 ]
	[ "$(cut -d' ' -f2- msgs)" = "READY=1 STATUS=3 workers up, generation 0" ]
	kill -HUP "$m"
	wait_for 20 lines_of msgs 2 READY=1
	# The roll was over: every worker of generation 1.
	wait_for 5 all_gen "$m" 1
	[ "$(nkids "$m")" -eq 3 ]
	sed -n 2p msgs | grep -Eq '^[0-9]+ RELOADING=1 MONOTONIC_USEC=[0-9]+ STATUS=reloading$'
	[ "$(sed -n 3p msgs | cut -d' ' -f2-)" = "READY=1 STATUS=3 workers up, generation 1" ]
	kill -TERM "$m"
	wait_for 10 gone "$m"
	[ "$(sed -n 4p msgs | cut -d' ' -f2-)" = "STOPPING=1" ]
	[ "$(wc -l < msgs)" -eq 4 ]
}

@test "prefork: WATCHDOG_USEC gets WATCHDOG=1 pings; workers do not see NOTIFY_SOCKET" {
	spawn_bg pfnotify "$PWD/n.sock" msgs
	wait_for 5 test -S n.sock
	NOTIFY_SOCKET=$PWD/n.sock WATCHDOG_USEC=200000 spawn_bg prefork -n 1 \
	    -t "$T-$BATS_TEST_NUMBER-n" -- sh -c 'echo "${NOTIFY_SOCKET-unset} ${WATCHDOG_USEC-unset}" > seen.t;
	    mv seen.t seen; exec sleep 300'
	wait_for 10 test -f seen
	[ "$(cat seen)" = "unset unset" ]
	wait_for 5 lines_of msgs 5 WATCHDOG=1
}

@test "prefork: -L and -0 together are a usage error; a repeated -t or -p: the last one counts" {
	run --separate-stderr prefork -L -0 -- cat
	[ "$status" -eq 2 ]
	[ "$stderr" = "prefork: -L and -0 exclude each other" ]
	spawn_bg prefork -n 1 -t "$T-$BATS_TEST_NUMBER-x" -t "$T-$BATS_TEST_NUMBER-y" \
	    -p a.pid -p b.pid -- sleep 300
	local master=$!
	wait_for 10 test -s b.pid
	[ ! -e a.pid ]
	[ "$(tr '\0' ' ' < "/proc/$master/cmdline" | sed 's/ *$//')" = "$T-$BATS_TEST_NUMBER-y-master" ]
}

# st KEY...: a value of the status file (python3 reads the JSON).
st() {
	python3 -c 'import json, sys
v = json.load(open("st.json"))
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print("null" if v is None else v)' "$@"
}

@test "prefork: --status-file holds the pool's state as JSON, rewritten on every change" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	spawn_bg prefork -n 2 -t "$T-$BATS_TEST_NUMBER-s" --status-file st.json \
	    -- sleep 300
	local master=$! w0 w1
	st_up() { [ -s st.json ] && [ "$(st live)" = 2 ]; }
	wait_for 10 st_up
	python3 -m json.tool st.json > /dev/null
	[ "$(st master_pid)" = "$master" ]
	[ "$(st workers)" = 2 ]
	[ "$(st generation)" = 0 ]
	w0=$(st slots 0 pid)
	w1=$(st slots 1 pid)
	[ "$(st slots 0 restarts)" = 0 ] && [ "$(st slots 0 last_exit)" = null ]
	[[ $(st slots 0 started) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z$ ]]
	# A worker killed: its slot says how it ended and has a new pid.
	kill -KILL "$w0"
	restarted() { [ "$(st slots 0 restarts)" = 1 ] && [ "$(st slots 0 pid)" != null ]; }
	wait_for 10 restarted
	[ "$(st slots 0 last_exit)" = "killed by signal KILL" ]
	[ "$(st slots 0 pid)" != "$w0" ]
	[ "$(st slots 1 pid)" = "$w1" ]
	# A reload: generation 1 everywhere.
	kill -HUP "$master"
	reloaded() { [ "$(st generation)" = 1 ] && [ "$(st slots 0 generation)" = 1 ] &&
	    [ "$(st slots 1 generation)" = 1 ]; }
	wait_for 10 reloaded
	# A stop: no live worker left in the file, and no temporary file.
	kill -TERM "$master"
	wait_for 15 gone "$master"
	[ "$(st live)" = 0 ] && [ "$(st slots 1 pid)" = null ]
	[ ! -e st.json.tmp ]
}
