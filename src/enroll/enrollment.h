// Enrollment by one-time URL (R9, R10, R11).
//
// 1. Issue (R9). An operator proposes the ceremony "enroll.issue" (user,
//    valid_for, scal); it runs only with the quorum (k >= 2: a second operator
//    must approve). Its execution draws the code from the OS CSPRNG and hands
//    it out once, to the operator who releases it for the letter or mail:
//      code = ID "." SECRET   (ID: 80 bits, SECRET: 160 bits, base32)
//    The store keeps only HMAC-SHA256 under the HSM's pepper key of
//    ("inkan-enroll-code-v1|" ID "|" SECRET), with the user, the expiry
//    (default 72 h) and a state. The one-time URL carries the code in its
//    fragment (https://host/enroll#CODE), so it never reaches a server log.
// 2. Redeem. A code works once: the first attempt that names a live code
//    with the right secret burns it, whatever happens next. Wrong secrets
//    count per code (5 burn it); failures count per client address (an IPv4
//    address or an IPv6 /64; 10 in 15 minutes throttle it). Every attempt is
//    logged, but a throttled address once per window.
// 3. The redeemed session (30 minutes, in this process's memory) then sets
//    the user's PIN (the user is created), a possession factor (a TOTP
//    authenticator, confirmed with a first code, or a card's authentication
//    certificate), and makes the key by one path:
//      A  "hsm":     generated in the HSM, sealed under the new factors;
//      B  "upload":  made by the user, sent wrapped for the HSM's transport
//                    key (CKM_RSA_AES_KEY_WRAP), opened only inside the HSM;
//      C  "deliver": generated in the HSM, brought out once as a PKCS#12
//                    under the user's password, every copy erased; the
//                    credential is marked user-held (inkan cannot sign).
// 4. Receipt (R9). The user confirms receipt; only then is the certificate
//    issued (while the CA key is active in the service; otherwise the
//    credential waits for `inkan cert issue`).
//
// Thread-safety: thread-safe.
#ifndef INKAN_ENROLL_ENROLLMENT_H_
#define INKAN_ENROLL_ENROLLMENT_H_

#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "ceremony/quorum.h"
#include "common/clock.h"
#include "common/secret_bytes.h"
#include "crypto/algorithm.h"
#include "crypto/signer.h"
#include "hsm/key_store.h"
#include "sam/credential_service.h"
#include "storage/store.h"

namespace inkan::enroll {

inline constexpr char kIssueOperation[] = "enroll.issue";

// Registers "enroll.issue" (parameters: user, valid_for ("72h" default, 10m to
// 30 days), scal (1 or 2, default 2)). Its execution needs `outputs`: the code
// goes to outputs["code"]. Execution refuses a user that already exists and
// an instance whose quorum is below 2 (the two-person rule).
void RegisterOperations(ceremony::Ceremonies& ceremonies, storage::Store& store,
                        hsm::KeyStore& keys, const audit::AuditLog& log,
                        const Clock& clock);

// The steps of an enrollment session, in order.
enum class Step {
  kPin,          // set the PIN
  kFactor,       // choose TOTP or card
  kTotpConfirm,  // enter a first code from the new authenticator
  kKey,          // choose the algorithm and the path
  kDownload,     // path C: fetch the PKCS#12 (once)
  kReceipt,      // confirm receipt
  kDone,
};
absl::string_view StepName(Step step);

struct SessionView {
  std::string enrollment_id;
  std::string user;
  Step step = Step::kPin;
  std::string csrf;                  // for the pages' forms
  std::string totp_uri;              // at kTotpConfirm: otpauth:// (show once)
  std::string path;                  // "hsm", "upload", "deliver" once chosen
  std::string credential_id;         // once the key exists
  std::string algorithm;             // once the key exists
  std::string certificate_der;       // at kDone, if issued
  bool certificate_pending = false;  // at kDone: the CA key was not active
  absl::Time expires;
  int min_pin_length = 6;
};

struct Options {
  absl::Duration session_ttl = absl::Minutes(30);
  int max_wrong_secrets = 5;   // per code, then it is burnt
  int max_peer_failures = 10;  // per client address per window
  absl::Duration peer_window = absl::Minutes(15);
  std::string totp_issuer = "inkan";
  int min_p12_password_length = 10;
};

// Issues a certificate for a credential (the service's active CA key), or
// FailedPrecondition when the CA key is not active.
using IssueCertificate = std::function<absl::StatusOr<std::string>(
    absl::string_view credential_id, absl::string_view actor)>;
// Certifies the HSM's enrollment transport key (its SPKI) and returns the
// certificate (DER), or FailedPrecondition when the CA key is not active.
using CertifyTransportKey =
    std::function<absl::StatusOr<std::string>(absl::string_view spki_der)>;

class EnrollmentService {
 public:
  EnrollmentService(storage::Store& store, hsm::KeyStore& keys,
                    const audit::AuditLog& log, const Clock& clock,
                    sam::CredentialService& credentials, Options options,
                    IssueCertificate issue, CertifyTransportKey certify)
      : store_(store),
        keys_(keys),
        log_(log),
        clock_(clock),
        credentials_(credentials),
        options_(std::move(options)),
        issue_(std::move(issue)),
        certify_(std::move(certify)) {}

  // Redeems a code from `peer` ("1.2.3.4:port"). Returns the session token
  // (256-bit, base64url) that names the session from now on (cookie or
  // bearer). InvalidArgument for a malformed code; NotFound for an unknown
  // one; Unauthenticated for a wrong secret; FailedPrecondition for a used,
  // burnt or expired code; ResourceExhausted when `peer` is throttled. All
  // logged; none says more than "this code does not work" to the caller
  // beyond the status code.
  absl::StatusOr<SecretBytes> Redeem(absl::string_view code,
                                     absl::string_view peer);

