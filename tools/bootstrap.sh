#!/usr/bin/env bash
# Installs every Debian package that building, running and testing inkan needs.
# Safe to run again: it does nothing when everything is already there.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # libraries
  libssl-dev libabsl-dev libsqlite3-dev libargon2-dev libcli11-dev libp11-kit-dev
  libboost1.81-dev libboost-json1.81-dev libqrencode-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the HSM and the third-party tools the tests drive
  softhsm2 opensc openssl sqlite3 xxd curl
  # the browser the consent-page tests drive (with npm's playwright-core)
  chromium
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
