#include "cli/commands.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "api/ocsp_server.h"
#include "audit/canonical_json.h"
#include "audit/verifier.h"
#include "backup/schedule.h"
#include "ca/certificate.h"
#include "ceremony/sealed_share.h"
#include "ceremony/share_codec.h"
#include "cli/pin_input.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "crypto/pem.h"
#include "crypto/signature_format.h"
#include "crypto/software_signer.h"
#include "crypto/ssl_ptr.h"
#include "hsm/software_key_store.h"
#include "sam/authorization.h"
#include "server/control.h"
#include "server/instance.h"
#include "server/service.h"

namespace inkan::cli {
namespace {

using server::Instance;

sam::Context CliContext() { return {"cli"}; }

absl::StatusOr<std::unique_ptr<Instance>> OpenData(const std::string& data) {
  return Instance::Open(data);
}

void Out(absl::string_view s) { std::cout << s << "\n"; }

// The running service's answer to a control request (the CA key active
// there stands in for the shares).
absl::StatusOr<server::ControlFields> AskService(const std::string& data,
                                                 server::ControlFields req) {
  if (data.empty())
    return absl::InvalidArgumentError(
        "no data directory given (--data or INKAN_DATA)");
  req["actor"] = "cli";
  auto r = server::CallControl(server::Service::ControlPath(data), req);
  if (absl::IsUnavailable(r.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        r.status().message(),
        ": give k custodians' --share files, or activate the CA key in the "
        "service (inkan serve; inkan ca activate)"));
  }
  return r;
}

void PrintActivation(server::ControlFields& s) {
  if (s["active"] == "yes") {
    Out(absl::StrCat("CA key in the service: ACTIVE until ", s["until"]));
  } else if (s["have"] != "0" && !s["have"].empty()) {
    Out(absl::StrCat("CA key in the service: inactive; ", s["have"], " of ",
                     s["need"], " shares entered (", s["entered_by"], ")"));
  } else {
    Out("CA key in the service: inactive");
  }
}

}  // namespace

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kDataLoss:
      return 1;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 2;
    case absl::StatusCode::kNotFound:
      return 3;
    case absl::StatusCode::kAlreadyExists:
      return 4;
    case absl::StatusCode::kUnauthenticated:
      return 5;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kResourceExhausted:
      return 6;
    case absl::StatusCode::kFailedPrecondition:
      return 7;
    case absl::StatusCode::kUnavailable:
      return 8;
    case absl::StatusCode::kUnimplemented:
      return 9;
    default:
      return 10;
  }
}

absl::Status Init(const InitArgs& args) {
  server::InitOptions opts;
  opts.quorum = args.quorum;
  opts.use_existing_keys = args.use_existing_keys;
  opts.backend = args.backend;
  opts.pkcs11_module = args.pkcs11_module;
  opts.token_label = args.token_label;
  opts.pin_file = args.pin_file;
  for (const std::string& kv : args.policy) {
    std::pair<std::string, std::string> p =
        absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.second.empty())
      return absl::InvalidArgumentError("--policy takes KEY=VALUE");
    opts.policy[p.first] = p.second;
  }
  RETURN_IF_ERROR(Instance::Init(args.data, opts));
  ASSIGN_OR_RETURN(auto inst, OpenData(args.data));
  Out(absl::StrCat(
      "initialised ", args.data, " (backend ", inst->keys().backend(),
      inst->keys().provisional() ? ", PROVISIONAL: keys are not in an HSM" : "",
      "; audit log ", inst->log_id(), ")"));
  return absl::OkStatus();
}

absl::Status UserAdd(const std::string& data, const std::string& name) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(SecretBytes pin,
                   ReadPin(absl::StrCat("PIN for ", name, ": "), true));
  ASSIGN_OR_RETURN(int64_t id,
                   inst->credentials().AddUser(name, pin, CliContext()));
  Out(absl::StrCat("user ", name, " added (id ", id, ")"));
  return absl::OkStatus();
}

absl::Status UserList(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  return inst->store().Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(auto users, tx.ListUsers());
        for (const auto& u : users)
          Out(absl::StrCat(u.id, "\t", u.name, "\t", FormatRfc3339(u.created)));
        return absl::OkStatus();
      });
}

absl::Status CredentialCreate(const std::string& data, const std::string& user,
                              const std::string& alg_name, int scal) {
  if (scal != 1 && scal != 2)
    return absl::InvalidArgumentError("--scal is 1 or 2");
  ASSIGN_OR_RETURN(crypto::KeyAlgorithm alg,
                   crypto::ParseKeyAlgorithm(alg_name));
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(SecretBytes pin,
                   ReadPin(absl::StrCat("PIN for ", user, ": "), false));
  ASSIGN_OR_RETURN(
      std::string id,
      inst->credentials().CreateCredential(
          user, alg, {std::move(pin), SecretBytes()}, CliContext()));
  if (scal != 2) {
    RETURN_IF_ERROR(
        sam::SetScal(inst->store(), inst->log(), id, scal, CliContext()));
  }
  if (inst->keys().provisional()) {
    std::cerr << "warning: credential " << id
              << " is PROVISIONAL (software key store, not an HSM)\n";
  }
  Out(id);
  return absl::OkStatus();
}

