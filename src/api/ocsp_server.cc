#include "api/ocsp_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/encoding.h"

namespace inkan::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kMaxBody = 64 * 1024;
constexpr int kIoTimeoutSeconds = 10;
constexpr int kMaxRequestsPerConnection = 100;

// Decodes the GET form: the last path segment, URL-decoded, is base64.
std::string UrlDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hex = HexDecode(s.substr(i + 1, 2));
      if (hex.ok()) {
        out += *hex;
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

http::response<http::string_body> Respond(
    const http::request<http::string_body>& req, const OcspHandler& handler) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "inkan-ocsp");
  std::string der;
  bool have = false;
  if (req.method() == http::verb::post) {
    der = req.body();
    have = true;
  } else if (req.method() == http::verb::get) {
    std::string target(req.target());
    size_t slash = target.rfind('/');
    auto decoded = Base64Decode(UrlDecode(target.substr(slash + 1)));
    if (decoded.ok()) {
      der = *decoded;
      have = true;
    }
  } else {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, POST");
    res.prepare_payload();
    return res;
  }
  if (!have) {
    res.result(http::status::bad_request);
    res.set(http::field::content_type, "text/plain");
    res.body() = "expected a base64 OCSP request in the last path segment\n";
    res.prepare_payload();
    return res;
  }
  res.result(http::status::ok);
  res.set(http::field::content_type, "application/ocsp-response");
  res.set(http::field::cache_control, "no-cache");
  res.body() = handler(der);
  res.prepare_payload();
  return res;
}

}  // namespace

absl::Status ServeOcsp(const std::string& listen, const OcspHandler& handler,
                       const std::function<void(const std::string&)>& on_ready,
                       const std::atomic<bool>& stop) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("--listen takes HOST:PORT");
  }
  try {
    asio::io_context io;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(listen.substr(0, colon), ec);
    unsigned short port =
        static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));
    if (ec)
      return absl::InvalidArgumentError(
          absl::StrCat("bad listen address ", listen));
    tcp::acceptor acceptor(io);
    tcp::endpoint ep(address, port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep, ec);
    if (ec)
      return absl::UnavailableError(
          absl::StrCat("cannot bind ", listen, ": ", ec.message()));
    acceptor.listen();
    acceptor.non_blocking(true);
    tcp::endpoint bound = acceptor.local_endpoint();
    on_ready(absl::StrCat(bound.address().to_string(), ":", bound.port()));
    while (!stop.load()) {
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        // Poll for a connection or a stop request, at most once a second.
        ::pollfd p{acceptor.native_handle(), POLLIN, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      if (ec) {
        // Not a transient "no connection yet": wait a little instead of
        // spinning.
        ::pollfd p{acceptor.native_handle(), POLLIN, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      // Synchronous reads ignore Beast's expiry: bound them at the socket.
      // A client that stalls is dropped after kIoTimeoutSeconds, and one
      // connection serves at most kMaxRequestsPerConnection requests.
      timeval tv{kIoTimeoutSeconds, 0};
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
                   sizeof(tv));
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv,
                   sizeof(tv));
      beast::tcp_stream stream(std::move(socket));
      beast::flat_buffer buffer;
      for (int served = 0; served < kMaxRequestsPerConnection && !stop.load();
           ++served) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxBody);
        parser.header_limit(8 * 1024);
        http::read(stream, buffer, parser, ec);
        if (ec) break;
        auto res = Respond(parser.get(), handler);
        if (served + 1 == kMaxRequestsPerConnection) res.keep_alive(false);
        http::write(stream, res, ec);
        if (ec || !res.keep_alive()) break;
      }
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("OCSP server: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace inkan::api
