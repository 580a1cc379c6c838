// `inkan sign`: the signer's side of the CSC API (issue 4). Hashes the files,
// logs in, asks for the credential's certificate chain, authorizes exactly
// these documents, has the service sign, and writes a CAdES-B-B detached
// signature FILE.p7s. Authorization is either explicit (SCAL 1 credentials:
// the credential's PIN and a one-time code, sent with credentials/authorize)
// or on the service's consent page (SCAL 2, or --consent): OAuth 2.0 with
// PKCE, the browser's redirect caught on a loopback port, and the credential
// token used as the SAD.
#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/pin_input.h"
#include "client/card_signer.h"
#include "client/csc_client.h"
#include "client/loopback_redirect.h"
#include "client/oauth_consent.h"
#include "common/encoding.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/cades.h"
#include "crypto/digest.h"
#include "sam/authorization.h"

namespace inkan::cli {
namespace {

namespace json = boost::json;

absl::StatusOr<json::object> PostJson(client::CscClient& c,
                                      const std::string& method,
                                      const json::object& body,
                                      const std::string& auth,
                                      absl::string_view what) {
  std::string text = json::serialize(body);
  auto r = c.Post(method, text, auth);
  CleanseMemory(text.data(), text.size());
  RETURN_IF_ERROR(r.status());
  if (r->status != 200) return client::FailureStatus(*r, what);
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

// The certificate chain of credentials/info, end entity first.
absl::StatusOr<std::vector<std::string>> ChainOf(const json::object& info) {
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
  return chain;
}

// The documents: CAdES signed attributes over each file's digest, and the
// digests the service signs (raw, and in base64 for the JSON calls).
struct Documents {
  std::vector<crypto::CadesToBeSigned> tbs;
  std::vector<std::string> digests;
  json::array hashes;
};

absl::StatusOr<Documents> PrepareDocuments(
    const std::vector<std::string>& files, const KeyFacts& facts,
    const std::vector<std::string>& chain) {
  Documents d;
  absl::Time now = absl::Now();
  for (const std::string& file : files) {
    ASSIGN_OR_RETURN(std::string content, ReadFile(file));
    crypto::CadesRequest r;
    r.content_digest = crypto::Digest(facts.scheme.hash, content);
    r.scheme = facts.scheme;
    r.signer_cert_der = chain[0];
    r.chain_der.assign(chain.begin() + 1, chain.end());
    r.signing_time = now;
    ASSIGN_OR_RETURN(crypto::CadesToBeSigned t, crypto::PrepareCades(r));
    d.hashes.push_back(json::value(Base64Encode(t.digest_to_sign)));
    d.digests.push_back(t.digest_to_sign);
    d.tbs.push_back(std::move(t));
  }
  return d;
}

// signatures/signHash for every document, then FILE.p7s for each. `sad` is
// "" with a credential token as `bearer` (the token is the SAD).
absl::Status SignAndWrite(client::CscClient& svc, const SignArgs& a,
                          const KeyFacts& facts, const Documents& docs,
                          const std::string& bearer, const std::string& sad) {
  json::object request = {{"credentialID", a.credential},
                          {"hashes", docs.hashes},
                          {"hashAlgorithmOID", facts.hash_oid},
                          {"signAlgo", facts.sign_algo_oid}};
  if (!sad.empty()) request["SAD"] = sad;
  auto signed_resp = PostJson(svc, "signatures/signHash", request, bearer,
                              "signatures/signHash");
  if (auto* s = request.if_contains("SAD"); s && s->is_string()) {
    CleanseMemory(s->as_string().data(), s->as_string().size());
  }
  RETURN_IF_ERROR(signed_resp.status());
  auto* sigs = signed_resp->if_contains("signatures");
  if (!sigs || !sigs->is_array() ||
      sigs->as_array().size() != docs.tbs.size()) {
    return absl::DataLossError(
        "signHash returned the wrong number of signatures");
  }
  for (size_t i = 0; i < docs.tbs.size(); ++i) {
    const auto& s = sigs->as_array()[i];
    if (!s.is_string()) return absl::DataLossError("a signature is not text");
    ASSIGN_OR_RETURN(std::string sig, Base64Decode(std::string(s.as_string())));
    ASSIGN_OR_RETURN(std::string p7s, crypto::FinishCades(docs.tbs[i], sig));
    std::string out = absl::StrCat(a.files[i], ".p7s");
    RETURN_IF_ERROR(WriteFileAtomic(out, p7s, 0644));
    std::cout << "signed " << a.files[i] << " -> " << out << "\n";
  }
  return absl::OkStatus();
}

// The card's answer to the service's challenge for these documents
// (authData CARD): credentials/getChallenge, then the card signs the text
// sam::CardChallengeMessage binds to the credential and the exact hashes.
absl::StatusOr<std::string> CardAnswer(client::CscClient& svc,
                                       const SignArgs& a, const Documents& docs,
                                       const std::string& bearer) {
  if (a.card_token.empty()) {
    return absl::InvalidArgumentError(
        "--card-module needs --card-token (the card's token label)");
  }
  ASSIGN_OR_RETURN(
      json::object ch,
      PostJson(svc, "credentials/getChallenge",
               {{"credentialID", a.credential}, {"authObjectID", "CARD"}},
               bearer, "credentials/getChallenge"));
  std::set<std::string> digests;
  for (const auto& t : docs.tbs) digests.insert(t.digest_to_sign);
  std::string message =
      sam::CardChallengeMessage(Str(ch, "challenge"), a.credential, digests);
  ASSIGN_OR_RETURN(SecretBytes card_pin, ReadPin("PIN of the card: ", false));
  ASSIGN_OR_RETURN(std::string sig,
                   client::CardSign(a.card_module, a.card_token, card_pin,
                                    a.card_key, message));
  return Base64Encode(sig);
}

// Explicit mode (SCAL 1): the credential's PIN and a possession factor — a
// one-time code from the terminal, or the card (--card-module) — authorize
// exactly these documents; the SAD signs them.
absl::Status SignExplicit(client::CscClient& svc, const SignArgs& a,
                          const KeyFacts& facts, const Documents& docs,
                          const std::string& bearer) {
  ASSIGN_OR_RETURN(SecretBytes pin, ReadPin("PIN of the credential: ", false));
  json::object possession;
  if (!a.card_module.empty()) {
    ASSIGN_OR_RETURN(std::string card, CardAnswer(svc, a, docs, bearer));
    possession = {{"id", "CARD"}, {"value", card}};
  } else {
    ASSIGN_OR_RETURN(SecretBytes otp, ReadPin("one-time code: ", false));
    possession = {{"id", "OTP"}, {"value", std::string(otp.RevealString())}};
  }
  json::object authorize = {
      {"credentialID", a.credential},
      {"numSignatures", static_cast<int64_t>(docs.tbs.size())},
      {"hashes", docs.hashes},
      {"hashAlgorithmOID", facts.hash_oid},
      {"authData",
       json::array{json::object{{"id", "PIN"},
                                {"value", std::string(pin.RevealString())}},
                   possession}}};
  auto sad_resp = PostJson(svc, "credentials/authorize", authorize, bearer,
                           "credentials/authorize");
  for (auto& d : authorize["authData"].as_array()) {
    auto& v = d.as_object()["value"].as_string();
    CleanseMemory(v.data(), v.size());
  }
  authorize.clear();
  RETURN_IF_ERROR(sad_resp.status());
  std::string sad = Str(*sad_resp, "SAD");
  absl::Status st = SignAndWrite(svc, a, facts, docs, bearer, sad);
  CleanseMemory(sad.data(), sad.size());
  return st;
}

// "ja" or "en" from the locale (LC_ALL, LC_MESSAGES, LANG), or "" to let the
// consent page follow the browser's language.
std::string LangFromEnvironment() {
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') continue;
    if (absl::StartsWith(v, "ja")) return "ja";
    if (absl::StartsWith(v, "en")) return "en";
    return "";
  }
  return "";
}

// Consent mode (SCAL 2): the signer confirms the documents on the service's
// consent page (the PIN and the code are entered there); the credential
// token the code is exchanged for signs them, with no SAD.
absl::Status SignWithConsent(client::CscClient& svc, const SignArgs& a,
                             const KeyFacts& facts, const Documents& docs,
                             client::LoopbackRedirectListener& listener,
                             absl::Duration timeout) {
  client::ConsentRequest req;
  req.client_id = a.client_id;
  req.credential_id = a.credential;
  req.digests = docs.digests;
  req.hash_oid = facts.hash_oid;
  for (const std::string& f : a.files) {
    req.labels.push_back(client::DocumentLabel(f));
  }
  req.description =
      absl::StrCat("inkan sign: ", a.files.size(),
                   a.files.size() == 1 ? " document" : " documents");
  req.lang = a.lang.empty() ? LangFromEnvironment() : a.lang;
  ASSIGN_OR_RETURN(SecretBytes token,
                   client::RunConsent(svc, req, listener, timeout, std::cerr));
  std::string bearer = absl::StrCat("Bearer ", token.RevealString());
  absl::Status st = SignAndWrite(svc, a, facts, docs, bearer, "");
  if (!st.ok()) {
    // What the token still authorizes is given up.
    std::string token_text(token.RevealString());
    std::string body = json::serialize(json::object{{"token", token_text}});
    (void)svc.Post("auth/revoke", body, bearer);
    CleanseMemory(body.data(), body.size());
    CleanseMemory(token_text.data(), token_text.size());
  }
  CleanseMemory(bearer.data(), bearer.size());
  return st;
}

// After the login: the credential, the documents, the authorization (as the
// credential's SCAL asks) and the signatures.
absl::Status SignAsUser(client::CscClient& svc, const SignArgs& a,
                        const std::string& bearer, absl::Duration timeout) {
  ASSIGN_OR_RETURN(json::object info, PostJson(svc, "credentials/info",
                                               {{"credentialID", a.credential},
                                                {"certificates", "chain"},
                                                {"certInfo", true},
                                                {"authInfo", true}},
                                               bearer, "credentials/info"));
  ASSIGN_OR_RETURN(KeyFacts facts, FactsFor(info));
  ASSIGN_OR_RETURN(std::vector<std::string> chain, ChainOf(info));
  bool consent = a.consent || Str(info, "SCAL") == "2";
  if (!consent) {
    ASSIGN_OR_RETURN(Documents docs, PrepareDocuments(a.files, facts, chain));
    return SignExplicit(svc, a, facts, docs, bearer);
  }
  if (a.client_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--client-id is required: credential ", a.credential,
        " (SCAL 2) is authorized only on the service's consent page; give the "
        "OAuth client registered for inkan sign (inkan client add ID "
        "--redirect-uri http://127.0.0.1:PORT/cb) and --redirect-port PORT"));
  }
  ASSIGN_OR_RETURN(auto listener,
                   client::LoopbackRedirectListener::Bind(a.redirect_port));
  if (a.redirect_port == 0) {
    std::cerr << "note: the answer comes back to " << listener->redirect_uri()
              << ", on a port chosen now; the service accepts it only if "
                 "client "
              << a.client_id
              << " registered exactly this URI (otherwise give "
                 "--redirect-port with the port of its registered URI)\n";
  }
  ASSIGN_OR_RETURN(Documents docs, PrepareDocuments(a.files, facts, chain));
  return SignWithConsent(svc, a, facts, docs, *listener, timeout);
}

}  // namespace

