#include "cli/pin_input.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"

namespace inkan::cli {
namespace {

// Reads one line from fd 0 byte by byte into a SecretBytes (no stdio buffer
// keeps a copy).
absl::StatusOr<SecretBytes> ReadLine() {
  SecretBytes out;
  char c;
  while (true) {
    ssize_t n = ::read(0, &c, 1);
    if (n < 0) return absl::InternalError("cannot read the PIN from stdin");
    if (n == 0 || c == '\n') break;
    if (c == '\r') continue;
    out.Append(absl::string_view(&c, 1));
    if (out.size() > 1024)
      return absl::InvalidArgumentError("the PIN is too long");
  }
  c = 0;
  return out;
}

absl::StatusOr<SecretBytes> ReadHidden(absl::string_view prompt) {
  std::fprintf(stderr, "%.*s", static_cast<int>(prompt.size()), prompt.data());
  std::fflush(stderr);
  termios old;
  bool restore = tcgetattr(0, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~ECHO;
    tcsetattr(0, TCSAFLUSH, &quiet);
  }
  auto pin = ReadLine();
  if (restore) tcsetattr(0, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  return pin;
}

}  // namespace

absl::StatusOr<SecretBytes> ReadPin(absl::string_view prompt, bool confirm) {
  bool tty = isatty(0);
  auto pin = tty ? ReadHidden(prompt) : ReadLine();
  if (!pin.ok()) return pin.status();
  if (pin->empty()) return absl::InvalidArgumentError("no PIN was entered");
  if (tty && confirm) {
    auto again = ReadHidden("Repeat the PIN: ");
    if (!again.ok()) return again.status();
    if (!pin->ConstantTimeEquals(*again)) {
      return absl::InvalidArgumentError("the two PINs differ");
    }
  }
  return pin;
}

}  // namespace inkan::cli
