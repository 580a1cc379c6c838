#include "sam/credential_service.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/signer.h"
#include "sam/totp.h"
#include "storage/credential_meta.h"

namespace inkan::sam {
namespace {

using audit::Event;
using audit::Field;

constexpr absl::string_view kMaxTriesKey = "policy.max_failed_tries";
constexpr absl::string_view kMinPinKey = "policy.min_pin_length";
constexpr absl::string_view kArgonTKey = "policy.argon2.t_cost";
constexpr absl::string_view kArgonMKey = "policy.argon2.m_cost_kib";
constexpr absl::string_view kArgonPKey = "policy.argon2.parallelism";

struct Limits {
  absl::string_view key;
  int64_t min;
  int64_t max;
};
// The Argon2 bounds are those of CheckArgon2Params (sealed_key.h).
constexpr Limits kLimits[] = {
    {kMaxTriesKey, 1, 100},        {kMinPinKey, 4, 64}, {kArgonTKey, 1, 16},
    {kArgonMKey, 64, 1024 * 1024}, {kArgonPKey, 1, 8},
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
                   "' (use max_failed_tries, min_pin_length, argon2.t_cost, "
                   "argon2.m_cost_kib or "
                   "argon2.parallelism)"));
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

absl::StatusOr<crypto::KeyAlgorithm> AlgorithmOf(
    const storage::CredentialRecord& cred) {
  auto alg = crypto::ParseKeyAlgorithm(cred.algorithm);
  if (!alg.ok())
    return absl::DataLossError("stored credential has an unknown algorithm");
  return alg;
}

// ---- The user's PIN check ---------------------------------------------------

// A constant sealed under the user's PIN (see AddUser).
const SecretBytes& PinCheckPlaintext() {
  static const SecretBytes* p =
      new SecretBytes(absl::string_view("inkan user PIN check v1"));
  return *p;
}
SealBinding PinCheckBinding(const storage::UserRecord& user) {
  return {absl::StrCat("user:", user.name), crypto::KeyAlgorithm::kEcP256,
          user.id, ""};
}
std::string UserMetaKey(int64_t user_id, absl::string_view what) {
  return absl::StrCat("user.", user_id, ".", what);
}

// ---- Try budgets ------------------------------------------------------------

struct TryState {
  int failed = 0;
  bool locked = false;
};

// Where a budget lives, and what its events are called.
class TryBudget {
 public:
  virtual ~TryBudget() = default;
  virtual absl::StatusOr<TryState> Read(storage::Transaction& tx) = 0;
  virtual absl::Status Write(storage::Transaction& tx, TryState state) = 0;
  // The subject's fields on every event ("credential": id, or "user": name).
  virtual std::vector<Field> Subject() const = 0;
  virtual absl::string_view what()
      const = 0;  // "credential ab12…", "the PIN of alice"
  absl::string_view ok_event, failed_event, lock_event, refused_event;
};

class CredentialBudget : public TryBudget {
 public:
  explicit CredentialBudget(std::string id)
      : id_(std::move(id)), what_("credential " + id_) {
    ok_event = "key.unseal";
    failed_event = "key.unseal.failed";
    lock_event = "credential.lock";
    refused_event = "key.unseal.refused";
  }
  absl::StatusOr<TryState> Read(storage::Transaction& tx) override {
    ASSIGN_OR_RETURN(storage::CredentialRecord c, tx.GetCredential(id_));
    return TryState{c.failed_tries, c.locked};
  }
  absl::Status Write(storage::Transaction& tx, TryState s) override {
    return tx.UpdateCredentialTries(id_, s.failed, s.locked);
  }
  std::vector<Field> Subject() const override { return {{"credential", id_}}; }
  absl::string_view what() const override { return what_; }

