# Sourced by the examples: find the pkit programs, make a private run
# directory, and clean up everything on exit, even on ^C.
#
# PATH: the build tree when run from a checkout (or $PKIT_BUILD), else
# whatever is installed.
EX=$(cd "$(dirname "$0")" && pwd)
PKIT_BUILD=${PKIT_BUILD:-$EX/../build}
if [ -x "$PKIT_BUILD/prefork" ]; then
	PATH=$PKIT_BUILD:$PKIT_BUILD/helpers:$PATH
fi
export PATH
RUN=$(mktemp -d "${TMPDIR:-/tmp}/pkit-example.XXXXXX")
CLEANUP=
cleanup() {
	set +e
	eval "$CLEANUP"
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# on_exit CMD: run CMD (a string) at cleanup, newest first.
on_exit() { CLEANUP="$1; $CLEANUP"; }

say() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# until_true TIMEOUT_TENTHS CMD...: retry CMD every 0.1 s.
until_true() {
	n=$1; shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}
