// The `inkan` commands, free of any argument-parsing library: main.cc parses
// the command line and calls these. Each returns a Status; main maps it to a
// message on stderr and an exit code (exit_codes below).
#ifndef INKAN_CLI_COMMANDS_H_
#define INKAN_CLI_COMMANDS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace inkan::cli {

// Exit codes: 0 success, 1 audit log not intact, 2 usage error, 3 not found,
// 4 already exists, 5 wrong PIN/authentication, 6 locked/permission denied,
// 7 failed precondition (e.g. not initialised), 8 HSM/database unavailable,
// 9 unimplemented, 10 any other error.
int ExitCodeFor(const absl::Status& status);

struct InitArgs {
  std::string data;
  int quorum = 2;
  bool use_existing_keys = false;
  std::string backend = "pkcs11";
  std::string pkcs11_module, token_label, pin_file;
  std::vector<std::string> policy;  // key=value
};
absl::Status Init(const InitArgs& args);

absl::Status UserAdd(const std::string& data, const std::string& name);
absl::Status UserList(const std::string& data);

// `scal`: 1 lets the credential be authorized in explicit mode (PIN + code
// through the API); 2 (default) only on the service's consent page.
absl::Status CredentialCreate(const std::string& data, const std::string& user,
                              const std::string& alg, int scal);
// OAuth 2.0 clients of the CSC API: registered with exact redirect URIs;
// with `secret_file`, a confidential client (its secret's SHA-256 is kept).
absl::Status ClientAdd(const std::string& data, const std::string& id,
                       const std::vector<std::string>& redirect_uris,
                       const std::string& secret_file);
absl::Status ClientList(const std::string& data);
// Registers (or replaces) the user's smart card by its authentication
// certificate (PEM or DER), after the user's PIN.
absl::Status CardRegister(const std::string& data, const std::string& user,
                          const std::string& cert_file);
// Enrolls (or replaces) the user's TOTP authenticator after their PIN (from
// stdin/terminal); prints the otpauth:// URI once.
absl::Status TotpEnroll(const std::string& data, const std::string& user,
                        const std::string& issuer);
absl::Status CredentialSign(const std::string& data, const std::string& id,
                            const std::string& hash_hex,
                            const std::string& hash_alg, bool pss);
absl::Status CredentialList(const std::string& data, const std::string& user);
absl::Status CredentialShow(const std::string& data, const std::string& id);

// Returns DataLoss (exit 1) when the log is not intact.
absl::Status AuditVerify(const std::string& data);
absl::Status AuditShow(const std::string& data, int64_t from, int64_t count);

absl::Status ConfigSet(const std::string& data, const std::string& key,
                       const std::string& value);
absl::Status ConfigShow(const std::string& data);
absl::Status Status(const std::string& data);

// Operators and ceremonies (multi-person control).
absl::Status OperatorAdd(const std::string& data, const std::string& name,
                         const std::string& public_key_file);
absl::Status OperatorList(const std::string& data);

// How an operator's signature is given: made here from their own key file,
// or made elsewhere (e.g. `openssl dgst -sha256 -sign`) and given as a file.
struct OperatorSignature {
  std::string operator_name;
  std::string key_file;        // PEM private key (P-256 or Ed25519)
  std::string signature_file;  // raw signature bytes over the request
};
absl::Status CeremonyOperations();
absl::Status CeremonyPropose(const std::string& data,
                             const std::string& operation,
                             const std::vector<std::string>& params,
                             const std::string& ttl,
                             const OperatorSignature& proposer);
absl::Status CeremonyApprove(const std::string& data, const std::string& id,
                             const OperatorSignature& sig);
absl::Status CeremonyCancel(const std::string& data, const std::string& id,
                            const OperatorSignature& sig);
absl::Status CeremonyStatus(const std::string& data, const std::string& id);
// Prints a request's canonical bytes exactly (what operators sign).
absl::Status CeremonyShow(const std::string& data, const std::string& id);
// `share_dir`: where printed shares (for custodians without a P-256 key) are
// written, one 0600 file per custodian, after the execution committed.
absl::Status CeremonyExecute(const std::string& data, const std::string& id,
                             const std::vector<std::string>& share_files,
                             const std::string& share_dir,
                             const std::string& backup_pin_file);

// The CA. `shares` are files holding custodians' text shares.
struct CaInitArgs {
  std::string subject, alg = "ec-p256", ocsp_url, crl_url, ca_issuers_url;
  std::string mode = "root";  // or "csr" for an external root
  int days = 3650, ee_days = 365;
};
absl::Status CaInit(const std::string& data, const CaInitArgs& args,
                    const OperatorSignature& proposer);
