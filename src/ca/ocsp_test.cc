#include "ca/ocsp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/test_util.h"
#include "ca/x509_util.h"

namespace inkan::ca {
namespace {

using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;
using crypto::SignatureScheme;
using ::testing::HasSubstr;
using ::testing::Not;

class OcspTest : public ::testing::TestWithParam<SignatureScheme> {
 protected:
  void SetUp() override {
    ca_ = test::NewRootCa(GetParam());
    root_pem_ = dir_.WritePem("root.pem", ca_.cert_der);
    responder_key_ = test::NewSigner(KeyAlgorithm::kEcP256);
    auto responder = IssueOcspResponderCertificate(
        *ParseName("CN=inkan OCSP,O=Example,C=JP"),
        responder_key_->public_key_der(),
        {test::Now() - absl::Minutes(1), test::Now() + absl::Hours(24)},
        ca_.context());
    ASSERT_TRUE(responder.ok()) << responder.status();
    responder_der_ = responder->der;
    responder_pem_ = dir_.WritePem("responder.pem", responder_der_);
    user_key_ = test::NewSigner(KeyAlgorithm::kEcP256);
  }

  OcspResponder Responder() const {
    return OcspResponder{responder_der_, *responder_key_};
  }

  // Issues a certificate and writes it as <name>.pem.
  IssuedCertificate Issue(absl::string_view name) {
    IssueRequest r;
    r.subject = *ParseName(absl::StrCat("CN=", name, ",O=Example,C=JP"));
    r.subject_public_key_der = user_key_->public_key_der();
    r.not_before = test::Now();
    r.not_after = test::Now() + absl::Hours(24 * 30);
    CertProfile profile;
    profile.ocsp_url = "http://ocsp.example.test";
    auto issued = IssueCertificate(profile, r, ca_.context());
    EXPECT_TRUE(issued.ok()) << issued.status();
    dir_.WritePem(absl::StrCat(name, ".pem"), issued->der);
    return *issued;
  }

  // Has the openssl CLI write a request for `certs` and parses it.
  OcspRequest MakeRequest(const std::vector<std::string>& certs,
                          absl::string_view options = "") {
    std::string cmd =
        absl::StrCat("openssl ocsp ", options, " -issuer ", root_pem_);
    for (const std::string& c : certs) {
      absl::StrAppend(&cmd, " -cert ", dir_.Path(c + ".pem"));
    }
    absl::StrAppend(&cmd, " -reqout ", dir_.Path("req.der"));
    auto run = test::Run(cmd);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    auto req = ParseOcspRequest(dir_.Read("req.der"));
    EXPECT_TRUE(req.ok()) << req.status();
    return req.ok() ? *req : OcspRequest{};
  }

  SingleAnswer Answer(const CertId& id, CertStatus status) {
    SingleAnswer a;
    a.cert_id = id;
    a.status = status;
    a.this_update = test::Now() - absl::Minutes(1);
    a.next_update = test::Now() + absl::Hours(1);
    if (status == CertStatus::kRevoked) {
      a.revocation_time = test::Now() - absl::Minutes(10);
      a.reason = CrlReason::kKeyCompromise;
    }
    return a;
  }

  std::string WriteResponse(const std::vector<SingleAnswer>& answers,
                            const std::optional<std::string>& nonce) {
    auto resp = BuildOcspResponse(Responder(), answers, nonce, test::Now());
    EXPECT_TRUE(resp.ok()) << resp.status();
    return dir_.Write("resp.der", resp.ok() ? *resp : "");
  }

  // openssl's per-certificate summary: "<pem>: good|revoked|unknown".
  test::CommandResult Summary(const std::string& cert, const std::string& resp,
                              absl::string_view trust) {
    return test::Run(absl::StrCat("openssl ocsp -no_nonce -issuer ", root_pem_,
                                  " -cert ", dir_.Path(cert + ".pem"),
                                  " -respin ", resp, " -CAfile ", root_pem_,
                                  " ", trust));
  }

