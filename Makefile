# Leadloop build. `make` builds bin/leadloopd; `make SANITIZE=1` builds bin/leadloopd-san
# with AddressSanitizer and UndefinedBehaviorSanitizer. See README.md for the rest.

CC      ?= cc
PKGS    := libmicrohttpd jansson libpq libcrypto libcurl libsodium
# From the newest vX.Y.Z tag, else the VERSION file and the commit (scripts/version.sh).
VERSION := $(shell sh scripts/version.sh)

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
OBJS     := $(SRCS:server/%.c=$(B)/%.o) $(B)/embedded.o $(B)/web_assets.o $(B)/web_table.o
LIBOBJS  := $(filter-out $(B)/main.o,$(OBJS))
MIGRATIONS := $(sort $(wildcard sql/[0-9][0-9][0-9][0-9]_*.sql))
REPEATABLES := $(sort $(wildcard sql/functions/*.sql))
QUERIES    := $(sort $(wildcard sql/queries/*.sql))
# The web app and the API reference: web/ built by web/build.mjs (esbuild) into WEB_OUT,
# which scripts/embed-assets.sh turns into WEB_EMBED/assets.{S,c}.
WEB_OUT    := build/web
WEB_EMBED  := build/web-embed
WEB_SRCS   := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null)
WEB_MODULES := web/node_modules/.package-lock.json

UNIT_SRCS := $(wildcard tests/unit/*.c)
API_SRCS  := $(wildcard tests/api/*.c)
FAULT_SRCS := $(wildcard tests/faults/*.c) tests/api/support.c
UNIT_BIN  := $(B)/unit-tests
API_BIN   := $(B)/api-tests
FAULT_BIN := $(B)/fault-tests
TEST_LIBS := $(shell pkg-config --libs check libcurl 2>/dev/null)

.PHONY: all run test test-unit test-api test-citus test-faults run-faults bench bench-tools bench-reports bench-import lint-api format format-check tidy \
        db-stop db-clean deps clean valgrind-api test-readme demo man install schema-check \
        schema-dump fuzz fuzz-build test-web

all: $(BIN)

$(BIN): $(OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%.o: server/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Migrations, the report statements and the API contract are compiled into the binary,
# so a deployed daemon needs no files beside it.
$(B)/embedded.c: scripts/embed.sh $(MIGRATIONS) $(REPEATABLES) $(QUERIES) openapi.yaml
	@mkdir -p $(@D)
	sh scripts/embed.sh openapi.yaml -m $(MIGRATIONS) -r $(REPEATABLES) -q $(QUERIES) > $@.tmp && \
	    mv $@.tmp $@

$(B)/embedded.o: $(B)/embedded.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# The web app's packages, exactly as web/package-lock.json says, again only when the lock
# file (or package.json) is newer than what npm installed (its own record of that).
$(WEB_MODULES): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm is needed to build web/ (bash scripts/deps.sh" \
	    "installs it; or: apt-get install nodejs npm)" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund
	@touch $@

# The web app and the API reference, built again when a file of web/ has changed.
build/web.stamp: $(WEB_SRCS) $(WEB_MODULES)
	node web/build.mjs $(WEB_OUT)
	@touch $@

# Every file of build/web, raw and gzip-compressed, compiled into the binary so that a
# deployed daemon needs no files: the bytes by the assembler's .incbin, the table in C.
$(WEB_EMBED)/assets.S $(WEB_EMBED)/assets.c &: build/web.stamp scripts/embed-assets.sh
	sh scripts/embed-assets.sh $(WEB_OUT) $(WEB_EMBED)

$(B)/web_assets.o: $(WEB_EMBED)/assets.S
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

$(B)/web_table.o: $(WEB_EMBED)/assets.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(UNIT_BIN): $(UNIT_SRCS) $(LIBOBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

# The contract suite compares the daemon's value lists (vocab.o, data only) with the schema
# and openapi.yaml, so the HTTP tests link that one object.
$(API_BIN): $(API_SRCS) $(wildcard tests/api/*.h) $(B)/vocab.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/api $(LDFLAGS) -o $@ $(API_SRCS) $(B)/vocab.o $(LDLIBS) \
	    $(TEST_LIBS)

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
	@$(MAKE) --no-print-directory test-unit test-api test-readme test-web

# The web app in Debian's Chromium (tests/web/run.mjs, playwright-core from web/'s
# packages; no browser is downloaded) against a fresh daemon that serves /app itself:
# sign-in, invitations, a campaign, leads, sales' verdicts, the scorecard, the roles.
# Screenshots of every page, at 1280 and 360 px wide, go to build/screenshots/.
test-web: $(BIN)
	@bash scripts/deps.sh --web
	LL_DAEMON=$(abspath $(BIN)) LL_SCREENSHOTS=$(abspath build/screenshots) \
	    bash tests/harness.sh bash tests/web/daemon.sh

# The README's sh blocks run in order against a fresh daemon (tests/readme/run.sh), and
# its settings table, --help and the man page list the same settings. About 20 s.
test-readme: $(BIN)
	LL_DAEMON=$(abspath $(BIN)) bash tests/harness.sh bash tests/readme/run.sh
	bash tests/readme/settings.sh $(BIN)

# Fills a workspace of `make run`'s daemon with 90 days of campaigns, leads, hand-offs and
# sales' verdicts (scripts/demo.sh), so that every report has numbers.
demo:
	@bash scripts/demo.sh

test-unit: $(UNIT_BIN)
	$(UNIT_BIN)

# The HTTP suites in LL_SHARDS processes at once (tests/api/shards.sh), each with a
# PostgreSQL cluster and a daemon of its own; every suite runs in exactly one of them.
# LL_SHARDS=1, or LL_SUITES=a,b, runs one process. Each suite prints its wall time.
LL_SHARDS ?= 2
test-api: $(BIN) $(API_BIN)
	LL_DAEMON=$(abspath $(BIN)) LL_MIGRATIONS=$(abspath sql) LL_TEST_DATA=$(abspath tests/data) \
	bash tests/api/shards.sh $(LL_SHARDS) $(API_BIN)

# The HTTP suites (the randomized report test among them) on a Citus cluster: a
# coordinator and two workers on loopback, per shard of the run (tests/harness.sh with
# LL_TEST_CITUS=1, CITUS_SHARD_COUNT shards a table); `leadloopd migrate` distributes the
# schema by workspace, and the suites' workspaces land on both workers. Citus is built
# and installed from CITUS_SRC first when this PostgreSQL has none (root: apt-get, make
# install; about 4 minutes).
CITUS_SRC ?= $(abspath ../shared/citus)
test-citus: $(BIN) $(API_BIN)
	@[ -f "$$(pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/citus.so" ] || \
	    { [ -f $(CITUS_SRC)/build.sh ] || { echo "make test-citus: no Citus in this PostgreSQL," \
	      "and no $(CITUS_SRC)/build.sh to build it (set CITUS_SRC)" >&2; exit 1; }; \
	      bash $(CITUS_SRC)/build.sh; }
	LL_TEST_CITUS=1 LL_DAEMON=$(abspath $(BIN)) LL_MIGRATIONS=$(abspath sql) \
	LL_TEST_DATA=$(abspath tests/data) bash tests/api/shards.sh $(LL_SHARDS) $(API_BIN)

# The fault suite (tests/faults): PostgreSQL crashed, frozen, its backends terminated, its
# connections exhausted; the daemon killed and stopped; under load. About 45 s.
test-faults: deps
	@$(MAKE) --no-print-directory run-faults

run-faults: $(BIN) $(FAULT_BIN)
	LL_DAEMON=$(abspath $(BIN)) LL_MIGRATIONS=$(abspath sql) LL_TEST_DATA=$(abspath tests/data) \
	bash tests/harness.sh $(FAULT_BIN)

# The HTTP tests with every daemon they start run under valgrind's leak checker; any
# valgrind error (a definite leak, an invalid read or write) in any daemon's log fails,
# also for daemons whose exit status no test looks at. LL_SUITES=a,b runs those suites
# only (CI: VALGRIND_SUITES); Check's timeouts are tripled for valgrind's pace.
VALGRIND_LOGS := $(abspath build)/valgrind
valgrind-api: $(BIN) $(API_BIN)
	@rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)
	LL_DAEMON=$(abspath $(BIN)) LL_MIGRATIONS=$(abspath sql) LL_TEST_DATA=$(abspath tests/data) \
	LL_DAEMON_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$(VALGRIND_LOGS)/%p.log" \
	CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-3} bash tests/harness.sh $(API_BIN); rc=$$?; \
	bad=$$(grep -L 'ERROR SUMMARY: 0 errors' $(VALGRIND_LOGS)/*.log); \
	for f in $$bad; do echo "== $$f"; grep -v '^==[0-9]*== *$$' "$$f"; done; \
	[ -z "$$bad" ] || echo "valgrind found errors in $$(echo $$bad | wc -w) daemon run(s): above"; \
	[ $$rc -eq 0 ] && [ -z "$$bad" ] && \
	    echo "valgrind: $$(ls $(VALGRIND_LOGS) | wc -l) daemon runs, no errors"

# The schema the migrations build from scratch against the committed sql/schema.sql
# (scripts/schema.sh), so that every schema change shows in review; schema-dump refreshes it.
schema-check: $(BIN)
	LL_DAEMON=$(abspath $(BIN)) bash tests/harness.sh bash scripts/schema.sh check

schema-dump: $(BIN)
	LL_DAEMON=$(abspath $(BIN)) bash tests/harness.sh bash scripts/schema.sh dump

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
# The same warnings as the gcc build, fatal too: clang finds some gcc does not.
FUZZ_WARN    := $(WARN)
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

$(FB)/web_assets.o: $(WEB_EMBED)/assets.S
	@mkdir -p $(@D)
	$(FUZZ_CC) -c -o $@ $<

$(FB)/web_table.o: $(WEB_EMBED)/assets.c
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
	    tests/faults/*.c tests/faults/*.h tests/fuzz/*.c bench/*.c

format-check:
	clang-format --dry-run --Werror server/*.c include/leadloop/*.h tests/unit/*.c tests/api/*.c \
	    tests/api/*.h tests/faults/*.c tests/faults/*.h tests/fuzz/*.c bench/*.c

# clang-tidy with .clang-tidy over server/*.c, two files at a time (a file takes 1-15 s);
# any finding fails. TIDY_JOBS=N for more.
TIDY_JOBS ?= 2
tidy:
	@printf '%s\n' $(SRCS) | xargs -P$(TIDY_JOBS) -I{} clang-tidy --quiet {} -- $(CPPFLAGS) \
	    -std=c11 $(PKG_CFLAGS)

bench:
	@bash bench/run.sh

# make bench's load generators in C (bench/run.sh builds them with these rules): N idle
# keep-alive connections held open, and an open-loop generator at a fixed rate.
BENCH_TOOLS := build/bench/idle_conns build/bench/rate
bench-tools: $(BENCH_TOOLS)

$(BENCH_TOOLS): build/bench/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 $(WARN) -o $@ $<

# The reports at scale: 1M leads, 3M touches, 300k feedback, 200 campaigns (see bench/reports.sh).
bench-reports:
	@bash bench/reports.sh

# A team's history coming in: 100,000 dated leads in one CSV file, then 300,000 dated
# touches (see bench/import.sh).
bench-import:
	@bash bench/import.sh

# The manual page, leadloopd(8), written by the binary from its settings table.
man: build/leadloopd.8

build/leadloopd.8: $(BIN)
	@mkdir -p $(@D)
	$(BIN) --man > $@.tmp && mv $@.tmp $@

# `make install PREFIX=/usr DESTDIR=/tmp/pkg`: the binary, the man page, the systemd unit
# (paths filled in), an example settings file (kept if present) and the docs.
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/leadloop
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCS       := README.md CHANGELOG.md LICENSE openapi.yaml $(wildcard docs/*.md)

install: $(BIN) build/leadloopd.8
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/leadloop
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/leadloopd
	install -m 644 build/leadloopd.8 $(DESTDIR)$(MANDIR)/man8/leadloopd.8
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    packaging/leadloopd.service.in > $(DESTDIR)$(UNITDIR)/leadloopd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/leadloopd.service
	test -e $(DESTDIR)$(SYSCONFDIR)/leadloop/leadloopd.env || \
	    install -m 640 packaging/leadloopd.env $(DESTDIR)$(SYSCONFDIR)/leadloop/leadloopd.env
	install -m 644 $(DOCS) $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build bin

-include $(OBJS:.o=.d) $(wildcard $(FB)/*.d)
