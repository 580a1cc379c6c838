#include "ca/certificate.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <functional>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ca/x509_util.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace inkan::ca {
namespace {

using internal::I2d;
using internal::SslPtr;

using BasicConstraintsPtr = SslPtr<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using PoliciesPtr = SslPtr<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free>;
using PolicyInfoPtr = SslPtr<POLICYINFO, POLICYINFO_free>;
using AiaPtr = SslPtr<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>;
using AccessDescriptionPtr =
    SslPtr<ACCESS_DESCRIPTION, ACCESS_DESCRIPTION_free>;
using CrlDpPtr = SslPtr<CRL_DIST_POINTS, CRL_DIST_POINTS_free>;
using DistPointPtr = SslPtr<DIST_POINT, DIST_POINT_free>;
using GeneralNamePtr = SslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = SslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using EkuPtr = SslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using Ia5StringPtr = SslPtr<ASN1_IA5STRING, ASN1_IA5STRING_free>;

void FreeExtensionStack(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using ExtensionStackPtr = SslPtr<STACK_OF(X509_EXTENSION), FreeExtensionStack>;

constexpr size_t kSerialBytes = 16;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;

// keyUsage bits (RFC 5280 §4.2.1.3).
constexpr int kDigitalSignature = 0;
constexpr int kNonRepudiation = 1;
constexpr int kKeyEncipherment = 2;
constexpr int kKeyCertSign = 5;
constexpr int kCrlSign = 6;

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat(what, ": ", crypto::SslErrorString()));
}

// A fresh serial: its DER INTEGER and its hex.
struct Serial {
  std::string der;
  std::string hex;
};

absl::StatusOr<Serial> NewSerial() {
  while (true) {
    ASSIGN_OR_RETURN(std::string bytes, RandomBytes(kSerialBytes));
    bytes[0] = static_cast<char>(bytes[0] & 0x7f);  // positive
    // A zero first octet would shorten the DER encoding (and an all-zero
    // serial is not positive): draw again (probability 1/128).
    if (bytes[0] == 0) continue;
    return Serial{internal::Tlv(internal::kTagInteger, bytes),
                  HexEncode(bytes)};
  }
}

absl::StatusOr<std::string> EncodeTime(absl::Time t) {
  ASSIGN_OR_RETURN(internal::Asn1TimePtr asn1, internal::ToAsn1Time(t));
  return I2d(i2d_ASN1_TIME, asn1.get());
}

// Validity with seconds kept (certificates carry no fractions).
absl::StatusOr<Validity> CheckValidity(absl::Time not_before,
                                       absl::Time not_after) {
  Validity v{internal::TruncateToSecond(not_before),
             internal::TruncateToSecond(not_after)};
  if (v.not_after <= v.not_before) {
    return absl::InvalidArgumentError(
        "validity: not_after must be after not_before");
  }
  return v;
}

absl::Status CheckInsideCa(const Validity& v,
                           const internal::ParsedIssuer& ca) {
  if (v.not_before < ca.not_before || v.not_after > ca.not_after) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity ", internal::FormatUtc(v.not_before), " .. ",
                     internal::FormatUtc(v.not_after),
                     " is not inside the CA certificate's validity ",
                     internal::FormatUtc(ca.not_before), " .. ",
                     internal::FormatUtc(ca.not_after)));
  }
  return absl::OkStatus();
}

// The subject's key must be DER, parse, and be a kind inkan issues for:
// EC P-256/P-384, RSA 2048..16384, Ed25519.
absl::Status CheckSubjectKey(absl::string_view spki_der) {
  auto key = internal::ParsePublicKeyDer(spki_der);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject public key: ", key.status().message()));
  }
  EVP_PKEY* k = key->get();
  auto reencoded = I2d(i2d_PUBKEY, k);
  if (!reencoded.ok() || *reencoded != spki_der) {
    return absl::InvalidArgumentError(
        "subject public key is not in DER (re-encoding differs)");
  }
  if (EVP_PKEY_is_a(k, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof(group), &len) != 1 ||
        (absl::string_view(group) != "prime256v1" &&
         absl::string_view(group) != "secp384r1")) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          "subject EC key is not on P-256 or P-384");
    }
    return absl::OkStatus();
  }
  if (EVP_PKEY_is_a(k, "RSA")) {
    int bits = EVP_PKEY_get_bits(k);
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return absl::InvalidArgumentError(absl::StrCat(
          "subject RSA key has ", bits, " bits; 2048 to 16384 are accepted"));
    }
    return absl::OkStatus();
  }
  if (EVP_PKEY_is_a(k, "ED25519")) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "subject key is not EC P-256/P-384, RSA or Ed25519");
}

