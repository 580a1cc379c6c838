// The CA as inkan runs it (R6, R8, R12): the "ca.init" ceremony, and issuing,
// revoking and CRLs with a CA key activated from custodians' shares.
//
// State (meta keys, written only by the ceremony or by this class, each change
// on the audit log in the same transaction):
//   ca.custody      the CA key in custody (ceremony/custody.h)
//   ca.certificate  the CA certificate, base64 DER (a self-signed root)
//   ca.profile      the certificate profile, canonical JSON
//   ca.crl_number   the last CRL number; ca.crl the latest CRL (base64 DER)
//   ca.ocsp.key     the delegated OCSP responder's key, wrapped under the
//                   HSM's master KEK (OCSP answers while the CA key sleeps)
//   ca.ocsp.cert    its certificate (base64 DER), issued at ca.init
//
// The CA key is active only inside an Authority object that was given k
// valid shares (Activate) and only until Deactivate or destruction; the
// signing service (issue 4) keeps one for a configured window.
//
// Thread-safety: not thread-safe (one ceremony at a time).
#ifndef INKAN_CA_AUTHORITY_H_
#define INKAN_CA_AUTHORITY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/audit_log.h"
#include "ca/certificate.h"
#include "ca/crl.h"
#include "ca/ocsp.h"
#include "ceremony/quorum.h"
#include "common/clock.h"
#include "common/secret_bytes.h"
#include "hsm/key_store.h"
#include "hsm/pkcs11_key_store.h"
#include "storage/store.h"

namespace inkan::ca {

// Registers "ca.init", "ca.rekey" (k custodians' shares given at execution;
// the KEK is re-split among the active operators with the current quorum, the
// CA key stays, the old shares become void) and "ca.destroy" (the CA key's
// custody and the responder key are removed, the shares are void, and the
// destruction record is logged; custodians then acknowledge it).
// "ca.init" params: subject, alg (default ec-p256), days (root
// validity, default 3650), ee_days (default 365), ocsp_url, crl_url,
// ca_issuers_url (optional)). Executing it splits a fresh CA KEK among all
// active operators with the current quorum as threshold, each share sealed to
// its operator's P-256 key, and self-signs the root. `keys` and `clock` must
// outlive `ceremonies`.
// "ca.backup" copies the CA key onto a backup PKCS#11 token (params token,
// module): k shares at execution, the token's PIN through `tokens`; the
// token then holds the key under its own CA KEK, sealed under the same split
// (token and k shares restore it: "ca.restore" with form=token). Rekey
// re-seals that copy and destroy removes it (both need the token's PIN).
void RegisterCaOperations(ceremony::Ceremonies& ceremonies, hsm::KeyStore& keys,
                          const audit::AuditLog& log, const Clock& clock,
                          const hsm::TokenAccess& tokens);

struct CaStatus {
  bool initialised = false;
  std::string subject;
  std::string algorithm;
  int threshold = 0;
  std::vector<std::string> custodians;
  std::string certificate_sha256;
  absl::Time not_after;
  int64_t crl_number = 0;
  // The delegated OCSP responder's certificate (90 days, renewed by the
  // service while the CA key is active).
  absl::Time responder_not_after = absl::InfinitePast();
  std::string responder_sha256;
};

class Authority {
 public:
  Authority(storage::Store& store, hsm::KeyStore& keys,
            const audit::AuditLog& log, const Clock& clock)
      : store_(store), keys_(keys), log_(log), clock_(clock) {}

  absl::StatusOr<CaStatus> Status();
  // The CA certificate (DER). FailedPrecondition before ca.init.
  absl::StatusOr<std::string> CaCertificate();
  // The CSR made by ca.init in csr mode (DER). NotFound if there is none.
  absl::StatusOr<std::string> Csr();
  // The share sealed to `custodian`'s key. NotFound for a non-custodian.
  absl::StatusOr<std::string> SealedShareFor(absl::string_view custodian);

  // The CA's backup bundle: canonical JSON with the custody record (the CA key
  // wrapped under the split KEK, commitments, sealed shares), the CA and
  // responder certificates and the profile. It holds no secret: without k
  // custodians' shares it unwraps nothing. Restore it into an empty instance
  // with the "ca.restore" ceremony (param bundle = its base64).
  absl::StatusOr<std::string> BackupBundle(absl::string_view actor);

  // A custodian acknowledges the destruction of the CA key: their signature
  // over DestructionMessage(set_id). FailedPrecondition if nothing was
  // destroyed; PermissionDenied for a non-custodian or a bad signature.
  absl::Status AcknowledgeDestruction(absl::string_view custodian,
                                      absl::string_view signature);
  // The message custodians sign; FailedPrecondition if nothing was destroyed.
  absl::StatusOr<std::string> DestructionMessage();

  // Activates the CA key from share texts (DecodeShare form) until `until`
  // (the key object is destroyed at the first use after it, or at
  // Deactivate). Each share is checked at entry; a bad one is named
  // (InvalidArgument). Logged, also when refused.
  absl::Status Activate(const std::vector<SecretBytes>& share_texts,
                        absl::string_view actor,
                        absl::Time until = absl::InfiniteFuture());
  // Ends the activation now; with an actor, logs it ("ca.deactivate").
  void Deactivate() {
    signer_.reset();
    active_.reset();
    active_until_ = absl::InfinitePast();
  }
  absl::Status Deactivate(absl::string_view actor, absl::string_view reason);
  bool active() const {
    return active_ != nullptr && clock_.Now() < active_until_;
  }
  // The end of the window while the key object is held (also just after the
  // window ended, until the next use or Deactivate); InfinitePast otherwise.
  absl::Time active_until() const { return active_until_; }

