#include "client/oauth_consent.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/csc_codec.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/digest.h"

namespace inkan::client {

namespace json = boost::json;

namespace {

constexpr size_t kMaxLabelChars = 255;

// One UTF-8 sequence at the start of `s`: its length, or 0 if it is not a
// valid, shortest-form encoding of a scalar value.
size_t Utf8SequenceLength(absl::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  // C1 controls (U+0080..U+009F) are control characters too.
  if (cp >= 0x80 && cp <= 0x9f) return 0;
  return n;
}

std::string Page(absl::string_view ja, absl::string_view en) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
      "<title>inkan sign</title></head>\n<body style=\"font-family:sans-serif;"
      "margin:3em\">\n<p>",
      ja, "</p>\n<p lang=\"en\">", en, "</p>\n</body></html>\n");
}

}  // namespace

absl::StatusOr<Pkce> NewPkce() {
  ASSIGN_OR_RETURN(SecretBytes random, RandomSecret(32));
  std::string verifier = Base64UrlEncode(random.RevealString());
  Pkce p;
  p.verifier = SecretBytes(verifier);
  p.challenge = Base64UrlEncode(crypto::Sha256(verifier));
  CleanseMemory(verifier.data(), verifier.size());
  return p;
}

std::string AuthorizeUrl(absl::string_view base_url,
                         const ConsentRequest& request,
                         absl::string_view redirect_uri,
                         absl::string_view code_challenge,
                         absl::string_view state) {
  std::vector<std::string> hashes, labels;
  for (const std::string& d : request.digests) {
    hashes.push_back(Base64UrlEncode(d));
  }
  for (const std::string& l : request.labels) {
    labels.push_back(Base64UrlEncode(l));
  }
  std::vector<std::pair<std::string, std::string>> params = {
      {"response_type", "code"},
      {"client_id", request.client_id},
      {"redirect_uri", std::string(redirect_uri)},
      {"scope", "credential"},
      {"code_challenge", std::string(code_challenge)},
      {"code_challenge_method", "S256"},
      {"state", std::string(state)},
      {"credentialID", request.credential_id},
      {"numSignatures", absl::StrCat(request.digests.size())},
      {"hashes", absl::StrJoin(hashes, ",")},
      {"hashAlgorithmOID", request.hash_oid}};
  if (!labels.empty())
    params.push_back({"documentLabels", absl::StrJoin(labels, ",")});
  if (!request.description.empty()) {
    params.push_back({"description", request.description});
  }
  if (!request.lang.empty()) params.push_back({"lang", request.lang});
  return absl::StrCat(base_url, "oauth2/authorize?",
                      api::csc::FormEncode(params));
}

std::string DocumentLabel(absl::string_view path) {
  size_t slash = path.find_last_of('/');
  absl::string_view base =
      slash == absl::string_view::npos ? path : path.substr(slash + 1);
  std::string out;
  size_t chars = 0;
  while (!base.empty() && chars < kMaxLabelChars) {
    size_t n = Utf8SequenceLength(base);
    unsigned char c = static_cast<unsigned char>(base[0]);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      n = 1;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\xef\xbf\xbd";
    } else {
      out.append(base.data(), n);
    }
    base.remove_prefix(n);
    ++chars;
  }
  return out.empty() ? "document" : out;
}

absl::StatusOr<SecretBytes> CodeFromRedirect(
    const absl::StatusOr<QueryParams>& query, absl::string_view state) {
  if (!query.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("a malformed answer came back (", query.status().message(),
                     "); nothing was signed"));
  }
  auto it = query->find("state");
  if (it == query->end() || !ConstantTimeEquals(it->second, state)) {
    return absl::UnauthenticatedError(
        "an answer came back without this request's state: it is not the "
        "answer to this consent; nothing was signed");
  }
  if (auto e = query->find("error"); e != query->end()) {
    if (e->second == "access_denied") {
      return absl::PermissionDeniedError(
          "the signer declined on the consent page; nothing was signed");
    }
    auto d = query->find("error_description");
    return absl::FailedPreconditionError(absl::StrCat(
        "the consent page answered ", e->second, d == query->end() ? "" : ": ",
        d == query->end() ? "" : d->second));
  }
  auto code = query->find("code");
  if (code == query->end() || code->second.empty()) {
    return absl::FailedPreconditionError(
        "the consent page's answer has neither a code nor an error");
  }
  return SecretBytes(code->second);
}

