#include "server/csc_api.h"

#include <boost/json.hpp>
#include <functional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/csc_codec.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "server/http_forms.h"
#include "server/pages.h"

namespace inkan::server {
namespace {

namespace csc = api::csc;

api::HttpResponse Json(int status, std::string body) {
  api::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"},
               {"Cache-Control", "no-store"}};
  r.body = std::move(body);
  return r;
}

api::HttpResponse Error(const csc::CscError& e) {
  api::HttpResponse r = Json(e.http_status, csc::RenderError(e));
  if (e.http_status == 401) {
    r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"inkan\""});
  }
  return r;
}

// The sam layer's verdict on a factor, as the CSC error a client expects.
csc::CscError FactorError(const absl::Status& st) {
  auto factor = st.GetPayload(sam::kFactorPayload);
  bool otp = factor && std::string(*factor) == "otp";
  if (factor && std::string(*factor) == "card") {
    if (absl::IsUnauthenticated(st)) return csc::InvalidAuthenticationData();
    if (absl::IsPermissionDenied(st)) return csc::InvalidRequest("CARD locked");
    if (absl::IsFailedPrecondition(st) || absl::IsInvalidArgument(st)) {
      return csc::InvalidRequest(st.message());
    }
    return csc::FromStatus(st);
  }
  if (absl::IsUnauthenticated(st)) {
    return otp ? csc::InvalidOtp() : csc::InvalidPin();
  }
  if (absl::IsPermissionDenied(st)) {
    if (otp) return csc::OtpLocked();
    if (absl::StrContains(st.message(), "credential")) {
      return csc::CredentialLocked();
    }
    return csc::PinLocked();
  }
  if (absl::IsInvalidArgument(st) && otp) return csc::InvalidOtp();
  if (absl::IsFailedPrecondition(st) && otp) {
    return csc::InvalidRequest(
        "the user has no one-time password device enrolled");
  }
  if (absl::IsResourceExhausted(st)) return csc::TooManyRequests();
  return csc::FromStatus(st);
}

csc::CredentialInfo DescribeCredential(Instance& inst,
                                       const storage::CredentialRecord& cred,
                                       csc::CertificatesMode certs,
                                       bool cert_info, bool auth_info,
                                       int multisign) {
  csc::CredentialInfo info;
  info.credential_id = cred.id;
  auto alg = crypto::ParseKeyAlgorithm(cred.algorithm);
  if (alg.ok()) info.key_algorithm = *alg;
  info.key_enabled = !cred.locked;
  info.multisign = multisign;
  int scal = 2;
  bool has_totp = false;
  std::vector<storage::CertificateRecord> issued;
  (void)inst.store().Transact(
      storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
        auto s = sam::LoadScal(tx, cred.id);
        if (s.ok()) scal = *s;
        has_totp = tx.GetFactor(cred.user_id, "totp").ok();
        auto list = tx.ListCertificates(cred.id);
        if (list.ok()) issued = *std::move(list);
        return absl::OkStatus();
      });
  info.scal = scal;
  info.auth_mode =
      scal == 2 ? csc::AuthMode::kOAuth2Code : csc::AuthMode::kExplicit;
  if (auth_info && scal == 1) {
    info.pin =
        csc::PinInfo{csc::Presence::kTrue, csc::InputFormat::kAlphanumeric,
                     "PIN", "the credential's PIN"};
    csc::OtpInfo otp;
    otp.presence = has_totp ? csc::Presence::kTrue : csc::Presence::kFalse;
    otp.type = csc::OtpType::kOffline;
    otp.id = "OTP";
    otp.provider = "totp";
    otp.format = csc::InputFormat::kNumeric;
    otp.label = "one-time code";
    info.otp = otp;
  }
  if (certs != csc::CertificatesMode::kNone || cert_info) {
    csc::CertInfo ci;
    // The newest certificate that is not revoked.
    const storage::CertificateRecord* leaf = nullptr;
    for (const auto& c : issued) {
      if (!c.revoked) leaf = &c;
    }
    if (leaf == nullptr) {
      ci.status = issued.empty() ? std::nullopt
                                 : std::optional(csc::CertStatus::kRevoked);
    } else {
      ci.status = absl::Now() > leaf->not_after ? csc::CertStatus::kExpired
                                                : csc::CertStatus::kValid;
      if (certs != csc::CertificatesMode::kNone) {
        ci.certificates_der.push_back(leaf->der);
        if (certs == csc::CertificatesMode::kChain) {
          auto ca = inst.ca().CaCertificate();
          if (ca.ok()) ci.certificates_der.push_back(*ca);
        }
      }
      if (cert_info) {
        csc::CertDetails d;
        d.subject_dn = leaf->subject;
        d.serial_number_hex = leaf->serial_hex;
        d.valid_from = leaf->not_before;
        d.valid_to = leaf->not_after;
        auto status = inst.ca().Status();
        if (status.ok()) d.issuer_dn = status->subject;
        ci.details = d;
      }
    }
    info.cert = ci;
  }
  return info;
}

