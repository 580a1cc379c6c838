#include "sam/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace inkan::sam {
namespace {

constexpr absl::string_view kBase32Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr int kMaxDigits = 8;

const EVP_MD* Md(TotpAlgorithm alg) {
  switch (alg) {
    case TotpAlgorithm::kSha1:
      return EVP_sha1();
    case TotpAlgorithm::kSha256:
      return EVP_sha256();
    case TotpAlgorithm::kSha512:
      return EVP_sha512();
  }
  return nullptr;
}

absl::Status CheckDigits(int digits) {
  if (digits < 6 || digits > kMaxDigits) {
    return absl::InvalidArgumentError("TOTP digits must be 6..8");
  }
  return absl::OkStatus();
}

absl::Status CheckSecret(const SecretBytes& secret) {
  if (secret.size() < kMinTotpSecretSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the TOTP secret must be at least ", kMinTotpSecretSize, " bytes"));
  }
  return absl::OkStatus();
}

// Writes the `digits` ASCII digits of HOTP(secret, counter) to out[0..digits).
// The HMAC output is wiped. Arguments are checked by the callers.
absl::Status HotpInto(const SecretBytes& secret, const EVP_MD* md,
                      uint64_t counter, int digits, char* out) {
  unsigned char message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  const absl::Span<const uint8_t> key = secret.Reveal();
  if (HMAC(md, key.data(), static_cast<int>(key.size()), message,
           sizeof(message), mac, &mac_len) == nullptr ||
      mac_len < 20) {
    CleanseMemory(mac, sizeof(mac));
    return absl::InternalError("HMAC failed");
  }
  // RFC 4226 §5.3 dynamic truncation.
  const unsigned offset = mac[mac_len - 1] & 0x0f;
  uint32_t value = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                   (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                   (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                   static_cast<uint32_t>(mac[offset + 3]);
  CleanseMemory(mac, sizeof(mac));
  // value mod 10^digits, zero-padded: the low `digits` decimal digits.
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  CleanseMemory(&value, sizeof(value));
  return absl::OkStatus();
}

// RFC 3986 unreserved characters and '@' (legal in both the path and the
// query) stay; every other byte becomes %XX.
void AppendPercentEncoded(absl::string_view in, std::string& out) {
  constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : in) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '@') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
}

}  // namespace

absl::string_view TotpAlgorithmName(TotpAlgorithm alg) {
  switch (alg) {
    case TotpAlgorithm::kSha1:
      return "SHA1";
    case TotpAlgorithm::kSha256:
      return "SHA256";
    case TotpAlgorithm::kSha512:
      return "SHA512";
  }
  return "unknown";
}

absl::Status CheckTotpParams(const TotpParams& params) {
  if (Md(params.hash) == nullptr) {
    return absl::InvalidArgumentError(
        "TOTP algorithm must be SHA1, SHA256 or SHA512");
  }
  RETURN_IF_ERROR(CheckDigits(params.digits));
  if (params.step < absl::Seconds(15) || params.step > absl::Seconds(120) ||
      params.step % absl::Seconds(1) != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "TOTP step must be a whole number of seconds, 15s..120s");
  }
  if (params.window < 0 || params.window > kMaxTotpWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("TOTP window must be 0..", kMaxTotpWindow));
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> NewTotpSecret() {
  return RandomSecret(kTotpSecretSize);
}

std::string Base32Encode(absl::Span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;  // at most 12 pending bits
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(buffer >> bits) & 0x1f]);
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  CleanseMemory(&buffer, sizeof(buffer));
  return out;
}

absl::StatusOr<SecretBytes> Base32Decode(absl::string_view text) {
  size_t len = text.size();
  while (len > 0 && text[len - 1] == '=') --len;
  const size_t padding = text.size() - len;
  const size_t tail = len % 8;
  if (tail == 1 || tail == 3 || tail == 6) {
    return absl::InvalidArgumentError("base32: impossible length");
  }
  if (padding > 0 && (padding >= 8 || (len + padding) % 8 != 0)) {
    return absl::InvalidArgumentError("base32: wrong amount of padding");
  }
  SecretBytes out(len * 5 / 8);
  uint8_t* dst = out.MutableData();
  size_t written = 0;
  uint32_t buffer = 0;  // at most 12 pending bits
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    const char c = text[i];
    uint32_t v;
    if (c >= 'A' && c <= 'Z') {
      v = static_cast<uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      v = static_cast<uint32_t>(c - 'a');
    } else if (c >= '2' && c <= '7') {
      v = static_cast<uint32_t>(c - '2' + 26);
    } else {
      CleanseMemory(&buffer, sizeof(buffer));
      return absl::InvalidArgumentError("base32: invalid character");
    }
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      dst[written++] = static_cast<uint8_t>(buffer >> bits);
      buffer &= (1u << bits) - 1;
    }
  }
  // The bits left over (fewer than 5) are padding and must be zero.
  const bool clean_tail = buffer == 0;
  CleanseMemory(&buffer, sizeof(buffer));
  if (!clean_tail) {
    return absl::InvalidArgumentError("base32: non-zero trailing bits");
  }
  return out;
}

