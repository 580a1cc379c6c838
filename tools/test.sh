#!/usr/bin/env bash
# Builds inkan and runs every test (unit, integration on real SoftHSMv2,
# end-to-end with openssl, pkcs11-tool and sqlite3).
# Usage: tools/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh build
# The consent-page tests drive Debian's Chromium with npm's playwright-core
# (pinned in test/browser/package-lock.json; no browser download).
if [ ! -d test/browser/node_modules/playwright-core ]; then
  (cd test/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
