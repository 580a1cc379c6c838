#include "cli/backup_command.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit/retention.h"
#include "audit/segment.h"
#include "audit/timestamp.h"
#include "backup/backup_file.h"
#include "backup/schedule.h"
#include "backup/snapshot.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "crypto/pem.h"
#include "hsm/softhsm.h"
#include "server/instance.h"

namespace inkan::cli {
namespace {

namespace fs = std::filesystem;
using server::Instance;

constexpr char kDb[] = "inkan.db";
constexpr char kConf[] = "inkan.conf";
constexpr char kAuditKey[] = "audit-key.pem";

void Out(absl::string_view s) { std::cout << s << "\n"; }

std::string Fingerprint(absl::string_view der) {
  return HexEncode(crypto::Sha256(der));
}

// The HSM record naming the newest log checkpoint a backup of this log was
// taken at: "<tree size> <hex root>". Restores refuse anything older.
std::string WitnessLabel(absl::string_view log_id) {
  return absl::StrCat("inkan-backup-witness:", log_id);
}

struct Witness {
  int64_t tree_size = 0;
  std::string root;  // raw
};

// nullopt if the key store keeps no such record (or none at all).
absl::StatusOr<std::optional<Witness>> ReadWitness(hsm::KeyStore& keys,
                                                   absl::string_view log_id) {
  absl::StatusOr<std::string> rec = keys.GetRecord(WitnessLabel(log_id));
  if (absl::IsNotFound(rec.status()) || absl::IsUnimplemented(rec.status())) {
    return std::optional<Witness>();
  }
  if (!rec.ok()) return rec.status();
  std::vector<std::string> parts = absl::StrSplit(*rec, ' ');
  Witness w;
  absl::StatusOr<std::string> root =
      parts.size() == 2 ? HexDecode(parts[1])
                        : absl::InvalidArgumentError("malformed");
  if (!root.ok() || !absl::SimpleAtoi(parts[0], &w.tree_size)) {
    return absl::DataLossError(absl::StrCat("the HSM's backup record for log ",
                                            log_id, " is malformed"));
  }
  w.root = *std::move(root);
  return std::optional<Witness>(w);
}

// A fresh 0700 directory under `parent` (same filesystem, for rename).
absl::StatusOr<std::string> TempDirIn(const std::string& parent,
                                      absl::string_view prefix) {
  std::string tmpl =
      absl::StrCat(parent.empty() ? "." : parent, "/.", prefix, "-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory in ",
                     parent.empty() ? "." : parent));
  }
  return tmpl;
}

// Removes a directory tree when it goes out of scope, unless released.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(std::string path) : path_(std::move(path)) {}
  ~RemoveOnExit() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

std::string Parent(const std::string& path) {
  std::string p = fs::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

absl::StatusOr<std::string> KeyFromPemFile(const std::string& file) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(file));
  absl::StatusOr<std::string> der = crypto::PublicKeyToDer(pem);
  if (!der.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, " does not hold a public key"));
  }
  return der;
}

// The pinned audit key: --audit-key, else DATA/audit-key.pem, else "".
absl::StatusOr<std::string> PinnedKey(const std::string& data,
                                      const std::string& audit_key_file) {
  if (!audit_key_file.empty()) return KeyFromPemFile(audit_key_file);
  if (!data.empty()) return KeyFromPemFile(absl::StrCat(data, "/", kAuditKey));
  return std::string();
}

// What a data directory holds besides the parts, and why it is left out.
std::vector<backup::Excluded> Exclusions(const std::string& data) {
  std::map<std::string, std::string> known = {
      {"hsm",
       "the SoftHSM token directory: keys under the token's PIN, and "
       "user.pin, the PIN in plaintext. The HSM is backed up by its "
       "own means; a restore uses the same HSM"},
      {"software-keys",
       "the provisional software backend's system keys, in plaintext"},
      {"tls",
       "the HTTPS key (a plaintext private key) and its certificate; "
       "issue a new one after a restore (inkan tls issue)"},
      {"control.sock", "the running service's control socket"},
      {"inkan.db-wal", "folded into the inkan.db snapshot"},
      {"inkan.db-shm", "SQLite's shared-memory index, used at run time only"},
  };
  std::vector<backup::Excluded> out;
  std::error_code ec;
  for (fs::directory_iterator it(data, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name == kDb || name == kConf || name == kAuditKey) continue;
    bool dir = it->is_directory(ec);
    auto k = known.find(name);
    out.push_back({absl::StrCat(name, dir ? "/" : ""),
                   k != known.end() ? k->second : "not a file inkan backs up"});
  }
  return out;
}

