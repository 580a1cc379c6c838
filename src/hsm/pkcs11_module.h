// RAII for a PKCS#11 module (dlopen + C_Initialize), its sessions and a pool
// of logged-in sessions. Internal to src/hsm.
//
// PKCS#11 login state is per application and token: the pool opens one
// session, logs in once, keeps that session open for its lifetime, and hands
// out further sessions that share the login (perf-anchors.md: a login per
// signature is 15x slower for ECDSA).
#ifndef INKAN_HSM_PKCS11_MODULE_H_
#define INKAN_HSM_PKCS11_MODULE_H_

#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/secret_bytes.h"

namespace inkan::hsm {

// Maps a CK_RV to a Status: PIN errors → Unauthenticated, device/session
// failures → Unavailable, bad arguments/templates → InvalidArgument, the rest
// → Internal. The message names the function and the CKR_ code.
absl::Status CkrToStatus(CK_RV rv, absl::string_view what);
// The CK_RV a CkrToStatus error carries (payload "inkan.ckr"), if any.
inline constexpr char kCkrPayload[] = "inkan.ckr";
std::optional<CK_RV> CkrOf(const absl::Status& status);
std::string CkrName(CK_RV rv);

class Pkcs11Module {
 public:
  // dlopens `path` and calls C_Initialize (OS locking). NotFound if the file
  // cannot be loaded.
  static absl::StatusOr<std::unique_ptr<Pkcs11Module>> Load(
      const std::string& path);
  // One process-wide instance per path: PKCS#11 initialisation is per
  // process, so everything in it that uses one module must share it.
  static absl::StatusOr<std::shared_ptr<Pkcs11Module>> Shared(
      const std::string& path);
  ~Pkcs11Module();
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }

  // The slot holding an initialised token with this label. NotFound if none.
  absl::StatusOr<CK_SLOT_ID> FindTokenSlot(absl::string_view label);
  // A slot with a token that is not initialised yet. NotFound if none.
  absl::StatusOr<CK_SLOT_ID> FindFreeSlot();
  // C_InitToken + C_InitPIN. AlreadyExists if a token with `label` exists.
  absl::Status InitToken(absl::string_view label, const SecretBytes& so_pin,
                         const SecretBytes& user_pin);

 private:
  Pkcs11Module(std::string path, void* handle, CK_FUNCTION_LIST* fn,
               bool finalize)
      : path_(std::move(path)), handle_(handle), fn_(fn), finalize_(finalize) {}
  std::string path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
  bool finalize_;
};

// A pool of read-write sessions on one token, logged in as the user.
class SessionPool {
 public:
  // Opens the first session and logs in. Unauthenticated if the PIN is wrong.
  // The pool keeps the module alive; whoever may outlive the pool's creator
  // (an ActiveKey, a signer) holds the pool by shared_ptr.
  static absl::StatusOr<std::shared_ptr<SessionPool>> Open(
      std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot,
      const SecretBytes& user_pin, size_t max_sessions = 64);
  ~SessionPool();

  // A session borrowed from the pool; returned when the Lease is destroyed.
  // Leases are short: one operation, never held while waiting for another.
  class Lease {
   public:
    Lease(SessionPool* pool, CK_SESSION_HANDLE h) : pool_(pool), h_(h) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), h_(o.h_), broken_(o.broken_) {
      o.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Release(h_, broken_);
    }
    CK_SESSION_HANDLE get() const { return h_; }
    // The session is dead (closed, device gone): drop it instead of reusing.
    void MarkBroken() { broken_ = true; }
    // Marks the lease broken if `rv` says the session itself is dead.
    void Check(CK_RV rv);

   private:
    SessionPool* pool_;
    CK_SESSION_HANDLE h_;
    bool broken_ = false;
  };

  // Waits up to `timeout` while all max_sessions are in use; Unavailable then.
  absl::StatusOr<Lease> Acquire(absl::Duration timeout = absl::Seconds(10));
  CK_FUNCTION_LIST* fn() const { return module_->fn(); }
  size_t open_sessions() const;
  // Logs in again (the token lost its login: a restart, a C_Logout). Sessions
  // share the login, so one C_Login restores it for all.
  absl::Status Relogin();

 private:
  SessionPool(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot, size_t max)
      : module_(std::move(module)), slot_(slot), max_(max) {}
  void Release(CK_SESSION_HANDLE h, bool broken);

  std::shared_ptr<Pkcs11Module> module_;
  SecretBytes pin_;  // kept to log in again
  const CK_SLOT_ID slot_;
  const size_t max_;
  mutable absl::Mutex mu_;
  std::vector<CK_SESSION_HANDLE> idle_ ABSL_GUARDED_BY(mu_);
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<CK_SESSION_HANDLE> all_ ABSL_GUARDED_BY(mu_);
};

// Finds the single object of `cls` with `label`. NotFound if none,
// FailedPrecondition if several.
absl::StatusOr<CK_OBJECT_HANDLE> FindObject(CK_FUNCTION_LIST* fn,
                                            CK_SESSION_HANDLE s,
                                            CK_OBJECT_CLASS cls,
                                            absl::string_view label);
// Reads one attribute's bytes (two-call size pattern).
absl::StatusOr<std::string> GetAttribute(CK_FUNCTION_LIST* fn,
                                         CK_SESSION_HANDLE s,
                                         CK_OBJECT_HANDLE obj,
                                         CK_ATTRIBUTE_TYPE type);

}  // namespace inkan::hsm

#endif  // INKAN_HSM_PKCS11_MODULE_H_
