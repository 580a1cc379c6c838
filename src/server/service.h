// The long-running service (`inkan serve`) around an opened Instance: the
// CA key activated for a window from custodians' shares (ca/activation.h),
// CRLs signed on a schedule while it is active, and the control socket
// (server/control.h) through which operators and custodians drive it:
//
//   op=ca.activate   share, window ("8h"), actor  → have, need, active, until
//   op=ca.deactivate actor
//   op=ca.status                                  → active, until, have, need
//   op=cert.issue    credential, subject, actor   → serial, certificate (b64)
//   op=cert.revoke   serial, reason, actor
//   op=crl           actor                        → crl (b64 DER)
//   op=ca.responder.renew actor                   → certificate (b64 DER)
//
// Thread-safety: Start/Stop from one thread; the rest runs on its own.
#ifndef INKAN_SERVER_SERVICE_H_
#define INKAN_SERVER_SERVICE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/https_server.h"
#include "ca/activation.h"
#include "sam/authorization.h"
#include "server/control.h"
#include "server/csc_api.h"
#include "server/enroll_api.h"
#include "server/instance.h"

namespace inkan::server {

struct ServiceOptions {
  // HTTPS for the CSC API: "HOST:PORT" ("" = no HTTPS, control socket only),
  // with the certificate chain and key in PEM files (default: the data
  // directory's tls/cert.pem and tls/key.pem, made by `inkan tls issue`).
  std::string listen;
  std::string tls_cert_file;
  std::string tls_key_file;
  sam::AuthOptions auth;
  // HTTPS io threads. A signHash waits for its group commit on its thread,
  // so more threads let more requests share one fsync.
  int io_threads = 16;
  // CRLs are signed this often while the CA key is active (and once as soon
  // as it becomes active).
  absl::Duration crl_interval = absl::Hours(1);
  // Longest activation window custodians may ask for.
  absl::Duration max_activation = absl::Hours(24);
  absl::Duration tick = absl::Seconds(5);
};

class Service {
 public:
  static absl::StatusOr<std::unique_ptr<Service>> Start(
      Instance& instance, const ServiceOptions& options);
  ~Service();  // Stop()

  // Stops the scheduler and the control socket and deactivates the CA key
  // (logged). Idempotent.
  void Stop();

  const std::string& control_path() const { return control_path_; }
  // The HTTPS port, 0 without HTTPS.
  int https_port() const { return https_ ? https_->port() : 0; }
  ca::CaActivation& activation() { return *activation_; }

  // The control socket's path for a data directory.
  static std::string ControlPath(const std::string& data_dir);

 private:
  Service(Instance& instance, const ServiceOptions& options);
  absl::StatusOr<ControlFields> Handle(const ControlFields& request);
  void Scheduler();

  Instance& instance_;
  const ServiceOptions options_;
  std::string control_path_;
  std::unique_ptr<ca::CaActivation> activation_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<sam::AuthorizationService> auth_;
  std::unique_ptr<CscApi> csc_;
  std::unique_ptr<enroll::EnrollmentService> enroll_;
  std::unique_ptr<EnrollApi> enroll_api_;
  std::unique_ptr<api::HttpsServer> https_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ = false;
  std::thread scheduler_;
};

// Parses "90s", "15m", "8h", "2d".
absl::StatusOr<absl::Duration> ParseWindow(absl::string_view text);

}  // namespace inkan::server

#endif  // INKAN_SERVER_SERVICE_H_
