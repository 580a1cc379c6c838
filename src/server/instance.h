// Instance: one inkan data directory, opened — the configuration file, the
// key store, the database, the audit log and the credential service, wired
// together. The CLI and the server both start here.
//
// Layout of a data directory (created by Instance::Init, mode 0700):
//   inkan.conf      backend settings, written last by init (0600)
//   inkan.db        SQLite database (WAL)
//   hsm/            SoftHSMv2 token directory, softhsm2.conf and
//                   user.pin (0600) — when inkan manages the token; the SO
//                   PIN is used once at init and not kept
//   audit-key.pem   the audit key's public half, for outside verifiers
//   software-keys   system keys of the provisional software backend (0600)
#ifndef INKAN_SERVER_INSTANCE_H_
#define INKAN_SERVER_INSTANCE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "audit/audit_log.h"
#include "ca/authority.h"
#include "ceremony/quorum.h"
#include "hsm/key_store.h"
#include "hsm/pkcs11_key_store.h"
#include "sam/credential_service.h"
#include "storage/store.h"

namespace inkan::server {

struct InitOptions {
  std::string backend = "pkcs11";  // or "software" (provisional)
  // For an operator-supplied PKCS#11 token; empty = inkan sets up SoftHSMv2.
  std::string pkcs11_module;
  std::string token_label;
  std::string pin_file;
  // Initial policy (optional overrides, as for `inkan config set`).
  std::map<std::string, std::string> policy;
  // Ceremonies need this many distinct operators (2..255).
  int quorum = 2;
  // With --pkcs11-module: the token already holds inkan's system keys (a
  // second instance on the same HSM, e.g. to restore a CA); use them.
  bool use_existing_keys = false;
};

class Instance {
 public:
  // Creates and initialises a new data directory. AlreadyExists if `dir`
  // holds an inkan instance or any other file; on any failure, what init
  // created is removed again.
  static absl::Status Init(const std::string& dir, const InitOptions& options);
  // FailedPrecondition if `dir` is not an initialised data directory.
  static absl::StatusOr<std::unique_ptr<Instance>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const std::string& log_id() const { return log_id_; }
  storage::Store& store() { return *store_; }
  hsm::KeyStore& keys() { return *keys_; }
  const audit::AuditLog& log() const { return *log_; }
  sam::CredentialService& credentials() { return *credentials_; }
  ceremony::Ceremonies& ceremonies() { return *ceremonies_; }
  ca::Authority& ca() { return *ca_; }
  // Other tokens a ceremony may need (the CA's backup token): give their PIN
  // here before executing it.
  hsm::TokenAccess& tokens() { return *tokens_; }

  // The audit key's public half as pinned at init (audit-key.pem), not as the
  // database or the HSM says now.
  absl::StatusOr<std::string> PinnedAuditKeyDer() const;

 private:
  Instance() = default;
  std::string dir_;
  std::string log_id_;
  std::map<std::string, std::string> conf_;
  std::unique_ptr<hsm::KeyStore> keys_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<sam::CredentialService> credentials_;
  std::unique_ptr<crypto::Verifier> audit_key_;
  std::unique_ptr<ceremony::Ceremonies> ceremonies_;
  std::unique_ptr<hsm::TokenAccess> tokens_;
  std::unique_ptr<ca::Authority> ca_;
};

// Parses "key = value" lines (# comments). InvalidArgument naming the line.
// Opens the key store a configuration names (relative paths under `dir`),
// without the database: to check an HSM before trusting anything else.
absl::StatusOr<std::unique_ptr<hsm::KeyStore>> OpenKeys(
    const std::string& dir, const std::map<std::string, std::string>& conf);

absl::StatusOr<std::map<std::string, std::string>> ParseConf(
    absl::string_view text);

}  // namespace inkan::server

#endif  // INKAN_SERVER_INSTANCE_H_
