#!/usr/bin/env bats
# lib/redis (the RESP2 client) and lib/rstream (queues on Redis Streams),
# through the rsdrv driver, against a private redis-server per test.

bats_require_minimum_version 1.5.0
load helpers
load helpers/redis

local_setup() {
	redis_need
}

# A listener whose accept queue is full: a connect to it hangs in SYN.
hold_syn() {
	python3 - "$1" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(0)
cs = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    cs.append(c)
open(sys.argv[1] + '.tmp', 'w').write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])
time.sleep(60)
EOF
	PKIT_PIDS+=("$!")
}

@test "redis: binary and NUL-containing values round-trip byte-exact" {
	redis_start
	printf 'a\0b\r\n\377\0' > v
	run rsdrv "$REDIS_URL/k" raw SET bin - < v
	[ "$output" = OK ]
	rsdrv "$REDIS_URL/k" raw GET bin > got
	printf 'a\0b\r\n\377\0\n' > want
	cmp got want
}

@test "redis: 10000 pipelined commands come back in order" {
	redis_start
	run rsdrv "$REDIS_URL/k" pipe 10000
	[ "$status" -eq 0 ]
	[ "$output" = 10000 ]
	[ "$(redis-cli -p "$REDIS_PORT" GET k:ctr)" = 10000 ]
}

@test "redis: an error reply is one line with the server's message" {
	redis_start
	run --separate-stderr rsdrv "$REDIS_URL/k" raw NOSUCHCOMMAND x
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == "rsdrv: redis://127.0.0.1:$REDIS_PORT/k: ERR unknown command"* ]]
}

@test "redis: connection refused is one clear line" {
	redis_start
	redis_stop
	run --separate-stderr rsdrv "$REDIS_URL/k" raw PING
	[ "$status" -eq 1 ]
	[ "$stderr" = "rsdrv: redis://127.0.0.1:$REDIS_PORT/k: connection refused" ]
}

# A server that answers the first command with $1 (python escapes).
fake_server() {
	python3 - "$1" <<'EOF' &
import socket, sys, os
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(4)
open('port.tmp', 'w').write(str(s.getsockname()[1])); os.rename('port.tmp', 'port')
c, _ = s.accept()
c.recv(65536)
c.sendall(sys.argv[1].encode().decode('unicode_escape').encode('latin-1'))
c.recv(65536)
EOF
	PKIT_PIDS+=("$!")
	wait_for 10 test -s port
}

@test "redis: a malformed reply is a protocol error, one line" {
	command -v python3 >/dev/null || skip "python3 missing"
	fake_server '?what\r\n'
	run --separate-stderr rsdrv "redis://127.0.0.1:$(cat port)/k" raw PING
	[ "$status" -eq 1 ]
	[ "$stderr" = "rsdrv: redis://127.0.0.1:$(cat port)/k: protocol error" ]
}

@test "redis: a reply line that never ends is a protocol error, not a hang" {
	command -v python3 >/dev/null || skip "python3 missing"
	fake_server "+$(head -c 70000 /dev/zero | tr '\0' x)"
	run --separate-stderr timeout 20 rsdrv "redis://127.0.0.1:$(cat port)/k" raw PING
	[ "$status" -eq 1 ]
	[[ $stderr == *": protocol error" ]]
}

@test "redis: connect gives up after the timeout" {
	command -v python3 >/dev/null || skip "python3 missing"
	hold_syn port
	wait_for 10 test -s port
	local t0=$(ms_now)
	run --separate-stderr rsdrv -t 1s "redis://127.0.0.1:$(cat port)/k" raw PING
	local dt=$(( $(ms_now) - t0 ))
	[ "$status" -eq 1 ]
	[[ $stderr == *": connect timed out" ]]
	[ "$dt" -ge 900 ] && [ "$dt" -lt 8000 ]
}

