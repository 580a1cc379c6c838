#include "ca/ocsp.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "ca/x509_util.h"
#include "common/status_macros.h"

namespace inkan::ca {
namespace {

using internal::I2d;

// A stack that borrows its certificates (frees only itself).
void FreeBorrowingStack(STACK_OF(X509) * s) { sk_X509_free(s); }
using X509StackPtr = internal::SslPtr<STACK_OF(X509), FreeBorrowingStack>;

constexpr size_t kMaxNonceLength = 32;  // RFC 8954 §2.1
constexpr uint8_t kTagEnumerated = 0x0a;
constexpr uint8_t kTagNull = 0x05;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string StringOf(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed OCSP request: ", why));
}

// The value of a Nonce extension: extnValue must hold a DER OCTET STRING of
// 1..32 octets (RFC 8954 §2.1).
absl::StatusOr<std::string> NonceValue(X509_EXTENSION* ext) {
  std::string extn_value = StringOf(X509_EXTENSION_get_data(ext));
  const unsigned char* p = Bytes(extn_value);
  internal::Asn1OctetStringPtr inner(
      d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(extn_value.size())));
  if (!inner || p != Bytes(extn_value) + extn_value.size()) {
    ERR_clear_error();
    return Malformed("the nonce is not an OCTET STRING");
  }
  std::string value = StringOf(inner.get());
  if (value.empty() || value.size() > kMaxNonceLength) {
    return Malformed("the nonce must be 1 to 32 octets (RFC 8954)");
  }
  return value;
}

const EVP_MD* CertIdHash(absl::string_view oid) {
  if (oid == kSha1Oid) return EVP_sha1();
  if (oid == kSha256Oid) return EVP_sha256();
  if (oid == "2.16.840.1.101.3.4.2.2") return EVP_sha384();
  if (oid == "2.16.840.1.101.3.4.2.3") return EVP_sha512();
  return nullptr;
}

absl::StatusOr<std::string> Hash(const EVP_MD* md, absl::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(),
                 reinterpret_cast<unsigned char*>(out.data()), &len, md,
                 nullptr) != 1) {
    return absl::InternalError(crypto::SslErrorString());
  }
  out.resize(len);
  return out;
}

// The CertID as an OpenSSL object, built from DER:
// SEQUENCE { AlgorithmIdentifier {oid, NULL}, OCTET STRING, OCTET STRING,
// INTEGER }, with NULL parameters as OpenSSL's own client writes them.
absl::StatusOr<internal::OcspCertIdPtr> ToOpenSslCertId(const CertId& id) {
  ASSIGN_OR_RETURN(
      internal::Asn1ObjectPtr oid,
      internal::ParseOid("CertId hash algorithm", id.hash_algorithm_oid));
  if (id.issuer_name_hash.empty() || id.issuer_key_hash.empty()) {
    return absl::InvalidArgumentError("CertId hashes must not be empty");
  }
  ASSIGN_OR_RETURN(std::string oid_der, I2d(i2d_ASN1_OBJECT, oid.get()));
  ASSIGN_OR_RETURN(internal::Asn1IntegerPtr serial,
                   internal::SerialFromHex(id.serial_hex));
  ASSIGN_OR_RETURN(std::string serial_der, I2d(i2d_ASN1_INTEGER, serial.get()));
  std::string der = internal::Sequence({
      internal::Sequence({oid_der, internal::Tlv(kTagNull, "")}),
      internal::Tlv(internal::kTagOctetString, id.issuer_name_hash),
      internal::Tlv(internal::kTagOctetString, id.issuer_key_hash),
      serial_der,
  });
  const unsigned char* p = Bytes(der);
  internal::OcspCertIdPtr cid(
      d2i_OCSP_CERTID(nullptr, &p, static_cast<long>(der.size())));
  if (!cid) return absl::InternalError(crypto::SslErrorString());
  return cid;
}

int OpenSslStatus(CertStatus s) {
  switch (s) {
    case CertStatus::kGood:
      return V_OCSP_CERTSTATUS_GOOD;
    case CertStatus::kRevoked:
      return V_OCSP_CERTSTATUS_REVOKED;
    case CertStatus::kUnknown:
      return V_OCSP_CERTSTATUS_UNKNOWN;
  }
  return -1;
}

