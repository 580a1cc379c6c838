#include "ceremony/share_codec.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "crypto/digest.h"

namespace inkan::ceremony {
namespace {

constexpr absl::string_view kFamilyPrefix = "inkan-share";
constexpr size_t kCheckBytes = 5;  // 40 bits: 8 base32 characters
constexpr size_t kCheckChars = 8;
constexpr size_t kGroupSize = 4;
// Far more than any KEK share needs; bounds the work done on untrusted input.
constexpr size_t kMaxTextLength = 16 * 1024;
constexpr absl::string_view kCommitmentDomain = "inkan share commitment v1";

// RFC 4648 §6 base32, branch-free in the data (no table indexed by a secret).
char Base32Char(uint32_t v) {  // v in 0..31
  const int vi = static_cast<int>(v);
  const int at_least_26 = (25 - vi) >> 8;  // -1 if v >= 26, else 0
  return static_cast<char>(vi + 'A' - (at_least_26 & ('A' + 26 - '2')));
}

void Base32Append(absl::Span<const uint8_t> bytes, SecretBytes& out) {
  uint32_t buffer = 0;
  int bits = 0;
  char c[1];
  for (uint8_t byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      c[0] = Base32Char((buffer >> bits) & 31);
      out.Append(absl::string_view(c, 1));
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) {
    c[0] = Base32Char((buffer << (5 - bits)) & 31);
    out.Append(absl::string_view(c, 1));
  }
}

// Decodes unpadded base32 in lower case (the canonical form). Rejects bad
// characters, impossible lengths and non-zero trailing bits, so that every
// value has exactly one text form.
absl::StatusOr<SecretBytes> Base32Decode(absl::string_view text) {
  const size_t rem = text.size() % 8;
  if (text.empty() || rem == 1 || rem == 3 || rem == 6) {
    return absl::InvalidArgumentError("payload has an impossible length");
  }
  SecretBytes out(text.size() * 5 / 8);
  uint8_t* o = out.MutableData();
  size_t pos = 0;
  uint32_t buffer = 0;
  int bits = 0;
  int bad = 0;
  for (char ch : text) {
    const int c = static_cast<unsigned char>(ch);
    const int letter = ~(((c - 'a') | ('z' - c)) >> 8);  // -1 if a..z
    const int digit = ~(((c - '2') | ('7' - c)) >> 8);   // -1 if 2..7
    const int v = ((c - 'a') & letter) | ((c - '2' + 26) & digit);
    bad |= ~(letter | digit) & 1;
    buffer = (buffer << 5) | static_cast<uint32_t>(v & 31);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      o[pos++] = static_cast<uint8_t>(buffer >> bits);
      buffer &= (1u << bits) - 1;
    }
  }
  bad |= static_cast<int>(buffer != 0);
  if (bad) {
    return absl::InvalidArgumentError(
        "payload has a character outside base32 (A-Z, 2-7) or is not in "
        "canonical form");
  }
  return out;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

// Whitespace removed, ASCII letters in lower case.
SecretBytes Canonicalize(absl::string_view text) {
  SecretBytes out;
  char c[1];
  for (char ch : text) {
    if (IsSpace(ch)) continue;
    const int u = static_cast<unsigned char>(ch);
    const int upper = ~(((u - 'A') | ('Z' - u)) >> 8);  // -1 if A..Z
    c[0] = static_cast<char>(u | (upper & 0x20));
    out.Append(absl::string_view(c, 1));
  }
  return out;
}

// The check field for a canonical body (lower case, no whitespace), in
// upper case.
std::string CheckField(absl::string_view canonical_body) {
  const std::string digest = crypto::Sha256(canonical_body);
  SecretBytes encoded;
  Base32Append(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(digest.data()),
                          kCheckBytes),
      encoded);
  return std::string(encoded.RevealString());
}

bool IsSetId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxSetIdLength) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// A decimal number in 1..255 without sign or leading zeros.
bool ParseSmall(absl::string_view s, int& out) {
  if (s.empty() || s.size() > 3 || s[0] == '0') return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  int v = 0;
  if (!absl::SimpleAtoi(s, &v) || v < 1 || v > kMaxShares) return false;
  out = v;
  return true;
}

std::string Describe(const Share& share) {
  return absl::StrCat("share ", share.index, " of set ", share.set_id);
}

void AppendBigEndian32(uint32_t v, SecretBytes& out) {
  const uint8_t b[4] = {static_cast<uint8_t>(v >> 24),
                        static_cast<uint8_t>(v >> 16),
                        static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  out.Append(absl::MakeConstSpan(b));
}

}  // namespace