 private:
  std::string id_, what_;
};

class UserPinBudget : public TryBudget {
 public:
  explicit UserPinBudget(const storage::UserRecord& user)
      : id_(user.id), name_(user.name), what_("the PIN of user " + user.name) {
    ok_event = "user.pin.ok";
    failed_event = "user.pin.bad";
    lock_event = "user.lock";
    refused_event = "user.pin.refused";
  }
  absl::StatusOr<TryState> Read(storage::Transaction& tx) override {
    ASSIGN_OR_RETURN(auto failed, tx.GetMeta(UserMetaKey(id_, "failed_tries")));
    ASSIGN_OR_RETURN(auto locked, tx.GetMeta(UserMetaKey(id_, "locked")));
    TryState s;
    if (failed && !absl::SimpleAtoi(*failed, &s.failed)) {
      return absl::DataLossError("stored user try counter is unusable");
    }
    s.locked = locked.value_or("0") == "1";
    return s;
  }
  absl::Status Write(storage::Transaction& tx, TryState s) override {
    RETURN_IF_ERROR(
        tx.PutMeta(UserMetaKey(id_, "failed_tries"), absl::StrCat(s.failed)));
    return tx.PutMeta(UserMetaKey(id_, "locked"), s.locked ? "1" : "0");
  }
  std::vector<Field> Subject() const override { return {{"user", name_}}; }
  absl::string_view what() const override { return what_; }

 private:
  int64_t id_;
  std::string name_, what_;
};

// A possession factor's own budget (the factors table).
class FactorBudget : public TryBudget {
 public:
  FactorBudget(const storage::UserRecord& user, std::string kind)
      : id_(user.id),
        name_(user.name),
        kind_(std::move(kind)),
        what_(absl::StrCat("the ", kind_, " factor of user ", user.name)) {
    ok_event = "factor.ok";
    failed_event = "factor.bad";
    lock_event = "factor.lock";
    refused_event = "factor.refused";
  }
  absl::StatusOr<TryState> Read(storage::Transaction& tx) override {
    ASSIGN_OR_RETURN(storage::FactorRecord f, tx.GetFactor(id_, kind_));
    return TryState{f.failed_tries, f.locked};
  }
  absl::Status Write(storage::Transaction& tx, TryState s) override {
    ASSIGN_OR_RETURN(storage::FactorRecord f, tx.GetFactor(id_, kind_));
    return tx.UpdateFactorState(id_, kind_, f.last_step, s.failed, s.locked);
  }
  std::vector<Field> Subject() const override {
    return {{"user", name_}, {"factor", kind_}};
  }
  absl::string_view what() const override { return what_; }

 private:
  int64_t id_;
  std::string name_, kind_, what_;
};

// The key that seals a user's TOTP secret in the store: derived through the
// HSM's pepper, so the database alone does not yield the secret.
absl::StatusOr<SecretBytes> TotpSealKey(hsm::KeyStore& keys, int64_t user_id) {
  ASSIGN_OR_RETURN(
      SecretBytes peppered,
      keys.Pepper(SecretBytes(absl::StrCat("inkan.totp.v1|", user_id))));
  return crypto::HkdfSha256(peppered, "", "inkan totp seal", 32);
}

std::string TotpAad(int64_t user_id) {
  return absl::StrCat("inkan.totp.v1|user:", user_id);
}

Event MakeEvent(absl::string_view type, const TryBudget& budget,
                const Context& ctx, std::vector<Field> more = {}) {
  Event e{std::string(type), {{"actor", ctx.actor}}};
  for (Field& f : budget.Subject()) e.data.push_back(std::move(f));
  for (Field& f : more) e.data.push_back(std::move(f));
  return e;
}

// Runs `check` (slow, outside any transaction) under `budget`. `check`
// returns Unauthenticated for wrong factors; any other error is not the
// user's and gives the try back. On success the ok-event is recorded and
// `on_success` runs in the same transaction.
absl::Status GuardedAttempt(
    storage::Store& store, const audit::AuditLog& log, TryBudget& budget,
    int max_tries, const Context& ctx, absl::FunctionRef<absl::Status()> check,
    absl::FunctionRef<absl::Status(storage::Transaction&)> on_success) {
  // 1. Take a try, or refuse.
  TryState before;
  enum { kGo, kLocked, kBusy } verdict = kGo;
  RETURN_IF_ERROR(store.Transact(
      storage::TxMode::kReadWrite, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(before, budget.Read(tx));
        if (before.locked) {
          verdict = kLocked;
          return absl::OkStatus();
        }
        if (before.failed >=
            max_tries) {  // the rest is taken by attempts in flight
          verdict = kBusy;
          return absl::OkStatus();
        }
        return budget.Write(tx, {before.failed + 1, false});
      }));
  if (verdict != kGo) {
    const char* reason = verdict == kLocked ? "locked" : "attempts_in_flight";
    RETURN_IF_ERROR(
        audit::RunAudited(store, log, [&](storage::Transaction& tx) {
          return log.Append(tx, MakeEvent(budget.refused_event, budget, ctx,
                                          {{"reason", reason}}));
        }));
    if (verdict == kLocked) {
      return absl::PermissionDeniedError(absl::StrCat(
          budget.what(), " is locked after too many failed attempts"));
    }
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many attempts on ", budget.what(), " are in progress; try again"));
  }

