// AuthorizationService: who may sign what, for the CSC API (R3, R4, R5).
//
//   - Login (auth/login): the user's own PIN → an access token (service
//     scope). Tokens, like every bearer secret here, are 256-bit random
//     values stored only as their SHA-256.
//   - AuthorizeCredential (credentials/authorize, explicit mode): the
//     credential's PIN and the user's one-time code, each under its own try
//     budget → a SAD (signature activation data) bound to the caller's user
//     and client, the credential, and the exact set of document hashes, for
//     numSignatures ≤ multisign, expiring (default 5 minutes). The credential's
//     key is unsealed once, into a non-extractable HSM object held only in
//     this process's memory for the SAD's life.
//   - SignHashes (signatures/signHash): each hash signed must be in the SAD and
//     is consumed; a SAD never serves another credential, user, client or hash,
//     nor a hash twice. The signatures are returned only after the consumption
//     and a `signature` event naming every hash are on the audit log.
//   - A credential with SCAL 2 is authorized only through the consent page
//     (the OAuth 2.0 flow), never in explicit mode.
//
// A SAD does not survive a restart of the service (its key object lived in
// memory); the client authorizes again.
//
// Thread-safety: thread-safe.
#ifndef INKAN_SAM_AUTHORIZATION_H_
#define INKAN_SAM_AUTHORIZATION_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/secret_bytes.h"
#include "crypto/algorithm.h"
#include "hsm/key_store.h"
#include "sam/credential_service.h"
#include "storage/store.h"

namespace inkan::sam {

// AuthorizeCredential's factor errors carry this payload: "pin", "otp" or
// "card".
inline constexpr char kFactorPayload[] = "inkan.factor";

struct AuthOptions {
  absl::Duration access_ttl = absl::Hours(1);
  absl::Duration sad_ttl = absl::Minutes(5);
  int max_multisign = 1000;
};

// The authenticated caller of an API request.
struct Caller {
  int64_t user_id = 0;
  std::string user;
  std::string client_id;  // "" for HTTP Basic logins
  std::string scope;      // "service" or "credential"
  std::string credential_id;
  std::string token_id;  // the grant id (hash) of the access token
};

struct IssuedSecret {
  std::string secret;  // base64url, shown to the client once
  absl::Time expires;
};

// What a smart card signs to prove possession at an explicit authorization:
// the service's challenge (base64, from credentials/getChallenge), the
// credential and the exact hashes to be authorized, so a signature answers
// one challenge, for one credential and one set of documents:
//   "inkan.card.v1\n" challenge "\n" credentialID "\n" CanonicalHashes
std::string CardChallengeMessage(absl::string_view challenge_b64,
                                 absl::string_view credential_id,
                                 const std::set<std::string>& digests);

// The possession factor given at an explicit authorization: a one-time code,
// or a card's signature over CardChallengeMessage.
struct Possession {
  std::string otp;
  std::string card_signature;  // raw (DER ECDSA or RSA)
};

// Credential SCAL ("1": explicit authorization allowed; "2": consent page
// only), kept in meta; 2 when unset.
absl::StatusOr<int> LoadScal(storage::Transaction& tx,
                             absl::string_view credential_id);
absl::Status SetScal(storage::Store& store, const audit::AuditLog& log,
                     absl::string_view credential_id, int scal,
                     const Context& ctx);

class AuthorizationService {
 public:
  AuthorizationService(storage::Store& store, const audit::AuditLog& log,
                       const Clock& clock, CredentialService& credentials,
                       AuthOptions options)
      : store_(store),
        log_(log),
        clock_(clock),
        credentials_(credentials),
        options_(options) {}
  ~AuthorizationService();

  const AuthOptions& options() const { return options_; }

  // Errors as CredentialService::AuthenticateUser.
  absl::StatusOr<IssuedSecret> Login(absl::string_view user,
                                     const SecretBytes& pin,
                                     absl::string_view client_id,
                                     const Context& ctx);
  // Unauthenticated for an unknown, expired or revoked token.
  absl::StatusOr<Caller> Authenticate(absl::string_view bearer);
  // Revokes one of the caller's own tokens (or their own access token).
  // InvalidArgument for a token that is not theirs or unknown.
  absl::Status Revoke(const Caller& caller, absl::string_view token,
                      const Context& ctx);

