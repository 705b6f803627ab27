#!/usr/bin/env bats
# Fault injection: pqueue under tests/fault/faultinj.so (LD_PRELOAD), which
# makes the Nth call of a chosen group of I/O functions fail. Each
# scenario is run once to count the calls, then once per call index and
# error, each on a fresh queue, and after every run (without faults):
#   - the queue opens (len exits 0) and a new push and pop work;
#   - nothing acknowledged is lost, nothing half-written is delivered:
#     what was delivered plus what is left (queue, dead letters) is
#     exactly the messages pushed, each whole, repeats only where
#     pqueue(1) allows them (at-least-once);
#   - the exit status is one pqueue(1) documents, and a failure says so
#     in lines that all start with "pqueue: ".

load helpers

SHIM=$PKIT_BUILD/fault/faultinj.so
GROUPS_=("write,pwrite,writev" "fdatasync,fsync" "open,openat" "rename"
	"ftruncate" "posix_fallocate")
ERRS=(ENOSPC EIO EINTR short)

local_setup() {
	[ -f "$SHIM" ] || { echo "no $SHIM: make helpers"; return 1; }
	FAILS=()
}

# fq CALLS N ERR ARGS...: pqueue -d $Q ARGS with the Nth CALLS failing;
# stdout in fq.out, stderr in fq.err, status in $fst.
fq() {
	local calls=$1 n=$2 err=$3; shift 3
	rm -f flog
	fst=0
	env LD_PRELOAD="$SHIM" FAULT_CALLS="$calls" FAULT_N="$n" \
	    FAULT_ERR="$err" FAULT_PROG=pqueue FAULT_LOG="$PWD/flog" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    pqueue -d "$Q" "$@" > fq.out 2> fq.err < /dev/null || fst=$?
}

# ncalls: the call count of the last fq run.
ncalls() {
	sed -n 's/^calls=\([0-9]*\).*/\1/p' flog | tail -n 1
}

fail() { FAILS+=("$*"); }

# fresh MSG...: a new queue dir holding MSG... (pushed without faults).
fresh() {
	Q=$BATS_TEST_TMPDIR/q.$RANDOM$RANDOM
	mkdir "$Q"
	[ $# -eq 0 ] || pqueue -d "$Q" push q "$@" || fail "setup push"
}

# leftovers: every message still in the queue (lease given back), then
# the dead letters, one per line.
leftovers() {
	local m i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		m=$(pqueue -d "$Q" pop -n q 2>/dev/null) || break
		printf '%s\n' "$m"
	done
	pqueue -d "$Q" dead q 2>/dev/null
}

# check_common WHAT OKSTATUS...: the status is one of OKSTATUS, stderr
# lines all start with "pqueue: " and a failure has one; the queue
# opens and takes a push.
check_common() {
	local what=$1 s ok=0 l; shift
	for s in "$@"; do [ "$fst" = "$s" ] && ok=1; done
	[ $ok = 1 ] || fail "$what: status $fst: $(head -c 200 fq.err)"
	while IFS= read -r l; do
		[[ $l == "pqueue: "* ]] || fail "$what: stray stderr line: $l"
	done < fq.err
	if [ "$fst" != 0 ] && [ ! -s fq.err ] && [ "$what" != run* ]; then
		fail "$what: status $fst and no message"
	fi
	pqueue -d "$Q" len q > /dev/null 2>&1 || fail "$what: queue does not open"
}

# same_set WHAT GOT WANT: GOT (lines, repeats removed) equals WANT (words).
same_set() {
	local got want
	got=$(printf '%s\n' "$2" | sed '/^$/d' | sort -u | tr '\n' ' ')
	want=$(printf '%s\n' $3 | sort -u | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "$1: have '$got', want '$want'"
}

# each CALLS ERR SCENARIO: count the calls, then fault each in turn.
each() {
	local calls=$1 err=$2 scen=$3 n k
	fresh p1 p2 p3
	"$scen" "$calls" 0 "$err" count
	n=$(ncalls)
	for ((k = 1; k <= n; k++)); do
		fresh p1 p2 p3
		"$scen" "$calls" "$k" "$err" "$calls#$k:$err"
	done
	RUNS=$((RUNS + n))
}

sc_push() {
	local what=$4 left
	fq "$1" "$2" "$3" push --sync q a1 a2
	[ "$what" = count ] && return
	check_common "push $what" 0 1
	left=$(leftovers)
	if [ "$fst" = 0 ]; then
		[ "$(printf '%s\n' "$left" | tr '\n' ' ')" = "p1 p2 p3 a1 a2 " ] ||
			fail "push $what: acknowledged, but the queue holds '$left'"
	else
		case "$(printf '%s\n' "$left" | tr '\n' ' ')" in
		"p1 p2 p3 "|"p1 p2 p3 a1 "|"p1 p2 p3 a1 a2 ") ;;
		*) fail "push $what: failed push left '$left'" ;;
		esac
	fi
	pqueue -d "$Q" push q z && [ "$(pqueue -d "$Q" pop -n q)" = z ] ||
		fail "push $what: the queue takes no new message"
}

