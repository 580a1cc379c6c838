#include "enroll/qr.h"

#include <qrencode.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace inkan::enroll {
namespace {
struct QrFree {
  void operator()(QRcode* q) const { QRcode_free(q); }
};
}  // namespace

absl::StatusOr<std::string> QrSvg(absl::string_view text,
                                  absl::string_view escaped_label) {
  std::string copy(text);
  std::unique_ptr<QRcode, QrFree> qr(
      QRcode_encodeString8bit(copy.c_str(), 0, QR_ECLEVEL_M));
  if (qr == nullptr) {
    return absl::InvalidArgumentError("the text does not fit in a QR code");
  }
  const int n = qr->width, quiet = 4, size = n + 2 * quiet;
  std::string path;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      if (qr->data[y * n + x] & 1) {
        absl::StrAppend(&path, "M", x + quiet, " ", y + quiet, "h1v1h-1z");
      }
    }
  }
  return absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" role=\"img\" "
      "aria-label=\"",
      escaped_label, "\" viewBox=\"0 0 ", size, " ", size, "\" width=\"",
      size * 5, "\" height=\"", size * 5,
      "\" shape-rendering=\"crispEdges\"><rect width=\"", size, "\" height=\"",
      size, "\" fill=\"#fff\"/><path fill=\"#000\" d=\"", path, "\"/></svg>");
}

}  // namespace inkan::enroll
