#include "sam/credential_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "audit/verifier.h"
#include "crypto/digest.h"
#include "hsm/software_key_store.h"

namespace inkan::sam {
namespace {

using testing::HasSubstr;

// Delegates to a real key store; the first Pepper() call after Arm() waits
// until Release(), to interleave attempts deterministically. Fail() makes
// Pepper() fail as an HSM that lost its login would.
class GatedKeys : public hsm::KeyStore {
 public:
  explicit GatedKeys(hsm::KeyStore& base) : base_(base) {}
  void Arm() { armed_ = true; }
  void WaitUntilGated() { gated_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  void Fail(bool fail) { fail_ = fail; }

  absl::string_view backend() const override { return base_.backend(); }
  bool provisional() const override { return base_.provisional(); }
  absl::Status Initialize() override { return base_.Initialize(); }
  absl::Status CheckSystemKeys() override { return base_.CheckSystemKeys(); }
  absl::StatusOr<hsm::WrappedKey> GenerateWrappedKey(
      crypto::KeyAlgorithm a) override {
    return base_.GenerateWrappedKey(a);
  }
  absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> Activate(
      crypto::KeyAlgorithm a, const SecretBytes& w) override {
    return base_.Activate(a, w);
  }
  absl::StatusOr<hsm::WrappedKey> GenerateKeyWrappedUnder(
      crypto::KeyAlgorithm a, const SecretBytes& k) override {
    return base_.GenerateKeyWrappedUnder(a, k);
  }
  absl::StatusOr<std::unique_ptr<hsm::ActiveKey>> ActivateWithKek(
      crypto::KeyAlgorithm a, const SecretBytes& w,
      const SecretBytes& k) override {
    return base_.ActivateWithKek(a, w, k);
  }
  absl::StatusOr<SecretBytes> Pepper(const SecretBytes& in) override {
    if (fail_)
      return absl::UnauthenticatedError("C_Sign: CKR_USER_NOT_LOGGED_IN");
    if (armed_.exchange(false)) {
      gated_.Notify();
      release_.WaitForNotification();
    }
    return base_.Pepper(in);
  }
  absl::StatusOr<const crypto::Signer*> AuditSigner() override {
    return base_.AuditSigner();
  }

 private:
  hsm::KeyStore& base_;
  std::atomic<bool> armed_{false}, fail_{false};
  absl::Notification gated_, release_;
};

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
    gated_ = std::make_unique<GatedKeys>(*keys_);
    service_ =
        std::make_unique<CredentialService>(*faulty_, *gated_, *log_, clock_);
    // Fast Argon2 for tests; the change itself is audited.
    ASSERT_TRUE(
        SetPolicy(*faulty_, *log_, "argon2.m_cost_kib", "64", "test").ok());
    ASSERT_TRUE(SetPolicy(*faulty_, *log_, "argon2.t_cost", "1", "test").ok());
    ASSERT_TRUE(
        SetPolicy(*faulty_, *log_, "max_failed_tries", "3", "test").ok());
  }