  test::TestCa ca_;
  test::TempDir dir_;
  std::string root_pem_;
  std::unique_ptr<crypto::Signer> responder_key_;
  std::string responder_der_;
  std::string responder_pem_;
  std::unique_ptr<crypto::Signer> user_key_;
};

TEST_P(OcspTest, ParsesOpenSslRequestsWithAndWithoutNonce) {
  IssuedCertificate ee = Issue("ee");
  OcspRequest with = MakeRequest({"ee"});
  ASSERT_EQ(with.cert_ids.size(), 1u);
  const CertId& id = with.cert_ids[0];
  EXPECT_EQ(id.hash_algorithm_oid, kSha1Oid);
  EXPECT_EQ(id.serial_hex, ee.serial_hex);
  EXPECT_EQ(id.issuer_name_hash.size(), 20u);
  EXPECT_EQ(*CertIdMatchesIssuer(id, ca_.cert_der), true);
  EXPECT_EQ(*CertIdMatchesIssuer(id, responder_der_), false);
  ASSERT_TRUE(with.nonce.has_value());
  EXPECT_EQ(with.nonce->size(), 16u);  // openssl's default nonce

  OcspRequest without = MakeRequest({"ee"}, "-no_nonce");
  EXPECT_FALSE(without.nonce.has_value());
  EXPECT_EQ(without.cert_ids, with.cert_ids);

  OcspRequest sha256 = MakeRequest({"ee"}, "-sha256");
  ASSERT_EQ(sha256.cert_ids.size(), 1u);
  EXPECT_EQ(sha256.cert_ids[0].hash_algorithm_oid, kSha256Oid);
  EXPECT_EQ(*CertIdMatchesIssuer(sha256.cert_ids[0], ca_.cert_der), true);
}

TEST_P(OcspTest, OpenSslReportsGoodRevokedAndUnknown) {
  Issue("good");
  Issue("revoked");
  Issue("unknown");
  OcspRequest req = MakeRequest({"good", "revoked", "unknown"});
  ASSERT_EQ(req.cert_ids.size(), 3u);
  std::string resp =
      WriteResponse({Answer(req.cert_ids[0], CertStatus::kGood),
                     Answer(req.cert_ids[1], CertStatus::kRevoked),
                     Answer(req.cert_ids[2], CertStatus::kUnknown)},
                    req.nonce);

  // Trusting only the root: openssl finds the responder certificate in the
  // response and checks the delegation (issued by the CA, OCSPSigning).
  for (absl::string_view trust : {"", "-VAfile "}) {
    std::string t(trust);
    if (!t.empty()) t += responder_pem_;
    auto good = Summary("good", resp, t);
    EXPECT_EQ(good.exit_code, 0) << good.output;
    EXPECT_THAT(good.output, HasSubstr("Response verify OK"));
    EXPECT_THAT(good.output, HasSubstr("good.pem: good"));
    EXPECT_THAT(good.output, Not(HasSubstr("WARNING")));

    auto revoked = Summary("revoked", resp, t);
    EXPECT_EQ(revoked.exit_code, 0) << revoked.output;
    EXPECT_THAT(revoked.output, HasSubstr("revoked.pem: revoked"));
    EXPECT_THAT(revoked.output, HasSubstr("Reason: keyCompromise"));

    auto unknown = Summary("unknown", resp, t);
    EXPECT_EQ(unknown.exit_code, 0) << unknown.output;
    EXPECT_THAT(unknown.output, HasSubstr("unknown.pem: unknown"));
  }
}

TEST_P(OcspTest, NonceIsEchoedAndChecked) {
  Issue("ee");
  OcspRequest req = MakeRequest({"ee"});
  ASSERT_TRUE(req.nonce.has_value());
  std::string req_der = dir_.Write("req_nonce.der", dir_.Read("req.der"));
  // With -reqin (and no -cert) openssl keeps the request's nonce and
  // compares it with the response's.
  std::string check = absl::StrCat("openssl ocsp -reqin ", req_der, " -CAfile ",
                                   root_pem_, " -resp_text -respin ");

  std::string resp =
      WriteResponse({Answer(req.cert_ids[0], CertStatus::kGood)}, req.nonce);
  auto ok = test::Run(check + resp);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("Response verify OK"));
  EXPECT_THAT(ok.output, HasSubstr("Cert Status: good"));
  EXPECT_THAT(ok.output, HasSubstr("OCSP Nonce"));
  EXPECT_THAT(ok.output, HasSubstr("Responder Id: "));
  EXPECT_THAT(ok.output, Not(HasSubstr("WARNING")));

