// The `inkan` command. Argument parsing only (CLI11 stays in main.cc and the
// *_main.cc files of command groups, see subcommands.h); the work is in
// commands.cc and the *_command.cc files.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/backup_command.h"
#include "cli/commands.h"
#include "cli/subcommands.h"

namespace {

std::string DataFromEnv() {
  const char* env = std::getenv("INKAN_DATA");
  return env == nullptr ? "" : env;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace inkan::cli;  // NOLINT
  CLI::App app{
      "inkan — remote signing with keys sealed in an HSM under the user's "
      "factors"};
  app.require_subcommand(1);
  std::string data = DataFromEnv();
  auto data_opt = [&](CLI::App* cmd) {
    cmd->add_option("--data", data, "data directory (default: $INKAN_DATA)");
  };
  absl::Status result;

  InitArgs init;
  auto* init_cmd = app.add_subcommand(
      "init", "create a data directory, HSM token, keys and log");
  data_opt(init_cmd);
  init_cmd
      ->add_option("--backend", init.backend,
                   "pkcs11 (default) or software (provisional)")
      ->check(CLI::IsMember({"pkcs11", "software"}));
  init_cmd->add_option(
      "--pkcs11-module", init.pkcs11_module,
      "use this PKCS#11 module and an existing token instead of SoftHSMv2");
  init_cmd->add_option("--token-label", init.token_label,
                       "label of the existing token");
  init_cmd->add_option("--pin-file", init.pin_file,
                       "file (0600) holding the token's user PIN");
  init_cmd->add_option("--policy", init.policy,
                       "initial policy, KEY=VALUE (repeatable)");
  init_cmd->add_option("--quorum", init.quorum,
                       "operators needed for a ceremony (default 2)");
  init_cmd->add_flag(
      "--use-existing-keys", init.use_existing_keys,
      "the token already holds inkan's system keys (same HSM, new instance)");
  init_cmd->callback([&] {
    init.data = data;
    result = Init(init);
  });

  auto* user =
      app.add_subcommand("user", "manage users")->require_subcommand(1);
  std::string name;
  auto* user_add =
      user->add_subcommand("add", "add a user; reads the PIN (tty or stdin)");
  data_opt(user_add);
  user_add->add_option("name", name, "user name")->required();
  user_add->callback([&] { result = UserAdd(data, name); });
  auto* user_list = user->add_subcommand("list", "list users");
  data_opt(user_list);
  user_list->callback([&] { result = UserList(data); });

  auto* cred = app.add_subcommand("credential", "manage signing credentials")
                   ->require_subcommand(1);
  std::string alg, id, hash, hash_alg = "sha256";
  bool pss = false;
  auto* create = cred->add_subcommand(
      "create", "make a key in the HSM, sealed under the user's PIN");
  data_opt(create);
  create->add_option("--user", name, "owner")->required();
  create
      ->add_option("--alg", alg,
                   "ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096|ed25519")
      ->required();
  int scal = 2;
  create->add_option("--scal", scal,
                     "2 (default): authorized only on the consent page; 1: "
                     "also in explicit mode (PIN + one-time code)");
  create->callback([&] { result = CredentialCreate(data, name, alg, scal); });
  auto* sign = cred->add_subcommand(
      "sign", "sign a hash; prints the signature in base64");
  data_opt(sign);
  sign->add_option("--id", id, "credential ID")->required();
  sign->add_option("--hash", hash, "the hash to sign, in hex")->required();
  sign->add_option("--hash-alg", hash_alg,
                   "sha256 (default), sha384 or sha512");
  sign->add_flag("--pss", pss, "RSA-PSS instead of PKCS#1 v1.5 (RSA keys)");
  sign->callback(
      [&] { result = CredentialSign(data, id, hash, hash_alg, pss); });
  auto* list = cred->add_subcommand("list", "list a user's credentials");
  data_opt(list);
  list->add_option("--user", name, "owner")->required();
  list->callback([&] { result = CredentialList(data, name); });
  auto* show = cred->add_subcommand(
      "show", "show a credential and its public key (PEM)");
  data_opt(show);
  show->add_option("--id", id, "credential ID")->required();
  show->callback([&] { result = CredentialShow(data, id); });

  auto* audit = app.add_subcommand("audit", "the tamper-evident audit log")
                    ->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "check every entry and signed checkpoint");
  data_opt(verify);
  std::string segment, segment_key;
  verify->add_option("--segment", segment,
                     "verify an exported segment alone (no database, no HSM)");
  verify->add_option("--audit-key", segment_key,
                     "with --segment: the audit public key (PEM) to pin");
  verify->callback([&] {
    result = segment.empty() ? AuditVerify(data)
                             : AuditVerifySegment(segment, segment_key);
  });
  int64_t from = 1, count = 100;
  auto* ashow = audit->add_subcommand("show", "print entries");
  data_opt(ashow);
  ashow->add_option("--from", from, "first seq (default 1)");
  ashow->add_option("--count", count, "how many (default 100)");
  ashow->callback([&] { result = AuditShow(data, from, count); });