  // NotFound for an unknown or expired session token.
  absl::StatusOr<SessionView> View(const SecretBytes& token);
  // Constant-time check of a form's CSRF token against the session's.
  absl::Status CheckCsrf(const SecretBytes& token, absl::string_view csrf);

  // Each step: FailedPrecondition if the session is not at that step.
  absl::Status SetPin(const SecretBytes& token, const SecretBytes& pin);
  // Enrolls a TOTP authenticator; the session moves to kTotpConfirm.
  absl::Status StartTotp(const SecretBytes& token);
  // Unauthenticated for a wrong code (the factor's try budget counts it).
  absl::Status ConfirmTotp(const SecretBytes& token, absl::string_view otp);
  absl::Status RegisterCard(const SecretBytes& token,
                            absl::string_view certificate_der);

  // Path A.
  absl::Status CreateInHsm(const SecretBytes& token, crypto::KeyAlgorithm alg);
  // Path B: the transport key's certificate (DER), made by the CA the first
  // time it is asked for and kept; made again a month before it ends or when
  // it does not verify under `ca_der` (the CA's certificate now).
  // FailedPrecondition when a new one is needed and the CA key is not active.
  absl::StatusOr<std::string> TransportCertificate(absl::string_view ca_der);
  // Path B: `public_key_der` is the SPKI of the key inside `wrapped_blob`.
  // `proof` is the key's signature over UploadProofMessage(token): made by
  // whoever holds the private key, for this session only, so a captured
  // upload cannot be replayed into another enrollment. The key is then opened
  // in the HSM and must sign a fresh challenge that verifies under the public
  // key. A public key that another credential already has is refused.
  // InvalidArgument for any of these failures.
  absl::Status ImportKey(const SecretBytes& token, crypto::KeyAlgorithm alg,
                         absl::string_view public_key_der,
                         absl::string_view wrapped_blob,
                         absl::string_view proof);
  // Path C: makes the key and the PKCS#12 (kept for one download).
  absl::Status PrepareDelivery(const SecretBytes& token,
                               crypto::KeyAlgorithm alg,
                               const SecretBytes& password);
  // Path C: hands out the PKCS#12 once and erases it; FailedPrecondition the
  // second time.
  absl::StatusOr<SecretBytes> TakeDelivery(const SecretBytes& token);

  // The user confirms receipt; the certificate is then issued if the CA key
  // is active (else the session ends with certificate_pending).
  absl::Status ConfirmReceipt(const SecretBytes& token);

 private:
  struct Session {
    std::string enrollment_id, user;
    int64_t user_id = 0;  // from the PIN step on
    int scal = 2;
    Step step = Step::kPin;
    SecretBytes pin;  // from kPin until the key is made
    std::string csrf, totp_uri, path, credential_id, algorithm, certificate;
    bool certificate_pending = false;
    SecretBytes p12;
    absl::Time expires;
  };
  struct SessionBox {
    absl::Mutex mu;
    Session s ABSL_GUARDED_BY(mu);
  };
  // The live session named by token (expired ones are dropped here).
  absl::StatusOr<std::shared_ptr<SessionBox>> Find(const SecretBytes& token);
  // Runs fn on the session, under its own lock, if it is at one of
  // `expected`; FailedPrecondition naming the step it is at otherwise.
  absl::Status WithSession(const SecretBytes& token,
                           std::initializer_list<Step> expected,
                           const std::function<absl::Status(Session&)>& fn);
  sam::Context Ctx(const Session& s) const;
  absl::Status RecordRedeem(
      absl::string_view id, absl::string_view peer, absl::string_view result,
      const std::function<absl::Status(storage::Transaction&)>& change =
          nullptr);
  bool Throttled(const std::string& address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteFailure(const std::string& address);
  absl::Status Log(const audit::Event& event);
  // The key exists as `credential_id`: the session moves to `next`, the
  // credential waits for the user's receipt, and the path is logged.
  absl::Status FinishKey(Session& s, const std::string& credential_id,
                         absl::string_view path, crypto::KeyAlgorithm alg,
                         Step next);

  storage::Store& store_;
  hsm::KeyStore& keys_;
  const audit::AuditLog& log_;
  const Clock& clock_;
  sam::CredentialService& credentials_;
  const Options options_;
  IssueCertificate issue_;
  CertifyTransportKey certify_;

  absl::Mutex mu_;
  // By the SHA-256 (hex) of the session token.
  std::map<std::string, std::shared_ptr<SessionBox>> sessions_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<absl::Time>> failures_ ABSL_GUARDED_BY(mu_);
  // When a throttled address was last logged (once per window).
  std::map<std::string, absl::Time> throttle_logged_ ABSL_GUARDED_BY(mu_);
};

// What a path B client signs with the key it uploads: binds the upload to
// the session (token) it is made in.
std::string UploadProofMessage(const SecretBytes& session_token);
// The signature scheme of that proof (and of the HSM-side check) for `alg`:
// SHA-384 for P-384, SHA-256 otherwise; RSA with PKCS#1 v1.5.
crypto::SignatureScheme ProofScheme(crypto::KeyAlgorithm alg);

// The code's MAC input and parsing, exposed for tests.
struct ParsedCode {
  std::string id;      // 16 base32 characters
  SecretBytes secret;  // 32 base32 characters
};
absl::StatusOr<ParsedCode> ParseCode(absl::string_view code);

}  // namespace inkan::enroll

#endif  // INKAN_ENROLL_ENROLLMENT_H_