absl::Status ClientAdd(const std::string& data, const std::string& id,
                       const std::vector<std::string>& redirect_uris,
                       const std::string& secret_file) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  storage::ClientRecord c;
  c.client_id = id;
  c.name = id;
  c.redirect_uris = redirect_uris;
  c.created = absl::Now();
  if (!secret_file.empty()) {
    ASSIGN_OR_RETURN(SecretBytes secret, ReadSecretFile(secret_file));
    std::string text(absl::StripTrailingAsciiWhitespace(secret.RevealString()));
    c.secret_hash = HexEncode(crypto::Sha256(text));
    CleanseMemory(text.data(), text.size());
  }
  RETURN_IF_ERROR(sam::AddClient(inst->store(), inst->log(), c, CliContext()));
  Out(absl::StrCat("client ", id, " registered (",
                   c.secret_hash.empty() ? "public: PKCE only" : "confidential",
                   ")"));
  return absl::OkStatus();
}

absl::Status ClientList(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  return inst->store().Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(auto clients, tx.ListClients());
        for (const auto& c : clients) {
          Out(absl::StrCat(c.client_id, c.active ? "" : " (removed)",
                           c.secret_hash.empty() ? " public" : " confidential",
                           " ", absl::StrJoin(c.redirect_uris, " ")));
        }
        return absl::OkStatus();
      });
}

absl::Status TotpEnroll(const std::string& data, const std::string& user,
                        const std::string& issuer) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(SecretBytes pin,
                   ReadPin(absl::StrCat("PIN for ", user, ": "), false));
  ASSIGN_OR_RETURN(std::string uri, inst->credentials().EnrollTotp(
                                        user, pin, issuer, CliContext()));
  // Shown once, for the user's authenticator app (as a QR code or typed in).
  Out(uri);
  CleanseMemory(uri.data(), uri.size());
  return absl::OkStatus();
}

absl::Status CredentialSign(const std::string& data, const std::string& id,
                            const std::string& hash_hex,
                            const std::string& hash_alg, bool pss) {
  ASSIGN_OR_RETURN(crypto::HashAlgorithm hash,
                   crypto::ParseHashAlgorithm(hash_alg));
  auto digest = HexDecode(hash_hex);
  if (!digest.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--hash: ", digest.status().message()));
  if (digest->size() != crypto::DigestLength(hash)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--hash must be ", crypto::DigestLength(hash), " bytes (",
        2 * crypto::DigestLength(hash), " hex digits) for ", hash_alg));
  }
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(SecretBytes pin, ReadPin("PIN: ", false));
  ASSIGN_OR_RETURN(
      std::string sig,
      inst->credentials().SignDigest(
          id, {std::move(pin), SecretBytes()}, hash,
          pss ? crypto::RsaPadding::kPss : crypto::RsaPadding::kPkcs1, *digest,
          CliContext()));
  Out(Base64Encode(sig));
  return absl::OkStatus();
}

absl::Status CredentialList(const std::string& data, const std::string& user) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  return inst->store().Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(auto owner, tx.GetUserByName(user));
        ASSIGN_OR_RETURN(auto creds, tx.ListCredentials(owner.id));
        for (const auto& c : creds) {
          Out(absl::StrCat(c.id, "\t", c.algorithm, "\t", c.backend,
                           c.backend == "software" ? " (provisional)" : "",
                           c.locked ? "\tLOCKED" : "\tactive"));
        }
        return absl::OkStatus();
      });
}

absl::Status CredentialShow(const std::string& data, const std::string& id) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  return inst->store().Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto c, tx.GetCredential(id));
        ASSIGN_OR_RETURN(auto owner, tx.GetUserById(c.user_id));
        ASSIGN_OR_RETURN(std::string pem, crypto::SpkiDerToPem(c.public_key));
        Out(absl::StrCat("id: ", c.id, "\nuser: ", owner.name,
                         "\nalgorithm: ", c.algorithm, "\nbackend: ", c.backend,
                         c.backend == "software" ? " (PROVISIONAL)" : "",
                         "\nstate: ", c.locked ? "locked" : "active",
                         "\nfailed_tries: ", c.failed_tries,
                         "\ncreated: ", FormatRfc3339(c.created)));
        std::cout << pem;
        return absl::OkStatus();
      });
}

absl::Status AuditVerify(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string key_der, inst->PinnedAuditKeyDer());
  ASSIGN_OR_RETURN(
      auto verifier,
      crypto::NewVerifier(key_der, {crypto::KeyAlgorithm::kEcP256,
                                    crypto::HashAlgorithm::kSha256}));
  audit::VerifyReport report;
  RETURN_IF_ERROR(inst->store().Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(report,
                         audit::VerifyLog(tx, *verifier, inst->log_id()));
        return absl::OkStatus();
      }));
  if (!report.ok) {
    return absl::DataLossError(
        absl::StrCat("audit log NOT intact: ", report.problem,
                     " (first bad entry: ", report.first_bad_seq, ")"));
  }
  Out(absl::StrCat("audit log intact: ", report.entries, " entries, ",
                   report.checkpoints, " signed checkpoints, log ",
                   inst->log_id()));
  if (report.pruned > 0) {
    Out(absl::StrCat("entries 1..", report.pruned,
                     " were pruned after their retention period (their hashes "
                     "remain, and the tree still verifies)"));
  }
  return absl::OkStatus();
}

absl::Status AuditShow(const std::string& data, int64_t from, int64_t count) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  return inst->store().Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(auto rows, tx.ReadAuditEntries(from, count));
        for (const auto& r : rows) Out(r.entry);
        return absl::OkStatus();
      });
}

absl::Status ConfigSet(const std::string& data, const std::string& key,
                       const std::string& value) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(int k, inst->ceremonies().Quorum());
  ASSIGN_OR_RETURN(auto ops, inst->ceremonies().Operators());
  if (std::count_if(ops.begin(), ops.end(),
                    [](const auto& o) { return o.active; }) >= k) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the operators' quorum is in place: policy changes are a ceremony now "
        "(inkan ceremony propose policy.set --param key=",
        key, " --param value=", value, " ...)"));
  }
  RETURN_IF_ERROR(
      sam::SetPolicy(inst->store(), inst->log(), key, value, "cli"));
  Out(absl::StrCat(key, " = ", value));
  return absl::OkStatus();
}

