// The enrollment endpoints (issue 5): the pages a new user walks through from
// the one-time URL, and the JSON API `inkan enroll keygen` uses (path B).
//
// Pages (server-rendered, Japanese or English, the consent page's
// conventions: one nonce'd <style> and <script>, strict CSP, no outside
// loads, every outside text escaped):
//   GET  /enroll            reads the code from the URL fragment into the
//                           form (script) and removes it from the address
//                           bar; the person presses Start (no auto-submit:
//                           link scanners must not burn codes); without
//                           script, a field to paste it
//   POST /enroll/redeem     form: code. Sets the session cookie
//                           (__Host-inkan_enroll, HttpOnly, Secure,
//                           SameSite=Strict) and redirects to /enroll/step
//   GET  /enroll/step       the current step's page
//   POST /enroll/step       form: csrf, action and the step's fields
//   POST /enroll/key.p12    path C: the PKCS#12, once (form: csrf)
//   GET  /enroll/certificate.pem  the issued certificate, at the end
// JSON (Authorization: Bearer <session> after redeem; errors are
// {"error","error_description"} with 400/401/403/404/409/429/500):
//   POST /enroll/api/redeem         {"code"} -> {"session","user","step"}
//   POST /enroll/api/pin            {"pin"}
//   POST /enroll/api/totp/start     {} -> {"otpauth"}
//   POST /enroll/api/totp/confirm   {"otp"}
//   POST /enroll/api/card           {"certificate"} (base64 DER: the card's
//                                   authentication certificate)
//   POST /enroll/api/transport      {} -> {"certificate","ca_certificate"}
//                                   (base64 DER; no session needed)
//   POST /enroll/api/key            {"path":"upload","algorithm",
//                                    "public_key","wrapped_key"} (base64)
//                                   or {"path":"hsm","algorithm"}
//   POST /enroll/api/receipt        {} -> {"credential","certificate"|
//                                          "certificate_pending":true}
//   POST /enroll/api/status         {} -> {"step","user","credential"}
//
// Thread-safety: Handle may run on many threads at once.
#ifndef INKAN_SERVER_ENROLL_API_H_
#define INKAN_SERVER_ENROLL_API_H_

#include <string>

#include "api/https_server.h"
#include "enroll/enrollment.h"

namespace inkan::server {

class EnrollApi {
 public:
  // `ca_certificate_der`: returns inkan's CA certificate (for the transport
  // key's chain and the pages' downloads).
  EnrollApi(enroll::EnrollmentService& service,
            std::function<absl::StatusOr<std::string>()> ca_certificate_der)
      : service_(service), ca_cert_(std::move(ca_certificate_der)) {}

  // True for the paths this class answers.
  static bool Owns(absl::string_view target);
  api::HttpResponse Handle(const api::HttpRequest& request);

 private:
  api::HttpResponse Landing(const api::HttpRequest& req);
  api::HttpResponse RedeemForm(const api::HttpRequest& req);
  api::HttpResponse StepPage(const api::HttpRequest& req,
                             const std::string& error, int status);
  api::HttpResponse StepAnswer(const api::HttpRequest& req);
  api::HttpResponse Download(const api::HttpRequest& req);
  api::HttpResponse Certificate(const api::HttpRequest& req);
  api::HttpResponse JsonApi(const api::HttpRequest& req,
                            absl::string_view method);

  enroll::EnrollmentService& service_;
  std::function<absl::StatusOr<std::string>()> ca_cert_;
};

}  // namespace inkan::server

#endif  // INKAN_SERVER_ENROLL_API_H_
