#!/usr/bin/env bats
# completions/pkit.bash: the _pkit function driven with COMP_WORDS set, as
# bash does on TAB.

bats_require_minimum_version 1.5.0

load helpers

TOP=$BATS_TEST_DIRNAME/..

local_setup() {
	# shellcheck source=../completions/pkit.bash
	source "$TOP/completions/pkit.bash"
}

# comp WORD...: complete the last WORD of the command line WORD...;
# the candidates are left in $reply, one a line, sorted.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_pkit || :
	reply=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u)
}

# has WORD: WORD is one of the candidates.
has() { grep -qxF -- "$1" <<<"$reply"; }

# long_options PROG [FUNCTION]: the long option names of the struct
# option table in cmd/PROG.c (in FUNCTION only, when given).
long_options() {
	local src=$TOP/cmd/$1.c
	if [ -n "$2" ]; then
		sed -n "/^$2(/,/^}/p" "$src"
	else
		cat "$src"
	fi | grep -oE '^[[:space:]]*\{ *"[a-z0-9-]+", *(no|required|optional)_argument' |
	    sed -E 's/^[[:space:]]*\{ *"([^"]+)".*/--\1/' | sort -u
}

@test "completion: is registered for the six programs" {
	local p
	for p in daemonize prefork pqueue palarm preap pkillall-title; do
		run complete -p "$p"
		[ "$status" -eq 0 ]
		[ "$output" = "complete -F _pkit $p" ]
	done
}

@test "completion: daemonize --p<TAB> gives the long options, --pidfile among them" {
	comp daemonize --p
	has --pidfile
	! grep -qv '^--p' <<<"$reply"
	comp daemonize --pidf
	[ "$reply" = --pidfile ]
	comp daemonize --stop-s
	[ "$reply" = --stop-signal ]
}

@test "completion: daemonize -p <TAB> offers files, not signal names" {
	mkdir sub
	: > run.pid
	: > other
	comp daemonize -p ''
	has run.pid
	has other
	has sub
	! has TERM
	comp daemonize -p r
	[ "$reply" = run.pid ]
	comp daemonize --pidfile r
	[ "$reply" = run.pid ]
	comp daemonize --pidfile=r
	[ "$reply" = run.pid ]
	local o
	for o in -o -e -l --stdout --stderr --lockfile; do
		comp daemonize "$o" ru
		[ "$reply" = run.pid ]
	done
	comp prefork -p ru
	[ "$reply" = run.pid ]
	comp preap -r ru
	[ "$reply" = run.pid ]
	comp daemonize -c ''
	[ "$reply" = sub ]
}

@test "completion: prefork -S <TAB> and other signal options offer signal names" {
	: > TERMINAL
	comp prefork -S ''
	has TERM
	has HUP
	has QUIT
	has KILL
	! has TERMINAL
	comp prefork -S TT
	[ "$reply" = "$(printf 'TTIN\nTTOU')" ]
	comp prefork --stop-signal=QU
	[ "$reply" = QUIT ]
	comp daemonize --stop -s K
	[ "$reply" = KILL ]
	comp daemonize --signal US
	[ "$reply" = "$(printf 'USR1\nUSR2')" ]
	comp palarm -s AL
	[ "$reply" = ALRM ]
	comp preap -p HU
	[ "$reply" = HUP ]
	comp pkillall-title -s WIN
	[ "$reply" = WINCH ]
	comp pkillall-title -US
	[ "$reply" = "$(printf -- '-USR1\n-USR2')" ]
}

@test "completion: pkillall-title -l <TAB> offers the titles of the caller's processes" {
	local a=$T-$BATS_TEST_NUMBER-alpha b=$T-$BATS_TEST_NUMBER-beta
	local c=$T-$BATS_TEST_NUMBER-gamma
	spawn_bg bash -c 'exec -a "$0" sleep 300' "$a"
	spawn_bg bash -c 'exec -a "$0" sleep 300' "$b"
	spawn_bg titled -p c.pid "$c"
	wait_for 10 eval '[ "$(title_pids "$a")" ] && [ "$(title_pids "$b")" ] && [ -s c.pid ]'
	# "alpha 300" is a title of two words: offered as a pattern that
	# matches it, its "*" escaped for the shell; "gamma" is all of its
	# title: offered as it is.
	comp pkillall-title -l "$T-$BATS_TEST_NUMBER-"
	[ "$reply" = "$(printf '%s\\*\n%s\\*\n%s' "$a" "$b" "$c")" ]
	comp pkillall-title -l -e "$T-$BATS_TEST_NUMBER-a"
	[ "$reply" = "$a\*" ]
	comp pkillall-title -TERM -w -t 5s "$T-$BATS_TEST_NUMBER-b"
	[ "$reply" = "$b\*" ]
	# With -a (alone or bundled) the pattern is argv[0].
	comp pkillall-title -a -l "$T-$BATS_TEST_NUMBER-a"
	[ "$reply" = "$a" ]
	comp pkillall-title -la "$T-$BATS_TEST_NUMBER-a"
	[ "$reply" = "$a" ]
	# Each offered pattern matches as typed (the shell removes the \).
	: > "$a-a-file-the-glob-would-match"
	eval "run -0 pkillall-title -l $a\\*"
	[ "${#lines[@]}" -eq 1 ]
	run -0 pkillall-title -l -a "$a"
	[ "${#lines[@]}" -eq 1 ]
	run -0 pkillall-title -l "$c"
	[ "$output" = "$(cat c.pid) $c" ]
	# -t's value is a duration: left alone.
	comp pkillall-title -w -t "$T"
	[ "$reply" = "" ]
}

