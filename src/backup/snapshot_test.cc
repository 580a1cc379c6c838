#include "backup/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/merkle.h"
#include "backup/schedule.h"
#include "common/clock.h"
#include "crypto/software_signer.h"
#include "storage/store.h"

namespace inkan::backup {
namespace {

using ::testing::HasSubstr;

constexpr crypto::SignatureScheme kP256{crypto::KeyAlgorithm::kEcP256,
                                        crypto::HashAlgorithm::kSha256};
constexpr char kLogId[] = "inkan/test";

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inkan-snapshot-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
    ASSERT_TRUE(pkcs8.ok());
    signer_ = *crypto::NewSoftwareSigner(*pkcs8, kP256);
    auto store = storage::OpenSqliteStore(dir_ + "/inkan.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    log_ = std::make_unique<audit::AuditLog>(*signer_, kLogId, RealClock());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  absl::Status Event(int i) {
    return audit::RunAudited(*store_, *log_, [&](storage::Transaction& tx) {
      return log_->Append(tx, {"test.event", {{"n", int64_t{i}}}});
    });
  }

  std::string dir_;
  std::unique_ptr<crypto::Signer> signer_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
};

TEST_F(SnapshotTest, CopyWhileWritingIsConsistentAndLosesNothing) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Event(i).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0}, failed{0};
  std::thread writer([&] {
    for (int i = 100; !stop.load(); ++i) {
      if (Event(i).ok()) {
        ++written;
      } else {
        ++failed;
      }
    }
  });
  while (written.load() < 5) std::this_thread::yield();
  ASSERT_TRUE(SnapshotSqlite(dir_ + "/inkan.db", dir_ + "/copy.db").ok());
  int at_copy = written.load();
  while (written.load() < at_copy + 5) std::this_thread::yield();
  stop = true;
  writer.join();
  EXPECT_EQ(failed.load(), 0) << "a write failed while the copy was taken";

  auto summary = VerifyLogInDatabase(dir_ + "/copy.db",
                                     signer_->public_key_der(), kLogId, 20);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GE(summary->entries, 25);
  EXPECT_EQ(summary->tree_size, summary->entries);
  // The copy's log is a prefix of the live one: its root is the live log's
  // root at that size.
  auto live = VerifyLogInDatabase(dir_ + "/inkan.db", signer_->public_key_der(),
                                  kLogId, summary->tree_size);
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_GT(live->entries, summary->entries);
  EXPECT_EQ(live->root_at_size, summary->root_hash);
}

TEST_F(SnapshotTest, RefusesToOverwriteAndNeedsASource) {
  ASSERT_TRUE(Event(1).ok());
  ASSERT_TRUE(SnapshotSqlite(dir_ + "/inkan.db", dir_ + "/copy.db").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(
      SnapshotSqlite(dir_ + "/inkan.db", dir_ + "/copy.db")));
  EXPECT_TRUE(
      absl::IsNotFound(SnapshotSqlite(dir_ + "/none.db", dir_ + "/c2.db")));
}

TEST_F(SnapshotTest, AnAlteredEntryInTheCopyIsNamed) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Event(i).ok());
  ASSERT_TRUE(SnapshotSqlite(dir_ + "/inkan.db", dir_ + "/copy.db").ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/copy.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE audit_log SET entry = replace(entry, "
                         "'\"n\":3', '\"n\":4') WHERE seq = 4",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto summary = VerifyLogInDatabase(dir_ + "/copy.db",
                                     signer_->public_key_der(), kLogId, 0);
  EXPECT_TRUE(absl::IsDataLoss(summary.status())) << summary.status();
  EXPECT_THAT(summary.status().message(), HasSubstr("first bad entry: 4"));
}

TEST_F(SnapshotTest, AnotherAuditKeyFails) {
  ASSERT_TRUE(Event(1).ok());
  auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
  auto other = *crypto::NewSoftwareSigner(*pkcs8, kP256);
  auto summary = VerifyLogInDatabase(dir_ + "/inkan.db",
                                     other->public_key_der(), kLogId, 0);
  EXPECT_TRUE(absl::IsDataLoss(summary.status())) << summary.status();
}

TEST_F(SnapshotTest, BackupsDue) {
  absl::Time now = absl::FromUnixSeconds(1798761600);
  BackupDue due;
  auto load = [&] {
    return store_->Transact(storage::TxMode::kReadOnly,
                            [&](storage::Transaction& tx) -> absl::Status {
                              auto d = LoadBackupDue(tx, now);
                              if (!d.ok()) return d.status();
                              due = *d;
                              return absl::OkStatus();
                            });
  };
  auto put = [&](absl::string_view k, std::string v) {
    return store_->Transact(
        storage::TxMode::kReadWrite,
        [&](storage::Transaction& tx) { return tx.PutMeta(k, v); });
  };
  ASSERT_TRUE(load().ok());
  EXPECT_TRUE(due.overdue);
  EXPECT_FALSE(due.any);
  EXPECT_THAT(FormatBackupDue(due, now), HasSubstr("MISSED: no backup"));
  ASSERT_TRUE(put(kLastKey, "2026-12-31T12:00:00.000000Z 42 ab").ok());
  ASSERT_TRUE(load().ok());
  EXPECT_FALSE(due.overdue);  // 12 h ago, every 24 h
  EXPECT_THAT(FormatBackupDue(due, now), HasSubstr("backups: ok"));
  ASSERT_TRUE(put(kIntervalKey, "6h").ok());
  ASSERT_TRUE(load().ok());
  EXPECT_TRUE(due.overdue);
  EXPECT_THAT(FormatBackupDue(due, now),
              HasSubstr("MISSED: last 2026-12-31T12:00:00.000000Z"));
  EXPECT_FALSE(ParseInterval("1m").ok());
  EXPECT_FALSE(ParseInterval("9000h").ok());
  EXPECT_FALSE(ParseInterval("daily").ok());
  EXPECT_EQ(*ParseInterval("24h"), absl::Hours(24));
}

}  // namespace
}  // namespace inkan::backup
