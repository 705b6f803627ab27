#!/bin/sh
# Jobs into a durable queue, a pool of four at-least-once consumers, the
# results into a second queue; one job that always fails ends in the
# dead-letter list.
. "$(dirname "$0")/common.sh"
TITLE=${TITLE:-qpool$$}
export PQUEUE_DIR="$RUN/queues"
on_exit "pkillall-title -KILL -q '$TITLE-*'"

say "push 20 jobs and one poison job"
{ seq 1 10 | sed 's/^/job /'; echo "poison 0"; seq 11 20 | sed 's/^/job /'; } |
    pqueue push jobs
show pqueue len jobs

say "a pool of 4: prefork -- pqueue run -f --max-attempts 3 jobs -- handle-job.sh"
t=$(ms_now)
prefork -q -n 4 -t "$TITLE" -- pqueue run -f --max-attempts 3 jobs -- \
    "$EX/handle-job.sh" 2>"$RUN/pool.err" &
pool=$!
on_exit "kill $pool 2>/dev/null; wait $pool 2>/dev/null"
until_true 1200 sh -c '[ "$(pqueue len results)" -ge 20 ] && [ "$(pqueue dead jobs | wc -l)" -ge 1 ]' || exit 1
took=$(( $(ms_now) - t ))
show pqueue stat

say "stop the pool (TERM), then read the results"
kill "$pool"; wait "$pool"
pqueue pop -n -c 100 results | sort -t= -k1,1n > "$RUN/results"
sed 's/^/  /' "$RUN/results"
say "the dead-letter list"
show pqueue dead jobs
tries=$(grep -c poison "$RUN/pool.err")
summary "$(count cat "$RUN/results") results and $(count pqueue dead jobs) dead" \
    "letter (poison, $tries failed attempts) in ${took} ms; $(pqueue len jobs) jobs left"
