# bench/lib.sh: the pairing, median and spread shared by every bench/*.sh.
# Sourced, not run.
#
# Why pairs: on a shared VM the cost of a cross-CPU wake-up, a fork or a
# device flush can change several-fold from one minute to the next. A
# ratio of two figures taken minutes apart then measures the machine, not
# the tools. So every row runs the peer and pkit alternately, run by run
# (peer, pkit, peer, pkit, ...: BENCH_PAIRS pairs, at least 5), divides
# each pkit run by the peer run just before it, and reports the median of
# those pair ratios with their min-max spread. A regime flip can spoil a
# pair or two; it cannot move the median unless it lasts the whole row.
#
# A row:
#   bench_row TITLE UNIT TARGET PEER_LABEL PEER_CMD PKIT_LABEL PKIT_CMD
# PEER_CMD and PKIT_CMD are shell text run with eval (functions of the
# calling script are fine); each must print one number, the figure of
# that run, as the last line of its standard output. The ratio is always
# pkit / peer of that figure (for a rate, > 1 means pkit is faster; for a
# time or a size, < 1 means pkit is smaller). TARGET is one of
#   ">= X" or "<= X"            on the median ratio
#   "pkit >= X" or "pkit <= X"  on pkit's median figure itself
#   "-"                         none (a row that shows scale)
# The labels name the commands as a reader would type them.
#
# Environment:
#   BENCH_QUICK=1   every script cuts its sizes so that a row takes a few
#                   seconds (for development on a busy machine); the
#                   figures are then only a format check.
#   BENCH_PAIRS     pairs per row (default 5; never fewer than 5).
#   BENCH_ROWS      if set, each row is also appended to this file as one
#                   tab-separated line, for bench/run.sh's summary table:
#                   section title unit peer pkit peer_med pkit_med ratio
#                   min max target verdict
#   BENCH_SECTION   the section name written into BENCH_ROWS.

BENCH_QUICK=${BENCH_QUICK:-0}
BENCH_PAIRS=${BENCH_PAIRS:-5}
[ "$BENCH_PAIRS" -ge 5 ] 2>/dev/null || BENCH_PAIRS=5
BENCH_SECTION=${BENCH_SECTION:-$(basename "$0" .sh)}

# size FULL QUICK: FULL, or QUICK under BENCH_QUICK=1.
size() {
	if [ "$BENCH_QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi
}

# now: monotonic-enough nanoseconds (date's wall clock; for spans of
# 100 ms and more; shorter spans are timed inside the C tools).
now() { date +%s%N; }

# rate COUNT NS: COUNT per second over NS nanoseconds.
rate() { awk -v n="$1" -v ns="$2" 'BEGIN { printf "%.0f\n", n * 1e9 / ns }'; }

# median FILE: the median of the numbers in FILE, one per line.
median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m }'
}

# fmt NUMBER: three significant figures, k/M suffixes for large ones.
fmt() {
	awk -v x="$1" 'BEGIN {
		if (x == "nan" || x == "") { print "?"; exit }
		a = x < 0 ? -x : x
		if (a >= 1e6) printf "%.3gM\n", x / 1e6
		else if (a >= 1e4) printf "%.3gk\n", x / 1e3
		else if (a >= 100) printf "%.0f\n", x
		else printf "%.3g\n", x }'
}

# bench_one CMD: eval CMD, keep its last line; "nan" on failure or if
# that line is not a number.
bench_one() {
	_o=$(eval "$1" | tail -n 1)
	case $_o in
	'' | *[!0-9.e+-]*) echo "bench: '$1' gave '${_o}', not a number" >&2
		echo nan ;;
	*) echo "$_o" ;;
	esac
}

