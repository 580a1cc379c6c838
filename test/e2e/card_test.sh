#!/usr/bin/env bash
# The smart card as possession factor: a user's card (a SoftHSM token standing
# in for the My Number Card, driven with pkcs11-tool) signs the service's
# challenge bound to the credential and the exact hashes; with the PIN that
# authorizes a signature. A wrong card, an old challenge or other hashes are
# refused and count toward the card's lock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
setup_ca "CN=inkan Card Test CA,O=inkan,C=JP"
echo 135790 | "$INKAN" user add erin >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256 --scal 1)
"$INKAN" cert issue --credential "$CRED" "${SHARES[@]}" > "$WORK/erin.out"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$WORK/erin.out" > "$WORK/erin.pem"
openssl x509 -in "$WORK/erin.pem" -pubkey -noout > "$WORK/erin.pub"

# The card: its own SoftHSM configuration (it is the user's device, not the
# provider's HSM), an authentication key and its certificate.
CARD=$WORK/card
mkdir -p "$CARD/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$CARD" > "$CARD/softhsm2.conf"
card() { SOFTHSM2_CONF=$CARD/softhsm2.conf "$@"; }
card softhsm2-util --init-token --free --label mynumber --so-pin 87654321 --pin 4321 >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CARD/auth.key" 2>/dev/null
openssl req -new -x509 -key "$CARD/auth.key" -subj "/CN=erin card/O=JPKI test" -days 30 -out "$CARD/auth.pem" 2>/dev/null
card softhsm2-util --import "$CARD/auth.key" --token mynumber --label auth --id 01 --pin 4321 >/dev/null
rm "$CARD/auth.key"   # from now on the key is only on the card
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/other.key" 2>/dev/null

expect_rc 5 "registering a card needs the user's PIN" -- \
  bash -c "echo 000000 | '$INKAN' card register --user erin --cert '$CARD/auth.pem'"
expect_rc 0 "card register records the card's certificate" -- \
  bash -c "echo 135790 | '$INKAN' card register --user erin --cert '$CARD/auth.pem'"
start_serve
TOKEN=$(curl -sS --cacert "$WORK/root.pem" -X POST -u erin:135790 "${BASE}auth/login" \
          | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
call() {
  OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
          -H 'Content-Type: application/json' --data-binary "$2" "$BASE$1")
  CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
}
H1=$(printf 'card doc 1' | openssl dgst -sha256 -binary | base64)
H2=$(printf 'card doc 2' | openssl dgst -sha256 -binary | base64)
challenge() {
  call credentials/getChallenge "{\"credentialID\":\"$CRED\",\"authObjectID\":\"CARD\"}"
  sed -n 's/.*"challenge":"\([^"]*\)".*/\1/p' <<<"$OUT"
}
# card_sign CHALLENGE HASHES_B64...: the card's DER signature (base64) over
# "inkan.card.v1\n" challenge "\n" credential "\n" sorted-hashes, by pkcs11-tool.
card_sign() {
  local ch=$1; shift
  printf 'inkan.card.v1\n%s\n%s\n%s' "$ch" "$CRED" "$(printf '%s\n' "$@" | sort | paste -sd,)" > "$WORK/msg"
  # SoftHSM signs with plain CKM_ECDSA: the SHA-256 is computed here.
  openssl dgst -sha256 -binary "$WORK/msg" > "$WORK/msg.sha256"
  card pkcs11-tool --module "$SOFTHSM_LIB" --token-label mynumber --login --pin 4321 --sign \
    --mechanism ECDSA --signature-format openssl --input-file "$WORK/msg.sha256" \
    --output-file "$WORK/card.sig" >/dev/null 2>&1
  base64 -w0 "$WORK/card.sig"
}
authz() {  # authz CARD_SIG_B64 HASHES...
  local sig=$1; shift
  local hs; hs=$(printf '"%s",' "$@"); hs=${hs%,}
  call credentials/authorize "{\"credentialID\":\"$CRED\",\"numSignatures\":$#,\"hashes\":[$hs],\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"authData\":[{\"id\":\"PIN\",\"value\":\"135790\"},{\"id\":\"CARD\",\"value\":\"$sig\"}]}"
}

