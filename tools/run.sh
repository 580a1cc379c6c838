#!/usr/bin/env bash
# Builds inkan and runs the service on the embedded defaults (SoftHSMv2 and
# SQLite). On first run it sets up ./data as a demo: two demo operators (their
# keys in ./data/demo-operators — in production each operator keeps their own
# key on their own token), the CA under their 2-of-2 quorum, the service's TLS
# certificate, a user "demo" with a TOTP authenticator and a P-256 credential
# certified by the CA. Then it starts `inkan serve` on https://127.0.0.1:8443,
# signs README.md through the CSC API with `inkan sign`, checks the CAdES
# signature with `openssl cms -verify`, and keeps the service running until
# Ctrl-C.
# Usage: tools/run.sh   (INKAN_DATA, DEMO_PIN and INKAN_LISTEN override)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh build
INKAN=$PWD/build/inkan
export INKAN_DATA=${INKAN_DATA:-$PWD/data}
PIN=${DEMO_PIN:-246810}
LISTEN=${INKAN_LISTEN:-127.0.0.1:8443}
OPS=$INKAN_DATA/demo-operators

if [ ! -f "$INKAN_DATA/inkan.conf" ]; then
  "$INKAN" init
fi
# Demo operators and the CA (a ceremony: proposed, approved by both, executed).
if ! "$INKAN" operator list | grep -q alice; then
  (umask 077; mkdir -p "$OPS")
  for who in alice bob; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OPS/$who.key" 2>/dev/null
    openssl pkey -in "$OPS/$who.key" -pubout -out "$OPS/$who.pub"
    "$INKAN" operator add "$who" --public-key "$OPS/$who.pub" >/dev/null
  done
fi
if "$INKAN" ca status | grep -q "not initialised"; then
  ID=$("$INKAN" ca init --subject "CN=inkan Demo CA,O=inkan demo,C=JP" \
         --crl-url http://127.0.0.1:8080/ca.crl --ocsp-url http://127.0.0.1:8080/ocsp \
         --operator alice --key "$OPS/alice.key" | sed -n 's/^request //p')
  "$INKAN" ceremony approve --id "$ID" --operator bob --key "$OPS/bob.key" >/dev/null
  "$INKAN" ceremony execute --id "$ID"
fi
SHARES=()
for who in alice bob; do
  if [ ! -f "$OPS/$who.share" ]; then
    "$INKAN" ca share --custodian "$who" > "$OPS/$who.sealed"
    (umask 077; "$INKAN" ca open-share --in "$OPS/$who.sealed" --key "$OPS/$who.key" > "$OPS/$who.share")
  fi
  SHARES+=(--share "$OPS/$who.share")
done
"$INKAN" ca certificate > "$INKAN_DATA/ca.pem"
if [ ! -f "$INKAN_DATA/tls/cert.pem" ]; then
  "$INKAN" tls issue --name 127.0.0.1 --name localhost "${SHARES[@]}"
fi

# The demo user: PIN, TOTP authenticator, a SCAL 1 credential with a certificate.
if ! "$INKAN" user list | cut -f2 | grep -qx demo; then
  echo "$PIN" | "$INKAN" user add demo
fi
if [ ! -f "$OPS/demo.totp" ]; then
  (umask 077; echo "$PIN" | "$INKAN" totp enroll --user demo > "$OPS/demo.totp")
  echo "demo's authenticator: $(cat "$OPS/demo.totp")"
fi
ID=$("$INKAN" credential list --user demo | head -1 | cut -f1)
if [ -z "$ID" ]; then
  ID=$(echo "$PIN" | "$INKAN" credential create --user demo --alg ec-p256 --scal 1)
  echo "created credential $ID (key generated in the HSM, sealed under the demo PIN)"
  "$INKAN" cert issue --credential "$ID" "${SHARES[@]}" >/dev/null
fi

# The service, then a signature through it.
READY=$(mktemp -u /tmp/inkan-run-XXXXXX)
mkfifo "$READY"
"$INKAN" serve --listen "$LISTEN" > "$READY" &
SERVE=$!
trap 'kill -TERM $SERVE 2>/dev/null; wait $SERVE; rm -f "$READY"' EXIT
exec 3< "$READY"
read -r -u 3 LINE
echo "$LINE"
BASE=${LINE#listening on }
SECRET=$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' "$OPS/demo.totp")
while [ $(( ${#SECRET} % 8 )) -ne 0 ]; do SECRET="$SECRET="; done
HEX=$(echo "$SECRET" | base32 -d | xxd -p | tr -d '\n')
MAC=$(printf '%016x' $(( $(date +%s) / 30 )) | xxd -r -p \
      | openssl dgst -sha1 -mac HMAC -macopt "hexkey:$HEX" -binary | xxd -p | tr -d '\n')
OFF=$(( 16#${MAC:39:1} * 2 ))
CODE=$(printf '%06d' $(( (16#${MAC:$OFF:8} & 0x7fffffff) % 1000000 )))
cp README.md /tmp/inkan-demo.md
printf '%s\n%s\n%s\n' "$PIN" "$PIN" "$CODE" | "$INKAN" sign /tmp/inkan-demo.md \
  --service "$BASE" --credential "$ID" --user demo --cacert "$INKAN_DATA/ca.pem"
echo -n "openssl cms: "
openssl cms -verify -binary -inform DER -in /tmp/inkan-demo.md.p7s -content /tmp/inkan-demo.md \
  -CAfile "$INKAN_DATA/ca.pem" -purpose any -out /dev/null
"$INKAN" audit verify
"$INKAN" status
# Enrollment: the CA key active in the service for the session, and a one-time
# URL for a new demo user (issued by alice, approved by bob).
"$INKAN" ca activate --share "$OPS/alice.share" --for 8h >/dev/null
"$INKAN" ca activate --share "$OPS/bob.share" >/dev/null
NEWUSER=hanako-$(date +%H%M%S)
ID=$("$INKAN" enroll issue --user "$NEWUSER" --operator alice --key "$OPS/alice.key" \
       | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$ID" --operator bob --key "$OPS/bob.key" >/dev/null
ENROLL_URL=$("$INKAN" enroll release --id "$ID" --base-url "${BASE%/csc/v2/}" | grep '/enroll#')
echo
echo "The service runs at $BASE (CA: $INKAN_DATA/ca.pem). Ctrl-C stops it."
echo "Enroll $NEWUSER (once; the browser must trust or accept the demo CA): $ENROLL_URL"
echo "Try: curl --cacert $INKAN_DATA/ca.pem -X POST ${BASE}info"
wait "$SERVE"
