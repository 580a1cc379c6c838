#include "server/enroll_api.h"

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "ca/certificate.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/pem.h"
#include "enroll/qr.h"
#include "server/http_forms.h"
#include "server/pages.h"

namespace inkan::server {
namespace {

namespace json = boost::json;
using enroll::Step;

constexpr char kCookie[] = "__Host-inkan_enroll";

int HttpStatusFor(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    default:
      return 500;
  }
}

std::string ErrorName(int http) {
  switch (http) {
    case 400:
      return "invalid_request";
    case 401:
      return "invalid_code";
    case 403:
      return "access_denied";
    case 404:
      return "not_found";
    case 409:
      return "wrong_state";
    case 429:
      return "too_many_attempts";
    default:
      return "server_error";
  }
}

api::HttpResponse JsonResponse(int status, const json::object& body) {
  api::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"},
               {"Cache-Control", "no-store"}};
  r.body = json::serialize(body);
  return r;
}

api::HttpResponse JsonError(const absl::Status& st) {
  int http = HttpStatusFor(st);
  // Server errors do not describe themselves to the caller.
  std::string text = http == 500 ? "internal error" : std::string(st.message());
  return JsonResponse(
      http, {{"error", ErrorName(http)}, {"error_description", text}});
}

// ---- Pages ----

struct Texts {
  Lang lang;
  std::string T(absl::string_view en, absl::string_view ja) const {
    return std::string(lang == Lang::kEn ? en : ja);
  }
};

std::string E(absl::string_view s) { return HtmlEscape(s); }

api::HttpResponse PageResponse(int status, const Texts& t,
                               absl::string_view title, absl::string_view body,
                               absl::string_view script) {
  auto nonce_bytes = RandomBytes(16);
  std::string nonce =
      nonce_bytes.ok() ? Base64Encode(*nonce_bytes) : std::string("x");
  std::string html = absl::StrCat(
      "<!doctype html>\n<html lang=\"", t.lang == Lang::kEn ? "en" : "ja",
      "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width,initial-scale=1\"><title>",
      E(title), "</title><style nonce=\"", nonce,
      "\">body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem "
      "auto;padding:0 1rem;line-height:1.5}label{display:block;margin:.8rem "
      "0 .2rem}input[type=text],input[type=password],textarea,select{width:"
      "100%;padding:.4rem;font-size:1rem;box-sizing:border-box}button{margin:"
      "1rem .5rem 0 0;padding:.5rem 1.2rem;font-size:1rem}.err{color:#a00;"
      "border:1px solid #a00;padding:.5rem}.step{color:#555}.qr{display:"
      "block;margin:1rem 0}code{word-break:break-all}fieldset{border:1px "
      "solid #ccc;margin:1rem 0}</style></head><body><h1>",
      E(title), "</h1>", body);
  if (!script.empty()) {
    absl::StrAppend(&html, "<script nonce=\"", nonce, "\">", script,
                    "</script>");
  }
  absl::StrAppend(&html, "</body></html>\n");
  api::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "text/html; charset=utf-8"},
               {"Content-Security-Policy",
                absl::StrCat("default-src 'none'; script-src 'nonce-", nonce,
                             "'; style-src 'nonce-", nonce,
                             "'; img-src 'self' data:; form-action 'self'; "
                             "frame-ancestors 'none'; base-uri 'none'")},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-store"},
               {"X-Content-Type-Options", "nosniff"}};
  r.body = std::move(html);
  return r;
}

api::HttpResponse MessagePage(int status, const Texts& t,
                              absl::string_view title, absl::string_view text) {
  return PageResponse(status, t, title,
                      absl::StrCat("<p id=\"message\">", E(text), "</p>"), "");
}

Texts TextsFor(const api::HttpRequest& req) {
  std::string lang;
  size_t q = req.target.find("lang=");
  if (q != std::string::npos) lang = req.target.substr(q + 5, 2);
  return Texts{PickLang(lang, HeaderValue(req, "accept-language"))};
}

