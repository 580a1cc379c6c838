#include "ceremony/custody.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/canonical_json.h"
#include "ceremony/sealed_share.h"
#include "ceremony/share_codec.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/signer.h"

namespace inkan::ceremony {
namespace {

bool IsP256(absl::string_view spki) {
  return crypto::NewVerifier(spki, {crypto::KeyAlgorithm::kEcP256,
                                    crypto::HashAlgorithm::kSha256})
      .ok();
}

// Splits `kek` and hands each custodian their share.
absl::StatusOr<NewCustody> Split(
    const SecretBytes& kek, Custody base,
    absl::Span<const storage::OperatorRecord> custodians, int k) {
  int n = static_cast<int>(custodians.size());
  if (k < 2 || k > n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the threshold must be from 2 to the number of custodians (", n, ")"));
  }
  std::set<std::string> names;
  for (const auto& c : custodians) {
    if (!names.insert(c.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("custodian ", c.name, " is named twice"));
    }
  }
  ASSIGN_OR_RETURN(std::vector<Share> shares, SplitSecret(kek, k, n));
  NewCustody out;
  base.set_id = shares[0].set_id;
  base.threshold = k;
  base.shares.clear();
  for (int i = 0; i < n; ++i) {
    CustodianShare cs;
    cs.custodian = custodians[i].name;
    cs.index = shares[i].index;
    cs.commitment = ShareCommitment(shares[i]);
    if (IsP256(custodians[i].public_key)) {
      ASSIGN_OR_RETURN(cs.sealed,
                       SealShare(shares[i], custodians[i].public_key));
    } else {
      ASSIGN_OR_RETURN(SecretBytes text, EncodeShare(shares[i]));
      out.text_shares.emplace(cs.custodian, std::move(text));
    }
    base.shares.push_back(std::move(cs));
  }
  out.custody = std::move(base);
  return out;
}

absl::StatusOr<SecretBytes> CombineChecked(const Custody& custody,
                                           absl::Span<const Share> shares) {
  std::vector<Share> good;
  std::set<int> seen;
  for (const Share& s : shares) {
    RETURN_IF_ERROR(CheckShare(custody, s));
    if (seen.insert(s.index).second) good.push_back(s);
  }
  if (static_cast<int>(good.size()) < custody.threshold) {
    return absl::FailedPreconditionError(
        absl::StrCat(good.size(), " distinct shares given; ", custody.threshold,
                     " are needed"));
  }
  return CombineShares(good);
}

}  // namespace

namespace {

// The outer layer: the HSM-wrapped key, AEAD-sealed under the split KEK and
// bound to the algorithm and public key.
std::string OuterAad(const Custody& c) {
  return absl::StrCat("inkan-custody-v1|", crypto::KeyAlgorithmName(c.alg), "|",
                      HexEncode(crypto::Sha256(c.public_key_der)));
}

absl::StatusOr<SecretBytes> OpenOuter(const Custody& c,
                                      const SecretBytes& kek) {
  auto inner = crypto::AeadOpen(kek, c.wrapped, OuterAad(c));
  if (absl::IsUnauthenticated(inner.status())) {
    return absl::DataLossError(
        "the shares combine to a KEK that does not open the custody record: "
        "the record or "
        "the commitments were altered");
  }
  return inner;
}

}  // namespace

absl::StatusOr<NewCustody> CreateCustody(
    hsm::KeyStore& keys, crypto::KeyAlgorithm alg,
    absl::Span<const storage::OperatorRecord> custodians, int k) {
  // Inner layer: wrapped inside the HSM under its CA KEK, so nothing outside
  // the HSM (not even all the shares together) yields the key.
  ASSIGN_OR_RETURN(hsm::WrappedKey key, keys.GenerateCaKey(alg));
  ASSIGN_OR_RETURN(SecretBytes kek, RandomSecret(32));
  Custody base;
  base.alg = alg;
  base.public_key_der = key.public_key_der;
  ASSIGN_OR_RETURN(base.wrapped,
                   crypto::AeadSeal(kek, key.wrapped, OuterAad(base)));
  ASSIGN_OR_RETURN(NewCustody out, Split(kek, std::move(base), custodians, k));
  ASSIGN_OR_RETURN(out.key, keys.ActivateCaKey(alg, key.wrapped));
  return out;
}

absl::StatusOr<NewCustody> Reshare(
    const Custody& current, absl::Span<const Share> shares,
    absl::Span<const storage::OperatorRecord> custodians, int k,
    std::vector<Custody>* companions) {
  ASSIGN_OR_RETURN(SecretBytes old_kek, CombineChecked(current, shares));
  ASSIGN_OR_RETURN(SecretBytes inner, OpenOuter(current, old_kek));
  // A new KEK: the old shares open nothing from now on, not even with a copy
  // of the new record.
  ASSIGN_OR_RETURN(SecretBytes kek, RandomSecret(32));
  Custody next = current;
  ASSIGN_OR_RETURN(next.wrapped, crypto::AeadSeal(kek, inner, OuterAad(next)));
  ASSIGN_OR_RETURN(NewCustody out, Split(kek, std::move(next), custodians, k));
  if (companions != nullptr) {
    for (Custody& c : *companions) {
      if (c.set_id != current.set_id ||
          c.public_key_der != current.public_key_der) {
        return absl::InvalidArgumentError(
            "a copy of the CA key in custody belongs to another split or key");
      }
      ASSIGN_OR_RETURN(SecretBytes copy_inner, OpenOuter(c, old_kek));
      Custody resealed = out.custody;
      ASSIGN_OR_RETURN(resealed.wrapped,
                       crypto::AeadSeal(kek, copy_inner, OuterAad(resealed)));
      c = std::move(resealed);
    }
  }
  return out;
}

absl::StatusOr<Custody> CopyCustody(hsm::KeyStore& from, const Custody& custody,
                                    absl::Span<const Share> shares,
                                    hsm::KeyStore& to) {
  ASSIGN_OR_RETURN(SecretBytes kek, CombineChecked(custody, shares));
  ASSIGN_OR_RETURN(SecretBytes inner, OpenOuter(custody, kek));
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::KeyStore::TransportKey> transport,
                   to.NewTransportKey());
  auto blob = from.ExportCaKey(custody.alg, inner, transport->public_key_der());
  if (absl::IsFailedPrecondition(blob.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("the source HSM cannot open this copy of the CA key: ",
                     blob.status().message()));
  }
  RETURN_IF_ERROR(blob.status());
  ASSIGN_OR_RETURN(SecretBytes moved,
                   transport->ImportCaKey(custody.alg, *blob));
  // The copy must be the key in custody: sign with it and check the
  // signature against the recorded public key before anything relies on it.
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::ActiveKey> active,
                   to.ActivateCaKey(custody.alg, moved));
  crypto::SignatureScheme scheme{custody.alg, crypto::HashAlgorithm::kSha256};
  std::string digest = crypto::Sha256(custody.set_id);
  ASSIGN_OR_RETURN(std::string sig, active->Sign(scheme, digest));
  ASSIGN_OR_RETURN(auto verifier,
                   crypto::NewVerifier(custody.public_key_der, scheme));
  if (!verifier->VerifyDigest(digest, sig).ok()) {
    return absl::DataLossError(
        "the copied CA key does not match the public key in custody");
  }
  Custody out = custody;
  ASSIGN_OR_RETURN(out.wrapped, crypto::AeadSeal(kek, moved, OuterAad(out)));
  return out;
}