// One SingleResponse (RFC 6960 §4.2.1), made by OpenSSL in `scratch` and
// encoded.
absl::StatusOr<std::string> EncodeSingle(OCSP_BASICRESP* scratch,
                                         const SingleAnswer& a) {
  int status = OpenSslStatus(a.status);
  if (status < 0) return absl::InvalidArgumentError("unknown CertStatus");
  ASSIGN_OR_RETURN(internal::OcspCertIdPtr cid, ToOpenSslCertId(a.cert_id));
  ASSIGN_OR_RETURN(internal::Asn1TimePtr this_update,
                   internal::ToGeneralizedTime(a.this_update));
  internal::Asn1TimePtr next_update;
  if (a.next_update.has_value()) {
    if (internal::TruncateToSecond(*a.next_update) <=
        internal::TruncateToSecond(a.this_update)) {
      return absl::InvalidArgumentError(
          "OCSP next_update must be after this_update");
    }
    ASSIGN_OR_RETURN(next_update, internal::ToGeneralizedTime(*a.next_update));
  }
  internal::Asn1TimePtr revoked_at;
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;
  if (a.status == CertStatus::kRevoked) {
    RETURN_IF_ERROR(CheckCrlReason(a.reason));
    ASSIGN_OR_RETURN(revoked_at,
                     internal::ToGeneralizedTime(a.revocation_time));
    // As in CRLs, "unspecified" is left out rather than stated.
    if (a.reason != CrlReason::kUnspecified)
      reason = static_cast<int>(a.reason);
  }
  OCSP_SINGLERESP* single = OCSP_basic_add1_status(
      scratch, cid.get(), status, reason, revoked_at.get(), this_update.get(),
      next_update.get());
  if (single == nullptr) {
    return absl::InternalError(crypto::SslErrorString());
  }
  return I2d(i2d_OCSP_SINGLERESP, single);
}

}  // namespace

absl::StatusOr<OcspRequest> ParseOcspRequest(absl::string_view der) {
  const unsigned char* p = Bytes(der);
  internal::OcspRequestPtr req(
      d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    ERR_clear_error();
    return Malformed("not a DER OCSPRequest");
  }
  if (p != Bytes(der) + der.size()) return Malformed("trailing bytes");

  OcspRequest out;
  int count = OCSP_request_onereq_count(req.get());
  if (count <= 0) return Malformed("no CertID");
  if (count > kMaxOcspRequestIds) {
    return Malformed(
        absl::StrCat("more than ", kMaxOcspRequestIds, " CertIDs"));
  }
  for (int i = 0; i < count; ++i) {
    OCSP_ONEREQ* one = OCSP_request_onereq_get0(req.get(), i);
    if (OCSP_ONEREQ_get_ext_by_critical(one, 1, -1) >= 0) {
      return Malformed("unsupported critical singleRequestExtension");
    }
    ASN1_OCTET_STRING* name_hash = nullptr;
    ASN1_OCTET_STRING* key_hash = nullptr;
    ASN1_OBJECT* md = nullptr;
    ASN1_INTEGER* serial = nullptr;
    if (OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial,
                          OCSP_onereq_get0_id(one)) != 1) {
      ERR_clear_error();
      return Malformed("bad CertID");
    }
    CertId id;
    char oid[128];
    int oid_len = OBJ_obj2txt(oid, sizeof(oid), md, 1);
    if (oid_len <= 0 || oid_len >= static_cast<int>(sizeof(oid))) {
      ERR_clear_error();
      return Malformed("bad CertID hash algorithm");
    }
    id.hash_algorithm_oid.assign(oid, static_cast<size_t>(oid_len));
    id.issuer_name_hash = StringOf(name_hash);
    id.issuer_key_hash = StringOf(key_hash);
    auto serial_hex = internal::SerialToHex(serial);
    if (!serial_hex.ok()) return Malformed(serial_hex.status().message());
    id.serial_hex = *std::move(serial_hex);
    out.cert_ids.push_back(std::move(id));
  }

  int ext_count = OCSP_REQUEST_get_ext_count(req.get());
  for (int i = 0; i < ext_count; ++i) {
    X509_EXTENSION* ext = OCSP_REQUEST_get_ext(req.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_id_pkix_OCSP_Nonce) {
      if (out.nonce.has_value()) return Malformed("two nonces");
      ASSIGN_OR_RETURN(out.nonce, NonceValue(ext));
    } else if (X509_EXTENSION_get_critical(ext)) {
      return Malformed("unsupported critical requestExtension");
    }
  }
  return out;
}

absl::StatusOr<bool> CertIdMatchesIssuer(
    const CertId& id, absl::string_view issuer_certificate_der) {
  ASSIGN_OR_RETURN(internal::X509Ptr cert,
                   internal::ParseCertificateDer(issuer_certificate_der));
  const EVP_MD* md = CertIdHash(id.hash_algorithm_oid);
  if (md == nullptr) return false;
  ASSIGN_OR_RETURN(std::string name,
                   I2d(i2d_X509_NAME, X509_get_subject_name(cert.get())));
  // issuerKeyHash covers the subjectPublicKey BIT STRING's value (§4.1.1).
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(cert.get());
  if (key == nullptr) return absl::InvalidArgumentError("no public key");
  ASSIGN_OR_RETURN(std::string name_hash, Hash(md, name));
  ASSIGN_OR_RETURN(std::string key_hash, Hash(md, StringOf(key)));
  return name_hash == id.issuer_name_hash && key_hash == id.issuer_key_hash;
}

