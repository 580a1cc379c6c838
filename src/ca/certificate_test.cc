#include "ca/certificate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ca/test_util.h"
#include "common/encoding.h"
#include "crypto/ssl_ptr.h"

namespace inkan::ca {
namespace {

using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;
using crypto::RsaPadding;
using crypto::SignatureScheme;
using ::testing::HasSubstr;
using ::testing::Not;

CertProfile TestProfile() {
  CertProfile p;
  p.ocsp_url = "http://ocsp.example.test";
  p.ca_issuers_url = "http://ca.example.test/root.crt";
  p.crl_url = "http://crl.example.test/root.crl";
  return p;
}

IssueRequest RequestFor(const crypto::Signer& key,
                        absl::string_view subject = "CN=Alice,O=Example,C=JP") {
  IssueRequest r;
  r.subject = *ParseName(subject);
  r.subject_public_key_der = key.public_key_der();
  r.not_before = test::Now();
  r.not_after = test::Now() + absl::Hours(24 * 30);
  return r;
}

std::string SchemeName(const ::testing::TestParamInfo<SignatureScheme>& info) {
  std::string name =
      absl::StrCat(crypto::KeyAlgorithmName(info.param.key), "_",
                   crypto::HashAlgorithmName(info.param.hash),
                   info.param.padding == RsaPadding::kPss ? "_pss" : "");
  for (char& c : name) {
    if (!absl::ascii_isalnum(c)) c = '_';
  }
  return name;
}

class CertificateTest : public ::testing::TestWithParam<SignatureScheme> {
 protected:
  void SetUp() override {
    ca_ = test::NewRootCa(GetParam());
    root_pem_ = dir_.WritePem("root.pem", ca_.cert_der);
  }

  test::TestCa ca_;
  test::TempDir dir_;
  std::string root_pem_;
};

TEST_P(CertificateTest, RootIsASelfSignedCaOpenSslAccepts) {
  auto verify =
      test::Run("openssl verify -CAfile " + root_pem_ + " " + root_pem_);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr(": OK"));

  auto text = test::Run("openssl x509 -noout -text -in " + root_pem_);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("Version: 3 (0x2)"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Basic Constraints: critical\n"
                                     "                CA:TRUE"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Key Usage: critical\n"
                                     "                Certificate Sign, CRL "
                                     "Sign"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Subject Key Identifier"));
  EXPECT_THAT(text.output,
              HasSubstr("Subject: C = JP, O = Example, CN = inkan Test Root"));
}

TEST_P(CertificateTest, IssuedCertificateVerifiesAndCarriesTheProfile) {
  auto key = test::NewSigner(KeyAlgorithm::kEcP256);
  auto issued =
      IssueCertificate(TestProfile(), RequestFor(*key), ca_.context());
  ASSERT_TRUE(issued.ok()) << issued.status();
  std::string ee_pem = dir_.WritePem("ee.pem", issued->der);

  auto verify = test::Run("openssl verify -CAfile " + root_pem_ + " " + ee_pem);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("ee.pem: OK"));

  auto text = test::Run("openssl x509 -noout -text -in " + ee_pem);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  const std::string& t = text.output;
  EXPECT_THAT(t, HasSubstr("Subject: C = JP, O = Example, CN = Alice"));
  EXPECT_THAT(t,
              HasSubstr("Issuer: C = JP, O = Example, CN = inkan Test Root"));
  EXPECT_THAT(t, HasSubstr("X509v3 Key Usage: critical\n"
                           "                Digital Signature, Non "
                           "Repudiation"));
  EXPECT_THAT(t, HasSubstr("X509v3 Basic Constraints: critical\n"
                           "                CA:FALSE"));
  EXPECT_THAT(t, HasSubstr("X509v3 Subject Key Identifier"));
  EXPECT_THAT(t, HasSubstr("X509v3 Authority Key Identifier"));
  EXPECT_THAT(t, HasSubstr("Policy: 1.3.6.1.4.1.99999.1.1"));
  EXPECT_THAT(t, HasSubstr("OCSP - URI:http://ocsp.example.test"));
  EXPECT_THAT(t, HasSubstr("CA Issuers - URI:http://ca.example.test/root.crt"));
  EXPECT_THAT(t, HasSubstr("URI:http://crl.example.test/root.crl"));

