// Store: inkan's persistent state behind one small interface (users,
// credentials, configuration, the audit log's rows).
//
// Every change runs inside Transact(): the callback sees a Transaction, and
// what it wrote is committed only if it returns OK; any error (or a crash
// before commit) leaves the store as it was. A caller that changes state and
// records the change on the audit log does both in one transaction, so they
// land together or not at all.
//
// Backends: SQLite in WAL mode (OpenSqliteStore, the embedded default), an
// in-memory fake for unit tests (NewMemoryStore), and a fault-injection
// wrapper that fails the N-th write (NewFaultInjectionStore). All pass the
// same contract suite (store_contract_test.h). A PostgreSQL backend implements
// the same interface; callers do not change.
//
// Thread-safety: a Store may be used from many threads; each Transact call
// gets its own transaction. A Transaction must not leave its callback.
#ifndef INKAN_STORAGE_STORE_H_
#define INKAN_STORAGE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace inkan::storage {

struct UserRecord {
  int64_t id = 0;  // assigned by InsertUser
  std::string name;
  absl::Time created;
};

struct CredentialRecord {
  std::string id;  // public identifier (random hex)
  int64_t user_id = 0;
  std::string algorithm;   // crypto::KeyAlgorithmName, e.g. "ec-p256"
  std::string backend;     // "pkcs11" or "software"
  std::string public_key;  // DER SubjectPublicKeyInfo
  std::string sealed_key;  // opaque sealed blob (src/sam); never key material
                           // in the clear
  int failed_tries = 0;    // consecutive bad activation attempts
  bool locked = false;
  absl::Time created;
};

// One audit log entry. `entry` is the canonical JSON text of the event (see
// doc/audit_log_format.md); `leaf_hash` is SHA-256(0x00 || entry), kept to
// name an edited row precisely (the verifier never trusts it).
struct AuditEntryRow {
  int64_t seq = 0;  // 1-based, contiguous
  std::string entry;
  std::string leaf_hash;  // 32 raw bytes
};

// A signed checkpoint: `note` is the signed text (log id, size, root, time).
struct CheckpointRow {
  int64_t tree_size = 0;
  std::string note;
  std::string signature;
};

// An operator or custodian (issue 3): a person who approves ceremonies with
// their own key, which never leaves their token or file.
struct OperatorRecord {
  std::string name;        // unique, also the id
  std::string public_key;  // DER SubjectPublicKeyInfo (P-256 or Ed25519)
  absl::Time created;
  bool active = true;  // false once removed; rows are never deleted
};

// A ceremony request: the exact canonical bytes operators sign.
struct CeremonyRequestRecord {
  std::string id;         // hex SHA-256 of `canonical`
  std::string canonical;  // canonical JSON (operation, params, nonce, expiry,
                          // config hash)
  std::string operation;  // e.g. "operator.add", "ca.init"
  std::string proposer;   // operator name
  absl::Time created;
  absl::Time expires;
  std::string state = "pending";  // pending | executed | cancelled | failed
  absl::Time closed;    // when it left "pending"; unset (absl::Time()) while
                        // pending, stored as NULL
  std::string outcome;  // what execution or cancellation said
};

// One operator's signature over a request's canonical bytes.
struct ApprovalRecord {
  std::string request_id;
  std::string operator_name;
  std::string signature;
  absl::Time at;
};

// A certificate the CA issued (issue 3).
struct CertificateRecord {
  std::string serial_hex;  // lowercase hex, unique
  // The credential it certifies ("" for CA-internal ones).
  std::string credential_id;
  std::string subject;  // RFC 4514 text
  std::string der;
  absl::Time not_before;
  absl::Time not_after;
  absl::Time issued;
  bool revoked = false;
  absl::Time revoked_at;  // unset unless revoked
  int reason = 0;         // RFC 5280 CRLReason, when revoked
};

// A client application of the CSC API (an OAuth 2.0 client, issue 4).
struct ClientRecord {
  std::string client_id;  // unique
  std::string name;
  // Exact-match redirect URIs (OAuth 2.0 authorization code flow).
  std::vector<std::string> redirect_uris;
  // Hex SHA-256 of the client secret; "" for a public client (PKCE only).
  std::string secret_hash;
  absl::Time created;
  bool active = true;  // false once removed; rows are never deleted
};

