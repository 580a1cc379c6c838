#!/usr/bin/env bash
# The restore drill (issue 6, R5): a CA, a user with PIN + TOTP and a SCAL 1
# credential; sign through `inkan serve`; `inkan backup create` while a load
# of signHash requests goes on (none may fail); restore into an empty
# directory with the same HSM; serve from it and sign with the restored
# credential and the user's factors (openssl cms -verify); the restored log
# verifies and holds every event up to the snapshot. Then: any flipped byte
# makes verify and restore refuse, leaving nothing behind; an older backup
# is refused; exported log segments verify alone and fail when edited.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service_lib.sh"
setup_ca "CN=inkan Backup Test CA,O=inkan,C=JP"

echo 135790 | "$INKAN" user add erin >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user erin --alg ec-p256 --scal 1)
"$INKAN" cert issue --credential "$CRED" "${SHARES[@]}" >/dev/null
ERIN=$(secret_hex "$(echo 135790 | "$INKAN" totp enroll --user erin)")

expect_rc 0 "inkan status before any backup" -- "$INKAN" status
expect_out "backups: MISSED: no backup has been made" "… reports the backup as missed"
expect_rc 2 "a backup interval out of bounds is refused" -- "$INKAN" backup schedule --every 1m
expect_rc 0 "backup schedule sets the interval" -- "$INKAN" backup schedule --every 12h
expect_rc 0 "an early backup (b0)" -- "$INKAN" backup create --out "$WORK/b0.inkan-backup"
expect_rc 4 "backup create does not overwrite a file" -- "$INKAN" backup create --out "$WORK/b0.inkan-backup"