std::string Path(const api::HttpRequest& req) {
  return req.target.substr(0, req.target.find('?'));
}

std::string Hidden(absl::string_view name, absl::string_view value) {
  return absl::StrCat("<input type=\"hidden\" name=\"", E(name), "\" value=\"",
                      E(value), "\">");
}

}  // namespace

bool EnrollApi::Owns(absl::string_view target) {
  absl::string_view path = target.substr(0, target.find('?'));
  return path == "/enroll" || absl::StartsWith(path, "/enroll/");
}

api::HttpResponse EnrollApi::Handle(const api::HttpRequest& req) {
  const std::string path = Path(req);
  if (absl::StartsWith(path, "/enroll/api/")) {
    if (req.method != "POST") {
      return JsonError(absl::InvalidArgumentError("use POST"));
    }
    return JsonApi(req, absl::StripPrefix(path, "/enroll/api/"));
  }
  if (path == "/enroll" && req.method == "GET") return Landing(req);
  if (path == "/enroll/redeem" && req.method == "POST") return RedeemForm(req);
  if (path == "/enroll/step" && req.method == "GET") {
    return StepPage(req, "", 200);
  }
  if (path == "/enroll/step" && req.method == "POST") return StepAnswer(req);
  if (path == "/enroll/key.p12" && req.method == "POST") return Download(req);
  if (path == "/enroll/certificate.pem" && req.method == "GET") {
    return Certificate(req);
  }
  Texts t = TextsFor(req);
  return MessagePage(404, t, t.T("Not found", "見つかりません"),
                     t.T("There is no such page.", "このページはありません。"));
}

api::HttpResponse EnrollApi::Landing(const api::HttpRequest& req) {
  Texts t = TextsFor(req);
  std::string body = absl::StrCat(
      "<p>",
      t.T("Welcome. This page starts your enrollment with the code from "
          "your letter. The code works once.",
          "ようこそ。お手紙のコードで登録を始めます。コードは一度だけ使えます"
          "。"),
      "</p><form id=\"redeem\" method=\"post\" action=\"/enroll/redeem\">"
      "<label for=\"code\">",
      t.T("Enrollment code", "登録コード"),
      "</label><input type=\"text\" id=\"code\" name=\"code\" "
      "autocomplete=\"off\" spellcheck=\"false\" required><button "
      "type=\"submit\" id=\"start\">",
      t.T("Start", "開始"), "</button></form>");
  // The code is in the fragment, which browsers never send: the script moves
  // it into the form and removes it from the address bar and history. It
  // does not submit: a link scanner that runs scripts must not burn the code;
  // the person presses Start.
  std::string script =
      "(function(){var h=location.hash.slice(1);if(!h)return;"
      "history.replaceState(null,'',location.pathname+location.search);"
      "document.getElementById('code').value=decodeURIComponent(h);"
      "document.getElementById('start').focus();})();";
  return PageResponse(200, t, t.T("Enrollment", "利用登録"), body, script);
}

api::HttpResponse EnrollApi::RedeemForm(const api::HttpRequest& req) {
  Texts t = TextsFor(req);
  auto form = ParseForm(req.body);
  auto token = service_.Redeem(form["code"], req.peer);
  if (!token.ok()) {
    int http = HttpStatusFor(token.status());
    return MessagePage(http, t,
                       t.T("This code does not work", "このコードは使えません"),
                       http == 500 ? t.T("Internal error.", "内部エラーです。")
                                   : std::string(token.status().message()));
  }
  api::HttpResponse r;
  r.status = 303;
  r.headers = {{"Location", "/enroll/step"},
               {"Cache-Control", "no-store"},
               {"Set-Cookie",
                absl::StrCat(kCookie, "=", token->RevealString(),
                             "; Path=/; Secure; HttpOnly; SameSite=Strict")}};
  return r;
}

