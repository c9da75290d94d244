# listdigest — one non-recursive Makefile.
# `make demo` and `make test` first install missing Debian packages (as root),
# then build; every other target assumes the packages are there.

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

build/obj build/pic build/asan/obj:
	mkdir -p $@

deps:
	@scripts/install-deps.sh
test-deps:
	@scripts/install-deps.sh --test

# demo and test install what is missing first, then build in a second pass
# (the compiler flags come from pkg-config, which may be what was missing).
demo: deps
	@$(MAKE) --no-print-directory all
	@build/listdigest report --source examples/kvmarm-2022-W04.mbox --rules kvmarm \
		--since 2022-01-24 --until 2022-01-31 --offline --format md,json,html --out examples/out
	@echo "demo: wrote examples/out/ (open examples/out/report.md)"

test: test-deps
	@$(MAKE) --no-print-directory all asan
	@tests/run

bench: all build/bench-parse
	@bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 build/listdigest $(DESTDIR)$(BINDIR)/listdigest
	cp -R lua rules $(DESTDIR)$(DATADIR)/
	install -m 644 doc/listdigest.1 $(DESTDIR)$(MANDIR)/man1/listdigest.1

clean:
	rm -rf build

.PHONY: all asan deps test-deps demo test bench install clean
-include $(OBJ:.o=.d) $(PIC:.o=.d) $(ASAN:.o=.d) build/obj/main.d build/asan/obj/main.d
