#!/usr/bin/env bats
# cgroup v2 containment (lib/cgroup): palarm -d --cgroup, preap --cgroup,
# pkillall-title --cgroup. Each test works under a parent cgroup of its
# own, $CGP, created in local_setup and removed in local_teardown (its
# processes KILLed first) even when the test fails. Tests skip, with the
# reason, where no writable cgroup v2 is mounted.

bats_require_minimum_version 1.5.0
load helpers

# The cgroup2 mount point, from mountinfo (never a fixed path).
cg_mount() {
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break;
	    if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo
}

# The caller's own cgroup v2 directory.
cg_self() {
	local rel
	rel=$(sed -n 's/^0:://p' /proc/self/cgroup)
	[ "$rel" = / ] && rel=
	echo "$(cg_mount)$rel"
}

local_setup() {
	N=$T-$BATS_TEST_NUMBER
	CGM=$(cg_mount)
	[ -n "$CGM" ] || skip "no cgroup v2 mounted"
	CGP=$(cg_self)/pkit-test-$$-$BATS_TEST_NUMBER
	mkdir "$CGP" 2>/dev/null || skip "cgroup v2 at $CGM is not writable"
}

# Remove dir and every cgroup below it, deepest first, after KILLing
# what is inside.
cg_purge() {
	local d=$1 sub p
	[ -d "$d" ] || return 0
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
	[ -n "$CGP" ] && cg_purge "$CGP"
	return 0
}

