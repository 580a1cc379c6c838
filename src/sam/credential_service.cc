#include "sam/credential_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/digest.h"

namespace inkan::sam {
namespace {

using audit::Event;

constexpr absl::string_view kMaxTriesKey = "policy.max_failed_tries";
constexpr absl::string_view kArgonTKey = "policy.argon2.t_cost";
constexpr absl::string_view kArgonMKey = "policy.argon2.m_cost_kib";
constexpr absl::string_view kArgonPKey = "policy.argon2.parallelism";

struct Limits {
  absl::string_view key;
  int64_t min;
  int64_t max;
};
constexpr Limits kLimits[] = {
    {kMaxTriesKey, 1, 100},
    {kArgonTKey, 1, 64},
    {kArgonMKey, 64, 4 * 1024 * 1024},  // 64 KiB .. 4 GiB
    {kArgonPKey, 1, 16},
};

absl::StatusOr<int64_t> ParseLimited(absl::string_view key,
                                     absl::string_view text) {
  for (const Limits& l : kLimits) {
    if (l.key != key) continue;
    int64_t v;
    if (!absl::SimpleAtoi(text, &v) || v < l.min || v > l.max) {
      return absl::InvalidArgumentError(absl::StrCat(
          key.substr(7), " must be an integer from ", l.min, " to ", l.max));
    }
    return v;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown policy key '", key.substr(7),
                   "' (use max_failed_tries, argon2.t_cost, argon2.m_cost_kib "
                   "or argon2.parallelism)"));
}

absl::StatusOr<int64_t> MetaInt(storage::Transaction& tx, absl::string_view key,
                                int64_t fallback) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, tx.GetMeta(key));
  if (!v) return fallback;
  auto parsed = ParseLimited(key, *v);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat(
        "stored ", key, " is unusable: ", parsed.status().message()));
  }
  return parsed;
}

absl::Status ValidateUserName(absl::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError("a user name has 1 to 128 characters");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "a user name may not contain control characters");
    }
  }
  return absl::OkStatus();
}

// The user's PIN check: a constant sealed under the PIN (see AddUser).
constexpr absl::string_view kPinCheckPlaintext = "inkan user PIN check v1";
std::string PinCheckId(absl::string_view user) {
  return absl::StrCat("user:", user);
}
std::string PinCheckKey(int64_t user_id) {
  return absl::StrCat("user.", user_id, ".pin_check");
}

absl::StatusOr<crypto::KeyAlgorithm> AlgorithmOf(
    const storage::CredentialRecord& cred) {
  auto alg = crypto::ParseKeyAlgorithm(cred.algorithm);
  if (!alg.ok())
    return absl::DataLossError("stored credential has an unknown algorithm");
  return alg;
}

}  // namespace

absl::StatusOr<Policy> LoadPolicy(storage::Transaction& tx) {
  Policy p;
  ASSIGN_OR_RETURN(int64_t tries,
                   MetaInt(tx, kMaxTriesKey, p.max_failed_tries));
  ASSIGN_OR_RETURN(int64_t t, MetaInt(tx, kArgonTKey, p.argon2.t_cost));
  ASSIGN_OR_RETURN(int64_t m, MetaInt(tx, kArgonMKey, p.argon2.m_cost_kib));
  ASSIGN_OR_RETURN(int64_t lanes,
                   MetaInt(tx, kArgonPKey, p.argon2.parallelism));
  p.max_failed_tries = static_cast<int>(tries);
  p.argon2 = {static_cast<uint32_t>(t), static_cast<uint32_t>(m),
              static_cast<uint32_t>(lanes)};
  if (p.argon2.m_cost_kib < 8 * p.argon2.parallelism) {
    return absl::InvalidArgumentError(
        "argon2.m_cost_kib must be at least 8 x parallelism");
  }
  return p;
}

absl::Status SetPolicy(storage::Store& store, const audit::AuditLog& log,
                       absl::string_view key, absl::string_view value,
                       absl::string_view actor) {
  std::string meta_key = absl::StrCat("policy.", key);
  ASSIGN_OR_RETURN(int64_t v, ParseLimited(meta_key, value));
  return audit::RunAudited(
      store, log, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> old, tx.GetMeta(meta_key));
        RETURN_IF_ERROR(tx.PutMeta(meta_key, absl::StrCat(v)));
        RETURN_IF_ERROR(
            LoadPolicy(tx).status());  // the combination must stay usable
        return log.Append(tx, Event{"config.change",
                                    {{"actor", std::string(actor)},
                                     {"key", std::string(key)},
                                     {"old", old.value_or("(default)")},
                                     {"new", absl::StrCat(v)}}});
      });
}

