// The CSC API v2 over HTTP (issue 4): routes /csc/v2/* to the
// AuthorizationService, with the codec's strict parsing and CSC error bodies.
//
//   GET|POST /csc/v2/info
//   POST /csc/v2/auth/login            HTTP Basic: user name + the user's PIN
//   POST /csc/v2/auth/revoke           Bearer
//   POST /csc/v2/credentials/list      Bearer: the caller's credentials only
//   POST /csc/v2/credentials/info      Bearer
//   POST /csc/v2/credentials/authorize Bearer; explicit mode: authData PIN+OTP
//   POST /csc/v2/signatures/signHash   Bearer + SAD
//
// Every bad input gets the CSC error of reference §5 and changes nothing.
// Secrets (PINs, codes, tokens, SADs) are never logged or echoed.
//
// Thread-safety: Handle may run on many threads at once.
#ifndef INKAN_SERVER_CSC_API_H_
#define INKAN_SERVER_CSC_API_H_

#include <string>

#include "api/https_server.h"
#include "sam/authorization.h"
#include "server/instance.h"

namespace inkan::server {

class CscApi {
 public:
  CscApi(Instance& instance, sam::AuthorizationService& auth)
      : instance_(instance), auth_(auth) {}
  api::HttpResponse Handle(const api::HttpRequest& request);

 private:
  Instance& instance_;
  sam::AuthorizationService& auth_;
};

}  // namespace inkan::server

#endif  // INKAN_SERVER_CSC_API_H_
