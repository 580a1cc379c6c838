#!/usr/bin/env bash
# Builds inkan and runs its main job on the embedded defaults (SoftHSMv2 and
# SQLite): creates ./data on first run, a user "demo", a P-256 credential
# sealed under the demo PIN, signs README.md's hash, checks the signature
# with openssl and the audit log with inkan.
# Usage: tools/run.sh   (INKAN_DATA and DEMO_PIN override the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh build
INKAN=$PWD/build/inkan
export INKAN_DATA=${INKAN_DATA:-$PWD/data}
PIN=${DEMO_PIN:-246810}

if [ ! -f "$INKAN_DATA/inkan.conf" ]; then
  "$INKAN" init
fi
if ! "$INKAN" user list | cut -f2 | grep -qx demo; then
  echo "$PIN" | "$INKAN" user add demo
fi
ID=$("$INKAN" credential list --user demo | head -1 | cut -f1)
if [ -z "$ID" ]; then
  ID=$(echo "$PIN" | "$INKAN" credential create --user demo --alg ec-p256)
  echo "created credential $ID (key generated in the HSM, sealed under the demo PIN)"
fi
HASH=$(openssl dgst -sha256 -r README.md | cut -d' ' -f1)
echo "$PIN" | "$INKAN" credential sign --id "$ID" --hash "$HASH" | base64 -d > /tmp/inkan-demo.sig
"$INKAN" credential show --id "$ID" | sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' > /tmp/inkan-demo.pem
echo -n "openssl: "
openssl dgst -sha256 -verify /tmp/inkan-demo.pem -signature /tmp/inkan-demo.sig README.md
"$INKAN" audit verify
"$INKAN" status
echo
echo "Next: INKAN_DATA=$INKAN_DATA build/inkan --help"
