#include "server/pages.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace inkan::server {
namespace {

// ---------------------------------------------------------------------------
// The words, in both languages. Strings with $0 are absl::Substitute formats
// whose arguments are already escaped HTML.

struct Words {
  const char* html_lang;
  const char* consent_heading;
  const char* consent_intro;  // $0 client
  const char* credential;
  const char* owner;
  const char* document_count;
  const char* document_count_value;  // $0 N
  const char* hash_algorithm;
  const char* description;
  const char* documents_heading;
  const char* documents_note;
  const char* document_fallback;  // $0 position from 1
  const char* hash;
  const char* pin;
  const char* otp;
  const char* yes_one;
  const char* yes_many;  // $0 N
  const char* no;
  const char* login_heading;
  const char* login_intro;  // $0 client
  const char* user;
  const char* login_yes;
  const char* login_no;
  const char* time_left;
  const char* expired;
  const char* declined_title;
  const char* declined_text;
  const char* expired_title;
  const char* invalid_title;
  const char* invalid_text;
  const char* internal_title;
  const char* internal_text;
};

constexpr Words kJa = {
    .html_lang = "ja",
    .consent_heading = "署名の確認",
    .consent_intro =
        "<strong>$0</strong> が、あなたの鍵での署名を求めています。",
    .credential = "署名鍵",
    .owner = "名義",
    .document_count = "文書の数",
    .document_count_value = "$0 件",
    .hash_algorithm = "ハッシュ方式",
    .description = "アプリからの説明",
    .documents_heading = "署名する文書",
    .documents_note =
        "文書名はアプリが付けたものです。"
        "署名されるのは、各文書のハッシュ値です。",
    .document_fallback = "文書 $0",
    .hash = "ハッシュ値",
    .pin = "PIN",
    .otp = "ワンタイムコード（6 桁）",
    .yes_one = "はい、1 件の文書に署名します",
    .yes_many = "はい、$0 件の文書に署名します",
    .no = "いいえ",
    .login_heading = "inkan にログイン",
    .login_intro =
        "<strong>$0</strong> が、あなたの inkan "
        "アカウントの利用を求めています。",
    .user = "ユーザー名",
    .login_yes = "ログイン",
    .login_no = "キャンセル",
    .time_left = "残り時間",
    .expired = "この要求は期限切れです。アプリからもう一度やり直してください。",
    .declined_title = "署名しませんでした",
    .declined_text = "要求をお断りしました。アプリに戻ってください。",
    .expired_title = "期限切れ",
    .invalid_title = "要求が正しくありません",
    .invalid_text =
        "この要求は処理できません。アプリからもう一度やり直してください。",
    .internal_title = "エラー",
    .internal_text =
        "inkan の内部でエラーが起きました。"
        "しばらくしてから、もう一度お試しください。",
};

constexpr Words kEn = {
    .html_lang = "en",
    .consent_heading = "Confirm signing",
    .consent_intro = "<strong>$0</strong> asks you to sign with your key.",
    .credential = "Credential",
    .owner = "Owner",
    .document_count = "Documents",
    .document_count_value = "$0",
    .hash_algorithm = "Hash algorithm",
    .description = "Description (from the app)",
    .documents_heading = "Documents to sign",
    .documents_note =
        "Document names are given by the app; what is signed is "
        "each document's hash.",
    .document_fallback = "Document $0",
    .hash = "Hash",
    .pin = "PIN",
    .otp = "One-time code (6 digits)",
    .yes_one = "Yes, sign this document",
    .yes_many = "Yes, sign these $0 documents",
    .no = "No",
    .login_heading = "Sign in to inkan",
    .login_intro = "<strong>$0</strong> asks to use your inkan account.",
    .user = "User name",
    .login_yes = "Log in",
    .login_no = "Cancel",
    .time_left = "Time left",
    .expired = "This request has expired. Please start again from the app.",
    .declined_title = "Not signed",
    .declined_text = "You declined the request. You can return to the app.",
    .expired_title = "Expired",
    .invalid_title = "Invalid request",
    .invalid_text =
        "This request cannot be processed. Please start again from the app.",
    .internal_title = "Error",
    .internal_text =
        "Something went wrong inside inkan. Please try again later.",
};

const Words& WordsFor(Lang lang) { return lang == Lang::kEn ? kEn : kJa; }

// ---------------------------------------------------------------------------
// Text from outside.

constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Valid UTF-8 (each bad byte becomes U+FFFD), with C0/C1 control characters
// and DEL as spaces, except newlines when keep_newlines (CRLF and CR become
// LF).
std::string CleanText(absl::string_view in, bool keep_newlines) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      if (keep_newlines && c == '\r') {
        if (i + 1 >= in.size() || in[i + 1] != '\n') out += '\n';
      } else if (keep_newlines && c == '\n') {
        out += '\n';
      } else if (c < 0x20 || c == 0x7f) {
        out += ' ';
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
      min = 0x10000;
    }
    bool ok = len != 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char b = static_cast<unsigned char>(in[i + k]);
      if ((b & 0xC0) != 0x80) {
        ok = false;
      } else {
        cp = (cp << 6) | (b & 0x3F);
      }
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) {
      ok = false;
    }
    if (!ok) {
      out.append(kReplacement.data(), kReplacement.size());
      ++i;
      continue;
    }
    if (cp <= 0x9F) {
      out += ' ';  // C1 control
    } else {
      out.append(in.data() + i, len);
    }
    i += len;
  }
  return out;
}