absl::Status CheckShare(const Custody& custody, const Share& share) {
  std::string who = absl::StrCat("share ", int{share.index});
  if (share.set_id != custody.set_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, " belongs to split ", share.set_id, ", not the current one (",
        custody.set_id, "): it was voided by a rekey or is from another CA"));
  }
  for (const CustodianShare& cs : custody.shares) {
    if (cs.index != share.index) continue;
    if (!VerifyShareCommitment(share, cs.commitment).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, " (custodian ", cs.custodian,
                       ") does not match its commitment: it was altered"));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(who, " is not part of this split"));
}

absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> Activate(
    hsm::KeyStore& keys, const Custody& custody,
    absl::Span<const Share> shares) {
  ASSIGN_OR_RETURN(SecretBytes kek, CombineChecked(custody, shares));
  ASSIGN_OR_RETURN(SecretBytes inner, OpenOuter(custody, kek));
  auto active = keys.ActivateCaKey(custody.alg, inner);
  if (absl::IsInvalidArgument(active.status())) {
    return absl::FailedPreconditionError(
        "the CA key was wrapped by another HSM's CA KEK: restore onto the HSM "
        "that made it, or from the backup token");
  }
  return active;
}

absl::StatusOr<std::string> CustodyToJson(const Custody& custody) {
  std::vector<audit::Field> fields = {
      {"alg", std::string(crypto::KeyAlgorithmName(custody.alg))},
      {"public_key", Base64Encode(custody.public_key_der)},
      {"wrapped", Base64Encode(custody.wrapped)},
      {"set_id", custody.set_id},
      {"k", int64_t{custody.threshold}},
      {"n", static_cast<int64_t>(custody.shares.size())}};
  for (const CustodianShare& cs : custody.shares) {
    std::string p = absl::StrCat("s.", cs.index, ".");
    fields.push_back({p + "custodian", cs.custodian});
    fields.push_back({p + "commitment", HexEncode(cs.commitment)});
    fields.push_back({p + "sealed", cs.sealed});
  }
  return audit::CanonicalObject(fields);
}

