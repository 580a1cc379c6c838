#include "ceremony/quorum.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/canonical_json.h"
#include "audit/verifier.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "crypto/signer.h"
#include "sam/credential_service.h"

namespace inkan::ceremony {
namespace {

using audit::Event;
using audit::Field;

constexpr absl::string_view kQuorumKey = "ceremony.quorum";
constexpr absl::string_view kRequestType = "inkan.ceremony.request.v1";
constexpr absl::string_view kParamPrefix = "p.";
constexpr int kDefaultQuorum = 2;

std::string TimeText(absl::Time t) { return FormatRfc3339(t); }

absl::StatusOr<absl::Time> ParseTimeText(absl::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
    return absl::DataLossError(absl::StrCat("bad time in request: ", err));
  }
  return t;
}

std::string ValueText(const Field& f) {
  if (auto* s = std::get_if<std::string>(&f.value)) return *s;
  if (auto* i = std::get_if<int64_t>(&f.value)) return absl::StrCat(*i);
  return std::get<bool>(f.value) ? "true" : "false";
}

absl::StatusOr<std::string> Param(const Params& params, absl::string_view key) {
  std::optional<std::string> v = FindParam(params, key);
  if (!v)
    return absl::InvalidArgumentError(
        absl::StrCat("parameter '", key, "' is required"));
  return *v;
}

absl::Status ValidateOperatorName(absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(
        "an operator name has 1 to 64 characters");
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_' && c != '.') {
      return absl::InvalidArgumentError(
          "an operator name uses letters, digits, '-', '_' and '.' only");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::SignatureScheme> OperatorScheme(absl::string_view spki) {
  for (crypto::SignatureScheme scheme :
       {crypto::SignatureScheme{crypto::KeyAlgorithm::kEcP256,
                                crypto::HashAlgorithm::kSha256},
        crypto::SignatureScheme{crypto::KeyAlgorithm::kEd25519,
                                crypto::HashAlgorithm::kSha256}}) {
    if (crypto::NewVerifier(spki, scheme).ok()) return scheme;
  }
  return absl::InvalidArgumentError(
      "an operator key must be an ECDSA P-256 or Ed25519 public key (DER "
      "SubjectPublicKeyInfo)");
}

absl::StatusOr<int> ReadQuorum(storage::Transaction& tx) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, tx.GetMeta(kQuorumKey));
  if (!v) return kDefaultQuorum;
  int k;
  if (!absl::SimpleAtoi(*v, &k) || k < 1)
    return absl::DataLossError("stored quorum is unusable");
  return k;
}

absl::StatusOr<std::vector<storage::OperatorRecord>> ActiveOperators(
    storage::Transaction& tx) {
  ASSIGN_OR_RETURN(auto all, tx.ListOperators());
  std::vector<storage::OperatorRecord> active;
  for (auto& op : all) {
    if (op.active) active.push_back(std::move(op));
  }
  return active;
}

// ---- The core operations
// ------------------------------------------------------

absl::Status InsertOperator(storage::Transaction& tx,
                            const audit::AuditLog& log, absl::string_view name,
                            absl::string_view spki, absl::string_view actor,
                            absl::string_view mode, absl::Time now) {
  RETURN_IF_ERROR(ValidateOperatorName(name));
  RETURN_IF_ERROR(OperatorScheme(spki).status());
  RETURN_IF_ERROR(
      tx.InsertOperator({std::string(name), std::string(spki), now, true}));
  return log.Append(
      tx, Event{"operator.add",
                {{"actor", std::string(actor)},
                 {"operator", std::string(name)},
                 {"public_key_sha256", HexEncode(crypto::Sha256(spki))},
                 {"mode", std::string(mode)}}});
}

