#include "audit/timestamp.h"

#include <string>

#include "absl/strings/ascii.h"
#include "common/clock.h"

namespace inkan::audit {

std::string FormatTimestamp(absl::Time t) { return FormatRfc3339(t); }

absl::StatusOr<absl::Time> ParseTimestamp(absl::string_view text) {
  // YYYY-MM-DDTHH:MM:SS.ffffffZ
  static constexpr absl::string_view kShape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  bool shape_ok = text.size() == kShape.size();
  for (size_t i = 0; shape_ok && i < kShape.size(); ++i) {
    shape_ok = kShape[i] == 'd'
                   ? absl::ascii_isdigit(static_cast<unsigned char>(text[i]))
                   : text[i] == kShape[i];
  }
  absl::Time t;
  std::string err;
  if (!shape_ok ||
      !absl::ParseTime(absl::RFC3339_full, text, absl::UTCTimeZone(), &t,
                       &err) ||
      FormatTimestamp(t) != text) {
    return absl::InvalidArgumentError(
        "time is not RFC 3339 UTC with microseconds "
        "(YYYY-MM-DDTHH:MM:SS.ffffffZ)");
  }
  return t;
}

}  // namespace inkan::audit
