#include "client/card_signer.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "crypto/digest.h"
#include "crypto/signature_format.h"
#include "hsm/pkcs11_module.h"

namespace inkan::client {

absl::StatusOr<std::string> CardSign(const std::string& module,
                                     const std::string& token_label,
                                     const SecretBytes& pin,
                                     absl::string_view key_label,
                                     absl::string_view message) {
  ASSIGN_OR_RETURN(auto mod, hsm::Pkcs11Module::Shared(module));
  auto slot = mod->FindTokenSlot(token_label);
  if (!slot.ok()) {
    return absl::NotFoundError(absl::StrCat("no card '", token_label,
                                            "' in the reader (", module, ")"));
  }
  auto pool = hsm::SessionPool::Open(mod, *slot, pin, 1);
  if (absl::IsUnauthenticated(pool.status())) {
    return absl::UnauthenticatedError("the card refused its PIN");
  }
  RETURN_IF_ERROR(pool.status());
  ASSIGN_OR_RETURN(hsm::SessionPool::Lease lease, (*pool)->Acquire());
  CK_FUNCTION_LIST* fn = mod->fn();
  CK_SESSION_HANDLE s = lease.get();
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  if (!key_label.empty()) {
    ASSIGN_OR_RETURN(key, hsm::FindObject(fn, s, CKO_PRIVATE_KEY, key_label));
  } else {
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    if (fn->C_FindObjectsInit(s, tmpl, 1) != CKR_OK)
      return absl::InternalError("C_FindObjectsInit failed");
    fn->C_FindObjects(s, found, 2, &n);
    fn->C_FindObjectsFinal(s);
    if (n != 1) {
      return absl::NotFoundError(absl::StrCat(
          "the card holds ", n,
          " private keys: name the authentication key (--card-key)"));
    }
    key = found[0];
  }
  ASSIGN_OR_RETURN(std::string type,
                   hsm::GetAttribute(fn, s, key, CKA_KEY_TYPE));
  CK_KEY_TYPE kt = CKK_EC;
  if (type.size() == sizeof(kt)) std::memcpy(&kt, type.data(), sizeof(kt));
  std::string input;
  CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
  if (kt == CKK_EC) {
    input = crypto::Sha256(message);
  } else if (kt == CKK_RSA) {
    mech.mechanism = CKM_SHA256_RSA_PKCS;
    input = std::string(message);
  } else {
    return absl::UnimplementedError("the card's key is neither EC nor RSA");
  }
  CK_RV rv = fn->C_SignInit(s, &mech, key);
  if (rv != CKR_OK) return hsm::CkrToStatus(rv, "C_SignInit (card)");
  std::vector<CK_BYTE> sig(1024);
  CK_ULONG len = sig.size();
  rv = fn->C_Sign(s, reinterpret_cast<CK_BYTE*>(input.data()), input.size(),
                  sig.data(), &len);
  if (rv != CKR_OK) return hsm::CkrToStatus(rv, "C_Sign (card)");
  std::string out(reinterpret_cast<char*>(sig.data()), len);
  if (kt == CKK_EC) return crypto::EcdsaRawToDer(out);
  return out;
}

}  // namespace inkan::client
