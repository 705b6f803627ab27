#!/bin/sh
# A daemonized pool of five titled workers: start, list by title, kill a
# worker and watch it come back, reload, stop by title.
. "$(dirname "$0")/common.sh"
TITLE=${TITLE:-tprocess$$}
on_exit "pkillall-title -KILL -q '$TITLE-*'"

say "start: daemonize + prefork -n 5 -t $TITLE"
show daemonize -p "$RUN/tp.pid" -a -o "$RUN/tp.log" -e "$RUN/tp.log" -- \
    prefork -n 5 -t "$TITLE" -- "$EX/tprocess-worker.sh" || exit 1
until_true 50 sh -c "[ \$(pkillall-title -l '$TITLE-*' | wc -l) -eq 6 ]"
show pkillall-title -l "$TITLE-*"

say "kill -9 worker 2: prefork puts a new one in slot 2"
old=$(pkillall-title -l -a "$TITLE-2" | cut -d' ' -f1)
show kill -9 "$old"
until_true 50 sh -c "p=\$(pkillall-title -l -a '$TITLE-2' | cut -d' ' -f1); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"
show pkillall-title -l -a "$TITLE-2"

say "reload (HUP): workers are replaced one slot at a time"
show daemonize -p "$RUN/tp.pid" --signal HUP
sleep 2
show pkillall-title -l "$TITLE-*"

say "stop by title: TERM to the master, workers finish their task"
show pkillall-title -w -t 15s "$TITLE-master"
show daemonize -p "$RUN/tp.pid" --status
echo "log:"
sed 's/^/  /' "$RUN/tp.log"
left=$(pkillall-title -l "$TITLE-*" | wc -l)
echo "processes left with title $TITLE-*: $left"
[ "$left" -eq 0 ]
