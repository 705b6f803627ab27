#!/usr/bin/env bats
# prefork --ready: workers report READY=1 to their own NOTIFY_SOCKET; a
# HUP roll stops an old worker only once its successor is ready (issue 13
# item 3).

load helpers
bats_require_minimum_version 1.5.0

kids() { ps -o pid=,stat= --ppid "$1" 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }' | sort -n; }
nkids() { kids "$1" | wc -l; }
nfiles() { [ "$(ls "$1" | wc -l)" -eq "$2" ]; }
has() { grep -q "$1" "$2"; }

# $1's children are exactly the $2 workers listed in $3 ... none of $4.
all_new() {
	local k
	[ "$(nkids "$1")" -eq "$3" ] || return 1
	for k in $(kids "$1"); do
		case " $2 " in *" $k "*) return 1 ;; esac
	done
}

@test "prefork --ready: a HUP whose new worker never gets ready keeps the old generation serving" {
	mkdir env up
	# Generation 1 reports ready; after 'noready' exists, none does.
	spawn_bg prefork -n 2 -t "$T-$BATS_TEST_NUMBER-r" -l "unix:$PWD/s" \
	    --ready --ready-timeout 1s -- sh -c '[ -f noready ] &&
	    exec pfserve -e env; exec pfserve -e env -r 0 -u up' 2> err
	local m=$! old c
	wait_for 10 nfiles up 2
	old=$(kids "$m" | tr '\n' ' ')
	pfclient -s stop -t 60 "unix:$PWD/s" > client.out 3>&- &
	c=$!
	track "$c"
	touch noready
	kill -HUP "$m"
	wait_for 15 has 'reload stopped: worker [01] (pid [0-9]*) not ready within 1s; the old workers keep serving' err
	# The new worker is stopped; the old ones are still the pool.
	wait_for 10 eval '[ "$(kids "$m" | tr "\n" " ")" = "$old" ]'
	sleep 0.3
	[ "$(kids "$m" | tr '\n' ' ')" = "$old" ]
	# The roll stopped at its first worker: one new process ran.
	[ "$(ls env | wc -l)" -eq 3 ]
	touch stop
	wait "$c"
	cat client.out err
	read -r _ ok _ fail _ < client.out
	[ "$fail" -eq 0 ]
	[ "$ok" -gt 10 ]
	# Still serving after the failed roll.
	run pfclient -c 5 -t 10 "unix:$PWD/s"
	[ "$status" -eq 0 ]
	alive "$m"
}

sample_up() {
	local n min=99
	while [ ! -f stop ]; do
		n=$(ls up | wc -l)
		[ "$n" -ge "$min" ] || { min=$n; echo "$min" > min; }
		sleep 0.01
	done
}

@test "prefork --ready: a HUP replaces every worker, never fewer than NUM ready meanwhile" {
	mkdir env up
	spawn_bg prefork -n 3 -t "$T-$BATS_TEST_NUMBER-r" -l "unix:$PWD/s" \
	    --ready -- pfserve -e env -r 300 -u up -D 50 2> err
	local m=$! old c s
	wait_for 10 nfiles up 3
	old=$(kids "$m" | tr '\n' ' ')
	pfclient -s stop -t 60 "unix:$PWD/s" > client.out 3>&- &
	c=$!
	track "$c"
	sample_up 3>&- &
	s=$!
	track "$s"
	sleep 0.1
	kill -HUP "$m"
	wait_for 20 all_new "$m" "$old" 3
	wait_for 10 nfiles up 3
	sleep 0.1
	touch stop
	wait "$c"
	wait "$s"
	cat client.out min err
	read -r _ ok _ fail _ < client.out
	[ "$fail" -eq 0 ]
	[ "$(cat min)" -ge 3 ]
	[ "$(ls env | wc -l)" -eq 6 ]
	! grep -q 'reload stopped' err
}

