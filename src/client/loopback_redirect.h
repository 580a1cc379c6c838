// The loopback end of an OAuth 2.0 authorization for a native application
// (RFC 8252 §7.3): a tiny plain-HTTP/1.1 listener on 127.0.0.1 that waits for
// the browser's one redirect, GET PATH?code=…&state=…, answers it with a small
// page and hands back the query's parameters.
//
// Only loopback peers are served, only requests whose Host is this listener
// (so a DNS-rebinding page cannot reach it under another name), with headers
// of at most 8 KiB and no body. Other paths get 404 and the wait goes on
// (browsers also ask for /favicon.ico, and may open idle connections).
//
// Thread-safety: not thread-safe; Await runs on the calling thread.
#ifndef INKAN_CLIENT_LOOPBACK_REDIRECT_H_
#define INKAN_CLIENT_LOOPBACK_REDIRECT_H_

#include <map>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace inkan::client {

// A query's parameters, percent-decoded ("+" is a space).
using QueryParams = std::map<std::string, std::string>;

// What the browser is shown.
struct LoopbackAnswer {
  int status = 200;
  std::string html;  // a whole text/html; charset=utf-8 page
};

// The parameters of `query` ("a=1&b=x%20y"). InvalidArgument for bad
// percent-encoding or a repeated parameter.
absl::StatusOr<QueryParams> ParseQuery(absl::string_view query);

class LoopbackRedirectListener {
 public:
  // Listens on 127.0.0.1:`port` (0: an ephemeral port) for GET `path`.
  // Unavailable if the port cannot be bound (e.g. in use).
  static absl::StatusOr<std::unique_ptr<LoopbackRedirectListener>> Bind(
      int port, const std::string& path = "/cb");
  ~LoopbackRedirectListener();

  int port() const;
  // "http://127.0.0.1:PORT/cb": the redirect_uri to register and send.
  std::string redirect_uri() const;

  // Waits up to `timeout` for one GET of the path. `answer` is called with
  // its parameters (or why they do not parse) and gives the page sent back;
  // then the query is returned (or its parse error), once the page is
  // written. DeadlineExceeded if nothing came in time.
  absl::StatusOr<QueryParams> Await(
      absl::Duration timeout,
      absl::FunctionRef<LoopbackAnswer(const absl::StatusOr<QueryParams>&)>
          answer);

 private:
  class Impl;
  explicit LoopbackRedirectListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inkan::client

#endif  // INKAN_CLIENT_LOOPBACK_REDIRECT_H_
