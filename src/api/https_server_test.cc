#include "api/https_server.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace inkan::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

struct TestKey {
  std::string cert_pem;
  std::string key_pem;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// A throwaway self-signed P-256 certificate for IP 127.0.0.1.
TestKey MakeSelfSigned() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("inkan test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                            std::pair{NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, &v3, nid, const_cast<char*>(value));
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  BIO* cert_bio = BIO_new(BIO_s_mem());
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  TestKey out{BioText(cert_bio), BioText(key_bio)};
  BIO_free(cert_bio);
  BIO_free(key_bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

const TestKey& Key() {
  static const TestKey* key = new TestKey(MakeSelfSigned());
  return *key;
}

bool ClosedByPeer(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

// A test client whose every step is asynchronous under a 10 s deadline, so
// a server that misbehaves fails the test instead of hanging it.
struct ClientTls {
  int min_version = TLS1_2_VERSION;
  int max_version = 0;
  const char* ciphers = nullptr;
  bool legacy = false;  // security level 0, so that TLS 1.1 is offered
};

class Client {
 public:
  explicit Client(ClientTls tls = {}) {
    ctx_.add_certificate_authority(asio::buffer(Key().cert_pem));
    ctx_.set_verify_mode(ssl::verify_peer);
    SSL_CTX* c = ctx_.native_handle();
    if (tls.legacy) SSL_CTX_set_security_level(c, 0);
    SSL_CTX_set_min_proto_version(c, tls.min_version);
    SSL_CTX_set_max_proto_version(c, tls.max_version);
    if (tls.ciphers != nullptr) SSL_CTX_set_cipher_list(c, tls.ciphers);
    stream_.emplace(ioc_, ctx_);
    stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  }

  beast::error_code Connect(int port) {
    return Run([&](auto done) {
      Lowest().async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                           static_cast<uint16_t>(port)),
                             done);
    });
  }
  beast::error_code Handshake() {
    return Run([&](auto done) {
      stream_->async_handshake(ssl::stream_base::client, done);
    });
  }
  beast::error_code Open(int port) {
    beast::error_code ec = Connect(port);
    if (ec) return ec;
    Lowest().socket().set_option(tcp::no_delay(true), ec);
    return ec ? ec : Handshake();
  }

  beast::error_code Write(const std::string& raw) {
    return Run([&](auto done) {
      asio::async_write(*stream_, asio::buffer(raw), done);
    });
  }
  beast::error_code WritePlain(const std::string& raw) {
    return Run([&](auto done) {
      asio::async_write(Lowest(), asio::buffer(raw), done);
    });
  }

  beast::error_code Read(http::response<http::string_body>& res) {
    res = {};
    return Run(
        [&](auto done) { http::async_read(*stream_, buffer_, res, done); });
  }

  // Reads the answer to a HEAD request (a Content-Length, but no body).
  beast::error_code ReadHead(http::response<http::string_body>& res) {
    http::response_parser<http::string_body> parser;
    parser.skip(true);
    beast::error_code ec = Run(
        [&](auto done) { http::async_read(*stream_, buffer_, parser, done); });
    res = parser.release();
    return ec;
  }

  // Sends one request and reads the answer.
  http::response<http::string_body> Request(http::verb verb,
                                            const std::string& target,
                                            const std::string& body = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec =
        Run([&](auto done) { http::async_write(*stream_, req, done); });
    EXPECT_FALSE(ec) << ec.message();
    http::response<http::string_body> res;
    ec = Read(res);
    EXPECT_FALSE(ec) << ec.message();
    return res;
  }

  // Reads (over TLS, or plain TCP) until the connection ends; returns why.
  beast::error_code ReadUntilClosed(bool plain = false) {
    for (;;) {
      char data[1024];
      beast::error_code ec = Run([&](auto done) {
        if (plain) {
          Lowest().async_read_some(asio::buffer(data), done);
        } else {
          stream_->async_read_some(asio::buffer(data), done);
        }
      });
      if (ec) return ec;
    }
  }

  void Close() {
    beast::error_code ec;
    Lowest().socket().close(ec);
  }

  int LocalPort() { return Lowest().socket().local_endpoint().port(); }
  SSL* native() { return stream_->native_handle(); }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(*stream_); }

  // Starts one operation with a completion `done` and runs it to its end.
  template <typename Start>
  beast::error_code Run(Start start) {
    beast::error_code result = asio::error::in_progress;
    Lowest().expires_after(std::chrono::seconds(10));
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  asio::io_context ioc_;
  ssl::context ctx_{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

std::string Header(const http::response<http::string_body>& res,
                   absl::string_view name) {
  auto it = res.find(beast::string_view(name.data(), name.size()));
  return it == res.end() ? "" : std::string(it->value());
}

HttpsServerOptions TestOptions() {
  HttpsServerOptions o;
  o.cert_chain_pem = Key().cert_pem;
  o.private_key_pem = Key().key_pem;
  o.threads = 2;
  return o;
}

std::unique_ptr<HttpsServer> StartOrDie(HttpHandler handler,
                                        HttpsServerOptions o = TestOptions()) {
  auto server = HttpsServer::Start(std::move(o), std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

// Answers with what it was sent and remembers every request.
class Recorder {
 public:
  HttpHandler Handler() {
    return [this](const HttpRequest& req) {
      absl::MutexLock lock(&mu_);
      requests_.push_back(req);
      HttpResponse res;
      res.status = 201;
      res.headers.emplace_back("X-Echo-Method", req.method);
      res.headers.emplace_back("Content-Type", "text/plain");
      res.body = absl::StrCat(req.method, " ", req.target, " ", req.body);
      return res;
    };
  }
  std::vector<HttpRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  absl::Mutex mu_;
  std::vector<HttpRequest> requests_;
};

TEST(HttpsServerTest, GetAndPostThroughTls) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));

  auto get = client.Request(http::verb::get, "/csc/v2/info?lang=ja");
  EXPECT_EQ(get.result_int(), 201);
  EXPECT_EQ(get.body(), "GET /csc/v2/info?lang=ja ");
  EXPECT_EQ(Header(get, "X-Echo-Method"), "GET");
  EXPECT_EQ(Header(get, "Content-Type"), "text/plain");  // handler's own
  // Defaults the handler did not set.
  EXPECT_EQ(Header(get, "Cache-Control"), "no-store");
  EXPECT_EQ(Header(get, "X-Content-Type-Options"), "nosniff");
  EXPECT_THAT(Header(get, "Strict-Transport-Security"), HasSubstr("max-age="));

  auto post = client.Request(http::verb::post, "/csc/v2/signatures/signHash",
                             R"({"hashes":["AAAA"]})");
  EXPECT_EQ(post.result_int(), 201);
  EXPECT_EQ(post.body(),
            R"(POST /csc/v2/signatures/signHash {"hashes":["AAAA"]})");

  auto requests = recorder.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].headers.at("content-length"), "19");
  EXPECT_EQ(requests[1].headers.at("host"), "127.0.0.1");
}

TEST(HttpsServerTest, HeaderNamesAreLowerCaseAndRepeatsJoined) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  ASSERT_FALSE(
      client.Write("GET /h HTTP/1.1\r\nHost: a\r\nX-Custom-Thing: one\r\n"
                   "x-custom-thing: two\r\n\r\n"));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.Read(res));
  EXPECT_EQ(res.result_int(), 201);
  auto requests = recorder.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].headers.at("x-custom-thing"), "one, two");
  EXPECT_EQ(requests[0].headers.count("X-Custom-Thing"), 0u);
}

