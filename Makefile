# pkit: six small process tools. See README.md.
#
#   make              build the programs (and man pages if scdoc is present)
#   make check        build and run the bats suite
#   make SANITIZE=1 check   the same, built with ASan+UBSan into build/san
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
	PKIT_BUILD=$(abspath $(B)) $(BATS) tests

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
-include $(wildcard $(B)/*/*.d)