absl::Status ConfigShow(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  return inst->store().Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(sam::Policy p, sam::LoadPolicy(tx));
        Out(absl::StrCat("max_failed_tries = ", p.max_failed_tries));
        Out(absl::StrCat("argon2.t_cost = ", p.argon2.t_cost));
        Out(absl::StrCat("argon2.m_cost_kib = ", p.argon2.m_cost_kib));
        Out(absl::StrCat("argon2.parallelism = ", p.argon2.parallelism));
        return absl::OkStatus();
      });
}

absl::Status Status(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  RETURN_IF_ERROR(inst->store().Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(auto users, tx.ListUsers());
        ASSIGN_OR_RETURN(int64_t entries, tx.AuditEntryCount());
        ASSIGN_OR_RETURN(auto latest, tx.LatestCheckpoint());
        ASSIGN_OR_RETURN(auto pending,
                         tx.ListCeremonyRequests("pending", 1000));
        Out(absl::StrCat("data: ", inst->dir()));
        Out(absl::StrCat("backend: ", inst->keys().backend(),
                         inst->keys().provisional() ? " (PROVISIONAL)" : ""));
        Out(absl::StrCat("users: ", users.size()));
        Out(absl::StrCat("audit log: ", inst->log_id(), ", ", entries,
                         " entries, latest checkpoint at size ",
                         latest ? latest->tree_size : 0));
        Out(absl::StrCat("pending ceremonies: ", pending.size()));
        absl::Time now = RealClock().Now();
        absl::StatusOr<backup::BackupDue> due = backup::LoadBackupDue(tx, now);
        Out(due.ok()
                ? backup::FormatBackupDue(*due, now)
                : absl::StrCat("backups: UNKNOWN: ", due.status().message()));
        return absl::OkStatus();
      }));
  ASSIGN_OR_RETURN(int k, inst->ceremonies().Quorum());
  ASSIGN_OR_RETURN(auto ops, inst->ceremonies().Operators());
  int64_t active = std::count_if(ops.begin(), ops.end(),
                                 [](const auto& o) { return o.active; });
  Out(absl::StrCat(
      "operators: ", active, " active, quorum ", k,
      active < k ? " (bootstrap: add operators with inkan operator add)" : ""));
  ASSIGN_OR_RETURN(ca::CaStatus ca, inst->ca().Status());
  if (!ca.initialised) {
    Out("CA: not initialised");
  } else {
    Out(absl::StrCat(
        "CA: ", ca.algorithm, " key, KEK split ", ca.threshold, "-of-",
        ca.custodians.size(),
        ca.certificate_sha256.empty()
            ? ", awaiting its certificate (ca.import)"
            : absl::StrCat(", certificate SHA-256 ", ca.certificate_sha256)));
  }
  return absl::OkStatus();
}

// ---- Operators and ceremonies
// ----------------------------------------------------

namespace {

// The operator's signature over `message`, made from their key file or read
// from a signature file.
absl::StatusOr<std::string> OperatorSign(const OperatorSignature& sig,
                                         absl::string_view message) {
  if (sig.operator_name.empty())
    return absl::InvalidArgumentError("--operator is required");
  if (sig.key_file.empty() == sig.signature_file.empty()) {
    return absl::InvalidArgumentError(
        "give exactly one of --key and --signature");
  }
  if (!sig.signature_file.empty()) return ReadFile(sig.signature_file);
  ASSIGN_OR_RETURN(std::string pem, ReadFile(sig.key_file));
  auto pkcs8 = crypto::PrivateKeyPemToPkcs8(pem);
  CleanseMemory(pem.data(), pem.size());
  if (!pkcs8.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--key: ", pkcs8.status().message()));
  for (crypto::KeyAlgorithm alg :
       {crypto::KeyAlgorithm::kEcP256, crypto::KeyAlgorithm::kEd25519}) {
    auto signer = crypto::NewSoftwareSigner(
        *pkcs8, {alg, crypto::HashAlgorithm::kSha256});
    if (signer.ok()) return crypto::SignMessage(**signer, message);
  }
  return absl::InvalidArgumentError(
      "--key must be an ECDSA P-256 or Ed25519 private key");
}

absl::StatusOr<ceremony::Params> ParseParams(
    const std::vector<std::string>& params) {
  ceremony::Params out;
  for (const std::string& kv : params) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--param takes KEY=VALUE, not '", kv, "'"));
    }
    std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    // KEY=@FILE reads a public key file (PEM or DER) and passes it as base64
    // DER.
    if (!value.empty() && value[0] == '@') {
      ASSIGN_OR_RETURN(std::string file, ReadFile(value.substr(1)));
      ASSIGN_OR_RETURN(std::string der, crypto::PublicKeyToDer(file));
      value = Base64Encode(der);
    }
    out.push_back({key, value});
  }
  return out;
}

}  // namespace

absl::Status OperatorAdd(const std::string& data, const std::string& name,
                         const std::string& public_key_file) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string file, ReadFile(public_key_file));
  ASSIGN_OR_RETURN(std::string der, crypto::PublicKeyToDer(file));
  RETURN_IF_ERROR(inst->ceremonies().AddOperatorBootstrap(name, der, "cli"));
  ASSIGN_OR_RETURN(int k, inst->ceremonies().Quorum());
  ASSIGN_OR_RETURN(auto ops, inst->ceremonies().Operators());
  Out(absl::StrCat("operator ", name, " added (", ops.size(), " of the ", k,
                   " needed for the quorum; key SHA-256 ",
                   HexEncode(crypto::Sha256(der)), ")"));
  return absl::OkStatus();
}

