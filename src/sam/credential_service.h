// CredentialService: users and their signing credentials, with the rules of
// sole control (R3) and the audit trail (R5).
//
//   - CreateCredential generates the key in the KeyStore, seals the wrapped
//     blob under the user's factors (sealed_key.h) and stores only the sealed
//     blob and the public key; the change and its audit events commit in one
//     transaction, so a failure at any step leaves no half-made credential.
//   - Every check of a factor (unsealing a credential, checking a user's PIN)
//     runs under a try budget: the attempt first takes one try in its own
//     transaction (as a smart card decrements its retry counter before
//     checking the PIN), and is refused when the budget is spent — also by
//     attempts still in flight — so neither parallel guessing nor a crash
//     mid-attempt gets a free try. Success forgives the failures before it but
//     never those made meanwhile, and never clears a lock. After
//     policy.max_failed_tries failures the credential (or the user's PIN)
//     locks; unlocking is an operator action (a later issue).
//   - SignDigest = Activate + sign + record the signature on the audit log;
//     the signature is returned only after its audit entry is durable.
//
// Thread-safety: thread-safe; the store, key store, log and clock must outlive
// it.
#ifndef INKAN_SAM_CREDENTIAL_SERVICE_H_
#define INKAN_SAM_CREDENTIAL_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "crypto/algorithm.h"
#include "crypto/kdf.h"
#include "hsm/key_store.h"
#include "sam/sealed_key.h"
#include "storage/store.h"

namespace inkan::sam {

struct Policy {
  int max_failed_tries = 5;
  int min_pin_length = 6;
  crypto::Argon2Params argon2;
};

// Policy lives in the store's meta table ("policy.*"); absent keys take the
// defaults above. InvalidArgument/DataLoss for unusable stored values.
absl::StatusOr<Policy> LoadPolicy(storage::Transaction& tx);
// Sets one policy key from text ("max_failed_tries", "min_pin_length",
// "argon2.t_cost", "argon2.m_cost_kib", "argon2.parallelism") and records the
// change on the audit log. InvalidArgument for an unknown key or a value out of
// range.
absl::Status SetPolicy(storage::Store& store, const audit::AuditLog& log,
                       absl::string_view key, absl::string_view value,
                       absl::string_view actor);

// The same, inside the caller's transaction (a ceremony's execution).
absl::Status SetPolicyInTx(storage::Transaction& tx, const audit::AuditLog& log,
                           absl::string_view key, absl::string_view value,
                           absl::string_view actor);

// Inside `tx`: clears a credential's (or a user PIN's) try counter and lock,
// and records it. NotFound for an unknown credential or user. These are
// operator actions under the two-person rule (src/ceremony).
absl::Status UnlockCredential(storage::Transaction& tx,
                              const audit::AuditLog& log,
                              absl::string_view credential_id,
                              absl::string_view actor);
absl::Status UnlockUserPin(storage::Transaction& tx, const audit::AuditLog& log,
                           absl::string_view user, absl::string_view actor);

// The meta key recording which credential holds a public key: a key belongs
// to one credential only (CreateCredential and the imports refuse a second).
std::string PublicKeyIndexKey(absl::string_view public_key_der);

// Who asked, for the audit log ("cli", "api:<client>", ...).
struct Context {
  std::string actor = "cli";
};

class CredentialService {
 public:
  CredentialService(storage::Store& store, hsm::KeyStore& keys,
                    const audit::AuditLog& log, const Clock& clock)
      : store_(store), keys_(keys), log_(log), clock_(clock) {}

  // Adds a user with their PIN. Only a check value is stored: a constant
  // sealed under the PIN exactly as keys are (sealed_key.h), so checking a PIN
  // offline needs the HSM's pepper. AlreadyExists if the name is taken;
  // InvalidArgument for an empty, over-long or control-character name, or a
  // PIN shorter than policy.min_pin_length.
  absl::StatusOr<int64_t> AddUser(absl::string_view name,
                                  const SecretBytes& pin, const Context& ctx);

  // Checks a user's own PIN under the user's try budget (as
  // CreateCredential does); returns the user. NotFound for an unknown user;
  // Unauthenticated for a wrong PIN; PermissionDenied once locked.
  absl::StatusOr<storage::UserRecord> AuthenticateUser(absl::string_view user,
                                                       const SecretBytes& pin,
                                                       const Context& ctx);

