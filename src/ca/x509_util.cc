#include "ca/x509_util.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <ctime>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "common/encoding.h"
#include "common/status_macros.h"

namespace inkan::ca::internal {
namespace {

// AlgorithmIdentifier encodings, byte for byte as the CA/Browser Forum
// Baseline Requirements §7.1.3.2 list them.
constexpr absl::string_view kEcdsaSha256 = "300a06082a8648ce3d040302";
constexpr absl::string_view kEcdsaSha384 = "300a06082a8648ce3d040303";
constexpr absl::string_view kEcdsaSha512 = "300a06082a8648ce3d040304";
constexpr absl::string_view kRsaSha256 = "300d06092a864886f70d01010b0500";
constexpr absl::string_view kRsaSha384 = "300d06092a864886f70d01010c0500";
constexpr absl::string_view kRsaSha512 = "300d06092a864886f70d01010d0500";
// RSASSA-PSS (RFC 4055 §3.1): the hash, MGF1 with the same hash, salt length
// = hash length, trailer field 1 (default, omitted). Signer uses the same.
constexpr absl::string_view kRsaPssSha256 =
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a"
    "06092a864886f70d010108300d06096086480165030402010500a203020120";
constexpr absl::string_view kRsaPssSha384 =
    "304106092a864886f70d01010a3034a00f300d06096086480165030402020500a11c301a"
    "06092a864886f70d010108300d06096086480165030402020500a203020130";
constexpr absl::string_view kRsaPssSha512 =
    "304106092a864886f70d01010a3034a00f300d06096086480165030402030500a11c301a"
    "06092a864886f70d010108300d06096086480165030402030500a203020140";
constexpr absl::string_view kEd25519 = "300506032b6570";  // RFC 8410 §3

absl::string_view SignatureAlgorithmHex(const crypto::SignatureScheme& s) {
  using crypto::HashAlgorithm;
  if (s.key == crypto::KeyAlgorithm::kEd25519) return kEd25519;
  if (crypto::IsEc(s.key)) {
    switch (s.hash) {
      case HashAlgorithm::kSha256:
        return kEcdsaSha256;
      case HashAlgorithm::kSha384:
        return kEcdsaSha384;
      case HashAlgorithm::kSha512:
        return kEcdsaSha512;
    }
  }
  if (crypto::IsRsa(s.key) && s.padding == crypto::RsaPadding::kPss) {
    switch (s.hash) {
      case HashAlgorithm::kSha256:
        return kRsaPssSha256;
      case HashAlgorithm::kSha384:
        return kRsaPssSha384;
      case HashAlgorithm::kSha512:
        return kRsaPssSha512;
    }
  }
  if (crypto::IsRsa(s.key)) {
    switch (s.hash) {
      case HashAlgorithm::kSha256:
        return kRsaSha256;
      case HashAlgorithm::kSha384:
        return kRsaSha384;
      case HashAlgorithm::kSha512:
        return kRsaSha512;
    }
  }
  return "";
}

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string Tlv(uint8_t tag, absl::string_view content) {
  std::string out(1, static_cast<char>(tag));
  size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<char>(n));
  } else {
    std::string len;
    for (size_t v = n; v > 0; v >>= 8) {
      len.insert(len.begin(), static_cast<char>(v & 0xff));
    }
    out.push_back(static_cast<char>(0x80 | len.size()));
    out += len;
  }
  out.append(content.data(), content.size());
  return out;
}

std::string Sequence(std::initializer_list<absl::string_view> parts) {
  std::string content;
  for (absl::string_view p : parts) content.append(p.data(), p.size());
  return Tlv(kTagSequence, content);
}

std::string SmallInteger(int64_t value) {
  std::string content;
  do {
    content.insert(content.begin(), static_cast<char>(value & 0xff));
    value >>= 8;
  } while (value > 0);
  if (static_cast<uint8_t>(content[0]) & 0x80) content.insert(0, 1, '\0');
  return Tlv(kTagInteger, content);
}

absl::StatusOr<std::string> SignatureAlgorithm(
    const crypto::SignatureScheme& scheme) {
  absl::string_view hex = SignatureAlgorithmHex(scheme);
  if (hex.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no X.509 signature algorithm for key ",
                     crypto::KeyAlgorithmName(scheme.key)));
  }
  return HexDecode(hex);
}