absl::StatusOr<std::string> BuildOcspResponse(
    const OcspResponder& responder, absl::Span<const SingleAnswer> answers,
    const std::optional<std::string>& nonce, absl::Time produced_at) {
  ASSIGN_OR_RETURN(
      internal::ParsedIssuer issuer,
      internal::ParseIssuer(responder.certificate_der, responder.signer,
                            /*require_ca=*/false));
  X509* cert = issuer.cert.get();
  if (!(X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) ||
      !(X509_get_extended_key_usage(cert) & XKU_OCSP_SIGN)) {
    return absl::FailedPreconditionError(
        "responder certificate lacks extendedKeyUsage id-kp-OCSPSigning");
  }
  if (produced_at < issuer.not_before || produced_at > issuer.not_after) {
    return absl::FailedPreconditionError(
        "the responder certificate is not valid at produced_at");
  }
  if (answers.empty() ||
      answers.size() > static_cast<size_t>(kMaxOcspRequestIds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an OCSP response carries 1 to ", kMaxOcspRequestIds, " answers"));
  }
  if (nonce.has_value() &&
      (nonce->empty() || nonce->size() > kMaxNonceLength)) {
    return absl::InvalidArgumentError("nonce must be 1 to 32 octets");
  }

  internal::OcspBasicRespPtr scratch(OCSP_BASICRESP_new());
  if (!scratch) return absl::InternalError("out of memory");
  std::string singles;
  for (const SingleAnswer& a : answers) {
    ASSIGN_OR_RETURN(std::string single, EncodeSingle(scratch.get(), a));
    singles += single;
  }
  internal::OcspRespIdPtr respid(OCSP_RESPID_new());
  if (!respid || OCSP_RESPID_set_by_key(respid.get(), cert) != 1) {
    return absl::InternalError(crypto::SslErrorString());
  }
  ASSIGN_OR_RETURN(std::string respid_der, I2d(i2d_OCSP_RESPID, respid.get()));
  ASSIGN_OR_RETURN(internal::Asn1TimePtr produced,
                   internal::ToGeneralizedTime(produced_at));
  ASSIGN_OR_RETURN(std::string produced_der,
                   I2d(i2d_ASN1_GENERALIZEDTIME, produced.get()));
  std::string extensions;
  if (nonce.has_value()) {
    ASSIGN_OR_RETURN(std::string ext,
                     internal::RawExtensionDer(
                         NID_id_pkix_OCSP_Nonce, false,
                         internal::Tlv(internal::kTagOctetString, *nonce)));
    extensions =
        internal::Tlv(internal::ContextTag(1), internal::Sequence({ext}));
  }
  // ResponseData (RFC 6960 §4.2.1); version v1 is the DEFAULT and omitted.
  std::string tbs = internal::Sequence({
      respid_der,
      produced_der,
      internal::Sequence({singles}),
      extensions,
  });
  ASSIGN_OR_RETURN(std::string cert_der, I2d(i2d_X509, cert));
  std::string certs =
      internal::Tlv(internal::ContextTag(0), internal::Sequence({cert_der}));
  ASSIGN_OR_RETURN(std::string basic,
                   internal::SignAndWrap(responder.signer, tbs, certs));

  // A static table entry: not owned, not freed.
  const ASN1_OBJECT* basic_oid = OBJ_nid2obj(NID_id_pkix_OCSP_basic);
  ASSIGN_OR_RETURN(std::string basic_oid_der, I2d(i2d_ASN1_OBJECT, basic_oid));
  std::string der = internal::Sequence({
      internal::Tlv(kTagEnumerated, std::string(1, '\0')),  // successful
      internal::Tlv(internal::ContextTag(0),
                    internal::Sequence(
                        {basic_oid_der,
                         internal::Tlv(internal::kTagOctetString, basic)})),
  });

  // Parse what goes out and check its signature with OpenSSL.
  const unsigned char* p = Bytes(der);
  internal::OcspResponsePtr parsed(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!parsed || p != Bytes(der) + der.size()) {
    ERR_clear_error();
    return absl::InternalError("the assembled OCSP response does not parse");
  }
  internal::OcspBasicRespPtr bs(OCSP_response_get1_basic(parsed.get()));
  // OCSP_NOINTERN: find the signer by responderID among `signers` only;
  // OCSP_NOVERIFY: check the signature, not the chain (the caller's job).
  X509StackPtr signers(sk_X509_new_null());
  if (!signers || sk_X509_push(signers.get(), cert) <= 0) {
    return absl::InternalError("out of memory");
  }
  if (!bs || OCSP_basic_verify(bs.get(), signers.get(), nullptr,
                               OCSP_NOINTERN | OCSP_NOVERIFY) != 1) {
    ERR_clear_error();
    return absl::InternalError(
        "the signer produced a signature that does not verify");
  }
  return der;
}

std::string OcspErrorResponse(OcspErrorStatus status) {
  return internal::Sequence({internal::Tlv(
      kTagEnumerated, std::string(1, static_cast<char>(status)))});
}

}  // namespace inkan::ca
