#!/usr/bin/env bash
# The consent page (R4) in a real browser: OAuth 2.0 authorization code with
# PKCE for scope=credential, driven in Debian's headless Chromium through
# playwright-core. "Yes" with both factors yields a code, a credential token
# and a signature that verifies; "No" yields nothing; both are on the log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
BROWSER_DIR=$(cd "$(dirname "$0")/../browser" && pwd)
setup_ca "CN=inkan Consent Test CA,O=inkan,C=JP"
echo 135790 | "$INKAN" user add erin >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256)
"$INKAN" cert issue --credential "$CRED" "${SHARES[@]}" > "$WORK/erin.out"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$WORK/erin.out" > "$WORK/erin.pem"
openssl x509 -in "$WORK/erin.pem" -pubkey -noout > "$WORK/erin.pub"
ERIN=$(secret_hex "$(echo 135790 | "$INKAN" totp enroll --user erin)")
# A second signer, so each consent below has fresh one-time codes (a code is
# accepted once, and only for its step ±1).
echo 135790 | "$INKAN" user add frank >/dev/null
CREDF=$(echo 135790 | "$INKAN" credential create --user frank --alg ec-p256)
"$INKAN" cert issue --credential "$CREDF" "${SHARES[@]}" > "$WORK/frank.out"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$WORK/frank.out" | openssl x509 -pubkey -noout > "$WORK/frank.pub"
FRANK=$(secret_hex "$(echo 135790 | "$INKAN" totp enroll --user frank)")
REDIRECT=http://127.0.0.1:9/cb
expect_rc 0 "client add registers the application" -- \
  "$INKAN" client add signer-app --redirect-uri "$REDIRECT"
expect_rc 2 "a plain-http redirect off the loopback is refused" -- \
  "$INKAN" client add evil --redirect-uri http://example.com/cb
start_serve

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
printf 'Contract A: lease of room 301' > "$WORK/docA"
printf 'Contract B: <b>annex</b> & terms' > "$WORK/docB"
HA=$(openssl dgst -sha256 -binary "$WORK/docA" | b64url)
HB=$(openssl dgst -sha256 -binary "$WORK/docB" | b64url)
LA=$(printf '賃貸借契約書 301号室' | b64url)
LB=$(printf '<b>Annex</b> & terms' | b64url)
# authorize_url VERIFIER LANG [CREDENTIAL]: the consent link for both documents.
authorize_url() {
  local challenge
  challenge=$(printf '%s' "$1" | openssl dgst -sha256 -binary | b64url)
  echo "${BASE}oauth2/authorize?response_type=code&client_id=signer-app&redirect_uri=$(printf %s "$REDIRECT" | sed 's|:|%3A|g; s|/|%2F|g')&scope=credential&code_challenge=$challenge&code_challenge_method=S256&state=xyz&credentialID=${3:-$CRED}&numSignatures=2&hashes=$HA,$HB&hashAlgorithmOID=2.16.840.1.101.3.4.2.1&documentLabels=$LA,$LB&description=Quarterly%20contracts&lang=$2"
}
browse() { (cd "$BROWSER_DIR" && node consent.mjs "$@"); }
field() { node -e "const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(v === null ? '' : v)" "$1" "$2"; }

# ---- Yes (after one wrong PIN), in Japanese ----
V1=$(openssl rand -base64 48 | b64url)
# The wrong-PIN try spends the current step's code; the right one the next
# step's: both stay valid if the step turns over while the browser works.
OUT=$(browse "$(authorize_url "$V1" ja)" yes 135790 "$(totp "$ERIN" 1)" 999999 "$(totp "$ERIN" 0)" 2>&1)
TEXT=$(field "$OUT" text)
echo "$TEXT" | grep -q "署名の確認" && ok "the consent page is inkan's, in Japanese" || not_ok "page: $OUT"
echo "$TEXT" | grep -q "賃貸借契約書 301号室" && echo "$TEXT" | grep -q "<b>Annex</b> & terms" \
  && ok "… it shows each document's label (escaped, not rendered)" || not_ok "labels: $TEXT"
HEXA=$(openssl dgst -sha256 "$WORK/docA" | sed 's/.*= //' | cut -c1-8)
echo "$TEXT" | tr -d ' \n' | grep -qi "$HEXA" && ok "… and each document's hash" || not_ok "hash $HEXA not in: $TEXT"
echo "$TEXT" | grep -q "2 件" && ok "… and how many documents (the Yes button names them)" || not_ok "count: $TEXT"
echo "$TEXT" | grep -q "$CRED" && ok "… and which credential" || not_ok "credential: $TEXT"
CSP=$(field "$OUT" csp)
[[ "$CSP" == *"default-src 'none'"* && "$CSP" == *"script-src 'nonce-"* && "$CSP" == *"frame-ancestors 'none'"* ]] \
  && ok "the page has a strict Content-Security-Policy" || not_ok "csp: $CSP"
