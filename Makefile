# souk - one non-recursive Makefile (STYLE.md §2.19).
#   make            build every binary into build/bin/
#   make run        set up everything, start the stack, print the URLs
#   make stop       stop what `make run` started
#   make logs       follow the processes' logs [P=gateway] [LEVEL=warn] [TRACE=request-id]
#   make test       set up, then run every test
#   make check      the same tests on an ASan+UBSan build
#   make bench      benchmarks (not tests), figures into docs/benchmarks.md
#   make fuzz       libFuzzer targets, FUZZ_TIME=60 s each (fuzz/README.md)
#   make fmt | lint | clean

BUILD    ?= build
CC       ?= cc
PKGS     := libuv jansson libmariadb libjwt libsodium libpq hiredis librabbitmq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lpthread -lm

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wno-format-nonliteral -Werror
OPT      ?= -O2 -g
SAN      ?=
CFLAGS   += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN) -I. -Ilib $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += $(SAN)

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBSOUK  := $(BUILD)/libsouk.a

MONO_SRC := $(wildcard monolith/*.c)
MONO_OBJ := $(MONO_SRC:%.c=$(BUILD)/obj/%.o)
CTL_SRC  := $(wildcard tools/soukctl/*.c)
CTL_OBJ  := $(CTL_SRC:%.c=$(BUILD)/obj/%.o)
# The gateway by layer (gateway/README.md): edge, proxy, policy, routes, shadow, admin, state; main.c,
# gw.h and gateway.h stay at the top, so its files include them with -Igateway.
GW_DIRS  := edge proxy policy routes shadow admin state
GW_SRC   := $(wildcard gateway/*.c $(GW_DIRS:%=gateway/%/*.c))
GW_OBJ   := $(GW_SRC:%.c=$(BUILD)/obj/%.o)
# Live migration (migrate/README.md): change capture, table mappings, forward sync; one program,
# build/bin/souk-sync, from every migrate/*/*.c (new files need no edit here).
MIG_SRC  := $(filter-out migrate/t/%,$(wildcard migrate/*/*.c))
MIG_OBJ  := $(MIG_SRC:%.c=$(BUILD)/obj/%.o)
# Every directory under services/ is one program, build/bin/souk-<name>.
SVCS     := $(notdir $(wildcard services/*))
svc_obj   = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard services/$(1)/*.c))

# C unit tests: every t/NN_*.c is one TAP program in $(BUILD)/t/.
UNIT_SRC := $(wildcard lib/t/[0-9]*.c monolith/t/[0-9]*.c gateway/t/[0-9]*.c services/*/t/[0-9]*.c \
              migrate/t/[0-9]*.c)
UNIT_BIN := $(foreach f,$(UNIT_SRC),$(BUILD)/t/$(subst /,_,$(basename $(subst /t/,/,$(f)))))

# Test programs that lib/t/*.t drive: lib/t/dbkv_probe.c -> build/bin/souk-dbkv-probe.
LIBT_PROGS := testd dbkv_probe mqprobe mqbounce
BINS     := $(BUILD)/bin/souk-monolith $(BUILD)/bin/soukctl \
            $(foreach p,$(LIBT_PROGS),$(BUILD)/bin/souk-$(subst _,-,$(p))) \
            $(if $(GW_SRC),$(BUILD)/bin/souk-gateway) $(SVCS:%=$(BUILD)/bin/souk-%) \
            $(BUILD)/bin/souk-sync $(BUILD)/bin/souk-cdc-probe

# The pages (web/README.md): bundled by esbuild from web/*/ into $(BUILD)/web/<app>/, which the
# gateway serves. Rebuilt when a source or the lock file changes; node_modules comes from
# scripts/bootstrap.sh (npm ci).
WEB_SRC   := $(shell find web -path web/node_modules -prune -o -path web/t -prune -o -type f -print 2>/dev/null)
WEB_STAMP := $(BUILD)/web/.built
$(WEB_STAMP): $(WEB_SRC)
	@mkdir -p $(dir $@)
	node web/build.mjs $(BUILD)/web
	@touch $@
web: $(WEB_STAMP)

.DEFAULT_GOAL := all
.PHONY: all web run stop logs test check bench fmt lint clean units fuzz fuzz-build
all: $(BINS) $(UNIT_BIN) $(WEB_STAMP)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBSOUK): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/souk-monolith: $(MONO_OBJ) $(LIBSOUK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# soukctl backfill copies through the domain mappings and records souk-sync's start;
# soukctl migrate verifies through them.
# backfill orders fills souk-history too, rendered by history's own pure code.
$(BUILD)/bin/soukctl: $(CTL_OBJ) $(filter-out %/main.o,$(MIG_OBJ)) $(BUILD)/obj/services/history/history.o \
                      $(LIBSOUK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bin/souk-sync: $(MIG_OBJ) $(LIBSOUK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# migrate/t/20_cdc.t's view of the capture: migrate/t/cdc_probe.c over the cdc objects.
$(BUILD)/bin/souk-cdc-probe: $(BUILD)/obj/migrate/t/cdc_probe.o $(filter-out %/main.o,$(MIG_OBJ)) \
                             $(LIBSOUK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(GW_OBJ): CFLAGS += -Igateway

$(BUILD)/bin/souk-gateway: $(GW_OBJ) $(LIBSOUK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

define svc_rule
$(BUILD)/bin/souk-$(1): $(call svc_obj,$(1)) $(LIBSOUK)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach s,$(SVCS),$(eval $(call svc_rule,$(s))))

define libt_rule
$(BUILD)/bin/souk-$(subst _,-,$(1)): $(BUILD)/obj/lib/t/$(1).o $(LIBSOUK)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach p,$(LIBT_PROGS),$(eval $(call libt_rule,$(p))))

# lib/t/10_arena.c -> build/t/lib_10_arena
define unit_rule
$(BUILD)/t/$(subst /,_,$(basename $(subst /t/,/,$(1)))): $(1) $(filter-out %/main.o,$(if $(findstring monolith/,$(1)),$(MONO_OBJ)) $(if $(findstring gateway/,$(1)),$(GW_OBJ)) $(if $(findstring services/,$(1)),$(call svc_obj,$(word 2,$(subst /, ,$(1))))) $(if $(findstring migrate/,$(1)),$(MIG_OBJ))) $(LIBSOUK)
	@mkdir -p $(BUILD)/t
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests -I$(patsubst %/t/,%,$(dir $(1))) -o $$@ $$(filter-out %.h,$$^) $(PKG_LIBS)
endef
$(foreach f,$(UNIT_SRC),$(eval $(call unit_rule,$(f))))

units: $(UNIT_BIN)

# The version compiled into lib/version.c (souk_build_info in /metrics). version.txt is
# rewritten only when it changes, so only a new version rebuilds version.o (and relinks).
SOUK_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
$(BUILD)/obj/lib/version.o: CFLAGS += -DSOUK_VERSION='"$(SOUK_VERSION)"'
$(BUILD)/obj/lib/version.o: $(BUILD)/version.txt
$(BUILD)/version.txt: FORCE
	@mkdir -p $(dir $@)
	@echo '$(SOUK_VERSION)' | cmp -s - $@ || echo '$(SOUK_VERSION)' >$@
FORCE:

run: 
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory all
	@scripts/run-local.sh

stop:
	@scripts/stop-local.sh

logs:
	@scripts/logs.pl --follow $(if $(LEVEL),--level $(LEVEL)) $(if $(TRACE),--trace $(TRACE)) $(P)

test:
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/run.sh

check:
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	@SOUK_SANITIZE=1 SOUK_BUILD=build-asan BUILD=build-asan tests/run.sh

bench:
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory all
	@bench/run.sh

FMT_SRC = $(shell git ls-files '*.c' '*.h')
fmt:
	clang-format -i $(FMT_SRC)

lint:
	@scripts/lint.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing (fuzz/README.md) ------------------------------------------------------------------
# The same sources again, built by clang with libFuzzer's coverage and ASan+UBSan into
# $(FUZZ_BUILD)/ (objects, libsouk.a, libgw.a, and libfuzz.a of the harnesses' helpers in
# fuzz/*/*.c; one binary per fuzz/*.c in bin/). Each target links only the archive members it
# needs. gateway/t/30_fuzz.t builds and runs them briefly.
FUZZ_BUILD  ?= build-fuzz
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(WARN) $(FUZZ_SAN) \
               -fsanitize=fuzzer-no-link -I. -Ilib -Igateway $(PKG_CFLAGS) -MMD -MP
FUZZ_BINS   := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/bin/%,$(wildcard fuzz/*.c))
FUZZ_LIBOBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_GWOBJ  := $(filter-out %/main.o,$(GW_SRC:%.c=$(FUZZ_BUILD)/obj/%.o))
FUZZ_HLPOBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(wildcard fuzz/*/*.c))

fuzz-build: $(FUZZ_BINS)

fuzz:
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) fuzz/run.sh $(FUZZ_TIME)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libsouk.a: $(FUZZ_LIBOBJ)
$(FUZZ_BUILD)/libgw.a: $(FUZZ_GWOBJ)
$(FUZZ_BUILD)/libfuzz.a: $(FUZZ_HLPOBJ)
$(FUZZ_BUILD)/libsouk.a $(FUZZ_BUILD)/libgw.a $(FUZZ_BUILD)/libfuzz.a:
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_BUILD)/bin/%: $(FUZZ_BUILD)/obj/fuzz/%.o $(FUZZ_BUILD)/libfuzz.a \
               $(FUZZ_BUILD)/libgw.a $(FUZZ_BUILD)/libsouk.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
