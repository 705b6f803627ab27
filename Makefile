# pkit: six small process tools. See README.md.
#
#   make              build the programs (and man pages if scdoc is present)
#   make check        build and run the bats suite; the last line says
#                     "N passed, N failed, N skipped" (TAP counted)
#   make SANITIZE=1 check   the same, built with ASan+UBSan into build/san
#   make fuzz         run each libFuzzer target of tests/fuzz for FUZZ_SECONDS
#                     (clang, ASan+UBSan); make check replays their corpora
#   make argfuzz      ARGFUZZ_N (1000) hostile argument vectors per program
#                     (tests/argfuzz.bash); make check runs 50 of them
#   make analyze      gcc -fanalyzer and cppcheck over cmd/ and lib/; fails
#                     on a finding not suppressed in tests/analyze.supp
#   make coverage     the suite built with --coverage into build/cov, then
#                     line and branch coverage per file (gcovr)
#   make demo         the daemon + pool + queue + watchdog demonstration
#   make bench        run bench/ and rewrite bench/RESULTS.md
#   make install      PREFIX, DESTDIR, BINDIR, MANDIR, BASHCOMPDIR and
#                     PROGRAM_PREFIX (e.g. pkit-) are honoured

VERSION  = 0.1.0
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
PROGRAM_PREFIX ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
SCDOC   ?= scdoc
BATS    ?= bats

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wwrite-strings
ifeq ($(WERROR),1)
WARN += -Werror
endif

B = build
ifeq ($(COVERAGE),1)
B = build/cov
CFLAGS = -O0 -g
SANFLAGS = --coverage
endif
ifeq ($(SANITIZE),1)
B = build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
endif

PKIT_CPPFLAGS = -D_DEFAULT_SOURCE -DPKIT_VERSION='"$(VERSION)"' -Ilib
# One section per function, and the linker drops what no program calls:
# every page of a program's own code counts in its resident set (the
# kernel maps 64 KiB around each fault), 8-24 KiB less per program.
GC_CFLAGS = -ffunction-sections -fdata-sections
GC_LDFLAGS = -Wl,--gc-sections
ALL_CFLAGS = -std=c11 $(WARN) $(PKIT_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) \
             $(GC_CFLAGS) $(SANFLAGS) -MMD -MP
# The printf family goes to lib/fmt.c (see there: RSS at rest).
# In the coverage build libgcov, linked after libpkit.a, calls sprintf
# too: -u pulls lib/fmt.o in before the archive is passed.
FMT_WRAP = -Wl,--wrap=snprintf,--wrap=vsnprintf,--wrap=sprintf,--wrap=vasprintf
ifeq ($(COVERAGE),1)
FMT_WRAP += -Wl,-u,__wrap_sprintf,-u,__wrap_snprintf,-u,__wrap_vsnprintf,-u,__wrap_vasprintf
endif
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS) $(GC_LDFLAGS) $(FMT_WRAP)

