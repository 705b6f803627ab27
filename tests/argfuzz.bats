#!/usr/bin/env bats
# The argument fuzzer (tests/argfuzz.bash) in a bounded form: a fixed
# seed, ARGFUZZ_CHECK_N vectors per program (default 50). make argfuzz
# runs 1,000 per program (ARGFUZZ_N). Each finding is printed with its
# vector; tests/argfuzz.known lists those reported and not fixed yet.

load helpers

local_setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (namespaces)"
	unshare --pid --fork --net --ipc --mount-proc true 2>/dev/null ||
		skip "cannot create namespaces"
}

fuzz() {
	run "$BATS_TEST_DIRNAME/argfuzz.bash" "$1" "${ARGFUZZ_CHECK_N:-50}" 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "argfuzz $1: "*" vectors, 0 findings" ]]
}

@test "argfuzz: daemonize with hostile arguments: no crash, hang, busy loop, leftover" { fuzz daemonize; }
@test "argfuzz: palarm with hostile arguments: no crash, hang, busy loop, leftover" { fuzz palarm; }
@test "argfuzz: prefork with hostile arguments: no crash, hang, busy loop, leftover" { fuzz prefork; }
@test "argfuzz: pqueue with hostile arguments: no crash, hang, busy loop, leftover" { fuzz pqueue; }
@test "argfuzz: preap with hostile arguments: no crash, hang, busy loop, leftover" { fuzz preap; }
@test "argfuzz: pkillall-title with hostile arguments: no crash, hang, busy loop, leftover" { fuzz pkillall-title; }

# Findings of a full run (make SANITIZE=1 argfuzz, seed 1), replayed:
# each failed before its fix. Without a sanitizer build they only check
# that the vector runs clean.
replay() {
	run "$BATS_TEST_DIRNAME/argfuzz.bash" "$1" 1 1 "$2"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} == "argfuzz $1: 1 vectors, 0 findings" ]]
}

@test "argfuzz: prefork -n 4096 -- sleep 30 (seed 1 #569) stops within the hang bound" { replay prefork 569; }
@test "argfuzz: pqueue pop -n on a missing queue frees its loop (seed 1 #220, #590)" {
	replay pqueue 220
	replay pqueue 590
}

