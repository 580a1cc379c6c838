// SecretBytes: bytes that are secret (PINs, derived keys, unwrapped blobs).
//
// The buffer is wiped with OPENSSL_cleanse when it is freed or resized, it has
// no operator<<, no ToString and no implicit conversion, and equality is
// constant-time. The bytes come out only through Reveal(), so every place that
// handles a secret can be found with `grep Reveal`.
//
// Thread-safety: like std::vector (const methods may be called concurrently).
#ifndef INKAN_COMMON_SECRET_BYTES_H_
#define INKAN_COMMON_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace inkan {

// Wipes memory with OPENSSL_cleanse (not memset, which may be optimised away).
void CleanseMemory(void* ptr, size_t len);

template <typename T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() = default;
  template <typename U>
  CleansingAllocator(const CleansingAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) {
    CleanseMemory(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const CleansingAllocator<U>&) const {
    return true;
  }
};

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : bytes_(size) {}
  explicit SecretBytes(absl::Span<const uint8_t> data)
      : bytes_(data.begin(), data.end()) {}
  explicit SecretBytes(absl::string_view data)
      : bytes_(data.begin(), data.end()) {}
  // Copyable and movable; a moved-from SecretBytes is empty.
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes&) = default;
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
  }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
    return *this;
  }
  ~SecretBytes() { CleanseMemory(bytes_.data(), bytes_.size()); }

  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  // The secret itself. Every call site handles a secret: keep them few.
  absl::Span<const uint8_t> Reveal() const { return bytes_; }
  absl::string_view RevealString() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }
  uint8_t* MutableData() { return bytes_.data(); }
  void Append(absl::Span<const uint8_t> more) {
    bytes_.insert(bytes_.end(), more.begin(), more.end());
  }
  void Append(absl::string_view more) {
    bytes_.insert(bytes_.end(), more.begin(), more.end());
  }

  // Constant-time in the length of the shorter input's content; lengths are
  // not secret.
  bool ConstantTimeEquals(const SecretBytes& other) const;

 private:
  std::vector<uint8_t, CleansingAllocator<uint8_t>> bytes_;
};

// Constant-time comparison of two byte strings of possibly different length
// (the length is not treated as secret).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace inkan

#endif  // INKAN_COMMON_SECRET_BYTES_H_
