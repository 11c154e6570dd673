# Arena: top-level build.
#
#   make          everything that needs no nvcc; programs into bin/
#   make test     dependencies, build, then every test (one summary line at the end)
#   make asan     the same tests on an ASan+UBSan build (build/asan/bin)
#   make bench    benchmarks: figures and ratios against a baseline measured in the same run
#   make cuda     the GPU path of the inference worker (needs nvcc)
#   make run      the whole service on this machine (redis-server, workers, arena-server)
#   make deps     install what is missing (Debian packages, npm packages)
#
# Each module describes its own targets in MODULE/build.mk; sources are found by
# wildcard so adding a file needs no edit here.

CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -MMD -MP -pthread
LDFLAGS  += -pthread

BUILD ?= build/release
BIN   ?= bin

# Sanitizer build: same sources, separate objects and binaries.
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

PROGRAMS   :=
TEST_PROGS :=
BENCH_PROGS :=

.PHONY: all test asan bench cuda test-cuda run deps clean web
# Objects of test and bench programs are kept: they are build products, not scratch files.
.SECONDARY:
all: build-all

# $(call test_rules,MODULE,LIBRARIES,LDLIBS):
#   tests/MODULE/test_NAME.c  -> $(BIN)/test-MODULE-NAME   (run by make test)
#   tests/MODULE/bench_NAME.c -> $(BIN)/bench-MODULE-NAME  (run by make bench)
define test_rules
$(BIN)/test-$(1)-%: $(BUILD)/tests/$(1)/test_%.o $(2)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ $(3) -o $$@
$(BIN)/bench-$(1)-%: $(BUILD)/tests/$(1)/bench_%.o $(2)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ $(3) -o $$@
TEST_PROGS  += $$(patsubst tests/$(1)/test_%.c,$(BIN)/test-$(1)-%,$$(wildcard tests/$(1)/test_*.c))
BENCH_PROGS += $$(patsubst tests/$(1)/bench_%.c,$(BIN)/bench-$(1)-%,$$(wildcard tests/$(1)/bench_*.c))
endef

# $(call objs,DIR): the objects of every .c file in DIR
objs = $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c))

include ratings/build.mk
include inference/build.mk
include arena/build.mk
include web/build.mk

build-all: $(PROGRAMS) $(TEST_PROGS) $(BENCH_PROGS) web

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c $< -o $@

deps:
	@ops/deps.sh

test: deps
	@$(MAKE) --no-print-directory build-all
	@ARENA_BIN=$(abspath $(BIN)) tests/run.sh $(TESTS)

# The sanitizer build lives beside the release one; the suite runs on it unchanged.
asan: deps
	@$(MAKE) --no-print-directory SAN=1 BUILD=build/asan BIN=build/asan/bin build-all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ARENA_BIN=$(abspath build/asan/bin) ARENA_SANITIZED=1 tests/run.sh $(TESTS)

bench: deps
	@$(MAKE) --no-print-directory build-all
	@ARENA_BIN=$(abspath $(BIN)) tests/bench.sh $(BENCHES)

run: deps
	@$(MAKE) --no-print-directory build-all
	@ops/run.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