  // 2. Check the factors.
  absl::Status result = check();

  // 3a. Wrong factors: the try stays taken; lock when the budget is spent.
  if (absl::IsUnauthenticated(result)) {
    TryState now;
    bool newly_locked = false;
    RETURN_IF_ERROR(audit::RunAudited(
        store, log, [&](storage::Transaction& tx) -> absl::Status {
          ASSIGN_OR_RETURN(now, budget.Read(tx));
          newly_locked = !now.locked && now.failed >= max_tries;
          now.locked = now.locked || newly_locked;
          RETURN_IF_ERROR(budget.Write(tx, now));
          RETURN_IF_ERROR(log.Append(
              tx, MakeEvent(budget.failed_event, budget, ctx,
                            {{"reason", "bad_factors"},
                             {"failed_tries", int64_t{now.failed}}})));
          if (newly_locked) {
            RETURN_IF_ERROR(log.Append(
                tx, MakeEvent(budget.lock_event, budget, ctx,
                              {{"failed_tries", int64_t{now.failed}}})));
          }
          return absl::OkStatus();
        }));
    if (now.locked) {
      return absl::PermissionDeniedError(absl::StrCat(
          result.message(), "; ", budget.what(), " is now locked"));
    }
    return absl::UnauthenticatedError(
        absl::StrCat(result.message(), "; ", max_tries - now.failed,
                     " tries left before ", budget.what(), " locks"));
  }
  // 3b. Not the user's fault (HSM down, bad data): give the try back.
  if (!result.ok()) {
    (void)store.Transact(
        storage::TxMode::kReadWrite, [&](storage::Transaction& tx) {
          ASSIGN_OR_RETURN(TryState now, budget.Read(tx));
          return budget.Write(tx, {std::max(0, now.failed - 1), now.locked});
        });
    return result;
  }
  // 3c. Right factors: forgive the failures before this attempt (and its own
  // try), keep those made meanwhile, and never clear a lock set meanwhile.
  bool locked_meanwhile = false;
  RETURN_IF_ERROR(audit::RunAudited(
      store, log, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(TryState now, budget.Read(tx));
        if (now.locked) {
          locked_meanwhile = true;
          return log.Append(tx, MakeEvent(budget.refused_event, budget, ctx,
                                          {{"reason", "locked_meanwhile"}}));
        }
        RETURN_IF_ERROR(budget.Write(
            tx, {std::max(0, now.failed - (before.failed + 1)), false}));
        RETURN_IF_ERROR(
            log.Append(tx, MakeEvent(budget.ok_event, budget, ctx)));
        return on_success(tx);
      }));
  if (locked_meanwhile) {
    return absl::PermissionDeniedError(absl::StrCat(
        budget.what(), " was locked by failed attempts made meanwhile"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Policy> LoadPolicy(storage::Transaction& tx) {
  Policy p;
  ASSIGN_OR_RETURN(int64_t tries,
                   MetaInt(tx, kMaxTriesKey, p.max_failed_tries));
  ASSIGN_OR_RETURN(int64_t min_pin, MetaInt(tx, kMinPinKey, p.min_pin_length));
  ASSIGN_OR_RETURN(int64_t t, MetaInt(tx, kArgonTKey, p.argon2.t_cost));
  ASSIGN_OR_RETURN(int64_t m, MetaInt(tx, kArgonMKey, p.argon2.m_cost_kib));
  ASSIGN_OR_RETURN(int64_t lanes,
                   MetaInt(tx, kArgonPKey, p.argon2.parallelism));
  p.max_failed_tries = static_cast<int>(tries);
  p.min_pin_length = static_cast<int>(min_pin);
  p.argon2 = {static_cast<uint32_t>(t), static_cast<uint32_t>(m),
              static_cast<uint32_t>(lanes)};
  RETURN_IF_ERROR(CheckArgon2Params(p.argon2));
  return p;
}

absl::Status SetPolicyInTx(storage::Transaction& tx, const audit::AuditLog& log,
                           absl::string_view key, absl::string_view value,
                           absl::string_view actor) {
  std::string meta_key = absl::StrCat("policy.", key);
  ASSIGN_OR_RETURN(int64_t v, ParseLimited(meta_key, value));
  ASSIGN_OR_RETURN(std::optional<std::string> old, tx.GetMeta(meta_key));
  RETURN_IF_ERROR(tx.PutMeta(meta_key, absl::StrCat(v)));
  RETURN_IF_ERROR(LoadPolicy(tx).status());  // the combination must stay usable
  return log.Append(tx, Event{"config.change",
                              {{"actor", std::string(actor)},
                               {"key", std::string(key)},
                               {"old", old.value_or("(default)")},
                               {"new", absl::StrCat(v)}}});
}

absl::Status SetPolicy(storage::Store& store, const audit::AuditLog& log,
                       absl::string_view key, absl::string_view value,
                       absl::string_view actor) {
  // Parse first so a bad value is InvalidArgument without a transaction.
  RETURN_IF_ERROR(ParseLimited(absl::StrCat("policy.", key), value).status());
  return audit::RunAudited(store, log, [&](storage::Transaction& tx) {
    return SetPolicyInTx(tx, log, key, value, actor);
  });
}

absl::Status UnlockCredential(storage::Transaction& tx,
                              const audit::AuditLog& log,
                              absl::string_view credential_id,
                              absl::string_view actor) {
  ASSIGN_OR_RETURN(storage::CredentialRecord cred,
                   tx.GetCredential(credential_id));
  RETURN_IF_ERROR(tx.UpdateCredentialTries(cred.id, 0, false));
  return log.Append(tx, Event{"credential.unlock",
                              {{"actor", std::string(actor)},
                               {"credential", cred.id},
                               {"failed_tries", int64_t{cred.failed_tries}},
                               {"was_locked", cred.locked}}});
}

absl::Status UnlockUserPin(storage::Transaction& tx, const audit::AuditLog& log,
                           absl::string_view user, absl::string_view actor) {
  ASSIGN_OR_RETURN(storage::UserRecord owner, tx.GetUserByName(user));
  UserPinBudget budget(owner);
  ASSIGN_OR_RETURN(TryState before, budget.Read(tx));
  RETURN_IF_ERROR(budget.Write(tx, {0, false}));
  return log.Append(tx, Event{"user.unlock",
                              {{"actor", std::string(actor)},
                               {"user", owner.name},
                               {"failed_tries", int64_t{before.failed}},
                               {"was_locked", before.locked}}});
}

absl::StatusOr<int64_t> CredentialService::AddUser(absl::string_view name,
                                                   const SecretBytes& pin,
                                                   const Context& ctx) {
  RETURN_IF_ERROR(ValidateUserName(name));
  Policy policy;
  bool exists = false;
  RETURN_IF_ERROR(store_.Transact(storage::TxMode::kReadOnly,
                                  [&](storage::Transaction& tx) {
                                    ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
                                    exists = tx.GetUserByName(name).ok();
                                    return absl::OkStatus();
                                  }));
  if (exists)
    return absl::AlreadyExistsError(
        absl::StrCat("a user named '", name, "' exists"));
  if (pin.size() < static_cast<size_t>(policy.min_pin_length)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the PIN must have at least ", policy.min_pin_length, " characters"));
  }
  int64_t id = 0;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(id,
                         tx.InsertUser({0, std::string(name), clock_.Now()}));
        // Sealed inside the transaction: the binding names the new user's id.
        ASSIGN_OR_RETURN(
            std::string check,
            SealKey(keys_, PinCheckBinding({id, std::string(name), {}}),
                    {pin, SecretBytes()}, policy.argon2, PinCheckPlaintext()));
        RETURN_IF_ERROR(
            tx.PutMeta(UserMetaKey(id, "pin_check"), HexEncode(check)));
        return log_.Append(
            tx, Event{"user.add",
                      {{"actor", ctx.actor}, {"user", std::string(name)}}});
      }));
  return id;
}

