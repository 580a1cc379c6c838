#include "hsm/pkcs11_key_store.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "crypto/key_transport.h"
#include "crypto/signature_format.h"
#include "hsm/pkcs11_module.h"
#include "openssl/bn.h"
#include "openssl/core_names.h"
#include "openssl/evp.h"
#include "openssl/x509.h"

namespace inkan::hsm {
namespace {

using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;

constexpr CK_BBOOL kTrue = CK_TRUE;
constexpr CK_BBOOL kFalse = CK_FALSE;
#define INKAN_BOOL_ATTR(type, value) \
  CK_ATTRIBUTE { type, const_cast<CK_BBOOL*>(&(value)), sizeof(CK_BBOOL) }

std::string EcParams(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::kEcP256:
      return std::string("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);
    case KeyAlgorithm::kEcP384:
      return std::string("\x06\x05\x2b\x81\x04\x00\x22", 7);
    case KeyAlgorithm::kEd25519:
      return std::string("\x06\x03\x2b\x65\x70", 5);
    default:
      return "";
  }
}

CK_KEY_TYPE KeyType(KeyAlgorithm alg) {
  if (crypto::IsRsa(alg)) return CKK_RSA;
  if (alg == KeyAlgorithm::kEd25519) return CKK_EC_EDWARDS;
  return CKK_EC;
}

CK_ULONG RsaBits(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::kRsa2048:
      return 2048;
    case KeyAlgorithm::kRsa3072:
      return 3072;
    case KeyAlgorithm::kRsa4096:
      return 4096;
    default:
      return 0;
  }
}

CK_MECHANISM_TYPE HashMech(HashAlgorithm h) {
  switch (h) {
    case HashAlgorithm::kSha256:
      return CKM_SHA256;
    case HashAlgorithm::kSha384:
      return CKM_SHA384;
    case HashAlgorithm::kSha512:
      return CKM_SHA512;
  }
  return CKM_SHA256;
}

CK_RSA_PKCS_MGF_TYPE Mgf(HashAlgorithm h) {
  switch (h) {
    case HashAlgorithm::kSha256:
      return CKG_MGF1_SHA256;
    case HashAlgorithm::kSha384:
      return CKG_MGF1_SHA384;
    case HashAlgorithm::kSha512:
      return CKG_MGF1_SHA512;
  }
  return CKG_MGF1_SHA256;
}

// C_SignInit + C_Sign with the two-call size pattern; converts ECDSA's r||s
// to DER.
absl::StatusOr<std::string> SignWith(CK_FUNCTION_LIST* fn,
                                     SessionPool::Lease& lease,
                                     CK_OBJECT_HANDLE key,
                                     const crypto::SignatureScheme& scheme,
                                     absl::string_view digest) {
  CK_SESSION_HANDLE s = lease.get();
  if (scheme.key != KeyAlgorithm::kEd25519 &&
      digest.size() != crypto::DigestLength(scheme.hash)) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest must be ", crypto::DigestLength(scheme.hash),
                     " bytes for ", crypto::HashAlgorithmName(scheme.hash)));
  }
  CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
  CK_RSA_PKCS_PSS_PARAMS pss = {HashMech(scheme.hash), Mgf(scheme.hash),
                                crypto::DigestLength(scheme.hash)};
  std::string input(digest);
  if (crypto::IsRsa(scheme.key)) {
    if (scheme.padding == crypto::RsaPadding::kPss) {
      mech = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
    } else {
      mech = {CKM_RSA_PKCS, nullptr, 0};
      input = absl::StrCat(crypto::DigestInfoPrefix(scheme.hash), digest);
    }
  } else if (scheme.key == KeyAlgorithm::kEd25519) {
    mech = {CKM_EDDSA, nullptr, 0};
  }
  CK_RV rv = fn->C_SignInit(s, &mech, key);
  if (rv != CKR_OK) {
    lease.Check(rv);
    return CkrToStatus(rv, "C_SignInit");
  }
  // Large enough for every supported key (RSA-4096: 512; P-384 r||s: 96), so
  // C_Sign never answers CKR_BUFFER_TOO_SMALL and leaves no operation active.
  std::string sig(crypto::IsRsa(scheme.key) ? 512 : 132, '\0');
  CK_ULONG len = sig.size();
  rv = fn->C_Sign(s, reinterpret_cast<CK_BYTE*>(input.data()), input.size(),
                  reinterpret_cast<CK_BYTE*>(sig.data()), &len);
  if (rv != CKR_OK) {
    lease.Check(rv);
    return CkrToStatus(rv, "C_Sign");
  }
  sig.resize(len);
  if (crypto::IsEc(scheme.key)) return crypto::EcdsaRawToDer(sig);
  return sig;
}

absl::StatusOr<std::string> PublicKeySpki(CK_FUNCTION_LIST* fn,
                                          CK_SESSION_HANDLE s,
                                          CK_OBJECT_HANDLE pub,
                                          KeyAlgorithm alg) {
  if (crypto::IsRsa(alg)) {
    ASSIGN_OR_RETURN(std::string n, GetAttribute(fn, s, pub, CKA_MODULUS));
    ASSIGN_OR_RETURN(std::string e,
                     GetAttribute(fn, s, pub, CKA_PUBLIC_EXPONENT));
    return crypto::SpkiFromRsa(n, e);
  }
  ASSIGN_OR_RETURN(std::string point, GetAttribute(fn, s, pub, CKA_EC_POINT));
  return crypto::SpkiFromEcPoint(alg, point);
}

struct SystemHandles {
  CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE pepper = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE audit = CK_INVALID_HANDLE;
  std::string audit_spki;
};

// An unwrapped session object. It is visible to every session of this
// application, so each signature leases any pooled session: no session is
// held between calls (holding one per active key exhausted the pool).
class Pkcs11ActiveKey : public ActiveKey {
 public:
  Pkcs11ActiveKey(std::shared_ptr<SessionPool> pool, CK_OBJECT_HANDLE key,
                  KeyAlgorithm alg)
      : pool_(std::move(pool)), key_(key), alg_(alg) {}
  ~Pkcs11ActiveKey() override {
    auto lease = pool_->Acquire();
    if (lease.ok()) pool_->fn()->C_DestroyObject(lease->get(), key_);
  }