@test "redis: AUTH from the address and from PQUEUE_REDIS_PASSWORD" {
	redis_start --requirepass s3cret
	run --separate-stderr rsdrv "$REDIS_URL/k" raw PING
	[ "$status" -eq 1 ]
	[[ $stderr == *NOAUTH* ]]
	run rsdrv "redis://default:s3cret@127.0.0.1:$REDIS_PORT/k" raw PING
	[ "$output" = PONG ]
	PQUEUE_REDIS_PASSWORD=s3cret run rsdrv "$REDIS_URL/k" raw PING
	[ "$output" = PONG ]
	run --separate-stderr rsdrv "redis://default:wrong@127.0.0.1:$REDIS_PORT/k" raw PING
	[ "$status" -eq 1 ]
	[[ $stderr == *WRONGPASS* ]]
	# The password never shows in messages.
	[[ $stderr != *wrong* ]] || [[ $stderr == *WRONGPASS* && ${stderr//WRONGPASS/} != *wrong* ]]
}

@test "redis: /DB selects a database" {
	redis_start
	rsdrv "$REDIS_URL/3/k" raw SET x three
	[ "$(redis-cli -p "$REDIS_PORT" -n 3 GET x)" = three ]
	[ -z "$(redis-cli -p "$REDIS_PORT" GET x)" ]
}

@test "redis: bad addresses are usage errors, one line each" {
	local a
	for a in redis://h redis://h/ redis://h:0/k redis://h:99999/k \
	    redis://h:x/k redis://:1/k http://h/k 'redis://u@h/k' 'redis://[::1/k'; do
		run --separate-stderr rsdrv "$a" raw PING
		[ "$status" -eq 2 ] || { echo "$a: $status"; return 1; }
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "rsdrv: $a: "* ]]
	done
}

@test "redis: reconnects with backoff once the server is back" {
	redis_start
	redis_stop
	rsdrv -P 30s "$REDIS_URL/k" wait > out 3>&- &
	local drv=$!
	track "$drv"
	sleep 1.5
	grep -q connected out && return 1
	redis_start_again
	wait_for 15 grep -q connected out
	wait "$drv"
}

@test "rstream: 10000 records push then pop byte-exact, binary with -0" {
	command -v python3 >/dev/null || skip "python3 missing"
	redis_start
	python3 -c '
import sys, random
r = random.Random(7)
out = sys.stdout.buffer
for i in range(10000):
    n = r.randrange(0, 300)
    b = bytes(r.randrange(1, 256) for _ in range(n))
    out.write(b"%d:" % i + b.replace(b"\0", b"") + b"\0")
' > in
	rsdrv "$REDIS_URL/q" push -0 < in
	[ "$(rsdrv "$REDIS_URL/q" len)" = 10000 ]
	rsdrv "$REDIS_URL/q" pop -0 -c 10000 > out
	cmp in out
	run rsdrv "$REDIS_URL/q" pop -n
	[ "$status" -eq 1 ]
	[ "$(rsdrv "$REDIS_URL/q" len)" = 0 ]
}

@test "rstream: pop of an empty queue with -w waits and fails" {
	redis_start
	local t0=$(ms_now)
	run rsdrv "$REDIS_URL/q" pop -w 1s
	[ "$status" -eq 1 ]
	[ $(( $(ms_now) - t0 )) -ge 900 ]
}

@test "rstream: a blocked pop wakes when a message is pushed" {
	redis_start
	rsdrv "$REDIS_URL/q" pop -c 1 > out 3>&- &
	track $!
	local p=$!
	sleep 0.5
	rsdrv "$REDIS_URL/q" push hello
	wait_for 5 grep -qx hello out
	wait "$p"
}

fail_twice() {
	cat > cmd.sh <<'EOF'
#!/bin/sh
printf '%s %s %s\n' "$PQUEUE_ATTEMPT" "$PQUEUE_ID" "$(cat)" >> attempts
[ "$PQUEUE_ATTEMPT" -ge 3 ]
EOF
	chmod +x cmd.sh
}

@test "rstream: a command failing twice then succeeding runs three times" {
	redis_start
	fail_twice
	rsdrv "$REDIS_URL/q" push job-1
	run rsdrv -l 5s "$REDIS_URL/q" run -c 3 -- ./cmd.sh
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 attempts | tr '\n' ' ')" = "1 2 3 " ]
	[ "$(cut -d' ' -f2 attempts | sort -u | wc -l)" = 1 ]
	[ "$(cut -d' ' -f3 attempts | sort -u)" = job-1 ]
	[ "$(rsdrv "$REDIS_URL/q" stat)" = "0 $(rsdrv "$REDIS_URL/q" stat | cut -d' ' -f2) -1 0 0" ]
}

