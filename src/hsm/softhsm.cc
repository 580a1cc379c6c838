#include "hsm/softhsm.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "hsm/pkcs11_module.h"

namespace inkan::hsm {

std::string DefaultSoftHsmModule() {
  const char* env = std::getenv("INKAN_SOFTHSM_LIB");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/lib/softhsm/libsofthsm2.so";
}

absl::Status UseSoftHsmDir(const std::string& dir) {
  std::string tokens = dir + "/tokens";
  RETURN_IF_ERROR(MakeDirs(tokens, 0700));
  std::string conf = dir + "/softhsm2.conf";
  if (!PathExists(conf)) {
    RETURN_IF_ERROR(WriteFileAtomic(conf,
                                    absl::StrCat("# Written by inkan init.\n"
                                                 "directories.tokendir = ",
                                                 tokens,
                                                 "\n"
                                                 "objectstore.backend = file\n"
                                                 "log.level = ERROR\n"
                                                 "slots.removable = false\n"),
                                    0600));
  }
  if (setenv("SOFTHSM2_CONF", conf.c_str(), 1) != 0) {
    return absl::InternalError("setenv SOFTHSM2_CONF failed");
  }
  return absl::OkStatus();
}

absl::Status CreateSoftHsmToken(const std::string& dir,
                                const std::string& module_path,
                                absl::string_view label) {
  ASSIGN_OR_RETURN(std::string so_hex, RandomHexId(16));
  ASSIGN_OR_RETURN(std::string user_hex, RandomHexId(16));
  SecretBytes so_pin(so_hex), user_pin(user_hex);
  CleanseMemory(so_hex.data(), so_hex.size());
  CleanseMemory(user_hex.data(), user_hex.size());
  ASSIGN_OR_RETURN(auto module, Pkcs11Module::Shared(module_path));
  RETURN_IF_ERROR(module->InitToken(label, so_pin, user_pin));
  return WriteFileAtomic(dir + "/user.pin", user_pin.RevealString(), 0600);
}

}  // namespace inkan::hsm
