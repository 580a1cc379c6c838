// Setting up SoftHSMv2, inkan's default HSM: its token directory lives under
// the data directory and inkan creates the token with generated PINs.
#ifndef INKAN_HSM_SOFTHSM_H_
#define INKAN_HSM_SOFTHSM_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inkan::hsm {

// The default module path (Debian's softhsm2 package), overridable with the
// INKAN_SOFTHSM_LIB environment variable.
std::string DefaultSoftHsmModule();

// Points SoftHSM at `dir`/softhsm2.conf (tokens in `dir`/tokens), writing the
// file if missing. Must run before the module is first loaded in this
// process (SoftHSM reads SOFTHSM2_CONF at C_Initialize).
absl::Status UseSoftHsmDir(const std::string& dir);

// Creates a token labelled `label` with a random user PIN, written (mode
// 0600) to `dir`/user.pin, and a random SO PIN that is used once to set the
// user PIN and then forgotten: nobody needs to re-initialise an inkan token.
// AlreadyExists if a token with that label exists.
absl::Status CreateSoftHsmToken(const std::string& dir,
                                const std::string& module_path,
                                absl::string_view label);

}  // namespace inkan::hsm

#endif  // INKAN_HSM_SOFTHSM_H_
