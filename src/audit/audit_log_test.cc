#include "audit/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/timestamp.h"
#include "audit/verifier.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/status_macros.h"
#include "crypto/software_signer.h"
#include "storage/store.h"

namespace inkan::audit {
namespace {

using storage::AuditEntryRow;
using storage::CheckpointRow;
using storage::Transaction;
using storage::TxMode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr crypto::SignatureScheme kAuditScheme{crypto::KeyAlgorithm::kEcP256,
                                               crypto::HashAlgorithm::kSha256};
constexpr char kLogId[] = "inkan.test/audit";

// A read view of a transaction with rows edited, hidden or added, as an
// attacker with write access to the database could leave them. Writes go to
// the underlying transaction.
class TamperView : public Transaction {
 public:
  explicit TamperView(Transaction& base) : base_(base) {}

  // By seq / tree_size / key: a row to show instead, or nullopt to hide it.
  std::map<int64_t, std::optional<AuditEntryRow>> entries;
  std::map<int64_t, std::optional<CheckpointRow>> checkpoints;
  std::map<std::string, std::optional<std::string>> meta;

  absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) override {
    auto it = meta.find(std::string(key));
    if (it != meta.end()) return it->second;
    return base_.GetMeta(key);
  }
  absl::Status PutMeta(absl::string_view key,
                       absl::string_view value) override {
    meta.erase(std::string(key));
    return base_.PutMeta(key, value);
  }
  absl::StatusOr<int64_t> InsertUser(const storage::UserRecord& user) override {
    return base_.InsertUser(user);
  }
  absl::StatusOr<storage::UserRecord> GetUserByName(
      absl::string_view name) override {
    return base_.GetUserByName(name);
  }
  absl::StatusOr<storage::UserRecord> GetUserById(int64_t id) override {
    return base_.GetUserById(id);
  }
  absl::StatusOr<std::vector<storage::UserRecord>> ListUsers() override {
    return base_.ListUsers();
  }
  absl::Status InsertCredential(const storage::CredentialRecord& c) override {
    return base_.InsertCredential(c);
  }
  absl::StatusOr<storage::CredentialRecord> GetCredential(
      absl::string_view id) override {
    return base_.GetCredential(id);
  }
  absl::StatusOr<std::vector<storage::CredentialRecord>> ListCredentials(
      int64_t user_id) override {
    return base_.ListCredentials(user_id);
  }
  absl::Status UpdateCredentialTries(absl::string_view id, int tries,
                                     bool locked) override {
    return base_.UpdateCredentialTries(id, tries, locked);
  }
  absl::Status InsertOperator(const storage::OperatorRecord& op) override {
    return base_.InsertOperator(op);
  }
  absl::StatusOr<storage::OperatorRecord> GetOperator(
      absl::string_view name) override {
    return base_.GetOperator(name);
  }
  absl::StatusOr<std::vector<storage::OperatorRecord>> ListOperators()
      override {
    return base_.ListOperators();
  }
  absl::Status SetOperatorActive(absl::string_view name, bool active) override {
    return base_.SetOperatorActive(name, active);
  }
  absl::Status InsertCeremonyRequest(
      const storage::CeremonyRequestRecord& req) override {
    return base_.InsertCeremonyRequest(req);
  }
  absl::StatusOr<storage::CeremonyRequestRecord> GetCeremonyRequest(
      absl::string_view id) override {
    return base_.GetCeremonyRequest(id);
  }
  absl::StatusOr<std::vector<storage::CeremonyRequestRecord>>
  ListCeremonyRequests(absl::string_view state, int64_t limit) override {
    return base_.ListCeremonyRequests(state, limit);
  }
  absl::Status CloseCeremonyRequest(absl::string_view id,
                                    absl::string_view state, absl::Time closed,
                                    absl::string_view outcome) override {
    return base_.CloseCeremonyRequest(id, state, closed, outcome);
  }
  absl::Status InsertApproval(const storage::ApprovalRecord& a) override {
    return base_.InsertApproval(a);
  }
  absl::StatusOr<std::vector<storage::ApprovalRecord>> ListApprovals(
      absl::string_view request_id) override {
    return base_.ListApprovals(request_id);
  }
  absl::Status InsertCertificate(
      const storage::CertificateRecord& cert) override {
    return base_.InsertCertificate(cert);
  }
  absl::StatusOr<storage::CertificateRecord> GetCertificate(
      absl::string_view serial_hex) override {
    return base_.GetCertificate(serial_hex);
  }
  absl::StatusOr<std::vector<storage::CertificateRecord>> ListCertificates(
      absl::string_view credential_id) override {
    return base_.ListCertificates(credential_id);
  }
  absl::Status RevokeCertificate(absl::string_view serial_hex, absl::Time at,
                                 int reason) override {
    return base_.RevokeCertificate(serial_hex, at, reason);
  }
  absl::StatusOr<std::vector<storage::CertificateRecord>>
  ListRevokedCertificates() override {
    return base_.ListRevokedCertificates();
  }
  absl::Status InsertClient(const storage::ClientRecord& client) override {
    return base_.InsertClient(client);
  }
  absl::StatusOr<storage::ClientRecord> GetClient(
      absl::string_view client_id) override {
    return base_.GetClient(client_id);
  }
  absl::StatusOr<std::vector<storage::ClientRecord>> ListClients() override {
    return base_.ListClients();
  }
  absl::Status SetClientActive(absl::string_view client_id,
                               bool active) override {
    return base_.SetClientActive(client_id, active);
  }
  absl::Status InsertGrant(const storage::GrantRecord& grant) override {
    return base_.InsertGrant(grant);
  }
  absl::StatusOr<storage::GrantRecord> GetGrant(absl::string_view id) override {
    return base_.GetGrant(id);
  }
  absl::Status UpdateGrant(absl::string_view id, int64_t uses_left,
                           absl::string_view hashes, bool revoked) override {
    return base_.UpdateGrant(id, uses_left, hashes, revoked);
  }
  absl::Status LowerGrantUses(absl::string_view id, int64_t uses_left,
                              bool revoke) override {
    return base_.LowerGrantUses(id, uses_left, revoke);
  }
  absl::StatusOr<int64_t> RevokeGrantsWithParent(
      absl::string_view parent) override {
    return base_.RevokeGrantsWithParent(parent);
  }
  absl::StatusOr<int64_t> DeleteExpiredGrants(absl::Time now) override {
    return base_.DeleteExpiredGrants(now);
  }
  absl::Status PutFactor(const storage::FactorRecord& factor) override {
    return base_.PutFactor(factor);
  }
  absl::StatusOr<storage::FactorRecord> GetFactor(
      int64_t user_id, absl::string_view kind) override {
    return base_.GetFactor(user_id, kind);
  }
  absl::StatusOr<std::vector<storage::FactorRecord>> ListFactors(
      int64_t user_id) override {
    return base_.ListFactors(user_id);
  }
  absl::Status UpdateFactorState(int64_t user_id, absl::string_view kind,
                                 int64_t last_step, int failed_tries,
                                 bool locked) override {
    return base_.UpdateFactorState(user_id, kind, last_step, failed_tries,
                                   locked);
  }
  absl::Status AppendAuditEntry(const AuditEntryRow& row) override {
    return base_.AppendAuditEntry(row);
  }
  absl::StatusOr<std::vector<AuditEntryRow>> ReadAuditEntries(
      int64_t from_seq, int64_t limit) override {
    ASSIGN_OR_RETURN(auto all, AllEntries());
    std::vector<AuditEntryRow> rows;
    for (auto it = all.lower_bound(from_seq);
         it != all.end() && it->first - from_seq < limit; ++it) {
      rows.push_back(it->second);
    }
    return rows;
  }
  absl::StatusOr<int64_t> AuditEntryCount() override {
    ASSIGN_OR_RETURN(auto all, AllEntries());
    return static_cast<int64_t>(all.size());
  }
  absl::Status AppendCheckpoint(const CheckpointRow& row) override {
    return base_.AppendCheckpoint(row);
  }
  absl::StatusOr<std::vector<CheckpointRow>> ReadCheckpoints() override {
    ASSIGN_OR_RETURN(auto all, AllCheckpoints());
    std::vector<CheckpointRow> rows;
    for (auto& [size, row] : all) rows.push_back(row);
    return rows;
  }
  absl::StatusOr<std::optional<CheckpointRow>> LatestCheckpoint() override {
    ASSIGN_OR_RETURN(auto all, AllCheckpoints());
    if (all.empty()) return std::optional<CheckpointRow>();
    return std::optional<CheckpointRow>(all.rbegin()->second);
  }

