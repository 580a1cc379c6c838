#include "hsm/pkcs11_module.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace inkan::hsm {

std::string CkrName(CK_RV rv) {
  switch (rv) {
#define INKAN_CKR(x) \
  case x:            \
    return #x;
    INKAN_CKR(CKR_OK)
    INKAN_CKR(CKR_GENERAL_ERROR)
    INKAN_CKR(CKR_ARGUMENTS_BAD)
    INKAN_CKR(CKR_ATTRIBUTE_SENSITIVE)
    INKAN_CKR(CKR_ATTRIBUTE_TYPE_INVALID)
    INKAN_CKR(CKR_ATTRIBUTE_VALUE_INVALID)
    INKAN_CKR(CKR_DATA_LEN_RANGE)
    INKAN_CKR(CKR_DEVICE_ERROR)
    INKAN_CKR(CKR_DEVICE_MEMORY)
    INKAN_CKR(CKR_DEVICE_REMOVED)
    INKAN_CKR(CKR_FUNCTION_FAILED)
    INKAN_CKR(CKR_KEY_HANDLE_INVALID)
    INKAN_CKR(CKR_KEY_TYPE_INCONSISTENT)
    INKAN_CKR(CKR_KEY_UNEXTRACTABLE)
    INKAN_CKR(CKR_KEY_NOT_WRAPPABLE)
    INKAN_CKR(CKR_MECHANISM_INVALID)
    INKAN_CKR(CKR_MECHANISM_PARAM_INVALID)
    INKAN_CKR(CKR_OBJECT_HANDLE_INVALID)
    INKAN_CKR(CKR_PIN_INCORRECT)
    INKAN_CKR(CKR_PIN_LOCKED)
    INKAN_CKR(CKR_SESSION_HANDLE_INVALID)
    INKAN_CKR(CKR_SESSION_CLOSED)
    INKAN_CKR(CKR_TEMPLATE_INCOMPLETE)
    INKAN_CKR(CKR_TEMPLATE_INCONSISTENT)
    INKAN_CKR(CKR_TOKEN_NOT_PRESENT)
    INKAN_CKR(CKR_TOKEN_NOT_RECOGNIZED)
    INKAN_CKR(CKR_UNWRAPPING_KEY_HANDLE_INVALID)
    INKAN_CKR(CKR_USER_NOT_LOGGED_IN)
    INKAN_CKR(CKR_USER_ALREADY_LOGGED_IN)
    INKAN_CKR(CKR_WRAPPED_KEY_INVALID)
    INKAN_CKR(CKR_WRAPPED_KEY_LEN_RANGE)
    INKAN_CKR(CKR_CRYPTOKI_NOT_INITIALIZED)
    INKAN_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    INKAN_CKR(CKR_BUFFER_TOO_SMALL)
    INKAN_CKR(CKR_SIGNATURE_INVALID)
    INKAN_CKR(CKR_SIGNATURE_LEN_RANGE)
#undef INKAN_CKR
    default:
      return absl::StrFormat("CKR_0x%08X", rv);
  }
}

namespace {
absl::Status CkrToStatusBare(CK_RV rv, absl::string_view what) {
  if (rv == CKR_OK) return absl::OkStatus();
  std::string msg = absl::StrCat(what, " failed: ", CkrName(rv));
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_LOCKED:
    case CKR_USER_NOT_LOGGED_IN:
      return absl::UnauthenticatedError(msg);
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
      return absl::UnavailableError(msg);
    case CKR_ARGUMENTS_BAD:
    case CKR_DATA_LEN_RANGE:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_KEY_TYPE_INCONSISTENT:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}
}  // namespace

absl::Status CkrToStatus(CK_RV rv, absl::string_view what) {
  absl::Status st = CkrToStatusBare(rv, what);
  if (!st.ok()) st.SetPayload(kCkrPayload, absl::Cord(absl::StrCat(rv)));
  return st;
}

std::optional<CK_RV> CkrOf(const absl::Status& status) {
  auto payload = status.GetPayload(kCkrPayload);
  unsigned long rv = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &rv))
    return std::nullopt;
  return static_cast<CK_RV>(rv);
}