@test "rstream: past max attempts the message goes to KEY:dead with a reason" {
	redis_start
	fail_twice
	rsdrv "$REDIS_URL/q" push job-1
	run rsdrv "$REDIS_URL/q" run -m 2 -c 2 -- ./cmd.sh
	[ "$status" -eq 1 ]
	[ "$(wc -l < attempts)" = 2 ]
	[ "$(redis-cli -p "$REDIS_PORT" XLEN q:dead)" = 1 ]
	[ "$(redis-cli -p "$REDIS_PORT" XLEN q)" = 0 ]
	run --separate-stderr rsdrv "$REDIS_URL/q" dead -v
	[ "$output" = job-1 ]
	[ "$stderr" = "attempts=2 reason=exit status 1" ]
	rsdrv "$REDIS_URL/q" dead -r > /dev/null
	[ "$(redis-cli -p "$REDIS_PORT" XLEN q:dead)" = 0 ]
	[ "$(rsdrv "$REDIS_URL/q" pop -n)" = job-1 ]
}

@test "rstream: kill -9 of a runner mid-command: another takes it after the lease" {
	redis_start
	cat > cmd.sh <<'EOF'
#!/bin/sh
echo "$PQUEUE_ATTEMPT $$" >> started
[ "$PQUEUE_ATTEMPT" -ge 2 ] && exit 0
exec sleep 30
EOF
	chmod +x cmd.sh
	rsdrv "$REDIS_URL/q" push job-1
	rsdrv -C first -l 1s "$REDIS_URL/q" run -c 1 -- ./cmd.sh 3>&- &
	local first=$!
	track "$first"
	wait_for 10 test -s started
	kill -KILL "$first"
	local t0=$(ms_now)
	run rsdrv -C second -l 1s "$REDIS_URL/q" run -c 1 -- ./cmd.sh
	local dt=$(( $(ms_now) - t0 ))
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 started | tr '\n' ' ')" = "1 2 " ]
	[ "$dt" -ge 500 ] && [ "$dt" -lt 10000 ]
	[ "$(rsdrv "$REDIS_URL/q" len)" = 0 ]
	# The dead runner's command went with it (parent-death signal).
	wait_for 5 gone "$(head -1 started | cut -d' ' -f2)"
}

@test "rstream: a long command keeps its lease (XCLAIM refresh), runs once" {
	redis_start
	cat > cmd.sh <<'EOF'
#!/bin/sh
echo "$PQUEUE_ATTEMPT" >> started
sleep 3
EOF
	chmod +x cmd.sh
	rsdrv "$REDIS_URL/q" push job-1
	rsdrv -C first -l 600ms "$REDIS_URL/q" run -c 1 -- ./cmd.sh 3>&- &
	local first=$!
	track "$first"
	wait_for 10 test -s started
	# A second runner polls for expired leases the whole time.
	run rsdrv -C second -l 600ms "$REDIS_URL/q" pop -w 4s
	[ "$status" -eq 1 ]
	wait "$first"
	[ "$(cat started)" = 1 ]
	[ "$(rsdrv "$REDIS_URL/q" len)" = 0 ]
}

@test "rstream: a message delivered past max attempts by dying runners is buried unrun" {
	redis_start
	echo 'echo ran >> ran' > cmd.sh
	chmod +x cmd.sh
	rsdrv "$REDIS_URL/q" push job-1
	local i
	for i in 1 2; do	# two holders that die: deliveries 1 and 2
		redis-cli -p "$REDIS_PORT" XGROUP CREATE q pqueue 0 MKSTREAM >/dev/null 2>&1 || true
		redis-cli -p "$REDIS_PORT" XAUTOCLAIM q pqueue dier$i 0 0-0 >/dev/null
		redis-cli -p "$REDIS_PORT" XREADGROUP GROUP pqueue dier$i STREAMS q '>' >/dev/null
	done
	run rsdrv -l 1ms "$REDIS_URL/q" run -m 1 -c 1 -- ./cmd.sh
	[ ! -e ran ] || return 1
	rsdrv "$REDIS_URL/q" dead -v 2> why
	grep -q 'reason=delivered 3 times' why
}