TEST(HttpsServerTest, DefaultContentTypeIsJson) {
  auto server = StartOrDie([](const HttpRequest&) {
    return HttpResponse{.status = 200, .headers = {}, .body = "{}"};
  });
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  auto res = client.Request(http::verb::get, "/");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(Header(res, "Content-Type"), "application/json");
  EXPECT_EQ(res.body(), "{}");
}

TEST(HttpsServerTest, HeadAnswersTheLengthWithoutTheBody) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  ASSERT_FALSE(client.Write("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.ReadHead(res));
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(Header(res, "Content-Length"), "8");  // "HEAD /h "
  EXPECT_EQ(res.body(), "");
  // Had a body been sent after all, this answer would not parse.
  auto next = client.Request(http::verb::get, "/next");
  EXPECT_EQ(next.result_int(), 201);
  EXPECT_EQ(next.body(), "GET /next ");
}

TEST(HttpsServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  auto first = client.Request(http::verb::get, "/one");
  auto second = client.Request(http::verb::get, "/two");
  EXPECT_EQ(first.body(), "GET /one ");
  EXPECT_EQ(second.body(), "GET /two ");
  EXPECT_TRUE(first.keep_alive());
  auto requests = recorder.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].peer, requests[1].peer);
  EXPECT_EQ(requests[0].peer, absl::StrCat("127.0.0.1:", client.LocalPort()));
}

