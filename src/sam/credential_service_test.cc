#include "sam/credential_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "audit/verifier.h"
#include "crypto/digest.h"
#include "hsm/software_key_store.h"

namespace inkan::sam {
namespace {

using testing::HasSubstr;

class CredentialServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-cred-test-XXXXXX";
    auto keys = hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/keys");
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    ASSERT_TRUE(keys_->Initialize().ok());
    base_ = storage::NewMemoryStore();
    faulty_ = storage::NewFaultInjectionStore(*base_);
    log_ = std::make_unique<audit::AuditLog>(**keys_->AuditSigner(),
                                             "test.inkan/audit", clock_);
    service_ =
        std::make_unique<CredentialService>(*faulty_, *keys_, *log_, clock_);
    // Fast Argon2 for tests; the change itself is audited.
    ASSERT_TRUE(
        SetPolicy(*faulty_, *log_, "argon2.m_cost_kib", "64", "test").ok());
    ASSERT_TRUE(SetPolicy(*faulty_, *log_, "argon2.t_cost", "1", "test").ok());
    ASSERT_TRUE(
        SetPolicy(*faulty_, *log_, "max_failed_tries", "3", "test").ok());
  }

  Factors Pin(absl::string_view pin) {
    return {SecretBytes(pin), SecretBytes()};
  }

  audit::VerifyReport Verify() {
    audit::VerifyReport report;
    auto signer = keys_->AuditSigner();
    auto verifier =
        crypto::NewVerifier((*signer)->public_key_der(), (*signer)->scheme());
    EXPECT_TRUE(base_
                    ->Transact(storage::TxMode::kReadOnly,
                               [&](storage::Transaction& tx) -> absl::Status {
                                 auto r = audit::VerifyLog(tx, **verifier,
                                                           "test.inkan/audit");
                                 if (!r.ok()) return r.status();
                                 report = *r;
                                 return absl::OkStatus();
                               })
                    .ok());
    return report;
  }

  std::vector<std::string> EventTypes() {
    std::vector<std::string> types;
    (void)base_->Transact(
        storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
          auto rows = tx.ReadAuditEntries(1, 1000);
          for (const auto& r : *rows) {
            auto pos = r.entry.find("\"type\":\"");
            types.push_back(
                r.entry.substr(pos + 8, r.entry.find('"', pos + 8) - pos - 8));
          }
          return absl::OkStatus();
        });
    return types;
  }

  storage::CredentialRecord Cred(const std::string& id) {
    storage::CredentialRecord c;
    EXPECT_TRUE(base_
                    ->Transact(storage::TxMode::kReadOnly,
                               [&](storage::Transaction& tx) -> absl::Status {
                                 auto r = tx.GetCredential(id);
                                 if (!r.ok()) return r.status();
                                 c = *r;
                                 return absl::OkStatus();
                               })
                    .ok());
    return c;
  }

  FakeClock clock_;
  std::unique_ptr<hsm::KeyStore> keys_;
  std::unique_ptr<storage::Store> base_;
  std::unique_ptr<storage::FaultInjectionStore> faulty_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<CredentialService> service_;
  Context ctx_;
};

