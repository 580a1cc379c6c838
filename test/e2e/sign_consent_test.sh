#!/usr/bin/env bash
# `inkan sign` with a SCAL 2 credential: the consent page flow end to end.
# inkan sign prints the oauth2/authorize link (PKCE S256, state, the
# documents' hashes and labels) and waits on its loopback redirect URI
# (RFC 8252); headless Chromium answers the page and is redirected to that
# real listener. Yes gives CAdES signatures that openssl cms verifies; No, a
# forged answer (wrong state) and silence sign nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
BROWSER_DIR=$(cd "$(dirname "$0")/../browser" && pwd)
setup_ca "CN=inkan Sign Consent Test CA,O=inkan,C=JP"
echo 135790 | "$INKAN" user add erin >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256)
"$INKAN" cert issue --credential "$CRED" "${SHARES[@]}" >/dev/null
ERIN=$(secret_hex "$(echo 135790 | "$INKAN" totp enroll --user erin)")

# A free loopback port below the ephemeral range for the client's exact
# redirect URI (nothing answers a connection to it).
PORT=
for p in $(shuf -i 20000-32000 -n 50); do
  if ! (exec 5<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] && ok "a free loopback port for the redirect ($PORT)" || not_ok "no free port"
expect_rc 0 "client add registers inkan sign's loopback redirect URI" -- \
  "$INKAN" client add signer --redirect-uri "http://127.0.0.1:$PORT/cb"
start_serve