TEST(HttpsServerTest, CurlGetsTheBody) {
  auto server = StartOrDie([](const HttpRequest& req) {
    return HttpResponse{
        .status = 200, .headers = {}, .body = "hello " + req.target};
  });
  ASSERT_NE(server, nullptr);
  // Unique per run: several copies of this test may run at once.
  std::string ca = absl::StrCat(::testing::TempDir(), "/https_server_test_ca_",
                                getpid(), "_", server->port(), ".pem");
  std::ofstream(ca) << Key().cert_pem;
  std::string command =
      absl::StrCat("curl -sS --max-time 20 --cacert '", ca,
                   "' https://127.0.0.1:", server->port(), "/x 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[256];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
    output.append(chunk, n);
  int status = pclose(pipe);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "hello /x");
  std::remove(ca.c_str());
}

TEST(HttpsServerTest, Tls13AndAeadTls12AreAccepted) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);

  Client tls13({.min_version = TLS1_3_VERSION, .max_version = TLS1_3_VERSION});
  ASSERT_FALSE(tls13.Open(server->port()));
  EXPECT_EQ(SSL_version(tls13.native()), TLS1_3_VERSION);
  EXPECT_EQ(tls13.Request(http::verb::get, "/").result_int(), 201);

  Client tls12({.max_version = TLS1_2_VERSION,
                .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:"
                           "ECDHE-ECDSA-AES256-GCM-SHA384"});
  ASSERT_FALSE(tls12.Open(server->port()));
  EXPECT_EQ(SSL_version(tls12.native()), TLS1_2_VERSION);
  // The server's preference, not the client's.
  EXPECT_STREQ(SSL_get_cipher_name(tls12.native()),
               "ECDHE-ECDSA-AES256-GCM-SHA384");
}

TEST(HttpsServerTest, Tls11IsRefusedByTheServer) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  Client client({.min_version = TLS1_1_VERSION,
                 .max_version = TLS1_1_VERSION,
                 .ciphers = "DEFAULT:@SECLEVEL=0",
                 .legacy = true});
  ASSERT_FALSE(client.Connect(server->port()));
  beast::error_code ec = client.Handshake();
  ASSERT_TRUE(ec);
  // The server's alert, not the client declining to offer TLS 1.1.
  EXPECT_EQ(ec.category(), asio::error::get_ssl_category());
  EXPECT_EQ(ERR_GET_REASON(ec.value()), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
      << ec.message();
}

TEST(HttpsServerTest, Tls12WithoutAeadIsRefused) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  for (const char* cipher :
       {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
        "AES128-GCM-SHA256"}) {
    Client client({.max_version = TLS1_2_VERSION, .ciphers = cipher});
    ASSERT_FALSE(client.Connect(server->port()));
    beast::error_code ec = client.Handshake();
    ASSERT_TRUE(ec) << cipher;
    EXPECT_EQ(ERR_GET_REASON(ec.value()), SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)
        << cipher << ": " << ec.message();
  }
}