std::string CheckpointTime(absl::string_view note) {
  absl::StatusOr<audit::CheckpointNote> n = audit::ParseCheckpointNote(note);
  return n.ok() ? audit::FormatTimestamp(n->time) : "?";
}

// Verifies a backup's log after extraction into `dir` and that it is the
// log the manifest describes. `root_at` as VerifyLogInDatabase.
absl::StatusOr<backup::LogSummary> CheckExtractedLog(const std::string& dir,
                                                     const backup::Manifest& m,
                                                     int64_t root_at) {
  ASSIGN_OR_RETURN(
      backup::LogSummary log,
      backup::VerifyLogInDatabase(absl::StrCat(dir, "/", kDb), m.audit_key_der,
                                  m.log_id, root_at));
  if (log.tree_size != m.tree_size || log.root_hash != m.root_hash ||
      log.note != m.checkpoint_note || log.instance_id != m.instance_id) {
    return absl::DataLossError(absl::StrCat(
        "the log in the backup (size ", log.tree_size,
        ") is not the one its manifest describes (size ", m.tree_size, ")"));
  }
  return log;
}

}  // namespace

absl::Status BackupCreate(const std::string& data, const std::string& out) {
  if (out.empty()) return absl::InvalidArgumentError("--out is required");
  ASSIGN_OR_RETURN(std::unique_ptr<Instance> inst, Instance::Open(data));
  ASSIGN_OR_RETURN(std::string pinned, inst->PinnedAuditKeyDer());
  ASSIGN_OR_RETURN(const crypto::Signer* signer, inst->keys().AuditSigner());
  if (signer->public_key_der() != pinned) {
    return absl::FailedPreconditionError(
        "the HSM's audit key is not the one pinned in audit-key.pem");
  }
  std::error_code ec;
  if (fs::exists(out, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(out, " exists; refusing to overwrite it"));
  }
  ASSIGN_OR_RETURN(std::string tmp, TempDirIn(Parent(out), "inkan-backup"));
  RemoveOnExit cleanup(tmp);

  // 1. The database, as of one commit, while the service goes on writing.
  std::string snap = absl::StrCat(tmp, "/", kDb);
  RETURN_IF_ERROR(backup::SnapshotSqlite(absl::StrCat(data, "/", kDb), snap));
  // 2. Its log must verify before we vouch for it.
  ASSIGN_OR_RETURN(
      backup::LogSummary log,
      backup::VerifyLogInDatabase(snap, pinned, inst->log_id(), 0));
  backup::Manifest m;
  m.instance_id = log.instance_id;
  m.log_id = inst->log_id();
  m.created = audit::FormatTimestamp(RealClock().Now());
  m.source = fs::absolute(data, ec).string();
  m.backend = std::string(inst->keys().backend());
  m.tree_size = log.tree_size;
  m.root_hash = log.root_hash;
  m.checkpoint_note = log.note;
  m.checkpoint_signature = log.signature;
  m.parts = {
      {kDb, 0, "", 0600,
       "SQLite database: users, credentials with their sealed key blobs "
       "(wrapped under the HSM's master KEK and sealed under the users' "
       "factors), TOTP secrets (sealed), certificates, operators, ceremonies, "
       "clients, grants (hashes only), policy, and the audit log with its "
       "signed checkpoints"},
      {kConf, 0, "", 0600,
       "configuration: instance and log id, backend, PKCS#11 module, token "
       "label and the path of the PIN file (not the PIN)"},
      {kAuditKey, 0, "", 0600, "the audit key's public half, as pinned"},
  };
  m.excluded = Exclusions(data);
  // 3. One file, signed by the audit key inside the HSM.
  ASSIGN_OR_RETURN(
      m, backup::WriteBackupFile(out, std::move(m),
                                 {snap, absl::StrCat(data, "/", kConf),
                                  absl::StrCat(data, "/", kAuditKey)},
                                 *signer));
  ASSIGN_OR_RETURN(std::string sha, backup::FileSha256Hex(out));
  int64_t bytes = static_cast<int64_t>(fs::file_size(out, ec));
  // 4. On the log, and the time for `inkan status`.
  absl::Status logged = audit::RunAudited(
      inst->store(), inst->log(),
      [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(inst->log().Append(
            tx, {"backup.create",
                 {{"actor", "cli"},
                  {"file", fs::path(out).filename().string()},
                  {"file_sha256", sha},
                  {"bytes", bytes},
                  {"tree_size", m.tree_size},
                  {"root_hash", HexEncode(m.root_hash)},
                  {"parts", int64_t(m.parts.size())},
                  {"excluded", int64_t(m.excluded.size())}}}));
        return tx.PutMeta(backup::kLastKey,
                          absl::StrCat(m.created, " ", m.tree_size, " ", sha));
      });
  if (!logged.ok()) {
    std::error_code rm;
    fs::remove(out, rm);
    return absl::Status(logged.code(),
                        absl::StrCat("the backup could not be logged, so it "
                                     "was removed: ",
                                     logged.message()));
  }
  // 5. The HSM remembers the newest backed-up checkpoint of this log.
  ASSIGN_OR_RETURN(std::optional<Witness> w,
                   ReadWitness(inst->keys(), inst->log_id()));
  if (!w.has_value() || w->tree_size < m.tree_size) {
    absl::Status put = inst->keys().PutRecord(
        WitnessLabel(inst->log_id()),
        absl::StrCat(m.tree_size, " ", HexEncode(m.root_hash)));
    if (!put.ok() && !absl::IsUnimplemented(put)) return put;
  }
  Out(absl::StrCat("backup written: ", out, " (", bytes, " bytes, SHA-256 ",
                   sha, ")"));
  Out(absl::StrCat("  log ", m.log_id, " at size ", m.tree_size,
                   ", checkpoint of ", CheckpointTime(m.checkpoint_note),
                   ", root ", HexEncode(m.root_hash)));
  Out(absl::StrCat("  signed by the audit key, SHA-256 ",
                   Fingerprint(m.audit_key_der)));
  for (const backup::Excluded& e : m.excluded) {
    Out(absl::StrCat("  not included: ", e.path, " (", e.why, ")"));
  }
  return absl::OkStatus();
}