printf 'Contract A: lease of room 301' > "$WORK/契約A.txt"
printf 'Contract B: annex' > "$WORK/docB.txt"
printf 'Contract C' > "$WORK/docC.txt"
printf 'Contract D' > "$WORK/docD.txt"
printf 'Contract E' > "$WORK/docE.txt"
browse() { (cd "$BROWSER_DIR" && node open_consent.mjs "$@"); }
field() { node -e "const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(v === null ? '' : v)" "$1" "$2"; }
# sign_bg N FILE... [-- OPTIONS]: inkan sign in the background (the user's
# PIN on stdin), output in $WORK/signN.{out,err}, its process in SPID.
sign_bg() {
  local n=$1; shift
  local files=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do files+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  echo 135790 | "$INKAN" sign "${files[@]}" --service "$BASE" --credential "$CRED" --user erin \
    --cacert "$WORK/root.pem" --client-id signer --redirect-port "$PORT" "$@" \
    > "$WORK/sign$n.out" 2> "$WORK/sign$n.err" &
  SPID=$!
}
# wait_url N: the link inkan sign printed, in URL (waits up to 30 s).
wait_url() {
  URL=
  for _ in $(seq 1 300); do
    URL=$(sed -n 's/^Open this URL to confirm: //p' "$WORK/sign$1.err")
    [ -n "$URL" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# ---- SCAL 2 without a client: a clear usage error ----
OUT=$(echo 135790 | "$INKAN" sign "$WORK/docB.txt" --service "$BASE" --credential "$CRED" --user erin \
  --cacert "$WORK/root.pem" 2>&1)
RC=$?
[ "$RC" = 2 ] && echo "$OUT" | grep -q -- "--client-id is required" \
  && ok "a SCAL 2 credential without --client-id is a usage error naming it" || not_ok "no client (rc $RC): $OUT"

# ---- Yes ----
sign_bg 1 "$WORK/契約A.txt" "$WORK/docB.txt" -- --lang en
wait_url 1 && ok "inkan sign prints the consent link on stderr" || not_ok "no link: $(cat "$WORK/sign1.err")"
for want in "${BASE}oauth2/authorize?response_type=code" "client_id=signer" \
    "redirect_uri=http%3A%2F%2F127.0.0.1%3A$PORT%2Fcb" "scope=credential" "code_challenge_method=S256" \
    "credentialID=$CRED" "numSignatures=2" "hashAlgorithmOID=2.16.840.1.101.3.4.2.1" \
    "documentLabels=$(printf '契約A.txt' | b64url)%2C$(printf 'docB.txt' | b64url)" \
    "description=inkan%20sign%3A%202%20documents" "lang=en"; do
  [[ "$URL" == *"$want"* ]] || not_ok "the link lacks $want: $URL"
done
STATE=$(sed -n 's/.*[?&]state=\([^&]*\).*/\1/p' <<<"$URL")
CHALLENGE=$(sed -n 's/.*[?&]code_challenge=\([^&]*\).*/\1/p' <<<"$URL")
[ ${#STATE} -ge 22 ] && [ ${#CHALLENGE} = 43 ] && ok "… with a random state and an S256 PKCE challenge" \
  || not_ok "state/challenge: $URL"
OUT=$(browse "$URL" yes 135790 "$(totp "$ERIN" 0)" 2>&1)
PAGE=$(field "$OUT" page)
echo "$PAGE" | grep -q "契約A.txt" && echo "$PAGE" | grep -q "docB.txt" && echo "$PAGE" | grep -q "Yes, sign these 2 documents" \
  && ok "the consent page names both documents" || not_ok "page: $OUT"
[[ "$(field "$OUT" landed)" == "http://127.0.0.1:$PORT/cb?"*"code="* ]] && [ "$(field "$OUT" status)" = 200 ] \
  && field "$OUT" text | grep -q "close this window" \
  && ok "Yes lands on inkan sign's loopback listener, which tells the signer to close the window" \
  || not_ok "landing: $OUT"
wait "$SPID"; RC=$?
[ "$RC" = 0 ] && ok "inkan sign finishes (exit 0)" || not_ok "inkan sign rc $RC: $(cat "$WORK/sign1.err")"
! grep -q "PIN of the credential\|one-time code" "$WORK/sign1.err" \
  && ok "… without asking for the credential's PIN or a code (the page did)" || not_ok "prompts: $(cat "$WORK/sign1.err")"
for f in 契約A docB; do
  expect_rc 0 "openssl cms -verify accepts $f.txt.p7s against inkan's CA" -- \
    openssl cms -verify -binary -inform DER -in "$WORK/$f.txt.p7s" -content "$WORK/$f.txt" \
      -CAfile "$WORK/root.pem" -purpose any -out /dev/null
done

# ---- No ----
sign_bg 2 "$WORK/docC.txt"
wait_url 2 || not_ok "no link: $(cat "$WORK/sign2.err")"
OUT=$(browse "$URL" no 2>&1)
[[ "$(field "$OUT" landed)" == *"error=access_denied"* ]] && field "$OUT" text | grep -q "declined" \
  && ok "No lands on the listener, which says nothing will be signed" || not_ok "no: $OUT"
wait "$SPID"; RC=$?
[ "$RC" = 6 ] && grep -q "declined" "$WORK/sign2.err" && ok "… and inkan sign exits 6: the signer declined" \
  || not_ok "declined (rc $RC): $(cat "$WORK/sign2.err")"
[ ! -e "$WORK/docC.txt.p7s" ] && ok "… writing no signature" || not_ok "docC.txt.p7s written"

# ---- A forged answer: the wrong state ----
sign_bg 3 "$WORK/docD.txt"
wait_url 3 || not_ok "no link: $(cat "$WORK/sign3.err")"
OUT=$(curl -sS -w '\n%{http_code}' "http://127.0.0.1:$PORT/cb?code=forged&state=not-the-state" 2>&1)
[ "${OUT##*$'\n'}" = 400 ] && echo "$OUT" | grep -q "refused" \
  && ok "an answer with the wrong state is refused at the listener" || not_ok "forged: $OUT"
wait "$SPID"; RC=$?
[ "$RC" = 5 ] && grep -q "state" "$WORK/sign3.err" && ok "… inkan sign stops (exit 5) and says why" \
  || not_ok "forged (rc $RC): $(cat "$WORK/sign3.err")"
[ ! -e "$WORK/docD.txt.p7s" ] && ok "… and nothing is signed" || not_ok "docD.txt.p7s written"

# ---- Nobody answers ----
sign_bg 4 "$WORK/docE.txt" -- --consent-timeout 2s
wait "$SPID"; RC=$?
[ "$RC" != 0 ] && grep -q "no answer" "$WORK/sign4.err" && [ ! -e "$WORK/docE.txt.p7s" ] \
  && ok "with no answer in --consent-timeout, inkan sign gives up and signs nothing" \
  || not_ok "timeout (rc $RC): $(cat "$WORK/sign4.err")"

stop_serve
[ "$RC" = 0 ] && ok "inkan serve stops cleanly" || not_ok "serve exit $RC: $(cat "$WORK/serve.err")"
OUT=$("$INKAN" audit show --count 1000000 2>&1)
SIGNED=0
for c in $(echo "$OUT" | grep '"type":"signature"' | sed -n 's/.*"count":\([0-9]*\).*/\1/p'); do
  SIGNED=$((SIGNED + c))
done
[ "$SIGNED" = 2 ] && ok "the log has exactly the two consented signatures" \
  || not_ok "signatures on the log: $SIGNED"
for e in consent.yes consent.declined oauth2.token; do
  echo "$OUT" | grep -q "\"type\":\"$e\"" && ok "the log has $e" || not_ok "no $e on the log"
done
expect_rc 0 "the log verifies" -- "$INKAN" audit verify
finish