  // The caller's credentials (never anyone else's).
  absl::StatusOr<std::vector<storage::CredentialRecord>> ListCredentials(
      const Caller& caller);
  // NotFound unless the credential exists and is the caller's.
  absl::StatusOr<storage::CredentialRecord> GetCredential(
      const Caller& caller, absl::string_view credential_id);

  // Explicit authorization. `hashes` are raw digests made with `hash`.
  // NotFound for a credential not the caller's; PermissionDenied for SCAL 2
  // or a locked factor; InvalidArgument for a bad count or hash; the PIN and
  // code errors of CredentialService (Unauthenticated: wrong PIN → message
  // starts "wrong PIN", wrong code → the one-time code's message).
  absl::StatusOr<IssuedSecret> AuthorizeCredential(
      const Caller& caller, absl::string_view credential_id,
      const std::vector<std::string>& hashes, crypto::HashAlgorithm hash,
      int num_signatures, const SecretBytes& pin, absl::string_view otp,
      const Context& ctx) {
    return AuthorizeCredential(caller, credential_id, hashes, hash,
                               num_signatures, pin,
                               Possession{std::string(otp), ""}, ctx);
  }
  // The same with either possession factor. A card signature answers the
  // caller's latest challenge for this credential (used once, 2 minutes).
  absl::StatusOr<IssuedSecret> AuthorizeCredential(
      const Caller& caller, absl::string_view credential_id,
      const std::vector<std::string>& hashes, crypto::HashAlgorithm hash,
      int num_signatures, const SecretBytes& pin, const Possession& possession,
      const Context& ctx);
  // credentials/getChallenge for the card: a fresh 256-bit challenge (base64)
  // for this caller and credential; it replaces an earlier one. NotFound for
  // a credential not the caller's.
  absl::StatusOr<std::string> NewCardChallenge(const Caller& caller,
                                               absl::string_view credential_id);

  // The key algorithm of an active SAD that is bound to this caller (user
  // and client) and this credential: what signatures/signHash needs to
  // resolve signAlgo without reading the credential back (a SAD is only
  // issued for the caller's own credential, and credentials never change
  // owner). InvalidArgument "invalid SAD" for an unknown, expired or foreign
  // one: the caller then takes the slow path, whose errors are exact.
  absl::StatusOr<crypto::KeyAlgorithm> SadKeyAlgorithm(
      const Caller& caller, absl::string_view credential_id,
      absl::string_view sad);

  // Signs each of `hashes` with the SAD's key. FailedPrecondition with
  // "SAD expired" for an expired one; InvalidArgument "invalid SAD" for an
  // unknown, used-up or foreign one (another user, client or credential);
  // OutOfRange "hash not authorized" if any hash is not (or no longer) in the
  // SAD — then nothing is signed or consumed.
  absl::StatusOr<std::vector<std::string>> SignHashes(
      const Caller& caller, absl::string_view credential_id,
      absl::string_view sad, const std::vector<std::string>& hashes,
      const crypto::SignatureScheme& scheme, const Context& ctx);

  // ---- OAuth 2.0: authorization code with PKCE (S256) ----
  struct CodeRequest {
    std::string client_id;
    std::string redirect_uri;    // as registered (exact match)
    std::string code_challenge;  // base64url(SHA-256(verifier))
    std::string scope;           // "service" or "credential"
    // Credential scope: what the consent page showed.
    std::string credential_id;
    std::vector<std::string> hashes;  // raw digests
    crypto::HashAlgorithm hash = crypto::HashAlgorithm::kSha256;
    int num_signatures = 0;
  };
  // The registered client and the redirect URI to use: `redirect_uri` if it
  // is registered exactly (or, for a loopback URI registered without a port,
  // with any port: RFC 8252 §7.3), or the only registered one when it is
  // empty.
  // NotFound for an unknown or removed client; InvalidArgument for an
  // unregistered redirect URI.
  absl::StatusOr<storage::ClientRecord> CheckClient(absl::string_view client_id,
                                                    std::string* redirect_uri);
  // Credential scope, after "Yes" on the consent page: the credential's
  // owner is proved by the credential's PIN and their one-time code (as
  // AuthorizeCredential: tagged errors, budgets); SCAL 1 or 2. Returns a
  // single-use code (60 s) whose token will act as the SAD.
  absl::StatusOr<IssuedSecret> ApproveCredential(const CodeRequest& request,
                                                 const SecretBytes& pin,
                                                 absl::string_view otp,
                                                 const Context& ctx);
  // Service scope, after the login page: the user's PIN and one-time code.
  absl::StatusOr<IssuedSecret> ApproveService(const CodeRequest& request,
                                              absl::string_view user,
                                              const SecretBytes& pin,
                                              absl::string_view otp,
                                              const Context& ctx);
  // A consent that ended without a Yes: outcome "declined" or "timeout".
  absl::Status RecordNoConsent(const CodeRequest& request,
                               absl::string_view outcome, const Context& ctx);
  struct TokenResult {
    IssuedSecret access;
    std::string scope;
    std::string credential_id;
  };
  // oauth2/token (grant_type=authorization_code). InvalidArgument (an
  // invalid_grant) for an unknown, expired or used code, another client,
  // another redirect URI or a verifier that does not match; PermissionDenied
  // for a missing or wrong client secret of a confidential client. A code
  // presented twice also revokes the token issued from it.
  absl::StatusOr<TokenResult> ExchangeCode(
      absl::string_view client_id, const std::optional<std::string>& secret,
      absl::string_view code, absl::string_view verifier,
      absl::string_view redirect_uri, const Context& ctx);

