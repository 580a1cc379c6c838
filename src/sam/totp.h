// The TOTP possession factor: RFC 6238 time-based one-time codes over the
// RFC 4226 HOTP core, with replay protection.
//
//   HOTP(K, C) = Truncate(HMAC-H(K, C as 8 big-endian bytes)) mod 10^digits
//   TOTP(K, t) = HOTP(K, floor(unix_seconds(t) / step))
//
// The secret is the HMAC key. It travels as SecretBytes; intermediate HMAC
// outputs and computed codes are wiped. Nothing here logs, and no error
// message carries a secret or a code.
//
// Verification accepts a code for any step within `window` steps of now, but
// only for a step later than the last one the caller recorded, so each code is
// accepted at most once and an older code is refused after a newer one. The
// caller stores the returned step and passes it back next time. Counting and
// limiting wrong guesses is the caller's job (a wrong guess succeeds with
// probability (2 * window + 1) / 10^digits).
//
// Thread-safety: stateless functions.
#ifndef INKAN_SAM_TOTP_H_
#define INKAN_SAM_TOTP_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/secret_bytes.h"

namespace inkan::sam {

// The HMAC hash. A TOTP-specific enum: crypto::HashAlgorithm has no SHA-1,
// which RFC 6238 and every authenticator app use by default.
enum class TotpAlgorithm { kSha1, kSha256, kSha512 };

// "SHA1", "SHA256", "SHA512" (the otpauth URI spelling).
absl::string_view TotpAlgorithmName(TotpAlgorithm alg);

struct TotpParams {
  TotpAlgorithm hash = TotpAlgorithm::kSha1;
  int digits = 6;                           // 6..8
  absl::Duration step = absl::Seconds(30);  // whole seconds, 15s..120s
  int window = 1;  // steps accepted either side of now, 0..kMaxTotpWindow
};

inline constexpr int kMaxTotpWindow = 4;
// RFC 4226 §4 R6: the shared secret is at least 128 bits.
inline constexpr size_t kMinTotpSecretSize = 16;
// What NewTotpSecret returns: 160 bits, the RFC 4226 recommendation and the
// SHA-1 output length.
inline constexpr size_t kTotpSecretSize = 20;
// Pass as last_used_step when no code has been accepted yet.
inline constexpr int64_t kNoTotpStepUsed = -1;

// InvalidArgument (naming the field) if the parameters are out of bounds.
absl::Status CheckTotpParams(const TotpParams& params);

// kTotpSecretSize bytes from the OS CSPRNG; Internal if it fails.
absl::StatusOr<SecretBytes> NewTotpSecret();

// RFC 4648 §6 base32, upper case, without padding. If `bytes` is a secret, so
// is the result.
std::string Base32Encode(absl::Span<const uint8_t> bytes);
// Case-insensitive; accepts the input with or without its trailing '='
// padding (if present, it must be the right amount). InvalidArgument on any
// other character, an impossible length, or non-zero unused bits. The error
// never quotes the input.
absl::StatusOr<SecretBytes> Base32Decode(absl::string_view text);

// The Google Authenticator key URI:
//   otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer
//       &algorithm=SHA1&digits=6&period=30
// Issuer and account are percent-encoded (everything but RFC 3986 unreserved
// characters and '@'), so a ':' or space in either cannot change the label's
// structure. With an empty issuer the label is the account alone and there is
// no issuer parameter. `params` must pass CheckTotpParams. The URI contains
// the secret: show it once (as a QR code) and do not store or log it.
std::string OtpauthUri(absl::string_view issuer, absl::string_view account,
                       const SecretBytes& secret, const TotpParams& params);

// The RFC 6238 time step of `t`: floor(unix_seconds(t) / step).
// InvalidArgument if the params are invalid or t is before 1970 or infinite.
absl::StatusOr<int64_t> TotpTimeStep(const TotpParams& params, absl::Time t);

// The RFC 4226 HOTP code for `counter` (the core TOTP uses). InvalidArgument
// if digits is not 6..8, the algorithm is unknown, or the secret is shorter
// than kMinTotpSecretSize.
absl::StatusOr<std::string> HotpCode(const SecretBytes& secret,
                                     TotpAlgorithm alg, uint64_t counter,
                                     int digits);

// The TOTP code for time `t`. InvalidArgument as for HotpCode and
// TotpTimeStep.
absl::StatusOr<std::string> TotpCode(const SecretBytes& secret,
                                     const TotpParams& params, absl::Time t);

// Checks `code` against every step within params.window of `now` (all of
// them, comparing in constant time, so timing does not tell which matched)
// and returns the latest matching step, which must be > last_used_step.
//   InvalidArgument   code is not exactly params.digits ASCII digits, or
//                     params/secret/now are invalid;
//   PermissionDenied  "wrong one-time code" if no step in the window matches;
//   PermissionDenied  "this one-time code was already used" if it matches
//                     only steps <= last_used_step.
absl::StatusOr<int64_t> VerifyTotp(const SecretBytes& secret,
                                   const TotpParams& params,
                                   absl::string_view code, absl::Time now,
                                   int64_t last_used_step);

}  // namespace inkan::sam

#endif  // INKAN_SAM_TOTP_H_