// A bearer secret the service handed out, kept only as its hash: an access
// or refresh token, an OAuth 2.0 authorization code, or a SAD (signature
// activation data, bound to a credential and a set of document hashes).
struct GrantRecord {
  std::string id;    // hex SHA-256 of the secret; the secret is never stored
  std::string kind;  // "access", "refresh", "code" or "sad"
  int64_t user_id = 0;
  std::string client_id;      // "" when none (HTTP Basic auth/login)
  std::string scope;          // "service" or "credential"
  std::string credential_id;  // credential-scoped grants; "" otherwise
  // The document hashes a credential-scoped grant is bound to, in canonical
  // form (sorted base64, comma-separated); "" for none. (Which of them a SAD
  // has signed is on the audit log; uses_left counts what is left.)
  std::string hashes;
  int64_t uses_left = 0;  // SAD: signatures left; code: 1; -1: unlimited
  std::string parent;     // the grant this one came from, "" for none
  std::string data;       // kind-specific canonical JSON (PKCE, redirect URI)
  absl::Time created;
  absl::Time expires;
  bool revoked = false;
};

// A user's possession factor (issue 4): a TOTP authenticator or a smart card.
// One per user and kind.
struct FactorRecord {
  int64_t user_id = 0;
  std::string kind;         // "totp" or "card"
  std::string secret;       // TOTP: its secret, sealed (opaque); card: ""
  std::string certificate;  // card: its authentication certificate (DER)
  int64_t last_step = -1;   // TOTP: last accepted time step (replay guard)
  int failed_tries = 0;     // consecutive bad codes / card signatures
  bool locked = false;
  absl::Time created;
};

// The operations available inside one transaction. Errors: NotFound for a
// missing row, AlreadyExists for a duplicate key, FailedPrecondition for a
// broken reference (a credential for a missing user), Internal/Unavailable
// for backend failures.
class Transaction {
 public:
  virtual ~Transaction() = default;

  // Configuration and small state, by key.
  virtual absl::StatusOr<std::optional<std::string>> GetMeta(
      absl::string_view key) = 0;
  virtual absl::Status PutMeta(absl::string_view key,
                               absl::string_view value) = 0;