  // Possession factor: a TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s,
  // ±1 step). The user proves their PIN; a new secret replaces any old one
  // and is stored sealed under a key derived through the HSM's pepper.
  // Returns the otpauth:// URI to show the user once (authenticator app).
  absl::StatusOr<std::string> EnrollTotp(absl::string_view user,
                                         const SecretBytes& pin,
                                         absl::string_view issuer,
                                         const Context& ctx);
  // Checks a one-time code under the factor's own try budget; a code is
  // accepted once. FailedPrecondition if none is enrolled; InvalidArgument
  // for a malformed code (no try taken); Unauthenticated for a wrong or
  // replayed code; PermissionDenied once locked.
  absl::Status CheckTotp(int64_t user_id, absl::string_view code,
                         const Context& ctx);

  // Possession factor: a smart card (e.g. the My Number Card): its
  // authentication certificate (DER; ECDSA P-256/P-384 or RSA >= 2048, valid
  // now) is registered after the user's PIN; it replaces an old one.
  // InvalidArgument for a certificate that does not qualify.
  absl::Status EnrollCard(absl::string_view user, const SecretBytes& pin,
                          absl::string_view certificate_der,
                          const Context& ctx);
  // Checks the card's signature over `message` (SHA-256; PKCS#1 v1.5 for
  // RSA, DER ECDSA) with the registered certificate's key, under the card's
  // own try budget. FailedPrecondition if no card is registered;
  // Unauthenticated for a bad signature; PermissionDenied once locked.
  absl::Status CheckCard(int64_t user_id, absl::string_view message,
                         absl::string_view signature, const Context& ctx);

  // Returns the new credential's id, sealed under the user's PIN. The PIN is
  // checked first, under the user's own try budget (Unauthenticated, or
  // PermissionDenied once locked). NotFound for an unknown user;
  // Unimplemented if the key store cannot hold `alg` under sole control.
  absl::StatusOr<std::string> CreateCredential(absl::string_view user,
                                               crypto::KeyAlgorithm alg,
                                               const Factors& factors,
                                               const Context& ctx);

  // Enrollment path B (R10): a key made by its owner, already brought into
  // the HSM and wrapped under the master KEK (KeyStore::ImportUserKey), whose
  // public key the caller has checked. Sealed and stored as CreateCredential
  // does, after the PIN; logged as "key.import" instead of "key.generate".
  absl::StatusOr<std::string> ImportCredential(absl::string_view user,
                                               crypto::KeyAlgorithm alg,
                                               const hsm::WrappedKey& key,
                                               const Factors& factors,
                                               const Context& ctx);
  // Enrollment path C (R11): a credential whose private key was delivered to
  // its owner and erased here. Only the public key is kept (for the
  // certificate); the credential is marked user-held and Activate refuses it
  // (FailedPrecondition). Needs the user's PIN.
  absl::StatusOr<std::string> AddUserHeldCredential(
      absl::string_view user, crypto::KeyAlgorithm alg,
      absl::string_view public_key_der, const SecretBytes& pin,
      const Context& ctx);

  // NotFound for an unknown id; PermissionDenied if the credential is locked
  // (before, during or because of this attempt); ResourceExhausted if the
  // tries left are all taken by attempts in flight; Unauthenticated for wrong
  // factors, with the tries left in the message; Unavailable if the HSM fails
  // (the try is given back).
  absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> Activate(
      absl::string_view credential_id, const Factors& factors,
      const Context& ctx);

  // Activate, sign `digest` (made with `hash`; RSA uses `padding`), record it.
  absl::StatusOr<std::string> SignDigest(absl::string_view credential_id,
                                         const Factors& factors,
                                         crypto::HashAlgorithm hash,
                                         crypto::RsaPadding padding,
                                         absl::string_view digest,
                                         const Context& ctx);

  // Signs with an already active key and records it on the log.
  absl::StatusOr<std::string> SignWithActiveKey(
      hsm::ActiveKey& key, absl::string_view credential_id,
      const crypto::SignatureScheme& scheme, absl::string_view digest,
      const Context& ctx);

 private:
  enum class Origin { kGenerated, kImported, kUserHeld };
  absl::StatusOr<std::string> StoreCredential(const storage::UserRecord& owner,
                                              crypto::KeyAlgorithm alg,
                                              const hsm::WrappedKey& key,
                                              Origin origin,
                                              const Factors& factors,
                                              const Context& ctx);

  storage::Store& store_;
  hsm::KeyStore& keys_;
  const audit::AuditLog& log_;
  const Clock& clock_;
};

}  // namespace inkan::sam

#endif  // INKAN_SAM_CREDENTIAL_SERVICE_H_