absl::Status BackupVerify(const std::string& file, const std::string& data,
                          const std::string& audit_key_file) {
  ASSIGN_OR_RETURN(std::string pinned, PinnedKey(data, audit_key_file));
  ASSIGN_OR_RETURN(backup::Manifest m,
                   backup::ReadBackupFile(file, pinned, ""));
  std::error_code ec;
  ASSIGN_OR_RETURN(
      std::string tmp,
      TempDirIn(fs::temp_directory_path(ec).string(), "inkan-verify"));
  RemoveOnExit cleanup(tmp);
  ASSIGN_OR_RETURN(m, backup::ReadBackupFile(file, m.audit_key_der, tmp));
  ASSIGN_OR_RETURN(backup::LogSummary log, CheckExtractedLog(tmp, m, 0));
  Out(absl::StrCat("backup intact: ", file));
  Out(absl::StrCat("  instance ", m.instance_id, ", log ", m.log_id, ", taken ",
                   m.created, " from ", m.source));
  Out(absl::StrCat("  audit log: ", log.entries, " entries, ", log.checkpoints,
                   " signed checkpoints, all verified; latest at size ",
                   m.tree_size, " (", CheckpointTime(m.checkpoint_note), ")"));
  for (const backup::Part& p : m.parts) {
    Out(absl::StrCat("  part ", p.name, ": ", p.size, " bytes, SHA-256 ",
                     HexEncode(p.sha256), " ok"));
  }
  Out(absl::StrCat(
      "  signed by audit key SHA-256 ", Fingerprint(m.audit_key_der),
      pinned.empty() ? " (NOT pinned: give --data or --audit-key to check "
                       "whose key it is)"
                     : " (the pinned key)"));
  if (pinned.empty()) {
    // Intact against the key it carries proves nothing about who made it: a
    // script reading only the exit code must not take this for a pass.
    return absl::FailedPreconditionError(
        "the file is consistent, but signed by a key nobody pinned: give "
        "--audit-key (or --data) to check it is the instance's");
  }
  return absl::OkStatus();
}

