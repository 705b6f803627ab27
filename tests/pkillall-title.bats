#!/usr/bin/env bats
# pkillall-title: matching, signalling, safety and waiting (DESIGN §3.6).
# Every title here starts with $N = $T-$BATS_TEST_NUMBER, so teardown can
# clean up by title and nothing outside this run is ever matched.

bats_require_minimum_version 1.5.0
load helpers

local_setup() {
	N=$T-$BATS_TEST_NUMBER
}

# title_of PID: the title as DESIGN §2 defines it.
title_of() {
	local t
	t=$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null) || return 1
	t=${t%"${t##*[! ]}"}
	printf '%s\n' "$t"
}

has_title() { [ "$(title_of "$1")" = "$2" ]; }

# count_lines FILE N, count_titles PREFIX N: for wait_for, which must
# re-evaluate the count on each try.
count_lines() { [ "$(wc -l < "$1" 2>/dev/null)" = "$2" ]; }
count_titles() { [ "$(title_pids "$1" | wc -l)" = "$2" ]; }

# start_titled [TITLED-OPTIONS] TITLE: start the helper, wait until its
# title is set; its pid is in $TPID.
start_titled() {
	local title=${*: -1}
	spawn_bg titled "$@"
	TPID=$!
	wait_for 5 has_title "$TPID" "$title"
}

# A process with several arguments, so that argv[0] differs from the
# title: "ARGV0 1000 ARGS..." (ARGS are more seconds for sleep).
start_exec_a() {
	local argv0=$1; shift
	spawn_bg bash -c 'exec -a "$0" sleep 1000 "$@"' "$argv0" "$@"
	TPID=$!
	wait_for 5 has_title "$TPID" "$(printf '%s ' "$argv0" 1000 "$@" |
	    sed 's/ *$//')"
}

# usage_error ARGS...: exit 2, one "pkillall-title: " line, no stdout,
# and the helper that would match ($TPID, reporting to sig.log) got
# nothing and is alive.
usage_error() {
	run --separate-stderr pkillall-title "$@"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == pkillall-title:\ * ]]
	sleep 0.1
	alive "$TPID"
	[ ! -s sig.log ]
}

# hup_by ARGS...: the signal options ARGS deliver SIGHUP and only that.
hup_by() {
	start_titled -r sig.log -i HUP "$N-hup"
	run pkillall-title "$@" "$N-hup"
	[ "$status" -eq 0 ]
	wait_for 5 test -s sig.log
	sleep 0.1
	[ "$(cat sig.log)" = HUP ]
	alive "$TPID"
}

@test "pkillall-title: -0 exits 0 when the title runs" {
	start_titled "$N-master"
	run -0 pkillall-title -0 "$N-master"
	[ "$output" = "" ]
}

@test "pkillall-title: -0 exits 1 for an absent title" {
	start_titled "$N-master"
	run -1 pkillall-title -0 "$N-absent"
	[ "$output" = "" ]
}

@test "pkillall-title: -l lists exactly the matches and signals nothing" {
	start_titled -r a.log "$N-master"; a=$TPID
	start_titled -r b.log "$N-worker 1"; b=$TPID
	start_titled -r c.log "$N+other"; c=$TPID
	run -0 pkillall-title -l "$N-*"
	[ "$(printf '%s\n' "$output" | sort)" = "$(printf '%s\n' \
	    "$a $N-master" "$b $N-worker 1" | sort)" ]
	sleep 0.1
	alive "$a"; alive "$b"; alive "$c"
	[ ! -e a.log ] && [ ! -e b.log ] && [ ! -e c.log ]
}

@test "pkillall-title: a plain word is an exact match" {
	start_titled "$N-master2"
	run -1 pkillall-title -0 "$N-master"
	start_titled "$N-master"; a=$TPID
	run -0 pkillall-title -l "$N-master"
	[ "$output" = "$a $N-master" ]
}

