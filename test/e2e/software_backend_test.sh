#!/usr/bin/env bash
# The provisional software backend (R2): off unless asked for, flagged
# provisional wherever it shows, and it signs Ed25519 too.
. "$(dirname "$0")/lib.sh"
D=$WORK/soft
export INKAN_DATA=$D
expect_rc 0 "init --backend software" -- "$INKAN" init --backend software --policy argon2.m_cost_kib=1024
expect_out "PROVISIONAL" "init says the backend is provisional"
[ "$(stat -c %a "$D/software-keys")" = 600 ] && ok "software key file is 0600" || not_ok "key file mode"
expect_rc 0 "status" -- "$INKAN" status
expect_out "PROVISIONAL" "status says provisional"
echo 135790 | "$INKAN" user add ken >/dev/null
for alg in ed25519 ec-p256; do
  id=$(echo 135790 | "$INKAN" credential create --user ken --alg "$alg" 2>"$WORK/err")
  grep -q PROVISIONAL "$WORK/err" && ok "$alg credential create warns it is provisional" || not_ok "no warning"
  "$INKAN" credential show --id "$id" | sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' > "$WORK/pub.pem"
  printf 'hello' > "$WORK/m"
  h=$(openssl dgst -sha256 -r "$WORK/m" | cut -d' ' -f1)
  echo 135790 | "$INKAN" credential sign --id "$id" --hash "$h" | base64 -d > "$WORK/sig"
  if [ "$alg" = ed25519 ]; then
    # PureEdDSA over the 32 bytes given (the hash itself is the message).
    echo -n "$h" | xxd -r -p > "$WORK/h.bin"
    openssl pkeyutl -verify -pubin -inkey "$WORK/pub.pem" -rawin -in "$WORK/h.bin" -sigfile "$WORK/sig" \
      >/dev/null 2>&1 && ok "ed25519 signature verifies with openssl pkeyutl" || not_ok "ed25519 verify"
  else
    openssl dgst -sha256 -verify "$WORK/pub.pem" -signature "$WORK/sig" "$WORK/m" >/dev/null 2>&1 \
      && ok "$alg signature verifies" || not_ok "$alg verify"
  fi
done
OUT=$("$INKAN" credential list --user ken)
expect_out "provisional" "credential list marks software credentials provisional"
expect_rc 0 "audit verify" -- "$INKAN" audit verify
finish
