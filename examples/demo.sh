#!/bin/sh
# make demo: the four behaviours, one after another, with a narrative.
EX=$(cd "$(dirname "$0")" && pwd)
status=0
for ex in daemon-pool queue-pool watchdog zero-downtime reaper; do
	printf '\n######## %s\n' "$ex"
	sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}/  /p}' "$EX/$ex.sh"
	sh "$EX/$ex.sh" || { echo "demo: $ex failed" >&2; status=1; }
done
exit $status
