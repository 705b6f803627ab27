#!/usr/bin/env bats
# daemonize --cgroup (issue 14 item 2): the daemon runs in a fresh cgroup
# v2 directory recorded on its pidfile, and a later `daemonize --stop`
# reaches every process in it, setsid'd and double-forked ones too, then
# removes it. Each test works under a parent cgroup of its own, $CGP,
# removed in local_teardown (its processes KILLed first) even when the
# test fails; the test that uses the default parent (our own cgroup)
# purges the daemon's cgroup by name. Tests skip, with the reason, where
# no writable cgroup v2 is mounted.

bats_require_minimum_version 1.5.0
load helpers

cg_mount() {
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break;
	    if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo
}

cg_self() {
	local rel
	rel=$(sed -n 's/^0:://p' /proc/self/cgroup)
	[ "$rel" = / ] && rel=
	echo "$(cg_mount)$rel"
}

local_setup() {
	N=$T-$BATS_TEST_NUMBER
	# A number unique to this test: the sleeps' argument, found in /proc.
	U=30$$$BATS_TEST_NUMBER
	CGM=$(cg_mount)
	[ -n "$CGM" ] || skip "no cgroup v2 mounted"
	CGP=$(cg_self)/pkit-test-$$-$BATS_TEST_NUMBER
	mkdir "$CGP" 2>/dev/null || skip "cgroup v2 at $CGM is not writable"
	OWN=
}

cg_purge() {
	local d=$1 sub p
	[ -n "$d" ] && [ -d "$d" ] || return 0
	if [ -e "$d/cgroup.kill" ]; then
		echo 1 > "$d/cgroup.kill" 2>/dev/null
	else
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p"; done
	fi
	for sub in "$d"/*/; do
		[ -e "$sub/cgroup.procs" ] && cg_purge "${sub%/}"
	done
	wait_for 5 grep -q '^populated 0' "$d/cgroup.events" 2>/dev/null
	rmdir "$d" 2>/dev/null
}

local_teardown() {
	[ -n "$OWN" ] && cg_purge "$OWN"
	[ -n "$CGP" ] && cg_purge "$CGP"
	for p in $(with_arg "$U"); do kill -KILL "$p" 2>/dev/null; done
	return 0
}

# with_arg U: pids of the processes `sleep U`.
with_arg() {
	local d
	for d in /proc/[0-9]*; do
		grep -qxzF -- "$1" "$d/cmdline" 2>/dev/null && echo "${d#/proc/}"
	done
}
none_with_arg() { [ -z "$(with_arg "$1")" ]; }
count_with_arg() { [ "$(with_arg "$1" | wc -l)" -eq "$2" ]; }

no_sub_cgroups() {
	local d
	for d in "$CGP"/*/; do
		[ -e "$d/cgroup.procs" ] && { echo "left: $d"; return 1; }
	done
	return 0
}

# json FILE KEY
json() {
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("null" if v is None else v)' "$1" "$2"
}

@test "daemonize --cgroup: --stop ends a setsid'd, double-forked tree and removes the cgroup" {
	run -0 --separate-stderr daemonize --cgroup -p "$PWD/d.pid" -- \
	    sh -c "setsid sh -c \"sleep $U & sleep $U\" & exec sleep $U"
	wait_for 10 count_with_arg "$U" 3
	daemonize -p d.pid --status --json > st.json
	OWN=$(json st.json cgroup)
	echo "cgroup: $OWN"
	[ "$(dirname "$OWN")" = "$(cg_self)" ]
	[[ "$(basename "$OWN")" == daemonize.* ]]
	grep -qx "$(cat d.pid)" "$OWN/cgroup.procs"
	# Without the cgroup, the setsid'd sleeps would be out of reach.
	run -0 --separate-stderr daemonize -p d.pid --stop
	[ -z "$stderr" ]
	none_with_arg "$U"
	[ ! -e "$OWN" ]
	[ ! -e d.pid ]
	[ ! -e d.pid.lock ]
}

@test "daemonize --cgroup: the stop schedule's KILL step goes through cgroup.kill" {
	[ -e "$CGP/cgroup.kill" ] || skip "no cgroup.kill (kernel before 5.14)"
	run -0 --separate-stderr daemonize --cgroup="$CGP" -p d.pid -- \
	    sh -c "trap '' TERM; setsid sh -c \"trap '' TERM; sleep $U & sleep $U\" & exec sleep $U"
	wait_for 10 count_with_arg "$U" 3
	local t0=$(ms_now) el
	run -0 --separate-stderr daemonize -v -p d.pid --stop --retry TERM/1/KILL/5
	el=$(( $(ms_now) - t0 ))
	echo "$stderr"
	echo "elapsed ${el}ms"
	[[ "$stderr" == *"sent TERM to "*" processes in cgroup $CGP/daemonize."* ]]
	[[ "$stderr" == *"sent KILL to cgroup $CGP/daemonize."*" (cgroup.kill)"* ]]
	[ "$el" -ge 900 ]
	[ "$el" -lt 4500 ]
	none_with_arg "$U"
	no_sub_cgroups
}