  auto* config =
      app.add_subcommand("config", "policy settings (changes are logged)")
          ->require_subcommand(1);
  std::string key, value;
  auto* set = config->add_subcommand("set",
                                     "set max_failed_tries, argon2.t_cost, "
                                     "argon2.m_cost_kib or argon2.parallelism");
  data_opt(set);
  set->add_option("key", key)->required();
  set->add_option("value", value)->required();
  set->callback([&] { result = ConfigSet(data, key, value); });
  auto* cshow = config->add_subcommand("show", "print the policy");
  data_opt(cshow);
  cshow->callback([&] { result = ConfigShow(data); });

  // ---- operators and ceremonies ----
  auto* op = app.add_subcommand("operator", "operators who approve ceremonies")
                 ->require_subcommand(1);
  std::string key_file;
  auto* op_add = op->add_subcommand(
      "add",
      "register an operator directly (only until the quorum is complete)");
  data_opt(op_add);
  op_add->add_option("name", name, "operator name")->required();
  op_add
      ->add_option("--public-key", key_file,
                   "the operator's public key (PEM or DER)")
      ->required();
  op_add->callback([&] { result = OperatorAdd(data, name, key_file); });
  auto* op_list = op->add_subcommand("list", "list operators and the quorum");
  data_opt(op_list);
  op_list->callback([&] { result = OperatorList(data); });

  auto* cer = app.add_subcommand("ceremony", "k-of-n approved operations")
                  ->require_subcommand(1);
  OperatorSignature sig;
  std::string operation, ttl = "24h";
  std::vector<std::string> params;
  auto sig_opts = [&](CLI::App* cmd, bool required) {
    auto* o =
        cmd->add_option("--operator", sig.operator_name, "the operator acting");
    if (required) o->required();
    cmd->add_option("--key", sig.key_file,
                    "sign with this PEM private key (the operator's own)");
    cmd->add_option(
        "--signature", sig.signature_file,
        "or: a signature made elsewhere over `inkan ceremony show` output");
  };
  auto* ops_cmd = cer->add_subcommand("operations",
                                      "list the operations a ceremony can run");
  ops_cmd->callback([&] { result = CeremonyOperations(); });
  auto* propose =
      cer->add_subcommand("propose", "create a request; prints its id");
  data_opt(propose);
  propose
      ->add_option("operation", operation,
                   "e.g. operator.add, quorum.set, policy.set")
      ->required();
  propose->add_option("--param", params,
                      "KEY=VALUE (KEY=@FILE for a public key file)");
  propose->add_option("--ttl", ttl,
                      "how long it may be approved (default 24h)");
  sig_opts(propose, false);
  propose->callback(
      [&] { result = CeremonyPropose(data, operation, params, ttl, sig); });
  auto* approve =
      cer->add_subcommand("approve", "sign a request as an operator");
  data_opt(approve);
  approve->add_option("--id", id, "request id")->required();
  sig_opts(approve, true);
  approve->callback([&] { result = CeremonyApprove(data, id, sig); });
  auto* cancel =
      cer->add_subcommand("cancel", "cancel a pending request (one operator)");
  data_opt(cancel);
  cancel->add_option("--id", id, "request id")->required();
  sig_opts(cancel, true);
  cancel->callback([&] { result = CeremonyCancel(data, id, sig); });
  auto* cstatus =
      cer->add_subcommand("status", "one request, or all pending ones");
  data_opt(cstatus);
  cstatus->add_option("--id", id, "request id");
  cstatus->callback([&] { result = CeremonyStatus(data, id); });
  auto* cshow2 = cer->add_subcommand(
      "show", "print a request's exact bytes (what is signed)");
  data_opt(cshow2);
  cshow2->add_option("--id", id, "request id")->required();
  cshow2->callback([&] { result = CeremonyShow(data, id); });
  auto* execute =
      cer->add_subcommand("execute", "run a request that has its quorum");
  data_opt(execute);
  execute->add_option("--id", id, "request id")->required();
  std::vector<std::string> exec_shares;
  execute->add_option("--share,--input", exec_shares,
                      "a custodian's text share file, for operations that need "
                      "them (ca.rekey)");
  std::string share_dir;
  execute->add_option(
      "--share-dir", share_dir,
      "where printed shares go (custodians without a P-256 key)");
  std::string backup_pin;
  execute->add_option("--backup-pin", backup_pin,
                      "file with the backup token's PIN (ca.backup, and "
                      "ca.rekey / ca.destroy / ca.restore when the CA has a "
                      "backup token)");
  execute->callback([&] {
    result = CeremonyExecute(data, id, exec_shares, share_dir, backup_pin);
  });

