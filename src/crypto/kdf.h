// Key derivation: Argon2id (RFC 9106) for PINs and HKDF-SHA256 (RFC 5869).
#ifndef INKAN_CRYPTO_KDF_H_
#define INKAN_CRYPTO_KDF_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"

namespace inkan::crypto {

// Defaults follow RFC 9106 §4's second recommendation (64 MiB, 3 passes).
struct Argon2Params {
  uint32_t t_cost = 3;
  uint32_t m_cost_kib = 64 * 1024;
  uint32_t parallelism = 1;
};

// InvalidArgument for parameters libargon2 refuses (e.g. memory < 8*lanes KiB,
// salt < 8 bytes).
absl::StatusOr<SecretBytes> Argon2id(const SecretBytes& password,
                                     absl::string_view salt,
                                     const Argon2Params& params,
                                     size_t out_len = 32);

absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& ikm,
                                       absl::string_view salt,
                                       absl::string_view info, size_t out_len);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_KDF_H_