api::HttpResponse EnrollApi::StepPage(const api::HttpRequest& req,
                                      const std::string& error, int status) {
  Texts t = TextsFor(req);
  SecretBytes token(CookieValue(req, kCookie));
  auto view = service_.View(token);
  if (!view.ok()) {
    return MessagePage(404, t, t.T("Enrollment ended", "登録は終了しました"),
                       std::string(view.status().message()));
  }
  const enroll::SessionView& v = *view;
  std::string body = absl::StrCat("<p class=\"step\">", t.T("User", "利用者"),
                                  ": <bdi id=\"user\">", E(v.user), "</bdi> · ",
                                  t.T("step", "手順"), ": <span id=\"step\">",
                                  enroll::StepName(v.step), "</span></p>");
  if (!error.empty()) {
    absl::StrAppend(&body, "<p class=\"err\" id=\"error\">", E(error), "</p>");
  }
  auto form_open = [&](absl::string_view action) {
    return absl::StrCat("<form method=\"post\" action=\"/enroll/step\">",
                        Hidden("csrf", v.csrf), Hidden("action", action));
  };
  std::string title;
  switch (v.step) {
    case Step::kPin:
      title = t.T("Choose your PIN", "暗証番号の設定");
      absl::StrAppend(
          &body, "<p>",
          t.T("Your PIN protects your signing key. Only you know it; the "
              "provider cannot recover it.",
              "暗証番号は署名鍵を守ります。あなただけが知るもので、事業者も復元"
              "できません。"),
          "</p>", form_open("pin"), "<label for=\"pin\">",
          t.T("PIN (at least ", "暗証番号（"), v.min_pin_length,
          t.T(" characters)", " 文字以上）"),
          "</label><input type=\"password\" id=\"pin\" name=\"pin\" "
          "autocomplete=\"new-password\" required><label for=\"pin2\">",
          t.T("PIN again", "暗証番号（確認）"),
          "</label><input type=\"password\" id=\"pin2\" name=\"pin2\" "
          "autocomplete=\"new-password\" required><button type=\"submit\" "
          "id=\"next\">",
          t.T("Set PIN", "設定する"), "</button></form>");
      break;
    case Step::kFactor:
      title = t.T("Your second factor", "二つ目の認証要素");
      absl::StrAppend(
          &body, "<p>",
          t.T("Each signature needs your PIN and something you have.",
              "署名には暗証番号と、あなたが持っているものが必要です。"),
          "</p>", form_open("totp-start"),
          "<button type=\"submit\" id=\"totp\">",
          t.T("Use an authenticator app (one-time codes)",
              "認証アプリ（ワンタイムコード）を使う"),
          "</button></form>", form_open("card"), "<fieldset><legend>",
          t.T("Or register your card's authentication certificate (PEM)",
              "またはカードの利用者証明用証明書（PEM）を登録"),
          "</legend><textarea id=\"cert\" name=\"cert\" rows=\"6\">"
          "</textarea><button type=\"submit\" id=\"card\">",
          t.T("Register card", "カードを登録"), "</button></fieldset></form>");
      break;
    case Step::kTotpConfirm: {
      title = t.T("Add inkan to your authenticator app",
                  "認証アプリに inkan を追加");
      auto qr = enroll::QrSvg(v.totp_uri, E(t.T("QR code", "QR コード")));
      // The secret alone, in groups of four, for typing by hand.
      std::string secret;
      if (size_t at = v.totp_uri.find("secret="); at != std::string::npos) {
        absl::string_view rest = absl::string_view(v.totp_uri).substr(at + 7);
        rest = rest.substr(0, rest.find('&'));
        for (size_t i = 0; i < rest.size(); i += 4) {
          absl::StrAppend(&secret, i ? " " : "", rest.substr(i, 4));
        }
      }
      absl::StrAppend(
          &body, "<p>",
          t.T("Scan this code with your authenticator app, then enter the "
              "6-digit code it shows.",
              "認証アプリでこのコードを読み取り、表示された 6 "
              "桁のコードを入力し"
              "てください。"),
          "</p>", qr.ok() ? *qr : "", "<p>",
          t.T("Or enter this key by hand (time-based, 6 digits):",
              "手入力用の鍵（時間ベース、6 桁）:"),
          " <code id=\"totp-secret\">", E(secret),
          "</code></p><details><summary>",
          t.T("The whole setup link", "設定用リンク全体"),
          "</summary><code id=\"otpauth\">", E(v.totp_uri), "</code></details>",
          form_open("totp-confirm"), "<label for=\"otp\">",
          t.T("6-digit code", "6 桁のコード"),
          "</label><input type=\"text\" id=\"otp\" name=\"otp\" "
          "inputmode=\"numeric\" autocomplete=\"one-time-code\" required>"
          "<button type=\"submit\" id=\"next\">",
          t.T("Confirm", "確認"), "</button></form>");
      break;
    }
    case Step::kKey:
      title = t.T("Your signing key", "署名鍵");
      absl::StrAppend(
          &body, form_open("key"), "<label for=\"alg\">",
          t.T("Algorithm", "アルゴリズム"),
          "</label><select id=\"alg\" name=\"alg\"><option value=\"ec-p256\" "
          "selected>ECDSA P-256</option><option value=\"ec-p384\">ECDSA "
          "P-384</option><option value=\"rsa-3072\">RSA 3072</option>"
          "<option value=\"rsa-2048\">RSA 2048</option></select>"
          "<fieldset><legend>",
          t.T("Where your key lives", "鍵の保管"),
          "</legend><label><input type=\"radio\" name=\"path\" value=\"hsm\" "
          "id=\"path-hsm\" checked> ",
          t.T("Made and kept in the provider's HSM, usable only with your PIN "
              "and second factor (recommended)",
              "事業者の HSM 内で生成・保管し、あなたの暗証番号と二つ目の要素で"
              "だけ使える（推奨）"),
          "</label><label><input type=\"radio\" name=\"path\" "
          "value=\"deliver\" id=\"path-deliver\"> ",
          t.T("Delivered to me once as a PKCS#12 file; the provider erases "
              "every copy and cannot sign for me",
              "PKCS#12 ファイルで一度だけ受け取る（事業者は全ての複製を消去し、"
              "代わりに署名できません）"),
          "</label><label for=\"password\">",
          t.T("Password for the file (for delivery; at least 10 characters)",
              "ファイルのパスワード（受け取る場合、10 文字以上）"),
          "</label><input type=\"password\" id=\"password\" name=\"password\" "
          "autocomplete=\"new-password\"><label for=\"password2\">",
          t.T("Password again", "パスワード（確認）"),
          "</label><input type=\"password\" id=\"password2\" "
          "name=\"password2\" autocomplete=\"new-password\"></fieldset><p>",
          t.T("To make the key on your own computer instead, start over with "
              "`inkan enroll keygen` and a new code.",
              "ご自身のコンピュータで鍵を作る場合は、新しいコードで `inkan "
              "enroll keygen` から始めてください。"),
          "</p><button type=\"submit\" id=\"make\">",
          t.T("Make my key", "鍵を作る"), "</button></form>");
      break;
    case Step::kDownload:
      title = t.T("Download your key", "鍵のダウンロード");
      absl::StrAppend(
          &body, "<p>",
          t.T("This file can be downloaded once. Keep it and its password "
              "safe.",
              "このファイルは一度だけダウンロードできます。ファイルとパスワード"
              "を大切に保管してください。"),
          "</p><form method=\"post\" action=\"/enroll/key.p12\">",
          Hidden("csrf", v.csrf), "<button type=\"submit\" id=\"download\">",
          t.T("Download inkan-key.p12", "inkan-key.p12 をダウンロード"),
          "</button></form><p>",
          t.T("Then reload this page.",
              "その後、このページを再読み込みしてく"
              "ださい。"),
          "</p>");
      break;
    case Step::kReceipt:
      title = t.T("Confirm receipt", "受領の確認");
      absl::StrAppend(
          &body, "<p>",
          v.path == "deliver"
              ? t.T("Confirm that you received your key file.",
                    "鍵ファイルを受け取ったことを確認してください。")
              : t.T("Your key is ready in the HSM. Confirm that it is you who "
                    "received this enrollment.",
                    "鍵は HSM "
                    "に用意されました。この登録を受け取ったのがご本人で"
                    "あることを確認してください。"),
          "</p><p>", t.T("Credential", "クレデンシャル"),
          ": <code id=\"credential\">", E(v.credential_id), "</code> (",
          E(v.algorithm), ")</p><p>",
          t.T("Your certificate is issued after this confirmation.",
              "証明書はこの確認の後に発行されます。"),
          "</p>", form_open("receipt"),
          "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" "
          "id=\"confirm\" required> ",
          t.T("I received it", "受け取りました"),
          "</label><button type=\"submit\" id=\"next\">",
          t.T("Confirm receipt", "受領を確認"), "</button></form>");
      break;
    case Step::kDone:
      title = t.T("Enrollment complete", "登録完了");
      absl::StrAppend(
          &body, "<p id=\"done\">",
          v.certificate_pending
              ? t.T("Your credential is ready. Your certificate "
                    "will be issued by the provider shortly.",
                    "クレデンシャルの準備ができました。証明書は"
                    "まもなく発行されます。")
              : t.T("Your certificate is issued.", "証明書が発行されました。"),
          "</p><p>", t.T("Credential", "クレデンシャル"),
          ": <code id=\"credential\">", E(v.credential_id), "</code></p>");
      if (!v.certificate_der.empty()) {
        absl::StrAppend(
            &body,
            "<p><a id=\"certificate\" href=\"/enroll/certificate.pem\" "
            "download=\"inkan-certificate.pem\">",
            t.T("Download your certificate", "証明書をダウンロード"),
            "</a></p><pre id=\"certificate-pem\">",
            E(ca::ToPem(v.certificate_der, "CERTIFICATE")), "</pre>");
      }
      break;
  }
  // The script disables the buttons once a form is sent (double submits).
  std::string script =
      "document.querySelectorAll('form').forEach(function(f){"
      "f.addEventListener('submit',function(){f.querySelectorAll('button')."
      "forEach(function(b){setTimeout(function(){b.disabled=true;},0);});});"
      "});";
  return PageResponse(status, t, title, body, script);
}