  // The AKI is the root's SKI.
  auto ski = test::Run("openssl x509 -noout -ext subjectKeyIdentifier -in " +
                       root_pem_);
  auto aki = test::Run("openssl x509 -noout -ext authorityKeyIdentifier -in " +
                       ee_pem);
  std::string root_ski = ski.output.substr(ski.output.find('\n') + 1);
  root_ski = std::string(absl::StripAsciiWhitespace(root_ski));
  ASSERT_FALSE(root_ski.empty()) << ski.output;
  EXPECT_THAT(aki.output, HasSubstr(root_ski));

  // The serial openssl reads is the one returned.
  auto serial = test::Run("openssl x509 -noout -serial -in " + ee_pem);
  EXPECT_EQ(
      serial.output,
      absl::StrCat("serial=", absl::AsciiStrToUpper(issued->serial_hex), "\n"));
}

TEST_P(CertificateTest, OcspResponderCertificateHasOcspSigningAndNoCheck) {
  auto key = test::NewSigner(KeyAlgorithm::kEcP256);
  auto responder = IssueOcspResponderCertificate(
      *ParseName("CN=inkan OCSP Responder,O=Example,C=JP"),
      key->public_key_der(), {test::Now(), test::Now() + absl::Hours(24)},
      ca_.context());
  ASSERT_TRUE(responder.ok()) << responder.status();
  std::string pem = dir_.WritePem("responder.pem", responder->der);
  auto verify = test::Run("openssl verify -purpose ocsphelper -CAfile " +
                          root_pem_ + " " + pem);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  auto text = test::Run("openssl x509 -noout -text -in " + pem);
  EXPECT_THAT(text.output, HasSubstr("X509v3 Extended Key Usage: \n"
                                     "                OCSP Signing"));
  EXPECT_THAT(text.output, HasSubstr("OCSP No Check"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Key Usage: critical\n"
                                     "                Digital Signature\n"));
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, CertificateTest,
    ::testing::Values(
        SignatureScheme{KeyAlgorithm::kEcP256, HashAlgorithm::kSha256},
        SignatureScheme{KeyAlgorithm::kEcP384, HashAlgorithm::kSha384},
        SignatureScheme{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256},
        SignatureScheme{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256,
                        RsaPadding::kPss},
        SignatureScheme{KeyAlgorithm::kEd25519, HashAlgorithm::kSha256}),
    SchemeName);

class IssueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = test::NewRootCa({KeyAlgorithm::kEcP256, HashAlgorithm::kSha256});
    key_ = test::NewSigner(KeyAlgorithm::kEcP256);
  }
  absl::Status Issue(const IssueRequest& r,
                     const CertProfile& p = TestProfile()) {
    return IssueCertificate(p, r, ca_.context()).status();
  }

  test::TestCa ca_;
  std::unique_ptr<crypto::Signer> key_;
};

TEST_F(IssueTest, ProvisionalKeysGetTheOtherPolicy) {
  IssueRequest r = RequestFor(*key_);
  r.key_protection = KeyProtection::kProvisionalSoftware;
  CertProfile p = TestProfile();
  p.provisional_key_policy_oid = "1.2.392.99999.7";
  auto issued = IssueCertificate(p, r, ca_.context());
  ASSERT_TRUE(issued.ok()) << issued.status();
  test::TempDir dir;
  auto text = test::Run("openssl x509 -noout -text -in " +
                        dir.WritePem("ee.pem", issued->der));
  EXPECT_THAT(text.output, HasSubstr("Policy: 1.2.392.99999.7"));
  EXPECT_THAT(text.output, Not(HasSubstr("1.3.6.1.4.1.99999.1.1")));
}

