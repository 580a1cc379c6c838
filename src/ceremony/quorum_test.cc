#include "ceremony/quorum.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "audit/verifier.h"
#include "common/encoding.h"
#include "crypto/software_signer.h"
#include "hsm/software_key_store.h"
#include "sam/credential_service.h"

namespace inkan::ceremony {
namespace {

using testing::HasSubstr;

struct OperatorKey {
  std::string name;
  std::unique_ptr<crypto::Signer> signer;
  std::string Sign(absl::string_view message) const {
    return *crypto::SignMessage(*signer, message);
  }
};

OperatorKey NewOperator(
    absl::string_view name,
    crypto::KeyAlgorithm alg = crypto::KeyAlgorithm::kEcP256) {
  auto pkcs8 = crypto::GenerateSoftwareKey(alg);
  auto signer =
      crypto::NewSoftwareSigner(*pkcs8, {alg, crypto::HashAlgorithm::kSha256});
  EXPECT_TRUE(signer.ok());
  return {std::string(name), std::move(*signer)};
}

class QuorumTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-quorum-test-XXXXXX";
    auto keys = hsm::OpenSoftwareKeyStore(std::string(mkdtemp(tmpl)) + "/keys");
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    ASSERT_TRUE(keys_->Initialize().ok());
    store_ = storage::NewMemoryStore();
    log_ = std::make_unique<audit::AuditLog>(**keys_->AuditSigner(),
                                             "test/ceremony", clock_);
    ceremonies_ = std::make_unique<Ceremonies>(*store_, *log_, clock_);
    for (const char* n : {"alice", "bob"}) {
      ops_.push_back(NewOperator(n));
      ASSERT_TRUE(ceremonies_
                      ->AddOperatorBootstrap(
                          n, ops_.back().signer->public_key_der(), "test")
                      .ok());
    }
  }

  // Proposes operator.add for a new operator `name` (3rd, 4th, ...).
  storage::CeremonyRequestRecord ProposeAdd(
      const OperatorKey& newcomer, absl::Duration ttl = absl::Hours(1)) {
    auto req = ceremonies_->Propose(
        "operator.add",
        {{"name", newcomer.name},
         {"public_key", Base64Encode(newcomer.signer->public_key_der())}},
        "alice", ttl);
    EXPECT_TRUE(req.ok()) << req.status();
    return *req;
  }

  absl::Status Approve(const storage::CeremonyRequestRecord& req,
                       const OperatorKey& op) {
    return ceremonies_->Approve(req.id, op.name, op.Sign(req.canonical));
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

  bool LogVerifies() {
    auto signer = keys_->AuditSigner();
    auto v =
        crypto::NewVerifier((*signer)->public_key_der(), (*signer)->scheme());
    bool ok = false;
    (void)store_->Transact(
        storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
          auto r = audit::VerifyLog(tx, **v, "test/ceremony");
          ok = r.ok() && r->ok;
          return absl::OkStatus();
        });
    return ok;
  }

  FakeClock clock_;
  std::unique_ptr<hsm::KeyStore> keys_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<Ceremonies> ceremonies_;
  std::vector<OperatorKey> ops_;  // alice, bob
};

TEST_F(QuorumTest, BootstrapStopsOnceTheQuorumIsComplete) {
  OperatorKey carol = NewOperator("carol");
  auto st = ceremonies_->AddOperatorBootstrap(
      "carol", carol.signer->public_key_der(), "test");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("ceremony"));
  EXPECT_EQ(ceremonies_->Operators()->size(), 2u);
}

TEST_F(QuorumTest, KApprovalsRunItOnceAndNeverAgain) {
  OperatorKey carol = NewOperator("carol", crypto::KeyAlgorithm::kEd25519);
  auto req = ProposeAdd(carol);
  EXPECT_EQ(ceremonies_->Execute(req.id, "test").status().code(),
            absl::StatusCode::kFailedPrecondition);  // 0 of 2
  ASSERT_TRUE(Approve(req, ops_[0]).ok());
  auto one = ceremonies_->Execute(req.id, "test");
  EXPECT_EQ(one.status().code(), absl::StatusCode::kFailedPrecondition);  // k-1
  EXPECT_THAT(one.status().message(), HasSubstr("1 of the 2"));
  ASSERT_TRUE(Approve(req, ops_[1]).ok());
  auto done = ceremonies_->Execute(req.id, "test");
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_THAT(*done, HasSubstr("carol added"));
  EXPECT_EQ(ceremonies_->Operators()->size(), 3u);
  auto again = ceremonies_->Execute(req.id, "test");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("executed"));
  EXPECT_EQ(Approve(req, ops_[0]).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(LogVerifies());
  auto ev = Events();
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "ceremony.execute"), 1);
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "ceremony.approve"), 2);
  EXPECT_GE(std::count(ev.begin(), ev.end(), "ceremony.execute.refused"), 3);
}

