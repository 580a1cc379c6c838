// An asynchronous HTTPS/1.1 server (Boost.Beast over OpenSSL) for inkan's
// front ends: the CSC API v2 of `inkan serve` first.
//
// TLS: 1.2 and 1.3 only; for 1.2 only ECDHE with AEAD ciphers (AES-GCM,
// ChaCha20-Poly1305); server cipher preference; no compression, no
// renegotiation, no session tickets. HTTP/1.1 with keep-alive (HTTP/1.0 is
// answered too), one request at a time per connection, "Expect:
// 100-continue" honoured.
//
// Threads: the server runs its own io threads. Each connection is bound to a
// strand, so its steps never run concurrently, while different connections
// run on different threads. The handler is called on an io thread and may
// block briefly (an HSM call): that holds one io thread, not the others.
// `threads` handlers blocked at once do stall the server, so size `threads`
// for the expected number of concurrent slow calls.
//
// Timeouts, each from the start of its stage:
//   - the TLS handshake, and a request's header once its first byte has
//     arrived: `header_timeout`;
//   - waiting for the first byte of a request (a fresh or keep-alive
//     connection): `idle_timeout`;
//   - the request body: `body_timeout`; writing the response:
//     `write_timeout`.
// A connection that misses a deadline is closed without an answer.
//
// Answers of the server's own (JSON bodies in the CSC error shape
// {"error":"invalid_request","error_description":...}, then the connection
// is closed): 400 for malformed HTTP, 413 for a body over `max_body_bytes`,
// 431 for a header over `max_header_bytes`. A handler that throws, or
// returns a response that cannot be sent (a status outside 200-599, a header
// with CR, LF or NUL), gets a 500 with no detail in it.
//
// Response headers: Content-Length and Connection are the server's own (any
// the handler sets are ignored, as is Transfer-Encoding). Unless the handler
// set them: Content-Type: application/json, Cache-Control: no-store,
// Strict-Transport-Security: max-age=31536000, X-Content-Type-Options:
// nosniff. Request bodies are wiped from memory after the handler returns.
//
// Beast and Asio stay in https_server.cc; this header only needs std and
// absl.
#ifndef INKAN_API_HTTPS_SERVER_H_
#define INKAN_API_HTTPS_SERVER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace inkan::api {

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // path and query, as sent ("/csc/v2/info?x=1")
  // Names in lower case. A header sent several times is joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;
  std::string peer;  // "1.2.3.4:5678" or "[::1]:5678"
};

struct HttpResponse {
  int status = 200;  // 200-599
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Called on an io thread, once per request; may be called concurrently for
// different connections. Should not throw (a throw becomes a bare 500).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpsServerOptions {
  // "HOST:PORT" with a numeric host: "127.0.0.1:0" (port 0 picks a free
  // port), "0.0.0.0:443", "[::]:443".
  std::string listen = "127.0.0.1:0";
  // PEM text, not paths: the leaf certificate first, then its chain. The key
  // must be unencrypted; Start wipes its copy once loaded.
  std::string cert_chain_pem;
  std::string private_key_pem;
  // io threads; 0 = max(2, hardware concurrency).
  int threads = 0;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(60);
  absl::Duration body_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(30);
  // Connections past this are accepted and closed at once.
  size_t max_connections = 1024;
  // Optional: told about the server's own trouble (a handler that threw, a
  // failing accept). Never given request or response contents. Called on
  // the io threads, possibly at the same time from several.
  std::function<void(const std::string&)> on_error;
};

class HttpsServer {
 public:
  // Loads the certificate and key, binds, listens and starts the io threads.
  // InvalidArgument for bad options, a bad certificate or key, or a key
  // that does not match the certificate; Unavailable if it cannot bind.
  static absl::StatusOr<std::unique_ptr<HttpsServer>> Start(
      HttpsServerOptions options, HttpHandler handler);

  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;
  ~HttpsServer();  // Shutdown(absl::Seconds(1)) unless already shut down

  // The bound port (useful with port 0).
  int port() const;

  // Graceful stop. The listening socket is closed first (new connections are
  // refused). Idle connections (handshaking, or waiting for a request) are
  // closed. A request being read is read to its end, then it and every
  // request already being handled is answered with "Connection: close".
  // Returns once every connection is done, or at `deadline` (from now): then
  // the rest are closed. A handler still running at that point cannot be
  // interrupted: Shutdown waits for it to return, and its answer is
  // dropped. Thread-safe and idempotent: later calls wait for the first to
  // finish. Must not be called from the handler.
  void Shutdown(absl::Duration deadline);

 private:
  class Impl;
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Blocks until SIGTERM or SIGINT arrives and returns its number. The two
// signals are caught from the moment this is called until it returns (then
// they are back to their default action, which ends the process);
// `on_ready`, if given, runs once they are caught. For `inkan serve`: Start the
// server, wait here, Shutdown.
int WaitForTerminationSignal(const std::function<void()>& on_ready = nullptr);

}  // namespace inkan::api

#endif  // INKAN_API_HTTPS_SERVER_H_
