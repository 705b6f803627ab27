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

# until_true TIMEOUT_TENTHS CMD...: retry CMD every 0.1 s until it
# succeeds; 1 (and a line on stderr) if it never did. The examples wait
# on conditions, never on fixed times, and their timeouts are generous:
# a loaded machine makes them slower, not wrong.
until_true() {
	n=$1; shift
	while ! "$@"; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			echo "example: gave up waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# ms_now: milliseconds on the wall clock, for the figures.
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# summary TEXT: the example's one-line result, also collected by demo.sh.
summary() {
	printf '\n%s: %s\n' "$(basename "$0" .sh)" "$*"
	if [ -n "$PKIT_DEMO_SUMMARY" ]; then
		printf '%-14s %s\n' "$(basename "$0" .sh)" "$*" >> "$PKIT_DEMO_SUMMARY"
	fi
}

# count CMD...: the number of lines CMD prints.
count() { "$@" | wc -l | tr -d ' '; }
