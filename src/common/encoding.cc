#include "common/encoding.h"

#include "absl/strings/escaping.h"

namespace inkan {

std::string HexEncode(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

absl::StatusOr<std::string> HexDecode(absl::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError("hex string has an odd number of digits");
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("hex string has a non-hex character");
    }
  }
  return absl::HexStringToBytes(hex);
}

std::string Base64Encode(absl::string_view bytes) {
  return absl::Base64Escape(bytes);
}

std::string Base64UrlEncode(absl::string_view bytes) {
  return absl::WebSafeBase64Escape(bytes);
}

absl::StatusOr<std::string> Base64Decode(absl::string_view b64) {
  std::string out;
  bool url = b64.find_first_of("-_") != absl::string_view::npos;
  bool ok = url ? absl::WebSafeBase64Unescape(b64, &out)
                : absl::Base64Unescape(b64, &out);
  if (!ok) return absl::InvalidArgumentError("malformed base64");
  return out;
}

}  // namespace inkan
