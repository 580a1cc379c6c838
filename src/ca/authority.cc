#include "ca/authority.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "audit/canonical_json.h"
#include "ca/crl.h"
#include "ca/name.h"
#include "ceremony/custody.h"
#include "ceremony/share_codec.h"
#include "common/encoding.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "storage/credential_meta.h"

namespace inkan::ca {
namespace {

using audit::Event;
using audit::Field;

constexpr absl::string_view kCustodyKey = "ca.custody";
constexpr absl::string_view kCertKey = "ca.certificate";
constexpr absl::string_view kProfileKey = "ca.profile";
constexpr absl::string_view kCrlNumberKey = "ca.crl_number";
constexpr absl::string_view kCrlKey = "ca.crl";
constexpr absl::string_view kOcspKeyKey = "ca.ocsp.key";
constexpr absl::string_view kOcspCertKey = "ca.ocsp.cert";
constexpr int kResponderDays = 90;

class KeySigner : public crypto::Signer {
 public:
  KeySigner(hsm::ActiveKey& key, std::string spki)
      : key_(key),
        spki_(std::move(spki)),
        scheme_{key.algorithm(), crypto::DefaultHash(key.algorithm())} {}
  absl::StatusOr<std::string> SignDigest(
      absl::string_view digest) const override {
    return key_.Sign(scheme_, digest);
  }
  const crypto::SignatureScheme& scheme() const override { return scheme_; }
  const std::string& public_key_der() const override { return spki_; }

 private:
  hsm::ActiveKey& key_;
  std::string spki_;
  crypto::SignatureScheme scheme_;
};

std::string Get(const ceremony::Params& p, absl::string_view key,
                absl::string_view fallback) {
  return ceremony::FindParam(p, key).value_or(std::string(fallback));
}

absl::StatusOr<int> Days(const ceremony::Params& p, absl::string_view key,
                         int fallback) {
  int days;
  if (!absl::SimpleAtoi(Get(p, key, absl::StrCat(fallback)), &days) ||
      days < 1 || days > 36500) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, " must be 1..36500 days"));
  }
  return days;
}

// The profile as stored: `base` overridden by whatever `p` names.
absl::StatusOr<std::string> SaveProfile(
    const ceremony::Params& p, const CertProfile& base = CertProfile()) {
  int default_days =
      static_cast<int>(absl::ToInt64Hours(base.max_validity) / 24);
  ASSIGN_OR_RETURN(int ee_days, Days(p, "ee_days", default_days));
  CertProfile profile = base;
  profile.max_validity = absl::Hours(24 * ee_days);
  profile.ocsp_url = Get(p, "ocsp_url", base.ocsp_url);
  profile.crl_url = Get(p, "crl_url", base.crl_url);
  profile.ca_issuers_url = Get(p, "ca_issuers_url", base.ca_issuers_url);
  profile.hsm_key_policy_oid = Get(p, "hsm_policy", base.hsm_key_policy_oid);
  profile.provisional_key_policy_oid =
      Get(p, "provisional_policy", base.provisional_key_policy_oid);
  profile.user_key_policy_oid = Get(p, "user_policy", base.user_key_policy_oid);
  RETURN_IF_ERROR(CheckProfile(profile));
  return audit::CanonicalObject(std::vector<Field>{
      {"ee_days", int64_t{ee_days}},
      {"ocsp_url", profile.ocsp_url},
      {"crl_url", profile.crl_url},
      {"ca_issuers_url", profile.ca_issuers_url},
      {"hsm_policy", profile.hsm_key_policy_oid},
      {"provisional_policy", profile.provisional_key_policy_oid},
      {"user_policy", profile.user_key_policy_oid}});
}

absl::StatusOr<CertProfile> LoadProfile(storage::Transaction& tx) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, tx.GetMeta(kProfileKey));
  if (!text) return absl::FailedPreconditionError("the CA has no profile");
  ASSIGN_OR_RETURN(auto fields, audit::ParseFlatObject(*text));
  CertProfile p;
  for (const Field& f : fields) {
    auto* s = std::get_if<std::string>(&f.value);
    if (f.key == "ee_days") {
      const int64_t* days = std::get_if<int64_t>(&f.value);
      if (days == nullptr || *days < 1 || *days > 36500) {
        return absl::DataLossError("stored profile has a bad ee_days");
      }
      p.max_validity = absl::Hours(24 * *days);
    }
    if (s == nullptr) continue;
    if (f.key == "ocsp_url") p.ocsp_url = *s;
    if (f.key == "crl_url") p.crl_url = *s;
    if (f.key == "ca_issuers_url") p.ca_issuers_url = *s;
    if (f.key == "hsm_policy") p.hsm_key_policy_oid = *s;
    if (f.key == "provisional_policy") p.provisional_key_policy_oid = *s;
    if (f.key == "user_policy") p.user_key_policy_oid = *s;
  }
  RETURN_IF_ERROR(CheckProfile(p));
  return p;
}

absl::StatusOr<std::string> LoadCaCert(storage::Transaction& tx) {
  ASSIGN_OR_RETURN(std::optional<std::string> b64, tx.GetMeta(kCertKey));
  if (!b64) {
    return absl::FailedPreconditionError(
        "the CA is not initialised (propose the ca.init ceremony)");
  }
  auto der = Base64Decode(*b64);
  if (!der.ok())
    return absl::DataLossError("stored CA certificate is malformed");
  return *der;
}

// Share texts as shares, each checked against `custody` when given.
absl::StatusOr<std::vector<ceremony::Share>> DecodeShares(
    const std::vector<SecretBytes>& texts, const ceremony::Custody* custody) {
  std::vector<ceremony::Share> shares;
  for (const SecretBytes& text : texts) {
    ASSIGN_OR_RETURN(ceremony::Share share, ceremony::DecodeShare(text));
    if (custody != nullptr)
      RETURN_IF_ERROR(ceremony::CheckShare(*custody, share));
    shares.push_back(std::move(share));
  }
  return shares;
}

using X509Ptr = std::unique_ptr<X509, void (*)(X509*)>;

// Parses a DER certificate; InvalidArgument (naming `what`) if it does not.
absl::StatusOr<X509Ptr> ParseCert(absl::string_view der,
                                  absl::string_view what) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  if (!x) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(what, " does not parse"));
  }
  return x;
}

// The certificate's SubjectPublicKeyInfo, DER.
absl::StatusOr<std::string> SpkiOf(X509* cert) {
  unsigned char* spki = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert), &spki);
  if (len <= 0)
    return absl::InvalidArgumentError("the certificate's key does not encode");
  std::string out(reinterpret_cast<char*>(spki), len);
  OPENSSL_free(spki);
  return out;
}

}  // namespace

