#include "audit/retention.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/canonical_json.h"
#include "audit/merkle.h"
#include "audit/timestamp.h"
#include "common/status_macros.h"

namespace inkan::audit {
namespace {

constexpr int64_t kBatch = 1024;

absl::Duration Years(int years) { return absl::Hours(24 * 365.25 * years); }

absl::StatusOr<int> MetaYears(storage::Transaction& tx, absl::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, tx.GetMeta(key));
  if (!v.has_value()) return kDefaultYears;
  int years = 0;
  if (!absl::SimpleAtoi(*v, &years)) {
    return absl::DataLossError(absl::StrCat("meta ", key, " is malformed"));
  }
  return years;
}

std::optional<std::string> StringField(const Entry& e, absl::string_view key) {
  for (const Field& f : e.data) {
    if (f.key == key && std::holds_alternative<std::string>(f.value)) {
      return std::get<std::string>(f.value);
    }
  }
  return std::nullopt;
}

// What the store says about certificates, credentials and users, loaded
// once (lazily per user).
class Subjects {
 public:
  explicit Subjects(storage::Transaction& tx) : tx_(tx) {}

  absl::Status Load() {
    ASSIGN_OR_RETURN(std::vector<storage::CertificateRecord> certs,
                     tx_.ListCertificates(""));
    for (const storage::CertificateRecord& c : certs) {
      by_serial_[c.serial_hex] = c.not_after;
      if (!c.credential_id.empty()) {
        absl::Time& t = by_credential_[c.credential_id];
        t = std::max(t, c.not_after);
      }
      all_ = std::max(all_, c.not_after);
    }
    return absl::OkStatus();
  }
  absl::Time Serial(const std::string& s) const {
    auto it = by_serial_.find(s);
    return it == by_serial_.end() ? absl::InfiniteFuture() : it->second;
  }
  // A credential without a certificate may still be used: for ever.
  absl::Time Credential(const std::string& id) const {
    auto it = by_credential_.find(id);
    return it == by_credential_.end() ? absl::InfiniteFuture() : it->second;
  }
  absl::StatusOr<absl::Time> User(const std::string& name, absl::Time own) {
    auto it = by_user_.find(name);
    if (it != by_user_.end()) return std::max(it->second, own);
    absl::StatusOr<storage::UserRecord> user = tx_.GetUserByName(name);
    absl::Time end = absl::InfinitePast();
    if (absl::IsNotFound(user.status())) {
      end = absl::InfiniteFuture();  // unknown: keep
    } else {
      if (!user.ok()) return user.status();
      ASSIGN_OR_RETURN(std::vector<storage::CredentialRecord> creds,
                       tx_.ListCredentials(user->id));
      for (const storage::CredentialRecord& c : creds) {
        end = std::max(end, Credential(c.id));
      }
    }
    by_user_[name] = end;
    return std::max(end, own);
  }
  absl::Time All() const { return all_; }

 private:
  storage::Transaction& tx_;
  std::map<std::string, absl::Time> by_serial_, by_credential_, by_user_;
  absl::Time all_ = absl::InfinitePast();
};

struct Keep {
  absl::Time until;
  std::string because;
};

absl::StatusOr<Keep> KeepUntil(const Entry& e, Subjects& subjects,
                               const RetentionPolicy& policy) {
  ASSIGN_OR_RETURN(absl::Time time, ParseTimestamp(e.time));
  std::optional<std::string> serial = StringField(e, "serial");
  std::optional<std::string> credential = StringField(e, "credential");
  std::optional<std::string> user = StringField(e, "user");
  absl::Time end = absl::InfinitePast();
  std::string what;
  if (serial.has_value()) {
    end = std::max(end, subjects.Serial(*serial));
    what = absl::StrCat("certificate ", *serial);
  }
  if (credential.has_value()) {
    end = std::max(end, subjects.Credential(*credential));
    what = absl::StrCat("credential ", *credential, "'s certificates");
  }
  if (user.has_value() && !credential.has_value()) {
    ASSIGN_OR_RETURN(absl::Time u, subjects.User(*user, time));
    end = std::max(end, u);
    what = absl::StrCat("user ", *user, "'s credentials");
  }
  if (!serial.has_value() && !credential.has_value() && !user.has_value()) {
    end = std::max(time, subjects.All());
    what = subjects.All() > time ? "every certificate issued so far"
                                 : "the entry itself (no certificate ends "
                                   "later)";
  }
  int years = user.has_value() ? std::max(policy.audit_years, policy.auth_years)
                               : policy.audit_years;
  if (end == absl::InfiniteFuture()) {
    return Keep{end,
                absl::StrCat("it concerns ", what, ", which has no end yet")};
  }
  return Keep{end + Years(years),
              absl::StrCat(years, " years after the end of ", what, " (",
                           FormatTimestamp(end), ")")};
}

}  // namespace

absl::StatusOr<RetentionPolicy> LoadRetention(storage::Transaction& tx) {
  RetentionPolicy p;
  ASSIGN_OR_RETURN(p.audit_years, MetaYears(tx, kAuditYearsKey));
  ASSIGN_OR_RETURN(p.auth_years, MetaYears(tx, kAuthYearsKey));
  return p;
}

