#!/bin/sh
# One job from pqueue run: the message is on stdin. "poison" always
# fails; anything else is squared and the result pushed to "results".
read -r job n
[ "$job" = poison ] && { echo "job $PQUEUE_ID: poison (attempt $PQUEUE_ATTEMPT)" >&2; exit 1; }
pqueue push results "$n^2=$((n * n)) by worker $PREFORK_WORKER"
