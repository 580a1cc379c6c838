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

// A synchronous stream over a non-blocking socket in which every read and
// write waits at most until the deadline. (SO_RCVTIMEO does not bound Asio's
// synchronous reads: on EAGAIN Asio polls again without a timeout, so one
// silent client could hold this one-connection server for ever.)
class DeadlineSocket {
 public:
  using executor_type = tcp::socket::executor_type;
  explicit DeadlineSocket(tcp::socket& socket) : socket_(socket) {
    socket_.non_blocking(true);
  }
  executor_type get_executor() { return socket_.get_executor(); }
  void ExpiresAfter(std::chrono::seconds d) {
    deadline_ = std::chrono::steady_clock::now() + d;
  }

  template <class Buffers>
  size_t read_some(const Buffers& b, boost::system::error_code& ec) {
    while (true) {
      size_t n = socket_.read_some(b, ec);
      if (ec != asio::error::would_block && ec != asio::error::try_again)
        return n;
      if (!Wait(POLLIN, ec)) return 0;
    }
  }
  template <class Buffers>
  size_t read_some(const Buffers& b) {
    boost::system::error_code ec;
    size_t n = read_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class Buffers>
  size_t write_some(const Buffers& b, boost::system::error_code& ec) {
    while (true) {
      size_t n = socket_.write_some(b, ec);
      if (ec != asio::error::would_block && ec != asio::error::try_again)
        return n;
      if (!Wait(POLLOUT, ec)) return 0;
    }
  }
  template <class Buffers>
  size_t write_some(const Buffers& b) {
    boost::system::error_code ec;
    size_t n = write_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  bool Wait(short events, boost::system::error_code& ec) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline_ - std::chrono::steady_clock::now())
                    .count();
    ::pollfd p{socket_.native_handle(), events, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      ec = asio::error::timed_out;
      return false;
    }
    return true;
  }

  tcp::socket& socket_;
  std::chrono::steady_clock::time_point deadline_;
};

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
      // A client that stalls is dropped after kIoTimeoutSeconds per request
      // (reading it, then writing the answer), and one connection serves at
      // most kMaxRequestsPerConnection requests.
      DeadlineSocket stream(socket);
      beast::flat_buffer buffer;
      for (int served = 0; served < kMaxRequestsPerConnection && !stop.load();
           ++served) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxBody);
        parser.header_limit(8 * 1024);
        stream.ExpiresAfter(std::chrono::seconds(kIoTimeoutSeconds));
        http::read(stream, buffer, parser, ec);
        if (ec) break;
        auto res = Respond(parser.get(), handler);
        if (served + 1 == kMaxRequestsPerConnection) res.keep_alive(false);
        stream.ExpiresAfter(std::chrono::seconds(kIoTimeoutSeconds));
        http::write(stream, res, ec);
        if (ec || !res.keep_alive()) break;
      }
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("OCSP server: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace inkan::api