// Outside text as HTML: cleaned, escaped, isolated for bidi.
std::string Text(absl::string_view in) {
  return absl::StrCat("<bdi>", HtmlEscape(CleanText(in, false)), "</bdi>");
}
std::string MultilineText(absl::string_view in) {
  return absl::StrCat("<bdi>", HtmlEscape(CleanText(in, true)), "</bdi>");
}
// For attribute values.
std::string Attr(absl::string_view in) {
  return HtmlEscape(CleanText(in, false));
}

// ---------------------------------------------------------------------------
// Checks.

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// "http[s]://host[:port]" with nothing else: it goes into a header.
bool ValidOrigin(absl::string_view o) {
  absl::string_view rest;
  if (absl::StartsWithIgnoreCase(o, "https://")) {
    rest = o.substr(8);
  } else if (absl::StartsWithIgnoreCase(o, "http://")) {
    rest = o.substr(7);
  } else {
    return false;
  }
  absl::string_view port;
  if (absl::StartsWith(rest, "[")) {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos || close == 1) return false;
    for (char c : rest.substr(1, close - 1)) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' &&
          c != '.') {
        return false;
      }
    }
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
      if (!IsDigits(port) || port.size() > 5) return false;
    }
    return true;
  }
  size_t colon = rest.find(':');
  absl::string_view host = rest.substr(0, colon);
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '-') {
      return false;
    }
  }
  if (colon != absl::string_view::npos) {
    port = rest.substr(colon + 1);
    if (!IsDigits(port) || port.size() > 5) return false;
  }
  return true;
}