TEST_F(IssueTest, EmptyUrlsLeaveTheExtensionsOut) {
  auto issued =
      IssueCertificate(CertProfile{}, RequestFor(*key_), ca_.context());
  ASSERT_TRUE(issued.ok()) << issued.status();
  test::TempDir dir;
  auto text = test::Run("openssl x509 -noout -text -in " +
                        dir.WritePem("ee.pem", issued->der));
  EXPECT_THAT(text.output, Not(HasSubstr("Authority Information Access")));
  EXPECT_THAT(text.output, Not(HasSubstr("CRL Distribution Points")));
}

TEST_F(IssueTest, SerialsArePositiveSixteenOctetsAndDistinct) {
  std::set<std::string> serials;
  IssueRequest r = RequestFor(*key_);
  for (int i = 0; i < 1000; ++i) {
    auto issued = IssueCertificate(TestProfile(), r, ca_.context());
    ASSERT_TRUE(issued.ok()) << issued.status();
    const std::string& hex = issued->serial_hex;
    ASSERT_EQ(hex.size(), 32u) << hex;
    auto bytes = HexDecode(hex);
    ASSERT_TRUE(bytes.ok());
    uint8_t first = static_cast<uint8_t>((*bytes)[0]);
    EXPECT_LT(first, 0x80) << hex;  // positive
    EXPECT_NE(first, 0) << hex;     // 16 DER octets
    // The certificate's INTEGER is exactly these 16 octets.
    EXPECT_NE(issued->der.find(std::string("\x02\x10", 2) + *bytes),
              std::string::npos);
    serials.insert(hex);
  }
  EXPECT_EQ(serials.size(), 1000u);
}

