// FaultInjectionStore (see store.h): fails the N-th write and every later one,
// to show that callers survive a crash at any point of a transaction.
//
// A transaction that hit an injected fault always rolls back, even if its
// callback swallowed the error and returned OK: a crash does not let the
// caller carry on.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace inkan::storage {
namespace {

class FaultInjectionStoreImpl;

class FaultInjectionTransaction : public Transaction {
 public:
  FaultInjectionTransaction(Transaction& base, FaultInjectionStoreImpl& store)
      : base_(base), store_(store) {}

  bool faulted() const { return faulted_; }

  // Reads pass through.
  absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) override {
    return base_.GetMeta(key);
  }
  absl::StatusOr<UserRecord> GetUserByName(absl::string_view name) override {
    return base_.GetUserByName(name);
  }
  absl::StatusOr<UserRecord> GetUserById(int64_t id) override {
    return base_.GetUserById(id);
  }
  absl::StatusOr<std::vector<UserRecord>> ListUsers() override {
    return base_.ListUsers();
  }
  absl::StatusOr<CredentialRecord> GetCredential(
      absl::string_view id) override {
    return base_.GetCredential(id);
  }
  absl::StatusOr<std::vector<CredentialRecord>> ListCredentials(
      int64_t user_id) override {
    return base_.ListCredentials(user_id);
  }
  absl::StatusOr<std::vector<AuditEntryRow>> ReadAuditEntries(
      int64_t from_seq, int64_t limit) override {
    return base_.ReadAuditEntries(from_seq, limit);
  }
  absl::StatusOr<int64_t> AuditEntryCount() override {
    return base_.AuditEntryCount();
  }
  absl::StatusOr<std::vector<CheckpointRow>> ReadCheckpoints() override {
    return base_.ReadCheckpoints();
  }
  absl::StatusOr<std::optional<CheckpointRow>> LatestCheckpoint() override {
    return base_.LatestCheckpoint();
  }
  absl::StatusOr<OperatorRecord> GetOperator(absl::string_view name) override {
    return base_.GetOperator(name);
  }
  absl::StatusOr<std::vector<OperatorRecord>> ListOperators() override {
    return base_.ListOperators();
  }
  absl::StatusOr<CeremonyRequestRecord> GetCeremonyRequest(
      absl::string_view id) override {
    return base_.GetCeremonyRequest(id);
  }
  absl::StatusOr<std::vector<CeremonyRequestRecord>> ListCeremonyRequests(
      absl::string_view state, int64_t limit) override {
    return base_.ListCeremonyRequests(state, limit);
  }
  absl::StatusOr<std::vector<ApprovalRecord>> ListApprovals(
      absl::string_view request_id) override {
    return base_.ListApprovals(request_id);
  }
  absl::StatusOr<CertificateRecord> GetCertificate(
      absl::string_view serial_hex) override {
    return base_.GetCertificate(serial_hex);
  }
  absl::StatusOr<std::vector<CertificateRecord>> ListCertificates(
      absl::string_view credential_id) override {
    return base_.ListCertificates(credential_id);
  }
  absl::StatusOr<std::vector<CertificateRecord>> ListRevokedCertificates()
      override {
    return base_.ListRevokedCertificates();
  }
  absl::StatusOr<ClientRecord> GetClient(absl::string_view client_id) override {
    return base_.GetClient(client_id);
  }
  absl::StatusOr<std::vector<ClientRecord>> ListClients() override {
    return base_.ListClients();
  }
  absl::StatusOr<GrantRecord> GetGrant(absl::string_view id) override {
    return base_.GetGrant(id);
  }
  absl::StatusOr<FactorRecord> GetFactor(int64_t user_id,
                                         absl::string_view kind) override {
    return base_.GetFactor(user_id, kind);
  }
  absl::StatusOr<std::vector<FactorRecord>> ListFactors(
      int64_t user_id) override {
    return base_.ListFactors(user_id);
  }