std::vector<OperationSpec> CoreOperations(const audit::AuditLog& log,
                                          const Clock& clock) {
  auto key_param = [](const Params& p) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::string b64, Param(p, "public_key"));
    auto der = Base64Decode(b64);
    if (!der.ok())
      return absl::InvalidArgumentError("public_key must be base64 DER");
    RETURN_IF_ERROR(OperatorScheme(*der).status());
    return *der;
  };
  std::vector<OperationSpec> ops;
  ops.push_back({"operator.add",
                 "register an operator: name, public_key (base64 DER SPKI)",
                 [=](const Params& p) -> absl::Status {
                   ASSIGN_OR_RETURN(std::string name, Param(p, "name"));
                   RETURN_IF_ERROR(ValidateOperatorName(name));
                   return key_param(p).status();
                 },
                 [=, &log, &clock](
                     storage::Transaction& tx, const Params& p,
                     absl::string_view actor) -> absl::StatusOr<std::string> {
                   ASSIGN_OR_RETURN(std::string name, Param(p, "name"));
                   ASSIGN_OR_RETURN(std::string spki, key_param(p));
                   RETURN_IF_ERROR(InsertOperator(tx, log, name, spki, actor,
                                                  "ceremony", clock.Now()));
                   return absl::StrCat("operator ", name, " added");
                 }});
  ops.push_back(
      {"operator.remove",
       "retire an operator: name (the quorum must stay reachable)",
       [](const Params& p) { return Param(p, "name").status(); },
       [&log](storage::Transaction& tx, const Params& p,
              absl::string_view actor) -> absl::StatusOr<std::string> {
         ASSIGN_OR_RETURN(std::string name, Param(p, "name"));
         ASSIGN_OR_RETURN(storage::OperatorRecord op, tx.GetOperator(name));
         if (!op.active)
           return absl::FailedPreconditionError(name + " is already removed");
         ASSIGN_OR_RETURN(auto active, ActiveOperators(tx));
         ASSIGN_OR_RETURN(int k, ReadQuorum(tx));
         if (static_cast<int>(active.size()) - 1 < k) {
           return absl::FailedPreconditionError(absl::StrCat(
               "removing ", name, " would leave ", active.size() - 1,
               " operators, fewer than the quorum of ", k,
               ": lower the quorum first"));
         }
         RETURN_IF_ERROR(tx.SetOperatorActive(name, false));
         RETURN_IF_ERROR(log.Append(
             tx, Event{"operator.remove",
                       {{"actor", std::string(actor)}, {"operator", name}}}));
         return absl::StrCat("operator ", name, " removed");
       }});
  ops.push_back(
      {"quorum.set", "set the quorum k: k (2..number of active operators)",
       [](const Params& p) -> absl::Status {
         ASSIGN_OR_RETURN(std::string k, Param(p, "k"));
         int v;
         if (!absl::SimpleAtoi(k, &v) || v < 2 || v > 255) {
           return absl::InvalidArgumentError(
               "k must be an integer from 2 to 255");
         }
         return absl::OkStatus();
       },
       [&log](storage::Transaction& tx, const Params& p,
              absl::string_view actor) -> absl::StatusOr<std::string> {
         ASSIGN_OR_RETURN(std::string text, Param(p, "k"));
         int k = 0;
         if (!absl::SimpleAtoi(text, &k))
           return absl::InvalidArgumentError("bad k");
         ASSIGN_OR_RETURN(auto active, ActiveOperators(tx));
         if (k > static_cast<int>(active.size())) {
           return absl::FailedPreconditionError(
               absl::StrCat("a quorum of ", k, " needs at least ", k,
                            " operators; there are ", active.size()));
         }
         ASSIGN_OR_RETURN(int old, ReadQuorum(tx));
         RETURN_IF_ERROR(tx.PutMeta(kQuorumKey, absl::StrCat(k)));
         RETURN_IF_ERROR(log.Append(tx, Event{"config.change",
                                              {{"actor", std::string(actor)},
                                               {"key", "quorum"},
                                               {"old", absl::StrCat(old)},
                                               {"new", absl::StrCat(k)}}}));
         return absl::StrCat("quorum set to ", k, " of ", active.size());
       }});
  ops.push_back(
      {"policy.set",
       "change a policy value: key, value (as `inkan config set`)",
       [](const Params& p) -> absl::Status {
         RETURN_IF_ERROR(Param(p, "key").status());
         return Param(p, "value").status();
       },
       [&log](storage::Transaction& tx, const Params& p,
              absl::string_view actor) -> absl::StatusOr<std::string> {
         ASSIGN_OR_RETURN(std::string key, Param(p, "key"));
         ASSIGN_OR_RETURN(std::string value, Param(p, "value"));
         RETURN_IF_ERROR(sam::SetPolicyInTx(tx, log, key, value, actor));
         return absl::StrCat(key, " = ", value);
       }});
  ops.push_back(
      {"credential.unlock", "unlock a credential: credential (id)",
       [](const Params& p) { return Param(p, "credential").status(); },
       [&log](storage::Transaction& tx, const Params& p,
              absl::string_view actor) -> absl::StatusOr<std::string> {
         ASSIGN_OR_RETURN(std::string id, Param(p, "credential"));
         RETURN_IF_ERROR(sam::UnlockCredential(tx, log, id, actor));
         return absl::StrCat("credential ", id, " unlocked");
       }});
  ops.push_back(
      {"user.unlock", "unlock a user's PIN: user (name)",
       [](const Params& p) { return Param(p, "user").status(); },
       [&log](storage::Transaction& tx, const Params& p,
              absl::string_view actor) -> absl::StatusOr<std::string> {
         ASSIGN_OR_RETURN(std::string user, Param(p, "user"));
         RETURN_IF_ERROR(sam::UnlockUserPin(tx, log, user, actor));
         return absl::StrCat("the PIN of user ", user, " unlocked");
       }});
  return ops;
}

}  // namespace