absl::StatusOr<storage::UserRecord> CredentialService::AuthenticateUser(
    absl::string_view user, const SecretBytes& pin, const Context& ctx) {
  Policy policy;
  storage::UserRecord owner;
  std::string check_hex;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(owner, tx.GetUserByName(user));
        ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
        ASSIGN_OR_RETURN(std::optional<std::string> check,
                         tx.GetMeta(UserMetaKey(owner.id, "pin_check")));
        check_hex = check.value_or("");
        return absl::OkStatus();
      }));
  auto check = HexDecode(check_hex);
  if (!check.ok() || check->empty()) {
    return absl::DataLossError(
        absl::StrCat("user ", owner.name, " has no usable PIN check"));
  }
  // The user's PIN, under the user's own try budget.
  UserPinBudget budget(owner);
  RETURN_IF_ERROR(GuardedAttempt(
      store_, log_, budget, policy.max_failed_tries, ctx,
      [&]() -> absl::Status {
        auto opened = UnsealKey(keys_, PinCheckBinding(owner),
                                {pin, SecretBytes()}, *check);
        if (absl::IsUnauthenticated(opened.status())) {
          return absl::UnauthenticatedError(
              absl::StrCat("wrong PIN for user ", owner.name));
        }
        if (!opened.ok()) return opened.status();
        if (!opened->ConstantTimeEquals(PinCheckPlaintext())) {
          return absl::DataLossError(
              "the user's PIN check holds the wrong value");
        }
        return absl::OkStatus();
      },
      [](storage::Transaction&) { return absl::OkStatus(); }));
  return owner;
}

