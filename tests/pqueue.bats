#!/usr/bin/env bats
# pqueue: the durable queue, its commands, faults, and System V queues.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/q
	SYSV_KEYS=()
}

local_teardown() {
	local k
	for k in "${SYSV_KEYS[@]}"; do
		ipcrm -Q "$k" 2>/dev/null
	done
	return 0
}

# sysv_key N: set K to a System V key unique to this run, test and N,
# removed in teardown (not in $(...): the list must reach teardown).
sysv_key() {
	K=$(printf '0x%x' $(( 0x5e000000 + ($$ % 65536) * 256 + BATS_TEST_NUMBER * 4 + $1 )))
	ipcrm -Q "$K" 2>/dev/null || true
	SYSV_KEYS+=("$K")
}

# usec_now: microseconds, from bash's own clock (no fork).
usec_now() {
	local t=${EPOCHREALTIME/[.,]/}
	echo "$t"
}

has_inotify() {
	ls -l "/proc/$1/fd" 2>/dev/null | grep -q inotify
}

@test "pqueue: FIFO for one producer" {
	seq 1 2000 | pqueue push jobs
	pqueue push jobs 2001 2002
	run -0 pqueue pop -c 2002 jobs
	[ "$output" = "$(seq 1 2002)" ]
	run -1 pqueue pop -n jobs
}

@test "pqueue: -0 records with embedded newlines survive intact" {
	printf 'one\nline two\0\0three\n\n\0' | pqueue push -0 q0
	[ "$(pqueue len q0)" = 3 ]
	pqueue pop -0 -c 3 q0 > out
	cmp out <(printf 'one\nline two\0\0three\n\n\0')
}

@test "pqueue: an empty line is a message" {
	printf 'a\n\n\nb\n' | pqueue push e
	[ "$(pqueue len e)" = 4 ]
	run -0 pqueue pop -c 4 e
	[ "$output" = "$(printf 'a\n\n\nb')" ]
	pqueue push e ""
	run -0 pqueue pop -n e
	[ -z "$output" ]
}

