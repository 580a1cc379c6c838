#include "audit/verifier.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/canonical_json.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/timestamp.h"
#include "common/status_macros.h"

namespace inkan::audit {
namespace {

constexpr int64_t kBatch = 1024;

// Walks the log once, in seq order, checking each entry and, when the walk
// reaches a checkpoint's size, that checkpoint.
class LogWalk {
 public:
  LogWalk(storage::Transaction& tx, const crypto::Verifier& audit_key,
          absl::string_view log_id)
      : tx_(tx), audit_key_(audit_key), log_id_(log_id) {}

  absl::StatusOr<VerifyReport> Run() {
    ASSIGN_OR_RETURN(checkpoints_, tx_.ReadCheckpoints());
    int64_t prev = 0;
    for (const storage::CheckpointRow& cp : checkpoints_) {
      if (cp.tree_size <= prev) {
        return Fail(std::max<int64_t>(cp.tree_size, 1),
                    absl::StrCat("checkpoint at size ", cp.tree_size,
                                 ": sizes do not strictly increase"));
      }
      prev = cp.tree_size;
    }

    int64_t next = 1;  // the seq the next row must have
    for (;;) {
      ASSIGN_OR_RETURN(std::vector<storage::AuditEntryRow> rows,
                       tx_.ReadAuditEntries(next, kBatch));
      for (const storage::AuditEntryRow& row : rows) {
        if (row.seq != next) {
          return Fail(next, absl::StrCat("entry ", next, " is missing"));
        }
        if (!CheckEntry(row)) return report_;
        ++next;
      }
      if (static_cast<int64_t>(rows.size()) < kBatch) break;
    }
    int64_t n = next - 1;

    if (next_checkpoint_ < checkpoints_.size()) {
      int64_t size = checkpoints_[next_checkpoint_].tree_size;
      return Fail(n + 1,
                  absl::StrCat("entry ", n + 1, " is missing (the ",
                               "checkpoint at size ", size, " covers it)"));
    }
    ASSIGN_OR_RETURN(int64_t count, tx_.AuditEntryCount());
    if (count != n) {
      return Fail(n + 1, absl::StrCat("entry ", n + 1, " is missing (the ",
                                      "store holds ", count, " entries)"));
    }
    if (covered_ < n) {
      return Fail(covered_ + 1,
                  absl::StrCat("entries ", covered_ + 1, "..", n,
                               " are not covered by a signed checkpoint"));
    }
    if (report_.pruned > prune_allowed_) {
      return Fail(
          prune_allowed_ + 1,
          absl::StrCat("entries ", prune_allowed_ + 1, "..", report_.pruned,
                       " are blank but no audit.prune entry allows "
                       "pruning them"));
    }
    report_.ok = true;
    return report_;
  }

 private:
  VerifyReport Fail(int64_t seq, std::string problem) {
    report_.ok = false;
    report_.first_bad_seq = seq;
    report_.problem = std::move(problem);
    return report_;
  }

  // Checks one entry row (whose seq is the expected one) and any checkpoint
  // at its size. False (with the report filled in) on the first problem.
  bool CheckEntry(const storage::AuditEntryRow& row) {
    int64_t k = row.seq;
    if (IsPruned(row)) {
      // Only a prefix is pruned; its hashes are checked by the roots below,
      // and the audit.prune entry that allows it by the end of the walk.
      if (report_.pruned != k - 1 || row.leaf_hash.size() != kHashSize) {
        Fail(k, absl::StrCat("entry ", k,
                             " is blank but is not part of a pruned prefix"));
        return false;
      }
      ++report_.pruned;
      range_.Append(row.leaf_hash);
      report_.entries = k;
      return CheckpointAt(k);
    }
    absl::StatusOr<Entry> entry = ParseEntry(row.entry);
    if (!entry.ok()) {
      Fail(k, absl::StrCat("entry ", k,
                           " is not canonical: ", entry.status().message()));
      return false;
    }
    if (entry->seq != k) {
      Fail(k, absl::StrCat("entry at row ", k, " says seq ", entry->seq,
                           ": rows reordered or replaced"));
      return false;
    }
    std::string leaf_hash = LeafHash(row.entry);
    if (leaf_hash != row.leaf_hash) {
      Fail(k, absl::StrCat("entry ", k, " was altered"));
      return false;
    }
    range_.Append(std::move(leaf_hash));
    report_.entries = k;
    if (entry->type == kPruneEventType) {
      for (const Field& f : entry->data) {
        if (f.key == "through" && std::holds_alternative<int64_t>(f.value)) {
          prune_allowed_ = std::max(prune_allowed_, std::get<int64_t>(f.value));
        }
      }
    }
    return CheckpointAt(k);
  }

  // Checks the checkpoint at size k, if there is one.
  bool CheckpointAt(int64_t k) {
    if (next_checkpoint_ < checkpoints_.size() &&
        checkpoints_[next_checkpoint_].tree_size == k) {
      if (!CheckCheckpoint(checkpoints_[next_checkpoint_])) return false;
      ++next_checkpoint_;
    }
    return true;
  }