@test "pkillall-title: a glob's * crosses spaces and slashes" {
	start_titled "$N-php /srv/app/worker.php --pool=a"; a=$TPID
	run -0 pkillall-title -l "$N-php */worker.php*"
	[ "$output" = "$a $N-php /srv/app/worker.php --pool=a" ]
}

@test "pkillall-title: -F matches the whole title literally" {
	start_titled "$N-a*b"; star=$TPID
	start_titled "$N-aXb"; x=$TPID
	run -0 pkillall-title -F -l "$N-a*b"
	[ "$output" = "$star $N-a*b" ]
	run -1 pkillall-title -F -0 "$N-a"
	run -0 pkillall-title -l "$N-a*b"
	[ "${#lines[@]}" -eq 2 ]
}

@test "pkillall-title: -r is an unanchored extended regex" {
	start_titled "$N-worker 12"; a=$TPID
	start_titled "$N-worker x"
	# Unanchored: the pattern starts inside the title (past "pkit-"),
	# and is still unique to this run, so nothing else on the machine
	# can match it.
	run -0 pkillall-title -r -l "${N#pkit-}-worker [0-9]+$"
	[ "$output" = "$a $N-worker 12" ]
	run -1 pkillall-title -r -0 "^${N#pkit-}-worker [0-9]+$"
	run -0 pkillall-title -r -l "^$N-(worker) (1|3)2$"
	[ "$output" = "$a $N-worker 12" ]
}

@test "pkillall-title: -a matches argv[0] alone" {
	start_exec_a "$N-app" 0; a=$TPID
	run -1 pkillall-title -0 "$N-app"
	run -0 pkillall-title -a -l "$N-app"
	[ "$output" = "$a $N-app 1000 0" ]
	run -0 pkillall-title -a -F -0 "$N-app"
	run -1 pkillall-title -a -0 "$N-app 1000*"
}

@test "pkillall-title: several PATTERNs, any may match" {
	start_titled "$N-one"; a=$TPID
	start_titled "$N-two"; b=$TPID
	start_titled "$N-three"
	run -0 pkillall-title -l "$N-one" "$N-two" "$N-none"
	[ "$(printf '%s\n' "$output" | sort)" = "$(printf '%s\n' \
	    "$a $N-one" "$b $N-two" | sort)" ]
}

@test "pkillall-title: the default action terminates every match" {
	start_titled -r a.log "$N-job"; a=$TPID
	start_titled "$N-job"; b=$TPID
	run -0 pkillall-title "$N-job"
	[ "$output" = "" ]
	wait_for 5 gone "$a"
	wait_for 5 gone "$b"
	[ "$(cat a.log)" = TERM ]
}

@test "pkillall-title: -s HUP delivers SIGHUP" {
	hup_by -s HUP
}

@test "pkillall-title: -HUP delivers SIGHUP" {
	hup_by -HUP
}

@test "pkillall-title: -1 delivers SIGHUP" {
	hup_by -1
}

@test "pkillall-title: -s SIGHUP delivers SIGHUP" {
	hup_by -s SIGHUP
}

@test "pkillall-title: -s RTMIN+3 and --signal usr1 are understood" {
	start_titled -r sig.log -i RTMIN+3 -i USR1 "$N-rt"
	run -0 pkillall-title -s RTMIN+3 "$N-rt"
	wait_for 5 test -s sig.log
	run -0 pkillall-title --signal usr1 "$N-rt"
	wait_for 5 count_lines sig.log 2
	[ "$(cat sig.log)" = "$(printf 'RTMIN+3\nUSR1')" ]
}

@test "pkillall-title: -e echoes each process it signals" {
	start_titled -i TERM "$N-e"; a=$TPID
	run -0 pkillall-title -e "$N-e"
	[ "$output" = "$a $N-e" ]
}

@test "pkillall-title: -l with -s lists and signals" {
	start_titled -r sig.log -i USR2 "$N-ls"; a=$TPID
	run -0 pkillall-title -l -s USR2 "$N-ls"
	[ "$output" = "$a $N-ls" ]
	wait_for 5 test -s sig.log
	[ "$(cat sig.log)" = USR2 ]
}

