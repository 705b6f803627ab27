#!/bin/sh
# make bench: run every bench/*.sh in one go and rewrite bench/RESULTS.md
# with the machine, the date and what each script printed.
set -u
cd "$(dirname "$0")/.."
PKIT_BUILD=${PKIT_BUILD:-$PWD/build}
export PKIT_BUILD
out=bench/RESULTS.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT INT TERM

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo "# Benchmark results"
	echo
	echo "Written by \`make bench\` (bench/run.sh); every ratio compares tools"
	echo "measured in the same run on the same machine."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: $(uname -srm), $(nproc) cores, ${cpu:-unknown cpu}"
	echo
} > "$tmp"
for s in bench/*.sh; do
	[ "$s" = bench/run.sh ] && continue
	name=$(basename "$s" .sh)
	echo "bench: $name" >&2
	{
		echo "## $name"
		echo
		echo "Command: \`sh $s\`"
		echo
		echo '```'
		sh "$s" 2>&1
		echo '```'
		echo
	} >> "$tmp"
done
[ -f bench/NOTES.md ] && cat bench/NOTES.md >> "$tmp"
cp "$tmp" "$out"
echo "bench: wrote $out" >&2
