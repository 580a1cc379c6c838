// The signer's smart card (e.g. the My Number Card) through PKCS#11, for
// `inkan sign --card-module`: signs the service's card challenge with the
// card's authentication key. The key never leaves the card.
#ifndef INKAN_CLIENT_CARD_SIGNER_H_
#define INKAN_CLIENT_CARD_SIGNER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"

namespace inkan::client {

// Signs `message` with the private key labelled `key_label` (or the token's
// only private key when it is empty) on the token `token_label` of the
// PKCS#11 `module`, after `pin`: ECDSA keys sign SHA-256(message) with
// CKM_ECDSA (returned as a DER Ecdsa-Sig-Value), RSA keys with
// CKM_SHA256_RSA_PKCS. NotFound for a missing module, token or key;
// Unauthenticated for a wrong card PIN.
absl::StatusOr<std::string> CardSign(const std::string& module,
                                     const std::string& token_label,
                                     const SecretBytes& pin,
                                     absl::string_view key_label,
                                     absl::string_view message);

}  // namespace inkan::client

#endif  // INKAN_CLIENT_CARD_SIGNER_H_
