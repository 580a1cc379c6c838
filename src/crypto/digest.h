// Message digests (OpenSSL EVP, with the EVP_MD fetched once).
#ifndef INKAN_CRYPTO_DIGEST_H_
#define INKAN_CRYPTO_DIGEST_H_

#include <string>
#include <string_view>

#include "crypto/algorithm.h"

namespace inkan::crypto {

std::string Digest(HashAlgorithm h, std::string_view data);
inline std::string Sha256(std::string_view data) {
  return Digest(HashAlgorithm::kSha256, data);
}

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_DIGEST_H_