  // ---- the CA ----
  auto* ca_cmd = app.add_subcommand("ca", "the CA key and certificate")
                     ->require_subcommand(1);
  CaInitArgs ca_init;
  auto* ca_init_cmd = ca_cmd->add_subcommand(
      "init", "propose the ca.init ceremony (key, root, share split)");
  data_opt(ca_init_cmd);
  ca_init_cmd
      ->add_option("--subject", ca_init.subject,
                   "e.g. \"CN=inkan CA,O=Example,C=JP\"")
      ->required();
  ca_init_cmd->add_option("--alg", ca_init.alg,
                          "ec-p256 (default), ec-p384, rsa-2048...");
  ca_init_cmd->add_option("--days", ca_init.days,
                          "root validity (default 3650)");
  ca_init_cmd->add_option("--ee-days", ca_init.ee_days,
                          "user certificate validity (365)");
  ca_init_cmd->add_option("--ocsp-url", ca_init.ocsp_url, "AIA OCSP URL");
  ca_init_cmd->add_option("--crl-url", ca_init.crl_url,
                          "CRL distribution point");
  ca_init_cmd->add_option("--ca-issuers-url", ca_init.ca_issuers_url,
                          "AIA caIssuers URL");
  sig_opts(ca_init_cmd, false);
  ca_init_cmd->callback([&] { result = CaInit(data, ca_init, sig); });
  auto* ca_status =
      ca_cmd->add_subcommand("status", "the CA key, custodians, CRL number");
  data_opt(ca_status);
  ca_status->callback([&] { result = CaStatus(data); });
  auto* ca_cert =
      ca_cmd->add_subcommand("certificate", "print the CA certificate (PEM)");
  data_opt(ca_cert);
  ca_cert->callback([&] { result = CaCertificate(data); });
  std::string custodian, sealed_file;
  auto* ca_share =
      ca_cmd->add_subcommand("share", "print a custodian's sealed share");
  data_opt(ca_share);
  ca_share->add_option("--custodian", custodian, "operator name")->required();
  ca_share->callback([&] { result = CaShare(data, custodian); });
  auto* ca_open = ca_cmd->add_subcommand(
      "open-share", "custodian's side: open a sealed share with your own key");
  ca_open->add_option("--in", sealed_file, "the sealed share")->required();
  ca_open->add_option("--key", key_file, "your PEM private key")->required();
  ca_open->callback([&] { result = CaOpenShare(sealed_file, key_file); });

  auto* ca_destroy = ca_cmd->add_subcommand(
      "destroy", "propose ca.destroy (irreversible; needs the quorum)");
  data_opt(ca_destroy);
  sig_opts(ca_destroy, true);
  ca_destroy->callback([&] { result = CaPropose(data, "ca.destroy", sig); });
  auto* ca_rekey = ca_cmd->add_subcommand(
      "rekey", "propose ca.rekey (new shares for the same CA key)");
  data_opt(ca_rekey);
  sig_opts(ca_rekey, true);
  ca_rekey->callback([&] { result = CaPropose(data, "ca.rekey", sig); });
  auto* ca_ack = ca_cmd->add_subcommand(
      "destroy-ack", "a custodian acknowledges the CA key's destruction");
  data_opt(ca_ack);
  sig_opts(ca_ack, true);
  ca_ack->callback([&] { result = CaDestroyAck(data, sig); });