absl::StatusOr<std::string> SignAndWrap(const crypto::Signer& signer,
                                        absl::string_view tbs,
                                        absl::string_view trailer) {
  ASSIGN_OR_RETURN(std::string algorithm, SignatureAlgorithm(signer.scheme()));
  ASSIGN_OR_RETURN(std::string signature, crypto::SignMessage(signer, tbs));
  // BIT STRING: no unused bits, then the signature (DER ECDSA-Sig-Value,
  // raw RSA, or the 64 Ed25519 bytes).
  std::string bits = Tlv(kTagBitString, std::string(1, '\0') + signature);
  return Sequence({tbs, algorithm, bits, trailer});
}

absl::StatusOr<X509Ptr> ParseCertificateDer(absl::string_view der) {
  const unsigned char* p = Bytes(der);
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != Bytes(der) + der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a DER X.509 certificate");
  }
  return cert;
}

absl::StatusOr<crypto::EvpPkeyPtr> ParsePublicKeyDer(absl::string_view der) {
  const unsigned char* p = Bytes(der);
  crypto::EvpPkeyPtr key(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != Bytes(der) + der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "public key is not a DER SubjectPublicKeyInfo");
  }
  return key;
}

absl::Time TruncateToSecond(absl::Time t) {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t));
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

absl::StatusOr<Asn1TimePtr> ToAsn1Time(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("time is infinite");
  }
  Asn1TimePtr out(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
  if (!out) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("time cannot be encoded: ", FormatUtc(t)));
  }
  return out;
}

absl::StatusOr<Asn1TimePtr> ToGeneralizedTime(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("time is infinite");
  }
  Asn1TimePtr out(ASN1_GENERALIZEDTIME_set(nullptr, absl::ToTimeT(t)));
  if (!out) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("time cannot be encoded: ", FormatUtc(t)));
  }
  return out;
}

absl::StatusOr<absl::Time> FromAsn1Time(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("malformed ASN.1 time");
  }
  return absl::FromCivil(
      absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec),
      absl::UTCTimeZone());
}

absl::StatusOr<Asn1IntegerPtr> SerialFromHex(absl::string_view hex) {
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("serial \"", hex, "\" is not hex"));
  }
  crypto::BignumPtr bn(
      BN_bin2bn(Bytes(*bytes), static_cast<int>(bytes->size()), nullptr));
  if (!bn) return absl::InternalError(crypto::SslErrorString());
  if (BN_is_zero(bn.get())) {
    return absl::InvalidArgumentError("serial must be positive");
  }
  // DER content octets: the magnitude plus a leading 0x00 if its top bit is
  // set.
  if (BN_num_bytes(bn.get()) + (BN_num_bits(bn.get()) % 8 == 0 ? 1 : 0) > 20) {
    return absl::InvalidArgumentError(
        "serial is longer than 20 octets (RFC 5280 4.1.2.2)");
  }
  Asn1IntegerPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return absl::InternalError(crypto::SslErrorString());
  return out;
}

absl::StatusOr<std::string> SerialToHex(const ASN1_INTEGER* serial) {
  crypto::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) {
    ERR_clear_error();
    return absl::InvalidArgumentError("malformed serial number");
  }
  if (BN_is_negative(bn.get())) {
    return absl::InvalidArgumentError("serial number is negative");
  }
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  if (bytes.empty()) bytes.push_back('\0');
  return HexEncode(bytes);
}

absl::StatusOr<std::string> KeyIdentifier(absl::string_view spki_der) {
  const unsigned char* p = Bytes(spki_der);
  X509PubkeyPtr pub(
      d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  const unsigned char* key = nullptr;
  int key_len = 0;
  if (!pub || X509_PUBKEY_get0_param(nullptr, &key, &key_len, nullptr,
                                     pub.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "public key is not a DER SubjectPublicKeyInfo");
  }
  std::string id(SHA_DIGEST_LENGTH, '\0');
  unsigned int id_len = 0;
  if (EVP_Digest(key, static_cast<size_t>(key_len),
                 reinterpret_cast<unsigned char*>(id.data()), &id_len,
                 EVP_sha1(), nullptr) != 1) {
    return absl::InternalError(crypto::SslErrorString());
  }
  return id;
}

absl::StatusOr<Asn1ObjectPtr> ParseOid(absl::string_view what,
                                       absl::string_view oid) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", oid, "\" is not a dotted-decimal OID"));
  };
  std::vector<absl::string_view> arcs = absl::StrSplit(oid, '.');
  if (arcs.size() < 2 || oid.size() > 200) return invalid();
  for (absl::string_view arc : arcs) {
    if (arc.empty() || arc.size() > 20 || (arc.size() > 1 && arc[0] == '0')) {
      return invalid();
    }
    for (char c : arc) {
      if (!absl::ascii_isdigit(c)) return invalid();
    }
  }
  if (arcs[0].size() != 1 || arcs[0][0] > '2') return invalid();
  if (arcs[0][0] != '2' &&
      (arcs[1].size() > 2 || (arcs[1].size() == 2 && arcs[1][0] >= '4'))) {
    return invalid();
  }
  Asn1ObjectPtr obj(OBJ_txt2obj(std::string(oid).c_str(), /*no_name=*/1));
  if (!obj) {
    ERR_clear_error();
    return invalid();
  }
  return obj;
}