absl::Status CheckUrl(absl::string_view what, absl::string_view url) {
  if (url.empty()) return absl::OkStatus();
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") &&
      !absl::ConsumePrefix(&rest, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be an http:// or https:// URL"));
  }
  if (rest.empty() || rest[0] == '/') {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no host"));
  }
  for (char c : url) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " must be printable ASCII without spaces (IA5String)"));
    }
  }
  return absl::OkStatus();
}

// --- Extensions ----------------------------------------------------------

absl::StatusOr<std::string> BasicConstraints(bool ca) {
  BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
  if (!bc) return OpenSslError("basicConstraints");
  bc->ca = ca ? 0xff : 0;
  return internal::ExtensionDer(NID_basic_constraints, true, bc.get());
}

absl::StatusOr<std::string> KeyUsage(std::initializer_list<int> bits) {
  internal::Asn1BitStringPtr ku(ASN1_BIT_STRING_new());
  if (!ku) return OpenSslError("keyUsage");
  for (int bit : bits) {
    if (ASN1_BIT_STRING_set_bit(ku.get(), bit, 1) != 1) {
      return OpenSslError("keyUsage");
    }
  }
  return internal::ExtensionDer(NID_key_usage, true, ku.get());
}

absl::StatusOr<std::string> SubjectKeyId(absl::string_view spki_der) {
  ASSIGN_OR_RETURN(std::string id, internal::KeyIdentifier(spki_der));
  internal::Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
  if (!os || ASN1_OCTET_STRING_set(
                 os.get(), reinterpret_cast<const unsigned char*>(id.data()),
                 static_cast<int>(id.size())) != 1) {
    return OpenSslError("subjectKeyIdentifier");
  }
  return internal::ExtensionDer(NID_subject_key_identifier, false, os.get());
}

absl::StatusOr<std::string> CertificatePolicies(const std::string& oid) {
  ASSIGN_OR_RETURN(internal::Asn1ObjectPtr obj,
                   internal::ParseOid("policy", oid));
  PoliciesPtr policies(CERTIFICATEPOLICIES_new());
  PolicyInfoPtr info(POLICYINFO_new());
  if (!policies || !info) return OpenSslError("certificatePolicies");
  ASN1_OBJECT_free(info->policyid);
  info->policyid = obj.release();
  if (sk_POLICYINFO_push(policies.get(), info.get()) <= 0) {
    return OpenSslError("certificatePolicies");
  }
  info.release();  // owned by `policies`
  return internal::ExtensionDer(NID_certificate_policies, false,
                                policies.get());
}

// A GeneralName of an IA5String type (GEN_URI, GEN_DNS).
absl::StatusOr<GeneralNamePtr> Ia5Name(int type, absl::string_view value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  Ia5StringPtr ia5(ASN1_IA5STRING_new());
  if (!name || !ia5 ||
      ASN1_STRING_set(ia5.get(), value.data(),
                      static_cast<int>(value.size())) != 1) {
    return OpenSslError(type == GEN_URI ? "URI" : "dNSName");
  }
  GENERAL_NAME_set0_value(name.get(), type, ia5.release());
  return name;
}

absl::StatusOr<GeneralNamePtr> UriName(absl::string_view url) {
  return Ia5Name(GEN_URI, url);
}

