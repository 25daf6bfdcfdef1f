#!/usr/bin/env bash
# Installs everything actd needs to build, test and run on Debian 12 (bookworm), as root.
# Idempotent: packages already present are skipped, and apt-get update runs only when
# something is missing. This is the single dependency list for the README, CI and Dockerfile.
#
# Usage: scripts/install-deps.sh [build|runtime|test|fuzz|bench]
#   build   (default) compilers, libraries and headers to build actd and actctl
#   test    build + what the test suite uses (numpy, grpcio, node, openssl, ...)
#   runtime the shared libraries the binaries need, nothing else (for slim images)
#   fuzz    build + clang and libFuzzer (make fuzz)
#   bench   build + oneDNN, which actbench measures side by side (make bench)
set -euo pipefail

profile="${1:-build}"

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libeigen3-dev libspdlog-dev libfmt-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  prometheus-cpp-dev libcpp-httplib-dev nlohmann-json3-dev
)
test_pkgs=(
  python3 python3-numpy python3-grpcio python3-grpc-tools python3-protobuf
  python3-pip python3-setuptools python3-venv python3-torch
  openssl curl ca-certificates
  chromium chromium-driver python3-selenium
  libclang-rt-14-dev
)
fuzz_pkgs=(clang libclang-rt-14-dev libfuzzer-14-dev)
bench_pkgs=(libdnnl-dev)
runtime_pkgs=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libspdlog1.10 libfmt9
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcpp-httplib0.11 zlib1g ca-certificates
)

case "$profile" in
  build) pkgs=("${build_pkgs[@]}") ;;
  test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  runtime) pkgs=("${runtime_pkgs[@]}") ;;
  fuzz) pkgs=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  bench) pkgs=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|runtime|test|fuzz|bench]" >&2; exit 2 ;;
esac

# Node.js may come from another packaging that bundles npm; take Debian's only when absent.
if [ "$profile" = test ] && ! command -v npm >/dev/null 2>&1; then
  pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
