#include "api/https_server.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"

namespace inkan::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

// TLS 1.2: forward secret, authenticated encryption only. TLS 1.3 suites
// are all AEAD; this fixes their order.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
constexpr char kTls13Suites[] =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
    "TLS_AES_128_GCM_SHA256";
constexpr char kGroups[] = "X25519:P-256:P-384";

constexpr char kNosniffHeader[] = "X-Content-Type-Options";

constexpr char kBodyTooLarge[] =
    R"({"error":"invalid_request","error_description":"request body too large"})";
constexpr char kHeaderTooLarge[] =
    R"({"error":"invalid_request","error_description":"request header too large"})";
constexpr char kMalformed[] =
    R"({"error":"invalid_request","error_description":"malformed HTTP request"})";
constexpr char kInternal[] =
    R"({"error":"server_error","error_description":"internal error"})";

// How long a connection being closed waits for the peer's close_notify
// (unread request bytes are discarded meanwhile, so that the peer receives
// the last answer before the socket goes away).
constexpr std::chrono::seconds kMaxCloseWait{5};
// After a failing accept (out of descriptors, say), wait before the next.
constexpr std::chrono::milliseconds kAcceptRetry{100};
// After Shutdown's deadline: how long the force-closed connections get to
// wind down before the io threads are stopped.
constexpr absl::Duration kForceCloseGrace = absl::Seconds(1);
constexpr size_t kFirstReadBytes = 4096;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  // Clamp so that "now + d" cannot overflow the steady clock.
  d = std::clamp(d, absl::ZeroDuration(), absl::Hours(24 * 365));
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

std::string EndpointText(const tcp::endpoint& ep) {
  asio::ip::address address = ep.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    // A dual-stack listener ("[::]:443") sees IPv4 peers as ::ffff:a.b.c.d.
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_v6()) {
    return absl::StrCat("[", address.to_string(), "]:", ep.port());
  }
  return absl::StrCat(address.to_string(), ":", ep.port());
}

absl::StatusOr<tcp::endpoint> ParseListen(absl::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", listen, "\" is not HOST:PORT"));
  }
  absl::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in listen address \"", listen, "\""));
  }
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", listen, "\" needs a numeric IP address"));
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

// A token character (RFC 9110 5.6.2), for header names.
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

bool ValidHeader(absl::string_view name, absl::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

Response JsonError(http::status status, absl::string_view body,
                   unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::strict_transport_security, "max-age=31536000");
  res.set(kNosniffHeader, "nosniff");
  res.body() = std::string(body);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// What the io threads and the sessions share. Outlives every session.
class ServerCore {
 public:
  ServerCore(HttpsServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}

  const HttpsServerOptions& options() const { return options_; }
  HttpsServerOptions& mutable_options() { return options_; }
  const HttpHandler& handler() const { return handler_; }
  ssl::context& tls() { return tls_; }

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void set_stopping() { stopping_.store(true, std::memory_order_release); }

  void Report(absl::string_view what) const {
    if (!options_.on_error) return;
    try {
      options_.on_error(std::string(what));
    } catch (...) {
      // A failing logger must not take the io thread down.
    }
  }

  absl::Mutex& mu() { return mu_; }
  size_t live() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return sessions_.size();
  }

  template <typename S>
  void Register(const std::shared_ptr<S>& s) {
    absl::MutexLock lock(&mu_);
    sessions_.emplace(s.get(), s);
  }
  void Unregister(const void* s) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(s);
  }
  // The sessions still alive.
  template <typename S>
  std::vector<std::shared_ptr<S>> Snapshot() {
    std::vector<std::shared_ptr<S>> out;
    absl::MutexLock lock(&mu_);
    for (auto& [key, weak] : sessions_) {
      if (auto s = weak.lock()) out.push_back(std::static_pointer_cast<S>(s));
    }
    return out;
  }

 private:
  HttpsServerOptions options_;
  const HttpHandler handler_;
  ssl::context tls_{ssl::context::tls_server};
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::unordered_map<const void*, std::weak_ptr<void>> sessions_
      ABSL_GUARDED_BY(mu_);
};

