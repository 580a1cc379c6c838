#include "audit/retention.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/segment.h"
#include "audit/verifier.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "crypto/software_signer.h"
#include "storage/store.h"

namespace inkan::audit {
namespace {

using ::testing::HasSubstr;

constexpr crypto::SignatureScheme kP256{crypto::KeyAlgorithm::kEcP256,
                                        crypto::HashAlgorithm::kSha256};
constexpr char kLogId[] = "inkan/retention-test";
absl::Duration Years(double y) { return absl::Hours(24 * 365.25 * y); }

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-retention-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    db_ = dir_ + "/inkan.db";
    auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
    signer_ = *crypto::NewSoftwareSigner(*pkcs8, kP256);
    verifier_ = *crypto::NewVerifier(signer_->public_key_der(), kP256);
    store_ = *storage::OpenSqliteStore(db_);
    log_ = std::make_unique<AuditLog>(*signer_, kLogId, clock_);
    t0_ = clock_.Now();
    // 1 system.init; erin: 2 user.add, 3 credential.create c1, 4 cert.issue
    // s1 (valid one year), 5 signature.
    ASSERT_TRUE(
        Audited([&](storage::Transaction& tx) -> absl::Status {
          RETURN_IF_ERROR(log_->Append(tx, {"system.init", {}}));
          ASSIGN_OR_RETURN(int64_t erin, tx.InsertUser({0, "erin", t0_}));
          RETURN_IF_ERROR(AddCredential(tx, "c1", erin));
          RETURN_IF_ERROR(log_->Append(tx, {"user.add", {{"user", "erin"}}}));
          RETURN_IF_ERROR(log_->Append(
              tx,
              {"credential.create", {{"credential", "c1"}, {"user", "erin"}}}));
          storage::CertificateRecord cert;
          cert.serial_hex = "01";
          cert.credential_id = "c1";
          cert.subject = "CN=erin";
          cert.der = "der";
          cert.not_before = t0_;
          cert.not_after = t0_ + Years(1);
          cert.issued = t0_;
          RETURN_IF_ERROR(tx.InsertCertificate(cert));
          RETURN_IF_ERROR(log_->Append(
              tx, {"cert.issue", {{"serial", "01"}, {"credential", "c1"}}}));
          return log_->Append(
              tx, {"signature", {{"credential", "c1"}, {"user", "erin"}}});
        }).ok());
    // Five years later, frank: 6 user.add, 7 credential.create c2 (no
    // certificate yet).
    clock_.Advance(Years(5));
    ASSERT_TRUE(
        Audited([&](storage::Transaction& tx) -> absl::Status {
          ASSIGN_OR_RETURN(int64_t frank,
                           tx.InsertUser({0, "frank", clock_.Now()}));
          RETURN_IF_ERROR(AddCredential(tx, "c2", frank));
          RETURN_IF_ERROR(log_->Append(tx, {"user.add", {{"user", "frank"}}}));
          return log_->Append(tx, {"credential.create",
                                   {{"credential", "c2"}, {"user", "frank"}}});
        }).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::Status AddCredential(storage::Transaction& tx, const char* id,
                             int64_t user) {
    storage::CredentialRecord c;
    c.id = id;
    c.user_id = user;
    c.algorithm = "ec-p256";
    c.backend = "pkcs11";
    c.public_key = "pk";
    c.sealed_key = "sealed";
    c.created = clock_.Now();
    return tx.InsertCredential(c);
  }
  absl::Status Audited(
      absl::FunctionRef<absl::Status(storage::Transaction&)> f) {
    return RunAudited(*store_, *log_, f);
  }
  PrunePlan Plan(absl::Time now, RetentionPolicy policy = {}) {
    PrunePlan plan;
    EXPECT_TRUE(store_
                    ->Transact(storage::TxMode::kReadOnly,
                               [&](storage::Transaction& tx) -> absl::Status {
                                 ASSIGN_OR_RETURN(plan,
                                                  PlanPrune(tx, policy, now));
                                 return absl::OkStatus();
                               })
                    .ok());
    return plan;
  }
  VerifyReport Verify() {
    VerifyReport report;
    EXPECT_TRUE(store_
                    ->Transact(storage::TxMode::kReadOnly,
                               [&](storage::Transaction& tx) -> absl::Status {
                                 ASSIGN_OR_RETURN(
                                     report, VerifyLog(tx, *verifier_, kLogId));
                                 return absl::OkStatus();
                               })
                    .ok());
    return report;
  }
  std::string Root(int64_t size) {
    std::string root;
    EXPECT_TRUE(store_
                    ->Transact(storage::TxMode::kReadOnly,
                               [&](storage::Transaction& tx) -> absl::Status {
                                 ASSIGN_OR_RETURN(root, RootAt(tx, size));
                                 return absl::OkStatus();
                               })
                    .ok());
    return root;
  }
  // Logs audit.prune and blanks 1..through, as `inkan audit prune` does.
  absl::Status Prune(int64_t through) {
    RETURN_IF_ERROR(Audited([&](storage::Transaction& tx) {
      return log_->Append(
          tx, {std::string(kPruneEventType), {{"through", through}}});
    }));
    return BlankSqliteAuditPrefix(db_, through);
  }
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }

  FakeClock clock_;
  absl::Time t0_;
  std::string dir_, db_;
  std::unique_ptr<crypto::Signer> signer_;
  std::unique_ptr<crypto::Verifier> verifier_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(RetentionTest, NothingGoesBeforeItsPeriodEnds) {
  PrunePlan plan = Plan(clock_.Now());
  EXPECT_EQ(plan.through, 0);
  EXPECT_EQ(plan.kept_seq, 1);
  // system.init: ten years after the end of every certificate (t0 + 1y).
  EXPECT_EQ(plan.kept_until, t0_ + Years(11));
  EXPECT_THAT(plan.kept_because, HasSubstr("system.init"));
  // One day before that, still nothing.
  EXPECT_EQ(Plan(t0_ + Years(11) - absl::Hours(24)).through, 0);
}

TEST_F(RetentionTest, AfterItsPeriodOnlyThePrefixThatEndedGoes) {
  PrunePlan plan = Plan(t0_ + Years(12));
  EXPECT_EQ(plan.through, 5);   // erin's records ended with her certificate
  EXPECT_EQ(plan.kept_seq, 6);  // frank's credential has no end yet
  EXPECT_EQ(plan.kept_until, absl::InfiniteFuture());
  EXPECT_THAT(plan.kept_because, HasSubstr("no end yet"));
  // A longer period keeps more.
  EXPECT_EQ(Plan(t0_ + Years(12), {15, 10}).through, 0);
  EXPECT_EQ(Plan(t0_ + Years(12), {10, 15}).through, 1);  // user records
}

TEST_F(RetentionTest, PrunedEntriesKeepTheTreeVerifying) {
  std::string root5 = Root(5);
  ASSERT_TRUE(Prune(5).ok());
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.pruned, 5);
  EXPECT_EQ(Root(5), root5);
  EXPECT_EQ(Plan(t0_ + Years(12)).pruned, 5);
  // The writer goes on, also when it must rebuild its state from the rows.
  ASSERT_TRUE(Audited([&](storage::Transaction& tx) {
                return log_->Append(tx, {"after.prune", {}});
              }).ok());
  Sql("DELETE FROM meta WHERE key = 'audit.state'");
  ASSERT_TRUE(Audited([&](storage::Transaction& tx) {
                return log_->Append(tx, {"after.rebuild", {}});
              }).ok());
  report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  // Segments: not of pruned entries; after them, fine.
  ASSERT_TRUE(
      store_
          ->Transact(
              storage::TxMode::kReadOnly,
              [&](storage::Transaction& tx) -> absl::Status {
                EXPECT_TRUE(absl::IsFailedPrecondition(
                    ExportSegment(tx, kLogId, signer_->public_key_der(), 3, 7)
                        .status()));
                auto seg =
                    ExportSegment(tx, kLogId, signer_->public_key_der(), 6, 7);
                EXPECT_TRUE(seg.ok()) << seg.status();
                if (seg.ok()) {
                  auto info = VerifySegment(*seg, "");
                  EXPECT_TRUE(info.ok()) << info.status();
                }
                return absl::OkStatus();
              })
          .ok());
}

TEST_F(RetentionTest, BlankingBeyondWhatAuditPruneSaysFails) {
  ASSERT_TRUE(Prune(3).ok());
  ASSERT_TRUE(Verify().ok);
  Sql("UPDATE audit_log SET entry = '' WHERE seq <= 5");
  VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 4);
  EXPECT_THAT(report.problem, HasSubstr("no audit.prune entry allows"));
}

TEST_F(RetentionTest, BlankingWithoutAuditPruneOrOutsideThePrefixFails) {
  Sql("UPDATE audit_log SET entry = '' WHERE seq = 1");
  VerifyReport report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_THAT(report.problem, HasSubstr("no audit.prune entry allows"));
  Sql("UPDATE audit_log SET entry = '' WHERE seq = 4");
  report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 4);
  EXPECT_THAT(report.problem, HasSubstr("not part of a pruned prefix"));
}

TEST_F(RetentionTest, PolicyBounds) {
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRetention({5, 10})));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRetention({10, 6})));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRetention({10, 101})));
  ASSERT_TRUE(Audited([&](storage::Transaction& tx) {
                return SetRetention(tx, *log_, {12, 8}, "cli");
              }).ok());
  RetentionPolicy p;
  ASSERT_TRUE(store_
                  ->Transact(storage::TxMode::kReadOnly,
                             [&](storage::Transaction& tx) -> absl::Status {
                               ASSIGN_OR_RETURN(p, LoadRetention(tx));
                               return absl::OkStatus();
                             })
                  .ok());
  EXPECT_EQ(p.audit_years, 12);
  EXPECT_EQ(p.auth_years, 8);
  EXPECT_TRUE(Verify().ok);
}

}  // namespace
}  // namespace inkan::audit
