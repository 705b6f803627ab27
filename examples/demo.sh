#!/bin/sh
# make demo: the five behaviours, one after another, with a narrative,
# then one line per example with its figures.
EX=$(cd "$(dirname "$0")" && pwd)
PKIT_DEMO_SUMMARY=$(mktemp "${TMPDIR:-/tmp}/pkit-demo.XXXXXX")
export PKIT_DEMO_SUMMARY
trap 'rm -f "$PKIT_DEMO_SUMMARY"' EXIT
status=0
for ex in daemon-pool queue-pool watchdog zero-downtime reaper; do
	printf '\n######## %s\n' "$ex"
	sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}/  /p}' "$EX/$ex.sh"
	if ! sh "$EX/$ex.sh"; then
		echo "demo: $ex failed" >&2
		printf '%-14s FAILED\n' "$ex" >> "$PKIT_DEMO_SUMMARY"
		status=1
	fi
done
printf '\n######## summary\n'
cat "$PKIT_DEMO_SUMMARY"
exit $status
