#!/usr/bin/env bats
# pqueue pop writes the messages at hand in batches (up to 64 KiB and
# 1,024 messages in one write) and commits the head once per batch: what
# kill -9, a count and a closed pipe can do to that.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/q
}

# kill_rounds QUEUE N ROUNDS: pop QUEUE into out.1, out.2, ... each
# killed with KILL at a random instant while it writes, then a last pop
# drains the rest into out.$((ROUNDS + 1)). Checks every message 1..N
# comes at least once, in order, and that two rounds overlap (repeat)
# by at most one batch: 1,024 messages and 64 KiB.
kill_rounds() {
	local q=$1 n=$2 rounds=$3 i pid
	for ((i = 1; i <= rounds; i++)); do
		[ "$(pqueue len "$q")" != 0 ] || break
		pqueue pop -f "$q" > "out.$i" 2>> err 3>&- &
		pid=$!
		track "$pid"
		sleep "0.00$((RANDOM % 9 + 1))"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rounds=$((i - 1))
	pqueue pop -f -n "$q" > "out.$i" 2>> err || true
	[ "$(pqueue len "$q")" = 0 ]
	[ ! -s err ] || { cat err; false; }
	# Each file: its whole lines (a kill may tear the last one), each
	# the message's number, then padding.
	for ((i = 1; i <= rounds + 1; i++)); do
		awk -v f="$i" 'BEGIN { RS = "\n" } { print f, $1 + 0, length($0) + 1 }' \
		    < <(sed -n '/^[0-9]/p' "out.$i" | { [ -n "$(tail -c 1 "out.$i")" ] && sed '$d' || cat; })
	done > runs
	awk -v n="$n" '
	{
		if ($1 != f) {		# a new round starts
			if (f != "" && $2 <= last) {
				rep = last - $2 + 1
				rb = 0
				for (j = $2; j <= last; j++)
					rb += len[j]
				if (rep > maxrep) maxrep = rep
				if (rb > maxrb) maxrb = rb
				if (rep > 1024 || rb > 65536) {
					print "round " $1 " repeats " rep \
					    " messages, " rb " bytes"
					bad = 1
				}
				repeats += rep
			}
			if (f != "" && $2 > last + 1) {
				print "gap before " $2
				bad = 1
			}
			f = $1
		} else if ($2 != last + 1) {
			print "out of order at " $2 " in round " f
			bad = 1
		}
		len[$2] = $3
		last = $2
		seen[$2] = 1
	}
	END {
		for (i = 1; i <= n; i++)
			if (!(i in seen)) {
				print "message " i " lost"
				bad = 1
			}
		printf "rounds %d, repeated %d in all, at most %d (%d bytes) at a kill\n", \
		    f, repeats, maxrep, maxrb
		exit bad
	}' runs > report || { cat report; false; }
	cat report >&3
}

@test "pqueue-batch: kill -9 of pop at random instants loses nothing and repeats at most one batch (small messages)" {
	seq -f '%.0f' 1 3000000 | pqueue push bq
	kill_rounds bq 3000000 40
}

@test "pqueue-batch: kill -9 of pop at random instants repeats at most 64 KiB (large messages)" {
	awk 'BEGIN { for (i = 1; i <= 60000; i++) printf "%d %0500d\n", i, 0 }' | pqueue push lq
	kill_rounds lq 60000 30
}

@test "pqueue-batch: pop -c N consumes exactly N, however many are at hand" {
	seq 1 5000 | pqueue push cq
	pqueue pop cq > one
	[ "$(cat one)" = 1 ]
	[ "$(pqueue len cq)" = 4999 ]
	pqueue pop -c 1234 cq > out
	[ "$(wc -l < out)" = 1234 ]
	[ "$(head -1 out)" = 2 ] && [ "$(tail -1 out)" = 1235 ]
	[ "$(pqueue len cq)" = 3765 ]
	# into a pipe too
	[ "$(pqueue pop -c 3000 cq | wc -l)" = 3000 ]
	[ "$(pqueue len cq)" = 765 ]
	[ "$(pqueue pop -c 765 cq | tail -1)" = 5000 ]
	[ "$(pqueue len cq)" = 0 ]
}

@test "pqueue-batch: pop -f | head -1 consumes no more than the pipe took" {
	# 1,000,000 messages of 8 bytes: 8 MB, far more than a pipe holds
	seq -f '%07.0f' 1 1000000 | pqueue push hq
	run -0 --separate-stderr bash -c 'pqueue pop -f hq | head -1'
	[ "$output" = 0000001 ]
	left=$(pqueue len hq)
	# gone: what head read and what sat in the pipe (64 KiB by
	# default), never a batch beyond what was written
	[ "$left" -lt 1000000 ]
	[ $(( (1000000 - left) * 8 )) -le $(( 65536 + 65536 + 8192 )) ]
	# and the rest is still there, in order, from where the pipe ended
	pqueue pop -c 1 hq > next
	[ "$(cat next)" = "$(printf '%07d' $(( 1000000 - left + 1 )))" ]
}