absl::Status AddAccessDescription(AUTHORITY_INFO_ACCESS* aia, int method,
                                  absl::string_view url) {
  AccessDescriptionPtr ad(ACCESS_DESCRIPTION_new());
  if (!ad) return OpenSslError("authorityInfoAccess");
  ASSIGN_OR_RETURN(GeneralNamePtr location, UriName(url));
  ASN1_OBJECT_free(ad->method);
  ad->method = OBJ_nid2obj(method);
  GENERAL_NAME_free(ad->location);
  ad->location = location.release();
  if (sk_ACCESS_DESCRIPTION_push(aia, ad.get()) <= 0) {
    return OpenSslError("authorityInfoAccess");
  }
  ad.release();  // owned by `aia`
  return absl::OkStatus();
}

absl::StatusOr<std::string> AuthorityInfoAccess(const CertProfile& p) {
  AiaPtr aia(AUTHORITY_INFO_ACCESS_new());
  if (!aia) return OpenSslError("authorityInfoAccess");
  if (!p.ocsp_url.empty()) {
    RETURN_IF_ERROR(AddAccessDescription(aia.get(), NID_ad_OCSP, p.ocsp_url));
  }
  if (!p.ca_issuers_url.empty()) {
    RETURN_IF_ERROR(
        AddAccessDescription(aia.get(), NID_ad_ca_issuers, p.ca_issuers_url));
  }
  return internal::ExtensionDer(NID_info_access, false, aia.get());
}

absl::StatusOr<std::string> CrlDistributionPoints(absl::string_view url) {
  CrlDpPtr dps(CRL_DIST_POINTS_new());
  DistPointPtr dp(DIST_POINT_new());
  if (!dps || !dp) return OpenSslError("cRLDistributionPoints");
  dp->distpoint = DIST_POINT_NAME_new();
  if (dp->distpoint == nullptr) return OpenSslError("cRLDistributionPoints");
  dp->distpoint->type = 0;  // fullName
  dp->distpoint->name.fullname = GENERAL_NAMES_new();
  if (dp->distpoint->name.fullname == nullptr) {
    return OpenSslError("cRLDistributionPoints");
  }
  ASSIGN_OR_RETURN(GeneralNamePtr uri, UriName(url));
  if (sk_GENERAL_NAME_push(dp->distpoint->name.fullname, uri.get()) <= 0) {
    return OpenSslError("cRLDistributionPoints");
  }
  uri.release();
  if (sk_DIST_POINT_push(dps.get(), dp.get()) <= 0) {
    return OpenSslError("cRLDistributionPoints");
  }
  dp.release();
  return internal::ExtensionDer(NID_crl_distribution_points, false, dps.get());
}

absl::StatusOr<std::string> OcspSigningEku() {
  EkuPtr eku(sk_ASN1_OBJECT_new_null());
  if (!eku || sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_OCSP_sign)) <= 0) {
    return OpenSslError("extendedKeyUsage");
  }
  return internal::ExtensionDer(NID_ext_key_usage, false, eku.get());
}

absl::StatusOr<std::string> OcspNoCheck() {
  // id-pkix-ocsp-nocheck ::= NULL (RFC 6960 §4.2.2.2.1).
  return internal::RawExtensionDer(NID_id_pkix_OCSP_noCheck, false,
                                   absl::string_view("\x05\x00", 2));
}

absl::StatusOr<std::string> ServerAuthEku() {
  EkuPtr eku(sk_ASN1_OBJECT_new_null());
  if (!eku ||
      sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth)) <= 0) {
    return OpenSslError("extendedKeyUsage");
  }
  return internal::ExtensionDer(NID_ext_key_usage, false, eku.get());
}

// --- TLS server names ----------------------------------------------------

absl::Status BadServerName(absl::string_view name, absl::string_view why) {
  constexpr size_t kShown = 80;
  std::string shown = absl::CEscape(name.substr(0, kShown));
  if (name.size() > kShown) absl::StrAppend(&shown, "...");
  return absl::InvalidArgumentError(
      absl::StrCat("TLS server name \"", shown, "\": ", why));
}