namespace {

// `v` cut to lie inside the CA certificate's validity (an external root may
// date the CA certificate "now", so "a minute ago" would fall outside it).
// A certificate's notAfter; InfinitePast if it does not parse.
absl::Time NotAfterOf(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, void (*)(X509*)> x(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  struct tm tm = {};
  if (!x || ASN1_TIME_to_tm(X509_get0_notAfter(x.get()), &tm) != 1)
    return absl::InfinitePast();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

Validity ClampToCa(const std::string& ca_der, Validity v) {
  const auto* p = reinterpret_cast<const unsigned char*>(ca_der.data());
  std::unique_ptr<X509, void (*)(X509*)> x(d2i_X509(nullptr, &p, ca_der.size()),
                                           X509_free);
  if (!x) return v;
  auto to_time = [](const ASN1_TIME* t, absl::Time fallback) {
    struct tm tm = {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return fallback;
    return absl::FromTM(tm, absl::UTCTimeZone());
  };
  v.not_before = std::max(v.not_before,
                          to_time(X509_get0_notBefore(x.get()), v.not_before));
  v.not_after =
      std::min(v.not_after, to_time(X509_get0_notAfter(x.get()), v.not_after));
  return v;
}

// Makes the delegated OCSP responder: a key under the HSM's master KEK and a
// certificate signed now by the (active) CA key; stores both. Its
// certificate carries id-pkix-ocsp-nocheck, so it is short-lived
// (kResponderDays): the service renews it while the CA key is active.
absl::Status MakeResponder(storage::Transaction& tx, hsm::KeyStore& keys,
                           const std::string& ca_der,
                           const crypto::Signer& ca_signer,
                           const Name& ca_subject, absl::Time now, int days) {
  ASSIGN_OR_RETURN(hsm::WrappedKey ocsp_key,
                   keys.GenerateWrappedKey(crypto::KeyAlgorithm::kEcP256));
  ASSIGN_OR_RETURN(
      Name ocsp_name,
      ParseName(absl::StrCat("CN=OCSP responder,", FormatName(ca_subject))));
  ASSIGN_OR_RETURN(
      IssuedCertificate ocsp_cert,
      IssueOcspResponderCertificate(
          ocsp_name, ocsp_key.public_key_der,
          ClampToCa(ca_der,
                    {now - absl::Minutes(1),
                     now + absl::Hours(24 * std::min(days, kResponderDays))}),
          CaContext{ca_der, ca_signer}));
  RETURN_IF_ERROR(
      tx.PutMeta(kOcspKeyKey, Base64Encode(ocsp_key.wrapped.RevealString())));
  return tx.PutMeta(kOcspCertKey, Base64Encode(ocsp_cert.der));
}

// ---- Backups: the bundle, and the copy on a backup token ----

constexpr absl::string_view kBackupTokenKey = "ca.backup.token";
constexpr absl::string_view kBackupRecordLabel = "inkan-ca-backup";

struct TokenRef {
  std::string module;  // empty: the instance's own PKCS#11 module
  std::string token;
};

absl::StatusOr<std::optional<TokenRef>> LoadTokenRef(storage::Transaction& tx) {
  ASSIGN_OR_RETURN(std::optional<std::string> text,
                   tx.GetMeta(kBackupTokenKey));
  if (!text || text->empty()) return std::nullopt;
  auto fields = audit::ParseFlatObject(*text);
  if (!fields.ok())
    return absl::DataLossError("ca.backup.token does not parse");
  TokenRef ref;
  for (const auto& f : *fields) {
    const auto* v = std::get_if<std::string>(&f.value);
    if (v == nullptr) continue;
    if (f.key == "module") ref.module = *v;
    if (f.key == "token") ref.token = *v;
  }
  if (ref.token.empty())
    return absl::DataLossError("ca.backup.token names no token");
  return ref;
}

absl::Status SaveTokenRef(storage::Transaction& tx, const TokenRef& ref,
                          absl::string_view record_sha256,
                          absl::string_view set_id) {
  ASSIGN_OR_RETURN(std::string text,
                   audit::CanonicalObject(std::vector<Field>{
                       {"module", ref.module},
                       {"token", ref.token},
                       {"record_sha256", std::string(record_sha256)},
                       {"share_set", std::string(set_id)}}));
  return tx.PutMeta(kBackupTokenKey, text);
}

// The CA's backup bundle (canonical JSON, no secret) with `custody_json` as
// its key in custody.
absl::StatusOr<std::string> MakeBundle(storage::Transaction& tx,
                                       const std::string& custody_json) {
  auto get = [&](absl::string_view k) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::optional<std::string> v, tx.GetMeta(k));
    return v.value_or("");
  };
  ASSIGN_OR_RETURN(std::string cert, get(kCertKey));
  ASSIGN_OR_RETURN(std::string profile, get(kProfileKey));
  ASSIGN_OR_RETURN(std::string ocsp_cert, get(kOcspCertKey));
  ASSIGN_OR_RETURN(std::string crl_number, get(kCrlNumberKey));
  ASSIGN_OR_RETURN(std::string ocsp_key, get(kOcspKeyKey));
  ASSIGN_OR_RETURN(auto revoked, tx.ListRevokedCertificates());
  std::vector<std::string> items;
  for (const auto& r : revoked) {
    items.push_back(absl::StrCat(
        r.serial_hex, ":", absl::ToUnixMicros(r.revoked_at), ":", r.reason));
  }
  return audit::CanonicalObject(
      std::vector<Field>{{"type", "inkan.ca.backup.v1"},
                         {"custody", custody_json},
                         {"certificate", cert},
                         {"profile", profile},
                         {"ocsp_certificate", ocsp_cert},
                         {"crl_number", crl_number},
                         {"ocsp_key", ocsp_key},
                         {"revoked", absl::StrJoin(items, ";")}});
}

absl::StatusOr<std::map<std::string, std::string>> ParseBundle(
    absl::string_view bundle) {
  auto fields = audit::ParseFlatObject(bundle);
  if (!fields.ok())
    return absl::InvalidArgumentError("the bundle does not parse");
  std::map<std::string, std::string> m;
  for (const auto& f : *fields) {
    if (auto* s = std::get_if<std::string>(&f.value)) m[f.key] = *s;
  }
  if (m["type"] != "inkan.ca.backup.v1") {
    return absl::InvalidArgumentError("not an inkan CA backup bundle");
  }
  return m;
}

struct RestoredState {
  std::string certificate_der;
  int64_t revocations = 0;
  int64_t crl_number = 0;
};

// Stores a bundle's certificate (which must be for `c`'s key), profile, CRL
// number and revocations. Custody and the responder are the caller's.
absl::StatusOr<RestoredState> RestoreBundleState(
    storage::Transaction& tx, std::map<std::string, std::string>& m,
    const ceremony::Custody& c) {
  RestoredState out;
  auto der = Base64Decode(m["certificate"]);
  if (!der.ok())
    return absl::InvalidArgumentError(
        "the bundle's CA certificate is malformed");
  ASSIGN_OR_RETURN(X509Ptr x509,
                   ParseCert(*der, "the bundle's CA certificate"));
  ASSIGN_OR_RETURN(std::string spki_der, SpkiOf(x509.get()));
  if (spki_der != c.public_key_der) {
    return absl::InvalidArgumentError(
        "the bundle's certificate is not for its CA key");
  }
  out.certificate_der = *der;
  RETURN_IF_ERROR(tx.PutMeta(kCertKey, m["certificate"]));
  RETURN_IF_ERROR(tx.PutMeta(kProfileKey, m["profile"]));
  RETURN_IF_ERROR(LoadProfile(tx).status());
  (void)absl::SimpleAtoi(m["crl_number"], &out.crl_number);
  RETURN_IF_ERROR(tx.PutMeta(kCrlNumberKey, absl::StrCat(out.crl_number)));
  // Revocations travel with the CA: its CRLs must keep listing them.
  for (absl::string_view item :
       absl::StrSplit(m["revoked"], ';', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    int64_t at_us = 0;
    int reason = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &at_us) ||
        !absl::SimpleAtoi(parts[2], &reason)) {
      return absl::InvalidArgumentError(
          "the bundle's revocation list is malformed");
    }
    storage::CertificateRecord r;
    r.serial_hex = parts[0];
    r.subject = "(restored revocation)";
    r.revoked = true;
    r.revoked_at = absl::FromUnixMicros(at_us);
    r.reason = reason;
    r.issued = r.revoked_at;
    r.not_before = r.revoked_at;
    r.not_after = r.revoked_at;
    RETURN_IF_ERROR(tx.InsertCertificate(r));
    ++out.revocations;
  }
  return out;
}

// The subject of a DER certificate as a Name.
absl::StatusOr<Name> SubjectOf(const std::string& der) {
  ASSIGN_OR_RETURN(X509Ptr x, ParseCert(der, "the CA certificate"));
  std::unique_ptr<BIO, void (*)(BIO*)> bio(BIO_new(BIO_s_mem()), BIO_free_all);
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(x.get()), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return ParseName(absl::string_view(data, len));
}

// What the backup token holds: the bundle and the custody in it.
struct TokenCopy {
  std::string bundle;
  std::map<std::string, std::string> fields;
  ceremony::Custody custody;
};

absl::StatusOr<TokenCopy> ReadTokenCopy(hsm::KeyStore& token,
                                        absl::string_view label) {
  TokenCopy out;
  auto record = token.GetRecord(kBackupRecordLabel);
  if (absl::IsNotFound(record.status())) {
    return absl::NotFoundError(
        absl::StrCat("backup token '", label, "' holds no copy of a CA key"));
  }
  RETURN_IF_ERROR(record.status());
  out.bundle = *std::move(record);
  ASSIGN_OR_RETURN(out.fields, ParseBundle(out.bundle));
  ASSIGN_OR_RETURN(out.custody,
                   ceremony::CustodyFromJson(out.fields["custody"],
                                             "the backup token's record"));
  return out;
}

// The bundle to keep on the backup token for `copy` (custody under the
// token's CA KEK). Callers write it (PutRecord) as their last step before the
// commit, since the token cannot roll back.
absl::StatusOr<std::string> TokenBundle(storage::Transaction& tx,
                                        const ceremony::Custody& copy) {
  ASSIGN_OR_RETURN(std::string custody_json, ceremony::CustodyToJson(copy));
  return MakeBundle(tx, custody_json);
}

}  // namespace

std::unique_ptr<crypto::Signer> ActiveKeySigner(hsm::ActiveKey& key,
                                                std::string spki_der) {
  return std::make_unique<KeySigner>(key, std::move(spki_der));
}

absl::StatusOr<CrlReason> ParseCrlReason(absl::string_view name) {
  static const std::pair<absl::string_view, CrlReason> kNames[] = {
      {"unspecified", CrlReason::kUnspecified},
      {"keyCompromise", CrlReason::kKeyCompromise},
      {"CACompromise", CrlReason::kCaCompromise},
      {"affiliationChanged", CrlReason::kAffiliationChanged},
      {"superseded", CrlReason::kSuperseded},
      {"cessationOfOperation", CrlReason::kCessationOfOperation},
      {"certificateHold", CrlReason::kCertificateHold},
      {"privilegeWithdrawn", CrlReason::kPrivilegeWithdrawn},
      {"AACompromise", CrlReason::kAaCompromise}};
  for (const auto& [n, r] : kNames) {
    if (n == name) return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown revocation reason '", name,
                   "' (unspecified, keyCompromise, CACompromise, "
                   "affiliationChanged, superseded, "
                   "cessationOfOperation, certificateHold, privilegeWithdrawn, "
                   "AACompromise)"));
}

