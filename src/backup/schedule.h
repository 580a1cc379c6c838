// When backups are due (R5): the interval the operator set, and the last
// backup, both in the store's meta table, written with the audit entries
// that record them (backup.schedule, backup.create).
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_BACKUP_SCHEDULE_H_
#define INKAN_BACKUP_SCHEDULE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace inkan::backup {

// meta "backup.interval": a duration ("24h", "90m"); absent = kDefaultInterval.
inline constexpr absl::string_view kIntervalKey = "backup.interval";
// meta "backup.last": "<RFC 3339 time> <tree size> <hex SHA-256 of the file>".
inline constexpr absl::string_view kLastKey = "backup.last";
inline constexpr absl::Duration kDefaultInterval = absl::Hours(24);
// Bounds for the interval: a backup at least every 30 days, at most every 5
// minutes.
inline constexpr absl::Duration kMinInterval = absl::Minutes(5);
inline constexpr absl::Duration kMaxInterval = absl::Hours(24 * 30);

// Parses and bounds an interval. InvalidArgument with the bounds otherwise.
absl::StatusOr<absl::Duration> ParseInterval(absl::string_view text);

struct BackupDue {
  absl::Duration interval = kDefaultInterval;
  bool any = false;  // a backup was ever made
  absl::Time last;   // when, if any
  int64_t tree_size = 0;
  bool overdue = false;  // no backup within `interval` of now
  absl::Time due;        // when the next one is (was) due
};
absl::StatusOr<BackupDue> LoadBackupDue(storage::Transaction& tx,
                                        absl::Time now);
// One line for `inkan status`.
std::string FormatBackupDue(const BackupDue& due, absl::Time now);

}  // namespace inkan::backup

#endif  // INKAN_BACKUP_SCHEDULE_H_
