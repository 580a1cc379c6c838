// Argument parsing for the `inkan backup` commands and `inkan audit export`;
// the work is in backup_command.cc.
#include <CLI/CLI.hpp>

#include "cli/backup_command.h"
#include "cli/subcommands.h"

namespace inkan::cli {

void AddBackupCommands(CLI::App& app, std::string& data,
                       const DataOption& data_opt, absl::Status& result) {
  static std::string file, out, audit_key, every;
  static RestoreArgs restore;
  static int64_t from = 1, to = 0;

  auto* backup =
      app.add_subcommand("backup",
                         "signed snapshots of a data directory: create, "
                         "verify, restore (doc/backup_and_retention.md)")
          ->require_subcommand(1);
  auto* create = backup->add_subcommand(
      "create",
      "write a signed, consistent snapshot (safe while inkan serve runs)");
  data_opt(create);
  create->add_option("--out", out, "the backup file to write (must not exist)")
      ->required();
  create->callback([&] { result = BackupCreate(data, out); });

  auto* verify = backup->add_subcommand(
      "verify",
      "check a backup file: every part, the signature, every log entry and "
      "checkpoint (no HSM needed)");
  verify->add_option("file", file, "the backup file")->required();
  verify->add_option("--data", data,
                     "pin the signing key to this data directory's "
                     "audit-key.pem");
  verify->add_option("--audit-key", audit_key,
                     "pin the signing key to this PEM public key");
  verify->callback([&] { result = BackupVerify(file, data, audit_key); });

  auto* rest = backup->add_subcommand(
      "restore",
      "restore a backup into an empty or new data directory, with the same "
      "HSM");
  rest->add_option("file", restore.file, "the backup file")->required();
  data_opt(rest);
  rest->add_option("--hsm-dir", restore.hsm_dir,
                   "the SoftHSM token directory the instance used (its "
                   "DATA/hsm)");
  rest->add_option("--pin-file", restore.pin_file,
                   "the token's user-PIN file, if it is not where the "
                   "configuration says");
  rest->add_option("--pkcs11-module", restore.pkcs11_module,
                   "the PKCS#11 module of the instance's HSM, if it used one "
                   "(a backup's own setting is never loaded)");
  rest->add_flag("--allow-older", restore.allow_older,
                 "restore although the HSM saw a newer backup of this log "
                 "(every copy of it lost); recorded on the restored log");
  rest->callback([&] {
    restore.data = data;
    result = BackupRestore(restore);
  });

  auto* schedule = backup->add_subcommand(
      "schedule", "how often a backup is due (inkan status reports misses)");
  data_opt(schedule);
  schedule->add_option("--every", every, "a duration, e.g. 24h (default)")
      ->required();
  schedule->callback([&] { result = BackupSchedule(data, every); });

  CLI::App* audit = app.get_subcommand("audit");
  auto* exp = audit->add_subcommand(
      "export",
      "write entries FROM..TO as a segment that verifies alone (inkan audit "
      "verify --segment)");
  data_opt(exp);
  exp->add_option("--from", from, "first entry (default 1)");
  exp->add_option("--to", to,
                  "last entry (default: the latest checkpoint; extended to "
                  "the next checkpoint)");
  exp->add_option("--out", out, "the segment file to write")->required();
  exp->callback([&] { result = AuditExport(data, from, to, out); });

  static int audit_years = 0, auth_years = 0;
  auto* retention = audit->add_subcommand(
      "retention",
      "how long entries are kept, and what may be pruned now (a dry run)");
  data_opt(retention);
  retention->add_option("--audit-years", audit_years,
                        "set: years after the certificates end (7..100, "
                        "default 10)");
  retention->add_option("--auth-years", auth_years,
                        "set: years after the user's credentials end for "
                        "user-authentication records (7..100, default 10)");
  retention->callback(
      [&] { result = AuditRetention(data, audit_years, auth_years); });
  auto* prune = audit->add_subcommand(
      "prune",
      "blank the entries whose retention ended (a prefix; leaf hashes kept)");
  data_opt(prune);
  prune->callback([&] { result = AuditPrune(data); });
}

}  // namespace inkan::cli