@test "rstream: purge drops waiting messages and dead letters, not leases" {
	redis_start
	rsdrv "$REDIS_URL/q" push a b c d
	redis-cli -p "$REDIS_PORT" XGROUP CREATE q pqueue 0 >/dev/null
	redis-cli -p "$REDIS_PORT" XREADGROUP GROUP pqueue holder COUNT 1 STREAMS q '>' >/dev/null
	redis-cli -p "$REDIS_PORT" XADD q:dead '*' d x >/dev/null
	run rsdrv "$REDIS_URL/q" purge
	[ "$output" = 3 ]
	[ "$(rsdrv "$REDIS_URL/q" stat | awk '{ print $1, $4, $5 }')" = "1 1 0" ]
}

@test "rstream: a push survives a server restart mid-stream (AOF), none lost, none twice" {
	redis_start --appendonly yes --appendfsync always
	( seq 1 20000 | while read -r n; do
		echo "$n"; [ $(( n % 1000 )) -eq 0 ] && sleep 0.1
	done | rsdrv -P 30s "$REDIS_URL/q" push 2> push.err ) 3>&- &
	local prod=$!
	track "$prod"
	sleep 0.5
	kill -KILL "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null || true
	sleep 0.5
	redis_start_again --appendonly yes --appendfsync always
	wait "$prod" || { cat push.err; return 1; }
	rsdrv "$REDIS_URL/q" pop -n -c 100000 > out || true
	local lost dup
	lost=$(sort -u out | comm -13 - <(seq 1 20000 | sort) | wc -l)
	dup=$(( $(wc -l < out) - $(sort -u out | wc -l) ))
	echo "lost $lost duplicated $dup" >&3
	[ "$lost" -eq 0 ]
	[ "$dup" -eq 0 ]
}

# ---- pqueue on redis:// (issue 15's list) ----

@test "pqueue redis: 10000 records push then pop byte-exact, lines and -0" {
	command -v python3 >/dev/null || skip "python3 missing"
	redis_start
	python3 -c '
import sys, random
r = random.Random(11)
for name, sep, bad in (("lines", b"\n", b"\n"), ("nul", b"\0", b"\0")):
    with open(name, "wb") as f:
        for i in range(10000):
            b = bytes(r.randrange(0, 256) for _ in range(r.randrange(0, 200)))
            f.write(b"%d:" % i + b.replace(bad, b"") + sep)
'
	pqueue push "$REDIS_URL/l" < lines
	pqueue push -0 "$REDIS_URL/z" < nul
	[ "$(pqueue len "$REDIS_URL/l")" = 10000 ]
	pqueue pop -c 10000 "$REDIS_URL/l" > lines.out
	pqueue pop -0 -c 10000 "$REDIS_URL/z" > nul.out
	cmp lines lines.out
	cmp nul nul.out
	run pqueue pop -n "$REDIS_URL/l"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
}

@test "pqueue redis: a COMMAND failing twice then succeeding: PQUEUE_ATTEMPT 1, 2, 3" {
	redis_start
	fail_twice
	pqueue push "$REDIS_URL/q" job-1
	run pqueue -q run -c 3 "$REDIS_URL/q" -- ./cmd.sh
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 attempts | tr '\n' ' ')" = "1 2 3 " ]
	[ "$(cut -d' ' -f3 attempts | sort -u)" = job-1 ]
	[ "$(pqueue len "$REDIS_URL/q")" = 0 ]
}

@test "pqueue redis: --max-attempts 2 moves the message to KEY:dead" {
	redis_start
	fail_twice
	pqueue push "$REDIS_URL/q" job-1
	run pqueue -q run -c 2 --max-attempts 2 "$REDIS_URL/q" -- ./cmd.sh
	[ "$(wc -l < attempts)" = 2 ]
	[ "$(redis-cli -p "$REDIS_PORT" XLEN q:dead)" = 1 ]
	[ "$(redis-cli -p "$REDIS_PORT" XRANGE q:dead - + | sed -n '/^reason$/{n;p}')" = "exit status 1" ]
	[ "$(pqueue dead "$REDIS_URL/q")" = job-1 ]
	pqueue dead --requeue "$REDIS_URL/q"
	[ "$(pqueue pop -n "$REDIS_URL/q")" = job-1 ]
}

