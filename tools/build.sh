#!/usr/bin/env bash
# Installs what is missing, then configures and builds inkan (Ninja, ccache).
# Usage: tools/build.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh
BUILD=${1:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Two cores here; each C++ job needs well under 1 GB.
cmake --build "$BUILD" -j "$(nproc)"
