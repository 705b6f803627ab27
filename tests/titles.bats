#!/usr/bin/env bats
# Titles survive #! scripts run through /usr/bin/env (lib/spawn resolves
# "env NAME" and "env -S NAME ARG..." itself), under looptest's spawn,
# prefork and daemonize -A.

bats_require_minimum_version 1.5.0

load helpers

# script FILE SHEBANG: a script that prints its cmdline (NULs as spaces)
# and its arguments.
script() {
	printf '%s\n' "$2" \
	    'tr "\0" " " < /proc/$$/cmdline; echo' \
	    'echo "args=$*"' > "$1"
	chmod +x "$1"
}

# argv0_pids PREFIX: pids whose argv[0] starts with PREFIX. (Like
# helpers.bash's title_pids, but a process that ends during the scan is
# skipped rather than reported under the previous one's argv[0].)
argv0_pids() {
	local d first
	for d in /proc/[0-9]*; do
		first=
		IFS= read -r -d '' first 2>/dev/null < "$d/cmdline"
		case $first in "$1"*) echo "${d#/proc/}" ;; esac
	done
}

@test "titles: spawn runs #!/usr/bin/env sh through sh itself, argv0 kept" {
	script s.sh '#!/usr/bin/env sh'
	run -0 looptest argv0 "$T-title" ./s.sh x y
	[ "${lines[0]}" = "$T-title ./s.sh x y " ]
	[ "${lines[1]}" = "args=x y" ]
}

@test "titles: #!/usr/bin/env -S sh -e: the words after NAME go to NAME" {
	script s.sh '#!/usr/bin/env -S sh -e'
	run -0 looptest argv0 "$T-title" ./s.sh x
	[ "${lines[0]}" = "$T-title -e ./s.sh x " ]
	[ "${lines[1]}" = "args=x" ]
	# -e is in force: a failing command ends the script.
	printf '#!/usr/bin/env -S  sh\t-e \nfalse\necho not reached\n' > f.sh
	chmod +x f.sh
	run -1 looptest argv0 "$T-title" ./f.sh
	[ "$output" = "" ]
}

@test "titles: NAME is searched on the PATH the command gets" {
	mkdir bin
	ln -s "$(command -v sh)" bin/mysh
	script s.sh '#!/usr/bin/env mysh'
	PATH=$PWD/bin:$PATH run -0 looptest argv0 "$T-title" ./s.sh x
	[ "${lines[0]}" = "$T-title ./s.sh x " ]
}

@test "titles: what env does beyond a PATH search still goes through env" {
	# An assignment: env sets it, then runs sh (title lost, as before).
	script s.sh '#!/usr/bin/env -S PKIT_X=1 sh'
	run -0 looptest argv0 "$T-title" ./s.sh a
	[ "${lines[0]}" = "sh ./s.sh a " ]
	# A NAME that is not on PATH: env's own error and status 127.
	printf '#!/usr/bin/env pkit-no-such-interpreter\n' > n.sh
	chmod +x n.sh
	run -127 looptest argv0 "$T-title" ./n.sh
	[[ "$output" == *pkit-no-such-interpreter* ]]
}

@test "titles: a prefork worker from a #!/usr/bin/env sh script carries its title" {
	local t=$T-$BATS_TEST_NUMBER-w pid cmd
	# The worker blocks opening a fifo nobody writes: sh itself waits,
	# forks nothing (a forked child would carry the title for a moment),
	# and leaves no child behind when the pool is killed.
	mkfifo never
	printf '%s\n' '#!/usr/bin/env sh' 'read x < "$1"' > w.sh
	chmod +x w.sh
	spawn_bg prefork -q -n 2 -t "$t" -- ./w.sh "$PWD/never"
	wait_for 20 eval '[ -n "$(argv0_pids "$t-0")" ] && [ -n "$(argv0_pids "$t-1")" ]'
	for pid in $(argv0_pids "$t-0") $(argv0_pids "$t-1"); do
		cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline")
		[[ "$cmd" == "$t-"[01]" "* ]]
		[ "$cmd" = "$t-${cmd:${#t}+1:1} ./w.sh $PWD/never " ]
		[[ "$(readlink "/proc/$pid/exe")" == */*sh ]]
	done
	# pkillall-title finds the pool by its title: master and workers.
	run -0 pkillall-title -l "$t-*"
	[ "${#lines[@]}" -eq 3 ]
	[[ "$output" == *" $t-master"* ]]
}

@test "titles: daemonize -A on a #!/usr/bin/env sh script keeps ARGV0" {
	local t=$T-$BATS_TEST_NUMBER-d
	printf '%s\n' '#!/usr/bin/env sh' 'tr "\0" " " < /proc/$$/cmdline > "$1"' \
	    'exec sleep 300' > d.sh
	chmod +x d.sh
	run -0 daemonize -c "$PWD" -p d.pid -A "$t" -- ./d.sh "$PWD/out"
	track "$(cat d.pid)"
	wait_for 20 test -s out
	# daemonize makes a relative COMMAND absolute (it runs in -c DIR).
	[ "$(cat out)" = "$t $PWD/d.sh $PWD/out " ]
	daemonize -p d.pid --stop
}
