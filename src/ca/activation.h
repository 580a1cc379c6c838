// Activating the CA key in a long-running process (inkan serve) from shares
// entered one at a time, for a time window (R6, R7).
//
// Custodians enter their shares separately — each from their own terminal,
// in their own time — through the service's control socket. Each share is
// checked at entry (a bad one is named and logged) and kept only in memory,
// in wiping buffers. When k distinct shares are in, the CA key is unwrapped
// as a non-extractable session object for the window the first custodian
// asked for (bounded by Options::max_window); the shares are wiped at once.
// The key object is destroyed when the window ends (Tick, or the next use),
// at Deactivate, or when the process ends. A round of shares that does not
// reach k within Options::round_timeout is dropped.
//
// Thread-safety: thread-safe; every use of the Authority goes through here.
#ifndef INKAN_CA_ACTIVATION_H_
#define INKAN_CA_ACTIVATION_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ca/authority.h"
#include "common/clock.h"
#include "common/secret_bytes.h"

namespace inkan::ca {

class CaActivation {
 public:
  struct Options {
    absl::Duration max_window = absl::Hours(24);
    absl::Duration round_timeout = absl::Minutes(30);
  };
  struct State {
    bool active = false;
    absl::Time active_until = absl::InfinitePast();
    // The round of shares being collected (empty when none).
    int have = 0;
    int need = 0;
    std::vector<std::string> entered_by;  // custodians, in order of entry
    absl::Duration window;                // asked for by the first custodian
  };

  CaActivation(Authority& ca, const Clock& clock, Options options)
      : ca_(ca), clock_(clock), options_(options) {}
  ~CaActivation();

  // Enters one custodian's share. The first share of a round sets the
  // window (1 minute .. max_window). InvalidArgument for a bad share (named)
  // or window; AlreadyExists if this custodian's share is already in the
  // round; FailedPrecondition while the key is already active.
  absl::StatusOr<State> AddShare(const SecretBytes& share_text,
                                 absl::Duration window,
                                 absl::string_view actor);
  // Ends the activation (and drops a round being collected). Logged.
  absl::Status Deactivate(absl::string_view actor);
  State Status();
  // Ends an expired window (logged) and drops a stale round. Call it
  // periodically (the service does, each few seconds).
  void Tick();
  // Runs `fn` with the CA while its key is active; FailedPrecondition
  // otherwise.
  absl::Status WithActive(absl::FunctionRef<absl::Status(Authority&)> fn);

 private:
  void DropRound() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  State StateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LogRound(absl::string_view type, absl::string_view actor,
                        absl::string_view detail)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Authority& ca_;
  const Clock& clock_;
  const Options options_;
  absl::Mutex mu_;
  std::vector<SecretBytes> shares_ ABSL_GUARDED_BY(mu_);
  std::vector<int> indexes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> entered_by_ ABSL_GUARDED_BY(mu_);
  int need_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration window_ ABSL_GUARDED_BY(mu_);
  absl::Time round_started_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inkan::ca

#endif  // INKAN_CA_ACTIVATION_H_
