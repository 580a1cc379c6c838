#!/usr/bin/env bash
# The CSC API v2 end to end: `inkan serve` on a free loopback port over
# HTTPS (certificate from inkan's own CA), driven with curl and `inkan sign`.
# Every endpoint's good path, and its bad inputs getting the CSC error and
# changing nothing; a CAdES signature that `openssl cms -verify` accepts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
setup_ca "CN=inkan CSC Test CA,O=inkan,C=JP"

# Users, credentials (SCAL 1 and 2), certificates, authenticators.
for u in erin frank gina; do echo 135790 | "$INKAN" user add "$u" >/dev/null; done
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256 --scal 1)
CRED2=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256)
CREDF=$(echo 135790 | "$INKAN" credential create --user frank --alg ec-p256 --scal 1)
CREDG=$(echo 135790 | "$INKAN" credential create --user gina --alg ec-p256 --scal 1)
for c in "$CRED" "$CREDF" "$CREDG"; do "$INKAN" cert issue --credential "$c" "${SHARES[@]}" >/dev/null; done
ERIN=$(secret_hex "$(echo 135790 | "$INKAN" totp enroll --user erin)")
FRANK=$(secret_hex "$(echo 135790 | "$INKAN" totp enroll --user frank)")
GINA=$(secret_hex "$(echo 135790 | "$INKAN" totp enroll --user gina)")
[ ${#ERIN} = 40 ] && ok "totp enroll prints an otpauth:// URI with a 160-bit secret" || not_ok "totp: $ERIN"

# The service's TLS certificate, from inkan's CA.
expect_rc 0 "tls issue makes the HTTPS certificate from inkan's CA" -- \
  "$INKAN" tls issue --name 127.0.0.1 --name localhost "${SHARES[@]}"
[ "$(stat -c %a "$D/tls/key.pem")" = 600 ] && ok "… its key file is 0600" || not_ok "key mode"
expect_rc 0 "… and openssl verifies it for TLS servers" -- \
  openssl verify -purpose sslserver -verify_ip 127.0.0.1 -CAfile "$WORK/root.pem" "$D/tls/cert.pem"

start_serve
[[ "$BASE" =~ ^https://127\.0\.0\.1:[0-9]+/csc/v2/$ ]] && ok "inkan serve listens ($BASE)" \
  || not_ok "serve: $LINE $(cat "$WORK/serve.err")"

# call METHOD JSON [TOKEN]: the HTTP status in $CODE, the body in $OUT.
call() {
  local auth=()
  [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
  OUT=$(curl -sS --cacert "$WORK/root.pem" -o - -w '\n%{http_code}' -X POST \
          -H 'Content-Type: application/json' "${auth[@]}" --data-binary "$2" "$BASE$1")
  CODE=${OUT##*$'\n'}
  OUT=${OUT%$'\n'*}
}
expect_code() {  # expect_code HTTP ERROR DESCRIPTION
  if [ "$CODE" = "$1" ] && echo "$OUT" | grep -q "\"error\":\"$2\""; then ok "$3"
  else not_ok "$3 (HTTP $CODE: $OUT)"; fi
}
json() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$OUT"; }
count_log() { "$INKAN" audit show --count 1000000 2>/dev/null | wc -l; }

call info '{}'
[ "$CODE" = 200 ] && echo "$OUT" | grep -q '"name":"inkan"' && ok "info" || not_ok "info: $CODE $OUT"
expect_rc 0 "TLS 1.1 is refused" -- bash -c "! curl -s --tls-max 1.1 --cacert $WORK/root.pem ${BASE}info"

# auth/login: HTTP Basic with the user's own PIN.
OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST -u erin:000000 "${BASE}auth/login")
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
expect_code 401 authentication_error "auth/login with a wrong PIN is refused"
OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST -u nobody:135790 "${BASE}auth/login")
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
expect_code 401 authentication_error "… an unknown user looks the same"
OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST "${BASE}auth/login")
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
expect_code 401 invalid_request "… no credentials at all"
OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST -u erin:135790 "${BASE}auth/login")
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
TOKEN=$(json access_token)
[ "$CODE" = 200 ] && [ ${#TOKEN} -ge 40 ] && ok "auth/login gives an access token" || not_ok "login: $CODE $OUT"
OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST -u frank:135790 "${BASE}auth/login")
FTOKEN=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"${OUT%$'\n'*}")

# credentials/list and info: the caller's credentials only.
call credentials/list '{}' nonsense-token
expect_code 401 invalid_token "a bad access token is refused"
call credentials/list '{}' "$TOKEN"
[ "$CODE" = 200 ] && echo "$OUT" | grep -q "$CRED" && echo "$OUT" | grep -q "$CRED2" \
  && ! echo "$OUT" | grep -q "$CREDF" && ok "credentials/list lists the caller's credentials, and only those" \
  || not_ok "list: $CODE $OUT"
call credentials/list '{"userID":"frank"}' "$TOKEN"
expect_code 400 invalid_request "credentials/list refuses a userID"
call credentials/info "{\"credentialID\":\"$CRED\",\"certificates\":\"chain\",\"certInfo\":true,\"authInfo\":true}" "$TOKEN"
[ "$CODE" = 200 ] && echo "$OUT" | grep -q '"SCAL":"1"' && echo "$OUT" | grep -q '"certificates":\["' \
  && ok "credentials/info gives the key, chain, SCAL and factors" || not_ok "info: $CODE $OUT"
call credentials/info "{\"credentialID\":\"$CREDF\"}" "$TOKEN"
expect_code 400 invalid_request "another user's credential is unknown to the caller"
call credentials/info "{\"credentialID\":\"nope\"}" "$TOKEN"
expect_code 400 invalid_request "an unknown credential"
call credentials/info '{"credentialID":' "$TOKEN"
expect_code 400 invalid_request "malformed JSON"
call credentials/info '{"credentialID":42}' "$TOKEN"
expect_code 400 invalid_request "a number where a string belongs"

# credentials/authorize (explicit: PIN + OTP) and signHash.
H1=$(printf 'doc one' | openssl dgst -sha256 -binary | base64)
H2=$(printf 'doc two' | openssl dgst -sha256 -binary | base64)
H3=$(printf 'doc three' | openssl dgst -sha256 -binary | base64)
SHA256=2.16.840.1.101.3.4.2.1
ECDSA=1.2.840.10045.4.3.2
authz() {  # authz TOKEN CRED PIN OTP HASHES...
  local token=$1 cred=$2 pin=$3 otp=$4; shift 4
  local hs n=$#
  hs=$(printf '"%s",' "$@"); hs=${hs%,}
  call credentials/authorize "{\"credentialID\":\"$cred\",\"numSignatures\":$n,\"hashes\":[$hs],\"hashAlgorithmOID\":\"$SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"$pin\"},{\"id\":\"OTP\",\"value\":\"$otp\"}]}" "$token"
}
sign() {  # sign TOKEN CRED SAD HASHES...
  local token=$1 cred=$2 sad=$3; shift 3
  local hs
  hs=$(printf '"%s",' "$@"); hs=${hs%,}
  call signatures/signHash "{\"credentialID\":\"$cred\",\"SAD\":\"$sad\",\"hashes\":[$hs],\"hashAlgorithmOID\":\"$SHA256\",\"signAlgo\":\"$ECDSA\"}" "$token"
}
BEFORE=$(count_log)
authz "$TOKEN" "$CRED2" 135790 "$(totp "$ERIN" -1)" "$H1"
expect_code 403 access_denied "a SCAL 2 credential is not authorized in explicit mode"
authz "$TOKEN" "$CRED" 000000 "$(totp "$ERIN" -1)" "$H1"
expect_code 400 invalid_pin "a wrong credential PIN"
authz "$TOKEN" "$CRED" 135790 000000 "$H1"
expect_code 400 invalid_otp "a wrong one-time code"
authz "$TOKEN" "$CRED" 135790 "$(totp "$ERIN" -1)" "$H1" "$H1"
expect_code 400 invalid_request "a hash given twice"
call credentials/authorize "{\"credentialID\":\"$CRED\",\"numSignatures\":\"two\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$SHA256\"}" "$TOKEN"
expect_code 400 invalid_request "numSignatures of the wrong type"
OTP0=$(totp "$ERIN" 0)
authz "$TOKEN" "$CRED" 135790 "$OTP0" "$H1" "$H2"
SAD=$(json SAD)
[ "$CODE" = 200 ] && [ ${#SAD} -ge 40 ] && ok "credentials/authorize with PIN + OTP gives a SAD for two hashes" \
  || not_ok "authorize: $CODE $OUT"
authz "$TOKEN" "$CRED" 135790 "$OTP0" "$H3"
expect_code 400 invalid_otp "a one-time code is accepted once (replay refused)"

sign "$TOKEN" "$CRED" "$SAD" "$H3"
expect_code 400 invalid_request "a hash not in the SAD is refused"
echo "$OUT" | grep -q "Hash is not authorized" && ok "… as not authorized by the SAD" || not_ok "$OUT"
sign "$TOKEN" "$CRED" "not-a-sad" "$H1"
expect_code 400 invalid_request "a wrong SAD is refused"
sign "$FTOKEN" "$CREDF" "$SAD" "$H1"
expect_code 400 invalid_request "the SAD does not serve another user's credential"
sign "$TOKEN" "$CRED2" "$SAD" "$H1"
expect_code 400 invalid_request "… nor another credential of the same user"
call signatures/signHash "{\"credentialID\":\"$CRED\",\"SAD\":\"$SAD\",\"hashes\":[\"$H1\"],\"hashAlgorithmOID\":\"$SHA256\",\"signAlgo\":\"1.2.840.113549.1.1.11\"}" "$TOKEN"
expect_code 400 invalid_request "an RSA signAlgo on an EC key is refused"
sign "$TOKEN" "$CRED" "$SAD" "$H1"
SIG=$(sed -n 's/.*"signatures":\["\([^"]*\)".*/\1/p' <<<"$OUT")
[ "$CODE" = 200 ] && [ -n "$SIG" ] && ok "signHash signs a hash of the SAD" || not_ok "signHash: $CODE $OUT"
"$INKAN" cert show --serial "$("$INKAN" audit show --count 1000000 | grep cert.issue | grep -o '"serial":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)" \
  | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/erin.pem"
openssl x509 -in "$WORK/erin.pem" -pubkey -noout > "$WORK/erin.pub"
echo "$SIG" | base64 -d > "$WORK/sig.der"
printf 'doc one' > "$WORK/doc1"
expect_rc 0 "openssl verifies the signature with the certified key" -- \
  openssl dgst -sha256 -verify "$WORK/erin.pub" -signature "$WORK/sig.der" "$WORK/doc1"
sign "$TOKEN" "$CRED" "$SAD" "$H1"
expect_code 400 invalid_request "a hash is signed once (reuse refused)"
sign "$TOKEN" "$CRED" "$SAD" "$H2"
[ "$CODE" = 200 ] && ok "the SAD's other hash signs" || not_ok "second: $CODE $OUT"
sign "$TOKEN" "$CRED" "$SAD" "$H2"
expect_code 400 invalid_request "a used-up SAD is refused"

# Locks: a credential locked by wrong PINs (here through the CLI, the same
# try budget), and the one-time-code factor locked by wrong codes. The code is
# checked first, so guessing PINs needs the authenticator.
for i in 1 2 3 4 5; do
  echo 999999 | "$INKAN" credential sign --id "$CREDG" --hash "$(printf '%064d' 0)" >/dev/null 2>&1
done
GTOKEN=$(curl -sS --cacert "$WORK/root.pem" -X POST -u gina:135790 "${BASE}auth/login" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
authz "$GTOKEN" "$CREDG" 135790 "$(totp "$GINA" 0)" "$H1"
expect_code 400 invalid_request "a locked credential is refused, even with the right PIN"
echo "$OUT" | grep -q "Credential locked" && ok "… as Credential locked" || not_ok "$OUT"
for i in 1 2 3 4 5; do authz "$GTOKEN" "$CREDG" 135790 000000 "$H1"; done
authz "$GTOKEN" "$CREDG" 135790 "$(totp "$GINA" 1)" "$H1"
expect_code 400 invalid_request "after five wrong codes the authenticator is locked, even for a right code"
echo "$OUT" | grep -q "OTP locked" && ok "… as OTP locked" || not_ok "$OUT"

# auth/revoke: the token stops working.
call auth/revoke "{\"token\":\"$TOKEN\"}" "$TOKEN"
[ "$CODE" = 204 ] && ok "auth/revoke" || not_ok "revoke: $CODE $OUT"
call credentials/list '{}' "$TOKEN"
[ "$CODE" = 401 ] && ok "… and the revoked token is refused" || not_ok "after revoke: $CODE $OUT"

# inkan sign: CAdES-B-B, verified by openssl cms.
echo "Kaigi no gijiroku, 2026-11-26" > "$WORK/minutes.txt"
echo "second document" > "$WORK/second.txt"
printf '135790\n135790\n%s\n' "$(totp "$FRANK" 0)" | "$INKAN" sign "$WORK/minutes.txt" "$WORK/second.txt" \
  --service "$BASE" --credential "$CREDF" --user frank --cacert "$WORK/root.pem" > "$WORK/sign.out" 2>&1
RC=$?
[ "$RC" = 0 ] && [ -s "$WORK/minutes.txt.p7s" ] && ok "inkan sign writes FILE.p7s" \
  || not_ok "inkan sign (rc $RC): $(cat "$WORK/sign.out")"
for f in minutes second; do
  expect_rc 0 "openssl cms -verify accepts $f.txt.p7s against inkan's CA" -- \
    openssl cms -verify -binary -inform DER -in "$WORK/$f.txt.p7s" -content "$WORK/$f.txt" \
      -CAfile "$WORK/root.pem" -purpose any -out /dev/null
done
OUT=$(openssl cms -cmsout -print -inform DER -in "$WORK/minutes.txt.p7s" 2>&1)
echo "$OUT" | grep -q "id-smime-aa-signingCertificateV2" && echo "$OUT" | grep -q "signingTime" \
  && ok "… with signing-certificate-v2 and signing time (CAdES-B-B)" || not_ok "attrs: $OUT"
echo "tampered" >> "$WORK/minutes.txt"
expect_rc 4 "a changed document no longer verifies" -- \
  openssl cms -verify -binary -inform DER -in "$WORK/minutes.txt.p7s" -content "$WORK/minutes.txt" \
    -CAfile "$WORK/root.pem" -purpose any -out /dev/null
printf '135790\n000000\n%s\n' "$(totp "$FRANK" 1)" | "$INKAN" sign "$WORK/second.txt" \
  --service "$BASE" --credential "$CREDF" --user frank --cacert "$WORK/root.pem" > "$WORK/sign2.out" 2>&1
RC=$?
[ "$RC" = 5 ] && grep -q "invalid_pin" "$WORK/sign2.out" && ok "inkan sign with a wrong PIN fails (exit 5)" \
  || not_ok "wrong pin sign (rc $RC): $(cat "$WORK/sign2.out")"
expect_rc 8 "inkan sign refuses a service whose certificate it does not trust" -- \
  "$INKAN" sign "$WORK/second.txt" --service "$BASE" --credential "$CREDF" --user frank --cacert /etc/ssl/certs/ca-certificates.crt

stop_serve
[ "$RC" = 0 ] && ok "inkan serve stops cleanly on SIGTERM" || not_ok "serve exit $RC: $(cat "$WORK/serve.err")"
OUT=$("$INKAN" audit show --count 1000000 2>&1)
for e in auth.login sad.issue signature auth.revoke factor.bad factor.lock key.unseal.failed credential.lock; do
  echo "$OUT" | grep -q "\"type\":\"$e\"" && ok "the log has $e events" || not_ok "no $e on the log"
done
expect_rc 0 "the log verifies after the run" -- "$INKAN" audit verify
finish