  // One share text checked at entry, for collecting shares one at a time:
  // which custodian's it is, and how many are needed. InvalidArgument naming
  // a bad share; FailedPrecondition if there is no CA key in custody.
  struct ShareCheck {
    int index = 0;
    std::string custodian;
    int threshold = 0;
  };
  absl::StatusOr<ShareCheck> CheckShareText(const SecretBytes& share_text);
  // Appends one event about the CA to the audit log (its own transaction).
  absl::Status RecordEvent(const audit::Event& event);

  // Issues a certificate for a credential's public key. Subject: `subject`
  // (RFC 4514) or "CN=<user name>" from the user record. FailedPrecondition
  // unless active; NotFound for an unknown credential.
  absl::StatusOr<storage::CertificateRecord> IssueForCredential(
      absl::string_view credential_id, absl::string_view subject,
      absl::string_view actor);
  // Revokes (final) and signs a fresh CRL in the same transaction.
  absl::Status Revoke(absl::string_view serial_hex, CrlReason reason,
                      absl::string_view actor);
  // A TLS server certificate (serverAuth, subjectAltName = `names`) for
  // inkan's own HTTPS endpoint, for a key made by the caller; 397 days at
  // most, inside the CA's validity. Recorded in the certificates table (no
  // credential) and logged. FailedPrecondition unless active.
  absl::StatusOr<storage::CertificateRecord> IssueTlsCertificate(
      absl::string_view public_key_der, const std::vector<std::string>& names,
      absl::string_view actor);
  // A certificate (397 days at most) for the HSM's enrollment transport key
  // (IssueKeyTransportCertificate); recorded and logged as
  // "cert.issue.transport". FailedPrecondition unless active.
  absl::StatusOr<storage::CertificateRecord> IssueTransportCertificate(
      absl::string_view public_key_der, absl::string_view actor);
  // A new delegated OCSP responder key and certificate (90 days), replacing
  // the old; returns the certificate (DER). A running OCSP server picks it up
  // at its next start.
  absl::StatusOr<std::string> RenewResponder(absl::string_view actor);
  // Signs and stores a fresh CRL; returns its DER.
  absl::StatusOr<std::string> IssueCrl(absl::string_view actor);

 private:
  // The service's own certificates (TLS, the enrollment transport key): 397
  // days at most, recorded, and logged as `event` plus serial, not_after and
  // public_key_sha256.
  using ServiceIssuer = std::function<absl::StatusOr<IssuedCertificate>(
      const CertProfile&, const Name&, const Validity&, const CaContext&)>;
  absl::StatusOr<storage::CertificateRecord> IssueServiceCertificate(
      absl::string_view subject_text, absl::string_view public_key_der,
      const ServiceIssuer& issue, audit::Event event);
  absl::StatusOr<std::string> CrlInTx(storage::Transaction& tx,
                                      absl::string_view actor);
  // OK while active; ends an expired window.
  absl::Status CheckActive();

  storage::Store& store_;
  hsm::KeyStore& keys_;
  const audit::AuditLog& log_;
  const Clock& clock_;
  std::unique_ptr<hsm::ActiveKey> active_;
  std::unique_ptr<crypto::Signer> signer_;
  absl::Time active_until_ = absl::InfinitePast();
};

// Answers OCSP requests (RFC 6960) with the delegated responder key: good,
// revoked or unknown from the certificates table, the nonce echoed. Holds the
// responder key active for its lifetime. Thread-safe.
class OcspService {
 public:
  // FailedPrecondition before ca.init.
  static absl::StatusOr<std::unique_ptr<OcspService>> Open(
      storage::Store& store, hsm::KeyStore& keys, const Clock& clock);
  // Always a DER OCSPResponse: malformedRequest for a bad request,
  // internalError (and the error logged by the caller) if the store fails.
  std::string Answer(absl::string_view request_der);

 private:
  OcspService(storage::Store& store, const Clock& clock)
      : store_(store), clock_(clock) {}
  storage::Store& store_;
  const Clock& clock_;
  std::string ca_der_;
  std::string responder_der_;
  std::unique_ptr<hsm::ActiveKey> key_;
  std::unique_ptr<crypto::Signer> signer_;
};

// The CA record on a backup token (a bundle, as BackupBundle, whose custody
// is wrapped by that token's CA KEK), for proposing a restore from it.
// NotFound if the token holds none.
absl::StatusOr<std::string> ReadBackupTokenRecord(
    const hsm::TokenAccess& tokens, absl::string_view module,
    absl::string_view label);

// A Signer over an ActiveKey (which must outlive it).
std::unique_ptr<crypto::Signer> ActiveKeySigner(hsm::ActiveKey& key,
                                                std::string spki_der);

// Parses a CRL reason name as openssl prints them (keyCompromise, …).
absl::StatusOr<CrlReason> ParseCrlReason(absl::string_view name);

}  // namespace inkan::ca

#endif  // INKAN_CA_AUTHORITY_H_
