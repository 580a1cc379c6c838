#include "crypto/digest.h"

#include <openssl/evp.h>

namespace inkan::crypto {
namespace {

const EVP_MD* FetchMd(HashAlgorithm h) {
  // Fetched once: OpenSSL 3.0's implicit fetch per call is slow.
  static const EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static const EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static const EVP_MD* sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  switch (h) {
    case HashAlgorithm::kSha256:
      return sha256;
    case HashAlgorithm::kSha384:
      return sha384;
    case HashAlgorithm::kSha512:
      return sha512;
  }
  return sha256;
}

}  // namespace

const EVP_MD* EvpMd(HashAlgorithm h) { return FetchMd(h); }

std::string Digest(HashAlgorithm h, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, FetchMd(h), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace inkan::crypto