std::optional<std::string> FindParam(const Params& params,
                                     absl::string_view key) {
  for (const Field& f : params) {
    if (f.key == key) return ValueText(f);
  }
  return std::nullopt;
}

std::string CancelMessage(absl::string_view id) {
  return absl::StrCat("inkan.ceremony.cancel.v1:", id);
}

absl::Status VerifyOperatorSignature(absl::string_view spki_der,
                                     absl::string_view message,
                                     absl::string_view signature) {
  ASSIGN_OR_RETURN(crypto::SignatureScheme scheme, OperatorScheme(spki_der));
  ASSIGN_OR_RETURN(auto verifier, crypto::NewVerifier(spki_der, scheme));
  if (!crypto::VerifyMessage(*verifier, scheme, message, signature).ok()) {
    return absl::PermissionDeniedError(
        "the signature does not verify with the operator's key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ConfigHash(storage::Transaction& tx) {
  ASSIGN_OR_RETURN(int k, ReadQuorum(tx));
  ASSIGN_OR_RETURN(auto active, ActiveOperators(tx));
  ASSIGN_OR_RETURN(sam::Policy policy, sam::LoadPolicy(tx));
  std::vector<std::string> ops;
  for (const auto& op : active) {
    ops.push_back(
        absl::StrCat(op.name, "=", HexEncode(crypto::Sha256(op.public_key))));
  }
  // The CA's custody (share split) and profile too: a request proposed before
  // a rekey, restore, destroy or profile change must be proposed again.
  ASSIGN_OR_RETURN(std::optional<std::string> custody,
                   tx.GetMeta("ca.custody"));
  ASSIGN_OR_RETURN(std::optional<std::string> profile,
                   tx.GetMeta("ca.profile"));
  ops.push_back(absl::StrCat("ca.custody=",
                             HexEncode(crypto::Sha256(custody.value_or("")))));
  ops.push_back(absl::StrCat("ca.profile=",
                             HexEncode(crypto::Sha256(profile.value_or("")))));
  ASSIGN_OR_RETURN(
      std::string text,
      audit::CanonicalObject(std::vector<Field>{
          {"quorum", int64_t{k}},
          {"operators", absl::StrJoin(ops, ",")},
          {"policy.max_failed_tries", int64_t{policy.max_failed_tries}},
          {"policy.min_pin_length", int64_t{policy.min_pin_length}},
          {"policy.argon2",
           absl::StrCat(policy.argon2.t_cost, ",", policy.argon2.m_cost_kib,
                        ",", policy.argon2.parallelism)}}));
  return HexEncode(crypto::Sha256(text));
}

Ceremonies::Ceremonies(storage::Store& store, const audit::AuditLog& log,
                       const Clock& clock)
    : store_(store), log_(log), clock_(clock) {
  for (OperationSpec& spec : CoreOperations(log, clock))
    Register(std::move(spec));
}

void Ceremonies::Register(OperationSpec spec) {
  std::string name = spec.name;
  ops_[name] = std::move(spec);
}

std::vector<std::string> Ceremonies::OperationNames() const {
  std::vector<std::string> names;
  for (const auto& [name, spec] : ops_)
    names.push_back(absl::StrCat(name, ": ", spec.summary));
  return names;
}

const OperationSpec* Ceremonies::Find(absl::string_view operation) const {
  auto it = ops_.find(operation);
  return it == ops_.end() ? nullptr : &it->second;
}

absl::StatusOr<int> Ceremonies::Quorum() {
  int k = 0;
  RETURN_IF_ERROR(store_.Transact(storage::TxMode::kReadOnly,
                                  [&](storage::Transaction& tx) {
                                    ASSIGN_OR_RETURN(k, ReadQuorum(tx));
                                    return absl::OkStatus();
                                  }));
  return k;
}

absl::StatusOr<std::vector<storage::OperatorRecord>> Ceremonies::Operators() {
  std::vector<storage::OperatorRecord> ops;
  RETURN_IF_ERROR(store_.Transact(storage::TxMode::kReadOnly,
                                  [&](storage::Transaction& tx) {
                                    ASSIGN_OR_RETURN(ops, tx.ListOperators());
                                    return absl::OkStatus();
                                  }));
  return ops;
}

absl::Status Ceremonies::AddOperatorBootstrap(absl::string_view name,
                                              absl::string_view spki_der,
                                              absl::string_view actor) {
  return audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(int k, ReadQuorum(tx));
        ASSIGN_OR_RETURN(auto active, ActiveOperators(tx));
        // The bootstrap closes for good once k operators were ever added, as
        // the verified log says: deactivating rows in the database does not
        // reopen it.
        int64_t added = 0;
        RETURN_IF_ERROR(ScanLog(tx, [&](const audit::Entry& e) {
          if (e.type == "operator.add") ++added;
        }));
        if (static_cast<int>(active.size()) >= k || added >= k) {
          return absl::FailedPreconditionError(absl::StrCat(
              "the quorum of ", k,
              " operators is complete: adding an operator is now a ceremony "
              "(inkan ceremony propose operator.add --param name=",
              name, " --param public_key=<base64 DER>)"));
        }
        return InsertOperator(tx, log_, name, spki_der, actor, "bootstrap",
                              clock_.Now());
      });
}

