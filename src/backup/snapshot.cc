#include "backup/snapshot.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "common/status_macros.h"
#include "crypto/signer.h"
#include "storage/store.h"

namespace inkan::backup {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

absl::Status SqliteError(int rc, sqlite3* db, absl::string_view what) {
  std::string msg = absl::StrCat(
      what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

absl::StatusOr<Db> OpenDb(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, db.get(), absl::StrCat("open ", path));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

constexpr int64_t kBatch = 1024;

}  // namespace

absl::Status SnapshotSqlite(const std::string& db_path,
                            const std::string& dest_path) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    return absl::NotFoundError(absl::StrCat("no database at ", db_path));
  }
  if (std::filesystem::exists(dest_path, ec)) {
    return absl::AlreadyExistsError(absl::StrCat(dest_path, " exists"));
  }
  // Read-write (no create): a WAL reader may need to write the -shm index.
  ASSIGN_OR_RETURN(Db src, OpenDb(db_path, SQLITE_OPEN_READWRITE));
  ASSIGN_OR_RETURN(
      Db dest, OpenDb(dest_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  for (int attempt = 0;; ++attempt) {
    sqlite3_backup* b =
        sqlite3_backup_init(dest.get(), "main", src.get(), "main");
    if (b == nullptr) {
      return SqliteError(sqlite3_errcode(dest.get()), dest.get(),
                         "start the online backup");
    }
    // -1: every page in one step, so in one read transaction of the source.
    int rc = sqlite3_backup_step(b, -1);
    int finish = sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE && finish == SQLITE_OK) break;
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    return SqliteError(rc == SQLITE_DONE ? finish : rc, dest.get(),
                       absl::StrCat("online backup of ", db_path));
  }
  // The copy keeps the source's WAL flag; fold everything into the one file.
  char* err = nullptr;
  int rc = sqlite3_exec(dest.get(), "PRAGMA journal_mode=DELETE;", nullptr,
                        nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, dest.get(), "set the copy's journal mode");
  }
  return absl::OkStatus();
}

absl::StatusOr<LogSummary> VerifyLogInDatabase(const std::string& db_path,
                                               absl::string_view audit_key_der,
                                               absl::string_view log_id,
                                               int64_t root_at_size) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<crypto::Verifier> key,
      crypto::NewVerifier(audit_key_der, {crypto::KeyAlgorithm::kEcP256,
                                          crypto::HashAlgorithm::kSha256}));
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store,
                   storage::OpenSqliteStore(db_path));
  LogSummary out;
  audit::VerifyReport report;
  RETURN_IF_ERROR(store->Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(report, audit::VerifyLog(tx, *key, log_id));
        if (!report.ok) return absl::OkStatus();
        ASSIGN_OR_RETURN(std::optional<storage::CheckpointRow> latest,
                         tx.LatestCheckpoint());
        if (latest.has_value()) {
          ASSIGN_OR_RETURN(audit::CheckpointNote note,
                           audit::ParseCheckpointNote(latest->note));
          out.tree_size = note.tree_size;
          out.root_hash = note.root_hash;
          out.note = latest->note;
          out.signature = latest->signature;
        } else {
          out.root_hash = audit::EmptyRoot();
        }
        ASSIGN_OR_RETURN(std::optional<std::string> id,
                         tx.GetMeta("instance_id"));
        out.instance_id = id.value_or("");
        if (root_at_size > 0 && root_at_size <= report.entries) {
          audit::CompactRange range;
          while (range.size() < root_at_size) {
            ASSIGN_OR_RETURN(
                std::vector<storage::AuditEntryRow> rows,
                tx.ReadAuditEntries(
                    range.size() + 1,
                    std::min(kBatch, root_at_size - range.size())));
            if (rows.empty()) break;
            for (const storage::AuditEntryRow& row : rows) {
              range.Append(audit::StoredLeafHash(row));
            }
          }
          out.root_at_size = range.Root();
        }
        return absl::OkStatus();
      }));
  if (!report.ok) {
    return absl::DataLossError(absl::StrCat(
        "the audit log in the backup is NOT intact: ", report.problem,
        " (first bad entry: ", report.first_bad_seq, ")"));
  }
  out.entries = report.entries;
  out.checkpoints = report.checkpoints;
  if (out.tree_size != out.entries) {
    return absl::DataLossError(absl::StrCat(
        "the audit log in the backup has ", out.entries,
        " entries but its latest checkpoint covers ", out.tree_size));
  }
  return out;
}

}  // namespace inkan::backup