absl::Status OperatorList(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(int k, inst->ceremonies().Quorum());
  ASSIGN_OR_RETURN(auto ops, inst->ceremonies().Operators());
  Out(absl::StrCat("quorum: ", k));
  for (const auto& op : ops) {
    Out(absl::StrCat(op.name, "\t", op.active ? "active" : "removed", "\t",
                     HexEncode(crypto::Sha256(op.public_key))));
  }
  return absl::OkStatus();
}

absl::Status CeremonyOperations() {
  Out("operations (each needs the quorum of operator approvals):");
  // The list does not need a data directory: build one on an empty store.
  auto store = storage::NewMemoryStore();
  auto pkcs8 = crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256);
  ASSIGN_OR_RETURN(auto signer, crypto::NewSoftwareSigner(
                                    *pkcs8, {crypto::KeyAlgorithm::kEcP256,
                                             crypto::HashAlgorithm::kSha256}));
  audit::AuditLog log(*signer, "inkan/operations", RealClock());
  ceremony::Ceremonies c(*store, log, RealClock());
  ASSIGN_OR_RETURN(auto keys,
                   hsm::OpenSoftwareKeyStore("/nonexistent/listing-only"));
  hsm::TokenAccess tokens("");
  ca::RegisterCaOperations(c, *keys, log, RealClock(), tokens);
  for (const std::string& line : c.OperationNames())
    Out(absl::StrCat("  ", line));
  return absl::OkStatus();
}

absl::Status CeremonyPropose(const std::string& data,
                             const std::string& operation,
                             const std::vector<std::string>& params,
                             const std::string& ttl,
                             const OperatorSignature& proposer) {
  absl::Duration lifetime;
  if (!absl::ParseDuration(ttl, &lifetime)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--ttl '", ttl, "' is not a duration like 24h"));
  }
  ASSIGN_OR_RETURN(ceremony::Params parsed, ParseParams(params));
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  std::string who =
      proposer.operator_name.empty() ? "cli" : proposer.operator_name;
  ASSIGN_OR_RETURN(
      auto req, inst->ceremonies().Propose(operation, parsed, who, lifetime));
  Out(absl::StrCat("request ", req.id));
  Out(absl::StrCat("operation ", req.operation, ", expires ",
                   FormatRfc3339(req.expires)));
  if (!proposer.key_file.empty() || !proposer.signature_file.empty()) {
    ASSIGN_OR_RETURN(std::string sig, OperatorSign(proposer, req.canonical));
    RETURN_IF_ERROR(
        inst->ceremonies().Approve(req.id, proposer.operator_name, sig));
    Out(absl::StrCat("approved by ", proposer.operator_name));
  }
  return absl::OkStatus();
}

absl::Status CeremonyApprove(const std::string& data, const std::string& id,
                             const OperatorSignature& sig) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(auto status, inst->ceremonies().Status(id));
  ASSIGN_OR_RETURN(std::string signature,
                   OperatorSign(sig, status.request.canonical));
  RETURN_IF_ERROR(inst->ceremonies().Approve(id, sig.operator_name, signature));
  ASSIGN_OR_RETURN(status, inst->ceremonies().Status(id));
  Out(absl::StrCat("approved by ", sig.operator_name, ": ",
                   status.approved_by.size(), " of ", status.quorum));
  return absl::OkStatus();
}

absl::Status CeremonyCancel(const std::string& data, const std::string& id,
                            const OperatorSignature& sig) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string signature,
                   OperatorSign(sig, ceremony::CancelMessage(id)));
  RETURN_IF_ERROR(inst->ceremonies().Cancel(id, sig.operator_name, signature));
  Out(absl::StrCat("request ", id, " cancelled by ", sig.operator_name));
  return absl::OkStatus();
}

absl::Status CeremonyStatus(const std::string& data, const std::string& id) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  if (id.empty()) {
    return inst->store().Transact(
        storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
          ASSIGN_OR_RETURN(auto reqs, tx.ListCeremonyRequests("pending", 100));
          for (const auto& r : reqs) {
            Out(absl::StrCat(r.id, "\t", r.operation, "\texpires ",
                             FormatRfc3339(r.expires)));
          }
          return absl::OkStatus();
        });
  }
  ASSIGN_OR_RETURN(auto s, inst->ceremonies().Status(id));
  Out(absl::StrCat("request:   ", s.request.id));
  Out(absl::StrCat("operation: ", s.request.operation));
  for (const auto& p : s.params) {
    std::string v = std::holds_alternative<std::string>(p.value)
                        ? std::get<std::string>(p.value)
                        : (std::holds_alternative<int64_t>(p.value)
                               ? absl::StrCat(std::get<int64_t>(p.value))
                               : (std::get<bool>(p.value) ? "true" : "false"));
    Out(absl::StrCat("  ", p.key, " = ", v));
  }
  Out(absl::StrCat("proposer:  ", s.request.proposer));
  Out(absl::StrCat("state:     ", s.request.state,
                   s.request.outcome.empty()
                       ? ""
                       : absl::StrCat(" (", s.request.outcome, ")")));
  Out(absl::StrCat("expires:   ", FormatRfc3339(s.request.expires),
                   s.expired ? " (EXPIRED)" : ""));
  if (s.stale)
    Out("stale:     the configuration changed since it was proposed");
  Out(absl::StrCat(
      "approvals: ", s.approved_by.size(), " of ", s.quorum,
      s.approved_by.empty()
          ? ""
          : absl::StrCat(" (", absl::StrJoin(s.approved_by, ", "), ")")));
  return absl::OkStatus();
}

