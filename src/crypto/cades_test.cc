#include "crypto/cades.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypto/digest.h"
#include "crypto/software_signer.h"
#include "crypto/ssl_ptr.h"

namespace inkan::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using X509Ptr = std::unique_ptr<X509, SslDeleter<X509, X509_free>>;
using CmsPtr =
    std::unique_ptr<CMS_ContentInfo,
                    SslDeleter<CMS_ContentInfo, CMS_ContentInfo_free>>;
using StorePtr =
    std::unique_ptr<X509_STORE, SslDeleter<X509_STORE, X509_STORE_free>>;
using AnyStackPtr =
    std::unique_ptr<ASN1_SEQUENCE_ANY, void (*)(ASN1_SEQUENCE_ANY*)>;
using PssParamsPtr =
    std::unique_ptr<RSA_PSS_PARAMS,
                    SslDeleter<RSA_PSS_PARAMS, RSA_PSS_PARAMS_free>>;

// --- Keys and certificates made with OpenSSL directly. ---

struct TestKey {
  std::unique_ptr<SoftwarePrivateKey> signer;  // the "remote" signer
  EvpPkeyPtr pkey;                             // the same key for OpenSSL
};

TestKey NewKey(KeyAlgorithm alg) {
  auto pkcs8 = GenerateSoftwareKey(alg);
  if (!pkcs8.ok()) ADD_FAILURE() << pkcs8.status();
  TestKey key;
  auto signer = ParseSoftwarePrivateKey(*pkcs8, alg);
  if (!signer.ok()) ADD_FAILURE() << signer.status();
  key.signer = *std::move(signer);
  const auto* p = pkcs8->Reveal().data();
  key.pkey.reset(d2i_AutoPrivateKey(nullptr, &p, pkcs8->size()));
  if (!key.pkey) ADD_FAILURE() << "d2i_AutoPrivateKey";
  return key;
}

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << SslErrorString();
  ASSERT_EQ(X509_add_ext(cert, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

// A certificate for `subject_key`, valid from an hour ago for a day, signed
// by issuer_key (self-signed when issuer is null).
X509Ptr MakeCert(EVP_PKEY* subject_key, const char* cn, long serial, bool ca,
                 X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("inkan"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(),
                       issuer ? X509_get_subject_name(issuer) : name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), subject_key);
  X509* iss = issuer ? issuer : cert.get();
  AddExt(cert.get(), iss, NID_subject_key_identifier, "hash");
  AddExt(cert.get(), iss, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    AddExt(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert.get(), iss, NID_key_usage,
           "critical,digitalSignature,nonRepudiation");
  }
  EXPECT_GT(X509_sign(cert.get(), issuer_key, EVP_sha256()), 0)
      << SslErrorString();
  return cert;
}

std::string CertDer(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  std::string der(len, '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
}

// --- Files and the openssl command. ---

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/inkan_cades_test_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
    dir_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, absl::string_view content) const {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary)
        .write(content.data(), static_cast<std::streamsize>(content.size()));
    return path;
  }

 private:
  std::string dir_;
};

struct CommandResult {
  int exit_code;
  std::string output;
};

CommandResult RunShell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string OpensslVerify(const std::string& p7s, const std::string& content,
                          const std::string& ca_pem) {
  return "openssl cms -verify -binary -inform DER -in " + p7s + " -content " +
         content + " -CAfile " + ca_pem + " -purpose any -out /dev/null";
}

// --- Reading the result back with OpenSSL. ---

CmsPtr ParseCms(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return CmsPtr(
      d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
}

// CMS_verify of a detached signature over `content` against `ca` only.
bool CmsVerifies(const std::string& p7s, absl::string_view content, X509* ca) {
  CmsPtr cms = ParseCms(p7s);
  if (!cms) return false;
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca);
  BioPtr data(
      BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  bool ok = CMS_verify(cms.get(), nullptr, store.get(), data.get(), nullptr,
                       CMS_BINARY) == 1;
  ERR_clear_error();
  return ok;
}

AnyStackPtr ParseSequence(const unsigned char* der, long len) {
  return AnyStackPtr(
      d2i_ASN1_SEQUENCE_ANY(nullptr, &der, len),
      [](ASN1_SEQUENCE_ANY* s) { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); });
}