 private:
  absl::StatusOr<std::map<int64_t, AuditEntryRow>> AllEntries() {
    ASSIGN_OR_RETURN(
        std::vector<AuditEntryRow> rows,
        base_.ReadAuditEntries(1, std::numeric_limits<int32_t>::max()));
    std::map<int64_t, AuditEntryRow> all;
    for (auto& row : rows) all[row.seq] = row;
    for (auto& [seq, row] : entries) {
      if (row.has_value()) {
        all[seq] = *row;
        all[seq].seq = seq;
      } else {
        all.erase(seq);
      }
    }
    return all;
  }
  absl::StatusOr<std::map<int64_t, CheckpointRow>> AllCheckpoints() {
    ASSIGN_OR_RETURN(std::vector<CheckpointRow> rows, base_.ReadCheckpoints());
    std::map<int64_t, CheckpointRow> all;
    for (auto& row : rows) all[row.tree_size] = row;
    for (auto& [size, row] : checkpoints) {
      if (row.has_value()) {
        all[size] = *row;
        all[size].tree_size = size;
      } else {
        all.erase(size);
      }
    }
    return all;
  }

  Transaction& base_;
};

// A signer that cannot reach its HSM.
class UnreachableSigner : public crypto::Signer {
 public:
  explicit UnreachableSigner(const crypto::Signer& real) : real_(real) {}
  absl::StatusOr<std::string> SignDigest(absl::string_view) const override {
    return absl::UnavailableError("HSM unreachable");
  }
  const crypto::SignatureScheme& scheme() const override {
    return real_.scheme();
  }
  const std::string& public_key_der() const override {
    return real_.public_key_der();
  }

 private:
  const crypto::Signer& real_;
};

struct AuditKey {
  std::unique_ptr<crypto::Signer> signer;
  std::unique_ptr<crypto::Verifier> verifier;
};

AuditKey NewAuditKey() {
  auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
  EXPECT_TRUE(pkcs8.ok()) << pkcs8.status();
  auto signer = crypto::NewSoftwareSigner(*pkcs8, kAuditScheme);
  EXPECT_TRUE(signer.ok()) << signer.status();
  auto verifier =
      crypto::NewVerifier((*signer)->public_key_der(), kAuditScheme);
  EXPECT_TRUE(verifier.ok()) << verifier.status();
  return {*std::move(signer), *std::move(verifier)};
}

Event MakeEvent(int i) {
  return Event{"credential.create",
               {{"user", absl::StrCat("user", i)},
                {"credential", absl::StrCat("cred", i)},
                {"algorithm", "ec-p256"},
                {"actor", "admin"},
                {"n", int64_t{i}}}};
}

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogTest()
      : key_(NewAuditKey()),
        store_(storage::NewMemoryStore()),
        log_(*key_.signer, kLogId, clock_) {}

  // One audited transaction appending `count` events numbered from `first`.
  absl::Status AppendTx(int first, int count, const AuditLog* log = nullptr,
                        storage::Store* store = nullptr) {
    const AuditLog& l = log != nullptr ? *log : log_;
    return RunAudited(store != nullptr ? *store : *store_, l,
                      [&](Transaction& tx) -> absl::Status {
                        for (int i = first; i < first + count; ++i) {
                          RETURN_IF_ERROR(l.Append(tx, MakeEvent(i)));
                        }
                        return absl::OkStatus();
                      });
  }

