# Leadloop build. `make` builds bin/leadloopd; `make SANITIZE=1` builds bin/leadloopd-san
# with AddressSanitizer and UndefinedBehaviorSanitizer. See README.md for the rest.

CC      ?= cc
PKGS    := libmicrohttpd jansson libpq libcrypto libcurl
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wvla -Wundef -Wcast-align \
        -Wimplicit-fallthrough -Wno-missing-field-initializers
CPPFLAGS += -D_GNU_SOURCE -Iinclude -DLEADLOOP_VERSION='"$(VERSION)"'

ifeq ($(SANITIZE),1)
MODE    := sanitize
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
BIN     := bin/leadloopd-san
else
MODE    := release
OPT     := -O2 -g
BIN     := bin/leadloopd
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  ?=
CFLAGS  += -std=c11 $(OPT) $(WARN) -pthread -MMD -MP $(PKG_CFLAGS)
LDFLAGS += -pthread $(filter -fsanitize%,$(OPT))
LDLIBS  += $(PKG_LIBS)

B        := build/$(MODE)
SRCS     := $(wildcard server/*.c)
OBJS     := $(SRCS:server/%.c=$(B)/%.o) $(B)/embedded.o
LIBOBJS  := $(filter-out $(B)/main.o,$(OBJS))
MIGRATIONS := $(sort $(wildcard sql/[0-9][0-9][0-9][0-9]_*.sql))

UNIT_SRCS := $(wildcard tests/unit/*.c)
API_SRCS  := $(wildcard tests/api/*.c)
FAULT_SRCS := $(wildcard tests/faults/*.c) tests/api/support.c
UNIT_BIN  := $(B)/unit-tests
API_BIN   := $(B)/api-tests
FAULT_BIN := $(B)/fault-tests
TEST_LIBS := $(shell pkg-config --libs check libcurl 2>/dev/null)

.PHONY: all run test test-unit test-api test-faults run-faults bench bench-reports lint-api format format-check tidy \
        db-stop db-clean deps clean valgrind-api fuzz fuzz-build

all: $(BIN)

$(BIN): $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%.o: server/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Migrations and the API contract are compiled into the binary, so a deployed daemon
# needs no files beside it.
$(B)/embedded.c: scripts/embed.sh $(MIGRATIONS) openapi.yaml
	@mkdir -p $(@D)
	sh scripts/embed.sh openapi.yaml $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(B)/embedded.o: $(B)/embedded.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(UNIT_BIN): $(UNIT_SRCS) $(LIBOBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

$(API_BIN): $(API_SRCS) $(wildcard tests/api/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/api $(LDFLAGS) -o $@ $(API_SRCS) $(LDLIBS) $(TEST_LIBS)

$(FAULT_BIN): $(FAULT_SRCS) $(wildcard tests/faults/*.h) tests/api/support.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/api -Itests/faults $(LDFLAGS) -o $@ $(FAULT_SRCS) $(LDLIBS) \
	    $(TEST_LIBS)

deps:
	@bash scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/run.sh

db-stop:
	@bash scripts/pg.sh stop

db-clean:
	@bash scripts/pg.sh clean

test: deps
	@$(MAKE) --no-print-directory test-unit test-api

test-unit: $(UNIT_BIN)
	$(UNIT_BIN)

test-api: $(BIN) $(API_BIN)
	LL_DAEMON=$(abspath $(BIN)) LL_MIGRATIONS=$(abspath sql) LL_TEST_DATA=$(abspath tests/data) \
	bash tests/harness.sh $(API_BIN)

# The fault suite (tests/faults): PostgreSQL crashed, frozen, its backends terminated, its
# connections exhausted; the daemon killed and stopped; under load. About 45 s.
test-faults: deps
	@$(MAKE) --no-print-directory run-faults

run-faults: $(BIN) $(FAULT_BIN)
	LL_DAEMON=$(abspath $(BIN)) LL_MIGRATIONS=$(abspath sql) LL_TEST_DATA=$(abspath tests/data) \
	bash tests/harness.sh $(FAULT_BIN)

# The HTTP tests with every daemon they start run under valgrind's leak checker.
valgrind-api: $(BIN) $(API_BIN)
	LL_DAEMON=$(abspath $(BIN)) LL_MIGRATIONS=$(abspath sql) LL_TEST_DATA=$(abspath tests/data) \
	LL_DAEMON_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$(abspath build)/valgrind.%p.log" \
	bash tests/harness.sh $(API_BIN)

# libFuzzer targets (tests/fuzz/fuzz_<name>.c) for the parsers that read what clients send,
# built with clang and ASan/UBSan against an archive of the server's objects (so each takes
# only the objects it needs). `make fuzz` runs each for FUZZ_SECONDS, FUZZ_JOBS at a time,
# from the committed seed corpus in tests/fuzz/corpus/<name>/, and fails on any crash;
# what it finds is kept under build/fuzz/ (new inputs, and crash-* artifacts).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FB           := build/fuzz
FUZZ_OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
# gcc's -Werror build is the gate on warnings; clang words some differently (a
# fall-through comment gcc accepts), so here they are shown, not fatal.
FUZZ_WARN    := $(filter-out -Werror,$(WARN))
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FB)/fuzz_%)
FUZZ_OBJS    := $(LIBOBJS:$(B)/%=$(FB)/%)

$(FB)/%.o: server/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(FUZZ_OPT) -fsanitize=fuzzer-no-link $(FUZZ_WARN) -pthread -MMD -MP \
	    $(PKG_CFLAGS) -c -o $@ $<

$(FB)/embedded.o: $(B)/embedded.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(FUZZ_OPT) -c -o $@ $<

$(FB)/libleadloop.a: $(FUZZ_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(FB)/libleadloop.a
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(FUZZ_OPT) -fsanitize=fuzzer $(FUZZ_WARN) -pthread $(PKG_CFLAGS) \
	    -o $@ $< $(FB)/libleadloop.a $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) bash tests/fuzz/run.sh $(FB) $(FUZZ_NAMES)

lint-api:
	@bash scripts/lint-api.sh

format:
	clang-format -i server/*.c include/leadloop/*.h tests/unit/*.c tests/api/*.c tests/api/*.h \
	    tests/faults/*.c tests/faults/*.h tests/fuzz/*.c

format-check:
	clang-format --dry-run --Werror server/*.c include/leadloop/*.h tests/unit/*.c tests/api/*.c \
	    tests/api/*.h tests/faults/*.c tests/faults/*.h tests/fuzz/*.c

tidy:
	clang-tidy server/*.c -- $(CPPFLAGS) -std=c11 $(PKG_CFLAGS)

bench:
	@bash bench/run.sh

# The reports at scale: 1M leads, 3M touches, 300k feedback, 200 campaigns (see bench/reports.sh).
bench-reports:
	@bash bench/reports.sh

clean:
	rm -rf build bin

-include $(OBJS:.o=.d) $(wildcard $(FB)/*.d)