std::string ToString(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

// --- Fixtures. ---

struct Case {
  KeyAlgorithm key;
  HashAlgorithm hash;
  RsaPadding padding;
  int signature_nid;
};

class CadesTest : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    ca_key_ = NewKey(KeyAlgorithm::kEcP256);
    ca_ = MakeCert(ca_key_.pkey.get(), "inkan Test CA", 1, true, nullptr,
                   ca_key_.pkey.get());
    ee_key_ = NewKey(GetParam().key);
    ee_ = MakeCert(ee_key_.pkey.get(), "Alice", 4242, false, ca_.get(),
                   ca_key_.pkey.get());
    scheme_ = {GetParam().key, GetParam().hash, GetParam().padding};
  }

  CadesRequest Request(absl::string_view content) const {
    CadesRequest r;
    r.content_digest = Digest(scheme_.hash, content);
    r.scheme = scheme_;
    r.signer_cert_der = CertDer(ee_.get());
    r.chain_der = {CertDer(ca_.get())};
    r.signing_time = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
    return r;
  }

  absl::StatusOr<std::string> Sign(const CadesRequest& request) const {
    auto tbs = PrepareCades(request);
    if (!tbs.ok()) return tbs.status();
    auto sig = ee_key_.signer->Sign(scheme_, tbs->digest_to_sign);
    if (!sig.ok()) return sig.status();
    return FinishCades(*tbs, *sig);
  }

  TestKey ca_key_, ee_key_;
  X509Ptr ca_, ee_;
  SignatureScheme scheme_;
  // Binary content: -binary must keep CR LF and NUL as they are.
  const std::string content_ = std::string("line one\r\nline two\n\0\xff", 22);
};

TEST_P(CadesTest, OpenSslVerifiesInProcessAndOnTheCommandLine) {
  auto p7s = Sign(Request(content_));
  ASSERT_TRUE(p7s.ok()) << p7s.status();

  EXPECT_TRUE(CmsVerifies(*p7s, content_, ca_.get()));
  std::string changed = content_;
  changed[3] ^= 1;
  EXPECT_FALSE(CmsVerifies(*p7s, changed, ca_.get()));

  TempDir dir;
  std::string p7s_path = dir.Write("sig.p7s", *p7s);
  std::string content_path = dir.Write("content.bin", content_);
  std::string changed_path = dir.Write("changed.bin", changed);
  BioPtr pem(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509(pem.get(), ca_.get()), 1);
  char* pem_data;
  long pem_len = BIO_get_mem_data(pem.get(), &pem_data);
  std::string ca_path =
      dir.Write("ca.pem", absl::string_view(pem_data, pem_len));

  CommandResult good = RunShell(OpensslVerify(p7s_path, content_path, ca_path));
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_THAT(good.output, HasSubstr("Verification successful"));
  CommandResult bad = RunShell(OpensslVerify(p7s_path, changed_path, ca_path));
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_THAT(bad.output, Not(HasSubstr("Verification successful")));
}

