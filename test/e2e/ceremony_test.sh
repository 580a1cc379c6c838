#!/usr/bin/env bash
# Multi-person control end to end: operators with their own keys (made by
# openssl, one signature made outside inkan), k-of-n approval, execution once,
# refusals on the log, and a locked credential unlocked only by a ceremony.
. "$(dirname "$0")/lib.sh"
D=$WORK/data
export INKAN_DATA=$D
K=$WORK/keys
mkdir -p "$K"
for who in alice carol mallory; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/$who.key" 2>/dev/null
  openssl pkey -in "$K/$who.key" -pubout -out "$K/$who.pub"
done
openssl genpkey -algorithm ED25519 -out "$K/bob.key"
openssl pkey -in "$K/bob.key" -pubout -out "$K/bob.pub"

expect_rc 0 "init with a quorum of 2" -- "$INKAN" init --quorum 2 \
  --policy argon2.m_cost_kib=1024 --policy argon2.t_cost=1 --policy max_failed_tries=2
expect_rc 0 "bootstrap: alice (P-256)" -- "$INKAN" operator add alice --public-key "$K/alice.pub"
expect_rc 0 "bootstrap: bob (Ed25519)" -- "$INKAN" operator add bob --public-key "$K/bob.pub"
expect_rc 7 "a third operator is no longer added directly" -- \
  "$INKAN" operator add carol --public-key "$K/carol.pub"
expect_out "ceremony" "… and the error says to use a ceremony"
expect_rc 2 "an RSA operator key is refused" -- bash -c \
  "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null | openssl pkey -pubout > '$K/rsa.pub'; \
   '$INKAN' ceremony propose operator.add --param name=rsa --param public_key=@'$K/rsa.pub'"
expect_rc 7 "direct policy changes are refused once the quorum is in place" -- \
  "$INKAN" config set max_failed_tries 9

OUT=$("$INKAN" ceremony propose operator.add --param name=carol --param public_key=@"$K/carol.pub" \
        --operator alice --key "$K/alice.key" 2>&1)
ID=$(echo "$OUT" | sed -n 's/^request //p')
[[ "$ID" =~ ^[0-9a-f]{64}$ ]] && ok "propose prints the request id (alice approves as proposer)" \
  || not_ok "propose: $OUT"
expect_rc 7 "execute with 1 of 2 approvals is refused" -- "$INKAN" ceremony execute --id "$ID"
expect_out "1 of the 2" "… and says how many are missing"
expect_rc 6 "a non-operator cannot approve" -- \
  "$INKAN" ceremony approve --id "$ID" --operator mallory --key "$K/mallory.key"
expect_rc 6 "an operator's name with someone else's key is refused" -- \
  "$INKAN" ceremony approve --id "$ID" --operator bob --key "$K/mallory.key"
expect_rc 4 "a second approval by alice is refused" -- \
  "$INKAN" ceremony approve --id "$ID" --operator alice --key "$K/alice.key"
# bob signs on his own machine, with openssl, the exact bytes inkan shows.
"$INKAN" ceremony show --id "$ID" > "$WORK/req.json"
openssl pkeyutl -sign -inkey "$K/bob.key" -rawin -in "$WORK/req.json" -out "$WORK/bob.sig"
expect_rc 0 "bob's approval, signed outside inkan with openssl" -- \
  "$INKAN" ceremony approve --id "$ID" --operator bob --signature "$WORK/bob.sig"
expect_out "2 of 2" "… brings it to 2 of 2"
expect_rc 0 "execute with the quorum" -- "$INKAN" ceremony execute --id "$ID"
expect_out "carol added" "… adds carol"
expect_rc 7 "a request runs only once" -- "$INKAN" ceremony execute --id "$ID"
OUT=$("$INKAN" operator list)
expect_out "carol	active" "carol is an active operator"

# A request changed in the database no longer matches its id.
ID2=$("$INKAN" ceremony propose quorum.set --param k=3 | sed -n 's/^request //p')
sqlite3 "$D/inkan.db" "UPDATE ceremony_requests SET canonical = replace(canonical, '\"p.k\":\"3\"', '\"p.k\":\"2\"') WHERE id = '$ID2'"
expect_rc 1 "an altered request is refused" -- \
  "$INKAN" ceremony approve --id "$ID2" --operator alice --key "$K/alice.key"
