# listdigest — one non-recursive Makefile.
# `make demo` and the test targets first install missing Debian packages (as
# root), then build; every other target assumes the packages are there.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/listdigest
MANDIR  ?= $(PREFIX)/share/man
LUA     ?= lua5.4
LUA_PC  ?= lua5.4
PKGS     = $(LUA_PC) libxml-2.0 zlib jansson libcurl sqlite3
VERSION := $(shell cat VERSION)

CC      ?= cc
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
                   -MMD -MP $(shell pkg-config --cflags $(PKGS)) \
                   -DLISTDIGEST_VERSION='"$(VERSION)"' -DLISTDIGEST_DATADIR='"$(DATADIR)"'
LIBS     = $(shell pkg-config --libs $(PKGS)) -lm
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS     := $(filter-out core/main.c,$(wildcard core/*.c))

OBJ      := $(SRCS:core/%.c=build/obj/%.o)
PIC      := $(SRCS:core/%.c=build/pic/%.o)
ASAN     := $(SRCS:core/%.c=build/asan/obj/%.o)

all: build/listdigest build/listdigest.so

build/obj/%.o: core/%.c | build/obj
	$(CC) $(CFLAGS) -c $< -o $@
build/pic/%.o: core/%.c | build/pic
	$(CC) $(CFLAGS) -fPIC -c $< -o $@
build/asan/obj/%.o: core/%.c | build/asan/obj
	$(CC) $(CFLAGS) -O1 $(SAN) -fPIC -c $< -o $@

build/listdigest: $(OBJ) build/obj/main.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
build/listdigest.so: $(PIC)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -o $@ $^ $(LIBS)

# The same program and module with AddressSanitizer and UBSan, for the tests.
build/asan/listdigest: $(ASAN) build/asan/obj/main.o
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LIBS)
build/asan/listdigest.so: $(ASAN)
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -shared -o $@ $^ $(LIBS)
asan: build/asan/listdigest build/asan/listdigest.so

build/bench-parse: bench/parse_bench.c $(OBJ) | build/obj
	$(CC) $(CFLAGS) -Icore $(LDFLAGS) -o $@ $^ $(LIBS)
build/bench-answer: bench/answer_bench.c $(OBJ) | build/obj
	$(CC) $(CFLAGS) -Icore $(LDFLAGS) -o $@ $^ $(LIBS)

# libFuzzer targets (fuzz/NAME.c), built with clang into build/fuzz/NAME and
# run for FUZZ_SECONDS each: `make fuzz` (add -j2 to run two at a time),
# `make fuzz-build` only builds, `make fuzz-NAME` runs one. New corpus units go
# to build/fuzz/corpus/NAME, crashes to build/fuzz/crashes/NAME/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_TARGETS  = mbox mime rfc2047 date thread atom llm
FUZZ_SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 -MMD -MP -Icore $(FUZZ_SAN) \
                $(shell pkg-config --cflags libxml-2.0 zlib libcurl jansson)
FUZZ_SEEDS    = tests/fixtures/mime tests/fixtures/broken tests/fixtures/mbox \
                $(wildcard ../shared/corpus/mime-edge ../shared/corpus/patchwork/fuzz)
# engine objects and libraries each target links, and its -max_len; llm is
# seeded with model answers only (fuzz/seeds/llm), the others with mail too
FUZZ_OBJS_mbox    = mbox util
FUZZ_LIBS_mbox    = $(shell pkg-config --libs zlib)
FUZZ_LEN_mbox     = 262144
FUZZ_OBJS_mime    = mime rfc2047 date segment util
FUZZ_LIBS_mime    = $(shell pkg-config --libs libxml-2.0)
FUZZ_LEN_mime     = 65536
FUZZ_OBJS_rfc2047 = rfc2047
FUZZ_LEN_rfc2047  = 4096
FUZZ_OBJS_date    = date
FUZZ_LEN_date     = 256
FUZZ_OBJS_thread  = thread util
FUZZ_LEN_thread   = 8192
FUZZ_OBJS_atom    = atom date util
FUZZ_LIBS_atom    = $(shell pkg-config --libs libxml-2.0)
FUZZ_LEN_atom     = 65536
FUZZ_OBJS_llm     = llm http util
FUZZ_LIBS_llm     = $(shell pkg-config --libs libcurl jansson)
FUZZ_LEN_llm      = 16384

build/fuzz/obj/%.o: core/%.c | build/fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build/fuzz/obj/fuzz-%.o: fuzz/%.c | build/fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build/fuzz/obj:
	mkdir -p $@

define FUZZ_template
build/fuzz/$(1): build/fuzz/obj/fuzz-$(1).o $$(FUZZ_OBJS_$(1):%=build/fuzz/obj/%.o)
	$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(FUZZ_LIBS_$(1)) -lm
fuzz-$(1): build/fuzz/$(1)
	@mkdir -p build/fuzz/corpus/$(1) build/fuzz/crashes/$(1)
	@seeds=$$$$(mktemp -d); trap 'rm -rf "$$$$seeds"' EXIT; \
	for f in tests/fixtures/mbox/*.gz; do [ -e "$$$$f" ] || continue; gunzip -c "$$$$f" > "$$$$seeds/$$$$(basename "$$$$f" .gz)"; done; \
	build/fuzz/$(1) -max_total_time=$$(FUZZ_SECONDS) -max_len=$$(FUZZ_LEN_$(1)) -timeout=10 \
		-print_final_stats=1 -artifact_prefix=build/fuzz/crashes/$(1)/ $$(FUZZ_ARGS) \
		build/fuzz/corpus/$(1) $$(wildcard fuzz/seeds/$(1)) $$(if $$(filter llm,$(1)),,$$(FUZZ_SEEDS) "$$$$seeds")
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_template,$(t))))

fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/%)
fuzz: $(FUZZ_TARGETS:%=fuzz-%)

build/obj build/pic build/asan/obj:
	mkdir -p $@

deps:
	@scripts/install-deps.sh
test-deps:
	@scripts/install-deps.sh --test

# demo and the test targets install what is missing first, then build in a second pass
# (the compiler flags come from pkg-config, which may be what was missing).
demo: deps
	@$(MAKE) --no-print-directory all
	@build/listdigest report --source examples/kvmarm-2022-W04.mbox --rules kvmarm \
		--since 2022-01-24 --until 2022-01-31 --offline --format md,json,html --out examples/out
	@echo "demo: wrote examples/out/ (open examples/out/report.md)"

# `make test` (what CI runs) is `make test-asan`: every spec against the
# ASan+UBSan build, with leaks checked in busted, in the binary and in every
# lua5.4 the specs start (tests/run). `make test-valgrind`: every spec against
# the plain build with busted, and the binary and lua5.4 it starts, under
# valgrind memcheck (tests/run --valgrind; third-party reports in
# tests/valgrind.supp). It leaves out the specs tagged #timing, which assert a
# speed that valgrind's slowdown breaks: compact_spec's "at least 4 times
# smaller, fast" (under 0.1 s for the week; valgrind takes 0.3 s). Either
# fails on any memory error and on any definite or indirect leak.
test: test-asan
test-asan: test-deps
	@$(MAKE) --no-print-directory all asan
	@tests/run
test-valgrind: test-deps
	@$(MAKE) --no-print-directory all
	@tests/run --valgrind

bench: all build/bench-parse build/bench-answer
	@bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 build/listdigest $(DESTDIR)$(BINDIR)/listdigest
	cp -R lua rules $(DESTDIR)$(DATADIR)/
	install -m 644 doc/listdigest.1 $(DESTDIR)$(MANDIR)/man1/listdigest.1

clean:
	rm -rf build

.PHONY: all asan deps test-deps demo test test-asan test-valgrind bench install clean fuzz fuzz-build $(FUZZ_TARGETS:%=fuzz-%)
-include $(OBJ:.o=.d) $(PIC:.o=.d) $(ASAN:.o=.d) build/obj/main.d build/asan/obj/main.d
-include $(wildcard build/fuzz/obj/*.d)

# Differential test against GMime 3 (a test tool, not part of listdigest;
# needs libgmime-3.0-dev). See tests/differential/NOTES.md.
DIFF_SRCS = core/mbox.c core/mime.c core/rfc2047.c core/date.c core/segment.c core/util.c
build/gmime-diff: tests/differential/gmime_diff.c $(DIFF_SRCS)
	@mkdir -p build
	$(CC) $(CFLAGS) -Icore $(shell pkg-config --cflags gmime-3.0) $(LDFLAGS) -o $@ \
		tests/differential/gmime_diff.c $(DIFF_SRCS) $(LIBS) $(shell pkg-config --libs gmime-3.0)
differential: build/gmime-diff
	@build/gmime-diff $(DIFF_ARGS)
.PHONY: differential