TEST_F(IssueTest, RejectsGarbageSubjectKey) {
  IssueRequest r = RequestFor(*key_);
  r.subject_public_key_der = "not a key";
  absl::Status st = Issue(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("subject public key"));

  r.subject_public_key_der = key_->public_key_der() + "x";  // trailing byte
  EXPECT_EQ(Issue(r).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(IssueTest, RejectsShortRsaKey) {
  crypto::EvpPkeyPtr rsa(EVP_RSA_gen(1024));
  ASSERT_TRUE(rsa);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(rsa.get(), &der);
  ASSERT_GT(len, 0);
  IssueRequest r = RequestFor(*key_);
  r.subject_public_key_der.assign(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  absl::Status st = Issue(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("1024 bits"));
}

TEST_F(IssueTest, RejectsInvertedOrEmptyValidity) {
  IssueRequest r = RequestFor(*key_);
  std::swap(r.not_before, r.not_after);
  absl::Status st = Issue(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("not_after must be after not_before"));
  r.not_after = r.not_before;
  EXPECT_EQ(Issue(r).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(IssueTest, RejectsValidityOutsideTheCas) {
  IssueRequest r = RequestFor(*key_);
  r.not_before = test::Now() - absl::Hours(2);  // the CA starts 1 h ago
  absl::Status st = Issue(r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("not inside the CA certificate"));

  r = RequestFor(*key_);
  r.not_after = test::Now() + absl::Hours(24 * 3651);  // past the CA's end
  CertProfile long_profile = TestProfile();
  long_profile.max_validity = absl::Hours(24 * 5000);
  st = Issue(r, long_profile);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("not inside the CA certificate"));
}

TEST_F(IssueTest, RejectsValidityLongerThanTheProfile) {
  IssueRequest r = RequestFor(*key_);
  CertProfile p = TestProfile();
  p.max_validity = absl::Hours(24);
  absl::Status st = Issue(r, p);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("profile's maximum"));
}

TEST_F(IssueTest, RejectsMalformedProfiles) {
  IssueRequest r = RequestFor(*key_);
  CertProfile p = TestProfile();
  p.ocsp_url = "ftp://ocsp.example.test";
  EXPECT_EQ(Issue(r, p).code(), absl::StatusCode::kInvalidArgument);
  p = TestProfile();
  p.crl_url = "http://crl.example.test/a b";
  EXPECT_EQ(Issue(r, p).code(), absl::StatusCode::kInvalidArgument);
  p = TestProfile();
  p.hsm_key_policy_oid = "anyPolicy";
  EXPECT_EQ(Issue(r, p).code(), absl::StatusCode::kInvalidArgument);
  for (const char* oid : {"1.2..3", "1", "3.1", "1.40.1", "1.02", "1.2.", ""}) {
    p = TestProfile();
    p.provisional_key_policy_oid = oid;
    EXPECT_EQ(Issue(r, p).code(), absl::StatusCode::kInvalidArgument) << oid;
  }
  p = TestProfile();
  p.provisional_key_policy_oid = "2.999.1";
  EXPECT_TRUE(Issue(r, p).ok());
}

TEST_F(IssueTest, RejectsEmptySubject) {
  IssueRequest r = RequestFor(*key_);
  r.subject = Name{};
  EXPECT_EQ(Issue(r).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(IssueTest, RefusesAnInconsistentCaContext) {
  auto other = test::NewSigner(KeyAlgorithm::kEcP256);
  CaContext wrong_key{ca_.cert_der, *other};
  auto st = IssueCertificate(TestProfile(), RequestFor(*key_), wrong_key);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);

  // An end-entity certificate cannot act as the CA.
  auto ee = IssueCertificate(TestProfile(), RequestFor(*key_), ca_.context());
  ASSERT_TRUE(ee.ok());
  CaContext not_a_ca{ee->der, *key_};
  st = IssueCertificate(TestProfile(), RequestFor(*key_), not_a_ca);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);

  CaContext garbage{"junk", *ca_.signer};
  st = IssueCertificate(TestProfile(), RequestFor(*key_), garbage);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
}

// inkan's own HTTPS endpoint: a server certificate checked with the openssl
// command line, for an EC and an RSA key.
class TlsServerTest : public ::testing::TestWithParam<KeyAlgorithm> {
 protected:
  void SetUp() override {
    ca_ = test::NewRootCa({KeyAlgorithm::kEcP256, HashAlgorithm::kSha256});
    root_pem_ = dir_.WritePem("root.pem", ca_.cert_der);
    key_ = test::NewSigner(GetParam());
  }

  absl::StatusOr<IssuedCertificate> Issue(
      const std::vector<std::string>& names,
      const CertProfile& profile = TestProfile()) {
    return IssueTlsServerCertificate(
        profile, *ParseName("CN=inkan HTTPS,O=Example,C=JP"),
        key_->public_key_der(), names,
        {test::Now(), test::Now() + absl::Hours(24 * 90)}, ca_.context());
  }

  // `openssl verify` of `pem` under the test root with extra options.
  test::CommandResult Verify(const std::string& pem,
                             const std::string& options) {
    return test::Run("openssl verify " + options + " -CAfile " + root_pem_ +
                     " " + pem);
  }

  test::TestCa ca_;
  test::TempDir dir_;
  std::string root_pem_;
  std::unique_ptr<crypto::Signer> key_;
};

const std::vector<std::string> kServerNames = {"localhost", "127.0.0.1", "::1",
                                               "inkan.example.jp"};

TEST_P(TlsServerTest, OpenSslAcceptsItForTlsServersOnly) {
  auto issued = Issue(kServerNames);
  ASSERT_TRUE(issued.ok()) << issued.status();
  std::string pem = dir_.WritePem("server.pem", issued->der);

  auto server = Verify(pem, "-purpose sslserver");
  EXPECT_EQ(server.exit_code, 0) << server.output;
  EXPECT_THAT(server.output, HasSubstr("server.pem: OK"));
  for (const char* purpose : {"sslclient", "smimesign", "smimeencrypt"}) {
    auto other = Verify(pem, absl::StrCat("-purpose ", purpose));
    EXPECT_NE(other.exit_code, 0) << purpose << ": " << other.output;
    EXPECT_THAT(other.output, HasSubstr("unsuitable certificate purpose"))
        << purpose;
  }
}

TEST_P(TlsServerTest, EveryNameMatchesAndNoOther) {
  auto issued = Issue(kServerNames);
  ASSERT_TRUE(issued.ok()) << issued.status();
  std::string pem = dir_.WritePem("server.pem", issued->der);

  for (const char* option :
       {"-verify_hostname localhost", "-verify_hostname inkan.example.jp",
        "-verify_hostname INKAN.example.JP", "-verify_ip 127.0.0.1",
        "-verify_ip ::1", "-verify_ip 0:0:0:0:0:0:0:1"}) {
    auto ok = Verify(pem, absl::StrCat("-purpose sslserver ", option));
    EXPECT_EQ(ok.exit_code, 0) << option << ": " << ok.output;
  }
  for (const char* option :
       {"-verify_hostname other.example", "-verify_hostname www.localhost",
        "-verify_hostname example.jp", "-verify_ip 127.0.0.2",
        "-verify_ip ::2"}) {
    auto bad = Verify(pem, absl::StrCat("-purpose sslserver ", option));
    EXPECT_NE(bad.exit_code, 0) << option << ": " << bad.output;
    EXPECT_THAT(bad.output, ::testing::AnyOf(HasSubstr("hostname mismatch"),
                                             HasSubstr("IP address mismatch")))
        << option;
  }
  // The addresses are iPAddress entries, not dNSNames spelling them.
  auto as_dns = Verify(pem, "-verify_hostname 127.0.0.1");
  EXPECT_NE(as_dns.exit_code, 0) << as_dns.output;
}

TEST_P(TlsServerTest, CarriesTheServerExtensions) {
  auto issued = Issue(kServerNames);
  ASSERT_TRUE(issued.ok()) << issued.status();
  std::string pem = dir_.WritePem("server.pem", issued->der);

  auto san = test::Run("openssl x509 -noout -ext subjectAltName -in " + pem);
  ASSERT_EQ(san.exit_code, 0) << san.output;
  EXPECT_THAT(san.output, HasSubstr("X509v3 Subject Alternative Name: \n"));
  EXPECT_THAT(san.output, Not(HasSubstr("critical")));
  // OpenSSL 3.0 prints IPv6 in full; later versions may compress it.
  EXPECT_THAT(
      san.output,
      ::testing::AnyOf(
          HasSubstr("DNS:localhost, IP Address:127.0.0.1, "
                    "IP Address:0:0:0:0:0:0:0:1, DNS:inkan.example.jp\n"),
          HasSubstr("DNS:localhost, IP Address:127.0.0.1, "
                    "IP Address:::1, DNS:inkan.example.jp\n")));

  auto text = test::Run("openssl x509 -noout -text -in " + pem);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  const std::string& t = text.output;
  EXPECT_THAT(t, HasSubstr("Subject: C = JP, O = Example, CN = inkan HTTPS"));
  const char* key_usage =
      GetParam() == KeyAlgorithm::kRsa2048
          ? "X509v3 Key Usage: critical\n"
            "                Digital Signature, Key Encipherment\n"
          : "X509v3 Key Usage: critical\n"
            "                Digital Signature\n";
  EXPECT_THAT(t, HasSubstr(key_usage));
  EXPECT_THAT(t, HasSubstr("X509v3 Basic Constraints: critical\n"
                           "                CA:FALSE\n"));
  EXPECT_THAT(t, HasSubstr("X509v3 Extended Key Usage: \n"
                           "                TLS Web Server Authentication\n"));
  EXPECT_THAT(t, HasSubstr("X509v3 Subject Key Identifier"));
  EXPECT_THAT(t, HasSubstr("X509v3 Authority Key Identifier"));
  EXPECT_THAT(t, HasSubstr("OCSP - URI:http://ocsp.example.test"));
  EXPECT_THAT(t, HasSubstr("CA Issuers - URI:http://ca.example.test/root.crt"));
  EXPECT_THAT(t, HasSubstr("URI:http://crl.example.test/root.crl"));
  EXPECT_THAT(t, Not(HasSubstr("Certificate Policies")));
  EXPECT_THAT(t, Not(HasSubstr("Non Repudiation")));
  EXPECT_THAT(t, Not(HasSubstr("TLS Web Client Authentication")));
}

INSTANTIATE_TEST_SUITE_P(
    Keys, TlsServerTest,
    ::testing::Values(KeyAlgorithm::kEcP256, KeyAlgorithm::kRsa2048),
    [](const ::testing::TestParamInfo<KeyAlgorithm>& info) {
      return info.param == KeyAlgorithm::kEcP256 ? std::string("P256")
                                                 : std::string("Rsa2048");
    });

class TlsServerNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = test::NewRootCa({KeyAlgorithm::kEcP256, HashAlgorithm::kSha256});
    key_ = test::NewSigner(KeyAlgorithm::kEcP256);
  }
  absl::StatusOr<IssuedCertificate> Issue(
      const std::vector<std::string>& names,
      const CertProfile& profile = TestProfile()) {
    return IssueTlsServerCertificate(
        profile, *ParseName("CN=inkan HTTPS"), key_->public_key_der(), names,
        {test::Now(), test::Now() + absl::Hours(24 * 90)}, ca_.context());
  }
  // The subjectAltName line as openssl prints it.
  std::string San(const IssuedCertificate& issued) {
    auto san = test::Run("openssl x509 -noout -ext subjectAltName -in " +
                         dir_.WritePem("server.pem", issued.der));
    EXPECT_EQ(san.exit_code, 0) << san.output;
    return std::string(
        absl::StripAsciiWhitespace(san.output.substr(san.output.find('\n'))));
  }

  test::TestCa ca_;
  test::TempDir dir_;
  std::unique_ptr<crypto::Signer> key_;
};

TEST_F(TlsServerNamesTest, RefusesBadNames) {
  EXPECT_EQ(Issue({}).status().code(), absl::StatusCode::kInvalidArgument);
  std::string label63(63, 'a');
  std::vector<std::string> bad = {
      "",
      "bad_name!",
      "bad_name.example.jp",
      "a..b",
      ".example.jp",
      "example.jp.",  // trailing dot
      "*.*.x",
      "*",
      "*.jp",            // a wildcard over a single label
      "a.*.example.jp",  // wildcard not leftmost
      "w*.example.jp",   // partial-label wildcard
      "-a.example.jp",   // hyphen at a label's ends
      "a-.example.jp",
      label63 + "a.example.jp",  // a 64-character label
      std::string(300, 'a'),
      "1.2.3.999",  // not an address; all-digit last label: not a name either
      "999",
      "01.2.3.4",  // leading zero: ambiguous (octal to some parsers)
      "127.1",     // short IPv4 form
      " 1.2.3.4",  // spaces
      "1.2.3.4 ",
      "[::1]",         // bracketed
      "fe80::1%eth0",  // zone id
      "::g",
      std::string("1.2.3.4\0.evil.example", 21),  // embedded NUL
      "exa mple.jp",
      "\xe4\xbe\x8b.jp",  // a U-label: IDNs go as A-labels (xn--)
  };
  for (const std::string& name : bad) {
    auto st = Issue({"localhost", name}).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument)
        << absl::CEscape(name) << ": " << st;
    EXPECT_THAT(st.message(), HasSubstr("TLS server name")) << st;
  }
}