absl::StatusOr<std::string> CredentialService::CreateCredential(
    absl::string_view user, crypto::KeyAlgorithm alg, const Factors& factors,
    const Context& ctx) {
  ASSIGN_OR_RETURN(storage::UserRecord owner,
                   AuthenticateUser(user, factors.pin, ctx));
  ASSIGN_OR_RETURN(hsm::WrappedKey key, keys_.GenerateWrappedKey(alg));
  return StoreCredential(owner, alg, key, Origin::kGenerated, factors, ctx);
}

absl::StatusOr<std::string> CredentialService::ImportCredential(
    absl::string_view user, crypto::KeyAlgorithm alg,
    const hsm::WrappedKey& key, const Factors& factors, const Context& ctx) {
  ASSIGN_OR_RETURN(storage::UserRecord owner,
                   AuthenticateUser(user, factors.pin, ctx));
  return StoreCredential(owner, alg, key, Origin::kImported, factors, ctx);
}

absl::StatusOr<std::string> CredentialService::AddUserHeldCredential(
    absl::string_view user, crypto::KeyAlgorithm alg,
    absl::string_view public_key_der, const SecretBytes& pin,
    const Context& ctx) {
  ASSIGN_OR_RETURN(storage::UserRecord owner, AuthenticateUser(user, pin, ctx));
  hsm::WrappedKey key;
  key.public_key_der = std::string(public_key_der);
  return StoreCredential(owner, alg, key, Origin::kUserHeld, Factors{}, ctx);
}

std::string PublicKeyIndexKey(absl::string_view public_key_der) {
  return absl::StrCat("pubkey.", HexEncode(crypto::Sha256(public_key_der)));
}