absl::Status SaveCustody(storage::Transaction& tx, absl::string_view key,
                         const Custody& custody) {
  ASSIGN_OR_RETURN(std::string text, CustodyToJson(custody));
  return tx.PutMeta(key, text);
}

absl::StatusOr<Custody> LoadCustody(storage::Transaction& tx,
                                    absl::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, tx.GetMeta(key));
  if (!text)
    return absl::NotFoundError(absl::StrCat("no key in custody under ", key));
  return CustodyFromJson(*text, key);
}

absl::StatusOr<Custody> CustodyFromJson(absl::string_view text,
                                        absl::string_view key) {
  auto fields = audit::ParseFlatObject(text);
  if (!fields.ok())
    return absl::DataLossError(absl::StrCat(key, " does not parse"));
  std::map<std::string, std::string> m;
  for (const auto& f : *fields) {
    if (auto* s = std::get_if<std::string>(&f.value)) m[f.key] = *s;
    if (auto* i = std::get_if<int64_t>(&f.value)) m[f.key] = absl::StrCat(*i);
  }
  if (m.count("destroyed")) {
    return absl::NotFoundError(
        absl::StrCat("the key in custody under ", key, " was destroyed at ",
                     m["destroyed"], "; its shares are void"));
  }
  Custody c;
  auto alg = crypto::ParseKeyAlgorithm(m["alg"]);
  auto pub = Base64Decode(m["public_key"]);
  auto wrapped = Base64Decode(m["wrapped"]);
  int n = 0;
  if (!alg.ok() || !pub.ok() || !wrapped.ok() ||
      !absl::SimpleAtoi(m["k"], &c.threshold) ||
      !absl::SimpleAtoi(m["n"], &n) || n < c.threshold || n > kMaxShares ||
      c.threshold < kMinThreshold) {
    return absl::DataLossError(absl::StrCat(key, " is malformed"));
  }
  c.alg = *alg;
  c.public_key_der = *pub;
  c.wrapped = *wrapped;
  c.set_id = m["set_id"];
  for (const auto& [k, v] : m) {
    if (k.rfind("s.", 0) != 0 || k.size() < 12 ||
        k.substr(k.size() - 10) != ".custodian") {
      continue;
    }
    CustodianShare cs;
    if (!absl::SimpleAtoi(k.substr(2, k.size() - 12), &cs.index)) {
      return absl::DataLossError(
          absl::StrCat(key, " has a malformed share entry"));
    }
    std::string p = absl::StrCat("s.", cs.index, ".");
    cs.custodian = v;
    auto commitment = HexDecode(m[p + "commitment"]);
    if (!commitment.ok())
      return absl::DataLossError(absl::StrCat(key, " has a bad commitment"));
    cs.commitment = *commitment;
    cs.sealed = m[p + "sealed"];
    c.shares.push_back(std::move(cs));
  }
  if (static_cast<int>(c.shares.size()) != n) {
    return absl::DataLossError(
        absl::StrCat(key, " lists ", c.shares.size(), " of ", n, " shares"));
  }
  std::sort(c.shares.begin(), c.shares.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  return c;
}

}  // namespace inkan::ceremony