  // Five transactions of two entries: checkpoints at 2, 4, 6, 8, 10.
  void AppendTenInFivePairs() {
    for (int i = 0; i < 5; ++i) {
      clock_.Advance(absl::Seconds(1));
      ASSERT_TRUE(AppendTx(2 * i + 1, 2).ok());
    }
  }

  VerifyReport Verify(
      const crypto::Verifier* key = nullptr, absl::string_view log_id = kLogId,
      std::function<void(TamperView&, Transaction&)> tamper = nullptr) {
    VerifyReport report;
    absl::Status s = store_->Transact(
        TxMode::kReadOnly, [&](Transaction& tx) -> absl::Status {
          TamperView view(tx);
          if (tamper) tamper(view, tx);
          ASSIGN_OR_RETURN(
              report,
              VerifyLog(view, key != nullptr ? *key : *key_.verifier, log_id));
          return absl::OkStatus();
        });
    EXPECT_TRUE(s.ok()) << s;
    return report;
  }

  VerifyReport VerifyTampered(
      std::function<void(TamperView&, Transaction&)> tamper) {
    return Verify(nullptr, kLogId, std::move(tamper));
  }

  static AuditEntryRow Row(Transaction& tx, int64_t seq) {
    auto rows = tx.ReadAuditEntries(seq, 1);
    EXPECT_TRUE(rows.ok() && rows->size() == 1);
    return (*rows)[0];
  }
  static CheckpointRow Checkpoint(Transaction& tx, int64_t size) {
    absl::StatusOr<std::vector<CheckpointRow>> rows = tx.ReadCheckpoints();
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok()) return {};
    for (const CheckpointRow& row : *rows) {
      if (row.tree_size == size) return row;
    }
    ADD_FAILURE() << "no checkpoint at size " << size;
    return {};
  }

  FakeClock clock_;
  AuditKey key_;
  std::unique_ptr<storage::Store> store_;
  AuditLog log_;
};

#define EXPECT_BAD(report, seq, text)                 \
  do {                                                \
    VerifyReport r_ = (report);                       \
    EXPECT_FALSE(r_.ok);                              \
    EXPECT_EQ(r_.first_bad_seq, (seq)) << r_.problem; \
    EXPECT_THAT(r_.problem, HasSubstr(text));         \
  } while (0)

TEST_F(AuditLogTest, EmptyLogVerifies) {
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 0);
  EXPECT_EQ(report.checkpoints, 0);
  EXPECT_EQ(report.first_bad_seq, 0);
}

TEST_F(AuditLogTest, AppendCheckpointVerifyRoundTrip) {
  ASSERT_TRUE(AppendTx(1, 1).ok());
  ASSERT_TRUE(AppendTx(2, 2).ok());
  ASSERT_TRUE(AppendTx(4, 3).ok());
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 6);
  EXPECT_EQ(report.checkpoints, 3);
  EXPECT_EQ(report.problem, "");

  ASSERT_TRUE(
      store_
          ->Transact(TxMode::kReadOnly,
                     [&](Transaction& tx) -> absl::Status {
                       AuditEntryRow row = Row(tx, 2);
                       EXPECT_EQ(row.entry,
                                 R"({"data":{"actor":"admin","algorithm":)"
                                 R"("ec-p256","credential":"cred2","n":2,)"
                                 R"("user":"user2"},"seq":2,"time":)"
                                 R"("2027-01-01T00:00:00.000000Z","type":)"
                                 R"("credential.create"})");
                       EXPECT_EQ(row.leaf_hash, LeafHash(row.entry));
                       auto cps = *tx.ReadCheckpoints();
                       EXPECT_EQ(cps.size(), 3u);
                       auto note = ParseCheckpointNote(cps[2].note);
                       EXPECT_TRUE(note.ok());
                       EXPECT_EQ(note->tree_size, 6);
                       EXPECT_EQ(note->log_id, kLogId);
                       EXPECT_TRUE(tx.GetMeta(kAuditStateKey)->has_value());
                       return absl::OkStatus();
                     })
          .ok());
}

TEST_F(AuditLogTest, NothingAppendedMeansNoCheckpoint) {
  ASSERT_TRUE(AppendTx(1, 2).ok());
  ASSERT_TRUE(AppendTx(3, 0).ok());
  ASSERT_TRUE(store_
                  ->Transact(TxMode::kReadOnly,
                             [&](Transaction& tx) -> absl::Status {
                               EXPECT_EQ(tx.ReadCheckpoints()->size(), 1u);
                               // Nothing to do, so a read-only tx is fine.
                               return log_.Checkpoint(tx);
                             })
                  .ok());
}

