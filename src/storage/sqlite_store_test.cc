// SQLite-specific tests (the shared contract runs too, instantiated below).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "storage/store.h"
#include "storage/store_contract_test.h"
#include "storage/test_util.h"

namespace inkan::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
                         testing::Values(StoreContractParam{
                             "Sqlite", &ScratchSqliteStore::New}),
                         StoreContractParamName);

// A raw connection to the same file, like the sqlite3 CLI or another process.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr),
        SQLITE_OK);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() { sqlite3_close_v2(db_); }

  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }

  // All values of the first column of `sql`'s rows, as text.
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text)
                                       : "");
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  std::string DbPath() const { return dir_.path() + "/inkan.db"; }

  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(DbPath());
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  ScratchDir dir_;
};

absl::Status IncrementCounter(Store& store) {
  return store.Transact(
      TxMode::kReadWrite, [](Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<std::string> value,
                         tx.GetMeta("counter"));
        int64_t n = 0;
        if (value.has_value() && !absl::SimpleAtoi(*value, &n)) {
          return absl::DataLossError("bad counter");
        }
        return tx.PutMeta("counter", std::to_string(n + 1));
      });
}

std::optional<std::string> ReadCounter(Store& store) {
  std::optional<std::string> value;
  EXPECT_THAT(store.Transact(TxMode::kReadOnly,
                             [&](Transaction& tx) -> absl::Status {
                               ASSIGN_OR_RETURN(value, tx.GetMeta("counter"));
                               return absl::OkStatus();
                             }),
              IsOk());
  return value;
}

TEST_F(SqliteStoreTest, ReopenPersistsData) {
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(
        store->Transact(TxMode::kReadWrite,
                        [](Transaction& tx) -> absl::Status {
                          ASSIGN_OR_RETURN(int64_t id,
                                           tx.InsertUser({.name = "alice"}));
                          CredentialRecord cred;
                          cred.id = "c0";
                          cred.user_id = id;
                          cred.sealed_key = std::string("a\0b", 3);
                          RETURN_IF_ERROR(tx.InsertCredential(cred));
                          RETURN_IF_ERROR(tx.PutMeta("k", "v"));
                          return tx.AppendAuditEntry(
                              {.seq = 1, .entry = "{}", .leaf_hash = "h"});
                        }),
        IsOk());
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(
      store->Transact(TxMode::kReadOnly,
                      [](Transaction& tx) -> absl::Status {
                        EXPECT_THAT(tx.GetUserByName("alice"), IsOk());
                        EXPECT_THAT(tx.GetCredential("c0"),
                                    IsOkAndHolds(testing::Field(
                                        &CredentialRecord::sealed_key,
                                        std::string("a\0b", 3))));
                        EXPECT_THAT(tx.GetMeta("k"),
                                    IsOkAndHolds(Optional(std::string("v"))));
                        EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(1));
                        return absl::OkStatus();
                      }),
      IsOk());
}

TEST_F(SqliteStoreTest, FilesAreOwnerOnlyEvenWithPermissiveUmask) {
  mode_t old_umask = umask(0);
  std::unique_ptr<Store> store = Open();
  // Write something so the -wal and -shm files exist.
  absl::Status status =
      store == nullptr
          ? absl::InternalError("no store")
          : store->Transact(TxMode::kReadWrite, [](Transaction& tx) {
              return tx.PutMeta("k", "v");
            });
  umask(old_umask);
  ASSERT_THAT(status, IsOk());

  struct stat st;
  ASSERT_EQ(stat(DbPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string path = DbPath() + suffix;
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0077, 0u) << path;
  }
}

TEST_F(SqliteStoreTest, UsesWalModeAndVersionedSchema) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  RawDb raw(DbPath());
  EXPECT_THAT(raw.Column("PRAGMA journal_mode"), ElementsAre("wal"));
  EXPECT_THAT(raw.Column("PRAGMA user_version"), ElementsAre("1"));
}

