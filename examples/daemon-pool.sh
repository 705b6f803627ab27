#!/bin/sh
# A daemonized pool of five titled workers: start, list by title, kill a
# worker and watch it come back, reload, stop by title.
. "$(dirname "$0")/common.sh"
TITLE=${TITLE:-tprocess$$}
on_exit "pkillall-title -KILL -q '$TITLE-*'"
procs() { [ "$(count pkillall-title -l "$TITLE-*")" -eq "$1" ]; }
slot2() { pkillall-title -l -a "$TITLE-2" | cut -d' ' -f1; }

say "start: daemonize + prefork -n 5 -t $TITLE"
t=$(ms_now)
show daemonize -p "$RUN/tp.pid" -a -o "$RUN/tp.log" -e "$RUN/tp.log" -- \
    prefork -n 5 -t "$TITLE" -- "$EX/tprocess-worker.sh" || exit 1
until_true 600 procs 6 || exit 1
up=$(( $(ms_now) - t ))
show pkillall-title -l "$TITLE-*"

say "kill -9 worker 2: prefork puts a new one in slot 2"
old=$(slot2)
t=$(ms_now)
show kill -9 "$old"
until_true 600 sh -c "p=\$(pkillall-title -l -a '$TITLE-2' | cut -d' ' -f1); [ -n \"\$p\" ] && [ \"\$p\" != $old ]" || exit 1
back=$(( $(ms_now) - t ))
show pkillall-title -l -a "$TITLE-2"

say "reload (HUP): workers are replaced one slot at a time"
# Each worker of generation 0 logs a line when it stops; the reload is
# over when all five did and five new ones run.
t=$(ms_now)
show daemonize -p "$RUN/tp.pid" --signal HUP || exit 1
until_true 600 sh -c "[ \$(grep -c 'generation 0)' '$RUN/tp.log') -ge 5 ]" || exit 1
until_true 600 procs 6 || exit 1
reload=$(( $(ms_now) - t ))
show pkillall-title -l "$TITLE-*"

say "stop by title: TERM to the master, workers finish their task"
t=$(ms_now)
show pkillall-title -w -t 60s "$TITLE-master" || exit 1
stop=$(( $(ms_now) - t ))
show daemonize -p "$RUN/tp.pid" --status
echo "log:"
sed 's/^/  /' "$RUN/tp.log"
left=$(count pkillall-title -l "$TITLE-*")
echo "processes left with title $TITLE-*: $left"
summary "6 processes up in ${up} ms, worker 2 back in ${back} ms," \
    "5 reloaded in ${reload} ms, stopped in ${stop} ms, $left left"
[ "$left" -eq 0 ]
