// Canonical JSON for audit entries (doc/audit_log_format.md §2): one byte
// string per value, so an entry's hash is well defined.
//
// The subset: objects, strings, integers in int64 range, true and false (no
// arrays, null or non-integer numbers). Object keys sorted by their UTF-8
// bytes, no duplicates, no insignificant whitespace; strings valid UTF-8 and
// escaped minimally: `"` and `\` as `\"` `\\`, U+0008/0009/000A/000C/000D as
// `\b \t \n \f \r`, other controls below U+0020 as `\u00xx` (lowercase hex),
// everything else as itself.
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_AUDIT_CANONICAL_JSON_H_
#define INKAN_AUDIT_CANONICAL_JSON_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace inkan::audit {

// One member of a flat object: an event's field (actor, credential id, ...).
struct Field {
  std::string key;
  std::variant<std::string, int64_t, bool> value;

  friend bool operator==(const Field&, const Field&) = default;
};

// Appends `s` as a canonical JSON string literal (with quotes).
// InvalidArgument if `s` is not valid UTF-8.
absl::Status AppendJsonString(absl::string_view s, std::string& out);

// The canonical JSON object of `fields`, in any order. InvalidArgument on a
// duplicate key or invalid UTF-8.
absl::StatusOr<std::string> CanonicalObject(absl::Span<const Field> fields);

// OK if `text` is exactly the canonical form of a JSON object in the subset;
// InvalidArgument naming the first problem otherwise.
absl::Status CheckCanonical(absl::string_view text);
inline bool IsCanonical(absl::string_view text) {
  return CheckCanonical(text).ok();
}

// Parses a canonical flat object (string, integer and boolean values only)
// into its fields, sorted by key. InvalidArgument if it is not canonical or
// has a nested value.
absl::StatusOr<std::vector<Field>> ParseFlatObject(absl::string_view text);

// An audit log entry: an event with its place and time in the log. Its text
// is {"data":{...},"seq":N,"time":"...","type":"..."}.
struct Entry {
  int64_t seq = 0;          // >= 1
  std::string time;         // RFC 3339 UTC with microseconds (timestamp.h)
  std::string type;         // non-empty, e.g. "credential.create"
  std::vector<Field> data;  // keys unique; ParseEntry returns them sorted

  friend bool operator==(const Entry&, const Entry&) = default;
};

// The canonical text of `entry`. InvalidArgument if a field breaks the rules
// above (seq < 1, empty type, malformed time, duplicate key, bad UTF-8).
absl::StatusOr<std::string> SerializeEntry(const Entry& entry);
// Parses an entry's text. InvalidArgument if it is not canonical JSON, has
// keys other than data/seq/time/type, a nested value in data, or a field
// that SerializeEntry would reject.
absl::StatusOr<Entry> ParseEntry(absl::string_view text);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_CANONICAL_JSON_H_