  // Writes are counted and may fail.
  absl::Status PutMeta(absl::string_view key,
                       absl::string_view value) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.PutMeta(key, value);
  }
  absl::StatusOr<int64_t> InsertUser(const UserRecord& user) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertUser(user);
  }
  absl::Status InsertCredential(const CredentialRecord& cred) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertCredential(cred);
  }
  absl::Status UpdateCredentialTries(absl::string_view id, int failed_tries,
                                     bool locked) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.UpdateCredentialTries(id, failed_tries, locked);
  }
  absl::Status AppendAuditEntry(const AuditEntryRow& row) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.AppendAuditEntry(row);
  }
  absl::Status AppendCheckpoint(const CheckpointRow& row) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.AppendCheckpoint(row);
  }
  absl::Status InsertOperator(const OperatorRecord& op) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertOperator(op);
  }
  absl::Status SetOperatorActive(absl::string_view name, bool active) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.SetOperatorActive(name, active);
  }
  absl::Status InsertCeremonyRequest(
      const CeremonyRequestRecord& req) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertCeremonyRequest(req);
  }
  absl::Status CloseCeremonyRequest(absl::string_view id,
                                    absl::string_view state, absl::Time closed,
                                    absl::string_view outcome) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.CloseCeremonyRequest(id, state, closed, outcome);
  }
  absl::Status InsertApproval(const ApprovalRecord& approval) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertApproval(approval);
  }
  absl::Status InsertCertificate(const CertificateRecord& cert) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertCertificate(cert);
  }
  absl::Status RevokeCertificate(absl::string_view serial_hex, absl::Time at,
                                 int reason) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.RevokeCertificate(serial_hex, at, reason);
  }
  absl::Status InsertClient(const ClientRecord& client) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertClient(client);
  }
  absl::Status SetClientActive(absl::string_view client_id,
                               bool active) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.SetClientActive(client_id, active);
  }
  absl::Status InsertGrant(const GrantRecord& grant) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.InsertGrant(grant);
  }
  absl::Status UpdateGrant(absl::string_view id, int64_t uses_left,
                           absl::string_view hashes, bool revoked) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.UpdateGrant(id, uses_left, hashes, revoked);
  }
  absl::Status LowerGrantUses(absl::string_view id, int64_t uses_left,
                              bool revoke) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.LowerGrantUses(id, uses_left, revoke);
  }
  absl::StatusOr<int64_t> RevokeGrantsWithParent(
      absl::string_view parent) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.RevokeGrantsWithParent(parent);
  }
  absl::StatusOr<int64_t> DeleteExpiredGrants(absl::Time now) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.DeleteExpiredGrants(now);
  }
  absl::Status PutFactor(const FactorRecord& factor) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.PutFactor(factor);
  }
  absl::Status UpdateFactorState(int64_t user_id, absl::string_view kind,
                                 int64_t last_step, int failed_tries,
                                 bool locked) override {
    if (absl::Status s = CountWrite(); !s.ok()) return s;
    return base_.UpdateFactorState(user_id, kind, last_step, failed_tries,
                                   locked);
  }

 private:
  absl::Status CountWrite();

  Transaction& base_;
  FaultInjectionStoreImpl& store_;
  bool faulted_ = false;
};

class FaultInjectionStoreImpl : public FaultInjectionStore {
 public:
  explicit FaultInjectionStoreImpl(Store& base) : base_(base) {}

  absl::Status Transact(
      TxMode mode, absl::FunctionRef<absl::Status(Transaction&)> fn) override {
    return base_.Transact(mode, [&](Transaction& base_tx) -> absl::Status {
      FaultInjectionTransaction tx(base_tx, *this);
      absl::Status status = fn(tx);
      if (status.ok() && tx.faulted()) return InjectedFault();
      return status;
    });
  }

  void FailAtWrite(int64_t fail_at) override { fail_at_.store(fail_at); }

  // Clears the fault and the write counter.
  void Reset() override {
    fail_at_.store(0);
    writes_.store(0);
  }

  int64_t writes() const override { return writes_.load(); }

  // Counts one write; true if it must fail.
  bool CountWriteAndCheck() {
    int64_t n = writes_.fetch_add(1) + 1;
    int64_t fail_at = fail_at_.load();
    return fail_at > 0 && n >= fail_at;
  }

  static absl::Status InjectedFault() {
    return absl::InternalError("injected fault");
  }

 private:
  Store& base_;
  std::atomic<int64_t> writes_{0};
  std::atomic<int64_t> fail_at_{0};  // 0: no fault armed
};

absl::Status FaultInjectionTransaction::CountWrite() {
  if (!store_.CountWriteAndCheck()) return absl::OkStatus();
  faulted_ = true;
  return FaultInjectionStoreImpl::InjectedFault();
}

}  // namespace

std::unique_ptr<FaultInjectionStore> NewFaultInjectionStore(Store& base) {
  return std::make_unique<FaultInjectionStoreImpl>(base);
}

}  // namespace inkan::storage