@test "daemonize --cgroup: a schedule that ends with processes left says so, exit 1, cgroup kept" {
	run -0 --separate-stderr daemonize --cgroup="$CGP" -p d.pid -- \
	    sh -c "trap '' TERM; setsid sleep $U & exec sleep $U"
	wait_for 10 count_with_arg "$U" 2
	run -1 --separate-stderr daemonize -p d.pid --stop --retry TERM/300ms
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "daemonize: 2 processes of cgroup $CGP/daemonize."*" still running after 300ms" ]]
	[ -e d.pid ]
	# A second, harder stop finishes the job.
	run -0 --separate-stderr daemonize -p d.pid --stop --retry KILL/5
	none_with_arg "$U"
	no_sub_cgroups
	[ ! -e d.pid ]
}

@test "daemonize --cgroup: what the daemon left behind is stopped after it is gone" {
	run -0 --separate-stderr daemonize --cgroup="$CGP" -p d.pid -- \
	    sh -c "setsid sleep $U & sleep 0.5; exit 0"
	local dpid=$(cat d.pid)
	wait_for 10 gone "$dpid"
	count_with_arg "$U" 1
	run -1 --separate-stderr daemonize -p d.pid --status --json
	[[ "$output" == *"\"status\":\"dead\""*"\"cgroup\":\"$CGP/daemonize."* ]]
	run -0 --separate-stderr daemonize -p d.pid --stop
	none_with_arg "$U"
	no_sub_cgroups
	[ ! -e d.pid ]
}

@test "daemonize --cgroup: a daemon that dies in the check window takes its tree and cgroup along" {
	run -1 --separate-stderr daemonize --cgroup="$CGP" -p d.pid -- \
	    sh -c "setsid sleep $U & exit 3"
	echo "$stderr"
	[[ "$stderr" == *"exited with status 3 within 300ms of its start"* ]]
	none_with_arg "$U"
	no_sub_cgroups
	[ ! -e d.pid ]
}

@test "daemonize --cgroup: no writable cgroup v2 is one line, exit 1, nothing started" {
	run -1 --separate-stderr daemonize --cgroup=/no/such/cgroup -p d.pid -- touch started
	echo "$stderr"
	[ "$stderr" = "daemonize: --cgroup: no cgroup v2 directory '/no/such/cgroup'" ]
	mkdir plain
	run -1 --separate-stderr daemonize --cgroup="$PWD/plain" -p d.pid -- touch started
	[ "${#stderr_lines[@]}" -eq 1 ]
	sleep 0.3
	[ ! -e started ]
	[ ! -e d.pid ]
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace for the read-only case"
	run -1 --separate-stderr unshare -m sh -c \
	    'mount -o remount,bind,ro "$1" && exec daemonize --cgroup -p "$2" -- touch "$3"' \
	    sh "$CGM" "$PWD/d.pid" "$PWD/started"
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "daemonize: --cgroup: cannot create a cgroup v2 under our own cgroup: Read-only file system" ]]
	sleep 0.3
	[ ! -e started ]
	[ ! -e d.pid ]
}

@test "daemonize --cgroup: usage errors (no -p; with a control form)" {
	run -2 --separate-stderr daemonize --cgroup -- touch started
	[ "$stderr" = "daemonize: --cgroup needs -p PIDFILE: --stop finds the cgroup through it" ]
	run -2 --separate-stderr daemonize --cgroup -p d.pid --stop
	[ "${#stderr_lines[@]}" -eq 1 ]
	run -2 --separate-stderr daemonize --cgroup= -p d.pid -- touch started
	[ "$stderr" = "daemonize: --cgroup: empty PATH" ]
	[ ! -e started ]
	no_sub_cgroups
}