  std::string other_nonce = *req.nonce;
  other_nonce[0] ^= 1;
  resp =
      WriteResponse({Answer(req.cert_ids[0], CertStatus::kGood)}, other_nonce);
  auto wrong = test::Run(check + resp);
  EXPECT_NE(wrong.exit_code, 0) << wrong.output;
  EXPECT_THAT(wrong.output, HasSubstr("Nonce Verify error"));

  resp =
      WriteResponse({Answer(req.cert_ids[0], CertStatus::kGood)}, std::nullopt);
  auto missing = test::Run(check + resp);
  EXPECT_THAT(missing.output, HasSubstr("WARNING: no nonce in response"));
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, OcspTest,
    ::testing::Values(
        SignatureScheme{KeyAlgorithm::kEcP256, HashAlgorithm::kSha256},
        SignatureScheme{KeyAlgorithm::kRsa2048, HashAlgorithm::kSha256}),
    [](const auto& info) {
      return info.param.key == KeyAlgorithm::kEcP256 ? std::string("P256")
                                                     : std::string("Rsa2048");
    });

using OcspInputTest = OcspTest;

TEST_P(OcspInputTest, MalformedRequestsAreInvalidArgument) {
  Issue("ee");
  MakeRequest({"ee"});
  std::string good = dir_.Read("req.der");
  for (const std::string& bad :
       {std::string(), std::string("garbage"), good + std::string(1, '\0'),
        good.substr(0, good.size() - 1), std::string("\x30\x00", 2)}) {
    auto req = ParseOcspRequest(bad);
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument)
        << bad.size();
    EXPECT_THAT(req.status().message(), HasSubstr("malformed OCSP request"));
  }
}

// Requests openssl's CLI will not make, built from its request with the API.
TEST_P(OcspInputTest, RejectsRequestsBreakingTheRules) {
  Issue("ee");
  MakeRequest({"ee"});
  std::string base = dir_.Read("req.der");
  auto edit = [&](auto&& change) {
    const auto* p = reinterpret_cast<const unsigned char*>(base.data());
    internal::OcspRequestPtr req(
        d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(base.size())));
    EXPECT_TRUE(req);
    change(req.get());
    auto der = internal::I2d(i2d_OCSP_REQUEST, req.get());
    EXPECT_TRUE(der.ok());
    return ParseOcspRequest(*der).status();
  };
  auto expect_malformed = [](const absl::Status& st, absl::string_view why) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_THAT(st.message(), HasSubstr(why));
  };

  unsigned char long_nonce[33] = {1};
  expect_malformed(edit([&](OCSP_REQUEST* r) {
                     OCSP_request_add1_nonce(r, long_nonce, 33);
                   }),
                   "1 to 32 octets");
  EXPECT_TRUE(edit([&](OCSP_REQUEST* r) {
                OCSP_request_add1_nonce(r, long_nonce, 32);
              }).ok());
  expect_malformed(
      edit([&](OCSP_REQUEST* r) {
        X509_EXTENSION* nonce = OCSP_REQUEST_get_ext(
            r, OCSP_REQUEST_get_ext_by_NID(r, NID_id_pkix_OCSP_Nonce, -1));
        OCSP_REQUEST_add_ext(r, nonce, -1);
      }),
      "two nonces");
  expect_malformed(
      edit([&](OCSP_REQUEST* r) {
        internal::Asn1OctetStringPtr v(ASN1_OCTET_STRING_new());
        ASN1_OCTET_STRING_set(v.get(),
                              reinterpret_cast<const unsigned char*>("0"), 1);
        X509_EXTENSION* ext = X509_EXTENSION_create_by_NID(
            nullptr, NID_id_pkix_OCSP_acceptableResponses, 1, v.get());
        OCSP_REQUEST_add_ext(r, ext, -1);
        X509_EXTENSION_free(ext);
      }),
      "critical requestExtension");
  expect_malformed(edit([&](OCSP_REQUEST* r) {
                     OCSP_CERTID* id =
                         OCSP_onereq_get0_id(OCSP_request_onereq_get0(r, 0));
                     for (int i = 0; i < kMaxOcspRequestIds; ++i) {
                       OCSP_request_add0_id(r, OCSP_CERTID_dup(id));
                     }
                   }),
                   "more than 64");
  expect_malformed(edit([&](OCSP_REQUEST* r) {
                     ASN1_INTEGER* serial = nullptr;
                     OCSP_id_get0_info(
                         nullptr, nullptr, nullptr, &serial,
                         OCSP_onereq_get0_id(OCSP_request_onereq_get0(r, 0)));
                     ASN1_INTEGER_set(serial, -5);
                   }),
                   "negative");
  internal::OcspRequestPtr empty(OCSP_REQUEST_new());
  auto empty_der = internal::I2d(i2d_OCSP_REQUEST, empty.get());
  ASSERT_TRUE(empty_der.ok());
  expect_malformed(ParseOcspRequest(*empty_der).status(), "no CertID");
}

