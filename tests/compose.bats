#!/usr/bin/env bats
# The four behaviours of DESIGN §4 end to end, as assertions: the same
# scenarios examples/*.sh and `make demo` show.

bats_require_minimum_version 1.5.0

load helpers

local_setup() {
	RUN=$BATS_TEST_TMPDIR/run
	mkdir -p "$RUN"
	EX=$BATS_TEST_DIRNAME/../examples
	TT=$T-$BATS_TEST_NUMBER
}

local_teardown() {
	local f
	for f in "$RUN"/*.pid; do
		[ -f "$f" ] && daemonize -q -p "$f" --stop -K -t 2s
	done
	return 0
}

# count_title PATTERN: processes pkillall-title -l lists for PATTERN.
count_title() {
	pkillall-title -l "$@" | wc -l
}

# count_is N PATTERN...: exactly N processes match (re-counted on every
# call, so it can be polled with wait_for).
count_is() {
	local n=$1; shift
	[ "$(count_title "$@")" -eq "$n" ]
}

# files_at_least N DIR: DIR holds N entries or more.
files_at_least() {
	[ "$(ls "$2" | wc -l)" -ge "$1" ]
}

worker_pid() {
	pkillall-title -l -a "$1" | cut -d' ' -f1
}

@test "compose: daemonized pool of 5 titled workers; kill, reload, stop by title" {
	run daemonize -p "$RUN/tp.pid" -o "$RUN/tp.log" -- \
	    prefork -n 5 -t "$TT-tp" -- "$EX/tprocess-worker.sh"
	[ "$status" -eq 0 ]
	master=$(cat "$RUN/tp.pid")
	wait_for 10 count_is 6 "$TT-tp-*"
	[ "$(worker_pid "$TT-tp-master")" = "$master" ]
	# The daemon is in its own session and not a child of this shell.
	[ "$(awk '{ sub(/.*\) /, ""); print $2 }' /proc/$master/stat)" != $$ ]

	# A killed worker comes back in the same slot.
	old=$(worker_pid "$TT-tp-2")
	kill -9 "$old"
	wait_for 5 eval '[ -n "$(worker_pid "$TT-tp-2")" ] && [ "$(worker_pid "$TT-tp-2")" != "$old" ]'
	[ "$(count_title "$TT-tp-*")" -eq 6 ]

	# Reload replaces every worker.
	before=$(pkillall-title -l "$TT-tp-[0-9]*" | cut -d' ' -f1 | sort)
	daemonize -p "$RUN/tp.pid" --signal HUP
	wait_for 30 eval '[ -z "$(comm -12 <(echo "$before") <(pkillall-title -l "$TT-tp-[0-9]*" | cut -d" " -f1 | sort))" ]'
	wait_for 10 count_is 6 "$TT-tp-*"

	# Graceful stop by title: workers finish their task, nothing is left.
	run pkillall-title -w -t 20s "$TT-tp-master"
	[ "$status" -eq 0 ]
	wait_for 5 count_is 0 "$TT-tp-*"
	run daemonize -p "$RUN/tp.pid" --status
	[ "$status" -ne 0 ]
	[ "$(grep -c 'stopped after' "$RUN/tp.log")" -ge 5 ]
}

@test "compose: queue + pool: every job done once, the poison job dead-lettered" {
	export PQUEUE_DIR=$RUN/q
	{ seq 1 30 | sed 's/^/job /'; echo "poison 0"; } | pqueue push jobs
	[ "$(pqueue len jobs)" -eq 31 ]
	spawn_bg prefork -q -n 4 -t "$TT-qp" -- \
	    pqueue run -f --max-attempts 2 jobs -- "$EX/handle-job.sh"
	pool=$!
	wait_for 60 eval '[ "$(pqueue len jobs)" -eq 0 ] && [ "$(pqueue dead jobs | wc -l)" -eq 1 ] && [ "$(pqueue len results)" -ge 30 ]'
	[ "$(pqueue dead jobs)" = "poison 0" ]
	kill -TERM "$pool"
	# wait must run in this shell, where the pool is a child (not in run).
	st=0; wait "$pool" || st=$?
	[ "$st" -eq 0 ]
	[ "$(count_title "$TT-qp-*")" -eq 0 ]
	# Each job exactly once in the results, squared correctly.
	run pqueue pop -n -c 100 results
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 30 ]
	[ "$(printf '%s\n' "${lines[@]}" | cut -d= -f1 | sort -u | wc -l)" -eq 30 ]
	for l in "${lines[@]}"; do
		n=${l%%^*}; r=${l#*=}; r=${r%% *}
		[ "$r" -eq $((n * n)) ]
	done
}

@test "compose: watchdog restarts a killed daemon within a tick" {
	svc=$TT-svc
	daemonize -q -p "$RUN/svc.pid" -A "$svc" -- sleep 1000
	first=$(cat "$RUN/svc.pid")
	[ "$(worker_pid "$svc")" = "$first" ]
	palarm -c 10 300ms | while read -r tick; do
		[ "$tick" = 2 ] && kill -9 "$first"
		pkillall-title -q -0 -a "$svc" ||
		    daemonize -q -p "$RUN/svc.pid" -A "$svc" -- sleep 1000
	done 3>&-
	second=$(cat "$RUN/svc.pid")
	[ "$second" != "$first" ]
	[ "$(worker_pid "$svc")" = "$second" ]
	[ "$(count_title -a "$svc")" -eq 1 ]
	# The cron form is idempotent: a second start leaves the one daemon.
	run daemonize -p "$RUN/svc.pid" -A "$svc" -- sleep 1000
	[ "$status" -eq 0 ]
	[[ "$output" == *"already running (pid $second)"* ]]
	[ "$(count_title -a "$svc")" -eq 1 ]
}

@test "compose: three reloads under a client loop fail no connection" {
	# Port 0: the kernel picks a free one; each worker reports it in env/.
	mkdir "$RUN/env"
	run daemonize -p "$RUN/web.pid" -e "$RUN/web.err" -- \
	    prefork -n 4 -t "$TT-web" -l tcp:127.0.0.1:0 -- pfserve -e "$RUN/env"
	[ "$status" -eq 0 ]
	wait_for 10 count_is 5 "$TT-web-*" ||
	    { pkillall-title -l "$TT-web-*"; cat "$RUN/web.err"; false; }
	wait_for 10 files_at_least 4 "$RUN/env" ||
	    { pkillall-title -l "$TT-web-*"; ls -l "$RUN/env"; cat "$RUN"/env/* "$RUN/web.err"; false; }
	port=$(awk '{ print $3 }' "$RUN"/env/* | sort -u)
	[ "$(echo "$port" | wc -w)" -eq 1 ]
	spawn_bg pfclient -s "$RUN/stop" -t 60 "tcp:127.0.0.1:$port" > "$RUN/client.out"
	client=$!
	for i in 1 2 3; do
		sleep 1
		daemonize -p "$RUN/web.pid" --signal HUP
	done
	sleep 2
	touch "$RUN/stop"
	st=0; wait "$client" || st=$?
	cat "$RUN/client.out"
	[ "$st" -eq 0 ]
	[[ "$(cat "$RUN/client.out")" == *" fail 0 "* ]]
	# Connections were made and served by workers of several generations.
	pids=$(sed -n 's/.* pids \([0-9]*\).*/\1/p' "$RUN/client.out")
	[ "$pids" -gt 4 ]
}

@test "compose: a leaky parent under preap leaves no zombie and logs every child" {
	leaky='i=1; while [ $i -le 20 ]; do (sleep 0.3; exit $((i % 3))) & i=$((i + 1)); done; exec sleep 1'
	run preap -w -r "$RUN/reaped.log" -- sh -c "$leaky"
	[ "$status" -eq 0 ]
	# 20 orphans (codes 0, 1, 2) and the command itself.
	[ "$(wc -l < "$RUN/reaped.log")" -eq 21 ]
	[ "$(awk '$2 == 1' "$RUN/reaped.log" | wc -l)" -eq 7 ]
	[ "$(awk '$2 == 2' "$RUN/reaped.log" | wc -l)" -eq 7 ]
	[ "$(awk '$3 != 0' "$RUN/reaped.log" | wc -l)" -eq 0 ]
	[ "$(zombies_of $$)" -eq 0 ]
}

@test "compose: the examples run clean and leave nothing behind" {
	for ex in watchdog reaper; do
		run env TITLE="$TT-ex" SVC="$TT-exsvc" sh "$EX/$ex.sh"
		[ "$status" -eq 0 ] || { echo "$ex: $output"; false; }
	done
	[ "$(title_pids "$TT-" | wc -l)" -eq 0 ]
}