  // Checks the checkpoint whose size is the number of entries walked so far.
  bool CheckCheckpoint(const storage::CheckpointRow& cp) {
    int64_t s = cp.tree_size;
    int64_t first = covered_ + 1;  // first entry this checkpoint vouches for
    std::string at = absl::StrCat("checkpoint at size ", s, ": ");
    absl::StatusOr<CheckpointNote> note = ParseCheckpointNote(cp.note);
    if (!note.ok()) {
      Fail(first, absl::StrCat(at, note.status().message()));
      return false;
    }
    if (!VerifyCheckpointSignature(audit_key_, cp.note, cp.signature).ok()) {
      Fail(first, absl::StrCat(at, "bad signature"));
      return false;
    }
    if (note->log_id != log_id_) {
      Fail(first, absl::StrCat(at, "log id \"", note->log_id, "\", expected \"",
                               log_id_, "\""));
      return false;
    }
    if (note->tree_size != s) {
      Fail(first, absl::StrCat(at, "its note says size ", note->tree_size));
      return false;
    }
    if (note->time < last_time_) {
      Fail(first, absl::StrCat(at, "time ", FormatTimestamp(note->time),
                               " is before the previous checkpoint's ",
                               FormatTimestamp(last_time_)));
      return false;
    }
    if (note->root_hash != range_.Root()) {
      Fail(first,
           absl::StrCat("entries ", first, "..", s,
                        " do not match the signed checkpoint at size ", s));
      return false;
    }
    covered_ = s;
    last_time_ = note->time;
    ++report_.checkpoints;
    return true;
  }

  storage::Transaction& tx_;
  const crypto::Verifier& audit_key_;
  const absl::string_view log_id_;
  std::vector<storage::CheckpointRow> checkpoints_;
  size_t next_checkpoint_ = 0;
  CompactRange range_;         // over the entries walked so far
  int64_t covered_ = 0;        // size of the last good checkpoint
  int64_t prune_allowed_ = 0;  // the largest "through" of audit.prune entries
  absl::Time last_time_ = absl::InfinitePast();
  VerifyReport report_;
};

// Computes the subtree hashes of `ranges` (disjoint, within [0, tree_size))
// by streaming the first tree_size entries once.
absl::StatusOr<std::vector<std::string>> HashRanges(
    storage::Transaction& tx, const std::vector<LeafRange>& ranges,
    int64_t tree_size) {
  if (tree_size > 0) {
    ASSIGN_OR_RETURN(std::vector<storage::AuditEntryRow> last,
                     tx.ReadAuditEntries(tree_size, 1));
    if (last.empty() || last[0].seq != tree_size) {
      return absl::OutOfRangeError(
          absl::StrCat("the audit log has fewer than ", tree_size, " entries"));
    }
  }
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return ranges[a].first < ranges[b].first;
  });
  std::vector<std::string> hashes(ranges.size());
  size_t r = 0;  // index into order
  CompactRange current;
  int64_t index = 0;  // 0-based leaf index of the next row
  while (index < tree_size && r < order.size()) {
    ASSIGN_OR_RETURN(
        std::vector<storage::AuditEntryRow> rows,
        tx.ReadAuditEntries(index + 1, std::min(kBatch, tree_size - index)));
    if (rows.empty()) {
      return absl::DataLossError(
          absl::StrCat("audit entry ", index + 1, " is missing"));
    }
    for (const storage::AuditEntryRow& row : rows) {
      if (row.seq != index + 1) {
        return absl::DataLossError(
            absl::StrCat("audit entry ", index + 1, " is missing"));
      }
      const LeafRange& range = ranges[order[r]];
      if (index >= range.first) current.Append(StoredLeafHash(row));
      ++index;
      if (index == range.second) {
        hashes[order[r]] = current.Root();
        current = CompactRange();
        if (++r == order.size()) break;
      }
    }
  }
  return hashes;
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyLog(storage::Transaction& tx,
                                       const crypto::Verifier& audit_key,
                                       absl::string_view log_id) {
  return LogWalk(tx, audit_key, log_id).Run();
}

absl::StatusOr<std::vector<std::string>> InclusionProofFor(
    storage::Transaction& tx, int64_t seq, int64_t tree_size) {
  if (seq < 1 || seq > tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("no entry ", seq, " in a tree of size ", tree_size));
  }
  return HashRanges(tx, InclusionProofRanges(seq - 1, tree_size), tree_size);
}

absl::StatusOr<std::vector<std::string>> ConsistencyProofFor(
    storage::Transaction& tx, int64_t old_size, int64_t new_size) {
  if (old_size < 0 || old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no consistency proof from size ", old_size, " to ", new_size));
  }
  return HashRanges(tx, ConsistencyProofRanges(old_size, new_size), new_size);
}

}  // namespace inkan::audit
