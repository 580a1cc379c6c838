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

// PRAGMA user_version of a database this binary opened.
constexpr char kCurrentSchemaVersion[] = "4";

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
                         testing::Values(StoreContractParam{
                             "Sqlite", &ScratchSqliteStore::New}),
                         StoreContractParamName);

// A raw connection to the same file, like the sqlite3 CLI or another process.
class RawDb {
 public:
  explicit RawDb(const std::string& path, int flags = SQLITE_OPEN_READWRITE) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, flags, nullptr), SQLITE_OK);
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
  EXPECT_THAT(raw.Column("PRAGMA user_version"),
              ElementsAre(kCurrentSchemaVersion));
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
  // Version 2 (issue 3).
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('operators')"),
              ElementsAre("name", "public_key", "created_us", "active"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_table_info('ceremony_requests')"),
      ElementsAre("id", "canonical", "operation", "proposer", "created_us",
                  "expires_us", "state", "closed_us", "outcome"));
  EXPECT_THAT(
      raw.Column(
          "SELECT name FROM pragma_index_info('ceremony_requests_by_state')"),
      ElementsAre("state", "created_us"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_table_info('ceremony_approvals')"),
      ElementsAre("request_id", "operator_name", "signature", "at_us", "seq"));
  EXPECT_THAT(
      raw.Column("SELECT \"table\" || '.' || \"to\" || ' <- ' || \"from\" "
                 "FROM pragma_foreign_key_list('ceremony_approvals') "
                 "ORDER BY \"from\""),
      ElementsAre("operators.name <- operator_name",
                  "ceremony_requests.id <- request_id"));
  // Version 3 (issue 3).
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('certificates')"),
              ElementsAre("serial", "credential_id", "subject", "der",
                          "not_before_us", "not_after_us", "issued_us",
                          "revoked", "revoked_us", "reason"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('certificates') "
                         "WHERE pk = 1"),
              ElementsAre("serial"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('certificates') "
                         "WHERE \"notnull\" = 0 AND pk = 0"),
              ElementsAre("revoked_us"));
  EXPECT_THAT(
      raw.Column(
          "SELECT name FROM pragma_index_info('certificates_by_credential')"),
      ElementsAre("credential_id"));
  EXPECT_THAT(
      raw.Column(
          "SELECT name FROM pragma_index_info('certificates_by_revocation')"),
      ElementsAre("revoked", "revoked_us"));
  // Version 4 (issue 4).
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_table_info('clients')"),
      ElementsAre("client_id", "name", "secret_hash", "created_us", "active"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_table_info('client_redirect_uris')"),
      ElementsAre("client_id", "seq", "uri"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info("
                         "'client_redirect_uris') WHERE pk > 0 ORDER BY pk"),
              ElementsAre("client_id", "seq"));
  EXPECT_THAT(
      raw.Column("SELECT \"table\" || '.' || \"to\" || ' <- ' || \"from\" "
                 "FROM pragma_foreign_key_list('client_redirect_uris')"),
      ElementsAre("clients.client_id <- client_id"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('grants')"),
              ElementsAre("id", "kind", "user_id", "client_id", "scope",
                          "credential_id", "hashes", "uses_left", "parent",
                          "data", "created_us", "expires_us", "revoked"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_table_info('grants') WHERE pk = 1"),
      ElementsAre("id"));
  EXPECT_THAT(
      raw.Column("SELECT \"table\" || '.' || \"to\" || ' <- ' || \"from\" "
                 "FROM pragma_foreign_key_list('grants')"),
      ElementsAre("users.id <- user_id"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_index_info('grants_by_parent')"),
      ElementsAre("parent"));
  EXPECT_THAT(
      raw.Column("SELECT name FROM pragma_index_info('grants_by_expiry')"),
      ElementsAre("expires_us"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('factors')"),
              ElementsAre("user_id", "kind", "secret", "certificate",
                          "last_step", "failed_tries", "locked", "created_us"));
  EXPECT_THAT(raw.Column("SELECT name FROM pragma_table_info('factors') "
                         "WHERE pk > 0 ORDER BY pk"),
              ElementsAre("user_id", "kind"));
  EXPECT_THAT(
      raw.Column("SELECT \"table\" || '.' || \"to\" || ' <- ' || \"from\" "
                 "FROM pragma_foreign_key_list('factors')"),
      ElementsAre("users.id <- user_id"));
  // Every new column is NOT NULL.
  for (const char* table :
       {"clients", "client_redirect_uris", "grants", "factors"}) {
    EXPECT_THAT(raw.Column(std::string("SELECT name FROM pragma_table_info('") +
                           table + "') WHERE \"notnull\" = 0"),
                testing::IsEmpty())
        << table;
  }
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

TEST_F(SqliteStoreTest, StoresUnsetClosedTimeAsNull) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Transact(TxMode::kReadWrite,
                              [](Transaction& tx) {
                                return tx.InsertCeremonyRequest(
                                    {.id = "r1",
                                     .created = absl::FromUnixMicros(5),
                                     .expires = absl::FromUnixMicros(6)});
                              }),
              IsOk());
  RawDb raw(DbPath());
  EXPECT_THAT(raw.Column("SELECT quote(closed_us) || ' ' || state || ' ' || "
                         "created_us || ' ' || expires_us "
                         "FROM ceremony_requests"),
              ElementsAre("NULL pending 5 6"));
  ASSERT_THAT(store->Transact(TxMode::kReadWrite,
                              [](Transaction& tx) {
                                return tx.CloseCeremonyRequest(
                                    "r1", "cancelled",
                                    absl::FromUnixMicros(1798761600123456),
                                    "withdrawn");
                              }),
              IsOk());
  EXPECT_THAT(raw.Column("SELECT quote(closed_us) || ' ' || state || ' ' || "
                         "outcome FROM ceremony_requests"),
              ElementsAre("1798761600123456 cancelled withdrawn"));
}

TEST_F(SqliteStoreTest, StoresUnsetRevocationTimeAsNull) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Transact(TxMode::kReadWrite,
                              [](Transaction& tx) {
                                return tx.InsertCertificate(
                                    {.serial_hex = "0a",
                                     .credential_id = "c1",
                                     .subject = "CN=a",
                                     .der = std::string("\x30\x00\x01", 3),
                                     .not_before = absl::FromUnixMicros(5),
                                     .not_after = absl::FromUnixMicros(6),
                                     .issued = absl::FromUnixMicros(4)});
                              }),
              IsOk());
  RawDb raw(DbPath());
  EXPECT_THAT(raw.Column("SELECT quote(revoked_us) || ' ' || revoked || ' ' || "
                         "reason || ' ' || not_before_us || ' ' || "
                         "not_after_us || ' ' || issued_us || ' ' || "
                         "hex(der) || ' ' || typeof(der) FROM certificates"),
              ElementsAre("NULL 0 0 5 6 4 300001 blob"));
  ASSERT_THAT(store->Transact(TxMode::kReadWrite,
                              [](Transaction& tx) {
                                return tx.RevokeCertificate(
                                    "0a",
                                    absl::FromUnixMicros(1798761600123456), 9);
                              }),
              IsOk());
  EXPECT_THAT(raw.Column("SELECT quote(revoked_us) || ' ' || revoked || ' ' || "
                         "reason FROM certificates"),
              ElementsAre("1798761600123456 1 9"));
}

TEST_F(SqliteStoreTest, StoresGrantsAndFactorsAsPlainRows) {
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Transact(
                  TxMode::kReadWrite,
                  [](Transaction& tx) -> absl::Status {
                    ASSIGN_OR_RETURN(int64_t user,
                                     tx.InsertUser({.name = "alice"}));
                    RETURN_IF_ERROR(tx.InsertClient(
                        {.client_id = "app",
                         .name = "App",
                         .redirect_uris = {"https://b/cb", "https://a/c,b d"},
                         .created = absl::FromUnixMicros(3)}));
                    RETURN_IF_ERROR(tx.InsertGrant(
                        {.id = "g1",
                         .kind = "sad",
                         .user_id = user,
                         .hashes = "a,b",
                         .uses_left = 2,
                         .parent = "p",
                         .created = absl::FromUnixMicros(1798761600123456),
                         .expires = absl::FromUnixMicros(1798761900654321)}));
                    return tx.PutFactor({.user_id = user,
                                         .kind = "totp",
                                         .secret = std::string("\x00s", 2),
                                         .created = absl::FromUnixMicros(9)});
                  }),
              IsOk());
  RawDb raw(DbPath());
  EXPECT_THAT(raw.Column("SELECT seq || ' ' || uri FROM client_redirect_uris "
                         "WHERE client_id = 'app' ORDER BY seq"),
              ElementsAre("0 https://b/cb", "1 https://a/c,b d"));
  EXPECT_THAT(raw.Column("SELECT kind || ' ' || created_us || ' ' || "
                         "expires_us || ' ' || uses_left || ' ' || revoked "
                         "FROM grants"),
              ElementsAre("sad 1798761600123456 1798761900654321 2 0"));
  EXPECT_THAT(
      raw.Column("SELECT hex(secret) || ' ' || typeof(secret) || ' ' || "
                 "typeof(certificate) || ' ' || last_step || ' ' || "
                 "created_us FROM factors"),
      ElementsAre("0073 blob blob -1 9"));
}

