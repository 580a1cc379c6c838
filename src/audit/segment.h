// Exported log segments (doc/backup_and_retention.md §7): entries N..M of the
// audit log with everything needed to check them on another machine, with
// no database and no HSM — the audit public key, the signed checkpoints
// among them, the compact range of the entries before N (O(log N) hashes),
// and a consistency proof from the segment's last checkpoint to the log's
// latest one.
//
// The verifier starts from the prefix's compact range, appends the leaf hash
// of each entry in turn, and at each checkpoint's size checks that the root
// it computed is the one the audit key signed. An entry removed, added,
// reordered or changed gives another root (or another seq), so the segment
// fails. The segment always ends at a checkpoint: export extends M to the
// next checkpoint's size.
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_AUDIT_SEGMENT_H_
#define INKAN_AUDIT_SEGMENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/store.h"

namespace inkan::audit {

inline constexpr absl::string_view kSegmentFormat = "inkan-audit-segment/1";

// The segment of entries `from`..`to` (1-based, inclusive; `to` extended to
// the next checkpoint) of the log in `tx`, as JSON text. `audit_key_der`:
// the audit public key (pinned at init) to put in it. OutOfRange if the log
// has no checkpoint at or after `to`; InvalidArgument for from < 1 or
// from > to; DataLoss on a gap.
absl::StatusOr<std::string> ExportSegment(storage::Transaction& tx,
                                          absl::string_view log_id,
                                          absl::string_view audit_key_der,
                                          int64_t from, int64_t to);

struct SegmentInfo {
  std::string log_id;
  std::string audit_key_der;
  int64_t first = 0, last = 0;  // the entries it holds
  int64_t checkpoints = 0;      // signed checkpoints checked
  int64_t latest_size = 0;      // the log's size it was shown consistent with
};

// Verifies a segment by itself (and, if `pinned_key_der` is not empty, that
// its audit key is that one). InvalidArgument if `text` is not a segment;
// DataLoss naming the first entry or checkpoint that fails;
// PermissionDenied if it is signed by another key than the pinned one.
absl::StatusOr<SegmentInfo> VerifySegment(absl::string_view text,
                                          absl::string_view pinned_key_der);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_SEGMENT_H_
