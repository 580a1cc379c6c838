#include "server/csc_api.h"

#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/csc_codec.h"
#include "common/encoding.h"
#include "common/status_macros.h"

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

std::string Header(const api::HttpRequest& req, const std::string& name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? "" : it->second;
}

// The bearer token of the Authorization header, or "".
std::string Bearer(const api::HttpRequest& req) {
  std::string h = Header(req, "authorization");
  if (h.size() > 7 && absl::StartsWithIgnoreCase(h, "Bearer ")) {
    return std::string(absl::StripAsciiWhitespace(h.substr(7)));
  }
  return "";
}

// The sam layer's verdict on a factor, as the CSC error a client expects.
csc::CscError FactorError(const absl::Status& st) {
  auto factor = st.GetPayload(sam::kFactorPayload);
  bool otp = factor && std::string(*factor) == "otp";
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
    info.auth_type = {"basic"};
    info.methods = {
        "auth/login",       "auth/revoke",           "credentials/list",
        "credentials/info", "credentials/authorize", "signatures/signHash"};
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
  if (req.method != "POST") {
    return Error(csc::CscError{405, "invalid_request", "Use POST"});
  }
  if (op == "auth/login") {
    auto parsed = csc::ParseAuthLoginRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    std::string h = Header(req, "authorization");
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
  auto caller = auth_.Authenticate(Bearer(req));
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
    std::string otp;
    for (auto& d : parsed->auth_data.value_or(std::vector<csc::AuthDatum>{})) {
      if (d.id == "PIN" && d.value) pin = SecretBytes(*d.value);
      if (d.id == "OTP" && d.value) otp = *d.value;
      if (d.value) CleanseMemory(d.value->data(), d.value->size());
    }
    if (pin.empty())
      return Error(csc::InvalidRequest("Missing PIN in authData"));
    if (otp.empty())
      return Error(csc::InvalidRequest("Missing OTP in authData"));
    auto sad = auth_.AuthorizeCredential(*caller, cred->id, parsed->hashes,
                                         *parsed->hash_algorithm,
                                         parsed->num_signatures, pin, otp, ctx);
    CleanseMemory(otp.data(), otp.size());
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
  if (op == "signatures/signHash") {
    auto parsed = csc::ParseSignHashRequest(req.body);
    if (!parsed.ok()) return Error(csc::FromStatus(parsed.status()));
    if (!parsed->sad) return Error(csc::InvalidSad());
    auto cred = auth_.GetCredential(*caller, parsed->credential_id);
    if (!cred.ok()) return Error(csc::InvalidCredentialId());
    auto alg = crypto::ParseKeyAlgorithm(cred->algorithm);
    if (!alg.ok()) return Error(csc::ServerError());
    auto scheme = csc::ResolveSignAlgo(*parsed, *alg);
    if (!scheme.ok()) return Error(csc::FromStatus(scheme.status()));
    for (const auto& h : parsed->hashes) {
      if (h.size() != crypto::DigestLength(scheme->hash)) {
        return Error(csc::InvalidRequest(
            "Invalid parameter hashes: a digest's length does not match the "
            "hash algorithm"));
      }
    }
    auto sigs = auth_.SignHashes(*caller, cred->id, *parsed->sad,
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

}  // namespace inkan::server