  // Returns the new user's id. AlreadyExists if the name is taken.
  virtual absl::StatusOr<int64_t> InsertUser(const UserRecord& user) = 0;
  virtual absl::StatusOr<UserRecord> GetUserByName(absl::string_view name) = 0;
  virtual absl::StatusOr<UserRecord> GetUserById(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<UserRecord>> ListUsers() = 0;  // by id

  virtual absl::Status InsertCredential(const CredentialRecord& cred) = 0;
  virtual absl::StatusOr<CredentialRecord> GetCredential(
      absl::string_view id) = 0;
  virtual absl::StatusOr<std::vector<CredentialRecord>> ListCredentials(
      int64_t user_id) = 0;
  // Sets the bad-try counter and the lock flag. NotFound if no such credential.
  virtual absl::Status UpdateCredentialTries(absl::string_view id,
                                             int failed_tries, bool locked) = 0;

  // Operators. AlreadyExists for a taken name; NotFound for an unknown one.
  virtual absl::Status InsertOperator(const OperatorRecord& op) = 0;
  virtual absl::StatusOr<OperatorRecord> GetOperator(
      absl::string_view name) = 0;
  // All operators, active and removed, ordered by name.
  virtual absl::StatusOr<std::vector<OperatorRecord>> ListOperators() = 0;
  virtual absl::Status SetOperatorActive(absl::string_view name,
                                         bool active) = 0;

  // Ceremony requests. AlreadyExists for a taken id; NotFound for an unknown.
  // InsertCeremonyRequest stores the record as given (normally "pending" with
  // `closed` unset); InvalidArgument if `state` is not one of the four.
  virtual absl::Status InsertCeremonyRequest(
      const CeremonyRequestRecord& req) = 0;
  virtual absl::StatusOr<CeremonyRequestRecord> GetCeremonyRequest(
      absl::string_view id) = 0;
  // Requests in `state` ("" for all), newest first (by `created`, ties by
  // id, descending), at most `limit`. InvalidArgument if limit < 0.
  virtual absl::StatusOr<std::vector<CeremonyRequestRecord>>
  ListCeremonyRequests(absl::string_view state, int64_t limit) = 0;
  // Moves a request out of "pending" into `state` (executed, cancelled or
  // failed, else InvalidArgument), recording `closed` and `outcome`.
  // NotFound for an unknown id; FailedPrecondition unless it is pending (a
  // request is executed or cancelled at most once).
  virtual absl::Status CloseCeremonyRequest(absl::string_view id,
                                            absl::string_view state,
                                            absl::Time closed,
                                            absl::string_view outcome) = 0;
  // AlreadyExists if this operator already approved this request;
  // FailedPrecondition if the request or the operator does not exist. (An
  // inactive operator or a closed request is the caller's check.)
  virtual absl::Status InsertApproval(const ApprovalRecord& approval) = 0;
  // In the order they were given; empty for an unknown request.
  virtual absl::StatusOr<std::vector<ApprovalRecord>> ListApprovals(
      absl::string_view request_id) = 0;

  // Certificates. AlreadyExists for a serial issued before (serials are
  // never reused); NotFound for an unknown one. Rows are never deleted.
  // InsertCertificate stores the record as given (normally not revoked, with
  // `revoked_at` unset, stored as NULL); InvalidArgument if `reason` is not a
  // CRLReason (see RevokeCertificate).
  virtual absl::Status InsertCertificate(const CertificateRecord& cert) = 0;
  virtual absl::StatusOr<CertificateRecord> GetCertificate(
      absl::string_view serial_hex) = 0;
  // For one credential ("" for all, CA-internal ones included), ordered by
  // issue time (ties by serial); empty for an unknown credential.
  virtual absl::StatusOr<std::vector<CertificateRecord>> ListCertificates(
      absl::string_view credential_id) = 0;
  // Marks it revoked at `at` for `reason`, an RFC 5280 (5.3.1) CRLReason:
  // InvalidArgument unless 0..10 and not 7 (checked before the lookup).
  // NotFound for an unknown serial; FailedPrecondition if it is already
  // revoked (revocation is final).
  virtual absl::Status RevokeCertificate(absl::string_view serial_hex,
                                         absl::Time at, int reason) = 0;
  // All revoked certificates (for the CRL), ordered by revocation time (ties
  // by serial).
  virtual absl::StatusOr<std::vector<CertificateRecord>>
  ListRevokedCertificates() = 0;

  // Clients. AlreadyExists for a taken id; NotFound for an unknown one.
  virtual absl::Status InsertClient(const ClientRecord& client) = 0;
  virtual absl::StatusOr<ClientRecord> GetClient(
      absl::string_view client_id) = 0;
  // All clients, active and removed, ordered by client_id.
  virtual absl::StatusOr<std::vector<ClientRecord>> ListClients() = 0;
  virtual absl::Status SetClientActive(absl::string_view client_id,
                                       bool active) = 0;

  // Grants. AlreadyExists for a taken id; NotFound for an unknown one;
  // FailedPrecondition for an unknown user; InvalidArgument for a kind that
  // is not one of the four.
  virtual absl::Status InsertGrant(const GrantRecord& grant) = 0;
  virtual absl::StatusOr<GrantRecord> GetGrant(absl::string_view id) = 0;
  // Sets uses_left, hashes and revoked of a grant (consuming a SAD, revoking
  // a token). NotFound for an unknown id.
  virtual absl::Status UpdateGrant(absl::string_view id, int64_t uses_left,
                                   absl::string_view hashes, bool revoked) = 0;
  // Consuming a SAD: lowers uses_left to `uses_left` (never raises it) and
  // sets revoked if `revoke` (never clears it), leaving the hashes as they
  // are (a SAD's authorized set can be 1000 hashes: a signature need not
  // rewrite it). Monotonic, so commits of concurrent requests may land in
  // any order. NotFound for an unknown id.
  virtual absl::Status LowerGrantUses(absl::string_view id, int64_t uses_left,
                                      bool revoke) = 0;
  // Revokes every grant whose parent is `parent` (its direct children only);
  // returns how many changed (ones revoked before do not count).
  // InvalidArgument if `parent` is empty: that would name every grant that
  // has no parent.
  virtual absl::StatusOr<int64_t> RevokeGrantsWithParent(
      absl::string_view parent) = 0;
  // Deletes grants whose expiry is before `now` (one expiring exactly at
  // `now` stays); returns how many.
  virtual absl::StatusOr<int64_t> DeleteExpiredGrants(absl::Time now) = 0;

  // Possession factors. PutFactor inserts or replaces the (user, kind) row;
  // FailedPrecondition for an unknown user; InvalidArgument for a kind other
  // than "totp" or "card". NotFound for a missing row.
  virtual absl::Status PutFactor(const FactorRecord& factor) = 0;
  virtual absl::StatusOr<FactorRecord> GetFactor(int64_t user_id,
                                                 absl::string_view kind) = 0;
  // A user's factors, ordered by kind.
  virtual absl::StatusOr<std::vector<FactorRecord>> ListFactors(
      int64_t user_id) = 0;
  virtual absl::Status UpdateFactorState(int64_t user_id,
                                         absl::string_view kind,
                                         int64_t last_step, int failed_tries,
                                         bool locked) = 0;

  // Appends one entry. FailedPrecondition unless row.seq is one past the
  // last entry's seq (the log has no gaps).
  virtual absl::Status AppendAuditEntry(const AuditEntryRow& row) = 0;
  // Entries with seq in [from_seq, from_seq + limit), in seq order.
  // InvalidArgument if limit < 0.
  virtual absl::StatusOr<std::vector<AuditEntryRow>> ReadAuditEntries(
      int64_t from_seq, int64_t limit) = 0;
  virtual absl::StatusOr<int64_t> AuditEntryCount() = 0;
  // AlreadyExists if a checkpoint for that size exists.
  virtual absl::Status AppendCheckpoint(const CheckpointRow& row) = 0;
  // All checkpoints in increasing tree_size order.
  virtual absl::StatusOr<std::vector<CheckpointRow>> ReadCheckpoints() = 0;
  virtual absl::StatusOr<std::optional<CheckpointRow>> LatestCheckpoint() = 0;
};

enum class TxMode { kReadOnly, kReadWrite };

class Store {
 public:
  virtual ~Store() = default;
  // Runs fn in one transaction and commits if it returns OK; otherwise rolls
  // back and returns fn's status. In kReadOnly mode writes fail with
  // FailedPrecondition. Unavailable if the backend cannot be reached or
  // stays busy past its timeout.
  virtual absl::Status Transact(
      TxMode mode, absl::FunctionRef<absl::Status(Transaction&)> fn) = 0;
};

// SQLite in WAL mode at `path` (created if missing, mode 0600), migrated to
// the current schema version. FailedPrecondition if the file's schema is
// newer than this binary knows.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

// An in-memory store with the same semantics (for unit tests).
std::unique_ptr<Store> NewMemoryStore();

// Wraps `base` (which must outlive it). Write operations are counted across
// transactions; the write numbered `fail_at` (1-based) and every later one
// fail with Internal("injected fault") until Reset(), which simulates a crash
// at that point: the transaction rolls back (even if its callback ignores the
// error and returns OK). FailAtWrite(0) disarms; Reset() disarms and sets
// writes() back to 0. Reads are passed through and not counted.
class FaultInjectionStore : public Store {
 public:
  virtual void FailAtWrite(int64_t fail_at) = 0;
  virtual void Reset() = 0;
  virtual int64_t writes() const = 0;  // writes attempted so far
};
std::unique_ptr<FaultInjectionStore> NewFaultInjectionStore(Store& base);

}  // namespace inkan::storage

#endif  // INKAN_STORAGE_STORE_H_