absl::StatusOr<SecretBytes> EncodeShare(const Share& share) {
  RETURN_IF_ERROR(ValidateShare(share));
  SecretBytes payload;
  Base32Append(share.value.Reveal(), payload);
  const absl::string_view p = payload.RevealString();

  SecretBytes text;
  text.Append(absl::StrCat(kShareTextPrefix, share.set_id, "-", share.threshold,
                           "of", share.share_count, "-", share.index));
  for (size_t i = 0; i < p.size(); i += kGroupSize) {
    text.Append("-");
    text.Append(p.substr(i, kGroupSize));
  }
  const SecretBytes canonical = Canonicalize(text.RevealString());
  text.Append("-");
  text.Append(CheckField(canonical.RevealString()));
  return text;
}

absl::StatusOr<Share> DecodeShare(const SecretBytes& text) {
  if (text.size() > kMaxTextLength) {
    return absl::InvalidArgumentError("share text is too long");
  }
  const SecretBytes canonical = Canonicalize(text.RevealString());
  const absl::string_view t = canonical.RevealString();
  if (!absl::StartsWith(t, kFamilyPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not an inkan share: the text should start with ", kShareTextPrefix));
  }
  if (!absl::StartsWith(t, kShareTextPrefix)) {
    return absl::InvalidArgumentError(
        "unsupported share format (this inkan reads inkan-share1-...)");
  }
  const size_t last_dash = t.rfind('-');
  const absl::string_view body = t.substr(0, last_dash);
  const absl::string_view check = t.substr(last_dash + 1);

  // Read the header as far as it goes, to name the share in errors.
  const std::vector<absl::string_view> fields = absl::StrSplit(body, '-');
  std::string name = "the share";
  int index = 0;
  if (fields.size() > 4 && IsSetId(fields[2]) && ParseSmall(fields[4], index)) {
    name = absl::StrCat("share ", index, " of set ", fields[2]);
  }
  if (check.size() != kCheckChars ||
      !ConstantTimeEquals(check, absl::AsciiStrToLower(CheckField(body)))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the text of ", name,
        " fails its checksum: it was mistyped or altered; check it against "
        "the original and enter it again"));
  }

  // The checksum holds, so what follows only fails on text that inkan did not
  // write.
  const auto malformed = [&name](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("the text of ", name, " is malformed: ", what));
  };
  if (fields.size() < 6) return malformed("too few fields");
  Share share;
  if (!IsSetId(fields[2])) return malformed("bad set id");
  share.set_id = std::string(fields[2]);
  const std::vector<absl::string_view> k_of_n =
      absl::StrSplit(fields[3], absl::MaxSplits("of", 1));
  int k = 0;
  int n = 0;
  if (k_of_n.size() != 2 || !ParseSmall(k_of_n[0], k) ||
      !ParseSmall(k_of_n[1], n)) {
    return malformed("bad <k>of<n> field");
  }
  share.threshold = k;
  share.share_count = n;
  if (!ParseSmall(fields[4], index)) return malformed("bad index");
  share.index = static_cast<uint8_t>(index);

  SecretBytes payload;
  for (size_t i = 5; i < fields.size(); ++i) {
    const bool last = i + 1 == fields.size();
    if (fields[i].empty() || fields[i].size() > kGroupSize ||
        (!last && fields[i].size() != kGroupSize)) {
      return malformed("payload groups must have 4 characters");
    }
    payload.Append(fields[i]);
  }
  auto value = Base32Decode(payload.RevealString());
  if (!value.ok()) return malformed(value.status().message());
  share.value = *std::move(value);
  if (absl::Status shape = ValidateShare(share); !shape.ok()) {
    return malformed(shape.message());
  }
  return share;
}

std::string ShareCommitment(const Share& share) {
  // domain || 0x00 || len(set_id) || set_id || k || n || index || len(value)
  // || value, integers as 32-bit big-endian (index as one byte).
  SecretBytes encoded;
  encoded.Append(kCommitmentDomain);
  encoded.Append(absl::string_view("\0", 1));
  AppendBigEndian32(static_cast<uint32_t>(share.set_id.size()), encoded);
  encoded.Append(share.set_id);
  AppendBigEndian32(static_cast<uint32_t>(share.threshold), encoded);
  AppendBigEndian32(static_cast<uint32_t>(share.share_count), encoded);
  const uint8_t index[1] = {share.index};
  encoded.Append(absl::MakeConstSpan(index));
  AppendBigEndian32(static_cast<uint32_t>(share.value.size()), encoded);
  encoded.Append(share.value.Reveal());
  return crypto::Sha256(encoded.RevealString());
}

absl::Status VerifyShareCommitment(const Share& share,
                                   absl::string_view commitment) {
  if (commitment.size() != kShareCommitmentSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("the commitment for ", Describe(share),
                     " is not a 32-byte SHA-256 value"));
  }
  if (!ConstantTimeEquals(ShareCommitment(share), commitment)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(share),
        " does not match the commitment recorded when the key was split: it "
        "was altered or belongs to another split"));
  }
  return absl::OkStatus();
}

}  // namespace inkan::ceremony
