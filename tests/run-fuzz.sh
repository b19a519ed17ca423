#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted input (tests/fuzz):
# configures and builds build/fuzz with clang-14 and libFuzzer (the fuzz
# targets and what they link, nothing else), replays every saved input of
# tests/fuzz/corpus/<target>/ (the seeds and the reproducers of fixed
# defects, so that those stay fixed), then runs every target for SECONDS
# (default 20) on a copy of its corpus. Exits non-zero if a saved input fails
# or a target finds a crash, a timeout, a leak or runaway memory, and prints
# the input's path; `build/fuzz/tests/fuzz/<target> <input>` replays it.
# tests/run-all.sh runs it with a short budget.
#
# Needs the Debian 12 packages clang-14 and libclang-rt-14-dev, which
# install-deps.sh installs with the project's other packages.
#
# Usage: tests/run-fuzz.sh [SECONDS]
# Environment: CAF_RTM_FUZZ_JOBS (build jobs; default: 2 cores when idle,
# else 1), CAF_RTM_FUZZ_CXX (default clang++-14).
set -euo pipefail

seconds=${1:-20}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
cxx=${CAF_RTM_FUZZ_CXX:-clang++-14}

if ! command -v "$cxx" >/dev/null; then
  echo "$cxx not found: apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 2
fi
runtime="$("$cxx" -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
if [ ! -f "$runtime" ]; then
  echo "libFuzzer runtime missing ($runtime): apt-get install libclang-rt-14-dev" >&2
  exit 2
fi

# Two build jobs only when the cores are otherwise idle: the machine may be
# shared, and a sanitizer build of this code needs up to 1 GB per job.
cores=$(nproc)
jobs=${CAF_RTM_FUZZ_JOBS:-$(awk -v n="$cores" '{
  free = n - int($1 + 0.5); print (free < 1) ? 1 : (free > 2 ? 2 : free) }' \
  /proc/loadavg)}

start=$SECONDS
# -O1 with line tables: fast enough to fuzz, quick to build, readable stack
# traces; no NDEBUG, so assertions stay on.
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
  -DCAF_RTM_FUZZ=ON -DCAF_RTM_BUILD_TESTS=OFF -DCAF_RTM_BUILD_APPS=ON \
  >"$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2
  exit 2
}
echo "building the fuzz targets (-j$jobs) ..."
if ! cmake --build "$build" --target fuzzers -j "$jobs" >"$build/build.log" 2>&1; then
  grep -E "error|Error" -A5 "$build/build.log" | head -60 >&2
  echo "build failed: see $build/build.log" >&2
  exit 2
fi
echo "built in $((SECONDS - start)) s"

# Largest input per target: a little above the largest realistic one.
declare -A max_len=(
  [fuzz_event]=4096
  [fuzz_envelope]=4096
  [fuzz_frames]=8192
  [fuzz_retry_after]=64
  [fuzz_url]=1024
  [fuzz_config]=2048
  [fuzz_cli]=512
)
# Dictionaries (tests/fuzz/dict): tokens the mutations would hardly guess.
declare -A dicts=([fuzz_event]=json [fuzz_envelope]=json [fuzz_frames]=json)
targets=(fuzz_event fuzz_envelope fuzz_frames fuzz_retry_after fuzz_url
         fuzz_config fuzz_cli)

# Runs target $1 with the remaining arguments in the working directory
# $dir, output to $log. An empty working directory and no stdin: the CLI
# target must not pick up a caf-application.ini or wait for input. Help
# texts (stdout) are dropped by -close_fd_mask=1.
run_target() {
  local t=$1
  shift
  (cd "$dir" &&
    ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=64 \
    UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/tests/fuzz/$t" -timeout=5 -rss_limit_mb=1024 -detect_leaks=1 \
      -close_fd_mask=1 "$@" </dev/null >"$log" 2>&1)
}

# What went wrong, from the log of a failed run.
show_errors() {
  { grep -E 'ERROR:|invariant violated|runtime error' "$1" || true; } |
    head -3 | cut -c1-300 | sed 's/^/    /'
}

runs=$build/runs
rm -rf "$runs"
failed=0
printf '%-17s %6s %10s %8s %7s %7s %7s  %s\n' target saved executions \
  exec/s cov ft rss_mb result
for t in "${targets[@]}"; do
  dir=$runs/$t
  mkdir -p "$dir/artifacts"
  saved=("$root/tests/fuzz/corpus/$t"/*)
  # Replay: each saved input once, as is. One that fails is named, and the
  # target is not fuzzed (fuzzing would only find it again).
  log=$dir/replay.log
  if ! run_target "$t" "${saved[@]}"; then
    printf '%-17s %6s %10s %8s %7s %7s %7s  %s\n' "$t" "${#saved[@]}" - - - \
      - - "FAILED (saved input)"
    failed=1
    for f in "${saved[@]}"; do
      log=$dir/replay-$(basename "$f").log
      if ! run_target "$t" "$f"; then
        echo "    saved input: ${f#"$root"/}"
        show_errors "$log"
        echo "    log: $log"
      fi
    done
    continue
  fi
  cp -r "$root/tests/fuzz/corpus/$t" "$dir/corpus"
  args=(-max_total_time="$seconds" -max_len="${max_len[$t]}"
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
  dict=$root/tests/fuzz/dict/${dicts[$t]:-$t}.dict
  [ -f "$dict" ] && args+=(-dict="$dict")
  log=$dir/log
  rc=0
  run_target "$t" "${args[@]}" corpus || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$dir/log")
  cov=$({ grep -oE 'cov: [0-9]+' "$dir/log" || true; } | tail -1 | cut -c6-)
  ft=$({ grep -oE 'ft: [0-9]+' "$dir/log" || true; } | tail -1 | cut -c5-)
  found=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' \
    -o -name 'leak-*' -o -name 'oom-*' \) | sort)
  if ((rc != 0)) || [ -n "$found" ]; then
    result="FAILED (exit $rc)"
    failed=1
  else
    result=ok
  fi
  printf '%-17s %6s %10s %8s %7s %7s %7s  %s\n' "$t" "${#saved[@]}" \
    "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "${rss:--}" "$result"
  if [ "$result" != ok ]; then
    # What went wrong, then where the input is.
    show_errors "$dir/log"
    for f in $found; do
      echo "    reproducer: $f"
      # A known finding kept in the seed corpus: name it.
      for seed in "$root/tests/fuzz/corpus/$t"/*; do
        if cmp -s "$f" "$seed"; then
          echo "      (the seed ${seed#"$root"/})"
        fi
      done
    done
    echo "    log: $dir/log"
  fi
done
echo "total $((SECONDS - start)) s"
exit $failed