// scheme://host[:port] of a URI, for the page's CSP form-action ("" if it
// has none: the page then allows only this site).
std::string OriginOf(absl::string_view uri) {
  size_t scheme = uri.find("://");
  if (scheme == absl::string_view::npos) return "";
  size_t end = uri.find_first_of("/?#", scheme + 3);
  std::string authority(uri.substr(scheme + 3, end == absl::string_view::npos
                                                   ? absl::string_view::npos
                                                   : end - scheme - 3));
  if (size_t at = authority.rfind('@'); at != std::string::npos) {
    authority = authority.substr(at + 1);
  }
  return absl::StrCat(uri.substr(0, scheme + 3), authority);
}

api::HttpResponse FromPage(int status, const Page& page) {
  api::HttpResponse r;
  r.status = status;
  r.headers = page.headers;
  r.body = page.html;
  return r;
}

api::HttpResponse Redirect(
    const std::string& redirect_uri,
    const std::vector<std::pair<std::string, std::string>>& params) {
  api::HttpResponse r;
  r.status = 302;
  std::string sep = absl::StrContains(redirect_uri, "?") ? "&" : "?";
  r.headers = {
      {"Location", absl::StrCat(redirect_uri, sep, csc::FormEncode(params))},
      {"Cache-Control", "no-store"},
      {"Content-Type", "text/plain"}};
  return r;
}

}  // namespace

