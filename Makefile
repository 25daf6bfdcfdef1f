# The two commands of the README, and a few more. Each installs what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Rebuilds reuse earlier compilations when ccache is installed (optional).
LAUNCHER := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

.PHONY: all deps build run test asan fuzz bench format clean

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

# libFuzzer (clang) under ASan+UBSan: every target for FUZZ_SECONDS each, from the committed seeds.
FUZZ_SECONDS ?= 60
fuzz:
	bash scripts/install-deps.sh fuzz
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DACTD_FUZZ=ON -DACTD_BUILD_BENCH=OFF $(LAUNCHER)
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

bench: build
	$(BUILD)/bin/actbench --benchmark_min_time=0.2

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz
