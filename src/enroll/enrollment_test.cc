#include "enroll/enrollment.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/encoding.h"
#include "common/status_macros.h"
#include "crypto/software_signer.h"
#include "enroll/qr.h"
#include "hsm/software_key_store.h"
#include "sam/totp.h"
#include "storage/store.h"

namespace inkan::enroll {
namespace {

TEST(ParseCodeTest, TakesOnlyTheIssuedShape) {
  const std::string good = "abcdefghijklmnop.abcdefghijklmnopqrstuvwxyz234567";
  auto parsed = ParseCode(good);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id, "abcdefghijklmnop");
  EXPECT_EQ(parsed->secret.size(), 20u);
  EXPECT_TRUE(ParseCode("  " + good + "\n").ok());  // pasted with spaces
  EXPECT_TRUE(ParseCode("ABCDEFGHIJKLMNOP.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                  .ok());  // any case
  for (const char* bad :
       {"", ".", "abcdefghijklmnop", "abcdefghijklmnop.",
        "abcdefghijklmno.abcdefghijklmnopqrstuvwxyz234567",    // short id
        "abcdefghijklmnop.abcdefghijklmnopqrstuvwxyz23456",    // short secret
        "abcdefghijklmnop.abcdefghijklmnopqrstuvwxyz2345678",  // long
        "abcdefghijklmn01.abcdefghijklmnopqrstuvwxyz234567",   // not base32
        "abcdefghijklmnop-abcdefghijklmnopqrstuvwxyz234567"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseCode(bad).status())) << bad;
  }
}

TEST(QrTest, DrawsAnSvgAndRefusesWhatDoesNotFit) {
  auto svg = QrSvg("otpauth://totp/inkan:erin?secret=ABC&issuer=inkan", "QR");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->rfind("<svg ", 0), 0u);
  EXPECT_NE(svg->find("aria-label=\"QR\""), std::string::npos);
  EXPECT_NE(svg->find("h1v1h-1z"), std::string::npos);
  EXPECT_FALSE(QrSvg(std::string(8000, 'x'), "QR").ok());
}

struct Operator {
  std::string name;
  std::unique_ptr<crypto::Signer> signer;
};

// The real service on a memory store, the software key store and a fake
// clock; codes issued through the real ceremony.
class EnrollmentTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-enroll-test-XXXXXX";
    auto keys = hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/k");
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    ASSERT_TRUE(keys_->Initialize().ok());
    store_ = storage::NewMemoryStore();
    ASSERT_TRUE(store_
                    ->Transact(storage::TxMode::kReadWrite,
                               [](storage::Transaction& tx) {
                                 // Fast Argon2 for tests.
                                 RETURN_IF_ERROR(tx.PutMeta(
                                     "policy.argon2.m_cost_kib", "1024"));
                                 return tx.PutMeta("policy.argon2.t_cost", "1");
                               })
                    .ok());
    log_ = std::make_unique<audit::AuditLog>(**keys_->AuditSigner(),
                                             "test/enroll", clock_);
    ceremonies_ =
        std::make_unique<ceremony::Ceremonies>(*store_, *log_, clock_);
    for (const char* n : {"alice", "bob"}) {
      auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
      auto signer = crypto::NewSoftwareSigner(
          *pkcs8,
          {crypto::KeyAlgorithm::kEcP256, crypto::HashAlgorithm::kSha256});
      ASSERT_TRUE(signer.ok());
      ops_.push_back({n, std::move(*signer)});
      ASSERT_TRUE(ceremonies_
                      ->AddOperatorBootstrap(
                          n, ops_.back().signer->public_key_der(), "test")
                      .ok());
    }
    RegisterOperations(*ceremonies_, *store_, *keys_, *log_, clock_);
    credentials_ = std::make_unique<sam::CredentialService>(*store_, *keys_,
                                                            *log_, clock_);
    service_ = std::make_unique<EnrollmentService>(
        *store_, *keys_, *log_, clock_, *credentials_, Options{},
        [this](absl::string_view,
               absl::string_view) -> absl::StatusOr<std::string> {
          if (ca_active_) return std::string("CERT");
          return absl::FailedPreconditionError("the CA key is not active");
        },
        [](absl::string_view) -> absl::StatusOr<std::string> {
          return absl::FailedPreconditionError("the CA key is not active");
        });
  }

  // Proposes, approves with `approvers` operators and executes.
  absl::StatusOr<std::string> Issue(const std::string& user, int approvers,
                                    const std::string& valid_for = "72h") {
    ASSIGN_OR_RETURN(auto req, ceremonies_->Propose(
                                   kIssueOperation,
                                   {{"user", user}, {"valid_for", valid_for}},
                                   "alice", absl::Hours(1)));
    for (int i = 0; i < approvers; ++i) {
      ASSIGN_OR_RETURN(std::string sig,
                       crypto::SignMessage(*ops_[i].signer, req.canonical));
      RETURN_IF_ERROR(ceremonies_->Approve(req.id, ops_[i].name, sig));
    }
    std::map<std::string, SecretBytes> out;
    RETURN_IF_ERROR(ceremonies_->Execute(req.id, "test", {}, &out).status());
    return std::string(out["code"].RevealString());
  }

  int Count(absl::string_view type, absl::string_view needle = "") {
    int n = 0;
    (void)store_->Transact(
        storage::TxMode::kReadOnly,
        [&](storage::Transaction& tx) -> absl::Status {
          ASSIGN_OR_RETURN(auto rows, tx.ReadAuditEntries(1, 100000));
          for (const auto& r : rows) {
            if (r.entry.find(absl::StrCat("\"type\":\"", type, "\"")) !=
                    std::string::npos &&
                absl::StrContains(r.entry, needle)) {
              ++n;
            }
          }
          return absl::OkStatus();
        });
    return n;
  }

  FakeClock clock_;
  bool ca_active_ = false;
  std::unique_ptr<hsm::KeyStore> keys_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<ceremony::Ceremonies> ceremonies_;
  std::vector<Operator> ops_;
  std::unique_ptr<sam::CredentialService> credentials_;
  std::unique_ptr<EnrollmentService> service_;
};

TEST_F(EnrollmentTest, ACodeNeedsTwoOperatorsAndWorksOnce) {
  EXPECT_TRUE(absl::IsFailedPrecondition(Issue("erin", 1).status()));
  auto code = Issue("erin", 2);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(Count("enroll.code_issued"), 1);
  EXPECT_EQ(Count("enroll.code_released"), 1);
  auto token = service_->Redeem(*code, "192.0.2.1:4000");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(
      service_->Redeem(*code, "192.0.2.1:4001").status()));
  EXPECT_EQ(Count("enroll.redeem", "\"result\":\"ok\""), 1);
  EXPECT_EQ(Count("enroll.redeem", "not-usable:redeemed"), 1);
  // A second code for a user that is now enrolling is refused once the user
  // exists (after the PIN step).
  ASSERT_TRUE(service_->SetPin(*token, SecretBytes("246810")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(Issue("erin", 2).status()));
}

TEST_F(EnrollmentTest, AnExpiredCodeFailsAndIsLogged) {
  auto code = Issue("erin", 2, "10m");
  ASSERT_TRUE(code.ok()) << code.status();
  clock_.Advance(absl::Minutes(10));
  auto r = service_->Redeem(*code, "192.0.2.1:1");
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status()));
  EXPECT_NE(r.status().message().find("expired"), std::string::npos);
  EXPECT_EQ(Count("enroll.redeem", "\"result\":\"expired\""), 1);
  // Expired is final, even if the clock were set back.
  clock_.Advance(-absl::Minutes(5));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      service_->Redeem(*code, "192.0.2.1:1").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Issue("frank", 2, "5m").status()));
}

TEST_F(EnrollmentTest, WrongSecretsBurnTheCodeAndGuessersAreThrottled) {
  auto code = Issue("erin", 2);
  ASSERT_TRUE(code.ok());
  std::string wrong = code->substr(0, 17) + std::string(32, 'a');
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(absl::IsUnauthenticated(
        service_->Redeem(wrong, "198.51.100.7:1").status()));
  }
  // Burnt: the right secret no longer works, from anywhere.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      service_->Redeem(*code, "203.0.113.9:1").status()));
  EXPECT_EQ(Count("enroll.redeem", "wrong-secret:burnt"), 1);
  // 10 failures from one address in 15 minutes throttle it, for any code.
  auto other = Issue("frank", 2);
  ASSERT_TRUE(other.ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(service_->Redeem("junk", "198.51.100.7:2").ok());
  }
  EXPECT_TRUE(absl::IsResourceExhausted(
      service_->Redeem(*other, "198.51.100.7:3").status()));
  EXPECT_TRUE(absl::IsResourceExhausted(
      service_->Redeem(*other, "198.51.100.7:5").status()));
  // Logged once per window, not once per attempt.
  EXPECT_EQ(Count("enroll.redeem", "\"result\":\"throttled\""), 1);
  // IPv6 failures count per /64.
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(
        service_->Redeem("junk", absl::StrCat("[2001:db8:1:2::", i, "]:9"))
            .ok());
  }
  EXPECT_TRUE(absl::IsResourceExhausted(
      service_->Redeem(*other, "[2001:db8:1:2:ffff::1]:9").status()));
  EXPECT_FALSE(absl::IsResourceExhausted(
      service_->Redeem("junk", "[2001:db8:1:3::1]:9").status()));
  // Another address is not throttled, and the window passes.
  clock_.Advance(absl::Minutes(16));
  EXPECT_TRUE(service_->Redeem(*other, "198.51.100.7:4").ok());
}