// The octets of an IP address literal (4 or 16), or nullopt if `name` is
// not one. Strict: inet_pton(3), which refuses leading zeros, short forms
// ("127.1"), spaces, brackets and zone ids.
std::optional<std::string> IpLiteralOctets(const std::string& name) {
  if (name.find('\0') != std::string::npos) return std::nullopt;
  unsigned char buf[16];
  if (inet_pton(AF_INET, name.c_str(), buf) == 1) {
    return std::string(reinterpret_cast<char*>(buf), 4);
  }
  if (inet_pton(AF_INET6, name.c_str(), buf) == 1) {
    return std::string(reinterpret_cast<char*>(buf), 16);
  }
  return std::nullopt;
}

bool IsLdhLabel(absl::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

// A DNS name as the header describes it, lower-cased.
absl::StatusOr<std::string> CanonicalDnsName(absl::string_view name) {
  constexpr size_t kMaxDnsName = 253;
  if (name.empty()) return BadServerName(name, "empty");
  if (name.size() > kMaxDnsName) {
    return BadServerName(name, "longer than 253 characters");
  }
  std::string lower = absl::AsciiStrToLower(name);
  std::vector<absl::string_view> labels = absl::StrSplit(lower, '.');
  size_t first = 0;
  if (labels[0] == "*") {
    if (labels.size() < 3) {
      return BadServerName(
          name, "a wildcard label must be followed by at least two labels");
    }
    first = 1;
  }
  for (size_t i = first; i < labels.size(); ++i) {
    if (labels[i].empty()) {
      return BadServerName(name, "empty label (or a trailing dot)");
    }
    if (!IsLdhLabel(labels[i])) {
      return BadServerName(
          name,
          "not an IP address, nor a DNS name of labels of 1 to 63 letters, "
          "digits and inner hyphens (with \"*\" only as the whole first "
          "label)");
    }
  }
  bool numeric = true;
  for (char c : labels.back()) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) numeric = false;
  }
  if (numeric) {
    return BadServerName(
        name,
        "not an IP address, and a DNS name's last label is not all digits");
  }
  return lower;
}

absl::StatusOr<GeneralNamePtr> IpName(const std::string& literal,
                                      absl::string_view octets) {
  GeneralNamePtr name(GENERAL_NAME_new());
  internal::Asn1OctetStringPtr ip(a2i_IPADDRESS(literal.c_str()));
  if (!name || !ip) return OpenSslError("iPAddress");
  // a2i_IPADDRESS is laxer than inet_pton; both must read the same address.
  if (absl::string_view(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(ip.get())),
          static_cast<size_t>(ASN1_STRING_length(ip.get()))) != octets) {
    return absl::InternalError(
        absl::StrCat("a2i_IPADDRESS read ", literal, " differently"));
  }
  GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
  return name;
}

// subjectAltName with one iPAddress or dNSName per name, in order.
absl::StatusOr<std::string> ServerSubjectAltName(
    const std::vector<std::string>& names) {
  if (names.empty()) {
    return absl::InvalidArgumentError("a TLS server certificate needs a name");
  }
  if (names.size() > static_cast<size_t>(kMaxTlsServerNames)) {
    return absl::InvalidArgumentError(
        absl::StrCat(names.size(), " TLS server names; at most ",
                     kMaxTlsServerNames, " are accepted"));
  }
  GeneralNamesPtr san(GENERAL_NAMES_new());
  if (!san) return OpenSslError("subjectAltName");
  std::set<std::string> seen;  // "ip:" octets or "dns:" name
  for (const std::string& n : names) {
    GeneralNamePtr gn;
    std::string key;
    if (std::optional<std::string> octets = IpLiteralOctets(n)) {
      ASSIGN_OR_RETURN(gn, IpName(n, *octets));
      key = absl::StrCat("ip:", *octets);
    } else {
      ASSIGN_OR_RETURN(std::string dns, CanonicalDnsName(n));
      ASSIGN_OR_RETURN(gn, Ia5Name(GEN_DNS, dns));
      key = absl::StrCat("dns:", dns);
    }
    if (!seen.insert(key).second) return BadServerName(n, "given twice");
    if (sk_GENERAL_NAME_push(san.get(), gn.get()) <= 0) {
      return OpenSslError("subjectAltName");
    }
    gn.release();  // owned by `san`
  }
  return internal::ExtensionDer(NID_subject_alt_name, false, san.get());
}

