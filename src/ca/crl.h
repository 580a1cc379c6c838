// Certificate revocation lists (RFC 5280 §5) signed through the CA's
// crypto::Signer: v2 CRLs with authorityKeyIdentifier and cRLNumber, and a
// reasonCode entry extension for every reason other than unspecified.
//
// Thread-safety: pure functions; safe to call concurrently with signers that
// are.
#ifndef INKAN_CA_CRL_H_
#define INKAN_CA_CRL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ca/certificate.h"

namespace inkan::ca {

// CRLReason (RFC 5280 §5.3.1); the values are the DER ENUMERATED values.
// 7 is unused. removeFromCRL is only for delta CRLs, which inkan does not
// make, so IssueCrl and the OCSP builder refuse it.
enum class CrlReason {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  kCertificateHold = 6,
  kRemoveFromCrl = 8,
  kPrivilegeWithdrawn = 9,
  kAaCompromise = 10,
};

// OK for the reasons a full CRL or an OCSP response may carry;
// InvalidArgument otherwise (an out-of-range value, or removeFromCRL).
absl::Status CheckCrlReason(CrlReason reason);

struct RevokedEntry {
  std::string serial_hex;  // as IssuedCertificate::serial_hex (any case)
  absl::Time revocation_time;
  CrlReason reason = CrlReason::kUnspecified;
};

// A DER CRL for `ca` listing `revoked` (in the order given).
// InvalidArgument if crl_number is negative, next_update <= this_update, a
// serial is malformed or listed twice, a revocation time is after
// this_update, or a reason is refused by CheckCrlReason. FailedPrecondition
// if the CaContext is inconsistent (see certificate.h).
absl::StatusOr<std::string> IssueCrl(const CaContext& ca, int64_t crl_number,
                                     absl::Time this_update,
                                     absl::Time next_update,
                                     absl::Span<const RevokedEntry> revoked);

}  // namespace inkan::ca

#endif  // INKAN_CA_CRL_H_