absl::Status BackupRestore(const RestoreArgs& args) {
  // Without trailing slashes: the temporary directory goes beside it.
  std::string target = args.data;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (target.empty()) {
    return absl::InvalidArgumentError(
        "no data directory given (--data or INKAN_DATA)");
  }
  std::error_code ec;
  if (fs::exists(target, ec) &&
      (!fs::is_directory(target, ec) || !fs::is_empty(target, ec))) {
    return absl::AlreadyExistsError(absl::StrCat(
        target,
        " exists and is not an empty directory; a backup is restored "
        "only into an empty or new one"));
  }
  // 1. The whole file, before anything is written. Its signature is checked
  // here only against the key it carries; who made it is checked against the
  // HSM (step 4) before anything in it is used.
  ASSIGN_OR_RETURN(backup::Manifest m,
                   backup::ReadBackupFile(args.file, "", ""));
  if (m.backend != "pkcs11") {
    return absl::FailedPreconditionError(
        "this backup is of the provisional software backend, whose keys are "
        "not in it; it cannot be restored");
  }
  for (const backup::Part& part : m.parts) {
    if (part.name != kDb && part.name != kConf && part.name != kAuditKey) {
      return absl::InvalidArgumentError(
          absl::StrCat("this backup holds a part inkan never writes (",
                       part.name, "): refusing it"));
    }
  }
  std::string parent = Parent(fs::absolute(target, ec).string());
  if (!fs::is_directory(parent, ec)) {
    return absl::NotFoundError(absl::StrCat(parent, " does not exist"));
  }
  ASSIGN_OR_RETURN(std::string tmp, TempDirIn(parent, "inkan-restore"));
  RemoveOnExit cleanup(tmp);
  // 2. Extract (checked again on the way: the file may have changed).
  ASSIGN_OR_RETURN(m, backup::ReadBackupFile(args.file, m.audit_key_der, tmp));

  // 3. The configuration, pointed at the same HSM.
  std::string conf_path = absl::StrCat(tmp, "/", kConf);
  ASSIGN_OR_RETURN(std::string conf_text, ReadFile(conf_path));
  ASSIGN_OR_RETURN(auto conf, server::ParseConf(conf_text));
  auto relative = [](const std::string& p) {
    return !p.empty() && p[0] != '/';
  };
  std::string old_hsm = conf["softhsm.dir"];
  if (!args.hsm_dir.empty()) {
    std::string hsm = fs::absolute(args.hsm_dir, ec).string();
    if (!PathExists(absl::StrCat(hsm, "/softhsm2.conf"))) {
      return absl::NotFoundError(absl::StrCat(
          "--hsm-dir ", args.hsm_dir,
          " holds no softhsm2.conf (give the backed-up instance's DATA/hsm)"));
    }
    if (old_hsm.empty()) {
      return absl::InvalidArgumentError(
          "--hsm-dir is for instances whose SoftHSM token inkan set up; this "
          "one uses a PKCS#11 module (give --pin-file if its PIN file moved)");
    }
    if (relative(conf["pkcs11.pin_file"]) &&
        absl::StartsWith(conf["pkcs11.pin_file"], old_hsm + "/")) {
      conf["pkcs11.pin_file"] =
          absl::StrCat(hsm, conf["pkcs11.pin_file"].substr(old_hsm.size()));
    }
    conf["softhsm.dir"] = hsm;
  } else if (relative(old_hsm)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the backed-up instance kept its SoftHSM token in its data directory "
        "(",
        old_hsm,
        "/, not in the backup): give --hsm-dir with that "
        "directory (",
        m.source, "/", old_hsm, ", or its own restored copy)"));
  }
  if (!args.pin_file.empty()) {
    conf["pkcs11.pin_file"] = fs::absolute(args.pin_file, ec).string();
  }
  if (relative(conf["pkcs11.pin_file"])) {
    return absl::InvalidArgumentError(
        "the token's PIN file is not known here: give --pin-file");
  }
  // Nothing the HSM is reached through comes from the file: a backup could
  // be forged, and its module would run here with the token's PIN. The
  // SoftHSM directory is --hsm-dir's, a module is --pkcs11-module's.
  if (!old_hsm.empty() && args.hsm_dir.empty()) {
    return absl::InvalidArgumentError(
        "give --hsm-dir: the SoftHSM token directory this instance used");
  }
  if (!old_hsm.empty()) {
    // SoftHSM set up by inkan: this machine's SoftHSM library.
    conf["pkcs11.module"] = args.pkcs11_module.empty()
                                ? hsm::DefaultSoftHsmModule()
                                : fs::absolute(args.pkcs11_module, ec).string();
  } else if (!conf["pkcs11.module"].empty()) {
    if (args.pkcs11_module.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "this instance used the PKCS#11 module ", conf["pkcs11.module"],
          ": give --pkcs11-module (inkan loads no module a backup names)"));
    }
    conf["pkcs11.module"] = fs::absolute(args.pkcs11_module, ec).string();
  }
  // 4. The same HSM, before the database is opened: its audit key signed
  // this backup.
  {
    ASSIGN_OR_RETURN(std::unique_ptr<hsm::KeyStore> keys,
                     server::OpenKeys(tmp, conf));
    ASSIGN_OR_RETURN(const crypto::Signer* signer, keys->AuditSigner());
    if (signer->public_key_der() != m.audit_key_der) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the HSM's audit key (SHA-256 ",
          Fingerprint(signer->public_key_der()), ") did not sign this backup (",
          Fingerprint(m.audit_key_der),
          "): another HSM or token, or a forged file; restore with the "
          "instance's own HSM"));
    }
  }
  std::string text = absl::StrCat(
      "# inkan configuration, restored by `inkan backup restore` from a "
      "backup of ",
      m.created, ".\n");
  for (const auto& [k, v] : conf) absl::StrAppend(&text, k, " = ", v, "\n");
  RETURN_IF_ERROR(WriteFileAtomic(conf_path, text, 0600));

  ASSIGN_OR_RETURN(std::unique_ptr<Instance> inst, Instance::Open(tmp));
  // 5. Not older than what this HSM has seen backed up, and the same log.
  ASSIGN_OR_RETURN(std::optional<Witness> w,
                   ReadWitness(inst->keys(), m.log_id));
  bool older = w.has_value() && w->tree_size > m.tree_size;
  if (!w.has_value()) {
    // No record on the HSM. That is expected only if no backup was ever made
    // before this one; if the backed-up instance had made one, the record was
    // removed (or the token replaced): fail closed, as for an older backup.
    bool earlier_backups = false;
    RETURN_IF_ERROR(inst->store().Transact(
        storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
          ASSIGN_OR_RETURN(std::optional<std::string> last,
                           tx.GetMeta(backup::kLastKey));
          earlier_backups = last.has_value();
          return absl::OkStatus();
        }));
    if (earlier_backups && !args.allow_older) {
      return absl::FailedPreconditionError(
          "the HSM holds no record of this log's backups, though backups of "
          "it were made: its record was removed or this is another token. "
          "Refusing, since a newer backup may exist (--allow-older records "
          "the decision to restore anyway)");
    }
    older = earlier_backups;
  }
  if (older && !args.allow_older) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this backup's log ends at size ", m.tree_size,
        ", but the HSM has seen a newer backup of this log, at size ",
        w->tree_size,
        ": refusing to roll the log back (restore the newest backup; if every "
        "copy of it is lost, --allow-older records that decision)"));
  }
  // 6. Every entry and checkpoint of the log.
  ASSIGN_OR_RETURN(
      backup::LogSummary log,
      CheckExtractedLog(tmp, m, w.has_value() && !older ? w->tree_size : 0));
  if (w.has_value() && !older && w->tree_size > 0 &&
      log.root_at_size != w->root) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this backup's log differs from the one the HSM has seen backed up "
        "(at size ",
        w->tree_size, "): a different history of log ", m.log_id));
  }
  // 7. On the restored log.
  std::string target_abs = fs::absolute(target, ec).string();
  ASSIGN_OR_RETURN(std::string sha, backup::FileSha256Hex(args.file));
  RETURN_IF_ERROR(audit::RunAudited(
      inst->store(), inst->log(), [&](storage::Transaction& tx) {
        return inst->log().Append(
            tx, {"backup.restore",
                 {{"actor", "cli"},
                  {"file_sha256", sha},
                  {"backup_created", m.created},
                  {"source", m.source},
                  {"data", target_abs},
                  {"tree_size", m.tree_size},
                  {"root_hash", HexEncode(m.root_hash)},
                  {"newer_backup_seen_at",
                   older && w.has_value() ? w->tree_size : int64_t{0}},
                  {"hsm_record", w.has_value() ? "present" : "absent"}}});
      }));
  inst.reset();
  // 8. Into place in one step (rename(2) replaces an empty directory).
  for (const char* f : {"inkan.db-wal", "inkan.db-shm"}) {
    fs::remove(absl::StrCat(tmp, "/", f), ec);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot move the restored data into ", target));
  }
  cleanup.Release();
  Out(absl::StrCat("restored ", args.file, " into ", target));
  Out(absl::StrCat("  log ", m.log_id, ": ", log.entries, " entries and ",
                   log.checkpoints,
                   " checkpoints verified; backup.restore appended"));
  Out(absl::StrCat("  HSM: ", conf["pkcs11.token"],
                   " (same audit key, SHA-256 ", Fingerprint(m.audit_key_der),
                   ")"));
  Out("  next: issue a TLS certificate (inkan tls issue), then inkan serve");
  return absl::OkStatus();
}

