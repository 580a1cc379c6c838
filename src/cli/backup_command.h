// The `inkan backup …` commands and the audit log's retention commands
// (`inkan audit export`, `audit verify --segment`): argument parsing is in
// backup_main.cc, the formats in src/backup and src/audit/segment.h. See
// doc/backup_and_retention.md.
#ifndef INKAN_CLI_BACKUP_COMMAND_H_
#define INKAN_CLI_BACKUP_COMMAND_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace inkan::cli {

// A signed, consistent snapshot of `data` into the new file `out`, taken
// while `inkan serve` may be running; logged (backup.create).
absl::Status BackupCreate(const std::string& data, const std::string& out);

// Checks a backup file without an HSM: structure, every part, the signature,
// every entry and checkpoint of the log inside. The signing key is pinned by
// `audit_key_file` (PEM) or by `data`'s audit-key.pem if either is given.
absl::Status BackupVerify(const std::string& file, const std::string& data,
                          const std::string& audit_key_file);

struct RestoreArgs {
  std::string file;
  std::string data;  // the new data directory: absent or empty
  // The SoftHSM token directory the backed-up instance used (its DATA/hsm),
  // for instances whose token lived in their data directory.
  std::string hsm_dir;
  std::string pin_file;  // overrides the token's user-PIN file
  // The PKCS#11 module, for instances that used one (not SoftHSM set up by
  // inkan): never taken from the backup file.
  std::string pkcs11_module;
  // Restore even if the HSM saw a newer backup of this log (the newer ones
  // are lost or damaged): the operator's decision, on the restored log.
  bool allow_older = false;
};
// Restores into an empty or absent directory, with the same HSM; logged in
// the restored log (backup.restore). On any failure nothing is left at
// args.data.
absl::Status BackupRestore(const RestoreArgs& args);

// Sets how often backups are due (reported by `inkan status`); logged.
absl::Status BackupSchedule(const std::string& data, const std::string& every);

// Writes entries from..to (extended to the next checkpoint) as a
// self-contained segment; logged (audit.export).
absl::Status AuditExport(const std::string& data, int64_t from, int64_t to,
                         const std::string& out);
// Verifies a segment alone (no database, no HSM); DataLoss (exit 1) if not.
absl::Status AuditVerifySegment(const std::string& file,
                                const std::string& audit_key_file);

// Shows the retention policy and what may be pruned now; with years > 0,
// sets that period first (logged: retention.set).
absl::Status AuditRetention(const std::string& data, int audit_years,
                            int auth_years);
// Prunes the prefix of the log whose retention ended (logged first:
// audit.prune); prints what is kept and why if nothing may go.
absl::Status AuditPrune(const std::string& data);

}  // namespace inkan::cli

#endif  // INKAN_CLI_BACKUP_COMMAND_H_
