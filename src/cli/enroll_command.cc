#include "cli/enroll_command.h"

#include <fcntl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/certificate.h"
#include "cli/pin_input.h"
#include "client/csc_client.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/key_transport.h"
#include "crypto/pem.h"
#include "crypto/software_signer.h"
#include "crypto/ssl_ptr.h"
#include "enroll/enrollment.h"
#include "server/instance.h"

namespace inkan::cli {
namespace {

namespace json = boost::json;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr ParseX509(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())),
                 X509_free);
}

void Out(absl::string_view s) { std::cout << s << "\n" << std::flush; }

// Where --trace writes; empty = no trace.
std::string trace_path;  // NOLINT

void Trace(const std::string& method, json::object body) {
  if (trace_path.empty()) return;
  for (const char* secret : {"code", "pin", "otp"}) {
    if (body.contains(secret)) body[secret] = "[redacted]";
  }
  std::FILE* f = std::fopen(trace_path.c_str(), "a");
  if (f == nullptr) return;
  std::string line = absl::StrCat("POST /enroll/api/", method, " ",
                                  json::serialize(body), "\n");
  std::fwrite(line.data(), 1, line.size(), f);
  std::fclose(f);
}

// Overwrites a file with zeros, syncs it and removes it.
absl::Status EraseFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", path));
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    std::string zeros(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < zeros.size()) {
      ssize_t w = ::write(fd, zeros.data() + done, zeros.size() - done);
      if (w <= 0) {
        ::close(fd);
        return absl::InternalError(absl::StrCat("cannot overwrite ", path));
      }
      done += static_cast<size_t>(w);
    }
    ::fsync(fd);
  }
  ::close(fd);
  if (::unlink(path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot remove ", path));
  }
  return absl::OkStatus();
}

// A JSON call to the enrollment API; the answer's object, or the error it
// gave as a Status.
absl::StatusOr<json::object> Call(client::CscClient& svc,
                                  const std::string& method,
                                  const json::object& body,
                                  const SecretBytes& session) {
  Trace(method, body);
  std::string auth =
      session.empty() ? "" : absl::StrCat("Bearer ", session.RevealString());
  ASSIGN_OR_RETURN(client::HttpResult r,
                   svc.Post(method, json::serialize(body), auth));
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) {
    return absl::UnavailableError(absl::StrCat("the service answered ", method,
                                               " with HTTP ", r.status,
                                               " and no JSON"));
  }
  json::object o = v.as_object();
  if (r.status == 200) return o;
  std::string what = absl::StrCat(
      method, ": ",
      o.contains("error_description") && o["error_description"].is_string()
          ? std::string(o["error_description"].as_string())
          : std::string("failed"));
  switch (r.status) {
    case 400:
      return absl::InvalidArgumentError(what);
    case 401:
      return absl::UnauthenticatedError(what);
    case 403:
      return absl::PermissionDeniedError(what);
    case 404:
      return absl::NotFoundError(what);
    case 409:
      return absl::FailedPreconditionError(what);
    case 429:
      return absl::ResourceExhaustedError(what);
    default:
      return absl::UnavailableError(what);
  }
}

std::string Field(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string()
             ? std::string(it->value().as_string())
             : "";
}