TEST_P(CadesTest, CarriesTheCadesBaselineStructure) {
  CadesRequest request = Request(content_);
  auto p7s = Sign(request);
  ASSERT_TRUE(p7s.ok()) << p7s.status();
  CmsPtr cms = ParseCms(*p7s);
  ASSERT_NE(cms, nullptr);

  EXPECT_EQ(OBJ_obj2nid(CMS_get0_type(cms.get())), NID_pkcs7_signed);
  EXPECT_EQ(OBJ_obj2nid(CMS_get0_eContentType(cms.get())), NID_pkcs7_data);
  EXPECT_EQ(CMS_is_detached(cms.get()), 1);
  STACK_OF(X509)* certs = CMS_get1_certs(cms.get());
  EXPECT_EQ(sk_X509_num(certs), 2);
  sk_X509_pop_free(certs, X509_free);

  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  ASSERT_EQ(sk_CMS_SignerInfo_num(infos), 1);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
  EXPECT_EQ(CMS_SignerInfo_cert_cmp(si, ee_.get()), 0);  // issuer + serial
  X509_ALGOR* digest_alg;
  X509_ALGOR* sig_alg;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, &sig_alg);
  EXPECT_EQ(OBJ_obj2nid(digest_alg->algorithm),
            EVP_MD_get_type(EvpMd(scheme_.hash)));
  EXPECT_EQ(OBJ_obj2nid(sig_alg->algorithm), GetParam().signature_nid);
  if (GetParam().padding == RsaPadding::kPss) {
    const ASN1_STRING* params;
    int ptype;
    X509_ALGOR_get0(nullptr, &ptype, reinterpret_cast<const void**>(&params),
                    sig_alg);
    ASSERT_EQ(ptype, V_ASN1_SEQUENCE);
    const unsigned char* p = ASN1_STRING_get0_data(params);
    PssParamsPtr pss(
        d2i_RSA_PSS_PARAMS(nullptr, &p, ASN1_STRING_length(params)));
    ASSERT_NE(pss, nullptr);
    ASSERT_NE(pss->hashAlgorithm, nullptr);
    EXPECT_EQ(OBJ_obj2nid(pss->hashAlgorithm->algorithm), NID_sha256);
    ASSERT_NE(pss->maskGenAlgorithm, nullptr);
    EXPECT_EQ(OBJ_obj2nid(pss->maskGenAlgorithm->algorithm), NID_mgf1);
    // maskHash is only a cache; the MGF1 hash is the parameter.
    auto* mgf1_hash = static_cast<X509_ALGOR*>(ASN1_TYPE_unpack_sequence(
        ASN1_ITEM_rptr(X509_ALGOR), pss->maskGenAlgorithm->parameter));
    ASSERT_NE(mgf1_hash, nullptr);
    EXPECT_EQ(OBJ_obj2nid(mgf1_hash->algorithm), NID_sha256);
    X509_ALGOR_free(mgf1_hash);
    ASSERT_NE(pss->saltLength, nullptr);
    EXPECT_EQ(ASN1_INTEGER_get(pss->saltLength), 32);
    EXPECT_EQ(pss->trailerField, nullptr);
  }

  EXPECT_EQ(CMS_signed_get_attr_count(si), 4);
  auto* content_type = static_cast<ASN1_OBJECT*>(CMS_signed_get0_data_by_OBJ(
      si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT));
  ASSERT_NE(content_type, nullptr);
  EXPECT_EQ(OBJ_obj2nid(content_type), NID_pkcs7_data);

  auto* message_digest =
      static_cast<ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
          si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
  ASSERT_NE(message_digest, nullptr);
  EXPECT_EQ(ToString(message_digest), Digest(scheme_.hash, content_));

  auto* signing_time = static_cast<ASN1_TIME*>(CMS_signed_get0_data_by_OBJ(
      si, OBJ_nid2obj(NID_pkcs9_signingTime), -3, V_ASN1_UTCTIME));
  ASSERT_NE(signing_time, nullptr);
  struct tm tm;
  ASSERT_EQ(ASN1_TIME_to_tm(signing_time, &tm), 1);
  EXPECT_EQ(static_cast<int64_t>(timegm(&tm)),
            absl::ToUnixSeconds(request.signing_time));

  // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 }.
  auto* signing_cert = static_cast<ASN1_STRING*>(CMS_signed_get0_data_by_OBJ(
      si, OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2), -3,
      V_ASN1_SEQUENCE));
  ASSERT_NE(signing_cert, nullptr);
  AnyStackPtr outer = ParseSequence(ASN1_STRING_get0_data(signing_cert),
                                    ASN1_STRING_length(signing_cert));
  ASSERT_NE(outer, nullptr);
  ASSERT_EQ(sk_ASN1_TYPE_num(outer.get()), 1);  // no policies
  ASN1_TYPE* cert_ids = sk_ASN1_TYPE_value(outer.get(), 0);
  ASSERT_EQ(cert_ids->type, V_ASN1_SEQUENCE);
  AnyStackPtr ids = ParseSequence(cert_ids->value.sequence->data,
                                  cert_ids->value.sequence->length);
  ASSERT_NE(ids, nullptr);
  ASSERT_EQ(sk_ASN1_TYPE_num(ids.get()), 1);
  ASN1_TYPE* id = sk_ASN1_TYPE_value(ids.get(), 0);
  ASSERT_EQ(id->type, V_ASN1_SEQUENCE);
  AnyStackPtr fields =
      ParseSequence(id->value.sequence->data, id->value.sequence->length);
  ASSERT_NE(fields, nullptr);
  // hashAlgorithm is left out (SHA-256 is the DER default): certHash first.
  ASSERT_EQ(sk_ASN1_TYPE_num(fields.get()), 2);
  ASN1_TYPE* cert_hash = sk_ASN1_TYPE_value(fields.get(), 0);
  ASSERT_EQ(cert_hash->type, V_ASN1_OCTET_STRING);
  EXPECT_EQ(ToString(cert_hash->value.octet_string),
            Sha256(CertDer(ee_.get())));
  ASN1_TYPE* issuer_serial = sk_ASN1_TYPE_value(fields.get(), 1);
  ASSERT_EQ(issuer_serial->type, V_ASN1_SEQUENCE);
  AnyStackPtr is = ParseSequence(issuer_serial->value.sequence->data,
                                 issuer_serial->value.sequence->length);
  ASSERT_NE(is, nullptr);
  ASSERT_EQ(sk_ASN1_TYPE_num(is.get()), 2);
  EXPECT_EQ(sk_ASN1_TYPE_value(is.get(), 0)->type, V_ASN1_SEQUENCE);
  ASN1_TYPE* serial = sk_ASN1_TYPE_value(is.get(), 1);
  ASSERT_EQ(serial->type, V_ASN1_INTEGER);
  EXPECT_EQ(ASN1_INTEGER_get(serial->value.integer), 4242);
}

