# tern - Makefile. Targets: all deps run test sanitize fuzz bench install clean
# Libraries are found with pkg-config (GDBM ships no .pc file on Debian 12,
# so it falls back to -lgdbm).

PREFIX   ?= /usr/local
DESTDIR  ?=
SYSCONFDIR ?= /etc
BUILD    ?= build
CC       ?= cc

PKGS      := lua5.4 libcares openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
GDBM_LIBS := $(shell pkg-config --libs gdbm 2>/dev/null || echo -lgdbm)
LIBS      := $(PKG_LIBS) $(GDBM_LIBS) -lcrypt -lm -pthread

OPT      ?= -O2
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -I. $(WARN) $(PKG_CFLAGS) $(CFLAGS) \
              $(EXTRA_CFLAGS)
ALL_LDFLAGS := $(LDFLAGS) $(EXTRA_LDFLAGS)

# the layers, lowest first (docs/architecture.md; tools/layers.txt is the
# table the layer check reads); cmd/main.c is the program, the rest a library
SRC_DIRS := core/base core/mail core/net core/lookup core/conf core/hints \
            core/spool lua routers transports route acl load queue smtpd cmd
LIB_SRCS := $(filter-out cmd/main.c,$(wildcard $(SRC_DIRS:%=%/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard test-suite/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:test-suite/unit/%.c=$(BUILD)/test/%)
PROGS    := $(BUILD)/tern $(BUILD)/tern_dbmbuild $(BUILD)/tern_dumpdb \
            $(BUILD)/tern_fixdb $(BUILD)/tern_spf
# helpers the Python tests run (test-suite/unit/NAME.c), not tests themselves
TEST_BINS := $(BUILD)/test-bin/tp_drive $(BUILD)/test-bin/bounce_print \
             $(BUILD)/test-bin/grey_tool

.PHONY: all deps run test sanitize fuzz bench install clean check-deps \
        have-libs lib-srcs
all: have-libs $(PROGS) $(UNIT_BINS) $(TEST_BINS)

# a clear word instead of "lua.h: No such file or directory"
have-libs:
	@pkg-config --exists $(PKGS) || { echo "tern: missing build \
	libraries ($(PKGS)); run 'make deps' as root" >&2; exit 1; }

# the library's sources, for test-suite/fuzz/build.sh
lib-srcs:
	@echo $(LIB_SRCS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtern.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/tern: $(BUILD)/cmd/main.o $(BUILD)/libtern.a
	@echo "  LD $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tern_dbmbuild: $(BUILD)/tools/tern_dbmbuild.o $(BUILD)/libtern.a
	@echo "  LD $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tern_spf: $(BUILD)/tools/tern_spf.o $(BUILD)/libtern.a
	@echo "  LD $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tern_dumpdb $(BUILD)/tern_fixdb: $(BUILD)/%: $(BUILD)/tools/%.o \
		$(BUILD)/tools/dbtool.o $(BUILD)/libtern.a
	@echo "  LD $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/test/%: $(BUILD)/test-suite/unit/%.o $(BUILD)/libtern.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/test-bin/%: $(BUILD)/test-suite/unit/%.o $(BUILD)/libtern.a
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@sh tools/deps.sh

check-deps:
	@sh tools/deps.sh --check

# run: install what is missing (as root), build, start tern on the embedded
# default configuration (conf.d/ of this tree, state under ./var).
# The build runs in a sub-make: this make's pkg-config flags were computed
# before deps could install the libraries (a fresh machine).
run: deps
	@$(MAKE) --no-print-directory all
	@sh tools/run.sh $(BUILD)/tern

test: deps
	@$(MAKE) --no-print-directory all
	@python3 test-suite/run --bin $(BUILD)

sanitize:
	@sh tools/deps.sh
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  python3 test-suite/run --bin build-asan --no-fuzz \
	  --sanitizer-logs build-asan/sanitizer-logs $(if $(ONLY),--only $(ONLY))

fuzz: deps
	@$(MAKE) --no-print-directory all
	@sh test-suite/fuzz/build.sh
	@sh test-suite/fuzz/run.sh $${FUZZ_SECONDS:-60}

bench: deps
	@$(MAKE) --no-print-directory all
	@bash test-suite/bench/bench.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BUILD)/tern $(DESTDIR)$(PREFIX)/sbin/tern
	install -m 755 $(BUILD)/tern_dbmbuild $(DESTDIR)$(PREFIX)/sbin/tern_dbmbuild
	install -m 644 docs/tern.8 $(DESTDIR)$(PREFIX)/share/man/man8/tern.8
	install -m 644 docs/tern_dbmbuild.8 $(DESTDIR)$(PREFIX)/share/man/man8/tern_dbmbuild.8
	install -m 755 $(BUILD)/tern_dumpdb $(DESTDIR)$(PREFIX)/sbin/tern_dumpdb
	install -m 755 $(BUILD)/tern_fixdb $(DESTDIR)$(PREFIX)/sbin/tern_fixdb
	install -m 644 docs/tern_dumpdb.8 $(DESTDIR)$(PREFIX)/share/man/man8/tern_dumpdb.8
	install -m 644 docs/tern_fixdb.8 $(DESTDIR)$(PREFIX)/share/man/man8/tern_fixdb.8
	install -m 755 $(BUILD)/tern_spf $(DESTDIR)$(PREFIX)/sbin/tern_spf
	install -m 644 docs/tern_spf.8 $(DESTDIR)$(PREFIX)/share/man/man8/tern_spf.8
	sh tools/install-conf.sh "$(DESTDIR)" "$(SYSCONFDIR)"

clean:
	rm -rf build build-asan build-fuzz
