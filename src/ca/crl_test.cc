#include "ca/crl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ca/test_util.h"

namespace inkan::ca {
namespace {

using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;
using crypto::SignatureScheme;
using ::testing::HasSubstr;
using ::testing::Not;

class CrlTest : public ::testing::TestWithParam<SignatureScheme> {
 protected:
  void SetUp() override {
    ca_ = test::NewRootCa(GetParam());
    root_pem_ = dir_.WritePem("root.pem", ca_.cert_der);
    key_ = test::NewSigner(KeyAlgorithm::kEcP256);
  }

  IssuedCertificate Issue(absl::string_view cn) {
    IssueRequest r;
    r.subject = *ParseName(absl::StrCat("CN=", cn, ",O=Example,C=JP"));
    r.subject_public_key_der = key_->public_key_der();
    r.not_before = test::Now();
    r.not_after = test::Now() + absl::Hours(24 * 30);
    CertProfile profile;
    profile.crl_url = "http://crl.example.test/root.crl";
    auto issued = IssueCertificate(profile, r, ca_.context());
    EXPECT_TRUE(issued.ok()) << issued.status();
    return *issued;
  }

  absl::StatusOr<std::string> Crl(std::vector<RevokedEntry> revoked,
                                  int64_t number = 1) {
    return IssueCrl(ca_.context(), number, test::Now(),
                    test::Now() + absl::Hours(24), revoked);
  }

  test::TestCa ca_;
  test::TempDir dir_;
  std::string root_pem_;
  std::unique_ptr<crypto::Signer> key_;
};

TEST_P(CrlTest, OpenSslRejectsTheRevokedCertificateAndAcceptsTheOther) {
  IssuedCertificate revoked = Issue("Revoked");
  IssuedCertificate good = Issue("Good");
  auto crl = Crl({{revoked.serial_hex, test::Now() - absl::Minutes(5),
                   CrlReason::kKeyCompromise}},
                 42);
  ASSERT_TRUE(crl.ok()) << crl.status();
  std::string crl_pem = dir_.WritePem("crl.pem", *crl, "X509 CRL");
  std::string revoked_pem = dir_.WritePem("revoked.pem", revoked.der);
  std::string good_pem = dir_.WritePem("good.pem", good.der);

  std::string verify = "openssl verify -crl_check -CAfile " + root_pem_ +
                       " -CRLfile " + crl_pem + " ";
  auto r = test::Run(verify + revoked_pem);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("certificate revoked"));
  auto g = test::Run(verify + good_pem);
  EXPECT_EQ(g.exit_code, 0) << g.output;
  EXPECT_THAT(g.output, HasSubstr("good.pem: OK"));

  auto check = test::Run("openssl crl -noout -verify -CAfile " + root_pem_ +
                         " -in " + crl_pem);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("verify OK"));

  auto text = test::Run("openssl crl -noout -text -in " + crl_pem);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("Version 2 (0x1)"));
  EXPECT_THAT(text.output,
              HasSubstr("X509v3 CRL Number: \n                42"));
  EXPECT_THAT(text.output, HasSubstr("X509v3 Authority Key Identifier"));
  EXPECT_THAT(text.output,
              HasSubstr(absl::AsciiStrToUpper(revoked.serial_hex)));
  EXPECT_THAT(text.output, HasSubstr("Key Compromise"));
}

TEST_P(CrlTest, EmptyCrlVerifies) {
  auto crl = Crl({});
  ASSERT_TRUE(crl.ok()) << crl.status();
  std::string crl_pem = dir_.WritePem("crl.pem", *crl, "X509 CRL");
  auto check = test::Run("openssl crl -noout -text -verify -CAfile " +
                         root_pem_ + " -in " + crl_pem);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("No Revoked Certificates"));
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, CrlTest,
    ::testing::Values(
        SignatureScheme{KeyAlgorithm::kEcP256, HashAlgorithm::kSha256},
        SignatureScheme{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256}),
    [](const auto& info) {
      return info.param.key == KeyAlgorithm::kEcP256 ? std::string("P256")
                                                     : std::string("Rsa2048");
    });

class CrlInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = test::NewRootCa({KeyAlgorithm::kEcP256, HashAlgorithm::kSha256});
  }
  absl::Status Crl(std::vector<RevokedEntry> revoked, int64_t number = 1,
                   absl::Duration lifetime = absl::Hours(24)) {
    return IssueCrl(ca_.context(), number, test::Now(), test::Now() + lifetime,
                    revoked)
        .status();
  }
  test::TestCa ca_;
};

TEST_F(CrlInputTest, UnspecifiedReasonHasNoReasonCode) {
  auto crl =
      IssueCrl(ca_.context(), 1, test::Now(), test::Now() + absl::Hours(1),
               {{{"0123456789abcdef", test::Now()}}});
  ASSERT_TRUE(crl.ok()) << crl.status();
  test::TempDir dir;
  auto text = test::Run("openssl crl -noout -text -in " +
                        dir.WritePem("crl.pem", *crl, "X509 CRL"));
  EXPECT_THAT(text.output, HasSubstr("0123456789ABCDEF"));
  EXPECT_THAT(text.output, Not(HasSubstr("CRL Reason Code")));
}

TEST_F(CrlInputTest, RejectsBadInput) {
  absl::Time now = test::Now();
  EXPECT_EQ(Crl({}, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Crl({}, 1, absl::ZeroDuration()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Crl({{"zz", now}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Crl({{"", now}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Crl({{"00", now}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Crl({{std::string(42, '1'), now}}).code(),
            absl::StatusCode::kInvalidArgument);  // 21 octets
  EXPECT_EQ(Crl({{"0a", now}, {"0A", now}}).code(),
            absl::StatusCode::kInvalidArgument);  // the same serial twice
  EXPECT_EQ(Crl({{"0a", now + absl::Hours(1)}}).code(),
            absl::StatusCode::kInvalidArgument);  // revoked in the future
  EXPECT_EQ(Crl({{"0a", now, static_cast<CrlReason>(7)}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Crl({{"0a", now, CrlReason::kRemoveFromCrl}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Crl({{"0a", now, CrlReason::kSuperseded}}).ok());
}

}  // namespace
}  // namespace inkan::ca
