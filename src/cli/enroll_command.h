// `inkan enroll …`: one-time enrollment codes (operators) and path B of the
// enrollment (a key made on the user's own machine, sent wrapped).
#ifndef INKAN_CLI_ENROLL_COMMAND_H_
#define INKAN_CLI_ENROLL_COMMAND_H_

#include <string>

#include "absl/status/status.h"
#include "cli/commands.h"

namespace inkan::cli {

// Proposes the enroll.issue ceremony (and the proposer's approval when a key
// or signature is given); a second operator approves with `inkan ceremony
// approve`.
absl::Status EnrollIssue(const std::string& data, const std::string& user,
                         const std::string& valid_for, int scal,
                         const OperatorSignature& proposer);
// Runs an approved enroll.issue request and prints the one-time URL once:
// BASE_URL/enroll#CODE.
absl::Status EnrollRelease(const std::string& data, const std::string& id,
                           const std::string& base_url,
                           const std::string& operator_name);

struct KeygenArgs {
  std::string url;     // https://host[:port]; the code is asked for
  std::string cacert;  // inkan's CA certificate (PEM): trusts the service
                       // and checks the transport key's certificate
  std::string alg = "ec-p256";
  bool yes = false;  // confirm receipt without asking
  // A key the user made already (PEM, e.g. with `openssl genpkey`) instead of
  // a new one; the file is overwritten and removed once the key is in the
  // HSM.
  std::string key_file;
  // Appends each request sent (method and JSON body, with the code, PIN,
  // one-time code and session redacted) to this file: what crossed the wire.
  std::string trace_file;
};
// Path B, start to end: redeems the code, sets the PIN and a TOTP
// authenticator (prompts), makes the key here, wraps it for the HSM's
// certified transport key, uploads it, erases the local copy, confirms
// receipt and prints the credential and certificate.
absl::Status EnrollKeygen(const KeygenArgs& args);

}  // namespace inkan::cli

#endif  // INKAN_CLI_ENROLL_COMMAND_H_
