// Reading a PIN: from the terminal without echo, or one line from stdin when
// stdin is not a terminal (scripts, tests).
#ifndef INKAN_CLI_PIN_INPUT_H_
#define INKAN_CLI_PIN_INPUT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_bytes.h"

namespace inkan::cli {

// `confirm`: on a terminal, ask twice and require the same answer.
// InvalidArgument if nothing was entered or the two entries differ.
absl::StatusOr<SecretBytes> ReadPin(absl::string_view prompt, bool confirm);

}  // namespace inkan::cli

#endif  // INKAN_CLI_PIN_INPUT_H_