absl::Status CaStatus(const std::string& data);
absl::Status CaCertificate(const std::string& data);
absl::Status CaShare(const std::string& data, const std::string& custodian);
// On the custodian's own machine: opens a sealed share with their key.
absl::Status CaOpenShare(const std::string& sealed_file,
                         const std::string& key_file);
// The CA key in a running `inkan serve`: enter one custodian's share (the
// k-th activates it for `window`, e.g. "8h"); deactivate it.
absl::Status CaActivate(const std::string& data, const std::string& share_file,
                        const std::string& window, const std::string& actor);
absl::Status CaDeactivate(const std::string& data, const std::string& actor);
// The HTTPS certificate of `inkan serve`: a new key and a certificate from
// inkan's CA (the service's active CA key, or k shares) for `names`, into
// DATA/tls/{key.pem (0600), cert.pem (with the CA certificate)}.
absl::Status TlsIssue(const std::string& data,
                      const std::vector<std::string>& names,
                      const std::vector<std::string>& shares);
// A new delegated OCSP responder certificate, from the service's active CA
// key or with k shares.
absl::Status CaRenewResponder(const std::string& data,
                              const std::vector<std::string>& shares);

// `inkan sign FILE... --service URL --credential ID --user U`: CAdES-B-B
// detached signatures (FILE.p7s) made through the service's CSC API. PINs and
// the one-time code are read from the terminal (or stdin, one per line: the
// user's PIN, the credential's PIN, the code). SCAL 2 credentials (or with
// `consent`) are authorized on the service's consent page instead: only the
// user's PIN is read; the link is printed on stderr and the browser's answer
// is awaited on http://127.0.0.1:`redirect_port`/cb (RFC 8252).
struct SignArgs {
  std::vector<std::string> files;
  std::string service;  // https://host:port/csc/v2
  std::string credential;
  std::string user;
  std::string cacert;     // trust anchors for the service's TLS certificate
  bool consent = false;   // the consent page even for SCAL 1
  std::string client_id;  // the registered OAuth client
  int redirect_port = 0;  // 0: ephemeral
  std::string consent_timeout = "5m";
  std::string lang;  // "ja", "en"; "" = from the locale, else the browser's
  // The possession factor as a smart card (explicit mode): its PKCS#11
  // module, token label and (optional) key label.
  std::string card_module, card_token, card_key;
};
absl::Status Sign(const SignArgs& args);

// The service: runs until SIGTERM/SIGINT.
struct ServeArgs {
  std::string data;
  std::string listen;  // HTTPS "HOST:PORT"; "" = control socket only
  std::string tls_cert, tls_key;
  std::string sad_ttl = "5m";
  int io_threads = 16;
  std::string crl_every = "1h";
  std::string max_activation = "24h";
};
absl::Status Serve(const ServeArgs& args);

// Without shares, cert issue / revoke and crl ask the running service, whose
// CA key the custodians activated.
absl::Status CertIssue(const std::string& data, const std::string& credential,
                       const std::string& subject,
                       const std::vector<std::string>& shares);
absl::Status CertRevoke(const std::string& data, const std::string& serial,
                        const std::string& reason,
                        const std::vector<std::string>& shares);
absl::Status CertShow(const std::string& data, const std::string& serial);
absl::Status Crl(const std::string& data,
                 const std::vector<std::string>& shares);

// Serves OCSP over HTTP until SIGTERM/SIGINT; prints "listening on HOST:PORT".
// External root: print the CSR; propose ca.import of the signed certificate.
absl::Status CaCsr(const std::string& data);
absl::Status CaImport(const std::string& data, const std::string& cert_file,
                      const std::string& chain_file,
                      const OperatorSignature& proposer);
// Writes the CA backup bundle (no secret; see ca::Authority::BackupBundle),
// or with `to_token` proposes ca.backup onto that PKCS#11 token.
absl::Status CaBackup(const std::string& data, const std::string& out_file,
                      const std::string& to_token,
                      const std::string& token_module,
                      const OperatorSignature& proposer);
// Proposes ca.restore with the bundle in `in_file`, or from the record on
// backup token `from_token` (read with the PIN in `backup_pin_file`).
absl::Status CaRestore(const std::string& data, const std::string& in_file,
                       const std::string& from_token,
                       const std::string& token_module,
                       const std::string& backup_pin_file,
                       const OperatorSignature& proposer);
// A custodian acknowledges the destruction of the CA key.
// Proposes ca.destroy or ca.rekey (no parameters).
absl::Status CaPropose(const std::string& data, const std::string& operation,
                       const OperatorSignature& proposer);
absl::Status CaDestroyAck(const std::string& data,
                          const OperatorSignature& sig);
absl::Status OcspServe(const std::string& data, const std::string& listen);

}  // namespace inkan::cli

#endif  // INKAN_CLI_COMMANDS_H_
