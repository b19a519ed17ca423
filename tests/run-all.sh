#!/usr/bin/env bash
# Builds caf-rtm twice and runs the whole test suite in each build: once
# optimised (build/release), once with AddressSanitizer and
# UndefinedBehaviorSanitizer (build/asan). Then fuzzes the parsers briefly
# (tests/run-fuzz.sh, build/fuzz): the saved inputs first, then every target
# for CAF_RTM_FUZZ_SECONDS (default 10) each. Exits non-zero if anything fails
# or the fuzzer finds anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

jobs=$(nproc 2>/dev/null || echo 2)

run_suite() {
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@"
  cmake --build "$dir" --parallel "$jobs"
  ctest --test-dir "$dir" --output-on-failure --parallel "$jobs" --timeout 300
}

run_suite build/release -DCMAKE_BUILD_TYPE=Release
# halt_on_error: the first sanitizer report fails the test that caused it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# CAF's own BASP objects that can outlive a test's actor system (lsan.supp).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp}
run_suite build/asan -DCMAKE_BUILD_TYPE=Debug -DCAF_RTM_SANITIZERS=ON \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1"

# Seven targets: about a minute of fuzzing, after a two-CPU-minute build.
tests/run-fuzz.sh "${CAF_RTM_FUZZ_SECONDS:-10}"
