#!/usr/bin/env bats
# prefork --cgroup: each worker's whole tree in its own cgroup v2, so a
# stop or a reload reaches descendants that called setsid() or
# double-forked (issue 14 item 2). Each test works under a parent cgroup
# of its own, $CGP, made in local_setup and purged in local_teardown
# (processes KILLed first) even when the test fails. Tests skip, with the
# reason, where no writable cgroup v2 is mounted.

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
	CGM=$(cg_mount)
	[ -n "$CGM" ] || skip "no cgroup v2 mounted"
	CGP=$(cg_self)/pkit-pftest-$$-$BATS_TEST_NUMBER
	mkdir "$CGP" 2>/dev/null || skip "cgroup v2 at $CGM is not writable"
}

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
	# prefork first: alive, it would refill the cgroups being purged.
	local k
	for k in "${PKIT_PIDS[@]}"; do kill -KILL "$k" 2>/dev/null; done
	for k in "${PKIT_PIDS[@]}"; do wait "$k" 2>/dev/null; done
	[ -n "$CGP" ] && cg_purge "$CGP"
	# Any process of the test's tree still alive (by its unique word).
	local p
	for p in $(tree_pids); do kill -KILL "$p" 2>/dev/null; done
	return 0
}

# Live processes of the test's trees: argv[0] begins with "$N-tree"
# (each sets it with exec -a; a zombie's is empty).
tree_pids() { title_pids "$N-tree"; }
ntree() { tree_pids | wc -l; }
ntree_is() { [ "$(ntree)" -eq "$1" ]; }
ntree_ge() { [ "$(ntree)" -ge "$1" ]; }

# No cgroup directory is left under $CGP.
no_sub_cgroups() {
	local d
	for d in "$CGP"/*/; do
		[ -e "$d/cgroup.procs" ] && { echo "left: $d"; return 1; }
	done
	return 0
}
# Worker cgroups (two levels down) that hold a process.
nworker_cgs() { cat "$CGP"/prefork.*/worker-*/cgroup.procs 2>/dev/null | wc -l; }

# A worker that leaves a setsid'd pair of sleepers behind (one of them
# double-forked), each with "$N-tree" in its command line, then execs a
# sleeper itself: sh -c 'setsid sh -c "sleep 300 & sleep 300" & exec ...'.
make_worker() {
	cat > worker <<SH
#!/bin/bash
setsid bash -c 'exec -a "$N-tree-a" sleep 300 & (exec -a "$N-tree-b" sleep 300 &) ; exec -a "$N-tree-c" sleep 300' &
exec -a "$N-tree-w" sleep 300
SH
	chmod +x worker
}

@test "prefork --cgroup: TERM leaves no process of any worker's tree, setsid'd ones included; the cgroups are gone" {
	local tt=$N m
	make_worker
	spawn_bg prefork -n 2 -t "$tt" --cgroup="$CGP" -- ./worker
	m=$!
	# Per worker: itself and three setsid'd sleepers.
	wait_for 20 ntree_ge 8
	[ "$(ntree)" -eq 8 ]
	[ -d "$CGP/prefork.$m" ]
	[ "$(nworker_cgs)" -eq 8 ]
	kill -TERM "$m"
	wait "$m"
	ntree_is 0
	no_sub_cgroups
}

@test "prefork --cgroup: a HUP's old workers go with their escaped descendants and cgroups" {
	local tt=$N m old new
	make_worker
	spawn_bg prefork -n 2 -t "$tt" --cgroup="$CGP" -- ./worker
	m=$!
	wait_for 20 ntree_ge 8
	old=$(tree_pids | sort | tr '\n' ' ')
	kill -HUP "$m"
	# The old trees go, new ones come: 8 again, none of the old pids.
	gone_old() {
		local p
		for p in $old; do alive "$p" && return 1; done
		[ "$(ntree)" -eq 8 ]
	}
	wait_for 20 gone_old
	# The old worker cgroups are removed once empty (a new worker may
	# reuse a name): two left, holding the 8 new processes.
	two_cgs() {
		[ "$(ls -d "$CGP/prefork.$m"/worker-* | wc -l)" -eq 2 ] &&
		    [ "$(nworker_cgs)" -eq 8 ]
	}
	wait_for 5 two_cgs
	[ "$(ls -d "$CGP/prefork.$m"/worker-* | wc -l)" -eq 2 ]
	kill -TERM "$m"
	wait "$m"
	ntree_is 0
	no_sub_cgroups
}

@test "prefork --cgroup: QUIT (KILL at once) also leaves nothing, cgroups gone" {
	local tt=$N m
	make_worker
	spawn_bg prefork -n 3 -t "$tt" --cgroup="$CGP" -- ./worker
	m=$!
	wait_for 20 ntree_ge 12
	kill -QUIT "$m"
	wait "$m"
	ntree_is 0
	no_sub_cgroups
}

@test "prefork --cgroup: a worker that exits takes its setsid'd descendant along; its successor gets a fresh cgroup" {
	local tt=$N m first
	cat > worker <<SH
#!/bin/bash
setsid bash -c 'exec -a "$N-tree-x" sleep 300' &
sleep 1
exit 3
SH
	chmod +x worker
	spawn_bg prefork -n 1 -b 10s -t "$tt" --cgroup="$CGP" -- ./worker 2> err
	m=$!
	pick_first() { first=$(tree_pids); [ -n "$first" ]; }
	wait_for 10 pick_first
	cg=$(sed -n 's/^0:://p' /proc/"$first"/cgroup)
	[[ "$cg" == */prefork.$m/worker-0.$m ]]
	wait_for 10 grep -q "exited with status 3" err
	# Gone with the worker, although in a session of its own.
	wait_for 2 gone "$first"
	kill -TERM "$m"
	wait "$m"
	ntree_is 0
	no_sub_cgroups
}

@test "prefork --cgroup on a missing cgroup or a plain directory: one line, 125, nothing started" {
	run -125 --separate-stderr prefork -n 2 --cgroup=/no/such/cgroup -- touch started
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == prefork:\ --cgroup:* ]]
	[ ! -e started ]
	mkdir plain
	run -125 --separate-stderr prefork -n 2 --cgroup="$PWD/plain" -- touch started
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ ! -e started ]
	unshare -m true 2>/dev/null || skip "cannot make a mount namespace for the read-only case"
	run -125 --separate-stderr unshare -m sh -c \
	    'mount -o remount,bind,ro "$1" && exec prefork -n 2 --cgroup -- touch started' \
	    sh "$CGM"
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"Read-only file system"* ]]
	[ ! -e started ]
}

@test "prefork --help and prefork(1) describe --cgroup" {
	run -0 prefork --help
	[[ "$output" == *"--cgroup[=PARENT]"* ]]
	grep -q -- '--cgroup' "$BATS_TEST_DIRNAME/../man/prefork.1.scd"
}
