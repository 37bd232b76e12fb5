#!/usr/bin/env bash
# Installs dependencies, builds tripline with AddressSanitizer + UBSan
# (warnings are errors), and runs the whole test suite with ctest: unit, replay,
# fuzz-corpus, benchmark smoke, style and network-namespace integration tests;
# then the tests of what threads share under ThreadSanitizer (tsan preset), and
# the Debian package: built, checked with lintian, installed and checked
# (scripts/package.sh).
# Arguments go to the first ctest (e.g. `-L unit`, `-R replay.dns`) and skip
# the TSan pass and the package step.
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
# What threads share (DNS cache, capture ring and writer, event writer,
# counters) once more under ThreadSanitizer: only the unit tests, built apart.
if [ "$#" -eq 0 ]; then
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan
  ctest --preset tsan -j2
  bash scripts/package.sh
fi