@test "completion: durations, counts and titles are left alone" {
	: > 1s
	comp palarm -d ''
	[ "$reply" = "" ]
	comp palarm -d 1s ''
	[ "$reply" = "" ]
	comp prefork -g ''
	[ "$reply" = "" ]
	comp prefork -n ''
	[ "$reply" = "" ]
	comp prefork -t ''
	[ "$reply" = "" ]
	comp daemonize -w ''
	[ "$reply" = "" ]
	comp daemonize --stop -t 1
	[ "$reply" = "" ]
	comp preap -k ''
	[ "$reply" = "" ]
	comp pqueue pop -w ''
	[ "$reply" = "" ]
}

@test "completion: palarm -p <TAB> offers the caller's pids" {
	comp palarm -p "$$"
	has "$$"
}

@test "completion: pqueue offers subcommands, then queue names from its directory" {
	mkdir qd other xdg xdg/pqueue
	pqueue -d "$PWD/qd" push jobs a
	pqueue -d "$PWD/qd" push results b
	pqueue -d "$PWD/other" push elsewhere c
	pqueue -d "$PWD/xdg/pqueue" push fromxdg d
	comp pqueue p
	[ "$reply" = "$(printf 'peek\npop\npurge\npush')" ]
	PQUEUE_DIR=$PWD/qd comp pqueue pop ''
	[ "$reply" = "$(printf 'jobs\nresults')" ]
	PQUEUE_DIR=$PWD/qd comp pqueue run -f j
	[ "$reply" = jobs ]
	comp pqueue -d "$PWD/other" len ''
	[ "$reply" = elsewhere ]
	comp pqueue --dir="$PWD/other" len ''
	[ "$reply" = elsewhere ]
	PQUEUE_DIR=$PWD/qd comp pqueue -d other -q stat ''
	[ "$reply" = elsewhere ]
	(
		unset PQUEUE_DIR
		XDG_RUNTIME_DIR=$PWD/xdg comp pqueue push ''
		[ "$reply" = fromxdg ]
	)
	# After the queue: messages, then (run) the command.
	PQUEUE_DIR=$PWD/qd comp pqueue push jobs ''
	[ "$reply" = "" ]
	PQUEUE_DIR=$PWD/qd comp pqueue run jobs -- slee
	has sleep
	comp pqueue -d ''
	has qd
	! has jobs
}

@test "completion: pqueue subcommand options" {
	comp pqueue push --
	has --sync
	has --max-size
	comp pqueue run --max
	[ "$reply" = --max-attempts ]
	comp pqueue dead --re
	[ "$reply" = --requeue ]
}

@test "completion: every long option of every program completes" {
	local p o n=0
	for p in daemonize prefork palarm preap pkillall-title; do
		comp "$p" --
		for o in $(long_options "$p"); do
			has "$o" || { echo "$p $o missing"; false; }
			n=$((n + 1))
		done
	done
	for p in push pop run dead; do
		comp pqueue "$p" --
		for o in $(long_options pqueue "cmd_$p"); do
			has "$o" || { echo "pqueue $p $o missing"; false; }
			n=$((n + 1))
		done
	done
	comp pqueue --
	for o in $(long_options pqueue main); do
		has "$o" || { echo "pqueue $o missing"; false; }
	done
	[ "$n" -gt 80 ]
}

@test "completion: after -- or COMMAND the words belong to the wrapped command" {
	comp daemonize -p x.pid -- slee
	has sleep
	! has --pidfile
	comp prefork -n 4 -- ./w -
	[ "$reply" = "" ]
	comp preap -r rec slee
	has sleep
	comp daemonize -p x.pid sleep -
	[ "$reply" = "" ]
}

@test "completion: a prefixed install (PROGRAM_PREFIX) completes the same" {
	_pkit_prefix=pkit-
	comp pkit-daemonize --pidf
	[ "$reply" = --pidfile ]
	comp pkit-prefork -S TE
	[ "$reply" = TERM ]
}
