// Hex and base64 (RFC 4648 §4 and §5) encoding of byte strings.
#ifndef INKAN_COMMON_ENCODING_H_
#define INKAN_COMMON_ENCODING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inkan {

std::string HexEncode(absl::string_view bytes);
// Accepts upper and lower case; InvalidArgument on odd length or a non-hex
// digit.
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

std::string Base64Encode(absl::string_view bytes);
std::string Base64UrlEncode(absl::string_view bytes);  // no padding
// Strict: InvalidArgument on bad characters or padding. Accepts both alphabets.
absl::StatusOr<std::string> Base64Decode(absl::string_view b64);

}  // namespace inkan

#endif  // INKAN_COMMON_ENCODING_H_