// One connection. Every step runs on the connection's strand (the stream's
// executor), so no two of them run at once.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerCore* core)
      : core_(core), stream_(std::move(socket), core->tls()) {
    boost::system::error_code ec;
    tcp::endpoint peer = Socket().remote_endpoint(ec);
    if (!ec) peer_ = EndpointText(peer);
  }
  ~Session() { core_->Unregister(this); }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this()] { self->Handshake(); });
  }

  // Shutdown has begun: close now if idle, otherwise finish the request in
  // hand and close after answering it.
  void NotifyShutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kHandshake || self->state_ == State::kIdle) {
        self->Close();
      }
    });
  }

  void ForceClose() {
    asio::post(stream_.get_executor(),
               [self = shared_from_this()] { self->Close(); });
  }

  // Only when no io thread runs.
  void CloseNow() { Close(); }

 private:
  enum class State { kHandshake, kIdle, kReading, kHandling, kClosing };

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  tcp::socket& Socket() { return Lowest().socket(); }
  const HttpsServerOptions& options() const { return core_->options(); }

  // Pending operations complete with operation_aborted; the session ends
  // when the last of them lets go of it.
  void Close() {
    boost::system::error_code ec;
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }

  void Handshake() {
    state_ = State::kHandshake;
    if (core_->stopping()) return Close();
    Lowest().expires_after(ToChrono(options().header_timeout));
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (ec) return self->Close();
                              self->WaitForRequest();
                            });
  }

  // Waits up to idle_timeout for the first byte of the next request.
  void WaitForRequest() {
    state_ = State::kIdle;
    if (core_->stopping()) return Close();
    if (buffer_.size() > 0) return ReadHeader();  // pipelined
    Lowest().expires_after(ToChrono(options().idle_timeout));
    stream_.async_read_some(
        buffer_.prepare(kFirstReadBytes),
        [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec) return self->Close();
          self->buffer_.commit(n);
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(options().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(options().max_body_bytes);
    Lowest().expires_after(ToChrono(options().header_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->ReadFailed(ec);
          self->AfterHeader();
        });
  }

  void AfterHeader() {
    const auto& req = parser_->get();
    if (!parser_->is_done() && req.version() >= 11 &&
        absl::EqualsIgnoreCase(
            absl::string_view(req[http::field::expect].data(),
                              req[http::field::expect].size()),
            "100-continue")) {
      continue_ = std::make_unique<http::response<http::empty_body>>(
          http::status::continue_, req.version());
      Lowest().expires_after(ToChrono(options().write_timeout));
      http::async_write(
          stream_, *continue_,
          [self = shared_from_this()](beast::error_code ec, size_t) {
            self->continue_.reset();
            if (ec) return self->Close();
            self->ReadBody();
          });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return Handle();
    Lowest().expires_after(ToChrono(options().body_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->ReadFailed(ec);
                       self->Handle();
                     });
  }

  void ReadFailed(beast::error_code ec) {
    const unsigned version =
        parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    if (ec == http::error::body_limit) {
      return Send(
          JsonError(http::status::payload_too_large, kBodyTooLarge, version));
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return Send(JsonError(http::status::request_header_fields_too_large,
                            kHeaderTooLarge, version));
    }
    // The peer went away, timed out, or broke TLS: nobody to answer.
    if (ec.category() !=
            http::make_error_code(http::error::bad_method).category() ||
        ec == http::error::end_of_stream ||
        ec == http::error::partial_message || ec == http::error::short_read) {
      return Close();
    }
    Send(JsonError(http::status::bad_request, kMalformed, version));
  }

  void Handle() {
    state_ = State::kHandling;
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name = absl::AsciiStrToLower(absl::string_view(
          field.name_string().data(), field.name_string().size()));
      absl::string_view value(field.value().data(), field.value().size());
      auto [it, inserted] = request.headers.emplace(name, value);
      if (!inserted) absl::StrAppend(&it->second, ", ", value);
    }
    request.body = std::move(req.body());
    request.peer = peer_;
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    const bool head = req.method() == http::verb::head;
    parser_.reset();

    HttpResponse out;
    bool failed = false;
    try {
      out = core_->handler()(request);
    } catch (const std::exception& e) {
      failed = true;
      core_->Report(absl::StrCat("handler threw: ", e.what()));
    } catch (...) {
      failed = true;
      core_->Report("handler threw a non-standard exception");
    }
    Wipe(request.body);

    Response res;
    if (failed || !Build(std::move(out), version, head, res)) {
      res = JsonError(http::status::internal_server_error, kInternal, version);
    }
    res.keep_alive(keep_alive && !core_->stopping());
    Send(std::move(res));
  }

  // False if `out` cannot be sent as it is.
  bool Build(HttpResponse out, unsigned version, bool head, Response& res) {
    if (out.status < 200 || out.status > 599) {
      core_->Report(absl::StrCat("handler answered status ", out.status));
      return false;
    }
    try {
      res = Response{};
      res.version(version);
      res.result(static_cast<unsigned>(out.status));
      for (auto& [name, value] : out.headers) {
        if (!ValidHeader(name, value)) {
          core_->Report("handler answered an invalid header");
          return false;
        }
        if (absl::EqualsIgnoreCase(name, "content-length") ||
            absl::EqualsIgnoreCase(name, "transfer-encoding") ||
            absl::EqualsIgnoreCase(name, "connection")) {
          continue;
        }
        res.insert(name, value);
      }
      if (res.find(http::field::content_type) == res.end()) {
        res.set(http::field::content_type, "application/json");
      }
      if (res.find(http::field::cache_control) == res.end()) {
        res.set(http::field::cache_control, "no-store");
      }
      if (res.find(http::field::strict_transport_security) == res.end()) {
        res.set(http::field::strict_transport_security, "max-age=31536000");
      }
      if (res.find(kNosniffHeader) == res.end()) {
        res.set(kNosniffHeader, "nosniff");
      }
      if (out.status == 204 || out.status == 304) out.body.clear();
      const size_t length = out.body.size();
      res.body() = std::move(out.body);
      res.prepare_payload();
      if (head) {
        res.body().clear();
        res.content_length(length);
      }
      return true;
    } catch (const std::exception& e) {
      core_->Report(
          absl::StrCat("cannot send the handler's answer: ", e.what()));
      return false;
    }
  }

  void Send(Response res) {
    state_ = State::kHandling;
    response_ = std::make_unique<Response>(std::move(res));
    Lowest().expires_after(ToChrono(options().write_timeout));
    http::async_write(
        stream_, *response_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          const bool keep_alive = self->response_->keep_alive();
          self->response_.reset();
          if (ec) return self->Close();
          if (!keep_alive || self->core_->stopping()) {
            return self->CloseGracefully();
          }
          self->WaitForRequest();
        });
  }

  // Sends close_notify and waits (briefly) for the peer's, discarding what
  // else it sends, so that the answer just written is not lost to a reset.
  void CloseGracefully() {
    state_ = State::kClosing;
    Lowest().expires_after(std::min<std::chrono::steady_clock::duration>(
        ToChrono(options().header_timeout), kMaxCloseWait));
    stream_.async_shutdown(
        [self = shared_from_this()](beast::error_code) { self->Close(); });
  }

  ServerCore* const core_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  std::string peer_;
  State state_ = State::kHandshake;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<http::response<http::empty_body>> continue_;
  std::unique_ptr<Response> response_;
};