TEST_F(SqliteStoreTest, SchemaRefusesUnknownKindsAndUsers) {
  // What the code checks, the schema checks too (for rows written by hand).
  Open().reset();
  RawDb raw(DbPath());
  ASSERT_EQ(raw.Exec("PRAGMA foreign_keys = ON;"
                     "INSERT INTO users(name, created_us) VALUES('alice', 1)"),
            SQLITE_OK);
  const std::string grant =
      "INSERT INTO grants(id, kind, user_id, client_id, scope, credential_id, "
      "hashes, uses_left, parent, data, created_us, expires_us) VALUES";
  EXPECT_EQ(raw.Exec(grant + "('g1', 'bearer', 1, '', '', '', '', 0, '', '', "
                             "0, 0)"),
            SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec(grant + "('g1', 'access', 99, '', '', '', '', 0, '', '', "
                             "0, 0)"),
            SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec(grant + "('g1', 'access', 1, '', '', '', '', 0, '', '', "
                             "0, 0)"),
            SQLITE_OK);
  const std::string factor =
      "INSERT INTO factors(user_id, kind, secret, certificate, created_us) "
      "VALUES";
  EXPECT_EQ(raw.Exec(factor + "(1, 'sms', x'', x'', 0)"), SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec(factor + "(99, 'totp', x'', x'', 0)"), SQLITE_CONSTRAINT);
  EXPECT_EQ(raw.Exec(factor + "(1, 'card', x'', x'', 0)"), SQLITE_OK);
  EXPECT_EQ(raw.Exec("INSERT INTO client_redirect_uris(client_id, seq, uri) "
                     "VALUES('nobody', 0, 'https://a/cb')"),
            SQLITE_CONSTRAINT);
}

TEST_F(SqliteStoreTest, FailedClientInsertLeavesNoRowsBehind) {
  // A client's rows go in together or not at all, even when the caller
  // handles the error and commits: here the second redirect URI collides
  // with a stray row written behind the store's back.
  Open().reset();
  {
    RawDb raw(DbPath());
    ASSERT_EQ(raw.Exec("PRAGMA foreign_keys = OFF;"
                       "INSERT INTO client_redirect_uris(client_id, seq, uri) "
                       "VALUES('app', 1, 'stray')"),
              SQLITE_OK);
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Transact(
                  TxMode::kReadWrite,
                  [](Transaction& tx) -> absl::Status {
                    EXPECT_THAT(tx.InsertClient({.client_id = "app",
                                                 .redirect_uris = {"a", "b"}}),
                                StatusIs(absl::StatusCode::kAlreadyExists));
                    EXPECT_THAT(tx.GetClient("app"),
                                StatusIs(absl::StatusCode::kNotFound));
                    return tx.InsertClient(
                        {.client_id = "other", .redirect_uris = {"c"}});
                  }),
              IsOk());
  RawDb raw(DbPath());
  EXPECT_THAT(raw.Column("SELECT client_id FROM clients"),
              ElementsAre("other"));
  EXPECT_THAT(raw.Column("SELECT client_id || ' ' || seq || ' ' || uri "
                         "FROM client_redirect_uris ORDER BY client_id"),
              ElementsAre("app 1 stray", "other 0 c"));
}

// The version-1 schema exactly as released (kMigrations[0]); a copy, so that
// later edits to the migration list cannot change what this test starts from.
constexpr char kSchemaV1[] = R"sql(
      CREATE TABLE meta(
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL);
      CREATE TABLE users(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created_us INTEGER NOT NULL);
      CREATE TABLE credentials(
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        algorithm TEXT NOT NULL,
        backend TEXT NOT NULL,
        public_key BLOB NOT NULL,
        sealed_key BLOB NOT NULL,
        failed_tries INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0,
        created_us INTEGER NOT NULL);
      CREATE INDEX credentials_by_user ON credentials(user_id);
      CREATE TABLE audit_log(
        seq INTEGER PRIMARY KEY,
        entry TEXT NOT NULL,
        leaf_hash BLOB NOT NULL);
      CREATE TABLE audit_checkpoint(
        tree_size INTEGER PRIMARY KEY,
        note TEXT NOT NULL,
        signature BLOB NOT NULL);
    )sql";

// The version-2 step exactly as released (kMigrations[1]); applied on top of
// kSchemaV1, it gives the version-2 schema.
constexpr char kSchemaV2Step[] = R"sql(
      CREATE TABLE operators(
        name TEXT PRIMARY KEY,
        public_key BLOB NOT NULL,
        created_us INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 1);
      CREATE TABLE ceremony_requests(
        id TEXT PRIMARY KEY,
        canonical TEXT NOT NULL,
        operation TEXT NOT NULL,
        proposer TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        expires_us INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        closed_us INTEGER,
        outcome TEXT NOT NULL DEFAULT '');
      CREATE INDEX ceremony_requests_by_state
        ON ceremony_requests(state, created_us);
      CREATE TABLE ceremony_approvals(
        request_id TEXT NOT NULL REFERENCES ceremony_requests(id),
        operator_name TEXT NOT NULL REFERENCES operators(name),
        signature BLOB NOT NULL,
        at_us INTEGER NOT NULL,
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        UNIQUE(request_id, operator_name));
    )sql";

// The version-3 step exactly as released (kMigrations[2]); applied on top of
// kSchemaV1 and kSchemaV2Step, it gives the version-3 schema.
constexpr char kSchemaV3Step[] = R"sql(
      CREATE TABLE certificates(
        serial TEXT PRIMARY KEY,
        credential_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        der BLOB NOT NULL,
        not_before_us INTEGER NOT NULL,
        not_after_us INTEGER NOT NULL,
        issued_us INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0,
        revoked_us INTEGER,
        reason INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX certificates_by_credential
        ON certificates(credential_id);
      CREATE INDEX certificates_by_revocation
        ON certificates(revoked, revoked_us);
    )sql";

// Every schema object with its SQL, whitespace collapsed, sorted.
std::vector<std::string> SchemaOf(RawDb& raw) {
  std::vector<std::string> objects = raw.Column(
      "SELECT type || ' ' || name || ': ' || IFNULL(sql, '') "
      "FROM sqlite_master ORDER BY type, name");
  for (std::string& object : objects) {
    std::string collapsed;
    for (char c : object) {
      bool space = c == ' ' || c == '\n' || c == '\t';
      if (space && (collapsed.empty() || collapsed.back() == ' ')) continue;
      collapsed.push_back(space ? ' ' : c);
    }
    object = collapsed;
  }
  return objects;
}