absl::Status CeremonyShow(const std::string& data, const std::string& id) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(auto s, inst->ceremonies().Status(id));
  std::cout << s.request.canonical;
  return absl::OkStatus();
}

absl::Status CeremonyExecute(const std::string& data, const std::string& id,
                             const std::vector<std::string>& share_files,
                             const std::string& share_dir,
                             const std::string& backup_pin_file) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  if (!backup_pin_file.empty()) {
    ASSIGN_OR_RETURN(SecretBytes pin, ReadSecretFile(backup_pin_file));
    inst->tokens().SetPin(std::move(pin));
  }
  std::vector<SecretBytes> inputs;
  for (const std::string& f : share_files) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    inputs.emplace_back(text);
    CleanseMemory(text.data(), text.size());
  }
  std::map<std::string, SecretBytes> outputs;
  ASSIGN_OR_RETURN(
      std::string outcome,
      inst->ceremonies().Execute(id, "cli", inputs,
                                 share_dir.empty() ? nullptr : &outputs));
  Out(absl::StrCat("executed: ", outcome));
  if (!outputs.empty()) {
    RETURN_IF_ERROR(MakeDirs(share_dir, 0700));
    for (const auto& [who, secret] : outputs) {
      std::string path = absl::StrCat(share_dir, "/", who, ".share");
      RETURN_IF_ERROR(WriteFileAtomic(
          path, absl::StrCat(secret.RevealString(), "\n"), 0600));
      Out(absl::StrCat("printed share for ", who, ": ", path,
                       " (print it, hand it to ", who,
                       " in person, then delete the file)"));
    }
  }
  return absl::OkStatus();
}

// ---- The CA -----------------------------------------------------------------

namespace {

absl::Status ActivateCa(server::Instance& inst,
                        const std::vector<std::string>& share_files) {
  if (share_files.empty())
    return absl::InvalidArgumentError("give the custodians' --share files");
  std::vector<SecretBytes> texts;
  for (const std::string& f : share_files) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    texts.emplace_back(text);
    CleanseMemory(text.data(), text.size());
  }
  return inst.ca().Activate(texts, "cli");
}

}  // namespace

absl::Status CaInit(const std::string& data, const CaInitArgs& a,
                    const OperatorSignature& proposer) {
  std::vector<std::string> params = {
      absl::StrCat("mode=", a.mode), absl::StrCat("subject=", a.subject),
      absl::StrCat("alg=", a.alg), absl::StrCat("days=", a.days),
      absl::StrCat("ee_days=", a.ee_days)};
  if (!a.ocsp_url.empty())
    params.push_back(absl::StrCat("ocsp_url=", a.ocsp_url));
  if (!a.crl_url.empty()) params.push_back(absl::StrCat("crl_url=", a.crl_url));
  if (!a.ca_issuers_url.empty()) {
    params.push_back(absl::StrCat("ca_issuers_url=", a.ca_issuers_url));
  }
  Out("proposing the ca.init ceremony; the operators approve it, then someone "
      "executes it:");
  return CeremonyPropose(data, "ca.init", params, "24h", proposer);
}

absl::Status CaStatus(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(ca::CaStatus s, inst->ca().Status());
  if (!s.initialised) {
    Out("CA: not initialised (inkan ca init --subject ...)");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string der, inst->ca().CaCertificate());
  Out(absl::StrCat("CA key: ", s.algorithm, ", KEK split ", s.threshold, "-of-",
                   s.custodians.size(), " among ",
                   absl::StrJoin(s.custodians, ", ")));
  Out(absl::StrCat("CA certificate SHA-256: ", s.certificate_sha256));
  Out(absl::StrCat("last CRL number: ", s.crl_number));
  if (!s.responder_sha256.empty()) {
    Out(absl::StrCat("OCSP responder certificate: valid until ",
                     FormatRfc3339(s.responder_not_after), " (SHA-256 ",
                     s.responder_sha256, ")"));
  }
  auto live = server::CallControl(server::Service::ControlPath(data),
                                  {{"op", "ca.status"}});
  if (!live.ok()) {
    Out("CA key in the service: inkan serve is not running");
  } else {
    PrintActivation(*live);
  }
  return absl::OkStatus();
}

absl::Status CaActivate(const std::string& data, const std::string& share_file,
                        const std::string& window, const std::string& actor) {
  ASSIGN_OR_RETURN(std::string share, ReadFile(share_file));
  server::ControlFields req = {
      {"op", "ca.activate"}, {"share", share}, {"window", window}};
  CleanseMemory(share.data(), share.size());
  auto r = AskService(data, req);
  CleanseMemory(req["share"].data(), req["share"].size());
  RETURN_IF_ERROR(r.status());
  PrintActivation(*r);
  return absl::OkStatus();
}