api::HttpResponse CscApi::Handle(const api::HttpRequest& req) {
  std::string path(
      absl::string_view(req.target).substr(0, req.target.find('?')));
  sam::Context ctx{absl::StrCat("api:", req.peer)};
  const std::string prefix = "/csc/v2/";
  if (!absl::StartsWith(path, prefix)) {
    return Error(csc::CscError{404, "invalid_request", "Unknown endpoint"});
  }
  std::string op = path.substr(prefix.size());
  if (op == "info") {
    if (req.method != "GET" && req.method != "POST") {
      return Error(csc::CscError{405, "invalid_request", "Use POST"});
    }
    auto parsed = csc::ParseInfoRequest(req.method == "GET" ? "" : req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    csc::ServiceInfo info;
    info.name = "inkan";
    info.logo = "";
    info.region = "JP";
    info.lang = parsed->lang.value_or("en-US");
    info.description = "inkan remote signing service";
    info.auth_type = {"basic", "oauth2code"};
    info.oauth2 = "/csc/v2/oauth2/authorize";
    info.methods = {"oauth2/authorize",      "oauth2/token",
                    "oauth2/revoke",         "auth/login",
                    "auth/revoke",           "credentials/getChallenge",
                    "credentials/list",      "credentials/info",
                    "credentials/authorize", "signatures/signHash"};
    for (auto alg :
         {crypto::KeyAlgorithm::kEcP256, crypto::KeyAlgorithm::kEcP384,
          crypto::KeyAlgorithm::kRsa2048}) {
      for (const std::string& oid : csc::KeyAlgoOids(alg)) {
        bool seen = false;
        for (const auto& e : info.sign_algorithms) seen = seen || e.oid == oid;
        if (!seen) info.sign_algorithms.push_back({oid, std::nullopt});
      }
    }
    return Json(200, csc::RenderInfoResponse(info));
  }
  if (op == "oauth2/authorize") {
    if (req.method == "GET") return Authorize(req);
    if (req.method == "POST") return AuthorizeAnswer(req);
    return Error(csc::CscError{405, "invalid_request", "Use GET or POST"});
  }
  if (req.method != "POST") {
    return Error(csc::CscError{405, "invalid_request", "Use POST"});
  }
  if (op == "oauth2/token") return Token(req);
  if (op == "oauth2/revoke") {
    auto parsed = csc::ParseOAuth2RevokeRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    std::optional<std::string> secret = parsed->client_secret;
    std::string client_id = parsed->client_id.value_or("");
    std::string basic = HeaderValue(req, "authorization");
    if (absl::StartsWithIgnoreCase(basic, "Basic ")) {
      auto decoded = Base64Decode(absl::StripAsciiWhitespace(basic.substr(6)));
      size_t colon = decoded.ok() ? decoded->find(':') : std::string::npos;
      if (colon != std::string::npos) {
        if (client_id.empty())
          client_id = PercentDecode(decoded->substr(0, colon));
        if (!secret) secret = PercentDecode(decoded->substr(colon + 1));
      }
    }
    absl::Status st = auth_.RevokeForClient(client_id, secret, parsed->token,
                                            {absl::StrCat("api:", req.peer)});
    if (absl::IsPermissionDenied(st)) {
      return Error(csc::InvalidClient("Invalid authorization header"));
    }
    if (!st.ok()) return Error(csc::FromStatus(st));
    return Json(200, "");
  }
  if (op == "auth/login") {
    auto parsed = csc::ParseAuthLoginRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    std::string h = HeaderValue(req, "authorization");
    if (h.size() < 7 || !absl::StartsWithIgnoreCase(h, "Basic ")) {
      return Error(csc::MalformedAuthenticationParameter());
    }
    auto decoded = Base64Decode(absl::StripAsciiWhitespace(h.substr(6)));
    size_t colon = decoded.ok() ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos || colon == 0) {
      if (decoded.ok()) CleanseMemory(decoded->data(), decoded->size());
      return Error(csc::MalformedUsernamePassword());
    }
    std::string user = decoded->substr(0, colon);
    SecretBytes pin(absl::string_view(*decoded).substr(colon + 1));
    CleanseMemory(decoded->data(), decoded->size());
    auto token = auth_.Login(user, pin, "", ctx);
    if (!token.ok()) {
      if (absl::IsPermissionDenied(token.status())) {
        return Error(csc::AccessDenied("the user is locked"));
      }
      if (absl::IsUnauthenticated(token.status()) ||
          absl::IsNotFound(token.status())) {
        // An unknown user and a wrong PIN look the same.
        return Error(csc::CscError{401, "authentication_error",
                                   "An error occurred during authentication "
                                   "process"});
      }
      return Error(csc::FromStatus(token.status()));
    }
    csc::LoginResponse out;
    out.access_token = token->secret;
    out.expires_in = absl::ToInt64Seconds(token->expires - absl::Now());
    return Json(200, csc::RenderAuthLoginResponse(out));
  }

  // Everything else needs a valid access token.
  auto caller = auth_.Authenticate(BearerToken(req));
  if (!caller.ok()) {
    if (absl::StrContains(caller.status().message(), "expired") ||
        absl::StrContains(caller.status().message(), "revoked")) {
      return Error(csc::ExpiredToken());
    }
    return Error(csc::InvalidToken("Invalid access token"));
  }
  int multisign = auth_.options().max_multisign;

  if (op == "auth/revoke") {
    auto parsed = csc::ParseAuthRevokeRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    absl::Status st = auth_.Revoke(*caller, parsed->token, ctx);
    if (!st.ok()) return Error(csc::InvalidRequest("Invalid parameter token"));
    api::HttpResponse r = Json(204, "");
    return r;
  }
  if (op == "credentials/list") {
    auto parsed = csc::ParseCredentialsListRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    if (parsed->user_id) return Error(csc::UserIdMustBeNull());
    auto creds = auth_.ListCredentials(*caller);
    if (!creds.ok()) return Error(csc::FromStatus(creds.status()));
    csc::CredentialsListResponse out;
    if (parsed->credential_info) out.credential_infos.emplace();
    for (const auto& c : *creds) {
      out.credential_ids.push_back(c.id);
      if (parsed->credential_info) {
        out.credential_infos->push_back(DescribeCredential(
            instance_, c, parsed->certificates, parsed->cert_info,
            parsed->auth_info, multisign));
      }
    }
    if (parsed->only_valid) out.only_valid = false;  // all are listed
    return Json(200, csc::RenderCredentialsListResponse(out));
  }
  if (op == "credentials/info") {
    auto parsed = csc::ParseCredentialsInfoRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    auto cred = auth_.GetCredential(*caller, parsed->credential_id);
    if (!cred.ok()) return Error(csc::InvalidCredentialId());
    csc::CredentialInfo info =
        DescribeCredential(instance_, *cred, parsed->certificates,
                           parsed->cert_info, parsed->auth_info, multisign);
    info.credential_id.clear();  // not part of credentials/info
    return Json(200, csc::RenderCredentialsInfoResponse(info));
  }
  if (op == "credentials/authorize") {
    auto parsed = csc::ParseCredentialsAuthorizeRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    auto cred = auth_.GetCredential(*caller, parsed->credential_id);
    if (!cred.ok()) return Error(csc::InvalidCredentialId());
    if (parsed->hashes.empty() || !parsed->hash_algorithm) {
      return Error(csc::InvalidRequest(
          "hashes and hashAlgorithmOID are required: inkan binds every "
          "authorization to its documents"));
    }
    if (parsed->num_signatures > multisign) {
      return Error(csc::TooManySignatures());
    }
    SecretBytes pin;
    sam::Possession possession;
    std::string card_b64;
    for (auto& d : parsed->auth_data.value_or(std::vector<csc::AuthDatum>{})) {
      if (d.id == "PIN" && d.value) pin = SecretBytes(*d.value);
      if (d.id == "OTP" && d.value) possession.otp = *d.value;
      if (d.id == "CARD" && d.value) card_b64 = *d.value;
      if (d.value) CleanseMemory(d.value->data(), d.value->size());
    }
    if (!card_b64.empty()) {
      auto sig = Base64Decode(card_b64);
      if (!sig.ok() || sig->empty()) {
        return Error(csc::InvalidRequest("Invalid parameter authData CARD"));
      }
      possession.card_signature = *sig;
    }
    if (pin.empty())
      return Error(csc::InvalidRequest("Missing PIN in authData"));
    if (possession.otp.empty() && possession.card_signature.empty()) {
      return Error(
          csc::InvalidRequest("Missing OTP (or CARD) in authData: a possession "
                              "factor is required"));
    }
    auto sad = auth_.AuthorizeCredential(
        *caller, cred->id, parsed->hashes, *parsed->hash_algorithm,
        parsed->num_signatures, pin, possession, ctx);
    CleanseMemory(possession.otp.data(), possession.otp.size());
    if (!sad.ok()) {
      const absl::Status& st = sad.status();
      if (st.GetPayload(sam::kFactorPayload)) return Error(FactorError(st));
      if (absl::IsNotFound(st)) return Error(csc::InvalidCredentialId());
      if (absl::IsPermissionDenied(st)) {
        return Error(csc::AccessDenied(st.message()));
      }
      return Error(csc::FromStatus(st));
    }
    csc::AuthorizeResponse out;
    out.sad = sad->secret;
    out.expires_in = absl::ToInt64Seconds(sad->expires - absl::Now());
    return Json(200, csc::RenderCredentialsAuthorizeResponse(out));
  }
  if (op == "credentials/getChallenge") {
    std::string credential_id, object_id;
    try {
      boost::json::value v =
          boost::json::parse(req.body.empty() ? "{}" : req.body);
      if (!v.is_object()) return Error(csc::InvalidRequest("Malformed JSON"));
      const auto& o = v.as_object();
      if (auto* c = o.if_contains("credentialID"); c && c->is_string())
        credential_id = std::string(c->as_string());
      if (auto* a = o.if_contains("authObjectID"); a && a->is_string())
        object_id = std::string(a->as_string());
    } catch (const std::exception&) {
      return Error(csc::InvalidRequest("Malformed JSON"));
    }
    if (credential_id.empty()) {
      return Error(csc::InvalidRequest(
          "Missing (or invalid type) string parameter credentialID"));
    }
    if (object_id != "CARD") {
      return Error(csc::InvalidRequest("Invalid parameter authObjectID"));
    }
    auto challenge = auth_.NewCardChallenge(*caller, credential_id);
    if (!challenge.ok()) return Error(csc::InvalidCredentialId());
    return Json(200, absl::StrCat("{\"challenge\":\"", *challenge, "\"}"));
  }
  if (op == "signatures/signHash") {
    auto parsed = csc::ParseSignHashRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    // With a credential-scope token (OAuth 2.0), the token is the SAD.
    std::string sad = parsed->sad.value_or("");
    if (sad.empty() && caller->scope == "credential") sad = BearerToken(req);
    if (sad.empty()) return Error(csc::InvalidSad());
    // An active SAD bound to this caller and credential says the credential
    // is the caller's and what its key is: no database read. Anything else
    // takes the credential from the store, for the exact error.
    auto alg = auth_.SadKeyAlgorithm(*caller, parsed->credential_id, sad);
    if (!alg.ok()) {
      auto cred = auth_.GetCredential(*caller, parsed->credential_id);
      if (!cred.ok()) return Error(csc::InvalidCredentialId());
      alg = crypto::ParseKeyAlgorithm(cred->algorithm);
      if (!alg.ok()) return Error(csc::ServerError());
    }
    auto scheme = csc::ResolveSignAlgo(*parsed, *alg);
    if (!scheme.ok()) return Error(csc::FromStatus(scheme.status()));
    for (const auto& h : parsed->hashes) {
      if (h.size() != crypto::DigestLength(scheme->hash)) {
        return Error(csc::InvalidRequest(
            "Invalid parameter hashes: a digest's length does not match the "
            "hash algorithm"));
      }
    }
    auto sigs = auth_.SignHashes(*caller, parsed->credential_id, sad,
                                 parsed->hashes, *scheme, ctx);
    if (!sigs.ok()) {
      const absl::Status& st = sigs.status();
      if (absl::IsFailedPrecondition(st)) return Error(csc::SadExpired());
      if (absl::IsOutOfRange(st)) {
        return Error(absl::StrContains(st.message(), "Numbers")
                         ? csc::TooManySignatures()
                         : csc::HashNotAuthorized());
      }
      if (absl::IsInvalidArgument(st) &&
          absl::StrContains(st.message(), "SAD")) {
        return Error(csc::InvalidSad());
      }
      return Error(csc::FromStatus(st));
    }
    return Json(200, csc::RenderSignHashResponse(*sigs));
  }
  return Error(csc::CscError{404, "invalid_request", "Unknown endpoint"});
}