// --- Assembly ------------------------------------------------------------

struct TbsParts {
  const Serial* serial;
  absl::string_view issuer_der;
  Validity validity;
  absl::string_view subject_der;
  absl::string_view spki_der;
  std::vector<std::string> extensions;
};

// Signs the TBSCertificate (RFC 5280 §4.1) and checks the result with
// OpenSSL against `issuer_key`.
absl::StatusOr<IssuedCertificate> SignCertificate(const TbsParts& parts,
                                                  const crypto::Signer& signer,
                                                  EVP_PKEY* issuer_key) {
  ASSIGN_OR_RETURN(std::string algorithm,
                   internal::SignatureAlgorithm(signer.scheme()));
  ASSIGN_OR_RETURN(std::string not_before,
                   EncodeTime(parts.validity.not_before));
  ASSIGN_OR_RETURN(std::string not_after, EncodeTime(parts.validity.not_after));
  std::string extensions;
  for (const std::string& e : parts.extensions) extensions += e;
  std::string tbs = internal::Sequence({
      internal::Tlv(internal::ContextTag(0), internal::SmallInteger(2)),  // v3
      parts.serial->der,
      algorithm,
      parts.issuer_der,
      internal::Sequence({not_before, not_after}),
      parts.subject_der,
      parts.spki_der,
      internal::Tlv(internal::ContextTag(3), internal::Sequence({extensions})),
  });
  ASSIGN_OR_RETURN(std::string der, internal::SignAndWrap(signer, tbs));

  auto cert = internal::ParseCertificateDer(der);
  if (!cert.ok()) {
    return absl::InternalError("the assembled certificate does not parse");
  }
  auto reencoded = I2d(i2d_X509, cert->get());
  if (!reencoded.ok() || *reencoded != der) {
    return absl::InternalError("the assembled certificate is not DER");
  }
  if (X509_verify(cert->get(), issuer_key) != 1) {
    ERR_clear_error();
    return absl::InternalError(
        "the signer produced a signature that does not verify");
  }
  return IssuedCertificate{std::move(der), parts.serial->hex};
}

// Checks shared by the functions that issue under a CA.
struct CheckedSubject {
  std::string subject_der;
  Validity validity;
};

absl::StatusOr<CheckedSubject> CheckSubject(const Name& subject,
                                            absl::string_view spki_der,
                                            absl::Time not_before,
                                            absl::Time not_after,
                                            const internal::ParsedIssuer& ca) {
  CheckedSubject out;
  ASSIGN_OR_RETURN(out.subject_der, EncodeName(subject));
  RETURN_IF_ERROR(CheckSubjectKey(spki_der));
  ASSIGN_OR_RETURN(out.validity, CheckValidity(not_before, not_after));
  RETURN_IF_ERROR(CheckInsideCa(out.validity, ca));
  return out;
}

absl::Status CheckMaxValidity(const Validity& v, const CertProfile& profile) {
  if (v.not_after - v.not_before > profile.max_validity) {
    return absl::InvalidArgumentError(
        absl::StrCat("validity is longer than the profile's maximum of ",
                     absl::FormatDuration(profile.max_validity)));
  }
  return absl::OkStatus();
}

