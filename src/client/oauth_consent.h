// The signer's side of inkan's consent page (doc/api.md, "The consent page"):
// OAuth 2.0 authorization code with PKCE (S256) for scope=credential, the
// redirect caught on a loopback listener (RFC 8252), and the code exchanged
// for a credential token, which is the SAD for exactly the consented hashes.
#ifndef INKAN_CLIENT_OAUTH_CONSENT_H_
#define INKAN_CLIENT_OAUTH_CONSENT_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/csc_client.h"
#include "client/loopback_redirect.h"
#include "common/secret_bytes.h"

namespace inkan::client {

// What the signer is asked to consent to.
struct ConsentRequest {
  std::string client_id;  // a registered OAuth client
  std::string credential_id;
  std::vector<std::string> digests;  // the bytes to sign, one per document
  std::string hash_oid;              // their hash algorithm
  std::vector<std::string> labels;   // UTF-8, one per digest
  std::string description;
  std::string lang;  // "ja", "en", or "" for the browser's language
};

// RFC 7636: a verifier of 32 random bytes in base64url (43 characters) and
// its S256 challenge, BASE64URL(SHA-256(verifier)).
struct Pkce {
  SecretBytes verifier;
  std::string challenge;
};
absl::StatusOr<Pkce> NewPkce();

// The oauth2/authorize link. `base_url` ends in "/" (".../csc/v2/").
std::string AuthorizeUrl(absl::string_view base_url,
                         const ConsentRequest& request,
                         absl::string_view redirect_uri,
                         absl::string_view code_challenge,
                         absl::string_view state);

// A document label for the page from a file name: the base name as valid
// UTF-8 (bad bytes become U+FFFD) without control characters, at most 255
// characters.
std::string DocumentLabel(absl::string_view path);

// The code of a redirect's parameters, once its `state` matches (compared in
// constant time). PermissionDenied when the signer declined
// (error=access_denied), Unauthenticated for another or a missing state,
// FailedPrecondition for any other error or no code.
absl::StatusOr<SecretBytes> CodeFromRedirect(
    const absl::StatusOr<QueryParams>& query, absl::string_view state);

// The page the browser is shown at the loopback address for `outcome` (OK,
// declined, or refused), in Japanese and English.
LoopbackAnswer AnswerPage(const absl::Status& outcome);

// The whole consent: writes "Open this URL to confirm: …" to `prompt`,
// waits up to `timeout` for the redirect on `listener`, checks it, and
// exchanges the code at oauth2/token (code_verifier, client_id,
// redirect_uri). Returns the credential token.
absl::StatusOr<SecretBytes> RunConsent(CscClient& service,
                                       const ConsentRequest& request,
                                       LoopbackRedirectListener& listener,
                                       absl::Duration timeout,
                                       std::ostream& prompt);

}  // namespace inkan::client

#endif  // INKAN_CLIENT_OAUTH_CONSENT_H_