// OpenSSL verifies the signed attributes in the order received, so DER order
// (X.690 §11.6) is checked here: OpenSSL sorts each SET OF when it encodes.
TEST_P(CadesTest, IsDer) {
  CadesRequest request = Request(content_);
  auto tbs = PrepareCades(request);
  ASSERT_TRUE(tbs.ok()) << tbs.status();
  const std::string& attrs = tbs->signed_attributes_der;
  const auto* p = reinterpret_cast<const unsigned char*>(attrs.data());
  std::unique_ptr<ASN1_SEQUENCE_ANY, void (*)(ASN1_SEQUENCE_ANY*)> set(
      d2i_ASN1_SET_ANY(nullptr, &p, static_cast<long>(attrs.size())),
      [](ASN1_SEQUENCE_ANY* s) { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); });
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(sk_ASN1_TYPE_num(set.get()), 4);
  unsigned char* out = nullptr;
  int len = i2d_ASN1_SET_ANY(set.get(), &out);
  ASSERT_GT(len, 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), len), attrs);
  OPENSSL_free(out);

  auto sig = ee_key_.signer->Sign(scheme_, tbs->digest_to_sign);
  ASSERT_TRUE(sig.ok());
  // The certificates SET OF is sorted too, whatever order it was given in.
  auto p7s = FinishCades(*tbs, *sig);
  ASSERT_TRUE(p7s.ok()) << p7s.status();
  CmsPtr cms = ParseCms(*p7s);
  ASSERT_NE(cms, nullptr);
  out = nullptr;
  len = i2d_CMS_ContentInfo(cms.get(), &out);
  ASSERT_GT(len, 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(out), len), *p7s);
  OPENSSL_free(out);
}