// authorityInfoAccess and cRLDistributionPoints, for the profile's URLs that
// are set.
absl::Status AppendProfileUrls(const CertProfile& profile,
                               std::vector<std::string>& extensions) {
  if (!profile.ocsp_url.empty() || !profile.ca_issuers_url.empty()) {
    ASSIGN_OR_RETURN(std::string aia, AuthorityInfoAccess(profile));
    extensions.push_back(std::move(aia));
  }
  if (!profile.crl_url.empty()) {
    ASSIGN_OR_RETURN(std::string crldp, CrlDistributionPoints(profile.crl_url));
    extensions.push_back(std::move(crldp));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckProfile(const CertProfile& p) {
  if (p.max_validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("profile: max_validity must be positive");
  }
  RETURN_IF_ERROR(
      internal::ParseOid("profile: hsm_key_policy_oid", p.hsm_key_policy_oid)
          .status());
  RETURN_IF_ERROR(internal::ParseOid("profile: provisional_key_policy_oid",
                                     p.provisional_key_policy_oid)
                      .status());
  RETURN_IF_ERROR(
      internal::ParseOid("profile: user_key_policy_oid", p.user_key_policy_oid)
          .status());
  RETURN_IF_ERROR(CheckUrl("profile: ocsp_url", p.ocsp_url));
  RETURN_IF_ERROR(CheckUrl("profile: ca_issuers_url", p.ca_issuers_url));
  RETURN_IF_ERROR(CheckUrl("profile: crl_url", p.crl_url));
  return absl::OkStatus();
}

absl::StatusOr<IssuedCertificate> IssueRootCertificate(
    const Name& subject, const Validity& validity, const crypto::Signer& ca) {
  ASSIGN_OR_RETURN(std::string subject_der, EncodeName(subject));
  ASSIGN_OR_RETURN(Validity v,
                   CheckValidity(validity.not_before, validity.not_after));
  const std::string& spki = ca.public_key_der();
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, internal::ParsePublicKeyDer(spki));
  ASSIGN_OR_RETURN(Serial serial, NewSerial());
  TbsParts parts{&serial, subject_der, v, subject_der, spki, {}};
  ASSIGN_OR_RETURN(std::string bc, BasicConstraints(true));
  ASSIGN_OR_RETURN(std::string ku, KeyUsage({kKeyCertSign, kCrlSign}));
  ASSIGN_OR_RETURN(std::string ski, SubjectKeyId(spki));
  parts.extensions = {bc, ku, ski};
  return SignCertificate(parts, ca, key.get());
}

absl::StatusOr<std::string> MakeCsr(const Name& subject,
                                    const crypto::Signer& key) {
  using X509NamePtr = internal::X509NamePtr;
  ASSIGN_OR_RETURN(std::string subject_der, EncodeName(subject));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pkey,
                   internal::ParsePublicKeyDer(key.public_key_der()));
  const auto* p = reinterpret_cast<const unsigned char*>(subject_der.data());
  X509NamePtr name(
      d2i_X509_NAME(nullptr, &p, static_cast<long>(subject_der.size())));
  internal::X509ReqPtr req(X509_REQ_new());
  if (!name || !req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), pkey.get()) != 1) {
    return OpenSslError("CSR");
  }
  // extensionRequest (PKCS#9): what this key is for.
  ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  if (!exts) return OpenSslError("CSR");
  BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
  internal::Asn1BitStringPtr ku(ASN1_BIT_STRING_new());
  if (!bc || !ku || ASN1_BIT_STRING_set_bit(ku.get(), kKeyCertSign, 1) != 1 ||
      ASN1_BIT_STRING_set_bit(ku.get(), kCrlSign, 1) != 1) {
    return OpenSslError("CSR");
  }
  bc->ca = 0xff;
  for (auto [nid, value] :
       {std::pair<int, void*>{NID_basic_constraints, bc.get()},
        std::pair<int, void*>{NID_key_usage, ku.get()}}) {
    internal::X509ExtensionPtr ext(X509V3_EXT_i2d(nid, 1, value));
    if (!ext || sk_X509_EXTENSION_push(exts.get(), ext.get()) <= 0) {
      return OpenSslError("CSR extensions");
    }
    ext.release();
  }
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
    return OpenSslError("CSR extensions");
  }
  ASSIGN_OR_RETURN(std::string tbs, I2d(i2d_re_X509_REQ_tbs, req.get()));
  ASSIGN_OR_RETURN(std::string der, internal::SignAndWrap(key, tbs));

  const auto* q = reinterpret_cast<const unsigned char*>(der.data());
  internal::X509ReqPtr parsed(
      d2i_X509_REQ(nullptr, &q, static_cast<long>(der.size())));
  if (!parsed ||
      q != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return OpenSslError("the assembled CSR does not parse");
  }
  if (X509_REQ_verify(parsed.get(), pkey.get()) != 1) {
    ERR_clear_error();
    return absl::InternalError(
        "the signer produced a signature that does not verify");
  }
  return der;
}