TEST_F(SqliteStoreTest, MigratesVersion1DatabaseToCurrentVersion) {
  {
    // A database as a version-1 binary left it, with some rows.
    RawDb raw(DbPath(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_EQ(raw.Exec(kSchemaV1), SQLITE_OK);
    ASSERT_EQ(
        raw.Exec("INSERT INTO users(name, created_us) VALUES('alice', 7);"
                 "INSERT INTO credentials(id, user_id, algorithm, "
                 "backend, public_key, sealed_key, created_us) "
                 "VALUES('c0', 1, 'ec-p256', 'software', x'30', x'00', 7);"
                 "INSERT INTO meta(key, value) VALUES('log_id', 'x');"
                 "INSERT INTO audit_log(seq, entry, leaf_hash) "
                 "VALUES(1, '{}', x'00');"
                 "PRAGMA user_version = 1;"),
        SQLITE_OK);
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(DbPath());
    EXPECT_THAT(raw.Column("PRAGMA user_version"),
                ElementsAre(kCurrentSchemaVersion));
    EXPECT_THAT(raw.Column("PRAGMA journal_mode"), ElementsAre("wal"));
  }
  // The old rows are intact and the new tables work, foreign keys included.
  ASSERT_THAT(
      store->Transact(
          TxMode::kReadWrite,
          [](Transaction& tx) -> absl::Status {
            EXPECT_THAT(tx.GetUserByName("alice"),
                        IsOkAndHolds(testing::Field(&UserRecord::id, 1)));
            EXPECT_THAT(tx.GetCredential("c0"), IsOk());
            EXPECT_THAT(tx.GetMeta("log_id"),
                        IsOkAndHolds(Optional(std::string("x"))));
            EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(1));
            RETURN_IF_ERROR(tx.InsertOperator({.name = "op1"}));
            RETURN_IF_ERROR(tx.InsertCeremonyRequest({.id = "r1"}));
            EXPECT_THAT(tx.InsertApproval(
                            {.request_id = "r1", .operator_name = "nobody"}),
                        StatusIs(absl::StatusCode::kFailedPrecondition));
            RETURN_IF_ERROR(tx.InsertApproval(
                {.request_id = "r1", .operator_name = "op1"}));
            return tx.CloseCeremonyRequest("r1", "executed",
                                           absl::FromUnixSeconds(9), "ok");
          }),
      IsOk());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Transact(TxMode::kReadOnly,
                              [](Transaction& tx) -> absl::Status {
                                EXPECT_THAT(tx.ListOperators(),
                                            IsOkAndHolds(testing::SizeIs(1)));
                                EXPECT_THAT(tx.ListApprovals("r1"),
                                            IsOkAndHolds(testing::SizeIs(1)));
                                EXPECT_THAT(
                                    tx.ListCeremonyRequests("executed", 10),
                                    IsOkAndHolds(testing::SizeIs(1)));
                                return absl::OkStatus();
                              }),
              IsOk());

  // A migrated database has the same schema as a fresh one.
  ScratchDir fresh_dir;
  ASSERT_FALSE(fresh_dir.path().empty());
  const std::string fresh_path = fresh_dir.path() + "/fresh.db";
  ASSERT_THAT(OpenSqliteStore(fresh_path), IsOk());
  RawDb migrated(DbPath());
  RawDb fresh(fresh_path);
  std::vector<std::string> schema = SchemaOf(migrated);
  EXPECT_THAT(schema,
              testing::Contains(HasSubstr("ceremony_requests_by_state")));
  EXPECT_EQ(schema, SchemaOf(fresh));
}