@test "pkillall-title: another user's process is not matched by default" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to start a process as nobody"
	spawn_bg setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    titled "$N-other"
	TPID=$!
	wait_for 5 has_title "$TPID" "$N-other"
	run -1 pkillall-title -0 "$N-other"
	run -1 pkillall-title "$N-other"
	sleep 0.1
	alive "$TPID"
}

@test "pkillall-title: -u nobody matches nobody's process" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to start a process as nobody"
	spawn_bg setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    titled "$N-other"
	TPID=$!
	wait_for 5 has_title "$TPID" "$N-other"
	start_titled "$N-other"; mine=$TPID
	run -0 pkillall-title -u nobody -l "$N-other"
	[ "$output" = "$(printf '%s %s' "${PKIT_PIDS[0]}" "$N-other")" ]
	run -0 pkillall-title -u 65534 -0 "$N-other"
	run -2 pkillall-title -u no-such-user-pkit -0 "$N-other"
}

@test "pkillall-title: a setuid-like process of another real user is not root's by default" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to set a real uid"
	# Real uid nobody, effective uid 0: what `exec -a TITLE su` run by
	# nobody looks like.
	spawn_bg ruid 65534 sleep "$N-suid" 300
	TPID=$!
	wait_for 5 has_title "$TPID" "$N-suid 300"
	run -1 pkillall-title -0 "$N-suid*"
	run -1 pkillall-title "$N-suid*"
	run -0 pkillall-title -u root -l "$N-suid*"
	[ "$output" = "$TPID $N-suid 300" ]
	run -0 pkillall-title -U nobody -l "$N-suid*"
	[ "$output" = "$TPID $N-suid 300" ]
	run -1 pkillall-title -U root -l "$N-suid*"
	run -1 pkillall-title -u root -U root -l "$N-suid*"
	run -0 pkillall-title -u root -U nobody -l "$N-suid*"
	run -2 --separate-stderr pkillall-title -U nobody -A -l "$N-suid*"
	alive "$TPID"
}

@test "pkillall-title: in a pid namespace that shows another one's /proc it says so" {
	command -v unshare >/dev/null || skip "unshare is not installed"
	unshare -pf true 2>/dev/null || skip "cannot create a pid namespace"
	start_titled "$N-ns"
	run -3 --separate-stderr unshare -pf pkillall-title "$N-ns"
	echo "$stderr"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "pkillall-title: "*"pid namespace"* ]]
	run -3 unshare -pf pkillall-title -0 "$N-ns"
	sleep 0.1
	alive "$TPID"
}

@test "pkillall-title: -A matches every user's process" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to start a process as nobody"
	spawn_bg setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    titled "$N-other"
	other=$!
	wait_for 5 has_title "$other" "$N-other"
	start_titled "$N-other"; mine=$TPID
	run -0 pkillall-title -A -l "$N-other"
	[ "$(printf '%s\n' "$output" | sort)" = "$(printf '%s\n' \
	    "$other $N-other" "$mine $N-other" | sort)" ]
	run -0 pkillall-title -A "$N-other"
	wait_for 5 gone "$other"
}

@test "pkillall-title: never signals itself" {
	run bash -c 'exec -a "$1" pkillall-title "$1"' sh "$N-self"
	[ "$status" -eq 1 ]
	run bash -c 'exec -a "$1" pkillall-title -s KILL "$1*"' sh "$N-self"
	[ "$status" -eq 1 ]
}

@test "pkillall-title: never signals an ancestor" {
	run bash -c 'exec -a "$1" bash -c "pkillall-title -s KILL \"\$1*\";
	    echo survived \$?" "$1" "$1"' sh "$N-anc"
	[ "$status" -eq 0 ]
	[ "$output" = "survived 1" ]
}

@test "pkillall-title: an ancestor is spared, its other matches are not" {
	start_titled "$N-anc-worker"; w=$TPID
	run bash -c 'exec -a "$1" bash -c "pkillall-title -e \"\$1*\";
	    echo survived \$?" "$1" "$1"' sh "$N-anc"
	[ "${lines[0]}" = "$w $N-anc-worker" ]
	[ "${lines[1]}" = "survived 0" ]
	wait_for 5 gone "$w"
}

