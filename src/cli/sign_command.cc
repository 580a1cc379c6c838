// `inkan sign`: the signer's side of the CSC API (issue 4). Hashes the files,
// logs in, asks for the credential's certificate chain, authorizes exactly
// these documents (explicit mode: credential PIN + one-time code), has the
// service sign, and writes a CAdES-B-B detached signature FILE.p7s.
#include <boost/json.hpp>
#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/pin_input.h"
#include "client/csc_client.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/cades.h"
#include "crypto/digest.h"

namespace inkan::cli {
namespace {

namespace json = boost::json;

// The CSC error in a response, as a Status for the exit code.
absl::Status CscFailure(const client::HttpResult& r, absl::string_view what) {
  std::string error = "error", description;
  try {
    json::value v = json::parse(r.body);
    if (const auto* o = v.if_object()) {
      if (auto* e = o->if_contains("error"); e && e->is_string())
        error = std::string(e->as_string());
      if (auto* d = o->if_contains("error_description"); d && d->is_string())
        description = std::string(d->as_string());
    }
  } catch (const std::exception&) {
  }
  std::string msg = absl::StrCat(what, ": HTTP ", r.status, " ", error,
                                 description.empty() ? "" : ": ", description);
  if (error == "invalid_pin" || error == "invalid_otp" ||
      error == "authentication_error") {
    return absl::UnauthenticatedError(msg);
  }
  if (r.status == 403 || absl::StrContains(description, "locked")) {
    return absl::PermissionDeniedError(msg);
  }
  if (r.status >= 500) return absl::UnavailableError(msg);
  return absl::FailedPreconditionError(msg);
}

absl::StatusOr<json::object> PostJson(client::CscClient& c,
                                      const std::string& method,
                                      const json::object& body,
                                      const std::string& auth,
                                      absl::string_view what) {
  std::string text = json::serialize(body);
  auto r = c.Post(method, text, auth);
  CleanseMemory(text.data(), text.size());
  RETURN_IF_ERROR(r.status());
  if (r->status != 200) return CscFailure(*r, what);
  try {
    json::value v = json::parse(r->body);
    if (v.is_object()) return v.as_object();
  } catch (const std::exception&) {
  }
  return absl::DataLossError(absl::StrCat(what,
                                          ": the service's answer does "
                                          "not parse"));
}

std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

struct KeyFacts {
  crypto::KeyAlgorithm alg;
  crypto::SignatureScheme scheme;
  std::string sign_algo_oid;
  std::string hash_oid;
};

absl::StatusOr<KeyFacts> FactsFor(const json::object& info) {
  const json::value* key = info.if_contains("key");
  if (!key || !key->is_object())
    return absl::DataLossError("credentials/info has no key");
  int len = 0;
  if (auto* l = key->as_object().if_contains("len"); l && l->is_int64())
    len = static_cast<int>(l->as_int64());
  std::string curve = Str(key->as_object(), "curve");
  KeyFacts f;
  if (curve == "1.2.840.10045.3.1.7") {
    f.alg = crypto::KeyAlgorithm::kEcP256;
    f.scheme = {f.alg, crypto::HashAlgorithm::kSha256};
    f.sign_algo_oid = "1.2.840.10045.4.3.2";
    f.hash_oid = "2.16.840.1.101.3.4.2.1";
  } else if (curve == "1.3.132.0.34") {
    f.alg = crypto::KeyAlgorithm::kEcP384;
    f.scheme = {f.alg, crypto::HashAlgorithm::kSha384};
    f.sign_algo_oid = "1.2.840.10045.4.3.3";
    f.hash_oid = "2.16.840.1.101.3.4.2.2";
  } else if (curve.empty() && len >= 2048) {
    f.alg = len >= 4096   ? crypto::KeyAlgorithm::kRsa4096
            : len >= 3072 ? crypto::KeyAlgorithm::kRsa3072
                          : crypto::KeyAlgorithm::kRsa2048;
    f.scheme = {f.alg, crypto::HashAlgorithm::kSha256};
    f.sign_algo_oid = "1.2.840.113549.1.1.11";
    f.hash_oid = "2.16.840.1.101.3.4.2.1";
  } else {
    return absl::UnimplementedError(
        "inkan sign handles P-256, P-384 and RSA credentials");
  }
  return f;
}

}  // namespace

absl::Status Sign(const SignArgs& a) {
  if (a.files.empty()) return absl::InvalidArgumentError("give files to sign");
  if (a.credential.empty())
    return absl::InvalidArgumentError("--credential is required");
  if (a.user.empty()) return absl::InvalidArgumentError("--user is required");
  ASSIGN_OR_RETURN(auto svc, client::CscClient::Connect(a.service, a.cacert));
  // Reach the service (and check its certificate) before asking for PINs.
  ASSIGN_OR_RETURN(client::HttpResult info_resp, svc->Post("info", "{}", ""));
  if (info_resp.status != 200) return CscFailure(info_resp, "info");

  // 1. Log in as the user (HTTP Basic: name + the user's PIN).
  ASSIGN_OR_RETURN(SecretBytes user_pin,
                   ReadPin(absl::StrCat("PIN of user ", a.user, ": "), false));
  std::string basic_raw = absl::StrCat(a.user, ":", user_pin.RevealString());
  std::string basic = absl::StrCat("Basic ", Base64Encode(basic_raw));
  CleanseMemory(basic_raw.data(), basic_raw.size());
  auto login = PostJson(*svc, "auth/login", {}, basic, "auth/login");
  CleanseMemory(basic.data(), basic.size());
  RETURN_IF_ERROR(login.status());
  std::string bearer = absl::StrCat("Bearer ", Str(*login, "access_token"));

  // 2. The credential: key, certificate chain, how it is authorized.
  ASSIGN_OR_RETURN(json::object info, PostJson(*svc, "credentials/info",
                                               {{"credentialID", a.credential},
                                                {"certificates", "chain"},
                                                {"certInfo", true},
                                                {"authInfo", true}},
                                               bearer, "credentials/info"));
  ASSIGN_OR_RETURN(KeyFacts facts, FactsFor(info));
  if (Str(info, "SCAL") == "2") {
    return absl::UnimplementedError(
        "this credential (SCAL 2) is authorized only on the service's consent "
        "page; this inkan sign does not run that flow yet");
  }
  std::vector<std::string> chain;
  if (auto* cert = info.if_contains("cert"); cert && cert->is_object()) {
    if (auto* certs = cert->as_object().if_contains("certificates");
        certs && certs->is_array()) {
      for (const auto& c : certs->as_array()) {
        if (!c.is_string()) continue;
        ASSIGN_OR_RETURN(std::string der,
                         Base64Decode(std::string(c.as_string())));
        chain.push_back(std::move(der));
      }
    }
  }
  if (chain.empty()) {
    return absl::FailedPreconditionError(
        "the credential has no certificate yet: ask the operator to issue one "
        "(inkan cert issue)");
  }

  // 3. The documents: CAdES signed attributes over each file's digest.
  std::vector<crypto::CadesToBeSigned> tbs;
  json::array hashes;
  absl::Time now = absl::Now();
  for (const std::string& file : a.files) {
    ASSIGN_OR_RETURN(std::string content, ReadFile(file));
    crypto::CadesRequest r;
    r.content_digest = crypto::Digest(facts.scheme.hash, content);
    r.scheme = facts.scheme;
    r.signer_cert_der = chain[0];
    r.chain_der.assign(chain.begin() + 1, chain.end());
    r.signing_time = now;
    ASSIGN_OR_RETURN(crypto::CadesToBeSigned t, crypto::PrepareCades(r));
    hashes.push_back(json::value(Base64Encode(t.digest_to_sign)));
    tbs.push_back(std::move(t));
  }

  // 4. Authorize exactly these documents: credential PIN + one-time code.
  ASSIGN_OR_RETURN(SecretBytes pin, ReadPin("PIN of the credential: ", false));
  ASSIGN_OR_RETURN(SecretBytes otp, ReadPin("one-time code: ", false));
  json::object authorize = {
      {"credentialID", a.credential},
      {"numSignatures", static_cast<int64_t>(tbs.size())},
      {"hashes", hashes},
      {"hashAlgorithmOID", facts.hash_oid},
      {"authData",
       json::array{json::object{{"id", "PIN"},
                                {"value", std::string(pin.RevealString())}},
                   json::object{{"id", "OTP"},
                                {"value", std::string(otp.RevealString())}}}}};
  auto sad_resp = PostJson(*svc, "credentials/authorize", authorize, bearer,
                           "credentials/authorize");
  authorize.clear();
  RETURN_IF_ERROR(sad_resp.status());

  // 5. Sign, and write each signature as FILE.p7s.
  ASSIGN_OR_RETURN(json::object signed_resp,
                   PostJson(*svc, "signatures/signHash",
                            {{"credentialID", a.credential},
                             {"SAD", Str(*sad_resp, "SAD")},
                             {"hashes", hashes},
                             {"hashAlgorithmOID", facts.hash_oid},
                             {"signAlgo", facts.sign_algo_oid}},
                            bearer, "signatures/signHash"));
  auto* sigs = signed_resp.if_contains("signatures");
  if (!sigs || !sigs->is_array() || sigs->as_array().size() != tbs.size()) {
    return absl::DataLossError(
        "signHash returned the wrong number of signatures");
  }
  for (size_t i = 0; i < tbs.size(); ++i) {
    const auto& s = sigs->as_array()[i];
    if (!s.is_string()) return absl::DataLossError("a signature is not text");
    ASSIGN_OR_RETURN(std::string sig, Base64Decode(std::string(s.as_string())));
    ASSIGN_OR_RETURN(std::string p7s, crypto::FinishCades(tbs[i], sig));
    std::string out = absl::StrCat(a.files[i], ".p7s");
    RETURN_IF_ERROR(WriteFileAtomic(out, p7s, 0644));
    std::cout << "signed " << a.files[i] << " -> " << out << "\n";
  }
  // The session ends here: the access token is revoked.
  (void)svc->Post(
      "auth/revoke",
      json::serialize(json::object{{"token", Str(*login, "access_token")}}),
      bearer);
  return absl::OkStatus();
}

}  // namespace inkan::cli