// A path on this origin: "/x", not "//x" or "/\x" (both leave the origin).
bool ValidFormAction(absl::string_view a) {
  if (a.empty() || a[0] != '/') return false;
  if (a.size() > 1 && (a[1] == '/' || a[1] == '\\')) return false;
  for (char c : a) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

absl::Status CheckForm(absl::string_view form_action,
                       absl::string_view consent_id,
                       absl::string_view csrf_token,
                       absl::string_view redirect_origin) {
  if (!ValidFormAction(form_action)) {
    return absl::InvalidArgumentError(
        "pages: form_action must be a path on this origin");
  }
  if (consent_id.empty()) {
    return absl::InvalidArgumentError("pages: no consent id");
  }
  if (csrf_token.empty()) {
    return absl::InvalidArgumentError("pages: no CSRF token");
  }
  if (!redirect_origin.empty() && !ValidOrigin(redirect_origin)) {
    return absl::InvalidArgumentError(
        "pages: redirect_origin must be http[s]://host[:port]");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The page frame.

constexpr char kStyle[] =
    ":root{color-scheme:light dark}"
    "[hidden]{display:none!important}"
    "body{font-family:system-ui,-apple-system,\"Hiragino Sans\","
    "\"Noto Sans JP\",sans-serif;line-height:1.5;margin:0;padding:1rem}"
    "main{max-width:40rem;margin:0 auto}"
    "h1{font-size:1.4rem;margin:.5rem 0 1rem}"
    "h2{font-size:1.1rem;margin:1.25rem 0 .25rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;"
    "gap:.25rem 1rem;margin:0 0 1rem}"
    "dt{font-weight:bold}"
    "dd{margin:0;overflow-wrap:anywhere}"
    ".multiline{white-space:pre-line}"
    ".note{font-size:.9rem;opacity:.8;margin:0}"
    "ol.docs{padding-left:1.75rem}"
    "ol.docs li{margin:.5rem 0}"
    ".label{display:block;font-weight:bold;overflow-wrap:anywhere}"
    "code{font-family:ui-monospace,monospace;font-size:1rem;"
    "word-spacing:.25em}"
    ".error{color:#b00020;font-weight:bold}"
    "@media (prefers-color-scheme:dark){.error{color:#ff8a80}}"
    "label{display:block;margin-top:.75rem;font-weight:bold}"
    "input{font-size:1.1rem;padding:.5rem;width:100%;max-width:20rem;"
    "box-sizing:border-box}"
    ".buttons{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.25rem}"
    "button{font-size:1.1rem;padding:.75rem 1.25rem;border-radius:.4rem;"
    "border:1px solid #888;cursor:pointer}"
    "#yes{background:#0b57d0;color:#fff;border-color:#0b57d0}"
    "button:disabled{opacity:.5;cursor:not-allowed}";

// The countdown and the double-submit guard. Buttons are disabled after the
// submit event, not in it: a disabled submitter would drop decision=yes from
// the form data.
constexpr char kScript[] =
    "(function(){'use strict';"
    "var form=document.getElementById('form'),"
    "yes=document.getElementById('yes'),no=document.getElementById('no'),"
    "cd=document.getElementById('countdown'),"
    "timer=document.getElementById('timer'),"
    "expired=document.getElementById('expired');"
    "var left=parseInt(cd.getAttribute('data-seconds'),10)||0;"
    "var end=Date.now()+left*1000;"
    "function fmt(s){var m=Math.floor(s/60),r=s%60;"
    "return m+':'+(r<10?'0':'')+r;}"
    "function tick(){var s=Math.max(0,Math.ceil((end-Date.now())/1000));"
    "cd.textContent=fmt(s);"
    "if(s<=0){yes.disabled=true;timer.hidden=true;expired.hidden=false;"
    "return;}"
    "setTimeout(tick,250);}"
    "var sent=false;"
    "form.addEventListener('submit',function(e){"
    "if(sent){e.preventDefault();return;}sent=true;"
    "setTimeout(function(){yes.disabled=true;no.disabled=true;},0);});"
    "tick();})();";

struct Frame {
  std::string nonce;
  std::vector<std::pair<std::string, std::string>> headers;
};

absl::StatusOr<Frame> MakeFrame(absl::string_view redirect_origin) {
  ASSIGN_OR_RETURN(std::string bytes, RandomBytes(16));
  Frame f;
  f.nonce = Base64Encode(bytes);
  std::string form_action = "'self'";
  if (!redirect_origin.empty())
    absl::StrAppend(&form_action, " ", redirect_origin);
  f.headers = {
      {"Content-Type", "text/html; charset=utf-8"},
      {"Content-Security-Policy",
       absl::StrCat("default-src 'none'; script-src 'nonce-", f.nonce,
                    "'; style-src 'nonce-", f.nonce,
                    "'; img-src 'self' data:; form-action ", form_action,
                    "; frame-ancestors 'none'; base-uri 'none'")},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
  };
  return f;
}

std::string Head(const Words& w, absl::string_view title_html,
                 absl::string_view nonce) {
  return absl::StrCat("<!DOCTYPE html>\n<html lang=\"", w.html_lang,
                      "\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, "
                      "initial-scale=1\">\n"
                      "<meta name=\"referrer\" content=\"no-referrer\">\n"
                      "<meta name=\"robots\" content=\"noindex\">\n"
                      "<link rel=\"icon\" href=\"data:,\">\n"
                      "<title>",
                      title_html, " | inkan</title>\n<style nonce=\"", nonce,
                      "\">", kStyle, "</style>\n</head>\n<body>\n<main>\n");
}

std::string Tail(absl::string_view nonce, bool with_script) {
  std::string out = "</main>\n";
  if (with_script) {
    absl::StrAppend(&out, "<script nonce=\"", nonce, "\">", kScript,
                    "</script>\n");
  }
  absl::StrAppend(&out, "</body>\n</html>\n");
  return out;
}

int64_t ClampSeconds(int64_t s) {
  return std::clamp<int64_t>(s, 0, int64_t{10} * 365 * 24 * 3600);
}

std::string Minutes(int64_t s) {
  int64_t r = s % 60;
  return absl::StrCat(s / 60, ":", r < 10 ? "0" : "", r);
}

std::string ErrorBlock(absl::string_view error) {
  if (error.empty()) return "";
  return absl::StrCat("<p class=\"error\" id=\"error\" role=\"alert\">",
                      Text(error), "</p>\n");
}

std::string FormStart(absl::string_view action, absl::string_view consent_id,
                      absl::string_view csrf) {
  return absl::StrCat("<form id=\"form\" method=\"post\" action=\"",
                      Attr(action),
                      "\" autocomplete=\"off\">\n"
                      "<input type=\"hidden\" name=\"consent\" value=\"",
                      Attr(consent_id),
                      "\">\n"
                      "<input type=\"hidden\" name=\"csrf\" value=\"",
                      Attr(csrf), "\">\n");
}

std::string PinAndOtp(const Words& w, bool otp_required) {
  std::string out =
      absl::StrCat("<label for=\"pin\">", w.pin,
                   "</label>\n<input type=\"password\" name=\"pin\" id=\"pin\" "
                   "autocomplete=\"off\" required>\n");
  if (otp_required) {
    absl::StrAppend(
        &out, "<label for=\"otp\">", w.otp,
        "</label>\n<input type=\"text\" name=\"otp\" id=\"otp\" "
        "inputmode=\"numeric\" pattern=\"[0-9]{6}\" maxlength=\"6\" "
        "autocomplete=\"one-time-code\" required>\n");
  }
  return out;
}

// The countdown, the expired notice and the two buttons; closes the form.
std::string FormEnd(const Words& w, int64_t expires_in_seconds,
                    absl::string_view yes_text, absl::string_view no_text) {
  int64_t s = ClampSeconds(expires_in_seconds);
  bool expired = s == 0;
  return absl::StrCat(
      "<p id=\"timer\"", expired ? " hidden" : "", ">", w.time_left,
      " <span id=\"countdown\" data-seconds=\"", s, "\">", Minutes(s),
      "</span></p>\n<p id=\"expired\" class=\"error\" role=\"alert\"",
      expired ? "" : " hidden", ">", w.expired,
      "</p>\n<div class=\"buttons\">\n"
      "<button type=\"submit\" name=\"decision\" value=\"yes\" id=\"yes\"",
      expired ? " disabled" : "", ">", yes_text,
      "</button>\n"
      "<button type=\"submit\" name=\"decision\" value=\"no\" id=\"no\" "
      "formnovalidate>",
      no_text, "</button>\n</div>\n</form>\n");
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HashForReading(absl::string_view bytes) {
  std::string hex = HexEncode(bytes);
  std::string out;
  out.reserve(hex.size() + hex.size() / 4);
  for (size_t i = 0; i < hex.size(); i += 4) {
    if (i > 0) out += ' ';
    out.append(hex, i, 4);
  }
  return out;
}

namespace {

// The primary subtag's language, if it is ja or en and the tag looks like a
// language tag ("ja", "ja-JP", "en_US"); kNone otherwise.
enum class TagMatch { kNone, kJa, kEn };

TagMatch MatchTag(absl::string_view tag) {
  tag = absl::StripAsciiWhitespace(tag);
  if (tag.empty() || tag.size() > 35) return TagMatch::kNone;
  for (char c : tag) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return TagMatch::kNone;
    }
  }
  absl::string_view primary = tag.substr(0, tag.find_first_of("-_"));
  if (absl::EqualsIgnoreCase(primary, "ja")) return TagMatch::kJa;
  if (absl::EqualsIgnoreCase(primary, "en")) return TagMatch::kEn;
  return TagMatch::kNone;
}

// RFC 9110 §12.4.2 qvalue, in thousandths; -1 when malformed.
int ParseQ(absl::string_view q) {
  if (q.empty() || q.size() > 5) return -1;
  if (q[0] != '0' && q[0] != '1') return -1;
  int whole = q[0] - '0';
  int frac = 0;
  if (q.size() > 1) {
    if (q[1] != '.') return -1;
    absl::string_view digits = q.substr(2);
    int scale = 100;
    for (char c : digits) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return -1;
      frac += (c - '0') * scale;
      scale /= 10;
    }
  }
  int value = whole * 1000 + frac;
  return value > 1000 ? -1 : value;
}

}  // namespace

Lang PickLang(absl::string_view lang_param, absl::string_view accept_language) {
  switch (MatchTag(lang_param)) {
    case TagMatch::kJa:
      return Lang::kJa;
    case TagMatch::kEn:
      return Lang::kEn;
    case TagMatch::kNone:
      break;
  }
  int best_q = 0;
  TagMatch best = TagMatch::kNone;
  bool ja_refused = false;
  bool en_refused = false;
  for (absl::string_view entry : absl::StrSplit(accept_language, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(entry, ';');
    TagMatch m = MatchTag(parts[0]);
    if (m == TagMatch::kNone) continue;
    int q = 1000;
    bool malformed = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
      if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
        q = ParseQ(absl::StripAsciiWhitespace(p.substr(2)));
        if (q < 0) malformed = true;
      }
    }
    if (malformed) continue;
    if (q == 0) {
      (m == TagMatch::kJa ? ja_refused : en_refused) = true;
      continue;
    }
    if (q > best_q) {
      best_q = q;
      best = m;
    }
  }
  if (best == TagMatch::kEn) return Lang::kEn;
  if (best == TagMatch::kJa) return Lang::kJa;
  return ja_refused && !en_refused ? Lang::kEn : Lang::kJa;
}

