// Multi-person control (R6, R7, R12): operators, ceremony requests, k-of-n
// approvals, execution exactly once.
//
// An operator is registered with a public key (ECDSA P-256 or Ed25519); the
// private key stays on the operator's own token or file. A ceremony step is a
// *request*: canonical JSON naming the operation, its parameters, a random
// nonce, creation and expiry times, the log id of this instance and the hash
// of the current configuration (quorum, operators, policy). Its id is the
// SHA-256 of those bytes, so a request cannot change after anyone signed it.
// Operators approve by signing the exact bytes. Execution needs k *distinct*,
// currently active operators whose signatures verify, before expiry and while
// the configuration is still the one the request named; the operation's
// effects, the closing of the request and the log entry commit in one
// transaction, so a request runs once and never again. Every approval,
// refusal, cancellation and execution is on the audit log.
//
// Bootstrap: while fewer than k operators are active, operators are added
// directly (logged as bootstrap); from then on adding one is itself a
// ceremony.
//
// Thread-safety: thread-safe; the store, log and clock must outlive it.
#ifndef INKAN_CEREMONY_QUORUM_H_
#define INKAN_CEREMONY_QUORUM_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "audit/canonical_json.h"
#include "common/clock.h"
#include "common/secret_bytes.h"
#include "crypto/signer.h"
#include "storage/store.h"

namespace inkan::ceremony {

using Params = std::vector<audit::Field>;

// One kind of ceremony step. `validate` runs when a request is proposed and
// again before execution; `execute` runs inside the execution transaction and
// returns a one-line outcome for the log.
struct OperationSpec {
  std::string name;
  std::string summary;
  std::function<absl::Status(const Params&)> validate;
  std::function<absl::StatusOr<std::string>(
      storage::Transaction&, const Params&, absl::string_view actor)>
      execute;
  // (`execute` may be left empty when `execute_with_inputs` is set.)
  // For operations that need secrets brought to the execution (custodians'
  // shares for a rekey) or hand secrets out of it (printed shares, keyed by
  // recipient; `outputs` is null when the caller cannot take any): used
  // instead of `execute` when set. Neither is stored or logged.
  std::function<absl::StatusOr<std::string>(
      storage::Transaction&, const Params&, absl::string_view actor,
      const std::vector<SecretBytes>& inputs,
      std::map<std::string, SecretBytes>* outputs)>
      execute_with_inputs;
};

// What `inkan ceremony status` shows.
struct RequestStatus {
  storage::CeremonyRequestRecord request;
  Params params;
  std::vector<std::string>
      approved_by;  // distinct active operators, valid signatures
  int quorum = 0;
  bool expired = false;
  bool stale = false;  // the configuration changed since it was proposed
};

// A parameter's value as text (integers in decimal, booleans as true/false),
// or nullopt if the request has no such parameter.
std::optional<std::string> FindParam(const Params& params,
                                     absl::string_view key);

// The message an operator signs to cancel request `id`.
std::string CancelMessage(absl::string_view id);

// OK if `signature` by the key `spki_der` (P-256 ECDSA/SHA-256 DER, or
// Ed25519) is valid over `message`. InvalidArgument for another kind of key;
// PermissionDenied for a bad signature.
absl::Status VerifyOperatorSignature(absl::string_view spki_der,
                                     absl::string_view message,
                                     absl::string_view signature);

class Ceremonies {
 public:
  Ceremonies(storage::Store& store, const audit::AuditLog& log,
             const Clock& clock);

  // Registers an operation (at start-up). The core ones (operator.add,
  // operator.remove, quorum.set, policy.set, credential.unlock, user.unlock)
  // are registered by the constructor.
  void Register(OperationSpec spec);
  // The audit key's public half (pinned at init). When set, every execution
  // first verifies the whole log and refuses to run on a log that is not
  // intact. Must outlive this object.
  void SetAuditKey(const crypto::Verifier* audit_key) {
    audit_key_ = audit_key;
  }
  std::vector<std::string> OperationNames() const;

