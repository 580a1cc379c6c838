#!/usr/bin/env bash
# The CA key activated in the running service (`inkan serve`) for a window:
# custodians enter their shares one at a time through the control socket,
# the service issues and revokes without further shares and signs CRLs on
# its schedule, and the key goes at `ca deactivate` or when the service stops.
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
req() { sed -n 's/^request //p'; }
ID=$("$INKAN" ceremony propose operator.add --param name=carol --param public_key=@"$K/carol.pub" \
       --operator alice --key "$K/alice.key" | req)
"$INKAN" ceremony approve --id "$ID" --operator bob --key "$K/bob.key" >/dev/null
"$INKAN" ceremony execute --id "$ID" >/dev/null
ID=$("$INKAN" ca init --subject "CN=inkan Activation Test CA,O=inkan,C=JP" --crl-url http://127.0.0.1/ca.crl \
       --ocsp-url http://127.0.0.1/ocsp --operator alice --key "$K/alice.key" | req)
"$INKAN" ceremony approve --id "$ID" --operator bob --key "$K/bob.key" >/dev/null
"$INKAN" ceremony execute --id "$ID" >/dev/null
"$INKAN" ca certificate > "$WORK/root.pem"
for who in alice bob carol; do
  "$INKAN" ca share --custodian "$who" > "$WORK/$who.sealed"
  "$INKAN" ca open-share --in "$WORK/$who.sealed" --key "$K/$who.key" > "$WORK/$who.share"
done
echo 135790 | "$INKAN" user add erin >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256)

expect_rc 7 "ca activate needs the running service" -- "$INKAN" ca activate --share "$WORK/alice.share"
expect_out "not running" "… and says so"

mkfifo "$WORK/ready"
"$INKAN" serve --crl-every 1h > "$WORK/ready" 2>"$WORK/serve.err" &
PID=$!
exec 3< "$WORK/ready"
read -r -u 3 LINE
[[ "$LINE" == "control socket $D/control.sock" ]] && ok "inkan serve starts ($LINE)" \
  || not_ok "serve: $LINE $(cat "$WORK/serve.err")"
[ "$(stat -c %a "$D/control.sock")" = 600 ] && ok "the control socket is 0600" \
  || not_ok "socket mode $(stat -c %a "$D/control.sock")"
expect_rc 4 "a second service on the same data directory is refused" -- "$INKAN" serve

expect_rc 7 "no issuing before activation" -- "$INKAN" cert issue --credential "$CRED"
expect_out "not active" "… the CA key is not active"
expect_rc 0 "the first custodian enters a share" -- \
  "$INKAN" ca activate --share "$WORK/alice.share" --for 2h
expect_out "1 of 2 shares entered \(alice\)" "… and the service counts it"
expect_rc 4 "the same share twice does not count twice" -- \
  "$INKAN" ca activate --share "$WORK/alice.share"
sed 's/\(inkan-share1-[0-9a-f]*-2of3-[0-9]*-\)\(.\)/\1Z/' "$WORK/bob.share" > "$WORK/bad.share"
if cmp -s "$WORK/bad.share" "$WORK/bob.share"; then sed -i 's/-\(.\)\(.\)\(.\)\(.\)-/-\2\1\3\4-/' "$WORK/bad.share"; fi
expect_rc 2 "an altered share is refused at entry" -- "$INKAN" ca activate --share "$WORK/bad.share"
expect_rc 7 "one share does not activate" -- "$INKAN" cert issue --credential "$CRED"
OUT=$("$INKAN" ca status)
expect_out "inactive; 1 of 2 shares entered" "ca status shows the round in progress"
expect_rc 0 "the second custodian's share activates the key" -- \
  "$INKAN" ca activate --share "$WORK/carol.share"
expect_out "ACTIVE until" "… for the window"
OUT=$("$INKAN" ca status)
expect_out "ACTIVE until" "ca status shows the active window"

expect_rc 0 "cert issue without shares uses the active CA" -- "$INKAN" cert issue --credential "$CRED"
SERIAL=$(echo "$OUT" | sed -n 's/^serial //p')
echo "$OUT" | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/erin.pem"
expect_rc 0 "… and openssl verifies the certificate against the root" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/erin.pem"
expect_rc 0 "cert revoke without shares" -- "$INKAN" cert revoke --serial "$SERIAL" --reason keyCompromise
"$INKAN" crl > "$WORK/crl.pem"
expect_rc 2 "openssl -crl_check rejects the revoked certificate" -- \
  openssl verify -crl_check -CAfile "$WORK/root.pem" -CRLfile "$WORK/crl.pem" "$WORK/erin.pem"
# The service signs a CRL as soon as the key is active (then hourly).
for _ in $(seq 50); do
  "$INKAN" audit show --count 100000 2>/dev/null | grep -q '"actor":"scheduler".*"crl.issue"\|"crl.issue".*"actor":"scheduler"' && break
  read -r -t 0.2 -u 3 _ || true   # waits on the service's (silent) output
done
"$INKAN" audit show --count 100000 2>/dev/null | grep '"crl.issue"' | grep -q '"scheduler"' \
  && ok "the service signed a CRL on its own schedule" || not_ok "no scheduled CRL on the log"

BEFORE=$("$INKAN" ca status | sed -n 's/^OCSP responder certificate: .*SHA-256 \(.*\))$/\1/p')
expect_rc 0 "ca renew-responder uses the active CA" -- "$INKAN" ca renew-responder
echo "$OUT" | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > "$WORK/responder.pem"
expect_rc 0 "… the new responder certificate verifies against the root" -- \
  openssl verify -CAfile "$WORK/root.pem" -purpose ocsphelper "$WORK/responder.pem"
AFTER=$("$INKAN" ca status | sed -n 's/^OCSP responder certificate: .*SHA-256 \(.*\))$/\1/p')
[ -n "$BEFORE" ] && [ -n "$AFTER" ] && [ "$BEFORE" != "$AFTER" ] \
  && ok "ca status shows the new responder certificate" || not_ok "responder: $BEFORE -> $AFTER"
expect_rc 0 "ca deactivate ends the activation" -- "$INKAN" ca deactivate
expect_out "inactive" "… at once"
expect_rc 7 "no issuing after deactivation" -- "$INKAN" cert issue --credential "$CRED"
"$INKAN" ca activate --share "$WORK/bob.share" >/dev/null
"$INKAN" ca activate --share "$WORK/carol.share" >/dev/null
kill -TERM "$PID"
wait "$PID"
RC=$?
exec 3<&-
[ "$RC" = 0 ] && ok "inkan serve stops cleanly on SIGTERM" || not_ok "serve exit $RC: $(cat "$WORK/serve.err")"
[ ! -e "$D/control.sock" ] && ok "… and removes its control socket" || not_ok "socket left behind"
OUT=$("$INKAN" audit show --count 100000 2>&1 | grep '"ca.deactivate"' | tail -1)
expect_out '"actor":"service stopping"' "stopping the service deactivates the CA key, on the log"
OUT=$("$INKAN" audit show --count 100000 2>&1)
expect_out '"ca.activate.share"' "each share entry is on the log"
expect_out '"ca.activate.refused"' "… and the refused one"
expect_rc 0 "the log verifies" -- "$INKAN" audit verify
finish