expect_out "does not match its id" "… because it no longer matches its id"

# Cancel: one operator's signature; a non-operator's is refused.
ID3=$("$INKAN" ceremony propose policy.set --param key=max_failed_tries --param value=4 | sed -n 's/^request //p')
expect_rc 6 "a non-operator cannot cancel" -- \
  "$INKAN" ceremony cancel --id "$ID3" --operator mallory --key "$K/mallory.key"
expect_rc 0 "carol cancels" -- "$INKAN" ceremony cancel --id "$ID3" --operator carol --key "$K/carol.key"
expect_rc 7 "a cancelled request cannot be approved" -- \
  "$INKAN" ceremony approve --id "$ID3" --operator alice --key "$K/alice.key"

# A locked credential comes back only through a ceremony.
echo 135790 | "$INKAN" user add dora >/dev/null
CRED=$(echo 135790 | "$INKAN" credential create --user dora --alg ec-p256)
H=$(printf x | openssl dgst -sha256 -r | cut -d' ' -f1)
echo 000000 | "$INKAN" credential sign --id "$CRED" --hash "$H" >/dev/null 2>&1
expect_rc 6 "the credential locks after 2 wrong PINs" -- \
  bash -c "echo 000001 | '$INKAN' credential sign --id $CRED --hash $H"
U=$("$INKAN" ceremony propose credential.unlock --param credential="$CRED" \
      --operator carol --key "$K/carol.key" | sed -n 's/^request //p')
expect_rc 0 "bob approves the unlock" -- "$INKAN" ceremony approve --id "$U" --operator bob --key "$K/bob.key"
expect_rc 0 "the unlock runs" -- "$INKAN" ceremony execute --id "$U"
expect_rc 0 "dora signs again" -- bash -c "echo 135790 | '$INKAN' credential sign --id $CRED --hash $H"

# Deactivating operator rows does not reopen the bootstrap.
sqlite3 "$D/inkan.db" "UPDATE operators SET active=0 WHERE name IN ('bob','carol')"
expect_rc 7 "the bootstrap stays closed when operator rows are edited" -- \
  "$INKAN" operator add mallory --public-key "$K/mallory.pub"
sqlite3 "$D/inkan.db" "UPDATE operators SET active=1 WHERE name IN ('bob','carol')"

# Someone with the database cannot replay an executed request by resetting
# its row, nor swap the operation an approved request runs.
sqlite3 "$D/inkan.db" "UPDATE ceremony_requests SET state='pending', closed_us=NULL WHERE id='$U'"
expect_rc 1 "an executed request reset to pending does not run again" -- "$INKAN" ceremony execute --id "$U"
expect_out "records request" "… because the audit log records it as executed"
P=$("$INKAN" ceremony propose policy.set --param key=max_failed_tries --param value=3 \
      --operator alice --key "$K/alice.key" | sed -n 's/^request //p')
"$INKAN" ceremony approve --id "$P" --operator bob --key "$K/bob.key" >/dev/null
sqlite3 "$D/inkan.db" "UPDATE ceremony_requests SET operation='operator.remove' WHERE id='$P'"
expect_rc 1 "an approved request whose operation column was swapped is refused" -- \
  "$INKAN" ceremony execute --id "$P"
expect_out "signed text" "… because the row no longer matches the signed text"
sqlite3 "$D/inkan.db" "UPDATE ceremony_requests SET operation='policy.set' WHERE id='$P'"
expect_rc 0 "restored, the approved request runs" -- "$INKAN" ceremony execute --id "$P"

expect_rc 0 "the audit log verifies" -- "$INKAN" audit verify
OUT=$("$INKAN" audit show --count 1000)
for ev in operator.add ceremony.propose ceremony.approve ceremony.approve.refused \
          ceremony.execute ceremony.execute.refused ceremony.cancel ceremony.cancel.refused \
          credential.unlock; do
  expect_out "\"type\":\"$ev\"" "$ev is on the audit log"
done
finish