TEST_F(CredentialServiceTest, CreateSignVerifyAndEverythingIsLogged) {
  ASSERT_TRUE(
      service_->AddUser("alice", SecretBytes(absl::string_view("1234")), ctx_)
          .ok());
  auto id = service_->CreateCredential("alice", crypto::KeyAlgorithm::kEcP256,
                                       Pin("1234"), ctx_);
  ASSERT_TRUE(id.ok()) << id.status();
  std::string digest = crypto::Sha256("contract.pdf");
  auto sig =
      service_->SignDigest(*id, Pin("1234"), crypto::HashAlgorithm::kSha256,
                           crypto::RsaPadding::kPkcs1, digest, ctx_);
  ASSERT_TRUE(sig.ok()) << sig.status();
  storage::CredentialRecord cred = Cred(*id);
  auto verifier = crypto::NewVerifier(
      cred.public_key,
      {crypto::KeyAlgorithm::kEcP256, crypto::HashAlgorithm::kSha256});
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE((*verifier)->VerifyDigest(digest, *sig).ok());
  EXPECT_THAT(EventTypes(),
              testing::IsSupersetOf({"user.add", "key.generate", "key.seal",
                                     "credential.create", "key.unseal",
                                     "signature.create", "config.change"}));
  audit::VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(CredentialServiceTest,
       WrongPinCountsLocksAndLockHoldsAgainstTheRightPin) {
  ASSERT_TRUE(
      service_->AddUser("bob", SecretBytes(absl::string_view("1234")), ctx_)
          .ok());
  auto id = service_->CreateCredential("bob", crypto::KeyAlgorithm::kEcP256,
                                       Pin("1234"), ctx_);
  ASSERT_TRUE(id.ok());
  // A good PIN after a bad one resets the count.
  auto st = service_->Activate(*id, Pin("0000"), ctx_).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(st.message(), HasSubstr("2 tries left"));
  EXPECT_EQ(Cred(*id).failed_tries, 1);
  EXPECT_TRUE(service_->Activate(*id, Pin("1234"), ctx_).ok());
  EXPECT_EQ(Cred(*id).failed_tries, 0);

  EXPECT_EQ(service_->Activate(*id, Pin("0000"), ctx_).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->Activate(*id, Pin("0001"), ctx_).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->Activate(*id, Pin("0002"), ctx_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Cred(*id).locked);
  auto locked = service_->Activate(*id, Pin("1234"), ctx_);
  EXPECT_EQ(locked.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(locked.status().message(), HasSubstr("locked"));
  auto types = EventTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), "key.unseal.failed"), 4);
  EXPECT_EQ(std::count(types.begin(), types.end(), "credential.lock"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "key.unseal.refused"), 1);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(CredentialServiceTest, BadInputsAreClearErrors) {
  EXPECT_EQ(service_->AddUser("", SecretBytes(absl::string_view("1234")), ctx_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      service_->AddUser("a\nb", SecretBytes(absl::string_view("1234")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      service_->AddUser("carol", SecretBytes(absl::string_view("1234")), ctx_)
          .ok());
  EXPECT_EQ(
      service_->AddUser("carol", SecretBytes(absl::string_view("1234")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(service_
                ->CreateCredential("nobody", crypto::KeyAlgorithm::kEcP256,
                                   Pin("1234"), ctx_)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(service_
                ->CreateCredential("carol", crypto::KeyAlgorithm::kEcP256,
                                   Pin("9999"), ctx_)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      service_->AddUser("erin", SecretBytes(absl::string_view("12")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->Activate("no-such-id", Pin("1234"), ctx_).status().code(),
            absl::StatusCode::kNotFound);
  auto id = service_->CreateCredential("carol", crypto::KeyAlgorithm::kEcP256,
                                       Pin("1234"), ctx_);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(service_
                ->SignDigest(*id, Pin("1234"), crypto::HashAlgorithm::kSha256,
                             crypto::RsaPadding::kPkcs1, "too short", ctx_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Cred(*id).failed_tries, 0);  // a malformed request costs no try
  EXPECT_EQ(SetPolicy(*faulty_, *log_, "max_failed_tries", "0", "t").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetPolicy(*faulty_, *log_, "nonsense", "1", "t").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Verify().ok);
}

// A crash at any write of credential creation leaves no credential, no
// orphan log entry, and a log that verifies.
TEST_F(CredentialServiceTest, CrashAtAnyStepLeavesNoHalfMadeCredential) {
  ASSERT_TRUE(
      service_->AddUser("dave", SecretBytes(absl::string_view("1234")), ctx_)
          .ok());
  int64_t start = faulty_->writes();
  bool succeeded = false;
  for (int64_t fail_at = start + 1; fail_at < start + 40 && !succeeded;
       ++fail_at) {
    SCOPED_TRACE(fail_at);
    int64_t entries_before = 0;
    (void)base_->Transact(storage::TxMode::kReadOnly,
                          [&](storage::Transaction& tx) {
                            entries_before = *tx.AuditEntryCount();
                            return absl::OkStatus();
                          });
    faulty_->FailAtWrite(fail_at);
    auto id = service_->CreateCredential("dave", crypto::KeyAlgorithm::kEcP256,
                                         Pin("1234"), ctx_);
    faulty_->Reset();
    size_t creds = 0;
    int64_t entries_after = 0;
    (void)base_->Transact(storage::TxMode::kReadOnly,
                          [&](storage::Transaction& tx) {
                            auto user = tx.GetUserByName("dave");
                            creds = tx.ListCredentials(user->id)->size();
                            entries_after = *tx.AuditEntryCount();
                            return absl::OkStatus();
                          });
    if (id.ok()) {
      succeeded = true;
      EXPECT_EQ(creds, 1u);
      EXPECT_EQ(entries_after, entries_before + 3);
    } else {
      EXPECT_THAT(id.status().message(), HasSubstr("injected fault"));
      EXPECT_EQ(creds, 0u);
      EXPECT_EQ(entries_after, entries_before);
    }
    EXPECT_TRUE(Verify().ok);
  }
  EXPECT_TRUE(succeeded);
}

}  // namespace
}  // namespace inkan::sam