absl::StatusOr<std::string> CredentialService::StoreCredential(
    const storage::UserRecord& owner, crypto::KeyAlgorithm alg,
    const hsm::WrappedKey& key, Origin origin, const Factors& factors,
    const Context& ctx) {
  Policy policy;
  RETURN_IF_ERROR(store_.Transact(storage::TxMode::kReadOnly,
                                  [&](storage::Transaction& tx) {
                                    ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
                                    return absl::OkStatus();
                                  }));
  ASSIGN_OR_RETURN(std::string id, RandomHexId(16));
  storage::CredentialRecord cred;
  cred.id = id;
  cred.user_id = owner.id;
  cred.algorithm = std::string(crypto::KeyAlgorithmName(alg));
  cred.backend = std::string(keys_.backend());
  cred.public_key = key.public_key_der;
  if (origin != Origin::kUserHeld) {
    ASSIGN_OR_RETURN(cred.sealed_key,
                     SealKey(keys_, {id, alg, owner.id, cred.public_key},
                             factors, policy.argon2, key.wrapped));
  }
  cred.created = clock_.Now();
  std::string factor_kinds =
      factors.possession.empty() ? "pin" : "pin+possession";
  const char* origin_event = origin == Origin::kGenerated  ? "key.generate"
                             : origin == Origin::kImported ? "key.import"
                                                           : "key.deliver";
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.InsertCredential(cred));
        // Which credential holds this public key (one key, one credential).
        const std::string index = PublicKeyIndexKey(cred.public_key);
        ASSIGN_OR_RETURN(std::optional<std::string> holder, tx.GetMeta(index));
        if (holder) {
          return absl::AlreadyExistsError(
              "this public key already belongs to a credential");
        }
        RETURN_IF_ERROR(tx.PutMeta(index, id));
        RETURN_IF_ERROR(log_.Append(
            tx, Event{origin_event,
                      {{"actor", ctx.actor},
                       {"credential", id},
                       {"algorithm", cred.algorithm},
                       {"backend", cred.backend},
                       {"provisional", keys_.provisional()},
                       {"public_key_sha256",
                        HexEncode(crypto::Sha256(cred.public_key))}}}));
        if (origin == Origin::kUserHeld) {
          RETURN_IF_ERROR(
              tx.PutMeta(storage::CredentialCustodyKey(id), "user"));
        } else {
          RETURN_IF_ERROR(log_.Append(
              tx, Event{"key.seal",
                        {{"credential", id},
                         {"factors", factor_kinds},
                         {"argon2",
                          absl::StrCat("t=", policy.argon2.t_cost,
                                       ",m=", policy.argon2.m_cost_kib,
                                       ",p=", policy.argon2.parallelism)}}}));
        }
        return log_.Append(
            tx,
            Event{"credential.create",
                  {{"actor", ctx.actor},
                   {"credential", id},
                   {"custody", origin == Origin::kUserHeld ? "user" : "hsm"},
                   {"user", owner.name}}});
      }));
  return id;
}

absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> CredentialService::Activate(
    absl::string_view credential_id, const Factors& factors,
    const Context& ctx) {
  storage::CredentialRecord cred;
  Policy policy;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(cred, tx.GetCredential(credential_id));
        ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
        return absl::OkStatus();
      }));
  ASSIGN_OR_RETURN(crypto::KeyAlgorithm alg, AlgorithmOf(cred));
  if (cred.sealed_key.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "credential ", cred.id,
        " is held by its user (its key was delivered to them and erased "
        "here): inkan cannot sign with it"));
  }
  CredentialBudget budget(cred.id);
  std::unique_ptr<hsm::ActiveKey> active;
  RETURN_IF_ERROR(GuardedAttempt(
      store_, log_, budget, policy.max_failed_tries, ctx,
      [&]() -> absl::Status {
        ASSIGN_OR_RETURN(
            SecretBytes wrapped,
            UnsealKey(keys_, {cred.id, alg, cred.user_id, cred.public_key},
                      factors, cred.sealed_key));
        ASSIGN_OR_RETURN(active, keys_.Activate(alg, wrapped));
        return absl::OkStatus();
      },
      [](storage::Transaction&) { return absl::OkStatus(); }));
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

