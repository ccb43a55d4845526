# The sockets lab kit. `make` builds the seven programs next to their
# sources; each also builds alone, next to lab.h: cc -o tcpserver1 tcpserver1.c
CC ?= cc
CFLAGS ?= -std=c11 -Wall -Wextra -Wpedantic -O2 -g -D_FORTIFY_SOURCE=2

PROGRAMS = udpclient udpserver tcpclient tcpserver1 tcpserver2 tcpserver3 multi
# scripts/check's client side (scripts/check also builds it by itself)
CHECKPEER = check/checkpeer

.PHONY: all test test-repeat clean sanitize test-clang test-musl compilers lint bench bench-quick tour fixtures bare

all: $(PROGRAMS) $(CHECKPEER)

# Each program is its own file plus lab.h, the instrument's plumbing.
$(PROGRAMS): %: %.c lab.h
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)
%: %.c
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# make bare: the lessons without the narration, in bare/ (with a copy of
# lab.h), for copying a program into your own work; scripts/bare says how.
# Each is built there, strict, warnings as errors.
bare: $(PROGRAMS:%=bare/%)
.SECONDARY: $(PROGRAMS:%=bare/%.c)
bare/%.c: %.c lab.h scripts/bare
	sh scripts/bare bare $<
bare/%: bare/%.c
	cd bare && $(CC) $(STRICT) -O2 -g -o $(@F) $(<F)

