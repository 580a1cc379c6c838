// The PKCS#11 KeyStore backend: any PKCS#11 module by path (SoftHSMv2 by
// default). See key_store.h for the contract.
#ifndef INKAN_HSM_PKCS11_KEY_STORE_H_
#define INKAN_HSM_PKCS11_KEY_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/secret_bytes.h"
#include "hsm/key_store.h"

namespace inkan::hsm {

inline constexpr char kMasterKekLabel[] = "inkan-master-kek";
inline constexpr char kPepperLabel[] = "inkan-pepper";
inline constexpr char kAuditKeyLabel[] = "inkan-audit";
inline constexpr char kCaKekLabel[] = "inkan-ca-kek";

struct Pkcs11Options {
  std::string module_path;
  std::string token_label;
  SecretBytes user_pin;
  size_t max_sessions = 64;
};

// Loads the module, finds the token, logs in once. NotFound if the module or
// token is missing; Unauthenticated if the PIN is refused.
absl::StatusOr<std::unique_ptr<KeyStore>> OpenPkcs11KeyStore(
    const Pkcs11Options& options);

}  // namespace inkan::hsm

#endif  // INKAN_HSM_PKCS11_KEY_STORE_H_