TEST_F(SqliteStoreTest, SchemaHasTheDocumentedTablesAndColumns) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  RawDb raw(DbPath());
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('meta')"),
              ElementsAre("key", "value"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('users')"),
              ElementsAre("id", "name", "created_us"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_table_info('credentials')"),
      ElementsAre("id", "user_id", "algorithm", "backend", "public_key",
                  "sealed_key", "failed_tries", "locked", "created_us"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('audit_log')"),
              ElementsAre("seq", "entry", "leaf_hash"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_table_info('audit_checkpoint')"),
      ElementsAre("tree_size", "note", "signature"));
}

TEST_F(SqliteStoreTest, StoresTimesAsUnixMicros) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(
      store->Transact(
          TxMode::kReadWrite,
          [](Transaction& tx) {
            return tx
                .InsertUser({.name = "alice",
                             .created = absl::FromUnixMicros(1798761600123456)})
                .status();
          }),
      IsOk());
  RawDb raw(DbPath());
  EXPECT_THAT(raw.Column("SELECT created_us FROM users"),
              ElementsAre("1798761600123456"));
}

TEST_F(SqliteStoreTest, FutureSchemaVersionIsRefused) {
  Open().reset();
  {
    RawDb raw(DbPath());
    ASSERT_EQ(raw.Exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  EXPECT_THAT(OpenSqliteStore(DbPath()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("schema version 99")));
}

TEST_F(SqliteStoreTest, OpenReportsBadPaths) {
  EXPECT_THAT(OpenSqliteStore(""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenSqliteStore(dir_.path() + "/missing/inkan.db"),
              StatusIs(absl::StatusCode::kNotFound));
  {
    std::ofstream junk(DbPath());
    junk << std::string(4096, 'x');
  }
  EXPECT_THAT(OpenSqliteStore(DbPath()), testing::Not(IsOk()));
}

TEST_F(SqliteStoreTest, SecondStoreOnSameFileSeesCommittedData) {
  std::unique_ptr<Store> first = Open();
  std::unique_ptr<Store> second = Open();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_THAT(IncrementCounter(*first), IsOk());
  EXPECT_THAT(ReadCounter(*second), Optional(std::string("1")));
  ASSERT_THAT(IncrementCounter(*second), IsOk());
  EXPECT_THAT(ReadCounter(*first), Optional(std::string("2")));
}

TEST_F(SqliteStoreTest, WritersInTwoStoresSerialize) {
  constexpr int kIterations = 100;
  std::unique_ptr<Store> first = Open();
  std::unique_ptr<Store> second = Open();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  auto work = [](Store* store) {
    for (int i = 0; i < kIterations; ++i) {
      ASSERT_THAT(IncrementCounter(*store), IsOk());
    }
  };
  std::thread a(work, first.get());
  std::thread b(work, second.get());
  a.join();
  b.join();
  EXPECT_THAT(ReadCounter(*first), Optional(std::to_string(2 * kIterations)));
}

TEST_F(SqliteStoreTest, ManyThreadsShareOneStore) {
  constexpr int kThreads = 4;
  constexpr int kIterations = 50;
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store] {
      for (int i = 0; i < kIterations; ++i) {
        ASSERT_THAT(IncrementCounter(*store), IsOk());
        ReadCounter(*store);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(ReadCounter(*store),
              Optional(std::to_string(kThreads * kIterations)));
}

TEST_F(SqliteStoreTest, WriterBusyPastTimeoutIsUnavailableButReadersProceed) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(IncrementCounter(*store), IsOk());
  RawDb other(DbPath());
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE"), SQLITE_OK);

  absl::Time start = absl::Now();
  EXPECT_THAT(IncrementCounter(*store),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GE(absl::Now() - start, absl::Seconds(4));
  // WAL: readers are not blocked by the writer.
  EXPECT_THAT(ReadCounter(*store), Optional(std::string("1")));

  ASSERT_EQ(other.Exec("ROLLBACK"), SQLITE_OK);
  EXPECT_THAT(IncrementCounter(*store), IsOk());
  EXPECT_THAT(ReadCounter(*store), Optional(std::string("2")));
}

TEST_F(SqliteStoreTest, ReadsRowsChangedBehindItsBack) {
  // Tests elsewhere tamper with rows through the sqlite3 CLI; the store must
  // report what is in the file.
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(
      store->Transact(TxMode::kReadWrite,
                      [](Transaction& tx) -> absl::Status {
                        RETURN_IF_ERROR(tx.AppendAuditEntry(
                            {.seq = 1, .entry = "a", .leaf_hash = "x"}));
                        return tx.AppendAuditEntry(
                            {.seq = 2, .entry = "b", .leaf_hash = "y"});
                      }),
      IsOk());
  {
    RawDb raw(DbPath());
    ASSERT_EQ(raw.Exec("UPDATE audit_log SET entry = 'forged' WHERE seq = 1"),
              SQLITE_OK);
  }
  ASSERT_THAT(store->Transact(TxMode::kReadOnly,
                              [](Transaction& tx) -> absl::Status {
                                ASSIGN_OR_RETURN(auto rows,
                                                 tx.ReadAuditEntries(1, 2));
                                EXPECT_EQ(rows.size(), 2u);
                                if (!rows.empty()) {
                                  EXPECT_EQ(rows[0].entry, "forged");
                                }
                                return absl::OkStatus();
                              }),
              IsOk());
}

}  // namespace
}  // namespace inkan::storage
