// Shamir's secret sharing (Shamir 1979, "How to share a secret") over
// GF(2^8), for splitting the CA KEK k-of-n among custodians (issue 3, R7).
//
// Each byte of the secret is the constant term of its own random polynomial of
// degree k-1 over GF(2^8) with the AES reduction polynomial x^8+x^4+x^3+x+1
// (0x11B, FIPS 197 §4.2). The other coefficients come from the OS CSPRNG.
// Share i (i = 1..n) holds the polynomials' values at x = i; any k shares give
// the secret back by Lagrange interpolation at x = 0, and any k-1 shares are
// uniformly distributed whatever the secret (information-theoretic secrecy).
//
// The field arithmetic is constant-time: a bit-serial multiply and inversion by
// exponentiation (a^254), with no table indexed by secret data. Every temporary
// that holds secret bytes is wiped.
//
// Shares carry no integrity protection of their own: a wrong share yields a
// wrong secret, silently. share_codec.h adds a checksum for the printed form
// and a commitment, recorded at split time, that detects altered shares.
//
// Thread-safety: the functions are thread-safe.
#ifndef INKAN_CEREMONY_SHAMIR_H_
#define INKAN_CEREMONY_SHAMIR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/secret_bytes.h"

namespace inkan::ceremony {

inline constexpr int kMinThreshold = 2;
inline constexpr int kMaxShares = 255;
inline constexpr size_t kMaxSetIdLength = 64;

// One custodian's share of a split. Copyable and movable (the value is wiped
// when freed).
struct Share {
  // The x-coordinate, 1..share_count.
  uint8_t index = 0;
  // k: how many shares of this split recover the secret.
  int threshold = 0;
  // A random identifier of the split (16 lowercase hex digits), so shares of
  // different splits are never combined. Not secret.
  std::string set_id;
  // The polynomials' values at x = index: as long as the secret.
  SecretBytes value;
  // n: how many shares the split made. Combining does not need it, but shares
  // of one split must agree on it.
  int share_count = 0;
};

// Splits `secret` into n shares of which any k recover it. InvalidArgument
// unless 2 <= k <= n <= 255, or if the secret is empty; Internal if the
// CSPRNG fails.
absl::StatusOr<std::vector<Share>> SplitSecret(const SecretBytes& secret, int k,
                                               int n);

// Recovers the secret from at least k shares of one split (all of them are
// used; more than k is fine). InvalidArgument if a share fails
// ValidateShare(), if there are fewer than k shares, if the shares differ in
// set_id, k, n or length, or if an index repeats.
//
// Shares that were altered are not detected here: the result is then simply
// wrong. Check shares on entry (share_codec.h) before combining them.
absl::StatusOr<SecretBytes> CombineShares(absl::Span<const Share> shares);

// OK if `share` is well formed on its own: 2 <= k <= n <= 255, 1 <= index
// <= n, a set_id of 1 to 64 characters of [0-9a-z] (SplitSecret makes 16 hex
// digits), and a non-empty value. InvalidArgument, saying which, otherwise.
// Says nothing about whether the value is right (see share_codec.h).
absl::Status ValidateShare(const Share& share);

namespace internal {
// GF(2^8) arithmetic modulo 0x11B, constant-time. Exposed for tests.
uint8_t GfMul(uint8_t a, uint8_t b);
// The multiplicative inverse (a^254); GfInv(0) is 0.
uint8_t GfInv(uint8_t a);
}  // namespace internal

}  // namespace inkan::ceremony

#endif  // INKAN_CEREMONY_SHAMIR_H_
