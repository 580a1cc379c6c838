#include "backup/schedule.h"

#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/timestamp.h"
#include "common/status_macros.h"

namespace inkan::backup {

absl::StatusOr<absl::Duration> ParseInterval(absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < kMinInterval || d > kMaxInterval) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup interval \"", text, "\" must be a duration from ",
                     absl::FormatDuration(kMinInterval), " to ",
                     absl::FormatDuration(kMaxInterval), ", e.g. 24h"));
  }
  return d;
}

absl::StatusOr<BackupDue> LoadBackupDue(storage::Transaction& tx,
                                        absl::Time now) {
  BackupDue due;
  ASSIGN_OR_RETURN(std::optional<std::string> interval,
                   tx.GetMeta(kIntervalKey));
  if (interval.has_value()) {
    ASSIGN_OR_RETURN(due.interval, ParseInterval(*interval));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> last, tx.GetMeta(kLastKey));
  if (last.has_value()) {
    std::vector<absl::string_view> parts = absl::StrSplit(*last, ' ');
    absl::StatusOr<absl::Time> t = parts.empty()
                                       ? absl::InvalidArgumentError("empty")
                                       : audit::ParseTimestamp(parts[0]);
    if (!t.ok() || parts.size() != 3 ||
        !absl::SimpleAtoi(parts[1], &due.tree_size)) {
      return absl::DataLossError(
          absl::StrCat("meta ", kLastKey, " is malformed: ", *last));
    }
    due.any = true;
    due.last = *t;
    due.due = *t + due.interval;
  }
  due.overdue = !due.any || now > due.due;
  return due;
}

std::string FormatBackupDue(const BackupDue& due, absl::Time now) {
  std::string every = absl::FormatDuration(due.interval);
  if (!due.any) {
    return absl::StrCat("backups: MISSED: no backup has been made (due every ",
                        every, "; inkan backup create --out FILE)");
  }
  absl::Duration age = absl::Trunc(now - due.last, absl::Minutes(1));
  std::string ago =
      age < absl::Minutes(1) ? "under a minute" : absl::FormatDuration(age);
  std::string last =
      absl::StrCat("last ", audit::FormatTimestamp(due.last), " (", ago,
                   " ago, log size ", due.tree_size, ")");
  if (due.overdue) {
    return absl::StrCat("backups: MISSED: ", last, "; one was due at ",
                        audit::FormatTimestamp(due.due), " (every ", every,
                        ")");
  }
  return absl::StrCat("backups: ok: ", last, "; next due by ",
                      audit::FormatTimestamp(due.due), " (every ", every, ")");
}

}  // namespace inkan::backup
