#!/usr/bin/env bash
# End to end on a real SoftHSMv2 token: init, users, credentials for every
# algorithm, signatures verified by openssl, wrong PINs and the lock, the HSM
# seen from outside with pkcs11-tool, no key material in the database, and
# tampering with the audit log caught by `inkan audit verify`.
. "$(dirname "$0")/lib.sh"
D=$WORK/data
export INKAN_DATA=$D

expect_rc 0 "init creates a data directory on SoftHSM" -- \
  "$INKAN" init --policy argon2.m_cost_kib=1024 --policy argon2.t_cost=1 --policy max_failed_tries=3
expect_rc 4 "init refuses to overwrite an existing instance" -- "$INKAN" init --data "$D"
expect_rc 7 "commands on a non-initialised directory fail clearly" -- "$INKAN" status --data "$WORK/nothing"
expect_out "not an inkan data directory" "… and say why"
[ "$(stat -c %a "$D")" = 700 ] && ok "data dir is 0700" || not_ok "data dir mode $(stat -c %a "$D")"
[ "$(stat -c %a "$D/hsm/user.pin")" = 600 ] && ok "token PIN file is 0600" || not_ok "pin file mode"

expect_rc 0 "user add reads the PIN from stdin" -- bash -c "echo 246810 | '$INKAN' user add alice"
expect_rc 4 "a duplicate user is refused" -- bash -c "echo 246810 | '$INKAN' user add alice"
expect_rc 2 "an empty PIN is refused" -- bash -c "echo | '$INKAN' user add bob"
expect_rc 5 "credential create checks the user's PIN" -- \
  bash -c "echo 999999 | '$INKAN' credential create --user alice --alg ec-p256"
expect_rc 2 "a PIN shorter than the policy's minimum (6) is refused" -- \
  bash -c "echo 12345 | '$INKAN' user add shorty"
echo 135790 | "$INKAN" user add carol >/dev/null
expect_rc 5 "carol: wrong PIN 1" -- bash -c "echo 000000 | '$INKAN' credential create --user carol --alg ec-p256"
expect_rc 5 "carol: wrong PIN 2" -- bash -c "echo 000001 | '$INKAN' credential create --user carol --alg ec-p256"
expect_rc 6 "carol: wrong PIN 3 locks the user's PIN" -- \
  bash -c "echo 000002 | '$INKAN' credential create --user carol --alg ec-p256"
expect_rc 6 "carol: the right PIN is refused once locked" -- \
  bash -c "echo 135790 | '$INKAN' credential create --user carol --alg ec-p256"
expect_out "locked" "… and says it is locked"
expect_rc 3 "credential create for an unknown user" -- \
  bash -c "echo 246810 | '$INKAN' credential create --user nobody --alg ec-p256"
expect_rc 2 "an unknown algorithm is refused" -- \
  bash -c "echo 246810 | '$INKAN' credential create --user alice --alg dsa-1024"
expect_rc 9 "ed25519 on SoftHSM 2.6 (cannot wrap it) is a clear Unimplemented" -- \
  bash -c "echo 246810 | '$INKAN' credential create --user alice --alg ed25519"