absl::Status BackupSchedule(const std::string& data, const std::string& every) {
  ASSIGN_OR_RETURN(absl::Duration d, backup::ParseInterval(every));
  ASSIGN_OR_RETURN(std::unique_ptr<Instance> inst, Instance::Open(data));
  std::string text = absl::FormatDuration(d);
  RETURN_IF_ERROR(audit::RunAudited(
      inst->store(), inst->log(),
      [&](storage::Transaction& tx) -> absl::Status {
        RETURN_IF_ERROR(tx.PutMeta(backup::kIntervalKey, text));
        return inst->log().Append(
            tx, {"backup.schedule", {{"actor", "cli"}, {"interval", text}}});
      }));
  Out(absl::StrCat("backups are due every ", text));
  return absl::OkStatus();
}

absl::Status AuditExport(const std::string& data, int64_t from, int64_t to,
                         const std::string& out) {
  if (out.empty()) return absl::InvalidArgumentError("--out is required");
  ASSIGN_OR_RETURN(std::unique_ptr<Instance> inst, Instance::Open(data));
  ASSIGN_OR_RETURN(std::string key, inst->PinnedAuditKeyDer());
  std::error_code ec;
  if (fs::exists(out, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(out, " exists; refusing to overwrite it"));
  }
  std::string text;
  RETURN_IF_ERROR(inst->store().Transact(
      storage::TxMode::kReadOnly,
      [&](storage::Transaction& tx) -> absl::Status {
        if (to == 0) {
          ASSIGN_OR_RETURN(auto latest, tx.LatestCheckpoint());
          to = latest.has_value() ? latest->tree_size : 0;
        }
        ASSIGN_OR_RETURN(
            text, audit::ExportSegment(tx, inst->log_id(), key, from, to));
        return absl::OkStatus();
      }));
  // Check what we hand out, as the recipient will.
  ASSIGN_OR_RETURN(audit::SegmentInfo info, audit::VerifySegment(text, key));
  RETURN_IF_ERROR(WriteFileAtomic(out, text, 0600));
  RETURN_IF_ERROR(audit::RunAudited(
      inst->store(), inst->log(), [&](storage::Transaction& tx) {
        return inst->log().Append(
            tx, {"audit.export",
                 {{"actor", "cli"},
                  {"first", info.first},
                  {"last", info.last},
                  {"file", fs::path(out).filename().string()},
                  {"file_sha256", HexEncode(crypto::Sha256(text))}}});
      }));
  Out(absl::StrCat("segment written: ", out, ": entries ", info.first, "..",
                   info.last, ", ", info.checkpoints,
                   " signed checkpoints, consistent with the log at size ",
                   info.latest_size));
  Out(absl::StrCat("  audit key SHA-256 ", Fingerprint(key)));
  return absl::OkStatus();
}

