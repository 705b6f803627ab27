#!/bin/sh
# make bench: run every benchmark in one go and rewrite bench/RESULTS.md:
# the machine, the date, the load, one summary table of every row (peer
# command, pkit command, medians, median pair ratio, spread, target,
# met / not met), then what each script printed, then bench/NOTES.md.
#
# Every row is paired (bench/lib.sh). BENCH_QUICK=1 cuts every row to a
# few seconds and marks RESULTS.md as a format check. The scripts run in
# a fixed list (not bench/*.sh: other scripts there are not benchmarks);
# one not there yet is skipped with a note. A script that exits non-zero
# or a row without a figure is listed under "Failed" at the top, and
# make bench then exits 1 (after writing RESULTS.md). The whole run is
# meant to take under 10 minutes on 2 cores; the time of each script is
# in the header.
#
#   sh bench/run.sh            (make bench)
#   BENCH_QUICK=1 sh bench/run.sh
#   PKIT_OLD=OLD/build sh bench/run.sh   (adds regress.sh: this build
#                               against an older one, paired)
set -u
cd "$(dirname "$0")/.."
PKIT_BUILD=${PKIT_BUILD:-$PWD/build}
BENCH_QUICK=${BENCH_QUICK:-0}
export PKIT_BUILD BENCH_QUICK
SCRIPTS="pqueue stream prefork pkillall-title rss preap palarm daemonize redis regress"
out=bench/RESULTS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
BENCH_ROWS=$tmp/rows
export BENCH_ROWS
: > "$BENCH_ROWS"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
: > "$tmp/body"
failed= times=
for name in $SCRIPTS; do
	s=bench/$name.sh
	if [ ! -f "$s" ]; then
		echo "bench: $s not there, skipped" >&2
		continue
	fi
	echo "bench: $name" >&2
	ts=$(date +%s)
	BENCH_SECTION=$name sh "$s" > "$tmp/out" 2>&1
	st=$?
	te=$(( $(date +%s) - ts ))
	times="$times${times:+, }$name $te s"
	[ "$st" -eq 0 ] || failed="$failed${failed:+, }$name (exit $st)"
	{
		echo "## $name"
		echo
		echo "Command: \`sh $s\`"
		echo
		echo '```'
		cat "$tmp/out"
		echo '```'
		echo
		echo "($te s$([ "$st" -eq 0 ] || echo ", exit $st"))"
		echo
	} >> "$tmp/body"
done
# Rows without a figure (a run that failed inside a script).
nofig=$(awk -F '\t' '$4 != "" && ($12 == "no figure" || $8 == "" ||
    $8 == "nan") { printf "%s%s: %s", n++ ? ", " : "", $1, $2 }' "$BENCH_ROWS")
[ -n "$nofig" ] && failed="$failed${failed:+, }rows without a figure: $nofig"
secs=$(( $(date +%s) - t0 ))
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# cell TEXT: TEXT for a table cell (| escaped).
{
	echo "# Benchmark results"
	echo
	echo "Written by \`make bench\` (bench/run.sh) in one run of ${secs} s."
	echo "Every row alternates the peer and pkit run by run (at least five"
	echo "pairs) and gives the median of the pairs' ratios pkit/peer with"
	echo "their spread (min-max); see bench/lib.sh and each script's header."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(uname -srm), $(nproc) cores, ${cpu:-unknown cpu}"
	echo "- load average before / after: $load0 / $load1"
	echo "- time per script: $times"
	echo "- failed: ${failed:-none}"
	if [ "$BENCH_QUICK" = 1 ]; then
		echo
		echo "**QUICK MODE (BENCH_QUICK=1): every row cut to a few seconds;"
		echo "these figures only show the format. Run \`make bench\` for figures.**"
	fi
	if [ -n "${BENCH_NOTE:-}" ]; then
		echo
		echo "**$BENCH_NOTE**"
	fi
	echo
	echo "## Summary"
	echo
	echo "Ratio = pkit / peer of the row's unit: for a rate, above 1 means"
	echo "pkit is faster; for a time or a size, below 1 means pkit is smaller."
	echo
	echo "| program | row | unit | peer command | pkit command | peer median | pkit median | pkit/peer (median) | spread | target | |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F '\t' '
	function cell(s) { gsub(/\|/, "\\|", s); return s }
	function num(x) {
		if (x == "" || x == "nan") return x
		a = x < 0 ? -x : x
		if (a >= 1e6) return sprintf("%.3gM", x / 1e6)
		if (a >= 1e4) return sprintf("%.3gk", x / 1e3)
		if (a >= 100) return sprintf("%.0f", x)
		return sprintf("%.3g", x)
	}
	{
		peer = $4 == "" ? "" : "`" cell($4) "`"
		pkit = $5 == "" ? "" : "`" cell($5) "`"
		ratio = $8 == "" ? "" : num($8)
		spread = $9 == "" ? "" : num($9) "-" num($10)
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		    $1, cell($2), $3, peer, pkit, num($6), num($7), ratio, spread,
		    cell($11), $12
	}' "$BENCH_ROWS"
	echo
	cat "$tmp/body"
	[ -f bench/NOTES.md ] && cat bench/NOTES.md
} > "$tmp/results"
cp "$tmp/results" "$out"
echo "bench: wrote $out in $secs s${failed:+; failed: $failed}" >&2

# The README's table comes from RESULTS.md: sh bench/readme-table.sh
# [--update README.md].
[ -z "$failed" ]
