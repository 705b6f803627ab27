#!/usr/bin/env bats
# Crash and storm tests (issue 16 item 3): pqueue producers and runners
# killed by SIGKILL at random, every byte of a small queue flipped in
# turn, and a prefork master under a worker crash loop and mass respawns.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/q
	LOOPS=()
}

# The children of the loop shells (teardown kills the shells).
local_teardown() {
	local l
	for l in "${LOOPS[@]}"; do
		kill -KILL $(cat "/proc/$l/task/$l/children" 2>/dev/null) 2>/dev/null
	done
	return 0
}

# stop_loops PID...: TERM the children of these loop shells (which have
# seen the stop file) until the shells have exited; 1 after 20 s.
stop_loops() {
	local l any end=$(( $(date +%s) + 20 ))
	while :; do
		any=0
		for l in "$@"; do
			alive "$l" || continue
			any=1
			kill -TERM $(cat "/proc/$l/task/$l/children" 2>/dev/null) 2>/dev/null
		done
		[ "$any" = 1 ] || break
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.1
	done
	for l in "$@"; do wait "$l"; done
}

# lines_at_least FILE N: FILE has N lines or more.
lines_at_least() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }

# kill_pqueue_child LOOP_PID: SIGKILL the pqueue child of a loop shell
# (if it has one at the moment). Prints its pid.
kill_pqueue_child() {
	local ch
	for ch in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		[ "$(cat "/proc/$ch/comm" 2>/dev/null)" = pqueue ] || continue
		kill -KILL "$ch" 2>/dev/null && { echo "$ch"; return 0; }
	done
	return 1
}

@test "storm: streaming push and run -f killed by SIGKILL >= 50 times: 0 lost, at most one duplicate per runner kill" {
	local p c prod=() runs=() kills=0 rkills=0 end
	# Producers stream 200 lines per push, fed in four slow parts so a
	# kill lands mid-stream; a line is acknowledged when its push exits 0.
	for p in 1 2; do
		(
			set +e
			i=0
			while [ ! -e stop ]; do
				i=$((i + 1))
				seq -f "p$p-s$i-%g" 1 200 > "batch.$p"
				cat "batch.$p" >> "tried.$p"
				if { sed -n 1,50p "batch.$p"; sleep 0.01
				    sed -n 51,100p "batch.$p"; sleep 0.01
				    sed -n 101,150p "batch.$p"; sleep 0.01
				    sed -n 151,200p "batch.$p"; } |
				    pqueue push sq 2>> "err.p$p"; then
					cat "batch.$p" >> "acked.$p"
				fi
			done
			exit 0
		) 3>&- 2>/dev/null &
		track $!
		LOOPS+=($!)
		prod+=($!)
	done
	# Runners hand each message to tee, which appends it (one write).
	for c in 1 2; do
		(
			set +e
			while [ ! -e stop ]; do
				pqueue run -f sq -- tee -a "out.$c" >/dev/null 2>> "err.r$c"
			done
			exit 0
		) 3>&- 2>/dev/null &
		track $!
		LOOPS+=($!)
		runs+=($!)
	done
	end=$(( $(date +%s) + 30 ))
	while [ "$kills" -lt 60 ] && [ "$(date +%s)" -lt "$end" ]; do
		sleep "0.0$(( RANDOM % 5 + 1 ))"
		if (( RANDOM % 2 )); then
			kill_pqueue_child "${runs[RANDOM % 2]}" >/dev/null || continue
			rkills=$((rkills + 1))
		else
			kill_pqueue_child "${prod[RANDOM % 2]}" >/dev/null || continue
		fi
		kills=$((kills + 1))
	done
	touch stop
	for p in "${prod[@]}"; do wait "$p"; done
	# A waiting run -f stops on TERM once its COMMAND is done.
	stop_loops "${runs[@]}"
	# The rest, and the leases of killed runners (given back when a
	# consumer finds the queue empty).
	timeout 20 pqueue pop -f -n sq > out.rest
	echo "kills: $kills, of runners: $rkills" >&3
	[ "$kills" -ge 50 ]
	[ "$(pqueue len sq)" = 0 ]
	pqueue stat sq | awk 'NR == 2 { exit !($5 == 0 && $6 == 0) }'
	sort -u tried.* > tried
	sort acked.* > acked
	cat out.* | sort > got
	[ -s acked ]
	echo "acknowledged: $(wc -l < acked), delivered: $(wc -l < got)" >&3
	# 0 lost: every acknowledged line was delivered
	run comm -23 acked <(sort -u got)
	[ -z "$output" ] || { echo "lost: $(echo "$output" | wc -l)"; echo "$output" | head; false; }
	# never wrong data: every line delivered was pushed, whole
	run comm -23 <(sort -u got) tried
	[ -z "$output" ] || { echo "not pushed: $output" | head; false; }
	local dups=$(( $(wc -l < got) - $(sort -u got | wc -l) ))
	echo "duplicates: $dups" >&3
	[ "$dups" -le "$rkills" ]
	! grep -h damaged err.* /dev/null
}

