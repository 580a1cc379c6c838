// SQLite backend of storage::Store (see store.h).
//
// One database file in WAL mode, shared by the server and the CLI (possibly in
// different processes). Writers serialise on BEGIN IMMEDIATE; readers never
// block writers. Each Transact call borrows a connection from a small pool, so
// concurrent transactions never share a connection; each connection caches
// its prepared statements.
//
// Schema versions live in `PRAGMA user_version`; kMigrations below lists the
// steps, and OpenSqliteStore applies the missing ones in one transaction. To
// change the schema, append a step (never edit a released one).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "storage/store.h"

namespace inkan::storage {
namespace {

// How long a connection waits for another writer before giving up with
// SQLITE_BUSY (reported as Unavailable).
constexpr int kBusyTimeoutMs = 5000;
// Connections kept open for reuse; more may exist while many transactions run.
constexpr size_t kMaxIdleConnections = 8;

// Schema migrations: step i brings the schema from version i to i + 1. The
// table and column names are relied on by doc/ and by tests that tamper with
// rows through the sqlite3 CLI.
constexpr const char* kMigrations[] = {
    // Version 1: initial schema.
    R"sql(
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
    )sql",
    // Version 2: operators, ceremony requests and their approvals (issue 3).
    // Rows are never deleted: a removed operator is marked inactive, a request
    // leaves "pending" once. ceremony_approvals.seq keeps the order in which
    // approvals were given.
    R"sql(
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
    )sql",
    // Version 3: issued certificates and their revocation (issue 3). Rows are
    // never deleted; revoked_us is NULL until the certificate is revoked
    // (like ceremony_requests.closed_us). credential_id is '' for the CA's
    // own certificates, so it carries no foreign key.
    R"sql(
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
    )sql",
    // Version 4: API clients, grants (tokens, codes, SADs) and possession
    // factors (issue 4). Clients are never deleted; a client's redirect URIs
    // are rows of client_redirect_uris, `seq` their 0-based place in the list
    // (so any bytes survive and the order is kept). grants.client_id,
    // credential_id and parent are '' for none, so they carry no foreign key;
    // expired grants are deleted (grants_by_expiry), and revoking a token
    // revokes what came from it (grants_by_parent). The kind CHECKs back the
    // InvalidArgument checks in the code. Unlike the older tables, the TEXT
    // primary keys say NOT NULL (SQLite would otherwise allow NULL in them).
    R"sql(
      CREATE TABLE clients(
        client_id TEXT NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 1);
      CREATE TABLE client_redirect_uris(
        client_id TEXT NOT NULL REFERENCES clients(client_id),
        seq INTEGER NOT NULL,
        uri TEXT NOT NULL,
        PRIMARY KEY(client_id, seq));
      CREATE TABLE grants(
        id TEXT NOT NULL PRIMARY KEY,
        kind TEXT NOT NULL
          CHECK(kind IN ('access', 'refresh', 'code', 'sad')),
        user_id INTEGER NOT NULL REFERENCES users(id),
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        credential_id TEXT NOT NULL,
        hashes TEXT NOT NULL,
        uses_left INTEGER NOT NULL,
        parent TEXT NOT NULL,
        data TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        expires_us INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX grants_by_parent ON grants(parent);
      CREATE INDEX grants_by_expiry ON grants(expires_us);
      CREATE TABLE factors(
        user_id INTEGER NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL CHECK(kind IN ('totp', 'card')),
        secret BLOB NOT NULL,
        certificate BLOB NOT NULL,
        last_step INTEGER NOT NULL DEFAULT -1,
        failed_tries INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0,
        created_us INTEGER NOT NULL,
        PRIMARY KEY(user_id, kind));
    )sql",
};
constexpr int kSchemaVersion =
    static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

// Maps an SQLite result code to a Status. `context` says what we were doing
// (it may name ids, never secrets); SQLite's own messages name tables and
// columns but never bound values.
absl::Status SqliteError(int rc, sqlite3* db, absl::string_view context) {
  std::string message = absl::StrCat(
      context, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
      " (sqlite ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_ROWID:
          return absl::AlreadyExistsError(message);
        default:  // foreign key, NOT NULL, CHECK
          return absl::FailedPreconditionError(message);
      }
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(message);
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

// RAII for sqlite3* and sqlite3_stmt*.
struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// A borrowed, cached statement; resets it and clears its bindings when the
// use ends, so the next user (and COMMIT) finds it idle.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  absl::Status BindInt64(int index, int64_t value) {
    return Check(sqlite3_bind_int64(stmt_, index, value));
  }
  absl::Status BindNull(int index) {
    return Check(sqlite3_bind_null(stmt_, index));
  }
  // Bound without copying: the data must outlive the statement's use.
  absl::Status BindText(int index, absl::string_view value) {
    if (value.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return absl::InvalidArgumentError("value too large");
    }
    return Check(
        sqlite3_bind_text(stmt_, index, value.empty() ? "" : value.data(),
                          static_cast<int>(value.size()), SQLITE_STATIC));
  }
  absl::Status BindBlob(int index, absl::string_view value) {
    if (value.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return absl::InvalidArgumentError("value too large");
    }
    if (value.empty()) return Check(sqlite3_bind_zeroblob(stmt_, index, 0));
    return Check(sqlite3_bind_blob(stmt_, index, value.data(),
                                   static_cast<int>(value.size()),
                                   SQLITE_STATIC));
  }

  // True if a row is available, false when done.
  absl::StatusOr<bool> Step(absl::string_view context) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(rc, db_, context);
  }

  int64_t ColumnInt64(int col) { return sqlite3_column_int64(stmt_, col); }
  bool ColumnIsNull(int col) {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  // Exact bytes of a TEXT or BLOB column (NUL bytes included).
  std::string ColumnBytes(int col) {
    const void* data = sqlite3_column_blob(stmt_, col);
    int size = sqlite3_column_bytes(stmt_, col);
    if (data == nullptr || size <= 0) return std::string();
    return std::string(static_cast<const char*>(data),
                       static_cast<size_t>(size));
  }

 private:
  absl::Status Check(int rc) {
    if (rc == SQLITE_OK) return absl::OkStatus();
    return SqliteError(rc, db_, "bind");
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// One open database handle with its statement cache. Used by one transaction
// at a time (the pool hands it out exclusively).
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path) {
    sqlite3* raw = nullptr;
    // No SQLITE_OPEN_CREATE: OpenSqliteStore creates the file with mode 0600
    // first. NOMUTEX: a connection is never used by two threads at once.
    int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK) {
      return SqliteError(rc, db.get(), absl::StrCat("open database ", path));
    }
    sqlite3_extended_result_codes(db.get(), 1);
    rc = sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
    if (rc != SQLITE_OK) return SqliteError(rc, db.get(), "set busy timeout");
    auto conn = std::unique_ptr<Connection>(new Connection(std::move(db)));
    // synchronous=FULL: a commit (e.g. an audit entry) is durable before
    // Transact returns.
    RETURN_IF_ERROR(
        conn->ExecScript("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; "
                         "PRAGMA trusted_schema=OFF;",
                         "configure connection"));
    return conn;
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_.get(); }

  // The cached statement for `sql` (prepared on first use).
  absl::StatusOr<std::unique_ptr<Stmt>> Prepare(absl::string_view sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v3(db_.get(), sql.data(),
                                  static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      StmtPtr stmt(raw);
      if (rc != SQLITE_OK) return SqliteError(rc, db_.get(), "prepare");
      it = cache_.emplace(std::string(sql), std::move(stmt)).first;
    }
    return std::make_unique<Stmt>(db_.get(), it->second.get());
  }

  // Runs one statement that returns no rows of interest (BEGIN, COMMIT...).
  absl::Status Exec(absl::string_view sql, absl::string_view context) {
    ASSIGN_OR_RETURN(auto stmt, Prepare(sql));
    ASSIGN_OR_RETURN(bool row, stmt->Step(context));
    (void)row;
    return absl::OkStatus();
  }

  // Runs several statements, uncached (schema setup, pragmas).
  absl::Status ExecScript(const char* sql, absl::string_view context) {
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(rc, db_.get(), context);
    return absl::OkStatus();
  }

  bool InTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

 private:
  explicit Connection(DbPtr db) : db_(std::move(db)) {}

  DbPtr db_;  // declared first: closed after the statements are finalized
  absl::flat_hash_map<std::string, StmtPtr> cache_;
};