TEST_P(OcspInputTest, ErrorResponsesAreUnderstood) {
  std::string resp = dir_.Write(
      "err.der", OcspErrorResponse(OcspErrorStatus::kMalformedRequest));
  auto run =
      test::Run("openssl ocsp -respin " + resp + " -CAfile " + root_pem_);
  EXPECT_THAT(run.output, HasSubstr("Responder Error: malformedrequest (1)"));
  EXPECT_EQ(OcspErrorResponse(OcspErrorStatus::kUnauthorized),
            std::string("\x30\x03\x0a\x01\x06", 5));
}

TEST_P(OcspInputTest, BuildRejectsBadInput) {
  IssuedCertificate ee = Issue("ee");
  OcspRequest req = MakeRequest({"ee"});
  SingleAnswer good = Answer(req.cert_ids[0], CertStatus::kGood);
  auto build = [&](const std::vector<SingleAnswer>& answers,
                   const std::optional<std::string>& nonce = std::nullopt) {
    return BuildOcspResponse(Responder(), answers, nonce, test::Now()).status();
  };
  EXPECT_TRUE(build({good}).ok());
  EXPECT_EQ(build({}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(build({good}, std::string()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(build({good}, std::string(33, 'n')).code(),
            absl::StatusCode::kInvalidArgument);
  SingleAnswer a = good;
  a.next_update = a.this_update;
  EXPECT_EQ(build({a}).code(), absl::StatusCode::kInvalidArgument);
  a = Answer(req.cert_ids[0], CertStatus::kRevoked);
  a.reason = CrlReason::kRemoveFromCrl;
  EXPECT_EQ(build({a}).code(), absl::StatusCode::kInvalidArgument);
  a = good;
  a.cert_id.serial_hex = "xyz";
  EXPECT_EQ(build({a}).code(), absl::StatusCode::kInvalidArgument);
  a = good;
  a.cert_id.hash_algorithm_oid = "sha1";
  EXPECT_EQ(build({a}).code(), absl::StatusCode::kInvalidArgument);

  // Only a certificate with id-kp-OCSPSigning may sign responses, and only
  // with its own key.
  OcspResponder not_a_responder{ee.der, *user_key_};
  EXPECT_EQ(
      BuildOcspResponse(not_a_responder, {good}, std::nullopt, test::Now())
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(BuildOcspResponse(Responder(), {good}, std::nullopt,
                              test::Now() + absl::Hours(25))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);  // responder expired
  OcspResponder wrong_key{responder_der_, *user_key_};
  EXPECT_EQ(BuildOcspResponse(wrong_key, {good}, std::nullopt, test::Now())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(P256, OcspInputTest,
                         ::testing::Values(SignatureScheme{
                             KeyAlgorithm::kEcP256, HashAlgorithm::kSha256}));

}  // namespace
}  // namespace inkan::ca