MessageView MakeMessage(Lang lang, StandardMessage which) {
  const Words& w = WordsFor(lang);
  switch (which) {
    case StandardMessage::kDeclined:
      return {lang, w.declined_title, w.declined_text};
    case StandardMessage::kExpired:
      return {lang, w.expired_title, w.expired};
    case StandardMessage::kInvalidRequest:
      return {lang, w.invalid_title, w.invalid_text};
    case StandardMessage::kInternalError:
      break;
  }
  return {lang, w.internal_title, w.internal_text};
}

absl::StatusOr<Page> RenderConsentPage(const ConsentView& view,
                                       absl::string_view redirect_origin) {
  if (view.documents.empty()) {
    return absl::InvalidArgumentError("pages: no documents to sign");
  }
  for (const Document& d : view.documents) {
    if (d.hash.empty()) {
      return absl::InvalidArgumentError("pages: a document has no hash");
    }
  }
  RETURN_IF_ERROR(CheckForm(view.form_action, view.consent_id, view.csrf_token,
                            redirect_origin));
  ASSIGN_OR_RETURN(Frame frame, MakeFrame(redirect_origin));
  const Words& w = WordsFor(view.lang);
  const size_t n = view.documents.size();
  const std::string count = absl::StrCat(n);

  std::string html = Head(w, w.consent_heading, frame.nonce);
  absl::StrAppend(
      &html, "<h1>", w.consent_heading, "</h1>\n", ErrorBlock(view.error),
      "<p>", absl::Substitute(w.consent_intro, Text(view.client_name)),
      "</p>\n<dl>\n<dt>", w.credential, "</dt><dd id=\"credential\">",
      Text(view.credential_id), "</dd>\n<dt>", w.owner,
      "</dt><dd id=\"owner\">", Text(view.user), "</dd>\n<dt>",
      w.document_count, "</dt><dd id=\"count\">",
      absl::Substitute(w.document_count_value, count), "</dd>\n");
  if (!view.hash_algorithm.empty()) {
    absl::StrAppend(&html, "<dt>", w.hash_algorithm, "</dt><dd>",
                    Text(view.hash_algorithm), "</dd>\n");
  }
  if (!view.description.empty()) {
    absl::StrAppend(&html, "<dt>", w.description,
                    "</dt><dd id=\"description\" class=\"multiline\">",
                    MultilineText(view.description), "</dd>\n");
  }
  absl::StrAppend(&html, "</dl>\n<h2>", w.documents_heading,
                  "</h2>\n<p class=\"note\">", w.documents_note,
                  "</p>\n<ol class=\"docs\" id=\"documents\">\n");
  for (size_t i = 0; i < n; ++i) {
    const Document& d = view.documents[i];
    std::string label = d.label.empty() ? absl::Substitute(w.document_fallback,
                                                           absl::StrCat(i + 1))
                                        : Text(d.label);
    absl::StrAppend(&html, "<li><span class=\"label\">", label,
                    "</span><code class=\"hash\" title=\"", w.hash,
                    " (base64) ", Base64Encode(d.hash), "\">",
                    HashForReading(d.hash), "</code></li>\n");
  }
  absl::StrAppend(&html, "</ol>\n",
                  FormStart(view.form_action, view.consent_id, view.csrf_token),
                  PinAndOtp(w, view.otp_required),
                  FormEnd(w, view.expires_in_seconds,
                          n == 1 ? std::string(w.yes_one)
                                 : absl::Substitute(w.yes_many, count),
                          w.no),
                  Tail(frame.nonce, true));
  return Page{std::move(html), std::move(frame.headers)};
}

