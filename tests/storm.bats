#!/usr/bin/env bats
# Crash and storm tests (issue 16 item 3): pqueue producers and runners
# killed by SIGKILL at random, every byte of a small queue flipped in
# turn, and a prefork master under a worker crash loop and mass respawns.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/q
}

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
	for c in "${runs[@]}"; do
		kill -TERM $(cat "/proc/$c/task/$c/children" 2>/dev/null) 2>/dev/null
	done
	for c in "${runs[@]}"; do wait "$c"; done
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