absl::StatusOr<std::string> ExtensionDer(int nid, bool critical, void* value) {
  X509ExtensionPtr ext(X509V3_EXT_i2d(nid, critical ? 1 : 0, value));
  if (!ext) {
    return absl::InternalError(absl::StrCat("cannot encode extension ",
                                            OBJ_nid2sn(nid), ": ",
                                            crypto::SslErrorString()));
  }
  return I2d(i2d_X509_EXTENSION, ext.get());
}

absl::StatusOr<std::string> RawExtensionDer(int nid, bool critical,
                                            absl::string_view value_der) {
  Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
  if (!value ||
      ASN1_OCTET_STRING_set(value.get(), Bytes(value_der),
                            static_cast<int>(value_der.size())) != 1) {
    return absl::InternalError(crypto::SslErrorString());
  }
  X509ExtensionPtr ext(X509_EXTENSION_create_by_NID(
      nullptr, nid, critical ? 1 : 0, value.get()));
  if (!ext) return absl::InternalError(crypto::SslErrorString());
  return I2d(i2d_X509_EXTENSION, ext.get());
}

absl::StatusOr<std::string> AuthorityKeyIdExtension(absl::string_view key_id) {
  using AkiPtr = SslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
  AkiPtr aki(AUTHORITY_KEYID_new());
  if (!aki) return absl::InternalError(crypto::SslErrorString());
  aki->keyid = ASN1_OCTET_STRING_new();
  if (aki->keyid == nullptr ||
      ASN1_OCTET_STRING_set(aki->keyid, Bytes(key_id),
                            static_cast<int>(key_id.size())) != 1) {
    return absl::InternalError(crypto::SslErrorString());
  }
  return ExtensionDer(NID_authority_key_identifier, false, aki.get());
}

absl::StatusOr<ParsedIssuer> ParseIssuer(absl::string_view cert_der,
                                         const crypto::Signer& signer,
                                         bool require_ca) {
  ParsedIssuer out;
  auto cert = ParseCertificateDer(cert_der);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("issuer certificate: ", cert.status().message()));
  }
  out.cert = *std::move(cert);
  X509* x = out.cert.get();
  uint32_t flags = X509_get_extension_flags(x);
  if (flags & EXFLAG_INVALID) {
    return absl::InvalidArgumentError(
        "issuer certificate has malformed extensions");
  }
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr signer_key,
                   ParsePublicKeyDer(signer.public_key_der()));
  EVP_PKEY* cert_key = X509_get0_pubkey(x);
  if (cert_key == nullptr || EVP_PKEY_eq(cert_key, signer_key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(
        "the signer's key is not the issuer certificate's key");
  }
  if (require_ca) {
    const uint32_t needed = KU_KEY_CERT_SIGN | KU_CRL_SIGN;
    if (!(flags & EXFLAG_CA) || (X509_get_key_usage(x) & needed) != needed) {
      return absl::FailedPreconditionError(
          "issuer certificate is not a CA with keyCertSign and cRLSign");
    }
  }
  ASSIGN_OR_RETURN(out.subject_der,
                   I2d(i2d_X509_NAME, X509_get_subject_name(x)));
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(x)) {
    out.key_id.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
                      static_cast<size_t>(ASN1_STRING_length(ski)));
  } else {
    ASSIGN_OR_RETURN(std::string spki,
                     I2d(i2d_X509_PUBKEY, X509_get_X509_PUBKEY(x)));
    ASSIGN_OR_RETURN(out.key_id, KeyIdentifier(spki));
  }
  ASSIGN_OR_RETURN(out.not_before, FromAsn1Time(X509_get0_notBefore(x)));
  ASSIGN_OR_RETURN(out.not_after, FromAsn1Time(X509_get0_notAfter(x)));
  return out;
}

}  // namespace inkan::ca::internal
