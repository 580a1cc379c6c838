// Randomness from the OS CSPRNG (via OpenSSL's RAND_bytes, seeded by
// getrandom).
#ifndef INKAN_COMMON_RANDOM_H_
#define INKAN_COMMON_RANDOM_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/secret_bytes.h"

namespace inkan {

// Internal if the generator fails (never silently weak).
absl::StatusOr<std::string> RandomBytes(size_t n);
absl::StatusOr<SecretBytes> RandomSecret(size_t n);
// n random bytes as lowercase hex (2n characters): for identifiers.
absl::StatusOr<std::string> RandomHexId(size_t n);

}  // namespace inkan

#endif  // INKAN_COMMON_RANDOM_H_