// OK if `leaf_der` is signed by `ca_der` (the CA given with --cacert), valid
// now, and certifies an RSA key for key encipherment only.
absl::Status CheckTransportCertificate(const std::string& leaf_der,
                                       const std::string& ca_der) {
  X509Ptr leaf = ParseX509(leaf_der);
  X509Ptr ca = ParseX509(ca_der);
  if (leaf == nullptr || ca == nullptr) {
    return absl::InvalidArgumentError(
        "the service's transport key certificate does not parse");
  }
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(
      X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(
      X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  if (X509_verify_cert(ctx.get()) != 1) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the service's transport key is not certified by the CA you gave (",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())),
        "): not sending the key"));
  }
  uint32_t ku = X509_get_key_usage(leaf.get());
  if ((ku & KU_KEY_ENCIPHERMENT) == 0 || (ku & KU_DIGITAL_SIGNATURE) != 0) {
    return absl::PermissionDeniedError(
        "the service's transport certificate is not for key transport");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnrollIssue(const std::string& data, const std::string& user,
                         const std::string& valid_for, int scal,
                         const OperatorSignature& proposer) {
  if (scal != 1 && scal != 2) {
    return absl::InvalidArgumentError("--scal is 1 or 2");
  }
  {
    // Early feedback; the execution checks again.
    ASSIGN_OR_RETURN(auto inst, server::Instance::Open(data));
    absl::Status exists = inst->store().Transact(
        storage::TxMode::kReadOnly,
        [&](storage::Transaction& tx) -> absl::Status {
          auto u = tx.GetUserByName(user);
          if (u.ok()) {
            return absl::AlreadyExistsError(
                absl::StrCat("user '", user, "' already exists"));
          }
          return absl::IsNotFound(u.status()) ? absl::OkStatus() : u.status();
        });
    RETURN_IF_ERROR(exists);
  }
  std::vector<std::string> params = {absl::StrCat("user=", user),
                                     absl::StrCat("valid_for=", valid_for),
                                     absl::StrCat("scal=", scal)};
  RETURN_IF_ERROR(
      CeremonyPropose(data, enroll::kIssueOperation, params, "24h", proposer));
  Out("a second operator approves with `inkan ceremony approve --id ID "
      "--operator NAME --key KEY`; then `inkan enroll release --id ID "
      "--base-url https://HOST` prints the one-time URL, once");
  return absl::OkStatus();
}

absl::Status EnrollRelease(const std::string& data, const std::string& id,
                           const std::string& base_url,
                           const std::string& operator_name) {
  if (!absl::StartsWith(base_url, "https://") ||
      absl::StrContains(base_url, "#")) {
    return absl::InvalidArgumentError(
        "--base-url is the service's https://host[:port] as users reach it");
  }
  ASSIGN_OR_RETURN(auto inst, server::Instance::Open(data));
  std::map<std::string, SecretBytes> outputs;
  // Who takes the code is recorded (enroll.code_released "to"): the operator
  // named here, as the command's user states it.
  const std::string actor =
      operator_name.empty() ? "cli" : absl::StrCat("cli:", operator_name);
  ASSIGN_OR_RETURN(std::string outcome,
                   inst->ceremonies().Execute(id, actor, {}, &outputs));
  auto it = outputs.find("code");
  if (it == outputs.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("request ", id, " is not an enrollment code request"));
  }
  std::string base(base_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  Out(absl::StrCat("executed: ", outcome));
  Out("one-time URL (shown once; deliver it to the user out of band):");
  Out(absl::StrCat(base, "/enroll#", it->second.RevealString()));
  return absl::OkStatus();
}

absl::Status EnrollKeygen(const KeygenArgs& a) {
  // The service from --url; the code from the prompt (or, discouraged, from
  // the URL's fragment: a command line is visible to other local users).
  std::string base = a.url;
  SecretBytes code;
  if (size_t h = base.find('#'); h != std::string::npos) {
    code = SecretBytes(absl::string_view(base).substr(h + 1));
    CleanseMemory(base.data() + h, base.size() - h);
    base.resize(h);
    std::cerr << "inkan: note: the code was on the command line, where other "
                 "users of this computer can see it; next time give only "
                 "the service's address and paste the code when asked\n";
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (absl::EndsWith(base, "/enroll")) base.resize(base.size() - 7);
  if (!absl::StartsWith(base, "https://")) {
    return absl::InvalidArgumentError(
        "--url is the service's address from your letter, "
        "https://host[:port] (the code is asked for)");
  }
  ASSIGN_OR_RETURN(crypto::KeyAlgorithm alg, crypto::ParseKeyAlgorithm(a.alg));
  trace_path = a.trace_file;
  // The user's own key, read before anything is redeemed.
  SecretBytes own_key;
  if (!a.key_file.empty()) {
    ASSIGN_OR_RETURN(SecretBytes pem, ReadSecretFile(a.key_file));
    ASSIGN_OR_RETURN(own_key, crypto::PrivateKeyPemToPkcs8(pem.RevealString()));
    RETURN_IF_ERROR(crypto::ParseSoftwarePrivateKey(own_key, alg).status());
  }
  if (code.empty()) {
    ASSIGN_OR_RETURN(SecretBytes typed,
                     ReadPin("one-time URL or code from your letter: ", false));
    absl::string_view t = typed.RevealString();
    size_t h = t.find('#');
    code = SecretBytes(h == absl::string_view::npos ? t : t.substr(h + 1));
  }
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(a.cacert));
  ASSIGN_OR_RETURN(std::string ca_der, crypto::CertificateToDer(ca_pem));
  ASSIGN_OR_RETURN(auto svc, client::CscClient::Connect(
                                 absl::StrCat(base, "/enroll/api"), a.cacert));

  // The transport key first: nothing is redeemed if it cannot be trusted.
  ASSIGN_OR_RETURN(json::object transport,
                   Call(*svc, "transport", {}, SecretBytes()));
  ASSIGN_OR_RETURN(std::string leaf,
                   Base64Decode(Field(transport, "certificate")));
  RETURN_IF_ERROR(CheckTransportCertificate(leaf, ca_der));
  X509Ptr leaf_x509 = ParseX509(leaf);
  unsigned char* spki_buf = nullptr;
  int spki_len = i2d_PUBKEY(X509_get0_pubkey(leaf_x509.get()), &spki_buf);
  if (spki_len <= 0) return absl::InternalError("i2d_PUBKEY failed");
  std::string transport_spki(reinterpret_cast<char*>(spki_buf), spki_len);
  OPENSSL_free(spki_buf);
  Out("the service's transport key is certified by your CA");

  json::object code_body;
  code_body["code"] = std::string(code.RevealString());
  ASSIGN_OR_RETURN(json::object redeemed,
                   Call(*svc, "redeem", code_body, SecretBytes()));
  SecretBytes session(Field(redeemed, "session"));
  Out(absl::StrCat("code redeemed: enrolling user ", Field(redeemed, "user"),
                   " (the code cannot be used again)"));

  ASSIGN_OR_RETURN(SecretBytes pin, ReadPin("choose your PIN: ", true));
  json::object pin_body;
  pin_body["pin"] = std::string(pin.RevealString());
  RETURN_IF_ERROR(Call(*svc, "pin", pin_body, session).status());
  ASSIGN_OR_RETURN(json::object totp, Call(*svc, "totp/start", {}, session));
  Out("add this to your authenticator app (shown once):");
  Out(Field(totp, "otpauth"));
  ASSIGN_OR_RETURN(SecretBytes otp,
                   ReadPin("the 6-digit code it shows: ", false));
  json::object otp_body;
  otp_body["otp"] = std::string(otp.RevealString());
  RETURN_IF_ERROR(Call(*svc, "totp/confirm", otp_body, session).status());

  // The key: made here, wrapped for the HSM, and erased.
  std::string wrapped, spki, proof;
  {
    SecretBytes pkcs8 = std::move(own_key);
    if (pkcs8.empty()) {
      ASSIGN_OR_RETURN(pkcs8, crypto::GenerateSoftwareKey(alg));
    }
    ASSIGN_OR_RETURN(spki, crypto::PublicKeyOfPkcs8(pkcs8));
    ASSIGN_OR_RETURN(wrapped, crypto::RsaAesKeyWrap(transport_spki, pkcs8));
    // Proof of possession for this session only.
    ASSIGN_OR_RETURN(auto signer, crypto::NewSoftwareSigner(
                                      pkcs8, enroll::ProofScheme(alg)));
    ASSIGN_OR_RETURN(proof, crypto::SignMessage(
                                *signer, enroll::UploadProofMessage(session)));
  }  // pkcs8 is wiped here; it was never written anywhere
  json::object key_body;
  key_body["path"] = "upload";
  key_body["algorithm"] = std::string(crypto::KeyAlgorithmName(alg));
  key_body["public_key"] = Base64Encode(spki);
  key_body["wrapped_key"] = Base64Encode(wrapped);
  key_body["proof"] = Base64Encode(proof);
  ASSIGN_OR_RETURN(json::object made, Call(*svc, "key", key_body, session));
  if (!a.key_file.empty()) {
    // The key is in the HSM now: a failed erase is said, not fatal, so the
    // enrollment still reaches its receipt.
    if (absl::Status erased = EraseFile(a.key_file); !erased.ok()) {
      std::cerr << "inkan: warning: could not erase " << a.key_file << " ("
                << erased.message() << "): delete it yourself\n";
    }
  }
  Out(
      absl::StrCat("key sent wrapped and opened in the HSM; the local copy is "
                   "erased. credential ",
                   Field(made, "credential")));

  if (!a.yes) {
    ASSIGN_OR_RETURN(SecretBytes answer,
                     ReadPin("type yes to confirm you received this "
                             "enrollment: ",
                             false));
    if (answer.RevealString() != "yes") {
      return absl::FailedPreconditionError(
          "receipt not confirmed: no certificate is issued (the credential "
          "waits)");
    }
  }
  ASSIGN_OR_RETURN(json::object done, Call(*svc, "receipt", {}, session));
  Out(absl::StrCat("credential ", Field(done, "credential")));
  if (done.contains("certificate")) {
    ASSIGN_OR_RETURN(std::string der, Base64Decode(Field(done, "certificate")));
    std::cout << ca::ToPem(der, "CERTIFICATE");
  } else {
    Out("certificate pending: the provider issues it when the CA key is "
        "active");
  }
  return absl::OkStatus();
}

}  // namespace inkan::cli
