// The HTML pages inkan serves itself (issue 4, R4): the consent page of
// oauth2/authorize with scope=credential, the login page of scope=service, and
// a message page (errors, "declined", "expired"). Pure rendering: no HTTP, no
// state; the caller owns the consent record, the CSRF cookie and the audit
// log.
//
// Every page:
//   - is plain server-rendered HTML, in Japanese or English, with <html lang>;
//   - has exactly one <style> and (consent and login) one <script>, both
//     carrying a CSP nonce of 16 fresh random bytes drawn per render;
//   - loads nothing from outside, and has no inline event handlers;
//   - comes with these headers (Page::headers, in this order):
//       Content-Type: text/html; charset=utf-8
//       Content-Security-Policy: default-src 'none'; script-src 'nonce-N';
//         style-src 'nonce-N'; img-src 'self' data:; form-action 'self' ORIGIN;
//         frame-ancestors 'none'; base-uri 'none'
//       X-Frame-Options: DENY
//       Referrer-Policy: no-referrer
//       Cache-Control: no-store
//       X-Content-Type-Options: nosniff
//     (one line; " ORIGIN" is left out when redirect_origin is empty). The
//     client's redirect origin is in form-action because Chrome applies
//     form-action to the redirect that follows a form POST.
//
// Everything that comes from outside (client name, user, credential id,
// labels, description, error text, hidden field values) is made valid UTF-8
// (bad bytes become U+FFFD, control characters a space), HTML-escaped, and
// shown inside <bdi> so right-to-left text cannot reorder the text around it.
//
// The form (one per page) posts to form_action with these fields:
//   consent   the consent id (hidden)
//   csrf      the CSRF token (hidden); the caller also sets it as a cookie,
//             e.g. "__Host-inkan_csrf=TOKEN; Path=/; Secure; HttpOnly;
//             SameSite=Strict", and compares both in constant time
//   pin       the PIN (type=password)
//   otp       the 6-digit one-time code, when otp_required
//   user      the user name (login page only)
//   decision  "yes" (button id="yes") or "no" (button id="no"; formnovalidate,
//             so declining needs no PIN)
// A POST without decision=yes is a No. The page's script counts down from
// expires_in_seconds, then disables "yes" and shows that the request expired;
// it disables both buttons once the form is submitted (double submits). The
// page works without the script; the server enforces expiry either way.
//
// Thread-safety: all functions may run concurrently.
#ifndef INKAN_SERVER_PAGES_H_
#define INKAN_SERVER_PAGES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inkan::server {

enum class Lang { kJa, kEn };

// The page language: from an explicit `lang` parameter ("ja", "ja-JP", "en",
// "en-US", any case) when it names Japanese or English; else from the
// Accept-Language header (the ja/en entry with the highest q-value, the first
// one on a tie; q=0 means "not this one"; malformed entries are skipped); else
// Japanese.
Lang PickLang(absl::string_view lang_param, absl::string_view accept_language);

struct Document {
  // From the client; may be "" (then "Document 1" / 「文書 1」, numbered from
  // 1 by position).
  std::string label;
  // The raw hash bytes (not empty). Shown as lowercase hex in groups of 4
  // digits, for reading aloud, and as base64 in the title attribute.
  std::string hash;
};

struct ConsentView {
  Lang lang = Lang::kJa;
  std::string client_name;  // the app asking
  std::string user;         // the credential owner's name
  std::string credential_id;
  std::string description;     // from the client, may be empty; newlines kept
  std::string hash_algorithm;  // "SHA-256"; may be empty (then not shown)
  std::vector<Document> documents;  // at least one
  std::string form_action;  // a path on this origin: "/csc/v2/oauth2/authorize"
  std::string consent_id;   // not empty
  std::string csrf_token;   // not empty
  // Countdown shown; at 0 the page says the request expired and disables
  // "yes". <= 0 renders the page already expired.
  int64_t expires_in_seconds = 0;
  // Shown above the form when a previous try failed (e.g. a wrong PIN); may be
  // empty.
  std::string error;
  bool otp_required = true;  // the one-time code field
};

// scope=service: user name + PIN (+ one-time code).
struct LoginView {
  Lang lang = Lang::kJa;
  std::string client_name;
  std::string form_action;
  std::string consent_id;
  std::string csrf_token;
  int64_t expires_in_seconds = 0;
  std::string error;
  bool otp_required = true;
};

// Errors, "declined", "expired": a title and a text, no form.
struct MessageView {
  Lang lang = Lang::kJa;
  std::string title;
  std::string text;  // newlines kept
};

// The standard messages, in the view's language.
enum class StandardMessage {
  kDeclined,        // the user said No
  kExpired,         // the request timed out
  kInvalidRequest,  // a bad request that cannot go back to the app
  kInternalError,
};
MessageView MakeMessage(Lang lang, StandardMessage which);

struct Page {
  std::string html;
  std::vector<std::pair<std::string, std::string>> headers;
};

// InvalidArgument when the view is unusable: no documents or an empty hash,
// form_action not a path on this origin ("/..." but not "//..."), an empty
// consent_id or csrf_token, or a redirect_origin that is not empty and not
// exactly "http[s]://host[:port]" (no path, no spaces or quotes: it goes into
// a header). Internal when the random generator fails.
absl::StatusOr<Page> RenderConsentPage(const ConsentView& view,
                                       absl::string_view redirect_origin);
absl::StatusOr<Page> RenderLoginPage(const LoginView& view,
                                     absl::string_view redirect_origin);
absl::StatusOr<Page> RenderMessagePage(const MessageView& view);

// Exposed for tests and for other pages.
// & < > " ' as character references, and nothing else changed.
std::string HtmlEscape(absl::string_view text);
// "a1b2 c3d4 ..." for the bytes' lowercase hex, 4 digits per group.
std::string HashForReading(absl::string_view bytes);

}  // namespace inkan::server

#endif  // INKAN_SERVER_PAGES_H_
