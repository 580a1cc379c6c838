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

  // POSTs `json` to base + `method` ("auth/login", ...). `authorization` is
  // the whole header value ("Bearer …", "Basic …") or "". Unavailable if the
  // connection or TLS fails (it reconnects once if the server closed a
  // kept-alive connection).
  absl::StatusOr<HttpResult> Post(const std::string& method,
                                  const std::string& json,
                                  const std::string& authorization);

 private:
  class Impl;
  explicit CscClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inkan::client

#endif  // INKAN_CLIENT_CSC_CLIENT_H_
