#!/usr/bin/env bats
# lib/spawn and lib/loop, through the looptest helper.

bats_require_minimum_version 1.5.0
load helpers

@test "spawn: a missing command fails with ENOENT, status 127" {
	run -0 looptest exec-fail ./no-such-command
	[ "$output" = "No such file or directory 127" ]
	run -0 looptest exec-fail no-such-command-on-path
	[ "$output" = "No such file or directory 127" ]
}

@test "spawn: a non-executable file fails with EACCES, status 126" {
	echo 'echo hi' > plain
	chmod 644 plain
	run -0 looptest exec-fail ./plain
	[ "$output" = "Permission denied 126" ]
}

@test "spawn: the failed child is reaped before spawn_start returns" {
	# The helper checks waitpid(-1, WNOHANG) says ECHILD right after.
	run -0 looptest exec-fail ./nope
	[ "$output" = "No such file or directory 127" ]
}

@test "spawn: argv0 override keeps the title for a #!/bin/sh script" {
	printf '#!/bin/sh\ntr "\\0" " " < /proc/$$/cmdline; echo; echo "args=$*"\n' > s.sh
	chmod +x s.sh
	run -0 looptest argv0 "$T-title" ./s.sh x y
	[ "${lines[0]}" = "$T-title ./s.sh x y " ]
	[ "${lines[1]}" = "args=x y" ]
}

@test "spawn: argv0 override on a binary found on PATH" {
	run -7 looptest argv0 "$T-sh" sh -c 'tr "\0" " " < /proc/$$/cmdline; exit 7'
	[ "$output" = "$T-sh -c tr \"\\0\" \" \" < /proc/\$\$/cmdline; exit 7 " ]
}

@test "spawn: child holds exactly 0, 1, 2 and the passed fds, in order" {
	run -0 looptest fds
	run -0 cat out
	[ "${#lines[@]}" -eq 5 ]
	[ "${lines[2]}" = "2 $BATS_TEST_TMPDIR/out" ]
	[ "${lines[3]}" = "3 $BATS_TEST_TMPDIR/b" ]
	[ "${lines[4]}" = "4 $BATS_TEST_TMPDIR/a" ]
}

@test "spawn: child starts with an empty mask and default dispositions" {
	run -0 looptest sigstate
	printf '%s\n' "$output"
	[ "${lines[0]}" = "SigBlk:	0000000000000000" ]
	[ "${lines[1]}" = "SigIgn:	0000000000000000" ]
}

@test "loop: timers fire in time order; cancel and add during dispatch" {
	run -0 looptest timers
	[ "$output" = "t10
t10b
t20
added
t40
elapsed_ok 1" ]
}

@test "loop: a signal reaches its callback; inherited SIG_IGN on CHLD is reset" {
	run -0 timeout 10 looptest signal
	[[ "$output" == *USR1* ]]
	[[ "$output" == *"CHLD status 3"* ]]
}