TEST_F(EnrollmentTest, StepsInOrderThenReceiptThenCertificate) {
  auto code = Issue("erin", 2);
  ASSERT_TRUE(code.ok());
  auto token = service_->Redeem(*code, "192.0.2.1:1");
  ASSERT_TRUE(token.ok());
  // Out of order: refused, naming the step.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      service_->CreateInHsm(*token, crypto::KeyAlgorithm::kEcP256)));
  EXPECT_TRUE(absl::IsFailedPrecondition(service_->ConfirmReceipt(*token)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      service_->SetPin(*token, SecretBytes("12"))));  // too short
  ASSERT_TRUE(service_->SetPin(*token, SecretBytes("246810")).ok());
  ASSERT_TRUE(service_->StartTotp(*token).ok());
  auto view = service_->View(*token);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->step, Step::kTotpConfirm);
  std::string uri = view->totp_uri;
  size_t s = uri.find("secret=") + 7;
  auto secret = sam::Base32Decode(uri.substr(s, uri.find('&', s) - s));
  ASSERT_TRUE(secret.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(service_->ConfirmTotp(*token, "000000")));
  auto otp = sam::TotpCode(*secret, sam::TotpParams{}, clock_.Now());
  ASSERT_TRUE(service_->ConfirmTotp(*token, *otp).ok());
  ASSERT_TRUE(
      service_->CreateInHsm(*token, crypto::KeyAlgorithm::kEcP256).ok());
  // Receipt with the CA key inactive: the credential waits for its
  // certificate.
  ASSERT_TRUE(service_->ConfirmReceipt(*token).ok());
  view = service_->View(*token);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->step, Step::kDone);
  EXPECT_TRUE(view->certificate_pending);
  EXPECT_FALSE(view->credential_id.empty());
  EXPECT_EQ(Count("enroll.receipt"), 1);
  EXPECT_EQ(Count("enroll.complete", "\"certificate\":\"pending\""), 1);
  // The session ends after its time.
  clock_.Advance(absl::Minutes(31));
  EXPECT_TRUE(absl::IsNotFound(service_->View(*token).status()));
}

TEST_F(EnrollmentTest, DeliveredKeyIsHandedOutOnceAndTheCredentialIsUserHeld) {
  ca_active_ = true;
  auto code = Issue("erin", 2);
  ASSERT_TRUE(code.ok());
  auto token = service_->Redeem(*code, "192.0.2.1:1");
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(service_->SetPin(*token, SecretBytes("246810")).ok());
  ASSERT_TRUE(service_->StartTotp(*token).ok());
  std::string uri = service_->View(*token)->totp_uri;
  size_t s = uri.find("secret=") + 7;
  auto secret = sam::Base32Decode(uri.substr(s, uri.find('&', s) - s));
  ASSERT_TRUE(
      service_
          ->ConfirmTotp(
              *token, *sam::TotpCode(*secret, sam::TotpParams{}, clock_.Now()))
          .ok());
  EXPECT_TRUE(absl::IsInvalidArgument(service_->PrepareDelivery(
      *token, crypto::KeyAlgorithm::kEcP256, SecretBytes("short"))));
  ASSERT_TRUE(service_
                  ->PrepareDelivery(*token, crypto::KeyAlgorithm::kEcP256,
                                    SecretBytes("correct horse"))
                  .ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(service_->ConfirmReceipt(*token)));
  auto p12 = service_->TakeDelivery(*token);
  ASSERT_TRUE(p12.ok()) << p12.status();
  EXPECT_GT(p12->size(), 100u);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      service_->TakeDelivery(*token).status()));  // once
  ASSERT_TRUE(service_->ConfirmReceipt(*token).ok());
  auto view = service_->View(*token);
  EXPECT_EQ(view->certificate_der, "CERT");
  EXPECT_EQ(Count("enroll.key_erased"), 1);
  // inkan cannot sign with it.
  auto active = credentials_->Activate(
      view->credential_id, sam::Factors{SecretBytes("246810"), {}}, {"test"});
  EXPECT_TRUE(absl::IsFailedPrecondition(active.status()));
  EXPECT_NE(active.status().message().find("held by its user"),
            std::string::npos);
}

}  // namespace
}  // namespace inkan::enroll