std::string OtpauthUri(absl::string_view issuer, absl::string_view account,
                       const SecretBytes& secret, const TotpParams& params) {
  std::string secret_b32 = Base32Encode(secret.Reveal());
  std::string uri;
  // Reserved up front so no reallocation leaves a copy of the secret behind.
  uri.reserve(96 + 6 * issuer.size() + 3 * account.size() + secret_b32.size());
  uri.append("otpauth://totp/");
  if (!issuer.empty()) {
    AppendPercentEncoded(issuer, uri);
    uri.push_back(':');
  }
  AppendPercentEncoded(account, uri);
  uri.append("?secret=");
  uri.append(secret_b32);
  CleanseMemory(secret_b32.data(), secret_b32.size());
  if (!issuer.empty()) {
    uri.append("&issuer=");
    AppendPercentEncoded(issuer, uri);
  }
  absl::StrAppend(&uri, "&algorithm=", TotpAlgorithmName(params.hash),
                  "&digits=", params.digits,
                  "&period=", absl::ToInt64Seconds(params.step));
  return uri;
}

absl::StatusOr<int64_t> TotpTimeStep(const TotpParams& params, absl::Time t) {
  RETURN_IF_ERROR(CheckTotpParams(params));
  if (t == absl::InfiniteFuture() || t < absl::UnixEpoch()) {
    return absl::InvalidArgumentError(
        "TOTP time must be finite and not before 1970");
  }
  // ToUnixSeconds rounds down, as RFC 6238 §4.2 asks.
  return absl::ToUnixSeconds(t) / absl::ToInt64Seconds(params.step);
}

absl::StatusOr<std::string> HotpCode(const SecretBytes& secret,
                                     TotpAlgorithm alg, uint64_t counter,
                                     int digits) {
  const EVP_MD* md = Md(alg);
  if (md == nullptr) {
    return absl::InvalidArgumentError("unknown TOTP algorithm");
  }
  RETURN_IF_ERROR(CheckDigits(digits));
  RETURN_IF_ERROR(CheckSecret(secret));
  std::string code(static_cast<size_t>(digits), '0');
  RETURN_IF_ERROR(HotpInto(secret, md, counter, digits, code.data()));
  return code;
}

absl::StatusOr<std::string> TotpCode(const SecretBytes& secret,
                                     const TotpParams& params, absl::Time t) {
  ASSIGN_OR_RETURN(const int64_t step, TotpTimeStep(params, t));
  return HotpCode(secret, params.hash, static_cast<uint64_t>(step),
                  params.digits);
}

absl::StatusOr<int64_t> VerifyTotp(const SecretBytes& secret,
                                   const TotpParams& params,
                                   absl::string_view code, absl::Time now,
                                   int64_t last_used_step) {
  ASSIGN_OR_RETURN(const int64_t now_step, TotpTimeStep(params, now));
  RETURN_IF_ERROR(CheckSecret(secret));
  bool well_formed = code.size() == static_cast<size_t>(params.digits);
  for (char c : code) well_formed = well_formed && c >= '0' && c <= '9';
  if (!well_formed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the one-time code must be exactly ", params.digits, " digits"));
  }
  const EVP_MD* md = Md(params.hash);

  // Every step in the window is computed and compared, with no early exit,
  // and the latest match is selected with masks rather than branches.
  char expected[kMaxDigits];
  uint64_t any_match = 0;
  uint64_t latest = 0;
  absl::Status status;
  for (int64_t step = now_step - params.window;
       step <= now_step + params.window; ++step) {
    if (step < 0) continue;  // before 1970: public, not secret-dependent
    status = HotpInto(secret, md, static_cast<uint64_t>(step), params.digits,
                      expected);
    if (!status.ok()) break;
    const uint64_t mask =
        0 - static_cast<uint64_t>(ConstantTimeEquals(
                absl::string_view(expected, params.digits), code));
    latest = (latest & ~mask) | (static_cast<uint64_t>(step) & mask);
    any_match |= mask;
  }
  CleanseMemory(expected, sizeof(expected));
  RETURN_IF_ERROR(status);

  if (any_match == 0) {
    return absl::PermissionDeniedError("wrong one-time code");
  }
  const int64_t matched = static_cast<int64_t>(latest);
  if (matched <= last_used_step) {
    return absl::PermissionDeniedError("this one-time code was already used");
  }
  return matched;
}

}  // namespace inkan::sam
