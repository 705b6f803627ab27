#!/usr/bin/env bats
# Many hosts, simulated: examples/multi-host.sh builds network namespaces
# (a broker host with redis-server, worker hosts with a prefork pool of
# Redis runners), feeds 10,000 jobs and injects one fault. The test
# checks its count of lost jobs and that no namespace is left.

bats_require_minimum_version 1.5.0
load helpers
load helpers/redis

local_setup() {
	redis_need
	[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
	ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"
	MH_PREFIX=pkmh$$-$BATS_TEST_NUMBER
	export MH_PREFIX
}

# Only this test's own namespaces, even when the example died early.
local_teardown() {
	local ns pids
	for ns in $(ip netns list | awk '{ print $1 }'); do
		case $ns in "$MH_PREFIX"-*)
			pids=$(ip netns pids "$ns" 2>/dev/null)
			[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
			ip netns del "$ns"
		esac
	done
	return 0
}

our_netns() {
	ip netns list | awk '{ print $1 }' | grep "^$MH_PREFIX-" || true
}

mh_run() {
	run --separate-stderr timeout 900 "$BATS_TEST_DIRNAME/../examples/multi-host.sh"
	echo "$output" | tail -8 >&3
	echo "$stderr" | grep -v Killed | head -5
	[ -z "$(our_netns)" ]
	[ "$status" -eq 0 ]
	[[ $output == *"jobs 10000 done 10000 lost 0 duplicates "* ]]
}

@test "multihost: a whole worker host killed mid-run loses no job" {
	MH_FAULT=host MH_HOSTS=3 mh_run
	# The killed host had started and the others took over its leases.
	[[ $output == *"kill -9 every process of host w1"* ]]
}

@test "multihost: a redis-server restart with AOF loses no job" {
	MH_FAULT=redis MH_HOSTS=2 mh_run
	[[ $output == *"kill -9 redis-server"* ]]
}
