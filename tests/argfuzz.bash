#!/bin/bash
# argfuzz: run a pkit program with its real option letters and hostile
# values, and report every crash, hang, busy loop, sanitizer report,
# multi-line usage message or process left behind.
#
#   tests/argfuzz.bash PROG COUNT SEED [FIRST]
#
# ARGFUZZ_JOBS runs (default 2) go at once.
# Vector i (FIRST <= i < FIRST + COUNT) is drawn from RANDOM seeded with
# SEED*100000+i, so `tests/argfuzz.bash PROG 1 SEED i` reruns one of them.
# Needs $PKIT_BUILD (the programs, and helpers/argrun) and root: every
# run is in new PID, network, IPC and mount namespaces (an unshare'd sh
# is PID 1 there), so a hostile pid, pattern, port or SysV key touches
# nothing outside, and what is left in the namespace after the program
# ended is seen (and then killed with it). Each run has LIMIT seconds
# (ARGFUZZ_LIMIT, default 1), then SIGTERM, then SIGKILL after
# ARGFUZZ_GRACE s (default 12: prefork's default grace is 10 s).
#
# Output: one line per finding, "FINDING PROG #i: detail: vector", and
# a last line "argfuzz PROG: N vectors, N findings". Exit 1 on findings.
# A finding:
#   crash      killed by SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT
#   sanitizer  an ASan/UBSan/LSan report on stderr
#   hang       still running after SIGTERM + the grace (not counted
#              when the vector sets a grace of its own: -g, -k, -t)
#   busy       used more than half a CPU while running into the limit
#   flood      wrote more than 64 KiB to stderr
#              (neither counted when the vector asks for -n 1000+ workers)
#   usage      exit 2 without exactly one stderr line "PROG: ..."
#   leftover   a process still running once PROG ended (except the
#              daemon that daemonize(1) documents as left running)
set -u
prog=$1 count=$2 seed=$3 first=${4:-0}
B=${PKIT_BUILD:?PKIT_BUILD not set}
limit=${ARGFUZZ_LIMIT:-1}
grace=${ARGFUZZ_GRACE:-12}
jobs=${ARGFUZZ_JOBS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/argfuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

pick() { local a=("$@"); REPLY=${a[RANDOM % ${#a[@]}]}; }

big=$(printf '%*s' 5000 '' | tr ' ' 9)
hostile=("" "-" "--" "0" "-0" "-1" "+1" "1" "2" " 1" "1 " "1.5" ".5"
	"18446744073709551615" "18446744073709551616" "9223372036854775807"
	"9223372036854775808" "-9223372036854775808" "99999999999999999999999"
	"4294967295" "4294967296" "65536" "0x10" "1e9" "nan" "inf" "2^64"
	$'1\n2' $'\n' $'\e[2J' $'a\tb' $'\x7f' "%s%n%x" "$big" "x$big" "é"
	"106752d" "18446744073709551616s" "1ns" "0s" "9223372036s"
	"SIGKILL" "RTMAX+1" "RTMIN+40" "KILL" "0" "64" "65")
durations=("0" "0.1" "1ms" "10ns" "1d" "0.3s" "2m" "1h")
signals=("TERM" "KILL" "0" "HUP" "USR1" "RTMIN" "RTMAX-1" "STOP" "CONT" "CHLD" "64")
counts=("1" "2" "3" "4096" "4097" "100000")
paths=("x" "./p" "sub" "sub/y" "" "/nonexistent/x" "." ".." "$big" $'n\nl')
users=("nobody" "root" "65534" "65534:65534" "0:0" "root:" ":" "nosuch" "x:y:z")
addrs=("tcp:127.0.0.1:0" "tcp:[::1]:0" "unix:s" "unix:" "tcp:127.0.0.1:99999"
	"tcp::0" "a=tcp:127.0.0.1:0" "=unix:t" "unix:$big" "tcp6:[::1]:0" "x")
queues=("q" "./q" "sysv:1" "sysv:0x10" "sysv:x@1" "sysv:1:2" "sysv:" ".q" "")
cmds=("true" "false" "sleep 0.3" "sleep 30" "/nonexistent" "sleep 0.05")

# value KIND: a value for an option of that kind, now and then any hostile one.
value() {
	if [ $((RANDOM % 4)) -eq 0 ]; then pick "${hostile[@]}"; return; fi
	case $1 in
	dur) pick "${durations[@]}" ;;
	sig) pick "${signals[@]}" ;;
	num) pick "${counts[@]}" ;;
	path) pick "${paths[@]}" ;;
	user) pick "${users[@]}" ;;
	addr) pick "${addrs[@]}" ;;
	queue) pick "${queues[@]}" ;;
	pid) pick "1" "2" "999999999" "0" "-1" "$$" ;;
	*) pick "${hostile[@]}" ;;
	esac
}

