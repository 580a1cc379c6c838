// Message digests (OpenSSL EVP, with the EVP_MD fetched once).
#ifndef INKAN_CRYPTO_DIGEST_H_
#define INKAN_CRYPTO_DIGEST_H_

#include <openssl/types.h>

#include <string>

#include "absl/strings/string_view.h"
#include "crypto/algorithm.h"

namespace inkan::crypto {

std::string Digest(HashAlgorithm h, absl::string_view data);

// The cached EVP_MD for h (owned by this module; never free it).
const EVP_MD* EvpMd(HashAlgorithm h);
inline std::string Sha256(absl::string_view data) {
  return Digest(HashAlgorithm::kSha256, data);
}

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_DIGEST_H_
