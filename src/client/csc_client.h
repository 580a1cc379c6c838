// A small CSC API v2 client over HTTPS (for `inkan sign`): one keep-alive
// TLS connection (TLS 1.2+, the server's certificate checked against a CA
// file or the system store, and its name), JSON in and out.
//
// Thread-safety: not thread-safe (one connection).
#ifndef INKAN_CLIENT_CSC_CLIENT_H_
#define INKAN_CLIENT_CSC_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inkan::client {

struct HttpResult {
  int status = 0;
  std::string body;
};

class CscClient {
 public:
  // `base_url`: "https://host:port/csc/v2" (a trailing "/" is fine).
  // `ca_file`: PEM trust anchors; "" = the system's. InvalidArgument for a
  // URL that is not https://host[:port][/path].
  static absl::StatusOr<std::unique_ptr<CscClient>> Connect(
      const std::string& base_url, const std::string& ca_file);
  ~CscClient();

  // POSTs `body` (JSON unless `content_type` says otherwise, e.g. a form for
  // oauth2/token) to base + `method` ("auth/login", ...). `authorization` is
  // the whole header value ("Bearer …", "Basic …") or "". Unavailable if the
  // connection or TLS fails (it reconnects once if the server closed a
  // kept-alive connection).
  absl::StatusOr<HttpResult> Post(
      const std::string& method, const std::string& body,
      const std::string& authorization,
      const std::string& content_type = "application/json");

  // "https://host:port/path/" as given to Connect (with a trailing "/").
  const std::string& base_url() const;

 private:
  class Impl;
  explicit CscClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The CSC error of an answer that is not a success, as a Status whose code
// gives `inkan sign`'s exit code: a wrong PIN, code or login is
// Unauthenticated, 403 or a lock PermissionDenied, 5xx Unavailable, anything
// else FailedPrecondition. `what` names the call ("credentials/authorize").
absl::Status FailureStatus(const HttpResult& result, absl::string_view what);

}  // namespace inkan::client

#endif  // INKAN_CLIENT_CSC_CLIENT_H_
