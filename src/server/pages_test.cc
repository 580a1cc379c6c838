#include "server/pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/encoding.h"

namespace inkan::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Sha256Like(char fill) { return std::string(32, fill); }

ConsentView Consent(Lang lang, int documents) {
  ConsentView v;
  v.lang = lang;
  v.client_name = "Example Bank";
  v.user = "alice";
  v.credential_id = "cred-123";
  v.description = "Loan contract";
  v.hash_algorithm = "SHA-256";
  for (int i = 0; i < documents; ++i) {
    v.documents.push_back(
        {absl::StrCat("contract-", i + 1, ".pdf"), Sha256Like('a' + i)});
  }
  v.form_action = "/csc/v2/oauth2/authorize";
  v.consent_id = "consent-42";
  v.csrf_token = "csrf-token-xyz";
  v.expires_in_seconds = 300;
  return v;
}

LoginView Login(Lang lang) {
  LoginView v;
  v.lang = lang;
  v.client_name = "Example Bank";
  v.form_action = "/csc/v2/oauth2/authorize";
  v.consent_id = "consent-7";
  v.csrf_token = "csrf-7";
  v.expires_in_seconds = 120;
  return v;
}

std::string HeaderOf(const Page& p, const std::string& name) {
  for (const auto& [k, v] : p.headers) {
    if (k == name) return v;
  }
  return "";
}

