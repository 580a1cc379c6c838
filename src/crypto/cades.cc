#include "crypto/cades.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "crypto/signer.h"
#include "crypto/ssl_ptr.h"

namespace inkan::crypto {
namespace {

using X509Ptr = std::unique_ptr<X509, SslDeleter<X509, X509_free>>;

// --- A minimal DER writer: definite lengths, the few types CMS needs. ---

constexpr uint8_t kInteger = 0x02;
constexpr uint8_t kOctetString = 0x04;
constexpr uint8_t kNull = 0x05;
constexpr uint8_t kOid = 0x06;
constexpr uint8_t kUtcTime = 0x17;
constexpr uint8_t kGeneralizedTime = 0x18;
constexpr uint8_t kSequence = 0x30;
constexpr uint8_t kSet = 0x31;
// [n] constructed: EXPLICIT tags, and IMPLICIT tags over constructed types.
constexpr uint8_t ContextConstructed(int n) { return 0xA0 | n; }

std::string Tlv(uint8_t tag, absl::string_view content) {
  std::string out(1, static_cast<char>(tag));
  size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<char>(n));
  } else {
    std::string len;
    for (; n > 0; n >>= 8) len.insert(len.begin(), static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(0x80 | len.size()));
    out.append(len);
  }
  out.append(content.data(), content.size());
  return out;
}

std::string Seq(std::initializer_list<absl::string_view> parts) {
  std::string content;
  for (absl::string_view p : parts) content.append(p.data(), p.size());
  return Tlv(kSequence, content);
}

// X.690 §11.6: the elements of a DER SET OF are ordered as octet strings, the
// shorter padded at its end with zero octets.
bool DerSetLess(const std::string& a, const std::string& b) {
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    uint8_t x = i < a.size() ? static_cast<uint8_t>(a[i]) : 0;
    uint8_t y = i < b.size() ? static_cast<uint8_t>(b[i]) : 0;
    if (x != y) return x < y;
  }
  return false;
}

// The contents of a DER SET OF (without its tag and length).
std::string SetOfContent(std::vector<std::string> elements) {
  std::sort(elements.begin(), elements.end(), DerSetLess);
  std::string content;
  for (const std::string& e : elements) content.append(e);
  return content;
}

std::string Oid(std::initializer_list<uint64_t> arcs) {
  std::string content;
  auto put = [&content](uint64_t v) {
    std::string b(1, static_cast<char>(v & 0x7f));
    for (v >>= 7; v > 0; v >>= 7) {
      b.insert(b.begin(), static_cast<char>(0x80 | (v & 0x7f)));
    }
    content.append(b);
  };
  auto it = arcs.begin();
  uint64_t first = *it++;
  put(first * 40 + *it++);
  for (; it != arcs.end(); ++it) put(*it);
  return Tlv(kOid, content);
}

std::string SmallInteger(uint8_t v) {  // 0..127
  return Tlv(kInteger, std::string(1, static_cast<char>(v)));
}

// --- Object identifiers and algorithm identifiers. ---

const std::string& IdData() {
  static const auto* oid = new std::string(Oid({1, 2, 840, 113549, 1, 7, 1}));
  return *oid;
}
const std::string& IdSignedData() {
  static const auto* oid = new std::string(Oid({1, 2, 840, 113549, 1, 7, 2}));
  return *oid;
}

std::string HashOid(HashAlgorithm h) {
  switch (h) {
    case HashAlgorithm::kSha256:
      return Oid({2, 16, 840, 1, 101, 3, 4, 2, 1});
    case HashAlgorithm::kSha384:
      return Oid({2, 16, 840, 1, 101, 3, 4, 2, 2});
    case HashAlgorithm::kSha512:
      return Oid({2, 16, 840, 1, 101, 3, 4, 2, 3});
  }
  return "";
}

// RFC 5754 §2: SHA-2 AlgorithmIdentifiers are generated without parameters.
std::string HashAlgorithmId(HashAlgorithm h) { return Seq({HashOid(h)}); }