@test "pqueue redis: kill -9 of a runner mid-COMMAND: another runner redoes it after the lease" {
	redis_start
	cat > cmd.sh <<'EOF2'
#!/bin/sh
echo "$PQUEUE_ATTEMPT $(cat)" >> started
[ "$PQUEUE_ATTEMPT" -ge 2 ] && exit 0
exec sleep 30
EOF2
	chmod +x cmd.sh
	pqueue push "$REDIS_URL/q" job-1
	pqueue run -c 1 --lease 1s --consumer first "$REDIS_URL/q" -- ./cmd.sh 3>&- &
	local first=$!
	track "$first"
	wait_for 10 test -s started
	kill -KILL "$first"
	local t0=$(ms_now)
	run pqueue run -c 1 --lease 1s --consumer second "$REDIS_URL/q" -- ./cmd.sh
	local dt=$(( $(ms_now) - t0 ))
	[ "$status" -eq 0 ]
	[ "$(cat started)" = "1 job-1
2 job-1" ]
	[ "$dt" -ge 500 ] && [ "$dt" -lt 10000 ]
	[ "$(pqueue len "$REDIS_URL/q")" = 0 ]
}

@test "pqueue redis: server down at start is one line; status 1, run 125" {
	redis_start
	redis_stop
	local c
	for c in "push $REDIS_URL/q x" "pop -n $REDIS_URL/q" "len $REDIS_URL/q" "stat $REDIS_URL/q"; do
		run --separate-stderr pqueue $c
		[ "$status" -eq 1 ]
		[ "$stderr" = "pqueue: $REDIS_URL/q: connection refused" ]
	done
	run --separate-stderr pqueue run -f "$REDIS_URL/q" -- true
	[ "$status" -eq 125 ]
	[ "$stderr" = "pqueue: $REDIS_URL/q: connection refused" ]
}

@test "pqueue redis: push rides out a server restart mid-stream, none lost, none twice" {
	redis_start --appendonly yes --appendfsync always
	( seq 1 20000 | while read -r n; do
		echo "$n"; [ $(( n % 1000 )) -eq 0 ] && sleep 0.1
	done | pqueue push "$REDIS_URL/q" 2> push.err ) 3>&- &
	local prod=$!
	track "$prod"
	sleep 0.5
	kill -KILL "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null || true
	sleep 0.5
	redis_start_again --appendonly yes --appendfsync always
	wait "$prod" || { cat push.err; return 1; }
	pqueue pop -n -c 100000 "$REDIS_URL/q" > out || true
	local lost dup
	lost=$(sort -u out | comm -13 - <(seq 1 20000 | sort) | wc -l)
	dup=$(( $(wc -l < out) - $(sort -u out | wc -l) ))
	echo "lost $lost duplicated $dup" >&3
	[ "$lost" -eq 0 ]
	[ "$dup" -eq 0 ]
}

@test "pqueue redis: bad addresses and options are one line, exit 2" {
	local a
	for a in redis://h redis://h/ redis://h:0/k redis://h:65536/k \
	    redis://h:port/k redis:h/k 'redis://[::1/k'; do
		run --separate-stderr pqueue len "$a"
		[ "$status" -eq 2 ] || { echo "$a: $status $stderr"; return 1; }
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "pqueue: $a: "* ]]
	done
	run --separate-stderr pqueue len rediss://h/k
	[ "$status" -eq 2 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	run --separate-stderr pqueue run --lease soon redis://h/k -- true
	[ "$status" -eq 2 ]
	[ "$stderr" = "pqueue: run: bad --lease 'soon'" ]
	run --separate-stderr pqueue peek redis://h/k
	[ "$status" -eq 2 ]
	[ "$stderr" = "pqueue: peek: not available for Redis queues" ]
}

@test "pqueue redis: --group, --consumer and PQUEUE_REDIS_GROUP name the group and consumer" {
	redis_start
	pqueue push "$REDIS_URL/q" m1 m2
	pqueue run -c 1 --group audit --consumer a1 "$REDIS_URL/q" -- sh -c 'cat >> audit.out'
	[ "$(cat audit.out)" = m1 ]
	[ "$(redis-cli -p "$REDIS_PORT" XINFO CONSUMERS q audit | sed -n '/^name$/{n;p}')" = a1 ]
	PQUEUE_REDIS_GROUP=work PQUEUE_REDIS_CONSUMER=w1 run pqueue pop -c 1 "$REDIS_URL/q"
	[ "$output" = m2 ]
	[ "$(redis-cli -p "$REDIS_PORT" XINFO CONSUMERS q work | sed -n '/^name$/{n;p}')" = w1 ]
	[ "$(pqueue len "$REDIS_URL/q")" = 0 ]
}