absl::Status AuditVerifySegment(const std::string& file,
                                const std::string& audit_key_file) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  std::string pinned;
  if (!audit_key_file.empty()) {
    ASSIGN_OR_RETURN(pinned, KeyFromPemFile(audit_key_file));
  }
  ASSIGN_OR_RETURN(audit::SegmentInfo info, audit::VerifySegment(text, pinned));
  Out(absl::StrCat("segment intact: entries ", info.first, "..", info.last,
                   " of log ", info.log_id, ", ", info.checkpoints,
                   " signed checkpoints, consistent with the log at size ",
                   info.latest_size));
  Out(absl::StrCat("  audit key SHA-256 ", Fingerprint(info.audit_key_der),
                   pinned.empty()
                       ? " (NOT pinned: compare it with the published key, or "
                         "give --audit-key)"
                       : " (the pinned key)"));
  if (pinned.empty()) {
    return absl::FailedPreconditionError(
        "the segment is consistent, but signed by a key nobody pinned: give "
        "--audit-key with the instance's published audit key");
  }
  return absl::OkStatus();
}

namespace {

void PrintPlan(const audit::PrunePlan& plan) {
  if (plan.pruned > 0) {
    Out(absl::StrCat("  pruned already: entries 1..", plan.pruned));
  }
  if (plan.through > plan.pruned) {
    Out(absl::StrCat("  may be pruned now: entries ", plan.pruned + 1, "..",
                     plan.through));
  } else {
    Out("  nothing may be pruned now");
  }
  if (plan.kept_seq > 0) {
    Out(absl::StrCat(
        "  entry ", plan.kept_seq, " is kept ",
        plan.kept_until == absl::InfiniteFuture()
            ? std::string("for now")
            : absl::StrCat("until ", audit::FormatTimestamp(plan.kept_until)),
        " (", plan.kept_because, ")"));
  }
}

}  // namespace