# make_flip_queue: a small queue src/ (state and one segment) of two
# pushed batches with the first message popped; pushed and remaining
# list what was pushed and what an intact copy pops.
make_flip_queue() {
	seq -f 'message %g of the flip test' 1 6 > pushed
	head -n 3 pushed | pqueue push fl
	tail -n 3 pushed | pqueue push fl
	[ "$(pqueue pop fl)" = "message 1 of the flip test" ]
	tail -n +2 pushed > remaining
	cp -r "$PQUEUE_DIR/fl" src
	rm -rf src/lease
	[ "$(ls src)" = "$(printf '0000000000000000.seg\nstate')" ]
	SEGSIZE=$(stat -c %s src/0000000000000000.seg)
}

# qflip_pop ARGS...: qflip over src with pqueue pop -f -n as the reader,
# 10 s per run at most; prints the summary to the log.
qflip_pop() {
	run qflip -t 10000 "$@" src work pushed remaining -- \
	    pqueue pop -f -n "$BATS_TEST_TMPDIR/work"
	echo "$output" | tail -1 >&3
	echo "$output"
}

@test "storm: every byte of the segment and of state's positions flipped in turn: no crash, no hang, a message or exactly the intact output" {
	make_flip_queue
	# Not the low bytes of the two generation counters (64, 192): the
	# known bug below.
	qflip_pop -r "0000000000000000.seg:0:$((SEGSIZE - 1))" \
	    -r state:0:63 -r state:65:191 -r state:193:271
	[ "$status" -eq 0 ]
	# Each segment byte and each of the 270 state bytes was one run,
	# and damage was seen: warned (record skipped) and refused (exit 3).
	[[ ${lines[-1]} =~ ^runs\ $((SEGSIZE + 270)):\ intact\ [0-9]+,\ warned\ [1-9][0-9]*,\ refused\ [1-9][0-9]*,\ redelivered\ 0,\ violations\ 0$ ]]
}

@test "storm: every byte of state's unused rest flipped in turn changes nothing" {
	# Under ASan each run costs four times as much: every 8th byte
	# there (nothing reads these bytes; the plain run does them all).
	local step=1 n=3824
	case $PKIT_BUILD in */san) step=8 n=478 ;; esac
	make_flip_queue
	qflip_pop -s "$step" -r state:272:4095
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "runs $n: intact $n, warned 0, refused 0, redelivered 0, violations 0" ]
}

@test "storm: a flipped low byte of a generation counter in state is not silently wrong" {
	# The counters pick one of two slots by their parity; a flip that
	# names the older slot would lose the last batch (tail_gen, byte 64)
	# or repeat a popped message (head_gen, byte 192). pos_sound
	# (lib/store.c) refuses a counter that names a slot with a smaller
	# seq than the other: the queue is refused (exit 3), never wrong.
	make_flip_queue
	qflip_pop -r state:64:64 -r state:192:192
	[ "$status" -eq 0 ]
}

# The master's open fds, resident set (kB) and zombie children.
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
zombies() { ps -o stat= --ppid "$1" 2>/dev/null | grep -c '^Z'; }
# The fewest zombies over 5 looks 20 ms apart (a worker that just died
# is a zombie until the master's next turn).
zombies_min() {
	local i z min=999999
	for i in 1 2 3 4 5; do
		z=$(zombies "$1")
		[ "$z" -ge "$min" ] || min=$z
		sleep 0.02
	done
	echo "$min"
}

