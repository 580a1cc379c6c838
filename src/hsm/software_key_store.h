// The software KeyStore backend: keys in process memory, the system keys in
// one file (mode 0600) in the data directory. PROVISIONAL (R2): it exists for
// deployments waiting for their HSM and for tests; every credential made with
// it is marked provisional, and it is off unless configured.
#ifndef INKAN_HSM_SOFTWARE_KEY_STORE_H_
#define INKAN_HSM_SOFTWARE_KEY_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "hsm/key_store.h"

namespace inkan::hsm {

// `key_file` need not exist until Initialize() creates it.
absl::StatusOr<std::unique_ptr<KeyStore>> OpenSoftwareKeyStore(
    const std::string& key_file);

}  // namespace inkan::hsm

#endif  // INKAN_HSM_SOFTWARE_KEY_STORE_H_
