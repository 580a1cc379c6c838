#include "ca/activation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "audit/audit_log.h"
#include "ceremony/quorum.h"
#include "ceremony/sealed_share.h"
#include "ceremony/share_codec.h"
#include "common/encoding.h"
#include "crypto/software_signer.h"
#include "hsm/pkcs11_key_store.h"
#include "hsm/software_key_store.h"
#include "storage/store.h"

namespace inkan::ca {
namespace {

using testing::HasSubstr;

struct Custodian {
  std::string name;
  SecretBytes pkcs8;
  std::unique_ptr<crypto::Signer> signer;
};

Custodian NewCustodian(absl::string_view name) {
  auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
  EXPECT_TRUE(pkcs8.ok());
  auto signer = crypto::NewSoftwareSigner(
      *pkcs8, {crypto::KeyAlgorithm::kEcP256, crypto::HashAlgorithm::kSha256});
  EXPECT_TRUE(signer.ok());
  return {std::string(name), *pkcs8, std::move(*signer)};
}

// A CA made by the real ca.init ceremony (2-of-3) on the software key store,
// and each custodian's opened share.
class CaActivationTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-activation-test-XXXXXX";
    auto keys = hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/keys");
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    ASSERT_TRUE(keys_->Initialize().ok());
    store_ = storage::NewMemoryStore();
    log_ = std::make_unique<audit::AuditLog>(**keys_->AuditSigner(),
                                             "test/activation", clock_);
    ceremonies_ =
        std::make_unique<ceremony::Ceremonies>(*store_, *log_, clock_);
    RegisterCaOperations(*ceremonies_, *keys_, *log_, clock_, tokens_);
    for (const char* n : {"alice", "bob"}) {
      custodians_.push_back(NewCustodian(n));
      ASSERT_TRUE(ceremonies_
                      ->AddOperatorBootstrap(
                          n, custodians_.back().signer->public_key_der(), "t")
                      .ok());
    }
    auto req =
        ceremonies_->Propose("ca.init",
                             {{"subject", "CN=Activation Test CA,O=inkan,C=JP"},
                              {"crl_url", "http://127.0.0.1/ca.crl"},
                              {"ocsp_url", "http://127.0.0.1/ocsp"}},
                             "alice", absl::Hours(1));
    ASSERT_TRUE(req.ok()) << req.status();
    for (const auto& c : custodians_) {
      ASSERT_TRUE(ceremonies_
                      ->Approve(req->id, c.name,
                                *crypto::SignMessage(*c.signer, req->canonical))
                      .ok());
    }
    auto done = ceremonies_->Execute(req->id, "test");
    ASSERT_TRUE(done.ok()) << done.status();
    authority_ = std::make_unique<Authority>(*store_, *keys_, *log_, clock_);
    for (const auto& c : custodians_) {
      auto sealed = authority_->SealedShareFor(c.name);
      ASSERT_TRUE(sealed.ok()) << sealed.status();
      auto share = ceremony::OpenSealedShare(*sealed, c.pkcs8);
      ASSERT_TRUE(share.ok()) << share.status();
      shares_.push_back(*ceremony::EncodeShare(*share));
    }
    activation_ = std::make_unique<CaActivation>(
        *authority_, clock_,
        CaActivation::Options{absl::Hours(8), absl::Minutes(30)});
  }

  std::vector<std::string> Events() {
    std::vector<std::string> types;
    (void)store_->Transact(storage::TxMode::kReadOnly,
                           [&](storage::Transaction& tx) -> absl::Status {
                             auto rows = tx.ReadAuditEntries(1, 10000);
                             if (!rows.ok()) return rows.status();
                             for (const auto& r : *rows) {
                               auto e = audit::ParseEntry(r.entry);
                               if (e.ok()) types.push_back(e->type);
                             }
                             return absl::OkStatus();
                           });
    return types;
  }

  absl::Status IssueCrl() {
    return activation_->WithActive(
        [](Authority& ca) { return ca.IssueCrl("test").status(); });
  }

  FakeClock clock_;
  hsm::TokenAccess tokens_{""};
  std::unique_ptr<hsm::KeyStore> keys_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<ceremony::Ceremonies> ceremonies_;
  std::unique_ptr<Authority> authority_;
  std::unique_ptr<CaActivation> activation_;
  std::vector<Custodian> custodians_;
  std::vector<SecretBytes> shares_;
};