# Options per program: "LETTER:KIND" (KIND - for a flag).
case $prog in
daemonize) opts=(-a:- -c:path -o:path -e:path -p:path -l:path -u:user -m:any
	-E:any -A:any -N:- --ready-fd:num -w:dur -f:- -q:- -v:- --status:-
	--stop:- -s:sig -t:dur -K:- --signal:sig -h:- -V:-) ;;
palarm) opts=(-c:num -i:- -a:- -j:dur -T:- -s:sig -p:pid -d:dur -k:dur -W:dur) ;;
prefork) opts=(-n:num -t:any -p:path -S:sig -g:dur -b:dur -M:dur -l:addr
	-L:- -0:- -R:- -k:- --window:dur --retry:num -m:num -q:- -v:-) ;;
pqueue) opts=(-d:path -q:- -v:-) ;;
preap) opts=(-r:path -g:- -w:- -k:dur -p:sig -q:- -v:- -z:-) ;;
pkillall-title) opts=(-s:sig -KILL:- -0:- -l:- -e:- -F:- -r:- -a:- -u:user
	-A:- -P:pid -n:- -o:- -w:- -t:dur -K:- -q:-) ;;
*) echo "argfuzz: unknown program $prog" >&2; exit 2 ;;
esac
pq_sub=("push -0 --sync --max-size:num" "pop -0 -n -w:dur -c:num -f"
	"run -0 -f -c:num --max-attempts:num" "peek -0" "len" "stat" "ls"
	"purge" "dead -0 --requeue" "nosuch")

# vector: fill argv with a random vector for $prog.
vector() {
	local n i o k sub w
	argv=()
	n=$((RANDOM % 5))
	for ((i = 0; i < n; i++)); do
		pick "${opts[@]}"; o=${REPLY%%:*}; k=${REPLY#*:}
		argv+=("$o")
		# A missing value now and then (the option last, or no value).
		if [ "$k" != - ] && [ $((RANDOM % 12)) -ne 0 ]; then
			value "$k"; argv+=("$REPLY")
		fi
	done
	[ $((RANDOM % 10)) -eq 0 ] && { value any; argv+=("$REPLY"); }
	case $prog in
	pqueue)
		pick "${pq_sub[@]}"; read -ra sub <<< "$REPLY"
		argv+=("${sub[0]}")
		for w in "${sub[@]:1}"; do
			[ $((RANDOM % 3)) -eq 0 ] || continue
			argv+=("${w%%:*}")
			case $w in *:*) value "${w#*:}"; argv+=("$REPLY") ;; esac
		done
		[ $((RANDOM % 8)) -ne 0 ] && { value queue; argv+=("$REPLY"); }
		case ${sub[0]} in
		push) [ $((RANDOM % 2)) -eq 0 ] && { value any; argv+=("$REPLY"); } ;;
		run) [ $((RANDOM % 6)) -ne 0 ] && argv+=(--) && pick "${cmds[@]}" &&
			read -ra w <<< "$REPLY" && argv+=("${w[@]}") ;;
		esac ;;
	palarm)
		[ $((RANDOM % 6)) -ne 0 ] && { value dur; argv+=("$REPLY"); }
		[ $((RANDOM % 2)) -eq 0 ] && { argv+=(--); pick "${cmds[@]}"
			read -ra w <<< "$REPLY"; argv+=("${w[@]}"); } ;;
	pkillall-title)
		[ $((RANDOM % 8)) -ne 0 ] && { pick "argfuzz-target" "argfuzz" "" \
			"." "^a.*" "(" "sleep" "$big"; argv+=("$REPLY"); } ;;
	*)
		[ $((RANDOM % 8)) -ne 0 ] && argv+=(--)
		[ $((RANDOM % 8)) -ne 0 ] && { pick "${cmds[@]}"
			read -ra w <<< "$REPLY"; argv+=("${w[@]}"); } ;;
	esac
}