absl::StatusOr<std::unique_ptr<Pkcs11Module>> Pkcs11Module::Load(
    const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot load PKCS#11 module ", path, ": ", dlerror()));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(
      dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* fn = nullptr;
  if (get_list == nullptr || get_list(&fn) != CKR_OK || fn == nullptr) {
    dlclose(handle);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a PKCS#11 module"));
  }
  CK_C_INITIALIZE_ARGS args;
  std::memset(&args, 0, sizeof(args));
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = fn->C_Initialize(&args);
  bool finalize = true;
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    finalize = false;  // someone else in this process owns the initialisation
  } else if (rv != CKR_OK) {
    dlclose(handle);
    return CkrToStatus(rv, "C_Initialize");
  }
  return std::unique_ptr<Pkcs11Module>(
      new Pkcs11Module(path, handle, fn, finalize));
}

absl::StatusOr<std::shared_ptr<Pkcs11Module>> Pkcs11Module::Shared(
    const std::string& path) {
  static absl::Mutex mu;
  static auto* modules =
      new std::map<std::string, std::weak_ptr<Pkcs11Module>>();
  absl::MutexLock lock(&mu);
  if (auto existing = (*modules)[path].lock()) return existing;
  auto loaded = Load(path);
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<Pkcs11Module> shared(std::move(*loaded));
  (*modules)[path] = shared;
  return shared;
}

Pkcs11Module::~Pkcs11Module() {
  if (finalize_) fn_->C_Finalize(nullptr);
  // The module stays mapped: some modules (SoftHSM among them) keep
  // process-wide state that does not survive an unmap and a reload.
}

namespace {

std::string PaddedLabel(absl::string_view label) {
  std::string out(32, ' ');
  std::memcpy(out.data(), label.data(), std::min<size_t>(label.size(), 32));
  return out;
}

absl::StatusOr<std::vector<CK_SLOT_ID>> TokenSlots(CK_FUNCTION_LIST* fn) {
  CK_ULONG n = 0;
  CK_RV rv = fn->C_GetSlotList(CK_TRUE, nullptr, &n);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  rv = fn->C_GetSlotList(CK_TRUE, slots.data(), &n);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
  slots.resize(n);
  return slots;
}

}  // namespace

absl::StatusOr<CK_SLOT_ID> Pkcs11Module::FindTokenSlot(
    absl::string_view label) {
  auto slots = TokenSlots(fn_);
  if (!slots.ok()) return slots.status();
  std::string want = PaddedLabel(label);
  for (CK_SLOT_ID slot : *slots) {
    CK_TOKEN_INFO info;
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if ((info.flags & CKF_TOKEN_INITIALIZED) &&
        std::memcmp(info.label, want.data(), 32) == 0) {
      return slot;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no token labelled '", label, "' in ", path_));
}

absl::StatusOr<CK_SLOT_ID> Pkcs11Module::FindFreeSlot() {
  auto slots = TokenSlots(fn_);
  if (!slots.ok()) return slots.status();
  for (CK_SLOT_ID slot : *slots) {
    CK_TOKEN_INFO info;
    if (fn_->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
    if (!(info.flags & CKF_TOKEN_INITIALIZED)) return slot;
  }
  return absl::NotFoundError(absl::StrCat("no free slot in ", path_));
}

absl::Status Pkcs11Module::InitToken(absl::string_view label,
                                     const SecretBytes& so_pin,
                                     const SecretBytes& user_pin) {
  if (FindTokenSlot(label).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("a token labelled '", label, "' exists"));
  }
  auto slot = FindFreeSlot();
  if (!slot.ok()) return slot.status();
  std::string padded = PaddedLabel(label);
  CK_RV rv = fn_->C_InitToken(
      *slot, const_cast<CK_UTF8CHAR*>(so_pin.Reveal().data()), so_pin.size(),
      reinterpret_cast<CK_UTF8CHAR*>(padded.data()));
  if (rv != CKR_OK) return CkrToStatus(rv, "C_InitToken");
  // SoftHSM renumbers slots after C_InitToken: look the token up again.
  auto token_slot = FindTokenSlot(label);
  if (!token_slot.ok()) return token_slot.status();
  CK_SESSION_HANDLE s;
  rv = fn_->C_OpenSession(*token_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                          nullptr, nullptr, &s);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_OpenSession");
  rv = fn_->C_Login(s, CKU_SO, const_cast<CK_UTF8CHAR*>(so_pin.Reveal().data()),
                    so_pin.size());
  if (rv != CKR_OK) {
    fn_->C_CloseSession(s);
    return CkrToStatus(rv, "C_Login (SO)");
  }
  rv = fn_->C_InitPIN(s, const_cast<CK_UTF8CHAR*>(user_pin.Reveal().data()),
                      user_pin.size());
  fn_->C_Logout(s);
  fn_->C_CloseSession(s);
  return CkrToStatus(rv, "C_InitPIN");
}

absl::StatusOr<std::shared_ptr<SessionPool>> SessionPool::Open(
    std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot,
    const SecretBytes& user_pin, size_t max_sessions) {
  CK_FUNCTION_LIST* fn = module->fn();
  std::shared_ptr<SessionPool> pool(
      new SessionPool(std::move(module), slot, max_sessions));
  pool->pin_ = user_pin;
  CK_SESSION_HANDLE s;
  CK_RV rv = fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               nullptr, nullptr, &s);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_OpenSession");
  rv = fn->C_Login(s, CKU_USER,
                   const_cast<CK_UTF8CHAR*>(user_pin.Reveal().data()),
                   user_pin.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    fn->C_CloseSession(s);
    return CkrToStatus(rv, "C_Login (HSM token user PIN)");
  }
  absl::MutexLock lock(&pool->mu_);
  pool->idle_.push_back(s);
  pool->all_.push_back(s);
  pool->open_ = 1;
  return pool;
}

SessionPool::~SessionPool() {
  absl::MutexLock lock(&mu_);
  for (CK_SESSION_HANDLE s : all_) module_->fn()->C_CloseSession(s);
}

void SessionPool::Lease::Check(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_TOKEN_NOT_PRESENT:
      broken_ = true;
      break;
    default:
      break;
  }
}