  ca_init_cmd->add_option("--mode", ca_init.mode,
                          "root (self-signed, default) or csr (external root)");
  std::string cert_file, chain_file;
  auto* ca_csr = ca_cmd->add_subcommand(
      "csr", "print the CA's CSR (after ca.init --mode csr)");
  data_opt(ca_csr);
  ca_csr->callback([&] { result = CaCsr(data); });
  auto* ca_import = ca_cmd->add_subcommand(
      "import", "propose ca.import of the root-signed certificate");
  data_opt(ca_import);
  ca_import
      ->add_option("--cert", cert_file, "the CA certificate the root signed")
      ->required();
  ca_import->add_option("--chain", chain_file, "the root's certificate");
  sig_opts(ca_import, false);
  ca_import->callback(
      [&] { result = CaImport(data, cert_file, chain_file, sig); });

  std::string bundle_file, token_label, token_module, token_pin;
  auto* ca_backup = ca_cmd->add_subcommand(
      "backup",
      "write the CA backup bundle (no secret), or propose ca.backup onto a "
      "backup PKCS#11 token");
  data_opt(ca_backup);
  ca_backup->add_option("--out", bundle_file, "bundle file to write");
  ca_backup->add_option("--to-token", token_label,
                        "propose copying the CA key onto this token (label)");
  ca_backup->add_option("--token-module", token_module,
                        "the backup token's PKCS#11 module (default: this "
                        "instance's)");
  sig_opts(ca_backup, false);
  ca_backup->callback([&] {
    result = CaBackup(data, bundle_file, token_label, token_module, sig);
  });
  auto* ca_restore = ca_cmd->add_subcommand(
      "restore",
      "propose ca.restore of a backup bundle or backup token into this "
      "(CA-less) instance");
  data_opt(ca_restore);
  ca_restore->add_option("--in", bundle_file, "the bundle");
  ca_restore->add_option("--from-token", token_label,
                         "restore from the copy on this backup token (label)");
  ca_restore->add_option("--token-module", token_module,
                         "the backup token's PKCS#11 module");
  ca_restore->add_option("--backup-pin", token_pin,
                         "file with the backup token's PIN");
  sig_opts(ca_restore, false);
  ca_restore->callback([&] {
    result =
        CaRestore(data, bundle_file, token_label, token_module, token_pin, sig);
  });

  std::vector<std::string> shares;
  std::string serial, reason = "unspecified", subject;
  auto* cert =
      app.add_subcommand("cert", "user certificates")->require_subcommand(1);
  auto* cert_issue =
      cert->add_subcommand("issue", "certify a credential (needs k shares)");
  data_opt(cert_issue);
  cert_issue->add_option("--credential", id, "credential ID")->required();
  cert_issue->add_option("--subject", subject,
                         "RFC 4514 subject (default CN=<user>)");
  cert_issue->add_option("--share", shares,
                         "a custodian's text share file (repeat k times)");
  cert_issue->callback([&] { result = CertIssue(data, id, subject, shares); });
  auto* cert_revoke =
      cert->add_subcommand("revoke", "revoke a certificate (needs k shares)");
  data_opt(cert_revoke);
  cert_revoke->add_option("--serial", serial, "serial (hex)")->required();
  cert_revoke->add_option("--reason", reason, "keyCompromise, superseded, ...");
  cert_revoke->add_option("--share", shares, "a custodian's text share file");
  cert_revoke->callback(
      [&] { result = CertRevoke(data, serial, reason, shares); });
  auto* cert_show =
      cert->add_subcommand("show", "a certificate and its status");
  data_opt(cert_show);
  cert_show->add_option("--serial", serial, "serial (hex)")->required();
  cert_show->callback([&] { result = CertShow(data, serial); });
  auto* crl =
      app.add_subcommand("crl", "sign and print a fresh CRL (needs k shares)");
  data_opt(crl);
  crl->add_option("--share", shares, "a custodian's text share file");
  crl->callback([&] { result = Crl(data, shares); });