absl::Status ValidateRetention(const RetentionPolicy& p) {
  for (int y : {p.audit_years, p.auth_years}) {
    if (y < kMinAuditYears || y > kMaxYears) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention periods are from ", kMinAuditYears, " to ", kMaxYears,
          " years (ETSI TS 119 431-1 OVR-6.4.6-01 asks at least 7 after the "
          "certificates end), not ",
          y));
    }
  }
  return absl::OkStatus();
}

absl::Status SetRetention(storage::Transaction& tx, const AuditLog& log,
                          const RetentionPolicy& policy,
                          absl::string_view actor) {
  RETURN_IF_ERROR(ValidateRetention(policy));
  RETURN_IF_ERROR(tx.PutMeta(kAuditYearsKey, absl::StrCat(policy.audit_years)));
  RETURN_IF_ERROR(tx.PutMeta(kAuthYearsKey, absl::StrCat(policy.auth_years)));
  return log.Append(tx, {"retention.set",
                         {{"actor", std::string(actor)},
                          {"audit_years", int64_t{policy.audit_years}},
                          {"auth_years", int64_t{policy.auth_years}}}});
}

absl::StatusOr<PrunePlan> PlanPrune(storage::Transaction& tx,
                                    const RetentionPolicy& policy,
                                    absl::Time now) {
  RETURN_IF_ERROR(ValidateRetention(policy));
  ASSIGN_OR_RETURN(std::optional<storage::CheckpointRow> latest,
                   tx.LatestCheckpoint());
  int64_t covered = latest.has_value() ? latest->tree_size : 0;
  Subjects subjects(tx);
  RETURN_IF_ERROR(subjects.Load());
  PrunePlan plan;
  bool done = false;
  for (int64_t next = 1; next <= covered && !done;) {
    ASSIGN_OR_RETURN(
        std::vector<storage::AuditEntryRow> rows,
        tx.ReadAuditEntries(next, std::min(kBatch, covered - next + 1)));
    if (rows.empty()) break;
    for (const storage::AuditEntryRow& row : rows) {
      if (row.seq != next) {
        return absl::DataLossError(
            absl::StrCat("audit entry ", next, " is missing"));
      }
      ++next;
      if (IsPruned(row)) {
        if (plan.through != row.seq - 1) {
          return absl::DataLossError(absl::StrCat(
              "audit entry ", row.seq, " is blank outside a pruned prefix"));
        }
        plan.pruned = plan.through = row.seq;
        continue;
      }
      ASSIGN_OR_RETURN(Entry e, ParseEntry(row.entry));
      ASSIGN_OR_RETURN(Keep keep, KeepUntil(e, subjects, policy));
      if (keep.until >= now) {
        plan.kept_seq = row.seq;
        plan.kept_until = keep.until;
        plan.kept_because = absl::StrCat(e.type, ": ", keep.because);
        done = true;
        break;
      }
      plan.through = row.seq;
    }
  }
  return plan;
}

absl::StatusOr<std::string> RootAt(storage::Transaction& tx, int64_t size) {
  CompactRange range;
  while (range.size() < size) {
    ASSIGN_OR_RETURN(
        std::vector<storage::AuditEntryRow> rows,
        tx.ReadAuditEntries(range.size() + 1,
                            std::min(kBatch, size - range.size())));
    if (rows.empty() || rows[0].seq != range.size() + 1) {
      return absl::OutOfRangeError(
          absl::StrCat("the audit log has fewer than ", size, " entries"));
    }
    for (const storage::AuditEntryRow& row : rows) {
      range.Append(StoredLeafHash(row));
    }
  }
  return range.Root();
}

absl::Status BlankSqliteAuditPrefix(const std::string& db_path,
                                    int64_t through) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
  auto fail = [&](absl::string_view what) {
    return absl::InternalError(absl::StrCat(
        what, ": ", db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  };
  if (rc != SQLITE_OK) return fail(absl::StrCat("open ", db_path));
  sqlite3_busy_timeout(db.get(), 10000);
  // Pruned text must not linger in free pages (and so in every later
  // backup, which copies pages).
  if (sqlite3_exec(db.get(), "PRAGMA secure_delete = ON", nullptr, nullptr,
                   nullptr) != SQLITE_OK) {
    return fail("secure_delete");
  }
  if (sqlite3_exec(db.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) !=
      SQLITE_OK) {
    return fail("begin");
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(),
                         "UPDATE audit_log SET entry = '' WHERE seq <= ?1 "
                         "AND length(leaf_hash) = 32",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return fail("prepare");
  }
  sqlite3_bind_int64(stmt, 1, through);
  rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE || sqlite3_exec(db.get(), "COMMIT", nullptr, nullptr,
                                        nullptr) != SQLITE_OK) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return fail("blank the pruned entries");
  }
  return absl::OkStatus();
}

}  // namespace inkan::audit
