// Retention of the audit log (R5; ETSI TS 119 431-1 OVR-6.4.6-01: audit
// records kept at least 7 years after any certificate based on them ceases
// to be valid). See doc/backup_and_retention.md §5.
//
// Each entry is kept until the end of what it concerns plus a period:
//   - an entry naming a certificate ("serial"): that certificate's notAfter;
//   - naming a credential ("credential"): the latest notAfter of its
//     certificates — for ever while it has none (it may still be used);
//   - naming a user ("user") but no credential: the latest end of the
//     user's credentials, or the entry's own time if they have none. These
//     are user-authentication records: the longer of the two periods
//     applies;
//   - naming none of these (system, CA, ceremonies): the latest notAfter of
//     every certificate issued so far, or the entry's time if later.
// Pruning blanks a prefix of the log only, entries 1..K with every entry's
// period over, after an "audit.prune" entry (through = K) is on the log; the
// rows keep their leaf hashes, so the tree and its checkpoints still verify.
//
// Thread-safety: all functions are thread-safe.
#ifndef INKAN_AUDIT_RETENTION_H_
#define INKAN_AUDIT_RETENTION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "storage/store.h"

namespace inkan::audit {

// meta keys; absent = the defaults below.
inline constexpr absl::string_view kAuditYearsKey = "retention.audit_years";
inline constexpr absl::string_view kAuthYearsKey = "retention.auth_years";
inline constexpr int kDefaultYears = 10;
inline constexpr int kMinAuditYears = 7;  // OVR-6.4.6-01
inline constexpr int kMaxYears = 100;

struct RetentionPolicy {
  int audit_years = kDefaultYears;  // audit records
  int auth_years = kDefaultYears;   // user-authentication records
};

absl::StatusOr<RetentionPolicy> LoadRetention(storage::Transaction& tx);
// InvalidArgument unless kMinAuditYears <= years <= kMaxYears for both.
absl::Status ValidateRetention(const RetentionPolicy& policy);
// Stores the policy and logs "retention.set" in `tx`.
absl::Status SetRetention(storage::Transaction& tx, const AuditLog& log,
                          const RetentionPolicy& policy,
                          absl::string_view actor);

struct PrunePlan {
  int64_t pruned = 0;   // entries 1..pruned are pruned already
  int64_t through = 0;  // entries 1..through may be pruned now (>= pruned)
  // The first entry that must be kept (0 if the whole log may go), until
  // when, and why.
  int64_t kept_seq = 0;
  absl::Time kept_until = absl::InfiniteFuture();
  std::string kept_because;
};

// What may be pruned at `now` (covered entries only).
absl::StatusOr<PrunePlan> PlanPrune(storage::Transaction& tx,
                                    const RetentionPolicy& policy,
                                    absl::Time now);

// The root of the first `size` entries as stored (pruned rows by their kept
// hash). OutOfRange if the log is shorter.
absl::StatusOr<std::string> RootAt(storage::Transaction& tx, int64_t size);

// Blanks the text of entries 1..through in the SQLite database at `db_path`
// (leaf hashes kept), in one transaction. The caller must first have logged
// "audit.prune" with "through" >= `through` (the verifier refuses blank rows
// otherwise). The Store interface has no such operation yet (rows are
// append-only there); this is the SQLite backend's.
absl::Status BlankSqliteAuditPrefix(const std::string& db_path,
                                    int64_t through);

}  // namespace inkan::audit

#endif  // INKAN_AUDIT_RETENTION_H_