  std::string window = "8h", activate_share, actor;
  auto* ca_activate = ca_cmd->add_subcommand(
      "activate",
      "enter one custodian's share into the running service; the k-th "
      "activates the CA key for the window");
  data_opt(ca_activate);
  ca_activate
      ->add_option("--share", activate_share,
                   "this custodian's text share file")
      ->required();
  ca_activate->add_option("--for", window,
                          "activation window, set by the first share "
                          "(default 8h; e.g. 30m, 8h, 2d)");
  ca_activate->callback(
      [&] { result = CaActivate(data, activate_share, window, actor); });
  auto* ca_deactivate = ca_cmd->add_subcommand(
      "deactivate", "end the CA key's activation in the running service now");
  data_opt(ca_deactivate);
  ca_deactivate->callback([&] { result = CaDeactivate(data, actor); });

  std::vector<std::string> renew_shares;
  auto* ca_renew = ca_cmd->add_subcommand(
      "renew-responder",
      "a new OCSP responder key and certificate (the service's active CA key, "
      "or k shares)");
  data_opt(ca_renew);
  ca_renew->add_option("--share", renew_shares,
                       "a custodian's text share file (without: ask the "
                       "service)");
  ca_renew->callback([&] { result = CaRenewResponder(data, renew_shares); });

  ServeArgs serve_args;
  auto* serve = app.add_subcommand(
      "serve",
      "run the service (CSC API over HTTPS, CA activation, scheduled CRLs) "
      "until SIGTERM");
  data_opt(serve);
  serve->add_option("--listen", serve_args.listen,
                    "HTTPS HOST:PORT for the CSC API (port 0: any free port); "
                    "without it, only the control socket");
  serve->add_option("--tls-cert", serve_args.tls_cert,
                    "certificate chain PEM (default DATA/tls/cert.pem)");
  serve->add_option(
      "--tls-key", serve_args.tls_key,
      "its private key PEM, mode 0600 (default DATA/tls/key.pem)");
  serve->add_option("--io-threads", serve_args.io_threads,
                    "HTTPS threads (16); requests waiting for the audit "
                    "log's commit share it");
  serve->add_option("--sad-ttl", serve_args.sad_ttl,
                    "how long an authorization (SAD) lives (default 5m)");
  serve->add_option("--crl-every", serve_args.crl_every,
                    "sign a CRL this often while the CA key is active (1h)");
  serve->add_option("--max-activation", serve_args.max_activation,
                    "longest activation window custodians may ask (24h)");
  serve->callback([&] {
    serve_args.data = data;
    result = Serve(serve_args);
  });

  std::string listen = "127.0.0.1:8080";
  auto* ocsp =
      app.add_subcommand("ocsp", "the OCSP responder")->require_subcommand(1);
  auto* ocsp_serve =
      ocsp->add_subcommand("serve", "answer OCSP over HTTP until SIGTERM");
  data_opt(ocsp_serve);
  ocsp_serve->add_option("--listen", listen,
                         "HOST:PORT (default 127.0.0.1:8080; port 0 = any)");
  ocsp_serve->callback([&] { result = OcspServe(data, listen); });

  SignArgs sign_args;
  auto* sign_cmd = app.add_subcommand(
      "sign",
      "sign files through an inkan service: writes FILE.p7s (CAdES-B-B, "
      "detached)");
  sign_cmd->add_option("files", sign_args.files, "files to sign")->required();
  sign_cmd
      ->add_option("--service", sign_args.service,
                   "the CSC API base, https://host:port/csc/v2")
      ->required();
  sign_cmd->add_option("--credential", sign_args.credential, "credential ID")
      ->required();
  sign_cmd->add_option("--user", sign_args.user, "your user name")->required();
  sign_cmd->add_option("--cacert", sign_args.cacert,
                       "PEM file of CA certificates to trust for the service "
                       "(default: the system's)");
  sign_cmd->add_flag("--consent", sign_args.consent,
                     "confirm on the service's consent page even for a SCAL 1 "
                     "credential (SCAL 2 credentials always are)");
  sign_cmd->add_option("--client-id", sign_args.client_id,
                       "the OAuth client registered for inkan sign (consent "
                       "page)");
  sign_cmd->add_option(
      "--card-module", sign_args.card_module,
      "answer with a smart card instead of a one-time code: its "
      "PKCS#11 module (explicit mode)");
  sign_cmd->add_option("--card-token", sign_args.card_token,
                       "the card's token label");
  sign_cmd->add_option("--card-key", sign_args.card_key,
                       "the card's authentication key label (default: its "
                       "only private key)");
  sign_cmd
      ->add_option("--redirect-port", sign_args.redirect_port,
                   "the port of the client's registered redirect URI "
                   "http://127.0.0.1:PORT/cb (default 0: any free port)")
      ->check(CLI::Range(0, 65535));
  sign_cmd->add_option("--consent-timeout", sign_args.consent_timeout,
                       "how long to wait for the answer from the consent page "
                       "(default 5m)");
  sign_cmd
      ->add_option("--lang", sign_args.lang,
                   "the consent page's language, ja or en (default: the "
                   "locale's, else the browser's)")
      ->check(CLI::IsMember({"ja", "en"}));
  sign_cmd->callback([&] { result = Sign(sign_args); });