absl::StatusOr<SessionPool::Lease> SessionPool::Acquire(
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < max_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&available), timeout)) {
    return absl::UnavailableError(absl::StrCat("all ", max_,
                                               " HSM sessions stayed busy for ",
                                               absl::FormatDuration(timeout)));
  }
  if (!idle_.empty()) {
    CK_SESSION_HANDLE s = idle_.back();
    idle_.pop_back();
    return Lease(this, s);
  }
  CK_SESSION_HANDLE s;
  CK_RV rv = module_->fn()->C_OpenSession(
      slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_OpenSession");
  ++open_;
  all_.push_back(s);
  return Lease(this, s);
}

void SessionPool::Release(CK_SESSION_HANDLE h, bool broken) {
  absl::MutexLock lock(&mu_);
  if (!broken) {
    idle_.push_back(h);
    return;
  }
  module_->fn()->C_CloseSession(h);
  all_.erase(std::remove(all_.begin(), all_.end(), h), all_.end());
  --open_;
}

absl::Status SessionPool::Relogin() {
  ASSIGN_OR_RETURN(Lease lease, Acquire());
  CK_RV rv = module_->fn()->C_Login(
      lease.get(), CKU_USER, const_cast<CK_UTF8CHAR*>(pin_.Reveal().data()),
      pin_.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return absl::OkStatus();
  lease.Check(rv);
  return CkrToStatus(rv, "C_Login (again, HSM token user PIN)");
}

size_t SessionPool::open_sessions() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

absl::StatusOr<CK_OBJECT_HANDLE> FindObject(CK_FUNCTION_LIST* fn,
                                            CK_SESSION_HANDLE s,
                                            CK_OBJECT_CLASS cls,
                                            absl::string_view label) {
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
  };
  CK_RV rv = fn->C_FindObjectsInit(s, tmpl, 2);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_FindObjectsInit");
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  rv = fn->C_FindObjects(s, found, 2, &n);
  fn->C_FindObjectsFinal(s);  // always, whatever C_FindObjects said
  if (rv != CKR_OK) return CkrToStatus(rv, "C_FindObjects");
  if (n == 0)
    return absl::NotFoundError(
        absl::StrCat("no HSM object labelled '", label, "'"));
  if (n > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("several HSM objects labelled '", label, "'"));
  }
  return found[0];
}

absl::StatusOr<std::string> GetAttribute(CK_FUNCTION_LIST* fn,
                                         CK_SESSION_HANDLE s,
                                         CK_OBJECT_HANDLE obj,
                                         CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a = {type, nullptr, 0};
  CK_RV rv = fn->C_GetAttributeValue(s, obj, &a, 1);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue");
  std::string out(a.ulValueLen, '\0');
  a.pValue = out.data();
  rv = fn->C_GetAttributeValue(s, obj, &a, 1);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue");
  out.resize(a.ulValueLen);
  return out;
}

}  // namespace inkan::hsm
