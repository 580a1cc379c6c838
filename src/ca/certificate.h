// X.509 v3 certificates (RFC 5280) signed through a crypto::Signer: the
// self-signed root, a PKCS#10 request for an external root, certificates for
// user credentials from a profile (issue 3 §4), the delegated OCSP
// responder's certificate (RFC 6960 §4.2.2.2), and the TLS server
// certificate of inkan's own HTTPS endpoint.
//
// The issuing key stays in the HSM: each function encodes the
// to-be-signed structure, signs its hash through the Signer, assembles the
// result, and parses and verifies it with OpenSSL before returning it, so a
// faulty signature never leaves this module.
//
// Signature algorithms follow the signer's scheme: ecdsa-with-SHA256/384/512,
// sha256/384/512WithRSAEncryption, RSASSA-PSS, Ed25519.
//
// Serial numbers are 16 random octets (RAND_bytes) with the top bit clear and
// a non-zero first octet: positive, always 16 DER content octets, 127 bits of
// entropy. Uniqueness against the store is the caller's check.
//
// Thread-safety: pure functions; safe to call concurrently with signers that
// are.
#ifndef INKAN_CA_CERTIFICATE_H_
#define INKAN_CA_CERTIFICATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/name.h"
#include "crypto/signer.h"

namespace inkan::ca {

// Placeholder certificate-policy OIDs under the private-enterprise arc
// 1.3.6.1.4.1.99999, which is NOT assigned to inkan: an operator replaces
// them with OIDs under their own arc (set in the CertProfile).
inline constexpr absl::string_view kPlaceholderHsmKeyPolicyOid =
    "1.3.6.1.4.1.99999.1.1";
inline constexpr absl::string_view kPlaceholderProvisionalKeyPolicyOid =
    "1.3.6.1.4.1.99999.1.2";
inline constexpr absl::string_view kPlaceholderUserKeyPolicyOid =
    "1.3.6.1.4.1.99999.1.3";

struct Validity {
  absl::Time not_before;
  absl::Time not_after;  // must be after not_before; seconds are kept
};

// The issuing CA: its certificate and the Signer that holds its key
// (borrowed; must outlive the call). Both are checked on each use: the
// certificate must parse, be a CA with keyCertSign and cRLSign, and carry the
// signer's public key.
struct CaContext {
  std::string certificate_der;
  const crypto::Signer& signer;
};

// How a user credential's certificate is made. Copyable and movable.
struct CertProfile {
  // The longest validity a certificate of this profile may have.
  absl::Duration max_validity = absl::Hours(24 * 365);
  // certificatePolicies: one OID for keys held in the HSM, one for keys on
  // the provisional software backend (R2), one for keys delivered to their
  // owners and not held by the provider (R11), dotted decimal.
  std::string hsm_key_policy_oid = std::string(kPlaceholderHsmKeyPolicyOid);
  std::string provisional_key_policy_oid =
      std::string(kPlaceholderProvisionalKeyPolicyOid);
  std::string user_key_policy_oid = std::string(kPlaceholderUserKeyPolicyOid);
  // authorityInfoAccess (OCSP, caIssuers) and cRLDistributionPoints. http://
  // or https:// URLs; an empty one leaves its entry (or extension) out.
  std::string ocsp_url;
  std::string ca_issuers_url;
  std::string crl_url;
};

// InvalidArgument naming the field if a profile is unusable (policy OIDs,
// http(s) URLs, a positive validity).
absl::Status CheckProfile(const CertProfile& profile);

enum class KeyProtection { kHsm, kProvisionalSoftware, kUserHeld };

struct IssueRequest {
  Name subject;
  std::string subject_public_key_der;  // DER SubjectPublicKeyInfo
  absl::Time not_before;
  absl::Time not_after;
  KeyProtection key_protection = KeyProtection::kHsm;
};

struct IssuedCertificate {
  std::string der;
  std::string serial_hex;  // lowercase, 32 digits
};

// A self-signed CA certificate: basicConstraints CA:TRUE (critical), keyUsage
// keyCertSign + cRLSign (critical), subjectKeyIdentifier. InvalidArgument for
// an empty or malformed subject or not_after <= not_before.
absl::StatusOr<IssuedCertificate> IssueRootCertificate(
    const Name& subject, const Validity& validity, const crypto::Signer& ca);

// A PKCS#10 request (RFC 2986) for the CA key, to be certified by an
// external root. It asks (extensionRequest) for basicConstraints CA:TRUE and
// keyUsage keyCertSign + cRLSign. Returns DER.
absl::StatusOr<std::string> MakeCsr(const Name& subject,
                                    const crypto::Signer& key);

// An end-entity certificate for a user credential: keyUsage digitalSignature
// + nonRepudiation (critical), basicConstraints CA:FALSE (critical),
// subjectKeyIdentifier, authorityKeyIdentifier (the CA's key id),
// certificatePolicies (by key_protection), authorityInfoAccess and
// cRLDistributionPoints (from the profile).
// InvalidArgument if the subject or its public key does not parse (or is RSA
// below 2048 bits), not_after <= not_before, the validity is longer than the
// profile allows or not inside the CA certificate's, or the profile is
// malformed. FailedPrecondition if the CaContext is inconsistent.
absl::StatusOr<IssuedCertificate> IssueCertificate(const CertProfile& profile,
                                                   const IssueRequest& request,
                                                   const CaContext& ca);

// The delegated OCSP responder's certificate: keyUsage digitalSignature
// (critical), basicConstraints CA:FALSE, extendedKeyUsage id-kp-OCSPSigning,
// id-pkix-ocsp-nocheck, SKI, AKI. Errors as IssueCertificate.
absl::StatusOr<IssuedCertificate> IssueOcspResponderCertificate(
    const Name& subject, absl::string_view responder_public_key_der,
    const Validity& validity, const CaContext& ca);

// The most names a TLS server certificate may carry.
inline constexpr int kMaxTlsServerNames = 100;

// A TLS server certificate for inkan's own HTTPS endpoint: keyUsage
// digitalSignature, plus keyEncipherment for RSA keys (critical),
// basicConstraints CA:FALSE (critical), extendedKeyUsage id-kp-serverAuth
// only, subjectAltName with each of `names` in order, SKI, AKI, and
// authorityInfoAccess / cRLDistributionPoints from `profile` when its URLs
// are set. `profile.max_validity` bounds the validity; its policy OIDs are
// not used (no certificatePolicies: the policies describe credential keys).
//
// Each name is either
//   - an IP address literal, strictly as inet_pton(3) reads it: dotted-quad
//     IPv4 without leading zeros ("127.0.0.1") or IPv6 ("::1", no brackets or
//     zone id): an iPAddress of 4 or 16 octets; or
//   - a DNS name (a dNSName, lower-cased): at most 253 characters, labels of
//     1..63 letters, digits and inner hyphens, no trailing dot, a last label
//     that is not all digits (so "1.2.3.999" is neither an address nor a
//     name), optionally a leading "*." wildcard label followed by at least
//     two labels ("*.inkan.example.jp"; "*.jp" and "a.*.jp" are refused).
// InvalidArgument for no names, more than kMaxTlsServerNames, a name that is
// neither, the same name twice (after lower-casing, or the same address
// spelled twice), or as IssueCertificate (subject, key, validity, profile).
// FailedPrecondition if the CaContext is inconsistent.
absl::StatusOr<IssuedCertificate> IssueTlsServerCertificate(
    const CertProfile& profile, const Name& subject,
    absl::string_view public_key_der, const std::vector<std::string>& names,
    const Validity& validity, const CaContext& ca);

// A certificate for the HSM's enrollment transport key (RSA >= 3072): key
// usage keyEncipherment only, not a CA, so a client can check that the key it
// wraps a private key for is the provider's (enrollment path B).
absl::StatusOr<IssuedCertificate> IssueKeyTransportCertificate(
    const CertProfile& profile, const Name& subject,
    absl::string_view public_key_der, const Validity& validity,
    const CaContext& ca);

// PEM text ("-----BEGIN <label>-----", base64 in 64-column lines) for DER,
// e.g. label "CERTIFICATE", "X509 CRL", "CERTIFICATE REQUEST".
std::string ToPem(absl::string_view der, absl::string_view label);

}  // namespace inkan::ca

#endif  // INKAN_CA_CERTIFICATE_H_