@test "pkillall-title: -w -t 1s on a TERM-ignoring process exits 3 after about 1s" {
	start_titled -i TERM "$N-stubborn"
	t0=$(ms_now)
	run --separate-stderr pkillall-title -w -t 1s "$N-stubborn"
	t1=$(ms_now)
	[ "$status" -eq 3 ]
	[ $((t1 - t0)) -ge 900 ]
	[ $((t1 - t0)) -lt 4000 ]
	[[ $stderr == "pkillall-title: $TPID still running after 1s" ]]
	alive "$TPID"
}

@test "pkillall-title: -w -t 1s -K kills the survivor and exits 0" {
	start_titled -i TERM "$N-stubborn"
	run -0 pkillall-title -w -t 1s -K "$N-stubborn"
	gone "$TPID"
}

@test "pkillall-title: -q silences the timeout report" {
	start_titled -i TERM "$N-stubborn"
	run --separate-stderr pkillall-title -q -w -t 200ms "$N-stubborn"
	[ "$status" -eq 3 ]
	[ "$stderr" = "" ]
}

@test "pkillall-title: -w returns once a slow process has exited" {
	start_titled -d 500ms "$N-slow"
	t0=$(ms_now)
	run -0 pkillall-title -w "$N-slow"
	t1=$(ms_now)
	gone "$TPID"
	[ $((t1 - t0)) -ge 400 ]
}

@test "pkillall-title: -w counts a zombie as gone" {
	# The parent execs sleep, so nobody reaps the titled child.
	spawn_bg sh -c 'titled -p z.pid "$1" & exec sleep 1000' sh "$N-zombie"
	parent=$!
	wait_for 5 test -s z.pid
	z=$(cat z.pid)
	track "$z"
	run -0 pkillall-title -w -t 5s "$N-zombie"
	[ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$z/stat")" = Z ]
	[ "$(zombies_of "$parent")" -eq 1 ]
	# A zombie has no title: it is never matched again.
	run -1 pkillall-title -0 "$N-zombie"
}

@test "pkillall-title: -0 -w waits without signalling" {
	start_titled -r sig.log "$N-watch"
	pkillall-title -0 -w "$N-watch" 3>&- &
	waiter=$!
	sleep 0.3
	alive "$waiter"
	[ ! -e sig.log ]
	kill -KILL "$TPID"
	wait "$waiter"
}

@test "pkillall-title: -P picks the children of one parent" {
	spawn_bg bash -c 'titled "$1" & titled "$1" & wait' sh "$N-kid"
	parent=$!
	start_titled "$N-kid"; stray=$TPID
	wait_for 5 count_titles "$N-kid" 3
	run -0 pkillall-title -P "$parent" -l "$N-kid"
	[ "${#lines[@]}" -eq 2 ]
	[[ $output != *"$stray $N-kid"* ]]
	run -1 pkillall-title -P 1 -0 "$N-kid"
}

@test "pkillall-title: -n and -o pick the newest and the oldest match" {
	start_titled "$N-gen"; old=$TPID
	sleep 0.05
	start_titled "$N-gen"; mid=$TPID
	sleep 0.05
	start_titled "$N-gen"; new=$TPID
	run -0 pkillall-title -n -l "$N-gen"
	[ "$output" = "$new $N-gen" ]
	run -0 pkillall-title -o -l "$N-gen"
	[ "$output" = "$old $N-gen" ]
}

@test "pkillall-title: a title longer than 4 KiB is read to the end" {
	long=0.$(printf '0%.0s' $(seq 5000))7
	start_exec_a "$N-long" "$long"
	run -0 pkillall-title -0 "$N-long*0007"
	run -1 pkillall-title -0 "$N-long*0008"
}

@test "pkillall-title: control bytes in a listed title are shown as ?" {
	start_exec_a "$N-nl"$'\n'"x"
	run -0 pkillall-title -l "$N-nl?x*"
	[ "$output" = "$TPID $N-nl?x 1000" ]
}