[ "$(field "$OUT" error_shown)" = true ] && ok "a wrong PIN keeps the page and says so" || not_ok "wrong pin: $OUT"
R=$(field "$OUT" redirect)
CODE=$(echo "$R" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
[[ -n "$CODE" && "$R" == *"state=xyz"* ]] && ok "Yes with both factors redirects with a code and the state" \
  || not_ok "redirect: $OUT"

token() {  # token CODE VERIFIER: the oauth2/token answer in OUT, status in HTTP
  OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$1" \
    --data-urlencode "code_verifier=$2" --data-urlencode client_id=signer-app \
    --data-urlencode "redirect_uri=$REDIRECT" "${BASE}oauth2/token")
  HTTP=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
}
token "$CODE" "$(openssl rand -base64 48 | b64url)"
[ "$HTTP" = 400 ] && echo "$OUT" | grep -q invalid_grant && ok "a wrong PKCE verifier gets invalid_grant" \
  || not_ok "verifier: $HTTP $OUT"
token "$CODE" "$V1"
TOKEN=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$OUT")
[ "$HTTP" = 200 ] && [ -n "$TOKEN" ] && ok "oauth2/token gives a credential token for code + verifier" \
  || not_ok "token: $HTTP $OUT"
token "$CODE" "$V1"
[ "$HTTP" = 400 ] && echo "$OUT" | grep -q invalid_grant && ok "a code works once" || not_ok "replay: $HTTP $OUT"

sign() {  # sign HASH_B64URL: signHash with the credential token, no SAD
  local h
  h=$(echo "$1" | tr '_-' '/+'); while [ $(( ${#h} % 4 )) -ne 0 ]; do h="$h="; done
  OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' "${BASE}signatures/signHash" \
    --data-binary "{\"credentialID\":\"${SIGNCRED:-$CRED}\",\"hashes\":[\"$h\"],\"hashAlgorithmOID\":\"2.16.840.1.101.3.4.2.1\",\"signAlgo\":\"1.2.840.10045.4.3.2\"}")
  HTTP=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
}
# The replayed code revoked the token issued from it (RFC 6749 §4.1.2).
sign "$HA"
[ "$HTTP" = 401 ] && ok "… and a replayed code revokes the token it gave" || not_ok "after replay: $HTTP $OUT"

# A second Yes (English) for a clean token, then the signature.
V2=$(openssl rand -base64 48 | b64url)
OUT=$(browse "$(authorize_url "$V2" en "$CREDF")" yes 135790 "$(totp "$FRANK" 0)" 2>&1)
SIGNCRED=$CREDF
field "$OUT" text | grep -q "Yes, sign these 2 documents" && ok "the page in English names the 2 documents" \
  || not_ok "english: $OUT"
CODE=$(field "$OUT" redirect | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
token "$CODE" "$V2"
TOKEN=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$OUT")
sign "$(openssl dgst -sha256 -binary "$WORK/docB" | b64url | sed 's/A/B/')"
[ "$HTTP" = 400 ] && echo "$OUT" | grep -q "Hash is not authorized" && ok "the token signs no other hash" \
  || not_ok "other hash: $HTTP $OUT"
sign "$HA"
SIG=$(sed -n 's/.*"signatures":\["\([^"]*\)".*/\1/p' <<<"$OUT")
echo "$SIG" | base64 -d > "$WORK/sigA.der"
[ "$HTTP" = 200 ] && ok "signHash with the credential token signs a consented document" || not_ok "sign: $HTTP $OUT"
expect_rc 0 "… and the signature verifies with the certified key" -- \
  openssl dgst -sha256 -verify "$WORK/frank.pub" -signature "$WORK/sigA.der" "$WORK/docA"
sign "$HA"
[ "$HTTP" = 400 ] && ok "… once" || not_ok "again: $HTTP $OUT"
OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST --data-urlencode "token=$TOKEN" \
  --data-urlencode client_id=signer-app "${BASE}oauth2/revoke")
[ "${OUT##*$'\n'}" = 200 ] && ok "oauth2/revoke" || not_ok "oauth2/revoke: $OUT"
sign "$(openssl dgst -sha256 -binary "$WORK/docB" | b64url)"
[ "$HTTP" = 401 ] && ok "… and the revoked credential token no longer signs" || not_ok "after revoke: $HTTP $OUT"

# ---- No ----
V3=$(openssl rand -base64 48 | b64url)
OUT=$(browse "$(authorize_url "$V3" en)" no 2>&1)
R=$(field "$OUT" redirect)
[[ "$R" == *"error=access_denied"* && "$R" != *"code="* ]] && ok "No redirects with access_denied and no code" \
  || not_ok "no: $OUT"

# A forged answer (no page, no cookie) is refused.
OUT=$(curl -sS --cacert "$WORK/root.pem" -w '\n%{http_code}' -X POST --data 'consent=00&csrf=x&decision=yes' \
  "${BASE}oauth2/authorize")
[ "${OUT##*$'\n'}" = 400 ] || [ "${OUT##*$'\n'}" = 403 ] && ok "a forged answer is refused" || not_ok "forged: $OUT"
# An unregistered redirect URI gets an error page, not a redirect.
OUT=$(curl -sS --cacert "$WORK/root.pem" -o /dev/null -w '%{http_code}' \
  "${BASE}oauth2/authorize?response_type=code&client_id=signer-app&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=service&code_challenge=$(printf x | openssl dgst -sha256 -binary | b64url)&code_challenge_method=S256")
[ "$OUT" = 400 ] && ok "an unregistered redirect_uri gets an error page" || not_ok "redirect check: $OUT"

stop_serve
[ "$RC" = 0 ] && ok "inkan serve stops cleanly" || not_ok "serve exit $RC: $(cat "$WORK/serve.err")"
OUT=$("$INKAN" audit show --count 1000000 2>&1)
for e in consent.yes consent.declined oauth2.token oauth2.code.replay signature key.unseal.failed; do
  echo "$OUT" | grep -q "\"type\":\"$e\"" && ok "the log has $e" || not_ok "no $e on the log"
done
expect_rc 0 "the log verifies" -- "$INKAN" audit verify
finish