  absl::StatusOr<std::string> Sign(const crypto::SignatureScheme& scheme,
                                   absl::string_view digest) override {
    if (scheme.key != alg_) {
      return absl::InvalidArgumentError(
          absl::StrCat("this key is ", crypto::KeyAlgorithmName(alg_), ", not ",
                       crypto::KeyAlgorithmName(scheme.key)));
    }
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    return SignWith(pool_->fn(), lease, key_, scheme, digest);
  }
  KeyAlgorithm algorithm() const override { return alg_; }

 private:
  std::shared_ptr<SessionPool> pool_;
  CK_OBJECT_HANDLE key_;
  KeyAlgorithm alg_;
};

const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// True if `st` says the token lost its login, or with it (SoftHSM) the
// handles of its private objects.
bool LostLogin(const absl::Status& st) {
  auto rv = CkrOf(st);
  return rv &&
         (*rv == CKR_USER_NOT_LOGGED_IN || *rv == CKR_OBJECT_HANDLE_INVALID ||
          *rv == CKR_KEY_HANDLE_INVALID);
}

class AuditKeySigner : public crypto::Signer {
 public:
  // `handle` gives the audit key's current handle; `relogin` logs in again
  // and forgets cached handles. Both outlive this signer (the key store owns
  // it).
  AuditKeySigner(std::shared_ptr<SessionPool> pool,
                 std::function<absl::StatusOr<CK_OBJECT_HANDLE>()> handle,
                 std::function<absl::Status()> relogin, std::string spki)
      : pool_(std::move(pool)),
        handle_(std::move(handle)),
        relogin_(std::move(relogin)),
        spki_(std::move(spki)) {}
  absl::StatusOr<std::string> SignDigest(
      absl::string_view digest) const override {
    auto sign = [&]() -> absl::StatusOr<std::string> {
      ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key, handle_());
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      return SignWith(pool_->fn(), lease, key, scheme_, digest);
    };
    auto result = sign();
    if (result.ok() || !LostLogin(result.status())) return result;
    RETURN_IF_ERROR(relogin_());
    return sign();
  }
  const crypto::SignatureScheme& scheme() const override { return scheme_; }
  const std::string& public_key_der() const override { return spki_; }

 private:
  std::shared_ptr<SessionPool> pool_;
  std::function<absl::StatusOr<CK_OBJECT_HANDLE>()> handle_;
  std::function<absl::Status()> relogin_;
  std::string spki_;
  crypto::SignatureScheme scheme_{KeyAlgorithm::kEcP256,
                                  HashAlgorithm::kSha256};
};

class Pkcs11KeyStore : public KeyStore {
 public:
  explicit Pkcs11KeyStore(std::shared_ptr<SessionPool> pool)
      : pool_(std::move(pool)) {}

  absl::string_view backend() const override { return "pkcs11"; }
  bool provisional() const override { return false; }

  absl::Status Initialize() override {
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    CK_SESSION_HANDLE s = lease.get();
    for (auto [cls, label] : {std::pair{CKO_SECRET_KEY, kMasterKekLabel},
                              std::pair{CKO_SECRET_KEY, kPepperLabel},
                              std::pair{CKO_PRIVATE_KEY, kAuditKeyLabel}}) {
      if (!absl::IsNotFound(FindObject(fn(), s, cls, label).status())) {
        return absl::AlreadyExistsError(absl::StrCat(
            "HSM object '", label, "' already exists on this token"));
      }
    }
    std::vector<CK_OBJECT_HANDLE> made;
    auto undo = absl::MakeCleanup([&] {
      for (CK_OBJECT_HANDLE h : made) fn()->C_DestroyObject(s, h);
    });
    RETURN_IF_ERROR(
        GenerateSecret(s, CKM_AES_KEY_GEN, CKK_AES, kMasterKekLabel, &made));
    RETURN_IF_ERROR(GenerateSecret(s, CKM_GENERIC_SECRET_KEY_GEN,
                                   CKK_GENERIC_SECRET, kPepperLabel, &made));
    RETURN_IF_ERROR(GenerateAuditKey(s, &made));
    std::move(undo).Cancel();
    return absl::OkStatus();
  }

  absl::Status CheckSystemKeys() override { return LoadHandles().status(); }

  // Each operation runs once more, after logging in again, if the token lost
  // its login (an HSM restart, a C_Logout) or the handles that went with it.
  absl::StatusOr<WrappedKey> GenerateWrappedKey(KeyAlgorithm alg) override {
    return WithRelogin([&] { return GenerateWrappedKeyOnce(alg); });
  }
  absl::StatusOr<WrappedKey> GenerateKeyWrappedUnder(
      KeyAlgorithm alg, const SecretBytes& kek) override {
    return WithRelogin([&] { return GenerateKeyWrappedUnderOnce(alg, kek); });
  }
  absl::StatusOr<std::unique_ptr<ActiveKey>> Activate(
      KeyAlgorithm alg, const SecretBytes& wrapped) override {
    return WithRelogin([&] { return ActivateOnce(alg, wrapped); });
  }
  absl::StatusOr<std::unique_ptr<ActiveKey>> ActivateWithKek(
      KeyAlgorithm alg, const SecretBytes& wrapped,
      const SecretBytes& kek) override {
    return WithRelogin([&] { return ActivateWithKekOnce(alg, wrapped, kek); });
  }
  absl::StatusOr<SecretBytes> Pepper(const SecretBytes& input) override {
    return WithRelogin([&] { return PepperOnce(input); });
  }