absl::StatusOr<Page> RenderLoginPage(const LoginView& view,
                                     absl::string_view redirect_origin) {
  RETURN_IF_ERROR(CheckForm(view.form_action, view.consent_id, view.csrf_token,
                            redirect_origin));
  ASSIGN_OR_RETURN(Frame frame, MakeFrame(redirect_origin));
  const Words& w = WordsFor(view.lang);
  std::string html = Head(w, w.login_heading, frame.nonce);
  absl::StrAppend(
      &html, "<h1>", w.login_heading, "</h1>\n", ErrorBlock(view.error), "<p>",
      absl::Substitute(w.login_intro, Text(view.client_name)), "</p>\n",
      FormStart(view.form_action, view.consent_id, view.csrf_token),
      "<label for=\"user\">", w.user,
      "</label>\n<input type=\"text\" name=\"user\" id=\"user\" "
      "autocomplete=\"username\" autocapitalize=\"off\" spellcheck=\"false\" "
      "required>\n",
      PinAndOtp(w, view.otp_required),
      FormEnd(w, view.expires_in_seconds, w.login_yes, w.login_no),
      Tail(frame.nonce, true));
  return Page{std::move(html), std::move(frame.headers)};
}

absl::StatusOr<Page> RenderMessagePage(const MessageView& view) {
  ASSIGN_OR_RETURN(Frame frame, MakeFrame(""));
  const Words& w = WordsFor(view.lang);
  std::string title = Text(view.title);
  std::string html =
      Head(w, HtmlEscape(CleanText(view.title, false)), frame.nonce);
  absl::StrAppend(&html, "<h1>", title, "</h1>\n<p class=\"multiline\">",
                  MultilineText(view.text), "</p>\n", Tail(frame.nonce, false));
  return Page{std::move(html), std::move(frame.headers)};
}

}  // namespace inkan::server
