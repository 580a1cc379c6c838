// The service's control socket: how operators and custodians talk to a
// running `inkan serve` on the same machine (enter a share to activate the
// CA key, deactivate it, issue with the active CA).
//
// A Unix-domain stream socket at a path in the data directory (0700), made
// 0600, and each peer's uid is checked (SO_PEERCRED): only the service's own
// user (or root) may connect. One request per connection: a flat JSON object
// of strings on one line; one response line back: {"status":"ok",...} or
// {"status":"error","code":<absl code number>,"message":...}. Requests are at
// most 64 KiB; a slow peer is cut off after 10 s.
//
// Thread-safety: the server handles one connection at a time on its own
// thread; the handler need not be reentrant.
#ifndef INKAN_SERVER_CONTROL_H_
#define INKAN_SERVER_CONTROL_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace inkan::server {

using ControlFields = std::map<std::string, std::string>;
// Returns the response fields, or an error that goes back as such.
using ControlHandler =
    std::function<absl::StatusOr<ControlFields>(const ControlFields&)>;

class ControlServer {
 public:
  // Binds `path` (replacing a stale socket file, refusing anything else that
  // exists there) and serves until destroyed.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(
      const std::string& path, ControlHandler handler);
  ~ControlServer();  // stops serving and removes the socket file

 private:
  ControlServer(std::string path, int fd, int wake_read, int wake_write,
                ControlHandler handler);
  void Loop();
  void Serve(int conn);

  std::string path_;
  int fd_, wake_read_, wake_write_;
  ControlHandler handler_;
  std::thread thread_;
};

// Sends one request to the service at `path`. Unavailable if no service
// listens there; the service's error (code and message) otherwise.
absl::StatusOr<ControlFields> CallControl(const std::string& path,
                                          const ControlFields& request);

}  // namespace inkan::server

#endif  // INKAN_SERVER_CONTROL_H_
