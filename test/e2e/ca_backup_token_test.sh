#!/usr/bin/env bash
# Backup form (a) of R7 end to end: the CA key copied onto a second PKCS#11
# token (a second SoftHSM token) under quorum, restored from that token into
# an empty instance on another token, re-sealed by a rekey, and removed from
# both tokens by ca.destroy (checked with pkcs11-tool).
. "$(dirname "$0")/lib.sh"
D=$WORK/data
export INKAN_DATA=$D
K=$WORK/keys
mkdir -p "$K"
for who in alice bob carol; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/$who.key" 2>/dev/null
  openssl pkey -in "$K/$who.key" -pubout -out "$K/$who.pub"
done
FAST="--policy argon2.m_cost_kib=1024 --policy argon2.t_cost=1"
# shellcheck disable=SC2086
"$INKAN" init --quorum 2 $FAST >/dev/null
"$INKAN" operator add alice --public-key "$K/alice.pub" >/dev/null
"$INKAN" operator add bob --public-key "$K/bob.pub" >/dev/null
ID=$("$INKAN" ceremony propose operator.add --param name=carol --param public_key=@"$K/carol.pub" \
       --operator alice --key "$K/alice.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$ID" --operator bob --key "$K/bob.key" >/dev/null
"$INKAN" ceremony execute --id "$ID" >/dev/null

# run_ceremony OUTFILE EXECUTE-ARGS... : the proposal on stdin's last line is
# approved by bob, then executed; output and rc in OUTFILE.
approve() { "$INKAN" ceremony approve --id "$1" --operator bob --key "$K/bob.key" >/dev/null; }
req() { sed -n 's/^request //p'; }

ID=$("$INKAN" ca init --subject "CN=inkan Backup Test CA,O=inkan,C=JP" --crl-url http://127.0.0.1/ca.crl \
       --ocsp-url http://127.0.0.1/ocsp --operator alice --key "$K/alice.key" | req)
approve "$ID"
"$INKAN" ceremony execute --id "$ID" >/dev/null
"$INKAN" ca certificate > "$WORK/root.pem"
for who in alice bob carol; do
  "$INKAN" ca share --custodian "$who" > "$WORK/$who.sealed"
  "$INKAN" ca open-share --in "$WORK/$who.sealed" --key "$K/$who.key" > "$WORK/$who.share"
done

# The backup token and the "other HSM" token live beside the instance's own
# token (one SoftHSM configuration per process). No label starts with "inkan":
# pkcs11-tool --token-label matches by prefix.
export SOFTHSM2_CONF=$D/hsm/softhsm2.conf
BPIN=$WORK/backup.pin
(umask 077; openssl rand -hex 16 > "$BPIN")
softhsm2-util --init-token --free --label ca-backup --so-pin "$(openssl rand -hex 16)" \
  --pin "$(cat "$BPIN")" >/dev/null
(umask 077; echo 00000000 > "$WORK/wrong.pin")
objects() {  # objects LABEL PINFILE: the listing, or a failure if it fails
  pkcs11-tool --module "$SOFTHSM_LIB" --token-label "$1" --login --pin "$(cat "$2")" \
    --list-objects 2>&1 || { not_ok "pkcs11-tool could not list token $1"; return 1; }
}

# ---- ca.backup onto the token, under quorum ----
ID=$("$INKAN" ca backup --to-token ca-backup --operator alice --key "$K/alice.key" | req)
[[ "$ID" =~ ^[0-9a-f]{64}$ ]] && ok "ca backup --to-token proposes ca.backup" || not_ok "propose: $ID"
expect_rc 7 "ca.backup does not run on one approval" -- \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --share "$WORK/carol.share" \
  --backup-pin "$BPIN"
approve "$ID"
expect_rc 7 "ca.backup needs the backup token's PIN" -- \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --share "$WORK/carol.share"
expect_out "backup-pin" "… and says how to give it"
expect_rc 7 "a wrong backup token PIN is refused" -- \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --share "$WORK/carol.share" \
  --backup-pin "$WORK/wrong.pin"
expect_rc 7 "ca.backup needs k shares" -- \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --backup-pin "$BPIN"
expect_rc 0 "ca.backup runs with the quorum, k shares and the token" -- \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --share "$WORK/carol.share" \
  --backup-pin "$BPIN"
expect_out "copied onto backup token 'ca-backup'" "… and says where the key went"
OBJ=$(objects ca-backup "$BPIN")
echo "$OBJ" | grep -q "inkan-ca-backup" && echo "$OBJ" | grep -q "inkan-ca-kek" \
  && ok "the backup token holds the CA record and its own CA KEK (pkcs11-tool)" \
  || not_ok "backup token objects: $OBJ"
echo "$OBJ" | grep -q "Private Key Object" && not_ok "a private key object is on the backup token" \
  || ok "… and no private key object"
echo "$OBJ" | grep -A4 "inkan-ca-kek" | grep -q "never extractable" \
  && ok "… the backup token's CA KEK is never extractable" || not_ok "kek: $OBJ"

# The instance issues a certificate and revokes one before the disaster.
echo 135790 | "$INKAN" user add erin >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256)
SERIAL=$("$INKAN" cert issue --credential "$CRED" --share "$WORK/alice.share" --share "$WORK/bob.share" \
           | sed -n 's/^serial //p')
expect_rc 0 "a certificate is revoked before the disaster" -- \
  "$INKAN" cert revoke --serial "$SERIAL" --reason keyCompromise \
  --share "$WORK/alice.share" --share "$WORK/bob.share"
# Re-copy so the token record carries the revocation.
ID=$("$INKAN" ca backup --to-token ca-backup --operator alice --key "$K/alice.key" | req)
approve "$ID"
"$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --share "$WORK/bob.share" \
  --backup-pin "$BPIN" >/dev/null

# ---- restore from the token into an empty instance on another token ----
HPIN=$WORK/other.pin
(umask 077; openssl rand -hex 16 > "$HPIN")
softhsm2-util --init-token --free --label other-hsm --so-pin "$(openssl rand -hex 16)" \
  --pin "$(cat "$HPIN")" >/dev/null
E=$WORK/restored
new_instance() {  # new_instance DIR TOKEN PINFILE
  INKAN_DATA=$1 "$INKAN" init --quorum 2 $FAST --pkcs11-module "$SOFTHSM_LIB" \
    --token-label "$2" --pin-file "$3" >/dev/null
  INKAN_DATA=$1 "$INKAN" operator add alice --public-key "$K/alice.pub" >/dev/null
  INKAN_DATA=$1 "$INKAN" operator add bob --public-key "$K/bob.pub" >/dev/null
}
new_instance "$E" other-hsm "$HPIN"
expect_rc 2 "restoring from a token needs its PIN to read the record" -- \
  env INKAN_DATA="$E" "$INKAN" ca restore --from-token ca-backup --operator alice --key "$K/alice.key"
ID=$(INKAN_DATA=$E "$INKAN" ca restore --from-token ca-backup --backup-pin "$BPIN" \
       --operator alice --key "$K/alice.key" | req)
INKAN_DATA=$E approve "$ID"
expect_rc 7 "the restore needs k shares" -- env INKAN_DATA="$E" \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --backup-pin "$BPIN"
expect_rc 0 "ca.restore from the backup token runs in an empty instance on another HSM" -- \
  env INKAN_DATA="$E" "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" \
  --share "$WORK/carol.share" --backup-pin "$BPIN"
expect_out "1 revocations, a new OCSP responder" "… carrying the revocations, with a new responder"
echo 135790 | INKAN_DATA=$E "$INKAN" user add frank >/dev/null
CRED=$(echo 135790 | INKAN_DATA=$E "$INKAN" credential create --user frank --alg ec-p256)
INKAN_DATA=$E "$INKAN" cert issue --credential "$CRED" --share "$WORK/bob.share" \
  --share "$WORK/carol.share" > "$WORK/frank.out" 2>&1
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$WORK/frank.out" > "$WORK/frank.pem"
expect_rc 0 "the restored CA signs certificates that verify against the original root" -- \
  openssl verify -CAfile "$WORK/root.pem" "$WORK/frank.pem"
INKAN_DATA=$E "$INKAN" crl --share "$WORK/bob.share" --share "$WORK/carol.share" > "$WORK/e.crl" 2>/dev/null
[ -n "$SERIAL" ] && openssl crl -in "$WORK/e.crl" -noout -text 2>/dev/null | grep -qi "$SERIAL" \
  && ok "… and its CRL still lists the revocation made before the disaster" \
  || not_ok "crl: $(openssl crl -in "$WORK/e.crl" -noout -text 2>&1 | head -30)"
expect_rc 0 "the restored instance's log verifies" -- env INKAN_DATA="$E" "$INKAN" audit verify
OBJ=$(objects other-hsm "$HPIN")
N=$(echo "$OBJ" | grep -c "Private Key Object")
echo "$OBJ" | grep -q "inkan-master-kek" && [ "$N" = 1 ] \
  && ok "no CA key object stays on the new HSM (only the audit key is private)" \
  || not_ok "objects on the new HSM: $OBJ"

# ---- rekey re-seals the token's copy: the old shares open it no more ----
ID=$("$INKAN" ca rekey --operator alice --key "$K/alice.key" | req)
approve "$ID"
expect_rc 7 "a rekey needs the backup token too" -- \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --share "$WORK/bob.share"
expect_rc 0 "the rekey runs with the backup token" -- \
  "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" --share "$WORK/bob.share" \
  --backup-pin "$BPIN"
F=$WORK/third
(umask 077; openssl rand -hex 16 > "$WORK/third.pin")
softhsm2-util --init-token --free --label third-hsm --so-pin "$(openssl rand -hex 16)" \
  --pin "$(cat "$WORK/third.pin")" >/dev/null
new_instance "$F" third-hsm "$WORK/third.pin"
ID=$(INKAN_DATA=$F "$INKAN" ca restore --from-token ca-backup --backup-pin "$BPIN" \
       --operator alice --key "$K/alice.key" | req)
INKAN_DATA=$F approve "$ID"
expect_rc 2 "after the rekey, the old shares do not restore the token's copy" -- \
  env INKAN_DATA="$F" "$INKAN" ceremony execute --id "$ID" --share "$WORK/alice.share" \
  --share "$WORK/carol.share" --backup-pin "$BPIN"
expect_out "voided by a rekey" "… and say why"
for who in alice bob; do
  "$INKAN" ca share --custodian "$who" > "$WORK/$who.sealed2"
  "$INKAN" ca open-share --in "$WORK/$who.sealed2" --key "$K/$who.key" > "$WORK/$who.share2"
done

# ---- destroy removes the key from both tokens ----
ID=$("$INKAN" ca destroy --operator alice --key "$K/alice.key" | req)
approve "$ID"
expect_rc 7 "ca.destroy needs the backup token" -- "$INKAN" ceremony execute --id "$ID"
expect_rc 0 "ca.destroy runs with the backup token" -- \
  "$INKAN" ceremony execute --id "$ID" --backup-pin "$BPIN"
OBJ=$(objects ca-backup "$BPIN")
echo "$OBJ" | grep -q "inkan-ca" && not_ok "CA objects remain on the backup token: $OBJ" \
  || ok "no CA KEK or CA record remains on the backup token (pkcs11-tool)"
OBJ=$(objects inkan "$D/hsm/user.pin")
echo "$OBJ" | grep -q "inkan-master-kek" && ! echo "$OBJ" | grep -q "inkan-ca" \
  && ok "no CA KEK remains on the instance's HSM (pkcs11-tool)" \
  || not_ok "objects on the instance's HSM: $OBJ"
expect_rc 7 "the new shares activate nothing after destroy" -- \
  "$INKAN" crl --share "$WORK/alice.share2" --share "$WORK/bob.share2"
expect_rc 3 "the token holds nothing to restore after destroy" -- \
  env INKAN_DATA="$F" "$INKAN" ca restore --from-token ca-backup --backup-pin "$BPIN" \
  --operator alice --key "$K/alice.key"
expect_rc 0 "the log verifies after destroy" -- "$INKAN" audit verify
OUT=$("$INKAN" audit show 2>&1 | grep '"ca.destroy"')
expect_out '"backups_removed":1' "the destruction record counts the token's copy"
expect_out '"hsm_objects_removed":2' "… and both CA KEKs"
finish