@test "prefork --ready: its own READY=1 waits until every worker is ready" {
	mkdir up
	pfnotify "$PWD/n.sock" notes 3>&- &
	track $!
	wait_for 5 test -S n.sock
	NOTIFY_SOCKET=$PWD/n.sock spawn_bg prefork -n 3 \
	    -t "$T-$BATS_TEST_NUMBER-r" -l "unix:$PWD/s" --ready -- sh -c \
	    'exec pfserve -r $((PREFORK_WORKER * 300 + 200)) -u up' 
	wait_for 15 has READY=1 notes
	# Each worker made its file before its READY=1.
	nfiles up 3
	[ "$(grep -c READY=1 notes)" -eq 1 ]
}

@test "prefork --ready: a worker not ready within the timeout is stopped and restarted" {
	mkdir env
	spawn_bg prefork -n 1 -t "$T-$BATS_TEST_NUMBER-r" -l "unix:$PWD/s" \
	    --ready --ready-timeout 300ms -- pfserve -e env 2> err
	wait_for 10 has 'worker 0 (pid [0-9]*) not ready within 300ms; stopping it' err
	wait_for 10 nfiles env 2
}

@test "prefork --ready: bad combinations are usage errors" {
	run --separate-stderr prefork --ready-timeout 1s -- true
	[ "$status" -eq 2 ]
	[ "$stderr" = "prefork: --ready-timeout needs --ready" ]
	run --separate-stderr prefork --ready -L -- true
	[ "$status" -eq 2 ]
	[ "$stderr" = "prefork: --ready cannot be used with -L, -0 or -R" ]
	run --separate-stderr prefork --ready --ready-timeout 0 -- true
	[ "$status" -eq 2 ]
	[ "$stderr" = "prefork: invalid ready timeout '0'" ]
}

@test "prefork --ready: a worker holds no socket but its listening one, and gets an abstract NOTIFY_SOCKET" {
	spawn_bg prefork -n 1 -t "$T-$BATS_TEST_NUMBER-r" -l "unix:$PWD/s" \
	    --ready -- sh -c 'echo "$(ls -l /proc/$$/fd | grep -c socket:) $(readlink /proc/$$/fd/3 | cut -c1-7) $NOTIFY_SOCKET" > seen.t;
	    mv seen.t seen; exec sleep 300'
	wait_for 10 test -f seen
	cat seen
	grep -Eq '^1 socket: @[0-9a-f]+$' seen
}

# $1 has $3 children, each of generation $2 (gen/PID) and ready (up/up.PID).
all_at() {
	local k g
	[ "$(nkids "$1")" -eq "$3" ] || return 1
	for k in $(kids "$1"); do
		[ -f "up/up.$k" ] && [ -f "gen/$k" ] && read -r g < "gen/$k" &&
		    [ "$g" = "$2" ] || return 1
	done
}

@test "prefork --ready: HUPs during a gated roll and a killed old worker end with all ready on the newest generation" {
	mkdir up gen
	spawn_bg prefork -n 3 -t "$T-$BATS_TEST_NUMBER-r" -l "unix:$PWD/s" \
	    --ready -- sh -c 'echo $PREFORK_GENERATION > gen/$$;
	    exec pfserve -r 400 -u up' 2> err
	local m=$! c old
	wait_for 10 all_at "$m" 0 3
	old=$(kids "$m")
	pfclient -s stop -t 60 "unix:$PWD/s" > client.out 3>&- &
	c=$!
	track "$c"
	kill -HUP "$m"
	sleep 0.1
	kill -HUP "$m"
	# Slot 0's old worker (the lowest pid) dies while its successor is
	# getting ready: the successor takes the slot.
	kill -KILL $(echo "$old" | head -1)
	sleep 0.1
	kill -HUP "$m"
	wait_for 30 all_at "$m" 3 3
	touch stop
	wait "$c"
	cat client.out err
	read -r _ ok _ fail _ < client.out
	[ "$fail" -eq 0 ]
	! grep -q 'reload stopped' err
}