  // ---- The CA key ----
  absl::StatusOr<WrappedKey> GenerateCaKey(KeyAlgorithm alg) override {
    return WithRelogin([&]() -> absl::StatusOr<WrappedKey> {
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      ASSIGN_OR_RETURN(CK_OBJECT_HANDLE k, CaKek(lease, /*create=*/true));
      return GenerateAndWrap(alg, k, lease);
    });
  }
  absl::StatusOr<std::unique_ptr<ActiveKey>> ActivateCaKey(
      KeyAlgorithm alg, const SecretBytes& wrapped) override {
    return WithRelogin([&]() -> absl::StatusOr<std::unique_ptr<ActiveKey>> {
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      ASSIGN_OR_RETURN(CK_OBJECT_HANDLE k, CaKek(lease, /*create=*/false));
      return UnwrapWith(alg, k, wrapped, lease);
    });
  }
  absl::StatusOr<SecretBytes> ExportCaKey(
      KeyAlgorithm alg, const SecretBytes& wrapped,
      absl::string_view transport_spki) override {
    return WithRelogin(
        [&] { return ExportCaKeyOnce(alg, wrapped, transport_spki); });
  }
  absl::StatusOr<std::unique_ptr<TransportKey>> NewTransportKey() override;
  absl::StatusOr<DeliveredKey> GenerateForDelivery(KeyAlgorithm alg) override {
    // Made in the HSM, wrapped out under a one-time AES key that exists only
    // here and (for the one call) in the HSM, then opened here.
    ASSIGN_OR_RETURN(SecretBytes kek, RandomSecret(32));
    ASSIGN_OR_RETURN(WrappedKey made, GenerateKeyWrappedUnder(alg, kek));
    ASSIGN_OR_RETURN(SecretBytes pkcs8,
                     crypto::AesKeyUnwrapPad(kek, made.wrapped.RevealString()));
    return DeliveredKey{made.public_key_der, std::move(pkcs8)};
  }
  absl::StatusOr<std::string> EnrollTransportKey() override {
    return WithRelogin([&]() -> absl::StatusOr<std::string> {
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      ASSIGN_OR_RETURN(auto keys, EnrollTransport(lease));
      return PublicKeySpki(fn(), lease.get(), keys.first,
                           KeyAlgorithm::kRsa3072);
    });
  }
  absl::StatusOr<SecretBytes> ImportUserKey(KeyAlgorithm alg,
                                            const SecretBytes& blob) override {
    return WithRelogin([&]() -> absl::StatusOr<SecretBytes> {
      ASSIGN_OR_RETURN(SystemHandles h, LoadHandles());
      std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> keys;
      {
        ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
        ASSIGN_OR_RETURN(keys, EnrollTransport(lease));
      }
      return ImportWrapped(keys.second, alg, blob, h.kek);
    });
  }
  absl::StatusOr<int> DestroyCaKek() override {
    return WithRelogin([&]() -> absl::StatusOr<int> {
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      auto k = FindObject(fn(), lease.get(), CKO_SECRET_KEY, kCaKekLabel);
      if (absl::IsNotFound(k.status())) return 0;
      RETURN_IF_ERROR(k.status());
      CK_RV rv = fn()->C_DestroyObject(lease.get(), *k);
      if (rv != CKR_OK) return CkrToStatus(rv, "C_DestroyObject (CA KEK)");
      return 1;
    });
  }