namespace {

// ca.restore from the backup token: k shares open the token's copy, which
// moves into this HSM under its CA KEK; this HSM gets a new OCSP responder
// (the old one's key was wrapped by the lost HSM's master KEK).
absl::StatusOr<std::string> RestoreFromToken(
    storage::Transaction& tx, const ceremony::Params& p,
    absl::string_view actor, const std::vector<SecretBytes>& inputs,
    hsm::KeyStore& keys, const audit::AuditLog& log, const Clock& clock,
    const hsm::TokenAccess& tokens) {
  TokenRef ref{Get(p, "module", ""), Get(p, "token", "")};
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::KeyStore> token,
                   tokens.Open(ref.module, ref.token));
  ASSIGN_OR_RETURN(TokenCopy copy, ReadTokenCopy(*token, ref.token));
  std::string digest = HexEncode(crypto::Sha256(copy.bundle));
  if (digest != Get(p, "record_sha256", "")) {
    return absl::InvalidArgumentError(
        "the backup token holds another record than the one the operators "
        "approved");
  }
  ASSIGN_OR_RETURN(std::vector<ceremony::Share> shares,
                   DecodeShares(inputs, &copy.custody));
  ASSIGN_OR_RETURN(ceremony::Custody here,
                   ceremony::CopyCustody(*token, copy.custody, shares, keys));
  RETURN_IF_ERROR(ceremony::SaveCustody(tx, kCustodyKey, here));
  ASSIGN_OR_RETURN(RestoredState st, RestoreBundleState(tx, copy.fields, here));
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::ActiveKey> active,
                   ceremony::Activate(keys, here, shares));
  KeySigner signer(*active, here.public_key_der);
  ASSIGN_OR_RETURN(Name subject, SubjectOf(st.certificate_der));
  RETURN_IF_ERROR(MakeResponder(tx, keys, st.certificate_der, signer, subject,
                                clock.Now(), kResponderDays));
  RETURN_IF_ERROR(SaveTokenRef(tx, ref, digest, here.set_id));
  RETURN_IF_ERROR(
      log.Append(tx, Event{"ca.restore",
                           {{"actor", std::string(actor)},
                            {"form", "token"},
                            {"backup_token", ref.token},
                            {"share_set", here.set_id},
                            {"certificate_sha256",
                             HexEncode(crypto::Sha256(st.certificate_der))},
                            {"record_sha256", digest},
                            {"revocations", st.revocations},
                            {"crl_number", st.crl_number},
                            {"ocsp_responder", "new"}}}));
  return absl::StrCat("CA restored from backup token '", ref.token,
                      "' (share set ", here.set_id, ", ", st.revocations,
                      " revocations, a new OCSP responder); activate it with ",
                      here.threshold, " of the custodians' shares");
}

void RegisterBackupOperation(ceremony::Ceremonies& ceremonies,
                             hsm::KeyStore& keys, const audit::AuditLog& log,
                             const hsm::TokenAccess& tokens) {
  ceremony::OperationSpec backup;
  backup.name = "ca.backup";
  backup.summary =
      "copy the CA key onto a backup PKCS#11 token: token (label), module "
      "(optional); execute with k shares and --backup-pin";
  backup.validate = [](const ceremony::Params& p) -> absl::Status {
    if (Get(p, "token", "").empty())
      return absl::InvalidArgumentError(
          "token (the backup token's label) is required");
    return absl::OkStatus();
  };
  backup.execute_with_inputs =
      [&keys, &log, &tokens](
          storage::Transaction& tx, const ceremony::Params& p,
          absl::string_view actor, const std::vector<SecretBytes>& inputs,
          std::map<std::string, SecretBytes>*) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(ceremony::Custody custody,
                     ceremony::LoadCustody(tx, kCustodyKey));
    TokenRef ref{Get(p, "module", ""), Get(p, "token", "")};
    ASSIGN_OR_RETURN(std::optional<TokenRef> existing, LoadTokenRef(tx));
    if (existing && existing->token != ref.token) {
      return absl::AlreadyExistsError(
          absl::StrCat("the CA key already has a backup token ('",
                       existing->token, "'); one backup token at a time"));
    }
    ASSIGN_OR_RETURN(std::vector<ceremony::Share> shares,
                     DecodeShares(inputs, &custody));
    ASSIGN_OR_RETURN(std::unique_ptr<hsm::KeyStore> token,
                     tokens.Open(ref.module, ref.token));
    ASSIGN_OR_RETURN(ceremony::Custody copy,
                     ceremony::CopyCustody(keys, custody, shares, *token));
    ASSIGN_OR_RETURN(std::string record, TokenBundle(tx, copy));
    std::string digest = HexEncode(crypto::Sha256(record));
    RETURN_IF_ERROR(SaveTokenRef(tx, ref, digest, custody.set_id));
    RETURN_IF_ERROR(log.Append(tx, Event{"ca.backup",
                                         {{"actor", std::string(actor)},
                                          {"form", "token"},
                                          {"backup_token", ref.token},
                                          {"module", ref.module},
                                          {"share_set", custody.set_id},
                                          {"record_sha256", digest}}}));
    // Last, just before the commit: the token cannot roll back.
    RETURN_IF_ERROR(token->PutRecord(kBackupRecordLabel, record));
    return absl::StrCat("CA key copied onto backup token '", ref.token,
                        "' (record SHA-256 ", digest,
                        "); it opens only with that token and ",
                        custody.threshold, " shares of set ", custody.set_id);
  };
  ceremonies.Register(std::move(backup));
}

}  // namespace