api::HttpResponse EnrollApi::StepAnswer(const api::HttpRequest& req) {
  Texts t = TextsFor(req);
  SecretBytes token(CookieValue(req, kCookie));
  auto form = ParseForm(req.body);
  absl::Status csrf = service_.CheckCsrf(token, form["csrf"]);
  if (!csrf.ok()) {
    return MessagePage(HttpStatusFor(csrf), t,
                       t.T("Request refused", "要求を拒否しました"),
                       std::string(csrf.message()));
  }
  const std::string action = form["action"];
  absl::Status st;
  if (action == "pin") {
    SecretBytes pin(form["pin"]), pin2(form["pin2"]);
    st = pin.ConstantTimeEquals(pin2)
             ? service_.SetPin(token, pin)
             : absl::InvalidArgumentError(
                   t.T("The two PINs differ.", "二つの暗証番号が違います。"));
  } else if (action == "totp-start") {
    st = service_.StartTotp(token);
  } else if (action == "totp-confirm") {
    st = service_.ConfirmTotp(token, form["otp"]);
  } else if (action == "card") {
    auto der = crypto::CertificateToDer(form["cert"]);
    st = der.ok() ? service_.RegisterCard(token, *der) : der.status();
  } else if (action == "key") {
    auto alg = crypto::ParseKeyAlgorithm(form["alg"]);
    if (!alg.ok()) {
      st = alg.status();
    } else if (form["path"] == "hsm") {
      st = service_.CreateInHsm(token, *alg);
    } else if (form["path"] == "deliver") {
      SecretBytes pw(form["password"]), pw2(form["password2"]);
      st =
          pw.ConstantTimeEquals(pw2)
              ? service_.PrepareDelivery(token, *alg, pw)
              : absl::InvalidArgumentError(t.T("The two passwords differ.",
                                               "二つのパスワードが違います。"));
    } else {
      st = absl::InvalidArgumentError("choose where your key lives");
    }
  } else if (action == "receipt") {
    st = form["confirm"] == "yes"
             ? service_.ConfirmReceipt(token)
             : absl::InvalidArgumentError(t.T("Tick \"I received it\".",
                                              "「受け取りました」を選んでくだ"
                                              "さい。"));
  } else {
    st = absl::InvalidArgumentError("unknown action");
  }
  // Wipe what the form carried.
  for (auto& [k, v] : form) CleanseMemory(v.data(), v.size());
  if (!st.ok()) {
    int http = HttpStatusFor(st);
    return StepPage(req,
                    http == 500 ? t.T("Internal error.", "内部エラーです。")
                                : std::string(st.message()),
                    http);
  }
  api::HttpResponse r;
  r.status = 303;
  r.headers = {{"Location", "/enroll/step"}, {"Cache-Control", "no-store"}};
  return r;
}

