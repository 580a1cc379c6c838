// Signer and Verifier: the signature primitives every layer above the HSM
// uses, after Tink's PublicKeySign/PublicKeyVerify. Nothing above src/hsm sees
// a PKCS#11 type.
//
// Thread-safety: implementations are safe to call from many threads unless
// their factory says otherwise.
#ifndef INKAN_CRYPTO_SIGNER_H_
#define INKAN_CRYPTO_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/algorithm.h"

namespace inkan::crypto {

class Signer {
 public:
  virtual ~Signer() = default;
  // Signs a digest computed with scheme().hash (for Ed25519: the bytes to
  // sign). InvalidArgument if the digest has the wrong length; Unavailable if
  // the key's holder (HSM) cannot be reached.
  virtual absl::StatusOr<std::string> SignDigest(
      absl::string_view digest) const = 0;
  virtual const SignatureScheme& scheme() const = 0;
  // The public key as DER SubjectPublicKeyInfo.
  virtual const std::string& public_key_der() const = 0;
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  // OK if `signature` is valid over `digest`; InvalidArgument (with a reason)
  // if it is not.
  virtual absl::Status VerifyDigest(absl::string_view digest,
                                    absl::string_view signature) const = 0;
};

// A verifier for a DER SubjectPublicKeyInfo. InvalidArgument if the key does
// not parse or does not match scheme.key.
absl::StatusOr<std::unique_ptr<Verifier>> NewVerifier(
    absl::string_view spki_der, const SignatureScheme& scheme);

// Convenience: hash `message` with scheme.hash (Ed25519: pass through) and
// sign.
absl::StatusOr<std::string> SignMessage(const Signer& signer,
                                        absl::string_view message);
absl::Status VerifyMessage(const Verifier& verifier,
                           const SignatureScheme& scheme,
                           absl::string_view message,
                           absl::string_view signature);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_SIGNER_H_
