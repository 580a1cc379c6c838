// OCSP (RFC 6960) for the CA's certificates: parse a request, and build a
// response signed by the delegated responder (§4.2.2.2) through its
// crypto::Signer. The nonce extension follows RFC 8954.
//
// The HTTP transport (GET/POST, content types) and the lookup of each
// certificate's status belong to the caller: ParseOcspRequest gives it the
// CertIDs, CertIdMatchesIssuer tells it whether one names our CA, and
// BuildOcspResponse signs its answers. A request that does not parse gets
// OcspErrorResponse(kMalformedRequest).
//
// Thread-safety: pure functions; safe to call concurrently with signers that
// are.
#ifndef INKAN_CA_OCSP_H_
#define INKAN_CA_OCSP_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ca/crl.h"
#include "crypto/signer.h"

namespace inkan::ca {

// Hash algorithm OIDs a CertID may name.
inline constexpr absl::string_view kSha1Oid = "1.3.14.3.2.26";
inline constexpr absl::string_view kSha256Oid = "2.16.840.1.101.3.4.2.1";

// CertID (RFC 6960 §4.1.1). Copyable and movable.
struct CertId {
  std::string hash_algorithm_oid;  // dotted decimal, e.g. kSha1Oid
  std::string issuer_name_hash;    // raw bytes
  std::string issuer_key_hash;     // raw bytes
  std::string serial_hex;          // lowercase, as IssuedCertificate's
  bool operator==(const CertId&) const = default;
};

struct OcspRequest {
  std::vector<CertId> cert_ids;  // at least one, at most kMaxOcspRequestIds
  // The nonce's value (the OCTET STRING's contents, 1..32 octets) if the
  // request carried one; to be echoed in the response.
  std::optional<std::string> nonce;
};

inline constexpr int kMaxOcspRequestIds = 64;

// InvalidArgument for anything malformed: not DER OCSPRequest, trailing
// bytes, no or more than kMaxOcspRequestIds CertIDs, a negative serial, a
// nonce that is not an OCTET STRING of 1..32 octets or appears twice, or an
// unknown critical extension. A signature on the request is ignored.
absl::StatusOr<OcspRequest> ParseOcspRequest(absl::string_view der);

// Whether `id` names a certificate issued by the CA whose certificate is
// `issuer_certificate_der`: its name and key hashes match under
// id.hash_algorithm_oid. False for a hash other than SHA-1 or SHA-2.
// InvalidArgument if the certificate does not parse.
absl::StatusOr<bool> CertIdMatchesIssuer(
    const CertId& id, absl::string_view issuer_certificate_der);

enum class CertStatus { kGood, kRevoked, kUnknown };

struct SingleAnswer {
  CertId cert_id;
  CertStatus status = CertStatus::kUnknown;
  absl::Time revocation_time;                  // kRevoked only
  CrlReason reason = CrlReason::kUnspecified;  // kRevoked only; unspecified
                                               // is left out of the response
  absl::Time this_update;
  std::optional<absl::Time> next_update;
};

// The delegated responder: its certificate (issued by the CA with
// IssueOcspResponderCertificate) and the Signer holding its key (borrowed;
// must outlive the call).
struct OcspResponder {
  std::string certificate_der;
  const crypto::Signer& signer;
};

// A DER OCSPResponse with status successful and a BasicOCSPResponse signed by
// the responder: responderID byKey, the answers in order, the nonce (when
// given) as a response extension, and the responder's certificate in certs.
// InvalidArgument for no or more than kMaxOcspRequestIds answers, a
// malformed CertId, next_update <= this_update, a nonce of 0 or more than 32
// octets, or a reason CheckCrlReason refuses. FailedPrecondition if the
// responder certificate lacks id-kp-OCSPSigning, does not carry the signer's
// key, or is not valid at produced_at.
absl::StatusOr<std::string> BuildOcspResponse(
    const OcspResponder& responder, absl::Span<const SingleAnswer> answers,
    const std::optional<std::string>& nonce, absl::Time produced_at);

// OCSPResponseStatus values other than successful (RFC 6960 §4.2.1).
enum class OcspErrorStatus {
  kMalformedRequest = 1,
  kInternalError = 2,
  kTryLater = 3,
  kSigRequired = 5,
  kUnauthorized = 6,
};

// The DER OCSPResponse carrying only `status` (no responseBytes, unsigned).
std::string OcspErrorResponse(OcspErrorStatus status);

}  // namespace inkan::ca

#endif  // INKAN_CA_OCSP_H_
