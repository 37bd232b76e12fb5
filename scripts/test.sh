#!/usr/bin/env bash
# Installs dependencies, builds tripline with AddressSanitizer + UBSan
# (warnings are errors), and runs the whole test suite with ctest: unit, replay,
# fuzz-corpus, benchmark smoke and network-namespace integration tests.
# Needs root (apt-get, network namespaces, NFQUEUE). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset asan >/dev/null
cmake --build --preset asan -j2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TZ=UTC
ctest --test-dir build/asan --output-on-failure -j2 "$@"
