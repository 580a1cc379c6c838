#include "ceremony/shamir.h"

#include <array>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace inkan::ceremony {
namespace internal {

// Bit-serial ("Russian peasant") multiply: the same eight steps whatever the
// operands, with masks instead of branches.
uint8_t GfMul(uint8_t a, uint8_t b) {
  uint8_t product = 0;
  for (int i = 0; i < 8; ++i) {
    product ^= static_cast<uint8_t>(a & static_cast<uint8_t>(-(b & 1)));
    const uint8_t carry = static_cast<uint8_t>(-(a >> 7));
    a = static_cast<uint8_t>((a << 1) ^ (0x1B & carry));
    b >>= 1;
  }
  return product;
}

// a^254 = a^-1 in GF(2^8)* (Fermat), by square-and-multiply over the public
// exponent 0b11111110: the sequence of operations does not depend on a.
uint8_t GfInv(uint8_t a) {
  uint8_t result = 1;
  for (int bit = 7; bit >= 0; --bit) {
    result = GfMul(result, result);
    if ((254 >> bit) & 1) result = GfMul(result, a);
  }
  return result;
}

}  // namespace internal

namespace {

using internal::GfInv;
using internal::GfMul;

absl::Status CheckParameters(int k, int n) {
  if (k < kMinThreshold || n > kMaxShares || k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("need 2 <= k <= n <= 255, got k=", k, " n=", n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateShare(const Share& share) {
  if (share.threshold < kMinThreshold || share.share_count > kMaxShares ||
      share.threshold > share.share_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("share has k=", share.threshold, " n=", share.share_count,
                     "; need 2 <= k <= n <= 255"));
  }
  if (share.index < 1 || share.index > share.share_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "share index ", share.index, " is not in 1..", share.share_count));
  }
  if (share.set_id.empty() || share.set_id.size() > kMaxSetIdLength ||
      !absl::c_all_of(share.set_id, [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
      })) {
    return absl::InvalidArgumentError(
        "share set id must be 1 to 64 characters of [0-9a-z]");
  }
  if (share.value.empty()) {
    return absl::InvalidArgumentError("share value is empty");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Share>> SplitSecret(const SecretBytes& secret, int k,
                                               int n) {
  RETURN_IF_ERROR(CheckParameters(k, n));
  if (secret.empty()) {
    return absl::InvalidArgumentError("cannot split an empty secret");
  }
  const size_t len = secret.size();
  ASSIGN_OR_RETURN(std::string set_id, RandomHexId(8));
  // coefficients[(j - 1) * len + b] is a_j of byte b's polynomial, j = 1..k-1;
  // a_0 is the secret byte itself.
  ASSIGN_OR_RETURN(SecretBytes coefficients,
                   RandomSecret(static_cast<size_t>(k - 1) * len));
  const absl::Span<const uint8_t> s = secret.Reveal();
  const absl::Span<const uint8_t> a = coefficients.Reveal();

  std::vector<Share> shares;
  shares.reserve(n);
  for (int x = 1; x <= n; ++x) {
    Share share;
    share.index = static_cast<uint8_t>(x);
    share.threshold = k;
    share.set_id = set_id;
    share.share_count = n;
    share.value = SecretBytes(len);
    uint8_t* y = share.value.MutableData();
    for (size_t b = 0; b < len; ++b) {
      // Horner: ((a_{k-1} x + a_{k-2}) x + ...) x + a_0.
      uint8_t acc = a[static_cast<size_t>(k - 2) * len + b];
      for (int j = k - 2; j >= 1; --j) {
        acc = GfMul(acc, static_cast<uint8_t>(x)) ^
              a[static_cast<size_t>(j - 1) * len + b];
      }
      y[b] = GfMul(acc, static_cast<uint8_t>(x)) ^ s[b];
    }
    shares.push_back(std::move(share));
  }
  return shares;
}

absl::StatusOr<SecretBytes> CombineShares(absl::Span<const Share> shares) {
  if (shares.empty()) return absl::InvalidArgumentError("no shares given");
  const Share& first = shares.front();
  std::array<bool, 256> seen{};
  for (const Share& share : shares) {
    RETURN_IF_ERROR(ValidateShare(share));
    if (share.set_id != first.set_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("shares come from different splits (set ", first.set_id,
                       " and set ", share.set_id, ")"));
    }
    if (share.threshold != first.threshold ||
        share.share_count != first.share_count) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shares of set ", first.set_id, " disagree on k and n (share ",
          share.index, " says ", share.threshold, " of ", share.share_count,
          ", share ", first.index, " says ", first.threshold, " of ",
          first.share_count, ")"));
    }
    if (seen[share.index]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "share ", share.index, " of set ", first.set_id, " was given twice"));
    }
    seen[share.index] = true;
    if (share.value.size() != first.value.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("shares of set ", first.set_id,
                       " differ in length (share ", share.index, ")"));
    }
  }
  const int k = first.threshold;
  const size_t len = first.value.size();
  if (shares.size() < static_cast<size_t>(k)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "need ", k, " shares of set ", first.set_id, ", got ", shares.size()));
  }

  // Lagrange basis at x = 0: l_i = prod_{j != i} x_j / (x_j - x_i), where
  // subtraction is XOR. These depend only on the (public) indexes.
  std::vector<uint8_t> basis(shares.size());
  for (size_t i = 0; i < shares.size(); ++i) {
    uint8_t num = 1;
    uint8_t den = 1;
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      num = GfMul(num, shares[j].index);
      den = GfMul(den, shares[j].index ^ shares[i].index);
    }
    basis[i] = GfMul(num, GfInv(den));
  }

  SecretBytes secret(len);
  uint8_t* out = secret.MutableData();
  for (size_t i = 0; i < shares.size(); ++i) {
    const absl::Span<const uint8_t> y = shares[i].value.Reveal();
    for (size_t b = 0; b < len; ++b) out[b] ^= GfMul(basis[i], y[b]);
  }
  return secret;
}

}  // namespace inkan::ceremony
