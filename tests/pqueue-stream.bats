#!/usr/bin/env bats
# pqueue run --stream: at-least-once through one long-lived filter.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/q
}

# leased QUEUE: how many messages are leased now.
leased() {
	pqueue stat --json "$1" | sed 's/.*"leased": \([0-9]*\).*/\1/'
}

# children PID: the pids of PID's children.
children() {
	cat /proc/"$1"/task/*/children 2>/dev/null
}

@test "pqueue run --stream: one reply per message, stored in --to in order" {
	seq 1 500 | pqueue push jobs
	run -0 pqueue run --stream --to res jobs -- \
	    prefork -n 2 -t "$T-$BATS_TEST_NUMBER-w" -L -R -k -- sed -u 's/^/r/'
	[ "$(pqueue len jobs)" = 0 ]
	[ "$(leased jobs)" = 0 ]
	[ "$(pqueue len res)" = 500 ]
	diff <(pqueue pop -n -c 500 res) <(seq 1 500 | sed 's/^/r/')
}

@test "pqueue run --stream: replies go to stdout without --to, -0 records too" {
	seq 1 100 | pqueue push jobs
	run -0 --separate-stderr pqueue run --stream --window 7 jobs -- sed -u 's/^/r/'
	[ "$output" = "$(seq 1 100 | sed 's/^/r/')" ]
	[ "$(pqueue len jobs)" = 0 ]
	printf 'a b\0c\0' | pqueue push -0 z
	pqueue run --stream -0 z -- sed -u -z 's/^/r /' > out
	[ "$(tr '\0' '|' < out)" = "r a b|r c|" ]
	[ "$(pqueue len z)" = 0 ]
}

@test "pqueue run --stream: a record whose filter dies is retried, the filter restarted" {
	printf '%s\n' 1 2 3 4 5 | pqueue push jobs
	# The filter dies on 3 the first time it sees it.
	run -0 --separate-stderr pqueue run --stream --to res jobs -- sh -c '
	    while read -r l; do
		if [ "$l" = 3 ] && [ ! -e died ]; then : > died; kill -9 $$; fi
		echo "r$l $PPID"
	    done'
	echo "$stderr"
	[[ "$stderr" == *"message 3 attempt 1: the filter killed by signal KILL; will retry"* ]]
	[ -e died ]
	run -0 pqueue pop -n -c 10 res
	[ "$(printf '%s\n' "${lines[@]}" | cut -d' ' -f1 | sort)" = "$(printf 'r%s\n' 1 2 3 4 5)" ]
	[ "${#lines[@]}" = 5 ]
	[ "$(pqueue len jobs)" = 0 ]
	[ "$(leased jobs)" = 0 ]
}

@test "pqueue run --stream: a record whose prefork worker dies is answered" {
	seq 1 20 | pqueue push jobs
	run -0 --separate-stderr pqueue run --stream --to res jobs -- \
	    prefork -n 2 -t "$T-$BATS_TEST_NUMBER-w" -L -R -k --retry 5 -- sh -c '
	    while read -r l; do
		if [ "$l" = 7 ] && mkdir died 2>/dev/null; then kill -9 $$; fi
		echo "r$l"
	    done'
	[ -d died ]
	[[ "$stderr" == *"died before replying to '7'; sending it again"* ]]
	diff <(pqueue pop -n -c 30 res) <(seq 1 20 | sed 's/^/r/')
	[ "$(leased jobs)" = 0 ]
}

@test "pqueue run --stream: past --max-attempts a message is a dead letter that says why" {
	pqueue push jobs ok1 poison ok2
	run -0 --separate-stderr pqueue run --stream --max-attempts 2 --to res jobs -- sh -c '
	    while read -r l; do
		case $l in poison) echo "cannot take $l" >&2; exit 3 ;; esac
		echo "r$l"
	    done'
	echo "$stderr"
	[[ "$stderr" == *"message 2 attempt 2: the filter exited with status 3; moved to the dead-letter list"* ]]
	[ "$(pqueue pop -n -c 5 res | sort)" = "$(printf '%s\n' rok1 rok2)" ]
	run -0 pqueue dead -l jobs
	echo "$output"
	[[ "${lines[0]}" == "message 2: attempts 2, exit status 3, died "* ]]
	[ "${lines[-2]}" = "  stderr: cannot take poison" ]
	[ "${lines[-1]}" = "  message: poison" ]
	[ "$(pqueue len jobs)" = 0 ]
	[ "$(leased jobs)" = 0 ]
}

@test "pqueue run --stream: TERM ends the filter's input, waits for its replies, loses nothing" {
	seq 1 200 | pqueue push jobs
	spawn_bg pqueue run --stream -f --to res jobs -- \
	    prefork -n 2 -t "$T-$BATS_TEST_NUMBER-w" -L -R -k -- \
	    sh -c 'while read -r l; do sleep 0.02; echo "r$l"; done'
	local q=$!
	res_len() { [ "$(pqueue len res)" -ge 10 ]; }
	wait_for 20 res_len
	kill -TERM "$q"
	local t0 st=0; t0=$(ms_now)
	wait "$q" || st=$?
	[ "$st" = 0 ]
	# the window's replies took about a second; well within the grace
	[ $(( $(ms_now) - t0 )) -lt 8000 ]
	[ "$(leased jobs)" = 0 ]
	[ -z "$(title_pids "$T-$BATS_TEST_NUMBER-w")" ]
	# every message is answered or back in the queue, none twice
	{ pqueue pop -n -c 1000 res | sed 's/^r//'; pqueue pop -n -c 1000 jobs; } | sort -n > all
	diff all <(seq 1 200)
}

@test "pqueue run --stream: a dead holder's lease named with our own pid still comes back" {
	pqueue push jobs hello
	# A runner killed -9 while it held the message leaves its lease.
	pqueue run jobs -- sh -c 'kill -9 $PPID; sleep 1' || true
	[ "$(pqueue len jobs)" = 0 ]
	# Renamed to the pid the next pqueue will have (pid reuse), and
	# made before it started: not one of its own leases.
	run -0 sh -c 'd=$PQUEUE_DIR/jobs/lease; l=$(ls "$d")
	    mv "$d/$l" "$d/${l%%.*}.$$"; touch -d "-1 hour" "$d"/*
	    exec pqueue run --stream jobs -- sed -u "s/^/r/"'
	[ "$output" = rhello ]
	[ "$(leased jobs)" = 0 ]
}

@test "pqueue run --stream: bad input is one line, exit 2, nothing consumed" {
	seq 1 5 | pqueue push jobs
	local bad
	for bad in "--bogus" "--grace soon" "--retry-delay x" "--window 0" \
	    "--window -3" "--window 99999999" "--to .hidden" "--to a/b" \
	    "--to sysv:1" "-c 3"; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr pqueue run --stream $bad jobs -- cat
		echo "$bad: $stderr"
		[ "${#stderr_lines[@]}" = 1 ]
		[[ "$stderr" == "pqueue: "* ]]
		[ -z "$output" ]
	done
	run -2 --separate-stderr pqueue run --stream jobs
	[ "$stderr" = "pqueue: run: COMMAND missing" ]
	run -2 --separate-stderr pqueue run --stream jobs --
	[ "$stderr" = "pqueue: run: COMMAND missing" ]
	run -2 --separate-stderr pqueue run -f jobs --stream --to res -- cat
	[ "$stderr" = "pqueue: run: option '--stream' after QUEUE (options go before it)" ]
	run -2 --separate-stderr pqueue run --window 4 jobs -- cat
	[ "$stderr" = "pqueue: run: --to, --window and --grace need --stream" ]
	[ "$(pqueue len jobs)" = 5 ]
	[ "$(leased jobs)" = 0 ]
	[ ! -e "$PQUEUE_DIR/.hidden" ] && [ ! -e "$PQUEUE_DIR/a" ]
	run -127 --separate-stderr pqueue run --stream jobs -- ./no-such-filter
	[[ "$stderr" == "pqueue: cannot run './no-such-filter':"* ]]
	[ "$(pqueue len jobs)" = 5 ]
}

@test "pqueue run --stream: kill -9 storm on pqueue, prefork and workers loses no job" {
	local n=10000 kills=0 busy=0 q victim ws pick p waiting
	seq 1 $n | pqueue push jobs
	start() {
		spawn_bg pqueue run --stream -f --max-attempts 1000 --to res jobs -- \
		    prefork -n 4 -t "$T-$BATS_TEST_NUMBER-w" -L -R -k --retry 1000 \
		    -- pfworker -d 4000
		q=$!
	}
	start
	RANDOM=$$
	# Kill while jobs wait, at least 30 times; then let the last one
	# finish the queue.
	while [ $kills -lt 30 ] || [ "$(pqueue len jobs)" != 0 ] ||
	    [ "$(leased jobs)" != 0 ]; do
		sleep "$(printf '0.%03d' $(( RANDOM % 100 + 30 )))"
		[ $kills -lt 200 ] || continue
		[ $kills -lt 30 ] || [ $(( RANDOM % 2 )) = 0 ] || continue
		victim=
		pick=$(( RANDOM % 3 ))
		if [ $pick = 0 ]; then
			victim=$q
		else
			for p in $(children "$q"); do
				if [ $pick = 1 ]; then victim=$p; break; fi
				ws=($(children "$p"))
				[ ${#ws[@]} -gt 0 ] && victim=${ws[RANDOM % ${#ws[@]}]}
			done
		fi
		[ -n "$victim" ] || continue
		waiting=$(pqueue len jobs)
		kill -KILL "$victim" 2>/dev/null || continue
		kills=$((kills + 1))
		[ "$waiting" = 0 ] || busy=$((busy + 1))
		if [ "$victim" = "$q" ]; then
			wait "$q" 2>/dev/null || true
			start
		fi
	done
	kill -TERM "$q"
	wait "$q" || true
	pqueue pop -n -c $((3 * n)) res > res.txt
	local total dup bad
	total=$(wc -l < res.txt)
	dup=$(( total - $(sort -u res.txt | wc -l) ))
	bad=$(grep -cvx '[1-9][0-9]\{0,4\}' res.txt || true)
	echo "# storm: $kills kills ($busy while jobs waited), $total results, $dup duplicates, $bad corrupt" >&3
	[ "$bad" = 0 ]
	[ $kills -ge 30 ]
	diff <(sort -un res.txt) <(seq 1 $n)
	[ "$(pqueue len jobs)" = 0 ]
	[ "$(pqueue stat --json jobs | sed 's/.*"dead": \([0-9]*\).*/\1/')" = 0 ]
}
