#!/usr/bin/env bats
# daemonize run as root next to a local attacker (issue 10): `nobody`
# plants files in a shared 1777 directory, locks what it can open, and a
# daemon started with -u nobody turns whatever it holds against root.
# Each test is one attack that worked before; none may work now.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	A=$T-$BATS_TEST_NUMBER-d
	# A shared directory as /tmp is: everyone may create files in it.
	PUB=$(mktemp -d /tmp/daemonize-sec.XXXXXX)
	chmod 1777 "$PUB"
	cd "$PUB" || return 1
}

local_teardown() {
	local f
	[ -n "${PUB:-}" ] || return 0
	for f in "$PUB"/*.pid; do
		[ -f "$f" ] && [ ! -L "$f" ] &&
		    daemonize -q -p "$f" --signal KILL 2>/dev/null
	done
	cd / && rm -rf "$PUB"
	return 0
}

# "${NOBODY[@]}" CMD...: run CMD as the attacker.
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)

# start ARGS...: daemonize -p d.pid ARGS as root, must succeed; pid in
# $DPID.
start() {
	run --separate-stderr daemonize -p "$PUB/d.pid" "$@"
	[ "$status" -eq 0 ]
	DPID=$(cat "$PUB/d.pid")
	track "$DPID"
	alive "$DPID"
}

comm_is() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }
has_line() { grep -qx -- "$2" "$1" 2>/dev/null; }

# refused STATUS MESSAGE-GLOB ARGS...: daemonize ARGS exits STATUS with
# one line matching the glob, within 5 s (a FIFO must never hang it).
refused() {
	local want=$1 glob=$2
	shift 2
	run --separate-stderr timeout 5 daemonize "$@"
	[ "$status" -eq "$want" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == $glob ]]
}

@test "security: a -u daemon holds no fd of root's pidfile and cannot aim --stop" {
	spawn_bg sleep 1000
	local victim=$!
	start -u nobody -A "$A" -- \
	    sh -c "echo $victim >&3; echo $victim > '$PUB/d.pid'; exec 3>&-; exec sleep 300"
	wait_for 5 comm_is "$DPID" sleep
	! ls -l "/proc/$DPID/fd" | grep -q "d\.pid$"
	[ "$(cat d.pid)" = "$DPID" ]
	run -0 daemonize -p d.pid --stop
	gone "$DPID"
	alive "$victim"
	[ ! -e d.pid ]
}

@test "security: another user's read locks on the pidfile fake nothing and block nothing" {
	start -A "$A" -- sleep 1000
	local old=$DPID
	kill -KILL "$old"
	wait_for 5 gone "$old"
	# The attacker can read the pidfile (0644) and lock it, both ways,
	# but cannot even open the lock file.
	"${NOBODY[@]}" dlockhold d.pid > l1 3>&- &
	track $!
	"${NOBODY[@]}" dlockhold -o d.pid > l2 3>&- &
	track $!
	wait_for 5 has_line l1 locked
	wait_for 5 has_line l2 locked
	run -1 "${NOBODY[@]}" dlockhold d.pid.lock
	run -1 daemonize -p d.pid --status
	[ "$output" = "not running" ]
	start -A "$A" -- sleep 1000
	[ "$DPID" != "$old" ]
	run -0 daemonize -p d.pid --status
	[ "$output" = "running (pid $DPID)" ]
}

@test "security: a pidfile naming pid 1 is refused by start, --stop, --signal and --status" {
	echo 1 > d.pid
	refused 1 "daemonize: $PUB/d.pid: names pid 1 or this process; refusing it as pidfile" \
	    -p d.pid -A "$A" -- sleep 1000
	sleep 0.1
	[ -z "$(title_pids "$A")" ]
	refused 1 "daemonize: *names pid 1*" -p d.pid --stop
	refused 1 "daemonize: *names pid 1*" -p d.pid --signal USR1
	refused 4 "daemonize: *names pid 1*" -p d.pid --status
	[ "$(cat d.pid)" = 1 ]
}

@test "security: a pidfile planted by another user is refused and left alone" {
	spawn_bg dsigrec "$PUB/rec"
	local victim=$!
	wait_for 5 has_line rec start
	"${NOBODY[@]}" sh -c "echo $victim > d.pid"
	[ "$(stat -c %U d.pid)" = nobody ]
	refused 1 "daemonize: *d.pid: refusing a file owned by another user*" \
	    -p d.pid --signal USR1
	refused 1 "daemonize: *owned by another user*" -p d.pid --stop
	refused 1 "daemonize: *owned by another user*" -p d.pid -A "$A" -- sleep 1000
	sleep 0.2
	! grep -q USR1 rec
	alive "$victim"
	[ "$(cat d.pid)" = "$victim" ]
	[ -z "$(title_pids "$A")" ]
}

@test "security: a FIFO, a device or a hard link as pidfile is refused at once" {
	mkfifo fifo
	refused 1 "daemonize: *fifo: refusing a FIFO, socket or device as pidfile" \
	    -p fifo -A "$A" -- sleep 1000
	refused 1 "daemonize: *refusing a FIFO*" -N -p fifo -A "$A" -- dnotify
	refused 4 "daemonize: *refusing a FIFO*" -p fifo --status
	refused 1 "daemonize: *refusing a FIFO*" -p fifo --stop
	[ -p fifo ]
	mknod null c 1 3
	refused 1 "daemonize: *refusing a FIFO, socket or device*" -p null --stop
	[ -c null ]
	echo keep > cfg
	ln cfg d.pid
	refused 1 "daemonize: *d.pid: refusing a hard link as pidfile" \
	    -p d.pid -A "$A" -- sleep 1000
	refused 1 "daemonize: *refusing a hard link*" -p d.pid --stop
	[ "$(cat cfg)" = keep ]
	[ "$(stat -c %h cfg)" = 2 ]
	sleep 0.1
	[ -z "$(title_pids "$A")" ]
}

@test "security: --stop never deletes a file that is not a pidfile" {
	cp /etc/passwd passwd
	printf 'listen = 80\n' > config
	refused 1 "daemonize: *passwd: not a pkit pidfile; left alone*" \
	    -p passwd --stop
	refused 1 "daemonize: *config: not a pkit pidfile*" -p config --stop
	refused 1 "daemonize: *config: not a pkit pidfile*" -p config \
	    -A "$A" -- sleep 1000
	cmp passwd /etc/passwd
	[ "$(cat config)" = "listen = 80" ]
}

@test "security: -o and -e as root refuse a symlink, FIFO or hard link" {
	ln -s "$PUB/target" out
	refused 1 "daemonize: *out: refusing a symbolic link as output" \
	    -o out -A "$A" -- sleep 1000
	[ ! -e target ]
	mkfifo fifo
	refused 1 "daemonize: *fifo: refusing a FIFO, socket or device as output" \
	    -e fifo -A "$A" -- sleep 1000
	refused 1 "daemonize: *refusing a FIFO*" -N -o fifo -A "$A" -- dnotify
	echo secret > precious
	ln precious log
	refused 1 "daemonize: *log: refusing a hard link as output" \
	    -o log -A "$A" -- sleep 1000
	[ "$(cat precious)" = secret ]
	sleep 0.1
	[ -z "$(title_pids "$A")" ]
	# /dev/null is fine
	start -o /dev/null -A "$A" -- sleep 1000
}

@test "security: prefork -p on a device or a foreign file neither uses nor deletes it" {
	mknod null c 1 3
	run timeout 5 prefork -p null -n 1 -t "$A-pf" -- sleep 1000
	[ "$status" -eq 1 ]
	[ -c null ]
	printf 'listen = 80\n' > config
	run timeout 5 prefork -p config -n 1 -t "$A-pf" -- sleep 1000
	[ "$status" -eq 1 ]
	[ "$(cat config)" = "listen = 80" ]
	[ -z "$(title_pids "$A-pf")" ]
}

# reuse_pid PID: start `sleep 1000` with exactly that pid (root steers
# the next pid through ns_last_pid; another fork may win the race, so
# try again). The pid is in $REUSED.
reuse_pid() {
	local i p
	for i in $(seq 200); do
		echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid
		sleep 1000 3>&- &
		p=$!
		if [ "$p" = "$1" ]; then
			track "$p"
			REUSED=$p
			return 0
		fi
		kill "$p"
		wait "$p" 2>/dev/null
	done
	return 1
}

@test "security: a stale pidfile whose pid was reused, then touched, does not count" {
	start -A "$A" -- sleep 1000
	local old=$DPID
	kill -KILL "$old"
	wait_for 5 eval "[ ! -e /proc/$old ]"
	reuse_pid "$old" || skip "could not get pid $old again"
	touch d.pid
	run -1 daemonize -p d.pid --status
	[ "$output" = "not running" ]
	run -1 --separate-stderr daemonize -p d.pid --signal USR1
	start -A "$A" -- sleep 1000
	[ "$DPID" != "$old" ]
	alive "$REUSED"
}
