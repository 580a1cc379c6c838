#include "common/random.h"

#include <openssl/rand.h>

#include "common/encoding.h"

namespace inkan {

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 &&
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), n) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return out;
}

absl::StatusOr<SecretBytes> RandomSecret(size_t n) {
  SecretBytes out(n);
  if (n > 0 && RAND_bytes(out.MutableData(), n) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return out;
}

absl::StatusOr<std::string> RandomHexId(size_t n) {
  auto bytes = RandomBytes(n);
  if (!bytes.ok()) return bytes.status();
  return HexEncode(*bytes);
}

}  // namespace inkan