absl::Status ConfigureTls(ssl::context& tls, HttpsServerOptions& options) {
  SSL_CTX* ctx = tls.native_handle();
  tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::no_compression | ssl::context::single_dh_use);
  uint64_t ops = SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                 SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION;
#ifdef SSL_OP_NO_CLIENT_RENEGOTIATION
  ops |= SSL_OP_NO_CLIENT_RENEGOTIATION;
#endif
  SSL_CTX_set_options(ctx, ops);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1 ||
      SSL_CTX_set_num_tickets(ctx, 0) != 1) {
    return absl::InternalError("cannot configure the TLS context");
  }
  // An encrypted key must fail, not prompt on the terminal.
  tls.set_password_callback(
      [](size_t, ssl::context::password_purpose) { return std::string(); });

  boost::system::error_code ec;
  tls.use_certificate_chain(asio::buffer(options.cert_chain_pem), ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the certificate chain: ", ec.message()));
  }
  tls.use_private_key(asio::buffer(options.private_key_pem), ssl::context::pem,
                      ec);
  Wipe(options.private_key_pem);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the private key: ", ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        "the private key does not match the certificate");
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const HttpsServerOptions& o,
                          const HttpHandler& handler) {
  if (!handler) return absl::InvalidArgumentError("no handler");
  if (o.threads < 0) return absl::InvalidArgumentError("threads < 0");
  if (o.max_connections == 0) {
    return absl::InvalidArgumentError("max_connections is 0");
  }
  if (o.max_header_bytes == 0) {
    return absl::InvalidArgumentError("max_header_bytes is 0");
  }
  for (absl::Duration d :
       {o.header_timeout, o.idle_timeout, o.body_timeout, o.write_timeout}) {
    if (d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("timeouts must be positive");
    }
  }
  if (o.cert_chain_pem.empty() || o.private_key_pem.empty()) {
    return absl::InvalidArgumentError("a certificate and key are required");
  }
  return absl::OkStatus();
}

}  // namespace

class HttpsServer::Impl {
 public:
  Impl(HttpsServerOptions options, HttpHandler handler)
      : core_(std::move(options), std::move(handler)),
        ioc_(Threads(core_.options())),
        accept_strand_(asio::make_strand(ioc_)),
        acceptor_(accept_strand_),
        accept_retry_(accept_strand_) {}

  ~Impl() {
    Shutdown(absl::Seconds(1));
    // Sessions still queued in ioc_ die with it, before core_.
  }

