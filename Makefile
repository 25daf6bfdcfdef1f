# The two commands of the README, and a few more. Each installs what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Rebuilds reuse earlier compilations when ccache is installed (optional).
LAUNCHER := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

.PHONY: all deps build run test asan tsan fuzz bench format clean

all: build

deps:
	bash scripts/install-deps.sh test

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(LAUNCHER) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# Build and start the server in the foreground: gRPC on every interface, port 50051, metrics on
# 8002. Flags pass through: make run ARGS="--port 50052 --host 127.0.0.1".
run: build
	$(BUILD)/bin/actd $(ARGS)

# Build and run the whole test suite.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The suite once more under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACTD_SANITIZE=ON -DACTD_BUILD_BENCH=OFF $(LAUNCHER)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer: the core and service suites, then a concurrent end-to-end run of actd (8 callers,
# cancellations, 1 ms deadlines, SIGTERM under load). The first report fails the run (exit 66).
# Debian's gRPC is not instrumented: its modules are ignored (tests/tsan.supp says what else is).
TSAN_OPTIONS := ignore_noninstrumented_modules=1 halt_on_error=1 exitcode=66 \
  second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp
tsan: deps
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACTD_TSAN=ON \
	  -DACTD_BUILD_BENCH=OFF $(LAUNCHER)
	cmake --build build-tsan -j $(JOBS) --target actd core_test service_test
	cd build-tsan && TSAN_OPTIONS="$(TSAN_OPTIONS)" ctest --output-on-failure -j $(JOBS) -L "core|service"
	TSAN_OPTIONS="$(TSAN_OPTIONS)" /usr/bin/python3 tests/tsan/concurrent_run.py build-tsan/bin/actd 20

# libFuzzer (clang) under ASan+UBSan: every target for FUZZ_SECONDS each, from the committed seeds.
FUZZ_SECONDS ?= 60
fuzz:
	bash scripts/install-deps.sh fuzz
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DACTD_FUZZ=ON -DACTD_BUILD_BENCH=OFF $(LAUNCHER)
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

bench:
	bash scripts/install-deps.sh bench
	$(MAKE) build
	$(BUILD)/bin/actbench --benchmark_min_time=0.2

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
