#include "audit/audit_log.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/timestamp.h"
#include "common/status_macros.h"

namespace inkan::audit {
namespace {

constexpr int64_t kBatch = 1024;

// Field names that can only mean a secret. Not the protection (callers must
// not pass secrets; SecretBytes does not convert to a string), a last guard.
constexpr std::array<absl::string_view, 12> kForbiddenKeys = {
    "key_bytes",   "key_material", "otp", "passphrase", "password", "pin",
    "private_key", "puk",          "sad", "secret",     "seed",     "totp"};

// The writer's running state, stored under kAuditStateKey as
// "v1 <size> <compact range>": the number of entries, and the compact range
// of the entries covered by the latest checkpoint. Entries appended since are
// read back and hashed when the transaction's checkpoint is made, so the
// state never has to be trusted beyond what the signed checkpoint vouches for.
struct LogState {
  int64_t size = 0;
  CompactRange checkpointed;
};

std::string SerializeState(const LogState& state) {
  return absl::StrCat("v1 ", state.size, " ", state.checkpointed.Serialize());
}

std::optional<LogState> ParseState(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ' ');
  LogState state;
  if (parts.size() != 3 || parts[0] != "v1" ||
      !absl::SimpleAtoi(parts[1], &state.size)) {
    return std::nullopt;
  }
  absl::StatusOr<CompactRange> range = CompactRange::Parse(parts[2]);
  if (!range.ok() || range->size() > state.size) return std::nullopt;
  state.checkpointed = *std::move(range);
  return state;
}

// The saved state, or nullopt if there is none or it does not parse.
absl::StatusOr<std::optional<LogState>> LoadState(storage::Transaction& tx) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, tx.GetMeta(kAuditStateKey));
  if (!text.has_value()) return std::optional<LogState>();
  return ParseState(*text);
}

// Only this writer's own checkpoints advance the state, in the same
// transaction: if it records a newer checkpoint than the newest stored one,
// checkpoints (and perhaps the entries they covered) were deleted.
absl::Status CheckNoCheckpointDeleted(const std::optional<LogState>& saved,
                                      int64_t covered) {
  if (saved.has_value() && saved->checkpointed.size() > covered) {
    return absl::DataLossError(absl::StrCat(
        "the audit state records a checkpoint at size ",
        saved->checkpointed.size(), " but the newest stored one is at size ",
        covered,
        ": checkpoints were deleted; refusing to extend the log (run the "
        "audit verifier)"));
  }
  return absl::OkStatus();
}

// Recomputes the state from the rows (O(n); only when the saved state is
// missing or stale). `saved` is the saved state, if it parsed.
absl::StatusOr<LogState> RebuildState(storage::Transaction& tx,
                                      const std::optional<LogState>& saved) {
  ASSIGN_OR_RETURN(std::optional<storage::CheckpointRow> latest,
                   tx.LatestCheckpoint());
  int64_t covered = latest.has_value() ? latest->tree_size : 0;
  RETURN_IF_ERROR(CheckNoCheckpointDeleted(saved, covered));
  LogState state;
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<storage::AuditEntryRow> rows,
                     tx.ReadAuditEntries(state.size + 1, kBatch));
    for (const storage::AuditEntryRow& row : rows) {
      if (row.seq != state.size + 1) {
        return absl::DataLossError(
            absl::StrCat("audit entry ", state.size + 1, " is missing"));
      }
      if (row.seq <= covered) state.checkpointed.Append(StoredLeafHash(row));
      ++state.size;
    }
    if (static_cast<int64_t>(rows.size()) < kBatch) break;
  }
  ASSIGN_OR_RETURN(int64_t count, tx.AuditEntryCount());
  if (count != state.size) {
    return absl::DataLossError(
        absl::StrCat("audit entry ", state.size + 1, " is missing"));
  }
  if (state.size < covered) {
    return absl::DataLossError(
        absl::StrCat("the audit log has ", state.size,
                     " entries but its latest checkpoint covers ", covered));
  }
  // Writers record every entry they append in the state, in the same
  // transaction. Uncovered entries it does not record were put there by
  // something else, and the next checkpoint would vouch for them.
  if (saved.has_value() && saved->size < state.size && state.size > covered) {
    int64_t first = std::max(saved->size, covered) + 1;
    return absl::DataLossError(absl::StrCat(
        "audit entries ", first, "..", state.size,
        " follow the latest checkpoint but no audit writer recorded them; "
        "refusing to sign them (run the audit verifier)"));
  }
  return state;
}

// True if the log does not end at entry `size` (the saved size is stale).
absl::StatusOr<bool> SizeIsStale(storage::Transaction& tx, int64_t size) {
  ASSIGN_OR_RETURN(std::vector<storage::AuditEntryRow> rows,
                   tx.ReadAuditEntries(std::max<int64_t>(size, 1), 2));
  if (size == 0) return !rows.empty();
  return !(rows.size() == 1 && rows[0].seq == size);
}

