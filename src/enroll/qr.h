// QR codes for the enrollment page (the otpauth:// URI of a new TOTP
// authenticator), drawn as inline SVG so the page needs no image request and
// no script (libqrencode does the encoding).
#ifndef INKAN_ENROLL_QR_H_
#define INKAN_ENROLL_QR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inkan::enroll {

// An <svg> element (error correction level M, 4-module quiet zone) showing
// `text`, with role="img" and aria-label `label` (HTML-escaped by the
// caller). InvalidArgument if the text is too long for a QR code.
absl::StatusOr<std::string> QrSvg(absl::string_view text,
                                  absl::string_view escaped_label);

}  // namespace inkan::enroll

#endif  // INKAN_ENROLL_QR_H_
