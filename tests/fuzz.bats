#!/usr/bin/env bats
# Replay of the fuzz corpora (tests/fuzz/corpus/NAME, seeds and the inputs
# of crashes found by make fuzz) through each target's entry point, built
# with the normal compiler (and ASan/UBSan under make SANITIZE=1 check).
# A target checks properties against a model, so a wrong answer fails
# here as a crash would.

load helpers

replay() {
	local bin=$PKIT_BUILD/fuzz/$1-replay corpus=$BATS_TEST_DIRNAME/fuzz/corpus/$1
	[ -x "$bin" ] || { echo "no $bin: make helpers"; return 1; }
	run "$bin" "$corpus"
	[ "$status" -eq 0 ] || { echo "$output" | tail -20; return 1; }
	# Every file of the corpus went through.
	[ "${lines[-1]}" = "$(find "$corpus" -type f ! -name '.*' | wc -l) inputs" ]
}

@test "fuzz corpus: duration_parse and duration_fmt" { replay duration; }
@test "fuzz corpus: signal_parse round-trips through signal_name" { replay signal; }
@test "fuzz corpus: int_parse against its model (LLONG_MIN, overflow then garbage)" { replay integer; }
@test "fuzz corpus: size_parse against its model" { replay size; }
@test "fuzz corpus: user_parse" { replay user; }
@test "fuzz corpus: the record reader against a plain split" { replay records; }
@test "fuzz corpus: /proc stat line and cmdline title parsers" { replay stat; }
@test "fuzz corpus: the RESP2 reply parser round-trips what it parsed" { replay resp; }
@test "fuzz corpus: msg_escape leaves no control character and unescapes back" { replay escape; }
@test "fuzz corpus: the store reader over mutated queue directories" { replay store; }