std::string SignatureAlgorithmId(const SignatureScheme& scheme) {
  const int hash_index = scheme.hash == HashAlgorithm::kSha256   ? 0
                         : scheme.hash == HashAlgorithm::kSha384 ? 1
                                                                 : 2;
  if (IsEc(scheme.key)) {  // RFC 5758 §3.2: parameters absent.
    return Seq(
        {Oid({1, 2, 840, 10045, 4, 3, static_cast<uint64_t>(2 + hash_index)})});
  }
  if (scheme.padding == RsaPadding::kPkcs1) {  // RFC 4055 §5: NULL.
    return Seq(
        {Oid({1, 2, 840, 113549, 1, 1, static_cast<uint64_t>(11 + hash_index)}),
         Tlv(kNull, "")});
  }
  // RFC 4055 §3.1 RSASSA-PSS-params; trailerField 1 is the DER default.
  const std::string hash = HashAlgorithmId(scheme.hash);
  const std::string mgf1 = Seq({Oid({1, 2, 840, 113549, 1, 1, 8}), hash});
  return Seq(
      {Oid({1, 2, 840, 113549, 1, 1, 10}),
       Seq({Tlv(ContextConstructed(0), hash), Tlv(ContextConstructed(1), mgf1),
            Tlv(ContextConstructed(2), SmallInteger(static_cast<uint8_t>(
                                           DigestLength(scheme.hash))))})});
}

// --- Certificates. ---

struct CertInfo {
  std::string issuer_der;  // Name
  std::string serial_der;  // INTEGER
  std::string spki_der;    // SubjectPublicKeyInfo
};

// DER of an OpenSSL object through its i2d function.
template <typename T>
absl::StatusOr<std::string> ToDer(const T* obj,
                                  int (*i2d)(const T*, unsigned char**)) {
  int len = i2d(obj, nullptr);
  if (len <= 0) return absl::InternalError(SslErrorString());
  std::string out(len, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d(obj, &p) != len) return absl::InternalError(SslErrorString());
  return out;
}

absl::StatusOr<X509Ptr> ParseCert(absl::string_view der,
                                  absl::string_view what) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert ||
      p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a DER X.509 certificate"));
  }
  return cert;
}

absl::StatusOr<CertInfo> ReadSignerCert(absl::string_view der) {
  ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(der, "the signer's certificate"));
  CertInfo info;
  ASSIGN_OR_RETURN(
      info.issuer_der,
      ToDer<X509_NAME>(X509_get_issuer_name(cert.get()), i2d_X509_NAME));
  ASSIGN_OR_RETURN(info.serial_der,
                   ToDer<ASN1_INTEGER>(X509_get0_serialNumber(cert.get()),
                                       i2d_ASN1_INTEGER));
  ASSIGN_OR_RETURN(
      info.spki_der,
      ToDer<X509_PUBKEY>(X509_get_X509_PUBKEY(cert.get()), i2d_X509_PUBKEY));
  return info;
}

// --- Signed attributes. ---

absl::StatusOr<std::string> SigningTime(absl::Time t) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilSecond cs = absl::ToCivilSecond(t, utc);
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast() ||
      cs.year() < 1 || cs.year() > 9999) {
    return absl::InvalidArgumentError("signing time is out of range");
  }
  // RFC 5652 §11.3: UTCTime from 1950 through 2049, GeneralizedTime
  // otherwise.
  if (cs.year() >= 1950 && cs.year() <= 2049) {
    return Tlv(kUtcTime, absl::FormatTime("%y%m%d%H%M%SZ", t, utc));
  }
  return Tlv(kGeneralizedTime, absl::FormatTime("%Y%m%d%H%M%SZ", t, utc));
}

std::string Attribute(std::initializer_list<uint64_t> oid,
                      absl::string_view value) {
  return Seq({Oid(oid), Tlv(kSet, value)});
}

absl::StatusOr<std::string> SignedAttributes(const CadesRequest& request,
                                             const CertInfo& cert) {
  ASSIGN_OR_RETURN(std::string signing_time, SigningTime(request.signing_time));
  // RFC 5035: SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 }, with
  // ESSCertIDv2 { [hashAlgorithm DEFAULT sha256], certHash, issuerSerial }
  // and IssuerSerial { GeneralNames (one directoryName [4]), serial }.
  const std::string issuer_serial = Seq(
      {Seq({Tlv(ContextConstructed(4), cert.issuer_der)}), cert.serial_der});
  const std::string ess_cert_id =
      Seq({Tlv(kOctetString, Sha256(request.signer_cert_der)), issuer_serial});
  const std::string signing_certificate_v2 = Seq({Seq({ess_cert_id})});
  return Tlv(kSet, SetOfContent({
                       Attribute({1, 2, 840, 113549, 1, 9, 3}, IdData()),
                       Attribute({1, 2, 840, 113549, 1, 9, 4},
                                 Tlv(kOctetString, request.content_digest)),
                       Attribute({1, 2, 840, 113549, 1, 9, 5}, signing_time),
                       Attribute({1, 2, 840, 113549, 1, 9, 16, 2, 47},
                                 signing_certificate_v2),
                   }));
}

