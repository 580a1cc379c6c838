#!/usr/bin/env bash
# The CA end to end: the ca.init ceremony under a 2-of-3 quorum, custodians
# opening their sealed shares with their own keys, certificates issued with k
# shares and checked by `openssl verify`, revocation caught by -crl_check, a
# tampered share named at entry, and every step on the audit log.
. "$(dirname "$0")/lib.sh"
D=$WORK/data
export INKAN_DATA=$D
K=$WORK/keys
mkdir -p "$K"
for who in alice bob carol; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/$who.key" 2>/dev/null
  openssl pkey -in "$K/$who.key" -pubout -out "$K/$who.pub"
done
"$INKAN" init --quorum 2 --policy argon2.m_cost_kib=1024 --policy argon2.t_cost=1 >/dev/null
"$INKAN" operator add alice --public-key "$K/alice.pub" >/dev/null
"$INKAN" operator add bob --public-key "$K/bob.pub" >/dev/null
ID=$("$INKAN" ceremony propose operator.add --param name=carol --param public_key=@"$K/carol.pub" \
       --operator alice --key "$K/alice.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$ID" --operator bob --key "$K/bob.key" >/dev/null
"$INKAN" ceremony execute --id "$ID" >/dev/null

expect_rc 7 "no certificate before the CA exists" -- "$INKAN" ca certificate
OUT=$("$INKAN" ca init --subject "CN=inkan Test CA,O=inkan,C=JP" --crl-url http://127.0.0.1/ca.crl \
        --ocsp-url http://127.0.0.1/ocsp --operator alice --key "$K/alice.key" 2>&1)
CA=$(echo "$OUT" | sed -n 's/^request //p')
[[ "$CA" =~ ^[0-9a-f]{64}$ ]] && ok "ca init proposes the ca.init ceremony" || not_ok "ca init: $OUT"
expect_rc 7 "ca.init does not run on one approval" -- "$INKAN" ceremony execute --id "$CA"
"$INKAN" ceremony approve --id "$CA" --operator carol --key "$K/carol.key" >/dev/null
expect_rc 0 "ca.init runs with the quorum" -- "$INKAN" ceremony execute --id "$CA"
expect_out "split 2-of-3" "… and splits the CA KEK 2-of-3"
expect_rc 0 "ca status" -- "$INKAN" ca status
expect_out "alice, bob, carol" "… names the custodians"
OUT=$("$INKAN" status)
expect_out "CA: ec-p256 key, KEK split 2-of-3" "inkan status shows the CA"
expect_out "operators: 3 active, quorum 2" "… and the operators and quorum"
"$INKAN" ca certificate > "$WORK/root.pem"
openssl x509 -in "$WORK/root.pem" -noout -text | grep -q "CA:TRUE" && ok "the root is a CA certificate" \
  || not_ok "root: $(openssl x509 -in "$WORK/root.pem" -noout -text 2>&1 | head -20)"

# Each custodian fetches their sealed share and opens it with their own key.
for who in alice bob carol; do
  "$INKAN" ca share --custodian "$who" > "$WORK/$who.sealed"
  "$INKAN" ca open-share --in "$WORK/$who.sealed" --key "$K/$who.key" > "$WORK/$who.share"
done
grep -q '^inkan-share1-' "$WORK/alice.share" && ok "a custodian opens their sealed share" \
  || not_ok "share: $(cat "$WORK/alice.share")"
expect_rc 5 "a sealed share does not open with another custodian's key" -- \
  "$INKAN" ca open-share --in "$WORK/alice.sealed" --key "$K/bob.key"

echo 135790 | "$INKAN" user add erin >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256)
expect_rc 7 "one share is not enough to issue" -- \
  "$INKAN" cert issue --credential "$CRED" --share "$WORK/alice.share"
sed 's/\(inkan-share1-[0-9a-f]*-2of3-[0-9]*-\)\(.\)/\1Z/' "$WORK/bob.share" > "$WORK/bad.share"
if cmp -s "$WORK/bad.share" "$WORK/bob.share"; then sed -i 's/-\(.\)\(.\)\(.\)\(.\)-/-\2\1\3\4-/' "$WORK/bad.share"; fi
expect_rc 2 "a tampered share is refused at entry" -- \
  "$INKAN" cert issue --credential "$CRED" --share "$WORK/alice.share" --share "$WORK/bad.share"
expect_out "share 2" "… and the share is named"
OUT=$("$INKAN" cert issue --credential "$CRED" --share "$WORK/alice.share" --share "$WORK/carol.share" 2>&1)
SERIAL=$(echo "$OUT" | sed -n 's/^serial //p')
echo "$OUT" | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/erin.pem"
expect_rc 0 "openssl verify accepts the issued certificate" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/erin.pem"
OUT=$(openssl x509 -in "$WORK/erin.pem" -noout -text)
expect_out "CN *= *erin" "the subject comes from the user record"
expect_out "Digital Signature, Non Repudiation" "keyUsage digitalSignature + nonRepudiation"
expect_out "OCSP - URI:http://127.0.0.1/ocsp" "AIA names the OCSP responder"
expect_out "URI:http://127.0.0.1/ca.crl" "the CRL distribution point is set"
# A signature by the credential verifies with the certificate's key.
printf 'contract' > "$WORK/doc"
H=$(openssl dgst -sha256 -r "$WORK/doc" | cut -d' ' -f1)
echo 135790 | "$INKAN" credential sign --id "$CRED" --hash "$H" | base64 -d > "$WORK/doc.sig"
openssl x509 -in "$WORK/erin.pem" -pubkey -noout > "$WORK/erin.pub"
expect_rc 0 "the credential's signature verifies with its certificate" -- \
  openssl dgst -sha256 -verify "$WORK/erin.pub" -signature "$WORK/doc.sig" "$WORK/doc"

# A second certificate stays good; the first is revoked.
OUT=$("$INKAN" cert issue --credential "$CRED" --share "$WORK/bob.share" --share "$WORK/carol.share")
echo "$OUT" | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/erin2.pem"
expect_rc 0 "revoke with k shares" -- "$INKAN" cert revoke --serial "$SERIAL" --reason keyCompromise \
  --share "$WORK/alice.share" --share "$WORK/bob.share"
expect_rc 7 "a certificate is revoked only once" -- "$INKAN" cert revoke --serial "$SERIAL" \
  --share "$WORK/alice.share" --share "$WORK/bob.share"
"$INKAN" crl --share "$WORK/alice.share" --share "$WORK/carol.share" > "$WORK/crl.pem"
expect_rc 0 "openssl crl -verify accepts the CRL" -- \
  openssl crl -in "$WORK/crl.pem" -CAfile "$WORK/root.pem" -noout
expect_rc 2 "openssl verify -crl_check rejects the revoked certificate" -- \
  openssl verify -crl_check -CAfile "$WORK/root.pem" -CRLfile "$WORK/crl.pem" "$WORK/erin.pem"
expect_out "certificate revoked" "… as revoked"
expect_rc 0 "… and accepts the one that is not revoked" -- \
  openssl verify -crl_check -CAfile "$WORK/root.pem" -CRLfile "$WORK/crl.pem" "$WORK/erin2.pem"
OUT=$("$INKAN" cert show --serial "$SERIAL")
expect_out "revoked \(reason 1\)" "cert show says revoked (keyCompromise)"

# OCSP over HTTP, answered by the delegated responder while the CA key sleeps.
mkfifo "$WORK/ready"
"$INKAN" ocsp serve --listen 127.0.0.1:0 > "$WORK/ready" 2>"$WORK/ocsp.err" &
OCSP_PID=$!
exec 3< "$WORK/ready"
read -r -u 3 LINE
ADDR=${LINE#listening on }
[[ "$ADDR" =~ ^127\.0\.0\.1:[0-9]+$ ]] && ok "the OCSP responder listens ($ADDR)" || not_ok "ocsp: $LINE $(cat "$WORK/ocsp.err")"
OUT=$(openssl ocsp -issuer "$WORK/root.pem" -cert "$WORK/erin2.pem" -url "http://$ADDR/ocsp" \
        -CAfile "$WORK/root.pem" 2>&1)
expect_out "Response verify OK" "openssl ocsp verifies the response (delegated responder, nonce)"
expect_out "erin2.pem: good" "an unrevoked certificate is good"
if echo "$OUT" | grep -q "WARNING: no nonce"; then not_ok "the nonce was not echoed"; else ok "the nonce is echoed"; fi
OUT=$(openssl ocsp -issuer "$WORK/root.pem" -cert "$WORK/erin.pem" -url "http://$ADDR/ocsp" \
        -CAfile "$WORK/root.pem" 2>&1)
expect_out "erin.pem: revoked" "the revoked certificate is revoked"
expect_out "Reason: keyCompromise" "… with its reason"
# A database writer un-revokes the row; the signed CRL still says revoked.
sqlite3 "$D/inkan.db" "UPDATE certificates SET revoked=0 WHERE serial='$SERIAL'"
OUT=$(openssl ocsp -issuer "$WORK/root.pem" -cert "$WORK/erin.pem" -url "http://$ADDR/ocsp" \
        -CAfile "$WORK/root.pem" 2>&1)
expect_out "erin.pem: revoked" "OCSP never says good for a serial on the signed CRL"
sqlite3 "$D/inkan.db" "UPDATE certificates SET revoked=1 WHERE serial='$SERIAL'"
OUT=$(openssl ocsp -issuer "$WORK/root.pem" -serial 0x1234567890 -url "http://$ADDR/ocsp" \
        -CAfile "$WORK/root.pem" -no_nonce 2>&1)
expect_out ": unknown" "a serial the CA never issued is unknown"
OUT=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://$ADDR/ocsp" 2>&1)
[ "$OUT" = 405 ] && ok "other HTTP methods are refused (405)" || not_ok "PUT gave $OUT"
OUT=$(curl -s -X POST -H 'Content-Type: application/ocsp-request' --data-binary 'garbage' \
        "http://$ADDR/ocsp" | openssl ocsp -respin /dev/stdin -resp_text -noverify 2>&1)
expect_out "malformedrequest" "a malformed request gets malformedRequest"
# A client that connects and says nothing is dropped after the I/O timeout
# (10 s); it does not hold the responder for ever.
exec 5<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}"
OUT=$(timeout 60 openssl ocsp -issuer "$WORK/root.pem" -cert "$WORK/erin2.pem" -url "http://$ADDR/ocsp" \
        -CAfile "$WORK/root.pem" 2>&1)
exec 5<&-
expect_out "erin2.pem: good" "a silent client does not hold the responder"
kill -TERM "$OCSP_PID"
wait "$OCSP_PID"
RC=$?
exec 3<&-
[ "$RC" = 0 ] && ok "the responder stops cleanly on SIGTERM" || not_ok "responder exit $RC: $(cat "$WORK/ocsp.err")"

# The CA key never rests in the HSM: the three system keys and the CA KEK.
OBJ=$(SOFTHSM2_CONF=$D/hsm/softhsm2.conf pkcs11-tool --module "$SOFTHSM_LIB" --token-label inkan \
        --login --pin "$(cat "$D/hsm/user.pin")" --list-objects 2>/dev/null)
[ "$(echo "$OBJ" | grep -c 'Key Object')" = 5 ] && [ "$(echo "$OBJ" | grep -c 'Private Key Object')" = 1 ] \
  && echo "$OBJ" | grep -q "inkan-ca-kek" && ok "no CA or responder key object rests on the token" \
  || not_ok "token objects: $OBJ"

# Backup as a bundle (no secret), restored into an empty instance with its own
# HSM token; the original custodians' shares then sign under the original root.
expect_rc 0 "ca backup writes the bundle" -- "$INKAN" ca backup --out "$WORK/ca-bundle.json"
if grep -qi "PRIVATE KEY\|inkan-share1" "$WORK/ca-bundle.json"; then not_ok "the bundle holds a secret"; \
  else ok "the bundle holds no private key and no share"; fi
# restore_into DIR [init options]: a new instance, the bundle restored by a
# ceremony there, then a certificate issued with the original shares.
restore_into() {
  local dir=$1
  shift
  (
    export INKAN_DATA=$dir
    "$INKAN" init --quorum 2 --policy argon2.m_cost_kib=1024 --policy argon2.t_cost=1 "$@" >/dev/null
    "$INKAN" operator add alice --public-key "$K/alice.pub" >/dev/null
    "$INKAN" operator add bob --public-key "$K/bob.pub" >/dev/null
    id=$("$INKAN" ca restore --in "$WORK/ca-bundle.json" --operator alice --key "$K/alice.key" \
           | sed -n 's/^request //p')
    "$INKAN" ceremony approve --id "$id" --operator bob --key "$K/bob.key" >/dev/null
    # Another bundle than the one approved (one byte changed) is refused first.
    sed 's/"crl_number":"[0-9]*"/"crl_number":"999"/' "$WORK/ca-bundle.json" > "$dir.other.json"
    "$INKAN" ceremony execute --id "$id" --input "$dir.other.json" > "$dir.tamper" 2>&1
    echo "rc=$?" >> "$dir.tamper"
    "$INKAN" ceremony execute --id "$id" --input "$WORK/ca-bundle.json" > "$dir.restore" 2>&1
    echo 135790 | "$INKAN" user add frank >/dev/null
    cred=$(echo 135790 | "$INKAN" credential create --user frank --alg ec-p256)
    "$INKAN" cert issue --credential "$cred" --share "$WORK/alice.share" --share "$WORK/bob.share" \
      > "$dir.issue" 2>&1
    "$INKAN" audit verify > "$dir.audit" 2>&1
  )
}
# Same HSM (a second instance on the token, its system keys adopted): works.
SOFTHSM2_CONF=$D/hsm/softhsm2.conf restore_into "$WORK/same-hsm" \
  --pkcs11-module "$SOFTHSM_LIB" --token-label inkan --pin-file "$D/hsm/user.pin" --use-existing-keys
grep -q "not the bundle the operators approved" "$WORK/same-hsm.tamper" && grep -q "rc=2" "$WORK/same-hsm.tamper" \
  && ok "a bundle other than the approved one is refused" || not_ok "tampered bundle: $(cat "$WORK/same-hsm.tamper")"
grep -q "CA restored" "$WORK/same-hsm.restore" && ok "ca.restore runs in an empty instance on the same HSM" \
  || not_ok "restore: $(cat "$WORK/same-hsm.restore")"
grep -q "1 revocations" "$WORK/same-hsm.restore" && ok "… and carries the revocations" \
  || not_ok "revocations: $(cat "$WORK/same-hsm.restore")"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$WORK/same-hsm.issue" > "$WORK/frank.pem"
expect_rc 0 "the restored CA, activated by the original shares, signs under the original root" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/frank.pem"
grep -q "intact" "$WORK/same-hsm.audit" && ok "the restored instance's log verifies" \
  || not_ok "restored log: $(cat "$WORK/same-hsm.audit")"
# Another HSM: the shares open the record, but only that HSM unwraps the key.
restore_into "$WORK/other-hsm"
grep -q "another HSM" "$WORK/other-hsm.issue" && ok "on another HSM the shares alone activate nothing" \
  || not_ok "other HSM: $(cat "$WORK/other-hsm.issue")"

# Rekey: new shares for the same CA key; the old ones are void.
RK=$("$INKAN" ceremony propose ca.rekey --operator alice --key "$K/alice.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$RK" --operator bob --key "$K/bob.key" >/dev/null
expect_rc 7 "ca.rekey without shares is refused" -- "$INKAN" ceremony execute --id "$RK"
expect_out "2 are needed" "… saying how many shares it needs"
expect_rc 0 "ca.rekey with 2 current shares" -- \
  "$INKAN" ceremony execute --id "$RK" --share "$WORK/alice.share" --share "$WORK/bob.share"
expect_out "are void" "… voids the old split"
expect_rc 2 "old shares no longer activate the CA" -- \
  "$INKAN" cert issue --credential "$CRED" --share "$WORK/alice.share" --share "$WORK/carol.share"
expect_out "voided" "… and say they were voided"
for who in alice bob carol; do
  "$INKAN" ca share --custodian "$who" > "$WORK/$who.sealed2"
  "$INKAN" ca open-share --in "$WORK/$who.sealed2" --key "$K/$who.key" > "$WORK/$who.share2"
done
OUT=$("$INKAN" cert issue --credential "$CRED" --share "$WORK/bob.share2" --share "$WORK/carol.share2")
echo "$OUT" | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/erin3.pem"
expect_rc 0 "new shares issue a certificate that verifies against the same root" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/erin3.pem"

# The profile changes only by ceremony, and bad values are refused up front.
expect_rc 2 "a profile with a non-http URL is refused at proposal" -- \
  "$INKAN" ceremony propose ca.profile --param ocsp_url=ftp://ocsp.example/
PR=$("$INKAN" ceremony propose ca.profile --param ocsp_url=http://ocsp2.example.jp/ --param ee_days=30 \
       --operator alice --key "$K/alice.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$PR" --operator carol --key "$K/carol.key" >/dev/null
expect_rc 0 "ca.profile runs with the quorum" -- "$INKAN" ceremony execute --id "$PR"
OUT=$("$INKAN" cert issue --credential "$CRED" --share "$WORK/alice.share2" --share "$WORK/bob.share2")
echo "$OUT" | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/erin4.pem"
OUT=$(openssl x509 -in "$WORK/erin4.pem" -noout -text)
expect_out "OCSP - URI:http://ocsp2.example.jp/" "new certificates carry the new OCSP URL"
expect_out "URI:http://127.0.0.1/ca.crl" "… and keep the fields not changed"
NB=$(openssl x509 -in "$WORK/erin4.pem" -noout -startdate | cut -d= -f2)
NA=$(openssl x509 -in "$WORK/erin4.pem" -noout -enddate | cut -d= -f2)
DAYS=$(( ($(date -d "$NA" +%s) - $(date -d "$NB" +%s)) / 86400 ))
[ "$DAYS" = 30 ] && ok "… and the new validity (30 days)" || not_ok "validity $DAYS days"

# Destroy: the key, the split and the responder key go; custodians acknowledge.
DS=$("$INKAN" ceremony propose ca.destroy --operator carol --key "$K/carol.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$DS" --operator alice --key "$K/alice.key" >/dev/null
expect_rc 0 "ca.destroy runs with the quorum" -- "$INKAN" ceremony execute --id "$DS"
expect_rc 7 "after destroy, the shares activate nothing" -- \
  "$INKAN" cert issue --credential "$CRED" --share "$WORK/bob.share2" --share "$WORK/carol.share2"
expect_out "destroyed" "… because the key was destroyed"
expect_rc 7 "after destroy, the OCSP responder key is gone" -- "$INKAN" ocsp serve --listen 127.0.0.1:0
OUT=$(sqlite3 "$D/inkan.db" "SELECT value FROM meta WHERE key IN ('ca.custody','ca.ocsp.key')")
if echo "$OUT" | grep -q '"wrapped"'; then not_ok "a wrapped key is still stored"; else ok "no wrapped CA or responder key remains in the database"; fi
RS=$("$INKAN" ca restore --in "$WORK/ca-bundle.json" --operator alice --key "$K/alice.key" \
       | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$RS" --operator bob --key "$K/bob.key" >/dev/null
expect_rc 7 "a destroyed CA is not restored from an old bundle" -- \
  "$INKAN" ceremony execute --id "$RS" --input "$WORK/ca-bundle.json"
expect_rc 6 "a destruction acknowledgement with the wrong key is refused" -- \
  "$INKAN" ca destroy-ack --operator bob --key "$K/alice.key"
for who in alice bob carol; do
  expect_rc 0 "$who acknowledges the destruction" -- "$INKAN" ca destroy-ack --operator "$who" --key "$K/$who.key"
done

expect_rc 0 "the audit log verifies" -- "$INKAN" audit verify
OUT=$("$INKAN" audit show --count 1000)
for ev in ca.init ca.activate ca.activate.refused cert.issue cert.revoke crl.issue ca.backup \
          ca.rekey ca.destroy ca.destroy.ack; do
  expect_out "\"type\":\"$ev\"" "$ev is on the audit log"
done
finish
