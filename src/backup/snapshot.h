// The pieces of a backup that touch the database: a consistent copy of a
// live SQLite database, and the check of the audit log inside a copy.
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_BACKUP_SNAPSHOT_H_
#define INKAN_BACKUP_SNAPSHOT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inkan::backup {

// Copies the SQLite database at `db_path` (in use by others: `inkan serve`)
// to the new file `dest_path` with SQLite's online backup API, from a
// connection of its own, in one step: the copy is the database as of one
// commit, taken inside one read transaction, so nothing committed before it
// is missing and nothing is half there, and writers (WAL mode) go on
// meanwhile. Retries while the database is busy, up to a few seconds.
absl::Status SnapshotSqlite(const std::string& db_path,
                            const std::string& dest_path);

// What the audit log in a database copy holds.
struct LogSummary {
  int64_t entries = 0;
  int64_t checkpoints = 0;
  int64_t tree_size = 0;  // of the latest signed checkpoint
  std::string root_hash;  // 32 raw bytes
  std::string note;       // the latest checkpoint's note and signature
  std::string signature;
  std::string instance_id;  // meta "instance_id"
  // The root of the first `root_at_size` entries (if asked and <= entries).
  std::string root_at_size;
};

// Verifies every entry and signed checkpoint of the audit log in the SQLite
// file `db_path` against `audit_key_der` and `log_id`
// (audit::VerifyLog), and that the log ends at its latest checkpoint.
// DataLoss naming the first bad entry if it is not intact. With
// `root_at_size` > 0, also computes the root of the tree of that size.
absl::StatusOr<LogSummary> VerifyLogInDatabase(const std::string& db_path,
                                               absl::string_view audit_key_der,
                                               absl::string_view log_id,
                                               int64_t root_at_size);

}  // namespace inkan::backup

#endif  // INKAN_BACKUP_SNAPSHOT_H_
