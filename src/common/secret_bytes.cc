#include "common/secret_bytes.h"

#include <openssl/crypto.h>

namespace inkan {

void CleanseMemory(void* ptr, size_t len) {
  if (ptr != nullptr && len > 0) OPENSSL_cleanse(ptr, len);
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool SecretBytes::ConstantTimeEquals(const SecretBytes& other) const {
  return inkan::ConstantTimeEquals(RevealString(), other.RevealString());
}

}  // namespace inkan