# No cgroup directory is left under $CGP.
no_sub_cgroups() {
	local d
	for d in "$CGP"/*/; do
		[ -e "$d/cgroup.procs" ] && { echo "left: $d"; return 1; }
	done
	return 0
}

no_title() { [ -z "$(title_pids "$1")" ]; }

@test "cgroup: palarm -d 1s --cgroup ends a setsid'd tree, 124 within ~2 s, nothing left" {
	local t0=$(ms_now) el
	run -124 palarm -d 1s --cgroup="$CGP" -- bash -c \
	    '(setsid bash -c "exec -a \"\$1-a\" sleep 300" x "$1" >/dev/null 2>&1 &)
	     exec -a "$1-b" sleep 300' sh "$N" 3>&-
	el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -lt 2500 ]
	no_title "$N-"
	no_sub_cgroups
}

@test "cgroup: without --cgroup the setsid'd process escapes palarm -d (the case --cgroup is for)" {
	run -124 palarm -d 500ms -- bash -c \
	    '(setsid bash -c "exec -a \"\$1-a\" sleep 300" x "$1" >/dev/null 2>&1 &)
	     exec -a "$1-b" sleep 300' sh "$N" 3>&-
	wait_for 5 eval '[ -n "$(title_pids "$N-a")" ]'
}

@test "cgroup: palarm --cgroup waits for the rest of the tree before the deadline" {
	local t0=$(ms_now) el
	run -3 palarm -d 5s --cgroup="$CGP" -- sh -c '(sleep 0.5; touch late) & exit 3' 3>&-
	el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ -e late ]
	[ "$el" -lt 4000 ]
	no_sub_cgroups
}

@test "cgroup: palarm --cgroup -k KILLs a TERM-ignoring rest of the tree after its leader died" {
	local t0=$(ms_now) el
	run -124 palarm -d 500ms -k 500ms --cgroup="$CGP" -- bash -c \
	    '(trap "" TERM; setsid bash -c "exec -a \"\$1-a\" sleep 300" x "$1" >/dev/null 2>&1 &)
	     exec sleep 300' sh "$N" 3>&-
	el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -ge 900 ]
	[ "$el" -lt 4000 ]
	no_title "$N-"
	no_sub_cgroups
}

@test "cgroup: palarm --cgroup on a missing or read-only cgroup: one line, 125, nothing started" {
	run -125 --separate-stderr palarm -d 1s --cgroup=/no/such/cgroup -- touch started
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == palarm:\ --cgroup:* ]]
	[ ! -e started ]
	# A plain directory is no cgroup.
	mkdir plain
	run -125 --separate-stderr palarm -d 1s --cgroup="$PWD/plain" -- touch started
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ ! -e started ]
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace for the read-only case"
	run -125 --separate-stderr unshare -m sh -c \
	    'mount -o remount,bind,ro "$1" && exec palarm -d 1s --cgroup -- touch started' \
	    sh "$CGM"
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"Read-only file system"* ]]
	[ ! -e started ]
}

@test "cgroup: preap -k --cgroup kills everything in the cgroup at exit, TERM-ignoring and setsid'd too" {
	local t0=$(ms_now) el
	run -5 preap -k 500ms --cgroup="$CGP" -- bash -c \
	    '(trap "" TERM; setsid bash -c "exec -a \"\$1-a\" sleep 300" x "$1" >/dev/null 2>&1 &)
	     (setsid bash -c "exec -a \"\$1-b\" sleep 300" x "$1" >/dev/null 2>&1 &)
	     sleep 0.2; exit 5' sh "$N" 3>&-
	el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ "$el" -ge 600 ]
	[ "$el" -lt 4000 ]
	no_title "$N-"
	no_sub_cgroups
}

@test "cgroup: preap -w --cgroup returns once the last process of the cgroup is gone" {
	local t0=$(ms_now) el
	run -0 preap -w --cgroup="$CGP" -- sh -c '(setsid sh -c "sleep 0.7; touch late" >/dev/null 2>&1 &)' 3>&-
	el=$(( $(ms_now) - t0 ))
	echo "elapsed ${el}ms"
	[ -e late ]
	[ "$el" -ge 600 ]
	no_sub_cgroups
}

@test "cgroup: preap --cgroup without -w/-k is a usage error; a missing cgroup is 125, nothing started" {
	run -2 --separate-stderr preap --cgroup -- touch started
	[ "$stderr" = "preap: --cgroup needs -w or -k" ]
	run -125 --separate-stderr preap -w --cgroup=/no/such/cgroup -- touch started
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == preap:\ --cgroup:* ]]
	[ ! -e started ]
}

@test "cgroup: pkillall-title -l --cgroup lists only that cgroup's matches" {
	spawn_bg titled "$N-in"; local a=$!
	spawn_bg titled "$N-out"; local b=$!
	wait_for 5 eval '[ -n "$(title_pids "$N-in")" ]'
	wait_for 5 eval '[ -n "$(title_pids "$N-out")" ]'
	echo "$a" > "$CGP/cgroup.procs"
	run -0 pkillall-title -l --cgroup "$CGP" "$N-*"
	[ "$output" = "$a $N-in" ]
	# The name /proc/PID/cgroup shows works too.
	run -0 pkillall-title -l --cgroup "${CGP#"$CGM"}" "$N-*"
	[ "$output" = "$a $N-in" ]
	run -1 pkillall-title -l --cgroup "$CGP" "$N-out"
	run -0 pkillall-title --cgroup "$CGP" "$N-*"
	wait_for 5 gone "$a"
	alive "$b"
	run -2 --separate-stderr pkillall-title -l --cgroup /no/such/cgroup "$N-*"
	[ "$stderr" = "pkillall-title: no cgroup v2 '/no/such/cgroup'" ]
}

@test "cgroup: lib/cgroup kill, its freeze-and-sweep fallback and a TERM sweep each empty a setsid'd tree" {
	local m p
	for m in kill frozen term; do
		run -0 --separate-stderr cgtest "$CGP" "$m" "$N-$m"
		echo "$m: $output / $stderr"
		[ "$output" = "$(printf 'in 3\nempty\nremoved')" ]
		[ "${#stderr_lines[@]}" -eq 3 ]
		for p in "${stderr_lines[@]}"; do gone "$p"; done
	done
	no_sub_cgroups
}