void CscApi::SweepConsents() {
  std::vector<Pending> expired;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = absl::Now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (now >= it->second.expires) {
        expired.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const Pending& p : expired) {
    (void)auth_.RecordNoConsent(p.request, "timeout", {"service"});
  }
}

api::HttpResponse CscApi::RenderPending(const std::string& id, const Pending& p,
                                        const std::string& error) {
  Lang lang = PickLang(p.lang, "");
  int64_t left =
      std::max<int64_t>(0, absl::ToInt64Seconds(p.expires - absl::Now()));
  absl::StatusOr<Page> page;
  if (p.request.scope == "credential") {
    ConsentView v;
    v.lang = lang;
    v.client_name = p.request.client_id;
    v.user = p.user;
    v.credential_id = p.request.credential_id;
    v.description = p.description;
    v.hash_algorithm =
        absl::AsciiStrToUpper(crypto::HashAlgorithmName(p.request.hash));
    for (size_t i = 0; i < p.request.hashes.size(); ++i) {
      v.documents.push_back(
          {i < p.labels.size() ? p.labels[i] : "", p.request.hashes[i]});
    }
    v.form_action = "/csc/v2/oauth2/authorize";
    v.consent_id = id;
    v.csrf_token = p.csrf;
    v.expires_in_seconds = left;
    v.error = error;
    page = RenderConsentPage(v, OriginOf(p.request.redirect_uri));
  } else {
    LoginView v;
    v.lang = lang;
    v.client_name = p.request.client_id;
    v.form_action = "/csc/v2/oauth2/authorize";
    v.consent_id = id;
    v.csrf_token = p.csrf;
    v.expires_in_seconds = left;
    v.error = error;
    page = RenderLoginPage(v, OriginOf(p.request.redirect_uri));
  }
  if (!page.ok()) return Error(csc::ServerError());
  api::HttpResponse r = FromPage(200, *page);
  r.headers.push_back(
      {"Set-Cookie",
       absl::StrCat("inkan_csrf=", p.csrf,
                    "; Path=/csc/v2/oauth2; Secure; HttpOnly; SameSite=Strict; "
                    "Max-Age=",
                    absl::ToInt64Seconds(kConsentTtl))});
  return r;
}