absl::Status TlsIssue(const std::string& data,
                      const std::vector<std::string>& names,
                      const std::vector<std::string>& shares) {
  if (names.empty())
    return absl::InvalidArgumentError("give the server's --name (repeat)");
  // A fresh P-256 key, made here and written only to the data directory.
  ASSIGN_OR_RETURN(SecretBytes pkcs8,
                   crypto::GenerateSoftwareKey(crypto::KeyAlgorithm::kEcP256));
  ASSIGN_OR_RETURN(auto signer, crypto::NewSoftwareSigner(
                                    pkcs8, {crypto::KeyAlgorithm::kEcP256,
                                            crypto::HashAlgorithm::kSha256}));
  std::string spki = signer->public_key_der();
  std::string cert_der;
  if (shares.empty()) {
    ASSIGN_OR_RETURN(auto r,
                     AskService(data, {{"op", "tls.issue"},
                                       {"public_key", Base64Encode(spki)},
                                       {"names", absl::StrJoin(names, ",")}}));
    ASSIGN_OR_RETURN(cert_der, Base64Decode(r["certificate"]));
  } else {
    ASSIGN_OR_RETURN(auto inst, OpenData(data));
    RETURN_IF_ERROR(ActivateCa(*inst, shares));
    ASSIGN_OR_RETURN(storage::CertificateRecord rec,
                     inst->ca().IssueTlsCertificate(spki, names, "cli"));
    cert_der = rec.der;
  }
  std::string ca_der;
  {
    ASSIGN_OR_RETURN(auto inst, OpenData(data));
    ASSIGN_OR_RETURN(ca_der, inst->ca().CaCertificate());
  }
  std::string dir = absl::StrCat(data, "/tls");
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::string pem_text = ca::ToPem(pkcs8.RevealString(), "PRIVATE KEY");
  SecretBytes key_pem(pem_text);
  CleanseMemory(pem_text.data(), pem_text.size());
  // The key replaces any old one; the service reads both at its next start.
  (void)std::remove(absl::StrCat(dir, "/key.pem").c_str());
  RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir, "/key.pem"),
                                  key_pem.RevealString(), 0600));
  (void)std::remove(absl::StrCat(dir, "/cert.pem").c_str());
  RETURN_IF_ERROR(
      WriteFileAtomic(absl::StrCat(dir, "/cert.pem"),
                      absl::StrCat(ca::ToPem(cert_der, "CERTIFICATE"),
                                   ca::ToPem(ca_der, "CERTIFICATE")),
                      0644));
  Out(absl::StrCat("TLS certificate for ", absl::StrJoin(names, ", "),
                   " written to ", dir, "/cert.pem (key: ", dir,
                   "/key.pem); restart inkan serve to use it"));
  return absl::OkStatus();
}

absl::Status CaRenewResponder(const std::string& data,
                              const std::vector<std::string>& shares) {
  if (shares.empty()) {
    ASSIGN_OR_RETURN(auto r, AskService(data, {{"op", "ca.responder.renew"}}));
    ASSIGN_OR_RETURN(std::string der, Base64Decode(r["certificate"]));
    std::cout << ca::ToPem(der, "CERTIFICATE");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  RETURN_IF_ERROR(ActivateCa(*inst, shares));
  ASSIGN_OR_RETURN(std::string der, inst->ca().RenewResponder("cli"));
  std::cout << ca::ToPem(der, "CERTIFICATE");
  return absl::OkStatus();
}

absl::Status CaDeactivate(const std::string& data, const std::string& actor) {
  ASSIGN_OR_RETURN(auto r, AskService(data, {{"op", "ca.deactivate"}}));
  PrintActivation(r);
  return absl::OkStatus();
}

absl::Status Serve(const ServeArgs& args) {
  // Block the stop signals in every thread; this one waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  ASSIGN_OR_RETURN(auto inst, OpenData(args.data));
  server::ServiceOptions opts;
  ASSIGN_OR_RETURN(opts.crl_interval, server::ParseWindow(args.crl_every));
  ASSIGN_OR_RETURN(opts.max_activation,
                   server::ParseWindow(args.max_activation));
  opts.listen = args.listen;
  opts.tls_cert_file = args.tls_cert;
  opts.tls_key_file = args.tls_key;
  if (args.io_threads < 1 || args.io_threads > 256)
    return absl::InvalidArgumentError("--io-threads is 1..256");
  opts.io_threads = args.io_threads;
  ASSIGN_OR_RETURN(opts.auth.sad_ttl, server::ParseWindow(args.sad_ttl));
  ASSIGN_OR_RETURN(auto svc, server::Service::Start(*inst, opts));
  // Flushed: scripts wait for these lines.
  if (svc->https_port() != 0) {
    std::string host = args.listen.substr(0, args.listen.rfind(':'));
    std::cout << "listening on https://" << host << ":" << svc->https_port()
              << "/csc/v2/" << std::endl;
  }
  std::cout << "control socket " << svc->control_path() << std::endl;
  // A missed backup is said at start (stderr; `inkan status` says it too).
  absl::Status due_check = inst->store().Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(backup::BackupDue due,
                         backup::LoadBackupDue(tx, absl::Now()));
        if (due.overdue) {
          std::cerr << "inkan serve: warning: "
                    << backup::FormatBackupDue(due, absl::Now()) << std::endl;
        }
        return absl::OkStatus();
      });
  if (!due_check.ok()) {
    std::cerr << "inkan serve: warning: cannot read the backup schedule: "
              << due_check.message() << std::endl;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  std::cout << "stopping (signal " << sig << ")" << std::endl;
  svc->Stop();
  return absl::OkStatus();
}

absl::Status CaCertificate(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string der, inst->ca().CaCertificate());
  std::cout << ca::ToPem(der, "CERTIFICATE");
  return absl::OkStatus();
}

absl::Status CaShare(const std::string& data, const std::string& custodian) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string sealed, inst->ca().SealedShareFor(custodian));
  std::cout << sealed;
  return absl::OkStatus();
}

