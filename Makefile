# pkit: six small process tools. See README.md.
#
#   make              build the programs (and man pages if scdoc is present)
#   make check        build and run the bats suite; the last line says
#                     "N passed, N failed, N skipped" (TAP counted)
#   make SANITIZE=1 check   the same, built with ASan+UBSan into build/san
#   make demo         the daemon + pool + queue + watchdog demonstration
#   make bench        run bench/ and rewrite bench/RESULTS.md
#   make install      PREFIX, DESTDIR, BINDIR, MANDIR are honoured

VERSION  = 0.1.0
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

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
ifeq ($(SANITIZE),1)
B = build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
endif

PKIT_CPPFLAGS = -D_DEFAULT_SOURCE -DPKIT_VERSION='"$(VERSION)"' -Ilib
ALL_CFLAGS = -std=c11 $(WARN) $(PKIT_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) \
             $(SANFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

PROGS   = $(sort $(basename $(notdir $(wildcard cmd/*.c))))
LIBOBJ  = $(patsubst lib/%.c,$(B)/lib/%.o,$(wildcard lib/*.c))
HELPERS = $(sort $(basename $(notdir $(wildcard tests/helpers/*.c))))
BENCHES = $(sort $(basename $(notdir $(wildcard bench/*.c))))
MANSRC  = $(wildcard man/*.scd)
MANOUT  = $(patsubst man/%.scd,$(B)/man/%,$(MANSRC))
HAVE_SCDOC := $(shell command -v $(SCDOC) 2>/dev/null)

.PHONY: all progs helpers man check demo bench install uninstall clean
all: progs man

progs: $(PROGS:%=$(B)/%)
helpers: $(HELPERS:%=$(B)/helpers/%) $(BENCHES:%=$(B)/bench/%)

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

$(B)/libpkit.a: $(LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

$(B)/%: $(B)/cmd/%.o $(B)/libpkit.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libpkit.a

$(B)/helpers/%: $(B)/helpers/%.o $(B)/libpkit.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libpkit.a

$(B)/bench/%: $(B)/bench/%.o $(B)/libpkit.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(B)/libpkit.a

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

install: progs man
	mkdir -p $(DESTDIR)$(BINDIR)
	for p in $(PROGS); do cp $(B)/$$p $(DESTDIR)$(BINDIR)/$$p; \
	  chmod 755 $(DESTDIR)$(BINDIR)/$$p; done
	if [ -n "$(HAVE_SCDOC)" ]; then \
	  for m in $(MANOUT); do s=$${m##*.}; \
	    mkdir -p $(DESTDIR)$(MANDIR)/man$$s; \
	    cp $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	    chmod 644 $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done; fi
	if [ -f completions/pkit.bash ]; then \
	  mkdir -p $(DESTDIR)$(BASHCOMPDIR); \
	  for p in $(PROGS); do \
	    cp completions/pkit.bash $(DESTDIR)$(BASHCOMPDIR)/$$p; done; fi

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$$p \
	  $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	for m in $(MANSRC); do n=$${m##*/}; n=$${n%.scd}; s=$${n##*.}; \
	  rm -f $(DESTDIR)$(MANDIR)/man$$s/$$n; done

clean:
	rm -rf build

.SECONDARY:
-include $(wildcard $(B)/*/*.d)