api::HttpResponse CscApi::Authorize(const api::HttpRequest& req) {
  SweepConsents();
  size_t q = req.target.find('?');
  std::string query = q == std::string::npos ? "" : req.target.substr(q + 1);
  auto message = [&](int status, absl::string_view detail) {
    MessageView v =
        MakeMessage(PickLang("", HeaderValue(req, "accept-language")),
                    StandardMessage::kInvalidRequest);
    v.text = absl::StrCat(v.text, "\n\n", detail);
    auto page = RenderMessagePage(v);
    return page.ok() ? FromPage(status, *page) : Error(csc::ServerError());
  };
  auto parsed = csc::ParseAuthorizeQuery(query);
  if (!parsed.ok()) {
    // The redirect URI is not known to be the client's: no redirect.
    return message(400, csc::FromStatus(parsed.status()).description);
  }
  std::string redirect = parsed->redirect_uri.value_or("");
  auto client = auth_.CheckClient(parsed->client_id, &redirect);
  if (!client.ok()) {
    return message(400, client.status().message());
  }
  Pending p;
  p.request.client_id = parsed->client_id;
  p.request.redirect_uri = redirect;
  p.request.code_challenge = parsed->code_challenge;
  p.state = parsed->state.value_or("");
  p.lang = parsed->lang.value_or("");
  if (p.lang.empty()) {
    p.lang = PickLang("", HeaderValue(req, "accept-language")) == Lang::kEn
                 ? "en"
                 : "ja";
  }
  p.description = parsed->description.value_or("");
  p.labels = parsed->document_labels;
  if (parsed->scope == csc::Scope::kCredential) {
    p.request.scope = "credential";
    p.request.credential_id = *parsed->credential_id;
    p.request.hashes = parsed->hashes;
    p.request.hash = *parsed->hash_algorithm;
    p.request.num_signatures = parsed->num_signatures;
    absl::Status st = instance_.store().Transact(
        storage::TxMode::kReadOnly, [&](storage::Transaction& tx) {
          ASSIGN_OR_RETURN(auto cred,
                           tx.GetCredential(p.request.credential_id));
          ASSIGN_OR_RETURN(auto owner, tx.GetUserById(cred.user_id));
          p.user = owner.name;
          return absl::OkStatus();
        });
    if (!st.ok()) {
      return Redirect(redirect,
                      {{"error", "invalid_request"},
                       {"error_description", "Invalid parameter credentialID"},
                       {"state", p.state}});
    }
    if (p.request.num_signatures > auth_.options().max_multisign) {
      return Redirect(
          redirect, {{"error", "invalid_request"},
                     {"error_description", "Numbers of signatures is too high"},
                     {"state", p.state}});
    }
  } else {
    p.request.scope = "service";
  }
  auto id = RandomBytes(16);
  auto csrf = RandomBytes(32);
  if (!id.ok() || !csrf.ok()) return Error(csc::ServerError());
  std::string consent_id = HexEncode(*id);
  p.csrf = Base64UrlEncode(*csrf);
  p.expires = absl::Now() + kConsentTtl;
  api::HttpResponse page = RenderPending(consent_id, p, "");
  absl::MutexLock lock(&mu_);
  pending_[consent_id] = std::move(p);
  return page;
}