# The test suite (bats); TESTS=tests/udp.bats runs one file.
TESTS ?= tests/*.bats
test: all fixtures bare
	tests/run $(TESTS)

# The suite N times in a row (default 5), naming every test that failed at
# least once: make test-repeat N=5 (TESTS= as above).
N ?= 5
test-repeat: all fixtures bare
	tests/repeat $(N) $(TESTS)

# Other builds of the same sources, in build/NAME/, strict POSIX and -Werror.
# The suite runs against any of them: KIT_BIN=build/NAME tests/run.
STRICT = -std=c11 -Wall -Wextra -Wpedantic -Werror -D_POSIX_C_SOURCE=200809L
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CC ?= $(CC)

build/gcc/%: %.c lab.h
	@mkdir -p $(@D)
	gcc $(STRICT) -O2 -g -o $@ $<
build/clang/%: %.c lab.h
	@mkdir -p $(@D)
	clang $(STRICT) -O2 -g -o $@ $<
build/musl/%: %.c lab.h
	@mkdir -p $(@D)
	musl-gcc $(STRICT) -O2 -g -o $@ $<
build/asan/%: %.c lab.h
	@mkdir -p $(@D)
	$(ASAN_CC) $(STRICT) -O1 -g $(SANITIZE) -o $@ $<

# Build all seven with gcc, clang and musl-gcc (warnings are errors).
compilers: $(PROGRAMS:%=build/gcc/%) $(PROGRAMS:%=build/clang/%) $(PROGRAMS:%=build/musl/%)

# The suite against AddressSanitizer + UndefinedBehaviorSanitizer builds,
# clang and musl builds: the files whose tests run the seven programs
# ($KIT_BIN). The others test scripts, fixtures, the checker and bare/, the
# same whatever the build (TESTS= runs any file anyway).
OTHER_TESTS = tests/bare.bats tests/check-fixtures.bats tests/lab.bats tests/private.bats \
	tests/proxy.bats tests/readme.bats tests/setup.bats tests/tour-page.bats
BUILD_TESTS = $(if $(filter file,$(origin TESTS)),$(filter-out $(OTHER_TESTS),$(wildcard tests/*.bats)),$(TESTS))
sanitize: all fixtures $(PROGRAMS:%=build/asan/%)
	KIT_BIN=$(CURDIR)/build/asan KIT_SANITIZE=1 tests/run $(BUILD_TESTS)

test-clang: all fixtures $(PROGRAMS:%=build/clang/%)
	KIT_BIN=$(CURDIR)/build/clang tests/run $(BUILD_TESTS)

test-musl: all fixtures $(PROGRAMS:%=build/musl/%)
	KIT_BIN=$(CURDIR)/build/musl tests/run $(BUILD_TESTS)

# The broken echo servers scripts/check is tested against, one bug each
# (tests/fixtures/servers/README), built next to their sources, strict.
FIXTURE_DIR = tests/fixtures/servers
FIXTURES = $(addprefix $(FIXTURE_DIR)/,first-recv iterative fdsetsize reset-exit spin \
	half-close slow-reader long-line sigpipe fd-leak zombies no-reuseaddr)
fixtures: $(FIXTURES)
$(FIXTURE_DIR)/%: $(FIXTURE_DIR)/%.c $(FIXTURE_DIR)/fixture.c $(FIXTURE_DIR)/fixture.h
	$(CC) $(STRICT) -O2 -g -o $@ $< $(FIXTURE_DIR)/fixture.c

# Linters: cppcheck and clang-tidy on the C (a short list of checks that
# find bugs, not style), shellcheck on every script and test file.
TIDY_CHECKS = -*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,cert-err34-c,cert-msc30-c,cert-env33-c,misc-redundant-expression,performance-*,portability-*
C_SOURCES = $(PROGRAMS:%=%.c) $(wildcard bench/*.c) $(CHECKPEER).c $(wildcard $(FIXTURE_DIR)/*.c)
SHELL_SOURCES = $(filter-out scripts/lib.sh scripts/experiment-lib.sh scripts/%.c $(CHECKPEER),$(wildcard scripts/*)) .ci/run tests/run tests/repeat tests/golden/record tests/stubs/macos/* tests/fixtures/*/*.sh
lint:
	cppcheck --enable=warning,portability,performance --std=c11 --error-exitcode=1 --inline-suppr --quiet $(C_SOURCES)
	@# one file per run: clang-tidy 14 reports false va_list errors when given several
	for f in $(C_SOURCES); do \
		clang-tidy --quiet --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' --header-filter='lab\.h' $$f -- -std=c11 -D_POSIX_C_SOURCE=200809L || exit 1; \
	done
	shellcheck -x $(SHELL_SOURCES) $(wildcard bench/run)
	shellcheck -x -s bash scripts/lib.sh scripts/experiment-lib.sh tests/helper.bash tests/ladder_helper.bash tests/*.bats

# The walkthrough, run and narrated: every observation with its evidence
# (scripts/tour -h: one step, lecture mode). Root and tcpdump for all the steps.
tour: all
	scripts/tour -o tour

# make bench: the load generator and the reference server (bench/, built by
# the rule above with the same flags), then the measurements: a few minutes,
# not a test. make bench-quick: the lecture-sized run, under 30 s. See the
# README's performance section.
BENCH_PROGRAMS = bench/loadgen bench/refserver
bench: all $(BENCH_PROGRAMS)
	bench/run
bench-quick: all $(BENCH_PROGRAMS)
	bench/run -q

clean:
	rm -f $(PROGRAMS) $(BENCH_PROGRAMS) $(CHECKPEER) $(FIXTURES)
	rm -rf build tests/out bench/results tour bare

# ---- the checker (check/): scripts/check's clients and the HTTP origin
# scripts/check -P puts behind a proxy (scripts/check and scripts/origin
# also build them by themselves, with cc); the proxy fixtures (the flaw
# injector relay, tests/fixtures/proxy/) with the others; lint covers them.
CHECK_PROGRAMS = check/origin
PROXY_FIXTURES = tests/fixtures/proxy/relay
all: $(CHECK_PROGRAMS)
fixtures: $(PROXY_FIXTURES)
check/checkpeer check/origin: check/check.h
$(PROXY_FIXTURES): %: %.c
	$(CC) $(STRICT) -O2 -g -o $@ $<
C_SOURCES += check/origin.c $(PROXY_FIXTURES:%=%.c)
# strict POSIX, -Werror, with gcc, clang and musl, as the seven programs
CHECK_STRICT = check/checkpeer check/origin
compilers: $(CHECK_STRICT:%=build/gcc/%) $(CHECK_STRICT:%=build/clang/%) $(CHECK_STRICT:%=build/musl/%)
lint: lint-check
lint-check:
	shellcheck -x -s bash check/*.sh
	shellcheck tests/stubs/no-namespaces/*
clean: clean-check
clean-check:
	rm -f $(CHECK_PROGRAMS) $(PROXY_FIXTURES)
.PHONY: lint-check clean-check