absl::StatusOr<std::string> CredentialService::EnrollTotp(
    absl::string_view user, const SecretBytes& pin, absl::string_view issuer,
    const Context& ctx) {
  ASSIGN_OR_RETURN(storage::UserRecord owner, AuthenticateUser(user, pin, ctx));
  ASSIGN_OR_RETURN(SecretBytes secret, NewTotpSecret());
  ASSIGN_OR_RETURN(SecretBytes key, TotpSealKey(keys_, owner.id));
  ASSIGN_OR_RETURN(std::string sealed,
                   crypto::AeadSeal(key, secret, TotpAad(owner.id)));
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        bool replaced = tx.GetFactor(owner.id, "totp").ok();
        storage::FactorRecord f;
        f.user_id = owner.id;
        f.kind = "totp";
        f.secret = sealed;
        f.created = clock_.Now();
        RETURN_IF_ERROR(tx.PutFactor(f));
        return log_.Append(tx, Event{"factor.enroll",
                                     {{"actor", ctx.actor},
                                      {"user", owner.name},
                                      {"factor", "totp"},
                                      {"replaced", replaced}}});
      }));
  return OtpauthUri(issuer, owner.name, secret, TotpParams{});
}

namespace {

// The card certificate's key and the scheme its signatures use.
absl::StatusOr<std::pair<std::string, crypto::SignatureScheme>> CardKey(
    absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, void (*)(X509*)> x(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  if (!x)
    return absl::InvalidArgumentError("the card certificate does not parse");
  EVP_PKEY* key = X509_get0_pubkey(x.get());
  if (key == nullptr)
    return absl::InvalidArgumentError("the card certificate has no key");
  crypto::SignatureScheme scheme{crypto::KeyAlgorithm::kEcP256,
                                 crypto::HashAlgorithm::kSha256};
  int bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    if (bits == 256) {
      scheme.key = crypto::KeyAlgorithm::kEcP256;
    } else if (bits == 384) {
      scheme.key = crypto::KeyAlgorithm::kEcP384;
    } else {
      return absl::InvalidArgumentError(
          "the card's EC key is not P-256 or P-384");
    }
  } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && bits >= 2048) {
    scheme.key = bits >= 4096   ? crypto::KeyAlgorithm::kRsa4096
                 : bits >= 3072 ? crypto::KeyAlgorithm::kRsa3072
                                : crypto::KeyAlgorithm::kRsa2048;
  } else {
    return absl::InvalidArgumentError(
        "the card's key is neither ECDSA P-256/P-384 nor RSA of 2048 bits or "
        "more");
  }
  if (X509_cmp_current_time(X509_get0_notBefore(x.get())) > 0 ||
      X509_cmp_current_time(X509_get0_notAfter(x.get())) < 0) {
    return absl::InvalidArgumentError("the card certificate is not valid now");
  }
  unsigned char* spki = nullptr;
  int len = i2d_PUBKEY(key, &spki);
  if (len <= 0) return absl::InternalError("i2d_PUBKEY failed");
  std::string out(reinterpret_cast<char*>(spki), len);
  OPENSSL_free(spki);
  return std::make_pair(out, scheme);
}

}  // namespace

absl::Status CredentialService::EnrollCard(absl::string_view user,
                                           const SecretBytes& pin,
                                           absl::string_view certificate_der,
                                           const Context& ctx) {
  RETURN_IF_ERROR(CardKey(certificate_der).status());
  ASSIGN_OR_RETURN(storage::UserRecord owner, AuthenticateUser(user, pin, ctx));
  return audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        bool replaced = tx.GetFactor(owner.id, "card").ok();
        storage::FactorRecord f;
        f.user_id = owner.id;
        f.kind = "card";
        f.certificate = std::string(certificate_der);
        f.created = clock_.Now();
        RETURN_IF_ERROR(tx.PutFactor(f));
        return log_.Append(tx,
                           Event{"factor.enroll",
                                 {{"actor", ctx.actor},
                                  {"user", owner.name},
                                  {"factor", "card"},
                                  {"certificate_sha256",
                                   HexEncode(crypto::Sha256(certificate_der))},
                                  {"replaced", replaced}}});
      });
}

