#include "client/oauth_consent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "client/loopback_redirect.h"
#include "common/encoding.h"
#include "crypto/digest.h"

namespace inkan::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Sends `request` to 127.0.0.1:port and returns the whole answer ("" if the
// connection failed).
std::string Send(int port, const std::string& request) {
  namespace asio = boost::asio;
  try {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect(
        {asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)});
    asio::write(s, asio::buffer(request));
    std::string out;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(out), ec);
    return out;
  } catch (const std::exception&) {
    return "";
  }
}

std::string Get(int port, const std::string& target,
                const std::string& host = "") {
  return Send(port,
              "GET " + target + " HTTP/1.1\r\nHost: " +
                  (host.empty() ? "127.0.0.1:" + std::to_string(port) : host) +
                  "\r\n\r\n");
}

TEST(PkceTest, ChallengeIsS256OfVerifier) {
  auto p = NewPkce();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->verifier.size(), 43u);
  EXPECT_EQ(p->challenge,
            Base64UrlEncode(crypto::Sha256(p->verifier.RevealString())));
  auto q = NewPkce();
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(p->verifier.ConstantTimeEquals(q->verifier));
}

TEST(AuthorizeUrlTest, CarriesEveryParameter) {
  ConsentRequest r;
  r.client_id = "signer";
  r.credential_id = "c1";
  r.digests = {std::string(32, '\xfb'), std::string(32, 'b')};
  r.hash_oid = "2.16.840.1.101.3.4.2.1";
  r.labels = {"a.pdf", "契約.pdf"};
  r.description = "inkan sign: 2 documents";
  r.lang = "ja";
  std::string url = AuthorizeUrl("https://h:1/csc/v2/", r,
                                 "http://127.0.0.1:5/cb", "CH", "ST");
  EXPECT_THAT(url, HasSubstr("https://h:1/csc/v2/oauth2/authorize?"
                             "response_type=code&client_id=signer&"
                             "redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcb&"
                             "scope=credential&code_challenge=CH&"
                             "code_challenge_method=S256&state=ST&"
                             "credentialID=c1&numSignatures=2&hashes="));
  EXPECT_THAT(url, HasSubstr(Base64UrlEncode(r.digests[0]) + "%2C" +
                             Base64UrlEncode(r.digests[1])));
  EXPECT_THAT(url, HasSubstr("documentLabels=" + Base64UrlEncode("a.pdf") +
                             "%2C" + Base64UrlEncode("契約.pdf")));
  EXPECT_THAT(url, HasSubstr("description=inkan%20sign%3A%202%20documents"));
  EXPECT_THAT(url, HasSubstr("&lang=ja"));
}

TEST(DocumentLabelTest, BaseNameAsCleanUtf8) {
  EXPECT_EQ(DocumentLabel("/tmp/x/契約書.pdf"), "契約書.pdf");
  EXPECT_EQ(DocumentLabel("plain.txt"), "plain.txt");
  EXPECT_EQ(DocumentLabel("a\nb\xff"),
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd");
  EXPECT_EQ(DocumentLabel("dir/"), "document");
  EXPECT_EQ(DocumentLabel(std::string(300, 'x')), std::string(255, 'x'));
}

TEST(CodeFromRedirectTest, StateErrorAndCode) {
  auto code = CodeFromRedirect(QueryParams{{"code", "C"}, {"state", "S"}}, "S");
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->RevealString(), "C");
  EXPECT_TRUE(absl::IsUnauthenticated(
      CodeFromRedirect(QueryParams{{"code", "C"}, {"state", "X"}}, "S")
          .status()));
  EXPECT_TRUE(absl::IsUnauthenticated(
      CodeFromRedirect(QueryParams{{"code", "C"}}, "S").status()));
  EXPECT_TRUE(absl::IsPermissionDenied(
      CodeFromRedirect(QueryParams{{"error", "access_denied"}, {"state", "S"}},
                       "S")
          .status()));
  // A decline for another request is not believed either.
  EXPECT_TRUE(absl::IsUnauthenticated(
      CodeFromRedirect(QueryParams{{"error", "access_denied"}, {"state", "Y"}},
                       "S")
          .status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      CodeFromRedirect(QueryParams{{"state", "S"}}, "S").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(
      CodeFromRedirect(absl::InvalidArgumentError("bad"), "S").status()));
}

TEST(ParseQueryTest, DecodesAndRefusesRepeats) {
  auto q = ParseQuery("a=1&b=x%20y+z&&c=");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)["b"], "x y z");
  EXPECT_EQ((*q)["c"], "");
  EXPECT_FALSE(ParseQuery("a=1&a=2").ok());
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
}

TEST(LoopbackRedirectTest, AnswersTheOneRedirect) {
  auto l = LoopbackRedirectListener::Bind(0);
  ASSERT_TRUE(l.ok()) << l.status();
  int port = (*l)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ((*l)->redirect_uri(),
            "http://127.0.0.1:" + std::to_string(port) + "/cb");
  std::string favicon, wrong_host, post, answer;
  std::thread browser([&] {
    // An idle connection that never asks anything does not hold things up.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket idle(io);
    idle.connect({boost::asio::ip::address_v4::loopback(),
                  static_cast<unsigned short>(port)});
    favicon = Get(port, "/favicon.ico");
    wrong_host = Get(port, "/cb?code=C&state=S", "evil.example");
    post = Send(port,
                "POST /cb HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nContent-Length: 0\r\n\r\n");
    answer = Get(port, "/cb?code=C%2Fx&state=S");
  });
  int calls = 0;
  auto q =
      (*l)->Await(absl::Seconds(20), [&](const absl::StatusOr<QueryParams>& p) {
        ++calls;
        EXPECT_TRUE(p.ok());
        return LoopbackAnswer{200, "<p>bye</p>"};
      });
  browser.join();
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*q)["code"], "C/x");
  EXPECT_EQ((*q)["state"], "S");
  EXPECT_THAT(favicon, HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(wrong_host, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(post, HasSubstr("HTTP/1.1 405"));
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(answer, HasSubstr("<p>bye</p>"));
  EXPECT_THAT(answer, HasSubstr("Cache-Control: no-store"));
  // One answer only: the listener is closed now.
  EXPECT_THAT(Get(port, "/cb?code=D&state=S"), Not(HasSubstr("HTTP/1.1")));
}

TEST(LoopbackRedirectTest, RefusesHugeHeaders) {
  auto l = LoopbackRedirectListener::Bind(0);
  ASSERT_TRUE(l.ok());
  int port = (*l)->port();
  std::string big;
  std::thread browser(
      [&] { big = Get(port, "/cb?state=" + std::string(20000, 'a')); });
  auto q =
      (*l)->Await(absl::Seconds(2), [&](const absl::StatusOr<QueryParams>&) {
        ADD_FAILURE() << "no request should get through";
        return LoopbackAnswer{};
      });
  browser.join();
  EXPECT_THAT(big, HasSubstr("HTTP/1.1 431"));
  EXPECT_TRUE(absl::IsDeadlineExceeded(q.status())) << q.status();
}

TEST(LoopbackRedirectTest, PortInUse) {
  auto a = LoopbackRedirectListener::Bind(0);
  ASSERT_TRUE(a.ok());
  auto b = LoopbackRedirectListener::Bind((*a)->port());
  EXPECT_TRUE(absl::IsUnavailable(b.status())) << b.status();
}

}  // namespace
}  // namespace inkan::client
