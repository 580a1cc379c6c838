// A plain-HTTP OCSP responder (RFC 6960 Appendix A): POST with
// "application/ocsp-request" to any path, or GET /<path>/<base64 request>.
// Answers "application/ocsp-response". HTTP/1.1 with keep-alive, one
// connection at a time (OCSP clients make one short request): bodies up to
// 64 KiB, headers up to 8 KiB, a socket that stays silent for 10 s is
// dropped, at most 100 requests per connection. Put it behind a front end
// that pools connections for real traffic; the signing service's server
// (asynchronous, many connections) will take it over.
#ifndef INKAN_API_OCSP_SERVER_H_
#define INKAN_API_OCSP_SERVER_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inkan::api {

using OcspHandler = std::function<std::string(absl::string_view request_der)>;

// Listens on `listen` ("127.0.0.1:0" picks a free port) and serves until
// `stop` becomes true (checked at least once a second). `on_ready` receives
// the bound "host:port" once listening. InvalidArgument for a bad address;
// Unavailable if it cannot bind.
absl::Status ServeOcsp(const std::string& listen, const OcspHandler& handler,
                       const std::function<void(const std::string&)>& on_ready,
                       const std::atomic<bool>& stop);

}  // namespace inkan::api

#endif  // INKAN_API_OCSP_SERVER_H_