  absl::Status Init() {
    try {
      RETURN_IF_ERROR(ConfigureTls(core_.tls(), core_.mutable_options()));
      ASSIGN_OR_RETURN(tcp::endpoint endpoint,
                       ParseListen(core_.options().listen));
      boost::system::error_code ec;
      acceptor_.open(endpoint.protocol(), ec);
      if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor_.bind(endpoint, ec);
      if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        return absl::UnavailableError(absl::StrCat(
            "cannot listen on ", core_.options().listen, ": ", ec.message()));
      }
      port_ = acceptor_.local_endpoint().port();
    } catch (const std::exception& e) {
      return absl::InternalError(
          absl::StrCat("cannot start the HTTPS server: ", e.what()));
    }
    return absl::OkStatus();
  }

  void Run() {
    asio::dispatch(accept_strand_, [this] { Accept(); });
    const int n = Threads(core_.options());
    threads_.reserve(n);
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] { RunIo(); });
    }
  }

  int port() const { return port_; }

  void Shutdown(absl::Duration deadline_in) {
    absl::MutexLock once(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (threads_.empty()) return;  // never ran
    const absl::Time deadline = absl::Now() + deadline_in;
    core_.set_stopping();

    // Stop accepting first, so that a new connection is refused from here
    // on. (Unless every io thread is stuck in a handler: then the acceptor
    // is closed below, after them.)
    auto closed = std::make_shared<absl::Notification>();
    asio::post(accept_strand_, [this, closed] {
      CloseAcceptor();
      closed->Notify();
    });
    closed->WaitForNotificationWithDeadline(deadline);

    for (auto& s : core_.Snapshot<Session>()) s->NotifyShutdown();
    auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_.mu()) {
      return core_.live() == 0;
    };
    bool done;
    {
      absl::MutexLock lock(&core_.mu());
      done = core_.mu().AwaitWithDeadline(absl::Condition(&all_done), deadline);
    }
    if (!done) {
      for (auto& s : core_.Snapshot<Session>()) s->ForceClose();
      absl::MutexLock lock(&core_.mu());
      core_.mu().AwaitWithTimeout(absl::Condition(&all_done), kForceCloseGrace);
    }
    // A handler still running holds its thread until it returns.
    ioc_.stop();
    for (auto& t : threads_) t.join();
    CloseAcceptor();
    for (auto& s : core_.Snapshot<Session>()) s->CloseNow();
  }

 private:
  static int Threads(const HttpsServerOptions& o) {
    if (o.threads > 0) return o.threads;
    return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  }

  void RunIo() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        core_.Report(absl::StrCat("io thread: ", e.what()));
      } catch (...) {
        core_.Report("io thread: non-standard exception");
      }
    }
  }

  // On accept_strand_ (or with no io thread running).
  void CloseAcceptor() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
  }

  // On accept_strand_.
  void Accept() {
    acceptor_.async_accept(
        asio::make_strand(ioc_),
        asio::bind_executor(accept_strand_, [this](boost::system::error_code ec,
                                                   tcp::socket socket) {
          OnAccept(ec, std::move(socket));
        }));
  }

  void OnAccept(boost::system::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open() || core_.stopping()) return;
    if (ec) {
      core_.Report(absl::StrCat("accept: ", ec.message()));
      accept_retry_.expires_after(kAcceptRetry);
      accept_retry_.async_wait([this](boost::system::error_code ec) {
        if (!ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    bool full;
    {
      absl::MutexLock lock(&core_.mu());
      full = core_.live() >= core_.options().max_connections;
    }
    if (full) {
      socket.close(ec);
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(std::move(socket), &core_);
      core_.Register(session);
      session->Start();
    }
    Accept();
  }

  // Declared first, destroyed last: sessions point at it.
  ServerCore core_;
  asio::io_context ioc_;
  asio::strand<asio::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

absl::StatusOr<std::unique_ptr<HttpsServer>> HttpsServer::Start(
    HttpsServerOptions options, HttpHandler handler) {
  absl::Status valid = CheckOptions(options, handler);
  if (!valid.ok()) {
    Wipe(options.private_key_pem);
    return valid;
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  RETURN_IF_ERROR(impl->Init());
  impl->Run();
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsServer::~HttpsServer() = default;  // Impl shuts down

int HttpsServer::port() const { return impl_->port(); }

void HttpsServer::Shutdown(absl::Duration deadline) {
  impl_->Shutdown(deadline);
}

int WaitForTerminationSignal(const std::function<void()>& on_ready) {
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) received = signal;
  });
  if (on_ready) on_ready();
  io.run();
  return received;
}

}  // namespace inkan::api