  absl::Status PutRecord(absl::string_view label,
                         absl::string_view value) override {
    return WithRelogin([&]() -> absl::Status {
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      CK_SESSION_HANDLE s = lease.get();
      auto old = FindObject(fn(), s, CKO_DATA, label);
      if (!old.ok() && !absl::IsNotFound(old.status())) return old.status();
      CK_OBJECT_CLASS cls = CKO_DATA;
      std::string l(label), v(value), app = "inkan";
      CK_ATTRIBUTE tmpl[] = {
          {CKA_CLASS, &cls, sizeof(cls)},
          {CKA_LABEL, l.data(), l.size()},
          {CKA_APPLICATION, app.data(), app.size()},
          {CKA_VALUE, v.data(), v.size()},
          INKAN_BOOL_ATTR(CKA_TOKEN, kTrue),
          INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
          INKAN_BOOL_ATTR(CKA_MODIFIABLE, kFalse),
      };
      CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
      CK_RV rv =
          fn()->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
      if (rv != CKR_OK) return CkrToStatus(rv, "C_CreateObject (record)");
      // The new record exists before the old one goes: a failure between the
      // two leaves two records (refused by Get), never none.
      if (old.ok()) {
        rv = fn()->C_DestroyObject(s, *old);
        if (rv != CKR_OK) return CkrToStatus(rv, "C_DestroyObject (record)");
      }
      return absl::OkStatus();
    });
  }
  absl::StatusOr<std::string> GetRecord(absl::string_view label) override {
    return WithRelogin([&]() -> absl::StatusOr<std::string> {
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      ASSIGN_OR_RETURN(CK_OBJECT_HANDLE h,
                       FindObject(fn(), lease.get(), CKO_DATA, label));
      return GetAttribute(fn(), lease.get(), h, CKA_VALUE);
    });
  }
  absl::StatusOr<int> RemoveRecord(absl::string_view label) override {
    return WithRelogin([&]() -> absl::StatusOr<int> {
      ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
      int removed = 0;
      while (true) {
        auto h = FindObject(fn(), lease.get(), CKO_DATA, label);
        if (absl::IsNotFound(h.status())) return removed;
        if (!h.ok()) {
          // Several with this label: FindObject will not say which; destroy
          // them one by one through a plain search.
          ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> all,
                           FindAll(lease.get(), CKO_DATA, label));
          for (CK_OBJECT_HANDLE o : all) {
            CK_RV rv = fn()->C_DestroyObject(lease.get(), o);
            if (rv != CKR_OK) return CkrToStatus(rv, "C_DestroyObject");
            ++removed;
          }
          continue;
        }
        CK_RV rv = fn()->C_DestroyObject(lease.get(), *h);
        if (rv != CKR_OK) return CkrToStatus(rv, "C_DestroyObject (record)");
        ++removed;
      }
    });
  }

  // Opens a CKM_RSA_AES_KEY_WRAP blob with the transport key `rsa` and
  // re-wraps the key under the CA KEK.
  absl::StatusOr<SecretBytes> ImportCaKeyWith(CK_OBJECT_HANDLE rsa,
                                              KeyAlgorithm alg,
                                              const SecretBytes& blob) {
    return ImportWrapped(rsa, alg, blob, CK_INVALID_HANDLE);
  }
  // The same, re-wrapping under `kek` (CK_INVALID_HANDLE: the CA KEK, made
  // if missing).
  absl::StatusOr<SecretBytes> ImportWrapped(CK_OBJECT_HANDLE rsa,
                                            KeyAlgorithm alg,
                                            const SecretBytes& blob,
                                            CK_OBJECT_HANDLE kek);
  // The enrollment transport key pair {public, private}, made on first use.
  absl::StatusOr<std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE>> EnrollTransport(
      SessionPool::Lease& lease);

  absl::Status Relogin() {
    RETURN_IF_ERROR(pool_->Relogin());
    absl::MutexLock lock(&mu_);
    handles_.reset();
    return absl::OkStatus();
  }

  template <typename F>
  auto WithRelogin(F op) -> decltype(op()) {
    auto result = op();
    if (result.ok() || !LostLogin(StatusOf(result))) return result;
    RETURN_IF_ERROR(Relogin());
    return op();
  }

  absl::StatusOr<WrappedKey> GenerateWrappedKeyOnce(KeyAlgorithm alg) {
    ASSIGN_OR_RETURN(SystemHandles h, LoadHandles());
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    return GenerateAndWrap(alg, h.kek, lease);
  }

  absl::StatusOr<WrappedKey> GenerateKeyWrappedUnderOnce(
      KeyAlgorithm alg, const SecretBytes& kek) {
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE k, ImportKek(lease, kek));
    auto destroy =
        absl::MakeCleanup([&] { fn()->C_DestroyObject(lease.get(), k); });
    return GenerateAndWrap(alg, k, lease);
  }

  absl::StatusOr<std::unique_ptr<ActiveKey>> ActivateOnce(
      KeyAlgorithm alg, const SecretBytes& wrapped) {
    ASSIGN_OR_RETURN(SystemHandles h, LoadHandles());
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    return UnwrapWith(alg, h.kek, wrapped, lease);
  }

  absl::StatusOr<std::unique_ptr<ActiveKey>> ActivateWithKekOnce(
      KeyAlgorithm alg, const SecretBytes& wrapped, const SecretBytes& kek) {
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE k, ImportKek(lease, kek));
    auto destroy =
        absl::MakeCleanup([&] { fn()->C_DestroyObject(lease.get(), k); });
    return UnwrapWith(alg, k, wrapped, lease);
  }

 private:
  // A KEK held outside the key store enters it only as a temporary session
  // object, sensitive and non-extractable, that can unwrap only into
  // sensitive, non-extractable session objects. The caller destroys it.
  absl::StatusOr<CK_OBJECT_HANDLE> ImportKek(SessionPool::Lease& lease,
                                             const SecretBytes& kek) {
    if (kek.size() != 32)
      return absl::InvalidArgumentError("a KEK is 32 bytes (AES-256)");
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE unwrap_template[] = {
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
    };
    SecretBytes value = kek;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE, value.MutableData(), value.size()},
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
        INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_WRAP, kTrue),
        INKAN_BOOL_ATTR(CKA_UNWRAP, kTrue),
        INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
        {CKA_UNWRAP_TEMPLATE, unwrap_template, sizeof(unwrap_template)},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = fn()->C_CreateObject(lease.get(), tmpl,
                                    sizeof(tmpl) / sizeof(tmpl[0]), &h);
    if (rv != CKR_OK) {
      lease.Check(rv);
      return CkrToStatus(rv, "C_CreateObject (KEK)");
    }
    return h;
  }

  // The CA KEK: an AES-256 token key like the master KEK, but what it
  // unwraps may be extractable (only ever sensitive and temporary), so a
  // quorum can move the CA key to a backup token. Made on first use.
  absl::StatusOr<CK_OBJECT_HANDLE> CaKek(SessionPool::Lease& lease,
                                         bool create) {
    CK_SESSION_HANDLE s = lease.get();
    absl::MutexLock lock(&ca_mu_);
    auto found = FindObject(fn(), s, CKO_SECRET_KEY, kCaKekLabel);
    if (!absl::IsNotFound(found.status())) return found;
    if (!create) {
      return absl::FailedPreconditionError(
          "this HSM holds no CA KEK: the CA key was destroyed here, or it was "
          "made on another HSM (restore it from the backup token)");
    }
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    const char* label = kCaKekLabel;
    CK_ATTRIBUTE unwrap_template[] = {
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
    };
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, const_cast<char*>(label), strlen(label)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
        INKAN_BOOL_ATTR(CKA_TOKEN, kTrue),
        INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_MODIFIABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_WRAP, kTrue),
        INKAN_BOOL_ATTR(CKA_UNWRAP, kTrue),
        INKAN_BOOL_ATTR(CKA_SIGN, kFalse),
        INKAN_BOOL_ATTR(CKA_VERIFY, kFalse),
        INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_DERIVE, kFalse),
        {CKA_UNWRAP_TEMPLATE, unwrap_template, sizeof(unwrap_template)},
    };
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, nullptr, 0};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv =
        fn()->C_GenerateKey(s, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GenerateKey (CA KEK)");
    return h;
  }

  absl::StatusOr<std::vector<CK_OBJECT_HANDLE>> FindAll(
      CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, absl::string_view label) {
    std::string l(label);
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, l.data(), l.size()}};
    CK_RV rv = fn()->C_FindObjectsInit(s, tmpl, 2);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_FindObjectsInit");
    std::vector<CK_OBJECT_HANDLE> out;
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG n = 0;
    while ((rv = fn()->C_FindObjects(s, batch, 16, &n)) == CKR_OK && n > 0) {
      out.insert(out.end(), batch, batch + n);
    }
    fn()->C_FindObjectsFinal(s);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_FindObjects");
    return out;
  }

  // C_WrapKey with the two-call size pattern.
  absl::StatusOr<SecretBytes> WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM* mech,
                                      CK_OBJECT_HANDLE wrapping,
                                      CK_OBJECT_HANDLE key) {
    CK_ULONG len = 0;
    CK_RV rv = fn()->C_WrapKey(s, mech, wrapping, key, nullptr, &len);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_WrapKey");
    SecretBytes out(len);
    rv = fn()->C_WrapKey(s, mech, wrapping, key, out.MutableData(), &len);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_WrapKey");
    return SecretBytes(out.Reveal().subspan(0, len));
  }

  // A private key unwrapped as a sensitive session object: for signing
  // (non-extractable), or — `rewrap` — only to be wrapped again (extractable,
  // never sign). InvalidArgument for a blob not made under `unwrapping`.
  absl::StatusOr<CK_OBJECT_HANDLE> UnwrapPrivate(
      CK_SESSION_HANDLE s, CK_MECHANISM* mech, CK_OBJECT_HANDLE unwrapping,
      KeyAlgorithm alg, absl::Span<const uint8_t> blob, bool rewrap) {
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = KeyType(alg);
    const CK_BBOOL& extractable = rewrap ? kTrue : kFalse;
    const CK_BBOOL& sign = rewrap ? kFalse : kTrue;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
        INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, extractable),
        INKAN_BOOL_ATTR(CKA_SIGN, sign),
        INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_UNWRAP, kFalse),
        INKAN_BOOL_ATTR(CKA_DERIVE, kFalse),
    };
    std::vector<uint8_t> copy(blob.begin(), blob.end());
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = fn()->C_UnwrapKey(s, mech, unwrapping, copy.data(), copy.size(),
                                 tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
    OPENSSL_cleanse(copy.data(), copy.size());
    if (rv != CKR_OK) {
      absl::Status st = CkrToStatus(rv, "C_UnwrapKey");
      if (rv == CKR_WRAPPED_KEY_INVALID || rv == CKR_WRAPPED_KEY_LEN_RANGE ||
          rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_GENERAL_ERROR ||
          rv == CKR_DOMAIN_PARAMS_INVALID || rv == CKR_ENCRYPTED_DATA_INVALID) {
        return absl::InvalidArgumentError(absl::StrCat(
            "wrapped key was not made under this KEK (", st.message(), ")"));
      }
      return st;
    }
    return h;
  }

  absl::StatusOr<CK_OBJECT_HANDLE> ImportRsaPublic(CK_SESSION_HANDLE s,
                                                   absl::string_view spki) {
    const unsigned char* p =
        reinterpret_cast<const unsigned char*>(spki.data());
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
        d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())), EVP_PKEY_free);
    if (key == nullptr || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
      return absl::InvalidArgumentError(
          "the transport key is not an RSA public key");
    }
    if (EVP_PKEY_get_bits(key.get()) < 3072) {
      return absl::InvalidArgumentError(
          "the transport key is shorter than 3072 bits");
    }
    auto bytes = [&](const char* name) -> std::string {
      BIGNUM* bn = nullptr;
      if (EVP_PKEY_get_bn_param(key.get(), name, &bn) != 1) return "";
      std::string out(BN_num_bytes(bn), '\0');
      BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
      BN_free(bn);
      return out;
    };
    std::string n = bytes(OSSL_PKEY_PARAM_RSA_N);
    std::string e = bytes(OSSL_PKEY_PARAM_RSA_E);
    if (n.empty() || e.empty())
      return absl::InvalidArgumentError("the transport key does not parse");
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_MODULUS, n.data(), n.size()},
        {CKA_PUBLIC_EXPONENT, e.data(), e.size()},
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
        INKAN_BOOL_ATTR(CKA_WRAP, kTrue),
        INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_VERIFY, kFalse),
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv =
        fn()->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
    if (rv != CKR_OK)
      return CkrToStatus(rv, "C_CreateObject (transport public key)");
    return h;
  }

  // RSA-OAEP with SHA-1 and MGF1-SHA-1: all SoftHSM 2.6 accepts. OAEP's
  // security rests on the hash as a random oracle, not on its collision
  // resistance, so SHA-1 is still sound here (NIST SP 800-56B allows it).
  static CK_RSA_PKCS_OAEP_PARAMS OaepParams() {
    CK_RSA_PKCS_OAEP_PARAMS p{};
    p.hashAlg = CKM_SHA_1;
    p.mgf = CKG_MGF1_SHA1;
    p.source = CKZ_DATA_SPECIFIED;
    p.pSourceData = nullptr;
    p.ulSourceDataLen = 0;
    return p;
  }

  absl::StatusOr<SecretBytes> ExportCaKeyOnce(KeyAlgorithm alg,
                                              const SecretBytes& wrapped,
                                              absl::string_view transport) {
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    CK_SESSION_HANDLE s = lease.get();
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE kek, CaKek(lease, /*create=*/false));
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE pub, ImportRsaPublic(s, transport));
    auto drop_pub = absl::MakeCleanup([&] { fn()->C_DestroyObject(s, pub); });
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    ASSIGN_OR_RETURN(
        CK_OBJECT_HANDLE priv,
        UnwrapPrivate(s, &kwp, kek, alg, wrapped.Reveal(), /*rewrap=*/true));
    auto drop_priv = absl::MakeCleanup([&] { fn()->C_DestroyObject(s, priv); });
    // A fresh AES-256 key, extractable only so RSA-OAEP can wrap it.
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
        INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kTrue),
        INKAN_BOOL_ATTR(CKA_WRAP, kTrue),
        INKAN_BOOL_ATTR(CKA_UNWRAP, kFalse),
        INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
    };
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, nullptr, 0};
    CK_OBJECT_HANDLE aes = CK_INVALID_HANDLE;
    CK_RV rv = fn()->C_GenerateKey(s, &gen, tmpl,
                                   sizeof(tmpl) / sizeof(tmpl[0]), &aes);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GenerateKey (transport AES)");
    auto drop_aes = absl::MakeCleanup([&] { fn()->C_DestroyObject(s, aes); });
    CK_RSA_PKCS_OAEP_PARAMS params = OaepParams();
    CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
    ASSIGN_OR_RETURN(SecretBytes head, WrapKey(s, &oaep, pub, aes));
    ASSIGN_OR_RETURN(SecretBytes tail, WrapKey(s, &kwp, aes, priv));
    SecretBytes out(head.size() + tail.size());
    std::copy(head.Reveal().begin(), head.Reveal().end(), out.MutableData());
    std::copy(tail.Reveal().begin(), tail.Reveal().end(),
              out.MutableData() + head.size());
    return out;
  }

  absl::StatusOr<WrappedKey> GenerateAndWrap(KeyAlgorithm alg,
                                             CK_OBJECT_HANDLE kek,
                                             SessionPool::Lease& lease) {
    CK_SESSION_HANDLE s = lease.get();
    CK_KEY_TYPE kt = KeyType(alg);
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
    std::string params = EcParams(alg);
    CK_ULONG bits = RsaBits(alg);
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    std::vector<CK_ATTRIBUTE> pub = {
        {CKA_CLASS, &pub_class, sizeof(pub_class)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
        INKAN_BOOL_ATTR(CKA_VERIFY, kTrue),
    };
    // The private key is a session object: it vanishes with the session if
    // anything below fails or the process dies. It is extractable only so
    // that C_WrapKey can wrap it; CKA_SENSITIVE forbids reading it in clear.
    std::vector<CK_ATTRIBUTE> priv = {
        {CKA_CLASS, &priv_class, sizeof(priv_class)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
        INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kTrue),
        INKAN_BOOL_ATTR(CKA_SIGN, kTrue),
        INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_UNWRAP, kFalse),
        INKAN_BOOL_ATTR(CKA_DERIVE, kFalse),
    };
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    if (crypto::IsRsa(alg)) {
      mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
      pub.push_back({CKA_MODULUS_BITS, &bits, sizeof(bits)});
      pub.push_back({CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)});
    } else {
      if (alg == KeyAlgorithm::kEd25519)
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
      pub.push_back({CKA_EC_PARAMS, params.data(), params.size()});
    }
    CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
    CK_RV rv =
        fn()->C_GenerateKeyPair(s, &mech, pub.data(), pub.size(), priv.data(),
                                priv.size(), &pub_h, &priv_h);
    if (rv != CKR_OK) {
      return CkrToStatus(rv, absl::StrCat("C_GenerateKeyPair (",
                                          crypto::KeyAlgorithmName(alg), ")"));
    }
    auto destroy = absl::MakeCleanup([&] {
      fn()->C_DestroyObject(s, priv_h);
      fn()->C_DestroyObject(s, pub_h);
    });
    WrappedKey out;
    ASSIGN_OR_RETURN(out.public_key_der, PublicKeySpki(fn(), s, pub_h, alg));
    CK_MECHANISM wrap = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_ULONG len = 0;
    rv = fn()->C_WrapKey(s, &wrap, kek, priv_h, nullptr, &len);
    if (rv == CKR_KEY_NOT_WRAPPABLE || rv == CKR_MECHANISM_INVALID) {
      // SoftHSM 2.6 generates and signs with Ed25519 keys but cannot wrap
      // them; without wrapping there is no sealed, sole-controlled key.
      return absl::UnimplementedError(absl::StrCat(
          "this HSM cannot wrap ", crypto::KeyAlgorithmName(alg),
          " private keys (", CkrName(rv),
          "), so it cannot hold them under the user's sole control"));
    }
    if (rv != CKR_OK) return CkrToStatus(rv, "C_WrapKey");
    SecretBytes wrapped(len);
    rv = fn()->C_WrapKey(s, &wrap, kek, priv_h, wrapped.MutableData(), &len);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_WrapKey");
    out.wrapped = SecretBytes(wrapped.Reveal().subspan(0, len));
    return out;
  }

  absl::StatusOr<std::unique_ptr<ActiveKey>> UnwrapWith(
      KeyAlgorithm alg, CK_OBJECT_HANDLE kek, const SecretBytes& wrapped,
      SessionPool::Lease& lease) {
    CK_MECHANISM unwrap = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE key,
                     UnwrapPrivate(lease.get(), &unwrap, kek, alg,
                                   wrapped.Reveal(), /*rewrap=*/false));
    return std::make_unique<Pkcs11ActiveKey>(pool_, key, alg);
  }

 public:
  absl::StatusOr<SecretBytes> PepperOnce(const SecretBytes& input) {
    ASSIGN_OR_RETURN(SystemHandles h, LoadHandles());
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    CK_MECHANISM mech = {CKM_SHA256_HMAC, nullptr, 0};
    CK_RV rv = fn()->C_SignInit(lease.get(), &mech, h.pepper);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_SignInit (pepper)");
    SecretBytes out(32);
    CK_ULONG len = 32;
    rv = fn()->C_Sign(lease.get(), const_cast<CK_BYTE*>(input.Reveal().data()),
                      input.size(), out.MutableData(), &len);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_Sign (pepper)");
    if (len != 32)
      return absl::InternalError("pepper HMAC has the wrong length");
    return out;
  }

  absl::StatusOr<const crypto::Signer*> AuditSigner() override {
    ASSIGN_OR_RETURN(SystemHandles h, LoadHandles());
    absl::MutexLock lock(&mu_);
    if (!audit_signer_) {
      audit_signer_ = std::make_unique<AuditKeySigner>(
          pool_,
          [this]() -> absl::StatusOr<CK_OBJECT_HANDLE> {
            ASSIGN_OR_RETURN(SystemHandles now, LoadHandles());
            return now.audit;
          },
          [this]() { return Relogin(); }, h.audit_spki);
    }
    return audit_signer_.get();
  }

 private:
  CK_FUNCTION_LIST* fn() const { return pool_->fn(); }

  absl::Status GenerateSecret(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE m,
                              CK_KEY_TYPE kt, const char* label,
                              std::vector<CK_OBJECT_HANDLE>* made) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ULONG len = 32;
    bool is_kek = kt == CKK_AES;
    CK_BBOOL wrap = is_kek ? CK_TRUE : CK_FALSE;
    CK_BBOOL sign = is_kek ? CK_FALSE : CK_TRUE;
    // Whatever the KEK unwraps is sensitive, non-extractable and temporary,
    // whatever template the caller asks for (PKCS#11 3.0 §4.8
    // CKA_UNWRAP_TEMPLATE): with the token PIN and a wrapped blob, nobody can
    // unwrap a user key into a readable one.
    CK_ATTRIBUTE unwrap_template[] = {
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
    };
    std::vector<CK_ATTRIBUTE> tmpl = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, const_cast<char*>(label), strlen(label)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
        INKAN_BOOL_ATTR(CKA_TOKEN, kTrue),
        INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_MODIFIABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_WRAP, wrap),
        INKAN_BOOL_ATTR(CKA_UNWRAP, wrap),
        INKAN_BOOL_ATTR(CKA_SIGN, sign),
        INKAN_BOOL_ATTR(CKA_VERIFY, kFalse),
        INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_DERIVE, kFalse),
    };
    if (is_kek) {
      tmpl.push_back(
          {CKA_UNWRAP_TEMPLATE, unwrap_template, sizeof(unwrap_template)});
    }
    CK_MECHANISM mech = {m, nullptr, 0};
    CK_OBJECT_HANDLE h;
    CK_RV rv = fn()->C_GenerateKey(s, &mech, tmpl.data(), tmpl.size(), &h);
    if (rv != CKR_OK)
      return CkrToStatus(rv, absl::StrCat("C_GenerateKey (", label, ")"));
    made->push_back(h);
    return absl::OkStatus();
  }

  absl::Status GenerateAuditKey(CK_SESSION_HANDLE s,
                                std::vector<CK_OBJECT_HANDLE>* made) {
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    std::string params = EcParams(KeyAlgorithm::kEcP256);
    const char* label = kAuditKeyLabel;
    CK_ATTRIBUTE pub[] = {
        {CKA_CLASS, &pub_class, sizeof(pub_class)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, const_cast<char*>(label), strlen(label)},
        {CKA_EC_PARAMS, params.data(), params.size()},
        INKAN_BOOL_ATTR(CKA_TOKEN, kTrue),
        INKAN_BOOL_ATTR(CKA_VERIFY, kTrue),
        INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_WRAP, kFalse),
        INKAN_BOOL_ATTR(CKA_DERIVE, kFalse),
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &priv_class, sizeof(priv_class)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, const_cast<char*>(label), strlen(label)},
        INKAN_BOOL_ATTR(CKA_TOKEN, kTrue),
        INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
        INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
        INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_MODIFIABLE, kFalse),
        INKAN_BOOL_ATTR(CKA_SIGN, kTrue),
        INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
        INKAN_BOOL_ATTR(CKA_UNWRAP, kFalse),
        INKAN_BOOL_ATTR(CKA_DERIVE, kFalse),
    };
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_OBJECT_HANDLE pub_h, priv_h;
    CK_RV rv = fn()->C_GenerateKeyPair(
        s, &mech, pub, sizeof(pub) / sizeof(pub[0]), priv,
        sizeof(priv) / sizeof(priv[0]), &pub_h, &priv_h);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GenerateKeyPair (audit key)");
    made->push_back(pub_h);
    made->push_back(priv_h);
    return absl::OkStatus();
  }

  // Finds the system keys once and caches their handles (valid while the
  // pool holds the login).
  absl::StatusOr<SystemHandles> LoadHandles() {
    {
      absl::MutexLock lock(&mu_);
      if (handles_) return *handles_;
    }
    ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
    CK_SESSION_HANDLE s = lease.get();
    SystemHandles h;
    auto find = [&](CK_OBJECT_CLASS cls,
                    const char* label) -> absl::StatusOr<CK_OBJECT_HANDLE> {
      auto found = FindObject(fn(), s, cls, label);
      if (absl::IsNotFound(found.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("the HSM token has no '", label,
                         "' key: it was not initialised by `inkan init`"));
      }
      return found;
    };
    ASSIGN_OR_RETURN(h.kek, find(CKO_SECRET_KEY, kMasterKekLabel));
    ASSIGN_OR_RETURN(h.pepper, find(CKO_SECRET_KEY, kPepperLabel));
    ASSIGN_OR_RETURN(h.audit, find(CKO_PRIVATE_KEY, kAuditKeyLabel));
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE pub,
                     find(CKO_PUBLIC_KEY, kAuditKeyLabel));
    ASSIGN_OR_RETURN(h.audit_spki,
                     PublicKeySpki(fn(), s, pub, KeyAlgorithm::kEcP256));
    absl::MutexLock lock(&mu_);
    handles_ = h;
    return h;
  }

  std::shared_ptr<SessionPool> pool_;
  absl::Mutex mu_;
  std::optional<SystemHandles> handles_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<AuditKeySigner> audit_signer_ ABSL_GUARDED_BY(mu_);
  absl::Mutex ca_mu_;  // serialises making the CA KEK
};

