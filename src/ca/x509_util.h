// Internal to src/ca: OpenSSL ownership aliases, a small DER writer, and the
// signing step every object of this module shares (certificate, CSR, CRL,
// OCSP response).
//
// The CA's key is only reachable through crypto::Signer, so OpenSSL cannot
// sign for us. Each builder therefore DER-encodes its parts with OpenSSL
// (names, integers, times, extensions, SubjectPublicKeyInfo), concatenates
// them into the to-be-signed SEQUENCE, signs that through the Signer, wraps
// SEQUENCE {tbs, AlgorithmIdentifier, BIT STRING} and parses the result back
// with OpenSSL to verify it before returning it.
//
// Not a public interface: other modules include the headers beside it.
#ifndef INKAN_CA_X509_UTIL_H_
#define INKAN_CA_X509_UTIL_H_

#include <openssl/asn1.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/signer.h"
#include "crypto/ssl_ptr.h"

namespace inkan::ca::internal {

// Ownership aliases for the OpenSSL types this module uses, after
// crypto/ssl_ptr.h (which covers the EVP types).
template <typename T, void (*F)(T*)>
using SslPtr = std::unique_ptr<T, crypto::SslDeleter<T, F>>;

using X509Ptr = SslPtr<X509, X509_free>;
using X509ReqPtr = SslPtr<X509_REQ, X509_REQ_free>;
using X509CrlPtr = SslPtr<X509_CRL, X509_CRL_free>;
using X509NamePtr = SslPtr<X509_NAME, X509_NAME_free>;
using X509ExtensionPtr = SslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using X509RevokedPtr = SslPtr<X509_REVOKED, X509_REVOKED_free>;
using X509PubkeyPtr = SslPtr<X509_PUBKEY, X509_PUBKEY_free>;
using Asn1IntegerPtr = SslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1TimePtr = SslPtr<ASN1_TIME, ASN1_TIME_free>;
using Asn1ObjectPtr = SslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;
using Asn1OctetStringPtr = SslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Asn1BitStringPtr = SslPtr<ASN1_BIT_STRING, ASN1_BIT_STRING_free>;
using Asn1EnumeratedPtr = SslPtr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using OcspRequestPtr = SslPtr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = SslPtr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicRespPtr = SslPtr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = SslPtr<OCSP_CERTID, OCSP_CERTID_free>;
using OcspRespIdPtr = SslPtr<OCSP_RESPID, OCSP_RESPID_free>;

// DER-encodes `obj` with an OpenSSL i2d-style function. Internal on failure.
template <typename T, typename Fn>
absl::StatusOr<std::string> I2d(Fn fn, T* obj) {
  int len = fn(obj, nullptr);
  if (len <= 0) {
    return absl::InternalError(
        absl::StrCat("DER encoding failed: ", crypto::SslErrorString()));
  }
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (fn(obj, &p) != len) {
    return absl::InternalError("DER encoding changed length");
  }
  return out;
}

// DER tags used by the builders.
inline constexpr uint8_t kTagInteger = 0x02;
inline constexpr uint8_t kTagBitString = 0x03;
inline constexpr uint8_t kTagOctetString = 0x04;
inline constexpr uint8_t kTagSequence = 0x30;
// [n] EXPLICIT (context-specific, constructed).
constexpr uint8_t ContextTag(int n) { return static_cast<uint8_t>(0xa0 | n); }

// tag || length || content (DER definite length).
std::string Tlv(uint8_t tag, absl::string_view content);
// SEQUENCE { parts... } (parts are already DER).
std::string Sequence(std::initializer_list<absl::string_view> parts);
// INTEGER for a small non-negative value.
std::string SmallInteger(int64_t value);

// The DER AlgorithmIdentifier for signatures made with `scheme`
// (ecdsa-with-SHA*, sha*WithRSAEncryption with NULL parameters, RSASSA-PSS
// with explicit parameters, Ed25519).
absl::StatusOr<std::string> SignatureAlgorithm(
    const crypto::SignatureScheme& scheme);

// Signs `tbs` with `signer` and returns
// SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING signature, trailer }.
// `trailer` is DER appended inside the SEQUENCE (OCSP's certs), or empty.
absl::StatusOr<std::string> SignAndWrap(const crypto::Signer& signer,
                                        absl::string_view tbs,
                                        absl::string_view trailer = "");

// Whole-buffer d2i: InvalidArgument if `der` does not parse or has trailing
// bytes.
absl::StatusOr<X509Ptr> ParseCertificateDer(absl::string_view der);
absl::StatusOr<crypto::EvpPkeyPtr> ParsePublicKeyDer(absl::string_view der);

// Time conversions. Certificate and CRL times follow RFC 5280 §4.1.2.5
// (UTCTime through 2049, GeneralizedTime after); OCSP times are always
// GeneralizedTime (RFC 6960). InvalidArgument if the time cannot be encoded.
// Sub-second parts are dropped.
absl::StatusOr<Asn1TimePtr> ToAsn1Time(absl::Time t);
absl::StatusOr<Asn1TimePtr> ToGeneralizedTime(absl::Time t);
absl::StatusOr<absl::Time> FromAsn1Time(const ASN1_TIME* t);
absl::Time TruncateToSecond(absl::Time t);
// RFC 3339 in UTC, for messages.
std::string FormatUtc(absl::Time t);

// Certificate serial numbers as lowercase hex of the big-endian magnitude
// (no leading zero bytes). SerialFromHex requires a positive value of at most
// 20 DER content octets (RFC 5280 §4.1.2.2).
absl::StatusOr<Asn1IntegerPtr> SerialFromHex(absl::string_view hex);
// InvalidArgument if the INTEGER is negative.
absl::StatusOr<std::string> SerialToHex(const ASN1_INTEGER* serial);

// RFC 5280 §4.2.1.2 method (1): SHA-1 over the subjectPublicKey BIT STRING
// value of a DER SubjectPublicKeyInfo.
absl::StatusOr<std::string> KeyIdentifier(absl::string_view spki_der);

// A dotted-decimal OID ("1.3.6.1.4.1.99999.1.1"), strictly: at least two
// arcs, digits only, no empty arcs or leading zeros, first arc 0..2 (and the
// second below 40 under 0 and 1). InvalidArgument naming `what` otherwise.
absl::StatusOr<Asn1ObjectPtr> ParseOid(absl::string_view what,
                                       absl::string_view oid);

// One DER Extension: X509V3_EXT_i2d(nid, critical, value).
absl::StatusOr<std::string> ExtensionDer(int nid, bool critical, void* value);
// One DER Extension whose extnValue is the given DER.
absl::StatusOr<std::string> RawExtensionDer(int nid, bool critical,
                                            absl::string_view value_der);
// authorityKeyIdentifier with only keyIdentifier (RFC 5280 §4.2.1.1).
absl::StatusOr<std::string> AuthorityKeyIdExtension(absl::string_view key_id);

// An issuer (CA or OCSP responder) given as certificate DER plus the Signer
// that holds its key, checked once per operation.
struct ParsedIssuer {
  X509Ptr cert;
  std::string subject_der;  // the issuer's subject Name, as encoded in it
  std::string key_id;       // its subjectKeyIdentifier (or computed)
  absl::Time not_before;
  absl::Time not_after;
};
// InvalidArgument if the certificate does not parse; FailedPrecondition if
// the signer's public key is not the certificate's, or `require_ca` and the
// certificate is not a CA allowed to sign certificates and CRLs.
absl::StatusOr<ParsedIssuer> ParseIssuer(absl::string_view cert_der,
                                         const crypto::Signer& signer,
                                         bool require_ca);

}  // namespace inkan::ca::internal

#endif  // INKAN_CA_X509_UTIL_H_