absl::Status CaOpenShare(const std::string& sealed_file,
                         const std::string& key_file) {
  ASSIGN_OR_RETURN(std::string sealed, ReadFile(sealed_file));
  ASSIGN_OR_RETURN(std::string pem, ReadFile(key_file));
  auto pkcs8 = crypto::PrivateKeyPemToPkcs8(pem);
  CleanseMemory(pem.data(), pem.size());
  if (!pkcs8.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--key: ", pkcs8.status().message()));
  ASSIGN_OR_RETURN(ceremony::Share share,
                   ceremony::OpenSealedShare(sealed, *pkcs8));
  ASSIGN_OR_RETURN(SecretBytes text, ceremony::EncodeShare(share));
  std::cout << text.RevealString() << "\n";
  return absl::OkStatus();
}

absl::Status CertIssue(const std::string& data, const std::string& credential,
                       const std::string& subject,
                       const std::vector<std::string>& shares) {
  if (shares.empty()) {
    ASSIGN_OR_RETURN(auto r, AskService(data, {{"op", "cert.issue"},
                                               {"credential", credential},
                                               {"subject", subject}}));
    ASSIGN_OR_RETURN(std::string der, Base64Decode(r["certificate"]));
    Out(absl::StrCat("serial ", r["serial"]));
    std::cout << ca::ToPem(der, "CERTIFICATE");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  RETURN_IF_ERROR(ActivateCa(*inst, shares));
  ASSIGN_OR_RETURN(storage::CertificateRecord rec,
                   inst->ca().IssueForCredential(credential, subject, "cli"));
  Out(absl::StrCat("serial ", rec.serial_hex));
  std::cout << ca::ToPem(rec.der, "CERTIFICATE");
  return absl::OkStatus();
}

absl::Status CertRevoke(const std::string& data, const std::string& serial,
                        const std::string& reason,
                        const std::vector<std::string>& shares) {
  ASSIGN_OR_RETURN(ca::CrlReason r, ca::ParseCrlReason(reason));
  if (shares.empty()) {
    RETURN_IF_ERROR(AskService(data, {{"op", "cert.revoke"},
                                      {"serial", serial},
                                      {"reason", reason}})
                        .status());
    Out(absl::StrCat("revoked ", serial, " (", reason,
                     "); a new CRL is signed"));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  RETURN_IF_ERROR(ActivateCa(*inst, shares));
  RETURN_IF_ERROR(inst->ca().Revoke(serial, r, "cli"));
  Out(absl::StrCat("revoked ", serial, " (", reason, "); a new CRL is signed"));
  return absl::OkStatus();
}

absl::Status CertShow(const std::string& data, const std::string& serial) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  return inst->store().Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        ASSIGN_OR_RETURN(storage::CertificateRecord c,
                         tx.GetCertificate(serial));
        Out(absl::StrCat(
            "serial: ", c.serial_hex, "\nsubject: ", c.subject,
            "\ncredential: ", c.credential_id,
            "\nnot after: ", FormatRfc3339(c.not_after), "\nstatus: ",
            c.revoked ? absl::StrCat("revoked (reason ", c.reason, ")")
                      : std::string("good")));
        std::cout << ca::ToPem(c.der, "CERTIFICATE");
        return absl::OkStatus();
      });
}

absl::Status Crl(const std::string& data,
                 const std::vector<std::string>& shares) {
  if (shares.empty()) {
    ASSIGN_OR_RETURN(auto r, AskService(data, {{"op", "crl"}}));
    ASSIGN_OR_RETURN(std::string der, Base64Decode(r["crl"]));
    std::cout << ca::ToPem(der, "X509 CRL");
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  RETURN_IF_ERROR(ActivateCa(*inst, shares));
  ASSIGN_OR_RETURN(std::string der, inst->ca().IssueCrl("cli"));
  std::cout << ca::ToPem(der, "X509 CRL");
  return absl::OkStatus();
}

absl::Status CaCsr(const std::string& data) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string der, inst->ca().Csr());
  std::cout << ca::ToPem(der, "CERTIFICATE REQUEST");
  return absl::OkStatus();
}

namespace {
// A certificate file (PEM or DER) as DER.
absl::StatusOr<std::string> CertificateFileToDer(const std::string& file) {
  ASSIGN_OR_RETURN(std::string content, ReadFile(file));
  auto der = crypto::CertificateToDer(content);
  if (!der.ok() && absl::IsInvalidArgument(der.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, " is not a certificate"));
  }
  return der;
}
}  // namespace

absl::Status CaImport(const std::string& data, const std::string& cert_file,
                      const std::string& chain_file,
                      const OperatorSignature& proposer) {
  ASSIGN_OR_RETURN(std::string cert, CertificateFileToDer(cert_file));
  std::vector<std::string> params = {
      absl::StrCat("certificate=", Base64Encode(cert))};
  if (!chain_file.empty()) {
    ASSIGN_OR_RETURN(std::string chain, CertificateFileToDer(chain_file));
    params.push_back(absl::StrCat("chain=", Base64Encode(chain)));
  }
  Out("proposing the ca.import ceremony (execute it with k shares):");
  return CeremonyPropose(data, "ca.import", params, "24h", proposer);
}

absl::Status CaBackup(const std::string& data, const std::string& out_file,
                      const std::string& to_token,
                      const std::string& token_module,
                      const OperatorSignature& proposer) {
  if (!to_token.empty()) {
    if (!out_file.empty())
      return absl::InvalidArgumentError("give --out or --to-token, not both");
    Out(absl::StrCat("proposing the ca.backup ceremony onto token '", to_token,
                     "' (execute it with k shares and --backup-pin FILE):"));
    std::vector<std::string> params = {absl::StrCat("token=", to_token)};
    if (!token_module.empty())
      params.push_back(absl::StrCat("module=", token_module));
    return CeremonyPropose(data, "ca.backup", params, "24h", proposer);
  }
  if (out_file.empty())
    return absl::InvalidArgumentError("give --out FILE or --to-token LABEL");
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string bundle, inst->ca().BackupBundle("cli"));
  RETURN_IF_ERROR(WriteFileAtomic(out_file, bundle, 0644));
  Out(absl::StrCat("CA backup bundle written to ", out_file, " (SHA-256 ",
                   HexEncode(crypto::Sha256(bundle)),
                   "); it holds no secret: k shares restore it"));
  return absl::OkStatus();
}