  // A user `name` with PIN 123456 and one P-256 credential; returns its id.
  std::string UserWithCredential(absl::string_view name) {
    EXPECT_TRUE(
        service_->AddUser(name, SecretBytes(absl::string_view("123456")), ctx_)
            .ok());
    auto id = service_->CreateCredential(name, crypto::KeyAlgorithm::kEcP256,
                                         Pin("123456"), ctx_);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or("");
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
  std::unique_ptr<GatedKeys> gated_;
  std::unique_ptr<storage::Store> base_;
  std::unique_ptr<storage::FaultInjectionStore> faulty_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<CredentialService> service_;
  Context ctx_;
};

TEST_F(CredentialServiceTest, CreateSignVerifyAndEverythingIsLogged) {
  auto id = std::make_optional(UserWithCredential("alice"));
  ASSERT_FALSE(id->empty());
  std::string digest = crypto::Sha256("contract.pdf");
  auto sig =
      service_->SignDigest(*id, Pin("123456"), crypto::HashAlgorithm::kSha256,
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
  auto id = std::make_optional(UserWithCredential("bob"));
  ASSERT_FALSE(id->empty());
  // A good PIN after a bad one resets the count.
  auto st = service_->Activate(*id, Pin("000000"), ctx_).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(st.message(), HasSubstr("2 tries left"));
  EXPECT_EQ(Cred(*id).failed_tries, 1);
  EXPECT_TRUE(service_->Activate(*id, Pin("123456"), ctx_).ok());
  EXPECT_EQ(Cred(*id).failed_tries, 0);

  EXPECT_EQ(service_->Activate(*id, Pin("000000"), ctx_).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->Activate(*id, Pin("000001"), ctx_).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->Activate(*id, Pin("000002"), ctx_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Cred(*id).locked);
  auto locked = service_->Activate(*id, Pin("123456"), ctx_);
  EXPECT_EQ(locked.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(locked.status().message(), HasSubstr("locked"));
  auto types = EventTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), "key.unseal.failed"), 4);
  EXPECT_EQ(std::count(types.begin(), types.end(), "credential.lock"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "key.unseal.refused"), 1);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(CredentialServiceTest, BadInputsAreClearErrors) {
  EXPECT_EQ(
      service_->AddUser("", SecretBytes(absl::string_view("123456")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      service_->AddUser("a\nb", SecretBytes(absl::string_view("123456")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      service_->AddUser("carol", SecretBytes(absl::string_view("123456")), ctx_)
          .ok());
  EXPECT_EQ(
      service_->AddUser("carol", SecretBytes(absl::string_view("123456")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(service_
                ->CreateCredential("nobody", crypto::KeyAlgorithm::kEcP256,
                                   Pin("123456"), ctx_)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(service_
                ->CreateCredential("carol", crypto::KeyAlgorithm::kEcP256,
                                   Pin("999999"), ctx_)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      service_->AddUser("erin", SecretBytes(absl::string_view("12")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      service_->Activate("no-such-id", Pin("123456"), ctx_).status().code(),
      absl::StatusCode::kNotFound);
  auto id = service_->CreateCredential("carol", crypto::KeyAlgorithm::kEcP256,
                                       Pin("123456"), ctx_);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(service_
                ->SignDigest(*id, Pin("123456"), crypto::HashAlgorithm::kSha256,
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
      service_->AddUser("dave", SecretBytes(absl::string_view("123456")), ctx_)
          .ok());
  // A crash in the middle of a PIN check costs a try (by design); give the
  // loop room so the user does not lock.
  ASSERT_TRUE(
      SetPolicy(*faulty_, *log_, "max_failed_tries", "100", "test").ok());
  auto count = [&](absl::string_view type) {
    auto types = EventTypes();
    return std::count(types.begin(), types.end(), type);
  };
  bool succeeded = false;
  int failures = 0;
  for (int64_t fail_at = 1; fail_at < 40 && !succeeded; ++fail_at) {
    SCOPED_TRACE(fail_at);
    faulty_->Reset();  // counts writes from zero again
    faulty_->FailAtWrite(fail_at);
    auto id = service_->CreateCredential("dave", crypto::KeyAlgorithm::kEcP256,
                                         Pin("123456"), ctx_);
    faulty_->Reset();
    size_t creds = 0;
    (void)base_->Transact(storage::TxMode::kReadOnly,
                          [&](storage::Transaction& tx) {
                            auto user = tx.GetUserByName("dave");
                            creds = tx.ListCredentials(user->id)->size();
                            return absl::OkStatus();
                          });
    size_t made = succeeded || id.ok() ? 1 : 0;
    if (id.ok()) {
      succeeded = true;
    } else {
      ++failures;
      EXPECT_THAT(id.status().message(), HasSubstr("injected fault"));
    }
    // A credential exists exactly when its three events do: no orphan row,
    // no orphan log entry.
    EXPECT_EQ(creds, made);
    EXPECT_EQ(count("key.generate"), static_cast<long>(made));
    EXPECT_EQ(count("key.seal"), static_cast<long>(made));
    EXPECT_EQ(count("credential.create"), static_cast<long>(made));
    EXPECT_TRUE(Verify().ok);
  }
  EXPECT_TRUE(succeeded);
  EXPECT_GE(failures,
            3);  // the PIN check's and the creation's writes were all hit
}

TEST_F(CredentialServiceTest, ParallelGuessesNeverGetMoreTriesThanTheBudget) {
  auto id = std::make_optional(UserWithCredential("pat"));
  ASSERT_FALSE(id->empty());
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      auto st =
          service_->Activate(*id, Pin(absl::StrCat("99999", i)), ctx_).status();
      if (!absl::IsUnauthenticated(st)) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  auto types = EventTypes();
  // At most max_failed_tries (3) guesses were ever checked.
  EXPECT_LE(std::count(types.begin(), types.end(), "key.unseal.failed"), 3);
  EXPECT_TRUE(Cred(*id).locked);
  EXPECT_EQ(service_->Activate(*id, Pin("123456"), ctx_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Verify().ok);
}

// The budget counts attempts in flight (the try is taken before the check):
// with the owner's attempt in the HSM, two wrong guesses fill a budget of 3
// and lock the credential, and the owner's success does not clear that lock.
TEST_F(CredentialServiceTest, ARightPinInFlightDoesNotClearALockSetMeanwhile) {
  auto id = std::make_optional(UserWithCredential("quinn"));
  ASSERT_FALSE(id->empty());
  gated_->Arm();
  absl::Status right;
  std::thread owner(
      [&] { right = service_->Activate(*id, Pin("123456"), ctx_).status(); });
  gated_->WaitUntilGated();  // the right PIN has taken its try and waits in the
                             // HSM
  EXPECT_EQ(service_->Activate(*id, Pin("000000"), ctx_).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(service_->Activate(*id, Pin("000001"), ctx_).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Cred(*id).locked);
  gated_->Release();
  owner.join();
  EXPECT_EQ(right.code(), absl::StatusCode::kPermissionDenied) << right;
  EXPECT_THAT(right.message(), HasSubstr("meanwhile"));
  EXPECT_TRUE(Cred(*id).locked);
  auto types = EventTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), "key.unseal.refused"), 1);
  EXPECT_TRUE(Verify().ok);
}

// An attempt in flight holds its try: with a budget of 1 no second guess runs
// beside it (ResourceExhausted); its success then gives the try back.
TEST_F(CredentialServiceTest, AttemptsInFlightHoldTheirTries) {
  ASSERT_TRUE(SetPolicy(*faulty_, *log_, "max_failed_tries", "1", "test").ok());
  auto id = std::make_optional(UserWithCredential("uma"));
  ASSERT_FALSE(id->empty());
  gated_->Arm();
  absl::Status right;
  std::thread owner(
      [&] { right = service_->Activate(*id, Pin("123456"), ctx_).status(); });
  gated_->WaitUntilGated();
  EXPECT_EQ(service_->Activate(*id, Pin("000000"), ctx_).status().code(),
            absl::StatusCode::kResourceExhausted);
  gated_->Release();
  owner.join();
  EXPECT_TRUE(right.ok()) << right;
  EXPECT_EQ(Cred(*id).failed_tries, 0);
  EXPECT_FALSE(Cred(*id).locked);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(CredentialServiceTest, TheUsersPinHasItsOwnBudgetAndLock) {
  ASSERT_TRUE(
      service_->AddUser("rita", SecretBytes(absl::string_view("123456")), ctx_)
          .ok());
  auto create = [&](absl::string_view pin) {
    return service_
        ->CreateCredential("rita", crypto::KeyAlgorithm::kEcP256, Pin(pin),
                           ctx_)
        .status()
        .code();
  };
  EXPECT_EQ(create("000000"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(create("123456"),
            absl::StatusCode::kOk);  // forgives the earlier failure
  EXPECT_EQ(create("000000"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(create("000001"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(create("000002"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(create("123456"), absl::StatusCode::kPermissionDenied);
  auto types = EventTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), "user.lock"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "user.pin.refused"), 1);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(CredentialServiceTest, AnHsmFailureCostsNoTry) {
  auto id = std::make_optional(UserWithCredential("sam"));
  ASSERT_FALSE(id->empty());
  gated_->Fail(true);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(service_->Activate(*id, Pin("123456"), ctx_).status().code(),
              absl::StatusCode::kUnavailable);
  }
  gated_->Fail(false);
  EXPECT_EQ(Cred(*id).failed_tries, 0);
  EXPECT_FALSE(Cred(*id).locked);
  EXPECT_TRUE(service_->Activate(*id, Pin("123456"), ctx_).ok());
}

TEST_F(CredentialServiceTest, ShortPinsAreRefusedByPolicy) {
  EXPECT_EQ(
      service_->AddUser("tom", SecretBytes(absl::string_view("12345")), ctx_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(SetPolicy(*faulty_, *log_, "min_pin_length", "4", "test").ok());
  EXPECT_TRUE(
      service_->AddUser("tom", SecretBytes(absl::string_view("1234")), ctx_)
          .ok());
  EXPECT_EQ(SetPolicy(*faulty_, *log_, "min_pin_length", "3", "test").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inkan::sam
