#!/bin/sh
# Reload a socket-sharing pool three times under a client loop: the
# listening socket belongs to the master, so no connection is refused.
. "$(dirname "$0")/common.sh"
TITLE=${TITLE:-web$$}
on_exit "pkillall-title -KILL -q '$TITLE-*'"
procs() { [ "$(count pkillall-title -l "$TITLE-*")" -eq "$1" ]; }
started() { [ "$(count ls "$RUN/env")" -ge "$1" ]; }

# Port 0 lets the kernel pick a free port; each pfserve worker writes
# "PID ok PORT NAMES" to a file in $RUN/env when it starts.
mkdir "$RUN/env"
say "prefork -n 4 -l tcp:127.0.0.1:0 -- pfserve (a socket-activated server)"
daemonize -p "$RUN/web.pid" -o "$RUN/web.log" -e "$RUN/web.log" -- \
    prefork -n 4 -t "$TITLE" -l tcp:127.0.0.1:0 -- pfserve -e "$RUN/env" || exit 1
until_true 600 procs 5 || exit 1
until_true 600 started 4 || exit 1
PORT=$(cat "$RUN"/env/* | awk '{ print $3 }' | sort -u | head -n 1)
echo "listening on 127.0.0.1:$PORT"
show pkillall-title -l "$TITLE-*"

say "a client connects in a loop while we reload three times (HUP)"
pfclient -s "$RUN/stop" -t 300 "tcp:127.0.0.1:$PORT" > "$RUN/client.out" &
client=$!
on_exit "touch '$RUN/stop'; wait $client 2>/dev/null"
t=$(ms_now)
for i in 1 2 3; do
	# A reload is over when four new workers have started and the old
	# ones are gone (prefork -l starts each new worker first).
	n=$(count ls "$RUN/env")
	show daemonize -p "$RUN/web.pid" --signal HUP || exit 1
	until_true 600 started $((n + 4)) || exit 1
	until_true 600 procs 5 || exit 1
done
reloads=$(( $(ms_now) - t ))
touch "$RUN/stop"; wait "$client"; cstatus=$?
cat "$RUN/client.out"
show pkillall-title -l "$TITLE-*"
t=$(ms_now)
show daemonize -p "$RUN/web.pid" --stop -t 60s || { cat "$RUN/web.log"; exit 1; }
stop=$(( $(ms_now) - t ))
set -- $(cat "$RUN/client.out")
summary "3 reloads in ${reloads} ms, $(count ls "$RUN/env") workers in all;" \
    "client: $2 connections answered, $4 failed; stopped in ${stop} ms"
[ "$cstatus" -eq 0 ]