void RegisterCaOperations(ceremony::Ceremonies& ceremonies, hsm::KeyStore& keys,
                          const audit::AuditLog& log, const Clock& clock,
                          const hsm::TokenAccess& tokens) {
  ceremony::OperationSpec spec;
  spec.name = "ca.init";
  spec.summary =
      "create the CA key and self-signed root: subject, alg (ec-p256), days "
      "(3650), ee_days "
      "(365), ocsp_url, crl_url, ca_issuers_url";
  spec.validate = [](const ceremony::Params& p) -> absl::Status {
    RETURN_IF_ERROR(ParseName(Get(p, "subject", "")).status());
    ASSIGN_OR_RETURN(crypto::KeyAlgorithm alg,
                     crypto::ParseKeyAlgorithm(Get(p, "alg", "ec-p256")));
    if (alg == crypto::KeyAlgorithm::kEd25519) {
      return absl::InvalidArgumentError("the CA key is ECDSA or RSA");
    }
    RETURN_IF_ERROR(Days(p, "days", 3650).status());
    std::string mode = Get(p, "mode", "root");
    if (mode != "root" && mode != "csr") {
      return absl::InvalidArgumentError(
          "mode is root (self-signed) or csr (external root)");
    }
    return SaveProfile(p).status();
  };
  spec.execute_with_inputs =
      [&keys, &log, &clock](storage::Transaction& tx, const ceremony::Params& p,
                            absl::string_view actor,
                            const std::vector<SecretBytes>& inputs,
                            std::map<std::string, SecretBytes>* outputs)
      -> absl::StatusOr<std::string> {
    if (!inputs.empty())
      return absl::InvalidArgumentError("ca.init takes no inputs");
    if (ceremony::LoadCustody(tx, kCustodyKey).ok()) {
      return absl::AlreadyExistsError("the CA is already initialised");
    }
    ASSIGN_OR_RETURN(Name subject, ParseName(Get(p, "subject", "")));
    ASSIGN_OR_RETURN(crypto::KeyAlgorithm alg,
                     crypto::ParseKeyAlgorithm(Get(p, "alg", "ec-p256")));
    ASSIGN_OR_RETURN(int days, Days(p, "days", 3650));
    ASSIGN_OR_RETURN(std::string profile, SaveProfile(p));
    ASSIGN_OR_RETURN(auto ops, tx.ListOperators());
    std::vector<storage::OperatorRecord> custodians;
    for (auto& op : ops) {
      if (!op.active) continue;
      // A custodian without a P-256 key gets a printed text share; that
      // needs a caller that can hand it out (ceremony execute --share-dir).
      if (outputs == nullptr &&
          !crypto::NewVerifier(op.public_key, {crypto::KeyAlgorithm::kEcP256,
                                               crypto::HashAlgorithm::kSha256})
               .ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("custodian ", op.name,
                         " has no P-256 key, so their share is printed: "
                         "execute with --share-dir DIR"));
      }
      custodians.push_back(std::move(op));
    }
    ASSIGN_OR_RETURN(std::optional<std::string> k_text,
                     tx.GetMeta("ceremony.quorum"));
    int k = 2;
    if (k_text && !absl::SimpleAtoi(*k_text, &k))
      return absl::DataLossError("bad quorum");
    ASSIGN_OR_RETURN(ceremony::NewCustody custody,
                     ceremony::CreateCustody(keys, alg, custodians, k));
    std::vector<std::string> printed;
    for (auto& [who, text] : custody.text_shares) {
      printed.push_back(who);
      (*outputs)[who] = std::move(text);
    }
    KeySigner signer(*custody.key, custody.custody.public_key_der);
    absl::Time now = clock.Now();
    if (Get(p, "mode", "root") == "csr") {
      // An external root certifies this CA: keep the CSR; ca.import brings
      // the certificate back.
      std::vector<std::string> who;
      for (const auto& c : custodians) who.push_back(c.name);
      ASSIGN_OR_RETURN(std::string csr, MakeCsr(subject, signer));
      RETURN_IF_ERROR(ceremony::SaveCustody(tx, kCustodyKey, custody.custody));
      RETURN_IF_ERROR(tx.PutMeta("ca.csr", Base64Encode(csr)));
      RETURN_IF_ERROR(tx.PutMeta(kProfileKey, profile));
      RETURN_IF_ERROR(tx.PutMeta(kCrlNumberKey, "0"));
      RETURN_IF_ERROR(log.Append(
          tx, Event{"ca.init",
                    {{"actor", std::string(actor)},
                     {"mode", "csr"},
                     {"subject", FormatName(subject)},
                     {"algorithm", std::string(crypto::KeyAlgorithmName(alg))},
                     {"threshold", int64_t{k}},
                     {"custodians", absl::StrJoin(who, ",")},
                     {"share_set", custody.custody.set_id},
                     {"printed_shares", absl::StrJoin(printed, ",")},
                     {"csr_sha256", HexEncode(crypto::Sha256(csr))}}}));
      return absl::StrCat(
          "CA key made, KEK split ", k, "-of-", who.size(),
          "; get the CSR with `inkan ca csr`, have the root sign it, then "
          "propose ca.import");
    }
    ASSIGN_OR_RETURN(
        IssuedCertificate root,
        IssueRootCertificate(
            subject, {now - absl::Minutes(1), now + absl::Hours(24 * days)},
            signer));
    // The delegated OCSP responder, certified while the CA key is active.
    RETURN_IF_ERROR(
        MakeResponder(tx, keys, root.der, signer, subject, now, days));
    RETURN_IF_ERROR(ceremony::SaveCustody(tx, kCustodyKey, custody.custody));
    RETURN_IF_ERROR(tx.PutMeta(kCertKey, Base64Encode(root.der)));
    RETURN_IF_ERROR(tx.PutMeta(kProfileKey, profile));
    RETURN_IF_ERROR(tx.PutMeta(kCrlNumberKey, "0"));
    std::vector<std::string> names;
    for (const auto& c : custodians) names.push_back(c.name);
    RETURN_IF_ERROR(log.Append(
        tx,
        Event{"ca.init",
              {{"actor", std::string(actor)},
               {"subject", FormatName(subject)},
               {"algorithm", std::string(crypto::KeyAlgorithmName(alg))},
               {"threshold", int64_t{k}},
               {"custodians", absl::StrJoin(names, ",")},
               {"share_set", custody.custody.set_id},
               {"printed_shares", absl::StrJoin(printed, ",")},
               {"certificate_sha256", HexEncode(crypto::Sha256(root.der))}}}));
    return absl::StrCat("CA ", FormatName(subject),
                        " initialised; its KEK is split ", k, "-of-",
                        names.size(), " among ", absl::StrJoin(names, ", "));
  };
  ceremonies.Register(std::move(spec));

  ceremony::OperationSpec rekey;
  rekey.name = "ca.rekey";
  rekey.summary =
      "re-split the CA KEK among the active operators (quorum as threshold); "
      "execute with "
      "k current shares: ceremony execute --id ID --share F --share F";
  rekey.validate = [](const ceremony::Params&) { return absl::OkStatus(); };
  rekey.execute_with_inputs =
      [&log, &tokens](storage::Transaction& tx, const ceremony::Params&,
                      absl::string_view actor,
                      const std::vector<SecretBytes>& inputs,
                      std::map<std::string, SecretBytes>* outputs)
      -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(ceremony::Custody current,
                     ceremony::LoadCustody(tx, kCustodyKey));
    ASSIGN_OR_RETURN(std::vector<ceremony::Share> shares,
                     DecodeShares(inputs, &current));
    ASSIGN_OR_RETURN(auto ops, tx.ListOperators());
    std::vector<storage::OperatorRecord> custodians;
    for (auto& op : ops) {
      if (op.active) custodians.push_back(std::move(op));
    }
    ASSIGN_OR_RETURN(std::optional<std::string> k_text,
                     tx.GetMeta("ceremony.quorum"));
    int k = 2;
    if (k_text && !absl::SimpleAtoi(*k_text, &k))
      return absl::DataLossError("bad quorum");
    // The backup token's copy is re-sealed under the new KEK too, or the old
    // shares would still open it.
    ASSIGN_OR_RETURN(std::optional<TokenRef> ref, LoadTokenRef(tx));
    std::unique_ptr<hsm::KeyStore> token;
    std::vector<ceremony::Custody> companions;
    if (ref) {
      ASSIGN_OR_RETURN(token, tokens.Open(ref->module, ref->token));
      ASSIGN_OR_RETURN(TokenCopy copy, ReadTokenCopy(*token, ref->token));
      companions.push_back(std::move(copy.custody));
    }
    ASSIGN_OR_RETURN(ceremony::NewCustody next,
                     ceremony::Reshare(current, shares, custodians, k,
                                       ref ? &companions : nullptr));
    if (!next.text_shares.empty()) {
      if (outputs == nullptr) {
        return absl::FailedPreconditionError(
            "some custodians have no P-256 key, so their shares are printed: "
            "execute with "
            "--share-dir DIR");
      }
      for (auto& [who, text] : next.text_shares)
        (*outputs)[who] = std::move(text);
    }
    RETURN_IF_ERROR(ceremony::SaveCustody(tx, kCustodyKey, next.custody));
    std::vector<std::string> names;
    for (const auto& c : custodians) names.push_back(c.name);
    std::string record, record_sha256;
    if (ref) {
      ASSIGN_OR_RETURN(record, TokenBundle(tx, companions[0]));
      record_sha256 = HexEncode(crypto::Sha256(record));
      RETURN_IF_ERROR(
          SaveTokenRef(tx, *ref, record_sha256, next.custody.set_id));
    }
    RETURN_IF_ERROR(
        log.Append(tx, Event{"ca.rekey",
                             {{"actor", std::string(actor)},
                              {"old_share_set", current.set_id},
                              {"share_set", next.custody.set_id},
                              {"threshold", int64_t{k}},
                              {"custodians", absl::StrJoin(names, ",")},
                              {"backup_token", ref ? ref->token : ""},
                              {"backup_record_sha256", record_sha256}}}));
    // Last, just before the commit: the token cannot roll back.
    if (ref) RETURN_IF_ERROR(token->PutRecord(kBackupRecordLabel, record));
    return absl::StrCat("CA KEK re-split ", k, "-of-", names.size(), " among ",
                        absl::StrJoin(names, ", "), "; the shares of set ",
                        current.set_id, " are void");
  };
  ceremonies.Register(std::move(rekey));

  ceremony::OperationSpec import_op;
  import_op.name = "ca.import";
  import_op.summary =
      "install the CA certificate an external root signed for the CSR: "
      "certificate (base64 "
      "DER), chain (optional base64 DER of the root); execute with k shares";
  import_op.validate = [](const ceremony::Params& p) -> absl::Status {
    auto der = Base64Decode(Get(p, "certificate", ""));
    if (!der.ok() || der->empty())
      return absl::InvalidArgumentError("certificate is required");
    return absl::OkStatus();
  };  // namespace inkan::ca
  import_op.execute_with_inputs =
      [&keys, &log, &clock](
          storage::Transaction& tx, const ceremony::Params& p,
          absl::string_view actor, const std::vector<SecretBytes>& inputs,
          std::map<std::string, SecretBytes>*) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(ceremony::Custody c,
                     ceremony::LoadCustody(tx, kCustodyKey));
    ASSIGN_OR_RETURN(std::optional<std::string> existing, tx.GetMeta(kCertKey));
    if (existing)
      return absl::AlreadyExistsError("the CA already has its certificate");
    ASSIGN_OR_RETURN(std::string der, Base64Decode(Get(p, "certificate", "")));
    ASSIGN_OR_RETURN(X509Ptr x509, ParseCert(der, "the certificate"));
    ASSIGN_OR_RETURN(std::string spki_der, SpkiOf(x509.get()));
    if (spki_der != c.public_key_der) {
      return absl::InvalidArgumentError(
          "the certificate is not for this CA's key (its public key differs)");
    }
    if (X509_check_ca(x509.get()) == 0) {
      return absl::InvalidArgumentError(
          "the certificate is not a CA certificate");
    }
    std::string chain_b64 = Get(p, "chain", "");
    if (!chain_b64.empty()) {
      auto chain_der = Base64Decode(chain_b64);
      const auto* r =
          chain_der.ok()
              ? reinterpret_cast<const unsigned char*>(chain_der->data())
              : nullptr;
      std::unique_ptr<X509, void (*)(X509*)> root(
          r == nullptr ? nullptr : d2i_X509(nullptr, &r, chain_der->size()),
          X509_free);
      if (!root || X509_verify(x509.get(), X509_get0_pubkey(root.get())) != 1) {
        ERR_clear_error();
        return absl::InvalidArgumentError(
            "the certificate is not signed by the given chain");
      }
    }
    ASSIGN_OR_RETURN(std::vector<ceremony::Share> shares,
                     DecodeShares(inputs, nullptr));
    ASSIGN_OR_RETURN(auto key, ceremony::Activate(keys, c, shares));
    KeySigner signer(*key, c.public_key_der);
    // The CA's subject as RFC 4514 text, for the responder's name.
    std::unique_ptr<BIO, void (*)(BIO*)> bio(BIO_new(BIO_s_mem()),
                                             BIO_free_all);
    X509_NAME_print_ex(bio.get(), X509_get_subject_name(x509.get()), 0,
                       XN_FLAG_RFC2253);
    char* text = nullptr;
    long text_len = BIO_get_mem_data(bio.get(), &text);
    std::string subject_text(text, text_len);
    ASSIGN_OR_RETURN(Name subject, ParseName(subject_text));
    RETURN_IF_ERROR(
        MakeResponder(tx, keys, der, signer, subject, clock.Now(), 825));
    RETURN_IF_ERROR(tx.PutMeta(kCertKey, Base64Encode(der)));
    std::string chain = Get(p, "chain", "");
    if (!chain.empty()) RETURN_IF_ERROR(tx.PutMeta("ca.chain", chain));
    RETURN_IF_ERROR(log.Append(
        tx, Event{"ca.import",
                  {{"actor", std::string(actor)},
                   {"subject", subject_text},
                   {"certificate_sha256", HexEncode(crypto::Sha256(der))}}}));
    return absl::StrCat("CA certificate installed: ", subject_text);
  };
  ceremonies.Register(std::move(import_op));

  ceremony::OperationSpec profile_op;
  profile_op.name = "ca.profile";
  profile_op.summary =
      "change the certificate profile: any of ee_days, ocsp_url, crl_url, "
      "ca_issuers_url, "
      "hsm_policy, provisional_policy";
  profile_op.validate = [](const ceremony::Params& p) -> absl::Status {
    if (p.empty())
      return absl::InvalidArgumentError("name at least one profile field");
    for (const Field& f : p) {
      if (f.key != "ee_days" && f.key != "ocsp_url" && f.key != "crl_url" &&
          f.key != "ca_issuers_url" && f.key != "hsm_policy" &&
          f.key != "provisional_policy") {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown profile field '", f.key, "'"));
      }
    }
    return SaveProfile(p).status();
  };
  profile_op.execute =
      [&log](storage::Transaction& tx, const ceremony::Params& p,
             absl::string_view actor) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(CertProfile current, LoadProfile(tx));
    ASSIGN_OR_RETURN(std::optional<std::string> old, tx.GetMeta(kProfileKey));
    ASSIGN_OR_RETURN(std::string next, SaveProfile(p, current));
    RETURN_IF_ERROR(tx.PutMeta(kProfileKey, next));
    RETURN_IF_ERROR(log.Append(tx, Event{"config.change",
                                         {{"actor", std::string(actor)},
                                          {"key", "ca.profile"},
                                          {"old", old.value_or("")},
                                          {"new", next}}}));
    return absl::StrCat("certificate profile is now ", next);
  };
  ceremonies.Register(std::move(profile_op));

  ceremony::OperationSpec restore;
  restore.name = "ca.restore";
  restore.summary =
      "restore the CA from a backup bundle into an instance on the same HSM: "
      "bundle_sha256, "
      "subject, share_set (shown for the approvers); execute with --input the "
      "bundle";
  restore.validate = [](const ceremony::Params& p) -> absl::Status {
    std::string form = Get(p, "form", "bundle");
    if (form == "token") {
      if (Get(p, "token", "").empty() ||
          Get(p, "record_sha256", "").size() != 64) {
        return absl::InvalidArgumentError(
            "restoring from a backup token needs token and record_sha256");
      }
      return absl::OkStatus();
    }
    if (form != "bundle")
      return absl::InvalidArgumentError("form is bundle or token");
    if (Get(p, "bundle_sha256", "").size() != 64) {
      return absl::InvalidArgumentError(
          "bundle_sha256 (64 hex digits) is required");
    }
    return absl::OkStatus();
  };
  restore.execute_with_inputs =
      [&keys, &log, &clock, &tokens](
          storage::Transaction& tx, const ceremony::Params& p,
          absl::string_view actor, const std::vector<SecretBytes>& inputs,
          std::map<std::string, SecretBytes>*) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::optional<std::string> destroyed,
                     tx.GetMeta("ca.destroyed"));
    if (destroyed) {
      return absl::FailedPreconditionError(
          "this instance destroyed its CA; a destroyed CA is not restored");
    }
    if (ceremony::LoadCustody(tx, kCustodyKey).ok()) {
      return absl::AlreadyExistsError("this instance already has a CA");
    }
    if (Get(p, "form", "bundle") == "token") {
      return RestoreFromToken(tx, p, actor, inputs, keys, log, clock, tokens);
    }
    if (inputs.size() != 1)
      return absl::InvalidArgumentError("give exactly one bundle");
    std::string bundle(inputs[0].RevealString());
    std::string digest = HexEncode(crypto::Sha256(bundle));
    if (digest != Get(p, "bundle_sha256", "")) {
      return absl::InvalidArgumentError(
          "this is not the bundle the operators approved");
    }
    ASSIGN_OR_RETURN(auto m, ParseBundle(bundle));
    RETURN_IF_ERROR(tx.PutMeta(kCustodyKey, m["custody"]));
    ASSIGN_OR_RETURN(ceremony::Custody c,
                     ceremony::LoadCustody(tx, kCustodyKey));
    if (c.set_id != Get(p, "share_set", "")) {
      return absl::InvalidArgumentError(
          "the bundle's share set is not the one approved");
    }
    ASSIGN_OR_RETURN(RestoredState st, RestoreBundleState(tx, m, c));
    RETURN_IF_ERROR(tx.PutMeta(kOcspCertKey, m["ocsp_certificate"]));
    RETURN_IF_ERROR(tx.PutMeta(kOcspKeyKey, m["ocsp_key"]));
    RETURN_IF_ERROR(
        log.Append(tx, Event{"ca.restore",
                             {{"actor", std::string(actor)},
                              {"form", "bundle"},
                              {"share_set", c.set_id},
                              {"certificate_sha256",
                               HexEncode(crypto::Sha256(st.certificate_der))},
                              {"bundle_sha256", digest},
                              {"revocations", st.revocations},
                              {"crl_number", st.crl_number}}}));
    return absl::StrCat("CA restored (share set ", c.set_id, ", ",
                        st.revocations, " revocations); activate it with ",
                        c.threshold, " of the original custodians' shares");
  };
  ceremonies.Register(std::move(restore));

  ceremony::OperationSpec destroy;
  destroy.name = "ca.destroy";
  destroy.summary =
      "destroy the CA key: its wrapped blob, the share split and the OCSP "
      "responder key";
  destroy.validate = [](const ceremony::Params&) { return absl::OkStatus(); };
  destroy.execute =
      [&keys, &log, &clock, &tokens](
          storage::Transaction& tx, const ceremony::Params&,
          absl::string_view actor) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(ceremony::Custody c,
                     ceremony::LoadCustody(tx, kCustodyKey));
    ASSIGN_OR_RETURN(std::optional<std::string> ocsp, tx.GetMeta(kOcspKeyKey));
    ASSIGN_OR_RETURN(std::optional<TokenRef> ref, LoadTokenRef(tx));
    std::unique_ptr<hsm::KeyStore> token;
    if (ref) {
      ASSIGN_OR_RETURN(token, tokens.Open(ref->module, ref->token));
    }
    std::vector<std::string> custodians;
    for (const auto& s : c.shares) custodians.push_back(s.custodian);
    std::string when = FormatRfc3339(clock.Now());
    // Tombstones replace the blobs: the wrapped CA key and the responder key
    // are gone from the live database, and the split's shares match nothing.
    ASSIGN_OR_RETURN(std::string tomb,
                     audit::CanonicalObject(std::vector<Field>{
                         {"destroyed", when},
                         {"share_set", c.set_id},
                         {"custodians", absl::StrJoin(custodians, ",")}}));
    RETURN_IF_ERROR(tx.PutMeta(kCustodyKey, tomb));
    RETURN_IF_ERROR(tx.PutMeta(kOcspKeyKey, ""));
    RETURN_IF_ERROR(tx.PutMeta("ca.destroyed", tomb));
    RETURN_IF_ERROR(tx.PutMeta(kBackupTokenKey, ""));
    // The HSM objects: the CA KEK here — which voids every wrapped copy, even
    // in old database backups — and on the backup token its record and CA
    // KEK. They cannot roll back; if the commit fails after this, the
    // ceremony stays open and running it again finishes the job.
    int64_t hsm_removed = 0, backups_removed = 0;
    if (token) {
      ASSIGN_OR_RETURN(int removed, token->RemoveRecord(kBackupRecordLabel));
      backups_removed += removed;
      ASSIGN_OR_RETURN(removed, token->DestroyCaKek());
      hsm_removed += removed;
    }
    ASSIGN_OR_RETURN(int removed, keys.DestroyCaKek());
    hsm_removed += removed;
    RETURN_IF_ERROR(log.Append(
        tx,
        Event{
            "ca.destroy",
            {{"actor", std::string(actor)},
             {"wrapped_ca_key_sha256", HexEncode(crypto::Sha256(c.wrapped))},
             {"ca_public_key_sha256",
              HexEncode(crypto::Sha256(c.public_key_der))},
             {"share_set_voided", c.set_id},
             {"custodians", absl::StrJoin(custodians, ",")},
             {"ocsp_responder_key_removed", ocsp.has_value() && !ocsp->empty()},
             {"hsm_objects_removed", hsm_removed},
             {"backup_token", ref ? ref->token : ""},
             {"backups_removed", backups_removed}}}));
    return absl::StrCat("CA key destroyed: wrapped key and share set ",
                        c.set_id, " removed; custodians ",
                        absl::StrJoin(custodians, ", "),
                        " should now acknowledge (inkan ca destroy-ack)");
  };
  ceremonies.Register(std::move(destroy));
  RegisterBackupOperation(ceremonies, keys, log, tokens);
}