@test "pkillall-title: a zombie or a process that vanished is no error" {
	start_titled "$N-brief"; a=$TPID
	start_titled "$N-brief"
	kill -KILL "$a"
	run -0 pkillall-title "$N-brief"
}

@test "pkillall-title: an unknown signal is a usage error" {
	start_titled -r sig.log "$N-u"
	usage_error -s NOSUCH "$N-u"
	usage_error -s 99 "$N-u"
}

@test "pkillall-title: a bad regex is a usage error" {
	start_titled -r sig.log "$N-u"
	usage_error -r "$N-u(" "$N-u"
}

@test "pkillall-title: a bad duration is a usage error" {
	start_titled -r sig.log "$N-u"
	usage_error -w -t 1x "$N-u"
	usage_error -w -t -1s "$N-u"
}

@test "pkillall-title: no PATTERN is a usage error" {
	start_titled -r sig.log "$N-u"
	usage_error
	usage_error -s HUP
}

@test "pkillall-title: -0 with -l is a usage error" {
	start_titled -r sig.log "$N-u"
	usage_error -0 -l "$N-u"
}

@test "pkillall-title: conflicting or unknown options are usage errors" {
	start_titled -r sig.log "$N-u"
	usage_error -F -r "$N-u"
	usage_error -n -o "$N-u"
	usage_error -u root -A "$N-u"
	usage_error -t 1s "$N-u"
	usage_error -K "$N-u"
	usage_error -Z "$N-u"
	usage_error --nope "$N-u"
	usage_error -P x "$N-u"
}

@test "pkillall-title: --help and --version go to stdout" {
	run -0 pkillall-title --help
	[[ ${lines[0]} == "usage: pkillall-title "* ]]
	run -0 pkillall-title -V
	[[ $output == "pkillall-title (pkit) "* ]]
}

@test "pkillall-title: --help lists every long option and ends with See pkillall-title(1)." {
	run -0 pkillall-title --help
	local o n=0
	for o in $(grep -o '{ "[a-z0-9-]*",' "$BATS_TEST_DIRNAME/../cmd/pkillall-title.c" | tr -d '{",'); do
		n=$((n + 1))
		[[ "$output" == *"--$o"* ]] || { echo "missing --$o"; return 1; }
	done
	[ "$n" -ge 10 ]
	[ "${lines[${#lines[@]}-1]}" = "See pkillall-title(1)." ]
}

@test "pkillall-title: -l --json is a JSON array of {pid, title}, escaped" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	start_titled "$N-j a\"b\\c"; a=$TPID
	start_titled "$N-j two"; b=$TPID
	run -0 pkillall-title -l --json "$N-j*"
	echo "$output"
	printf '%s\n' "$output" | python3 -m json.tool >/dev/null
	run -0 python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(sorted("%d=%s" % (x["pid"], x["title"]) for x in d)))' <<<"$output"
	[ "$output" = "$(printf '%s\n' "$a=$N-j a\"b\\c" "$b=$N-j two" | sort | tr '\n' ' ' | sed 's/ $//')" ]
	run -1 pkillall-title --json "$N-none"
	[ "$output" = "[]" ]
	alive "$a"
}

@test "pkillall-title: -c counts the matches and signals nothing" {
	start_titled -r sig.log "$N-c"; a=$TPID
	start_titled "$N-c"
	run -0 pkillall-title -c "$N-c"
	[ "$output" = 2 ]
	run -1 pkillall-title -c "$N-none"
	[ "$output" = 0 ]
	sleep 0.1
	[ ! -s sig.log ]
	alive "$a"
	run -2 pkillall-title -c --json "$N-c"
}

@test "pkillall-title: -v says what was signalled, one line each" {
	start_titled -r sig.log -i USR1 "$N-v"; a=$TPID
	run -0 --separate-stderr pkillall-title -v -s USR1 "$N-v"
	[ "$stderr" = "pkillall-title: sent USR1 to $a ($N-v)" ]
	[ -z "$output" ]
}
