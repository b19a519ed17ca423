#!/usr/bin/env bash
# Runs the test suite under ThreadSanitizer. Debian's libcaf-dev is not built
# with TSan, and CAF's mailboxes hand messages between threads through atomics
# inside libcaf_core.so, which TSan cannot see through: against it, every
# message payload would look like a race. So this script first builds CAF
# 0.17.6 itself with -fsanitize=thread, from a source tree it is given:
#
#   tests/run-tsan.sh CAF_SOURCE_DIR [CTEST_ARGS...]
#
# e.g. the tree `apt-get source libcaf-dev` unpacks (needs a deb-src line).
# CAF goes to build/caf-tsan (built once), the suite to build/tsan; then
# ctest runs there with CTEST_ARGS (default: the whole suite but the
# consumer test). Exits
# non-zero on a failed test or any ThreadSanitizer report (halt_on_error).
# Not part of tests/run-all.sh: CI downloads nothing at build time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || [ ! -f "$1/libcaf_core/caf/all.hpp" ]; then
  echo "usage: tests/run-tsan.sh CAF_SOURCE_DIR [CTEST_ARGS...]" >&2
  echo "  CAF_SOURCE_DIR: a CAF 0.17.6 source tree" >&2
  exit 2
fi
caf_src=$(cd "$1" && pwd)
shift
jobs=$(nproc 2>/dev/null || echo 2)
prefix=$PWD/build/caf-tsan

if [ ! -f "$prefix/lib/libcaf_core.so" ]; then
  # `-include limits`: 0.17.6 misses that include for GCC 12 (Debian patches
  # it).
  cmake -S "$caf_src" -B build/caf-tsan-build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -g1 -include limits" \
    -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes \
    -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes -DCMAKE_INSTALL_PREFIX="$prefix"
  cmake --build build/caf-tsan-build --parallel "$jobs"
  cmake --install build/caf-tsan-build
fi

cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DCAF_INCLUDE_DIR="$prefix/include" \
  -DCAF_core_LIBRARY="$prefix/lib/libcaf_core.so" \
  -DCAF_io_LIBRARY="$prefix/lib/libcaf_io.so" \
  -DCAF_openssl_LIBRARY="$prefix/lib/libcaf_openssl.so"
cmake --build build/tsan --parallel "$jobs"
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}
# install_and_consume builds a project of its own without the sanitizer: it
# cannot link against instrumented libraries.
ctest --test-dir build/tsan --output-on-failure --parallel "$jobs" \
  --timeout 600 -E install_and_consume "$@"
