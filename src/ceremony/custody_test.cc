#include "ceremony/custody.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "ceremony/sealed_share.h"
#include "ceremony/share_codec.h"
#include "crypto/digest.h"
#include "crypto/software_signer.h"
#include "hsm/software_key_store.h"

namespace inkan::ceremony {
namespace {

using testing::HasSubstr;

struct Person {
  storage::OperatorRecord record;
  SecretBytes private_key;
};

Person NewPerson(absl::string_view name, crypto::KeyAlgorithm alg) {
  auto pkcs8 = crypto::GenerateSoftwareKey(alg);
  auto signer =
      crypto::NewSoftwareSigner(*pkcs8, {alg, crypto::HashAlgorithm::kSha256});
  return {{std::string(name), (*signer)->public_key_der(), absl::Now(), true},
          *pkcs8};
}

class CustodyTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-custody-test-XXXXXX";
    keys_ = std::move(
        *hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/keys"));
    ASSERT_TRUE(keys_->Initialize().ok());
    people_.push_back(NewPerson("alice", crypto::KeyAlgorithm::kEcP256));
    people_.push_back(NewPerson("bob", crypto::KeyAlgorithm::kEcP256));
    people_.push_back(NewPerson("carol", crypto::KeyAlgorithm::kEd25519));
    for (const auto& p : people_) records_.push_back(p.record);
  }

  // Each custodian recovers their share: opens the sealed one with their own
  // key, or types in the printed text.
  std::vector<Share> SharesOf(const NewCustody& nc) {
    std::vector<Share> out;
    for (const CustodianShare& cs : nc.custody.shares) {
      const Person& p = *std::find_if(
          people_.begin(), people_.end(),
          [&](const Person& x) { return x.record.name == cs.custodian; });
      if (!cs.sealed.empty()) {
        out.push_back(*OpenSealedShare(cs.sealed, p.private_key));
      } else {
        out.push_back(*DecodeShare(nc.text_shares.at(cs.custodian)));
      }
    }
    return out;
  }

