#!/bin/sh
# bench/prefork.sh: prefork's dispatch throughput against the tools people
# use today, as ratios taken in one run (DESIGN §5):
#   -L -R --window 64, C reply worker   vs xargs -P2 -n1, parallel -j2
#   -L -R (window 1)                    vs a bare pipe ping-pong (pfpingpong)
#   -L stream mode                      vs cat through a pipe
# and the master's peak RSS after 1,000,000 records.
# PKIT_BUILD selects the build (default: build).
set -eu
B=${PKIT_BUILD:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
PATH=$B:$B/helpers:$B/bench:$PATH
for t in prefork pfworker pfpingpong; do
	command -v "$t" >/dev/null || { echo "bench/prefork.sh: build $t first (make progs helpers)" >&2; exit 1; }
done
command -v parallel >/dev/null || apt-get install -y parallel >/dev/null
W=$(mktemp -d /tmp/pkit-bench-prefork-$$-XXXXXX)
trap 'rm -rf "$W"' EXIT
now() { date +%s%N; }
# rate COUNT START END -> records per second
rate() { echo "$1 $2 $3" | awk '{ printf "%.0f", $1 / (($3 - $2) / 1e9) }'; }
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }

N=1000000
seq $N > "$W/in"

t0=$(now); prefork -n 2 -R --window 64 -- pfworker < "$W/in" > "$W/out"; t1=$(now)
[ "$(wc -l < "$W/out")" -eq $N ] || { echo "bench: -R --window 64 lost records" >&2; exit 1; }
r_win=$(rate $N "$t0" "$t1")

NW=200000
head -n $NW "$W/in" > "$W/in1"
t0=$(now); prefork -n 2 -R -- pfworker < "$W/in1" > "$W/out"; t1=$(now)
r_w1=$(rate $NW "$t0" "$t1")
t0=$(now); pfpingpong $NW; t1=$(now)
r_pp=$(rate $NW "$t0" "$t1")

NS=5000000
seq $NS > "$W/ins"
t0=$(now); prefork -n 2 -L -- pfworker < "$W/ins" > "$W/out"; t1=$(now)
[ "$(wc -l < "$W/out")" -eq $NS ] || { echo "bench: -L lost records" >&2; exit 1; }
r_str=$(rate $NS "$t0" "$t1")
t0=$(now); cat < "$W/ins" | cat > "$W/out"; t1=$(now)
r_cat=$(rate $NS "$t0" "$t1")

NX=3000
head -n $NX "$W/in" > "$W/inx"
t0=$(now); xargs -P2 -n1 echo < "$W/inx" > "$W/out"; t1=$(now)
r_xargs=$(rate $NX "$t0" "$t1")
NP=1000
head -n $NP "$W/in" > "$W/inp"
t0=$(now); parallel -j2 echo < "$W/inp" > "$W/out"; t1=$(now)
r_par=$(rate $NP "$t0" "$t1")

# Master peak RSS (VmHWM) once 1,000,000 records went through.
mkfifo "$W/fifo"
prefork -n 2 -R --window 64 -- pfworker < "$W/fifo" > "$W/out" &
m=$!
{ cat "$W/in"; sleep 3; } > "$W/fifo" &
f=$!
while [ "$(wc -l < "$W/out")" -lt $N ]; do sleep 0.1; done
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$m/status")
wait "$f" "$m"

cat <<END
prefork -L -R --window 64 (C worker, 2 workers): $r_win records/s
prefork -L -R (window 1):                        $r_w1 records/s
prefork -L stream (C worker):                    $r_str lines/s
xargs -P2 -n1 echo:                              $r_xargs records/s
parallel -j2 echo:                               $r_par records/s
pipe ping-pong (pfpingpong):                     $r_pp round trips/s
cat | cat:                                       $r_cat lines/s
ratios: window64/xargs $(ratio "$r_win" "$r_xargs")x (target >= 100x), window64/parallel $(ratio "$r_win" "$r_par")x
        window1/ping-pong $(ratio "$r_w1" "$r_pp")x (target >= 0.5x), stream/cat $(ratio "$r_str" "$r_cat")x (target >= 0.3x)
master peak RSS after $N records: ${hwm} KiB (target < 2048 KiB)
END