  // The quorum size k (meta "ceremony.quorum", default 2).
  absl::StatusOr<int> Quorum();
  absl::StatusOr<std::vector<storage::OperatorRecord>> Operators();

  // Adds an operator directly while fewer than k are active (bootstrap).
  // FailedPrecondition afterwards (propose operator.add instead);
  // InvalidArgument for a bad name or a key that is not P-256/Ed25519.
  absl::Status AddOperatorBootstrap(absl::string_view name,
                                    absl::string_view spki_der,
                                    absl::string_view actor);

  // Creates a pending request. InvalidArgument for an unknown operation or
  // bad parameters; `proposer` is recorded as given (the proposer's own
  // approval is a separate, signed step).
  absl::StatusOr<storage::CeremonyRequestRecord> Propose(
      absl::string_view operation, const Params& params,
      absl::string_view proposer, absl::Duration ttl);

  // Records `operator_name`'s signature over the request. NotFound for an
  // unknown request; FailedPrecondition if it is not pending, has expired or
  // its configuration is stale; PermissionDenied for a non-operator or a bad
  // signature; AlreadyExists for a second approval by the same operator.
  // Refusals are logged too.
  absl::Status Approve(absl::string_view id, absl::string_view operator_name,
                       absl::string_view signature);

  // Cancels a pending request; needs one operator's signature over
  // CancelMessage(id). Errors as for Approve.
  absl::Status Cancel(absl::string_view id, absl::string_view operator_name,
                      absl::string_view signature);

  absl::StatusOr<RequestStatus> Status(absl::string_view id);

  // Runs the request's operation if k distinct active operators approved it,
  // before expiry, under the configuration it names. Returns the outcome.
  // FailedPrecondition (logged) when any of that does not hold, or when it
  // already ran.
  // `inputs` (e.g. custodians' shares) go to operations that take them.
  absl::StatusOr<std::string> Execute(
      absl::string_view id, absl::string_view actor,
      const std::vector<SecretBytes>& inputs = {},
      std::map<std::string, SecretBytes>* outputs = nullptr);

 private:
  struct Checked {
    storage::CeremonyRequestRecord request;
    std::map<std::string, std::string> header;  // the request's own fields
    Params params;
  };
  // Reads and re-checks a request inside `tx` (id = SHA-256 of canonical,
  // this log's id).
  absl::StatusOr<Checked> Load(storage::Transaction& tx, absl::string_view id);
  absl::StatusOr<std::vector<std::string>> ValidApprovers(
      storage::Transaction& tx, const Checked& req);
  // OK if the request is pending, not expired, and the configuration is the
  // one it names; FailedPrecondition saying which is not so.
  absl::Status CheckOpen(storage::Transaction& tx, Checked& checked);
  // Verifies the log (when the audit key is set), then calls fn on every
  // entry in order.
  absl::Status ScanLog(storage::Transaction& tx,
                       absl::FunctionRef<void(const audit::Entry&)> fn);
  absl::Status CheckNeverClosed(storage::Transaction& tx, absl::string_view id);
  absl::Status Refuse(absl::string_view event, absl::string_view id,
                      absl::string_view who, const absl::Status& why);
  const OperationSpec* Find(absl::string_view operation) const;

  storage::Store& store_;
  const audit::AuditLog& log_;
  const Clock& clock_;
  std::map<std::string, OperationSpec, std::less<>> ops_;
  const crypto::Verifier* audit_key_ = nullptr;  // not owned
};

// SHA-256 (hex) of the configuration a request is made under: the quorum,
// the active operators and their keys, and the policy.
absl::StatusOr<std::string> ConfigHash(storage::Transaction& tx);

}  // namespace inkan::ceremony

#endif  // INKAN_CEREMONY_QUORUM_H_