  std::vector<std::string> tls_names, tls_shares;
  auto* tls = app.add_subcommand("tls", "the service's HTTPS certificate")
                  ->require_subcommand(1);
  auto* tls_issue = tls->add_subcommand(
      "issue",
      "a new key and certificate from inkan's CA into DATA/tls (the service's "
      "active CA key, or k shares)");
  data_opt(tls_issue);
  tls_issue
      ->add_option("--name", tls_names,
                   "a DNS name or IP address the service answers on "
                   "(repeat)")
      ->required();
  tls_issue->add_option("--share", tls_shares,
                        "a custodian's text share file (without: ask the "
                        "service)");
  tls_issue->callback([&] { result = TlsIssue(data, tls_names, tls_shares); });

  std::vector<std::string> redirect_uris;
  std::string client_secret_file;
  auto* client = app.add_subcommand("client", "applications using the CSC API")
                     ->require_subcommand(1);
  auto* client_add = client->add_subcommand(
      "add", "register an OAuth 2.0 client with its redirect URIs");
  data_opt(client_add);
  client_add->add_option("id", name, "client_id")->required();
  client_add
      ->add_option("--redirect-uri", redirect_uris,
                   "an exact redirect URI (repeat)")
      ->required();
  client_add->add_option("--secret-file", client_secret_file,
                         "the client secret (confidential client); without it, "
                         "a public client (PKCE only)");
  client_add->callback([&] {
    result = ClientAdd(data, name, redirect_uris, client_secret_file);
  });
  auto* client_list = client->add_subcommand("list", "registered clients");
  data_opt(client_list);
  client_list->callback([&] { result = ClientList(data); });

  std::string card_cert;
  auto* card = app.add_subcommand("card", "smart cards as possession factors")
                   ->require_subcommand(1);
  auto* card_register = card->add_subcommand(
      "register",
      "register a user's card by its authentication certificate (after their "
      "PIN)");
  data_opt(card_register);
  card_register->add_option("--user", name, "the user")->required();
  card_register
      ->add_option("--cert", card_cert,
                   "the card's authentication certificate (PEM or DER)")
      ->required();
  card_register->callback(
      [&] { result = CardRegister(data, name, card_cert); });

  std::string issuer = "inkan";
  auto* totp = app.add_subcommand("totp", "one-time-code authenticators")
                   ->require_subcommand(1);
  auto* totp_enroll = totp->add_subcommand(
      "enroll",
      "give a user a new TOTP authenticator (after their PIN); prints the "
      "otpauth:// URI once");
  data_opt(totp_enroll);
  totp_enroll->add_option("--user", name, "the user")->required();
  totp_enroll->add_option("--issuer", issuer,
                          "name shown in the authenticator app (inkan)");
  totp_enroll->callback([&] { result = TotpEnroll(data, name, issuer); });

  AddBackupCommands(app, data, data_opt, result);
  AddEnrollCommands(app, data, data_opt, result);

  auto* status = app.add_subcommand("status", "summary of the instance");
  data_opt(status);
  status->callback([&] { result = Status(data); });

  // No core dumps: a PIN or an unsealed blob may be in memory.
  prctl(PR_SET_DUMPABLE, 0);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    // Our code returns Status; this is a library's exception we missed.
    std::cerr << "inkan: internal error: " << e.what() << "\n";
    return 10;
  }
  if (!result.ok()) {
    std::cerr << "inkan: error: " << result.message() << "\n";
    return ExitCodeFor(result);
  }
  return 0;
}