TEST_F(TlsServerNamesTest, AcceptsLongestNameAndWildcardsAndLowerCases) {
  std::string label63(63, 'a');
  std::string longest = absl::StrCat(label63, ".", label63, ".", label63, ".",
                                     std::string(61, 'b'));
  ASSERT_EQ(longest.size(), 253u);
  auto issued = Issue({longest});
  EXPECT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(Issue({longest + "b"}).status().code(),
            absl::StatusCode::kInvalidArgument);

  issued = Issue({"Inkan.EXAMPLE.jp", "*.Svc.Example.JP", "xn--r8jz45g.jp",
                  "a-b.1x.example.jp", "::FFFF:192.0.2.1", "2001:DB8::1"});
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_THAT(
      San(*issued),
      ::testing::AnyOf("DNS:inkan.example.jp, DNS:*.svc.example.jp, "
                       "DNS:xn--r8jz45g.jp, DNS:a-b.1x.example.jp, "
                       "IP Address:0:0:0:0:0:FFFF:C000:201, "
                       "IP Address:2001:DB8:0:0:0:0:0:1",
                       "DNS:inkan.example.jp, DNS:*.svc.example.jp, "
                       "DNS:xn--r8jz45g.jp, DNS:a-b.1x.example.jp, "
                       "IP Address:::ffff:192.0.2.1, IP Address:2001:db8::1"));

  // The wildcard covers one label, as a TLS client reads it.
  std::string root = dir_.WritePem("root.pem", ca_.cert_der);
  std::string pem = dir_.WritePem("wild.pem", issued->der);
  auto one = test::Run(
      "openssl verify -purpose sslserver -verify_hostname "
      "api.svc.example.jp -CAfile " +
      root + " " + pem);
  EXPECT_EQ(one.exit_code, 0) << one.output;
  auto two = test::Run(
      "openssl verify -purpose sslserver -verify_hostname "
      "a.b.svc.example.jp -CAfile " +
      root + " " + pem);
  EXPECT_NE(two.exit_code, 0) << two.output;
}

