#!/usr/bin/env bats
# lib/fmt: the programs' snprintf family (linked in with --wrap, to keep
# glibc's printf engine out of the resident set) gives the libc's output.

bats_require_minimum_version 1.5.0
load helpers

@test "fmt: every format pkit formats, and every one handed over, matches the libc's" {
	# stderr apart: ASan's printf interceptor warns about "%5%", a
	# format fmtcheck gives the libc on purpose.
	run -0 --separate-stderr fmtcheck 20
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} =~ ^[0-9]+\ checked,\ 0\ differ$ ]]
}

@test "fmt: the programs format through lib/fmt, not the libc's printf engine" {
	local p
	[[ $PKIT_BUILD != */cov ]] ||
		skip "the coverage build links libgcov, which calls the libc's printf family itself"
	for p in daemonize prefork pqueue palarm preap pkillall-title; do
		nm "$PKIT_BUILD/$p" | grep -q ' T __wrap_snprintf$' ||
			{ echo "$p: no __wrap_snprintf"; return 1; }
		! nm -u "$PKIT_BUILD/$p" | grep -qw 'snprintf' ||
			{ echo "$p: calls the libc's snprintf"; return 1; }
	done
}
