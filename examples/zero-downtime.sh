#!/bin/sh
# Reload a socket-sharing pool three times under a client loop: the
# listening socket belongs to the master, so no connection is refused.
. "$(dirname "$0")/common.sh"
TITLE=${TITLE:-web$$}
on_exit "pkillall-title -KILL -q '$TITLE-*'"

# Port 0 lets the kernel pick a free port; each pfserve worker writes
# "PID ok PORT NAMES" to a file in $RUN/env when it starts.
mkdir "$RUN/env"
say "prefork -n 4 -l tcp:127.0.0.1:0 -- pfserve (a socket-activated server)"
daemonize -p "$RUN/web.pid" -o "$RUN/web.log" -- \
    prefork -n 4 -t "$TITLE" -l tcp:127.0.0.1:0 -- pfserve -e "$RUN/env" || exit 1
until_true 50 sh -c "[ \$(pkillall-title -l '$TITLE-*' | wc -l) -eq 5 ]"
until_true 50 sh -c "[ \$(ls '$RUN/env' | wc -l) -ge 4 ]"
PORT=$(cat "$RUN"/env/* | awk '{ print $3 }' | sort -u | head -n 1)
echo "listening on 127.0.0.1:$PORT"
show pkillall-title -l "$TITLE-*"

say "a client connects in a loop while we reload three times (HUP)"
pfclient -s "$RUN/stop" -t 30 "tcp:127.0.0.1:$PORT" > "$RUN/client.out" &
client=$!
for i in 1 2 3; do
	sleep 1.5
	show daemonize -p "$RUN/web.pid" --signal HUP
done
sleep 1; touch "$RUN/stop"; wait "$client"
cat "$RUN/client.out"
show pkillall-title -l "$TITLE-*"
show daemonize -p "$RUN/web.pid" --stop
