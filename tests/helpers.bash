# Loaded by every tests/*.bats file: `load helpers`.
#
# PATH starts with the build under test ($PKIT_BUILD, set by make check;
# build/ otherwise) and its helpers. Each test runs in its own
# $BATS_TEST_TMPDIR. Background processes are started with spawn_bg, which
# records their pids; teardown kills exactly those (and their process
# groups when they lead one), never anything matched by a pattern.

PKIT_BUILD=${PKIT_BUILD:-$BATS_TEST_DIRNAME/../build}
PATH=$PKIT_BUILD:$PKIT_BUILD/helpers:$PATH
export PATH PKIT_BUILD

# A prefix unique to this test run, for process titles: pkit-t$$-...
T=pkit-t$$
export T

setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	PKIT_PIDS=()
	if declare -F local_setup >/dev/null; then local_setup; fi
}

teardown() {
	if declare -F local_teardown >/dev/null; then local_teardown; fi
	local p
	for p in "${PKIT_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PKIT_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	kill_title_prefix "$T-$BATS_TEST_NUMBER-"
	return 0
}

# spawn_bg CMD...: run CMD in the background with fd 3 closed (or bats
# waits for it); its pid is in $! and recorded for teardown.
spawn_bg() {
	"$@" 3>&- &
	PKIT_PIDS+=("$!")
}

# track PID...: have teardown kill these pids too.
track() {
	PKIT_PIDS+=("$@")
}

# wait_for TIMEOUT_SECONDS CMD...: poll CMD every 20 ms until it succeeds.
# Returns 1 if it never did. CMD's words are expanded once, by the call:
# a count to re-take on every poll belongs in a function or eval '...'.
wait_for() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) + ${limit%.*} * 1000000000 ))
	case $limit in *.*) local frac=${limit#*.}; frac=${frac}000000000
		end=$(( end + 10#${frac:0:9} )) ;; esac
	while ! "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# alive PID: the process exists and is not a zombie.
alive() {
	local s
	s=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ]
}

gone() { ! alive "$1"; }

# title_pids PREFIX: pids whose title (cmdline) starts with PREFIX.
# Plain /proc reading, independent of pkillall-title; argv[0] is read
# with a builtin, so a scan costs no fork per process.
title_pids() {
	local d t first
	for d in /proc/[0-9]*; do
		# Reset first: a process gone since the glob leaves the read
		# failing, and the previous process's argv[0] would stay.
		first=
		IFS= read -r -d '' first 2>/dev/null < "$d/cmdline" || [ -n "$first" ] || continue
		case $first in
		"$1"*) echo "${d#/proc/}" ;;
		*)	case $1 in "$first "*)
				t=$(tr '\0' ' ' 2>/dev/null < "$d/cmdline") || continue
				case $t in "$1"*) echo "${d#/proc/}" ;; esac ;;
			esac ;;
		esac
	done
}

# kill_title_prefix PREFIX: KILL every process whose title starts with
# PREFIX (which must be unique to this run: it contains $$).
kill_title_prefix() {
	case $1 in pkit-t[0-9]*-*) ;; *) return 0 ;; esac
	local p
	for p in $(title_pids "$1"); do kill -KILL "$p" 2>/dev/null; done
}

# ms_now: monotonic-enough milliseconds for duration bounds.
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# zombies_of PID: number of zombie children of PID.
zombies_of() {
	local d st n=0 PARENT_PID=$1
	for d in /proc/[0-9]*; do
		st=$(cat "$d/stat" 2>/dev/null) || continue
		st=${st##*) }
		set -- $st
		[ "$1" = Z ] && [ "$2" = "$PARENT_PID" ] && n=$((n + 1))
	done
	echo "$n"
}
