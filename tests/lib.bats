#!/usr/bin/env bats
# Unit tests of lib/parse and lib/title through tests/helpers/libtest.

bats_require_minimum_version 1.5.0
load helpers

# check KIND INPUT EXPECTED [INPUT EXPECTED]...: libtest KIND INPUT prints
# EXPECTED for each pair; all mismatches are shown at once.
check() {
	local kind=$1 bad=0 got; shift
	while [ $# -ge 2 ]; do
		got=$(libtest "$kind" "$1")
		if [ "$got" != "$2" ]; then
			echo "$kind '$1': got '$got', want '$2'"
			bad=1
		fi
		shift 2
	done
	return "$bad"
}

# raw_cmdline_is PID TEXT: /proc/PID/cmdline, NULs shown as |, is TEXT.
raw_cmdline_is() {
	[ "$(tr '\0' '|' < "/proc/$1/cmdline" 2>/dev/null)" = "$2" ]
}

S=1000000000
# env -i drops PATH, so name the driver by its full path.
LT=$PKIT_BUILD/helpers/libtest

@test "parse: every duration form of DESIGN §2" {
	check duration \
	    250us 250000 \
	    20ms 20000000 \
	    1.5s 1500000000 \
	    2m $((120 * S)) \
	    1h $((3600 * S)) \
	    1d $((86400 * S)) \
	    10ns 10 \
	    5 $((5 * S)) \
	    0.25 250000000 \
	    .5s 500000000 \
	    1.5m $((90 * S)) \
	    0 0 \
	    0s 0 \
	    007ms 7000000 \
	    9223372036854775807ns 9223372036854775807 \
	    9223372036.854775807 9223372036854775807 \
	    106751d $((106751 * 86400 * S))
}

@test "parse: malformed durations are EINVAL" {
	check duration \
	    -1 EINVAL \
	    -1s EINVAL \
	    "" EINVAL \
	    s EINVAL \
	    . EINVAL \
	    .s EINVAL \
	    1x EINVAL \
	    1ss EINVAL \
	    "1s " EINVAL \
	    " 1s" EINVAL \
	    "1 s" EINVAL \
	    +1 EINVAL \
	    1e3 EINVAL \
	    0x10 EINVAL \
	    1.5.5 EINVAL \
	    1,5 EINVAL \
	    nan EINVAL \
	    inf EINVAL \
	    1sec EINVAL \
	    1S EINVAL \
	    1h30m EINVAL
}

@test "parse: durations past int64 nanoseconds are ERANGE" {
	check duration \
	    9223372036854775808ns ERANGE \
	    9223372036.854775808 ERANGE \
	    9223372037 ERANGE \
	    106752d ERANGE \
	    99999999999999999999 ERANGE \
	    99999999999999999999999999999ns ERANGE
}

@test "parse: every signal form of DESIGN §2" {
	rtmin=$(kill -l RTMIN 2>/dev/null || echo 34)
	rtmax=$(kill -l RTMAX 2>/dev/null || echo 64)
	check signal \
	    TERM 15 \
	    SIGTERM 15 \
	    term 15 \
	    sigterm 15 \
	    Term 15 \
	    15 15 \
	    HUP 1 \
	    1 1 \
	    KILL 9 \
	    USR1 10 \
	    CHLD 17 \
	    CLD 17 \
	    IOT 6 \
	    RTMIN "$rtmin" \
	    RTMIN+3 $((rtmin + 3)) \
	    SIGRTMIN+3 $((rtmin + 3)) \
	    rtmin+3 $((rtmin + 3)) \
	    RTMAX "$rtmax" \
	    RTMAX-1 $((rtmax - 1)) \
	    SIGRTMAX-1 $((rtmax - 1)) \
	    "$rtmax" "$rtmax" \
	    0 0
}

@test "parse: malformed or unknown signals are EINVAL" {
	check signal \
	    "" EINVAL \
	    FOO EINVAL \
	    SIG EINVAL \
	    SIGSIGTERM EINVAL \
	    TERM1 EINVAL \
	    "TERM " EINVAL \
	    " 15" EINVAL \
	    15x EINVAL \
	    -1 EINVAL \
	    -15 EINVAL \
	    +15 EINVAL \
	    65 EINVAL \
	    99 EINVAL \
	    99999999999 EINVAL \
	    SIG15 EINVAL \
	    SIG0 EINVAL \
	    RTMIN+ EINVAL \
	    RTMIN-1 EINVAL \
	    RTMAX+1 EINVAL \
	    RTMIN+31 EINVAL \
	    RTMAX-31 EINVAL \
	    RTMIN+x EINVAL \
	    RTMID EINVAL
}

@test "parse: signal_name gives names without SIG" {
	rtmin=$(kill -l RTMIN 2>/dev/null || echo 34)
	check signame \
	    15 TERM \
	    1 HUP \
	    6 ABRT \
	    17 CHLD \
	    "$rtmin" RTMIN \
	    $((rtmin + 3)) RTMIN+3 \
	    $((rtmin + 29)) RTMAX-1
}

@test "title: a short title shows exactly, with no padding" {
	run -0 env -i A=1 "$LT" title -x 1 short
	[ "${lines[0]}" = 'cmdline short\0' ]
	[ "${lines[1]}" = "comm short" ]
	[ "${lines[2]}" = "env ok" ]
}

@test "title: a title that fits leaves /proc/PID/environ untouched" {
	run -0 env -i A=1 B=two "$LT" title ok
	[ "${lines[0]}" = 'cmdline ok\0' ]
	[ "${lines[3]}" = "procenv same" ]
}

@test "title: comm gets the first 15 bytes" {
	run -0 env -i A=1 "$LT" title "0123456789abcdefghij"
	[ "${lines[1]}" = "comm 0123456789abcde" ]
}

@test "title: a title longer than the argv area leaves the environment readable" {
	big=$(printf 'v%.0s' $(seq 600))
	want=$(printf 'Ab%.0s' $(seq 150))
	# The argv area (".../libtest title -x 150 Ab -- printenv A BIG Z")
	# is < 150 bytes; the 300-byte title runs on into the environment.
	run -0 env -i A=1 BIG="$big" Z=last PATH=/usr/bin:/bin \
	    "$LT" title -x 150 Ab -- printenv A BIG Z
	[ "${lines[0]}" = "cmdline $want\\0" ]
	[ "${lines[1]}" = "comm AbAbAbAbAbAbAbA" ]
	[ "${lines[2]}" = "env ok" ]
	[ "${lines[3]}" = "procenv changed" ]
	[[ ${lines[4]} == "name "*libtest ]]
	[ "${lines[5]}" = 1 ]
	[ "${lines[6]}" = "$big" ]
	[ "${lines[7]}" = last ]
}

@test "title: glibc's program_invocation_name survives a title change" {
	run -0 env -i A=1 "$LT" title -x 1 x
	[[ ${lines[4]} == "name "*libtest ]]
}

@test "title: a title longer than argv and environment is truncated" {
	run -0 env -i A=1 "$LT" title -x 500 Q
	[ "${lines[2]}" = "env ok" ]
	t=${lines[0]#cmdline }
	t=${t%\\0}
	[ "${#t}" -gt 20 ] && [ "${#t}" -lt 500 ]
	[[ $t == QQQQQQQQQQ* ]] && [[ $t != *[!Q]* ]]
}

@test "title: a title beyond one page is cut at 4095 bytes" {
	big=$(printf 'v%.0s' $(seq 9000))
	run -0 env -i BIG="$big" "$LT" title -x 6000 z
	t=${lines[0]#cmdline }
	[ "$t" = "$(printf 'z%.0s' $(seq 4095))\\0" ]
	[ "${lines[2]}" = "env ok" ]
}

@test "title: a shorter title replaces a longer one completely" {
	big=$(printf 'v%.0s' $(seq 600))
	run -0 env -i BIG="$big" "$LT" title -x 1 \
	    "a rather long first title, longer than argv" second
	[ "${lines[0]}" = 'cmdline second\0' ]
	[ "${lines[2]}" = "env ok" ]
}

@test "title: spaces in a title survive, and pgrep -f sees the title" {
	spawn_bg titled "$T-$BATS_TEST_NUMBER-a b  c"
	wait_for 5 raw_cmdline_is "$!" "$T-$BATS_TEST_NUMBER-a b  c|"
	run -0 pgrep -f "^$T-$BATS_TEST_NUMBER-a b  c\$"
	[ "$output" = "$!" ]
}

# one_line_diag WANT CMD...: CMD exits 2 with exactly one line on stderr,
# and that line contains WANT (the argument, escaped).
one_line_diag() {
	local want=$1; shift
	run --separate-stderr "$@"
	[ "$status" -eq 2 ] || { echo "status $status: $stderr"; return 1; }
	[ "${#stderr_lines[@]}" -eq 1 ] || { echo "stderr: $stderr"; return 1; }
	[[ $stderr == "$1: "* ]] || { echo "stderr: $stderr"; return 1; }
	[[ $stderr == *"$want"* ]] || { echo "no '$want' in: $stderr"; return 1; }
}

@test "msg: an argument with a newline or escape makes a one-line diagnostic, escaped" {
	one_line_diag '1\nrm -rf /' palarm $'1\nrm -rf /'
	one_line_diag "'5\\nx'" daemonize -w $'5\nx' -- true
	one_line_diag "'3\\n4'" prefork -n $'3\n4' -- true
	one_line_diag "'q\\nx'" pqueue -d "$BATS_TEST_TMPDIR" push $'q\nx' m
	one_line_diag "'1\\n2'" preap -k $'1\n2' -- true
	one_line_diag "'TERM\\nKILL'" pkillall-title -s $'TERM\nKILL' x
	one_line_diag "'\\x1b[31mpush'" pqueue $'\e[31mpush'
	one_line_diag "'a\\tb\\rc\\x7f'" palarm $'a\tb\rc\x7f'
}

@test "msg: a long argument is cut, still one line" {
	local big
	big=$(printf '%*s' 5000 '' | tr ' ' 'x')
	one_line_diag "xxxx" palarm "$big"$'\n'
	[ "${#stderr}" -le 1023 ]
}

# Issue 11 item 6: one text for how a child ended (prefork, daemonize and
# preap had one each), from waitpid and from waitid's siginfo alike.
@test "spawn: spawn_status_text says how a child ended, the same from waitpid and waitid" {
	run -0 libtest waitstatus 'exit 0' 'exit 3' 'exit 127' 'exit 126' \
	    'kill -KILL $$' 'kill -USR1 $$'
	echo "$output"
	[ "${lines[0]}" = "exited with status 0 same" ]
	[ "${lines[1]}" = "exited with status 3 same" ]
	[ "${lines[2]}" = "exited with status 127 (a command was not found) same" ]
	[ "${lines[3]}" = "exited with status 126 (a command could not run) same" ]
	[ "${lines[4]}" = "killed by signal KILL same" ]
	[ "${lines[5]}" = "killed by signal USR1 same" ]
	# A core (where the machine's limits let one be written) is said.
	run -0 libtest waitstatus 'ulimit -c unlimited 2>/dev/null; kill -SEGV $$'
	[[ $output == "killed by signal SEGV"*" same" ]]
	rm -f core core.*
}

# Issue 11 item 6: one allocation that dies, with the program's own status
# (daemonize died with 1, prefork with 125, each with its own copy).
@test "msg: msg_alloc and msg_realloc die with the caller's status and one line" {
	# Under ASan, a NULL instead of an abort on an impossible size.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1
	run -125 --separate-stderr libtest nomem 125 alloc
	[ "$stderr" = "libtest: out of memory" ]
	[ -z "$output" ]
	run -3 --separate-stderr libtest nomem 3 realloc
	[ "$stderr" = "libtest: out of memory" ]
}