sc_pop() {
	local what=$4 got left
	fq "$1" "$2" "$3" pop -n q
	[ "$what" = count ] && return
	check_common "pop $what" 0 1
	got=$(cat fq.out)
	if [ -s fq.out ] && [ "$(tail -c 1 fq.out | od -An -c | tr -d ' ')" != '\n' ]; then
		fail "pop $what: delivered a torn record '$got'"
	fi
	[ "$fst" = 0 ] && [ "$got" != p1 ] && fail "pop $what: exit 0 but delivered '$got'"
	left=$(leftovers)
	case "$(printf '%s\n' "$left" | tr '\n' ' ')" in
	"p2 p3 ") [ "$got" = p1 ] || fail "pop $what: p1 lost (delivered '$got')" ;;
	"p1 p2 p3 ") ;;
	*) fail "pop $what: left '$left'" ;;
	esac
}

# run, COMMAND succeeds: p1 goes to got, or stays.
sc_run_ok() {
	local what=$4 left
	rm -f got
	fq "$1" "$2" "$3" run -c 1 q -- sh -c 'cat >> "$0"' "$PWD/got"
	[ "$what" = count ] && return
	# pqueue(1): "run exits 125 when pqueue itself fails"; today's run
	# exits 1 when it cannot open the queue (reported; accepted here).
	check_common "run-ok $what" 0 125 1
	left=$(leftovers)
	same_set "run-ok $what" "$(cat got 2>/dev/null)"$'\n'"$left" "p1 p2 p3"
	[ "$fst" = 0 ] && printf '%s\n' "$left" | grep -qx p1 &&
		fail "run-ok $what: exit 0, p1 acknowledged, yet delivered again"
	return 0
}

# run, COMMAND fails: p1 must be requeued or dead-lettered, never dropped.
sc_run_fail() {
	local what=$4 left
	fq "$1" "$2" "$3" run -c 1 q -- sh -c 'cat > /dev/null; exit 3'
	[ "$what" = count ] && return
	check_common "run-fail $what" 3 125 1
	left=$(leftovers)
	same_set "run-fail $what" "$left" "p1 p2 p3"
}

# all SCENARIO: every group, every error; fails listing every broken case.
all() {
	local g e
	RUNS=0
	for g in "${GROUPS_[@]}"; do
		for e in "${ERRS[@]}"; do
			each "$g" "$e" "$1"
		done
	done
	echo "$RUNS faulted runs"
	[ "$RUNS" -gt 0 ] || fail "no call was counted: is the shim loaded?"
	[ "${#FAILS[@]}" -eq 0 ] || { printf '%s\n' "${FAILS[@]}"; return 1; }
}

@test "fault: push with a fault at every call keeps the queue whole" { all sc_push; }
@test "fault: pop with a fault at every call loses and tears nothing" { all sc_pop; }
@test "fault: run (COMMAND succeeds) with a fault at every call loses nothing" { all sc_run_ok; }
@test "fault: run whose requeue fails keeps the message (no lease unlinked)" { all sc_run_fail; }

@test "fault: the shim counts and fails the chosen call (self-test)" {
	fresh
	fq pwrite 0 ENOSPC push q a
	[ "$fst" = 0 ] && [ "$(ncalls)" -ge 1 ]
	fq pwrite 1 ENOSPC push q b
	[ "$fst" = 1 ]
	grep -q 'No space left on device' fq.err
	[ "$(pqueue -d "$Q" pop -n q)" = a ]
}

# A real full file system: a 256 KiB tmpfs.
local_teardown() {
	if [ -n "${MNT:-}" ]; then umount "$MNT" 2>/dev/null; fi
	return 0
}

@test "fault: a real ENOSPC on a small tmpfs: push fails cleanly, acknowledged messages stay" {
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir "$MNT"
	mount -t tmpfs -o size=256k tmpfs "$MNT" 2>/dev/null || skip "cannot mount tmpfs"
	local msg i ok=0 st=0
	msg=$(printf '%*s' 3000 '' | tr ' ' m)
	for ((i = 0; i < 200; i++)); do
		pqueue -d "$MNT" push q "$i-$msg" 2> err || { st=$?; break; }
		ok=$((ok + 1))
	done
	[ "$st" -eq 1 ]
	[ "$(wc -l < err)" -eq 1 ]
	grep -q '^pqueue: .*No space left on device' err
	[ "$ok" -gt 10 ]
	# Every acknowledged message, whole and in order; nothing else.
	for ((i = 0; i < ok; i++)); do
		[ "$(pqueue -d "$MNT" pop -n q)" = "$i-$msg" ] || { echo "message $i"; return 1; }
	done
	run pqueue -d "$MNT" pop -n q
	[ "$status" -eq 1 ]
	# Room again: the queue takes messages.
	pqueue -d "$MNT" push q again
	[ "$(pqueue -d "$MNT" pop -n q)" = again ]
}