namespace {

// What approvers of a restore see: the CA subject and share set of a bundle.
void DescribeBundle(absl::string_view bundle, std::string* subject,
                    std::string* share_set) {
  *subject = "(unreadable)";
  auto fields = audit::ParseFlatObject(bundle);
  if (!fields.ok()) return;
  for (const auto& f : *fields) {
    const std::string* v = std::get_if<std::string>(&f.value);
    if (v == nullptr) continue;
    if (f.key == "certificate") {
      auto der = Base64Decode(*v);
      if (der.ok()) {
        const auto* p = reinterpret_cast<const unsigned char*>(der->data());
        X509* x = d2i_X509(nullptr, &p, static_cast<long>(der->size()));
        if (x != nullptr) {
          char buf[512];
          X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf));
          *subject = buf;
          X509_free(x);
        }
      }
    }
    if (f.key == "custody") {
      auto custody = audit::ParseFlatObject(*v);
      if (custody.ok()) {
        for (const auto& c : *custody) {
          if (c.key == "set_id") *share_set = std::get<std::string>(c.value);
        }
      }
    }
  }
}

}  // namespace

absl::Status CaRestore(const std::string& data, const std::string& in_file,
                       const std::string& from_token,
                       const std::string& token_module,
                       const std::string& backup_pin_file,
                       const OperatorSignature& proposer) {
  std::string subject, share_set;
  if (!from_token.empty()) {
    if (backup_pin_file.empty()) {
      return absl::InvalidArgumentError(
          "reading the backup token needs its PIN: --backup-pin FILE");
    }
    ASSIGN_OR_RETURN(auto inst, OpenData(data));
    ASSIGN_OR_RETURN(SecretBytes pin, ReadSecretFile(backup_pin_file));
    inst->tokens().SetPin(std::move(pin));
    ASSIGN_OR_RETURN(
        std::string record,
        ca::ReadBackupTokenRecord(inst->tokens(), token_module, from_token));
    DescribeBundle(record, &subject, &share_set);
    inst.reset();
    Out("proposing the ca.restore ceremony from the backup token (execute it "
        "with k shares and --backup-pin FILE):");
    std::vector<std::string> params = {
        "form=token", absl::StrCat("token=", from_token),
        absl::StrCat("record_sha256", "=", HexEncode(crypto::Sha256(record))),
        absl::StrCat("subject=", subject),
        absl::StrCat("share_set=", share_set)};
    if (!token_module.empty())
      params.push_back(absl::StrCat("module=", token_module));
    return CeremonyPropose(data, "ca.restore", params, "24h", proposer);
  }
  if (in_file.empty())
    return absl::InvalidArgumentError("give --in BUNDLE or --from-token LABEL");
  ASSIGN_OR_RETURN(std::string bundle, ReadFile(in_file));
  if (!audit::ParseFlatObject(bundle).ok())
    return absl::InvalidArgumentError(
        absl::StrCat(in_file, " is not a CA bundle"));
  DescribeBundle(bundle, &subject, &share_set);
  Out("proposing the ca.restore ceremony (execute it with --input the same "
      "bundle):");
  return CeremonyPropose(
      data, "ca.restore",
      {absl::StrCat("bundle_sha256=", HexEncode(crypto::Sha256(bundle))),
       absl::StrCat("subject=", subject),
       absl::StrCat("share_set=", share_set)},
      "24h", proposer);
}

absl::Status CaPropose(const std::string& data, const std::string& operation,
                       const OperatorSignature& proposer) {
  if (operation == "ca.destroy") {
    Out("proposing ca.destroy: the CA key, its backups and the share split "
        "will "
        "be destroyed, irreversibly, once the quorum approves and it is "
        "executed:");
  } else {
    Out(absl::StrCat("proposing ", operation,
                     " (execute it with k current shares):"));
  }
  return CeremonyPropose(data, operation, {}, "24h", proposer);
}

absl::Status CaDestroyAck(const std::string& data,
                          const OperatorSignature& sig) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(std::string message, inst->ca().DestructionMessage());
  ASSIGN_OR_RETURN(std::string signature, OperatorSign(sig, message));
  RETURN_IF_ERROR(
      inst->ca().AcknowledgeDestruction(sig.operator_name, signature));
  Out(absl::StrCat(sig.operator_name, " acknowledged the destruction (",
                   message, ")"));
  return absl::OkStatus();
}

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }
}  // namespace

absl::Status OcspServe(const std::string& data, const std::string& listen) {
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(auto ocsp, ca::OcspService::Open(inst->store(), inst->keys(),
                                                    RealClock()));
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return api::ServeOcsp(
      listen, [&](absl::string_view req) { return ocsp->Answer(req); },
      [](const std::string& where) {
        std::cout << "listening on " << where
                  << std::endl;  // flushed: tests wait for it
      },
      g_stop);
}

absl::Status CardRegister(const std::string& data, const std::string& user,
                          const std::string& cert_file) {
  ASSIGN_OR_RETURN(std::string der, CertificateFileToDer(cert_file));
  ASSIGN_OR_RETURN(auto inst, OpenData(data));
  ASSIGN_OR_RETURN(SecretBytes pin,
                   ReadPin(absl::StrCat("PIN for ", user, ": "), false));
  RETURN_IF_ERROR(inst->credentials().EnrollCard(user, pin, der, CliContext()));
  Out(absl::StrCat("card registered for ", user, " (certificate SHA-256 ",
                   HexEncode(crypto::Sha256(der)), ")"));
  return absl::OkStatus();
}

}  // namespace inkan::cli
