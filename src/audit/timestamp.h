// The one time format of the audit log (entries and checkpoints): RFC 3339 in
// UTC with exactly six fractional digits, e.g. 2026-11-26T09:00:00.123456Z.
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_AUDIT_TIMESTAMP_H_
#define INKAN_AUDIT_TIMESTAMP_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace inkan::audit {

// `t` truncated (towards the past) to whole microseconds.
std::string FormatTimestamp(absl::Time t);
// The strict inverse: InvalidArgument unless `text` is exactly what
// FormatTimestamp produces for some time.
absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_TIMESTAMP_H_