# fds_min PID FILE: the master's fds at the look (of 10, 20 ms apart)
# that found the fewest, as their sorted targets in FILE (pipe and
# socket inode numbers left out: a worker's pipes are new with each
# worker); prints how many. A worker being started holds a pipe for a
# moment.
fds_min() {
	local i n min=999999
	for i in 1 2 3 4 5 6 7 8 9 10; do
		ls -l "/proc/$1/fd" 2>/dev/null | awk 'NR > 1 { sub(/:\[[0-9]+\]$/, "", $11); print $11 }' |
		    sort > "$2.t"
		n=$(wc -l < "$2.t")
		[ "$n" -ge "$min" ] || { min=$n; mv "$2.t" "$2"; }
		sleep 0.02
	done
	rm -f "$2.t"
	echo "$min"
}

@test "storm: a prefork crash loop (-n 4 -b 50ms, workers exit at once) keeps the master's fds, RSS and zombies unchanged" {
	spawn_bg prefork -n 4 -b 50ms -t "$T-$BATS_TEST_NUMBER-c" -- \
	    pfworker -x 1 2> err
	local master=$! f0 r0 z0 f1 r1 z1 n0 n1
	wait_for 10 lines_at_least err 20
	f0=$(fds_min "$master" fds0); r0=$(rss_kb "$master")
	z0=$(zombies_min "$master")
	n0=$(grep -c restarting err)
	sleep 10
	alive "$master"
	f1=$(fds_min "$master" fds1); r1=$(rss_kb "$master")
	z1=$(zombies_min "$master")
	n1=$(grep -c restarting err)
	kill -TERM "$master"
	wait_for 10 gone "$master"
	echo "restarts in 10 s: $((n1 - n0)); fds $f0 -> $f1, RSS $r0 -> $r1 kB, zombies $z0 -> $z1" >&3
	# 4 slots at 50 ms: about 80 a second; a loaded machine does less.
	[ $((n1 - n0)) -ge 200 ]
	diff fds0 fds1
	[ "$f1" -eq "$f0" ]
	# ASan's allocator keeps freed blocks in quarantine before reuse,
	# so its RSS creeps without a leak (CI saw 260 KiB): a wider bound
	# there; LSan itself checks for leaks at exit.
	local slack=256
	[[ $PKIT_BUILD == */san ]] && slack=1024
	[ "$r1" -le $((r0 + slack)) ]
	[ "$z1" -le 1 ]
}

@test "storm: 10,000 worker respawns (-R -m 1 over 10,000 records) keep the master's fds, RSS and zombies unchanged" {
	case $PKIT_BUILD in */san) skip "ASan's shadow memory swamps RSS" ;; esac
	mkfifo in
	# Opened read-write first: opening a FIFO for reading alone blocks.
	exec 5<> in
	spawn_bg bash -c 'exec prefork -n 2 -t "$1" -R -m 1 -- pfworker -p \
	    < in > out 2> err 5>&-' _ "$T-$BATS_TEST_NUMBER-r"
	local master=$! f0 r0 z0 f1 r1 z1 max=0 k
	seq 200 >&5
	wait_for 30 lines_at_least out 200
	f0=$(fds_min "$master" fds0); r0=$(rss_kb "$master")
	z0=$(zombies_min "$master")
	seq 201 10000 >&5 &
	local feeder=$!
	track "$feeder"
	while ! lines_at_least out 10000; do
		alive "$master" || break
		sleep 0.1
	done
	wait "$feeder"
	f1=$(fds_min "$master" fds1); r1=$(rss_kb "$master")
	z1=$(zombies_min "$master")
	exec 5>&-
	wait_for 10 gone "$master"
	echo "fds $f0 -> $f1, RSS $r0 -> $r1 kB, zombies $z0 -> $z1" >&3
	# Every record answered, each by its own worker: 10,000 respawns.
	[ "$(wc -l < out)" -eq 10000 ]
	[ "$(awk '{ print $1 }' out | sort -u | wc -l)" -eq 10000 ]
	diff fds0 fds1
	[ "$f1" -eq "$f0" ]
	[ "$r1" -le $((r0 + 512)) ]
	[ "$z1" -le 1 ]
}
