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