absl::StatusOr<std::string> ReadBackupTokenRecord(
    const hsm::TokenAccess& tokens, absl::string_view module,
    absl::string_view label) {
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::KeyStore> token,
                   tokens.Open(module, label));
  ASSIGN_OR_RETURN(TokenCopy copy, ReadTokenCopy(*token, label));
  return copy.bundle;
}

absl::StatusOr<std::string> Authority::BackupBundle(absl::string_view actor) {
  std::string bundle;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(ceremony::Custody c,
                         ceremony::LoadCustody(tx, kCustodyKey));
        ASSIGN_OR_RETURN(std::optional<std::string> custody,
                         tx.GetMeta(kCustodyKey));
        ASSIGN_OR_RETURN(bundle, MakeBundle(tx, custody.value_or("")));
        return log_.Append(
            tx, Event{"ca.backup",
                      {{"actor", std::string(actor)},
                       {"form", "shares"},
                       {"share_set", c.set_id},
                       {"bundle_sha256", HexEncode(crypto::Sha256(bundle))}}});
      }));
  return bundle;
}

absl::StatusOr<std::string> Authority::DestructionMessage() {
  std::string set_id;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> tomb,
                         tx.GetMeta("ca.destroyed"));
        if (!tomb)
          return absl::FailedPreconditionError("no CA key was destroyed");
        ASSIGN_OR_RETURN(auto fields, audit::ParseFlatObject(*tomb));
        for (const auto& f : fields) {
          if (f.key == "share_set") set_id = std::get<std::string>(f.value);
        }
        return absl::OkStatus();
      }));
  return absl::StrCat("inkan.ca.destroyed.v1:", set_id);
}

