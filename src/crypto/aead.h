// AES-256-GCM sealing of small blobs under a 32-byte key.
// Format: nonce (12 random bytes) || ciphertext || tag (16 bytes).
#ifndef INKAN_CRYPTO_AEAD_H_
#define INKAN_CRYPTO_AEAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"

namespace inkan::crypto {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadOverhead = 12 + 16;

// InvalidArgument if the key is not 32 bytes.
absl::StatusOr<std::string> AeadSeal(const SecretBytes& key,
                                     const SecretBytes& plaintext,
                                     absl::string_view aad);
// Unauthenticated if the key, the aad or the sealed bytes are not the ones
// sealed together (the tag does not verify); InvalidArgument if too short.
absl::StatusOr<SecretBytes> AeadOpen(const SecretBytes& key,
                                     absl::string_view sealed,
                                     absl::string_view aad);

}  // namespace inkan::crypto

#endif  // INKAN_CRYPTO_AEAD_H_
