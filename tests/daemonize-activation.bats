#!/usr/bin/env bats
# daemonize and systemd's protocols (issue 13 items 1-2): an inherited
# socket activation goes through to COMMAND, LISTEN_PID naming the final
# process and the lock fd above the passed fds; -N relays READY=1 to an
# outer NOTIFY_SOCKET.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	A=$T-$BATS_TEST_NUMBER-d
	# launch SOCK CMD...: listen on unix socket SOCK as fd 3 and exec
	# CMD with LISTEN_FDS=1, LISTEN_PID=own pid, LISTEN_FDNAMES=web.
	cat > launch <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
fd = s.detach()
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=os.environ.get("FAKE_PID", str(os.getpid())), LISTEN_FDNAMES="web")
os.execvpe(sys.argv[2], sys.argv[2:], env)
EOF
	# a server on fd 3: answers each connection with its pid
	SERVER='import os, socket
s = socket.socket(fileno=3)
while True:
    c, _ = s.accept()
    c.sendall(b"hello %d\n" % os.getpid())
    c.close()'
}

local_teardown() {
	[ -f d.pid ] && daemonize -q -p d.pid --signal KILL 2>/dev/null
	return 0
}

# ask SOCK: connect and print the answer.
ask() {
	python3 -c 'import socket, sys
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.settimeout(5)
c.connect(sys.argv[1])
sys.stdout.write(c.makefile().readline())' "$1"
}

envof() { tr '\0' '\n' < "/proc/$1/environ" | grep "^$2=" | cut -d= -f2-; }

@test "daemonize: an inherited socket activation reaches COMMAND, LISTEN_PID its own" {
	run -0 --separate-stderr python3 launch "$PWD/sock" \
	    daemonize -p "$PWD/d.pid" -- python3 -c "$SERVER"
	DPID=$(cat d.pid)
	track "$DPID"
	[ "$(envof "$DPID" LISTEN_PID)" = "$DPID" ]
	[ "$(envof "$DPID" LISTEN_FDS)" = 1 ]
	[ "$(envof "$DPID" LISTEN_FDNAMES)" = web ]
	[[ $(readlink "/proc/$DPID/fd/3") == socket:* ]]
	# the lock sits right above the passed fds
	[ "$(readlink "/proc/$DPID/fd/4")" = "$PWD/d.pid.lock" ]
	[ "$(ask "$PWD/sock")" = "hello $DPID" ]
}

@test "daemonize -f: the activation stays on fd 3 and the lock goes above it" {
	python3 launch "$PWD/sock" daemonize -f -p "$PWD/d.pid" -- \
	    python3 -c "$SERVER" 3>&- &
	local p=$!
	track "$p"
	wait_for 5 test -s d.pid
	[ "$(cat d.pid)" = "$p" ]
	[ "$(envof "$p" LISTEN_PID)" = "$p" ]
	[ "$(readlink "/proc/$p/fd/4")" = "$PWD/d.pid.lock" ]
	[ "$(ask "$PWD/sock")" = "hello $p" ]
}

@test "daemonize: an activation meant for another process is not passed on" {
	FAKE_PID=1 run -0 --separate-stderr python3 launch "$PWD/sock" \
	    daemonize -p "$PWD/d.pid" -A "$A" -- sleep 1000
	DPID=$(cat d.pid)
	track "$DPID"
	[ "$(envof "$DPID" LISTEN_PID)" = 1 ]
	[ "$(readlink "/proc/$DPID/fd/3")" = "$PWD/d.pid.lock" ]
	[ ! -e "/proc/$DPID/fd/4" ]
}

@test "daemonize: --ready-fd on an inherited activation fd is a usage error" {
	run -2 --separate-stderr python3 launch "$PWD/sock" \
	    daemonize --ready-fd 3 -p "$PWD/d.pid" -A "$A" -- sleep 1000
	[ "$stderr" = "daemonize: --ready-fd 3 is one of the 1 inherited LISTEN_FDS" ]
	[ ! -e d.pid ]
}

@test "daemonize: under systemd-socket-activate the server answers on the socket" {
	command -v systemd-socket-activate >/dev/null ||
	    skip "no systemd-socket-activate"
	systemd-socket-activate -l "$PWD/sock" \
	    daemonize -p "$PWD/d.pid" -- python3 -c "$SERVER" \
	    2>/dev/null 3>&- &
	track $!
	wait_for 5 test -S sock
	# the first connection makes it start the daemon, which answers it
	local got
	got=$(ask "$PWD/sock")
	DPID=$(cat d.pid)
	track "$DPID"
	[ "$got" = "hello $DPID" ]
	[ "$(envof "$DPID" LISTEN_PID)" = "$DPID" ]
}

@test "daemonize -N relays READY=1 to an outer NOTIFY_SOCKET, naming the daemon" {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
open(sys.argv[2], "w").close()
msg = s.recv(4096).decode()
open(sys.argv[2], "w").write(msg + "\n")' "$PWD/outer" "$PWD/got" 3>&- &
	track $!
	wait_for 5 test -e got
	NOTIFY_SOCKET=$PWD/outer run -0 --separate-stderr \
	    daemonize -N -p "$PWD/d.pid" -A "$A" -- dnotify -d 200
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 test -s got
	grep -qx READY=1 got
	grep -qx "MAINPID=$DPID" got
	# the daemon itself talked to daemonize's own socket, not the outer one
	[ "$(envof "$DPID" NOTIFY_SOCKET)" != "$PWD/outer" ]
}