  // oauth2/revoke: a client revokes a token it was issued (RFC 7009: an
  // unknown token, or another client's, is answered as done and changes
  // nothing). PermissionDenied for a missing or wrong client secret of a
  // confidential client, or an unknown client.
  absl::Status RevokeForClient(absl::string_view client_id,
                               const std::optional<std::string>& secret,
                               absl::string_view token, const Context& ctx);

  // Active SADs held in memory (for status and tests).
  size_t active_sads();

 private:
  struct ActiveSad {
    // Shared: a request signing with it keeps it alive if the SAD is used up
    // or expires meanwhile.
    std::shared_ptr<hsm::ActiveKey> key;
    std::set<std::string> remaining;  // raw digests
    int64_t uses_left = 0;
    absl::Time expires;
    int64_t user_id = 0;
    std::string client_id;
    std::string credential_id;
    crypto::HashAlgorithm hash = crypto::HashAlgorithm::kSha256;
  };
  void DropExpiredLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetCallers();
  absl::StatusOr<IssuedSecret> IssueCode(const CodeRequest& request,
                                         int64_t user_id,
                                         absl::string_view user,
                                         std::unique_ptr<hsm::ActiveKey> key,
                                         const Context& ctx);
  // Group commit: `write` runs inside one audited transaction together with
  // those of the requests waiting at the same moment (one fsync and one
  // checkpoint signature for the lot). Returns when it is durable, with its
  // own outcome (a failing batch is retried one write at a time).
  absl::Status CommitGrouped(
      std::function<absl::Status(storage::Transaction&)> write);
  struct PendingWrite {
    std::function<absl::Status(storage::Transaction&)> write;
    absl::Status result;
    bool done = false;
  };

  storage::Store& store_;
  const audit::AuditLog& log_;
  const Clock& clock_;
  CredentialService& credentials_;
  const AuthOptions options_;
  absl::Mutex mu_;
  std::map<std::string, ActiveSad> sads_ ABSL_GUARDED_BY(mu_);
  // Access tokens already checked, by grant id, until min(expiry, 60 s);
  // emptied on every revocation.
  struct CachedCaller {
    Caller caller;
    absl::Time until;
  };
  std::map<std::string, CachedCaller> callers_ ABSL_GUARDED_BY(mu_);
  struct Challenge {
    std::string b64;
    absl::Time expires;
  };
  std::map<std::string, Challenge> challenges_ ABSL_GUARDED_BY(mu_);
  absl::Mutex commit_mu_;
  absl::CondVar commit_cv_;
  std::vector<PendingWrite*> queue_ ABSL_GUARDED_BY(commit_mu_);
  bool leader_ ABSL_GUARDED_BY(commit_mu_) = false;
};

// Registers a client application (OAuth 2.0 client) with its exact redirect
// URIs (https://, or http:// on a loopback address for native apps) and, for
// a confidential client, the SHA-256 of its secret. AlreadyExists for a taken
// id; InvalidArgument for a bad id or URI.
absl::Status AddClient(storage::Store& store, const audit::AuditLog& log,
                       const storage::ClientRecord& client, const Context& ctx);

// The canonical form of a set of raw digests (sorted base64, comma-joined).
std::string CanonicalHashes(const std::set<std::string>& digests);

}  // namespace inkan::sam

#endif  // INKAN_SAM_AUTHORIZATION_H_