absl::StatusOr<storage::CeremonyRequestRecord> Ceremonies::Propose(
    absl::string_view operation, const Params& params,
    absl::string_view proposer, absl::Duration ttl) {
  const OperationSpec* spec = Find(operation);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown ceremony operation '", operation,
                     "'; known: ", absl::StrJoin(OperationNames(), "; ")));
  }
  RETURN_IF_ERROR(spec->validate(params));
  if (ttl <= absl::ZeroDuration() || ttl > absl::Hours(24 * 30)) {
    return absl::InvalidArgumentError(
        "a request lives from 1 second to 30 days");
  }
  ASSIGN_OR_RETURN(std::string nonce, RandomHexId(16));
  storage::CeremonyRequestRecord req;
  RETURN_IF_ERROR(audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(std::string config, ConfigHash(tx));
        absl::Time now = clock_.Now();
        // Whole microseconds, as the canonical text carries them.
        now = absl::FromUnixMicros(absl::ToUnixMicros(now));
        std::vector<Field> fields = {{"type", std::string(kRequestType)},
                                     {"log", log_.log_id()},
                                     {"operation", std::string(operation)},
                                     {"proposer", std::string(proposer)},
                                     {"nonce", nonce},
                                     {"created", TimeText(now)},
                                     {"expires", TimeText(now + ttl)},
                                     {"config", config}};
        for (const Field& p : params) {
          fields.push_back({absl::StrCat(kParamPrefix, p.key), p.value});
        }
        ASSIGN_OR_RETURN(req.canonical, audit::CanonicalObject(fields));
        req.id = HexEncode(crypto::Sha256(req.canonical));
        req.operation = std::string(operation);
        req.proposer = std::string(proposer);
        req.created = now;
        req.expires = now + ttl;
        RETURN_IF_ERROR(tx.InsertCeremonyRequest(req));
        return log_.Append(tx, Event{"ceremony.propose",
                                     {{"request", req.id},
                                      {"operation", req.operation},
                                      {"proposer", req.proposer},
                                      {"expires", TimeText(req.expires)}}});
      }));
  return req;
}

