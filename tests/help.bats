#!/usr/bin/env bats
# --help lists every long option that getopt_long accepts, with its long
# form, and ends with "See PROG(1)." (issue 17 item 1).

bats_require_minimum_version 1.5.0

load helpers

TOP=$BATS_TEST_DIRNAME/..

# long_options PROG [FUNCTION]: the long option names of the struct option
# tables in cmd/PROG.c (in FUNCTION only, when given), one a line.
long_options() {
	local src=$TOP/cmd/$1.c
	if [ -n "$2" ]; then
		sed -n "/^$2(/,/^}/p" "$src"
	else
		cat "$src"
	fi | grep -oE '\{ *"[a-z0-9][-a-z0-9]*", *(no|required|optional)_argument' |
	    sed -E 's/^\{ *"([^"]+)".*/--\1/' | sort -u
}

# lists TEXT OPTION: TEXT names OPTION as a word (--pid is not --pidfile).
lists() {
	grep -qE -- "(^|[^-[:alnum:]])$2([^-[:alnum:]]|\$)" <<<"$1"
}

# check_help PROG: PROG --help lists each of PROG's long options and
# ends with "See PROG(1)."
check_help() {
	local p=$1 o missing=
	run --separate-stderr "$p" --help
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ -n "$(long_options "$p")" ]
	for o in $(long_options "$p"); do
		lists "$output" "$o" || missing+=" $o"
	done
	[ -z "$missing" ] || { echo "$p --help lacks:$missing"; false; }
	[ "${lines[${#lines[@]} - 1]}" = "See $p(1)." ] ||
	    { echo "$p --help ends: ${lines[${#lines[@]} - 1]}"; false; }
}

@test "help: daemonize --help lists every long option and ends with See daemonize(1)." {
	check_help daemonize
}

@test "help: prefork --help lists every long option and ends with See prefork(1)." {
	check_help prefork
}

@test "help: palarm --help lists every long option and ends with See palarm(1)." {
	check_help palarm
}

@test "help: preap --help lists every long option and ends with See preap(1)." {
	check_help preap
}

@test "help: pkillall-title --help lists every long option and ends with See pkillall-title(1)." {
	check_help pkillall-title
}

@test "help: pqueue --help (or SUBCOMMAND --help) lists every long option and ends with See pqueue(1)." {
	local all sub f o missing=
	run --separate-stderr pqueue --help
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[${#lines[@]} - 1]}" = "See pqueue(1)." ] ||
	    { echo "pqueue --help ends: ${lines[${#lines[@]} - 1]}"; false; }
	all=$output
	# Each subcommand's options are in pqueue --help or in its own
	# --help (for the subcommands that have an option table).
	for f in $(grep -oE '^cmd_[a-z_]+\(' "$TOP/cmd/pqueue.c" | tr -d '(') main; do
		sub=${f#cmd_}
		for o in $(long_options pqueue "$f"); do
			lists "$all" "$o" && continue
			if [ "$f" != main ]; then
				run --separate-stderr pqueue "$sub" --help
				[ "$status" -eq 0 ] && lists "$output" "$o" && continue
			fi
			missing+=" $sub:$o"
		done
	done
	[ -z "$missing" ] || { echo "pqueue --help lacks:$missing"; false; }
	[ "$(long_options pqueue | wc -l)" -ge 6 ]
}
