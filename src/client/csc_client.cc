#include "client/csc_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace inkan::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

class CscClient::Impl {
 public:
  Impl(std::string base_url, std::string host, std::string port,
       std::string path)
      : base_url_(std::move(base_url)),
        host_(std::move(host)),
        port_(std::move(port)),
        path_(std::move(path)),
        ssl_(asio::ssl::context::tls_client) {}

  absl::Status Setup(const std::string& ca_file) {
    boost::system::error_code ec;
    ssl_.set_options(
        asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
            asio::ssl::context::no_tlsv1_1,
        ec);
    SSL_CTX_set_min_proto_version(ssl_.native_handle(), TLS1_2_VERSION);
    if (ca_file.empty()) {
      ssl_.set_default_verify_paths(ec);
    } else {
      ssl_.load_verify_file(ca_file, ec);
    }
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot load the trust anchors ", ca_file, ": ", ec.message()));
    }
    ssl_.set_verify_mode(asio::ssl::verify_peer);
    return absl::OkStatus();
  }

  absl::Status Open() {
    stream_.reset();
    try {
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(host_, port_);
      stream_ =
          std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, ssl_);
      SSL* ssl = stream_->native_handle();
      // The name the certificate must carry: a host name or an IP literal.
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      boost::system::error_code ec;
      (void)asio::ip::make_address(host_, ec);
      if (!ec) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, host_.c_str(), 0);
        SSL_set_tlsext_host_name(ssl, host_.c_str());
      }
      beast::get_lowest_layer(*stream_).expires_after(std::chrono::seconds(30));
      beast::get_lowest_layer(*stream_).connect(results);
      stream_->handshake(asio::ssl::stream_base::client);
    } catch (const boost::system::system_error& e) {
      stream_.reset();
      return absl::UnavailableError(absl::StrCat("cannot reach https://", host_,
                                                 ":", port_, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<HttpResult> Post(const std::string& method,
                                  const std::string& body,
                                  const std::string& authorization,
                                  const std::string& content_type) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!stream_) RETURN_IF_ERROR(Open());
      try {
        http::request<http::string_body> req{http::verb::post, path_ + method,
                                             11};
        req.set(http::field::host, host_);
        req.set(http::field::user_agent, "inkan-sign");
        req.set(http::field::content_type, content_type);
        if (!authorization.empty())
          req.set(http::field::authorization, authorization);
        req.keep_alive(true);
        req.body() = body;
        req.prepare_payload();
        beast::get_lowest_layer(*stream_).expires_after(
            std::chrono::seconds(120));
        http::write(*stream_, req);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(16 << 20);
        http::read(*stream_, buffer, parser);
        auto res = parser.release();
        HttpResult out{static_cast<int>(res.result_int()),
                       std::move(res.body())};
        if (!res.keep_alive()) stream_.reset();
        return out;
      } catch (const boost::system::system_error& e) {
        stream_.reset();
        if (attempt == 1) {
          return absl::UnavailableError(
              absl::StrCat("the service did not answer: ", e.what()));
        }
      }
    }
    return absl::UnavailableError("the service did not answer");
  }

  const std::string& base_url() const { return base_url_; }

 private:
  std::string base_url_, host_, port_, path_;
  asio::io_context io_;
  asio::ssl::context ssl_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
};

CscClient::CscClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CscClient::~CscClient() = default;

absl::StatusOr<std::unique_ptr<CscClient>> CscClient::Connect(
    const std::string& base_url, const std::string& ca_file) {
  if (!absl::StartsWith(base_url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the service URL must start with https:// (", base_url, ")"));
  }
  std::string rest = base_url.substr(8);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (path.back() != '/') path += '/';
  std::string host = authority, port = "443";
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos)
      return absl::InvalidArgumentError("bad IPv6 literal in the URL");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  int port_num = 0;
  if (host.empty() || !absl::SimpleAtoi(port, &port_num) || port_num <= 0 ||
      port_num > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad service URL ", base_url));
  }
  auto impl = std::make_unique<Impl>(absl::StrCat("https://", authority, path),
                                     host, port, path);
  RETURN_IF_ERROR(impl->Setup(ca_file));
  return std::unique_ptr<CscClient>(new CscClient(std::move(impl)));
}

absl::StatusOr<HttpResult> CscClient::Post(const std::string& method,
                                           const std::string& body,
                                           const std::string& authorization,
                                           const std::string& content_type) {
  return impl_->Post(method, body, authorization, content_type);
}

const std::string& CscClient::base_url() const { return impl_->base_url(); }

absl::Status FailureStatus(const HttpResult& r, absl::string_view what) {
  std::string error = "error", description;
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (const auto* o = ec ? nullptr : v.if_object()) {
    if (auto* e = o->if_contains("error"); e && e->is_string())
      error = std::string(e->as_string());
    if (auto* d = o->if_contains("error_description"); d && d->is_string())
      description = std::string(d->as_string());
  }
  std::string msg = absl::StrCat(what, ": HTTP ", r.status, " ", error,
                                 description.empty() ? "" : ": ", description);
  if (error == "invalid_pin" || error == "invalid_otp" ||
      error == "authentication_error") {
    return absl::UnauthenticatedError(msg);
  }
  if (r.status == 403 || absl::StrContains(description, "locked")) {
    return absl::PermissionDeniedError(msg);
  }
  if (r.status >= 500) return absl::UnavailableError(msg);
  return absl::FailedPreconditionError(msg);
}

}  // namespace inkan::client
