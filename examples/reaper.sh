#!/bin/sh
# A leaky parent under preap: its children become zombies (it never waits)
# and then orphans; preap reaps every orphan and logs it.
. "$(dirname "$0")/common.sh"

say "the leaky parent: 20 children it never waits for, then it execs sleep"
leaky='i=1; while [ $i -le 20 ]; do (sleep 0.$((i % 5)); exit $((i % 3))) & i=$((i + 1)); done; exec sleep 1'
echo "  sh -c '$leaky'"

say "preap -w -r reaped.log -- sh -c '...'"
t=$(ms_now)
show preap -w -r "$RUN/reaped.log" -- sh -c "$leaky"
st=$?
took=$(( $(ms_now) - t ))
echo "exit status: $st"
echo "reap log (PID CODE SIGNAL NAME), $(wc -l < "$RUN/reaped.log") lines:"
head -n 5 "$RUN/reaped.log" | sed 's/^/  /'
echo "  ..."
say "zombies left on the system by this demo:"
n=$(preap -z 2>/dev/null | awk -v me=$$ '$2 == me' | wc -l)
echo "$n"
# sh may reap a few children itself before it execs sleep (how many
# depends on timing); preap reaps the rest, and none is left a zombie.
summary "$(count cat "$RUN/reaped.log") processes reaped and logged in ${took} ms" \
    "(exit status $st), $n zombies left"
[ "$st" -eq 0 ] && [ "$(count cat "$RUN/reaped.log")" -ge 1 ] && [ "$n" -eq 0 ]