// Everything both phases derive from a request.
struct Prepared {
  CertInfo cert;
  std::unique_ptr<Verifier> verifier;
  std::string signed_attributes_der;
  std::string digest_to_sign;
};

absl::StatusOr<Prepared> Prepare(const CadesRequest& request) {
  const SignatureScheme& scheme = request.scheme;
  if (scheme.key == KeyAlgorithm::kEd25519) {
    return absl::UnimplementedError("CAdES with Ed25519 is not supported");
  }
  if (request.content_digest.size() != DigestLength(scheme.hash)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the content digest has ", request.content_digest.size(), " bytes; ",
        HashAlgorithmName(scheme.hash), " gives ", DigestLength(scheme.hash)));
  }
  Prepared out;
  ASSIGN_OR_RETURN(out.cert, ReadSignerCert(request.signer_cert_der));
  for (const std::string& der : request.chain_der) {
    RETURN_IF_ERROR(ParseCert(der, "a chain certificate").status());
  }
  auto verifier = NewVerifier(out.cert.spki_der, scheme);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the signature scheme does not match the signer's "
                     "certificate: ",
                     verifier.status().message()));
  }
  out.verifier = *std::move(verifier);
  ASSIGN_OR_RETURN(out.signed_attributes_der,
                   SignedAttributes(request, out.cert));
  out.digest_to_sign = Digest(scheme.hash, out.signed_attributes_der);
  return out;
}

}  // namespace

absl::StatusOr<CadesToBeSigned> PrepareCades(const CadesRequest& request) {
  ASSIGN_OR_RETURN(Prepared prepared, Prepare(request));
  CadesToBeSigned tbs;
  tbs.signed_attributes_der = std::move(prepared.signed_attributes_der);
  tbs.digest_to_sign = std::move(prepared.digest_to_sign);
  tbs.request = request;
  return tbs;
}

absl::StatusOr<std::string> FinishCades(const CadesToBeSigned& tbs,
                                        absl::string_view signature) {
  const CadesRequest& request = tbs.request;
  ASSIGN_OR_RETURN(Prepared prepared, Prepare(request));
  if (prepared.signed_attributes_der != tbs.signed_attributes_der ||
      prepared.digest_to_sign != tbs.digest_to_sign) {
    return absl::InvalidArgumentError(
        "the to-be-signed data does not match its request");
  }
  absl::Status verified =
      prepared.verifier->VerifyDigest(prepared.digest_to_sign, signature);
  if (absl::IsInvalidArgument(verified)) {
    return absl::InvalidArgumentError("the signature does not verify");
  }
  RETURN_IF_ERROR(verified);

  const std::string digest_algorithm = HashAlgorithmId(request.scheme.hash);
  // SignedAttributes go in as [0] IMPLICIT: the same contents, another tag.
  std::string implicit_attrs = prepared.signed_attributes_der;
  implicit_attrs[0] = static_cast<char>(ContextConstructed(0));

  const std::string signer_info =
      Seq({SmallInteger(1),
           Seq({prepared.cert.issuer_der, prepared.cert.serial_der}),
           digest_algorithm, implicit_attrs,
           SignatureAlgorithmId(request.scheme), Tlv(kOctetString, signature)});

  std::vector<std::string> certs = {request.signer_cert_der};
  for (const std::string& der : request.chain_der) {
    if (std::find(certs.begin(), certs.end(), der) == certs.end()) {
      certs.push_back(der);
    }
  }
  const std::string signed_data = Seq({
      SmallInteger(1),
      Tlv(kSet, digest_algorithm),
      Seq({IdData()}),  // EncapsulatedContentInfo without eContent
      Tlv(ContextConstructed(0), SetOfContent(std::move(certs))),
      Tlv(kSet, signer_info),
  });
  return Seq({IdSignedData(), Tlv(ContextConstructed(0), signed_data)});
}

}  // namespace inkan::crypto
