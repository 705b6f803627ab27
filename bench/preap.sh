#!/bin/sh
# bench/preap.sh [N]: orphans reaped per second and peak RSS, preap vs
# `tini -s` (both as child subreapers, not PID 1), paired round by round
# (bench/lib.sh: median of the pair ratios, min-max). The workload is
# tests/helpers/leaky: N orphans (default 5000) that die at once after
# being reparented to the reaper; leaky stays until every one of them
# has been reaped, so the wall time is the time to reap them all (fork
# cost included, the same for every reaper). Why it is fair: the same
# helper makes the same orphans under each reaper, rounds alternate
# tini, preap, preap -r, and each pair's ratio is taken between rounds
# run back to back. Peak RSS is the reaper's own VmHWM,
# read from /proc by COMMAND (a shell, the reaper's child) after the
# orphans are gone (GNU time's %M would include leaky's).
set -u
cd "$(dirname "$0")/.."
. bench/lib.sh
B=${PKIT_BUILD:-build}
n=${1:-$(size 5000 500)}
[ -x "$B/preap" ] && [ -x "$B/helpers/leaky" ] ||
	{ echo "bench/preap.sh: build first: make progs helpers" >&2; exit 1; }
need_pkg tini tini
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# run NAME CMD...: one round; appends "orphans_per_s peak_kb" to $tmp/NAME.
run() {
	name=$1
	shift
	/usr/bin/time -f '%e' -o "$tmp/$name.t" "$@" sh -c \
		'"$1" -l 0 "$2" && sed -n "s/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p" /proc/$PPID/status' \
		sh "$B/helpers/leaky" "$n" >"$tmp/$name.rss" 2>"$tmp/$name.err" ||
		{ echo "bench/preap.sh: $name failed" >&2; cat "$tmp/$name.err" >&2; }
	awk -v n="$n" -v s="$(cat "$tmp/$name.t")" -v r="$(cat "$tmp/$name.rss")" \
	    'BEGIN { printf "%.0f %s\n", (s > 0 ? n / s : 0), (r == "" ? "nan" : r) }' \
	    >> "$tmp/$name"
}

r=0
while [ $r -lt "$BENCH_PAIRS" ]; do
	run tini tini -s --
	run preap "$B/preap" --
	run preap-r "$B/preap" -r /dev/null --
	r=$((r + 1))
done
for t in tini preap preap-r; do
	awk '{ print $1 }' "$tmp/$t" > "$tmp/$t.rate"
	awk '{ print $2 }' "$tmp/$t" > "$tmp/$t.hwm"
done
echo "reaping $n orphans a round"
bench_report "orphans reaped per second, $n orphans" orphans/s ">= 1" \
    "tini -s -- leaky $n" "$tmp/tini.rate" "preap -- leaky $n" "$tmp/preap.rate"
bench_report "orphans reaped per second, with -r" orphans/s "-" \
    "tini -s -- leaky $n" "$tmp/tini.rate" "preap -r /dev/null -- leaky $n" "$tmp/preap-r.rate"
bench_report "reaper's peak RSS (VmHWM)" KiB "<= 1" \
    "tini -s -- leaky $n" "$tmp/tini.hwm" "preap -- leaky $n" "$tmp/preap.hwm"
bench_report "reaper's peak RSS (VmHWM), with -r" KiB "-" \
    "tini -s -- leaky $n" "$tmp/tini.hwm" "preap -r /dev/null -- leaky $n" "$tmp/preap-r.hwm"