api::HttpResponse EnrollApi::Download(const api::HttpRequest& req) {
  Texts t = TextsFor(req);
  SecretBytes token(CookieValue(req, kCookie));
  // A POST with the form's CSRF token: a page elsewhere cannot make the
  // browser spend the one download.
  absl::Status csrf = service_.CheckCsrf(token, ParseForm(req.body)["csrf"]);
  if (!csrf.ok()) {
    return MessagePage(HttpStatusFor(csrf), t,
                       t.T("Request refused", "要求を拒否しました"),
                       std::string(csrf.message()));
  }
  auto p12 = service_.TakeDelivery(token);
  if (!p12.ok()) {
    return MessagePage(HttpStatusFor(p12.status()), t,
                       t.T("No file", "ファイルはありません"),
                       std::string(p12.status().message()));
  }
  api::HttpResponse r;
  r.headers = {
      {"Content-Type", "application/x-pkcs12"},
      {"Content-Disposition", "attachment; filename=\"inkan-key.p12\""},
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"}};
  r.body = std::string(p12->RevealString());
  return r;
}

api::HttpResponse EnrollApi::Certificate(const api::HttpRequest& req) {
  Texts t = TextsFor(req);
  SecretBytes token(CookieValue(req, kCookie));
  auto view = service_.View(token);
  if (!view.ok() || view->certificate_der.empty()) {
    return MessagePage(404, t, t.T("No certificate", "証明書はありません"),
                       t.T("There is no certificate for this session.",
                           "このセッションの証明書はありません。"));
  }
  api::HttpResponse r;
  r.headers = {
      {"Content-Type", "application/pem-certificate-chain"},
      {"Content-Disposition", "attachment; filename=\"inkan-certificate.pem\""},
      {"Cache-Control", "no-store"}};
  r.body = ca::ToPem(view->certificate_der, "CERTIFICATE");
  auto ca = ca_cert_();
  if (ca.ok()) r.body += ca::ToPem(*ca, "CERTIFICATE");
  return r;
}

// ---- JSON ----

namespace {

absl::StatusOr<json::object> ParseBody(absl::string_view body) {
  boost::system::error_code ec;
  json::value v =
      json::parse(json::string_view(body.empty() ? "{}" : body.data(),
                                    body.empty() ? 2 : body.size()),
                  ec);
  if (ec || !v.is_object()) {
    return absl::InvalidArgumentError("the body is not a JSON object");
  }
  return v.as_object();
}

absl::StatusOr<std::string> Str(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", key, "' must be a string"));
  }
  return std::string(it->value().as_string());
}

absl::StatusOr<std::string> B64(const json::object& o, const char* key) {
  ASSIGN_OR_RETURN(std::string s, Str(o, key));
  auto d = Base64Decode(s);
  if (!d.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", key, "' is not base64"));
  }
  return *d;
}

}  // namespace