TEST_P(CadesTest, RefusesASignatureThatDoesNotVerify) {
  auto tbs = PrepareCades(Request(content_));
  ASSERT_TRUE(tbs.ok()) << tbs.status();
  ASSERT_EQ(tbs->digest_to_sign,
            Digest(scheme_.hash, tbs->signed_attributes_der));

  // Over other bytes.
  auto other = ee_key_.signer->Sign(scheme_, Digest(scheme_.hash, "other"));
  ASSERT_TRUE(other.ok());
  auto p7s = FinishCades(*tbs, *other);
  EXPECT_EQ(p7s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p7s.status().message(), HasSubstr("does not verify"));

  // By another key of the same kind.
  TestKey stranger = NewKey(scheme_.key);
  auto foreign = stranger.signer->Sign(scheme_, tbs->digest_to_sign);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(FinishCades(*tbs, *foreign).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Altered, and empty.
  auto sig = ee_key_.signer->Sign(scheme_, tbs->digest_to_sign);
  ASSERT_TRUE(sig.ok());
  ASSERT_TRUE(FinishCades(*tbs, *sig).ok());
  std::string flipped = *sig;
  flipped[flipped.size() - 1] ^= 1;
  EXPECT_EQ(FinishCades(*tbs, flipped).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FinishCades(*tbs, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(CadesTest, RefusesToBeSignedDataThatNoLongerMatchesItsRequest) {
  auto tbs = PrepareCades(Request(content_));
  ASSERT_TRUE(tbs.ok()) << tbs.status();
  auto sig = ee_key_.signer->Sign(scheme_, tbs->digest_to_sign);
  ASSERT_TRUE(sig.ok());

  CadesToBeSigned later = *tbs;
  later.request.signing_time += absl::Seconds(1);
  EXPECT_EQ(FinishCades(later, *sig).status().code(),
            absl::StatusCode::kInvalidArgument);
  CadesToBeSigned edited = *tbs;
  edited.signed_attributes_der.back() ^= 1;
  EXPECT_EQ(FinishCades(edited, *sig).status().code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, CadesTest,
    testing::Values(Case{KeyAlgorithm::kEcP256, HashAlgorithm::kSha256,
                         RsaPadding::kPkcs1, NID_ecdsa_with_SHA256},
                    Case{KeyAlgorithm::kEcP384, HashAlgorithm::kSha384,
                         RsaPadding::kPkcs1, NID_ecdsa_with_SHA384},
                    Case{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256,
                         RsaPadding::kPkcs1, NID_sha256WithRSAEncryption},
                    Case{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256,
                         RsaPadding::kPss, NID_rsassaPss}),
    [](const testing::TestParamInfo<Case>& info) {
      std::string name(KeyAlgorithmName(info.param.key));
      name += "_" + std::string(HashAlgorithmName(info.param.hash));
      if (info.param.padding == RsaPadding::kPss) name += "_pss";
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

// --- Refusals that need only one key. ---

class CadesRefusalTest : public testing::Test {
 protected:
  void SetUp() override {
    key_ = NewKey(KeyAlgorithm::kEcP256);
    cert_ =
        MakeCert(key_.pkey.get(), "Alice", 7, false, nullptr, key_.pkey.get());
  }
  CadesRequest Request() const {
    CadesRequest r;
    r.scheme = {KeyAlgorithm::kEcP256, HashAlgorithm::kSha256};
    r.content_digest = Sha256("content");
    r.signer_cert_der = CertDer(cert_.get());
    r.signing_time = absl::FromUnixSeconds(1767225600);  // 2026-01-01
    return r;
  }
  TestKey key_;
  X509Ptr cert_;
};

TEST_F(CadesRefusalTest, RefusesASchemeThatDoesNotMatchTheCertificateKey) {
  CadesRequest r = Request();
  ASSERT_TRUE(PrepareCades(r).ok());
  r.scheme = {KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256, RsaPadding::kPss};
  auto tbs = PrepareCades(r);
  EXPECT_EQ(tbs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tbs.status().message(), HasSubstr("does not match"));
  r.scheme = {KeyAlgorithm::kEcP384, HashAlgorithm::kSha256};
  EXPECT_EQ(PrepareCades(r).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CadesRefusalTest, RefusesADigestOfTheWrongLength) {
  CadesRequest r = Request();
  r.content_digest = Digest(HashAlgorithm::kSha384, "content");
  EXPECT_EQ(PrepareCades(r).status().code(),
            absl::StatusCode::kInvalidArgument);
  r.content_digest = std::string(31, 'x');
  EXPECT_EQ(PrepareCades(r).status().code(),
            absl::StatusCode::kInvalidArgument);
  r.content_digest = "";
  EXPECT_EQ(PrepareCades(r).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CadesRefusalTest, RefusesCertificatesThatDoNotParse) {
  CadesRequest r = Request();
  r.signer_cert_der += "x";  // trailing bytes
  EXPECT_EQ(PrepareCades(r).status().code(),
            absl::StatusCode::kInvalidArgument);
  r = Request();
  r.chain_der = {"not a certificate"};
  EXPECT_EQ(PrepareCades(r).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CadesRefusalTest, RefusesEd25519AsUnimplemented) {
  TestKey ed = NewKey(KeyAlgorithm::kEd25519);
  X509Ptr cert =
      MakeCert(ed.pkey.get(), "Ed", 8, false, nullptr, key_.pkey.get());
  CadesRequest r = Request();
  r.scheme = {KeyAlgorithm::kEd25519, HashAlgorithm::kSha256};
  r.signer_cert_der = CertDer(cert.get());
  EXPECT_EQ(PrepareCades(r).status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(CadesRefusalTest, UsesGeneralizedTimeFrom2050AndDropsDuplicateCerts) {
  CadesRequest r = Request();
  r.signing_time = absl::FromCivil(absl::CivilSecond(2051, 2, 3, 4, 5, 6),
                                   absl::UTCTimeZone()) +
                   absl::Milliseconds(700);
  r.chain_der = {r.signer_cert_der, r.signer_cert_der};
  auto tbs = PrepareCades(r);
  ASSERT_TRUE(tbs.ok()) << tbs.status();
  auto sig = key_.signer->Sign(r.scheme, tbs->digest_to_sign);
  ASSERT_TRUE(sig.ok());
  auto p7s = FinishCades(*tbs, *sig);
  ASSERT_TRUE(p7s.ok()) << p7s.status();

  CmsPtr cms = ParseCms(*p7s);
  ASSERT_NE(cms, nullptr);
  STACK_OF(X509)* certs = CMS_get1_certs(cms.get());
  EXPECT_EQ(sk_X509_num(certs), 1);
  sk_X509_pop_free(certs, X509_free);
  CMS_SignerInfo* si =
      sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  auto* t = static_cast<ASN1_TIME*>(CMS_signed_get0_data_by_OBJ(
      si, OBJ_nid2obj(NID_pkcs9_signingTime), -3, V_ASN1_GENERALIZEDTIME));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(ToString(t), "20510203040506Z");
  EXPECT_TRUE(CmsVerifies(*p7s, "content", cert_.get()));
}

}  // namespace
}  // namespace inkan::crypto
