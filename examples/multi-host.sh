#!/bin/sh
# A worker pool on many hosts around one Redis broker, simulated with
# network namespaces: one "broker" host runs redis-server (AOF on, fsync
# always), two or three "worker" hosts each run
#     prefork -n 2 -- pqueue run -f --lease 2s redis://BROKER/jobs -- JOB
# reaching the broker over their own veth link. 10,000 jobs go in; then
# one fault: every process of one worker host is killed (MH_FAULT=host),
# or redis-server is killed and started again (MH_FAULT=redis), or none.
# At the end every job must be done at least once; the duplicates (jobs
# done twice because their holder died after the work, before the ack)
# are counted. Needs root (ip netns) and redis-server.
#
#   MH_HOSTS (3)  MH_JOBS (10000)  MH_FAULT (host)  MH_LEASE (2s)
#   MH_PREFIX (pkmh$$: the namespaces are PREFIX-broker, PREFIX-w1, ...)
#   MH_TIMEOUT (600 s)  MH_RUNNER (pqueue, or rsdrv from the tests)
. "$(dirname "$0")/common.sh"
P=${MH_PREFIX:-pkmh$$}
HOSTS=${MH_HOSTS:-3}
JOBS=${MH_JOBS:-10000}
FAULT=${MH_FAULT:-host}
LEASE=${MH_LEASE:-2s}
TIMEOUT=${MH_TIMEOUT:-600}
NET=10.231

[ "$(id -u)" = 0 ] || { echo "multi-host.sh: needs root for ip netns" >&2; exit 1; }
command -v redis-server >/dev/null ||
	{ echo "multi-host.sh: redis-server not installed" >&2; exit 1; }
if [ -z "$MH_RUNNER" ]; then
	if pqueue -h | grep -q 'redis://'; then MH_RUNNER=pqueue; else MH_RUNNER=rsdrv; fi
fi

# run_on HOST CMD...: run CMD on a simulated host.
run_on() { h=$1; shift; ip netns exec "$P-$h" "$@"; }
broker() { run_on broker redis-cli -p 6379 "$@"; }
url() { echo "redis://$NET.$1.1:6379/jobs"; }

# Every process of every host of ours is killed, then the namespaces go.
netns_cleanup() {
	for h in broker $(seq 1 "$HOSTS" | sed 's/^/w/'); do
		pids=$(ip netns pids "$P-$h" 2>/dev/null)
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		ip netns del "$P-$h" 2>/dev/null
	done
	return 0
}
on_exit netns_cleanup

say "hosts: $P-broker ($NET.N.1) and $HOSTS workers ($NET.N.2)"
ip netns add "$P-broker"
ip -n "$P-broker" link set lo up
for i in $(seq 1 "$HOSTS"); do
	ip netns add "$P-w$i"
	ip -n "$P-w$i" link set lo up
	ip -n "$P-broker" link add "b$i" type veth peer name eth0 netns "$P-w$i"
	ip -n "$P-broker" addr add "$NET.$i.1/24" dev "b$i"
	ip -n "$P-broker" link set "b$i" up
	ip -n "$P-w$i" addr add "$NET.$i.2/24" dev eth0
	ip -n "$P-w$i" link set eth0 up
done

mkdir "$RUN/redis"
start_broker() {
	run_on broker redis-server --bind 0.0.0.0 --port 6379 \
	    --protected-mode no --dir "$RUN/redis" --appendonly yes \
	    --appendfsync always --save '' --daemonize no \
	    --logfile "$RUN/redis/log" &
	BROKER=$!
	until_true 100 sh -c "[ \"\$(ip netns exec $P-broker redis-cli PING 2>/dev/null)\" = PONG ]"
}
start_broker

# The job: one line per done job into the host's own file (O_APPEND
# writes of a line are atomic).
cat > "$RUN/job" <<'EOF'
#!/bin/sh
read -r m
echo "$m" >> "$1"
EOF
chmod +x "$RUN/job"

say "push $JOBS jobs from host w1"
if [ "$MH_RUNNER" = pqueue ]; then
	seq 1 "$JOBS" | run_on w1 pqueue push "$(url 1)"
else
	seq 1 "$JOBS" | run_on w1 rsdrv "$(url 1)" push
fi
echo "jobs waiting: $(broker XLEN jobs)"

say "a pool of 2 on each worker host ($MH_RUNNER run -f)"
for i in $(seq 1 "$HOSTS"); do
	if [ "$MH_RUNNER" = pqueue ]; then
		run_on "w$i" prefork -q -n 2 -- pqueue run -f --lease "$LEASE" \
		    "$(url "$i")" -- "$RUN/job" "$RUN/done.w$i" &
	else
		run_on "w$i" prefork -q -n 2 -- rsdrv -l "$LEASE" -P 1h \
		    "$(url "$i")" run -f -- "$RUN/job" "$RUN/done.w$i" &
	fi
done

done_count() { cat "$RUN"/done.* 2>/dev/null | wc -l; }
progress() { [ "$(done_count)" -ge "$1" ]; }
left() { [ "$(broker XLEN jobs)" = 0 ]; }

case $FAULT in
host)
	until_true $((TIMEOUT * 10)) progress $((JOBS / 5)) ||
		{ echo "multi-host.sh: no progress" >&2; exit 1; }
	say "kill -9 every process of host w1 (after $(done_count) jobs)"
	kill -KILL $(ip netns pids "$P-w1")
	;;
redis)
	until_true $((TIMEOUT * 10)) progress $((JOBS / 4)) ||
		{ echo "multi-host.sh: no progress" >&2; exit 1; }
	say "kill -9 redis-server, start it again from its AOF (after $(done_count) jobs)"
	kill -KILL "$BROKER"
	wait "$BROKER" 2>/dev/null
	sleep 1
	start_broker
	;;
esac

say "wait until the stream is empty"
until_true $((TIMEOUT * 10)) left || echo "timed out; $(broker XLEN jobs) left"
broker XINFO GROUPS jobs | paste - - | head -20 | sed 's/^/  /'

all=$(cat "$RUN"/done.* | wc -l)
distinct=$(cat "$RUN"/done.* | sort -u | wc -l)
lost=$(cat "$RUN"/done.* | sort -u | comm -13 - "$(seq 1 "$JOBS" | sort > "$RUN/all"; echo "$RUN/all")" | wc -l)
for i in $(seq 1 "$HOSTS"); do
	echo "host w$i did $(wc -l < "$RUN/done.w$i" 2>/dev/null || echo 0) jobs"
done
echo "jobs $JOBS done $distinct lost $lost duplicates $((all - distinct))"
[ "$lost" -eq 0 ]