absl::Status AuditRetention(const std::string& data, int audit_years,
                            int auth_years) {
  ASSIGN_OR_RETURN(std::unique_ptr<Instance> inst, Instance::Open(data));
  if (audit_years > 0 || auth_years > 0) {
    // As any policy: directly only until the operators' quorum is in place.
    ASSIGN_OR_RETURN(int k, inst->ceremonies().Quorum());
    ASSIGN_OR_RETURN(auto ops, inst->ceremonies().Operators());
    if (std::count_if(ops.begin(), ops.end(),
                      [](const auto& o) { return o.active; }) >= k) {
      return absl::FailedPreconditionError(
          "the operators' quorum is in place: retention changes are a "
          "ceremony now (inkan ceremony propose retention.set --param "
          "audit_years=N --param auth_years=M ...)");
    }
  }
  audit::RetentionPolicy policy;
  audit::PrunePlan plan;
  absl::Time now = RealClock().Now();
  RETURN_IF_ERROR(audit::RunAudited(
      inst->store(), inst->log(),
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(policy, audit::LoadRetention(tx));
        if (audit_years > 0 || auth_years > 0) {
          if (audit_years > 0) policy.audit_years = audit_years;
          if (auth_years > 0) policy.auth_years = auth_years;
          RETURN_IF_ERROR(audit::SetRetention(tx, inst->log(), policy, "cli"));
        }
        ASSIGN_OR_RETURN(plan, audit::PlanPrune(tx, policy, now));
        return absl::OkStatus();
      }));
  Out(absl::StrCat("retention: audit records ", policy.audit_years,
                   " years after the certificates they concern end; "
                   "user-authentication records ",
                   policy.auth_years, " years after the user's credentials"));
  PrintPlan(plan);
  return absl::OkStatus();
}

absl::Status AuditPrune(const std::string& data) {
  ASSIGN_OR_RETURN(std::unique_ptr<Instance> inst, Instance::Open(data));
  audit::PrunePlan plan;
  absl::Time now = RealClock().Now();
  RETURN_IF_ERROR(audit::RunAudited(
      inst->store(), inst->log(),
      [&](storage::Transaction& tx) -> absl::Status {
        ASSIGN_OR_RETURN(audit::RetentionPolicy policy,
                         audit::LoadRetention(tx));
        ASSIGN_OR_RETURN(plan, audit::PlanPrune(tx, policy, now));
        if (plan.through == plan.pruned) return absl::OkStatus();
        ASSIGN_OR_RETURN(std::string root, audit::RootAt(tx, plan.through));
        // Logged (and signed) before anything is blanked: the verifier
        // accepts blank entries only as far as this entry says.
        return inst->log().Append(
            tx, {std::string(audit::kPruneEventType),
                 {{"actor", "cli"},
                  {"from", plan.pruned + 1},
                  {"through", plan.through},
                  {"root_hash", HexEncode(root)},
                  {"audit_years", int64_t{policy.audit_years}},
                  {"auth_years", int64_t{policy.auth_years}}}});
      }));
  if (plan.through == plan.pruned) {
    Out("nothing to prune: no entry's retention period has ended");
    PrintPlan(plan);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(audit::BlankSqliteAuditPrefix(absl::StrCat(data, "/", kDb),
                                                plan.through));
  Out(absl::StrCat("pruned entries ", plan.pruned + 1, "..", plan.through,
                   " (their leaf hashes are kept; inkan audit verify still "
                   "checks the whole tree)"));
  plan.pruned = plan.through;
  PrintPlan(plan);
  return absl::OkStatus();
}

}  // namespace inkan::cli