TEST_F(SqliteStoreTest, MigratesVersion2DatabaseToCurrentVersion) {
  {
    // A database as a version-2 binary left it, with some rows.
    RawDb raw(DbPath(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_EQ(raw.Exec(kSchemaV1), SQLITE_OK);
    ASSERT_EQ(raw.Exec(kSchemaV2Step), SQLITE_OK);
    ASSERT_EQ(
        raw.Exec("INSERT INTO users(name, created_us) VALUES('alice', 7);"
                 "INSERT INTO credentials(id, user_id, algorithm, "
                 "backend, public_key, sealed_key, created_us) "
                 "VALUES('c0', 1, 'ec-p256', 'software', x'30', x'00', 7);"
                 "INSERT INTO audit_log(seq, entry, leaf_hash) "
                 "VALUES(1, '{}', x'00');"
                 "INSERT INTO operators(name, public_key, created_us) "
                 "VALUES('op1', x'30', 8);"
                 "INSERT INTO ceremony_requests(id, canonical, operation, "
                 "proposer, created_us, expires_us) "
                 "VALUES('r1', '{}', 'ca.init', 'op1', 8, 9);"
                 "INSERT INTO ceremony_approvals(request_id, operator_name, "
                 "signature, at_us) VALUES('r1', 'op1', x'00', 8);"
                 "PRAGMA user_version = 2;"),
        SQLITE_OK);
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(DbPath());
    EXPECT_THAT(raw.Column("PRAGMA user_version"),
                ElementsAre(kCurrentSchemaVersion));
    EXPECT_THAT(raw.Column("PRAGMA journal_mode"), ElementsAre("wal"));
  }
  // The old rows are intact and the new table works.
  ASSERT_THAT(
      store->Transact(
          TxMode::kReadWrite,
          [](Transaction& tx) -> absl::Status {
            EXPECT_THAT(tx.GetCredential("c0"), IsOk());
            EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(1));
            EXPECT_THAT(tx.GetOperator("op1"), IsOk());
            EXPECT_THAT(tx.GetCeremonyRequest("r1"),
                        IsOkAndHolds(testing::Field(
                            &CeremonyRequestRecord::state, "pending")));
            EXPECT_THAT(tx.ListApprovals("r1"),
                        IsOkAndHolds(testing::SizeIs(1)));
            EXPECT_THAT(tx.ListCertificates(""),
                        IsOkAndHolds(testing::IsEmpty()));
            RETURN_IF_ERROR(tx.InsertCertificate(
                {.serial_hex = "01", .credential_id = "c0", .der = "d"}));
            RETURN_IF_ERROR(tx.InsertCertificate(
                {.serial_hex = "02", .credential_id = "c0", .der = "e"}));
            return tx.RevokeCertificate("01", absl::FromUnixSeconds(9), 1);
          }),
      IsOk());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Transact(TxMode::kReadOnly,
                              [](Transaction& tx) -> absl::Status {
                                EXPECT_THAT(tx.ListCertificates("c0"),
                                            IsOkAndHolds(testing::SizeIs(2)));
                                EXPECT_THAT(tx.ListRevokedCertificates(),
                                            IsOkAndHolds(testing::SizeIs(1)));
                                return absl::OkStatus();
                              }),
              IsOk());

  // A migrated database has the same schema as a fresh one.
  ScratchDir fresh_dir;
  ASSERT_FALSE(fresh_dir.path().empty());
  const std::string fresh_path = fresh_dir.path() + "/fresh.db";
  ASSERT_THAT(OpenSqliteStore(fresh_path), IsOk());
  RawDb migrated(DbPath());
  RawDb fresh(fresh_path);
  std::vector<std::string> schema = SchemaOf(migrated);
  EXPECT_THAT(schema,
              testing::Contains(HasSubstr("certificates_by_revocation")));
  EXPECT_EQ(schema, SchemaOf(fresh));
}

