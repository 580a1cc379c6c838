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
inline constexpr char kEnrollTransportLabel[] = "inkan-enroll-transport";

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

// Opens other tokens than the instance's own — the CA's backup token — for
// the ceremonies that need one. The token's PIN is given by whoever runs the
// ceremony (SetPin) and is never stored. Not thread-safe.
class TokenAccess {
 public:
  explicit TokenAccess(std::string default_module)
      : default_module_(std::move(default_module)) {}
  void SetPin(SecretBytes pin) { pin_ = std::move(pin); }
  bool has_pin() const { return !pin_.empty(); }
  const std::string& default_module() const { return default_module_; }
  // `module` empty = the instance's own module. FailedPrecondition naming
  // the token if no PIN was given; as OpenPkcs11KeyStore otherwise.
  absl::StatusOr<std::unique_ptr<KeyStore>> Open(absl::string_view module,
                                                 absl::string_view label) const;

 private:
  std::string default_module_;
  SecretBytes pin_;
};

}  // namespace inkan::hsm

#endif  // INKAN_HSM_PKCS11_KEY_STORE_H_