absl::Status Sign(const SignArgs& a) {
  if (a.files.empty()) return absl::InvalidArgumentError("give files to sign");
  if (a.credential.empty())
    return absl::InvalidArgumentError("--credential is required");
  if (a.user.empty()) return absl::InvalidArgumentError("--user is required");
  if (a.consent && a.client_id.empty()) {
    return absl::InvalidArgumentError(
        "--consent needs --client-id: the OAuth client registered for inkan "
        "sign (inkan client add ID --redirect-uri http://127.0.0.1:PORT/cb)");
  }
  if (a.redirect_port < 0 || a.redirect_port > 65535) {
    return absl::InvalidArgumentError("--redirect-port must be 0..65535");
  }
  if (!a.lang.empty() && a.lang != "ja" && a.lang != "en") {
    return absl::InvalidArgumentError("--lang must be ja or en");
  }
  absl::Duration timeout;
  if (!absl::ParseDuration(a.consent_timeout, &timeout) ||
      timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad --consent-timeout ", a.consent_timeout, " (e.g. 5m, 90s)"));
  }
  ASSIGN_OR_RETURN(auto svc, client::CscClient::Connect(a.service, a.cacert));
  // Reach the service (and check its certificate) before asking for PINs.
  ASSIGN_OR_RETURN(client::HttpResult info_resp, svc->Post("info", "{}", ""));
  if (info_resp.status != 200) return client::FailureStatus(info_resp, "info");

  // Log in as the user (HTTP Basic: name + the user's PIN).
  ASSIGN_OR_RETURN(SecretBytes user_pin,
                   ReadPin(absl::StrCat("PIN of user ", a.user, ": "), false));
  std::string basic_raw = absl::StrCat(a.user, ":", user_pin.RevealString());
  std::string basic = absl::StrCat("Basic ", Base64Encode(basic_raw));
  CleanseMemory(basic_raw.data(), basic_raw.size());
  auto login = PostJson(*svc, "auth/login", {}, basic, "auth/login");
  CleanseMemory(basic.data(), basic.size());
  RETURN_IF_ERROR(login.status());
  std::string access_token = Str(*login, "access_token");
  std::string bearer = absl::StrCat("Bearer ", access_token);

  absl::Status st = SignAsUser(*svc, a, bearer, timeout);

  // The session ends here, signed or not: the access token is revoked.
  std::string body = json::serialize(json::object{{"token", access_token}});
  (void)svc->Post("auth/revoke", body, bearer);
  CleanseMemory(body.data(), body.size());
  CleanseMemory(access_token.data(), access_token.size());
  CleanseMemory(bearer.data(), bearer.size());
  return st;
}

}  // namespace inkan::cli
