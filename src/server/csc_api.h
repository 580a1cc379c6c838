// The CSC API v2 over HTTP (issue 4): routes /csc/v2/* to the
// AuthorizationService, with the codec's strict parsing and CSC error bodies.
//
//   GET|POST /csc/v2/info
//   POST /csc/v2/auth/login            HTTP Basic: user name + the user's PIN
//   POST /csc/v2/auth/revoke           Bearer
//   POST /csc/v2/credentials/list      Bearer: the caller's credentials only
//   POST /csc/v2/credentials/info      Bearer
//   POST /csc/v2/credentials/authorize Bearer; explicit mode: authData PIN+OTP
//   POST /csc/v2/signatures/signHash   Bearer + SAD (or a credential token)
//   GET  /csc/v2/oauth2/authorize      the consent page (scope=credential)
//                                      or the login page (scope=service)
//   POST /csc/v2/oauth2/authorize      the page's answer (CSRF-checked)
//   POST /csc/v2/oauth2/token          code + PKCE verifier → access token
//
// Every bad input gets the CSC error of reference §5 and changes nothing.
// Secrets (PINs, codes, tokens, SADs) are never logged or echoed.
//
// Thread-safety: Handle may run on many threads at once.
#ifndef INKAN_SERVER_CSC_API_H_
#define INKAN_SERVER_CSC_API_H_

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/https_server.h"
#include "sam/authorization.h"
#include "server/instance.h"

namespace inkan::server {

class CscApi {
 public:
  CscApi(Instance& instance, sam::AuthorizationService& auth)
      : instance_(instance), auth_(auth) {}
  api::HttpResponse Handle(const api::HttpRequest& request);
  // Ends consent pages left open past their time: each is logged as
  // consent.timeout and yields nothing. The service calls it on its tick.
  void SweepConsents();

  // How long a consent or login page stays open.
  static constexpr absl::Duration kConsentTtl = absl::Minutes(5);

 private:
  // A page shown and not yet answered.
  struct Pending {
    sam::AuthorizationService::CodeRequest request;
    std::string csrf;
    std::string state;
    std::string lang;
    std::string description;
    std::vector<std::string> labels;
    std::string user;  // the credential's owner (credential scope)
    absl::Time expires;
  };
  api::HttpResponse Authorize(const api::HttpRequest& req);
  api::HttpResponse AuthorizeAnswer(const api::HttpRequest& req);
  api::HttpResponse Token(const api::HttpRequest& req);
  api::HttpResponse RenderPending(const std::string& id, const Pending& p,
                                  const std::string& error);

  Instance& instance_;
  sam::AuthorizationService& auth_;
  absl::Mutex mu_;
  std::map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inkan::server

#endif  // INKAN_SERVER_CSC_API_H_
