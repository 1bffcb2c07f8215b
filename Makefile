# Thin wrapper around CMake presets (see CMakePresets.json).
#   make build | test | demo | bench | asan-test | fuzz | deps | clean      JOBS=<n> (default: nproc)
#   make fuzz FUZZ_SECONDS=60: every libFuzzer target (clang) for 60 s, two at a time

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RELEASE_DIR := build/release

FUZZ_SECONDS ?= 10

.PHONY: all deps configure build test demo asan-test fuzz bench clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake --preset release

build: configure
	cmake --build --preset release -j $(JOBS)

# The unit tests and the command-line tools the CLI tests run (target ctrnet_tests); `make build`
# builds everything, the other examples included.
test: configure
	cmake --build --preset release -j $(JOBS) --target ctrnet_tests
	ctest --preset release

demo: configure
	cmake --build --preset release -j $(JOBS) --target quickstart
	./$(RELEASE_DIR)/examples/quickstart

asan-test: deps
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS) --target ctrnet_tests
	ctest --preset asan

fuzz:
	./scripts/run-fuzzers.sh $(FUZZ_SECONDS)

bench: build
	cmake --build --preset release -j $(JOBS) --target benchmarks
	@set -e; found=0; \
	for b in $(RELEASE_DIR)/benchmarks/bench_*; do \
	  [ -x "$$b" ] && [ -f "$$b" ] || continue; \
	  found=1; echo "==> $$b"; "$$b"; \
	done; \
	[ "$$found" = 1 ] || echo "bench: no benchmark binaries in $(RELEASE_DIR)/benchmarks"

clean:
	rm -rf build
