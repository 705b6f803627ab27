#!/usr/bin/env bats
# daemonize: what a shell user touches (issue 17): --status --json,
# --status exit 4, --help, logs that copytruncate rotation can cut.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	A=$T-$BATS_TEST_NUMBER-d
}

local_teardown() {
	[ -f d.pid ] && daemonize -q -p d.pid --signal KILL 2>/dev/null
	return 0
}

# json FILE KEY: the value of KEY in the JSON object in FILE.
json() {
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("null" if v is None else v)' "$1" "$2"
}

@test "daemonize: --status --json describes a running daemon" {
	run -0 daemonize -p d.pid -A "$A" -- sleep 1000
	DPID=$(cat d.pid)
	track "$DPID"
	sleep 0.2
	daemonize -p d.pid --status --json > st.json
	python3 -m json.tool st.json > /dev/null
	[ "$(wc -l < st.json)" -eq 1 ]
	[ "$(json st.json status)" = running ]
	[ "$(json st.json pid)" = "$DPID" ]
	[ "$(json st.json pidfile)" = "$PWD/d.pid" ]
	[ "$(json st.json title)" = "$A 1000" ]
	[ "$(json st.json command)" = "$(readlink -f "$(command -v sleep)")" ]
	[[ $(json st.json started_at) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]]
	python3 -c 'import json, sys; u = json.load(open(sys.argv[1]))["uptime"]; sys.exit(0 if 0.1 <= u < 60 else 1)' st.json
}

@test "daemonize: --status --json for a dead daemon and for no pidfile" {
	run -0 daemonize -p d.pid -A "$A" -- sleep 1000
	DPID=$(cat d.pid)
	track "$DPID"
	kill -KILL "$DPID"
	wait_for 5 gone "$DPID"
	run -1 daemonize -p d.pid --status --json
	echo "$output" > st.json
	python3 -m json.tool st.json > /dev/null
	[ "$(json st.json status)" = dead ]
	[ "$(json st.json pid)" = "$DPID" ]
	[ "$(json st.json uptime)" = null ]
	rm d.pid
	run -3 daemonize -p d.pid --status --json
	echo "$output" > st.json
	[ "$(json st.json status)" = absent ]
	[ "$(json st.json pid)" = null ]
	run -2 --separate-stderr daemonize -p d.pid --stop --json
	[ "$stderr" = "daemonize: --json goes with --status" ]
}

@test "daemonize: --status exits 4 for a pidfile it cannot read" {
	mkdir d.pid
	run -4 --separate-stderr daemonize -p d.pid --status
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "daemonize: $PWD/d.pid: refusing a directory as pidfile" ]]
	rmdir d.pid
	printf 'garbage\n' > d.pid
	run -4 --separate-stderr daemonize -p d.pid --status
	[[ $stderr == "daemonize: $PWD/d.pid: not a pkit pidfile"* ]]
	[ "$(cat d.pid)" = garbage ]
}

@test "daemonize: --help lists every long option and ends with See daemonize(1)." {
	run -0 daemonize --help
	[ "${lines[-1]}" = "See daemonize(1)." ]
	local src=$BATS_TEST_DIRNAME/../cmd/daemonize.c opt n=0
	for opt in $(sed -n 's/^[[:space:]]*{ "\([a-z0-9-]*\)", .*/\1/p' "$src"); do
		[[ $output == *"--$opt"* ]] || { echo "missing --$opt"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -ge 28 ]
	run -0 daemonize -h
	[ "${lines[-1]}" = "See daemonize(1)." ]
}

@test "daemonize: -o is append-only, so copytruncate rotation leaves no hole" {
	run -0 daemonize -p d.pid -o out -A "$A" -- heartbeat -i 20
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 grep -qx "beat 20" out
	cp out out.1
	: > out		# copytruncate: truncate in place
	wait_for 5 test -s out
	sleep 0.1
	# the next write lands at offset 0, not where the old end was
	[ "$(head -c 4 out)" = beat ]
	[ "$(tr -d -c '\000' < out | wc -c)" -eq 0 ]
	[ "$(stat -c %s out)" -lt "$(stat -c %s out.1)" ]
}

# with_devlog SOCK CMD...: run CMD in a private mount namespace whose
# /dev/log is SOCK (the rest of /dev as it was, /dev/null included).
with_devlog() {
	local sock=$1
	shift
	mkdir -p olddev
	unshare -m sh -c 'mount --make-rprivate / &&
	    mount --bind /dev "$1" && mount -t tmpfs none /dev &&
	    touch /dev/null /dev/log && mount --bind "$1/null" /dev/null &&
	    mount --bind "$2" /dev/log && shift 2 && exec "$@"' \
	    sh "$PWD/olddev" "$sock" "$@"
}

@test "daemonize: --syslog TAG sends stdout at info and stderr at err, relayed in the daemon's session" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a private /dev/log"
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".ready", "w").close()
s.settimeout(20)
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace") + "\n")
        f.flush()' "$PWD/log" "$PWD/got" 3>&- &
	track $!
	wait_for 10 test -e got.ready
	run -0 --separate-stderr with_devlog "$PWD/log" \
	    daemonize -p "$PWD/d.pid" --syslog "$A-tag" -A "$A" -- \
	    bash -c 'echo to-out; echo to-err >&2; exec -a "$0" sleep 1000'
	DPID=$(cat d.pid)
	track "$DPID"
	wait_for 5 grep -q "to-err" got
	grep -Eq "^<30>.* $A-tag: to-out$" got
	grep -Eq "^<27>.* $A-tag: to-err$" got
	# the relay lives in the daemon's session and goes with --stop
	local sid relay
	sid=$(ps -o sid= -p "$DPID" | tr -d ' ')
	relay=$(ps -o pid= -s "$sid" | grep -vw "$DPID" | tr -d ' ')
	[ -n "$relay" ]
	track "$relay"
	[ "$(ps -o ppid= -p "$relay" | tr -d ' ')" != "$DPID" ]
	run -0 daemonize -p d.pid --stop
	gone "$DPID"
	wait_for 5 gone "$relay"
}

@test "daemonize: bad --syslog uses: one line, exit 2" {
	run -2 --separate-stderr daemonize --syslog "a b" -A "$A" -- sleep 1000
	[[ $stderr == "daemonize: --syslog: expected a tag"* ]]
	run -2 --separate-stderr daemonize -f --syslog x -- sleep 1000
	[ "$stderr" = "daemonize: --syslog does not go with -f: its output is the supervisor's" ]
	run -2 --separate-stderr daemonize -o o -e e --syslog x -- sleep 1000
	[ "$stderr" = "daemonize: --syslog with both -o and -e would send nothing" ]
	[ -z "$(title_pids "$A")" ]
}