absl::StatusOr<Ceremonies::Checked> Ceremonies::Load(storage::Transaction& tx,
                                                     absl::string_view id) {
  Checked c;
  ASSIGN_OR_RETURN(c.request, tx.GetCeremonyRequest(id));
  if (HexEncode(crypto::Sha256(c.request.canonical)) != c.request.id) {
    return absl::DataLossError(
        absl::StrCat("request ", id, " does not match its id"));
  }
  ASSIGN_OR_RETURN(std::vector<Field> fields,
                   audit::ParseFlatObject(c.request.canonical));
  for (Field& f : fields) {
    if (absl::StartsWith(f.key, kParamPrefix)) {
      f.key = f.key.substr(kParamPrefix.size());
      c.params.push_back(std::move(f));
    } else {
      c.header[f.key] = ValueText(f);
    }
  }
  // The columns are conveniences; the signed text is the request. A row whose
  // columns disagree with its text was edited.
  if (c.header["operation"] != c.request.operation ||
      c.header["proposer"] != c.request.proposer) {
    return absl::DataLossError(
        absl::StrCat("request ", id,
                     " does not match its signed text (the row was edited)"));
  }
  if (c.header["type"] != kRequestType || c.header["log"] != log_.log_id()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "request ", id, " is not a ceremony request of this instance"));
  }
  return c;
}

absl::StatusOr<std::vector<std::string>> Ceremonies::ValidApprovers(
    storage::Transaction& tx, const Checked& req) {
  ASSIGN_OR_RETURN(auto approvals, tx.ListApprovals(req.request.id));
  std::vector<std::string> names;
  for (const auto& a : approvals) {
    auto op = tx.GetOperator(a.operator_name);
    if (!op.ok() || !op->active) continue;
    if (!VerifyOperatorSignature(op->public_key, req.request.canonical,
                                 a.signature)
             .ok()) {
      continue;
    }
    if (std::find(names.begin(), names.end(), a.operator_name) == names.end()) {
      names.push_back(a.operator_name);
    }
  }
  return names;
}

absl::Status Ceremonies::CheckOpen(storage::Transaction& tx, Checked& checked) {
  const auto& req = checked.request;
  if (req.state != "pending") {
    return absl::FailedPreconditionError(
        absl::StrCat("request ", req.id, " is ", req.state,
                     " (a request runs at most once)"));
  }
  ASSIGN_OR_RETURN(absl::Time expires,
                   ParseTimeText(checked.header["expires"]));
  if (clock_.Now() >= expires) {
    return absl::FailedPreconditionError(
        absl::StrCat("request ", req.id, " has expired"));
  }
  ASSIGN_OR_RETURN(std::string config, ConfigHash(tx));
  if (config != checked.header["config"]) {
    return absl::FailedPreconditionError(
        absl::StrCat("the configuration changed since request ", req.id,
                     " was proposed: propose it again"));
  }
  return absl::OkStatus();
}

absl::Status Ceremonies::ScanLog(
    storage::Transaction& tx, absl::FunctionRef<void(const audit::Entry&)> fn) {
  if (audit_key_ != nullptr) {
    ASSIGN_OR_RETURN(audit::VerifyReport report,
                     audit::VerifyLog(tx, *audit_key_, log_.log_id()));
    if (!report.ok) {
      return absl::DataLossError(
          absl::StrCat("the audit log is not intact (", report.problem,
                       "): no ceremony runs until it is"));
    }
  }
  constexpr int64_t kBatch = 1000;
  for (int64_t from = 1;; from += kBatch) {
    ASSIGN_OR_RETURN(auto rows, tx.ReadAuditEntries(from, kBatch));
    for (const auto& row : rows) {
      auto entry = audit::ParseEntry(row.entry);
      if (entry.ok()) fn(*entry);
    }
    if (static_cast<int64_t>(rows.size()) < kBatch) break;
  }
  return absl::OkStatus();
}

