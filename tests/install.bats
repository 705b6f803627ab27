#!/usr/bin/env bats
# make install / uninstall into a DESTDIR staging tree.

bats_require_minimum_version 1.5.0

load helpers

TOP=$BATS_TEST_DIRNAME/..
PROGS="daemonize prefork pqueue palarm preap pkillall-title"

@test "install: DESTDIR staging puts six programs and seven man pages under PREFIX" {
	command -v scdoc >/dev/null || skip "scdoc not installed"
	run make -C "$TOP" -s install DESTDIR="$BATS_TEST_TMPDIR/stage" PREFIX=/usr
	[ "$status" -eq 0 ]
	for p in $PROGS; do
		[ -x "$BATS_TEST_TMPDIR/stage/usr/bin/$p" ]
		[ -f "$BATS_TEST_TMPDIR/stage/usr/share/man/man1/$p.1" ]
		[ -f "$BATS_TEST_TMPDIR/stage/usr/share/bash-completion/completions/$p" ]
	done
	[ -f "$BATS_TEST_TMPDIR/stage/usr/share/man/man7/pkit.7" ]
	run "$BATS_TEST_TMPDIR/stage/usr/bin/palarm" --version
	[ "$output" = "palarm (pkit) $(sed -n 's/^VERSION *= *//p' "$TOP/Makefile")" ]
}

@test "install: uninstall removes everything install put there" {
	command -v scdoc >/dev/null || skip "scdoc not installed"
	make -C "$TOP" -s install DESTDIR="$BATS_TEST_TMPDIR/stage" PREFIX=/usr
	run make -C "$TOP" -s uninstall DESTDIR="$BATS_TEST_TMPDIR/stage" PREFIX=/usr
	[ "$status" -eq 0 ]
	run find "$BATS_TEST_TMPDIR/stage" -type f
	[ "$output" = "" ]
}

@test "install: BINDIR and MANDIR override PREFIX" {
	command -v scdoc >/dev/null || skip "scdoc not installed"
	run make -C "$TOP" -s install DESTDIR="$BATS_TEST_TMPDIR/s" \
	    BINDIR=/opt/pk/sbin MANDIR=/opt/pk/man
	[ "$status" -eq 0 ]
	[ -x "$BATS_TEST_TMPDIR/s/opt/pk/sbin/preap" ]
	[ -f "$BATS_TEST_TMPDIR/s/opt/pk/man/man1/preap.1" ]
}

@test "install: every man page renders without warnings" {
	command -v scdoc >/dev/null || skip "scdoc not installed"
	command -v man >/dev/null || skip "man not installed"
	local page n=0
	for page in "$PKIT_BUILD"/man/*.[17]; do
		run --separate-stderr env MANWIDTH=80 man --warnings -l "$page"
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ] || { echo "$page: $stderr"; false; }
		[ -n "$output" ]
		n=$((n + 1))
	done
	[ "$n" -eq 7 ]
}

@test "install: every program answers --help on stdout and --version" {
	local p
	for p in $PROGS; do
		run --separate-stderr "$p" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"$p"* ]]
		[ "$stderr" = "" ]
		run "$p" -V
		[ "$status" -eq 0 ]
		[[ "$output" == "$p (pkit) "* ]]
	done
}

@test "install: an unknown option is one line on stderr and status 2" {
	local p
	for p in $PROGS; do
		run --separate-stderr "$p" --no-such-option
		[ "$status" -eq 2 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "$p: "* ]]
	done
}

@test "install: PROGRAM_PREFIX=pkit- renames programs, man pages and completions; uninstall removes them" {
	command -v scdoc >/dev/null || skip "scdoc not installed"
	local s=$BATS_TEST_TMPDIR/stage p
	run make -C "$TOP" -s install DESTDIR="$s" PREFIX=/usr PROGRAM_PREFIX=pkit-
	[ "$status" -eq 0 ]
	for p in $PROGS; do
		[ -x "$s/usr/bin/pkit-$p" ]
		[ ! -e "$s/usr/bin/$p" ]
		[ -f "$s/usr/share/man/man1/pkit-$p.1" ]
		[ ! -e "$s/usr/share/man/man1/$p.1" ]
		[ -f "$s/usr/share/bash-completion/completions/pkit-$p" ]
		[ ! -e "$s/usr/share/bash-completion/completions/$p" ]
	done
	[ -f "$s/usr/share/man/man7/pkit.7" ]
	run "$s/usr/bin/pkit-daemonize" --version
	[[ "$output" == *"daemonize (pkit) "* ]]
	# The completion registers the prefixed names, not the plain ones,
	# and completes them as the plain ones.
	run bash -c 'source "$1"; complete -p pkit-prefork; complete -p prefork 2>/dev/null' _ \
	    "$s/usr/share/bash-completion/completions/pkit-prefork"
	[ "${lines[0]}" = "complete -F _pkit pkit-prefork" ]
	[ "${#lines[@]}" -eq 1 ]
	run bash -c 'source "$1"; COMP_WORDS=(pkit-prefork -S TTI); COMP_CWORD=2
	    _pkit; echo "${COMPREPLY[*]}"' _ \
	    "$s/usr/share/bash-completion/completions/pkit-prefork"
	[ "$output" = TTIN ]
	run make -C "$TOP" -s uninstall DESTDIR="$s" PREFIX=/usr PROGRAM_PREFIX=pkit-
	[ "$status" -eq 0 ]
	run find "$s" -type f
	[ "$output" = "" ]
}

@test "install: uninstall without the prefix leaves a prefixed install alone" {
	command -v scdoc >/dev/null || skip "scdoc not installed"
	local s=$BATS_TEST_TMPDIR/stage
	make -C "$TOP" -s install DESTDIR="$s" PREFIX=/usr PROGRAM_PREFIX=pkit-
	make -C "$TOP" -s install DESTDIR="$s" PREFIX=/usr
	make -C "$TOP" -s uninstall DESTDIR="$s" PREFIX=/usr
	[ -x "$s/usr/bin/pkit-palarm" ]
	[ -f "$s/usr/share/man/man1/pkit-palarm.1" ]
	[ ! -e "$s/usr/bin/palarm" ]
	[ ! -e "$s/usr/share/man/man1/palarm.1" ]
}
