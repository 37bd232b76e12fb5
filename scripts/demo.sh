#!/usr/bin/env bash
# The quick-start demo: installs dependencies, builds tripline (release), and
# runs it on a real NFQUEUE inside three network namespaces it creates
# (client — gateway — server). Traffic from the client crosses the gateway's
# queue; tripline judges every packet and writes flow events, which the demo
# prints. Everything it created is removed at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target tripline
exec bash scripts/demo-netns.sh "$PWD/build/release/engine/app/tripline"