TEST_F(SqliteStoreTest, MigratesVersion3DatabaseToCurrentVersion) {
  {
    // A database as a version-3 binary left it, with some rows.
    RawDb raw(DbPath(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_EQ(raw.Exec(kSchemaV1), SQLITE_OK);
    ASSERT_EQ(raw.Exec(kSchemaV2Step), SQLITE_OK);
    ASSERT_EQ(raw.Exec(kSchemaV3Step), SQLITE_OK);
    ASSERT_EQ(
        raw.Exec(
            "INSERT INTO users(name, created_us) VALUES('alice', 7);"
            "INSERT INTO credentials(id, user_id, algorithm, "
            "backend, public_key, sealed_key, created_us) "
            "VALUES('c0', 1, 'ec-p256', 'software', x'30', x'00', 7);"
            "INSERT INTO meta(key, value) VALUES('log_id', 'x');"
            "INSERT INTO audit_log(seq, entry, leaf_hash) "
            "VALUES(1, '{}', x'00');"
            "INSERT INTO audit_checkpoint(tree_size, note, signature) "
            "VALUES(1, 'n', x'01');"
            "INSERT INTO operators(name, public_key, created_us) "
            "VALUES('op1', x'30', 8);"
            "INSERT INTO ceremony_requests(id, canonical, operation, "
            "proposer, created_us, expires_us) "
            "VALUES('r1', '{}', 'ca.init', 'op1', 8, 9);"
            "INSERT INTO ceremony_approvals(request_id, operator_name, "
            "signature, at_us) VALUES('r1', 'op1', x'00', 8);"
            "INSERT INTO certificates(serial, credential_id, subject, der, "
            "not_before_us, not_after_us, issued_us, revoked, revoked_us, "
            "reason) VALUES('0a', 'c0', 'CN=a', x'30', 1, 2, 1, 1, 5, 4);"
            "PRAGMA user_version = 3;"),
        SQLITE_OK);
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(DbPath());
    EXPECT_THAT(raw.Column("PRAGMA user_version"),
                ElementsAre(kCurrentSchemaVersion));
    EXPECT_THAT(raw.Column("PRAGMA journal_mode"), ElementsAre("wal"));
  }
  // The old rows are intact and the new tables work, foreign keys included.
  ASSERT_THAT(
      store->Transact(
          TxMode::kReadWrite,
          [](Transaction& tx) -> absl::Status {
            EXPECT_THAT(tx.GetUserByName("alice"),
                        IsOkAndHolds(testing::Field(&UserRecord::id, 1)));
            EXPECT_THAT(tx.GetCredential("c0"), IsOk());
            EXPECT_THAT(tx.GetMeta("log_id"),
                        IsOkAndHolds(Optional(std::string("x"))));
            EXPECT_THAT(tx.AuditEntryCount(), IsOkAndHolds(1));
            EXPECT_THAT(tx.LatestCheckpoint(),
                        IsOkAndHolds(Optional(
                            testing::Field(&CheckpointRow::tree_size, 1))));
            EXPECT_THAT(tx.GetOperator("op1"), IsOk());
            EXPECT_THAT(tx.ListApprovals("r1"),
                        IsOkAndHolds(testing::SizeIs(1)));
            EXPECT_THAT(
                tx.GetCertificate("0a"),
                IsOkAndHolds(testing::Field(&CertificateRecord::reason, 4)));
            EXPECT_THAT(tx.ListClients(), IsOkAndHolds(testing::IsEmpty()));
            EXPECT_THAT(tx.ListFactors(1), IsOkAndHolds(testing::IsEmpty()));
            RETURN_IF_ERROR(tx.InsertClient(
                {.client_id = "app", .redirect_uris = {"https://a/cb"}}));
            EXPECT_THAT(
                tx.InsertGrant({.id = "g0", .kind = "access", .user_id = 2}),
                StatusIs(absl::StatusCode::kFailedPrecondition));
            RETURN_IF_ERROR(tx.InsertGrant(
                {.id = "g1", .kind = "access", .user_id = 1, .parent = "p"}));
            EXPECT_THAT(tx.PutFactor({.user_id = 2, .kind = "totp"}),
                        StatusIs(absl::StatusCode::kFailedPrecondition));
            return tx.PutFactor({.user_id = 1, .kind = "totp"});
          }),
      IsOk());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->Transact(TxMode::kReadOnly,
                              [](Transaction& tx) -> absl::Status {
                                EXPECT_THAT(tx.GetClient("app"),
                                            IsOkAndHolds(testing::Field(
                                                &ClientRecord::redirect_uris,
                                                ElementsAre("https://a/cb"))));
                                EXPECT_THAT(tx.GetGrant("g1"), IsOk());
                                EXPECT_THAT(tx.ListFactors(1),
                                            IsOkAndHolds(testing::SizeIs(1)));
                                return absl::OkStatus();
                              }),
              IsOk());

  // A migrated database has the same schema as a fresh one.
  ScratchDir fresh_dir;
  ASSERT_FALSE(fresh_dir.path().empty());
  const std::string fresh_path = fresh_dir.path() + "/fresh.db";
  ASSERT_THAT(OpenSqliteStore(fresh_path), IsOk());
  RawDb migrated(DbPath());
  RawDb fresh(fresh_path);
  std::vector<std::string> schema = SchemaOf(migrated);
  EXPECT_THAT(schema, testing::Contains(HasSubstr("grants_by_expiry")));
  EXPECT_EQ(schema, SchemaOf(fresh));
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
