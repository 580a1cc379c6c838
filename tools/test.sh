#!/usr/bin/env bash
# Builds inkan and runs every test (unit, integration on real SoftHSMv2,
# end-to-end with openssl, pkcs11-tool and sqlite3).
# Usage: tools/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh build
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