api::HttpResponse CscApi::AuthorizeAnswer(const api::HttpRequest& req) {
  SweepConsents();
  sam::Context ctx{absl::StrCat("page:", req.peer)};
  auto form = ParseForm(req.body);
  auto wipe = absl::MakeCleanup([&] {
    for (auto& [k, v] : form) CleanseMemory(v.data(), v.size());
  });
  std::string id = form["consent"];
  Pending p;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) {
      auto page = RenderMessagePage(
          MakeMessage(PickLang("", HeaderValue(req, "accept-language")),
                      StandardMessage::kExpired));
      return page.ok() ? FromPage(400, *page) : Error(csc::ServerError());
    }
    p = it->second;
  }
  // CSRF: the form's token, the cookie set with the page and the server's
  // copy must all agree.
  std::string cookie = CookieValue(req, "inkan_csrf");
  if (form["csrf"].empty() ||
      !SecretBytes(form["csrf"]).ConstantTimeEquals(SecretBytes(p.csrf)) ||
      !SecretBytes(cookie).ConstantTimeEquals(SecretBytes(p.csrf))) {
    return Error(csc::AccessDenied("the form did not come from this page"));
  }
  std::string decision = form["decision"];
  if (decision != "yes") {
    {
      absl::MutexLock lock(&mu_);
      pending_.erase(id);
    }
    (void)auth_.RecordNoConsent(p.request, "declined", ctx);
    return Redirect(p.request.redirect_uri,
                    {{"error", "access_denied"},
                     {"error_description", "The user declined"},
                     {"state", p.state}});
  }
  SecretBytes pin(form["pin"]);
  absl::StatusOr<sam::IssuedSecret> code =
      p.request.scope == "credential"
          ? auth_.ApproveCredential(p.request, pin, form["otp"], ctx)
          : auth_.ApproveService(p.request, form["user"], pin, form["otp"],
                                 ctx);
  if (!code.ok()) {
    const absl::Status& st = code.status();
    bool ja = PickLang(p.lang, "") == Lang::kJa;
    std::string why;
    auto factor = st.GetPayload(sam::kFactorPayload);
    bool otp = factor && std::string(*factor) == "otp";
    if (absl::IsPermissionDenied(st)) {
      why = ja ? "ロックされています。運用者に連絡してください。"
               : "Locked after too many failed attempts. Contact the operator.";
    } else if (otp) {
      why = ja ? "ワンタイムコードが正しくありません。"
               : "The one-time code is wrong or was already used.";
    } else if (factor) {
      why = ja ? "PIN が正しくありません。" : "The PIN is wrong.";
    } else {
      why = ja ? "承認できませんでした。" : "The authorization failed.";
    }
    return RenderPending(id, p, why);
  }
  {
    absl::MutexLock lock(&mu_);
    pending_.erase(id);
  }
  return Redirect(p.request.redirect_uri,
                  {{"code", code->secret}, {"state", p.state}});
}