PROGS   = $(sort $(basename $(notdir $(wildcard cmd/*.c))))
LIBOBJ  = $(patsubst lib/%.c,$(B)/lib/%.o,$(wildcard lib/*.c))
HELPERS = $(sort $(basename $(notdir $(wildcard tests/helpers/*.c))))
BENCHES = $(sort $(basename $(notdir $(wildcard bench/*.c))))
MANSRC  = $(wildcard man/*.scd)
MANOUT  = $(patsubst man/%.scd,$(B)/man/%,$(MANSRC))
HAVE_SCDOC := $(shell command -v $(SCDOC) 2>/dev/null)

# Coverage builds keep the counters of processes that _exit or exec
# (tests/cov/covwrap.c).
ifeq ($(COVERAGE),1)
LIBOBJ += $(B)/lib/covwrap.o
ALL_LDFLAGS += -Wl,--wrap=_exit -Wl,--wrap=execve
endif

# Fuzz targets: tests/fuzz/NAME.c defines LLVMFuzzerTestOneInput. make
# fuzz links each with libFuzzer (clang, into build/libfuzzer); make check
# links each with tests/fuzz/replay.c using the normal compiler
# ($(B)/fuzz/NAME-replay) and runs tests/fuzz/corpus/NAME through it
# (tests/fuzz.bats).
FUZZERS = $(sort $(filter-out replay,$(basename $(notdir $(wildcard tests/fuzz/*.c)))))
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 10
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 $(WARN) $(PKIT_CPPFLAGS) -Itests/fuzz -g -O1 \
              $(FUZZ_SAN) -MMD -MP
FB = build/libfuzzer
FUZZLIBOBJ = $(patsubst lib/%.c,$(FB)/lib/%.o,$(wildcard lib/*.c))

.PHONY: all progs helpers man check demo bench install uninstall clean \
        fuzz fuzzers replays argfuzz analyze coverage
all: progs man

progs: $(PROGS:%=$(B)/%)
helpers: $(HELPERS:%=$(B)/helpers/%) $(BENCHES:%=$(B)/bench/%) replays \
         $(B)/fault/faultinj.so
replays: $(FUZZERS:%=$(B)/fuzz/%-replay)
fuzzers: $(FUZZERS:%=$(FB)/%)

$(B)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/cmd/%.o: cmd/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/helpers/%.o: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/lib/covwrap.o: tests/cov/covwrap.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libpkit.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

$(B)/%: $(B)/cmd/%.o $(B)/libpkit.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libpkit.a

$(B)/helpers/%: $(B)/helpers/%.o $(B)/libpkit.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libpkit.a

$(B)/bench/%: $(B)/bench/%.o $(B)/libpkit.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libpkit.a

$(B)/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -c -o $@ $<

$(B)/fuzz/%-replay: $(B)/fuzz/%.o $(B)/fuzz/replay.o $(B)/libpkit.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^

# The fault-injection shim (tests/fault.bats), never sanitized: it is
# preloaded into sanitized programs too.
$(B)/fault/faultinj.so: tests/fault/faultinj.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -D_DEFAULT_SOURCE $(CFLAGS) -fPIC -shared \
	  -o $@ $< -ldl

$(FB)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FB)/obj/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -c -o $@ $<

$(FB)/libpkit.a: $(FUZZLIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(FUZZLIBOBJ)

$(FB)/%: $(FB)/obj/%.o $(FB)/libpkit.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

# Each target runs FUZZ_SECONDS from the checked-in corpus; what it adds
# goes to build/libfuzzer/corpus, a crash to build/libfuzzer/crash/NAME-*.
# Copy a crash input into tests/fuzz/corpus/NAME/ (name it crash-WHAT)
# with its fix: make check replays it from then on.
fuzz: fuzzers
	@set -e; for t in $(FUZZERS); do \
	  mkdir -p $(FB)/corpus/$$t $(FB)/crash; \
	  echo "fuzz $$t: $(FUZZ_SECONDS)s"; \
	  $(FB)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FB)/crash/$$t- \
	    $(FB)/corpus/$$t tests/fuzz/corpus/$$t 2>$(FB)/$$t.log || \
	    { tail -40 $(FB)/$$t.log; echo "fuzz $$t: FAILED, input in $(FB)/crash/"; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' $(FB)/$$t.log | tail -1; \
	done

ANALYZE_CC ?= gcc
analyze:
	tests/analyze.sh $(ANALYZE_CC)

# The suite's outcome is the coverage run's status, given after the
# figures: a summary, then per file line and branch coverage.
GCOVR = gcovr -r . --object-directory build/cov -f lib/ -f cmd/
coverage:
	@command -v gcovr >/dev/null || \
	  { echo "make coverage needs gcovr: apt-get install gcovr"; exit 1; }
	rm -f build/cov/*/*.gcda
	@st=0; $(MAKE) COVERAGE=1 check || st=$$?; \
	  echo "== line coverage"; $(GCOVR) -s; \
	  echo "== branch coverage"; $(GCOVR) -b; exit $$st

ARGFUZZ_N ?= 1000
ARGFUZZ_SEED ?= 1
argfuzz: progs helpers
	@st=0; for p in $(PROGS); do \
	  PKIT_BUILD=$(abspath $(B)) tests/argfuzz.bash $$p $(ARGFUZZ_N) \
	    $(ARGFUZZ_SEED) || st=1; done; exit $$st

ifneq ($(HAVE_SCDOC),)
man: $(MANOUT)
$(B)/man/%: man/%.scd
	@mkdir -p $(@D)
	$(SCDOC) < $< > $@
else
man:
	@echo "make: scdoc not found, man pages skipped (apt-get install scdoc)"
endif

check: progs helpers man
	@command -v $(BATS) >/dev/null || \
	  { echo "make check needs bats: apt-get install bats"; exit 1; }
	PKIT_BUILD=$(abspath $(B)) tests/bats-summary $(BATS) tests

demo: progs helpers
	@PKIT_BUILD=$(abspath $(B)) sh examples/demo.sh

bench: progs helpers
	PKIT_BUILD=$(abspath $(B)) sh bench/run.sh

# PROGRAM_PREFIX=pkit- installs pkit-daemonize, pkit-daemonize.1 and a
# completion for pkit-daemonize, and so on for each program; pkit.7 keeps
# its name. uninstall must be given the same variables.
install: progs man
	mkdir -p $(DESTDIR)$(BINDIR)
	for p in $(PROGS); do \
	  cp $(B)/$$p $(DESTDIR)$(BINDIR)/$(PROGRAM_PREFIX)$$p; \
	  chmod 755 $(DESTDIR)$(BINDIR)/$(PROGRAM_PREFIX)$$p; done
	if [ -n "$(HAVE_SCDOC)" ]; then \
	  for m in $(MANOUT); do n=$${m##*/}; s=$${n##*.}; \
	    case $$s in 1) n=$(PROGRAM_PREFIX)$$n ;; esac; \
	    mkdir -p $(DESTDIR)$(MANDIR)/man$$s; \
	    cp $$m $(DESTDIR)$(MANDIR)/man$$s/$$n; \
	    chmod 644 $(DESTDIR)$(MANDIR)/man$$s/$$n; done; fi
	mkdir -p $(DESTDIR)$(BASHCOMPDIR)
	for p in $(PROGS); do \
	  sed 's/^_pkit_prefix=$$/_pkit_prefix=$(PROGRAM_PREFIX)/' \
	    completions/pkit.bash > $(DESTDIR)$(BASHCOMPDIR)/$(PROGRAM_PREFIX)$$p; \
	  chmod 644 $(DESTDIR)$(BASHCOMPDIR)/$(PROGRAM_PREFIX)$$p; done

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$(PROGRAM_PREFIX)$$p \
	  $(DESTDIR)$(BASHCOMPDIR)/$(PROGRAM_PREFIX)$$p; done
	for m in $(MANSRC); do n=$${m##*/}; n=$${n%.scd}; s=$${n##*.}; \
	  case $$s in 1) n=$(PROGRAM_PREFIX)$$n ;; esac; \
	  rm -f $(DESTDIR)$(MANDIR)/man$$s/$$n; done

clean:
	rm -rf build

.SECONDARY:
-include $(wildcard $(B)/*/*.d) $(wildcard $(FB)/*/*.d)
