// Key and signature algorithms inkan supports, with their names on the CLI
// and in the database.
#ifndef INKAN_CRYPTO_ALGORITHM_H_
#define INKAN_CRYPTO_ALGORITHM_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inkan::crypto {

enum class KeyAlgorithm {
  kEcP256,
  kEcP384,
  kRsa2048,
  kRsa3072,
  kRsa4096,
  kEd25519
};

// "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519".
absl::string_view KeyAlgorithmName(KeyAlgorithm alg);
// InvalidArgument naming the accepted values.
absl::StatusOr<KeyAlgorithm> ParseKeyAlgorithm(absl::string_view name);
bool IsRsa(KeyAlgorithm alg);
bool IsEc(KeyAlgorithm alg);  // ECDSA curves (not Ed25519)

enum class HashAlgorithm { kSha256, kSha384, kSha512 };
absl::string_view HashAlgorithmName(HashAlgorithm h);  // "sha256", ...
absl::StatusOr<HashAlgorithm> ParseHashAlgorithm(absl::string_view name);
size_t DigestLength(HashAlgorithm h);
// The hash a key signs with by default: SHA-384 for P-384, SHA-256 otherwise.
HashAlgorithm DefaultHash(KeyAlgorithm alg);

enum class RsaPadding { kPkcs1, kPss };

// How a signature is made over a digest. For ECDSA the result is DER; for
// RSA raw (k bytes); for Ed25519 the 64-byte signature over the given bytes
// as the message (PureEdDSA, RFC 8032).
struct SignatureScheme {
  KeyAlgorithm key;
  HashAlgorithm hash;
  RsaPadding padding =
      RsaPadding::kPkcs1;  // RSA only; PSS uses salt = hash length
};

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_ALGORITHM_H_