absl::Status Authority::AcknowledgeDestruction(absl::string_view custodian,
                                               absl::string_view signature) {
  ASSIGN_OR_RETURN(std::string message, DestructionMessage());
  return audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> tomb,
                         tx.GetMeta("ca.destroyed"));
        ASSIGN_OR_RETURN(auto fields,
                         audit::ParseFlatObject(tomb.value_or("{}")));
        std::string custodians;
        for (const auto& f : fields) {
          if (f.key == "custodians")
            custodians = std::get<std::string>(f.value);
        }
        std::vector<std::string> names = absl::StrSplit(custodians, ',');
        if (std::find(names.begin(), names.end(), custodian) == names.end()) {
          return absl::PermissionDeniedError(absl::StrCat(
              custodian, " was not a custodian of the destroyed key"));
        }
        auto op = tx.GetOperator(custodian);
        if (!op.ok())
          return absl::PermissionDeniedError(
              absl::StrCat(custodian, " is unknown"));
        RETURN_IF_ERROR(ceremony::VerifyOperatorSignature(op->public_key,
                                                          message, signature));
        return log_.Append(tx, Event{"ca.destroy.ack",
                                     {{"custodian", std::string(custodian)},
                                      {"message", message}}});
      });
}

absl::StatusOr<CaStatus> Authority::Status() {
  CaStatus s;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        auto custody = ceremony::LoadCustody(tx, kCustodyKey);
        if (absl::IsNotFound(custody.status())) return absl::OkStatus();
        RETURN_IF_ERROR(custody.status());
        s.initialised = true;
        s.algorithm = std::string(crypto::KeyAlgorithmName(custody->alg));
        s.threshold = custody->threshold;
        for (const auto& cs : custody->shares)
          s.custodians.push_back(cs.custodian);
        auto der = LoadCaCert(tx);
        if (der.ok()) s.certificate_sha256 = HexEncode(crypto::Sha256(*der));
        ASSIGN_OR_RETURN(std::optional<std::string> ocsp,
                         tx.GetMeta(kOcspCertKey));
        if (ocsp) {
          auto ocsp_der = Base64Decode(*ocsp);
          if (ocsp_der.ok()) {
            s.responder_not_after = NotAfterOf(*ocsp_der);
            s.responder_sha256 = HexEncode(crypto::Sha256(*ocsp_der));
          }
        }
        ASSIGN_OR_RETURN(std::optional<std::string> n,
                         tx.GetMeta(kCrlNumberKey));
        if (n) (void)absl::SimpleAtoi(*n, &s.crl_number);
        return absl::OkStatus();
      }));
  return s;
}

absl::StatusOr<std::string> Authority::CaCertificate() {
  std::string der;
  RETURN_IF_ERROR(store_.Transact(storage::TxMode::kReadOnly,
                                  [&](storage::Transaction& tx) {
                                    ASSIGN_OR_RETURN(der, LoadCaCert(tx));
                                    return absl::OkStatus();
                                  }));
  return der;
}

absl::StatusOr<std::string> Authority::Csr() {
  std::string der;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> b64, tx.GetMeta("ca.csr"));
        if (!b64)
          return absl::NotFoundError("no CSR: ca.init was not run in csr mode");
        ASSIGN_OR_RETURN(der, Base64Decode(*b64));
        return absl::OkStatus();
      }));
  return der;
}

absl::StatusOr<std::string> Authority::SealedShareFor(
    absl::string_view custodian) {
  std::string sealed;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(ceremony::Custody c,
                         ceremony::LoadCustody(tx, kCustodyKey));
        for (const auto& cs : c.shares) {
          if (cs.custodian == custodian) {
            if (cs.sealed.empty()) {
              return absl::FailedPreconditionError(absl::StrCat(
                  custodian,
                  "'s share was printed at the ceremony; inkan keeps no copy"));
            }
            sealed = cs.sealed;
            return absl::OkStatus();
          }
        }
        return absl::NotFoundError(
            absl::StrCat(custodian, " holds no share of the CA key"));
      }));
  return sealed;
}

namespace {

absl::StatusOr<ceremony::Custody> LoadLiveCustody(storage::Store& store) {
  ceremony::Custody custody;
  RETURN_IF_ERROR(
      store.Transact(storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        auto c = ceremony::LoadCustody(tx, kCustodyKey);
        if (absl::IsNotFound(c.status())) {
          ASSIGN_OR_RETURN(std::optional<std::string> tomb,
                           tx.GetMeta("ca.destroyed"));
          return absl::FailedPreconditionError(
              tomb
                  ? std::string(c.status().message())
                  : "the CA is not initialised (propose the ca.init ceremony)");
        }
        RETURN_IF_ERROR(c.status());
        custody = *std::move(c);
        return absl::OkStatus();
      }));
  return custody;
}

}  // namespace