call credentials/getChallenge "{\"credentialID\":\"$CRED\",\"authObjectID\":\"SMS\"}"
[ "$CODE" = 400 ] && ok "getChallenge refuses an unknown auth object" || not_ok "$CODE $OUT"
CH=$(challenge)
[ ${#CH} = 44 ] && ok "credentials/getChallenge gives a 256-bit challenge" || not_ok "challenge: $OUT"
authz "$(card_sign "$CH" "$H1" "$H2")" "$H1" "$H2"
SAD=$(sed -n 's/.*"SAD":"\([^"]*\)".*/\1/p' <<<"$OUT")
[ "$CODE" = 200 ] && [ -n "$SAD" ] && ok "the card's signature over the challenge + PIN authorize" \
  || not_ok "authorize: $CODE $OUT"
call signatures/signHash "{\"credentialID\":\"$CRED\",\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"signAlgo\":\"1.2.840.10045.4.3.2\"}"
sed -n 's/.*"signatures":\["\([^"]*\)".*/\1/p' <<<"$OUT" | base64 -d > "$WORK/sig1"
printf 'card doc 1' > "$WORK/doc1"
expect_rc 0 "… and the signature made with it verifies" -- \
  openssl dgst -sha256 -verify "$WORK/erin.pub" -signature "$WORK/sig1" "$WORK/doc1"

authz "$(card_sign "$CH" "$H1")" "$H1"
[ "$CODE" = 400 ] && echo "$OUT" | grep -q "getChallenge" && ok "a challenge is answered once" \
  || not_ok "reuse: $CODE $OUT"
CH=$(challenge)
authz "$(card_sign "$CH" "$H1")" "$H2"
[ "$CODE" = 400 ] && echo "$OUT" | grep -q invalid_authentication_data \
  && ok "the card's signature binds the hashes: other hashes are refused" || not_ok "hashes: $CODE $OUT"
CH=$(challenge)
printf 'inkan.card.v1\n%s\n%s\n%s' "$CH" "$CRED" "$H1" > "$WORK/msg"
OTHER=$(openssl dgst -sha256 -sign "$WORK/other.key" "$WORK/msg" | base64 -w0)
authz "$OTHER" "$H1"
[ "$CODE" = 400 ] && echo "$OUT" | grep -q invalid_authentication_data \
  && ok "a signature by another key than the registered card is refused" || not_ok "other: $CODE $OUT"
# inkan sign with the card (its own PKCS#11 module and token), CAdES verified.
echo "signed with my card" > "$WORK/letter.txt"
printf '135790\n135790\n4321\n' | SOFTHSM2_CONF=$CARD/softhsm2.conf "$INKAN" sign "$WORK/letter.txt" \
  --service "$BASE" --credential "$CRED" --user erin --cacert "$WORK/root.pem" \
  --card-module "$SOFTHSM_LIB" --card-token mynumber > "$WORK/sign.out" 2>&1
RC=$?
[ "$RC" = 0 ] && ok "inkan sign --card-module answers with the card" || not_ok "sign (rc $RC): $(cat "$WORK/sign.out")"
expect_rc 0 "… and openssl cms -verify accepts the signature" -- \
  openssl cms -verify -binary -inform DER -in "$WORK/letter.txt.p7s" -content "$WORK/letter.txt" \
    -CAfile "$WORK/root.pem" -purpose any -out /dev/null
printf '135790\n135790\n0000\n' | SOFTHSM2_CONF=$CARD/softhsm2.conf "$INKAN" sign "$WORK/letter.txt" \
  --service "$BASE" --credential "$CRED" --user erin --cacert "$WORK/root.pem" \
  --card-module "$SOFTHSM_LIB" --card-token mynumber > "$WORK/sign2.out" 2>&1
RC=$?
[ "$RC" = 5 ] && grep -q "card refused its PIN" "$WORK/sign2.out" && ok "a wrong card PIN stops inkan sign (exit 5)" \
  || not_ok "wrong card pin (rc $RC): $(cat "$WORK/sign2.out")"

# (a good answer forgave the earlier failures: five bad ones in a row)
for i in 1 2 3 4 5; do CH=$(challenge); authz "$OTHER" "$H1"; done
CH=$(challenge)
authz "$(card_sign "$CH" "$H1")" "$H1"
[ "$CODE" = 400 ] && echo "$OUT" | grep -q "CARD locked" \
  && ok "after five bad card signatures the card is locked, even for a good one" || not_ok "lock: $CODE $OUT"

stop_serve
OUT=$("$INKAN" audit show --count 1000000 2>&1)
echo "$OUT" | grep '"factor.enroll"' | grep -q '"card"' && ok "the card's registration is on the log" || not_ok "enroll log"
echo "$OUT" | grep '"factor.bad"' | grep -q '"card"' && ok "bad card signatures are on the log" || not_ok "bad log"
echo "$OUT" | grep '"factor.lock"' | grep -q '"card"' && ok "the card's lock is on the log" || not_ok "lock log"
expect_rc 0 "the log verifies" -- "$INKAN" audit verify
finish