start_serve
call() {  # call PATH JSON [TOKEN]: status in $CODE, body in $OUT
  local auth=()
  [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
  OUT=$(curl -sS --cacert "$WORK/root.pem" -o - -w '\n%{http_code}' -X POST \
          -H 'Content-Type: application/json' "${auth[@]}" --data-binary "$2" "$BASE$1")
  CODE=${OUT##*$'\n'}
  OUT=${OUT%$'\n'*}
}
json() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$OUT"; }
SHA256=2.16.840.1.101.3.4.2.1
ECDSA=1.2.840.10045.4.3.2

# A signature through the service before the backup (inkan sign, CAdES).
echo "Torishimariyakukai gijiroku" > "$WORK/before.txt"
printf '135790\n135790\n%s\n' "$(totp "$ERIN" -1)" | "$INKAN" sign "$WORK/before.txt" \
  --service "$BASE" --credential "$CRED" --user erin --cacert "$WORK/root.pem" >"$WORK/sign1.out" 2>&1
expect_rc 0 "a signature through the service verifies (openssl cms)" -- \
  openssl cms -verify -binary -inform DER -in "$WORK/before.txt.p7s" -content "$WORK/before.txt" \
    -CAfile "$WORK/root.pem" -purpose any -out /dev/null

# Load: one SAD for N hashes (PIN + code), then N signHash calls in the
# background, each recorded.
N=150
OUT=$(curl -sS --cacert "$WORK/root.pem" -X POST -u erin:135790 "${BASE}auth/login")
TOKEN=$(json access_token)
HASHES=()
for i in $(seq 1 $N); do HASHES+=("$(printf 'load %d' "$i" | openssl dgst -sha256 -binary | base64)"); done
HS=$(printf '"%s",' "${HASHES[@]}"); HS=${HS%,}
call credentials/authorize "{\"credentialID\":\"$CRED\",\"numSignatures\":$N,\"hashes\":[$HS],\"hashAlgorithmOID\":\"$SHA256\",\"authData\":[{\"id\":\"PIN\",\"value\":\"135790\"},{\"id\":\"OTP\",\"value\":\"$(totp "$ERIN" 0)\"}]}" "$TOKEN"
SAD=$(json SAD)
[ "$CODE" = 200 ] && [ -n "$SAD" ] && ok "credentials/authorize for $N hashes" || not_ok "authorize: $CODE $OUT"
: > "$WORK/load.codes"
(
  for h in "${HASHES[@]}"; do
    curl -sS --cacert "$WORK/root.pem" -o /dev/null -w '%{http_code}\n' -X POST \
      -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
      --data-binary "{\"credentialID\":\"$CRED\",\"SAD\":\"$SAD\",\"hashes\":[\"$h\"],\"hashAlgorithmOID\":\"$SHA256\",\"signAlgo\":\"$ECDSA\"}" \
      "${BASE}signatures/signHash" >> "$WORK/load.codes" 2>&1
  done
) &
LOAD=$!
until [ "$(wc -l < "$WORK/load.codes")" -ge 10 ] || ! kill -0 "$LOAD" 2>/dev/null; do sleep 0.05; done
expect_rc 0 "backup create while the service signs under load" -- \
  "$INKAN" backup create --out "$WORK/b1.inkan-backup"
AT_BACKUP=$(wc -l < "$WORK/load.codes")
SIZE=$(echo "$OUT" | sed -n 's/.*at size \([0-9]*\),.*/\1/p')
ROOT=$(echo "$OUT" | sed -n 's/.*, root \([0-9a-f]\{64\}\)$/\1/p')
wait "$LOAD"
[ "$AT_BACKUP" -lt "$N" ] && ok "… the backup was taken mid-load ($AT_BACKUP of $N signatures done)" \
  || not_ok "the load finished before the backup ($AT_BACKUP)"
[ "$(grep -c '^200$' "$WORK/load.codes")" = "$N" ] && ok "… and all $N signHash calls succeeded" \
  || not_ok "load: $(sort "$WORK/load.codes" | uniq -c | tr '\n' ' ')"
"$INKAN" audit show --count 1000000 > "$WORK/orig.log"
[ -n "$SIZE" ] && [ "$(wc -l < "$WORK/orig.log")" -gt "$SIZE" ] \
  && ok "the live log went on past the snapshot (size $SIZE)" || not_ok "size '$SIZE'"
grep '"type":"backup.create"' "$WORK/orig.log" | tail -1 | grep -q "\"tree_size\":$SIZE" \
  && ok "backup.create is on the live log with the snapshot's size" || not_ok "no backup.create"
expect_rc 0 "inkan status after the backup" -- "$INKAN" status
expect_out "backups: ok: last .*every 12h" "… reports the backup as done"
stop_serve

expect_rc 0 "backup verify (pinned to the instance's audit key)" -- \
  "$INKAN" backup verify "$WORK/b1.inkan-backup" --data "$D"
expect_out "backup intact" "… says it is intact"
expect_out "signed checkpoints, all verified" "… having checked every checkpoint"
expect_rc 0 "backup verify with no data dir and no HSM" -- \
  env -u INKAN_DATA "$INKAN" backup verify "$WORK/b1.inkan-backup" --audit-key "$D/audit-key.pem"
expect_rc 7 "backup verify with no key pinned is not a pass (exit 7)" -- \
  env -u INKAN_DATA "$INKAN" backup verify "$WORK/b1.inkan-backup"
expect_out "NOT pinned" "… and says the key is not pinned"
! grep -aq "PRIVATE KEY" "$WORK/b1.inkan-backup" && grep -aq '"path":"hsm/"' "$WORK/b1.inkan-backup" \
  && grep -aq '"path":"tls/"' "$WORK/b1.inkan-backup" \
  && ok "no private key in the backup; hsm/ and tls/ listed as excluded" || not_ok "exclusions"
grep -aqF "$(cat "$D/hsm/user.pin")" "$WORK/b1.inkan-backup" && not_ok "the HSM PIN is in the backup" \
  || ok "the HSM's PIN is not in the backup"

# Any flipped byte: header, manifest, payload (the database), signature.
flip() {  # flip FILE OFFSET: a copy with that byte's lowest bit flipped
  cp "$1" "$1.flip"
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf '%02x' $(( b ^ 1 )))" | dd of="$1.flip" bs=1 seek="$2" conv=notrunc status=none
}
flip_b64() {  # flip_b64 FILE OFFSET: a copy with that base64 character
  # replaced by another base64 character (a lowest-bit flip can make a
  # character that is not base64 at all, which is refused for another reason)
  cp "$1" "$1.flip"
  local c
  c=$(dd if="$1" bs=1 skip="$2" count=1 status=none)
  if [ "$c" = A ]; then c=B; else c=A; fi
  printf '%s' "$c" | dd of="$1.flip" bs=1 seek="$2" conv=notrunc status=none
}
B1="$WORK/b1.inkan-backup"
LEN=$(stat -c %s "$B1")
MAN=$(( $(grep -abo '"log_id"' "$B1" | head -1 | cut -d: -f1) + 12 ))
DBAT=$(( $(head -c 40 "$B1" | sed -n 2p | wc -c) + 15 + $(sed -n 2p "$B1" | cut -d' ' -f2) + 5000 ))
SIGAT=$(( LEN - 20 ))
for pos in 3:header "$MAN":manifest "$DBAT":payload "$SIGAT":signature; do
  if [ "${pos#*:}" = signature ]; then flip_b64 "$B1" "${pos%%:*}"; else flip "$B1" "${pos%%:*}"; fi
  OUT=$("$INKAN" backup verify "$B1.flip" 2>&1); RC=$?
  [ "$RC" -ne 0 ] && echo "$OUT" | grep -q "damaged or was changed\|not an inkan backup" \
    && ok "a flipped byte in the ${pos#*:} (offset ${pos%%:*}): verify refuses (exit $RC)" \
    || not_ok "verify ${pos#*:}: rc $RC $OUT"
  OUT=$("$INKAN" backup restore "$B1.flip" --data "$WORK/bad" --hsm-dir "$D/hsm" 2>&1); RC=$?
  [ "$RC" -ne 0 ] && echo "$OUT" | grep -q "damaged or was changed\|not an inkan backup" \
    && [ ! -e "$WORK/bad" ] && ! ls -a "$WORK" | grep -q "inkan-restore" \
    && ok "… restore refuses too, and leaves no directory behind" || not_ok "restore ${pos#*:}: rc $RC $OUT"
done
echo "$OUT" | grep -q "damaged or was changed: its signature does not verify" \
  && ok "the message says what is wrong (a bad signature)" || not_ok "message: $OUT"

# Restore refusals that leave the target alone.
mkdir "$WORK/busy"; touch "$WORK/busy/file"
expect_rc 4 "restore into a directory that is not empty is refused" -- \
  "$INKAN" backup restore "$B1" --data "$WORK/busy" --hsm-dir "$D/hsm"
expect_rc 2 "restore without the HSM's directory says what to give" -- \
  "$INKAN" backup restore "$B1" --data "$WORK/r0"
expect_out "give --hsm-dir" "… (--hsm-dir)"
"$INKAN" init --data "$WORK/other" --policy argon2.m_cost_kib=1024 >/dev/null
expect_rc 7 "restore with another HSM is refused" -- \
  "$INKAN" backup restore "$B1" --data "$WORK/r0" --hsm-dir "$WORK/other/hsm"
expect_out "did not sign this backup" "… its audit key did not sign the backup"
expect_rc 7 "a backup older than the newest one the HSM has seen is refused" -- \
  "$INKAN" backup restore "$WORK/b0.inkan-backup" --data "$WORK/r0" --hsm-dir "$D/hsm"
expect_out "refusing to roll the log back" "… as a rollback"
[ ! -e "$WORK/r0" ] && ! ls -a "$WORK" | grep -q "inkan-restore" \
  && ok "… and none of them left a directory, not even a temporary one" || not_ok "r0 or a temporary directory exists"
expect_rc 0 "… unless the operator says every newer copy is lost (--allow-older)" -- \
  "$INKAN" backup restore "$WORK/b0.inkan-backup" --data "$WORK/r0" --hsm-dir "$D/hsm" --allow-older
"$INKAN" audit show --data "$WORK/r0" --count 1000000 | tail -1 | grep -q "\"newer_backup_seen_at\":$SIZE" \
  && ok "… which the restored log records" || not_ok "no newer_backup_seen_at"

# The HSM's record of the newest backup, seen with pkcs11-tool; replaced by
# one naming another history of the log at the same size, restore refuses.
LOGID=$(sed -n 's/^log_id = //p' "$D/inkan.conf")
p11() { SOFTHSM2_CONF="$D/hsm/softhsm2.conf" pkcs11-tool --module "$SOFTHSM_LIB" --token-label inkan \
          --login --pin "$(cat "$D/hsm/user.pin")" "$@" >/dev/null 2>&1; }
SOFTHSM2_CONF="$D/hsm/softhsm2.conf" pkcs11-tool --module "$SOFTHSM_LIB" --token-label inkan --login \
  --pin "$(cat "$D/hsm/user.pin")" --read-object --type data --label "inkan-backup-witness:$LOGID" 2>/dev/null \
  | grep -qx "$SIZE $ROOT" && ok "the HSM records the newest backup's size and root (pkcs11-tool)" \
  || not_ok "no witness record for $LOGID at $SIZE $ROOT"
printf '%s %064d' "$SIZE" 7 > "$WORK/forged-witness"
p11 --delete-object --type data --label "inkan-backup-witness:$LOGID"
p11 --write-object "$WORK/forged-witness" --type data --label "inkan-backup-witness:$LOGID" --private
expect_rc 7 "a backup of another history of the log than the HSM saw is refused" -- \
  "$INKAN" backup restore "$B1" --data "$WORK/r1" --hsm-dir "$D/hsm"
expect_out "differs from the one the HSM has seen" "… as a different history"
[ ! -e "$WORK/r1" ] && ! ls -a "$WORK" | grep -q "inkan-restore" && ok "… leaving nothing behind" || not_ok "r1 exists"
# The record removed altogether: backups of this log were made, so a missing
# record fails closed.
p11 --delete-object --type data --label "inkan-backup-witness:$LOGID"
expect_rc 7 "with the HSM's record of backups removed, restore fails closed" -- \
  "$INKAN" backup restore "$B1" --data "$WORK/r1" --hsm-dir "$D/hsm"
expect_out "holds no record of this log's backups" "… and says why"
printf '%s %s' "$SIZE" "$ROOT" > "$WORK/witness"
p11 --delete-object --type data --label "inkan-backup-witness:$LOGID"
p11 --write-object "$WORK/witness" --type data --label "inkan-backup-witness:$LOGID" --private

# The restore itself, into an empty directory, with the same HSM.
mkdir "$WORK/restored"
expect_rc 0 "backup restore into an empty directory with the same HSM" -- \
  "$INKAN" backup restore "$B1" --data "$WORK/restored" --hsm-dir "$D/hsm"
expect_rc 0 "the restored log verifies" -- "$INKAN" audit verify --data "$WORK/restored"
"$INKAN" audit show --data "$WORK/restored" --count 1000000 > "$WORK/restored.log"
cmp -s <(head -n "$SIZE" "$WORK/orig.log") <(head -n "$SIZE" "$WORK/restored.log") \
  && ok "the restored log holds every event up to the snapshot ($SIZE), unchanged" \
  || not_ok "restored log differs"
SIGNED=$(head -n "$SIZE" "$WORK/orig.log" | grep -c '"type":"signature')
[ "$SIGNED" -ge 1 ] && [ "$(grep -c '"type":"signature' "$WORK/restored.log")" = "$SIGNED" ] \
  && ok "… including its $SIGNED signature events" || not_ok "signature events: $SIGNED"
sed -n "$((SIZE + 1))p" "$WORK/restored.log" | grep -q '"type":"backup.restore"' \
  && ok "backup.restore is the next entry of the restored log" || not_ok "no backup.restore"

# Serve from the restored directory and sign with the user's factors.
D=$WORK/restored
export INKAN_DATA=$D
rm -f "$WORK/ready"
start_serve
echo "Signed after the restore" > "$WORK/after.txt"
printf '135790\n135790\n%s\n' "$(totp "$ERIN" 1)" | "$INKAN" sign "$WORK/after.txt" \
  --service "$BASE" --credential "$CRED" --user erin --cacert "$WORK/root.pem" >"$WORK/sign2.out" 2>&1
RC=$?
[ "$RC" = 0 ] && ok "inkan sign with the restored credential (PIN + code)" || not_ok "sign: $(cat "$WORK/sign2.out")"
expect_rc 0 "… and openssl cms -verify accepts it against the original root" -- \
  openssl cms -verify -binary -inform DER -in "$WORK/after.txt.p7s" -content "$WORK/after.txt" \
    -CAfile "$WORK/root.pem" -purpose any -out /dev/null
stop_serve
expect_rc 0 "the restored log still verifies after signing" -- "$INKAN" audit verify

# Exported segments.
D=$WORK/data
export INKAN_DATA=$D
expect_rc 0 "audit export of entries 5..20" -- \
  "$INKAN" audit export --from 5 --to 20 --out "$WORK/seg.json"
mkdir "$WORK/elsewhere"
expect_rc 0 "the segment verifies alone (no data dir, no HSM)" -- \
  env -u INKAN_DATA -u SOFTHSM2_CONF bash -c "cd $WORK/elsewhere && $INKAN audit verify --segment $WORK/seg.json --audit-key $D/audit-key.pem"
expect_out "segment intact: entries 5\.\." "… as entries 5..M"
jq -c '.entries |= del(.[3])' "$WORK/seg.json" > "$WORK/seg-removed.json"
expect_rc 1 "a segment with an entry removed fails" -- "$INKAN" audit verify --segment "$WORK/seg-removed.json"
expect_out "does NOT verify" "… saying so"
jq -c '.entries[2] |= sub("\"time\":\"2"; "\"time\":\"1")' "$WORK/seg.json" > "$WORK/seg-changed.json"
cmp -s "$WORK/seg.json" "$WORK/seg-changed.json" && not_ok "jq changed nothing"
expect_rc 1 "a segment with an entry changed fails" -- "$INKAN" audit verify --segment "$WORK/seg-changed.json"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout > "$WORK/other.pub"
expect_rc 6 "a segment checked against another audit key is refused" -- \
  "$INKAN" audit verify --segment "$WORK/seg.json" --audit-key "$WORK/other.pub"
expect_rc 2 "audit export of an impossible range" -- "$INKAN" audit export --from 9 --to 3 --out "$WORK/x.json"
"$INKAN" audit show --count 1000000 | tail -1 | grep -q '"type":"audit.export"' \
  && ok "audit.export is on the log" || not_ok "no audit.export"

# Retention: nothing goes before its period ends.
expect_rc 0 "audit retention shows the policy and what may go" -- "$INKAN" audit retention
expect_out "audit records 10 years after" "… ten years by default"
expect_out "entry 1 is kept until 20(3[6-9]|[4-9][0-9])-" "… and entry 1 is kept for ten years and more"
expect_rc 7 "with the operators' quorum in place, a retention change is not made by one person" -- \
  "$INKAN" audit retention --audit-years 12
expect_out "ceremony propose retention.set" "… it says it is a ceremony"
expect_rc 2 "a retention period under 7 years is refused" -- \
  "$INKAN" ceremony propose retention.set --param audit_years=5 --operator alice --key "$K/alice.key"
RID=$("$INKAN" ceremony propose retention.set --param audit_years=12 --operator alice --key "$K/alice.key" | req)
"$INKAN" ceremony approve --id "$RID" --operator bob --key "$K/bob.key" >/dev/null
expect_rc 0 "retention.set runs with the quorum" -- "$INKAN" ceremony execute --id "$RID"
expect_rc 0 "… and the policy says 12 years" -- "$INKAN" audit retention
expect_out "audit records 12 years after" "… (12 years)"
BEFORE=$("$INKAN" audit show --count 1000000 | grep -vc '"type":"audit.prune"')
expect_rc 0 "audit prune before any period ended" -- "$INKAN" audit prune
expect_out "nothing to prune" "… prunes nothing"
[ "$("$INKAN" audit show --count 1000000 | grep -c '^{"data"')" = "$BEFORE" ] \
  && ok "… and no entry was blanked or added" || not_ok "prune changed the log"
expect_rc 0 "the original log verifies" -- "$INKAN" audit verify

finish