absl::StatusOr<int64_t> CredentialService::AddUser(absl::string_view name,
                                                   const SecretBytes& pin,
                                                   const Context& ctx) {
  RETURN_IF_ERROR(ValidateUserName(name));
  if (pin.size() < 4)
    return absl::InvalidArgumentError(
        "the PIN must have at least 4 characters");
  Policy policy;
  RETURN_IF_ERROR(store_.Transact(storage::TxMode::kReadOnly,
                                  [&](storage::Transaction& tx) {
                                    ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
                                    return absl::OkStatus();
                                  }));
  ASSIGN_OR_RETURN(
      std::string check,
      SealKey(keys_, PinCheckId(name), crypto::KeyAlgorithm::kEcP256,
              {pin, SecretBytes()}, policy.argon2, kPinCheckPlaintext));
  int64_t id = 0;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(id,
                         tx.InsertUser({0, std::string(name), clock_.Now()}));
        RETURN_IF_ERROR(tx.PutMeta(PinCheckKey(id), HexEncode(check)));
        return log_.Append(
            tx, Event{"user.add",
                      {{"actor", ctx.actor}, {"user", std::string(name)}}});
      }));
  return id;
}

absl::StatusOr<std::string> CredentialService::CreateCredential(
    absl::string_view user, crypto::KeyAlgorithm alg, const Factors& factors,
    const Context& ctx) {
  Policy policy;
  storage::UserRecord owner;
  std::string check_hex;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(owner, tx.GetUserByName(user));
        ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
        ASSIGN_OR_RETURN(std::optional<std::string> check,
                         tx.GetMeta(PinCheckKey(owner.id)));
        check_hex = check.value_or("");
        return absl::OkStatus();
      }));
  ASSIGN_OR_RETURN(std::string check, HexDecode(check_hex));
  auto checked =
      UnsealKey(keys_, PinCheckId(owner.name), crypto::KeyAlgorithm::kEcP256,
                {factors.pin, SecretBytes()}, check);
  if (!checked.ok()) {
    if (!absl::IsUnauthenticated(checked.status())) return checked.status();
    RETURN_IF_ERROR(
        audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
          return log_.Append(tx, Event{"user.pin.bad",
                                       {{"actor", ctx.actor},
                                        {"user", owner.name},
                                        {"operation", "credential.create"}}});
        }));
    return absl::UnauthenticatedError(
        absl::StrCat("wrong PIN for user ", owner.name));
  }
  ASSIGN_OR_RETURN(std::string id, RandomHexId(16));
  ASSIGN_OR_RETURN(hsm::WrappedKey key, keys_.GenerateWrappedKey(alg));
  storage::CredentialRecord cred;
  cred.id = id;
  cred.user_id = owner.id;
  cred.algorithm = std::string(crypto::KeyAlgorithmName(alg));
  cred.backend = std::string(keys_.backend());
  cred.public_key = key.public_key_der;
  ASSIGN_OR_RETURN(cred.sealed_key, SealKey(keys_, id, alg, factors,
                                            policy.argon2, key.wrapped));
  cred.created = clock_.Now();
  std::string factor_kinds =
      factors.possession.empty() ? "pin" : "pin+possession";
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.InsertCredential(cred));
        RETURN_IF_ERROR(log_.Append(
            tx, Event{"key.generate",
                      {{"actor", ctx.actor},
                       {"credential", id},
                       {"algorithm", cred.algorithm},
                       {"backend", cred.backend},
                       {"provisional", keys_.provisional()},
                       {"public_key_sha256",
                        HexEncode(crypto::Sha256(cred.public_key))}}}));
        RETURN_IF_ERROR(log_.Append(
            tx, Event{"key.seal",
                      {{"credential", id},
                       {"factors", factor_kinds},
                       {"argon2",
                        absl::StrCat("t=", policy.argon2.t_cost,
                                     ",m=", policy.argon2.m_cost_kib,
                                     ",p=", policy.argon2.parallelism)}}}));
        return log_.Append(tx, Event{"credential.create",
                                     {{"actor", ctx.actor},
                                      {"credential", id},
                                      {"user", owner.name}}});
      }));
  return id;
}

absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> CredentialService::Activate(
    absl::string_view credential_id, const Factors& factors,
    const Context& ctx) {
  // 1. Take one try from the budget (or refuse a locked credential).
  storage::CredentialRecord cred;
  Policy policy;
  bool was_locked = false;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadWrite, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(cred, tx.GetCredential(credential_id));
        ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
        was_locked = cred.locked;
        if (was_locked) return absl::OkStatus();
        return tx.UpdateCredentialTries(credential_id, cred.failed_tries + 1,
                                        false);
      }));
  if (was_locked) {
    RETURN_IF_ERROR(
        audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
          return log_.Append(tx, Event{"key.unseal.refused",
                                       {{"actor", ctx.actor},
                                        {"credential", cred.id},
                                        {"reason", "locked"}}});
        }));
    return absl::PermissionDeniedError(absl::StrCat(
        "credential ", cred.id, " is locked after too many failed attempts"));
  }
  ASSIGN_OR_RETURN(crypto::KeyAlgorithm alg, AlgorithmOf(cred));

  // 2. Unseal with the factors (slow: Argon2id; outside any transaction).
  auto wrapped = UnsealKey(keys_, cred.id, alg, factors, cred.sealed_key);
  if (absl::IsUnauthenticated(wrapped.status())) {
    int tries = 0;
    bool locked = false;
    RETURN_IF_ERROR(audit::RunAudited(
        store_, log_, [&](storage::Transaction& tx) -> absl::Status {
          ASSIGN_OR_RETURN(storage::CredentialRecord now,
                           tx.GetCredential(credential_id));
          tries = now.failed_tries;
          locked = now.locked || tries >= policy.max_failed_tries;
          RETURN_IF_ERROR(
              tx.UpdateCredentialTries(credential_id, tries, locked));
          RETURN_IF_ERROR(
              log_.Append(tx, Event{"key.unseal.failed",
                                    {{"actor", ctx.actor},
                                     {"credential", cred.id},
                                     {"reason", "bad_factors"},
                                     {"failed_tries", int64_t{tries}}}}));
          if (locked && !now.locked) {
            RETURN_IF_ERROR(
                log_.Append(tx, Event{"credential.lock",
                                      {{"credential", cred.id},
                                       {"failed_tries", int64_t{tries}}}}));
          }
          return absl::OkStatus();
        }));
    if (locked) {
      return absl::PermissionDeniedError(
          absl::StrCat("wrong PIN or possession factor; credential ", cred.id,
                       " is now locked"));
    }
    return absl::UnauthenticatedError(absl::StrCat(
        "wrong PIN or possession factor; ", policy.max_failed_tries - tries,
        " tries left before the credential locks"));
  }
  // Any other failure was not the user's: give the try back.
  auto give_back = [&](absl::Status cause) {
    (void)store_.Transact(
        storage::TxMode::kReadWrite, [&](storage::Transaction& tx) {
          ASSIGN_OR_RETURN(storage::CredentialRecord now,
                           tx.GetCredential(credential_id));
          return tx.UpdateCredentialTries(
              credential_id, std::max(0, now.failed_tries - 1), now.locked);
        });
    return cause;
  };
  if (!wrapped.ok()) return give_back(wrapped.status());

  // 3. Unwrap inside the HSM; then give the try back and record the unseal.
  auto active = keys_.Activate(alg, *wrapped);
  if (!active.ok()) return give_back(active.status());
  RETURN_IF_ERROR(
      audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
        RETURN_IF_ERROR(tx.UpdateCredentialTries(credential_id, 0, false));
        return log_.Append(
            tx, Event{"key.unseal",
                      {{"actor", ctx.actor}, {"credential", cred.id}}});
      }));
  return active;
}

absl::StatusOr<std::string> CredentialService::SignWithActiveKey(
    hsm::ActiveKey& key, absl::string_view credential_id,
    const crypto::SignatureScheme& scheme, absl::string_view digest,
    const Context& ctx) {
  ASSIGN_OR_RETURN(std::string sig, key.Sign(scheme, digest));
  std::string scheme_name =
      crypto::IsRsa(scheme.key)
          ? absl::StrCat(scheme.padding == crypto::RsaPadding::kPss
                             ? "rsa-pss-"
                             : "rsa-pkcs1-",
                         crypto::HashAlgorithmName(scheme.hash))
          : (scheme.key == crypto::KeyAlgorithm::kEd25519
                 ? std::string("ed25519")
                 : absl::StrCat("ecdsa-",
                                crypto::HashAlgorithmName(scheme.hash)));
  RETURN_IF_ERROR(
      audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
        return log_.Append(tx,
                           Event{"signature.create",
                                 {{"actor", ctx.actor},
                                  {"credential", std::string(credential_id)},
                                  {"scheme", scheme_name},
                                  {"digest", HexEncode(digest)}}});
      }));
  return sig;
}

absl::StatusOr<std::string> CredentialService::SignDigest(
    absl::string_view credential_id, const Factors& factors,
    crypto::HashAlgorithm hash, crypto::RsaPadding padding,
    absl::string_view digest, const Context& ctx) {
  if (digest.size() != crypto::DigestLength(hash)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the hash must be ", crypto::DigestLength(hash),
                     " bytes for ", crypto::HashAlgorithmName(hash)));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::ActiveKey> key,
                   Activate(credential_id, factors, ctx));
  return SignWithActiveKey(*key, credential_id,
                           {key->algorithm(), hash, padding}, digest, ctx);
}

}  // namespace inkan::sam
