// Clock: the one source of "now" (TOTP windows, SAD expiry, audit timestamps,
// certificate validity). Tests use FakeClock.
//
// Thread-safety: all methods are safe to call concurrently.
#ifndef INKAN_COMMON_CLOCK_H_
#define INKAN_COMMON_CLOCK_H_

#include <atomic>
#include <string>

#include "absl/time/time.h"

namespace inkan {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system's wall clock. Never null; lives for the whole program.
Clock& RealClock();

// A clock that moves only when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1798761600))
      : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Advance(absl::Duration d) { nanos_ += absl::ToInt64Nanoseconds(d); }
  void Set(absl::Time t) { nanos_ = absl::ToUnixNanos(t); }

 private:
  std::atomic<int64_t> nanos_;
};

// RFC 3339 UTC with microseconds: 2026-11-26T09:00:00.000000Z.
std::string FormatRfc3339(absl::Time t);

}  // namespace inkan

#endif  // INKAN_COMMON_CLOCK_H_
