// Reading keys that operators bring as PEM files (their own keys: inkan only
// ever reads them on the operator's machine, to sign a ceremony request).
#ifndef INKAN_CRYPTO_PEM_H_
#define INKAN_CRYPTO_PEM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"

namespace inkan::crypto {

// A PEM private key (PKCS#8, SEC1 EC or traditional; unencrypted) as PKCS#8
// DER. InvalidArgument if it does not parse.
absl::StatusOr<SecretBytes> PrivateKeyPemToPkcs8(absl::string_view pem);

// A public key given as PEM "PUBLIC KEY" or as DER SubjectPublicKeyInfo, as
// DER. InvalidArgument if neither parses.
absl::StatusOr<std::string> PublicKeyToDer(absl::string_view pem_or_der);

// An X.509 certificate given as PEM (the first one) or DER, as DER.
// InvalidArgument if neither parses.
absl::StatusOr<std::string> CertificateToDer(absl::string_view pem_or_der);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_PEM_H_