absl::Status Ceremonies::CheckNeverClosed(storage::Transaction& tx,
                                          absl::string_view id) {
  std::string found;
  RETURN_IF_ERROR(ScanLog(tx, [&](const audit::Entry& e) {
    if (!found.empty() ||
        (e.type != "ceremony.execute" && e.type != "ceremony.cancel"))
      return;
    for (const Field& f : e.data) {
      const std::string* v = std::get_if<std::string>(&f.value);
      if (f.key == "request" && v != nullptr && *v == id) {
        found = absl::StrCat(e.type.substr(9), "d already (entry ", e.seq, ")");
      }
    }
  }));
  if (!found.empty()) {
    return absl::DataLossError(
        absl::StrCat("the audit log records request ", id, " as ", found,
                     ", but its row says pending: the row was edited"));
  }
  return absl::OkStatus();
}

absl::Status Ceremonies::Refuse(absl::string_view event, absl::string_view id,
                                absl::string_view who,
                                const absl::Status& why) {
  absl::Status logged =
      audit::RunAudited(store_, log_, [&](storage::Transaction& tx) {
        return log_.Append(tx, Event{std::string(event),
                                     {{"request", std::string(id)},
                                      {"by", std::string(who)},
                                      {"reason", std::string(why.message())}}});
      });
  return logged.ok() ? why : logged;
}

absl::Status Ceremonies::Approve(absl::string_view id,
                                 absl::string_view operator_name,
                                 absl::string_view signature) {
  absl::Status outcome;
  absl::Status st = audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        outcome = [&]() -> absl::Status {
          ASSIGN_OR_RETURN(Checked checked, Load(tx, id));
          const auto& req = checked.request;
          RETURN_IF_ERROR(CheckOpen(tx, checked));
          auto op = tx.GetOperator(operator_name);
          if (!op.ok() || !op->active) {
            return absl::PermissionDeniedError(absl::StrCat(
                "'", operator_name, "' is not an active operator"));
          }
          RETURN_IF_ERROR(VerifyOperatorSignature(op->public_key, req.canonical,
                                                  signature));
          RETURN_IF_ERROR(
              tx.InsertApproval({req.id, std::string(operator_name),
                                 std::string(signature), clock_.Now()}));
          ASSIGN_OR_RETURN(auto approvers, ValidApprovers(tx, checked));
          ASSIGN_OR_RETURN(int k, ReadQuorum(tx));
          return log_.Append(
              tx, Event{"ceremony.approve",
                        {{"request", req.id},
                         {"operation", req.operation},
                         {"operator", std::string(operator_name)},
                         {"approvals", static_cast<int64_t>(approvers.size())},
                         {"quorum", int64_t{k}}}});
        }();
        // A refused approval rolls back here and is recorded on its own below.
        return outcome.ok() ? absl::OkStatus() : absl::AbortedError("refused");
      });
  if (!outcome.ok())
    return Refuse("ceremony.approve.refused", id, operator_name, outcome);
  return st;
}

absl::Status Ceremonies::Cancel(absl::string_view id,
                                absl::string_view operator_name,
                                absl::string_view signature) {
  absl::Status outcome;
  absl::Status st = audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        outcome = [&]() -> absl::Status {
          ASSIGN_OR_RETURN(Checked checked, Load(tx, id));
          if (checked.request.state != "pending") {
            return absl::FailedPreconditionError(
                absl::StrCat("request ", id, " is ", checked.request.state));
          }
          auto op = tx.GetOperator(operator_name);
          if (!op.ok() || !op->active) {
            return absl::PermissionDeniedError(absl::StrCat(
                "'", operator_name, "' is not an active operator"));
          }
          RETURN_IF_ERROR(VerifyOperatorSignature(
              op->public_key, CancelMessage(id), signature));
          RETURN_IF_ERROR(tx.CloseCeremonyRequest(
              id, "cancelled", clock_.Now(),
              absl::StrCat("cancelled by ", operator_name)));
          return log_.Append(tx,
                             Event{"ceremony.cancel",
                                   {{"request", std::string(id)},
                                    {"operator", std::string(operator_name)}}});
        }();
        return outcome.ok() ? absl::OkStatus() : absl::AbortedError("refused");
      });
  if (!outcome.ok())
    return Refuse("ceremony.cancel.refused", id, operator_name, outcome);
  return st;
}