# The namespace's PID 1: run the program under argrun, then list what
# is left (not PID 1, not zombies) for up to 1.5 s.
inner='
ip link set lo up 2>/dev/null
# A target for pkillall-title and palarm -p to find, in here only.
sleep 30 & echo $! > .target
"$ARGRUN" .result "$LIMIT" "$GRACE" -- "$@" < /dev/null > out 2> err
kill -KILL "$(cat .target)" 2>/dev/null; wait
i=0
while :; do
	left=
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = 1 ] && continue
		read -r st < "$d/stat" 2>/dev/null || continue
		st=${st##*) }
		case $st in Z*|X*) continue ;; esac
		left="$left $p"
	done
	[ -z "$left" ] && break
	i=$((i + 1))
	if [ $i -ge 15 ]; then
		for p in $left; do
			printf " left=%s:%s" "$p" "$(tr "\0" " " < /proc/$p/cmdline 2>/dev/null)"
		done >> .result
		break
	fi
	sleep 0.1
done
'

report() {
	printf '%s %s #%d: %s:' "$1" "$prog" "$idx" "$2"
	printf ' %q' "$prog" "${argv[@]}"
	printf '\n'
}

# one IDX: run vector IDX and report what went wrong.
one() {
	local d res how code cpu wall lines a owngrace=0
	RANDOM=$((seed * 100000 + idx))
	vector
	local prev= heavy=0
	for a in "${argv[@]}"; do
		case $a in -g|--grace|-k|-t) owngrace=1 ;; esac
		# Thousands of workers asked for are load, not a busy loop.
		[ "$prev" = -n ] && [[ $a =~ ^[0-9]{4,}$ ]] && heavy=1
		prev=$a
	done
	d=$work/$idx
	mkdir -p "$d/sub"
	(cd "$d" && ARGRUN=$B/helpers/argrun LIMIT=$limit GRACE=$grace \
	    unshare --pid --fork --net --ipc --mount-proc --kill-child \
	    sh -c "$inner" sh "$B/$prog" "${argv[@]}")
	[ -s "$d/.result" ] || { report error "no result"; return; }
	res=$(tr "\n" " " < "$d/.result")
	set -- $res
	how=$1 code=$2
	case "$how $code" in
	"signal 4"|"signal 6"|"signal 7"|"signal 8"|"signal 11")
		report crash "$res" ;;
	esac
	grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$d/err" &&
		report sanitizer "$(grep -m1 -E 'ERROR|runtime error' "$d/err")"
	case $res in *" kill "*) [ $owngrace = 1 ] || report hang "$res" ;; esac
	case $res in
	*" term "*)
		cpu=${res#*cpu_ms=}; cpu=${cpu%% *}
		wall=${res#*wall_ms=}; wall=${wall%% *}
		[ "$cpu" -gt $((wall / 2)) ] && [ $heavy = 0 ] &&
			report busy "$res" ;;
	esac
	[ "$(stat -c %s "$d/err")" -gt 65536 ] && [ $heavy = 0 ] &&
		report flood "$(stat -c %s "$d/err") bytes: $(head -c 200 "$d/err" | tr '\n' '|')"
	if [ "$how $code" = "exit 2" ]; then
		lines=$(wc -l < "$d/err")
		{ [ "$lines" -eq 1 ] && grep -q "^$prog: " "$d/err"; } ||
			report usage "$lines lines: $(head -c 300 "$d/err" | tr '\n' '|')"
	fi
	case $res in
	*left=*)
		# daemonize(1): a daemon stays after success, after the
		# readiness deadline (exit 1) and after INT/TERM/HUP in the
		# wait (128+N); after anything else it must not.
		case "$prog $how $code" in
		"daemonize exit "[01]|"daemonize exit 129"|"daemonize exit 130"|"daemonize exit 143") ;;
		*)
			report leftover "${res#* left=}" ;;
		esac ;;
	esac
	rm -rf "$d"
}

for ((j = 0; j < jobs; j++)); do
	for ((idx = first + j; idx < first + count; idx += jobs)); do
		one
	done > "$work/findings.$j" &
done
wait
# Findings already reported and waiting for a fix elsewhere are listed in
# tests/argfuzz.known ("KIND PROG ERE  # why", the ERE matched against the
# whole finding line, without blanks): shown as "known ...", not counted.
known=$(dirname "$0")/argfuzz.known
findings=0
while IFS= read -r line; do
	set -- $line
	k=0
	while read -r kk kp kre _; do
		case $kk in ''|'#'*) continue ;; esac
		re=${kre%%#*}
		if [ "$kk" = "$1" ] && [ "$kp" = "$2" ] &&
		    [[ $line =~ $re ]]; then
			k=1
			break
		fi
	done < "$known"
	if [ $k = 1 ]; then
		echo "known $line"
	else
		echo "$line"
		findings=$((findings + 1))
	fi
done < <(cat "$work"/findings.*)
echo "argfuzz $prog: $count vectors, $findings findings"
[ "$findings" -eq 0 ]
