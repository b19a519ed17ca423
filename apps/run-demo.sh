#!/usr/bin/env bash
# Builds the caf-rtm tool (optimised) and runs its demo: a scripted Slack
# workspace on the embedded fake server. Events appear on stdout as JSON lines,
# the narration on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release --parallel "$(nproc 2>/dev/null || echo 2)" --target caf-rtm
exec build/release/apps/caf-rtm --demo "$@"
