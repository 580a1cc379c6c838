#include "client/loopback_redirect.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace inkan::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kHeaderLimit = 8 * 1024;
constexpr size_t kMaxConnections = 16;
constexpr auto kConnectionTimeout = std::chrono::seconds(30);

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<QueryParams> ParseQuery(absl::string_view query) {
  QueryParams out;
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::optional<std::string> name = PercentDecode(pair.substr(0, eq));
    std::optional<std::string> value =
        PercentDecode(eq == absl::string_view::npos ? "" : pair.substr(eq + 1));
    if (!name || !value) {
      return absl::InvalidArgumentError("malformed percent-encoding");
    }
    if (!out.emplace(std::move(*name), std::move(*value)).second) {
      return absl::InvalidArgumentError("a repeated parameter");
    }
  }
  return out;
}

class LoopbackRedirectListener::Impl {
 public:
  explicit Impl(std::string path) : path_(std::move(path)), acceptor_(io_) {}

  absl::Status Bind(int port) {
    if (port < 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port ", port));
    }
    boost::system::error_code ec;
    tcp::endpoint ep(asio::ip::address_v4::loopback(),
                     static_cast<unsigned short>(port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) port_ = acceptor_.local_endpoint(ec).port();
    if (ec) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on 127.0.0.1:", port, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  int port() const { return port_; }

  std::string redirect_uri() const {
    return absl::StrCat("http://127.0.0.1:", port_, path_);
  }

  absl::StatusOr<QueryParams> Await(
      absl::Duration timeout,
      absl::FunctionRef<LoopbackAnswer(const absl::StatusOr<QueryParams>&)>
          answer) {
    if (!acceptor_.is_open()) {
      return absl::FailedPreconditionError("the listener was already used");
    }
    answer_ = &answer;
    deadline_ = Clock::now() + absl::ToChronoMilliseconds(timeout);
    try {
      Accept();
      io_.run_until(deadline_);
      // Whatever is still open is dropped; the cancelled handlers free it.
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& weak : sessions_) {
        if (auto s = weak.lock()) s->Close();
      }
      io_.restart();
      io_.poll();
    } catch (const std::exception& e) {
      answer_ = nullptr;
      return absl::InternalError(
          absl::StrCat("the loopback listener failed: ", e.what()));
    }
    answer_ = nullptr;
    sessions_.clear();
    if (!result_) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer came back to ", redirect_uri(), " within ",
                       absl::FormatDuration(timeout)));
    }
    return *std::move(result_);
  }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Impl* owner, tcp::socket socket)
        : owner_(owner), stream_(std::move(socket)) {}

    void Start() {
      boost::system::error_code ec;
      auto peer = stream_.socket().remote_endpoint(ec);
      if (ec || !peer.address().is_loopback()) return Close();
      stream_.expires_at(
          std::min(owner_->deadline_, Clock::now() + kConnectionTimeout));
      parser_.header_limit(kHeaderLimit);
      parser_.body_limit(0);
      http::async_read(
          stream_, buffer_, parser_,
          [self = shared_from_this()](boost::system::error_code ec, size_t) {
            self->OnRead(ec);
          });
    }

    void Close() {
      boost::system::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.socket().close(ec);
    }

   private:
    void OnRead(boost::system::error_code ec) {
      if (ec == http::error::header_limit) {
        return Reply(431, "", false);
      }
      if (ec) {
        // A parse error gets an answer; a closed or timed-out one does not.
        if (ec.category() ==
                http::make_error_code(http::error::bad_target).category() &&
            ec != http::error::end_of_stream &&
            ec != http::error::partial_message) {
          return Reply(400, "", false);
        }
        return Close();
      }
      if (owner_->result_) return Close();  // the one answer already came
      const auto& req = parser_.get();
      if (req.method() != http::verb::get) return Reply(405, "", false);
      std::string host(req[http::field::host]);
      std::string want = absl::StrCat("127.0.0.1:", owner_->port_);
      if (!absl::EqualsIgnoreCase(host, want) &&
          !(owner_->port_ == 80 && host == "127.0.0.1")) {
        return Reply(400, "", false);
      }
      absl::string_view target(req.target().data(), req.target().size());
      size_t q = target.find('?');
      if (target.substr(0, q) != owner_->path_) return Reply(404, "", false);
      absl::StatusOr<QueryParams> query =
          ParseQuery(q == absl::string_view::npos ? "" : target.substr(q + 1));
      LoopbackAnswer a = (*owner_->answer_)(query);
      owner_->result_ = std::move(query);
      Reply(a.status, std::move(a.html), true);
    }

    void Reply(int status, std::string html, bool final) {
      res_.result(static_cast<unsigned>(status));
      res_.version(11);
      if (html.empty()) {
        html = absl::StrCat("<!DOCTYPE html><title>", status, "</title>",
                            status, "\n");
      }
      res_.set(http::field::content_type, "text/html; charset=utf-8");
      res_.set(http::field::cache_control, "no-store");
      res_.set("Content-Security-Policy",
               "default-src 'none'; style-src 'unsafe-inline'; "
               "frame-ancestors 'none'");
      res_.set("Referrer-Policy", "no-referrer");
      res_.set("X-Content-Type-Options", "nosniff");
      res_.keep_alive(false);
      res_.body() = std::move(html);
      res_.prepare_payload();
      http::async_write(stream_, res_,
                        [self = shared_from_this(), final](
                            boost::system::error_code, size_t) {
                          self->Close();
                          if (final) self->owner_->io_.stop();
                        });
    }

    Impl* owner_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request_parser<http::empty_body> parser_;
    http::response<http::string_body> res_;
  };

  void Accept() {
    acceptor_.async_accept(
        [this](boost::system::error_code ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
            return;
          }
          if (!ec) {
            std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) {
              return w.expired();
            });
            if (sessions_.size() < kMaxConnections) {
              auto s = std::make_shared<Session>(this, std::move(socket));
              sessions_.push_back(s);
              s->Start();
            } else {
              boost::system::error_code ignored;
              socket.close(ignored);
            }
          }
          Accept();
        });
  }

  // The io_context outlives everything that uses it.
  asio::io_context io_;
  std::string path_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  Clock::time_point deadline_;
  const absl::FunctionRef<LoopbackAnswer(const absl::StatusOr<QueryParams>&)>*
      answer_ = nullptr;
  std::optional<absl::StatusOr<QueryParams>> result_;
  std::vector<std::weak_ptr<Session>> sessions_;
};

LoopbackRedirectListener::LoopbackRedirectListener(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
LoopbackRedirectListener::~LoopbackRedirectListener() = default;

absl::StatusOr<std::unique_ptr<LoopbackRedirectListener>>
LoopbackRedirectListener::Bind(int port, const std::string& path) {
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError("the redirect path must start with /");
  }
  auto impl = std::make_unique<Impl>(path);
  RETURN_IF_ERROR(impl->Bind(port));
  return std::unique_ptr<LoopbackRedirectListener>(
      new LoopbackRedirectListener(std::move(impl)));
}

int LoopbackRedirectListener::port() const { return impl_->port(); }

std::string LoopbackRedirectListener::redirect_uri() const {
  return impl_->redirect_uri();
}

absl::StatusOr<QueryParams> LoopbackRedirectListener::Await(
    absl::Duration timeout,
    absl::FunctionRef<LoopbackAnswer(const absl::StatusOr<QueryParams>&)>
        answer) {
  return impl_->Await(timeout, answer);
}

}  // namespace inkan::client
