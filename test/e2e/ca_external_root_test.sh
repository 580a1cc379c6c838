#!/usr/bin/env bash
# A CA certified by an external root: ca.init in csr mode, the root (openssl)
# signs the CSR, ca.import (with the custodians' shares) installs it, and
# issued certificates chain to the external root for `openssl verify`.
. "$(dirname "$0")/lib.sh"
D=$WORK/data
export INKAN_DATA=$D
K=$WORK/keys
mkdir -p "$K"
# alice has a P-256 key (her share is sealed to it); bob has Ed25519, so his
# share is printed at the ceremony.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/alice.key" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$K/bob.key"
for who in alice bob; do openssl pkey -in "$K/$who.key" -pubout -out "$K/$who.pub"; done
# The external root.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$K/root.key" \
  -subj "/C=JP/O=External Trust/CN=External Root" -days 3650 -out "$WORK/root.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

"$INKAN" init --quorum 2 --policy argon2.m_cost_kib=1024 --policy argon2.t_cost=1 >/dev/null
"$INKAN" operator add alice --public-key "$K/alice.pub" >/dev/null
"$INKAN" operator add bob --public-key "$K/bob.pub" >/dev/null
ID=$("$INKAN" ca init --mode csr --subject "CN=inkan Issuing CA,O=inkan,C=JP" \
       --operator alice --key "$K/alice.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$ID" --operator bob --key "$K/bob.key" >/dev/null
expect_rc 7 "an Ed25519 custodian's share needs --share-dir" -- "$INKAN" ceremony execute --id "$ID"
expect_out "printed" "… and the error says the share is printed"
expect_rc 0 "ca.init in csr mode, bob's share printed" -- \
  "$INKAN" ceremony execute --id "$ID" --share-dir "$WORK/printed"
expect_out "inkan ca csr" "… tells what comes next"
expect_out "printed share for bob" "… and where bob's printed share is"
[ "$(stat -c %a "$WORK/printed/bob.share")" = 600 ] && ok "the printed share file is 0600" \
  || not_ok "mode $(stat -c %a "$WORK/printed/bob.share")"
grep -q '^inkan-share1-' "$WORK/printed/bob.share" && ok "it is a checksummed text share" \
  || not_ok "share text: $(cat "$WORK/printed/bob.share")"
OUT=$("$INKAN" audit show --count 1000)
if echo "$OUT" | grep -q "$(cut -c1-40 "$WORK/printed/bob.share")"; then not_ok "a share reached the log";
else ok "the printed share is not on the log"; fi
expect_rc 7 "no CA certificate until the import" -- "$INKAN" ca certificate
"$INKAN" ca csr > "$WORK/ca.csr"
expect_rc 0 "openssl accepts the CSR's signature" -- openssl req -in "$WORK/ca.csr" -verify -noout
openssl x509 -req -in "$WORK/ca.csr" -CA "$WORK/root.pem" -CAkey "$K/root.key" -CAcreateserial \
  -days 1825 -copy_extensions copy -out "$WORK/ca.pem" 2>/dev/null
"$INKAN" ca share --custodian alice > "$WORK/alice.sealed"
"$INKAN" ca open-share --in "$WORK/alice.sealed" --key "$K/alice.key" > "$WORK/alice.share"
cp "$WORK/printed/bob.share" "$WORK/bob.share"
expect_rc 7 "inkan keeps no copy of a printed share" -- "$INKAN" ca share --custodian bob

# A certificate for another key is refused at execution.
BAD=$("$INKAN" ca import --cert "$WORK/root.pem" --operator alice --key "$K/alice.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$BAD" --operator bob --key "$K/bob.key" >/dev/null
expect_rc 2 "importing a certificate for another key is refused" -- \
  "$INKAN" ceremony execute --id "$BAD" --share "$WORK/alice.share" --share "$WORK/bob.share"
expect_out "not for this CA's key" "… and says why"

IMP=$("$INKAN" ca import --cert "$WORK/ca.pem" --chain "$WORK/root.pem" --operator alice --key "$K/alice.key" \
        | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$IMP" --operator bob --key "$K/bob.key" >/dev/null
expect_rc 0 "ca.import with the custodians' shares" -- \
  "$INKAN" ceremony execute --id "$IMP" --share "$WORK/alice.share" --share "$WORK/bob.share"
expect_out "installed" "… installs the certificate"

echo 135790 | "$INKAN" user add gina >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user gina --alg ec-p256)
"$INKAN" cert issue --credential "$CRED" --share "$WORK/alice.share" --share "$WORK/bob.share" \
  | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/gina.pem"
expect_rc 0 "issued certificates chain to the external root" -- \
  openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/ca.pem" "$WORK/gina.pem"
expect_rc 2 "… and not without the intermediate" -- openssl verify -CAfile "$WORK/root.pem" "$WORK/gina.pem"
expect_rc 0 "the audit log verifies" -- "$INKAN" audit verify
finish
