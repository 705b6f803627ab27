#!/bin/sh
# bench/readme-table.sh [--update README] [RESULTS]: the README's
# benchmark table, printed from the summary of RESULTS (default
# bench/RESULTS.md, as `make bench` wrote it): one line per paired row,
# with the peer's command, both medians, the median ratio pkit/peer with
# its spread, and the target with met / not met. With --update README,
# the lines between "<!-- bench table -->" and "<!-- end bench table -->"
# in README are replaced by the table (and the line saying where it comes
# from), so the README says what the last recorded run says.
set -eu
cd "$(dirname "$0")/.."
update=
if [ "${1:-}" = --update ]; then
	update=${2:?--update needs a file}
	shift 2
fi
res=${1:-bench/RESULTS.md}
[ -f "$res" ] || { echo "readme-table: $res: no such file" >&2; exit 1; }

table() {
	# The run's line, then the table.
	run=$(sed -n 's/^Written by .* in one run of \([0-9]*\) s\.$/\1/p' "$res")
	date=$(sed -n 's/^- date: //p' "$res")
	mach=$(sed -n 's/^- machine: //p' "$res")
	echo "From [bench/RESULTS.md](bench/RESULTS.md): one \`make bench\` of ${run:-?} s on $date, $mach."
	grep -q '^\*\*QUICK MODE' "$res" &&
		echo "**Quick mode: these figures only show the format.**"
	echo "Each row alternates the peer and pkit run by run; the ratio is the"
	echo "median of the pairs' pkit/peer ratios (above 1 is better for a rate,"
	echo "below 1 for a time or a size), with the pairs' min-max spread."
	echo
	echo "| program | what | peer command | peer | pkit | pkit/peer (spread) | target |"
	echo "|---|---|---|---|---|---|---|"
	# Summary rows: | program | row | unit | peer | pkit | peer med |
	# pkit med | ratio | spread | target | verdict |; "\|" is a | inside
	# a cell.
	awk '
	/^## Summary$/ { on = 1; next }
	on && /^## / { exit }
	on && /^\| / && !/^\| program \|/ && !/^\|---/ {
		line = $0
		gsub(/\\\|/, "\001", line)
		n = split(line, c, " *\\| *")
		for (i = 1; i <= n; i++) gsub(/\001/, "\\|", c[i])
		# c[1] is empty (the line starts with |).
		if (c[5] == "") next		# a figure without a peer
		t = c[11] == "-" || c[11] == "" ? "" : c[11] " (" (c[12] == "met" ? "met" : "**" c[12] "**") ")"
		sp = c[10] == "" ? "" : " (" c[10] ")"
		printf "| %s | %s | %s | %s %s | %s %s | %s×%s | %s |\n",
		    c[2], c[3], c[5], c[7], c[4], c[8], c[4], c[9], sp, t
	}' "$res"
}

if [ -z "$update" ]; then
	table
	exit 0
fi
grep -q '^<!-- bench table -->$' "$update" && grep -q '^<!-- end bench table -->$' "$update" ||
	{ echo "readme-table: $update has no <!-- bench table --> ... <!-- end bench table --> lines" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
table > "$tmp.t"
awk -v t="$tmp.t" '
	/^<!-- bench table -->$/ { print; while ((getline l < t) > 0) print l; skip = 1; next }
	/^<!-- end bench table -->$/ { skip = 0 }
	!skip' "$update" > "$tmp"
rm -f "$tmp.t"
cat "$tmp" > "$update"
echo "readme-table: $update updated from $res" >&2
