#!/usr/bin/env bats
# daemonize --timestamps (issue 13 item 7): every notice daemonize writes
# (the --check report, -N's, --stop's) starts with an RFC 3339 UTC time
# with milliseconds, the format of prefork --timestamps; without the
# option lines are as they always were.

bats_require_minimum_version 1.5.0
load helpers

TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

local_setup() {
	A=$T-$BATS_TEST_NUMBER-d
}

local_teardown() {
	[ -f d.pid ] && daemonize -q -p d.pid --signal KILL 2>/dev/null
	return 0
}

@test "daemonize --timestamps: the --check report and its stderr lines carry the UTC time" {
	local before after ts
	before=$(date -u +%s)
	run -1 --separate-stderr daemonize --timestamps -p d.pid -e err -- \
	    sh -c 'echo "it failed" >&2; exit 3'
	after=$(date -u +%s)
	printf '%s\n' "${stderr_lines[@]}"
	[[ ${stderr_lines[0]} =~ ^daemonize:\ $TS\ pid\ [0-9]+\ exited\ with\ status\ 3\ within\ 300ms\ of\ its\ start$ ]]
	[[ ${stderr_lines[1]} =~ ^daemonize:\ $TS\ its\ last\ lines\ on\ stderr,\ in\ $PWD/err$ ]]
	[[ ${stderr_lines[2]} =~ ^daemonize:\ $TS\ \ \ it\ failed$ ]]
	ts=$(echo "${stderr_lines[0]}" | cut -d' ' -f2)
	ts=$(date -u -d "${ts%.*}" +%s)
	[ "$ts" -ge "$before" ]
	[ "$ts" -le "$after" ]
}

@test "daemonize --timestamps -N -v: readiness notices are stamped" {
	run -0 --separate-stderr daemonize --timestamps -v -N -p d.pid -A "$A" -- \
	    dnotify -d 100 -s 'warming up'
	printf '%s\n' "${stderr_lines[@]}"
	[[ $stderr =~ (^|$'\n')daemonize:\ $TS\ started\ \'dnotify\'\ as\ pid\ [0-9]+($'\n'|$) ]]
	[[ $stderr =~ (^|$'\n')daemonize:\ $TS\ pid\ [0-9]+:\ warming\ up($'\n'|$) ]]
	[[ $stderr =~ (^|$'\n')daemonize:\ $TS\ pid\ [0-9]+\ ready($'\n'|$) ]]
	run -1 --separate-stderr daemonize --timestamps -N -w 500ms -A "$A-2" -- dnotify -n
	track $(title_pids "$A-2")
	[[ $stderr =~ ^daemonize:\ $TS\ pid\ [0-9]+\ not\ ready\ after\ 500ms\;\ left\ running$ ]]
}

@test "daemonize --timestamps: --stop's notices and the already-running notice are stamped" {
	run -0 --separate-stderr daemonize -p d.pid -A "$A" -- sleep 300
	run -0 --separate-stderr daemonize --timestamps -p d.pid -A "$A" -- sleep 300
	[[ $stderr =~ ^daemonize:\ $TS\ already\ running\ \(pid\ [0-9]+\)$ ]]
	run -0 --separate-stderr daemonize --timestamps -v -p d.pid --stop
	printf '%s\n' "${stderr_lines[@]}"
	[[ ${stderr_lines[0]} =~ ^daemonize:\ $TS\ sent\ TERM\ to\ pid\ [0-9]+$ ]]
	[[ ${stderr_lines[1]} =~ ^daemonize:\ $TS\ pid\ [0-9]+\ stopped$ ]]
}

@test "daemonize: without --timestamps notices are unstamped, also when stderr is a file" {
	daemonize -p d.pid -- sh -c 'exit 3' 2> err || true
	cat err
	grep -Eq '^daemonize: pid [0-9]+ exited with status 3 within 300ms of its start$' err
}
