# bats runs these once around the whole suite. Every process a test
# starts inherits PKIT_SUITE; at the end, any process still carrying it
# (other than bats itself) was left behind: it is listed, killed, and the
# suite fails.

setup_suite() {
	PKIT_SUITE=pkit-suite-$$-$(date +%s%N)
	export PKIT_SUITE
}

teardown_suite() {
	local d p pid ancestors=" " left=()
	p=$BASHPID
	while [ "$p" -gt 1 ] 2>/dev/null; do
		ancestors+="$p "
		p=$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$p/stat" 2>/dev/null) || break
	done
	# Processes in the middle of exiting get a moment to finish.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		left=()
		for d in /proc/[0-9]*; do
			pid=${d#/proc/}
			[[ $ancestors == *" $pid "* ]] && continue
			[ "$pid" = "$BASHPID" ] && continue
			tr '\0' '\n' 2>/dev/null < "$d/environ" |
			    grep -qx "PKIT_SUITE=$PKIT_SUITE" && left+=("$pid")
		done
		[ "${#left[@]}" -eq 0 ] && return 0
		sleep 0.2
	done
	for pid in "${left[@]}"; do
		echo "left behind: $pid $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" >&2
		kill -KILL "$pid" 2>/dev/null
	done
	return 1
}
