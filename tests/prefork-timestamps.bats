#!/usr/bin/env bats
# prefork --timestamps: notices about workers and reloads carry an RFC 3339
# UTC time (issue 13 item 7); without it, lines are as they always were.

load helpers
bats_require_minimum_version 1.5.0

has() { grep -q "$1" "$2"; }

@test "prefork --timestamps: a worker's exit notice carries the UTC time, to the millisecond" {
	local before after ts
	before=$(date -u +%s)
	spawn_bg prefork --timestamps -n 1 -t "$T-$BATS_TEST_NUMBER-w" \
	    -b 1s -- sh -c 'exit 3' 2> err
	wait_for 10 has 'exited' err
	after=$(date -u +%s)
	kill -TERM $!
	wait $! || true
	cat err
	grep -Eq '^prefork: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z worker 0 \(pid [0-9]+\) exited with status 3; restarting in 100ms$' err
	ts=$(head -1 err | cut -d' ' -f2)
	ts=$(date -u -d "${ts%.*}" +%s)
	[ "$ts" -ge "$before" ]
	[ "$ts" -le "$after" ]
}

@test "prefork --timestamps -v: reload notices are stamped too" {
	spawn_bg prefork --timestamps -v -n 1 -t "$T-$BATS_TEST_NUMBER-w" \
	    -- sleep 300 2> err
	local m=$!
	wait_for 10 has 'started, generation 0' err
	kill -HUP "$m"
	wait_for 10 has 'reload to generation 1 done' err
	cat err
	grep -Eq '^prefork: [0-9-]{10}T[0-9:]{8}\.[0-9]{3}Z reloading: generation 1$' err
	grep -Eq '^prefork: [0-9-]{10}T[0-9:]{8}\.[0-9]{3}Z reload to generation 1 done$' err
}

@test "prefork: without --timestamps notices are unstamped, also when stderr is a file" {
	spawn_bg prefork -n 1 -t "$T-$BATS_TEST_NUMBER-w" -b 1s -- sh -c 'exit 3' 2> err
	wait_for 10 has 'exited' err
	grep -Eq '^prefork: worker 0 \(pid [0-9]+\) exited with status 3; restarting in 100ms$' err
}