TEST_F(AuditLogTest, FailedTransactionLeavesNoTrace) {
  ASSERT_TRUE(AppendTx(1, 2).ok());
  absl::Status s = RunAudited(*store_, log_, [&](Transaction& tx) {
    EXPECT_TRUE(log_.Append(tx, MakeEvent(3)).ok());
    EXPECT_TRUE(log_.Append(tx, MakeEvent(4)).ok());
    return absl::PermissionDeniedError("operator said no");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(store_
                  ->Transact(TxMode::kReadOnly,
                             [&](Transaction& tx) -> absl::Status {
                               EXPECT_EQ(*tx.AuditEntryCount(), 2);
                               EXPECT_EQ(tx.ReadCheckpoints()->size(), 1u);
                               return absl::OkStatus();
                             })
                  .ok());
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  ASSERT_TRUE(AppendTx(3, 1).ok());
  EXPECT_TRUE(Verify().ok);
}

TEST_F(AuditLogTest, UnreachableSignerLeavesNoTrace) {
  UnreachableSigner broken(*key_.signer);
  AuditLog broken_log(broken, kLogId, clock_);
  EXPECT_EQ(AppendTx(1, 2, &broken_log).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(store_
                  ->Transact(TxMode::kReadOnly,
                             [&](Transaction& tx) -> absl::Status {
                               EXPECT_EQ(*tx.AuditEntryCount(), 0);
                               EXPECT_FALSE(
                                   tx.GetMeta(kAuditStateKey)->has_value());
                               return absl::OkStatus();
                             })
                  .ok());
  ASSERT_TRUE(AppendTx(1, 2).ok());
  EXPECT_TRUE(Verify().ok);
}

TEST_F(AuditLogTest, RejectsMalformedEventsAndConfiguration) {
  auto append = [&](const Event& e) {
    return RunAudited(*store_, log_,
                      [&](Transaction& tx) { return log_.Append(tx, e); });
  };
  EXPECT_EQ(append({"", {}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(append({"user.login", {{"pin", "1234"}}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      append({"user.login", {{"a", int64_t{1}}, {"a", int64_t{2}}}}).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(append({"user.login", {{"name", "\xff"}}}).code(),
            absl::StatusCode::kInvalidArgument);

  AuditLog bad_id(*key_.signer, "has a space", clock_);
  EXPECT_EQ(AppendTx(1, 1, &bad_id).code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(AppendTx(1, 1).ok());
  AuditLog other(*key_.signer, "inkan.other/audit", clock_);
  EXPECT_EQ(AppendTx(2, 1, &other).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Verify().ok);
}

TEST_F(AuditLogTest, CheckpointTimeNeverGoesBackwards) {
  ASSERT_TRUE(AppendTx(1, 1).ok());
  clock_.Advance(absl::Hours(-1));  // e.g. another host, behind
  ASSERT_TRUE(AppendTx(2, 1).ok());
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
}

TEST_F(AuditLogTest, LostOrStaleStateIsRebuilt) {
  ASSERT_TRUE(AppendTx(1, 3).ok());
  for (std::string bad : {std::string("garbage"), std::string("v1 1 0"),
                          std::string("v1 7 3:00:11")}) {
    ASSERT_TRUE(store_
                    ->Transact(TxMode::kReadWrite,
                               [&](Transaction& tx) {
                                 return tx.PutMeta(kAuditStateKey, bad);
                               })
                    .ok());
    absl::Status s = AppendTx(4, 1);
    ASSERT_TRUE(s.ok()) << bad << ": " << s;
  }
  // A state with the right size but a forged compact range: the writer
  // notices it does not hash to the signed root and recomputes it.
  CompactRange forged;
  for (int i = 0; i < 5; ++i) forged.Append(LeafHash("forged"));
  ASSERT_TRUE(store_
                  ->Transact(TxMode::kReadWrite,
                             [&](Transaction& tx) {
                               return tx.PutMeta(
                                   kAuditStateKey,
                                   absl::StrCat("v1 5 ", forged.Serialize()));
                             })
                  .ok());
  ASSERT_TRUE(AppendTx(7, 1).ok());
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 7);
}

TEST_F(AuditLogTest, WriterRefusesToExtendATamperedLog) {
  AppendTenInFivePairs();
  absl::Status s = store_->Transact(
      TxMode::kReadWrite, [&](Transaction& tx) -> absl::Status {
        TamperView view(tx);
        AuditEntryRow row = Row(tx, 3);
        row.entry = absl::StrReplaceAll(row.entry, {{"user3", "mallory"}});
        row.leaf_hash = LeafHash(row.entry);
        view.entries[3] = row;
        view.meta[std::string(kAuditStateKey)] =
            std::nullopt;  // force a rebuild
        RETURN_IF_ERROR(log_.Append(view, MakeEvent(11)));
        return log_.Checkpoint(view);
      });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("do not match the signed checkpoint"));
  EXPECT_TRUE(Verify().ok);  // rolled back
}

TEST_F(AuditLogTest, DetectsAnEditedEntry) {
  AppendTenInFivePairs();
  ASSERT_TRUE(Verify().ok);
  EXPECT_BAD(
      VerifyTampered([&](TamperView& v, Transaction& tx) {
        AuditEntryRow row = Row(tx, 5);
        row.entry = absl::StrReplaceAll(row.entry, {{"user5", "mallory"}});
        v.entries[5] = row;
      }),
      5, "entry 5 was altered");
}

TEST_F(AuditLogTest, DetectsAnEditedEntryWithItsLeafHashRewritten) {
  AppendTenInFivePairs();
  EXPECT_BAD(
      VerifyTampered([&](TamperView& v, Transaction& tx) {
        AuditEntryRow row = Row(tx, 5);
        row.entry = absl::StrReplaceAll(row.entry, {{"user5", "mallory"}});
        row.leaf_hash = LeafHash(row.entry);
        v.entries[5] = row;
      }),
      5, "entries 5..6 do not match the signed checkpoint at size 6");
  // The second entry of a pair: still named by the range it falls in.
  EXPECT_BAD(
      VerifyTampered([&](TamperView& v, Transaction& tx) {
        AuditEntryRow row = Row(tx, 8);
        row.entry = absl::StrReplaceAll(row.entry, {{"user8", "mallory"}});
        row.leaf_hash = LeafHash(row.entry);
        v.entries[8] = row;
      }),
      7, "entries 7..8 do not match the signed checkpoint at size 8");
}

TEST_F(AuditLogTest, DetectsADeletedRow) {
  AppendTenInFivePairs();
  EXPECT_BAD(VerifyTampered([](TamperView& v, Transaction&) {
               v.entries[5] = std::nullopt;
             }),
             5, "entry 5 is missing");
  EXPECT_BAD(VerifyTampered([](TamperView& v, Transaction&) {
               v.entries[10] = std::nullopt;
             }),
             10, "entry 10 is missing (the checkpoint at size 10 covers it)");
}

TEST_F(AuditLogTest, DetectsSwappedRows) {
  AppendTenInFivePairs();
  EXPECT_BAD(VerifyTampered([&](TamperView& v, Transaction& tx) {
               v.entries[3] = Row(tx, 7);
               v.entries[7] = Row(tx, 3);
             }),
             3, "entry at row 3 says seq 7: rows reordered or replaced");
  // Swapped with the seq inside the JSON (and the leaf hashes) fixed up too:
  // only the signed root can tell.
  EXPECT_BAD(
      VerifyTampered([&](TamperView& v, Transaction& tx) {
        AuditEntryRow a = Row(tx, 3), b = Row(tx, 7);
        std::swap(a.entry, b.entry);
        a.entry = absl::StrReplaceAll(a.entry, {{"\"seq\":7", "\"seq\":3"}});
        b.entry = absl::StrReplaceAll(b.entry, {{"\"seq\":3", "\"seq\":7"}});
        a.leaf_hash = LeafHash(a.entry);
        b.leaf_hash = LeafHash(b.entry);
        v.entries[3] = a;
        v.entries[7] = b;
      }),
      3, "entries 3..4 do not match the signed checkpoint at size 4");
}

TEST_F(AuditLogTest, DetectsANonCanonicalEntry) {
  AppendTenInFivePairs();
  EXPECT_BAD(VerifyTampered([&](TamperView& v, Transaction& tx) {
               AuditEntryRow row = Row(tx, 4);
               row.entry = absl::StrReplaceAll(row.entry, {{",", ", "}});
               row.leaf_hash = LeafHash(row.entry);
               v.entries[4] = row;
             }),
             4, "entry 4 is not canonical");
}

TEST_F(AuditLogTest, DetectsDeletedCheckpoints) {
  AppendTenInFivePairs();
  EXPECT_BAD(VerifyTampered([](TamperView& v, Transaction&) {
               v.checkpoints[10] = std::nullopt;
             }),
             9, "entries 9..10 are not covered by a signed checkpoint");
  EXPECT_BAD(VerifyTampered([](TamperView& v, Transaction&) {
               for (int64_t s : {2, 4, 6, 8, 10})
                 v.checkpoints[s] = std::nullopt;
             }),
             1, "entries 1..10 are not covered by a signed checkpoint");
  // A middle one only: the next good checkpoint still covers everything.
  VerifyReport report = VerifyTampered(
      [](TamperView& v, Transaction&) { v.checkpoints[4] = std::nullopt; });
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints, 4);
}

TEST_F(AuditLogTest, DetectsAnUnsignedEntry) {
  AppendTenInFivePairs();
  ASSERT_TRUE(store_
                  ->Transact(TxMode::kReadWrite,
                             [&](Transaction& tx) {
                               return log_.Append(tx, MakeEvent(11));
                             })
                  .ok());
  EXPECT_BAD(Verify(), 11,
             "entries 11..11 are not covered by a signed checkpoint");
}

TEST_F(AuditLogTest, WriterRefusesToSignRowsItDidNotWrite) {
  ASSERT_TRUE(AppendTx(1, 3).ok());
  // A row added behind the writer's back, straight into the table.
  ASSERT_TRUE(store_
                  ->Transact(TxMode::kReadWrite,
                             [&](Transaction& tx) {
                               AuditEntryRow row = Row(tx, 3);
                               row.seq = 4;
                               row.entry = absl::StrReplaceAll(
                                   row.entry, {{"\"seq\":3", "\"seq\":4"}});
                               row.leaf_hash = LeafHash(row.entry);
                               return tx.AppendAuditEntry(row);
                             })
                  .ok());
  EXPECT_BAD(Verify(), 4,
             "entries 4..4 are not covered by a signed checkpoint");
  absl::Status s = AppendTx(5, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("audit entries 4..4 follow the latest "
                                     "checkpoint but no audit writer"));
}

TEST_F(AuditLogTest, NextTransactionCoversAnEntryAppendedWithoutCheckpoint) {
  // A caller bug (Append outside RunAudited) rather than tampering: the
  // writer recorded the entry, so the next checkpoint covers it.
  ASSERT_TRUE(AppendTx(1, 2).ok());
  ASSERT_TRUE(store_
                  ->Transact(TxMode::kReadWrite,
                             [&](Transaction& tx) {
                               return log_.Append(tx, MakeEvent(3));
                             })
                  .ok());
  EXPECT_BAD(Verify(), 3, "entries 3..3 are not covered");
  ASSERT_TRUE(AppendTx(4, 1).ok());
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 4);
}

TEST_F(AuditLogTest, DetectsAForgedCheckpoint) {
  AppendTenInFivePairs();
  EXPECT_BAD(VerifyTampered([&](TamperView& v, Transaction& tx) {
               CheckpointRow cp = Checkpoint(tx, 6);
               cp.signature[cp.signature.size() / 2] ^= 0x01;
               v.checkpoints[6] = cp;
             }),
             5, "checkpoint at size 6: bad signature");
  // A note rewritten to match edited entries, keeping the old signature.
  EXPECT_BAD(
      VerifyTampered([&](TamperView& v, Transaction& tx) {
        AuditEntryRow row = Row(tx, 5);
        row.entry = absl::StrReplaceAll(row.entry, {{"user5", "mallory"}});
        row.leaf_hash = LeafHash(row.entry);
        v.entries[5] = row;
        std::vector<std::string> leaves;
        for (int64_t s = 1; s <= 6; ++s) {
          leaves.push_back(s == 5 ? row.leaf_hash : Row(tx, s).leaf_hash);
        }
        CheckpointRow cp = Checkpoint(tx, 6);
        CheckpointNote note = *ParseCheckpointNote(cp.note);
        note.root_hash = RootFromLeafHashes(leaves);
        cp.note = *FormatCheckpointNote(note);
        v.checkpoints[6] = cp;
      }),
      5, "checkpoint at size 6: bad signature");
  // A checkpoint signed by another key.
  AuditKey other = NewAuditKey();
  EXPECT_BAD(VerifyTampered([&](TamperView& v, Transaction& tx) {
               CheckpointRow cp = Checkpoint(tx, 8);
               cp.signature = *SignCheckpointNote(*other.signer, cp.note);
               v.checkpoints[8] = cp;
             }),
             7, "checkpoint at size 8: bad signature");
}

TEST_F(AuditLogTest, DetectsMalformedOrMisplacedCheckpoints) {
  AppendTenInFivePairs();
  EXPECT_BAD(VerifyTampered([&](TamperView& v, Transaction& tx) {
               CheckpointRow cp = Checkpoint(tx, 4);
               cp.note += "extra\n";
               v.checkpoints[4] = cp;
             }),
             3, "checkpoint at size 4: note has 6 lines");
  // A genuine checkpoint moved to another size.
  EXPECT_BAD(VerifyTampered([&](TamperView& v, Transaction& tx) {
               v.checkpoints[7] = Checkpoint(tx, 6);
               v.checkpoints[6] = std::nullopt;
             }),
             5, "checkpoint at size 7: its note says size 6");
  // Signed by the real key but going back in time (a misbehaving writer).
  EXPECT_BAD(VerifyTampered([&](TamperView& v, Transaction& tx) {
               CheckpointRow cp = Checkpoint(tx, 6);
               CheckpointNote note = *ParseCheckpointNote(cp.note);
               note.time -= absl::Hours(1);
               cp.note = *FormatCheckpointNote(note);
               cp.signature = *SignCheckpointNote(*key_.signer, cp.note);
               v.checkpoints[6] = cp;
             }),
             5, "checkpoint at size 6: time");
}

TEST_F(AuditLogTest, DetectsWrongLogIdAndWrongKey) {
  AppendTenInFivePairs();
  EXPECT_BAD(Verify(nullptr, "inkan.other/audit"), 1,
             "checkpoint at size 2: log id \"inkan.test/audit\", expected "
             "\"inkan.other/audit\"");
  AuditKey other = NewAuditKey();
  EXPECT_BAD(Verify(other.verifier.get()), 1,
             "checkpoint at size 2: bad signature");
}

TEST_F(AuditLogTest, DetectsAGapLongerThanABatch) {
  ASSERT_TRUE(AppendTx(1, 1030).ok());
  ASSERT_TRUE(AppendTx(1031, 1100).ok());
  VerifyReport good = Verify();
  EXPECT_TRUE(good.ok) << good.problem;
  EXPECT_EQ(good.entries, 2130);
  // Rows 1025..2100 and the checkpoint at 2130 gone, 2101..2130 left behind.
  EXPECT_BAD(VerifyTampered([](TamperView& v, Transaction&) {
               for (int64_t s = 1025; s <= 2100; ++s)
                 v.entries[s] = std::nullopt;
               v.checkpoints[2130] = std::nullopt;
             }),
             1025, "entry 1025 is missing");
}

TEST_F(AuditLogTest, TwoWritersInterleave) {
  // Two "processes": separate AuditLog objects (and clocks) on one store.
  FakeClock other_clock(clock_.Now() - absl::Minutes(5));
  AuditLog other(*key_.signer, kLogId, other_clock);
  std::thread a([&] {
    for (int i = 0; i < 40; ++i) {
      clock_.Advance(absl::Milliseconds(3));
      EXPECT_TRUE(AppendTx(1000 + i, 1 + i % 3).ok());
    }
  });
  std::thread b([&] {
    for (int i = 0; i < 40; ++i) {
      other_clock.Advance(absl::Milliseconds(5));
      EXPECT_TRUE(AppendTx(2000 + i, 1 + i % 2, &other).ok());
    }
  });
  a.join();
  b.join();
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.checkpoints, 80);
  int expected = 0;
  for (int i = 0; i < 40; ++i) expected += 1 + i % 3 + 1 + i % 2;
  EXPECT_EQ(report.entries, expected);
}

TEST_F(AuditLogTest, ProofsCheckAgainstSignedCheckpoints) {
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(AppendTx(3 * i + 1, 1 + i % 3).ok());
  ASSERT_TRUE(
      store_
          ->Transact(
              TxMode::kReadOnly,
              [&](Transaction& tx) -> absl::Status {
                std::vector<CheckpointNote> notes;
                ASSIGN_OR_RETURN(std::vector<CheckpointRow> cps,
                                 tx.ReadCheckpoints());
                for (const CheckpointRow& cp : cps) {
                  EXPECT_TRUE(VerifyCheckpointSignature(*key_.verifier, cp.note,
                                                        cp.signature)
                                  .ok());
                  notes.push_back(*ParseCheckpointNote(cp.note));
                }
                for (const CheckpointNote& note : notes) {
                  for (int64_t seq = 1; seq <= note.tree_size; ++seq) {
                    auto proof = InclusionProofFor(tx, seq, note.tree_size);
                    EXPECT_TRUE(proof.ok()) << proof.status();
                    EXPECT_TRUE(VerifyInclusion(Row(tx, seq).leaf_hash, seq - 1,
                                                note.tree_size, *proof,
                                                note.root_hash)
                                    .ok())
                        << seq << " in " << note.tree_size;
                  }
                  for (const CheckpointNote& old : notes) {
                    if (old.tree_size > note.tree_size) continue;
                    auto proof =
                        ConsistencyProofFor(tx, old.tree_size, note.tree_size);
                    EXPECT_TRUE(proof.ok()) << proof.status();
                    EXPECT_TRUE(VerifyConsistency(old.tree_size, note.tree_size,
                                                  old.root_hash, note.root_hash,
                                                  *proof)
                                    .ok());
                  }
                }
                int64_t n = notes.back().tree_size;
                EXPECT_EQ(InclusionProofFor(tx, 0, n).status().code(),
                          absl::StatusCode::kInvalidArgument);
                EXPECT_EQ(InclusionProofFor(tx, n + 1, n).status().code(),
                          absl::StatusCode::kInvalidArgument);
                EXPECT_EQ(InclusionProofFor(tx, 1, n + 1).status().code(),
                          absl::StatusCode::kOutOfRange);
                EXPECT_EQ(ConsistencyProofFor(tx, 2, 1).status().code(),
                          absl::StatusCode::kInvalidArgument);
                EXPECT_EQ(ConsistencyProofFor(tx, 1, n + 1).status().code(),
                          absl::StatusCode::kOutOfRange);
                return absl::OkStatus();
              })
          .ok());
}

// The worked example of doc/audit_log_format.md §9, written by the real
// writer: if this test changes, the document must too.
TEST(DocumentExample, MatchesTheSpec) {
  FakeClock clock;
  AuditKey key = NewAuditKey();
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  AuditLog log(*key.signer, "inkan.example.jp/audit", clock);
  auto at = [&](absl::string_view t) { clock.Set(*ParseTimestamp(t)); };

  ASSERT_TRUE(RunAudited(*store, log, [&](Transaction& tx) {
                at("2026-11-26T09:00:00.123456Z");
                return log.Append(tx, {"credential.create",
                                       {{"user", "alice"},
                                        {"credential", "3f9a0c51"},
                                        {"algorithm", "ec-p256"},
                                        {"actor", "admin"}}});
              }).ok());
  ASSERT_TRUE(RunAudited(*store, log, [&](Transaction& tx) -> absl::Status {
                at("2026-11-26T09:00:05.000001Z");
                RETURN_IF_ERROR(log.Append(tx, {"credential.activate",
                                                {{"actor", "alice"},
                                                 {"credential", "3f9a0c51"},
                                                 {"ok", false},
                                                 {"reason", "wrong PIN"},
                                                 {"tries", int64_t{1}}}}));
                at("2026-11-26T09:00:09.500000Z");
                RETURN_IF_ERROR(log.Append(tx, {"credential.activate",
                                                {{"actor", "alice"},
                                                 {"credential", "3f9a0c51"},
                                                 {"ok", true},
                                                 {"tries", int64_t{0}}}}));
                at("2026-11-26T09:00:09.612345Z");
                return absl::OkStatus();
              }).ok());

  ASSERT_TRUE(
      store
          ->Transact(
              TxMode::kReadOnly,
              [&](Transaction& tx) -> absl::Status {
                ASSIGN_OR_RETURN(auto rows, tx.ReadAuditEntries(1, 10));
                EXPECT_EQ(rows.size(), 3u);
                EXPECT_EQ(rows[0].entry,
                          R"({"data":{"actor":"admin","algorithm":"ec-p256",)"
                          R"("credential":"3f9a0c51","user":"alice"},"seq":1,)"
                          R"("time":"2026-11-26T09:00:00.123456Z",)"
                          R"("type":"credential.create"})");
                EXPECT_EQ(
                    rows[1].entry,
                    R"({"data":{"actor":"alice","credential":"3f9a0c51",)"
                    R"("ok":false,"reason":"wrong PIN","tries":1},"seq":2,)"
                    R"("time":"2026-11-26T09:00:05.000001Z",)"
                    R"("type":"credential.activate"})");
                EXPECT_EQ(rows[2].entry,
                          R"({"data":{"actor":"alice","credential":"3f9a0c51",)"
                          R"("ok":true,"tries":0},"seq":3,)"
                          R"("time":"2026-11-26T09:00:09.500000Z",)"
                          R"("type":"credential.activate"})");
                const char* const kLeaves[] = {
                    "9a868f091f47196bfcf4e82385538fd8bcd5011b3c06771a690dd0edf8"
                    "22dde8",
                    "76116789b8a5feef2bd5d7149b67f19f924395513458e494664c5ebf39"
                    "201b0d",
                    "345f26e0baae2f1653e9ca80ac8e25330e7908eb97cf4e34a5d06bb1ed"
                    "8a7258"};
                std::vector<std::string> leaves;
                for (int i = 0; i < 3; ++i) {
                  EXPECT_EQ(HexEncode(rows[i].leaf_hash), kLeaves[i]);
                  leaves.push_back(rows[i].leaf_hash);
                }
                EXPECT_EQ(HexEncode(NodeHash(leaves[0], leaves[1])),
                          "943607b4bf512de729ea80267e51261714531dfe52f22bb7341f"
                          "661221516502");
                EXPECT_EQ(HexEncode(RootFromLeafHashes(leaves)),
                          "67117f98d8ef5903a84d41e9b10b1d57d2115bf40b699b8bec22"
                          "97d62bcae3f7");

                ASSIGN_OR_RETURN(auto cps, tx.ReadCheckpoints());
                EXPECT_EQ(cps.size(), 2u);
                EXPECT_EQ(cps[0].tree_size, 1);
                EXPECT_EQ(cps[1].tree_size, 3);
                EXPECT_EQ(cps[1].note,
                          "inkan.audit.v1\n"
                          "inkan.example.jp/audit\n"
                          "3\n"
                          "ZxF/mNjvWQOoTUHpsQsdV9IRW/QLaZuL7CKX1ivK4/c=\n"
                          "2026-11-26T09:00:09.612345Z\n");
                EXPECT_EQ(cps[1].note.size(), 113u);
                EXPECT_TRUE(VerifyMessage(*key.verifier, kAuditScheme,
                                          cps[1].note, cps[1].signature)
                                .ok());
                EXPECT_EQ(
                    *tx.GetMeta(kAuditStateKey),
                    "v1 3 3:"
                    "943607b4bf512de729ea80267e51261714531dfe52f22bb7341f661221"
                    "516502:"
                    "345f26e0baae2f1653e9ca80ac8e25330e7908eb97cf4e34a5d06bb1ed"
                    "8a7258");

                EXPECT_THAT(*InclusionProofFor(tx, 2, 3),
                            ElementsAre(leaves[0], leaves[2]));
                EXPECT_THAT(*ConsistencyProofFor(tx, 1, 3),
                            ElementsAre(leaves[1], leaves[2]));

                auto verify = [&](std::function<void(TamperView&)> tamper) {
                  TamperView view(tx);
                  tamper(view);
                  return *VerifyLog(view, *key.verifier,
                                    "inkan.example.jp/audit");
                };
                EXPECT_TRUE(verify([](TamperView&) {}).ok);
                AuditEntryRow edited = rows[1];
                edited.entry =
                    absl::StrReplaceAll(edited.entry, {{"false", "true"}});
                EXPECT_BAD(
                    verify([&](TamperView& v) { v.entries[2] = edited; }), 2,
                    "entry 2 was altered");
                edited.leaf_hash = LeafHash(edited.entry);
                EXPECT_BAD(
                    verify([&](TamperView& v) { v.entries[2] = edited; }), 2,
                    "entries 2..3 do not match the signed checkpoint at "
                    "size 3");
                EXPECT_BAD(
                    verify([](TamperView& v) { v.entries[2] = std::nullopt; }),
                    2, "entry 2 is missing");
                EXPECT_BAD(
                    verify(
                        [](TamperView& v) { v.checkpoints[3] = std::nullopt; }),
                    2, "entries 2..3 are not covered by a signed checkpoint");
                return absl::OkStatus();
              })
          .ok());
}

// The same log in SQLite, tampered with by plain SQL as an attacker with the
// database file would.
class SqliteAuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "inkan_audit_XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/inkan.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err != nullptr ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  VerifyReport Verify() {
    auto store = storage::OpenSqliteStore(path_);
    EXPECT_TRUE(store.ok()) << store.status();
    VerifyReport report;
    EXPECT_TRUE((*store)
                    ->Transact(TxMode::kReadOnly,
                               [&](Transaction& tx) -> absl::Status {
                                 ASSIGN_OR_RETURN(
                                     report,
                                     VerifyLog(tx, *key_.verifier, kLogId));
                                 return absl::OkStatus();
                               })
                    .ok());
    return report;
  }

  FakeClock clock_;
  AuditKey key_ = NewAuditKey();
  std::string dir_, path_;
};

absl::Status AppendTx(storage::Store& store, const AuditLog& log, int first,
                      int count) {
  return RunAudited(store, log, [&](Transaction& tx) -> absl::Status {
    for (int i = first; i < first + count; ++i) {
      RETURN_IF_ERROR(log.Append(tx, MakeEvent(i)));
    }
    return absl::OkStatus();
  });
}

TEST_F(SqliteAuditLogTest, TwoProcessesThenSqlTampering) {
  {
    // Two connections to one file, as two processes would have.
    auto store_a = storage::OpenSqliteStore(path_);
    auto store_b = storage::OpenSqliteStore(path_);
    ASSERT_TRUE(store_a.ok() && store_b.ok());
    FakeClock clock_b(clock_.Now());
    AuditLog log_a(*key_.signer, kLogId, clock_);
    AuditLog log_b(*key_.signer, kLogId, clock_b);
    std::thread a([&] {
      for (int i = 0; i < 15; ++i) {
        EXPECT_TRUE(AppendTx(**store_a, log_a, 100 + 2 * i, 2).ok());
      }
    });
    std::thread b([&] {
      for (int i = 0; i < 15; ++i) {
        clock_b.Advance(absl::Milliseconds(1));
        EXPECT_TRUE(AppendTx(**store_b, log_b, 200 + i, 1).ok());
      }
    });
    a.join();
    b.join();
  }
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 45);
  EXPECT_EQ(report.checkpoints, 30);

  Sql("UPDATE audit_log SET entry = replace(entry, 'admin', 'root') "
      "WHERE seq = 7");
  EXPECT_BAD(Verify(), 7, "entry 7 was altered");
}

TEST_F(SqliteAuditLogTest, DeletedLastCheckpoint) {
  {
    auto store = storage::OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok());
    AuditLog log(*key_.signer, kLogId, clock_);
    ASSERT_TRUE(AppendTx(**store, log, 1, 3).ok());
    ASSERT_TRUE(AppendTx(**store, log, 4, 2).ok());
  }
  Sql("DELETE FROM audit_checkpoint WHERE tree_size = 5");
  EXPECT_BAD(Verify(), 4,
             "entries 4..5 are not covered by a signed checkpoint");
  // The writer's state still remembers the deleted checkpoint, so it refuses
  // to sign over entries 4..5 (which may have been rewritten meanwhile).
  auto store = storage::OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  AuditLog log(*key_.signer, kLogId, clock_);
  absl::Status s = AppendTx(**store, log, 6, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("checkpoints were deleted"));
}

TEST_F(SqliteAuditLogTest, TruncatedTail) {
  {
    auto store = storage::OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok());
    AuditLog log(*key_.signer, kLogId, clock_);
    ASSERT_TRUE(AppendTx(**store, log, 1, 3).ok());
    ASSERT_TRUE(AppendTx(**store, log, 4, 2).ok());
  }
  // Entries 4..5 and the checkpoint covering them, gone together: the rest
  // is a consistent log of 3 entries, which the verifier cannot tell from
  // one that never grew (doc/audit_log_format.md §8).
  Sql("DELETE FROM audit_log WHERE seq > 3;"
      "DELETE FROM audit_checkpoint WHERE tree_size > 3");
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.entries, 3);
  // But the writer's state remembers, and it will not write over the gap.
  auto store = storage::OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  AuditLog log(*key_.signer, kLogId, clock_);
  absl::Status s = AppendTx(**store, log, 6, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("checkpoints were deleted"));
}

}  // namespace
}  // namespace inkan::audit
