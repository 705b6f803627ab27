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
palarm -c 6 500ms | while read -r tick; do
	# A late tick may be coalesced: kill at the first one from 2 on.
	if [ "$tick" -ge 2 ] && [ ! -e "$RUN/killed" ]; then
		: > "$RUN/killed"
		echo "tick $tick: killing the service with -9"
		kill -9 "$(cat "$RUN/svc.pid")"
		until_true 300 sh -c "! pkillall-title -q -0 -a '$SVC'"
		continue
	fi
	if pkillall-title -q -0 -a "$SVC"; then
		echo "tick $tick: $SVC is running (pid $(cat "$RUN/svc.pid"))"
	else
		echo "tick $tick: $SVC is gone, restarting"
		start
	fi
done | tee "$RUN/ticks"
show pkillall-title -l -a "$SVC" || exit 1

say "the same check from cron, once a minute:"
echo "* * * * * daemonize -q -p /run/svc.pid -A $SVC -- sleep 1000"
summary "$(count cat "$RUN/ticks") ticks," \
    "killed at tick $(grep killing "$RUN/ticks" | cut -d: -f1 | cut -d' ' -f2)," \
    "$(grep -c restarting "$RUN/ticks") restart ($(grep restarting "$RUN/ticks" |
    cut -d: -f1 | head -n 1)), running as pid $(cat "$RUN/svc.pid")"
[ "$(grep -c restarting "$RUN/ticks")" -eq 1 ]