LoopbackAnswer AnswerPage(const absl::Status& outcome) {
  if (outcome.ok()) {
    return {200, Page("確認しました。このウィンドウを閉じてください。"
                      "署名は端末の inkan sign が仕上げます。",
                      "Confirmed. You can close this window: inkan sign "
                      "finishes the signatures in the terminal.")};
  }
  if (absl::IsPermissionDenied(outcome)) {
    return {200, Page("署名を取りやめました。何も署名されません。"
                      "このウィンドウを閉じてください。",
                      "You declined: nothing will be signed. You can close "
                      "this window.")};
  }
  return {400, Page("この応答は受け付けられません。何も署名されません。"
                    "このウィンドウを閉じてください。",
                    "This answer was refused: nothing will be signed. You can "
                    "close this window.")};
}

absl::StatusOr<SecretBytes> RunConsent(CscClient& service,
                                       const ConsentRequest& request,
                                       LoopbackRedirectListener& listener,
                                       absl::Duration timeout,
                                       std::ostream& prompt) {
  ASSIGN_OR_RETURN(Pkce pkce, NewPkce());
  ASSIGN_OR_RETURN(std::string state_bytes, RandomBytes(16));
  const std::string state = Base64UrlEncode(state_bytes);
  const std::string redirect_uri = listener.redirect_uri();
  prompt << "Open this URL to confirm: "
         << AuthorizeUrl(service.base_url(), request, redirect_uri,
                         pkce.challenge, state)
         << "\n(waiting up to " << absl::FormatDuration(timeout)
         << " for the answer at " << redirect_uri << ")" << std::endl;

  bool answered = false;
  absl::StatusOr<SecretBytes> code = absl::UnknownError("no answer");
  absl::StatusOr<QueryParams> query =
      listener.Await(timeout, [&](const absl::StatusOr<QueryParams>& q) {
        answered = true;
        code = CodeFromRedirect(q, state);
        return AnswerPage(code.status());
      });
  if (query.ok()) {
    for (auto& [name, value] : *query) {
      CleanseMemory(value.data(), value.size());
    }
  }
  if (!answered) {
    return absl::Status(query.status().code(),
                        absl::StrCat("no answer from the consent page: ",
                                     query.status().message()));
  }
  RETURN_IF_ERROR(code.status());

  // The code, the verifier and the redirect URI for the credential token.
  std::vector<std::pair<std::string, std::string>> form = {
      {"grant_type", "authorization_code"},
      {"code", std::string(code->RevealString())},
      {"code_verifier", std::string(pkce.verifier.RevealString())},
      {"client_id", request.client_id},
      {"redirect_uri", redirect_uri}};
  std::string body = api::csc::FormEncode(form);
  for (auto& [name, value] : form) CleanseMemory(value.data(), value.size());
  auto r = service.Post("oauth2/token", body, "",
                        "application/x-www-form-urlencoded");
  CleanseMemory(body.data(), body.size());
  RETURN_IF_ERROR(r.status());
  if (r->status != 200) {
    absl::Status st = FailureStatus(*r, "oauth2/token");
    CleanseMemory(r->body.data(), r->body.size());
    return st;
  }
  // Parsed in a buffer on the stack, wiped afterwards with the answer.
  unsigned char scratch[4096];
  SecretBytes token;
  {
    json::monotonic_resource mr(scratch, sizeof(scratch));
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec, &mr);
    if (const auto* o = ec ? nullptr : v.if_object()) {
      if (auto* t = o->if_contains("access_token"); t && t->is_string()) {
        token = SecretBytes(
            absl::string_view(t->as_string().data(), t->as_string().size()));
      }
    }
  }
  CleanseMemory(scratch, sizeof(scratch));
  CleanseMemory(r->body.data(), r->body.size());
  if (token.empty()) {
    return absl::DataLossError("oauth2/token: the answer has no access_token");
  }
  return token;
}

}  // namespace inkan::client
