// The audit log verifier (doc/audit_log_format.md §6): re-derives everything
// from the entries' text and the audit key, trusting neither the leaf_hash
// column nor the writer's saved state, and names the first entry that is
// missing, altered, reordered or not covered by a good signed checkpoint.
//
// It reads entries in batches in one pass: O(n) hashing plus O(log n) per
// checkpoint, O(log n) memory besides the checkpoint rows.
//
// Thread-safety: all functions are thread-safe (each call uses its own
// transaction).
#ifndef INKAN_AUDIT_VERIFIER_H_
#define INKAN_AUDIT_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/signer.h"
#include "storage/store.h"

namespace inkan::audit {

struct VerifyReport {
  bool ok = false;
  int64_t entries = 0;      // entries that passed the per-entry checks
  int64_t checkpoints = 0;  // checkpoints that verified
  int64_t pruned = 0;       // entries 1..pruned were pruned (see IsPruned)
  // The first entry the log cannot vouch for, 0 if ok. For a bad checkpoint
  // this is the first entry after the previous good checkpoint.
  int64_t first_bad_seq = 0;
  std::string problem;  // a sentence naming it; empty if ok
};

// Verifies the whole log in `tx` (read-only is enough) against `audit_key`
// (the public half of the audit key) and the expected `log_id`. Tampering is
// reported in the VerifyReport, not as an error; errors are the store's.
absl::StatusOr<VerifyReport> VerifyLog(storage::Transaction& tx,
                                       const crypto::Verifier& audit_key,
                                       absl::string_view log_id);

// Proofs over the entries as stored (leaf = LeafHash(entry text)), for
// `inkan audit prove`; the client checks them against a signed checkpoint.
// Streamed: O(tree_size) reading, O(log n) memory. InvalidArgument for
// impossible arguments; OutOfRange if the log has fewer than tree_size /
// new_size entries; DataLoss on a gap.
//
// The inclusion proof of entry `seq` (1-based) in the tree of the first
// `tree_size` entries.
absl::StatusOr<std::vector<std::string>> InclusionProofFor(
    storage::Transaction& tx, int64_t seq, int64_t tree_size);
// The consistency proof from the first `old_size` entries to the first
// `new_size`.
absl::StatusOr<std::vector<std::string>> ConsistencyProofFor(
    storage::Transaction& tx, int64_t old_size, int64_t new_size);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_VERIFIER_H_