api::HttpResponse EnrollApi::JsonApi(const api::HttpRequest& req,
                                     absl::string_view method) {
  auto body = ParseBody(req.body);
  if (!body.ok()) return JsonError(body.status());
  const json::object& o = *body;
  if (method == "redeem") {
    auto code = Str(o, "code");
    if (!code.ok()) return JsonError(code.status());
    auto token = service_.Redeem(*code, req.peer);
    CleanseMemory(code->data(), code->size());
    if (!token.ok()) return JsonError(token.status());
    auto view = service_.View(*token);
    if (!view.ok()) return JsonError(view.status());
    return JsonResponse(200, {{"session", std::string(token->RevealString())},
                              {"user", view->user},
                              {"step", std::string(StepName(view->step))}});
  }
  if (method == "transport") {
    auto ca = ca_cert_();
    if (!ca.ok()) return JsonError(ca.status());
    auto chain = service_.TransportCertificate(*ca);
    if (!chain.ok()) return JsonError(chain.status());
    return JsonResponse(200, {{"certificate", Base64Encode(*chain)},
                              {"ca_certificate", Base64Encode(*ca)}});
  }
  SecretBytes token(BearerToken(req));
  if (token.empty()) {
    return JsonError(absl::UnauthenticatedError(
        "give the enrollment session as 'Authorization: Bearer …'"));
  }
  absl::Status st;
  json::object out;
  if (method == "pin") {
    auto pin = Str(o, "pin");
    st = pin.ok() ? service_.SetPin(token, SecretBytes(*pin)) : pin.status();
    if (pin.ok()) CleanseMemory(pin->data(), pin->size());
  } else if (method == "totp/start") {
    st = service_.StartTotp(token);
    if (st.ok()) {
      auto view = service_.View(token);
      st = view.status();
      if (view.ok()) out["otpauth"] = view->totp_uri;
    }
  } else if (method == "totp/confirm") {
    auto otp = Str(o, "otp");
    st = otp.ok() ? service_.ConfirmTotp(token, *otp) : otp.status();
  } else if (method == "card") {
    auto cert = B64(o, "certificate");
    st = cert.ok() ? service_.RegisterCard(token, *cert) : cert.status();
  } else if (method == "key") {
    auto path = Str(o, "path");
    auto alg_name = Str(o, "algorithm");
    absl::StatusOr<crypto::KeyAlgorithm> alg =
        alg_name.ok() ? crypto::ParseKeyAlgorithm(*alg_name)
                      : absl::StatusOr<crypto::KeyAlgorithm>(alg_name.status());
    if (!path.ok()) {
      st = path.status();
    } else if (!alg.ok()) {
      st = alg.status();
    } else if (*path == "hsm") {
      st = service_.CreateInHsm(token, *alg);
    } else if (*path == "upload") {
      auto pub = B64(o, "public_key");
      auto wrapped = B64(o, "wrapped_key");
      auto proof = B64(o, "proof");
      st = !pub.ok()       ? pub.status()
           : !wrapped.ok() ? wrapped.status()
           : !proof.ok()
               ? proof.status()
               : service_.ImportKey(token, *alg, *pub, *wrapped, *proof);
    } else {
      st = absl::InvalidArgumentError(
          "path is \"hsm\" or \"upload\" here (delivery is on the page)");
    }
  } else if (method == "receipt") {
    st = service_.ConfirmReceipt(token);
  } else if (method != "status") {
    return JsonError(absl::NotFoundError("no such enrollment call"));
  }
  if (!st.ok()) return JsonError(st);
  auto view = service_.View(token);
  if (!view.ok()) return JsonError(view.status());
  out["step"] = std::string(StepName(view->step));
  out["user"] = view->user;
  if (!view->credential_id.empty()) out["credential"] = view->credential_id;
  if (view->step == Step::kDone) {
    if (view->certificate_pending) {
      out["certificate_pending"] = true;
    } else {
      out["certificate"] = Base64Encode(view->certificate_der);
    }
  }
  return JsonResponse(200, out);
}

}  // namespace inkan::server