TEST_F(QuorumTest, TwoApprovalsFromOneOperatorCountOnce) {
  auto req = ProposeAdd(NewOperator("carol"));
  ASSERT_TRUE(Approve(req, ops_[0]).ok());
  EXPECT_EQ(Approve(req, ops_[0]).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ceremonies_->Execute(req.id, "test").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ceremonies_->Status(req.id)->approved_by.size(), 1u);
}

TEST_F(QuorumTest, AnApprovalOfAnotherRequestDoesNotCount) {
  auto a = ProposeAdd(NewOperator("carol"));
  auto b = ProposeAdd(NewOperator("dave"));
  // bob signs request a's bytes but submits them for b.
  auto st = ceremonies_->Approve(b.id, "bob", ops_[1].Sign(a.canonical));
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  auto ev = Events();
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "ceremony.approve.refused"), 1);
}

TEST_F(QuorumTest, NonOperatorsCanNeitherApproveNorCancel) {
  auto req = ProposeAdd(NewOperator("carol"));
  OperatorKey mallory = NewOperator("mallory");
  EXPECT_EQ(ceremonies_->Approve(req.id, "mallory", mallory.Sign(req.canonical))
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ceremonies_
                ->Cancel(req.id, "mallory", mallory.Sign(CancelMessage(req.id)))
                .code(),
            absl::StatusCode::kPermissionDenied);
  // A real operator's name with mallory's signature is no better.
  EXPECT_EQ(
      ceremonies_->Cancel(req.id, "alice", mallory.Sign(CancelMessage(req.id)))
          .code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ceremonies_->Status(req.id)->request.state, "pending");
  ASSERT_TRUE(
      ceremonies_->Cancel(req.id, "bob", ops_[1].Sign(CancelMessage(req.id)))
          .ok());
  EXPECT_EQ(ceremonies_->Status(req.id)->request.state, "cancelled");
  ASSERT_TRUE(Approve(req, ops_[0]).code() ==
              absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ceremonies_->Execute(req.id, "test").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(LogVerifies());
}

TEST_F(QuorumTest, ExpiredRequestsCannotBeApprovedOrExecuted) {
  auto req = ProposeAdd(NewOperator("carol"), absl::Minutes(10));
  ASSERT_TRUE(Approve(req, ops_[0]).ok());
  ASSERT_TRUE(Approve(req, ops_[1]).ok());
  clock_.Advance(absl::Minutes(11));
  auto st = ceremonies_->Execute(req.id, "test");
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.status().message(), HasSubstr("expired"));
  EXPECT_EQ(ceremonies_->Operators()->size(), 2u);
}

TEST_F(QuorumTest, AConfigurationChangeMakesPendingRequestsStale) {
  OperatorKey carol = NewOperator("carol");
  auto add = ProposeAdd(carol);
  auto policy = ceremonies_->Propose(
      "policy.set", {{"key", "max_failed_tries"}, {"value", "7"}}, "bob",
      absl::Hours(1));
  ASSERT_TRUE(policy.ok());
  ASSERT_TRUE(Approve(add, ops_[0]).ok());
  ASSERT_TRUE(Approve(add, ops_[1]).ok());
  ASSERT_TRUE(Approve(*policy, ops_[0]).ok());
  ASSERT_TRUE(
      ceremonies_->Execute(add.id, "test").ok());  // the operator set changes
  EXPECT_TRUE(ceremonies_->Status(policy->id)->stale);
  auto st = ceremonies_->Execute(policy->id, "test");
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.status().message(), HasSubstr("configuration changed"));
}