TEST_F(CaActivationTest, SharesEnteredOneAtATimeActivateForTheWindow) {
  EXPECT_TRUE(absl::IsFailedPrecondition(IssueCrl()));
  auto one = activation_->AddShare(shares_[0], absl::Hours(2), "alice");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_FALSE(one->active);
  EXPECT_EQ(one->have, 1);
  EXPECT_EQ(one->need, 2);
  EXPECT_THAT(one->entered_by, testing::ElementsAre("alice"));
  EXPECT_TRUE(absl::IsFailedPrecondition(IssueCrl()));  // k-1 shares

  clock_.Advance(absl::Minutes(5));
  auto two = activation_->AddShare(shares_[1], absl::Hours(99), "bob");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_TRUE(two->active);
  EXPECT_EQ(two->have, 0);  // the round's shares are gone once used
  // The window is the first custodian's, from activation.
  EXPECT_EQ(two->active_until, clock_.Now() + absl::Hours(2));
  EXPECT_TRUE(IssueCrl().ok());

  clock_.Advance(absl::Hours(2));
  EXPECT_THAT(IssueCrl().message(), HasSubstr("window has ended"));
  EXPECT_FALSE(activation_->Status().active);
  EXPECT_THAT(Events(),
              testing::IsSupersetOf({"ca.activate.share", "ca.activate",
                                     "crl.issue", "ca.deactivate"}));
}

TEST_F(CaActivationTest, TickEndsTheWindowAndLogsIt) {
  ASSERT_TRUE(activation_->AddShare(shares_[0], absl::Hours(1), "a").ok());
  ASSERT_TRUE(activation_->AddShare(shares_[1], absl::Hours(1), "b").ok());
  activation_->Tick();
  EXPECT_TRUE(activation_->Status().active);
  clock_.Advance(absl::Hours(1));
  activation_->Tick();
  EXPECT_FALSE(activation_->Status().active);
  EXPECT_EQ(Events().back(), "ca.deactivate");
  EXPECT_TRUE(absl::IsFailedPrecondition(IssueCrl()));
}

TEST_F(CaActivationTest, DeactivateEndsItAtOnce) {
  ASSERT_TRUE(activation_->AddShare(shares_[0], absl::Hours(1), "a").ok());
  ASSERT_TRUE(activation_->AddShare(shares_[1], absl::Hours(1), "b").ok());
  ASSERT_TRUE(activation_->Deactivate("alice").ok());
  EXPECT_FALSE(activation_->Status().active);
  EXPECT_TRUE(absl::IsFailedPrecondition(IssueCrl()));
  EXPECT_EQ(Events().back(), "ca.deactivate");
}

TEST_F(CaActivationTest, BadSharesAreNamedAndLoggedAndTheRoundGoesOn) {
  ASSERT_TRUE(activation_->AddShare(shares_[0], absl::Hours(1), "a").ok());
  // The same custodian twice does not make two.
  EXPECT_TRUE(absl::IsAlreadyExists(
      activation_->AddShare(shares_[0], absl::Hours(1), "a").status()));
  // An altered share is named at entry.
  std::string text(shares_[1].RevealString());
  auto pos = text.rfind('-');
  text[pos + 1] = text[pos + 1] == 'a' ? 'b' : 'a';
  auto bad = activation_->AddShare(SecretBytes(text), absl::Hours(1), "b");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_EQ(Events().back(), "ca.activate.refused");
  EXPECT_EQ(activation_->Status().have, 1);
  EXPECT_TRUE(activation_->AddShare(shares_[1], absl::Hours(1), "b")->active);
}

TEST_F(CaActivationTest, AStaleRoundIsDroppedAndWindowsAreBounded) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      activation_->AddShare(shares_[0], absl::Hours(9), "a").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      activation_->AddShare(shares_[0], absl::Seconds(10), "a").status()));
  ASSERT_TRUE(activation_->AddShare(shares_[0], absl::Hours(1), "a").ok());
  clock_.Advance(absl::Minutes(31));
  activation_->Tick();
  EXPECT_EQ(activation_->Status().have, 0);
  EXPECT_EQ(Events().back(), "ca.activate.round_expired");
  auto st = activation_->AddShare(shares_[1], absl::Hours(1), "b");
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->active);  // alice's share went with the stale round
}

TEST_F(CaActivationTest, ActiveRefusesMoreShares) {
  ASSERT_TRUE(activation_->AddShare(shares_[0], absl::Hours(1), "a").ok());
  ASSERT_TRUE(activation_->AddShare(shares_[1], absl::Hours(1), "b").ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      activation_->AddShare(shares_[0], absl::Hours(1), "a").status()));
}

}  // namespace
}  // namespace inkan::ca