absl::StatusOr<RequestStatus> Ceremonies::Status(absl::string_view id) {
  RequestStatus out;
  RETURN_IF_ERROR(store_.Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(Checked checked, Load(tx, id));
        out.request = checked.request;
        out.params = checked.params;
        ASSIGN_OR_RETURN(out.approved_by, ValidApprovers(tx, checked));
        ASSIGN_OR_RETURN(out.quorum, ReadQuorum(tx));
        ASSIGN_OR_RETURN(absl::Time expires,
                         ParseTimeText(checked.header["expires"]));
        out.expired = clock_.Now() >= expires;
        ASSIGN_OR_RETURN(std::string config, ConfigHash(tx));
        out.stale = config != checked.header["config"];
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<std::string> Ceremonies::Execute(
    absl::string_view id, absl::string_view actor,
    const std::vector<SecretBytes>& inputs,
    std::map<std::string, SecretBytes>* outputs) {
  absl::Status outcome;
  std::string result;
  absl::Status st = audit::RunAudited(
      store_, log_, [&](storage::Transaction& tx) -> absl::Status {
        outcome = [&]() -> absl::Status {
          ASSIGN_OR_RETURN(Checked checked, Load(tx, id));
          const auto& req = checked.request;
          RETURN_IF_ERROR(CheckOpen(tx, checked));
          ASSIGN_OR_RETURN(auto approvers, ValidApprovers(tx, checked));
          ASSIGN_OR_RETURN(int k, ReadQuorum(tx));
          if (static_cast<int>(approvers.size()) < k) {
            return absl::FailedPreconditionError(
                absl::StrCat("request ", id, " has ", approvers.size(),
                             " of the ", k, " approvals it needs"));
          }
          // Run-once does not rest on the state column alone: the verified
          // log must not already record this request's execution or
          // cancellation.
          RETURN_IF_ERROR(CheckNeverClosed(tx, id));
          const OperationSpec* spec = Find(checked.header["operation"]);
          if (spec == nullptr) {
            return absl::FailedPreconditionError(absl::StrCat(
                "this inkan does not know operation ", req.operation));
          }
          RETURN_IF_ERROR(spec->validate(checked.params));
          if (spec->execute_with_inputs) {
            ASSIGN_OR_RETURN(
                result, spec->execute_with_inputs(tx, checked.params, actor,
                                                  inputs, outputs));
          } else if (!inputs.empty()) {
            return absl::InvalidArgumentError(absl::StrCat(
                req.operation, " takes no shares or other inputs"));
          } else if (!spec->execute) {
            return absl::InternalError(
                absl::StrCat(req.operation, " has no way to run"));
          } else {
            ASSIGN_OR_RETURN(result, spec->execute(tx, checked.params, actor));
          }
          RETURN_IF_ERROR(
              tx.CloseCeremonyRequest(id, "executed", clock_.Now(), result));
          return log_.Append(
              tx, Event{"ceremony.execute",
                        {{"request", req.id},
                         {"operation", req.operation},
                         {"approved_by", absl::StrJoin(approvers, ",")},
                         {"actor", std::string(actor)},
                         {"outcome", result}}});
        }();
        return outcome.ok() ? absl::OkStatus() : absl::AbortedError("refused");
      });
  if (!outcome.ok())
    return Refuse("ceremony.execute.refused", id, actor, outcome);
  RETURN_IF_ERROR(st);
  return result;
}

}  // namespace inkan::ceremony