  std::unique_ptr<hsm::KeyStore> keys_;
  std::vector<Person> people_;
  std::vector<storage::OperatorRecord> records_;
};

TEST_F(CustodyTest, AnyKSharesActivateTheKeyAndFewerDoNot) {
  auto nc = CreateCustody(*keys_, crypto::KeyAlgorithm::kEcP256, records_, 2);
  ASSERT_TRUE(nc.ok()) << nc.status();
  EXPECT_EQ(nc->custody.shares.size(), 3u);
  EXPECT_FALSE(nc->custody.shares[0].sealed.empty());  // alice: P-256, sealed
  EXPECT_TRUE(nc->custody.shares[2].sealed.empty());   // carol: Ed25519, text
  EXPECT_EQ(nc->text_shares.count("carol"), 1u);
  std::vector<Share> shares = SharesOf(*nc);
  crypto::SignatureScheme scheme{crypto::KeyAlgorithm::kEcP256,
                                 crypto::HashAlgorithm::kSha256};
  auto verifier = crypto::NewVerifier(nc->custody.public_key_der, scheme);
  for (auto pair : {std::pair{0, 1}, std::pair{0, 2}, std::pair{1, 2}}) {
    std::vector<Share> two = {shares[pair.first], shares[pair.second]};
    auto key = Activate(*keys_, nc->custody, two);
    ASSERT_TRUE(key.ok()) << key.status();
    std::string d = crypto::Sha256("tbs");
    EXPECT_TRUE((*verifier)->VerifyDigest(d, *(*key)->Sign(scheme, d)).ok());
  }
  EXPECT_EQ(Activate(*keys_, nc->custody, {shares[0]}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      Activate(*keys_, nc->custody, {shares[1], shares[1]}).status().code(),
      absl::StatusCode::kFailedPrecondition);  // the same share twice counts
                                               // once
}

TEST_F(CustodyTest, AnAlteredShareIsNamedAtEntry) {
  auto nc = CreateCustody(*keys_, crypto::KeyAlgorithm::kEcP256, records_, 2);
  ASSERT_TRUE(nc.ok());
  std::vector<Share> shares = SharesOf(*nc);
  Share bad = shares[1];
  std::string v(bad.value.RevealString());
  v[0] ^= 1;
  bad.value = SecretBytes(v);
  auto st = CheckShare(nc->custody, bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("bob"));
  EXPECT_THAT(st.message(), HasSubstr("altered"));
  EXPECT_FALSE(Activate(*keys_, nc->custody, {shares[0], bad}).ok());
}

TEST_F(CustodyTest, RekeyVoidsTheOldSharesAndKeepsTheKey) {
  auto nc = CreateCustody(*keys_, crypto::KeyAlgorithm::kEcP256, records_, 2);
  ASSERT_TRUE(nc.ok());
  std::vector<Share> old = SharesOf(*nc);
  auto re = Reshare(nc->custody, {old[0], old[2]}, records_, 3);
  ASSERT_TRUE(re.ok()) << re.status();
  EXPECT_EQ(re->custody.public_key_der, nc->custody.public_key_der);
  // A new KEK seals the same HSM-wrapped key: the record changes, the key not.
  EXPECT_NE(re->custody.wrapped, nc->custody.wrapped);
  // Old shares, even with the new record and the right split id forged in,
  // open nothing.
  Custody forged = re->custody;
  forged.set_id = nc->custody.set_id;
  forged.shares = nc->custody.shares;
  forged.threshold = 2;
  auto st2 = Activate(*keys_, forged, {old[0], old[2]});
  EXPECT_EQ(st2.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(re->custody.set_id, nc->custody.set_id);
  auto st = Activate(*keys_, re->custody, {old[0], old[1], old[2]});
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status().message(), HasSubstr("voided"));
  std::vector<Share> fresh = SharesOf(*re);
  EXPECT_TRUE(Activate(*keys_, re->custody, fresh).ok());
  EXPECT_EQ(Activate(*keys_, re->custody, {fresh[0], fresh[1]}).status().code(),
            absl::StatusCode::kFailedPrecondition);  // now 3 are needed
}

// k shares without the HSM that wrapped the key give nothing: another HSM
// (another master KEK) cannot unwrap it.
TEST_F(CustodyTest, SharesAreUselessWithoutTheHsmThatMadeTheKey) {
  auto nc = CreateCustody(*keys_, crypto::KeyAlgorithm::kEcP256, records_, 2);
  ASSERT_TRUE(nc.ok());
  char tmpl[] = "/tmp/inkan-custody-other-XXXXXX";
  auto other = std::move(
      *hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/keys"));
  ASSERT_TRUE(other->Initialize().ok());
  auto st = Activate(*other, nc->custody, SharesOf(*nc));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.status().message(), HasSubstr("another HSM"));
  EXPECT_TRUE(Activate(*keys_, nc->custody, SharesOf(*nc)).ok());
}

TEST_F(CustodyTest, SavedCustodyLoadsBackExactly) {
  auto nc = CreateCustody(*keys_, crypto::KeyAlgorithm::kRsa2048, records_, 2);
  ASSERT_TRUE(nc.ok());
  auto store = storage::NewMemoryStore();
  ASSERT_TRUE(store
                  ->Transact(storage::TxMode::kReadWrite,
                             [&](storage::Transaction& tx) {
                               return SaveCustody(tx, "ca.custody",
                                                  nc->custody);
                             })
                  .ok());
  Custody loaded;
  ASSERT_TRUE(store
                  ->Transact(storage::TxMode::kReadOnly,
                             [&](storage::Transaction& tx) -> absl::Status {
                               auto c = LoadCustody(tx, "ca.custody");
                               if (!c.ok()) return c.status();
                               loaded = *c;
                               return absl::OkStatus();
                             })
                  .ok());
  EXPECT_EQ(loaded.public_key_der, nc->custody.public_key_der);
  EXPECT_EQ(loaded.wrapped, nc->custody.wrapped);
  EXPECT_EQ(loaded.set_id, nc->custody.set_id);
  ASSERT_EQ(loaded.shares.size(), 3u);
  EXPECT_EQ(loaded.shares[2].custodian, "carol");
  EXPECT_EQ(loaded.shares[1].commitment, nc->custody.shares[1].commitment);
  EXPECT_TRUE(Activate(*keys_, loaded, SharesOf(*nc)).ok());
}

TEST_F(CustodyTest, BadParametersAreRefused) {
  EXPECT_EQ(CreateCustody(*keys_, crypto::KeyAlgorithm::kEcP256, records_, 1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCustody(*keys_, crypto::KeyAlgorithm::kEcP256, records_, 4)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<storage::OperatorRecord> twice = {records_[0], records_[0]};
  EXPECT_EQ(CreateCustody(*keys_, crypto::KeyAlgorithm::kEcP256, twice, 2)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inkan::ceremony
