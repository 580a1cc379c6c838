#include "crypto/algorithm.h"

#include "absl/strings/str_cat.h"

namespace inkan::crypto {

absl::string_view KeyAlgorithmName(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::kEcP256:
      return "ec-p256";
    case KeyAlgorithm::kEcP384:
      return "ec-p384";
    case KeyAlgorithm::kRsa2048:
      return "rsa-2048";
    case KeyAlgorithm::kRsa3072:
      return "rsa-3072";
    case KeyAlgorithm::kRsa4096:
      return "rsa-4096";
    case KeyAlgorithm::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

absl::StatusOr<KeyAlgorithm> ParseKeyAlgorithm(absl::string_view name) {
  for (KeyAlgorithm a : {KeyAlgorithm::kEcP256, KeyAlgorithm::kEcP384,
                         KeyAlgorithm::kRsa2048, KeyAlgorithm::kRsa3072,
                         KeyAlgorithm::kRsa4096, KeyAlgorithm::kEd25519}) {
    if (KeyAlgorithmName(a) == name) return a;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown key algorithm '", name,
      "' (use ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519)"));
}

bool IsRsa(KeyAlgorithm alg) {
  return alg == KeyAlgorithm::kRsa2048 || alg == KeyAlgorithm::kRsa3072 ||
         alg == KeyAlgorithm::kRsa4096;
}

bool IsEc(KeyAlgorithm alg) {
  return alg == KeyAlgorithm::kEcP256 || alg == KeyAlgorithm::kEcP384;
}

absl::string_view HashAlgorithmName(HashAlgorithm h) {
  switch (h) {
    case HashAlgorithm::kSha256:
      return "sha256";
    case HashAlgorithm::kSha384:
      return "sha384";
    case HashAlgorithm::kSha512:
      return "sha512";
  }
  return "unknown";
}

absl::StatusOr<HashAlgorithm> ParseHashAlgorithm(absl::string_view name) {
  for (HashAlgorithm h : {HashAlgorithm::kSha256, HashAlgorithm::kSha384,
                          HashAlgorithm::kSha512}) {
    if (HashAlgorithmName(h) == name) return h;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown hash '", name, "' (use sha256, sha384 or sha512)"));
}

size_t DigestLength(HashAlgorithm h) {
  switch (h) {
    case HashAlgorithm::kSha256:
      return 32;
    case HashAlgorithm::kSha384:
      return 48;
    case HashAlgorithm::kSha512:
      return 64;
  }
  return 0;
}

HashAlgorithm DefaultHash(KeyAlgorithm alg) {
  return alg == KeyAlgorithm::kEcP384 ? HashAlgorithm::kSha384
                                      : HashAlgorithm::kSha256;
}

}  // namespace inkan::crypto
