// Checkpoints: the signed notes that commit the audit log to a size and a
// root hash (doc/audit_log_format.md §4), in the spirit of C2SP signed-note
// checkpoints. A note is exactly five lines, each ending in '\n':
//
//   inkan.audit.v1
//   <log id>
//   <tree size, decimal>
//   <root hash, standard base64 with padding>
//   <time, RFC 3339 UTC with microseconds>
//
// and its signature is ECDSA P-256 with SHA-256 over the note's bytes (DER).
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_AUDIT_CHECKPOINT_H_
#define INKAN_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/signer.h"

namespace inkan::audit {

inline constexpr absl::string_view kCheckpointHeader = "inkan.audit.v1";

struct CheckpointNote {
  std::string log_id;
  int64_t tree_size = 0;
  std::string root_hash;  // 32 raw bytes
  absl::Time time;        // whole microseconds

  friend bool operator==(const CheckpointNote&,
                         const CheckpointNote&) = default;
};

// OK if `log_id` can name a log: 1 to 128 printable ASCII characters
// (0x21-0x7e, so no spaces). InvalidArgument otherwise.
absl::Status ValidateLogId(absl::string_view log_id);

// The note's text. InvalidArgument if the log id is invalid, the size is
// negative or the root is not 32 bytes. `time` is truncated to microseconds.
absl::StatusOr<std::string> FormatCheckpointNote(const CheckpointNote& note);
// The strict inverse: InvalidArgument naming the first malformed line.
absl::StatusOr<CheckpointNote> ParseCheckpointNote(absl::string_view text);

// Signs the note's bytes. FailedPrecondition unless the signer's scheme is
// ECDSA P-256 with SHA-256; otherwise whatever the signer returns.
absl::StatusOr<std::string> SignCheckpointNote(const crypto::Signer& signer,
                                               absl::string_view note);
// OK if `signature` is the audit key's over `note`; InvalidArgument if not.
absl::Status VerifyCheckpointSignature(const crypto::Verifier& verifier,
                                       absl::string_view note,
                                       absl::string_view signature);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_CHECKPOINT_H_