TEST(HttpsServerTest, BodyOverTheLimitIs413) {
  Recorder recorder;
  HttpsServerOptions o = TestOptions();
  o.max_body_bytes = 1024;
  auto server = StartOrDie(recorder.Handler(), o);
  ASSERT_NE(server, nullptr);

  {  // Exactly at the limit: served.
    Client client;
    ASSERT_FALSE(client.Open(server->port()));
    auto res = client.Request(http::verb::post, "/", std::string(1024, 'a'));
    EXPECT_EQ(res.result_int(), 201);
  }
  {  // Announced by Content-Length: refused before the body is read.
    Client client;
    ASSERT_FALSE(client.Open(server->port()));
    ASSERT_FALSE(client.Write(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n"));
    http::response<http::string_body> res;
    ASSERT_FALSE(client.Read(res));
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(res.body(), R"({"error":"invalid_request",)"
                          R"("error_description":"request body too large"})");
    EXPECT_EQ(Header(res, "Content-Type"), "application/json");
    EXPECT_FALSE(res.keep_alive());
    EXPECT_TRUE(ClosedByPeer(client.ReadUntilClosed()));
  }
  {  // Chunked: refused once the chunks pass the limit.
    Client client;
    ASSERT_FALSE(client.Open(server->port()));
    std::string chunk(600, 'b');
    ASSERT_FALSE(client.Write(absl::StrCat(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        "258\r\n", chunk, "\r\n258\r\n", chunk, "\r\n0\r\n\r\n")));
    http::response<http::string_body> res;
    ASSERT_FALSE(client.Read(res));
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_FALSE(res.keep_alive());
  }
  EXPECT_EQ(recorder.requests().size(), 1u);
}

TEST(HttpsServerTest, HeaderOverTheLimitIs431) {
  Recorder recorder;
  HttpsServerOptions o = TestOptions();
  o.max_header_bytes = 1024;
  auto server = StartOrDie(recorder.Handler(), o);
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  ASSERT_FALSE(client.Write(absl::StrCat("GET / HTTP/1.1\r\nHost: a\r\nX-Big: ",
                                         std::string(2000, 'x'), "\r\n\r\n")));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.Read(res));
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_TRUE(recorder.requests().empty());
}

TEST(HttpsServerTest, ExpectContinueIsAnswered) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  ASSERT_FALSE(
      client.Write("POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                   "Expect: 100-continue\r\n\r\n"));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.Read(res));
  EXPECT_EQ(res.result_int(), 100);
  ASSERT_FALSE(client.Write("hello"));
  ASSERT_FALSE(client.Read(res));
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(res.body(), "POST /c hello");
}

TEST(HttpsServerTest, GarbageIsRefusedAndTheServerCarriesOn) {
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler());
  ASSERT_NE(server, nullptr);
  {  // Not TLS at all.
    Client client;
    ASSERT_FALSE(client.Connect(server->port()));
    ASSERT_FALSE(client.WritePlain("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    beast::error_code ec = client.ReadUntilClosed(/*plain=*/true);
    EXPECT_TRUE(ClosedByPeer(ec)) << ec.message();
  }
  {  // TLS, but not HTTP.
    Client client;
    ASSERT_FALSE(client.Open(server->port()));
    ASSERT_FALSE(client.Write("\x01\x02 nonsense \x7f\r\n\r\n"));
    http::response<http::string_body> res;
    ASSERT_FALSE(client.Read(res));
    EXPECT_EQ(res.result_int(), 400);
    EXPECT_THAT(res.body(), HasSubstr("malformed HTTP request"));
    EXPECT_FALSE(res.keep_alive());
    beast::error_code ec = client.ReadUntilClosed();
    EXPECT_TRUE(ClosedByPeer(ec)) << ec.message();
  }
  EXPECT_TRUE(recorder.requests().empty());
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  EXPECT_EQ(client.Request(http::verb::get, "/after").body(), "GET /after ");
}

TEST(HttpsServerTest, HandlerExceptionIsABare500) {
  std::vector<std::string> errors;
  absl::Mutex mu;
  HttpsServerOptions o = TestOptions();
  o.on_error = [&](const std::string& e) {
    absl::MutexLock lock(&mu);
    errors.push_back(e);
  };
  auto server = StartOrDie(
      [](const HttpRequest& req) -> HttpResponse {
        if (req.target == "/bad-header") {
          return HttpResponse{
              .status = 200,
              .headers = {{"X-Injected", "a\r\nSet-Cookie: secret=1"}},
              .body = "secret body"};
        }
        if (req.target == "/bad-status") {
          return HttpResponse{.status = 99, .headers = {}, .body = "secret"};
        }
        throw std::runtime_error("secret detail 246810");
      },
      o);
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  for (const char* target : {"/throw", "/bad-header", "/bad-status"}) {
    auto res = client.Request(http::verb::post, target, "pin=246810");
    EXPECT_EQ(res.result_int(), 500) << target;
    EXPECT_THAT(res.body(), Not(HasSubstr("secret"))) << target;
    EXPECT_THAT(res.body(), Not(HasSubstr("246810"))) << target;
    EXPECT_EQ(Header(res, "Set-Cookie"), "") << target;
    EXPECT_EQ(Header(res, "X-Injected"), "") << target;
  }
  absl::MutexLock lock(&mu);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_THAT(errors[0], HasSubstr("handler threw"));
}

TEST(HttpsServerTest, SlowHandlerDoesNotStallOtherConnections) {
  absl::Notification entered, release;
  auto server = StartOrDie([&](const HttpRequest& req) {
    if (req.target == "/slow") {
      entered.Notify();
      release.WaitForNotification();
    }
    return HttpResponse{.status = 200, .headers = {}, .body = req.target};
  });
  ASSERT_NE(server, nullptr);
  Client slow;
  ASSERT_FALSE(slow.Open(server->port()));
  ASSERT_FALSE(slow.Write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"));
  entered.WaitForNotification();

  Client fast;
  ASSERT_FALSE(fast.Open(server->port()));
  EXPECT_EQ(fast.Request(http::verb::get, "/fast").body(), "/fast");
  EXPECT_EQ(fast.Request(http::verb::get, "/fast2").body(), "/fast2");

  release.Notify();
  http::response<http::string_body> res;
  ASSERT_FALSE(slow.Read(res));
  EXPECT_EQ(res.body(), "/slow");
}

TEST(HttpsServerTest, GracefulShutdownAnswersTheRequestInFlight) {
  absl::Notification entered, release, shutdown_returned;
  std::atomic<int> calls{0};
  auto server = StartOrDie([&](const HttpRequest& req) {
    ++calls;
    if (req.target == "/block") {
      entered.Notify();
      release.WaitForNotification();
    }
    return HttpResponse{
        .status = 200, .headers = {}, .body = "done " + req.target};
  });
  ASSERT_NE(server, nullptr);
  const int port = server->port();

  Client idle;  // a keep-alive connection with nothing in flight
  ASSERT_FALSE(idle.Open(port));
  EXPECT_EQ(idle.Request(http::verb::get, "/idle").body(), "done /idle");
  Client handshaken;  // connected, no request yet
  ASSERT_FALSE(handshaken.Open(port));

  Client busy;
  ASSERT_FALSE(busy.Open(port));
  ASSERT_FALSE(
      busy.Write("POST /block HTTP/1.1\r\nHost: a\r\n"
                 "Content-Length: 2\r\n\r\nhi"));
  entered.WaitForNotification();

  std::thread stopper([&] {
    server->Shutdown(absl::Seconds(60));
    shutdown_returned.Notify();
  });
  // Idle connections are closed (after the listener: Shutdown closes that
  // first)...
  EXPECT_TRUE(ClosedByPeer(idle.ReadUntilClosed()));
  EXPECT_TRUE(ClosedByPeer(handshaken.ReadUntilClosed()));
  // ...new ones are refused...
  Client late;
  EXPECT_EQ(late.Connect(port), asio::error::connection_refused);
  // ...and Shutdown waits for the one in flight.
  EXPECT_FALSE(shutdown_returned.HasBeenNotified());

  release.Notify();
  http::response<http::string_body> res;
  ASSERT_FALSE(busy.Read(res));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "done /block");
  EXPECT_FALSE(res.keep_alive());  // "Connection: close"
  // A clean TLS close (close_notify), not a connection cut at the deadline.
  EXPECT_EQ(busy.ReadUntilClosed(), asio::error::eof);
  busy.Close();

  EXPECT_TRUE(
      shutdown_returned.WaitForNotificationWithTimeout(absl::Seconds(30)));
  stopper.join();
  EXPECT_EQ(calls.load(), 2);
  server->Shutdown(absl::Seconds(1));  // idempotent
}

TEST(HttpsServerTest, ShutdownForceClosesAtTheDeadline) {
  HttpsServerOptions o = TestOptions();
  o.body_timeout = absl::Seconds(60);
  std::atomic<int> calls{0};
  auto server = StartOrDie(
      [&](const HttpRequest&) {
        ++calls;
        return HttpResponse{};
      },
      o);
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  // The "100 Continue" shows that the server is reading this request's body,
  // which never comes.
  ASSERT_FALSE(
      client.Write("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n"
                   "Expect: 100-continue\r\n\r\n"));
  http::response<http::string_body> res;
  ASSERT_FALSE(client.Read(res));
  ASSERT_EQ(res.result_int(), 100);

  const auto start = Clock::now();
  server->Shutdown(absl::Milliseconds(300));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_TRUE(ClosedByPeer(client.ReadUntilClosed()));
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpsServerTest, SlowHeaderIsClosedAtTheHeaderTimeout) {
  Recorder recorder;
  HttpsServerOptions o = TestOptions();
  o.header_timeout = absl::Milliseconds(500);
  o.idle_timeout = absl::Seconds(60);
  auto server = StartOrDie(recorder.Handler(), o);
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  const auto start = Clock::now();
  ASSERT_FALSE(client.Write("GET /slow HTTP/1.1\r\nHost: a\r\n"));
  beast::error_code ec = client.ReadUntilClosed();
  // Closed by the server (the client itself would give up after 10 s with
  // "timeout"), and not before the header timeout.
  EXPECT_TRUE(ClosedByPeer(ec)) << ec.message();
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_TRUE(recorder.requests().empty());
}

TEST(HttpsServerTest, IdleKeepAliveIsClosedAtTheIdleTimeout) {
  Recorder recorder;
  HttpsServerOptions o = TestOptions();
  o.idle_timeout = absl::Milliseconds(300);
  auto server = StartOrDie(recorder.Handler(), o);
  ASSERT_NE(server, nullptr);
  Client client;
  ASSERT_FALSE(client.Open(server->port()));
  // The server's idle clock starts after the request has come in.
  const auto start = Clock::now();
  EXPECT_EQ(client.Request(http::verb::get, "/").result_int(), 201);
  beast::error_code ec = client.ReadUntilClosed();
  EXPECT_TRUE(ClosedByPeer(ec)) << ec.message();
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
}

TEST(HttpsServerTest, ConnectionsPastTheLimitAreClosed) {
  HttpsServerOptions o = TestOptions();
  o.max_connections = 1;
  Recorder recorder;
  auto server = StartOrDie(recorder.Handler(), o);
  ASSERT_NE(server, nullptr);
  Client first;
  ASSERT_FALSE(first.Open(server->port()));
  Client second;
  ASSERT_FALSE(second.Connect(server->port()));
  EXPECT_TRUE(second.Handshake());
  EXPECT_EQ(first.Request(http::verb::get, "/").result_int(), 201);
}

TEST(HttpsServerTest, StartRefusesBadOptions) {
  Recorder recorder;
  auto handler = recorder.Handler();
  HttpsServerOptions o = TestOptions();
  o.listen = "nonsense";
  EXPECT_EQ(HttpsServer::Start(o, handler).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.listen = "localhost:0";  // numeric only
  EXPECT_EQ(HttpsServer::Start(o, handler).status().code(),
            absl::StatusCode::kInvalidArgument);

  o = TestOptions();
  o.cert_chain_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n";
  EXPECT_EQ(HttpsServer::Start(o, handler).status().code(),
            absl::StatusCode::kInvalidArgument);

  o = TestOptions();
  o.private_key_pem = MakeSelfSigned().key_pem;  // another key
  auto mismatch = HttpsServer::Start(o, handler);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.status().message(), Not(HasSubstr("PRIVATE KEY")));

  EXPECT_EQ(HttpsServer::Start(TestOptions(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto running = StartOrDie(handler);
  ASSERT_NE(running, nullptr);
  o = TestOptions();
  o.listen = absl::StrCat("127.0.0.1:", running->port());
  EXPECT_EQ(HttpsServer::Start(o, handler).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(HttpsServerTest, WaitForTerminationSignalReturnsTheSignal) {
  EXPECT_EQ(WaitForTerminationSignal([] { raise(SIGTERM); }), SIGTERM);
  EXPECT_EQ(WaitForTerminationSignal([] { raise(SIGINT); }), SIGINT);
}

}  // namespace
}  // namespace inkan::api
