#!/usr/bin/env bash
# Enrollment by one-time URL (R9, R10, R11), against a real `inkan serve`:
# codes issued only under the two-person rule and stored only as an HMAC
# under an HSM key; path A (key made in the HSM) and path C (PKCS#12
# delivered once, every copy erased) walked in headless Chromium; path B (a
# key made by the user, sent wrapped for the HSM's certified transport key)
# with `inkan enroll keygen`; receipt before the certificate; bad codes,
# reuse and guessing refused, throttled and logged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
BROWSER_DIR=$(cd "$(dirname "$0")/../browser" && pwd)
setup_ca "CN=inkan Enrollment Test CA,O=inkan,C=JP"
start_serve
ORIGIN=${BASE%/csc/v2/}
"$INKAN" ca activate --share "$WORK/alice.share" --for 1h >/dev/null
"$INKAN" ca activate --share "$WORK/bob.share" >/dev/null
export SOFTHSM2_CONF=$D/hsm/softhsm2.conf

# issue_code USER [SCAL]: proposed by alice, approved by bob, released; the
# one-time URL in URL, the code in CODE.
issue_code() {
  local id
  id=$("$INKAN" enroll issue --user "$1" --scal "${2:-2}" --operator alice --key "$K/alice.key" | req)
  "$INKAN" ceremony approve --id "$id" --operator bob --key "$K/bob.key" >/dev/null
  URL=$("$INKAN" enroll release --id "$id" --base-url "$ORIGIN" | grep '/enroll#')
  CODE=${URL#*#}
}
redeem() {  # redeem CODE: the HTTP status of a redemption through the API
  curl -s -o "$WORK/redeem.json" -w '%{http_code}' --cacert "$WORK/root.pem" \
    -H 'Content-Type: application/json' -d "{\"code\":\"$1\"}" "$ORIGIN/enroll/api/redeem"
}

# ---- Issue: the two-person rule ----
ID=$("$INKAN" enroll issue --user erin --scal 1 --operator alice --key "$K/alice.key" | req)
[[ "$ID" =~ ^[0-9a-f]{64}$ ]] && ok "enroll issue proposes enroll.issue" || not_ok "propose: $ID"
expect_rc 7 "no code without a second operator's approval" -- \
  "$INKAN" enroll release --id "$ID" --base-url "$ORIGIN"
expect_out "approv|quorum" "… and says why"
expect_rc 0 "bob approves" -- "$INKAN" ceremony approve --id "$ID" --operator bob --key "$K/bob.key"
expect_rc 0 "with two operators, the code is released" -- \
  "$INKAN" enroll release --id "$ID" --base-url "$ORIGIN" --operator bob
URL_A=$(echo "$OUT" | grep '/enroll#')
CODE_A=${URL_A#*#}
[[ "$URL_A" =~ ^https://127\.0\.0\.1:[0-9]+/enroll#[a-z2-7]{16}\.[a-z2-7]{32}$ ]] \
  && ok "the one-time URL carries the code (80-bit id + 160-bit secret) in its fragment" \
  || not_ok "url: $URL_A"
expect_rc 7 "the code is handed out once (a second release is refused)" -- \
  "$INKAN" enroll release --id "$ID" --base-url "$ORIGIN"
echo 135790 | "$INKAN" user add dora >/dev/null
expect_rc 4 "a code for an existing user is refused" -- \
  "$INKAN" enroll issue --user dora --operator alice --key "$K/alice.key"

# The store holds no code in any recoverable form: neither the secret nor
# the whole code, in any case, anywhere in the data directory.
SECRET=${CODE_A#*.}
SECRET_UP=$(echo "$SECRET" | tr a-z A-Z)
SECRET_HEX=$(b=$SECRET_UP; while [ $(( ${#b} % 8 )) -ne 0 ]; do b="$b="; done; echo "$b" | base32 -d | xxd -p | tr -d '\n')
HITS=$(grep -rlaF -e "$SECRET" -e "$SECRET_UP" "$D" 2>/dev/null; sqlite3 "$D/inkan.db" .dump | grep -ciF "$SECRET_HEX")
[ "$HITS" = 0 ] && ok "the code's secret is nowhere in the data directory or the database (text or hex)" \
  || not_ok "secret found: $HITS"
MAC=$(sqlite3 "$D/inkan.db" "SELECT value FROM meta WHERE key='enroll.${CODE_A%%.*}'")
echo "$MAC" | grep -qE '"mac":"[0-9a-f]{64}"' && echo "$MAC" | grep -q '"state":"issued"' \
  && ok "… only an HMAC-SHA256 (under the HSM's pepper) and the state are stored" || not_ok "record: $MAC"

# ---- Path A in the browser: key made in the HSM ----
mkdir -p "$WORK/a"
OUT=$(cd "$BROWSER_DIR" && node enroll.mjs "$URL_A" hsm 246810 "$WORK/a" "" en 2>&1)
field() { node -e "const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(Array.isArray(v) ? v.join(',') : v)" "$1" "$2"; }
STEPS=$(field "$OUT" steps)
[ "$STEPS" = "pin,factor,totp-confirm,key,receipt,done" ] \
  && ok "path A walks PIN, TOTP, key, receipt, done in the browser" || not_ok "steps: $OUT"
[ "$(field "$OUT" landing_url)" = "$ORIGIN/enroll" ] && [ "$(field "$OUT" code_filled)" = true ] \
  && ok "… the landing page takes the code off the address bar into its form, and waits for Start" \
  || not_ok "landing: $OUT"
[ "$(field "$OUT" url_after_redeem)" = "$ORIGIN/enroll/step" ] \
  && ok "… the code never travels in a URL" || not_ok "url: $OUT"
CSP=$(field "$OUT" csp)
[[ "$CSP" == *"default-src 'none'"* && "$CSP" == *"script-src 'nonce-"* && "$CSP" == *"frame-ancestors 'none'"* ]] \
  && ok "… the pages carry a strict CSP" || not_ok "csp: $CSP"
[ "$(field "$OUT" qr)" = true ] && ok "… the TOTP step shows a QR code" || not_ok "qr: $OUT"
SHOWN=$(field "$OUT" secret_shown | tr -d ' ')
[ -n "$SHOWN" ] && field "$OUT" otpauth | grep -q "secret=$SHOWN&" \
  && ok "… and the secret alone, grouped for typing by hand" || not_ok "secret shown: $SHOWN"
CRED_A=$(field "$OUT" credential)
ERIN=$(secret_hex "$(field "$OUT" otpauth)")
expect_rc 0 "path A ends with a certificate openssl verify accepts" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/a/cert.pem"
openssl x509 -in "$WORK/a/cert.pem" -noout -text | grep -q "1.3.6.1.4.1.99999.1.1" \
  && ok "… with the key-in-the-HSM policy" || not_ok "policy A"
echo "Enrolled and signing, 2026-11-26" > "$WORK/doc.txt"
printf '246810\n246810\n%s\n' "$(totp "$ERIN" 1)" | "$INKAN" sign "$WORK/doc.txt" \
  --service "$BASE" --credential "$CRED_A" --user erin --cacert "$WORK/root.pem" > "$WORK/sign.out" 2>&1
expect_rc 0 "… and signs through the service (openssl cms -verify)" -- \
  openssl cms -verify -binary -inform DER -in "$WORK/doc.txt.p7s" -content "$WORK/doc.txt" \
    -CAfile "$WORK/root.pem" -purpose any -out /dev/null
STATE=$(sqlite3 "$D/inkan.db" "SELECT value FROM meta WHERE key='enroll.${CODE_A%%.*}'")
echo "$STATE" | grep -q '"state":"completed"' && ok "the code is spent and the enrollment completed" \
  || not_ok "state: $STATE"

# ---- Path C in the browser: PKCS#12 delivered once, every copy erased ----
issue_code frank 1
mkdir -p "$WORK/c"
BOUT=$(cd "$BROWSER_DIR" && node enroll.mjs "$URL" deliver 246810 "$WORK/c" "correct horse battery" ja 2>&1)
STEPS=$(field "$BOUT" steps)
[ "$STEPS" = "pin,factor,totp-confirm,key,download,receipt,done" ] \
  && ok "path C walks PIN, TOTP, key, download, receipt, done (Japanese pages)" || not_ok "steps: $BOUT"
echo "$BOUT" | grep -q "暗証番号" && ok "… in Japanese" || not_ok "ja: $BOUT"
CRED_C=$(field "$BOUT" credential)
expect_rc 0 "the PKCS#12 opens with openssl pkcs12 under the user's password" -- \
  openssl pkcs12 -in "$WORK/c/key.p12" -passin "pass:correct horse battery" -nodes -nocerts -out "$WORK/c/key.pem"
expect_rc 1 "… and not under another" -- \
  openssl pkcs12 -in "$WORK/c/key.p12" -passin "pass:wrong password!" -nodes -nocerts -out /dev/null
expect_rc 0 "path C ends with a certificate openssl verify accepts" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/c/cert.pem"
[ "$(openssl pkey -in "$WORK/c/key.pem" -pubout)" = "$(openssl x509 -in "$WORK/c/cert.pem" -pubkey -noout)" ] \
  && ok "… for the delivered key" || not_ok "the certificate is not for the delivered key"
openssl x509 -in "$WORK/c/cert.pem" -noout -text | grep -q "1.3.6.1.4.1.99999.1.3" \
  && ! openssl x509 -in "$WORK/c/cert.pem" -noout -text | grep -q "1.3.6.1.4.1.99999.1.1" \
  && ok "… whose policy says the key is held by its owner, not in the HSM" \
  || not_ok "policy: $(openssl x509 -in "$WORK/c/cert.pem" -noout -text | grep -A2 Policies)"
# No copy of the key remains: not on the token, not in the data directory.
KEY_HEX=$(openssl pkey -in "$WORK/c/key.pem" -outform DER | xxd -p | tr -d '\n')
SCALAR=$(openssl pkey -in "$WORK/c/key.pem" -text -noout | sed -n '/^priv:/,/^pub:/p' | grep -v '^priv:\|^pub:' | tr -d ' :\n')
[ ${#SCALAR} -ge 62 ] && ok "(the private scalar was read from the file: ${#SCALAR} hex digits)" || not_ok "scalar: $SCALAR"
FOUND=0
while IFS= read -r -d '' f; do
  HEX=$(xxd -p "$f" | tr -d '\n')
  if [[ "$HEX" == *"$KEY_HEX"* || "$HEX" == *"$SCALAR"* ]]; then FOUND=$((FOUND + 1)); echo "  key in $f"; fi
done < <(find "$D" -type f -print0)
[ "$FOUND" = 0 ] && ok "no copy of the delivered key in any file of the data directory (scanned for PKCS#8 and scalar)" \
  || not_ok "key found in $FOUND files"
OBJ=$(pkcs11-tool --module "$SOFTHSM_LIB" --token-label inkan --login --pin "$(cat "$D/hsm/user.pin")" --list-objects 2>/dev/null)
[ "$(echo "$OBJ" | grep -A1 '^Private Key Object' | grep 'label:' | grep -cvE 'inkan-audit|inkan-enroll-transport')" = 0 ] \
  && echo "$OBJ" | grep -q '^Private Key Object' \
  && ok "pkcs11-tool: no user key on the token (only the system keys)" || not_ok "objects: $OBJ"
FRANK=$(secret_hex "$(field "$BOUT" otpauth)")
printf '246810\n246810\n%s\n' "$(totp "$FRANK" 1)" | "$INKAN" sign "$WORK/doc.txt" \
  --service "$BASE" --credential "$CRED_C" --user frank --cacert "$WORK/root.pem" > "$WORK/signc.out" 2>&1
RC=$?
[ "$RC" != 0 ] && grep -q "held by its user" "$WORK/signc.out" \
  && ok "inkan cannot sign with the user-held credential" || not_ok "user-held sign rc $RC: $(cat "$WORK/signc.out")"
[ "$(field "$BOUT" second_download_status)" = 409 ] \
  && ok "the key file is handed out once (the same session asking again gets 409)" \
  || not_ok "second download: $(field "$BOUT" second_download_status)"

# ---- Path B with inkan enroll keygen: a user-made key, sent wrapped ----
issue_code gina 1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/gina.key" 2>/dev/null
cp "$WORK/gina.key" "$WORK/gina.copy"   # what the test keeps to look for
# A CA file whose first certificate is another CA: TLS still verifies (the
# bundle holds inkan's root too) but the transport key does not.
openssl req -new -x509 -key "$K/alice.key" -subj /CN=other -days 1 -out "$WORK/other-ca.pem" 2>/dev/null
cat "$WORK/other-ca.pem" "$WORK/root.pem" > "$WORK/mixed.pem"
echo "$URL" > "$WORK/url.txt"
expect_rc 6 "keygen refuses a transport key not certified by the CA it was given" -- \
  sh -c '"$0" enroll keygen --url "$1" --cacert "$2" --key "$3" --yes < "$4"' \
  "$INKAN" "$ORIGIN" "$WORK/mixed.pem" "$WORK/gina.key" "$WORK/url.txt"
expect_out "not certified by the CA you gave" "… and says so"
STATE=$(sqlite3 "$D/inkan.db" "SELECT value FROM meta WHERE key='enroll.${CODE%%.*}'")
[ -f "$WORK/gina.key" ] && echo "$STATE" | grep -q '"state":"issued"' \
  && ok "… before redeeming anything; the key file stays" || not_ok "keygen with another CA: $STATE"
# keygen asks for the one-time URL (kept off its command line) and the PIN
# (once when not on a terminal), prints the authenticator's URI, then asks
# for its first code: answered through two pipes, line by line.
mkfifo "$WORK/kin" "$WORK/kpipe"
"$INKAN" enroll keygen --url "$ORIGIN" --cacert "$WORK/root.pem" --key "$WORK/gina.key" --yes \
  --trace "$WORK/wire.log" < "$WORK/kin" > "$WORK/kpipe" 2>&1 &
KPID=$!
exec 4> "$WORK/kin" 5< "$WORK/kpipe"
printf '%s\n246810\n' "$URL" >&4
: > "$WORK/kout"
while IFS= read -r LINE <&5; do
  echo "$LINE" >> "$WORK/kout"
  [[ "$LINE" == otpauth://* ]] && break
done
GINA=$(secret_hex "$(grep '^otpauth://' "$WORK/kout")")
printf '%s\n' "$(totp "$GINA" 0)" >&4
exec 4>&-
cat <&5 >> "$WORK/kout"
exec 5<&-
wait "$KPID"
RC=$?
[ "$RC" = 0 ] && ok "inkan enroll keygen: redeem, PIN, TOTP, wrapped upload, receipt" || not_ok "keygen rc $RC: $(cat "$WORK/kout")"
CRED_B=$(sed -n 's/^credential //p' "$WORK/kout" | tail -1)
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$WORK/kout" > "$WORK/gina.pem"
expect_rc 0 "path B ends with a certificate openssl verify accepts" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/gina.pem"
[ "$(openssl pkey -in "$WORK/gina.copy" -pubout)" = "$(openssl x509 -in "$WORK/gina.pem" -pubkey -noout)" ] \
  && ok "… for the user's own key" || not_ok "the certificate is not for the user's key"
[ ! -e "$WORK/gina.key" ] && ok "… and the local key file is erased" || not_ok "key file left"
# What crossed the wire: the upload holds the wrapped key and the public key,
# never the private key in any encoding.
KEY_HEX=$(openssl pkey -in "$WORK/gina.copy" -outform DER | xxd -p | tr -d '\n')
SCALAR=$(openssl pkey -in "$WORK/gina.copy" -text -noout | sed -n '/^priv:/,/^pub:/p' | grep -v '^priv:\|^pub:' | tr -d ' :\n')
KEY_B64=$(openssl pkey -in "$WORK/gina.copy" -outform DER | base64 -w0)
grep -q '"wrapped_key"' "$WORK/wire.log" && ok "the upload was captured (--trace)" || not_ok "trace: $(cat "$WORK/wire.log")"
WIRE_HEX=$(xxd -p "$WORK/wire.log" | tr -d '\n')
UPLOAD=$(grep '/enroll/api/key ' "$WORK/wire.log" | sed 's/^[^{]*//')
WRAPPED_HEX=$(node -e "console.log(Buffer.from(JSON.parse(process.argv[1]).wrapped_key,'base64').toString('hex'))" "$UPLOAD")
if [[ "$WIRE_HEX" == *"$KEY_HEX"* || "$WRAPPED_HEX" == *"$KEY_HEX"* || "$WRAPPED_HEX" == *"$SCALAR"* ]] \
   || grep -qF -e "${KEY_B64:0:40}" -e "PRIVATE KEY" "$WORK/wire.log"; then
  not_ok "the private key is on the wire"
else
  ok "no plaintext key on the wire (PKCS#8, scalar, base64, PEM all absent; ${#WRAPPED_HEX} hex digits wrapped)"
fi
grep -q '246810\|"code":"[a-z2-7]' "$WORK/wire.log" && not_ok "a secret is in the trace" \
  || ok "the trace redacts the code and the PIN"
curl -s --cacert "$WORK/root.pem" -d '{}' "$ORIGIN/enroll/api/transport" \
  | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>process.stdout.write(Buffer.from(JSON.parse(s).certificate,'base64')))" \
  | openssl x509 -inform DER -out "$WORK/transport.pem"
expect_rc 0 "the transport key's certificate verifies against inkan's CA" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/transport.pem"
OUT=$(openssl x509 -in "$WORK/transport.pem" -noout -text)
echo "$OUT" | grep -q "Key Encipherment" && echo "$OUT" | grep -q "3072 bit" \
  && ok "… RSA-3072, for key encipherment" || not_ok "transport cert: $OUT"
printf '246810\n246810\n%s\n' "$(totp "$GINA" 1)" | "$INKAN" sign "$WORK/doc.txt" \
  --service "$BASE" --credential "$CRED_B" --user gina --cacert "$WORK/root.pem" > "$WORK/signb.out" 2>&1
expect_rc 0 "path B signs through the service (openssl cms -verify)" -- \
  openssl cms -verify -binary -inform DER -in "$WORK/doc.txt.p7s" -content "$WORK/doc.txt" \
    -CAfile "$WORK/root.pem" -purpose any -out /dev/null

# ---- Through the JSON API alone: a card as the second factor, path A ----
issue_code jiro 1
api() {  # api CALL BODY: the HTTP status; the answer in $WORK/api.json
  curl -s -o "$WORK/api.json" -w '%{http_code}' --cacert "$WORK/root.pem" -H "Authorization: Bearer $SESSION" \
    -H 'Content-Type: application/json' -d "$2" "$ORIGIN/enroll/api/$1"
}
jget() { node -e "const o=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')); console.log(o[process.argv[2]] ?? '')" "$WORK/api.json" "$1"; }
[ "$(redeem "$CODE")" = 200 ] && ok "the API redeems a code" || not_ok "api redeem: $(cat "$WORK/redeem.json")"
SESSION=$(node -e "console.log(JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')).session)" "$WORK/redeem.json")
[ "$(api receipt '{}')" = 409 ] && jget error_description | grep -q "at step 'pin'" \
  && ok "a step out of order is refused, naming the step (409)" || not_ok "order: $(cat "$WORK/api.json")"
[ "$(api pin '{"pin":"246810"}')" = 200 ] && [ "$(jget step)" = factor ] && ok "… PIN set" || not_ok "pin: $(cat "$WORK/api.json")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/card.key" \
  -subj "/CN=JIRO CARD" -days 30 -outform DER -out "$WORK/card.der" 2>/dev/null
[ "$(api card '{"certificate":"bm90IGEgY2VydA=="}')" = 400 ] && ok "a card certificate that does not parse is refused" \
  || not_ok "bad card: $(cat "$WORK/api.json")"
[ "$(api card "{\"certificate\":\"$(base64 -w0 "$WORK/card.der")\"}")" = 200 ] && [ "$(jget step)" = key ] \
  && ok "… a card's authentication certificate registered as the second factor" || not_ok "card: $(cat "$WORK/api.json")"
# gina's captured upload, replayed into this session: her key must not become
# jiro's (the proof is bound to her session).
[ "$(api key "$UPLOAD")" = 400 ] && jget error_description | grep -q "proof does not verify" \
  && ok "a captured path-B upload replayed into another enrollment is refused" \
  || not_ok "replay: $(cat "$WORK/api.json")"
[ "$(api key '{"path":"deliver","algorithm":"ec-p256"}')" = 400 ] && ok "… delivery is not offered through the API" \
  || not_ok "deliver via api: $(cat "$WORK/api.json")"
[ "$(api key '{"path":"hsm","algorithm":"ec-p384"}')" = 200 ] && [ "$(jget step)" = receipt ] \
  && ok "… key made in the HSM (P-384)" || not_ok "key: $(cat "$WORK/api.json")"
CRED_J=$(jget credential)
expect_rc 7 "no certificate before the user's receipt, not even by an operator" -- \
  "$INKAN" cert issue --credential "$CRED_J"
expect_out "waits for its owner's receipt" "… and it says so"
[ "$(api receipt '{}')" = 200 ] && [ "$(jget step)" = done ] && ok "… receipt confirmed" || not_ok "receipt: $(cat "$WORK/api.json")"
jget certificate | base64 -d | openssl x509 -inform DER -out "$WORK/jiro.pem" 2>/dev/null
expect_rc 0 "… and its certificate verifies" -- openssl verify -CAfile "$WORK/root.pem" "$WORK/jiro.pem"
[ "$(api status '{}')" = 200 ] && [ "$(jget step)" = done ] && ok "the session still answers status" || not_ok "status"
SESSION=not-a-session
[ "$(api status '{}')" = 404 ] && ok "an unknown session is refused (404)" || not_ok "bad session: $(cat "$WORK/api.json")"

# ---- The pages' session cookie and CSRF token ----
issue_code kenji 1
curl -s -D "$WORK/h" -o /dev/null -c "$WORK/jar" --cacert "$WORK/root.pem" \
  --data-urlencode "code=$CODE" "$ORIGIN/enroll/redeem"
COOKIE=$(grep -i '^set-cookie:' "$WORK/h")
[[ "$COOKIE" == *"__Host-inkan_enroll="* && "$COOKIE" == *"HttpOnly"* && "$COOKIE" == *"Secure"* \
   && "$COOKIE" == *"SameSite=Strict"* && "$COOKIE" == *"Path=/"* ]] \
  && ok "the session cookie is __Host-, HttpOnly, Secure, SameSite=Strict" || not_ok "cookie: $COOKIE"
STATUS=$(curl -s -o "$WORK/page" -w '%{http_code}' -b "$WORK/jar" --cacert "$WORK/root.pem" \
  --data-urlencode "csrf=forged" --data-urlencode action=pin --data-urlencode pin=246810 \
  --data-urlencode pin2=246810 "$ORIGIN/enroll/step")
[ "$STATUS" = 403 ] && ok "a form without the session's CSRF token is refused (403)" || not_ok "csrf: $STATUS"
STATUS=$(curl -s -o "$WORK/page" -w '%{http_code}' -b "$WORK/jar" --cacert "$WORK/root.pem" "$ORIGIN/enroll/step")
[ "$STATUS" = 200 ] && grep -q 'id="step">pin<' "$WORK/page" && ok "… and changed nothing (still at the PIN step)" \
  || not_ok "after forged form: $STATUS"

# ---- Bad codes: each refused, changing nothing, and logged ----
issue_code hana
ID_H=${CODE%%.*}
[ "$(redeem "$CODE_A")" = 409 ] && ok "a used code does not work a second time (409)" || not_ok "reuse: $(cat "$WORK/redeem.json")"
[ "$(redeem "not-a-code")" = 400 ] && ok "a malformed code is refused (400)" || not_ok "malformed"
[ "$(redeem "aaaaaaaaaaaaaaaa.${CODE#*.}")" = 404 ] && ok "an unknown code is refused (404)" || not_ok "unknown"
WRONG="$ID_H.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
for i in 1 2 3 4; do redeem "$WRONG" >/dev/null; done
[ "$(redeem "$WRONG")" = 401 ] && ok "a wrong secret is refused (401)" || not_ok "wrong: $(cat "$WORK/redeem.json")"
[ "$(redeem "$CODE")" = 409 ] && ok "five wrong secrets burn the code: the right one no longer works" \
  || not_ok "burn: $(cat "$WORK/redeem.json")"
grep -q "already used or withdrawn" "$WORK/redeem.json" && ok "… with a clear message" || not_ok "msg: $(cat "$WORK/redeem.json")"
[ "$(redeem "$CODE")" = 409 ] && ok "… and stays burnt" || not_ok "burnt again"
# Ten failures from one address throttle it, even for a good code.
issue_code ivy
[ "$(redeem "$CODE")" = 429 ] && ok "repeated guesses from one address are throttled (429)" \
  || not_ok "throttle: $(cat "$WORK/redeem.json")"
STATE=$(sqlite3 "$D/inkan.db" "SELECT value FROM meta WHERE key='enroll.${CODE%%.*}'")
echo "$STATE" | grep -q '"state":"issued"' && ok "… and the throttled code is still unused" || not_ok "state: $STATE"

stop_serve
"$INKAN" audit show --count 1000000 > "$WORK/log"
for t in enroll.code_issued enroll.code_released enroll.path enroll.key_import enroll.key_delivered \
         enroll.key_erased enroll.receipt enroll.complete enroll.factor key.import key.deliver cert.issue.transport; do
  grep -q "\"type\":\"$t\"" "$WORK/log" && ok "the log has $t" || not_ok "no $t on the log"
done
grep '"type":"enroll.code_released"' "$WORK/log" | head -1 | grep -q '"to":"cli:bob"' \
  && ok "the delivery marker names who took the code" || not_ok "code_released: $(grep code_released "$WORK/log" | head -1)"
for r in ok not-usable:completed not-usable:burnt malformed unknown wrong-secret wrong-secret:burnt throttled; do
  grep -q "\"type\":\"enroll.redeem\".*\"result\":\"$r\"\|\"result\":\"$r\".*\"type\":\"enroll.redeem\"" "$WORK/log" \
    && ok "the log has a redemption: $r" || not_ok "no redemption $r on the log"
done
grep -q '"type":"ceremony.execute.refused' "$WORK/log" && ok "the release without approval is on the log" || not_ok "no refusal logged"
if grep -qiF -e "$SECRET" -e "246810" "$WORK/log"; then not_ok "a secret is on the log"; else ok "no code or PIN on the log"; fi
expect_rc 0 "inkan audit verify passes after enrollment" -- "$INKAN" audit verify
finish