// The nonce of the CSP header's script-src.
std::string NonceOf(const Page& p) {
  std::string csp = HeaderOf(p, "Content-Security-Policy");
  const std::string key = "script-src 'nonce-";
  size_t start = csp.find(key);
  if (start == std::string::npos) return "";
  start += key.size();
  return csp.substr(start, csp.find('\'', start) - start);
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// The text of the element that starts with `open_prefix` (e.g. "<button ...
// id=\"yes\""), up to the next "</".
std::string ElementText(const std::string& html,
                        const std::string& open_prefix) {
  size_t start = html.find(open_prefix);
  if (start == std::string::npos) return "";
  start = html.find('>', start) + 1;
  return html.substr(start, html.find("</", start) - start);
}

void ExpectSecurityHeaders(const Page& p, const std::string& form_action) {
  std::string nonce = NonceOf(p);
  ASSERT_FALSE(nonce.empty());
  auto raw = Base64Decode(nonce);
  ASSERT_TRUE(raw.ok()) << nonce;
  EXPECT_EQ(raw->size(), 16u);
  EXPECT_EQ(HeaderOf(p, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(p, "Content-Security-Policy"),
            absl::StrCat("default-src 'none'; script-src 'nonce-", nonce,
                         "'; style-src 'nonce-", nonce,
                         "'; img-src 'self' data:; form-action ", form_action,
                         "; frame-ancestors 'none'; base-uri 'none'"));
  EXPECT_EQ(HeaderOf(p, "X-Frame-Options"), "DENY");
  EXPECT_EQ(HeaderOf(p, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(HeaderOf(p, "Cache-Control"), "no-store");
  EXPECT_EQ(HeaderOf(p, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(p.headers.size(), 6u);
  // One <style> carrying the nonce; nothing loaded from outside.
  EXPECT_EQ(Count(p.html, "<style"), 1u);
  EXPECT_THAT(p.html, HasSubstr(absl::StrCat("<style nonce=\"", nonce, "\">")));
  EXPECT_THAT(p.html, Not(HasSubstr(" src=")));
  EXPECT_THAT(p.html, Not(HasSubstr("http://")));
  EXPECT_THAT(p.html, Not(HasSubstr("https://")));
  EXPECT_EQ(Count(p.html, "href="), 1u);  // the data: favicon
  EXPECT_THAT(p.html, HasSubstr("href=\"data:,\""));
  for (const char* handler : {" onclick=", " onload=", " onsubmit=",
                              " onerror=", " onmouseover=\""}) {
    EXPECT_THAT(p.html, Not(HasSubstr(handler))) << handler;
  }
}

void ExpectScript(const Page& p) {
  EXPECT_EQ(Count(p.html, "<script"), 1u);
  EXPECT_THAT(p.html,
              HasSubstr(absl::StrCat("<script nonce=\"", NonceOf(p), "\">")));
}

void ExpectOneFormWithBothButtons(const std::string& html) {
  EXPECT_EQ(Count(html, "<form"), 1u);
  size_t form = html.find("<form");
  size_t end = html.find("</form>");
  size_t yes = html.find("id=\"yes\"");
  size_t no = html.find("id=\"no\"");
  ASSERT_NE(yes, std::string::npos);
  ASSERT_NE(no, std::string::npos);
  EXPECT_LT(form, yes);
  EXPECT_LT(yes, end);
  EXPECT_LT(form, no);
  EXPECT_LT(no, end);
  EXPECT_THAT(html, HasSubstr("method=\"post\""));
  EXPECT_THAT(html, HasSubstr("<button type=\"submit\" name=\"decision\" "
                              "value=\"yes\" id=\"yes\">"));
  EXPECT_THAT(html, HasSubstr("<button type=\"submit\" name=\"decision\" "
                              "value=\"no\" id=\"no\" formnovalidate>"));
}

TEST(ConsentPageTest, JapaneseHasEveryElement) {
  auto page = RenderConsentPage(Consent(Lang::kJa, 3), "https://app.example");
  ASSERT_TRUE(page.ok()) << page.status();
  const std::string& h = page->html;
  ExpectSecurityHeaders(*page, "'self' https://app.example");
  ExpectScript(*page);
  ExpectOneFormWithBothButtons(h);
  EXPECT_TRUE(absl::StartsWith(h, "<!DOCTYPE html>\n<html lang=\"ja\">"));
  EXPECT_THAT(h, HasSubstr("<h1>署名の確認</h1>"));
  EXPECT_THAT(h, HasSubstr("<strong><bdi>Example Bank</bdi></strong>"));
  EXPECT_THAT(h, HasSubstr("<bdi>cred-123</bdi>"));
  EXPECT_THAT(h, HasSubstr("<bdi>alice</bdi>"));
  EXPECT_THAT(h, HasSubstr("<dd id=\"count\">3 件</dd>"));
  EXPECT_THAT(h, HasSubstr("<bdi>Loan contract</bdi>"));
  EXPECT_THAT(h, HasSubstr("SHA-256"));
  EXPECT_EQ(Count(h, "<li>"), 3u);
  for (const char* label :
       {"contract-1.pdf", "contract-2.pdf", "contract-3.pdf"}) {
    EXPECT_THAT(h, HasSubstr(absl::StrCat("<bdi>", label, "</bdi>")));
  }
  EXPECT_THAT(h, HasSubstr(HashForReading(Sha256Like('b'))));
  EXPECT_THAT(h, HasSubstr(Base64Encode(Sha256Like('c'))));
  EXPECT_EQ(ElementText(h,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"yes\""),
            "はい、3 件の文書に署名します");
  EXPECT_EQ(ElementText(h,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"no\""),
            "いいえ");
  EXPECT_THAT(h, HasSubstr("<input type=\"password\" name=\"pin\" id=\"pin\" "
                           "autocomplete=\"off\" required>"));
  EXPECT_THAT(h, HasSubstr("<input type=\"text\" name=\"otp\" id=\"otp\" "
                           "inputmode=\"numeric\" pattern=\"[0-9]{6}\" "
                           "maxlength=\"6\" autocomplete=\"one-time-code\" "
                           "required>"));
  EXPECT_THAT(h, HasSubstr("<input type=\"hidden\" name=\"consent\" "
                           "value=\"consent-42\">"));
  EXPECT_THAT(h, HasSubstr("<input type=\"hidden\" name=\"csrf\" "
                           "value=\"csrf-token-xyz\">"));
  EXPECT_THAT(h, HasSubstr("action=\"/csc/v2/oauth2/authorize\""));
  EXPECT_THAT(h, HasSubstr("data-seconds=\"300\">5:00</span>"));
  EXPECT_THAT(h, HasSubstr("<p id=\"expired\" class=\"error\" role=\"alert\" "
                           "hidden>"));
  EXPECT_THAT(h, Not(HasSubstr("id=\"error\"")));
}

TEST(ConsentPageTest, EnglishHasTheCountInTheButton) {
  auto page = RenderConsentPage(Consent(Lang::kEn, 12), "");
  ASSERT_TRUE(page.ok()) << page.status();
  const std::string& h = page->html;
  ExpectSecurityHeaders(*page, "'self'");
  ExpectOneFormWithBothButtons(h);
  EXPECT_TRUE(absl::StartsWith(h, "<!DOCTYPE html>\n<html lang=\"en\">"));
  EXPECT_THAT(h, HasSubstr("<h1>Confirm signing</h1>"));
  EXPECT_EQ(ElementText(h,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"yes\""),
            "Yes, sign these 12 documents");
  EXPECT_EQ(ElementText(h,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"no\""),
            "No");
  EXPECT_THAT(h, HasSubstr("<dd id=\"count\">12</dd>"));
  EXPECT_EQ(Count(h, "<li>"), 12u);
}

TEST(ConsentPageTest, OneDocument) {
  auto en = RenderConsentPage(Consent(Lang::kEn, 1), "");
  ASSERT_TRUE(en.ok());
  EXPECT_EQ(ElementText(en->html,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"yes\""),
            "Yes, sign this document");
  auto ja = RenderConsentPage(Consent(Lang::kJa, 1), "");
  ASSERT_TRUE(ja.ok());
  EXPECT_EQ(ElementText(ja->html,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"yes\""),
            "はい、1 件の文書に署名します");
}

TEST(ConsentPageTest, NonceIsFreshOnEveryRender) {
  ConsentView v = Consent(Lang::kJa, 2);
  auto a = RenderConsentPage(v, "");
  auto b = RenderConsentPage(v, "");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(NonceOf(*a), NonceOf(*b));
  EXPECT_THAT(b->html, Not(HasSubstr(NonceOf(*a))));
  ExpectScript(*a);
  ExpectScript(*b);
}

TEST(ConsentPageTest, OtpFieldOnlyWhenRequired) {
  ConsentView v = Consent(Lang::kEn, 1);
  v.otp_required = false;
  auto page = RenderConsentPage(v, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->html, Not(HasSubstr("name=\"otp\"")));
  EXPECT_THAT(page->html, HasSubstr("name=\"pin\""));
}

TEST(ConsentPageTest, ErrorShownAboveTheForm) {
  ConsentView v = Consent(Lang::kJa, 1);
  v.error = "PIN が違います（残り 2 回）";
  auto page = RenderConsentPage(v, "");
  ASSERT_TRUE(page.ok());
  size_t error = page->html.find(
      "<p class=\"error\" id=\"error\" role=\"alert\"><bdi>PIN "
      "が違います（残り 2 回）</bdi></p>");
  ASSERT_NE(error, std::string::npos);
  EXPECT_LT(error, page->html.find("<form"));
}

TEST(ConsentPageTest, AlreadyExpiredDisablesYes) {
  ConsentView v = Consent(Lang::kEn, 2);
  v.expires_in_seconds = -5;
  auto page = RenderConsentPage(v, "");
  ASSERT_TRUE(page.ok());
  const std::string& h = page->html;
  EXPECT_THAT(h, HasSubstr("value=\"yes\" id=\"yes\" disabled>"));
  EXPECT_THAT(h, HasSubstr("id=\"no\" formnovalidate>"));
  EXPECT_THAT(h, HasSubstr("<p id=\"timer\" hidden>"));
  EXPECT_THAT(h, HasSubstr("<p id=\"expired\" class=\"error\" "
                           "role=\"alert\">This request has expired."));
  EXPECT_THAT(h, HasSubstr("data-seconds=\"0\">0:00</span>"));
}

TEST(ConsentPageTest, CountdownFormat) {
  ConsentView v = Consent(Lang::kEn, 1);
  v.expires_in_seconds = 65;
  auto page = RenderConsentPage(v, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->html, HasSubstr("data-seconds=\"65\">1:05</span>"));
}

TEST(ConsentPageTest, ScriptCountsDownAndGuardsDoubleSubmits) {
  auto page = RenderConsentPage(Consent(Lang::kEn, 1), "");
  ASSERT_TRUE(page.ok());
  const std::string& h = page->html;
  EXPECT_THAT(h, HasSubstr("yes.disabled=true;timer.hidden=true;"
                           "expired.hidden=false;"));
  EXPECT_THAT(h, HasSubstr("addEventListener('submit'"));
  EXPECT_THAT(h, HasSubstr("yes.disabled=true;no.disabled=true;"));
  // The script comes after everything it looks up.
  EXPECT_GT(h.find("<script"), h.find("</form>"));
}

TEST(ConsentPageTest, HostileInputsAreEscaped) {
  ConsentView v = Consent(Lang::kEn, 2);
  v.documents[0].label = "<script>alert(1)</script>";
  v.documents[1].label = "\" onmouseover=\"x";
  v.client_name = "<img src=x onerror=alert(2)>";
  v.user = "a'b&c";
  v.credential_id = "</dd><script>alert(3)</script>";
  v.description = "<b>bold</b>\nline 2";
  v.error = "<script>alert(4)</script>";
  v.consent_id = "\"><script>alert(5)</script>";
  v.csrf_token = "x\" autofocus onfocus=\"alert(6)";
  v.hash_algorithm = "<i>SHA</i>";
  auto page = RenderConsentPage(v, "");
  ASSERT_TRUE(page.ok()) << page.status();
  const std::string& h = page->html;
  EXPECT_THAT(h, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(h, Not(HasSubstr("<img")));
  EXPECT_THAT(h, Not(HasSubstr("<b>")));
  EXPECT_THAT(h, Not(HasSubstr("<i>")));
  EXPECT_THAT(h, Not(HasSubstr("\" onmouseover=\"")));
  EXPECT_THAT(h, Not(HasSubstr("\" autofocus")));
  EXPECT_EQ(Count(h, "<script"), 1u);
  EXPECT_THAT(h, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(h, HasSubstr("&quot; onmouseover=&quot;x"));
  EXPECT_THAT(h, HasSubstr("&lt;img src=x onerror=alert(2)&gt;"));
  EXPECT_THAT(h, HasSubstr("a&#39;b&amp;c"));
  EXPECT_THAT(h, HasSubstr("&lt;b&gt;bold&lt;/b&gt;\nline 2"));
  EXPECT_THAT(h, HasSubstr("value=\"&quot;&gt;&lt;script&gt;alert(5)"));
  EXPECT_THAT(h, HasSubstr("value=\"x&quot; autofocus onfocus=&quot;"));
}

TEST(ConsentPageTest, ControlCharactersAndBadUtf8AreNeutralised) {
  ConsentView v = Consent(Lang::kEn, 1);
  v.documents[0].label = std::string(
      "a\x00"
      "b\r\nc\xff"
      "d\xc0\xaf"
      "e",
      11);
  v.client_name =
      "\xe2\x80\xae"
      "evil";  // U+202E stays, isolated in <bdi>
  auto page = RenderConsentPage(v, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->html, HasSubstr("<bdi>a b  c\xEF\xBF\xBD"
                                    "d\xEF\xBF\xBD\xEF\xBF\xBD"
                                    "e</bdi>"));
  EXPECT_THAT(page->html, HasSubstr("<bdi>\xe2\x80\xae"
                                    "evil</bdi>"));
}

TEST(ConsentPageTest, EmptyLabelsAreNumberedByPosition) {
  ConsentView ja = Consent(Lang::kJa, 3);
  ja.documents[0].label = "";
  ja.documents[2].label = "";
  auto page = RenderConsentPage(ja, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->html, HasSubstr("<span class=\"label\">文書 1</span>"));
  EXPECT_THAT(page->html, HasSubstr("<bdi>contract-2.pdf</bdi>"));
  EXPECT_THAT(page->html, HasSubstr("<span class=\"label\">文書 3</span>"));

  ConsentView en = Consent(Lang::kEn, 2);
  en.documents[1].label = "";
  page = RenderConsentPage(en, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->html, HasSubstr("<span class=\"label\">Document 2</span>"));
  EXPECT_THAT(page->html, Not(HasSubstr("Document 1<")));
}

TEST(ConsentPageTest, HashShownGroupedWithBase64Title) {
  ConsentView v = Consent(Lang::kEn, 1);
  v.documents[0].hash = std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\xff", 9);
  auto page = RenderConsentPage(v, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->html,
              HasSubstr("<code class=\"hash\" title=\"Hash (base64) "
                        "ASNFZ4mrze//\">0123 4567 89ab cdef ff</code>"));
}

TEST(ConsentPageTest, RedirectOriginsInTheCsp) {
  for (const char* origin :
       {"https://app.example", "http://127.0.0.1:8080", "https://[::1]:8443",
        "https://a-b.example.co.jp"}) {
    auto page = RenderConsentPage(Consent(Lang::kJa, 1), origin);
    ASSERT_TRUE(page.ok()) << origin << ": " << page.status();
    ExpectSecurityHeaders(*page, absl::StrCat("'self' ", origin));
  }
}

TEST(ConsentPageTest, BadViewsAreRefused) {
  auto refused = [](const ConsentView& v, absl::string_view origin) {
    return absl::IsInvalidArgument(RenderConsentPage(v, origin).status());
  };
  for (const char* origin :
       {"https://app.example; script-src *", "https://app.example/cb",
        "javascript:alert(1)", "https://", "app.example",
        "https://app.example:80x", "https://app example",
        "https://app.example\r\nSet-Cookie: a=b", "'unsafe-inline'",
        "https://[::1"}) {
    EXPECT_TRUE(refused(Consent(Lang::kJa, 1), origin)) << origin;
  }
  ConsentView v = Consent(Lang::kJa, 0);
  EXPECT_TRUE(refused(v, ""));
  v = Consent(Lang::kJa, 2);
  v.documents[1].hash = "";
  EXPECT_TRUE(refused(v, ""));
  for (const char* action : {"", "https://evil.example/", "//evil.example/",
                             "/\\evil.example", "/a b", "relative"}) {
    v = Consent(Lang::kJa, 1);
    v.form_action = action;
    EXPECT_TRUE(refused(v, "")) << action;
  }
  v = Consent(Lang::kJa, 1);
  v.consent_id = "";
  EXPECT_TRUE(refused(v, ""));
  v = Consent(Lang::kJa, 1);
  v.csrf_token = "";
  EXPECT_TRUE(refused(v, ""));
}

TEST(LoginPageTest, BothLanguages) {
  auto ja = RenderLoginPage(Login(Lang::kJa), "https://app.example:8443");
  ASSERT_TRUE(ja.ok()) << ja.status();
  ExpectSecurityHeaders(*ja, "'self' https://app.example:8443");
  ExpectScript(*ja);
  ExpectOneFormWithBothButtons(ja->html);
  const std::string& h = ja->html;
  EXPECT_TRUE(absl::StartsWith(h, "<!DOCTYPE html>\n<html lang=\"ja\">"));
  EXPECT_THAT(h, HasSubstr("<input type=\"text\" name=\"user\" id=\"user\""));
  EXPECT_THAT(h, HasSubstr("<input type=\"password\" name=\"pin\" id=\"pin\""));
  EXPECT_THAT(h, HasSubstr("name=\"otp\" id=\"otp\""));
  EXPECT_THAT(h, HasSubstr("<input type=\"hidden\" name=\"consent\" "
                           "value=\"consent-7\">"));
  EXPECT_THAT(h, HasSubstr("<input type=\"hidden\" name=\"csrf\" "
                           "value=\"csrf-7\">"));
  EXPECT_EQ(ElementText(h,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"yes\""),
            "ログイン");
  EXPECT_EQ(ElementText(h,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"no\""),
            "キャンセル");
  EXPECT_THAT(h, HasSubstr("data-seconds=\"120\">2:00</span>"));

  LoginView v = Login(Lang::kEn);
  v.otp_required = false;
  v.client_name = "<script>alert(1)</script>";
  v.error = "Wrong user name or PIN";
  auto en = RenderLoginPage(v, "");
  ASSERT_TRUE(en.ok());
  ExpectSecurityHeaders(*en, "'self'");
  EXPECT_TRUE(
      absl::StartsWith(en->html, "<!DOCTYPE html>\n<html lang=\"en\">"));
  EXPECT_EQ(ElementText(en->html,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"yes\""),
            "Log in");
  EXPECT_EQ(ElementText(en->html,
                        "<button type=\"submit\" name=\"decision\" "
                        "value=\"no\""),
            "Cancel");
  EXPECT_THAT(en->html, Not(HasSubstr("name=\"otp\"")));
  EXPECT_THAT(en->html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(en->html, HasSubstr("<bdi>Wrong user name or PIN</bdi>"));

  LoginView bad = Login(Lang::kEn);
  bad.form_action = "//evil.example";
  EXPECT_TRUE(absl::IsInvalidArgument(RenderLoginPage(bad, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      RenderLoginPage(Login(Lang::kEn), "https://x;y").status()));
}

TEST(MessagePageTest, TitleAndTextNoForm) {
  auto page = RenderMessagePage(
      {Lang::kEn, "<b>Oops</b>", "line one\n<script>alert(1)</script>"});
  ASSERT_TRUE(page.ok());
  ExpectSecurityHeaders(*page, "'self'");
  const std::string& h = page->html;
  EXPECT_TRUE(absl::StartsWith(h, "<!DOCTYPE html>\n<html lang=\"en\">"));
  EXPECT_THAT(h, HasSubstr("<title>&lt;b&gt;Oops&lt;/b&gt; | inkan</title>"));
  EXPECT_THAT(h, HasSubstr("<h1><bdi>&lt;b&gt;Oops&lt;/b&gt;</bdi></h1>"));
  EXPECT_THAT(h, HasSubstr("line one\n&lt;script&gt;"));
  EXPECT_THAT(h, Not(HasSubstr("<form")));
  EXPECT_THAT(h, Not(HasSubstr("<script")));
  EXPECT_THAT(h, Not(HasSubstr("<input")));
}

TEST(MessagePageTest, StandardMessages) {
  MessageView declined = MakeMessage(Lang::kJa, StandardMessage::kDeclined);
  EXPECT_EQ(declined.lang, Lang::kJa);
  EXPECT_EQ(declined.title, "署名しませんでした");
  MessageView expired = MakeMessage(Lang::kEn, StandardMessage::kExpired);
  EXPECT_EQ(expired.title, "Expired");
  for (Lang lang : {Lang::kJa, Lang::kEn}) {
    for (StandardMessage m :
         {StandardMessage::kDeclined, StandardMessage::kExpired,
          StandardMessage::kInvalidRequest, StandardMessage::kInternalError}) {
      MessageView v = MakeMessage(lang, m);
      EXPECT_FALSE(v.title.empty());
      EXPECT_FALSE(v.text.empty());
      auto page = RenderMessagePage(v);
      ASSERT_TRUE(page.ok());
      EXPECT_THAT(page->html, HasSubstr(v.title));
    }
  }
}

TEST(PickLangTest, ExplicitParameterWins) {
  EXPECT_EQ(PickLang("en", "ja"), Lang::kEn);
  EXPECT_EQ(PickLang("en-US", "ja-JP,ja;q=0.9"), Lang::kEn);
  EXPECT_EQ(PickLang("ja", "en-US,en;q=0.9"), Lang::kJa);
  EXPECT_EQ(PickLang("ja-JP", "en"), Lang::kJa);
  EXPECT_EQ(PickLang("EN", ""), Lang::kEn);
  EXPECT_EQ(PickLang("en_GB", ""), Lang::kEn);
  // A parameter naming neither falls through to the header.
  EXPECT_EQ(PickLang("fr", "en"), Lang::kEn);
  EXPECT_EQ(PickLang("<script>", "en"), Lang::kEn);
  EXPECT_EQ(PickLang("english", "ja"), Lang::kJa);
}

TEST(PickLangTest, AcceptLanguage) {
  EXPECT_EQ(PickLang("", "en-US,en;q=0.9,ja;q=0.8"), Lang::kEn);
  EXPECT_EQ(PickLang("", "fr, ja;q=0.5"), Lang::kJa);
  EXPECT_EQ(PickLang("", "fr, en;q=0.5"), Lang::kEn);
  EXPECT_EQ(PickLang("", "en;q=0.5, ja;q=0.9"), Lang::kJa);
  EXPECT_EQ(PickLang("", "ja;q=0.5, en;q=0.8"), Lang::kEn);
  EXPECT_EQ(PickLang("", "ja;q=0.5, en;q=0.5"), Lang::kJa);  // first on a tie
  EXPECT_EQ(PickLang("", "en;q=0.5, ja;q=0.5"), Lang::kEn);
  EXPECT_EQ(PickLang("", "en ; q=0.9 , ja;q=0.95"), Lang::kJa);
  EXPECT_EQ(PickLang("", "ja;q=0, en;q=0.1"), Lang::kEn);
  EXPECT_EQ(PickLang("", "ja;q=0"), Lang::kEn);
  EXPECT_EQ(PickLang("", "en;q=0"), Lang::kJa);
  EXPECT_EQ(PickLang("", "en;q=2, ja;q=0.1"), Lang::kJa);  // bad q skipped
  EXPECT_EQ(PickLang("", "en;q=0.9999, ja;q=0.1"), Lang::kJa);
  EXPECT_EQ(PickLang("", "EN-us"), Lang::kEn);
  EXPECT_EQ(PickLang("", "eng, en-x"), Lang::kEn);
  EXPECT_EQ(PickLang("", "*"), Lang::kJa);
}

TEST(PickLangTest, DefaultsToJapanese) {
  EXPECT_EQ(PickLang("", ""), Lang::kJa);
  EXPECT_EQ(PickLang("", "fr-FR,de;q=0.8"), Lang::kJa);
  EXPECT_EQ(PickLang("", ";;;,,,q=1;en"), Lang::kJa);
  EXPECT_EQ(PickLang("", "\xff\xfe garbage \x01"), Lang::kJa);
  EXPECT_EQ(PickLang("", std::string(20000, ',')), Lang::kJa);
}

TEST(HashForReadingTest, GroupsOfFour) {
  EXPECT_EQ(HashForReading(""), "");
  EXPECT_EQ(HashForReading("\xab"), "ab");
  EXPECT_EQ(HashForReading("\xab\xcd"), "abcd");
  EXPECT_EQ(HashForReading("\xab\xcd\xef"), "abcd ef");
  std::string sha256(32, '\x11');
  std::string grouped = HashForReading(sha256);
  EXPECT_EQ(grouped.size(), 64u + 15u);
  EXPECT_EQ(grouped.substr(0, 14), "1111 1111 1111");
}

TEST(HtmlEscapeTest, TheFiveCharacters) {
  EXPECT_EQ(HtmlEscape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  EXPECT_EQ(HtmlEscape("日本語"), "日本語");
}

}  // namespace
}  // namespace inkan::server
