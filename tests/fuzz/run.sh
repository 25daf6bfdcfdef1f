#!/usr/bin/env bash
# Runs every libFuzzer binary of a fuzz build for a bounded time each, starting
# from its committed seeds (copied: the committed corpus is never rewritten),
# and fails on the first crash, leak, timeout or sanitizer report. A crash input
# is left in the scratch folder printed; copy it to regressions/<target>/ with
# a name that says what it found, so the normal build replays it forever.
#
# The seed is fixed (FUZZ_SEED, default 1): a run explores the same inputs in the same order as
# every other run with that seed, only further or less far, so a CI run shows what an earlier,
# longer run here has already covered; FUZZ_SEED=0 lets libFuzzer pick a new one.
#
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET]
set -uo pipefail
build="$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS]}" && pwd)"
seconds="${2:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
scratch="$(mktemp -d -t actd-fuzz-XXXXXX)"
passed=0
failed=0
for bin in "$build"/bin/*_fuzzer; do
  name="$(basename "$bin")"
  corpus="$scratch/$name"
  mkdir -p "$corpus"
  cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  echo "== $name: ${seconds} s from $(ls "$corpus" | wc -l) seeds"
  if (cd "$scratch" && "$bin" "$corpus" "$here/regressions/$name" \
        -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$scratch/$name-" 2>&1 | tail -n 25); then
    passed=$((passed + 1))
  else
    echo "!! $name failed; inputs in $scratch"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && rm -rf "$scratch"
[ "$failed" -eq 0 ]