absl::StatusOr<IssuedCertificate> IssueCertificate(const CertProfile& profile,
                                                   const IssueRequest& request,
                                                   const CaContext& ca) {
  RETURN_IF_ERROR(CheckProfile(profile));
  ASSIGN_OR_RETURN(internal::ParsedIssuer issuer,
                   internal::ParseIssuer(ca.certificate_der, ca.signer,
                                         /*require_ca=*/true));
  ASSIGN_OR_RETURN(CheckedSubject subject,
                   CheckSubject(request.subject, request.subject_public_key_der,
                                request.not_before, request.not_after, issuer));
  RETURN_IF_ERROR(CheckMaxValidity(subject.validity, profile));
  ASSIGN_OR_RETURN(Serial serial, NewSerial());
  TbsParts parts{&serial,
                 issuer.subject_der,
                 subject.validity,
                 subject.subject_der,
                 request.subject_public_key_der,
                 {}};
  ASSIGN_OR_RETURN(std::string ku,
                   KeyUsage({kDigitalSignature, kNonRepudiation}));
  ASSIGN_OR_RETURN(std::string bc, BasicConstraints(false));
  ASSIGN_OR_RETURN(std::string ski,
                   SubjectKeyId(request.subject_public_key_der));
  ASSIGN_OR_RETURN(std::string aki,
                   internal::AuthorityKeyIdExtension(issuer.key_id));
  ASSIGN_OR_RETURN(
      std::string policies,
      CertificatePolicies(request.key_protection == KeyProtection::kHsm
                              ? profile.hsm_key_policy_oid
                          : request.key_protection == KeyProtection::kUserHeld
                              ? profile.user_key_policy_oid
                              : profile.provisional_key_policy_oid));
  parts.extensions = {ku, bc, ski, aki, policies};
  RETURN_IF_ERROR(AppendProfileUrls(profile, parts.extensions));
  return SignCertificate(parts, ca.signer, X509_get0_pubkey(issuer.cert.get()));
}

absl::StatusOr<IssuedCertificate> IssueOcspResponderCertificate(
    const Name& subject, absl::string_view responder_public_key_der,
    const Validity& validity, const CaContext& ca) {
  ASSIGN_OR_RETURN(internal::ParsedIssuer issuer,
                   internal::ParseIssuer(ca.certificate_der, ca.signer,
                                         /*require_ca=*/true));
  ASSIGN_OR_RETURN(
      CheckedSubject checked,
      CheckSubject(subject, responder_public_key_der, validity.not_before,
                   validity.not_after, issuer));
  ASSIGN_OR_RETURN(Serial serial, NewSerial());
  TbsParts parts{&serial,
                 issuer.subject_der,
                 checked.validity,
                 checked.subject_der,
                 responder_public_key_der,
                 {}};
  ASSIGN_OR_RETURN(std::string ku, KeyUsage({kDigitalSignature}));
  ASSIGN_OR_RETURN(std::string bc, BasicConstraints(false));
  ASSIGN_OR_RETURN(std::string eku, OcspSigningEku());
  ASSIGN_OR_RETURN(std::string nocheck, OcspNoCheck());
  ASSIGN_OR_RETURN(std::string ski, SubjectKeyId(responder_public_key_der));
  ASSIGN_OR_RETURN(std::string aki,
                   internal::AuthorityKeyIdExtension(issuer.key_id));
  parts.extensions = {ku, bc, eku, nocheck, ski, aki};
  return SignCertificate(parts, ca.signer, X509_get0_pubkey(issuer.cert.get()));
}

