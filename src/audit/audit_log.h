// AuditLog: writes security events to the tamper-evident audit log (R5) in
// the format of doc/audit_log_format.md: each event becomes a canonical JSON
// entry, a leaf of an RFC 6962 Merkle tree, and every transaction that
// appends ends with a checkpoint (size, root, time) signed by the audit key.
//
// Entries and checkpoints are written inside the caller's store transaction,
// so an event is recorded if and only if the change it describes commits.
// The running state (meta key "audit.state") is read and written in that
// transaction too, so several processes may share one store. AuditLog holds
// no mutable state.
//
// Usage:
//   AuditLog log(audit_signer, "inkan.example.jp/audit", RealClock());
//   RETURN_IF_ERROR(RunAudited(store, log, [&](storage::Transaction& tx) {
//     RETURN_IF_ERROR(tx.InsertCredential(cred));
//     return log.Append(tx, {"credential.create", {{"id", cred.id}, ...}});
//   }));
//
// Never put a secret in an event (PIN, key bytes, SAD, OTP): entries are kept
// for years and shown to auditors. A few obviously secret field names are
// refused as a last guard.
//
// Thread-safety: thread-safe (the signer and clock must be too).
#ifndef INKAN_AUDIT_AUDIT_LOG_H_
#define INKAN_AUDIT_AUDIT_LOG_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "audit/canonical_json.h"
#include "common/clock.h"
#include "crypto/signer.h"
#include "storage/store.h"

namespace inkan::audit {

// The meta key holding the writer's running state (an optimisation; the
// verifier never reads it).
inline constexpr absl::string_view kAuditStateKey = "audit.state";

// A pruned entry (doc/backup_and_retention.md §5): its text is blanked ("")
// once its retention period ended, and its row keeps the leaf hash, so the
// tree and every signed checkpoint still verify. Only a prefix of the log is
// ever pruned, and only as far as a later "audit.prune" entry says.
inline constexpr absl::string_view kPruneEventType = "audit.prune";
inline bool IsPruned(const storage::AuditEntryRow& row) {
  return row.entry.empty();
}
// The leaf hash of a stored row: computed from its text, or, for a pruned
// row, the hash it kept (vouched for by the signed checkpoints' roots).
std::string StoredLeafHash(const storage::AuditEntryRow& row);

struct Event {
  std::string type;         // e.g. "credential.create"; non-empty
  std::vector<Field> data;  // flat; keys unique
};

class AuditLog {
 public:
  // `signer`: the audit key (ECDSA P-256/SHA-256), `clock`: the time source;
  // both must outlive this. `log_id`: the id every checkpoint names (see
  // ValidateLogId in checkpoint.h); all writers of one store must share it.
  AuditLog(const crypto::Signer& signer, std::string log_id,
           const Clock& clock);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends `event` as the next entry, inside `tx`. It is covered by a
  // signed checkpoint only once Checkpoint() runs in the same transaction
  // (RunAudited does that). InvalidArgument for a malformed event (empty
  // type, duplicate or forbidden key, invalid UTF-8); DataLoss if the stored
  // log shows tampering (a gap, deleted checkpoints, entries no writer
  // recorded; see doc/audit_log_format.md §5); the store's errors otherwise.
  absl::Status Append(storage::Transaction& tx, const Event& event) const;

  // If the log grew since the latest checkpoint, signs and stores a
  // checkpoint for its current size; otherwise does nothing and returns OK.
  // FailedPrecondition if the log id or the audit key is unusable or the
  // store's log has another id; DataLoss if the stored entries do not extend
  // the latest signed checkpoint (tampering: nothing is signed; run
  // VerifyLog); the signer's or the store's errors otherwise.
  absl::Status Checkpoint(storage::Transaction& tx) const;

  const std::string& log_id() const { return log_id_; }

 private:
  const crypto::Signer* signer_;  // not owned
  const std::string log_id_;
  const Clock* clock_;  // not owned
};

// Runs `fn` in one read-write transaction, then log.Checkpoint(), and commits
// only if both succeed: all or nothing. Returns the first error.
absl::Status RunAudited(
    storage::Store& store, const AuditLog& log,
    absl::FunctionRef<absl::Status(storage::Transaction&)> fn);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_AUDIT_LOG_H_
