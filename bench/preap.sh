#!/bin/sh
# bench/preap.sh [N]: orphans reaped per second and peak RSS, preap vs
# `tini -s` (both as child subreapers, not PID 1). The workload is
# tests/helpers/leaky: N orphans (default 5000) that die at once after
# being reparented to the reaper; leaky stays until every one of them
# has been reaped, so the wall time is the time to reap them all (fork
# cost included, the same for every reaper). Rounds alternate between
# the tools; the best of 3 is kept. Peak RSS is the reaper's own VmHWM,
# read from /proc by COMMAND (a shell, the reaper's child) after the
# orphans are gone (GNU time's %M would include leaky's).
set -eu
B=${PKIT_BUILD:-build}
n=${1:-5000}
[ -x "$B/preap" ] && [ -x "$B/helpers/leaky" ] ||
	{ echo "bench/preap.sh: build first: make progs helpers" >&2; exit 1; }
command -v tini >/dev/null 2>&1 || apt-get install -y tini >/dev/null
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# run NAME CMD...: one round; prints "seconds peak_kb".
run() {
	name=$1
	shift
	/usr/bin/time -f '%e' -o "$tmp/$name.t" "$@" sh -c \
		'"$1" -l 0 "$2" && sed -n "s/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p" /proc/$PPID/status' \
		sh "$B/helpers/leaky" "$n" >"$tmp/$name.rss" 2>"$tmp/$name.err" ||
		{ echo "bench/preap.sh: $name failed" >&2; cat "$tmp/$name.err" >&2; }
	echo "$(cat "$tmp/$name.t") $(cat "$tmp/$name.rss")"
}

best() { sort -n | head -n 1; }

for r in 1 2 3; do
	run preap "$B/preap" -- >> "$tmp/preap"
	run preap-r "$B/preap" -r /dev/null -- >> "$tmp/preap-r"
	run tini tini -s -- >> "$tmp/tini"
done

echo "reaping $n orphans (best of 3 rounds)"
for t in preap preap-r tini; do
	set -- $(best < "$tmp/$t")
	rate=$(awk -v n="$n" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
	rss=$(sort -n < "$tmp/$t" | awk '{ print $2 }' | sort -n | tail -n 1)
	printf '%-8s %6.2f s  %7s orphans/s  peak RSS %5s KiB\n' \
		"$t" "$1" "$rate" "$rss"
	eval "rate_$(echo "$t" | tr - _)=$rate rss_$(echo "$t" | tr - _)=$rss"
done
awk -v a="$rate_preap" -v b="$rate_tini" -v c="$rss_preap" -v d="$rss_tini" \
	'BEGIN { printf "ratio preap/tini: rate %.2fx, peak RSS %.2fx\n", a / b, c / d }'