absl::Status ValidateEvent(const Event& event) {
  if (event.type.empty()) {
    return absl::InvalidArgumentError("audit event has an empty type");
  }
  for (const Field& f : event.data) {
    if (std::find(kForbiddenKeys.begin(), kForbiddenKeys.end(), f.key) !=
        kForbiddenKeys.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit event field \"", f.key, "\" would record a secret"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string StoredLeafHash(const storage::AuditEntryRow& row) {
  return IsPruned(row) ? row.leaf_hash : LeafHash(row.entry);
}

AuditLog::AuditLog(const crypto::Signer& signer, std::string log_id,
                   const Clock& clock)
    : signer_(&signer), log_id_(std::move(log_id)), clock_(&clock) {}

absl::Status AuditLog::Append(storage::Transaction& tx,
                              const Event& event) const {
  RETURN_IF_ERROR(ValidateEvent(event));
  ASSIGN_OR_RETURN(std::optional<LogState> loaded, LoadState(tx));
  bool rebuilt = !loaded.has_value();
  LogState state;
  if (loaded.has_value()) {
    state = *loaded;
  } else {
    ASSIGN_OR_RETURN(state, RebuildState(tx, loaded));
  }
  Entry entry{0, FormatTimestamp(clock_->Now()), event.type, event.data};
  for (;;) {
    entry.seq = state.size + 1;
    ASSIGN_OR_RETURN(std::string text, SerializeEntry(entry));
    std::string leaf_hash = LeafHash(text);
    absl::Status s =
        tx.AppendAuditEntry({entry.seq, std::move(text), std::move(leaf_hash)});
    if (s.ok()) break;
    // FailedPrecondition means "not the next seq" (or a read-only
    // transaction): recount from the rows once if the saved size is stale.
    if (rebuilt || !absl::IsFailedPrecondition(s)) return s;
    ASSIGN_OR_RETURN(bool stale, SizeIsStale(tx, state.size));
    if (!stale) return s;
    ASSIGN_OR_RETURN(state, RebuildState(tx, loaded));
    rebuilt = true;
  }
  ++state.size;
  return tx.PutMeta(kAuditStateKey, SerializeState(state));
}

absl::Status AuditLog::Checkpoint(storage::Transaction& tx) const {
  if (absl::Status s = ValidateLogId(log_id_); !s.ok()) {
    return absl::FailedPreconditionError(s.message());
  }
  // What the latest signed checkpoint vouches for.
  ASSIGN_OR_RETURN(std::optional<storage::CheckpointRow> latest,
                   tx.LatestCheckpoint());
  int64_t covered = 0;
  std::string covered_root = EmptyRoot();
  absl::Time not_before = absl::InfinitePast();
  if (latest.has_value()) {
    absl::StatusOr<CheckpointNote> note = ParseCheckpointNote(latest->note);
    if (!note.ok()) {
      return absl::DataLossError(
          absl::StrCat("the latest audit checkpoint is malformed: ",
                       note.status().message()));
    }
    if (note->log_id != log_id_) {
      return absl::FailedPreconditionError(
          absl::StrCat("this store's audit log is \"", note->log_id,
                       "\", not \"", log_id_, "\""));
    }
    if (note->tree_size != latest->tree_size) {
      return absl::DataLossError(
          absl::StrCat("the audit checkpoint row for size ", latest->tree_size,
                       " holds a note for size ", note->tree_size));
    }
    covered = note->tree_size;
    covered_root = note->root_hash;
    not_before = note->time;
  }

  // Nothing to sign unless entries follow the latest checkpoint.
  ASSIGN_OR_RETURN(std::vector<storage::AuditEntryRow> next,
                   tx.ReadAuditEntries(covered + 1, 1));
  if (next.empty()) return absl::OkStatus();

  // The compact range of the covered entries: from the saved state if it
  // matches the signed root, else recomputed from the rows. Either way it
  // hashes to the signed root, so what we sign next extends what was signed.
  ASSIGN_OR_RETURN(std::optional<LogState> loaded, LoadState(tx));
  RETURN_IF_ERROR(CheckNoCheckpointDeleted(loaded, covered));
  CompactRange head;
  if (loaded.has_value() && loaded->checkpointed.size() == covered &&
      loaded->checkpointed.Root() == covered_root) {
    head = loaded->checkpointed;
  } else {
    ASSIGN_OR_RETURN(LogState rebuilt, RebuildState(tx, loaded));
    if (rebuilt.checkpointed.Root() != covered_root) {
      return absl::DataLossError(absl::StrCat(
          "audit entries 1..", covered,
          " do not match the signed checkpoint at size ", covered,
          "; refusing to extend a tampered log (run the audit verifier)"));
    }
    head = std::move(rebuilt.checkpointed);
  }

  // Add the entries appended since, as stored.
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<storage::AuditEntryRow> rows,
                     tx.ReadAuditEntries(head.size() + 1, kBatch));
    for (const storage::AuditEntryRow& row : rows) {
      if (row.seq != head.size() + 1) {
        return absl::DataLossError(
            absl::StrCat("audit entry ", head.size() + 1, " is missing"));
      }
      head.Append(StoredLeafHash(row));
    }
    if (static_cast<int64_t>(rows.size()) < kBatch) break;
  }
  if (head.size() == covered) return absl::OkStatus();

  // Time never goes backwards from one checkpoint to the next, even if this
  // host's clock is behind the one that wrote the previous checkpoint.
  CheckpointNote note{log_id_, head.size(), head.Root(),
                      std::max(clock_->Now(), not_before)};
  ASSIGN_OR_RETURN(std::string text, FormatCheckpointNote(note));
  ASSIGN_OR_RETURN(std::string signature, SignCheckpointNote(*signer_, text));
  RETURN_IF_ERROR(tx.AppendCheckpoint(
      {head.size(), std::move(text), std::move(signature)}));
  int64_t size = head.size();
  return tx.PutMeta(kAuditStateKey, SerializeState({size, std::move(head)}));
}

absl::Status RunAudited(
    storage::Store& store, const AuditLog& log,
    absl::FunctionRef<absl::Status(storage::Transaction&)> fn) {
  return store.Transact(storage::TxMode::kReadWrite,
                        [&](storage::Transaction& tx) -> absl::Status {
                          RETURN_IF_ERROR(fn(tx));
                          return log.Checkpoint(tx);
                        });
}

}  // namespace inkan::audit