namespace {

// An end-entity certificate for one of the service's own keys: the checks and
// extensions every such certificate has (not a CA; SKI, AKI, the profile's
// CRL and OCSP URLs), plus those `usage` gives for the key (key usage first).
absl::StatusOr<IssuedCertificate> IssueServiceKeyCertificate(
    const CertProfile& profile, const Name& subject,
    absl::string_view public_key_der, const Validity& validity,
    const CaContext& ca,
    const std::function<absl::StatusOr<std::vector<std::string>>(EVP_PKEY*)>&
        usage) {
  RETURN_IF_ERROR(CheckProfile(profile));
  ASSIGN_OR_RETURN(internal::ParsedIssuer issuer,
                   internal::ParseIssuer(ca.certificate_der, ca.signer,
                                         /*require_ca=*/true));
  ASSIGN_OR_RETURN(CheckedSubject checked,
                   CheckSubject(subject, public_key_der, validity.not_before,
                                validity.not_after, issuer));
  RETURN_IF_ERROR(CheckMaxValidity(checked.validity, profile));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key,
                   internal::ParsePublicKeyDer(public_key_der));
  ASSIGN_OR_RETURN(std::vector<std::string> extensions, usage(key.get()));
  ASSIGN_OR_RETURN(Serial serial, NewSerial());
  TbsParts parts{&serial,          issuer.subject_der,
                 checked.validity, checked.subject_der,
                 public_key_der,   {}};
  ASSIGN_OR_RETURN(std::string bc, BasicConstraints(false));
  ASSIGN_OR_RETURN(std::string ski, SubjectKeyId(public_key_der));
  ASSIGN_OR_RETURN(std::string aki,
                   internal::AuthorityKeyIdExtension(issuer.key_id));
  extensions.insert(extensions.begin() + 1, bc);
  extensions.push_back(ski);
  extensions.push_back(aki);
  parts.extensions = std::move(extensions);
  RETURN_IF_ERROR(AppendProfileUrls(profile, parts.extensions));
  return SignCertificate(parts, ca.signer, X509_get0_pubkey(issuer.cert.get()));
}

}  // namespace

absl::StatusOr<IssuedCertificate> IssueTlsServerCertificate(
    const CertProfile& profile, const Name& subject,
    absl::string_view public_key_der, const std::vector<std::string>& names,
    const Validity& validity, const CaContext& ca) {
  return IssueServiceKeyCertificate(
      profile, subject, public_key_der, validity, ca,
      [&](EVP_PKEY* key) -> absl::StatusOr<std::vector<std::string>> {
        ASSIGN_OR_RETURN(std::string san, ServerSubjectAltName(names));
        // RSA key exchange (TLS 1.2 and earlier) encrypts to the key.
        const bool rsa = EVP_PKEY_is_a(key, "RSA");
        ASSIGN_OR_RETURN(std::string ku,
                         rsa ? KeyUsage({kDigitalSignature, kKeyEncipherment})
                             : KeyUsage({kDigitalSignature}));
        ASSIGN_OR_RETURN(std::string eku, ServerAuthEku());
        return std::vector<std::string>{ku, eku, san};
      });
}

absl::StatusOr<IssuedCertificate> IssueKeyTransportCertificate(
    const CertProfile& profile, const Name& subject,
    absl::string_view public_key_der, const Validity& validity,
    const CaContext& ca) {
  return IssueServiceKeyCertificate(
      profile, subject, public_key_der, validity, ca,
      [](EVP_PKEY* key) -> absl::StatusOr<std::vector<std::string>> {
        if (!EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_get_bits(key) < 3072) {
          return absl::InvalidArgumentError(
              "a transport key must be RSA of at least 3072 bits");
        }
        ASSIGN_OR_RETURN(std::string ku, KeyUsage({kKeyEncipherment}));
        return std::vector<std::string>{ku};
      });
}

std::string ToPem(absl::string_view der, absl::string_view label) {
  std::string b64 = Base64Encode(der);
  std::string out = absl::StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&out, absl::string_view(b64).substr(i, 64), "\n");
  }
  absl::StrAppend(&out, "-----END ", label, "-----\n");
  return out;
}

}  // namespace inkan::ca