absl::Status CredentialService::CheckCard(int64_t user_id,
                                          absl::string_view message,
                                          absl::string_view signature,
                                          const Context& ctx) {
  Policy policy;
  storage::UserRecord owner;
  storage::FactorRecord factor;
  absl::Status found = store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
        ASSIGN_OR_RETURN(owner, tx.GetUserById(user_id));
        ASSIGN_OR_RETURN(factor, tx.GetFactor(user_id, "card"));
        return absl::OkStatus();
      });
  if (absl::IsNotFound(found)) {
    return absl::FailedPreconditionError("the user has no card registered");
  }
  RETURN_IF_ERROR(found);
  ASSIGN_OR_RETURN(auto key, CardKey(factor.certificate));
  ASSIGN_OR_RETURN(auto verifier, crypto::NewVerifier(key.first, key.second));
  FactorBudget budget(owner, "card");
  return GuardedAttempt(
      store_, log_, budget, policy.max_failed_tries, ctx,
      [&]() -> absl::Status {
        if (!crypto::VerifyMessage(*verifier, key.second, message, signature)
                 .ok()) {
          return absl::UnauthenticatedError(
              "the card's signature does not verify");
        }
        return absl::OkStatus();
      },
      [](storage::Transaction&) { return absl::OkStatus(); });
}

absl::Status CredentialService::CheckTotp(int64_t user_id,
                                          absl::string_view code,
                                          const Context& ctx) {
  Policy policy;
  storage::UserRecord owner;
  storage::FactorRecord factor;
  absl::Status found = store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(policy, LoadPolicy(tx));
        ASSIGN_OR_RETURN(owner, tx.GetUserById(user_id));
        ASSIGN_OR_RETURN(factor, tx.GetFactor(user_id, "totp"));
        return absl::OkStatus();
      });
  if (absl::IsNotFound(found)) {
    return absl::FailedPreconditionError(
        "the user has no TOTP authenticator enrolled");
  }
  RETURN_IF_ERROR(found);
  // Malformed codes cost no try (they cannot be a guess).
  if (code.size() != 6 || !std::all_of(code.begin(), code.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return absl::InvalidArgumentError("a one-time code is 6 digits");
  }
  ASSIGN_OR_RETURN(SecretBytes key, TotpSealKey(keys_, user_id));
  ASSIGN_OR_RETURN(SecretBytes secret,
                   crypto::AeadOpen(key, factor.secret, TotpAad(user_id)));
  FactorBudget budget(owner, "totp");
  int64_t step = kNoTotpStepUsed;
  return GuardedAttempt(
      store_, log_, budget, policy.max_failed_tries, ctx,
      [&]() -> absl::Status {
        // The replay guard is read fresh: a code is accepted once.
        int64_t last = kNoTotpStepUsed;
        RETURN_IF_ERROR(store_.Transact(
            storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
              ASSIGN_OR_RETURN(storage::FactorRecord f,
                               tx.GetFactor(user_id, "totp"));
              last = f.last_step;
              return absl::OkStatus();
            }));
        auto matched =
            VerifyTotp(secret, TotpParams{}, code, clock_.Now(), last);
        if (absl::IsPermissionDenied(matched.status())) {
          return absl::UnauthenticatedError(matched.status().message());
        }
        if (!matched.ok()) return matched.status();
        step = *matched;
        return absl::OkStatus();
      },
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(storage::FactorRecord f,
                         tx.GetFactor(user_id, "totp"));
        if (f.last_step >= step) {
          // Another request used this code meanwhile.
          return absl::UnauthenticatedError(
              "this one-time code was already used");
        }
        return tx.UpdateFactorState(user_id, "totp", step, f.failed_tries,
                                    f.locked);
      });
}

}  // namespace inkan::sam
