#!/usr/bin/env bats
# pqueue: race-free waits, full disks, damaged state, read-only queues,
# and queues written by older versions (the store in lib/store).

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/q
	SYSV_KEYS=()
	MOUNTS=()
}

local_teardown() {
	local k m
	for k in "${SYSV_KEYS[@]}"; do
		ipcrm -Q "$k" 2>/dev/null
	done
	for ((m = ${#MOUNTS[@]} - 1; m >= 0; m--)); do
		umount -l "${MOUNTS[m]}" 2>/dev/null
	done
	return 0
}

sysv_key() {
	K=$(printf '0x%x' $(( 0x5e800000 + ($$ % 65536) * 256 + BATS_TEST_NUMBER * 4 + $1 )))
	ipcrm -Q "$K" 2>/dev/null || true
	SYSV_KEYS+=("$K")
}

# tmpfs DIR SIZE: mount a tmpfs of SIZE on DIR (unmounted in teardown),
# or skip the test saying why.
tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" pkit-test "$1" 2>/dev/null ||
	    skip "cannot mount a tmpfs here (not root, or no mount namespace rights)"
	MOUNTS+=("$1")
}

# fill DIR: write a file until the filesystem is full.
fill() {
	dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true
}

# state_u64 QUEUE OFFSET [VALUE]: read, or write, the u64 at OFFSET in
# QUEUE's state (host byte order, as pqueue writes it).
state_u64() {
	if [ $# -eq 3 ]; then
		printf "$(printf '%016x' "$3" | sed -E 's/(..)(..)(..)(..)(..)(..)(..)(..)/\\x\8\\x\7\\x\6\\x\5\\x\4\\x\3\\x\2\\x\1/')" |
		    dd of="$1/state" bs=1 seek="$2" conv=notrunc 2>/dev/null
	else
		od -An -t u8 -j "$2" -N 8 "$1/state" | tr -d ' '
	fi
}

# Offsets in state: tail gen 64, tail slots 72 and 104; head gen 192,
# head slots 200 and 232; a slot is seg, off, seq, bytes.
tail_slot() { echo $(( 72 + 32 * ($(state_u64 "$1" 64) % 2) )); }
head_slot() { echo $(( 200 + 32 * ($(state_u64 "$1" 192) % 2) )); }

@test "pqueue-store: TERM at a random instant within 50 ms ends a waiting pop -f within 1 s (50 runs)" {
	# (bash may also say "Terminated" for a pop that TERM reached
	# before it had blocked the signal: that one ended at once too)
	run -0 "$BATS_TEST_DIRNAME/../bench/pqueue-stress.sh" 25
	[ "${lines[-1]}" = "runs 25 late 0" ]
	run -0 "$BATS_TEST_DIRNAME/../bench/pqueue-stress.sh" 25 --writes
	[ "${lines[-1]}" = "runs 25 late 0" ]
}

@test "pqueue-store: TERM ends pop -f waiting for a lock held by another process" {
	pqueue push lk x
	pqueue pop lk
	# hold HEAD (byte 1 of state) from outside
	spawn_bg pqlock q/lk/state 1 > locked
	local holder=$!
	wait_for 5 grep -q locked locked
	spawn_bg pqueue pop -f lk
	local pid=$!
	sleep 0.2
	alive "$pid"
	kill -TERM "$pid"
	wait_for 1 gone "$pid"
	kill "$holder"
}

@test "pqueue-store: pop -w ends on time while files are written in the queue" {
	local t0 t1
	pqueue push wq x
	pqueue pop wq
	( while :; do echo x >> q/wq/junk; : > q/wq/junk; done ) 2>/dev/null 3>&- &
	track $!
	t0=${EPOCHREALTIME/[.,]/}
	run -1 timeout 10 pqueue pop -w 300ms wq
	t1=${EPOCHREALTIME/[.,]/}
	[ $((t1 - t0)) -ge 300000 ]
	[ $((t1 - t0)) -lt 3000000 ]
}

@test "pqueue-store: pop -w 0, 1us and 1ms on an empty System V queue return 1 at once" {
	local w t0 t1
	sysv_key 0
	pqueue push "sysv:$K" one
	pqueue pop "sysv:$K"
	for w in 0 1us 1ms 0s; do
		t0=${EPOCHREALTIME/[.,]/}
		run -1 timeout 5 pqueue pop -w "$w" "sysv:$K"
		t1=${EPOCHREALTIME/[.,]/}
		[ $((t1 - t0)) -lt 500000 ]
	done
	pqueue push "sysv:$K" two
	run -0 timeout 5 pqueue pop -w 0 "sysv:$K"
	[ "$output" = two ]
}

@test "pqueue-store: sysv:0 (IPC_PRIVATE) is a usage error" {
	local c
	for c in "push sysv:0 m" "pop sysv:0" "len sysv:0" "push sysv:0x0:3 m"; do
		run -2 --separate-stderr pqueue $c
		[[ $stderr == "pqueue: bad KEY in 'sysv:0"* ]]
		[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ]
	done
}

@test "pqueue-store: a run whose COMMAND fails on a full disk keeps its message until there is room" {
	tmpfs "$BATS_TEST_TMPDIR/small" 1m
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/small/q
	# a record of 32 + 4064 bytes fills the segment's first page, so
	# putting the message back needs a page more
	printf '%04064d' 7 > msg
	pqueue push full < msg
	run -1 --separate-stderr pqueue run -c 1 full -- \
	    sh -c 'dd if=/dev/zero of="$0/filler" bs=4k 2>/dev/null; exit 1' \
	    "$BATS_TEST_TMPDIR/small"
	[[ $stderr == *"cannot append 1 message(s): No space left on device"* ]]
	[ "$(ls "$PQUEUE_DIR/full/lease" | wc -l)" = 1 ]
	run -1 pqueue pop -n full		# no room to give it back yet
	rm "$BATS_TEST_TMPDIR/small/filler"
	run -0 pqueue pop -n full
	[ "$output" = "$(cat msg)" ]
	[ "$(ls "$PQUEUE_DIR/full/lease" | wc -l)" = 0 ]
}

@test "pqueue-store: a dead-letter write on a full disk keeps the message too" {
	tmpfs "$BATS_TEST_TMPDIR/small" 1m
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/small/q
	pqueue push full last-try
	run -1 --separate-stderr pqueue run -c 1 --max-attempts 1 full -- \
	    sh -c 'dd if=/dev/zero of="$0/filler" bs=4k 2>/dev/null; exit 1' \
	    "$BATS_TEST_TMPDIR/small"
	[[ $stderr == *"cannot write the dead-letter list: No space left on device"* ]]
	[ "$(pqueue dead full)" = "" ]
	rm "$BATS_TEST_TMPDIR/small/filler"
	run -0 pqueue pop -n full
	[ "$output" = last-try ]
}

@test "pqueue-store: creating a queue on a full disk is a clear error, not SIGBUS" {
	tmpfs "$BATS_TEST_TMPDIR/small" 1m
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/small/q
	mkdir -p "$PQUEUE_DIR"
	fill "$BATS_TEST_TMPDIR/small"
	run -1 --separate-stderr pqueue push newq hello
	[[ $stderr == "pqueue: newq: cannot create state: No space left on device" ]]
	rm "$BATS_TEST_TMPDIR/small/filler"
	pqueue push newq hello
	[ "$(pqueue pop newq)" = hello ]
}

@test "pqueue-store: a drained or purged queue gives its tail segment's space back" {
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%064d\n", i }' > msgs
	pqueue push dr < msgs
	[ "$(stat -c %s q/dr/*.seg)" -gt 100000 ]
	pqueue pop -c 3000 dr | cmp - msgs
	[ "$(cat q/dr/*.seg | wc -c)" = 0 ]
	pqueue push dr < msgs
	pqueue purge dr
	[ "$(cat q/dr/*.seg | wc -c)" = 0 ]
	[ "$(pqueue len dr)" = 0 ]
	pqueue push dr after
	[ "$(pqueue pop dr)" = after ]
}

@test "pqueue-store: a full disk after a drain still takes pushes" {
	tmpfs "$BATS_TEST_TMPDIR/small" 2m
	export PQUEUE_DIR=$BATS_TEST_TMPDIR/small/q
	# 6144 records of 32 + 96 bytes: 192 whole pages, so the next
	# record needs a new page
	awk 'BEGIN { for (i = 0; i < 6144; i++) printf "%096d\n", i }' > msgs
	pqueue push dq < msgs
	fill "$BATS_TEST_TMPDIR/small"
	pqueue pop -c 6144 dq | cmp - msgs
	pqueue push dq "room again"
	[ "$(pqueue pop dq)" = "room again" ]
}

@test "pqueue-store: a flipped bit in the tail's segment number is one line and exit 3" {
	local slot
	pqueue push fb one two
	slot=$(tail_slot q/fb)
	state_u64 q/fb "$slot" $((1 << 31))
	run -3 --separate-stderr timeout 5 pqueue pop -n fb
	[[ $stderr == "pqueue: fb: damaged state ("*"); run pqueue fsck" ]]
	run -3 --separate-stderr timeout 5 pqueue stat fb
	[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ]
	[ "$(pqueue fsck fb)" = 2 ]
	[ "$(pqueue pop -c 2 fb | tr '\n' ' ')" = "one two " ]
}

@test "pqueue-store: a tail segment number flipped under a waiting pop -f: one warning, and TERM still works" {
	local slot pid
	pqueue push fl one
	spawn_bg pqueue pop -f fl > out 2> err
	pid=$!
	wait_for 5 grep -q one out
	slot=$(tail_slot q/fl)
	state_u64 q/fl "$slot" $((1 << 31))
	pqueue -q push fl two 2>/dev/null || true
	sleep 0.3
	kill -TERM "$pid"
	wait_for 1 gone "$pid"
	[ "$(wc -l < err)" -le 1 ]
}

@test "pqueue-store: a zeroed state over existing segments is refused, and fsck rebuilds it" {
	pqueue push zs one two three
	pqueue pop zs
	dd if=/dev/zero of=q/zs/state bs=4096 count=1 conv=notrunc 2>/dev/null
	run -3 --separate-stderr pqueue push zs four
	[[ $stderr == *"state is empty but the queue holds segments (run pqueue fsck)" ]]
	run -3 pqueue pop zs
	run -0 --separate-stderr pqueue fsck zs
	[ "$output" = 3 ]
	pqueue push zs four
	[ "$(pqueue pop -c 4 zs | tr '\n' ' ')" = "one two three four " ]
}

@test "pqueue-store: fsck of a sound queue changes nothing" {
	pqueue push ok one two three
	pqueue pop ok
	cp q/ok/state state.before
	run -0 --separate-stderr pqueue fsck ok
	[ "$output" = 2 ]
	[[ $stderr == *"state is sound; nothing to repair" ]]
	cmp state.before q/ok/state
	[ "$(pqueue pop ok)" = two ]
	run -1 --separate-stderr pqueue fsck nosuch
	[[ $stderr == "pqueue: nosuch: no such queue"* ]]
}

@test "pqueue-store: a changed head position is refused, never a silent loss" {
	local slot
	for i in $(seq 1 20); do pqueue push hp "message $i"; done
	slot=$(head_slot q/hp)
	# move the head's offset to the 20th record
	state_u64 q/hp $((slot + 8)) $(( 19 * (32 + 10) - 9 ))
	run -3 --separate-stderr pqueue pop hp
	[[ $stderr == "pqueue: hp: damaged state (head or tail offset does not match the counters); run pqueue fsck" ]]
	run -3 pqueue len hp
	pqueue fsck hp
	[ "$(pqueue len hp)" = 20 ]
	[ "$(pqueue pop hp)" = "message 1" ]
}

@test "pqueue-store: len, stat and peek work on a read-only filesystem" {
	pqueue push ro one two
	mkdir rodir
	mount --bind q rodir 2>/dev/null || skip "cannot bind-mount here"
	MOUNTS+=("$BATS_TEST_TMPDIR/rodir")
	mount -o remount,bind,ro rodir || skip "cannot remount read-only"
	run -0 pqueue -d rodir len ro
	[ "$output" = 2 ]
	run -0 pqueue -d rodir peek ro
	[ "$output" = one ]
	run -0 pqueue -d rodir stat ro
	[[ ${lines[1]} == "ro 2 6 "* ]]
	run -0 pqueue -d rodir stat
	[[ ${lines[1]} == "ro 2 6 "* ]]
	run -0 pqueue -d rodir dead ro
	run -1 --separate-stderr pqueue -d rodir pop -n ro
}

@test "pqueue-store: queues written by the old pqueue are read and drained" {
	cp -r "$BATS_TEST_DIRNAME/fixtures/old-queues" q
	[ "$(pqueue len old)" = 3 ]
	run -0 pqueue dead old
	[ "$output" = one ]
	run -0 pqueue pop -c 3 old
	[ "${lines[*]}" = "three four with spaces dead-one" ]
	pqueue dead --requeue old
	[ "$(pqueue pop old)" = one ]
	# the dead runner's lease comes back, attempt 2
	run -0 pqueue run -c 2 leased -- sh -c 'echo "$(cat) $PQUEUE_ATTEMPT" >> got'
	sort got > got.s
	[ "$(cat got.s)" = "after 1
kept-in-lease 2" ]
	pqueue push old new
	[ "$(pqueue pop old)" = new ]
}

@test "pqueue-store: --help names every long option and ends with See pqueue(1)" {
	local o
	run -0 pqueue --help
	for o in --sync --max-size --max-attempts --requeue --help --version; do
		[[ $output == *"$o "* ]]
	done
	[ "${lines[-1]}" = "See pqueue(1)." ]
}

# lag_state Q: the state of queue Q as a crash leaves it when only the
# segment was synced: an older copy (saved by save_state), from another
# boot (its boot field, at offset 24, zeroed).
save_state() { cp "q/$1/state" "state.$1"; }
lag_state() {
	cp "state.$1" "q/$1/state"
	dd if=/dev/zero of="q/$1/state" bs=1 seek=24 count=8 conv=notrunc 2>/dev/null
}

@test "pqueue-store: push --sync messages whose tail commit a crash lost are found, each once" {
	pqueue push --sync sq m1 m2
	pqueue pop sq > /dev/null			# m1 consumed
	save_state sq
	pqueue push --sync sq m3 m4
	seq -f 'line%g' 1 500 | pqueue push --sync sq
	printf 'x%.0s\n' $(seq 1 3) | pqueue push --sync sq
	# the crash: state written back before the pushes, segment synced
	lag_state sq
	run -0 --separate-stderr pqueue len sq
	[ "$output" = 506 ]
	[[ $stderr == *"sq: 505 message(s) found after the committed tail"* ]]
	run -0 --separate-stderr pqueue pop -f -n sq
	[ -z "$stderr" ]
	{ printf 'm2\nm3\nm4\n'; seq -f 'line%g' 1 500; printf 'x\nx\nx\n'; } > want
	[ "$output" = "$(cat want)" ]
	# taken in once: another reboot with today's state finds no more
	save_state sq
	lag_state sq
	run -0 --separate-stderr pqueue len sq
	[ "$output" = 0 ] && [ -z "$stderr" ]
	pqueue push --sync sq after
	[ "$(pqueue pop sq)" = after ]
}

@test "pqueue-store: a drained tail leaves no old record for a recovery to find" {
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%064d\n", i }' > msgs
	pqueue push sd < msgs
	cp q/sd/0000000000000000.seg seg.old
	pqueue pop -c 3000 sd > /dev/null
	[ "$(cat q/sd/*.seg | wc -c)" = 0 ]
	save_state sd
	# a reboot that kept state but not the emptying of the old segment
	cp seg.old q/sd/0000000000000000.seg
	lag_state sd
	run -1 --separate-stderr pqueue pop -n sd
	[ -z "$output" ] && [ -z "$stderr" ]
	[ "$(pqueue len sd)" = 0 ]
}

@test "pqueue-store: a record torn by a crash past the synced tail is not taken in" {
	pqueue push --sync tq one two
	save_state tq
	pqueue push --sync tq three
	# three's bytes cut short, as a crash before its fdatasync leaves them
	truncate -s -2 q/tq/0000000000000000.seg
	lag_state tq
	run -0 --separate-stderr pqueue pop -f -n tq
	[ "$output" = "$(printf 'one\ntwo')" ]
	[ -z "$stderr" ]
}

@test "pqueue-store: a lease its maker was killed while writing is removed quietly; its message is delivered once" {
	printf 'one\ntwo\n' | pqueue push lq
	# A runner killed between creating its lease and writing it (empty)
	# and one killed mid-write (half a header): neither took a message.
	: > "$PQUEUE_DIR/lq/lease/1.999999"
	head -c 7 /dev/urandom > "$PQUEUE_DIR/lq/lease/2.999998"
	run --separate-stderr pqueue pop -c 2 lq
	[ "$status" = 0 ]
	[ "$output" = "$(printf 'one\ntwo')" ]
	[ -z "$stderr" ] || { echo "stderr: $stderr"; false; }
	[ -z "$(ls "$PQUEUE_DIR/lq/lease")" ]
	[ "$(pqueue len lq)" = 0 ]
}

@test "pqueue-store: the temporary file of a delayed push killed before its rename is removed once a minute old" {
	echo now | pqueue push dq
	echo junk > "$PQUEUE_DIR/dq/lease/.new.999999.0"
	echo junk > "$PQUEUE_DIR/dq/lease/.new.999999.1"
	touch -d '2 minutes ago' "$PQUEUE_DIR/dq/lease/.new.999999.0"
	[ "$(pqueue pop dq)" = now ]
	[ ! -e "$PQUEUE_DIR/dq/lease/.new.999999.0" ]
	# a fresh one may still be in the making: kept
	[ -e "$PQUEUE_DIR/dq/lease/.new.999999.1" ]
}