@test "pqueue: a message over --max-size is refused, naming both sizes; the rest is pushed" {
	run -1 --separate-stderr pqueue push --max-size 10 big < <(printf 'short\n0123456789A\nafter\n')
	[[ $stderr == "pqueue: "*"11 bytes"*"10 bytes"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ]
	run -0 pqueue pop -c 2 big
	[ "$output" = "$(printf 'short\nafter')" ]
	run -1 --separate-stderr pqueue push --max-size 3 big ok toolong
	[[ $stderr == *"7 bytes"*"3 bytes"* ]]
	[ "$(pqueue len big)" = 1 ]
}

@test "pqueue: pop -n on an empty queue exits 1 at once" {
	pqueue push e x
	pqueue pop e >/dev/null
	local t0=$(usec_now)
	run -1 pqueue pop -n e
	[ -z "$output" ]
	[ $(( $(usec_now) - t0 )) -lt 300000 ]
	run -1 pqueue pop -n never-made
}

@test "pqueue: pop -w 500ms exits 1 after about half a second" {
	local t0=$(usec_now) dt
	run -1 pqueue pop -w 500ms w
	dt=$(( $(usec_now) - t0 ))
	[ "$dt" -ge 480000 ]
	[ "$dt" -lt 1500000 ]
}

@test "pqueue: a blocked pop returns within 100 ms of a push from another process" {
	local t0 t1 pid line
	mkfifo f
	exec 4<>f
	spawn_bg pqueue pop wake > f
	pid=$!
	wait_for 5 has_inotify "$pid"
	sleep 0.1
	pqueue push wake hello
	t0=$(usec_now)
	read -r -t 2 -u 4 line
	t1=$(usec_now)
	exec 4<&-
	[ "$line" = hello ]
	echo "pop's output came $((t1 - t0))us after push returned" >&3
	[ $((t1 - t0)) -lt 100000 ]
}

@test "pqueue: 4 producers x 25000 and 4 pop -f consumers: none lost, none duplicated" {
	local p c pids=()
	for c in 1 2 3 4; do
		spawn_bg pqueue pop -f -w 3s mq > "out.$c" 2> "err.$c"
		pids+=("$!")
	done
	for p in 1 2 3 4; do
		seq -f "p$p-%g" 1 25000 > "in.$p"
		# (a background job's stdin is /dev/null unless redirected there)
		pqueue push mq < "in.$p" 3>&- &
		track $!
		pids+=("$!")
	done
	for p in "${pids[@]:4}"; do wait "$p"; done
	for p in "${pids[@]:0:4}"; do wait "$p" || true; done
	sort in.* > want
	sort out.* > got
	wc -l out.* >&3; cat err.* >&3
	[ "$(wc -l < got)" = 100000 ]
	cmp want got
	[ "$(pqueue len mq)" = 0 ]
	# each producer's messages reach each consumer in push order
	for c in 1 2 3 4; do
		for p in 1 2 3 4; do
			grep "^p$p-" "out.$c" | sort -t- -k2 -n -c
		done
	done
}

# Kill the pqueue child of loop shell $1 (if it has one). Prints its pid.
kill_child_of() {
	local ch
	for ch in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		[ "$(cat "/proc/$ch/comm" 2>/dev/null)" = pqueue ] || continue
		kill -KILL "$ch" 2>/dev/null && { echo "$ch"; return 0; }
	done
	return 1
}

@test "pqueue: kill -9 of producers and consumers at random loses and corrupts nothing" {
	local p c i loops=() prod=() cons=() kills=0 ckills=0 end
	# Producers alternate a push of 5 arguments and a streamed push
	# of 300 lines; a message is acknowledged when its push exits 0.
	for p in 1 2 3; do
		(
			set +e
			i=0
			while [ ! -e stop ]; do
				i=$((i + 1))
				set -- "p$p-a$i-1" "p$p-a$i-2" "p$p-a$i-3" "p$p-a$i-4" "p$p-a$i-5"
				printf '%s\n' "$@" >> "tried.$p"
				if pqueue push fq "$@" 2>> "err.p$p"; then
					printf '%s\n' "$@" >> "acked.$p"
				fi
				seq -f "p$p-s$i-%g" 1 300 > "batch.$p"
				cat "batch.$p" >> "tried.$p"
				# fed in two parts, so kills find it mid-stream
				if { head -n 150 "batch.$p"; sleep 0.02
				    tail -n 150 "batch.$p"; } |
				    pqueue push fq 2>> "err.p$p"; then
					cat "batch.$p" >> "acked.$p"
				fi
			done
			exit 0
		) 3>&- 2>/dev/null &
		track $!
		prod+=($!)
	done
	for c in 1 2 3; do
		(
			set +e
			while [ ! -e stop2 ]; do
				pqueue pop -f -w 300ms fq >> "out.$c" 2>> "err.c$c"
			done
			exit 0
		) 3>&- 2>/dev/null &
		track $!
		cons+=($!)
	done
	end=$(( $(date +%s) + 40 ))
	while [ "$kills" -lt 60 ] && [ "$(date +%s)" -lt "$end" ]; do
		sleep "0.0$(( RANDOM % 4 + 1 ))"
		if (( RANDOM % 2 )); then
			kill_child_of "${cons[RANDOM % 3]}" >/dev/null || continue
			ckills=$((ckills + 1))
		else
			kill_child_of "${prod[RANDOM % 3]}" >/dev/null || continue
		fi
		kills=$((kills + 1))
	done
	echo "kills: $kills, of consumers: $ckills" >&3
	[ "$kills" -ge 50 ]
	touch stop
	for p in "${prod[@]}"; do wait "$p"; done
	touch stop2
	for c in "${cons[@]}"; do wait "$c"; done
	pqueue pop -f -n fq >> out.rest || true
	[ "$(pqueue len fq)" = 0 ]
	sort -u tried.* > tried
	sort acked.* > acked
	cat out.* | sort > got
	[ -s acked ]
	# every acknowledged message was consumed
	[ -z "$(comm -23 acked <(sort -u got))" ]
	# nothing corrupt: every line consumed was pushed by someone
	[ -z "$(comm -23 <(sort -u got) tried)" ]
	# duplicates only from killed consumers, at most one per kill
	local dups=$(( $(wc -l < got) - $(sort -u got | wc -l) ))
	echo "duplicates: $dups" >&3
	[ "$dups" -le "$ckills" ]
	! grep -h damaged err.* /dev/null
}

@test "pqueue: run deletes the message when COMMAND exits 0" {
	pqueue push rq "job one"
	run -0 pqueue run rq -- sh -c 'cat > got; echo "$PQUEUE_ID $PQUEUE_ATTEMPT $PQUEUE_QUEUE" > env'
	[ "$(cat got)" = "job one" ]
	[ "$(cat env)" = "1 1 rq" ]
	[ "$(pqueue len rq)" = 0 ]
	run -0 pqueue stat rq
	[ "${lines[1]}" = "rq 0 0 - 0 0" ]
}

@test "pqueue: run retries with PQUEUE_ATTEMPT rising, then dead-letters after --max-attempts" {
	pqueue push rq bad
	run -0 pqueue run -c 3 --max-attempts 3 rq -- sh -c 'echo "$PQUEUE_ID $PQUEUE_ATTEMPT" >> log; exit 1'
	[ "$(cat log)" = "$(printf '1 1\n1 2\n1 3')" ]
	[ "$(pqueue len rq)" = 0 ]
	run -0 pqueue dead rq
	[ "$output" = bad ]
	run -0 pqueue stat rq
	[ "${lines[1]}" = "rq 0 0 - 0 1" ]
}

@test "pqueue: run -c 1 exits with COMMAND's failure status" {
	pqueue push rq x
	run -7 pqueue run rq -- sh -c 'exit 7'
	run -127 pqueue run rq -- /nonexistent/cmd
	[ "$(pqueue len rq)" = 1 ]
}

@test "pqueue: dead --requeue brings dead letters back" {
	pqueue push rq a b
	pqueue run -c 2 --max-attempts 1 rq -- false || true
	[ "$(pqueue len rq)" = 0 ]
	[ "$(pqueue dead rq | wc -l)" = 2 ]
	pqueue dead --requeue rq
	[ "$(pqueue len rq)" = 2 ]
	[ -z "$(pqueue dead rq)" ]
	run -0 pqueue run -c 2 rq -- sh -c 'cat >> got; echo "$PQUEUE_ATTEMPT" >> att'
	[ "$(cat got)" = "$(printf 'a\nb')" ]
	[ "$(cat att)" = "$(printf '1\n1')" ]
}

@test "pqueue: a runner killed with -9 mid-command gives its message back to another runner" {
	local a b
	pqueue push rq precious
	spawn_bg pqueue run rq -- sh -c 'echo $$ > started; exec sleep 60'
	a=$!
	wait_for 5 test -s started
	spawn_bg pqueue run rq -- sh -c 'cat > done; echo "$PQUEUE_ATTEMPT" > att'
	b=$!
	wait_for 5 has_inotify "$b"
	[ "$(pqueue stat rq | awk 'NR == 2 { print $5 }')" = 1 ]
	kill -KILL "$a"
	wait_for 5 test -s att
	wait "$b"
	[ "$(cat done)" = precious ]
	[ "$(cat att)" = 2 ]
	# the orphaned command went with its runner
	wait_for 5 gone "$(cat started)"
	[ "$(pqueue stat rq | awk 'NR == 2 { print $2, $5 }')" = "0 0" ]
}

@test "pqueue: TERM stops run -f once its COMMAND is done, and pop -f at once" {
	local pid
	pqueue push gq job
	spawn_bg pqueue run -f gq -- sh -c 'touch started; sleep 1; cat > got'
	pid=$!
	wait_for 5 test -e started
	kill -TERM "$pid"
	wait "$pid"
	[ "$(cat got)" = job ]
	[ "$(pqueue stat gq | awk 'NR == 2 { print $2, $5 }')" = "0 0" ]
	spawn_bg pqueue pop -f gq
	pid=$!
	wait_for 5 has_inotify "$pid"
	kill -TERM "$pid"
	wait "$pid"
}

@test "pqueue: queue files are 0600 and directories 0700" {
	umask 022
	pqueue push perm x
	pqueue run -c 1 perm -- true
	[ "$(stat -c %a q)" = 700 ]
	[ "$(stat -c %a q/perm)" = 700 ]
	[ "$(stat -c %a q/perm/lease)" = 700 ]
	for f in q/perm/state q/perm/*.seg; do
		[ "$(stat -c %a "$f")" = 600 ]
	done
	pqueue push perm y
	run -1 pqueue run --max-attempts 1 perm -- false
	[ "$(stat -c %a q/perm/dead)" = 600 ]
}

@test "pqueue: bad queue names are usage errors" {
	run -2 --separate-stderr pqueue push ../x m
	[[ $stderr == "pqueue: "*"../x"* ]]
	run -2 pqueue push a/b m
	run -2 pqueue push .hidden m
	run -2 pqueue push "$(printf 'a\tb')" m
	run -2 pqueue pop "$(printf 'a\033b')"
	run -2 pqueue len ""
	[ ! -e ../x ]
	[ ! -e q ] || [ -z "$(ls q)" ]
}

@test "pqueue: a path QUEUE is used as given" {
	pqueue push ./here x
	[ -d here ]
	pqueue push "$PWD/here" y
	run -0 pqueue pop -c 2 ./here
	[ "$output" = "$(printf 'x\ny')" ]
}

@test "pqueue: usage errors exit 2; -h and -V exit 0" {
	run -0 pqueue -h
	[[ $output == *"push"*"pop"*"run"* ]]
	run -0 pqueue -V
	[[ $output == "pqueue (pkit) "* ]]
	run -2 pqueue
	run -2 pqueue frob q
	run -2 pqueue pop -n -w 1s q
	run -2 pqueue pop -w soon q
	run -2 pqueue pop -c 0 q
	run -2 pqueue push --max-size lots q x
	run -2 pqueue run q
	run -2 --separate-stderr pqueue pop --bogus q
	[[ $stderr == pqueue:* ]]
}

@test "pqueue: peek, len, stat, ls and purge" {
	pqueue push a1 x yy
	pqueue push b2 z
	run -0 pqueue peek a1
	[ "$output" = x ]
	[ "$(pqueue len a1)" = 2 ]
	[ "$(pqueue len nothing)" = 0 ]
	run -1 pqueue peek nothing
	run -0 pqueue ls
	[ "$output" = "$(printf 'a1\nb2')" ]
	run -0 pqueue stat
	[ "${lines[0]}" = "name length bytes oldest-age inflight dead" ]
	[[ ${lines[1]} =~ ^a1\ 2\ 3\ [0-9]+\.[0-9]{3}\ 0\ 0$ ]]
	[[ ${lines[2]} == "b2 1 1 "* ]]
	pqueue purge a1
	[ "$(pqueue len a1)" = 0 ]
	run -1 pqueue pop -n a1
	pqueue push a1 after
	[ "$(pqueue pop a1)" = after ]
}

@test "pqueue: a consumer whose reader stalls does not hold up the others" {
	seq -f "%0100g" 1 3000 | pqueue push sq
	mkfifo f
	exec 5<>f	# a reader that never reads
	spawn_bg pqueue pop -f sq > f
	wait_for 5 eval '[ "$(pqueue len sq)" -lt 3000 ]'
	sleep 0.3
	run -0 timeout -k 2 5 pqueue pop -c 10 sq
	[ "${#lines[@]}" = 10 ]
	exec 5<&-
}

@test "pqueue: EPIPE on stdout leaves the message in the queue" {
	pqueue push pq keep
	{ sleep 0.3; pqueue pop pq; echo $? > st; } | true
	[ "$(cat st)" = 0 ]
	[ "$(pqueue len pq)" = 1 ]
	[ "$(pqueue pop pq)" = keep ]
}

@test "pqueue: a torn write at the tail is discarded and overwritten" {
	pqueue push tq one two
	# what a writer killed in mid-write leaves beyond the committed tail
	head -c 100 /dev/urandom >> q/tq/0000000000000000.seg
	run -0 --separate-stderr pqueue pop -c 2 tq
	[ "$output" = "$(printf 'one\ntwo')" ]
	run -1 pqueue pop -n tq
	pqueue push tq three
	run -0 --separate-stderr pqueue pop tq
	[ "$output" = three ]
	[ -z "$stderr" ]
}

@test "pqueue: a damaged record is reported and skipped, never delivered" {
	pqueue push dq one two three four
	# flip a byte inside the second record's data (after power loss)
	printf 'X' | dd of=q/dq/0000000000000000.seg bs=1 seek=$((32 + 3 + 32 + 1)) conv=notrunc 2>/dev/null
	run -0 --separate-stderr pqueue pop -c 1 dq
	[ "$output" = one ]
	# its frame is sound: only it is skipped, the later records of the
	# segment are delivered, and the damage is reported once
	run -0 --separate-stderr pqueue pop -f -n dq
	[ "$output" = "$(printf 'three\nfour')" ]
	[ "$(grep -c 'damaged record.*checksum mismatch' <<< "$stderr")" = 1 ]
	[ "$(pqueue len dq)" = 0 ]
	run -1 --separate-stderr pqueue pop -n dq
	[ -z "$stderr" ]
}

@test "pqueue: damage in a record's length field still skips the rest of its segment" {
	pqueue push lq one two three
	# the second record's length becomes huge: its frame is unsound
	printf '\377' | dd of=q/lq/0000000000000000.seg bs=1 seek=$((32 + 3 + 3)) conv=notrunc 2>/dev/null
	run -0 --separate-stderr pqueue pop -f -n lq
	[ "$output" = one ]
	[[ $stderr == *"damaged record"*"bad length"*"rest of that segment"* ]]
	[ "$(pqueue len lq)" = 0 ]
}

@test "pqueue: the log rolls over to new segments and consumed ones are deleted" {
	# 800,000 records of 32 + 64 bytes: past one 64 MiB segment
	awk 'BEGIN { for (i = 0; i < 800000; i++) printf "%064d\n", i }' > msgs
	pqueue push big < msgs
	[ "$(ls q/big/*.seg | wc -l)" = 2 ]
	[ "$(pqueue len big)" = 800000 ]
	pqueue pop -c 800000 big | cmp - msgs
	[ "$(ls q/big/*.seg | wc -l)" = 1 ]
	[ "$(pqueue len big)" = 0 ]
	pqueue push big last
	[ "$(pqueue pop big)" = last ]
}

@test "pqueue: a queue left half-made by a killed creator is finished by the next" {
	mkdir -p q/h1/lease q/h2/lease q/other/lease
	: > q/h1/state
	truncate -s 4096 q/h2/state
	pqueue push h1 one
	pqueue push h2 two
	[ "$(pqueue pop h1)" = one ]
	[ "$(pqueue pop h2)" = two ]
	echo junk > q/other/state
	run -1 --separate-stderr pqueue push other x
	[[ $stderr == *"not a pqueue queue"* ]]
	[ "$(cat q/other/state)" = junk ]
}

@test "pqueue: --sync push works and the queue reads back" {
	seq 1 50 | pqueue push --sync sq
	pqueue push --sync sq 51
	run -0 pqueue pop -c 51 sq
	[ "$output" = "$(seq 1 51)" ]
}

@test "pqueue: sysv: pushed messages show in ipcs -q and pop back in order" {
	local k
	sysv_key 0; k=$K
	pqueue push "sysv:$k" first second third
	ipcs -q | awk -v k="$k" '$1 == k { print $6 }' > n
	[ "$(cat n)" = 3 ]
	[ "$(pqueue len "sysv:$k")" = 3 ]
	run -0 pqueue stat "sysv:$k"
	[ "${lines[1]}" = "sysv:$k 3 16 - 0 0" ]
	run -0 pqueue pop -c 3 "sysv:$k"
	[ "$output" = "$(printf 'first\nsecond\nthird')" ]
	run -1 pqueue pop -n "sysv:$k"
	local t0=$(usec_now)
	run -1 pqueue pop -w 300ms "sysv:$k"
	[ $(( $(usec_now) - t0 )) -ge 280000 ]
}

@test "pqueue: sysv: TYPE filtering" {
	local k
	sysv_key 0; k=$K
	pqueue push "sysv:$k:2" two-a
	pqueue push "sysv:$k:1" one
	pqueue push "sysv:$k:2" two-b
	[ "$(pqueue pop "sysv:$k:1")" = one ]
	run -1 pqueue pop -n "sysv:$k:3"
	[ "$(pqueue pop -c 2 "sysv:$k:2")" = "$(printf 'two-a\ntwo-b')" ]
	run -2 pqueue push "sysv:$k:0" x
	run -2 pqueue push "sysv:nokey" x
}

@test "pqueue: sysv: PATH@PROJ keys go through ftok" {
	local k
	touch keyfile
	k=$(printf '0x%08x' $(( ( $(stat -c %i keyfile) & 0xffff ) | ( ( $(stat -c %d keyfile) & 0xff ) << 16 ) | ( 0x61 << 24 ) )))
	SYSV_KEYS+=("$k")
	pqueue push "sysv:$PWD/keyfile@a" hi
	ipcs -q | grep -q "^$k "
	[ "$(pqueue pop "sysv:$PWD/keyfile@a")" = hi ]
}

@test "pqueue: sysv: a message above msgmax is a clear error" {
	local k max
	sysv_key 0; k=$K
	max=$(cat /proc/sys/kernel/msgmax)
	run -1 --separate-stderr pqueue push "sysv:$k" "$(head -c $((max + 1)) /dev/zero | tr '\0' x)" small
	[[ $stderr == "pqueue: "*"$((max + 1)) bytes"*"msgmax"*"$max bytes"* ]]
	[ "$(pqueue pop -n "sysv:$k")" = small ]
	run -2 pqueue run "sysv:$k" -- true
}

@test "pqueue: sysv: a PHP msg_send(serialize: false) message pops out" {
	command -v php >/dev/null || skip "php is not installed"
	php -r 'exit(function_exists("msg_send") ? 0 : 1);' || skip "php has no sysvmsg"
	local k
	sysv_key 0; k=$K
	php -r '$q = msg_get_queue('"$((k))"', 0600);
		exit(msg_send($q, 1, "hello from php", false) ? 0 : 1);'
	[ "$(pqueue pop -w 5s "sysv:$k")" = "hello from php" ]
	pqueue push "sysv:$k" "hello from pqueue"
	run -0 php -r '$q = msg_get_queue('"$((k))"');
		msg_receive($q, 0, $t, 8192, $m, false); echo $m;'
	[ "$output" = "hello from pqueue" ]
}

@test "pqueue: an idle pop -f whose reader is gone exits 0 at once" {
	pqueue push warm x
	pqueue pop warm >/dev/null	# the queue exists and is empty
	local t0 t1
	t0=$(usec_now)
	run -0 timeout 10 bash -c 'pqueue pop -f warm | true; exit ${PIPESTATUS[0]}'
	t1=$(usec_now)
	echo "pop -f: $(( (t1 - t0) / 1000 )) ms"
	[ $(( t1 - t0 )) -lt 1000000 ]
	# The same for -w: gone is gone, whatever the deadline.
	t0=$(usec_now)
	run -0 timeout 10 bash -c 'pqueue pop -w 5s warm | true; exit ${PIPESTATUS[0]}'
	t1=$(usec_now)
	[ $(( t1 - t0 )) -lt 1000000 ]
	[ "$(pqueue len warm)" = 0 ]
}

@test "pqueue: run --retry-delay retries after about 1 s and 2 s, and later jobs run meanwhile" {
	cat > h.sh <<'EOS'
#!/bin/bash
read -r m
echo "$m $PQUEUE_ATTEMPT ${EPOCHREALTIME/[.,]/}" >> log
[ "$m" != flaky ] || [ "$PQUEUE_ATTEMPT" -ge 3 ]
EOS
	chmod +x h.sh
	pqueue push rq flaky j1 j2
	spawn_bg pqueue -q run -f --retry-delay 1s rq -- ./h.sh
	local pid=$!
	wait_for 10 grep -q '^j2 ' log
	pqueue push rq j3		# pushed while flaky waits
	wait_for 15 grep -q '^flaky 3 ' log
	kill -TERM "$pid"
	wait_for 5 gone "$pid"
	cat log
	local t1 t2 t3 j3
	t1=$(awk '$1 == "flaky" && $2 == 1 { print $3 }' log)
	t2=$(awk '$1 == "flaky" && $2 == 2 { print $3 }' log)
	t3=$(awk '$1 == "flaky" && $2 == 3 { print $3 }' log)
	j3=$(awk '$1 == "j3" { print $3 }' log)
	echo "waits: $(( (t2 - t1) / 1000 )) ms, $(( (t3 - t2) / 1000 )) ms"
	# 1 s and 2 s, give or take the 10 % jitter and a loaded machine
	[ $(( t2 - t1 )) -ge 850000 ] && [ $(( t2 - t1 )) -le 1800000 ]
	[ $(( t3 - t2 )) -ge 1750000 ] && [ $(( t3 - t2 )) -le 3200000 ]
	# j1, j2 and j3 ran while flaky waited
	[ "$(sed -n 2p log | cut -d' ' -f1)" = j1 ]
	[ "$(sed -n 3p log | cut -d' ' -f1)" = j2 ]
	[ "$j3" -lt "$t3" ]
	[ "$(pqueue len rq)" = 0 ]
	[ "$(pqueue stat rq | awk 'NR == 2 { print $6 }')" = 0 ]
}

@test "pqueue: push --delay holds a message back without holding up the others" {
	pqueue push --delay 1s dq later
	pqueue push dq now
	run -0 pqueue pop -n dq
	[ "$output" = now ]
	run -1 pqueue pop -n dq
	[ "$(pqueue len dq)" = 0 ]
	local t0 t1
	t0=$(usec_now)
	run -0 timeout 10 pqueue pop dq		# waits for it, no push needed
	t1=$(usec_now)
	[ "$output" = later ]
	[ $(( t1 - t0 )) -le 2000000 ]
	pqueue push --delay 1h dq gone
	pqueue purge dq
	[ "$(pqueue stat --json dq | python3 -c 'import json,sys; print(json.load(sys.stdin)["delayed"])')" = 0 ]
	run -2 pqueue push --delay -1s dq x
	[[ "$output" == "pqueue: push: bad --delay '-1s'" ]]
	run -2 pqueue run --retry-delay 1x dq -- true
	[[ "$output" == "pqueue: run: bad --retry-delay '1x'" ]]
	[ "$(pqueue len dq)" = 0 ]
}

@test "pqueue: stat --json and ls --json: one object per queue, counts as len" {
	pqueue push ja 1 2 3
	pqueue push 'jb' x
	pqueue push --delay 1h jb later
	pqueue run -c 1 --max-attempts 1 ja -- false || true	# one dead
	run -0 pqueue stat --json ja
	[ "${#lines[@]}" = 1 ]
	echo "$output" | python3 -m json.tool
	python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert sorted(o) == sorted(["name", "length", "bytes", "oldest_age",
    "leased", "delayed", "dead"]), o
assert o["name"] == "ja" and o["length"] == int(sys.argv[2]), o
assert o["dead"] == 1 and o["leased"] == 0 and o["delayed"] == 0, o
assert o["bytes"] == 2 and o["oldest_age"] >= 0, o
' "$output" "$(pqueue len ja)"
	run -0 pqueue ls --json
	[ "${#lines[@]}" = 2 ]
	echo "$output" | python3 -m json.tool --json-lines
	python3 -c '
import json, sys
q = {o["name"]: o for o in map(json.loads, sys.argv[1].splitlines())}
assert q["jb"]["length"] == 1 and q["jb"]["delayed"] == 1, q
assert q["ja"]["length"] == 2, q
' "$output"
	run -2 pqueue stat --jsno ja
	[ "$output" = "pqueue: unknown option '--jsno'" ]
	[ "$(pqueue len ja)" = 2 ]
}

@test "pqueue: dead -l shows the exit status and the stderr tail of a dead job" {
	pqueue push dl hello
	run -3 --separate-stderr pqueue run --max-attempts 1 dl -- \
	    sh -c 'cat >/dev/null; seq 1 2000 >&2; echo "oops: disk on fire" >&2; exit 3'
	# stderr still reaches ours as it comes
	[[ "$stderr" == *"oops: disk on fire"* ]]
	run -0 pqueue dead -l dl
	echo "$output"
	[[ "${lines[0]}" =~ ^message\ 1:\ attempts\ 1,\ exit\ status\ 3,\ died\ 2[0-9-]+\ [0-9:]+\ UTC$ ]]
	[ "${lines[-2]}" = "  stderr: oops: disk on fire" ]
	[ "${lines[-1]}" = "  message: hello" ]
	# bounded: about 4 KiB of stderr, not all 2000 lines
	[ "${#lines[@]}" -lt 1000 ]
	[ "$(pqueue dead dl)" = hello ]		# the plain list is unchanged
	run -2 pqueue dead -l --requeue dl
	[ "$output" = "pqueue: dead: -l excludes --requeue and -0" ]
	pqueue dead --requeue dl
	[ "$(pqueue pop -n dl)" = hello ]
	run -0 pqueue dead -l dl
	[ -z "$output" ]
}

@test "pqueue: dead -l names the signal that killed a dead job" {
	pqueue push dk msg
	pqueue run --max-attempts 1 dk -- sh -c 'kill -9 $$' || true
	run -0 pqueue dead -l dk
	[[ "${lines[0]}" == "message 1: attempts 1, killed by signal 9, died "* ]]
	[ "${lines[1]}" = "  message: msg" ]
}
