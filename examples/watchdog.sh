#!/bin/sh
# A watchdog: every tick, check the service by title and restart it with
# daemonize when it is gone. daemonize -p is idempotent, so the same line
# works from cron.
. "$(dirname "$0")/common.sh"
SVC=${SVC:-svc$$}
on_exit "daemonize -q -p '$RUN/svc.pid' --stop -K -t 2s"

start() { daemonize -q -p "$RUN/svc.pid" -A "$SVC" -- sleep 1000; }

say "service: daemonize -A $SVC -- sleep 1000"
start
show pkillall-title -l -a "$SVC"

say "watchdog: palarm -c 6 500ms | while read tick; do check || restart; done"
restarts=0
palarm -c 6 500ms | while read -r tick; do
	if [ "$tick" = 2 ]; then
		echo "tick $tick: killing the service with -9"
		kill -9 "$(cat "$RUN/svc.pid")"
		until_true 20 sh -c "! pkillall-title -q -0 -a '$SVC'"
		continue
	fi
	if pkillall-title -q -0 -a "$SVC"; then
		echo "tick $tick: $SVC is running (pid $(cat "$RUN/svc.pid"))"
	else
		echo "tick $tick: $SVC is gone, restarting"
		start
		restarts=$((restarts + 1))
	fi
done
show pkillall-title -l -a "$SVC"

say "the same check from cron, once a minute:"
echo "* * * * * daemonize -q -p /run/svc.pid -A $SVC -- sleep 1000"