@test "daemonize --cgroup: a recorded cgroup that is not the daemon's is refused, never killed" {
	run -0 --separate-stderr daemonize --cgroup="$CGP" -p d.pid -- sleep "$U"
	wait_for 10 count_with_arg "$U" 1
	local own dpid victim
	dpid=$(cat d.pid)
	own=$(daemonize -p d.pid --status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cgroup"])')
	# A victim cgroup with a process in it, named like ours.
	victim=$CGP/daemonize.1
	mkdir "$victim"
	spawn_bg titled "$N-victim"
	local v=$!
	wait_for 5 eval '[ -n "$(title_pids "$N-victim")" ]'
	echo "$v" > "$victim/cgroup.procs"
	setattr() {
		python3 -c 'import os, sys
name = "trusted.pkit.cgroup" if os.geteuid() == 0 else "user.pkit.cgroup"
os.setxattr(sys.argv[1], name, sys.argv[2].encode())' d.pid "$1"
	}
	# Not the daemon's cgroup (it is not in it): refused, the session
	# is stopped instead.
	setattr "$dpid $victim"
	run -0 --separate-stderr daemonize -p d.pid --status --json
	[[ "$output" == *'"cgroup":null'* ]]
	# A path out of the mount, and one through "..": refused too.
	setattr "$dpid /tmp"
	run -0 --separate-stderr daemonize -p d.pid --status --json
	[[ "$output" == *'"cgroup":null'* ]]
	setattr "$dpid $own/../daemonize.1"
	run -0 --separate-stderr daemonize -p d.pid --status --json
	[[ "$output" == *'"cgroup":null'* ]]
	# Recorded for another pid: ignored.
	setattr "1 $victim"
	run -0 --separate-stderr daemonize -p d.pid --status --json
	[[ "$output" == *'"cgroup":null'* ]]
	setattr "$dpid $victim"
	run -0 --separate-stderr daemonize -p d.pid --stop
	echo "$stderr"
	[ "$stderr" = "daemonize: pid $dpid has left its cgroup $victim; not emptying it" ]
	wait_for 5 gone "$dpid"
	alive "$v"
	[ -d "$victim" ]
	kill "$v"
}

@test "daemonize -f --cgroup: the command runs in the cgroup in place; a busy pidfile leaves none" {
	spawn_bg daemonize -f --cgroup="$CGP" -p d.pid -- sleep "$U"
	local f=$!
	wait_for 10 count_with_arg "$U" 1
	sed -n 's/^0:://p' "/proc/$f/cgroup" > cg
	[[ "$(cat cg)" == "${CGP#"$CGM"}/daemonize.$f" ]]
	run -0 --separate-stderr daemonize -f --cgroup="$CGP" -p d.pid -- true
	[ "$stderr" = "daemonize: already running (pid $f)" ]
	[ "$(ls -d "$CGP"/*/ | wc -l)" -eq 1 ]
	run -0 --separate-stderr daemonize -p d.pid --stop
	wait_for 5 gone "$f"
	no_sub_cgroups
}

@test "daemonize --cgroup: --status -v names the cgroup" {
	run -0 --separate-stderr daemonize --cgroup="$CGP" -p d.pid -- sleep "$U"
	run -0 daemonize -v -p d.pid --status
	[ "${lines[0]}" = "running (pid $(cat d.pid))" ]
	[[ "${lines[1]}" == "cgroup $CGP/daemonize."* ]]
	run -0 daemonize -p d.pid --status
	[ "$output" = "running (pid $(cat d.pid))" ]
	daemonize -p d.pid --stop
	no_sub_cgroups
}

@test "daemonize --cgroup: the next start removes the empty cgroup of a daemon that ended on its own" {
	run -0 --separate-stderr daemonize --cgroup="$CGP" -p d.pid -- sh -c 'sleep 0.5'
	local dpid=$(cat d.pid) old
	old=$(daemonize -p d.pid --status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cgroup"])')
	[[ "$old" == "$CGP/daemonize."* ]]
	wait_for 10 gone "$dpid"
	wait_for 5 grep -qx 'populated 0' "$old/cgroup.events"
	run -0 --separate-stderr daemonize -v --cgroup="$CGP" -p d.pid -- sleep "$U"
	echo "$stderr"
	[[ "$stderr" == *"removing the empty cgroup $old of pid $dpid"* ]]
	[ ! -e "$old" ]
	[ "$(ls -d "$CGP"/*/ | wc -l)" -eq 1 ]
	run -0 daemonize -p d.pid --stop
	no_sub_cgroups
}

@test "daemonize --cgroup -u nobody: the daemon is in before it drops root, and cannot leave" {
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	chmod 755 "$BATS_TEST_TMPDIR"
	run -0 --separate-stderr daemonize -u nobody --cgroup="$CGP" -p "$PWD/d.pid" -- \
	    sh -c "setsid sleep $U & exec sleep $U"
	wait_for 10 count_with_arg "$U" 2
	local dpid=$(cat d.pid) own
	[ "$(stat -c %U /proc/$dpid)" = nobody ]
	own=$(sed -n 's/^0:://p' "/proc/$dpid/cgroup")
	[[ "$own" == "${CGP#"$CGM"}/daemonize."* ]]
	# As nobody it cannot move itself back out.
	if command -v setpriv >/dev/null; then
		run ! setpriv --reuid=nobody --regid="$(id -g nobody)" \
		    --clear-groups sh -c "echo $dpid > '$CGP/cgroup.procs'"
		[[ "$output" == *"Permission denied"* ]]
	fi
	run -0 --separate-stderr daemonize -p d.pid --stop
	none_with_arg "$U"
	no_sub_cgroups
}
