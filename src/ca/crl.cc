#include "ca/crl.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "ca/x509_util.h"
#include "common/status_macros.h"

namespace inkan::ca {
namespace {

using internal::I2d;

absl::StatusOr<std::string> EncodeTime(absl::Time t) {
  ASSIGN_OR_RETURN(internal::Asn1TimePtr asn1, internal::ToAsn1Time(t));
  return I2d(i2d_ASN1_TIME, asn1.get());
}

absl::StatusOr<std::string> CrlNumberExtension(int64_t number) {
  internal::Asn1IntegerPtr n(ASN1_INTEGER_new());
  if (!n || ASN1_INTEGER_set_int64(n.get(), number) != 1) {
    return absl::InternalError(crypto::SslErrorString());
  }
  return internal::ExtensionDer(NID_crl_number, false, n.get());
}

// One revokedCertificates entry, encoded by OpenSSL's X509_REVOKED.
absl::StatusOr<std::string> EncodeEntry(ASN1_INTEGER* serial,
                                        absl::Time revocation_time,
                                        CrlReason reason) {
  internal::X509RevokedPtr entry(X509_REVOKED_new());
  if (!entry) return absl::InternalError("out of memory");
  ASSIGN_OR_RETURN(internal::Asn1TimePtr when,
                   internal::ToAsn1Time(revocation_time));
  if (X509_REVOKED_set_serialNumber(entry.get(), serial) != 1 ||
      X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1) {
    return absl::InternalError(crypto::SslErrorString());
  }
  // RFC 5280 §5.3.1: the reason code "unspecified" SHOULD be absent.
  if (reason != CrlReason::kUnspecified) {
    internal::Asn1EnumeratedPtr code(ASN1_ENUMERATED_new());
    if (!code ||
        ASN1_ENUMERATED_set(code.get(), static_cast<long>(reason)) != 1 ||
        X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0,
                                  0) != 1) {
      return absl::InternalError(crypto::SslErrorString());
    }
  }
  return I2d(i2d_X509_REVOKED, entry.get());
}

}  // namespace

absl::Status CheckCrlReason(CrlReason reason) {
  switch (reason) {
    case CrlReason::kUnspecified:
    case CrlReason::kKeyCompromise:
    case CrlReason::kCaCompromise:
    case CrlReason::kAffiliationChanged:
    case CrlReason::kSuperseded:
    case CrlReason::kCessationOfOperation:
    case CrlReason::kCertificateHold:
    case CrlReason::kPrivilegeWithdrawn:
    case CrlReason::kAaCompromise:
      return absl::OkStatus();
    case CrlReason::kRemoveFromCrl:
      return absl::InvalidArgumentError(
          "removeFromCRL belongs in delta CRLs only");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "CRL reason ", static_cast<int>(reason), " is not an RFC 5280 value"));
}

absl::StatusOr<std::string> IssueCrl(const CaContext& ca, int64_t crl_number,
                                     absl::Time this_update,
                                     absl::Time next_update,
                                     absl::Span<const RevokedEntry> revoked) {
  ASSIGN_OR_RETURN(internal::ParsedIssuer issuer,
                   internal::ParseIssuer(ca.certificate_der, ca.signer,
                                         /*require_ca=*/true));
  if (crl_number < 0) {
    return absl::InvalidArgumentError("CRL number must not be negative");
  }
  this_update = internal::TruncateToSecond(this_update);
  next_update = internal::TruncateToSecond(next_update);
  if (next_update <= this_update) {
    return absl::InvalidArgumentError(
        "CRL next_update must be after this_update");
  }

  std::string entries;
  absl::flat_hash_set<std::string> seen;
  for (const RevokedEntry& e : revoked) {
    ASSIGN_OR_RETURN(internal::Asn1IntegerPtr serial,
                     internal::SerialFromHex(e.serial_hex));
    ASSIGN_OR_RETURN(std::string canonical,
                     internal::SerialToHex(serial.get()));
    if (!seen.insert(canonical).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("serial ", canonical, " is listed twice"));
    }
    RETURN_IF_ERROR(CheckCrlReason(e.reason));
    absl::Time when = internal::TruncateToSecond(e.revocation_time);
    if (when > this_update) {
      return absl::InvalidArgumentError(absl::StrCat(
          "serial ", canonical, " is revoked after the CRL's this_update"));
    }
    ASSIGN_OR_RETURN(std::string entry,
                     EncodeEntry(serial.get(), when, e.reason));
    entries += entry;
  }

  ASSIGN_OR_RETURN(std::string algorithm,
                   internal::SignatureAlgorithm(ca.signer.scheme()));
  ASSIGN_OR_RETURN(std::string this_der, EncodeTime(this_update));
  ASSIGN_OR_RETURN(std::string next_der, EncodeTime(next_update));
  ASSIGN_OR_RETURN(std::string aki,
                   internal::AuthorityKeyIdExtension(issuer.key_id));
  ASSIGN_OR_RETURN(std::string number, CrlNumberExtension(crl_number));
  // TBSCertList (RFC 5280 §5.1). With no entries, revokedCertificates is
  // absent rather than empty (§5.1.2.6).
  std::string tbs = internal::Sequence({
      internal::SmallInteger(1),  // v2
      algorithm,
      issuer.subject_der,
      this_der,
      next_der,
      entries.empty() ? std::string() : internal::Sequence({entries}),
      internal::Tlv(internal::ContextTag(0), internal::Sequence({aki, number})),
  });
  ASSIGN_OR_RETURN(std::string der, internal::SignAndWrap(ca.signer, tbs));

  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  internal::X509CrlPtr crl(
      d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl ||
      p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return absl::InternalError("the assembled CRL does not parse");
  }
  if (X509_CRL_verify(crl.get(), X509_get0_pubkey(issuer.cert.get())) != 1) {
    ERR_clear_error();
    return absl::InternalError(
        "the signer produced a signature that does not verify");
  }
  return der;
}

}  // namespace inkan::ca
