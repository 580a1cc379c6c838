// Keys held in process memory by OpenSSL: the provisional "software" backend
// (R2: flagged provisional wherever it shows), tests, and benchmarks.
#ifndef INKAN_CRYPTO_SOFTWARE_SIGNER_H_
#define INKAN_CRYPTO_SOFTWARE_SIGNER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/secret_bytes.h"
#include "crypto/signer.h"

namespace inkan::crypto {

// A fresh private key as PKCS#8 DER (PrivateKeyInfo).
absl::StatusOr<SecretBytes> GenerateSoftwareKey(KeyAlgorithm alg);

// A private key parsed once, signing with any scheme its kind allows.
// Thread-safe.
class SoftwarePrivateKey {
 public:
  virtual ~SoftwarePrivateKey() = default;
  // InvalidArgument if scheme.key is not this key's kind or the digest has
  // the wrong length.
  virtual absl::StatusOr<std::string> Sign(const SignatureScheme& scheme,
                                           absl::string_view digest) const = 0;
  virtual const std::string& public_key_der() const = 0;
};

// InvalidArgument if the key does not parse or is not of kind `alg`.
absl::StatusOr<std::unique_ptr<SoftwarePrivateKey>> ParseSoftwarePrivateKey(
    const SecretBytes& pkcs8_der, KeyAlgorithm alg);

// A signer over a PKCS#8 DER private key. InvalidArgument if the key does not
// parse or is not of kind scheme.key. Thread-safe.
absl::StatusOr<std::unique_ptr<Signer>> NewSoftwareSigner(
    const SecretBytes& pkcs8_der, const SignatureScheme& scheme);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_SOFTWARE_SIGNER_H_
