// In-memory storage::Store for unit tests (see store.h). Same semantics and
// error codes as the SQLite backend, checked by the same contract suite.
//
// Transactions are serialised: each holds the mutex for its whole life (so a
// callback must not call Transact on the same store again). Writes go straight
// into the state and push an undo step; a transaction that does not commit
// (error status, or an exception unwinding through Transact) replays the undo
// steps in reverse, so nothing of it stays visible. Times are truncated to
// microseconds, as the SQLite backend stores them.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "storage/store.h"

namespace inkan::storage {
namespace {

absl::Time ToMicros(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}

struct State {
  std::map<std::string, std::string, std::less<>> meta;
  std::map<int64_t, UserRecord> users;
  std::map<std::string, int64_t, std::less<>> user_ids_by_name;
  int64_t next_user_id = 1;  // ids are never reused (AUTOINCREMENT)
  std::map<std::string, CredentialRecord, std::less<>> credentials;
  std::map<int64_t, AuditEntryRow> audit_log;
  std::map<int64_t, CheckpointRow> checkpoints;
  std::map<std::string, OperatorRecord, std::less<>> operators;
  std::map<std::string, CeremonyRequestRecord, std::less<>> ceremony_requests;
  // By request id, in the order they were given.
  std::map<std::string, std::vector<ApprovalRecord>, std::less<>> approvals;
  // By serial.
  std::map<std::string, CertificateRecord, std::less<>> certificates;
  std::map<std::string, ClientRecord, std::less<>> clients;
  std::map<std::string, GrantRecord, std::less<>> grants;
  // By user id, then kind.
  std::map<int64_t, std::map<std::string, FactorRecord, std::less<>>> factors;
};

// The states a ceremony request leaves "pending" for.
bool IsClosedCeremonyState(absl::string_view state) {
  return state == "executed" || state == "cancelled" || state == "failed";
}

// RFC 5280 section 5.3.1 CRLReason: 0..10, where 7 is not used.
bool IsValidCrlReason(int reason) {
  return reason >= 0 && reason <= 10 && reason != 7;
}

absl::Status CheckCrlReason(absl::string_view what, absl::string_view serial,
                            int reason) {
  if (IsValidCrlReason(reason)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " certificate ", serial, ": reason ", reason,
                   " is not an RFC 5280 CRLReason (0..10 except 7)"));
}

absl::Status CertificateNotFound(absl::string_view serial) {
  return absl::NotFoundError(
      absl::StrCat("no certificate with serial ", serial));
}

// The kinds of grant and of possession factor.
bool IsGrantKind(absl::string_view kind) {
  return kind == "access" || kind == "refresh" || kind == "code" ||
         kind == "sad";
}
bool IsFactorKind(absl::string_view kind) {
  return kind == "totp" || kind == "card";
}

absl::Status GrantNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("no grant with id ", id));
}

absl::Status FactorNotFound(int64_t user_id, absl::string_view kind) {
  return absl::NotFoundError(
      absl::StrCat("no ", kind, " factor for user ", user_id));
}

class MemoryTransaction : public Transaction {
 public:
  MemoryTransaction(State& state, TxMode mode) : state_(state), mode_(mode) {}
  MemoryTransaction(const MemoryTransaction&) = delete;
  MemoryTransaction& operator=(const MemoryTransaction&) = delete;
  // Undoes every write unless Commit() was called.
  ~MemoryTransaction() override {
    if (committed_) return;
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
  }

  void Commit() { committed_ = true; }

  absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) override {
    auto it = state_.meta.find(key);
    if (it == state_.meta.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  absl::Status PutMeta(absl::string_view key,
                       absl::string_view value) override {
    RETURN_IF_ERROR(CheckWritable("PutMeta"));
    std::string k(key);
    auto it = state_.meta.find(k);
    if (it == state_.meta.end()) {
      state_.meta.emplace(k, std::string(value));
      undo_.push_back([this, k] { state_.meta.erase(k); });
    } else {
      std::string old = std::exchange(it->second, std::string(value));
      undo_.push_back(
          [this, k, old = std::move(old)] { state_.meta[k] = old; });
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> InsertUser(const UserRecord& user) override {
    RETURN_IF_ERROR(CheckWritable("InsertUser"));
    if (state_.user_ids_by_name.contains(user.name)) {
      return absl::AlreadyExistsError(
          absl::StrCat("insert user ", user.name, ": name is taken"));
    }
    int64_t id = state_.next_user_id++;
    UserRecord stored = user;
    stored.id = id;
    stored.created = ToMicros(user.created);
    state_.users.emplace(id, std::move(stored));
    state_.user_ids_by_name.emplace(user.name, id);
    undo_.push_back([this, id, name = user.name] {
      state_.users.erase(id);
      state_.user_ids_by_name.erase(name);
      state_.next_user_id = id;
    });
    return id;
  }

  absl::StatusOr<UserRecord> GetUserByName(absl::string_view name) override {
    auto it = state_.user_ids_by_name.find(name);
    if (it == state_.user_ids_by_name.end()) {
      return absl::NotFoundError(absl::StrCat("no user named \"", name, "\""));
    }
    return state_.users.at(it->second);
  }

  absl::StatusOr<UserRecord> GetUserById(int64_t id) override {
    auto it = state_.users.find(id);
    if (it == state_.users.end()) {
      return absl::NotFoundError(absl::StrCat("no user with id ", id));
    }
    return it->second;
  }

  absl::StatusOr<std::vector<UserRecord>> ListUsers() override {
    std::vector<UserRecord> users;
    users.reserve(state_.users.size());
    for (const auto& [id, user] : state_.users) users.push_back(user);
    return users;
  }

  absl::Status InsertCredential(const CredentialRecord& cred) override {
    RETURN_IF_ERROR(CheckWritable("InsertCredential"));
    if (state_.credentials.contains(cred.id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("insert credential ", cred.id, ": id is taken"));
    }
    if (!state_.users.contains(cred.user_id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "insert credential ", cred.id, ": no user with id ", cred.user_id));
    }
    CredentialRecord stored = cred;
    stored.created = ToMicros(cred.created);
    state_.credentials.emplace(cred.id, std::move(stored));
    undo_.push_back([this, id = cred.id] { state_.credentials.erase(id); });
    return absl::OkStatus();
  }

  absl::StatusOr<CredentialRecord> GetCredential(
      absl::string_view id) override {
    auto it = state_.credentials.find(id);
    if (it == state_.credentials.end()) {
      return absl::NotFoundError(absl::StrCat("no credential with id ", id));
    }
    return it->second;
  }

  absl::StatusOr<std::vector<CredentialRecord>> ListCredentials(
      int64_t user_id) override {
    std::vector<CredentialRecord> creds;
    for (const auto& [id, cred] : state_.credentials) {
      if (cred.user_id == user_id) creds.push_back(cred);
    }
    return creds;
  }

  absl::Status UpdateCredentialTries(absl::string_view id, int failed_tries,
                                     bool locked) override {
    RETURN_IF_ERROR(CheckWritable("UpdateCredentialTries"));
    auto it = state_.credentials.find(id);
    if (it == state_.credentials.end()) {
      return absl::NotFoundError(absl::StrCat("no credential with id ", id));
    }
    CredentialRecord& cred = it->second;
    undo_.push_back(
        [&cred, tries = cred.failed_tries, was_locked = cred.locked] {
          cred.failed_tries = tries;
          cred.locked = was_locked;
        });
    cred.failed_tries = failed_tries;
    cred.locked = locked;
    return absl::OkStatus();
  }

  absl::Status InsertOperator(const OperatorRecord& op) override {
    RETURN_IF_ERROR(CheckWritable("InsertOperator"));
    if (state_.operators.contains(op.name)) {
      return absl::AlreadyExistsError(
          absl::StrCat("insert operator ", op.name, ": name is taken"));
    }
    OperatorRecord stored = op;
    stored.created = ToMicros(op.created);
    state_.operators.emplace(op.name, std::move(stored));
    undo_.push_back([this, name = op.name] { state_.operators.erase(name); });
    return absl::OkStatus();
  }

  absl::StatusOr<OperatorRecord> GetOperator(absl::string_view name) override {
    auto it = state_.operators.find(name);
    if (it == state_.operators.end()) {
      return absl::NotFoundError(
          absl::StrCat("no operator named \"", name, "\""));
    }
    return it->second;
  }

  absl::StatusOr<std::vector<OperatorRecord>> ListOperators() override {
    std::vector<OperatorRecord> ops;
    ops.reserve(state_.operators.size());
    for (const auto& [name, op] : state_.operators) ops.push_back(op);
    return ops;
  }

  absl::Status SetOperatorActive(absl::string_view name, bool active) override {
    RETURN_IF_ERROR(CheckWritable("SetOperatorActive"));
    auto it = state_.operators.find(name);
    if (it == state_.operators.end()) {
      return absl::NotFoundError(
          absl::StrCat("no operator named \"", name, "\""));
    }
    OperatorRecord& op = it->second;
    undo_.push_back([&op, was_active = op.active] { op.active = was_active; });
    op.active = active;
    return absl::OkStatus();
  }

  absl::Status InsertCeremonyRequest(
      const CeremonyRequestRecord& req) override {
    RETURN_IF_ERROR(CheckWritable("InsertCeremonyRequest"));
    if (req.state != "pending" && !IsClosedCeremonyState(req.state)) {
      return absl::InvalidArgumentError(
          absl::StrCat("insert ceremony request ", req.id, ": unknown state \"",
                       req.state, "\""));
    }
    if (state_.ceremony_requests.contains(req.id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("insert ceremony request ", req.id, ": id is taken"));
    }
    CeremonyRequestRecord stored = req;
    stored.created = ToMicros(req.created);
    stored.expires = ToMicros(req.expires);
    stored.closed = ToMicros(req.closed);
    state_.ceremony_requests.emplace(req.id, std::move(stored));
    undo_.push_back(
        [this, id = req.id] { state_.ceremony_requests.erase(id); });
    return absl::OkStatus();
  }

  absl::StatusOr<CeremonyRequestRecord> GetCeremonyRequest(
      absl::string_view id) override {
    auto it = state_.ceremony_requests.find(id);
    if (it == state_.ceremony_requests.end()) {
      return absl::NotFoundError(
          absl::StrCat("no ceremony request with id ", id));
    }
    return it->second;
  }

  absl::StatusOr<std::vector<CeremonyRequestRecord>> ListCeremonyRequests(
      absl::string_view state, int64_t limit) override {
    if (limit < 0) return absl::InvalidArgumentError("negative limit");
    std::vector<CeremonyRequestRecord> reqs;
    for (const auto& [id, req] : state_.ceremony_requests) {
      if (state.empty() || req.state == state) reqs.push_back(req);
    }
    // Newest first; ties by id, descending (as the SQLite backend orders).
    std::sort(
        reqs.begin(), reqs.end(),
        [](const CeremonyRequestRecord& a, const CeremonyRequestRecord& b) {
          if (a.created != b.created) return a.created > b.created;
          return a.id > b.id;
        });
    if (static_cast<uint64_t>(limit) < reqs.size()) {
      reqs.resize(static_cast<size_t>(limit));
    }
    return reqs;
  }

  absl::Status CloseCeremonyRequest(absl::string_view id,
                                    absl::string_view state, absl::Time closed,
                                    absl::string_view outcome) override {
    RETURN_IF_ERROR(CheckWritable("CloseCeremonyRequest"));
    if (!IsClosedCeremonyState(state)) {
      return absl::InvalidArgumentError(
          absl::StrCat("close ceremony request ", id, ": state \"", state,
                       "\" is not executed, cancelled or failed"));
    }
    auto it = state_.ceremony_requests.find(id);
    if (it == state_.ceremony_requests.end()) {
      return absl::NotFoundError(
          absl::StrCat("no ceremony request with id ", id));
    }
    CeremonyRequestRecord& req = it->second;
    if (req.state != "pending") {
      return absl::FailedPreconditionError(
          absl::StrCat("close ceremony request ", id, ": it is already ",
                       req.state, ", not pending"));
    }
    undo_.push_back([&req, old_state = req.state, old_closed = req.closed,
                     old_outcome = req.outcome] {
      req.state = old_state;
      req.closed = old_closed;
      req.outcome = old_outcome;
    });
    req.state = std::string(state);
    req.closed = ToMicros(closed);
    req.outcome = std::string(outcome);
    return absl::OkStatus();
  }

  absl::Status InsertApproval(const ApprovalRecord& approval) override {
    RETURN_IF_ERROR(CheckWritable("InsertApproval"));
    if (!state_.ceremony_requests.contains(approval.request_id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("insert approval of ceremony request ",
                       approval.request_id, ": no such request"));
    }
    if (!state_.operators.contains(approval.operator_name)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "insert approval of ceremony request ", approval.request_id,
          ": no operator named \"", approval.operator_name, "\""));
    }
    std::vector<ApprovalRecord>& given = state_.approvals[approval.request_id];
    for (const ApprovalRecord& a : given) {
      if (a.operator_name == approval.operator_name) {
        return absl::AlreadyExistsError(absl::StrCat(
            "insert approval of ceremony request ", approval.request_id,
            ": operator ", approval.operator_name, " already approved it"));
      }
    }
    ApprovalRecord stored = approval;
    stored.at = ToMicros(approval.at);
    given.push_back(std::move(stored));
    undo_.push_back([this, id = approval.request_id] {
      auto it = state_.approvals.find(id);
      it->second.pop_back();
      if (it->second.empty()) state_.approvals.erase(it);
    });
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ApprovalRecord>> ListApprovals(
      absl::string_view request_id) override {
    auto it = state_.approvals.find(request_id);
    if (it == state_.approvals.end()) return std::vector<ApprovalRecord>();
    return it->second;
  }

  absl::Status InsertCertificate(const CertificateRecord& cert) override {
    RETURN_IF_ERROR(CheckWritable("InsertCertificate"));
    RETURN_IF_ERROR(CheckCrlReason("insert", cert.serial_hex, cert.reason));
    if (state_.certificates.contains(cert.serial_hex)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "insert certificate ", cert.serial_hex, ": serial is taken"));
    }
    CertificateRecord stored = cert;
    stored.not_before = ToMicros(cert.not_before);
    stored.not_after = ToMicros(cert.not_after);
    stored.issued = ToMicros(cert.issued);
    stored.revoked_at = ToMicros(cert.revoked_at);
    state_.certificates.emplace(cert.serial_hex, std::move(stored));
    undo_.push_back([this, serial = cert.serial_hex] {
      state_.certificates.erase(serial);
    });
    return absl::OkStatus();
  }

  absl::StatusOr<CertificateRecord> GetCertificate(
      absl::string_view serial_hex) override {
    auto it = state_.certificates.find(serial_hex);
    if (it == state_.certificates.end()) return CertificateNotFound(serial_hex);
    return it->second;
  }

  absl::StatusOr<std::vector<CertificateRecord>> ListCertificates(
      absl::string_view credential_id) override {
    std::vector<CertificateRecord> certs;
    for (const auto& [serial, cert] : state_.certificates) {
      if (credential_id.empty() || cert.credential_id == credential_id) {
        certs.push_back(cert);
      }
    }
    // By issue time; ties stay in serial order (as the SQLite backend orders).
    std::stable_sort(
        certs.begin(), certs.end(),
        [](const CertificateRecord& a, const CertificateRecord& b) {
          return a.issued < b.issued;
        });
    return certs;
  }

  absl::Status RevokeCertificate(absl::string_view serial_hex, absl::Time at,
                                 int reason) override {
    RETURN_IF_ERROR(CheckWritable("RevokeCertificate"));
    RETURN_IF_ERROR(CheckCrlReason("revoke", serial_hex, reason));
    auto it = state_.certificates.find(serial_hex);
    if (it == state_.certificates.end()) return CertificateNotFound(serial_hex);
    CertificateRecord& cert = it->second;
    if (cert.revoked) {
      return absl::FailedPreconditionError(absl::StrCat(
          "revoke certificate ", serial_hex, ": it is already revoked"));
    }
    undo_.push_back(
        [&cert, old_at = cert.revoked_at, old_reason = cert.reason] {
          cert.revoked = false;
          cert.revoked_at = old_at;
          cert.reason = old_reason;
        });
    cert.revoked = true;
    cert.revoked_at = ToMicros(at);
    cert.reason = reason;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<CertificateRecord>> ListRevokedCertificates()
      override {
    std::vector<CertificateRecord> certs;
    for (const auto& [serial, cert] : state_.certificates) {
      if (cert.revoked) certs.push_back(cert);
    }
    // By revocation time; ties stay in serial order.
    std::stable_sort(
        certs.begin(), certs.end(),
        [](const CertificateRecord& a, const CertificateRecord& b) {
          return a.revoked_at < b.revoked_at;
        });
    return certs;
  }

  absl::Status InsertClient(const ClientRecord& client) override {
    RETURN_IF_ERROR(CheckWritable("InsertClient"));
    if (state_.clients.contains(client.client_id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("insert client ", client.client_id, ": id is taken"));
    }
    ClientRecord stored = client;
    stored.created = ToMicros(client.created);
    state_.clients.emplace(client.client_id, std::move(stored));
    undo_.push_back(
        [this, id = client.client_id] { state_.clients.erase(id); });
    return absl::OkStatus();
  }

  absl::StatusOr<ClientRecord> GetClient(absl::string_view client_id) override {
    auto it = state_.clients.find(client_id);
    if (it == state_.clients.end()) {
      return absl::NotFoundError(absl::StrCat("no client with id ", client_id));
    }
    return it->second;
  }

  absl::StatusOr<std::vector<ClientRecord>> ListClients() override {
    std::vector<ClientRecord> clients;
    clients.reserve(state_.clients.size());
    for (const auto& [id, client] : state_.clients) clients.push_back(client);
    return clients;
  }

  absl::Status SetClientActive(absl::string_view client_id,
                               bool active) override {
    RETURN_IF_ERROR(CheckWritable("SetClientActive"));
    auto it = state_.clients.find(client_id);
    if (it == state_.clients.end()) {
      return absl::NotFoundError(absl::StrCat("no client with id ", client_id));
    }
    ClientRecord& client = it->second;
    undo_.push_back(
        [&client, was_active = client.active] { client.active = was_active; });
    client.active = active;
    return absl::OkStatus();
  }

  // Grants can be deleted, so their undo steps find them by id (a record
  // deleted and restored later in the same transaction is a new node).
  absl::Status InsertGrant(const GrantRecord& grant) override {
    RETURN_IF_ERROR(CheckWritable("InsertGrant"));
    if (!IsGrantKind(grant.kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "insert grant ", grant.id, ": unknown kind \"", grant.kind, "\""));
    }
    if (state_.grants.contains(grant.id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("insert grant ", grant.id, ": id is taken"));
    }
    if (!state_.users.contains(grant.user_id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "insert grant ", grant.id, ": no user with id ", grant.user_id));
    }
    GrantRecord stored = grant;
    stored.created = ToMicros(grant.created);
    stored.expires = ToMicros(grant.expires);
    state_.grants.emplace(grant.id, std::move(stored));
    undo_.push_back([this, id = grant.id] { state_.grants.erase(id); });
    return absl::OkStatus();
  }

  absl::StatusOr<GrantRecord> GetGrant(absl::string_view id) override {
    auto it = state_.grants.find(id);
    if (it == state_.grants.end()) return GrantNotFound(id);
    return it->second;
  }

  absl::Status UpdateGrant(absl::string_view id, int64_t uses_left,
                           absl::string_view hashes, bool revoked) override {
    RETURN_IF_ERROR(CheckWritable("UpdateGrant"));
    auto it = state_.grants.find(id);
    if (it == state_.grants.end()) return GrantNotFound(id);
    GrantRecord& grant = it->second;
    undo_.push_back([this, id = grant.id, old_uses = grant.uses_left,
                     old_hashes = grant.hashes, was_revoked = grant.revoked] {
      GrantRecord& g = state_.grants.at(id);
      g.uses_left = old_uses;
      g.hashes = old_hashes;
      g.revoked = was_revoked;
    });
    grant.uses_left = uses_left;
    grant.hashes = std::string(hashes);
    grant.revoked = revoked;
    return absl::OkStatus();
  }

  absl::Status LowerGrantUses(absl::string_view id, int64_t uses_left,
                              bool revoke) override {
    RETURN_IF_ERROR(CheckWritable("LowerGrantUses"));
    auto it = state_.grants.find(id);
    if (it == state_.grants.end()) return GrantNotFound(id);
    GrantRecord& grant = it->second;
    undo_.push_back([this, id = grant.id, old_uses = grant.uses_left,
                     was_revoked = grant.revoked] {
      GrantRecord& g = state_.grants.at(id);
      g.uses_left = old_uses;
      g.revoked = was_revoked;
    });
    grant.uses_left = std::min(grant.uses_left, uses_left);
    grant.revoked = grant.revoked || revoke;
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> RevokeGrantsWithParent(
      absl::string_view parent) override {
    RETURN_IF_ERROR(CheckWritable("RevokeGrantsWithParent"));
    if (parent.empty()) {
      return absl::InvalidArgumentError(
          "revoke grants with parent: empty parent");
    }
    std::vector<std::string> changed;
    for (auto& [id, grant] : state_.grants) {
      if (grant.parent != parent || grant.revoked) continue;
      grant.revoked = true;
      changed.push_back(id);
    }
    if (!changed.empty()) {
      undo_.push_back([this, changed] {
        for (const std::string& id : changed) {
          state_.grants.at(id).revoked = false;
        }
      });
    }
    return static_cast<int64_t>(changed.size());
  }

  absl::StatusOr<int64_t> DeleteExpiredGrants(absl::Time now) override {
    RETURN_IF_ERROR(CheckWritable("DeleteExpiredGrants"));
    std::vector<GrantRecord> deleted;
    for (auto it = state_.grants.begin(); it != state_.grants.end();) {
      if (it->second.expires < now) {
        deleted.push_back(std::move(it->second));
        it = state_.grants.erase(it);
      } else {
        ++it;
      }
    }
    int64_t count = static_cast<int64_t>(deleted.size());
    if (!deleted.empty()) {
      undo_.push_back([this, deleted = std::move(deleted)] {
        for (const GrantRecord& grant : deleted) {
          state_.grants.emplace(grant.id, grant);
        }
      });
    }
    return count;
  }

  absl::Status PutFactor(const FactorRecord& factor) override {
    RETURN_IF_ERROR(CheckWritable("PutFactor"));
    if (!IsFactorKind(factor.kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("put factor of user ", factor.user_id,
                       ": unknown kind \"", factor.kind, "\""));
    }
    if (!state_.users.contains(factor.user_id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "put ", factor.kind, " factor: no user with id ", factor.user_id));
    }
    FactorRecord stored = factor;
    stored.created = ToMicros(factor.created);
    auto& by_kind = state_.factors[factor.user_id];
    auto it = by_kind.find(factor.kind);
    if (it == by_kind.end()) {
      by_kind.emplace(factor.kind, std::move(stored));
      undo_.push_back([this, user_id = factor.user_id, kind = factor.kind] {
        auto user = state_.factors.find(user_id);
        user->second.erase(kind);
        if (user->second.empty()) state_.factors.erase(user);
      });
    } else {
      FactorRecord old = std::exchange(it->second, std::move(stored));
      undo_.push_back([this, old = std::move(old)] {
        state_.factors[old.user_id][old.kind] = old;
      });
    }
    return absl::OkStatus();
  }

  absl::StatusOr<FactorRecord> GetFactor(int64_t user_id,
                                         absl::string_view kind) override {
    FactorRecord* factor = FindFactor(user_id, kind);
    if (factor == nullptr) return FactorNotFound(user_id, kind);
    return *factor;
  }

  absl::StatusOr<std::vector<FactorRecord>> ListFactors(
      int64_t user_id) override {
    std::vector<FactorRecord> factors;
    auto user = state_.factors.find(user_id);
    if (user == state_.factors.end()) return factors;
    for (const auto& [kind, factor] : user->second) factors.push_back(factor);
    return factors;  // by kind (the map's order)
  }

  absl::Status UpdateFactorState(int64_t user_id, absl::string_view kind,
                                 int64_t last_step, int failed_tries,
                                 bool locked) override {
    RETURN_IF_ERROR(CheckWritable("UpdateFactorState"));
    FactorRecord* factor = FindFactor(user_id, kind);
    if (factor == nullptr) return FactorNotFound(user_id, kind);
    undo_.push_back([factor, old_step = factor->last_step,
                     old_tries = factor->failed_tries,
                     was_locked = factor->locked] {
      factor->last_step = old_step;
      factor->failed_tries = old_tries;
      factor->locked = was_locked;
    });
    factor->last_step = last_step;
    factor->failed_tries = failed_tries;
    factor->locked = locked;
    return absl::OkStatus();
  }

  absl::Status AppendAuditEntry(const AuditEntryRow& row) override {
    RETURN_IF_ERROR(CheckWritable("AppendAuditEntry"));
    int64_t last =
        state_.audit_log.empty() ? 0 : state_.audit_log.rbegin()->first;
    if (last == std::numeric_limits<int64_t>::max() || row.seq != last + 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("audit entry seq ", row.seq, " does not follow ", last));
    }
    state_.audit_log.emplace(row.seq, row);
    undo_.push_back([this, seq = row.seq] { state_.audit_log.erase(seq); });
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<AuditEntryRow>> ReadAuditEntries(
      int64_t from_seq, int64_t limit) override {
    if (limit < 0) return absl::InvalidArgumentError("negative limit");
    std::vector<AuditEntryRow> rows;
    if (limit == 0) return rows;
    int64_t last = (from_seq > 0 &&
                    limit - 1 > std::numeric_limits<int64_t>::max() - from_seq)
                       ? std::numeric_limits<int64_t>::max()
                       : from_seq + (limit - 1);
    for (auto it = state_.audit_log.lower_bound(from_seq);
         it != state_.audit_log.end() && it->first <= last; ++it) {
      rows.push_back(it->second);
    }
    return rows;
  }

  absl::StatusOr<int64_t> AuditEntryCount() override {
    return static_cast<int64_t>(state_.audit_log.size());
  }

  absl::Status AppendCheckpoint(const CheckpointRow& row) override {
    RETURN_IF_ERROR(CheckWritable("AppendCheckpoint"));
    if (!state_.checkpoints.emplace(row.tree_size, row).second) {
      return absl::AlreadyExistsError(absl::StrCat(
          "append checkpoint for size ", row.tree_size, ": already exists"));
    }
    undo_.push_back(
        [this, size = row.tree_size] { state_.checkpoints.erase(size); });
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<CheckpointRow>> ReadCheckpoints() override {
    std::vector<CheckpointRow> rows;
    rows.reserve(state_.checkpoints.size());
    for (const auto& [size, row] : state_.checkpoints) rows.push_back(row);
    return rows;
  }

  absl::StatusOr<std::optional<CheckpointRow>> LatestCheckpoint() override {
    if (state_.checkpoints.empty()) return std::optional<CheckpointRow>();
    return std::optional<CheckpointRow>(state_.checkpoints.rbegin()->second);
  }

 private:
  absl::Status CheckWritable(absl::string_view op) const {
    if (mode_ != TxMode::kReadWrite) {
      return absl::FailedPreconditionError(
          absl::StrCat(op, " in a read-only transaction"));
    }
    return absl::OkStatus();
  }

  // The (user, kind) factor, or null.
  FactorRecord* FindFactor(int64_t user_id, absl::string_view kind) {
    auto user = state_.factors.find(user_id);
    if (user == state_.factors.end()) return nullptr;
    auto it = user->second.find(kind);
    return it == user->second.end() ? nullptr : &it->second;
  }

  State& state_;
  const TxMode mode_;
  bool committed_ = false;
  std::vector<std::function<void()>> undo_;
};

class MemoryStore : public Store {
 public:
  absl::Status Transact(
      TxMode mode, absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    absl::MutexLock lock(&mu_);
    MemoryTransaction tx(state_, mode);
    absl::Status status = fn(tx);
    if (status.ok()) tx.Commit();
    return status;
  }

 private:
  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() {
  return std::make_unique<MemoryStore>();
}

}  // namespace inkan::storage