TEST_F(TlsServerNamesTest, RefusesDuplicatesAndTooManyNames) {
  for (const std::vector<std::string>& names :
       {std::vector<std::string>{"localhost", "LocalHost"},
        std::vector<std::string>{"::1", "0:0:0:0:0:0:0:1"},
        std::vector<std::string>{"127.0.0.1", "127.0.0.1"}}) {
    auto st = Issue(names).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_THAT(st.message(), HasSubstr("given twice")) << st;
  }

  std::vector<std::string> names;
  for (int i = 0; i < kMaxTlsServerNames; ++i) {
    names.push_back(absl::StrCat("n", i, ".example.jp"));
  }
  auto issued = Issue(names);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_THAT(San(*issued), HasSubstr("DNS:n99.example.jp"));
  names.push_back("one-too-many.example.jp");
  auto st = Issue(names).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("at most 100"));
}

TEST_F(TlsServerNamesTest, EmptyProfileUrlsLeaveTheExtensionsOut) {
  auto issued = Issue({"localhost"}, CertProfile{});
  ASSERT_TRUE(issued.ok()) << issued.status();
  auto text = test::Run("openssl x509 -noout -text -in " +
                        dir_.WritePem("server.pem", issued->der));
  EXPECT_THAT(text.output, HasSubstr("DNS:localhost"));
  EXPECT_THAT(text.output, Not(HasSubstr("Authority Information Access")));
  EXPECT_THAT(text.output, Not(HasSubstr("CRL Distribution Points")));
}

