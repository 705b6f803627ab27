#!/bin/sh
# A worker in the style of Swoole's tprocess example: loop on tasks and,
# when told to stop (TERM), finish the current task and leave cleanly.
# sh runs the trap only once the foreground "task" is done, so a stop
# always lands on a task boundary.
stop=0
trap 'stop=1' TERM
tasks=0
while [ "$stop" = 0 ]; do
	sleep 0.3		# the task
	tasks=$((tasks + 1))
done
echo "worker $PREFORK_WORKER (pid $$, generation $PREFORK_GENERATION):" \
    "stopped after $tasks tasks"
