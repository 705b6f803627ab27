#!/bin/sh
# analyze: gcc -fanalyzer and cppcheck over cmd/ and lib/. Every finding
# not suppressed in tests/analyze.supp is printed; exit 1 if there is one.
#   tests/analyze.sh [GCC [CPPFLAGS...]]
# A suppression is one line
#   TOOL FILE ID SUBSTRING # REASON
# TOOL gcc or cppcheck; ID the warning option (-Wanalyzer-malloc-leak) or
# cppcheck id; SUBSTRING (no blanks) must occur in the finding, which for
# gcc reads "FILE:LINE: in FUNCTION(): MESSAGE" (name the function). Line
# numbers are left out on purpose: they move. A line without a reason is
# an error.
cd "$(dirname "$0")/.." || exit 2
gcc=${1:-gcc}
[ $# -gt 0 ] && shift
supp=tests/analyze.supp
out=$(mktemp -d) || exit 2
[ -n "${ANALYZE_KEEP:-}" ] || trap 'rm -rf "$out"' EXIT

if awk '!/^[ \t]*(#|$)/ && !/#[ \t]*[^ \t]/ { print "analyze.supp:" NR ": no reason: " $0; bad = 1 }
	END { exit bad }' "$supp"; then :; else exit 2; fi

# gcc: one line per warning, "gcc FILE ID MESSAGE".
for f in lib/*.c cmd/*.c; do
	LC_ALL=C "$gcc" -std=c11 -D_DEFAULT_SOURCE -DPKIT_VERSION='"analyze"' -Ilib \
	    "$@" -O1 -fanalyzer -fdiagnostics-plain-output -c -o /dev/null "$f" 2>&1
done | awk '
	/: In function / { fn = $0; sub(/.*In function ./, "", fn); sub(/.:$/, "", fn); next }
	/: warning: .* \[-W[^]]*\]$/ {
		split($0, a, ":"); id = $0
		sub(/.*\[/, "", id); sub(/\]$/, "", id)
		msg = $0; sub(/^[^:]*:[0-9]*:[0-9]*: warning: /, "", msg)
		sub(/ \[-W[^]]*\]$/, "", msg)
		print "gcc " a[1] " " id " " a[1] ":" a[2] ": in " fn "(): " msg
	}' \
    > "$out/found"
# cppcheck: the same shape.
cppcheck --quiet --std=c11 --enable=warning,portability,performance \
    -D_DEFAULT_SOURCE -DPKIT_VERSION='"analyze"' -Ilib \
    --template='cppcheck {file} {id} {file}:{line}: {severity}: {message}' \
    lib cmd 2>> "$out/found" >/dev/null

n=0
while IFS= read -r line; do
	set -- $line
	hit=0
	while read -r t f id sub _; do
		case $t in ''|'#'*) continue ;; esac
		if [ "$t" = "$1" ] && [ "$f" = "$2" ] && [ "$id" = "$3" ]; then
			case $line in *"$sub"*) hit=1; break ;; esac
		fi
	done < "$supp"
	[ $hit = 1 ] && continue
	echo "${line#* * * }  [$1 $3]"
	n=$((n + 1))
done < "$out/found"
[ -n "${ANALYZE_KEEP:-}" ] && cat "$out/found"
echo "analyze: $(wc -l < "$out/found") findings, $n not suppressed"
[ "$n" -eq 0 ]