bench_row() {
	_t0=$(date +%s)
	_d=$(mktemp -d "${TMPDIR:-/tmp}/benchrow.$$.XXXXXX")
	: > "$_d/peer"; : > "$_d/pkit"
	_i=0
	while [ "$_i" -lt "$BENCH_PAIRS" ]; do
		bench_one "$5" >> "$_d/peer"
		bench_one "$7" >> "$_d/pkit"
		_i=$((_i + 1))
	done
	bench_report "$1" "$2" "$3" "$4" "$_d/peer" "$6" "$_d/pkit"
	echo "    ($(( $(date +%s) - _t0 )) s for this row)"
	rm -rf "$_d"
}

# bench_report TITLE UNIT TARGET PEER_LABEL PEER_FILE PKIT_LABEL PKIT_FILE:
# the same report for figures a script took itself, alternately, one per
# line of each file (line i of both files is pair i): for runs that yield
# several figures at once (a backlog's push rate, pop rate and RSS).
bench_report() {
	_title=$1 _unit=$2 _target=$3 _plabel=$4 _pf=$5 _klabel=$6 _kf=$7
	_r=$(mktemp "${TMPDIR:-/tmp}/benchratio.$$.XXXXXX")
	paste "$_pf" "$_kf" | awk '$1 != "nan" && $2 != "nan" && $1 + 0 != 0 {
		printf "%.6g\n", $2 / $1 }' > "$_r"
	_pm=$(median "$_pf")
	_km=$(median "$_kf")
	_rm=$(median "$_r")
	_lo=$(sort -g "$_r" | head -n 1)
	_hi=$(sort -g "$_r" | tail -n 1)
	_verdict=$(awk -v t="$_target" -v r="$_rm" -v k="$_km" 'BEGIN {
		if (t == "-" || t == "") { print "-"; exit }
		n = split(t, w, " ")
		if (w[1] == "pkit") { v = k; op = w[2]; x = w[3] }
		else { v = r; op = w[1]; x = w[2] }
		if (v == "nan" || v == "") { print "no figure"; exit }
		ok = (op == ">=") ? v + 0 >= x + 0 : v + 0 <= x + 0
		print ok ? "met" : "not met" }')
	echo "* $_title [$_unit]"
	printf '    peer: %-60s median %s\n' "$_plabel" "$(fmt "$_pm")"
	printf '    pkit: %-60s median %s\n' "$_klabel" "$(fmt "$_km")"
	printf '    pkit/peer: median %.3g, spread %.3g-%.3g over %d pairs' \
	    "${_rm:-0}" "${_lo:-0}" "${_hi:-0}" "$(wc -l < "$_r")"
	if [ "$_target" = - ]; then echo; else
		echo "; target $_target: $_verdict"; fi
	echo "    runs peer: $(tr '\n' ' ' < "$_pf")"
	echo "    runs pkit: $(tr '\n' ' ' < "$_kf")"
	if [ -n "${BENCH_ROWS:-}" ]; then
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		    "$BENCH_SECTION" "$_title" "$_unit" "$_plabel" "$_klabel" \
		    "$_pm" "$_km" "$_rm" "$_lo" "$_hi" "$_target" "$_verdict" \
		    >> "$BENCH_ROWS"
	fi
	rm -f "$_r"
}

# bench_info TITLE VALUE: a figure without a peer (printed, and kept in
# BENCH_ROWS with empty peer columns).
bench_info() {
	echo "* $1: $2"
	if [ -n "${BENCH_ROWS:-}" ]; then
		printf '%s\t%s\t\t\t\t\t%s\t\t\t\t-\t-\n' "$BENCH_SECTION" "$1" \
		    "$2" >> "$BENCH_ROWS"
	fi
}

# need_pkg CMD PACKAGE: install PACKAGE with apt-get if CMD is missing.
need_pkg() {
	command -v "$1" >/dev/null 2>&1 ||
		apt-get install -y "$2" >/dev/null 2>&1 || true
}

# rss_kb PID: the process's current resident set (VmRSS), KiB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# hwm_kb PID: its peak resident set (VmHWM), KiB.
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