UserRecord ReadUser(Stmt& stmt) {
  UserRecord user;
  user.id = stmt.ColumnInt64(0);
  user.name = stmt.ColumnBytes(1);
  user.created = absl::FromUnixMicros(stmt.ColumnInt64(2));
  return user;
}

// Column order read by ReadCredential (a macro so it can be pasted into
// string literals).
#define INKAN_CREDENTIAL_COLUMNS                                            \
  "id, user_id, algorithm, backend, public_key, sealed_key, failed_tries, " \
  "locked, created_us"

CredentialRecord ReadCredential(Stmt& stmt) {
  CredentialRecord cred;
  cred.id = stmt.ColumnBytes(0);
  cred.user_id = stmt.ColumnInt64(1);
  cred.algorithm = stmt.ColumnBytes(2);
  cred.backend = stmt.ColumnBytes(3);
  cred.public_key = stmt.ColumnBytes(4);
  cred.sealed_key = stmt.ColumnBytes(5);
  cred.failed_tries = static_cast<int>(stmt.ColumnInt64(6));
  cred.locked = stmt.ColumnInt64(7) != 0;
  cred.created = absl::FromUnixMicros(stmt.ColumnInt64(8));
  return cred;
}

// Column order read by ReadOperator.
#define INKAN_OPERATOR_COLUMNS "name, public_key, created_us, active"

OperatorRecord ReadOperator(Stmt& stmt) {
  OperatorRecord op;
  op.name = stmt.ColumnBytes(0);
  op.public_key = stmt.ColumnBytes(1);
  op.created = absl::FromUnixMicros(stmt.ColumnInt64(2));
  op.active = stmt.ColumnInt64(3) != 0;
  return op;
}

// Column order read by ReadCeremonyRequest.
#define INKAN_CEREMONY_REQUEST_COLUMNS                                  \
  "id, canonical, operation, proposer, created_us, expires_us, state, " \
  "closed_us, outcome"

CeremonyRequestRecord ReadCeremonyRequest(Stmt& stmt) {
  CeremonyRequestRecord req;
  req.id = stmt.ColumnBytes(0);
  req.canonical = stmt.ColumnBytes(1);
  req.operation = stmt.ColumnBytes(2);
  req.proposer = stmt.ColumnBytes(3);
  req.created = absl::FromUnixMicros(stmt.ColumnInt64(4));
  req.expires = absl::FromUnixMicros(stmt.ColumnInt64(5));
  req.state = stmt.ColumnBytes(6);
  // NULL while pending: the record's default (unset) time.
  req.closed = stmt.ColumnIsNull(7) ? absl::Time()
                                    : absl::FromUnixMicros(stmt.ColumnInt64(7));
  req.outcome = stmt.ColumnBytes(8);
  return req;
}

// The states a ceremony request leaves "pending" for.
bool IsClosedCeremonyState(absl::string_view state) {
  return state == "executed" || state == "cancelled" || state == "failed";
}

// Column order read by ReadCertificate.
#define INKAN_CERTIFICATE_COLUMNS                                      \
  "serial, credential_id, subject, der, not_before_us, not_after_us, " \
  "issued_us, revoked, revoked_us, reason"

CertificateRecord ReadCertificate(Stmt& stmt) {
  CertificateRecord cert;
  cert.serial_hex = stmt.ColumnBytes(0);
  cert.credential_id = stmt.ColumnBytes(1);
  cert.subject = stmt.ColumnBytes(2);
  cert.der = stmt.ColumnBytes(3);
  cert.not_before = absl::FromUnixMicros(stmt.ColumnInt64(4));
  cert.not_after = absl::FromUnixMicros(stmt.ColumnInt64(5));
  cert.issued = absl::FromUnixMicros(stmt.ColumnInt64(6));
  cert.revoked = stmt.ColumnInt64(7) != 0;
  // NULL until revoked: the record's default (unset) time.
  cert.revoked_at = stmt.ColumnIsNull(8)
                        ? absl::Time()
                        : absl::FromUnixMicros(stmt.ColumnInt64(8));
  cert.reason = static_cast<int>(stmt.ColumnInt64(9));
  return cert;
}

// RFC 5280 section 5.3.1 CRLReason: 0..10, where 7 is not used.
bool IsValidCrlReason(int reason) {
  return reason >= 0 && reason <= 10 && reason != 7;
}

absl::Status CheckCrlReason(absl::string_view what, absl::string_view serial,
                            int reason) {
  if (IsValidCrlReason(reason)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " certificate ", serial, ": reason ", reason,
                   " is not an RFC 5280 CRLReason (0..10 except 7)"));
}

// Column order read by ReadClient (its redirect URIs are read separately).
#define INKAN_CLIENT_COLUMNS "client_id, name, secret_hash, created_us, active"

ClientRecord ReadClient(Stmt& stmt) {
  ClientRecord client;
  client.client_id = stmt.ColumnBytes(0);
  client.name = stmt.ColumnBytes(1);
  client.secret_hash = stmt.ColumnBytes(2);
  client.created = absl::FromUnixMicros(stmt.ColumnInt64(3));
  client.active = stmt.ColumnInt64(4) != 0;
  return client;
}

// Column order read by ReadGrant.
#define INKAN_GRANT_COLUMNS                                                 \
  "id, kind, user_id, client_id, scope, credential_id, hashes, uses_left, " \
  "parent, data, created_us, expires_us, revoked"

GrantRecord ReadGrant(Stmt& stmt) {
  GrantRecord grant;
  grant.id = stmt.ColumnBytes(0);
  grant.kind = stmt.ColumnBytes(1);
  grant.user_id = stmt.ColumnInt64(2);
  grant.client_id = stmt.ColumnBytes(3);
  grant.scope = stmt.ColumnBytes(4);
  grant.credential_id = stmt.ColumnBytes(5);
  grant.hashes = stmt.ColumnBytes(6);
  grant.uses_left = stmt.ColumnInt64(7);
  grant.parent = stmt.ColumnBytes(8);
  grant.data = stmt.ColumnBytes(9);
  grant.created = absl::FromUnixMicros(stmt.ColumnInt64(10));
  grant.expires = absl::FromUnixMicros(stmt.ColumnInt64(11));
  grant.revoked = stmt.ColumnInt64(12) != 0;
  return grant;
}

// Column order read by ReadFactor.
#define INKAN_FACTOR_COLUMNS                                      \
  "user_id, kind, secret, certificate, last_step, failed_tries, " \
  "locked, created_us"

FactorRecord ReadFactor(Stmt& stmt) {
  FactorRecord factor;
  factor.user_id = stmt.ColumnInt64(0);
  factor.kind = stmt.ColumnBytes(1);
  factor.secret = stmt.ColumnBytes(2);
  factor.certificate = stmt.ColumnBytes(3);
  factor.last_step = stmt.ColumnInt64(4);
  factor.failed_tries = static_cast<int>(stmt.ColumnInt64(5));
  factor.locked = stmt.ColumnInt64(6) != 0;
  factor.created = absl::FromUnixMicros(stmt.ColumnInt64(7));
  return factor;
}

// The kinds of grant and of possession factor (the tables CHECK them too).
bool IsGrantKind(absl::string_view kind) {
  return kind == "access" || kind == "refresh" || kind == "code" ||
         kind == "sad";
}
bool IsFactorKind(absl::string_view kind) {
  return kind == "totp" || kind == "card";
}

// The first whole microsecond not before `t`: a time stored in microseconds
// is before `t` exactly when it is before this bound.
int64_t MicrosCeiling(absl::Time t) {
  int64_t us = absl::ToUnixMicros(t);  // rounds down
  if (absl::FromUnixMicros(us) < t &&
      us < std::numeric_limits<int64_t>::max()) {
    ++us;
  }
  return us;
}

class SqliteTransaction : public Transaction {
 public:
  SqliteTransaction(Connection& conn, TxMode mode) : conn_(conn), mode_(mode) {}

  // Not OK if SQLite rolled the whole transaction back after an error (it
  // does so for e.g. SQLITE_FULL or SQLITE_IOERR): nothing more may run in it,
  // and it must not report success even if the callback returns OK.
  const absl::Status& aborted() const { return aborted_; }

  absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("SELECT value FROM meta WHERE key = ?"));
    RETURN_IF_ERROR(stmt->BindText(1, key));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get meta"));
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(stmt->ColumnBytes(0));
  }

  absl::Status PutMeta(absl::string_view key,
                       absl::string_view value) override {
    RETURN_IF_ERROR(CheckWritable("PutMeta"));
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    RETURN_IF_ERROR(stmt->BindText(1, key));
    RETURN_IF_ERROR(stmt->BindText(2, value));
    return StepDone(*stmt, absl::StrCat("put meta ", key));
  }

  absl::StatusOr<int64_t> InsertUser(const UserRecord& user) override {
    RETURN_IF_ERROR(CheckWritable("InsertUser"));
    ASSIGN_OR_RETURN(
        auto stmt, Prepare("INSERT INTO users(name, created_us) VALUES(?, ?)"));
    RETURN_IF_ERROR(stmt->BindText(1, user.name));
    RETURN_IF_ERROR(stmt->BindInt64(2, absl::ToUnixMicros(user.created)));
    RETURN_IF_ERROR(StepDone(*stmt, absl::StrCat("insert user ", user.name)));
    return sqlite3_last_insert_rowid(conn_.db());
  }

  absl::StatusOr<UserRecord> GetUserByName(absl::string_view name) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("SELECT id, name, created_us FROM users WHERE name = ?"));
    RETURN_IF_ERROR(stmt->BindText(1, name));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get user"));
    if (!row) {
      return absl::NotFoundError(absl::StrCat("no user named \"", name, "\""));
    }
    return ReadUser(*stmt);
  }

  absl::StatusOr<UserRecord> GetUserById(int64_t id) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("SELECT id, name, created_us FROM users WHERE id = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, id));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get user"));
    if (!row) return absl::NotFoundError(absl::StrCat("no user with id ", id));
    return ReadUser(*stmt);
  }

  absl::StatusOr<std::vector<UserRecord>> ListUsers() override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("SELECT id, name, created_us FROM users ORDER BY id"));
    std::vector<UserRecord> users;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list users"));
      if (!row) break;
      users.push_back(ReadUser(*stmt));
    }
    return users;
  }

  absl::Status InsertCredential(const CredentialRecord& cred) override {
    RETURN_IF_ERROR(CheckWritable("InsertCredential"));
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("INSERT INTO credentials(id, user_id, algorithm, backend, "
                "public_key, sealed_key, failed_tries, locked, created_us) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindText(1, cred.id));
    RETURN_IF_ERROR(stmt->BindInt64(2, cred.user_id));
    RETURN_IF_ERROR(stmt->BindText(3, cred.algorithm));
    RETURN_IF_ERROR(stmt->BindText(4, cred.backend));
    RETURN_IF_ERROR(stmt->BindBlob(5, cred.public_key));
    RETURN_IF_ERROR(stmt->BindBlob(6, cred.sealed_key));
    RETURN_IF_ERROR(stmt->BindInt64(7, cred.failed_tries));
    RETURN_IF_ERROR(stmt->BindInt64(8, cred.locked ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindInt64(9, absl::ToUnixMicros(cred.created)));
    return StepDone(*stmt, absl::StrCat("insert credential ", cred.id,
                                        " for user ", cred.user_id));
  }

  absl::StatusOr<CredentialRecord> GetCredential(
      absl::string_view id) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_CREDENTIAL_COLUMNS
                                        " FROM credentials WHERE id = ?"));
    RETURN_IF_ERROR(stmt->BindText(1, id));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get credential"));
    if (!row) {
      return absl::NotFoundError(absl::StrCat("no credential with id ", id));
    }
    return ReadCredential(*stmt);
  }

  absl::StatusOr<std::vector<CredentialRecord>> ListCredentials(
      int64_t user_id) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(
        auto stmt, Prepare("SELECT " INKAN_CREDENTIAL_COLUMNS
                           " FROM credentials WHERE user_id = ? ORDER BY id"));
    RETURN_IF_ERROR(stmt->BindInt64(1, user_id));
    std::vector<CredentialRecord> creds;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list credentials"));
      if (!row) break;
      creds.push_back(ReadCredential(*stmt));
    }
    return creds;
  }

  absl::Status UpdateCredentialTries(absl::string_view id, int failed_tries,
                                     bool locked) override {
    RETURN_IF_ERROR(CheckWritable("UpdateCredentialTries"));
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("UPDATE credentials SET failed_tries = ?, locked = ? "
                "WHERE id = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, failed_tries));
    RETURN_IF_ERROR(stmt->BindInt64(2, locked ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindText(3, id));
    RETURN_IF_ERROR(StepDone(*stmt, absl::StrCat("update credential ", id)));
    if (sqlite3_changes(conn_.db()) == 0) {
      return absl::NotFoundError(absl::StrCat("no credential with id ", id));
    }
    return absl::OkStatus();
  }

  absl::Status InsertOperator(const OperatorRecord& op) override {
    RETURN_IF_ERROR(CheckWritable("InsertOperator"));
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("INSERT INTO operators(name, public_key, "
                             "created_us, active) VALUES(?, ?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindText(1, op.name));
    RETURN_IF_ERROR(stmt->BindBlob(2, op.public_key));
    RETURN_IF_ERROR(stmt->BindInt64(3, absl::ToUnixMicros(op.created)));
    RETURN_IF_ERROR(stmt->BindInt64(4, op.active ? 1 : 0));
    return StepDone(*stmt, absl::StrCat("insert operator ", op.name));
  }

  absl::StatusOr<OperatorRecord> GetOperator(absl::string_view name) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_OPERATOR_COLUMNS
                                        " FROM operators WHERE name = ?"));
    RETURN_IF_ERROR(stmt->BindText(1, name));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get operator"));
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no operator named \"", name, "\""));
    }
    return ReadOperator(*stmt);
  }

  absl::StatusOr<std::vector<OperatorRecord>> ListOperators() override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_OPERATOR_COLUMNS
                                        " FROM operators ORDER BY name"));
    std::vector<OperatorRecord> ops;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list operators"));
      if (!row) break;
      ops.push_back(ReadOperator(*stmt));
    }
    return ops;
  }

  absl::Status SetOperatorActive(absl::string_view name, bool active) override {
    RETURN_IF_ERROR(CheckWritable("SetOperatorActive"));
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("UPDATE operators SET active = ? WHERE name = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, active ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindText(2, name));
    RETURN_IF_ERROR(StepDone(*stmt, absl::StrCat("update operator ", name)));
    // SQLite counts every row the WHERE matched, changed or not.
    if (sqlite3_changes(conn_.db()) == 0) {
      return absl::NotFoundError(
          absl::StrCat("no operator named \"", name, "\""));
    }
    return absl::OkStatus();
  }

  absl::Status InsertCeremonyRequest(
      const CeremonyRequestRecord& req) override {
    RETURN_IF_ERROR(CheckWritable("InsertCeremonyRequest"));
    if (req.state != "pending" && !IsClosedCeremonyState(req.state)) {
      return absl::InvalidArgumentError(
          absl::StrCat("insert ceremony request ", req.id, ": unknown state \"",
                       req.state, "\""));
    }
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("INSERT INTO ceremony_requests(" INKAN_CEREMONY_REQUEST_COLUMNS
                ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindText(1, req.id));
    RETURN_IF_ERROR(stmt->BindText(2, req.canonical));
    RETURN_IF_ERROR(stmt->BindText(3, req.operation));
    RETURN_IF_ERROR(stmt->BindText(4, req.proposer));
    RETURN_IF_ERROR(stmt->BindInt64(5, absl::ToUnixMicros(req.created)));
    RETURN_IF_ERROR(stmt->BindInt64(6, absl::ToUnixMicros(req.expires)));
    RETURN_IF_ERROR(stmt->BindText(7, req.state));
    RETURN_IF_ERROR(BindOptionalTime(*stmt, 8, req.closed));
    RETURN_IF_ERROR(stmt->BindText(9, req.outcome));
    return StepDone(*stmt, absl::StrCat("insert ceremony request ", req.id));
  }

  absl::StatusOr<CeremonyRequestRecord> GetCeremonyRequest(
      absl::string_view id) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("SELECT " INKAN_CEREMONY_REQUEST_COLUMNS
                             " FROM ceremony_requests WHERE id = ?"));
    RETURN_IF_ERROR(stmt->BindText(1, id));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get ceremony request"));
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no ceremony request with id ", id));
    }
    return ReadCeremonyRequest(*stmt);
  }

  absl::StatusOr<std::vector<CeremonyRequestRecord>> ListCeremonyRequests(
      absl::string_view state, int64_t limit) override {
    RETURN_IF_ERROR(CheckUsable());
    if (limit < 0) return absl::InvalidArgumentError("negative limit");
    std::vector<CeremonyRequestRecord> reqs;
    if (limit == 0) return reqs;
    std::unique_ptr<Stmt> stmt;
    if (state.empty()) {
      ASSIGN_OR_RETURN(stmt, Prepare("SELECT " INKAN_CEREMONY_REQUEST_COLUMNS
                                     " FROM ceremony_requests ORDER BY "
                                     "created_us DESC, id DESC LIMIT ?"));
      RETURN_IF_ERROR(stmt->BindInt64(1, limit));
    } else {
      ASSIGN_OR_RETURN(stmt,
                       Prepare("SELECT " INKAN_CEREMONY_REQUEST_COLUMNS
                               " FROM ceremony_requests WHERE state = ? "
                               "ORDER BY created_us DESC, id DESC LIMIT ?"));
      RETURN_IF_ERROR(stmt->BindText(1, state));
      RETURN_IF_ERROR(stmt->BindInt64(2, limit));
    }
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list ceremony requests"));
      if (!row) break;
      reqs.push_back(ReadCeremonyRequest(*stmt));
    }
    return reqs;
  }

  absl::Status CloseCeremonyRequest(absl::string_view id,
                                    absl::string_view state, absl::Time closed,
                                    absl::string_view outcome) override {
    RETURN_IF_ERROR(CheckWritable("CloseCeremonyRequest"));
    if (!IsClosedCeremonyState(state)) {
      return absl::InvalidArgumentError(
          absl::StrCat("close ceremony request ", id, ": state \"", state,
                       "\" is not executed, cancelled or failed"));
    }
    {
      ASSIGN_OR_RETURN(
          auto stmt,
          Prepare("UPDATE ceremony_requests SET state = ?, closed_us = ?, "
                  "outcome = ? WHERE id = ? AND state = 'pending'"));
      RETURN_IF_ERROR(stmt->BindText(1, state));
      RETURN_IF_ERROR(BindOptionalTime(*stmt, 2, closed));
      RETURN_IF_ERROR(stmt->BindText(3, outcome));
      RETURN_IF_ERROR(stmt->BindText(4, id));
      RETURN_IF_ERROR(
          StepDone(*stmt, absl::StrCat("close ceremony request ", id)));
    }
    if (sqlite3_changes(conn_.db()) == 1) return absl::OkStatus();
    // Nothing changed: unknown, or no longer pending.
    ASSIGN_OR_RETURN(CeremonyRequestRecord req, GetCeremonyRequest(id));
    return absl::FailedPreconditionError(
        absl::StrCat("close ceremony request ", id, ": it is already ",
                     req.state, ", not pending"));
  }

  absl::Status InsertApproval(const ApprovalRecord& approval) override {
    RETURN_IF_ERROR(CheckWritable("InsertApproval"));
    // The foreign keys give FailedPrecondition for an unknown request or
    // operator, UNIQUE(request_id, operator_name) AlreadyExists for a repeat.
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("INSERT INTO ceremony_approvals(request_id, operator_name, "
                "signature, at_us) VALUES(?, ?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindText(1, approval.request_id));
    RETURN_IF_ERROR(stmt->BindText(2, approval.operator_name));
    RETURN_IF_ERROR(stmt->BindBlob(3, approval.signature));
    RETURN_IF_ERROR(stmt->BindInt64(4, absl::ToUnixMicros(approval.at)));
    return StepDone(*stmt, absl::StrCat("insert approval of ceremony request ",
                                        approval.request_id, " by operator ",
                                        approval.operator_name));
  }

  absl::StatusOr<std::vector<ApprovalRecord>> ListApprovals(
      absl::string_view request_id) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("SELECT request_id, operator_name, signature, at_us FROM "
                "ceremony_approvals WHERE request_id = ? ORDER BY seq"));
    RETURN_IF_ERROR(stmt->BindText(1, request_id));
    std::vector<ApprovalRecord> approvals;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list approvals"));
      if (!row) break;
      ApprovalRecord approval;
      approval.request_id = stmt->ColumnBytes(0);
      approval.operator_name = stmt->ColumnBytes(1);
      approval.signature = stmt->ColumnBytes(2);
      approval.at = absl::FromUnixMicros(stmt->ColumnInt64(3));
      approvals.push_back(std::move(approval));
    }
    return approvals;
  }

  absl::Status InsertCertificate(const CertificateRecord& cert) override {
    RETURN_IF_ERROR(CheckWritable("InsertCertificate"));
    RETURN_IF_ERROR(CheckCrlReason("insert", cert.serial_hex, cert.reason));
    // The primary key gives AlreadyExists for a serial issued before.
    ASSIGN_OR_RETURN(
        auto stmt, Prepare("INSERT INTO certificates(" INKAN_CERTIFICATE_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindText(1, cert.serial_hex));
    RETURN_IF_ERROR(stmt->BindText(2, cert.credential_id));
    RETURN_IF_ERROR(stmt->BindText(3, cert.subject));
    RETURN_IF_ERROR(stmt->BindBlob(4, cert.der));
    RETURN_IF_ERROR(stmt->BindInt64(5, absl::ToUnixMicros(cert.not_before)));
    RETURN_IF_ERROR(stmt->BindInt64(6, absl::ToUnixMicros(cert.not_after)));
    RETURN_IF_ERROR(stmt->BindInt64(7, absl::ToUnixMicros(cert.issued)));
    RETURN_IF_ERROR(stmt->BindInt64(8, cert.revoked ? 1 : 0));
    RETURN_IF_ERROR(BindOptionalTime(*stmt, 9, cert.revoked_at));
    RETURN_IF_ERROR(stmt->BindInt64(10, cert.reason));
    return StepDone(*stmt,
                    absl::StrCat("insert certificate ", cert.serial_hex));
  }

  absl::StatusOr<CertificateRecord> GetCertificate(
      absl::string_view serial_hex) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_CERTIFICATE_COLUMNS
                                        " FROM certificates WHERE serial = ?"));
    RETURN_IF_ERROR(stmt->BindText(1, serial_hex));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get certificate"));
    if (!row) {
      return absl::NotFoundError(
          absl::StrCat("no certificate with serial ", serial_hex));
    }
    return ReadCertificate(*stmt);
  }

  absl::StatusOr<std::vector<CertificateRecord>> ListCertificates(
      absl::string_view credential_id) override {
    RETURN_IF_ERROR(CheckUsable());
    std::unique_ptr<Stmt> stmt;
    if (credential_id.empty()) {
      ASSIGN_OR_RETURN(stmt, Prepare("SELECT " INKAN_CERTIFICATE_COLUMNS
                                     " FROM certificates "
                                     "ORDER BY issued_us, serial"));
    } else {
      ASSIGN_OR_RETURN(stmt, Prepare("SELECT " INKAN_CERTIFICATE_COLUMNS
                                     " FROM certificates WHERE "
                                     "credential_id = ? "
                                     "ORDER BY issued_us, serial"));
      RETURN_IF_ERROR(stmt->BindText(1, credential_id));
    }
    std::vector<CertificateRecord> certs;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list certificates"));
      if (!row) break;
      certs.push_back(ReadCertificate(*stmt));
    }
    return certs;
  }

  absl::Status RevokeCertificate(absl::string_view serial_hex, absl::Time at,
                                 int reason) override {
    RETURN_IF_ERROR(CheckWritable("RevokeCertificate"));
    RETURN_IF_ERROR(CheckCrlReason("revoke", serial_hex, reason));
    {
      ASSIGN_OR_RETURN(
          auto stmt,
          Prepare("UPDATE certificates SET revoked = 1, revoked_us = ?, "
                  "reason = ? WHERE serial = ? AND revoked = 0"));
      RETURN_IF_ERROR(BindOptionalTime(*stmt, 1, at));
      RETURN_IF_ERROR(stmt->BindInt64(2, reason));
      RETURN_IF_ERROR(stmt->BindText(3, serial_hex));
      RETURN_IF_ERROR(
          StepDone(*stmt, absl::StrCat("revoke certificate ", serial_hex)));
    }
    if (sqlite3_changes(conn_.db()) == 1) return absl::OkStatus();
    // Nothing changed: unknown, or revoked before.
    RETURN_IF_ERROR(GetCertificate(serial_hex).status());
    return absl::FailedPreconditionError(absl::StrCat(
        "revoke certificate ", serial_hex, ": it is already revoked"));
  }

  absl::StatusOr<std::vector<CertificateRecord>> ListRevokedCertificates()
      override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_CERTIFICATE_COLUMNS
                                        " FROM certificates WHERE revoked = 1 "
                                        "ORDER BY revoked_us, serial"));
    std::vector<CertificateRecord> certs;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list revoked certificates"));
      if (!row) break;
      certs.push_back(ReadCertificate(*stmt));
    }
    return certs;
  }

  absl::Status InsertClient(const ClientRecord& client) override {
    RETURN_IF_ERROR(CheckWritable("InsertClient"));
    // Several rows: all of them or, on error, none.
    return Atomically([&]() -> absl::Status {
      {
        // The primary key gives AlreadyExists for a taken id.
        ASSIGN_OR_RETURN(auto stmt,
                         Prepare("INSERT INTO clients(" INKAN_CLIENT_COLUMNS
                                 ") VALUES(?, ?, ?, ?, ?)"));
        RETURN_IF_ERROR(stmt->BindText(1, client.client_id));
        RETURN_IF_ERROR(stmt->BindText(2, client.name));
        RETURN_IF_ERROR(stmt->BindText(3, client.secret_hash));
        RETURN_IF_ERROR(stmt->BindInt64(4, absl::ToUnixMicros(client.created)));
        RETURN_IF_ERROR(stmt->BindInt64(5, client.active ? 1 : 0));
        RETURN_IF_ERROR(
            StepDone(*stmt, absl::StrCat("insert client ", client.client_id)));
      }
      // In list order: seq is the URI's index.
      for (size_t i = 0; i < client.redirect_uris.size(); ++i) {
        ASSIGN_OR_RETURN(auto stmt,
                         Prepare("INSERT INTO client_redirect_uris(client_id, "
                                 "seq, uri) VALUES(?, ?, ?)"));
        RETURN_IF_ERROR(stmt->BindText(1, client.client_id));
        RETURN_IF_ERROR(stmt->BindInt64(2, static_cast<int64_t>(i)));
        RETURN_IF_ERROR(stmt->BindText(3, client.redirect_uris[i]));
        RETURN_IF_ERROR(StepDone(
            *stmt,
            absl::StrCat("insert redirect URI of client ", client.client_id)));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<ClientRecord> GetClient(absl::string_view client_id) override {
    RETURN_IF_ERROR(CheckUsable());
    ClientRecord client;
    {
      ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_CLIENT_COLUMNS
                                          " FROM clients WHERE client_id = ?"));
      RETURN_IF_ERROR(stmt->BindText(1, client_id));
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "get client"));
      if (!row) {
        return absl::NotFoundError(
            absl::StrCat("no client with id ", client_id));
      }
      client = ReadClient(*stmt);
    }
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("SELECT uri FROM client_redirect_uris WHERE client_id = ? "
                "ORDER BY seq"));
    RETURN_IF_ERROR(stmt->BindText(1, client_id));
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "get client redirect URIs"));
      if (!row) break;
      client.redirect_uris.push_back(stmt->ColumnBytes(0));
    }
    return client;
  }

  absl::StatusOr<std::vector<ClientRecord>> ListClients() override {
    RETURN_IF_ERROR(CheckUsable());
    std::vector<ClientRecord> clients;
    absl::flat_hash_map<std::string, size_t> index;  // client_id -> position
    {
      ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_CLIENT_COLUMNS
                                          " FROM clients ORDER BY client_id"));
      while (true) {
        ASSIGN_OR_RETURN(bool row, Step(*stmt, "list clients"));
        if (!row) break;
        clients.push_back(ReadClient(*stmt));
        index.emplace(clients.back().client_id, clients.size() - 1);
      }
    }
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("SELECT client_id, uri FROM client_redirect_uris "
                             "ORDER BY client_id, seq"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list client redirect URIs"));
      if (!row) break;
      auto it = index.find(stmt->ColumnBytes(0));
      if (it == index.end()) continue;  // the foreign key rules this out
      clients[it->second].redirect_uris.push_back(stmt->ColumnBytes(1));
    }
    return clients;
  }

  absl::Status SetClientActive(absl::string_view client_id,
                               bool active) override {
    RETURN_IF_ERROR(CheckWritable("SetClientActive"));
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("UPDATE clients SET active = ? WHERE client_id = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, active ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindText(2, client_id));
    RETURN_IF_ERROR(StepDone(*stmt, absl::StrCat("update client ", client_id)));
    // SQLite counts every row the WHERE matched, changed or not.
    if (sqlite3_changes(conn_.db()) == 0) {
      return absl::NotFoundError(absl::StrCat("no client with id ", client_id));
    }
    return absl::OkStatus();
  }

  absl::Status InsertGrant(const GrantRecord& grant) override {
    RETURN_IF_ERROR(CheckWritable("InsertGrant"));
    if (!IsGrantKind(grant.kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "insert grant ", grant.id, ": unknown kind \"", grant.kind, "\""));
    }
    // The primary key gives AlreadyExists for a taken id, the foreign key
    // FailedPrecondition for an unknown user.
    ASSIGN_OR_RETURN(
        auto stmt, Prepare("INSERT INTO grants(" INKAN_GRANT_COLUMNS
                           ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindText(1, grant.id));
    RETURN_IF_ERROR(stmt->BindText(2, grant.kind));
    RETURN_IF_ERROR(stmt->BindInt64(3, grant.user_id));
    RETURN_IF_ERROR(stmt->BindText(4, grant.client_id));
    RETURN_IF_ERROR(stmt->BindText(5, grant.scope));
    RETURN_IF_ERROR(stmt->BindText(6, grant.credential_id));
    RETURN_IF_ERROR(stmt->BindText(7, grant.hashes));
    RETURN_IF_ERROR(stmt->BindInt64(8, grant.uses_left));
    RETURN_IF_ERROR(stmt->BindText(9, grant.parent));
    RETURN_IF_ERROR(stmt->BindText(10, grant.data));
    RETURN_IF_ERROR(stmt->BindInt64(11, absl::ToUnixMicros(grant.created)));
    RETURN_IF_ERROR(stmt->BindInt64(12, absl::ToUnixMicros(grant.expires)));
    RETURN_IF_ERROR(stmt->BindInt64(13, grant.revoked ? 1 : 0));
    return StepDone(*stmt, absl::StrCat("insert grant ", grant.id, " for user ",
                                        grant.user_id));
  }

  absl::StatusOr<GrantRecord> GetGrant(absl::string_view id) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT " INKAN_GRANT_COLUMNS
                                        " FROM grants WHERE id = ?"));
    RETURN_IF_ERROR(stmt->BindText(1, id));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get grant"));
    if (!row) return absl::NotFoundError(absl::StrCat("no grant with id ", id));
    return ReadGrant(*stmt);
  }

  absl::Status UpdateGrant(absl::string_view id, int64_t uses_left,
                           absl::string_view hashes, bool revoked) override {
    RETURN_IF_ERROR(CheckWritable("UpdateGrant"));
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("UPDATE grants SET uses_left = ?, hashes = ?, "
                             "revoked = ? WHERE id = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, uses_left));
    RETURN_IF_ERROR(stmt->BindText(2, hashes));
    RETURN_IF_ERROR(stmt->BindInt64(3, revoked ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindText(4, id));
    RETURN_IF_ERROR(StepDone(*stmt, absl::StrCat("update grant ", id)));
    if (sqlite3_changes(conn_.db()) == 0) {
      return absl::NotFoundError(absl::StrCat("no grant with id ", id));
    }
    return absl::OkStatus();
  }

  absl::Status LowerGrantUses(absl::string_view id, int64_t uses_left,
                              bool revoke) override {
    RETURN_IF_ERROR(CheckWritable("LowerGrantUses"));
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("UPDATE grants SET uses_left = MIN(uses_left, ?), "
                             "revoked = MAX(revoked, ?) WHERE id = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, uses_left));
    RETURN_IF_ERROR(stmt->BindInt64(2, revoke ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindText(3, id));
    RETURN_IF_ERROR(StepDone(*stmt, absl::StrCat("update grant ", id)));
    if (sqlite3_changes(conn_.db()) == 0) {
      return absl::NotFoundError(absl::StrCat("no grant with id ", id));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> RevokeGrantsWithParent(
      absl::string_view parent) override {
    RETURN_IF_ERROR(CheckWritable("RevokeGrantsWithParent"));
    if (parent.empty()) {
      return absl::InvalidArgumentError(
          "revoke grants with parent: empty parent");
    }
    ASSIGN_OR_RETURN(auto stmt, Prepare("UPDATE grants SET revoked = 1 "
                                        "WHERE parent = ? AND revoked = 0"));
    RETURN_IF_ERROR(stmt->BindText(1, parent));
    RETURN_IF_ERROR(
        StepDone(*stmt, absl::StrCat("revoke grants with parent ", parent)));
    return static_cast<int64_t>(sqlite3_changes(conn_.db()));
  }

  absl::StatusOr<int64_t> DeleteExpiredGrants(absl::Time now) override {
    RETURN_IF_ERROR(CheckWritable("DeleteExpiredGrants"));
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("DELETE FROM grants WHERE expires_us < ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, MicrosCeiling(now)));
    RETURN_IF_ERROR(StepDone(*stmt, "delete expired grants"));
    return static_cast<int64_t>(sqlite3_changes(conn_.db()));
  }

  absl::Status PutFactor(const FactorRecord& factor) override {
    RETURN_IF_ERROR(CheckWritable("PutFactor"));
    if (!IsFactorKind(factor.kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("put factor of user ", factor.user_id,
                       ": unknown kind \"", factor.kind, "\""));
    }
    // The foreign key gives FailedPrecondition for an unknown user.
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("INSERT INTO factors(" INKAN_FACTOR_COLUMNS
                ") VALUES(?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(user_id, kind) DO UPDATE SET "
                "secret = excluded.secret, "
                "certificate = excluded.certificate, "
                "last_step = excluded.last_step, "
                "failed_tries = excluded.failed_tries, "
                "locked = excluded.locked, created_us = excluded.created_us"));
    RETURN_IF_ERROR(stmt->BindInt64(1, factor.user_id));
    RETURN_IF_ERROR(stmt->BindText(2, factor.kind));
    RETURN_IF_ERROR(stmt->BindBlob(3, factor.secret));
    RETURN_IF_ERROR(stmt->BindBlob(4, factor.certificate));
    RETURN_IF_ERROR(stmt->BindInt64(5, factor.last_step));
    RETURN_IF_ERROR(stmt->BindInt64(6, factor.failed_tries));
    RETURN_IF_ERROR(stmt->BindInt64(7, factor.locked ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindInt64(8, absl::ToUnixMicros(factor.created)));
    return StepDone(*stmt, absl::StrCat("put ", factor.kind, " factor of user ",
                                        factor.user_id));
  }

  absl::StatusOr<FactorRecord> GetFactor(int64_t user_id,
                                         absl::string_view kind) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("SELECT " INKAN_FACTOR_COLUMNS
                             " FROM factors WHERE user_id = ? AND kind = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, user_id));
    RETURN_IF_ERROR(stmt->BindText(2, kind));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "get factor"));
    if (!row) return FactorNotFound(user_id, kind);
    return ReadFactor(*stmt);
  }

  absl::StatusOr<std::vector<FactorRecord>> ListFactors(
      int64_t user_id) override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("SELECT " INKAN_FACTOR_COLUMNS
                             " FROM factors WHERE user_id = ? ORDER BY kind"));
    RETURN_IF_ERROR(stmt->BindInt64(1, user_id));
    std::vector<FactorRecord> factors;
    while (true) {
      ASSIGN_OR_RETURN(bool row, Step(*stmt, "list factors"));
      if (!row) break;
      factors.push_back(ReadFactor(*stmt));
    }
    return factors;
  }

  absl::Status UpdateFactorState(int64_t user_id, absl::string_view kind,
                                 int64_t last_step, int failed_tries,
                                 bool locked) override {
    RETURN_IF_ERROR(CheckWritable("UpdateFactorState"));
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("UPDATE factors SET last_step = ?, failed_tries = ?, "
                "locked = ? WHERE user_id = ? AND kind = ?"));
    RETURN_IF_ERROR(stmt->BindInt64(1, last_step));
    RETURN_IF_ERROR(stmt->BindInt64(2, failed_tries));
    RETURN_IF_ERROR(stmt->BindInt64(3, locked ? 1 : 0));
    RETURN_IF_ERROR(stmt->BindInt64(4, user_id));
    RETURN_IF_ERROR(stmt->BindText(5, kind));
    RETURN_IF_ERROR(StepDone(
        *stmt, absl::StrCat("update ", kind, " factor of user ", user_id)));
    if (sqlite3_changes(conn_.db()) == 0) return FactorNotFound(user_id, kind);
    return absl::OkStatus();
  }

  absl::Status AppendAuditEntry(const AuditEntryRow& row) override {
    RETURN_IF_ERROR(CheckWritable("AppendAuditEntry"));
    int64_t last = 0;
    {
      ASSIGN_OR_RETURN(auto stmt,
                       Prepare("SELECT COALESCE(MAX(seq), 0) FROM audit_log"));
      ASSIGN_OR_RETURN(bool has_row, Step(*stmt, "read last audit seq"));
      if (has_row) last = stmt->ColumnInt64(0);
    }
    if (last == std::numeric_limits<int64_t>::max() || row.seq != last + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("audit entry seq ", row.seq, " does not follow ", last));
    }
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(
            "INSERT INTO audit_log(seq, entry, leaf_hash) VALUES(?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindInt64(1, row.seq));
    RETURN_IF_ERROR(stmt->BindText(2, row.entry));
    RETURN_IF_ERROR(stmt->BindBlob(3, row.leaf_hash));
    return StepDone(*stmt, absl::StrCat("append audit entry ", row.seq));
  }

  absl::StatusOr<std::vector<AuditEntryRow>> ReadAuditEntries(
      int64_t from_seq, int64_t limit) override {
    RETURN_IF_ERROR(CheckUsable());
    if (limit < 0) return absl::InvalidArgumentError("negative limit");
    std::vector<AuditEntryRow> rows;
    if (limit == 0) return rows;
    // Last seq in [from_seq, from_seq + limit), saturating.
    int64_t last = (from_seq > 0 &&
                    limit - 1 > std::numeric_limits<int64_t>::max() - from_seq)
                       ? std::numeric_limits<int64_t>::max()
                       : from_seq + (limit - 1);
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("SELECT seq, entry, leaf_hash FROM audit_log "
                             "WHERE seq >= ? AND seq <= ? ORDER BY seq"));
    RETURN_IF_ERROR(stmt->BindInt64(1, from_seq));
    RETURN_IF_ERROR(stmt->BindInt64(2, last));
    while (true) {
      ASSIGN_OR_RETURN(bool has_row, Step(*stmt, "read audit entries"));
      if (!has_row) break;
      AuditEntryRow row;
      row.seq = stmt->ColumnInt64(0);
      row.entry = stmt->ColumnBytes(1);
      row.leaf_hash = stmt->ColumnBytes(2);
      rows.push_back(std::move(row));
    }
    return rows;
  }

  absl::StatusOr<int64_t> AuditEntryCount() override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT COUNT(*) FROM audit_log"));
    ASSIGN_OR_RETURN(bool row, Step(*stmt, "count audit entries"));
    return row ? stmt->ColumnInt64(0) : 0;
  }

  absl::Status AppendCheckpoint(const CheckpointRow& row) override {
    RETURN_IF_ERROR(CheckWritable("AppendCheckpoint"));
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("INSERT INTO audit_checkpoint(tree_size, note, "
                             "signature) VALUES(?, ?, ?)"));
    RETURN_IF_ERROR(stmt->BindInt64(1, row.tree_size));
    RETURN_IF_ERROR(stmt->BindText(2, row.note));
    RETURN_IF_ERROR(stmt->BindBlob(3, row.signature));
    return StepDone(*stmt,
                    absl::StrCat("append checkpoint for size ", row.tree_size));
  }

  absl::StatusOr<std::vector<CheckpointRow>> ReadCheckpoints() override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(auto stmt,
                     Prepare("SELECT tree_size, note, signature FROM "
                             "audit_checkpoint ORDER BY tree_size"));
    std::vector<CheckpointRow> rows;
    while (true) {
      ASSIGN_OR_RETURN(bool has_row, Step(*stmt, "read checkpoints"));
      if (!has_row) break;
      rows.push_back(ReadCheckpoint(*stmt));
    }
    return rows;
  }

  absl::StatusOr<std::optional<CheckpointRow>> LatestCheckpoint() override {
    RETURN_IF_ERROR(CheckUsable());
    ASSIGN_OR_RETURN(
        auto stmt,
        Prepare("SELECT tree_size, note, signature FROM audit_checkpoint "
                "ORDER BY tree_size DESC LIMIT 1"));
    ASSIGN_OR_RETURN(bool has_row, Step(*stmt, "read latest checkpoint"));
    if (!has_row) return std::optional<CheckpointRow>();
    return std::optional<CheckpointRow>(ReadCheckpoint(*stmt));
  }

 private:
  // An unset time (the records' default, absl::Time()) is stored as NULL.
  static absl::Status BindOptionalTime(Stmt& stmt, int index, absl::Time t) {
    if (t == absl::Time()) return stmt.BindNull(index);
    return stmt.BindInt64(index, absl::ToUnixMicros(t));
  }

  static absl::Status FactorNotFound(int64_t user_id, absl::string_view kind) {
    return absl::NotFoundError(
        absl::StrCat("no ", kind, " factor for user ", user_id));
  }

  static CheckpointRow ReadCheckpoint(Stmt& stmt) {
    CheckpointRow row;
    row.tree_size = stmt.ColumnInt64(0);
    row.note = stmt.ColumnBytes(1);
    row.signature = stmt.ColumnBytes(2);
    return row;
  }

  absl::Status CheckUsable() const { return aborted_; }

  absl::Status CheckWritable(absl::string_view op) const {
    RETURN_IF_ERROR(CheckUsable());
    if (mode_ != TxMode::kReadWrite) {
      return absl::FailedPreconditionError(
          absl::StrCat(op, " in a read-only transaction"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Stmt>> Prepare(absl::string_view sql) {
    return conn_.Prepare(sql);
  }

  // Runs `fn`, a write of several statements, inside a savepoint: if it
  // fails, none of its statements stay, so a caller that handles the error
  // and commits the rest never keeps half of it.
  absl::Status Atomically(absl::FunctionRef<absl::Status()> fn) {
    RETURN_IF_ERROR(conn_.Exec("SAVEPOINT inkan_write", "savepoint"));
    absl::Status status = fn();
    if (!conn_.InTransaction()) return status;  // SQLite rolled back it all
    if (!status.ok()) {
      absl::Status undone =
          conn_.Exec("ROLLBACK TO inkan_write", "roll back to savepoint");
      if (!undone.ok()) {
        aborted_ = undone;
        return status;
      }
    }
    absl::Status released = conn_.Exec("RELEASE inkan_write", "release");
    if (!released.ok()) aborted_ = released;
    return status.ok() ? released : status;
  }

  // Steps and, on error, notices whether SQLite abandoned the transaction.
  absl::StatusOr<bool> Step(Stmt& stmt, absl::string_view context) {
    absl::StatusOr<bool> result = stmt.Step(context);
    if (!result.ok() && !conn_.InTransaction()) {
      aborted_ =
          absl::Status(result.status().code(),
                       absl::StrCat("transaction rolled back by SQLite: ",
                                    result.status().message()));
      return aborted_;
    }
    return result;
  }

  absl::Status StepDone(Stmt& stmt, absl::string_view context) {
    return Step(stmt, context).status();
  }

  Connection& conn_;
  const TxMode mode_;
  absl::Status aborted_;
};

class SqliteStore : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path) {
    RETURN_IF_ERROR(CreateFile(path));
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(path));
    RETURN_IF_ERROR(EnableWal(*conn));
    RETURN_IF_ERROR(Migrate(*conn));
    auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path));
    store->Release(std::move(conn));
    return store;
  }

  absl::Status Transact(
      TxMode mode, absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Acquire());
    // IMMEDIATE takes the write lock up front, so writers (in any process)
    // serialise here, waiting up to the busy timeout, instead of failing
    // later when a read transaction tries to upgrade.
    absl::Status status = conn->Exec(
        mode == TxMode::kReadWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED",
        "begin transaction");
    if (status.ok()) {
      SqliteTransaction tx(*conn, mode);
      status = fn(tx);
      if (status.ok()) status = tx.aborted();
      if (status.ok()) status = conn->Exec("COMMIT", "commit");
      if (status.ok()) {
        Release(std::move(conn));
        return absl::OkStatus();
      }
    }
    if (conn->InTransaction()) {
      // The rollback's own error is not interesting next to `status`; if it
      // failed, the connection is dropped below, which rolls back on close.
      conn->Exec("ROLLBACK", "rollback").IgnoreError();
    }
    if (!conn->InTransaction()) Release(std::move(conn));
    return status;
  }

 private:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}

  // Creates the file with mode 0600 before SQLite opens it. SQLite gives the
  // -wal and -shm files the database file's permission bits.
  static absl::Status CreateFile(const std::string& path) {
    if (path.empty()) return absl::InvalidArgumentError("empty database path");
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool created = fd >= 0;
    if (!created && errno == EEXIST) {
      fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      return absl::Status(
          absl::ErrnoToStatusCode(err),
          absl::StrCat("open database ", path, ": ", std::strerror(err)));
    }
    // The umask may have cleared owner bits; nothing else should be set.
    if (created && fchmod(fd, 0600) != 0) {
      int err = errno;
      close(fd);
      return absl::Status(
          absl::ErrnoToStatusCode(err),
          absl::StrCat("chmod database ", path, ": ", std::strerror(err)));
    }
    close(fd);
    return absl::OkStatus();
  }

  static absl::Status EnableWal(Connection& conn) {
    ASSIGN_OR_RETURN(auto stmt, conn.Prepare("PRAGMA journal_mode=WAL"));
    ASSIGN_OR_RETURN(bool row, stmt->Step("enable WAL"));
    std::string mode = row ? stmt->ColumnBytes(0) : "";
    if (mode != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "could not enable WAL mode (journal_mode is \"", mode, "\")"));
    }
    return absl::OkStatus();
  }

  static absl::Status Migrate(Connection& conn) {
    RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE", "begin migration"));
    absl::Status status = MigrateInTransaction(conn);
    if (status.ok()) status = conn.Exec("COMMIT", "commit migration");
    if (!status.ok() && conn.InTransaction()) {
      conn.Exec("ROLLBACK", "rollback migration").IgnoreError();
    }
    return status;
  }

  static absl::Status MigrateInTransaction(Connection& conn) {
    int64_t version = 0;
    {
      ASSIGN_OR_RETURN(auto stmt, conn.Prepare("PRAGMA user_version"));
      ASSIGN_OR_RETURN(bool row, stmt->Step("read schema version"));
      if (row) version = stmt->ColumnInt64(0);
    }
    if (version > kSchemaVersion || version < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema version ", version,
          " is not supported by this binary (it knows up to version ",
          kSchemaVersion, ")"));
    }
    for (int64_t v = version; v < kSchemaVersion; ++v) {
      RETURN_IF_ERROR(conn.ExecScript(
          kMigrations[v], absl::StrCat("migrate schema to version ", v + 1)));
    }
    if (version != kSchemaVersion) {
      RETURN_IF_ERROR(conn.ExecScript(
          absl::StrCat("PRAGMA user_version = ", kSchemaVersion).c_str(),
          "set schema version"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Connection>> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Connection> conn = std::move(idle_.back());
        idle_.pop_back();
        return conn;
      }
    }
    return Connection::Open(path_);
  }

  void Release(std::unique_ptr<Connection> conn) {
    {
      absl::MutexLock lock(&mu_);
      if (idle_.size() < kMaxIdleConnections) {
        idle_.push_back(std::move(conn));
        return;
      }
    }
    conn.reset();  // surplus: closed outside the lock
  }

  const std::string path_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

#undef INKAN_CREDENTIAL_COLUMNS
#undef INKAN_OPERATOR_COLUMNS
#undef INKAN_CEREMONY_REQUEST_COLUMNS
#undef INKAN_CERTIFICATE_COLUMNS
#undef INKAN_CLIENT_COLUMNS
#undef INKAN_GRANT_COLUMNS
#undef INKAN_FACTOR_COLUMNS

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(
    const std::string& path) {
  return SqliteStore::Open(path);
}

}  // namespace inkan::storage