TEST_F(TlsServerNamesTest, RefusesWhatIssueCertificateRefuses) {
  CertProfile short_profile = TestProfile();
  short_profile.max_validity = absl::Hours(24 * 30);
  auto st = Issue({"localhost"}, short_profile).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("profile's maximum"));

  CertProfile bad_url = TestProfile();
  bad_url.crl_url = "ftp://crl.example.test";
  EXPECT_EQ(Issue({"localhost"}, bad_url).status().code(),
            absl::StatusCode::kInvalidArgument);

  const Validity validity{test::Now(), test::Now() + absl::Hours(24)};
  auto garbage_key = IssueTlsServerCertificate(
      TestProfile(), *ParseName("CN=inkan HTTPS"), "not a key", {"localhost"},
      validity, ca_.context());
  EXPECT_EQ(garbage_key.status().code(), absl::StatusCode::kInvalidArgument);

  auto no_subject =
      IssueTlsServerCertificate(TestProfile(), Name{}, key_->public_key_der(),
                                {"localhost"}, validity, ca_.context());
  EXPECT_EQ(no_subject.status().code(), absl::StatusCode::kInvalidArgument);

  auto backwards = IssueTlsServerCertificate(
      TestProfile(), *ParseName("CN=inkan HTTPS"), key_->public_key_der(),
      {"localhost"}, {validity.not_after, validity.not_before}, ca_.context());
  EXPECT_EQ(backwards.status().code(), absl::StatusCode::kInvalidArgument);

  auto other = test::NewSigner(KeyAlgorithm::kEcP256);
  auto wrong_ca = IssueTlsServerCertificate(
      TestProfile(), *ParseName("CN=inkan HTTPS"), key_->public_key_der(),
      {"localhost"}, validity, CaContext{ca_.cert_der, *other});
  EXPECT_EQ(wrong_ca.status().code(), absl::StatusCode::kFailedPrecondition);

  // A TLS server certificate cannot act as a CA.
  auto server = Issue({"localhost"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto under_server = IssueTlsServerCertificate(
      TestProfile(), *ParseName("CN=inkan HTTPS"), other->public_key_der(),
      {"localhost"}, validity, CaContext{server->der, *key_});
  EXPECT_EQ(under_server.status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(RootTest, RejectsInvertedValidity) {
  auto key = test::NewSigner(KeyAlgorithm::kEcP256);
  auto root = IssueRootCertificate(*ParseName("CN=Root"),
                                   {test::Now(), test::Now()}, *key);
  EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument);
}

// The CA key under an external root: inkan makes the CSR, the openssl CLI
// plays the external root, and inkan issues under the resulting intermediate.
TEST(CsrTest, ExternalRootCertifiesTheCsrAndTheChainVerifies) {
  test::TempDir dir;
  auto ca_key = test::NewSigner(KeyAlgorithm::kRsa2048);
  auto csr = MakeCsr(*ParseName("CN=inkan Issuing CA,O=Example,C=JP"), *ca_key);
  ASSERT_TRUE(csr.ok()) << csr.status();
  std::string csr_pem = dir.WritePem("ca.csr", *csr, "CERTIFICATE REQUEST");

  auto check = test::Run("openssl req -noout -verify -text -in " + csr_pem);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("verify OK"));
  EXPECT_THAT(check.output, HasSubstr("Requested Extensions"));
  EXPECT_THAT(check.output, HasSubstr("CA:TRUE"));
  EXPECT_THAT(check.output,
              HasSubstr("Subject: C = JP, O = Example, CN = inkan Issuing CA"));

  std::string ext_key = dir.Path("ext.key");
  std::string ext_pem = dir.Path("ext.pem");
  auto root = test::Run(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-subj '/CN=External Root' -days 3650 -keyout " +
      ext_key + " -out " + ext_pem);
  ASSERT_EQ(root.exit_code, 0) << root.output;
  std::string inter_der = dir.Path("inter.der");
  auto sign = test::Run("openssl x509 -req -in " + csr_pem + " -CA " + ext_pem +
                        " -CAkey " + ext_key +
                        " -CAcreateserial -days 1000 -copy_extensions copyall "
                        "-outform DER -out " +
                        inter_der);
  ASSERT_EQ(sign.exit_code, 0) << sign.output;

  CaContext intermediate{dir.Read("inter.der"), *ca_key};
  auto key = test::NewSigner(KeyAlgorithm::kEcP256);
  auto ee = IssueCertificate(TestProfile(), RequestFor(*key), intermediate);
  ASSERT_TRUE(ee.ok()) << ee.status();
  std::string inter_pem =
      dir.WritePem("inter.pem", intermediate.certificate_der);
  std::string ee_pem = dir.WritePem("ee.pem", ee->der);
  auto verify = test::Run("openssl verify -CAfile " + ext_pem + " -untrusted " +
                          inter_pem + " " + ee_pem);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("ee.pem: OK"));
}

TEST(PemTest, WrapsAt64Columns) {
  std::string pem = ToPem(std::string(100, 'x'), "TEST");
  EXPECT_EQ(pem,
            "-----BEGIN TEST-----\n"
            "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\n"
            "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\n"
            "eHh4eA==\n"
            "-----END TEST-----\n");
}

}  // namespace
}  // namespace inkan::ca