// A transport key pair as session objects of one key store; destroyed with
// this object. The key store must outlive it.
class Pkcs11TransportKey : public KeyStore::TransportKey {
 public:
  Pkcs11TransportKey(Pkcs11KeyStore* store, std::shared_ptr<SessionPool> pool,
                     CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                     std::string spki)
      : store_(store),
        pool_(std::move(pool)),
        pub_(pub),
        priv_(priv),
        spki_(std::move(spki)) {}
  ~Pkcs11TransportKey() override {
    auto lease = pool_->Acquire();
    if (!lease.ok()) return;
    pool_->fn()->C_DestroyObject(lease->get(), priv_);
    pool_->fn()->C_DestroyObject(lease->get(), pub_);
  }
  const std::string& public_key_der() const override { return spki_; }
  absl::StatusOr<SecretBytes> ImportCaKey(KeyAlgorithm alg,
                                          const SecretBytes& blob) override {
    return store_->ImportCaKeyWith(priv_, alg, blob);
  }

 private:
  Pkcs11KeyStore* store_;
  std::shared_ptr<SessionPool> pool_;
  CK_OBJECT_HANDLE pub_, priv_;
  std::string spki_;
};

namespace {

// An RSA-3072 pair whose private half is sensitive, never extractable, and can
// only unwrap (a transport key): a session pair, or a token pair with `label`.
absl::StatusOr<std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE>>
GenerateRsaUnwrapPair(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE s, bool token,
                      std::string label) {
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
  CK_KEY_TYPE kt = CKK_RSA;
  CK_ULONG bits = 3072;
  CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  const CK_BBOOL on_token = token ? kTrue : kFalse;
  std::vector<CK_ATTRIBUTE> pub = {
      {CKA_CLASS, &pub_class, sizeof(pub_class)},
      {CKA_KEY_TYPE, &kt, sizeof(kt)},
      {CKA_MODULUS_BITS, &bits, sizeof(bits)},
      {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
      INKAN_BOOL_ATTR(CKA_TOKEN, on_token),
      INKAN_BOOL_ATTR(CKA_WRAP, kTrue),
      INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
      INKAN_BOOL_ATTR(CKA_VERIFY, kFalse),
  };
  std::vector<CK_ATTRIBUTE> priv = {
      {CKA_CLASS, &priv_class, sizeof(priv_class)},
      {CKA_KEY_TYPE, &kt, sizeof(kt)},
      INKAN_BOOL_ATTR(CKA_TOKEN, on_token),
      INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
      INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
      INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
      INKAN_BOOL_ATTR(CKA_UNWRAP, kTrue),
      INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
      INKAN_BOOL_ATTR(CKA_SIGN, kFalse),
      INKAN_BOOL_ATTR(CKA_DERIVE, kFalse),
  };
  if (!label.empty()) {
    pub.push_back({CKA_LABEL, label.data(), label.size()});
    priv.push_back({CKA_LABEL, label.data(), label.size()});
  }
  CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
  CK_RV rv = fn->C_GenerateKeyPair(s, &mech, pub.data(), pub.size(),
                                   priv.data(), priv.size(), &pub_h, &priv_h);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GenerateKeyPair (transport key)");
  return std::pair{pub_h, priv_h};
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyStore::TransportKey>>
Pkcs11KeyStore::NewTransportKey() {
  ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
  CK_SESSION_HANDLE s = lease.get();
  ASSIGN_OR_RETURN(auto pair,
                   GenerateRsaUnwrapPair(fn(), s, /*token=*/false, ""));
  auto [pub_h, priv_h] = pair;
  auto spki = PublicKeySpki(fn(), s, pub_h, KeyAlgorithm::kRsa3072);
  if (!spki.ok()) {
    fn()->C_DestroyObject(s, priv_h);
    fn()->C_DestroyObject(s, pub_h);
    return spki.status();
  }
  return std::make_unique<Pkcs11TransportKey>(this, pool_, pub_h, priv_h,
                                              *std::move(spki));
}

absl::StatusOr<std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE>>
Pkcs11KeyStore::EnrollTransport(SessionPool::Lease& lease) {
  CK_SESSION_HANDLE s = lease.get();
  absl::MutexLock lock(&ca_mu_);
  auto pub = FindObject(fn(), s, CKO_PUBLIC_KEY, kEnrollTransportLabel);
  auto priv = FindObject(fn(), s, CKO_PRIVATE_KEY, kEnrollTransportLabel);
  if (pub.ok() && priv.ok()) return std::pair{*pub, *priv};
  if (!absl::IsNotFound(pub.status())) RETURN_IF_ERROR(pub.status());
  if (!absl::IsNotFound(priv.status())) RETURN_IF_ERROR(priv.status());
  if (pub.ok() != priv.ok()) {
    return absl::DataLossError(
        "the HSM holds only one half of the enrollment transport key");
  }
  return GenerateRsaUnwrapPair(fn(), s, /*token=*/true, kEnrollTransportLabel);
}

absl::StatusOr<SecretBytes> Pkcs11KeyStore::ImportWrapped(
    CK_OBJECT_HANDLE rsa, KeyAlgorithm alg, const SecretBytes& blob,
    CK_OBJECT_HANDLE target_kek) {
  constexpr size_t kRsaBytes = 3072 / 8;
  if (blob.size() <= kRsaBytes + 16) {
    return absl::InvalidArgumentError(
        "the wrapped key is too short to be a CKM_RSA_AES_KEY_WRAP blob");
  }
  ASSIGN_OR_RETURN(SessionPool::Lease lease, pool_->Acquire());
  CK_SESSION_HANDLE s = lease.get();
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_ATTRIBUTE aes_tmpl[] = {
      {CKA_CLASS, &cls, sizeof(cls)},
      {CKA_KEY_TYPE, &kt, sizeof(kt)},
      INKAN_BOOL_ATTR(CKA_TOKEN, kFalse),
      INKAN_BOOL_ATTR(CKA_PRIVATE, kTrue),
      INKAN_BOOL_ATTR(CKA_SENSITIVE, kTrue),
      INKAN_BOOL_ATTR(CKA_EXTRACTABLE, kFalse),
      INKAN_BOOL_ATTR(CKA_UNWRAP, kTrue),
      INKAN_BOOL_ATTR(CKA_WRAP, kFalse),
      INKAN_BOOL_ATTR(CKA_ENCRYPT, kFalse),
      INKAN_BOOL_ATTR(CKA_DECRYPT, kFalse),
  };
  CK_RSA_PKCS_OAEP_PARAMS params = OaepParams();
  CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
  std::vector<uint8_t> head(blob.Reveal().begin(),
                            blob.Reveal().begin() + kRsaBytes);
  CK_OBJECT_HANDLE aes = CK_INVALID_HANDLE;
  CK_RV rv =
      fn()->C_UnwrapKey(s, &oaep, rsa, head.data(), head.size(), aes_tmpl,
                        sizeof(aes_tmpl) / sizeof(aes_tmpl[0]), &aes);
  if (rv != CKR_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("the wrapped key was not made for this transport key (",
                     CkrName(rv), ")"));
  }
  auto drop_aes = absl::MakeCleanup([&] { fn()->C_DestroyObject(s, aes); });
  CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  ASSIGN_OR_RETURN(
      CK_OBJECT_HANDLE priv,
      UnwrapPrivate(s, &kwp, aes, alg, blob.Reveal().subspan(kRsaBytes),
                    /*rewrap=*/true));
  auto drop_priv = absl::MakeCleanup([&] { fn()->C_DestroyObject(s, priv); });
  CK_OBJECT_HANDLE kek = target_kek;
  if (kek == CK_INVALID_HANDLE) {
    ASSIGN_OR_RETURN(kek, CaKek(lease, /*create=*/true));
  }
  return WrapKey(s, &kwp, kek, priv);
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyStore>> OpenPkcs11KeyStore(
    const Pkcs11Options& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<Pkcs11Module> module,
                   Pkcs11Module::Shared(options.module_path));
  ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->FindTokenSlot(options.token_label));
  ASSIGN_OR_RETURN(
      std::shared_ptr<SessionPool> pool,
      SessionPool::Open(module, slot, options.user_pin, options.max_sessions));
  return std::make_unique<Pkcs11KeyStore>(std::move(pool));
}

absl::StatusOr<std::unique_ptr<KeyStore>> TokenAccess::Open(
    absl::string_view module, absl::string_view label) const {
  if (pin_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this step needs the backup token '", label,
                     "': give its PIN (ceremony execute --backup-pin FILE)"));
  }
  Pkcs11Options opts;
  opts.module_path = module.empty() ? default_module_ : std::string(module);
  opts.token_label = std::string(label);
  opts.user_pin = pin_;
  opts.max_sessions = 4;
  auto store = OpenPkcs11KeyStore(opts);
  if (absl::IsNotFound(store.status()) ||
      absl::IsUnauthenticated(store.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("backup token '", label, "': ", store.status().message()));
  }
  return store;
}

}  // namespace inkan::hsm
