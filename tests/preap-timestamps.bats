#!/usr/bin/env bats
# preap --timestamps (issue 13 item 7): its notices (-v's reaped
# processes, warnings) start with an RFC 3339 UTC time with
# milliseconds, the format of prefork --timestamps; the -r record keeps
# its format, and without the option lines are as they always were.

bats_require_minimum_version 1.5.0
load helpers

TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

@test "preap --timestamps -v: each reaped process's line carries the UTC time" {
	local before after ts
	before=$(date -u +%s)
	run -3 --separate-stderr preap --timestamps -v -w -r rec -- bash -c \
	    '(sleep 0.2; exit 5) & exit 3'
	after=$(date -u +%s)
	printf '%s\n' "${stderr_lines[@]}"
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ ${stderr_lines[0]} =~ ^preap:\ $TS\ reaped\ [0-9]+\ \(bash\):\ exited\ with\ status\ 3$ ]]
	[[ ${stderr_lines[1]} =~ ^preap:\ $TS\ reaped\ [0-9]+\ \(bash\):\ exited\ with\ status\ 5$ ]]
	ts=$(echo "${stderr_lines[1]}" | cut -d' ' -f2)
	ts=$(date -u -d "${ts%.*}" +%s)
	[ "$ts" -ge "$before" ]
	[ "$ts" -le "$after" ]
	# The record is for programs: no stamp.
	grep -Eq '^[0-9]+ 5 0 bash$' rec
}

@test "preap --timestamps: a warning is stamped too" {
	run -0 --separate-stderr preap --timestamps -r /dev/full -- sh -c 'sh -c true; exit 0'
	echo "$stderr"
	[[ $stderr =~ ^preap:\ $TS\ cannot\ write\ to\ \'/dev/full\':\ No\ space\ left\ on\ device$ ]]
}

@test "preap: without --timestamps -v lines are unstamped; -z takes no --timestamps" {
	run -3 --separate-stderr preap -v -- sh -c 'exit 3'
	[[ $stderr =~ ^preap:\ reaped\ [0-9]+\ \(sh\):\ exited\ with\ status\ 3$ ]]
	run -2 --separate-stderr preap -z --timestamps
	[ "$stderr" = "preap: -z takes no other option and no COMMAND" ]
}