TEST_F(QuorumTest, RemovedOperatorsNoLongerCount) {
  OperatorKey carol = NewOperator("carol");
  auto add = ProposeAdd(carol);
  ASSERT_TRUE(Approve(add, ops_[0]).ok());
  ASSERT_TRUE(Approve(add, ops_[1]).ok());
  ASSERT_TRUE(ceremonies_->Execute(add.id, "test").ok());
  auto rm = ceremonies_->Propose("operator.remove", {{"name", "bob"}}, "alice",
                                 absl::Hours(1));
  ASSERT_TRUE(rm.ok());
  ASSERT_TRUE(Approve(*rm, ops_[0]).ok());
  ASSERT_TRUE(
      ceremonies_->Approve(rm->id, "carol", carol.Sign(rm->canonical)).ok());
  ASSERT_TRUE(ceremonies_->Execute(rm->id, "test").ok());
  // bob can no longer approve anything.
  auto q = ceremonies_->Propose("quorum.set", {{"k", int64_t{2}}}, "alice",
                                absl::Hours(1));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(Approve(*q, ops_[1]).code(), absl::StatusCode::kPermissionDenied);
  // Removing below the quorum is refused at execution.
  auto rm2 = ceremonies_->Propose("operator.remove", {{"name", "carol"}},
                                  "alice", absl::Hours(1));
  ASSERT_TRUE(Approve(*rm2, ops_[0]).ok());
  ASSERT_TRUE(
      ceremonies_->Approve(rm2->id, "carol", carol.Sign(rm2->canonical)).ok());
  auto st = ceremonies_->Execute(rm2->id, "test");
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.status().message(), HasSubstr("fewer than the quorum"));
  EXPECT_EQ(ceremonies_->Status(rm2->id)->request.state, "pending");
  EXPECT_TRUE(LogVerifies());
}

TEST_F(QuorumTest, BadProposalsAreRefusedUpFront) {
  EXPECT_EQ(ceremonies_->Propose("rm.rf", {}, "alice", absl::Hours(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ceremonies_
          ->Propose("operator.add", {{"name", "x"}}, "alice", absl::Hours(1))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ceremonies_
                ->Propose("operator.add",
                          {{"name", "x"}, {"public_key", "bm90IGEga2V5"}},
                          "alice", absl::Hours(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ceremonies_
          ->Propose("quorum.set", {{"k", int64_t{1}}}, "alice", absl::Hours(1))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ceremonies_->Approve("feedface", "alice", "sig").code(),
            absl::StatusCode::kNotFound);
}

TEST_F(QuorumTest, UnlockIsATwoPersonAction) {
  // A locked credential comes back only through a ceremony.
  auto cs = sam::CredentialService(*store_, *keys_, *log_, clock_);
  ASSERT_TRUE(
      sam::SetPolicy(*store_, *log_, "argon2.m_cost_kib", "64", "t").ok());
  ASSERT_TRUE(sam::SetPolicy(*store_, *log_, "argon2.t_cost", "1", "t").ok());
  ASSERT_TRUE(
      sam::SetPolicy(*store_, *log_, "max_failed_tries", "1", "t").ok());
  ASSERT_TRUE(
      cs.AddUser("uma", SecretBytes(absl::string_view("123456")), {}).ok());
  auto id =
      cs.CreateCredential("uma", crypto::KeyAlgorithm::kEcP256,
                          {SecretBytes(absl::string_view("123456")), {}}, {});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(cs.Activate(*id, {SecretBytes(absl::string_view("000000")), {}}, {})
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  auto req = ceremonies_->Propose("credential.unlock", {{"credential", *id}},
                                  "alice", absl::Hours(1));
  ASSERT_TRUE(req.ok());
  ASSERT_TRUE(Approve(*req, ops_[0]).ok());
  ASSERT_TRUE(Approve(*req, ops_[1]).ok());
  ASSERT_TRUE(ceremonies_->Execute(req->id, "test").ok());
  EXPECT_TRUE(
      cs.Activate(*id, {SecretBytes(absl::string_view("123456")), {}}, {})
          .ok());
  EXPECT_TRUE(LogVerifies());
}

}  // namespace
}  // namespace inkan::ceremony