api::HttpResponse CscApi::Token(const api::HttpRequest& req) {
  sam::Context ctx{absl::StrCat("api:", req.peer)};
  auto parsed = csc::ParseTokenRequest(req.body);
  if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
  if (parsed->grant_type != csc::GrantType::kAuthorizationCode) {
    return Error(csc::InvalidGrant("refresh tokens are not issued"));
  }
  std::optional<std::string> secret = parsed->client_secret;
  std::string basic = HeaderValue(req, "authorization");
  if (!secret && absl::StartsWithIgnoreCase(basic, "Basic ")) {
    auto decoded = Base64Decode(absl::StripAsciiWhitespace(basic.substr(6)));
    if (decoded.ok() && decoded->find(':') != std::string::npos) {
      secret = PercentDecode(decoded->substr(decoded->find(':') + 1));
    }
  }
  auto token =
      auth_.ExchangeCode(parsed->client_id, secret, parsed->code.value_or(""),
                         parsed->code_verifier.value_or(""),
                         parsed->redirect_uri.value_or(""), ctx);
  if (!token.ok()) {
    if (absl::IsPermissionDenied(token.status())) {
      return Error(csc::ClientAuthorizationRequired());
    }
    return Error(csc::InvalidGrant(token.status().message()));
  }
  csc::TokenResponse out;
  out.access_token = token->access.secret;
  out.expires_in = absl::ToInt64Seconds(token->access.expires - absl::Now());
  if (token->scope == "credential") out.credential_id = token->credential_id;
  return Json(200, csc::RenderTokenResponse(out));
}

}  // namespace inkan::server