absl::StatusOr<Authority::ShareCheck> Authority::CheckShareText(
    const SecretBytes& share_text) {
  ASSIGN_OR_RETURN(ceremony::Custody custody, LoadLiveCustody(store_));
  ASSIGN_OR_RETURN(ceremony::Share share, ceremony::DecodeShare(share_text));
  RETURN_IF_ERROR(ceremony::CheckShare(custody, share));
  ShareCheck out;
  out.index = share.index;
  out.threshold = custody.threshold;
  for (const auto& cs : custody.shares) {
    if (cs.index == share.index) out.custodian = cs.custodian;
  }
  return out;
}

absl::Status Authority::RecordEvent(const audit::Event& event) {
  return audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
    return log_.Append(tx, event);
  });
}

absl::Status Authority::Deactivate(absl::string_view actor,
                                   absl::string_view reason) {
  bool was_active = active_ != nullptr;
  absl::Time until = active_until_;
  Deactivate();
  if (!was_active) return absl::OkStatus();
  return audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
    return log_.Append(tx, Event{"ca.deactivate",
                                 {{"actor", std::string(actor)},
                                  {"reason", std::string(reason)},
                                  {"window_end", FormatRfc3339(until)}}});
  });
}

absl::Status Authority::Activate(const std::vector<SecretBytes>& share_texts,
                                 absl::string_view actor, absl::Time until) {
  ASSIGN_OR_RETURN(ceremony::Custody custody, LoadLiveCustody(store_));
  std::vector<ceremony::Share> shares;
  std::vector<std::string> indexes;
  absl::Status outcome;
  for (const SecretBytes& text : share_texts) {
    auto share = ceremony::DecodeShare(text);
    if (!share.ok()) {
      outcome = share.status();
      break;
    }
    if (outcome = ceremony::CheckShare(custody, *share); !outcome.ok()) break;
    indexes.push_back(absl::StrCat(int{share->index}));
    shares.push_back(*std::move(share));
  }
  std::unique_ptr<hsm::ActiveKey> key;
  if (outcome.ok()) {
    auto activated = ceremony::Activate(keys_, custody, shares);
    if (activated.ok()) {
      key = *std::move(activated);
    } else {
      outcome = activated.status();
    }
  }
  RETURN_IF_ERROR(
      audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
        return log_.Append(
            tx, outcome.ok()
                    ? Event{"ca.activate",
                            {{"actor", std::string(actor)},
                             {"shares", absl::StrJoin(indexes, ",")},
                             {"until", until == absl::InfiniteFuture()
                                           ? std::string("this process ends")
                                           : FormatRfc3339(until)}}}
                    : Event{"ca.activate.refused",
                            {{"actor", std::string(actor)},
                             {"reason", std::string(outcome.message())}}});
      }));
  RETURN_IF_ERROR(outcome);
  active_ = std::move(key);
  signer_ = ActiveKeySigner(*active_, custody.public_key_der);
  active_until_ = until;
  return absl::OkStatus();
}

absl::StatusOr<storage::CertificateRecord> Authority::IssueForCredential(
    absl::string_view credential_id, absl::string_view subject,
    absl::string_view actor) {
  RETURN_IF_ERROR(CheckActive());
  storage::CertificateRecord rec;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(storage::CredentialRecord cred,
                         tx.GetCredential(credential_id));
        ASSIGN_OR_RETURN(
            std::optional<std::string> awaiting,
            tx.GetMeta(storage::CredentialAwaitingReceiptKey(cred.id)));
        if (awaiting && !awaiting->empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "credential ", cred.id, " waits for its owner's receipt (",
              "enrollment ", *awaiting,
              "): no certificate before it is confirmed"));
        }
        ASSIGN_OR_RETURN(std::optional<std::string> custody,
                         tx.GetMeta(storage::CredentialCustodyKey(cred.id)));
        ASSIGN_OR_RETURN(storage::UserRecord user,
                         tx.GetUserById(cred.user_id));
        ASSIGN_OR_RETURN(std::string ca_der, LoadCaCert(tx));
        ASSIGN_OR_RETURN(CertProfile profile, LoadProfile(tx));
        ASSIGN_OR_RETURN(
            Name name,
            ParseName(subject.empty() ? absl::StrCat("CN=", user.name)
                                      : std::string(subject)));
        absl::Time now = clock_.Now();
        Validity v =
            ClampToCa(ca_der, {now - absl::Minutes(1),
                               now - absl::Minutes(1) + profile.max_validity});
        IssueRequest req{
            name, cred.public_key, v.not_before, v.not_after,
            custody && *custody == "user" ? KeyProtection::kUserHeld
            : cred.backend == "software"  ? KeyProtection::kProvisionalSoftware
                                          : KeyProtection::kHsm};
        ASSIGN_OR_RETURN(
            IssuedCertificate issued,
            IssueCertificate(profile, req, CaContext{ca_der, *signer_}));
        rec = {issued.serial_hex,
               cred.id,
               FormatName(name),
               issued.der,
               req.not_before,
               req.not_after,
               now};
        RETURN_IF_ERROR(tx.InsertCertificate(rec));
        return log_.Append(
            tx, Event{"cert.issue",
                      {{"actor", std::string(actor)},
                       {"serial", rec.serial_hex},
                       {"credential", cred.id},
                       {"subject", rec.subject},
                       {"provisional", cred.backend == "software"}}});
      }));
  return rec;
}

absl::Status Authority::CheckActive() {
  if (active()) return absl::OkStatus();
  if (active_ != nullptr) {
    absl::Time until = active_until_;
    // The window ended: the key object goes now.
    RETURN_IF_ERROR(Deactivate("service", "the activation window ended"));
    return absl::FailedPreconditionError(absl::StrCat(
        "the CA key's activation window ended at ", FormatRfc3339(until)));
  }
  return absl::FailedPreconditionError("the CA key is not active");
}

absl::StatusOr<std::string> Authority::CrlInTx(storage::Transaction& tx,
                                               absl::string_view actor) {
  ASSIGN_OR_RETURN(std::string ca_der, LoadCaCert(tx));
  ASSIGN_OR_RETURN(std::optional<std::string> n_text,
                   tx.GetMeta(kCrlNumberKey));
  int64_t n = 0;
  if (n_text && !absl::SimpleAtoi(*n_text, &n))
    return absl::DataLossError("bad CRL number");
  ++n;
  ASSIGN_OR_RETURN(auto revoked, tx.ListRevokedCertificates());
  std::vector<RevokedEntry> entries;
  for (const auto& r : revoked) {
    entries.push_back(
        {r.serial_hex, r.revoked_at, static_cast<CrlReason>(r.reason)});
  }
  absl::Time now = clock_.Now();
  ASSIGN_OR_RETURN(std::string crl,
                   inkan::ca::IssueCrl(CaContext{ca_der, *signer_}, n, now,
                                       now + absl::Hours(24 * 7), entries));
  RETURN_IF_ERROR(tx.PutMeta(kCrlNumberKey, absl::StrCat(n)));
  RETURN_IF_ERROR(tx.PutMeta(kCrlKey, Base64Encode(crl)));
  RETURN_IF_ERROR(log_.Append(
      tx, Event{"crl.issue",
                {{"actor", std::string(actor)},
                 {"number", n},
                 {"revoked", static_cast<int64_t>(entries.size())}}}));
  return crl;
}

absl::Status Authority::Revoke(absl::string_view serial_hex, CrlReason reason,
                               absl::string_view actor) {
  RETURN_IF_ERROR(CheckActive());
  RETURN_IF_ERROR(CheckCrlReason(reason));
  return audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.RevokeCertificate(serial_hex, clock_.Now(),
                                             static_cast<int>(reason)));
        RETURN_IF_ERROR(log_.Append(
            tx, Event{"cert.revoke",
                      {{"actor", std::string(actor)},
                       {"serial", std::string(serial_hex)},
                       {"reason", int64_t{static_cast<int>(reason)}}}}));
        return CrlInTx(tx, actor).status();  // a fresh CRL on each revocation
      });
}

absl::StatusOr<storage::CertificateRecord> Authority::IssueServiceCertificate(
    absl::string_view subject_text, absl::string_view public_key_der,
    const ServiceIssuer& issue, audit::Event event) {
  RETURN_IF_ERROR(CheckActive());
  storage::CertificateRecord rec;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::string ca_der, LoadCaCert(tx));
        ASSIGN_OR_RETURN(CertProfile profile, LoadProfile(tx));
        ASSIGN_OR_RETURN(Name subject, ParseName(subject_text));
        absl::Time now = clock_.Now();
        Validity validity = ClampToCa(
            ca_der,
            {now - absl::Minutes(1),
             now + std::min(absl::Hours(24 * 397), profile.max_validity) -
                 absl::Minutes(2)});
        ASSIGN_OR_RETURN(
            IssuedCertificate cert,
            issue(profile, subject, validity, CaContext{ca_der, *signer_}));
        rec.serial_hex = cert.serial_hex;
        rec.subject = FormatName(subject);
        rec.der = cert.der;
        rec.not_before = validity.not_before;
        rec.not_after = validity.not_after;
        rec.issued = now;
        RETURN_IF_ERROR(tx.InsertCertificate(rec));
        event.data.push_back({"serial", rec.serial_hex});
        event.data.push_back({"not_after", FormatRfc3339(rec.not_after)});
        event.data.push_back(
            {"public_key_sha256", HexEncode(crypto::Sha256(public_key_der))});
        return log_.Append(tx, event);
      }));
  return rec;
}