printf 'the contract, version 1\n' > "$WORK/doc.txt"
# alg  hash  openssl-dgst-options  sign-options
while read -r alg hash opts signopts; do
  [ "$opts" = "-" ] && opts="" || opts=${opts//,/ }
  [ "$signopts" = "-" ] && signopts=""
  id=$(echo 246810 | "$INKAN" credential create --user alice --alg "$alg" 2>&1)
  if ! [[ "$id" =~ ^[0-9a-f]{32}$ ]]; then not_ok "create $alg: $id"; continue; fi
  "$INKAN" credential show --id "$id" | sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' > "$WORK/$alg.pem"
  digest=$(openssl dgst -"$hash" -r "$WORK/doc.txt" | cut -d' ' -f1)
  sig=$(echo 246810 | "$INKAN" credential sign --id "$id" --hash "$digest" --hash-alg "$hash" $signopts 2>&1)
  echo "$sig" | base64 -d > "$WORK/$alg$signopts.sig" 2>/dev/null
  # shellcheck disable=SC2086
  if openssl dgst -"$hash" $opts -verify "$WORK/$alg.pem" -signature "$WORK/$alg$signopts.sig" \
       "$WORK/doc.txt" >/dev/null 2>&1; then
    ok "$alg $signopts signature verifies with openssl dgst -verify"
  else
    not_ok "$alg $signopts signature does not verify: $sig"
  fi
  echo "$id" >> "$WORK/ids"
done <<'CASES'
ec-p256 sha256 - -
ec-p384 sha384 - -
rsa-2048 sha256 - -
rsa-2048 sha512 -sigopt,rsa_padding_mode:pss,-sigopt,rsa_pss_saltlen:digest --pss
rsa-3072 sha384 - -
rsa-4096 sha256 -sigopt,rsa_padding_mode:pss,-sigopt,rsa_pss_saltlen:digest --pss
CASES

ID=$(head -1 "$WORK/ids")
H=$(openssl dgst -sha256 -r "$WORK/doc.txt" | cut -d' ' -f1)
expect_rc 2 "a malformed hash is refused" -- bash -c "echo 246810 | '$INKAN' credential sign --id $ID --hash xyz"
expect_rc 2 "a hash of the wrong length is refused" -- bash -c "echo 246810 | '$INKAN' credential sign --id $ID --hash abcd"
expect_rc 3 "an unknown credential is refused" -- \
  bash -c "echo 246810 | '$INKAN' credential sign --id 00000000000000000000000000000000 --hash $H"
expect_rc 2 "no PIN, no signature" -- bash -c "'$INKAN' credential sign --id $ID --hash $H < /dev/null"

# With the database AND the HSM token (and its PIN) but without the user's
# PIN, nobody can sign: an operator's copy of everything, guessing PINs.
cp -a "$D" "$WORK/stolen"
expect_rc 5 "operator copy + HSM, wrong PIN: refused" -- \
  bash -c "echo 000000 | '$INKAN' credential sign --data '$WORK/stolen' --id $ID --hash $H"
expect_out "2 tries left" "… and the try is counted"
expect_rc 5 "second wrong PIN: refused" -- bash -c "echo 111111 | '$INKAN' credential sign --data '$WORK/stolen' --id $ID --hash $H"
expect_rc 6 "third wrong PIN locks the credential" -- bash -c "echo 222222 | '$INKAN' credential sign --data '$WORK/stolen' --id $ID --hash $H"
expect_rc 6 "the lock holds against the right PIN" -- bash -c "echo 246810 | '$INKAN' credential sign --data '$WORK/stolen' --id $ID --hash $H"
expect_out "locked" "… and says it is locked"
"$INKAN" credential show --data "$WORK/stolen" --id "$ID" > "$WORK/show"
grep -q "state: locked" "$WORK/show" && ok "credential shows as locked" || not_ok "not locked: $(cat "$WORK/show")"
expect_rc 0 "the log of the locked copy verifies" -- "$INKAN" audit verify --data "$WORK/stolen"
OUT=$("$INKAN" audit show --data "$WORK/stolen" --count 1000)
expect_out '"type":"credential.lock"' "the lock is on the audit log"
expect_out '"type":"key.unseal.failed"' "bad PINs are on the audit log"
expect_out '"type":"key.unseal.refused"' "the refused try on a locked credential is on the audit log"
if echo "$OUT" | grep -q 246810; then not_ok "a PIN appears in the audit log"; else ok "no PIN in the audit log"; fi

# The HSM from outside: only the three system keys live on the token, all
# sensitive and never extractable; no user key is stored there at all.
OBJ=$(SOFTHSM2_CONF=$D/hsm/softhsm2.conf pkcs11-tool --module "$SOFTHSM_LIB" --token-label inkan \
        --login --pin "$(cat "$D/hsm/user.pin")" --list-objects 2>/dev/null)
[ "$(echo "$OBJ" | grep -c '^Private Key Object')" = 1 ] && ok "pkcs11-tool: one private key (audit) on the token" \
  || not_ok "pkcs11-tool private keys: $OBJ"
[ "$(echo "$OBJ" | grep -c '^Secret Key Object')" = 2 ] && ok "pkcs11-tool: two secret keys (KEK, pepper)" \
  || not_ok "pkcs11-tool secret keys: $OBJ"
[ "$(echo "$OBJ" | grep -c 'Access: *sensitive, always sensitive, never extractable')" = 3 ] \
  && ok "pkcs11-tool: every key is sensitive and never extractable" || not_ok "access flags: $OBJ"

# No key material in the clear anywhere in the data dir outside the token:
# no PKCS#8 or SEC1 private-key structure for any of the algorithms.
found=""
for pat in 020100301306072a8648ce3d0201 020100300d06092a864886f70d0101 020101042 3077020101; do
  for f in "$D"/inkan.db* "$D"/inkan.conf; do
    [ -f "$f" ] && xxd -p "$f" | tr -d '\n' | grep -q "$pat" && found="$found $f:$pat"
  done
done
[ -z "$found" ] && ok "no private-key structure in the database or config" || not_ok "key-like bytes:$found"

# Tampering with the audit log: every edit, deletion and reordering is caught
# and the entry is named.
expect_rc 0 "the audit log verifies" -- "$INKAN" audit verify
expect_out "audit log intact" "… and says so"
cp "$D/inkan.db" "$WORK/pristine.db"
restore() { cp "$WORK/pristine.db" "$D/inkan.db"; rm -f "$D/inkan.db-wal" "$D/inkan.db-shm"; }
sqlite3 "$D/inkan.db" "UPDATE audit_log SET entry = replace(entry, 'alice', 'mallory') WHERE seq = 5"
expect_rc 1 "an edited entry fails verification" -- "$INKAN" audit verify
expect_out "entry 5" "… and names entry 5"
restore
python3 - "$D/inkan.db" <<'PY'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
e = db.execute("select entry from audit_log where seq=6").fetchone()[0].replace("alice", "mallory")
db.execute("update audit_log set entry=?, leaf_hash=? where seq=6", (e, hashlib.sha256(b"\0" + e.encode()).digest()))
db.commit()
PY
expect_rc 1 "an edited entry with a recomputed leaf hash fails (signed checkpoint)" -- "$INKAN" audit verify
expect_out "entries 6\.\.|entry 6" "… and names the range starting at entry 6"
restore
sqlite3 "$D/inkan.db" "DELETE FROM audit_log WHERE seq = 4"
expect_rc 1 "a deleted entry fails verification" -- "$INKAN" audit verify
expect_out "entry 4" "… and names entry 4"
restore
sqlite3 "$D/inkan.db" "UPDATE audit_log SET seq = -seq WHERE seq IN (7, 8);
  UPDATE audit_log SET seq = 8 WHERE seq = -7; UPDATE audit_log SET seq = 7 WHERE seq = -8;"
expect_rc 1 "two reordered entries fail verification" -- "$INKAN" audit verify
expect_out "entry (at row )?7|row 7" "… and name entry 7"
restore
sqlite3 "$D/inkan.db" "DELETE FROM audit_checkpoint WHERE tree_size = (SELECT max(tree_size) FROM audit_checkpoint)"
expect_rc 1 "deleting the latest checkpoint fails verification" -- "$INKAN" audit verify
restore
expect_rc 0 "the restored log verifies again" -- "$INKAN" audit verify

finish