absl::StatusOr<storage::CertificateRecord> Authority::IssueTlsCertificate(
    absl::string_view public_key_der, const std::vector<std::string>& names,
    absl::string_view actor) {
  return IssueServiceCertificate(
      absl::StrCat("CN=", names.empty() ? std::string("inkan") : names[0]),
      public_key_der,
      [&](const CertProfile& profile, const Name& subject,
          const Validity& validity, const CaContext& ca) {
        return IssueTlsServerCertificate(profile, subject, public_key_der,
                                         names, validity, ca);
      },
      audit::Event{"cert.issue.tls",
                   {{"actor", std::string(actor)},
                    {"names", absl::StrJoin(names, ",")}}});
}

absl::StatusOr<storage::CertificateRecord> Authority::IssueTransportCertificate(
    absl::string_view public_key_der, absl::string_view actor) {
  return IssueServiceCertificate(
      "CN=inkan enrollment transport key", public_key_der,
      [&](const CertProfile& profile, const Name& subject,
          const Validity& validity, const CaContext& ca) {
        return IssueKeyTransportCertificate(profile, subject, public_key_der,
                                            validity, ca);
      },
      audit::Event{"cert.issue.transport", {{"actor", std::string(actor)}}});
}

absl::StatusOr<std::string> Authority::RenewResponder(absl::string_view actor) {
  RETURN_IF_ERROR(CheckActive());
  std::string out;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::string ca_der, LoadCaCert(tx));
        ASSIGN_OR_RETURN(std::optional<std::string> old,
                         tx.GetMeta(kOcspCertKey));
        ASSIGN_OR_RETURN(Name subject, SubjectOf(ca_der));
        RETURN_IF_ERROR(MakeResponder(tx, keys_, ca_der, *signer_, subject,
                                      clock_.Now(), kResponderDays));
        ASSIGN_OR_RETURN(std::optional<std::string> fresh,
                         tx.GetMeta(kOcspCertKey));
        ASSIGN_OR_RETURN(out, Base64Decode(fresh.value_or("")));
        auto old_der = Base64Decode(old.value_or(""));
        return log_.Append(
            tx, Event{"ca.responder.renew",
                      {{"actor", std::string(actor)},
                       {"old_certificate_sha256",
                        old_der.ok() && !old_der->empty()
                            ? HexEncode(crypto::Sha256(*old_der))
                            : ""},
                       {"certificate_sha256", HexEncode(crypto::Sha256(out))},
                       {"not_after", FormatRfc3339(NotAfterOf(out))}}});
      }));
  return out;
}

absl::StatusOr<std::string> Authority::IssueCrl(absl::string_view actor) {
  RETURN_IF_ERROR(CheckActive());
  std::string crl;
  RETURN_IF_ERROR(
      audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(crl, CrlInTx(tx, actor));
        return absl::OkStatus();
      }));
  return crl;
}

absl::StatusOr<std::unique_ptr<OcspService>> OcspService::Open(
    storage::Store& store, hsm::KeyStore& keys, const Clock& clock) {
  std::unique_ptr<OcspService> svc(new OcspService(store, clock));
  std::string wrapped_b64, cert_b64;
  RETURN_IF_ERROR(store.Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(svc->ca_der_, LoadCaCert(tx));
        ASSIGN_OR_RETURN(std::optional<std::string> k, tx.GetMeta(kOcspKeyKey));
        ASSIGN_OR_RETURN(std::optional<std::string> c,
                         tx.GetMeta(kOcspCertKey));
        if (!k || !c || k->empty()) {
          return absl::FailedPreconditionError(
              "the CA has no OCSP responder (not made, or destroyed)");
        }
        wrapped_b64 = *k;
        cert_b64 = *c;
        return absl::OkStatus();
      }));
  auto wrapped = Base64Decode(wrapped_b64);
  auto cert = Base64Decode(cert_b64);
  if (!wrapped.ok() || !cert.ok())
    return absl::DataLossError("OCSP responder is malformed");
  svc->responder_der_ = *cert;
  ASSIGN_OR_RETURN(svc->key_, keys.Activate(crypto::KeyAlgorithm::kEcP256,
                                            SecretBytes(*wrapped)));
  // The responder's public key, from its certificate.
  auto x509 = ParseCert(*cert, "the OCSP responder certificate");
  if (!x509.ok()) return absl::DataLossError(x509.status().message());
  ASSIGN_OR_RETURN(std::string spki_der, SpkiOf(x509->get()));
  svc->signer_ = ActiveKeySigner(*svc->key_, spki_der);
  return svc;
}

namespace {

// The latest CRL the CA signed, if it verifies with the CA certificate: a
// database writer can edit the certificates table, not a signed CRL.
std::unique_ptr<X509_CRL, void (*)(X509_CRL*)> SignedCrl(
    storage::Transaction& tx, const std::string& ca_der) {
  std::unique_ptr<X509_CRL, void (*)(X509_CRL*)> none(nullptr, X509_CRL_free);
  auto b64 = tx.GetMeta(kCrlKey);
  if (!b64.ok() || !b64->has_value()) return none;
  auto der = Base64Decode(**b64);
  if (!der.ok()) return none;
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  std::unique_ptr<X509_CRL, void (*)(X509_CRL*)> crl(
      d2i_X509_CRL(nullptr, &p, der->size()), X509_CRL_free);
  const auto* c = reinterpret_cast<const unsigned char*>(ca_der.data());
  std::unique_ptr<X509, void (*)(X509*)> ca(
      d2i_X509(nullptr, &c, ca_der.size()), X509_free);
  if (!crl || !ca ||
      X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) != 1) {
    ERR_clear_error();
    return none;
  }
  return crl;
}

// If `serial_hex` is on the signed CRL: its revocation time.
std::optional<absl::Time> OnCrl(X509_CRL* crl, const std::string& serial_hex) {
  if (crl == nullptr) return std::nullopt;
  BIGNUM* bn = nullptr;
  if (BN_hex2bn(&bn, serial_hex.c_str()) == 0) return std::nullopt;
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, nullptr);
  BN_free(bn);
  X509_REVOKED* entry = nullptr;
  int found = X509_CRL_get0_by_serial(crl, &entry, serial);
  ASN1_INTEGER_free(serial);
  if (found != 1 || entry == nullptr) return std::nullopt;
  struct tm tm = {};
  if (ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(entry), &tm) != 1)
    return absl::Now();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

}  // namespace

std::string OcspService::Answer(absl::string_view request_der) {
  auto req = ParseOcspRequest(request_der);
  if (!req.ok()) return OcspErrorResponse(OcspErrorStatus::kMalformedRequest);
  absl::Time now = clock_.Now();
  std::vector<SingleAnswer> answers;
  absl::Status st =
      store_.Transact(storage::TxMode::kReadOnly,
                      [&](storage::Transaction& tx) -> absl::Status {
                        auto crl = SignedCrl(tx, ca_der_);
                        for (const CertId& id : req->cert_ids) {
                          SingleAnswer a{id, CertStatus::kUnknown};
                          a.this_update = now;
                          a.next_update = now + absl::Hours(24);
                          // A CertID for another issuer, or hashed in a way we
                          // do not support, is answered "unknown".
                          auto ours = CertIdMatchesIssuer(id, ca_der_);
                          if (ours.ok() && *ours) {
                            auto cert = tx.GetCertificate(id.serial_hex);
                            if (cert.ok()) {
                              a.status = cert->revoked ? CertStatus::kRevoked
                                                       : CertStatus::kGood;
                              a.revocation_time = cert->revoked_at;
                              a.reason = static_cast<CrlReason>(cert->reason);
                            } else if (!absl::IsNotFound(cert.status())) {
                              return cert.status();
                            }
                            // Never "good" for a serial the CA's own signed CRL
                            // revokes.
                            if (a.status != CertStatus::kRevoked) {
                              if (auto when = OnCrl(crl.get(), id.serial_hex)) {
                                a.status = CertStatus::kRevoked;
                                a.revocation_time = *when;
                                a.reason = CrlReason::kUnspecified;
                              }
                            }
                          }
                          answers.push_back(a);
                        }
                        return absl::OkStatus();
                      });
  if (!st.ok()) return OcspErrorResponse(OcspErrorStatus::kInternalError);
  auto resp = BuildOcspResponse(OcspResponder{responder_der_, *signer_},
                                answers, req->nonce, now);
  if (!resp.ok()) return OcspErrorResponse(OcspErrorStatus::kInternalError);
  return *resp;
}

}  // namespace inkan::ca
